/* conform_input.c -- the conformance kit's inputs (conform_int.h): a case
 * folder as tests/plugins/cases lays it out (input.csv, expected.jsonl,
 * error, branch, options.json), and the built-in smoke inputs per report
 * type. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conform_int.h"

#define MAX_EXPECTED (64 << 20) /* largest expected.jsonl */
#define MAX_SMALL 65536         /* largest error, branch, options.json */
#define OPTIONS_BRANCH "TEST"   /* options.json's branch when there is no branch file */

void tp__kit_input_free(tp__kit_input *in)
{
    free(in->data);
    free(in->expected);
    free(in->error);
    free(in->branch);
    tp_config_destroy(in->opts.cfg);
    memset(in, 0, sizeof *in);
}

/* dir/name, at most `max` bytes, NUL-terminated, into *out (NULL when the
 * file does not exist).  0, or -1 with why set. */
static int slurp(const char *dir, const char *name, size_t max, char **out, size_t *len, char *why,
                 size_t whyn)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, whyn, ": %s: %s", name, strerror(errno));
        return -1;
    }
    struct stat st;
    size_t size = fstat(fileno(f), &st) == 0 ? (size_t)st.st_size : 0;
    char *buf = size <= max ? malloc(size + 1) : NULL;
    size_t got = buf ? fread(buf, 1, size, f) : 0;
    int bad = buf && ferror(f);
    fclose(f);
    if (!buf || bad) {
        if (size > max)
            snprintf(why, whyn, ": %s is %zu bytes; the kit reads at most %zu", name, size, max);
        else
            snprintf(why, whyn, ": %s: %s", name, bad ? "read error" : "out of memory");
        free(buf);
        return -1;
    }
    buf[got] = '\0';
    *out = buf;
    if (len)
        *len = got;
    return 0;
}

static char *chomp(char *s)
{
    size_t n = s ? strlen(s) : 0;
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
    return s;
}

/* options.json -> a one-branch configuration naming the plugin with those
 * options for the type, as tests/plugins/test_plugins.c builds it. */
static int options_config(tp__kit_input *in, const char *type, const char *plugin, const char *text,
                          char *why, size_t whyn)
{
    json_error_t je;
    json_t *opts = json_loads(text, 0, &je);
    if (!json_is_object(opts)) {
        snprintf(why, whyn, ": options.json:%d: %s", opts ? 1 : je.line,
                 opts ? "not a JSON object of option names and values" : je.text);
        json_decref(opts);
        return -1;
    }
    const char *code = in->branch ? in->branch : OPTIONS_BRANCH;
    json_t *root = json_pack("{s:[{s:s, s:[i], s:{s:{s:s, s:o}}}]}", "branches", "code", code,
                             "terminals", 1, "parsers", type, "plugin", plugin, "options", opts);
    char *cfg_text = root ? json_dumps(root, 0) : NULL;
    json_decref(root);
    tp_error err = {0};
    in->opts.cfg = cfg_text ? tp_config_parse(cfg_text, "options.json", &err) : NULL;
    free(cfg_text);
    if (!in->opts.cfg) {
        snprintf(why, whyn, ": %s", err.msg[0] ? err.msg : "out of memory");
        return -1;
    }
    in->opts.bt.branch = tp_config_branch(in->opts.cfg, code);
    return 0;
}

int tp__kit_case_load(const tp__kit *k, const tp__kit_case *c, const tp_schema *s,
                      tp__kit_input *in, char *why, size_t whyn)
{
    memset(in, 0, sizeof *in);
    in->opts.bt.type = s->name;
    char *options = NULL;
    if (slurp(c->dir, "input.csv", TP_CONFORM_MAX_INPUT, &in->data, &in->len, why, whyn) < 0 ||
        slurp(c->dir, "expected.jsonl", MAX_EXPECTED, &in->expected, &in->expected_len, why, whyn) <
            0 ||
        slurp(c->dir, "error", MAX_SMALL, &in->error, NULL, why, whyn) < 0 ||
        slurp(c->dir, "branch", MAX_SMALL, &in->branch, NULL, why, whyn) < 0 ||
        slurp(c->dir, "options.json", MAX_SMALL, &options, NULL, why, whyn) < 0)
        goto fail;
    if (!in->data) {
        snprintf(why, whyn,
                 ": input.csv is missing (a case folder holds input.csv, and "
                 "optionally expected.jsonl, error, branch, options.json)");
        goto fail;
    }
    chomp(in->error);
    chomp(in->branch);
    if (options && options_config(in, s->name, k->plugin->desc->name, options, why, whyn) < 0)
        goto fail;
    if (!options && in->branch) {
        tp_error err = {0};
        if (!(in->opts.cfg = tp_config_builtin(&err))) {
            snprintf(why, whyn, ": %s", err.msg);
            goto fail;
        }
        in->opts.bt.branch = tp_config_branch(in->opts.cfg, in->branch);
    }
    free(options);
    return 0;
fail:
    free(options);
    tp__kit_input_free(in);
    return -1;
}

/* ------------------------------------------------------------ smoke inputs */

/* A header, rows and a row with a quoted field holding the delimiter and a
 * newline, per report type: the layouts of docs/pos-reports.md, values made
 * up. */
typedef struct smoke_rows {
    const char *type, *header, *rows[3], *quoted;
} smoke_rows;

static const smoke_rows smoke_data[] = {
    {"rd5000",
     "STORE_NUM,TRANSDATE,INVOICE,CAS_CODE,ITE_CODE,QUANTITY,UNT_PRIC,AMOUNT,DISCOUNT,SCHARGE,DT,"
     "DEP_CODE,DATE,TIME,CUS_CODE,TRN_CODE,ORNUM,TAG,DISC_CODE,SRNO,SRNAME,TYPE,BACKJOB,DELIVERY,"
     "PHONE,RIDER,FREE,INV_FLAG,REC_NO,LPAY_DISC,GC_EXCESS,VAT_FLAG,VATDIV,BDL_CODE,VAT_AMNT,"
     "VAT_DISC,VAT_PRIC,TRANSNO,POS,BRANCH",
     {"1,2026-03-02 00:00:00,00100001,10001,ITM1,1.000,100.000,100.000,0.000,0.000,SP,01,"
      "2026-03-02 00:00:00,09:15,,S,,S,,,,T,1,0,,,0,1,1,0,0.000,1,9.330,ITM1,89.290,0.000,89.290,"
      "00090001,1,SMOKE",
      "1,2026-03-02 00:00:00,00100001,10001,ITM2,2.000,50.000,100.000,-20.000,0.000,SP,02,"
      "2026-03-02 00:00:00,09:15,,S,,S,1,,,D,1,0,,,0,1,2,0,0.000,1,9.330,ITM2,71.430,0.000,44.640,"
      "00090001,1,SMOKE",
      "1,2026-03-02 00:00:00,00100002,10001,ITM3,1.000,75.500,75.500,0.000,0.000,SP,01,"
      "2026-03-02 00:00:00,11:40,,S,,S,,,,T,1,0,,,0,1,1,0,0.000,1,9.330,ITM3,67.410,0.000,67.410,"
      "00090002,1,SMOKE"},
     "1,2026-03-02 00:00:00,00100003,10001,ITM1,1.000,100.000,100.000,0.000,0.000,SP,01,"
     "2026-03-02 00:00:00,12:05,,S,,S,,7,\"CASHIER, A\nSHIFT 2\",T,1,0,,,0,1,1,0,0.000,1,9.330,"
     "ITM1,89.290,0.000,89.290,00090003,1,SMOKE"},
    {"rd5800",
     "STORE_NUM,TRANSDATE,INVOICE,CAS_CODE,AMT_TENDER,CHANGE,NAME,REF_NO,DATE,TIME,TAG,PAYCODE,"
     "TRN_CODE,REF_CODE,ORDERSLIP,REC_NO,CUSINFO1,CUSINFO2,CUSINFO3,TIN_TAG,TRANSNO,POS,BRANCH",
     {"1,2026-03-02 00:00:00,00100001,10001,200.000,0.000,,,2026-03-02 00:00:00,09:15,S,00001,S,,,"
      "1,,,,0,00090001,1,SMOKE",
      "1,2026-03-02 00:00:00,00100002,10001,100.000,24.500,,,2026-03-02 00:00:00,11:40,S,00001,S,,,"
      "1,,,,0,00090002,1,SMOKE",
      "1,2026-03-02 00:00:00,00100003,10001,100.000,0.000,,REF-1,2026-03-02 00:00:00,12:05,S,00002,"
      "S,,,1,,,,0,00090003,1,SMOKE"},
     "1,2026-03-02 00:00:00,00100004,10001,50.000,0.000,\"DOE, JANE\nCARD\",,2026-03-02 00:00:00,"
     "12:30,S,00002,S,,,1,,,,0,00090004,1,SMOKE"},
    {"rd5500",
     "INCODE,ITE_DESC,ECR_DESC,DEP_CODE,UNT_PRIC,UNIT,TAXPRCNT1,TAXAMOUNT1,TAX1DIV,POS,BRANCH",
     {"ITM1,ITEM ONE,ITEM ONE,01,100.000,PC,12.000,10.710,9.330000,1,SMOKE",
      "ITM2,ITEM TWO,ITEM TWO,02,50.000,PC,12.000,5.360,9.330000,1,SMOKE",
      "ITM3,ITEM THREE,ITEM THREE,01,75.500,PC,12.000,8.090,9.330000,1,SMOKE"},
     "ITM4,\"MEAL, LARGE\nWITH DRINK\",MEAL LARGE,01,150.000,PC,12.000,16.070,9.330000,1,SMOKE"},
    {"rd1800",
     "DEP_CODE,DEP_DESC,POS,BRANCH",
     {"01,MEALS,1,SMOKE", "02,DRINKS,1,SMOKE", "03,DESSERTS,1,SMOKE"},
     "04,\"SIDES, EXTRA\nAND SAUCES\",1,SMOKE"},
    {"discount",
     "CODE,DESC,TYPE,VALUE,POS,BRANCH",
     {"1,SENIOR,SUBTOTAL PERCENT,20.000,1,SMOKE", "2,STAFF,SUBTOTAL PERCENT,10.000,1,SMOKE",
      "3,PROMO,AMOUNT,50.000,1,SMOKE"},
     "4,\"BUNDLE, 2\nFOR 1\",AMOUNT,25.000,1,SMOKE"},
    {"rd5900",
     "PAY_CODE,PAY_DESC,METHOD,MAX_AMOUNT,POS,BRANCH",
     {"00001,CASH,0,0.000,1,SMOKE", "00002,CARD,1,0.000,1,SMOKE",
      "00003,VOUCHER,2,500.000,1,SMOKE"},
     "00004,\"GIFT, CARD\nPAPER\",2,0.000,1,SMOKE"},
    {"blpr",
     "STORE,PHONE,TRANSNO,ORNO,POS,BRANCH",
     {"SMOKE,09170000001,\"=\"\"00090001\"\"\",\"=\"\"00100001\"\"\",1,SMOKE",
      "SMOKE,09170000002,\"=\"\"00090002\"\"\",\"=\"\"00100002\"\"\",1,SMOKE",
      "SMOKE,09170000003,\"=\"\"00090003\"\"\",\"=\"\"00100003\"\"\",1,SMOKE"},
     "\"SMOKE, NORTH\nWING\",09170000004,\"=\"\"00090004\"\"\",\"=\"\"00100004\"\"\",1,SMOKE"},
};

static const char *const smoke_names[TP__SMOKE_COUNT] = {"rows", "empty", "no_final_newline",
                                                         "crlf", "quoted_delimiter_newline"};

size_t tp__kit_smoke_count(void)
{
    return TP__SMOKE_COUNT;
}

const char *tp__kit_smoke_name(size_t i)
{
    return i < TP__SMOKE_COUNT ? smoke_names[i] : "?";
}

int tp__kit_smoke_load(const tp_schema *s, size_t which, tp__kit_input *in)
{
    memset(in, 0, sizeof *in);
    in->opts.bt.type = s->name;
    const smoke_rows *d = NULL;
    for (size_t i = 0; i < sizeof smoke_data / sizeof smoke_data[0]; i++)
        if (strcmp(smoke_data[i].type, s->name) == 0)
            d = &smoke_data[i];
    FILE *f = open_memstream(&in->data, &in->len);
    if (!f)
        return -1;
    const char *eol = which == TP__SMOKE_CRLF ? "\r\n" : "\n";
    if (d && which != TP__SMOKE_EMPTY) {
        fprintf(f, "%s%s%s%s", d->header, eol, d->rows[0], eol);
        fprintf(f, "%s%s", which == TP__SMOKE_QUOTED ? d->quoted : d->rows[1], eol);
        fprintf(f, "%s%s", d->rows[2], which == TP__SMOKE_NO_FINAL_NEWLINE ? "" : eol);
    }
    return fclose(f) == 0 ? 0 : -1;
}
