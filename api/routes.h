/* routes.h -- the API's handlers, one file per resource (jobs.c,
 * branches.c, ...), collected in the route table of routes.c; and what
 * they share: checking query parameters and answering list pages.  Private
 * to api/. */
#ifndef TP_ROUTES_H
#define TP_ROUTES_H

#include "db/lists.h"
#include "http.h"

/* ops.c: health and metrics */
void tp__livez(tp_req *req);
void tp__readyz(tp_req *req);
void tp__metrics(tp_req *req);
/* auth.c */
void tp__login(tp_req *req);
void tp__logout(tp_req *req);
/* jobs.c, bundle.c */
void tp__jobs_list(tp_req *req);
void tp__job_get(tp_req *req);
void tp__jobs_fetch(tp_req *req);
void tp__job_retry(tp_req *req);
void tp__job_cancel(tp_req *req);
void tp__job_bundle(tp_req *req);
/* branches.c */
void tp__branches_list(tp_req *req);
void tp__branches_upsert(tp_req *req);
void tp__branch_get(tp_req *req);
void tp__branch_put(tp_req *req);
void tp__branch_patch(tp_req *req);
void tp__branch_test_parse(tp_req *req);
/* missing.c */
void tp__missing_get(tp_req *req);
void tp__missing_run(tp_req *req);
/* plugins.c, audit.c */
void tp__plugins_list(tp_req *req);
void tp__plugin_unquarantine(tp_req *req);
void tp__plugins_reload(tp_req *req);
/* The server's current plugin set, referenced until tp__plugins_put (a
 * reload does not free it meanwhile); NULL when the server has none. */
const tp_registry *tp__plugins_get(tp_req *req);
void tp__plugins_put(tp_req *req, const tp_registry *reg);
void tp__audit_list(tp_req *req);
/* files.c */
void tp__files_list(tp_req *req);
void tp__file_download(tp_req *req);
/* records.c, export.c, events.c */
void tp__records_list(tp_req *req);
void tp__records_export(tp_req *req);
void tp__events(tp_req *req);

/* After a lookup that returned rc: 0 when it succeeded; else -1 after
 * replying 404 not_found ("no such WHAT") for TP_ENOTFOUND, or the database
 * error. */
int tp__lookup_failed(tp_req *req, int rc, const tp_error *err, const char *what);

/* A stored raw file opened for an answer, its bytes checked against the
 * sha256 that names them first (a store may keep what a crash left): the
 * descriptor, or -1 after answering 503 (unreadable) or 500 store_corrupt. */
int tp__open_stored(tp_req *req, const char *key, const char *sha256, const char *name);

/* ---- query parameters ---- */

/* A query parameter that must be absent or pass `ok`: 0 with *out (NULL
 * when absent), or -1 after replying 400 invalid_parameter ("NAME: want
 * WANT"). */
int tp__param(tp_req *req, const char *name, int (*ok)(const char *), const char *want,
              const char **out);
int tp__ok_date(const char *s);   /* YYYY-MM-DD, a calendar date */
int tp__ok_pos(const char *s);    /* a terminal, 1-99 */
int tp__ok_status(const char *s); /* a job status */
int tp__ok_limit(const char *s);  /* a page size, 1-500 */
int tp__ok_id(const char *s);     /* a positive id */
int tp__ok_sha256(const char *s); /* 64 lowercase hex digits */

/* A date range of at most TP_RANGE_MAX_DAYS (and a branch code, which may
 * be NULL): 0, or -1 after replying 400. */
#define TP_RANGE_MAX_DAYS 366
int tp__read_range(tp_req *req, const char *start, const char *end, const char *branch);

/* The number of a validated limit (`dflt` when absent). */
int tp__limit(const char *s, int dflt);

/* A file name from branch data made safe for a header or an archive: what
 * is not a letter, digit, '.', '_' or '-' becomes '_'. */
void tp__safe_file_name(char *name);

/* ---- request checks, callable alone (tests/fuzz) ---- */

/* jobs.c: POST /api/jobs/fetch's body {"branch", "pos", "date", "force"?}
 * and nothing else: 1 with the values, 0 when it is not that. */
int tp__jobs_fetch_body_ok(json_t *b, const char **branch, json_int_t *pos, const char **date,
                           int *force);
/* records.c: a records cursor's five key values as text into key[] (free
 * each): 0, or -1 when it is not one this server gave. */
int tp__records_cursor(const char *cursor, char *key[5]);
/* missing.c: the cells of POST /api/missing/run's map body {branch: {pos:
 * [dates]}} appended to `cells`: 0, or -1 after replying 400. */
int tp__missing_map_cells(tp_req *req, json_t *b, json_t *cells);

/* ---- list pages ---- */

/* Answer a page: {"items", "next" (an opaque cursor: base64url of `prefix`
 * and the page's next key), "total", "total_exact"}.  Takes the page. */
void tp__reply_page(tp_req *req, tp_list_page *page, const char *prefix);

/* A cursor given back: its text after `prefix` into buf (NUL-terminated),
 * 0; -1 when it is not one this server gave. */
int tp__cursor_decode(const char *cursor, const char *prefix, char *buf, size_t cap);

#endif
