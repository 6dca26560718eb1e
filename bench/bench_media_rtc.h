/* The load generator of bench_media: WebRTC peers (a UDP socket on 127.0.0.1 and the test
 * WebRTC client of tests/support/rtc_client.h each), their connection (ICE check, DTLS, SRTP),
 * paced video-like RTP from publishers, and what subscribers receive and decrypt.
 *
 * One thread, one epoll set. Publishers of the active rooms send in turn on one schedule, so
 * that each sends pps packets a second whatever the number of rooms, as 30 frames a second:
 * with frame pacing (the default) each frame's packets (4 or 5 at 1.2 Mbit/s) leave together,
 * as a browser sends a video frame, the frames of the rooms spread evenly over the frame
 * interval; with even pacing every packet has its own slot. Each packet is a VP8 packet as
 * Chromium shapes it (one-byte header extension with the mid, a VP8 payload descriptor with a
 * 15-bit picture id, a payload header with a keyframe every 2 s, the marker on the last packet
 * of each frame), and ends with a 32-byte trailer:
 *   magic "PLBM" | phase u16 | 0 u16 | room u32 | packet number u32 | send time i64 (ns,
 *   CLOCK_MONOTONIC, read just before encryption) | 0 u64.
 * Subscribers take what they need from the trailer only: whatever an SFU rewrites in the
 * header (SSRC, sequence number, timestamp, extensions) the count and the latency stay right,
 * and a packet that reaches the wrong room is seen (misrouted).
 *
 * Latency is measured twice: at the time the generator reads the datagram (what a client would
 * see, and it includes the generator's own delays on a busy machine) and at the kernel's
 * receive time stamp (SO_TIMESTAMPNS, converted from CLOCK_REALTIME to CLOCK_MONOTONIC at each
 * read), which leaves the generator's reading delay out. Header-only (see bench_hist.h). */
#ifndef PL_BENCH_MEDIA_RTC_H
#define PL_BENCH_MEDIA_RTC_H

#include "bench/bench_hist.h"
#include "media/srtp_session.h"
#include "media/stun.h"
#include "tests/support/rtc_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BM_TRAILER 32
#define BM_MAGIC 0x504c424du /* "PLBM" */
#define BM_BATCH 32          /* datagrams per recvmmsg */
#define BM_RXBUF 2048
#define BM_FPS 30
#define BM_KEYFRAME_EVERY 60 /* frames: one keyframe every 2 s */
#define BM_CONSENT_CYCLE_NS                                                                        \
    4000000000ll /* every peer sends a check this often (Parley: < 30 s)                           \
                  */
#define BM_MAX_PHASES 128
#define BM_LAG_SKIP_NS 200000000ll /* sends this late are skipped, not bunched up */
#define BM_RCVBUF (4 << 20)

typedef struct bm_gen bm_gen_t;
typedef struct bm_side bm_side_t;

/* One browser stand-in: a publisher (role 0) or subscriber (role 1..S) of a room. */
typedef struct {
    bm_side_t *side;
    int fd;
    int room, role;
    pl_rtc_client_t *cli;
    bool answered, checked, dtls_started, connected;
    int64_t next_check_ns;
    /* publisher: what the server negotiated for its camera */
    uint32_t ssrc, n_sent, n_frames;
    uint8_t pt, mid_ext;
    char mid[17];
    uint16_t seq0, picid;
    uint32_t ts0;
    /* subscriber */
    uint32_t max_n;
    bool have_n;
    int64_t kstamp_ns; /* kernel receive stamp of the datagram being processed (mono); 0: none */
    size_t rx_len;     /* its length before decryption */
    /* Janus */
    uint64_t handle;
    int remote_port;
} bm_peer_t;

/* What one measurement window saw. Packets carry the phase they were sent in. */
typedef struct {
    char label[40];
    const char *server;
    int rooms, subs;
    double offered_pps; /* publisher packets/s asked for */
    double window_s;
    uint64_t sent, skipped, send_errors;
    uint64_t received, misrouted, reordered;
    int64_t max_lag_us; /* the generator's worst lateness against its schedule */
    double srv_cpu_s, gen_cpu_s, other_cpu_s; /* in the window; other: the idle other server */
    double srv_wait_s, gen_wait_s; /* runnable but waiting for a CPU, summed over threads */
    long long srv_sock_drops, gen_sock_drops; /* UDP receive-buffer drops in the window */
    pl_hist_t lat_k, lat_r;                   /* microseconds: kernel stamp and read time */
} bm_phase_t;

/* A server under test and its peers: room r's publisher is peers[r * (1 + subs)], its
 * subscribers follow. */
struct bm_side {
    const char *name;
    bm_gen_t *gen;
    pid_t pid;
    int subs, n_rooms;
    bm_peer_t *peers;
    struct sockaddr_in server; /* Parley: one port for all; Janus: port set per peer */
    uint64_t decrypt_errors, rtcp_in, stun_errors, stray;
    int srtp_tag; /* bytes an SRTP packet adds: 16 AES-GCM, 10 AES-CM-SHA1-80 */
};

struct bm_gen {
    int epfd;
    int pkt_bytes;
    double pps;       /* per publisher */
    bool even_pacing; /* a slot per packet rather than per frame */
    bm_phase_t *phases;
    int n_phases;
    int cur_phase;
    int64_t batch_mono_ns;
    bm_side_t *sides[2];
    int n_sides;
    int64_t next_consent_ns;
    int consent_side, consent_peer;
    bool send_failed; /* the last datagram a peer sent was refused by the kernel */
    char fatal[512];
    struct mmsghdr msgs[BM_BATCH];
    struct iovec iov[BM_BATCH];
    char ctrl[BM_BATCH][CMSG_SPACE(sizeof(struct timespec))];
    uint8_t rx[BM_BATCH][BM_RXBUF];
    uint8_t tx[2048];
};

static int64_t bm_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t bm_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void bm_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t bm_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- peers ---- */

static void bm_peer_send(void *opaque, const uint8_t *buf, size_t len)
{
    bm_peer_t *p = opaque;
    /* Connected socket: it goes to the server's port for this peer. A full socket buffer drops
     * the datagram, as UDP does; publishers count it. */
    if (send(p->fd, buf, len, MSG_DONTWAIT) < 0) p->side->gen->send_failed = true;
}

static void bm_on_media(void *opaque, const uint8_t *buf, size_t len, bool rtcp)
{
    bm_peer_t *p = opaque;
    bm_side_t *s = p->side;
    bm_gen_t *g = s->gen;
    if (rtcp) {
        s->rtcp_in++;
        return;
    }
    if (!s->srtp_tag && p->rx_len > len) s->srtp_tag = (int)(p->rx_len - len);
    if (len < 12 + BM_TRAILER || bm_get32(buf + len - BM_TRAILER) != BM_MAGIC) {
        s->stray++;
        return;
    }
    const uint8_t *t = buf + len - BM_TRAILER;
    int phase = t[4] << 8 | t[5];
    uint32_t room = bm_get32(t + 8), n = bm_get32(t + 12);
    int64_t sent = (int64_t)((uint64_t)bm_get32(t + 16) << 32 | bm_get32(t + 20));
    if (phase >= g->n_phases) {
        s->stray++;
        return;
    }
    bm_phase_t *x = &g->phases[phase];
    if ((int)room != p->room || p->role == 0) {
        x->misrouted++;
        return;
    }
    x->received++;
    if (p->have_n && n <= p->max_n)
        x->reordered++;
    else {
        p->max_n = n;
        p->have_n = true;
    }
    pl_hist_add(&x->lat_r, (g->batch_mono_ns - sent) / 1000);
    if (p->kstamp_ns) pl_hist_add(&x->lat_k, (p->kstamp_ns - sent) / 1000);
}

static const char bm_zero_fp[] = "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:"
                                 "00:00:00:00:00:00:00:00:00:00:00";

/* Opens the peer's socket on 127.0.0.1 (any port) and its WebRTC client; the server's
 * credentials come later (bm_peer_answered). 0 or -1 with g->fatal. */
static int bm_peer_open(bm_gen_t *g, bm_side_t *s, bm_peer_t *p, int room, int role)
{
    memset(p, 0, sizeof *p);
    p->side = s;
    p->room = room;
    p->role = role;
    p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in me = {.sin_family = AF_INET};
    me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&me, sizeof me) < 0) {
        snprintf(g->fatal, sizeof g->fatal, "UDP socket: %s", strerror(errno));
        return -1;
    }
    /* Large receive buffers (FORCE needs root), so that a burst the generator has not read yet
     * is not counted against the server; kernel receive time stamps for the latency. */
    int big = BM_RCVBUF, on = 1;
    if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
        setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(p->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
    if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, p->fd, &ev) < 0 ||
        pl_rtc_client_create("none", "none", bm_zero_fp, bm_peer_send, bm_on_media, p, &p->cli) <
            0) {
        snprintf(g->fatal, sizeof g->fatal, "peer setup failed");
        return -1;
    }
    return 0;
}

static int bm_peer_port(const bm_peer_t *p)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    return getsockname(p->fd, (struct sockaddr *)&a, &l) == 0 ? ntohs(a.sin_port) : 0;
}

/* The server answered: its ICE credentials and fingerprint, and where to send (port on
 * 127.0.0.1). The client keeps its certificate, as a browser does. 0 or -1. */
static int bm_peer_answered(bm_peer_t *p, const char *ufrag, const char *pwd, const char *fp,
                            int port)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pl_rtc_client_restart(p->cli, ufrag, pwd, NULL, NULL);
    if (pl_rtc_client_set_server_fingerprint(p->cli, fp) < 0 ||
        connect(p->fd, (struct sockaddr *)&to, sizeof to) < 0)
        return -1;
    p->remote_port = port;
    p->answered = true;
    return 0;
}

static void bm_peer_close(bm_gen_t *g, bm_peer_t *p)
{
    if (p->fd > 0) {
        epoll_ctl(g->epfd, EPOLL_CTL_DEL, p->fd, NULL);
        close(p->fd);
    }
    pl_rtc_client_destroy(p->cli);
    p->fd = -1;
    p->cli = NULL;
}

/* ---- receiving ---- */

/* A connectivity check from the server (libnice sends triggered checks even as a lite agent,
 * and waits for the answer before it lets DTLS through): answered as a browser would, with
 * the server's address as seen from here. true if buf was a request (answered or not). */
static bool bm_answer_check(bm_peer_t *p, const uint8_t *buf, size_t len)
{
    pl_stun_msg_t m;
    if (pl_stun_parse(buf, len, &m) < 0 || m.cls != PL_STUN_CLASS_REQUEST) return false;
    const char *pwd = pl_rtc_client_pwd(p->cli);
    uint8_t out[PL_STUN_RESPONSE_MAX];
    size_t n = 0;
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->remote_port)};
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (pl_stun_verify_integrity(&m, pwd) == 0 &&
        pl_stun_write_binding_success(&m, (const struct sockaddr *)&from, pwd, out, sizeof out,
                                      &n) == 0)
        send(p->fd, out, n, MSG_DONTWAIT);
    else
        p->side->stun_errors++;
    return true;
}

/* Reads everything waiting on p's socket (a few batches at most, so that one busy peer does
 * not starve the schedule) and feeds the client: STUN, DTLS, SRTP in turn. */
static void bm_drain(bm_gen_t *g, bm_peer_t *p)
{
    bm_side_t *s = p->side;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < BM_BATCH; i++) {
            g->iov[i] =
                (struct iovec){.iov_base = g->rx[i], .iov_len = BM_RXBUF - PL_SRTP_TAIL_ROOM};
            g->msgs[i].msg_hdr = (struct msghdr){.msg_iov = &g->iov[i],
                                                 .msg_iovlen = 1,
                                                 .msg_control = g->ctrl[i],
                                                 .msg_controllen = sizeof g->ctrl[i]};
        }
        int n = recvmmsg(p->fd, g->msgs, BM_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) return;
        int64_t mono = bm_mono_ns(), real = bm_real_ns();
        g->batch_mono_ns = mono;
        for (int i = 0; i < n && p->cli; i++) {
            p->kstamp_ns = 0;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&g->msgs[i].msg_hdr); c;
                 c = CMSG_NXTHDR(&g->msgs[i].msg_hdr, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    p->kstamp_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - (real - mono);
                }
            p->rx_len = g->msgs[i].msg_len;
            uint8_t first = g->rx[i][0];
            if (first <= 3 && bm_answer_check(p, g->rx[i], p->rx_len)) continue;
            int rc = pl_rtc_client_receive(p->cli, g->rx[i], g->msgs[i].msg_len);
            if (rc < 0 && first >= 128 && first <= 191) s->decrypt_errors++;
        }
        if (n < BM_BATCH) return;
    }
}

/* Waits up to timeout_ns for datagrams and reads them. */
static void bm_poll(bm_gen_t *g, int64_t timeout_ns)
{
    struct epoll_event ev[128];
    if (timeout_ns < 0) timeout_ns = 0;
    struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    int n = epoll_pwait2(g->epfd, ev, 128, &ts, NULL);
    if (n < 0 && errno != EINTR) snprintf(g->fatal, sizeof g->fatal, "epoll: %s", strerror(errno));
    for (int i = 0; i < n; i++)
        bm_drain(g, ev[i].data.ptr);
}

/* Keeps consent fresh (RFC 7675): one connected peer checks each time, in turn, so that every
 * peer of every side checks once per BM_CONSENT_CYCLE_NS. */
static void bm_consent(bm_gen_t *g, int64_t now)
{
    int total = 0;
    for (int i = 0; i < g->n_sides; i++)
        total += g->sides[i]->n_rooms * (1 + g->sides[i]->subs);
    if (total == 0) return;
    /* After a long time away (a blocking setup step) every due check goes at once. */
    if (now - g->next_consent_ns > BM_CONSENT_CYCLE_NS)
        g->next_consent_ns = now - BM_CONSENT_CYCLE_NS;
    for (int sent = 0; now >= g->next_consent_ns && sent <= total; sent++) {
        g->next_consent_ns += BM_CONSENT_CYCLE_NS / total;
        bm_side_t *s = g->sides[g->consent_side];
        if (g->consent_peer >= s->n_rooms * (1 + s->subs)) {
            g->consent_peer = 0;
            g->consent_side = (g->consent_side + 1) % g->n_sides;
            continue;
        }
        bm_peer_t *p = &s->peers[g->consent_peer++];
        if (p->connected) pl_rtc_client_check(p->cli, false);
    }
}

/* ---- connecting ---- */

/* Brings peers [from, to) of s that have an answer through ICE and DTLS, a window of them at a
 * time, within timeout_ms. 0, or -1 with g->fatal naming how many did not make it. */
static int bm_connect(bm_gen_t *g, bm_side_t *s, int from, int to, int timeout_ms)
{
    int64_t deadline = bm_mono_ns() + (int64_t)timeout_ms * 1000000;
    int done = 0, window = 64;
    for (;;) {
        int64_t now = bm_mono_ns();
        int inflight = 0, pending = 0;
        done = 0;
        for (int i = from; i < to; i++) {
            bm_peer_t *p = &s->peers[i];
            if (!p->answered) continue;
            if (p->connected || pl_rtc_client_connected(p->cli)) {
                p->connected = true;
                done++;
                continue;
            }
            if (pl_rtc_client_failed(p->cli)) {
                snprintf(g->fatal, sizeof g->fatal, "%s: DTLS failed for room %d peer %d", s->name,
                         p->room, p->role);
                return -1;
            }
            pending++;
            if (!p->checked && inflight >= window) continue;
            inflight++;
            if (!p->dtls_started && pl_rtc_client_stun_ok(p->cli) > 0) {
                p->dtls_started = true;
                pl_rtc_client_start_dtls(p->cli);
            }
            if (!p->dtls_started && now >= p->next_check_ns) {
                p->checked = true;
                p->next_check_ns = now + 200000000;
                pl_rtc_client_check(p->cli, true);
            }
            pl_rtc_client_tick(p->cli);
        }
        bm_consent(g, now); /* the peers connected earlier must keep their consent */
        if (pending == 0) return 0;
        if (now > deadline) {
            snprintf(g->fatal, sizeof g->fatal,
                     "%s: %d of %d peers did not connect (ICE + DTLS) within %d ms", s->name,
                     pending, to - from, timeout_ms);
            return -1;
        }
        bm_poll(g, 2000000);
    }
}

/* ---- sending ---- */

/* One RTP packet of p's camera, pkt_bytes long before SRTP, encrypted and sent. */
/* The frame that packet k of a publisher belongs to (pps / 30 packets a frame on average). */
static uint32_t bm_frame_of(const bm_gen_t *g, uint32_t k)
{
    return (uint32_t)((double)k * BM_FPS / g->pps);
}

static void bm_send_one(bm_gen_t *g, bm_peer_t *p, bm_phase_t *x)
{
    uint8_t *b = g->tx;
    size_t n = (size_t)g->pkt_bytes;
    uint32_t k = p->n_sent++;
    uint32_t f = bm_frame_of(g, k), fnext = bm_frame_of(g, k + 1);
    bool start = k == 0 || bm_frame_of(g, k - 1) != f;
    bool key = start && f % BM_KEYFRAME_EVERY == 0;
    if (start && k) p->picid = (uint16_t)((p->picid + 1) & 0x7fff);
    uint16_t seq = (uint16_t)(p->seq0 + k);
    b[0] = (uint8_t)(0x80 | (p->mid_ext ? 0x10 : 0));
    b[1] = (uint8_t)((fnext != f ? 0x80 : 0) | p->pt);
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
    bm_put32(b + 4, p->ts0 + f * 3000);
    bm_put32(b + 8, p->ssrc);
    size_t off = 12;
    if (p->mid_ext) {
        size_t ml = strlen(p->mid), words = (1 + ml + 3) / 4;
        b[12] = 0xBE;
        b[13] = 0xDE;
        b[14] = 0;
        b[15] = (uint8_t)words;
        memset(b + 16, 0, words * 4);
        b[16] = (uint8_t)(p->mid_ext << 4 | (ml - 1));
        memcpy(b + 17, p->mid, ml);
        off = 16 + words * 4;
    }
    /* VP8 payload descriptor: X, S on a frame's first packet, I with a 15-bit picture id. */
    b[off] = (uint8_t)(0x80 | (start ? 0x10 : 0));
    b[off + 1] = 0x80;
    b[off + 2] = (uint8_t)(0x80 | p->picid >> 8);
    b[off + 3] = (uint8_t)p->picid;
    off += 4;
    if (start) { /* VP8 payload header (RFC 6386 9.1): key frames carry size 640x480 */
        static const uint8_t keyhdr[10] = {0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
        static const uint8_t interhdr[3] = {0x11, 0, 0};
        memcpy(b + off, key ? keyhdr : interhdr, key ? sizeof keyhdr : sizeof interhdr);
    }
    /* The payload in between is whatever the last encryption left: nobody decodes it. */
    uint8_t *t = b + n - BM_TRAILER;
    memset(t, 0, BM_TRAILER);
    bm_put32(t, BM_MAGIC);
    t[4] = (uint8_t)(g->cur_phase >> 8);
    t[5] = (uint8_t)g->cur_phase;
    bm_put32(t + 8, (uint32_t)p->room);
    bm_put32(t + 12, k);
    int64_t now = bm_mono_ns();
    bm_put32(t + 16, (uint32_t)((uint64_t)now >> 32));
    bm_put32(t + 20, (uint32_t)now);
    g->send_failed = false;
    if (pl_rtc_client_send(p->cli, b, n, sizeof g->tx, false) == 0 && !g->send_failed)
        x->sent++;
    else
        x->send_errors++;
}

/* Sends from the publishers of rooms [0, rooms) of s for dur_ns, stamping phase `phase`, and
 * reads whatever arrives meanwhile. A slot is a frame of one publisher (or, with even pacing,
 * one packet); the publishers take the slots in turn. Slots more than BM_LAG_SKIP_NS late are
 * skipped (counted), not bunched up. Returns at once after a fatal problem. */
static void bm_run(bm_gen_t *g, bm_side_t *s, int rooms, int64_t dur_ns, int phase)
{
    bm_phase_t *x = &g->phases[phase];
    g->cur_phase = phase;
    int stride = 1 + s->subs;
    double period = 1e9 / ((g->even_pacing ? g->pps : BM_FPS) * rooms);
    int64_t t0 = bm_mono_ns(), end = t0 + dur_ns;
    uint64_t e = 0;
    for (;;) {
        int64_t now = bm_mono_ns();
        if (now >= end || g->fatal[0]) break;
        int burst = 0;
        for (;;) {
            int64_t due = t0 + (int64_t)((double)e * period);
            if (due > now || due >= end || burst >= 64) break;
            bm_peer_t *p = &s->peers[(size_t)(e % (uint64_t)rooms) * (size_t)stride];
            e++;
            /* This slot's packets: one, or the rest of the publisher's next frame. */
            uint32_t last = g->even_pacing ? p->n_sent + 1 : p->n_sent;
            if (!g->even_pacing)
                while (bm_frame_of(g, last) == p->n_frames)
                    last++;
            p->n_frames = bm_frame_of(g, last);
            if (now - due > BM_LAG_SKIP_NS) {
                x->skipped += last - p->n_sent;
                p->n_sent = last; /* packet numbers still advance, as for lost packets */
                continue;
            }
            if ((now - due) / 1000 > x->max_lag_us) x->max_lag_us = (now - due) / 1000;
            while (p->n_sent < last) {
                bm_send_one(g, p, x);
                burst++;
            }
        }
        bm_consent(g, now);
        int64_t next = t0 + (int64_t)((double)e * period);
        bm_poll(g, burst >= 64 ? 0 : next - bm_mono_ns());
    }
}

/* Only reads (and keeps consent) for dur_ns: the tail of the last phase arrives. */
static void bm_idle(bm_gen_t *g, int64_t dur_ns)
{
    int64_t end = bm_mono_ns() + dur_ns;
    for (int64_t now = bm_mono_ns(); now < end && !g->fatal[0]; now = bm_mono_ns()) {
        bm_consent(g, now);
        bm_poll(g, end - now < 5000000 ? end - now : 5000000);
    }
}

#endif
