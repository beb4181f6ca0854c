/* package_int.h -- what package.c and pkgkey.c share, private to this folder. */
#ifndef TP_PACKAGE_INT_H
#define TP_PACKAGE_INT_H

#include <stddef.h>

#include "core/error.h"

/* Read the regular file `path` whole into a new NUL-terminated buffer
 * (*out, caller frees; *len bytes, the NUL not counted).  0, or < 0 with err
 * naming the file: TP_ENOTFOUND (missing), TP_ELIMIT (over `cap` bytes),
 * TP_EINVAL (not a regular file), TP_EIO, TP_ENOMEM. */
int tp__read_small(const char *path, size_t cap, char **out, size_t *len, tp_error *err);

#endif
