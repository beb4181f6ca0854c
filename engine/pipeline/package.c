/* package.c -- see package.h. */
#include "package.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tillpipe/sdk.h>
#include <unistd.h>

#include "io/fsutil.h"
#include "package_int.h"
#include "plugin.h"

#ifndef TP_VERSION
#define TP_VERSION "unknown"
#endif

#define MANIFEST_NAME "manifest.json"
#define SIG_NAME "manifest.sig"
#define MEMBERS_HINT "a package holds manifest.json, manifest.sig and one PLUGIN.so"
#define CHUNK 65536

/* ----------------------------------------------------------------- names */

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '+' || c == '-';
}

static int token_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || !name_char(s[0]) || s[0] == '.' || s[0] == '_' || s[0] == '+' ||
        s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i]))
            return 0;
    return 1;
}

int tp_package_name_ok(const char *s)
{
    return token_ok(s, TP_PACKAGE_NAME_MAX);
}

/* The plugin member's name: a plain file name ending in ".so". */
static int so_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return token_ok(s, 100) && n > 3 && strcmp(s + n - 3, ".so") == 0;
}

/* "a, b" from a JSON array of strings; `empty` when it is empty. */
static void join_json(json_t *arr, const char *empty, char *buf, size_t n)
{
    size_t i, off = 0;
    buf[0] = '\0';
    for (i = 0; i < json_array_size(arr); i++) {
        const char *v = json_string_value(json_array_get(arr, i));
        int w = snprintf(buf + off, n - off, "%s%s", i ? ", " : "", v ? v : "");
        off += w > 0 && (size_t)w < n - off ? (size_t)w : 0;
    }
    if (json_array_size(arr) == 0)
        snprintf(buf, n, "%s", empty);
}

/* ------------------------------------------------------------- manifest */

static json_t *str_array(const char *const *list)
{
    json_t *a = json_array();
    for (size_t i = 0; a && list && list[i]; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}

/* The manifest of a loaded plugin (new string with its newline, or NULL). */
static char *manifest_build(const tp_plugin *p, const char *file, uint64_t size)
{
    const tp_plugin_desc *d = p->desc;
    char abi[32], sdk[32];
    snprintf(abi, sizeof abi, "%u.%u", (unsigned)d->abi_major, (unsigned)d->abi_minor);
    snprintf(sdk, sizeof sdk, "%d.%d", TP_SDK_ABI_MAJOR, TP_SDK_ABI_MINOR);
    json_t *m = json_object();
    if (!m)
        return NULL;
    json_object_set_new(m, "format", json_string(TP_PACKAGE_FORMAT));
    json_object_set_new(m, "name", json_string(d->name));
    json_object_set_new(m, "version", json_string(d->version));
    json_object_set_new(m, "abi", json_string(abi));
    json_object_set_new(m, "license", json_string(d->license ? d->license : ""));
    json_object_set_new(m, "types", str_array(d->types));
    json_object_set_new(m, "branches", str_array(d->branches));
    json_object_set_new(m, "file", json_string(file));
    json_object_set_new(m, "size", json_integer((json_int_t)size));
    json_object_set_new(m, "sha256", json_string(p->sha256));
    json_object_set_new(m, "build",
                        json_pack("{s:s, s:s}", "tillpipe", TP_VERSION, "sdk_abi", sdk));
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(m);
    char *out = text ? malloc(strlen(text) + 2) : NULL;
    if (out)
        snprintf(out, strlen(text) + 2, "%s\n", text);
    free(text);
    return out;
}

/* The string member `key` of m into buf; < 0 with err set when absent, not
 * a string or too long. */
static int get_str(json_t *m, const char *key, char *buf, size_t n, tp_error *err)
{
    const char *s = json_string_value(json_object_get(m, key));
    if (!s || strlen(s) >= n)
        return tp_error_set(err, TP_EPARSE, "manifest.json: \"%s\" is %s", key,
                            s ? "too long" : "missing or not a string");
    memcpy(buf, s, strlen(s) + 1);
    return TP_OK;
}

static int hex64_ok(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == '\0';
}

/* "MAJOR.MINOR", digits only. */
static int abi_parse(const char *s, unsigned *major, unsigned *minor)
{
    unsigned v[2] = {0, 0};
    int part = 0, digits = 0;
    for (; *s; s++) {
        if (*s == '.' && part == 0 && digits) {
            part = 1;
            digits = 0;
        } else if (*s >= '0' && *s <= '9' && digits < 5) {
            v[part] = v[part] * 10 + (unsigned)(*s - '0');
            digits++;
        } else
            return -1;
    }
    *major = v[0];
    *minor = v[1];
    return part == 1 && digits ? 0 : -1;
}

/* Every array element a string that is a name. */
static int names_array_ok(json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) > 64)
        return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!tp_package_name_ok(json_string_value(json_array_get(a, i))))
            return 0;
    return 1;
}

/* The checked fields of a manifest into info. */
static int manifest_fields(json_t *m, tp_package_info *info, tp_error *err)
{
    char format[64], sha[80];
    unsigned ma, mi;
    int rc = get_str(m, "format", format, sizeof format, err);
    if (rc == TP_OK && strcmp(format, TP_PACKAGE_FORMAT) != 0)
        return tp_error_set(err, TP_EPARSE,
                            "manifest.json: format \"%s\" is not " TP_PACKAGE_FORMAT
                            " (made by a newer tillpipe?)",
                            format);
    if (rc == TP_OK && (rc = get_str(m, "name", info->name, sizeof info->name, err)) == TP_OK &&
        !tp_package_name_ok(info->name))
        rc = tp_error_set(err, TP_EPARSE, "manifest.json: name \"%s\" is not a valid name",
                          info->name);
    if (rc == TP_OK &&
        (rc = get_str(m, "version", info->version, sizeof info->version, err)) == TP_OK &&
        !tp_package_name_ok(info->version))
        rc = tp_error_set(err, TP_EPARSE, "manifest.json: version \"%s\" is not a valid version",
                          info->version);
    if (rc == TP_OK && (rc = get_str(m, "abi", info->abi, sizeof info->abi, err)) == TP_OK &&
        abi_parse(info->abi, &ma, &mi) < 0)
        rc =
            tp_error_set(err, TP_EPARSE, "manifest.json: abi \"%s\" is not MAJOR.MINOR", info->abi);
    if (rc == TP_OK && (rc = get_str(m, "file", info->file, sizeof info->file, err)) == TP_OK &&
        !so_name_ok(info->file))
        rc = tp_error_set(err, TP_EPARSE, "manifest.json: file \"%s\" is not a plain NAME.so",
                          info->file);
    if (rc == TP_OK && (rc = get_str(m, "sha256", sha, sizeof sha, err)) == TP_OK && !hex64_ok(sha))
        rc = tp_error_set(err, TP_EPARSE, "manifest.json: sha256 is not 64 lowercase hex digits");
    if (rc < 0)
        return rc;
    memcpy(info->sha256, sha, TP_SHA256_HEX);
    json_t *size = json_object_get(m, "size"), *types = json_object_get(m, "types");
    json_t *branches = json_object_get(m, "branches");
    if (!json_is_integer(size) || json_integer_value(size) < 0 ||
        json_integer_value(size) > (json_int_t)TP_PACKAGE_MAX_SO)
        return tp_error_set(err, TP_EPARSE, "manifest.json: size is missing or out of range");
    if (!names_array_ok(types) || json_array_size(types) == 0 || !names_array_ok(branches))
        return tp_error_set(err, TP_EPARSE,
                            "manifest.json: types and branches must be lists of names (types "
                            "not empty)");
    info->size = (uint64_t)json_integer_value(size);
    join_json(types, "", info->types, sizeof info->types);
    join_json(branches, "generic", info->branches, sizeof info->branches);
    return TP_OK;
}

/* Parse and check manifest text into info (its signature fields kept). */
static int manifest_parse(const char *text, size_t len, tp_package_info *info, tp_error *err)
{
    json_error_t je;
    json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!m)
        return tp_error_set(err, TP_EPARSE, "manifest.json is not valid JSON (line %d: %s)",
                            je.line, je.text);
    int rc = json_is_object(m) ? manifest_fields(m, info, err)
                               : tp_error_set(err, TP_EPARSE, "manifest.json is not an object");
    json_decref(m);
    return rc;
}

/* ------------------------------------------------------- reading packages */

/* What one pass over a package found. */
typedef struct pkg_read {
    struct archive *a;
    char *manifest, *sig; /* NULL when absent */
    size_t manifest_len, sig_len;
    char so_name[128]; /* "" when absent */
    char so_sha[TP_SHA256_HEX];
    uint64_t so_size;
    int sink; /* the plugin's bytes are written here when >= 0 */
} pkg_read;

enum { M_MANIFEST, M_SIG, M_SO };

static int write_all(int fd, const void *buf, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)buf + off, n - off);
        if (w < 0 && errno != EINTR)
            return -1;
        off += w > 0 ? (size_t)w : 0;
    }
    return 0;
}

/* Which member an entry is, after the checks every member passes. */
static int member_kind(pkg_read *r, struct archive_entry *e, tp_error *err)
{
    const char *p = archive_entry_pathname(e);
    if (!p || !*p || strchr(p, '/') || strchr(p, '\\') || p[0] == '.')
        return tp_error_set(err, TP_EPARSE,
                            "member path '%.200s' is not a plain file name (absolute paths, "
                            "folders, '..' and hidden names are refused): not a plugin package",
                            p ? p : "");
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) ||
        archive_entry_symlink(e))
        return tp_error_set(err, TP_EPARSE,
                            "member '%.200s' is not a regular file (a link, folder or device): "
                            "not a plugin package",
                            p);
    int kind = strcmp(p, MANIFEST_NAME) == 0 ? M_MANIFEST
               : strcmp(p, SIG_NAME) == 0    ? M_SIG
               : so_name_ok(p)               ? M_SO
                                             : -1;
    if (kind < 0)
        return tp_error_set(err, TP_EPARSE, "unexpected member '%.200s' (" MEMBERS_HINT ")", p);
    if ((kind == M_MANIFEST && r->manifest) || (kind == M_SIG && r->sig) ||
        (kind == M_SO && r->so_name[0]))
        return tp_error_set(err, TP_EPARSE,
                            "a second %s member '%.200s' (" MEMBERS_HINT "): not a plugin package",
                            kind == M_SO ? "plugin" : "copy of", p);
    uint64_t cap = kind == M_MANIFEST ? TP_PACKAGE_MAX_MANIFEST
                   : kind == M_SIG    ? TP_PACKAGE_MAX_SIG
                                      : TP_PACKAGE_MAX_SO;
    if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > cap)
        return tp_error_set(err, TP_ELIMIT,
                            "member '%.200s' is %lld bytes, more than the %llu "
                            "it may have",
                            p, (long long)archive_entry_size(e), (unsigned long long)cap);
    return kind;
}

/* A small member's bytes into a new buffer. */
static int read_small_member(pkg_read *r, const char *name, size_t cap, char **out, size_t *len,
                             tp_error *err)
{
    char *buf = malloc(cap + 1);
    size_t n = 0;
    la_ssize_t got;
    if (!buf)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    while ((got = archive_read_data(r->a, buf + n, cap + 1 - n)) > 0)
        if ((n += (size_t)got) > cap)
            break;
    if (got < 0 || n > cap) {
        free(buf);
        return got < 0
                   ? tp_error_set(err, TP_EPARSE, "member '%s': %s", name,
                                  archive_error_string(r->a))
                   : tp_error_set(err, TP_ELIMIT, "member '%s' is more than %zu bytes", name, cap);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return TP_OK;
}

/* The plugin member: hashed, counted, copied to the sink. */
static int read_so_member(pkg_read *r, const char *name, tp_error *err)
{
    char *chunk = malloc(CHUNK);
    tp_sha256 h;
    la_ssize_t got;
    int rc = chunk ? TP_OK : tp_error_set(err, TP_ENOMEM, "out of memory");
    tp_sha256_init(&h);
    while (rc == TP_OK && (got = archive_read_data(r->a, chunk, CHUNK)) != 0) {
        if (got < 0)
            rc = tp_error_set(err, TP_EPARSE, "member '%s': %s", name, archive_error_string(r->a));
        else if ((r->so_size += (uint64_t)got) > TP_PACKAGE_MAX_SO)
            rc = tp_error_set(err, TP_ELIMIT, "member '%s' is more than %u bytes", name,
                              TP_PACKAGE_MAX_SO);
        else if (r->sink >= 0 && write_all(r->sink, chunk, (size_t)got) < 0)
            rc = tp_error_set(err, TP_EIO, "writing the plugin: %s", strerror(errno));
        else
            tp_sha256_update(&h, chunk, (size_t)got);
    }
    free(chunk);
    if (rc == TP_OK) {
        tp_sha256_final_hex(&h, r->so_sha, err);
        snprintf(r->so_name, sizeof r->so_name, "%s", name);
    }
    return rc;
}

static int read_entry(pkg_read *r, struct archive_entry *e, tp_error *err)
{
    int kind = member_kind(r, e, err);
    if (kind < 0)
        return kind;
    const char *name = archive_entry_pathname(e);
    if (kind == M_MANIFEST)
        return read_small_member(r, name, TP_PACKAGE_MAX_MANIFEST, &r->manifest, &r->manifest_len,
                                 err);
    if (kind == M_SIG)
        return read_small_member(r, name, TP_PACKAGE_MAX_SIG, &r->sig, &r->sig_len, err);
    return read_so_member(r, name, err);
}

/* Read every member of the package at path into r. */
static int pkg_read_all(pkg_read *r, const char *path, tp_error *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "cannot open: %s",
                            strerror(errno));
    if (!(r->a = archive_read_new()))
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    archive_read_support_filter_gzip(r->a);
    archive_read_support_format_tar(r->a);
    int rc = TP_OK, ar;
    struct archive_entry *e;
    if (archive_read_open_filename(r->a, path, CHUNK) != ARCHIVE_OK)
        rc = tp_error_set(err, TP_EPARSE, "not a plugin package: not a tar archive (%s)",
                          archive_error_string(r->a));
    while (rc == TP_OK && (ar = archive_read_next_header(r->a, &e)) != ARCHIVE_EOF) {
        if (ar < ARCHIVE_WARN)
            rc = tp_error_set(err, TP_EPARSE, "not a plugin package: not a tar archive (%s)",
                              archive_error_string(r->a));
        else
            rc = read_entry(r, e, err);
    }
    archive_read_free(r->a);
    r->a = NULL;
    if (rc == TP_OK && (!r->manifest || !r->so_name[0]))
        rc = tp_error_set(err, TP_EPARSE, "not a plugin package: no %s member (" MEMBERS_HINT ")",
                          r->manifest ? "PLUGIN.so" : MANIFEST_NAME);
    return rc;
}

static void pkg_read_free(pkg_read *r)
{
    free(r->manifest);
    free(r->sig);
}

/* The checks of a package read whole: signed (and verified when keys are
 * given), a valid manifest that names the plugin member, its hash and size. */
static int pkg_check(const pkg_read *r, const tp_keyring *keys, tp_package_info *info,
                     tp_error *err)
{
    memset(info, 0, sizeof *info);
    if (!r->sig)
        return tp_error_set(err, TP_EPLUGIN,
                            "unsigned package (no manifest.sig member): refused; sign it with "
                            "tillpipe plugin pack --key KEYFILE");
    const char *kf = NULL;
    int rc = keys ? tp_keyring_verify(keys, r->sig, r->sig_len, r->manifest, r->manifest_len,
                                      info->key_id, &kf, err)
                  : tp_sig_key_id(r->sig, r->sig_len, info->key_id, err);
    if (rc == TP_EPARSE)
        tp_error_prefix(err, SIG_NAME ": ");
    if (rc == TP_OK && (rc = manifest_parse(r->manifest, r->manifest_len, info, err)) == TP_OK &&
        strcmp(info->file, r->so_name) != 0)
        rc = tp_error_set(err, TP_EPARSE,
                          "the plugin member is '%s' but manifest.json names '%s': not a plugin "
                          "package",
                          r->so_name, info->file);
    if (rc == TP_OK && (strcmp(info->sha256, r->so_sha) != 0 || info->size != r->so_size))
        rc = tp_error_set(err, TP_EPLUGIN,
                          "the plugin's sha256 differs from its signed manifest (tampered?): "
                          "%s is %s (%llu bytes), the manifest says %s (%llu bytes)",
                          r->so_name, r->so_sha, (unsigned long long)r->so_size, info->sha256,
                          (unsigned long long)info->size);
    info->verified = rc == TP_OK && keys;
    if (kf)
        snprintf(info->key_file, sizeof info->key_file, "%s", kf);
    return rc;
}

/* err (when not NULL) takes the local error, prefixed. */
static int give_error(tp_error *err, tp_error *e, int rc, const char *what, const char *path)
{
    if (rc < 0) {
        tp_error_prefix(e, "%s %s: ", what, path);
        if (err)
            *err = *e;
    }
    return rc;
}

int tp_package_verify(const char *pkg, const char *trusted_dir, tp_package_info *info,
                      tp_error *err)
{
    tp_error e = {0};
    tp_package_info local;
    pkg_read r = {.sink = -1};
    tp_keyring *keys = tp_keyring_load(trusted_dir, &e);
    int rc = keys ? pkg_read_all(&r, pkg, &e) : e.code;
    if (rc == TP_OK)
        rc = pkg_check(&r, keys, info ? info : &local, &e);
    pkg_read_free(&r);
    tp_keyring_destroy(keys);
    return give_error(err, &e, rc, "package", pkg);
}

/* ------------------------------------------------------------------ pack */

static int write_member(struct archive *a, const char *name, int perm, const void *data, size_t len,
                        tp_error *err)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, (mode_t)perm);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, 0, 0); /* no timestamps: same inputs, same bytes */
    int rc = archive_write_header(a, e) == ARCHIVE_OK ? TP_OK : TP_EIO;
    archive_entry_free(e);
    if (rc == TP_OK && data && len && archive_write_data(a, data, len) != (la_ssize_t)len)
        rc = TP_EIO;
    return rc == TP_OK
               ? TP_OK
               : tp_error_set(err, TP_EIO, "writing member %s: %s", name, archive_error_string(a));
}

/* The plugin's bytes from fd into the open member, checked against sha. */
static int write_so_data(struct archive *a, int fd, uint64_t size, const char *sha, tp_error *err)
{
    char *chunk = malloc(CHUNK);
    char got[TP_SHA256_HEX];
    uint64_t total = 0;
    tp_sha256 h;
    ssize_t n = 0;
    if (!chunk)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    tp_sha256_init(&h);
    int rc = TP_OK;
    while (rc == TP_OK && total < size && (n = read(fd, chunk, CHUNK)) > 0) {
        size_t k = (uint64_t)n > size - total ? (size_t)(size - total) : (size_t)n;
        tp_sha256_update(&h, chunk, k);
        total += k;
        if (archive_write_data(a, chunk, k) != (la_ssize_t)k)
            rc = tp_error_set(err, TP_EIO, "writing the package: %s", archive_error_string(a));
    }
    free(chunk);
    if (rc == TP_OK && n < 0)
        rc = tp_error_set(err, TP_EIO, "cannot read: %s", strerror(errno));
    tp_sha256_final_hex(&h, got, err);
    if (rc == TP_OK && (total != size || strcmp(got, sha) != 0))
        rc = tp_error_set(err, TP_EIO,
                          "the plugin changed while it was being packed: pack it "
                          "again once it is built");
    return rc;
}

/* The archive: manifest, signature, plugin. */
static int pack_write(FILE *f, const char *manifest, const char *sig, const char *file, int fd,
                      uint64_t size, const char *sha, tp_error *err)
{
    struct archive *a = archive_write_new();
    if (!a)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    archive_write_set_format_ustar(a);
    int rc = archive_write_open_FILE(a, f) == ARCHIVE_OK
                 ? TP_OK
                 : tp_error_set(err, TP_EIO, "%s", archive_error_string(a));
    if (rc == TP_OK)
        rc = write_member(a, MANIFEST_NAME, 0644, manifest, strlen(manifest), err);
    if (rc == TP_OK)
        rc = write_member(a, SIG_NAME, 0644, sig, strlen(sig), err);
    if (rc == TP_OK)
        rc = write_member(a, file, 0755, NULL, size, err);
    if (rc == TP_OK)
        rc = write_so_data(a, fd, size, sha, err);
    if (rc == TP_OK && archive_write_close(a) != ARCHIVE_OK)
        rc = tp_error_set(err, TP_EIO, "%s", archive_error_string(a));
    archive_write_free(a);
    return rc;
}

/* The plugin's file name, checked, and its size from fd. */
static int pack_source(const char *so_path, const tp_plugin *p, int fd, const char **file,
                       uint64_t *size, tp_error *err)
{
    struct stat st;
    *file = strrchr(so_path, '/') ? strrchr(so_path, '/') + 1 : so_path;
    if (!tp_package_name_ok(p->desc->name) || !tp_package_name_ok(p->desc->version))
        return tp_error_set(err, TP_EINVAL,
                            "its name \"%s\" or version \"%s\" cannot name an installed file "
                            "(1 to %d of A-Z a-z 0-9 . _ + -, a letter or digit first)",
                            p->desc->name, p->desc->version, TP_PACKAGE_NAME_MAX);
    if (!so_name_ok(*file))
        return tp_error_set(err, TP_EINVAL,
                            "the file name \"%s\" must be a plain NAME.so of A-Z a-z 0-9 . _ + -",
                            *file);
    if (fd < 0 || fstat(fd, &st) < 0)
        return tp_error_set(err, TP_EIO, "cannot open: %s", strerror(errno));
    if ((uint64_t)st.st_size > TP_PACKAGE_MAX_SO)
        return tp_error_set(err, TP_ELIMIT, "%lld bytes, more than the %u a package may hold",
                            (long long)st.st_size, TP_PACKAGE_MAX_SO);
    *size = (uint64_t)st.st_size;
    return TP_OK;
}

/* Pack a loaded plugin with a loaded key. */
static int pack_plugin(const char *so_path, const tp_plugin *p, const tp_signer *s, const char *out,
                       tp_package_info *info, tp_error *err)
{
    const char *file;
    uint64_t size = 0;
    char sig[256];
    int fd = open(so_path, O_RDONLY | O_CLOEXEC);
    int rc = pack_source(so_path, p, fd, &file, &size, err);
    char *manifest = rc == TP_OK ? manifest_build(p, file, size) : NULL;
    if (rc == TP_OK && !manifest)
        rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    if (rc == TP_OK)
        rc = tp_signer_sign(s, manifest, strlen(manifest), sig, sizeof sig, err);
    memset(info, 0, sizeof *info);
    if (rc == TP_OK && (rc = manifest_parse(manifest, strlen(manifest), info, err)) == TP_OK)
        snprintf(info->key_id, sizeof info->key_id, "%s", tp_signer_key_id(s));
    tp_outfile *o = rc == TP_OK ? tp_outfile_open(out, err) : NULL;
    if (rc == TP_OK && !o)
        rc = err ? err->code : TP_EIO;
    if (o) {
        rc = pack_write(tp_outfile_stream(o), manifest, sig, file, fd, size, p->sha256, err);
        if (rc == TP_OK)
            rc = tp_outfile_commit(o, err);
        else
            tp_outfile_abort(o);
    }
    free(manifest);
    if (fd >= 0)
        close(fd);
    return rc;
}

int tp_package_pack(const char *so_path, const char *keyfile, const char *out, tp_sandbox *sb,
                    tp_package_info *info, tp_error *err)
{
    tp_error e = {0};
    tp_package_info local;
    tp_signer *s = tp_signer_load(keyfile, &e);
    if (!s)
        return err ? (*err = e).code : e.code;
    tp_plugin *p = sb ? tp_plugin_describe(sb, so_path, &e) : tp_plugin_load(so_path, &e);
    int rc = p ? pack_plugin(so_path, p, s, out, info ? info : &local, &e) : e.code;
    tp_plugin_unload(p);
    tp_signer_destroy(s);
    if (rc < 0 && p)
        return give_error(err, &e, rc, "plugin", so_path);
    if (rc < 0 && err)
        *err = e; /* tp_plugin_load's message names the plugin already */
    return rc;
}

/* --------------------------------------------------------------- install */

/* One file on its way into the plugin folder: a temporary, then renamed. */
typedef struct staged {
    char tmp[PATH_MAX]; /* "" when none */
    int fd;             /* the open temporary, or -1 */
    int placed;         /* renamed to its name: no longer ours to remove */
} staged;

static int stage_open(staged *s, const char *dir, tp_error *err)
{
    snprintf(s->tmp, sizeof s->tmp, "%s/.tillpipe-install-XXXXXX", dir);
    if ((s->fd = mkostemp(s->tmp, O_CLOEXEC)) < 0) {
        s->tmp[0] = '\0';
        return tp_error_set(err, TP_EIO, "plugin folder %s: cannot create a file there: %s", dir,
                            strerror(errno));
    }
    return TP_OK;
}

/* Give the temporary its mode, make it durable, close it. */
static int stage_seal(staged *s, mode_t mode, tp_error *err)
{
    int ok = fchmod(s->fd, mode) == 0 && fsync(s->fd) == 0;
    int saved = errno;
    ok = close(s->fd) == 0 && ok;
    s->fd = -1;
    return ok ? TP_OK
              : tp_error_set(err, TP_EIO, "%s: cannot write: %s", s->tmp,
                             strerror(saved ? saved : errno));
}

static void stage_drop(staged *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    if (s->tmp[0] && !s->placed)
        unlink(s->tmp);
}

/* A temporary holding data (0644). */
static int stage_bytes(staged *s, const char *dir, const char *data, size_t len, tp_error *err)
{
    int rc = stage_open(s, dir, err);
    if (rc == TP_OK && write_all(s->fd, data, len) < 0)
        rc = tp_error_set(err, TP_EIO, "%s: cannot write: %s", s->tmp, strerror(errno));
    return rc == TP_OK ? stage_seal(s, 0644, err) : rc;
}

static int stage_place(staged *s, const char *dst, tp_error *err)
{
    if (rename(s->tmp, dst) < 0)
        return tp_error_set(err, TP_EIO, "cannot rename %s to %s: %s", s->tmp, dst,
                            strerror(errno));
    s->placed = 1;
    return TP_OK;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* 1 when the file at path holds exactly data. */
static int file_equals(const char *path, const char *data, size_t len)
{
    char *text = NULL;
    size_t n = 0;
    int same = tp__read_small(path, TP_PACKAGE_MAX_MANIFEST, &text, &n, NULL) == TP_OK &&
               n == len && memcmp(text, data, len) == 0;
    free(text);
    return same;
}

/* What is at dst already: 0 nothing (or to be replaced), 1 these very files,
 * < 0 a different plugin that may not be replaced. */
static int installed_already(const char *dst, const pkg_read *r, const tp_package_info *info,
                             int force, tp_error *err)
{
    char side[PATH_MAX + 32], sha[TP_SHA256_HEX] = "";
    struct stat st;
    if (lstat(dst, &st) < 0)
        return errno == ENOENT ? 0 : tp_error_set(err, TP_EIO, "%s: %s", dst, strerror(errno));
    int same = S_ISREG(st.st_mode) && tp_sha256_file(dst, sha, NULL, NULL) == TP_OK &&
               strcmp(sha, info->sha256) == 0;
    snprintf(side, sizeof side, "%s.manifest.json", dst);
    same = same && file_equals(side, r->manifest, r->manifest_len);
    snprintf(side, sizeof side, "%s.sig", dst);
    same = same && file_equals(side, r->sig, r->sig_len);
    if (same)
        return 1;
    if (force)
        return 0;
    return tp_error_set(err, TP_EINVAL,
                        "%s is installed already and differs from this package (sha256 %.16s "
                        "there, %.16s here, or other sidecars): remove it first (tillpipe plugin "
                        "remove %s@%s) or pass --force to replace it",
                        dst, sha[0] ? sha : "unknown", info->sha256, info->name, info->version);
}

/* The sidecars, then the plugin, under their names. */
static int install_place(const char *dir, const pkg_read *r, const tp_package_info *info,
                         staged *so, int force, char *path, size_t n, tp_error *err)
{
    char dst[PATH_MAX], man[PATH_MAX + 32], sig[PATH_MAX + 32];
    if ((size_t)snprintf(dst, sizeof dst, "%s/%s-%s.so", dir, info->name, info->version) >=
        sizeof dst)
        return tp_error_set(err, TP_EINVAL, "plugin folder %s: path too long", dir);
    snprintf(man, sizeof man, "%s.manifest.json", dst);
    snprintf(sig, sizeof sig, "%s.sig", dst);
    if (path && n)
        snprintf(path, n, "%s", dst);
    struct stat st;
    int existed = lstat(dst, &st) == 0;
    int rc = installed_already(dst, r, info, force, err);
    if (rc != 0)
        return rc;
    staged sm = {.fd = -1}, ss = {.fd = -1};
    rc = stage_bytes(&sm, dir, r->manifest, r->manifest_len, err);
    if (rc == TP_OK)
        rc = stage_bytes(&ss, dir, r->sig, r->sig_len, err);
    if (rc == TP_OK && (rc = stage_place(&sm, man, err)) == TP_OK &&
        (rc = stage_place(&ss, sig, err)) == TP_OK)
        rc = stage_place(so, dst, err);
    if (rc < 0 && !existed && sm.placed) { /* no plugin came: no sidecars of nothing */
        unlink(man);
        unlink(sig);
    }
    stage_drop(&sm);
    stage_drop(&ss);
    sync_dir(dir);
    return rc;
}

/* The host loads plugins of its ABI major and up to its minor. */
static int abi_check(const tp_package_info *info, tp_error *err)
{
    unsigned ma = 0, mi = 0;
    abi_parse(info->abi, &ma, &mi);
    if (ma == TP_SDK_ABI_MAJOR && mi <= TP_SDK_ABI_MINOR)
        return TP_OK;
    return tp_error_set(err, TP_EPLUGIN,
                        "%s %s is built for plugin ABI %s but this tillpipe loads ABI %d.0 to "
                        "%d.%d: rebuild it against this SDK, or install a tillpipe that loads it",
                        info->name, info->version, info->abi, TP_SDK_ABI_MAJOR, TP_SDK_ABI_MAJOR,
                        TP_SDK_ABI_MINOR);
}

static int install_run(const char *pkg, const tp_package_install_opts *o, staged *so, pkg_read *r,
                       tp_package_info *info, char *path, size_t n, tp_error *err)
{
    struct stat st;
    if (stat(o->plugin_dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return tp_error_set(err, TP_ENOTFOUND,
                            "plugin folder %s does not exist (create it, or give --plugins DIR)",
                            o->plugin_dir);
    tp_keyring *keys = NULL;
    if (o->trusted_dir && !(keys = tp_keyring_load(o->trusted_dir, err)))
        return err->code;
    int rc = stage_open(so, o->plugin_dir, err);
    r->sink = so->fd;
    if (rc == TP_OK)
        rc = pkg_read_all(r, pkg, err);
    if (rc == TP_OK)
        rc = pkg_check(r, keys, info, err);
    tp_keyring_destroy(keys);
    if (rc == TP_OK)
        rc = abi_check(info, err);
    if (rc == TP_OK)
        rc = stage_seal(so, 0755, err);
    if (rc == TP_OK)
        rc = install_place(o->plugin_dir, r, info, so, o->force, path, n, err);
    return rc;
}

int tp_package_install(const char *pkg, const tp_package_install_opts *o, tp_package_info *info,
                       char *path, size_t n, tp_error *err)
{
    tp_error e = {0};
    tp_package_info local;
    pkg_read r = {.sink = -1};
    staged so = {.fd = -1};
    int rc = o && o->plugin_dir ? install_run(pkg, o, &so, &r, info ? info : &local, path, n, &e)
                                : tp_error_set(&e, TP_EINVAL, "no plugin folder given");
    stage_drop(&so);
    pkg_read_free(&r);
    return give_error(err, &e, rc, "package", pkg);
}

/* ---------------------------------------------------------------- remove */

#define SIDE_MANIFEST ".manifest.json"
#define REMOVE_MAX 1024

/* The installed plugin file whose manifest sidecar is `entry`, into base,
 * when it is name (of version, when given): 1, else 0. */
static int remove_match(const char *dir, const char *entry, const char *name, const char *version,
                        char *base, size_t bn, tp_package_info *info)
{
    size_t el = strlen(entry), sl = strlen(".so" SIDE_MANIFEST);
    if (entry[0] == '.' || el <= sl || strcmp(entry + el - sl, ".so" SIDE_MANIFEST) != 0 ||
        el - strlen(SIDE_MANIFEST) >= bn)
        return 0;
    snprintf(base, bn, "%.*s", (int)(el - strlen(SIDE_MANIFEST)), entry);
    char path[PATH_MAX], want[2 * TP_PACKAGE_NAME_MAX + 8], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, entry);
    memset(info, 0, sizeof *info);
    int parsed = tp__read_small(path, TP_PACKAGE_MAX_MANIFEST, &text, &len, NULL) == TP_OK &&
                 manifest_parse(text, len, info, NULL) == TP_OK;
    free(text);
    if (!parsed) { /* a damaged manifest: only its exact file name matches */
        snprintf(want, sizeof want, "%s-%s.so", name, version ? version : "");
        snprintf(info->name, sizeof info->name, "%s", name);
        snprintf(info->version, sizeof info->version, "%s", version ? version : "");
        return version && strcmp(base, want) == 0;
    }
    snprintf(want, sizeof want, "%s-%s.so", info->name, info->version);
    return strcmp(info->name, name) == 0 && (!version || strcmp(info->version, version) == 0) &&
           strcmp(base, want) == 0;
}

/* Remove one installed version: the plugin, then its sidecars. */
static int remove_one(const char *dir, const char *base, tp_error *err)
{
    static const char *const suffix[] = {"", ".sig", SIDE_MANIFEST};
    for (int i = 0; i < 3; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s%s", dir, base, suffix[i]);
        if (unlink(path) < 0 && errno != ENOENT)
            return tp_error_set(err, TP_EIO, "cannot remove %s: %s", path, strerror(errno));
    }
    return TP_OK;
}

typedef struct removal {
    char base[160];
    char version[TP_PACKAGE_NAME_MAX + 1];
} removal;

static int cmp_removal(const void *a, const void *b)
{
    return strcmp(((const removal *)a)->base, ((const removal *)b)->base);
}

/* The installed versions to remove, sorted by file name. */
static int remove_list(const char *dir, const char *name, const char *version, removal *out,
                       size_t *n, tp_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "plugin folder %s: %s",
                            dir, strerror(errno));
    struct dirent *e;
    tp_package_info info;
    *n = 0;
    while ((e = readdir(d)) && *n < REMOVE_MAX)
        if (remove_match(dir, e->d_name, name, version, out[*n].base, sizeof out[*n].base, &info)) {
            snprintf(out[*n].version, sizeof out[*n].version, "%s", info.version);
            (*n)++;
        }
    closedir(d);
    qsort(out, *n, sizeof *out, cmp_removal);
    return TP_OK;
}

int tp_package_remove(const char *plugin_dir, const char *name, const char *version,
                      tp_package_removed_fn fn, void *ud, tp_error *err)
{
    removal *list = calloc(REMOVE_MAX, sizeof *list);
    size_t n = 0, done = 0;
    if (!list)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    int rc = remove_list(plugin_dir, name, version, list, &n, err);
    for (size_t i = 0; rc == TP_OK && i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", plugin_dir, list[i].base);
        if ((rc = remove_one(plugin_dir, list[i].base, err)) == TP_OK && fn)
            fn(ud, name, list[i].version, path);
        done += rc == TP_OK;
    }
    free(list);
    if (done)
        sync_dir(plugin_dir);
    if (rc == TP_OK && done == 0)
        rc = tp_error_set(err, TP_ENOTFOUND,
                          "no installed %s%s%s in %s (only plugins installed from a package can "
                          "be removed: tillpipe plugin list shows what is there)",
                          name, version ? "@" : "", version ? version : "", plugin_dir);
    return rc < 0 ? rc : (int)done;
}

/* ------------------------------------------------------------ load check */

/* A sidecar of so_path, read; a missing one is refused with `missing`. */
static int read_sidecar(const char *so_path, const char *suffix, size_t cap, const char *missing,
                        char **out, size_t *len, tp_error *err)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s%s", so_path, suffix) >= sizeof path)
        return tp_error_set(err, TP_EINVAL, "path too long");
    int rc = tp__read_small(path, cap, out, len, err);
    if (rc == TP_ENOTFOUND)
        rc = tp_error_set(err, TP_EPLUGIN, "%s", missing);
    return rc;
}

static int check_installed(const char *so_path, const char *sha256_hex, const char *name,
                           const char *version, const tp_keyring *keys, tp_error *err)
{
    char *sig = NULL, *man = NULL;
    size_t sl = 0, ml = 0;
    tp_package_info info;
    memset(&info, 0, sizeof info);
    int rc = read_sidecar(so_path, ".sig", TP_PACKAGE_MAX_SIG,
                          "no signature (install it from a signed package: tillpipe plugin "
                          "install PKG)",
                          &sig, &sl, err);
    if (rc == TP_OK)
        rc = read_sidecar(so_path, SIDE_MANIFEST, TP_PACKAGE_MAX_MANIFEST,
                          "no signed manifest (its .so.manifest.json sidecar is missing: install "
                          "it from its signed package: tillpipe plugin install PKG)",
                          &man, &ml, err);
    if (rc == TP_OK)
        rc = tp_keyring_verify(keys, sig, sl, man, ml, info.key_id, NULL, err);
    if (rc == TP_OK)
        rc = manifest_parse(man, ml, &info, err);
    if (rc == TP_OK && strcmp(info.sha256, sha256_hex) != 0)
        rc = tp_error_set(err, TP_EPLUGIN,
                          "the file's sha256 differs from its signed manifest (tampered?): the "
                          "file is %.64s, the manifest says %s; reinstall it from its package",
                          sha256_hex, info.sha256);
    if (rc == TP_OK &&
        ((name && strcmp(info.name, name) != 0) || (version && strcmp(info.version, version) != 0)))
        rc = tp_error_set(err, TP_EPLUGIN,
                          "the plugin is %s %s but its signed manifest is for %s %s; reinstall "
                          "it from its package",
                          name ? name : info.name, version ? version : info.version, info.name,
                          info.version);
    free(sig);
    free(man);
    return rc;
}

/* Every refusal is TP_EPLUGIN, "plugin SO_PATH: refused: ...". */
static int refused(tp_error *err, tp_error *e, int rc, const char *so_path)
{
    if (rc >= 0)
        return rc;
    tp_error_prefix(e, "plugin %s: refused: ", so_path);
    e->code = TP_EPLUGIN;
    if (err)
        *err = *e;
    return TP_EPLUGIN;
}

int tp_package_check_installed_keys(const char *so_path, const char *sha256_hex, const char *name,
                                    const char *version, const tp_keyring *keys, tp_error *err)
{
    tp_error e = {0};
    int rc = keys ? check_installed(so_path, sha256_hex, name, version, keys, &e)
                  : tp_error_set(&e, TP_EINVAL, "no trusted keys given");
    return refused(err, &e, rc, so_path);
}

int tp_package_check_installed(const char *so_path, const char *sha256_hex, const char *name,
                               const char *version, const char *trusted_dir, tp_error *err)
{
    tp_error e = {0};
    tp_keyring *keys = tp_keyring_load(trusted_dir, &e);
    int rc = keys ? check_installed(so_path, sha256_hex, name, version, keys, &e) : e.code;
    tp_keyring_destroy(keys);
    return refused(err, &e, rc, so_path);
}
