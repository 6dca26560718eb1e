/* One browser's media transport: ICE-lite, DTLS and SRTP for one peer, joined together.
 *
 * Every datagram from the peer comes in through pl_peer_receive, and is demultiplexed by its
 * first byte (RFC 7983): 0-3 STUN, 20-63 DTLS, 128-191 SRTP or SRTCP. STUN is answered at once;
 * DTLS and SRTP are accepted only from an address that passed an ICE check, so a stranger who
 * learns the port cannot inject anything. Decrypted RTP and RTCP go up through the listener;
 * the owner (the room) forwards them.
 *
 * Like the modules it joins, it owns no socket and reads no clock: datagrams leave through the
 * listener's send callback, and the owner calls pl_peer_tick with the time every few tens of
 * milliseconds (DTLS retransmission, consent freshness). */
#ifndef PL_PEER_H
#define PL_PEER_H

#include "media/dtls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct pl_peer pl_peer_t;

typedef enum {
    PL_PEER_NEW,          /* waiting for the first ICE check */
    PL_PEER_CONNECTING,   /* ICE checked, DTLS handshake in progress */
    PL_PEER_CONNECTED,    /* SRTP keys in place: media flows */
    PL_PEER_DISCONNECTED, /* consent expired (RFC 7675): nothing is sent until a check arrives */
    PL_PEER_FAILED,       /* DTLS failed (fingerprint mismatch, timeout, alert): final */
    PL_PEER_CLOSED,       /* the peer sent close_notify: final */
} pl_peer_state_t;

typedef struct {
    uint64_t stun_in, stun_refused;      /* checks answered / refused or dropped */
    uint64_t dtls_unknown_tuple;         /* DTLS from an address that never passed a check */
    uint64_t srtp_unknown_tuple;         /* SRTP from such an address */
    uint64_t srtp_auth_failures, srtp_replays;
    uint64_t rtp_in, rtcp_in, rtp_out, rtcp_out;
    uint64_t not_sent;                   /* outgoing packets dropped: no route or no consent */
    uint64_t unknown_packets;            /* first byte in no known range, or empty */
    uint64_t reconnects;                 /* the selected address changed after connecting */
    uint64_t fingerprint_mismatches;     /* DTLS certificate not the one in the SDP */
} pl_peer_stats_t;

typedef struct {
    /* One datagram to the peer at `to`; buf is borrowed for the call. Required. */
    void (*send)(void *opaque, const uint8_t *buf, size_t len, const struct sockaddr *to);
    /* Decrypted RTP or compound RTCP from the peer. buf is the caller's receive buffer,
     * writable, with its original capacity; borrowed for the call. */
    void (*rtp)(void *opaque, uint8_t *buf, size_t len);
    void (*rtcp)(void *opaque, uint8_t *buf, size_t len);
    /* The state changed. reconnected is true when CONNECTED was re-entered from DISCONNECTED
     * or over a new address (a network change). */
    void (*state)(void *opaque, pl_peer_state_t state, bool reconnected);
} pl_peer_listener_t;

/* Creates a peer for the browser that offered remote_ufrag/remote_pwd and the certificate
 * fingerprint remote_fp (from its SDP). Parley is the DTLS server (it answers a=setup:passive).
 * Returns 0 and *out; -PL_EINVAL; -PL_ENOMEM; -PL_ECRYPTO. */
int pl_peer_create(pl_dtls_ctx_t *ctx, const char *remote_ufrag, const char *remote_pwd,
                   const uint8_t remote_fp[PL_DTLS_FP_LEN], const pl_peer_listener_t *listener,
                   void *opaque, pl_peer_t **out);
/* Frees the peer, sending close_notify first if DTLS is connected. Not from inside one of its
 * callbacks. NULL is allowed. */
void pl_peer_destroy(pl_peer_t *p);

/* The credentials to put in the SDP answer. They change on pl_peer_restart_ice. */
const char *pl_peer_local_ufrag(const pl_peer_t *p);
const char *pl_peer_local_pwd(const pl_peer_t *p);
/* An ICE restart (new remote credentials from a re-offer): media keeps flowing on the old
 * address until the browser checks with the new credentials. 0 or -PL_EINVAL. */
int pl_peer_restart_ice(pl_peer_t *p, const char *remote_ufrag, const char *remote_pwd);

/* One datagram from `from`. buf must be writable with room for cap bytes (SRTP is decrypted
 * in place). Returns 0 when it was used, or a negative code when it was refused (counted). */
int pl_peer_receive(pl_peer_t *p, uint8_t *buf, size_t len, size_t cap,
                    const struct sockaddr *from, int64_t now_ms);

/* Encrypts in place and sends plaintext RTP / compound RTCP to the peer's selected address.
 * cap must leave PL_SRTP_TAIL_ROOM beyond len. Returns 0; -PL_EUNAVAIL when not CONNECTED
 * (or consent expired), counted in not_sent; -PL_ETOOBIG; -PL_ECRYPTO. */
int pl_peer_send_rtp(pl_peer_t *p, uint8_t *buf, size_t len, size_t cap);
int pl_peer_send_rtcp(pl_peer_t *p, uint8_t *buf, size_t len, size_t cap);

/* Drives DTLS retransmission and consent expiry. Call every 20-100 ms. */
void pl_peer_tick(pl_peer_t *p, int64_t now_ms);

pl_peer_state_t pl_peer_state(const pl_peer_t *p);
/* The address media goes to, or NULL before ICE nominated one. */
const struct sockaddr *pl_peer_address(const pl_peer_t *p);
void pl_peer_stats(const pl_peer_t *p, pl_peer_stats_t *out);
const char *pl_peer_state_name(pl_peer_state_t s);

#endif
