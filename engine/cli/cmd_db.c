/* cmd_db.c -- the database commands: migrate, branch, enqueue, jobs, job,
 * worker. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "db/branches.h"
#include "db/db.h"
#include "db/queue.h"
#include "core/reports.h"
#include "worker/worker.h"

/* --database URL, shared by every command here. */
static const char *db_opt;

static tp_db *connect_or_die(const char *cmd)
{
    tp_error err = {0};
    tp_db *db = tp_db_connect(tp_db_url(db_opt), &err);
    if (!db)
        tp__die_msg(cmd, "%s", err.msg);
    return db;
}

/* ---------------------------------------------------------------- migrate */

int tp__cmd_migrate(int argc, char **argv)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'D')
            db_opt = optarg;
        else if (c == 'h') {
            puts("usage: tillpipe migrate [--database URL]");
            return TP_EXIT_OK;
        } else {
            tp__die_msg("migrate", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            return TP_EXIT_USAGE;
        }
    }
    tp_db *db = connect_or_die("migrate");
    if (!db)
        return TP_EXIT_FAIL;
    tp_error err = {0};
    int applied = 0, version = 0;
    int rc = tp_db_migrate(db, &applied, &err);
    if (rc == TP_OK)
        rc = tp_db_schema_version(db, &version, &err);
    tp_db_close(db);
    if (rc < 0) {
        tp__die_msg("migrate", "%s", err.msg);
        return TP_EXIT_FAIL;
    }
    printf("schema at version %d (%d migration%s applied)\n", version, applied,
           applied == 1 ? "" : "s");
    return TP_EXIT_OK;
}

/* ---------------------------------------------------------------- branch */

/* A legacy list: one branch code per line (settings/branches.txt,
 * settings/newBranches.txt).  Codes on a "new" list run the newer POS. */
static int import_list(tp_db *db, const char *path, int newer, int *count, tp_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tp_error_set(err, TP_ENOTFOUND, "%s: %s", path, strerror(errno));
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char line[256], json[1024];
    int rc = TP_OK, n = 0;
    for (int lineno = 1; rc == TP_OK && fgets(line, sizeof line, f); lineno++) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        char *code = line;
        while (*code == ' ' || *code == '\t')
            code++;
        len = strlen(code);
        while (len && (code[len - 1] == ' ' || code[len - 1] == '\t'))
            code[--len] = '\0';
        if (!*code || *code == '#')
            continue;
        snprintf(json, sizeof json,
                 "{\"branches\": [{\"code\": \"%.40s\", \"terminals\": [1, 2], \"pos\": \"%s\"%s}]}",
                 code, newer ? "newer" : "classic",
                 newer ? ", \"parsers\": {\"rd5500\": \"newpos\"}" : "");
        char src[600];
        snprintf(src, sizeof src, "%s:%d", path, lineno);
        tp_config *one = strchr(code, '"') || strchr(code, '\\')
                             ? (tp_error_set(err, TP_ECONFIG, "%s: bad branch code", src), NULL)
                             : tp_config_parse(json, src, err);
        if (!one) {
            rc = TP_ECONFIG;
            break;
        }
        rc = tp_branch_upsert(db, tp_config_at(one, 0), base, err);
        tp_config_destroy(one);
        n++;
    }
    fclose(f);
    *count = n;
    return rc;
}

int tp__cmd_branch(int argc, char **argv)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"newer", no_argument, 0, 'n'},
                                         {"builtin", no_argument, 0, 'b'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static const char usage[] =
        "usage: tillpipe branch import [--database URL] [--builtin] [--newer] FILE...\n"
        "         FILE.json: a branch configuration; FILE.txt: one code per line (the legacy\n"
        "         settings/branches.txt; settings/newBranches.txt, or --newer, for the newer POS)\n"
        "       tillpipe branch list [--database URL]\n";
    if (argc < 2 || (strcmp(argv[1], "import") && strcmp(argv[1], "list"))) {
        fputs(usage, argc < 2 || strcmp(argv[1], "--help") ? stderr : stdout);
        return argc >= 2 && !strcmp(argv[1], "--help") ? TP_EXIT_OK : TP_EXIT_USAGE;
    }
    int list = strcmp(argv[1], "list") == 0, newer = 0, builtin = 0, c;
    argc--;
    argv++;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db_opt = optarg; break;
        case 'n': newer = 1; break;
        case 'b': builtin = 1; break;
        case 'h': fputs(usage, stdout); return TP_EXIT_OK;
        default:
            tp__die_msg("branch", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            return TP_EXIT_USAGE;
        }
    }
    if (!list && optind == argc && !builtin) {
        tp__die_msg("branch", "import needs FILE... or --builtin");
        return TP_EXIT_USAGE;
    }
    tp_db *db = connect_or_die("branch");
    if (!db)
        return TP_EXIT_FAIL;
    tp_error err = {0};
    int rc = tp_db_check_schema(db, &err);
    if (rc == TP_OK && list) {
        PGresult *r = tp_db_query(db,
                                  "SELECT code, name, active, terminals::text, pos, parsers::text"
                                  " FROM branches ORDER BY code",
                                  0, NULL, &err);
        if (!r)
            rc = TP_EDB;
        for (int i = 0; r && i < PQntuples(r); i++)
            printf("%-12s %-20s %-6s terminals %-6s %-8s %s\n", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2)[0] == 't' ? "active" : "off",
                   PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
        PQclear(r);
    } else if (rc == TP_OK) {
        /* One transaction: a bad file imports nothing. */
        rc = tp_db_exec(db, "BEGIN", 0, NULL, &err);
        int total = 0;
        if (rc == TP_OK && builtin) {
            tp_config *cfg = tp_config_load(NULL, &err);
            for (size_t i = 0; cfg && rc == TP_OK && i < tp_config_count(cfg); i++, total++)
                rc = tp_branch_upsert(db, tp_config_at(cfg, i), NULL, &err);
            if (!cfg)
                rc = TP_ECONFIG;
            tp_config_destroy(cfg);
        }
        for (int i = optind; rc == TP_OK && i < argc; i++) {
            const char *path = argv[i];
            size_t len = strlen(path);
            if (len > 5 && strcmp(path + len - 5, ".json") == 0) {
                tp_config *cfg = tp_config_load(path, &err);
                for (size_t k = 0; cfg && rc == TP_OK && k < tp_config_count(cfg); k++, total++)
                    rc = tp_branch_upsert(db, tp_config_at(cfg, k), NULL, &err);
                if (!cfg)
                    rc = TP_ECONFIG;
                tp_config_destroy(cfg);
            } else {
                const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
                int n = 0;
                rc = import_list(db, path, newer || strncasecmp(base, "new", 3) == 0, &n, &err);
                total += n;
            }
        }
        char details[64];
        snprintf(details, sizeof details, "{\"branches\": %d}", total);
        if (rc == TP_OK)
            rc = tp_db_audit(db, tp_db_cli_actor(), "branch.import",
                             builtin ? "built-in configuration" : argv[optind], details, &err);
        rc = tp_db_end(db, rc, &err);
        if (rc == TP_OK)
            printf("imported %d branch%s\n", total, total == 1 ? "" : "es");
    }
    tp_db_close(db);
    if (rc < 0) {
        tp__die_msg("branch", "%s", err.msg);
        return TP_EXIT_FAIL;
    }
    return TP_EXIT_OK;
}

/* ---------------------------------------------------------------- enqueue */

/* Audit an action already committed: a failure to record it is a warning,
 * not a failure of the action. */
static void audit(tp_db *db, const char *action, const char *target, const char *details)
{
    tp_error e = {0};
    if (tp_db_audit(db, tp_db_cli_actor(), action, target, details, &e) < 0)
        fprintf(stderr, "tillpipe: warning: not recorded in the audit log: %s\n", e.msg);
}

/* enqueue and reparse: the same options, another job kind. */
static int enqueue_main(int argc, char **argv, tp_job_kind kind)
{
    const char *cmd = kind == TP_JOB_REPARSE ? "reparse" : "enqueue";
    static const struct option opts[] = {
        {"database", required_argument, 0, 'D'}, {"branch", required_argument, 0, 'b'},
        {"pos", required_argument, 0, 'p'},      {"date", required_argument, 0, 'd'},
        {"from", required_argument, 0, 'f'},     {"to", required_argument, 0, 't'},
        {"force", no_argument, 0, 'F'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    static const char enqueue_usage[] =
        "usage: tillpipe enqueue --branch B --pos N --date YYYY-MM-DD [--force]\n"
        "       tillpipe enqueue --from YYYY-MM-DD --to YYYY-MM-DD [--force]\n"
        "         (every active branch and terminal, in one transaction)\n";
    static const char reparse_usage[] =
        "usage: tillpipe reparse --branch B --pos N --date YYYY-MM-DD [--force]\n"
        "       tillpipe reparse --from YYYY-MM-DD --to YYYY-MM-DD [--branch B]\n"
        "         select, parse, combine and load again from the stored raw files (no fetch):\n"
        "         every terminal-day in the range with a succeeded run, in one transaction\n";
    const char *usage = kind == TP_JOB_REPARSE ? reparse_usage : enqueue_usage;
    const char *branch = NULL, *date = NULL, *from = NULL, *to = NULL;
    long pos = 0;
    int force = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db_opt = optarg; break;
        case 'b': branch = optarg; break;
        case 'd': date = optarg; break;
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'F': force = 1; break;
        case 'p':
            if (tp__parse_long(optarg, 1, 99, &pos) < 0) {
                tp__die_msg(cmd, "--pos must be a terminal number 1-99, got \"%s\"", optarg);
                return TP_EXIT_USAGE;
            }
            break;
        case 'h': fputs(usage, stdout); return TP_EXIT_OK;
        default:
            tp__die_msg(cmd, "unknown or incomplete option \"%s\"", argv[optind - 1]);
            return TP_EXIT_USAGE;
        }
    }
    int single = pos || date || (branch && !from && !to), range = from || to;
    if (single == range || (single && (!branch || !pos || !date)) || (range && (!from || !to)) ||
        (range && branch && kind != TP_JOB_REPARSE)) {
        tp__die_msg(cmd, "give --branch, --pos and --date, or --from and --to");
        fputs(usage, stderr);
        return TP_EXIT_USAGE;
    }
    const char *dates[] = {date, from, to};
    for (int i = 0; i < 3; i++)
        if (dates[i] && !tp_date_valid(dates[i])) {
            tp__die_msg(cmd, "\"%s\" is not a valid YYYY-MM-DD date", dates[i]);
            return TP_EXIT_USAGE;
        }
    if (range && strcmp(from, to) > 0) {
        tp__die_msg(cmd, "--from %s is after --to %s", from, to);
        return TP_EXIT_USAGE;
    }
    tp_db *db = connect_or_die("enqueue");
    if (!db)
        return TP_EXIT_FAIL;
    tp_error err = {0};
    int rc = tp_db_check_schema(db, &err);
    if (rc == TP_OK && single) {
        long long id;
        tp_enqueue_result res;
        rc = tp_queue_enqueue_kind(db, kind, branch, (int)pos, date, force, tp_db_cli_actor(), &id,
                                   &res, &err);
        char target[96], details[96];
        snprintf(target, sizeof target, "%s/%ld/%s", branch, pos, date);
        snprintf(details, sizeof details, "{\"job_id\": %lld, \"force\": %s}", id,
                 force ? "true" : "false");
        if (rc == TP_OK)
            audit(db, kind == TP_JOB_REPARSE ? "job.reparse" : "job.enqueue", target, details);
        if (rc == TP_OK)
            printf("job %lld %s\n", id,
                   res == TP_ENQUEUE_CREATED    ? "queued"
                   : res == TP_ENQUEUE_RERUN    ? "running; a new run is queued after it"
                                                : "already live (queued or running)");
    } else if (rc == TP_OK) {
        long long created;
        rc = kind == TP_JOB_REPARSE
                 ? tp_queue_enqueue_reparse_range(db, from, to, branch, tp_db_cli_actor(), &created,
                                                  &err)
                 : tp_queue_enqueue_range(db, from, to, force, tp_db_cli_actor(), &created, &err);
        char target[96], details[96];
        snprintf(target, sizeof target, "%s..%s%s%s", from, to, branch ? " " : "", branch ? branch : "");
        snprintf(details, sizeof details, "{\"created\": %lld, \"force\": %s}", created,
                 force ? "true" : "false");
        if (rc == TP_OK)
            audit(db, kind == TP_JOB_REPARSE ? "jobs.reparse_range" : "jobs.enqueue_range", target,
                  details);
        if (rc == TP_OK)
            printf("%lld job%s queued\n", created, created == 1 ? "" : "s");
    }
    tp_db_close(db);
    if (rc < 0) {
        tp__die_msg(cmd, "%s", err.msg);
        return TP_EXIT_FAIL;
    }
    return TP_EXIT_OK;
}

int tp__cmd_enqueue(int argc, char **argv)
{
    return enqueue_main(argc, argv, TP_JOB_FETCH);
}

int tp__cmd_reparse(int argc, char **argv)
{
    return enqueue_main(argc, argv, TP_JOB_REPARSE);
}

/* ---------------------------------------------------------------- jobs, job */

int tp__cmd_jobs(int argc, char **argv)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"status", required_argument, 0, 's'},
                                         {"limit", required_argument, 0, 'l'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *status = NULL;
    long limit = 50;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db_opt = optarg; break;
        case 's': status = optarg; break;
        case 'l':
            if (tp__parse_long(optarg, 1, 100000, &limit) < 0) {
                tp__die_msg("jobs", "--limit must be 1-100000");
                return TP_EXIT_USAGE;
            }
            break;
        case 'h': puts("usage: tillpipe jobs [--status S] [--limit N]"); return TP_EXIT_OK;
        default:
            tp__die_msg("jobs", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            return TP_EXIT_USAGE;
        }
    }
    static const char *const statuses[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    int ok = !status;
    for (int i = 0; status && i < 5; i++)
        ok |= strcmp(status, statuses[i]) == 0;
    if (!ok) {
        tp__die_msg("jobs", "--status must be queued, running, succeeded, failed or cancelled");
        return TP_EXIT_USAGE;
    }
    tp_db *db = connect_or_die("jobs");
    if (!db)
        return TP_EXIT_FAIL;
    tp_error err = {0};
    char slimit[16];
    snprintf(slimit, sizeof slimit, "%ld", limit);
    const char *p[] = {status, slimit};
    PGresult *r = tp_db_query(db,
                              "SELECT id, branch, pos, business_date, status, attempts,"
                              " coalesce(records::text, ''), coalesce(last_error, '')"
                              " FROM jobs WHERE $1::job_status IS NULL OR status = $1::job_status"
                              " ORDER BY id DESC LIMIT $2",
                              2, p, &err);
    if (r) {
        printf("%-8s %-12s %-3s %-10s %-9s %-3s %-8s %s\n", "id", "branch", "pos", "date",
               "status", "try", "records", "last error");
        for (int i = 0; i < PQntuples(r); i++)
            printf("%-8s %-12s %-3s %-10s %-9s %-3s %-8s %s\n", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                   PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6),
                   PQgetvalue(r, i, 7));
        PQclear(r);
    }
    tp_db_close(db);
    if (!r) {
        tp__die_msg("jobs", "%s", err.msg);
        return TP_EXIT_FAIL;
    }
    return TP_EXIT_OK;
}

int tp__cmd_job(int argc, char **argv)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"cancel", no_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, cancel = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'D')
            db_opt = optarg;
        else if (c == 'c')
            cancel = 1;
        else {
            if (c != 'h')
                tp__die_msg("job", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            puts("usage: tillpipe job ID [--cancel]");
            return c == 'h' ? TP_EXIT_OK : TP_EXIT_USAGE;
        }
    }
    long id;
    if (optind + 1 != argc || tp__parse_long(argv[optind], 1, 0x7fffffffL, &id) < 0) {
        tp__die_msg("job", "usage: tillpipe job ID [--cancel] (ID a job number)");
        return TP_EXIT_USAGE;
    }
    tp_db *db = connect_or_die("job");
    if (!db)
        return TP_EXIT_FAIL;
    tp_error err = {0};
    int rc = TP_OK;
    char sid[32];
    snprintf(sid, sizeof sid, "%ld", id);
    const char *p[] = {sid};
    if (cancel) {
        int now = 0;
        rc = tp_queue_cancel(db, id, tp_db_cli_actor(), &now, &err);
        if (rc == TP_OK)
            audit(db, "job.cancel", sid, NULL);
        if (rc == TP_OK)
            printf("job %ld %s\n", id,
                   now ? "cancelled" : "running: its worker stops at the next stage boundary");
        goto out;
    }
    PGresult *r = tp_db_query(db,
                              "SELECT branch, pos, business_date, status, attempts, max_attempts,"
                              " coalesce(records::text, '-'), coalesce(last_error, '-'),"
                              " created_by, created_at, coalesce(finished_at::text, '-')"
                              " FROM jobs WHERE id = $1",
                              1, p, &err);
    if (!r) {
        rc = TP_EDB;
        goto out;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        rc = tp_error_set(&err, TP_ENOTFOUND, "no job %ld", id);
        goto out;
    }
    printf("job %ld: %s/%s/%s %s (attempt %s of %s), records %s\n  created by %s at %s, "
           "finished %s\n  last error: %s\n",
           id, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
           PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5), PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 8),
           PQgetvalue(r, 0, 9), PQgetvalue(r, 0, 10), PQgetvalue(r, 0, 7));
    PQclear(r);
    r = tp_db_query(db,
                    "SELECT attempt, worker, coalesce(stage, ''), coalesce(error_code, ''),"
                    " coalesce(retryable::text, ''), coalesce(message, ''),"
                    " coalesce(round(extract(epoch FROM finished_at - started_at)::numeric, 3)::text, ''),"
                    " coalesce(plugins::text, ''), coalesce((SELECT string_agg(format('%s %s s', k,"
                    " round(v::numeric, 3)), ', ' ORDER BY array_position(ARRAY['fetch', 'store',"
                    " 'parse', 'load'], k)) FROM jsonb_each_text(stage_seconds) e(k, v)), '')"
                    " FROM job_attempts WHERE job_id = $1 ORDER BY attempt",
                    1, p, &err);
    for (int i = 0; r && i < PQntuples(r); i++)
        printf("  attempt %s by %s: stage %s%s%s (retryable %s) %s [%s s%s%s]\n    plugins %s\n",
               PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
               *PQgetvalue(r, i, 3) ? ", error " : "", PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), *PQgetvalue(r, i, 8) ? ": " : "",
               PQgetvalue(r, i, 8), PQgetvalue(r, i, 7));
    PQclear(r);
    r = tp_db_query(db,
                    "SELECT attempt, report_type, name, coalesce(data_rows::text, '?'), chosen, reason"
                    " FROM files WHERE job_id = $1 ORDER BY attempt, report_type, name",
                    1, p, &err);
    for (int i = 0; r && i < PQntuples(r); i++)
        printf("  file %-8s %s: %s rows, %s\n", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 3), PQgetvalue(r, i, 5));
    PQclear(r);
    r = tp_db_query(db,
                    "SELECT rows_outside_date, rows_rejected, warnings, missing_reports::text,"
                    " jsonb_array_length(problems) FROM quality_flags WHERE job_id = $1",
                    1, p, &err);
    for (int i = 0; r && i < PQntuples(r); i++)
        printf("  quality: %s rows outside the date, %s rejected, %s warnings, missing %s, %s "
               "problems listed\n",
               PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
               PQgetvalue(r, i, 4));
    PQclear(r);
out:
    tp_db_close(db);
    if (rc < 0) {
        tp__die_msg("job", "%s", err.msg);
        return TP_EXIT_FAIL;
    }
    return TP_EXIT_OK;
}

/* ---------------------------------------------------------------- worker */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int tp__worker_env_open(tp__worker_env *e, const tp_worker_opts *o, const tp_fetch_opts *fo,
                        const char *store_opt, const char *plugin_dir, const char *cmd,
                        tp_error *err)
{
    memset(e, 0, sizeof *e);
    e->o = *o;
    if (tp_store_config_parse(tp_store_spec(store_opt), e->sbuf, sizeof e->sbuf, &e->scfg, err) <
            0 ||
        tp_store_open(&e->scfg, &e->store, err) < 0 || tp_fetcher_new(fo, &e->fetcher, err) < 0) {
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
    if (!(e->reg = tp__load_plugins(plugin_dir, o->quiet, err))) {
        tp__worker_env_close(e);
        return TP_EPLUGIN;
    }
    e->o.store = e->store;
    e->o.fetcher = e->fetcher;
    e->o.plugins = e->reg;
    return TP_OK;
}

void tp__worker_env_close(tp__worker_env *e)
{
    tp_registry_destroy(e->reg);
    tp_store_close(e->store);
    tp_fetcher_free(e->fetcher);
    e->reg = NULL;
    e->store = NULL;
    e->fetcher = NULL;
}

int tp__cmd_worker(int argc, char **argv)
{
    static const struct option opts[] = {
        {"database", required_argument, 0, 'D'}, {"reports", required_argument, 0, 'r'},
        {"concurrency", required_argument, 0, 'c'}, {"plugins", required_argument, 0, 'P'},
        {"lease", required_argument, 0, 'l'},    {"backoff", required_argument, 0, 'b'},
        {"drain", required_argument, 0, 'd'},    {"exit-when-idle", no_argument, 0, 'x'},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {"noop", no_argument, 0, 'N'},           {"server", required_argument, 0, 's'},
        {"store", required_argument, 0, 'S'},    {"max-in-flight", required_argument, 0, 'i'},
        {"rate", required_argument, 0, 'R'},     {"retries", required_argument, 0, 't'},
        {"max-file-mb", required_argument, 0, 'm'}, {"workdir", required_argument, 0, 'w'},
        {0, 0, 0, 0}};
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
        "  --drain S          after SIGTERM: finish or release jobs within S seconds, default 30\n"
        "  --exit-when-idle   stop once nothing is queued or running\n"
        "  --noop             benchmark the queue: complete each job without running it\n";
    tp_worker_opts o = {.concurrency = 2, .lease_seconds = TP_LEASE_SECONDS, .backoff_base = 2,
                        .drain_seconds = 30, .stop = &stop_flag};
    tp_fetch_opts fo = {.retries = -1, .backoff_base = -1};
    const char *plugin_dir = NULL, *store_opt = NULL;
    long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db_opt = optarg; break;
        case 'r': o.reports_dir = optarg; break;
        case 'P': plugin_dir = optarg; break;
        case 'x': o.exit_when_idle = 1; break;
        case 'q': o.quiet = 1; break;
        case 'N': o.noop = 1; break;
        case 's': o.server = optarg; break;
        case 'S': store_opt = optarg; break;
        case 'w': o.workroot = optarg; break;
        case 'i':
        case 'R':
        case 't':
        case 'm':
            if (tp__parse_long(optarg, c == 'i' || c == 'm' ? 1 : 0, c == 'm' ? 65536 : 10000, &v) < 0) {
                tp__die_msg("worker", "option \"%s\" wants a whole number in range", argv[optind - 1]);
                return TP_EXIT_USAGE;
            }
            if (c == 'i')
                fo.max_in_flight = (int)v;
            else if (c == 'R')
                fo.max_per_second = (double)v;
            else if (c == 't')
                fo.retries = (int)v;
            else
                fo.max_file_bytes = (uint64_t)v << 20;
            break;
        case 'c':
        case 'l':
        case 'd':
        case 'b':
            if (tp__parse_long(optarg, c == 'd' || c == 'b' ? 0 : 1, c == 'c' ? 64 : 86400, &v) < 0) {
                tp__die_msg("worker", "option \"%s\" wants a whole number in range", argv[optind - 1]);
                return TP_EXIT_USAGE;
            }
            if (c == 'c')
                o.concurrency = (int)v;
            else if (c == 'l')
                o.lease_seconds = (int)v;
            else if (c == 'd')
                o.drain_seconds = (int)v;
            else
                o.backoff_base = (double)v; /* 0: retry at once */
            break;
        case 'h': fputs(usage, stdout); return TP_EXIT_OK;
        default:
            tp__die_msg("worker", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            return TP_EXIT_USAGE;
        }
    }
    if (!o.server && getenv("TILLPIPE_REPORT_SERVER") && *getenv("TILLPIPE_REPORT_SERVER"))
        o.server = getenv("TILLPIPE_REPORT_SERVER");
    if (!o.reports_dir && !o.server && !o.noop) {
        tp__die_msg("worker", "no source: pass --server URL (or set TILLPIPE_REPORT_SERVER), or --reports DIR");
        return TP_EXIT_USAGE;
    }
    if (o.server && strncmp(o.server, "http://", 7) != 0 && strncmp(o.server, "https://", 8) != 0) {
        tp__die_msg("worker", "--server wants an http:// or https:// base URL, not \"%s\"", o.server);
        return TP_EXIT_USAGE;
    }
    o.db_url = tp_db_url(db_opt);
    tp_error err = {0};
    if (!o.db_url) {
        tp__die_msg("worker", "no database: set TILLPIPE_DATABASE_URL or pass --database URL");
        return TP_EXIT_USAGE;
    }
    tp__worker_env env;
    if (tp__worker_env_open(&env, &o, &fo, store_opt, plugin_dir, "worker", &err) < 0) {
        tp__die_msg("worker", "%s", err.msg);
        return TP_EXIT_FAIL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    tp_worker_stats st;
    int rc = tp_worker_run(&env.o, &st, &err);
    tp__worker_env_close(&env);
    if (rc < 0) {
        tp__die_msg("worker", "%s", err.msg);
        return TP_EXIT_FAIL;
    }
    if (!o.quiet)
        fprintf(stderr,
                "tillpipe worker: stopped: %lld succeeded, %lld retried, %lld failed, %lld "
                "cancelled, %lld released, %lld lost, %lld records\n",
                st.succeeded, st.retried, st.failed, st.cancelled, st.released, st.lost,
                st.records);
    return TP_EXIT_OK;
}
