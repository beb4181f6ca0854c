/* test_package.c -- signed plugin packages (engine/pipeline/package.h,
 * pkgkey.h) through the library: keys, a package packed and verified, every
 * way a package can be refused (unsigned, a changed manifest, a changed
 * plugin, an untrusted key, not an archive, an extra member, a path with
 * '..', a member over its cap, no trusted keys), installing two versions of
 * one plugin side by side and removing one, and the check the engine makes
 * before it loads an installed plugin.
 *
 * Bad packages are made from a good one: its members are read back with
 * libarchive and written again with one thing changed (and, where the test
 * needs a manifest that is wrong but signed, signed again with the key).
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tillpipe/sdk.h>
#include <unistd.h>

#include "core/error.h"
#include "io/sha.h"
#include "pipeline/package.h"
#include "pipeline/pkgkey.h"
#include "testutil.h"

#define PATH_LEN 4096
#define MAX_MEMBERS 8

#define ck_assert_has(msg, needle)                                                                 \
    ck_assert_msg(strstr((msg), (needle)) != NULL, "message lacks \"%s\": %s", (needle), (msg))

/* --------------------------------------------------------------- fixture */

static char *dir;           /* this case's temporary folder */
static char keys[PATH_LEN]; /* dir/keys: trusts k1 */
static char plug[PATH_LEN]; /* dir/plug: an empty plugin folder */
static char k1[PATH_LEN];   /* dir/k1, its .pub in keys/ */
static char k1_id[TP_KEY_ID_HEX];

static char *in_dir(const char *name)
{
    static char bufs[8][PATH_LEN];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, PATH_LEN, "%s/%s", dir, name);
    return b;
}

static void keygen(const char *path, char id[TP_KEY_ID_HEX])
{
    tp_error err = {0};
    ck_assert_msg(tp_key_generate(path, "test key", id, &err) == 0, "keygen: %s", err.msg);
}

/* Copy the public key of `key` into folder `to`. */
static void trust(const char *key, const char *to)
{
    char src[PATH_LEN], cmd[3 * PATH_LEN];
    snprintf(src, sizeof src, "%s.pub", key);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/'", to, src, to);
    ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
    dir = tu_tmpdir();
    ck_assert_ptr_nonnull(dir);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    snprintf(plug, sizeof plug, "%s/plug", dir);
    snprintf(k1, sizeof k1, "%s/k1", dir);
    ck_assert_int_eq(mkdir(plug, 0755), 0);
    keygen(k1, k1_id);
    trust(k1, keys);
}

static void teardown(void)
{
    tu_rmrf(dir);
    free(dir);
}

/* Pack `so` with k1 into dir/name; returns the path. */
static char *pack(const char *so, const char *name)
{
    char *out = in_dir(name);
    tp_error err = {0};
    tp_package_info info;
    ck_assert_msg(tp_package_pack(so, k1, out, NULL, &info, &err) == 0, "pack %s: %s", so, err.msg);
    return out;
}

/* ------------------------------------------------- reading and rewriting */

typedef struct member {
    char name[256];
    char *data;
    size_t len;
    int type; /* AE_IFREG unless set */
} member;

/* The members of a package, in order; returns how many. */
static size_t members_read(const char *path, member *m)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    ck_assert_int_eq(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
    struct archive_entry *e;
    size_t n = 0;
    while (n < MAX_MEMBERS && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        snprintf(m[n].name, sizeof m[n].name, "%s", archive_entry_pathname(e));
        m[n].len = (size_t)archive_entry_size(e);
        m[n].data = malloc(m[n].len + 1);
        m[n].type = AE_IFREG;
        ck_assert_int_eq(archive_read_data(a, m[n].data, m[n].len), (la_ssize_t)m[n].len);
        m[n].data[m[n].len] = '\0';
        n++;
    }
    archive_read_free(a);
    return n;
}

static void members_write(const char *path, const member *m, size_t n)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_filetype(e, m[i].type ? (unsigned)m[i].type : AE_IFREG);
        archive_entry_set_perm(e, 0644);
        if (m[i].type == AE_IFLNK)
            archive_entry_set_symlink(e, "/etc/passwd");
        archive_entry_set_size(e, m[i].type == AE_IFREG ? (la_int64_t)m[i].len : 0);
        archive_write_header(a, e);
        if (m[i].type == AE_IFREG)
            archive_write_data(a, m[i].data, m[i].len);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static void members_free(member *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].data);
}

static void set_data(member *m, const char *data, size_t len)
{
    free(m->data);
    m->data = malloc(len + 1);
    memcpy(m->data, data, len);
    m->data[len] = '\0';
    m->len = len;
}

/* Replace `from` by `to` in a member's text (once). */
static void edit(member *m, const char *from, const char *to)
{
    char *at = strstr(m->data, from);
    ck_assert_msg(at != NULL, "%s lacks \"%s\"", m->name, from);
    size_t pre = (size_t)(at - m->data), fl = strlen(from), tl = strlen(to);
    char *buf = malloc(m->len - fl + tl + 1);
    memcpy(buf, m->data, pre);
    memcpy(buf + pre, to, tl);
    memcpy(buf + pre + tl, at + fl, m->len - pre - fl + 1);
    set_data(m, buf, m->len - fl + tl);
    free(buf);
}

/* Sign members[0] (the manifest) again with k1 into members[1]. */
static void resign(member *m)
{
    tp_error err = {0};
    tp_signer *s = tp_signer_load(k1, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    char line[256];
    ck_assert_int_eq(tp_signer_sign(s, m[0].data, m[0].len, line, sizeof line, &err), 0);
    set_data(&m[1], line, strlen(line));
    tp_signer_destroy(s);
}

/* verify must refuse pkg with code and a message holding `needle`. */
static void expect_refused(const char *pkg, const char *trusted, int code, const char *needle)
{
    tp_error err = {0};
    tp_package_info info;
    int rc = tp_package_verify(pkg, trusted, &info, &err);
    ck_assert_msg(rc == code, "verify %s: %d, expected %d: %s", pkg, rc, code, err.msg);
    ck_assert_has(err.msg, needle);
    ck_assert_msg(strchr(err.msg, '\n') == NULL, "not one line: %s", err.msg);
}

/* Install pkg into plug; returns the code, message into err. */
static int install(const char *pkg, const char *trusted, int force, tp_error *err)
{
    tp_package_install_opts o = {.plugin_dir = plug, .trusted_dir = trusted, .force = force};
    tp_package_info info;
    char path[PATH_LEN];
    return tp_package_install(pkg, &o, &info, path, sizeof path, err);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0, "missing %s", path);
    return st.st_mode & 07777;
}

/* ------------------------------------------------------------------ keys */

START_TEST(keygen_writes_a_pair_and_never_overwrites)
{
    char *pub = in_dir("k1.pub"), id[TP_KEY_ID_HEX];
    ck_assert_int_eq(mode_of(k1), 0600);
    ck_assert_int_eq(mode_of(pub), 0644);
    size_t len;
    char *before = tu_read(k1, &len), *text = tu_read(pub, NULL);
    ck_assert_msg(strncmp(text, "tillpipe-ed25519-public ", 24) == 0, "%s", text);
    ck_assert_has(text, " test key\n");
    ck_assert_int_eq(strlen(k1_id), 16);
    tp_error err = {0};
    ck_assert_int_eq(tp_key_generate(k1, NULL, id, &err), TP_EINVAL);
    ck_assert_has(err.msg, "exists already");
    char *after = tu_read(k1, NULL);
    ck_assert_str_eq(before, after); /* the secret key is as it was */
    /* only the .pub there: refused too, and no secret key is made */
    char *k2 = in_dir("k2");
    free(tu_write(dir, "k2.pub", "something\n"));
    ck_assert_int_eq(tp_key_generate(k2, NULL, id, &err), TP_EINVAL);
    ck_assert_has(err.msg, "k2.pub exists already");
    ck_assert_int_ne(access(k2, F_OK), 0);
    /* a comment of two lines: nothing written */
    ck_assert_int_eq(tp_key_generate(in_dir("k3"), "a\nb", id, &err), TP_EINVAL);
    ck_assert_int_ne(access(in_dir("k3"), F_OK), 0);
    ck_assert_int_ne(access(in_dir("k3.pub"), F_OK), 0);
    free(before);
    free(after);
    free(text);
}
END_TEST

START_TEST(secret_key_readable_by_others_refused)
{
    ck_assert_int_eq(chmod(k1, 0644), 0);
    tp_error err = {0};
    char *out = in_dir("p.tpkg");
    ck_assert_int_eq(tp_package_pack(TP_TEST_PKG_V1, k1, out, NULL, NULL, &err), TP_EINVAL);
    ck_assert_has(err.msg, "readable by others");
    ck_assert_has(err.msg, "chmod 600");
    ck_assert_int_ne(access(out, F_OK), 0);
    /* not a key at all */
    free(tu_write(dir, "notakey", "hello\n"));
    chmod(in_dir("notakey"), 0600);
    ck_assert_int_eq(tp_package_pack(TP_TEST_PKG_V1, in_dir("notakey"), out, NULL, NULL, &err),
                     TP_EINVAL);
    ck_assert_has(err.msg, "not a tillpipe secret key file");
    ck_assert_int_ne(access(out, F_OK), 0);
}
END_TEST

/* ----------------------------------------------------------- pack, verify */

START_TEST(signed_package_verifies_and_is_reproducible)
{
    char *a = pack(TP_TEST_PKG_V1, "a.tpkg"), *b = pack(TP_TEST_PKG_V1, "b.tpkg");
    size_t la, lb;
    char *ta = tu_read(a, &la), *tb = tu_read(b, &lb);
    ck_assert_msg(la == lb && memcmp(ta, tb, la) == 0, "the same inputs gave other bytes");
    free(ta);
    free(tb);
    member m[MAX_MEMBERS];
    size_t n = members_read(a, m);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(m[0].name, "manifest.json");
    ck_assert_str_eq(m[1].name, "manifest.sig");
    ck_assert_str_eq(m[2].name, "pkgtest.so");
    ck_assert_has(m[0].data, "\"format\": \"tillpipe-plugin-package/1\"");
    members_free(m, n);

    tp_package_info info;
    tp_error err = {0};
    ck_assert_msg(tp_package_verify(a, keys, &info, &err) == 0, "%s", err.msg);
    char sha[TP_SHA256_HEX];
    uint64_t size;
    ck_assert_int_eq(tp_sha256_file(TP_TEST_PKG_V1, sha, &size, NULL), 0);
    ck_assert_str_eq(info.name, "pkgtest");
    ck_assert_str_eq(info.version, "1.0.0");
    char abi[16];
    snprintf(abi, sizeof abi, "%d.%d", TP_SDK_ABI_MAJOR, TP_SDK_ABI_MINOR);
    ck_assert_str_eq(info.abi, abi);
    ck_assert_str_eq(info.types, "rd5900");
    ck_assert_str_eq(info.branches, "generic");
    ck_assert_str_eq(info.sha256, sha);
    ck_assert_int_eq(info.size, size);
    ck_assert_str_eq(info.key_id, k1_id);
    ck_assert_int_eq(info.verified, 1);
    ck_assert_has(info.key_file, "k1.pub");
}
END_TEST

START_TEST(pack_refuses_what_is_not_a_plugin)
{
    char *so = tu_write(dir, "fake.so", "not an ELF file\n");
    char *out = in_dir("p.tpkg");
    tp_error err = {0};
    ck_assert_int_lt(tp_package_pack(so, k1, out, NULL, NULL, &err), 0);
    ck_assert_has(err.msg, "fake.so");
    ck_assert_int_ne(access(out, F_OK), 0);
    ck_assert_int_eq(tu_count_entries(dir), 5); /* keys plug k1 k1.pub fake.so */
    free(so);
}
END_TEST

START_TEST(unsigned_package_refused)
{
    member m[MAX_MEMBERS];
    size_t n = members_read(pack(TP_TEST_PKG_V1, "p.tpkg"), m);
    member keep[2] = {m[0], m[2]}; /* no manifest.sig */
    members_write(in_dir("u.tpkg"), keep, 2);
    expect_refused(in_dir("u.tpkg"), keys, TP_EPLUGIN, "unsigned package");
    tp_error err = {0};
    ck_assert_int_eq(install(in_dir("u.tpkg"), NULL, 0, &err), TP_EPLUGIN);
    ck_assert_has(err.msg, "unsigned package");
    ck_assert_int_eq(tu_count_entries(plug), 0);
    members_free(m, n);
}
END_TEST

START_TEST(tampered_manifest_refused)
{
    member m[MAX_MEMBERS];
    size_t n = members_read(pack(TP_TEST_PKG_V1, "p.tpkg"), m);
    edit(&m[0], "\"1.0.0\"", "\"1.0.1\"");
    members_write(in_dir("t.tpkg"), m, n);
    expect_refused(in_dir("t.tpkg"), keys, TP_EPLUGIN, "does not match the manifest");
    expect_refused(in_dir("t.tpkg"), keys, TP_EPLUGIN, "tampered?");
    tp_error err = {0};
    ck_assert_int_eq(install(in_dir("t.tpkg"), keys, 0, &err), TP_EPLUGIN);
    ck_assert_int_eq(tu_count_entries(plug), 0);
    members_free(m, n);
}
END_TEST

START_TEST(tampered_plugin_refused)
{
    member m[MAX_MEMBERS];
    size_t n = members_read(pack(TP_TEST_PKG_V1, "p.tpkg"), m);
    m[2].data[m[2].len / 2] ^= 1;
    members_write(in_dir("t.tpkg"), m, n);
    expect_refused(in_dir("t.tpkg"), keys, TP_EPLUGIN,
                   "the plugin's sha256 differs from its signed manifest (tampered?)");
    tp_error err = {0}; /* an install checks the hash even without trusted keys */
    ck_assert_int_eq(install(in_dir("t.tpkg"), NULL, 0, &err), TP_EPLUGIN);
    ck_assert_has(err.msg, "sha256 differs");
    ck_assert_int_eq(tu_count_entries(plug), 0);
    members_free(m, n);
}
END_TEST

START_TEST(signature_by_an_untrusted_key_refused)
{
    char other[PATH_LEN], id2[TP_KEY_ID_HEX], want[256];
    snprintf(other, sizeof other, "%s/others", dir);
    keygen(in_dir("k2"), id2);
    trust(in_dir("k2"), other);
    char *pkg = pack(TP_TEST_PKG_V1, "p.tpkg");
    snprintf(want, sizeof want, "signed by key %s which is not in %s", k1_id, other);
    expect_refused(pkg, other, TP_EPLUGIN, want);
    tp_error err = {0};
    ck_assert_int_eq(install(pkg, other, 0, &err), TP_EPLUGIN);
    ck_assert_has(err.msg, want);
    ck_assert_int_eq(tu_count_entries(plug), 0);
    /* with both keys trusted it verifies */
    trust(k1, other);
    ck_assert_int_eq(tp_package_verify(pkg, other, NULL, &err), 0);
}
END_TEST

START_TEST(trusted_keys_folder_missing_empty_or_bad)
{
    char *pkg = pack(TP_TEST_PKG_V1, "p.tpkg");
    expect_refused(pkg, in_dir("nokeys"), TP_ENOTFOUND, "trusted keys folder");
    expect_refused(pkg, NULL, TP_EINVAL, "no trusted keys folder given");
    ck_assert_int_eq(mkdir(in_dir("empty"), 0755), 0);
    expect_refused(pkg, in_dir("empty"), TP_EINVAL, "no trusted keys in");
    free(tu_write(keys, "broken.pub", "tillpipe-ed25519-public not-base64!\n"));
    expect_refused(pkg, keys, TP_EINVAL, "broken.pub: not a tillpipe public key file");
}
END_TEST

/* ------------------------------------------------------- malformed archives */

START_TEST(not_an_archive_refused)
{
    char *text = tu_write(dir, "text.tpkg", "just some text, no archive at all\n");
    expect_refused(text, keys, TP_EPARSE, "not a plugin package");
    char *empty = tu_write(dir, "empty.tpkg", "");
    expect_refused(empty, keys, TP_EPARSE, "not a plugin package");
    expect_refused(in_dir("absent.tpkg"), keys, TP_ENOTFOUND, "cannot open");
    /* a zip is an archive, but not a package */
    tu_member z[] = {{"manifest.json", "{}", NULL, 0}};
    char *zip = tu_make_archive(dir, "z.tpkg", "zip", z, 1);
    expect_refused(zip, keys, TP_EPARSE, "not a plugin package");
    tp_error err = {0};
    ck_assert_int_eq(install(text, NULL, 0, &err), TP_EPARSE);
    ck_assert_int_eq(tu_count_entries(plug), 0);
    free(text);
    free(empty);
    free(zip);
}
END_TEST

/* The good package with one member added (n = 4) or one member renamed. */
static void with_member(const char *out, const char *name, int at, int type)
{
    member m[MAX_MEMBERS];
    size_t n = members_read(in_dir("p.tpkg"), m);
    if (at < 0) {
        m[n] = (member){.data = strdup("extra\n"), .len = 6, .type = type};
        snprintf(m[n].name, sizeof m[n].name, "%s", name);
        n++;
    } else {
        snprintf(m[at].name, sizeof m[at].name, "%s", name);
        m[at].type = type;
    }
    members_write(in_dir(out), m, n);
    members_free(m, n);
}

START_TEST(extra_or_doubled_member_refused)
{
    pack(TP_TEST_PKG_V1, "p.tpkg");
    with_member("x1.tpkg", "README", -1, AE_IFREG);
    expect_refused(in_dir("x1.tpkg"), keys, TP_EPARSE, "unexpected member 'README'");
    with_member("x2.tpkg", "other.so", -1, AE_IFREG);
    expect_refused(in_dir("x2.tpkg"), keys, TP_EPARSE, "a second plugin member 'other.so'");
    with_member("x3.tpkg", "manifest.sig", -1, AE_IFREG);
    expect_refused(in_dir("x3.tpkg"), keys, TP_EPARSE, "second copy of member 'manifest.sig'");
    with_member("x4.tpkg", "lib", -1, AE_IFDIR);
    expect_refused(in_dir("x4.tpkg"), keys, TP_EPARSE, "'lib/' is not a plain file name");
    with_member("x5.tpkg", "evil.so", -1, AE_IFLNK);
    expect_refused(in_dir("x5.tpkg"), keys, TP_EPARSE, "'evil.so' is not a regular file");
    tp_error err = {0};
    ck_assert_int_eq(install(in_dir("x1.tpkg"), NULL, 0, &err), TP_EPARSE);
    ck_assert_int_eq(tu_count_entries(plug), 0);
}
END_TEST

START_TEST(member_paths_with_tricks_refused)
{
    static const char *const bad[] = {"../manifest.json", "/tmp/pkgtest.so", "sub/pkgtest.so",
                                      "./manifest.sig", ".hidden.so"};
    pack(TP_TEST_PKG_V1, "p.tpkg");
    for (int i = 0; i < 5; i++) {
        char want[128];
        with_member("bad.tpkg", bad[i], i % 3, AE_IFREG);
        snprintf(want, sizeof want, "member path '%s' is not a plain file name", bad[i]);
        expect_refused(in_dir("bad.tpkg"), keys, TP_EPARSE, want);
    }
    tp_error err = {0};
    ck_assert_int_eq(install(in_dir("bad.tpkg"), keys, 0, &err), TP_EPARSE);
    ck_assert_int_eq(tu_count_entries(plug), 0);
    /* nothing was written beside the package or above the folder */
    ck_assert_int_ne(access(in_dir("../manifest.json"), F_OK), 0);
}
END_TEST

START_TEST(oversized_member_refused)
{
    member m[MAX_MEMBERS];
    size_t n = members_read(pack(TP_TEST_PKG_V1, "p.tpkg"), m);
    size_t big = TP_PACKAGE_MAX_MANIFEST + 1;
    char *fill = calloc(1, big);
    memset(fill, ' ', big);
    set_data(&m[0], fill, big);
    members_write(in_dir("big.tpkg"), m, n);
    expect_refused(in_dir("big.tpkg"), keys, TP_ELIMIT, "member 'manifest.json' is 65537 bytes");
    members_free(m, n);
    n = members_read(in_dir("p.tpkg"), m);
    set_data(&m[1], fill, TP_PACKAGE_MAX_SIG + 1);
    members_write(in_dir("big.tpkg"), m, n);
    expect_refused(in_dir("big.tpkg"), keys, TP_ELIMIT, "member 'manifest.sig' is 1025 bytes");
    tp_error err = {0};
    ck_assert_int_eq(install(in_dir("big.tpkg"), NULL, 0, &err), TP_ELIMIT);
    ck_assert_int_eq(tu_count_entries(plug), 0);
    members_free(m, n);
    free(fill);
}
END_TEST

START_TEST(signed_but_wrong_manifest_refused)
{
    member m[MAX_MEMBERS];
    size_t n = members_read(pack(TP_TEST_PKG_V1, "p.tpkg"), m);
    edit(&m[0], "\"file\": \"pkgtest.so\"", "\"file\": \"other.so\"");
    resign(m);
    members_write(in_dir("w1.tpkg"), m, n);
    expect_refused(in_dir("w1.tpkg"), keys, TP_EPARSE, "manifest.json names 'other.so'");
    members_free(m, n);
    n = members_read(in_dir("p.tpkg"), m);
    edit(&m[0], "\"name\": \"pkgtest\"", "\"name\": \"../../evil\"");
    resign(m);
    members_write(in_dir("w2.tpkg"), m, n);
    expect_refused(in_dir("w2.tpkg"), keys, TP_EPARSE, "is not a valid name");
    members_free(m, n);
    n = members_read(in_dir("p.tpkg"), m); /* an ABI this host does not load */
    char abi[32];
    snprintf(abi, sizeof abi, "\"abi\": \"%d.%d\"", TP_SDK_ABI_MAJOR, TP_SDK_ABI_MINOR);
    edit(&m[0], abi, "\"abi\": \"1.99\"");
    resign(m);
    members_write(in_dir("w3.tpkg"), m, n);
    ck_assert_int_eq(tp_package_verify(in_dir("w3.tpkg"), keys, NULL, NULL), 0);
    tp_error err = {0};
    ck_assert_int_eq(install(in_dir("w3.tpkg"), keys, 0, &err), TP_EPLUGIN);
    ck_assert_has(err.msg, "built for plugin ABI 1.99");
    ck_assert_int_eq(tu_count_entries(plug), 0);
    members_free(m, n);
}
END_TEST

START_TEST(gzipped_package_verifies_and_a_bad_signature_line_is_refused)
{
    char *pkg = pack(TP_TEST_PKG_V1, "p.tpkg"), cmd[3 * PATH_LEN];
    snprintf(cmd, sizeof cmd, "gzip -c '%s' > '%s.gz'", pkg, pkg);
    ck_assert_int_eq(system(cmd), 0);
    tp_error err = {0};
    snprintf(cmd, sizeof cmd, "%s.gz", pkg);
    ck_assert_msg(tp_package_verify(cmd, keys, NULL, &err) == 0, "%s", err.msg);
    member m[MAX_MEMBERS];
    size_t n = members_read(pkg, m);
    set_data(&m[1], "tillpipe-ed25519-signature nothex\n", 34);
    members_write(in_dir("s.tpkg"), m, n);
    expect_refused(in_dir("s.tpkg"), keys, TP_EPARSE, "manifest.sig: not a signature");
    ck_assert_int_eq(install(in_dir("s.tpkg"), NULL, 0, &err), TP_EPARSE);
    ck_assert_int_eq(tu_count_entries(plug), 0);
    members_free(m, n);
}
END_TEST

/* ------------------------------------------------------- install, remove */

static void expect_installed(const char *version, int nfiles)
{
    char so[PATH_LEN], side[PATH_LEN + 32];
    snprintf(so, sizeof so, "%s/pkgtest-%s.so", plug, version);
    ck_assert_int_eq(mode_of(so), 0755);
    snprintf(side, sizeof side, "%s.manifest.json", so);
    ck_assert_int_eq(mode_of(side), 0644);
    snprintf(side, sizeof side, "%s.sig", so);
    ck_assert_int_eq(mode_of(side), 0644);
    ck_assert_int_eq(tu_count_entries(plug), nfiles); /* no temporaries left */
}

START_TEST(two_versions_side_by_side)
{
    tp_error err = {0};
    ck_assert_msg(install(pack(TP_TEST_PKG_V1, "v1.tpkg"), keys, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(install(pack(TP_TEST_PKG_V2, "v2.tpkg"), keys, 0, &err) == 0, "%s", err.msg);
    expect_installed("1.0.0", 6);
    expect_installed("2.0.0", 6);
    char sha[TP_SHA256_HEX], so[PATH_LEN];
    snprintf(so, sizeof so, "%s/pkgtest-2.0.0.so", plug);
    ck_assert_int_eq(tp_sha256_file(TP_TEST_PKG_V2, sha, NULL, NULL), 0);
    ck_assert_msg(tp_package_check_installed(so, sha, "pkgtest", "2.0.0", keys, &err) == 0, "%s",
                  err.msg);
    /* the same package again: nothing to do */
    ck_assert_int_eq(install(in_dir("v1.tpkg"), keys, 0, &err), 1);
    expect_installed("1.0.0", 6);
}
END_TEST

START_TEST(different_build_of_an_installed_version_needs_force)
{
    tp_error err = {0};
    char so[PATH_LEN], sha[TP_SHA256_HEX];
    snprintf(so, sizeof so, "%s/pkgtest-1.0.0.so", plug);
    ck_assert_int_eq(install(pack(TP_TEST_PKG_V1, "v1.tpkg"), keys, 0, &err), 0);
    ck_assert_int_eq(install(pack(TP_TEST_PKG_V1B, "v1b.tpkg"), keys, 0, &err), TP_EINVAL);
    ck_assert_has(err.msg, "installed already and differs");
    ck_assert_has(err.msg, "--force");
    ck_assert_int_eq(tp_sha256_file(TP_TEST_PKG_V1, sha, NULL, NULL), 0);
    ck_assert_int_eq(tp_package_check_installed(so, sha, "pkgtest", "1.0.0", keys, &err), 0);
    expect_installed("1.0.0", 3);
    ck_assert_msg(install(in_dir("v1b.tpkg"), keys, 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(tp_sha256_file(TP_TEST_PKG_V1B, sha, NULL, NULL), 0);
    ck_assert_msg(tp_package_check_installed(so, sha, "pkgtest", "1.0.0", keys, &err) == 0, "%s",
                  err.msg);
    expect_installed("1.0.0", 3);
}
END_TEST

static int removed;

static void count_removed(void *ud, const char *name, const char *version, const char *so_path)
{
    ck_assert_str_eq(name, "pkgtest");
    ck_assert_str_eq(version, (const char *)ud);
    ck_assert_int_ne(access(so_path, F_OK), 0);
    removed++;
}

START_TEST(remove_one_version_keeps_the_other)
{
    tp_error err = {0};
    ck_assert_int_eq(install(pack(TP_TEST_PKG_V1, "v1.tpkg"), NULL, 0, &err), 0);
    ck_assert_int_eq(install(pack(TP_TEST_PKG_V2, "v2.tpkg"), NULL, 0, &err), 0);
    char *plain = tu_write(plug, "pkgtest.so", "an unmanaged plugin\n");
    ck_assert_int_eq(tp_package_remove(plug, "pkgtest", "1.0.0", count_removed, "1.0.0", &err), 1);
    ck_assert_int_eq(removed, 1);
    expect_installed("2.0.0", 4);
    ck_assert_int_ne(access(in_dir("plug/pkgtest-1.0.0.so.sig"), F_OK), 0);
    ck_assert_int_eq(tp_package_remove(plug, "pkgtest", "1.0.0", NULL, NULL, &err), TP_ENOTFOUND);
    ck_assert_has(err.msg, "no installed pkgtest@1.0.0 in");
    ck_assert_int_eq(tp_package_remove(plug, "pkgtest", NULL, count_removed, "2.0.0", &err), 1);
    ck_assert_int_eq(tu_count_entries(plug), 1); /* the unmanaged one stays */
    ck_assert_int_eq(access(plain, F_OK), 0);
    ck_assert_int_eq(tp_package_remove(plug, "pkgtest", NULL, NULL, NULL, &err), TP_ENOTFOUND);
    free(plain);
}
END_TEST

START_TEST(remove_every_version)
{
    tp_error err = {0};
    ck_assert_int_eq(install(pack(TP_TEST_PKG_V1, "v1.tpkg"), NULL, 0, &err), 0);
    ck_assert_int_eq(install(pack(TP_TEST_PKG_V2, "v2.tpkg"), NULL, 0, &err), 0);
    ck_assert_int_eq(tp_package_remove(plug, "pkgtest", NULL, NULL, NULL, &err), 2);
    ck_assert_int_eq(tu_count_entries(plug), 0);
    ck_assert_int_eq(tp_package_remove(plug, "other", NULL, NULL, NULL, &err), TP_ENOTFOUND);
}
END_TEST

/* ------------------------------------------------------------ load check */

/* Install v1 and return its path and sha. */
static void installed_v1(char so[PATH_LEN], char sha[TP_SHA256_HEX])
{
    tp_error err = {0};
    ck_assert_int_eq(install(pack(TP_TEST_PKG_V1, "v1.tpkg"), keys, 0, &err), 0);
    snprintf(so, PATH_LEN, "%s/pkgtest-1.0.0.so", plug);
    ck_assert_int_eq(tp_sha256_file(so, sha, NULL, NULL), 0);
}

static void expect_check_refused(const char *so, const char *sha, const char *version,
                                 const char *trusted, const char *needle)
{
    tp_error err = {0};
    char prefix[PATH_LEN + 32];
    ck_assert_int_eq(tp_package_check_installed(so, sha, "pkgtest", version, trusted, &err),
                     TP_EPLUGIN);
    ck_assert_int_eq(err.code, TP_EPLUGIN);
    snprintf(prefix, sizeof prefix, "plugin %s: refused: ", so);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "%s", err.msg);
    ck_assert_has(err.msg, needle);
}

START_TEST(load_check_good_and_unsigned)
{
    char so[PATH_LEN], sha[TP_SHA256_HEX];
    installed_v1(so, sha);
    tp_error err = {0};
    ck_assert_msg(tp_package_check_installed(so, sha, "pkgtest", "1.0.0", keys, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(tp_package_check_installed(so, sha, "pkgtest", "1.0.0", keys, NULL), 0);
    ck_assert_int_eq(tp_package_check_installed(so, sha, NULL, NULL, keys, NULL),
                     0);       /* pre-dlopen */
    char plain[PATH_LEN + 16]; /* a plugin copied in by hand has no sidecars */
    snprintf(plain, sizeof plain, "%s/byhand.so", plug);
    char cmd[3 * PATH_LEN];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", TP_TEST_PKG_V1, plain);
    ck_assert_int_eq(system(cmd), 0);
    expect_check_refused(plain, sha, "1.0.0", keys,
                         "no signature (install it from a signed package: tillpipe plugin "
                         "install PKG)");
    snprintf(cmd, sizeof cmd, "cp '%s.sig' '%s.sig'", so, plain); /* a signature alone */
    ck_assert_int_eq(system(cmd), 0);
    expect_check_refused(plain, sha, "1.0.0", keys, "no signed manifest");
}
END_TEST

START_TEST(load_check_wrong_key_sha_or_version)
{
    char so[PATH_LEN], sha[TP_SHA256_HEX], id2[TP_KEY_ID_HEX], want[PATH_LEN];
    installed_v1(so, sha);
    keygen(in_dir("k2"), id2);
    trust(in_dir("k2"), in_dir("others"));
    snprintf(want, sizeof want, "signed by key %s which is not in %s", k1_id, in_dir("others"));
    expect_check_refused(so, sha, "1.0.0", in_dir("others"), want);
    char other[TP_SHA256_HEX];
    memcpy(other, sha, sizeof other);
    other[0] = other[0] == '0' ? '1' : '0';
    expect_check_refused(so, other, "1.0.0", keys,
                         "the file's sha256 differs from its signed manifest (tampered?)");
    expect_check_refused(so, sha, "2.0.0", keys, "its signed manifest is for pkgtest 1.0.0");
    expect_check_refused(so, sha, "1.0.0", in_dir("nokeys"), "trusted keys folder");
    expect_check_refused(so, sha, "1.0.0", NULL, "no trusted keys folder given");
    /* the sidecar manifest changed: the signature no longer matches */
    char man[PATH_LEN + 32];
    snprintf(man, sizeof man, "%s.manifest.json", so);
    char *text = tu_read(man, NULL);
    text[strlen(text) - 1] = ' ';
    FILE *f = fopen(man, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    expect_check_refused(so, sha, "1.0.0", keys, "does not match the manifest");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("package");
    TCase *t = tcase_create("keys");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, keygen_writes_a_pair_and_never_overwrites);
    tcase_add_test(t, secret_key_readable_by_others_refused);
    suite_add_tcase(s, t);
    t = tcase_create("verify");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, signed_package_verifies_and_is_reproducible);
    tcase_add_test(t, pack_refuses_what_is_not_a_plugin);
    tcase_add_test(t, unsigned_package_refused);
    tcase_add_test(t, tampered_manifest_refused);
    tcase_add_test(t, tampered_plugin_refused);
    tcase_add_test(t, signature_by_an_untrusted_key_refused);
    tcase_add_test(t, trusted_keys_folder_missing_empty_or_bad);
    tcase_add_test(t, signed_but_wrong_manifest_refused);
    tcase_add_test(t, gzipped_package_verifies_and_a_bad_signature_line_is_refused);
    suite_add_tcase(s, t);
    t = tcase_create("malformed");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, not_an_archive_refused);
    tcase_add_test(t, extra_or_doubled_member_refused);
    tcase_add_test(t, member_paths_with_tricks_refused);
    tcase_add_test(t, oversized_member_refused);
    suite_add_tcase(s, t);
    t = tcase_create("install");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, two_versions_side_by_side);
    tcase_add_test(t, different_build_of_an_installed_version_needs_force);
    tcase_add_test(t, remove_one_version_keeps_the_other);
    tcase_add_test(t, remove_every_version);
    tcase_add_test(t, load_check_good_and_unsigned);
    tcase_add_test(t, load_check_wrong_key_sha_or_version);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
