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
#include "io/config_file.h"
#include "io/output.h"
#include "pipeline/parse.h"
#include "core/reports.h"

static const char parse_usage[] =
    "usage: tillpipe parse --type TYPE [--branch B] [--plugin NAME] FILE|-\n"
    "  --type TYPE        rd5000, rd5800, rd5500, rd1800, discount, rd5900 or blpr\n"
    "                     (default: taken from a report file name)\n"
    "  --branch B         parse as branch B does (its override plugin and options)\n"
    "  --plugin NAME      use this plugin, whatever the configuration says\n"
    "  --branches FILE    branch configuration (default: built-in)\n"
    "  --plugins DIR      plugin directory\n";

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

int tp__cmd_parse(int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, 0, 't'},     {"branch", required_argument, 0, 'b'},
        {"plugin", required_argument, 0, 'n'},   {"branches", required_argument, 0, 'c'},
        {"plugins", required_argument, 0, 'P'},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *type = NULL, *branch = NULL, *plugin_name = NULL, *branches = NULL,
               *plugin_dir = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': type = optarg; break;
        case 'b': branch = optarg; break;
        case 'n': plugin_name = optarg; break;
        case 'c': branches = optarg; break;
        case 'P': plugin_dir = optarg; break;
        case 'h': fputs(parse_usage, stdout); return TP_EXIT_OK;
        default:
            tp__die_msg("parse", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            fputs(parse_usage, stderr);
            return TP_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        tp__die_msg("parse", optind == argc ? "a FILE to parse is required"
                                            : "exactly one FILE, please");
        fputs(parse_usage, stderr);
        return TP_EXIT_USAGE;
    }
    const char *path = argv[optind];
    tp_report_name rn;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int named = tp_report_name_parse(base, &rn, NULL) == 0;
    if (!type && named)
        type = tp_schema_of(rn.type)->name;
    if (!branch && named)
        branch = rn.branch;
    if (!type) {
        tp__die_msg("parse", "--type is required (the file name is not a report name)");
        return TP_EXIT_USAGE;
    }
    int t = tp_schema_find(type);
    if (t < 0) {
        tp__die_msg("parse", "unknown report type \"%s\" (known: %s)", type, tp_schema_names());
        return TP_EXIT_USAGE;
    }

    tp_error err = {0};
    int exit_code = TP_EXIT_FAIL;
    tp_config *cfg = NULL;
    tp_registry *reg = NULL;
    FILE *in = NULL;
    if (!(cfg = tp_config_load(branches, &err)) || !(reg = tp__load_plugins(plugin_dir, 0, &err)))
        goto fail;
    const tp_branch_cfg *bc = branch ? tp_config_branch(cfg, branch) : NULL;
    char why[160];
    const tp_plugin *p = tp_registry_resolve(
        reg, type, branch, plugin_name ? plugin_name : tp_branch_plugin(bc, type), why,
        sizeof why, &err);
    if (!p)
        goto fail;
    if (plugin_name)
        snprintf(why, sizeof why, "%s %s: named on the command line", p->desc->name,
                 p->desc->version);
    if (strcmp(path, "-") == 0)
        in = stdin;
    else if (!(in = fopen(path, "rb"))) {
        tp_error_set(&err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: %s", path,
                     strerror(errno));
        goto fail;
    }
    parse_out o = {tp_schema_of(t), stdout};
    tp_parse_sink sink = {on_row, on_problem, &o};
    tp_branch_type bt = {bc, type};
    tp_parse_options po = {tp_branch_type_option, &bt};
    tp_parse_stats st;
    int rc = tp_parse_stream(p, (tp_report_type)t, in, path, &po, &sink, &st, &err);
    if (fflush(stdout) != 0 && rc == TP_OK)
        rc = tp_error_set(&err, TP_EIO, "standard output: %s", strerror(errno));
    fprintf(stderr, "tillpipe parse: %s: %llu rows, %llu rejected, %llu warnings (parser %s)\n",
            path, (unsigned long long)st.rows, (unsigned long long)st.rejected,
            (unsigned long long)st.warnings, why);
    if (rc < 0)
        goto fail;
    exit_code = TP_EXIT_OK;
    goto out;
fail:
    tp__die_msg("parse", "%s", err.msg);
out:
    if (in && in != stdin)
        fclose(in);
    tp_registry_destroy(reg);
    tp_config_destroy(cfg);
    return exit_code;
}
