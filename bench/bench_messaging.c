/* bench_messaging: the load generator behind `make bench-messaging`.
 *
 * It starts the real server on loopback in a temporary data directory, seeds practices of --team
 * staff and as many patients, logs everyone in over HTTPS and holds --clients WebSocket
 * connections on one epoll loop in one thread. Every patient opens one conversation; every staff
 * member subscribes live to their practice's events. Patients then send at a fixed total rate,
 * open loop (sends follow the clock, not the replies), in phases:
 *   fixed  --rate for --duration seconds; it is also the first step of the ramp;
 *   ramp   steps of --step-seconds, the rate times --ramp-factor each, until a step is not
 *          sustained (acks fall behind the offered rate, p99 ack latency over --p99-limit-ms, a
 *          backlog that does not drain, errors), then bisection between the last good rate and
 *          the first bad one;
 *   half   half the highest sustained rate for --duration seconds: the latency figures.
 * Every send carries its send time twice: in the request id (ack latency, when the durable ok
 * comes back) and in the body (delivery latency, when a staff connection gets message.created).
 * Server RSS per idle authenticated connection is measured before any load from
 * /proc/<pid>/status, at half and at all of the connections, every one of them subscribed; then
 * the patients reconnect without a subscription (unless --patients-subscribe 1), so that the load
 * is acks to patients and message.created to staff only.
 *
 * The generator shares the machine's cores with the server, so each phase reports the CPU the
 * generator and the server used: a phase where the generator is near a whole core measures the
 * generator as much as the server. Each phase also reads the server's /metrics before and
 * after its window: how many group commits, and how much of the window the storage thread spent
 * inside them. Replies are recognised with a few strstr calls rather than a
 * JSON parser for the same reason; only the rare control frames are parsed.
 *
 * Every wait has a deadline, the whole run has --max-seconds, and the last line of standard
 * output is `RESULT {json}`. Progress goes to standard error. */
#include "bench/bench_hist.h"
#include "bench/bench_proc.h"
#include "tests/support/https.h"
#include "tests/support/pclient.h"
#include "tests/support/server.h"
#include "tests/support/wsc.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PHASES 40
#define DRAIN_MS 15000      /* a phase's backlog must be answered and delivered by then */
#define SETUP_WAIT_MS 60000 /* each setup wait (all ready, all subscribed, all created) */
#define CONNECT_TIMEOUT_MS 10000
#define SUSTAIN_RATIO 0.95 /* acked within the window / offered, for a step to count */
#define SEND_BURST_MAX 512 /* sends per loop turn before replies are read again */
#define BODY_MAX 4096
#define TEARDOWN_RESERVE_S 20 /* kept free at the end of --max-seconds for stopping */

typedef struct {
    int clients, team, rate, duration_s, step_s, p99_limit_ms, body_bytes, max_inflight,
        max_seconds, refine_steps, trace, patients_subscribe;
    double ramp_factor;
} opts_t;

typedef struct bench bench_t;

/* One WebSocket client: a patient (sends) or a staff member (receives). */
typedef struct {
    bench_t *b;
    pl_wsc_t *ws;
    bool staff;
    int idx;      /* index within its role */
    int practice; /* index of its practice */
    long long conv_id;
    int inflight; /* sends without a reply yet */
    bool ready, live, created, dead;
    char token[128];
} bconn_t;

typedef struct {
    char name[16];
    double offered;  /* msg/s asked for */
    double window_s; /* how long sending ran */
    int64_t end_us;  /* end of the sending window */
    uint64_t attempted, sent, skipped, acked, acked_in_window, errors, delivered, dlv_expected;
    double gen_cpu, srv_cpu; /* cores used during the window */
    double srv_loop_cpu;     /* of which the server's main (event loop) thread */
    double srv_store_cpu;    /* and its busiest other thread: the storage thread */
    /* from the server's /metrics over the window: group commits, and the share of the window
     * the storage thread spent inside them (its batches run back to back when saturated) */
    double commits, commit_busy, commits_over_50ms;
    bool drained;
    const char *verdict; /* NULL: sustained; else why not */
    pl_hist_t ack, dlv;
} phase_t;

struct bench {
    opts_t o;
    int epfd;
    bconn_t *conns; /* patients [0, n_patients), then staff */
    int n, n_patients, n_staff, n_practices;
    int *staff_per_practice;
    char dir[256];
    pl_test_server_t *srv;
    pid_t srv_pid;
    int port;
    int64_t base_ns, deadline_us, next_alive_check_us;
    phase_t *phases;
    int n_phases;
    uint64_t txn, inflight, stray_errors;
    int next_patient, n_ready, n_live, n_created, lost;
    bool patients_subscribe; /* now: all are for the RSS figure, then as --patients-subscribe */
    char pad[BODY_MAX];
    char fatal[512];
    /* --trace: one line a second of what happened in that second */
    int64_t tick_at_us;
    uint64_t tick_sent, tick_acked, tick_delivered;
    double tick_srv_cpu, tick_loop_cpu, tick_gen_cpu;
    pl_hist_t tick_ack, tick_dlv;
};

/* The one process-wide flag: SIGINT/SIGTERM ask the loop to stop and clean up. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    interrupted = 1;
}

/* Backstop if a wait somehow overruns --max-seconds: the server dies with us (PDEATHSIG). */
static void on_alarm(int sig)
{
    static const char msg[] = "bench_messaging: hard time limit reached; exiting\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(3);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_us(const bench_t *b)
{
    return (mono_ns() - b->base_ns) / 1000;
}

static void note(const bench_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%6.1fs] ", (double)now_us(b) / 1e6);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Records the first fatal problem; every loop stops on it. */
static void fail(bench_t *b, const char *fmt, ...)
{
    if (b->fatal[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->fatal, sizeof b->fatal, fmt, ap);
    va_end(ap);
    note(b, "FATAL: %s", b->fatal);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double server_cpu_s(const bench_t *b)
{
    double s = 0;
    return pl_proc_stat(b->srv_pid, &s, NULL, NULL) == 0 ? s : 0;
}

static double server_loop_cpu_s(const bench_t *b)
{
    double s = 0;
    return pl_proc_thread_cpu(b->srv_pid, b->srv_pid, &s) == 0 ? s : 0;
}

#define MAX_THREADS 64

typedef struct {
    int n;
    pid_t tids[MAX_THREADS];
    double cpu[MAX_THREADS];
} threads_t;

/* CPU seconds the busiest thread other than the main one used between two snapshots. */
static double busiest_other_thread(const bench_t *b, const threads_t *t0, const threads_t *t1)
{
    double best = 0;
    for (int i = 0; i < t1->n; i++) {
        if (t1->tids[i] == b->srv_pid) continue;
        double before = 0;
        for (int k = 0; k < t0->n; k++)
            if (t0->tids[k] == t1->tids[i]) before = t0->cpu[k];
        if (t1->cpu[i] - before > best) best = t1->cpu[i] - before;
    }
    return best;
}

static void user_name(const bconn_t *c, char *out, size_t cap)
{
    snprintf(out, cap, "bench.%c%d", c->staff ? 's' : 'p', c->idx);
}

static void user_password(const bconn_t *c, char *out, size_t cap)
{
    snprintf(out, cap, "bench-password-%c%d", c->staff ? 's' : 'p', c->idx);
}

/* ---- receiving ---- */

static phase_t *phase_of(bench_t *b, const char *p, int64_t *sent_us, char sep)
{
    char *end;
    long pi = strtol(p, &end, 10);
    if (*end != sep || pi < 0 || pi >= b->n_phases) return NULL;
    *sent_us = strtoll(end + 1, NULL, 10);
    return &b->phases[pi];
}

/* A reply to one of our sends: p points just after `"id":"b`. */
static void on_ack(bench_t *b, bconn_t *c, const char *msg, const char *p, int64_t now)
{
    int64_t sent_us = 0;
    phase_t *x = phase_of(b, p, &sent_us, '.');
    if (!x) {
        b->stray_errors++;
        return;
    }
    c->inflight--;
    b->inflight--;
    if (strstr(msg, "\"ok\":true")) {
        x->acked++;
        if (now <= x->end_us) x->acked_in_window++;
        pl_hist_add(&x->ack, now - sent_us);
        b->tick_acked++;
        if (b->o.trace) pl_hist_add(&b->tick_ack, now - sent_us);
        x->dlv_expected += (uint64_t)b->staff_per_practice[c->practice];
    } else if (x->errors++ < 3) {
        note(b, "error reply in phase %s: %.300s", x->name, msg);
    }
}

/* A message.created pushed to staff: p points just after `"body":"bench|`. */
static void on_delivery(bench_t *b, const char *p, int64_t now)
{
    int64_t sent_us = 0;
    phase_t *x = phase_of(b, p, &sent_us, '|');
    if (!x) return;
    x->delivered++;
    pl_hist_add(&x->dlv, now - sent_us);
    b->tick_delivered++;
    if (b->o.trace) pl_hist_add(&b->tick_dlv, now - sent_us);
}

static void subscribe(bconn_t *c)
{
    static const char req[] = "{\"id\":\"s\",\"type\":\"events.subscribe\"}";
    int rc = pl_wsc_send_text(c->ws, req, sizeof req - 1);
    if (rc < 0) fail(c->b, "subscribe send failed: %s", strerror(-rc));
}

/* Session, subscription and setup frames: rare, so parsed properly. */
static void on_control(bench_t *b, bconn_t *c, const char *msg, size_t len)
{
    json_t *j = json_loadb(msg, len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *id = json_string_value(json_object_get(j, "id"));
    json_t *ok = json_object_get(j, "ok");
    if (type && !strcmp(type, "session.ready")) {
        c->ready = true;
        b->n_ready++;
        if (c->staff || b->patients_subscribe) subscribe(c);
    } else if (type && !strcmp(type, "events.live")) {
        if (!c->live) b->n_live++;
        c->live = true;
    } else if (type && (!strcmp(type, "session.error") || !strcmp(type, "session.ended") ||
                        !strcmp(type, "events.error"))) {
        fail(b, "%s %d got %.300s", c->staff ? "staff" : "patient", c->idx, msg);
    } else if (id && !strcmp(id, "c") && json_is_true(ok)) {
        json_t *conv = json_object_get(j, "conversation");
        c->conv_id = (long long)json_integer_value(json_object_get(conv, "id"));
        c->created = c->conv_id > 0;
        b->n_created += c->created;
    } else if (json_is_false(ok) || (id && !strcmp(id, "c"))) {
        fail(b, "%s %d: request failed: %.300s", c->staff ? "staff" : "patient", c->idx, msg);
    } else if ((!id || strcmp(id, "s") != 0) && b->stray_errors++ < 3) {
        note(b, "unexpected frame: %.200s", msg);
    }
    json_decref(j);
}

static void on_msg(void *ud, const char *msg, size_t len)
{
    bconn_t *c = ud;
    bench_t *b = c->b;
    int64_t now = now_us(b);
    if (strncmp(msg, "{\"type\":\"event\"", 15) == 0) {
        /* Setup events (conversation.created and its first message) and, with
         * --patients-subscribe, a patient's copy of its own message are not counted. */
        const char *p = c->staff ? strstr(msg, "\"body\":\"bench|") : NULL;
        if (p) on_delivery(b, p + 14, now);
        return;
    }
    if (!c->staff) {
        const char *p = strstr(msg, "\"id\":\"b");
        if (p) {
            on_ack(b, c, msg, p + 7, now);
            return;
        }
    }
    on_control(b, c, msg, len);
}

static void conn_lost(bench_t *b, bconn_t *c, int rc)
{
    if (c->dead) return;
    c->dead = true;
    b->lost++;
    epoll_ctl(b->epfd, EPOLL_CTL_DEL, pl_wsc_fd(c->ws), NULL);
    fail(b, "%s %d lost its connection (%s, close code %d); see %s/server.log",
         c->staff ? "staff" : "patient", c->idx, strerror(-rc), pl_wsc_close_code(c->ws), b->dir);
}

static void check_server_alive(bench_t *b, int64_t now)
{
    if (now < b->next_alive_check_us) return;
    b->next_alive_check_us = now + 500000;
    char state = 0;
    if (pl_proc_stat(b->srv_pid, NULL, NULL, &state) < 0 || state == 'Z')
        fail(b, "the server process (pid %d) exited; see %s/server.log", (int)b->srv_pid, b->dir);
}

/* One epoll turn: waits up to timeout_ms and reads every connection that has data. */
static void poll_once(bench_t *b, int timeout_ms)
{
    struct epoll_event ev[256];
    int n = epoll_wait(b->epfd, ev, 256, timeout_ms);
    if (n < 0 && errno != EINTR) fail(b, "epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        bconn_t *c = ev[i].data.ptr;
        if (c->dead) continue;
        int rc = pl_wsc_pump(c->ws, on_msg, c);
        if (rc < 0) conn_lost(b, c, rc);
    }
    int64_t now = now_us(b);
    check_server_alive(b, now);
    if (interrupted) fail(b, "interrupted");
    if (now > b->deadline_us) fail(b, "--max-seconds %d reached", b->o.max_seconds);
}

/* Polls until *counter reaches target, the time limit or a failure. */
static int wait_count(bench_t *b, const int *counter, int target, const char *what)
{
    int64_t until = now_us(b) + (int64_t)SETUP_WAIT_MS * 1000;
    while (*counter < target && !b->fatal[0]) {
        if (now_us(b) > until)
            fail(b, "%s: %d of %d after %d ms", what, *counter, target, SETUP_WAIT_MS);
        poll_once(b, 10);
    }
    return b->fatal[0] ? -1 : 0;
}

/* ---- setup ---- */

/* Practices by CLI, users by one bulk import with cheap password hashing. */
static int seed(bench_t *b)
{
    for (int p = 0; p < b->n_practices; p++) {
        char code[16], name[48];
        snprintf(code, sizeof code, "BZ%04d", p);
        snprintf(name, sizeof name, "Bench Practice %d", p);
        const char *args[] = {"org",    "add", "--data-dir", b->dir,     "--code", code,
                              "--name", name,  "--kind",     "practice", NULL};
        int rc = pl_test_run_cli(NULL, args);
        if (rc != 0) {
            fail(b, "parley org add %s exited %d", code, rc);
            return -1;
        }
    }
    char path[320];
    snprintf(path, sizeof path, "%s/bench-users.jsonl", b->dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fail(b, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    long nhs9 = 999000000; /* test range; numbers whose check digit would be 10 are skipped */
    for (int i = 0; i < b->n; i++) {
        const bconn_t *c = &b->conns[i];
        char user[32], pw[48];
        user_name(c, user, sizeof user);
        user_password(c, pw, sizeof pw);
        if (c->staff) {
            fprintf(f,
                    "{\"username\":\"%s\",\"name\":\"Bench Staff %d\",\"password\":\"%s\","
                    "\"kind\":\"staff\",\"org\":\"BZ%04d\",\"roles\":[\"gp\"]}\n",
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
            if (check == 11) check = 0;
        } while (check == 10);
        fprintf(f,
                "{\"username\":\"%s\",\"name\":\"Bench Patient %d\",\"password\":\"%s\","
                "\"kind\":\"patient\",\"nhs_number\":\"%ld%d\",\"dob\":\"1970-01-01\","
                "\"practice\":\"BZ%04d\"}\n",
                user, c->idx, pw, nhs9, check, c->practice);
    }
    if (fclose(f) != 0) {
        fail(b, "cannot write %s", path);
        return -1;
    }
    const char *args[] = {"user", "import",      "--data-dir", b->dir, "--file",
                          path,   "--kdf-log-n", "10",         NULL};
    int rc = pl_test_run_cli(NULL, args);
    unlink(path);
    if (rc != 0) fail(b, "parley user import exited %d", rc);
    return rc == 0 ? 0 : -1;
}

static int start_server(bench_t *b)
{
    static const char *const args[] = {"--rate-limit-per-sec",
                                       "100000",
                                       "--rate-limit-burst",
                                       "100000",
                                       "--max-connections",
                                       "100000",
                                       /* a load generator is one person sending fast */
                                       "--send-rate-per-min",
                                       "0",
                                       NULL};
    int rc = pl_test_server_start(&b->srv, b->dir, args);
    if (rc < 0) {
        fail(b, "server did not start: %s", strerror(-rc));
        return -1;
    }
    b->port = pl_test_server_port(b->srv);
    b->srv_pid = pl_proc_find_child(b->dir);
    if (b->srv_pid <= 0) {
        fail(b, "cannot find the server's pid in /proc");
        return -1;
    }
    return 0;
}

static int login_all(bench_t *b)
{
    for (int i = 0; i < b->n && !b->fatal[0]; i++) {
        bconn_t *c = &b->conns[i];
        char user[32], pw[48];
        user_name(c, user, sizeof user);
        user_password(c, pw, sizeof pw);
        int st = pl_pc_login(b->port, user, pw, NULL, c->token, sizeof c->token, NULL);
        if (st != 200) fail(b, "login %s: %s %d", user, st < 0 ? "error" : "HTTP", st);
        if (interrupted) fail(b, "interrupted");
    }
    return b->fatal[0] ? -1 : 0;
}

/* Connects conns[order[from..to)] and waits for their session.ready (and, for staff, the end of
 * the subscription's catch-up). */
static int connect_range(bench_t *b, const int *order, int from, int to)
{
    int ready_target = b->n_ready + (to - from), live_target = b->n_live;
    for (int k = from; k < to; k++)
        live_target += b->conns[order[k]].staff || b->patients_subscribe;
    for (int k = from; k < to && !b->fatal[0]; k++) {
        bconn_t *c = &b->conns[order[k]];
        char hdr[200];
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", c->token);
        int status = 0;
        int rc =
            pl_wsc_connect(&c->ws, "127.0.0.1", b->port, "/", hdr, CONNECT_TIMEOUT_MS, &status);
        if (rc < 0) {
            fail(b, "WebSocket connect %d: %s (HTTP %d)", k, strerror(-rc), status);
            break;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, pl_wsc_fd(c->ws), &ev) < 0) {
            fail(b, "epoll_ctl: %s", strerror(errno));
            break;
        }
        /* session.ready may have come in with the upgrade response: level-triggered epoll
         * would not report bytes the client already holds. */
        rc = pl_wsc_pump(c->ws, on_msg, c);
        if (rc < 0) conn_lost(b, c, rc);
        if ((k & 63) == 0) poll_once(b, 0);
    }
    if (wait_count(b, &b->n_ready, ready_target, "sessions ready") < 0) return -1;
    return wait_count(b, &b->n_live, live_target, "subscriptions live");
}

/* Closes every patient's connection cleanly and opens it again, subscribing only with
 * --patients-subscribe: the RSS figure wants every connection subscribed, the load layout wants
 * patients that get acks but not their own messages back. */
static int reconnect_patients(bench_t *b, const int *order)
{
    b->patients_subscribe = b->o.patients_subscribe != 0;
    if (b->patients_subscribe) return 0;
    int k = 0, *pat = calloc((size_t)b->n_patients, sizeof *pat);
    if (!pat) return -1;
    for (int i = 0; i < b->n; i++) {
        bconn_t *c = &b->conns[order[i]];
        if (c->staff) continue;
        epoll_ctl(b->epfd, EPOLL_CTL_DEL, pl_wsc_fd(c->ws), NULL);
        pl_wsc_destroy(c->ws); /* close frame, waits for the server's (1 s at most) */
        c->ws = NULL;
        b->n_ready -= c->ready;
        b->n_live -= c->live;
        c->ready = c->live = false;
        pat[k++] = order[i];
    }
    int rc = connect_range(b, pat, 0, k);
    free(pat);
    return rc;
}

static void settle(bench_t *b, int ms)
{
    int64_t until = now_us(b) + (int64_t)ms * 1000;
    while (now_us(b) < until && !b->fatal[0])
        poll_once(b, 10);
}

static int create_conversations(bench_t *b)
{
    for (int i = 0; i < b->n_patients && !b->fatal[0]; i++) {
        bconn_t *c = &b->conns[i];
        char req[256];
        int n = snprintf(req, sizeof req,
                         "{\"id\":\"c\",\"type\":\"conversation.create\",\"txn_id\":\"c%d\","
                         "\"kind\":\"admin\",\"subject\":\"Bench request %d\","
                         "\"body\":\"bench setup\"}",
                         i, i);
        int rc = pl_wsc_send_text(c->ws, req, (size_t)n);
        if (rc < 0) conn_lost(b, c, rc);
        if ((i & 63) == 0) poll_once(b, 0);
    }
    return wait_count(b, &b->n_created, b->n_patients, "conversations created");
}

/* ---- load ---- */

/* Sends one message from the next patient in turn that is under its in-flight cap. */
static void send_one(bench_t *b, phase_t *x, int pi)
{
    if (b->inflight >= (uint64_t)b->o.max_inflight * (uint64_t)b->n_patients) {
        x->skipped++;
        return;
    }
    for (int tries = 0; tries < b->n_patients; tries++) {
        bconn_t *c = &b->conns[b->next_patient];
        b->next_patient = (b->next_patient + 1) % b->n_patients;
        if (c->dead || c->inflight >= b->o.max_inflight) continue;
        char req[BODY_MAX + 512];
        long long t = (long long)now_us(b);
        char head[64];
        int hl = snprintf(head, sizeof head, "bench|%d|%lld|", pi, t);
        int pad = b->o.body_bytes > hl ? b->o.body_bytes - hl : 0;
        int n = snprintf(req, sizeof req,
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
        b->tick_sent++;
        return;
    }
    x->skipped++;
}

/* A counter from the server's /metrics text, or -1. */
static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    return -1;
}

/* Group-commit counters from /metrics: out[0] commits, out[1] seconds inside commits, out[2]
 * commits over 50 ms. Zeroes when the request fails (the figures are then only missing). */
static void metrics_snapshot(bench_t *b, double out[3])
{
    pl_http_resp_t r;
    out[0] = out[1] = out[2] = 0;
    if (pl_https_request("127.0.0.1", b->port, "GET", "/metrics", NULL, NULL, 0, 2000, &r) != 0)
        return;
    out[0] = metric(r.body, "parley_store_commit_seconds_count");
    out[1] = metric(r.body, "parley_store_commit_seconds_sum");
    out[2] = out[0] - metric(r.body, "parley_store_commit_seconds_bucket{le=\"0.05\"}");
    pl_http_resp_free(&r);
}

/* --trace: prints the last second's traffic, latency and CPU, then starts the next second. */
static void trace_tick(bench_t *b, bool start)
{
    int64_t now = now_us(b);
    if (!start && now - b->tick_at_us < 1000000) return;
    double srv = server_cpu_s(b), loop = server_loop_cpu_s(b), gen = self_cpu_s();
    if (!start) {
        double dt = (double)(now - b->tick_at_us) / 1e6;
        struct stat wal;
        char path[320];
        snprintf(path, sizeof path, "%s/parley.db-wal", b->dir);
        note(b,
             "  trace: sent %6.0f/s acked %6.0f/s dlv %7.0f/s inflight %6llu | ack p99 %7.2f"
             " dlv p99 %7.2f ms | cpu gen %.2f srv %.2f loop %.2f | wal %.1f MiB",
             (double)b->tick_sent / dt, (double)b->tick_acked / dt, (double)b->tick_delivered / dt,
             (unsigned long long)b->inflight, pl_hist_quantile(&b->tick_ack, 0.99) / 1e3,
             pl_hist_quantile(&b->tick_dlv, 0.99) / 1e3, (gen - b->tick_gen_cpu) / dt,
             (srv - b->tick_srv_cpu) / dt, (loop - b->tick_loop_cpu) / dt,
             stat(path, &wal) == 0 ? (double)wal.st_size / 1048576.0 : 0.0);
    }
    b->tick_at_us = now;
    b->tick_sent = b->tick_acked = b->tick_delivered = 0;
    b->tick_srv_cpu = srv;
    b->tick_loop_cpu = loop;
    b->tick_gen_cpu = gen;
    pl_hist_init(&b->tick_ack);
    pl_hist_init(&b->tick_dlv);
}

static const char *judge(const bench_t *b, const phase_t *x)
{
    double expected = x->offered * x->window_s;
    if (x->errors) return "error replies";
    if (!x->drained) return "backlog not answered and delivered within the drain time";
    if ((double)x->attempted < SUSTAIN_RATIO * expected) return "generator could not keep up";
    if (x->skipped) return "in-flight cap reached (server backlog)";
    if ((double)x->acked_in_window < SUSTAIN_RATIO * expected) return "acks fell behind";
    if (pl_hist_quantile(&x->ack, 0.99) > (uint64_t)b->o.p99_limit_ms * 1000)
        return "p99 ack latency over the limit";
    return NULL;
}

static void phase_report(const bench_t *b, const phase_t *x)
{
    note(b,
         "%-5s offered %7.0f/s sent %7.0f/s acked %7.0f/s | ack p50 %6.2f p99 %7.2f max %7.1f ms"
         " | dlv p50 %6.2f p99 %7.2f ms (%llu/%llu) | cpu gen %.2f srv %.2f (loop %.2f store"
         " %.2f) | commits %.0f/s, %.1f msg each, busy %.2f, %.0f over 50 ms | %s",
         x->name, x->offered, (double)x->sent / x->window_s,
         (double)x->acked_in_window / x->window_s, pl_hist_quantile(&x->ack, 0.5) / 1e3,
         pl_hist_quantile(&x->ack, 0.99) / 1e3, x->ack.max_us / 1e3,
         pl_hist_quantile(&x->dlv, 0.5) / 1e3, pl_hist_quantile(&x->dlv, 0.99) / 1e3,
         (unsigned long long)x->delivered, (unsigned long long)x->dlv_expected, x->gen_cpu,
         x->srv_cpu, x->srv_loop_cpu, x->srv_store_cpu, x->commits / x->window_s,
         x->commits > 0 ? (double)x->acked_in_window / x->commits : 0.0, x->commit_busy,
         x->commits_over_50ms, x->verdict ? x->verdict : "sustained");
}

/* Sends at `rate` msg/s for `seconds`, then waits for every ack and delivery (DRAIN_MS at
 * most). Returns the phase, or NULL when out of phase slots. */
static phase_t *run_phase(bench_t *b, const char *name, double rate, double seconds)
{
    if (b->n_phases == MAX_PHASES) return NULL;
    int pi = b->n_phases++;
    phase_t *x = &b->phases[pi];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->offered = rate;
    pl_hist_init(&x->ack);
    pl_hist_init(&x->dlv);
    double m0[3], m1[3];
    metrics_snapshot(b, m0);
    threads_t th0, th1;
    th0.n = pl_proc_threads(b->srv_pid, th0.tids, th0.cpu, MAX_THREADS);
    double g0 = self_cpu_s(), s0 = server_cpu_s(b), l0 = server_loop_cpu_s(b);
    int64_t t0 = now_us(b), now = t0;
    x->end_us = t0 + (int64_t)(seconds * 1e6);
    if (b->o.trace) trace_tick(b, true);
    while ((now = now_us(b)) < x->end_us && !b->fatal[0]) {
        if (b->o.trace) trace_tick(b, false);
        uint64_t due = (uint64_t)((double)(now - t0) * rate / 1e6);
        for (int k = 0; x->attempted < due && k < SEND_BURST_MAX && !b->fatal[0]; k++) {
            send_one(b, x, pi);
            x->attempted++;
        }
        poll_once(b, x->attempted < due ? 0 : 1);
    }
    x->window_s = (double)(now - t0) / 1e6;
    x->gen_cpu = (self_cpu_s() - g0) / x->window_s;
    x->srv_cpu = (server_cpu_s(b) - s0) / x->window_s;
    x->srv_loop_cpu = (server_loop_cpu_s(b) - l0) / x->window_s;
    th1.n = pl_proc_threads(b->srv_pid, th1.tids, th1.cpu, MAX_THREADS);
    x->srv_store_cpu = busiest_other_thread(b, &th0, &th1) / x->window_s;
    metrics_snapshot(b, m1); /* a few ms of TLS handshake, after the window on purpose */
    x->commits = m1[0] - m0[0];
    x->commit_busy = (m1[1] - m0[1]) / x->window_s;
    x->commits_over_50ms = m1[2] - m0[2];
    int64_t until = now_us(b) + (int64_t)DRAIN_MS * 1000;
    while (!b->fatal[0] && now_us(b) < until &&
           (b->inflight > 0 || x->delivered < x->dlv_expected)) {
        if (b->o.trace) trace_tick(b, false);
        poll_once(b, 5);
    }
    x->drained = b->inflight == 0 && x->delivered >= x->dlv_expected;
    x->verdict = judge(b, x);
    phase_report(b, x);
    return x;
}

static bool time_left(const bench_t *b, double seconds)
{
    return (double)(b->deadline_us - now_us(b)) / 1e6 > seconds;
}

/* The fixed phase, then the ramp: up by --ramp-factor while steps are sustained, halving if
 * even the first rate is not, then bisecting between the best good and the first bad rate.
 * Returns the highest acked rate of a sustained step (0 if none). */
static double find_max(bench_t *b)
{
    const opts_t *o = &b->o;
    double lo = 0, hi = 0, best = 0, rate = o->rate;
    int refined = 0;
    for (int step = 0; !b->fatal[0]; step++) {
        double secs = step == 0 ? o->duration_s : o->step_s;
        /* Room for this step, its drain and the half-rate phase (stopping has its own reserve). */
        if (step > 0 && !time_left(b, 2.0 * secs + o->duration_s + 15)) {
            note(b, "ramp stopped early: --max-seconds budget");
            break;
        }
        phase_t *x = run_phase(b, step == 0 ? "fixed" : "ramp", rate, secs);
        if (!x || b->fatal[0]) break;
        if (!x->verdict) {
            lo = rate;
            double acked = (double)x->acked_in_window / x->window_s;
            if (acked > best) best = acked;
        } else {
            hi = rate;
        }
        if (hi == 0) {
            rate *= o->ramp_factor;
        } else if (lo == 0) {
            if (rate < 20) break;
            rate /= 2;
        } else {
            if (refined++ >= o->refine_steps || hi / lo < 1.05) break;
            rate = sqrt(lo * hi);
        }
    }
    return best;
}

/* ---- results ---- */

static json_t *ms3(const pl_hist_t *h)
{
    return json_pack("{sf sf sf}", "p50", pl_hist_quantile(h, 0.5) / 1e3, "p99",
                     pl_hist_quantile(h, 0.99) / 1e3, "max", h->max_us / 1e3);
}

static json_t *phase_json(const phase_t *x)
{
    return json_pack(
        "{ss sf sf sI sI sf sI sI sI so so sf sf sf sf sf sf sf ss}", "phase", x->name,
        "offered_per_s", x->offered, "window_s", x->window_s, "sent", (json_int_t)x->sent, "acked",
        (json_int_t)x->acked, "acked_per_s", (double)x->acked_in_window / x->window_s, "errors",
        (json_int_t)x->errors, "delivered", (json_int_t)x->delivered, "deliveries_expected",
        (json_int_t)x->dlv_expected, "ack_ms", ms3(&x->ack), "delivery_ms", ms3(&x->dlv),
        "generator_cpu_cores", x->gen_cpu, "server_cpu_cores", x->srv_cpu,
        "server_loop_thread_cpu_cores", x->srv_loop_cpu, "server_storage_thread_cpu_cores",
        x->srv_store_cpu, "commits_per_s", x->commits / x->window_s, "storage_commit_busy",
        x->commit_busy, "commits_over_50ms", x->commits_over_50ms, "verdict",
        x->verdict ? x->verdict : "sustained");
}

static json_t *server_json(bench_t *b)
{
    pl_http_resp_t r;
    json_t *o = json_object();
    if (pl_https_request("127.0.0.1", b->port, "GET", "/metrics", NULL, NULL, 0, 5000, &r) == 0) {
        double commits = metric(r.body, "parley_store_commit_seconds_count");
        double sum = metric(r.body, "parley_store_commit_seconds_sum");
        double in = metric(r.body, "parley_messages_in_total");
        json_object_set_new(o, "messages_in", json_real(in));
        json_object_set_new(o, "messages_out",
                            json_real(metric(r.body, "parley_messages_out_total")));
        json_object_set_new(o, "commits", json_real(commits));
        json_object_set_new(o, "mean_commit_ms", json_real(commits > 0 ? sum / commits * 1e3 : 0));
        json_object_set_new(o, "messages_per_commit", json_real(commits > 0 ? in / commits : 0));
        json_object_set_new(o, "store_errors",
                            json_real(metric(r.body, "parley_store_errors_total")));
        /* The slow tail of group commits (fsync, WAL checkpoints). */
        json_object_set_new(o, "commits_over_10ms",
                            json_real(commits - metric(r.body, "parley_store_commit_seconds_bucket"
                                                               "{le=\"0.01\"}")));
        json_object_set_new(o, "commits_over_50ms",
                            json_real(commits - metric(r.body, "parley_store_commit_seconds_bucket"
                                                               "{le=\"0.05\"}")));
        pl_http_resp_free(&r);
    }
    return o;
}

/* ---- main ---- */

static void usage(void)
{
    printf("usage: bench_messaging [--clients N] [--team N] [--rate MSG_PER_S] [--duration S]\n"
           "                       [--step-seconds S] [--ramp-factor F] [--refine-steps N]\n"
           "                       [--p99-limit-ms MS] [--body-bytes N] [--max-inflight N]\n"
           "                       [--max-seconds S] [--trace 0|1] [--patients-subscribe 0|1]\n\n"
           "Runs the real server ($PARLEY_BIN) on 127.0.0.1 and measures durable acknowledged\n"
           "messages/s, ack and delivery latency at half the maximum, and server RSS per idle\n"
           "connection. Defaults: 2000 clients (half patients, half staff), practices of 5 staff\n"
           "and 5 patients, 2000 msg/s for 10 s, ramp x1.4 every 5 s with 2 bisection steps,\n"
           "p99 ack limit 500 ms, 100-byte bodies, 256 in flight per patient, 290 s in all.\n"
           "--patients-subscribe 1 also subscribes patients (they then get their own messages\n"
           "back as events, which the server must send but the benchmark does not count).\n"
           "--trace 1 prints a line a second (rates, p99, CPU, WAL size) to standard error.\n"
           "The last line of output is RESULT {json}.\n");
}

static int parse_opts(opts_t *o, int argc, char **argv)
{
    *o = (opts_t){.clients = 2000,
                  .team = 5,
                  .rate = 2000,
                  .duration_s = 10,
                  .step_s = 5,
                  .p99_limit_ms = 500,
                  .body_bytes = 100,
                  .max_inflight = 256,
                  .max_seconds = 290,
                  .refine_steps = 2,
                  .ramp_factor = 1.4};
    static const struct {
        const char *name;
        size_t off;
        int lo, hi;
    } ints[] = {
        {"--clients", offsetof(opts_t, clients), 2, 50000},
        {"--team", offsetof(opts_t, team), 1, 1000},
        {"--rate", offsetof(opts_t, rate), 1, 10000000},
        {"--duration", offsetof(opts_t, duration_s), 1, 600},
        {"--step-seconds", offsetof(opts_t, step_s), 1, 600},
        {"--p99-limit-ms", offsetof(opts_t, p99_limit_ms), 1, 60000},
        {"--body-bytes", offsetof(opts_t, body_bytes), 1, BODY_MAX - 1},
        {"--max-inflight", offsetof(opts_t, max_inflight), 1, 1000000},
        {"--max-seconds", offsetof(opts_t, max_seconds), 30, 7200},
        {"--refine-steps", offsetof(opts_t, refine_steps), 0, 10},
        {"--trace", offsetof(opts_t, trace), 0, 1},
        {"--patients-subscribe", offsetof(opts_t, patients_subscribe), 0, 1},
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
        const char *v = argv[++i];
        char *end;
        if (!strcmp(argv[i - 1], "--ramp-factor")) {
            o->ramp_factor = strtod(v, &end);
            if (*end || o->ramp_factor < 1.05 || o->ramp_factor > 10) {
                fprintf(stderr, "--ramp-factor must be 1.05 to 10\n");
                return -1;
            }
            continue;
        }
        size_t k = 0;
        while (k < sizeof ints / sizeof ints[0] && strcmp(argv[i - 1], ints[k].name))
            k++;
        long n = strtol(v, &end, 10);
        if (k == sizeof ints / sizeof ints[0] || *end || n < ints[k].lo || n > ints[k].hi) {
            fprintf(stderr, "unknown option or bad value: %s %s (see --help)\n", argv[i - 1], v);
            return -1;
        }
        *(int *)((char *)o + ints[k].off) = (int)n;
    }
    return 0;
}

/* Lays out patients and staff: patient i and staff i belong to practice i % practices. */
static int layout(bench_t *b)
{
    const opts_t *o = &b->o;
    b->n = o->clients;
    b->n_patients = o->clients / 2;
    b->n_staff = o->clients - b->n_patients;
    b->n_practices = (b->n_patients + o->team - 1) / o->team;
    b->conns = calloc((size_t)b->n, sizeof *b->conns);
    b->staff_per_practice = calloc((size_t)b->n_practices, sizeof *b->staff_per_practice);
    b->phases = calloc(MAX_PHASES, sizeof *b->phases);
    if (!b->conns || !b->staff_per_practice || !b->phases) return -1;
    for (int i = 0; i < b->n; i++) {
        bconn_t *c = &b->conns[i];
        c->b = b;
        c->staff = i >= b->n_patients;
        c->idx = c->staff ? i - b->n_patients : i;
        c->practice = c->idx % b->n_practices;
        if (c->staff) b->staff_per_practice[c->practice]++;
    }
    memset(b->pad, 'x', sizeof b->pad);
    return 0;
}

/* Server (and generator) resident set around connecting: before, at half, at all. */
typedef struct {
    long before, half, all, gen_before, gen_all;
} rss_t;

/* Seeds, starts the server, logs everyone in, connects every client subscribed (measuring RSS
 * on the way), reconnects the patients for the load and creates their conversations. 0, or -1
 * with b->fatal set. */
static int prepare(bench_t *b, rss_t *rss)
{
    if (seed(b) < 0 || start_server(b) < 0) return -1;
    note(b, "server pid %d on port %d; logging in %d users", (int)b->srv_pid, b->port, b->n);
    if (login_all(b) < 0) return -1;
    /* Interleave patients and staff so that each half is a fair sample. */
    int k = 0, *order = calloc((size_t)b->n, sizeof *order);
    if (!order) {
        fail(b, "out of memory");
        return -1;
    }
    for (int i = 0; i < b->n_staff || i < b->n_patients; i++) {
        if (i < b->n_patients) order[k++] = i;
        if (i < b->n_staff) order[k++] = b->n_patients + i;
    }
    settle(b, 1000);
    rss->before = pl_proc_rss_kib(b->srv_pid);
    rss->gen_before = pl_proc_rss_kib(getpid());
    note(b, "server RSS before connecting: %ld KiB; connecting", rss->before);
    int rc = connect_range(b, order, 0, b->n / 2);
    if (rc == 0) {
        settle(b, 1000);
        rss->half = pl_proc_rss_kib(b->srv_pid);
        note(b, "server RSS with %d connections: %ld KiB", b->n / 2, rss->half);
        rc = connect_range(b, order, b->n / 2, b->n);
    }
    if (rc == 0) {
        settle(b, 1000);
        rss->all = pl_proc_rss_kib(b->srv_pid);
        rss->gen_all = pl_proc_rss_kib(getpid());
        note(b, "server RSS with %d idle subscribed connections: %ld KiB (%.2f KiB each)", b->n,
             rss->all, (double)(rss->all - rss->before) / b->n);
        rc = reconnect_patients(b, order);
    }
    free(order);
    if (rc == 0) rc = create_conversations(b);
    if (rc < 0 && !b->fatal[0]) fail(b, "setup failed");
    return rc;
}

static json_t *result_json(bench_t *b, double best, const phase_t *half, const rss_t *rss,
                           json_t *srvj)
{
    double per_conn = rss->all > 0 ? (double)(rss->all - rss->before) / b->n : 0;
    double marginal = rss->all > 0 ? (double)(rss->all - rss->half) / (b->n - b->n / 2) : 0;
    double gen = rss->all > 0 ? (double)(rss->gen_all - rss->gen_before) / b->n : 0;
    json_t *phases = json_array();
    for (int i = 0; i < b->n_phases; i++)
        json_array_append_new(phases, phase_json(&b->phases[i]));
    const opts_t *o = &b->o;
    json_t *res = json_pack(
        "{ss sb so sf so so so s{sI sI sI sf sf sf} s{si si si si si si sf si si si si sb}"
        " s{si si si} so so sf sI sI}",
        "bench", "messaging", "ok", !b->fatal[0], "error",
        b->fatal[0] ? json_string(b->fatal) : json_null(), "durable_acked_msgs_per_s", best,
        "half_rate", half ? phase_json(half) : json_null(), "ack_latency_ms_at_half",
        half ? ms3(&half->ack) : json_null(), "delivery_latency_ms_at_half",
        half ? ms3(&half->dlv) : json_null(), "rss", "server_before_kib", (json_int_t)rss->before,
        "server_half_kib", (json_int_t)rss->half, "server_all_kib", (json_int_t)rss->all,
        "per_idle_conn_kib", per_conn, "marginal_per_conn_kib", marginal, "generator_per_conn_kib",
        gen, "params", "clients", b->n, "patients", b->n_patients, "staff", b->n_staff, "practices",
        b->n_practices, "team", o->team, "rate", o->rate, "ramp_factor", o->ramp_factor,
        "duration_s", o->duration_s, "step_s", o->step_s, "p99_limit_ms", o->p99_limit_ms,
        "body_bytes", o->body_bytes, "patients_subscribe", o->patients_subscribe != 0, "targets",
        "durable_msgs_per_s", 20000, "p99_delivery_ms_at_half", 25, "idle_conn_kib", 20, "phases",
        phases, "server", srvj, "elapsed_s", (double)now_us(b) / 1e6, "connections_lost",
        (json_int_t)b->lost, "unexpected_frames", (json_int_t)b->stray_errors);
    return res;
}

static void print_summary(const bench_t *b, double best, const phase_t *half, const rss_t *rss)
{
    printf("messaging: durable acked %.0f msg/s", best);
    if (half)
        printf("; at %.0f msg/s ack p50/p99/max %.2f/%.2f/%.1f ms, delivery p50/p99/max "
               "%.2f/%.2f/%.1f ms",
               half->offered, pl_hist_quantile(&half->ack, 0.5) / 1e3,
               pl_hist_quantile(&half->ack, 0.99) / 1e3, half->ack.max_us / 1e3,
               pl_hist_quantile(&half->dlv, 0.5) / 1e3, pl_hist_quantile(&half->dlv, 0.99) / 1e3,
               half->dlv.max_us / 1e3);
    if (rss->all > 0)
        printf("; server RSS %.2f KiB per idle connection",
               (double)(rss->all - rss->before) / b->n);
    printf("\n");
    if (b->fatal[0]) printf("messaging: FAILED: %s\n", b->fatal);
}

int main(int argc, char **argv)
{
    static bench_t bench;
    bench_t *b = &bench;
    int prc = parse_opts(&b->o, argc, argv);
    if (prc != 0) return prc > 0 ? 0 : 2;
    b->base_ns = mono_ns();
    b->deadline_us = (int64_t)(b->o.max_seconds - TEARDOWN_RESERVE_S) * 1000000;
    b->patients_subscribe = true;
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)b->o.max_seconds + 30);
    /* Two descriptors per connection between us and the server (which inherits this). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof b->dir, "%s/parley-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0 || layout(b) < 0 || !mkdtemp(b->dir)) {
        fprintf(stderr, "bench_messaging: setup: %s\n", strerror(errno));
        return 1;
    }
    note(b, "%d clients: %d patients, %d staff in %d practices; data in %s", b->n, b->n_patients,
         b->n_staff, b->n_practices, b->dir);

    rss_t rss = {0};
    double best = 0;
    phase_t *half = NULL;
    if (prepare(b, &rss) == 0) {
        note(b, "%d conversations created; load starts", b->n_created);
        best = find_max(b);
        note(b, "max sustained durable acked rate: %.0f msg/s", best);
        /* find_max left room for this phase; if noise ate into it, shorten it, never overrun. */
        double secs = (double)(b->deadline_us - now_us(b)) / 1e6 - 10;
        if (secs > b->o.duration_s) secs = b->o.duration_s;
        if (best > 0 && !b->fatal[0] && secs >= 1) half = run_phase(b, "half", best / 2, secs);
    }

    /* Metrics while the server still runs, then a clean stop, which is itself checked. */
    json_t *srvj = b->srv && !b->fatal[0] ? server_json(b) : json_object();
    int exit_status = b->srv ? pl_test_server_stop(b->srv) : -1;
    json_object_set_new(srvj, "exit_status_after_sigterm", json_integer(exit_status));
    if (b->srv && exit_status != 0)
        fail(b, "server exit status %d after SIGTERM (expected 0)", exit_status);
    for (int i = 0; i < b->n; i++)
        pl_wsc_abort(b->conns[i].ws);
    pl_test_server_destroy(b->srv);

    json_t *res = result_json(b, best, half, &rss, srvj);
    print_summary(b, best, half, &rss);
    char *line = res ? json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    printf("RESULT %s\n", line ? line : "{\"bench\":\"messaging\",\"ok\":false}");
    free(line);
    json_decref(res);

    if (b->fatal[0] && b->srv_pid > 0) /* keep the server's log of a run that went wrong */
        fprintf(stderr, "data directory kept for its server.log: %s\n", b->dir);
    else
        pl_test_rmtree(b->dir);
    close(b->epfd);
    free(b->conns);
    free(b->staff_per_practice);
    free(b->phases);
    return b->fatal[0] ? 1 : 0;
}
