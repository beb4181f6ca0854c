/* sandbox_helper.c -- the helper process's side: `tillpipe __plugin-host`.
 *
 * One thread, one request at a time: load a plugin from the descriptor the
 * engine sent (and keep it), or parse a report with one, through the same
 * tp_parse_stream the engine runs in-process, its rows batched onto the
 * socket.  See sandbox.h for the limits and the filter. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "sandbox.h"
#include "sandbox_int.h"

#define FLUSH_BYTES (1024 * 1024)
#define MAX_PLUGINS 64
#define MAX_ANSWERS 64

typedef struct helper {
    int sock;
    tp_plugin *plugins[MAX_PLUGINS]; /* loaded, by sha256 */
    size_t nplugins;
    tp_sbx_buf out;
    size_t rows_at; /* the open ROWS frame, or SIZE_MAX */
    char *shm;      /* the two slots out fills in turn (NULL: frames go by the socket) */
    int slot;       /* the one out is filling */
    int busy[2];    /* handed over, not yet given back */
    double sent_at; /* when something last went out */
    int broken;     /* the engine went away */
    char *answers[MAX_ANSWERS]; /* config values given to the plugin, until close */
    size_t nanswers;
    /* the sink's hints for this parse: fields it reads, rows it wants */
    uint64_t fields;
    uint32_t key;
    tp_field *set; /* open addressing, nset slots (a power of two); NULL = every row */
    size_t nset;
    /* the parse's options, when the engine gave them all (else each is asked) */
    int all_opts;
    char *opts[2 * 256]; /* key, value, ... (NUL-terminated copies) */
    size_t nopts;
} helper;

static uint64_t hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static int wanted(const helper *h, tp_field v)
{
    for (size_t i = hash(v.ptr, v.len) & (h->nset - 1);; i = (i + 1) & (h->nset - 1)) {
        if (!h->set[i].ptr)
            return 0;
        if (h->set[i].len == v.len && memcmp(h->set[i].ptr, v.ptr, v.len) == 0)
            return 1;
    }
}

/* The options of a PARSE request, copied; -1 when malformed. */
static int read_opts(helper *h, tp_sbx_rd *r)
{
    h->all_opts = (int)tp__sbx_get_u32(r);
    uint32_t n = tp__sbx_get_u32(r);
    if (r->bad || n > 256)
        return -1;
    for (uint32_t i = 0; i < 2 * n; i++) {
        uint32_t len = tp__sbx_get_u32(r);
        const char *p = tp__sbx_get_bytes(r, len);
        if (!p || !(h->opts[h->nopts] = strndup(p, len)))
            return -1;
        h->nopts++;
    }
    return 0;
}

/* The key set of a PARSE request (its strings stay in the request). */
static int read_keys(helper *h, tp_sbx_rd *r)
{
    h->fields = tp__sbx_get_u64(r);
    h->key = tp__sbx_get_u32(r);
    uint32_t n = tp__sbx_get_u32(r);
    if (r->bad || n == 0)
        return r->bad ? -1 : 0;
    size_t slots = 16;
    while (slots < 2 * (size_t)n)
        slots *= 2;
    if (!(h->set = calloc(slots, sizeof *h->set)))
        return -1;
    h->nset = slots;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t len = tp__sbx_get_u32(r);
        const char *p = tp__sbx_get_bytes(r, len);
        if (!p)
            return -1;
        size_t i = hash(p, len) & (slots - 1);
        while (h->set[i].ptr && !(h->set[i].len == len && memcmp(h->set[i].ptr, p, len) == 0))
            i = (i + 1) & (slots - 1);
        h->set[i] = (tp_field){p, len};
    }
    return 0;
}

/* ---------------------------------------------------------- the filter */

/* No exec, no new processes, no network, no signals to others, nothing
 * written, created, renamed or removed: a parse reads the descriptors it is
 * given and writes to its socket.  Everything else (memory, threads, reads,
 * the dynamic loader's opens) is allowed. */
static int install_filter(void)
{
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
    if (!f)
        return -1;
    static const int deny[] = {
        SCMP_SYS(execve),    SCMP_SYS(execveat),  SCMP_SYS(fork),      SCMP_SYS(vfork),
        SCMP_SYS(socket),    SCMP_SYS(connect),   SCMP_SYS(bind),      SCMP_SYS(listen),
        SCMP_SYS(accept),    SCMP_SYS(accept4),   SCMP_SYS(ptrace),    SCMP_SYS(process_vm_writev),
        SCMP_SYS(creat),     SCMP_SYS(unlink),    SCMP_SYS(unlinkat),  SCMP_SYS(rename),
        SCMP_SYS(renameat),  SCMP_SYS(renameat2), SCMP_SYS(mkdir),     SCMP_SYS(mkdirat),
        SCMP_SYS(rmdir),     SCMP_SYS(link),      SCMP_SYS(linkat),    SCMP_SYS(symlink),
        SCMP_SYS(symlinkat), SCMP_SYS(truncate),  SCMP_SYS(chmod),     SCMP_SYS(fchmodat),
        SCMP_SYS(chown),     SCMP_SYS(lchown),    SCMP_SYS(fchownat),  SCMP_SYS(mknod),
        SCMP_SYS(mknodat),   SCMP_SYS(setrlimit), SCMP_SYS(prlimit64),
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof deny / sizeof deny[0]; i++)
        rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), deny[i], 0);
    /* threads may be made, processes not; clone3 makes glibc fall back to clone */
    rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0);
    pid_t me = getpid();
    rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill), 1,
                           SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)me));
    static const int wflags[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC};
    for (size_t i = 0; i < sizeof wflags / sizeof wflags[0]; i++) {
        scmp_datum_t w = (scmp_datum_t)wflags[i];
        rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(open), 1,
                               SCMP_A1(SCMP_CMP_MASKED_EQ, w, w));
        rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(openat), 1,
                               SCMP_A2(SCMP_CMP_MASKED_EQ, w, w));
    }
    if (rc == 0)
        rc = seccomp_load(f);
    seccomp_release(f);
    return rc;
}

/* ---------------------------------------------------------- output */

/* One message from the engine: its header and payload (malloc'd, freed by
 * the caller).  0 at the end of the stream or on an error. */
static int read_msg(helper *h, unsigned char hdr[TP_SBX_HDR], char **payload, int *fds, int *nfds)
{
    if (tp__sbx_read(h->sock, hdr, TP_SBX_HDR, fds, nfds) != 1)
        return 0;
    uint32_t len;
    memcpy(&len, hdr, sizeof len);
    char *p = len <= TP_SBX_FRAME_MAX ? malloc(len ? len : 1) : NULL;
    if (!p || tp__sbx_read(h->sock, p, len, NULL, NULL) != 1) {
        free(p);
        return 0;
    }
    *payload = p;
    return 1;
}

/* A FREE message: its slot is the helper's to fill again.  0 if not one. */
static int take_free(helper *h, const unsigned char hdr[TP_SBX_HDR], const char *p)
{
    uint32_t len, slot = 2;
    memcpy(&len, hdr, sizeof len);
    if (hdr[4] != TP_SBX_FREE || len != 4)
        return 0;
    memcpy(&slot, p, 4);
    if (slot > 1)
        return 0;
    h->busy[slot] = 0;
    return 1;
}

/* The next message that is not a FREE (those are taken on the way). */
static int next_msg(helper *h, unsigned char hdr[TP_SBX_HDR], char **payload, int *fds, int *nfds)
{
    for (;;) {
        int want = nfds ? *nfds : 0;
        char *p = NULL;
        if (!read_msg(h, hdr, &p, fds, nfds))
            return 0;
        if (!take_free(h, hdr, p)) {
            *payload = p;
            return 1;
        }
        free(p);
        if (nfds)
            *nfds = want;
    }
}

/* Point out at the other slot, once the engine has given it back. */
static void next_slot(helper *h)
{
    h->slot ^= 1;
    while (h->busy[h->slot]) {
        unsigned char hdr[TP_SBX_HDR];
        char *p = NULL;
        if (!read_msg(h, hdr, &p, NULL, NULL))
            _exit(0); /* the engine is gone */
        int ok = take_free(h, hdr, p);
        free(p);
        if (!ok)
            _exit(3); /* only FREE may come while a parse runs: confused, end */
    }
    h->out =
        (tp_sbx_buf){.p = h->shm + (size_t)h->slot * TP_SBX_SLOT, .cap = TP_SBX_SLOT, .fixed = 1};
}

static void flush(helper *h)
{
    if (h->rows_at != SIZE_MAX) {
        tp__sbx_end(&h->out, h->rows_at);
        h->rows_at = SIZE_MAX;
    }
    if (h->out.oom) {
        /* nothing sensible can follow a lost frame */
        static const char msg[] = "tillpipe: plugin helper: out of memory\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(3);
    }
    if (h->out.len && !h->broken && h->shm) {
        unsigned char msg[TP_SBX_HDR + 8] = {8, 0, 0, 0, TP_SBX_BATCH, 0, 0, 0};
        uint32_t slot = (uint32_t)h->slot, len = (uint32_t)h->out.len;
        memcpy(msg + TP_SBX_HDR, &slot, 4);
        memcpy(msg + TP_SBX_HDR + 4, &len, 4);
        h->busy[h->slot] = 1;
        if (tp__sbx_write(h->sock, msg, sizeof msg) < 0)
            h->broken = 1;
        else
            next_slot(h);
    } else if (h->out.len && !h->broken && tp__sbx_write(h->sock, h->out.p, h->out.len) < 0)
        h->broken = 1;
    h->out.len = 0;
    h->sent_at = tp_now();
}

/* Room for n more bytes in out: a full slot goes first. */
static void room(helper *h, size_t n)
{
    if (h->shm && h->out.len + n > h->out.cap)
        flush(h);
}

/* A frame other than rows, of at most `n` bytes: the open ROWS frame ends
 * first. */
static size_t frame(helper *h, int kind, size_t n)
{
    if (h->rows_at != SIZE_MAX) {
        tp__sbx_end(&h->out, h->rows_at);
        h->rows_at = SIZE_MAX;
    }
    room(h, TP_SBX_HDR + n);
    return tp__sbx_begin(&h->out, kind);
}

static int on_row(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    helper *h = ud;
    if (h->set && (h->key >= n || !wanted(h, f[h->key])))
        return 0; /* a row the sink does not want */
    tp_field masked[TP_SBX_FIELDS_MAX];
    if (h->fields && n <= TP_SBX_FIELDS_MAX) { /* and fields it does not read */
        for (size_t i = 0; i < n; i++)
            masked[i] = (h->fields >> i) & 1 ? f[i] : (tp_field){NULL, 0};
        f = masked;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += f[i].len;
    size_t need = 12 + 4 * n + bytes;
    if (need + 2 * TP_SBX_HDR > TP_SBX_SLOT || n > TP_SBX_FIELDS_MAX)
        return -1; /* a row no slot holds: the parse stops (TP_ESTOP) */
    if (h->rows_at != SIZE_MAX && (h->out.len - h->rows_at + need > TP_SBX_FRAME_MAX ||
                                   (h->shm && h->out.len + need > h->out.cap)))
        flush(h);
    if (h->rows_at == SIZE_MAX) {
        room(h, TP_SBX_HDR + need);
        h->rows_at = tp__sbx_begin(&h->out, TP_SBX_ROWS);
    }
    /* one reservation, then plain stores: this runs for every row */
    char *w = tp__sbx_reserve(&h->out, need);
    if (!w)
        return -1;
    uint32_t n32 = (uint32_t)n;
    memcpy(w, &line, 8);
    memcpy(w + 8, &n32, 4);
    w += 12;
    for (size_t i = 0; i < n; i++, w += 4) {
        uint32_t len = (uint32_t)f[i].len;
        memcpy(w, &len, 4);
    }
    for (size_t i = 0; i < n; i++) {
        if (f[i].len)
            memcpy(w, f[i].ptr, f[i].len);
        w += f[i].len;
    }
    if (h->out.len >= FLUSH_BYTES)
        flush(h);
    return h->broken ? -1 : 0;
}

static void on_problem(void *ud, uint64_t line, int severity, const char *reason)
{
    helper *h = ud;
    size_t n = strnlen(reason, 500); /* the engine keeps 511 bytes */
    size_t at = frame(h, TP_SBX_PROBLEM, 16 + n);
    tp__sbx_u64(&h->out, line);
    tp__sbx_u32(&h->out, (uint32_t)severity);
    tp__sbx_str(&h->out, reason, n);
    tp__sbx_end(&h->out, at);
}

/* Between two chunks: send what waits, or say we are alive. */
static int on_chunk(void *ud)
{
    helper *h = ud;
    double now = tp_now();
    if (now - h->sent_at >= 0.25) {
        if (!h->out.len && h->rows_at == SIZE_MAX)
            tp__sbx_end(&h->out, frame(h, TP_SBX_TICK, 0));
        flush(h);
    }
    return h->broken ? TP_ESTOP : TP_OK;
}

/* A parser option: asked of the engine, kept until the parse ends. */
static const char *on_config(void *ud, const char *key)
{
    helper *h = ud;
    if (h->all_opts) { /* the engine gave them all: nothing to ask */
        for (size_t i = 0; i + 1 < h->nopts; i += 2)
            if (strcmp(h->opts[i], key) == 0)
                return h->opts[i + 1];
        return NULL;
    }
    size_t kn = strnlen(key, 256);
    size_t at = frame(h, TP_SBX_CONFIG, 4 + kn);
    tp__sbx_str(&h->out, key, kn);
    tp__sbx_end(&h->out, at);
    flush(h);
    unsigned char hdr[TP_SBX_HDR];
    char *p = NULL;
    if (h->broken || !next_msg(h, hdr, &p, NULL, NULL))
        _exit(0); /* the engine is gone */
    uint32_t len;
    memcpy(&len, hdr, sizeof len);
    char *grown = hdr[4] == TP_SBX_CONFIG_REPLY ? realloc(p, (size_t)len + 1) : NULL;
    if (!grown)
        _exit(3);
    p = grown;
    tp_sbx_rd r = {p, len, 0};
    int present = (int)tp__sbx_get_u32(&r);
    uint32_t n = tp__sbx_get_u32(&r);
    const char *v = tp__sbx_get_bytes(&r, n);
    if (r.bad || !present || h->nanswers == MAX_ANSWERS) {
        free(p);
        return NULL;
    }
    memmove(p, v, n);
    p[n] = '\0';
    h->answers[h->nanswers++] = p;
    return p;
}

/* ---------------------------------------------------------- requests */

static tp_plugin *plugin_for(helper *h, const char *sha, int fd, const char *path,
                             tp_plugin_claims *claims, tp_error *err)
{
    for (size_t i = 0; i < h->nplugins; i++)
        if (strcmp(h->plugins[i]->sha256, sha) == 0) {
            close(fd);
            return h->plugins[i];
        }
    if (h->nplugins == MAX_PLUGINS) {
        close(fd);
        tp_error_set(err, TP_ELIMIT, "plugin %s: a helper holds %d plugins at most", path,
                     MAX_PLUGINS);
        return NULL;
    }
    tp_plugin *p = tp_plugin_load_fd(fd, path, sha, claims, err);
    if (p)
        h->plugins[h->nplugins++] = p;
    return p;
}

static void describe(helper *h, tp_sbx_rd *r, int fd)
{
    char sha[65], path[4096];
    tp__sbx_get_str(r, sha, sizeof sha);
    tp__sbx_get_str(r, path, sizeof path);
    tp_error err = {0};
    tp_plugin_claims c;
    memset(&c, 0, sizeof c);
    tp_plugin *p = r->bad ? NULL : plugin_for(h, sha, fd, path, &c, &err);
    json_t *o = p ? tp__desc_to_json(p->desc)
                  : json_pack("{s:s, s:s, s:s, s:s}", "error", err.msg, "name", c.name, "types",
                              c.types, "branches", c.branches);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    tp_sbx_buf b = {0}; /* by the socket: no parse is running */
    size_t at = tp__sbx_begin(&b, TP_SBX_DESC);
    tp__sbx_str(&b, s ? s : "{\"error\": \"out of memory\"}", s ? strlen(s) : 25);
    tp__sbx_end(&b, at);
    free(s);
    if (b.oom || tp__sbx_write(h->sock, b.p, b.len) < 0)
        h->broken = 1;
    free(b.p);
}

static void parse(helper *h, tp_sbx_rd *r, const int *fds)
{
    int type = (int)tp__sbx_get_u32(r);
    uint64_t chunk = tp__sbx_get_u64(r);
    char sha[65], name[256], version[256], file[4096];
    tp__sbx_get_str(r, sha, sizeof sha);
    tp__sbx_get_str(r, name, sizeof name);
    tp__sbx_get_str(r, version, sizeof version);
    tp__sbx_get_str(r, file, sizeof file);
    if (read_keys(h, r) < 0 || read_opts(h, r) < 0)
        r->bad = 1;
    tp_error err = {0};
    tp_parse_stats st = {0};
    int rc;
    tp_plugin *p = r->bad ? NULL : plugin_for(h, sha, fds[1], name, NULL, &err);
    FILE *in = p ? fdopen(fds[0], "rb") : NULL;
    if (!p)
        rc = err.code ? err.code : tp_error_set(&err, TP_EINVAL, "bad request");
    else if (strcmp(p->desc->name, name) != 0 || strcmp(p->desc->version, version) != 0)
        rc = tp_error_set(&err, TP_EPLUGIN, "plugin %s %s: the helper loaded %s %s instead", name,
                          version, p->desc->name, p->desc->version);
    else if (!in)
        rc = tp_error_set(&err, TP_EIO, "%s: %s", file, strerror(errno));
    else {
        tp_parse_options o = {.get = on_config,
                              .ud = h,
                              .chunk_size = (size_t)chunk,
                              .cancelled = on_chunk,
                              .cancel_ud = h};
        tp_parse_sink sink = {on_row, on_problem, h};
        rc = tp_parse_stream(p, (tp_report_type)type, in, file, &o, &sink, &st, &err);
    }
    if (in)
        fclose(in);
    else
        close(fds[0]);
    for (size_t i = 0; i < h->nanswers; i++)
        free(h->answers[i]);
    h->nanswers = 0;
    free(h->set);
    h->set = NULL;
    h->nset = 0;
    h->fields = 0;
    for (size_t i = 0; i < h->nopts; i++)
        free(h->opts[i]);
    h->nopts = 0;
    h->all_opts = 0;
    size_t at = frame(h, TP_SBX_DONE, 48 + strlen(err.msg));
    tp__sbx_u32(&h->out, (uint32_t)rc);
    tp__sbx_u64(&h->out, st.bytes);
    tp__sbx_u64(&h->out, st.rows);
    tp__sbx_u64(&h->out, st.warnings);
    tp__sbx_u64(&h->out, st.rejected);
    tp__sbx_str(&h->out, err.msg, rc < 0 ? strlen(err.msg) : 0);
    tp__sbx_end(&h->out, at);
    flush(h);
}

/* One request; 0 at the end of the stream. */
static int serve_one(helper *h)
{
    unsigned char hdr[TP_SBX_HDR];
    int fds[2] = {-1, -1}, nfds = 2;
    char *p = NULL;
    if (!next_msg(h, hdr, &p, fds, &nfds))
        return 0;
    uint32_t len;
    memcpy(&len, hdr, sizeof len);
    tp_sbx_rd r = {p, len, 0};
    if (hdr[4] == TP_SBX_DESCRIBE && nfds == 1)
        describe(h, &r, fds[0]);
    else if (hdr[4] == TP_SBX_PARSE && nfds == 2)
        parse(h, &r, fds);
    else {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        free(p);
        return 0; /* not a request: the engine side is confused; end */
    }
    free(p);
    return !h->broken;
}

int tp_sandbox_helper_main(int sock)
{
    signal(SIGPIPE, SIG_IGN);
    /* nothing but the standard streams, the socket and the slots */
    close_range(TP_SBX_SHM_FD + 1, ~0u, 0);
    char *shm = mmap(NULL, 2 * TP_SBX_SLOT, PROT_READ | PROT_WRITE, MAP_SHARED, TP_SBX_SHM_FD, 0);
    if (install_filter() != 0) {
        static const char msg[] = "tillpipe: plugin helper: cannot install its seccomp filter\n";
        (void)!write(2, msg, sizeof msg - 1);
        return 4;
    }
    helper h = {.sock = sock, .rows_at = SIZE_MAX, .sent_at = tp_now()};
    if (shm != MAP_FAILED) {
        h.shm = shm;
        h.slot = 1;
        next_slot(&h); /* slot 0 */
    }
    while (serve_one(&h))
        ;
    /* _exit: no atexit work (a sanitizer's leak check would ptrace) */
    _exit(0);
}
