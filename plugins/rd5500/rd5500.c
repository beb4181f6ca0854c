/* rd5500 -- product master: code, name, department code (column 3). */
#include "../common/layout.h"

static const tpp_column columns[TP_RD5500_NFIELDS] = {
    [TP_RD5500_CODE] = {"CODE", 0, "INCODE", 0, -1},
    [TP_RD5500_NAME] = {"NAME", 1, "ITE_DESC", 0, -1},
    [TP_RD5500_DEP_CODE] = {"DEP_CODE", 3, "DEP_CODE", 0, -1},
};
static const tpp_layout rd5500 = {"rd5500", columns, TP_RD5500_NFIELDS, 2, 1};
static const tpp_layout *const layouts[] = {&rd5500};
static const char *const types[] = {"rd5500", NULL};

TPP_PLUGIN("rd5500", "1.0.0", types, NULL, layouts)
