/* events.c -- GET /api/events: Server-Sent Events of job status changes,
 * from every worker on every machine.  The job_events table is the log;
 * PostgreSQL's NOTIFY (sql/001_init.sql) only wakes the stream.  A client
 * resumes without loss with Last-Event-ID (or ?last_event_id=); without
 * one it gets what happens from now on.  Each stream has a connection of
 * its own (not the pool's), LISTENing; a comment line every 15 s keeps
 * proxies from closing a quiet stream.  A stream lasts as long as the token
 * that opened it: when it expires, is logged out or its user loses it
 * (removed, disabled, a new password or role), a last event `end` says
 * why ({"reason": "token_expired"} or "token_revoked") and the stream
 * ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/jobs.h"
#include "routes.h"
#include "session.h"

#define KEEPALIVE_S 15

typedef struct sse {
    tp_server *srv;
    tp_db *db;
    long long last; /* the last event id sent */
    int client;     /* the client's socket: a stream ends as soon as it hangs up */
    tp_outbuf out;
    time_t quiet_since;
    tp_auth *auth;   /* borrowed: the server's */
    tp_claims token; /* the token that opened the stream */
    int ended;       /* the `end` event is queued: nothing more after it */
} sse;

static int sse_append(sse *x, const char *p, size_t n)
{
    return tp_outbuf_append(&x->out, p, n);
}

/* One event as the stream sends it. */
static int sse_event(void *ud, long long id, const char *json, size_t len)
{
    sse *x = ud;
    char head[64];
    int n = snprintf(head, sizeof head, "id: %lld\nevent: job\ndata: ", id);
    if (sse_append(x, head, (size_t)n) < 0 || sse_append(x, json, len) < 0 ||
        sse_append(x, "\n\n", 2) < 0)
        return -1;
    x->last = id;
    return 0;
}

/* Events after x->last, formatted; < 0 when the database is gone. */
static int sse_fetch(sse *x)
{
    tp_error err = {0};
    int rc = tp_job_events_after(x->db, x->last, 500, sse_event, x, &err);
    if (rc == TP_EDB)
        fprintf(stderr, "tillpipe serve: event stream: %s\n", err.msg);
    return rc < 0 ? -1 : 0;
}

/* Does the token still hold?  When not, the `end` event is queued and
 * x->ended set; < 0 when the database had to be asked and is gone. */
static int sse_token_holds(sse *x)
{
    const char *reason = NULL, *why;
    tp_role role;
    tp_error err = {0};
    if ((long long)time(NULL) >= x->token.exp)
        reason = "token_expired";
    else {
        int rc = tp__auth_check(x->auth, &x->token, x->db, &role, &why, &err);
        if (rc < 0)
            return -1;
        if (rc > 0)
            reason = "token_revoked";
    }
    if (!reason)
        return 1;
    char ev[96];
    int n = snprintf(ev, sizeof ev, "event: end\ndata: {\"reason\":\"%s\"}\n\n", reason);
    sse_append(x, ev, (size_t)n);
    x->ended = 1;
    return 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse *x = cls;
    while (tp_outbuf_empty(&x->out)) {
        if (tp_server_stopping(x->srv) || x->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        int holds = sse_token_holds(x);
        if (holds < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (!holds)
            break;
        if (sse_fetch(x) < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (!tp_outbuf_empty(&x->out)) {
            x->quiet_since = time(NULL);
            break;
        }
        if (time(NULL) - x->quiet_since >= KEEPALIVE_S) {
            x->quiet_since = time(NULL);
            sse_append(x, ": keepalive\n\n", 13);
            break;
        }
        /* wait for a NOTIFY, the client hanging up, or a second (to
         * notice a stopping server) */
        int hangup = 0;
        if (tp_db_wait(x->db, 1000, x->client, &hangup) < 0 || hangup)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return (ssize_t)tp_outbuf_drain(&x->out, buf, max);
}

static void sse_free(void *cls)
{
    sse *x = cls;
    tp_server_release_db(x->srv, x->db);
    tp_outbuf_free(&x->out);
    free(x);
}

void tp__events(tp_req *req)
{
    const char *hdr = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *q = tp_query(req, "last_event_id");
    const char *from = hdr ? hdr : q;
    long long last = -1;
    if (from) {
        char *end;
        last = strtoll(from, &end, 10);
        if (!*from || *end || last < 0 || strlen(from) > 18) {
            tp_reply_problem(req, 400, "invalid_parameter", "Last-Event-ID: want an event id");
            return;
        }
    }
    sse *x = calloc(1, sizeof *x);
    tp_error err = {0};
    if (!x) {
        tp_reply_problem(req, 500, "internal", "out of memory");
        return;
    }
    if (!(x->db = tp_req_stream_db(req))) {
        free(x);
        return;
    }
    x->srv = req->srv;
    x->auth = tp_server_opts(req->srv)->auth;
    const char *why;
    if (!x->auth || tp_token_claims(tp_server_opts(req->srv)->jwt_secret, tp__bearer(req),
                                    &x->token, &why) < 0) {
        sse_free(x); /* (checked already: the server's token check let it through) */
        tp_reply_problem(req, 401, "unauthorized", "invalid token");
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    x->client = ci ? ci->connect_fd : -1;
    if (tp_db_listen(x->db, TP_CHANNEL_JOB_EVENTS, &err) < 0) {
        sse_free(x);
        tp_reply_db_error(req, &err);
        return;
    }
    x->quiet_since = time(NULL);
    if (last < 0 && tp_job_events_last(x->db, &last, &err) < 0) { /* from now on */
        sse_free(x);
        tp_reply_db_error(req, &err);
        return;
    }
    x->last = last;
    static const char hello[] = ": tillpipe job events\nretry: 2000\n\n";
    sse_append(x, hello, sizeof hello - 1);
    tp_reply_stream(req, sse_read, x, sse_free, "text/event-stream", NULL);
}
