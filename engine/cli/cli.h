/* cli.h -- the tillpipe command: one function per subcommand, collected in
 * a table in main.c, and the helpers they share.  Each command returns the
 * process exit status: 0 ok, 1 failure, 2 usage error; errors are one line
 * on stderr starting with "tillpipe <command>: ". */
#ifndef TP_CLI_H
#define TP_CLI_H

#include "core/config.h"
#include "db/db.h"
#include "core/error.h"
#include "io/fetch.h"
#include "pipeline/plugin.h"
#include "store/store.h"
#include "worker/worker.h"

enum { TP_EXIT_OK = 0, TP_EXIT_FAIL = 1, TP_EXIT_USAGE = 2 };

int tp__cmd_run(int argc, char **argv);
int tp__cmd_parse(int argc, char **argv);
int tp__cmd_plugin(int argc, char **argv);
int tp__cmd_gen(int argc, char **argv);
int tp__cmd_migrate(int argc, char **argv);
int tp__cmd_branch(int argc, char **argv);
int tp__cmd_enqueue(int argc, char **argv);
int tp__cmd_jobs(int argc, char **argv);
int tp__cmd_job(int argc, char **argv);
int tp__cmd_worker(int argc, char **argv);
int tp__cmd_reparse(int argc, char **argv);
int tp__cmd_serve(int argc, char **argv); /* api/cmd_serve.c */
int tp__cmd_user(int argc, char **argv);  /* api/cmd_serve.c */

/* What a worker needs besides its options: the raw-file store, the fetcher
 * (politeness limits), the plugins.  `worker` and `serve` open it alike. */
typedef struct tp__worker_env {
    tp_worker_opts o; /* the caller's options, completed */
    tp_store_config scfg;
    char sbuf[1024], workroot[4200];
    tp_store *store;
    tp_fetcher *fetcher;
    tp_registry *reg;
} tp__worker_env;

int tp__worker_env_open(tp__worker_env *e, const tp_worker_opts *o, const tp_fetch_opts *fo,
                        const char *store_opt, const char *plugin_dir, const char *cmd,
                        tp_error *err);
void tp__worker_env_close(tp__worker_env *e);

/* The plugin directory: --plugins, else $TILLPIPE_PLUGIN_DIR, else plugins/
 * next to the executable, else the installed location. */
const char *tp__plugin_dir(const char *opt, char *buf, size_t n);

/* Load the plugin directory; prints failures as warnings (unless quiet).
 * NULL with err set when the directory cannot be read or holds no plugin. */
tp_registry *tp__load_plugins(const char *opt, int quiet, tp_error *err);

/* Strict integer parse: the whole string, within [min, max]. */
int tp__parse_long(const char *s, long min, long max, long *out);

/* Print "tillpipe CMD: message" to stderr. */
void tp__die_msg(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
