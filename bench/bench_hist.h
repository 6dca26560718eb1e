/* Latency histogram for the benchmarks: log-linear buckets in microseconds, 64 per power of two
 * above 128 us (so any reported value is within 1.6% of the true one), exact below 128 us,
 * fixed size (no allocation on the hot path), with the exact minimum and maximum kept apart.
 * Header-only because the Makefile builds every bench .c file as its own program. */
#ifndef PL_BENCH_HIST_H
#define PL_BENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define PL_HIST_EXACT 128 /* values below this have a bucket each */
#define PL_HIST_SUB 64    /* buckets per power of two above */
#define PL_HIST_SHIFTS 40 /* up to 2^46 us: far beyond any phase's time limit */
#define PL_HIST_BUCKETS (PL_HIST_EXACT + PL_HIST_SHIFTS * PL_HIST_SUB)

typedef struct {
    uint64_t count;
    uint64_t min_us, max_us;
    double sum_us;
    uint64_t buckets[PL_HIST_BUCKETS];
} pl_hist_t;

static inline void pl_hist_init(pl_hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min_us = UINT64_MAX;
}

static inline int pl_hist__index(uint64_t v)
{
    if (v < PL_HIST_EXACT) return (int)v;
    int msb = 63 - __builtin_clzll(v); /* >= 7 */
    int shift = msb - 6;               /* keeps the top 7 bits: 64..127 */
    int i = PL_HIST_EXACT + (shift - 1) * PL_HIST_SUB + (int)((v >> shift) - PL_HIST_SUB);
    return i < PL_HIST_BUCKETS ? i : PL_HIST_BUCKETS - 1;
}

/* The largest value that falls in bucket i. */
static inline uint64_t pl_hist__upper(int i)
{
    if (i < PL_HIST_EXACT) return (uint64_t)i;
    int shift = (i - PL_HIST_EXACT) / PL_HIST_SUB + 1;
    uint64_t top = (uint64_t)((i - PL_HIST_EXACT) % PL_HIST_SUB + PL_HIST_SUB);
    return ((top + 1) << shift) - 1;
}

/* Records one latency. Negative values (cannot happen on a monotonic clock) count as 0. */
static inline void pl_hist_add(pl_hist_t *h, int64_t us)
{
    uint64_t v = us < 0 ? 0 : (uint64_t)us;
    h->buckets[pl_hist__index(v)]++;
    h->count++;
    h->sum_us += (double)v;
    if (v < h->min_us) h->min_us = v;
    if (v > h->max_us) h->max_us = v;
}

/* The q-quantile (0 < q <= 1) in microseconds: the upper edge of the bucket holding it, never
 * above the true maximum. 0 when empty. */
static inline uint64_t pl_hist_quantile(const pl_hist_t *h, double q)
{
    if (h->count == 0) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < PL_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = pl_hist__upper(i);
            return v > h->max_us ? h->max_us : v;
        }
    }
    return h->max_us;
}

#endif
