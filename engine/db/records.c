/* records.c -- see records.h. */
#include "records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

#define REC_KEY "business_date, branch, pos, source_file, source_line"

/* The records a plugin build made: its sha256 in the plugins of the
 * attempt that loaded them (the job's succeeded one). */
#define BY_PLUGIN                                                                                  \
    "EXISTS (SELECT 1 FROM job_attempts a, jsonb_each(a.plugins) e WHERE a.job_id ="               \
    " records.job_id AND a.error_code IS NULL AND a.finished_at IS NOT NULL AND"                   \
    " e.value->>'sha256' = $?)"

int tp_records_page(tp_db *db, tp_list_totals *totals, const tp_records_query *q, tp_list_page *out,
                    tp_error *err)
{
    tp_list_filter f = {0};
    tp_list_filter_add(&f, "business_date >= $?::date", q->start);
    tp_list_filter_add(&f, "business_date <= $?::date", q->end);
    if (q->branch)
        tp_list_filter_add(&f, "branch = $?", q->branch);
    if (q->pos)
        tp_list_filter_add(&f, "pos = $?::int", q->pos);
    if (q->item)
        tp_list_filter_add(&f, "item_code = $?", q->item);
    if (q->plugin_sha256)
        tp_list_filter_add(&f, BY_PLUGIN, q->plugin_sha256);
    static const tp_list_def records = {"records", REC_KEY, "row_to_json(j)",
                                        "json_build_array(" REC_KEY ")::text",
                                        "(" REC_KEY ") > ($?::date, $?, $?::int, $?, $?::bigint)"};
    return tp_list_run(db, totals, &records, &f, q->limit, q->after, 5, out, err);
}

/* The records table's columns, in the order record_of reads them. */
static const char columns[] =
    "branch, pos, business_date::text, or_number, transno, item_code, product_name, quantity,"
    " unit_price, amount, discount, department_code, department_name, pos_department_code,"
    " time_text, coalesce(time_minutes, -1), daypart, type_code, transaction_type,"
    " discount_code, discount_name, vat_flag, vat_div, vat_amount, vat_discount, vat_price,"
    " payment_code, payment_name, phone, source_file, source_line, dep_from_product";

struct tp_records_cursor {
    tp_db *db;
    PGresult *row; /* the record handed out last */
    int done;
};

static tp_field fld(const PGresult *r, int c)
{
    return (tp_field){PQgetvalue(r, 0, c), (size_t)PQgetlength(r, 0, c)};
}

static tp_daypart daypart_of(const PGresult *r, int c)
{
    for (int d = TP_DAYPART_NONE; d <= TP_DAYPART_DINNER; d++)
        if (!PQgetisnull(r, 0, c) && strcmp(PQgetvalue(r, 0, c), tp_daypart_name(d)) == 0)
            return (tp_daypart)d;
    return TP_DAYPART_NONE;
}

static tp_txn_type txn_type_of(const PGresult *r, int c)
{
    for (int t = TP_TXN_DINE_IN; t <= TP_TXN_DELIVERY; t++)
        if (!PQgetisnull(r, 0, c) && strcmp(PQgetvalue(r, 0, c), tp_txn_type_name(t)) == 0)
            return (tp_txn_type)t;
    return TP_TXN_UNKNOWN;
}

/* A stored record as the combine made it (text kept as it came). */
static void record_of(const PGresult *r, tp_record *x)
{
    memset(x, 0, sizeof *x);
    x->branch = PQgetvalue(r, 0, 0);
    x->pos = (int)strtol(PQgetvalue(r, 0, 1), NULL, 10);
    x->date = PQgetvalue(r, 0, 2);
    x->or_number = fld(r, 3);
    x->transno = fld(r, 4);
    x->item_code = fld(r, 5);
    x->product_name = fld(r, 6);
    x->quantity = fld(r, 7);
    x->unit_price = fld(r, 8);
    x->amount = fld(r, 9);
    x->discount = fld(r, 10);
    x->dep_code = fld(r, 11);
    x->department_name = fld(r, 12);
    x->pos_dep_code = fld(r, 13);
    x->time = fld(r, 14);
    x->time_minutes = (int)strtol(PQgetvalue(r, 0, 15), NULL, 10);
    x->daypart = daypart_of(r, 16);
    x->type_code = fld(r, 17);
    x->txn_type = txn_type_of(r, 18);
    x->disc_code = fld(r, 19);
    x->discount_name = fld(r, 20);
    x->vat_flag = fld(r, 21);
    x->vat_div = fld(r, 22);
    x->vat_amount = fld(r, 23);
    x->vat_discount = fld(r, 24);
    x->vat_price = fld(r, 25);
    x->payment_code = fld(r, 26);
    x->payment_name = fld(r, 27);
    x->phone = fld(r, 28);
    x->source_file = PQgetvalue(r, 0, 29);
    x->source_line = strtoull(PQgetvalue(r, 0, 30), NULL, 10);
    x->dep_from_product = PQgetvalue(r, 0, 31)[0] == 't';
}

tp_records_cursor *tp_records_open(tp_db *db, const tp_records_query *q, tp_error *err)
{
    tp_records_cursor *c = calloc(1, sizeof *c);
    if (!c) {
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    c->db = db;
    char sql[1400];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM records r WHERE business_date BETWEEN $1::date AND $2::date"
             " AND ($3::text IS NULL OR branch = $3) AND ($4::int IS NULL OR pos = $4)"
             " AND ($5::text IS NULL OR item_code = $5)"
             " AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM job_attempts a,"
             " jsonb_each(a.plugins) e WHERE a.job_id = r.job_id AND a.error_code IS NULL"
             " AND a.finished_at IS NOT NULL AND e.value->>'sha256' = $6))"
             " ORDER BY " REC_KEY,
             columns);
    const char *p[] = {q->start, q->end, q->branch, q->pos, q->item, q->plugin_sha256};
    if (tp_db_send_rows(db, sql, 6, p, err) != TP_OK) {
        free(c);
        return NULL;
    }
    return c;
}

int tp_records_next(tp_records_cursor *c, tp_record *out)
{
    PQclear(c->row);
    int rc = tp_db_next_row(c->db, &c->done, &c->row, NULL);
    if (rc == 1)
        record_of(c->row, out);
    return rc;
}

void tp_records_close(tp_records_cursor *c)
{
    if (!c)
        return;
    PQclear(c->row);
    if (!c->done) /* not read to its end */
        tp_db_cancel(c->db);
    free(c);
}
