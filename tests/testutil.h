/* testutil.h -- small helpers shared by the engine's Check tests. */
#ifndef TP_TESTUTIL_H
#define TP_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* A new temporary directory (caller frees the string; tu_rmrf removes it). */
char *tu_tmpdir(void);
/* Remove a directory tree. */
void tu_rmrf(const char *path);
/* Write `text` to dir/name; returns the full path (caller frees). */
char *tu_write(const char *dir, const char *name, const char *text);
/* Read a whole (small) file; NULL when missing.  Caller frees. */
char *tu_read(const char *path, size_t *len);
/* Run a shell command line; returns its exit status (or -1), with stdout
 * and stderr captured into *out (caller frees) when out is not NULL. */
int tu_run(const char *cmdline, char **out);
/* Number of entries in a directory, "." and ".." excluded. */
int tu_count_entries(const char *dir);

/* A PostgreSQL of the test's own (tests/pg/pgctl.sh): started in a new
 * temporary directory, on a unix socket and a random port.  Returns its libpq
 * URL (static; valid until tu_pg_stop) or NULL with a message on stderr.
 * Call from main() before running the suite; forked test cases share it. */
const char *tu_pg_start(void);
void tu_pg_stop(void);
int tu_pg_restart(void); /* fast shutdown and start again: 0 on success */
int tu_pg_kill(void);    /* SIGKILL the postmaster (crash test): 0 on success */
/* psql-free SQL for tests: run `sql`, return the first value (malloc'd) or
 * NULL on error. */
char *tu_pg_value(const char *sql);

/* The report-server simulator (tests/reportsim) serving `dir`, started as a
 * child process with `args` (more options, may be NULL) on a free port.
 * Returns its base URL (static) or NULL.  One at a time per process. */
const char *tu_sim_start(const char *dir, const char *args);
void tu_sim_stop(void);
/* Add a fault rule (JSON, see tests/reportsim/README.md): 0 when accepted. */
int tu_sim_fault(const char *json);
/* Remove every fault rule; reset the counters. */
void tu_sim_clear(void);
/* A counter from GET /_sim/stats: "requests", "lists", "files", "bytes" or
 * "faults.<kind>"; -1 on error. */
long long tu_sim_stat(const char *name);

typedef struct tu_member {
    const char *path;
    const char *data; /* NULL with link: a symlink */
    const char *link;
    size_t zeros;     /* > 0: this many zero bytes instead of data */
} tu_member;

/* Write the archive dir/name in `fmt`: "zip", "tar" or "tgz" (caller frees
 * the path; NULL when it cannot be created). */
char *tu_make_archive(const char *dir, const char *name, const char *fmt, const tu_member *m,
                      size_t n);

/* Run a suite in the normal Check runner; returns the number of failures. */
int tu_run_suite(Suite *s);

#endif
