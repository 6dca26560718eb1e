/* One browser's media transport: ICE-lite + DTLS + SRTP (see peer.h). */
#include "media/peer.h"
#include "core/err.h"
#include "core/util.h"
#include "media/ice.h"
#include "media/srtp_session.h"
#include "media/stun.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct pl_peer {
    pl_ice_t *ice;
    pl_dtls_t *dtls;
    pl_srtp_session_t *srtp;
    pl_peer_listener_t l;
    void *opaque;
    pl_peer_state_t state;
    bool dtls_started;
    /* Where DTLS answers go before ICE has nominated an address: the last checked address a
     * DTLS record came from. */
    struct sockaddr_storage dtls_addr;
    bool have_dtls_addr;
    struct sockaddr_storage media_addr; /* the selected address when CONNECTED was entered */
    pl_peer_stats_t stats;
};

static bool same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
    if (!a || !b || a->sa_family != b->sa_family) return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return false;
}

static size_t addr_len(const struct sockaddr *a)
{
    return a->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

const char *pl_peer_state_name(pl_peer_state_t s)
{
    static const char *const names[] = {"new",          "connecting", "connected",
                                        "disconnected", "failed",     "closed"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

static void set_state(pl_peer_t *p, pl_peer_state_t s, bool reconnected)
{
    if (p->state == s && !reconnected) return;
    p->state = s;
    if (reconnected) p->stats.reconnects++;
    if (p->l.state) p->l.state(p->opaque, s, reconnected);
}

/* ---- DTLS listener ---- */

static const struct sockaddr *route(const pl_peer_t *p)
{
    const struct sockaddr *sel = pl_ice_selected(p->ice);
    if (sel) return sel;
    return p->have_dtls_addr ? (const struct sockaddr *)&p->dtls_addr : NULL;
}

static void dtls_send(void *opaque, const uint8_t *buf, size_t len)
{
    pl_peer_t *p = opaque;
    const struct sockaddr *to = route(p);
    if (!to) {
        p->stats.not_sent++;
        return;
    }
    p->l.send(p->opaque, buf, len, to);
}

static void dtls_connected(void *opaque, pl_srtp_keys_t *keys)
{
    pl_peer_t *p = opaque;
    if (pl_srtp_session_create(keys, &p->srtp) < 0) {
        set_state(p, PL_PEER_FAILED, false);
        return;
    }
    const struct sockaddr *sel = route(p);
    if (sel) memcpy(&p->media_addr, sel, addr_len(sel));
    set_state(p, PL_PEER_CONNECTED, false);
}

static void dtls_closed(void *opaque, pl_dtls_state_t st, int err)
{
    pl_peer_t *p = opaque;
    if (err == -PL_EAUTH) p->stats.fingerprint_mismatches++;
    set_state(p, st == PL_DTLS_CLOSED ? PL_PEER_CLOSED : PL_PEER_FAILED, false);
}

/* ---- lifecycle ---- */

int pl_peer_create(pl_dtls_ctx_t *ctx, const char *remote_ufrag, const char *remote_pwd,
                   const uint8_t remote_fp[PL_DTLS_FP_LEN], const pl_peer_listener_t *listener,
                   void *opaque, pl_peer_t **out)
{
    *out = NULL;
    if (!ctx || !remote_ufrag || !remote_pwd || !remote_fp || !listener || !listener->send)
        return -PL_EINVAL;
    pl_peer_t *p = calloc(1, sizeof *p);
    if (!p) return -PL_ENOMEM;
    p->l = *listener;
    p->opaque = opaque;
    int rc = pl_ice_create(&p->ice, remote_ufrag, remote_pwd);
    if (rc == 0) {
        pl_dtls_listener_t dl = {.send = dtls_send, .connected = dtls_connected,
                                 .closed = dtls_closed};
        rc = pl_dtls_create(ctx, PL_DTLS_ROLE_SERVER, remote_fp, &dl, p, &p->dtls);
    }
    if (rc < 0) {
        pl_peer_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

void pl_peer_destroy(pl_peer_t *p)
{
    if (!p) return;
    if (p->dtls && pl_dtls_state(p->dtls) == PL_DTLS_CONNECTED) pl_dtls_close(p->dtls);
    pl_dtls_destroy(p->dtls);
    pl_srtp_session_destroy(p->srtp);
    pl_ice_destroy(p->ice);
    free(p);
}

const char *pl_peer_local_ufrag(const pl_peer_t *p) { return pl_ice_local_ufrag(p->ice); }
const char *pl_peer_local_pwd(const pl_peer_t *p) { return pl_ice_local_pwd(p->ice); }

int pl_peer_restart_ice(pl_peer_t *p, const char *remote_ufrag, const char *remote_pwd)
{
    return pl_ice_restart(p->ice, remote_ufrag, remote_pwd);
}

/* ---- receive ---- */

static int on_stun(pl_peer_t *p, const uint8_t *buf, size_t len, const struct sockaddr *from,
                   int64_t now_ms)
{
    uint8_t out[PL_STUN_RESPONSE_MAX];
    size_t out_len = 0;
    pl_ice_event_t ev = {0};
    int rc = pl_ice_handle_request(p->ice, buf, len, from, now_ms, out, sizeof out, &out_len, &ev);
    if (out_len) p->l.send(p->opaque, out, out_len, from);
    if (rc < 0) {
        p->stats.stun_refused++;
        return rc;
    }
    p->stats.stun_in++;
    if (p->state == PL_PEER_NEW) set_state(p, PL_PEER_CONNECTING, false);
    if (!p->dtls_started) {
        /* The browser is the DTLS client: as the server we only need to be ready for its
         * ClientHello, which may arrive right after its first successful check. */
        if (pl_dtls_start(p->dtls) == 0) p->dtls_started = true;
    }
    const struct sockaddr *sel = pl_ice_selected(p->ice);
    if (p->state == PL_PEER_DISCONNECTED && pl_ice_consent_ok(p->ice, now_ms)) {
        if (sel) memcpy(&p->media_addr, sel, addr_len(sel));
        set_state(p, PL_PEER_CONNECTED, true);
    } else if (p->state == PL_PEER_CONNECTED && sel && p->media_addr.ss_family == 0) {
        memcpy(&p->media_addr, sel, addr_len(sel)); /* first nomination after DTLS: not a change */
    } else if (p->state == PL_PEER_CONNECTED && sel &&
               !same_addr(sel, (const struct sockaddr *)&p->media_addr)) {
        memcpy(&p->media_addr, sel, addr_len(sel));
        set_state(p, PL_PEER_CONNECTED, true); /* network change: same keys, new address */
    }
    return 0;
}

static int on_dtls(pl_peer_t *p, const uint8_t *buf, size_t len, const struct sockaddr *from)
{
    if (!pl_ice_is_validated(p->ice, from)) {
        p->stats.dtls_unknown_tuple++;
        return -PL_EPERM;
    }
    memcpy(&p->dtls_addr, from, addr_len(from));
    p->have_dtls_addr = true;
    return pl_dtls_feed(p->dtls, buf, len);
}

static int on_srtp(pl_peer_t *p, uint8_t *buf, size_t len, const struct sockaddr *from)
{
    if (!pl_ice_is_validated(p->ice, from)) {
        p->stats.srtp_unknown_tuple++;
        return -PL_EPERM;
    }
    if (!p->srtp || len < 2) {
        p->stats.unknown_packets++;
        return -PL_EUNAVAIL;
    }
    /* RFC 5761: with rtcp-mux, payload types 192-223 in the second byte are RTCP. */
    bool rtcp = buf[1] >= 192 && buf[1] <= 223;
    size_t n = len;
    int rc = rtcp ? pl_srtp_unprotect_rtcp(p->srtp, buf, &n) : pl_srtp_unprotect_rtp(p->srtp, buf, &n);
    if (rc == -PL_ECONFLICT) {
        p->stats.srtp_replays++;
        return rc;
    }
    if (rc < 0) {
        p->stats.srtp_auth_failures++;
        return rc;
    }
    if (rtcp) {
        p->stats.rtcp_in++;
        if (p->l.rtcp) p->l.rtcp(p->opaque, buf, n);
    } else {
        p->stats.rtp_in++;
        if (p->l.rtp) p->l.rtp(p->opaque, buf, n);
    }
    return 0;
}

int pl_peer_receive(pl_peer_t *p, uint8_t *buf, size_t len, size_t cap,
                    const struct sockaddr *from, int64_t now_ms)
{
    (void)cap;
    if (!len || !from) {
        p->stats.unknown_packets++;
        return -PL_EINVAL;
    }
    if (p->state == PL_PEER_FAILED || p->state == PL_PEER_CLOSED) return -PL_EUNAVAIL;
    uint8_t b = buf[0];
    if (b <= 3) return on_stun(p, buf, len, from, now_ms);
    if (b >= 20 && b <= 63) return on_dtls(p, buf, len, from);
    if (b >= 128 && b <= 191) return on_srtp(p, buf, len, from);
    p->stats.unknown_packets++;
    return -PL_EINVAL;
}

/* ---- send ---- */

static int send_srtp(pl_peer_t *p, uint8_t *buf, size_t len, size_t cap, bool rtcp)
{
    const struct sockaddr *to = pl_ice_selected(p->ice);
    if (p->state != PL_PEER_CONNECTED || !p->srtp || !to) {
        p->stats.not_sent++;
        return -PL_EUNAVAIL;
    }
    size_t n = len;
    int rc = rtcp ? pl_srtp_protect_rtcp(p->srtp, buf, cap, &n)
                  : pl_srtp_protect_rtp(p->srtp, buf, cap, &n);
    if (rc < 0) {
        p->stats.not_sent++;
        return rc;
    }
    if (rtcp) p->stats.rtcp_out++;
    else p->stats.rtp_out++;
    p->l.send(p->opaque, buf, n, to);
    return 0;
}

int pl_peer_send_rtp(pl_peer_t *p, uint8_t *buf, size_t len, size_t cap)
{
    return send_srtp(p, buf, len, cap, false);
}

int pl_peer_send_rtcp(pl_peer_t *p, uint8_t *buf, size_t len, size_t cap)
{
    return send_srtp(p, buf, len, cap, true);
}

/* ---- time ---- */

void pl_peer_tick(pl_peer_t *p, int64_t now_ms)
{
    if (p->state == PL_PEER_FAILED || p->state == PL_PEER_CLOSED) return;
    if (p->dtls_started && pl_dtls_state(p->dtls) == PL_DTLS_CONNECTING) {
        uint64_t ms;
        if (pl_dtls_timeout_ms(p->dtls, &ms) == 0 && ms == 0) pl_dtls_on_timer(p->dtls);
    }
    /* RFC 7675: once consent lapses, stop sending until the browser checks again. Browsers
     * may finish DTLS before they nominate: consent is judged only once an address is. */
    if (p->state == PL_PEER_CONNECTED && pl_ice_selected(p->ice) &&
        !pl_ice_consent_ok(p->ice, now_ms))
        set_state(p, PL_PEER_DISCONNECTED, false);
}

pl_peer_state_t pl_peer_state(const pl_peer_t *p) { return p->state; }

const struct sockaddr *pl_peer_address(const pl_peer_t *p) { return pl_ice_selected(p->ice); }

void pl_peer_stats(const pl_peer_t *p, pl_peer_stats_t *out) { *out = p->stats; }
