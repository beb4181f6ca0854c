/* fuzz_fetch_list.c -- the report server's list answer (io/fetch.h,
 * tp_fetch_list_parse: what tp_fetch_list makes of the body).
 *
 * Input: the body, as the server sent it.  Every path handed out is a safe
 * relative path (what a download then joins under the base URL): non-empty,
 * under 1024 bytes, no leading or trailing '/', no empty, "." or ".."
 * segment, no control byte, '\\', '?', '#', comma or surrounding space;
 * there are no more of them than entries in the body; a refusal is a server
 * error with a message, and a body holding a NUL is refused.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "io/fetch.h"

static void check_path(const char *p)
{
    size_t n = strlen(p);
    TP_FUZZ_CHECK(n >= 1 && n < 1024 && p[0] != '/' && p[n - 1] != '/');
    TP_FUZZ_CHECK(!isspace((unsigned char)p[0]) && !isspace((unsigned char)p[n - 1]));
    for (size_t i = 0; i < n; i++)
        TP_FUZZ_CHECK((unsigned char)p[i] >= 0x20 && p[i] != 0x7f && !strchr("\\?#,", p[i]));
    for (const char *seg = p; seg;) {
        const char *e = strchr(seg, '/');
        size_t len = e ? (size_t)(e - seg) : strlen(seg);
        TP_FUZZ_CHECK(len > 0 && !(len == 1 && seg[0] == '.') &&
                      !(len == 2 && seg[0] == '.' && seg[1] == '.'));
        seg = e ? e + 1 : NULL;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **paths = NULL;
    size_t n = 99;
    tp_fetch_kind kind = TP_FETCH_NETWORK;
    tp_error err = {0};
    int rc = tp_fetch_list_parse((const char *)data, size, "list B/1/2026-02-09", &paths, &n, &kind,
                                 &err);
    if (rc < 0) {
        TP_FUZZ_CHECK(rc == TP_EPARSE && kind == TP_FETCH_SERVER_ERROR && err.msg[0]);
        TP_FUZZ_CHECK(paths == NULL && n == 0);
        return 0;
    }
    TP_FUZZ_CHECK(!memchr(data, '\0', size));
    size_t entries = 1;
    for (size_t i = 0; i < size; i++)
        entries += data[i] == ',';
    TP_FUZZ_CHECK(n <= entries);
    TP_FUZZ_CHECK((n == 0) == (kind == TP_FETCH_NO_FILES) && (n == 0 || kind == TP_FETCH_OK));
    for (size_t i = 0; i < n; i++)
        check_path(paths[i]);
    tp_fetch_list_free(paths, n);
    return 0;
}
