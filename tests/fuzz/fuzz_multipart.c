/* fuzz_multipart.c -- multipart uploads (POST /api/branches/{code}/
 * test-parse): libmicrohttpd's post processor set up as api/http.c sets it
 * up, with a callback like its on_form (which is static there: this is a
 * copy, its upload spooled to memory instead of a temporary file).
 *
 * Input: [chunk seed] the Content-Type header line, then the body, handed
 * to the processor in pieces of 1-300 bytes as a connection delivers them.
 * Checked: the callback is only called with what it can use; the upload's
 * size is what was spooled, within the cap; the "type" field fits its
 * buffer; nothing leaks.
 */
#include <string.h>

#include "fake_mhd.h"
#include "fuzz.h"

#define MAX_UPLOAD 2048 /* the server's --max-upload, small here */

typedef struct upload {
    char upload_name[256];
    char upload_type[16];
    FILE *upload;
    char *mem;
    size_t memlen;
    uint64_t upload_size;
    int upload_bad; /* as tp_req's: 1 over the cap, 2 not multipart, 3 write error */
} upload;

/* api/http.c's on_form, as it is but for where the upload goes.  The NULL
 * key check was missing there: a part without a name crashed the server
 * (regress/multipart/part-without-name). */
static enum MHD_Result on_form(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind, (void)content_type, (void)transfer_encoding;
    upload *req = cls;
    if (!key) /* libmicrohttpd passes a part without a name with a NULL key */
        return MHD_YES;
    if (getenv("TP_FUZZ_DEBUG"))
        fprintf(stderr, "on_form key=%s filename=%s off=%llu size=%zu\n", key ? key : "(null)",
                filename ? filename : "(null)", (unsigned long long)off, size);
    TP_FUZZ_CHECK(data || size == 0);
    if (strcmp(key, "type") == 0) {
        size_t have = strlen(req->upload_type);
        if (have + size < sizeof req->upload_type) {
            memcpy(req->upload_type + have, data, size);
            req->upload_type[have + size] = '\0';
        }
        return MHD_YES;
    }
    if (strcmp(key, "file") != 0 || req->upload_bad)
        return MHD_YES;
    if (off == 0 && filename)
        snprintf(req->upload_name, sizeof req->upload_name, "%s", filename);
    if (!req->upload && !(req->upload = open_memstream(&req->mem, &req->memlen))) {
        req->upload_bad = 3;
        return MHD_YES;
    }
    if (req->upload_size + size > MAX_UPLOAD) {
        req->upload_bad = 1;
        return MHD_YES;
    }
    if (size && fwrite(data, 1, size, req->upload) != size)
        req->upload_bad = 3;
    req->upload_size += size;
    return MHD_YES;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
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
    upload req = {.upload_bad = 0};
    struct MHD_PostProcessor *pp = NULL;
    /* http.c: a post processor for multipart/form-data only */
    if (strncasecmp(ctype, "multipart/form-data", 19) == 0)
        pp = MHD_create_post_processor(TP_FUZZ_MHD_CONN(&fc), 65536, on_form, &req);
    if (!pp)
        req.upload_bad = 2;
    for (size_t off = 0; pp && off < in.n;) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        size_t k = 1 + seed % 300;
        if (k > in.n - off)
            k = in.n - off;
        if (MHD_post_process(pp, (const char *)in.p + off, k) != MHD_YES && !req.upload_bad)
            req.upload_bad = 2;
        off += k;
    }
    if (pp)
        MHD_destroy_post_processor(pp);
    TP_FUZZ_CHECK(strlen(req.upload_type) < sizeof req.upload_type);
    TP_FUZZ_CHECK(req.upload_size <= MAX_UPLOAD);
    if (req.upload) {
        TP_FUZZ_CHECK(fclose(req.upload) == 0);
        TP_FUZZ_CHECK(req.memlen == req.upload_size);
    }
    free(req.mem);
    return 0;
}
