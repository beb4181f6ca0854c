/* discount -- discount definitions: code (column 0) -> name (column 1). */
#define TPP_LAYOUT_IMPLEMENTATION
#include <tillpipe/layout.h>

static const tpp_column columns[TP_REF_NFIELDS] = {
    [TP_REF_CODE] = {.field = "CODE", .col = 0, .header = "CODE"},
    [TP_REF_NAME] = {.field = "NAME", .col = 1, .header = "DESC"},
};
static const tpp_layout layout = {.type = "discount", TPP_COLUMNS(columns), .min_columns = 2};
static const tpp_layout *const layouts[] = {&layout};
static const char *const types[] = {"discount", NULL};

TPP_PLUGIN("discount", "1.0.0", types, NULL, layouts)
