/* The SFU as signalling/ sees it: one UDP port on the server's libuv loop, the process DTLS
 * certificate, and rooms of peers. This is the narrow API of DESIGN.md ("create a room, add a
 * peer with an SDP offer and get the answer, remove a peer, events up"); nothing here touches
 * the store.
 *
 * Datagrams are matched to peers first by the ICE username of a STUN check (the local ufrag
 * before the colon) and then by the 5-tuple the check came from. Anything else is dropped and
 * counted. */
#ifndef PL_MEDIA_H
#define PL_MEDIA_H

#include "media/peer.h"
#include "media/sdp.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct pl_media pl_media_t;
typedef struct pl_media_room pl_media_room_t;
typedef struct pl_media_peer pl_media_peer_t;

typedef enum {
    PL_MEDIA_EV_CONNECTED = 1, /* the peer's media is flowing */
    PL_MEDIA_EV_RECONNECTED,   /* back after a network change or a consent lapse */
    PL_MEDIA_EV_DISCONNECTED,  /* consent lapsed: the browser stopped answering */
    PL_MEDIA_EV_FAILED,        /* DTLS failed (fingerprint mismatch, timeout) or closed */
    PL_MEDIA_EV_ACTIVE_SPEAKER, /* this peer became the loudest in its room (room.c) */
} pl_media_event_kind_t;

typedef struct {
    pl_media_event_kind_t kind;
    uint64_t room_key; /* as given to pl_media_room_create */
    uint64_t peer_key; /* as given to pl_media_peer_add */
} pl_media_event_t;

typedef void (*pl_media_event_fn)(void *opaque, const pl_media_event_t *ev);

/* The kernel buffers pl_media_create asks for on the media socket. The default receive buffer
 * (net.core.rmem_default, 208 KiB, about 90 datagrams of 1.1 KB) overflowed whenever the loop
 * was off the CPU for a few milliseconds (docs/BENCHMARKS.md, "Parley media findings"). 4 MiB
 * holds about 3,600 such datagrams: about one second of 30 publishers of 1.2 Mbit/s video
 * (30 x 150 KB/s), and still about 0.1 s at the heaviest load measured (240 rooms, 33,000
 * datagrams/s in). The send side only smooths bursts (a keyframe fanned out to every
 * subscriber): 1 MiB. Linux caps a request at net.core.rmem_max / wmem_max unless the process
 * has CAP_NET_ADMIN, and doubles what it grants for its bookkeeping (SO_RCVBUF then reads back
 * twice the bytes granted). */
#define PL_MEDIA_RCVBUF_BYTES (4 << 20)
#define PL_MEDIA_SNDBUF_BYTES (1 << 20)

/* Global counters for /metrics. */
typedef struct {
    uint64_t datagrams_in, datagrams_out, send_failures;
    uint64_t unknown_source;    /* no peer for this ufrag or 5-tuple */
    uint64_t stun_refused;      /* bad integrity, unknown username, malformed */
    uint64_t dtls_unknown_tuple, srtp_auth_failures, srtp_replays;
    uint64_t fingerprint_mismatches; /* a browser's DTLS certificate was not the one in its SDP */
    uint64_t rtp_forwarded, rtp_unknown_ssrc, truncated;
    uint64_t nack_received, nack_answered_from_ring, nack_sent_upstream;
    uint64_t pli_relayed, keyframe_requests, remb_sent, sr_sent, rr_sent;
    /* Gauges, not counters: the socket's buffers as the kernel reported them after create
     * (SO_RCVBUF and SO_SNDBUF; on Linux twice the bytes granted). */
    uint64_t rcvbuf_bytes, sndbuf_bytes;
} pl_media_stats_t;

/* Binds UDP bind_ip:port on loop (port 0 picks one: see pl_media_port). advertise_ip is the
 * address put in the answer's host candidate. The socket's buffers are raised towards
 * PL_MEDIA_RCVBUF_BYTES / PL_MEDIA_SNDBUF_BYTES and what the kernel granted is logged; less than
 * that is a warning, not an error. Returns 0 and *out; -PL_EINVAL, -PL_EIO (bind failed),
 * -PL_ENOMEM, -PL_ECRYPTO. */
int pl_media_create(uv_loop_t *loop, const char *bind_ip, const char *advertise_ip, int port,
                    pl_media_event_fn on_event, void *opaque, pl_media_t **out);
/* Stops the socket and timers and frees everything. Returns after the handles closed (it runs
 * the loop for the close callbacks only when the loop is not running). */
void pl_media_destroy(pl_media_t *m);
int pl_media_port(const pl_media_t *m);
/* The media socket's receive buffer as the kernel reports it now (SO_RCVBUF: on Linux twice
 * the bytes granted), or -PL_EIO. */
int pl_media_recv_buffer_size(const pl_media_t *m);
const char *pl_media_fingerprint(const pl_media_t *m);
const char *pl_media_advertised_ip(const pl_media_t *m);
void pl_media_stats(const pl_media_t *m, pl_media_stats_t *out);

/* Creates a room for up to PL_ROOM_DEFAULT_MEMBERS peers with media (see
 * pl_media_room_set_capacity). 0 and *out, or -PL_ENOMEM. */
int pl_media_room_create(pl_media_t *m, uint64_t room_key, pl_media_room_t **out);
/* How many peers may have media in the room at once: 0 means PL_ROOM_DEFAULT_MEMBERS (3), at
 * most PL_ROOM_MAX_MEMBERS (8). Call after pl_media_room_create, before or between joins.
 * 0; -PL_EINVAL when out of range; -PL_ECONFLICT when more peers than that have media now. */
int pl_media_room_set_capacity(pl_media_room_t *r, int max_members);
/* Removes every peer of the room and frees it. */
void pl_media_room_destroy(pl_media_room_t *r);

/* Adds a peer for a browser that gave remote_ufrag/remote_pwd/remote_fp (SDP form) in its
 * offer. The returned peer's credentials go in the answer. */
int pl_media_peer_add(pl_media_room_t *r, uint64_t peer_key, const char *remote_ufrag,
                      const char *remote_pwd, const char *remote_fp, pl_media_peer_t **out);
/* Puts the peer's media in its room once its answer is written: offer and neg (what the answer
 * agreed) are borrowed for the call. may_screen: staff may share a screen. Until then the
 * peer's RTP is dropped. 0, -PL_ETOOBIG (room at its capacity), -PL_ECONFLICT (already set),
 * -PL_EINVAL (an offer out of the slot layout), -PL_ENOMEM. */
int pl_media_peer_set_media(pl_media_peer_t *p, const pl_sdp_offer_t *offer,
                            const pl_sdp_negotiated_t *neg, bool may_screen);
void pl_media_peer_remove(pl_media_peer_t *p);
const char *pl_media_peer_ufrag(const pl_media_peer_t *p);
const char *pl_media_peer_pwd(const pl_media_peer_t *p);
pl_peer_state_t pl_media_peer_state(const pl_media_peer_t *p);
/* The peer_key of whoever fills p's slot (0 .. pl_media_peer_slot_count - 1) now; 0 when
 * empty, out of range or before pl_media_peer_set_media. */
uint64_t pl_media_peer_slot_key(const pl_media_peer_t *p, int slot);
/* How many other-person slots p's offer has (K, 2 .. PL_ROOM_MAX_SLOTS; media/README.md), or 0
 * before pl_media_peer_set_media. */
int pl_media_peer_slot_count(const pl_media_peer_t *p);
/* An ICE restart from a re-offer: the new local credentials are registered alongside the old
 * ones, which keep working until the browser uses the new ones. */
int pl_media_peer_restart_ice(pl_media_peer_t *p, const char *remote_ufrag,
                              const char *remote_pwd);

#endif
