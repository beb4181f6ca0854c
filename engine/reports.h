/* reports.h -- report file names, grouping a folder into terminal-days, and
 * choosing one file per report type (select).
 *
 * A report file is named <prefix>_<BRANCH>_<POS>_<type>_<YYYY-MM-DD>_<HH-MM>_.csv.
 * tp_scan_dir() groups a folder's report files by (branch, terminal,
 * business date); tp_select() counts the data rows of every candidate and
 * picks, per type, the one with the most rows (ties: the later export time,
 * then the later name), recording for each candidate why it won or lost.
 */
#ifndef TP_REPORTS_H
#define TP_REPORTS_H

#include <stdint.h>

#include "error.h"
#include "schema.h"

#define TP_BRANCH_MAX 32

typedef struct tp_report_name {
    char branch[TP_BRANCH_MAX + 1];
    int pos;
    tp_report_type type;
    char date[11]; /* YYYY-MM-DD, a real calendar date */
    char time[6];  /* HH-MM export time */
} tp_report_name;

/* Parse a file name (no directory).  Returns 0, TP_EINVAL when it is not a
 * report name (err says which part is wrong), TP_ENOTFOUND when the type is
 * not one of the seven. */
int tp_report_name_parse(const char *name, tp_report_name *out, tp_error *err);

/* 1 when `s` is a valid YYYY-MM-DD calendar date. */
int tp_date_valid(const char *s);

typedef struct tp_candidate {
    char *path;       /* owned */
    const char *name; /* file name part of path */
    tp_report_name rn;
    uint64_t size;    /* bytes */
    uint64_t rows;    /* data rows, header excluded (valid when counted) */
    int counted;      /* rows is known: counted by select, or set after parsing */
    int chosen;       /* 1 when this file was selected for its type */
    char reason[200]; /* why it won or lost */
    char sha256[65];  /* content hash, "" until known */
} tp_candidate;

typedef struct tp_termday {
    char branch[TP_BRANCH_MAX + 1];
    int pos;
    char date[11];
    tp_candidate *cands;
    size_t ncands, cap;
    int chosen[TP_TYPE_COUNT]; /* index into cands, -1 when no candidate */
} tp_termday;

typedef struct tp_scan_filter {
    const char *branch; /* NULL = any */
    int pos;            /* 0 = any */
    const char *date;   /* NULL = any */
} tp_scan_filter;

typedef struct tp_scan {
    tp_termday *days; /* sorted by branch, pos, date */
    size_t ndays, cap;
    char **ignored;   /* names of files that are not reports */
    size_t nignored, icap;
    char *tmpdir;     /* archive members extracted here; removed with the scan */
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
tp_dir_index *tp_dir_index_new(void);
void tp_dir_index_free(tp_dir_index *ix);
/* Times the folder was read (tests). */
unsigned long tp_dir_index_reads(const tp_dir_index *ix);

/* tp_scan_dir through an index (NULL: read the folder now, as tp_scan_dir). */
int tp_scan_dir_indexed(const char *dir, const tp_scan_filter *filter, tp_dir_index *ix,
                        tp_scan **out, tp_error *err);

/* An empty scan, and the terminal-day of a key in it (created when new). */
tp_scan *tp_scan_new(void);
tp_termday *tp_scan_day(tp_scan *s, const char *branch, int pos, const char *date,
                        tp_error *err);

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

/* Choose one file per type.  Where a type has several candidates, their data
 * rows are counted first (quote-aware); a lone candidate is chosen without
 * reading it -- the caller sets its rows from the parse (tp_candidate_set_rows)
 * or counts them (tp_select_count_rest). */
int tp_select(tp_termday *td, tp_error *err);

/* Record the data rows of a candidate chosen unread, as its parse saw them. */
void tp_candidate_set_rows(tp_candidate *c, uint64_t rows);

/* Count the rows of every candidate still uncounted. */
int tp_select_count_rest(tp_termday *td, tp_error *err);

/* Data rows of a CSV file (records minus the header), quote-aware. */
int tp_count_rows(const char *path, uint64_t *rows, tp_error *err);

#endif
