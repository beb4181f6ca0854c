/* cache.h -- answers of list routes, kept until the data under them changes.
 *
 * Every statement that changes jobs or records (sql/004_list_cache.sql)
 * sends a NOTIFY on `tillpipe_lists`; a listener thread with its own
 * connection bumps a generation counter on each, and an answer is served
 * from the cache only when it was computed under the
 * current generation.  Callers read the generation *before* the query that
 * computes an answer, so an answer computed across a change is never kept as
 * current.  While the listener is not connected the generation is 0 and
 * nothing is served from, or kept in, the cache.  Bounded: a fixed number of
 * slots and a byte budget.
 */
#ifndef TP_CACHE_H
#define TP_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tp_cache tp_cache;

/* Start the listener (it connects in the background, retrying). */
tp_cache *tp_cache_create(const char *db_url, size_t max_bytes);
void tp_cache_destroy(tp_cache *c);

/* The current generation; 0 while the cache cannot be trusted. */
uint64_t tp_cache_generation(tp_cache *c);

/* Everything kept so far is out of date (a change this process made). */
void tp_cache_bump(tp_cache *c);

/* A copy of the current answer for `key` (caller frees): 1, else 0. */
int tp_cache_get(tp_cache *c, const char *key, char **body, size_t *len);

/* Keep `body` as the answer for `key` computed under generation `gen`. */
void tp_cache_put(tp_cache *c, const char *key, uint64_t gen, const char *body, size_t len);

/* Lookups answered and not answered so far. */
void tp_cache_counts(tp_cache *c, unsigned long long *hits, unsigned long long *misses);

#endif
