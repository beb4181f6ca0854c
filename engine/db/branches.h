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

/* Insert or replace one branch, every field as `b` gives it (`list`: the
 * legacy list it came from, or NULL: the one it had); *created (when not
 * NULL) is 1 when it was new.  0 or TP_EDB / TP_ENOMEM with err set. */
int tp_branch_upsert(tp_db *db, const tp_branch_cfg *b, const char *list, int *created,
                     tp_error *err);

/* Every branch as {"items": [BRANCH, ...], "total": N} in code order, each
 * BRANCH the configuration's object for it (caller frees).  NULL with err
 * set. */
char *tp_branches_list_json(tp_db *db, tp_error *err);

/* One branch's object (caller frees); NULL with err set -- TP_ENOTFOUND
 * when there is no such branch. */
char *tp_branch_get_json(tp_db *db, const char *code, tp_error *err);

/* Inside a transaction: one branch's object, its row locked until the
 * transaction ends, so that what is written back from it (a merge) loses
 * no other change (caller frees).  NULL with err set -- TP_ENOTFOUND when
 * there is no such branch (nothing is locked then). */
char *tp_branch_lock_json(tp_db *db, const char *code, tp_error *err);

/* The configuration of every branch (code NULL), or of one: a new config
 * (tp_config_destroy it), or NULL with err set -- TP_ENOTFOUND when the
 * branch asked for is not there. */
tp_config *tp_branches_config(tp_db *db, const char *code, tp_error *err);

#endif
