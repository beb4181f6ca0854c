/* config_file.c -- see config_file.h. */
#include "config_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tp_config *tp_config_load(const char *path, tp_error *err)
{
    if (!path)
        return tp_config_builtin(err);
    FILE *f = fopen(path, "rb");
    if (!f) {
        tp_error_set(err, TP_ENOTFOUND, "branch configuration %s: %s", path, strerror(errno));
        return NULL;
    }
    /* Configuration is small; cap it rather than trust the file. */
    enum { MAX_CONFIG = 4 * 1024 * 1024 };
    char *text = malloc(MAX_CONFIG + 1);
    size_t n = text ? fread(text, 1, MAX_CONFIG + 1, f) : 0;
    int rd_err = ferror(f);
    fclose(f);
    if (!text) {
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    if (rd_err || n > MAX_CONFIG) {
        free(text);
        tp_error_set(err, rd_err ? TP_EIO : TP_ELIMIT, "branch configuration %s: %s", path,
                     rd_err ? "read error" : "larger than 4 MiB");
        return NULL;
    }
    text[n] = '\0';
    tp_config *c = tp_config_parse(text, path, err);
    free(text);
    return c;
}
