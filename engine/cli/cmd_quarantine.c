/* cmd_quarantine.c -- `tillpipe plugin quarantine [list] | clear SHA256`:
 * the plugin builds that failed in their sandbox, and an operator's way to
 * let a quarantined one run again. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db/plugins.h"

static const char usage[] = "usage: tillpipe plugin quarantine [list] [--database URL]\n"
                            "       tillpipe plugin quarantine clear SHA256 [--database URL]\n";

static int list(tp_db *db)
{
    tp_error err = {0};
    char *s = tp_plugin_health_json(db, &err);
    json_t *a = s ? json_loads(s, 0, NULL) : NULL;
    free(s);
    if (!a)
        return tp__fail("plugin", &err);
    size_t i;
    json_t *h;
    if (json_array_size(a) == 0)
        printf("(no plugin build has failed)\n");
    json_array_foreach(a, i, h)
    {
        printf("%s %s %s  %s  failures in a row %lld, total %lld\n  last: %s\n",
               json_is_true(json_object_get(h, "quarantined")) ? "QUARANTINED" : "failing    ",
               json_string_value(json_object_get(h, "name")),
               json_string_value(json_object_get(h, "version")),
               json_string_value(json_object_get(h, "sha256")),
               (long long)json_integer_value(json_object_get(h, "failures_in_row")),
               (long long)json_integer_value(json_object_get(h, "failures_total")),
               json_string_value(json_object_get(h, "last_error"))
                   ? json_string_value(json_object_get(h, "last_error"))
                   : "-");
    }
    json_decref(a);
    return TP_EXIT_OK;
}

int tp__cmd_plugin_quarantine(int argc, char **argv)
{
    static const struct option opts[] = {
        {"database", required_argument, 0, 'D'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *db_opt = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return TP_EXIT_OK;
        }
        if (c != 'D')
            return tp__bad_option("plugin", argv);
        db_opt = optarg;
    }
    const char *verb = optind < argc ? argv[optind] : "list";
    int clear = strcmp(verb, "clear") == 0;
    if ((!clear && strcmp(verb, "list") != 0) || (clear && optind + 2 != argc) ||
        (!clear && optind + 1 < argc)) {
        fputs(usage, stderr);
        return TP_EXIT_USAGE;
    }
    const char *sha = clear ? argv[optind + 1] : NULL;
    if (sha && (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)) {
        tp__die_msg("plugin",
                    "\"%s\" is not a sha256 (64 lowercase hex digits; see "
                    "tillpipe plugin quarantine list)",
                    sha);
        return TP_EXIT_USAGE;
    }
    tp_db *db = tp__cli_db("plugin", db_opt, 1);
    if (!db)
        return TP_EXIT_FAIL;
    int st = TP_EXIT_OK;
    if (!clear)
        st = list(db);
    else {
        tp_error err = {0};
        char actor[96];
        if (tp_plugin_health_clear(db, sha, tp__cli_actor(actor), &err) < 0)
            st = tp__fail("plugin", &err);
        else {
            tp__cli_audit(db, "plugin.unquarantine", sha, NULL);
            printf("plugin build %s may run again\n", sha);
        }
    }
    tp_db_close(db);
    return st;
}
