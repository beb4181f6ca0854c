/* test_unpack.c -- report files inside zip and tar(.gz) archives: members
 * extracted and hashed, unsafe archives (traversal, absolute paths, links)
 * rejected whole, archive bombs stopped by the caps; a folder scan and
 * `tillpipe run` take archives as their members. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/reports.h"
#include "io/scan.h"
#include "io/sha.h"
#include "io/unpack.h"
#include "testutil.h"

typedef struct seen {
    int n;
    char names[8][128];
    char paths[8][512];
    char sha[8][65];
    uint64_t size[8];
} seen;

static int on_member(void *ud, const char *name, const char *path, uint64_t size,
                     const char sha256[65], tp_error *err)
{
    seen *s = ud;
    ck_assert_int_lt(s->n, 8);
    snprintf(s->names[s->n], 128, "%s", name);
    snprintf(s->paths[s->n], 512, "%s", path);
    snprintf(s->sha[s->n], 65, "%s", sha256);
    s->size[s->n++] = size;
    return 0;
}

static const char rd1800[] = "DEP_CODE,DEP_DESC\n01,FOOD\n02,DRINKS\n";
static const char disc[] = "DISC_CODE,DISC_DESC\nSC,SENIOR\n";

static void check_extract(const char *fmt)
{
    char *dir = tu_tmpdir(), *out = tu_tmpdir();
    tu_member m[] = {{"exports/a_BMC_1_rd1800_2026-02-09_20-00_.csv", rd1800, NULL, 0},
                     {"a_BMC_1_discount_2026-02-09_20-00_.csv", disc, NULL, 0},
                     {"exports/", NULL, NULL, 0}};
    /* a directory entry only in tar (zip writes it as a file otherwise) */
    char *arch = tu_make_archive(dir, "day.x", fmt, m, 2);
    ck_assert_int_eq(tp_archive_sniff(arch), 1);
    seen s = {0};
    tp_error err = {0};
    ck_assert_int_eq(tp_archive_extract(arch, out, NULL, on_member, &s, &err), 0);
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.names[0], "a_BMC_1_rd1800_2026-02-09_20-00_.csv");
    ck_assert_str_eq(s.names[1], "a_BMC_1_discount_2026-02-09_20-00_.csv");
    size_t len;
    char *got = tu_read(s.paths[0], &len);
    ck_assert_str_eq(got, rd1800);
    ck_assert_uint_eq(s.size[0], strlen(rd1800));
    char want[65];
    ck_assert_int_eq(tp_sha256_file(s.paths[0], want, NULL, &err), 0);
    ck_assert_str_eq(s.sha[0], want);
    free(got);
    free(arch);
    tu_rmrf(dir);
    tu_rmrf(out);
    free(dir);
    free(out);
}

START_TEST(zip_members)
{
    check_extract("zip");
}
END_TEST
START_TEST(tar_members)
{
    check_extract("tar");
}
END_TEST
START_TEST(tgz_members)
{
    check_extract("tgz");
}
END_TEST

/* A bad archive is rejected with a message naming the member; nothing is
 * handed to the caller after the bad member. */
static void check_rejected(const tu_member *m, size_t n, const char *fmt, const char *want_msg,
                           int want_code, const tp_archive_limits *lim)
{
    char *dir = tu_tmpdir(), *out = tu_tmpdir();
    char *arch = tu_make_archive(dir, "bad.x", fmt, m, n);
    seen s = {0};
    tp_error err = {0};
    int rc = tp_archive_extract(arch, out, lim, on_member, &s, &err);
    ck_assert_int_eq(rc, want_code);
    ck_assert_msg(strstr(err.msg, want_msg), "message \"%s\" lacks \"%s\"", err.msg, want_msg);
    ck_assert_int_eq(s.n, 0);
    /* nothing escaped the output folder */
    struct stat st;
    char esc[1024];
    snprintf(esc, sizeof esc, "%s/evil.csv", dir);
    ck_assert_int_ne(stat(esc, &st), 0);
    free(arch);
    tu_rmrf(dir);
    tu_rmrf(out);
    free(dir);
    free(out);
}

START_TEST(traversal_rejected)
{
    tu_member m[] = {{"../evil.csv", "x\n", NULL, 0}};
    check_rejected(m, 1, "zip", "unsafe member path '../evil.csv'", TP_EPARSE, NULL);
    tu_member m2[] = {{"ok/../../evil.csv", "x\n", NULL, 0}};
    check_rejected(m2, 1, "tar", "unsafe member path", TP_EPARSE, NULL);
}
END_TEST

START_TEST(absolute_rejected)
{
    tu_member m[] = {{"/tmp/evil.csv", "x\n", NULL, 0}};
    check_rejected(m, 1, "tar", "unsafe member path '/tmp/evil.csv'", TP_EPARSE, NULL);
}
END_TEST

START_TEST(symlink_rejected)
{
    tu_member m[] = {{"a_BMC_1_rd1800_2026-02-09_20-00_.csv", NULL, "/etc/passwd", 0}};
    check_rejected(m, 1, "tgz", "is a link", TP_EPARSE, NULL);
}
END_TEST

START_TEST(bomb_stopped)
{
    /* 64 MB of zeros compress to a few KB: the member cap stops it early */
    tu_member m[] = {{"a_BMC_1_rd5000_2026-02-09_20-00_.csv", NULL, NULL, 64u << 20}};
    tp_archive_limits lim = {.max_member = 1u << 20};
    check_rejected(m, 1, "zip", "cap of 1048576 bytes", TP_ELIMIT, &lim);
    /* many members: the total cap */
    tu_member many[] = {{"a.csv", NULL, NULL, 600u << 10}, {"b.csv", NULL, NULL, 600u << 10}};
    tp_archive_limits lim2 = {.max_member = 1u << 20, .max_total = 1u << 20};
    char *dir = tu_tmpdir(), *out = tu_tmpdir();
    char *arch = tu_make_archive(dir, "many.tgz", "tgz", many, 2);
    seen s = {0};
    tp_error err = {0};
    ck_assert_int_eq(tp_archive_extract(arch, out, &lim2, on_member, &s, &err), TP_ELIMIT);
    ck_assert_ptr_nonnull(strstr(err.msg, "archive cap"));
    free(arch);
    tu_rmrf(dir);
    tu_rmrf(out);
    free(dir);
    free(out);
}
END_TEST

START_TEST(not_an_archive)
{
    char *dir = tu_tmpdir(), *out = tu_tmpdir();
    char *p = tu_write(dir, "x.zip", "PK\003\004 this is not really a zip");
    ck_assert_int_eq(tp_archive_sniff(p), 1);
    seen s = {0};
    tp_error err = {0};
    ck_assert_int_eq(tp_archive_extract(p, out, NULL, on_member, &s, &err), TP_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.msg, "x.zip"));
    char *csv = tu_write(dir, "a.csv", "A,B\n1,2\n");
    ck_assert_int_eq(tp_archive_sniff(csv), 0);
    free(p);
    free(csv);
    tu_rmrf(dir);
    tu_rmrf(out);
    free(dir);
    free(out);
}
END_TEST

/* A folder with an archive: its members are candidates like loose files;
 * the scan's temporary folder goes with the scan. */
START_TEST(scan_takes_archives)
{
    char *dir = tu_tmpdir();
    tu_member m[] = {{"a_BMC_1_rd1800_2026-02-09_20-00_.csv", rd1800, NULL, 0},
                     {"a_BMC_2_rd1800_2026-02-09_20-00_.csv", rd1800, NULL, 0},
                     {"notes.txt", "hello\n", NULL, 0}};
    char *arch = tu_make_archive(dir, "upload.zip", "zip", m, 3);
    free(tu_write(dir, "a_BMC_1_discount_2026-02-09_20-00_.csv", disc));
    tp_scan *s = NULL;
    tp_error err = {0};
    tp_scan_filter f = {"BMC", 1, NULL};
    ck_assert_int_eq(tp_scan_dir(dir, &f, &s, &err), 0);
    ck_assert_uint_eq(s->ndays, 1);
    ck_assert_uint_eq(s->days[0].ncands, 2);
    ck_assert_uint_eq(s->nignored, 1); /* notes.txt */
    ck_assert_ptr_nonnull(s->tmpdir);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", s->tmpdir);
    int found = 0;
    for (size_t i = 0; i < s->days[0].ncands; i++)
        if (s->days[0].cands[i].rn.type == TP_TYPE_RD1800) {
            found = 1;
            ck_assert_int_eq((int)strlen(s->days[0].cands[i].sha256), 64);
        }
    ck_assert_int_eq(found, 1);
    tp_scan_destroy(s);
    struct stat st;
    ck_assert_int_ne(stat(tmp, &st), 0);
    /* the archive itself in place of a folder */
    ck_assert_int_eq(tp_scan_dir(arch, NULL, &s, &err), 0);
    ck_assert_uint_eq(s->ndays, 2);
    tp_scan_destroy(s);
    free(arch);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("unpack");
    TCase *tc = tcase_create("archives");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, zip_members);
    tcase_add_test(tc, tar_members);
    tcase_add_test(tc, tgz_members);
    tcase_add_test(tc, traversal_rejected);
    tcase_add_test(tc, absolute_rejected);
    tcase_add_test(tc, symlink_rejected);
    tcase_add_test(tc, bomb_stopped);
    tcase_add_test(tc, not_an_archive);
    tcase_add_test(tc, scan_takes_archives);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
