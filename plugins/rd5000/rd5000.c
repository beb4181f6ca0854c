/* rd5000 -- order lines of the day (classic POS layout, 40 columns). */
#include "../common/layout.h"

static const tpp_column columns[TP_RD5000_NFIELDS] = {
    [TP_RD5000_STORE] = {"STORE", 0, "STORE_NUM", 0, -1},
    [TP_RD5000_INVOICE] = {"INVOICE", 2, "INVOICE", 0, -1},
    [TP_RD5000_ITEM_CODE] = {"ITEM_CODE", 4, "ITE_CODE", 0, -1},
    [TP_RD5000_QUANTITY] = {"QUANTITY", 5, "QUANTITY", 0, -1},
    [TP_RD5000_UNIT_PRICE] = {"UNIT_PRICE", 6, "UNT_PRIC", 0, -1},
    [TP_RD5000_AMOUNT] = {"AMOUNT", 7, "AMOUNT", 0, -1},
    [TP_RD5000_DISCOUNT] = {"DISCOUNT", 8, "DISCOUNT", 0, -1},
    [TP_RD5000_DEP_CODE] = {"DEP_CODE", 11, "DEP_CODE", 0, -1},
    [TP_RD5000_DATE] = {"DATE", 12, "DATE", TPP_DATE_PART, -1},
    [TP_RD5000_TIME] = {"TIME", 13, "TIME", 0, -1},
    [TP_RD5000_DISC_CODE] = {"DISC_CODE", 18, "DISC_CODE", 0, -1},
    [TP_RD5000_TYPE] = {"TYPE", 21, "TYPE", 0, -1},
    [TP_RD5000_VAT_FLAG] = {"VAT_FLAG", 31, "VAT_FLAG", 0, -1},
    [TP_RD5000_VAT_DIV] = {"VAT_DIV", 32, "VATDIV", 0, -1},
    [TP_RD5000_VAT_AMOUNT] = {"VAT_AMOUNT", 34, "VAT_AMNT", 0, -1},
    [TP_RD5000_VAT_DISCOUNT] = {"VAT_DISCOUNT", 35, "VAT_DISC", 0, -1},
    [TP_RD5000_VAT_PRICE] = {"VAT_PRICE", 36, "VAT_PRIC", 0, -1},
    [TP_RD5000_TRANSNO] = {"TRANSNO", 37, "TRANSNO", 0, -1},
};
static const tpp_layout rd5000 = {"rd5000", columns, TP_RD5000_NFIELDS, 1, 1};
static const tpp_layout *const layouts[] = {&rd5000};
static const char *const types[] = {"rd5000", NULL};

TPP_PLUGIN("rd5000", "1.0.0", types, NULL, layouts)
