/* plugins.c -- see plugins.h. */
#include "plugins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

int tp_plugin_health_failed(tp_db *db, const char *sha256, const char *name, const char *version,
                            const char *error, int threshold, int *quarantined, tp_error *err)
{
    char th[16];
    snprintf(th, sizeof th, "%d", threshold);
    const char *p[] = {sha256, name, version, error, th};
    PGresult *r = tp_db_query(
        db,
        "INSERT INTO plugin_health AS h (sha256, name, version, failures_in_row, failures_total,"
        " last_error, last_failed_at, quarantined_at) VALUES ($1, $2, $3, 1, 1, $4, now(),"
        " CASE WHEN $5::int = 1 THEN now() END)"
        " ON CONFLICT (sha256) DO UPDATE SET failures_in_row = h.failures_in_row + 1,"
        " failures_total = h.failures_total + 1, last_error = $4, last_failed_at = now(),"
        " quarantined_at = coalesce(h.quarantined_at, CASE WHEN $5::int > 0 AND"
        " h.failures_in_row + 1 >= $5::int THEN now() END)"
        " RETURNING (quarantined_at IS NOT NULL)::int",
        5, p, err);
    if (!r)
        return TP_EDB;
    int q = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (quarantined)
        *quarantined = q;
    return TP_OK;
}

int tp_plugin_health_ok(tp_db *db, const char *const *sha256, size_t n, tp_error *err)
{
    char list[64 * 65 + 8];
    size_t used = 0;
    list[used++] = '{';
    for (size_t i = 0; i < n && i < 64; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? "," : "", sha256[i]);
    snprintf(list + used, sizeof list - used, "}");
    const char *p[] = {list};
    return tp_db_exec(db,
                      "UPDATE plugin_health SET failures_in_row = 0 WHERE sha256 = ANY($1::text[])"
                      " AND failures_in_row > 0 AND quarantined_at IS NULL",
                      1, p, err);
}

int tp_plugin_health_attention(tp_db *db, char (*out)[65], int *quarantined, size_t cap,
                               tp_error *err)
{
    PGresult *r = tp_db_query(db,
                              "SELECT sha256, (quarantined_at IS NOT NULL)::int FROM plugin_health"
                              " WHERE failures_in_row > 0 OR quarantined_at IS NOT NULL"
                              " ORDER BY sha256",
                              0, NULL, err);
    if (!r)
        return TP_EDB;
    int n = PQntuples(r);
    int k = 0;
    for (int i = 0; i < n && (size_t)k < cap; i++, k++) {
        snprintf(out[k], 65, "%s", PQgetvalue(r, i, 0));
        quarantined[k] = atoi(PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return k;
}

int tp_plugin_health_clear(tp_db *db, const char *sha256, const char *actor, tp_error *err)
{
    const char *p[] = {sha256, actor};
    PGresult *r = tp_db_query(db,
                              "UPDATE plugin_health SET quarantined_at = NULL, failures_in_row = 0,"
                              " cleared_at = now(), cleared_by = $2"
                              " WHERE sha256 = $1 AND quarantined_at IS NOT NULL RETURNING 1",
                              2, p, err);
    if (!r)
        return TP_EDB;
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return tp_error_set(err, TP_ENOTFOUND, "plugin build %s is not quarantined", sha256);
    return TP_OK;
}

char *tp_plugin_health_json(tp_db *db, tp_error *err)
{
    return tp_db_json(db,
                      "SELECT coalesce(json_agg(json_build_object('sha256', sha256, 'name', name,"
                      " 'version', version, 'failures_in_row', failures_in_row, 'failures_total',"
                      " failures_total, 'last_error', last_error, 'last_failed_at', last_failed_at,"
                      " 'quarantined', quarantined_at IS NOT NULL, 'quarantined_at',"
                      " quarantined_at, 'cleared_at', cleared_at, 'cleared_by', cleared_by)"
                      " ORDER BY last_failed_at DESC NULLS LAST), '[]')::text FROM plugin_health",
                      0, NULL, err);
}
