/* files.c -- see files.h. */
#include "files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

char *tp_files_list_json(tp_db *db, const char *job_id, const char *branch, const char *date,
                         const char *limit, tp_error *err)
{
    const char *p[] = {job_id, branch, date, limit ? limit : "100"};
    return tp_db_json(db,
                      "WITH f AS (SELECT * FROM files WHERE ($1::bigint IS NULL OR job_id = $1)"
                      " AND ($2::text IS NULL OR branch = $2)"
                      " AND ($3::date IS NULL OR business_date = $3))"
                      " SELECT json_build_object('total', (SELECT count(*) FROM f), 'items',"
                      " coalesce((SELECT json_agg(json_build_object('id', id, 'job_id', job_id,"
                      " 'branch', branch, 'pos', pos, 'date', business_date, 'type', report_type,"
                      " 'name', name, 'size', size, 'rows', data_rows, 'sha256', sha256,"
                      " 'stored', storage_key IS NOT NULL, 'chosen', chosen, 'reason', reason)"
                      " ORDER BY id DESC) FROM (SELECT * FROM f ORDER BY id DESC LIMIT $4::int)"
                      " x), '[]'))::text",
                      4, p, err);
}

/* Rows of (name, storage_key, size, sha256) into a new array. */
static int stored_of(PGresult *r, int first, tp_stored **files, size_t *n, tp_error *err)
{
    int rows = PQntuples(r) - first;
    *n = 0;
    *files = calloc((size_t)(rows > 0 ? rows : 0) + 1, sizeof **files);
    if (!*files)
        return tp_error_set(err, TP_ENOMEM, "out of memory");
    for (int i = 0; i < rows; i++) {
        tp_stored *f = &(*files)[i];
        snprintf(f->name, sizeof f->name, "%s", PQgetvalue(r, first + i, 0));
        snprintf(f->key, sizeof f->key, "%s", PQgetvalue(r, first + i, 1));
        f->size = (uint64_t)tp_db_ll(r, first + i, 2);
        snprintf(f->sha256, sizeof f->sha256, "%s", PQgetvalue(r, first + i, 3));
    }
    *n = (size_t)rows;
    return TP_OK;
}

int tp_file_get(tp_db *db, long long id, tp_stored *out, tp_error *err)
{
    PGresult *r = tp_db_query_id(db,
                                 "SELECT name, storage_key, size, sha256 FROM files WHERE id = $1"
                                 " AND storage_key IS NOT NULL",
                                 id, err);
    if (!r)
        return TP_EDB;
    tp_stored *v = NULL;
    size_t n = 0;
    int rc = PQntuples(r) == 0 ? tp_error_set(err, TP_ENOTFOUND, "no stored file %lld", id)
                               : stored_of(r, 0, &v, &n, err);
    PQclear(r);
    if (rc == TP_OK)
        *out = v[0];
    free(v);
    return rc;
}

int tp_job_files(tp_db *db, long long job_id, tp_stored **files, size_t *n, tp_error *err)
{
    /* one row with NULL files when the job has none; none when no such job */
    PGresult *r = tp_db_query_id(db,
                                 "SELECT name, storage_key, size, sha256 FROM (SELECT 1) one"
                                 " JOIN jobs j ON j.id = $1 LEFT JOIN files f ON f.job_id = $1"
                                 " AND f.storage_key IS NOT NULL ORDER BY f.report_type, f.name",
                                 job_id, err);
    if (!r)
        return TP_EDB;
    int rc = TP_OK;
    if (PQntuples(r) == 0)
        rc = tp_error_set(err, TP_ENOTFOUND, "no job %lld", job_id);
    else if (PQgetisnull(r, 0, 1))
        rc = stored_of(r, PQntuples(r), files, n, err); /* none */
    else
        rc = stored_of(r, 0, files, n, err);
    PQclear(r);
    return rc;
}

int tp_files_last_run(tp_db *db, const char *branch, int pos, const char *date, tp_stored **files,
                      size_t *n, tp_error *err)
{
    char spos[16];
    snprintf(spos, sizeof spos, "%d", pos);
    const char *p[] = {branch, spos, date};
    PGresult *r = tp_db_query(db,
                              "SELECT name, storage_key, size, sha256 FROM files WHERE job_id = ("
                              " SELECT max(job_id) FROM files WHERE branch = $1 AND pos = $2"
                              " AND business_date = $3 AND storage_key IS NOT NULL"
                              " AND job_id IN (SELECT id FROM jobs WHERE status = 'succeeded'"
                              " AND branch = $1 AND pos = $2 AND business_date = $3))"
                              " AND sha256 IS NOT NULL ORDER BY id",
                              3, p, err);
    if (!r)
        return TP_EDB;
    int rc = stored_of(r, 0, files, n, err);
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- objects */

struct tp_objects {
    tp_db *db;
    int done;
};

tp_objects *tp_objects_open(tp_db *db, const char *branch, const char *since, tp_error *err)
{
    tp_objects *c = calloc(1, sizeof *c);
    if (!c) {
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    c->db = db;
    const char *p[] = {branch, since};
    if (tp_db_send_rows(db,
                        "SELECT storage_key COLLATE \"C\" AS k, min(sha256), max(size) FROM files"
                        " WHERE storage_key IS NOT NULL AND ($1::text IS NULL OR branch = $1)"
                        " AND ($2::date IS NULL OR business_date >= $2::date)"
                        " GROUP BY 1 ORDER BY 1",
                        2, p, err) != TP_OK) {
        free(c);
        return NULL;
    }
    return c;
}

int tp_objects_next(tp_objects *c, tp_object *out, tp_error *err)
{
    PGresult *r;
    int rc = tp_db_next_row(c->db, &c->done, &r, err);
    if (rc != 1)
        return rc;
    snprintf(out->key, sizeof out->key, "%s", PQgetvalue(r, 0, 0));
    snprintf(out->sha256, sizeof out->sha256, "%s", PQgetvalue(r, 0, 1));
    out->size = (uint64_t)tp_db_ll(r, 0, 2);
    PQclear(r);
    return 1;
}

void tp_objects_close(tp_objects *c)
{
    if (!c)
        return;
    if (!c->done)
        tp_db_cancel(c->db);
    free(c);
}

int tp_object_uses(tp_db *db, const char *key, tp_object_use *out, int max, int *n, tp_error *err)
{
    char smax[16];
    snprintf(smax, sizeof smax, "%d", max);
    const char *p[] = {key, smax};
    *n = 0;
    PGresult *r = tp_db_query(db,
                              "SELECT name, branch, pos, business_date::text FROM ("
                              " SELECT DISTINCT ON (branch, pos, business_date) name, branch, pos,"
                              " business_date, job_id FROM files WHERE storage_key = $1"
                              " ORDER BY branch, pos, business_date, job_id DESC) u"
                              " ORDER BY job_id DESC LIMIT $2::int",
                              2, p, err);
    if (!r)
        return TP_EDB;
    for (int i = 0; i < PQntuples(r) && i < max; i++) {
        tp_object_use *u = &out[i];
        snprintf(u->name, sizeof u->name, "%s", PQgetvalue(r, i, 0));
        snprintf(u->branch, sizeof u->branch, "%s", PQgetvalue(r, i, 1));
        u->pos = (int)tp_db_ll(r, i, 2);
        snprintf(u->date, sizeof u->date, "%s", PQgetvalue(r, i, 3));
        (*n)++;
    }
    PQclear(r);
    return TP_OK;
}
