/* records.h -- reading the typed sales records: pages for the API and a
 * streamed export that never holds the whole result (libpq's single-row
 * mode: one record at a time).  Records come in (business date, branch,
 * terminal, file, line) order, the records key. */
#ifndef TP_DB_RECORDS_H
#define TP_DB_RECORDS_H

#include "core/error.h"
#include "core/record.h"
#include "db.h"
#include "lists.h"

/* Which records: a business-date range and optional filters (text as
 * given, checked by the caller; NULL for none). */
typedef struct tp_records_query {
    const char *start, *end; /* YYYY-MM-DD, both required */
    const char *branch, *pos, *item;
    const char *const *after;  /* a page's cursor: the 5 key values of the last record
                                  seen (date, branch, pos, file, line), or NULL */
    int limit;                 /* a page's size, 1-500 */
    const char *plugin_sha256; /* only records a plugin build made (its sha256), or NULL */
} tp_records_query;

/* One page; out->next is the last record's key as a JSON array of the five
 * values.  0 or TP_EDB / TP_ENOMEM with err set. */
int tp_records_page(tp_db *db, tp_list_totals *totals, const tp_records_query *q, tp_list_page *out,
                    tp_error *err);

/* A streamed export of every record q selects (q->after and q->limit are
 * not used).  The connection is busy until the cursor is closed. */
typedef struct tp_records_cursor tp_records_cursor;

/* NULL with err set when the query cannot be sent. */
tp_records_cursor *tp_records_open(tp_db *db, const tp_records_query *q, tp_error *err);

/* The next record into *out (valid until the next call): 1; 0 at the end;
 * TP_EDB when the query failed. */
int tp_records_next(tp_records_cursor *c, tp_record *out);

/* End the export; one not read to its end is cancelled.  NULL is a no-op. */
void tp_records_close(tp_records_cursor *c);

#endif
