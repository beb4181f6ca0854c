/* files.c -- the raw files: GET /api/files (every candidate a job saw,
 * chosen or not, and why) and GET /api/files/{id}/download (the stored
 * object, streamed: sendfile from an fs store, a temporary file -- never
 * memory -- for S3). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "db/files.h"
#include "routes.h"
#include "store/store.h"

void tp__files_list(tp_req *req)
{
    const char *job, *branch, *date, *limit;
    if (tp__param(req, "job_id", tp__ok_id, "a job id", &job) < 0 ||
        tp__param(req, "branch", tp_branch_code_valid, "a branch code", &branch) < 0 ||
        tp__param(req, "date", tp__ok_date, "a YYYY-MM-DD date", &date) < 0 ||
        tp__param(req, "limit", tp__ok_limit, "1-500", &limit) < 0)
        return;
    tp_error err = {0};
    char *s = tp_files_list_json(req->db, job, branch, date, limit, &err);
    if (s)
        tp_reply_owned(req, 200, "application/json", s, strlen(s));
    else
        tp_reply_db_error(req, &err);
}

void tp__safe_file_name(char *name)
{
    for (char *c = name; *c; c++) /* names come from the report server: keep them tame */
        if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
            *c = '_';
}

void tp__file_download(tp_req *req)
{
    tp_stored f;
    tp_error err = {0};
    int rc = tp_file_get(req->db, req->ids[0], &f, &err);
    if (tp__lookup_failed(req, rc, &err, "stored file") < 0)
        return;
    tp__safe_file_name(f.name);
    int fd = tp__open_stored(req, f.key, f.sha256, f.name);
    struct stat sb;
    if (fd < 0)
        return;
    if (fstat(fd, &sb) < 0) {
        close(fd);
        tp_reply_problem(req, 503, "store_unavailable",
                         "the raw file could not be read from the store");
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!resp) {
        close(fd);
        tp_reply_problem(req, 500, "internal", "could not build the response");
        return;
    }
    tp_reply_response(req, resp, "text/csv; charset=utf-8", f.name);
}
