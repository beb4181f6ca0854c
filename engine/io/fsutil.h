/* fsutil.h -- small file-system helpers: work folders and their removal. */
#ifndef TP_FSUTIL_H
#define TP_FSUTIL_H

#include "core/error.h"

/* A new private folder "<root or $TMPDIR or /tmp>/<prefix>XXXXXX" (caller
 * frees the string).  NULL with err set. */
char *tp_make_workdir(const char *root, const char *prefix, tp_error *err);

/* Remove a folder and everything under it (no symlinks followed).  0, or -1
 * when something could not be removed. */
int tp_remove_tree(const char *path);

/* Remove everything under a folder, keeping the folder.  0 or -1. */
int tp_empty_tree(const char *path);

#endif
