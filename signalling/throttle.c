/* Login throttling with exponential back-off, per account and per client address.
 * After THRESHOLD failures (IP_THRESHOLD for "ip:" keys: a whole practice can sit behind one
 * address) a key must wait BASE_MS, doubling with each further failure up to
 * MAX_MS. A success clears the key. Entries idle for an hour are forgotten. Kept in memory on the
 * loop thread: a restart forgets it, which costs an attacker a restart they cannot cause. */
#include "core/err.h"
#include "signalling/server_internal.h"

#include <stdlib.h>
#include <string.h>

#define THRESHOLD 3
#define IP_THRESHOLD 20
#define BASE_MS 1000
#define MAX_MS (15 * 60 * 1000)
#define FORGET_MS (60 * 60 * 1000)

typedef struct entry {
    struct entry *next;
    int failures;
    int64_t last_at;
    int64_t next_allowed;
    char key[];
} entry_t;

#define NBUCKETS 1024

struct pl_throttle {
    entry_t *buckets[NBUCKETS];
};

static unsigned bucket(const char *k)
{
    unsigned h = 2166136261u;
    for (; *k; k++) h = (h ^ (unsigned char)*k) * 16777619u;
    return h % NBUCKETS;
}

static entry_t **find(pl_throttle_t *t, const char *key)
{
    entry_t **p = &t->buckets[bucket(key)];
    while (*p && strcmp((*p)->key, key) != 0) p = &(*p)->next;
    return p;
}

int pl_throttle_create(pl_throttle_t **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -PL_ENOMEM;
}

void pl_throttle_destroy(pl_throttle_t *t)
{
    if (!t) return;
    for (int i = 0; i < NBUCKETS; i++)
        for (entry_t *e = t->buckets[i]; e;) {
            entry_t *n = e->next;
            free(e);
            e = n;
        }
    free(t);
}

int64_t pl_throttle_wait(pl_throttle_t *t, const char *key, int64_t now)
{
    entry_t *e = *find(t, key);
    return e && e->next_allowed > now ? e->next_allowed - now : 0;
}

void pl_throttle_failure(pl_throttle_t *t, const char *key, int64_t now)
{
    entry_t **p = find(t, key);
    if (!*p) {
        size_t n = strlen(key) + 1;
        entry_t *e = calloc(1, sizeof *e + n);
        if (!e) return;
        memcpy(e->key, key, n);
        *p = e;
    }
    entry_t *e = *p;
    e->failures++;
    e->last_at = now;
    int threshold = strncmp(key, "ip:", 3) == 0 ? IP_THRESHOLD : THRESHOLD;
    if (e->failures >= threshold) {
        int shift = e->failures - threshold;
        int64_t wait = shift >= 20 ? MAX_MS : (int64_t)BASE_MS << shift;
        e->next_allowed = now + (wait > MAX_MS ? MAX_MS : wait);
    }
}

void pl_throttle_success(pl_throttle_t *t, const char *key)
{
    entry_t **p = find(t, key);
    if (!*p) return;
    entry_t *e = *p;
    *p = e->next;
    free(e);
}

void pl_throttle_expire(pl_throttle_t *t, int64_t now)
{
    for (int i = 0; i < NBUCKETS; i++) {
        entry_t **p = &t->buckets[i];
        while (*p) {
            if (now - (*p)->last_at > FORGET_MS && now >= (*p)->next_allowed) {
                entry_t *e = *p;
                *p = e->next;
                free(e);
            } else {
                p = &(*p)->next;
            }
        }
    }
}
