/* quality.h -- data-quality findings of one terminal-day: rows dated
 * outside the business date, rows that could not be parsed or used (file,
 * line, reason), missing reference files.  Kept and reported, never dropped:
 * counts are exact; the list of individual problems is capped
 * (TP_QUALITY_MAX_PROBLEMS) and says how many it left out.
 */
#ifndef TP_QUALITY_H
#define TP_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#define TP_QUALITY_MAX_PROBLEMS 200

typedef struct tp_problem {
    char *file;    /* report file name (owned) */
    uint64_t line; /* 0 = the file as a whole */
    int severity;  /* TP_PROBLEM_WARNING / TP_PROBLEM_ERROR */
    char *reason;  /* owned */
} tp_problem;

typedef struct tp_quality {
    uint64_t rows_outside_date; /* order lines not written: DATE != business date */
    uint64_t rows_rejected;     /* rows a parser or the combine could not use */
    uint64_t warnings;          /* rows kept with a warning */
    unsigned missing;           /* bit (1 << tp_report_type) per missing report */
    tp_problem *problems;
    size_t nproblems, cap;
    uint64_t problems_left_out; /* beyond TP_QUALITY_MAX_PROBLEMS */
} tp_quality;

/* Record a problem (counts it as rejected or warning).  Returns 0 or -1 when
 * out of memory. */
int tp_quality_add(tp_quality *q, const char *file, uint64_t line, int severity,
                   const char *reason);

/* List a problem without counting it (for findings counted elsewhere, such
 * as rows_outside_date).  Returns 0 or -1 when out of memory. */
int tp_quality_list(tp_quality *q, const char *file, uint64_t line, int severity,
                    const char *reason);

/* Free the problem list and zero the struct. */
void tp_quality_clear(tp_quality *q);

/* 1 when anything was found. */
int tp_quality_flagged(const tp_quality *q);

#endif
