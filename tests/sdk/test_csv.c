/* test_csv.c -- tests of the SDK's streaming CSV reader (tillpipe/csv.h).
 *
 * Every decoding case is checked three ways: the whole input against the
 * expected records, then the input cut at every single split point, byte by
 * byte, and in pseudo-random chunk sizes against the whole-input result.  A
 * reader that works on whole files but not on records split across reads
 * would corrupt real files at every chunk boundary, so the property is
 * checked for every case, including the error cases.  Chunks are copied into
 * their own exactly-sized allocations and freed right after tp_csv_feed()
 * returns, so ASan catches a reader that reads past a chunk or keeps a
 * pointer into one.
 *
 * The same goes for other delimiters (tp_csv_set_delimiter): hand-written
 * cases with ';', tab and '|' -- quoted fields holding the delimiter, commas
 * as plain data, a quote after a comma that is not a field start -- and
 * random inputs separated by ';' and tab.
 *
 * Records are compared as text, one line per record:
 *     <line>: [field][field]...
 * with `\`, `]`, control bytes and non-ASCII bytes escaped (\n, \r, \xc2...),
 * then "ok" or "error <code> at line <n>: <message>".
 */
#include <check.h>

#include "testutil.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tillpipe/csv.h>

/* ------------------------------------------------------------ text buffer */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(p);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < sizeof tmp);
    sb_putn(b, tmp, (size_t)n);
}

static void sb_reset(sbuf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static void sb_free(sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Append bytes escaped for the record text (see the file comment). */
static void sb_escaped(sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            sb_puts(b, "\\n");
        else if (c == '\r')
            sb_puts(b, "\\r");
        else if (c == '\\' || c == ']') {
            sb_putn(b, "\\", 1);
            sb_putn(b, (const char *)&c, 1);
        } else if (c < 0x20 || c >= 0x7f)
            sb_printf(b, "\\x%02x", c);
        else
            sb_putn(b, (const char *)&c, 1);
    }
}

/* ------------------------------------------------------------ running the reader */

typedef struct run_opts {
    size_t max_record; /* 0 = default */
    size_t max_fields; /* 0 = default */
    size_t stop_at;    /* callback returns stop_rc on this call (1-based); 0 = never */
    int stop_rc;
    char delim; /* tp_csv_set_delimiter before feeding; 0 = leave the default */
} run_opts;

typedef struct collector {
    sbuf *out;
    const run_opts *o;
    size_t calls;
} collector;

static int collect(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    collector *c = ud;
    c->calls++;
    ck_assert_uint_gt(n, 0);
    sb_printf(c->out, "%llu: ", (unsigned long long)line);
    for (size_t i = 0; i < n; i++) {
        ck_assert(f[i].len == 0 || f[i].ptr != NULL);
        sb_putn(c->out, "[", 1);
        sb_escaped(c->out, f[i].ptr, f[i].len);
        sb_putn(c->out, "]", 1);
    }
    sb_putn(c->out, "\n", 1);
    if (c->o->stop_at && c->calls == c->o->stop_at)
        return c->o->stop_rc;
    return 0;
}

/* Feed `in` cut before each offset in `cuts` (ascending; duplicates and 0 or
 * len give empty chunks, which are fed too), then finish; the records and
 * the outcome go into `out`.  Returns the reader's result code. */
static int run_cut(const char *in, size_t len, const size_t *cuts, size_t ncuts, const run_opts *o,
                   sbuf *out)
{
    tp_csv r;
    sb_reset(out);
    ck_assert_int_eq(tp_csv_init(&r, o->max_record, o->max_fields), TP_CSV_OK);
    if (o->delim)
        ck_assert_int_eq(tp_csv_set_delimiter(&r, o->delim), TP_CSV_OK);
    collector c = {out, o, 0};
    int rc = TP_CSV_OK;
    size_t at = 0;
    for (size_t i = 0; i <= ncuts && rc == TP_CSV_OK; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        ck_assert(end >= at && end <= len);
        char *chunk = malloc(end - at ? end - at : 1);
        ck_assert_ptr_nonnull(chunk);
        memcpy(chunk, in + at, end - at);
        rc = tp_csv_feed(&r, chunk, end - at, collect, &c);
        free(chunk);
        at = end;
    }
    if (rc == TP_CSV_OK)
        rc = tp_csv_finish(&r, collect, &c);
    if (rc == TP_CSV_OK)
        sb_puts(out, "ok\n");
    else {
        sb_printf(out, "error %d at line %llu: %s\n", rc, (unsigned long long)r.err_line, r.err);
        if (rc == TP_CSV_ECALLBACK)
            sb_printf(out, "callback said %d\n", r.cb_rc);
    }
    if (rc == TP_CSV_OK)
        ck_assert_uint_eq(r.records, c.calls);
    tp_csv_free(&r);
    return rc;
}

static int run_whole(const char *in, size_t len, const run_opts *o, sbuf *out)
{
    return run_cut(in, len, NULL, 0, o, out);
}

/* xorshift64*: a fixed-seed generator so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return (size_t)(rng_next(s) % n);
}

/* Random cut points giving chunks of 1..maxchunk bytes. */
static size_t random_cuts(uint64_t *s, size_t len, size_t maxchunk, size_t *cuts)
{
    size_t n = 0, at = 0;
    for (;;) {
        at += 1 + rng_below(s, maxchunk);
        if (at >= len)
            return n;
        cuts[n++] = at;
    }
}

static void describe_input(sbuf *b, const char *in, size_t len)
{
    sb_puts(b, "\"");
    sb_escaped(b, in, len);
    sb_puts(b, "\"");
}

/* Where two record texts first differ, for failure messages: the differing
 * output line of each, from a little before the first differing byte. */
static void describe_diff(sbuf *b, const char *want, const char *got)
{
    size_t i = 0, line = 1, bol = 0;
    while (want[i] && want[i] == got[i]) {
        if (want[i] == '\n') {
            line++;
            bol = i + 1;
        }
        i++;
    }
    size_t from = i - bol > 60 ? i - 60 : bol;
    sb_printf(b, "first difference in output line %zu, column %zu:\n", line, i - bol + 1);
    const char *w = want + from, *g = got + from;
    sb_printf(b, "  expected: %s%.*s\n", from > bol ? "..." : "",
              (int)(strcspn(w, "\n") > 200 ? 200 : strcspn(w, "\n")), w);
    sb_printf(b, "  got:      %s%.*s\n", from > bol ? "..." : "",
              (int)(strcspn(g, "\n") > 200 ? 200 : strcspn(g, "\n")), g);
}

/* Fail with a readable account of how `got` (from feeding the input as
 * `how` says) differs from `want`. */
static void fail_diff(const char *name, const char *input, const char *how, const char *want,
                      const char *got)
{
    sbuf m = {0};
    sb_printf(&m, "%s: input %.300s%s\n", name, input, strlen(input) > 300 ? "..." : "");
    sb_printf(&m, "%s\n", how);
    if (strlen(want) + strlen(got) < 1500)
        sb_printf(&m, "--- expected\n%s--- got\n%s", want, got);
    describe_diff(&m, want, got);
    ck_abort_msg("%.3500s", m.p);
}

/* The property: however the input is cut, the reader gives what it gives
 * for the whole input (and, when `want` is given, that is `want`). */
static void check_chunking(const char *name, const char *in, size_t len, const run_opts *o,
                           const char *want)
{
    sbuf whole = {0}, got = {0}, what = {0}, how = {0};
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    ck_assert_ptr_nonnull(cuts);
    describe_input(&what, in, len);

    run_whole(in, len, o, &whole);
    if (want && strcmp(whole.p, want) != 0)
        fail_diff(name, what.p, "fed whole, it does not decode as expected", want, whole.p);

    for (size_t k = 0; k <= len; k++) {
        cuts[0] = k;
        run_cut(in, len, cuts, 1, o, &got);
        if (strcmp(got.p, whole.p) != 0) {
            sb_printf(&how, "split at byte %zu, it decodes differently from the whole input", k);
            fail_diff(name, what.p, how.p, whole.p, got.p);
        }
    }

    for (size_t k = 1; k < len; k++)
        cuts[k - 1] = k;
    run_cut(in, len, cuts, len ? len - 1 : 0, o, &got);
    if (strcmp(got.p, whole.p) != 0)
        fail_diff(name, what.p,
                  "fed one byte at a time, it decodes differently from the whole "
                  "input",
                  whole.p, got.p);

    uint64_t seed = 0x9E3779B97F4A7C15ULL ^ len;
    for (int run = 0; run < 40; run++) {
        size_t n = random_cuts(&seed, len, 7, cuts);
        run_cut(in, len, cuts, n, o, &got);
        if (strcmp(got.p, whole.p) != 0) {
            sb_puts(&how, "cut at {");
            for (size_t i = 0; i < n && i < 60; i++)
                sb_printf(&how, "%s%zu", i ? "," : "", cuts[i]);
            sb_puts(&how, n > 60 ? ",...}" : "}");
            sb_puts(&how, ", it decodes differently from the whole input");
            fail_diff(name, what.p, how.p, whole.p, got.p);
        }
    }
    free(cuts);
    sb_free(&whole);
    sb_free(&got);
    sb_free(&what);
    sb_free(&how);
}

/* tp_csv_count over the given cuts, with delimiter `delim` (0: ','). */
static uint64_t count_cut(const char *in, size_t len, const size_t *cuts, size_t ncuts, char delim)
{
    tp_csv_counter c = {.delim = delim};
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        char *chunk = malloc(end - at ? end - at : 1);
        ck_assert_ptr_nonnull(chunk);
        memcpy(chunk, in + at, end - at);
        tp_csv_count(&c, chunk, end - at);
        free(chunk);
        at = end;
    }
    return tp_csv_count_total(&c);
}

/* The counter agrees with the number of records the reader delivers, for the
 * whole input and for every way of cutting it checked above, both using
 * delimiter `delim` (0: the default ','). */
static void check_counting(const char *name, const char *in, size_t len, char delim)
{
    sbuf out = {0}, what = {0};
    run_opts o = {.delim = delim};
    tp_csv r;
    ck_assert_int_eq(tp_csv_init(&r, 0, 0), TP_CSV_OK);
    if (delim)
        ck_assert_int_eq(tp_csv_set_delimiter(&r, delim), TP_CSV_OK);
    collector c = {&out, &o, 0};
    int rc = tp_csv_feed(&r, in, len, collect, &c);
    if (rc == TP_CSV_OK)
        rc = tp_csv_finish(&r, collect, &c);
    uint64_t records = r.records;
    tp_csv_free(&r);
    if (rc != TP_CSV_OK) { /* no record count to agree with */
        sb_free(&out);
        return;
    }
    describe_input(&what, in, len);
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    ck_assert_ptr_nonnull(cuts);

    uint64_t n = count_cut(in, len, NULL, 0, delim);
    ck_assert_msg(n == records,
                  "%s: tp_csv_count says %llu records, the reader delivers %llu, "
                  "for %.300s",
                  name, (unsigned long long)n, (unsigned long long)records, what.p);
    for (size_t k = 0; k <= len; k++) {
        cuts[0] = k;
        n = count_cut(in, len, cuts, 1, delim);
        ck_assert_msg(n == records,
                      "%s: tp_csv_count says %llu records when split at byte %zu, "
                      "the reader delivers %llu, for %.300s",
                      name, (unsigned long long)n, k, (unsigned long long)records, what.p);
    }
    for (size_t k = 1; k < len; k++)
        cuts[k - 1] = k;
    n = count_cut(in, len, cuts, len ? len - 1 : 0, delim);
    ck_assert_msg(n == records,
                  "%s: tp_csv_count says %llu records byte by byte, the reader "
                  "delivers %llu, for %.300s",
                  name, (unsigned long long)n, (unsigned long long)records, what.p);
    uint64_t seed = 0xD1B54A32D192ED03ULL ^ len;
    for (int run = 0; run < 40; run++) {
        size_t nc = random_cuts(&seed, len, 7, cuts);
        n = count_cut(in, len, cuts, nc, delim);
        ck_assert_msg(n == records,
                      "%s: tp_csv_count says %llu records in random chunks "
                      "(run %d), the reader delivers %llu, for %.300s",
                      name, (unsigned long long)n, run, (unsigned long long)records, what.p);
    }
    free(cuts);
    sb_free(&out);
    sb_free(&what);
}

/* ------------------------------------------------------------ hand-written cases */

typedef struct csv_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *want;
} csv_case;

#define BOM "\xEF\xBB\xBF"
#define NBSP "\xC2\xA0"

static const csv_case cases[] = {
    {"plain rows", "a,b,c\n1,2,3\n", 0, "1: [a][b][c]\n2: [1][2][3]\nok\n"},
    {"CRLF rows", "a,b\r\n1,2\r\n", 0, "1: [a][b]\n2: [1][2]\nok\n"},
    {"LF, last record without newline", "a,b\n1,2", 0, "1: [a][b]\n2: [1][2]\nok\n"},
    {"CRLF, last record without newline", "a,b\r\n1,2", 0, "1: [a][b]\n2: [1][2]\nok\n"},
    {"last record ends in a bare CR", "a,b\r", 0, "1: [a][b]\nok\n"},
    {"blank lines skipped, line numbers kept", "\na\n\r\n\nb,c\r\n\r\n\n", 0,
     "2: [a]\n5: [b][c]\nok\n"},
    {"a final line of only CR is blank", "a\n\r", 0, "1: [a]\nok\n"},
    {"empty input", "", 0, "ok\n"},
    {"only blank lines", "\n\r\n\n", 0, "ok\n"},
    {"quoted fields", "\"DELA CRUZ, JUAN\",x,\"\"\n", 0,
     "1: [DELA CRUZ, JUAN][x][]\n"
     "ok\n"},
    {"doubled quotes", "\"REPP\"\"13\",\"P\"\"IUM MUG\",16\n", 0,
     "1: [REPP\"13][P\"IUM MUG][16]\nok\n"},
    {"Excel text guard", "TEMP,09264097787,\"=\"\"00019702\"\"\",\"=\"\"00019910\"\"\",1,BMC\r\n",
     0, "1: [TEMP][09264097787][=\"00019702\"][=\"00019910\"][1][BMC]\nok\n"},
    {"quotes only", "\"\"\"\"\n\"a\"\"\"\n\"\"\"a\"\n", 0, "1: [\"]\n2: [a\"]\n3: [\"a]\nok\n"},
    {"embedded newlines keep later line numbers right",
     "h1,h2\n\"two\nlines\",a\n\"three\r\nline\nname\",b\nlast,c\n", 0,
     "1: [h1][h2]\n2: [two\\nlines][a]\n4: [three\\r\\nline\\nname][b]\n7: [last][c]\nok\n"},
    {"embedded newline in the last field, no final newline", "x,\"a\nb\"", 0,
     "1: [x][a\\nb]\nok\n"},
    {"empty fields", ",,\n\"\"\n\"\",\"\"\na,,b\na,\r\n", 0,
     "1: [][][]\n2: []\n3: [][]\n4: [a][][b]\n5: [a][]\nok\n"},
    {"BOM skipped", BOM "STORE,PHONE\n1,2\n", 0, "1: [STORE][PHONE]\n2: [1][2]\nok\n"},
    {"BOM alone", BOM, 0, "ok\n"},
    {"partial BOM is data", "\xEF\xBBx,y\n", 0, "1: [\\xef\\xbbx][y]\nok\n"},
    {"partial BOM at the end is data", "\xEF\xBB", 0, "1: [\\xef\\xbb]\nok\n"},
    {"BOM only at the start", "a\n" BOM "b\n", 0, "1: [a]\n2: [\\xef\\xbb\\xbfb]\nok\n"},
    {"U+00A0 preserved", "TB TUNA SALP" NBSP ",\"" NBSP "x\"\n", 0,
     "1: [TB TUNA SALP\\xc2\\xa0][\\xc2\\xa0x]\nok\n"},
    {"stray quote in an unquoted field kept", "12\" PIZZA,ab\"c\"\"d,x\"\ny\n", 0,
     "1: [12\" PIZZA][ab\"c\"\"d][x\"]\n2: [y]\nok\n"},
    {"text after a closing quote kept", "\"a\"b,\"c\"\"d\"e\"f,\"g\" \n", 0,
     "1: [ab][c\"de\"f][g ]\nok\n"},
    {"text after a closing quote at the end", "\"a\"bc", 0, "1: [abc]\nok\n"},
    {"quoted field then bare CR at the end", "x,\"a\"\r", 0, "1: [x][a]\nok\n"},
    {"lone CR inside an unquoted field is data", "a\rb,c\n", 0, "1: [a\\rb][c]\nok\n"},
    {"CR before CRLF", "\r\r\nx\n", 0, "1: [\\r]\n2: [x]\nok\n"},
    {"CR inside quotes", "\"a\r\",\"\r\"\r\n", 0, "1: [a\\r][\\r]\nok\n"},
    {"quote at a chunk edge", "\"a\"\"\",\"b\"\r\n\"c\"", 0, "1: [a\"][b]\n2: [c]\nok\n"},
    {"unterminated quote", "a,b\nc,\"never\nclosed\n", 0,
     "1: [a][b]\nerror -4 at line 2: quoted field is never closed\n"},
    {"unterminated quote at the start", "\"abc", 0,
     "error -4 at line 1: quoted field is never closed\n"},
    {"unterminated quote after blank lines", "x\n\n\"a\"\"\nb", 0,
     "1: [x]\nerror -4 at line 3: quoted field is never closed\n"},
    {"unterminated quote right after a doubled quote", "\"\"\"", 0,
     "error -4 at line 1: quoted field is never closed\n"},
    {"rd5000 row of the newer POS",
     "1,2026-02-09T22:55:34,10000000007296,154,COF78,1,149,106.4286,26.6071,0,,,2026-02-09,"
     "22:55,,S,,S,SC,,,D,1,0,,,0,1,1,0,0,1,0.0,COF78,0.0,106.4286,0.0,10000000007296,,\n",
     0,
     "1: [1][2026-02-09T22:55:34][10000000007296][154][COF78][1][149][106.4286][26.6071][0]"
     "[][][2026-02-09][22:55][][S][][S][SC][][][D][1][0][][][0][1][1][0][0][1][0.0][COF78]"
     "[0.0][106.4286][0.0][10000000007296][][]\nok\n"},
};

#define NCASES (sizeof cases / sizeof cases[0])

START_TEST(test_decode_case)
{
    const csv_case *c = &cases[_i];
    run_opts o = {0};
    check_chunking(c->name, c->in, c->len ? c->len : strlen(c->in), &o, c->want);
}
END_TEST

START_TEST(test_count_case)
{
    const csv_case *c = &cases[_i];
    check_counting(c->name, c->in, c->len ? c->len : strlen(c->in), 0);
}
END_TEST

/* ------------------------------------------------------------ other delimiters */

typedef struct delim_case {
    const char *name;
    char delim;
    const char *in;
    const char *want;
} delim_case;

static const delim_case delim_cases[] = {
    {"semicolon rows", ';', "a;b;c\n1;2;3\n", "1: [a][b][c]\n2: [1][2][3]\nok\n"},
    {"semicolon, commas are data", ';', "DELA CRUZ, JUAN;1,50\r\n;\n",
     "1: [DELA CRUZ, JUAN][1,50]\n2: [][]\nok\n"},
    {"semicolon inside quoted fields", ';', "\"a;b\";\"c\"\"d;\";\";\"\n\"\";x\n",
     "1: [a;b][c\"d;][;]\n2: [][x]\nok\n"},
    {"semicolon and a quoted newline", ';', "h;\"two;\nlines\";z\r\nnext;\"\"\n",
     "1: [h][two;\\nlines][z]\n3: [next][]\nok\n"},
    {"semicolon: text after a closing quote runs to the delimiter", ';', "\"a\"b,c;d\n",
     "1: [ab,c][d]\nok\n"},
    /* after ',' a quote is not at a field's start when ';' separates */
    {"semicolon: a quote after a comma is literal", ';', "a,\"b;c\"\n", "1: [a,\"b][c\"]\nok\n"},
    {"semicolon: fields past 16 bytes", ';',
     "0123456789abcdef,ghij;0123456789abcdefghij;x\n\"0123456789abcdef;\";0123456789abcdef\n",
     "1: [0123456789abcdef,ghij][0123456789abcdefghij][x]\n"
     "2: [0123456789abcdef;][0123456789abcdef]\nok\n"},
    {"semicolon after a BOM", ';', BOM "STORE;PHONE\n1;2", "1: [STORE][PHONE]\n2: [1][2]\nok\n"},
    {"semicolon: unterminated quote", ';', "a;\"b;\nc\n",
     "error -4 at line 1: quoted field is never closed\n"},
    {"tab", '\t', "a\tb\n\"x\ty\"\tz,w\n\t\n", "1: [a][b]\n2: [x\\x09y][z,w]\n3: [][]\nok\n"},
    {"pipe", '|', "a|b||\n\"|\"|,\n", "1: [a][b][][]\n2: [|][,]\nok\n"},
    {"comma set explicitly", ',', "a,\"b;c\",;d\n", "1: [a][b;c][;d]\nok\n"},
};

#define NDELIM_CASES (sizeof delim_cases / sizeof delim_cases[0])

START_TEST(test_decode_delim_case)
{
    const delim_case *c = &delim_cases[_i];
    run_opts o = {.delim = c->delim};
    check_chunking(c->name, c->in, strlen(c->in), &o, c->want);
}
END_TEST

START_TEST(test_count_delim_case)
{
    const delim_case *c = &delim_cases[_i];
    check_counting(c->name, c->in, strlen(c->in), c->delim);
}
END_TEST

/* 0 means ','; a quote or a line end is refused, and so is a change once
 * bytes were fed; a refusal leaves the reader as it was. */
START_TEST(test_set_delimiter)
{
    static const char in[] = "a;b,c\n";
    tp_csv r;
    sbuf out = {0};
    run_opts o = {0};
    collector c = {&out, &o, 0};
    ck_assert_int_eq(tp_csv_init(&r, 0, 0), TP_CSV_OK);
    ck_assert_int_eq(tp_csv_set_delimiter(&r, ';'), TP_CSV_OK);
    ck_assert_int_eq(tp_csv_set_delimiter(&r, 0), TP_CSV_OK);
    static const char bad[] = {'"', '\r', '\n'};
    for (size_t i = 0; i < sizeof bad; i++) {
        ck_assert_int_eq(tp_csv_set_delimiter(&r, bad[i]), TP_CSV_EDELIM);
        ck_assert_str_eq(r.err, "a quote or a line end cannot separate fields");
    }
    ck_assert_int_eq(tp_csv_feed(&r, in, 1, collect, &c), TP_CSV_OK);
    ck_assert_int_eq(tp_csv_set_delimiter(&r, ';'), TP_CSV_EDELIM);
    ck_assert_str_eq(r.err, "the delimiter is set before the first feed");
    ck_assert_int_eq(tp_csv_feed(&r, in + 1, sizeof in - 2, collect, &c), TP_CSV_OK);
    ck_assert_int_eq(tp_csv_finish(&r, collect, &c), TP_CSV_OK);
    ck_assert_str_eq(out.p, "1: [a;b][c]\n");
    tp_csv_free(&r);
    sb_free(&out);
}
END_TEST

/* Records big enough to make the reader grow its field array and its
 * scratch buffer, and to cross a carry boundary in the middle. */
START_TEST(test_decode_big_records)
{
    sbuf in = {0}, want = {0};
    sb_puts(&in, "h\n");
    sb_puts(&want, "1: [h]\n");
    /* 150 fields, some quoted */
    sb_puts(&want, "2: ");
    for (int i = 0; i < 150; i++) {
        if (i)
            sb_puts(&in, ",");
        if (i % 3 == 0)
            sb_printf(&in, "\"q%d,\"\"\"", i);
        else
            sb_printf(&in, "f%d", i);
        sb_puts(&want, "[");
        if (i % 3 == 0)
            sb_printf(&want, "q%d,\"", i);
        else
            sb_printf(&want, "f%d", i);
        sb_puts(&want, "]");
    }
    sb_puts(&in, "\r\n");
    sb_puts(&want, "\n");
    /* one quoted field of 360 bytes with doubled quotes and newlines */
    sb_puts(&in, "\"");
    sb_puts(&want, "3: [");
    for (int i = 0; i < 30; i++) {
        sb_puts(&in, "abc\"\"def\nghi");
        sb_puts(&want, "abc\"def\\nghi");
    }
    sb_puts(&in, "\",end\n");
    sb_puts(&want, "][end]\n");
    sb_puts(&in, "tail");
    sb_puts(&want, "34: [tail]\nok\n");
    run_opts o = {0};
    check_chunking("big records", in.p, in.len, &o, want.p);
    check_counting("big records", in.p, in.len, 0);
    sb_free(&in);
    sb_free(&want);
}
END_TEST

/* ------------------------------------------------------------ limits and errors */

static void check_str(const char *name, const char *in, const run_opts *o, const char *want)
{
    check_chunking(name, in, strlen(in), o, want);
}

START_TEST(test_too_long)
{
    run_opts o = {.max_record = 16};
    check_str("record over max_record", "short\nok,row\n0123456789abcdefXYZ\nafter\n", &o,
              "1: [short]\n2: [ok][row]\nerror -2 at line 3: record is longer than the "
              "limit\n");
    /* a record that never ends: the carry must not grow past the limit */
    check_str("unended record over max_record", "a\n0123456789abcdefghijklmnopqrstuvwxyz", &o,
              "1: [a]\nerror -2 at line 2: record is longer than the limit\n");
    /* a quoted field spanning lines counts whole */
    check_str("quoted record over max_record", "a\n\"0123456789\nabcdefghij\",x\nb\n", &o,
              "1: [a]\nerror -2 at line 2: record is longer than the limit\n");
}
END_TEST

/* The limit is on the record's bytes; its line end does not count, whether
 * it is LF or CRLF. */
START_TEST(test_too_long_boundary)
{
    run_opts o = {.max_record = 8};
    check_str("record of exactly max_record, LF", "12345678\nx\n", &o,
              "1: [12345678]\n2: [x]\nok\n");
    check_str("record of exactly max_record, CRLF", "12345678\r\nx\r\n", &o,
              "1: [12345678]\n2: [x]\nok\n");
    check_str("record of max_record + 1, LF", "123456789\nx\n", &o,
              "error -2 at line 1: record is longer than the limit\n");
    check_str("record of max_record + 1, CRLF", "123456789\r\nx\r\n", &o,
              "error -2 at line 1: record is longer than the limit\n");
}
END_TEST

START_TEST(test_too_many_fields)
{
    run_opts o = {.max_fields = 4};
    check_str("4 fields of 4 allowed", "a,b,c,d\n", &o, "1: [a][b][c][d]\nok\n");
    check_str("5 fields of 4 allowed", "a,b,c,d\ne,f,g,h,i\n", &o,
              "1: [a][b][c][d]\nerror -3 at line 2: record has too many fields\n");
    run_opts o100 = {.max_fields = 100};
    sbuf in = {0}, want = {0};
    for (int i = 0; i < 100; i++)
        sb_puts(&in, i ? ",x" : "x");
    sb_puts(&in, "\n");
    sb_puts(&want, "1: ");
    for (int i = 0; i < 100; i++)
        sb_puts(&want, "[x]");
    sb_puts(&want, "\nok\n");
    check_chunking("100 fields of 100 allowed", in.p, in.len, &o100, want.p);
    sb_reset(&in);
    for (int i = 0; i < 101; i++)
        sb_puts(&in, i ? ",x" : "x");
    check_chunking("101 fields of 100 allowed", in.p, in.len, &o100,
                   "error -3 at line 1: record has too many fields\n");
    sb_free(&in);
    sb_free(&want);
}
END_TEST

START_TEST(test_callback_stop)
{
    run_opts o = {.stop_at = 2, .stop_rc = -7};
    /* the callback is not called again after it said stop */
    check_str("callback stops", "a\n\n\"b\nb\",c\nd\n", &o,
              "1: [a]\n3: [b\\nb][c]\nerror -5 at line 3: stopped by the caller\n"
              "callback said -7\n");
    run_opts last = {.stop_at = 1, .stop_rc = -1};
    check_str("callback stops on a last record without newline", "a", &last,
              "1: [a]\nerror -5 at line 1: stopped by the caller\ncallback said -1\n");
}
END_TEST

/* ------------------------------------------------------------ pseudo-random CSV */

/* Builds a random CSV input separated by `delim` together with the records
 * it must decode to (the oracle), using only constructs with one meaning:
 * unquoted fields (possibly with stray quotes after the first byte, and ','
 * or ';' when that is not the delimiter), quoted fields with "" pairs, the
 * delimiter, LF, CRLF and lone CR inside, text after a closing quote, empty
 * fields, blank lines, LF or CRLF line ends, and a last record with or
 * without a line end. */
static size_t gen_csv(uint64_t *s, sbuf *in, sbuf *want, char delim)
{
    const char sep[2] = {delim, '\0'}, *other = delim == ',' ? ";" : ",";
    const char *const plain[] = {"a", "b", "Z", "9", " ", ".", "-", "\"", NBSP, other};
    const char *const quoted[] = {"a", "b", sep, other, "\n", "\r\n", "\r", "\"\"", " ", NBSP};
    static const char *const after[] = {"x", " ", "\"", "y"};
    size_t nrec = rng_below(s, 7);
    sb_reset(in);
    sb_reset(want);
    for (size_t r = 0; r < nrec; r++) {
        while (rng_below(s, 5) == 0)
            sb_puts(in, rng_below(s, 2) ? "\n" : "\r\n");
        size_t line = 1;
        for (size_t i = 0; i < in->len; i++)
            line += in->p[i] == '\n';
        sb_printf(want, "%zu: ", line);
        size_t nf = 1 + rng_below(s, 5);
        for (size_t f = 0; f < nf; f++) {
            if (f)
                sb_puts(in, sep);
            size_t kind = rng_below(s, 6);
            if (kind == 0 && nf == 1)
                kind = 3; /* a lone empty field would be a blank line */
            sb_puts(want, "[");
            if (kind == 0) {
                /* empty */
            } else if (kind <= 2) {
                size_t n = 1 + rng_below(s, 6);
                for (size_t k = 0; k < n; k++) {
                    const char *u = plain[rng_below(s, sizeof plain / sizeof plain[0])];
                    if (k == 0 && u[0] == '"')
                        u = "a";
                    sb_puts(in, u);
                    sb_escaped(want, u, strlen(u));
                }
            } else {
                sb_puts(in, "\"");
                size_t n = rng_below(s, 7);
                for (size_t k = 0; k < n; k++) {
                    const char *u = quoted[rng_below(s, sizeof quoted / sizeof quoted[0])];
                    sb_puts(in, u);
                    sb_escaped(want, u, u[0] == '"' ? 1 : strlen(u));
                }
                sb_puts(in, "\"");
                if (kind == 5) {
                    size_t m = 1 + rng_below(s, 3);
                    for (size_t k = 0; k < m; k++) {
                        const char *u = after[rng_below(s, sizeof after / sizeof after[0])];
                        if (k == 0 && u[0] == '"')
                            u = "x";
                        sb_puts(in, u);
                        sb_escaped(want, u, strlen(u));
                    }
                }
            }
            sb_puts(want, "]");
        }
        sb_puts(want, "\n");
        if (r + 1 < nrec || rng_below(s, 3) != 0)
            sb_puts(in, rng_below(s, 2) ? "\n" : "\r\n");
    }
    if (in->len > 0 && in->p[in->len - 1] == '\n')
        while (rng_below(s, 4) == 0)
            sb_puts(in, rng_below(s, 2) ? "\n" : "\r\n");
    sb_puts(want, "ok\n");
    return nrec;
}

#define RANDOM_BATCHES 10
#ifdef __SANITIZE_ADDRESS__
/* every chunking of every input is ~15x slower under the sanitizers, and
 * tests/fuzz/fuzz_csv compares chunkings of far more inputs there */
#define RANDOM_PER_BATCH 10
#else
#define RANDOM_PER_BATCH 40
#endif

/* Batch i of the random tests: ',' for the first RANDOM_BATCHES, then ';'
 * and tab for half as many each. */
static char batch_delim(int i)
{
    return i < RANDOM_BATCHES ? ',' : i < RANDOM_BATCHES * 3 / 2 ? ';' : '\t';
}

START_TEST(test_random_chunking)
{
    uint64_t seed = 0x5EED0000ULL + (uint64_t)_i * 7919;
    sbuf in = {0}, want = {0};
    run_opts o = {.delim = batch_delim(_i)};
    for (int k = 0; k < RANDOM_PER_BATCH; k++) {
        gen_csv(&seed, &in, &want, o.delim);
        char name[64];
        snprintf(name, sizeof name, "random input %d.%d", _i, k);
        check_chunking(name, in.p ? in.p : "", in.len, &o, want.p);
    }
    sb_free(&in);
    sb_free(&want);
}
END_TEST

START_TEST(test_random_counting)
{
    uint64_t seed = 0x5EED0000ULL + (uint64_t)_i * 7919;
    sbuf in = {0}, want = {0};
    for (int k = 0; k < RANDOM_PER_BATCH; k++) {
        char delim = batch_delim(_i);
        size_t nrec = gen_csv(&seed, &in, &want, delim);
        char name[64];
        snprintf(name, sizeof name, "random input %d.%d", _i, k);
        ck_assert_msg(count_cut(in.p ? in.p : "", in.len, NULL, 0, delim) == nrec,
                      "%s: tp_csv_count disagrees with the %zu records generated", name, nrec);
        check_counting(name, in.p ? in.p : "", in.len, delim);
    }
    sb_free(&in);
    sb_free(&want);
}
END_TEST

/* ------------------------------------------------------------ field helpers */

static tp_field fld(const char *s)
{
    tp_field f = {s, strlen(s)};
    return f;
}

#define ck_field_eq(f, s)                                                                          \
    do {                                                                                           \
        tp_field f_ = (f);                                                                         \
        const char *s_ = (s);                                                                      \
        ck_assert_msg(f_.len == strlen(s_) && memcmp(f_.ptr, s_, f_.len) == 0,                     \
                      "field is \"%.*s\", expected \"%s\"", (int)f_.len, f_.ptr, s_);              \
    } while (0)

START_TEST(test_unguard)
{
    ck_field_eq(tp_csv_unguard(fld("=\"00019702\"")), "00019702");
    ck_field_eq(tp_csv_unguard(fld("=\"\"")), "");
    ck_field_eq(tp_csv_unguard(fld("00019702")), "00019702");
    ck_field_eq(tp_csv_unguard(fld("\"00019702\"")), "\"00019702\"");
    ck_field_eq(tp_csv_unguard(fld("=\"")), "=\"");
    ck_field_eq(tp_csv_unguard(fld("")), "");
}
END_TEST

/* The reader and tp_csv_unguard together, on the blpr encoding. */
START_TEST(test_unguard_decoded)
{
    static const char in[] = "\"=\"\"00019702\"\"\"\n";
    tp_csv r;
    ck_assert_int_eq(tp_csv_init(&r, 0, 0), TP_CSV_OK);
    sbuf out = {0};
    run_opts o = {0};
    collector c = {&out, &o, 0};
    ck_assert_int_eq(tp_csv_feed(&r, in, sizeof in - 1, collect, &c), TP_CSV_OK);
    ck_assert_int_eq(tp_csv_finish(&r, collect, &c), TP_CSV_OK);
    ck_assert_str_eq(out.p, "1: [=\"00019702\"]\n");
    tp_csv_free(&r);
    sb_free(&out);
}
END_TEST

START_TEST(test_date_part)
{
    ck_field_eq(tp_csv_date_part(fld("2026-02-09 00:00:00")), "2026-02-09");
    ck_field_eq(tp_csv_date_part(fld("2026-02-09T22:55:34")), "2026-02-09");
    ck_field_eq(tp_csv_date_part(fld("2026-02-09")), "2026-02-09");
    ck_field_eq(tp_csv_date_part(fld("")), "");
}
END_TEST

START_TEST(test_at)
{
    tp_field f[2] = {fld("a"), fld("b")};
    ck_field_eq(tp_csv_at(f, 2, 0), "a");
    ck_field_eq(tp_csv_at(f, 2, 1), "b");
    ck_field_eq(tp_csv_at(f, 2, 2), "");
    ck_field_eq(tp_csv_at(f, 2, 39), "");
    ck_assert_ptr_nonnull(tp_csv_at(f, 2, 39).ptr);
    ck_field_eq(tp_csv_at(f, 0, 0), "");
}
END_TEST

/* Missing trailing columns read as empty, through the reader. */
static int at_cb(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    sbuf *b = ud;
    tp_field v37 = tp_csv_at(f, n, 37), v1 = tp_csv_at(f, n, 1);
    sb_printf(b, "%llu:%zu:[%.*s][%.*s]\n", (unsigned long long)line, n, (int)v1.len, v1.ptr,
              (int)v37.len, v37.ptr);
    return 0;
}

START_TEST(test_at_short_rows)
{
    static const char in[] = "a,b\nc\n";
    tp_csv r;
    sbuf out = {0};
    ck_assert_int_eq(tp_csv_init(&r, 0, 0), TP_CSV_OK);
    ck_assert_int_eq(tp_csv_feed(&r, in, sizeof in - 1, at_cb, &out), TP_CSV_OK);
    ck_assert_int_eq(tp_csv_finish(&r, at_cb, &out), TP_CSV_OK);
    ck_assert_str_eq(out.p, "1:2:[b][]\n2:1:[][]\n");
    tp_csv_free(&r);
    sb_free(&out);
}
END_TEST

START_TEST(test_field_is)
{
    ck_assert_int_eq(tp_csv_field_is(fld("DEP_CODE"), "DEP_CODE"), 1);
    ck_assert_int_eq(tp_csv_field_is(fld(" dep_code "), "DEP_CODE"), 1);
    ck_assert_int_eq(tp_csv_field_is(fld("DEP_CODES"), "DEP_CODE"), 0);
    ck_assert_int_eq(tp_csv_field_is(fld(""), "DEP_CODE"), 0);
    ck_assert_int_eq(tp_csv_field_is(fld("  "), ""), 1);
}
END_TEST

START_TEST(test_free_is_safe)
{
    tp_csv r;
    memset(&r, 0, sizeof r);
    tp_csv_free(&r);
    tp_csv_free(NULL);
    ck_assert_int_eq(tp_csv_init(&r, 0, 0), TP_CSV_OK);
    ck_assert_uint_eq(r.line, 1);
    ck_assert_uint_eq(r.records, 0);
    tp_csv_free(&r);
    tp_csv_free(&r);
}
END_TEST

/* ------------------------------------------------------------ suite */

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");

    TCase *tc = tcase_create("decode");
    tcase_add_loop_test(tc, test_decode_case, 0, (int)NCASES);
    tcase_add_test(tc, test_decode_big_records);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_too_long);
    tcase_add_test(tc, test_too_long_boundary);
    tcase_add_test(tc, test_too_many_fields);
    tcase_add_test(tc, test_callback_stop);
    suite_add_tcase(s, tc);

    tc = tcase_create("delimiter");
    tcase_add_loop_test(tc, test_decode_delim_case, 0, (int)NDELIM_CASES);
    tcase_add_test(tc, test_set_delimiter);
    suite_add_tcase(s, tc);

    tc = tcase_create("random");
    tcase_add_loop_test(tc, test_random_chunking, 0, RANDOM_BATCHES * 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("count");
    tcase_add_loop_test(tc, test_count_case, 0, (int)NCASES);
    tcase_add_loop_test(tc, test_count_delim_case, 0, (int)NDELIM_CASES);
    tcase_add_loop_test(tc, test_random_counting, 0, RANDOM_BATCHES * 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("helpers");
    tcase_add_test(tc, test_unguard);
    tcase_add_test(tc, test_unguard_decoded);
    tcase_add_test(tc, test_date_part);
    tcase_add_test(tc, test_at);
    tcase_add_test(tc, test_at_short_rows);
    tcase_add_test(tc, test_field_is);
    tcase_add_test(tc, test_free_is_safe);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(csv_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
