/* cmd_user.c -- `tillpipe user add|passwd|disable|enable|remove|list`: the
 * users of the HTTP API.  Passwords are read from standard input (one line)
 * and stored as argon2id hashes.  Every change but `list` moves the user's
 * token version on, so the tokens it held stop working at once (a running
 * `tillpipe serve` is told through the database); `add` of an existing name
 * gives it the new password and role. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cli.h"
#include "db/users.h"
#include "http.h"

static const char usage[] =
    "usage: tillpipe user add NAME --role admin|operator|viewer [--database URL]\n"
    "       tillpipe user passwd NAME          a new password (its tokens stop working)\n"
    "       tillpipe user disable|enable NAME  no logins, no tokens; or again\n"
    "       tillpipe user remove NAME\n"
    "       tillpipe user list\n"
    "  add and passwd read the password from standard input (one line, 8-1024\n"
    "  characters)\n";

typedef enum verb { ADD, PASSWD, DISABLE, ENABLE, REMOVE, LIST } verb;

static const char *const verbs[] = {"add", "passwd", "disable", "enable", "remove", "list"};

typedef struct user_args {
    verb v;
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

/* The verb in argv[1]: 0, or the exit status after saying why. */
static int parse_verb(int argc, char **argv, user_args *u)
{
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        fputs(usage, stdout);
        return TP_EXIT_OK;
    }
    for (int i = 0; argc >= 2 && i < (int)(sizeof verbs / sizeof *verbs); i++)
        if (strcmp(argv[1], verbs[i]) == 0) {
            u->v = (verb)i;
            return -1;
        }
    tp__die_msg("user", "want `user add|passwd|disable|enable|remove NAME` or `user list`");
    fputs(usage, stderr);
    return TP_EXIT_USAGE;
}

/* -1 with u filled, else the exit status. */
static int parse_args(int argc, char **argv, user_args *u)
{
    static const struct option opts[] = {{"database", required_argument, 0, 'D'},
                                         {"role", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c, st = parse_verb(argc, argv, u);
    if (st >= 0)
        return st;
    optind = 2; /* after the verb */
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
    if (u->v == LIST ? optind != argc : !name_ok(u->name) || optind + 1 != argc) {
        tp__die_msg("user", u->v == LIST
                                ? "`user list` takes no NAME"
                                : "NAME must be 1-64 letters, digits, '.', '_', '-' or '@'");
        return TP_EXIT_USAGE;
    }
    if (u->role && u->v != ADD) {
        tp__die_msg("user", "--role goes with `user add` only");
        return TP_EXIT_USAGE;
    }
    if (u->v == ADD && tp_role_parse(u->role) == TP_ROLE_NONE) {
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

/* The change itself, audited: 0 or < 0 with err set. */
static int apply(tp_db *db, const user_args *u, const char *hash, tp_error *err)
{
    char details[64] = "";
    int rc;
    switch (u->v) {
    case ADD:
        rc = tp_user_save(db, u->name, hash, u->role, err);
        snprintf(details, sizeof details, "{\"role\": \"%s\"}", u->role);
        break;
    case PASSWD: rc = tp_user_set_password(db, u->name, hash, err); break;
    case DISABLE: rc = tp_user_set_disabled(db, u->name, 1, err); break;
    case ENABLE: rc = tp_user_set_disabled(db, u->name, 0, err); break;
    default: rc = tp_user_remove(db, u->name, err); break;
    }
    if (rc == TP_OK) {
        char action[32];
        snprintf(action, sizeof action, "user.%s", verbs[u->v]);
        tp__cli_audit(db, action, u->name, details[0] ? details : NULL);
    } else if (rc == TP_ENOTFOUND)
        tp_error_set(err, TP_ENOTFOUND, "no user named %s", u->name);
    return rc;
}

static int list(tp_db *db, tp_error *err)
{
    char *json = tp_users_json(db, err);
    if (!json)
        return err->code;
    puts(json);
    free(json);
    return TP_OK;
}

int tp__cmd_user(int argc, char **argv)
{
    user_args u = {.v = ADD};
    tp_error err = {0};
    char hash[128] = "";
    int st = parse_args(argc, argv, &u);
    if (st < 0 && (u.v == ADD || u.v == PASSWD))
        st = read_hash(hash, &err);
    if (st >= 0)
        return st;
    tp_db *db = tp__cli_db("user", u.db, 1);
    if (!db)
        return TP_EXIT_FAIL;
    int rc = u.v == LIST ? list(db, &err) : apply(db, &u, hash, &err);
    tp_db_close(db);
    if (rc < 0)
        return tp__fail("user", &err);
    static const char *const done[] = {"saved", "has a new password", "disabled", "enabled",
                                       "removed"};
    if (u.v == ADD)
        printf("user %s (%s) saved\n", u.name, u.role);
    else if (u.v != LIST)
        printf("user %s %s\n", u.name, done[u.v]);
    return TP_EXIT_OK;
}
