/* cmd_jobs.c -- `tillpipe jobs` (the newest jobs) and `tillpipe job ID`
 * (one job: its attempts, files and why each was chosen, data-quality
 * findings; or --cancel it), from the same JSON the API answers. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db/jobs.h"

/* A member as text: strings as they are, null (or absent) as `null_text`,
 * numbers and booleans as JSON writes them -- the member is replaced by
 * its text, so the pointer lives as long as the object. */
static const char *T(json_t *o, const char *key, const char *null_text)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return null_text;
    if (!json_is_string(v)) {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        json_object_set_new(o, key, json_string(s ? s : ""));
        free(s);
        v = json_object_get(o, key);
    }
    return json_string_value(v);
}

static int print_jobs(json_t *jobs)
{
    printf("%-8s %-12s %-3s %-10s %-9s %-3s %-8s %s\n", "id", "branch", "pos", "date", "status",
           "try", "records", "last error");
    size_t i;
    json_t *j;
    json_array_foreach(jobs, i, j)
    {
        printf("%-8s %-12s %-3s %-10s %-9s ", T(j, "id", ""), T(j, "branch", ""), T(j, "pos", ""),
               T(j, "date", ""), T(j, "status", ""));
        printf("%-3s %-8s %s\n", T(j, "attempts", ""), T(j, "records", ""), T(j, "last_error", ""));
    }
    return TP_OK;
}

/* "fetch 0.123 s, store 0.010 s, ..." in stage order. */
static void stage_seconds(json_t *st, char *out, size_t cap)
{
    static const char *const order[] = {"fetch", "store", "parse", "load"};
    size_t n = 0;
    out[0] = '\0';
    for (size_t k = 0; k < sizeof order / sizeof *order && n < cap; k++) {
        json_t *v = json_object_get(st, order[k]);
        if (json_is_number(v))
            n += (size_t)snprintf(out + n, cap - n, "%s%s %.3f s", n ? ", " : "", order[k],
                                  json_number_value(v));
    }
}

static void print_attempt(json_t *a)
{
    char stages[256], secs[32] = "";
    json_t *seconds = json_object_get(a, "seconds");
    if (json_is_number(seconds))
        snprintf(secs, sizeof secs, "%.3f", json_number_value(seconds));
    stage_seconds(json_object_get(a, "stage_seconds"), stages, sizeof stages);
    const char *code = T(a, "code", "");
    printf("  attempt %s by %s: stage %s%s%s (retryable %s) %s [%s s%s%s]\n", T(a, "attempt", ""),
           T(a, "worker", ""), T(a, "stage", ""), *code ? ", error " : "", code,
           T(a, "retryable", ""), T(a, "message", ""), secs, *stages ? ": " : "", stages);
    char *plugins = json_is_object(json_object_get(a, "plugins"))
                        ? json_dumps(json_object_get(a, "plugins"), JSON_SORT_KEYS)
                        : NULL;
    printf("    plugins %s\n", plugins ? plugins : "");
    free(plugins);
}

static void print_quality(json_t *q)
{
    char missing[256] = "{";
    size_t i, n = 1;
    json_t *v;
    json_array_foreach(json_object_get(q, "missing_reports"), i, v)
    {
        if (n < sizeof missing)
            n += (size_t)snprintf(missing + n, sizeof missing - n, "%s%s", i ? "," : "",
                                  json_string_value(v));
    }
    if (n >= sizeof missing - 1)
        n = sizeof missing - 2;
    snprintf(missing + n, sizeof missing - n, "}");
    printf("  quality: %s rows outside the date, %s rejected, %s warnings, missing %s, %zu "
           "problems listed\n",
           T(q, "rows_outside_date", "0"), T(q, "rows_rejected", "0"), T(q, "warnings", "0"),
           missing, json_array_size(json_object_get(q, "problems")));
}

static void print_job(long long id, json_t *j)
{
    printf("job %lld: %s/%s/%s %s (attempt %s of %s), records %s\n", id, T(j, "branch", ""),
           T(j, "pos", ""), T(j, "date", ""), T(j, "status", ""), T(j, "attempts", ""),
           T(j, "max_attempts", ""), T(j, "records", "-"));
    printf("  created by %s at %s, finished %s\n  last error: %s\n", T(j, "created_by", ""),
           T(j, "created_at", ""), T(j, "finished_at", "-"), T(j, "last_error", "-"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "attempts_detail"), i, v) print_attempt(v);
    json_array_foreach(json_object_get(j, "files"), i, v)
        printf("  file %-8s %s: %s rows, %s\n", T(v, "type", ""), T(v, "name", ""),
               T(v, "rows", "?"), T(v, "reason", ""));
    if (json_is_object(json_object_get(j, "quality")))
        print_quality(json_object_get(j, "quality"));
}

/* Print the JSON text `s` (taken) with fn; TP_ENOMEM when it cannot be read. */
static int print_json(char *s, void (*fn)(long long, json_t *), long long id, tp_error *err)
{
    json_t *o = s ? json_loads(s, 0, NULL) : NULL;
    free(s);
    if (!o)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    fn(id, o);
    json_decref(o);
    return TP_OK;
}

static void print_jobs_cb(long long id, json_t *o)
{
    (void)id;
    print_jobs(o);
}

int tp__cmd_jobs(int argc, char **argv)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"status", required_argument, 0, 's'},
                                         {"limit", required_argument, 0, 'l'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *status = NULL, *db_opt = NULL;
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
        default: return tp__bad_option("jobs", argv);
        }
    }
    static const char *const statuses[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    int ok = !status;
    for (size_t i = 0; status && i < sizeof statuses / sizeof *statuses; i++)
        ok |= strcmp(status, statuses[i]) == 0;
    if (!ok) {
        tp__die_msg("jobs", "--status must be queued, running, succeeded, failed or cancelled");
        return TP_EXIT_USAGE;
    }
    tp_db *db = tp__cli_db("jobs", db_opt, 0);
    if (!db)
        return TP_EXIT_FAIL;
    tp_error err = {0};
    char *s = tp_jobs_recent_json(db, status, limit, &err);
    int rc = s ? print_json(s, print_jobs_cb, 0, &err) : TP_EDB;
    tp_db_close(db);
    return rc < 0 ? tp__fail("jobs", &err) : TP_EXIT_OK;
}

static int cancel_job(tp_db *db, long long id, tp_error *err)
{
    char actor[96], sid[32];
    int now = 0;
    int rc = tp_queue_cancel(db, id, tp__cli_actor(actor), &now, err);
    if (rc < 0)
        return rc;
    snprintf(sid, sizeof sid, "%lld", id);
    tp__cli_audit(db, "job.cancel", sid, NULL);
    printf("job %lld %s\n", id,
           now ? "cancelled"
               : "running: its worker stops it at the next stage boundary, or at once "
                 "while its files parse");
    return TP_OK;
}

int tp__cmd_job(int argc, char **argv)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"cancel", no_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db_opt = NULL;
    int c, cancel = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'D') {
            db_opt = optarg;
        } else if (c == 'c') {
            cancel = 1;
        } else {
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
    tp_db *db = tp__cli_db("job", db_opt, 0);
    if (!db)
        return TP_EXIT_FAIL;
    tp_error err = {0};
    int rc;
    if (cancel) {
        rc = cancel_job(db, id, &err);
    } else {
        char *s = tp_job_json(db, id, &err);
        rc = s ? print_json(s, print_job, id, &err) : err.code;
    }
    tp_db_close(db);
    return rc < 0 ? tp__fail("job", &err) : TP_EXIT_OK;
}
