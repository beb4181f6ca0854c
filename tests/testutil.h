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

/* Run a suite in the normal Check runner; returns the number of failures. */
int tu_run_suite(Suite *s);

#endif
