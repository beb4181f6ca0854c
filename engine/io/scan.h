/* scan.h -- report folders and archives grouped into terminal-days, and
 * the row counts select needs.
 *
 * tp_scan_dir() groups a folder's report files (or one archive's members)
 * by (branch, terminal, business date); archives in the folder contribute
 * their members, extracted into a temporary folder that lives as long as the
 * scan.  tp_select_files() counts what select needs and chooses.
 */
#ifndef TP_SCAN_H
#define TP_SCAN_H

#include <stdint.h>

#include "core/error.h"
#include "core/reports.h"

typedef struct tp_scan_filter {
    const char *branch; /* NULL = any */
    int pos;            /* 0 = any */
    const char *date;   /* NULL = any */
} tp_scan_filter;

typedef struct tp_scan {
    tp_termday *days; /* sorted by branch, pos, date */
    size_t ndays, cap;
    char **ignored; /* names of files that are not reports */
    size_t nignored, icap;
    char *tmpdir; /* archive members extracted here; removed with the scan */
} tp_scan;

/* Scan `dir` (not recursive) -- or one archive file.  Archives (zip, tar,
 * tar.gz) in the folder contribute their members (unpack.h), extracted into
 * a temporary folder that lives as long as the scan.  Returns 0 with *out
 * set (free with tp_scan_destroy), or < 0 with err set. */
int tp_scan_dir(const char *dir, const tp_scan_filter *filter, tp_scan **out, tp_error *err);

/* A folder's listing, parsed once and reused while the folder is unchanged:
 * a worker with --reports looks one terminal-day up per job in a folder of
 * thousands of files.  Reused while the folder's mtime (and inode) stay the
 * same -- except that a folder changed within the last two seconds is read
 * again, since a file added in the same clock tick as the last reading
 * would not move its mtime.  Holds every name (memory grows with the
 * folder). */
typedef struct tp_dir_index tp_dir_index;
tp_dir_index *tp_dir_index_create(void);
void tp_dir_index_destroy(tp_dir_index *ix);
/* Times the folder was read (tests). */
unsigned long tp_dir_index_reads(const tp_dir_index *ix);

/* tp_scan_dir through an index (NULL: read the folder now, as tp_scan_dir). */
int tp_scan_dir_indexed(const char *dir, const tp_scan_filter *filter, tp_dir_index *ix,
                        tp_scan **out, tp_error *err);

/* An empty scan, and the terminal-day of a key in it (created when new). */
tp_scan *tp_scan_create(void);
tp_termday *tp_scan_day(tp_scan *s, const char *branch, int pos, const char *date, tp_error *err);

/* Add one file to a scan (used by tp_scan_dir, the fetch stage and tests);
 * sha256 may be NULL. */
int tp_scan_add(tp_scan *s, const char *path, const tp_report_name *rn, uint64_t size,
                tp_error *err);
/* Note a file that is not a report (by name). */
int tp_scan_ignore(tp_scan *s, const char *name, tp_error *err);

/* Extract the archive `path` into the scan's temporary folder and add its
 * members that pass `filter` (the rest are ignored). */
int tp_scan_add_archive(tp_scan *s, const char *path, const tp_scan_filter *filter,
                        uint64_t max_member, tp_error *err);

/* Sort days and candidates (tp_scan_dir does it). */
void tp_scan_sort(tp_scan *s);

void tp_scan_destroy(tp_scan *s);

/* The field delimiter of each report type's files (0 = ','), as the
 * branch's parser options give it: counting rows is quote-aware, and a
 * quote opens a field only after a delimiter.  NULL: ',' for every type. */
typedef struct tp_delimiters {
    char of[TP_TYPE_COUNT];
} tp_delimiters;

/* Count what select needs (tp_select_needs_rows) and choose one file per
 * type.  < 0 with err set when a file cannot be read. */
int tp_select_files(tp_termday *td, const tp_delimiters *delims, tp_error *err);

/* Count the rows of every candidate still uncounted. */
int tp_select_count_rest(tp_termday *td, const tp_delimiters *delims, tp_error *err);

/* Data rows of a CSV file (records minus the header), quote-aware, fields
 * separated by `delim` (0 = ','). */
int tp_count_rows(const char *path, char delim, uint64_t *rows, tp_error *err);

#endif
