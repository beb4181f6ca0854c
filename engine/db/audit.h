/* audit.h -- the audit log: who did what, when, on what. */
#ifndef TP_DB_AUDIT_H
#define TP_DB_AUDIT_H

#include "core/error.h"
#include "db.h"

/* Record a mutating action: who ("cli:alice", "api:bob"), what, on what,
 * the API request it came with, and details as JSON text (each of target,
 * request_id and details may be NULL).
 * 0 or TP_EDB. */
int tp_audit_add(tp_db *db, const char *actor, const char *action, const char *target,
                 const char *request_id, const char *details_json, tp_error *err);

/* The newest entries as {"total": N, "items": [...]} (caller frees), each
 * filter NULL for none: actor, action, from/to (YYYY-MM-DD, checked by the
 * caller), limit (1-500 as text).  NULL with err set. */
char *tp_audit_list_json(tp_db *db, const char *actor, const char *action, const char *from,
                         const char *to, const char *limit, tp_error *err);

#endif
