/* branches.h -- the branches table: the branch configuration as the
 * database keeps it (what `tillpipe branch import` and the API's branch
 * routes write, what workers read).
 *
 * The table's JSON projection -- the configuration's format, one object per
 * branch -- is written once here and read back through core/config.h, so
 * the worker, the API and the command line see a branch alike.
 */
#ifndef TP_DB_BRANCHES_H
#define TP_DB_BRANCHES_H

#include "core/config.h"
#include "core/error.h"
#include "db.h"

/* Insert or update one branch (`list`: the legacy list it came from, or
 * NULL).  0 or TP_EDB / TP_ENOMEM with err set. */
int tp_branch_upsert(tp_db *db, const tp_branch_cfg *b, const char *list, tp_error *err);

#endif
