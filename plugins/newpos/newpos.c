/* newpos -- branch override for the newer POS (BETA sample layout).
 *
 * Of the seven reports only the product master needs another reading: the
 * product's department is CATEG_ID, column 12, when the row has it (13+
 * columns), else the classic column 3.  The newer rd5000 (ISO dates, empty
 * DEP_CODE, unpadded amounts) reads fine with the generic parser; the
 * combine stage takes the department from the product for branches whose
 * configuration says "pos": "newer". */
#include "../common/layout.h"

static const tpp_column rd5500_columns[TP_RD5500_NFIELDS] = {
    [TP_RD5500_CODE] = {"CODE", 0, "INCODE", 0, -1},
    [TP_RD5500_NAME] = {"NAME", 1, "ITE_DESC", 0, -1},
    [TP_RD5500_DEP_CODE] = {"DEP_CODE", 3, NULL, 0, 12},
};
static const tpp_layout rd5500 = {"rd5500", rd5500_columns, TP_RD5500_NFIELDS, 2, 1};
static const tpp_layout *const layouts[] = {&rd5500};
static const char *const types[] = {"rd5500", NULL};
static const char *const branches[] = {"BPAG", "BGRAN", "BETA", "BTAB", NULL};

TPP_PLUGIN("newpos", "1.0.0", types, branches, layouts)
