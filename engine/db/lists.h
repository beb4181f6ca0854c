/* lists.h -- pages of long lists (jobs, records) with keyset cursors.
 *
 * A page is one prepared statement answering three things: the capped
 * count of the matching rows, the page's items as JSON text, and the key of
 * its last row when more rows follow.  Each combination of filters is its
 * own statement text, so its plan fits it.  Totals are exact up to
 * TP_LIST_EXACT_MAX rows; beyond, the planner's estimate for the same
 * filters, kept a few seconds in a tp_list_totals, so paging through (or
 * polling) a huge list does not count it again and again.
 */
#ifndef TP_DB_LISTS_H
#define TP_DB_LISTS_H

#include <stddef.h>

#define TP_LIST_EXACT_MAX 1000

/* Estimated totals kept by the caller (one per server), shared by its
 * threads.  NULL when out of memory; free with tp_list_totals_destroy. */
typedef struct tp_list_totals tp_list_totals;
tp_list_totals *tp_list_totals_create(void);
void tp_list_totals_destroy(tp_list_totals *t);

typedef struct tp_list_page {
    long long total; /* matching rows: exact, or the planner's estimate */
    int total_exact; /* total is exact */
    char *items;     /* the page's items, a JSON array */
    size_t items_len;
    char *next; /* the last row's key (the list's own format), NULL at the end */
} tp_list_page;

/* Free what a page holds. */
void tp_list_page_clear(tp_list_page *p);

#endif
