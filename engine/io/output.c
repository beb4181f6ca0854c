/* output.c -- see output.h. */
#include "output.h"

#include "core/schema.h"
#include "fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tp_writer {
    tp_outfile *out;
    FILE *f; /* its stream */
    tp_format fmt;
    char *path; /* as given, for messages */
};

int tp_format_parse(const char *name)
{
    if (strcmp(name, "record2025") == 0)
        return TP_FMT_RECORD2025;
    if (strcmp(name, "csv") == 0)
        return TP_FMT_CSV;
    if (strcmp(name, "jsonl") == 0)
        return TP_FMT_JSONL;
    return -1;
}

void tp_csv_write_field(FILE *f, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
            quote = 1;
            break;
        }
    if (!quote) {
        fwrite_unlocked(s, 1, n, f);
        return;
    }
    putc_unlocked('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            putc_unlocked('"', f);
        putc_unlocked(s[i], f);
    }
    putc_unlocked('"', f);
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void tp_json_write_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    putc_unlocked('"', f);
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            size_t j = i + 1;
            while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\')
                j++;
            fwrite_unlocked(p + i, 1, j - i, f);
            i = j;
            continue;
        }
        if (c == '"' || c == '\\') {
            putc_unlocked('\\', f);
            putc_unlocked((char)c, f);
            i++;
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len == 0) {
                fputs("\\ufffd", f);
                i++;
            } else {
                fwrite_unlocked(p + i, 1, len, f);
                i += len;
            }
        }
    }
    putc_unlocked('"', f);
}

static const char record2025_header[] =
    "POS,OR,ITEM CODE,QUANTITY,UNIT PRICE,AMOUNT,DISCOUNT,DEPARTMENT CODE,DATE,TIME,"
    "DISCOUNT CODE,TYPE CODE,VAT FLAG,VAT DIV,VAT AMOUNT,VAT DISCOUNT,VAT PRICE,"
    "TRANSACTION NUMBER,PRODUCT NAME,DEPARTMENT NAME,DISCOUNT NAME,TRANSACTION TYPE,DAYPART,"
    "PAYMENT CODE,PAYMENT NAME,PHONE NUMBER,BRANCH\n";

static const char csv_header[] =
    "branch,pos,business_date,or_number,transno,item_code,product_name,quantity,unit_price,"
    "amount,discount,department_code,department_name,pos_department_code,time,time_minutes,"
    "daypart,type_code,transaction_type,discount_code,discount_name,vat_flag,vat_div,"
    "vat_amount,vat_discount,vat_price,payment_code,payment_name,phone,source_file,"
    "source_line\n";

tp_writer *tp_writer_open(const char *path, tp_format fmt, tp_error *err)
{
    tp_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    w->fmt = fmt;
    if (!(w->out = tp_outfile_open(path, err))) {
        tp_writer_abort(w);
        return NULL;
    }
    w->f = tp_outfile_stream(w->out);
    if (fmt == TP_FMT_RECORD2025)
        fputs(record2025_header, w->f);
    else if (fmt == TP_FMT_CSV)
        fputs(csv_header, w->f);
    return w;
}

/* The legacy Excel text guard: applies to the 18 order-line fields. */
static int legacy_guard(int col, tp_field v)
{
    if (col == 11)
        return 1;
    if (col == 12 || col == 37)
        return 0;
    if (v.len < 2 || v.ptr[0] != '0')
        return 0;
    if (v.ptr[1] == '.' || (v.len > 2 && v.ptr[2] == ':') || (v.len > 4 && v.ptr[4] == '-'))
        return 0;
    return 1;
}

static void put_guarded(FILE *f, int col, tp_field v)
{
    if (!legacy_guard(col, v)) {
        tp_csv_write_field(f, v.ptr, v.len);
        return;
    }
    /* ="value" as one CSV field: "=""value""" */
    fputs("\"=\"\"", f);
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] == '"')
            putc_unlocked('"', f);
        putc_unlocked(v.ptr[i], f);
    }
    fputs("\"\"\"", f);
}

static void put_field(FILE *f, tp_field v, int sep)
{
    tp_csv_write_field(f, v.ptr, v.len);
    putc_unlocked((char)sep, f);
}

static void put_cstr(FILE *f, const char *s, int sep)
{
    tp_csv_write_field(f, s, strlen(s));
    putc_unlocked((char)sep, f);
}

static void write_record2025(FILE *f, const tp_record *r)
{
    char pos[16];
    int n = snprintf(pos, sizeof pos, "%d", r->pos);
    tp_field date = {r->date, strlen(r->date)};
    const struct {
        int col;
        tp_field v;
    } cols[18] = {
        {0, {pos, (size_t)n}}, {2, r->or_number},     {4, r->item_code},
        {5, r->quantity},      {6, r->unit_price},    {7, r->amount},
        {8, r->discount},      {11, r->pos_dep_code}, {12, date},
        {13, r->time},         {18, r->disc_code},    {21, r->type_code},
        {31, r->vat_flag},     {32, r->vat_div},      {34, r->vat_amount},
        {35, r->vat_discount}, {36, r->vat_price},    {37, r->transno},
    };
    for (int i = 0; i < 18; i++) {
        if (i == 7 && r->dep_from_product) /* replaced, unguarded */
            tp_csv_write_field(f, r->dep_code.ptr, r->dep_code.len);
        else
            put_guarded(f, cols[i].col, cols[i].v);
        putc_unlocked(',', f);
    }
    put_field(f, r->product_name, ',');
    put_field(f, r->department_name, ',');
    put_field(f, r->discount_name, ',');
    put_cstr(f, tp_txn_type_name(r->txn_type), ',');
    put_cstr(f, tp_daypart_name(r->daypart), ',');
    put_field(f, r->payment_code, ',');
    put_field(f, r->payment_name, ',');
    put_field(f, r->phone, ',');
    put_cstr(f, r->branch, '\n');
}

static void write_csv(FILE *f, const tp_record *r)
{
    put_cstr(f, r->branch, ',');
    fprintf(f, "%d,%s,", r->pos, r->date);
    put_field(f, r->or_number, ',');
    put_field(f, r->transno, ',');
    put_field(f, r->item_code, ',');
    put_field(f, r->product_name, ',');
    put_field(f, r->quantity, ',');
    put_field(f, r->unit_price, ',');
    put_field(f, r->amount, ',');
    put_field(f, r->discount, ',');
    put_field(f, r->dep_code, ',');
    put_field(f, r->department_name, ',');
    put_field(f, r->pos_dep_code, ',');
    put_field(f, r->time, ',');
    if (r->time_minutes >= 0)
        fprintf(f, "%d", r->time_minutes);
    putc_unlocked(',', f);
    put_cstr(f, r->daypart == TP_DAYPART_NONE ? "" : tp_daypart_name(r->daypart), ',');
    put_field(f, r->type_code, ',');
    put_cstr(f, tp_txn_type_name(r->txn_type), ',');
    put_field(f, r->disc_code, ',');
    put_field(f, r->discount_name, ',');
    put_field(f, r->vat_flag, ',');
    put_field(f, r->vat_div, ',');
    put_field(f, r->vat_amount, ',');
    put_field(f, r->vat_discount, ',');
    put_field(f, r->vat_price, ',');
    put_field(f, r->payment_code, ',');
    put_field(f, r->payment_name, ',');
    put_field(f, r->phone, ',');
    put_cstr(f, r->source_file, ',');
    fprintf(f, "%llu\n", (unsigned long long)r->source_line);
}

static void json_key(FILE *f, const char *key, int first)
{
    if (!first)
        putc_unlocked(',', f);
    putc_unlocked('"', f);
    fputs(key, f);
    fputs("\":", f);
}

/* Text: a string; empty text is "" (codes may legitimately be empty). */
static void json_text(FILE *f, const char *key, tp_field v)
{
    json_key(f, key, 0);
    tp_json_write_string(f, v.ptr, v.len);
}

/* Decimal: the source text as a JSON number (scale kept), null when empty.
 * The text was checked by the combine stage; add the digits JSON requires
 * around a bare point and drop a leading '+'. */
static void json_decimal(FILE *f, const char *key, tp_field v)
{
    json_key(f, key, 0);
    if (v.len == 0) {
        fputs("null", f);
        return;
    }
    size_t i = 0;
    if (v.ptr[0] == '+')
        i++;
    else if (v.ptr[0] == '-') {
        putc_unlocked('-', f);
        i++;
    }
    if (i < v.len && v.ptr[i] == '.')
        putc_unlocked('0', f);
    /* strip redundant leading zeros ("007" is not valid JSON) */
    while (i + 1 < v.len && v.ptr[i] == '0' && v.ptr[i + 1] != '.')
        i++;
    fwrite_unlocked(v.ptr + i, 1, v.len - i, f);
    if (v.ptr[v.len - 1] == '.')
        putc_unlocked('0', f);
}

static void write_jsonl(FILE *f, const tp_record *r)
{
    putc_unlocked('{', f);
    json_key(f, "branch", 1);
    tp_json_write_string(f, r->branch, strlen(r->branch));
    fprintf(f, ",\"pos\":%d,\"business_date\":\"%s\"", r->pos, r->date);
    json_text(f, "or_number", r->or_number);
    json_text(f, "transno", r->transno);
    json_text(f, "item_code", r->item_code);
    json_text(f, "product_name", r->product_name);
    json_decimal(f, "quantity", r->quantity);
    json_decimal(f, "unit_price", r->unit_price);
    json_decimal(f, "amount", r->amount);
    json_decimal(f, "discount", r->discount);
    json_text(f, "department_code", r->dep_code);
    json_text(f, "department_name", r->department_name);
    json_text(f, "pos_department_code", r->pos_dep_code);
    json_text(f, "time", r->time);
    json_key(f, "time_minutes", 0);
    if (r->time_minutes >= 0)
        fprintf(f, "%d", r->time_minutes);
    else
        fputs("null", f);
    json_key(f, "daypart", 0);
    if (r->daypart == TP_DAYPART_NONE)
        fputs("null", f);
    else
        fprintf(f, "\"%s\"", tp_daypart_name(r->daypart));
    json_text(f, "type_code", r->type_code);
    json_key(f, "transaction_type", 0);
    if (r->txn_type == TP_TXN_UNKNOWN)
        fputs("null", f);
    else
        fprintf(f, "\"%s\"", tp_txn_type_name(r->txn_type));
    json_text(f, "discount_code", r->disc_code);
    json_text(f, "discount_name", r->discount_name);
    json_text(f, "vat_flag", r->vat_flag);
    json_decimal(f, "vat_div", r->vat_div);
    json_decimal(f, "vat_amount", r->vat_amount);
    json_decimal(f, "vat_discount", r->vat_discount);
    json_decimal(f, "vat_price", r->vat_price);
    json_text(f, "payment_code", r->payment_code);
    json_text(f, "payment_name", r->payment_name);
    json_text(f, "phone", r->phone);
    json_key(f, "source_file", 0);
    tp_json_write_string(f, r->source_file, strlen(r->source_file));
    fprintf(f, ",\"source_line\":%llu}\n", (unsigned long long)r->source_line);
}

const char *tp_format_header(tp_format fmt)
{
    return fmt == TP_FMT_RECORD2025 ? record2025_header : fmt == TP_FMT_CSV ? csv_header : NULL;
}

void tp_record_write(FILE *f, tp_format fmt, const tp_record *r)
{
    switch (fmt) {
    case TP_FMT_RECORD2025: write_record2025(f, r); break;
    case TP_FMT_CSV: write_csv(f, r); break;
    case TP_FMT_JSONL: write_jsonl(f, r); break;
    }
}

int tp_writer_record(tp_writer *w, const tp_record *r, tp_error *err)
{
    tp_record_write(w->f, w->fmt, r);
    if (ferror(w->f))
        return tp_error_set(err, TP_EIO, "%s: write error: %s", w->path, strerror(errno));
    return TP_OK;
}

int tp_writer_commit(tp_writer *w, tp_error *err)
{
    int rc = tp_outfile_commit(w->out, err);
    w->out = NULL;
    tp_writer_abort(w);
    return rc;
}

void tp_writer_abort(tp_writer *w)
{
    if (!w)
        return;
    tp_outfile_abort(w->out);
    free(w->path);
    free(w);
}

void tp_json_write_row(FILE *f, const tp_schema *schema, uint64_t line, const tp_field *fields,
                       size_t n)
{
    fprintf(f, "{\"line\":%llu,\"row\":{", (unsigned long long)line);
    for (size_t i = 0; i < n; i++) {
        if (i)
            putc_unlocked(',', f);
        fprintf(f, "\"%s\":", i < schema->nfields ? schema->field_names[i] : "?");
        tp_json_write_string(f, fields[i].ptr, fields[i].len);
    }
    fputs("}}\n", f);
}

void tp_json_write_problem(FILE *f, uint64_t line, int severity, const char *reason)
{
    fprintf(f, "{\"line\":%llu,\"severity\":\"%s\",\"problem\":", (unsigned long long)line,
            severity == TP_PROBLEM_ERROR ? "error" : "warning");
    tp_json_write_string(f, reason, strlen(reason));
    fputs("}\n", f);
}
