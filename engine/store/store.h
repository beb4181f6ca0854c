/* store.h -- where raw report files are kept: one interface, two backends.
 *
 *   fs  a directory (the default): objects at ROOT/<key>, written to a
 *       temporary file in the same directory and renamed into place -- a
 *       reader sees the whole object or none; tp_store_sync makes a batch of
 *       puts durable (fdatasync of each, fsync of each folder once).
 *   s3  an S3-compatible server through libs3 (MinIO, Ceph, AWS, s3rver):
 *       endpoint, bucket, path-style addressing, http or https; keys from
 *       the configuration or $TILLPIPE_S3_ACCESS_KEY / $TILLPIPE_S3_SECRET_KEY
 *       (falling back to $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY).
 *
 * Keys are content-addressed (tp_store_key: "raw/ab/<sha256>"), so putting a
 * key that exists already stores nothing: a re-sent identical file is kept
 * once.  A store handle is shared by all of a process's threads.  Messages
 * never include the secret key.
 */
#ifndef TP_STORE_H
#define TP_STORE_H

#include <stdint.h>

#include "core/error.h"

#define TP_STORE_KEY_MAX 128

typedef struct tp_store tp_store;

typedef struct tp_store_config {
    const char *kind;       /* "fs" or "s3" */
    const char *root;       /* fs: the directory (created when missing) */
    const char *endpoint;   /* s3: host[:port] */
    const char *bucket;     /* s3 */
    const char *region;     /* s3: NULL = "us-east-1" */
    const char *access_key; /* s3: NULL = from the environment */
    const char *secret_key; /* s3: NULL = from the environment */
    int https;              /* s3: 1 = https, 0 = http */
    int timeout_ms;         /* s3: per request, 0 = 30000 */
} tp_store_config;

/* Parse a store address: "fs:/path", a plain path, or
 * "s3://bucket?endpoint=host:port[&https=0|1][&region=R]".  Strings in *cfg
 * point into `buf` (which gets a copy of `spec`). */
int tp_store_config_parse(const char *spec, char *buf, size_t bufsize, tp_store_config *cfg,
                          tp_error *err);

/* The store from --store, else $TILLPIPE_STORE, else fs at
 * $TILLPIPE_STORE_DIR or ./tillpipe-store. */
const char *tp_store_spec(const char *opt);

/* Open a store.  Returns 0 with *out, or < 0 with err set (a bad
 * configuration, an fs root that cannot be created). */
int tp_store_open(const tp_store_config *cfg, tp_store **out, tp_error *err);
void tp_store_close(tp_store *s);

/* "fs" or "s3". */
const char *tp_store_kind(const tp_store *s);

/* The content key of a file with this sha256 (64 hex characters). */
void tp_store_key(const char *sha256_hex, char key[TP_STORE_KEY_MAX]);

/* Store the local file `path` (of `size` bytes) under `key`.  *existed (may
 * be NULL) is set when the key was there already and nothing was written.
 * Atomic: on error nothing is left under the key and no temporary remains.
 * Durable once tp_store_sync returns (s3: at once). */
int tp_store_put_file(tp_store *s, const char *key, const char *path, uint64_t size, int *existed,
                      tp_error *err);

/* tp_store_put_file for a file the caller owns and will not change again
 * (a download in a job's work folder): the fs backend hard-links it into
 * place when both are on one file system instead of copying it. */
int tp_store_put_owned(tp_store *s, const char *key, const char *path, uint64_t size, int *existed,
                       tp_error *err);

/* Copy the object to the local file `path` (written to a temporary, then
 * renamed).  TP_ENOTFOUND when there is no such key. */
int tp_store_get_file(tp_store *s, const char *key, const char *path, tp_error *err);

/* Stream the object to `fn` in chunks (return < 0 from fn to stop; that
 * value is returned).  TP_ENOTFOUND when there is no such key. */
typedef int (*tp_store_chunk_fn)(void *ud, const void *data, size_t len);
int tp_store_read(tp_store *s, const char *key, tp_store_chunk_fn fn, void *ud, tp_error *err);

/* *exists and (when it exists and size is not NULL) *size. */
int tp_store_stat(tp_store *s, const char *key, int *exists, uint64_t *size, tp_error *err);

/* Remove the object; removing a missing key is not an error. */
int tp_store_delete(tp_store *s, const char *key, tp_error *err);

/* Make the objects put under `keys` durable (fs: fdatasync each, fsync
 * their folders; s3: nothing to do).  Call it before recording the keys
 * anywhere. */
int tp_store_sync(tp_store *s, const char *const *keys, size_t n, tp_error *err);

/* A cheap round trip to the backend (readiness): 0 or < 0 with err. */
int tp_store_check(tp_store *s, tp_error *err);

/* An open read-only descriptor on the object: the object itself for an fs
 * store, else a temporary copy already unlinked (the object is never held
 * in memory whole).  -1 with err set. */
int tp_store_open_fd(tp_store *s, const char *key, tp_error *err);

/* One entry of a listing: a key and its size in bytes. */
typedef int (*tp_store_list_fn)(void *ud, const char *key, uint64_t size);

/* Every object whose key starts with `prefix` (e.g. "raw/"), in bytewise
 * key order -- for an fs store the temporaries of puts in progress or left
 * by a crash too (tp_store_temp_pid says which).  fn is called once per
 * entry; a return < 0 from fn stops the listing and is returned.  Streams:
 * an fs store holds one folder's names at a time, s3 one page of keys. */
int tp_store_list(tp_store *s, const char *prefix, tp_store_list_fn fn, void *ud, tp_error *err);

/* The pid of the process that made the temporary named by `key` (a last
 * segment "<name>.tmp-<pid>-<n>" or ".tmp-<pid>-<n>-<name>"), else 0. */
long tp_store_temp_pid(const char *key);

/* fs: remove the temporaries under raw/ whose owner process is gone (a
 * worker killed between writing and renaming), keeping those of live
 * processes; *removed and *kept (may be NULL) count them.  s3 has no
 * temporaries (an object is replaced whole): nothing to do.  The owner is
 * looked for on this machine: an fs store shared by several hosts is
 * swept from one of them only when the others' workers are stopped. */
int tp_store_sweep(tp_store *s, int *removed, int *kept, tp_error *err);

/* fs only: the object's local path (for reading in place), NULL for s3. */
const char *tp_store_local_path(const tp_store *s, const char *key, char *buf, size_t bufsize);

#endif
