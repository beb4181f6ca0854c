/* db.c -- see db.h. */
#include "db_int.h"

#include "core/clock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"

const char *tp_db_url(const char *opt)
{
    if (opt && *opt)
        return opt;
    const char *env = getenv("TILLPIPE_DATABASE_URL");
    return env && *env ? env : NULL;
}

/* The server's message, one line. */
int tp_db_fail(tp_error *err, const char *what, const char *msg)
{
    char line[700];
    snprintf(line, sizeof line, "%s", msg ? msg : "");
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = *(p + 1) ? ' ' : '\0';
    size_t n = strlen(line);
    while (n && line[n - 1] == ' ')
        line[--n] = '\0';
    return tp_error_set(err, TP_EDB, "%s: %s", what, line);
}

static void stmts_forget(tp_db *db);

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg, (void)msg;
}

/* Replace every `n` bytes long copy of `secret` in `msg` by "***". */
static void redact_one(char *msg, size_t cap, const char *secret, size_t n)
{
    char out[1024];
    size_t o = 0;
    for (const char *m = msg; *m && o + 4 < sizeof out;) {
        if (strncmp(m, secret, n) == 0) {
            memcpy(out + o, "***", 3);
            o += 3;
            m += n;
        } else {
            out[o++] = *m++;
        }
    }
    out[o] = '\0';
    snprintf(msg, cap, "%s", out);
}

/* libpq's messages about a malformed URL quote it (or a token of it) whole:
 * blank out the password it may hold -- user:PASSWORD@ in a URI, password=
 * as a URI parameter or a keyword. */
static void redact_password(char *msg, size_t cap, const char *url)
{
    const char *s = strstr(url, "://");
    if (s) {
        s += 3;
        const char *end = s + strcspn(s, "/?"), *at = NULL;
        for (const char *q = s; q < end; q++)
            if (*q == '@')
                at = q;
        const char *colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
        if (colon && at - colon > 1)
            redact_one(msg, cap, colon + 1, (size_t)(at - colon - 1));
    }
    for (const char *q = url; (q = strstr(q, "password=")) != NULL; q += 9) {
        const char *v = q + 9 + (q[9] == '\'');
        size_t n = strcspn(v, "&' \t");
        if (n)
            redact_one(msg, cap, v, n);
    }
}

tp_db *tp_db_connect(const char *url, tp_error *err)
{
    if (!url) {
        tp_error_set(err, TP_EUSAGE,
                     "no database: set TILLPIPE_DATABASE_URL or pass --database URL");
        return NULL;
    }
    tp_db *db = calloc(1, sizeof *db);
    if (!db) {
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    /* A default connect timeout, so a silent host cannot hang a command; a
     * connect_timeout in the URL overrides it (expanded dbname comes later). */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const vals[] = {"10", url, NULL};
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        tp_db_fail(err, "cannot connect to the database",
                   db->conn ? PQerrorMessage(db->conn) : "out of memory");
        if (err)
            redact_password(err->msg, sizeof err->msg, url);
        tp_db_close(db);
        return NULL;
    }
    /* Quiet NOTICEs (CREATE ... IF NOT EXISTS) instead of stderr noise. */
    PQsetNoticeProcessor(db->conn, quiet_notice, NULL);
    return db;
}

tp_db *tp_db_connect_retry(const char *url, volatile int *stop, tp_error *err)
{
    double delay = 0.5;
    for (;;) {
        tp_db *db = tp_db_connect(url, err);
        if (db)
            return db;
        if (!url || (stop && *stop))
            return NULL;
        fprintf(stderr, "tillpipe: %s; retrying in %.1f s\n", err ? err->msg : "no database",
                delay);
        if (tp_sleep_unless(delay, 0.1, stop))
            return NULL;
        delay = delay * 2 > 30 ? 30 : delay * 2;
    }
}

void tp_db_close(tp_db *db)
{
    if (!db)
        return;
    if (db->conn)
        PQfinish(db->conn);
    stmts_forget(db);
    free(db);
}

int tp_db_begin(tp_db *db, tp_error *err)
{
    return tp_db_exec(db, "BEGIN", 0, NULL, err);
}

int tp_db_end(tp_db *db, int rc, tp_error *err)
{
    if (rc == TP_OK)
        return tp_db_exec(db, "COMMIT", 0, NULL, err);
    PQclear(PQexec(db->conn, "ROLLBACK"));
    return rc;
}

void tp_db_abandon(tp_db *db)
{
    if (db && db->conn && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
        PQclear(PQexec(db->conn, "ROLLBACK"));
}

int tp_db_set_lock_timeout(tp_db *db, int ms, tp_error *err)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SET lock_timeout = %d", ms < 0 ? 0 : ms);
    return tp_db_exec(db, sql, 0, NULL, err);
}

/* The keepalive and user timeout of tp_db_set_peer_timeout on this
 * connection's socket and the server's, when it is TCP. */
static int apply_peer_timeout(tp_db *db, tp_error *err)
{
    int s = db->peer_timeout, fd = PQsocket(db->conn);
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (s <= 0 || fd < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
        (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
        return TP_OK;
    /* probes after s/3 s of silence, every s/6 s, 3 of them; unacknowledged
     * data for s s ends the connection as well */
    int idle = s / 3 > 1 ? s / 3 : 1, intvl = s / 6 > 1 ? s / 6 : 1, cnt = 3, on = 1;
    unsigned user_ms = (unsigned)s * 1000u;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof user_ms) < 0)
        return tp_error_set(err, TP_EDB, "database: cannot set TCP keepalives: %s",
                            strerror(errno));
    char v[4][16];
    snprintf(v[0], sizeof v[0], "%d", idle);
    snprintf(v[1], sizeof v[1], "%d", intvl);
    snprintf(v[2], sizeof v[2], "%d", cnt);
    snprintf(v[3], sizeof v[3], "%u", user_ms);
    const char *p[] = {v[0], v[1], v[2], v[3]};
    return tp_db_exec(db,
                      "SELECT set_config('tcp_keepalives_idle', $1, false),"
                      " set_config('tcp_keepalives_interval', $2, false),"
                      " set_config('tcp_keepalives_count', $3, false),"
                      " set_config('tcp_user_timeout', $4, false)",
                      4, p, err);
}

int tp_db_set_peer_timeout(tp_db *db, int seconds, tp_error *err)
{
    db->peer_timeout = seconds > 0 ? seconds : 0;
    return apply_peer_timeout(db, err);
}

int tp_db_listen(tp_db *db, const char *channel, tp_error *err)
{
    /* LISTEN takes no parameters: the channel is one of ours, never input. */
    if (strcmp(channel, TP_CHANNEL_JOB_EVENTS) != 0 && strcmp(channel, TP_CHANNEL_LISTS) != 0 &&
        strcmp(channel, TP_CHANNEL_USERS) != 0)
        return tp_error_set(err, TP_EINVAL, "unknown notification channel");
    char sql[64];
    snprintf(sql, sizeof sql, "LISTEN %s", channel);
    return tp_db_exec(db, sql, 0, NULL, err);
}

int tp_db_wait(tp_db *db, int timeout_ms, int watch_fd, int *hangup)
{
    struct pollfd pfd[2] = {{PQsocket(db->conn), POLLIN, 0}, {watch_fd, POLLRDHUP, 0}};
    if (hangup)
        *hangup = 0;
    if (pfd[0].fd < 0)
        return -1;
    if (poll(pfd, watch_fd >= 0 ? 2 : 1, timeout_ms) < 0)
        return 0; /* interrupted: as a timeout */
    if (watch_fd >= 0 && (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        if (hangup)
            *hangup = 1;
        return 0;
    }
    if (!PQconsumeInput(db->conn))
        return -1;
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(db->conn))) {
        n++;
        PQfreemem(note);
    }
    return n;
}

int tp_db_broken(const tp_db *db)
{
    return !db || PQstatus(db->conn) != CONNECTION_OK;
}

/* ------------------------------------------------------------ statements */

#define STMT_CACHE_MAX 128 /* per connection; beyond it statements run unprepared */

struct tp_db_stmt {
    uint64_t hash;
    char *sql;
};

/* Forget the cache; new names from here on (the server may still hold the
 * old statements). */
static void stmts_forget(tp_db *db)
{
    db->stmt_gen++;
    for (int i = 0; i < db->nstmts; i++)
        free(db->stmts[i].sql);
    free(db->stmts);
    db->stmts = NULL;
    db->nstmts = 0;
}

/* The name of `sql`'s prepared statement on this connection in `name`,
 * preparing it first if needed: 1, or 0 to run it unprepared (the cache is
 * full, or out of memory), or -1 when the server refused to prepare it --
 * *failed is then its answer, the statement's own error. */
static int stmt_name(tp_db *db, const char *sql, int nparams, char *name, size_t cap,
                     PGresult **failed)
{
    uint64_t h = tp_fnv1a(TP_FNV1A_INIT, sql);
    for (int i = 0; i < db->nstmts; i++)
        if (db->stmts[i].hash == h && strcmp(db->stmts[i].sql, sql) == 0) {
            snprintf(name, cap, "tp%d_%d", db->stmt_gen, i);
            return 1;
        }
    if (db->nstmts == STMT_CACHE_MAX)
        return 0;
    if (!db->stmts && !(db->stmts = calloc(STMT_CACHE_MAX, sizeof *db->stmts)))
        return 0;
    char *copy = strdup(sql);
    if (!copy)
        return 0;
    snprintf(name, cap, "tp%d_%d", db->stmt_gen, db->nstmts);
    PGresult *r = PQprepare(db->conn, name, sql, nparams, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        free(copy);
        *failed = r;
        return -1;
    }
    PQclear(r);
    db->stmts[db->nstmts++] = (tp_db_stmt){h, copy};
    return 1;
}

/* A prepared statement the server no longer matches (a migration changed a
 * table it reads): SQLSTATE 0A000, "cached plan must not change result type". */
static int stale_plan(const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state && strcmp(state, "0A000") == 0;
}

PGresult *tp_db_query(tp_db *db, const char *sql, int nparams, const char *const *params,
                      tp_error *err)
{
    char name[32];
    PGresult *r = NULL;
    int prepared = nparams > 0 ? stmt_name(db, sql, nparams, name, sizeof name, &r) : 0;
    if (prepared > 0)
        r = PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
    else if (prepared == 0)
        r = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (prepared > 0 && stale_plan(r)) {
        stmts_forget(db); /* prepared before a migration: prepare again */
        if (PQtransactionStatus(db->conn) == PQTRANS_IDLE) {
            PQclear(r);
            r = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
        }
    }
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_COPY_IN)
        return r;
    tp_db_fail(err, "database", r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
    PQclear(r);
    return NULL;
}

PGresult *tp_db_query_id(tp_db *db, const char *sql, long long id, tp_error *err)
{
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", id);
    const char *p[] = {sid};
    return tp_db_query(db, sql, 1, p, err);
}

int tp_db_reset(tp_db *db, tp_error *err)
{
    stmts_forget(db);
    PQreset(db->conn);
    if (PQstatus(db->conn) == CONNECTION_OK)
        return apply_peer_timeout(db, err);
    return tp_db_fail(err, "cannot reconnect to the database", PQerrorMessage(db->conn));
}

int tp_db_exec(tp_db *db, const char *sql, int nparams, const char *const *params, tp_error *err)
{
    PGresult *r = tp_db_query(db, sql, nparams, params, err);
    if (!r)
        return TP_EDB;
    PQclear(r);
    return TP_OK;
}

long long tp_db_ll(const PGresult *r, int i, int c)
{
    return strtoll(PQgetvalue(r, i, c), NULL, 10);
}

char *tp_db_json(tp_db *db, const char *sql, int nparams, const char *const *params, tp_error *err)
{
    PGresult *r = tp_db_query(db, sql, nparams, params, err);
    if (!r)
        return NULL;
    char *out = NULL;
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0))
        tp_error_set(err, TP_ENOTFOUND, "not found");
    else if (!(out = strdup(PQgetvalue(r, 0, 0))))
        tp_error_set(err, TP_ENOMEM, "out of memory");
    PQclear(r);
    return out;
}

int tp_db_send_rows(tp_db *db, const char *sql, int nparams, const char *const *params,
                    tp_error *err)
{
    if (!PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(db->conn)) {
        tp_db_fail(err, "database", PQerrorMessage(db->conn));
        tp_db_drain(db);
        return TP_EDB;
    }
    return TP_OK;
}

int tp_db_next_row(tp_db *db, int *done, PGresult **row, tp_error *err)
{
    *row = NULL;
    while (!*done) {
        PGresult *r = PQgetResult(db->conn);
        if (!r) {
            *done = 1;
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE) {
            *row = r;
            return 1;
        }
        if (st != PGRES_TUPLES_OK) {
            tp_db_fail(err, "database", PQresultErrorMessage(r));
            PQclear(r);
            tp_db_drain(db);
            *done = 1;
            return TP_EDB;
        }
        PQclear(r);
    }
    return 0;
}

void tp_db_drain(tp_db *db)
{
    PGresult *r;
    while ((r = PQgetResult(db->conn)))
        PQclear(r);
}

void tp_db_cancel(tp_db *db)
{
    PGcancel *cn = PQgetCancel(db->conn);
    char eb[256];
    if (cn) {
        PQcancel(cn, eb, sizeof eb);
        PQfreeCancel(cn);
    }
    tp_db_drain(db);
}
