/* combine.h -- the chain's legacy combine rules for one terminal-day:
 * reference reports become lookups, each order line becomes a typed record
 * (see docs/pos-reports rules and docs/records.md).
 *
 * Feed every reference row first (tp_combine_ref_row), then the order lines
 * (tp_combine_order_row), which produce records one at a time.  Order lines
 * dated outside the business date or otherwise unusable are not turned into
 * records; they are counted and described in the tp_quality passed in.
 */
#ifndef TP_COMBINE_H
#define TP_COMBINE_H

#include <stdint.h>
#include <tillpipe/sdk.h>

#include "quality.h"
#include "record.h"
#include "schema.h"

typedef struct tp_combine_opts {
    const char *branch; /* borrowed, must outlive the combine */
    int pos;
    const char *date; /* business date YYYY-MM-DD, borrowed */
    int newer_pos;    /* take the department from the product master */
} tp_combine_opts;

typedef struct tp_combine tp_combine;

/* A new combine for one terminal-day, or NULL when out of memory. */
tp_combine *tp_combine_create(const tp_combine_opts *opts);
void tp_combine_destroy(tp_combine *c);

/* Loyalty rows are looked up by the order lines' transaction numbers, and
 * the cumulative loyalty file is far larger than a day's transactions.
 * Declaring those numbers first (one call per order line, before any blpr
 * row is added) lets the combine keep only the loyalty rows it can use;
 * without any call it keeps them all.  Same result either way.  Returns 0
 * or -1 when out of memory. */
int tp_combine_want_transno(tp_combine *c, tp_field transno);

/* Add one parsed row of reference report `type` (any type but rd5000).
 * Returns 0 or -1 when out of memory. */
int tp_combine_ref_row(tp_combine *c, tp_report_type type, const tp_field *f, size_t n);

/* Turn one rd5000 row (SDK layout) into a record.  Returns 1 with *out
 * filled, 0 when the row is not a record (reason recorded in q against
 * `file`/`line`), -1 when out of memory. */
int tp_combine_order_row(tp_combine *c, const tp_field *f, size_t n, const char *file,
                         uint64_t line, tp_quality *q, tp_record *out);

/* 1 when `s` is a decimal number as PostgreSQL numeric reads it:
 * [+-] digits [. digits] or [+-] . digits. */
int tp_decimal_valid(tp_field s);

#endif
