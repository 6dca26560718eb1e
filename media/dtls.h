/* DTLS 1.2 with DTLS-SRTP key export (RFC 5764, RFC 6347), for one peer of the SFU.
 *
 * Two objects:
 *   pl_dtls_ctx_t  created once at start-up: an in-memory self-signed ECDSA P-256 certificate,
 *                  its SHA-256 fingerprint for the SDP, and the OpenSSL SSL_CTX every peer
 *                  shares.
 *   pl_dtls_t      one per peer: a handshake in server or client role over memory BIOs.
 *
 * It sits between ICE and SRTP in the per-peer security layer (DESIGN.md, "Media"). It owns no
 * socket and no timer: datagrams come in through pl_dtls_feed, go out through the listener's
 * send callback, and the owner runs the retransmission timer (a uv_timer) from
 * pl_dtls_timeout_ms and pl_dtls_on_timer. OpenSSL reads the clock itself to decide whether a
 * retransmission is due; this module does not.
 *
 * The peer is authenticated only by the SHA-256 fingerprint of its certificate, which the
 * signalling channel carried in the SDP: any certificate is accepted during the handshake, and
 * when the handshake completes its fingerprint is compared (in constant time) with the expected
 * one. A mismatch fails the transport, and no keys are exported.
 *
 * Everything runs on one thread (the loop). */
#ifndef PL_DTLS_H
#define PL_DTLS_H

#include <stddef.h>
#include <stdint.h>

#include "media/srtp_session.h"

/* Largest UDP payload the transport produces. 1200 leaves room for IPv6 and a TURN relay
 * header under a 1280-byte path MTU. */
#define PL_DTLS_MTU 1200

/* A SHA-256 fingerprint: its bytes, and its SDP form "AB:CD:...:EF" plus NUL. */
#define PL_DTLS_FP_LEN 32
#define PL_DTLS_FP_STR_LEN (PL_DTLS_FP_LEN * 3)

typedef enum { PL_DTLS_ROLE_CLIENT, PL_DTLS_ROLE_SERVER } pl_dtls_role_t;

typedef enum {
    PL_DTLS_NEW,        /* created, pl_dtls_start not called yet */
    PL_DTLS_CONNECTING, /* handshake in progress */
    PL_DTLS_CONNECTED,  /* handshake done, fingerprint verified, keys handed over */
    PL_DTLS_FAILED,     /* handshake or fingerprint failure, fatal alert, or timeout */
    PL_DTLS_CLOSED,     /* close_notify sent or received */
} pl_dtls_state_t;

typedef struct pl_dtls_ctx pl_dtls_ctx_t;
typedef struct pl_dtls pl_dtls_t;

/* Per-peer counters, for /metrics. The owner sums them over peers. */
typedef struct {
    uint64_t handshakes_ok;
    uint64_t handshake_failures;     /* alerts, protocol errors, no SRTP profile, timeout */
    uint64_t fingerprint_mismatches; /* not also counted in handshake_failures */
    uint64_t bad_records;            /* input that is not well-formed DTLS, dropped */
    uint64_t late_records;           /* input before start or after FAILED/CLOSED, dropped */
    uint64_t retransmissions;        /* flights resent by pl_dtls_on_timer */
    uint64_t datagrams_out;          /* datagrams handed to the send callback */
    uint64_t datagrams_dropped;      /* outgoing datagrams over the queue limit (never seen) */
} pl_dtls_stats_t;

/* How a transport reports upward. Every callback runs inside a pl_dtls_* call on this
 * transport and must not call back into it (no feed, close or destroy); queue the work
 * instead. Any callback may be NULL except send. */
typedef struct {
    /* One datagram for the peer, at most PL_DTLS_MTU bytes; buf is borrowed for the call. */
    void (*send)(void *opaque, const uint8_t *buf, size_t len);
    /* The handshake completed and the peer's fingerprint matched. keys is borrowed: it is wiped
     * when the callback returns, so copy what you keep and wipe your copy when done. */
    void (*connected)(void *opaque, pl_srtp_keys_t *keys);
    /* The transport reached FAILED or CLOSED because of the peer or the timer; err is 0 for a
     * close_notify from the peer, else -PL_EAUTH (fingerprint mismatch), -PL_ETIMEOUT
     * (handshake gave up) or -PL_ECRYPTO (alert, protocol error, no SRTP profile negotiated).
     * Fires at most once, and not for pl_dtls_close. */
    void (*closed)(void *opaque, pl_dtls_state_t state, int err);
} pl_dtls_listener_t;

/* Creates the process-wide context: a new P-256 key and self-signed certificate (CN=parley,
 * random serial, valid 30 days) and an SSL_CTX for DTLS 1.2 only with ECDHE-ECDSA AEAD ciphers.
 * profiles[0..n) lists the SRTP profiles to offer, most preferred first; NULL with n 0 means
 * the default { AEAD_AES_128_GCM, AES128_CM_SHA1_80 }. (As a server OpenSSL picks by our order.)
 * Returns 0 and *out (free with pl_dtls_ctx_destroy, after every pl_dtls_t made from it);
 * -PL_EINVAL for an unknown profile; -PL_ENOMEM; -PL_ECRYPTO if OpenSSL failed. */
int pl_dtls_ctx_create(const pl_srtp_profile_t *profiles, size_t n, pl_dtls_ctx_t **out);

/* Frees the context. Aborts if a pl_dtls_t made from it still exists. NULL is allowed. */
void pl_dtls_ctx_destroy(pl_dtls_ctx_t *ctx);

/* The certificate's SHA-256 fingerprint in SDP form (uppercase hex, colons), for
 * "a=fingerprint:sha-256 <this>". Valid as long as ctx. */
const char *pl_dtls_ctx_fingerprint(const pl_dtls_ctx_t *ctx);

/* Parses the SDP form of a SHA-256 fingerprint (hex pairs of either case joined by colons,
 * exactly PL_DTLS_FP_LEN of them) into out. Returns 0 or -PL_EINVAL. */
int pl_dtls_fingerprint_parse(const char *str, uint8_t out[PL_DTLS_FP_LEN]);

/* Creates a transport in state NEW. remote_fp is the peer's certificate fingerprint from its
 * SDP (copied). listener is copied; opaque is passed to each callback.
 * Returns 0 and *out (free with pl_dtls_destroy); -PL_EINVAL if an argument is missing;
 * -PL_ENOMEM; -PL_ECRYPTO if OpenSSL failed. No callback fires. */
int pl_dtls_create(pl_dtls_ctx_t *ctx, pl_dtls_role_t role, const uint8_t remote_fp[PL_DTLS_FP_LEN],
                   const pl_dtls_listener_t *listener, void *opaque, pl_dtls_t **out);

/* Frees the transport without sending anything (call pl_dtls_close first for a polite close).
 * Not from inside one of its callbacks. NULL is allowed. */
void pl_dtls_destroy(pl_dtls_t *dtls);

/* Starts the handshake: NEW -> CONNECTING. A client sends its ClientHello now; a server waits
 * for one. Returns 0, or -PL_ECONFLICT if already started. Arm the timer afterwards. */
int pl_dtls_start(pl_dtls_t *dtls);

/* Processes one datagram from the peer (buf borrowed) and sends whatever the handshake answers.
 * Returns 0 when the datagram was processed, including when it moved the transport to
 * CONNECTED, FAILED or CLOSED (reported through the listener). Returns, without any callback:
 * -PL_EINVAL (counted in bad_records) if buf is not one or more whole DTLS 1.x records;
 * -PL_ECONFLICT (counted in late_records) in state NEW, FAILED or CLOSED;
 * -PL_ENOMEM if the datagram could not be buffered. Re-arm the timer afterwards. */
int pl_dtls_feed(pl_dtls_t *dtls, const uint8_t *buf, size_t len);

/* When the next retransmission is due. Returns 0 and sets *ms (0: now) while a flight awaits
 * its answer; -PL_ENOTFOUND when no timer is needed (stop it). Call after every start, feed
 * and on_timer, and arm the timer for *ms. */
int pl_dtls_timeout_ms(pl_dtls_t *dtls, uint64_t *ms);

/* The timer fired: retransmits the last flight if OpenSSL finds it due (a timer that fires a
 * little early does nothing; re-arm from pl_dtls_timeout_ms). After too many retransmissions
 * the handshake gives up: FAILED, reported through the listener with -PL_ETIMEOUT.
 * Returns 0 (also when there was nothing to do). */
int pl_dtls_on_timer(pl_dtls_t *dtls);

/* Sends close_notify if CONNECTED (OpenSSL cannot mid-handshake) and moves to CLOSED. The
 * closed callback does not fire. Returns 0, or -PL_ECONFLICT if already FAILED or CLOSED. */
int pl_dtls_close(pl_dtls_t *dtls);

pl_dtls_state_t pl_dtls_state(const pl_dtls_t *dtls);

/* Copies the counters into *out. */
void pl_dtls_stats(const pl_dtls_t *dtls, pl_dtls_stats_t *out);

#endif
