/* health.c -- plugin builds that keep failing are quarantined: the
 * worker's side of db/plugins.h.  The set of builds with failures is read
 * at most every TP_HEALTH_TTL seconds per process (a failure seen here
 * updates it at once), so a healthy fleet pays nothing per job. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "db/plugins.h"
#include "worker_int.h"

void tp__health_refresh(tp_worker *w, tp_db *db)
{
    pthread_mutex_lock(&w->mu);
    int fresh = w->health_at > 0 && tp_now() - w->health_at < TP_HEALTH_TTL;
    pthread_mutex_unlock(&w->mu);
    if (fresh)
        return;
    char sha[TP_HEALTH_LIST_MAX][65];
    int q[TP_HEALTH_LIST_MAX];
    tp_error err = {0};
    int n = tp_plugin_health_attention(db, sha, q, TP_HEALTH_LIST_MAX, &err);
    if (n < 0) {
        tp__worker_log(w, "warning: cannot read the plugins' health: %s", err.msg);
        return;
    }
    pthread_mutex_lock(&w->mu);
    memcpy(w->health_sha, sha, (size_t)n * sizeof sha[0]);
    memcpy(w->health_quarantined, q, (size_t)n * sizeof q[0]);
    w->nhealth = n;
    w->health_at = tp_now();
    pthread_mutex_unlock(&w->mu);
}

/* Index of sha in the health set, or -1 (under w->mu). */
static int find(const tp_worker *w, const char *sha)
{
    for (int i = 0; i < w->nhealth; i++)
        if (strcmp(w->health_sha[i], sha) == 0)
            return i;
    return -1;
}

/* The failures in a row that quarantine a build; 0 = never. */
static int threshold(const tp_worker *w)
{
    int k = w->o->quarantine_after;
    return k < 0 ? 0 : k == 0 ? TP_QUARANTINE_AFTER : k;
}

int tp__health_refuse(void *ud, const tp_plugin *p, char *why, size_t why_len)
{
    tp_worker *w = ud;
    pthread_mutex_lock(&w->mu);
    int i = find(w, p->sha256);
    int q = i >= 0 && w->health_quarantined[i];
    pthread_mutex_unlock(&w->mu);
    if (q)
        snprintf(why, why_len,
                 "plugin %s %s (sha256 %s) is quarantined after failing %d times in a row; "
                 "fix or remove it, then clear it: tillpipe plugin quarantine clear %s",
                 p->desc->name, p->desc->version, p->sha256, threshold(w), p->sha256);
    return q;
}

static void note(tp_worker *w, const char *sha, int quarantined)
{
    pthread_mutex_lock(&w->mu);
    int i = find(w, sha);
    if (i < 0 && w->nhealth < TP_HEALTH_LIST_MAX) {
        i = w->nhealth++;
        snprintf(w->health_sha[i], sizeof w->health_sha[i], "%s", sha);
    }
    if (i >= 0)
        w->health_quarantined[i] = quarantined;
    pthread_mutex_unlock(&w->mu);
}

void tp__health_after(tp_worker *w, tp_db *db, const tp_termday_result *res, const char *error)
{
    tp_error err = {0};
    if (res->failed) {
        const tp_plugin *p = res->failed;
        int q = 0;
        if (tp_plugin_health_failed(db, p->sha256, p->desc->name, p->desc->version, error,
                                    threshold(w), &q, &err) < 0)
            tp__worker_log(w, "warning: cannot record the failure of plugin %s: %s", p->desc->name,
                           err.msg);
        else {
            note(w, p->sha256, q);
            if (q)
                tp__worker_log(w, "plugin %s %s (sha256 %s) quarantined", p->desc->name,
                               p->desc->version, p->sha256);
        }
        return;
    }
    const char *clean[TP_TYPE_COUNT];
    size_t n = 0;
    pthread_mutex_lock(&w->mu);
    for (int t = 0; t < TP_TYPE_COUNT; t++) {
        int i = res->plugin[t] ? find(w, res->plugin[t]->sha256) : -1;
        if (i >= 0 && !w->health_quarantined[i])
            clean[n++] = res->plugin[t]->sha256;
    }
    pthread_mutex_unlock(&w->mu);
    if (n && tp_plugin_health_ok(db, clean, n, &err) < 0)
        tp__worker_log(w, "warning: cannot record plugins' success: %s", err.msg);
    else if (n)
        for (size_t i = 0; i < n; i++) {
            pthread_mutex_lock(&w->mu);
            int k = find(w, clean[i]);
            if (k >= 0) { /* out of the set: its count is 0 again */
                w->nhealth--;
                memmove(w->health_sha[k], w->health_sha[w->nhealth], 65);
                w->health_quarantined[k] = w->health_quarantined[w->nhealth];
            }
            pthread_mutex_unlock(&w->mu);
        }
}
