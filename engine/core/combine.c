/* combine.c -- see combine.h. */
#include "combine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"

enum {
    L_PRODUCT,
    L_PRODUCT_DEP,
    L_DEPARTMENT,
    L_DISCOUNT,
    L_PAYMETHOD,
    L_PAYMENT,
    L_PHONE,
    L_WANTED,
    L_COUNT
};

struct tp_combine {
    tp_combine_opts o;
    int filter_phones; /* tp_combine_want_transno was called */
    tp_lookup *l[L_COUNT];
};

static const tp_field empty_field = {"", 0};

const char *tp_daypart_name(tp_daypart d)
{
    switch (d) {
    case TP_DAYPART_GY: return "GY";
    case TP_DAYPART_BREAKFAST: return "Breakfast";
    case TP_DAYPART_LUNCH: return "Lunch";
    case TP_DAYPART_PM_SNACK: return "PM Snack";
    case TP_DAYPART_DINNER: return "Dinner";
    default: return "No Time Record";
    }
}

const char *tp_txn_type_name(tp_txn_type t)
{
    switch (t) {
    case TP_TXN_DINE_IN: return "Dine-In";
    case TP_TXN_TAKE_OUT: return "Take-Out";
    case TP_TXN_DELIVERY: return "Delivery";
    default: return "";
    }
}

tp_combine *tp_combine_create(const tp_combine_opts *opts)
{
    tp_combine *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->o = *opts;
    for (int i = 0; i < L_COUNT; i++)
        if (!(c->l[i] = tp_lookup_create())) {
            tp_combine_destroy(c);
            return NULL;
        }
    return c;
}

void tp_combine_destroy(tp_combine *c)
{
    if (!c)
        return;
    for (int i = 0; i < L_COUNT; i++)
        tp_lookup_destroy(c->l[i]);
    free(c);
}

static int put(tp_combine *c, int which, tp_field k, tp_field v)
{
    return tp_lookup_put_first(c->l[which], k, v) < 0 ? -1 : 0;
}

int tp_combine_ref_row(tp_combine *c, tp_report_type type, const tp_field *f, size_t n)
{
    switch (type) {
    case TP_TYPE_RD5500:
        if (n < TP_RD5500_NFIELDS)
            return 0;
        if (put(c, L_PRODUCT, f[TP_RD5500_CODE], f[TP_RD5500_NAME]) < 0)
            return -1;
        return put(c, L_PRODUCT_DEP, f[TP_RD5500_CODE], f[TP_RD5500_DEP_CODE]);
    case TP_TYPE_RD1800:
        return n < TP_REF_NFIELDS ? 0 : put(c, L_DEPARTMENT, f[TP_REF_CODE], f[TP_REF_NAME]);
    case TP_TYPE_DISCOUNT:
        return n < TP_REF_NFIELDS ? 0 : put(c, L_DISCOUNT, f[TP_REF_CODE], f[TP_REF_NAME]);
    case TP_TYPE_RD5900:
        return n < TP_REF_NFIELDS ? 0 : put(c, L_PAYMETHOD, f[TP_REF_CODE], f[TP_REF_NAME]);
    case TP_TYPE_RD5800:
        if (n < TP_RD5800_NFIELDS)
            return 0;
        return put(c, L_PAYMENT, f[TP_RD5800_TRANSNO], f[TP_RD5800_PAYCODE]);
    case TP_TYPE_BLPR:
        /* Legacy rule: only 11-character phones, keyed by the OR number. */
        if (n < TP_BLPR_NFIELDS || f[TP_BLPR_PHONE].len != 11)
            return 0;
        if (c->filter_phones && !tp_lookup_get(c->l[L_WANTED], f[TP_BLPR_ORNO]))
            return 0;
        return put(c, L_PHONE, f[TP_BLPR_ORNO], f[TP_BLPR_PHONE]);
    default: return 0;
    }
}

int tp_combine_want_transno(tp_combine *c, tp_field transno)
{
    c->filter_phones = 1;
    return transno.len == 0 || tp_lookup_put_first(c->l[L_WANTED], transno, transno) >= 0 ? 0 : -1;
}

static tp_field get(const tp_combine *c, int which, tp_field key)
{
    const tp_field *v = tp_lookup_get(c->l[which], key);
    return v ? *v : empty_field;
}

int tp_decimal_valid(tp_field s)
{
    size_t i = 0, digits = 0;
    if (s.len == 0 || s.len > 40)
        return 0;
    if (s.ptr[0] == '-' || s.ptr[0] == '+')
        i++;
    for (; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++)
        digits++;
    if (i < s.len && s.ptr[i] == '.')
        for (i++; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++)
            digits++;
    return i == s.len && digits > 0;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Record why an order line is not used; returns 0 (no record) or -1. */
static int reject(tp_quality *q, const char *file, uint64_t line, const char *what, tp_field v,
                  const char *why)
{
    char msg[200];
    snprintf(msg, sizeof msg, "%s \"%.*s\" %s: row not used", what, (int)(v.len > 40 ? 40 : v.len),
             v.ptr, why);
    return tp_quality_add(q, file, line, TP_PROBLEM_ERROR, msg) < 0 ? -1 : 0;
}

int tp_combine_order_row(tp_combine *c, const tp_field *f, size_t n, const char *file,
                         uint64_t line, tp_quality *q, tp_record *r)
{
    if (n < TP_RD5000_NFIELDS)
        return reject(q, file, line, "rd5000 row", empty_field, "has too few fields");

    /* The hour decides the daypart; a TIME that does not start with two
     * digits makes the row unusable (legacy rule). */
    tp_field time = f[TP_RD5000_TIME];
    int hour = -1;
    if (time.len > 0) {
        if (time.len < 2 || !is_digit(time.ptr[0]) || !is_digit(time.ptr[1]))
            return reject(q, file, line, "TIME", time, "does not start with an hour");
        hour = (time.ptr[0] - '0') * 10 + (time.ptr[1] - '0');
        if (hour > 23)
            return reject(q, file, line, "TIME", time, "has an hour past 23");
    }
    tp_field date = f[TP_RD5000_DATE];
    size_t blen = strlen(c->o.date);
    if (date.len != blen || memcmp(date.ptr, c->o.date, blen) != 0) {
        q->rows_outside_date++;
        char msg[160];
        snprintf(msg, sizeof msg, "dated \"%.*s\", not the business date %s: not written",
                 (int)(date.len > 20 ? 20 : date.len), date.ptr, c->o.date);
        return tp_quality_list(q, file, line, TP_PROBLEM_WARNING, msg) < 0 ? -1 : 0;
    }
    static const int decimals[] = {
        TP_RD5000_QUANTITY, TP_RD5000_UNIT_PRICE, TP_RD5000_AMOUNT,       TP_RD5000_DISCOUNT,
        TP_RD5000_VAT_DIV,  TP_RD5000_VAT_AMOUNT, TP_RD5000_VAT_DISCOUNT, TP_RD5000_VAT_PRICE};
    static const char *const decimal_names[] = {"QUANTITY", "UNT_PRIC", "AMOUNT",   "DISCOUNT",
                                                "VATDIV",   "VAT_AMNT", "VAT_DISC", "VAT_PRIC"};
    for (size_t i = 0; i < sizeof decimals / sizeof decimals[0]; i++) {
        tp_field v = f[decimals[i]];
        if (v.len > 0 && !tp_decimal_valid(v))
            return reject(q, file, line, decimal_names[i], v, "is not a decimal number");
    }

    memset(r, 0, sizeof *r);
    r->branch = c->o.branch;
    r->pos = c->o.pos;
    r->date = c->o.date;
    r->or_number = f[TP_RD5000_INVOICE];
    r->item_code = f[TP_RD5000_ITEM_CODE];
    r->quantity = f[TP_RD5000_QUANTITY];
    r->unit_price = f[TP_RD5000_UNIT_PRICE];
    r->amount = f[TP_RD5000_AMOUNT];
    r->discount = f[TP_RD5000_DISCOUNT];
    r->pos_dep_code = r->dep_code = f[TP_RD5000_DEP_CODE];
    r->time = time;
    r->time_minutes = -1;
    if (time.len == 5 && time.ptr[2] == ':' && is_digit(time.ptr[3]) && is_digit(time.ptr[4]) &&
        time.ptr[3] <= '5')
        r->time_minutes = hour * 60 + (time.ptr[3] - '0') * 10 + (time.ptr[4] - '0');
    r->disc_code = f[TP_RD5000_DISC_CODE];
    r->type_code = f[TP_RD5000_TYPE];
    r->vat_flag = f[TP_RD5000_VAT_FLAG];
    r->vat_div = f[TP_RD5000_VAT_DIV];
    r->vat_amount = f[TP_RD5000_VAT_AMOUNT];
    r->vat_discount = f[TP_RD5000_VAT_DISCOUNT];
    r->vat_price = f[TP_RD5000_VAT_PRICE];
    r->transno = f[TP_RD5000_TRANSNO];

    r->product_name = get(c, L_PRODUCT, r->item_code);
    if (c->o.newer_pos) {
        r->dep_code = get(c, L_PRODUCT_DEP, r->item_code);
        r->dep_from_product = 1;
    }
    r->department_name = get(c, L_DEPARTMENT, r->dep_code);
    r->discount_name = get(c, L_DISCOUNT, r->disc_code);
    r->txn_type = TP_TXN_UNKNOWN;
    if (r->type_code.len == 1) {
        switch (r->type_code.ptr[0]) {
        case 'D': r->txn_type = TP_TXN_DINE_IN; break;
        case 'T': r->txn_type = TP_TXN_TAKE_OUT; break;
        case 'C': r->txn_type = TP_TXN_DELIVERY; break;
        default: break;
        }
    }
    if (hour < 0)
        r->daypart = TP_DAYPART_NONE;
    else if (hour <= 5 || hour == 23)
        r->daypart = TP_DAYPART_GY;
    else if (hour <= 10)
        r->daypart = TP_DAYPART_BREAKFAST;
    else if (hour <= 14)
        r->daypart = TP_DAYPART_LUNCH;
    else if (hour <= 18)
        r->daypart = TP_DAYPART_PM_SNACK;
    else
        r->daypart = TP_DAYPART_DINNER;
    if (r->transno.len > 0) {
        r->payment_code = get(c, L_PAYMENT, r->transno);
        r->payment_name = get(c, L_PAYMETHOD, r->payment_code); /* legacy: even for "" */
        r->phone = get(c, L_PHONE, r->transno);
    } else
        r->payment_code = r->payment_name = r->phone = empty_field;
    r->source_file = file;
    r->source_line = line;
    return 1;
}
