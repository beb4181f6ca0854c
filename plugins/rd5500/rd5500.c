/* rd5500 -- product master: code, name, department code (column 3). */
#define TPP_LAYOUT_IMPLEMENTATION
#include <tillpipe/layout.h>

static const tpp_column columns[TP_RD5500_NFIELDS] = {
    [TP_RD5500_CODE] = {.field = "CODE", .col = 0, .header = "INCODE"},
    [TP_RD5500_NAME] = {.field = "NAME", .col = 1, .header = "ITE_DESC"},
    [TP_RD5500_DEP_CODE] = {.field = "DEP_CODE", .col = 3, .header = "DEP_CODE"},
};
static const tpp_layout rd5500 = {.type = "rd5500", TPP_COLUMNS(columns), .min_columns = 2};
static const tpp_layout *const layouts[] = {&rd5500};
static const char *const types[] = {"rd5500", NULL};

TPP_PLUGIN("rd5500", "1.0.0", types, NULL, layouts)
