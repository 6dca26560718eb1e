/* Messages per person: a token bucket per user, shared by all of that person's connections
 * (each connection also has its own request bucket, ws.c). One account scripted to flood a
 * practice's inbox from many tabs or devices is held to send_rate_per_min, with bursts of
 * send_burst. A refused send is answered rate_limited and nothing is stored: the app sends it
 * again later with the same txn_id. Kept on the loop thread, per node; a restart forgets it. */
#include "core/err.h"
#include "signalling/server_internal.h"

#include <stdlib.h>

#define NBUCKETS 1024
#define FORGET_MS (10 * 60 * 1000) /* idle this long: full again, the entry can go */

typedef struct bucket {
    struct bucket *next;
    int64_t user_id;
    double tokens;
    int64_t at; /* ms: when tokens was last brought up to date */
} bucket_t;

struct pl_send_rate {
    bucket_t *b[NBUCKETS];
};

int pl_send_rate_create(pl_send_rate_t **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -PL_ENOMEM;
}

void pl_send_rate_destroy(pl_send_rate_t *r)
{
    if (!r) return;
    for (int i = 0; i < NBUCKETS; i++)
        for (bucket_t *e = r->b[i], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    free(r);
}

bool pl_send_rate_take(pl_send_rate_t *r, const pl_config_t *cfg, int64_t user_id, int64_t now)
{
    if (cfg->send_rate_per_min <= 0) return true; /* off */
    bucket_t **pp = &r->b[(uint64_t)user_id % NBUCKETS], *e = *pp;
    while (e && e->user_id != user_id) e = e->next;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) return true; /* out of memory is not the sender's fault */
        e->user_id = user_id;
        e->tokens = cfg->send_burst;
        e->at = now;
        e->next = *pp;
        *pp = e;
    }
    e->tokens += (double)(now - e->at) * cfg->send_rate_per_min / 60000.0;
    if (e->tokens > cfg->send_burst) e->tokens = cfg->send_burst;
    e->at = now;
    if (e->tokens < 1) return false;
    e->tokens -= 1;
    return true;
}

void pl_send_rate_expire(pl_send_rate_t *r, int64_t now)
{
    for (int i = 0; i < NBUCKETS; i++)
        for (bucket_t **pp = &r->b[i]; *pp;) {
            bucket_t *e = *pp;
            if (now - e->at > FORGET_MS) {
                *pp = e->next;
                free(e);
            } else {
                pp = &e->next;
            }
        }
}
