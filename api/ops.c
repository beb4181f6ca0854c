/* ops.c -- health and metrics: GET /livez, /readyz, /metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/metrics.h"
#include "db/workers.h"
#include "routes.h"
#include "store/store.h"

void tp__livez(tp_req *req)
{
    tp_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* Its own short-lived connection: a pool starved by a dead database must
 * not make the probe wait. */
void tp__readyz(tp_req *req)
{
    tp_error err = {0};
    long long live = 0;
    tp_db *db = tp_db_connect(tp_server_opts(req->srv)->db_url, &err);
    int rc = db ? tp_workers_alive(db, &live, &err) : TP_EDB;
    tp_db_close(db);
    if (rc < 0) {
        tp_reply_problem(req, 503, "not_ready", "database: not answering");
        return;
    }
    tp_store *st = tp_server_opts(req->srv)->store;
    if (st && tp_store_check(st, &err) < 0) {
        tp_reply_problem(req, 503, "not_ready", "store: not answering");
        return;
    }
    if (live == 0) {
        tp_reply_problem(req, 503, "not_ready",
                         "no live worker: none has sent a heartbeat in the last 2 minutes");
        return;
    }
    tp_reply_json(req, 200,
                  json_pack("{s:s, s:s, s:s, s:I}", "status", "ready", "database", "ok", "store",
                            st ? "ok" : "not configured", "workers", (json_int_t)live));
}

/* Prometheus text: what the database knows, then this server's HTTP
 * counters. */
void tp__metrics(tp_req *req)
{
    tp_error err = {0};
    char *db_text = tp_metrics_text(req->db, &err);
    if (!db_text) {
        tp_reply_db_error(req, &err);
        return;
    }
    size_t len = strlen(db_text), cap = len + 1;
    char *out = db_text;
    tp_server_metrics(req->srv, &out, &len, &cap);
    tp_reply_text(req, 200, "text/plain; version=0.0.4", out ? out : "");
    free(out);
}
