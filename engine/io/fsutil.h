/* fsutil.h -- small file-system helpers: work folders and their removal, and
 * the result files a command writes (--out, --report). */
#ifndef TP_FSUTIL_H
#define TP_FSUTIL_H

#include <stdio.h>

#include "core/error.h"

/* A new private folder "<root or $TMPDIR or /tmp>/<prefix>XXXXXX" (caller
 * frees the string).  NULL with err set. */
char *tp_make_workdir(const char *root, const char *prefix, tp_error *err);

/* Remove a folder and everything under it (no symlinks followed).  0, or -1
 * when something could not be removed. */
int tp_remove_tree(const char *path);

/* Remove everything under a folder, keeping the folder.  0 or -1. */
int tp_empty_tree(const char *path);

/* ------------------------------------------------------------ result files
 *
 * A result file is decided by what its path names when it is opened:
 *
 *   "-"                   standard output (flushed, never closed);
 *   absent, or a regular  a temporary file in the target's folder, renamed
 *   file                  over the target on commit.  A symlink is followed
 *                         (realpath) and its target replaced, the link kept; a
 *                         dangling symlink is written to the path it points
 *                         to when that path's folder exists.  An existing
 *                         target keeps its permission bits.
 *   a character device    written in place, never replaced (/dev/null, a
 *   or a FIFO             terminal, a pipe);
 *   /dev/stdout, /dev/    the inherited descriptor itself, in place, at its
 *   stderr, /dev/fd/N,    offset (whatever it is: a shell's `>> file`
 *   /proc/self/fd/N       appends);
 *   anything else         refused (a folder, a socket, a block device).
 *
 * The temporary is an unnamed O_TMPFILE where the file system has them,
 * linked under a name only at commit, so a writer that dies (a crash,
 * SIGKILL) leaves nothing behind.  Elsewhere it is ".NAME.tmp-<pid>-<hex>";
 * opening a target first removes such files of the same target whose
 * process no longer exists (kill(pid, 0) says ESRCH), and keeps the others.
 * In both cases a failed or aborted write leaves the target as it was.
 */
typedef struct tp_outfile tp_outfile;

/* Open the result file `path`.  NULL with err set: TP_EINVAL when the path
 * names something tillpipe does not write to, TP_EIO when the temporary
 * cannot be created or the file opened. */
tp_outfile *tp_outfile_open(const char *path, tp_error *err);

/* The stream to write to (borrowed; fully buffered for files). */
FILE *tp_outfile_stream(tp_outfile *o);

/* The name of the temporary while it has one, else NULL (an unnamed
 * O_TMPFILE, in place, standard output).  Borrowed. */
const char *tp_outfile_temp_name(const tp_outfile *o);

/* Finish and free: flush, and for a temporary fsync it, give it its name,
 * rename it over the target and fsync the folder.  0, or < 0 with err set
 * (the temporary is removed then, the target left as it was). */
int tp_outfile_commit(tp_outfile *o, tp_error *err);

/* Discard what was written (the target is left as it was) and free; NULL
 * is a no-op.  In place and standard output keep what was written already. */
void tp_outfile_abort(tp_outfile *o);

#endif
