/* fsutil.c -- see fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tp_make_workdir(const char *root, const char *prefix, tp_error *err)
{
    if (!root || !*root)
        root = getenv("TMPDIR");
    if (!root || !*root)
        root = "/tmp";
    size_t n = strlen(root) + strlen(prefix) + 8;
    char *p = malloc(n);
    if (!p) {
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(p, n, "%s/%sXXXXXX", root, prefix);
    if (!mkdtemp(p)) {
        tp_error_set(err, TP_EIO, "cannot create a work folder in %s: %s", root, strerror(errno));
        free(p);
        return NULL;
    }
    return p;
}

static _Thread_local int keep_top; /* nftw has no user argument */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    if (keep_top && ftw->level == 0)
        return 0;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc < 0 && errno != ENOENT ? -1 : 0;
}

static int walk(const char *path, int keep)
{
    if (!path || !*path)
        return 0;
    keep_top = keep;
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT ? -1 : 0;
}

int tp_remove_tree(const char *path)
{
    return walk(path, 0);
}

int tp_empty_tree(const char *path)
{
    return walk(path, 1);
}
