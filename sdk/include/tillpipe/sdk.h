/* tillpipe/sdk.h -- everything a tillpipe parser plugin needs, and nothing else.
 *
 * A parser plugin is a shared object that exports exactly one function,
 * TP_PLUGIN_ENTRY_NAME ("tp_plugin_entry"), returning a pointer to a constant
 * descriptor (tp_plugin_desc).  The engine loads it with
 * dlopen(RTLD_NOW|RTLD_LOCAL), checks the descriptor in a fixed order
 * (magic -> ABI major -> descriptor size -> ABI minor -> callbacks) and then
 * drives the parse through the descriptor's callbacks.
 *
 * Plugins never link the engine.  Everything they may ask of the host goes
 * through the size-tagged, append-only function table tp_host_api, passed in
 * on every call together with an opaque tp_host handle.  A plugin must not
 * keep either pointer beyond the call that received it: the parse may one day
 * run in a child process where the host lives at the other end of a pipe.
 *
 * Parsing is streaming: the host feeds the raw bytes of one report file in
 * chunks of any size (a record may be split across chunks), then calls
 * finish.  The plugin emits normalised rows as it goes -- one call to
 * api->emit per row -- using the field layout the SDK defines for the report
 * type (TP_<TYPE>_* below).  Memory must not grow with the file size.
 *
 * Compatibility rules (see docs/sdk.md):
 *   - TP_SDK_ABI_MAJOR changes only when an existing field or callback
 *     changes meaning or position; the host refuses any other major.
 *   - TP_SDK_ABI_MINOR grows when fields are appended; a plugin built with a
 *     newer minor than the host's is refused, an older one is accepted.
 *   - Both structs below are append-only: new members go at the end, in place
 *     of (or after) the reserved space, never in the middle.
 *
 * The header is self-contained C11 and includes only <stddef.h>/<stdint.h>.
 */
#ifndef TILLPIPE_SDK_H
#define TILLPIPE_SDK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TP_SDK_MAGIC 0x54504C47u /* "TPLG" */
#define TP_SDK_ABI_MAJOR 1
#define TP_SDK_ABI_MINOR 1
#define TP_PLUGIN_ENTRY_NAME "tp_plugin_entry"

/* Mark the entry function; plugins are built with -fvisibility=hidden so it is
 * the only symbol they export. */
#if defined(__GNUC__)
#define TP_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define TP_PLUGIN_EXPORT
#endif

/* ---------------------------------------------------------------- fields */

/* One field of an emitted row.  The bytes are borrowed: valid only during the
 * emit call, not NUL-terminated. */
typedef struct tp_field {
    const char *ptr; /* field bytes (may be NULL when len == 0) */
    size_t len;      /* length in bytes */
} tp_field;

/* Problem severities passed to tp_host_api.problem. */
enum {
    TP_PROBLEM_WARNING = 1, /* row kept, something looked off */
    TP_PROBLEM_ERROR = 2    /* row rejected (not emitted) */
};

/* Log levels for tp_host_api.log. */
enum { TP_LOG_DEBUG = 0, TP_LOG_INFO = 1, TP_LOG_WARN = 2, TP_LOG_ERROR = 3 };

/* Return codes of the plugin callbacks.  0 is success. */
enum {
    TP_PLUGIN_OK = 0,
    TP_PLUGIN_EINVAL = -1,  /* bad input the plugin cannot continue past */
    TP_PLUGIN_ENOMEM = -2,  /* out of memory */
    TP_PLUGIN_ESTOP = -3,   /* the host asked to stop (emit returned < 0) */
    TP_PLUGIN_ECONFIG = -4, /* a config value is invalid */
    TP_PLUGIN_ETYPE = -5    /* asked to parse a type the plugin does not know */
};

/* ---------------------------------------------------------- row layouts
 * Each report type has one normalised row layout; every plugin for that type,
 * generic or branch override, emits rows in exactly this layout.  Values are
 * the source text with CSV quoting decoded and Excel text guards (="...")
 * removed; anything else (leading zeros, decimal scale) is kept as sent.
 * A missing source column is emitted as an empty field. */

/* rd5000: order lines. */
enum {
    TP_RD5000_STORE,        /* col 0  STORE_NUM */
    TP_RD5000_INVOICE,      /* col 2  INVOICE (receipt "OR" number) */
    TP_RD5000_ITEM_CODE,    /* col 4  ITE_CODE */
    TP_RD5000_QUANTITY,     /* col 5  QUANTITY */
    TP_RD5000_UNIT_PRICE,   /* col 6  UNT_PRIC */
    TP_RD5000_AMOUNT,       /* col 7  AMOUNT */
    TP_RD5000_DISCOUNT,     /* col 8  DISCOUNT */
    TP_RD5000_DEP_CODE,     /* col 11 DEP_CODE */
    TP_RD5000_DATE,         /* col 12 DATE, date part only (YYYY-MM-DD as sent) */
    TP_RD5000_TIME,         /* col 13 TIME (HH:MM) */
    TP_RD5000_DISC_CODE,    /* col 18 DISC_CODE */
    TP_RD5000_TYPE,         /* col 21 TYPE (D/T/C) */
    TP_RD5000_VAT_FLAG,     /* col 31 VAT_FLAG */
    TP_RD5000_VAT_DIV,      /* col 32 VATDIV */
    TP_RD5000_VAT_AMOUNT,   /* col 34 VAT_AMNT */
    TP_RD5000_VAT_DISCOUNT, /* col 35 VAT_DISC */
    TP_RD5000_VAT_PRICE,    /* col 36 VAT_PRIC */
    TP_RD5000_TRANSNO,      /* col 37 TRANSNO */
    TP_RD5000_NFIELDS
};

/* rd5800: payments. */
enum { TP_RD5800_TRANSNO, TP_RD5800_PAYCODE, TP_RD5800_AMOUNT, TP_RD5800_NFIELDS };

/* rd5500: products. */
enum { TP_RD5500_CODE, TP_RD5500_NAME, TP_RD5500_DEP_CODE, TP_RD5500_NFIELDS };

/* rd1800 (departments), discount, rd5900 (payment methods): code -> name. */
enum { TP_REF_CODE, TP_REF_NAME, TP_REF_NFIELDS };

/* blpr: loyalty visits. */
enum { TP_BLPR_STORE, TP_BLPR_PHONE, TP_BLPR_TRANSNO, TP_BLPR_ORNO, TP_BLPR_NFIELDS };

/* ------------------------------------------------------------ host table */

/* Opaque handle of the host side of one parse; never dereferenced. */
typedef struct tp_host tp_host;

/* Functions the host offers.  Append-only: check `size` before calling a
 * member added after ABI 1.0 (TP_HOST_HAS below). */
typedef struct tp_host_api {
    uint32_t size;      /* sizeof(tp_host_api) as the host was built */
    uint16_t abi_major; /* host's TP_SDK_ABI_MAJOR */
    uint16_t abi_minor; /* host's TP_SDK_ABI_MINOR */

    /* Emit one row of `n` fields read at physical `line` (1-based, the line
     * the record starts on).  Returns 0, or < 0 when the host wants the parse
     * to stop (the plugin then returns TP_PLUGIN_ESTOP). */
    int (*emit)(tp_host *h, uint64_t line, const tp_field *fields, size_t n);

    /* Report a problem with the input at `line` (0 = the file as a whole).
     * `reason` is a short human sentence; the host copies it. */
    void (*problem)(tp_host *h, uint64_t line, int severity, const char *reason);

    /* Log a message (the host adds plugin name and file). */
    void (*log)(tp_host *h, int level, const char *msg);

    /* A parser option from the branch configuration for this report type, or
     * NULL when unset.  Borrowed; valid until close -- copy what you keep. */
    const char *(*config)(tp_host *h, const char *key);
} tp_host_api;

/* True when the host table has member `m` (for members added after 1.0). */
#define TP_HOST_HAS(api, m)                                                                        \
    ((api)->size >= offsetof(tp_host_api, m) + sizeof(((tp_host_api *)0)->m))

/* ------------------------------------------------------------ descriptor */

typedef struct tp_plugin_desc {
    /* Fixed header: these four never move. */
    uint32_t magic;     /* TP_SDK_MAGIC */
    uint16_t abi_major; /* TP_SDK_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor; /* TP_SDK_ABI_MINOR the plugin was built with */
    uint32_t size;      /* sizeof(tp_plugin_desc) the plugin was built with */
    uint32_t flags;     /* TP_PLUGIN_* below (ABI 1.1); 0 before */

    const char *name;            /* e.g. "rd5000" -- unique per (type, branches) */
    const char *version;         /* plugin's own version, e.g. "1.2.0" */
    const char *license;         /* SPDX identifier, e.g. "MIT" */
    const char *const *types;    /* NULL-terminated report types parsed */
    const char *const *branches; /* NULL-terminated branch codes this plugin
                                    overrides for; NULL or empty = generic */

    /* Start parsing one file of report `type` (one of `types`).  Allocate the
     * per-file state into *state.  Read options with api->config here. */
    int (*open)(const tp_host_api *api, tp_host *h, const char *type, void **state);

    /* Consume the next `len` bytes of the file. */
    int (*feed)(void *state, const tp_host_api *api, tp_host *h, const char *data, size_t len);

    /* End of file: flush the last record. */
    int (*finish)(void *state, const tp_host_api *api, tp_host *h);

    /* Free the state; called once after open succeeded, whatever happened. */
    void (*close)(void *state);

    void *reserved[8]; /* must be NULL; room for ABI 1.x additions */
} tp_plugin_desc;

/* Descriptor flags (ABI 1.1).  A plugin built with SDK 1.0 leaves .flags 0;
 * a host refuses bits its ABI does not know.
 *   TP_PLUGIN_NAMED_ONLY: used only where a branch configuration names the
 *   plugin -- never as the generic parser, never as an automatic override. */
#define TP_PLUGIN_NAMED_ONLY 0x1u
#define TP_PLUGIN_FLAGS_1_1 TP_PLUGIN_NAMED_ONLY /* every flag ABI 1.1 knows */

/* Size of the ABI 1.0 part of the descriptor: a plugin's desc->size must be at
 * least this. */
#define TP_PLUGIN_DESC_SIZE_1_0 offsetof(tp_plugin_desc, reserved)

/* The one function a plugin exports. */
typedef const tp_plugin_desc *(*tp_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* TILLPIPE_SDK_H */
