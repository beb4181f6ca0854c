/* test_core.c -- unit tests of engine/core: report names, the legacy
 * combine rules and the branch configuration. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/combine.h"
#include "core/config.h"
#include "core/reports.h"
#include "rows.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

static int feq(tp_field f, const char *s)
{
    return f.len == strlen(s) && memcmp(f.ptr, s, f.len) == 0;
}

#define ck_field(f, s)                                                                             \
    ck_assert_msg(feq((f), (s)), "field is \"%.*s\", expected \"%s\"", (int)(f).len, (f).ptr, (s))

/* --------------------------------------------------------- file names */

START_TEST(name_parses)
{
    tp_report_name rn;
    tp_error err = {0};
    ck_assert_int_eq(tp_report_name_parse("a_AYALA-FRN_2_rd5000_2026-02-09_19-59_.csv", &rn, &err),
                     0);
    ck_assert_str_eq(rn.branch, "AYALA-FRN");
    ck_assert_int_eq(rn.pos, 2);
    ck_assert_int_eq(rn.type, TP_TYPE_RD5000);
    ck_assert_str_eq(rn.date, "2026-02-09");
    ck_assert_str_eq(rn.time, "19-59");
}
END_TEST

START_TEST(name_rejects)
{
    tp_report_name rn;
    tp_error err = {0};
    ck_assert_int_eq(tp_report_name_parse("README.md", &rn, &err), TP_EINVAL);
    ck_assert_int_eq(tp_report_name_parse("a_BMC_1_rd9999_2026-02-09_20-00_.csv", &rn, &err),
                     TP_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "rd9999"));
    ck_assert_int_eq(tp_report_name_parse("a_BMC_1_rd5000_2026-02-30_20-00_.csv", &rn, &err),
                     TP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "2026-02-30"));
    ck_assert_int_eq(tp_report_name_parse("a_BMC_x_rd5000_2026-02-09_20-00_.csv", &rn, &err),
                     TP_EINVAL);
    ck_assert_int_eq(tp_report_name_parse("a_BMC_1_rd5000_2026-02-09_2000_.csv", &rn, &err),
                     TP_EINVAL);
    ck_assert_int_eq(tp_report_name_parse("a__1_rd5000_2026-02-09_20-00_.csv", &rn, &err),
                     TP_EINVAL);
    ck_assert_int_eq(tp_report_name_parse("a_BMC_1_rd5000_2026-02-09_20-00_.txt", &rn, &err),
                     TP_EINVAL);
    ck_assert(tp_date_valid("2024-02-29"));
    ck_assert(!tp_date_valid("2025-02-29"));
    ck_assert(!tp_date_valid("2025-13-01"));
}
END_TEST

/* ------------------------------------------------------------- combine */

START_TEST(combine_lookups_and_derived)
{
    tp_combine *c = tu_classic_combine(0);
    tp_quality q = {0};
    tp_record rec;
    trow r;
    tu_order_row(&r, "BRK2", "2026-02-09", "07:25", "D", "00247627", "03");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 7, &q, &rec), 1);
    ck_field(rec.product_name, "GOTO"); /* first row wins */
    ck_field(rec.dep_code, "03");
    ck_assert_int_eq(rec.dep_from_product, 0);
    ck_field(rec.department_name, "BREAKFAST");
    ck_field(rec.discount_name, "SNR CTZN 20%");
    ck_field(rec.payment_code, "00001"); /* first payment wins */
    ck_field(rec.payment_name, "CASH");
    ck_field(rec.phone, "09264097787");
    ck_assert_int_eq(rec.txn_type, TP_TXN_DINE_IN);
    ck_assert_int_eq(rec.daypart, TP_DAYPART_BREAKFAST);
    ck_assert_int_eq(rec.time_minutes, 7 * 60 + 25);
    ck_field(rec.amount, "766.070"); /* scale kept */
    ck_assert_str_eq(rec.source_file, "f.csv");
    ck_assert_uint_eq(rec.source_line, 7);
    ck_assert_str_eq(rec.branch, "BMC");
    ck_assert_int_eq(rec.pos, 1);

    /* unknown item, no discount, empty transaction number: empty lookups */
    tu_order_row(&r, "NOPE", "2026-02-09", "12:00", "X", "", "99");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 8, &q, &rec), 1);
    ck_field(rec.product_name, "");
    ck_field(rec.department_name, "");
    ck_field(rec.payment_code, "");
    ck_field(rec.payment_name, "");
    ck_field(rec.phone, "");
    ck_assert_int_eq(rec.txn_type, TP_TXN_UNKNOWN);
    ck_assert_str_eq(tp_txn_type_name(rec.txn_type), "");

    /* a transaction with no payment row and no 11-char phone */
    tu_order_row(&r, "BRK2", "2026-02-09", "12:00", "T", "00247628", "03");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 9, &q, &rec), 1);
    ck_field(rec.payment_code, "");
    ck_field(rec.phone, "");
    ck_assert_int_eq(rec.txn_type, TP_TXN_TAKE_OUT);
    ck_assert_uint_eq(q.rows_rejected + q.rows_outside_date, 0);
    tp_quality_clear(&q);
    tp_combine_destroy(c);
}
END_TEST

START_TEST(combine_dayparts)
{
    static const struct {
        const char *time;
        tp_daypart d;
    } cases[] = {{"00:00", TP_DAYPART_GY},        {"05:59", TP_DAYPART_GY},
                 {"06:00", TP_DAYPART_BREAKFAST}, {"10:59", TP_DAYPART_BREAKFAST},
                 {"11:00", TP_DAYPART_LUNCH},     {"14:59", TP_DAYPART_LUNCH},
                 {"15:00", TP_DAYPART_PM_SNACK},  {"18:59", TP_DAYPART_PM_SNACK},
                 {"19:00", TP_DAYPART_DINNER},    {"22:59", TP_DAYPART_DINNER},
                 {"23:00", TP_DAYPART_GY},        {"", TP_DAYPART_NONE}};
    tp_combine *c = tu_classic_combine(0);
    tp_quality q = {0};
    tp_record rec;
    trow r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_order_row(&r, "BRK2", "2026-02-09", cases[i].time, "C", "1", "03");
        ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 2, &q, &rec), 1);
        ck_assert_msg(rec.daypart == cases[i].d, "time %s", cases[i].time);
    }
    ck_assert_str_eq(tp_daypart_name(TP_DAYPART_NONE), "No Time Record");
    ck_assert_str_eq(tp_daypart_name(TP_DAYPART_PM_SNACK), "PM Snack");
    ck_assert_int_eq(rec.txn_type, TP_TXN_DELIVERY);
    ck_assert_int_eq(rec.time_minutes, -1);

    /* unusable TIME: rejected with a reason, not written */
    const char *bad[] = {"xx:10", "7:30", "TIME", "24:00"};
    for (size_t i = 0; i < 4; i++) {
        tu_order_row(&r, "BRK2", "2026-02-09", bad[i], "D", "1", "03");
        ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 40 + i, &q, &rec), 0);
    }
    ck_assert_uint_eq(q.rows_rejected, 4);
    ck_assert_uint_eq(q.nproblems, 4);
    ck_assert_ptr_nonnull(strstr(q.problems[0].reason, "xx:10"));
    ck_assert_uint_eq(q.problems[3].line, 43);
    /* an hour without valid minutes is kept (legacy) but has no minute value */
    tu_order_row(&r, "BRK2", "2026-02-09", "07:9x", "D", "1", "03");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 50, &q, &rec), 1);
    ck_assert_int_eq(rec.daypart, TP_DAYPART_BREAKFAST);
    ck_assert_int_eq(rec.time_minutes, -1);
    tp_quality_clear(&q);
    tp_combine_destroy(c);
}
END_TEST

START_TEST(combine_outside_date_and_bad_decimal)
{
    tp_combine *c = tu_classic_combine(0);
    tp_quality q = {0};
    tp_record rec;
    trow r;
    tu_order_row(&r, "BRK2", "2026-02-08", "07:25", "D", "1", "03");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 3, &q, &rec), 0);
    ck_assert_uint_eq(q.rows_outside_date, 1);
    ck_assert_uint_eq(q.rows_rejected, 0);
    ck_assert_uint_eq(q.warnings, 0);
    ck_assert_uint_eq(q.nproblems, 1);
    ck_assert_ptr_nonnull(strstr(q.problems[0].reason, "2026-02-08"));
    ck_assert(tp_quality_flagged(&q));

    tu_split(&r, "1,00250455,BRK2,abc,1.0,1.0,0,03,2026-02-09,07:25,,D,1,9.3,0,0,1,5");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 4, &q, &rec), 0);
    ck_assert_uint_eq(q.rows_rejected, 1);
    ck_assert_ptr_nonnull(strstr(q.problems[1].reason, "QUANTITY \"abc\""));
    tp_quality_clear(&q);
    tp_combine_destroy(c);

    const char *good[] = {"0", "0.000", "-153.210", "149", "106.4286", "+1", ".5", "5."};
    const char *badd[] = {"", "abc", "1e3", "1.2.3", "-", ".", "1,5", " 1"};
    for (size_t i = 0; i < 8; i++) {
        tp_field g = {good[i], strlen(good[i])}, b = {badd[i], strlen(badd[i])};
        ck_assert_msg(tp_decimal_valid(g), "%s", good[i]);
        ck_assert_msg(!tp_decimal_valid(b), "%s", badd[i]);
    }
}
END_TEST

START_TEST(combine_newer_pos_department_from_product)
{
    tp_combine *c = tu_classic_combine(1);
    tp_quality q = {0};
    tp_record rec;
    trow r;
    tu_split(&r, "COF23,ICD16 CARAMEL M,CAT9");
    tp_combine_ref_row(c, TP_TYPE_RD5500, r.f, r.n);
    tu_order_row(&r, "COF23", "2026-02-09", "17:50", "D", "1", "");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 2, &q, &rec), 1);
    ck_field(rec.dep_code, "CAT9");
    ck_field(rec.pos_dep_code, "");
    ck_assert_int_eq(rec.dep_from_product, 1);
    ck_field(rec.department_name, "FROM CATEG");
    tu_order_row(&r, "UNKNOWN", "2026-02-09", "17:50", "D", "1", "");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 3, &q, &rec), 1);
    ck_field(rec.dep_code, "");
    tp_quality_clear(&q);
    tp_combine_destroy(c);
}
END_TEST

/* -------------------------------------------------------------- config */

static void config_fails(const char *json, const char *want)
{
    tp_error err = {0};
    tp_config *c = tp_config_parse(json, "t.json", &err);
    ck_assert_msg(c == NULL, "accepted: %s", json);
    ck_assert_int_eq(err.code, TP_ECONFIG);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message \"%s\" lacks \"%s\"", err.msg, want);
}

START_TEST(config_valid_and_default)
{
    tp_error err = {0};
    tp_config *c = tp_config_parse(
        "{\"branches\": [{\"code\": \"BX\", \"terminals\": [1, 2], \"pos\": \"newer\","
        " \"parsers\": {\"rd5500\": \"newpos\", \"rd5000\": {\"plugin\": \"rd5000\","
        " \"options\": {\"column.DATE\": 12, \"x\": \"y\"}}}}, {\"code\": \"B-2\", \"active\": "
        "false}]}",
        "t.json", &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    const tp_branch_cfg *b = tp_config_branch(c, "BX");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->newer_pos, 1);
    ck_assert_int_eq(b->nterminals, 2);
    ck_assert_str_eq(tp_branch_plugin(b, "rd5500"), "newpos");
    ck_assert_str_eq(tp_branch_plugin(b, "rd5000"), "rd5000");
    ck_assert_ptr_null(tp_branch_plugin(b, "blpr"));
    ck_assert_str_eq(tp_branch_option(b, "rd5000", "column.DATE"), "12");
    ck_assert_ptr_null(tp_branch_option(b, "rd5000", "nope"));
    const tp_branch_cfg *b2 = tp_config_branch(c, "B-2");
    ck_assert_int_eq(b2->active, 0);
    ck_assert_int_eq(b2->terminals[0], 1);
    ck_assert_ptr_null(tp_config_branch(c, "ZZZ"));
    tp_config_destroy(c);

    c = tp_config_builtin(&err);
    ck_assert_ptr_nonnull(c);
    const char *newer[] = {"BPAG", "BGRAN", "BETA", "BTAB"};
    for (int i = 0; i < 4; i++) {
        b = tp_config_branch(c, newer[i]);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(b->newer_pos, 1);
        ck_assert_str_eq(tp_branch_plugin(b, "rd5500"), "newpos");
    }
    ck_assert_int_eq(tp_config_branch(c, "BMC")->newer_pos, 0);
    tp_config_destroy(c);
}
END_TEST

START_TEST(config_errors_name_the_key)
{
    config_fails("{\"branches\": [", "invalid JSON");
    config_fails("[]", "(top level)");
    config_fails("{}", "branches: is required");
    config_fails("{\"branchez\": []}", "branchez: unknown key");
    config_fails("{\"branches\": [{\"name\": \"x\"}]}", "branches[0]: \"code\" is required");
    config_fails("{\"branches\": [{\"code\": \"A_B\"}]}", "branches[0].code");
    config_fails("{\"branches\": [{\"code\": \"A\", \"pos\": \"new\"}]}", "branches[0].pos");
    config_fails("{\"branches\": [{\"code\": \"A\", \"termnals\": [1]}]}",
                 "branches[0].termnals: unknown key");
    config_fails("{\"branches\": [{\"code\": \"A\", \"terminals\": [0]}]}",
                 "branches[0].terminals");
    config_fails("{\"branches\": [{\"code\": \"A\", \"terminals\": \"1\"}]}",
                 "branches[0].terminals");
    config_fails("{\"branches\": [{\"code\": \"A\", \"active\": 1}]}", "branches[0].active");
    config_fails("{\"branches\": [{\"code\": \"A\"}, {\"code\": \"A\"}]}",
                 "branches[1].code: duplicate");
    config_fails("{\"branches\": [{\"code\": \"A\", \"parsers\": {\"rd9\": \"x\"}}]}",
                 "branches[0].parsers.rd9: unknown report type");
    config_fails("{\"branches\": [{\"code\": \"A\", \"parsers\": {\"rd5000\": 3}}]}",
                 "branches[0].parsers.rd5000");
    config_fails(
        "{\"branches\": [{\"code\": \"A\", \"parsers\": {\"rd5000\": {\"plug\": \"x\"}}}]}",
        "branches[0].parsers.rd5000.plug: unknown key");
    config_fails("{\"branches\": [{\"code\": \"A\", \"parsers\": {\"rd5000\": {\"options\": "
                 "{\"k\": []}}}}]}",
                 "branches[0].parsers.rd5000.options.k");
    config_fails("{\"branches\": [{\"code\": \"A\", \"code\": \"B\"}]}", "invalid JSON");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("core");
    TCase *t = tcase_create("core");
    tcase_add_test(t, name_parses);
    tcase_add_test(t, name_rejects);
    tcase_add_test(t, combine_lookups_and_derived);
    tcase_add_test(t, combine_dayparts);
    tcase_add_test(t, combine_outside_date_and_bad_decimal);
    tcase_add_test(t, combine_newer_pos_department_from_product);
    tcase_add_test(t, config_valid_and_default);
    tcase_add_test(t, config_errors_name_the_key);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
