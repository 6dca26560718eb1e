/* An in-memory room for the media/room tests: members negotiated from synthetic browser offers
 * in the slot layout of media/room.h (five transceivers by default, 2K + 1 for K slots), RTP
 * built with pl_rtp_write, and every packet the room sends captured in fixed arrays (so a test
 * can also prove the room allocates nothing: capturing does not allocate either).
 *
 * Three canned members differ in every way the room must translate: payload types, header
 * extension ids and SSRCs. No cmocka here: functions return codes and the tests assert. */
#ifndef PL_TEST_ROOM_HARNESS_H
#define PL_TEST_ROOM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/room.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/srtp_session.h"

#define PL_RH_PEERS (PL_ROOM_MAX_MEMBERS + 1) /* a full room of eight, and one refused */
#define PL_RH_CAPTURE 2048                    /* packets kept per peer */

/* What a member's browser offers. A payload type of -1 leaves that codec out; an SSRC of 0
 * leaves out the a=ssrc lines (the room must then learn the SSRC from the mid). */
typedef struct {
    /* 5 (two slots), 2 for audio and video only, or 2K + 1 for K slots: sections 0 and 1
     * sendrecv, then (audio, video) recvonly pairs, then the screen's video sendrecv. */
    size_t n_sections;
    /* Optional, for offers out of the layout: one letter per section, 'a' audio or 'v' video,
     * replacing n_sections. Sections 0, 1 and the last send; the others receive only. */
    const char *kinds;
    int opus_pt, vp8_pt, h264_pt;
    uint8_t id_level, id_ast, id_tcc, id_mid;
    uint32_t ssrc[3]; /* microphone, camera, screen */
} pl_rh_spec_t;

typedef struct {
    bool rtcp;
    size_t len;
    uint8_t data[PL_RTP_MAX_LEN + PL_SRTP_TAIL_ROOM];
} pl_rh_pkt_t;

typedef struct pl_rh pl_rh_t;

typedef struct {
    pl_rh_t *h;
    int who;
    bool joined;
    pl_rh_spec_t spec;
    pl_sdp_negotiated_t neg;
    pl_room_member_t *member;
    int send_rc;        /* what the send callback returns */
    size_t n;           /* packets captured (the array keeps the first PL_RH_CAPTURE) */
    pl_rh_pkt_t *pkts;  /* PL_RH_CAPTURE of them */
    int remove_on_send; /* >= 0: remove that peer from inside this peer's next send */
} pl_rh_peer_t;

struct pl_rh {
    pl_room_t *room;
    pl_rh_peer_t peer[PL_RH_PEERS];
    int speaker_events;
    void *last_speaker; /* a pl_rh_peer_t * */
};

/* cfg may be NULL; its speaker callback is replaced by the harness's. 0 or a negative code. */
int pl_rh_create(pl_rh_t *h, const pl_room_config_t *cfg);
void pl_rh_destroy(pl_rh_t *h);

/* The canned member who (0, 1 or 2; 3 is 1 again with new SSRCs, as after a rejoin; 4 to
 * PL_RH_PEERS - 1 are further members with SSRCs of their own, payload types and extension ids
 * taken in turn from 0, 1 and 2). Five sections; set n_sections to 2K + 1 for K slots. */
pl_rh_spec_t pl_rh_spec(int who);
/* The offer text for spec into buf; returns its length, 0 if it did not fit. */
size_t pl_rh_offer(const pl_rh_spec_t *spec, char *buf, size_t cap);

/* Negotiates and adds peer who: offer, pl_room_answer_prepare(answer_staff), answer, add with
 * may_screen = member_staff. 0 or a negative code from whichever step failed. */
int pl_rh_join(pl_rh_t *h, int who, const pl_rh_spec_t *spec, bool answer_staff, bool member_staff);
/* The same from offer text (a fixture, say); the peer's spec is left zeroed, so build its
 * packets by hand. */
int pl_rh_join_text(pl_rh_t *h, int who, const char *text, size_t len, bool answer_staff,
                    bool member_staff);
void pl_rh_leave(pl_rh_t *h, int who);

/* The SSRC Parley announced to subscriber who on section i (0 if none). */
uint32_t pl_rh_slot_ssrc(const pl_rh_t *h, int who, int section);

typedef struct {
    int section; /* 0 microphone, 1 camera, 2K screen (4 with the default five sections) */
    uint16_t seq;
    uint32_t ts;
    uint8_t level; /* audio level in -dBov */
    bool no_mid;   /* leave the mid extension out */
    bool marker;
    size_t payload; /* bytes; 0 means 100 */
} pl_rh_rtp_t;

/* Builds the packet peer who's browser would send; returns its length, 0 on error. */
size_t pl_rh_rtp(const pl_rh_t *h, int who, const pl_rh_rtp_t *o, uint8_t *buf, size_t cap);
/* Builds it and hands it to the room. Returns what pl_room_on_rtp returned. */
int pl_rh_send(pl_rh_t *h, int who, const pl_rh_rtp_t *o, int64_t now_ms);

/* Captured packets: forget them all, or count RTP (rtcp false) / RTCP (true) ones. */
void pl_rh_clear(pl_rh_t *h);
size_t pl_rh_count(const pl_rh_t *h, int who, bool rtcp);
/* The last RTP packet peer who received with this SSRC, parsed into out; NULL if none. */
const pl_rh_pkt_t *pl_rh_last_rtp(const pl_rh_t *h, int who, uint32_t ssrc, pl_rtp_packet_t *out);
/* The first RTCP sub-packet of type pt (and feedback fmt, or any when fmt < 0) peer who
 * received at or after capture index *from; *from is left after the compound that held it.
 * Returns 0 with out filled, or -1. The view points into the capture. */
int pl_rh_find_rtcp(const pl_rh_t *h, int who, uint8_t pt, int fmt, size_t *from,
                    pl_rtcp_packet_t *out);

#endif
