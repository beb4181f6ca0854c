/* lookup.h -- a string -> string map for the combine stage's reference
 * lookups (products, departments, payments, loyalty ...).
 *
 * Keys and values are copied into an arena owned by the map; the first value
 * put for a key wins, as in the legacy combiner.  Open addressing, grows at
 * 1/2 load.  Memory is freed only by tp_lookup_destroy.
 */
#ifndef TP_LOOKUP_H
#define TP_LOOKUP_H

#include <stddef.h>
#include <tillpipe/sdk.h>

typedef struct tp_lookup tp_lookup;

/* A new empty map, or NULL when out of memory. */
tp_lookup *tp_lookup_create(void);
void tp_lookup_destroy(tp_lookup *m);

/* Insert key -> value unless key is present.  Returns 1 inserted, 0 already
 * present (value unchanged), -1 out of memory. */
int tp_lookup_put_first(tp_lookup *m, tp_field key, tp_field value);

/* The value for key, or NULL.  The view stays valid until destroy. */
const tp_field *tp_lookup_get(const tp_lookup *m, tp_field key);

#endif
