/* fuzz_csv.c -- the SDK's streaming CSV reader (<tillpipe/csv.h>) at any
 * chunking.
 *
 * Input: [delimiter][limits][chunk][stop at] then the CSV bytes.  The bytes
 * are read twice -- in one feed, and in chunks of 1..K bytes drawn from the
 * chunk byte (its top 3 bits pick K: 1 = a byte at a time, 2, 4, 8, 16, 97,
 * 512, 2048; K is at least a 32nd of the input, as a carried record is read
 * again at each feed) -- and both runs must deliver the same records (line,
 * fields, bytes) and end the same way (result, error line).
 * When the reader accepts the input, the record counter (tp_csv_count, fed in
 * the drawn chunks) must count as many records as it delivered.
 */
#define TP_CSV_IMPLEMENTATION
#include <tillpipe/csv.h>

#include <string.h>

#include "fuzz.h"

typedef struct run {
    uint64_t hash;
    uint64_t records;
    uint64_t stop_at; /* the callback stops the reader at this record (0 = never) */
    int rc;
    uint64_t err_line;
} run;

static int on_record(void *ud, uint64_t line, const tp_field *f, size_t n)
{
    run *r = ud;
    r->records++;
    r->hash = tp_fuzz_hash(r->hash, &line, sizeof line);
    r->hash = tp_fuzz_hash(r->hash, &n, sizeof n);
    for (size_t i = 0; i < n; i++) {
        TP_FUZZ_CHECK(f[i].ptr || f[i].len == 0);
        r->hash = tp_fuzz_hash(r->hash, &f[i].len, sizeof f[i].len);
        r->hash = tp_fuzz_hash(r->hash, f[i].ptr, f[i].len);
    }
    return r->stop_at && r->records == r->stop_at ? -7 : 0;
}

/* Chunk sizes: max 0 = all at once, else drawn from seed in 1..max. */
static size_t next_chunk(size_t max, uint32_t *seed, size_t left)
{
    if (max == 0)
        return left;
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    size_t k = max == 1 ? 1 : 1 + *seed % max;
    return k < left ? k : left;
}

static run read_all(const char *data, size_t len, char delim, size_t max_record, size_t max_fields,
                    size_t mode, uint32_t seed, uint64_t stop_at)
{
    run r = {.hash = TP_FUZZ_HASH_INIT, .stop_at = stop_at};
    tp_csv csv;
    TP_FUZZ_CHECK(tp_csv_init(&csv, max_record, max_fields) == TP_CSV_OK);
    TP_FUZZ_CHECK(tp_csv_set_delimiter(&csv, delim) == TP_CSV_OK);
    for (size_t off = 0; off < len && r.rc == 0;) {
        size_t k = next_chunk(mode, &seed, len - off);
        r.rc = tp_csv_feed(&csv, data + off, k, on_record, &r);
        off += k;
    }
    if (r.rc == 0)
        r.rc = tp_csv_finish(&csv, on_record, &r);
    if (r.rc != 0) {
        r.err_line = csv.err_line;
        TP_FUZZ_CHECK(csv.err[0] != '\0');
        TP_FUZZ_CHECK(r.rc != TP_CSV_ECALLBACK || csv.cb_rc == -7);
    }
    TP_FUZZ_CHECK(csv.records == r.records);
    tp_csv_free(&csv);
    return r;
}

static uint64_t count_all(const char *data, size_t len, char delim, size_t max, uint32_t seed)
{
    tp_csv_counter c = {.delim = delim};
    for (size_t off = 0; off < len;) {
        size_t k = next_chunk(max, &seed, len - off);
        tp_csv_count(&c, data + off, k);
        off += k;
    }
    return tp_csv_count_total(&c);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_fuzz_in in = {data, size};
    char delim = (char)tp_fuzz_byte(&in);
    if (delim == '"' || delim == '\r' || delim == '\n' || delim == 0)
        delim = ',';
    uint8_t limits = tp_fuzz_byte(&in);
    static const size_t records[] = {0, 8, 64, 700}, fields[] = {0, 3, 17, 200};
    size_t max_record = records[limits & 3], max_fields = fields[(limits >> 2) & 3];
    uint8_t chunk = tp_fuzz_byte(&in);
    uint32_t seed = 0x9e3779b9u ^ chunk;
    uint64_t stop_at = tp_fuzz_byte(&in) & 0x0f;
    const char *csv = (const char *)in.p;
    /* a carried record is read again at each feed: chunks of up to at least
     * a 32nd of the input keep that near linear */
    static const size_t maxes[] = {1, 2, 4, 8, 16, 97, 512, 2048};
    size_t max = maxes[chunk >> 5];
    if (max < in.n / 32)
        max = in.n / 32;
    run whole = read_all(csv, in.n, delim, max_record, max_fields, 0, seed, stop_at);
    run drawn = read_all(csv, in.n, delim, max_record, max_fields, max, seed, stop_at);
    if (getenv("TP_FUZZ_DEBUG"))
        fprintf(stderr, "whole %d@%llu %llu, drawn (1..%zu) %d@%llu %llu\n", whole.rc,
                (unsigned long long)whole.err_line, (unsigned long long)whole.records, max,
                drawn.rc, (unsigned long long)drawn.err_line, (unsigned long long)drawn.records);
    TP_FUZZ_CHECK(whole.records == drawn.records && whole.hash == drawn.hash);
    TP_FUZZ_CHECK(whole.rc == drawn.rc && whole.err_line == drawn.err_line);
    if (whole.rc == TP_CSV_OK)
        TP_FUZZ_CHECK(count_all(csv, in.n, delim, max, seed) == whole.records);
    return 0;
}
