/* guard.c -- see guard.h. */
#include "guard.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"

#define WATCH_STEP 0.1  /* seconds between the watchdog's rounds */
#define BODY_SLOTS 1024 /* users (or addresses) with bodies in flight at once */

struct tp__guard_conn {
    int fd;
    double deadline; /* 0: none (an answer is going out) */
    int cut;
    tp__guard_conn *prev, *next;
};

typedef struct body_slot {
    char who[TP__WHO_MAX];
    size_t bytes; /* 0: free */
} body_slot;

typedef struct stream_slot {
    const void *key; /* NULL: free */
    char who[TP__WHO_MAX];
    int kind;
} stream_slot;

struct tp__guard {
    tp__guard_opts o;
    pthread_mutex_t mu; /* guards what follows */
    tp__guard_conn *conns;
    unsigned long long cuts;
    body_slot body[BODY_SLOTS];
    size_t body_all;
    stream_slot *streams; /* o.max_streams of them */
    pthread_t watchdog;
    volatile int stop;
};

/* Cut every connection whose request is past its deadline.  Under the
 * lock, and a connection is forgotten (tp__guard_conn_close) before
 * libmicrohttpd closes its socket, so a descriptor cut here is never one
 * reused by another connection. */
static void cut_late(tp__guard *g)
{
    double now = tp_now();
    pthread_mutex_lock(&g->mu);
    for (tp__guard_conn *c = g->conns; c; c = c->next)
        if (c->deadline > 0 && now >= c->deadline && !c->cut) {
            shutdown(c->fd, SHUT_RDWR);
            c->cut = 1;
            g->cuts++;
        }
    pthread_mutex_unlock(&g->mu);
}

static void *watch(void *arg)
{
    tp__guard *g = arg;
    while (!tp_sleep_unless(WATCH_STEP, WATCH_STEP, &g->stop))
        cut_late(g);
    return NULL;
}

tp__guard *tp__guard_create(const tp__guard_opts *o)
{
    tp__guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->o = *o;
    g->streams = calloc((size_t)(o->max_streams > 0 ? o->max_streams : 1), sizeof *g->streams);
    pthread_mutex_init(&g->mu, NULL);
    if (!g->streams || pthread_create(&g->watchdog, NULL, watch, g) != 0) {
        pthread_mutex_destroy(&g->mu);
        free(g->streams);
        free(g);
        return NULL;
    }
    return g;
}

void tp__guard_destroy(tp__guard *g)
{
    if (!g)
        return;
    g->stop = 1;
    pthread_join(g->watchdog, NULL);
    while (g->conns) /* (none are left once the daemon has stopped) */
        tp__guard_conn_close(g, g->conns);
    pthread_mutex_destroy(&g->mu);
    free(g->streams);
    free(g);
}

/* ------------------------------------------------------------ connections */

tp__guard_conn *tp__guard_conn_open(tp__guard *g, int fd)
{
    tp__guard_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->deadline = tp_now() + g->o.request_timeout;
    pthread_mutex_lock(&g->mu);
    c->next = g->conns;
    if (g->conns)
        g->conns->prev = c;
    g->conns = c;
    pthread_mutex_unlock(&g->mu);
    return c;
}

void tp__guard_conn_close(tp__guard *g, tp__guard_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&g->mu);
    free(c);
}

static void set_deadline(tp__guard *g, tp__guard_conn *c, double deadline)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->mu);
    c->deadline = deadline;
    pthread_mutex_unlock(&g->mu);
}

void tp__guard_conn_received(tp__guard *g, tp__guard_conn *c)
{
    set_deadline(g, c, 0);
}

void tp__guard_conn_idle(tp__guard *g, tp__guard_conn *c)
{
    set_deadline(g, c, tp_now() + g->o.request_timeout);
}

unsigned long long tp__guard_cuts(tp__guard *g)
{
    pthread_mutex_lock(&g->mu);
    unsigned long long n = g->cuts;
    pthread_mutex_unlock(&g->mu);
    return n;
}

/* ------------------------------------------------------------ bodies */

int tp__guard_body_take(tp__guard *g, const char *who, size_t bytes)
{
    int rc = TP__GUARD_OK;
    pthread_mutex_lock(&g->mu);
    body_slot *mine = NULL, *free_slot = NULL;
    for (int i = 0; i < BODY_SLOTS && !mine; i++) {
        if (g->body[i].bytes && strcmp(g->body[i].who, who) == 0)
            mine = &g->body[i];
        else if (!g->body[i].bytes && !free_slot)
            free_slot = &g->body[i];
    }
    size_t have = mine ? mine->bytes : 0;
    if (have + bytes > g->o.body_user)
        rc = TP__GUARD_USER;
    else if (g->body_all + bytes > g->o.body_total || (!mine && !free_slot))
        rc = TP__GUARD_FULL;
    else if (bytes > 0) {
        if (!mine) {
            mine = free_slot;
            snprintf(mine->who, sizeof mine->who, "%s", who);
        }
        mine->bytes += bytes;
        g->body_all += bytes;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

void tp__guard_body_give(tp__guard *g, const char *who, size_t bytes)
{
    if (!bytes)
        return;
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < BODY_SLOTS; i++)
        if (g->body[i].bytes && strcmp(g->body[i].who, who) == 0) {
            g->body[i].bytes -= bytes < g->body[i].bytes ? bytes : g->body[i].bytes;
            break;
        }
    g->body_all -= bytes < g->body_all ? bytes : g->body_all;
    pthread_mutex_unlock(&g->mu);
}

/* ------------------------------------------------------------ streams */

int tp__guard_stream_take(tp__guard *g, const char *who, int kind, const void *key)
{
    int rc = TP__GUARD_OK, events = 0, users = 0;
    stream_slot *free_slot = NULL;
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < g->o.max_streams; i++) {
        stream_slot *s = &g->streams[i];
        if (!s->key) {
            free_slot = free_slot ? free_slot : s;
            continue;
        }
        events += s->kind == TP__STREAM_EVENTS;
        users += strcmp(s->who, who) == 0;
    }
    int for_events = g->o.max_streams - g->o.stream_reserve;
    if (users >= g->o.streams_per_user)
        rc = TP__GUARD_USER;
    else if (!free_slot || (kind == TP__STREAM_EVENTS && events >= for_events))
        rc = TP__GUARD_FULL;
    else {
        free_slot->key = key;
        free_slot->kind = kind;
        snprintf(free_slot->who, sizeof free_slot->who, "%s", who);
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

void tp__guard_stream_rekey(tp__guard *g, const void *from, const void *to)
{
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < g->o.max_streams; i++)
        if (g->streams[i].key == from) {
            g->streams[i].key = to;
            break;
        }
    pthread_mutex_unlock(&g->mu);
}

void tp__guard_stream_give(tp__guard *g, const void *key)
{
    if (!key)
        return;
    tp__guard_stream_rekey(g, key, NULL);
}
