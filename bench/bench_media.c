/* bench_media: the load generator behind `make bench-media`. It measures Parley's media
 * forwarding and Janus's (VideoRoom) under the same load in the same run.
 *
 * The load model: rooms of one publisher and --subs subscribers (a Parley call holds at most
 * three people, so --subs is 1 or 2). Each publisher sends paced video-like RTP, --bitrate in
 * --packet-bytes packets (1.2 Mbit/s in 1,100 bytes: about 136 packets/s), VP8 with the payload
 * type the server negotiated; the subscribers count what they receive and decrypt. See
 * bench_media_rtc.h for the packets and the two latency figures.
 *
 * The run:
 *   1. A private network namespace (as root): loopback up and a veth pair carrying
 *      127.0.0.1/32, because Janus gathers candidates only from interfaces other than lo
 *      (DESIGN.md, "Media"). Both servers and the generator live in it; every packet goes to
 *      127.0.0.1. Without root, Parley is measured on the host's loopback and Janus is skipped.
 *   2. Parley: the real server (demo data), --rooms-max rooms set up (bench_media_parley.h).
 *   3. Parley's capacity: a ramp in the number of active rooms (x --ramp-factor per step of
 *      --step-seconds, then --refine-steps bisections) until a step is not sustained: loss over
 *      --loss-limit, median latency over --p50-limit-ms, or the generator off its schedule.
 *   4. The comparison levels: 50% and 90% of Parley's capacity (in rooms) and the "many rooms"
 *      scales of --scales. Janus (bench_media_janus.h) gets as many rooms as the largest level.
 *   5. --runs rounds; each round runs every level on Parley and then on Janus, --duration
 *      seconds each after --warmup seconds, alternating so that slow drift of this shared
 *      machine lands on both. The other server is paused (SIGSTOP) meanwhile: idle, Janus's
 *      threads alone take about a tenth of a core here. The figures are medians over rounds.
 *   6. Janus's own capacity, with the same ramp (--janus-ramp 1), up to the rooms it has.
 * Server CPU is utime+stime of the server process (all threads) from /proc/<pid>/stat over
 * each window; packets forwarded are those subscribers received and decrypted. Each window
 * also records the UDP drops of the server's and the generator's sockets (/proc/net/udp: the
 * namespace is the bench's own) and how long the processes sat runnable without a CPU
 * (/proc/<pid>/task/<tid>/schedstat), which tells a slow server from a busy machine.
 *
 * Every wait has a deadline, the whole run has --max-seconds (with a hard alarm 30 s later),
 * both servers die with the generator, and the last line of standard output is
 * `RESULT {json}`. Progress goes to standard error. */
#include "bench/bench_media_janus.h"
#include "bench/bench_media_opts.h"
#include "bench/bench_media_parley.h"
#include "bench/bench_media_report.h"
#include "bench/bench_media_rtc.h"
#include "bench/bench_proc.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define MAX_LEVELS 8
#define JANUS_SETUP_S_PER_ROOM 0.2 /* a rough budget, to refuse a Janus setup that cannot fit */

typedef struct {
    char label[24];
    int rooms;
    int phase[2][BM_MAX_RUNS]; /* per server (0 parley, 1 janus), per run; -1 none */
} level_t;

typedef struct {
    opts_t o;
    bm_gen_t g;
    bm_side_t side[2];
    bm_parley_t px;
    bm_janus_t jx;
    bool janus_up, in_netns;
    char janus_skip[320];
    char dir[256];
    int64_t t0_ns, deadline_ns;
    level_t levels[MAX_LEVELS];
    int n_levels;
    int parley_ramp[24], janus_ramp[24], n_parley_ramp, n_janus_ramp;
    int parley_cap_phase, janus_cap_phase; /* the best sustained step, or -1 */
    bool parley_cap_reached, janus_cap_reached;
    const char *parley_limited_by, *janus_limited_by;
} bench_t;

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    interrupted = 1;
}

static void on_alarm(int sig)
{
    static const char msg[] = "bench_media: hard time limit reached; exiting\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(3);
}

static void note(const bench_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%6.1fs] ", (double)(bm_mono_ns() - b->t0_ns) / 1e9);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double proc_cpu_s(pid_t pid)
{
    double s = 0;
    return pid > 0 && pl_proc_stat(pid, &s, NULL, NULL) == 0 ? s : 0;
}

/* UDP receive-buffer drops in this network namespace (/proc/net/udp): on sockets whose local
 * port is in [lo, hi] (the measured server's) and on those of neither server (the generator's).
 * The paused server's [olo, ohi] is left out: consent checks pile up there meanwhile. */
static void udp_drops(int lo, int hi, int olo, int ohi, long long *server, long long *others)
{
    *server = *others = 0;
    FILE *f = fopen("/proc/net/udp", "re");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned port;
        long long drops;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %*x %*x:%*x %*x:%*x %*x %*u %*d %*u %*d %*x %lld",
                   &port, &drops) != 2)
            continue;
        if ((int)port >= lo && (int)port <= hi)
            *server += drops;
        else if ((int)port < olo || (int)port > ohi)
            *others += drops;
    }
    fclose(f);
}

/* Seconds the threads of pid spent runnable but waiting for a CPU (/proc/<pid>/task/<tid>/
 * schedstat, second field): time the machine, not the process, took. */
static double runq_wait_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = pid > 0 ? opendir(path) : NULL;
    if (!d) return 0;
    double total = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p2[128];
        snprintf(p2, sizeof p2, "/proc/%d/task/%.20s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(p2, "re");
        unsigned long long run, wait;
        if (f && fscanf(f, "%llu %llu", &run, &wait) == 2) total += (double)wait / 1e9;
        if (f) fclose(f);
    }
    closedir(d);
    return total;
}

static void server_ports(const bench_t *b, int si, int *lo, int *hi)
{
    if (si == 0)
        *lo = *hi = b->px.media_port;
    else {
        *lo = 20000; /* rtp_port_range in bench_media_janus.h */
        *hi = 32000;
    }
}

/* An experiment, off by default (--parley-rcvbuf): gives Parley's media socket (the UDP socket
 * bound to port) a receive buffer of `bytes` from outside, by taking a copy of its descriptor
 * with pidfd_getfd (root) and setting SO_RCVBUFFORCE on it; the socket is shared, so the server
 * sees the change. Parley now asks for 4 MiB itself (PL_MEDIA_RCVBUF_BYTES), so this only
 * matters for sizes beyond that. 0 or a negative errno. */
static int set_server_rcvbuf(pid_t pid, int port, int bytes)
{
    unsigned long inode = 0;
    FILE *f = fopen("/proc/net/udp", "re");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        unsigned p;
        unsigned long ino;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %*x %*x:%*x %*x:%*x %*x %*u %*d %lu", &p, &ino) ==
                2 &&
            (int)p == port)
            inode = ino;
    }
    if (f) fclose(f);
    char dir[64], want[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *d = inode ? opendir(dir) : NULL;
    int target = -1;
    for (struct dirent *e; d && target < 0 && (e = readdir(d));) {
        char path[300], link[64];
        snprintf(path, sizeof path, "%s/%.200s", dir, e->d_name);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            if (!strcmp(link, want)) target = atoi(e->d_name);
        }
    }
    if (d) closedir(d);
    if (target < 0) return -ENOENT;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int fd = pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, target, 0) : -1;
    int rc = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) == 0
                 ? 0
                 : -errno;
    if (fd >= 0) close(fd);
    if (pidfd >= 0) close(pidfd);
    return rc;
}

/* ---- the network namespace ---- */

/* Runs `ip args...` (NULL-terminated) and waits: 0 if it exited 0, else -1. */
static int run_ip(const char *const *args)
{
    char *argv[12] = {"ip"};
    for (int i = 0; args[i] && i < 10; i++)
        argv[i + 1] = (char *)args[i];
    pid_t pid;
    extern char **environ;
    if (posix_spawnp(&pid, "ip", NULL, NULL, argv, environ) != 0) return -1;
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Moves this process into a new network namespace with lo up and a veth pair whose one end
 * carries 127.0.0.1/32 (for Janus). 0; 1 when only lo could be set up (no Janus); -1 when this
 * process stays in the host's namespace; -2 when it is in a new one without a working lo. */
static int enter_netns(bench_t *b)
{
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(b->janus_skip, sizeof b->janus_skip,
                 "no network namespace (unshare: %s; run as root): Janus gathers candidates "
                 "only from non-loopback interfaces, and the bench sends to nothing but "
                 "127.0.0.1",
                 strerror(errno));
        return -1;
    }
    static const char *const lo_up[] = {"link", "set", "lo", "up", NULL};
    static const char *const veth[] = {"link", "add",  BM_JANUS_IF,     "type", "veth",
                                       "peer", "name", BM_JANUS_IF "p", NULL};
    static const char *const addr[] = {"addr", "add", "127.0.0.1/32", "dev", BM_JANUS_IF, NULL};
    static const char *const up[] = {"link", "set", BM_JANUS_IF, "up", NULL};
    static const char *const peer_up[] = {"link", "set", BM_JANUS_IF "p", "up", NULL};
    if (run_ip(lo_up) < 0) return -2; /* nothing would work in it */
    if (run_ip(veth) < 0) {
        snprintf(b->janus_skip, sizeof b->janus_skip, "cannot create a veth pair for Janus");
        return 1;
    }
    if (run_ip(addr) < 0 || run_ip(up) < 0 || run_ip(peer_up) < 0) {
        snprintf(b->janus_skip, sizeof b->janus_skip, "cannot put 127.0.0.1/32 on the veth");
        return 1;
    }
    return 0;
}

/* ---- phases ---- */

static int new_phase(bench_t *b, const char *label, int si, int rooms)
{
    bm_gen_t *g = &b->g;
    if (g->n_phases >= BM_MAX_PHASES) {
        snprintf(g->fatal, sizeof g->fatal, "too many phases");
        return -1;
    }
    bm_phase_t *x = &g->phases[g->n_phases];
    memset(x, 0, sizeof *x);
    snprintf(x->label, sizeof x->label, "%s", label);
    x->server = b->side[si].name;
    x->rooms = rooms;
    x->subs = b->side[si].subs;
    x->offered_pps = g->pps * rooms;
    pl_hist_init(&x->lat_k);
    pl_hist_init(&x->lat_r);
    return g->n_phases++;
}

/* Runs `rooms` rooms of server si: a warm-up, then the measured window. Returns the measured
 * phase's index, or -1. */
static int measure(bench_t *b, int si, int rooms, const char *label, double secs)
{
    bm_gen_t *g = &b->g;
    bm_side_t *s = &b->side[si];
    if (g->fatal[0]) return -1;
    if (bm_mono_ns() + (int64_t)((b->o.warmup_s + secs + 1) * 1e9) > b->deadline_ns) {
        snprintf(g->fatal, sizeof g->fatal, "--max-seconds %d reached", b->o.max_seconds);
        return -1;
    }
    if (si == 0) bm_parley_drain(&b->px);
    /* The other server is paused for the whole measurement: idle, Janus's threads alone take
     * about 0.1 of a core here, which the measured server would otherwise lose. */
    pid_t other = b->side[1 - si].pid;
    if (other > 0) kill(other, SIGSTOP);
    char wl[48];
    snprintf(wl, sizeof wl, "%s warm-up", label);
    int w = new_phase(b, wl, si, rooms);
    if (w < 0) {
        if (other > 0) kill(other, SIGCONT);
        return -1;
    }
    bm_run(g, s, rooms, (int64_t)(b->o.warmup_s * 1e9), w);
    int pi = new_phase(b, label, si, rooms);
    if (pi < 0) {
        if (other > 0) kill(other, SIGCONT);
        return -1;
    }
    bm_phase_t *x = &g->phases[pi];
    int lo, hi, olo, ohi;
    server_ports(b, si, &lo, &hi);
    server_ports(b, 1 - si, &olo, &ohi);
    long long sd0, gd0, sd1, gd1;
    udp_drops(lo, hi, olo, ohi, &sd0, &gd0);
    double c0 = proc_cpu_s(s->pid), o0 = proc_cpu_s(other), gc0 = self_cpu_s();
    double w0 = runq_wait_s(s->pid), gw0 = runq_wait_s(getpid());
    int64_t t0 = bm_mono_ns();
    bm_run(g, s, rooms, (int64_t)(secs * 1e9), pi);
    int64_t t1 = bm_mono_ns();
    x->srv_cpu_s = proc_cpu_s(s->pid) - c0;
    x->other_cpu_s = proc_cpu_s(other) - o0;
    x->gen_cpu_s = self_cpu_s() - gc0;
    x->srv_wait_s = runq_wait_s(s->pid) - w0;
    x->gen_wait_s = runq_wait_s(getpid()) - gw0;
    x->window_s = (double)(t1 - t0) / 1e9;
    /* The tail: packets sent at the very end of the window still count for it. */
    bm_idle(g, 300000000);
    if (other > 0) kill(other, SIGCONT);
    udp_drops(lo, hi, olo, ohi, &sd1, &gd1);
    x->srv_sock_drops = sd1 - sd0;
    x->gen_sock_drops = gd1 - gd0;
    char state = 0;
    if (pl_proc_stat(s->pid, NULL, NULL, &state) < 0 || state == 'Z')
        snprintf(g->fatal, sizeof g->fatal, "the %s process (pid %d) exited", s->name, (int)s->pid);
    if (interrupted) snprintf(g->fatal, sizeof g->fatal, "interrupted");
    double fwd = (double)x->received / x->window_s;
    note(b,
         "%-6s %-14s rooms %4d: sent %6.0f/s, forwarded %7.0f/s, loss %.3f%%, server %.2f cores "
         "(%.1f s/Mpkt), p50/p99 %.3f/%.3f ms (read %.3f/%.3f), gen %.2f cores, lag %.1f ms, "
         "drops %lld/%lld, runq wait %.2f/%.2f",
         s->name, label, rooms, (double)x->sent / x->window_s, fwd, loss_of(x) * 100,
         x->srv_cpu_s / x->window_s, x->received ? x->srv_cpu_s / (double)x->received * 1e6 : 0,
         (double)pl_hist_quantile(&x->lat_k, 0.5) / 1e3,
         (double)pl_hist_quantile(&x->lat_k, 0.99) / 1e3,
         (double)pl_hist_quantile(&x->lat_r, 0.5) / 1e3,
         (double)pl_hist_quantile(&x->lat_r, 0.99) / 1e3, x->gen_cpu_s / x->window_s,
         (double)x->max_lag_us / 1e3, x->srv_sock_drops, x->gen_sock_drops,
         x->srv_wait_s / x->window_s, x->gen_wait_s / x->window_s);
    return g->fatal[0] ? -1 : pi;
}

/* NULL when the phase was sustained; else why not, and *limit names what gave out. */
static const char *verdict(const bench_t *b, const bm_phase_t *x, const char **limit)
{
    if (x->misrouted) {
        *limit = "server (misrouting)";
        return "packets reached the wrong room";
    }
    /* A stall of the generator now and then (this machine is shared) is not a limit; sending
     * less than was asked, or not reading fast enough, is. */
    if ((double)x->sent < 0.98 * x->offered_pps * x->window_s || x->gen_sock_drops) {
        *limit = "generator";
        return "the generator could not keep up (sent less than offered, or its sockets "
               "overflowed)";
    }
    bool cpu = x->srv_cpu_s / x->window_s > 0.9;
    if (loss_of(x) > b->o.loss_limit) {
        *limit = cpu                 ? "server (CPU)"
                 : x->srv_sock_drops ? "server (its receive buffer overflowed while it was not "
                                       "running)"
                                     : "server";
        return "loss over --loss-limit";
    }
    /* The median, not the tail: on this shared machine a stall of tens of milliseconds now and
     * then reaches the p99 of any step, while a server that cannot keep up queues everything. */
    if (pl_hist_quantile(&x->lat_k, 0.5) > (uint64_t)b->o.p50_limit_ms * 1000) {
        *limit = cpu ? "server (CPU)" : "latency";
        return "median latency over --p50-limit-ms";
    }
    return NULL;
}

/* The capacity ramp on server si, up to `max_rooms`. Records the steps; returns the index of
 * the best sustained step's phase, or -1. */
static int ramp(bench_t *b, int si, int max_rooms, int *steps, int *n_steps, bool *reached,
                const char **limited_by)
{
    int good = 0, bad = 0, best = -1;
    double best_fwd = 0;
    *reached = false;
    *limited_by = NULL;
    int k = b->o.ramp_start < max_rooms ? b->o.ramp_start : max_rooms;
    int refine = 0;
    if (max_rooms < 1) return -1;
    while (*n_steps < 24 && !b->g.fatal[0]) {
        int pi = measure(b, si, k, "ramp", b->o.step_s);
        if (pi < 0) break;
        steps[(*n_steps)++] = pi;
        const char *limit = NULL;
        const char *why = verdict(b, &b->g.phases[pi], &limit);
        if (!why) {
            double fwd = (double)b->g.phases[pi].received / b->g.phases[pi].window_s;
            if (fwd > best_fwd) {
                best_fwd = fwd;
                best = pi;
            }
            good = k;
        } else {
            note(b, "%s: %d rooms not sustained: %s", b->side[si].name, k, why);
            bad = k;
            *reached = true;
            *limited_by = limit;
        }
        int next;
        if (!bad) {
            if (k >= max_rooms) break; /* every room set up is sustained */
            next = (int)ceil(k * b->o.ramp_factor);
            if (next > max_rooms) next = max_rooms;
        } else {
            if (refine++ >= b->o.refine_steps || bad - good <= 1) break;
            next = (good + bad) / 2;
        }
        k = next;
    }
    return best;
}

/* ---- setup ---- */

/* Opens the peers of rooms [from, to) of side si (publishers get an SSRC of their own). */
static int open_peers(bench_t *b, int si, int from, int to)
{
    bm_side_t *s = &b->side[si];
    for (int r = from; r < to; r++)
        for (int k = 0; k <= s->subs; k++) {
            bm_peer_t *p = &s->peers[r * (1 + s->subs) + k];
            if (bm_peer_open(&b->g, s, p, r, k) < 0) return -1;
            p->ssrc = 0x10000000u + (uint32_t)si * 0x01000000u + (uint32_t)r * 16u;
            p->seq0 = (uint16_t)(r * 7919);
            p->ts0 = (uint32_t)r * 104729u;
        }
    return 0;
}

static int setup_parley(bench_t *b)
{
    bm_side_t *s = &b->side[0];
    char fixture[512];
    const char *env = getenv("BENCH_FIXTURE_SDP");
    if (env && *env)
        snprintf(fixture, sizeof fixture, "%s", env);
    else {
        /* __FILE__ is bench/bench_media.c as make compiles it from the repository root. */
        snprintf(fixture, sizeof fixture, "%s", __FILE__);
        char *slash = strrchr(fixture, '/');
        snprintf(slash ? slash + 1 : fixture,
                 sizeof fixture - (size_t)(slash ? slash + 1 - fixture : 0),
                 "../tests/media/fixtures/chromium_sendrecv.sdp");
    }
    if (bm_parley_start(&b->px, &b->g, s, fixture) < 0) return -1;
    note(b, "parley pid %d, media port %d; setting up %d rooms of 1 + %d", (int)s->pid,
         b->px.media_port, b->o.rooms_max, s->subs);
    s->server.sin_port = htons((uint16_t)b->px.media_port);
    if (b->o.parley_rcvbuf > 0) {
        int rc = set_server_rcvbuf(s->pid, b->px.media_port, b->o.parley_rcvbuf);
        if (rc < 0) {
            snprintf(b->g.fatal, sizeof b->g.fatal, "--parley-rcvbuf: %s", strerror(-rc));
            return -1;
        }
        note(b, "experiment: parley's media socket now has SO_RCVBUFFORCE %d", b->o.parley_rcvbuf);
    }
    for (int r = 0; r < b->o.rooms_max && !b->g.fatal[0]; r++) {
        if (open_peers(b, 0, r, r + 1) < 0 || bm_parley_room(&b->px, &b->g, s, r) < 0) break;
        s->n_rooms = r + 1;
        if ((r + 1) % 32 == 0 || r + 1 == b->o.rooms_max) {
            int from = (r / 32) * 32 * (1 + s->subs);
            bm_connect(&b->g, s, from, s->n_rooms * (1 + s->subs), 30000);
            bm_parley_drain(&b->px);
        }
        if (interrupted) snprintf(b->g.fatal, sizeof b->g.fatal, "interrupted");
    }
    if (b->g.fatal[0]) return -1;
    note(b, "parley: %d rooms, %d peers connected", s->n_rooms, s->n_rooms * (1 + s->subs));
    return 0;
}

/* Starts Janus and sets up rooms [have, want). A failure here skips Janus, not the run. */
static int setup_janus(bench_t *b, int want)
{
    bm_side_t *s = &b->side[1];
    const char *why = NULL;
    if (!b->janus_up) {
        char dir[300];
        snprintf(dir, sizeof dir, "%s/janus", b->dir);
        mkdir(dir, 0700);
        if (bm_janus_start(&b->jx, dir, b->o.event_loops, &why) < 0) {
            snprintf(b->janus_skip, sizeof b->janus_skip, "%s", why);
            return -1;
        }
        b->janus_up = true;
        s->pid = b->jx.pid;
        note(b, "janus pid %d, HTTP port %d, log in %s/janus.log", (int)s->pid, b->jx.port, dir);
    }
    int have = s->n_rooms;
    if (want <= have) return 0;
    note(b, "janus: setting up rooms %d..%d", have, want - 1);
    for (int r = have; r < want && !b->g.fatal[0]; r++) {
        if (open_peers(b, 1, r, r + 1) < 0 || bm_janus_room(&b->jx, &b->g, s, r) < 0) break;
        s->n_rooms = r + 1;
        /* Parley's peers wait meanwhile: their consent must not lapse (30 s). */
        bm_consent(&b->g, bm_mono_ns());
        bm_poll(&b->g, 0);
        if ((r + 1) % 32 == 0 || r + 1 == want) {
            int from = (r / 32) * 32;
            if (from < have) from = have;
            bm_connect(&b->g, s, from * (1 + s->subs), s->n_rooms * (1 + s->subs), 30000);
        }
        if (interrupted) snprintf(b->g.fatal, sizeof b->g.fatal, "interrupted");
    }
    if (b->g.fatal[0]) {
        snprintf(b->janus_skip, sizeof b->janus_skip, "setup failed: %.200s", b->g.fatal);
        b->g.fatal[0] = '\0';
        s->n_rooms = have;
        return -1;
    }
    note(b, "janus: %d rooms, %d peers connected (events seen: %llu, hangups %llu)", s->n_rooms,
         s->n_rooms * (1 + s->subs), (unsigned long long)b->jx.other_events,
         (unsigned long long)b->jx.hangups);
    return 0;
}

/* ---- the run ---- */

static void add_level(bench_t *b, const char *label, int rooms)
{
    if (rooms < 1 || rooms > b->side[0].n_rooms || b->n_levels == MAX_LEVELS) return;
    for (int i = 0; i < b->n_levels; i++)
        if (b->levels[i].rooms == rooms) {
            /* one measurement serves both names */
            size_t l = strlen(b->levels[i].label);
            snprintf(b->levels[i].label + l, sizeof b->levels[i].label - l, "=%s", label);
            return;
        }
    level_t *l = &b->levels[b->n_levels++];
    snprintf(l->label, sizeof l->label, "%s", label);
    l->rooms = rooms;
    for (int s = 0; s < 2; s++)
        for (int r = 0; r < BM_MAX_RUNS; r++)
            l->phase[s][r] = -1;
}

static int cmp_level(const void *a, const void *b)
{
    return ((const level_t *)a)->rooms - ((const level_t *)b)->rooms;
}

static void choose_levels(bench_t *b)
{
    int cap = b->parley_cap_phase >= 0 ? b->g.phases[b->parley_cap_phase].rooms : 0;
    if (cap > 0) {
        add_level(b, "50%", (int)lround(cap * 0.5));
        add_level(b, "90%", (int)lround(cap * 0.9));
    }
    for (int i = 0; i < b->o.n_scales; i++) {
        char l[16];
        snprintf(l, sizeof l, "%d rooms", b->o.scales[i]);
        add_level(b, l, b->o.scales[i]);
    }
    qsort(b->levels, (size_t)b->n_levels, sizeof b->levels[0], cmp_level);
}

static void run_levels(bench_t *b)
{
    for (int r = 0; r < b->o.runs && !b->g.fatal[0]; r++)
        for (int i = 0; i < b->n_levels && !b->g.fatal[0]; i++) {
            level_t *l = &b->levels[i];
            char label[40];
            snprintf(label, sizeof label, "%s #%d", l->label, r + 1);
            l->phase[0][r] = measure(b, 0, l->rooms, label, b->o.duration_s);
            if (b->janus_up && l->rooms <= b->side[1].n_rooms)
                l->phase[1][r] = measure(b, 1, l->rooms, label, b->o.duration_s);
        }
}

static json_t *report(bench_t *b)
{
    const opts_t *o = &b->o;
    printf("media: rooms of 1 publisher + %d subscribers, %.0f packets/s of %d bytes per "
           "publisher; medians of %d runs\n",
           o->subs, b->g.pps, o->packet_bytes, o->runs);
    const bm_phase_t *pc = b->parley_cap_phase >= 0 ? &b->g.phases[b->parley_cap_phase] : NULL;
    const bm_phase_t *jc = b->janus_cap_phase >= 0 ? &b->g.phases[b->janus_cap_phase] : NULL;
    if (pc)
        printf("parley capacity: %d rooms, %.0f forwarded packets/s (%s)\n", pc->rooms,
               (double)pc->received / pc->window_s,
               b->parley_cap_reached ? b->parley_limited_by : "not reached: every room sustained");
    if (jc)
        printf("janus capacity: %d rooms, %.0f forwarded packets/s (%s)\n", jc->rooms,
               (double)jc->received / jc->window_s,
               b->janus_cap_reached ? b->janus_limited_by : "not reached: every room sustained");
    if (b->janus_skip[0]) printf("janus: not measured: %s\n", b->janus_skip);
    printf("%-16s %5s  %-6s %6s %9s %7s %8s %8s %8s %8s %8s %9s\n", "level", "rooms", "server",
           "sent", "fwd pkt/s", "cores", "s/Mpkt", "p50 ms", "p99 ms", "rd p50", "rd p99", "loss");
    json_t *levels = json_array();
    bool ratio_ok = true, p99_ok = true, have_ratio = false;
    for (int i = 0; i < b->n_levels; i++) {
        level_t *l = &b->levels[i];
        json_t *pr, *jr;
        summary_t ps = summarize(b->g.phases, l->phase[0], b->o.runs, &pr),
                  js = summarize(b->g.phases, l->phase[1], b->o.runs, &jr);
        print_row(l->label, l->rooms, "parley", &ps);
        print_row(l->label, l->rooms, "janus", &js);
        double ratio = ps.n && js.n && ps.cpu_per_mpkt > 0 ? js.cpu_per_mpkt / ps.cpu_per_mpkt : 0;
        if (ratio > 0) {
            printf("%-16s %5d  parley forwards %.2fx the packets per CPU-second that janus does\n",
                   l->label, l->rooms, ratio);
            have_ratio = true;
            if (ratio < 1.5) ratio_ok = false;
        }
        if (!strncmp(l->label, "50%", 3) && ps.n && ps.p99 >= 2.0) p99_ok = false;
        json_array_append_new(levels,
                              json_pack("{ss si so so so}", "level", l->label, "rooms", l->rooms,
                                        "parley", summary_json(&ps, pr), "janus",
                                        summary_json(&js, jr), "parley_over_janus_pkts_per_cpu_s",
                                        ratio > 0 ? json_real(ratio) : json_null()));
    }
    json_t *res = json_pack(
        "{ss sb so s{si si sf si si si sf si sf sf si si sb si ss si} so so so so s{sf sf so so} "
        "sf}",
        "bench", "media", "ok", !b->g.fatal[0], "error",
        b->g.fatal[0] ? json_string(b->g.fatal) : json_null(), "params", "subs", o->subs,
        "packet_bytes", o->packet_bytes, "packets_per_s_per_publisher", b->g.pps, "bitrate",
        o->bitrate, "rooms_max", o->rooms_max, "runs", o->runs, "duration_s", (double)o->duration_s,
        "step_s", o->step_s, "warmup_s", o->warmup_s, "loss_limit", o->loss_limit, "p50_limit_ms",
        o->p50_limit_ms, "janus_event_loops", o->event_loops, "netns", b->in_netns, "parley_rooms",
        b->side[0].n_rooms, "pacing", o->even_pacing ? "even" : "frame", "parley_rcvbuf",
        o->parley_rcvbuf, "parley_capacity",
        capacity_json(b->g.phases, b->parley_cap_phase, b->parley_cap_reached, b->parley_limited_by,
                      b->parley_ramp, b->n_parley_ramp),
        "janus_capacity",
        capacity_json(b->g.phases, b->janus_cap_phase, b->janus_cap_reached, b->janus_limited_by,
                      b->janus_ramp, b->n_janus_ramp),
        "janus_skipped", b->janus_skip[0] ? json_string(b->janus_skip) : json_null(), "levels",
        levels, "target", "parley_over_janus_min", 1.5, "p99_ms_at_50pct_max", 2.0, "ratio_met",
        have_ratio ? json_boolean(ratio_ok) : json_null(), "p99_met", json_boolean(p99_ok),
        "elapsed_s", (double)(bm_mono_ns() - b->t0_ns) / 1e9);
    json_t *sides = json_object();
    for (int si = 0; si < 2; si++) {
        bm_side_t *s = &b->side[si];
        json_object_set_new(sides, s->name,
                            json_pack("{si sI sI sI sI sI ss}", "rooms", s->n_rooms,
                                      "decrypt_errors", (json_int_t)s->decrypt_errors,
                                      "rtcp_received", (json_int_t)s->rtcp_in, "stray_packets",
                                      (json_int_t)s->stray, "bad_checks_from_server",
                                      (json_int_t)s->stun_errors, "srtp_tag_bytes",
                                      (json_int_t)s->srtp_tag, "srtp_profile",
                                      s->srtp_tag == 16   ? "AEAD_AES_128_GCM"
                                      : s->srtp_tag == 10 ? "AES128_CM_SHA1_80"
                                                          : "unknown"));
    }
    json_object_set_new(res, "peers", sides);
    /* Janus's session events other than the answers waited for; a hangup is a peer it dropped. */
    json_object_set_new(res, "janus_events",
                        json_pack("{sI sI}", "other", (json_int_t)b->jx.other_events, "hangups",
                                  (json_int_t)b->jx.hangups));
    if (b->g.fatal[0]) printf("media: FAILED: %s\n", b->g.fatal);
    return res;
}

/* The last lines of a log, to standard error (a failed run's server.log or janus.log). */
static void tail_log(const char *path)
{
    char *text = bm_read_file(path);
    if (!text) return;
    size_t n = strlen(text);
    const char *p = text + n;
    for (int lines = 0; p > text && lines < 16; p--)
        if (p[-1] == '\n') lines++;
    fprintf(stderr, "--- last lines of %s ---\n%s", path, p);
    free(text);
}

int main(int argc, char **argv)
{
    static bench_t bench;
    bench_t *b = &bench;
    int prc = parse_opts(&b->o, argc, argv);
    if (prc != 0) return prc > 0 ? 0 : 2;
    b->t0_ns = bm_mono_ns();
    b->deadline_ns = b->t0_ns + (int64_t)(b->o.max_seconds - 30) * 1000000000;
    b->parley_cap_phase = b->janus_cap_phase = -1;
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)b->o.max_seconds + 30);
    prctl(PR_SET_TIMERSLACK, 1000UL); /* sleeps of tens of microseconds between sends */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    bm_gen_t *g = &b->g;
    g->pkt_bytes = b->o.packet_bytes;
    g->pps = (double)b->o.bitrate / (8.0 * b->o.packet_bytes);
    g->even_pacing = b->o.even_pacing;
    g->phases = calloc(BM_MAX_PHASES, sizeof *g->phases);
    g->epfd = epoll_create1(EPOLL_CLOEXEC);
    const char *names[2] = {"parley", "janus"};
    for (int si = 0; si < 2; si++) {
        bm_side_t *s = &b->side[si];
        s->name = names[si];
        s->gen = g;
        s->subs = b->o.subs;
        s->peers = calloc((size_t)b->o.rooms_max * (size_t)(1 + b->o.subs), sizeof *s->peers);
        if (!s->peers) return 1;
        g->sides[g->n_sides++] = s;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof b->dir, "%s/parley-bench-media-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!g->phases || g->epfd < 0 || !mkdtemp(b->dir)) {
        fprintf(stderr, "bench_media: setup: %s\n", strerror(errno));
        return 1;
    }

    int ns = b->o.netns ? enter_netns(b) : -1;
    b->in_netns = ns >= 0 || ns == -2;
    if (!b->o.netns)
        snprintf(b->janus_skip, sizeof b->janus_skip,
                 "--netns 0: Janus needs the bench's own network namespace");
    if (ns == -2) snprintf(g->fatal, sizeof g->fatal, "cannot bring lo up in the namespace");
    if (!b->o.janus) snprintf(b->janus_skip, sizeof b->janus_skip, "--janus 0");
    note(b, "%s; %.1f packets/s per publisher; data in %s",
         ns >= 0 ? "private network namespace" : "host network namespace (loopback only)", g->pps,
         b->dir);

    if (!g->fatal[0] && setup_parley(b) == 0) {
        note(b, "parley capacity ramp");
        b->parley_cap_phase = ramp(b, 0, b->side[0].n_rooms, b->parley_ramp, &b->n_parley_ramp,
                                   &b->parley_cap_reached, &b->parley_limited_by);
        choose_levels(b);
        /* Janus gets the rooms of the largest level and, for its own ramp, of Parley's
         * capacity, so that the two capacities can be set side by side. */
        int want = 0;
        for (int i = 0; i < b->n_levels; i++)
            if (b->levels[i].rooms > want) want = b->levels[i].rooms;
        if (b->o.janus_ramp && b->parley_cap_phase >= 0 &&
            g->phases[b->parley_cap_phase].rooms > want)
            want = g->phases[b->parley_cap_phase].rooms;
        double budget = (double)(b->deadline_ns - bm_mono_ns()) / 1e9;
        if (!b->janus_skip[0] && !g->fatal[0] && want * JANUS_SETUP_S_PER_ROOM > budget / 3)
            snprintf(b->janus_skip, sizeof b->janus_skip, "%d rooms would not fit in --max-seconds",
                     want);
        if (!b->janus_skip[0] && !g->fatal[0]) setup_janus(b, want);
        run_levels(b);
        if (b->janus_up && !b->janus_skip[0] && b->side[1].n_rooms > 0 && b->o.janus_ramp &&
            !g->fatal[0]) {
            note(b, "janus capacity ramp");
            b->janus_cap_phase = ramp(b, 1, b->side[1].n_rooms, b->janus_ramp, &b->n_janus_ramp,
                                      &b->janus_cap_reached, &b->janus_limited_by);
        }
        bm_idle(g, 300000000);
    }

    bool failed = g->fatal[0] != '\0';
    if (failed && b->px.started) {
        char path[600];
        snprintf(path, sizeof path, "%.256s/server.log", b->px.fx.dir);
        tail_log(path);
    }
    json_t *res = report(b);
    int jst = b->janus_up ? bm_janus_stop(&b->jx) : 0;
    int pst = bm_parley_stop(&b->px);
    json_object_set_new(res, "exit_status_after_sigterm",
                        json_pack("{si si}", "parley", pst, "janus", jst));
    for (int si = 0; si < 2; si++)
        for (int i = 0; i < b->side[si].n_rooms * (1 + b->o.subs); i++)
            bm_peer_close(g, &b->side[si].peers[i]);
    char *line = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("RESULT %s\n", line ? line : "{\"bench\":\"media\",\"ok\":false}");
    free(line);
    json_decref(res);
    if (failed && b->janus_up) {
        char path[600];
        snprintf(path, sizeof path, "%.256s/janus/janus.log", b->dir);
        tail_log(path);
    }
    if (failed || (b->janus_up && b->janus_skip[0]))
        fprintf(stderr, "Janus's files are kept in %s\n", b->dir);
    else
        pl_test_rmtree(b->dir);
    for (int si = 0; si < 2; si++)
        free(b->side[si].peers);
    free(g->phases);
    close(g->epfd);
    return failed ? 1 : 0;
}
