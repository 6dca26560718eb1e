/* See imap.h. Deleted keys keep their slot (with an empty set) so probe chains stay intact; the
 * table is rebuilt when it grows, which drops empty sets. */
#include "core/imap.h"
#include "core/err.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t key;
    bool used;
    void **ptrs;
    size_t n, cap;
} slot_t;

struct pl_imap {
    slot_t *slots;
    size_t cap, used;
};

static size_t hash(int64_t k, size_t cap)
{
    uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    return (size_t)(x ^ (x >> 29)) & (cap - 1);
}

int pl_imap_create(pl_imap_t **out)
{
    pl_imap_t *m = calloc(1, sizeof *m);
    if (!m) return -PL_ENOMEM;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return -PL_ENOMEM;
    }
    *out = m;
    return 0;
}

void pl_imap_destroy(pl_imap_t *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].ptrs);
    free(m->slots);
    free(m);
}

static slot_t *find(const pl_imap_t *m, int64_t key, bool *found)
{
    size_t i = hash(key, m->cap);
    for (;;) {
        slot_t *s = &m->slots[i];
        if (!s->used || s->key == key) {
            *found = s->used;
            return s;
        }
        i = (i + 1) & (m->cap - 1);
    }
}

static int grow(pl_imap_t *m)
{
    size_t ncap = m->cap * 2;
    slot_t *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -PL_ENOMEM;
    slot_t *old = m->slots;
    size_t ocap = m->cap;
    m->slots = ns;
    m->cap = ncap;
    m->used = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].used) continue;
        if (old[i].n == 0) {
            free(old[i].ptrs);
            continue;
        }
        bool f;
        slot_t *s = find(m, old[i].key, &f);
        *s = old[i];
        m->used++;
    }
    free(old);
    return 0;
}

int pl_imap_add(pl_imap_t *m, int64_t key, void *ptr)
{
    if ((m->used + 1) * 4 > m->cap * 3 && grow(m) < 0) return -PL_ENOMEM;
    bool found;
    slot_t *s = find(m, key, &found);
    if (!found) {
        memset(s, 0, sizeof *s);
        s->used = true;
        s->key = key;
        m->used++;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4;
        void **np = realloc(s->ptrs, nc * sizeof *np);
        if (!np) return -PL_ENOMEM;
        s->ptrs = np;
        s->cap = nc;
    }
    s->ptrs[s->n++] = ptr;
    return 0;
}

int pl_imap_remove(pl_imap_t *m, int64_t key, void *ptr)
{
    bool found;
    slot_t *s = find(m, key, &found);
    if (!found) return -PL_ENOTFOUND;
    for (size_t i = 0; i < s->n; i++) {
        if (s->ptrs[i] == ptr) {
            s->ptrs[i] = s->ptrs[--s->n];
            return 0;
        }
    }
    return -PL_ENOTFOUND;
}

void *const *pl_imap_get(const pl_imap_t *m, int64_t key, size_t *n)
{
    bool found;
    slot_t *s = find(m, key, &found);
    *n = found ? s->n : 0;
    return found ? s->ptrs : NULL;
}
