/* cli.c -- helpers shared by the subcommands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/audit.h"
#include "pipeline/sandbox.h"

#ifndef TP_PLUGIN_INSTALL_DIR
#define TP_PLUGIN_INSTALL_DIR "/usr/local/lib/tillpipe/plugins"
#endif
#ifndef TP_PLUGIN_INSTALL_REL_DIR /* from the installed binary's folder */
#define TP_PLUGIN_INSTALL_REL_DIR "../lib/tillpipe/plugins"
#endif

void tp__die_msg(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tillpipe %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int tp__parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *tp__plugin_dir(const char *opt, char *buf, size_t n)
{
    if (opt)
        return opt;
    const char *env = getenv("TILLPIPE_PLUGIN_DIR");
    if (env && *env)
        return env;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
        *slash = '\0';
        /* the build tree, then an install under any prefix */
        snprintf(buf, n, "%s/plugins", exe);
        if (is_dir(buf))
            return buf;
        if (TP_PLUGIN_INSTALL_REL_DIR[0] != '/') {
            char rel[PATH_MAX + 64];
            snprintf(rel, sizeof rel, "%s/%s", exe, TP_PLUGIN_INSTALL_REL_DIR);
            if (is_dir(rel) && realpath(rel, exe)) { /* named without "bin/.." */
                snprintf(buf, n, "%s", exe);
                return buf;
            }
        }
    }
    return TP_PLUGIN_INSTALL_DIR;
}

/* The plugins' host: the command line's choice, and the one sandbox of
 * the process (its helpers run whichever registry is current). */
static struct {
    int in_process;
    const char *trusted; /* --trusted-keys */
    tp_sandbox_opts limits;
    tp_sandbox *sandbox;
} host;

int tp__plugin_option(const char *cmd, int c, const char *arg)
{
    long v;
    if (c == TP__OPT_TRUSTED_KEYS) {
        host.trusted = arg;
        return TP_EXIT_OK;
    }
    if (c == TP__OPT_ISOLATION) {
        if (strcmp(arg, "none") != 0 && strcmp(arg, "process") != 0) {
            tp__die_msg(cmd, "--isolation takes \"process\" or \"none\", not \"%s\"", arg);
            return TP_EXIT_USAGE;
        }
        host.in_process = strcmp(arg, "none") == 0;
    } else if (tp__parse_long(arg, c == TP__OPT_PLUGIN_MEMORY ? 64 : 1,
                              c == TP__OPT_PLUGIN_MEMORY ? 1 << 20 : 86400, &v) < 0) {
        tp__die_msg(cmd, "%s takes %s, not \"%s\"",
                    c == TP__OPT_PLUGIN_MEMORY ? "--plugin-memory-mb" : "--plugin-timeout",
                    c == TP__OPT_PLUGIN_MEMORY ? "megabytes, 64 or more" : "seconds, 1 to 86400",
                    arg);
        return TP_EXIT_USAGE;
    } else if (c == TP__OPT_PLUGIN_MEMORY)
        host.limits.memory_mb = (unsigned)v;
    else
        host.limits.progress_s = (unsigned)v;
    return TP_EXIT_OK;
}

tp_sandbox *tp__plugin_sandbox(tp_error *err)
{
    if (!host.in_process && !host.sandbox) {
        if (!host.limits.helpers)
            host.limits.helpers = 1;
        host.sandbox = tp_sandbox_create(&host.limits, err);
    }
    return host.in_process ? NULL : host.sandbox;
}

tp_registry *tp__plugin_registry(int parallel, tp_error *err)
{
    if (!host.sandbox)
        host.limits.helpers = parallel > 0 ? (unsigned)parallel : 1;
    tp_sandbox *sb = tp__plugin_sandbox(err);
    if (!host.in_process && !sb)
        return NULL;
    tp_registry *r = tp_registry_create();
    if (!r) {
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    tp_registry_use_sandbox(r, sb);
    const char *trusted = host.trusted ? host.trusted : getenv("TILLPIPE_TRUSTED_KEYS");
    tp_registry_trust(r, trusted && *trusted ? trusted : NULL);
    return r;
}

tp_registry *tp__load_plugins(const char *opt, int quiet, int parallel, tp_error *err)
{
    char buf[PATH_MAX];
    const char *dir = tp__plugin_dir(opt, buf, sizeof buf);
    tp_registry *r = tp__plugin_registry(parallel, err);
    if (!r)
        return NULL;
    if (tp_registry_load_dir(r, dir, err) < 0) {
        tp_registry_destroy(r);
        return NULL;
    }
    if (!quiet)
        for (size_t i = 0; i < tp_registry_failure_count(r); i++)
            fprintf(stderr, "tillpipe: warning: %s\n", tp_registry_failure(r, i)->message);
    if (tp_registry_count(r) == 0) {
        tp_error_set(err, TP_ENOTFOUND,
                     "no plugin could be loaded from %s (set --plugins or TILLPIPE_PLUGIN_DIR)",
                     dir);
        tp_registry_destroy(r);
        return NULL;
    }
    return r;
}

void tp__unload_plugins(tp_registry *r)
{
    tp_registry_destroy(r);
    tp_sandbox_destroy(host.sandbox);
    host.sandbox = NULL;
}

tp_plugset *tp__load_plugset(const char *opt, int quiet, int parallel, tp_error *err)
{
    char buf[PATH_MAX];
    const char *dir = tp__plugin_dir(opt, buf, sizeof buf);
    if (!host.sandbox)
        host.limits.helpers = parallel > 0 ? (unsigned)parallel : 1;
    tp_sandbox *sb = tp__plugin_sandbox(err);
    if (!host.in_process && !sb)
        return NULL;
    const char *trusted = host.trusted ? host.trusted : getenv("TILLPIPE_TRUSTED_KEYS");
    return tp_plugset_create(dir, sb, trusted && *trusted ? trusted : NULL, quiet, err);
}

void tp__unload_plugset(tp_plugset *s)
{
    tp_plugset_destroy(s);
    tp_sandbox_destroy(host.sandbox);
    host.sandbox = NULL;
}

int tp__bad_option(const char *cmd, char **argv)
{
    tp__die_msg(cmd, "unknown or incomplete option \"%s\"", argv[optind - 1]);
    return TP_EXIT_USAGE;
}

int tp__fail(const char *cmd, const tp_error *err)
{
    tp__die_msg(cmd, "%s", err->msg);
    return TP_EXIT_FAIL;
}

tp_db *tp__cli_db(const char *cmd, const char *url_opt, int check)
{
    tp_error err = {0};
    tp_db *db = tp_db_connect(tp_db_url(url_opt), &err);
    if (db && check && tp_db_check_schema(db, &err) < 0) {
        tp_db_close(db);
        db = NULL;
    }
    if (!db)
        tp__die_msg(cmd, "%s", err.msg);
    return db;
}

const char *tp__cli_actor(char out[96])
{
    const struct passwd *pw = getpwuid(geteuid());
    snprintf(out, 96, "cli:%s", pw ? pw->pw_name : "unknown");
    return out;
}

int tp__cli_audit_in(tp_db *db, const char *action, const char *target, const char *details,
                     tp_error *err)
{
    char actor[96];
    return tp_audit_add(db, tp__cli_actor(actor), action, target, NULL, details, err);
}

void tp__cli_audit(tp_db *db, const char *action, const char *target, const char *details)
{
    tp_error e = {0};
    if (tp__cli_audit_in(db, action, target, details, &e) < 0)
        fprintf(stderr, "tillpipe: warning: not recorded in the audit log: %s\n", e.msg);
}

static volatile sig_atomic_t stop_flag;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

volatile sig_atomic_t *tp__stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    return &stop_flag;
}
