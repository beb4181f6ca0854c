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

#endif
