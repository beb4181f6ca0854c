/* test_io.c -- unit tests of engine/io: counting rows and select over
 * files, the folder index, the record writers, configuration files and
 * SHA-256. */
#include <check.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/combine.h"
#include "core/reports.h"
#include "io/config_file.h"
#include "io/output.h"
#include "io/scan.h"
#include "io/sha.h"
#include "rows.h"
#include "testutil.h"

/* -------------------------------------------------------------- select */

static const char hdr[] = "H1,H2\n";

/* Rows are counted with the file's own delimiter: a quote opens a field
 * only after one, so a line break inside "x\ny" is in a field for ';' and a
 * record end for ','. */
START_TEST(count_rows_by_delimiter)
{
    char *dir = tu_tmpdir();
    char *path = tu_write(dir, "semi.csv", "A;B\n1;\"x\ny\"\n2;z\n");
    uint64_t rows = 0;
    tp_error err = {0};
    ck_assert_int_eq(tp_count_rows(path, ';', &rows, &err), 0);
    ck_assert_uint_eq(rows, 2);
    ck_assert_int_eq(tp_count_rows(path, 0, &rows, &err), 0);
    ck_assert_uint_eq(rows, 3);
    /* select ranks two such candidates by the delimiter it is given */
    tp_termday td;
    tp_termday_init(&td, "BMC", 1, "2026-02-09");
    tp_report_name a, b;
    ck_assert_int_eq(tp_report_name_parse("a_BMC_1_rd5900_2026-02-09_20-00_.csv", &a, NULL), 0);
    ck_assert_int_eq(tp_report_name_parse("a_BMC_1_rd5900_2026-02-09_19-00_.csv", &b, NULL), 0);
    char *other = tu_write(dir, "plain.csv", "A;B\n1;x\n2;y\n3;z\n");
    ck_assert_ptr_nonnull(tp_termday_add(&td, path, &a, 10, &err));
    ck_assert_ptr_nonnull(tp_termday_add(&td, other, &b, 10, &err));
    tp_delimiters semi = {{0}};
    semi.of[TP_TYPE_RD5900] = ';';
    ck_assert_int_eq(tp_select_files(&td, &semi, &err), 0);
    ck_assert_int_eq(td.chosen[TP_TYPE_RD5900], 1); /* 3 rows beat 2 */
    ck_assert_uint_eq(td.cands[0].rows, 2);
    tp_termday_clear(&td);
    free(other);
    free(path);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(select_most_rows_then_later_export)
{
    char *dir = tu_tmpdir();
    char body3[64], body2[64];
    snprintf(body3, sizeof body3, "%sa,1\nb,2\n\"c\nwith newline\",3\n", hdr);
    snprintf(body2, sizeof body2, "%sa,1\nb,2\n", hdr);
    free(tu_write(dir, "a_BMC_1_rd5000_2026-02-09_19-59_.csv", body3)); /* most rows */
    free(tu_write(dir, "a_BMC_1_rd5000_2026-02-09_20-00_.csv", body2)); /* later, partial */
    free(tu_write(dir, "a_BMC_1_rd5500_2026-02-09_19-59_.csv", body2)); /* tie ... */
    free(tu_write(dir, "a_BMC_1_rd5500_2026-02-09_20-00_.csv", body2)); /* ... later wins */
    free(tu_write(dir, "a_BMC_1_blpr_2026-02-09_20-00_.csv", hdr));     /* header only */
    free(tu_write(dir, "a_BMC_2_blpr_2026-02-09_20-00_.csv", hdr));     /* other terminal */
    free(tu_write(dir, "notes.txt", "x"));
    tp_scan *s = NULL;
    tp_error err = {0};
    ck_assert_int_eq(tp_scan_dir(dir, NULL, &s, &err), 0);
    ck_assert_uint_eq(s->ndays, 2);
    ck_assert_uint_eq(s->nignored, 1);
    tp_termday *td = &s->days[0];
    ck_assert_int_eq(td->pos, 1);
    ck_assert_int_eq(tp_select_files(td, NULL, &err), 0);
    const tp_candidate *c5000 = &td->cands[td->chosen[TP_TYPE_RD5000]];
    ck_assert_str_eq(c5000->rn.time, "19-59");
    ck_assert_uint_eq(c5000->rows, 3);
    ck_assert_ptr_nonnull(strstr(c5000->reason, "the most of 2"));
    const tp_candidate *c5500 = &td->cands[td->chosen[TP_TYPE_RD5500]];
    ck_assert_str_eq(c5500->rn.time, "20-00");
    ck_assert_ptr_nonnull(strstr(c5500->reason, "tie broken"));
    int losers = 0;
    for (size_t i = 0; i < td->ncands; i++)
        if (!td->cands[i].chosen) {
            losers++;
            ck_assert_ptr_nonnull(strstr(td->cands[i].reason, "not chosen"));
        }
    ck_assert_int_eq(losers, 2);
    /* a lone candidate is chosen unread; its rows come from the parse or a count */
    tp_candidate *blpr = &td->cands[td->chosen[TP_TYPE_BLPR]];
    ck_assert_int_eq(blpr->counted, 0);
    ck_assert_str_eq(blpr->reason, "chosen: the only blpr file");
    ck_assert_int_eq(tp_select_count_rest(td, NULL, &err), 0);
    ck_assert_int_eq(blpr->counted, 1);
    ck_assert_uint_eq(blpr->rows, 0);
    ck_assert_str_eq(blpr->reason, "chosen: the only blpr file (0 data rows)");
    tp_candidate_set_rows(blpr, 99); /* already counted: kept */
    ck_assert_uint_eq(blpr->rows, 0);
    ck_assert_int_eq(td->chosen[TP_TYPE_RD5800], -1);
    tp_scan_destroy(s);

    tp_scan_filter f = {.branch = "BMC", .pos = 2};
    ck_assert_int_eq(tp_scan_dir(dir, &f, &s, &err), 0);
    ck_assert_uint_eq(s->ndays, 1);
    ck_assert_int_eq(s->days[0].pos, 2);
    tp_scan_destroy(s);
    ck_assert_int_eq(tp_scan_dir("/nonexistent/tillpipe", NULL, &s, &err), TP_ENOTFOUND);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* The folder index a worker keeps for --reports: read once, reused while
 * the folder is unchanged, read again when it changes -- and always while
 * a change may have come in the same clock tick as the last reading. */
static void age_dir(const char *dir, time_t secs_ago)
{
    struct timespec ts[2] = {{time(NULL) - secs_ago, 0}, {time(NULL) - secs_ago, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, dir, ts, 0), 0);
}

static size_t day_files(const char *dir, tp_dir_index *ix, const char *date)
{
    tp_scan_filter f = {.branch = "BMC", .pos = 1, .date = date};
    tp_scan *s = NULL;
    tp_error err = {0};
    ck_assert_msg(tp_scan_dir_indexed(dir, &f, ix, &s, &err) == 0, "%s", err.msg);
    size_t n = s->ndays ? s->days[0].ncands : 0;
    tp_scan_destroy(s);
    return n;
}

START_TEST(folder_index_reuse_and_change)
{
    char *dir = tu_tmpdir();
    for (int d = 1; d <= 9; d++) {
        char name[64];
        snprintf(name, sizeof name, "a_BMC_1_rd5000_2026-02-0%d_20-00_.csv", d);
        free(tu_write(dir, name, hdr));
    }
    free(tu_write(dir, "notes.txt", "x"));
    tp_dir_index *ix = tp_dir_index_create();
    /* just changed: every scan reads the folder */
    ck_assert_uint_eq(day_files(dir, ix, "2026-02-03"), 1);
    ck_assert_uint_eq(day_files(dir, ix, "2026-02-04"), 1);
    ck_assert_uint_eq(tp_dir_index_reads(ix), 2);
    /* unchanged for a while: read once, then reused */
    age_dir(dir, 60);
    ck_assert_uint_eq(day_files(dir, ix, "2026-02-05"), 1);
    ck_assert_uint_eq(day_files(dir, ix, "2026-02-06"), 1);
    ck_assert_uint_eq(day_files(dir, ix, "2026-02-07"), 1);
    ck_assert_uint_eq(tp_dir_index_reads(ix), 3);
    /* a new file changes the folder: seen at once */
    free(tu_write(dir, "a_BMC_1_rd5500_2026-02-06_20-00_.csv", hdr));
    ck_assert_uint_eq(day_files(dir, ix, "2026-02-06"), 2);
    ck_assert_uint_eq(tp_dir_index_reads(ix), 4);
    /* a file removed (its mtime then set back as it was): not offered */
    age_dir(dir, 30);
    ck_assert_uint_eq(day_files(dir, ix, "2026-02-07"), 1);
    char gone[800];
    snprintf(gone, sizeof gone, "%s/a_BMC_1_rd5000_2026-02-07_20-00_.csv", dir);
    ck_assert_int_eq(unlink(gone), 0);
    age_dir(dir, 30);
    ck_assert_uint_eq(day_files(dir, ix, "2026-02-07"), 0);
    /* another folder through the same index */
    char *other = tu_tmpdir();
    free(tu_write(other, "a_BMC_1_blpr_2026-02-07_20-00_.csv", hdr));
    age_dir(other, 60);
    ck_assert_uint_eq(day_files(other, ix, "2026-02-07"), 1);
    ck_assert_uint_eq(day_files(dir, ix, "2026-02-08"), 1);
    tp_dir_index_destroy(ix);
    tu_rmrf(other);
    free(other);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------- writers */

static char *write_one(tp_format fmt, const tp_record *rec, char **dir_out)
{
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    tp_error err = {0};
    tp_writer *w = tp_writer_open(path, fmt, &err);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(tp_writer_record(w, rec, &err), 0);
    ck_assert_int_eq(tp_writer_commit(w, &err), 0);
    char *text = tu_read(path, NULL);
    ck_assert_int_eq(tu_count_entries(dir), 1); /* no temp file left */
    *dir_out = dir;
    return text;
}

START_TEST(record2025_guards)
{
    tp_combine *c = tu_classic_combine(0);
    tp_quality q = {0};
    tp_record rec;
    trow r;
    /* OR 00250455 guarded; quantity 3.000 not (no leading 0); discount code 1 no;
       VAT DIV 9.333 no; DEP 03 always; TRANSNO 00247627 never; date never */
    tu_order_row(&r, "BRK2", "2026-02-09", "07:25", "D", "00247627", "03");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 2, &q, &rec), 1);
    char *dir;
    char *text = write_one(TP_FMT_RECORD2025, &rec, &dir);
    const char *line = strchr(text, '\n') + 1;
    ck_assert_str_eq(line,
                     "1,\"=\"\"00250455\"\"\",BRK2,3.000,255.360,766.070,-153.210,\"=\"\"03\"\"\","
                     "2026-02-09,07:25,1,D,1,9.333,0.000,0.000,255.360,00247627,GOTO,BREAKFAST,"
                     "SNR CTZN 20%,Dine-In,Breakfast,00001,CASH,09264097787,BMC\n");
    free(text);
    tu_rmrf(dir);
    free(dir);

    /* 0.5 (2nd char '.') and 07:25 (3rd char ':') and 0000-00 (5th '-') stay bare;
       empty DEP_CODE is still guarded; "0" alone is too short */
    tu_split(&r, "1,0,X,0.5,0.5,0.5,0,,2026-02-09,07:25,0000-00,D,00,9.3,0,0,0,0123");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 3, &q, &rec), 1);
    text = write_one(TP_FMT_RECORD2025, &rec, &dir);
    line = strchr(text, '\n') + 1;
    ck_assert_str_eq(line, "1,0,X,0.5,0.5,0.5,0,\"=\"\"\"\"\",2026-02-09,07:25,0000-00,D,"
                           "\"=\"\"00\"\"\",9.3,0,0,0,0123,,,,Dine-In,Breakfast,,,,BMC\n");
    free(text);
    tu_rmrf(dir);
    free(dir);
    tp_quality_clear(&q);
    tp_combine_destroy(c);

    /* newer POS: the department from the product is written bare */
    c = tu_classic_combine(1);
    tu_order_row(&r, "BRK2", "2026-02-09", "07:25", "D", "1", "");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "f.csv", 2, &q, &rec), 1);
    text = write_one(TP_FMT_RECORD2025, &rec, &dir);
    ck_assert_ptr_nonnull(strstr(text, ",-153.210,03,2026-02-09,"));
    free(text);
    tu_rmrf(dir);
    free(dir);
    tp_quality_clear(&q);
    tp_combine_destroy(c);
}
END_TEST

START_TEST(writers_csv_jsonl_escape)
{
    tp_combine *c = tu_classic_combine(0);
    tp_quality q = {0};
    tp_record rec;
    trow r;
    tu_split(&r, "NAMEQ,REPP\"13, \"X\",03");
    tp_combine_ref_row(c, TP_TYPE_RD5500, r.f, 3);
    /* the split above cut the name at the comma; build the name by hand */
    tp_field f3[3] = {{"NQ", 2},
                      {"A \"Q\", B\xc2\xa0"
                       "C\xff",
                       12},
                      {"03", 2}};
    tp_combine_ref_row(c, TP_TYPE_RD5500, f3, 3);
    tu_order_row(&r, "NQ", "2026-02-09", "", "D", "", "03");
    ck_assert_int_eq(tp_combine_order_row(c, r.f, r.n, "src.csv", 9, &q, &rec), 1);
    char *dir;
    char *text = write_one(TP_FMT_CSV, &rec, &dir);
    ck_assert_ptr_nonnull(strstr(text, ",\"A \"\"Q\"\", B\xc2\xa0"
                                       "C\xff\","));
    ck_assert_ptr_nonnull(strstr(text, ",src.csv,9\n"));
    free(text);
    tu_rmrf(dir);
    free(dir);
    text = write_one(TP_FMT_JSONL, &rec, &dir);
    ck_assert_int_eq(text[0], '{');
    ck_assert_ptr_nonnull(strstr(text, "\"product_name\":\"A \\\"Q\\\", B\xc2\xa0"
                                       "C\\ufffd\""));
    ck_assert_ptr_nonnull(strstr(text, "\"amount\":766.070,"));
    ck_assert_ptr_nonnull(strstr(text, "\"discount\":-153.210,"));
    ck_assert_ptr_nonnull(strstr(text, "\"daypart\":null"));
    ck_assert_ptr_nonnull(strstr(text, "\"time_minutes\":null"));
    ck_assert_ptr_nonnull(strstr(text, "\"source_line\":9}\n"));
    free(text);
    tu_rmrf(dir);
    free(dir);
    tp_quality_clear(&q);
    tp_combine_destroy(c);
}
END_TEST

START_TEST(writer_abort_leaves_nothing)
{
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    tp_error err = {0};
    tp_writer *w = tp_writer_open(path, TP_FMT_CSV, &err);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(access(path, F_OK), -1); /* written to an (unnamed) temporary */
    tp_writer_abort(w);
    ck_assert_int_eq(tu_count_entries(dir), 0);
    snprintf(path, sizeof path, "%s/missing/out.csv", dir);
    ck_assert_ptr_null(tp_writer_open(path, TP_FMT_CSV, &err));
    ck_assert_int_eq(err.code, TP_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing/out.csv"));
    tp_writer_abort(NULL);
    tu_rmrf(dir);
    free(dir);
    ck_assert_int_eq(tp_format_parse("record2025"), TP_FMT_RECORD2025);
    ck_assert_int_eq(tp_format_parse("xml"), -1);
}
END_TEST

/* ------------------------------------------------------------ sha256 */

static void sha_of(const char *msg, const char *want)
{
    char hex[TP_SHA256_HEX];
    ck_assert_int_eq(tp_sha256_hex(msg, strlen(msg), hex, NULL), 0);
    ck_assert_str_eq(hex, want);
}

START_TEST(sha256_known_answers_and_streaming)
{
    /* FIPS 180-2 examples */
    sha_of("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_of("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
           "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    /* 3 MB fed in uneven pieces (1, 63, 64, 65 ... bytes) = libsodium's
     * digest of the whole, and = the file's digest */
    size_t n = 3u << 20;
    unsigned char *buf = malloc(n);
    ck_assert_ptr_nonnull(buf);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (unsigned char)x;
    }
    unsigned char ref[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(ref, buf, n);
    char want[TP_SHA256_HEX], got[TP_SHA256_HEX];
    sodium_bin2hex(want, sizeof want, ref, sizeof ref);
    static const size_t steps[] = {1, 63, 64, 65, 4096, 100000, 7};
    tp_sha256 h;
    tp_sha256_init(&h);
    for (size_t off = 0, k = 0; off < n; k++) {
        size_t step = steps[k % (sizeof steps / sizeof *steps)];
        step = step < n - off ? step : n - off;
        tp_sha256_update(&h, buf + off, step);
        off += step;
    }
    ck_assert_int_eq(tp_sha256_final_hex(&h, got, NULL), 0);
    ck_assert_str_eq(got, want);

    char path[] = "/tmp/tillpipe-sha-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
    close(fd);
    uint64_t size = 0;
    ck_assert_int_eq(tp_sha256_file(path, got, &size, NULL), 0);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(size, n);
    unlink(path);
    tp_error err = {0};
    ck_assert_int_eq(tp_sha256_file(path, got, NULL, &err), TP_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, path));

    /* abandoned mid-way, then used again (ASan: nothing leaks) */
    tp_sha256_init(&h);
    tp_sha256_update(&h, buf, 1000);
    tp_sha256_clear(&h);
    tp_sha256_clear(&h);
    tp_sha256_update(&h, "abc", 3);
    ck_assert_int_eq(tp_sha256_final_hex(&h, got, NULL), 0);
    ck_assert_str_eq(got, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    free(buf);
}
END_TEST

/* --------------------------------------------------- configuration files */

START_TEST(config_file_missing_or_too_large)
{
    tp_error err = {0};
    tp_config *c = tp_config_load(NULL, &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(tp_config_branch(c, "BMC"));
    tp_config_destroy(c);
    ck_assert_ptr_null(tp_config_load("/nonexistent/branches.json", &err));
    ck_assert_int_eq(err.code, TP_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/branches.json"));
    char *dir = tu_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/big.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < (4 << 20) / 8 + 1; i++)
        fputs("        ", f);
    fclose(f);
    ck_assert_ptr_null(tp_config_load(path, &err));
    ck_assert_int_eq(err.code, TP_ELIMIT);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("io");
    TCase *t = tcase_create("io");
    tcase_add_test(t, count_rows_by_delimiter);
    tcase_add_test(t, select_most_rows_then_later_export);
    tcase_add_test(t, folder_index_reuse_and_change);
    tcase_add_test(t, record2025_guards);
    tcase_add_test(t, writers_csv_jsonl_escape);
    tcase_add_test(t, writer_abort_leaves_nothing);
    tcase_add_test(t, sha256_known_answers_and_streaming);
    tcase_add_test(t, config_file_missing_or_too_large);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
