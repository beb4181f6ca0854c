/* cmd_serve.c -- `tillpipe serve`: the HTTP API, with workers in the same
 * process unless --no-workers. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cli.h"
#include "db/queue.h"
#include "http.h"

static const char usage[] =
    "usage: tillpipe serve [--listen HOST:PORT] [--no-workers] [options]\n"
    "  --listen HOST:PORT   where to listen (default 127.0.0.1:8080; port 0 = any free one)\n"
    "  --port-file F        write the bound port to F once listening\n"
    "  --threads N          pooled database connections for requests (a thread serves\n"
    "                       each client connection), default one per CPU\n"
    "  --max-streams N      exports and event streams open at once (each has a\n"
    "                       database connection of its own), default 32; a quarter of\n"
    "                       them is kept for exports (event streams take the rest)\n"
    "  --max-streams-per-user N  streams one user may hold open (429 beyond), default 4\n"
    "  --max-connections N  client connections at once, default 1000\n"
    "  --max-conns-per-client N  connections from one address (refused beyond), default\n"
    "                       32; at most max-connections less an eighth (at least 4)\n"
    "  --request-timeout S  a request's headers and body must arrive within S seconds in\n"
    "                       all (the connection is cut otherwise), default 30\n"
    "  --body-budget-mb N   request body bytes in flight per user (or address), default\n"
    "                       32 (429 beyond; 16 times that in all: 503)\n"
    "  --jwt-secret-file F  token secret (default $TILLPIPE_JWT_SECRET; 32+ characters)\n"
    "  --max-body-kb N      request body cap, default 1024\n"
    "  --max-upload-mb N    uploaded report cap (test-parse), default 16\n"
    "  --token-ttl S        seconds a token is valid, default 3600 (at most 604800)\n"
    "  --rate-login N       failed logins an account takes in 15 minutes before each\n"
    "                       address that failed on it waits (1 s, doubling per failure,\n"
    "                       up to 15 min; 429), default 20; 0 = off\n"
    "  --login-hashes N     password hashes at once (4 more logins wait for each; beyond:\n"
    "                       503), default half the CPUs\n"
    "  --metrics-allow CIDR[,CIDR]  who reads /metrics without a token (default\n"
    "                       loopback); any valid API token may too\n"
    "  --metrics-token-file F  a bearer token good for /metrics only (default\n"
    "                       $TILLPIPE_METRICS_TOKEN)\n"
    "  --rate-queue N       queuing calls per minute per client, default 600; 0 = off\n"
    "  --no-list-cache      compute every job and record list anew (by default answers\n"
    "                       are kept until a job changes; see docs/api.md)\n"
    "  --no-workers         the API only; otherwise workers run in this process too:\n"
    "  --server URL | --reports DIR, --store S, --concurrency N, --plugins DIR\n"
    "                       as for `tillpipe worker`\n"
    "  --report-server-allow HOST[:PORT],...  report servers a branch may name besides the\n"
    "                       default one (--server), checked when a branch is saved and\n"
    "                       when a job connects (default $TILLPIPE_REPORT_SERVER_ALLOW)\n"
    "  --list-routes        print the served routes (METHOD PATH) and exit\n"
    "  --plugin-quarantine-after K  quarantine a plugin build after K plugin_failed\n"
    "                       parses in a row (default 3; 0: never)\n"
    "  SIGHUP (or POST /api/plugins/reload) reloads the plugin folder; jobs running finish\n"
    "  on the plugins they started with\n" TP__PLUGIN_USAGE;

typedef struct serve_args {
    tp_api_opts a;
    tp_worker_opts wo;
    tp_fetch_opts fo;
    tp_allow *allow; /* of the workers' fetches and the branches saved */
    const char *db, *store, *plugins, *secret_file, *metrics_token_file;
    char host[64];
    char secret[512];
    char metrics_token[512];
    int workers;
} serve_args;

typedef struct worker_thread {
    tp__worker_env env;
    tp_worker_stats stats;
    tp_error err;
    int rc;
} worker_thread;

static void *worker_main(void *arg)
{
    worker_thread *wt = arg;
    wt->rc = tp_worker_run(&wt->env.o, &wt->stats, &wt->err);
    return NULL;
}

/* A secret: $`env`, or the first line of a file. */
static const char *read_secret(const char *file, const char *env, char *buf, size_t size)
{
    if (!file)
        return getenv(env);
    FILE *f = fopen(file, "r");
    if (!f || !fgets(buf, (int)size, f)) {
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf;
}

/* --listen HOST:PORT: 0, or the exit status after saying why. */
static int listen_option(const char *arg, serve_args *s)
{
    const char *colon = strrchr(arg, ':');
    long v;
    if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof s->host ||
        tp__parse_long(colon + 1, 0, 65535, &v) < 0) {
        tp__die_msg("serve", "--listen wants HOST:PORT, got \"%s\"", arg);
        return TP_EXIT_USAGE;
    }
    snprintf(s->host, sizeof s->host, "%.*s", (int)(colon - arg), arg);
    s->a.listen_host = s->host;
    s->a.port = (int)v;
    return 0;
}

/* A number option: 0, or the exit status after saying why. */
static int number_option(int c, const char *arg, char **argv, serve_args *s)
{
    long v;
    long min = c == 'R' || c == 'Q' || c == 'K' ? 0 : 1;
    long max = c == 'R' || c == 'Q'               ? 1000000
               : c == 'U' || c == 'K' || c == 'T' ? 4096
               : c == 'b' || c == 'M' || c == 'u' ? 1 << 20
               : c == 'X' || c == 'x'             ? 100000
               : c == 'B'                         ? 65536
               : c == 'E'                         ? 604800
                                                  : 64;
    if (tp__parse_long(arg, min, max, &v) < 0) {
        if (c == 'U')
            tp__die_msg("serve", "--max-upload-mb wants 1-4096");
        else
            tp__die_msg("serve", "option \"%s\" wants a whole number in range", argv[optind - 1]);
        return TP_EXIT_USAGE;
    }
    switch (c) {
    case 'R': s->a.rate_login = (int)v; break;
    case 'Q': s->a.rate_queue = (int)v; break;
    case 'U': s->a.max_upload = (size_t)v << 20; break;
    case 't': s->a.threads = (int)v; break;
    case 'M': s->a.max_streams = (int)v; break;
    case 'u': s->a.streams_per_user = (int)v; break;
    case 'X': s->a.max_connections = (int)v; break;
    case 'x': s->a.conns_per_client = (int)v; break;
    case 'T': s->a.request_timeout = (double)v; break;
    case 'B': s->a.body_budget = (size_t)v << 20; break;
    case 'c': s->wo.concurrency = (int)v; break;
    case 'K': s->wo.quarantine_after = v ? (int)v : -1; break;
    case 'E': s->a.token_ttl = (int)v; break;
    case 'H': s->a.login_hashes = (int)v; break;
    default: s->a.max_body = (size_t)v << 10; break; /* 'b' */
    }
    return 0;
}

/* Every option: -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, serve_args *s)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"port-file", required_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 't'},
                                         {"no-workers", no_argument, 0, 'n'},
                                         {"server", required_argument, 0, 's'},
                                         {"reports", required_argument, 0, 'r'},
                                         {"store", required_argument, 0, 'S'},
                                         {"concurrency", required_argument, 0, 'c'},
                                         {"plugins", required_argument, 0, 'P'},
                                         {"jwt-secret-file", required_argument, 0, 'j'},
                                         {"max-body-kb", required_argument, 0, 'b'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {"list-routes", no_argument, 0, 'L'},
                                         {"rate-login", required_argument, 0, 'R'},
                                         {"rate-queue", required_argument, 0, 'Q'},
                                         {"max-upload-mb", required_argument, 0, 'U'},
                                         {"no-list-cache", no_argument, 0, 'C'},
                                         {"max-streams", required_argument, 0, 'M'},
                                         {"max-streams-per-user", required_argument, 0, 'u'},
                                         {"max-connections", required_argument, 0, 'X'},
                                         {"max-conns-per-client", required_argument, 0, 'x'},
                                         {"request-timeout", required_argument, 0, 'T'},
                                         {"body-budget-mb", required_argument, 0, 'B'},
                                         {"plugin-quarantine-after", required_argument, 0, 'K'},
                                         {"token-ttl", required_argument, 0, 'E'},
                                         {"login-hashes", required_argument, 0, 'H'},
                                         {"metrics-allow", required_argument, 0, 'A'},
                                         {"metrics-token-file", required_argument, 0, 'm'},
                                         {"report-server-allow", required_argument, 0, 'a'},
                                         TP__PLUGIN_OPTIONS,
                                         {0, 0, 0, 0}};
    int c, st;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': s->db = optarg; break;
        case 'a':
            if (tp__allow_option("serve", &s->allow, optarg) != TP_EXIT_OK)
                return TP_EXIT_USAGE;
            break;
        case 'p': s->a.port_file = optarg; break;
        case 'n': s->workers = 0; break;
        case 's': s->wo.server = optarg; break;
        case 'r': s->wo.reports_dir = optarg; break;
        case 'S': s->store = optarg; break;
        case 'P': s->plugins = optarg; break;
        case 'j': s->secret_file = optarg; break;
        case 'A': s->a.metrics_allow = optarg; break;
        case 'm': s->metrics_token_file = optarg; break;
        case 'q': s->a.quiet = s->wo.quiet = 1; break;
        case 'C':
            s->a.no_list_cache = 1;
            break;
        TP__PLUGIN_OPTION_CASES:
            if (tp__plugin_option("serve", c, optarg) != TP_EXIT_OK)
                return TP_EXIT_USAGE;
            break;
        case 'l':
            if ((st = listen_option(optarg, s)) != 0)
                return st;
            break;
        case 'R':
        case 'Q':
        case 'U':
        case 't':
        case 'c':
        case 'b':
        case 'M':
        case 'K':
        case 'u':
        case 'X':
        case 'x':
        case 'T':
        case 'B':
        case 'E':
        case 'H':
            if ((st = number_option(c, optarg, argv, s)) != 0)
                return st;
            break;
        case 'h': fputs(usage, stdout); return TP_EXIT_OK;
        case 'L':
            for (int i = 0; i < tp_nroutes; i++)
                printf("%s %s\n", tp_routes[i].method, tp_routes[i].pattern);
            return TP_EXIT_OK;
        default: return tp__bad_option("serve", argv);
        }
    }
    return -1;
}

/* The options hold together: -1 to go on, else the exit status. */
static int check_options(serve_args *s)
{
    s->a.jwt_secret =
        read_secret(s->secret_file, "TILLPIPE_JWT_SECRET", s->secret, sizeof s->secret);
    s->a.metrics_token = read_secret(s->metrics_token_file, "TILLPIPE_METRICS_TOKEN",
                                     s->metrics_token, sizeof s->metrics_token);
    tp_error err = {0};
    if (s->metrics_token_file && !s->a.metrics_token) {
        tp__die_msg("serve", "--metrics-token-file: cannot read %s", s->metrics_token_file);
        return TP_EXIT_USAGE;
    }
    if (s->a.metrics_token && *s->a.metrics_token && strlen(s->a.metrics_token) < 16) {
        tp__die_msg("serve", "the metrics token must be at least 16 characters");
        return TP_EXIT_USAGE;
    }
    if (s->a.metrics_allow && tp_metrics_allow_check(s->a.metrics_allow, &err) < 0) {
        tp__die_msg("serve", "%s", err.msg);
        return TP_EXIT_USAGE;
    }
    s->a.db_url = s->wo.db_url = tp_db_url(s->db);
    if (!s->a.db_url) {
        tp__die_msg("serve", "no database: set TILLPIPE_DATABASE_URL or pass --database URL");
        return TP_EXIT_USAGE;
    }
    int st = tp__worker_source("serve", &s->wo, 0);
    if (st >= 0 || (st = tp__allow_finish("serve", &s->allow, s->wo.server)) >= 0)
        return st;
    s->fo.allow = s->a.report_server_allow = s->allow;
    if (s->workers && !s->wo.server && !s->wo.reports_dir) {
        tp__die_msg("serve", "workers need a source: --server URL (or TILLPIPE_REPORT_SERVER)"
                             " or --reports DIR; or pass --no-workers");
        return TP_EXIT_USAGE;
    }
    int conns = s->a.max_connections ? s->a.max_connections : 1000;
    int reserve = conns / 8 > 4 ? conns / 8 : 4;
    if (!s->a.conns_per_client) /* the default, within what --max-connections leaves */
        s->a.conns_per_client = conns - reserve < 32 ? conns - reserve : 32;
    if (s->a.conns_per_client < 1 || s->a.conns_per_client > conns - reserve) {
        tp__die_msg("serve",
                    "--max-conns-per-client must leave an eighth of --max-connections (at"
                    " least 4) to other clients: at most %d of %d",
                    conns - reserve, conns);
        return TP_EXIT_USAGE;
    }
    if (!s->a.jwt_secret || strlen(s->a.jwt_secret) < 32) {
        tp__die_msg("serve", "no token secret: set TILLPIPE_JWT_SECRET (or --jwt-secret-file)"
                             " to at least 32 random characters, e.g. `openssl rand -hex 32`");
        return TP_EXIT_USAGE;
    }
    return -1;
}

/* The API with what it shares beyond HTTP (api.h): who may use it, the
 * metrics snapshot. */
static int serve_api(serve_args *s, volatile sig_atomic_t *stop, tp_error *err)
{
    int rc = (s->a.auth = tp_auth_create(&s->a, err)) ? TP_OK : err->code;
    if (rc == TP_OK && !(s->a.ops = tp_ops_create(&s->a, err)))
        rc = err->code;
    if (rc == TP_OK)
        rc = tp_api_serve(&s->a, stop, err);
    tp_ops_destroy(s->a.ops);
    tp_auth_destroy(s->a.auth);
    s->a.ops = NULL;
    s->a.auth = NULL;
    return rc;
}

/* The API alone: the store (for /readyz) and the plugins (for
 * /api/plugins) without workers. */
static int serve_alone(serve_args *s, volatile sig_atomic_t *stop, tp_error *err)
{
    char sbuf[1024];
    tp_store_config scfg;
    tp_plugset *ps = NULL;
    int rc = tp_store_config_parse(tp_store_spec(s->store), sbuf, sizeof sbuf, &scfg, err);
    if (rc == TP_OK)
        rc = tp_store_open(&scfg, &s->a.store, err);
    if (rc == TP_OK && !(ps = tp__load_plugset(s->plugins, s->a.quiet, 2, err)))
        rc = TP_EPLUGIN;
    s->a.plugset = ps;
    if (rc == TP_OK)
        rc = tp__reloader_start(ps, "serve", s->a.quiet, err);
    if (rc == TP_OK)
        rc = serve_api(s, stop, err);
    tp__reloader_stop();
    tp_store_close(s->a.store);
    tp__unload_plugset(ps);
    return rc;
}

/* The API with workers in a thread of this process, sharing its store and
 * plugins. */
static int serve_with_workers(serve_args *s, volatile sig_atomic_t *stop, tp_error *err)
{
    worker_thread *wt = calloc(1, sizeof *wt);
    if (!wt)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    s->wo.stop = stop;
    int rc = tp__worker_env_open(&wt->env, &s->wo, &s->fo, s->store, s->plugins, "serve", err);
    pthread_t th;
    if (rc == TP_OK && pthread_create(&th, NULL, worker_main, wt) != 0)
        rc = tp_error_set(err, TP_ENOMEM, "cannot start the worker thread");
    if (rc == TP_OK) {
        s->a.store = wt->env.store;
        s->a.plugset = wt->env.plugins;
        if ((rc = tp__reloader_start(wt->env.plugins, "serve", s->a.quiet, err)) == TP_OK)
            rc = serve_api(s, stop, err);
        *stop = 1;
        pthread_join(th, NULL);
    }
    tp__reloader_stop();
    tp__worker_env_close(&wt->env);
    free(wt);
    return rc;
}

int tp__cmd_serve(int argc, char **argv)
{
    serve_args s = {
        .a = {.listen_host = "127.0.0.1", .port = 8080, .rate_login = 20, .rate_queue = 600},
        .wo = {.concurrency = 2,
               .lease_seconds = TP_LEASE_SECONDS,
               .backoff_base = 2,
               .drain_seconds = 30},
        .fo = {.retries = -1, .backoff_base = -1},
        .workers = 1};
    int st = parse_options(argc, argv, &s);
    if (st < 0)
        st = check_options(&s);
    if (st >= 0) {
        tp_allow_destroy(s.allow);
        return st;
    }
    volatile sig_atomic_t *stop = tp__stop_on_signals();
    tp__sighup_catch(); /* before any thread starts */
    tp_error err = {0};
    int rc = s.workers ? serve_with_workers(&s, stop, &err) : serve_alone(&s, stop, &err);
    tp_allow_destroy(s.allow);
    return rc < 0 ? tp__fail("serve", &err) : TP_EXIT_OK;
}
