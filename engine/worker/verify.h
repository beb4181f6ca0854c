/* verify.h -- `tillpipe store verify`: every object of the raw-file store
 * checked against its key and against what the database recorded for it.
 *
 * The store's listing (key order) and the database's stored objects (the
 * files table, key order) are merged in one pass, so each object is read
 * once, streamed through SHA-256, and nothing grows with the store:
 *
 *   both      size as recorded (else truncated or wrong size) and the sha256
 *             its key names (else corrupt);
 *   database  missing;
 *   store     a temporary (fs): stray when its writer's pid is gone, in
 *             progress otherwise; an object no row names (unreferenced):
 *             hashed too, corrupt when it is not what its key names.
 *
 * With a branch or a date filter only the database's objects of those
 * terminal-days are checked, each looked up by its key (the store is not
 * listed); so too when the store refuses to be listed (s3rver refuses
 * libs3's signature of bucket requests: a note says so).
 * With repair: stray temporaries and corrupt unreferenced objects are
 * removed; a recorded object that is missing or damaged is removed and
 * fetched again -- from the report server, when it still serves a file of
 * that name with those bytes, stored whole and synced -- else a forced
 * fetch of each terminal-day that used it is queued, and the workers put it
 * whole again.
 */
#ifndef TP_VERIFY_H
#define TP_VERIFY_H

#include <stdio.h>

#include "core/error.h"
#include "db/db.h"
#include "io/fetch.h"
#include "store/store.h"

typedef struct tp_verify_opts {
    tp_store *store;        /* borrowed */
    tp_db *db;              /* streams the database's objects */
    tp_db *db2;             /* another connection: look-ups and queuing meanwhile */
    const char *branch;     /* only this branch's objects; NULL: every object */
    const char *since;      /* only business dates from YYYY-MM-DD; NULL: all */
    int repair;             /* repair what can be repaired */
    tp_fetch_conn *conn;    /* repair: re-fetch through it; NULL: queue fetches only */
    const char *server;     /* the report server (a branch's report_server wins) */
    const char *workroot;   /* re-fetched downloads' folder; NULL = $TMPDIR or /tmp */
    const char *created_by; /* of the jobs a repair queues */
    FILE *out;              /* one line per finding (and what the repair did) */
} tp_verify_opts;

typedef struct tp_verify_stats {
    long long checked, ok;    /* objects read back, and those whole */
    unsigned long long bytes; /* read back */
    long long missing, truncated, wrong_size, corrupt, stray; /* problems */
    long long in_progress, unreferenced;                      /* not problems */
    long long refetched, removed, queued, unrepaired;         /* what a repair did */
    int listing_refused; /* the store could not be listed: recorded objects only */
} tp_verify_stats;

/* Problems found: missing + truncated + wrong size + corrupt + stray. */
long long tp_verify_problems(const tp_verify_stats *st);

/* Check (and repair) the store.  0 when the check ran to its end (*st
 * says what it found), < 0 with err set when it could not (the store or
 * the database failed). */
int tp_verify_store(const tp_verify_opts *o, tp_verify_stats *st, tp_error *err);

#endif
