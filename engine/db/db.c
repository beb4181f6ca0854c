/* db.c -- see db.h. */
#include "db.h"

#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "core/hash.h"
#include "migrations.h"

/* pg_advisory_lock key for migrations ("tillpipe" in ASCII, truncated). */
#define TP_MIGRATE_LOCK "7451626312065632"
#define TP_PARTITION_LOCK "7451626312065633"

const char *tp_db_url(const char *opt)
{
    if (opt && *opt)
        return opt;
    const char *env = getenv("TILLPIPE_DATABASE_URL");
    return env && *env ? env : NULL;
}

/* The server's message, one line. */
static int db_fail(tp_error *err, const char *what, const char *msg)
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

static void quiet_notice(void *arg, const char *msg) { (void)arg, (void)msg; }

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
        db_fail(err, "cannot connect to the database",
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
        struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && !(stop && *stop))
            ;
        if (stop && *stop)
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

int tp_db_end(tp_db *db, int rc, tp_error *err)
{
    if (rc == TP_OK)
        return tp_db_exec(db, "COMMIT", 0, NULL, err);
    PQclear(PQexec(db->conn, "ROLLBACK"));
    return rc;
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
    db_fail(err, "database", r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
    PQclear(r);
    return NULL;
}

int tp_db_reset(tp_db *db, tp_error *err)
{
    stmts_forget(db);
    PQreset(db->conn);
    if (PQstatus(db->conn) == CONNECTION_OK)
        return TP_OK;
    return db_fail(err, "cannot reconnect to the database", PQerrorMessage(db->conn));
}

int tp_db_exec(tp_db *db, const char *sql, int nparams, const char *const *params,
               tp_error *err)
{
    PGresult *r = tp_db_query(db, sql, nparams, params, err);
    if (!r)
        return TP_EDB;
    PQclear(r);
    return TP_OK;
}

static int known_version(void)
{
    return tp_migration_count ? tp_migrations[tp_migration_count - 1].version : 0;
}

int tp_db_schema_version(tp_db *db, int *version, tp_error *err)
{
    /* Two statements: one naming schema_migrations is rejected outright
     * while the table does not exist. */
    PGresult *r = tp_db_query(db, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL,
                              err);
    if (!r)
        return TP_EDB;
    int exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    *version = 0;
    if (!exists)
        return TP_OK;
    r = tp_db_query(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL, err);
    if (!r)
        return TP_EDB;
    *version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10); /* the server formatted it */
    PQclear(r);
    return TP_OK;
}

int tp_db_check_schema(tp_db *db, tp_error *err)
{
    int v;
    if (tp_db_schema_version(db, &v, err) < 0)
        return TP_EDB;
    if (v < known_version())
        return tp_error_set(err, TP_EDB,
                            "the database schema is at version %d, this tillpipe needs %d: run "
                            "`tillpipe migrate`",
                            v, known_version());
    if (v > known_version())
        return tp_error_set(err, TP_EDB,
                            "the database schema is at version %d, newer than this tillpipe "
                            "knows (%d): upgrade tillpipe",
                            v, known_version());
    return TP_OK;
}

int tp_db_migrate(tp_db *db, int *applied, tp_error *err)
{
    *applied = 0;
    if (tp_db_exec(db, "SELECT pg_advisory_lock(" TP_MIGRATE_LOCK ")", 0, NULL, err) < 0)
        return TP_EDB;
    int rc = tp_db_exec(db,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version integer PRIMARY KEY, name text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())",
                        0, NULL, err);
    int current = 0;
    if (rc == TP_OK)
        rc = tp_db_schema_version(db, &current, err);
    if (rc == TP_OK && current > known_version())
        rc = tp_error_set(err, TP_EDB,
                          "the database is at schema version %d, newer than this tillpipe knows "
                          "(%d): refusing to touch it; upgrade tillpipe",
                          current, known_version());
    for (int i = 0; rc == TP_OK && i < tp_migration_count; i++) {
        const tp_migration *m = &tp_migrations[i];
        if (m->version <= current)
            continue;
        char ver[16];
        snprintf(ver, sizeof ver, "%d", m->version);
        const char *params[] = {ver, m->name};
        rc = tp_db_exec(db, "BEGIN", 0, NULL, err);
        if (rc == TP_OK) {
            PGresult *r = PQexec(db->conn, m->sql); /* plain SQL file, several statements */
            if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
                char what[128];
                snprintf(what, sizeof what, "migration %03d_%s", m->version, m->name);
                rc = db_fail(err, what, PQresultErrorMessage(r));
            }
            PQclear(r);
        }
        if (rc == TP_OK)
            rc = tp_db_exec(db, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            2, params, err);
        rc = tp_db_end(db, rc, err);
        if (rc == TP_OK)
            (*applied)++;
    }
    tp_error e2 = {0};
    tp_db_exec(db, "SELECT pg_advisory_unlock(" TP_MIGRATE_LOCK ")", 0, NULL, &e2);
    return rc;
}

int tp_db_ensure_partition(tp_db *db, int year, tp_error *err)
{
    if (year < 1900 || year > 9998)
        return tp_error_set(err, TP_EINVAL, "business year %d out of range", year);
    char name[32], from[16], to[16], sql[256];
    snprintf(name, sizeof name, "records_%d", year);
    const char *p[] = {name};
    PGresult *r = tp_db_query(db, "SELECT to_regclass($1) IS NOT NULL", 1, p, err);
    if (!r)
        return TP_EDB;
    int exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (exists)
        return TP_OK;
    /* DDL takes no parameters; the name and bounds are formatted integers. */
    snprintf(from, sizeof from, "%d-01-01", year);
    snprintf(to, sizeof to, "%d-01-01", year + 1);
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS %s PARTITION OF records FOR VALUES FROM ('%s') TO ('%s')",
             name, from, to);
    int rc = tp_db_exec(db, "BEGIN", 0, NULL, err);
    if (rc == TP_OK)
        rc = tp_db_exec(db, "SELECT pg_advisory_xact_lock(" TP_PARTITION_LOCK ")", 0, NULL, err);
    if (rc == TP_OK)
        rc = tp_db_exec(db, sql, 0, NULL, err);
    rc = tp_db_end(db, rc, err);
    return rc;
}

int tp_db_audit(tp_db *db, const char *actor, const char *action, const char *target,
                const char *details_json, tp_error *err)
{
    const char *p[] = {actor, action, target, details_json};
    return tp_db_exec(db,
                      "INSERT INTO audit_log (actor, action, target, details)"
                      " VALUES ($1, $2, $3, $4::jsonb)",
                      4, p, err);
}

const char *tp_db_cli_actor(void)
{
    static char actor[96];
    if (!actor[0]) {
        const struct passwd *pw = getpwuid(geteuid());
        snprintf(actor, sizeof actor, "cli:%s", pw ? pw->pw_name : "unknown");
    }
    return actor;
}
