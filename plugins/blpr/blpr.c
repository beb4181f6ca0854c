/* blpr -- loyalty-programme visits (cumulative); TRANSNO and ORNO arrive
 * Excel-guarded ("=""00019702""") and are emitted without the guard. */
#include "../common/layout.h"

static const tpp_column columns[TP_BLPR_NFIELDS] = {
    [TP_BLPR_STORE] = {"STORE", 0, "STORE", 0, -1},
    [TP_BLPR_PHONE] = {"PHONE", 1, "PHONE", 0, -1},
    [TP_BLPR_TRANSNO] = {"TRANSNO", 2, "TRANSNO", TPP_UNGUARD, -1},
    [TP_BLPR_ORNO] = {"ORNO", 3, "ORNO", TPP_UNGUARD, -1},
};
static const tpp_layout blpr = {"blpr", columns, TP_BLPR_NFIELDS, 4, 1};
static const tpp_layout *const layouts[] = {&blpr};
static const char *const types[] = {"blpr", NULL};

TPP_PLUGIN("blpr", "1.0.0", types, NULL, layouts)
