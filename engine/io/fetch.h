/* fetch.h -- the report server client (libcurl).
 *
 * The chain's report server lists a terminal-day's files with
 * `POST <base>/fetch_list2.php` (form fields branch, pos, date) and hands
 * each out with `GET <base>/<relative path>` (docs: pos-reports.md,
 * "Transport").  A tp_fetcher is shared by all of a process's threads: it
 * holds the politeness limits per report server (requests in flight, requests
 * per second) and the counters.  Each thread has its own tp_fetch_conn (one
 * curl handle: connections are reused between requests).
 *
 * Every request goes only where `allow` says (allow.h): a URL whose host
 * and port are not on it is refused before anything is sent, and each
 * connection's address is checked as it is opened (a listed name that
 * resolves to a loopback or link-local address is refused); no proxy from
 * the environment, no redirects.  A refusal is TP_FETCH_SERVER_ERROR,
 * TP_ECONFIG, not retried.
 *
 * Transient failures -- connect errors, resets, timeouts, 5xx, 429, bodies
 * shorter than their Content-Length, the server's HTML or text error pages --
 * are retried with exponential backoff and jitter.  What is left is told
 * apart by tp_fetch_kind, so a job's attempt says whether there were no files
 * yet, the server failed, or a file was bad.
 */
#ifndef TP_FETCH_H
#define TP_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "allow.h"
#include "core/error.h"
#include "sha.h"

typedef struct tp_fetch_opts {
    int connect_timeout_ms;  /* 0 = 10000 */
    int list_timeout_ms;     /* whole list request; 0 = 30000 */
    int file_timeout_ms;     /* whole download; 0 = 60000 */
    int retries;             /* further tries after the first; < 0 = 3 */
    double backoff_base;     /* seconds before the first retry, doubling; < 0 = 0.5 */
    uint64_t max_file_bytes; /* per file (and per archive member); 0 = 256 MiB */
    int max_in_flight;       /* per report server, all threads; 0 = 8 */
    double max_per_second;   /* requests per second per report server; 0 = no limit */
    const tp_allow *allow;   /* borrowed: the report servers it may reach; NULL = none */
} tp_fetch_opts;

typedef enum tp_fetch_kind {
    TP_FETCH_OK = 0,
    TP_FETCH_NO_FILES,     /* the list was empty: nothing exported yet */
    TP_FETCH_SERVER_ERROR, /* 5xx after retries, HTML error page, the error text, 4xx */
    TP_FETCH_NETWORK,      /* could not connect / reset / timed out, after retries */
    TP_FETCH_BAD_FILE      /* truncated after retries, over the size cap, not CSV */
} tp_fetch_kind;

/* A stable name for job attempts and metrics: "no_files", "server_error",
 * "network_error", "bad_file" ("ok"). */
const char *tp_fetch_kind_code(tp_fetch_kind k);

typedef struct tp_fetch_stats {
    uint64_t requests, retries, bytes, files;
    uint64_t errors[TP_FETCH_BAD_FILE + 1]; /* final outcomes by kind */
} tp_fetch_stats;

typedef struct tp_fetcher tp_fetcher;
typedef struct tp_fetch_conn tp_fetch_conn;

int tp_fetcher_create(const tp_fetch_opts *opts, tp_fetcher **out, tp_error *err);
void tp_fetcher_destroy(tp_fetcher *f);
void tp_fetcher_stats(tp_fetcher *f, tp_fetch_stats *out);
uint64_t tp_fetcher_max_file_bytes(const tp_fetcher *f);

tp_fetch_conn *tp_fetch_conn_create(tp_fetcher *f, tp_error *err);
void tp_fetch_conn_destroy(tp_fetch_conn *c);

/* A poll for the connection's requests (NULL: none): while a request runs
 * (waiting for the server too, at least once a second) and before each try,
 * a non-zero value from stop(ud) -- a negative TP_E* code, such as
 * TP_ESTOP for a worker's drain -- ends the request at once, and the
 * list or download returns that code (err says so; a download leaves no
 * file).  Not retried. */
void tp_fetch_conn_set_stop(tp_fetch_conn *c, int (*stop)(void *ud), void *ud);

/* The relative paths the server lists for a terminal-day: *paths (an array
 * of *n strings; free with tp_fetch_list_free).  Returns 0 (an empty list is
 * *kind = TP_FETCH_NO_FILES), or < 0 with *kind and err set. */
int tp_fetch_list(tp_fetch_conn *c, const char *base, const char *branch, int pos, const char *date,
                  char ***paths, size_t *n, tp_fetch_kind *kind, tp_error *err);
void tp_fetch_list_free(char **paths, size_t n);

/* The list answer's body `text` (`len` bytes, not NUL-terminated) as tp_fetch_list
 * reads it: comma-separated relative paths, whitespace around each ignored,
 * empty entries skipped.  A path that is absolute, has an empty, "." or ".."
 * segment, a control byte (NUL included), '\\', '?' or '#', or 1024 bytes or
 * more refuses the whole list (TP_EPARSE, *kind TP_FETCH_SERVER_ERROR);
 * `what` names the request in that message.  Returns 0 with *paths and *n as
 * tp_fetch_list gives them (no paths: *kind TP_FETCH_NO_FILES). */
int tp_fetch_list_parse(const char *text, size_t len, const char *what, char ***paths, size_t *n,
                        tp_fetch_kind *kind, tp_error *err);

/* Download `relpath` to the new file `dest`, streaming, with its sha256 and
 * size.  On failure dest does not exist.  The body must look like a CSV
 * (text) file or an archive (zip, tar, gzip). */
int tp_fetch_file(tp_fetch_conn *c, const char *base, const char *relpath, const char *dest,
                  char sha256[TP_SHA256_HEX], uint64_t *size, tp_fetch_kind *kind, tp_error *err);

#endif
