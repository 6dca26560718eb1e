/* SDP for bench_media: the offers and answers the load generator's peers give the two servers,
 * and what it reads back from theirs.
 *
 *  - Parley: every peer offers the five-section layout of PROTOCOL.md 8.9, built from the real
 *    Chromium offer in tests/media/fixtures/chromium_sendrecv.sdp (its audio and video sections,
 *    then recvonly copies for the second other person and a sendrecv video for screen share),
 *    with the peer's ICE credentials, certificate fingerprint and, for the camera, an SSRC of
 *    its own.
 *  - Janus: publishers offer one sendonly VP8 section (setup:active, so that Janus is the DTLS
 *    server, as Parley is); subscribers answer Janus's offer with one recvonly VP8 section.
 *    Both carry the peer's host candidate, since Janus learns addresses from the SDP.
 *
 * Replies from either server are parsed with Parley's own SDP parser (media/sdp.h), which reads
 * answers and Janus's offers as well as browser offers. Header-only (see bench_hist.h). */
#ifndef PL_BENCH_MEDIA_SDP_H
#define PL_BENCH_MEDIA_SDP_H

#include "media/dtls.h"
#include "media/sdp.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BM_SDP_CAP (64 * 1024)
#define BM_MID_EXT_URI "urn:ietf:params:rtp-hdrext:sdes:mid"

/* A growing string; on overflow it stops growing and remembers it (ok = false). */
typedef struct {
    char *s;
    size_t n, cap;
    bool ok;
} bm_str_t;

static void bm_str_init(bm_str_t *b)
{
    b->cap = BM_SDP_CAP;
    b->n = 0;
    b->s = malloc(b->cap);
    b->ok = b->s != NULL;
    if (b->s) b->s[0] = '\0';
}

static void bm_str_add(bm_str_t *b, const char *fmt, ...)
{
    if (!b->ok) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->n) {
        b->ok = false;
        return;
    }
    b->n += (size_t)n;
}

/* Returns the string (the caller frees), or NULL if it overflowed. */
static char *bm_str_done(bm_str_t *b)
{
    if (b->ok) return b->s;
    free(b->s);
    return NULL;
}

/* The whole file as a NUL-terminated malloc'd string, or NULL. */
static char *bm_read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    while (out) {
        size_t r = fread(out + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
        if (n + 1 == cap) {
            char *nb = realloc(out, cap * 2);
            if (!nb) {
                free(out);
                out = NULL;
                break;
            }
            out = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (out) out[n] = '\0';
    return out;
}

/* ---- Parley: the five-section browser offer ---- */

/* One line of the fixture (without its line end) rewritten for section `mid` of the layout, or
 * skipped (returns false). ssrc/rtx are the fixture's camera SSRCs, replaced by the peer's. */
static bool bm_offer_line(bm_str_t *b, const char *line, size_t len, int mid, bool recvonly,
                          bool keep_ssrcs, const char *ufrag, const char *pwd, const char *fp,
                          uint32_t ssrc)
{
    char l[1100];
    if (len >= sizeof l) len = sizeof l - 1;
    memcpy(l, line, len);
    l[len] = '\0';
    if (!strncmp(l, "a=ice-ufrag:", 12))
        bm_str_add(b, "a=ice-ufrag:%s\r\n", ufrag);
    else if (!strncmp(l, "a=ice-pwd:", 10))
        bm_str_add(b, "a=ice-pwd:%s\r\n", pwd);
    else if (!strncmp(l, "a=fingerprint:", 14))
        bm_str_add(b, "a=fingerprint:sha-256 %s\r\n", fp);
    else if (!strncmp(l, "a=mid:", 6))
        bm_str_add(b, "a=mid:%d\r\n", mid);
    else if (!strcmp(l, "a=sendrecv") && recvonly)
        bm_str_add(b, "a=recvonly\r\n");
    else if (!strncmp(l, "a=ssrc", 6) || !strncmp(l, "a=msid:", 7)) {
        if (!keep_ssrcs) return false;
        /* The fixture's camera SSRC and its rtx become this peer's own. */
        char *p;
        if ((p = strstr(l, "1676914129"))) {
            char rest[1100];
            snprintf(rest, sizeof rest, "%s", p + 10);
            snprintf(p, sizeof l - (size_t)(p - l), "%u%s", ssrc, rest);
        }
        if ((p = strstr(l, "1767421758"))) {
            char rest[1100];
            snprintf(rest, sizeof rest, "%s", p + 10);
            snprintf(p, sizeof l - (size_t)(p - l), "%u%s", ssrc + 1, rest);
        }
        bm_str_add(b, "%s\r\n", l);
    } else
        bm_str_add(b, "%s\r\n", l);
    return true;
}

/* The PROTOCOL.md 8.9 offer: sections 0 (audio sendrecv) and 1 (video sendrecv) as Chromium
 * wrote them, 2 and 3 their recvonly copies, 4 a video sendrecv for screen share. fixture is
 * chromium_sendrecv.sdp (audio then video). Returns a malloc'd offer or NULL. */
static char *bm_parley_offer(const char *fixture, const char *ufrag, const char *pwd,
                             const char *fp, uint32_t ssrc)
{
    const char *audio = strstr(fixture, "\nm=audio");
    const char *video = strstr(fixture, "\nm=video");
    if (!audio || !video || video < audio) return NULL;
    audio++;
    video++;
    const char *end = fixture + strlen(fixture);
    bm_str_t b;
    bm_str_init(&b);
    /* Session part, with the BUNDLE group widened to the five mids. */
    for (const char *l = fixture; l < audio;) {
        const char *nl = strchr(l, '\n');
        size_t len = (size_t)((nl ? nl : end) - l);
        if (len && l[len - 1] == '\r') len--;
        if (!strncmp(l, "a=group:BUNDLE", 14))
            bm_str_add(&b, "a=group:BUNDLE 0 1 2 3 4\r\n");
        else
            bm_str_add(&b, "%.*s\r\n", (int)len, l);
        l = nl ? nl + 1 : end;
    }
    static const struct {
        bool video, recvonly, ssrcs;
    } layout[5] = {{false, false, true},
                   {true, false, true},
                   {false, true, false},
                   {true, true, false},
                   {true, false, false}};
    for (int mid = 0; mid < 5; mid++) {
        const char *from = layout[mid].video ? video : audio;
        const char *to = layout[mid].video ? end : video;
        for (const char *l = from; l < to;) {
            const char *nl = strchr(l, '\n');
            size_t len = (size_t)((nl ? nl : end) - l);
            if (len && l[len - 1] == '\r') len--;
            if (len)
                bm_offer_line(&b, l, len, mid, layout[mid].recvonly, layout[mid].ssrcs, ufrag, pwd,
                              fp, ssrc);
            l = nl ? nl + 1 : end;
        }
    }
    return bm_str_done(&b);
}

/* ---- Janus: a publisher's offer and a subscriber's answer ---- */

static char *bm_janus_pub_offer(const char *ufrag, const char *pwd, const char *fp, uint32_t ssrc,
                                int port)
{
    bm_str_t b;
    bm_str_init(&b);
    bm_str_add(&b,
               "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
               "a=extmap-allow-mixed\r\na=msid-semantic: WMS bench\r\n"
               "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\n"
               "a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
               "a=fingerprint:sha-256 %s\r\na=setup:active\r\n"
               "a=mid:0\r\na=extmap:4 " BM_MID_EXT_URI "\r\na=sendonly\r\n"
               "a=msid:bench cam%u\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
               "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\n"
               "a=rtcp-fb:96 nack pli\r\na=ssrc:%u cname:bench%u\r\n"
               "a=candidate:1 1 udp 2122260223 127.0.0.1 %d typ host\r\n"
               "a=end-of-candidates\r\n",
               ssrc, ufrag, pwd, fp, ssrc, ssrc, ssrc, port);
    return bm_str_done(&b);
}

/* Answers Janus's offer to a subscriber: its one video section, recvonly, VP8 only. Returns a
 * malloc'd answer, or NULL (and *why) if the offer is not one VP8 video section. */
static char *bm_janus_sub_answer(const char *offer, const char *ufrag, const char *pwd,
                                 const char *fp, int port, const char **why)
{
    pl_sdp_offer_t *o = NULL;
    pl_sdp_error_t err = {0};
    *why = NULL;
    if (pl_sdp_offer_parse((const uint8_t *)offer, strlen(offer), &o, &err) < 0) {
        *why = err.what ? err.what : "Janus's offer does not parse";
        return NULL;
    }
    const pl_sdp_section_t *s = pl_sdp_offer_section(o, 0);
    int pt = -1, ext = 0;
    for (size_t i = 0; s && i < s->n_codecs && pt < 0; i++)
        if (!strcasecmp(s->codecs[i].name, "VP8")) pt = s->codecs[i].pt;
    for (size_t i = 0; s && i < s->n_extmaps; i++)
        if (!strcmp(s->extmaps[i].uri, BM_MID_EXT_URI)) ext = s->extmaps[i].id;
    char *out = NULL;
    if (!s || pl_sdp_offer_section_count(o) != 1 || s->kind != PL_SDP_KIND_VIDEO || pt < 0) {
        *why = "Janus's offer is not one VP8 video section";
    } else {
        bm_str_t b;
        bm_str_init(&b);
        bm_str_add(&b,
                   "v=0\r\no=- %d 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE %s\r\n"
                   "a=msid-semantic: WMS *\r\nm=video 9 UDP/TLS/RTP/SAVPF %d\r\n"
                   "c=IN IP4 127.0.0.1\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\n"
                   "a=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\n"
                   "a=setup:active\r\na=mid:%s\r\n",
                   port, s->mid, pt, ufrag, pwd, fp, s->mid);
        if (ext) bm_str_add(&b, "a=extmap:%d " BM_MID_EXT_URI "\r\n", ext);
        bm_str_add(&b,
                   "a=recvonly\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:%d VP8/90000\r\n"
                   "a=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\n"
                   "a=candidate:1 1 udp 2122260223 127.0.0.1 %d typ host\r\n"
                   "a=end-of-candidates\r\n",
                   pt, pt, pt, port);
        out = bm_str_done(&b);
    }
    pl_sdp_offer_destroy(o);
    return out;
}

/* ---- reading the servers' descriptions ---- */

typedef struct {
    char ufrag[260], pwd[260];
    char fp[PL_DTLS_FP_STR_LEN];
    int vp8_pt;  /* in the section `mid`; -1 if none */
    int mid_ext; /* sdes:mid extension id in that section; 0 if not negotiated */
    char mid[PL_SDP_MID_MAX + 1];
    int cand_port; /* the first UDP candidate on 127.0.0.1; 0 if none */
    bool ice_lite;
} bm_sdp_info_t;

/* Reads ICE credentials, fingerprint, the VP8 payload type and the mid extension of section
 * mid (NULL: the first video section), and a 127.0.0.1 UDP candidate. 0, or -1 with *why. */
static int bm_sdp_info(const char *sdp, const char *mid, bm_sdp_info_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    out->vp8_pt = -1;
    pl_sdp_offer_t *o = NULL;
    pl_sdp_error_t err = {0};
    if (pl_sdp_offer_parse((const uint8_t *)sdp, strlen(sdp), &o, &err) < 0) {
        *why = err.what ? err.what : "unparsable SDP";
        return -1;
    }
    const pl_sdp_session_t *ses = pl_sdp_offer_session(o);
    snprintf(out->ufrag, sizeof out->ufrag, "%s", ses->ice_ufrag);
    snprintf(out->pwd, sizeof out->pwd, "%s", ses->ice_pwd);
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < PL_DTLS_FP_LEN; i++) {
        out->fp[i * 3] = hex[ses->fingerprint[i] >> 4];
        out->fp[i * 3 + 1] = hex[ses->fingerprint[i] & 15];
        out->fp[i * 3 + 2] = i == PL_DTLS_FP_LEN - 1 ? 0 : ':';
    }
    out->ice_lite = ses->ice_lite;
    const pl_sdp_section_t *s = NULL;
    if (mid) s = pl_sdp_offer_find_mid(o, mid);
    for (size_t i = 0; !mid && !s && i < pl_sdp_offer_section_count(o); i++) {
        const pl_sdp_section_t *x = pl_sdp_offer_section(o, i);
        if (x->kind == PL_SDP_KIND_VIDEO) s = x;
    }
    for (size_t i = 0; s && i < s->n_codecs && out->vp8_pt < 0; i++)
        if (!strcasecmp(s->codecs[i].name, "VP8")) out->vp8_pt = s->codecs[i].pt;
    for (size_t i = 0; s && i < s->n_extmaps; i++)
        if (!strcmp(s->extmaps[i].uri, BM_MID_EXT_URI)) out->mid_ext = s->extmaps[i].id;
    if (s && s->mid) snprintf(out->mid, sizeof out->mid, "%s", s->mid);
    pl_sdp_offer_destroy(o);
    for (const char *c = strstr(sdp, "a=candidate:"); c; c = strstr(c + 1, "a=candidate:")) {
        char proto[8], ip[64];
        int port = 0;
        if (sscanf(c, "a=candidate:%*s %*d %7s %*u %63s %d", proto, ip, &port) == 3 &&
            !strcasecmp(proto, "udp") && !strcmp(ip, "127.0.0.1")) {
            out->cand_port = port;
            break;
        }
    }
    if (!s || out->vp8_pt < 0) {
        *why = "no VP8 video section";
        return -1;
    }
    return 0;
}

#endif
