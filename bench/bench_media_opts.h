/* bench_media's command line: the options, their defaults and --help. Header-only (see
 * bench_hist.h). */
#ifndef PL_BENCH_MEDIA_OPTS_H
#define PL_BENCH_MEDIA_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BM_MAX_RUNS 9

typedef struct {
    int subs, rooms_max, ramp_start, step_s, refine_steps, duration_s, runs, janus, netns,
        event_loops, max_seconds, packet_bytes, bitrate, janus_ramp, p50_limit_ms, parley_rcvbuf;
    bool even_pacing;
    double ramp_factor, warmup_s, loss_limit;
    int scales[4], n_scales;
} opts_t;

static void usage(void)
{
    printf(
        "usage: bench_media [--subs 1|2] [--rooms-max N] [--ramp-start N] [--ramp-factor F]\n"
        "                   [--step-seconds S] [--refine-steps N] [--duration S] [--warmup S]\n"
        "                   [--runs N] [--scales A,B,C] [--bitrate BPS] [--packet-bytes N]\n"
        "                   [--loss-limit F] [--p50-limit-ms MS] [--janus 0|1]\n"
        "                   [--janus-ramp 0|1] [--janus-event-loops N] [--netns 0|1]\n"
        "                   [--pacing frame|even] [--parley-rcvbuf BYTES] [--max-seconds S]\n\n"
        "Measures media forwarding by Parley ($PARLEY_BIN) and by Janus's VideoRoom ($JANUS_BIN\n"
        "or janus) under the same load: rooms of 1 publisher and --subs subscribers, each\n"
        "publisher sending --bitrate in --packet-bytes RTP packets (VP8). First Parley's\n"
        "capacity (a ramp in active rooms: x--ramp-factor per --step-seconds step, then\n"
        "--refine-steps bisections, until loss > --loss-limit, p50 > --p50-limit-ms or the\n"
        "generator falls behind), then --runs rounds of the comparison levels (50%% and 90%%\n"
        "of that capacity, and the --scales room counts), each on Parley then on Janus for\n"
        "--duration s after --warmup s; medians over the rounds. Then Janus's own capacity\n"
        "(--janus-ramp 1). As root everything runs in a private network namespace with a veth\n"
        "pair carrying 127.0.0.1/32 (Janus will not use lo); --netns 0 or no root: Parley\n"
        "only. Defaults: --subs 2 --rooms-max 240 --ramp-start 20 --ramp-factor 1.5\n"
        "--step-seconds 3 --refine-steps 2 --duration 5 --warmup 1.5 --runs 3\n"
        "--scales 20,50,100 --bitrate 1200000 --packet-bytes 1100 --loss-limit 0.01\n"
        "--p50-limit-ms 10 --janus-event-loops 0 (Janus's default: a thread per handle)\n"
        "--pacing frame (a frame's 4-5 packets leave together, 30 frames/s; even: one slot\n"
        "per packet) --parley-rcvbuf 0 (an experiment: N > 0 forces Parley's media socket\n"
        "receive buffer to N bytes from outside, with pidfd_getfd; Parley asks for 4 MiB)\n"
        "--max-seconds 900. The last line of output is RESULT {json}.\n");
}

static int parse_scales(opts_t *o, const char *v)
{
    o->n_scales = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        long n = strtol(t, &end, 10);
        if (*end || n < 1 || n > 5000 || o->n_scales == 4) return -1;
        o->scales[o->n_scales++] = (int)n;
    }
    return 0;
}

static int parse_opts(opts_t *o, int argc, char **argv)
{
    *o = (opts_t){.subs = 2,
                  .rooms_max = 240,
                  .ramp_start = 20,
                  .step_s = 3,
                  .refine_steps = 2,
                  .duration_s = 5,
                  .runs = 3,
                  .janus = 1,
                  .netns = 1,
                  .event_loops = 0,
                  .max_seconds = 900,
                  .packet_bytes = 1100,
                  .bitrate = 1200000,
                  .janus_ramp = 1,
                  .p50_limit_ms = 10,
                  .ramp_factor = 1.5,
                  .warmup_s = 1.5,
                  .loss_limit = 0.01,
                  .scales = {20, 50, 100},
                  .n_scales = 3};
    static const struct {
        const char *name;
        size_t off;
        int lo, hi;
    } ints[] = {
        {"--subs", offsetof(opts_t, subs), 1, 2},
        {"--rooms-max", offsetof(opts_t, rooms_max), 1, 5000},
        {"--ramp-start", offsetof(opts_t, ramp_start), 1, 5000},
        {"--step-seconds", offsetof(opts_t, step_s), 1, 120},
        {"--refine-steps", offsetof(opts_t, refine_steps), 0, 10},
        {"--duration", offsetof(opts_t, duration_s), 1, 600},
        {"--runs", offsetof(opts_t, runs), 1, BM_MAX_RUNS},
        {"--janus", offsetof(opts_t, janus), 0, 1},
        {"--janus-ramp", offsetof(opts_t, janus_ramp), 0, 1},
        {"--janus-event-loops", offsetof(opts_t, event_loops), 0, 64},
        {"--netns", offsetof(opts_t, netns), 0, 1},
        {"--max-seconds", offsetof(opts_t, max_seconds), 60, 7200},
        {"--packet-bytes", offsetof(opts_t, packet_bytes), 200, 1200},
        {"--bitrate", offsetof(opts_t, bitrate), 64000, 20000000},
        {"--p50-limit-ms", offsetof(opts_t, p50_limit_ms), 1, 10000},
        {"--parley-rcvbuf", offsetof(opts_t, parley_rcvbuf), 0, 64 << 20},
    };
    static const struct {
        const char *name;
        size_t off;
        double lo, hi;
    } reals[] = {
        {"--ramp-factor", offsetof(opts_t, ramp_factor), 1.05, 10},
        {"--warmup", offsetof(opts_t, warmup_s), 0.2, 60},
        {"--loss-limit", offsetof(opts_t, loss_limit), 0, 1},
    };
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s needs a value (see --help)\n", argv[i]);
            return -1;
        }
        const char *name = argv[i], *v = argv[++i];
        char *end;
        bool done = false;
        if (!strcmp(name, "--pacing")) {
            if (strcmp(v, "frame") && strcmp(v, "even")) {
                fprintf(stderr, "--pacing is frame or even\n");
                return -1;
            }
            o->even_pacing = !strcmp(v, "even");
            continue;
        }
        if (!strcmp(name, "--scales")) {
            if (parse_scales(o, v) < 0) {
                fprintf(stderr, "--scales wants up to 4 room counts, e.g. 20,50,100\n");
                return -1;
            }
            continue;
        }
        for (size_t k = 0; k < sizeof reals / sizeof reals[0] && !done; k++) {
            if (strcmp(name, reals[k].name)) continue;
            double d = strtod(v, &end);
            if (*end || d < reals[k].lo || d > reals[k].hi) {
                fprintf(stderr, "%s must be %g to %g\n", name, reals[k].lo, reals[k].hi);
                return -1;
            }
            *(double *)((char *)o + reals[k].off) = d;
            done = true;
        }
        for (size_t k = 0; k < sizeof ints / sizeof ints[0] && !done; k++) {
            if (strcmp(name, ints[k].name)) continue;
            long n = strtol(v, &end, 10);
            if (*end || n < ints[k].lo || n > ints[k].hi) {
                fprintf(stderr, "%s must be %d to %d\n", name, ints[k].lo, ints[k].hi);
                return -1;
            }
            *(int *)((char *)o + ints[k].off) = (int)n;
            done = true;
        }
        if (!done) {
            fprintf(stderr, "unknown option %s (see --help)\n", name);
            return -1;
        }
    }
    return 0;
}

#endif
