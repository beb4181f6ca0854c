/* config_file.h -- a branch configuration read from a file (see
 * core/config.h for its format). */
#ifndef TP_CONFIG_FILE_H
#define TP_CONFIG_FILE_H

#include "core/config.h"
#include "core/error.h"

/* Load the configuration in the file `path` (at most 4 MiB), or the
 * built-in one when path is NULL.  A new config, or NULL with err set:
 * TP_ENOTFOUND, TP_EIO, TP_ELIMIT, or TP_ECONFIG naming the key. */
tp_config *tp_config_load(const char *path, tp_error *err);

#endif
