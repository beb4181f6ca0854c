/* testutil.c -- see testutil.h. */
#include "testutil.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_tmpdir(void)
{
    char tmpl[] = "/tmp/tillpipe-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void tu_rmrf(const char *path)
{
    char cmd[4200];
    if (!path || strncmp(path, "/tmp/tillpipe-test-", 19) != 0)
        return; /* never remove anything but our own temp dirs */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
}

char *tu_write(const char *dir, const char *name, const char *text)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        free(p);
        return NULL;
    }
    fputs(text, f);
    fclose(f);
    return p;
}

char *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int tu_run(const char *cmdline, char **out)
{
    size_t n = strlen(cmdline) + 16;
    char *full = malloc(n);
    snprintf(full, n, "%s 2>&1", cmdline);
    FILE *p = popen(full, "r");
    free(full);
    if (!p)
        return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += r;
        if (cap - len - 1 == 0)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

static char pg_dir[256];
static char pg_url[512];

static int pgctl(const char *verb)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/tests/pg/pgctl.sh' %s '%s' >/dev/null", TP_TEST_SOURCE_DIR,
             verb, pg_dir);
    return system(cmd);
}

const char *tu_pg_start(void)
{
    snprintf(pg_dir, sizeof pg_dir, "/tmp/tillpipe-test-pg-XXXXXX");
    if (!mkdtemp(pg_dir))
        return NULL;
    rmdir(pg_dir); /* pgctl.sh creates it, owned by the server's user */
    if (pgctl("start") != 0) {
        fprintf(stderr, "testutil: could not start PostgreSQL in %s (log: %s/log)\n", pg_dir,
                pg_dir);
        return NULL;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/url", pg_dir);
    char *u = tu_read(path, NULL);
    if (!u)
        return NULL;
    u[strcspn(u, "\n")] = '\0';
    snprintf(pg_url, sizeof pg_url, "%s", u);
    free(u);
    setenv("TILLPIPE_DATABASE_URL", pg_url, 1);
    return pg_url;
}

void tu_pg_stop(void)
{
    if (pg_dir[0])
        pgctl("stop");
    pg_dir[0] = '\0';
}

int tu_pg_restart(void) { return pgctl("restart"); }
int tu_pg_kill(void) { return pgctl("kill"); }

char *tu_pg_value(const char *sql)
{
    PGconn *c = PQconnectdb(pg_url);
    char *v = NULL;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if ((PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0))
            v = strdup(PQgetvalue(r, 0, 0));
        else if (PQresultStatus(r) == PGRES_COMMAND_OK)
            v = strdup("");
        else
            fprintf(stderr, "tu_pg_value: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return v;
}
