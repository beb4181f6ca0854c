/* source.h -- the fetch stage: a terminal-day's candidate report files,
 * from the report server (fetch.h), a local folder, or the raw-file store
 * (a reparse), in a work folder of the job's own; then every candidate kept
 * in the raw-file store (store.h) under its content key.
 *
 * Downloads that are archives (zip, tar, tar.gz) contribute their members;
 * a listed or extracted file whose name is not a report of this
 * terminal-day is ignored (and said so).
 */
#ifndef TP_SOURCE_H
#define TP_SOURCE_H

#include "core/error.h"
#include "core/reports.h"
#include "io/fetch.h"
#include "io/scan.h"
#include "store/store.h"

typedef struct tp_source {
    const char *reports_dir; /* a local folder instead of the report server */
    tp_dir_index *index;     /* the caller's listing of reports_dir, reused (or NULL) */
    const char *server;      /* the report server's base URL (a branch may name its own) */
    tp_fetch_conn *conn;     /* this thread's connection (report server) */
    tp_store *store;         /* where raw files are kept */
    uint64_t max_file_bytes; /* per file and archive member */
    const char *workroot;    /* where work folders go; NULL = $TMPDIR or /tmp */
    const char *workdir;     /* a folder of the caller's to reuse for every job (emptied
                                after each; saves the file system new inodes), or NULL:
                                a new folder per job under workroot */
} tp_source;

/* A terminal-day's candidates, local. */
typedef struct tp_fetched {
    tp_scan *scan;      /* one terminal-day: scan->days[0] (there may be no candidates) */
    char *workdir;      /* this job's work folder (emptied or removed by tp_fetched_clear) */
    int reused;         /* workdir is the caller's tp_source.workdir: empty it, keep it */
    tp_fetch_kind kind; /* of the failure, or TP_FETCH_NO_FILES / TP_FETCH_OK */
    size_t listed;      /* paths the server listed */
    size_t stored_new;  /* objects written to the store (the rest were there) */
} tp_fetched;

/* Fetch the terminal-day's files from `server` (NULL = src->server) or the
 * local folder.  Returns 0 with out->kind TP_FETCH_OK or TP_FETCH_NO_FILES,
 * or < 0 with out->kind and err set. */
int tp_source_fetch(const tp_source *src, const char *server, const char *branch, int pos,
                    const char *date, tp_fetched *out, tp_error *err);

/* A raw file kept earlier: its report file name and content hash. */
typedef struct tp_stored_file {
    const char *name;
    const char *sha256;
} tp_stored_file;

/* The candidates of an earlier run, from the store (no fetch). */
int tp_source_stored(const tp_source *src, const char *branch, int pos, const char *date,
                     const tp_stored_file *files, size_t n, tp_fetched *out, tp_error *err);

/* Keep every candidate of the fetched terminal-day in the store (hashing
 * those not hashed yet), durably; f->stored_new counts the objects written. */
int tp_source_keep(const tp_source *src, tp_fetched *f, tp_error *err);

void tp_fetched_clear(tp_fetched *f);

#endif
