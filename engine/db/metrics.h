/* metrics.h -- what the database knows for Prometheus: jobs by status,
 * attempts by outcome, fetch errors by kind, rows parsed and rejected,
 * attempt and stage duration histograms -- counted from the tables, so
 * every worker on every machine counts. */
#ifndef TP_DB_METRICS_H
#define TP_DB_METRICS_H

#include "core/error.h"
#include "db.h"

/* The families as Prometheus text (caller frees); NULL with err set. */
char *tp_metrics_text(tp_db *db, tp_error *err);

/* Where the database's write-ahead log is now (text, into `out`): it moves
 * with every committed change, so a snapshot of tp_metrics_text taken after
 * reading one mark is current for as long as the mark has not moved.
 * 0 or TP_EDB. */
int tp_metrics_mark(tp_db *db, char out[32], tp_error *err);

#endif
