/* metrics.c -- see metrics.h. */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* Prometheus text, one statement per family. */
static const char *const metric_sql[] = {
    "SELECT '# HELP tillpipe_jobs Jobs by status.' || chr(10) || '# TYPE tillpipe_jobs gauge'"
    " || chr(10) || string_agg(format('tillpipe_jobs{status=\"%s\"} %s', s, (SELECT count(*)"
    " FROM jobs WHERE status = s)), chr(10)) FROM unnest(enum_range(NULL::job_status)) s",
    "SELECT '# HELP tillpipe_job_attempts_total Attempts by outcome (error code, or done).'"
    " || chr(10) || '# TYPE tillpipe_job_attempts_total counter' || chr(10) ||"
    " coalesce(string_agg(format('tillpipe_job_attempts_total{code=\"%s\"} %s', c, n),"
    " chr(10)), 'tillpipe_job_attempts_total{code=\"done\"} 0') FROM (SELECT coalesce(error_code,"
    " CASE WHEN stage = 'done' THEN 'done' ELSE 'in_progress' END) c, count(*) n FROM job_attempts"
    " GROUP BY 1 ORDER BY 1) x",
    "SELECT '# HELP tillpipe_fetch_errors_total Fetch failures by kind.' || chr(10) ||"
    " '# TYPE tillpipe_fetch_errors_total counter' || chr(10) || string_agg(format("
    "'tillpipe_fetch_errors_total{kind=\"%s\"} %s', k, (SELECT count(*) FROM job_attempts"
    " WHERE stage = 'fetch' AND error_code = k)), chr(10)) FROM unnest(ARRAY['no_files',"
    " 'server_error', 'network_error', 'bad_file']) k",
    "SELECT '# HELP tillpipe_rows_parsed_total Data rows of the chosen files by report type.'"
    " || chr(10) || '# TYPE tillpipe_rows_parsed_total counter' || chr(10) ||"
    " coalesce(string_agg(format('tillpipe_rows_parsed_total{type=\"%s\"} %s', t, n), chr(10)),"
    " 'tillpipe_rows_parsed_total{type=\"rd5000\"} 0') FROM (SELECT report_type t,"
    " coalesce(sum(data_rows), 0) n FROM files WHERE chosen GROUP BY 1 ORDER BY 1) x",
    "SELECT '# HELP tillpipe_rows_rejected_total Order lines rejected by the combine.' ||"
    " chr(10) || '# TYPE tillpipe_rows_rejected_total counter' || chr(10) ||"
    " 'tillpipe_rows_rejected_total ' || coalesce(sum(rows_rejected), 0) FROM quality_flags",
    "SELECT '# HELP tillpipe_attempt_duration_seconds Attempts from claim to end.' || chr(10)"
    " || '# TYPE tillpipe_attempt_duration_seconds histogram' || chr(10) || string_agg(format("
    "'tillpipe_attempt_duration_seconds_bucket{le=\"%s\"} %s', le, n), chr(10) ORDER BY o) ||"
    " chr(10) || format('tillpipe_attempt_duration_seconds_sum %s', (SELECT coalesce(sum("
    " extract(epoch FROM finished_at - started_at)), 0) FROM job_attempts WHERE finished_at"
    " IS NOT NULL)) || chr(10) || format('tillpipe_attempt_duration_seconds_count %s', (SELECT"
    " count(*) FROM job_attempts WHERE finished_at IS NOT NULL)) FROM (SELECT o, le, (SELECT"
    " count(*) FROM job_attempts WHERE finished_at IS NOT NULL AND (le = '+Inf' OR extract(epoch"
    " FROM finished_at - started_at) <= le::float8)) n FROM unnest(ARRAY['0.1', '0.5', '1', '5',"
    " '30', '120', '+Inf']) WITH ORDINALITY b(le, o)) x",
    "WITH v AS (SELECT e.key st, e.value::float8 s FROM job_attempts a,"
    " jsonb_each_text(a.stage_seconds) e WHERE a.stage_seconds IS NOT NULL),"
    " st AS (SELECT * FROM unnest(ARRAY['fetch', 'store', 'parse', 'load']) WITH ORDINALITY"
    " t(st, so)), b AS (SELECT * FROM unnest(ARRAY['0.01', '0.05', '0.1', '0.5', '1', '5', '30',"
    " '+Inf']) WITH ORDINALITY b(le, o))"
    " SELECT '# HELP tillpipe_stage_duration_seconds Seconds an attempt spent in each stage.'"
    " || chr(10) || '# TYPE tillpipe_stage_duration_seconds histogram' || chr(10) ||"
    " string_agg(l, chr(10) ORDER BY so, o) FROM ("
    " SELECT so, o, format('tillpipe_stage_duration_seconds_bucket{stage=\"%s\",le=\"%s\"} %s',"
    " st.st, le, (SELECT count(*) FROM v WHERE v.st = st.st AND (le = '+Inf' OR"
    " v.s <= le::float8))) l FROM st, b"
    " UNION ALL SELECT so, 100, format('tillpipe_stage_duration_seconds_sum{stage=\"%s\"} %s',"
    " st.st, (SELECT coalesce(sum(s), 0) FROM v WHERE v.st = st.st)) FROM st"
    " UNION ALL SELECT so, 101, format('tillpipe_stage_duration_seconds_count{stage=\"%s\"} %s',"
    " st.st, (SELECT count(*) FROM v WHERE v.st = st.st)) FROM st) x",
    "SELECT '# HELP tillpipe_plugins_quarantined Plugin builds quarantined (see GET /api/plugins).'"
    " || chr(10) || '# TYPE tillpipe_plugins_quarantined gauge' || chr(10) ||"
    " 'tillpipe_plugins_quarantined ' || count(*) FILTER (WHERE quarantined_at IS NOT NULL)"
    " || chr(10) || '# HELP tillpipe_plugin_failures_total Parses that failed in the sandbox.'"
    " || chr(10) || '# TYPE tillpipe_plugin_failures_total counter' || chr(10) ||"
    " 'tillpipe_plugin_failures_total ' || coalesce(sum(failures_total), 0) FROM plugin_health",
};

char *tp_metrics_text(tp_db *db, tp_error *err)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) {
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    int rc = TP_OK;
    for (size_t i = 0; rc == TP_OK && i < sizeof metric_sql / sizeof *metric_sql; i++) {
        PGresult *r = tp_db_query(db, metric_sql[i], 0, NULL, err);
        if (!r) {
            rc = TP_EDB;
            break;
        }
        fprintf(f, "%s\n", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    if (fclose(f) != 0 && rc == TP_OK)
        rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    if (rc < 0) {
        free(out);
        return NULL;
    }
    return out;
}

int tp_metrics_mark(tp_db *db, char out[32], tp_error *err)
{
    PGresult *r = tp_db_query(db, "SELECT pg_current_wal_insert_lsn()::text", 0, NULL, err);
    if (!r)
        return TP_EDB;
    snprintf(out, 32, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return TP_OK;
}
