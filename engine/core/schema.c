/* schema.c -- see schema.h; names mirror the TP_<TYPE>_* enums of sdk.h. */
#include "schema.h"

#include <string.h>
#include <tillpipe/sdk.h>

static const char *const rd5000_fields[TP_RD5000_NFIELDS] = {
    "STORE",    "INVOICE",  "ITEM_CODE",  "QUANTITY",     "UNIT_PRICE", "AMOUNT",
    "DISCOUNT", "DEP_CODE", "DATE",       "TIME",         "DISC_CODE",  "TYPE",
    "VAT_FLAG", "VAT_DIV",  "VAT_AMOUNT", "VAT_DISCOUNT", "VAT_PRICE",  "TRANSNO"};
static const char *const rd5800_fields[TP_RD5800_NFIELDS] = {"TRANSNO", "PAYCODE", "AMT_TENDER"};
static const char *const rd5500_fields[TP_RD5500_NFIELDS] = {"CODE", "NAME", "DEP_CODE"};
static const char *const ref_fields[TP_REF_NFIELDS] = {"CODE", "NAME"};
static const char *const blpr_fields[TP_BLPR_NFIELDS] = {"STORE", "PHONE", "TRANSNO", "ORNO"};

static const tp_schema schemas[TP_TYPE_COUNT] = {
    [TP_TYPE_RD5000] = {"rd5000", "order lines", TP_RD5000_NFIELDS, rd5000_fields},
    [TP_TYPE_RD5800] = {"rd5800", "payments", TP_RD5800_NFIELDS, rd5800_fields},
    [TP_TYPE_RD5500] = {"rd5500", "products", TP_RD5500_NFIELDS, rd5500_fields},
    [TP_TYPE_RD1800] = {"rd1800", "departments", TP_REF_NFIELDS, ref_fields},
    [TP_TYPE_DISCOUNT] = {"discount", "discounts", TP_REF_NFIELDS, ref_fields},
    [TP_TYPE_RD5900] = {"rd5900", "payment methods", TP_REF_NFIELDS, ref_fields},
    [TP_TYPE_BLPR] = {"blpr", "loyalty visits", TP_BLPR_NFIELDS, blpr_fields},
};

const tp_schema *tp_schema_of(tp_report_type t)
{
    return (unsigned)t < TP_TYPE_COUNT ? &schemas[t] : NULL;
}

int tp_schema_find(const char *name)
{
    for (int i = 0; i < TP_TYPE_COUNT; i++)
        if (strcmp(schemas[i].name, name) == 0)
            return i;
    return -1;
}

const char *tp_schema_names(void)
{
    return "rd5000, rd5800, rd5500, rd1800, discount, rd5900, blpr";
}
