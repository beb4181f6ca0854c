/* cmd_package.c -- `tillpipe plugin keygen|pack|verify|install|remove`: a
 * release engineer's keys, signed plugin packages, and installing them into
 * the plugin folder side by side (docs/sdk.md, sections 4 and 5). */
#include "cmd_package.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pipeline/package.h"

static const char package_usage[] =
    "usage: tillpipe plugin keygen KEYFILE [--comment TEXT]\n"
    "       tillpipe plugin pack PLUGIN.so --key KEYFILE --out PKG\n"
    "       tillpipe plugin verify PKG --trusted-keys DIR\n"
    "       tillpipe plugin install PKG [--plugins DIR] [--trusted-keys DIR] [--force]\n"
    "       tillpipe plugin remove NAME[@VERSION] [--plugins DIR]\n";

/* The options of every package subcommand; each takes those it allows. */
typedef struct pkg_opts {
    const char *key, *out, *trusted, *plugins, *comment;
    int force;
    const char *arg; /* the one positional argument */
} pkg_opts;

static const struct option pkg_long[] = {{"key", required_argument, 0, 'k'},
                                         {"out", required_argument, 0, 'o'},
                                         {"trusted-keys", required_argument, 0, 't'},
                                         {"plugins", required_argument, 0, 'P'},
                                         {"comment", required_argument, 0, 'c'},
                                         {"force", no_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};

/* Parse argv (argv[0] the subcommand) allowing the options whose codes are
 * in `allowed`.  -1 when fine, else the exit status after saying why. */
static int parse_opts(int argc, char **argv, const char *allowed, pkg_opts *o)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "plugin %s", argv[0]);
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c, li = 0;
    while ((c = getopt_long(argc, argv, "", pkg_long, &li)) != -1) {
        if (c == 'h') {
            fputs(package_usage, stdout);
            return TP_EXIT_OK;
        }
        if (c == '?' || c == ':')
            return tp__bad_option(cmd, argv);
        if (!strchr(allowed, c)) {
            tp__die_msg(cmd, "option --%s does not apply here", pkg_long[li].name);
            fputs(package_usage, stderr);
            return TP_EXIT_USAGE;
        }
        switch (c) {
        case 'k': o->key = optarg; break;
        case 'o': o->out = optarg; break;
        case 't': o->trusted = optarg; break;
        case 'P': o->plugins = optarg; break;
        case 'c': o->comment = optarg; break;
        default: o->force = 1; break;
        }
    }
    if (argc - optind != 1) {
        tp__die_msg(cmd, "takes exactly one argument (%d given)", argc - optind);
        fputs(package_usage, stderr);
        return TP_EXIT_USAGE;
    }
    o->arg = argv[optind];
    return -1;
}

/* "--NAME is required" when v is NULL: the exit status, else -1. */
static int need(const char *v, const char *cmd, const char *what)
{
    if (v)
        return -1;
    tp__die_msg(cmd, "%s is required", what);
    fputs(package_usage, stderr);
    return TP_EXIT_USAGE;
}

static int cmd_keygen(const pkg_opts *o)
{
    char id[TP_KEY_ID_HEX];
    tp_error err = {0};
    if (tp_key_generate(o->arg, o->comment, id, &err) < 0)
        return tp__fail("plugin keygen", &err);
    printf("secret key: %s (mode 0600: keep it private; it signs your packages)\n"
           "public key: %s.pub (key id %s): copy it into the trusted keys folder of every "
           "tillpipe that should accept your packages\n",
           o->arg, o->arg, id);
    return TP_EXIT_OK;
}

static int cmd_pack(const pkg_opts *o)
{
    int rc = need(o->key, "plugin pack", "--key KEYFILE");
    if (rc < 0)
        rc = need(o->out, "plugin pack", "--out PKG");
    if (rc >= 0)
        return rc;
    tp_package_info info;
    tp_error err = {0};
    if (tp_package_pack(o->arg, o->key, o->out, tp__plugin_sandbox(&err), &info, &err) < 0)
        return tp__fail("plugin pack", &err);
    FILE *f = strcmp(o->out, "-") == 0 ? stderr : stdout;
    fprintf(f, "packed %s %s (ABI %s, %s, sha256 %s) into %s, signed by key %s\n", info.name,
            info.version, info.abi, info.file, info.sha256, o->out, info.key_id);
    return TP_EXIT_OK;
}

static void print_info(const tp_package_info *i)
{
    printf("  plugin:   %s %s (ABI %s)\n  types:    %s\n  branches: %s\n  file:     %s, %llu "
           "bytes, sha256 %s\n",
           i->name, i->version, i->abi, i->types, i->branches, i->file, (unsigned long long)i->size,
           i->sha256);
}

static int cmd_verify(const pkg_opts *o)
{
    int rc = need(o->trusted, "plugin verify", "--trusted-keys DIR");
    if (rc >= 0)
        return rc;
    tp_package_info info;
    tp_error err = {0};
    if (tp_package_verify(o->arg, o->trusted, &info, &err) < 0)
        return tp__fail("plugin verify", &err);
    printf("OK: %s is %s %s, signed by key %s (%s)\n", o->arg, info.name, info.version, info.key_id,
           info.key_file);
    print_info(&info);
    return TP_EXIT_OK;
}

static int cmd_install(const pkg_opts *o)
{
    char buf[PATH_MAX], path[PATH_MAX];
    tp_package_install_opts io = {.plugin_dir = tp__plugin_dir(o->plugins, buf, sizeof buf),
                                  .trusted_dir = o->trusted,
                                  .force = o->force};
    tp_package_info info;
    tp_error err = {0};
    int rc = tp_package_install(o->arg, &io, &info, path, sizeof path, &err);
    if (rc < 0)
        return tp__fail("plugin install", &err);
    if (rc == 1)
        printf("%s %s is installed already as %s (the same files): nothing to do\n", info.name,
               info.version, path);
    else
        printf("installed %s %s as %s\n", info.name, info.version, path);
    if (info.verified)
        printf("signed by key %s, verified with %s\n", info.key_id, info.key_file);
    else
        printf("signed by key %s, not verified here (no --trusted-keys): a tillpipe run with "
               "--trusted-keys (or $TILLPIPE_TRUSTED_KEYS) checks it when it loads the plugin\n",
               info.key_id);
    return TP_EXIT_OK;
}

static void print_removed(void *ud, const char *name, const char *version, const char *so_path)
{
    (void)ud;
    printf("removed %s %s (%s and its sidecars)\n", name, version, so_path);
}

static int cmd_remove(const pkg_opts *o)
{
    char name[TP_PACKAGE_NAME_MAX * 2 + 2];
    if (strlen(o->arg) >= sizeof name)
        name[0] = '\0';
    else
        snprintf(name, sizeof name, "%s", o->arg);
    char *at = strchr(name, '@');
    if (at)
        *at++ = '\0';
    if (!tp_package_name_ok(name) || (at && !tp_package_name_ok(at))) {
        tp__die_msg("plugin remove", "\"%s\" is not NAME or NAME@VERSION", o->arg);
        return TP_EXIT_USAGE;
    }
    char buf[PATH_MAX];
    tp_error err = {0};
    if (tp_package_remove(tp__plugin_dir(o->plugins, buf, sizeof buf), name, at, print_removed,
                          NULL, &err) < 0)
        return tp__fail("plugin remove", &err);
    return TP_EXIT_OK;
}

static const struct {
    const char *name;
    const char *allowed; /* option codes */
    int (*run)(const pkg_opts *o);
} package_cmds[] = {{"keygen", "c", cmd_keygen},
                    {"pack", "ko", cmd_pack},
                    {"verify", "t", cmd_verify},
                    {"install", "Ptf", cmd_install},
                    {"remove", "P", cmd_remove}};

int tp__plugin_package_sub(const char *sub)
{
    for (size_t i = 0; sub && i < sizeof package_cmds / sizeof package_cmds[0]; i++)
        if (strcmp(sub, package_cmds[i].name) == 0)
            return 1;
    return 0;
}

int tp__cmd_plugin_package(int argc, char **argv)
{
    for (size_t i = 0; argc > 0 && i < sizeof package_cmds / sizeof package_cmds[0]; i++) {
        if (strcmp(argv[0], package_cmds[i].name) != 0)
            continue;
        pkg_opts o;
        int rc = parse_opts(argc, argv, package_cmds[i].allowed, &o);
        return rc >= 0 ? rc : package_cmds[i].run(&o);
    }
    tp__die_msg("plugin", "unknown subcommand \"%s\" (keygen, pack, verify, install, remove)",
                argc > 0 ? argv[0] : "");
    return TP_EXIT_USAGE;
}
