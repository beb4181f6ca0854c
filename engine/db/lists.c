/* lists.c -- see lists.h. */
#include "lists.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "db_int.h"

#define ESTIMATE_SLOTS 64
#define ESTIMATE_TTL 10 /* seconds */

struct tp_list_totals {
    pthread_mutex_t mu;
    struct {
        uint64_t key;
        long long rows;
        time_t at;
    } slot[ESTIMATE_SLOTS];
};

tp_list_totals *tp_list_totals_create(void)
{
    tp_list_totals *t = calloc(1, sizeof *t);
    if (t)
        pthread_mutex_init(&t->mu, NULL);
    return t;
}

void tp_list_totals_destroy(tp_list_totals *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void tp_list_page_clear(tp_list_page *p)
{
    free(p->items);
    free(p->next);
    memset(p, 0, sizeof *p);
}

void tp_list_filter_add(tp_list_filter *f, const char *cond, const char *value)
{
    const char *q = strchr(cond, '?');
    if (!q || f->n == (int)(sizeof f->p / sizeof *f->p))
        abort(); /* a condition of ours without its "?", or too many: a bug */
    f->len += (size_t)snprintf(f->where + f->len, sizeof f->where - f->len, "%s%.*s%d%s",
                               f->len ? " AND " : "", (int)(q - cond), cond, f->n + 1, q + 1);
    f->p[f->n++] = value;
}

static const char *filter_sql(const tp_list_filter *f)
{
    return f->len ? f->where : "true";
}

static uint64_t estimate_key(const char *from, const tp_list_filter *f)
{
    uint64_t h = tp_fnv1a(tp_fnv1a(TP_FNV1A_INIT, from), "\x1f");
    h = tp_fnv1a(tp_fnv1a(h, filter_sql(f)), "\x1f");
    for (int i = 0; i < f->n; i++) { /* each value after its length: no two lists alike */
        char len[24];
        snprintf(len, sizeof len, "%zu:", strlen(f->p[i]));
        h = tp_fnv1a(tp_fnv1a(h, len), f->p[i]);
    }
    return h;
}

/* The planner's estimate of the rows of `from` passing `f` (EXPLAIN). */
static long long estimate(tp_db *db, const char *from, const tp_list_filter *f)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "EXPLAIN (FORMAT JSON) SELECT 1 FROM %s WHERE %s", from,
             filter_sql(f));
    tp_error err = {0};
    PGresult *r = tp_db_query(db, sql, f->n, f->p, &err);
    json_t *plan = r ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
    PQclear(r);
    json_t *rows = json_object_get(json_object_get(json_array_get(plan, 0), "Plan"), "Plan Rows");
    long long est = json_is_number(rows) ? (long long)json_number_value(rows) : 0;
    json_decref(plan);
    return est;
}

/* A list's total: exact up to TP_LIST_EXACT_MAX rows (`counted` is the
 * capped count), beyond that the planner's estimate, kept a few seconds. */
static long long list_total(tp_db *db, tp_list_totals *t, const char *from, const tp_list_filter *f,
                            long long counted, int *exact)
{
    *exact = counted <= TP_LIST_EXACT_MAX;
    if (*exact)
        return counted;
    uint64_t key = estimate_key(from, f);
    size_t i = key % ESTIMATE_SLOTS;
    time_t now = time(NULL);
    long long est = -1;
    if (t) {
        pthread_mutex_lock(&t->mu);
        if (t->slot[i].key == key && now - t->slot[i].at < ESTIMATE_TTL)
            est = t->slot[i].rows;
        pthread_mutex_unlock(&t->mu);
    }
    if (est < 0) {
        est = estimate(db, from, f);
        if (t) {
            pthread_mutex_lock(&t->mu);
            t->slot[i].key = key;
            t->slot[i].rows = est;
            t->slot[i].at = now;
            pthread_mutex_unlock(&t->mu);
        }
    }
    return est > counted ? est : counted;
}

/* d->after with its "$?" numbered from `first`, into buf. */
static void number_after(const char *after, int first, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, " AND ");
    int n = first;
    for (const char *q = after; *q && o + 4 < cap; q++)
        if (*q == '?' && q > after && q[-1] == '$')
            o += (size_t)snprintf(buf + o, cap - o, "%d", n++);
        else
            buf[o++] = *q;
    buf[o] = '\0';
}

int tp_list_run(tp_db *db, tp_list_totals *totals, const tp_list_def *d, tp_list_filter *f,
                int limit, const char *const *cursor, int ncursor, tp_list_page *out, tp_error *err)
{
    memset(out, 0, sizeof *out);
    const char *p[24];
    char slimit[16];
    snprintf(slimit, sizeof slimit, "%d", limit);
    memcpy(p, f->p, sizeof *p * (size_t)f->n);
    int lim = f->n + 1;
    p[lim - 1] = slimit;
    char after[256] = "";
    if (cursor) {
        number_after(d->after, lim + 1, after, sizeof after);
        memcpy(p + lim, cursor, sizeof *p * (size_t)ncursor);
    }
    /* (the filters twice, not one CTE of every matching row: that would be
     * materialised whole before the page is cut) */
    char sql[4096];
    snprintf(sql, sizeof sql,
             "WITH page AS (SELECT * FROM %s WHERE %s%s ORDER BY %s LIMIT $%d::int + 1)"
             " SELECT (SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT %d) x),"
             " coalesce((SELECT json_agg(%s ORDER BY %s) FROM"
             " (SELECT * FROM page ORDER BY %s LIMIT $%d::int) j), '[]'),"
             " CASE WHEN (SELECT count(*) FROM page) > $%d::int THEN (SELECT %s FROM page"
             " ORDER BY %s OFFSET $%d::int - 1 LIMIT 1) END",
             d->table, filter_sql(f), after, d->order, lim, d->table, filter_sql(f),
             TP_LIST_EXACT_MAX + 1, d->item, d->order, d->order, lim, lim, d->key, d->order, lim);
    PGresult *r = tp_db_query(db, sql, lim + (cursor ? ncursor : 0), p, err);
    if (!r)
        return TP_EDB;
    out->total = list_total(db, totals, d->table, f, tp_db_ll(r, 0, 0), &out->total_exact);
    out->items_len = (size_t)PQgetlength(r, 0, 1);
    out->items = malloc(out->items_len + 1);
    if (out->items)
        memcpy(out->items, PQgetvalue(r, 0, 1), out->items_len + 1);
    int ok = out->items != NULL;
    if (ok && !PQgetisnull(r, 0, 2))
        ok = (out->next = strdup(PQgetvalue(r, 0, 2))) != NULL;
    PQclear(r);
    if (!ok) {
        tp_list_page_clear(out);
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    }
    return TP_OK;
}
