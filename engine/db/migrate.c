/* migrate.c -- see db.h: the schema migrations compiled into tillpipe
 * (sql/NNN_name.sql, cmake/embed_sql.cmake) and the schema check. */
#include <stdio.h>
#include <stdlib.h>

#include "db_int.h"
#include "migrations.h"

/* pg_advisory_lock key for migrations ("tillpipe" in ASCII, truncated). */
#define TP_MIGRATE_LOCK "7451626312065632"

static int known_version(void)
{
    return tp_migration_count ? tp_migrations[tp_migration_count - 1].version : 0;
}

int tp_db_schema_version(tp_db *db, int *version, tp_error *err)
{
    /* Two statements: one naming schema_migrations is rejected outright
     * while the table does not exist. */
    PGresult *r =
        tp_db_query(db, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL, err);
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
                rc = tp_db_fail(err, what, PQresultErrorMessage(r));
            }
            PQclear(r);
        }
        if (rc == TP_OK)
            rc = tp_db_exec(db, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
                            params, err);
        rc = tp_db_end(db, rc, err);
        if (rc == TP_OK)
            (*applied)++;
    }
    tp_error e2 = {0};
    tp_db_exec(db, "SELECT pg_advisory_unlock(" TP_MIGRATE_LOCK ")", 0, NULL, &e2);
    return rc;
}
