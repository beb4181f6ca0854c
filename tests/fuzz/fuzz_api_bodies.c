/* fuzz_api_bodies.c -- the JSON bodies of the API's routes, checked as
 * their handlers check them, up to where a handler turns to the database.
 *
 * Input: [route][content type] then the body.  Every body goes through
 * tp_body_object (the one JSON parse of every route with a body, duplicate
 * keys refused); then, by route:
 *   POST /api/jobs/fetch     tp__jobs_fetch_body_ok;
 *   POST /api/missing/run    the dry_run flag, then tp__read_range (a
 *                            range) or tp__missing_map_cells (a map);
 *   POST /api/branches       the body as a one-branch configuration, as
 *                            branches.c wraps it ({"branches": [body]});
 *   POST /api/auth/login     tp_body_object only (its check of the two
 *                            strings is inline in tp__login, before the
 *                            database).
 * A refusal is an answer (400/415) and what is accepted is what the
 * database may be given: branch codes, terminals 1-99, real dates.
 */
#include <string.h>

#include "core/config.h"
#include "core/reports.h"
#include "fake_mhd.h"
#include "fuzz.h"
#include "routes.h"

static void check_cell(json_t *c)
{
    json_t *p = json_object_get(c, "pos");
    TP_FUZZ_CHECK(tp_branch_code_valid(json_string_value(json_object_get(c, "branch"))));
    TP_FUZZ_CHECK(json_is_integer(p) && json_integer_value(p) >= 1 && json_integer_value(p) <= 99);
    const char *d = json_string_value(json_object_get(c, "date"));
    TP_FUZZ_CHECK(d && tp_date_valid(d));
}

static void fetch_body(json_t *b)
{
    const char *branch, *date;
    json_int_t pos;
    int force;
    if (!tp__jobs_fetch_body_ok(b, &branch, &pos, &date, &force))
        return;
    TP_FUZZ_CHECK(tp_branch_code_valid(branch) && pos >= 1 && pos <= 99 && tp_date_valid(date));
    TP_FUZZ_CHECK(json_object_size(b) == 3 + (json_object_get(b, "force") != NULL));
}

static void missing_body(tp_req *req, json_t *b)
{
    json_t *dry = json_object_get(b, "dry_run");
    if (dry && !json_is_boolean(dry))
        return;
    if (json_object_get(b, "start") || json_object_get(b, "end")) {
        const char *start = json_string_value(json_object_get(b, "start"));
        const char *end = json_string_value(json_object_get(b, "end"));
        json_t *jb = json_object_get(b, "branch");
        const char *branch = json_string_value(jb);
        if ((jb && !branch) || tp__read_range(req, start, end, branch) < 0)
            return;
        TP_FUZZ_CHECK(tp_date_valid(start) && tp_date_valid(end) && strcmp(start, end) <= 0);
        TP_FUZZ_CHECK(!branch || tp_branch_code_valid(branch));
        return;
    }
    json_t *cells = json_array();
    TP_FUZZ_CHECK(cells != NULL);
    if (tp__missing_map_cells(req, b, cells) == 0) {
        size_t i;
        json_t *c;
        json_array_foreach(cells, i, c) check_cell(c);
    } else {
        TP_FUZZ_CHECK(req->status == 400);
    }
    json_decref(cells);
}

static void branch_body(json_t *b)
{
    json_t *wrap = json_pack("{s:[O]}", "branches", b);
    char *text = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
    json_decref(wrap);
    tp_error err = {0};
    tp_config *cfg = text ? tp_config_parse(text, "request body", &err) : NULL;
    free(text);
    if (cfg) {
        TP_FUZZ_CHECK(tp_config_count(cfg) == 1);
        TP_FUZZ_CHECK(tp_branch_code_valid(tp_config_at(cfg, 0)->code));
    } else {
        TP_FUZZ_CHECK(err.msg[0] != '\0');
    }
    tp_config_destroy(cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_fuzz_in in = {data, size};
    uint8_t route = tp_fuzz_byte(&in) % 4, ct = tp_fuzz_byte(&in);
    static const char *const ctypes[] = {"application/json", "application/json; charset=utf-8",
                                         "text/plain", NULL};
    tp_fuzz_conn fc = {.content_type = ctypes[ct < 0xf0 ? 0 : ct % 4]}; /* mostly JSON */
    tp_req req = {.conn = TP_FUZZ_MHD_CONN(&fc), .route = -1, .request_id = "fuzz"};
    req.body = malloc(in.n + 1);
    if (!req.body)
        return 0;
    memcpy(req.body, in.p, in.n);
    req.body[in.n] = '\0';
    req.body_len = in.n;
    json_t *b = tp_body_object(&req);
    if (!b) {
        /* a refusal, always made: a detail quoting bytes that are not UTF-8
         * is scrubbed, never a 500 (seeds/api_bodies/non-utf8-key) */
        TP_FUZZ_CHECK((req.status == 400 || req.status == 415) && req.resp);
    } else {
        TP_FUZZ_CHECK(json_is_object(b) && req.resp == NULL);
        if (route == 1)
            fetch_body(b);
        else if (route == 2)
            missing_body(&req, b);
        else if (route == 3)
            branch_body(b);
        json_decref(b);
    }
    if (req.resp)
        MHD_destroy_response(req.resp);
    free(req.body);
    return 0;
}
