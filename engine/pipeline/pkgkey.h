/* pkgkey.h -- the ed25519 keys that sign plugin packages (libsodium), and the
 * folder of public keys an engine trusts.
 *
 * Key files are one text line each (docs/sdk.md, section 4):
 *
 *   KEYFILE       tillpipe-ed25519-secret <base64 of the 32-byte seed>
 *   KEYFILE.pub   tillpipe-ed25519-public <base64 of the 32-byte key> [comment]
 *
 * A signature is one line too, the package's manifest.sig member and an
 * installed plugin's NAME-VERSION.so.sig sidecar:
 *
 *   tillpipe-ed25519-signature <key id> <base64 of the 64-byte signature>
 *
 * A key id is the first 16 hex digits of the sha256 of the public key: it
 * says which key signed, so that a refusal can name it.  It is not trusted
 * by itself: a signature is checked with the trusted key of that id.
 *
 * The secret key is held only as long as a tp_signer lives, and wiped on
 * destroy; it is never logged.  A secret key file readable by group or
 * others is refused, as ssh refuses one.
 */
#ifndef TP_PKGKEY_H
#define TP_PKGKEY_H

#include <stddef.h>

#include "core/error.h"

#define TP_KEY_ID_HEX 17     /* 16 hex digits and the NUL */
#define TP_KEY_FILE_MAX 4096 /* bytes of a key or signature file, at most */
#define TP_KEYRING_MAX 256   /* public keys in a trusted folder, at most */

/* Write a new key pair: `keyfile` (the secret key, mode 0600) and
 * `keyfile`.pub (the public key, 0644, with `comment` after the key when not
 * NULL or empty; one line, at most 200 bytes).  Neither file may exist
 * already: nothing is overwritten.  The key id goes into key_id.  0, or < 0
 * with err set (TP_EINVAL: a file exists or a bad comment; TP_EIO); on
 * failure nothing is left behind. */
int tp_key_generate(const char *keyfile, const char *comment, char key_id[TP_KEY_ID_HEX],
                    tp_error *err);

/* ------------------------------------------------------------- signing */

typedef struct tp_signer tp_signer;

/* Read the secret key file `keyfile`.  A new signer (tp_signer_destroy), or
 * NULL with err set: TP_ENOTFOUND, TP_EINVAL (not a secret key file, or
 * readable by others), TP_EIO. */
tp_signer *tp_signer_load(const char *keyfile, tp_error *err);

/* Wipe the key and free; NULL is a no-op. */
void tp_signer_destroy(tp_signer *s);

/* The signer's key id (borrowed). */
const char *tp_signer_key_id(const tp_signer *s);

/* The signature line (with its newline) of `len` bytes at `msg` into line.
 * n must be at least 128.  0, or TP_EINVAL when line is too small. */
int tp_signer_sign(const tp_signer *s, const void *msg, size_t len, char *line, size_t n,
                   tp_error *err);

/* The key id a signature line names, into key_id.  0, or TP_EPARSE when the
 * line is not a signature line. */
int tp_sig_key_id(const char *line, size_t len, char key_id[TP_KEY_ID_HEX], tp_error *err);

/* ---------------------------------------------------------- trusted keys */

typedef struct tp_keyring tp_keyring;

/* Every *.pub file of `dir` (sorted by name; hidden files skipped).  A new
 * keyring (tp_keyring_destroy), or NULL with err set: TP_ENOTFOUND when the
 * folder does not exist, TP_EINVAL when it is NULL or "", holds no *.pub file
 * or one that is not a public key file (named), TP_ELIMIT past
 * TP_KEYRING_MAX keys. */
tp_keyring *tp_keyring_load(const char *dir, tp_error *err);

void tp_keyring_destroy(tp_keyring *k);

/* The folder it was read from (borrowed) and how many keys it holds. */
const char *tp_keyring_dir(const tp_keyring *k);
size_t tp_keyring_count(const tp_keyring *k);

/* Check the signature line `sig` over `len` bytes at `msg`.  0 when a key of
 * the keyring signed it: its id into key_id and, when key_file is not NULL,
 * the file it came from (borrowed) into *key_file.  Otherwise TP_EPARSE (not
 * a signature line) or TP_EPLUGIN: "signed by key K which is not in DIR", or
 * "the signature by key K (FILE) does not match the manifest (tampered?)" --
 * only manifests are signed.  key_id is set whenever the line names a key.
 * Callers prefix what was checked. */
int tp_keyring_verify(const tp_keyring *k, const char *sig, size_t siglen, const void *msg,
                      size_t len, char key_id[TP_KEY_ID_HEX], const char **key_file, tp_error *err);

#endif
