/* cmd_plugin.c -- `tillpipe plugin list|info`: what is installed, and why a
 * plugin cannot load; the other subcommands (quarantine, keygen, pack,
 * verify, install, remove, test) are dispatched from here.  Plugins are
 * read in a sandboxed helper unless --isolation none: listing or inspecting
 * a file never runs its code in this process. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_package.h"
#include "db/plugins.h"
#include "io/elf.h"

static const char plugin_usage[] =
    "usage: tillpipe plugin list [--plugins DIR] [--database URL] [--isolation none]\n"
    "                            [--trusted-keys DIR]\n"
    "       tillpipe plugin info FILE.so [--isolation none]\n"
    "       tillpipe plugin test FILE.so [--cases DIR] [--type T]\n"
    "       tillpipe plugin quarantine [list] | clear SHA256 [--database URL]\n"
    "       tillpipe plugin keygen KEYFILE\n"
    "       tillpipe plugin pack PLUGIN.so --key KEYFILE --out PKG\n"
    "       tillpipe plugin verify PKG --trusted-keys DIR\n"
    "       tillpipe plugin install PKG [--plugins DIR] [--trusted-keys DIR] [--force]\n"
    "       tillpipe plugin remove NAME[@VERSION] [--plugins DIR]\n";

/* The plugin builds quarantined, when a database is configured (--database
 * or $TILLPIPE_DATABASE_URL): their count, or < 0 when none could be read. */
typedef struct quarantines {
    char sha[TP_HEALTH_LIST_MAX][65];
    int quarantined[TP_HEALTH_LIST_MAX];
    int n;
} quarantines;

static void read_quarantines(const char *db_opt, quarantines *q)
{
    q->n = -1;
    const char *url = tp_db_url(db_opt);
    if (!url || !*url)
        return;
    tp_error err = {0};
    tp_db *db = tp_db_connect(url, &err);
    if (db)
        q->n = tp_plugin_health_attention(db, q->sha, q->quarantined, TP_HEALTH_LIST_MAX, &err);
    tp_db_close(db);
    if (q->n < 0)
        fprintf(stderr, "tillpipe plugin: warning: quarantines not shown: %s\n", err.msg);
}

static int is_quarantined(const quarantines *q, const char *sha)
{
    for (int i = 0; i < q->n; i++)
        if (q->quarantined[i] && strcmp(q->sha[i], sha) == 0)
            return 1;
    return 0;
}

static void print_plugin(const tp_plugin *p, const quarantines *q)
{
    char types[256], branches[256];
    tp_plugin_list_str(p->desc->types, "", types, sizeof types);
    tp_plugin_list_str(p->desc->branches, "generic", branches, sizeof branches);
    printf("%-10s %-8s ABI %u.%u  types: %-24s branches: %s%s  sha256 %.12s%s\n", p->desc->name,
           p->desc->version, (unsigned)p->desc->abi_major, (unsigned)p->desc->abi_minor, types,
           branches, p->desc->flags & TP_PLUGIN_NAMED_ONLY ? " (named only)" : "", p->sha256,
           is_quarantined(q, p->sha256) ? "  QUARANTINED" : "");
}

/* The options list and info share: --plugins and the plugin host's. */
static int options(int argc, char **argv, const char **dir_opt, const char **db_opt)
{
    static const struct option opts[] = {{"plugins", required_argument, 0, 'P'},
                                         {"database", required_argument, 0, 'D'},
                                         TP__PLUGIN_OPTIONS,
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'P': *dir_opt = optarg; break;
        case 'D':
            *db_opt = optarg;
            break;
        TP__PLUGIN_OPTION_CASES:
            if (tp__plugin_option("plugin", c, optarg) != TP_EXIT_OK)
                return TP_EXIT_USAGE;
            break;
        default: return tp__bad_option("plugin", argv);
        }
    }
    return -1;
}

static int cmd_list(int argc, char **argv)
{
    const char *dir_opt = NULL, *db_opt = NULL;
    int st = options(argc, argv, &dir_opt, &db_opt);
    if (st >= 0)
        return st;
    quarantines q;
    read_quarantines(db_opt, &q);
    char buf[PATH_MAX];
    const char *dir = tp__plugin_dir(dir_opt, buf, sizeof buf);
    tp_error err = {0};
    tp_registry *r = tp__plugin_registry(1, &err);
    if (!r || tp_registry_load_dir(r, dir, &err) < 0) {
        tp__die_msg("plugin", "%s", err.msg);
        tp__unload_plugins(r);
        return TP_EXIT_FAIL;
    }
    printf("plugin directory: %s (host plugin ABI %d.%d)\n", dir, TP_SDK_ABI_MAJOR,
           TP_SDK_ABI_MINOR);
    for (size_t i = 0; i < tp_registry_count(r); i++)
        print_plugin(tp_registry_get(r, i), &q);
    size_t nfail = tp_registry_failure_count(r);
    for (size_t i = 0; i < nfail; i++)
        printf("NOT LOADED %s\n", tp_registry_failure(r, i)->message);
    if (tp_registry_count(r) == 0 && nfail == 0)
        printf("(no plugins)\n");
    tp__unload_plugins(r);
    return nfail ? TP_EXIT_FAIL : TP_EXIT_OK;
}

/* What the file is, from its bytes alone. */
static void print_elf(const tp_elf_info *e)
{
    printf("machine:  %s%s\nexports:  %zu symbol%s%s\n", e->machine,
           e->machine_ok ? "" : " (not this machine's)", e->nexports, e->nexports == 1 ? "" : "s",
           e->exports_entry ? ", tp_plugin_entry among them" : ", tp_plugin_entry NOT among them");
    printf("needs:   ");
    for (size_t i = 0; i < e->nneeded; i++)
        printf(" %s", e->needed[i]);
    printf("%s\nload runs: %zu constructor%s%s (in a sandboxed helper, unless --isolation none)\n",
           e->nneeded ? "" : " (nothing)", e->ninit_array + (e->has_init ? 1 : 0),
           e->ninit_array + (e->has_init ? 1 : 0) == 1 ? "" : "s",
           e->has_textrel ? ", text relocations" : "");
    if (e->build_id[0])
        printf("build id: %s\n", e->build_id);
}

static int cmd_info(int argc, char **argv)
{
    const char *unused = NULL, *unused_db = NULL;
    int st = options(argc, argv, &unused, &unused_db);
    if (st >= 0)
        return st;
    if (optind + 1 != argc) {
        tp__die_msg("plugin", "info takes exactly one FILE.so");
        return TP_EXIT_USAGE;
    }
    const char *path = argv[optind];
    tp_error err = {0};
    char sha[65];
    tp_elf_info elf;
    int fd = tp_plugin_open_checked(path, sha, &err);
    if (fd < 0)
        return tp__fail("plugin", &err);
    if (tp_elf_inspect_fd(fd, &elf, &err) < 0) {
        close(fd);
        tp_error_prefix(&err, "plugin %s: ", path);
        return tp__fail("plugin", &err);
    }
    tp_sandbox *sb = tp__plugin_sandbox(&err);
    tp_plugin *p = sb ? tp_plugin_describe_fd(sb, fd, path, sha, NULL, &err)
                      : tp_plugin_load_fd(fd, path, sha, NULL, &err);
    if (!p) {
        print_elf(&elf);
        tp__unload_plugins(NULL);
        return tp__fail("plugin", &err);
    }
    char types[256], branches[256];
    tp_plugin_list_str(p->desc->types, "", types, sizeof types);
    tp_plugin_list_str(p->desc->branches, "generic (all branches)", branches, sizeof branches);
    printf("file:     %s\nname:     %s\nversion:  %s\nlicense:  %s\nABI:      %u.%u "
           "(host %d.%d)\ntypes:    %s\nbranches: %s%s\nsha256:   %s\n",
           p->path, p->desc->name, p->desc->version, p->desc->license, (unsigned)p->desc->abi_major,
           (unsigned)p->desc->abi_minor, TP_SDK_ABI_MAJOR, TP_SDK_ABI_MINOR, types, branches,
           p->desc->flags & TP_PLUGIN_NAMED_ONLY ? " (named only)" : "", p->sha256);
    print_elf(&elf);
    tp_plugin_unload(p);
    tp__unload_plugins(NULL);
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
    if (strcmp(argv[1], "test") == 0)
        return tp__cmd_plugin_test(argc - 1, argv + 1);
    tp__die_msg("plugin",
                "unknown subcommand \"%s\" (list, info, test, quarantine, keygen, pack, verify, "
                "install, remove)",
                argv[1]);
    return TP_EXIT_USAGE;
}
