/* layout.h -- the column-mapping parser behind tillpipe's bundled plugins.
 *
 * Most report parsers only pick columns out of a CSV row, maybe strip an
 * Excel text guard or cut a timestamp to its date, and emit the row in the
 * SDK's layout for the report type.  A plugin describes that as a constant
 * tpp_layout and gets open/feed/finish/close from here.
 *
 * Branch options: `column.<FIELD>` (a 0-based column index) moves a field,
 * e.g. {"column.DEP_CODE": "12"} for a POS that writes it elsewhere.
 *
 * Compiled into each plugin (hidden visibility): nothing here is exported.
 */
#ifndef TPP_LAYOUT_H
#define TPP_LAYOUT_H

#include <tillpipe/sdk.h>

enum {
    TPP_UNGUARD = 1u << 0,   /* strip an Excel text guard ="..." */
    TPP_DATE_PART = 1u << 1, /* keep the date part of a timestamp */
};

typedef struct tpp_column {
    const char *field;  /* output field name (for options and messages) */
    int col;            /* 0-based source column */
    const char *header; /* expected header name, NULL = not checked */
    unsigned flags;     /* TPP_* */
    int alt_col;        /* when >= 0 and the row has > alt_col columns, read
                           alt_col instead of col (newer-POS rd5500 CATEG_ID) */
} tpp_column;

typedef struct tpp_layout {
    const char *type;          /* report type, e.g. "rd5000" */
    const tpp_column *columns; /* in the SDK's output order */
    size_t ncolumns;
    size_t min_columns; /* shorter rows are rejected with a problem */
    int has_header;     /* first record is a header row */
} tpp_layout;

/* Callbacks for a tp_plugin_desc; `layouts` lists one layout per type. */
int tpp_layout_open(const tpp_layout *const *layouts, size_t nlayouts,
                    const tp_host_api *api, tp_host *h, const char *type, void **state);
int tpp_layout_feed(void *state, const tp_host_api *api, tp_host *h, const char *data,
                    size_t len);
int tpp_layout_finish(void *state, const tp_host_api *api, tp_host *h);
void tpp_layout_close(void *state);

/* Define a whole plugin from its layouts: the descriptor and the entry
 * function.  `layouts` is an array of const tpp_layout *, `types` and
 * `branches` NULL-terminated string arrays (branches may be NULL). */
#define TPP_PLUGIN(NAME, VERSION, TYPES, BRANCHES, LAYOUTS)                           \
    static int plugin_open(const tp_host_api *api, tp_host *h, const char *type,      \
                           void **state)                                              \
    {                                                                                 \
        return tpp_layout_open(LAYOUTS, sizeof(LAYOUTS) / sizeof(LAYOUTS[0]), api, h,  \
                               type, state);                                          \
    }                                                                                 \
    static const tp_plugin_desc plugin_desc = {                                       \
        .magic = TP_SDK_MAGIC,                                                        \
        .abi_major = TP_SDK_ABI_MAJOR,                                                \
        .abi_minor = TP_SDK_ABI_MINOR,                                                \
        .size = sizeof(tp_plugin_desc),                                               \
        .name = NAME,                                                                 \
        .version = VERSION,                                                           \
        .license = "MIT",                                                             \
        .types = TYPES,                                                               \
        .branches = BRANCHES,                                                         \
        .open = plugin_open,                                                          \
        .feed = tpp_layout_feed,                                                      \
        .finish = tpp_layout_finish,                                                  \
        .close = tpp_layout_close,                                                    \
    };                                                                                \
    TP_PLUGIN_EXPORT const tp_plugin_desc *tp_plugin_entry(void);                     \
    TP_PLUGIN_EXPORT const tp_plugin_desc *tp_plugin_entry(void) { return &plugin_desc; }

#endif
