/* cmd_plugin_test.c -- `tillpipe plugin test PLUGIN.so`: the conformance kit
 * (pipeline/conform.h) on an integrator's plugin.  One line per check, a
 * summary; exit status 0 only when every check passed, 1 when one failed or
 * the kit could not run, 2 on a usage error. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/schema.h"
#include "pipeline/conform.h"

#define CMD "plugin test"

static const char test_usage[] =
    "usage: tillpipe plugin test PLUGIN.so [--cases DIR] [--type T] [--timeout S]\n"
    "                            [--memory-mb N] [--memory-limit-mb N]\n"
    "  --cases DIR          case folders, each with input.csv and optionally\n"
    "                       expected.jsonl, error, branch, options.json (or DIR/<plugin\n"
    "                       name>/ holding them, or one case folder); default: built-in\n"
    "                       smoke inputs for every report type the plugin parses\n"
    "  --type T             check report type T only (with --cases: parse them as T;\n"
    "                       default: the plugin's first type)\n"
    "  --timeout S          a check making no progress for S seconds is killed\n"
    "                       (1 to 3600, default 30)\n"
    "  --memory-mb N        megabytes of generated rows the memory check feeds\n"
    "                       (default 200; 0 skips the check)\n"
    "  --memory-limit-mb N  peak RSS growth the memory check allows, MiB (default 64)\n";

/* "--NAME must be ..." for a refused number; TP_EXIT_USAGE. */
static int bad_number(const char *name, const char *arg, long min, long max)
{
    tp__die_msg(CMD, "--%s must be a whole number from %ld to %ld, got \"%.40s\"", name, min, max,
                arg);
    fputs(test_usage, stderr);
    return TP_EXIT_USAGE;
}

/* -1 to go on with *o and *path filled, else the exit status. */
static int test_parse_opts(int argc, char **argv, tp_conform_opts *o, const char **path)
{
    static const struct option opts[] = {{"cases", required_argument, 0, 'c'},
                                         {"type", required_argument, 0, 't'},
                                         {"timeout", required_argument, 0, 'T'},
                                         {"memory-mb", required_argument, 0, 'm'},
                                         {"memory-limit-mb", required_argument, 0, 'l'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    int c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o->cases_dir = optarg; break;
        case 't': o->type = optarg; break;
        case 'T':
            if (tp__parse_long(optarg, 1, 3600, &v) < 0)
                return bad_number("timeout", optarg, 1, 3600);
            o->timeout_s = (unsigned)v;
            break;
        case 'm':
            if (tp__parse_long(optarg, 0, 1000000, &v) < 0)
                return bad_number("memory-mb", optarg, 0, 1000000);
            o->memory_input = v ? v * 1000 * 1000 : -1;
            break;
        case 'l':
            if (tp__parse_long(optarg, 1, 1048576, &v) < 0)
                return bad_number("memory-limit-mb", optarg, 1, 1048576);
            o->memory_limit = v * 1024 * 1024;
            break;
        case 'h': fputs(test_usage, stdout); return TP_EXIT_OK;
        default:
            tp__die_msg(CMD, "unknown or incomplete option \"%s\"", argv[optind - 1]);
            fputs(test_usage, stderr);
            return TP_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        tp__die_msg(CMD, optind == argc ? "a PLUGIN.so to test is required"
                                        : "exactly one PLUGIN.so, please");
        fputs(test_usage, stderr);
        return TP_EXIT_USAGE;
    }
    if (o->type && tp_schema_find(o->type) < 0) {
        tp__die_msg(CMD, "unknown report type \"%s\" (known: %s)", o->type, tp_schema_names());
        return TP_EXIT_USAGE;
    }
    *path = argv[optind];
    return -1;
}

int tp__cmd_plugin_test(int argc, char **argv)
{
    tp_conform_opts o;
    const char *path = NULL;
    int rc = test_parse_opts(argc, argv, &o, &path);
    if (rc >= 0)
        return rc;
    tp_error err = {0};
    tp_conform_result res;
    if (tp_conform_run(path, &o, &res, &err) < 0)
        return tp__fail(CMD, &err);
    return res.failed ? TP_EXIT_FAIL : TP_EXIT_OK;
}
