/* What room.c (members, slots, RTP forwarding) and room_rtcp.c (feedback and reports) share.
 * Not part of the room's contract: only media/room*.c include it. */
#ifndef PL_ROOM_INTERNAL_H
#define PL_ROOM_INTERNAL_H

#include "media/room.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/rtx_ring.h"
#include "media/speaker.h"
#include "media/srtp_session.h"

/* A member's published streams, by role, and the sections they come from. */
enum { PL_ROOM_PUB_MIC, PL_ROOM_PUB_CAMERA, PL_ROOM_PUB_SCREEN, PL_ROOM_PUB_COUNT };

#define PL_ROOM_NO_PT 0xFFu          /* in pt maps: drop, the other side lacks the codec */
#define PL_ROOM_NACK_DEDUP 64        /* sequence numbers remembered per stream */
#define PL_ROOM_NACK_REPEAT_MS 200   /* ask a publisher for one packet at most this often */
#define PL_ROOM_NACK_MAX_AGE_MS 1000 /* older ring packets are no use to a jitter buffer */
/* Lost packets read from one NACK message at most. A NACK names 17 packets per 4 bytes, so an
 * unbounded one could make the room resend its whole ring for every RTCP packet; past a few
 * hundred ms of loss a keyframe (which the browser asks for itself) serves better anyway. */
#define PL_ROOM_NACK_MAX_SEQS 128
#define PL_ROOM_KEYFRAME_MS 1000    /* one keyframe request per stream per second */
#define PL_ROOM_REPORT_MS 1000      /* SR, RR and REMB interval */
#define PL_ROOM_SCREEN_IDLE_MS 5000 /* a screen share this quiet has stopped */
#define PL_ROOM_RTCP_MAX 1200       /* what the room writes in one compound, at most */

typedef struct pl_room_pub {
    pl_room_member_t *owner;
    bool active; /* the answer receives on this section */
    bool video;
    uint8_t section;
    uint32_t ssrc;            /* 0 until known */
    uint32_t clock;           /* of the first negotiated codec: 48000 for opus, 90000 for video */
    uint32_t fb;              /* PL_SDP_FB_* agreed, over its codecs */
    uint8_t codec_of_pt[128]; /* pl_sdp_codec_id_t + 1; 0 for a PT not negotiated */
    uint8_t ext_id[PL_SDP_EXT_COUNT];
    /* receiving */
    bool have_rtp;
    int64_t last_rtp_ms;
    pl_rtp_seq_t rx;
    /* the publisher's last SR: its clock mapping, and LSR/DLSR for our RR */
    bool have_sr;
    uint64_t sr_ntp;
    uint32_t sr_rtp;
    int64_t sr_ms;
    /* feedback we send it */
    bool kf_sent;
    int64_t kf_ms;
    uint8_t fir_seq;
    uint16_t nack_seq[PL_ROOM_NACK_DEDUP];
    int64_t nack_ms[PL_ROOM_NACK_DEDUP];
    bool nack_used[PL_ROOM_NACK_DEDUP];
    pl_rtx_ring_t *ring; /* video only */
} pl_room_pub_t;

/* One section a subscriber receives on, and the rewriting state of the stream it sees. */
typedef struct {
    bool active; /* the answer sends on this section, with an SSRC */
    bool video;
    uint32_t ssrc; /* announced in the answer */
    uint32_t clock;
    uint8_t pt_of_codec[3]; /* by pl_sdp_codec_id_t; PL_ROOM_NO_PT if not negotiated */
    uint8_t ext_id[PL_SDP_EXT_COUNT];
    pl_room_pub_t *src;          /* the publisher stream filling it, or NULL */
    uint8_t pt_map[128];         /* src's PT to ours */
    uint8_t ext_map[256];        /* src's extension ids to ours; 0 blanks */
    bool synced;                 /* seq_off/ts_off hold for src */
    bool started;                /* something was ever sent: last_* are valid */
    uint16_t seq_off, epoch_seq; /* epoch_seq: src's first seq since it filled the slot */
    uint32_t ts_off;
    uint16_t last_seq; /* highest sent, and its timestamp and send time */
    uint32_t last_ts;
    int64_t last_ms;
    uint32_t packets, octets; /* for SRs */
} pl_room_track_t;

struct pl_room_member {
    pl_room_t *room;
    void *opaque;
    pl_room_send_fn send;
    bool may_screen;
    bool dead; /* removed; memory kept until the room call in progress returns */
    int index; /* in room->members, fixed for life */
    uint64_t join_seq;
    uint32_t rtcp_ssrc; /* sender SSRC of the RR, REMB and feedback we send it */
    int n_slots;        /* K, from the offer */
    int n_tracks;       /* 2K + 1: the layout's sections, whether the offer has them or not */
    char mid[PL_ROOM_SECTIONS][PL_SDP_MID_MAX + 1];
    pl_room_pub_t pub[PL_ROOM_PUB_COUNT];
    /* By section; only the first n_tracks are used. Fixed-size because a track is small
     * (under 500 bytes) next to the member's two retransmission rings. */
    pl_room_track_t track[PL_ROOM_SECTIONS];
    pl_room_member_t *slot[PL_ROOM_MAX_SLOTS]; /* who fills each slot, the first n_slots */
    bool have_remb;
    uint64_t remb_bps;
};

struct pl_room {
    pl_room_config_t cfg;
    pl_room_member_t *members[PL_ROOM_MAX_MEMBERS]; /* by index, NULL when free */
    pl_room_member_t *dying[PL_ROOM_MAX_MEMBERS];   /* removed during a call, freed after */
    uint64_t joins;
    int n_members;            /* in members[]; at most cfg.max_members */
    pl_room_member_t *screen; /* whose screen share fills every other member's screen section */
    int busy;                 /* depth of room calls in progress */
    bool ticked;
    int64_t next_report_ms;
    pl_speaker_t speaker;
    pl_room_stats_t stats;
    uint8_t scratch[PL_RTP_MAX_LEN + PL_SRTP_TAIL_ROOM];
    uint8_t rtcp[PL_ROOM_RTCP_MAX + PL_SRTP_TAIL_ROOM];
};

/* room.c */

/* Brackets a call that may run callbacks: a member removed inside is freed by the last exit. */
void pl_room__enter(pl_room_t *r);
void pl_room__exit(pl_room_t *r);
/* Rewrites pkt (a packet of t->src, which must be synced unless retransmit is false) for
 * subscriber sub's track t and sends it. arrival_ms is when the room first received it: a
 * retransmission must come out byte for byte as the first copy did. Returns 0 when sent. */
int pl_room__forward(pl_room_t *r, pl_room_member_t *sub, pl_room_track_t *t,
                     const pl_rtp_packet_t *pkt, int64_t arrival_ms, bool retransmit);
/* Reassigns every member's slots after a join, a leave or a screen-share change. */
void pl_room__assign(pl_room_t *r);
/* Calls m's send callback unless m was removed; counts a failure. Returns what it returned. */
int pl_room__send(pl_room_t *r, pl_room_member_t *m, uint8_t *buf, size_t len, size_t cap,
                  bool rtcp);

/* Reads the slot layout (room.h) from offer: returns K (2 .. PL_ROOM_MAX_SLOTS) and, in
 * *n_used, how many of the offer's sections belong to it (at most 2K + 1; fewer only for an
 * offer of fewer than five sections), or -PL_EINVAL for an offer out of the layout. In
 * room_answer.c, so that the answer and the member read the same K from the same offer. */
int pl_room__layout(const pl_sdp_offer_t *offer, size_t *n_used);
/* The kind of section i in a layout of k slots. */
pl_sdp_kind_t pl_room__section_kind(size_t i, int k);

/* room_rtcp.c */

/* Asks p's publisher for a keyframe, by FIR if want_fir and it agreed to FIR (or agreed to
 * nothing else), else by PLI. Returns 0 when sent, -PL_ERATE when p had one less than a second
 * ago (counted), -PL_ENOTFOUND when p's SSRC is unknown or it agreed to neither. */
int pl_room__keyframe(pl_room_t *r, pl_room_pub_t *p, bool want_fir, int64_t now_ms);

#endif
