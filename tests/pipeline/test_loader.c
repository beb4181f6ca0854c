/* test_loader.c -- the plugin loader, the registry and the SDK's contract.
 *
 * Loads the broken plugins tests/pipeline/CMakeLists.txt builds from fixtures/plugins/ and
 * checks that each is refused with its own message (the file, expected and
 * found values, what to do); checks registry conflicts and resolution; runs
 * rows of the wrong shape through tp_parse_file; checks that every bundled
 * plugin and the SDK template export exactly tp_plugin_entry; and drives the
 * template's callbacks directly the way any host may (chunks of any size, a
 * fresh host table per call, options, stop requests).
 */
#include <check.h>

#include "testutil.h"
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/schema.h"
#include "pipeline/parse.h"
#include "pipeline/plugin.h"

#define PATH_LEN 4096

/* --------------------------------------------------------------- helpers */

static void bad_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s.so", TP_TEST_BAD_DIR, name);
}

#define ck_assert_has(msg, needle)                                                                 \
    ck_assert_msg(strstr((msg), (needle)) != NULL, "message lacks \"%s\": %s", (needle), (msg))
#define ck_assert_lacks(msg, needle)                                                               \
    ck_assert_msg(strstr((msg), (needle)) == NULL, "message has \"%s\": %s", (needle), (msg))

/* Load plugins_bad/NAME.so, which must be refused with `code`; the message
 * must start by naming the file, be one line, and contain every string of
 * the NULL-terminated list.  The message is copied to `out` when not NULL. */
static void expect_refused(const char *name, int code, tp_error *out, ...)
{
    char path[PATH_LEN], prefix[PATH_LEN + 16];
    bad_path(path, sizeof path, name);
    tp_error err = {0};
    tp_plugin *p = tp_plugin_load(path, &err);
    ck_assert_msg(p == NULL, "%s was loaded but must be refused", name);
    ck_assert_msg(err.code == code, "%s: code %d (%s), expected %d: %s", name, err.code,
                  tp_strerror(err.code), code, err.msg);
    snprintf(prefix, sizeof prefix, "plugin %s", path);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0,
                  "message does not start with \"%s\": %s", prefix, err.msg);
    ck_assert_msg(strchr(err.msg, '\n') == NULL, "message is not one line: %s", err.msg);
    va_list ap;
    va_start(ap, out);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        ck_assert_has(err.msg, s);
    va_end(ap);
    if (out)
        *out = err;
}

static tp_plugin *load_ok(const char *path)
{
    tp_error err = {0};
    tp_plugin *p = tp_plugin_load(path, &err);
    ck_assert_msg(p != NULL, "%s did not load: %s", path, err.msg);
    return p;
}

static tp_plugin *load_bad_dir_ok(const char *name)
{
    char path[PATH_LEN];
    bad_path(path, sizeof path, name);
    return load_ok(path);
}

static int registry_add(tp_registry *r, const char *name, tp_error *err)
{
    char path[PATH_LEN];
    bad_path(path, sizeof path, name);
    return tp_registry_load_file(r, path, err);
}

/* A new temporary directory under /tmp; rmtree() removes it. */
static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/tillpipe-loader-XXXXXX";
    char *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp failed");
    return strdup(d);
}

static void rmtree(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char p[PATH_LEN];
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* A whole small file, NUL-terminated; *len set.  Caller frees. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    ck_assert_msg(buf != NULL, "out of memory");
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* ------------------------------------------- refusals, in check order */

START_TEST(test_bad_magic)
{
    char want[64];
    snprintf(want, sizeof want, "expected 0x%08X", TP_SDK_MAGIC);
    expect_refused("bad_magic", TP_EPLUGIN, NULL, "bad magic number", want, "found 0xDEADBEEF",
                   "not a tillpipe plugin descriptor", "set .magic = TP_SDK_MAGIC", NULL);
}
END_TEST

START_TEST(test_major_older)
{
    char host[64];
    snprintf(host, sizeof host, "this tillpipe supports ABI %d.x", TP_SDK_ABI_MAJOR);
    tp_error err;
    expect_refused("bad_major_old", TP_EPLUGIN, &err, "built for plugin ABI 0.x", host,
                   "the plugin is too old: rebuild it against this tillpipe's SDK", NULL);
    ck_assert_lacks(err.msg, "too new");
}
END_TEST

START_TEST(test_major_newer)
{
    char found[64], host[64];
    snprintf(found, sizeof found, "built for plugin ABI %d.x", TP_SDK_ABI_MAJOR + 1);
    snprintf(host, sizeof host, "this tillpipe supports ABI %d.x", TP_SDK_ABI_MAJOR);
    tp_error err;
    expect_refused("bad_major_new", TP_EPLUGIN, &err, found, host,
                   "the plugin is too new: upgrade tillpipe, or rebuild the plugin against "
                   "this tillpipe's SDK",
                   NULL);
    ck_assert_lacks(err.msg, "too old");
}
END_TEST

START_TEST(test_size_short)
{
    char found[64], need[96];
    snprintf(found, sizeof found, "descriptor is %zu bytes", (size_t)TP_PLUGIN_DESC_SIZE_1_0 - 8);
    snprintf(need, sizeof need, "ABI %d.0 needs at least %zu", TP_SDK_ABI_MAJOR,
             (size_t)TP_PLUGIN_DESC_SIZE_1_0);
    expect_refused("bad_size_short", TP_EPLUGIN, NULL, found, need,
                   "set .size = sizeof(tp_plugin_desc)", NULL);
}
END_TEST

START_TEST(test_minor_newer)
{
    char found[64], host[64], hint[128];
    snprintf(found, sizeof found, "built with SDK %d.%d", TP_SDK_ABI_MAJOR, TP_SDK_ABI_MINOR + 1);
    snprintf(host, sizeof host, "this tillpipe supports up to %d.%d", TP_SDK_ABI_MAJOR,
             TP_SDK_ABI_MINOR);
    snprintf(hint, sizeof hint, "upgrade tillpipe, or rebuild the plugin against SDK %d.%d",
             TP_SDK_ABI_MAJOR, TP_SDK_ABI_MINOR);
    expect_refused("bad_minor_new", TP_EPLUGIN, NULL, found, host, hint, NULL);
}
END_TEST

/* Newer major, short size and no feed at once: only the first root cause. */
START_TEST(test_check_order)
{
    char found[64];
    snprintf(found, sizeof found, "built for plugin ABI %d.x", TP_SDK_ABI_MAJOR + 1);
    tp_error err;
    expect_refused("bad_order", TP_EPLUGIN, &err, found, NULL);
    ck_assert_lacks(err.msg, "bytes");
    ck_assert_lacks(err.msg, ".feed");
}
END_TEST

START_TEST(test_no_entry)
{
    expect_refused("bad_no_entry", TP_EPLUGIN, NULL, "does not export tp_plugin_entry()",
                   "exports exactly that function", "sdk/template", NULL);
}
END_TEST

START_TEST(test_entry_null)
{
    expect_refused("bad_entry_null", TP_EPLUGIN, NULL,
                   "tp_plugin_entry() returned NULL instead of its descriptor",
                   "return the address of a static const tp_plugin_desc", NULL);
}
END_TEST

START_TEST(test_missing_callback)
{
    expect_refused("bad_no_feed", TP_EPLUGIN, NULL,
                   "descriptor field .feed is required but NULL (missing callback)",
                   "set it in the plugin's tp_plugin_desc", NULL);
}
END_TEST

START_TEST(test_empty_name)
{
    expect_refused("bad_no_name", TP_EPLUGIN, NULL, "descriptor field .name is required but empty",
                   NULL);
}
END_TEST

START_TEST(test_unknown_type)
{
    char known[256];
    snprintf(known, sizeof known, "known types: %s", tp_schema_names());
    expect_refused("bad_type", TP_EPLUGIN, NULL, "(good): parses unknown report type \"rd9999\"",
                   known, NULL);
}
END_TEST

/* RTLD_NOW: an unresolved symbol fails the load, not the first record. */
START_TEST(test_undefined_symbol)
{
    expect_refused("bad_undefined", TP_EPLUGIN, NULL, "cannot load: ", "tp_bad_no_such_function",
                   "is it a shared object built for this machine", NULL);
}
END_TEST

START_TEST(test_not_a_shared_object)
{
    char *dir = make_tmpdir();
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/notes.so", dir);
    write_file(path, "this is text, not ELF\n");
    tp_error err = {0};
    ck_assert_ptr_null(tp_plugin_load(path, &err));
    ck_assert_int_eq(err.code, TP_EPLUGIN);
    ck_assert_has(err.msg, path);
    ck_assert_has(err.msg, "cannot load: ");
    ck_assert_has(err.msg, "is it a shared object");
    rmtree(dir);
}
END_TEST

START_TEST(test_missing_file)
{
    tp_error err = {0};
    char path[PATH_LEN];
    bad_path(path, sizeof path, "no_such_plugin");
    ck_assert_ptr_null(tp_plugin_load(path, &err));
    ck_assert_int_eq(err.code, TP_ENOTFOUND);
    ck_assert_has(err.msg, path);
    ck_assert_has(err.msg, "cannot read");
}
END_TEST

/* "Never give two causes the same message": with the file name taken out,
 * every refusal reads differently. */
START_TEST(test_messages_distinct)
{
    static const char *const names[] = {"bad_magic",      "bad_major_old", "bad_major_new",
                                        "bad_size_short", "bad_minor_new", "bad_no_entry",
                                        "bad_entry_null", "bad_no_feed",   "bad_no_name",
                                        "bad_type",       "bad_undefined"};
    enum { N = sizeof names / sizeof names[0] };
    static char msgs[N][1024];
    for (size_t i = 0; i < N; i++) {
        char path[PATH_LEN];
        tp_error err = {0};
        bad_path(path, sizeof path, names[i]);
        ck_assert_ptr_null(tp_plugin_load(path, &err));
        const char *rest = err.msg + strlen("plugin ") + strlen(path);
        snprintf(msgs[i], sizeof msgs[i], "%s", rest);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(msgs[i], msgs[j]) != 0, "%s and %s say the same: %s", names[i],
                          names[j], msgs[i]);
    }
}
END_TEST

/* ------------------------------------------------------------ good ones */

START_TEST(test_good_loads)
{
    char path[PATH_LEN], cmd[PATH_LEN + 32], line[256] = "";
    bad_path(path, sizeof path, "good");
    tp_plugin *p = load_ok(path);
    ck_assert_str_eq(p->desc->name, "good");
    ck_assert_str_eq(p->path, path);
    ck_assert_ptr_nonnull(p->handle);
    ck_assert(tp_plugin_parses(p, "rd5900"));
    ck_assert(!tp_plugin_parses(p, "rd5000"));
    ck_assert(tp_plugin_is_generic(p));
    ck_assert(!tp_plugin_overrides(p, "BX"));
    /* the recorded digest is the file's */
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    pclose(f);
    ck_assert_int_eq((int)strlen(p->sha256), 64);
    ck_assert_msg(strncmp(line, p->sha256, 64) == 0, "sha256 %s, sha256sum says %s", p->sha256,
                  line);
    tp_plugin_unload(p);
    tp_plugin_unload(NULL);

    p = load_bad_dir_ok("good_override");
    ck_assert_str_eq(p->desc->name, "over");
    ck_assert(!tp_plugin_is_generic(p));
    ck_assert(tp_plugin_overrides(p, "BX"));
    ck_assert(!tp_plugin_overrides(p, "BY"));
    tp_plugin_unload(p);
}
END_TEST

/* ------------------------------------------------------------- registry */

START_TEST(test_registry_conflicts)
{
    tp_registry *r = tp_registry_create();
    ck_assert_ptr_nonnull(r);
    tp_error err = {0};
    char good[PATH_LEN], twin[PATH_LEN], dup[PATH_LEN], want[PATH_LEN + 64];
    bad_path(good, sizeof good, "good");
    bad_path(twin, sizeof twin, "good_twin");
    bad_path(dup, sizeof dup, "good_dupname");
    ck_assert_int_eq(registry_add(r, "good", &err), TP_OK);

    /* a second generic plugin for rd5900 */
    ck_assert_int_eq(registry_add(r, "good_twin", &err), TP_EPLUGIN);
    ck_assert_int_eq(err.code, TP_EPLUGIN);
    snprintf(want, sizeof want,
             "plugin %s (good_twin): rd5900 already has a generic parser, "
             "good (%s)",
             twin, good);
    ck_assert_has(err.msg, want);
    ck_assert_has(err.msg, "list branches in the descriptor to make it an override");

    /* the same name and version again, even as an override (other versions
     * of a plugin may sit side by side; the same one twice may not) */
    err = (tp_error){0};
    ck_assert_int_eq(registry_add(r, "good_dupname", &err), TP_EPLUGIN);
    snprintf(want, sizeof want, "plugin %s: good 1.0.0 is already loaded from %s", dup, good);
    ck_assert_has(err.msg, want);
    ck_assert_has(err.msg, "remove one");

    /* refused plugins leave nothing behind; others still load */
    ck_assert_uint_eq(tp_registry_count(r), 1);
    ck_assert_int_eq(registry_add(r, "good_override", &err), TP_OK);
    ck_assert_int_eq(registry_add(r, "good_other", &err), TP_OK);
    ck_assert_uint_eq(tp_registry_count(r), 3);
    ck_assert_ptr_nonnull(tp_registry_find(r, "over"));
    ck_assert_ptr_null(tp_registry_find(r, "good_twin"));
    tp_registry_destroy(r);
    tp_registry_destroy(NULL);
}
END_TEST

/* The whole directory: failures are kept, one per refused file, and do not
 * stop the others (files load in name order: good.so before good_twin.so). */
START_TEST(test_registry_load_dir)
{
    static const char *const loaded[] = {"bad_fields", "good", "other", "over"};
    static const char *const refused[] = {
        "bad_entry_null",     "bad_magic",    "bad_major_new", "bad_major_old", "bad_minor_new",
        "bad_minor_override", "bad_no_entry", "bad_no_feed",   "bad_no_name",   "bad_order",
        "bad_size_short",     "bad_type",     "bad_undefined", "good_dupname",  "good_twin"};
    tp_registry *r = tp_registry_create();
    tp_error err = {0};
    ck_assert_int_eq(tp_registry_load_dir(r, TP_TEST_BAD_DIR, &err), TP_OK);
    ck_assert_uint_eq(tp_registry_count(r), sizeof loaded / sizeof loaded[0]);
    for (size_t i = 0; i < sizeof loaded / sizeof loaded[0]; i++)
        ck_assert_msg(tp_registry_find(r, loaded[i]) != NULL, "%s not loaded", loaded[i]);
    ck_assert_uint_eq(tp_registry_failure_count(r), sizeof refused / sizeof refused[0]);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const tp_load_failure *f = tp_registry_failure(r, i);
        char path[PATH_LEN], prefix[PATH_LEN + 16];
        bad_path(path, sizeof path, refused[i]);
        snprintf(prefix, sizeof prefix, "plugin %s", path);
        ck_assert_str_eq(f->path, path);
        ck_assert_msg(strncmp(f->message, prefix, strlen(prefix)) == 0, "%s", f->message);
    }
    ck_assert_ptr_null(tp_registry_failure(r, 99));
    ck_assert_ptr_null(tp_registry_get(r, 99));
    tp_registry_destroy(r);

    r = tp_registry_create();
    err = (tp_error){0};
    ck_assert_int_eq(tp_registry_load_dir(r, TP_TEST_BAD_DIR "/no-such-dir", &err), TP_ENOTFOUND);
    ck_assert_has(err.msg, "no-such-dir");
    tp_registry_destroy(r);
}
END_TEST

static const tp_plugin *resolve(const tp_registry *r, const char *type, const char *branch,
                                const char *configured, char *why, tp_error *err)
{
    *err = (tp_error){0};
    why[0] = '\0';
    return tp_registry_resolve(r, type, branch, configured, NULL, why, 160, err);
}

/* Copy src into dir as name (mode 0644). */
static void put_copy(const char *dir, const char *name, const char *src)
{
    ck_assert_msg(tu_install(src, dir, name, 0644) == 0, "cannot copy %s", src);
}

/* Two versions side by side: the highest wins unless the branch pins one. */
START_TEST(test_registry_versions)
{
    char *dir = make_tmpdir();
    put_copy(dir, "pkgtest-1.0.0.so", TP_TEST_PKG_V1);
    put_copy(dir, "pkgtest-2.0.0.so", TP_TEST_PKG_V2);
    put_copy(dir, "pkgtest-3.0.0-beta.1.so", TP_TEST_PKG_V3B); /* never chosen unpinned */
    tp_registry *r = tp_registry_create();
    tp_error err = {0};
    ck_assert_int_eq(tp_registry_load_dir(r, dir, &err), TP_OK);
    ck_assert_uint_eq(tp_registry_count(r), 3);
    ck_assert_uint_eq(tp_registry_failure_count(r), 0);
    char why[160];
    const tp_plugin *p = resolve(r, "rd5900", "B1", NULL, why, &err);
    ck_assert_str_eq(p->desc->version, "2.0.0");
    ck_assert_str_eq(why, "pkgtest 2.0.0: generic");
    static const char *const pins[][2] = {{"1.0.0", "1.0.0"}, {"^1", "1.0.0"},
                                          {"<2", "1.0.0"},    {">=1", "2.0.0"},
                                          {"2.x", "2.0.0"},   {"3.0.0-beta.1", "3.0.0-beta.1"},
                                          {"*", "2.0.0"},     {">=3.0.0-beta", "3.0.0-beta.1"}};
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++) {
        p = tp_registry_resolve(r, "rd5900", "B1", "pkgtest", pins[i][0], why, sizeof why, &err);
        ck_assert_msg(p != NULL, "%s: %s", pins[i][0], err.msg);
        ck_assert_str_eq(p->desc->version, pins[i][1]);
        ck_assert_has(why, "named by the branch configuration, version ");
    }
    ck_assert_ptr_null(
        tp_registry_resolve(r, "rd5900", "B1", "pkgtest", ">=3", why, sizeof why, &err));
    ck_assert_int_eq(err.code, TP_ECONFIG);
    ck_assert_has(err.msg, "no loaded version matches (loaded: ");
    ck_assert_ptr_null(
        tp_registry_resolve(r, "rd5900", "B1", "pkgtest", "1..2", why, sizeof why, &err));
    ck_assert_has(err.msg, "branch B1: plugin \"pkgtest\" for rd5900: ");
    tp_registry_destroy(r);
    rmtree(dir);
}
END_TEST

/* A named-only plugin beside the generic one of its type: no conflict, never
 * chosen unless a branch names it. */
START_TEST(test_registry_named_only)
{
    char *dir = make_tmpdir();
    char src[PATH_LEN];
    bad_path(src, sizeof src, "good");
    put_copy(dir, "good.so", src);
    put_copy(dir, "alt_rd5900.so", TP_TEST_NAMED_ONLY);
    tp_registry *r = tp_registry_create();
    tp_error err = {0};
    char why[160];
    ck_assert_int_eq(tp_registry_load_dir(r, dir, &err), TP_OK);
    ck_assert_uint_eq(tp_registry_count(r), 2);
    ck_assert_uint_eq(tp_registry_failure_count(r), 0);
    const tp_plugin *p = resolve(r, "rd5900", "B1", NULL, why, &err);
    ck_assert_str_eq(p->desc->name, "good");
    p = resolve(r, "rd5900", "B1", "alt_rd5900", why, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    ck_assert_uint_eq(p->desc->flags, TP_PLUGIN_NAMED_ONLY);
    ck_assert_str_eq(why, "alt_rd5900 1.0.0: named by the branch configuration");
    tp_registry_destroy(r);
    rmtree(dir);
}
END_TEST

/* An override refused before its descriptor can be read (here: a
 * group-writable file) still fails its branch when its package's manifest
 * says what it overrides. */
START_TEST(test_registry_refused_by_manifest)
{
    char *dir = make_tmpdir();
    char src[PATH_LEN], path[PATH_LEN];
    bad_path(src, sizeof src, "good");
    put_copy(dir, "good.so", src);
    bad_path(src, sizeof src, "good_override");
    put_copy(dir, "over-1.0.0.so", src);
    snprintf(path, sizeof path, "%s/over-1.0.0.so", dir);
    ck_assert_int_eq(chmod(path, 0664), 0);
    tp_registry *r = tp_registry_create();
    tp_error err = {0};
    char why[160];
    ck_assert_int_eq(tp_registry_load_dir(r, dir, &err), TP_OK);
    ck_assert_ptr_nonnull(resolve(r, "rd5900", "BX", NULL, why, &err)); /* unknown: generic */
    tp_registry_destroy(r);
    free(tu_write(dir, "over-1.0.0.so.manifest.json",
                  "{\"name\": \"over\", \"version\": \"1.0.0\", \"types\": [\"rd5900\"],"
                  " \"branches\": [\"BX\"]}"));
    r = tp_registry_create();
    ck_assert_int_eq(tp_registry_load_dir(r, dir, &err), TP_OK);
    ck_assert_ptr_null(resolve(r, "rd5900", "BX", NULL, why, &err));
    ck_assert_has(err.msg, "branch BX: its rd5900 override over");
    ck_assert_has(err.msg, "group-writable");
    ck_assert_ptr_nonnull(resolve(r, "rd5900", "BY", NULL, why, &err));
    tp_registry_destroy(r);
    rmtree(dir);
}
END_TEST

/* An override that is present but refused fails its branch: never the
 * generic parser in its place. */
START_TEST(test_registry_refused_override)
{
    tp_registry *r = tp_registry_create();
    tp_error err = {0};
    char dir[PATH_LEN];
    snprintf(dir, sizeof dir, "%s", TP_TEST_BAD_DIR);
    ck_assert_int_eq(tp_registry_load_dir(r, dir, &err), TP_OK);
    char why[160];
    ck_assert_ptr_null(resolve(r, "rd5900", "RX", NULL, why, &err));
    ck_assert_int_eq(err.code, TP_EPLUGIN);
    ck_assert_has(err.msg, "branch RX: its rd5900 override refused_over");
    ck_assert_has(err.msg, "is present but was refused, so the branch is not parsed by the "
                           "generic plugin");
    ck_assert_has(err.msg, "bad_minor_override.so");
    const tp_plugin *p = resolve(r, "rd5900", "RY", NULL, why, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    ck_assert_str_eq(p->desc->name, "good");
    tp_registry_destroy(r);
}
END_TEST

/* configured > override > generic, each with its reason. */
START_TEST(test_resolve)
{
    tp_registry *r = tp_registry_create();
    tp_error err;
    char why[160];
    ck_assert_int_eq(registry_add(r, "good", &err), TP_OK);          /* generic rd5900 */
    ck_assert_int_eq(registry_add(r, "good_override", &err), TP_OK); /* "over": BX rd5900 */
    ck_assert_int_eq(registry_add(r, "good_other", &err), TP_OK);    /* generic rd1800 */

    const tp_plugin *p = resolve(r, "rd5900", "BX", "good", why, &err);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->desc->name, "good");
    ck_assert_str_eq(why, "good 1.0.0: named by the branch configuration");

    p = resolve(r, "rd5900", "BX", NULL, why, &err);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->desc->name, "over");
    ck_assert_str_eq(why, "over 1.0.0: override for branch BX");

    p = resolve(r, "rd5900", "BY", NULL, why, &err);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->desc->name, "good");
    ck_assert_str_eq(why, "good 1.0.0: generic");

    p = resolve(r, "rd5900", NULL, NULL, why, &err);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(why, "good 1.0.0: generic");

    /* an override only covers the types it parses */
    p = resolve(r, "rd1800", "BX", NULL, why, &err);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(why, "other 1.0.0: generic");

    /* a configured plugin wins over the override, even a generic one */
    p = resolve(r, "rd5900", "BX", "over", why, &err);
    ck_assert_str_eq(why, "over 1.0.0: named by the branch configuration");

    ck_assert_ptr_null(resolve(r, "rd5900", "BX", "nope", why, &err));
    ck_assert_int_eq(err.code, TP_ENOTFOUND);
    ck_assert_has(err.msg, "branch BX: the configuration names plugin \"nope\" for rd5900, but "
                           "no loaded plugin has that name");

    ck_assert_ptr_null(resolve(r, "rd5900", "BX", "other", why, &err));
    ck_assert_int_eq(err.code, TP_ECONFIG);
    ck_assert_has(err.msg, "branch BX: the configuration names plugin \"other\" for rd5900, but "
                           "it does not parse rd5900");

    ck_assert_ptr_null(resolve(r, "rd5000", "BX", NULL, why, &err));
    ck_assert_int_eq(err.code, TP_ENOTFOUND);
    ck_assert_has(err.msg, "no plugin parses rd5000 for branch BX (loaded: 3 plugins)");
    tp_registry_destroy(r);
}
END_TEST

/* ---------------------------------------------------------------- parse */

typedef struct rows_seen {
    size_t rows, problems;
    uint64_t last_line;
} rows_seen;

static int count_row(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    rows_seen *s = ud;
    s->rows++;
    s->last_line = line;
    return 0;
}

static void count_problem(void *ud, uint64_t line, int severity, const char *reason)
{
    ((rows_seen *)ud)->problems++;
}

START_TEST(test_parse_good)
{
    char *dir = make_tmpdir(), path[PATH_LEN];
    snprintf(path, sizeof path, "%s/in.csv", dir);
    write_file(path, "a\nb\n\nc");
    tp_plugin *p = load_bad_dir_ok("good");
    rows_seen seen = {0};
    tp_parse_sink sink = {count_row, count_problem, &seen};
    tp_parse_stats st;
    tp_error err = {0};
    ck_assert_int_eq(tp_parse_file(p, TP_TYPE_RD5900, path, NULL, &sink, &st, &err), TP_OK);
    ck_assert_uint_eq(seen.rows, 3);
    ck_assert_uint_eq(seen.last_line, 4);
    ck_assert_uint_eq(st.rows, 3);
    ck_assert_uint_eq(st.bytes, 6);

    /* a type the plugin does not parse is refused before open */
    err = (tp_error){0};
    ck_assert_int_eq(tp_parse_file(p, TP_TYPE_RD1800, path, NULL, &sink, &st, &err), TP_EPLUGIN);
    ck_assert_has(err.msg, "plugin good does not parse rd1800");
    tp_plugin_unload(p);
    rmtree(dir);
}
END_TEST

START_TEST(test_parse_wrong_field_count)
{
    char *dir = make_tmpdir(), path[PATH_LEN], want[PATH_LEN + 128];
    snprintf(path, sizeof path, "%s/in.csv", dir);
    write_file(path, "a\nb\n");
    tp_plugin *p = load_bad_dir_ok("bad_fields");
    rows_seen seen = {0};
    tp_parse_sink sink = {count_row, count_problem, &seen};
    tp_error err = {0};
    ck_assert_int_eq(tp_parse_file(p, TP_TYPE_RD5900, path, NULL, &sink, NULL, &err), TP_EPLUGIN);
    ck_assert_int_eq(err.code, TP_EPLUGIN);
    snprintf(want, sizeof want,
             "%s: plugin bad_fields emitted a row of %d fields at line 1; rd5900 rows have %d",
             path, TP_REF_NFIELDS + 1, TP_REF_NFIELDS);
    ck_assert_str_eq(err.msg, want);
    ck_assert_uint_eq(seen.rows, 0); /* the bad row never reached the sink */
    tp_plugin_unload(p);
    rmtree(dir);
}
END_TEST

/* -------------------------------------------------------------- exports */

/* The names `nm -D --defined-only` lists for a shared object, one per line,
 * into buf; returns how many. */
static int defined_dynamic_symbols(const char *so, char *buf, size_t n)
{
    char cmd[PATH_LEN + 128], line[512];
    snprintf(cmd, sizeof cmd, "'%s' -D --defined-only '%s' 2>&1", TP_TEST_NM, so);
    FILE *f = popen(cmd, "r");
    ck_assert_msg(f != NULL, "cannot run %s", cmd);
    int count = 0;
    size_t used = 0;
    buf[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *name = strrchr(line, ' ');
        name = name ? name + 1 : line;
        if (!*name)
            continue;
        int w = snprintf(buf + used, n - used, "%s%s", count ? "\n" : "", name);
        if (w > 0 && (size_t)w < n - used)
            used += (size_t)w;
        count++;
    }
    int st = pclose(f);
    ck_assert_msg(st == 0, "%s failed: %s", cmd, buf);
    return count;
}

static void check_exports(const char *so)
{
    char syms[4096];
    int n = defined_dynamic_symbols(so, syms, sizeof syms);
    ck_assert_msg(n == 1 && strcmp(syms, TP_PLUGIN_ENTRY_NAME) == 0,
                  "%s must export exactly %s, exports %d symbol(s):\n%s", so, TP_PLUGIN_ENTRY_NAME,
                  n, syms);
}

START_TEST(test_bundled_export_only_entry)
{
    DIR *d = opendir(TP_TEST_PLUGIN_DIR);
    ck_assert_msg(d != NULL, "cannot open %s", TP_TEST_PLUGIN_DIR);
    struct dirent *e;
    int checked = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        char path[PATH_LEN];
        snprintf(path, sizeof path, "%s/%s", TP_TEST_PLUGIN_DIR, e->d_name);
        check_exports(path);
        checked++;
    }
    closedir(d);
    ck_assert_msg(checked >= 8, "only %d plugins in %s", checked, TP_TEST_PLUGIN_DIR);
}
END_TEST

START_TEST(test_template_exports_only_entry)
{
    check_exports(TP_TEST_TEMPLATE_SO);
}
END_TEST

/* ----------------------------------------------- the template, directly */

/* What a test host saw, as text: "row L: CODE|NAME" and "problem L S: why". */
typedef struct capture {
    char *text;
    size_t len, cap;
    const char *const *options; /* key, value, key, value, ..., NULL */
    int stop_after;             /* emit returns -1 after this many rows (0: never) */
    int rows;
} capture;

/* The opaque handle the plugin gets: a box allocated per call and freed
 * right after it, so a plugin that kept it trips ASan. */
typedef struct box {
    capture *c;
} box;

static capture *cap_of(tp_host *h)
{
    return ((box *)(void *)h)->c;
}

static void cap_put(capture *c, const char *s, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        c->cap = (c->len + n + 1) * 2;
        c->text = realloc(c->text, c->cap);
        ck_assert_ptr_nonnull(c->text);
    }
    memcpy(c->text + c->len, s, n);
    c->len += n;
    c->text[c->len] = '\0';
}

static int t_emit(tp_host *h, uint64_t line, const tp_field *f, size_t n)
{
    capture *c = cap_of(h);
    char head[64];
    ck_assert_uint_eq(n, TP_REF_NFIELDS);
    int w = snprintf(head, sizeof head, "row %llu: ", (unsigned long long)line);
    cap_put(c, head, (size_t)w);
    for (size_t i = 0; i < n; i++) {
        if (i)
            cap_put(c, "|", 1);
        cap_put(c, f[i].ptr, f[i].len);
    }
    cap_put(c, "\n", 1);
    c->rows++;
    return c->stop_after && c->rows >= c->stop_after ? -1 : 0;
}

static void t_problem(tp_host *h, uint64_t line, int severity, const char *reason)
{
    char buf[512];
    int w = snprintf(buf, sizeof buf, "problem %llu %s: %s\n", (unsigned long long)line,
                     severity == TP_PROBLEM_ERROR ? "error" : "warning", reason);
    cap_put(cap_of(h), buf, (size_t)w);
}

static void t_log(tp_host *h, int level, const char *msg) {}

static const char *t_config(tp_host *h, const char *key)
{
    const char *const *o = cap_of(h)->options;
    for (; o && o[0]; o += 2)
        if (strcmp(o[0], key) == 0)
            return o[1];
    return NULL;
}

static const tp_host_api t_api = {
    .size = sizeof(tp_host_api),
    .abi_major = TP_SDK_ABI_MAJOR,
    .abi_minor = TP_SDK_ABI_MINOR,
    .emit = t_emit,
    .problem = t_problem,
    .log = t_log,
    .config = t_config,
};

/* A fresh copy of the host table and a fresh handle for one call. */
typedef struct call_env {
    tp_host_api *api;
    box *b;
} call_env;

static call_env env_new(capture *c)
{
    call_env e = {malloc(sizeof *e.api), malloc(sizeof *e.b)};
    ck_assert(e.api && e.b);
    *e.api = t_api;
    e.b->c = c;
    return e;
}

static void env_free(call_env e)
{
    memset(e.api, 0xA5, sizeof *e.api);
    memset(e.b, 0xA5, sizeof *e.b);
    free(e.api);
    free(e.b);
}

/* Run the plugin over `data` in chunks of `chunk` bytes (0: all at once).
 * Returns the first non-OK callback result, or TP_PLUGIN_OK. */
static int drive(const tp_plugin_desc *d, const char *data, size_t len, size_t chunk, capture *c)
{
    void *state = NULL;
    call_env e = env_new(c);
    int rc = d->open(e.api, (tp_host *)(void *)e.b, "rd5900", &state);
    env_free(e);
    if (rc != TP_PLUGIN_OK)
        return rc;
    if (chunk == 0)
        chunk = len ? len : 1;
    for (size_t off = 0; off < len && rc == TP_PLUGIN_OK; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        /* a copy of just this chunk, freed after the call: the plugin must
         * not keep pointers into the data either */
        char *piece = malloc(n);
        ck_assert_ptr_nonnull(piece);
        memcpy(piece, data + off, n);
        e = env_new(c);
        rc = d->feed(state, e.api, (tp_host *)(void *)e.b, piece, n);
        env_free(e);
        free(piece);
    }
    if (rc == TP_PLUGIN_OK) {
        e = env_new(c);
        rc = d->finish(state, e.api, (tp_host *)(void *)e.b);
        env_free(e);
    }
    d->close(state);
    return rc;
}

static char *template_sample(size_t *len)
{
    return read_file(TP_TEST_TEMPLATE_DIR "/sample/rd5900.csv", len);
}

START_TEST(test_template_descriptor)
{
    tp_plugin *p = load_ok(TP_TEST_TEMPLATE_SO);
    const tp_plugin_desc *d = p->desc;
    ck_assert_str_eq(d->name, "example_rd5900");
    ck_assert_str_eq(d->types[0], "rd5900");
    ck_assert_ptr_null(d->types[1]);
    ck_assert_str_eq(d->branches[0], "EXAMPLE");
    ck_assert_ptr_null(d->branches[1]);
    ck_assert_uint_eq(d->size, sizeof(tp_plugin_desc));
    ck_assert_uint_eq(d->flags, 0);
    for (size_t i = 0; i < sizeof d->reserved / sizeof d->reserved[0]; i++)
        ck_assert_ptr_null(d->reserved[i]);
    tp_plugin_unload(p);
}
END_TEST

/* The same rows and problems whatever the chunk size. */
START_TEST(test_template_any_chunk_size)
{
    tp_plugin *p = load_ok(TP_TEST_TEMPLATE_SO);
    size_t len;
    char *data = template_sample(&len);
    capture whole = {0};
    ck_assert_int_eq(drive(p->desc, data, len, 0, &whole), TP_PLUGIN_OK);
    ck_assert_has(whole.text, "row 2: 00001|CASH\n");
    ck_assert_has(whole.text, "row 4: 5|GC \"P50\"\n");
    ck_assert_has(whole.text, "row 6: 00009|GIFT\nVOUCHER\n");
    ck_assert_has(whole.text, "problem 9 error: CODE is empty (column 3) and required\n");
    ck_assert_has(whole.text, "problem 10 warning: NAME is empty (column 1)\n");
    ck_assert_has(whole.text, "problem 11 error: row has 2 columns");
    ck_assert_int_eq(whole.rows, 7);
    static const size_t chunks[] = {1, 2, 3, 4, 5, 7, 11, 13, 17, 64, 4096};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        capture c = {0};
        ck_assert_int_eq(drive(p->desc, data, len, chunks[i], &c), TP_PLUGIN_OK);
        ck_assert_msg(strcmp(c.text, whole.text) == 0, "chunks of %zu:\n%s\nwhole:\n%s", chunks[i],
                      c.text, whole.text);
        free(c.text);
    }
    free(whole.text);
    free(data);
    tp_plugin_unload(p);
}
END_TEST

/* column.CODE / column.NAME move the columns: set to the classic layout the
 * template reads what the generic rd5900 does; a bad value is refused. */
START_TEST(test_template_options)
{
    tp_plugin *p = load_ok(TP_TEST_TEMPLATE_SO);
    static const char classic[] = "PAY_CODE,PAY_DESC,METHOD,MAX_AMOUNT\n"
                                  "00001,CASH,0,0.000\n"
                                  "4,CHARGE,6,0.000\n";
    static const char *const opts[] = {"column.CODE", "0", "column.NAME", "1", NULL};
    capture c = {.options = opts};
    ck_assert_int_eq(drive(p->desc, classic, strlen(classic), 5, &c), TP_PLUGIN_OK);
    ck_assert_str_eq(c.text, "row 2: 00001|CASH\nrow 3: 4|CHARGE\n");
    free(c.text);

    /* the defaults on the classic layout: the header warns, rows are short */
    capture d = {0};
    ck_assert_int_eq(drive(p->desc, classic, strlen(classic), 0, &d), TP_PLUGIN_OK);
    ck_assert_has(d.text,
                  "problem 1 warning: header: column 3 is \"MAX_AMOUNT\", expected \"PAY_CODE\"");
    ck_assert_has(d.text, "row 2: 0.000|CASH\n");
    free(d.text);

    static const char *const bad[] = {"column.CODE", "x", NULL};
    capture b = {.options = bad};
    ck_assert_int_eq(drive(p->desc, classic, strlen(classic), 0, &b), TP_PLUGIN_ECONFIG);
    ck_assert_has(b.text, "problem 0 error: option column.CODE must be a column index");
    free(b.text);

    /* and open refuses a type it does not parse, saying so */
    void *state = NULL;
    capture t = {0};
    call_env e = env_new(&t);
    ck_assert_int_eq(p->desc->open(e.api, (tp_host *)(void *)e.b, "rd5800", &state),
                     TP_PLUGIN_ETYPE);
    env_free(e);
    ck_assert_str_eq(t.text, "problem 0 error: the plugin has no layout for rd5800\n");
    free(t.text);
    tp_plugin_unload(p);
}
END_TEST

/* emit < 0 means stop: the plugin returns TP_PLUGIN_ESTOP and emits no more. */
START_TEST(test_template_stop)
{
    tp_plugin *p = load_ok(TP_TEST_TEMPLATE_SO);
    size_t len;
    char *data = template_sample(&len);
    capture c = {.stop_after = 2};
    ck_assert_int_eq(drive(p->desc, data, len, 0, &c), TP_PLUGIN_ESTOP);
    ck_assert_int_eq(c.rows, 2);
    free(c.text);
    capture c3 = {.stop_after = 3};
    ck_assert_int_eq(drive(p->desc, data, len, 3, &c3), TP_PLUGIN_ESTOP);
    ck_assert_int_eq(c3.rows, 3);
    free(c3.text);
    free(data);
    tp_plugin_unload(p);
}
END_TEST

/* Through the engine's host: counts of rows, rejects and warnings. */
START_TEST(test_template_parse_file)
{
    tp_plugin *p = load_ok(TP_TEST_TEMPLATE_SO);
    rows_seen seen = {0};
    tp_parse_sink sink = {count_row, count_problem, &seen};
    tp_parse_stats st;
    tp_error err = {0};
    ck_assert_int_eq(tp_parse_file(p, TP_TYPE_RD5900, TP_TEST_TEMPLATE_DIR "/sample/rd5900.csv",
                                   NULL, &sink, &st, &err),
                     TP_OK);
    ck_assert_uint_eq(st.rows, 7);
    ck_assert_uint_eq(st.rejected, 2);
    ck_assert_uint_eq(st.warnings, 1);
    ck_assert_uint_eq(seen.problems, 3);
    tp_plugin_unload(p);
}
END_TEST

/* ----------------------------------------------------------------- main */

static Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *t = tcase_create("refusals");
    tcase_add_test(t, test_bad_magic);
    tcase_add_test(t, test_major_older);
    tcase_add_test(t, test_major_newer);
    tcase_add_test(t, test_size_short);
    tcase_add_test(t, test_minor_newer);
    tcase_add_test(t, test_check_order);
    tcase_add_test(t, test_no_entry);
    tcase_add_test(t, test_entry_null);
    tcase_add_test(t, test_missing_callback);
    tcase_add_test(t, test_empty_name);
    tcase_add_test(t, test_unknown_type);
    tcase_add_test(t, test_undefined_symbol);
    tcase_add_test(t, test_not_a_shared_object);
    tcase_add_test(t, test_missing_file);
    tcase_add_test(t, test_messages_distinct);
    suite_add_tcase(s, t);

    t = tcase_create("registry");
    tcase_add_test(t, test_good_loads);
    tcase_add_test(t, test_registry_conflicts);
    tcase_add_test(t, test_registry_versions);
    tcase_add_test(t, test_registry_refused_override);
    tcase_add_test(t, test_registry_refused_by_manifest);
    tcase_add_test(t, test_registry_named_only);
    tcase_add_test(t, test_registry_load_dir);
    tcase_add_test(t, test_resolve);
    suite_add_tcase(s, t);

    t = tcase_create("parse");
    tcase_add_test(t, test_parse_good);
    tcase_add_test(t, test_parse_wrong_field_count);
    suite_add_tcase(s, t);

    t = tcase_create("exports");
    tcase_add_test(t, test_bundled_export_only_entry);
    tcase_add_test(t, test_template_exports_only_entry);
    suite_add_tcase(s, t);

    t = tcase_create("template");
    tcase_add_test(t, test_template_descriptor);
    tcase_add_test(t, test_template_any_chunk_size);
    tcase_add_test(t, test_template_options);
    tcase_add_test(t, test_template_stop);
    tcase_add_test(t, test_template_parse_file);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(loader_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
