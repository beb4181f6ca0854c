/* semver.c -- see semver.h. */
#include "semver.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- versions */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* A decimal number without leading zeros that fits in 64 bits; *p moves
 * past it.  Returns 0, or -1 without moving *p. */
static int parse_num(const char **p, uint64_t *out)
{
    const char *s = *p;
    if (!is_digit(*s) || (s[0] == '0' && is_digit(s[1])))
        return -1;
    uint64_t v = 0;
    for (; is_digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    *p = s;
    return 0;
}

/* Dot-separated identifiers of [0-9A-Za-z-] up to the first byte that is
 * none of those, copied into dst (at most max bytes).  `pre`: numeric
 * identifiers may not have leading zeros.  Returns 0, or -1. */
static int parse_idents(const char **p, char *dst, size_t max, int pre)
{
    const char *s = *p, *start = s;
    for (;;) {
        const char *id = s;
        int numeric = 1;
        for (; is_ident_char(*s); s++)
            numeric = numeric && is_digit(*s);
        if (s == id)
            return -1; /* empty identifier */
        if (pre && numeric && id[0] == '0' && s - id > 1)
            return -1;
        if (*s != '.')
            break;
        s++;
    }
    size_t len = (size_t)(s - start);
    if (len > max)
        return -1;
    memcpy(dst, start, len);
    dst[len] = '\0';
    *p = s;
    return 0;
}

/* "-pre" and "+build" after the three numbers; *p moves past them. */
static int parse_tail(const char **p, tp_semver *v)
{
    if (**p == '-') {
        (*p)++;
        if (parse_idents(p, v->pre, TP_SEMVER_PRE_MAX, 1) < 0)
            return -1;
    }
    if (**p == '+') {
        (*p)++;
        if (parse_idents(p, v->build, TP_SEMVER_BUILD_MAX, 0) < 0)
            return -1;
    }
    return 0;
}

int tp_semver_parse(const char *s, tp_semver *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return TP_EINVAL;
    const char *p = s;
    if (parse_num(&p, &out->major) < 0 || *p++ != '.' || parse_num(&p, &out->minor) < 0 ||
        *p++ != '.' || parse_num(&p, &out->patch) < 0 || parse_tail(&p, out) < 0 || *p != '\0') {
        memset(out, 0, sizeof *out);
        return TP_EINVAL;
    }
    return 0;
}

static int sign_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return 0;
    return 1;
}

/* One prerelease identifier (s, n) against another. */
static int cmp_ident(const char *a, size_t na, const char *b, size_t nb)
{
    int da = all_digits(a, na), db = all_digits(b, nb);
    if (da != db)
        return da ? -1 : 1; /* numbers below words */
    if (da && na != nb)
        return na < nb ? -1 : 1; /* no leading zeros: longer is larger */
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return na < nb ? -1 : na > nb;
}

static int cmp_pre(const char *a, const char *b)
{
    if (!*a || !*b)
        return !*a - !*b; /* a release is above its prereleases */
    for (;;) {
        size_t na = strcspn(a, "."), nb = strcspn(b, ".");
        int c = cmp_ident(a, na, b, nb);
        if (c != 0)
            return c;
        a += na;
        b += nb;
        if (!*a || !*b)
            return !*b - !*a; /* the shorter list is lower */
        a++;
        b++;
    }
}

int tp_semver_cmp(const tp_semver *a, const tp_semver *b)
{
    int c = sign_u64(a->major, b->major);
    if (!c)
        c = sign_u64(a->minor, b->minor);
    if (!c)
        c = sign_u64(a->patch, b->patch);
    return c ? c : cmp_pre(a->pre, b->pre);
}

static int sign(int c)
{
    return c < 0 ? -1 : c > 0;
}

int tp_semver_cmp_str(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    tp_semver va, vb;
    int oka = tp_semver_parse(a, &va) == 0, okb = tp_semver_parse(b, &vb) == 0;
    if (oka != okb)
        return oka ? 1 : -1;
    int c = oka ? tp_semver_cmp(&va, &vb) : 0;
    return c ? c : sign(strcmp(a, b));
}

char *tp_semver_format(const tp_semver *v, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    snprintf(buf, size, "%" PRIu64 ".%" PRIu64 ".%" PRIu64 "%s%s%s%s", v->major, v->minor, v->patch,
             v->pre[0] ? "-" : "", v->pre, v->build[0] ? "+" : "", v->build);
    return buf;
}

/* --------------------------------------------------------------- ranges */

/* One token of a range: an operator and a partial version. */
typedef enum op_kind { K_NONE, K_EQ, K_LT, K_LE, K_GT, K_GE, K_CARET, K_TILDE } op_kind;

typedef struct partial {
    tp_semver v; /* missing or wildcard numbers are 0 */
    int nparts;  /* numbers given: 0 ("*") to 3 */
} partial;

typedef struct range_ctx {
    tp_semver_range *out;
    const char *text; /* the whole range, for messages */
    tp_error *err;
} range_ctx;

static const char range_forms[] =
    "use an exact version (1.0.1), comparators joined by spaces (>=1.2.0 <2.0.0), "
    "^1.2.3, ~1.2.3 or a wildcard (1.x, 1.2.*, *)";

static int range_fail(range_ctx *c, const char *what)
{
    return tp_error_set(c->err, TP_ECONFIG, "version range \"%.100s\": %s; %s", c->text, what,
                        range_forms);
}

static op_kind parse_op(const char **p)
{
    static const struct {
        const char *text;
        op_kind kind;
    } ops[] = {{">=", K_GE}, {"<=", K_LE},   {">", K_GT},   {"<", K_LT},
               {"=", K_EQ},  {"^", K_CARET}, {"~", K_TILDE}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(*p, ops[i].text, n) == 0) {
            *p += n;
            return ops[i].kind;
        }
    }
    return K_NONE;
}

static int is_wild(char c)
{
    return c == 'x' || c == 'X' || c == '*';
}

/* A partial version "1", "1.2", "1.2.3[-pre][+build]", "1.x", "1.2.*",
 * "*" ending at a space or the end.  Returns 0 or -1. */
static int parse_partial(const char **p, partial *out)
{
    memset(out, 0, sizeof *out);
    uint64_t *num[3] = {&out->v.major, &out->v.minor, &out->v.patch};
    const char *s = *p;
    int wild = 0;
    for (int i = 0; i < 3; i++) {
        if (i > 0 && *s++ != '.')
            return -1;
        if (is_wild(*s)) {
            wild = 1;
            s++;
        } else if (wild || parse_num(&s, num[i]) < 0) {
            return -1; /* "1.x.3": a number after a wildcard */
        } else {
            out->nparts = i + 1;
        }
        if (*s != '.')
            break;
    }
    if (out->nparts == 3 && parse_tail(&s, &out->v) < 0)
        return -1;
    if (*s != '\0' && *s != ' ' && *s != '\t')
        return -1;
    *p = s;
    return 0;
}

static int add_cmp(range_ctx *c, tp_semver_op op, const tp_semver *v)
{
    if (c->out->n >= TP_SEMVER_RANGE_MAX)
        return range_fail(c, "more than 8 comparators (a ^, ~ or wildcard counts two)");
    c->out->c[c->out->n].op = op;
    c->out->c[c->out->n].v = *v;
    c->out->n++;
    return 0;
}

/* v with its number `part` (0 major, 1 minor, 2 patch) raised by one and
 * the ones after it zeroed, prerelease and build dropped. */
static int bump(range_ctx *c, const tp_semver *v, int part, tp_semver *out)
{
    memset(out, 0, sizeof *out);
    uint64_t n[3] = {v->major, v->minor, v->patch};
    if (n[part] == UINT64_MAX)
        return range_fail(c, "a version number too large to raise");
    out->major = part == 0 ? n[0] + 1 : n[0];
    out->minor = part == 1 ? n[1] + 1 : part > 1 ? n[1] : 0;
    out->patch = part == 2 ? n[2] + 1 : 0;
    return 0;
}

/* >= lo and < (lo with `part` raised). */
static int add_span(range_ctx *c, const tp_semver *lo, int part)
{
    tp_semver hi;
    int rc = bump(c, lo, part, &hi);
    if (rc == 0)
        rc = add_cmp(c, TP_SEMVER_GE, lo);
    return rc == 0 ? add_cmp(c, TP_SEMVER_LT, &hi) : rc;
}

/* The part a caret raises: the first non-zero one given, else the last
 * one given (^0.0.3: patch; ^0.0: minor; ^0: major). */
static int caret_part(const partial *pv)
{
    if (pv->v.major > 0 || pv->nparts == 1)
        return 0;
    if (pv->v.minor > 0 || pv->nparts == 2)
        return 1;
    return 2;
}

static int expand(range_ctx *c, op_kind k, const partial *pv)
{
    const tp_semver *v = &pv->v;
    int np = pv->nparts;
    if (np == 0) {
        if (k == K_GT || k == K_LT)
            return range_fail(c, "a comparator that no version can match");
        return 0; /* *, =*, >=*, <=*, ^*, ~*: any version */
    }
    switch (k) {
    case K_NONE:
    case K_EQ: return np == 3 ? add_cmp(c, TP_SEMVER_EQ, v) : add_span(c, v, np - 1);
    case K_CARET: return add_span(c, v, caret_part(pv));
    case K_TILDE: return add_span(c, v, np == 1 ? 0 : 1);
    case K_GE: return add_cmp(c, TP_SEMVER_GE, v);
    case K_LT: return add_cmp(c, TP_SEMVER_LT, v);
    case K_GT:
    case K_LE: break;
    }
    if (np == 3)
        return add_cmp(c, k == K_GT ? TP_SEMVER_GT : TP_SEMVER_LE, v);
    tp_semver next; /* >1.2 is >=1.3.0; <=1.2 is <1.3.0 */
    int rc = bump(c, v, np - 1, &next);
    if (rc < 0)
        return rc;
    return add_cmp(c, k == K_GT ? TP_SEMVER_GE : TP_SEMVER_LT, &next);
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int tp_semver_range_parse(const char *s, tp_semver_range *out, tp_error *err)
{
    memset(out, 0, sizeof *out);
    range_ctx c = {out, s ? s : "", err};
    const char *p = skip_space(c.text);
    if (*p == '\0')
        return range_fail(&c, "empty");
    while (*p) {
        op_kind k = parse_op(&p);
        p = skip_space(p); /* ">= 1.2.3" as npm reads it */
        partial pv;
        if (*p == '\0' || parse_partial(&p, &pv) < 0) {
            int rc = range_fail(&c, "not a version or comparator where one was expected");
            memset(out, 0, sizeof *out);
            return rc;
        }
        int rc = expand(&c, k, &pv);
        if (rc < 0) {
            memset(out, 0, sizeof *out);
            return rc;
        }
        p = skip_space(p);
    }
    return 0;
}

static int holds(const tp_semver_comparator *c, const tp_semver *v)
{
    int d = tp_semver_cmp(v, &c->v);
    switch (c->op) {
    case TP_SEMVER_EQ: return d == 0;
    case TP_SEMVER_LT: return d < 0;
    case TP_SEMVER_LE: return d <= 0;
    case TP_SEMVER_GT: return d > 0;
    case TP_SEMVER_GE: return d >= 0;
    }
    return 0;
}

int tp_semver_range_match(const tp_semver_range *r, const tp_semver *v)
{
    int pre_named = 0;
    for (size_t i = 0; i < r->n && i < TP_SEMVER_RANGE_MAX; i++) {
        const tp_semver *cv = &r->c[i].v;
        if (!holds(&r->c[i], v))
            return 0;
        if (cv->pre[0] && cv->major == v->major && cv->minor == v->minor && cv->patch == v->patch)
            pre_named = 1;
    }
    return !v->pre[0] || pre_named;
}

int tp_semver_satisfies(const char *range, const char *version, tp_error *err)
{
    tp_semver_range r;
    int rc = tp_semver_range_parse(range, &r, err);
    if (rc < 0)
        return rc;
    tp_semver v;
    if (tp_semver_parse(version, &v) < 0)
        return tp_error_set(err, TP_EINVAL,
                            "version \"%.100s\": not a semver version; a plugin's version is "
                            "MAJOR.MINOR.PATCH, e.g. 1.0.1 or 2.0.0-beta.1",
                            version ? version : "");
    return tp_semver_range_match(&r, &v);
}

int tp_semver_pick(const tp_semver_range *r, const char *const *versions, size_t n)
{
    int best = -1, best_pre = -1;
    for (size_t i = 0; i < n && i < INT32_MAX; i++) {
        tp_semver v;
        if (!versions[i] || tp_semver_parse(versions[i], &v) < 0)
            continue;
        if (r && !tp_semver_range_match(r, &v))
            continue;
        int *slot = !r && v.pre[0] ? &best_pre : &best;
        if (*slot < 0 || tp_semver_cmp_str(versions[i], versions[*slot]) > 0)
            *slot = (int)i;
    }
    return best >= 0 ? best : best_pre;
}
