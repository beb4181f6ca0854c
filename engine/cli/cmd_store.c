/* cmd_store.c -- `tillpipe store verify`: check every stored raw file
 * against its key and the database (worker/verify.h), and repair what can
 * be repaired. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/reports.h"
#include "worker/verify.h"

static const char usage[] =
    "usage: tillpipe store verify [--repair] [--branch B] [--since YYYY-MM-DD] [--store S]\n"
    "                             [--server URL] [--database URL]\n"
    "  every object of the raw-file store read back and checked against its key and the\n"
    "  size and sha256 the database recorded: missing, truncated, wrong size, corrupt, and\n"
    "  (fs) stray temporaries of writers that are gone; exit 1 when something is wrong\n"
    "  --repair        remove stray temporaries and corrupt objects; fetch a recorded object\n"
    "                  again from the report server when it still serves those bytes, else\n"
    "                  queue a forced fetch of each terminal-day that used it; exit 0 when\n"
    "                  everything found was repaired or queued\n"
    "  --branch B      only the objects of branch B's terminal-days\n"
    "  --since D       only the objects of business dates from D on\n"
    "  --store S       fs:/path or s3://BUCKET?endpoint=HOST:PORT (default $TILLPIPE_STORE)\n"
    "  --server URL    the report server for --repair (default $TILLPIPE_REPORT_SERVER;\n"
    "                  a branch's report_server wins)\n";

typedef struct store_args {
    const char *db, *store, *branch, *since, *server;
    int repair;
} store_args;

/* -1 with a filled, else the exit status. */
static int parse_args(int argc, char **argv, store_args *a)
{
    static const struct option opts[] = {
        {"database", required_argument, 0, 'D'}, {"store", required_argument, 0, 'S'},
        {"branch", required_argument, 0, 'b'},   {"since", required_argument, 0, 's'},
        {"server", required_argument, 0, 'u'},   {"repair", no_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': a->db = optarg; break;
        case 'S': a->store = optarg; break;
        case 'b': a->branch = optarg; break;
        case 's': a->since = optarg; break;
        case 'u': a->server = optarg; break;
        case 'r': a->repair = 1; break;
        case 'h': fputs(usage, stdout); return TP_EXIT_OK;
        default: return tp__bad_option("store verify", argv);
        }
    }
    if (optind != argc) {
        tp__die_msg("store verify", "unexpected argument \"%s\"", argv[optind]);
        return TP_EXIT_USAGE;
    }
    if (a->since && !tp_date_valid(a->since)) {
        tp__die_msg("store verify", "\"%s\" is not a valid YYYY-MM-DD date", a->since);
        return TP_EXIT_USAGE;
    }
    if (a->branch && (!*a->branch || strlen(a->branch) > 32)) {
        tp__die_msg("store verify", "\"%s\" is not a branch code", a->branch);
        return TP_EXIT_USAGE;
    }
    const char *env = getenv("TILLPIPE_REPORT_SERVER");
    if (!a->server && env && *env)
        a->server = env;
    if (a->server && strncmp(a->server, "http://", 7) != 0 &&
        strncmp(a->server, "https://", 8) != 0) {
        tp__die_msg("store verify", "--server wants an http:// or https:// base URL, not \"%s\"",
                    a->server);
        return TP_EXIT_USAGE;
    }
    return -1;
}

static void summary(const store_args *a, const tp_verify_stats *s)
{
    printf("store verify: %lld object%s read back (%llu bytes): %lld ok, %lld missing, %lld "
           "truncated, %lld wrong size, %lld corrupt, %lld stray temporar%s",
           s->checked, s->checked == 1 ? "" : "s", s->bytes, s->ok, s->missing, s->truncated,
           s->wrong_size, s->corrupt, s->stray, s->stray == 1 ? "y" : "ies");
    if (!a->branch && !a->since && !s->listing_refused)
        printf("; %lld unreferenced, %lld temporar%s in progress", s->unreferenced, s->in_progress,
               s->in_progress == 1 ? "y" : "ies");
    printf("\n");
    if (a->repair)
        printf("store verify: repaired: %lld fetched again, %lld removed, %lld queued for a "
               "forced fetch, %lld not repaired\n",
               s->refetched, s->removed, s->queued, s->unrepaired);
}

static int verify_cmd(int argc, char **argv)
{
    store_args a = {0};
    int st = parse_args(argc, argv, &a);
    if (st >= 0)
        return st;
    tp_error err = {0};
    tp_store_config scfg;
    char sbuf[1024], actor[96];
    tp_store *store = NULL;
    tp_fetcher *fetcher = NULL;
    tp_fetch_conn *conn = NULL;
    tp_fetch_opts fo = {.retries = -1, .backoff_base = -1};
    tp_allow *allow = NULL; /* the --server given, and nothing else */
    if (a.repair && a.server && (st = tp__allow_finish("store verify", &allow, a.server)) >= 0)
        return st;
    fo.allow = allow;
    if (tp_store_config_parse(tp_store_spec(a.store), sbuf, sizeof sbuf, &scfg, &err) < 0 ||
        tp_store_open(&scfg, &store, &err) < 0) {
        tp_allow_destroy(allow);
        return tp__fail("store verify", &err);
    }
    tp_db *db = tp__cli_db("store verify", a.db, 1);
    tp_db *db2 = db ? tp__cli_db("store verify", a.db, 0) : NULL;
    int rc = db && db2 ? TP_OK : TP_EDB;
    if (rc == TP_OK && a.repair && a.server &&
        (tp_fetcher_create(&fo, &fetcher, &err) < 0 ||
         !(conn = tp_fetch_conn_create(fetcher, &err))))
        rc = err.code;
    tp_verify_stats s;
    if (rc == TP_OK) {
        tp_verify_opts o = {.store = store,
                            .db = db,
                            .db2 = db2,
                            .branch = a.branch,
                            .since = a.since,
                            .repair = a.repair,
                            .conn = conn,
                            .server = a.server,
                            .created_by = tp__cli_actor(actor),
                            .out = stdout};
        rc = tp_verify_store(&o, &s, &err);
    }
    tp_fetch_conn_destroy(conn);
    tp_fetcher_destroy(fetcher);
    tp_allow_destroy(allow);
    tp_db_close(db2);
    tp_db_close(db);
    tp_store_close(store);
    if (rc == TP_EDB && !err.msg[0])
        return TP_EXIT_FAIL; /* (tp__cli_db said why) */
    if (rc < 0)
        return tp__fail("store verify", &err);
    summary(&a, &s);
    long long problems = tp_verify_problems(&s);
    return problems == 0 || (a.repair && s.unrepaired == 0) ? TP_EXIT_OK : TP_EXIT_FAIL;
}

int tp__cmd_store(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return verify_cmd(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return TP_EXIT_OK;
    }
    if (argc >= 2)
        tp__die_msg("store", "unknown subcommand \"%s\" (verify)", argv[1]);
    else
        tp__die_msg("store", "missing subcommand (verify)");
    fputs(usage, stderr);
    return TP_EXIT_USAGE;
}
