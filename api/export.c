/* export.c -- GET /api/records/export: a range of records streamed row by
 * row as CSV or JSON lines, optionally gzip'd (libarchive's gzip filter),
 * never the whole result in memory: libpq's single-row mode feeds a buffer
 * of about 64 KiB that libmicrohttpd drains. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "http.h"
#include "io/output.h"
#include "core/record.h"
#include "core/reports.h"

#define CHUNK (64 * 1024)

/* The records table's columns, in the order rec_of reads them. */
static const char columns[] =
    "branch, pos, business_date::text, or_number, transno, item_code, product_name, quantity,"
    " unit_price, amount, discount, department_code, department_name, pos_department_code,"
    " time_text, coalesce(time_minutes, -1), daypart, type_code, transaction_type, discount_code,"
    " discount_name, vat_flag, vat_div, vat_amount, vat_discount, vat_price, payment_code,"
    " payment_name, phone, source_file, source_line, dep_from_product";

static tp_field fld(const PGresult *r, int c)
{
    return (tp_field){PQgetvalue(r, 0, c), (size_t)PQgetlength(r, 0, c)};
}

/* A stored record as the combine made it (text kept as it came). */
static void rec_of(const PGresult *r, tp_record *x)
{
    memset(x, 0, sizeof *x);
    x->branch = PQgetvalue(r, 0, 0);
    x->pos = atoi(PQgetvalue(r, 0, 1));
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
    x->time_minutes = atoi(PQgetvalue(r, 0, 15));
    x->daypart = TP_DAYPART_NONE;
    for (int d = TP_DAYPART_NONE; d <= TP_DAYPART_DINNER; d++)
        if (!PQgetisnull(r, 0, 16) && strcmp(PQgetvalue(r, 0, 16), tp_daypart_name(d)) == 0)
            x->daypart = d;
    x->type_code = fld(r, 17);
    x->txn_type = TP_TXN_UNKNOWN;
    for (int t = TP_TXN_DINE_IN; t <= TP_TXN_DELIVERY; t++)
        if (!PQgetisnull(r, 0, 18) && strcmp(PQgetvalue(r, 0, 18), tp_txn_type_name(t)) == 0)
            x->txn_type = t;
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

typedef struct export_ctx {
    tp_server *srv;
    tp_db *db;
    tp_format fmt;
    int done, failed;
    struct archive *gz; /* NULL: plain */
    tp_outbuf out;      /* bytes ready for the client */
} export_ctx;

static la_ssize_t gz_write(struct archive *a, void *ud, const void *buf, size_t n)
{
    (void)a;
    export_ctx *x = ud;
    return tp_outbuf_append(&x->out, buf, n) < 0 ? -1 : (la_ssize_t)n;
}

/* Text for the client: through gzip when asked. */
static int emit(export_ctx *x, const char *p, size_t n)
{
    if (!x->gz)
        return tp_outbuf_append(&x->out, p, n);
    while (n > 0) { /* libarchive may take a large buffer in parts */
        la_ssize_t w = archive_write_data(x->gz, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Format rows into x->out until about CHUNK bytes are ready or the result ends. */
static int refill(export_ctx *x)
{
    PGconn *c = x->db->conn;
    char *text = NULL;
    size_t tlen = 0;
    FILE *mf = open_memstream(&text, &tlen);
    if (!mf)
        return -1;
    while (!x->done && !x->failed && (size_t)ftell(mf) < CHUNK) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            x->done = 1;
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE) {
            tp_record rec;
            rec_of(r, &rec);
            tp_record_write(mf, x->fmt, &rec);
        } else if (st != PGRES_TUPLES_OK)
            x->failed = 1;
        PQclear(r);
    }
    if (fclose(mf) != 0 || (tlen && emit(x, text, tlen) < 0))
        x->failed = 1;
    free(text);
    if (x->failed)
        return -1;
    if (x->done && x->gz) { /* the gzip trailer */
        archive_write_close(x->gz);
        archive_write_free(x->gz);
        x->gz = NULL;
    }
    return 0;
}

/* Until there are bytes for the client or the rows end (gzip may keep a
 * small chunk's output to itself). */
static int refill_cb(void *ud)
{
    export_ctx *x = ud;
    do
        if (refill(x) < 0)
            return -1;
    while (tp_outbuf_empty(&x->out) && !x->done);
    return 0;
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    export_ctx *x = cls;
    return tp_outbuf_serve(&x->out, x->done ? NULL : refill_cb, x, buf, max);
}

static void export_free(void *cls)
{
    export_ctx *x = cls;
    if (!x->done) { /* the client went away: stop the query, drain it */
        PGcancel *cn = PQgetCancel(x->db->conn);
        char eb[256];
        if (cn) {
            PQcancel(cn, eb, sizeof eb);
            PQfreeCancel(cn);
        }
        PGresult *r;
        while ((r = PQgetResult(x->db->conn)))
            PQclear(r);
    }
    if (x->gz)
        archive_write_free(x->gz);
    tp_server_release_db(x->srv, x->db);
    tp_outbuf_free(&x->out);
    free(x);
}

void tp_records_export(tp_req *req);
void tp_records_export(tp_req *req)
{
    const char *start = tp_query(req, "start"), *end = tp_query(req, "end"),
               *branch = tp_query(req, "branch"), *pos = tp_query(req, "pos"),
               *item = tp_query(req, "item"), *format = tp_query(req, "format"),
               *compress = tp_query(req, "compress");
    char *endp = NULL;
    long posv = pos ? strtol(pos, &endp, 10) : 0;
    if (!start || !end || !tp_date_valid(start) || !tp_date_valid(end) || strcmp(start, end) > 0 ||
        (branch && !tp_branch_code_valid(branch)) ||
        (pos && (*endp || posv < 1 || posv > 99)) || (item && strlen(item) > 64) ||
        (format && tp_format_parse(format) < 0) ||
        (compress && strcmp(compress, "gzip") != 0)) {
        tp_reply_problem(req, 400, "invalid_parameter",
                         "want start, end (YYYY-MM-DD, start <= end), optional branch, pos (1-99),"
                         " item, format=csv|jsonl|record2025, compress=gzip");
        return;
    }
    export_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        tp_reply_problem(req, 500, "internal", "out of memory");
        return;
    }
    x->srv = req->srv;
    x->fmt = format ? (tp_format)tp_format_parse(format) : TP_FMT_CSV;
    char sql[1400];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM records r WHERE business_date BETWEEN $1::date AND $2::date"
             " AND ($3::text IS NULL OR branch = $3) AND ($4::int IS NULL OR pos = $4)"
             " AND ($5::text IS NULL OR item_code = $5)"
             " ORDER BY business_date, branch, pos, source_file, source_line",
             columns);
    const char *p[] = {start, end, branch, pos, item};
    if (!(x->db = tp_req_stream_db(req))) {
        free(x);
        return;
    }
    PGconn *c = x->db->conn;
    if (!PQsendQueryParams(c, sql, 5, NULL, p, NULL, NULL, 0) || !PQsetSingleRowMode(c)) {
        PGresult *r;
        while ((r = PQgetResult(c)))
            PQclear(r);
        tp_server_release_db(x->srv, x->db);
        free(x);
        tp_reply_problem(req, 503, "database_unavailable", "the database could not answer");
        return;
    }
    if (compress) {
        x->gz = archive_write_new();
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, "records");
        archive_entry_set_filetype(e, AE_IFREG);
        if (!x->gz || archive_write_add_filter_gzip(x->gz) != ARCHIVE_OK ||
            archive_write_set_format_raw(x->gz) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(x->gz, 0) != ARCHIVE_OK || /* no blocking */
            archive_write_open(x->gz, x, NULL, gz_write, NULL) != ARCHIVE_OK ||
            archive_write_header(x->gz, e) != ARCHIVE_OK)
            x->failed = 1;
        archive_entry_free(e);
    }
    const char *head = tp_format_header(x->fmt);
    if (head && !x->failed && emit(x, head, strlen(head)) < 0)
        x->failed = 1;
    if (x->failed) {
        export_free(x);
        tp_reply_problem(req, 500, "internal", "could not start the export");
        return;
    }
    char name[96];
    snprintf(name, sizeof name, "records_%s_%s.%s%s", start, end,
             x->fmt == TP_FMT_JSONL ? "jsonl" : "csv", compress ? ".gz" : "");
    tp_reply_stream(req, export_read, x, export_free,
                    compress                  ? "application/gzip"
                    : x->fmt == TP_FMT_JSONL ? "application/x-ndjson"
                                              : "text/csv; charset=utf-8",
                    name);
}
