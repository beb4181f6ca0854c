/* layout_limits.c -- rd5900 plugins on <tillpipe/layout.h> whose layouts sit
 * at or past its limits, one variant per build (tests/csv.cmake lists them,
 * test_plugins.c says what each must do):
 *   WIDE=N         N columns F0..F(N-1) reading columns 0..N-1 (not rd5900's
 *                  two: only ever opened);
 *   CODE_COL=N     CODE reads column N;       NAME_ALT=N  NAME's alt_col;
 *   GAP            a three-entry map with entry 1 left out;
 *   DELIM=N        the layout's delimiter (a character code);
 *   NO_HEADER      .no_header = 1;
 *   FLAGS=F        CODE's flags;              LONG_NAME   a 41-byte field name.
 */
#define TPP_LAYOUT_IMPLEMENTATION
#include <tillpipe/layout.h>

#ifndef CODE_COL
#define CODE_COL 0
#endif
#ifndef NAME_ALT
#define NAME_ALT 0
#endif
#ifndef DELIM
#define DELIM 0
#endif
#ifndef FLAGS
#define FLAGS 0
#endif
#ifdef LONG_NAME
#define CODE_NAME "CODE_WITH_A_NAME_FAR_TOO_LONG_FOR_OPTIONS"
#else
#define CODE_NAME "CODE"
#endif

#if defined(WIDE)
#define COL(n)                                                                                     \
    {                                                                                              \
        .field = "F" #n, .col = n                                                                  \
    }
#define COLS8(a, b, c, d, e, f, g, h) COL(a), COL(b), COL(c), COL(d), COL(e), COL(f), COL(g), COL(h)
static const tpp_column columns[] = {
    COLS8(0, 1, 2, 3, 4, 5, 6, 7),
    COLS8(8, 9, 10, 11, 12, 13, 14, 15),
    COLS8(16, 17, 18, 19, 20, 21, 22, 23),
    COLS8(24, 25, 26, 27, 28, 29, 30, 31),
#if WIDE > 32
    COL(32),
#endif
};
#elif defined(GAP)
static const tpp_column columns[3] = {
    [0] = {.field = "CODE", .col = 0},
    [2] = {.field = "NAME", .col = 1},
};
#else
static const tpp_column columns[TP_REF_NFIELDS] = {
    [TP_REF_CODE] = {.field = CODE_NAME, .col = CODE_COL, .header = "PAY_CODE", .flags = FLAGS},
    [TP_REF_NAME] = {.field = "NAME", .col = 1, .header = "PAY_DESC", .alt_col = NAME_ALT},
};
#endif

#ifdef NO_HEADER
#define HEADERLESS 1
#else
#define HEADERLESS 0
#endif

static const tpp_layout layout = {
    .type = "rd5900",
    TPP_COLUMNS(columns),
    .no_header = HEADERLESS,
    .delimiter = DELIM,
};
static const tpp_layout *const layouts[] = {&layout};
static const char *const types[] = {"rd5900", NULL};

TPP_PLUGIN("layout_limits", "1.0.0", types, NULL, layouts)
