/* pipeline.h -- one terminal-day from candidate files to records: select,
 * resolve a plugin per report type, parse the reference reports into the
 * combine's lookups, then stream the order lines through the combine to the
 * caller's record callback.
 *
 * This is the stage seam: the offline `tillpipe run` drives it over a
 * folder; the worker drives it per job.  Nothing here touches a database or
 * the network.
 */
#ifndef TP_PIPELINE_H
#define TP_PIPELINE_H

#include "core/config.h"
#include "core/error.h"
#include "core/quality.h"
#include "core/record.h"
#include "core/reports.h"
#include "plugin.h"

typedef struct tp_pipeline {
    const tp_registry *plugins; /* borrowed */
    const tp_config *config;    /* borrowed */
    /* Polled while files parse: nonzero (a TP_E* code) stops the
     * terminal-day with that code.  NULL = never. */
    int (*cancelled)(void *ud);
    void *cancel_ud;
    /* Asked of every plugin resolved: nonzero (with why filled) refuses it
     * -- a quarantined build -- and fails the terminal-day; no other plugin
     * is taken in its place.  NULL = every plugin may run. */
    int (*refuse)(void *ud, const tp_plugin *p, char *why, size_t why_len);
    void *refuse_ud;
} tp_pipeline;

/* Receives each record; return < 0 with err set to stop. */
typedef int (*tp_record_fn)(void *ud, const tp_record *r, tp_error *err);

typedef enum tp_termday_status {
    TP_TERMDAY_COMBINED, /* records produced (maybe zero) */
    TP_TERMDAY_NO_ORDERS /* no rd5000 file: nothing to combine */
} tp_termday_status;

typedef struct tp_termday_result {
    tp_termday_status status;
    uint64_t records;                       /* records handed to the callback */
    uint64_t rows_parsed;                   /* rows the plugins emitted, all types */
    uint64_t bytes;                         /* bytes of the chosen files */
    const tp_plugin *plugin[TP_TYPE_COUNT]; /* plugin used per type, NULL = none */
    char plugin_why[TP_TYPE_COUNT][160];    /* why that plugin */
    int branch_listed;                      /* the branch is in the configuration */
    const tp_plugin *failed;                /* the plugin whose parse failed in its sandbox */
    int refused;                            /* a plugin was refused (see tp_pipeline.refuse) */
    tp_quality quality;                     /* free with tp_termday_result_clear */
} tp_termday_result;

/* Process one terminal-day (runs tp_select on it).  Returns 0 with *res
 * filled, or < 0 with err set when a file could not be read or parsed at all
 * or a plugin is missing; the callback may have been called already. */
int tp_pipeline_termday(const tp_pipeline *p, tp_termday *td, tp_record_fn fn, void *ud,
                        tp_termday_result *res, tp_error *err);

void tp_termday_result_clear(tp_termday_result *res);

#endif
