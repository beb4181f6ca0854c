/* misbehave.c -- an rd5900 override for branch MISB that does what its
 * option "action" says, for test_cli.c: how a run that dies mid-write
 * leaves its output, and how `config check` reports a refused option.
 *
 *   "action": "none"  (default) parse nothing, emit nothing, succeed
 *             "hang"  log "hanging" on the first bytes, then wait forever
 *             "crash" die of SIGSEGV on the first bytes
 *   anything else     refused in open (TP_PLUGIN_ECONFIG), as a bad option
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tillpipe/sdk.h>
#include <unistd.h>

enum { ACT_NONE, ACT_HANG, ACT_CRASH };

static int plugin_open(const tp_host_api *api, tp_host *h, const char *type, void **out)
{
    if (strcmp(type, "rd5900") != 0)
        return TP_PLUGIN_ETYPE;
    const char *a = api->config(h, "action");
    int act = !a || strcmp(a, "none") == 0 ? ACT_NONE
              : strcmp(a, "hang") == 0     ? ACT_HANG
              : strcmp(a, "crash") == 0    ? ACT_CRASH
                                           : -1;
    if (act < 0) {
        char msg[120];
        snprintf(msg, sizeof msg, "option action must be none, hang or crash, got \"%.40s\"", a);
        api->problem(h, 0, TP_PROBLEM_ERROR, msg);
        return TP_PLUGIN_ECONFIG;
    }
    int *s = malloc(sizeof *s);
    if (!s)
        return TP_PLUGIN_ENOMEM;
    *s = act;
    *out = s;
    return TP_PLUGIN_OK;
}

static int plugin_feed(void *st, const tp_host_api *api, tp_host *h, const char *data, size_t len)
{
    int act = *(int *)st;
    if (act == ACT_HANG) {
        api->log(h, TP_LOG_WARN, "hanging");
        for (;;)
            pause();
    }
    if (act == ACT_CRASH)
        raise(SIGSEGV);
    return TP_PLUGIN_OK;
}

static int plugin_finish(void *st, const tp_host_api *api, tp_host *h)
{
    return TP_PLUGIN_OK;
}

static void plugin_close(void *st)
{
    free(st);
}

static const char *const types[] = {"rd5900", NULL};
static const char *const branches[] = {"MISB", NULL};

static const tp_plugin_desc desc = {
    .magic = TP_SDK_MAGIC,
    .abi_major = TP_SDK_ABI_MAJOR,
    .abi_minor = TP_SDK_ABI_MINOR,
    .size = sizeof(tp_plugin_desc),
    .name = "misbehave",
    .version = "1.0.0",
    .license = "MIT",
    .types = types,
    .branches = branches,
    .open = plugin_open,
    .feed = plugin_feed,
    .finish = plugin_finish,
    .close = plugin_close,
};

TP_PLUGIN_EXPORT const tp_plugin_desc *tp_plugin_entry(void);
TP_PLUGIN_EXPORT const tp_plugin_desc *tp_plugin_entry(void)
{
    return &desc;
}
