/* missing.h -- the completeness of the chain's days: every active branch x
 * terminal x business day in a range, with its state. */
#ifndef TP_DB_MISSING_H
#define TP_DB_MISSING_H

#include "core/error.h"
#include "db.h"

/* A cell's state: "ok" (succeeded), "flagged" (succeeded with data-quality
 * findings), "queued", "running", "failed" (failed or cancelled, nothing
 * succeeded) or "missing" (never queued). */
typedef int (*tp_cell_fn)(void *ud, const char *branch, int pos, const char *date,
                          const char *state);

/* Every cell of [start, end] (of `branch`, NULL = every active one), in
 * (branch, terminal, date) order, to fn; a non-zero return from fn stops.
 * 0, TP_EDB with err set, or fn's value. */
int tp_missing_cells(tp_db *db, const char *start, const char *end, const char *branch,
                     tp_cell_fn fn, void *ud, tp_error *err);

#endif
