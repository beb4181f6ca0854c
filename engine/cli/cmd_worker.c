/* cmd_worker.c -- `tillpipe worker`: claim and run jobs until stopped; and
 * the worker environment (store, fetcher, plugins) that `serve` opens the
 * same way for its in-process workers. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "db/queue.h"

static const char usage[] =
    "usage: tillpipe worker (--server URL | --reports DIR) [--store S] [options]\n"
    "  --server URL       the report server's base URL (default $TILLPIPE_REPORT_SERVER;\n"
    "                     a branch's report_server overrides it)\n"
    "  --reports DIR      take terminal-days' files from this folder instead\n"
    "  --store S          raw-file store: fs:/path (default $TILLPIPE_STORE, else\n"
    "                     ./tillpipe-store) or s3://BUCKET?endpoint=HOST:PORT[&https=0]\n"
    "                     (keys: $TILLPIPE_S3_ACCESS_KEY, $TILLPIPE_S3_SECRET_KEY)\n"
    "  --max-in-flight N  requests at once to each report server, default 8\n"
    "  --rate N           requests per second to each report server (0: no limit), default 0\n"
    "  --retries N        tries after the first on transient fetch failures, default 3\n"
    "  --max-file-mb N    size cap per downloaded file or archive member, default 256\n"
    "  --workdir DIR      where jobs' work folders go (default: beside an fs store,\n"
    "                     else $TMPDIR or /tmp)\n"
    "  --concurrency N    jobs run at once (threads), default 2\n"
    "  --lease S          lease seconds (heartbeat every S/6), default 60\n"
    "  --backoff S        first retry delay in seconds (doubling; 0: none), default 2\n"
    "  --drain S          after SIGTERM: finish or release jobs within S seconds (fractions\n"
    "                     allowed; a download or parse running then is stopped), default 30\n"
    "                     (SIGHUP reloads the plugin folder: jobs running finish on the\n"
    "                     plugins they started with, the next ones use the new set)\n"
    "  --exit-when-idle   stop once nothing is queued or running\n"
    "  --noop             benchmark the queue: complete each job without running it\n"
    "  --plugin-quarantine-after K  quarantine a plugin build after K plugin_failed\n"
    "                     parses in a row (default 3; 0: never)\n" TP__REPORT_SERVER_ALLOW_USAGE
        TP__PLUGIN_USAGE;

int tp__worker_env_open(tp__worker_env *e, const tp_worker_opts *o, const tp_fetch_opts *fo,
                        const char *store_opt, const char *plugin_dir, const char *cmd,
                        tp_error *err)
{
    memset(e, 0, sizeof *e);
    e->o = *o;
    /* A file size limit (RLIMIT_FSIZE) makes a write fail with EFBIG -- a
     * job's storage failure -- instead of killing the process. */
    signal(SIGXFSZ, SIG_IGN);
    if (tp_store_config_parse(tp_store_spec(store_opt), e->sbuf, sizeof e->sbuf, &e->scfg, err) <
            0 ||
        tp_store_open(&e->scfg, &e->store, err) < 0 ||
        tp_fetcher_create(fo, &e->fetcher, err) < 0) {
        tp__worker_env_close(e);
        return TP_ECONFIG;
    }
    /* Work folders beside an fs store: downloads are linked into it, not copied. */
    if (!e->o.workroot && strcmp(e->scfg.kind, "fs") == 0) {
        snprintf(e->workroot, sizeof e->workroot, "%s/.work", e->scfg.root);
        if (mkdir(e->workroot, 0700) == 0 || errno == EEXIST)
            e->o.workroot = e->workroot;
    }
    tp_error warn = {0};
    if (tp_store_check(e->store, &warn) < 0)
        fprintf(stderr, "tillpipe %s: warning: %s (jobs will retry until it answers)\n", cmd,
                warn.msg);
    if (!(e->plugins = tp__load_plugset(plugin_dir, o->quiet,
                                        o->concurrency > 0 ? o->concurrency + 1 : 2, err))) {
        tp__worker_env_close(e);
        return TP_EPLUGIN;
    }
    e->o.store = e->store;
    e->o.fetcher = e->fetcher;
    e->o.plugset = e->plugins;
    return TP_OK;
}

void tp__worker_env_close(tp__worker_env *e)
{
    tp__unload_plugset(e->plugins);
    tp_store_close(e->store);
    tp_fetcher_destroy(e->fetcher);
    e->plugins = NULL;
    e->store = NULL;
    e->fetcher = NULL;
}

int tp__worker_source(const char *cmd, tp_worker_opts *o, int needed)
{
    const char *env = getenv("TILLPIPE_REPORT_SERVER");
    if (!o->server && env && *env)
        o->server = env;
    if (needed && !o->reports_dir && !o->server) {
        tp__die_msg(cmd, "no source: pass --server URL (or set TILLPIPE_REPORT_SERVER), or "
                         "--reports DIR");
        return TP_EXIT_USAGE;
    }
    if (o->server && strncmp(o->server, "http://", 7) != 0 &&
        strncmp(o->server, "https://", 8) != 0) {
        tp__die_msg(cmd, "--server wants an http:// or https:// base URL, not \"%s\"", o->server);
        return TP_EXIT_USAGE;
    }
    return -1;
}

int tp__allow_option(const char *cmd, tp_allow **a, const char *arg)
{
    tp_error err = {0};
    if (!*a && !(*a = tp_allow_create()))
        tp_error_set(&err, TP_ENOMEM, "out of memory");
    else
        tp_allow_add(*a, arg, "--report-server-allow", &err);
    if (err.code == TP_OK)
        return TP_EXIT_OK;
    tp__die_msg(cmd, "%s", err.msg);
    return TP_EXIT_USAGE;
}

int tp__allow_finish(const char *cmd, tp_allow **a, const char *server)
{
    const char *env = getenv("TILLPIPE_REPORT_SERVER_ALLOW");
    tp_error err = {0};
    int given = *a != NULL;
    if (!*a && !(*a = tp_allow_create()))
        tp_error_set(&err, TP_ENOMEM, "out of memory");
    else if (!given && env && *env)
        tp_allow_add(*a, env, "$TILLPIPE_REPORT_SERVER_ALLOW", &err);
    if (err.code == TP_OK && server)
        tp_allow_add(*a, server, "the default report server", &err);
    if (err.code == TP_OK)
        return -1;
    tp__die_msg(cmd, "%s", err.msg);
    return TP_EXIT_USAGE;
}

typedef struct worker_args {
    tp_worker_opts o;
    tp_fetch_opts fo;
    tp_allow *allow;
    const char *db, *plugins, *store;
} worker_args;

/* A number option: 0, or the exit status after saying why. */
static int number_option(int c, const char *arg, char **argv, worker_args *a)
{
    long v;
    int fetch = strchr("iRtm", c) != NULL;
    long min = c == 'i' || c == 'm' || c == 'c' || c == 'l' ? 1 : 0;
    long max = c == 'm' ? 65536 : c == 'c' ? 64 : fetch || c == 'K' ? 10000 : 86400;
    if (tp__parse_long(arg, min, max, &v) < 0) {
        tp__die_msg("worker", "option \"%s\" wants a whole number in range", argv[optind - 1]);
        return TP_EXIT_USAGE;
    }
    switch (c) {
    case 'i': a->fo.max_in_flight = (int)v; break;
    case 'R': a->fo.max_per_second = (double)v; break;
    case 't': a->fo.retries = (int)v; break;
    case 'm': a->fo.max_file_bytes = (uint64_t)v << 20; break;
    case 'c': a->o.concurrency = (int)v; break;
    case 'l': a->o.lease_seconds = (int)v; break;
    case 'K': a->o.quarantine_after = v ? (int)v : -1; break;
    default: a->o.backoff_base = (double)v; break; /* 'b'; 0: retry at once */
    }
    return 0;
}

/* --drain S: seconds, fractions too (0.5), 0 to 86400; 0 or the exit
 * status. */
static int drain_option(const char *arg, worker_args *a)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= 0 && v <= 86400) ||
        strspn(arg, "0123456789.") != strlen(arg)) {
        tp__die_msg("worker",
                    "--drain wants seconds from 0 to 86400 (fractions allowed), not "
                    "\"%s\"",
                    arg);
        return TP_EXIT_USAGE;
    }
    a->o.drain_seconds = v;
    return 0;
}

/* -1 with a filled, else the exit status. */
static int parse_args(int argc, char **argv, worker_args *a)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"reports", required_argument, 0, 'r'},
                                         {"concurrency", required_argument, 0, 'c'},
                                         {"plugins", required_argument, 0, 'P'},
                                         {"lease", required_argument, 0, 'l'},
                                         {"backoff", required_argument, 0, 'b'},
                                         {"drain", required_argument, 0, 'd'},
                                         {"exit-when-idle", no_argument, 0, 'x'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {"noop", no_argument, 0, 'N'},
                                         {"server", required_argument, 0, 's'},
                                         {"store", required_argument, 0, 'S'},
                                         {"max-in-flight", required_argument, 0, 'i'},
                                         {"rate", required_argument, 0, 'R'},
                                         {"retries", required_argument, 0, 't'},
                                         {"max-file-mb", required_argument, 0, 'm'},
                                         {"workdir", required_argument, 0, 'w'},
                                         {"plugin-quarantine-after", required_argument, 0, 'K'},
                                         {"report-server-allow", required_argument, 0, 'A'},
                                         TP__PLUGIN_OPTIONS,
                                         {0, 0, 0, 0}};
    int c, st;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': a->db = optarg; break;
        case 'A':
            if (tp__allow_option("worker", &a->allow, optarg) != TP_EXIT_OK)
                return TP_EXIT_USAGE;
            break;
        case 'r': a->o.reports_dir = optarg; break;
        case 'P': a->plugins = optarg; break;
        case 'x': a->o.exit_when_idle = 1; break;
        case 'q': a->o.quiet = 1; break;
        case 'N': a->o.noop = 1; break;
        case 's': a->o.server = optarg; break;
        case 'S': a->store = optarg; break;
        case 'w': a->o.workroot = optarg; break;
        case 'h':
            fputs(usage, stdout);
            return TP_EXIT_OK;
        TP__PLUGIN_OPTION_CASES:
            if (tp__plugin_option("worker", c, optarg) != TP_EXIT_OK)
                return TP_EXIT_USAGE;
            break;
        case 'd':
            if ((st = drain_option(optarg, a)) != 0)
                return st;
            break;
        case 'i':
        case 'R':
        case 't':
        case 'm':
        case 'c':
        case 'l':
        case 'K':
        case 'b':
            if ((st = number_option(c, optarg, argv, a)) != 0)
                return st;
            break;
        default: return tp__bad_option("worker", argv);
        }
    }
    if ((st = tp__worker_source("worker", &a->o, !a->o.noop)) >= 0 ||
        (st = tp__allow_finish("worker", &a->allow, a->o.server)) >= 0)
        return st;
    a->fo.allow = a->allow;
    if (!(a->o.db_url = tp_db_url(a->db))) {
        tp__die_msg("worker", "no database: set TILLPIPE_DATABASE_URL or pass --database URL");
        return TP_EXIT_USAGE;
    }
    return -1;
}

int tp__cmd_worker(int argc, char **argv)
{
    worker_args a = {.o = {.concurrency = 2,
                           .lease_seconds = TP_LEASE_SECONDS,
                           .backoff_base = 2,
                           .drain_seconds = 30},
                     .fo = {.retries = -1, .backoff_base = -1}};
    int st = parse_args(argc, argv, &a);
    if (st >= 0) {
        tp_allow_destroy(a.allow);
        return st;
    }
    tp_error err = {0};
    tp__worker_env env;
    tp__sighup_catch(); /* before any thread starts */
    if (tp__worker_env_open(&env, &a.o, &a.fo, a.store, a.plugins, "worker", &err) < 0) {
        tp_allow_destroy(a.allow);
        return tp__fail("worker", &err);
    }
    env.o.stop = tp__stop_on_signals();
    tp_worker_stats s;
    int rc = tp__reloader_start(env.plugins, "worker", a.o.quiet, &err);
    if (rc == TP_OK)
        rc = tp_worker_run(&env.o, &s, &err);
    tp__reloader_stop();
    tp__worker_env_close(&env);
    tp_allow_destroy(a.allow);
    if (rc < 0)
        return tp__fail("worker", &err);
    if (!a.o.quiet)
        fprintf(stderr,
                "tillpipe worker: stopped: %lld succeeded, %lld retried, %lld failed, %lld "
                "cancelled, %lld released, %lld lost, %lld records\n",
                s.succeeded, s.retried, s.failed, s.cancelled, s.released, s.lost, s.records);
    return TP_EXIT_OK;
}
