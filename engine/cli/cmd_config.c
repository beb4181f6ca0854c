/* cmd_config.c -- `tillpipe config show|check`: the branch configuration in
 * effect, and whether a configuration works with the installed plugins
 * before a run or an import finds out. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/schema.h"
#include "io/config_file.h"
#include "pipeline/parse.h"

static const char config_usage[] =
    "usage: tillpipe config show [FILE]\n"
    "       tillpipe config check [--plugins DIR] [--isolation none] [FILE]\n"
    "  show    print the configuration in effect as JSON: the built-in chain configuration,\n"
    "          or FILE's (an \"extends\": \"builtin\" resolved); valid input for --branches\n"
    "  check   load FILE (default: the built-in one) and, for every branch and report type,\n"
    "          resolve the plugin as a run would and open it with the branch's options:\n"
    "          a missing plugin, one that does not parse the type, an option it refuses\n"
    "          or never reads (plugins read their options when they open) is a problem\n"
    "  --plugins DIR   plugin directory\n";

/* Options of one (branch, type), handed to the plugin; notes which keys
 * the plugin asked for. */
typedef struct asked_opts {
    tp_branch_type bt;
    char asked[512]; /* "key, key, ..." */
    int truncated;
} asked_opts;

/* 1 when `key` is one of the ", "-separated names in `list`. */
static int listed(const char *list, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = list; (p = strstr(p, key)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

static const char *asked_get(void *ud, const char *key)
{
    asked_opts *a = ud;
    size_t n = strlen(a->asked);
    if (!listed(a->asked, key)) {
        if (n + strlen(key) + 3 < sizeof a->asked)
            snprintf(a->asked + n, sizeof a->asked - n, "%s%s", n ? ", " : "", key);
        else
            a->truncated = 1; /* then no option is called unread */
    }
    return tp_branch_type_option(&a->bt, key);
}

typedef struct check_state {
    const char *source;
    const tp_registry *reg;
    int problems, pairs, chosen, options;
} check_state;

static void problem(check_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(check_state *s, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tillpipe config check: %s: ", s->source);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    s->problems++;
}

/* Open the plugin on an empty input with the branch's options: what it
 * refuses, and the options it never asked for. */
static void check_options(check_state *s, const tp_plugin *p, const tp_branch_cfg *bc, int t)
{
    const char *type = tp_schema_of(t)->name;
    asked_opts a = {.bt = {bc, type}};
    tp_parse_options po = {.get = asked_get, .ud = &a};
    tp_parse_sink quiet = {NULL, NULL, NULL}; /* rows and problems of nothing */
    char name[96];
    snprintf(name, sizeof name, "branch %s: parsers.%s", bc->code, type);
    FILE *empty = fopen("/dev/null", "rb");
    tp_error err = {0};
    int rc = empty ? tp_parse_stream(p, (tp_report_type)t, empty, name, &po, &quiet, NULL, &err)
                   : tp_error_set(&err, TP_EIO, "/dev/null: cannot open");
    if (empty)
        fclose(empty);
    /* an empty input may well be a parse error; only a refusal is about
     * the configuration */
    if (rc != TP_OK && rc != TP_EPARSE)
        problem(s, "%s", err.msg);
    const char *key;
    for (size_t i = 0; (key = tp_branch_option_at(bc, type, i, NULL)); i++) {
        s->options++;
        if (!listed(a.asked, key) && !a.truncated)
            problem(s, "%s.options.%s: plugin %s does not read this option (it reads: %s)", name,
                    key, p->desc->name, a.asked[0] ? a.asked : "none");
    }
}

static void check_branch(check_state *s, const tp_branch_cfg *bc)
{
    for (int t = 0; t < TP_TYPE_COUNT; t++) {
        const char *type = tp_schema_of(t)->name, *named = tp_branch_plugin(bc, type);
        char why[160];
        tp_error err = {0};
        const tp_plugin *p =
            tp_registry_resolve(s->reg, type, bc->code, named, tp_branch_plugin_version(bc, type),
                                why, sizeof why, &err);
        s->pairs++;
        if (!p) {
            problem(s, "%s", err.msg);
            continue;
        }
        s->chosen += named || !tp_plugin_is_generic(p);
        check_options(s, p, bc, t);
    }
}

static int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {{"plugins", required_argument, 0, 'P'},
                                         {"help", no_argument, 0, 'h'},
                                         TP__PLUGIN_OPTIONS,
                                         {0, 0, 0, 0}};
    const char *plugin_dir = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(config_usage, stdout); return TP_EXIT_OK;
        case 'P':
            plugin_dir = optarg;
            break;
        TP__PLUGIN_OPTION_CASES:
            if (tp__plugin_option("config", c, optarg) != TP_EXIT_OK)
                return TP_EXIT_USAGE;
            break;
        default: return tp__bad_option("config", argv);
        }
    }
    if (argc - optind > 1) {
        tp__die_msg("config", "check takes one FILE");
        return TP_EXIT_USAGE;
    }
    tp_error err = {0};
    tp_config *cfg = tp_config_load(optind < argc ? argv[optind] : NULL, &err);
    tp_registry *reg = cfg ? tp__load_plugins(plugin_dir, 0, 1, &err) : NULL;
    if (!reg) {
        tp_config_destroy(cfg);
        return tp__fail("config check", &err);
    }
    check_state s = {tp_config_source(cfg), reg, 0, 0, 0, 0};
    size_t n = tp_config_count(cfg);
    for (size_t i = 0; i < n; i++)
        check_branch(&s, tp_config_at(cfg, i));
    if (s.problems)
        fprintf(stderr, "tillpipe config check: %s: %d problem%s\n", s.source, s.problems,
                s.problems == 1 ? "" : "s");
    else
        printf("%s: ok: %zu branch%s, %d (branch, report type) pairs resolved to loaded "
               "plugins (%d named or overridden), %d parser option%s accepted\n",
               s.source, n, n == 1 ? "" : "es", s.pairs, s.chosen, s.options,
               s.options == 1 ? "" : "s");
    tp__unload_plugins(reg);
    tp_config_destroy(cfg);
    return s.problems ? TP_EXIT_FAIL : TP_EXIT_OK;
}

static int cmd_show(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'h')
            return tp__bad_option("config", argv);
        fputs(config_usage, stdout);
        return TP_EXIT_OK;
    }
    if (argc - optind > 1) {
        tp__die_msg("config", "show takes one FILE at most");
        return TP_EXIT_USAGE;
    }
    tp_error err = {0};
    tp_config *cfg = tp_config_load(optind < argc ? argv[optind] : NULL, &err);
    if (!cfg)
        return tp__fail("config show", &err);
    char *text = tp_config_dump(cfg);
    tp_config_destroy(cfg);
    if (!text) {
        tp__die_msg("config show", "out of memory");
        return TP_EXIT_FAIL;
    }
    puts(text);
    free(text);
    if (fflush(stdout) != 0) {
        tp__die_msg("config show", "standard output: write error");
        return TP_EXIT_FAIL;
    }
    return TP_EXIT_OK;
}

int tp__cmd_config(int argc, char **argv)
{
    if (argc < 2) {
        fputs(config_usage, stderr);
        return TP_EXIT_USAGE;
    }
    if (strcmp(argv[1], "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(config_usage, stdout);
        return TP_EXIT_OK;
    }
    tp__die_msg("config", "unknown subcommand \"%s\" (show, check)", argv[1]);
    return TP_EXIT_USAGE;
}
