/* bench_cluster's command line: the options, their defaults and --help.
 * Header-only (see bench_hist.h); its functions are static, for the one program
 * that includes it. */
#ifndef PL_BENCH_CLUSTER_OPTS_H
#define PL_BENCH_CLUSTER_OPTS_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 8
#define MAX_RATES 16
#define BODY_MAX 4096

typedef struct {
  int nodes, patients, practices, staff_per_practice, duration_s, body_bytes,
      max_inflight, max_seconds, one_node;
  int n_rates;
  double rates[MAX_RATES];
} opts_t;

static void usage(void) {
  printf("usage: bench_cluster [--nodes N] [--rates R1,R2,...] [--duration S] "
         "[--patients N]\n"
         "                     [--practices N] [--staff-per-practice N] "
         "[--body-bytes N]\n"
         "                     [--max-inflight N] [--layout spread|one] "
         "[--max-seconds S]\n\n"
         "Runs N real nodes ($PARLEY_BIN) on 127.0.0.1 on one fresh PostgreSQL "
         "database\n"
         "(PARLEY_TEST_PG) and one Redis bus (PARLEY_TEST_REDIS), as "
         "scripts/with-testdb.sh\n"
         "provides, and measures, per offered rate: durable acked msg/s, ack "
         "latency and\n"
         "cross-node delivery latency (patients and the staff who receive "
         "their messages are\n"
         "always on different nodes), and the CPU of the nodes, PostgreSQL and "
         "Redis.\n"
         "Defaults: 3 nodes, rates 500,1000,2000,5000 msg/s for 10 s each, 300 "
         "patients in 30\n"
         "practices of 2 staff, 100-byte bodies, 8 in flight per patient, "
         "patients spread\n"
         "over the nodes (--layout one: all on node A), 420 s in all.\n"
         "The last line of output is RESULT {json}.\n");
}

static int parse_rates(opts_t *o, const char *v) {
  o->n_rates = 0;
  for (const char *p = v; *p;) {
    char *end;
    double r = strtod(p, &end);
    if (end == p || r < 1 || r > 1e7 || o->n_rates == MAX_RATES)
      return -1;
    o->rates[o->n_rates++] = r;
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',')
      return -1;
  }
  return o->n_rates ? 0 : -1;
}

static int parse_opts(opts_t *o, int argc, char **argv) {
  *o = (opts_t){.nodes = 3,
                .patients = 300,
                .practices = 30,
                .staff_per_practice = 2,
                .duration_s = 10,
                .body_bytes = 100,
                .max_inflight = 8,
                .max_seconds = 420};
  parse_rates(o, "500,1000,2000,5000");
  static const struct {
    const char *name;
    size_t off;
    int lo, hi;
  } ints[] = {
      {"--nodes", offsetof(opts_t, nodes), 2, MAX_NODES},
      {"--patients", offsetof(opts_t, patients), 1, 50000},
      {"--practices", offsetof(opts_t, practices), 1, 5000},
      {"--staff-per-practice", offsetof(opts_t, staff_per_practice), 1, 100},
      {"--duration", offsetof(opts_t, duration_s), 1, 600},
      {"--body-bytes", offsetof(opts_t, body_bytes), 1, BODY_MAX - 1},
      {"--max-inflight", offsetof(opts_t, max_inflight), 1, 1000000},
      {"--max-seconds", offsetof(opts_t, max_seconds), 60, 7200},
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
    const char *k = argv[i], *v = argv[++i];
    if (!strcmp(k, "--rates")) {
      if (parse_rates(o, v) < 0) {
        fprintf(stderr, "--rates: up to %d comma-separated rates, 1 to 1e7\n",
                MAX_RATES);
        return -1;
      }
      continue;
    }
    if (!strcmp(k, "--layout")) {
      if (strcmp(v, "spread") && strcmp(v, "one")) {
        fprintf(stderr, "--layout is spread or one\n");
        return -1;
      }
      o->one_node = !strcmp(v, "one");
      continue;
    }
    size_t j = 0;
    while (j < sizeof ints / sizeof ints[0] && strcmp(k, ints[j].name))
      j++;
    char *end;
    long n = strtol(v, &end, 10);
    if (j == sizeof ints / sizeof ints[0] || *end || n < ints[j].lo ||
        n > ints[j].hi) {
      fprintf(stderr, "unknown option or bad value: %s %s (see --help)\n", k,
              v);
      return -1;
    }
    *(int *)((char *)o + ints[j].off) = (int)n;
  }
  if (o->practices > o->patients)
    o->practices = o->patients;
  return 0;
}

#endif
