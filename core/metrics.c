/* Prometheus text exposition of pl_metrics_t. */
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>

static const double bounds[PL_METRICS_BUCKETS] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                  0.05,   0.1,   0.25,  0.5,   1.0,  2.5};

void pl_metrics_observe_commit(pl_metrics_t *m, double seconds)
{
    for (int i = 0; i < PL_METRICS_BUCKETS; i++)
        if (seconds <= bounds[i]) m->commit_buckets[i]++;
    m->commit_count++;
    m->commit_sum_s += seconds;
}

char *pl_metrics_render(const pl_metrics_t *m, size_t *len)
{
    size_t cap = 16384;
    char *b = malloc(cap);
    if (!b) return NULL;
    int n = snprintf(
        b, cap,
        "# HELP parley_connections Open WebSocket connections.\n"
        "# TYPE parley_connections gauge\nparley_connections %lld\n"
        "# HELP parley_connections_total WebSocket connections accepted.\n"
        "# TYPE parley_connections_total counter\nparley_connections_total %llu\n"
        "# HELP parley_messages_in_total Messages from clients durably stored.\n"
        "# TYPE parley_messages_in_total counter\nparley_messages_in_total %llu\n"
        "# HELP parley_messages_out_total Events pushed to clients.\n"
        "# TYPE parley_messages_out_total counter\nparley_messages_out_total %llu\n"
        "# HELP parley_requests_total WebSocket requests handled.\n"
        "# TYPE parley_requests_total counter\nparley_requests_total %llu\n"
        "# HELP parley_http_requests_total HTTP requests handled.\n"
        "# TYPE parley_http_requests_total counter\nparley_http_requests_total %llu\n"
        "# HELP parley_auth_failures_total Failed logins and rejected session tokens.\n"
        "# TYPE parley_auth_failures_total counter\nparley_auth_failures_total %llu\n"
        "# HELP parley_bad_input_total Rejected malformed client input.\n"
        "# TYPE parley_bad_input_total counter\nparley_bad_input_total %llu\n"
        "# HELP parley_rate_limited_total Requests refused by rate limits.\n"
        "# TYPE parley_rate_limited_total counter\nparley_rate_limited_total %llu\n"
        "# HELP parley_store_errors_total Store operations that failed.\n"
        "# TYPE parley_store_errors_total counter\nparley_store_errors_total %llu\n"
        "# HELP parley_join_failures_total Video consultation links refused at POST /api/v1/join.\n"
        "# TYPE parley_join_failures_total counter\nparley_join_failures_total %llu\n"
        "# HELP parley_join_other_device_total Consultation links refused as already used on "
        "another device.\n"
        "# TYPE parley_join_other_device_total counter\nparley_join_other_device_total %llu\n"
        "# HELP parley_store_commit_seconds Store group-commit latency.\n"
        "# TYPE parley_store_commit_seconds histogram\n",
        (long long)m->connections, (unsigned long long)m->connections_total,
        (unsigned long long)m->messages_in, (unsigned long long)m->messages_out,
        (unsigned long long)m->requests, (unsigned long long)m->http_requests,
        (unsigned long long)m->auth_failures, (unsigned long long)m->bad_input,
        (unsigned long long)m->rate_limited, (unsigned long long)m->store_errors,
        (unsigned long long)m->join_failures, (unsigned long long)m->join_other_device);
    size_t used = (size_t)n;
    for (int i = 0; i < PL_METRICS_BUCKETS && used < cap; i++)
        used += (size_t)snprintf(b + used, cap - used,
                                 "parley_store_commit_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                                 (unsigned long long)m->commit_buckets[i]);
    if (used < cap)
        used += (size_t)snprintf(b + used, cap - used,
                                 "parley_store_commit_seconds_bucket{le=\"+Inf\"} %llu\n"
                                 "parley_store_commit_seconds_sum %.6f\n"
                                 "parley_store_commit_seconds_count %llu\n",
                                 (unsigned long long)m->commit_count, m->commit_sum_s,
                                 (unsigned long long)m->commit_count);
    /* Labels in the order of pl_sniff_class_t (storage/attach_sniff.h); [0] is "ok". */
    static const char *const reasons[PL_METRICS_ATTACH_REASONS] = {
        NULL, "empty", "unknown_type", "malformed", "zip", "trailing_data", "mismatch",
        "too_large"};
    if (used < cap)
        used += (size_t)snprintf(
            b + used, cap - used,
            "# HELP parley_attachments_stored_total Attachments uploaded and stored.\n"
            "# TYPE parley_attachments_stored_total counter\nparley_attachments_stored_total %llu\n"
            "# HELP parley_attachments_refused_total Attachment uploads refused, by reason.\n"
            "# TYPE parley_attachments_refused_total counter\n",
            (unsigned long long)m->attach_stored);
    for (int i = 1; i < PL_METRICS_ATTACH_REASONS && used < cap; i++)
        used += (size_t)snprintf(b + used, cap - used,
                                 "parley_attachments_refused_total{reason=\"%s\"} %llu\n",
                                 reasons[i], (unsigned long long)m->attach_refused[i]);
    if (used < cap)
        used += (size_t)snprintf(
            b + used, cap - used,
            "# HELP parley_attachment_downloads_total Attachments served through a signed link.\n"
            "# TYPE parley_attachment_downloads_total counter\n"
            "parley_attachment_downloads_total %llu\n"
            "# HELP parley_attachment_links_refused_total Attachment links refused (bad "
            "signature, expired, another user's).\n"
            "# TYPE parley_attachment_links_refused_total counter\n"
            "parley_attachment_links_refused_total %llu\n"
            "# HELP parley_attachments_swept_total Uploads never sent on a message, deleted after "
            "attachment_unsent_ttl_s.\n"
            "# TYPE parley_attachments_swept_total counter\n"
            "parley_attachments_swept_total %llu\n",
            (unsigned long long)m->attach_downloads, (unsigned long long)m->attach_links_refused,
            (unsigned long long)m->attach_swept);
    if (used < cap)
        used += (size_t)snprintf(
            b + used, cap - used,
            "# HELP parley_outbox_sent_total Filed transcripts the record system accepted.\n"
            "# TYPE parley_outbox_sent_total counter\nparley_outbox_sent_total %llu\n"
            "# HELP parley_outbox_failed_attempts_total Deliveries to the record system that "
            "failed (each try counts).\n"
            "# TYPE parley_outbox_failed_attempts_total counter\n"
            "parley_outbox_failed_attempts_total %llu\n"
            "# HELP parley_outbox_dead_total Filed transcripts given up on (dead-lettered).\n"
            "# TYPE parley_outbox_dead_total counter\nparley_outbox_dead_total %llu\n"
            "# HELP parley_outbox_pending Filed transcripts waiting to be sent to the record "
            "system.\n"
            "# TYPE parley_outbox_pending gauge\nparley_outbox_pending %lld\n",
            (unsigned long long)m->outbox_sent, (unsigned long long)m->outbox_failed_attempts,
            (unsigned long long)m->outbox_dead, (long long)m->outbox_pending);
    if (used >= cap) used = cap - 1;
    *len = used;
    return b;
}
