/* The SFU's socket, peer registry and rooms (see media.h). This is the only file that touches
 * the libuv UDP handle. The receive path uses one buffer: everything runs on the loop thread,
 * and a datagram is fully handled (forwarded or dropped) before the next is read. The socket's
 * kernel buffers are raised at create (see PL_MEDIA_RCVBUF_BYTES in media.h): the one socket
 * carries every peer's media, and the default receive buffer dropped packets under load. */
#include "media/media.h"
#include "core/err.h"
#include "core/imap.h"
#include "core/log.h"
#include "core/util.h"
#include "media/room.h"
#include "media/srtp_session.h"
#include "media/stun.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_UFRAGS 2 /* current and, during an ICE restart, previous */
#define MAX_ADDRS 8
#define TICK_MS 50
#define BUF_CAP 2048
#define LOG_MOD "media"

/* What SO_RCVBUF and SO_SNDBUF read back after a request of n bytes was granted in full: Linux
 * doubles the request to cover its own bookkeeping (socket(7)). */
#ifdef __linux__
#define KERNEL_REPORTS(n) (2 * (n))
#else
#define KERNEL_REPORTS(n) (n)
#endif

struct pl_media_peer {
    pl_media_t *m;
    pl_media_room_t *room;
    pl_media_peer_t *next; /* in the room */
    uint64_t key;
    pl_peer_t *peer;
    pl_room_member_t *member; /* NULL until the answer is written (pl_media_peer_set_media) */
    char ufrag[MAX_UFRAGS][32];
    struct sockaddr_storage addr[MAX_ADDRS];
    int n_addr;
};

struct pl_media_room {
    pl_media_t *m;
    pl_media_room_t *next; /* in the media */
    uint64_t key;
    pl_media_peer_t *peers;
    pl_room_t *room; /* forwarding: slots, rewriting, NACK, PLI, REMB, reports (room.c) */
};

struct pl_media {
    uv_loop_t *loop;
    uv_udp_t udp;
    uv_timer_t tick;
    int open_handles;
    bool closing;
    pl_dtls_ctx_t *dtls;
    pl_imap_t *by_ufrag, *by_addr;
    pl_media_room_t *rooms;
    pl_media_event_fn on_event;
    void *opaque;
    char advertise_ip[64];
    int port;
    uint8_t rx[BUF_CAP];
    pl_media_stats_t stats;
};

/* ---- keys for the two indexes ---- */

static int64_t fnv(const void *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
    return (int64_t)(h >> 1);
}

static int64_t ufrag_key(const char *u, size_t n) { return fnv(u, n); }

static int64_t addr_key(const struct sockaddr *a)
{
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *v = (const void *)a;
        uint8_t k[6];
        memcpy(k, &v->sin_addr, 4);
        memcpy(k + 4, &v->sin_port, 2);
        return fnv(k, sizeof k);
    }
    const struct sockaddr_in6 *v = (const void *)a;
    uint8_t k[18];
    memcpy(k, &v->sin6_addr, 16);
    memcpy(k + 16, &v->sin6_port, 2);
    return fnv(k, sizeof k);
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
    return addr_key(a) == addr_key((const struct sockaddr *)b) &&
           a->sa_family == ((const struct sockaddr *)b)->sa_family;
}

static size_t addr_len(const struct sockaddr *a)
{
    return a->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* ---- sending ---- */

static void udp_send(pl_media_t *m, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    /* try_send never queues or allocates: when the kernel buffer is full the datagram is
     * dropped, which is what UDP media wants (RTP recovers by NACK or the next frame). */
    if (uv_udp_try_send(&m->udp, &b, 1, to) < 0) m->stats.send_failures++;
    else m->stats.datagrams_out++;
}

static void peer_send(void *opaque, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
    pl_media_peer_t *mp = opaque;
    udp_send(mp->m, buf, len, to);
}

/* Forwarding is the room's (room.c); the peer only decrypts on the way in and encrypts on the
 * way out. A peer whose answer is not written yet has no member and its media is dropped. */
static void peer_rtp(void *opaque, uint8_t *buf, size_t len)
{
    pl_media_peer_t *src = opaque;
    if (src->member)
        pl_room_on_rtp(src->room->room, src->member, buf, len, (int64_t)uv_now(src->m->loop));
}

static void peer_rtcp(void *opaque, uint8_t *buf, size_t len)
{
    pl_media_peer_t *src = opaque;
    if (src->member)
        pl_room_on_rtcp(src->room->room, src->member, buf, len, (int64_t)uv_now(src->m->loop));
}

static void room_speaker(void *opaque, void *member_opaque)
{
    pl_media_room_t *r = opaque;
    pl_media_peer_t *mp = member_opaque;
    pl_media_event_t ev = {.kind = PL_MEDIA_EV_ACTIVE_SPEAKER, .room_key = r->key,
                           .peer_key = mp->key};
    if (r->m->on_event) r->m->on_event(r->m->opaque, &ev);
}

static int room_send(void *opaque, uint8_t *buf, size_t len, size_t cap, bool rtcp)
{
    pl_media_peer_t *dst = opaque;
    return rtcp ? pl_peer_send_rtcp(dst->peer, buf, len, cap)
                : pl_peer_send_rtp(dst->peer, buf, len, cap);
}

static void peer_state(void *opaque, pl_peer_state_t st, bool reconnected)
{
    pl_media_peer_t *mp = opaque;
    pl_media_event_t ev = {.room_key = mp->room->key, .peer_key = mp->key};
    switch (st) {
    case PL_PEER_CONNECTED:
        ev.kind = reconnected ? PL_MEDIA_EV_RECONNECTED : PL_MEDIA_EV_CONNECTED;
        break;
    case PL_PEER_DISCONNECTED: ev.kind = PL_MEDIA_EV_DISCONNECTED; break;
    case PL_PEER_FAILED:
    case PL_PEER_CLOSED: ev.kind = PL_MEDIA_EV_FAILED; break;
    default: return;
    }
    if (mp->m->on_event) mp->m->on_event(mp->m->opaque, &ev);
}

/* ---- receiving ---- */

static void remember_addr(pl_media_peer_t *mp, const struct sockaddr *from)
{
    for (int i = 0; i < mp->n_addr; i++)
        if (same_addr(from, &mp->addr[i])) return;
    if (mp->n_addr == MAX_ADDRS) { /* forget the oldest */
        pl_imap_remove(mp->m->by_addr, addr_key((const struct sockaddr *)&mp->addr[0]), mp);
        memmove(&mp->addr[0], &mp->addr[1], sizeof mp->addr[0] * (MAX_ADDRS - 1));
        mp->n_addr--;
    }
    if (pl_imap_add(mp->m->by_addr, addr_key(from), mp) < 0) return;
    memcpy(&mp->addr[mp->n_addr++], from, addr_len(from));
}

static pl_media_peer_t *by_ufrag(pl_media_t *m, const uint8_t *user, size_t user_len)
{
    size_t n = 0;
    while (n < user_len && user[n] != ':') n++;
    if (n == 0 || n == user_len || n >= 32) return NULL;
    size_t cnt;
    void *const *set = pl_imap_get(m->by_ufrag, ufrag_key((const char *)user, n), &cnt);
    for (size_t i = 0; i < cnt; i++) {
        pl_media_peer_t *mp = set[i];
        for (int u = 0; u < MAX_UFRAGS; u++)
            if (strlen(mp->ufrag[u]) == n && memcmp(mp->ufrag[u], user, n) == 0) return mp;
    }
    return NULL;
}

static pl_media_peer_t *by_addr(pl_media_t *m, const struct sockaddr *from)
{
    size_t cnt;
    void *const *set = pl_imap_get(m->by_addr, addr_key(from), &cnt);
    for (size_t i = 0; i < cnt; i++) {
        pl_media_peer_t *mp = set[i];
        for (int a = 0; a < mp->n_addr; a++)
            if (same_addr(from, &mp->addr[a])) return mp;
    }
    return NULL;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    pl_media_t *m = h->data;
    *buf = uv_buf_init((char *)m->rx, sizeof m->rx - PL_SRTP_TAIL_ROOM);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    pl_media_t *m = h->data;
    (void)buf;
    if (nread <= 0 || !from) return;
    m->stats.datagrams_in++;
    if (flags & UV_UDP_PARTIAL) {
        m->stats.truncated++;
        return;
    }
    size_t len = (size_t)nread;
    int64_t now = (int64_t)uv_now(m->loop);
    pl_media_peer_t *mp = NULL;
    if (m->rx[0] <= 3) {
        pl_stun_msg_t msg;
        if (pl_stun_parse(m->rx, len, &msg) < 0 || !msg.username) {
            m->stats.stun_refused++;
            return;
        }
        mp = by_ufrag(m, msg.username, msg.username_len);
        if (!mp) {
            m->stats.unknown_source++;
            return;
        }
        if (pl_peer_receive(mp->peer, m->rx, len, sizeof m->rx, from, now) == 0)
            remember_addr(mp, from);
        else m->stats.stun_refused++;
        return;
    }
    mp = by_addr(m, from);
    if (!mp) {
        m->stats.unknown_source++;
        return;
    }
    int rc = pl_peer_receive(mp->peer, m->rx, len, sizeof m->rx, from, now);
    if (rc == -PL_ECRYPTO) m->stats.srtp_auth_failures++;
    else if (rc == -PL_ECONFLICT && m->rx[0] >= 128) m->stats.srtp_replays++;
}

static void on_tick(uv_timer_t *t)
{
    pl_media_t *m = t->data;
    int64_t now = (int64_t)uv_now(m->loop);
    for (pl_media_room_t *r = m->rooms; r; r = r->next) {
        for (pl_media_peer_t *p = r->peers; p; p = p->next) pl_peer_tick(p->peer, now);
        pl_room_tick(r->room, now);
    }
}

/* ---- lifecycle ---- */

typedef int (*buffer_size_fn)(uv_handle_t *h, int *value);

/* Asks the kernel for want bytes of one of the socket's buffers (rcv: receive, else send).
 * SO_RCVBUF/SO_SNDBUF are capped at net.core.rmem_max/wmem_max; past the cap only the FORCE
 * options go, and only with CAP_NET_ADMIN, so their EPERM is the usual answer and is ignored.
 * Returns the size the kernel reports afterwards, or a negative libuv error. */
static int raise_buffer(uv_udp_t *udp, bool rcv, int want)
{
    buffer_size_fn size = rcv ? uv_recv_buffer_size : uv_send_buffer_size;
    int v = want; /* libuv sets a non-zero value and reads the size back into a zero one */
    int rc = size((uv_handle_t *)udp, &v);
    if (rc == 0) {
        v = 0;
        rc = size((uv_handle_t *)udp, &v);
    }
    if (rc < 0) return rc;
#if defined(SO_RCVBUFFORCE) && defined(SO_SNDBUFFORCE)
    uv_os_fd_t fd;
    if (v < KERNEL_REPORTS(want) && uv_fileno((uv_handle_t *)udp, &fd) == 0 &&
        setsockopt(fd, SOL_SOCKET, rcv ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &want, sizeof want) ==
            0) {
        v = 0;
        if ((rc = size((uv_handle_t *)udp, &v)) < 0) return rc;
    }
#endif
    return v;
}

/* Raises both buffers and says once what the kernel granted; a shortfall is a warning naming
 * the sysctl to raise, since the server still works, only with loss under load. */
static void size_buffers(pl_media_t *m)
{
    int rcv = raise_buffer(&m->udp, true, PL_MEDIA_RCVBUF_BYTES);
    int snd = raise_buffer(&m->udp, false, PL_MEDIA_SNDBUF_BYTES);
    m->stats.rcvbuf_bytes = rcv > 0 ? (uint64_t)rcv : 0;
    m->stats.sndbuf_bytes = snd > 0 ? (uint64_t)snd : 0;
    if (rcv < 0 || snd < 0) {
        pl_log_warn(LOG_MOD, "udp port %d: cannot size the socket buffers: %s", m->port,
                    uv_strerror(rcv < 0 ? rcv : snd));
        return;
    }
    int granted_rcv = rcv / KERNEL_REPORTS(1), granted_snd = snd / KERNEL_REPORTS(1);
    pl_log_info(LOG_MOD, "udp port %d: socket buffers granted: receive %d KiB of %d asked, send "
                "%d KiB of %d asked", m->port, granted_rcv / 1024, PL_MEDIA_RCVBUF_BYTES / 1024,
                granted_snd / 1024, PL_MEDIA_SNDBUF_BYTES / 1024);
    if (granted_rcv < PL_MEDIA_RCVBUF_BYTES)
        pl_log_warn(LOG_MOD, "udp port %d: receive buffer under the %d KiB asked, so media will "
                    "drop packets under load: raise the sysctl net.core.rmem_max to at least %d",
                    m->port, PL_MEDIA_RCVBUF_BYTES / 1024, PL_MEDIA_RCVBUF_BYTES);
    if (granted_snd < PL_MEDIA_SNDBUF_BYTES)
        pl_log_warn(LOG_MOD, "udp port %d: send buffer under the %d KiB asked: raise the sysctl "
                    "net.core.wmem_max to at least %d", m->port, PL_MEDIA_SNDBUF_BYTES / 1024,
                    PL_MEDIA_SNDBUF_BYTES);
}

int pl_media_create(uv_loop_t *loop, const char *bind_ip, const char *advertise_ip, int port,
                    pl_media_event_fn on_event, void *opaque, pl_media_t **out)
{
    *out = NULL;
    if (!loop || !bind_ip || !advertise_ip || port < 0 || port > 65535) return -PL_EINVAL;
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof sa);
    if (uv_ip4_addr(bind_ip, port, (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(bind_ip, port, (struct sockaddr_in6 *)&sa) != 0)
        return -PL_EINVAL;
    pl_media_t *m = calloc(1, sizeof *m);
    if (!m) return -PL_ENOMEM;
    m->loop = loop;
    m->on_event = on_event;
    m->opaque = opaque;
    snprintf(m->advertise_ip, sizeof m->advertise_ip, "%s", advertise_ip);
    int rc = pl_srtp_global_init();
    if (rc == 0) rc = pl_dtls_ctx_create(NULL, 0, &m->dtls);
    if (rc == 0) rc = pl_imap_create(&m->by_ufrag);
    if (rc == 0) rc = pl_imap_create(&m->by_addr);
    if (rc < 0) goto fail;
    uv_udp_init(loop, &m->udp);
    m->udp.data = m;
    m->open_handles++;
    uv_timer_init(loop, &m->tick);
    m->tick.data = m;
    m->open_handles++;
    if (uv_udp_bind(&m->udp, (const struct sockaddr *)&sa, 0) != 0) {
        rc = -PL_EIO;
        pl_media_destroy(m);
        return rc;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_udp_getsockname(&m->udp, (struct sockaddr *)&bound, &blen);
    m->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    size_buffers(m);
    uv_udp_recv_start(&m->udp, on_alloc, on_recv);
    uv_timer_start(&m->tick, on_tick, TICK_MS, TICK_MS);
    *out = m;
    return 0;
fail:
    pl_imap_destroy(m->by_ufrag);
    pl_imap_destroy(m->by_addr);
    pl_dtls_ctx_destroy(m->dtls);
    free(m);
    return rc;
}

static void on_closed(uv_handle_t *h)
{
    pl_media_t *m = h->data;
    if (--m->open_handles > 0) return;
    pl_imap_destroy(m->by_ufrag);
    pl_imap_destroy(m->by_addr);
    pl_dtls_ctx_destroy(m->dtls);
    free(m);
}

void pl_media_destroy(pl_media_t *m)
{
    if (!m || m->closing) return;
    m->closing = true;
    while (m->rooms) pl_media_room_destroy(m->rooms);
    uv_udp_recv_stop(&m->udp);
    uv_timer_stop(&m->tick);
    uv_close((uv_handle_t *)&m->udp, on_closed);
    uv_close((uv_handle_t *)&m->tick, on_closed);
}

int pl_media_port(const pl_media_t *m) { return m->port; }

int pl_media_recv_buffer_size(const pl_media_t *m)
{
    int v = 0; /* zero asks libuv to read the size, which leaves the handle as it was */
    return uv_recv_buffer_size((uv_handle_t *)&m->udp, &v) < 0 ? -PL_EIO : v;
}

const char *pl_media_fingerprint(const pl_media_t *m) { return pl_dtls_ctx_fingerprint(m->dtls); }
const char *pl_media_advertised_ip(const pl_media_t *m) { return m->advertise_ip; }

void pl_media_stats(const pl_media_t *m, pl_media_stats_t *out)
{
    *out = m->stats;
    for (pl_media_room_t *r = m->rooms; r; r = r->next) {
        for (pl_media_peer_t *p = r->peers; p; p = p->next) {
            pl_peer_stats_t s;
            pl_peer_stats(p->peer, &s);
            out->dtls_unknown_tuple += s.dtls_unknown_tuple;
            out->fingerprint_mismatches += s.fingerprint_mismatches;
        }
        pl_room_stats_t rs;
        pl_room_stats(r->room, &rs);
        out->rtp_forwarded += rs.rtp_forwarded;
        out->rtp_unknown_ssrc += rs.rtp_unknown_ssrc;
        out->nack_received += rs.nack_received;
        out->nack_answered_from_ring += rs.nack_answered_from_ring;
        out->nack_sent_upstream += rs.nack_sent_upstream;
        out->pli_relayed += rs.pli_relayed;
        out->keyframe_requests += rs.keyframe_requests;
        out->remb_sent += rs.remb_sent;
        out->sr_sent += rs.sr_sent;
        out->rr_sent += rs.rr_sent;
    }
}

int pl_media_room_create(pl_media_t *m, uint64_t room_key, pl_media_room_t **out)
{
    pl_media_room_t *r = calloc(1, sizeof *r);
    if (!r) return -PL_ENOMEM;
    /* SRs carry wall-clock NTP time; the room itself runs on the loop's monotonic clock. */
    pl_room_config_t rc = {.ntp_offset_ms = pl_now_ms() - (int64_t)uv_now(m->loop),
                           .on_speaker = room_speaker, .opaque = r};
    int err = pl_room_create(&rc, &r->room);
    if (err < 0) {
        free(r);
        return err;
    }
    r->m = m;
    r->key = room_key;
    r->next = m->rooms;
    m->rooms = r;
    *out = r;
    return 0;
}

int pl_media_room_set_capacity(pl_media_room_t *r, int max_members)
{
    return r ? pl_room_set_capacity(r->room, max_members) : -PL_EINVAL;
}

void pl_media_room_destroy(pl_media_room_t *r)
{
    if (!r) return;
    while (r->peers) pl_media_peer_remove(r->peers);
    pl_media_room_t **pp = &r->m->rooms;
    while (*pp && *pp != r) pp = &(*pp)->next;
    if (*pp) *pp = r->next;
    pl_room_destroy(r->room);
    free(r);
}

static void register_ufrag(pl_media_peer_t *mp, int slot)
{
    snprintf(mp->ufrag[slot], sizeof mp->ufrag[slot], "%s", pl_peer_local_ufrag(mp->peer));
    pl_imap_add(mp->m->by_ufrag, ufrag_key(mp->ufrag[slot], strlen(mp->ufrag[slot])), mp);
}

int pl_media_peer_add(pl_media_room_t *r, uint64_t peer_key, const char *remote_ufrag,
                      const char *remote_pwd, const char *remote_fp, pl_media_peer_t **out)
{
    *out = NULL;
    uint8_t fp[PL_DTLS_FP_LEN];
    if (!remote_fp || pl_dtls_fingerprint_parse(remote_fp, fp) < 0) return -PL_EINVAL;
    pl_media_peer_t *mp = calloc(1, sizeof *mp);
    if (!mp) return -PL_ENOMEM;
    mp->m = r->m;
    mp->room = r;
    mp->key = peer_key;
    pl_peer_listener_t l = {.send = peer_send, .rtp = peer_rtp, .rtcp = peer_rtcp,
                            .state = peer_state};
    int rc = pl_peer_create(r->m->dtls, remote_ufrag, remote_pwd, fp, &l, mp, &mp->peer);
    if (rc < 0) {
        free(mp);
        return rc;
    }
    register_ufrag(mp, 0);
    mp->next = r->peers;
    r->peers = mp;
    *out = mp;
    return 0;
}

void pl_media_peer_remove(pl_media_peer_t *mp)
{
    if (!mp) return;
    pl_media_t *m = mp->m;
    for (int u = 0; u < MAX_UFRAGS; u++)
        if (mp->ufrag[u][0]) pl_imap_remove(m->by_ufrag, ufrag_key(mp->ufrag[u], strlen(mp->ufrag[u])), mp);
    for (int a = 0; a < mp->n_addr; a++)
        pl_imap_remove(m->by_addr, addr_key((const struct sockaddr *)&mp->addr[a]), mp);
    pl_media_peer_t **pp = &mp->room->peers;
    while (*pp && *pp != mp) pp = &(*pp)->next;
    if (*pp) *pp = mp->next;
    /* A peer's counters outlive it: they are /metrics totals. */
    pl_peer_stats_t ps;
    pl_peer_stats(mp->peer, &ps);
    m->stats.dtls_unknown_tuple += ps.dtls_unknown_tuple;
    m->stats.fingerprint_mismatches += ps.fingerprint_mismatches;
    pl_room_member_remove(mp->member);
    pl_peer_destroy(mp->peer);
    free(mp);
}

int pl_media_peer_set_media(pl_media_peer_t *mp, const pl_sdp_offer_t *offer,
                            const pl_sdp_negotiated_t *neg, bool may_screen)
{
    if (mp->member) return -PL_ECONFLICT;
    pl_room_member_params_t p = {.opaque = mp, .send = room_send, .may_screen = may_screen,
                                 .offer = offer, .neg = neg};
    return pl_room_member_add(mp->room->room, &p, &mp->member);
}

const char *pl_media_peer_ufrag(const pl_media_peer_t *p) { return pl_peer_local_ufrag(p->peer); }
const char *pl_media_peer_pwd(const pl_media_peer_t *p) { return pl_peer_local_pwd(p->peer); }
pl_peer_state_t pl_media_peer_state(const pl_media_peer_t *p) { return pl_peer_state(p->peer); }

uint64_t pl_media_peer_slot_key(const pl_media_peer_t *p, int slot)
{
    const pl_media_peer_t *o = p ? pl_room_member_slot(p->member, slot) : NULL;
    return o ? o->key : 0;
}

int pl_media_peer_slot_count(const pl_media_peer_t *p)
{
    return p ? pl_room_member_slot_count(p->member) : 0;
}

int pl_media_peer_restart_ice(pl_media_peer_t *mp, const char *remote_ufrag,
                              const char *remote_pwd)
{
    int rc = pl_peer_restart_ice(mp->peer, remote_ufrag, remote_pwd);
    if (rc < 0) return rc;
    /* Keep the previous ufrag registered (media still flows on it) and add the new one. */
    if (mp->ufrag[1][0])
        pl_imap_remove(mp->m->by_ufrag, ufrag_key(mp->ufrag[1], strlen(mp->ufrag[1])), mp);
    memcpy(mp->ufrag[1], mp->ufrag[0], sizeof mp->ufrag[0]);
    register_ufrag(mp, 0);
    return 0;
}
