/* branches.c -- see branches.h. */
#include "branches.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int tp_branch_upsert(tp_db *db, const tp_branch_cfg *b, const char *list, tp_error *err)
{
    json_t *terms = json_array();
    for (int i = 0; i < b->nterminals; i++)
        json_array_append_new(terms, json_integer(b->terminals[i]));
    char *ts = json_dumps(terms, JSON_COMPACT);
    char *ps = b->parsers ? json_dumps((json_t *)b->parsers, JSON_COMPACT) : strdup("{}");
    json_decref(terms);
    const char *p[] = {b->code, b->name, b->active ? "t" : "f", ts, b->newer_pos ? "newer" : "classic",
                       ps, list, b->report_server};
    int rc = ts && ps ? tp_db_exec(db,
                                   "INSERT INTO branches (code, name, active, terminals, pos, parsers,"
                                   " legacy_list, report_server) SELECT $1, $2, $3, ARRAY(SELECT"
                                   " jsonb_array_elements_text($4::jsonb)::int), $5, $6::jsonb, $7, $8"
                                   " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
                                   " active = EXCLUDED.active, terminals = EXCLUDED.terminals,"
                                   " pos = EXCLUDED.pos, parsers = EXCLUDED.parsers,"
                                   " legacy_list = coalesce(EXCLUDED.legacy_list, branches.legacy_list),"
                                   " report_server = EXCLUDED.report_server, updated_at = now()",
                                   8, p, err)
                      : tp_error_set(err, TP_ENOMEM, "out of memory");
    free(ts);
    free(ps);
    return rc;
}
