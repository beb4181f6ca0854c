/* fuzz_multipart.c -- multipart uploads (POST /api/branches/{code}/
 * test-parse): the server's own upload code, tp__upload_start (api/http.c:
 * libmicrohttpd's post processor with tillpipe's form callback, the file
 * spooled to a temporary file in $TMPDIR -- a memory-backed folder here).
 *
 * Input: [chunk seed] the Content-Type header line, then the body, handed
 * to the processor in pieces of 1-300 bytes as a connection delivers them.
 * Checked: the upload's size is what was spooled, within the cap (or the
 * upload is marked over it); the "type" field fits its buffer; nothing
 * leaks.  A part without a name once crashed the server (regress/multipart/
 * part-without-name); a second file part whose name is not UTF-8 marks the
 * upload refused after the first was spooled (seeds/multipart/second-name).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_mhd.h"
#include "fuzz.h"
#include "http.h"

#define MAX_UPLOAD 2048 /* the server's --max-upload, small here */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
        setenv("TMPDIR", "/dev/shm", 1); /* spooled uploads in memory */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_fuzz_in in = {data, size};
    uint32_t seed = 0x2545f491u ^ tp_fuzz_byte(&in);
    char ctype[512];
    if (!tp_fuzz_line(&in, ctype, sizeof ctype))
        return 0;
    tp_fuzz_conn fc = {.content_type = ctype};
    tp_req req = {.conn = TP_FUZZ_MHD_CONN(&fc), .route = -1, .request_id = "fuzz"};
    tp__upload_start(&req, MAX_UPLOAD);
    TP_FUZZ_CHECK(req.pp || req.upload_bad == 2);
    for (size_t off = 0; req.pp && off < in.n;) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        size_t k = 1 + seed % 300;
        if (k > in.n - off)
            k = in.n - off;
        if (MHD_post_process(req.pp, (const char *)in.p + off, k) != MHD_YES && !req.upload_bad)
            req.upload_bad = 2;
        off += k;
    }
    if (req.pp)
        MHD_destroy_post_processor(req.pp);
    TP_FUZZ_CHECK(strlen(req.upload_type) < sizeof req.upload_type);
    TP_FUZZ_CHECK(req.upload_size <= MAX_UPLOAD);
    if (req.upload) {
        TP_FUZZ_CHECK(fflush(req.upload) == 0);
        struct stat st;
        TP_FUZZ_CHECK(fstat(fileno(req.upload), &st) == 0);
        TP_FUZZ_CHECK(req.upload_bad || (uint64_t)st.st_size == req.upload_size);
        TP_FUZZ_CHECK(fclose(req.upload) == 0);
    }
    if (req.upload_path[0])
        TP_FUZZ_CHECK(unlink(req.upload_path) == 0);
    return 0;
}
