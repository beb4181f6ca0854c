/* rd5800 -- payments of the day.  Rows shorter than 21 columns carry no
 * TRANSNO and are rejected (the legacy combiner skipped them silently). */
#define TPP_LAYOUT_IMPLEMENTATION
#include <tillpipe/layout.h>

static const tpp_column columns[TP_RD5800_NFIELDS] = {
    [TP_RD5800_TRANSNO] = {.field = "TRANSNO", .col = 20, .header = "TRANSNO"},
    [TP_RD5800_PAYCODE] = {.field = "PAYCODE", .col = 11, .header = "PAYCODE"},
    [TP_RD5800_AMOUNT] = {.field = "AMT_TENDER", .col = 4, .header = "AMT_TENDER"},
};
static const tpp_layout rd5800 = {.type = "rd5800", TPP_COLUMNS(columns), .min_columns = 21};
static const tpp_layout *const layouts[] = {&rd5800};
static const char *const types[] = {"rd5800", NULL};

TPP_PLUGIN("rd5800", "1.0.0", types, NULL, layouts)
