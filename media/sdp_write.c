/* SDP answer writer (see sdp.h): the negotiation policy of Parley's SFU.
 *
 * It reads the offer only through the public views of sdp.c. Every answer is:
 *  - ICE-lite with one host candidate, on the answerer-tagged m-section, which is always the
 *    offerer-tagged one (the first active mid of the offer's BUNDLE group). The transport
 *    attributes (ICE credentials, fingerprint, setup, candidate) are written only there: under
 *    RFC 8843 they belong to the BUNDLE transport, which the tagged section describes, and
 *    Chromium 156 accepts them there alone.
 *  - DTLS passive: the browser is always the DTLS client, so Parley never dials out.
 *  - opus for audio; VP8 first and one H264 (packetization-mode 1, baseline or main) for
 *    video, each with its rtx if offered (unless the caller asks for no_rtx). Every other codec
 *    (red, ulpfec, VP9, AV1...) is left out: an SFU must send subscribers what publishers send,
 *    and these are the codecs every browser Parley supports can both send and receive.
 *  - Only four header extensions (three with no_transport_cc, which also drops the
 *    transport-cc feedback), with the offer's ids, and only ids 1..14: a=extmap-allow-mixed
 *    is never echoed, so browsers keep to the one-byte header form (RFC 8285 section 4.2) and
 *    the forwarder parses one layout.
 *  - No a=rtcp-rsize: browsers then send compound RTCP, which the RTCP parser expects.
 * Sections with nothing usable are rejected with port 0; the answer fails only when none is
 * left. The exception is the offerer-tagged section (the first active mid of the offer's
 * BUNDLE group): the browser's one transport lives there, and Chromium cannot move it to
 * another section when the offer used max-bundle (setRemoteDescription fails with "Failed to
 * setup RTCP mux"). An unusable tagged audio or video section is therefore kept in the group,
 * inactive, with its first offered format, as Chromium's own answerer does. */
#include "media/sdp.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/util.h"

static const char *const ext_uris[PL_SDP_EXT_COUNT] = {
    [PL_SDP_EXT_MID] = "urn:ietf:params:rtp-hdrext:sdes:mid",
    [PL_SDP_EXT_ABS_SEND_TIME] = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    [PL_SDP_EXT_TRANSPORT_CC] =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    [PL_SDP_EXT_AUDIO_LEVEL] = "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
};

#define FB_ALLOWED                                                                                 \
    (PL_SDP_FB_NACK | PL_SDP_FB_NACK_PLI | PL_SDP_FB_CCM_FIR | PL_SDP_FB_GOOG_REMB |               \
     PL_SDP_FB_TRANSPORT_CC)

/* Everything decided for one m-section before any text is written. */
typedef struct {
    const pl_sdp_section_t *s;
    const pl_sdp_answer_section_t *opts; /* NULL if the caller gave none */
    pl_sdp_neg_section_t neg;
    const pl_sdp_extmap_t *ext[PL_SDP_EXT_COUNT];
    bool keep_inactive; /* the unusable offerer-tagged section, kept for the transport */
    bool no_rtx;        /* no_rtx from the answer parameters */
    bool no_tcc;        /* no_transport_cc from them */
    char h264_plid[7];  /* profile-level-id of the chosen H264, when there is one */
    bool h264_lasym;    /* the offer allowed level asymmetry for it */
} plan_t;

typedef struct {
    char *buf;
    size_t len, cap;
    int rc;
} sbuf_t;

static int fail(pl_sdp_error_t *err, int rc, const char *what)
{
    if (err != NULL) *err = (pl_sdp_error_t){0, what};
    return rc;
}

/* Appends one formatted line and its CRLF. Errors stick in b->rc. */
__attribute__((format(printf, 2, 3))) static void put(sbuf_t *b, const char *fmt, ...)
{
    for (int tries = 0; b->rc == 0 && tries < 2; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->rc = -PL_EINTERNAL;
            return;
        }
        size_t need = b->len + (size_t)n + 3; /* CRLF and NUL */
        if (need <= b->cap) {
            memcpy(b->buf + b->len + n, "\r\n", 3);
            b->len += (size_t)n + 2;
            return;
        }
        /* An answer that outgrows what the parser would accept is a bug, not an input. */
        if (need > PL_SDP_MAX_TEXT) {
            b->rc = -PL_EINTERNAL;
            return;
        }
        size_t cap = b->cap * 2 > need ? b->cap * 2 : need;
        char *nb = realloc(b->buf, cap);
        if (nb == NULL) {
            b->rc = -PL_ENOMEM;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
}

/* ---- codec choice ---- */

const pl_sdp_codec_t *pl_sdp_section_codec_by_pt(const pl_sdp_section_t *s, int pt)
{
    for (size_t i = 0; s != NULL && i < s->n_codecs; i++) {
        if (s->codecs[i].pt == pt) return &s->codecs[i];
    }
    return NULL;
}

int pl_sdp_fmtp_param(const char *fmtp, const char *key, char *out, size_t cap)
{
    if (out != NULL && cap > 0) out[0] = '\0';
    if (fmtp == NULL || key == NULL || out == NULL || cap == 0) return -PL_EINVAL;
    size_t klen = strlen(key);
    const char *p = fmtp;
    while (*p != '\0') {
        while (*p == ' ' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        const char *eq = memchr(p, '=', n);
        size_t name_len = eq != NULL ? (size_t)(eq - p) : n;
        if (name_len == klen && strncasecmp(p, key, klen) == 0) {
            const char *val = eq != NULL ? eq + 1 : p + n;
            size_t vlen = (size_t)(p + n - val);
            if (vlen >= cap) return -PL_ETOOBIG;
            memcpy(out, val, vlen);
            out[vlen] = '\0';
            return 0;
        }
        p += n;
    }
    return -PL_ENOTFOUND;
}

static bool is_opus(const pl_sdp_codec_t *c)
{
    return strcasecmp(c->name, "opus") == 0 && c->clock == 48000 && c->channels == 2;
}

static bool is_vp8(const pl_sdp_codec_t *c)
{
    return strcasecmp(c->name, "VP8") == 0 && c->clock == 90000;
}

/* How much Parley wants this H264 entry: 3 constrained baseline, 2 baseline, 1 main, 0 not
 * usable. Only packetization-mode 1 (non-interleaved, FU-A) is forwarded. plid gets the
 * profile-level-id. */
static int h264_rank(const pl_sdp_codec_t *c, char plid[7])
{
    char mode[4];
    uint8_t b[3];

    if (strcasecmp(c->name, "H264") != 0 || c->clock != 90000) return 0;
    if (pl_sdp_fmtp_param(c->fmtp, "packetization-mode", mode, sizeof mode) < 0 ||
        strcmp(mode, "1") != 0)
        return 0;
    if (pl_sdp_fmtp_param(c->fmtp, "profile-level-id", plid, 7) < 0 || strlen(plid) != 6) return 0;
    if (pl_hex_decode(plid, b, sizeof b, NULL) < 0) return 0;
    /* RFC 6184 section 8.1: profile_idc, then the constraint flags; constraint_set1 on
     * baseline means constrained baseline, which every decoder handles. */
    if (b[0] == 0x42) return (b[1] & 0x40) ? 3 : 2;
    if (b[0] == 0x4d) return 1;
    return 0;
}

static void add_codec(plan_t *pl, const pl_sdp_codec_t *c, pl_sdp_codec_id_t id)
{
    pl_sdp_neg_codec_t *n = &pl->neg.codecs[pl->neg.n_codecs++];
    const pl_sdp_codec_t *rtx = pl_sdp_section_codec_by_pt(pl->s, c->rtx_pt);

    n->codec = id;
    n->pt = c->pt;
    n->clock = c->clock;
    n->fb = c->fb & FB_ALLOWED;
    if (pl->no_tcc) n->fb &= ~(uint32_t)PL_SDP_FB_TRANSPORT_CC;
    n->rtx_pt = rtx != NULL && rtx->clock == c->clock && !pl->no_rtx ? rtx->pt : -1;
}

/* Fills pl->neg.codecs with the codecs to answer, in preference order. */
static void choose_codecs(plan_t *pl)
{
    const pl_sdp_section_t *s = pl->s;
    size_t n = s->n_codecs;
    const pl_sdp_codec_t *vp8 = NULL, *h264 = NULL;
    int best = 0;
    char plid[7];

    if (s->rejected || strcasecmp(s->proto, "UDP/TLS/RTP/SAVPF")) return;
    for (size_t i = 0; i < n; i++) {
        const pl_sdp_codec_t *c = &s->codecs[i];
        if (pl->neg.kind == PL_SDP_KIND_AUDIO && is_opus(c)) {
            add_codec(pl, c, PL_SDP_CODEC_OPUS);
            return;
        }
        if (pl->neg.kind != PL_SDP_KIND_VIDEO) continue;
        if (vp8 == NULL && is_vp8(c)) vp8 = c;
        int rank = h264_rank(c, plid);
        if (rank > best) {
            best = rank;
            h264 = c;
            memcpy(pl->h264_plid, plid, sizeof plid);
        }
    }
    if (vp8 != NULL) add_codec(pl, vp8, PL_SDP_CODEC_VP8);
    if (h264 != NULL) {
        char v[4];
        add_codec(pl, h264, PL_SDP_CODEC_H264);
        pl->h264_lasym =
            pl_sdp_fmtp_param(h264->fmtp, "level-asymmetry-allowed", v, sizeof v) == 0 &&
            strcmp(v, "1") == 0;
    }
}

static void choose_extmaps(plan_t *pl)
{
    for (size_t i = 0; i < pl->s->n_extmaps; i++) {
        const pl_sdp_extmap_t *e = &pl->s->extmaps[i];
        if (e->id > 14 || (e->has_dir && e->dir == PL_SDP_INACTIVE)) continue;
        for (int k = 0; k < PL_SDP_EXT_COUNT; k++) {
            if (k == PL_SDP_EXT_TRANSPORT_CC && pl->no_tcc) continue;
            if (pl->ext[k] == NULL && strcmp(e->uri, ext_uris[k]) == 0) {
                pl->ext[k] = e;
                pl->neg.ext_id[k] = (uint8_t)e->id;
            }
        }
    }
}

static bool dir_sends(pl_sdp_dir_t d)
{
    return d == PL_SDP_SENDRECV || d == PL_SDP_SENDONLY;
}

static bool dir_recvs(pl_sdp_dir_t d)
{
    return d == PL_SDP_SENDRECV || d == PL_SDP_RECVONLY;
}

static pl_sdp_dir_t make_dir(bool send, bool recv)
{
    if (send && recv) return PL_SDP_SENDRECV;
    if (send) return PL_SDP_SENDONLY;
    return recv ? PL_SDP_RECVONLY : PL_SDP_INACTIVE;
}

/* RFC 3264 section 6.1: Parley may send what the browser receives and receive what it sends;
 * a forced direction can only narrow that. */
static pl_sdp_dir_t answer_dir(pl_sdp_dir_t offered, const pl_sdp_answer_section_t *opts)
{
    bool send = dir_recvs(offered), recv = dir_sends(offered);

    if (opts != NULL && opts->force_dir) {
        send = send && dir_sends(opts->dir);
        recv = recv && dir_recvs(opts->dir);
    }
    return make_dir(send, recv);
}

/* ---- parameter checks ---- */

/* Caller strings go into the SDP text verbatim, so they must not be able to end a line. */
static bool visible(const char *s, size_t max)
{
    size_t n = 0;

    if (s == NULL) return false;
    for (; s[n] != '\0'; n++) {
        if (s[n] <= ' ' || s[n] > '~' || n >= max) return false;
    }
    return n > 0;
}

static bool ice_chars(const char *s, size_t min, size_t max)
{
    size_t n = 0;

    if (s == NULL) return false;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (!ok || n >= max) return false;
    }
    return n >= min;
}

static int check_opts(const pl_sdp_answer_section_t *o)
{
    if (o->force_dir && ((int)o->dir < PL_SDP_SENDRECV || (int)o->dir > PL_SDP_INACTIVE)) return -1;
    if (o->ssrc == 0) return o->rtx_ssrc == 0 ? 0 : -1;
    if (o->rtx_ssrc == o->ssrc || !visible(o->cname, 64)) return -1;
    if (o->msid_track != NULL && (o->msid_stream == NULL || !visible(o->msid_track, 64))) return -1;
    if (o->msid_stream != NULL && !visible(o->msid_stream, 64)) return -1;
    return 0;
}

static int check_params(const pl_sdp_offer_t *offer, const pl_sdp_answer_params_t *p, int *family,
                        pl_sdp_error_t *err)
{
    unsigned char addr[16];

    if (!ice_chars(p->ice_ufrag, 4, 256) || !ice_chars(p->ice_pwd, 22, 256))
        return fail(err, -PL_EINVAL, "bad ICE credentials in answer parameters");
    if (p->candidate_ip != NULL && inet_pton(AF_INET, p->candidate_ip, addr) == 1)
        *family = 4;
    else if (p->candidate_ip != NULL && inet_pton(AF_INET6, p->candidate_ip, addr) == 1)
        *family = 6;
    else
        return fail(err, -PL_EINVAL, "bad candidate address");
    if (p->candidate_port == 0) return fail(err, -PL_EINVAL, "candidate port 0");
    /* JSEP section 5.2.1: the session id fits in 63 bits. */
    if (p->session_id > INT64_MAX || p->session_version > INT64_MAX)
        return fail(err, -PL_EINVAL, "session id or version above 2^63");
    if (p->n_sections > 0 && p->sections == NULL)
        return fail(err, -PL_EINVAL, "n_sections without sections");
    for (size_t i = 0; i < p->n_sections; i++) {
        const pl_sdp_answer_section_t *o = &p->sections[i];
        if (pl_sdp_offer_find_mid(offer, o->mid) == NULL)
            return fail(err, -PL_EINVAL, "answer parameters name a mid not in the offer");
        for (size_t j = 0; j < i; j++) {
            if (strcmp(p->sections[j].mid, o->mid) == 0)
                return fail(err, -PL_EINVAL, "answer parameters repeat a mid");
        }
        if (check_opts(o) < 0) return fail(err, -PL_EINVAL, "bad section parameters");
    }
    pl_sdp_setup_t setup = pl_sdp_offer_session(offer)->setup;
    if (setup == PL_SDP_SETUP_PASSIVE || setup == PL_SDP_SETUP_HOLDCONN)
        return fail(err, -PL_EINVAL, "offer asks Parley to be the DTLS client");
    return 0;
}

/* ---- planning ---- */

static void plan_section(plan_t *pl, const pl_sdp_section_t *s, const pl_sdp_answer_params_t *p)
{
    memset(pl, 0, sizeof *pl);
    pl->s = s;
    pl->no_rtx = p->no_rtx;
    pl->no_tcc = p->no_transport_cc;
    for (size_t i = 0; i < p->n_sections; i++) {
        if (strcmp(p->sections[i].mid, s->mid) == 0) pl->opts = &p->sections[i];
    }
    pl_sdp_neg_section_t *n = &pl->neg;
    snprintf(n->mid, sizeof n->mid, "%s", s->mid);
    n->kind = s->kind;
    n->dir = PL_SDP_INACTIVE;
    if (!s->in_bundle) return;
    choose_codecs(pl);
    if (pl->neg.n_codecs == 0) return;
    n->accepted = true;
    n->dir = answer_dir(s->dir, pl->opts);
    choose_extmaps(pl);
    if (pl->opts != NULL && pl->opts->ssrc != 0 && dir_sends(n->dir)) {
        n->ssrc = pl->opts->ssrc;
        for (size_t i = 0; i < n->n_codecs && pl->opts->rtx_ssrc != 0; i++) {
            if (n->codecs[i].rtx_pt >= 0) n->rtx_ssrc = pl->opts->rtx_ssrc;
        }
    }
}

/* Picks the answerer-tagged section: the offerer-tagged one, kept inactive if unusable. */
static int choose_tag(plan_t *plans, size_t n, const pl_sdp_offer_t *offer, const char **tag,
                      pl_sdp_error_t *err)
{
    const pl_sdp_session_t *sess = pl_sdp_offer_session(offer);
    plan_t *t = NULL;
    bool any = false;

    for (size_t i = 0; i < n; i++)
        any = any || plans[i].neg.n_codecs > 0;
    if (!any) return fail(err, -PL_EINVAL, "no m-section with a usable codec");
    for (size_t i = 0; i < sess->n_bundle && t == NULL; i++) {
        const char *mid = sess->bundle[i];
        for (size_t k = 0; k < n && t == NULL; k++) {
            if (strcmp(plans[k].neg.mid, mid) == 0 && !plans[k].s->rejected) t = &plans[k];
        }
    }
    if (t == NULL) return fail(err, -PL_EINVAL, "no active m-section in the BUNDLE group");
    if (!t->neg.accepted) {
        /* Kept only if the parser read its formats as payload types: it matches "RTP/" with
         * case, so a proto like "UDP/TLS/RtP/SAVPF" leaves the section with no codecs, and its
         * formats, echoed under our proto, would not parse as payload types. */
        bool rtp = (t->neg.kind == PL_SDP_KIND_AUDIO || t->neg.kind == PL_SDP_KIND_VIDEO) &&
                   strcasecmp(t->s->proto, "UDP/TLS/RTP/SAVPF") == 0 && t->s->n_codecs > 0;
        if (!rtp) return fail(err, -PL_EINVAL, "offerer-tagged m-section cannot be accepted");
        t->keep_inactive = true;
        t->neg.accepted = true;
        t->neg.dir = PL_SDP_INACTIVE;
    }
    *tag = t->neg.mid;
    return 0;
}

/* ---- writing ---- */

static const char *const dir_names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};

static const pl_sdp_dir_t reverse[] = {
    [PL_SDP_SENDRECV] = PL_SDP_SENDRECV,
    [PL_SDP_SENDONLY] = PL_SDP_RECVONLY,
    [PL_SDP_RECVONLY] = PL_SDP_SENDONLY,
    [PL_SDP_INACTIVE] = PL_SDP_INACTIVE,
};

static void put_transport(sbuf_t *b, const pl_sdp_answer_params_t *p)
{
    char fp[PL_SDP_FINGERPRINT_LEN * 3];

    for (size_t i = 0; i < PL_SDP_FINGERPRINT_LEN; i++)
        snprintf(fp + 3 * i, 4, "%02X%s", p->fingerprint[i],
                 i + 1 < PL_SDP_FINGERPRINT_LEN ? ":" : "");
    put(b, "a=ice-ufrag:%s", p->ice_ufrag);
    put(b, "a=ice-pwd:%s", p->ice_pwd);
    put(b, "a=fingerprint:sha-256 %s", fp);
    put(b, "a=setup:passive");
    /* RFC 8445 section 5.1.2.1 priority for a host candidate, component 1:
     * type preference 126, local preference 65535. */
    put(b, "a=candidate:1 1 udp %u %s %u typ host", (126u << 24) | (65535u << 8) | 255u,
        p->candidate_ip, (unsigned)p->candidate_port);
    put(b, "a=end-of-candidates");
}

static void put_codecs(sbuf_t *b, const plan_t *pl)
{
    static const char *const fb_lines[] = {"nack", "nack pli", "ccm fir", "goog-remb",
                                           "transport-cc"};

    for (size_t i = 0; i < pl->neg.n_codecs; i++) {
        const pl_sdp_neg_codec_t *c = &pl->neg.codecs[i];
        switch (c->codec) {
        case PL_SDP_CODEC_OPUS:
            put(b, "a=rtpmap:%u opus/48000/2", c->pt);
            break;
        case PL_SDP_CODEC_VP8:
            put(b, "a=rtpmap:%u VP8/90000", c->pt);
            break;
        case PL_SDP_CODEC_H264:
            put(b, "a=rtpmap:%u H264/90000", c->pt);
            break;
        }
        for (unsigned k = 0; k < sizeof fb_lines / sizeof fb_lines[0]; k++) {
            if (c->fb & (1u << k)) put(b, "a=rtcp-fb:%u %s", c->pt, fb_lines[k]);
        }
        if (c->codec == PL_SDP_CODEC_OPUS) put(b, "a=fmtp:%u minptime=10;useinbandfec=1", c->pt);
        if (c->codec == PL_SDP_CODEC_H264)
            put(b, "a=fmtp:%u %spacketization-mode=1;profile-level-id=%s", c->pt,
                pl->h264_lasym ? "level-asymmetry-allowed=1;" : "", pl->h264_plid);
        if (c->rtx_pt >= 0) {
            put(b, "a=rtpmap:%d rtx/%u", c->rtx_pt, c->clock);
            put(b, "a=fmtp:%d apt=%u", c->rtx_pt, c->pt);
        }
    }
}

/* The rtpmap of the one format an inactive tagged section keeps, if the offer named it. */
static void put_kept_format(sbuf_t *b, const pl_sdp_section_t *s)
{
    if (s->n_codecs == 0) return;
    const pl_sdp_codec_t *c = &s->codecs[0];
    if (c->name[0] == '\0') return;
    if (c->channels > 0)
        put(b, "a=rtpmap:%u %s/%u/%u", c->pt, c->name, c->clock, c->channels);
    else
        put(b, "a=rtpmap:%u %s/%u", c->pt, c->name, c->clock);
}

static void put_ssrcs(sbuf_t *b, const plan_t *pl)
{
    const pl_sdp_answer_section_t *o = pl->opts;

    if (pl->neg.ssrc == 0) return;
    if (o->msid_stream != NULL)
        put(b, "a=msid:%s%s%s", o->msid_stream, o->msid_track != NULL ? " " : "",
            o->msid_track != NULL ? o->msid_track : "");
    if (pl->neg.rtx_ssrc != 0) put(b, "a=ssrc-group:FID %u %u", pl->neg.ssrc, pl->neg.rtx_ssrc);
    put(b, "a=ssrc:%u cname:%s", pl->neg.ssrc, o->cname);
    if (pl->neg.rtx_ssrc != 0) put(b, "a=ssrc:%u cname:%s", pl->neg.rtx_ssrc, o->cname);
}

static void put_section(sbuf_t *b, const plan_t *pl, const pl_sdp_answer_params_t *p, int family,
                        bool tagged)
{
    const pl_sdp_section_t *s = pl->s;

    if (!pl->neg.accepted) {
        /* RFC 3264 section 6: a rejected stream keeps its m= line with port 0. */
        put(b, "m=%s 0 %s %s", s->media, s->proto, s->fmt);
        put(b, "c=IN IP4 0.0.0.0");
        put(b, "a=mid:%s", pl->neg.mid);
        put(b, "a=inactive");
        return;
    }
    char pts[PL_SDP_NEG_MAX_CODECS * 8 + 1] = "";
    size_t used = 0;
    if (pl->keep_inactive) snprintf(pts, sizeof pts, " %s", s->fmt);
    for (size_t i = 0; i < pl->neg.n_codecs; i++) {
        const pl_sdp_neg_codec_t *c = &pl->neg.codecs[i];
        used += (size_t)snprintf(pts + used, sizeof pts - used, " %u", c->pt);
        if (c->rtx_pt >= 0)
            used += (size_t)snprintf(pts + used, sizeof pts - used, " %d", c->rtx_pt);
    }
    /* Every bundled section carries the BUNDLE address (RFC 8843). */
    put(b, "m=%s %u UDP/TLS/RTP/SAVPF%s", s->media, (unsigned)p->candidate_port, pts);
    put(b, "c=IN IP%d %s", family, p->candidate_ip);
    put(b, "a=mid:%s", pl->neg.mid);
    if (tagged) put_transport(b, p);
    put(b, "a=%s", dir_names[pl->neg.dir]);
    put(b, "a=rtcp-mux");
    for (int k = 0; k < PL_SDP_EXT_COUNT; k++) {
        const pl_sdp_extmap_t *e = pl->ext[k];
        if (e == NULL) continue;
        if (e->has_dir)
            put(b, "a=extmap:%u/%s %s", e->id, dir_names[reverse[e->dir]], ext_uris[k]);
        else
            put(b, "a=extmap:%u %s", e->id, ext_uris[k]);
    }
    put_codecs(b, pl);
    if (pl->keep_inactive) put_kept_format(b, s);
    put_ssrcs(b, pl);
}

static void put_answer(sbuf_t *b, const pl_sdp_offer_t *offer, const plan_t *plans, size_t n,
                       const pl_sdp_answer_params_t *p, int family, const char *tag)
{
    char group[PL_SDP_MAX_SECTIONS * (PL_SDP_MID_MAX + 1) + 1] = "";
    size_t used = 0;

    /* The group lists accepted mids in the offer's group order; the tagged one comes first
     * because it is the first accepted. */
    const pl_sdp_session_t *sess = pl_sdp_offer_session(offer);
    for (size_t i = 0; i < sess->n_bundle; i++) {
        const char *mid = sess->bundle[i];
        for (size_t k = 0; k < n; k++) {
            if (plans[k].neg.accepted && strcmp(plans[k].neg.mid, mid) == 0)
                used += (size_t)snprintf(group + used, sizeof group - used, " %s", mid);
        }
    }
    put(b, "v=0");
    put(b, "o=- %llu %llu IN IP4 0.0.0.0", (unsigned long long)p->session_id,
        (unsigned long long)p->session_version);
    put(b, "s=-");
    put(b, "t=0 0");
    put(b, "a=ice-lite");
    put(b, "a=group:BUNDLE%s", group);
    for (size_t i = 0; i < n; i++)
        put_section(b, &plans[i], p, family, strcmp(plans[i].neg.mid, tag) == 0);
}

int pl_sdp_answer_create(const pl_sdp_offer_t *offer, const pl_sdp_answer_params_t *params,
                         char **out, pl_sdp_negotiated_t *neg, pl_sdp_error_t *err)
{
    int family = 4;

    if (err != NULL) *err = (pl_sdp_error_t){0, NULL};
    if (out == NULL) return fail(err, -PL_EINVAL, "no output");
    *out = NULL;
    if (offer == NULL || params == NULL) return fail(err, -PL_EINVAL, "no offer or parameters");
    int rc = check_params(offer, params, &family, err);
    if (rc < 0) return rc;

    size_t n = pl_sdp_offer_section_count(offer);
    plan_t *plans = calloc(n > 0 ? n : 1, sizeof *plans);
    if (plans == NULL) return fail(err, -PL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        plan_section(&plans[i], pl_sdp_offer_section(offer, i), params);

    const char *tag = NULL;
    rc = choose_tag(plans, n, offer, &tag, err);
    if (rc < 0) {
        free(plans);
        return rc;
    }

    sbuf_t b = {.cap = 4096};
    b.buf = malloc(b.cap);
    if (b.buf == NULL) b.rc = -PL_ENOMEM;
    put_answer(&b, offer, plans, n, params, family, tag);
    if (b.rc < 0) {
        free(b.buf);
        free(plans);
        return fail(err, b.rc, "could not write the answer");
    }
    if (neg != NULL) {
        memset(neg, 0, sizeof *neg);
        neg->n_sections = n;
        for (size_t i = 0; i < n; i++)
            neg->sections[i] = plans[i].neg;
        snprintf(neg->bundle_tag, sizeof neg->bundle_tag, "%s", tag);
    }
    free(plans);
    *out = b.buf;
    return 0;
}

const char *pl_sdp_ext_uri(pl_sdp_ext_t ext)
{
    return (unsigned)ext < PL_SDP_EXT_COUNT ? ext_uris[ext] : NULL;
}

const pl_sdp_neg_section_t *pl_sdp_negotiated_find(const pl_sdp_negotiated_t *neg, const char *mid)
{
    for (size_t i = 0; neg != NULL && mid != NULL && i < neg->n_sections; i++) {
        if (strcmp(neg->sections[i].mid, mid) == 0) return &neg->sections[i];
    }
    return NULL;
}
