/* audit.c -- see audit.h. */
#include "audit.h"

#include <stdlib.h>
#include <string.h>

#include "db_int.h"

int tp_audit_add(tp_db *db, const char *actor, const char *action, const char *target,
                 const char *request_id, const char *details_json, tp_error *err)
{
    const char *p[] = {actor, action, target, request_id, details_json};
    return tp_db_exec(db,
                      "INSERT INTO audit_log (actor, action, target, request_id, details)"
                      " VALUES ($1, $2, $3, $4, $5::jsonb)",
                      5, p, err);
}

char *tp_audit_list_json(tp_db *db, const char *actor, const char *action, const char *from,
                         const char *to, const char *limit, tp_error *err)
{
    const char *p[] = {actor, action, from, to, limit ? limit : "100"};
    return tp_db_json(db,
                      "WITH f AS (SELECT * FROM audit_log WHERE ($1::text IS NULL OR actor = $1)"
                      " AND ($2::text IS NULL OR action = $2)"
                      " AND ($3::date IS NULL OR created_at >= $3)"
                      " AND ($4::date IS NULL OR created_at < $4::date + 1))"
                      " SELECT json_build_object('total', (SELECT count(*) FROM f), 'items',"
                      " coalesce((SELECT json_agg(row_to_json(x) ORDER BY x.id DESC) FROM"
                      " (SELECT * FROM f ORDER BY id DESC LIMIT $5::int) x), '[]'))::text",
                      5, p, err);
}
