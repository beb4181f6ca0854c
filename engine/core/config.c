/* config.c -- see config.h. */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "semver.h"

struct tp_config {
    json_t *root;
    tp_branch_cfg *branches;
    json_t **objs; /* each branch's object (borrowed from root or base) */
    size_t count;
    char *source;
    tp_config *base; /* the configuration extended, or NULL */
};

/* The chain's branches as of today; BPAG, BGRAN, BETA, BTAB run the newer POS. */
static const char default_config[] =
    "{\"branches\": [\n"
    " {\"code\": \"BMC\", \"name\": \"BMC\", \"terminals\": [1, 2], \"pos\": \"classic\"},\n"
    " {\"code\": \"MAGS\", \"name\": \"MAGS\", \"terminals\": [1, 2], \"pos\": \"classic\"},\n"
    " {\"code\": \"AYALA-FRN\", \"name\": \"Ayala FRN\", \"terminals\": [1, 2], \"pos\": "
    "\"classic\"},\n"
    " {\"code\": \"B-SMS\", \"name\": \"B-SMS\", \"terminals\": [1, 2], \"pos\": \"classic\"},\n"
    " {\"code\": \"BPAG\", \"name\": \"BPAG\", \"terminals\": [1, 2], \"pos\": \"newer\",\n"
    "  \"parsers\": {\"rd5500\": \"newpos\"}},\n"
    " {\"code\": \"BGRAN\", \"name\": \"BGRAN\", \"terminals\": [1, 2], \"pos\": \"newer\",\n"
    "  \"parsers\": {\"rd5500\": \"newpos\"}},\n"
    " {\"code\": \"BETA\", \"name\": \"BETA\", \"terminals\": [1, 2], \"pos\": \"newer\",\n"
    "  \"parsers\": {\"rd5500\": \"newpos\"}},\n"
    " {\"code\": \"BTAB\", \"name\": \"BTAB\", \"terminals\": [1, 2], \"pos\": \"newer\",\n"
    "  \"parsers\": {\"rd5500\": \"newpos\"}}\n"
    "]}\n";

static int bad(tp_error *err, const char *source, const char *key, const char *what)
{
    return tp_error_set(err, TP_ECONFIG, "%s: %s: %s", source, key, what);
}

int tp_branch_code_valid(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-'))
            return 0;
    return 1;
}

/* A branch's display name: 1 to TP_BRANCH_NAME_MAX characters (UTF-8,
 * which jansson has checked), no control characters. */
static int name_valid(const char *s)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        chars += (*p & 0xc0) != 0x80; /* not a continuation byte */
    }
    return chars >= 1 && chars <= TP_BRANCH_NAME_MAX;
}

static int check_parsers(json_t *parsers, const char *source, const char *key, tp_error *err)
{
    char k[160];
    if (!json_is_object(parsers))
        return bad(err, source, key, "must be an object of report type -> plugin");
    const char *type;
    json_t *v;
    json_object_foreach(parsers, type, v)
    {
        snprintf(k, sizeof k, "%s.%s", key, type);
        if (tp_schema_find(type) < 0) {
            char what[200];
            snprintf(what, sizeof what, "unknown report type (known: %s)", tp_schema_names());
            return bad(err, source, k, what);
        }
        if (json_is_string(v))
            continue;
        if (!json_is_object(v))
            return bad(err, source, k,
                       "must be a plugin name or {\"plugin\": NAME, \"options\": {...}}");
        const char *field;
        json_t *fv;
        json_object_foreach(v, field, fv)
        {
            char k2[200];
            snprintf(k2, sizeof k2, "%s.%s", k, field);
            if (strcmp(field, "plugin") == 0) {
                if (!json_is_string(fv) || !*json_string_value(fv))
                    return bad(err, source, k2, "must be a plugin name");
            } else if (strcmp(field, "version") == 0) {
                tp_semver_range range;
                if (!json_is_string(fv) || !json_object_get(v, "plugin"))
                    return bad(err, source, k2,
                               "must be a version or range of the plugin named beside it");
                if (tp_semver_range_parse(json_string_value(fv), &range, err) < 0)
                    return tp_error_prefix(err, "%s: %s: ", source, k2);
            } else if (strcmp(field, "options") == 0) {
                if (!json_is_object(fv))
                    return bad(err, source, k2, "must be an object of option -> value");
                const char *ok;
                json_t *ov;
                json_object_foreach(fv, ok, ov)
                {
                    char k3[260];
                    snprintf(k3, sizeof k3, "%s.%s", k2, ok);
                    if (json_is_integer(ov)) {
                        char num[32];
                        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(ov));
                        json_object_set_new(fv, ok, json_string(num));
                    } else if (!json_is_string(ov))
                        return bad(err, source, k3, "must be a string or an integer");
                }
            } else
                return bad(err, source, k2, "unknown key (expected plugin, version, options)");
        }
    }
    return TP_OK;
}

static int load_branch(tp_config *c, size_t i, json_t *b, tp_error *err)
{
    char key[64];
    tp_branch_cfg *bc = &c->branches[i];
    snprintf(key, sizeof key, "branches[%zu]", i);
    if (!json_is_object(b))
        return bad(err, c->source, key, "must be an object");
    c->objs[i] = b;
    const char *field;
    json_t *v;
    char k[128];
    bc->active = 1;
    json_object_foreach(b, field, v)
    {
        snprintf(k, sizeof k, "%s.%s", key, field);
        if (strcmp(field, "code") == 0) {
            if (!json_is_string(v) || !tp_branch_code_valid(json_string_value(v)))
                return bad(err, c->source, k,
                           "must be 1-32 letters, digits or '-' (the code in file names)");
            bc->code = json_string_value(v);
        } else if (strcmp(field, "name") == 0) {
            if (!json_is_string(v) || !name_valid(json_string_value(v)))
                return bad(err, c->source, k, "must be 1-100 characters, none a control character");
            bc->name = json_string_value(v);
        } else if (strcmp(field, "active") == 0) {
            if (!json_is_boolean(v))
                return bad(err, c->source, k, "must be true or false");
            bc->active = json_is_true(v);
        } else if (strcmp(field, "terminals") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0 ||
                json_array_size(v) > TP_MAX_TERMINALS)
                return bad(err, c->source, k, "must be a list of 1 to 16 terminal numbers");
            size_t j;
            json_t *t;
            json_array_foreach(v, j, t)
            {
                json_int_t n = json_is_integer(t) ? json_integer_value(t) : -1;
                if (n < 1 || n > 99)
                    return bad(err, c->source, k, "terminal numbers are integers 1..99");
                for (size_t d = 0; d < j; d++)
                    if (bc->terminals[d] == n) {
                        char what[64];
                        snprintf(what, sizeof what, "terminal %d is listed twice", (int)n);
                        return bad(err, c->source, k, what);
                    }
                bc->terminals[j] = (int)n;
            }
            bc->nterminals = (int)json_array_size(v);
        } else if (strcmp(field, "pos") == 0) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            if (strcmp(s, "classic") == 0)
                bc->newer_pos = 0;
            else if (strcmp(s, "newer") == 0)
                bc->newer_pos = 1;
            else
                return bad(err, c->source, k, "must be \"classic\" or \"newer\"");
        } else if (strcmp(field, "parsers") == 0) {
            int rc = check_parsers(v, c->source, k, err);
            if (rc < 0)
                return rc;
            bc->parsers = v;
        } else if (strcmp(field, "report_server") == 0) {
            const char *u = json_is_string(v) ? json_string_value(v) : NULL;
            if (json_is_null(v))
                bc->report_server = NULL;
            else if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
                     strlen(u) > TP_REPORT_SERVER_MAX)
                return bad(err, c->source, k,
                           "must be an http:// or https:// base URL of at most 512 characters");
            else
                bc->report_server = u;
        } else
            return bad(err, c->source, k,
                       "unknown key (expected code, name, active, terminals, pos, parsers,"
                       " report_server)");
    }
    if (!bc->code)
        return bad(err, c->source, key, "\"code\" is required");
    if (!bc->name)
        bc->name = bc->code;
    if (bc->nterminals == 0) {
        bc->terminals[0] = 1;
        bc->nterminals = 1;
    }
    for (size_t j = 0; j < i; j++)
        if (strcmp(c->branches[j].code, bc->code) == 0) {
            snprintf(k, sizeof k, "%s.code", key);
            return bad(err, c->source, k, "duplicate branch code");
        }
    return TP_OK;
}

/* The top level: "branches" into *branches (NULL when absent), "extends"
 * into *extends; 0 or < 0 with err set. */
static int load_top(tp_config *c, json_t **branches, int *extends, tp_error *err)
{
    if (!json_is_object(c->root))
        return bad(err, c->source, "(top level)", "must be an object with a \"branches\" list");
    const char *field;
    json_t *v;
    *branches = NULL;
    *extends = 0;
    json_object_foreach(c->root, field, v)
    {
        if (strcmp(field, "branches") == 0)
            *branches = v;
        else if (strcmp(field, "extends") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "builtin") != 0)
                return bad(err, c->source, field,
                           "must be \"builtin\" (the built-in chain configuration, the one "
                           "a file can extend)");
            *extends = 1;
        } else if (strcmp(field, "version") != 0 && strcmp(field, "comment") != 0)
            return bad(err, c->source, field,
                       "unknown key (expected branches, extends, version, comment)");
    }
    if (*extends && !*branches)
        return TP_OK; /* the built-in configuration as it is */
    if (!json_is_array(*branches))
        return bad(err, c->source, "branches", "is required and must be a list");
    return TP_OK;
}

static int alloc_branches(tp_config *c, size_t n, tp_error *err)
{
    c->count = n;
    c->branches = calloc(n ? n : 1, sizeof *c->branches);
    c->objs = calloc(n ? n : 1, sizeof *c->objs);
    return c->branches && c->objs ? TP_OK : tp_error_set(err, TP_ENOMEM, "out of memory");
}

/* The built-in branches, each replaced by the file's branch of the same
 * code, then the file's other branches in their order. */
static int extend_builtin(tp_config *c, tp_error *err)
{
    tp_config *base = tp_config_builtin(err);
    if (!base)
        return err ? err->code : TP_ECONFIG;
    tp_branch_cfg *own = c->branches;
    json_t **own_objs = c->objs;
    size_t nown = c->count;
    c->base = base;
    if (alloc_branches(c, base->count + nown, err) < 0) {
        free(own);
        free(own_objs);
        return TP_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < base->count; i++) {
        size_t j = 0;
        while (j < nown && strcmp(own[j].code, base->branches[i].code) != 0)
            j++;
        c->branches[n] = j < nown ? own[j] : base->branches[i];
        c->objs[n++] = j < nown ? own_objs[j] : base->objs[i];
    }
    for (size_t j = 0; j < nown; j++)
        if (!tp_config_branch(base, own[j].code)) {
            c->branches[n] = own[j];
            c->objs[n++] = own_objs[j];
        }
    c->count = n;
    free(own);
    free(own_objs);
    return TP_OK;
}

tp_config *tp_config_parse(const char *text, const char *source, tp_error *err)
{
    tp_config *c = calloc(1, sizeof *c);
    if (!c || !(c->source = strdup(source))) {
        free(c);
        tp_error_set(err, TP_ENOMEM, "out of memory");
        return NULL;
    }
    json_error_t je;
    json_t *branches = NULL;
    int extends = 0;
    c->root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!c->root) {
        tp_error_set(err, TP_ECONFIG, "%s:%d:%d: invalid JSON: %s", source, je.line, je.column,
                     je.text);
        goto fail;
    }
    if (load_top(c, &branches, &extends, err) < 0 ||
        alloc_branches(c, json_array_size(branches), err) < 0)
        goto fail;
    for (size_t i = 0; i < c->count; i++)
        if (load_branch(c, i, json_array_get(branches, i), err) < 0)
            goto fail;
    if (extends && extend_builtin(c, err) < 0)
        goto fail;
    return c;
fail:
    tp_config_destroy(c);
    return NULL;
}

tp_config *tp_config_builtin(tp_error *err)
{
    return tp_config_parse(default_config, "built-in branch configuration", err);
}

/* One branch per line, as the built-in text is written: readable, and a
 * diff of two configurations is a diff of branches. */
char *tp_config_dump(const tp_config *c)
{
    size_t len = 0, cap = 64;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    len = (size_t)snprintf(out, cap, "{\"branches\": [");
    for (size_t i = 0; i < c->count; i++) {
        char *b = json_dumps(c->objs[i], JSON_PRESERVE_ORDER);
        size_t need = len + (b ? strlen(b) : 0) + 16; /* ",\n  " and the closing "\n]}" */
        char *grown = b && need > cap ? realloc(out, need * 2) : out;
        if (!b || !grown) {
            free(b);
            free(out);
            return NULL;
        }
        if (need > cap)
            cap = need * 2;
        out = grown;
        len += (size_t)snprintf(out + len, cap - len, "%s\n  %s", i ? "," : "", b);
        free(b);
    }
    snprintf(out + len, cap - len, "\n]}");
    return out;
}

void tp_config_destroy(tp_config *c)
{
    if (!c)
        return;
    json_decref(c->root);
    free(c->branches);
    free(c->objs);
    free(c->source);
    tp_config_destroy(c->base);
    free(c);
}

const tp_branch_cfg *tp_config_branch(const tp_config *c, const char *code)
{
    for (size_t i = 0; c && i < c->count; i++)
        if (strcmp(c->branches[i].code, code) == 0)
            return &c->branches[i];
    return NULL;
}

size_t tp_config_count(const tp_config *c)
{
    return c->count;
}
const tp_branch_cfg *tp_config_at(const tp_config *c, size_t i)
{
    return i < c->count ? &c->branches[i] : NULL;
}
const char *tp_config_source(const tp_config *c)
{
    return c->source;
}

const char *tp_branch_plugin(const tp_branch_cfg *b, const char *type)
{
    json_t *v = b && b->parsers ? json_object_get(b->parsers, type) : NULL;
    if (json_is_string(v))
        return json_string_value(v);
    return json_string_value(json_object_get(v, "plugin"));
}

const char *tp_branch_plugin_version(const tp_branch_cfg *b, const char *type)
{
    json_t *v = b && b->parsers ? json_object_get(b->parsers, type) : NULL;
    return json_string_value(json_object_get(v, "version"));
}

const char *tp_branch_option_at(const tp_branch_cfg *b, const char *type, size_t i,
                                const char **value)
{
    json_t *v = b && b->parsers ? json_object_get(b->parsers, type) : NULL;
    json_t *opts = json_object_get(v, "options");
    void *it = json_is_object(opts) ? json_object_iter(opts) : NULL;
    for (; it && i > 0; i--)
        it = json_object_iter_next(opts, it);
    if (!it)
        return NULL;
    if (value)
        *value = json_string_value(json_object_iter_value(it));
    return json_object_iter_key(it);
}

const char *tp_branch_option(const tp_branch_cfg *b, const char *type, const char *key)
{
    json_t *v = b && b->parsers ? json_object_get(b->parsers, type) : NULL;
    return json_string_value(json_object_get(json_object_get(v, "options"), key));
}

const char *tp_branch_type_option_at(void *ud, size_t i, const char **value)
{
    const tp_branch_type *bt = ud;
    return tp_branch_option_at(bt->branch, bt->type, i, value);
}

const char *tp_branch_type_option(void *ud, const char *key)
{
    const tp_branch_type *bt = ud;
    return tp_branch_option(bt->branch, bt->type, key);
}
