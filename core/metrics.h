/* Process metrics in the Prometheus text format. Updated only on the loop thread (the storage
 * thread reports its timings back with its results), so no atomics are needed. */
#ifndef PL_METRICS_H
#define PL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define PL_METRICS_BUCKETS 12
#define PL_METRICS_ATTACH_REASONS 8

typedef struct {
    int64_t connections;         /* gauge: open WebSocket connections */
    uint64_t connections_total;
    uint64_t messages_in;        /* messages accepted from clients (durably stored) */
    uint64_t messages_out;       /* events pushed to clients */
    uint64_t requests;           /* WebSocket requests handled */
    uint64_t auth_failures;      /* failed logins, bad or expired tokens */
    uint64_t bad_input;          /* rejected malformed input */
    uint64_t rate_limited;
    uint64_t http_requests;
    uint64_t store_errors;
    uint64_t join_failures;      /* consultation links refused (POST /api/v1/join) */
    uint64_t join_other_device;  /* ... of which: a link already bound to another device */
    uint64_t attach_stored;      /* attachments uploaded and stored */
    /* attachments refused, by reason: indexed as pl_sniff_class_t (storage/attach_sniff.h),
     * whose order metrics.c's label table follows; [0] unused */
    uint64_t attach_refused[PL_METRICS_ATTACH_REASONS];
    uint64_t attach_downloads;   /* attachments served through a signed link */
    uint64_t attach_links_refused; /* download links refused: bad signature, expired, other user */
    uint64_t attach_swept;       /* uploads never sent on a message, deleted by the sweep */
    /* write-back of filed transcripts to the record system (signalling/outbox.c) */
    uint64_t outbox_sent;            /* Bundles the record system accepted */
    uint64_t outbox_failed_attempts; /* deliveries that failed (each try counts) */
    uint64_t outbox_dead;            /* entries dead-lettered */
    int64_t outbox_pending;          /* gauge: entries waiting, as of the sender's last pass */
    uint64_t commit_buckets[PL_METRICS_BUCKETS]; /* store commit latency histogram */
    uint64_t commit_count;
    double commit_sum_s;
} pl_metrics_t;

void pl_metrics_observe_commit(pl_metrics_t *m, double seconds);
/* Renders the text exposition into a malloc'd string; caller frees. NULL on OOM. */
char *pl_metrics_render(const pl_metrics_t *m, size_t *len);

#endif
