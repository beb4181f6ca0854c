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

/* ---- the raw-file store's objects as the files table records them
 * (`tillpipe store verify`) ---- */

typedef struct tp_objects tp_objects;

/* One object: its store key, the sha256 it names and its size. */
typedef struct tp_object {
    char key[128];
    char sha256[65];
    uint64_t size;
} tp_object;

/* Every distinct object that files rows name, of `branch` (NULL: all) and
 * business dates from `since` (NULL: all), in bytewise key order, streamed
 * (single-row mode: nothing else may run on db until tp_objects_close).
 * NULL with err set. */
tp_objects *tp_objects_open(tp_db *db, const char *branch, const char *since, tp_error *err);

/* The next object: 1 with *out, 0 at the end, TP_EDB with err set. */
int tp_objects_next(tp_objects *c, tp_object *out, tp_error *err);

/* Stop (a cursor not read to its end is cancelled) and free; NULL is a
 * no-op. */
void tp_objects_close(tp_objects *c);

/* Where an object came from: a report file of a terminal-day. */
typedef struct tp_object_use {
    char name[256];
    char branch[33];
    int pos;
    char date[11];
} tp_object_use;

/* The terminal-days whose files rows name `key`, newest first, each once,
 * at most `max` into out; *n gets how many. */
int tp_object_uses(tp_db *db, const char *key, tp_object_use *out, int max, int *n, tp_error *err);

#endif
