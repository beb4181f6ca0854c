/* missing.c -- see missing.h. */
#include "missing.h"

#include <stdlib.h>

#include "db_int.h"

/* Every active branch x terminal x day of [$1, $2] (of branch $3, or all)
 * with its state: ok, flagged (succeeded with data-quality findings),
 * queued, running, failed (failed or cancelled, nothing succeeded) or
 * missing (never queued). */
#define CELLS_SQL                                                                                  \
    "WITH cells AS (SELECT b.code AS branch, t AS pos, d::date AS day"                             \
    "  FROM branches b, unnest(b.terminals) t,"                                                    \
    "  generate_series($1::date, $2::date, interval '1 day') d"                                    \
    "  WHERE b.active AND ($3::text IS NULL OR b.code = $3)),"                                     \
    " best AS (SELECT DISTINCT ON (branch, pos, business_date) branch, pos, business_date,"        \
    "  status, id FROM jobs WHERE business_date BETWEEN $1::date AND $2::date"                     \
    "  AND ($3::text IS NULL OR branch = $3)"                                                      \
    "  ORDER BY branch, pos, business_date, CASE status WHEN 'succeeded' THEN 0"                   \
    "  WHEN 'running' THEN 1 WHEN 'queued' THEN 2 ELSE 3 END, id DESC)"                            \
    " SELECT c.branch, c.pos, c.day::text, CASE WHEN j.status IS NULL THEN 'missing'"              \
    "  WHEN j.status = 'succeeded' THEN CASE WHEN EXISTS (SELECT 1 FROM quality_flags q"           \
    "   WHERE q.job_id = j.id AND (q.rows_rejected > 0 OR cardinality(q.missing_reports) > 0))"    \
    "   THEN 'flagged' ELSE 'ok' END"                                                              \
    "  WHEN j.status IN ('queued', 'running') THEN j.status::text ELSE 'failed' END"               \
    " FROM cells c LEFT JOIN best j ON j.branch = c.branch AND j.pos = c.pos"                      \
    "  AND j.business_date = c.day ORDER BY 1, 2, 3"

int tp_missing_cells(tp_db *db, const char *start, const char *end, const char *branch,
                     tp_cell_fn fn, void *ud, tp_error *err)
{
    const char *p[] = {start, end, branch};
    PGresult *r = tp_db_query(db, CELLS_SQL, 3, p, err);
    if (!r)
        return TP_EDB;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = fn(ud, PQgetvalue(r, i, 0), (int)tp_db_ll(r, i, 1), PQgetvalue(r, i, 2),
                PQgetvalue(r, i, 3));
    PQclear(r);
    return rc;
}
