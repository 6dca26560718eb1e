/* RTP packets (RFC 3550) and their header extensions (RFC 8285): a zero-copy parser, the
 * in-place rewriters the SFU forwarder applies per subscriber, a receive-side sequence tracker
 * for receiver reports, and a header writer for tests and the load generator.
 *
 * Sits at the bottom of the media shape (DESIGN.md, "Media"): media_transport classifies each
 * decrypted datagram with pl_rtp_classify, media_router parses RTP once with pl_rtp_parse, then
 * for each subscriber copies the bytes into that subscriber's buffer and rewrites the copy.
 * Nothing here allocates or keeps a pointer past the call that was given it.
 *
 * Rewriters take the parsed view plus the buffer to write: the view supplies offsets, the
 * buffer may be the parsed bytes themselves or any copy of them. Because element positions come
 * from the view, not from re-reading the buffer, a series of rewrites on one copy never
 * confuses an element it has just renamed with one it has not reached yet. */
#ifndef PL_RTP_H
#define PL_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest RTP packet accepted or written. Per-peer forwarding buffers are sized from it, so a
 * packet that passes the parser always fits a subscriber's buffer (plus the SRTP tag). Browsers
 * keep RTP under about 1200 bytes; 1500 is an Ethernet MTU. */
#define PL_RTP_MAX_LEN 1500
#define PL_RTP_HEADER_LEN 12
#define PL_RTP_MAX_CSRC 15

/* The "defined by profile" values that mark RFC 8285 extension blocks. */
#define PL_RTP_EXT_ONE_BYTE 0xBEDEu
#define PL_RTP_EXT_TWO_BYTE 0x1000u /* low 4 bits are "appbits", ignored */

typedef enum {
    PL_RTP_CLASS_OTHER = 0, /* STUN, DTLS, TURN channel, or not a media packet at all */
    PL_RTP_CLASS_RTP,
    PL_RTP_CLASS_RTCP,
} pl_rtp_class_t;

/* Tells RTP from RTCP on an rtcp-mux port. The first byte must be 128..191 (RFC 7983: version 2),
 * and then the second byte with the marker bit masked off is 64..95 for RTCP (RFC 5761 section
 * 4: RTCP packet types 192..223), anything else for RTP. Needs 12 bytes for RTP and 4 for RTCP;
 * shorter input is OTHER. Only classifies: a packet still has to pass its parser. */
pl_rtp_class_t pl_rtp_classify(const uint8_t *buf, size_t len);

/* A parsed RTP packet: fields decoded, everything else pointing into the parsed buffer
 * (borrowed, valid while that buffer is). */
typedef struct {
    const uint8_t *data; /* the whole packet */
    size_t len;
    uint8_t version; /* always 2 after a successful parse */
    bool padding;
    bool extension;
    bool marker;
    uint8_t csrc_count;
    uint8_t pt;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    const uint8_t *csrcs; /* csrc_count big-endian words; read with pl_rtp_csrc */
    uint16_t ext_profile; /* 0 when extension is false */
    size_t ext_off;       /* extension body, after its 4-byte header: offset into data */
    size_t ext_len;       /* body length in bytes (a multiple of 4) */
    size_t header_len;    /* fixed header + CSRCs + extension block */
    const uint8_t *payload;
    size_t payload_len;  /* without padding */
    uint8_t padding_len; /* 0 when padding is false */
} pl_rtp_packet_t;

/* Parses buf into out. Rejects with -PL_EINVAL: NULL arguments, fewer than 12 bytes, more than
 * PL_RTP_MAX_LEN, version other than 2, CSRCs or extension block running past the end, a
 * malformed RFC 8285 element list, a padding count of 0 or larger than what follows the header.
 * An extension block with another profile is kept as opaque bytes. On error out is zeroed. */
int pl_rtp_parse(const uint8_t *buf, size_t len, pl_rtp_packet_t *out);

/* The i-th CSRC; 0 when i is out of range. */
uint32_t pl_rtp_csrc(const pl_rtp_packet_t *pkt, size_t i);

/* ---- header extension elements (RFC 8285) ---- */

/* One element. Reading: data points into the packet. Writing: data is read from the caller. */
typedef struct {
    uint8_t id;  /* 1..14 in the one-byte form, 1..255 in the two-byte form */
    uint8_t len; /* 1..16 in the one-byte form, 0..255 in the two-byte form */
    const uint8_t *data;
} pl_rtp_ext_t;

/* Iterates elements in order: *cursor starts at 0. Returns 0 with out filled, or -PL_ENOTFOUND
 * after the last one (also when the packet has no RFC 8285 block). Padding is skipped, and a
 * one-byte id of 15 ends the list, as RFC 8285 section 4.2 requires. */
int pl_rtp_ext_next(const pl_rtp_packet_t *pkt, size_t *cursor, pl_rtp_ext_t *out);

/* Finds the first element with this id. Returns 0, -PL_ENOTFOUND, or -PL_EINVAL for id 0. */
int pl_rtp_ext_find(const pl_rtp_packet_t *pkt, uint8_t id, pl_rtp_ext_t *out);

/* Readers for the extensions the SFU uses; id is the one negotiated for that URI. Each returns
 * -PL_ENOTFOUND when absent and -PL_EINVAL when the element has the wrong size or content. */

/* urn:ietf:params:rtp-hdrext:sdes:mid (also works for rtp-stream-id). Copies the value and a NUL
 * into out; -PL_ETOOBIG when cap is too small. The value must be 1+ printable ASCII bytes. */
int pl_rtp_ext_get_mid(const pl_rtp_packet_t *pkt, uint8_t id, char *out, size_t cap);
/* abs-send-time: 24-bit 6.18 fixed-point seconds, exactly 3 bytes. */
int pl_rtp_ext_get_abs_send_time(const pl_rtp_packet_t *pkt, uint8_t id, uint32_t *out);
/* transport-wide-cc sequence number: the first 16 bits of an element of 2 or more bytes. */
int pl_rtp_ext_get_transport_seq(const pl_rtp_packet_t *pkt, uint8_t id, uint16_t *out);
/* ssrc-audio-level (RFC 6464): voice activity flag and level in -dBov (0 loudest, 127 silent). */
int pl_rtp_ext_get_audio_level(const pl_rtp_packet_t *pkt, uint8_t id, bool *voice, uint8_t *level);

/* ---- in-place rewriters ----
 * buf holds the same bytes as pkt->data (the parsed buffer itself or a copy, at least pkt->len
 * long). Header setters need only buf and len >= 12. On error nothing is written. */

int pl_rtp_set_ssrc(uint8_t *buf, size_t len, uint32_t ssrc);
int pl_rtp_set_seq(uint8_t *buf, size_t len, uint16_t seq);
int pl_rtp_set_timestamp(uint8_t *buf, size_t len, uint32_t ts);
/* Keeps the marker bit. -PL_EINVAL when pt > 127. */
int pl_rtp_set_pt(uint8_t *buf, size_t len, uint8_t pt);

/* Renames the first element with id from to id to (which must fit the packet's form).
 * -PL_ENOTFOUND when absent. To swap ids use pl_rtp_ext_remap, which reads every id before
 * writing any. */
int pl_rtp_ext_set_id(const pl_rtp_packet_t *pkt, uint8_t *buf, uint8_t from, uint8_t to);

/* Renames every element through map (indexed by the publisher's id, giving the subscriber's),
 * in one pass. map[id] == 0 blanks the element to padding bytes, for extensions the subscriber
 * did not negotiate: RFC 8285 receivers skip zero bytes, so the packet keeps its length.
 * -PL_EINVAL, with nothing written, when a mapped id does not fit the packet's form. */
int pl_rtp_ext_remap(const pl_rtp_packet_t *pkt, uint8_t *buf, const uint8_t map[256]);

/* Overwrite the value of an existing element (sizes as for the readers). */
int pl_rtp_ext_set_transport_seq(const pl_rtp_packet_t *pkt, uint8_t *buf, uint8_t id,
                                 uint16_t seq);
int pl_rtp_ext_set_abs_send_time(const pl_rtp_packet_t *pkt, uint8_t *buf, uint8_t id,
                                 uint32_t ast);

/* ---- receive statistics (RFC 3550 appendix A.1, A.3, A.8) ---- */

/* Per-source receive state for one inbound SSRC. Plain data: init, update, report. */
typedef struct {
    bool started;
    uint16_t max_seq;
    uint32_t cycles; /* wraps counted in units of 65536, as in A.1 */
    uint32_t base_seq;
    uint32_t bad_seq; /* the seq after a large jump, awaiting confirmation */
    uint32_t received;
    uint32_t expected_prior;
    uint32_t received_prior;
    bool have_transit;
    uint32_t transit;
    uint32_t jitter_q4; /* interarrival jitter scaled by 16, as in A.8 */
} pl_rtp_seq_t;

/* What a report block needs, from pl_rtp_seq_report. */
typedef struct {
    uint8_t fraction_lost;    /* since the previous report, in 1/256 */
    int32_t cumulative_lost;  /* clamped to the 24-bit signed range of a report block */
    uint32_t ext_highest_seq; /* cycles << 16 | highest seq */
    uint32_t jitter;          /* in RTP timestamp units */
} pl_rtp_seq_stats_t;

void pl_rtp_seq_init(pl_rtp_seq_t *s);
/* Counts one packet. The first packet starts the source; there is no probation, because SRTP
 * has already authenticated the sender. Returns 0 when counted (in order, late or duplicate),
 * or -PL_EINVAL for a jump of more than 3000 ahead or 100 behind: that packet is not counted
 * unless the next one follows it, which restarts the statistics (the sender restarted). */
int pl_rtp_seq_update(pl_rtp_seq_t *s, uint16_t seq);
/* Feeds interarrival jitter: rtp_ts from the packet, arrival in the same clock units. */
void pl_rtp_seq_jitter(pl_rtp_seq_t *s, uint32_t rtp_ts, uint32_t arrival);
/* Fills out and starts a new interval for fraction_lost. */
void pl_rtp_seq_report(pl_rtp_seq_t *s, pl_rtp_seq_stats_t *out);

/* ---- writer ---- */

typedef struct {
    bool marker;
    uint8_t pt; /* 0..127 */
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    const uint32_t *csrcs;
    uint8_t csrc_count; /* 0..15 */
    const pl_rtp_ext_t *exts;
    size_t ext_count;
    uint8_t padding; /* padding bytes to append, the count byte included; 0 for none */
} pl_rtp_header_t;

/* Writes header, extensions, payload and padding into buf. Extensions use the one-byte form
 * unless one needs the two-byte form (id over 14, or length 0 or over 16). payload may be NULL
 * when payload_len is 0, and may already sit in buf. Returns 0 with *out_len set, -PL_EINVAL for
 * bad fields, or -PL_ETOOBIG when the packet exceeds cap or PL_RTP_MAX_LEN. */
int pl_rtp_write(const pl_rtp_header_t *h, const uint8_t *payload, size_t payload_len, uint8_t *buf,
                 size_t cap, size_t *out_len);

#endif
