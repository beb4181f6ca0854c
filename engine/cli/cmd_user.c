/* cmd_user.c -- `tillpipe user add NAME --role R`: a user of the HTTP API;
 * the password from standard input (one line), stored as an argon2id hash;
 * an existing user gets the new password and role. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "cli.h"
#include "db/users.h"
#include "http.h"

static const char usage[] =
    "usage: tillpipe user add NAME --role admin|operator|viewer [--database URL]\n"
    "  the password is read from standard input (one line, 8-1024 characters)\n";

typedef struct user_args {
    const char *db, *role, *name;
} user_args;

static int name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || strchr("._-@", name[i]);
    return ok;
}

/* -1 with u filled, else the exit status. */
static int parse_args(int argc, char **argv, user_args *u)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"role", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    if (argc < 2 || strcmp(argv[1], "add") != 0) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(usage, stdout);
            return TP_EXIT_OK;
        }
        tp__die_msg("user", "want `user add NAME --role R`");
        fputs(usage, stderr);
        return TP_EXIT_USAGE;
    }
    int c;
    optind = 2; /* after "add" */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'D': u->db = optarg; break;
        case 'r': u->role = optarg; break;
        case 'h': fputs(usage, stdout); return TP_EXIT_OK;
        default: return tp__bad_option("user", argv);
        }
    }
    u->name = optind < argc ? argv[optind] : NULL;
    if (!name_ok(u->name) || optind + 1 != argc) {
        tp__die_msg("user", "NAME must be 1-64 letters, digits, '.', '_', '-' or '@'");
        return TP_EXIT_USAGE;
    }
    if (tp_role_parse(u->role) == TP_ROLE_NONE) {
        tp__die_msg("user", "--role must be admin, operator or viewer");
        return TP_EXIT_USAGE;
    }
    return -1;
}

/* The password from standard input, hashed: -1 when done, else the exit
 * status after saying why.  The clear text does not outlive this call. */
static int read_hash(char hash[128], tp_error *err)
{
    char pw[1100];
    if (!fgets(pw, sizeof pw, stdin)) {
        tp__die_msg("user", "no password on standard input");
        return TP_EXIT_USAGE;
    }
    pw[strcspn(pw, "\r\n")] = '\0';
    size_t n = strlen(pw);
    int rc = n < 8 || n > 1024 ? 1 : tp_api_hash_password(pw, hash, err);
    memset(pw, 0, sizeof pw);
    if (rc == 1) {
        tp__die_msg("user", "the password must be 8-1024 characters");
        return TP_EXIT_USAGE;
    }
    return rc < 0 ? tp__fail("user", err) : -1;
}

int tp__cmd_user(int argc, char **argv)
{
    user_args u = {0};
    tp_error err = {0};
    char hash[128];
    int st = parse_args(argc, argv, &u);
    if (st < 0)
        st = read_hash(hash, &err);
    if (st >= 0)
        return st;
    tp_db *db = tp__cli_db("user", u.db, 1);
    if (!db)
        return TP_EXIT_FAIL;
    int rc = tp_user_save(db, u.name, hash, u.role, &err);
    if (rc == TP_OK) {
        char details[64];
        snprintf(details, sizeof details, "{\"role\": \"%s\"}", u.role);
        tp__cli_audit(db, "user.add", u.name, details);
    }
    tp_db_close(db);
    if (rc < 0)
        return tp__fail("user", &err);
    printf("user %s (%s) saved\n", u.name, u.role);
    return TP_EXIT_OK;
}
