/* export.c -- GET /api/records/export: a range of records streamed row by
 * row as CSV or JSON lines, optionally gzip'd (libarchive's gzip filter),
 * never the whole result in memory: libpq's single-row mode feeds a buffer
 * of about 64 KiB that libmicrohttpd drains. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "reports.h"

#define CHUNK (64 * 1024)

/* The exported columns, in order (the records table's, docs/records.md). */
static const char columns[] =
    "branch, pos, business_date, or_number, transno, item_code, product_name, quantity,"
    " unit_price, amount, discount, department_code, department_name, pos_department_code,"
    " time_text, time_minutes, daypart, type_code, transaction_type, discount_code,"
    " discount_name, vat_flag, vat_div, vat_amount, vat_discount, vat_price, payment_code,"
    " payment_name, phone, source_file, source_line, job_id";

typedef struct export_ctx {
    tp_server *srv;
    tp_db *db;
    int jsonl, done, failed;
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
    return archive_write_data(x->gz, p, n) == (la_ssize_t)n ? 0 : -1;
}

static void csv_field(char *buf, size_t *bl, const char *v, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = v[i] == ',' || v[i] == '"' || v[i] == '\n' || v[i] == '\r';
    if (quote)
        buf[(*bl)++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"')
            buf[(*bl)++] = '"';
        buf[(*bl)++] = v[i];
    }
    if (quote)
        buf[(*bl)++] = '"';
}

/* Format rows into x->out until about CHUNK bytes are ready or the result ends. */
static int refill(export_ctx *x)
{
    PGconn *c = x->db->conn;
    size_t start = x->out.len;
    while (!x->done && x->out.len - start < CHUNK) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            x->done = 1;
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE) {
            int nf = PQnfields(r);
            if (x->jsonl) {
                if (emit(x, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0)) < 0 || emit(x, "\n", 1) < 0)
                    x->failed = 1;
            } else {
                size_t need = 2;
                for (int f = 0; f < nf; f++)
                    need += 2 * (size_t)PQgetlength(r, 0, f) + 3;
                char *line = malloc(need);
                size_t bl = 0;
                for (int f = 0; line && f < nf; f++) {
                    if (f)
                        line[bl++] = ',';
                    csv_field(line, &bl, PQgetvalue(r, 0, f), (size_t)PQgetlength(r, 0, f));
                }
                if (line)
                    line[bl++] = '\n';
                if (!line || emit(x, line, bl) < 0)
                    x->failed = 1;
                free(line);
            }
        } else if (st != PGRES_TUPLES_OK)
            x->failed = 1;
        PQclear(r);
        if (x->failed)
            return -1;
    }
    if (x->done && x->gz) { /* the gzip trailer */
        archive_write_close(x->gz);
        archive_write_free(x->gz);
        x->gz = NULL;
    }
    return 0;
}

static int refill_cb(void *ud)
{
    return refill(ud);
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
    int bad_branch = 0;
    for (const char *c = branch; c && *c && !bad_branch; c++)
        bad_branch = !((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                       (*c >= '0' && *c <= '9') || *c == '-');
    if (!start || !end || !tp_date_valid(start) || !tp_date_valid(end) || strcmp(start, end) > 0 ||
        (branch && (bad_branch || !*branch || strlen(branch) > 32)) ||
        (pos && (*endp || posv < 1 || posv > 99)) || (item && strlen(item) > 64) ||
        (format && strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0) ||
        (compress && strcmp(compress, "gzip") != 0)) {
        tp_reply_problem(req, 400, "invalid_parameter",
                         "want start, end (YYYY-MM-DD, start <= end), optional branch, pos (1-99),"
                         " item, format=csv|jsonl, compress=gzip");
        return;
    }
    export_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        tp_reply_problem(req, 500, "internal", "out of memory");
        return;
    }
    x->srv = req->srv;
    x->jsonl = format && strcmp(format, "jsonl") == 0;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM records r WHERE business_date BETWEEN $1::date AND $2::date"
             " AND ($3::text IS NULL OR branch = $3) AND ($4::int IS NULL OR pos = $4)"
             " AND ($5::text IS NULL OR item_code = $5)"
             " ORDER BY business_date, branch, pos, source_file, source_line",
             x->jsonl ? "row_to_json(r)::text" : columns);
    const char *p[] = {start, end, branch, pos, item};
    PGconn *c = req->db->conn;
    if (!PQsendQueryParams(c, sql, 5, NULL, p, NULL, NULL, 0) || !PQsetSingleRowMode(c)) {
        PGresult *r;
        while ((r = PQgetResult(c)))
            PQclear(r);
        free(x);
        tp_reply_problem(req, 503, "database_unavailable", "the database could not answer");
        return;
    }
    x->db = tp_req_take_db(req);
    if (compress) {
        x->gz = archive_write_new();
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, "records");
        archive_entry_set_filetype(e, AE_IFREG);
        if (!x->gz || archive_write_add_filter_gzip(x->gz) != ARCHIVE_OK ||
            archive_write_set_format_raw(x->gz) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(x->gz, 1) != ARCHIVE_OK ||
            archive_write_open(x->gz, x, NULL, gz_write, NULL) != ARCHIVE_OK ||
            archive_write_header(x->gz, e) != ARCHIVE_OK)
            x->failed = 1;
        archive_entry_free(e);
    }
    if (!x->jsonl && !x->failed) {
        char head[sizeof columns];
        size_t n = 0;
        for (const char *q = columns; *q; q++)
            if (*q != ' ')
                head[n++] = *q;
        head[n++] = '\n';
        if (emit(x, head, n) < 0)
            x->failed = 1;
    }
    if (x->failed) {
        export_free(x);
        tp_reply_problem(req, 500, "internal", "could not start the export");
        return;
    }
    char name[96];
    snprintf(name, sizeof name, "records_%s_%s.%s%s", start, end, x->jsonl ? "jsonl" : "csv",
             compress ? ".gz" : "");
    tp_reply_stream(req, export_read, x, export_free,
                    compress ? "application/gzip"
                    : x->jsonl ? "application/x-ndjson"
                               : "text/csv; charset=utf-8",
                    name);
}
