/* bad_plugin.c -- one tiny rd5900 plugin, compiled into many broken (and a
 * few good) shared objects by tests/loader.cmake through -D switches, for
 * test_loader.c to load.
 *
 * Without switches it is a good generic rd5900 plugin named "good": every
 * non-blank line of the input becomes one row {CODE: line number, NAME:
 * "row"}.  The switches:
 *
 *   BAD_NAME="x"        descriptor name (default "good"); "" leaves it empty
 *   BAD_TYPE="x"        the one report type parsed (default "rd5900")
 *   BAD_BRANCH="x"      make it an override for branch x (default: generic)
 *   BAD_MAGIC=n         descriptor magic (default TP_SDK_MAGIC)
 *   BAD_MAJOR=n         descriptor ABI major (default TP_SDK_ABI_MAJOR)
 *   BAD_MINOR=n         descriptor ABI minor (default TP_SDK_ABI_MINOR)
 *   BAD_SIZE=n          descriptor size (default sizeof(tp_plugin_desc))
 *   BAD_NO_ENTRY        export the entry under another name
 *   BAD_ENTRY_NULL      the entry returns NULL
 *   BAD_NO_FEED         .feed = NULL
 *   BAD_EXTRA_FIELD     emit rows with one field too many
 *   BAD_UNDEFINED       call a function no library defines (link this one
 *                       without -z defs: dlopen(RTLD_NOW) must refuse it)
 */
#include <stdlib.h>
#include <string.h>
#include <tillpipe/sdk.h>

#ifndef BAD_NAME
#define BAD_NAME "good"
#endif
#ifndef BAD_TYPE
#define BAD_TYPE "rd5900"
#endif
#ifndef BAD_MAGIC
#define BAD_MAGIC TP_SDK_MAGIC
#endif
#ifndef BAD_MAJOR
#define BAD_MAJOR TP_SDK_ABI_MAJOR
#endif
#ifndef BAD_MINOR
#define BAD_MINOR TP_SDK_ABI_MINOR
#endif
#ifndef BAD_SIZE
#define BAD_SIZE sizeof(tp_plugin_desc)
#endif
/* Some variants leave a callback or the descriptor unused on purpose. */
#define MAYBE_UNUSED __attribute__((unused))

#ifdef BAD_EXTRA_FIELD
#define NFIELDS (TP_REF_NFIELDS + 1)
#else
#define NFIELDS TP_REF_NFIELDS
#endif

typedef struct state {
    uint64_t line;    /* line of the next byte */
    int in_line;      /* bytes of the current line seen */
    uint64_t started; /* line the current record started on */
} state;

static int plugin_open(const tp_host_api *api, tp_host *h, const char *type, void **out)
{
    if (strcmp(type, BAD_TYPE) != 0)
        return TP_PLUGIN_ETYPE;
    state *s = calloc(1, sizeof *s);
    if (!s)
        return TP_PLUGIN_ENOMEM;
    s->line = 1;
    *out = s;
    return TP_PLUGIN_OK;
}

static int emit_row(state *s, const tp_host_api *api, tp_host *h)
{
    tp_field f[TP_REF_NFIELDS + 1] = {{"1", 1}, {"row", 3}, {"extra", 5}};
    return api->emit(h, s->started, f, NFIELDS) < 0 ? TP_PLUGIN_ESTOP : TP_PLUGIN_OK;
}

MAYBE_UNUSED static int plugin_feed(void *st, const tp_host_api *api, tp_host *h, const char *data,
                                    size_t len)
{
    state *s = st;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            if (s->in_line) {
                int rc = emit_row(s, api, h);
                if (rc != TP_PLUGIN_OK)
                    return rc;
            }
            s->in_line = 0;
            s->line++;
        } else if (!s->in_line) {
            s->in_line = 1;
            s->started = s->line;
        }
    }
    return TP_PLUGIN_OK;
}

static int plugin_finish(void *st, const tp_host_api *api, tp_host *h)
{
    state *s = st;
    return s->in_line ? emit_row(s, api, h) : TP_PLUGIN_OK;
}

static void plugin_close(void *st)
{
    free(st);
}

static const char *const plugin_types[] = {BAD_TYPE, NULL};
#ifdef BAD_BRANCH
static const char *const plugin_branches[] = {BAD_BRANCH, NULL};
#else
#define plugin_branches NULL
#endif

MAYBE_UNUSED static const tp_plugin_desc desc = {
    .magic = BAD_MAGIC,
    .abi_major = BAD_MAJOR,
    .abi_minor = BAD_MINOR,
    .size = BAD_SIZE,
    .name = BAD_NAME,
    .version = "1.0.0",
    .license = "MIT",
    .types = plugin_types,
    .branches = plugin_branches,
    .open = plugin_open,
#ifndef BAD_NO_FEED
    .feed = plugin_feed,
#endif
    .finish = plugin_finish,
    .close = plugin_close,
};

#ifdef BAD_UNDEFINED
void tp_bad_no_such_function(void); /* defined nowhere */
#endif

#ifdef BAD_NO_ENTRY
#define ENTRY tp_plugin_entry_v1 /* a near miss: still not the fixed name */
#else
#define ENTRY tp_plugin_entry
#endif

TP_PLUGIN_EXPORT const tp_plugin_desc *ENTRY(void);
TP_PLUGIN_EXPORT const tp_plugin_desc *ENTRY(void)
{
#ifdef BAD_UNDEFINED
    tp_bad_no_such_function();
#endif
#ifdef BAD_ENTRY_NULL
    return NULL;
#else
    return &desc;
#endif
}
