/* config.h -- the branch configuration: which branches exist, their
 * terminals, which POS generation they run and which parser (and parser
 * options) each report type uses there.
 *
 * JSON (read with jansson):
 *   {"branches": [
 *      {"code": "BETA", "name": "Beta", "active": true, "terminals": [1, 2],
 *       "pos": "newer", "report_server": "https://reports.example/chain",
 *       "parsers": {"rd5500": "newpos",
 *                   "rd5000": {"plugin": "rd5000", "options": {"column.DATE": 12}}}}]}
 * Every key is checked; an unknown key or a bad value is an error naming the
 * key path (branches[3].pos): a code is 1-32 letters, digits or '-', a name
 * 1-100 characters (the code when absent), terminals 1-16 distinct numbers
 * 1..99 ([1] when absent), a report_server an http(s) URL of at most 512
 * bytes (whether it may be used is the allow-list's to say: io/allow.h).
 * tillpipe ships the chain's configuration as the default
 * (tp_config_builtin).
 *
 * Extending the built-in configuration instead of replacing it whole:
 *   {"extends": "builtin",
 *    "branches": [{"code": "BNEW", "pos": "newer", "parsers": {"rd5500": "newpos"}},
 *                 {"code": "BMC", "terminals": [1, 2, 3]}]}
 * starts from the built-in branches; a branch whose code is built in
 * replaces that branch whole (in its place), any other is added after them;
 * "branches" may then be left out.  "builtin" is the only value.  Key paths
 * in errors are the file's.  Top-level "version" and "comment" are
 * accepted and ignored.
 */
#ifndef TP_CONFIG_H
#define TP_CONFIG_H

#include <stddef.h>

#include "error.h"

#define TP_MAX_TERMINALS 16      /* per branch, each listed once */
#define TP_BRANCH_NAME_MAX 100   /* characters of a branch's name (messages say 100) */
#define TP_REPORT_SERVER_MAX 512 /* bytes of a report_server URL (messages say 512) */

typedef struct tp_branch_cfg {
    /* read-only; strings owned by the config */
    const char *code;
    const char *name;
    int active;
    int terminals[TP_MAX_TERMINALS];
    int nterminals;
    int newer_pos;             /* "pos": "newer": department from the product master */
    void *parsers;             /* private: json_t object, type -> plugin/options */
    const char *report_server; /* base URL of its report server, NULL = the default */
} tp_branch_cfg;

typedef struct tp_config tp_config;

/* 1 when `s` is a branch code: 1-32 letters, digits or '-' (the code in
 * report file names). */
int tp_branch_code_valid(const char *s);

/* Parse configuration text; `source` names it in messages.  Returns a new
 * config or NULL with err set (TP_ECONFIG, message names the key). */
tp_config *tp_config_parse(const char *text, const char *source, tp_error *err);

/* The chain's configuration, built in (io/config_file.h reads one from a
 * file). */
tp_config *tp_config_builtin(tp_error *err);

/* The configuration in effect as JSON text ({"branches": [...]}, an
 * extension resolved), valid input for tp_config_parse; the caller frees
 * it.  NULL when out of memory. */
char *tp_config_dump(const tp_config *c);

void tp_config_destroy(tp_config *c);

/* The branch with `code`, or NULL when it is not listed (borrowed). */
const tp_branch_cfg *tp_config_branch(const tp_config *c, const char *code);
size_t tp_config_count(const tp_config *c);
const tp_branch_cfg *tp_config_at(const tp_config *c, size_t i);
const char *tp_config_source(const tp_config *c);

/* The plugin the branch names for `type`, or NULL (borrowed). */
const char *tp_branch_plugin(const tp_branch_cfg *b, const char *type);

/* The version or range of that plugin the configuration pins ("version"
 * beside "plugin"), or NULL: the highest installed. */
const char *tp_branch_plugin_version(const tp_branch_cfg *b, const char *type);

/* The i-th parser option for `type` (0-based): its key, and its value into
 * *value when not NULL; NULL past the last.  Borrowed. */
const char *tp_branch_option_at(const tp_branch_cfg *b, const char *type, size_t i,
                                const char **value);

/* A parser option for `type`, or NULL (borrowed; numbers are given as text). */
const char *tp_branch_option(const tp_branch_cfg *b, const char *type, const char *key);

/* A branch's parser options for one report type, as the `get` callback of
 * tp_parse_options wants them: pass a tp_branch_type as its `ud`. */
typedef struct tp_branch_type {
    const tp_branch_cfg *branch; /* may be NULL: no options */
    const char *type;
} tp_branch_type;
const char *tp_branch_type_option(void *ud, const char *key);
/* Its i-th option (key; *value set), or NULL past the last. */
const char *tp_branch_type_option_at(void *ud, size_t i, const char **value);

#endif
