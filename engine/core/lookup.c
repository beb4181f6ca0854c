/* lookup.c -- see lookup.h. */
#include "lookup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    tp_field key, value;
    uint64_t hash; /* 0 = empty slot */
} entry;

typedef struct block {
    struct block *next;
    size_t used, cap;
    char data[];
} block;

struct tp_lookup {
    entry *slots;
    size_t nslots, count;
    block *arena;
};

/* Keys are short codes (4-20 bytes): hash a word at a time, then mix. */
static uint64_t hash_bytes(const char *p, size_t n)
{
    const uint64_t k = 0x9E3779B97F4A7C15ULL;
    uint64_t h = (uint64_t)n * k, w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 32;
    h *= k;
    h ^= h >> 29;
    return h ? h : 1;
}

tp_lookup *tp_lookup_create(void)
{
    tp_lookup *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nslots = 64;
    m->slots = calloc(m->nslots, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void tp_lookup_destroy(tp_lookup *m)
{
    if (!m)
        return;
    block *b = m->arena;
    while (b) {
        block *n = b->next;
        free(b);
        b = n;
    }
    free(m->slots);
    free(m);
}

static const char *arena_copy(tp_lookup *m, const char *p, size_t n)
{
    block *b = m->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        m->arena = b = nb;
    }
    char *dst = b->data + b->used;
    if (n)
        memcpy(dst, p, n);
    b->used += n;
    return dst;
}

static entry *find_slot(entry *slots, size_t nslots, tp_field key, uint64_t h)
{
    size_t i = (size_t)h & (nslots - 1);
    for (;;) {
        entry *e = &slots[i];
        if (e->hash == 0 || (e->hash == h && e->key.len == key.len &&
                             (key.len == 0 || memcmp(e->key.ptr, key.ptr, key.len) == 0)))
            return e;
        i = (i + 1) & (nslots - 1);
    }
}

static int grow(tp_lookup *m)
{
    size_t n = m->nslots * 2;
    entry *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < m->nslots; i++)
        if (m->slots[i].hash)
            *find_slot(s, n, m->slots[i].key, m->slots[i].hash) = m->slots[i];
    free(m->slots);
    m->slots = s;
    m->nslots = n;
    return 0;
}

int tp_lookup_put_first(tp_lookup *m, tp_field key, tp_field value)
{
    uint64_t h = hash_bytes(key.ptr, key.len);
    entry *e = find_slot(m->slots, m->nslots, key, h);
    if (e->hash)
        return 0;
    if ((m->count + 1) * 2 > m->nslots) {
        if (grow(m) < 0)
            return -1;
        e = find_slot(m->slots, m->nslots, key, h);
    }
    const char *k = arena_copy(m, key.ptr, key.len);
    const char *v = k ? arena_copy(m, value.ptr, value.len) : NULL;
    if (!k || !v)
        return -1;
    e->key.ptr = k;
    e->key.len = key.len;
    e->value.ptr = v;
    e->value.len = value.len;
    e->hash = h;
    m->count++;
    return 1;
}

const tp_field *tp_lookup_get(const tp_lookup *m, tp_field key)
{
    uint64_t h = hash_bytes(key.ptr, key.len);
    const entry *e = find_slot(m->slots, m->nslots, key, h);
    return e->hash ? &e->value : NULL;
}
