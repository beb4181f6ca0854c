/* example_rd5900.c -- a copy-me tillpipe parser plugin.
 *
 * A working branch override for rd5900 (payment methods).  The generic rd5900
 * plugin reads PAY_CODE from column 0 and PAY_DESC from column 1.  The
 * (fictional) branch EXAMPLE runs a POS that writes the report like this:
 *
 *     TERM_ID,PAY_DESC,METHOD,PAY_CODE,MAX_AMOUNT
 *     1,CASH,0,="00001",0.000
 *
 * -- the name in column 1, the code in column 3 behind an Excel text guard.
 *
 * The plugin is a column map: for each field of the SDK's rd5900 row
 * (TP_REF_CODE, TP_REF_NAME in <tillpipe/sdk.h>), the column it comes from,
 * the header expected there and what to do with the value.
 * <tillpipe/layout.h> does everything else: the streaming CSV reader, the
 * header check, rejecting short rows, the branch options "column.<FIELD>"
 * and "delimiter", and the descriptor and entry point the engine loads.
 * docs/sdk.md in the tillpipe sources is the whole walk-through; a report
 * that a column map cannot describe needs a hand-written parser (its
 * section "A hand-written parser").
 *
 * To make your own plugin, follow the numbered steps:
 *
 *   STEP 1  pick a name, the report types and the branches   (search STEP 1)
 *   STEP 2  write the column map                             (search STEP 2)
 *   STEP 3  build                                            (CMakeLists.txt)
 *   STEP 4  test: `tillpipe plugin info`, `parse`, `plugin test`
 *           then package, sign and install                   (search STEP 4)
 */

/* In the one source file that uses TPP_PLUGIN: compiles the layout code and
 * the CSV reader into this plugin (hidden: the only exported symbol is
 * tp_plugin_entry). */
#define TPP_LAYOUT_IMPLEMENTATION
#include <tillpipe/layout.h>

/* Written against plugin ABI 1.x; a later major may have moved fields, so
 * refuse to compile rather than build a plugin the host refuses. */
#if TP_SDK_ABI_MAJOR != 1
#error "example_rd5900.c was written for tillpipe plugin ABI 1.x"
#endif

/* ===================================================================
 * STEP 1: pick a name, the report types and the branches.
 *
 * No other plugin may have the name (versions of this one share it; the
 * version is MAJOR.MINOR.PATCH).  Use the name for this file (<name>.c) and for
 * PLUGIN in CMakeLists.txt and Makefile, which name the shared object
 * <name>.so.  `types` lists the report types parsed (those the SDK has a row
 * layout for: rd5000, rd5800, rd5500, rd1800, discount, rd5900, blpr),
 * `branches` the branch codes this plugin overrides the generic parser for;
 * a generic plugin passes NULL instead (at most one generic plugin may parse
 * each type).  A branch configuration can also name the plugin explicitly:
 * {"parsers": {"rd5900": "example_rd5900"}}.
 * =================================================================== */
#define PLUGIN_NAME "example_rd5900"
#define PLUGIN_VERSION "1.0.0" /* bump it whenever the output may change */

static const char *const types[] = {"rd5900", NULL};
static const char *const branches[] = {"EXAMPLE", NULL};

/* ===================================================================
 * STEP 2: write the column map -- one entry per field of the type's row
 * layout (sdk.h), indexed by its enum:
 *
 *   .field    the name options and messages use ("column.CODE");
 *   .col      the 0-based source column;
 *   .header   what the header row says there (a mismatch is one warning),
 *             or leave it out;
 *   .flags    TPP_UNGUARD strips an Excel guard (="00001" -> 00001),
 *             TPP_DATE_PART keeps a timestamp's date, TPP_REQUIRED rejects
 *             a row where the field is empty, TPP_WARN_EMPTY keeps the row
 *             with a warning;
 *   .alt_col  a column a newer POS adds, read instead in rows that have it.
 *
 * Then the layout of the type: rows with fewer than .min_columns fields are
 * rejected; .delimiter is ',' unless set here or by a branch's "delimiter"
 * option; .no_header = 1 for files without a header row.  One layout per
 * type in `types`.
 * =================================================================== */
static const tpp_column columns[TP_REF_NFIELDS] = {
    [TP_REF_CODE] = {.field = "CODE",
                     .col = 3,
                     .header = "PAY_CODE",
                     .flags = TPP_UNGUARD | TPP_REQUIRED},
    [TP_REF_NAME] = {.field = "NAME", .col = 1, .header = "PAY_DESC", .flags = TPP_WARN_EMPTY},
};
static const tpp_layout rd5900 = {.type = "rd5900", TPP_COLUMNS(columns), .min_columns = 4};
static const tpp_layout *const layouts[] = {&rd5900};

/* The descriptor and the exported entry point, from the above. */
TPP_PLUGIN(PLUGIN_NAME, PLUGIN_VERSION, types, branches, layouts)

/* ===================================================================
 * STEP 3: build -- see CMakeLists.txt (find_package(tillpipe)):
 *
 *     cmake -S . -B build -DCMAKE_PREFIX_PATH=/usr/local   # where tillpipe is
 *     cmake --build build
 *
 * or, without CMake, the Makefile (pkg-config --cflags tillpipe):
 *
 *     PKG_CONFIG_PATH=/usr/local/lib/pkgconfig make        # -> example_rd5900.so
 *
 * Either way the plugin holds no build path: the same source, compiler and
 * flags give the same file (and sha256) wherever it is built.
 *
 * STEP 4: test.
 *
 *     tillpipe plugin info build/example_rd5900.so
 *         reads it as the engine will (in a sandboxed helper) and prints the
 *         descriptor, or says which check failed and what to do;
 *     tillpipe parse --plugins build --plugin example_rd5900 --type rd5900 \
 *         sample/rd5900.csv | diff -u sample/rd5900.expected.jsonl -
 *         runs it over the sample: one JSON line per row or problem (again
 *         with --chunk-size 1: the output must not change);
 *     tillpipe plugin test build/example_rd5900.so
 *         the conformance kit: chunking, field counts, stop, memory.
 *
 * Then replace the sample with a real report of the branch, check the
 * output, and install: pack it into a signed package and install that
 * (tillpipe plugin keygen, pack, install), or for a test, copy it into the
 * plugin folder (cmake --install build, or make install).  docs/sdk.md,
 * sections 3 to 5, has each step.
 * =================================================================== */
