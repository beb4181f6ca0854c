/* rd1800 -- departments: code (column 0) -> name (column 1). */
#include "../common/layout.h"

static const tpp_column columns[TP_REF_NFIELDS] = {
    [TP_REF_CODE] = {"CODE", 0, "DEP_CODE", 0, -1},
    [TP_REF_NAME] = {"NAME", 1, "DEP_DESC", 0, -1},
};
static const tpp_layout layout = {"rd1800", columns, TP_REF_NFIELDS, 2, 1};
static const tpp_layout *const layouts[] = {&layout};
static const char *const types[] = {"rd1800", NULL};

TPP_PLUGIN("rd1800", "1.0.0", types, NULL, layouts)
