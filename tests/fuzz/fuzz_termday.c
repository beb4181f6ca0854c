/* fuzz_termday.c -- select and combine of one terminal-day, end to end:
 * tp_pipeline_termday over a set of report files the fuzzer builds, every
 * bundled plugin loaded in this process (`--isolation none`).
 *
 * Input: pieces separated by "\n~~~~\n"; each is a file name line and the
 * file's bytes.  A piece named `config` is a branch configuration (JSON) used
 * instead of the built-in one; pieces whose name is not a report name, or of
 * another terminal-day than the first, are left out, as a folder scan
 * leaves them.  Files are memory files, reached by name (/proc/self/fd/N),
 * opened once and rewritten for each input.
 *
 * Checked: one file chosen per report type present, the one with the most
 * data rows when rivals were counted; every record is of the terminal-day
 * (branch, terminal, business date), its decimals are decimals, its time and
 * daypart agree; the result counts the records handed out.
 */
#include <string.h>
#include <unistd.h>

#include "core/combine.h"
#include "core/config.h"
#include "fuzz.h"
#include "pipeline/pipeline.h"

#define MAX_FILES 16

static tp_registry *reg;
static tp_config *builtin;
static int files[MAX_FILES];      /* memory files, reused from input to input */
static char paths[MAX_FILES][64]; /* their names */

typedef struct seen {
    const tp_termday *td;
    uint64_t records;
} seen;

static void check_decimal(tp_field f)
{
    TP_FUZZ_CHECK(f.len == 0 || tp_decimal_valid(f));
}

static int on_record(void *ud, const tp_record *r, tp_error *err)
{
    (void)err;
    seen *s = ud;
    s->records++;
    TP_FUZZ_CHECK(strcmp(r->branch, s->td->branch) == 0 && r->pos == s->td->pos);
    TP_FUZZ_CHECK(strcmp(r->date, s->td->date) == 0);
    check_decimal(r->quantity), check_decimal(r->unit_price), check_decimal(r->amount);
    check_decimal(r->discount), check_decimal(r->vat_div), check_decimal(r->vat_amount);
    check_decimal(r->vat_discount), check_decimal(r->vat_price);
    TP_FUZZ_CHECK(r->time_minutes >= -1 && r->time_minutes < 24 * 60);
    TP_FUZZ_CHECK((r->daypart == TP_DAYPART_NONE) == (r->time.len == 0));
    TP_FUZZ_CHECK(r->source_line >= 1 && r->source_file && r->source_file[0]);
    TP_FUZZ_CHECK(tp_daypart_name(r->daypart) && tp_txn_type_name(r->txn_type));
    return 0;
}

/* What select promises, whatever the pipeline did after it. */
static void check_select(const tp_termday *td)
{
    for (int t = 0; t < TP_TYPE_COUNT; t++) {
        int chosen = td->chosen[t], rivals = 0, marked = 0;
        for (size_t i = 0; i < td->ncands; i++)
            if ((int)td->cands[i].rn.type == t) {
                rivals++;
                marked += td->cands[i].chosen;
                TP_FUZZ_CHECK(td->cands[i].reason[0] != '\0');
            }
        TP_FUZZ_CHECK((chosen >= 0) == (rivals > 0));
        if (chosen < 0)
            continue;
        const tp_candidate *w = &td->cands[chosen];
        TP_FUZZ_CHECK((int)w->rn.type == t && w->chosen && marked == 1);
        for (size_t i = 0; rivals > 1 && i < td->ncands; i++)
            if ((int)td->cands[i].rn.type == t)
                TP_FUZZ_CHECK(td->cands[i].counted && td->cands[i].rows <= w->rows);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    tp_error err = {0};
    reg = tp_registry_create();
    builtin = tp_config_builtin(&err);
    if (!reg || !builtin || tp_registry_load_dir(reg, TP_FUZZ_PLUGIN_DIR, &err) < 0 ||
        tp_registry_count(reg) == 0) {
        fprintf(stderr, "fuzz_termday: cannot start: %s\n", err.msg);
        exit(1);
    }
    for (int i = 0; i < MAX_FILES; i++) {
        files[i] = tp_fuzz_memfd("", 0);
        TP_FUZZ_CHECK(files[i] >= 0);
        snprintf(paths[i], sizeof paths[i], "/proc/self/fd/%d", files[i]);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_fuzz_in in = {data, size};
    tp_termday td;
    int keyed = 0, nfds = 0;
    tp_config *cfg = NULL;
    const uint8_t *piece;
    size_t len;
    while (nfds < MAX_FILES && tp_fuzz_piece(&in, "\n~~~~\n", &piece, &len)) {
        tp_fuzz_in p = {piece, len};
        char name[256];
        tp_report_name rn;
        if (!tp_fuzz_line(&p, name, sizeof name))
            continue;
        if (strcmp(name, "config") == 0 && !cfg) {
            char *text = strndup((const char *)p.p, p.n);
            cfg = text ? tp_config_parse(text, "fuzz", NULL) : NULL;
            free(text);
            continue;
        }
        if (tp_report_name_parse(name, &rn, NULL) < 0)
            continue;
        if (!keyed) {
            tp_termday_init(&td, rn.branch, rn.pos, rn.date);
            keyed = 1;
        } else if (strcmp(rn.branch, td.branch) != 0 || rn.pos != td.pos ||
                   strcmp(rn.date, td.date) != 0)
            continue;
        TP_FUZZ_CHECK(tp_fuzz_memfd_set(files[nfds], p.p, p.n) == 0);
        TP_FUZZ_CHECK(tp_termday_add(&td, paths[nfds++], &rn, p.n, NULL) != NULL);
    }
    if (keyed) {
        tp_termday_sort(&td);
        tp_pipeline pl = {.plugins = reg, .config = cfg ? cfg : builtin};
        seen s = {.td = &td};
        tp_termday_result res;
        tp_error err = {0};
        int rc = tp_pipeline_termday(&pl, &td, on_record, &s, &res, &err);
        TP_FUZZ_CHECK((rc == 0) == (err.code == 0));
        TP_FUZZ_CHECK(res.records == s.records);
        TP_FUZZ_CHECK(res.quality.nproblems <= TP_QUALITY_MAX_PROBLEMS);
        if (rc == 0)
            check_select(&td);
        tp_termday_result_clear(&res);
        tp_termday_clear(&td);
    }
    tp_config_destroy(cfg);
    return 0;
}
