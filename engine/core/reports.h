/* reports.h -- report file names, a terminal-day's candidate files, and
 * choosing one file per report type (select).
 *
 * A report file is named <prefix>_<BRANCH>_<POS>_<type>_<YYYY-MM-DD>_<HH-MM>_.csv.
 * tp_select() picks, per type, the candidate with the most data rows (ties:
 * the later export time, then the later name), recording for each candidate
 * why it won or lost.  Nothing here reads a file: the rows are counted by
 * the caller (io/scan.h groups folders into terminal-days and counts).
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

/* Set up an empty terminal-day (no candidates, nothing chosen). */
void tp_termday_init(tp_termday *d, const char *branch, int pos, const char *date);

/* Add a candidate file (path copied); the new candidate, or NULL when out of
 * memory (err set). */
tp_candidate *tp_termday_add(tp_termday *d, const char *path, const tp_report_name *rn,
                             uint64_t size, tp_error *err);

/* Order candidates by report type, then name. */
void tp_termday_sort(tp_termday *d);

/* Free the candidates (the struct itself is the caller's). */
void tp_termday_clear(tp_termday *d);

/* 1 when select needs the data rows of candidate i before it can choose:
 * it has rivals of its type and has not been counted.  A lone candidate is
 * chosen unread; the caller records its rows from the parse
 * (tp_candidate_set_rows) or counts them. */
int tp_select_needs_rows(const tp_termday *td, size_t i);

/* Choose one file per type among the candidates, every candidate that
 * tp_select_needs_rows counted first (io/scan.h: tp_select_files does both).
 * Each candidate gets the reason it won or lost. */
void tp_select(tp_termday *td);

/* Record the data rows of a candidate chosen unread, as its parse saw them. */
void tp_candidate_set_rows(tp_candidate *c, uint64_t rows);

#endif
