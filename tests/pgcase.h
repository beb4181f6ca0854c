/* pgcase.h -- the fixture of the process-level tests (test_worker,
 * test_fetchjobs): one PostgreSQL per test binary (tests/pg/pgctl.sh), a
 * database and a folder per case, the real tillpipe binary run as commands
 * and as worker processes (fork + exec, pids kept, logs shown when a case
 * fails), queries on the case's database, and the records table compared
 * row by row with what `tillpipe run --format csv` gives for the same files.
 */
#ifndef TP_PGCASE_H
#define TP_PGCASE_H

#include <check.h>
#include <libpq-fe.h>
#include <sys/types.h>

#include "testutil.h"

#define BIN TP_TEST_BIN
#define PLUGINS " --plugins " TP_TEST_PLUGIN_DIR
/* Short leases (heartbeat every 0.5 s, rescue every 0.75 s), no retry wait;
 * raw files into the case's own store. */
#define WORKER BIN " worker" PLUGINS " --lease 3 --backoff 0"
/* A worker whose loads pause `s` seconds inside their transaction, as they
 * mark the job succeeded: its connections are named so (PGAPPNAME, libpq's
 * own variable), and the case's database has a test-only trigger that
 * sleeps for them (case_begin; nothing of the kind is in tillpipe). */
#define PAUSE(s) "PGAPPNAME=tillpipe-test-pause:" #s

extern char base_url[512]; /* the server's own database */
extern char url[700];      /* this case's database */
extern char *root;         /* every case's folder is in it; removed at the end */
extern char tmp[600];      /* this case's folder: <root>/<case> */

/* Workers started by this case.  Each dies with the case's process (a failed
 * assertion _exits it); the logs of a failed case are shown at the end. */
#define MAXW 16
typedef struct pc_worker {
    pid_t pid;
    char log[800];
} pc_worker;
extern pc_worker workers[MAXW];
extern int nworkers;

void sleep_s(double s);
double now_s(void);

/* TP_TEST_VERBOSE=1: where the time goes. */
void trace(const char *what, int line);
#define TRACE(what) trace(what, __LINE__)

void quiet_notice(void *arg, const char *msg);
PGconn *conn(void); /* to the case's database */
void exec_ok(PGconn *c, const char *sql);
/* The first value of a query on the case's database (malloc'd; "" for a
 * command), or NULL on any error (the server may be restarting). */
char *try_q(const char *sql);
char *qs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
long long qi(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The query's first value is `want`. */
#define qeq(...) qeq_at(__LINE__, __VA_ARGS__)
void qeq_at(int line, const char *want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Poll until the query gives `want`; 1 when it did within `timeout` s. */
int wait_for(double timeout, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Run a command (stdout and stderr in *out); returns its exit status. */
int sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Run a command that must succeed; returns its output (caller frees). */
char *ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define ok_contains(...) ok_contains_at(__LINE__, __VA_ARGS__)
void ok_contains_at(int line, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Start a worker: `env` (NAME=VALUE or NULL) added to its environment, its
 * stdout and stderr into a log in the case's folder.  It dies with us. */
int spawn(const char *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wait for worker w to exit: its exit status, 128 + signal when killed by
 * one, or -1 when still running after `timeout` s (then it is killed). */
int wait_exit(int w, double timeout);
#define expect_exit(...) expect_exit_at(__LINE__, __VA_ARGS__)
void expect_exit_at(int line, int w, double timeout, int code);
void kill9(int w);
char *wlog(int w);
#define log_contains(...) log_contains_at(__LINE__, __VA_ARGS__)
void log_contains_at(int line, int w, const char *want);
int count_substr(const char *s, const char *sub);

/* A fresh database for the case, migrated, with the chain's branches; the
 * case's folder; $TILLPIPE_STORE pointing at <folder>/store. */
void case_begin(const char *name);
/* Only these branches take part in range enqueues. */
void only_branches(const char *codes_sql);
/* `tillpipe gen ARGS --out <tmp>/sub`. */
void gen(const char *sub, const char *args);

/* Backends of workers paused inside their load transaction, marking the
 * job succeeded (PAUSE). */
#define PAUSED_IN_LOAD                                                                             \
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"                     \
    " AND state = 'active' AND wait_event = 'PgSleep'"                                           \
    " AND query LIKE 'WITH a AS (UPDATE job_attempts SET stage = ''done''%%'"
/* Backends waiting for a lock (a worker blocked on the held branches lock). */
#define WAITING_ON_LOCK                                                                            \
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"                     \
    " AND wait_event_type = 'Lock'"
void wait_paused(int n);
/* Hold LOCK TABLE branches: a worker that claims a job blocks reading the
 * branch configuration, between its fetch and parse stages. */
PGconn *lock_branches(void);
void unlock_branches(PGconn *c);

#define REC_COLUMNS                                                                                \
    "branch, pos, business_date, or_number, transno, item_code, product_name, quantity,"           \
    " unit_price, amount, discount, department_code, department_name, pos_department_code,"        \
    " time_text, time_minutes, daypart, type_code, transaction_type, discount_code,"               \
    " discount_name, vat_flag, vat_div, vat_amount, vat_discount, vat_price, payment_code,"        \
    " payment_name, phone, source_file, source_line"
#define TEXT_COLUMNS                                                                               \
    "branch, or_number, transno, item_code, product_name, department_code, department_name,"       \
    " pos_department_code, time_text, type_code, discount_code, discount_name, vat_flag,"          \
    " payment_code, payment_name, phone, source_file"

/* Run `tillpipe run --format csv` over `dir` (with `filter` options) and
 * load its records into the table `expected` (replacing what it had), typed
 * as the records table is.  Returns the number of records. */
long long load_expected(const char *dir, const char *filter);
/* The records table holds exactly the expected records, each once. */
void records_are_expected(long long n);
/* Every job succeeded, and each exactly once. */
void all_succeeded_once(long long jobs);

/* One TCase per case, so CK_RUN_CASE=<name> runs just that one; its folder
 * and database are named after it. */
void pc_add(Suite *s, const char *name, const TTest *test);
/* Start the server, run the suite (showing failed cases' worker logs),
 * stop it.  `before`/`after` (may be NULL) run around the suite. */
int pc_main(const char *prog, Suite *suite, void (*before)(void), void (*after)(void));

#endif
