/* tillpipe/csv.h -- the streaming CSV reader every tillpipe parser shares.
 *
 * Header-only: include it anywhere for the declarations, and in exactly one
 * source file of a plugin define TP_CSV_IMPLEMENTATION first to compile the
 * code in (it is all `static`-free but hidden-visibility friendly: build the
 * plugin with -fvisibility=hidden).  <tillpipe/layout.h> does that for a
 * plugin that defines TPP_LAYOUT_IMPLEMENTATION.
 *
 * What it reads (RFC 4180 plus what the chain's POS terminals write):
 *   - comma separated (or another one-byte delimiter, tp_csv_set_delimiter),
 *     `\n` or `\r\n` line ends, blank lines skipped;
 *   - quoted fields with doubled quotes ("REPP""13") and embedded newlines;
 *   - a stray quote inside an unquoted field, or text after a closing quote,
 *     is kept literally (as Python's csv module does);
 *   - a UTF-8 byte order mark at the start of the input is skipped;
 *   - bytes are passed through untouched (UTF-8, U+00A0 included).
 * Helpers below remove Excel text guards (="00019702") and cut dates.
 *
 * Streaming: tp_csv_feed() takes chunks of any size; a record split across
 * chunks is carried over (copying only that record).  Memory is bounded by
 * the longest record, which is capped (max_record, default 1 MiB).
 *
 * Errors are returned as TP_CSV_E* (< 0) with a message in r->err and the
 * line in r->err_line; the reader is then unusable except for tp_csv_free().
 */
#ifndef TILLPIPE_CSV_H
#define TILLPIPE_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    TP_CSV_OK = 0,
    TP_CSV_ENOMEM = -1,    /* allocation failed */
    TP_CSV_ETOOLONG = -2,  /* a record is longer than max_record bytes */
    TP_CSV_EFIELDS = -3,   /* a record has more than max_fields fields */
    TP_CSV_EUNCLOSED = -4, /* end of input inside a quoted field */
    TP_CSV_ECALLBACK = -5, /* the record callback returned < 0 */
    TP_CSV_EDELIM = -6     /* tp_csv_set_delimiter: unusable delimiter, or too late */
};

/* Limits tp_csv_init picks when given 0. */
#define TP_CSV_DEFAULT_MAX_RECORD ((size_t)1 << 20) /* bytes per record, line end excluded */
#define TP_CSV_DEFAULT_MAX_FIELDS 4096              /* fields per record */

/* Called once per record: `line` is the 1-based line it starts on, fields
 * are borrowed for the duration of the call.  Return < 0 to stop. */
typedef int (*tp_csv_record_fn)(void *ud, uint64_t line, const tp_field *fields, size_t n);

typedef struct tp_csv {
    /* public, read-only */
    uint64_t line;     /* line the next record starts on */
    uint64_t records;  /* records delivered so far */
    uint64_t err_line; /* line of the error, when one was returned */
    char err[128];     /* error message, when one was returned */
    int cb_rc;         /* value the callback returned when it stopped us */
    /* private */
    size_t max_record;       /* longest record accepted, in bytes */
    size_t max_fields;       /* most fields accepted in a record */
    char *carry;             /* an incomplete record kept between feeds */
    size_t carry_len;        /* bytes in carry */
    size_t carry_cap;        /* bytes allocated for carry */
    char *scratch;           /* decoded quoted fields of the current record */
    size_t scratch_len;      /* bytes in scratch */
    size_t scratch_cap;      /* bytes allocated for scratch */
    tp_field *fields;        /* the current record's fields */
    size_t *fstart;          /* scratch offsets while a record is assembled */
    unsigned char *fscratch; /* 1 where a field lives in scratch */
    size_t fields_cap;       /* entries allocated in fields, fstart, fscratch */
    int bom;                 /* bytes of a leading UTF-8 BOM matched so far; 3 = done */
    char delim;              /* field delimiter: ',' unless tp_csv_set_delimiter changed it */
} tp_csv;

/* Initialise a reader.  0 for max_record / max_fields picks the defaults
 * (1 MiB, 4096).  The delimiter is ','.  Returns 0 or TP_CSV_ENOMEM. */
int tp_csv_init(tp_csv *r, size_t max_record, size_t max_fields);

/* Separate fields by `delim` instead of ',' (0 also means ','), e.g. ';'
 * for a POS that writes semicolon-separated exports.  Call it between
 * tp_csv_init and the first tp_csv_feed.  A quote opens a quoted field
 * only right after a delimiter or a line start, as with ','.  Returns 0, or
 * TP_CSV_EDELIM (message in r->err; the reader is unchanged and still
 * usable) when `delim` is '"', '\r' or '\n', or when bytes were fed already. */
int tp_csv_set_delimiter(tp_csv *r, char delim);

/* Free what the reader holds; safe on a zeroed or failed reader. */
void tp_csv_free(tp_csv *r);

/* Feed the next chunk; calls `fn` for every record it completes. */
int tp_csv_feed(tp_csv *r, const char *data, size_t len, tp_csv_record_fn fn, void *ud);

/* End of input: delivers a last record without a trailing newline. */
int tp_csv_finish(tp_csv *r, tp_csv_record_fn fn, void *ud);

/* Count the records of an input without decoding them, for callers that
 * only need sizes.  Zero-initialise the counter (set `delim` for a reader
 * that uses another delimiter), feed chunks in order; the count agrees with
 * the records tp_csv_feed delivers for the same input and delimiter (quotes
 * open a quoted field only at a field's start, as in the reader). */
typedef struct tp_csv_counter {
    uint64_t records; /* complete non-blank records seen */
    int state;        /* private: where in a record the last chunk ended */
    int in_record;    /* private: bytes of an unfinished record seen */
    int bom;          /* private: leading UTF-8 BOM bytes matched; 3 = done */
    char delim;       /* public: the reader's delimiter; 0 = ',' */
} tp_csv_counter;
void tp_csv_count(tp_csv_counter *c, const char *data, size_t len);
/* Total once the input has ended (counts an unterminated last record). */
uint64_t tp_csv_count_total(const tp_csv_counter *c);

/* Field helpers: all return a view into the same bytes. */

/* `="value"` -> `value`; anything else unchanged. */
static inline tp_field tp_csv_unguard(tp_field f)
{
    if (f.len >= 3 && f.ptr[0] == '=' && f.ptr[1] == '"' && f.ptr[f.len - 1] == '"') {
        f.ptr += 2;
        f.len -= 3;
    }
    return f;
}

/* The date part of a date or timestamp: the text before the first space or
 * 'T' ("2026-02-09 00:00:00" and "2026-02-09T22:55:34" -> "2026-02-09"). */
static inline tp_field tp_csv_date_part(tp_field f)
{
    for (size_t i = 0; i < f.len; i++)
        if (f.ptr[i] == ' ' || f.ptr[i] == 'T') {
            f.len = i;
            break;
        }
    return f;
}

/* Field `i` of a record, or an empty field when the record is shorter. */
static inline tp_field tp_csv_at(const tp_field *fields, size_t n, size_t i)
{
    tp_field empty = {"", 0};
    return i < n ? fields[i] : empty;
}

/* 1 when the field equals the NUL-terminated `s`, ignoring ASCII case and
 * surrounding spaces. */
int tp_csv_field_is(tp_field f, const char *s);

#ifdef __cplusplus
}
#endif
#endif /* TILLPIPE_CSV_H */

/* ================================================================ code
 * Outside the include guard, with a guard of its own, so that the code is
 * compiled in once when TP_CSV_IMPLEMENTATION is defined before any include
 * of this header in the file -- the first one or a later one (layout.h
 * includes it again with the macro set). */
#if defined(TP_CSV_IMPLEMENTATION) && !defined(TILLPIPE_CSV_IMPLEMENTED)
#define TILLPIPE_CSV_IMPLEMENTED

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static int tp_csv__fail(tp_csv *r, int code, uint64_t line, const char *msg)
{
    r->err_line = line;
    snprintf(r->err, sizeof r->err, "%s", msg);
    return code;
}

int tp_csv_init(tp_csv *r, size_t max_record, size_t max_fields)
{
    memset(r, 0, sizeof *r);
    r->line = 1;
    r->delim = ',';
    r->max_record = max_record ? max_record : TP_CSV_DEFAULT_MAX_RECORD;
    r->max_fields = max_fields ? max_fields : TP_CSV_DEFAULT_MAX_FIELDS;
    r->fields_cap = r->max_fields < 64 ? r->max_fields : 64;
    r->fields = malloc(r->fields_cap * sizeof *r->fields);
    r->fstart = malloc(r->fields_cap * sizeof *r->fstart);
    r->fscratch = malloc(r->fields_cap);
    if (!r->fields || !r->fstart || !r->fscratch) {
        tp_csv_free(r);
        return TP_CSV_ENOMEM;
    }
    return TP_CSV_OK;
}

int tp_csv_set_delimiter(tp_csv *r, char delim)
{
    if (delim == '"' || delim == '\r' || delim == '\n') {
        snprintf(r->err, sizeof r->err, "a quote or a line end cannot separate fields");
        return TP_CSV_EDELIM;
    }
    if (r->bom != 0) { /* moves off 0 with the first byte fed */
        snprintf(r->err, sizeof r->err, "the delimiter is set before the first feed");
        return TP_CSV_EDELIM;
    }
    r->delim = delim ? delim : ',';
    return TP_CSV_OK;
}

void tp_csv_free(tp_csv *r)
{
    if (!r)
        return;
    free(r->carry);
    free(r->scratch);
    free(r->fields);
    free(r->fstart);
    free(r->fscratch);
    r->carry = r->scratch = NULL;
    r->fields = NULL;
    r->fstart = NULL;
    r->fscratch = NULL;
    r->carry_len = r->carry_cap = r->scratch_len = r->scratch_cap = r->fields_cap = 0;
}

static int tp_csv__grow_fields(tp_csv *r)
{
    size_t cap = r->fields_cap * 2;
    if (cap > r->max_fields)
        cap = r->max_fields;
    if (cap <= r->fields_cap)
        return TP_CSV_EFIELDS;
    tp_field *f = realloc(r->fields, cap * sizeof *f);
    if (!f)
        return TP_CSV_ENOMEM;
    r->fields = f;
    size_t *s = realloc(r->fstart, cap * sizeof *s);
    if (!s)
        return TP_CSV_ENOMEM;
    r->fstart = s;
    unsigned char *k = realloc(r->fscratch, cap);
    if (!k)
        return TP_CSV_ENOMEM;
    r->fscratch = k;
    r->fields_cap = cap;
    return TP_CSV_OK;
}

static int tp_csv__scratch_put(tp_csv *r, const char *p, size_t n)
{
    if (n == 0)
        return TP_CSV_OK;
    if (r->scratch_len + n > r->scratch_cap) {
        size_t cap = r->scratch_cap ? r->scratch_cap : 256;
        while (cap < r->scratch_len + n)
            cap *= 2;
        char *s = realloc(r->scratch, cap);
        if (!s)
            return TP_CSV_ENOMEM;
        r->scratch = s;
        r->scratch_cap = cap;
    }
    memcpy(r->scratch + r->scratch_len, p, n);
    r->scratch_len += n;
    return TP_CSV_OK;
}

/* The delimiter, and where SSE2 is used the same byte in all 16 lanes: made
 * once per feed, so that any delimiter costs what a constant ',' did. */
typedef struct tp_csv__sep {
    char c;
#if defined(__SSE2__)
    __m128i v;
#endif
} tp_csv__sep;

static tp_csv__sep tp_csv__sep_of(char c)
{
    tp_csv__sep s;
    s.c = c;
#if defined(__SSE2__)
    s.v = _mm_set1_epi8(c);
#endif
    return s;
}

/* The first delimiter or '\n' in [q, end), or end.  Fields are short: 16
 * bytes are looked at in one step where the CPU has SSE2 (every x86-64). */
static const char *tp_csv__field_end(const char *q, const char *end, const tp_csv__sep *sep)
{
#if defined(__SSE2__)
    const __m128i lf = _mm_set1_epi8('\n');
    for (; end - q >= 16; q += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, sep->v), _mm_cmpeq_epi8(v, lf)));
        if (m)
            return q + __builtin_ctz(m);
    }
#endif
    while (q < end && *q != sep->c && *q != '\n')
        q++;
    return q;
}

/* The first '"' in [q, end), or NULL; *nl gets the newlines passed on the
 * way (a quoted field may span lines).  Such newlines are rare, and without
 * -mpopcnt __builtin_popcount is a libgcc call: it is made only for a block
 * that has one. */
static const char *tp_csv__quote(const char *q, const char *end, uint64_t *nl)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), lf = _mm_set1_epi8('\n');
    for (; end - q >= 16; q += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
        unsigned mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote));
        unsigned mn = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf));
        if (mq) {
            mn &= (mq & -mq) - 1; /* the newlines before the quote */
            if (mn)
                *nl += (uint64_t)__builtin_popcount(mn);
            return q + __builtin_ctz(mq);
        }
        if (mn)
            *nl += (uint64_t)__builtin_popcount(mn);
    }
#endif
    for (; q < end; q++) {
        if (*q == '"')
            return q;
        *nl += (*q == '\n');
    }
    return NULL;
}

/* A blank line at p: 1 with *used set, 0 when it is not one, -1 when more
 * input is needed to tell (only when !final). */
static int tp_csv__blank(const char *p, const char *end, int final, size_t *used,
                         uint64_t *newlines)
{
    if (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))) {
        *used = *p == '\r' ? 2 : 1;
        *newlines = 1;
        return 1;
    }
    if (p < end && *p == '\r' && p + 1 == end) {
        if (!final)
            return -1;
        *used = 1; /* a lone CR at the very end: a blank line */
        *newlines = 0;
        return 1;
    }
    return 0;
}

/* The quoted field nf starting at *qp (its opening quote): find the closing
 * quote, decoding "" pairs; *qp moves past the field's text.  1 done, 0 when
 * more input is needed (only when !final), or a TP_CSV_E* code. */
static inline int tp_csv__quoted(tp_csv *r, const tp_csv__sep *sep, const char **qp,
                                 const char *end, int final, size_t nf, uint64_t *nl)
{
    const char d = sep->c;
    const char *s = *qp + 1, *seg = s;
    int copied = 0, rc;
    size_t start = r->scratch_len;
    for (;;) {
        const char *c = tp_csv__quote(s, end, nl);
        if (!c)
            return final ? TP_CSV_EUNCLOSED : 0;
        if (c + 1 == end && !final)
            return 0; /* can't tell "" from a closing quote yet */
        if (c + 1 < end && c[1] == '"') {
            if ((rc = tp_csv__scratch_put(r, seg, (size_t)(c + 1 - seg))) < 0)
                return rc;
            copied = 1;
            s = seg = c + 2;
            continue;
        }
        /* closing quote at c; text up to the next separator is kept */
        const char *t = c + 1;
        while (t < end && *t != d && *t != '\n' && !(*t == '\r' && t + 1 < end && t[1] == '\n'))
            t++;
        if (t == end && !final)
            return 0;
        const char *te = t; /* a CR ending the input is a line end */
        if (t == end && te > c + 1 && te[-1] == '\r')
            te--;
        if (te > c + 1 || copied) {
            if ((rc = tp_csv__scratch_put(r, seg, (size_t)(c - seg))) < 0 ||
                (rc = tp_csv__scratch_put(r, c + 1, (size_t)(te - c - 1))) < 0)
                return rc;
            r->fscratch[nf] = 1;
            r->fstart[nf] = start;
            r->fields[nf].len = r->scratch_len - start;
        } else {
            r->fscratch[nf] = 0;
            r->fields[nf].ptr = seg;
            r->fields[nf].len = (size_t)(c - seg);
        }
        *qp = t;
        return 1;
    }
}

/* The unquoted field nf starting at *qp: up to the delimiter or a line end
 * (a quote is literal); *qp moves to that end.  1, or 0 when more input is
 * needed (only when !final). */
static inline int tp_csv__unquoted(tp_csv *r, const tp_csv__sep *sep, const char **qp,
                                   const char *end, int final, size_t nf)
{
    const char *s = *qp, *q = tp_csv__field_end(s, end, sep);
    if (q == end && !final)
        return 0;
    const char *e = q;
    if (q < end && *q == '\n' && e > s && e[-1] == '\r')
        e--;
    r->fscratch[nf] = 0;
    r->fields[nf].ptr = s;
    r->fields[nf].len = (size_t)(e - s);
    if (q == end && e > s && e[-1] == '\r')
        r->fields[nf].len--;
    *qp = q;
    return 1;
}

/* Parse one record starting at p.  Returns 1 with *used set when a record
 * (or a blank line, *n == 0) is complete, 0 when more input is needed (only
 * when !final), or a TP_CSV_E* code. */
static int tp_csv__record(tp_csv *r, const tp_csv__sep *sep, const char *p, const char *end,
                          int final, size_t *used, size_t *n, uint64_t *newlines)
{
    const char *q = p;
    size_t nf = 0;
    uint64_t nl = 0;
    int rc;
    r->scratch_len = 0;
    *n = 0;
    if ((rc = tp_csv__blank(p, end, final, used, newlines)) != 0)
        return rc > 0;
    for (;;) {
        if (nf == r->fields_cap && (rc = tp_csv__grow_fields(r)) < 0)
            return rc;
        rc = q < end && *q == '"' ? tp_csv__quoted(r, sep, &q, end, final, nf, &nl)
                                  : tp_csv__unquoted(r, sep, &q, end, final, nf);
        if (rc <= 0)
            return rc;
        nf++;
        /* the limit is on the record's bytes, its line end excluded */
        if ((size_t)(q - p) - (q > p && q < end && *q == '\n' && q[-1] == '\r') > r->max_record)
            return TP_CSV_ETOOLONG;
        if (q == end) { /* final: record ends with the input */
            *used = (size_t)(q - p);
            break;
        }
        if (*q == sep->c) {
            q++;
            continue;
        }
        if (*q == '\r')
            q++;
        /* *q == '\n' */
        nl++;
        *used = (size_t)(q + 1 - p);
        break;
    }
    for (size_t i = 0; i < nf; i++)
        if (r->fscratch[i])
            r->fields[i].ptr = r->scratch + r->fstart[i];
    *n = nf;
    *newlines = nl;
    return 1;
}

/* Parse complete records from [p, end); returns bytes consumed or < 0. */
static long long tp_csv__run(tp_csv *r, const char *p, const char *end, int final,
                             tp_csv_record_fn fn, void *ud)
{
    const char *start = p;
    const tp_csv__sep sep = tp_csv__sep_of(r->delim);
    while (p < end) {
        size_t used = 0, n = 0;
        uint64_t nl = 0;
        int rc = tp_csv__record(r, &sep, p, end, final, &used, &n, &nl);
        if (rc == 0)
            break;
        if (rc < 0) {
            const char *msg = rc == TP_CSV_EUNCLOSED  ? "quoted field is never closed"
                              : rc == TP_CSV_ETOOLONG ? "record is longer than the limit"
                              : rc == TP_CSV_EFIELDS  ? "record has too many fields"
                                                      : "out of memory";
            return tp_csv__fail(r, rc, r->line, msg);
        }
        if (n > 0) {
            r->records++;
            int cr = fn(ud, r->line, r->fields, n);
            if (cr < 0) {
                r->cb_rc = cr;
                return tp_csv__fail(r, TP_CSV_ECALLBACK, r->line, "stopped by the caller");
            }
        }
        r->line += nl;
        p += used;
    }
    return (long long)(p - start);
}

static int tp_csv__carry_put(tp_csv *r, const char *p, size_t n)
{
    if (n == 0)
        return TP_CSV_OK;
    if (r->carry_len + n > r->max_record + 2)
        return tp_csv__fail(r, TP_CSV_ETOOLONG, r->line, "record is longer than the limit");
    if (r->carry_len + n > r->carry_cap) {
        size_t cap = r->carry_cap ? r->carry_cap : 4096;
        while (cap < r->carry_len + n)
            cap *= 2;
        char *c = realloc(r->carry, cap);
        if (!c)
            return tp_csv__fail(r, TP_CSV_ENOMEM, r->line, "out of memory");
        r->carry = c;
        r->carry_cap = cap;
    }
    memcpy(r->carry + r->carry_len, p, n);
    r->carry_len += n;
    return TP_CSV_OK;
}

int tp_csv_feed(tp_csv *r, const char *data, size_t len, tp_csv_record_fn fn, void *ud)
{
    const char *end = data + len;
    /* Skip a UTF-8 byte order mark, even one split across chunks. */
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    while (r->bom < 3 && data < end) {
        if ((unsigned char)*data == bom[r->bom]) {
            r->bom++;
            data++;
            continue;
        }
        /* Not a BOM after all: give back the bytes taken for one. */
        int rc = r->bom ? tp_csv__carry_put(r, (const char *)bom, (size_t)r->bom) : TP_CSV_OK;
        r->bom = 3;
        if (rc < 0)
            return rc;
    }
    /* Finish a carried record first, adding the new bytes a line at a time so
     * that only that record is copied. */
    while (r->carry_len > 0 && data < end) {
        const char *nl = memchr(data, '\n', (size_t)(end - data));
        const char *upto = nl ? nl + 1 : end;
        if (r->carry_len + (size_t)(upto - data) > r->max_record + 2) {
            /* Too long whatever follows -- unless the record passes the
             * field limit first: read as far as the length limit allows, so
             * that the error is the one a single feed reports. */
            int rc = tp_csv__carry_put(r, data, r->max_record + 2 - r->carry_len);
            long long used =
                rc < 0 ? rc : tp_csv__run(r, r->carry, r->carry + r->carry_len, 0, fn, ud);
            if (used < 0)
                return (int)used;
            return tp_csv__fail(r, TP_CSV_ETOOLONG, r->line, "record is longer than the limit");
        }
        int rc = tp_csv__carry_put(r, data, (size_t)(upto - data));
        if (rc < 0)
            return rc;
        data = upto;
        long long used = tp_csv__run(r, r->carry, r->carry + r->carry_len, 0, fn, ud);
        if (used < 0)
            return (int)used;
        memmove(r->carry, r->carry + used, r->carry_len - (size_t)used);
        r->carry_len -= (size_t)used;
    }
    if (data == end)
        return TP_CSV_OK;
    long long used = tp_csv__run(r, data, end, 0, fn, ud);
    if (used < 0)
        return (int)used;
    return tp_csv__carry_put(r, data + used, (size_t)(end - data - used));
}

int tp_csv_finish(tp_csv *r, tp_csv_record_fn fn, void *ud)
{
    if (r->bom > 0 && r->bom < 3) { /* the input was the start of a BOM: data */
        static const char part[3] = {'\xEF', '\xBB', '\xBF'};
        int rc = tp_csv__carry_put(r, part, (size_t)r->bom);
        r->bom = 3;
        if (rc < 0)
            return rc;
    }
    if (r->carry_len == 0)
        return TP_CSV_OK;
    long long used = tp_csv__run(r, r->carry, r->carry + r->carry_len, 1, fn, ud);
    if (used < 0)
        return (int)used;
    r->carry_len = 0;
    return TP_CSV_OK;
}

enum { TP_CSV__FIELD_START, TP_CSV__UNQUOTED, TP_CSV__QUOTED, TP_CSV__QUOTE_SEEN, TP_CSV__CR };

void tp_csv_count(tp_csv_counter *c, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    const char d = c->delim ? c->delim : ',';
    int st = c->state;
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    while (c->bom < 3 && p < end) { /* skipped as the reader skips it */
        if ((unsigned char)*p == bom[c->bom]) {
            c->bom++;
            p++;
            continue;
        }
        if (c->bom) { /* those bytes were data after all: the start of a
                       * field, or (one of them the delimiter) a field's end */
            c->in_record = 1;
            st = bom[c->bom - 1] == (unsigned char)d ? TP_CSV__FIELD_START : TP_CSV__UNQUOTED;
        }
        c->bom = 3;
    }
    while (p < end) {
        switch (st) {
        case TP_CSV__FIELD_START:
            if (*p == '"') {
                st = TP_CSV__QUOTED;
                c->in_record = 1;
                p++;
                break;
            }
            st = TP_CSV__UNQUOTED;
            /* fall through */
        case TP_CSV__UNQUOTED: {
            /* Up to the field's end; a quote here is literal. */
            const char *q = p;
            while (q < end && *q != d && *q != '\n')
                q++;
            if (q == end && !c->in_record && q - p == 1 && *p == '\r') {
                st = TP_CSV__CR; /* a blank CRLF line, or not: the next byte says */
                p = q;
                break;
            }
            if (q > p && !(q - p == 1 && *p == '\r' && q < end && *q == '\n'))
                c->in_record = 1;
            if (q == end) {
                p = q;
                break;
            }
            if (*q == d) {
                c->in_record = 1;
                st = TP_CSV__FIELD_START;
            } else {
                if (c->in_record)
                    c->records++;
                c->in_record = 0;
                st = TP_CSV__FIELD_START;
            }
            p = q + 1;
            break;
        }
        case TP_CSV__QUOTED: {
            const char *q = memchr(p, '"', (size_t)(end - p));
            if (!q) {
                p = end;
                break;
            }
            st = TP_CSV__QUOTE_SEEN;
            p = q + 1;
            break;
        }
        case TP_CSV__CR:
            if (*p == '\n') {
                st = TP_CSV__FIELD_START;
                p++;
            } else {
                c->in_record = 1;
                st = TP_CSV__UNQUOTED;
            }
            break;
        case TP_CSV__QUOTE_SEEN:
            /* "" is an escaped quote; anything else closed the field. */
            if (*p == '"') {
                st = TP_CSV__QUOTED;
                p++;
            } else
                st = TP_CSV__UNQUOTED;
            break;
        }
    }
    c->state = st;
}

uint64_t tp_csv_count_total(const tp_csv_counter *c)
{
    int open = c->in_record || (c->bom > 0 && c->bom < 3);
    return c->records + (open ? 1 : 0);
}

int tp_csv_field_is(tp_field f, const char *s)
{
    while (f.len > 0 && f.ptr[0] == ' ') {
        f.ptr++;
        f.len--;
    }
    while (f.len > 0 && f.ptr[f.len - 1] == ' ')
        f.len--;
    size_t n = strlen(s);
    if (n != f.len)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)f.ptr[i], b = (unsigned char)s[i];
        if (a >= 'a' && a <= 'z')
            a = (unsigned char)(a - 32);
        if (b >= 'a' && b <= 'z')
            b = (unsigned char)(b - 32);
        if (a != b)
            return 0;
    }
    return 1;
}

#endif /* TP_CSV_IMPLEMENTATION */
