/* output.h -- writing records: the legacy record2025 layout, typed CSV and
 * JSON lines, to a file that appears only when complete.
 *
 * The destination is a result file (io/fsutil.h, tp_outfile): a regular
 * file, absent or existing (symlinks followed), is written to a temporary
 * that tp_writer_commit() fsyncs and renames over it and tp_writer_abort()
 * discards, so a failed run never leaves a partial output; "-" is standard
 * output, and a character device or FIFO is written in place (no atomicity
 * there); anything else is refused.
 */
#ifndef TP_OUTPUT_H
#define TP_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/record.h"

typedef enum tp_format { TP_FMT_RECORD2025, TP_FMT_CSV, TP_FMT_JSONL } tp_format;

/* "record2025" / "csv" / "jsonl" -> format; -1 when unknown. */
int tp_format_parse(const char *name);

typedef struct tp_writer tp_writer;

/* Open a writer; writes the header row for the CSV formats.  NULL with err
 * set when the destination is refused (TP_EINVAL) or the temporary file
 * cannot be created (TP_EIO). */
tp_writer *tp_writer_open(const char *path, tp_format fmt, tp_error *err);

/* Append one record.  0, or < 0 with err set on a write error. */
int tp_writer_record(tp_writer *w, const tp_record *r, tp_error *err);

/* Finish: flush, fsync, rename into place, free.  0 or < 0 with err set (the
 * temporary file is removed then, the destination left as it was). */
int tp_writer_commit(tp_writer *w, tp_error *err);

/* Discard everything written and free; NULL is a no-op. */
void tp_writer_abort(tp_writer *w);

/* The header line of a format (NULL for jsonl), and one record in it: for
 * writers of their own (the API's streamed export). */
const char *tp_format_header(tp_format fmt);
void tp_record_write(FILE *f, tp_format fmt, const tp_record *r);

/* Write `s` as one CSV field (quoted only when needed). */
void tp_csv_write_field(FILE *f, const char *s, size_t n);

/* Write `s` as a JSON string, escaping as needed; invalid UTF-8 becomes
 * U+FFFD. */
void tp_json_write_string(FILE *f, const char *s, size_t n);

/* `tillpipe parse` lines: {"line":N,"row":{FIELD:VALUE,...}} for a parsed
 * row of `schema`, {"line":N,"severity":"error","problem":"..."} for a
 * problem. */
struct tp_schema;
void tp_json_write_row(FILE *f, const struct tp_schema *schema, uint64_t line,
                       const tp_field *fields, size_t n);
void tp_json_write_problem(FILE *f, uint64_t line, int severity, const char *reason);

#endif
