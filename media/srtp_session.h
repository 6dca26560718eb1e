/* SRTP for one peer: a pair of libsrtp2 sessions, inbound (the peer's key, any SSRC it sends)
 * and outbound (our key, any SSRC we send), protecting and unprotecting RTP and RTCP in place.
 *
 * It sits under the DTLS transport in the per-peer security layer (DESIGN.md, "Media"):
 * media/dtls.c exports the keys into a pl_srtp_keys_t, and this module turns that struct into
 * sessions. The key struct and profile ids live here rather than in dtls.h so that SRTP does
 * not depend on DTLS; dtls.h includes this header for them.
 *
 * Replay window: PL_SRTP_REPLAY_WINDOW packets (see the comment in srtp_session.c). The
 * outbound session allows repeated sequence numbers so the SFU can answer NACKs from its
 * retransmission ring; that ring must therefore hold no more than PL_SRTP_REPLAY_WINDOW packets,
 * or the oldest ones will be refused on protect.
 *
 * A session is used from one thread (the loop). pl_srtp_global_init is the only thread-safe
 * call. The per-packet calls add no allocation of their own; libsrtp allocates a stream's state
 * on the first packet of each new SSRC. */
#ifndef PL_SRTP_SESSION_H
#define PL_SRTP_SESSION_H

#include <stddef.h>
#include <stdint.h>

/* The DTLS-SRTP protection profiles Parley negotiates. The values are the IANA ids from the
 * use_srtp extension (RFC 5764 section 4.1.2, RFC 7714 section 14.2). */
typedef enum {
    PL_SRTP_PROFILE_NONE = 0,
    PL_SRTP_PROFILE_AES128_CM_SHA1_80 = 0x0001,
    PL_SRTP_PROFILE_AEAD_AES_128_GCM = 0x0007,
} pl_srtp_profile_t;

/* Largest master key and salt among the profiles above. */
#define PL_SRTP_MAX_KEY_LEN 16
#define PL_SRTP_MAX_SALT_LEN 14

/* Master keys for one peer, as exported by DTLS-SRTP. "local" protects what we send, "remote"
 * unprotects what the peer sends. key_len and salt_len apply to both directions (16 and 14 for
 * AES128_CM_SHA1_80, 16 and 12 for AEAD_AES_128_GCM). Whoever holds one wipes it with pl_wipe
 * when done. */
typedef struct {
    pl_srtp_profile_t profile;
    size_t key_len;
    size_t salt_len;
    uint8_t local_key[PL_SRTP_MAX_KEY_LEN];
    uint8_t local_salt[PL_SRTP_MAX_SALT_LEN];
    uint8_t remote_key[PL_SRTP_MAX_KEY_LEN];
    uint8_t remote_salt[PL_SRTP_MAX_SALT_LEN];
} pl_srtp_keys_t;

/* Replay window, in packets, of every RTP stream (both directions). */
#define PL_SRTP_REPLAY_WINDOW 1024

/* Bytes a protect call may need after the packet: libsrtp's SRTP_MAX_TRAILER_LEN (largest tag
 * plus largest MKI) plus the 4-byte SRTCP index. libsrtp documents that it may write that
 * much, although our profiles add at most 16 (RTP) or 20 (RTCP) bytes. */
#define PL_SRTP_TAIL_ROOM 148

/* Per-session counters, for /metrics. The owner sums them over peers. */
typedef struct {
    uint64_t rtp_protected;
    uint64_t rtp_unprotected;
    uint64_t rtcp_protected;
    uint64_t rtcp_unprotected;
    uint64_t auth_failures; /* unprotect: tag did not verify (tampered, or wrong key) */
    uint64_t replays;       /* unprotect: duplicate, or older than the replay window */
    uint64_t tx_too_old;    /* protect: sequence number older than the replay window */
    uint64_t bad_packets;   /* malformed packet, buffer too small, or other libsrtp error */
} pl_srtp_stats_t;

typedef struct pl_srtp_session pl_srtp_session_t;

/* Initialises libsrtp (srtp_init) once per process. Idempotent and thread-safe: every call
 * after the first returns the first call's result. pl_srtp_session_create calls it too, so
 * calling it from main only moves a failure to start-up. Returns 0 or -PL_ECRYPTO. */
int pl_srtp_global_init(void);

/* Creates the inbound and outbound sessions from keys (borrowed; not modified; the caller still
 * wipes it). The copies made for libsrtp are wiped before this returns.
 * Returns 0 and *out (free with pl_srtp_session_destroy); -PL_EINVAL if keys names no supported
 * profile or has the wrong lengths for it; -PL_ENOMEM; -PL_ECRYPTO if libsrtp refused. */
int pl_srtp_session_create(const pl_srtp_keys_t *keys, pl_srtp_session_t **out);

/* Frees the session; libsrtp wipes its key schedule. NULL is allowed. */
void pl_srtp_session_destroy(pl_srtp_session_t *s);

/* Protects the RTP packet buf[0..*len) in place with the outbound session and sets *len to the
 * SRTP length. cap is the size of buf and must be at least *len + PL_SRTP_TAIL_ROOM.
 * Protecting a sequence number again is allowed (NACK retransmission), but only with exactly
 * the same packet: a different payload under a used sequence number reuses the keystream.
 * Returns 0; -PL_ETOOBIG if the tail room is missing; -PL_ECONFLICT if the sequence number is
 * older than the replay window; -PL_EINVAL for a malformed packet. */
int pl_srtp_protect_rtp(pl_srtp_session_t *s, uint8_t *buf, size_t cap, size_t *len);

/* Verifies and decrypts the SRTP packet buf[0..*len) in place with the inbound session and sets
 * *len to the RTP length. Returns 0; -PL_ECRYPTO if authentication failed; -PL_ECONFLICT for a
 * replayed packet or one older than the window; -PL_EINVAL for a malformed packet. Every error
 * is counted. On error buf holds nothing usable: drop the packet. */
int pl_srtp_unprotect_rtp(pl_srtp_session_t *s, uint8_t *buf, size_t *len);

/* RTCP counterparts of the two calls above (the SRTCP index is kept by libsrtp, so repeated
 * RTCP protects are never refused). Same contracts and codes. */
int pl_srtp_protect_rtcp(pl_srtp_session_t *s, uint8_t *buf, size_t cap, size_t *len);
int pl_srtp_unprotect_rtcp(pl_srtp_session_t *s, uint8_t *buf, size_t *len);

/* Copies the counters into *out. */
void pl_srtp_session_stats(const pl_srtp_session_t *s, pl_srtp_stats_t *out);

#endif
