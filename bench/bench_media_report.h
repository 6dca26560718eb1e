/* bench_media's figures: a phase as JSON, the medians of a level's runs, a capacity ramp, and
 * the rows of the printed table. Header-only (see bench_hist.h). */
#ifndef PL_BENCH_MEDIA_REPORT_H
#define PL_BENCH_MEDIA_REPORT_H

#include "bench/bench_media_opts.h"
#include "bench/bench_media_rtc.h"

#include <jansson.h>

static double loss_of(const bm_phase_t *x)
{
    double want = (double)x->sent * x->subs;
    return want > 0 ? 1.0 - (double)x->received / want : 0;
}

static json_t *ms3(const pl_hist_t *h)
{
    return json_pack("{sf sf sf sf}", "p50", (double)pl_hist_quantile(h, 0.5) / 1e3, "p99",
                     (double)pl_hist_quantile(h, 0.99) / 1e3, "p999",
                     (double)pl_hist_quantile(h, 0.999) / 1e3, "max",
                     h->count ? (double)h->max_us / 1e3 : 0.0);
}

static json_t *phase_json(const bm_phase_t *x)
{
    double w = x->window_s > 0 ? x->window_s : 1;
    json_t *j = json_pack(
        "{ss ss si si sf sf sI sI sI sI sI sI sf sf sf sf sf sf sI sI so so}", "label", x->label,
        "server", x->server, "rooms", x->rooms, "subs", x->subs, "offered_pps", x->offered_pps,
        "window_s", x->window_s, "sent", (json_int_t)x->sent, "skipped", (json_int_t)x->skipped,
        "send_errors", (json_int_t)x->send_errors, "received", (json_int_t)x->received, "misrouted",
        (json_int_t)x->misrouted, "reordered", (json_int_t)x->reordered, "forwarded_pps",
        (double)x->received / w, "loss", loss_of(x), "server_cpu_cores", x->srv_cpu_s / w,
        "server_cpu_s_per_mpkt", x->received ? x->srv_cpu_s / (double)x->received * 1e6 : 0.0,
        "generator_cpu_cores", x->gen_cpu_s / w, "other_server_cpu_cores", x->other_cpu_s / w,
        "server_socket_drops", (json_int_t)x->srv_sock_drops, "generator_socket_drops",
        (json_int_t)x->gen_sock_drops, "latency_ms", ms3(&x->lat_k), "latency_read_ms",
        ms3(&x->lat_r));
    json_object_set_new(j, "generator_max_lag_ms", json_real((double)x->max_lag_us / 1e3));
    /* Runnable but not running: the share of the window the machine kept them waiting. */
    json_object_set_new(j, "server_runqueue_wait", json_real(x->srv_wait_s / w));
    json_object_set_new(j, "generator_runqueue_wait", json_real(x->gen_wait_s / w));
    return j;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Medians over the runs of one level on one server, with each run's values beside them. */
typedef struct {
    int n;
    double fwd, cpu_per_mpkt, cores, p50, p99, p50_read, p99_read, loss, gen_cores, sent_share;
} summary_t;

/* Medians over the phases idx[0..n) (negative entries skipped); *runs_out gets each one. */
static summary_t summarize(const bm_phase_t *phases, const int *idx, int n, json_t **runs_out)
{
    double v[10][BM_MAX_RUNS];
    summary_t s = {0};
    json_t *runs = json_array();
    for (int r = 0; r < n && r < BM_MAX_RUNS; r++) {
        if (idx[r] < 0) continue;
        const bm_phase_t *x = &phases[idx[r]];
        double w = x->window_s;
        v[0][s.n] = (double)x->received / w;
        v[1][s.n] = x->received ? x->srv_cpu_s / (double)x->received * 1e6 : 0;
        v[2][s.n] = x->srv_cpu_s / w;
        v[3][s.n] = (double)pl_hist_quantile(&x->lat_k, 0.5) / 1e3;
        v[4][s.n] = (double)pl_hist_quantile(&x->lat_k, 0.99) / 1e3;
        v[5][s.n] = (double)pl_hist_quantile(&x->lat_r, 0.5) / 1e3;
        v[6][s.n] = (double)pl_hist_quantile(&x->lat_r, 0.99) / 1e3;
        v[7][s.n] = loss_of(x);
        v[8][s.n] = x->gen_cpu_s / w;
        v[9][s.n] = (double)x->sent / (x->offered_pps * w);
        s.n++;
        json_array_append_new(runs, phase_json(x));
    }
    s.fwd = median(v[0], s.n);
    s.cpu_per_mpkt = median(v[1], s.n);
    s.cores = median(v[2], s.n);
    s.p50 = median(v[3], s.n);
    s.p99 = median(v[4], s.n);
    s.p50_read = median(v[5], s.n);
    s.p99_read = median(v[6], s.n);
    s.loss = median(v[7], s.n);
    s.gen_cores = median(v[8], s.n);
    s.sent_share = median(v[9], s.n);
    *runs_out = runs;
    return s;
}

static json_t *summary_json(const summary_t *s, json_t *runs)
{
    if (s->n == 0) {
        json_decref(runs);
        return json_null();
    }
    return json_pack("{si sf sf sf sf sf sf sf sf sf sf sf so}", "runs_measured", s->n,
                     "sent_over_offered", s->sent_share, "forwarded_pps", s->fwd,
                     "server_cpu_s_per_mpkt", s->cpu_per_mpkt, "pkts_per_cpu_s",
                     s->cpu_per_mpkt > 0 ? 1e6 / s->cpu_per_mpkt : 0.0, "server_cpu_cores",
                     s->cores, "latency_p50_ms", s->p50, "latency_p99_ms", s->p99,
                     "latency_read_p50_ms", s->p50_read, "latency_read_p99_ms", s->p99_read, "loss",
                     s->loss, "generator_cpu_cores", s->gen_cores, "each_run", runs);
}

/* A ramp: its steps, and the best sustained one (pi, or -1). */
static json_t *capacity_json(const bm_phase_t *phases, int pi, bool reached, const char *by,
                             const int *steps, int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, phase_json(&phases[steps[i]]));
    if (n == 0) {
        json_decref(arr);
        return json_null();
    }
    const bm_phase_t *x = pi >= 0 ? &phases[pi] : NULL;
    /* What one core would forward at that step's cost per packet: Parley's ceiling (its loop
     * is one thread), when the machine cannot drive it that far. */
    double per_core = x && x->srv_cpu_s > 0 ? (double)x->received / x->srv_cpu_s : 0;
    return json_pack(
        "{so so so so so so}", "rooms", x ? json_integer(x->rooms) : json_null(), "forwarded_pps",
        x ? json_real((double)x->received / x->window_s) : json_null(),
        "forwarded_pps_per_core_at_that_cost", per_core > 0 ? json_real(per_core) : json_null(),
        "limit_reached", json_boolean(reached), "limited_by", by ? json_string(by) : json_null(),
        "steps", arr);
}

static void print_row(const char *label, int rooms, const char *server, const summary_t *s)
{
    if (s->n == 0) return;
    printf("%-16s %5d  %-6s %5.1f%% %9.0f %7.2f %8.1f %8.3f %8.3f %8.3f %8.3f %8.3f%%\n", label,
           rooms, server, s->sent_share * 100, s->fwd, s->cores, s->cpu_per_mpkt, s->p50, s->p99,
           s->p50_read, s->p99_read, s->loss * 100);
}

#endif
