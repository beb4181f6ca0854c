/* tillpipe-reportsim: a simulator of the chain's report server (fetch_list2.php + file
 * downloads) with scriptable fault injection, for the tests, the demo and the benchmarks.
 *
 * One process serves one folder: every report file under --dir is indexed by
 * (branch, terminal, business date) at start and on POST /_sim/rescan. Faults come from
 * --fault options and from a small JSON control API on the same port (see README.md).
 *
 * Threads: libmicrohttpd's pool answers requests; a "waker" thread resumes connections
 * that a latency fault suspended; the main thread only waits for SIGTERM/SIGINT. All
 * state shared between them lives in struct sim and is guarded by sim.mu (the waker's
 * queue by sched.mu). Nothing here is a mutable global. */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------
 * Limits. Every buffer filled from outside (form fields, control bodies, paths, files
 * read for partial exports) has one.
 * ------------------------------------------------------------------------------------- */

#define SIM_MAX_PATH 1024                /* longest relative path indexed or requested */
#define SIM_MAX_DEPTH 32                 /* deepest folder scanned below --dir */
#define SIM_MAX_FIELD 64                 /* longest list form value accepted */
#define SIM_MAX_CTRL_BODY 65536          /* largest control API request body */
#define SIM_MAX_MATCH 256                /* longest fault "match" string */
#define SIM_MAX_RULES 1024               /* fault rules alive at once */
#define SIM_MAX_VIRTUAL (1u << 20)       /* virtual file names remembered */
#define SIM_MAX_PARTIAL_SRC (256u << 20) /* largest CSV a partial export is cut from */
#define SIM_MAX_MS 600000u               /* longest injected latency (10 min) */
#define SIM_MAX_THREADS 256
#define SIM_BLOCK 65536       /* block size of callback responses */
#define SIM_STOP_WAIT_MS 5000 /* how long shutdown waits for delayed requests */

static const char LIST_URL[] = "/fetch_list2.php";
static const char CTRL_PREFIX[] = "/_sim/";

static const char HTML_ERROR_PAGE[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Error</title></head>"
    "<body><h1>Error</h1><p>An error occurred while processing your request.</p></body>"
    "</html>\n";
static const char HTML_500_PAGE[] =
    "<!doctype html>\n<html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1></body></html>\n";
static const char HTML_404_PAGE[] =
    "<!doctype html>\n<html><head><title>404 Not Found</title></head>"
    "<body><h1>Not Found</h1></body></html>\n";
static const char HTML_405_PAGE[] =
    "<!doctype html>\n<html><head><title>405 Method Not Allowed</title></head>"
    "<body><h1>Method Not Allowed</h1></body></html>\n";
static const char ERRTEXT_BODY[] =
    "An error occurred, check your Internet or contact a technician.";
static const char MIME_HTML[] = "text/html; charset=UTF-8";
static const char MIME_JSON[] = "application/json";

/* ---------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------- */

enum ftype { FT_CSV, FT_ZIP, FT_TAR, FT_TGZ };
static const char *const ftype_mime[] = {
    [FT_CSV] = "text/csv",
    [FT_ZIP] = "application/zip",
    [FT_TAR] = "application/x-tar",
    [FT_TGZ] = "application/gzip",
};

/* One indexed report file. */
struct entry {
    char *path;      /* relative to --dir, '/'-separated, owned */
    char *key;       /* "BRANCH/POS/DATE", owned */
    size_t name_off; /* start of the file name inside path */
    long hhmm_off;   /* offset of the "HH-MM" export time in path, -1 if none (archives) */
    enum ftype type;
};

/* The file index: immutable once built; a rescan builds a new one and swaps it in. */
struct sim_index {
    struct entry *v; /* sorted by key, then file name, then path */
    size_t n;
    size_t *by_path; /* positions in v sorted by path, for GET */
    size_t skipped;  /* regular files that are not report names (or have odd characters) */
};

/* A file that exists only in list answers changed by a duplicate/partial fault. */
enum vkind { VK_DUPLICATE, VK_PARTIAL };
struct vfile {
    char *path; /* the virtual relative path (owned); NULL marks a free slot */
    char *real; /* the real file it is computed from (owned) */
    enum vkind kind;
};
struct vtable {
    struct vfile *slots; /* open addressing, linear probing, power-of-two size */
    size_t cap, n;
};

enum kind {
    K_LATENCY,
    K_HTTP500,
    K_HTML,
    K_ERRTEXT,
    K_TRUNCATE,
    K_RESET,
    K_DUPLICATE,
    K_PARTIAL,
    K_NOTCSV,
    K__COUNT,
    K_NONE = K__COUNT
};
static const char *const kind_names[K__COUNT] = {
    "latency", "http500", "html", "errtext", "truncate", "reset", "duplicate", "partial", "notcsv",
};

enum target { T_LIST, T_FILE, T_ANY };
static const char *const target_names[] = {"list", "file", "any"};

enum mode { M_ALWAYS, M_COUNT, M_RATE };

/* A fault rule as given (by --fault or POST /_sim/faults), before validation. */
struct rule_spec {
    int kind;                      /* enum kind, -1 when not given */
    int target;                    /* enum target, -1 when not given (a per-kind default applies) */
    bool has_count;                /* count given */
    bool has_rate;                 /* rate given */
    uint64_t count;                /* >= 1 */
    double rate;                   /* in [0,1] */
    char match[SIM_MAX_MATCH + 1]; /* empty matches everything */
    unsigned ms;                   /* delay in milliseconds */
};

struct rule {
    unsigned id;
    enum kind kind;
    enum target target;
    enum mode mode;
    char *match;    /* owned; NULL matches everything */
    uint64_t count; /* M_COUNT: matching requests still to hit */
    double rate;    /* M_RATE: probability per matching request */
    unsigned ms;    /* delay before answering when the rule fires */
    uint64_t rng;   /* per-rule generator, seeded from --seed and the id */
    uint64_t fired; /* how many requests it hit */
};

/* What the rules decided for one request. */
struct verdict {
    unsigned ms;      /* total delay before answering */
    enum kind action; /* response-replacing fault, K_NONE for none */
    bool duplicate;   /* list: add duplicate virtual files */
    bool partial;     /* list: add partial virtual files */
    char fired[160];  /* names of the fired kinds, for the log */
};

struct stats {
    uint64_t requests; /* every request except the control API */
    uint64_t lists;    /* list requests (valid or not) */
    uint64_t files;    /* GETs that named an indexed or virtual file */
    uint64_t notfound; /* GETs answered 404 */
    uint64_t bytes;    /* file body bytes sent (completed downloads + truncated parts) */
    uint64_t faults[K__COUNT];
};

/* The latency scheduler: suspended connections and when to resume them. */
struct waiter {
    struct MHD_Connection *c;
    struct timespec due; /* CLOCK_MONOTONIC */
};
struct sched {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* new waiter, a re-entered connection, or stop */
    struct waiter *v;
    size_t n, cap;
    size_t suspended; /* suspended (or about to be) and not yet re-entered */
    bool stop;
    bool started;
    pthread_t th;
};

struct sim {
    /* Set before the daemon starts, read-only afterwards. */
    const char *dir;
    int dirfd;
    uint64_t seed;
    bool quiet;
    struct MHD_Daemon *daemon;
    struct sched sched;

    pthread_mutex_t mu; /* guards everything below */
    struct sim_index ix;
    struct vtable vt;
    struct rule *rules;
    size_t nrules;
    unsigned next_id;
    struct stats st;
};

enum what { W_LIST, W_FILE, W_CTRL, W_OTHER };
enum { F_BRANCH, F_POS, F_DATE, F__COUNT };

/* Per-request state, hung on MHD's con_cls and freed in on_completed(). */
struct req {
    enum what what;
    struct MHD_PostProcessor *pp;
    char form[F__COUNT][SIM_MAX_FIELD + 1];
    bool form_bad; /* a field was too long */
    char *body;    /* control API request body, NUL-terminated, bounded */
    size_t body_len;
    bool body_big;
    bool decided;  /* rules evaluated and counters bumped */
    bool delayed;  /* latency already served */
    bool in_sched; /* suspended by the scheduler and not yet re-entered */
    struct verdict v;
    char subject[SIM_MAX_PATH + 1]; /* list key or requested path */
    char *real;                     /* file: real path to read, owned */
    enum ftype type;
    bool is_virtual;
    enum vkind vk;
    uint64_t content_bytes; /* body bytes to count when the response completes */
};

/* ---------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void sim_log(const struct sim *s, const char *fmt, ...)
{
    if (s->quiet)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "reportsim: %s\n", line);
}

static bool ends_with_ci(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* YYYY-MM-DD with a plausible month and day. */
static bool is_date(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) || !all_digits(s + 5, 2) ||
        !all_digits(s + 8, 2))
        return false;
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static bool is_branch(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Characters allowed in a served path: they need no URL escaping and cannot break the
 * comma-separated list. */
static bool path_chars_ok(const char *p)
{
    for (; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '/';
        if (!ok)
            return false;
    }
    return true;
}

/* A requested path is acceptable when it is short, relative, and has no empty, "." or
 * ".." segment. Anything else is answered 404 without looking it up. */
static bool request_path_ok(const char *p)
{
    size_t len = strlen(p);
    if (len == 0 || len > SIM_MAX_PATH || p[0] == '/')
        return false;
    const char *seg = p;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!slash)
            return true;
        seg = slash + 1;
    }
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0,1). */
static double rng_unit(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Strict unsigned parse: the whole string, decimal, at most max. 0 ok, -1 otherwise. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || !all_digits(s, strlen(s)))
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0.0 && v <= 1.0))
        return -1;
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Report names
 * ------------------------------------------------------------------------------------- */

struct name_info {
    const char *branch, *pos, *date;
    size_t branch_len, pos_len;
    long hhmm_off; /* offset of "HH-MM" in the name, -1 if none */
    enum ftype type;
};

/* Recognises `<prefix>_<BRANCH>_<POS>_<type>_<YYYY-MM-DD>_<HH-MM>_.csv` (the export time
 * is optional for indexing but needed for virtual files) and archives
 * `<prefix>_<BRANCH>_<POS>_<anything>_<YYYY-MM-DD>...{.zip,.tar,.tar.gz,.tgz}`. */
static bool parse_report_name(const char *name, struct name_info *ni)
{
    size_t len = strlen(name);
    if (ends_with_ci(name, len, ".csv"))
        ni->type = FT_CSV;
    else if (ends_with_ci(name, len, ".zip"))
        ni->type = FT_ZIP;
    else if (ends_with_ci(name, len, ".tar.gz") || ends_with_ci(name, len, ".tgz"))
        ni->type = FT_TGZ;
    else if (ends_with_ci(name, len, ".tar"))
        ni->type = FT_TAR;
    else
        return false;

    const char *f[6] = {0};
    size_t fl[6] = {0};
    int nf = 0;
    const char *p = name;
    while (nf < 6) {
        const char *u = strchr(p, '_');
        f[nf] = p;
        fl[nf] = u ? (size_t)(u - p) : strlen(p);
        nf++;
        if (!u)
            break;
        p = u + 1;
    }
    if (nf < 5 || fl[0] == 0 || !is_branch(f[1], fl[1]) || !all_digits(f[2], fl[2]) || fl[3] == 0)
        return false;
    if (ni->type == FT_CSV) {
        if (!is_date(f[4], fl[4]))
            return false;
    } else {
        if (fl[4] < 10 || !is_date(f[4], 10) || (fl[4] > 10 && f[4][10] != '.'))
            return false;
    }
    ni->branch = f[1];
    ni->branch_len = fl[1];
    ni->pos = f[2];
    ni->pos_len = fl[2];
    ni->date = f[4];
    ni->hhmm_off = -1;
    if (ni->type == FT_CSV && nf == 6 && fl[5] == 5 && all_digits(f[5], 2) && f[5][2] == '-' &&
        all_digits(f[5] + 3, 2) && strcmp(f[5] + 5, "_.csv") == 0) {
        int hh = (f[5][0] - '0') * 10 + (f[5][1] - '0');
        int mm = (f[5][3] - '0') * 10 + (f[5][4] - '0');
        if (hh < 24 && mm < 60)
            ni->hhmm_off = (long)(f[5] - name);
    }
    return true;
}

/* ---------------------------------------------------------------------------------------
 * The index
 * ------------------------------------------------------------------------------------- */

static void index_free(struct sim_index *ix)
{
    for (size_t i = 0; i < ix->n; i++) {
        free(ix->v[i].path);
        free(ix->v[i].key);
    }
    free(ix->v);
    free(ix->by_path);
    memset(ix, 0, sizeof *ix);
}

struct scan {
    struct entry *v;
    size_t n, cap;
    size_t skipped;
    int err; /* first errno that stopped the scan, 0 if none */
};

static int scan_add(struct scan *sc, const char *rel, size_t name_off)
{
    struct name_info ni;
    if (!path_chars_ok(rel) || !parse_report_name(rel + name_off, &ni)) {
        sc->skipped++;
        return 0;
    }
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 1024;
        struct entry *v = realloc(sc->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        sc->v = v;
        sc->cap = cap;
    }
    size_t klen = ni.branch_len + 1 + ni.pos_len + 1 + 10;
    struct entry *e = &sc->v[sc->n];
    e->path = strdup(rel);
    e->key = malloc(klen + 1);
    if (!e->path || !e->key) {
        free(e->path);
        free(e->key);
        return -ENOMEM;
    }
    snprintf(e->key, klen + 1, "%.*s/%.*s/%.10s", (int)ni.branch_len, ni.branch, (int)ni.pos_len,
             ni.pos, ni.date);
    e->name_off = name_off;
    e->hhmm_off = ni.hhmm_off < 0 ? -1 : (long)name_off + ni.hhmm_off;
    e->type = ni.type;
    sc->n++;
    return 0;
}

/* Walks one folder. rel holds the folder's path relative to --dir ("" or "a/b/") and
 * is restored before returning. Hidden entries and symbolic links are skipped, so
 * nothing outside --dir is ever indexed. Takes ownership of dfd. */
static int scan_dir(int dfd, char *rel, size_t rel_len, int depth, struct scan *sc)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return -e;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (nm[0] == '.')
            continue;
        size_t nlen = strlen(nm);
        if (rel_len + nlen + 1 >= SIM_MAX_PATH) {
            sc->skipped++;
            continue;
        }
        unsigned char t = de->d_type;
        if (t == DT_UNKNOWN) {
            struct stat sb;
            if (fstatat(dirfd(d), nm, &sb, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            t = S_ISDIR(sb.st_mode) ? DT_DIR : S_ISREG(sb.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        memcpy(rel + rel_len, nm, nlen + 1);
        if (t == DT_DIR) {
            if (depth >= SIM_MAX_DEPTH)
                continue;
            int sub = openat(dirfd(d), nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                continue;
            rel[rel_len + nlen] = '/';
            rel[rel_len + nlen + 1] = '\0';
            rc = scan_dir(sub, rel, rel_len + nlen + 1, depth + 1, sc);
        } else if (t == DT_REG) {
            rc = scan_add(sc, rel, rel_len);
        }
        rel[rel_len] = '\0';
    }
    if (rc == 0 && errno != 0)
        rc = -errno;
    closedir(d);
    return rc;
}

static int cmp_name(const struct entry *a, const struct entry *b)
{
    int c = strcmp(a->path + a->name_off, b->path + b->name_off);
    return c ? c : strcmp(a->path, b->path);
}

static int cmp_entry(const void *pa, const void *pb)
{
    const struct entry *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    return c ? c : cmp_name(a, b);
}

/* qsort_r is a GNU extension; the index is passed through this small wrapper instead. */
struct by_path_sort {
    const struct entry *v;
    size_t i;
};

static int cmp_by_path(const void *pa, const void *pb)
{
    const struct by_path_sort *a = pa, *b = pb;
    return strcmp(a->v[a->i].path, b->v[b->i].path);
}

/* Builds a fresh index of dirfd's tree into *out. 0 ok, negative errno on failure (then
 * *out is untouched). */
static int index_build(int dirfd_, struct sim_index *out)
{
    int dfd = openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    struct scan sc = {0};
    char rel[SIM_MAX_PATH + 1] = "";
    int rc = scan_dir(dfd, rel, 0, 0, &sc);
    struct by_path_sort *tmp = NULL;
    size_t *by_path = NULL;
    if (rc == 0 && sc.n > 0) {
        qsort(sc.v, sc.n, sizeof *sc.v, cmp_entry);
        tmp = malloc(sc.n * sizeof *tmp);
        by_path = malloc(sc.n * sizeof *by_path);
        if (!tmp || !by_path) {
            rc = -ENOMEM;
        } else {
            for (size_t i = 0; i < sc.n; i++)
                tmp[i] = (struct by_path_sort){sc.v, i};
            qsort(tmp, sc.n, sizeof *tmp, cmp_by_path);
            for (size_t i = 0; i < sc.n; i++)
                by_path[i] = tmp[i].i;
        }
    }
    free(tmp);
    struct sim_index ix = {.v = sc.v, .n = sc.n, .by_path = by_path, .skipped = sc.skipped};
    if (rc != 0) {
        index_free(&ix);
        return rc;
    }
    *out = ix;
    return 0;
}

/* First position whose key is >= key. */
static size_t index_lower(const struct sim_index *ix, const char *key)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ix->v[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The entry with exactly this relative path, or NULL (borrowed from the index). */
static const struct entry *index_find_path(const struct sim_index *ix, const char *path)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct entry *e = &ix->v[ix->by_path[mid]];
        int c = strcmp(e->path, path);
        if (c == 0)
            return e;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Virtual files (duplicate and partial re-sends). Names handed out in a list stay
 * servable for the life of the process, whatever happens to the rules afterwards.
 * ------------------------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static struct vfile *vt_find(const struct vtable *vt, const char *path)
{
    if (vt->cap == 0)
        return NULL;
    for (size_t i = fnv1a(path) & (vt->cap - 1);; i = (i + 1) & (vt->cap - 1)) {
        struct vfile *f = &vt->slots[i];
        if (!f->path)
            return NULL;
        if (strcmp(f->path, path) == 0)
            return f;
    }
}

static int vt_grow(struct vtable *vt)
{
    size_t cap = vt->cap ? vt->cap * 2 : 256;
    struct vfile *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < vt->cap; i++) {
        struct vfile *f = &vt->slots[i];
        if (!f->path)
            continue;
        size_t j = fnv1a(f->path) & (cap - 1);
        while (slots[j].path)
            j = (j + 1) & (cap - 1);
        slots[j] = *f;
    }
    free(vt->slots);
    vt->slots = slots;
    vt->cap = cap;
    return 0;
}

/* Adds path -> (real, kind); the caller checked the path is not there yet. Returns the
 * stored entry (borrowed) or NULL when full or out of memory. */
static const struct vfile *vt_add(struct vtable *vt, const char *path, const char *real,
                                  enum vkind kind)
{
    if (vt->n >= SIM_MAX_VIRTUAL)
        return NULL;
    if ((vt->n + 1) * 2 > vt->cap && vt_grow(vt) != 0)
        return NULL;
    char *p = strdup(path), *r = strdup(real);
    if (!p || !r) {
        free(p);
        free(r);
        return NULL;
    }
    size_t i = fnv1a(path) & (vt->cap - 1);
    while (vt->slots[i].path)
        i = (i + 1) & (vt->cap - 1);
    vt->slots[i] = (struct vfile){.path = p, .real = r, .kind = kind};
    vt->n++;
    return &vt->slots[i];
}

static void vt_free(struct vtable *vt)
{
    for (size_t i = 0; i < vt->cap; i++) {
        free(vt->slots[i].path);
        free(vt->slots[i].real);
    }
    free(vt->slots);
    memset(vt, 0, sizeof *vt);
}

/* The virtual name for e's export time moved by delta minutes (wrapping at midnight, the
 * business date stays). Returns a pointer into the index or the table (borrowed, valid
 * while sim.mu is held) or NULL when no free name is found within an hour. Caller holds
 * sim.mu. */
static const char *virtual_for(struct sim *s, const struct entry *e, enum vkind kind)
{
    int step = kind == VK_DUPLICATE ? 1 : -1;
    size_t len = strlen(e->path);
    char name[SIM_MAX_PATH + 1];
    if (e->hhmm_off < 0 || len > SIM_MAX_PATH)
        return NULL;
    const char *hm = e->path + e->hhmm_off;
    int base = ((hm[0] - '0') * 10 + (hm[1] - '0')) * 60 + (hm[3] - '0') * 10 + (hm[4] - '0');
    for (int k = 1; k <= 60; k++) {
        int t = ((base + step * k) % 1440 + 1440) % 1440;
        memcpy(name, e->path, len + 1);
        char hhmm[6];
        snprintf(hhmm, sizeof hhmm, "%02d-%02d", t / 60, t % 60);
        memcpy(name + e->hhmm_off, hhmm, 5);
        if (index_find_path(&s->ix, name))
            continue; /* a real file has that name */
        const struct vfile *f = vt_find(&s->vt, name);
        if (f) {
            if (f->kind == kind && strcmp(f->real, e->path) == 0)
                return f->path;
            continue; /* handed out for another file or kind */
        }
        f = vt_add(&s->vt, name, e->path, kind);
        return f ? f->path : NULL;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Fault rules
 * ------------------------------------------------------------------------------------- */

static int kind_from_name(const char *n)
{
    for (int k = 0; k < K__COUNT; k++)
        if (strcmp(n, kind_names[k]) == 0)
            return k;
    return -1;
}

static int target_from_name(const char *n)
{
    for (int t = 0; t <= T_ANY; t++)
        if (strcmp(n, target_names[t]) == 0)
            return t;
    return -1;
}

static void spec_init(struct rule_spec *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->kind = -1;
    sp->target = -1;
}

/* Fills defaults and checks the combination. 0 ok, -1 with a message in err. */
static int spec_check(struct rule_spec *sp, char *err, size_t errsz)
{
    if (sp->kind < 0) {
        snprintf(err, errsz, "missing fault kind");
        return -1;
    }
    bool list_only = sp->kind == K_DUPLICATE || sp->kind == K_PARTIAL;
    bool file_only = sp->kind == K_NOTCSV;
    if (sp->target < 0)
        sp->target = list_only ? T_LIST : file_only ? T_FILE : T_ANY;
    if (list_only && sp->target != T_LIST) {
        snprintf(err, errsz, "%s applies to target list only", kind_names[sp->kind]);
        return -1;
    }
    if (file_only && sp->target != T_FILE) {
        snprintf(err, errsz, "%s applies to target file only", kind_names[sp->kind]);
        return -1;
    }
    if (sp->has_count && sp->has_rate) {
        snprintf(err, errsz, "give either count or rate, not both");
        return -1;
    }
    if (sp->kind == K_LATENCY && sp->ms == 0) {
        snprintf(err, errsz, "latency needs ms > 0");
        return -1;
    }
    return 0;
}

/* Parses KIND[:TARGET][:rate=R|:count=N][:match=S][:ms=M]. 0 ok, -1 with err. */
static int spec_from_arg(const char *arg, struct rule_spec *sp, char *err, size_t errsz)
{
    spec_init(sp);
    char buf[512];
    if (strlen(arg) >= sizeof buf) {
        snprintf(err, errsz, "fault rule too long");
        return -1;
    }
    memcpy(buf, arg, strlen(arg) + 1);
    char *save = NULL;
    int i = 0;
    for (char *tok = strtok_r(buf, ":", &save); tok; tok = strtok_r(NULL, ":", &save), i++) {
        char *eq = strchr(tok, '=');
        if (i == 0) {
            sp->kind = kind_from_name(tok);
            if (sp->kind < 0) {
                snprintf(err, errsz, "unknown fault kind '%s'", tok);
                return -1;
            }
            continue;
        }
        if (!eq) {
            if (i != 1 || (sp->target = target_from_name(tok)) < 0) {
                snprintf(err, errsz, "bad fault target '%s' (list, file or any)", tok);
                return -1;
            }
            continue;
        }
        *eq = '\0';
        const char *val = eq + 1;
        uint64_t u = 0;
        if (strcmp(tok, "rate") == 0) {
            if (parse_rate(val, &sp->rate) != 0) {
                snprintf(err, errsz, "rate must be a number in [0,1]");
                return -1;
            }
            sp->has_rate = true;
        } else if (strcmp(tok, "count") == 0) {
            if (parse_u64(val, UINT32_MAX, &u) != 0 || u == 0) {
                snprintf(err, errsz, "count must be an integer >= 1");
                return -1;
            }
            sp->count = u;
            sp->has_count = true;
        } else if (strcmp(tok, "ms") == 0) {
            if (parse_u64(val, SIM_MAX_MS, &u) != 0) {
                snprintf(err, errsz, "ms must be an integer in [0,%u]", SIM_MAX_MS);
                return -1;
            }
            sp->ms = (unsigned)u;
        } else if (strcmp(tok, "match") == 0) {
            if (strlen(val) > SIM_MAX_MATCH) {
                snprintf(err, errsz, "match longer than %d", SIM_MAX_MATCH);
                return -1;
            }
            memcpy(sp->match, val, strlen(val) + 1);
        } else {
            snprintf(err, errsz, "unknown fault option '%s'", tok);
            return -1;
        }
    }
    return spec_check(sp, err, errsz);
}

/* Parses {"kind":..,"target":..,"count":N|"rate":R,"match":..,"ms":M}. 0 ok, -1 with
 * err. */
static int spec_from_json(const char *body, size_t len, struct rule_spec *sp, char *err,
                          size_t errsz)
{
    spec_init(sp);
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root) {
        snprintf(err, errsz, "bad JSON (line %d, column %d): %s", je.line, je.column, je.text);
        return -1;
    }
    int rc = 0;
    const char *key;
    json_t *val;
    if (!json_is_object(root)) {
        snprintf(err, errsz, "expected a JSON object");
        rc = -1;
    }
    json_object_foreach(root, key, val)
    {
        if (rc != 0)
            break;
        if (strcmp(key, "kind") == 0) {
            sp->kind = json_is_string(val) ? kind_from_name(json_string_value(val)) : -1;
            if (sp->kind < 0) {
                snprintf(err, errsz, "unknown fault kind");
                rc = -1;
            }
        } else if (strcmp(key, "target") == 0) {
            sp->target = json_is_string(val) ? target_from_name(json_string_value(val)) : -1;
            if (sp->target < 0) {
                snprintf(err, errsz, "target must be \"list\", \"file\" or \"any\"");
                rc = -1;
            }
        } else if (strcmp(key, "count") == 0) {
            json_int_t n = json_is_integer(val) ? json_integer_value(val) : 0;
            if (n < 1 || n > UINT32_MAX) {
                snprintf(err, errsz, "count must be an integer >= 1");
                rc = -1;
            }
            sp->count = (uint64_t)n;
            sp->has_count = true;
        } else if (strcmp(key, "rate") == 0) {
            double r = json_is_number(val) ? json_number_value(val) : -1.0;
            if (!(r >= 0.0 && r <= 1.0)) {
                snprintf(err, errsz, "rate must be a number in [0,1]");
                rc = -1;
            }
            sp->rate = r;
            sp->has_rate = true;
        } else if (strcmp(key, "ms") == 0) {
            json_int_t n = json_is_integer(val) ? json_integer_value(val) : -1;
            if (n < 0 || n > SIM_MAX_MS) {
                snprintf(err, errsz, "ms must be an integer in [0,%u]", SIM_MAX_MS);
                rc = -1;
            }
            sp->ms = (unsigned)n;
        } else if (strcmp(key, "match") == 0) {
            const char *m = json_is_string(val) ? json_string_value(val) : NULL;
            if (!m || strlen(m) > SIM_MAX_MATCH) {
                snprintf(err, errsz, "match must be a string of at most %d bytes", SIM_MAX_MATCH);
                rc = -1;
            } else {
                memcpy(sp->match, m, strlen(m) + 1);
            }
        } else {
            snprintf(err, errsz, "unknown field \"%s\"", key);
            rc = -1;
        }
    }
    json_decref(root);
    return rc == 0 ? spec_check(sp, err, errsz) : rc;
}

/* Adds a checked rule. Returns its id (> 0), or 0 when the table is full or memory runs
 * out. Caller holds sim.mu. */
static unsigned rule_add(struct sim *s, const struct rule_spec *sp)
{
    if (s->nrules >= SIM_MAX_RULES)
        return 0;
    if (s->nrules == 0 && !s->rules) {
        s->rules = calloc(SIM_MAX_RULES, sizeof *s->rules);
        if (!s->rules)
            return 0;
    }
    struct rule *r = &s->rules[s->nrules];
    memset(r, 0, sizeof *r);
    if (sp->match[0] && !(r->match = strdup(sp->match)))
        return 0;
    r->id = s->next_id++;
    r->kind = (enum kind)sp->kind;
    r->target = (enum target)sp->target;
    r->mode = sp->has_count ? M_COUNT : sp->has_rate ? M_RATE : M_ALWAYS;
    r->count = sp->count;
    r->rate = sp->rate;
    r->ms = sp->ms;
    r->rng = s->seed ^ ((uint64_t)r->id * 0xD1B54A32D192ED03ull);
    s->nrules++;
    return r->id;
}

static void rules_clear(struct sim *s)
{
    for (size_t i = 0; i < s->nrules; i++)
        free(s->rules[i].match);
    s->nrules = 0;
}

static bool rule_applies(const struct rule *r, enum target t, const char *subject)
{
    if (r->target != T_ANY && r->target != t)
        return false;
    if (r->mode == M_COUNT && r->count == 0)
        return false;
    return !r->match || strstr(subject, r->match) != NULL;
}

/* Decides whether an applicable rule hits this request, and books it if so. */
static bool rule_fire(struct sim *s, struct rule *r, struct verdict *v)
{
    switch (r->mode) {
    case M_COUNT: r->count--; break;
    case M_RATE:
        if (!(rng_unit(&r->rng) < r->rate))
            return false;
        break;
    case M_ALWAYS: break;
    }
    r->fired++;
    s->st.faults[r->kind]++;
    size_t used = strlen(v->fired);
    snprintf(v->fired + used, sizeof v->fired - used, "%s%s", used ? "," : "", kind_names[r->kind]);
    return true;
}

/* Evaluates the rules for one request, in the order they were added:
 *   1. every applicable latency rule is tried; the delays of those that hit add up;
 *   2. the first applicable response-replacing rule (http500, html, errtext, truncate,
 *      reset, notcsv) that hits decides the answer; later ones are not tried;
 *   3. for a list answered normally or truncated, the first duplicate rule that hits
 *      and the first partial rule that hits change its content.
 * A rule that is not tried keeps its count. Caller holds sim.mu. */
static void rules_eval(struct sim *s, enum target t, const char *subject, struct verdict *v)
{
    memset(v, 0, sizeof *v);
    v->action = K_NONE;
    for (size_t i = 0; i < s->nrules; i++) {
        struct rule *r = &s->rules[i];
        if (r->kind == K_LATENCY && rule_applies(r, t, subject) && rule_fire(s, r, v))
            v->ms += r->ms;
    }
    for (size_t i = 0; i < s->nrules && v->action == K_NONE; i++) {
        struct rule *r = &s->rules[i];
        if (r->kind == K_LATENCY || r->kind == K_DUPLICATE || r->kind == K_PARTIAL)
            continue;
        if (rule_applies(r, t, subject) && rule_fire(s, r, v)) {
            v->action = r->kind;
            v->ms += r->ms;
        }
    }
    bool content = t == T_LIST && (v->action == K_NONE || v->action == K_TRUNCATE);
    for (size_t i = 0; content && i < s->nrules; i++) {
        struct rule *r = &s->rules[i];
        bool *flag = r->kind == K_DUPLICATE ? &v->duplicate
                     : r->kind == K_PARTIAL ? &v->partial
                                            : NULL;
        if (flag && !*flag && rule_applies(r, t, subject) && rule_fire(s, r, v)) {
            *flag = true;
            v->ms += r->ms;
        }
    }
    if (v->ms > SIM_MAX_MS)
        v->ms = SIM_MAX_MS;
}

/* ---------------------------------------------------------------------------------------
 * Latency: suspend the connection, let the waker thread resume it when due. A sleeping
 * handler would stall every other connection of its pool thread.
 * ------------------------------------------------------------------------------------- */

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    return a->tv_nsec < b->tv_nsec ? -1 : a->tv_nsec > b->tv_nsec;
}

static void *waker_main(void *arg)
{
    struct sched *q = arg;
    pthread_mutex_lock(&q->mu);
    while (!q->stop) {
        if (q->n == 0) {
            pthread_cond_wait(&q->cv, &q->mu);
            continue;
        }
        size_t first = 0;
        for (size_t i = 1; i < q->n; i++)
            if (ts_cmp(&q->v[i].due, &q->v[first].due) < 0)
                first = i;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (ts_cmp(&q->v[first].due, &now) > 0) {
            struct timespec due = q->v[first].due;
            pthread_cond_timedwait(&q->cv, &q->mu, &due);
            continue;
        }
        struct MHD_Connection *c = q->v[first].c;
        q->v[first] = q->v[--q->n];
        pthread_mutex_unlock(&q->mu);
        MHD_resume_connection(c);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static int sched_init(struct sched *q)
{
    memset(q, 0, sizeof *q);
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        pthread_cond_destroy(&q->cv);
        return -1;
    }
    if (pthread_create(&q->th, NULL, waker_main, q) != 0) {
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->cv);
        return -1;
    }
    q->started = true;
    return 0;
}

/* Suspends c for ms milliseconds. Must be called from the access handler. Returns false
 * (and leaves c running) when shutting down or out of memory: answer right away then. */
static bool sched_delay(struct sched *q, struct MHD_Connection *c, struct req *r, unsigned ms)
{
    pthread_mutex_lock(&q->mu);
    bool ok = !q->stop;
    if (ok && q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        struct waiter *v = realloc(q->v, cap * sizeof *v);
        if (v) {
            q->v = v;
            q->cap = cap;
        } else {
            ok = false;
        }
    }
    if (!ok) {
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    /* Suspend while holding q->mu so that neither the waker nor shutdown can resume c
     * before it is suspended. No deadlock: MHD never calls back into us while holding
     * the locks MHD_suspend_connection() takes, and we never call MHD_resume_connection()
     * with q->mu held. */
    struct waiter *w = &q->v[q->n++];
    w->c = c;
    clock_gettime(CLOCK_MONOTONIC, &w->due);
    w->due.tv_sec += ms / 1000;
    w->due.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (w->due.tv_nsec >= 1000000000L) {
        w->due.tv_sec++;
        w->due.tv_nsec -= 1000000000L;
    }
    q->suspended++;
    r->in_sched = true;
    MHD_suspend_connection(c);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return true;
}

/* A suspended connection came back (or ended). */
static void sched_done(struct sched *q, struct req *r)
{
    if (!r->in_sched)
        return;
    r->in_sched = false;
    pthread_mutex_lock(&q->mu);
    q->suspended--;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Stops the waker and resumes every delayed connection so that MHD_stop_daemon() finds
 * none suspended (an API violation otherwise). */
static void sched_stop(struct sched *q)
{
    if (!q->started)
        return;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += SIM_STOP_WAIT_MS / 1000;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->n > 0) {
            struct MHD_Connection *c = q->v[--q->n].c;
            pthread_mutex_unlock(&q->mu);
            MHD_resume_connection(c);
            pthread_mutex_lock(&q->mu);
        }
        if (q->suspended == 0)
            break;
        if (pthread_cond_timedwait(&q->cv, &q->mu, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&q->mu);
}

static void sched_destroy(struct sched *q)
{
    if (!q->started)
        return;
    free(q->v);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    q->started = false;
}

/* ---------------------------------------------------------------------------------------
 * Responses
 * ------------------------------------------------------------------------------------- */

/* Queues resp (consumed) with a Content-Type. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, const char *type,
                             struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned status, const char *type,
                                    const char *body)
{
    return queue(
        c, status, type,
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT));
}

/* Takes ownership of body (malloc'd). */
static enum MHD_Result reply_owned(struct MHD_Connection *c, unsigned status, const char *type,
                                   char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(body);
    return queue(c, status, type, resp);
}

/* Takes the reference to j. */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!txt)
        return MHD_NO;
    return reply_owned(c, status, MIME_JSON, txt, strlen(txt));
}

static enum MHD_Result reply_json_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply_json(c, status, json_pack("{s:s}", "error", msg));
}

static enum MHD_Result reply_empty(struct MHD_Connection *c, unsigned status)
{
    return queue(c, status, NULL, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

static enum MHD_Result reply_405(struct MHD_Connection *c, const char *allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(HTML_405_PAGE), (void *)HTML_405_PAGE, MHD_RESPMEM_PERSISTENT);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return queue(c, MHD_HTTP_METHOD_NOT_ALLOWED, MIME_HTML, resp);
}

/* The answers of http500, html and errtext (and K_NONE for "no replacing fault"). */
static bool reply_fault_page(struct MHD_Connection *c, enum kind k, enum MHD_Result *ret)
{
    switch (k) {
    case K_HTTP500:
        *ret = reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, MIME_HTML, HTML_500_PAGE);
        return true;
    case K_HTML: *ret = reply_static(c, MHD_HTTP_OK, MIME_HTML, HTML_ERROR_PAGE); return true;
    case K_ERRTEXT: *ret = reply_static(c, MHD_HTTP_OK, MIME_HTML, ERRTEXT_BODY); return true;
    default: return false;
    }
}

/* A body that announces its full length and stops halfway with an error, which makes
 * MHD close the connection: the client sees fewer bytes than Content-Length. */
struct trunc {
    struct sim *s;
    int fd;    /* read from here when >= 0 */
    char *buf; /* else from here (owned) */
    uint64_t limit;
    uint64_t sent;
};

static ssize_t trunc_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct trunc *t = cls;
    if (pos >= t->limit)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = max;
    if (n > t->limit - pos)
        n = (size_t)(t->limit - pos);
    if (t->fd >= 0) {
        ssize_t got = pread(t->fd, out, n, (off_t)pos);
        if (got <= 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        n = (size_t)got;
    } else {
        memcpy(out, t->buf + pos, n);
    }
    t->sent = pos + n;
    return (ssize_t)n;
}

static void trunc_free(void *cls)
{
    struct trunc *t = cls;
    if (t->s) {
        pthread_mutex_lock(&t->s->mu);
        t->s->st.bytes += t->sent;
        pthread_mutex_unlock(&t->s->mu);
    }
    if (t->fd >= 0)
        close(t->fd);
    free(t->buf);
    free(t);
}

/* Takes ownership of fd or buf. s is given when the sent bytes count as file bytes. */
static enum MHD_Result reply_truncated(struct sim *s, struct MHD_Connection *c, const char *type,
                                       int fd, char *buf, uint64_t size)
{
    struct trunc *t = calloc(1, sizeof *t);
    if (!t) {
        if (fd >= 0)
            close(fd);
        free(buf);
        return MHD_NO;
    }
    *t = (struct trunc){.s = s, .fd = fd, .buf = buf, .limit = size / 2};
    struct MHD_Response *resp =
        MHD_create_response_from_callback(size, SIM_BLOCK, trunc_read, t, trunc_free);
    if (!resp) {
        trunc_free(t);
        return MHD_NO;
    }
    return queue(c, MHD_HTTP_OK, type, resp);
}

/* notcsv: deterministic binary garbage with NULs, as long as the real body. */
static ssize_t garbage_read(void *cls, uint64_t pos, char *out, size_t max)
{
    const uint64_t *size = cls;
    if (pos >= *size)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = max;
    if (n > *size - pos)
        n = (size_t)(*size - pos);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = pos + i;
        out[i] = (char)(k % 5 == 1 ? 0 : (unsigned char)(0x80u | ((k * 151u + 7u) & 0x7Fu)));
    }
    return (ssize_t)n;
}

static enum MHD_Result reply_garbage(struct MHD_Connection *c, const char *type, uint64_t size)
{
    uint64_t *cls = malloc(sizeof *cls);
    if (!cls)
        return MHD_NO;
    *cls = size;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(size, SIM_BLOCK, garbage_read, cls, free);
    if (!resp) {
        free(cls);
        return MHD_NO;
    }
    return queue(c, MHD_HTTP_OK, type, resp);
}

/* ---------------------------------------------------------------------------------------
 * fetch_list2.php
 * ------------------------------------------------------------------------------------- */

static enum MHD_Result on_form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *filename, const char *content_type,
                                     const char *transfer_encoding, const char *data, uint64_t off,
                                     size_t size)
{
    struct req *r = cls;
    int f = strcmp(key, "branch") == 0 ? F_BRANCH
            : strcmp(key, "pos") == 0  ? F_POS
            : strcmp(key, "date") == 0 ? F_DATE
                                       : -1;
    if (f < 0)
        return MHD_YES;
    if (off + size > SIM_MAX_FIELD) {
        r->form_bad = true;
        return MHD_YES;
    }
    memcpy(r->form[f] + off, data, size);
    r->form[f][off + size] = '\0';
    return MHD_YES;
}

static int cmp_list_name(const void *pa, const void *pb)
{
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    const char *na = strrchr(a, '/'), *nb = strrchr(b, '/');
    int c = strcmp(na ? na + 1 : a, nb ? nb + 1 : b);
    return c ? c : strcmp(a, b);
}

/* The list body for key: paths joined by ',', sorted by file name. Returns a malloc'd
 * string (possibly empty) or NULL when out of memory. Caller holds sim.mu (virtual names
 * are registered here). */
static char *build_list(struct sim *s, const char *key, const struct verdict *v, size_t *len,
                        size_t *count)
{
    size_t lo = index_lower(&s->ix, key), hi = lo;
    while (hi < s->ix.n && strcmp(s->ix.v[hi].key, key) == 0)
        hi++;
    size_t per = 1 + (v->duplicate ? 1 : 0) + (v->partial ? 1 : 0);
    const char **names = malloc(((hi - lo) * per + 1) * sizeof *names);
    if (!names)
        return NULL;
    size_t n = 0, total = 0;
    for (size_t i = lo; i < hi; i++) {
        const struct entry *e = &s->ix.v[i];
        names[n++] = e->path;
        if (e->type != FT_CSV)
            continue;
        const char *vn;
        if (v->duplicate && (vn = virtual_for(s, e, VK_DUPLICATE)))
            names[n++] = vn;
        if (v->partial && (vn = virtual_for(s, e, VK_PARTIAL)))
            names[n++] = vn;
    }
    if (v->duplicate || v->partial)
        qsort(names, n, sizeof *names, cmp_list_name);
    for (size_t i = 0; i < n; i++)
        total += strlen(names[i]) + 1;
    char *out = malloc(total + 1);
    if (out) {
        char *p = out;
        for (size_t i = 0; i < n; i++) {
            if (i)
                *p++ = ',';
            size_t l = strlen(names[i]);
            memcpy(p, names[i], l);
            p += l;
        }
        *p = '\0';
        *len = (size_t)(p - out);
        *count = n;
    }
    free(names);
    return out;
}

/* The delay a rule asked for (the request is suspended and comes back),
 * then a response-changing fault.  true when *ret is the answer. */
static bool delay_or_fault(struct sim *s, struct MHD_Connection *c, struct req *r, const char *what,
                           enum MHD_Result *ret)
{
    if (r->v.ms > 0 && !r->delayed) {
        r->delayed = true;
        if (sched_delay(&s->sched, c, r, r->v.ms)) {
            *ret = MHD_YES;
            return true;
        }
    }
    const char *fired = r->v.fired[0] ? r->v.fired : "-";
    if (r->v.action == K_RESET) {
        sim_log(s, "%s %s -> reset [%s]", what, r->subject, fired);
        *ret = MHD_NO;
        return true;
    }
    if (reply_fault_page(c, r->v.action, ret)) {
        sim_log(s, "%s %s -> %s [%s]", what, r->subject, kind_names[r->v.action], fired);
        return true;
    }
    return false;
}

static enum MHD_Result serve_list(struct sim *s, struct MHD_Connection *c, struct req *r)
{
    if (!r->decided) {
        r->decided = true;
        const char *b = r->form[F_BRANCH], *p = r->form[F_POS], *d = r->form[F_DATE];
        bool ok = !r->form_bad && is_branch(b, strlen(b)) && all_digits(p, strlen(p)) &&
                  strlen(p) <= 4 && is_date(d, strlen(d));
        if (ok)
            snprintf(r->subject, sizeof r->subject, "%s/%s/%s", b, p, d);
        pthread_mutex_lock(&s->mu);
        s->st.requests++;
        s->st.lists++;
        if (ok)
            rules_eval(s, T_LIST, r->subject, &r->v);
        pthread_mutex_unlock(&s->mu);
        if (!ok) {
            sim_log(s, "list: bad form (branch='%.20s' pos='%.8s' date='%.12s') -> error page", b,
                    p, d);
            return reply_static(c, MHD_HTTP_OK, MIME_HTML, HTML_ERROR_PAGE);
        }
    }
    enum MHD_Result ret;
    if (delay_or_fault(s, c, r, "list", &ret))
        return ret;
    const char *fired = r->v.fired[0] ? r->v.fired : "-";
    size_t len = 0, count = 0;
    pthread_mutex_lock(&s->mu);
    char *body = build_list(s, r->subject, &r->v, &len, &count);
    pthread_mutex_unlock(&s->mu);
    if (!body)
        return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, MIME_HTML, HTML_500_PAGE);
    sim_log(s, "list %s -> %zu file(s)%s [%s]", r->subject, count,
            r->v.action == K_TRUNCATE ? ", truncated" : "", fired);
    if (r->v.action == K_TRUNCATE)
        return reply_truncated(NULL, c, MIME_HTML, -1, body, len);
    return reply_owned(c, MHD_HTTP_OK, MIME_HTML, body, len);
}

/* ---------------------------------------------------------------------------------------
 * File downloads
 * ------------------------------------------------------------------------------------- */

/* Opens path below --dir without following any symbolic link, or -1. */
static int open_beneath(int dirfd_, const char *path)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, dirfd_, path, &how, sizeof how);
    if (fd < 0 && errno == ENOSYS)
        fd = openat(dirfd_, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    return fd;
}

/* A partial re-send: the header line and the first half of the data lines of the file
 * open on fd (consumed). Returns a malloc'd body or NULL. */
static char *make_partial(int fd, size_t *len)
{
    struct stat sb;
    char *buf = NULL;
    size_t size = 0, got = 0;
    if (fstat(fd, &sb) == 0 && sb.st_size >= 0 && (uint64_t)sb.st_size <= SIM_MAX_PARTIAL_SRC) {
        size = (size_t)sb.st_size;
        buf = malloc(size + 1);
    }
    while (buf && got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf)
        return NULL;
    size = got;
    /* Line ends after the header; a last line without '\n' still counts. */
    size_t lines = 0, header_end = 0;
    for (size_t i = 0; i < size; i++)
        if (buf[i] == '\n') {
            if (header_end == 0)
                header_end = i + 1;
            lines++;
        }
    if (size > 0 && buf[size - 1] != '\n')
        lines++;
    if (header_end == 0) {
        *len = size; /* a header without data lines */
        return buf;
    }
    size_t keep = (lines - 1) / 2, end = header_end;
    for (size_t k = 0; k < keep && end < size; k++) {
        char *nl = memchr(buf + end, '\n', size - end);
        end = nl ? (size_t)(nl - buf) + 1 : size;
    }
    *len = end;
    return buf;
}

static enum MHD_Result serve_file(struct sim *s, struct MHD_Connection *c, const char *url,
                                  const char *method, struct req *r)
{
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!r->decided) {
        r->decided = true;
        /* MHD hands over the percent-decoded path without the query string. */
        const char *p = url[0] == '/' ? url + 1 : "";
        bool found = false;
        pthread_mutex_lock(&s->mu);
        s->st.requests++;
        if (request_path_ok(p)) {
            const struct entry *e = index_find_path(&s->ix, p);
            const struct vfile *vf = e ? NULL : vt_find(&s->vt, p);
            if (e || vf) {
                r->real = strdup(e ? e->path : vf->real);
                r->type = e ? e->type : FT_CSV;
                r->is_virtual = vf != NULL;
                r->vk = vf ? vf->kind : VK_DUPLICATE;
                found = r->real != NULL;
            }
        }
        if (found) {
            snprintf(r->subject, sizeof r->subject, "%s", p);
            s->st.files++;
            rules_eval(s, T_FILE, r->subject, &r->v);
        } else {
            s->st.notfound++;
        }
        pthread_mutex_unlock(&s->mu);
        if (!found) {
            sim_log(s, "get %.200s -> 404", url);
            return reply_static(c, MHD_HTTP_NOT_FOUND, MIME_HTML, HTML_404_PAGE);
        }
    }
    enum MHD_Result ret;
    if (delay_or_fault(s, c, r, "get", &ret))
        return ret;
    const char *fired = r->v.fired[0] ? r->v.fired : "-";
    int fd = open_beneath(s->dirfd, r->real);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        sim_log(s, "get %s -> 404 (file vanished)", r->subject);
        pthread_mutex_lock(&s->mu);
        s->st.notfound++;
        pthread_mutex_unlock(&s->mu);
        return reply_static(c, MHD_HTTP_NOT_FOUND, MIME_HTML, HTML_404_PAGE);
    }
    const char *type = ftype_mime[r->type];
    char *buf = NULL;
    uint64_t size = (uint64_t)sb.st_size;
    if (r->is_virtual && r->vk == VK_PARTIAL) {
        size_t len = 0;
        buf = make_partial(fd, &len); /* closes fd */
        fd = -1;
        if (!buf)
            return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, MIME_HTML, HTML_500_PAGE);
        size = len;
    }
    sim_log(s, "get %s -> %" PRIu64 " bytes%s%s [%s]", r->subject, size,
            r->v.action == K_TRUNCATE ? ", truncated" : "",
            r->v.action == K_NOTCSV ? ", garbage" : "", fired);
    if (r->v.action == K_TRUNCATE)
        return reply_truncated(head ? NULL : s, c, type, fd, buf, size);
    if (!head)
        r->content_bytes = size;
    if (r->v.action == K_NOTCSV) {
        if (fd >= 0)
            close(fd);
        free(buf);
        return reply_garbage(c, type, size);
    }
    if (buf)
        return reply_owned(c, MHD_HTTP_OK, type, buf, (size_t)size);
    struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
    if (!resp)
        close(fd);
    return queue(c, MHD_HTTP_OK, type, resp);
}

/* ---------------------------------------------------------------------------------------
 * Control API (/_sim/...)
 * ------------------------------------------------------------------------------------- */

static json_t *stats_json(const struct stats *st)
{
    json_t *faults = json_object();
    for (int k = 0; k < K__COUNT; k++)
        json_object_set_new(faults, kind_names[k], json_integer((json_int_t)st->faults[k]));
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:o}", "requests", (json_int_t)st->requests, "lists",
                     (json_int_t)st->lists, "files", (json_int_t)st->files, "notfound",
                     (json_int_t)st->notfound, "bytes", (json_int_t)st->bytes, "faults", faults);
}

static json_t *rules_json(const struct sim *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->nrules; i++) {
        const struct rule *r = &s->rules[i];
        json_t *o = json_pack("{s:I,s:s,s:s,s:I,s:I}", "id", (json_int_t)r->id, "kind",
                              kind_names[r->kind], "target", target_names[r->target], "ms",
                              (json_int_t)r->ms, "fired", (json_int_t)r->fired);
        if (!o)
            continue;
        if (r->match)
            json_object_set_new(o, "match", json_string(r->match));
        if (r->mode == M_COUNT)
            json_object_set_new(o, "count", json_integer((json_int_t)r->count));
        if (r->mode == M_RATE)
            json_object_set_new(o, "rate", json_real(r->rate));
        json_array_append_new(arr, o);
    }
    return json_pack("{s:o}", "rules", arr);
}

/* Rescans --dir and swaps the new index in. 0 ok, negative errno. */
static int sim_rescan(struct sim *s, size_t *files, size_t *skipped)
{
    struct sim_index fresh;
    int rc = index_build(s->dirfd, &fresh);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&s->mu);
    struct sim_index old = s->ix;
    s->ix = fresh;
    pthread_mutex_unlock(&s->mu);
    *files = fresh.n;
    *skipped = fresh.skipped;
    index_free(&old);
    return 0;
}

static enum MHD_Result serve_ctrl(struct sim *s, struct MHD_Connection *c, const char *url,
                                  const char *method, struct req *r)
{
    const char *what = url + strlen(CTRL_PREFIX);
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    bool del = strcmp(method, MHD_HTTP_METHOD_DELETE) == 0;

    if (strcmp(what, "faults") == 0) {
        if (post) {
            if (r->body_big)
                return reply_json_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large");
            struct rule_spec sp;
            char err[256];
            if (spec_from_json(r->body ? r->body : "", r->body_len, &sp, err, sizeof err))
                return reply_json_error(c, MHD_HTTP_BAD_REQUEST, err);
            pthread_mutex_lock(&s->mu);
            unsigned id = rule_add(s, &sp);
            pthread_mutex_unlock(&s->mu);
            if (id == 0)
                return reply_json_error(c, MHD_HTTP_INSUFFICIENT_STORAGE, "too many rules");
            sim_log(s, "fault rule %u added: %.300s", id, r->body ? r->body : "");
            return reply_json(c, MHD_HTTP_CREATED, json_pack("{s:I}", "id", (json_int_t)id));
        }
        if (del) {
            pthread_mutex_lock(&s->mu);
            rules_clear(s);
            pthread_mutex_unlock(&s->mu);
            sim_log(s, "fault rules cleared");
            return reply_empty(c, MHD_HTTP_NO_CONTENT);
        }
        if (get) {
            pthread_mutex_lock(&s->mu);
            json_t *j = rules_json(s);
            pthread_mutex_unlock(&s->mu);
            return reply_json(c, MHD_HTTP_OK, j);
        }
        return reply_405(c, "GET, POST, DELETE");
    }
    if (strcmp(what, "stats") == 0) {
        if (!get)
            return reply_405(c, "GET");
        pthread_mutex_lock(&s->mu);
        struct stats st = s->st;
        pthread_mutex_unlock(&s->mu);
        return reply_json(c, MHD_HTTP_OK, stats_json(&st));
    }
    if (strcmp(what, "reset-stats") == 0) {
        if (!post)
            return reply_405(c, "POST");
        pthread_mutex_lock(&s->mu);
        memset(&s->st, 0, sizeof s->st);
        pthread_mutex_unlock(&s->mu);
        return reply_empty(c, MHD_HTTP_NO_CONTENT);
    }
    if (strcmp(what, "rescan") == 0) {
        if (!post)
            return reply_405(c, "POST");
        size_t files = 0, skipped = 0;
        int rc = sim_rescan(s, &files, &skipped);
        if (rc != 0)
            return reply_json_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, strerror(-rc));
        sim_log(s, "rescan: %zu files indexed, %zu skipped", files, skipped);
        return reply_json(
            c, MHD_HTTP_OK,
            json_pack("{s:I,s:I}", "files", (json_int_t)files, "skipped", (json_int_t)skipped));
    }
    return reply_json_error(c, MHD_HTTP_NOT_FOUND, "unknown control endpoint");
}

/* ---------------------------------------------------------------------------------------
 * MHD callbacks
 * ------------------------------------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct sim *s = cls;
    struct req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        if (strcmp(url, LIST_URL) == 0) {
            r->what = W_LIST;
            if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
                r->pp = MHD_create_post_processor(c, 1024, on_form_field, r);
        } else if (strncmp(url, CTRL_PREFIX, strlen(CTRL_PREFIX)) == 0) {
            r->what = W_CTRL;
        } else if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                   strcmp(method, MHD_HTTP_METHOD_HEAD) == 0) {
            r->what = W_FILE;
        } else {
            r->what = W_OTHER;
        }
        return MHD_YES;
    }
    sched_done(&s->sched, r); /* back from a latency suspension */

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->pp) {
            if (MHD_post_process(r->pp, upload_data, n) != MHD_YES)
                r->form_bad = true;
        } else if (r->what == W_CTRL && !r->body_big) {
            if (r->body_len + n > SIM_MAX_CTRL_BODY) {
                r->body_big = true;
            } else {
                char *b = realloc(r->body, r->body_len + n + 1);
                if (!b)
                    return MHD_NO;
                memcpy(b + r->body_len, upload_data, n);
                r->body = b;
                r->body_len += n;
                b[r->body_len] = '\0';
            }
        }
        return MHD_YES;
    }
    if (r->pp) {
        /* Destroying flushes the last urlencoded value into the fields. */
        if (MHD_destroy_post_processor(r->pp) != MHD_YES)
            r->form_bad = true;
        r->pp = NULL;
    }
    switch (r->what) {
    case W_LIST: return serve_list(s, c, r);
    case W_FILE: return serve_file(s, c, url, method, r);
    case W_CTRL: return serve_ctrl(s, c, url, method, r);
    case W_OTHER: break;
    }
    pthread_mutex_lock(&s->mu);
    s->st.requests++;
    pthread_mutex_unlock(&s->mu);
    return reply_405(c, "GET, HEAD");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sim *s = cls;
    struct req *r = *con_cls;
    if (!r)
        return;
    sched_done(&s->sched, r);
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->content_bytes > 0) {
        pthread_mutex_lock(&s->mu);
        s->st.bytes += r->content_bytes;
        pthread_mutex_unlock(&s->mu);
    }
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    free(r->body);
    free(r->real);
    free(r);
    *con_cls = NULL;
}

/* ---------------------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "usage: tillpipe-reportsim --dir DIR [options]\n"
                 "Simulates the report server (POST /fetch_list2.php, GET /<path>) over DIR.\n"
                 "\n"
                 "  --dir DIR        folder of report files, scanned recursively (required)\n"
                 "  --address A      IPv4 address to listen on (default 127.0.0.1)\n"
                 "  --port N         TCP port; 0 (default) picks a free one\n"
                 "  --port-file F    write the bound port to F once listening (atomic rename)\n"
                 "  --threads N      MHD thread pool size (default 4)\n"
                 "  --seed N         seed of the rate-based faults (default 1)\n"
                 "  --fault RULE     KIND:TARGET[:rate=R|:count=N][:match=S][:ms=M], repeatable\n"
                 "                   KIND: latency http500 html errtext truncate reset\n"
                 "                         duplicate partial (list only) notcsv (file only)\n"
                 "                   TARGET: list, file or any\n"
                 "  --quiet          no per-request log on stderr\n"
                 "  --help           this text\n"
                 "\n"
                 "Control API on the same port: POST/GET/DELETE /_sim/faults, GET /_sim/stats,\n"
                 "POST /_sim/reset-stats, POST /_sim/rescan. See tests/reportsim/README.md.\n");
}

/* Writes "<port>\n" to path via a temporary file and rename(2), so a reader never sees a
 * partial file. 0 ok, -1 with errno. */
static int write_port_file(const char *path, unsigned port)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%u\n", port) > 0;
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

enum {
    OPT_DIR = 256,
    OPT_ADDRESS,
    OPT_PORT,
    OPT_PORT_FILE,
    OPT_THREADS,
    OPT_SEED,
    OPT_FAULT,
    OPT_QUIET,
    OPT_HELP
};

/* The command line. */
struct args {
    const char *port_file;
    struct in_addr address; /* 127.0.0.1 unless --address */
    uint64_t port, threads;
    struct rule_spec *specs;
    size_t nspecs;
};

/* Add one --fault rule: 0, 2 (bad usage) or 1 (out of memory). */
static int add_fault(struct args *a, const char *arg)
{
    char err[256];
    if (a->nspecs >= SIM_MAX_RULES) {
        fprintf(stderr, "reportsim: more than %d --fault rules\n", SIM_MAX_RULES);
        return 2;
    }
    struct rule_spec *v = realloc(a->specs, (a->nspecs + 1) * sizeof *v);
    if (!v) {
        fprintf(stderr, "reportsim: out of memory\n");
        return 1;
    }
    a->specs = v;
    if (spec_from_arg(arg, &a->specs[a->nspecs], err, sizeof err) != 0) {
        fprintf(stderr, "reportsim: bad --fault '%s': %s\n", arg, err);
        return 2;
    }
    a->nspecs++;
    return 0;
}

/* One option: 0, or the exit code (2 bad usage, after saying why). */
static int one_option(int o, struct sim *s, struct args *a, char **argv)
{
    switch (o) {
    case OPT_DIR: s->dir = optarg; return 0;
    case OPT_PORT_FILE: a->port_file = optarg; return 0;
    case OPT_ADDRESS:
        if (inet_pton(AF_INET, optarg, &a->address) == 1)
            return 0;
        fprintf(stderr, "reportsim: bad --address '%s' (an IPv4 address)\n", optarg);
        return 2;
    case OPT_QUIET: s->quiet = true; return 0;
    case OPT_FAULT: return add_fault(a, optarg);
    case OPT_PORT:
        if (parse_u64(optarg, 65535, &a->port) == 0)
            return 0;
        fprintf(stderr, "reportsim: bad --port '%s'\n", optarg);
        return 2;
    case OPT_THREADS:
        if (parse_u64(optarg, SIM_MAX_THREADS, &a->threads) == 0 && a->threads > 0)
            return 0;
        fprintf(stderr, "reportsim: bad --threads '%s' (1..%d)\n", optarg, SIM_MAX_THREADS);
        return 2;
    case OPT_SEED:
        if (parse_u64(optarg, UINT64_MAX, &s->seed) == 0)
            return 0;
        fprintf(stderr, "reportsim: bad --seed '%s'\n", optarg);
        return 2;
    default:
        fprintf(stderr, "reportsim: unknown or incomplete option '%s'\n", argv[optind - 1]);
        return 2;
    }
}

/* Every option: -1 to go on, else the exit code (--help: 0). */
static int parse_args(int argc, char **argv, struct sim *s, struct args *a)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, OPT_DIR},
        {"address", required_argument, NULL, OPT_ADDRESS},
        {"port", required_argument, NULL, OPT_PORT},
        {"port-file", required_argument, NULL, OPT_PORT_FILE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"fault", required_argument, NULL, OPT_FAULT},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int o, rc;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            usage(stdout);
            return 0;
        }
        if ((rc = one_option(o, s, a, argv)) != 0)
            return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "reportsim: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!s->dir) {
        fprintf(stderr, "reportsim: --dir is required\n");
        return 2;
    }
    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        fprintf(stderr, "reportsim: --dir %s: %s\n", s->dir, strerror(errno));
        return 2;
    }
    return -1;
}

/* Start serving on the address (loopback unless --address): the bound
 * port, or 0 after saying why. */
static unsigned start_daemon(struct sim *s, const struct args *a)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
    sa.sin_addr = a->address;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (!s->quiet)
        flags |= MHD_USE_ERROR_LOG;
    s->daemon =
        MHD_start_daemon(flags, (uint16_t)a->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)a->threads,
                         MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
    if (!s->daemon) {
        char host[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &a->address, host, sizeof host);
        fprintf(stderr, "reportsim: cannot listen on %s:%" PRIu64 "\n", host, a->port);
        return 0;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = di ? di->port : 0;
    if (bound == 0)
        fprintf(stderr, "reportsim: cannot tell the bound port\n");
    else if (a->port_file && write_port_file(a->port_file, bound) != 0) {
        fprintf(stderr, "reportsim: --port-file %s: %s\n", a->port_file, strerror(errno));
        bound = 0;
    }
    return bound;
}

/* The rules, the index, the latency thread, the daemon; then serve until
 * SIGINT or SIGTERM.  The exit code. */
static int serve(struct sim *s, const struct args *a)
{
    for (size_t i = 0; i < a->nspecs; i++)
        if (rule_add(s, &a->specs[i]) == 0) {
            fprintf(stderr, "reportsim: out of memory\n");
            return 1;
        }
    int rc = index_build(s->dirfd, &s->ix);
    if (rc != 0) {
        fprintf(stderr, "reportsim: scanning %s: %s\n", s->dir, strerror(-rc));
        return 1;
    }
    /* Signals go to the main thread only: block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (sched_init(&s->sched) != 0) {
        fprintf(stderr, "reportsim: cannot start the latency thread\n");
        return 1;
    }
    unsigned bound = start_daemon(s, a);
    if (bound == 0)
        return 1;
    pthread_mutex_lock(&s->mu); /* requests may already be changing these */
    sim_log(s, "serving %s on http://127.0.0.1:%u (%zu files, %zu skipped, %zu rules)", s->dir,
            bound, s->ix.n, s->ix.skipped, s->nrules);
    pthread_mutex_unlock(&s->mu);
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    sim_log(s, "signal %d, shutting down", sig);
    if (a->port_file)
        unlink(a->port_file);
    return 0;
}

int main(int argc, char **argv)
{
    struct sim s = {.dirfd = -1, .seed = 1, .next_id = 1};
    struct args a = {.threads = 4, .address = {htonl(INADDR_LOOPBACK)}};
    if (pthread_mutex_init(&s.mu, NULL) != 0)
        return 1;
    int exit_code = parse_args(argc, argv, &s, &a);
    if (exit_code == 2)
        usage(stderr);
    if (exit_code < 0)
        exit_code = serve(&s, &a);
    sched_stop(&s.sched);
    if (s.daemon)
        MHD_stop_daemon(s.daemon);
    sched_destroy(&s.sched);
    rules_clear(&s);
    free(s.rules);
    index_free(&s.ix);
    vt_free(&s.vt);
    free(a.specs);
    if (s.dirfd >= 0)
        close(s.dirfd);
    pthread_mutex_destroy(&s.mu);
    return exit_code;
}
