/* plugins.h -- plugin builds' health: failures in a row and quarantine,
 * shared by every worker through the plugin_health table. */
#ifndef TP_DB_PLUGINS_H
#define TP_DB_PLUGINS_H

#include <stddef.h>

#include "core/error.h"
#include "db.h"

#define TP_QUARANTINE_AFTER 3  /* failures in a row, by default */
#define TP_HEALTH_LIST_MAX 256 /* builds tp_plugin_health_attention gives, at most */

/* Build `sha256` (name, version) failed a parse with `error`: one more
 * failure in a row; at `threshold` (0 = never) it is quarantined.
 * *quarantined (may be NULL) says whether it is now.  0 or TP_EDB. */
int tp_plugin_health_failed(tp_db *db, const char *sha256, const char *name, const char *version,
                            const char *error, int threshold, int *quarantined, tp_error *err);

/* These builds parsed a terminal-day: their failures in a row are over
 * (quarantined ones stay so).  0 or TP_EDB. */
int tp_plugin_health_ok(tp_db *db, const char *const *sha256, size_t n, tp_error *err);

/* The builds with failures in a row, quarantined or not: their sha256s
 * (64 hex each) into out, a flag per build into quarantined (1 = yes); the
 * count, or < 0 (TP_EDB).  At most cap. */
int tp_plugin_health_attention(tp_db *db, char (*out)[65], int *quarantined, size_t cap,
                               tp_error *err);

/* Clear a build's quarantine (and its count).  0, TP_ENOTFOUND when it is
 * not quarantined, or TP_EDB. */
int tp_plugin_health_clear(tp_db *db, const char *sha256, const char *actor, tp_error *err);

/* Every build with a record, as a JSON array (most recent failure first),
 * or NULL with err set. */
char *tp_plugin_health_json(tp_db *db, tp_error *err);

#endif
