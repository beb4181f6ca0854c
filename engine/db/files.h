/* files.h -- the raw files each job saw: every candidate of a
 * terminal-day, whether it was chosen and why, and where the raw-file
 * store keeps it. */
#ifndef TP_DB_FILES_H
#define TP_DB_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "db.h"

/* The newest files as {"total": N, "items": [...]} (caller frees), each
 * filter NULL for none (checked by the caller): a job id, a branch, a
 * business date; limit 1-500 as text (NULL: 100). */
char *tp_files_list_json(tp_db *db, const char *job_id, const char *branch, const char *date,
                         const char *limit, tp_error *err);

/* A stored raw file: its report file name, store key and size. */
typedef struct tp_stored {
    char name[256];
    char key[128];
    char sha256[65];
    uint64_t size;
} tp_stored;

/* One file by id; TP_ENOTFOUND when there is none or it was not stored. */
int tp_file_get(tp_db *db, long long id, tp_stored *out, tp_error *err);

/* Every stored file of a job, by report type then name: *files (free()) and
 * *n.  TP_ENOTFOUND when there is no such job. */
int tp_job_files(tp_db *db, long long job_id, tp_stored **files, size_t *n, tp_error *err);

/* The files a terminal-day's last succeeded run kept (for a reparse), in
 * the order they were recorded: *files (free()) and *n (0: none). */
int tp_files_last_run(tp_db *db, const char *branch, int pos, const char *date, tp_stored **files,
                      size_t *n, tp_error *err);

#endif
