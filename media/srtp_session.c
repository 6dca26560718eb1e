/* See srtp_session.h. Thin wrapper over libsrtp2: one session per direction, each with a
 * wildcard-SSRC policy (ssrc_any_inbound / ssrc_any_outbound), so every stream a peer sends or
 * receives shares the peer's DTLS-SRTP key and libsrtp creates per-SSRC state on first use.
 *
 * Replay window (PL_SRTP_REPLAY_WINDOW = 1024). libsrtp's default is 128 packets. Two things
 * want more:
 *   - inbound, a publisher without RTX resends a lost packet under its original sequence
 *     number one round trip (plus jitter-buffer delay) later. At 250-450 packets per second
 *     (HD video, screen share) 128 packets is only 0.3-0.5 s, so late but genuine resends would
 *     be refused as too old; 1024 is 2-4 s, more than a resend is useful for.
 *   - outbound, libsrtp applies the same window when we protect: a NACK answered from the
 *     retransmission ring is refused if it is more than a window behind the newest packet.
 * A larger window costs one bit per packet per stream (128 bytes here) and does not weaken
 * replay protection: packets inside it are still accepted at most once.
 *
 * libsrtp's global state (srtp_init) is the one process-wide thing here; pthread_once keeps it
 * to exactly one initialisation whichever thread gets there first. */
#include "media/srtp_session.h"

#include <limits.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#define LOG_MOD "srtp"

#define RTP_MIN_LEN 12
#define RTCP_MIN_LEN 8

_Static_assert(PL_SRTP_TAIL_ROOM >= SRTP_MAX_TRAILER_LEN + 4, "tail room below libsrtp's need");
_Static_assert(PL_SRTP_MAX_KEY_LEN == SRTP_AES_128_KEY_LEN, "key length");
_Static_assert(PL_SRTP_MAX_SALT_LEN == SRTP_SALT_LEN, "salt length");
_Static_assert(PL_SRTP_REPLAY_WINDOW >= 64 && PL_SRTP_REPLAY_WINDOW < 0x8000,
               "libsrtp accepts windows of 64 to 32767 packets");

struct pl_srtp_session {
    srtp_t in;  /* the peer's key: unprotect */
    srtp_t out; /* our key: protect */
    pl_srtp_stats_t stats;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init_once(void)
{
    srtp_err_status_t st = srtp_init();
    global_rc = st == srtp_err_status_ok ? 0 : -PL_ECRYPTO;
    if (global_rc) pl_log_error(LOG_MOD, "srtp_init failed (libsrtp status %d)", (int)st);
}

int pl_srtp_global_init(void)
{
    if (pthread_once(&global_once, global_init_once) != 0) return -PL_EINTERNAL;
    return global_rc;
}

static bool keys_valid(const pl_srtp_keys_t *k)
{
    switch (k->profile) {
    case PL_SRTP_PROFILE_AES128_CM_SHA1_80:
        return k->key_len == SRTP_AES_128_KEY_LEN && k->salt_len == SRTP_SALT_LEN;
    case PL_SRTP_PROFILE_AEAD_AES_128_GCM:
        return k->key_len == SRTP_AES_128_KEY_LEN && k->salt_len == SRTP_AEAD_SALT_LEN;
    default:
        return false;
    }
}

/* Creates one direction. master is key || salt, as libsrtp wants it; libsrtp derives its
 * session keys from it in srtp_create and keeps no pointer to it. */
static int session_new(pl_srtp_profile_t profile, bool outbound, uint8_t *master, srtp_t *out)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (profile == PL_SRTP_PROFILE_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    } else {
        srtp_crypto_policy_set_rtp_default(&p.rtp);
        srtp_crypto_policy_set_rtcp_default(&p.rtcp);
    }
    p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    p.key = master;
    p.window_size = PL_SRTP_REPLAY_WINDOW;
    /* Only protect consults it: lets the SFU resend a packet it already sent (NACK). */
    p.allow_repeat_tx = outbound ? 1 : 0;
    p.next = NULL;
    srtp_err_status_t st = srtp_create(out, &p);
    if (st == srtp_err_status_ok) return 0;
    *out = NULL;
    pl_log_error(LOG_MOD, "srtp_create failed (libsrtp status %d)", (int)st);
    return st == srtp_err_status_alloc_fail ? -PL_ENOMEM : -PL_ECRYPTO;
}

int pl_srtp_session_create(const pl_srtp_keys_t *keys, pl_srtp_session_t **out)
{
    if (!out) return -PL_EINVAL;
    *out = NULL;
    if (!keys || !keys_valid(keys)) return -PL_EINVAL;
    int rc = pl_srtp_global_init();
    if (rc < 0) return rc;
    pl_srtp_session_t *s = calloc(1, sizeof *s);
    if (!s) return -PL_ENOMEM;

    uint8_t local[PL_SRTP_MAX_KEY_LEN + PL_SRTP_MAX_SALT_LEN];
    uint8_t remote[PL_SRTP_MAX_KEY_LEN + PL_SRTP_MAX_SALT_LEN];
    memcpy(local, keys->local_key, keys->key_len);
    memcpy(local + keys->key_len, keys->local_salt, keys->salt_len);
    memcpy(remote, keys->remote_key, keys->key_len);
    memcpy(remote + keys->key_len, keys->remote_salt, keys->salt_len);

    rc = session_new(keys->profile, false, remote, &s->in);
    if (rc == 0) rc = session_new(keys->profile, true, local, &s->out);
    pl_wipe(local, sizeof local);
    pl_wipe(remote, sizeof remote);
    if (rc < 0) {
        pl_srtp_session_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

void pl_srtp_session_destroy(pl_srtp_session_t *s)
{
    if (!s) return;
    /* srtp_dealloc zeroes the derived keys and the stream state. */
    if (s->in) srtp_dealloc(s->in);
    if (s->out) srtp_dealloc(s->out);
    free(s);
}

/* Maps a libsrtp failure to a Parley code and counts it. */
static int fail(pl_srtp_session_t *s, srtp_err_status_t st, bool protecting)
{
    switch (st) {
    case srtp_err_status_auth_fail:
    case srtp_err_status_cipher_fail: /* how an AEAD backend may report a bad tag */
        if (protecting) break;
        s->stats.auth_failures++;
        return -PL_ECRYPTO;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        if (protecting)
            s->stats.tx_too_old++;
        else
            s->stats.replays++;
        return -PL_ECONFLICT;
    default:
        break;
    }
    s->stats.bad_packets++;
    pl_log_debug(LOG_MOD, "%s failed (libsrtp status %d)", protecting ? "protect" : "unprotect",
                 (int)st);
    return -PL_EINVAL;
}

/* The length checks every call shares. libsrtp takes an int length. */
static int check_len(pl_srtp_session_t *s, const uint8_t *buf, size_t len, size_t min_len)
{
    if (!buf || len < min_len || len > INT_MAX - PL_SRTP_TAIL_ROOM) {
        s->stats.bad_packets++;
        return -PL_EINVAL;
    }
    return 0;
}

static int check_room(pl_srtp_session_t *s, size_t cap, size_t len)
{
    if (cap < len || cap - len < PL_SRTP_TAIL_ROOM) {
        s->stats.bad_packets++;
        return -PL_ETOOBIG;
    }
    return 0;
}

int pl_srtp_protect_rtp(pl_srtp_session_t *s, uint8_t *buf, size_t cap, size_t *len)
{
    int rc = check_len(s, buf, *len, RTP_MIN_LEN);
    if (rc == 0) rc = check_room(s, cap, *len);
    if (rc < 0) return rc;
    int n = (int)*len;
    srtp_err_status_t st = srtp_protect(s->out, buf, &n);
    if (st != srtp_err_status_ok) return fail(s, st, true);
    *len = (size_t)n;
    s->stats.rtp_protected++;
    return 0;
}

int pl_srtp_unprotect_rtp(pl_srtp_session_t *s, uint8_t *buf, size_t *len)
{
    int rc = check_len(s, buf, *len, RTP_MIN_LEN);
    if (rc < 0) return rc;
    int n = (int)*len;
    srtp_err_status_t st = srtp_unprotect(s->in, buf, &n);
    if (st != srtp_err_status_ok) return fail(s, st, false);
    *len = (size_t)n;
    s->stats.rtp_unprotected++;
    return 0;
}

int pl_srtp_protect_rtcp(pl_srtp_session_t *s, uint8_t *buf, size_t cap, size_t *len)
{
    int rc = check_len(s, buf, *len, RTCP_MIN_LEN);
    if (rc == 0) rc = check_room(s, cap, *len);
    if (rc < 0) return rc;
    int n = (int)*len;
    srtp_err_status_t st = srtp_protect_rtcp(s->out, buf, &n);
    if (st != srtp_err_status_ok) return fail(s, st, true);
    *len = (size_t)n;
    s->stats.rtcp_protected++;
    return 0;
}

int pl_srtp_unprotect_rtcp(pl_srtp_session_t *s, uint8_t *buf, size_t *len)
{
    int rc = check_len(s, buf, *len, RTCP_MIN_LEN);
    if (rc < 0) return rc;
    int n = (int)*len;
    srtp_err_status_t st = srtp_unprotect_rtcp(s->in, buf, &n);
    if (st != srtp_err_status_ok) return fail(s, st, false);
    *len = (size_t)n;
    s->stats.rtcp_unprotected++;
    return 0;
}

void pl_srtp_session_stats(const pl_srtp_session_t *s, pl_srtp_stats_t *out)
{
    *out = s->stats;
}
