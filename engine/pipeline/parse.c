/* parse.c -- see parse.h. */
#include "parse.h"

#include "sandbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The host side of one parse: what the opaque tp_host handle points to. */
struct tp_host {
    const tp_plugin *plugin;
    const tp_schema *schema;
    const char *name;
    const tp_parse_sink *sink;
    const tp_parse_options *opts;
    tp_parse_stats stats;
    int bad_row; /* the plugin emitted a row of the wrong shape */
    char bad_msg[200];
    char last_error[256]; /* the last error-severity problem, for messages */
    uint64_t last_error_line;
};

static int host_emit(tp_host *h, uint64_t line, const tp_field *fields, size_t n)
{
    if (n != h->schema->nfields) {
        snprintf(h->bad_msg, sizeof h->bad_msg,
                 "plugin %s emitted a row of %zu fields at line %llu; %s rows have %zu",
                 h->plugin->desc->name, n, (unsigned long long)line, h->schema->name,
                 h->schema->nfields);
        h->bad_row = 1;
        return -1;
    }
    h->stats.rows++;
    return h->sink->row ? h->sink->row(h->sink->ud, line, fields, n) : 0;
}

static void host_problem(tp_host *h, uint64_t line, int severity, const char *reason)
{
    if (severity == TP_PROBLEM_ERROR) {
        h->stats.rejected++;
        snprintf(h->last_error, sizeof h->last_error, "%s", reason ? reason : "");
        h->last_error_line = line;
    } else
        h->stats.warnings++;
    if (h->sink->problem)
        h->sink->problem(h->sink->ud, line, severity, reason ? reason : "(no reason given)");
}

static void host_log(tp_host *h, int level, const char *msg)
{
    if (level >= TP_LOG_WARN)
        fprintf(stderr, "tillpipe: plugin %s: %s: %s\n", h->plugin->desc->name, h->name,
                msg ? msg : "");
}

static const char *host_config(tp_host *h, const char *key)
{
    if (!h->opts || !h->opts->get || !key)
        return NULL;
    return h->opts->get(h->opts->ud, key);
}

static const tp_host_api host_api = {
    .size = sizeof(tp_host_api),
    .abi_major = TP_SDK_ABI_MAJOR,
    .abi_minor = TP_SDK_ABI_MINOR,
    .emit = host_emit,
    .problem = host_problem,
    .log = host_log,
    .config = host_config,
};

static int plugin_failed(tp_host *h, int rc, tp_error *err)
{
    if (h->bad_row)
        return tp_error_set(err, TP_EPLUGIN, "%s: %s", h->name, h->bad_msg);
    if (rc == TP_PLUGIN_ESTOP)
        return err && err->code ? err->code
                                : tp_error_set(err, TP_ESTOP, "%s: parse stopped", h->name);
    if (rc == TP_PLUGIN_ENOMEM)
        return tp_error_set(err, TP_ENOMEM, "%s: plugin %s ran out of memory", h->name,
                            h->plugin->desc->name);
    if (rc == TP_PLUGIN_ECONFIG)
        return tp_error_set(err, TP_ECONFIG, "%s: plugin %s refused its options%s%s", h->name,
                            h->plugin->desc->name, h->last_error[0] ? ": " : "", h->last_error);
    if (h->last_error[0])
        return tp_error_set(err, TP_EPARSE, "%s:%llu: %s", h->name,
                            (unsigned long long)h->last_error_line, h->last_error);
    return tp_error_set(err, TP_EPARSE, "%s: plugin %s could not parse the file (code %d)", h->name,
                        h->plugin->desc->name, rc);
}

int tp_parse_stream(const tp_plugin *p, tp_report_type type, FILE *in, const char *name,
                    const tp_parse_options *opts, const tp_parse_sink *sink, tp_parse_stats *stats,
                    tp_error *err)
{
    if (p->sandbox)
        return tp_sandbox_parse(p->sandbox, p, type, fileno(in), name, opts, sink, stats, err);
    const tp_plugin_desc *d = p->desc;
    tp_host h = {
        .plugin = p, .schema = tp_schema_of(type), .name = name, .sink = sink, .opts = opts};
    if (!h.schema)
        return tp_error_set(err, TP_EINVAL, "%s: unknown report type", name);
    if (!tp_plugin_parses(p, h.schema->name))
        return tp_error_set(err, TP_EPLUGIN, "%s: plugin %s does not parse %s", name, d->name,
                            h.schema->name);
    void *state = NULL;
    int rc = d->open(&host_api, &h, h.schema->name, &state);
    if (rc != TP_PLUGIN_OK) {
        rc = plugin_failed(&h, rc, err);
        goto out;
    }
    size_t chunk = opts && opts->chunk_size ? opts->chunk_size : TP_PARSE_CHUNK;
    /* a file smaller than a chunk is still one feed: no bigger buffer than it
     * needs (+1 to meet its end), not 256 KiB for a few lines */
    struct stat st;
    if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
        (uint64_t)st.st_size < chunk)
        chunk = (size_t)st.st_size + 1;
    char *buf = malloc(chunk);
    if (!buf) {
        d->close(state);
        rc = tp_error_set(err, TP_ENOMEM, "out of memory");
        goto out;
    }
    size_t n;
    rc = TP_OK;
    while ((n = fread(buf, 1, chunk, in)) > 0) {
        h.stats.bytes += n;
        int stop = opts && opts->cancelled ? opts->cancelled(opts->cancel_ud) : 0;
        if (stop) {
            rc = tp_error_set(err, stop, "%s: parse stopped: %s", name, tp_strerror(stop));
            break;
        }
        int prc = d->feed(state, &host_api, &h, buf, n);
        if (prc != TP_PLUGIN_OK) {
            rc = plugin_failed(&h, prc, err);
            break;
        }
    }
    if (rc == TP_OK && ferror(in))
        rc = tp_error_set(err, TP_EIO, "%s: read error: %s", name, strerror(errno));
    if (rc == TP_OK) {
        int prc = d->finish(state, &host_api, &h);
        if (prc != TP_PLUGIN_OK)
            rc = plugin_failed(&h, prc, err);
    }
    /* A plugin that ignored emit's refusal still fails the parse. */
    if (rc == TP_OK && h.bad_row)
        rc = plugin_failed(&h, TP_PLUGIN_ESTOP, err);
    free(buf);
    d->close(state);
out:
    if (stats)
        *stats = h.stats;
    return rc;
}

int tp_parse_file(const tp_plugin *p, tp_report_type type, const char *path,
                  const tp_parse_options *opts, const tp_parse_sink *sink, tp_parse_stats *stats,
                  tp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: %s", path,
                            strerror(errno));
    int rc = tp_parse_stream(p, type, f, path, opts, sink, stats, err);
    fclose(f);
    return rc;
}
