/* audit.c -- GET /api/audit (admin): who did what, newest first. */
#include <stdlib.h>
#include <string.h>

#include "db/audit.h"
#include "routes.h"

void tp__audit_list(tp_req *req)
{
    const char *actor = tp_query(req, "actor"), *action = tp_query(req, "action"),
               *from = tp_query(req, "from"), *to = tp_query(req, "to"),
               *limit = tp_query(req, "limit");
    if ((actor && strlen(actor) > 80) || (action && strlen(action) > 64) ||
        (from && !tp__ok_date(from)) || (to && !tp__ok_date(to)) ||
        (limit && !tp__ok_limit(limit))) {
        tp_reply_problem(req, 400, "invalid_parameter",
                         "actor, action: text; from, to: YYYY-MM-DD; limit: 1-500");
        return;
    }
    tp_error err = {0};
    char *s = tp_audit_list_json(req->db, actor, action, from, to, limit, &err);
    if (s)
        tp_reply_owned(req, 200, "application/json", s, strlen(s));
    else
        tp_reply_db_error(req, &err);
}
