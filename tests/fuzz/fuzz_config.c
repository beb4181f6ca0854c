/* fuzz_config.c -- the branch configuration parser (core/config.h), as a
 * `--branches` file, `config check` or `branch import` gives it text.
 *
 * Input: the configuration text (cut at a NUL, as a C string is).  A
 * refusal is TP_ECONFIG with a message; an accepted configuration keeps its
 * promises -- codes are branch codes, 1-16 terminals numbered 1-99, a
 * branch found by its code, every parser option found by its key -- and
 * dumps to text that parses back to the same dump.
 */
#include <string.h>

#include "core/config.h"
#include "core/schema.h"
#include "fuzz.h"

static void check_branch(const tp_config *c, const tp_branch_cfg *b)
{
    TP_FUZZ_CHECK(b->code && tp_branch_code_valid(b->code) && b->name);
    TP_FUZZ_CHECK(tp_config_branch(c, b->code) == b);
    TP_FUZZ_CHECK(b->nterminals >= 1 && b->nterminals <= TP_MAX_TERMINALS);
    for (int i = 0; i < b->nterminals; i++)
        TP_FUZZ_CHECK(b->terminals[i] >= 1 && b->terminals[i] <= 99);
    for (int t = 0; t < TP_TYPE_COUNT; t++) {
        const char *type = tp_schema_of((tp_report_type)t)->name, *value;
        (void)tp_branch_plugin(b, type);
        (void)tp_branch_plugin_version(b, type);
        tp_branch_type bt = {b, type};
        const char *key;
        for (size_t i = 0; (key = tp_branch_option_at(b, type, i, &value)) != NULL; i++) {
            TP_FUZZ_CHECK(value != NULL);
            const char *again = tp_branch_option(b, type, key);
            TP_FUZZ_CHECK(again && strcmp(again, value) == 0);
            TP_FUZZ_CHECK(tp_branch_type_option(&bt, key) == again);
            const char *v2;
            TP_FUZZ_CHECK(tp_branch_type_option_at(&bt, i, &v2) == key && v2 == value);
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size);
    if (!text)
        return 0;
    tp_error err = {0};
    tp_config *c = tp_config_parse(text, "fuzz.json", &err);
    free(text);
    if (!c) {
        TP_FUZZ_CHECK(err.code == TP_ECONFIG || err.code == TP_ENOMEM);
        TP_FUZZ_CHECK(err.msg[0] != '\0');
        return 0;
    }
    TP_FUZZ_CHECK(strcmp(tp_config_source(c), "fuzz.json") == 0);
    for (size_t i = 0; i < tp_config_count(c); i++)
        check_branch(c, tp_config_at(c, i));
    TP_FUZZ_CHECK(tp_config_at(c, tp_config_count(c)) == NULL);
    char *dump = tp_config_dump(c);
    TP_FUZZ_CHECK(dump != NULL);
    tp_error err2 = {0};
    tp_config *c2 = tp_config_parse(dump, "dump", &err2);
    if (!c2)
        fprintf(stderr, "the dump does not parse back: %s\n%s\n", err2.msg, dump);
    TP_FUZZ_CHECK(c2 != NULL);
    TP_FUZZ_CHECK(tp_config_count(c2) == tp_config_count(c));
    char *dump2 = tp_config_dump(c2);
    TP_FUZZ_CHECK(dump2 && strcmp(dump, dump2) == 0);
    free(dump2);
    free(dump);
    tp_config_destroy(c2);
    tp_config_destroy(c);
    return 0;
}
