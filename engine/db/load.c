/* load.c -- see load.h. */
#include "load.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

#define TP_PARTITION_LOCK "7451626312065633" /* pg_advisory_xact_lock key */

/* COPY text format: backslash escapes; NULL is \N. */
static void copy_text(FILE *f, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        switch (ch) {
        case '\\': fputs("\\\\", f); break;
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        default: putc_unlocked(ch, f);
        }
    }
}

static void copy_field(FILE *f, tp_field v, int null_if_empty, int last)
{
    if (null_if_empty && v.len == 0)
        fputs("\\N", f);
    else
        copy_text(f, v.ptr, v.len);
    putc_unlocked(last ? '\n' : '\t', f);
}

static void copy_cstr(FILE *f, const char *s, int last)
{
    tp_field v = {s, s ? strlen(s) : 0};
    copy_field(f, v, s == NULL, last);
}

/* The records table's columns, in the order a spooled row has them. */
#define RECORD_COLUMNS                                                                             \
    "branch, pos, business_date, job_id, source_file, source_line, or_number, transno,"            \
    " item_code, product_name, quantity, unit_price, amount, discount, department_code,"           \
    " department_name, pos_department_code, time_text, time_minutes, daypart, type_code,"          \
    " transaction_type, discount_code, discount_name, vat_flag, vat_div, vat_amount,"              \
    " vat_discount, vat_price, payment_code, payment_name, phone, dep_from_product"

int tp_load_spool_record(FILE *f, long long job_id, const tp_record *r, tp_error *err)
{
    char num[64];
    copy_cstr(f, r->branch, 0);
    fprintf(f, "%d\t%s\t%lld\t", r->pos, r->date, job_id);
    copy_cstr(f, r->source_file, 0);
    fprintf(f, "%llu\t", (unsigned long long)r->source_line);
    copy_field(f, r->or_number, 0, 0);
    copy_field(f, r->transno, 0, 0);
    copy_field(f, r->item_code, 0, 0);
    copy_field(f, r->product_name, 0, 0);
    copy_field(f, r->quantity, 1, 0);
    copy_field(f, r->unit_price, 1, 0);
    copy_field(f, r->amount, 1, 0);
    copy_field(f, r->discount, 1, 0);
    copy_field(f, r->dep_code, 0, 0);
    copy_field(f, r->department_name, 0, 0);
    copy_field(f, r->pos_dep_code, 0, 0);
    copy_field(f, r->time, 0, 0);
    if (r->time_minutes >= 0)
        snprintf(num, sizeof num, "%d", r->time_minutes);
    copy_cstr(f, r->time_minutes >= 0 ? num : NULL, 0);
    copy_cstr(f, r->daypart == TP_DAYPART_NONE ? NULL : tp_daypart_name(r->daypart), 0);
    copy_field(f, r->type_code, 0, 0);
    copy_cstr(f, r->txn_type == TP_TXN_UNKNOWN ? NULL : tp_txn_type_name(r->txn_type), 0);
    copy_field(f, r->disc_code, 0, 0);
    copy_field(f, r->discount_name, 0, 0);
    copy_field(f, r->vat_flag, 0, 0);
    copy_field(f, r->vat_div, 1, 0);
    copy_field(f, r->vat_amount, 1, 0);
    copy_field(f, r->vat_discount, 1, 0);
    copy_field(f, r->vat_price, 1, 0);
    copy_field(f, r->payment_code, 0, 0);
    copy_field(f, r->payment_name, 0, 0);
    copy_field(f, r->phone, 0, 0);
    fputs(r->dep_from_product ? "t\n" : "f\n", f);
    if (ferror(f))
        return tp_error_set(err, TP_EIO, "spool file: write error: %s", strerror(errno));
    return TP_OK;
}

/* Every candidate file of the terminal-day (hashed and stored by now), as
 * the JSON the load inserts in one statement.  Built before the transaction
 * opens. */
static char *files_json(const tp_termday *td, const char *const *keys)
{
    json_t *a = json_array();
    for (size_t i = 0; i < td->ncands; i++) {
        const tp_candidate *cd = &td->cands[i];
        const char *key = keys[i];
        json_t *o = json_pack("{s:s, s:s, s:I, s:b, s:s, s:s, s:s}", "type",
                              tp_schema_of(cd->rn.type)->name, "name", cd->name, "size",
                              (json_int_t)cd->size, "chosen", cd->chosen, "reason", cd->reason,
                              "sha256", cd->sha256, "key", key);
        json_object_set_new(o, "rows",
                            cd->counted ? json_integer((json_int_t)cd->rows) : json_null());
        json_array_append_new(a, o);
    }
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/* The quality findings of a terminal-day as the JSON arrays the load
 * statement takes: missing report types, problems.  TP_ENOMEM when either
 * could not be made (the caller frees both either way). */
static int quality_json(const tp_quality *q, char **missing_json, char **problems_json)
{
    json_t *missing = json_array(), *problems = json_array();
    for (int t = 0; t < TP_TYPE_COUNT; t++)
        if (q->missing & (1u << t))
            json_array_append_new(missing, json_string(tp_schema_of(t)->name));
    for (size_t i = 0; i < q->nproblems; i++)
        json_array_append_new(
            problems, json_pack("{s:s, s:I, s:s, s:s}", "file", q->problems[i].file, "line",
                                (json_int_t)q->problems[i].line, "severity",
                                q->problems[i].severity == TP_PROBLEM_ERROR ? "error" : "warning",
                                "reason", q->problems[i].reason));
    *missing_json = json_dumps(missing, JSON_COMPACT);
    *problems_json = json_dumps(problems, JSON_COMPACT);
    json_decref(missing);
    json_decref(problems);
    return *missing_json && *problems_json ? TP_OK : TP_ENOMEM;
}

/* Send the spool to a COPY already started. */
static int copy_spool(tp_db *db, FILE *spool, tp_error *err)
{
    int rc = TP_OK;
    char buf[65536];
    size_t n;
    rewind(spool);
    while (rc == TP_OK && (n = fread(buf, 1, sizeof buf, spool)) > 0)
        if (PQputCopyData(db->conn, buf, (int)n) != 1)
            rc = tp_error_set(err, TP_EDB, "COPY: %s", PQerrorMessage(db->conn));
    if (PQputCopyEnd(db->conn, rc == TP_OK ? NULL : "aborted") != 1 && rc == TP_OK)
        rc = tp_error_set(err, TP_EDB, "COPY: %s", PQerrorMessage(db->conn));
    PGresult *r;
    while ((r = PQgetResult(db->conn))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == TP_OK)
            rc = tp_error_set(err, TP_EDB, "COPY: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    return rc;
}

static int ensure_partition(tp_db *db, int year, tp_error *err)
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
    int rc = tp_db_begin(db, err);
    if (rc == TP_OK)
        rc = tp_db_exec(db, "SELECT pg_advisory_xact_lock(" TP_PARTITION_LOCK ")", 0, NULL, err);
    if (rc == TP_OK)
        rc = tp_db_exec(db, sql, 0, NULL, err);
    rc = tp_db_end(db, rc, err);
    return rc;
}

/* The first statement: lock the job row if this attempt still owns it and,
 * unless a cancel is pending, empty the terminal-day and add its files and
 * findings.  *cancel tells whether a cancel was pending (nothing written). */
static int replace_day(tp_db *db, const tp_load *l, const char *files, int *cancel, tp_error *err)
{
    const tp_job *j = l->job;
    const tp_quality *q = l->quality;
    char *ms = NULL, *ps = NULL;
    if (quality_json(q, &ms, &ps) < 0) {
        free(ms);
        free(ps);
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    }
    char spos[16], outside[32], rejected[32], warnings[32], left[32];
    snprintf(spos, sizeof spos, "%d", j->pos);
    snprintf(outside, sizeof outside, "%llu", (unsigned long long)q->rows_outside_date);
    snprintf(rejected, sizeof rejected, "%llu", (unsigned long long)q->rows_rejected);
    snprintf(warnings, sizeof warnings, "%llu", (unsigned long long)q->warnings);
    snprintf(left, sizeof left, "%llu", (unsigned long long)q->problems_left_out);
    tp_fence f;
    tp_fence_init(&f, j, l->worker);
    const char *v[] = {j->branch, spos, j->date, files, outside, rejected, warnings, ms, ps, left};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        tp_fence_add(&f, v[i]); /* $4 .. $13, in this order */
    int rc = tp_fence_run(
        db,
        "WITH l AS MATERIALIZED (SELECT cancel_requested FROM jobs WHERE " TP_FENCE "  FOR UPDATE),"
        " go AS MATERIALIZED (SELECT 1 FROM l WHERE NOT cancel_requested),"
        " d AS (DELETE FROM records WHERE branch = $4 AND pos = $5 AND business_date = $6"
        "  AND EXISTS (SELECT 1 FROM go)),"
        " f AS (INSERT INTO files (job_id, attempt, branch, pos, business_date,"
        "  report_type, name, size, data_rows, sha256, storage_key, chosen, reason)"
        "  SELECT $1, $2, $4, $5, $6, f.type, f.name, f.size, f.rows, f.sha256, f.key,"
        "  f.chosen, f.reason FROM jsonb_to_recordset($7::jsonb) AS f(type text,"
        "  name text, size bigint, rows bigint, sha256 text, key text, chosen boolean,"
        "  reason text) WHERE EXISTS (SELECT 1 FROM go)),"
        " q AS (INSERT INTO quality_flags (job_id, branch, pos, business_date,"
        "  rows_outside_date, rows_rejected, warnings, missing_reports, problems,"
        "  problems_left_out) SELECT $1, $4, $5, $6, $8, $9, $10,"
        "  ARRAY(SELECT jsonb_array_elements_text($11::jsonb)), $12::jsonb, $13"
        "  WHERE EXISTS (SELECT 1 FROM go))"
        " SELECT cancel_requested FROM l",
        &f, cancel, err);
    free(ms);
    free(ps);
    return rc;
}

int tp_load_termday(tp_db *db, const tp_load *l, tp_error *err)
{
    int year = (int)strtol(l->job->date, NULL, 10);
    if (!l->partition_year || *l->partition_year != year) {
        if (ensure_partition(db, year, err) < 0)
            return TP_EDB;
        if (l->partition_year)
            *l->partition_year = year;
    }
    char *files = files_json(l->td, l->keys);
    if (!files)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    int cancel = 0;
    int rc = tp_db_begin(db, err);
    if (rc == TP_OK)
        rc = replace_day(db, l, files, &cancel, err);
    free(files);
    if (rc == TP_OK && cancel) { /* nothing was written: the job ends cancelled */
        rc = tp_db_end(db, tp_queue_mark_cancelled(db, l->job, err), err);
        return rc == TP_OK ? TP_ECANCELLED : rc;
    }
    if (rc == TP_OK) {
        PGresult *cr =
            tp_db_query(db, "COPY records (" RECORD_COLUMNS ") FROM STDIN", 0, NULL, err);
        rc = cr ? copy_spool(db, l->spool, err) : TP_EDB;
        PQclear(cr);
    }
    if (rc == TP_OK)
        rc = tp_queue_mark_succeeded(db, l->job, l->records, l->info, err);
    return tp_db_end(db, rc, err);
}
