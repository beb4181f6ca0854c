/* cmd_branch.c -- `tillpipe branch import|list`: the branch configuration
 * into the database (a JSON configuration, the built-in one, or the chain's
 * legacy one-code-per-line lists), in one transaction. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "db/branches.h"
#include "io/config_file.h"

static const char usage[] =
    "usage: tillpipe branch import [--database URL] [--builtin] [--newer]\n"
    "                              [--report-server-allow HOST[:PORT],...] FILE...\n"
    "         FILE.json: a branch configuration; FILE.txt: one code per line (the legacy\n"
    "         settings/branches.txt; settings/newBranches.txt, or --newer, for the newer POS)\n"
    "         a branch's report_server must be $TILLPIPE_REPORT_SERVER or on the allow-list\n"
    "         (--report-server-allow, default $TILLPIPE_REPORT_SERVER_ALLOW), as for `serve`\n"
    "       tillpipe branch list [--database URL]\n";

typedef struct branch_opts {
    int list, newer, builtin;
    const char *db;
    char **files;
    int nfiles;
    tp_allow *allow; /* the report servers a branch may name */
} branch_opts;

/* One line of a legacy list: a branch code, trimmed; NULL for a blank
 * line or a comment. */
static char *list_code(char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
    while (*line == ' ' || *line == '\t')
        line++;
    size_t len = strlen(line);
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        line[--len] = '\0';
    return *line && *line != '#' ? line : NULL;
}

/* The branch of one legacy list line, as a configuration would give it. */
static tp_config *list_branch(const char *code, int newer, const char *src, tp_error *err)
{
    if (!tp_branch_code_valid(code)) {
        tp_error_set(err, TP_ECONFIG, "%s: bad branch code", src);
        return NULL;
    }
    char json[512];
    snprintf(json, sizeof json,
             "{\"branches\": [{\"code\": \"%s\", \"terminals\": [1, 2], \"pos\": \"%s\"%s}]}", code,
             newer ? "newer" : "classic", newer ? ", \"parsers\": {\"rd5500\": \"newpos\"}" : "");
    return tp_config_parse(json, src, err);
}

/* A legacy list: one branch code per line (settings/branches.txt,
 * settings/newBranches.txt).  Codes on a "new" list run the newer POS. */
static int import_list(tp_db *db, const char *path, int newer, int *count, tp_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tp_error_set(err, TP_ENOTFOUND, "%s: %s", path, strerror(errno));
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char line[256], src[600];
    int rc = TP_OK;
    for (int lineno = 1; rc == TP_OK && fgets(line, sizeof line, f); lineno++) {
        char *code = list_code(line);
        if (!code)
            continue;
        snprintf(src, sizeof src, "%s:%d", path, lineno);
        tp_config *one = list_branch(code, newer, src, err);
        rc = one ? tp_branch_upsert(db, tp_config_at(one, 0), base, NULL, err) : TP_ECONFIG;
        tp_config_destroy(one);
        *count += rc == TP_OK;
    }
    fclose(f);
    return rc;
}

/* Every branch of a configuration (NULL path: the built-in one), each
 * report server it names on the allow-list. */
static int import_config(tp_db *db, const char *path, const tp_allow *allow, int *count,
                         tp_error *err)
{
    tp_config *cfg = tp_config_load(path, err);
    if (!cfg)
        return TP_ECONFIG;
    int rc = TP_OK;
    for (size_t i = 0; rc == TP_OK && i < tp_config_count(cfg); i++, (*count)++) {
        const tp_branch_cfg *b = tp_config_at(cfg, i);
        if (b->report_server && (rc = tp_allow_url(allow, b->report_server, NULL, err)) < 0)
            tp_error_prefix(err, "%s: branch %s: report_server: ", tp_config_source(cfg), b->code);
        else
            rc = tp_branch_upsert(db, b, NULL, NULL, err);
    }
    tp_config_destroy(cfg);
    return rc;
}

static int import_file(tp_db *db, const char *path, const branch_opts *o, int *count, tp_error *err)
{
    size_t len = strlen(path);
    int newer = o->newer;
    if (len > 5 && strcmp(path + len - 5, ".json") == 0)
        return import_config(db, path, o->allow, count, err);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    return import_list(db, path, newer || strncasecmp(base, "new", 3) == 0, count, err);
}

/* One transaction: a bad file imports nothing. */
static int import(tp_db *db, const branch_opts *o, tp_error *err)
{
    int total = 0;
    int rc = tp_db_begin(db, err);
    if (rc == TP_OK && o->builtin)
        rc = import_config(db, NULL, o->allow, &total, err);
    for (int i = 0; rc == TP_OK && i < o->nfiles; i++)
        rc = import_file(db, o->files[i], o, &total, err);
    char details[64];
    snprintf(details, sizeof details, "{\"branches\": %d}", total);
    if (rc == TP_OK)
        rc = tp__cli_audit_in(db, "branch.import",
                              o->builtin ? "built-in configuration" : o->files[0], details, err);
    rc = tp_db_end(db, rc, err);
    if (rc == TP_OK)
        printf("imported %d branch%s\n", total, total == 1 ? "" : "es");
    return rc;
}

static int list(tp_db *db, tp_error *err)
{
    char *text = tp_branches_list_json(db, err);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!o)
        return err && err->code ? err->code : tp_error_set(err, TP_ENOMEM, "out of memory");
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(o, "items"), i, b)
    {
        char *terms = json_dumps(json_object_get(b, "terminals"), JSON_COMPACT);
        char *parsers = json_dumps(json_object_get(b, "parsers"), JSON_COMPACT);
        printf("%-12s %-20s %-6s terminals %-6s %-8s %s\n",
               json_string_value(json_object_get(b, "code")),
               json_string_value(json_object_get(b, "name")),
               json_is_true(json_object_get(b, "active")) ? "active" : "off", terms ? terms : "",
               json_string_value(json_object_get(b, "pos")), parsers ? parsers : "");
        free(terms);
        free(parsers);
    }
    json_decref(o);
    return TP_OK;
}

/* 0 with o filled, else the exit status. */
static int parse_args(int argc, char **argv, branch_opts *o)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"newer", no_argument, 0, 'n'},
                                         {"builtin", no_argument, 0, 'b'},
                                         {"help", no_argument, 0, 'h'},
                                         {"report-server-allow", required_argument, 0, 'A'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': o->db = optarg; break;
        case 'A':
            if (tp__allow_option("branch", &o->allow, optarg) != TP_EXIT_OK)
                return TP_EXIT_USAGE;
            break;
        case 'n': o->newer = 1; break;
        case 'b': o->builtin = 1; break;
        case 'h': fputs(usage, stdout); return TP_EXIT_OK;
        default: return tp__bad_option("branch", argv);
        }
    }
    o->files = argv + optind;
    o->nfiles = argc - optind;
    if (!o->list && o->nfiles == 0 && !o->builtin) {
        tp__die_msg("branch", "import needs FILE... or --builtin");
        return TP_EXIT_USAGE;
    }
    const char *server = getenv("TILLPIPE_REPORT_SERVER");
    return tp__allow_finish("branch", &o->allow, server && *server ? server : NULL);
}

int tp__cmd_branch(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "import") && strcmp(argv[1], "list"))) {
        int help = argc >= 2 && !strcmp(argv[1], "--help");
        fputs(usage, help ? stdout : stderr);
        return help ? TP_EXIT_OK : TP_EXIT_USAGE;
    }
    branch_opts o = {.list = strcmp(argv[1], "list") == 0};
    int st = parse_args(argc - 1, argv + 1, &o);
    tp_db *db = st < 0 ? tp__cli_db("branch", o.db, 1) : NULL;
    if (st >= 0 || !db) {
        tp_allow_destroy(o.allow);
        return st >= 0 ? st : TP_EXIT_FAIL;
    }
    tp_error err = {0};
    int rc = o.list ? list(db, &err) : import(db, &o, &err);
    tp_db_close(db);
    tp_allow_destroy(o.allow);
    return rc < 0 ? tp__fail("branch", &err) : TP_EXIT_OK;
}
