/* rd5000 -- order lines of the day (classic POS layout, 40 columns). */
#define TPP_LAYOUT_IMPLEMENTATION
#include <tillpipe/layout.h>

static const tpp_column columns[TP_RD5000_NFIELDS] = {
    [TP_RD5000_STORE] = {.field = "STORE", .col = 0, .header = "STORE_NUM"},
    [TP_RD5000_INVOICE] = {.field = "INVOICE", .col = 2, .header = "INVOICE"},
    [TP_RD5000_ITEM_CODE] = {.field = "ITEM_CODE", .col = 4, .header = "ITE_CODE"},
    [TP_RD5000_QUANTITY] = {.field = "QUANTITY", .col = 5, .header = "QUANTITY"},
    [TP_RD5000_UNIT_PRICE] = {.field = "UNIT_PRICE", .col = 6, .header = "UNT_PRIC"},
    [TP_RD5000_AMOUNT] = {.field = "AMOUNT", .col = 7, .header = "AMOUNT"},
    [TP_RD5000_DISCOUNT] = {.field = "DISCOUNT", .col = 8, .header = "DISCOUNT"},
    [TP_RD5000_DEP_CODE] = {.field = "DEP_CODE", .col = 11, .header = "DEP_CODE"},
    [TP_RD5000_DATE] = {.field = "DATE", .col = 12, .header = "DATE", .flags = TPP_DATE_PART},
    [TP_RD5000_TIME] = {.field = "TIME", .col = 13, .header = "TIME"},
    [TP_RD5000_DISC_CODE] = {.field = "DISC_CODE", .col = 18, .header = "DISC_CODE"},
    [TP_RD5000_TYPE] = {.field = "TYPE", .col = 21, .header = "TYPE"},
    [TP_RD5000_VAT_FLAG] = {.field = "VAT_FLAG", .col = 31, .header = "VAT_FLAG"},
    [TP_RD5000_VAT_DIV] = {.field = "VAT_DIV", .col = 32, .header = "VATDIV"},
    [TP_RD5000_VAT_AMOUNT] = {.field = "VAT_AMOUNT", .col = 34, .header = "VAT_AMNT"},
    [TP_RD5000_VAT_DISCOUNT] = {.field = "VAT_DISCOUNT", .col = 35, .header = "VAT_DISC"},
    [TP_RD5000_VAT_PRICE] = {.field = "VAT_PRICE", .col = 36, .header = "VAT_PRIC"},
    [TP_RD5000_TRANSNO] = {.field = "TRANSNO", .col = 37, .header = "TRANSNO"},
};
static const tpp_layout rd5000 = {.type = "rd5000", TPP_COLUMNS(columns), .min_columns = 1};
static const tpp_layout *const layouts[] = {&rd5000};
static const char *const types[] = {"rd5000", NULL};

TPP_PLUGIN("rd5000", "1.0.0", types, NULL, layouts)
