/* pkgkey.c -- see pkgkey.h. */
#include "pkgkey.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/sha.h"
#include "package_int.h"

#define SECRET_TAG "tillpipe-ed25519-secret "
#define PUBLIC_TAG "tillpipe-ed25519-public "
#define SIG_TAG "tillpipe-ed25519-signature "
#define COMMENT_MAX 200

/* ------------------------------------------------------------ helpers */

int tp__read_small(const char *path, size_t cap, char **out, size_t *len, tp_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: cannot open: %s",
                            path, strerror(errno));
    struct stat st;
    int rc = TP_OK;
    if (fstat(fd, &st) < 0)
        rc = tp_error_set(err, TP_EIO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = tp_error_set(err, TP_EINVAL, "%s: not a regular file", path);
    else if ((uint64_t)st.st_size > cap)
        rc = tp_error_set(err, TP_ELIMIT,
                          "%s: %lld bytes, more than the %zu a file of its kind "
                          "may have",
                          path, (long long)st.st_size, cap);
    char *buf = rc == TP_OK ? malloc(cap + 1) : NULL;
    if (rc == TP_OK && !buf)
        rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    size_t n = 0;
    while (rc == TP_OK) {
        ssize_t r = read(fd, buf + n, cap + 1 - n);
        if (r < 0 && errno != EINTR)
            rc = tp_error_set(err, TP_EIO, "%s: cannot read: %s", path, strerror(errno));
        if (r == 0)
            break;
        n += r > 0 ? (size_t)r : 0;
        if (n > cap) /* it grew since fstat */
            rc = tp_error_set(err, TP_ELIMIT, "%s: more than %zu bytes", path, cap);
    }
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return TP_OK;
}

static int sodium_ready(tp_error *err)
{
    if (sodium_init() < 0)
        return tp_error_set(err, TP_EIO, "libsodium could not be initialised");
    return TP_OK;
}

/* The id of a public key: the first 16 hex digits of its sha256. */
static void key_id_of(const unsigned char pk[crypto_sign_PUBLICKEYBYTES], char id[TP_KEY_ID_HEX])
{
    char hex[TP_SHA256_HEX];
    tp_sha256_hex(pk, crypto_sign_PUBLICKEYBYTES, hex, NULL);
    memcpy(id, hex, TP_KEY_ID_HEX - 1);
    id[TP_KEY_ID_HEX - 1] = '\0';
}

/* Decode exactly `want` bytes of base64 from s[0..len). */
static int b64_exact(const char *s, size_t len, unsigned char *out, size_t want)
{
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, want, s, len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        got != want || end != s + len)
        return -1;
    return 0;
}

/* The length of a one-line text without its final newline; SIZE_MAX when
 * it has another line break or a NUL. */
static size_t one_line(const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '\n')
        len--;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || s[i] == '\r' || s[i] == '\0')
            return SIZE_MAX;
    return len;
}

/* The base64 field after `tag`: its start and length (up to a space or the
 * line's end).  -1 when the line does not start with the tag. */
static int tagged_field(const char *s, size_t len, const char *tag, const char **f, size_t *flen)
{
    size_t tl = strlen(tag);
    if (len == SIZE_MAX || len < tl || memcmp(s, tag, tl) != 0)
        return -1;
    *f = s + tl;
    const char *sp = memchr(*f, ' ', len - tl);
    *flen = sp ? (size_t)(sp - *f) : len - tl;
    return 0;
}

/* Create `path` (which must not exist) with `mode` and write `text`,
 * durably.  On failure the file is removed. */
static int write_new(const char *path, mode_t mode, const char *text, tp_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST)
        return tp_error_set(err, TP_EINVAL,
                            "%s exists already: keygen never overwrites a key (choose another "
                            "name, or remove the old key yourself if it is no longer used)",
                            path);
    if (fd < 0)
        return tp_error_set(err, TP_EIO, "%s: cannot create: %s", path, strerror(errno));
    size_t n = strlen(text);
    ssize_t w = fchmod(fd, mode) == 0 ? write(fd, text, n) : -1;
    int rc = TP_OK;
    if (w != (ssize_t)n || fsync(fd) < 0)
        rc = tp_error_set(err, TP_EIO, "%s: cannot write: %s", path,
                          w >= 0 && w != (ssize_t)n ? "short write" : strerror(errno));
    if (close(fd) < 0 && rc == TP_OK)
        rc = tp_error_set(err, TP_EIO, "%s: cannot write: %s", path, strerror(errno));
    if (rc < 0)
        unlink(path);
    return rc;
}

/* ------------------------------------------------------------- keygen */

static int comment_ok(const char *c, tp_error *err)
{
    size_t n = c ? strlen(c) : 0;
    if (n > COMMENT_MAX)
        return tp_error_set(err, TP_EINVAL, "key comment too long (%zu bytes; at most %d)", n,
                            COMMENT_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
            return tp_error_set(err, TP_EINVAL,
                                "key comment has a control character: give one line of text");
    return TP_OK;
}

int tp_key_generate(const char *keyfile, const char *comment, char key_id[TP_KEY_ID_HEX],
                    tp_error *err)
{
    char pubpath[PATH_MAX];
    int rc = sodium_ready(err);
    if (rc == TP_OK)
        rc = comment_ok(comment, err);
    if (rc < 0)
        return rc;
    if ((size_t)snprintf(pubpath, sizeof pubpath, "%s.pub", keyfile) >= sizeof pubpath)
        return tp_error_set(err, TP_EINVAL, "%s: file name too long", keyfile);
    struct stat st;
    if (lstat(pubpath, &st) == 0 || lstat(keyfile, &st) == 0)
        return tp_error_set(err, TP_EINVAL,
                            "%s exists already: keygen never overwrites a key (choose another "
                            "name, or remove the old key yourself if it is no longer used)",
                            lstat(keyfile, &st) == 0 ? keyfile : pubpath);
    unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES],
        sk[crypto_sign_SECRETKEYBYTES];
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    char line[512];
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_bin2base64(b64, sizeof b64, seed, sizeof seed, sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, sizeof line, SECRET_TAG "%s\n", b64);
    rc = write_new(keyfile, 0600, line, err);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(b64, sizeof b64);
    sodium_memzero(line, sizeof line);
    if (rc < 0)
        return rc;
    sodium_bin2base64(b64, sizeof b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, sizeof line, PUBLIC_TAG "%s%s%s\n", b64, comment && *comment ? " " : "",
             comment ? comment : "");
    if ((rc = write_new(pubpath, 0644, line, err)) < 0) {
        unlink(keyfile);
        return rc;
    }
    key_id_of(pk, key_id);
    return TP_OK;
}

/* ------------------------------------------------------------- signing */

struct tp_signer {
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char id[TP_KEY_ID_HEX];
};

/* The seed of a secret key file's text, into seed. */
static int parse_secret(const char *path, const char *text, size_t len,
                        unsigned char seed[crypto_sign_SEEDBYTES], tp_error *err)
{
    const char *f;
    size_t flen;
    size_t n = one_line(text, len);
    if (tagged_field(text, n, SECRET_TAG, &f, &flen) < 0 || f + flen != text + n ||
        b64_exact(f, flen, seed, crypto_sign_SEEDBYTES) < 0)
        return tp_error_set(err, TP_EINVAL,
                            "%s: not a tillpipe secret key file (one line '" SECRET_TAG
                            "<base64>', as `tillpipe plugin keygen` writes)",
                            path);
    return TP_OK;
}

tp_signer *tp_signer_load(const char *keyfile, tp_error *err)
{
    struct stat st;
    if (sodium_ready(err) < 0)
        return NULL;
    if (stat(keyfile, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077)) {
        tp_error_set(err, TP_EINVAL,
                     "%s: the secret key is readable by others (mode %04o): run chmod 600 %s "
                     "(and consider it leaked if others could read it)",
                     keyfile, (unsigned)(st.st_mode & 07777), keyfile);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    if (tp__read_small(keyfile, TP_KEY_FILE_MAX, &text, &len, err) < 0)
        return NULL;
    unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    int rc = parse_secret(keyfile, text, len, seed, err);
    sodium_memzero(text, len);
    free(text);
    tp_signer *s = rc == TP_OK ? sodium_malloc(sizeof *s) : NULL;
    if (rc == TP_OK && !s)
        tp_error_set(err, TP_ENOMEM, "out of memory");
    if (s) {
        crypto_sign_seed_keypair(pk, s->sk, seed);
        key_id_of(pk, s->id);
    }
    sodium_memzero(seed, sizeof seed);
    return s;
}

void tp_signer_destroy(tp_signer *s)
{
    if (s)
        sodium_free(s); /* wipes it */
}

const char *tp_signer_key_id(const tp_signer *s)
{
    return s->id;
}

int tp_signer_sign(const tp_signer *s, const void *msg, size_t len, char *line, size_t n,
                   tp_error *err)
{
    unsigned char sig[crypto_sign_BYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    crypto_sign_detached(sig, NULL, msg, len, s->sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    if ((size_t)snprintf(line, n, SIG_TAG "%s %s\n", s->id, b64) >= n)
        return tp_error_set(err, TP_EINVAL, "signature buffer too small");
    return TP_OK;
}

/* A signature line's key id and signature. */
static int parse_sig(const char *line, size_t len, char id[TP_KEY_ID_HEX],
                     unsigned char sig[crypto_sign_BYTES], tp_error *err)
{
    const char *f, *b;
    size_t flen, blen, n = one_line(line, len);
    int ok = tagged_field(line, n, SIG_TAG, &f, &flen) == 0 && flen == TP_KEY_ID_HEX - 1 &&
             f + flen < line + n;
    for (size_t i = 0; ok && i < flen; i++)
        ok = (f[i] >= '0' && f[i] <= '9') || (f[i] >= 'a' && f[i] <= 'f');
    if (ok) {
        b = f + flen + 1;
        blen = (size_t)(line + n - b);
        ok = b64_exact(b, blen, sig, crypto_sign_BYTES) == 0;
    }
    if (!ok)
        return tp_error_set(err, TP_EPARSE,
                            "not a signature (expected one line '" SIG_TAG
                            "<key id> <base64>', as `tillpipe plugin pack` writes)");
    memcpy(id, f, flen);
    id[flen] = '\0';
    return TP_OK;
}

int tp_sig_key_id(const char *line, size_t len, char key_id[TP_KEY_ID_HEX], tp_error *err)
{
    unsigned char sig[crypto_sign_BYTES];
    return parse_sig(line, len, key_id, sig, err);
}

/* ---------------------------------------------------------- trusted keys */

typedef struct trusted_key {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    char id[TP_KEY_ID_HEX];
    char *file;
} trusted_key;

struct tp_keyring {
    char *dir;
    size_t n;
    trusted_key keys[TP_KEYRING_MAX];
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.pub names of dir, sorted, into names (caller frees each). */
static int list_pub(const char *dir, char **names, size_t *n, tp_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EINVAL,
                            "trusted keys folder %s: %s (give a folder holding the signers' "
                            "*.pub files)",
                            dir, strerror(errno));
    struct dirent *e;
    int rc = TP_OK;
    *n = 0;
    while (rc == TP_OK && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".pub") != 0)
            continue;
        if (*n == TP_KEYRING_MAX)
            rc = tp_error_set(err, TP_ELIMIT, "trusted keys folder %s: more than %d *.pub files",
                              dir, TP_KEYRING_MAX);
        else if (!(names[*n] = strdup(e->d_name)))
            rc = tp_error_set(err, TP_ENOMEM, "out of memory");
        else
            (*n)++;
    }
    closedir(d);
    if (rc == TP_OK && *n == 0)
        rc = tp_error_set(err, TP_EINVAL,
                          "no trusted keys in %s (no *.pub file): copy there the .pub file of "
                          "each signer you trust",
                          dir);
    qsort(names, *n, sizeof *names, cmp_names);
    return rc;
}

/* One public key file into k. */
static int load_pub(const char *path, trusted_key *k, tp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = tp__read_small(path, TP_KEY_FILE_MAX, &text, &len, err);
    if (rc < 0)
        return rc;
    const char *f;
    size_t flen;
    if (tagged_field(text, one_line(text, len), PUBLIC_TAG, &f, &flen) < 0 ||
        b64_exact(f, flen, k->pk, sizeof k->pk) < 0)
        rc = tp_error_set(err, TP_EINVAL,
                          "%s: not a tillpipe public key file (one line '" PUBLIC_TAG
                          "<base64> [comment]', as `tillpipe plugin keygen` writes); remove it "
                          "from the trusted keys folder or replace it",
                          path);
    free(text);
    if (rc == TP_OK && !(k->file = strdup(path)))
        rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    if (rc == TP_OK)
        key_id_of(k->pk, k->id);
    return rc;
}

tp_keyring *tp_keyring_load(const char *dir, tp_error *err)
{
    if (!dir || !*dir) {
        tp_error_set(err, TP_EINVAL, "no trusted keys folder given (--trusted-keys DIR)");
        return NULL;
    }
    if (sodium_ready(err) < 0)
        return NULL;
    tp_keyring *k = calloc(1, sizeof *k);
    char **names = calloc(TP_KEYRING_MAX, sizeof *names);
    size_t n = 0;
    int rc = k && names ? TP_OK : tp_error_set(err, TP_ENOMEM, "out of memory");
    if (rc == TP_OK && !(k->dir = strdup(dir)))
        rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    if (rc == TP_OK)
        rc = list_pub(dir, names, &n, err);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        if (rc == TP_OK &&
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path)
            rc = tp_error_set(err, TP_EINVAL, "%s/%s: path too long", dir, names[i]);
        if (rc == TP_OK && (rc = load_pub(path, &k->keys[k->n], err)) == TP_OK)
            k->n++;
        free(names[i]);
    }
    free(names);
    if (rc < 0) {
        tp_keyring_destroy(k);
        return NULL;
    }
    return k;
}

void tp_keyring_destroy(tp_keyring *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        free(k->keys[i].file);
    free(k->dir);
    free(k);
}

const char *tp_keyring_dir(const tp_keyring *k)
{
    return k->dir;
}

size_t tp_keyring_count(const tp_keyring *k)
{
    return k->n;
}

int tp_keyring_verify(const tp_keyring *k, const char *sig, size_t siglen, const void *msg,
                      size_t len, char key_id[TP_KEY_ID_HEX], const char **key_file, tp_error *err)
{
    unsigned char s[crypto_sign_BYTES];
    int rc = parse_sig(sig, siglen, key_id, s, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < k->n; i++) {
        if (strcmp(k->keys[i].id, key_id) != 0)
            continue;
        if (crypto_sign_verify_detached(s, msg, len, k->keys[i].pk) != 0)
            return tp_error_set(err, TP_EPLUGIN,
                                "the signature by key %s (%s) does not match the manifest: it "
                                "was changed after signing (tampered?)",
                                key_id, k->keys[i].file);
        if (key_file)
            *key_file = k->keys[i].file;
        return TP_OK;
    }
    return tp_error_set(err, TP_EPLUGIN,
                        "signed by key %s which is not in %s (if you trust that signer, copy "
                        "their .pub file there)",
                        key_id, k->dir);
}
