/* RTCP compound packets: a zero-copy validating iterator, typed views of the packets an SFU
 * reads (SR, RR, SDES, BYE from RFC 3550; generic NACK and PLI from RFC 4585; FIR from RFC 5104;
 * REMB from draft-alvestrand-rmcat-remb; transport-cc from
 * draft-holmer-rmcat-transport-wide-cc-extensions), writers that append packets to a caller
 * buffer, and in-place SSRC rewriters for relaying feedback.
 *
 * Sits beside media/rtp.h at the bottom of the media shape (DESIGN.md, "Media"). A compound is
 * checked whole when iteration starts: if any sub-packet is malformed, the caller sees none of
 * them, so a forwarder never acts on the good half of a bad datagram. No function allocates;
 * every view points into the buffer it was given (borrowed, valid while that buffer is). */
#ifndef PL_RTCP_H
#define PL_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PL_RTCP_SR = 200,
    PL_RTCP_RR = 201,
    PL_RTCP_SDES = 202,
    PL_RTCP_BYE = 203,
    PL_RTCP_APP = 204,
    PL_RTCP_RTPFB = 205, /* transport-layer feedback */
    PL_RTCP_PSFB = 206,  /* payload-specific feedback */
    PL_RTCP_XR = 207,
};

/* Feedback message types (the FMT field): RTPFB ones, then PSFB ones. */
enum {
    PL_RTCP_FMT_NACK = 1,
    PL_RTCP_FMT_TCC = 15,
    PL_RTCP_FMT_PLI = 1,
    PL_RTCP_FMT_FIR = 4,
    PL_RTCP_FMT_AFB = 15, /* application layer feedback; REMB is one */
};

#define PL_RTCP_MAX_COUNT 31 /* report blocks, SDES chunks or BYE sources in one packet */
#define PL_RTCP_SDES_CNAME 1

/* ---- iterating a compound ---- */

/* One sub-packet of a compound. */
typedef struct {
    uint8_t pt;
    uint8_t count; /* RC, SC or FMT, by type */
    bool padding;
    size_t off; /* offset of this sub-packet in the compound, for the rewriters */
    const uint8_t *data;
    size_t len;          /* the whole sub-packet, header and padding included */
    const uint8_t *body; /* after the 4-byte header */
    size_t body_len;     /* without padding */
} pl_rtcp_packet_t;

typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t off;
} pl_rtcp_iter_t;

/* Checks the whole compound in buf and readies it for iteration. Returns -PL_EINVAL when it is
 * empty, not a multiple of 4 bytes, or any sub-packet is bad: version not 2, type outside
 * 192..223, length field past the end, bad padding, or a known type whose contents do not fit
 * (report blocks, SDES chunks, BYE sources and reason, feedback FCI, REMB, transport-cc). Unknown
 * types (APP, XR, ...) are checked for framing only. On error, iteration yields nothing. */
int pl_rtcp_iter_init(pl_rtcp_iter_t *it, const uint8_t *buf, size_t len);
/* Yields the next sub-packet: 0, or -PL_ENOTFOUND after the last. */
int pl_rtcp_iter_next(pl_rtcp_iter_t *it, pl_rtcp_packet_t *out);

/* ---- SR and RR ---- */

typedef struct {
    uint32_t ssrc;
    uint8_t fraction_lost;
    int32_t cumulative_lost; /* 24-bit signed on the wire */
    uint32_t ext_highest_seq;
    uint32_t jitter;
    uint32_t lsr;  /* middle 32 bits of the NTP time of the last SR from this source */
    uint32_t dlsr; /* delay since that SR, in 1/65536 s */
} pl_rtcp_rb_t;

typedef struct {
    uint32_t ssrc;
    uint64_t ntp; /* NTP timestamp, seconds << 32 | fraction */
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
} pl_rtcp_sender_info_t;

/* An SR or RR. For an RR, info.ssrc is the reporter and the other info fields are 0. */
typedef struct {
    bool is_sr;
    pl_rtcp_sender_info_t info;
    uint8_t rb_count;
    const uint8_t *rb; /* rb_count blocks of 24 bytes; read with pl_rtcp_report_block */
} pl_rtcp_report_t;

/* Returns 0, or -PL_EINVAL when p is not an SR or RR or its blocks do not fit. Bytes after the
 * blocks (profile-specific extensions) are allowed and ignored. */
int pl_rtcp_report_parse(const pl_rtcp_packet_t *p, pl_rtcp_report_t *out);
/* The i-th report block; -PL_EINVAL when i >= rb_count. */
int pl_rtcp_report_block(const pl_rtcp_report_t *r, size_t i, pl_rtcp_rb_t *out);

/* ---- SDES ---- */

typedef struct {
    uint32_t ssrc;
    const uint8_t *cname; /* NULL when the chunk has no CNAME item; not NUL-terminated */
    uint8_t cname_len;
} pl_rtcp_sdes_chunk_t;

typedef struct {
    const uint8_t *body;
    size_t len;
    size_t off;
    uint8_t left;
} pl_rtcp_sdes_iter_t;

/* Returns -PL_EINVAL when p is not SDES. */
int pl_rtcp_sdes_iter_init(pl_rtcp_sdes_iter_t *it, const pl_rtcp_packet_t *p);
/* Yields the next chunk: 0, -PL_ENOTFOUND after the last, -PL_EINVAL if malformed (never for a
 * packet that came from pl_rtcp_iter_next). */
int pl_rtcp_sdes_next(pl_rtcp_sdes_iter_t *it, pl_rtcp_sdes_chunk_t *out);

/* ---- BYE ---- */

typedef struct {
    uint8_t count;
    const uint8_t *ssrcs;  /* count big-endian words; read with pl_rtcp_bye_ssrc */
    const uint8_t *reason; /* NULL when absent; not NUL-terminated */
    uint8_t reason_len;
} pl_rtcp_bye_t;

int pl_rtcp_bye_parse(const pl_rtcp_packet_t *p, pl_rtcp_bye_t *out);
/* The i-th source; 0 when i is out of range. */
uint32_t pl_rtcp_bye_ssrc(const pl_rtcp_bye_t *b, size_t i);

/* ---- feedback (RTPFB and PSFB) ---- */

typedef struct {
    uint8_t pt;
    uint8_t fmt;
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    const uint8_t *fci;
    size_t fci_len;
} pl_rtcp_fb_t;

/* Returns -PL_EINVAL when p is not RTPFB or PSFB, is shorter than its two SSRCs, or is a NACK
 * or FIR whose FCI is not a whole number of entries. */
int pl_rtcp_fb_parse(const pl_rtcp_packet_t *p, pl_rtcp_fb_t *out);

/* Generic NACK: walks every lost seq named by the FCI (PID, then PID+1+i for each BLP bit i). */
typedef struct {
    const uint8_t *fci;
    size_t len;
    size_t off;
    uint8_t bit; /* 0: the PID itself; 1..16: BLP bit - 1 */
} pl_rtcp_nack_iter_t;

/* Returns -PL_EINVAL when fb is not a generic NACK. */
int pl_rtcp_nack_iter_init(pl_rtcp_nack_iter_t *it, const pl_rtcp_fb_t *fb);
/* Yields the next lost seq: 0, or -PL_ENOTFOUND after the last. */
int pl_rtcp_nack_next(pl_rtcp_nack_iter_t *it, uint16_t *seq);

/* FIR: one entry per target. The header's media SSRC is 0 (RFC 5104 4.3.1.2). */
typedef struct {
    uint32_t ssrc;
    uint8_t seq_nr;
} pl_rtcp_fir_entry_t;

/* Number of entries, or 0 when fb is not a FIR. */
size_t pl_rtcp_fir_count(const pl_rtcp_fb_t *fb);
/* The i-th entry; -PL_EINVAL when fb is not a FIR or i is out of range. */
int pl_rtcp_fir_entry(const pl_rtcp_fb_t *fb, size_t i, pl_rtcp_fir_entry_t *out);

/* REMB: an AFB message whose FCI starts with "REMB". */
typedef struct {
    uint64_t bitrate; /* bits per second: mantissa << exponent */
    uint8_t ssrc_count;
    const uint8_t *ssrcs; /* read with pl_rtcp_remb_ssrc */
} pl_rtcp_remb_t;

/* Returns -PL_ENOTFOUND for an AFB message that is not REMB, -PL_EINVAL when fb is not AFB, the
 * SSRC list overruns, or the bitrate does not fit 64 bits. */
int pl_rtcp_remb_parse(const pl_rtcp_fb_t *fb, pl_rtcp_remb_t *out);
uint32_t pl_rtcp_remb_ssrc(const pl_rtcp_remb_t *r, size_t i);

/* Transport-wide congestion control feedback. */
typedef struct {
    uint16_t base_seq;
    uint16_t status_count;
    uint32_t reference_time; /* 24 bits, in units of 64 ms, wrapping */
    uint8_t fb_count;
    const uint8_t *chunks; /* packet status chunks, 2 bytes each */
    size_t chunks_len;
    const uint8_t *deltas; /* receive deltas, 1 or 2 bytes each */
    size_t deltas_len;
} pl_rtcp_tcc_t;

/* Status of one packet in a transport-cc report. */
enum {
    PL_RTCP_TCC_NOT_RECEIVED = 0,
    PL_RTCP_TCC_SMALL_DELTA = 1, /* received, delta 0..63.75 ms */
    PL_RTCP_TCC_LARGE_DELTA = 2, /* received, delta negative or larger */
};

typedef struct {
    uint16_t seq;
    uint8_t status;
    int32_t delta_us; /* from the previous received packet (or reference time); 0 if lost */
} pl_rtcp_tcc_packet_t;

typedef struct {
    pl_rtcp_tcc_t tcc;
    size_t chunk_off;
    uint16_t in_chunk; /* statuses already taken from the current chunk */
    size_t delta_off;
    uint16_t done;
} pl_rtcp_tcc_iter_t;

/* Checks the header, every chunk and every delta. Returns -PL_EINVAL when fb is not transport-cc
 * or any of it does not fit. */
int pl_rtcp_tcc_parse(const pl_rtcp_fb_t *fb, pl_rtcp_tcc_t *out);
void pl_rtcp_tcc_iter_init(pl_rtcp_tcc_iter_t *it, const pl_rtcp_tcc_t *tcc);
/* Yields each of the status_count packets in seq order: 0, or -PL_ENOTFOUND after the last. */
int pl_rtcp_tcc_next(pl_rtcp_tcc_iter_t *it, pl_rtcp_tcc_packet_t *out);

/* ---- writers ----
 * A writer appends whole packets to a caller buffer, so one packet or a compound is built the
 * same way. Each call returns 0, -PL_EINVAL for bad arguments, or -PL_ETOOBIG when the packet
 * does not fit; on error nothing is appended. */

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len; /* bytes written so far */
} pl_rtcp_writer_t;

void pl_rtcp_writer_init(pl_rtcp_writer_t *w, uint8_t *buf, size_t cap);

/* rb may be NULL when n is 0; n <= 31. Cumulative loss is clamped to 24 bits. */
int pl_rtcp_write_sr(pl_rtcp_writer_t *w, const pl_rtcp_sender_info_t *info, const pl_rtcp_rb_t *rb,
                     size_t n);
int pl_rtcp_write_rr(pl_rtcp_writer_t *w, uint32_t ssrc, const pl_rtcp_rb_t *rb, size_t n);
/* One chunk with one CNAME item; len 1..255. */
int pl_rtcp_write_sdes_cname(pl_rtcp_writer_t *w, uint32_t ssrc, const char *cname, size_t len);
/* n 1..31; reason may be NULL, else reason_len 1..255. */
int pl_rtcp_write_bye(pl_rtcp_writer_t *w, const uint32_t *ssrcs, size_t n, const char *reason,
                      size_t reason_len);
int pl_rtcp_write_pli(pl_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc);
/* n >= 1 entries. */
int pl_rtcp_write_fir(pl_rtcp_writer_t *w, uint32_t sender_ssrc, const pl_rtcp_fir_entry_t *e,
                      size_t n);
/* Packs the n lost seqs into PID+BLP entries, each covering a PID and the 16 seqs after it.
 * Any order is correct; ascending order (modulo 2^16) packs tightest, and a seq repeated within
 * the entry being filled is merged. */
int pl_rtcp_write_nack(pl_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                       const uint16_t *seqs, size_t n);
/* The bitrate is rounded down to an 18-bit mantissa; n 0..255. */
int pl_rtcp_write_remb(pl_rtcp_writer_t *w, uint32_t sender_ssrc, uint64_t bitrate,
                       const uint32_t *ssrcs, size_t n);

/* ---- in-place rewriters for relayed feedback ----
 * p came from iterating a compound; buf is that compound (the same bytes or a copy). */

/* Sets the SSRC that follows the header: the sender of an SR, RR, RTPFB, PSFB, APP or XR.
 * -PL_EINVAL for SDES and BYE, whose first word names a source, not a sender. */
int pl_rtcp_set_sender_ssrc(const pl_rtcp_packet_t *p, uint8_t *buf, uint32_t ssrc);
/* Sets the media source SSRC of a feedback message (PLI, NACK, ...). -PL_EINVAL for FIR, whose
 * targets are in its entries (use pl_rtcp_fir_set_ssrc), and for non-feedback packets. */
int pl_rtcp_fb_set_media_ssrc(const pl_rtcp_packet_t *p, uint8_t *buf, uint32_t ssrc);
/* Sets the SSRC of the i-th FIR entry. */
int pl_rtcp_fir_set_ssrc(const pl_rtcp_packet_t *p, uint8_t *buf, size_t i, uint32_t ssrc);

#endif
