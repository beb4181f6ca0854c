/* blpr -- loyalty-programme visits (cumulative); TRANSNO and ORNO arrive
 * Excel-guarded ("=""00019702""") and are emitted without the guard. */
#define TPP_LAYOUT_IMPLEMENTATION
#include <tillpipe/layout.h>

static const tpp_column columns[TP_BLPR_NFIELDS] = {
    [TP_BLPR_STORE] = {.field = "STORE", .col = 0, .header = "STORE"},
    [TP_BLPR_PHONE] = {.field = "PHONE", .col = 1, .header = "PHONE"},
    [TP_BLPR_TRANSNO] = {.field = "TRANSNO", .col = 2, .header = "TRANSNO", .flags = TPP_UNGUARD},
    [TP_BLPR_ORNO] = {.field = "ORNO", .col = 3, .header = "ORNO", .flags = TPP_UNGUARD},
};
static const tpp_layout blpr = {.type = "blpr", TPP_COLUMNS(columns), .min_columns = 4};
static const tpp_layout *const layouts[] = {&blpr};
static const char *const types[] = {"blpr", NULL};

TPP_PLUGIN("blpr", "1.0.0", types, NULL, layouts)
