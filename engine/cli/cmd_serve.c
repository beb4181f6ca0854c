/* cmd_serve.c -- `tillpipe serve` (the HTTP API, with workers in the same
 * process unless --no-workers) and `tillpipe user add NAME --role R`. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cli.h"
#include "db/db.h"
#include "http.h"
#include "db/queue.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

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

/* The token secret: $TILLPIPE_JWT_SECRET, or the first line of a file. */
static const char *jwt_secret(const char *file, char *buf, size_t size)
{
    if (!file)
        return getenv("TILLPIPE_JWT_SECRET");
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

int tp__cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"database", required_argument, 0, 'D'}, {"listen", required_argument, 0, 'l'},
        {"port-file", required_argument, 0, 'p'}, {"threads", required_argument, 0, 't'},
        {"no-workers", no_argument, 0, 'n'},     {"server", required_argument, 0, 's'},
        {"reports", required_argument, 0, 'r'},  {"store", required_argument, 0, 'S'},
        {"concurrency", required_argument, 0, 'c'}, {"plugins", required_argument, 0, 'P'},
        {"jwt-secret-file", required_argument, 0, 'j'}, {"max-body-kb", required_argument, 0, 'b'},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {"list-routes", no_argument, 0, 'L'},    {"rate-login", required_argument, 0, 'R'},
        {"rate-queue", required_argument, 0, 'Q'}, {"max-upload-mb", required_argument, 0, 'U'},
        {"no-list-cache", no_argument, 0, 'C'},  {"max-streams", required_argument, 0, 'M'},
        {0, 0, 0, 0}};
    static const char usage[] =
        "usage: tillpipe serve [--listen HOST:PORT] [--no-workers] [options]\n"
        "  --listen HOST:PORT   where to listen (default 127.0.0.1:8080; port 0 = any free one)\n"
        "  --port-file F        write the bound port to F once listening\n"
        "  --threads N          pooled database connections for requests (a thread serves\n"
        "                       each client connection), default one per CPU\n"
        "  --max-streams N      exports and event streams open at once (each has a\n"
        "                       database connection of its own), default 32\n"
        "  --jwt-secret-file F  token secret (default $TILLPIPE_JWT_SECRET; 32+ characters)\n"
        "  --max-body-kb N      request body cap, default 1024\n"
        "  --max-upload-mb N    uploaded report cap (test-parse), default 16\n"
        "  --rate-login N       logins per minute per client (429 beyond), default 20; 0 = off\n"
        "  --rate-queue N       queuing calls per minute per client, default 600; 0 = off\n"
        "  --no-list-cache      compute every job and record list anew (by default answers\n"
        "                       are kept until a job changes; see docs/api.md)\n"
        "  --no-workers         the API only; otherwise workers run in this process too:\n"
        "  --server URL | --reports DIR, --store S, --concurrency N, --plugins DIR\n"
        "                       as for `tillpipe worker`\n"
        "  --list-routes        print the served routes (METHOD PATH) and exit\n";
    tp_api_opts a = {.listen_host = "127.0.0.1", .port = 8080, .rate_login = 20, .rate_queue = 600};
    tp_worker_opts wo = {.concurrency = 2, .lease_seconds = TP_LEASE_SECONDS, .backoff_base = 2,
                         .drain_seconds = 30, .stop = &stop_flag};
    tp_fetch_opts fo = {.retries = -1, .backoff_base = -1};
    const char *db_opt = NULL, *store_opt = NULL, *plugin_dir = NULL, *secret_file = NULL;
    char host[64];
    int workers = 1, c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db_opt = optarg; break;
        case 'p': a.port_file = optarg; break;
        case 'n': workers = 0; break;
        case 's': wo.server = optarg; break;
        case 'r': wo.reports_dir = optarg; break;
        case 'S': store_opt = optarg; break;
        case 'P': plugin_dir = optarg; break;
        case 'j': secret_file = optarg; break;
        case 'q': a.quiet = wo.quiet = 1; break;
        case 'C': a.no_list_cache = 1; break;
        case 'l': {
            const char *colon = strrchr(optarg, ':');
            if (!colon || colon == optarg || (size_t)(colon - optarg) >= sizeof host ||
                tp__parse_long(colon + 1, 0, 65535, &v) < 0) {
                tp__die_msg("serve", "--listen wants HOST:PORT, got \"%s\"", optarg);
                return TP_EXIT_USAGE;
            }
            snprintf(host, sizeof host, "%.*s", (int)(colon - optarg), optarg);
            a.listen_host = host;
            a.port = (int)v;
            break;
        }
        case 'R':
        case 'Q':
            if (tp__parse_long(optarg, 0, 1000000, &v) < 0) {
                tp__die_msg("serve", "option \"%s\" wants a whole number in range", argv[optind - 1]);
                return TP_EXIT_USAGE;
            }
            if (c == 'R')
                a.rate_login = (int)v;
            else
                a.rate_queue = (int)v;
            break;
        case 'U':
            if (tp__parse_long(optarg, 1, 4096, &v) < 0) {
                tp__die_msg("serve", "--max-upload-mb wants 1-4096");
                return TP_EXIT_USAGE;
            }
            a.max_upload = (size_t)v << 20;
            break;
        case 't':
        case 'c':
        case 'b':
        case 'M':
            if (tp__parse_long(optarg, 1, c == 'b' || c == 'M' ? 1 << 20 : 64, &v) < 0) {
                tp__die_msg("serve", "option \"%s\" wants a whole number in range", argv[optind - 1]);
                return TP_EXIT_USAGE;
            }
            if (c == 't')
                a.threads = (int)v;
            else if (c == 'M')
                a.max_streams = (int)v;
            else if (c == 'c')
                wo.concurrency = (int)v;
            else
                a.max_body = (size_t)v << 10;
            break;
        case 'h': fputs(usage, stdout); return TP_EXIT_OK;
        case 'L':
            for (int i = 0; i < tp_nroutes; i++)
                printf("%s %s\n", tp_routes[i].method, tp_routes[i].pattern);
            return TP_EXIT_OK;
        default:
            tp__die_msg("serve", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            return TP_EXIT_USAGE;
        }
    }
    char secret_buf[512];
    a.jwt_secret = jwt_secret(secret_file, secret_buf, sizeof secret_buf);
    a.db_url = wo.db_url = tp_db_url(db_opt);
    if (!a.db_url) {
        tp__die_msg("serve", "no database: set TILLPIPE_DATABASE_URL or pass --database URL");
        return TP_EXIT_USAGE;
    }
    if (!wo.server && getenv("TILLPIPE_REPORT_SERVER") && *getenv("TILLPIPE_REPORT_SERVER"))
        wo.server = getenv("TILLPIPE_REPORT_SERVER");
    if (workers && !wo.server && !wo.reports_dir) {
        tp__die_msg("serve", "workers need a source: --server URL (or TILLPIPE_REPORT_SERVER) or"
                             " --reports DIR; or pass --no-workers");
        return TP_EXIT_USAGE;
    }
    tp_error err = {0};
    if (!a.jwt_secret || strlen(a.jwt_secret) < 32) {
        tp__die_msg("serve", "no token secret: set TILLPIPE_JWT_SECRET (or --jwt-secret-file) to at"
                             " least 32 random characters, e.g. `openssl rand -hex 32`");
        return TP_EXIT_USAGE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    worker_thread *wt = NULL;
    pthread_t th;
    if (workers) {
        if (!(wt = calloc(1, sizeof *wt)) ||
            tp__worker_env_open(&wt->env, &wo, &fo, store_opt, plugin_dir, "serve", &err) < 0) {
            tp__die_msg("serve", "%s", wt ? err.msg : "out of memory");
            free(wt);
            return TP_EXIT_FAIL;
        }
        a.store = wt->env.store;
        a.plugins = wt->env.reg;
        pthread_create(&th, NULL, worker_main, wt);
    } else {
        /* the store (for /readyz) and the plugins (for /api/plugins) */
        static char sbuf[1024];
        tp_store_config scfg;
        if (tp_store_config_parse(tp_store_spec(store_opt), sbuf, sizeof sbuf, &scfg, &err) < 0 ||
            tp_store_open(&scfg, &a.store, &err) < 0 ||
            !(a.plugins = tp__load_plugins(plugin_dir, a.quiet, &err))) {
            tp__die_msg("serve", "%s", err.msg);
            tp_store_close(a.store);
            return TP_EXIT_FAIL;
        }
    }
    int rc = tp_api_serve(&a, &stop_flag, &err);
    stop_flag = 1;
    if (wt) {
        pthread_join(th, NULL);
        tp__worker_env_close(&wt->env);
        free(wt);
    } else {
        tp_store_close(a.store);
        tp_registry_destroy((tp_registry *)a.plugins);
    }
    if (rc < 0) {
        tp__die_msg("serve", "%s", err.msg);
        return TP_EXIT_FAIL;
    }
    return TP_EXIT_OK;
}

/* `tillpipe user add NAME --role R`: the password from standard input (one
 * line), stored as an argon2id hash; an existing user gets the new password
 * and role. */
int tp__cmd_user(int argc, char **argv)
{
    static const char usage[] =
        "usage: tillpipe user add NAME --role admin|operator|viewer [--database URL]\n"
        "  the password is read from standard input (one line, 8-1024 characters)\n";
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"role", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *db_opt = NULL, *role = NULL;
    int c;
    optind = 2; /* after "add" */
    opterr = 0;
    if (argc < 2 || strcmp(argv[1], "add") != 0) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(usage, stdout);
            return TP_EXIT_OK;
        }
        tp__die_msg("user", "want `user add NAME --role R`");
        fputs(usage, stderr);
        return TP_EXIT_USAGE;
    }
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db_opt = optarg; break;
        case 'r': role = optarg; break;
        case 'h': fputs(usage, stdout); return TP_EXIT_OK;
        default:
            tp__die_msg("user", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            return TP_EXIT_USAGE;
        }
    }
    const char *name = optind < argc ? argv[optind] : NULL;
    size_t nlen = name ? strlen(name) : 0;
    int name_ok = nlen >= 1 && nlen <= 64;
    for (size_t i = 0; name_ok && i < nlen; i++)
        name_ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
                  (name[i] >= '0' && name[i] <= '9') || strchr("._-@", name[i]);
    if (!name_ok || optind + 1 != argc) {
        tp__die_msg("user", "NAME must be 1-64 letters, digits, '.', '_', '-' or '@'");
        return TP_EXIT_USAGE;
    }
    if (tp_role_parse(role) == TP_ROLE_NONE) {
        tp__die_msg("user", "--role must be admin, operator or viewer");
        return TP_EXIT_USAGE;
    }
    char pw[1100];
    if (!fgets(pw, sizeof pw, stdin)) {
        tp__die_msg("user", "no password on standard input");
        return TP_EXIT_USAGE;
    }
    pw[strcspn(pw, "\r\n")] = '\0';
    if (strlen(pw) < 8 || strlen(pw) > 1024) {
        tp__die_msg("user", "the password must be 8-1024 characters");
        return TP_EXIT_USAGE;
    }
    tp_error err = {0};
    char hash[128];
    int rc = tp_api_hash_password(pw, hash, &err);
    memset(pw, 0, sizeof pw);
    tp_db *db = rc == TP_OK ? tp_db_connect(tp_db_url(db_opt), &err) : NULL;
    if (db && (rc = tp_db_check_schema(db, &err)) == TP_OK) {
        const char *p[] = {name, hash, role};
        rc = tp_db_exec(db,
                        "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3)"
                        " ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash,"
                        " role = EXCLUDED.role",
                        3, p, &err);
        if (rc == TP_OK) {
            char details[64];
            snprintf(details, sizeof details, "{\"role\": \"%s\"}", role);
            tp_db_audit(db, tp_db_cli_actor(), "user.add", name, details, &err);
        }
    } else if (!db)
        rc = TP_EDB;
    tp_db_close(db);
    if (rc < 0) {
        tp__die_msg("user", "%s", err.msg);
        return TP_EXIT_FAIL;
    }
    printf("user %s (%s) saved\n", name, role);
    return TP_EXIT_OK;
}
