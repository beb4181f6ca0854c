/* cmd_plugin.c -- `tillpipe plugin list|info`: what is installed, and why a
 * plugin cannot load. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_package.h"

static const char plugin_usage[] = "usage: tillpipe plugin list [--plugins DIR]\n"
                                   "       tillpipe plugin info FILE.so\n";

static void print_plugin(const tp_plugin *p)
{
    char types[256], branches[256];
    tp_plugin_list_str(p->desc->types, "", types, sizeof types);
    tp_plugin_list_str(p->desc->branches, "generic", branches, sizeof branches);
    printf("%-10s %-8s ABI %u.%u  types: %-24s branches: %s\n", p->desc->name, p->desc->version,
           (unsigned)p->desc->abi_major, (unsigned)p->desc->abi_minor, types, branches);
}

static int cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {{"plugins", required_argument, 0, 'P'}, {0, 0, 0, 0}};
    const char *dir_opt = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'P') {
            tp__die_msg("plugin", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            return TP_EXIT_USAGE;
        }
        dir_opt = optarg;
    }
    char buf[PATH_MAX];
    const char *dir = tp__plugin_dir(dir_opt, buf, sizeof buf);
    tp_error err = {0};
    tp_registry *r = tp_registry_create();
    if (!r || tp_registry_load_dir(r, dir, &err) < 0) {
        tp__die_msg("plugin", "%s", r ? err.msg : "out of memory");
        tp_registry_destroy(r);
        return TP_EXIT_FAIL;
    }
    printf("plugin directory: %s (host plugin ABI %d.%d)\n", dir, TP_SDK_ABI_MAJOR,
           TP_SDK_ABI_MINOR);
    for (size_t i = 0; i < tp_registry_count(r); i++)
        print_plugin(tp_registry_get(r, i));
    size_t nfail = tp_registry_failure_count(r);
    for (size_t i = 0; i < nfail; i++)
        printf("NOT LOADED %s\n", tp_registry_failure(r, i)->message);
    if (tp_registry_count(r) == 0 && nfail == 0)
        printf("(no plugins)\n");
    tp_registry_destroy(r);
    return nfail ? TP_EXIT_FAIL : TP_EXIT_OK;
}

static int cmd_info(int argc, char **argv)
{
    if (argc != 2) {
        tp__die_msg("plugin", "info takes exactly one FILE.so");
        return TP_EXIT_USAGE;
    }
    tp_error err = {0};
    tp_plugin *p = tp_plugin_load(argv[1], &err);
    if (!p) {
        tp__die_msg("plugin", "%s", err.msg);
        return TP_EXIT_FAIL;
    }
    char types[256], branches[256];
    tp_plugin_list_str(p->desc->types, "", types, sizeof types);
    tp_plugin_list_str(p->desc->branches, "generic (all branches)", branches, sizeof branches);
    printf("file:     %s\nname:     %s\nversion:  %s\nlicense:  %s\nABI:      %u.%u "
           "(host %d.%d)\ntypes:    %s\nbranches: %s\nsha256:   %s\n",
           p->path, p->desc->name, p->desc->version, p->desc->license, (unsigned)p->desc->abi_major,
           (unsigned)p->desc->abi_minor, TP_SDK_ABI_MAJOR, TP_SDK_ABI_MINOR, types, branches,
           p->sha256);
    tp_plugin_unload(p);
    return TP_EXIT_OK;
}

int tp__cmd_plugin(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(plugin_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? TP_EXIT_USAGE : TP_EXIT_OK;
    }
    if (strcmp(argv[1], "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "quarantine") == 0)
        return tp__cmd_plugin_quarantine(argc - 1, argv + 1);
    if (tp__plugin_package_sub(argv[1]))
        return tp__cmd_plugin_package(argc - 1, argv + 1);
    tp__die_msg("plugin", "unknown subcommand \"%s\" (list, info)", argv[1]);
    return TP_EXIT_USAGE;
}
