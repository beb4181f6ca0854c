/* conform_host.c -- the conformance kit's host (conform_int.h): the
 * tp_host_api table a plugin under test is driven with.  Every call the
 * plugin makes is checked against sdk.h -- rows only in feed and finish,
 * with the type's field count; problems, options and logs only in open,
 * feed and finish -- and the first rule broken is kept for the report.
 * Every call also counts as progress for the runner's watchdog. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform_int.h"
#include "io/output.h"

const char *tp__kit_call_name(int call)
{
    static const char *const names[] = {"between calls", "open", "feed", "finish", "close"};
    return call >= 0 && call <= TP__CALL_CLOSE ? names[call] : "?";
}

static void breach(tp__kit_host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void breach(tp__kit_host *h, const char *fmt, ...)
{
    if (h->breach[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->breach, sizeof h->breach, fmt, ap);
    va_end(ap);
    /* the runner reports it too when the plugin then crashes or hangs */
    snprintf(h->sh->breach, sizeof h->sh->breach, "%s", h->breach);
}

/* Progress for the runner's watchdog -- but not from a plugin that goes on
 * calling the host after breaking a rule (emitting in a loop whatever emit
 * answers): it is then killed as making no progress. */
static void tick(tp__kit_host *h)
{
    if (!h->breach[0])
        atomic_fetch_add_explicit(&h->sh->progress, 1, memory_order_relaxed);
}

static tp__kit_host *kit_of(tp_host *h)
{
    return (tp__kit_host *)(void *)h;
}

/* "during open" or "between calls". */
#define WHEN(h) (h)->call == TP__CALL_NONE ? "" : "during ", tp__kit_call_name((h)->call)

static int check_fields(tp__kit_host *h, uint64_t line, const tp_field *fields, size_t n)
{
    if (n != h->schema->nfields) {
        breach(
            h,
            "emitted a row of %zu fields at line %llu; %s rows have %zu (the row layouts of sdk.h)",
            n, (unsigned long long)line, h->schema->name, h->schema->nfields);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!fields || (fields[i].len > 0 && !fields[i].ptr)) {
            breach(h, "emitted a row at line %llu whose field %s has %zu bytes at NULL",
                   (unsigned long long)line, h->schema->field_names[i], fields ? fields[i].len : 0);
            return -1;
        }
    return 0;
}

static int kit_emit(tp_host *host, uint64_t line, const tp_field *fields, size_t n)
{
    tp__kit_host *h = kit_of(host);
    tick(h);
    if (h->call != TP__CALL_FEED && h->call != TP__CALL_FINISH) {
        breach(h,
               "emitted a row (line %llu) %s%s: rows are emitted only in feed and finish, "
               "through the host pointers that call passed",
               (unsigned long long)line, WHEN(h));
        return -1;
    }
    if (h->refused) {
        h->after_refusal++;
        return -1;
    }
    if (check_fields(h, line, fields, n) < 0)
        return -1;
    if (++h->rows > h->fed + 1) {
        breach(h, "emitted %llu rows from %llu bytes of input: more rows than bytes",
               (unsigned long long)h->rows, (unsigned long long)h->fed);
        return -1;
    }
    if (h->refuse_row && h->rows == h->refuse_row) {
        h->refused = 1;
        return -1;
    }
    if (h->out)
        tp_json_write_row(h->out, h->schema, line, fields, n);
    return 0;
}

static void kit_problem(tp_host *host, uint64_t line, int severity, const char *reason)
{
    tp__kit_host *h = kit_of(host);
    tick(h);
    if (h->call == TP__CALL_NONE || h->call == TP__CALL_CLOSE) {
        breach(h, "reported a problem %s%s: problems are reported only in open, feed and finish",
               WHEN(h));
        return;
    }
    if (severity != TP_PROBLEM_WARNING && severity != TP_PROBLEM_ERROR) {
        breach(h,
               "reported a problem of severity %d at line %llu; it is TP_PROBLEM_WARNING (1) "
               "or TP_PROBLEM_ERROR (2)",
               severity, (unsigned long long)line);
        return;
    }
    const char *r = reason ? reason : "(no reason given)";
    h->problems++;
    if (severity == TP_PROBLEM_ERROR) {
        snprintf(h->last_error, sizeof h->last_error, "%s", r);
        h->last_error_line = line;
    }
    if (h->out)
        tp_json_write_problem(h->out, line, severity, r);
}

static void kit_log(tp_host *host, int level, const char *msg)
{
    tp__kit_host *h = kit_of(host);
    tick(h);
    if (h->call == TP__CALL_NONE || h->call == TP__CALL_CLOSE)
        breach(h, "logged %s%s: the host is called only in open, feed and finish", WHEN(h));
}

static const char *kit_config(tp_host *host, const char *key)
{
    tp__kit_host *h = kit_of(host);
    tick(h);
    if (h->call == TP__CALL_NONE || h->call == TP__CALL_CLOSE) {
        breach(h,
               "asked for option \"%.40s\" %s%s: the host is called only in open, feed and "
               "finish",
               key ? key : "(null)", WHEN(h));
        return NULL;
    }
    return h->get && key ? h->get(h->get_ud, key) : NULL;
}

static const tp_host_api kit_api = {
    .size = sizeof(tp_host_api),
    .abi_major = TP_SDK_ABI_MAJOR,
    .abi_minor = TP_SDK_ABI_MINOR,
    .emit = kit_emit,
    .problem = kit_problem,
    .log = kit_log,
    .config = kit_config,
};

static void enter(tp__kit_host *h, int call)
{
    h->call = call;
    atomic_store(&h->sh->call, call);
    tick(h);
}

static void leave(tp__kit_host *h, int rc)
{
    if (h->refused && !h->refusal_seen) {
        h->refusal_seen = 1;
        h->refusal_rc = rc;
        h->refusal_call = h->call;
    }
    h->call = TP__CALL_NONE;
    atomic_store(&h->sh->call, TP__CALL_NONE);
    tick(h);
}

void tp__kit_host_init(tp__kit_host *h, tp__kit_shared *sh, const tp_schema *s,
                       const char *(*get)(void *ud, const char *key), void *ud)
{
    memset(h, 0, sizeof *h);
    h->schema = s;
    h->sh = sh;
    h->get = get;
    h->get_ud = ud;
}

/* ------------------------------------------------------------ one parse */

const char *tp__kit_slice_next(tp__kit_source *s, size_t *n)
{
    tp__kit_slice *c = (tp__kit_slice *)s;
    free(c->copy);
    c->copy = NULL;
    if (c->at >= c->len)
        return NULL;
    *n = c->len - c->at < c->chunk ? c->len - c->at : c->chunk;
    if (!(c->copy = malloc(*n))) {
        s->halt = 1;
        return NULL;
    }
    memcpy(c->copy, c->data + c->at, *n);
    c->at += *n;
    return c->copy;
}

int tp__kit_drive(tp__kit_host *h, const tp_plugin_desc *d, tp__kit_source *src)
{
    tp_host *host = (tp_host *)(void *)h;
    void *state = NULL;
    enter(h, TP__CALL_OPEN);
    int rc = d->open(&kit_api, host, h->schema->name, &state);
    leave(h, rc);
    if (rc != TP_PLUGIN_OK)
        return rc;
    const char *chunk;
    size_t n;
    while (rc == TP_PLUGIN_OK && !h->refusal_seen && (chunk = src->next(src, &n)) != NULL) {
        h->fed += n;
        enter(h, TP__CALL_FEED);
        rc = d->feed(state, &kit_api, host, chunk, n);
        leave(h, rc);
    }
    if (rc == TP_PLUGIN_OK && !h->refusal_seen && !src->halt) {
        enter(h, TP__CALL_FINISH);
        rc = d->finish(state, &kit_api, host);
        leave(h, rc);
    }
    enter(h, TP__CALL_CLOSE);
    d->close(state);
    leave(h, TP_PLUGIN_OK);
    return rc;
}

void tp__kit_result(const tp__kit_host *h, const char *plugin, int rc, char *buf, size_t n)
{
    if (rc == TP_PLUGIN_OK)
        snprintf(buf, n, "ok");
    else if (rc == TP_PLUGIN_ESTOP)
        snprintf(buf, n, "input.csv: parse stopped");
    else if (rc == TP_PLUGIN_ENOMEM)
        snprintf(buf, n, "input.csv: plugin %s ran out of memory", plugin);
    else if (rc == TP_PLUGIN_ECONFIG)
        snprintf(buf, n, "input.csv: plugin %s refused its options%s%s", plugin,
                 h->last_error[0] ? ": " : "", h->last_error);
    else if (h->last_error[0])
        snprintf(buf, n, "input.csv:%llu: %s", (unsigned long long)h->last_error_line,
                 h->last_error);
    else
        snprintf(buf, n, "input.csv: plugin %s could not parse the file (code %d)", plugin, rc);
}
