/* sandbox.c -- the engine's side of the plugin helpers: the pool, a parse
 * watched from start to end, and what to say when a helper fails.  See
 * sandbox.h; the helper's side is sandbox_helper.c, the wire
 * sandbox_wire.c. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "sandbox_int.h"

#define TICK_MS 100         /* how often a running parse is looked at */
#define READ_CAP (1u << 20) /* the receive buffer; grows to one whole frame */

extern char **environ;

typedef struct helper {
    pid_t pid;
    int sock;
    int shm_fd; /* the rows' two slots (sandbox_int.h), mapped at shm */
    char *shm;
    unsigned generation;
    struct helper *next; /* idle list */
    char *in;            /* received, not yet handled */
    size_t len, cap;
} helper;

struct tp_sandbox {
    tp_sandbox_opts o;
    char exe[PATH_MAX];
    char **envp; /* the helpers' environment */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    helper *idle;
    unsigned live;       /* helpers started and not yet ended */
    unsigned generation; /* tp_sandbox_recycle moves it on */
    uint64_t failures;
    /* Helpers are started by one thread of the sandbox's own: a helper dies
     * with the thread that started it (PR_SET_PDEATHSIG), and the threads
     * that ask for one -- an HTTP connection's, a job's -- may end first. */
    pthread_t spawner;
    pthread_mutex_t smu;
    pthread_cond_t scv;
    int want, ready, quit; /* one request at a time */
    helper *made;
    tp_error made_err;
};

/* ---------------------------------------------------------- the pool */

/* The environment helpers run with: ours, and in a sanitizer build the
 * sanitizer told to let a plugin's crash be a crash and to skip its leak
 * check (a helper ends with _exit). */
static char **helper_env(void)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **e = calloc(n + 2, sizeof *e);
    if (!e)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
#if defined(__SANITIZE_ADDRESS__)
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0)
#endif
            e[k++] = strdup(environ[i]);
#if defined(__SANITIZE_ADDRESS__)
    e[k++] = strdup("ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_abort=0:"
                    "handle_sigfpe=0:handle_sigill=0:detect_leaks=0");
#endif
    for (size_t i = 0; i < k; i++)
        if (!e[i]) {
            for (size_t j = 0; j < k; j++)
                free(e[j]);
            free(e);
            return NULL;
        }
    return e;
}

static void *spawner_main(void *arg);

tp_sandbox *tp_sandbox_create(const tp_sandbox_opts *o, tp_error *err)
{
    tp_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) {
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    if (o)
        sb->o = *o;
    if (!sb->o.memory_mb)
        sb->o.memory_mb = TP_SANDBOX_MEMORY_MB;
    if (!sb->o.progress_s)
        sb->o.progress_s = TP_SANDBOX_PROGRESS_S;
    if (!sb->o.deadline_s && !sb->o.deadline_s_per_mb) {
        sb->o.deadline_s = 60;
        sb->o.deadline_s_per_mb = 1;
    }
    if (!sb->o.helpers)
        sb->o.helpers = 4;
    ssize_t n = sb->o.exe ? (ssize_t)snprintf(sb->exe, sizeof sb->exe, "%s", sb->o.exe)
                          : readlink("/proc/self/exe", sb->exe, sizeof sb->exe - 1);
    if (n <= 0 || (size_t)n >= sizeof sb->exe) {
        tp_error_set(err, TP_EIO, "plugin sandbox: cannot find the tillpipe binary: %s",
                     strerror(errno));
        free(sb);
        return NULL;
    }
    sb->exe[n] = '\0';
    sb->o.exe = sb->exe;
    if (!(sb->envp = helper_env())) {
        tp_error_set(err, TP_ENOMEM, "out of memory");
        free(sb);
        return NULL;
    }
    pthread_mutex_init(&sb->mu, NULL);
    pthread_cond_init(&sb->cv, NULL);
    pthread_mutex_init(&sb->smu, NULL);
    pthread_cond_init(&sb->scv, NULL);
    int e = pthread_create(&sb->spawner, NULL, spawner_main, sb);
    if (e != 0) {
        tp_error_set(err, TP_EIO, "plugin sandbox: cannot start its thread: %s", strerror(e));
        sb->spawner = 0;
        tp_sandbox_destroy(sb);
        return NULL;
    }
    return sb;
}

/* Start one helper; NULL with err set (in the spawner thread). */
static helper *spawn_now(tp_sandbox *sb, tp_error *err)
{
    helper *h = calloc(1, sizeof *h);
    int sv[2];
    if (!h || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        free(h);
        tp_error_set(err, TP_EIO, "plugin sandbox: cannot make a socket: %s", strerror(errno));
        return NULL;
    }
    /* room for a whole batch in flight: fewer wake-ups of either side */
    int sndbuf = 2 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
    int shm_fd = memfd_create("tillpipe-rows", MFD_CLOEXEC);
    char *shm = shm_fd >= 0 && ftruncate(shm_fd, 2 * (off_t)TP_SBX_SLOT) == 0
                    ? mmap(NULL, 2 * TP_SBX_SLOT, PROT_READ, MAP_SHARED, shm_fd, 0)
                    : MAP_FAILED;
    if (shm == MAP_FAILED) {
        tp_error_set(err, TP_EIO, "plugin sandbox: cannot share memory: %s", strerror(errno));
        if (shm_fd >= 0)
            close(shm_fd);
        close(sv[0]);
        close(sv[1]);
        free(h);
        return NULL;
    }
    char *argv[] = {sb->exe, "__plugin-host", NULL};
    struct rlimit as = {(rlim_t)sb->o.memory_mb << 20, (rlim_t)sb->o.memory_mb << 20};
    struct rlimit core = {0, 0};
    sigset_t none;
    sigemptyset(&none);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* the child of a threaded process: async-signal-safe calls only */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        sigprocmask(SIG_SETMASK, &none, NULL);
#if !defined(__SANITIZE_ADDRESS__) /* a sanitizer reserves terabytes of address space */
        setrlimit(RLIMIT_AS, &as);
#endif
        setrlimit(RLIMIT_CORE, &core);
        /* the socket as fd 3, the slots as fd 4 (moved clear of both first) */
        int s = fcntl(sv[1], F_DUPFD, 10), m = fcntl(shm_fd, F_DUPFD, 10);
        if (s < 0 || m < 0 || dup2(s, 3) != 3 || dup2(m, TP_SBX_SHM_FD) != TP_SBX_SHM_FD)
            _exit(126);
        execve(sb->exe, argv, sb->envp);
        _exit(127);
    }
    int e = errno;
    close(sv[1]);
    if (pid < 0) {
        munmap(shm, 2 * TP_SBX_SLOT);
        close(shm_fd);
        close(sv[0]);
        free(h);
        tp_error_set(err, TP_EIO, "plugin sandbox: cannot start a helper: %s", strerror(e));
        return NULL;
    }
    (void)as;
    h->pid = pid;
    h->sock = sv[0];
    h->shm_fd = shm_fd;
    h->shm = shm;
    return h;
}

static void *spawner_main(void *arg)
{
    tp_sandbox *sb = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the other threads' */
    pthread_mutex_lock(&sb->smu);
    for (;;) {
        while (!sb->want && !sb->quit)
            pthread_cond_wait(&sb->scv, &sb->smu);
        if (sb->quit)
            break;
        pthread_mutex_unlock(&sb->smu);
        tp_error e = {0};
        helper *h = spawn_now(sb, &e);
        pthread_mutex_lock(&sb->smu);
        sb->made = h;
        sb->made_err = e;
        sb->want = 0;
        sb->ready = 1;
        pthread_cond_broadcast(&sb->scv);
    }
    pthread_mutex_unlock(&sb->smu);
    return NULL;
}

/* A new helper, started by the spawner thread; NULL with err set. */
static helper *spawn(tp_sandbox *sb, tp_error *err)
{
    pthread_mutex_lock(&sb->smu);
    while (sb->want || sb->ready)
        pthread_cond_wait(&sb->scv, &sb->smu);
    sb->want = 1;
    pthread_cond_broadcast(&sb->scv);
    while (!sb->ready)
        pthread_cond_wait(&sb->scv, &sb->smu);
    helper *h = sb->made;
    if (!h && err)
        *err = sb->made_err;
    sb->ready = 0;
    sb->made = NULL;
    pthread_cond_broadcast(&sb->scv);
    pthread_mutex_unlock(&sb->smu);
    return h;
}

/* End a helper: killed, reaped; its status and peak memory (KiB) out. */
static void end_helper(helper *h, int kill_it, int *status, long *maxrss_kb)
{
    if (kill_it)
        kill(h->pid, SIGKILL);
    close(h->sock);
    munmap(h->shm, 2 * TP_SBX_SLOT);
    close(h->shm_fd);
    int st = 0;
    struct rusage ru = {0};
    while (wait4(h->pid, &st, 0, &ru) < 0 && errno == EINTR)
        ;
    if (status)
        *status = st;
    if (maxrss_kb)
        *maxrss_kb = ru.ru_maxrss;
    free(h->in);
    free(h);
}

/* An idle helper, or a new one when fewer than the limit run; waits
 * otherwise.  A helper found dead while idle is replaced. */
static helper *borrow(tp_sandbox *sb, tp_error *err)
{
    pthread_mutex_lock(&sb->mu);
    for (;;) {
        helper *h = sb->idle;
        if (h) {
            sb->idle = h->next;
            pthread_mutex_unlock(&sb->mu);
            if (waitpid(h->pid, NULL, WNOHANG) == 0)
                return h;
            end_helper(h, 0, NULL, NULL); /* died while idle (the OOM killer?) */
            pthread_mutex_lock(&sb->mu);
            sb->live--;
            continue;
        }
        if (sb->live < sb->o.helpers)
            break;
        pthread_cond_wait(&sb->cv, &sb->mu);
    }
    sb->live++;
    unsigned gen = sb->generation;
    pthread_mutex_unlock(&sb->mu);
    helper *h = spawn(sb, err);
    if (h)
        h->generation = gen;
    else {
        pthread_mutex_lock(&sb->mu);
        sb->live--;
        pthread_cond_signal(&sb->cv);
        pthread_mutex_unlock(&sb->mu);
    }
    return h;
}

/* Back to the pool, or ended (killed: it failed, or its generation is
 * over). */
static void give_back(tp_sandbox *sb, helper *h, int ok)
{
    pthread_mutex_lock(&sb->mu);
    int keep = ok && h->generation == sb->generation;
    if (keep) {
        h->len = 0;
        h->next = sb->idle;
        sb->idle = h;
    }
    pthread_mutex_unlock(&sb->mu);
    if (!keep) {
        end_helper(h, 1, NULL, NULL);
        pthread_mutex_lock(&sb->mu);
        sb->live--;
        pthread_mutex_unlock(&sb->mu);
    }
    pthread_mutex_lock(&sb->mu);
    pthread_cond_signal(&sb->cv);
    pthread_mutex_unlock(&sb->mu);
}

void tp_sandbox_recycle(tp_sandbox *sb)
{
    pthread_mutex_lock(&sb->mu);
    sb->generation++;
    helper *idle = sb->idle;
    sb->idle = NULL;
    pthread_mutex_unlock(&sb->mu);
    while (idle) {
        helper *next = idle->next;
        end_helper(idle, 1, NULL, NULL);
        pthread_mutex_lock(&sb->mu);
        sb->live--;
        pthread_cond_broadcast(&sb->cv);
        pthread_mutex_unlock(&sb->mu);
        idle = next;
    }
}

void tp_sandbox_destroy(tp_sandbox *sb)
{
    if (!sb)
        return;
    tp_sandbox_recycle(sb);
    if (sb->spawner) {
        pthread_mutex_lock(&sb->smu);
        sb->quit = 1;
        pthread_cond_broadcast(&sb->scv);
        pthread_mutex_unlock(&sb->smu);
        pthread_join(sb->spawner, NULL);
    }
    pthread_mutex_destroy(&sb->smu);
    pthread_cond_destroy(&sb->scv);
    for (size_t i = 0; sb->envp[i]; i++)
        free(sb->envp[i]);
    free(sb->envp);
    pthread_mutex_destroy(&sb->mu);
    pthread_cond_destroy(&sb->cv);
    free(sb);
}

const tp_sandbox_opts *tp_sandbox_limits(const tp_sandbox *sb)
{
    return &sb->o;
}

uint64_t tp_sandbox_failures(const tp_sandbox *sb)
{
    tp_sandbox *m = (tp_sandbox *)sb;
    pthread_mutex_lock(&m->mu);
    uint64_t n = m->failures;
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* ---------------------------------------------------------- receiving */

/* The next whole frame in the helper's buffer: its kind and payload, 1;
 * 0 when more must be read; -1 when what came is not a frame. */
static int next_frame(const char *buf, size_t n, size_t *at, int *kind, tp_sbx_rd *payload)
{
    if (n - *at < TP_SBX_HDR)
        return 0;
    uint32_t len;
    memcpy(&len, buf + *at, sizeof len);
    if (len > TP_SBX_FRAME_MAX)
        return -1;
    if (n - *at - TP_SBX_HDR < len)
        return 0;
    *kind = (unsigned char)buf[*at + 4];
    *payload = (tp_sbx_rd){buf + *at + TP_SBX_HDR, len, 0};
    *at += TP_SBX_HDR + len;
    return 1;
}

/* Read what the helper sent: >0 bytes, 0 at its end, -1 on error. */
static ssize_t receive(helper *h)
{
    if (h->cap - h->len < 65536) {
        size_t cap = h->cap ? h->cap * 2 : READ_CAP;
        if (cap > TP_SBX_FRAME_MAX + TP_SBX_HDR + READ_CAP)
            cap = TP_SBX_FRAME_MAX + TP_SBX_HDR + READ_CAP;
        char *p = cap > h->cap ? realloc(h->in, cap) : h->in;
        if (!p)
            return -1;
        h->in = p;
        h->cap = cap;
    }
    ssize_t n;
    do
        n = read(h->sock, h->in + h->len, h->cap - h->len);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        h->len += (size_t)n;
    return n;
}

/* ---------------------------------------------------------- descriptors */

typedef struct desc_copy {
    tp_plugin_desc d; /* first: the copy is its descriptor */
    char *strs[3];    /* name, version, license */
    char **lists[2];  /* types, branches */
} desc_copy;

static json_t *strv_json(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *tp__desc_to_json(const tp_plugin_desc *d)
{
    return json_pack("{s:s, s:s, s:s?, s:i, s:i, s:I, s:I, s:o, s:o}", "name", d->name, "version",
                     d->version, "license", d->license, "abi_major", (int)d->abi_major, "abi_minor",
                     (int)d->abi_minor, "size", (json_int_t)d->size, "flags", (json_int_t)d->flags,
                     "types", strv_json(d->types), "branches", strv_json(d->branches));
}

static char **strv_copy(const json_t *a)
{
    size_t n = json_array_size(a);
    char **v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        if (!json_is_string(json_array_get(a, i)) ||
            !(v[i] = strdup(json_string_value(json_array_get(a, i))))) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return NULL;
        }
    return v;
}

void tp__desc_copy_free(void *copy)
{
    desc_copy *c = copy;
    if (!c)
        return;
    for (int i = 0; i < 3; i++)
        free(c->strs[i]);
    for (int i = 0; i < 2; i++)
        for (size_t j = 0; c->lists[i] && c->lists[i][j]; j++)
            free(c->lists[i][j]);
    free(c->lists[0]);
    free(c->lists[1]);
    free(c);
}

tp_plugin_desc *tp__desc_from_json(const json_t *o)
{
    const char *s[3] = {NULL, NULL, ""};
    json_int_t major = 0, minor = 0, size = 0, flags = 0;
    json_t *types = NULL, *branches = NULL;
    desc_copy *c = calloc(1, sizeof *c);
    if (!c ||
        json_unpack((json_t *)o, "{s:s, s:s, s?:s, s:I, s:I, s:I, s:I, s:o, s:o}", "name", &s[0],
                    "version", &s[1], "license", &s[2], "abi_major", &major, "abi_minor", &minor,
                    "size", &size, "flags", &flags, "types", &types, "branches", &branches) != 0) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < 3; i++)
        c->strs[i] = strdup(s[i]);
    c->lists[0] = strv_copy(types);
    c->lists[1] = strv_copy(branches);
    if (!c->strs[0] || !c->strs[1] || !c->strs[2] || !c->lists[0] || !c->lists[1]) {
        tp__desc_copy_free(c);
        return NULL;
    }
    c->d = (tp_plugin_desc){.magic = TP_SDK_MAGIC,
                            .abi_major = (uint16_t)major,
                            .abi_minor = (uint16_t)minor,
                            .size = (uint32_t)size,
                            .flags = (uint32_t)flags,
                            .name = c->strs[0],
                            .version = c->strs[1],
                            .license = c->strs[2],
                            .types = (const char *const *)c->lists[0],
                            .branches = (const char *const *)c->lists[1]};
    return &c->d;
}

/* ---------------------------------------------------------- one parse */

typedef struct run {
    tp_sandbox *sb;
    const tp_plugin *p;
    helper *h;
    const char *name;
    const tp_parse_options *opts;
    const tp_parse_sink *sink;
    tp_parse_stats *stats;
    tp_error *err;
    int done; /* DONE came: rc is the parse's result */
    int rc;
    char why[160];  /* set: the helper failed, this is what happened */
    int stop_code;  /* set: the caller or the sink stopped the parse */
    unsigned cpu_s; /* the CPU seconds this parse may use */
} run;

/* The helper may use `seconds` more of CPU time from now (SIGXCPU after).
 * Set from here: the helper's filter refuses it setrlimit, so a plugin
 * cannot lift it; the hard limit stays open so the next parse can move it. */
static void cpu_limit(pid_t pid, unsigned seconds)
{
    clockid_t clk;
    struct timespec used;
    if (clock_getcpuclockid(pid, &clk) != 0 || clock_gettime(clk, &used) != 0)
        return;
    struct rlimit rl = {(rlim_t)used.tv_sec + 1 + seconds, RLIM_INFINITY};
    prlimit(pid, RLIMIT_CPU, &rl, NULL);
}

__attribute__((format(printf, 2, 3))) static void failed(run *r, const char *fmt, ...)
{
    if (r->why[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

/* A ROWS frame to the sink: every length checked against the frame once,
 * fields handed over where they lie (this runs for every row). */
static void deliver_rows(run *r, tp_sbx_rd *rd)
{
    const char *p = rd->p, *end = rd->p + rd->left;
    while (p < end && !r->stop_code && !r->why[0]) {
        uint64_t line;
        uint32_t n;
        if ((size_t)(end - p) < 12)
            goto bad;
        memcpy(&line, p, 8);
        memcpy(&n, p + 8, 4);
        p += 12;
        if (n > TP_SBX_FIELDS_MAX || (size_t)(end - p) < 4 * (size_t)n)
            goto bad;
        tp_field f[TP_SBX_FIELDS_MAX];
        size_t total = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t len;
            memcpy(&len, p + 4 * (size_t)i, 4);
            f[i].len = len;
            total += len;
        }
        p += 4 * (size_t)n;
        if ((size_t)(end - p) < total)
            goto bad;
        for (uint32_t i = 0; i < n; i++) {
            f[i].ptr = p;
            p += f[i].len;
        }
        if (r->sink->row && r->sink->row(r->sink->ud, line, f, n) < 0)
            r->stop_code = r->err && r->err->code ? r->err->code : TP_ESTOP;
    }
    return;
bad:
    failed(r, "sent a malformed message");
}

static void answer_config(run *r, tp_sbx_rd *rd)
{
    char key[256];
    tp__sbx_get_str(rd, key, sizeof key);
    const char *v = r->opts && r->opts->get && !rd->bad ? r->opts->get(r->opts->ud, key) : NULL;
    tp_sbx_buf b = {0};
    size_t at = tp__sbx_begin(&b, TP_SBX_CONFIG_REPLY);
    tp__sbx_u32(&b, v != NULL);
    tp__sbx_str(&b, v ? v : "", v ? strlen(v) : 0);
    tp__sbx_end(&b, at);
    if (b.oom || tp__sbx_write(r->h->sock, b.p, b.len) < 0)
        failed(r, "stopped reading its socket");
    free(b.p);
}

static void finished(run *r, tp_sbx_rd *rd)
{
    r->rc = (int)tp__sbx_get_u32(rd);
    tp_parse_stats st;
    st.bytes = tp__sbx_get_u64(rd);
    st.rows = tp__sbx_get_u64(rd);
    st.warnings = tp__sbx_get_u64(rd);
    st.rejected = tp__sbx_get_u64(rd);
    char msg[sizeof r->err->msg];
    tp__sbx_get_str(rd, msg, sizeof msg);
    if (rd->bad || r->rc > 0 || r->rc < TP_ECRASHED) {
        failed(r, "sent a malformed message");
        return;
    }
    if (r->stats)
        *r->stats = st;
    r->done = 1;
    if (r->rc < 0)
        tp_error_set(r->err, r->rc, "%s", msg);
}

static void handle_batch(run *r, tp_sbx_rd *rd);

/* Handle every whole frame of buf[0..n); returns the bytes used.  `shm`:
 * the frames of a batch (which holds no batch). */
static size_t handle_buffer(run *r, const char *buf, size_t n, int shm)
{
    size_t at = 0;
    int kind;
    tp_sbx_rd rd;
    int got;
    while (!r->done && !r->why[0] && !r->stop_code &&
           (got = next_frame(buf, n, &at, &kind, &rd)) != 0) {
        if (got < 0) {
            failed(r, "sent a malformed message");
            break;
        }
        if (kind == TP_SBX_BATCH && !shm)
            handle_batch(r, &rd);
        else if (kind == TP_SBX_ROWS)
            deliver_rows(r, &rd);
        else if (kind == TP_SBX_PROBLEM) {
            uint64_t line = tp__sbx_get_u64(&rd);
            int sev = (int)tp__sbx_get_u32(&rd);
            char reason[512];
            tp__sbx_get_str(&rd, reason, sizeof reason);
            if (rd.bad)
                failed(r, "sent a malformed message");
            else if (r->sink->problem)
                r->sink->problem(r->sink->ud, line, sev, reason);
        } else if (kind == TP_SBX_CONFIG)
            answer_config(r, &rd);
        else if (kind == TP_SBX_DONE)
            finished(r, &rd);
        else if (kind != TP_SBX_TICK)
            failed(r, "sent a malformed message");
    }
    if (shm && at != n && !r->done && !r->why[0] && !r->stop_code)
        failed(r, "sent a malformed message"); /* a batch is whole frames */
    return at;
}

/* A slot of rows in shared memory: handled where it lies, then given back. */
static void handle_batch(run *r, tp_sbx_rd *rd)
{
    uint32_t slot = tp__sbx_get_u32(rd), len = tp__sbx_get_u32(rd);
    if (rd->bad || slot > 1 || len > TP_SBX_SLOT || !r->h->shm) {
        failed(r, "sent a malformed message");
        return;
    }
    handle_buffer(r, r->h->shm + (size_t)slot * TP_SBX_SLOT, len, 1);
    unsigned char msg[TP_SBX_HDR + 4] = {4, 0, 0, 0, TP_SBX_FREE, 0, 0, 0};
    memcpy(msg + TP_SBX_HDR, &slot, 4);
    (void)tp__sbx_write(r->h->sock, msg, sizeof msg); /* a helper gone: its end says why */
}

/* Handle every whole frame received. */
static void handle_frames(run *r)
{
    helper *h = r->h;
    size_t at = handle_buffer(r, h->in, h->len, 0);
    memmove(h->in, h->in + at, h->len - at);
    h->len -= at;
}

/* The helper's resident memory in MB, or 0. */
static unsigned long resident_mb(pid_t pid)
{
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long size = 0, res = 0;
    if (sscanf(buf, "%lu %lu", &size, &res) != 2)
        return 0;
    return (unsigned long)((unsigned long long)res * (unsigned long long)sysconf(_SC_PAGESIZE) >>
                           20);
}

/* Every TICK_MS: a cancel, memory over the limit, the deadline. */
static void look(run *r, double started, double last_output, double deadline)
{
    const tp_sandbox_opts *o = &r->sb->o;
    double now = tp_now();
    int stop = r->opts && r->opts->cancelled ? r->opts->cancelled(r->opts->cancel_ud) : 0;
    if (stop)
        r->stop_code = stop;
    else if (resident_mb(r->h->pid) > o->memory_mb)
        failed(r, "exceeded its %u MB memory limit", o->memory_mb);
    else if (now - last_output > o->progress_s)
        failed(r, "made no progress for %u s", o->progress_s);
    else if (now - started > deadline)
        failed(r, "took longer than its deadline of %.0f s", deadline);
}

/* Watch the helper until the parse ends one way or another. */
static void pump(run *r, double deadline)
{
    double started = tp_now(), last_output = started, looked = 0;
    while (!r->done && !r->why[0] && !r->stop_code) {
        struct pollfd pfd = {r->h->sock, POLLIN, 0};
        int n = poll(&pfd, 1, TICK_MS);
        if (n > 0) {
            ssize_t got = receive(r->h);
            if (got <= 0) {
                if (got < 0 && errno == EINTR)
                    continue;
                failed(r, "ended"); /* its status says how */
                break;
            }
            last_output = tp_now();
            handle_frames(r);
        }
        if (tp_now() - looked >= TICK_MS / 1000.0) {
            look(r, started, last_output, deadline);
            looked = tp_now();
        }
    }
}

/* What a helper's end says about the plugin. */
static void describe_end(const run *r, int status, long maxrss_kb, char *out, size_t n)
{
    const tp_sandbox_opts *o = &r->sb->o;
    int near_limit = maxrss_kb >= (long)o->memory_mb * 1024 / 2;
    if (strcmp(r->why, "ended") != 0)
        snprintf(out, n, "%s", r->why);
    else if (WIFEXITED(status))
        snprintf(out, n, "exited with %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
        snprintf(out, n, "exceeded its CPU time limit of %u s", r->cpu_s);
    else if (WIFSIGNALED(status))
        snprintf(out, n, "%skilled by SIG%s", near_limit ? "ran out of memory and was " : "",
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        snprintf(out, n, "ended (status %d)", status);
    if (near_limit && WIFSIGNALED(status) && strcmp(r->why, "ended") == 0) {
        size_t k = strlen(out);
        snprintf(out + k, n - k, " (peak %ld MB, limit %u MB)", maxrss_kb / 1024, o->memory_mb);
    }
}

static int request_parse(run *r, tp_report_type type, int fd)
{
    const tp_plugin *p = r->p;
    tp_sbx_buf b = {0};
    size_t at = tp__sbx_begin(&b, TP_SBX_PARSE);
    tp__sbx_u32(&b, (uint32_t)type);
    tp__sbx_u64(&b, r->opts ? r->opts->chunk_size : 0);
    tp__sbx_str(&b, p->sha256, strlen(p->sha256));
    tp__sbx_str(&b, p->desc->name, strlen(p->desc->name));
    tp__sbx_str(&b, p->desc->version, strlen(p->desc->version));
    tp__sbx_str(&b, r->name, strlen(r->name));
    /* the sink's hints (a key set too large for one frame is left out) */
    const tp_parse_options *o = r->opts;
    size_t kbytes = 0;
    for (size_t i = 0; o && o->keys && i < o->nkeys; i++)
        kbytes += 4 + o->keys[i].len;
    int keys = o && o->keys && kbytes < TP_SBX_FRAME_MAX / 2;
    tp__sbx_u64(&b, o ? o->fields : 0);
    tp__sbx_u32(&b, keys ? (uint32_t)o->key : 0);
    tp__sbx_u32(&b, keys ? (uint32_t)o->nkeys : 0);
    for (size_t i = 0; keys && i < o->nkeys; i++)
        tp__sbx_str(&b, o->keys[i].ptr, o->keys[i].len);
    /* every option at once, when they can be listed: no round trip each */
    size_t nopts = 0;
    const char *k, *v;
    while (o && o->at && nopts < 256 && o->at(o->ud, nopts, &v))
        nopts++;
    int all = o && o->at && nopts < 256;
    tp__sbx_u32(&b, (uint32_t)all);
    tp__sbx_u32(&b, all ? (uint32_t)nopts : 0);
    for (size_t i = 0; all && i < nopts && (k = o->at(o->ud, i, &v)); i++) {
        tp__sbx_str(&b, k, strlen(k));
        tp__sbx_str(&b, v ? v : "", v ? strlen(v) : 0);
    }
    tp__sbx_end(&b, at);
    int fds[2] = {fd, p->fd};
    int rc = b.oom ? -1 : tp__sbx_write_fds(r->h->sock, b.p, b.len, fds, 2);
    free(b.p);
    return rc;
}

int tp_sandbox_parse(tp_sandbox *sb, const tp_plugin *p, tp_report_type type, int fd,
                     const char *name, const tp_parse_options *opts, const tp_parse_sink *sink,
                     tp_parse_stats *stats, tp_error *err)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    struct stat st;
    double mb = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (double)st.st_size / 1e6 : 0;
    /* CPU: the file's budget; wall clock: twice that and the progress
     * timeout (a helper that sleeps instead is caught by no progress) */
    double budget = sb->o.deadline_s + sb->o.deadline_s_per_mb * mb;
    double deadline = 2 * budget + sb->o.progress_s;
    run r = {.sb = sb,
             .p = p,
             .name = name,
             .opts = opts,
             .sink = sink,
             .stats = stats,
             .err = err,
             .cpu_s = (unsigned)budget + 1};
    if (!(r.h = borrow(sb, err)))
        return err ? err->code : TP_EIO;
    cpu_limit(r.h->pid, r.cpu_s);
    if (request_parse(&r, type, fd) < 0)
        failed(&r, "ended");
    else
        pump(&r, deadline);
    if (r.done) {
        give_back(sb, r.h, 1);
        return r.rc;
    }
    int status = 0;
    long maxrss = 0;
    end_helper(r.h, 1, &status, &maxrss);
    pthread_mutex_lock(&sb->mu);
    sb->live--;
    sb->failures += r.stop_code == 0;
    pthread_cond_signal(&sb->cv);
    pthread_mutex_unlock(&sb->mu);
    if (r.stop_code)
        return err && err->code ? err->code
                                : tp_error_set(err, r.stop_code, "%s: parse stopped: %s", name,
                                               tp_strerror(r.stop_code));
    char what[256];
    describe_end(&r, status, maxrss, what, sizeof what);
    return tp_error_set(err, TP_ECRASHED, "plugin %s %s (sha256 %s) failed on %s: %s",
                        p->desc->name, p->desc->version, p->sha256, name, what);
}

/* ---------------------------------------------------------- describe */

int tp_sandbox_describe(tp_sandbox *sb, tp_plugin *p, tp_plugin_claims *claims, tp_error *err)
{
    if (claims)
        memset(claims, 0, sizeof *claims);
    helper *h = borrow(sb, err);
    if (!h)
        return err ? err->code : TP_EIO;
    tp_sbx_buf b = {0};
    size_t at = tp__sbx_begin(&b, TP_SBX_DESCRIBE);
    tp__sbx_str(&b, p->sha256, strlen(p->sha256));
    tp__sbx_str(&b, p->path, strlen(p->path));
    tp__sbx_end(&b, at);
    int ok = !b.oom && tp__sbx_write_fds(h->sock, b.p, b.len, &p->fd, 1) == 0;
    free(b.p);
    json_t *o = NULL;
    double until = tp_now() + sb->o.progress_s;
    while (ok && !o && tp_now() < until) {
        struct pollfd pfd = {h->sock, POLLIN, 0};
        if (poll(&pfd, 1, TICK_MS) <= 0)
            continue;
        ok = receive(h) > 0;
        size_t used = 0;
        int kind;
        tp_sbx_rd rd;
        if (ok && next_frame(h->in, h->len, &used, &kind, &rd) > 0 && kind == TP_SBX_DESC) {
            uint32_t n = tp__sbx_get_u32(&rd);
            const char *s = tp__sbx_get_bytes(&rd, n);
            o = s ? json_loadb(s, n, 0, NULL) : NULL;
            ok = o != NULL;
            h->len = 0;
        }
    }
    const char *emsg = o ? json_string_value(json_object_get(o, "error")) : NULL;
    const char *cl[3] = {NULL, NULL, NULL};
    if (emsg && claims &&
        json_unpack(o, "{s:s, s:s, s:s}", "name", &cl[0], "types", &cl[1], "branches", &cl[2]) ==
            0) {
        snprintf(claims->name, sizeof claims->name, "%s", cl[0]);
        snprintf(claims->types, sizeof claims->types, "%s", cl[1]);
        snprintf(claims->branches, sizeof claims->branches, "%s", cl[2]);
    }
    tp_plugin_desc *d = o && !emsg ? tp__desc_from_json(o) : NULL;
    int rc = d      ? TP_OK
             : emsg ? tp_error_set(err, TP_EPLUGIN, "%s", emsg)
                    : tp_error_set(err, TP_EPLUGIN,
                                   "plugin %s: its helper process failed while loading it (a "
                                   "crash or exit in its constructor?)",
                                   p->path);
    json_decref(o);
    if (rc == TP_OK) {
        p->copy = d;
        p->desc = d;
    }
    /* a helper that loaded a plugin that failed its checks is not reused */
    if (rc == TP_OK)
        give_back(sb, h, 1);
    else {
        end_helper(h, 1, NULL, NULL);
        pthread_mutex_lock(&sb->mu);
        sb->live--;
        pthread_cond_signal(&sb->cv);
        pthread_mutex_unlock(&sb->mu);
    }
    return rc;
}
