/* cmd_enqueue.c -- `tillpipe enqueue` and `tillpipe reparse`: queue
 * terminal-day jobs, one or a date range (the same options, another job
 * kind). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/reports.h"
#include "db/queue.h"

static const char enqueue_usage[] =
    "usage: tillpipe enqueue --branch B --pos N --date YYYY-MM-DD [--force]\n"
    "       tillpipe enqueue --from YYYY-MM-DD --to YYYY-MM-DD [--force]\n"
    "         (every active branch and terminal, in one transaction)\n";
static const char reparse_usage[] =
    "usage: tillpipe reparse --branch B --pos N --date YYYY-MM-DD [--force]\n"
    "       tillpipe reparse --from YYYY-MM-DD --to YYYY-MM-DD [--branch B]\n"
    "         select, parse, combine and load again from the stored raw files (no fetch):\n"
    "         every terminal-day in the range with a succeeded run, in one transaction\n";

typedef struct enqueue_opts {
    tp_job_kind kind;
    const char *cmd, *usage, *db;
    const char *branch, *date, *from, *to;
    long pos;
    int force, single;
} enqueue_opts;

/* The combination given makes sense: 0, or the exit status. */
static int check_args(enqueue_opts *o)
{
    o->single = o->pos || o->date || (o->branch && !o->from && !o->to);
    int range = o->from || o->to;
    if (o->single == range || (o->single && (!o->branch || !o->pos || !o->date)) ||
        (range && (!o->from || !o->to)) || (range && o->branch && o->kind != TP_JOB_REPARSE)) {
        tp__die_msg(o->cmd, "give --branch, --pos and --date, or --from and --to");
        fputs(o->usage, stderr);
        return TP_EXIT_USAGE;
    }
    const char *dates[] = {o->date, o->from, o->to};
    for (int i = 0; i < 3; i++)
        if (dates[i] && !tp_date_valid(dates[i])) {
            tp__die_msg(o->cmd, "\"%s\" is not a valid YYYY-MM-DD date", dates[i]);
            return TP_EXIT_USAGE;
        }
    if (range && strcmp(o->from, o->to) > 0) {
        tp__die_msg(o->cmd, "--from %s is after --to %s", o->from, o->to);
        return TP_EXIT_USAGE;
    }
    return 0;
}

/* -1 with o filled, else the exit status. */
static int parse_args(int argc, char **argv, enqueue_opts *o)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"branch", required_argument, 0, 'b'},
                                         {"pos", required_argument, 0, 'p'},
                                         {"date", required_argument, 0, 'd'},
                                         {"from", required_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         {"force", no_argument, 0, 'F'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': o->db = optarg; break;
        case 'b': o->branch = optarg; break;
        case 'd': o->date = optarg; break;
        case 'f': o->from = optarg; break;
        case 't': o->to = optarg; break;
        case 'F': o->force = 1; break;
        case 'p':
            if (tp__parse_long(optarg, 1, 99, &o->pos) < 0) {
                tp__die_msg(o->cmd, "--pos must be a terminal number 1-99, got \"%s\"", optarg);
                return TP_EXIT_USAGE;
            }
            break;
        case 'h': fputs(o->usage, stdout); return TP_EXIT_OK;
        default: return tp__bad_option(o->cmd, argv);
        }
    }
    int st = check_args(o);
    return st ? st : -1;
}

static int enqueue_one(tp_db *db, const enqueue_opts *o, tp_error *err)
{
    char actor[96], target[96], details[96];
    long long id = 0;
    tp_enqueue_result res;
    int rc = tp_queue_enqueue_kind(db, o->kind, o->branch, (int)o->pos, o->date, o->force,
                                   tp__cli_actor(actor), &id, &res, err);
    if (rc < 0)
        return rc;
    snprintf(target, sizeof target, "%s/%ld/%s", o->branch, o->pos, o->date);
    snprintf(details, sizeof details, "{\"job_id\": %lld, \"force\": %s}", id,
             o->force ? "true" : "false");
    tp__cli_audit(db, o->kind == TP_JOB_REPARSE ? "job.reparse" : "job.enqueue", target, details);
    printf("job %lld %s\n", id,
           res == TP_ENQUEUE_CREATED    ? "queued"
           : res == TP_ENQUEUE_RERUN    ? "running; a new run is queued after it"
           : res == TP_ENQUEUE_UPGRADED ? "was a queued reparse; now a fetch"
                                        : "already live (queued or running)");
    return TP_OK;
}

static int enqueue_range(tp_db *db, const enqueue_opts *o, tp_error *err)
{
    char actor[96], target[96], details[96];
    long long created = 0;
    tp__cli_actor(actor);
    int rc =
        o->kind == TP_JOB_REPARSE
            ? tp_queue_enqueue_reparse_range(db, o->from, o->to, o->branch, actor, &created, err)
            : tp_queue_enqueue_range(db, o->from, o->to, o->force, actor, &created, err);
    if (rc < 0)
        return rc;
    snprintf(target, sizeof target, "%s..%s%s%s", o->from, o->to, o->branch ? " " : "",
             o->branch ? o->branch : "");
    snprintf(details, sizeof details, "{\"created\": %lld, \"force\": %s}", created,
             o->force ? "true" : "false");
    tp__cli_audit(db, o->kind == TP_JOB_REPARSE ? "jobs.reparse_range" : "jobs.enqueue_range",
                  target, details);
    printf("%lld job%s queued\n", created, created == 1 ? "" : "s");
    return TP_OK;
}

static int enqueue_main(int argc, char **argv, tp_job_kind kind)
{
    enqueue_opts o = {.kind = kind,
                      .cmd = kind == TP_JOB_REPARSE ? "reparse" : "enqueue",
                      .usage = kind == TP_JOB_REPARSE ? reparse_usage : enqueue_usage};
    int st = parse_args(argc, argv, &o);
    if (st >= 0)
        return st;
    tp_db *db = tp__cli_db(o.cmd, o.db, 1);
    if (!db)
        return TP_EXIT_FAIL;
    tp_error err = {0};
    int rc = o.single ? enqueue_one(db, &o, &err) : enqueue_range(db, &o, &err);
    tp_db_close(db);
    return rc < 0 ? tp__fail(o.cmd, &err) : TP_EXIT_OK;
}

int tp__cmd_enqueue(int argc, char **argv)
{
    return enqueue_main(argc, argv, TP_JOB_FETCH);
}

int tp__cmd_reparse(int argc, char **argv)
{
    return enqueue_main(argc, argv, TP_JOB_REPARSE);
}
