/* rd5800 -- payments of the day.  Rows shorter than 21 columns carry no
 * TRANSNO and are rejected (the legacy combiner skipped them silently). */
#include "../common/layout.h"

static const tpp_column columns[TP_RD5800_NFIELDS] = {
    [TP_RD5800_TRANSNO] = {"TRANSNO", 20, "TRANSNO", 0, -1},
    [TP_RD5800_PAYCODE] = {"PAYCODE", 11, "PAYCODE", 0, -1},
    [TP_RD5800_AMOUNT] = {"AMT_TENDER", 4, "AMT_TENDER", 0, -1},
};
static const tpp_layout rd5800 = {"rd5800", columns, TP_RD5800_NFIELDS, 21, 1};
static const tpp_layout *const layouts[] = {&rd5800};
static const char *const types[] = {"rd5800", NULL};

TPP_PLUGIN("rd5800", "1.0.0", types, NULL, layouts)
