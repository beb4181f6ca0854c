/* store_int.h -- the raw-file store's backend interface: what a backend
 * (fs.c, s3.c) implements and store.c dispatches to.  Private to store/:
 * callers use store.h. */
#ifndef TP_STORE_INT_H
#define TP_STORE_INT_H

#include "store.h"

typedef struct tp_store_ops {
    const char *kind;
    int (*put_file)(tp_store *s, const char *key, const char *path, uint64_t size, int *existed,
                    tp_error *err);
    int (*get_file)(tp_store *s, const char *key, const char *path, tp_error *err);
    int (*read)(tp_store *s, const char *key, tp_store_chunk_fn fn, void *ud, tp_error *err);
    int (*stat)(tp_store *s, const char *key, int *exists, uint64_t *size, tp_error *err);
    int (*del)(tp_store *s, const char *key, tp_error *err);
    int (*check)(tp_store *s, tp_error *err);
    void (*close)(tp_store *s);
    int (*sync)(tp_store *s, const char *const *keys, size_t n,
                tp_error *err); /* NULL: puts are durable at once */
    int (*list)(tp_store *s, const char *prefix, tp_store_list_fn fn, void *ud, tp_error *err);
} tp_store_ops;

struct tp_store {
    const tp_store_ops *ops;
    void *impl; /* the backend's state */
};

/* Backend constructors (fs.c, s3.c). */
int tp_store_fs_open(const tp_store_config *cfg, tp_store *s, tp_error *err);
int tp_store_s3_open(const tp_store_config *cfg, tp_store *s, tp_error *err);
int tp_store_fs_put_owned(tp_store *s, const char *key, const char *path, int *existed,
                          tp_error *err);

#endif
