/* testutil.c -- see testutil.h. */
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

/* ------------------------------------------------------------ simulator */

static pid_t sim_pid;
static char sim_dir[256], sim_url[128];

const char *tu_sim_start(const char *dir, const char *args)
{
    snprintf(sim_dir, sizeof sim_dir, "/tmp/tillpipe-test-sim-XXXXXX");
    if (!mkdtemp(sim_dir))
        return NULL;
    char portfile[300], cmd[4096];
    snprintf(portfile, sizeof portfile, "%s/port", sim_dir);
    snprintf(cmd, sizeof cmd, "exec %s/tillpipe-reportsim --dir '%s' --port 0 --port-file %s --quiet %s",
             TP_TEST_BUILD_DIR, dir, portfile, args ? args : "");
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    sim_pid = pid;
    for (int i = 0; i < 400; i++) { /* up to 20 s */
        char *port = tu_read(portfile, NULL);
        if (port) {
            snprintf(sim_url, sizeof sim_url, "http://127.0.0.1:%ld", strtol(port, NULL, 10));
            free(port);
            return sim_url;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "testutil: the simulator exited (%s)\n", cmd);
            sim_pid = 0;
            return NULL;
        }
        usleep(50000);
    }
    fprintf(stderr, "testutil: the simulator did not start (%s)\n", cmd);
    tu_sim_stop();
    return NULL;
}

void tu_sim_stop(void)
{
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        int st;
        for (int i = 0; i < 100 && waitpid(sim_pid, &st, WNOHANG) == 0; i++)
            usleep(20000);
        kill(sim_pid, SIGKILL);
        waitpid(sim_pid, &st, 0);
    }
    sim_pid = 0;
    if (sim_dir[0])
        tu_rmrf(sim_dir);
    sim_dir[0] = '\0';
}

static size_t sim_body(char *p, size_t one, size_t n, void *ud)
{
    char **out = ud;
    size_t old = *out ? strlen(*out) : 0;
    char *m = realloc(*out, old + one * n + 1);
    if (!m)
        return 0;
    memcpy(m + old, p, one * n);
    m[old + one * n] = '\0';
    *out = m;
    return one * n;
}

/* A control request: the status code, the body in *body (caller frees). */
static long sim_call(const char *method, const char *path, const char *json, char **body)
{
    CURL *h = curl_easy_init();
    char u[256];
    snprintf(u, sizeof u, "%s%s", sim_url, path);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    if (json)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sim_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    long code = -1;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return code;
}

int tu_sim_fault(const char *json)
{
    char *body = NULL;
    long code = sim_call("POST", "/_sim/faults", json, &body);
    if (code != 201)
        fprintf(stderr, "testutil: fault %s refused: %ld %s\n", json, code, body ? body : "");
    free(body);
    return code == 201 ? 0 : -1;
}

void tu_sim_clear(void)
{
    char *body = NULL;
    sim_call("DELETE", "/_sim/faults", NULL, &body);
    free(body);
    body = NULL;
    sim_call("POST", "/_sim/reset-stats", "", &body);
    free(body);
}

long long tu_sim_stat(const char *name)
{
    char *body = NULL;
    long code = sim_call("GET", "/_sim/stats", NULL, &body);
    long long v = -1;
    json_t *j = code == 200 && body ? json_loads(body, 0, NULL) : NULL;
    json_t *x = NULL;
    if (j && strncmp(name, "faults.", 7) == 0) {
        x = json_object_get(json_object_get(j, "faults"), name + 7);
        v = x ? json_integer_value(x) : 0;
    } else if (j && (x = json_object_get(j, name)))
        v = json_integer_value(x);
    json_decref(j);
    free(body);
    return v;
}

/* ------------------------------------------------------------ archives */

/* Write an archive: "zip", "tar" or "tgz". */
char *tu_make_archive(const char *dir, const char *name, const char *fmt, const tu_member *m,
                          size_t n)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    struct archive *a = archive_write_new();
    if (strcmp(fmt, "zip") == 0)
        archive_write_set_format_zip(a);
    else {
        archive_write_set_format_pax_restricted(a);
        if (strcmp(fmt, "tgz") == 0)
            archive_write_add_filter_gzip(a);
    }
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
        archive_write_free(a);
        free(path);
        return NULL;
    }
    static char zeros[65536];
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].path);
        if (m[i].link) {
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, m[i].link);
            archive_entry_set_perm(e, 0777);
            archive_entry_set_size(e, 0);
        } else {
            size_t size = m[i].zeros ? m[i].zeros : strlen(m[i].data);
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_size(e, (la_int64_t)size);
        }
        archive_write_header(a, e);
        if (!m[i].link) {
            if (m[i].zeros)
                for (size_t left = m[i].zeros; left > 0;) {
                    size_t k = left < sizeof zeros ? left : sizeof zeros;
                    archive_write_data(a, zeros, k);
                    left -= k;
                }
            else
                archive_write_data(a, m[i].data, strlen(m[i].data));
        }
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return path;
}

