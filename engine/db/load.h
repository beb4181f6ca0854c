/* load.h -- a terminal-day's results into the database: its records, its
 * file choices and its data-quality findings, and the completion of the
 * job, in one transaction fenced by the job's attempt.
 *
 * The records are spooled first (tp_load_spool_record, while parsing, no
 * transaction open) in the records table's COPY text format; the load is
 * then four statements -- one that locks the job row if this attempt still
 * owns it and, unless a cancel is pending, replaces the terminal-day's
 * records, files and findings; the COPY; the completion; COMMIT.  Readers
 * see the old records or the new, never a mix.
 */
#ifndef TP_DB_LOAD_H
#define TP_DB_LOAD_H

#include <stdio.h>

#include "core/error.h"
#include "core/quality.h"
#include "core/record.h"
#include "core/reports.h"
#include "db.h"
#include "queue.h"

/* Append one record of job `job_id` to a spool.  0, or TP_EIO when the
 * spool cannot be written. */
int tp_load_spool_record(FILE *spool, long long job_id, const tp_record *r, tp_error *err);

typedef struct tp_load {
    const tp_job *job;           /* the claimed job */
    const char *worker;          /* its lease owner */
    const tp_termday *td;        /* every candidate file, hashed and stored */
    const char *const *keys;     /* the raw-file store key of each candidate */
    const tp_quality *quality;   /* the terminal-day's findings */
    FILE *spool;                 /* the records (tp_load_spool_record), flushed */
    long long records;           /* how many */
    const tp_attempt_info *info; /* goes on the attempt (may be NULL) */
    int *partition_year;         /* the caller's memory of the records partition made
                                    sure of last, so it is not asked each time (may be NULL) */
} tp_load;

/* Load and complete the job.  TP_OK; TP_ECANCELLED when a cancel was
 * pending (the job ends cancelled, nothing written); TP_ELOST when the
 * attempt no longer owns the job (nothing written); TP_EDB, TP_ENOMEM. */
int tp_load_termday(tp_db *db, const tp_load *l, tp_error *err);

#endif
