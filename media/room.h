/* One consultation's forwarding engine: the SFU's router (DESIGN.md, "Media"). Up to
 * PL_ROOM_MAX_MEMBERS members (a consultation of three by default: patient, clinician, one
 * invited person; up to eight for a multi-disciplinary team meeting) each publish a
 * microphone, a camera and, for staff, a screen; each subscribes to the others through the
 * fixed slots of media/README.md ("How a call is negotiated"), so nobody renegotiates when
 * people come and go.
 *
 * Like the codecs under it, a room owns no socket and reads no clock: decrypted RTP and RTCP
 * come in through pl_room_on_rtp / pl_room_on_rtcp, packets go out through each member's send
 * callback (which encrypts in place), and the caller passes the time. Nothing on the packet
 * paths (on_rtp, on_rtcp, tick) allocates: a member's retransmission rings are allocated when
 * it is added, and every packet is rewritten in one scratch buffer owned by the room.
 *
 * The expected offer: K other-person slots (2 <= K <= PL_ROOM_MAX_SLOTS), 2K + 1 transceivers
 * in this order (the m-section index is what counts; mids may be anything):
 *
 *   section 0    audio  sendrecv  my microphone;  slot 0's voice  (the first other person)
 *   section 1    video  sendrecv  my camera;      slot 0's video
 *   section 2k   audio  recvonly  slot k's voice, for k = 1 .. K-1 (Parley only sends)
 *   section 2k+1 video  recvonly  slot k's video
 *   section 2K   video  sendrecv  screen share: staff send it, everyone receives it
 *
 * K is read from the offer: its leading (audio, video) pairs, then the screen's video where
 * the next audio would be. K = 2 is the original five-section layout (screen at section 4).
 * An offer of fewer than five sections is the start of the K = 2 layout, its missing sections
 * simply absent: a two-section offer (audio, video) is a one-to-one call, an audio-only offer
 * has section 0 alone. Any other shape (K over PL_ROOM_MAX_SLOTS, no screen section after the
 * pairs, a section of the wrong kind) is refused. Sections after the screen (a data channel,
 * say) are ignored by the room and left to the answer writer, which rejects what Parley does
 * not carry. A rejected (port 0) section within the layout matches either kind.
 *
 * What each subscriber sees on a slot is one continuous stream under the SSRC Parley announced
 * for it: whichever member fills the slot, its SSRC, sequence numbers, timestamps, payload
 * types and header extension ids are rewritten to the subscriber's, and a member who fills a
 * slot someone else left continues the old numbering (sequence + 1, timestamp advanced by the
 * wall time in between), with a keyframe requested from it. */
#ifndef PL_ROOM_H
#define PL_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/sdp.h"

#define PL_ROOM_MAX_MEMBERS 8     /* what any room may be given (pl_room_config_t.max_members) */
#define PL_ROOM_DEFAULT_MEMBERS 3 /* a room's capacity when none is given */
#define PL_ROOM_MAX_SLOTS 7       /* K: other-person slots one member can subscribe to */
#define PL_ROOM_SECTIONS (2 * PL_ROOM_MAX_SLOTS + 1) /* the most transceivers the room uses */

/* The REMB caps of DESIGN.md: what a camera and a screen share may use at most, and the floor
 * below which Parley never asks a publisher to go (REMB is a ceiling; 150 kbit/s still gives
 * a usable low-resolution picture). */
#define PL_ROOM_CAMERA_MAX_BPS 1500000u
#define PL_ROOM_SCREEN_MAX_BPS 2500000u
#define PL_ROOM_MIN_BPS 150000u

typedef struct pl_room pl_room_t;
typedef struct pl_room_member pl_room_member_t;

/* Encrypts buf[0..len) in place and sends it to the member whose opaque this is: an RTP
 * packet, or a compound RTCP packet when rtcp is true. cap is the size of buf, with at least
 * PL_SRTP_TAIL_ROOM bytes to spare after len. buf is the room's scratch buffer, borrowed for
 * the call. Returns 0 when sent, or a negative code (counted in send_failures). Wire it to
 * pl_peer_send_rtp / pl_peer_send_rtcp. It must not call back into the room except
 * pl_room_member_remove (see there). */
typedef int (*pl_room_send_fn)(void *opaque, uint8_t *buf, size_t len, size_t cap, bool rtcp);

/* The active speaker changed to the member whose opaque is member_opaque. */
typedef void (*pl_room_speaker_fn)(void *opaque, void *member_opaque);

typedef struct {
    uint32_t camera_max_bps; /* 0: PL_ROOM_CAMERA_MAX_BPS */
    uint32_t screen_max_bps; /* 0: PL_ROOM_SCREEN_MAX_BPS */
    /* Added to now_ms to get the wall time written in SRs (NTP). now_ms may be any
     * millisecond clock (uv_now); receivers compare SR times only with each other and echo
     * them back, so an offset of 0 works, but then SRs say 1900 instead of today. */
    int64_t ntp_offset_ms;
    pl_room_speaker_fn on_speaker; /* optional */
    void *opaque;                  /* for on_speaker */
    /* How many members the room takes: 0 means PL_ROOM_DEFAULT_MEMBERS; at most
     * PL_ROOM_MAX_MEMBERS. Independent of the members' slots: in a room of eight, a member
     * who offered K slots sees the first K others. */
    int max_members;
} pl_room_config_t;

/* /metrics counters, per room; the owner sums them. Counts are of packets unless noted. */
typedef struct {
    uint64_t rtp_forwarded;           /* copies sent to subscribers (retransmissions not counted) */
    uint64_t rtp_unknown_ssrc;        /* no stream of the member has this SSRC, and no mid said */
    uint64_t rtp_dropped_no_codec;    /* a subscriber copy whose codec the subscriber lacks */
    uint64_t rtp_malformed;           /* failed pl_rtp_parse */
    uint64_t rtp_not_allowed;         /* screen share from a member who may not share */
    uint64_t rtcp_malformed;          /* failed pl_rtcp_iter_init */
    uint64_t nack_received;           /* sequence numbers subscribers asked for */
    uint64_t nack_answered_from_ring; /* ... resent from a ring */
    uint64_t nack_sent_upstream;      /* sequence numbers asked of publishers */
    uint64_t pli_relayed;             /* PLI and FIR from subscribers passed to publishers */
    uint64_t pli_rate_limited;        /* keyframe requests dropped: one a second per stream */
    uint64_t keyframe_requests;       /* PLI or FIR the room made itself, for a new slot source */
    uint64_t remb_sent, sr_sent, rr_sent;
    uint64_t send_failures; /* a send callback returned an error */
} pl_room_stats_t;

/* Creates an empty room. cfg may be NULL for the defaults. Returns 0 and *out (free with
 * pl_room_destroy), -PL_EINVAL (max_members out of range) or -PL_ENOMEM. */
int pl_room_create(const pl_room_config_t *cfg, pl_room_t **out);
/* Changes the room's capacity (as max_members: 0 means PL_ROOM_DEFAULT_MEMBERS). Returns 0;
 * -PL_EINVAL when out of range; -PL_ECONFLICT when the room already has more members than
 * that, or when called from inside a callback of this room. Members are never removed. */
int pl_room_set_capacity(pl_room_t *r, int max_members);
/* Frees the room and every member still in it (their send callbacks are not called). NULL is
 * allowed. Not from inside a callback of this room: that aborts. */
void pl_room_destroy(pl_room_t *r);

/* ---- building a member's answer ---- */

/* What the answer needs for the fixed slots: per section, the SSRC Parley will send with, a
 * cname and msid, and the direction. Fill with pl_room_answer_prepare, then hand to the answer
 * with pl_room_answer_apply. The strings live inside the struct (about 2 KB, sized for
 * PL_ROOM_MAX_SLOTS whatever the offer's K). */
typedef struct {
    size_t n_sections; /* of the layout that the offer has: at most 2 * n_slots + 1 */
    int n_slots;       /* K, read from the offer */
    pl_sdp_answer_section_t sections[PL_ROOM_SECTIONS];
    char mid[PL_ROOM_SECTIONS][PL_SDP_MID_MAX + 1];
    /* Per slot k (0 .. K-1), then the screen at index K: a cname, and an msid stream id, one
     * per slot so that a slot's voice and video lip-sync. */
    char cname[PL_ROOM_MAX_SLOTS + 1][17];
    char stream[PL_ROOM_MAX_SLOTS + 1][33];
    char track[PL_ROOM_SECTIONS][33];
} pl_room_answer_t;

/* Reads K from offer (borrowed for the call) and chooses, for its 2K + 1 m-sections, random
 * SSRCs distinct from each other and from every SSRC in the offer, random cnames and msids,
 * and directions: sections 2 to 2K - 1 are forced sendonly (Parley only sends there), and
 * the screen section 2K too unless may_screen. Sections after the screen get nothing (see
 * above). Returns 0; -PL_EINVAL when the offer does not follow the layout above (K over
 * PL_ROOM_MAX_SLOTS, no screen section, an audio section where video belongs, or the
 * reverse); -PL_EINTERNAL when the random generator failed. On error *out is zeroed. */
int pl_room_answer_prepare(const pl_sdp_offer_t *offer, bool may_screen, pl_room_answer_t *out);

/* Points p->sections into a (which must then stay in place until pl_sdp_answer_create
 * returns), and sets p->no_rtx and p->no_transport_cc, which the room relies on: NACKs are
 * answered in the original stream, and bandwidth is estimated with REMB. */
void pl_room_answer_apply(pl_room_answer_t *a, pl_sdp_answer_params_t *p);

/* ---- members ---- */

typedef struct {
    void *opaque;         /* passed to send and to the speaker callback */
    pl_room_send_fn send; /* required */
    bool may_screen;      /* staff: may publish on the screen section (2K) */
    /* The member's offer and what its answer agreed (sections in offer order, SSRCs Parley
     * announced in them). Both are borrowed for the call: the room copies what it needs. */
    const pl_sdp_offer_t *offer;
    const pl_sdp_negotiated_t *neg;
} pl_room_member_params_t;

/* Adds a member, after its answer is written. It publishes on the sections the answer receives
 * on (0, 1, and 2K when may_screen) and subscribes on the sections the answer sends on. Its
 * slots, and every other member's, are assigned at once: each free slot, lowest first, gets
 * the next other member in join order who has no slot yet; a member keeps its slot while it
 * stays, and a slot freed by someone leaving goes to the next unslotted member, if any. A
 * member with K slots in a room of more than K + 1 sees only K of the others.
 * Returns 0 and *out (valid until pl_room_member_remove or pl_room_destroy); -PL_EINVAL for
 * bad parameters or a negotiation that does not follow the layout; -PL_ETOOBIG when the room
 * is at its capacity; -PL_ECONFLICT when called from inside a callback of this room;
 * -PL_ENOMEM; -PL_EINTERNAL when the random generator failed. On error nothing changed. */
int pl_room_member_add(pl_room_t *r, const pl_room_member_params_t *p, pl_room_member_t **out);

/* Removes a member: its streams stop, and the slots it filled for the others become free
 * (their numbering continues when someone fills them). NULL is allowed. Safe at any time, also
 * from inside a send or speaker callback of the room: its send callback is not called again
 * after this returns, and the memory is released when the room call in progress returns. The
 * caller may then free what the member's opaque points at, except from inside that member's
 * own send callback, which is still running. */
void pl_room_member_remove(pl_room_member_t *m);

/* The opaque given to pl_room_member_add. */
void *pl_room_member_opaque(const pl_room_member_t *m);

/* The opaque of the member who fills m's slot (0 .. K-1), NULL if the slot is empty or out of
 * range: what the signalling tells m's page so each picture is captioned with the right
 * name. */
void *pl_room_member_slot(const pl_room_member_t *m, int slot);
/* K: how many slots m's offer has (2 .. PL_ROOM_MAX_SLOTS), or 0 for NULL. */
int pl_room_member_slot_count(const pl_room_member_t *m);

/* ---- packets and time ---- */

/* One decrypted RTP packet from member m (buf is borrowed for the call and not modified).
 * It is stored for retransmission if it is video, then rewritten and sent to each subscriber
 * whose slot it fills. Returns 0 when it belonged to a stream (even if nobody subscribes),
 * -PL_EINVAL for a malformed packet, -PL_ENOTFOUND for an unknown SSRC, -PL_EPERM for a screen
 * share the member may not publish. Every refusal is counted. */
int pl_room_on_rtp(pl_room_t *r, pl_room_member_t *m, const uint8_t *buf, size_t len,
                   int64_t now_ms);

/* One decrypted compound RTCP packet from member m (borrowed, not modified). Consumed: SR
 * (the publisher's NTP/RTP clock mapping), RR, SDES, BYE, REMB (kept for the member's
 * publishers' estimates). Acted on: generic NACK (answered from a ring; what it misses is asked
 * of the publisher), PLI and FIR (passed to the slot's publisher, once a second at most).
 * Returns 0, or -PL_EINVAL for a malformed compound (counted). */
int pl_room_on_rtcp(pl_room_t *r, pl_room_member_t *m, const uint8_t *buf, size_t len,
                    int64_t now_ms);

/* Call every 20 to 100 ms. Decides the active speaker (calling on_speaker), frees the screen
 * slot of a member who stopped sharing, and once a second sends every member its reports: an
 * SR for each slot it receives, an RR for the streams it publishes, and a REMB for its video. */
void pl_room_tick(pl_room_t *r, int64_t now_ms);

void pl_room_stats(const pl_room_t *r, pl_room_stats_t *out);

#endif
