/* quality.c -- see quality.h. */
#include "quality.h"

#include <stdlib.h>
#include <string.h>
#include <tillpipe/sdk.h>

int tp_quality_add(tp_quality *q, const char *file, uint64_t line, int severity, const char *reason)
{
    if (severity == TP_PROBLEM_ERROR)
        q->rows_rejected++;
    else
        q->warnings++;
    return tp_quality_list(q, file, line, severity, reason);
}

int tp_quality_list(tp_quality *q, const char *file, uint64_t line, int severity,
                    const char *reason)
{
    if (q->nproblems >= TP_QUALITY_MAX_PROBLEMS) {
        q->problems_left_out++;
        return 0;
    }
    if (q->nproblems == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        tp_problem *v = realloc(q->problems, cap * sizeof *v);
        if (!v)
            return -1;
        q->problems = v;
        q->cap = cap;
    }
    tp_problem *p = &q->problems[q->nproblems];
    p->file = strdup(file ? file : "");
    p->reason = strdup(reason ? reason : "");
    if (!p->file || !p->reason) {
        free(p->file);
        free(p->reason);
        return -1;
    }
    p->line = line;
    p->severity = severity;
    q->nproblems++;
    return 0;
}

void tp_quality_clear(tp_quality *q)
{
    for (size_t i = 0; i < q->nproblems; i++) {
        free(q->problems[i].file);
        free(q->problems[i].reason);
    }
    free(q->problems);
    memset(q, 0, sizeof *q);
}

int tp_quality_flagged(const tp_quality *q)
{
    return q->rows_outside_date || q->rows_rejected || q->warnings || q->missing;
}
