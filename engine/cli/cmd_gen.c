/* cmd_gen.c -- `tillpipe gen`: write a generated folder of POS reports, or
 * one big rd5000 file for benchmarks (see gen.h).
 *
 * Exit codes: 0 done, 2 bad command line (one line on stderr), 1 the
 * generation failed (one line on stderr).  A one-line summary goes to stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "gen.h"

static void usage(FILE *f)
{
    fputs("usage: tillpipe gen --branches N --days D --seed S --out DIR [options]\n"
          "       tillpipe gen --big-rd5000 BYTES --out FILE [--seed S]\n"
          "\n"
          "Write a deterministic folder of realistic POS end-of-day reports: for every\n"
          "branch, terminal and day the seven files a_<BRANCH>_<POS>_<type>_<date>_<HH-MM>_.csv.\n"
          "The same options always give byte-identical files.\n"
          "\n"
          "  --branches N      branches, 1..200 (BMC, MAGS, AYALA-FRN, BETA, ...)\n"
          "  --days D          consecutive business days, 1..3660\n"
          "  --seed S          any unsigned 64-bit number\n"
          "  --out DIR         output folder, created if missing (one level)\n"
          "  --terminals T     terminals per branch, 1..2 (default 2)\n"
          "  --start DATE      first business day, YYYY-MM-DD (default 2025-01-01)\n"
          "  --no-faults       no re-sent duplicates, missing files or bad rows\n"
          "  --orders N        exactly N order lines per terminal-day, 1..20000\n"
          "                    (default: varied, dozens to ~1,500)\n"
          "  --blpr-rows N     loyalty-file rows on day 1, 1..5000000 (default ~12000)\n"
          "  --big-rd5000 B    write one rd5000 file of about B bytes to --out FILE\n"
          "                    (suffix K, M or G for KiB, MiB, GiB)\n"
          "  --help            this text\n",
          f);
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tillpipe gen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see tillpipe gen --help)\n", stderr);
    va_end(ap);
    return 2;
}

/* A whole decimal number in lo..hi; no sign, spaces or trailing text. */
static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
    if (!s || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_seed(const char *s, unsigned long long *out)
{
    if (!s || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Bytes with an optional K/M/G (binary) suffix, 1 B .. 1 TiB. */
static int parse_bytes(const char *s, long long *out)
{
    if (!s || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 1)
        return -1;
    long long mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1LL << 10;
    else if (*end == 'M' || *end == 'm')
        mul = 1LL << 20;
    else if (*end == 'G' || *end == 'g')
        mul = 1LL << 30;
    if (mul > 1)
        end++;
    if (*end || v > (1LL << 40) / mul)
        return -1;
    *out = v * mul;
    return 0;
}

/* The message without the module's own "gen: " prefix. */
static const char *msg_of(const tp_error *e)
{
    return strncmp(e->msg, "gen: ", 5) == 0 ? e->msg + 5 : e->msg;
}

enum {
    O_BRANCHES = 256,
    O_DAYS,
    O_SEED,
    O_OUT,
    O_TERMINALS,
    O_START,
    O_NOFAULTS,
    O_ORDERS,
    O_BLPR,
    O_BIG
};

typedef struct gen_args {
    tp_gen_opts o;
    const char *out;
    long long big;
    int have_branches, have_days, have_seed, have_big, have_gen_only;
} gen_args;

/* One option: 0, or the exit status after saying why. */
static int one_option(int c, gen_args *a, char **argv)
{
    long long v;
    switch (c) {
    case O_BRANCHES:
        if (parse_num(optarg, 1, 200, &v))
            return bad("--branches wants a number 1..200, not \"%s\"", optarg);
        a->o.branches = (int)v;
        a->have_branches = 1;
        return 0;
    case O_DAYS:
        if (parse_num(optarg, 1, 3660, &v))
            return bad("--days wants a number 1..3660, not \"%s\"", optarg);
        a->o.days = (int)v;
        a->have_days = 1;
        return 0;
    case O_SEED:
        if (parse_seed(optarg, &a->o.seed))
            return bad("--seed wants an unsigned 64-bit number, not \"%s\"", optarg);
        a->have_seed = 1;
        return 0;
    case O_OUT:
        if (!*optarg)
            return bad("--out wants a path");
        a->out = optarg;
        return 0;
    case O_BIG:
        if (parse_bytes(optarg, &a->big))
            return bad("--big-rd5000 wants a size 1..1T bytes (suffix K, M, G), not \"%s\"",
                       optarg);
        a->have_big = 1;
        return 0;
    case ':': return bad("option %s needs a value", argv[optind - 1]);
    default: return bad("unknown option %s", argv[optind - 1]);
    }
}

/* An option of folder generation only: 0, or the exit status. */
static int folder_option(int c, gen_args *a)
{
    long long v;
    a->have_gen_only = 1;
    switch (c) {
    case O_TERMINALS:
        if (parse_num(optarg, 1, 2, &v))
            return bad("--terminals wants 1 or 2, not \"%s\"", optarg);
        a->o.terminals = (int)v;
        return 0;
    case O_START: a->o.start_date = optarg; return 0; /* checked by tp_gen_run */
    case O_NOFAULTS: a->o.faults = 0; return 0;
    case O_ORDERS:
        if (parse_num(optarg, 1, 20000, &v))
            return bad("--orders wants a number 1..20000, not \"%s\"", optarg);
        a->o.orders_per_day = (int)v;
        return 0;
    default: /* O_BLPR */
        if (parse_num(optarg, 1, 5000000, &v))
            return bad("--blpr-rows wants a number 1..5000000, not \"%s\"", optarg);
        a->o.blpr_rows = v;
        return 0;
    }
}

/* Every option: -1 to go on, else the exit status (--help: 0). */
static int parse_args(int argc, char **argv, gen_args *a)
{
    static const struct option longopts[] = {{"branches", required_argument, NULL, O_BRANCHES},
                                             {"days", required_argument, NULL, O_DAYS},
                                             {"seed", required_argument, NULL, O_SEED},
                                             {"out", required_argument, NULL, O_OUT},
                                             {"terminals", required_argument, NULL, O_TERMINALS},
                                             {"start", required_argument, NULL, O_START},
                                             {"no-faults", no_argument, NULL, O_NOFAULTS},
                                             {"orders", required_argument, NULL, O_ORDERS},
                                             {"blpr-rows", required_argument, NULL, O_BLPR},
                                             {"big-rd5000", required_argument, NULL, O_BIG},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
#ifdef __GLIBC__
    optind = 0; /* full re-initialisation, also when a caller parsed before us */
#else
    optind = 1;
#endif
    opterr = 0;
    int c, st;
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        int folder =
            c == O_TERMINALS || c == O_START || c == O_NOFAULTS || c == O_ORDERS || c == O_BLPR;
        if ((st = folder ? folder_option(c, a) : one_option(c, a, argv)) != 0)
            return st;
    }
    if (optind < argc)
        return bad("unexpected argument \"%s\"", argv[optind]);
    if (!a->out)
        return bad("--out is required");
    if (a->have_big && (a->have_branches || a->have_days || a->have_gen_only))
        return bad("--big-rd5000 takes only --out and --seed");
    if (!a->have_big && (!a->have_branches || !a->have_days || !a->have_seed))
        return bad("--branches, --days and --seed are required");
    return -1;
}

static int write_big(const gen_args *a)
{
    tp_error err = {0};
    if (tp_gen_big_rd5000(a->out, a->big, a->o.seed, &err) != 0) {
        fprintf(stderr, "tillpipe gen: %s\n", msg_of(&err));
        return 1;
    }
    struct stat st;
    double mb = stat(a->out, &st) == 0 ? (double)st.st_size / 1e6 : (double)a->big / 1e6;
    printf("wrote %s (%.1f MB)\n", a->out, mb);
    return 0;
}

static int write_folder(gen_args *a)
{
    tp_error err = {0};
    tp_gen_stats st;
    a->o.out_dir = a->out;
    int rc = tp_gen_run(&a->o, &st, &err);
    if (rc != 0) {
        fprintf(stderr, "tillpipe gen: %s\n", msg_of(&err));
        return rc == TP_EINVAL ? 2 : 1;
    }
    printf("wrote %lld files (%.1f MB) to %s: %lld order lines, %lld terminal-days\n", st.files,
           (double)st.bytes / 1e6, a->out, st.order_lines, st.terminal_days);
    return 0;
}

int tp__cmd_gen(int argc, char **argv)
{
    gen_args a = {0};
    tp_gen_opts_init(&a.o);
    int st = parse_args(argc, argv, &a);
    if (st >= 0)
        return st;
    return a.have_big ? write_big(&a) : write_folder(&a);
}
