/* newpos -- branch override for the newer POS (BETA sample layout).
 *
 * Of the seven reports only the product master needs another reading: the
 * product's department is CATEG_ID, column 12, when the row has it (13+
 * columns), else the classic column 3.  The newer rd5000 (ISO dates, empty
 * DEP_CODE, unpadded amounts) reads fine with the generic parser; the
 * combine stage takes the department from the product for branches whose
 * configuration says "pos": "newer". */
#define TPP_LAYOUT_IMPLEMENTATION
#include <tillpipe/layout.h>

static const tpp_column rd5500_columns[TP_RD5500_NFIELDS] = {
    [TP_RD5500_CODE] = {.field = "CODE", .col = 0, .header = "INCODE"},
    [TP_RD5500_NAME] = {.field = "NAME", .col = 1, .header = "ITE_DESC"},
    [TP_RD5500_DEP_CODE] = {.field = "DEP_CODE", .col = 3, .alt_col = 12},
};
static const tpp_layout rd5500 = {.type = "rd5500", TPP_COLUMNS(rd5500_columns), .min_columns = 2};
static const tpp_layout *const layouts[] = {&rd5500};
static const char *const types[] = {"rd5500", NULL};
static const char *const branches[] = {"BPAG", "BGRAN", "BETA", "BTAB", NULL};

TPP_PLUGIN("newpos", "1.0.0", types, branches, layouts)
