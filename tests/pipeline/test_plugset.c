/* test_plugset.c -- the plugin set of worker and serve, reloaded while it
 * runs (pipeline/plugset.h).
 *
 * Real plugin files in a real folder (fixtures/plugins/wild.c built as
 * versions 1.0.0 and 2.0.0 of one override, and a second plugin), swapped
 * the way an upgrade does it (a new file renamed over the old).  A set that
 * was replaced must stay whole while someone holds it -- its plugins'
 * descriptors are read from the loaded object itself, so a set unloaded too
 * early would fault (and ASan would say where) -- and must be unloaded once
 * the last holder gives it back (its plugin files' descriptors closed).  A
 * reload that finds nothing to load keeps the set in use.
 */
#include <check.h>

#include "testutil.h"
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "pipeline/parse.h"
#include "pipeline/plugin.h"
#include "pipeline/plugset.h"
#include "pipeline/sandbox.h"

#define ck_assert_has(msg, needle)                                                                 \
    ck_assert_msg(strstr((msg), (needle)) != NULL, "message lacks \"%s\": %s", (needle), (msg))

/* A plugin folder as an operator would make one (0755). */
static char *plugdir(void)
{
    char *d = tu_tmpdir();
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(chmod(d, 0755), 0);
    return d;
}

/* Install the built `variant` as dir/name: a new file renamed over the old
 * one, mode 0644. */
static void put(const char *dir, const char *variant, const char *name)
{
    char from[4096];
    snprintf(from, sizeof from, "%s/%s.so", TP_TEST_PLUGSET_DIR, variant);
    ck_assert_msg(tu_install(from, dir, name, 0644) == 0, "cannot install %s", from);
}

static void drop(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_int_eq(unlink(p), 0);
}

/* Descriptors open in this process. */
static int open_fds(void)
{
    return tu_count_entries("/proc/self/fd");
}

/* The version of the one plugin named `name` in reg. */
static const char *version_of(const tp_registry *reg, const char *name)
{
    const tp_plugin *p = tp_registry_find(reg, name);
    ck_assert_msg(p != NULL, "no plugin %s", name);
    return p->desc->version;
}

static unsigned long generation_of(tp_plugset *s, const tp_registry *reg)
{
    tp_plugset_info info;
    tp_plugset_info_of(s, reg, &info);
    return info.generation;
}

static tp_plugset *create(const char *dir, tp_sandbox *sb)
{
    tp_error err = {0};
    tp_plugset *s = tp_plugset_create(dir, sb, NULL, 1, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    return s;
}

static void reload_ok(tp_plugset *s)
{
    tp_error err = {0};
    int rc = tp_plugset_reload(s, &err);
    ck_assert_msg(rc == TP_OK, "reload: %s", err.msg);
}

/* In this process: the replaced set stays loaded while it is held, and is
 * unloaded when given back; new acquires get the new set. */
START_TEST(held_set_lives_until_released)
{
    char *d = plugdir();
    put(d, "wild_v1", "wild.so");
    tp_plugset *s = create(d, NULL);
    const tp_registry *r1 = tp_plugset_acquire(s);
    ck_assert_str_eq(version_of(r1, "wild"), "1.0.0");
    ck_assert_uint_eq(generation_of(s, r1), 1);
    put(d, "wild_v2", "wild.so");
    int base = open_fds();
    reload_ok(s);
    ck_assert_int_eq(open_fds(), base + 1); /* both loaded */
    const tp_registry *r2 = tp_plugset_acquire(s);
    ck_assert_ptr_ne(r1, r2);
    ck_assert_str_eq(version_of(r2, "wild"), "2.0.0");
    ck_assert_uint_eq(generation_of(s, r2), 2);
    /* the old set, held: whole, its descriptor read from its own object */
    ck_assert_str_eq(version_of(r1, "wild"), "1.0.0");
    ck_assert_ptr_nonnull(tp_registry_find(r1, "wild")->desc->feed);
    ck_assert_uint_eq(generation_of(s, r1), 1);
    const tp_registry *again = tp_plugset_acquire(s);
    ck_assert_ptr_eq(again, r2);
    tp_plugset_release(s, again);
    tp_plugset_release(s, r1); /* the last holder: unloaded */
    ck_assert_int_eq(open_fds(), base);
    ck_assert_uint_eq(generation_of(s, r1), 0); /* no longer known */
    tp_plugset_release(s, r2);                  /* current: stays */
    ck_assert_int_eq(open_fds(), base);
    const tp_registry *cur = tp_plugset_acquire(s);
    ck_assert_ptr_eq(cur, r2);
    ck_assert_str_eq(version_of(cur, "wild"), "2.0.0");
    tp_plugset_release(s, cur);
    /* nobody held the old set: a reload unloads it at once */
    put(d, "wild_v1", "wild.so");
    reload_ok(s);
    ck_assert_int_eq(open_fds(), base);
    const tp_registry *r3 = tp_plugset_acquire(s);
    ck_assert_str_eq(version_of(r3, "wild"), "1.0.0");
    ck_assert_uint_eq(generation_of(s, r3), 3);
    tp_plugset_release(s, r3);
    tp_plugset_destroy(s);
    ck_assert_int_eq(open_fds(), base - 1);
    tu_rmrf(d);
    free(d);
}
END_TEST

/* A reload that loads nothing keeps the set in use: an empty folder, one
 * whose only file is refused, a folder gone. */
START_TEST(failed_reload_keeps_the_set)
{
    char *d = plugdir();
    put(d, "wild_v1", "wild.so");
    tp_plugset *s = create(d, NULL);
    const tp_registry *r = tp_plugset_acquire(s);
    tp_plugset_release(s, r);
    drop(d, "wild.so");
    tp_error err = {0};
    ck_assert_int_eq(tp_plugset_reload(s, &err), TP_ENOTFOUND);
    ck_assert_has(err.msg, "no plugin could be loaded from");
    ck_assert_has(err.msg, "holds no *.so file");
    free(tu_write(d, "junk.so", "not a shared object\n"));
    ck_assert_int_eq(tp_plugset_reload(s, &err), TP_ENOTFOUND);
    ck_assert_has(err.msg, "1 file refused, the first: ");
    ck_assert_has(err.msg, "junk.so");
    tu_rmrf(d);
    ck_assert_int_eq(tp_plugset_reload(s, &err), TP_ENOTFOUND);
    ck_assert_has(err.msg, "plugin directory");
    ck_assert_has(err.msg, "No such file or directory");
    const tp_registry *now = tp_plugset_acquire(s);
    ck_assert_ptr_eq(now, r);
    ck_assert_uint_eq(generation_of(s, now), 1);
    ck_assert_str_eq(version_of(now, "wild"), "1.0.0");
    /* the folder gone: its loaded plugin is "gone" from disk */
    tp_plugset_file *f;
    size_t n;
    ck_assert_int_eq(tp_plugset_pending(s, now, &f, &n, &err), TP_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(f[0].name, "wild.so");
    ck_assert_int_eq(f[0].change, TP_PLUGSET_GONE);
    ck_assert_str_eq(f[0].loaded, tp_registry_find(now, "wild")->sha256);
    tp_plugset_files_free(f, n);
    tp_plugset_release(s, now);
    tp_plugset_destroy(s);
    free(d);
}
END_TEST

/* With trusted keys, only signed packages load -- at every load: a plain
 * plugin file is refused, and so nothing loads. */
START_TEST(trusted_keys_apply)
{
    char *d = plugdir(), *keys = tu_tmpdir();
    put(d, "wild_v1", "wild.so");
    tp_error err = {0};
    ck_assert_ptr_null(tp_plugset_create(d, NULL, keys, 1, &err));
    ck_assert_has(err.msg, "no plugin could be loaded from");
    ck_assert_has(err.msg, "1 file refused, the first: ");
    ck_assert_has(err.msg, "wild.so");
    tu_rmrf(keys);
    tu_rmrf(d);
    free(keys);
    free(d);
}
END_TEST

/* The files on disk the set does not run as they are: changed, new, gone;
 * a refused file only when it changed; none right after a reload. */
START_TEST(pending_files)
{
    char *d = plugdir();
    put(d, "wild_v1", "wild.so");
    put(d, "wild_other", "other.so");
    free(tu_write(d, "junk.so", "not a shared object\n"));
    tp_plugset *s = create(d, NULL);
    const tp_registry *r = tp_plugset_acquire(s);
    ck_assert_uint_eq(tp_registry_count(r), 2);
    ck_assert_uint_eq(tp_registry_failure_count(r), 1);
    tp_error err = {0};
    tp_plugset_file *f;
    size_t n;
    ck_assert_int_eq(tp_plugset_pending(s, r, &f, &n, &err), TP_OK);
    ck_assert_uint_eq(n, 0); /* the refused file is "failed", not pending */
    tp_plugset_files_free(f, n);
    put(d, "wild_v2", "wild.so");
    drop(d, "other.so");
    put(d, "wild_other", "new.so");
    free(tu_write(d, "junk.so", "still not a shared object\n"));
    ck_assert_int_eq(tp_plugset_pending(s, r, &f, &n, &err), TP_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(f[0].name, "junk.so");
    ck_assert_int_eq(f[0].change, TP_PLUGSET_CHANGED);
    ck_assert_str_eq(f[0].loaded, "");
    ck_assert_str_eq(f[1].name, "new.so");
    ck_assert_int_eq(f[1].change, TP_PLUGSET_NEW);
    ck_assert_int_eq((int)strlen(f[1].sha256), 64);
    ck_assert_str_eq(f[2].name, "other.so");
    ck_assert_int_eq(f[2].change, TP_PLUGSET_GONE);
    ck_assert_str_eq(f[3].name, "wild.so");
    ck_assert_int_eq(f[3].change, TP_PLUGSET_CHANGED);
    ck_assert_str_eq(f[3].loaded, tp_registry_find(r, "wild")->sha256);
    ck_assert_str_ne(f[3].sha256, f[3].loaded);
    ck_assert_has(tp_plugset_change_reason(f[1].change),
                  "not loaded: on disk since the last reload (POST /api/plugins/reload or SIGHUP)");
    tp_plugset_files_free(f, n);
    reload_ok(s);
    const tp_registry *r2 = tp_plugset_acquire(s);
    ck_assert_int_eq(tp_plugset_pending(s, r2, &f, &n, &err), TP_OK);
    ck_assert_uint_eq(n, 0);
    char sum[256];
    tp_plugset_summary(r2, sum, sizeof sum);
    ck_assert_str_eq(sum, "2 loaded, 1 not loaded (junk.so)");
    /* the old set, still held, sees the folder against what it loaded */
    ck_assert_int_eq(tp_plugset_pending(s, r, &f, &n, &err), TP_OK);
    ck_assert_uint_eq(n, 4);
    tp_plugset_files_free(f, n);
    tp_plugset_release(s, r);
    tp_plugset_release(s, r2);
    tp_plugset_destroy(s);
    tu_rmrf(d);
    free(d);
}
END_TEST

/* ------------------------------------------------------------ sandboxed */

static int count_row(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    (void)line, (void)f, (void)n;
    (*(int *)ud)++;
    return 0;
}

/* Parse three payment methods with reg's plugin "wild": rows. */
static int parse_with(const tp_registry *reg, const char *file)
{
    int rows = 0;
    tp_parse_sink sink = {count_row, NULL, &rows};
    tp_error err = {0};
    int rc =
        tp_parse_file(tp_registry_find(reg, "wild"), TP_TYPE_RD5900, file, NULL, &sink, NULL, &err);
    ck_assert_msg(rc == TP_OK, "%s", err.msg);
    return rows;
}

/* In helper processes: the held old set still parses after the reload,
 * the new one parses, and after the old one is given back (its helpers
 * recycled) the new one still parses; nothing crashed. */
START_TEST(sandboxed_reload)
{
    tp_sandbox_opts o = {.exe = TP_TEST_BIN, .helpers = 2};
    tp_error err = {0};
    tp_sandbox *sb = tp_sandbox_create(&o, &err);
    ck_assert_msg(sb != NULL, "%s", err.msg);
    char *d = plugdir(), *data = tu_tmpdir();
    char *file = tu_write(data, "pay.csv", "CODE,NAME\nCASH,Cash\nVISA,Visa\nGCASH,GCash\n");
    put(d, "wild_v1", "wild.so");
    tp_plugset *s = create(d, sb);
    const tp_registry *r1 = tp_plugset_acquire(s);
    ck_assert_ptr_null(tp_registry_find(r1, "wild")->desc->feed); /* a copy: no code here */
    ck_assert_int_eq(parse_with(r1, file), 3);
    put(d, "wild_v2", "wild.so");
    reload_ok(s);
    const tp_registry *r2 = tp_plugset_acquire(s);
    ck_assert_str_eq(version_of(r2, "wild"), "2.0.0");
    ck_assert_int_eq(parse_with(r1, file), 3);
    ck_assert_int_eq(parse_with(r2, file), 3);
    tp_plugset_release(s, r1);
    ck_assert_int_eq(parse_with(r2, file), 3);
    ck_assert_int_eq(parse_with(r2, file), 3);
    ck_assert_uint_eq(tp_sandbox_failures(sb), 0);
    tp_plugset_release(s, r2);
    tp_plugset_destroy(s);
    tp_sandbox_destroy(sb);
    tu_rmrf(d);
    tu_rmrf(data);
    free(d);
    free(data);
    free(file);
}
END_TEST

/* A loaded plugin's file written over in place (not renamed over): the
 * reload is refused, saying how to install it, and the set stays; once
 * installed as a new file, it reloads. */
START_TEST(written_in_place_refused)
{
    tp_sandbox_opts o = {.exe = TP_TEST_BIN, .helpers = 2};
    tp_error err = {0};
    tp_sandbox *sb = tp_sandbox_create(&o, &err);
    ck_assert_msg(sb != NULL, "%s", err.msg);
    char *d = plugdir();
    put(d, "wild_v1", "wild.so");
    tp_plugset *s = create(d, sb);
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/wild_v2.so", TP_TEST_PLUGSET_DIR);
    snprintf(to, sizeof to, "%s/wild.so", d);
    size_t len = 0;
    char *bytes = tu_read(from, &len);
    FILE *f = fopen(to, "r+b"); /* the same file, new content */
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), 0), 0);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    free(bytes);
    ck_assert_int_eq(tp_plugset_reload(s, &err), TP_EPLUGIN);
    ck_assert_has(err.msg, "wild.so was written over in place while wild 1.0.0 was loaded");
    ck_assert_has(err.msg, "rename it over wild.so, then reload");
    const tp_registry *r = tp_plugset_acquire(s);
    ck_assert_uint_eq(generation_of(s, r), 1);
    tp_plugset_release(s, r);
    put(d, "wild_v2", "wild.so");
    reload_ok(s);
    r = tp_plugset_acquire(s);
    ck_assert_str_eq(version_of(r, "wild"), "2.0.0");
    tp_plugset_release(s, r);
    tp_plugset_destroy(s);
    tp_sandbox_destroy(sb);
    tu_rmrf(d);
    free(d);
}
END_TEST

/* ------------------------------------------------------------ threads */

typedef struct reader {
    tp_plugset *s;
    int rounds, bad;
} reader;

static void *read_loop(void *arg)
{
    reader *rd = arg;
    for (int i = 0; i < rd->rounds; i++) {
        const tp_registry *r = tp_plugset_acquire(rd->s);
        const tp_plugin *p = tp_registry_find(r, "wild");
        if (!p || (strcmp(p->desc->version, "1.0.0") != 0 && strcmp(p->desc->version, "2.0.0")))
            rd->bad++;
        tp_plugset_release(rd->s, r);
    }
    return NULL;
}

/* Threads taking and giving back the set while it is reloaded again and
 * again (in this process: each replaced set dlclosed as soon as its last
 * reader lets go). */
START_TEST(concurrent_acquire_and_reload)
{
    char *d = plugdir();
    put(d, "wild_v1", "wild.so");
    tp_plugset *s = create(d, NULL);
    int base = open_fds();
    enum { READERS = 4 };
    pthread_t th[READERS];
    reader rd[READERS];
    for (int i = 0; i < READERS; i++) {
        rd[i] = (reader){s, 4000, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, read_loop, &rd[i]), 0);
    }
    for (int k = 0; k < 30; k++) {
        put(d, k % 2 ? "wild_v1" : "wild_v2", "wild.so");
        reload_ok(s);
    }
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(rd[i].bad, 0);
    }
    ck_assert_int_eq(open_fds(), base); /* only the current set loaded */
    const tp_registry *r = tp_plugset_acquire(s);
    ck_assert_uint_eq(generation_of(s, r), 31);
    ck_assert_str_eq(version_of(r, "wild"), "1.0.0");
    tp_plugset_release(s, r);
    tp_plugset_destroy(s);
    tu_rmrf(d);
    free(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugset");
    TCase *tc = tcase_create("plugset");
    tcase_add_test(tc, held_set_lives_until_released);
    tcase_add_test(tc, failed_reload_keeps_the_set);
    tcase_add_test(tc, pending_files);
    tcase_add_test(tc, trusted_keys_apply);
    tcase_add_test(tc, sandboxed_reload);
    tcase_add_test(tc, written_in_place_refused);
    tcase_add_test(tc, concurrent_acquire_and_reload);
    suite_add_tcase(s, tc);
    return tu_run_suite(s) == 0 ? 0 : 1;
}
