/* cmd_parse.c -- `tillpipe parse`: one file through its plugin, as JSON
 * lines -- {"line":N,"row":{FIELD:VALUE...}} per row and
 * {"line":N,"severity":"error","problem":"..."} per problem -- for
 * integrators testing a parser.  Streams: memory does not grow with the
 * file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/reports.h"
#include "io/config_file.h"
#include "io/output.h"
#include "pipeline/parse.h"

static const char parse_usage[] =
    "usage: tillpipe parse --type TYPE [--branch B] [--plugin NAME] [--chunk-size N] FILE|-\n"
    "  --type TYPE        rd5000, rd5800, rd5500, rd1800, discount, rd5900 or blpr\n"
    "                     (default: taken from a report file name)\n"
    "  --branch B         parse as branch B does (its override plugin and options)\n"
    "  --plugin NAME      use this plugin, whatever the configuration says\n"
    "  --branches FILE    branch configuration (default: built-in)\n"
    "  --plugins DIR      plugin directory\n"
    "  --chunk-size N     feed the plugin N bytes at a time, 1 to 67108864 (64 MiB)\n"
    "                     (default 262144: the output must not depend on it)\n" TP__PLUGIN_USAGE;

/* The largest --chunk-size: one feed buffer is allocated of this size. */
#define PARSE_MAX_CHUNK (64L * 1024 * 1024)

typedef struct parse_out {
    const tp_schema *schema;
    FILE *f;
} parse_out;

static int on_row(void *ud, uint64_t line, const tp_field *fields, size_t n)
{
    parse_out *o = ud;
    tp_json_write_row(o->f, o->schema, line, fields, n);
    return ferror(o->f) ? -1 : 0;
}

static void on_problem(void *ud, uint64_t line, int severity, const char *reason)
{
    parse_out *o = ud;
    tp_json_write_problem(o->f, line, severity, reason);
}

typedef struct parse_opts {
    const char *type, *branch, *plugin_name, *branches, *plugin_dir;
    const char *path;  /* the FILE, "-" = standard input */
    size_t chunk_size; /* --chunk-size, 0 = the default */
    int t;             /* the report type */
    tp_report_name rn; /* the FILE's name, when a report name: default type and branch */
} parse_opts;

/* --chunk-size: bytes, 1..PARSE_MAX_CHUNK; -1 after saying why. */
static int parse_chunk_size(const char *arg, size_t *out)
{
    long v;
    if (tp__parse_long(arg, 1, PARSE_MAX_CHUNK, &v) < 0) {
        tp__die_msg("parse",
                    "--chunk-size must be a whole number of bytes from 1 to %ld (64 MiB), got "
                    "\"%.40s\"",
                    PARSE_MAX_CHUNK, arg);
        fputs(parse_usage, stderr);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* -1 to go on with *o filled (type and branch defaulted from a report file
 * name), else the exit status after saying why. */
static int parse_parse_opts(int argc, char **argv, parse_opts *o)
{
    static const struct option opts[] = {{"type", required_argument, 0, 't'},
                                         {"branch", required_argument, 0, 'b'},
                                         {"plugin", required_argument, 0, 'n'},
                                         {"branches", required_argument, 0, 'c'},
                                         {"plugins", required_argument, 0, 'P'},
                                         {"chunk-size", required_argument, 0, 'C'},
                                         {"help", no_argument, 0, 'h'},
                                         TP__PLUGIN_OPTIONS,
                                         {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': o->type = optarg; break;
        case 'b': o->branch = optarg; break;
        case 'n': o->plugin_name = optarg; break;
        case 'c': o->branches = optarg; break;
        case 'P': o->plugin_dir = optarg; break;
        case 'C':
            if (parse_chunk_size(optarg, &o->chunk_size) < 0)
                return TP_EXIT_USAGE;
            break;
        case 'h':
            fputs(parse_usage, stdout);
            return TP_EXIT_OK;
        TP__PLUGIN_OPTION_CASES:
            if (tp__plugin_option("parse", c, optarg) != TP_EXIT_OK)
                return TP_EXIT_USAGE;
            break;
        default:
            tp__die_msg("parse", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            fputs(parse_usage, stderr);
            return TP_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        tp__die_msg("parse",
                    optind == argc ? "a FILE to parse is required" : "exactly one FILE, please");
        fputs(parse_usage, stderr);
        return TP_EXIT_USAGE;
    }
    o->path = argv[optind];
    const char *base = strrchr(o->path, '/') ? strrchr(o->path, '/') + 1 : o->path;
    int named = tp_report_name_parse(base, &o->rn, NULL) == 0;
    if (!o->type && named)
        o->type = tp_schema_of(o->rn.type)->name;
    if (!o->branch && named)
        o->branch = o->rn.branch;
    if (!o->type) {
        tp__die_msg("parse", "--type is required (the file name is not a report name)");
        return TP_EXIT_USAGE;
    }
    if ((o->t = tp_schema_find(o->type)) < 0) {
        tp__die_msg("parse", "unknown report type \"%s\" (known: %s)", o->type, tp_schema_names());
        return TP_EXIT_USAGE;
    }
    return -1;
}

/* Parse o->path with the plugin of (branch, type) to standard output. */
static int parse_file(const parse_opts *o, const tp_config *cfg, const tp_registry *reg,
                      tp_error *err)
{
    const tp_branch_cfg *bc = o->branch ? tp_config_branch(cfg, o->branch) : NULL;
    char why[160];
    const tp_plugin *p = tp_registry_resolve(
        reg, o->type, o->branch, o->plugin_name ? o->plugin_name : tp_branch_plugin(bc, o->type),
        o->plugin_name ? NULL : tp_branch_plugin_version(bc, o->type), why, sizeof why, err);
    if (!p)
        return err->code;
    if (o->plugin_name)
        snprintf(why, sizeof why, "%s %s: named on the command line", p->desc->name,
                 p->desc->version);
    FILE *in = strcmp(o->path, "-") == 0 ? stdin : fopen(o->path, "rb");
    if (!in)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: %s", o->path,
                            strerror(errno));
    parse_out out = {tp_schema_of(o->t), stdout};
    tp_parse_sink sink = {on_row, on_problem, &out};
    tp_branch_type bt = {bc, o->type};
    tp_parse_options po = {.get = tp_branch_type_option,
                           .at = tp_branch_type_option_at,
                           .ud = &bt,
                           .chunk_size = o->chunk_size};
    tp_parse_stats st;
    int rc = tp_parse_stream(p, (tp_report_type)o->t, in, o->path, &po, &sink, &st, err);
    if (fflush(stdout) != 0 && rc == TP_OK)
        rc = tp_error_set(err, TP_EIO, "standard output: %s", strerror(errno));
    fprintf(stderr, "tillpipe parse: %s: %llu rows, %llu rejected, %llu warnings (parser %s)\n",
            o->path, (unsigned long long)st.rows, (unsigned long long)st.rejected,
            (unsigned long long)st.warnings, why);
    if (in != stdin)
        fclose(in);
    return rc;
}

int tp__cmd_parse(int argc, char **argv)
{
    parse_opts o;
    int rc = parse_parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    tp_error err = {0};
    tp_config *cfg = tp_config_load(o.branches, &err);
    tp_registry *reg = cfg ? tp__load_plugins(o.plugin_dir, 0, 1, &err) : NULL;
    int exit_code =
        reg && parse_file(&o, cfg, reg, &err) == TP_OK ? TP_EXIT_OK : tp__fail("parse", &err);
    tp__unload_plugins(reg);
    tp_config_destroy(cfg);
    return exit_code;
}
