/* fuzz_report_name.c -- report file names (core/reports.h) and the small
 * validators every name, path and query passes through: dates, branch codes,
 * decimals.
 *
 * Input: a file name (cut at a NUL).  An accepted name has a branch code of
 * 1-32 bytes, a terminal 1-99, a real calendar date, an HH-MM export time and
 * one of the seven types, and the same parts written back in the canonical
 * form parse to the same name; a refused one says why.
 */
#include <string.h>

#include "core/combine.h"
#include "core/config.h"
#include "core/reports.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name = strndup((const char *)data, size);
    if (!name)
        return 0;
    tp_report_name rn;
    tp_error err = {0};
    int rc = tp_report_name_parse(name, &rn, &err);
    if (rc < 0) {
        TP_FUZZ_CHECK((rc == TP_EINVAL || rc == TP_ENOTFOUND) && err.code == rc);
        TP_FUZZ_CHECK(err.msg[0] != '\0');
    } else {
        size_t bl = strlen(rn.branch);
        TP_FUZZ_CHECK(bl >= 1 && bl <= TP_BRANCH_MAX && !strchr(rn.branch, '_'));
        TP_FUZZ_CHECK(rn.pos >= 1 && rn.pos <= 99);
        TP_FUZZ_CHECK(tp_date_valid(rn.date));
        TP_FUZZ_CHECK(strlen(rn.time) == 5 && rn.time[2] == '-');
        TP_FUZZ_CHECK(rn.type >= 0 && rn.type < TP_TYPE_COUNT);
        char again[128];
        snprintf(again, sizeof again, "p_%s_%d_%s_%s_%s_.csv", rn.branch, rn.pos,
                 tp_schema_of(rn.type)->name, rn.date, rn.time);
        tp_report_name rn2;
        TP_FUZZ_CHECK(tp_report_name_parse(again, &rn2, NULL) == 0);
        TP_FUZZ_CHECK(strcmp(rn.branch, rn2.branch) == 0 && rn.pos == rn2.pos &&
                      rn.type == rn2.type && strcmp(rn.date, rn2.date) == 0 &&
                      strcmp(rn.time, rn2.time) == 0);
    }
    /* the same bytes as a date, a branch code, a decimal */
    if (tp_date_valid(name)) {
        TP_FUZZ_CHECK(strlen(name) == 10);
        int y = atoi(name), m = atoi(name + 5), d = atoi(name + 8);
        TP_FUZZ_CHECK(y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
    }
    if (tp_branch_code_valid(name)) {
        size_t n = strlen(name);
        TP_FUZZ_CHECK(n >= 1 && n <= TP_BRANCH_MAX);
        TP_FUZZ_CHECK(strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-") == n);
    }
    tp_field f = {(const char *)data, size};
    if (tp_decimal_valid(f)) {
        TP_FUZZ_CHECK(size >= 1 && size <= 40);
        TP_FUZZ_CHECK(strspn(name, "+-0123456789.") == size);
    }
    free(name);
    return 0;
}
