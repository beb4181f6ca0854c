/* cmd_run.c -- `tillpipe run`: a folder of reports to one records file. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/clock.h"
#include "io/config_file.h"
#include "io/fsutil.h"
#include "io/output.h"
#include "io/scan.h"
#include "pipeline/pipeline.h"

static const char run_usage[] =
    "usage: tillpipe run --reports DIR --out FILE [options]\n"
    "  --reports DIR       folder of report files "
    "(<prefix>_<BRANCH>_<POS>_<type>_<date>_<time>_.csv);\n"
    "                      zip and tar(.gz) archives in it (or given instead) add their members\n"
    "  --out FILE          records file, written atomically (a symlink's target is replaced,\n"
    "                      the link kept); \"-\" = standard output; a character device or\n"
    "                      FIFO (/dev/null, a pipe) is written in place\n"
    "  --format F          record2025 (legacy layout, default), csv or jsonl\n"
    "  --branches FILE     branch configuration (default: the built-in chain configuration)\n"
    "  --branch B --pos N --date YYYY-MM-DD   only these terminal-days (each optional)\n"
    "  --report FILE       also write a JSON report: every candidate file and why it was\n"
    "                      (not) chosen, plugins used, data-quality flags and problems\n"
    "  --plugins DIR       plugin directory\n"
    "  --verbose           print every terminal-day's choices and problems\n"
    "  --quiet             print nothing but errors\n" TP__PLUGIN_USAGE;

typedef struct run_opts {
    const char *reports, *out, *branches, *plugin_dir, *report_path;
    tp_format fmt;
    int verbose, quiet;
    tp_scan_filter filter;
} run_opts;

typedef struct run_state {
    tp_writer *w;
    tp_outfile *report_out; /* --report, or NULL */
    uint64_t records, bytes, rows, termdays, no_orders, flagged, outside, rejected;
    json_t *report; /* array, or NULL */
    char **noted;   /* branches already noted as not configured */
    size_t nnoted;
} run_state;

static int on_record(void *ud, const tp_record *r, tp_error *err)
{
    run_state *s = ud;
    return tp_writer_record(s->w, r, err);
}

static json_t *termday_json(const tp_termday *td, const tp_termday_result *res)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:I}", "branch", td->branch, "pos", td->pos, "date",
                          td->date, "status",
                          res->status == TP_TERMDAY_NO_ORDERS ? "no_orders" : "combined", "records",
                          (json_int_t)res->records);
    json_t *cands = json_array(), *plugins = json_object(), *missing = json_array(),
           *problems = json_array();
    for (size_t i = 0; i < td->ncands; i++) {
        const tp_candidate *c = &td->cands[i];
        json_array_append_new(cands,
                              json_pack("{s:s, s:s, s:I, s:I, s:b, s:s}", "file", c->name, "type",
                                        tp_schema_of(c->rn.type)->name, "bytes",
                                        (json_int_t)c->size, "data_rows", (json_int_t)c->rows,
                                        "chosen", c->chosen, "reason", c->reason));
    }
    for (int t = 0; t < TP_TYPE_COUNT; t++) {
        if (res->plugin[t])
            json_object_set_new(plugins, tp_schema_of(t)->name,
                                json_pack("{s:s, s:s, s:s, s:s}", "name",
                                          res->plugin[t]->desc->name, "version",
                                          res->plugin[t]->desc->version, "sha256",
                                          res->plugin[t]->sha256, "why", res->plugin_why[t]));
        if (res->quality.missing & (1u << t))
            json_array_append_new(missing, json_string(tp_schema_of(t)->name));
    }
    for (size_t i = 0; i < res->quality.nproblems; i++) {
        const tp_problem *p = &res->quality.problems[i];
        json_array_append_new(problems,
                              json_pack("{s:s, s:I, s:s, s:s}", "file", p->file, "line",
                                        (json_int_t)p->line, "severity",
                                        p->severity == TP_PROBLEM_ERROR ? "error" : "warning",
                                        "reason", p->reason));
    }
    json_object_set_new(o, "candidates", cands);
    json_object_set_new(o, "plugins", plugins);
    json_object_set_new(o, "quality",
                        json_pack("{s:I, s:I, s:I, s:o, s:o, s:I}", "rows_outside_date",
                                  (json_int_t)res->quality.rows_outside_date, "rows_rejected",
                                  (json_int_t)res->quality.rows_rejected, "warnings",
                                  (json_int_t)res->quality.warnings, "missing_reports", missing,
                                  "problems", problems, "problems_left_out",
                                  (json_int_t)res->quality.problems_left_out));
    return o;
}

static void print_termday(const tp_termday *td, const tp_termday_result *res)
{
    fprintf(stderr, "%s/%d/%s: %llu records\n", td->branch, td->pos, td->date,
            (unsigned long long)res->records);
    for (size_t i = 0; i < td->ncands; i++)
        fprintf(stderr, "  %-8s %s: %s\n", tp_schema_of(td->cands[i].rn.type)->name,
                td->cands[i].name, td->cands[i].reason);
    for (int t = 0; t < TP_TYPE_COUNT; t++)
        if (res->plugin[t])
            fprintf(stderr, "  %-8s parser %s\n", tp_schema_of(t)->name, res->plugin_why[t]);
    for (size_t i = 0; i < res->quality.nproblems; i++) {
        const tp_problem *p = &res->quality.problems[i];
        fprintf(stderr, "  %s %s:%llu: %s\n", p->severity == TP_PROBLEM_ERROR ? "error" : "warning",
                p->file, (unsigned long long)p->line, p->reason);
    }
}

static int note_branch(char ***seen, size_t *n, const char *b)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*seen)[i], b) == 0)
            return 0;
    char **v = realloc(*seen, (*n + 1) * sizeof *v);
    if (!v)
        return 0;
    *seen = v;
    v[(*n)++] = strdup(b);
    return 1;
}

/* What a run uses for a branch the configuration does not list, resolved
 * as the pipeline resolves it (no plugin named): "rd5500 by newpos 1.0.0
 * (override for BETA), other types by the generic plugins". */
static void unlisted_plugins(const tp_registry *reg, const char *branch, char *buf, size_t n)
{
    size_t used = 0;
    int generic = 0, overrides = 0;
    char missing[160] = "";
    buf[0] = '\0';
    for (int t = 0; t < TP_TYPE_COUNT; t++) {
        const char *type = tp_schema_of(t)->name;
        char why[160];
        const tp_plugin *p =
            tp_registry_resolve(reg, type, branch, NULL, NULL, why, sizeof why, NULL);
        if (!p) {
            size_t m = strlen(missing);
            snprintf(missing + m, sizeof missing - m, "%s%s", m ? ", " : "", type);
        } else if (tp_plugin_is_generic(p)) {
            generic++;
        } else if (used < n) {
            used += (size_t)snprintf(buf + used, n - used, "%s%s by %s %s (override for %s)",
                                     overrides++ ? ", " : "", type, p->desc->name, p->desc->version,
                                     branch);
        }
    }
    if (used < n && generic)
        used += (size_t)snprintf(buf + used, n - used, "%s",
                                 overrides    ? ", other types by the generic plugins"
                                 : missing[0] ? "the generic plugins"
                                              : "the generic plugins for every report type");
    if (used < n && missing[0])
        snprintf(buf + used, n - used, "%sno plugin for %s", used ? "; " : "", missing);
}

static void note_unlisted(const tp_registry *reg, const tp_config *cfg, run_state *s,
                          const char *branch)
{
    if (!note_branch(&s->noted, &s->nnoted, branch))
        return;
    char plugins[600];
    unlisted_plugins(reg, branch, plugins, sizeof plugins);
    fprintf(stderr,
            "tillpipe run: note: branch %s is not in the branch configuration (%s): %s; "
            "classic POS rules\n",
            branch, tp_config_source(cfg), plugins);
}

/* The JSON report into its temporary (committed after the records). */
static int write_report(const char *path, run_state *s, tp_error *err)
{
    json_t *root = json_pack("{s:I, s:I, s:O}", "terminal_days", (json_int_t)s->termdays, "records",
                             (json_int_t)s->records, "terminal_day_details", s->report);
    int rc = root && json_dumpf(root, tp_outfile_stream(s->report_out), JSON_INDENT(1)) == 0
                 ? TP_OK
                 : tp_error_set(err, TP_EIO, "%s: cannot write the report", path);
    json_decref(root);
    return rc;
}

/* Sum one terminal-day into the run's totals. */
static void account(run_state *s, const tp_termday_result *res)
{
    s->termdays++;
    s->records += res->records;
    s->bytes += res->bytes;
    s->rows += res->rows_parsed;
    s->no_orders += res->status == TP_TERMDAY_NO_ORDERS;
    s->flagged += tp_quality_flagged(&res->quality);
    s->outside += res->quality.rows_outside_date;
    s->rejected += res->quality.rows_rejected;
}

static int run_days(const run_opts *o, const tp_pipeline *pl, tp_scan *scan, run_state *s,
                    tp_error *err)
{
    for (size_t i = 0; i < scan->ndays; i++) {
        tp_termday *td = &scan->days[i];
        tp_termday_result res;
        if (tp_pipeline_termday(pl, td, on_record, s, &res, err) < 0) {
            tp_termday_result_clear(&res);
            return tp_error_prefix(err, "%s/%d/%s: ", td->branch, td->pos, td->date);
        }
        account(s, &res);
        if (!res.branch_listed && !o->quiet)
            note_unlisted(pl->plugins, pl->config, s, td->branch);
        if (o->verbose)
            print_termday(td, &res);
        if (s->report)
            json_array_append_new(s->report, termday_json(td, &res));
        tp_termday_result_clear(&res);
    }
    return TP_OK;
}

static void print_summary(const run_opts *o, const run_state *s, const tp_scan *scan, double secs)
{
    fprintf(stderr,
            "tillpipe run: %llu terminal-days (%llu without order lines), %llu records from "
            "%llu parsed rows, %.1f MB in %.2f s\n",
            (unsigned long long)s->termdays, (unsigned long long)s->no_orders,
            (unsigned long long)s->records, (unsigned long long)s->rows, (double)s->bytes / 1e6,
            secs);
    fprintf(stderr,
            "tillpipe run: data quality: %llu terminal-days flagged, %llu rows outside the "
            "business date, %llu rows rejected%s\n",
            (unsigned long long)s->flagged, (unsigned long long)s->outside,
            (unsigned long long)s->rejected,
            s->flagged && !o->verbose ? " (--verbose or --report for details)" : "");
    if (scan->nignored)
        fprintf(stderr, "tillpipe run: %zu file%s without a report name ignored\n", scan->nignored,
                scan->nignored == 1 ? "" : "s");
}

/* -1 to go on with *o filled, else the exit status after saying why. */
static int parse_run_opts(int argc, char **argv, run_opts *o)
{
    static const struct option opts[] = {{"reports", required_argument, 0, 'r'},
                                         {"out", required_argument, 0, 'o'},
                                         {"format", required_argument, 0, 'f'},
                                         {"branches", required_argument, 0, 'c'},
                                         {"branch", required_argument, 0, 'b'},
                                         {"pos", required_argument, 0, 'p'},
                                         {"date", required_argument, 0, 'd'},
                                         {"plugins", required_argument, 0, 'P'},
                                         {"report", required_argument, 0, 'R'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         TP__PLUGIN_OPTIONS,
                                         {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->fmt = TP_FMT_RECORD2025;
    long pos;
    int c, fmt;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': o->reports = optarg; break;
        case 'o': o->out = optarg; break;
        case 'c': o->branches = optarg; break;
        case 'b': o->filter.branch = optarg; break;
        case 'P': o->plugin_dir = optarg; break;
        case 'R': o->report_path = optarg; break;
        case 'v': o->verbose = 1; break;
        case 'q': o->quiet = 1; break;
        case 'f':
            if ((fmt = tp_format_parse(optarg)) < 0) {
                tp__die_msg("run", "unknown --format \"%s\" (record2025, csv or jsonl)", optarg);
                return TP_EXIT_USAGE;
            }
            o->fmt = (tp_format)fmt;
            break;
        case 'p':
            if (tp__parse_long(optarg, 1, 99, &pos) < 0) {
                tp__die_msg("run", "--pos must be a terminal number 1-99, got \"%s\"", optarg);
                return TP_EXIT_USAGE;
            }
            o->filter.pos = (int)pos;
            break;
        case 'd':
            if (!tp_date_valid(optarg)) {
                tp__die_msg("run", "--date must be a valid YYYY-MM-DD date, got \"%s\"", optarg);
                return TP_EXIT_USAGE;
            }
            o->filter.date = optarg;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return TP_EXIT_OK;
        TP__PLUGIN_OPTION_CASES:
            if (tp__plugin_option("run", c, optarg) != TP_EXIT_OK)
                return TP_EXIT_USAGE;
            break;
        default:
            tp__die_msg("run", "unknown or incomplete option \"%s\"", argv[optind - 1]);
            fputs(run_usage, stderr);
            return TP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        tp__die_msg("run", "unexpected argument \"%s\"", argv[optind]);
        return TP_EXIT_USAGE;
    }
    if (!o->reports || !o->out) {
        tp__die_msg("run", "--reports and --out are required");
        fputs(run_usage, stderr);
        return TP_EXIT_USAGE;
    }
    if (o->report_path && strcmp(o->out, "-") == 0 && strcmp(o->report_path, "-") == 0) {
        tp__die_msg("run", "--out and --report cannot both be standard output");
        return TP_EXIT_USAGE;
    }
    return -1;
}

/* The configuration, the plugins and the terminal-days of the folder. */
static int open_inputs(const run_opts *o, tp_config **cfg, tp_registry **reg, tp_scan **scan,
                       tp_error *err)
{
    if (!(*cfg = tp_config_load(o->branches, err)) ||
        !(*reg = tp__load_plugins(o->plugin_dir, o->quiet, 1, err)) ||
        tp_scan_dir(o->reports, &o->filter, scan, err) < 0)
        return err->code;
    if ((*scan)->ndays == 0)
        return tp_error_set(
            err, TP_ENOTFOUND, "%s: no report files%s (%zu other file%s ignored)", o->reports,
            o->filter.branch || o->filter.pos || o->filter.date ? " match the filter" : "",
            (*scan)->nignored, (*scan)->nignored == 1 ? "" : "s");
    return TP_OK;
}

/* Both results open before any work, so a refused destination costs
 * nothing; the report is committed after the records. */
static int run(const run_opts *o, run_state *s, tp_error *err)
{
    tp_config *cfg = NULL;
    tp_registry *reg = NULL;
    tp_scan *scan = NULL;
    double t0 = tp_now();
    int rc = open_inputs(o, &cfg, &reg, &scan, err);
    if (rc == TP_OK && !(s->w = tp_writer_open(o->out, o->fmt, err)))
        rc = err->code;
    if (rc == TP_OK && o->report_path) {
        if (!(s->report_out = tp_outfile_open(o->report_path, err)))
            rc = tp_error_prefix(err, "--report ");
        else
            s->report = json_array();
    }
    tp_pipeline pl = {.plugins = reg, .config = cfg};
    if (rc == TP_OK)
        rc = run_days(o, &pl, scan, s, err);
    if (rc == TP_OK && s->report)
        rc = write_report(o->report_path, s, err);
    if (rc == TP_OK) {
        rc = tp_writer_commit(s->w, err);
        s->w = NULL;
    }
    if (rc == TP_OK && s->report_out) {
        rc = tp_outfile_commit(s->report_out, err);
        s->report_out = NULL;
    }
    if (rc == TP_OK && !o->quiet)
        print_summary(o, s, scan, tp_now() - t0);
    tp_scan_destroy(scan);
    tp__unload_plugins(reg);
    tp_config_destroy(cfg);
    return rc;
}

int tp__cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc = parse_run_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    tp_error err = {0};
    run_state s = {0};
    int exit_code = run(&o, &s, &err) == TP_OK ? TP_EXIT_OK : tp__fail("run", &err);
    tp_writer_abort(s.w);
    tp_outfile_abort(s.report_out);
    json_decref(s.report);
    for (size_t i = 0; i < s.nnoted; i++)
        free(s.noted[i]);
    free(s.noted);
    return exit_code;
}
