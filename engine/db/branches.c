/* branches.c -- see branches.h. */
#include "branches.h"

#include "db_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tp_branch_upsert(tp_db *db, const tp_branch_cfg *b, const char *list, int *created,
                     tp_error *err)
{
    json_t *terms = json_array();
    for (int i = 0; i < b->nterminals; i++)
        json_array_append_new(terms, json_integer(b->terminals[i]));
    char *ts = json_dumps(terms, JSON_COMPACT);
    char *ps = b->parsers ? json_dumps((json_t *)b->parsers, JSON_COMPACT) : strdup("{}");
    json_decref(terms);
    const char *p[] = {
        b->code, b->name, b->active ? "t" : "f", ts, b->newer_pos ? "newer" : "classic",
        ps,      list,    b->report_server};
    /* (xmax is 0 on a row this statement inserted, not on one it updated) */
    PGresult *r =
        ts && ps
            ? tp_db_query(db,
                          "INSERT INTO branches (code, name, active, terminals, pos, parsers,"
                          " legacy_list, report_server) SELECT $1, $2, $3, ARRAY(SELECT"
                          " jsonb_array_elements_text($4::jsonb)::int), $5, $6::jsonb, $7, $8"
                          " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
                          " active = EXCLUDED.active, terminals = EXCLUDED.terminals,"
                          " pos = EXCLUDED.pos, parsers = EXCLUDED.parsers,"
                          " legacy_list = coalesce(EXCLUDED.legacy_list, branches.legacy_list),"
                          " report_server = EXCLUDED.report_server, updated_at = now()"
                          " RETURNING xmax = 0",
                          8, p, err)
            : NULL;
    int rc = r ? TP_OK : ts && ps ? TP_EDB : tp_error_set(err, TP_ENOMEM, "out of memory");
    if (r && created)
        *created = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    free(ts);
    free(ps);
    return rc;
}

/* A branch row in the configuration's format: the one projection of the
 * table that every reader shares. */
#define BRANCH_JSON                                                                                \
    "json_build_object('code', code, 'name', name, 'active', active, 'terminals', terminals,"      \
    " 'pos', pos, 'parsers', parsers, 'report_server', report_server)"

char *tp_branches_list_json(tp_db *db, tp_error *err)
{
    return tp_db_json(db,
                      "SELECT json_build_object('items', coalesce(json_agg(" BRANCH_JSON
                      " ORDER BY code), '[]'), 'total', count(*))::text FROM branches",
                      0, NULL, err);
}

char *tp_branch_get_json(tp_db *db, const char *code, tp_error *err)
{
    const char *p[] = {code};
    char *s =
        tp_db_json(db, "SELECT " BRANCH_JSON "::text FROM branches WHERE code = $1", 1, p, err);
    if (!s && err && err->code == TP_ENOTFOUND)
        tp_error_set(err, TP_ENOTFOUND, "no branch %s", code);
    return s;
}

char *tp_branch_lock_json(tp_db *db, const char *code, tp_error *err)
{
    const char *p[] = {code};
    char *s = tp_db_json(
        db, "SELECT " BRANCH_JSON "::text FROM branches WHERE code = $1 FOR UPDATE", 1, p, err);
    if (!s && err && err->code == TP_ENOTFOUND)
        tp_error_set(err, TP_ENOTFOUND, "no branch %s", code);
    return s;
}

tp_config *tp_branches_config(tp_db *db, const char *code, tp_error *err)
{
    const char *p[] = {code};
    char *text = tp_db_json(db,
                            "SELECT json_build_object('branches', coalesce(json_agg(" BRANCH_JSON
                            " ORDER BY code), '[]'))::text FROM branches"
                            " WHERE $1::text IS NULL OR code = $1 HAVING $1::text IS NULL"
                            " OR count(*) > 0",
                            1, p, err);
    if (!text) {
        if (err && err->code == TP_ENOTFOUND)
            tp_error_set(err, TP_ENOTFOUND, "no branch %s", code ? code : "");
        return NULL;
    }
    tp_config *cfg = tp_config_parse(text, "branches table", err);
    free(text);
    return cfg;
}
