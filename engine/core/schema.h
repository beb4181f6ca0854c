/* schema.h -- the seven report types and the row layout the SDK defines for
 * each (field names in SDK order), for messages and `tillpipe parse`. */
#ifndef TP_SCHEMA_H
#define TP_SCHEMA_H

#include <stddef.h>

typedef enum tp_report_type {
    TP_TYPE_RD5000, /* order lines */
    TP_TYPE_RD5800, /* payments */
    TP_TYPE_RD5500, /* products */
    TP_TYPE_RD1800, /* departments */
    TP_TYPE_DISCOUNT,
    TP_TYPE_RD5900, /* payment methods */
    TP_TYPE_BLPR,   /* loyalty visits */
    TP_TYPE_COUNT
} tp_report_type;

typedef struct tp_schema {
    const char *name;               /* "rd5000" */
    const char *what;               /* "order lines" */
    size_t nfields;                 /* fields of an emitted row */
    const char *const *field_names; /* nfields names */
} tp_schema;

/* The schema of a type (borrowed, static). */
const tp_schema *tp_schema_of(tp_report_type t);

/* The type named `name`, or -1 when there is none. */
int tp_schema_find(const char *name);

/* "rd5000, rd5800, ..." for messages (static). */
const char *tp_schema_names(void);

#endif
