/* package.h -- signed plugin packages: pack, verify, install and remove, and
 * the check the engine makes before it loads an installed plugin.
 *
 * A package is one uncompressed ustar archive (a gzip-compressed one is read
 * as well) of exactly three regular members, flat, in this order when
 * tillpipe writes it:
 *
 *   manifest.json   what the plugin is (jansson; docs/sdk.md, section 4): the
 *                   format, name, version, ABI, license, types, branches,
 *                   the plugin's file name, size and sha256, and what built
 *                   the package -- no timestamps: the same plugin and key
 *                   give the same package, byte for byte
 *   manifest.sig    an ed25519 signature over the exact bytes of
 *                   manifest.json, with the signer's key id (pkgkey.h)
 *   NAME.so         the plugin, as the manifest's "file" names it
 *
 * The signature covers the manifest and the manifest covers the plugin (its
 * sha256 and size): a change to either is found.  Anything else -- another
 * or a missing member, a folder, a link, a path with '/' or '..', a member
 * over its size cap, a second copy of a member -- rejects the package whole.
 *
 * An installed plugin is three files in the plugin folder, so that versions
 * sit side by side and a load can be checked without the package:
 *
 *   NAME-VERSION.so                 the plugin (mode 0755)
 *   NAME-VERSION.so.manifest.json   manifest.json, byte for byte (0644)
 *   NAME-VERSION.so.sig             manifest.sig, byte for byte (0644)
 *
 * each written to a temporary in the folder, fsynced and renamed into place.
 * Installing never runs the plugin's code; packing does, to read its
 * descriptor (in a helper process unless tp_package_pack gets no sandbox).
 */
#ifndef TP_PACKAGE_H
#define TP_PACKAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/sha.h"
#include "pkgkey.h"
#include "plugin.h"

#define TP_PACKAGE_FORMAT "tillpipe-plugin-package/1"
#define TP_PACKAGE_MAX_SO (64u << 20)       /* bytes of the plugin member, at most */
#define TP_PACKAGE_MAX_MANIFEST (64u << 10) /* bytes of manifest.json, at most */
#define TP_PACKAGE_MAX_SIG 1024u            /* bytes of manifest.sig, at most */
#define TP_PACKAGE_NAME_MAX 64              /* a name or version: [A-Za-z0-9._+-], alnum first */

/* What a package holds, as its manifest says (after the checks). */
typedef struct tp_package_info {
    char name[TP_PACKAGE_NAME_MAX + 1];
    char version[TP_PACKAGE_NAME_MAX + 1];
    char abi[16];       /* "MAJOR.MINOR" the plugin was built with */
    char file[128];     /* the plugin member's file name */
    char types[256];    /* "rd5000, rd5800" */
    char branches[256]; /* "BETA, BPAG", or "generic" */
    char sha256[TP_SHA256_HEX];
    uint64_t size;
    char key_id[TP_KEY_ID_HEX]; /* the key the signature names ("" when unsigned) */
    int verified;               /* 1: that signature was checked with a trusted key */
    char key_file[256];         /* the trusted key file that checked it, when verified */
} tp_package_info;

/* Pack the plugin `so_path` into the package `out` (a result file as
 * io/fsutil.h says: written to a temporary and renamed, "-" is standard
 * output), signed with the secret key file `keyfile`.  The plugin's
 * descriptor is read in a helper of `sb` (its code never runs here), or
 * with sb NULL in this process.  0 with info filled (may be NULL), or < 0
 * with err set; on failure `out` is left as it was. */
int tp_package_pack(const char *so_path, const char *keyfile, const char *out, tp_sandbox *sb,
                    tp_package_info *info, tp_error *err);

/* Check the package `pkg`: its structure, its signature with the keys of
 * `trusted_dir` (*.pub), and the plugin's sha256 and size against the
 * manifest.  0 with info filled (may be NULL), or < 0 with err set, the
 * message starting "package PKG: ": TP_EPARSE (not a package: not an
 * archive, members wrong), TP_ELIMIT (a member over its cap), TP_EPLUGIN
 * (unsigned, signed by an untrusted key, tampered), or the keyring's error
 * (no or bad trusted keys folder). */
int tp_package_verify(const char *pkg, const char *trusted_dir, tp_package_info *info,
                      tp_error *err);

typedef struct tp_package_install_opts {
    const char *plugin_dir;  /* where to install; must exist */
    const char *trusted_dir; /* check the signature with these keys; NULL: the
                                signature must be there but is not checked
                                here (the engine checks it at load) */
    int force;               /* replace a different NAME-VERSION.so */
} tp_package_install_opts;

/* Install the package `pkg` as its three files (above).  The plugin's sha256
 * and size are always checked against the manifest, the manifest's ABI
 * against this host's, and an unsigned package is refused.  The installed
 * plugin's path goes into path (n bytes).  0 when installed, 1 when the very
 * same files were installed already (nothing written), < 0 with err set:
 * as tp_package_verify, TP_EINVAL when a different NAME-VERSION.so is there
 * and !force, TP_EIO.  On failure nothing new is left in the folder. */
int tp_package_install(const char *pkg, const tp_package_install_opts *o, tp_package_info *info,
                       char *path, size_t n, tp_error *err);

/* Called for each installed version removed. */
typedef void (*tp_package_removed_fn)(void *ud, const char *name, const char *version,
                                      const char *so_path);

/* Remove the installed plugin `name` of `version` (NULL: every installed
 * version) from plugin_dir, with its sidecars: the plugin first, so that no
 * plugin is ever left without them.  Only plugins installed from a package
 * (with a NAME-VERSION.so.manifest.json naming them) are removed.  Returns
 * the number of versions removed (> 0), or < 0 with err set: TP_ENOTFOUND
 * when nothing matches, TP_EIO. */
int tp_package_remove(const char *plugin_dir, const char *name, const char *version,
                      tp_package_removed_fn fn, void *ud, tp_error *err);

/* The load-time check: 0 when `so_path` has both sidecars, the signature
 * over the sidecar manifest verifies with a key of `trusted_dir`, and the
 * manifest's sha256, name and version are `sha256_hex` (what the engine
 * hashed from the file it loads), `name` and `version`.  Otherwise
 * TP_EPLUGIN with a message "plugin SO_PATH: refused: ..." saying why and
 * what to do (no signature; signed by key K which is not in DIR; the
 * signature does not match; the file's sha256 differs from its signed
 * manifest; another name or version), or the keyring's error.
 *
 * name and version may be NULL: they are then not compared.  That is the
 * check to make before dlopen, which runs a plugin's constructors: open the
 * file, hash it through that file descriptor, check, dlopen the same open
 * file (/proc/self/fd/N), then compare the plugin descriptor's name and
 * version (call again with them and the same sha256). */
int tp_package_check_installed(const char *so_path, const char *sha256_hex, const char *name,
                               const char *version, const char *trusted_dir, tp_error *err);

/* The same with keys already loaded (a registry checking many plugins). */
int tp_package_check_installed_keys(const char *so_path, const char *sha256_hex, const char *name,
                                    const char *version, const tp_keyring *keys, tp_error *err);

/* 1 when s may be a package name or version: 1 to TP_PACKAGE_NAME_MAX of
 * [A-Za-z0-9._+-], the first a letter or digit. */
int tp_package_name_ok(const char *s);

#endif
