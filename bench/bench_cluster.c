/* bench_cluster: the load generator behind `make bench-cluster`
 * (docs/BENCHMARKS.md).
 *
 * It starts --nodes real servers ($PARLEY_BIN) on loopback, all on one fresh
 * PostgreSQL database (on the server PARLEY_TEST_PG names) and the Redis bus
 * PARLEY_TEST_REDIS names, as scripts/with-testdb.sh provides, each with its
 * own data directory holding the same master key and audit key
 * (docs/CLUSTER.md). The shared database is seeded once: `parley demo` (schema
 * and keys), one `parley org add` per practice and one `parley user import` for
 * everyone, all with
 * --store, as bench_messaging seeds its single node.
 *
 * Every delivery it measures crosses nodes. A practice's patients all connect
 * to one node (node practice % nodes, or node A for all with --layout one) and
 * the practice's staff connect only to the other nodes, subscribed live to the
 * practice's events. A message a patient sends is committed by its node, and
 * reaches the staff because their nodes read it back from the event log when
 * Redis (or the one-second poll) tells them to look (signalling/cluster.c).
 *
 * Patients send at fixed total rates, open loop (sends follow the clock, not
 * the replies), one phase of --duration seconds per rate in --rates. Each send
 * carries its send time twice, in the request id (ack latency: the durable ok)
 * and in the body (delivery latency: message.created on a staff connection to
 * another node). A phase is sustained when every send went out, acks within the
 * window kept up with the offered rate (95%), nothing erred, and the backlog
 * was acked and delivered within the drain time. Each phase also reports the
 * CPU of every node, of PostgreSQL (postmaster and backends) and Redis (found
 * from PARLEY_TEST_DB_DIR, when set) and of the generator itself, which shares
 * the cores; and from each node's /metrics, its group commits and the time its
 * storage thread spent inside them.
 *
 * One thread, one epoll loop, replies recognised with strstr, as in
 * bench_messaging.c, whose helpers (bench_hist.h, bench_proc.h) this shares.
 * Every wait has a deadline, the whole run
 * --max-seconds, and the last line of standard output is `RESULT {json}`.
 * Progress goes to standard error. */
#include "bench/bench_cluster_opts.h"
#include "bench/bench_cluster_proc.h"
#include "bench/bench_hist.h"
#include "bench/bench_proc.h"
#include "tests/support/https.h"
#include "tests/support/pclient.h"
#include "tests/support/pg_fx.h"
#include "tests/support/server.h"
#include "tests/support/wsc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_MS                                                               \
  20000 /* a phase's backlog must be acked and delivered by then */
#define SETUP_WAIT_MS 60000 /* each setup wait (ready, live, created) */
#define CONNECT_TIMEOUT_MS 10000
#define SUSTAIN_RATIO                                                          \
  0.95 /* acked within the window / offered, for a phase to count */
#define SEND_BURST_MAX                                                         \
  512 /* sends per loop turn before replies are read again */
#define TEARDOWN_RESERVE_S                                                     \
  30 /* kept free at the end of --max-seconds for stopping */
#define TARGET_RATE                                                            \
  5000 /* the issue's target: p99 under 50 ms at 5,000 msg/s, 3 nodes */
#define TARGET_P99_MS 50

typedef struct bench bench_t;

/* One WebSocket client: a patient (sends) or a staff member (receives). */
typedef struct {
  bench_t *b;
  pl_wsc_t *ws;
  bool staff;
  int idx, practice, node;
  long long conv_id;
  int inflight;
  bool ready, live, created, dead;
  char token[128];
} bconn_t;

/* Per-process CPU seconds at one instant: the nodes, PostgreSQL, Redis, the
 * generator. */
typedef struct {
  double node[MAX_NODES], pg, redis, gen;
  double commits[MAX_NODES], commit_s[MAX_NODES];
} sample_t;

typedef struct {
  double offered, window_s;
  int64_t end_us;
  uint64_t attempted, sent, skipped, acked, acked_in_window, errors, delivered,
      dlv_expected;
  sample_t
      cpu; /* cores (CPU seconds / window) and commit figures over the window */
  bool ran, drained;
  const char *verdict; /* NULL: sustained; else why not */
  pl_hist_t ack, dlv;
} phase_t;

struct bench {
  opts_t o;
  int epfd;
  bconn_t *conns; /* patients [0, patients), then staff */
  int n, n_staff;
  char store[512], redis[256];
  char dir[MAX_NODES][256];
  char name[MAX_NODES][16];
  pl_test_server_t *srv[MAX_NODES];
  pid_t pid[MAX_NODES], pg_pid, redis_pid;
  int port[MAX_NODES];
  int64_t base_ns, deadline_us, next_alive_check_us;
  phase_t *phases;
  uint64_t txn, inflight, stray;
  int next_patient, n_ready, n_live, n_created, lost;
  char pad[BODY_MAX];
  char fatal[512];
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig) { interrupted = 1; }

/* Backstop if a wait somehow overruns --max-seconds: the nodes die with us
 * (PDEATHSIG). */
static void on_alarm(int sig) {
  static const char msg[] = "bench_cluster: hard time limit reached; exiting\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  _exit(3);
}

static int64_t now_us(const bench_t *b) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - b->base_ns) / 1000;
}

static void note(const bench_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[%6.1fs] ", (double)now_us(b) / 1e6);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* Records the first fatal problem; every loop stops on it. */
static void fail(bench_t *b, const char *fmt, ...) {
  if (b->fatal[0])
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->fatal, sizeof b->fatal, fmt, ap);
  va_end(ap);
  note(b, "FATAL: %s", b->fatal);
}

/* ---- CPU and /metrics ---- */

static void sample(const bench_t *b, sample_t *s) {
  memset(s, 0, sizeof *s);
  for (int i = 0; i < b->o.nodes; i++) {
    s->node[i] = pl_bc_proc_cpu_s(b->pid[i]);
    pl_http_resp_t r;
    if (pl_https_request("127.0.0.1", b->port[i], "GET", "/metrics", NULL, NULL,
                         0, 2000, &r) != 0)
      continue;
    s->commits[i] = pl_bc_metric(r.body, "parley_store_commit_seconds_count");
    s->commit_s[i] = pl_bc_metric(r.body, "parley_store_commit_seconds_sum");
    pl_http_resp_free(&r);
  }
  s->pg = pl_bc_pg_cpu_s(b->pg_pid);
  s->redis = pl_bc_proc_cpu_s(b->redis_pid);
  s->gen = pl_bc_self_cpu_s();
}

/* ---- receiving ---- */

static phase_t *phase_of(bench_t *b, const char *p, int64_t *sent_us,
                         char sep) {
  char *end;
  long pi = strtol(p, &end, 10);
  if (*end != sep || pi < 0 || pi >= b->o.n_rates)
    return NULL;
  *sent_us = strtoll(end + 1, NULL, 10);
  return &b->phases[pi];
}

/* A reply to one of our sends: p points just after `"id":"b`. */
static void on_ack(bench_t *b, bconn_t *c, const char *msg, const char *p,
                   int64_t now) {
  int64_t sent_us = 0;
  phase_t *x = phase_of(b, p, &sent_us, '.');
  if (!x) {
    b->stray++;
    return;
  }
  c->inflight--;
  b->inflight--;
  if (strstr(msg, "\"ok\":true")) {
    x->acked++;
    if (now <= x->end_us)
      x->acked_in_window++;
    pl_hist_add(&x->ack, now - sent_us);
    x->dlv_expected += (uint64_t)b->o.staff_per_practice;
  } else if (x->errors++ < 3) {
    note(b, "error reply at %.0f msg/s: %.300s", x->offered, msg);
  }
}

static void subscribe(bconn_t *c) {
  static const char req[] = "{\"id\":\"s\",\"type\":\"events.subscribe\"}";
  int rc = pl_wsc_send_text(c->ws, req, sizeof req - 1);
  if (rc < 0)
    fail(c->b, "subscribe send failed: %s", strerror(-rc));
}

/* Session, subscription and setup frames: rare, so parsed properly. */
static void on_control(bench_t *b, bconn_t *c, const char *msg, size_t len) {
  json_t *j = json_loadb(msg, len, 0, NULL);
  const char *type = json_string_value(json_object_get(j, "type"));
  const char *id = json_string_value(json_object_get(j, "id"));
  json_t *ok = json_object_get(j, "ok");
  if (type && !strcmp(type, "session.ready")) {
    c->ready = true;
    b->n_ready++;
    if (c->staff)
      subscribe(c);
  } else if (type && !strcmp(type, "events.live")) {
    b->n_live += !c->live;
    c->live = true;
  } else if (type && (!strcmp(type, "session.error") ||
                      !strcmp(type, "session.ended") ||
                      !strcmp(type, "events.error"))) {
    fail(b, "%s %d got %.300s", c->staff ? "staff" : "patient", c->idx, msg);
  } else if (id && !strcmp(id, "c") && json_is_true(ok)) {
    json_t *conv = json_object_get(j, "conversation");
    c->conv_id = (long long)json_integer_value(json_object_get(conv, "id"));
    c->created = c->conv_id > 0;
    b->n_created += c->created;
  } else if (json_is_false(ok) || (id && !strcmp(id, "c"))) {
    fail(b, "%s %d: request failed: %.300s", c->staff ? "staff" : "patient",
         c->idx, msg);
  } else if ((!id || strcmp(id, "s") != 0) && b->stray++ < 3) {
    note(b, "unexpected frame: %.200s", msg);
  }
  json_decref(j);
}

static void on_msg(void *ud, const char *msg, size_t len) {
  bconn_t *c = ud;
  bench_t *b = c->b;
  int64_t now = now_us(b), sent_us = 0;
  if (strncmp(msg, "{\"type\":\"event\"", 15) == 0) {
    /* Setup events (conversation.created and its first message) are not
     * counted. */
    const char *p = c->staff ? strstr(msg, "\"body\":\"bench|") : NULL;
    phase_t *x = p ? phase_of(b, p + 14, &sent_us, '|') : NULL;
    if (x) {
      x->delivered++;
      pl_hist_add(&x->dlv, now - sent_us);
    }
    return;
  }
  const char *p = c->staff ? NULL : strstr(msg, "\"id\":\"b");
  if (p)
    on_ack(b, c, msg, p + 7, now);
  else
    on_control(b, c, msg, len);
}

static void conn_lost(bench_t *b, bconn_t *c, int rc) {
  if (c->dead)
    return;
  c->dead = true;
  b->lost++;
  epoll_ctl(b->epfd, EPOLL_CTL_DEL, pl_wsc_fd(c->ws), NULL);
  fail(b,
       "%s %d lost its connection to node %s (%s, close code %d); see "
       "%s/server.log",
       c->staff ? "staff" : "patient", c->idx, b->name[c->node], strerror(-rc),
       pl_wsc_close_code(c->ws), b->dir[c->node]);
}

/* One epoll turn: waits up to timeout_ms and reads every connection that has
 * data. */
static void poll_once(bench_t *b, int timeout_ms) {
  struct epoll_event ev[256];
  int n = epoll_wait(b->epfd, ev, 256, timeout_ms);
  if (n < 0 && errno != EINTR)
    fail(b, "epoll_wait: %s", strerror(errno));
  for (int i = 0; i < n; i++) {
    bconn_t *c = ev[i].data.ptr;
    if (c->dead)
      continue;
    int rc = pl_wsc_pump(c->ws, on_msg, c);
    if (rc < 0)
      conn_lost(b, c, rc);
  }
  int64_t now = now_us(b);
  if (now >= b->next_alive_check_us) {
    b->next_alive_check_us = now + 500000;
    for (int k = 0; k < b->o.nodes; k++) {
      char state = 0;
      if (pl_proc_stat(b->pid[k], NULL, NULL, &state) < 0 || state == 'Z')
        fail(b, "node %s (pid %d) exited; see %s/server.log", b->name[k],
             (int)b->pid[k], b->dir[k]);
    }
  }
  if (interrupted)
    fail(b, "interrupted");
  if (now > b->deadline_us)
    fail(b, "--max-seconds %d reached", b->o.max_seconds);
}

/* Polls until *counter reaches target, the time limit or a failure. */
static int wait_count(bench_t *b, const int *counter, int target,
                      const char *what) {
  int64_t until = now_us(b) + (int64_t)SETUP_WAIT_MS * 1000;
  while (*counter < target && !b->fatal[0]) {
    if (now_us(b) > until)
      fail(b, "%s: %d of %d after %d ms", what, *counter, target,
           SETUP_WAIT_MS);
    poll_once(b, 10);
  }
  return b->fatal[0] ? -1 : 0;
}

/* ---- setup ---- */

static void user_name(const bconn_t *c, char *out, size_t cap, bool password) {
  snprintf(out, cap, "%s%c%d", password ? "bench-password-" : "bench.",
           c->staff ? 's' : 'p', c->idx);
}

static int copy_key(const char *from, const char *to, const char *name) {
  char a[300], t[300], buf[4096];
  snprintf(a, sizeof a, "%s/%s", from, name);
  snprintf(t, sizeof t, "%s/%s", to, name);
  int in = open(a, O_RDONLY | O_CLOEXEC);
  int out = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ssize_t n;
  int rc = in < 0 || out < 0 ? -1 : 0;
  while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n)
      rc = -1;
  if (in >= 0)
    close(in);
  if (out >= 0)
    close(out);
  return rc;
}

/* Writes the users as `parley user import` JSON lines (bench_messaging's
 * format). */
static int write_users(bench_t *b, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  long nhs9 =
      999600000; /* test range, above the demo's; check digit 10 is skipped */
  for (int i = 0; i < b->n; i++) {
    const bconn_t *c = &b->conns[i];
    char user[32], pw[48];
    user_name(c, user, sizeof user, false);
    user_name(c, pw, sizeof pw, true);
    if (c->staff) {
      fprintf(f,
              "{\"username\":\"%s\",\"name\":\"Bench Staff "
              "%d\",\"password\":\"%s\","
              "\"kind\":\"staff\",\"org\":\"BC%04d\",\"roles\":[\"gp\"]}\n",
              user, c->idx, pw, c->practice);
      continue;
    }
    int check;
    do {
      long v = ++nhs9;
      int sum = 0;
      for (int k = 0; k < 9; k++, v /= 10)
        sum += (int)(v % 10) * (k + 2);
      check = 11 - sum % 11;
      if (check == 11)
        check = 0;
    } while (check == 10);
    fprintf(
        f,
        "{\"username\":\"%s\",\"name\":\"Bench Patient "
        "%d\",\"password\":\"%s\","
        "\"kind\":\"patient\",\"nhs_number\":\"%ld%d\",\"dob\":\"1970-01-01\","
        "\"practice\":\"BC%04d\"}\n",
        user, c->idx, pw, nhs9, check, c->practice);
  }
  return fclose(f) == 0 ? 0 : -1;
}

/* Seeds the shared database from node A's directory and gives every node its
 * keys. */
static int seed(bench_t *b) {
  const char *d0 = b->dir[0];
  const char *demo[] = {"demo",   "--data-dir",  d0,   "--store", b->store,
                        "--json", "--kdf-log-n", "10", NULL};
  char *out = NULL;
  int rc = pl_test_run_cli(&out, demo);
  free(out);
  if (rc != 0) {
    fail(b, "parley demo --store exited %d", rc);
    return -1;
  }
  for (int p = 0; p < b->o.practices; p++) {
    char code[16], name[48];
    snprintf(code, sizeof code, "BC%04d", p);
    snprintf(name, sizeof name, "Bench Practice %d", p);
    const char *args[] = {
        "org", "add",    "--data-dir", d0,       "--store",  b->store, "--code",
        code,  "--name", name,         "--kind", "practice", NULL};
    if ((rc = pl_test_run_cli(NULL, args)) != 0) {
      fail(b, "parley org add %s exited %d", code, rc);
      return -1;
    }
    if (interrupted)
      fail(b, "interrupted");
  }
  char path[320];
  snprintf(path, sizeof path, "%s/bench-users.jsonl", d0);
  if (write_users(b, path) < 0) {
    fail(b, "cannot write %s", path);
    return -1;
  }
  const char *imp[] = {"user",        "import", "--data-dir", d0,
                       "--store",     b->store, "--file",     path,
                       "--kdf-log-n", "10",     NULL};
  rc = pl_test_run_cli(NULL, imp);
  unlink(path);
  if (rc != 0) {
    fail(b, "parley user import exited %d", rc);
    return -1;
  }
  for (int i = 1; i < b->o.nodes; i++)
    if (copy_key(d0, b->dir[i], "data.key") ||
        copy_key(d0, b->dir[i], "audit_signing.key") ||
        copy_key(d0, b->dir[i], "audit_signing.pub")) {
      fail(b, "cannot copy the keys to %s", b->dir[i]);
      return -1;
    }
  return 0;
}

static int start_nodes(bench_t *b) {
  for (int i = 0; i < b->o.nodes && !b->fatal[0]; i++) {
    const char *args[] = {"--store",
                          b->store,
                          "--bus",
                          b->redis,
                          "--node-id",
                          b->name[i],
                          "--rate-limit-per-sec",
                          "100000",
                          "--rate-limit-burst",
                          "100000",
                          "--send-rate-per-min",
                          "0",
                          "--max-connections",
                          "100000",
                          NULL};
    int rc = pl_test_server_start(&b->srv[i], b->dir[i], args);
    if (rc < 0) {
      fail(b, "node %s did not start: %s", b->name[i], strerror(-rc));
      break;
    }
    b->port[i] = pl_test_server_port(b->srv[i]);
    b->pid[i] = pl_proc_find_child(b->dir[i]);
    if (b->pid[i] <= 0)
      fail(b, "cannot find node %s's pid in /proc", b->name[i]);
    note(b, "node %s: pid %d, port %d", b->name[i], (int)b->pid[i], b->port[i]);
  }
  return b->fatal[0] ? -1 : 0;
}

/* Logs in and connects conns[from, to) (each on its own node), then waits for
 * session.ready and, for staff, the end of the subscription's catch-up. */
static int connect_range(bench_t *b, int from, int to) {
  int ready_target = b->n_ready + (to - from), live_target = b->n_live;
  for (int i = from; i < to && !b->fatal[0]; i++) {
    bconn_t *c = &b->conns[i];
    live_target += c->staff;
    char user[32], pw[48], hdr[200];
    user_name(c, user, sizeof user, false);
    user_name(c, pw, sizeof pw, true);
    int st = pl_pc_login(b->port[c->node], user, pw, NULL, c->token,
                         sizeof c->token, NULL);
    if (st != 200) {
      fail(b, "login %s: %s %d", user, st < 0 ? "error" : "HTTP", st);
      break;
    }
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", c->token);
    int status = 0;
    int rc = pl_wsc_connect(&c->ws, "127.0.0.1", b->port[c->node], "/", hdr,
                            CONNECT_TIMEOUT_MS, &status);
    if (rc < 0) {
      fail(b, "WebSocket connect %s: %s (HTTP %d)", user, strerror(-rc),
           status);
      break;
    }
    pl_wsc_set_nonblocking(c->ws);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, pl_wsc_fd(c->ws), &ev) < 0) {
      fail(b, "epoll_ctl: %s", strerror(errno));
      break;
    }
    /* session.ready may have come with the upgrade response, which epoll would
     * not report. */
    rc = pl_wsc_pump(c->ws, on_msg, c);
    if (rc < 0)
      conn_lost(b, c, rc);
    if ((i & 31) == 0)
      poll_once(b, 0);
  }
  if (wait_count(b, &b->n_ready, ready_target, "sessions ready") < 0)
    return -1;
  return wait_count(b, &b->n_live, live_target, "subscriptions live");
}

static int create_conversations(bench_t *b) {
  for (int i = 0; i < b->o.patients && !b->fatal[0]; i++) {
    bconn_t *c = &b->conns[i];
    char req[256];
    int n = snprintf(
        req, sizeof req,
        "{\"id\":\"c\",\"type\":\"conversation.create\",\"txn_id\":\"c%d\","
        "\"kind\":\"admin\",\"subject\":\"Bench request %d\","
        "\"body\":\"bench setup\"}",
        i, i);
    int rc = pl_wsc_send_text(c->ws, req, (size_t)n);
    if (rc < 0)
      conn_lost(b, c, rc);
    if ((i & 31) == 0)
      poll_once(b, 0);
  }
  return wait_count(b, &b->n_created, b->o.patients, "conversations created");
}

static void settle(bench_t *b, int ms) {
  int64_t until = now_us(b) + (int64_t)ms * 1000;
  while (now_us(b) < until && !b->fatal[0])
    poll_once(b, 10);
}

/* Patient i is in practice i % practices, on node practice % nodes (node A with
 * --layout one); a practice's staff go round the other nodes. */
static int layout(bench_t *b) {
  const opts_t *o = &b->o;
  b->n_staff = o->practices * o->staff_per_practice;
  b->n = o->patients + b->n_staff;
  b->conns = calloc((size_t)b->n, sizeof *b->conns);
  b->phases = calloc(MAX_RATES, sizeof *b->phases);
  if (!b->conns || !b->phases)
    return -1;
  for (int i = 0; i < b->n; i++) {
    bconn_t *c = &b->conns[i];
    c->b = b;
    c->staff = i >= o->patients;
    c->idx = c->staff ? i - o->patients : i;
    c->practice =
        c->staff ? c->idx / o->staff_per_practice : c->idx % o->practices;
    int home = o->one_node ? 0 : c->practice % o->nodes;
    c->node =
        c->staff
            ? (home + 1 + c->idx % o->staff_per_practice % (o->nodes - 1)) %
                  o->nodes
            : home;
  }
  for (int i = 0; i < o->n_rates; i++) {
    b->phases[i].offered = o->rates[i];
    pl_hist_init(&b->phases[i].ack);
    pl_hist_init(&b->phases[i].dlv);
  }
  memset(b->pad, 'x', sizeof b->pad);
  return 0;
}

static int prepare(bench_t *b) {
  if (pg_fx_create_db(b->store, sizeof b->store) != 0) {
    fail(b, "cannot create a database on PARLEY_TEST_PG");
    return -1;
  }
  note(b, "store %s, bus %s; seeding %d practices, %d patients, %d staff",
       b->store, b->redis, b->o.practices, b->o.patients, b->n_staff);
  if (seed(b) < 0 || start_nodes(b) < 0)
    return -1;
  const char *db_dir = getenv("PARLEY_TEST_DB_DIR");
  if (db_dir && *db_dir) {
    b->pg_pid = pl_bc_pid_from_file(db_dir, "pg/postmaster.pid");
    b->redis_pid = pl_bc_pid_from_file(db_dir, "redis/redis.pid");
  }
  note(b, "PostgreSQL postmaster pid %d, Redis pid %d (0: not measured)",
       (int)b->pg_pid, (int)b->redis_pid);
  note(b, "connecting %d staff (subscribed) and %d patients", b->n_staff,
       b->o.patients);
  if (connect_range(b, b->o.patients, b->n) < 0 ||
      connect_range(b, 0, b->o.patients) < 0 || create_conversations(b) < 0)
    return -1;
  settle(b, 2000); /* the setup messages' deliveries */
  return b->fatal[0] ? -1 : 0;
}

/* ---- load ---- */

/* Sends one message from the next patient in turn that is under its in-flight
 * cap. */
static void send_one(bench_t *b, phase_t *x, int pi) {
  for (int tries = 0; tries < b->o.patients; tries++) {
    bconn_t *c = &b->conns[b->next_patient];
    b->next_patient = (b->next_patient + 1) % b->o.patients;
    if (c->dead || c->inflight >= b->o.max_inflight)
      continue;
    char req[BODY_MAX + 512], head[64];
    long long t = (long long)now_us(b);
    int hl = snprintf(head, sizeof head, "bench|%d|%lld|", pi, t);
    int pad = b->o.body_bytes > hl ? b->o.body_bytes - hl : 0;
    int n = snprintf(
        req, sizeof req,
        "{\"id\":\"b%d.%lld\",\"type\":\"conversation.send\","
        "\"conversation_id\":%lld,\"txn_id\":\"t%llu\",\"body\":\"%s%.*s\"}",
        pi, t, c->conv_id, (unsigned long long)++b->txn, head, pad, b->pad);
    int rc = pl_wsc_send_text(c->ws, req, (size_t)n);
    if (rc < 0) {
      conn_lost(b, c, rc);
      return;
    }
    c->inflight++;
    b->inflight++;
    x->sent++;
    return;
  }
  x->skipped++;
}

static const char *judge(const phase_t *x) {
  double expected = x->offered * x->window_s;
  if (x->errors)
    return "error replies";
  if (!x->drained)
    return "backlog not acked and delivered within the drain time";
  if ((double)x->attempted < SUSTAIN_RATIO * expected)
    return "generator could not keep up";
  if (x->skipped)
    return "in-flight cap reached (server backlog)";
  if ((double)x->acked_in_window < SUSTAIN_RATIO * expected)
    return "acks fell behind";
  return NULL;
}

static double sum_nodes(const bench_t *b, const double *v) {
  double s = 0;
  for (int i = 0; i < b->o.nodes; i++)
    s += v[i];
  return s;
}

static void phase_report(const bench_t *b, const phase_t *x) {
  const sample_t *u = &x->cpu;
  char nodes[128] = "";
  for (int i = 0, off = 0; i < b->o.nodes && off < (int)sizeof nodes - 8; i++)
    off += snprintf(nodes + off, sizeof nodes - (size_t)off, "%s%.2f",
                    i ? "+" : "", u->node[i]);
  double commits = sum_nodes(b, u->commits);
  note(b,
       "%5.0f/s: sent %6.0f/s acked %6.0f/s | ack p50 %6.2f p99 %7.2f ms | "
       "x-node dlv p50 %6.2f"
       " p99 %7.2f ms (%llu/%llu) | cpu nodes %s pg %.2f redis %.2f gen %.2f | "
       "commits %.0f/s,"
       " %.1f msg each | %s",
       x->offered, (double)x->sent / x->window_s,
       (double)x->acked_in_window / x->window_s,
       pl_hist_quantile(&x->ack, 0.5) / 1e3,
       pl_hist_quantile(&x->ack, 0.99) / 1e3,
       pl_hist_quantile(&x->dlv, 0.5) / 1e3,
       pl_hist_quantile(&x->dlv, 0.99) / 1e3, (unsigned long long)x->delivered,
       (unsigned long long)x->dlv_expected, nodes, u->pg, u->redis, u->gen,
       commits,
       commits > 0 ? (double)x->acked_in_window / x->window_s / commits : 0.0,
       x->verdict ? x->verdict : "sustained");
}

/* Sends at the phase's rate for --duration seconds, then waits for every ack
 * and delivery (DRAIN_MS at most). */
static void run_phase(bench_t *b, int pi) {
  phase_t *x = &b->phases[pi];
  sample_t s0, s1;
  sample(b, &s0);
  int64_t t0 = now_us(b), now = t0;
  x->ran = true;
  x->end_us = t0 + (int64_t)b->o.duration_s * 1000000;
  while ((now = now_us(b)) < x->end_us && !b->fatal[0]) {
    uint64_t due = (uint64_t)((double)(now - t0) * x->offered / 1e6);
    for (int k = 0; x->attempted < due && k < SEND_BURST_MAX && !b->fatal[0];
         k++) {
      send_one(b, x, pi);
      x->attempted++;
    }
    poll_once(b, x->attempted < due ? 0 : 1);
  }
  x->window_s = (double)(now - t0) / 1e6;
  sample(b, &s1); /* a few ms of TLS handshakes for /metrics, after the window
                     on purpose */
  sample_t *u = &x->cpu;
  for (int i = 0; i < b->o.nodes; i++) {
    u->node[i] = (s1.node[i] - s0.node[i]) / x->window_s;
    u->commits[i] = (s1.commits[i] - s0.commits[i]) / x->window_s;
    u->commit_s[i] = (s1.commit_s[i] - s0.commit_s[i]) / x->window_s;
  }
  u->pg = (s1.pg - s0.pg) / x->window_s;
  u->redis = (s1.redis - s0.redis) / x->window_s;
  u->gen = (s1.gen - s0.gen) / x->window_s;
  int64_t until = now_us(b) + (int64_t)DRAIN_MS * 1000;
  while (!b->fatal[0] && now_us(b) < until &&
         (b->inflight > 0 || x->delivered < x->dlv_expected))
    poll_once(b, 5);
  x->drained = b->inflight == 0 && x->delivered >= x->dlv_expected;
  x->verdict = judge(x);
  phase_report(b, x);
}

/* Every rate in turn, while time is left and the previous phase's backlog has
 * drained. */
static void run_all(bench_t *b) {
  for (int i = 0; i < b->o.n_rates && !b->fatal[0]; i++) {
    phase_t *x = &b->phases[i];
    if ((double)(b->deadline_us - now_us(b)) / 1e6 <
        b->o.duration_s + DRAIN_MS / 1000 + 5) {
      x->verdict = "not run: --max-seconds budget";
    } else if (i > 0 && b->phases[i - 1].ran && !b->phases[i - 1].drained) {
      x->verdict = "not run: the previous phase's backlog had not drained";
    } else {
      run_phase(b, i);
      settle(b, 1000);
    }
  }
}

/* ---- results ---- */

static json_t *ms3(const pl_hist_t *h) {
  return json_pack("{sf sf sf sI}", "p50", pl_hist_quantile(h, 0.5) / 1e3,
                   "p99", pl_hist_quantile(h, 0.99) / 1e3, "max",
                   h->max_us / 1e3, "count", (json_int_t)h->count);
}

static const char *verdict(const phase_t *x) {
  return x->verdict ? x->verdict : x->ran ? "sustained" : "not run";
}

static json_t *phase_json(const bench_t *b, const phase_t *x) {
  const sample_t *u = &x->cpu;
  json_t *nodes = json_array();
  for (int i = 0; i < b->o.nodes; i++)
    json_array_append_new(nodes, json_real(u->node[i]));
  double commits = sum_nodes(b, u->commits),
         window = x->window_s > 0 ? x->window_s : 1;
  bool met = x->ran && !x->verdict && x->offered >= TARGET_RATE &&
             pl_hist_quantile(&x->dlv, 0.99) < TARGET_P99_MS * 1000 &&
             pl_hist_quantile(&x->ack, 0.99) < TARGET_P99_MS * 1000;
  return json_pack(
      "{sf sb sf sI sI sI sf sI sI sI so so s{so sf sf sf sf} sf sf sf ss sb}",
      "offered_per_s", x->offered, "ran", x->ran, "window_s", x->window_s,
      "sent", (json_int_t)x->sent, "acked", (json_int_t)x->acked, "skipped",
      (json_int_t)x->skipped, "acked_per_s",
      (double)x->acked_in_window / window, "errors", (json_int_t)x->errors,
      "delivered", (json_int_t)x->delivered, "deliveries_expected",
      (json_int_t)x->dlv_expected, "ack_ms", ms3(&x->ack),
      "cross_node_delivery_ms", ms3(&x->dlv), "cpu_cores", "nodes", nodes,
      "nodes_total", sum_nodes(b, u->node), "postgres", u->pg, "redis",
      u->redis, "generator", u->gen, "commits_per_s", commits,
      "msgs_per_commit",
      commits > 0 ? (double)x->acked_in_window / window / commits : 0.0,
      "commit_busy", sum_nodes(b, u->commit_s), "verdict",
      x->verdict ? x->verdict : "sustained", "meets_target", met);
}

static json_t *result_json(bench_t *b, const int *exit_status) {
  const opts_t *o = &b->o;
  json_t *phases = json_array(), *rates = json_array(), *exits = json_array();
  double best = 0, best_offered = 0;
  bool met = false;
  for (int i = 0; i < o->n_rates; i++) {
    const phase_t *x = &b->phases[i];
    json_t *pj = phase_json(b, x);
    met = met || json_is_true(json_object_get(pj, "meets_target"));
    json_array_append_new(phases, pj);
    json_array_append_new(rates, json_real(o->rates[i]));
    if (x->ran && !x->verdict && x->offered > best_offered) {
      best_offered = x->offered;
      best = (double)x->acked_in_window / x->window_s;
    }
  }
  for (int i = 0; i < o->nodes; i++)
    json_array_append_new(exits, json_integer(exit_status[i]));
  return json_pack(
      "{ss sb so sf sf s{si si si si si si si ss so}"
      " s{si si sb} so so sf sI sI}",
      "bench", "cluster", "ok", !b->fatal[0], "error",
      b->fatal[0] ? json_string(b->fatal) : json_null(),
      "highest_sustained_offered_per_s", best_offered,
      "highest_sustained_acked_per_s", best, "params", "nodes", o->nodes,
      "patients", o->patients, "practices", o->practices, "staff_per_practice",
      o->staff_per_practice, "duration_s", o->duration_s, "body_bytes",
      o->body_bytes, "max_inflight_per_patient", o->max_inflight, "layout",
      o->one_node ? "one" : "spread", "rates", rates, "target", "rate_per_s",
      TARGET_RATE, "p99_ms", TARGET_P99_MS, "met", met, "phases", phases,
      "node_exit_status_after_sigterm", exits, "elapsed_s",
      (double)now_us(b) / 1e6, "connections_lost", (json_int_t)b->lost,
      "unexpected_frames", (json_int_t)b->stray);
}

/* ---- main ---- */

int main(int argc, char **argv) {
  static bench_t bench;
  bench_t *b = &bench;
  int prc = parse_opts(&b->o, argc, argv);
  if (prc != 0)
    return prc > 0 ? 0 : 2;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  b->base_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  b->deadline_us = (int64_t)(b->o.max_seconds - TEARDOWN_RESERVE_S) * 1000000;
  signal(SIGINT, on_interrupt);
  signal(SIGTERM, on_interrupt);
  signal(SIGALRM, on_alarm);
  alarm((unsigned)b->o.max_seconds + 30);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  const char *redis = getenv("PARLEY_TEST_REDIS");
  if (!pg_fx_available() || !redis ||
      strncmp(redis, "redis://127.0.0.1:", 18) != 0) {
    fprintf(
        stderr,
        "bench_cluster: needs PARLEY_TEST_PG and PARLEY_TEST_REDIS on loopback "
        "(run it under scripts/with-testdb.sh, as make bench-cluster does)\n");
    return 2;
  }
  snprintf(b->redis, sizeof b->redis, "%s", redis);
  const char *tmp = getenv("TMPDIR");
  b->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (b->epfd < 0 || layout(b) < 0) {
    fprintf(stderr, "bench_cluster: setup: %s\n", strerror(errno));
    return 1;
  }
  for (int i = 0; i < b->o.nodes; i++) {
    snprintf(b->dir[i], sizeof b->dir[i], "%s/parley-bcluster-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    snprintf(b->name[i], sizeof b->name[i], "node%c", 'a' + i);
    if (!mkdtemp(b->dir[i])) {
      fprintf(stderr, "bench_cluster: mkdtemp: %s\n", strerror(errno));
      return 1;
    }
  }
  note(b, "%d nodes; %d patients and %d staff in %d practices (%s layout)",
       b->o.nodes, b->o.patients, b->n_staff, b->o.practices,
       b->o.one_node ? "one" : "spread");

  if (prepare(b) == 0) {
    note(b, "%d conversations created; load starts", b->n_created);
    run_all(b);
  }

  int exit_status[MAX_NODES];
  for (int i = 0; i < b->o.nodes; i++) {
    exit_status[i] = b->srv[i] ? pl_test_server_stop(b->srv[i]) : -1;
    if (b->srv[i] && exit_status[i] != 0)
      fail(b, "node %s exit status %d after SIGTERM (expected 0)", b->name[i],
           exit_status[i]);
  }
  for (int i = 0; i < b->n; i++)
    pl_wsc_abort(b->conns[i].ws);
  json_t *res = result_json(b, exit_status);
  for (int i = 0; i < b->o.nodes; i++) {
    pl_test_server_destroy(b->srv[i]);
    if (b->fatal[0] && b->srv[i]) /* keep the logs of a run that went wrong */
      fprintf(stderr, "node %s's log kept: %s/server.log\n", b->name[i],
              b->dir[i]);
    else
      pl_test_rmtree(b->dir[i]);
  }
  if (b->store[0])
    pg_fx_drop_db(b->store);

  for (int i = 0; i < b->o.n_rates; i++) {
    const phase_t *x = &b->phases[i];
    printf("cluster %.0f msg/s: %s", x->offered, verdict(x));
    if (x->ran)
      printf("; acked %.0f/s, ack p50/p99 %.2f/%.2f ms, cross-node delivery "
             "p50/p99 "
             "%.2f/%.2f ms",
             (double)x->acked_in_window / x->window_s,
             pl_hist_quantile(&x->ack, 0.5) / 1e3,
             pl_hist_quantile(&x->ack, 0.99) / 1e3,
             pl_hist_quantile(&x->dlv, 0.5) / 1e3,
             pl_hist_quantile(&x->dlv, 0.99) / 1e3);
    printf("\n");
  }
  if (b->fatal[0])
    printf("cluster: FAILED: %s\n", b->fatal);
  char *line =
      res ? json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
  printf("RESULT %s\n", line ? line : "{\"bench\":\"cluster\",\"ok\":false}");
  free(line);
  json_decref(res);
  close(b->epfd);
  free(b->conns);
  free(b->phases);
  return b->fatal[0] ? 1 : 0;
}
