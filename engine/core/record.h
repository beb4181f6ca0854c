/* record.h -- the typed sales record the combine stage produces: one per
 * order line of a terminal-day, with lineage.  See docs/records.md.
 *
 * Text fields are views (tp_field) borrowed from the parse or the lookups;
 * a record is valid only during the call that hands it out.  Decimal fields
 * keep their source text, which carries the scale ("0.0" and "0.000" both
 * occur) and has been checked to be a decimal number.
 */
#ifndef TP_RECORD_H
#define TP_RECORD_H

#include <stdint.h>
#include <tillpipe/sdk.h>

typedef enum tp_daypart {
    TP_DAYPART_NONE,      /* no TIME: "No Time Record" */
    TP_DAYPART_GY,        /* 0-5 and 23 */
    TP_DAYPART_BREAKFAST, /* 6-10 */
    TP_DAYPART_LUNCH,     /* 11-14 */
    TP_DAYPART_PM_SNACK,  /* 15-18 */
    TP_DAYPART_DINNER     /* 19-22 */
} tp_daypart;

typedef enum tp_txn_type {
    TP_TXN_UNKNOWN,  /* TYPE not D/T/C */
    TP_TXN_DINE_IN,  /* D */
    TP_TXN_TAKE_OUT, /* T */
    TP_TXN_DELIVERY  /* C */
} tp_txn_type;

typedef struct tp_record {
    /* where it belongs */
    const char *branch; /* branch code (file name) */
    int pos;            /* terminal (file name) */
    const char *date;   /* business date YYYY-MM-DD (equals the row's DATE) */
    /* from the order line; codes keep leading zeros */
    tp_field or_number; /* INVOICE */
    tp_field item_code;
    tp_field quantity, unit_price, amount, discount; /* decimals */
    tp_field pos_dep_code;                           /* DEP_CODE as the order line has it */
    tp_field dep_code;    /* effective department: the product's on the newer POS */
    int dep_from_product; /* 1 when dep_code came from the product master */
    tp_field time;        /* TIME text (HH:MM) */
    int time_minutes;     /* minutes since midnight, -1 when TIME is not HH:MM */
    tp_field disc_code, type_code, vat_flag;
    tp_field vat_div, vat_amount, vat_discount, vat_price; /* decimals */
    tp_field transno;
    /* derived */
    tp_field product_name, department_name, discount_name;
    tp_txn_type txn_type;
    tp_daypart daypart;
    tp_field payment_code, payment_name, phone;
    /* lineage */
    const char *source_file; /* the rd5000 file's name */
    uint64_t source_line;    /* its physical line */
} tp_record;

const char *tp_daypart_name(tp_daypart d);   /* "Dinner", "No Time Record" ... */
const char *tp_txn_type_name(tp_txn_type t); /* "Dine-In" ... or "" */

#endif
