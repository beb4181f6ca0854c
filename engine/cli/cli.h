/* cli.h -- the tillpipe command: one function per subcommand, collected in
 * a table in main.c, and the helpers they share.  This folder is the one
 * place that wires the engine's layers and the API together.
 *
 * Each command returns the process exit status: 0 ok, 1 failure, 2 usage
 * error; errors are one line on stderr starting with "tillpipe <command>: ".
 */
#ifndef TP_CLI_H
#define TP_CLI_H

#include <signal.h>
#include <stddef.h>

#include "core/config.h"
#include "core/error.h"
#include "db/db.h"
#include "io/fetch.h"
#include "pipeline/plugin.h"
#include "pipeline/plugset.h"
#include "store/store.h"
#include "worker/worker.h"

enum { TP_EXIT_OK = 0, TP_EXIT_FAIL = 1, TP_EXIT_USAGE = 2 };

int tp__cmd_run(int argc, char **argv);
int tp__cmd_parse(int argc, char **argv);
int tp__cmd_config(int argc, char **argv);
int tp__cmd_plugin(int argc, char **argv);
int tp__cmd_plugin_test(int argc, char **argv); /* `plugin test`: argv[0] is "test" */
int tp__cmd_gen(int argc, char **argv);
int tp__cmd_migrate(int argc, char **argv);
int tp__cmd_branch(int argc, char **argv);
int tp__cmd_enqueue(int argc, char **argv);
int tp__cmd_reparse(int argc, char **argv);
int tp__cmd_jobs(int argc, char **argv);
int tp__cmd_job(int argc, char **argv);
int tp__cmd_worker(int argc, char **argv);
int tp__cmd_serve(int argc, char **argv);
int tp__cmd_user(int argc, char **argv);
int tp__cmd_store(int argc, char **argv);             /* `store verify` */
int tp__cmd_plugin_quarantine(int argc, char **argv); /* argv[0] = "quarantine" */

/* What a worker needs besides its options: the raw-file store, the fetcher
 * (politeness limits), the plugins.  `worker` and `serve` open it alike. */
typedef struct tp__worker_env {
    tp_worker_opts o; /* the caller's options, completed */
    tp_store_config scfg;
    char sbuf[1024], workroot[4200];
    tp_store *store;
    tp_fetcher *fetcher;
    tp_plugset *plugins; /* reloaded on SIGHUP and POST /api/plugins/reload */
} tp__worker_env;

int tp__worker_env_open(tp__worker_env *e, const tp_worker_opts *o, const tp_fetch_opts *fo,
                        const char *store_opt, const char *plugin_dir, const char *cmd,
                        tp_error *err);
void tp__worker_env_close(tp__worker_env *e);

/* The report source of in-process workers: --server (else
 * $TILLPIPE_REPORT_SERVER) or --reports; `needed` when there must be one.
 * -1 when fine, else the exit status after saying why. */
int tp__worker_source(const char *cmd, tp_worker_opts *o, int needed);

/* The report-server allow-list (io/allow.h) of `worker`, `serve` and
 * `branch import`: the entries of --report-server-allow HOST[:PORT][,...]
 * (repeatable), else of $TILLPIPE_REPORT_SERVER_ALLOW, and always the
 * default report server (`server`: --server or $TILLPIPE_REPORT_SERVER; may
 * be NULL).  tp__allow_option takes one option (creating *a): TP_EXIT_OK or
 * TP_EXIT_USAGE after saying why.  tp__allow_finish completes *a: -1 when
 * fine, else the exit status after saying why.  tp_allow_destroy it. */
#define TP__REPORT_SERVER_ALLOW_USAGE                                                              \
    "  --report-server-allow HOST[:PORT],...  report servers a branch's report_server may\n"       \
    "                     name, besides the default (--server) one (default\n"                     \
    "                     $TILLPIPE_REPORT_SERVER_ALLOW; HOST alone: ports 80/443; a\n"            \
    "                     loopback or link-local address only when listed as an address)\n"
int tp__allow_option(const char *cmd, tp_allow **a, const char *arg);
int tp__allow_finish(const char *cmd, tp_allow **a, const char *server);

/* Stop on SIGTERM and SIGINT: the flag the handlers set. */
volatile sig_atomic_t *tp__stop_on_signals(void);

/* The plugin directory: --plugins, else $TILLPIPE_PLUGIN_DIR, else plugins/
 * next to the executable (the build tree), else the install's plugin folder
 * relative to the executable (<exe dir>/../<libdir>/tillpipe/plugins: an
 * install under any prefix), else the compiled-in install location.  The
 * result is `opt`, the environment's string, buf or a constant. */
const char *tp__plugin_dir(const char *opt, char *buf, size_t n);

/* How plugins run, for every command that runs them: in helper processes
 * (the default) or, with --isolation none, in this one (debugging). */
enum {
    TP__OPT_ISOLATION = 0x1000,
    TP__OPT_PLUGIN_MEMORY,
    TP__OPT_PLUGIN_TIMEOUT,
    TP__OPT_TRUSTED_KEYS
};
/* clang-format off */
#define TP__PLUGIN_OPTIONS                                                      \
    {"isolation", required_argument, 0, TP__OPT_ISOLATION},                     \
    {"plugin-memory-mb", required_argument, 0, TP__OPT_PLUGIN_MEMORY},          \
    {"plugin-timeout", required_argument, 0, TP__OPT_PLUGIN_TIMEOUT},           \
    {"trusted-keys", required_argument, 0, TP__OPT_TRUSTED_KEYS}
#define TP__PLUGIN_USAGE                                                                    \
    "  --isolation process|none  run plugins in sandboxed helper processes (default) or\n"  \
    "                            in this process (debugging: a crash takes it down)\n"      \
    "  --plugin-memory-mb N      a helper's address-space limit (default 1024)\n"           \
    "  --plugin-timeout S        kill a parse that makes no progress for S s (default 30)\n" \
    "  --trusted-keys DIR        load only plugins installed from packages signed by a key\n" \
    "                            in DIR (default $TILLPIPE_TRUSTED_KEYS; unset: any)\n"
#define TP__PLUGIN_OPTION_CASES                                                 \
    case TP__OPT_ISOLATION:                                                     \
    case TP__OPT_PLUGIN_MEMORY:                                                 \
    case TP__OPT_PLUGIN_TIMEOUT:                                                \
    case TP__OPT_TRUSTED_KEYS
/* clang-format on */

/* Take one of TP__PLUGIN_OPTIONS: TP_EXIT_OK, or TP_EXIT_USAGE after
 * saying why. */
int tp__plugin_option(const char *cmd, int c, const char *arg);

/* Load the plugin directory; prints failures as warnings (unless quiet).
 * `parallel`: how many parses may run at once (helpers to keep).  NULL with
 * err set when the directory cannot be read or holds no plugin. */
tp_registry *tp__load_plugins(const char *opt, int quiet, int parallel, tp_error *err);

/* Unload them (and stop their helpers); NULL is a no-op. */
void tp__unload_plugins(tp_registry *r);

/* An empty registry set up as the options say (sandbox, trusted keys). */
tp_registry *tp__plugin_registry(int parallel, tp_error *err);

/* The process's plugin sandbox (started on first use), or NULL with
 * --isolation none (or when it cannot start: then err says why). */
tp_sandbox *tp__plugin_sandbox(tp_error *err);

/* The same folder as a plugin set that can be reloaded while the process
 * runs (`worker`, `serve`); NULL with err set as for tp__load_plugins. */
tp_plugset *tp__load_plugset(const char *opt, int quiet, int parallel, tp_error *err);
void tp__unload_plugset(tp_plugset *s);

/* SIGHUP reloads the plugins (reload.c).  tp__sighup_catch, before any
 * thread starts: SIGHUP no longer ends the process but is held back from
 * every thread but the reloader's (no other thread's system calls are
 * interrupted).  tp__reloader_start: a thread that reloads `s` after each
 * SIGHUP and says on stderr what it loaded ("tillpipe CMD: plugins
 * reloaded: ..."), or why not; 0, or < 0 with err set.  tp__reloader_stop
 * ends it. */
void tp__sighup_catch(void);
int tp__reloader_start(tp_plugset *s, const char *cmd, int quiet, tp_error *err);
void tp__reloader_stop(void);

/* Connect to the database of --database (or $TILLPIPE_DATABASE_URL) and,
 * when `check`, make sure its schema is this tillpipe's; NULL after
 * printing why. */
tp_db *tp__cli_db(const char *cmd, const char *url_opt, int check);

/* Who acts from the command line: "cli:<login name>", into out. */
const char *tp__cli_actor(char out[96]);

/* Audit an action already committed: a failure to record it is a warning,
 * not a failure of the action. */
void tp__cli_audit(tp_db *db, const char *action, const char *target, const char *details);

/* Audit inside the action's own transaction: its failure fails the action. */
int tp__cli_audit_in(tp_db *db, const char *action, const char *target, const char *details,
                     tp_error *err);

/* Strict integer parse: the whole string, within [min, max]. */
int tp__parse_long(const char *s, long min, long max, long *out);

/* Print "tillpipe CMD: message" to stderr. */
void tp__die_msg(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "unknown or incomplete option" for the option getopt just refused;
 * returns TP_EXIT_USAGE. */
int tp__bad_option(const char *cmd, char **argv);

/* Print err's message for cmd; returns TP_EXIT_FAIL. */
int tp__fail(const char *cmd, const tp_error *err);

#endif
