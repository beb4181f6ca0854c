/* cache.c -- see cache.h. */
#include "cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hash.h"
#include "db/db.h"

#define SLOTS 256
#define MAX_ENTRY (4u << 20) /* larger answers are not kept */

typedef struct entry {
    uint64_t hash, gen;
    char *key, *body;
    size_t len;
} entry;

struct tp_cache {
    char *db_url;
    pthread_t listener;
    atomic_int stop;
    atomic_uint_fast64_t gen; /* 0 = not listening */
    uint64_t next_gen;        /* the listener's counter, never 0 */
    pthread_mutex_t mu;       /* guards what follows */
    entry slot[SLOTS];
    size_t bytes, max_bytes;
    unsigned long long hits, misses;
};

static void entry_clear(tp_cache *c, entry *e)
{
    c->bytes -= e->len;
    free(e->key);
    free(e->body);
    memset(e, 0, sizeof *e);
}

/* A new generation: everything kept before is out of date. */
static void advance(tp_cache *c)
{
    pthread_mutex_lock(&c->mu);
    if (++c->next_gen == 0)
        c->next_gen = 1;
    atomic_store(&c->gen, c->next_gen);
    pthread_mutex_unlock(&c->mu);
}

static void pause_ms(tp_cache *c, int ms)
{
    for (; ms > 0 && !atomic_load(&c->stop); ms -= 100)
        tp_sleep(0.1);
}

/* Connect, LISTEN, then bump the generation on every notification; on any
 * failure distrust the cache until listening again. */
static void *listen_loop(void *arg)
{
    tp_cache *c = arg;
    int backoff = 500;
    while (!atomic_load(&c->stop)) {
        tp_error err = {0};
        tp_db *db = tp_db_connect(c->db_url, &err);
        if (!db || tp_db_listen(db, TP_CHANNEL_LISTS, &err) < 0) {
            tp_db_close(db);
            pause_ms(c, backoff);
            backoff = backoff < 16000 ? backoff * 2 : backoff;
            continue;
        }
        backoff = 500;
        advance(c); /* changes missed while not listening */
        int n = 0;
        while (!atomic_load(&c->stop) && (n = tp_db_wait(db, 250, -1, NULL)) >= 0)
            if (n > 0)
                advance(c);
        atomic_store(&c->gen, 0);
        tp_db_close(db);
    }
    return NULL;
}

tp_cache *tp_cache_create(const char *db_url, size_t max_bytes)
{
    tp_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->db_url = strdup(db_url ? db_url : ""))) {
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->mu, NULL);
    if (pthread_create(&c->listener, NULL, listen_loop, c) != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c->db_url);
        free(c);
        return NULL;
    }
    return c;
}

void tp_cache_destroy(tp_cache *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, 1);
    pthread_join(c->listener, NULL);
    for (int i = 0; i < SLOTS; i++)
        entry_clear(c, &c->slot[i]);
    pthread_mutex_destroy(&c->mu);
    free(c->db_url);
    free(c);
}

uint64_t tp_cache_generation(tp_cache *c)
{
    return atomic_load(&c->gen);
}

void tp_cache_bump(tp_cache *c)
{
    if (atomic_load(&c->gen))
        advance(c);
}

int tp_cache_get(tp_cache *c, const char *key, char **body, size_t *len)
{
    uint64_t h = tp_fnv1a(TP_FNV1A_INIT, key), gen = atomic_load(&c->gen);
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    entry *e = &c->slot[h % SLOTS];
    if (gen && e->key && e->hash == h && e->gen == gen && strcmp(e->key, key) == 0 &&
        (*body = malloc(e->len ? e->len : 1))) {
        memcpy(*body, e->body, e->len);
        *len = e->len;
        hit = 1;
    }
    if (hit)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void tp_cache_put(tp_cache *c, const char *key, uint64_t gen, const char *body, size_t len)
{
    if (!gen || len > MAX_ENTRY)
        return;
    uint64_t h = tp_fnv1a(TP_FNV1A_INIT, key);
    char *k = strdup(key), *b = malloc(len ? len : 1);
    if (!k || !b) {
        free(k);
        free(b);
        return;
    }
    memcpy(b, body, len);
    pthread_mutex_lock(&c->mu);
    entry *e = &c->slot[h % SLOTS];
    if (gen != atomic_load(&c->gen)) { /* already out of date */
        pthread_mutex_unlock(&c->mu);
        free(k);
        free(b);
        return;
    }
    entry_clear(c, e);
    if (c->bytes + len > c->max_bytes) /* over budget: drop what is out of date */
        for (int i = 0; i < SLOTS; i++)
            if (c->slot[i].key && c->slot[i].gen != gen)
                entry_clear(c, &c->slot[i]);
    if (c->bytes + len > c->max_bytes) {
        pthread_mutex_unlock(&c->mu);
        free(k);
        free(b);
        return;
    }
    *e = (entry){h, gen, k, b, len};
    c->bytes += len;
    pthread_mutex_unlock(&c->mu);
}

void tp_cache_counts(tp_cache *c, unsigned long long *hits, unsigned long long *misses)
{
    pthread_mutex_lock(&c->mu);
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->mu);
}
