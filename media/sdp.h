/* SDP for Parley's SFU: parse a browser's offer, write Parley's answer.
 *
 * Parley is ICE-lite, BUNDLE-only, rtcp-mux-only and Unified Plan (DESIGN.md, "Media"), so an
 * offer is accepted only if every active m-section is in one BUNDLE group, muxes RTCP, and the
 * offer carries ICE credentials and a sha-256 DTLS fingerprint. The parser (sdp.c) is bounded
 * (PL_SDP_MAX_* below) and keeps a private copy of the text. The offer is opaque; what it
 * holds is read through two plain views, the session and each m-section, whose strings point
 * into that copy and live until pl_sdp_offer_destroy. The writer (sdp_write.c) holds the
 * negotiation policy: which codecs, feedback and header extensions Parley accepts, and the
 * direction, ICE and DTLS lines of the answer.
 *
 * Errors carry a reason (a static string and a line number), never text from the offer: an
 * offer holds the browser's ICE password, which must not reach logs. */
#ifndef PL_SDP_H
#define PL_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on what the parser accepts. Over a bound is -PL_ETOOBIG. */
#define PL_SDP_MAX_TEXT (64 * 1024) /* whole offer, bytes */
#define PL_SDP_MAX_LINE 1024        /* one line, bytes, without its CRLF */
#define PL_SDP_MAX_SECTIONS 16      /* m-sections */
#define PL_SDP_MAX_PTS 64           /* payload types in one m-section */
#define PL_SDP_MAX_EXTMAPS 32       /* a=extmap lines in one m-section */
#define PL_SDP_MAX_SSRCS 32         /* distinct a=ssrc values in one m-section */
#define PL_SDP_MAX_FIDS 16          /* a=ssrc-group:FID lines in one m-section */
/* A mid travels in the sdes:mid RTP header extension, whose one-byte form holds 16 bytes. */
#define PL_SDP_MID_MAX 16
#define PL_SDP_FINGERPRINT_LEN 32 /* sha-256 */

typedef struct pl_sdp_offer pl_sdp_offer_t;     /* opaque: a parsed description, owns its text */
typedef struct pl_sdp_section pl_sdp_section_t; /* a read-only view, borrowed from its offer */

typedef enum {
    PL_SDP_KIND_AUDIO,
    PL_SDP_KIND_VIDEO,
    PL_SDP_KIND_APPLICATION,
    PL_SDP_KIND_OTHER, /* any other media token: always rejected in the answer */
} pl_sdp_kind_t;

/* Directions from the point of view of whoever wrote the description. */
typedef enum {
    PL_SDP_SENDRECV,
    PL_SDP_SENDONLY,
    PL_SDP_RECVONLY,
    PL_SDP_INACTIVE,
} pl_sdp_dir_t;

typedef enum {
    PL_SDP_SETUP_NONE, /* no a=setup: RFC 4145 reads that as active */
    PL_SDP_SETUP_ACTPASS,
    PL_SDP_SETUP_ACTIVE,
    PL_SDP_SETUP_PASSIVE,
    PL_SDP_SETUP_HOLDCONN,
} pl_sdp_setup_t;

/* a=rtcp-fb types Parley knows; others are ignored. */
enum {
    PL_SDP_FB_NACK = 1u << 0,         /* nack */
    PL_SDP_FB_NACK_PLI = 1u << 1,     /* nack pli */
    PL_SDP_FB_CCM_FIR = 1u << 2,      /* ccm fir */
    PL_SDP_FB_GOOG_REMB = 1u << 3,    /* goog-remb */
    PL_SDP_FB_TRANSPORT_CC = 1u << 4, /* transport-cc */
};

/* Why a parse or an answer failed. what is a static string; line is 1-based, 0 when the
 * failure is not about one line. */
typedef struct {
    int line;
    const char *what;
} pl_sdp_error_t;

/* One payload type of an m-section, as offered. Strings are never NULL. */
typedef struct {
    uint8_t pt;
    const char *name; /* encoding name as written ("opus", "VP8"); "" without a=rtpmap */
    uint32_t clock;   /* 0 without a=rtpmap */
    uint8_t channels; /* 0 when the rtpmap gives none */
    const char *fmtp; /* the a=fmtp parameters, "" if none; see pl_sdp_fmtp_param */
    uint32_t fb;      /* PL_SDP_FB_* from a=rtcp-fb for this PT or for "*" */
    int apt;          /* rtx only: the PT this one repairs (fmtp apt=), else -1 */
    int rtx_pt;       /* the rtx PT whose apt names this one, else -1 */
} pl_sdp_codec_t;

typedef struct {
    uint16_t id; /* 1..14, or 15..255 when a=extmap-allow-mixed is offered */
    const char *uri;
    bool has_dir;     /* a direction was written ("a=extmap:1/sendonly ...") */
    pl_sdp_dir_t dir; /* PL_SDP_SENDRECV when has_dir is false */
} pl_sdp_extmap_t;

typedef struct {
    uint32_t ssrc;
    const char *cname;       /* NULL if no a=ssrc cname: line */
    const char *msid_stream; /* NULL if no a=ssrc msid: line */
    const char *msid_track;  /* NULL if absent */
} pl_sdp_ssrc_t;

/* a=ssrc-group:FID: the media SSRC and the rtx SSRC that repairs it. */
typedef struct {
    uint32_t ssrc;
    uint32_t rtx_ssrc;
} pl_sdp_fid_t;

/* What applies to the whole description. The ICE and DTLS fields are those of the BUNDLE
 * transport: the offerer-tagged m-section's (the first active mid of the BUNDLE group), each
 * group of them falling back to the session level. Validation guarantees ice_ufrag, ice_pwd
 * and a sha-256 fingerprint. */
typedef struct {
    const char *ice_ufrag;
    const char *ice_pwd;
    const char *ice_options;     /* a=ice-options tokens ("trickle"), "" if none */
    const char *fingerprint_alg; /* always "sha-256": the only algorithm accepted */
    uint8_t fingerprint[PL_SDP_FINGERPRINT_LEN];
    pl_sdp_setup_t setup;
    bool ice_lite;           /* session-level a=ice-lite (Parley's answers, never browsers) */
    bool extmap_allow_mixed; /* two-byte header extensions offered, at any level */
    size_t n_bundle;         /* the BUNDLE group's mids, in the order written */
    const char *bundle[PL_SDP_MAX_SECTIONS];
} pl_sdp_session_t;

/* One m-section as offered. Arrays hold n_* entries; strings are NULL only where noted. */
struct pl_sdp_section {
    pl_sdp_kind_t kind;
    const char *media; /* "audio", "video", "application"... */
    const char *proto; /* "UDP/TLS/RTP/SAVPF" */
    const char *fmt;   /* the first format on the m= line (echoed when rejecting) */
    const char *mid;
    uint16_t port;
    bool rejected; /* port 0 without a=bundle-only: the offerer stopped this section */
    bool in_bundle;
    bool rtcp_mux;
    pl_sdp_dir_t dir;        /* sendrecv when not written */
    const char *msid_stream; /* media-level a=msid; NULL if absent */
    const char *msid_track;  /* NULL if absent */
    size_t n_codecs;         /* payload types in m= line order */
    const pl_sdp_codec_t *codecs;
    size_t n_extmaps;
    const pl_sdp_extmap_t *extmaps;
    size_t n_ssrcs;
    const pl_sdp_ssrc_t *ssrcs;
    size_t n_fids;
    const pl_sdp_fid_t *fids;
};

/* ---- parsing ---- */

/* Parses and validates buf[0..len) (CRLF or LF line ends) as an offer.
 * On success *out is a new offer that the caller frees with pl_sdp_offer_destroy.
 * Returns 0; -PL_EINVAL for malformed text or an offer Parley cannot accept (no BUNDLE group,
 * an active m-section outside it, no rtcp-mux, no ICE credentials, no sha-256 fingerprint,
 * duplicate mids, clashing extmap ids...); -PL_ETOOBIG over a PL_SDP_MAX_* bound; -PL_ENOMEM.
 * On error *out is NULL and, if err is not NULL, *err says why. The parser only reads
 * buf[0..len): buf need not be NUL-terminated. It also parses Parley's own answers. */
int pl_sdp_offer_parse(const uint8_t *buf, size_t len, pl_sdp_offer_t **out, pl_sdp_error_t *err);

/* Frees an offer and everything borrowed from it. offer may be NULL. */
void pl_sdp_offer_destroy(pl_sdp_offer_t *offer);

/* The session view. Borrowed: valid until pl_sdp_offer_destroy, like every string in it. */
const pl_sdp_session_t *pl_sdp_offer_session(const pl_sdp_offer_t *offer);

/* m-sections in offer order, borrowed. i < count, else NULL. find_mid: NULL if no such mid. */
size_t pl_sdp_offer_section_count(const pl_sdp_offer_t *offer);
const pl_sdp_section_t *pl_sdp_offer_section(const pl_sdp_offer_t *offer, size_t i);
const pl_sdp_section_t *pl_sdp_offer_find_mid(const pl_sdp_offer_t *offer, const char *mid);

/* The codec with payload type pt in s, or NULL if it is not offered. */
const pl_sdp_codec_t *pl_sdp_section_codec_by_pt(const pl_sdp_section_t *s, int pt);

/* Copies the value of key from an fmtp parameter list ("a=1;b=2", keys compared without
 * case) into out[0..cap) with its NUL. Returns 0, -PL_ENOTFOUND, -PL_ETOOBIG if the value does
 * not fit (out then holds ""), -PL_EINVAL on NULL arguments. A key without "=" has value "". */
int pl_sdp_fmtp_param(const char *fmtp, const char *key, char *out, size_t cap);

/* ---- the answer (sdp_write.c) ---- */

/* The header extensions Parley negotiates; every other URI is left out of the answer. */
typedef enum {
    PL_SDP_EXT_MID,           /* urn:ietf:params:rtp-hdrext:sdes:mid */
    PL_SDP_EXT_ABS_SEND_TIME, /* http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time */
    PL_SDP_EXT_TRANSPORT_CC,  /* ...draft-holmer-rmcat-transport-wide-cc-extensions-01 */
    PL_SDP_EXT_AUDIO_LEVEL,   /* urn:ietf:params:rtp-hdrext:ssrc-audio-level */
    PL_SDP_EXT_COUNT
} pl_sdp_ext_t;

/* The URI of a negotiated extension, or NULL if ext is out of range. */
const char *pl_sdp_ext_uri(pl_sdp_ext_t ext);

typedef enum { PL_SDP_CODEC_OPUS, PL_SDP_CODEC_VP8, PL_SDP_CODEC_H264 } pl_sdp_codec_id_t;

/* Per-m-section choices for the caller of pl_sdp_answer_create. All fields but mid are
 * optional (zero means "nothing"). Strings are borrowed for the call and must be 1..64
 * characters of visible ASCII without spaces. */
typedef struct {
    const char *mid;
    /* force_dir: answer at most dir. It is narrowed to what the offer allows, so forcing
     * sendrecv on a recvonly offer answers sendonly. */
    bool force_dir;
    pl_sdp_dir_t dir;
    /* The stream Parley will send into this section: a=ssrc cname lines, a=msid, and an
     * a=ssrc-group:FID when rtx_ssrc is set and rtx was negotiated. Written only when the
     * answer sends; ssrc 0 writes none. cname is then required, msid_stream too if
     * msid_track is set. */
    uint32_t ssrc;
    uint32_t rtx_ssrc;
    const char *cname;
    const char *msid_stream;
    const char *msid_track;
} pl_sdp_answer_section_t;

typedef struct {
    uint64_t session_id;      /* o= line; stable for the life of the peer connection */
    uint64_t session_version; /* o= line; grows with each new answer */
    const char *ice_ufrag;    /* 4..256 ice-chars; a new pair for an ICE restart */
    const char *ice_pwd;      /* 22..256 ice-chars */
    uint8_t fingerprint[PL_SDP_FINGERPRINT_LEN]; /* sha-256 of Parley's DTLS certificate */
    const char *candidate_ip;                /* IPv4 or IPv6 literal of the one host candidate */
    uint16_t candidate_port;                 /* its UDP port, not 0 */
    const pl_sdp_answer_section_t *sections; /* borrowed; n_sections may be 0 */
    size_t n_sections;
    /* Answer no rtx payload types (and so no a=ssrc-group:FID), whatever the offer has. The
     * browser then never sends RTX, and the SFU answers NACKs by resending packets under their
     * original SSRC and sequence number from its ring (media/room.c), which is simpler than
     * keeping an rtx stream per subscriber. */
    bool no_rtx;
    /* Accept neither the transport-wide-cc extmap nor rtcp-fb transport-cc. Chrome then
     * estimates bandwidth from REMB and abs-send-time, and Parley's SFU sends REMB: it has no
     * transport-cc feedback generator. */
    bool no_transport_cc;
} pl_sdp_answer_params_t;

#define PL_SDP_NEG_MAX_CODECS 2 /* opus; or VP8 and one H264 */

typedef struct {
    pl_sdp_codec_id_t codec;
    uint8_t pt;
    int rtx_pt; /* -1 if no rtx */
    uint32_t clock;
    uint32_t fb; /* PL_SDP_FB_* in the answer */
} pl_sdp_neg_codec_t;

typedef struct {
    char mid[PL_SDP_MID_MAX + 1];
    pl_sdp_kind_t kind;
    /* In the answer's BUNDLE group. False: rejected with port 0. An accepted section with
     * n_codecs 0 is the offerer-tagged one kept inactive only to carry the transport. */
    bool accepted;
    pl_sdp_dir_t dir; /* the answer's direction, from Parley's side */
    size_t n_codecs;  /* codecs[0] is the one to send */
    pl_sdp_neg_codec_t codecs[PL_SDP_NEG_MAX_CODECS];
    uint8_t ext_id[PL_SDP_EXT_COUNT]; /* indexed by pl_sdp_ext_t; 0 = not negotiated */
    uint32_t ssrc;                    /* what Parley announced (0 = none) */
    uint32_t rtx_ssrc;                /* 0 = none */
} pl_sdp_neg_section_t;

/* What the answer agreed, for the forwarding code. sections follow the offer's m= order. */
typedef struct {
    size_t n_sections;
    pl_sdp_neg_section_t sections[PL_SDP_MAX_SECTIONS];
    char bundle_tag[PL_SDP_MID_MAX + 1]; /* the answerer-tagged mid (carries the candidate) */
} pl_sdp_negotiated_t;

/* Writes Parley's answer to offer. On success *out is a malloc'd NUL-terminated SDP text with
 * CRLF line ends that the caller frees with free(), and, if neg is not NULL, *neg describes
 * it. Sections with no usable codec, application and other sections are rejected (port 0)
 * rather than failing the answer, except the offerer-tagged section: it carries the BUNDLE
 * transport, so an unusable tagged audio or video section is kept inactive instead.
 * Returns 0; -PL_EINVAL (with *err if err is not NULL) if params are invalid, name an unknown
 * or repeated mid, the offer wants Parley to be the DTLS client (setup passive or holdconn),
 * no section has a usable codec, or the offerer-tagged section is neither audio nor video;
 * -PL_ENOMEM. On error *out is NULL. */
int pl_sdp_answer_create(const pl_sdp_offer_t *offer, const pl_sdp_answer_params_t *params,
                         char **out, pl_sdp_negotiated_t *neg, pl_sdp_error_t *err);

/* The negotiated section with this mid, or NULL. */
const pl_sdp_neg_section_t *pl_sdp_negotiated_find(const pl_sdp_negotiated_t *neg, const char *mid);

#endif
