/* bundle.c -- GET /api/jobs/{id}/bundle: a job's raw files as one zip,
 * written by libarchive and streamed: each file is read from the store in
 * 64 KiB pieces as the client takes the bytes, never whole in memory. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/files.h"
#include "routes.h"
#include "store/store.h"

typedef struct bundle {
    tp_store *store;
    tp_stored *files;
    size_t n, next;
    int fd; /* the file being added, -1 between files */
    struct archive *a;
    int closed, failed;
    tp_outbuf out;
} bundle;

static la_ssize_t on_write(struct archive *a, void *ud, const void *buf, size_t n)
{
    (void)a;
    bundle *b = ud;
    return tp_outbuf_append(&b->out, buf, n) < 0 ? -1 : (la_ssize_t)n;
}

/* Open the next file of the bundle and write its header. */
static int open_next(bundle *b)
{
    tp_stored *f = &b->files[b->next++];
    tp_error err = {0};
    b->fd = tp_store_open_fd(b->store, f->key, &err);
    struct stat st;
    if (b->fd < 0 || fstat(b->fd, &st) < 0)
        return -1;
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, f->name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, st.st_size);
    archive_entry_set_mtime(e, st.st_mtime, 0);
    int rc = archive_write_header(b->a, e) == ARCHIVE_OK ? 0 : -1;
    archive_entry_free(e);
    return rc;
}

/* Produce more zip bytes: a piece of the current file, the next header, or
 * the end of the archive. */
static int produce(bundle *b)
{
    while (tp_outbuf_empty(&b->out) && !b->closed) {
        if (b->fd < 0) {
            if (b->next == b->n) {
                if (archive_write_close(b->a) != ARCHIVE_OK)
                    return -1;
                b->closed = 1;
                break;
            }
            if (open_next(b) < 0)
                return -1;
            continue;
        }
        char chunk[65536];
        ssize_t n = read(b->fd, chunk, sizeof chunk);
        if (n < 0)
            return -1;
        if (n == 0) {
            close(b->fd);
            b->fd = -1;
            continue;
        }
        if (archive_write_data(b->a, chunk, (size_t)n) != n)
            return -1;
    }
    return 0;
}

static int produce_cb(void *ud)
{
    return produce(ud);
}

static ssize_t bundle_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    bundle *b = cls;
    return tp_outbuf_serve(&b->out, produce_cb, b, buf, max);
}

static void bundle_free(void *cls)
{
    bundle *b = cls;
    if (b->fd >= 0)
        close(b->fd);
    if (b->a)
        archive_write_free(b->a);
    free(b->files);
    tp_outbuf_free(&b->out);
    free(b);
}

void tp__job_bundle(tp_req *req)
{
    tp_stored *files = NULL;
    size_t n = 0;
    tp_error err = {0};
    int rc = tp_job_files(req->db, req->ids[0], &files, &n, &err);
    if (tp__lookup_failed(req, rc, &err, "job") < 0)
        return;
    /* every file checked before the first byte goes out: a zip once begun
     * cannot turn into an error */
    for (size_t i = 0; i < n; i++) {
        int fd = tp__open_stored(req, files[i].key, files[i].sha256, files[i].name);
        if (fd < 0) {
            free(files);
            return;
        }
        close(fd);
    }
    bundle *b = calloc(1, sizeof *b);
    if (!b) {
        free(files);
        tp_reply_problem(req, 500, "internal", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        tp__safe_file_name(files[i].name);
    b->files = files;
    b->n = n;
    b->fd = -1;
    b->store = tp_server_opts(req->srv)->store;
    b->a = archive_write_new();
    if (!b->store || !b->a || archive_write_set_format_zip(b->a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(b->a, 1) != ARCHIVE_OK ||
        archive_write_open(b->a, b, NULL, on_write, NULL) != ARCHIVE_OK) {
        bundle_free(b);
        tp_reply_problem(req, 503, "store_unavailable", "cannot build the bundle");
        return;
    }
    char name[64];
    snprintf(name, sizeof name, "job-%lld.zip", req->ids[0]);
    tp_reply_stream(req, bundle_read, b, bundle_free, "application/zip", name);
}
