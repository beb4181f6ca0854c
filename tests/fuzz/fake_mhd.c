/* fake_mhd.c -- see fake_mhd.h. */
#include "fake_mhd.h"

#include <string.h>
#include <strings.h>

/* The project builds with hidden visibility: these must be seen by the
 * library. */
#define TP_FUZZ_EXPORT __attribute__((visibility("default")))

TP_FUZZ_EXPORT const char *MHD_lookup_connection_value(struct MHD_Connection *connection,
                                                       enum MHD_ValueKind kind, const char *key)
{
    const tp_fuzz_conn *fc = (const tp_fuzz_conn *)(const void *)connection;
    if (!fc || !key)
        return NULL;
    if (kind == MHD_HEADER_KIND && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_TYPE) == 0)
        return fc->content_type;
    if (kind == MHD_GET_ARGUMENT_KIND)
        for (int i = 0; i < fc->nargs; i++)
            if (strcmp(fc->arg_key[i], key) == 0)
                return fc->arg_val[i];
    return NULL;
}

TP_FUZZ_EXPORT enum MHD_Result MHD_lookup_connection_value_n(struct MHD_Connection *connection,
                                                             enum MHD_ValueKind kind,
                                                             const char *key, size_t key_size,
                                                             const char **value_ptr,
                                                             size_t *value_size_ptr)
{
    char k[128];
    if (!key || key_size >= sizeof k)
        return MHD_NO;
    memcpy(k, key, key_size);
    k[key_size] = '\0';
    const char *v = MHD_lookup_connection_value(connection, kind, k);
    if (!v)
        return MHD_NO;
    if (value_ptr)
        *value_ptr = v;
    if (value_size_ptr)
        *value_size_ptr = strlen(v);
    return MHD_YES;
}
