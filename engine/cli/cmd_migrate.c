/* cmd_migrate.c -- `tillpipe migrate`: create or upgrade the schema. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "db/db.h"

int tp__cmd_migrate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"database", required_argument, 0, 'D'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *db_opt = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'D') {
            db_opt = optarg;
        } else if (c == 'h') {
            puts("usage: tillpipe migrate [--database URL]");
            return TP_EXIT_OK;
        } else {
            return tp__bad_option("migrate", argv);
        }
    }
    tp_db *db = tp__cli_db("migrate", db_opt, 0);
    if (!db)
        return TP_EXIT_FAIL;
    tp_error err = {0};
    int applied = 0, version = 0;
    int rc = tp_db_migrate(db, &applied, &err);
    if (rc == TP_OK)
        rc = tp_db_schema_version(db, &version, &err);
    tp_db_close(db);
    if (rc < 0)
        return tp__fail("migrate", &err);
    printf("schema at version %d (%d migration%s applied)\n", version, applied,
           applied == 1 ? "" : "s");
    return TP_EXIT_OK;
}
