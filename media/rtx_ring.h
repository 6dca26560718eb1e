/* The retransmission ring of one published video stream: the last packets the SFU received,
 * kept so that a subscriber's NACK can be answered without asking the publisher (RFC 4585
 * generic NACK, answered as in RFC 4588's "retransmission in the original stream" because
 * Parley answers no rtx: see no_rtx in media/sdp.h).
 *
 * It sits under media/room.c, the forwarding engine (DESIGN.md, "Media": "NACKs are answered
 * from a retransmission ring"). All memory is allocated once by pl_rtx_ring_create, so storing
 * and finding packets never allocates. Packets are kept as received from the publisher, in
 * its sequence space; the room rewrites a copy for each subscriber it resends to.
 *
 * A ring holds at most PL_SRTP_REPLAY_WINDOW packets: libsrtp refuses to protect a packet
 * whose sequence number is further back than its replay window, so an older one could not be
 * resent anyway. */
#ifndef PL_RTX_RING_H
#define PL_RTX_RING_H

#include <stddef.h>
#include <stdint.h>

/* The room's choice: 512 packets is about 1.5 s of a 2.5 Mbit/s screen share at 1200-byte
 * packets and several seconds of a camera, for 768 KB per stream. */
#define PL_RTX_RING_SLOTS 512

typedef struct pl_rtx_ring pl_rtx_ring_t;

/* Creates a ring of `slots` packets of up to PL_RTP_MAX_LEN bytes each. slots must be a power
 * of two from 1 to PL_SRTP_REPLAY_WINDOW. Returns 0 and *out (free with pl_rtx_ring_destroy),
 * -PL_EINVAL, or -PL_ENOMEM. */
int pl_rtx_ring_create(size_t slots, pl_rtx_ring_t **out);
/* NULL is allowed. */
void pl_rtx_ring_destroy(pl_rtx_ring_t *r);

/* Copies the packet pkt[0..len) with sequence number seq, received at now_ms. A packet more
 * than `slots` behind the newest one stored is not kept (it would overwrite a newer one).
 * Returns 0; -PL_ENOTFOUND when not kept for that reason; -PL_EINVAL for len 0 or over
 * PL_RTP_MAX_LEN. */
int pl_rtx_ring_put(pl_rtx_ring_t *r, uint16_t seq, const uint8_t *pkt, size_t len, int64_t now_ms);

/* Finds the packet with sequence number seq stored no more than max_age_ms before now_ms.
 * Returns 0 with *pkt (borrowed: valid until the next put or clear), *len and, if stored_ms is
 * not NULL, the time it was stored; or -PL_ENOTFOUND. */
int pl_rtx_ring_get(const pl_rtx_ring_t *r, uint16_t seq, int64_t now_ms, int64_t max_age_ms,
                    const uint8_t **pkt, size_t *len, int64_t *stored_ms);

/* Forgets every packet, for a stream that restarted its numbering (a new SSRC). */
void pl_rtx_ring_clear(pl_rtx_ring_t *r);

#endif
