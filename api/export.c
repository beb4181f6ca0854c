/* export.c -- GET /api/records/export: a range of records streamed row by
 * row as CSV or JSON lines, optionally gzip'd (libarchive's gzip filter),
 * never the whole result in memory: records come one at a time
 * (db/records.h) into a buffer of about 64 KiB that libmicrohttpd drains. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/reports.h"
#include "db/records.h"
#include "io/output.h"
#include "routes.h"

#define CHUNK (64 * 1024)

typedef struct export_ctx {
    tp_server *srv;
    tp_db *db;
    tp_records_cursor *rows;
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
    char *text = NULL;
    size_t tlen = 0;
    FILE *mf = open_memstream(&text, &tlen);
    if (!mf)
        return -1;
    while (!x->done && !x->failed && (size_t)ftell(mf) < CHUNK) {
        tp_record rec;
        int rc = tp_records_next(x->rows, &rec);
        if (rc > 0)
            tp_record_write(mf, x->fmt, &rec);
        else if (rc == 0)
            x->done = 1;
        else
            x->failed = 1;
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
    tp_records_close(x->rows); /* (one not read to its end is cancelled) */
    if (x->gz)
        archive_write_free(x->gz);
    tp_server_release_db(x->srv, x->db);
    tp_outbuf_free(&x->out);
    free(x);
}

void tp__records_export(tp_req *req)
{
    const char *start = tp_query(req, "start"), *end = tp_query(req, "end"),
               *branch = tp_query(req, "branch"), *pos = tp_query(req, "pos"),
               *item = tp_query(req, "item"), *format = tp_query(req, "format"),
               *compress = tp_query(req, "compress"), *plugin = tp_query(req, "plugin_sha256");
    char *endp = NULL;
    long posv = pos ? strtol(pos, &endp, 10) : 0;
    if (!start || !end || !tp_date_valid(start) || !tp_date_valid(end) || strcmp(start, end) > 0 ||
        (branch && !tp_branch_code_valid(branch)) || (pos && (*endp || posv < 1 || posv > 99)) ||
        (item && strlen(item) > 64) || (format && tp_format_parse(format) < 0) ||
        (compress && strcmp(compress, "gzip") != 0) || (plugin && !tp__ok_sha256(plugin))) {
        tp_reply_problem(req, 400, "invalid_parameter",
                         "want start, end (YYYY-MM-DD, start <= end), optional branch, pos (1-99),"
                         " item, plugin_sha256, format=csv|jsonl|record2025, compress=gzip");
        return;
    }
    export_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        tp_reply_problem(req, 500, "internal", "out of memory");
        return;
    }
    x->srv = req->srv;
    x->fmt = format ? (tp_format)tp_format_parse(format) : TP_FMT_CSV;
    tp_records_query q = {.start = start,
                          .end = end,
                          .branch = branch,
                          .pos = pos,
                          .item = item,
                          .plugin_sha256 = plugin};
    tp_error err = {0};
    if (!(x->db = tp_req_stream_db(req))) {
        free(x);
        return;
    }
    if (!(x->rows = tp_records_open(x->db, &q, &err))) {
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
                    compress                 ? "application/gzip"
                    : x->fmt == TP_FMT_JSONL ? "application/x-ndjson"
                                             : "text/csv; charset=utf-8",
                    name);
}
