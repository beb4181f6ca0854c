/* conform.c -- the conformance kit's runner (conform.h): plans the checks,
 * runs each in a fork()ed child watched for progress, and writes one line
 * per check.  The checks themselves are conform_check.c.
 *
 * The plugin is loaded only in the children -- first one that reads its
 * descriptor for the plan, then one per check -- so that none of its code
 * runs in the kit's own process and a crash while loading (a constructor,
 * the entry function) is reported like any other.  fork() without exec: the
 * caller is single-threaded when it runs the kit (the command line), and a
 * child leaves with _exit. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform_int.h"
#include "core/clock.h"

/* ------------------------------------------------------------ cases */

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_file(const char *dir, const char *name)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_case(const void *a, const void *b)
{
    return strcmp(((const tp__kit_case *)a)->name, ((const tp__kit_case *)b)->name);
}

static void free_cases(tp__kit_case *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].dir);
    }
    free(v);
}

/* Append the case `name` in folder `path`; -1 when out of memory. */
static int add_case(tp__kit *k, size_t *cap, const char *path, const char *name)
{
    if (k->ncases == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        tp__kit_case *nv = realloc(k->cases, ncap * sizeof *nv);
        if (!nv)
            return -1;
        k->cases = nv;
        *cap = ncap;
    }
    tp__kit_case *c = &k->cases[k->ncases];
    c->name = strdup(name);
    c->dir = strdup(path);
    if (!c->name || !c->dir) {
        free(c->name);
        free(c->dir);
        return -1;
    }
    k->ncases++;
    return 0;
}

/* The case folders `dir` names (see tp_conform_run), sorted by name. */
static int list_cases(tp__kit *k, const char *dir, tp_error *err)
{
    size_t cap = 0;
    if (has_file(dir, "input.csv")) { /* one case */
        const char *slash = strrchr(dir, '/');
        if (add_case(k, &cap, dir, slash && slash[1] ? slash + 1 : dir) < 0)
            return tp_error_set(err, TP_ENOMEM, "out of memory");
        return TP_OK;
    }
    char sub[4200], path[4200];
    snprintf(sub, sizeof sub, "%s/%s", dir, k->desc.name);
    if (is_dir(sub)) /* a folder of cases per plugin, as tests/plugins/cases */
        dir = sub;
    DIR *d = opendir(dir);
    if (!d)
        return tp_error_set(err, errno == ENOENT ? TP_ENOTFOUND : TP_EIO, "cases folder %s: %s",
                            dir, strerror(errno));
    struct dirent *e;
    int rc = TP_OK;
    while (rc == TP_OK && (e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && is_dir(path) && add_case(k, &cap, path, e->d_name) < 0)
            rc = tp_error_set(err, TP_ENOMEM, "out of memory");
    }
    closedir(d);
    if (rc == TP_OK && k->ncases == 0)
        rc = tp_error_set(err, TP_ENOTFOUND,
                          "cases folder %s holds no case: a case is a folder with input.csv, and "
                          "optionally expected.jsonl, error, branch, options.json",
                          dir);
    if (rc == TP_OK)
        qsort(k->cases, k->ncases, sizeof *k->cases, cmp_case);
    return rc;
}

/* ------------------------------------------------------------ one check */

static void check_label(const tp__kit_check *c, const tp__kit *k, char *buf, size_t n)
{
    switch (c->kind) {
    case TP__CHECK_CASE:
        snprintf(buf, n, "%s case %s", c->schema->name, k->cases[c->index].name);
        break;
    case TP__CHECK_SMOKE:
        snprintf(buf, n, "%s smoke %s", c->schema->name, tp__kit_smoke_name(c->index));
        break;
    case TP__CHECK_STOP: snprintf(buf, n, "%s stop", c->schema->name); break;
    default: snprintf(buf, n, "%s memory", c->schema->name); break;
    }
}

/* Wait for the child, killing it once it has made no progress for the
 * timeout.  *hung tells which. */
static void watch(const tp__kit *k, pid_t pid, int *status, int *hung)
{
    uint_fast64_t last = atomic_load(&k->sh->progress);
    double since = tp_now(), nap = 0.0005;
    *hung = 0;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            return;
        uint_fast64_t now = atomic_load(&k->sh->progress);
        if (now != last) {
            last = now;
            since = tp_now();
        } else if (tp_now() - since >= (double)k->timeout_s) {
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
            *hung = 1;
            return;
        }
        tp_sleep(nap);
        nap = nap < 0.02 ? nap * 2 : nap;
    }
}

/* Where the child was when it died: " at chunk size 7", " on the whole
 * input (N bytes)", " after 12.0 MB of generated input" -- and in which
 * callback. */
static void where(const tp__kit *k, const tp__kit_check *c, char *buf, size_t n, char *in,
                  size_t inn)
{
    size_t chunk = atomic_load(&k->sh->chunk), len = atomic_load(&k->sh->len);
    int call = atomic_load(&k->sh->call);
    if (c->kind == TP__CHECK_MEMORY)
        snprintf(buf, n, " after %.1f MB of generated input",
                 (double)atomic_load(&k->sh->fed) / 1e6);
    else if (chunk == 0 && len == 0 && atomic_load(&k->sh->progress) == 0)
        buf[0] = '\0';
    else if (chunk >= len)
        snprintf(buf, n, " on the whole input (%zu bytes)", len);
    else
        snprintf(buf, n, " at chunk size %zu", chunk);
    if (call != TP__CALL_NONE)
        snprintf(in, inn, " (in %s)", tp__kit_call_name(call));
    else
        in[0] = '\0';
}

/* How a child ended that did not finish: killed, exited, hung. */
static void end_text(const tp__kit *k, int status, int hung, char *buf, size_t n)
{
    if (hung)
        snprintf(buf, n, "no progress for %u s (killed)", k->timeout_s);
    else if (WIFSIGNALED(status) && sigabbrev_np(WTERMSIG(status)))
        snprintf(buf, n, "killed by SIG%s", sigabbrev_np(WTERMSIG(status)));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, n, "exited with %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* The child's end as a message; 1 when the check passed. */
static int ending(const tp__kit *k, const tp__kit_check *c, int status, int hung, char *msg,
                  size_t n)
{
    if (!hung && WIFEXITED(status) && k->sh->done) {
        snprintf(msg, n, "%s", k->sh->msg);
        return !k->sh->failed;
    }
    char at[120], in[40], what[120];
    where(k, c, at, sizeof at, in, sizeof in);
    end_text(k, status, hung, what, sizeof what);
    snprintf(msg, n, "%s: %s%s%s%s", at, what, in, k->sh->breach[0] ? "; before that it " : "",
             k->sh->breach);
    return 0;
}

/* In the child: load the plugin -- the very build the plan was made from --
 * and run the check. */
static void check_child(const tp__kit *k, const tp__kit_check *c)
{
    tp_error err = {0};
    tp__kit ck = *k;
    tp_plugin *p = tp_plugin_load(k->path, &err);
    if (!p || strcmp(p->sha256, k->desc.sha256) != 0) {
        snprintf(k->sh->msg, sizeof k->sh->msg, ": %s",
                 p ? "the plugin file changed during the run" : err.msg);
        k->sh->failed = 1;
        k->sh->done = 1;
        return;
    }
    ck.plugin = p;
    tp__kit_check_run(&ck, c);
}

static void run_check(const tp__kit *k, const tp__kit_check *c, FILE *out, tp_conform_result *res)
{
    char label[300], msg[2200];
    check_label(c, k, label, sizeof label);
    memset(k->sh, 0, sizeof *k->sh);
    fflush(out);
    fflush(stdout);
    fflush(stderr);
    int ok = 0;
    pid_t pid = fork();
    if (pid == 0) {
        check_child(k, c);
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    if (pid < 0)
        snprintf(msg, sizeof msg, ": cannot start the check (fork): %s", strerror(errno));
    else {
        int status = 0, hung = 0;
        watch(k, pid, &status, &hung);
        ok = ending(k, c, status, hung, msg, sizeof msg);
    }
    fprintf(out, "%s %s%s\n", ok ? "ok  " : "FAIL", label, msg);
    fflush(out);
    res->checks++;
    res->failed += !ok;
}

/* ------------------------------------------------------------ the run */

/* "rd5000, rd5800" for the plugin's types, into buf. */
static void types_str(const tp__kit_desc *d, char *buf, size_t n)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d->ntypes && at < n; i++) {
        int w = snprintf(buf + at, n - at, "%s%s", i ? ", " : "",
                         tp_schema_of((tp_report_type)d->types[i])->name);
        at += w > 0 ? (size_t)w : 0;
    }
}

/* The report types to check: opts->type; else with cases the plugin's
 * first type, without them all of its types. */
static int plan_types(const tp__kit *k, const tp_conform_opts *o, const tp_schema **types,
                      size_t *n, tp_error *err)
{
    const tp__kit_desc *d = &k->desc;
    char list[256];
    types_str(d, list, sizeof list);
    *n = 0;
    if (o->type) {
        int t = tp_schema_find(o->type);
        if (t < 0)
            return tp_error_set(err, TP_EINVAL, "unknown report type \"%s\" (known: %s)", o->type,
                                tp_schema_names());
        for (size_t i = 0; i < d->ntypes; i++)
            if (d->types[i] == t) {
                types[(*n)++] = tp_schema_of((tp_report_type)t);
                return TP_OK;
            }
        return tp_error_set(err, TP_EINVAL, "%s: plugin %s does not parse %s (it parses %s)",
                            k->path, d->name, o->type, list);
    }
    for (size_t i = 0; i < d->ntypes && !(o->cases_dir && *n == 1); i++)
        types[(*n)++] = tp_schema_of((tp_report_type)d->types[i]);
    if (*n == 0)
        return tp_error_set(err, TP_EPLUGIN, "%s: plugin %s declares no known report type", k->path,
                            d->name);
    return TP_OK;
}

/* In the load step's child: the descriptor into sh->desc, or the refusal. */
static void load_child(const tp__kit *k)
{
    tp_error err = {0};
    tp_plugin *p = tp_plugin_load(k->path, &err);
    tp__kit_desc *d = &k->sh->desc;
    if (!p) {
        snprintf(k->sh->msg, sizeof k->sh->msg, "%s", err.msg);
        k->sh->code = err.code ? err.code : TP_EPLUGIN;
        k->sh->failed = k->sh->done = 1;
        return;
    }
    snprintf(d->name, sizeof d->name, "%s", p->desc->name);
    snprintf(d->version, sizeof d->version, "%s", p->desc->version);
    snprintf(d->sha256, sizeof d->sha256, "%s", p->sha256);
    d->abi_major = p->desc->abi_major;
    d->abi_minor = p->desc->abi_minor;
    for (size_t i = 0; p->desc->types[i] && d->ntypes < TP_TYPE_COUNT; i++) {
        int t = tp_schema_find(p->desc->types[i]);
        if (t >= 0)
            d->types[d->ntypes++] = t;
    }
    k->sh->done = 1;
}

/* Load the plugin in a child of its own and take its descriptor into
 * k->desc.  0, or < 0 with err set: refused, or the load crashed or hung. */
static int load_step(tp__kit *k, tp_error *err)
{
    memset(k->sh, 0, sizeof *k->sh);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        load_child(k);
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    if (pid < 0)
        return tp_error_set(err, TP_EIO, "cannot start loading the plugin (fork): %s",
                            strerror(errno));
    int status = 0, hung = 0;
    watch(k, pid, &status, &hung);
    if (!hung && WIFEXITED(status) && k->sh->done) {
        if (k->sh->failed)
            return tp_error_set(err, k->sh->code, "%s", k->sh->msg);
        k->desc = k->sh->desc;
        return TP_OK;
    }
    char what[120];
    end_text(k, status, hung, what, sizeof what);
    return tp_error_set(err, TP_EPLUGIN,
                        "plugin %s: loading it %s: its constructors or %s() crashed, exited or "
                        "hung",
                        k->path, what, TP_PLUGIN_ENTRY_NAME);
}

static void run_type(const tp__kit *k, const tp_schema *s, FILE *out, tp_conform_result *res)
{
    tp__kit_check c = {TP__CHECK_CASE, s, 0};
    size_t n = k->cases ? k->ncases : tp__kit_smoke_count();
    c.kind = k->cases ? TP__CHECK_CASE : TP__CHECK_SMOKE;
    for (c.index = 0; c.index < n; c.index++)
        run_check(k, &c, out, res);
    c.kind = TP__CHECK_STOP;
    c.index = 0;
    run_check(k, &c, out, res);
    if (k->memory_input > 0) {
        c.kind = TP__CHECK_MEMORY;
        run_check(k, &c, out, res);
    }
}

/* The header line, every type's checks, the summary. */
static void run_all(const tp__kit *k, const tp_conform_opts *o, const tp_schema *const *types,
                    size_t ntypes, FILE *out, tp_conform_result *res)
{
    char list[256];
    types_str(&k->desc, list, sizeof list);
    fprintf(out, "plugin %s %s (%s), ABI %u.%u, types %s; %s\n", k->desc.name, k->desc.version,
            k->path, k->desc.abi_major, k->desc.abi_minor, list,
            o->cases_dir ? "cases from the cases folder" : "built-in smoke inputs");
    for (size_t i = 0; i < ntypes; i++)
        run_type(k, types[i], out, res);
    fprintf(out, "%u checks: %u ok%s", res->checks, res->checks - res->failed,
            res->failed ? ", " : "\n");
    if (res->failed)
        fprintf(out, "%u FAILED\n", res->failed);
    fflush(out);
}

int tp_conform_run(const char *path, const tp_conform_opts *opts, tp_conform_result *res,
                   tp_error *err)
{
    tp_conform_opts o = opts ? *opts : (tp_conform_opts){0};
    tp_conform_result unused;
    res = res ? res : &unused;
    memset(res, 0, sizeof *res);
    tp__kit k = {.path = path,
                 .timeout_s = o.timeout_s ? o.timeout_s : TP_CONFORM_TIMEOUT,
                 .memory_input = o.memory_input ? o.memory_input : TP_CONFORM_MEMORY_INPUT,
                 .memory_limit = o.memory_limit > 0 ? o.memory_limit : TP_CONFORM_MEMORY_LIMIT};
    void *map = mmap(NULL, sizeof *k.sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return tp_error_set(err, TP_ENOMEM, "shared memory for the checks: %s", strerror(errno));
    k.sh = map;
    const tp_schema *types[TP_TYPE_COUNT];
    size_t ntypes = 0;
    int rc = load_step(&k, err);
    if (rc == TP_OK)
        rc = plan_types(&k, &o, types, &ntypes, err);
    if (rc == TP_OK && o.cases_dir)
        rc = list_cases(&k, o.cases_dir, err);
    if (rc == TP_OK)
        run_all(&k, &o, types, ntypes, o.out ? o.out : stdout, res);
    munmap(map, sizeof *k.sh);
    free_cases(k.cases, k.ncases);
    return rc;
}
