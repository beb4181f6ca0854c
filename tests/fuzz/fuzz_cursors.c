/* fuzz_cursors.c -- the list cursors a client hands back (api/): the jobs
 * list's ("j:<id>", base64url) and the records list's (a JSON array of the
 * last record's key, base64url), and tp__cursor_decode under both.
 *
 * Input: [decoder] then the cursor text (cut at a NUL, as a query value
 * is).  An accepted cursor yields only what the database may be given --
 * a positive id; a real date, a branch code, a terminal 1-99, a file name of
 * 1-255 bytes without a NUL, a line >= 0 -- and decoding is exact: the text
 * decoded, encoded again, decodes to itself.
 */
#include <sodium.h>
#include <string.h>

#include "core/config.h"
#include "core/reports.h"
#include "fuzz.h"
#include "routes.h"

static int digits(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n >= 1 && n <= max && strspn(s, "0123456789") == n;
}

/* decode(encode(prefix + text)) == text */
static void check_roundtrip(const char *prefix, const char *text)
{
    char raw[1100], enc[1600], back[1100];
    int n = snprintf(raw, sizeof raw, "%s%s", prefix, text);
    TP_FUZZ_CHECK(n >= 0 && (size_t)n < sizeof raw);
    sodium_bin2base64(enc, sizeof enc, (const unsigned char *)raw, (size_t)n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    TP_FUZZ_CHECK(tp__cursor_decode(enc, prefix, back, sizeof back) == 0);
    TP_FUZZ_CHECK(strcmp(back, text) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    TP_FUZZ_CHECK(sodium_init() >= 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_fuzz_in in = {data, size};
    uint8_t which = tp_fuzz_byte(&in) % 3;
    char *cursor = strndup((const char *)in.p, in.n);
    if (!cursor)
        return 0;
    char buf[1024];
    if (which == 0) { /* jobs.c: the cursor and its id, as tp__jobs_list checks them */
        if (tp__cursor_decode(cursor, "j:", buf, sizeof buf) == 0) {
            check_roundtrip("j:", buf);
            if (tp__ok_id(buf))
                TP_FUZZ_CHECK(digits(buf, 18) && strtoll(buf, NULL, 10) >= 1);
        }
    } else if (which == 1) { /* records.c */
        char *key[5] = {0};
        if (tp__records_cursor(cursor, key) == 0) {
            TP_FUZZ_CHECK(tp_date_valid(key[0]) && tp_branch_code_valid(key[1]));
            TP_FUZZ_CHECK(digits(key[2], 2) && atoi(key[2]) >= 1);
            TP_FUZZ_CHECK(strlen(key[3]) >= 1 && strlen(key[3]) < 256);
            TP_FUZZ_CHECK(digits(key[4], 19));
        }
        for (int i = 0; i < 5; i++)
            free(key[i]);
    } else if (tp__cursor_decode(cursor, "", buf, sizeof buf) == 0) {
        check_roundtrip("", buf);
    }
    free(cursor);
    return 0;
}
