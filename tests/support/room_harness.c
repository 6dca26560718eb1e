/* The room test harness (see room_harness.h). Offers follow Chromium's shape (the fixtures in
 * tests/media/fixtures/), trimmed to what the answer writer reads. */
#include "tests/support/room_harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define FP32                                                                                       \
    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:"      \
    "77:88:99"

#define URI_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define URI_AST "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define URI_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define URI_MID "urn:ietf:params:rtp-hdrext:sdes:mid"

/* ---- offers ---- */

pl_rh_spec_t pl_rh_spec(int who)
{
    /* Member 1 and its rejoined self (3) share payload types and ids, not SSRCs. */
    static const pl_rh_spec_t specs[] = {
        {.opus_pt = 111,
         .vp8_pt = 96,
         .h264_pt = 102,
         .id_level = 1,
         .id_ast = 2,
         .id_tcc = 3,
         .id_mid = 4,
         .ssrc = {0xA0000001u, 0xA0000002u, 0xA0000004u}},
        {.opus_pt = 109,
         .vp8_pt = 120,
         .h264_pt = -1,
         .id_level = 10,
         .id_ast = 11,
         .id_tcc = 12,
         .id_mid = 13,
         .ssrc = {0xB0000001u, 0xB0000002u, 0xB0000004u}},
        {.opus_pt = 100,
         .vp8_pt = 98,
         .h264_pt = -1,
         .id_level = 5,
         .id_ast = 6,
         .id_tcc = 7,
         .id_mid = 8,
         .ssrc = {0xC0000001u, 0xC0000002u, 0xC0000004u}},
        {.opus_pt = 109,
         .vp8_pt = 120,
         .h264_pt = -1,
         .id_level = 10,
         .id_ast = 11,
         .id_tcc = 12,
         .id_mid = 13,
         .ssrc = {0xD0000001u, 0xD0000002u, 0xD0000004u}},
    };
    pl_rh_spec_t s = specs[who >= 0 && who < 4 ? who : (who - 4) % 3];
    if (who >= 4) {
        uint32_t base = 0xE0000000u + ((uint32_t)who << 16);
        s.ssrc[0] = base + 1;
        s.ssrc[1] = base + 2;
        s.ssrc[2] = base + 4;
    }
    s.n_sections = 5;
    return s;
}

typedef struct {
    char *buf;
    size_t cap, len;
    bool over;
} text_t;

__attribute__((format(printf, 2, 3))) static void put(text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 2 >= t->cap - t->len) {
        t->over = true;
        return;
    }
    t->len += (size_t)n;
    memcpy(t->buf + t->len, "\r\n", 3);
    t->len += 2;
}

static void put_video_codec(text_t *t, int pt, const char *rtpmap, const char *fmtp)
{
    static const char *const fb[] = {"goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"};
    put(t, "a=rtpmap:%d %s", pt, rtpmap);
    for (size_t i = 0; i < sizeof fb / sizeof fb[0]; i++)
        put(t, "a=rtcp-fb:%d %s", pt, fb[i]);
    if (fmtp != NULL) put(t, "a=fmtp:%d %s", pt, fmtp);
    put(t, "a=rtpmap:%d rtx/90000", pt + 1);
    put(t, "a=fmtp:%d apt=%d", pt + 1, pt);
}

static size_t section_count(const pl_rh_spec_t *s)
{
    return s->kinds != NULL ? strlen(s->kinds) : s->n_sections;
}

/* The screen's section: the last of a kinds string, else 2K. */
static size_t screen_section(const pl_rh_spec_t *s)
{
    if (s->kinds != NULL) return strlen(s->kinds) - 1;
    return s->n_sections >= 5 ? s->n_sections - 1 : 4;
}

static void put_section(text_t *t, const pl_rh_spec_t *s, size_t i)
{
    size_t screen = screen_section(s);
    bool audio = s->kinds != NULL ? s->kinds[i] == 'a' : i < screen && i % 2 == 0;
    bool sends = i == 0 || i == 1 || i == screen;
    uint32_t ssrc = !sends ? 0 : s->ssrc[i == 0 ? 0 : i == 1 ? 1 : 2];
    char pts[64];

    if (audio)
        snprintf(pts, sizeof pts, "%d", s->opus_pt);
    else if (s->vp8_pt >= 0 && s->h264_pt >= 0)
        snprintf(pts, sizeof pts, "%d %d %d %d", s->vp8_pt, s->vp8_pt + 1, s->h264_pt,
                 s->h264_pt + 1);
    else
        snprintf(pts, sizeof pts, "%d %d", s->vp8_pt >= 0 ? s->vp8_pt : s->h264_pt,
                 (s->vp8_pt >= 0 ? s->vp8_pt : s->h264_pt) + 1);
    put(t, "m=%s 9 UDP/TLS/RTP/SAVPF %s", audio ? "audio" : "video", pts);
    put(t, "c=IN IP4 0.0.0.0");
    put(t, "a=ice-ufrag:abcd");
    put(t, "a=ice-pwd:0123456789abcdefghijkl");
    put(t, "a=ice-options:trickle");
    put(t, "a=fingerprint:sha-256 %s", FP32);
    put(t, "a=setup:actpass");
    put(t, "a=mid:%zu", i);
    if (audio) put(t, "a=extmap:%u %s", s->id_level, URI_LEVEL);
    put(t, "a=extmap:%u %s", s->id_ast, URI_AST);
    put(t, "a=extmap:%u %s", s->id_tcc, URI_TWCC);
    put(t, "a=extmap:%u %s", s->id_mid, URI_MID);
    put(t, "a=%s", sends ? "sendrecv" : "recvonly");
    if (sends) put(t, "a=msid:stream%zu track%zu", i, i);
    put(t, "a=rtcp-mux");
    if (audio) {
        put(t, "a=rtpmap:%d opus/48000/2", s->opus_pt);
        put(t, "a=rtcp-fb:%d transport-cc", s->opus_pt);
        put(t, "a=fmtp:%d minptime=10;useinbandfec=1", s->opus_pt);
    } else {
        if (s->vp8_pt >= 0) put_video_codec(t, s->vp8_pt, "VP8/90000", NULL);
        if (s->h264_pt >= 0)
            put_video_codec(t, s->h264_pt, "H264/90000",
                            "level-asymmetry-allowed=1;packetization-mode=1;"
                            "profile-level-id=42e01f");
    }
    if (ssrc == 0) return;
    if (!audio) put(t, "a=ssrc-group:FID %u %u", ssrc, ssrc + 0x100u);
    put(t, "a=ssrc:%u cname:rhcname", ssrc);
    if (!audio) put(t, "a=ssrc:%u cname:rhcname", ssrc + 0x100u);
}

size_t pl_rh_offer(const pl_rh_spec_t *spec, char *buf, size_t cap)
{
    text_t t = {.buf = buf, .cap = cap};
    char group[64] = "";

    size_t n = section_count(spec);

    for (size_t i = 0; i < n; i++)
        snprintf(group + strlen(group), sizeof group - strlen(group), " %zu", i);
    put(&t, "v=0");
    put(&t, "o=- 4242 2 IN IP4 127.0.0.1");
    put(&t, "s=-");
    put(&t, "t=0 0");
    put(&t, "a=group:BUNDLE%s", group);
    put(&t, "a=msid-semantic: WMS *");
    for (size_t i = 0; i < n; i++)
        put_section(&t, spec, i);
    return t.over ? 0 : t.len;
}

/* ---- the room and its members ---- */

static int on_send(void *opaque, uint8_t *buf, size_t len, size_t cap, bool rtcp)
{
    pl_rh_peer_t *p = opaque;

    if (cap < len + PL_SRTP_TAIL_ROOM) return -PL_ETOOBIG;
    if (p->n < PL_RH_CAPTURE) {
        pl_rh_pkt_t *k = &p->pkts[p->n];
        k->rtcp = rtcp;
        k->len = len;
        memcpy(k->data, buf, len);
    }
    p->n++;
    /* Scribble over the tail as SRTP would, so nothing relies on the buffer afterwards. */
    memset(buf + len, 0xEE, PL_SRTP_TAIL_ROOM);
    if (p->remove_on_send >= 0) {
        int victim = p->remove_on_send;
        p->remove_on_send = -1;
        pl_rh_leave(p->h, victim);
    }
    return p->send_rc;
}

static void on_speaker(void *opaque, void *member_opaque)
{
    pl_rh_t *h = opaque;
    h->speaker_events++;
    h->last_speaker = member_opaque;
}

int pl_rh_create(pl_rh_t *h, const pl_room_config_t *cfg)
{
    pl_room_config_t c = cfg != NULL ? *cfg : (pl_room_config_t){0};

    memset(h, 0, sizeof *h);
    c.on_speaker = on_speaker;
    c.opaque = h;
    for (int i = 0; i < PL_RH_PEERS; i++) {
        h->peer[i].h = h;
        h->peer[i].who = i;
        h->peer[i].remove_on_send = -1;
        h->peer[i].pkts = calloc(PL_RH_CAPTURE, sizeof(pl_rh_pkt_t));
        if (h->peer[i].pkts == NULL) {
            pl_rh_destroy(h);
            return -PL_ENOMEM;
        }
    }
    int rc = pl_room_create(&c, &h->room);
    if (rc < 0) pl_rh_destroy(h);
    return rc;
}

void pl_rh_destroy(pl_rh_t *h)
{
    pl_room_destroy(h->room);
    h->room = NULL;
    for (int i = 0; i < PL_RH_PEERS; i++) {
        free(h->peer[i].pkts);
        h->peer[i].pkts = NULL;
    }
}

int pl_rh_join_text(pl_rh_t *h, int who, const char *text, size_t len, bool answer_staff,
                    bool member_staff)
{
    pl_rh_peer_t *p = &h->peer[who];
    pl_sdp_offer_t *offer = NULL;
    char *answer = NULL;
    pl_room_answer_t ra;

    int rc = pl_sdp_offer_parse((const uint8_t *)text, len, &offer, NULL);
    if (rc == 0) rc = pl_room_answer_prepare(offer, answer_staff, &ra);
    if (rc == 0) {
        pl_sdp_answer_params_t ap = {
            .session_id = 1,
            .session_version = 1,
            .ice_ufrag = "PaRl",
            .ice_pwd = "parleyparleyparleypa+/",
            .candidate_ip = "127.0.0.1",
            .candidate_port = 40000,
        };
        pl_room_answer_apply(&ra, &ap);
        rc = pl_sdp_answer_create(offer, &ap, &answer, &p->neg, NULL);
    }
    if (rc == 0) {
        pl_room_member_params_t mp = {
            .opaque = p,
            .send = on_send,
            .may_screen = member_staff,
            .offer = offer,
            .neg = &p->neg,
        };
        rc = pl_room_member_add(h->room, &mp, &p->member);
    }
    if (rc == 0) {
        memset(&p->spec, 0, sizeof p->spec);
        p->joined = true;
        p->send_rc = 0;
    }
    free(answer);
    pl_sdp_offer_destroy(offer);
    return rc;
}

int pl_rh_join(pl_rh_t *h, int who, const pl_rh_spec_t *spec, bool answer_staff, bool member_staff)
{
    char *text = malloc(PL_SDP_MAX_TEXT);
    if (text == NULL) return -PL_ENOMEM;
    size_t n = pl_rh_offer(spec, text, PL_SDP_MAX_TEXT);
    int rc = n == 0 ? -PL_ETOOBIG : pl_rh_join_text(h, who, text, n, answer_staff, member_staff);
    if (rc == 0) h->peer[who].spec = *spec;
    free(text);
    return rc;
}

void pl_rh_leave(pl_rh_t *h, int who)
{
    pl_rh_peer_t *p = &h->peer[who];
    if (!p->joined) return;
    pl_room_member_remove(p->member);
    p->member = NULL;
    p->joined = false;
}

uint32_t pl_rh_slot_ssrc(const pl_rh_t *h, int who, int section)
{
    const pl_sdp_negotiated_t *n = &h->peer[who].neg;
    return (size_t)section < n->n_sections ? n->sections[section].ssrc : 0;
}

/* ---- packets ---- */

size_t pl_rh_rtp(const pl_rh_t *h, int who, const pl_rh_rtp_t *o, uint8_t *buf, size_t cap)
{
    const pl_rh_spec_t *s = &h->peer[who].spec;
    bool audio = o->section == 0;
    uint8_t payload[PL_RTP_MAX_LEN];
    size_t plen = o->payload != 0 ? o->payload : 100;
    char mid[4];
    uint8_t ast[3] = {0x12, 0x34, 0x56};
    uint8_t level = (uint8_t)(0x80 | o->level);
    pl_rtp_ext_t ext[2];
    size_t n_ext = 0;

    if (plen > sizeof payload) return 0;
    for (size_t i = 0; i < plen; i++)
        payload[i] = (uint8_t)(o->seq * 7 + i);
    if (audio)
        ext[n_ext++] = (pl_rtp_ext_t){s->id_level, 1, &level};
    else
        ext[n_ext++] = (pl_rtp_ext_t){s->id_ast, 3, ast};
    snprintf(mid, sizeof mid, "%d", o->section);
    if (!o->no_mid)
        ext[n_ext++] = (pl_rtp_ext_t){s->id_mid, (uint8_t)strlen(mid), (const uint8_t *)mid};
    pl_rtp_header_t hd = {
        .marker = o->marker,
        .pt = (uint8_t)(audio            ? s->opus_pt
                        : s->vp8_pt >= 0 ? s->vp8_pt
                                         : s->h264_pt),
        .seq = o->seq,
        .timestamp = o->ts,
        .ssrc = s->ssrc[o->section == 0   ? 0
                        : o->section == 1 ? 1
                                          : 2],
        .exts = ext,
        .ext_count = n_ext,
    };
    size_t len = 0;
    return pl_rtp_write(&hd, payload, plen, buf, cap, &len) == 0 ? len : 0;
}

int pl_rh_send(pl_rh_t *h, int who, const pl_rh_rtp_t *o, int64_t now_ms)
{
    uint8_t buf[PL_RTP_MAX_LEN];
    size_t len = pl_rh_rtp(h, who, o, buf, sizeof buf);
    if (len == 0) return -PL_EINVAL;
    return pl_room_on_rtp(h->room, h->peer[who].member, buf, len, now_ms);
}

void pl_rh_clear(pl_rh_t *h)
{
    for (int i = 0; i < PL_RH_PEERS; i++)
        h->peer[i].n = 0;
}

size_t pl_rh_count(const pl_rh_t *h, int who, bool rtcp)
{
    const pl_rh_peer_t *p = &h->peer[who];
    size_t n = 0;
    for (size_t i = 0; i < p->n && i < PL_RH_CAPTURE; i++)
        n += p->pkts[i].rtcp == rtcp;
    return n;
}

const pl_rh_pkt_t *pl_rh_last_rtp(const pl_rh_t *h, int who, uint32_t ssrc, pl_rtp_packet_t *out)
{
    const pl_rh_peer_t *p = &h->peer[who];
    size_t n = p->n < PL_RH_CAPTURE ? p->n : PL_RH_CAPTURE;
    for (size_t i = n; i-- > 0;) {
        const pl_rh_pkt_t *k = &p->pkts[i];
        if (k->rtcp || pl_rtp_parse(k->data, k->len, out) < 0) continue;
        if (out->ssrc == ssrc) return k;
    }
    return NULL;
}

int pl_rh_find_rtcp(const pl_rh_t *h, int who, uint8_t pt, int fmt, size_t *from,
                    pl_rtcp_packet_t *out)
{
    const pl_rh_peer_t *p = &h->peer[who];
    size_t n = p->n < PL_RH_CAPTURE ? p->n : PL_RH_CAPTURE;
    for (size_t i = *from; i < n; i++) {
        const pl_rh_pkt_t *k = &p->pkts[i];
        pl_rtcp_iter_t it;
        if (!k->rtcp || pl_rtcp_iter_init(&it, k->data, k->len) < 0) continue;
        while (pl_rtcp_iter_next(&it, out) == 0) {
            if (out->pt == pt && (fmt < 0 || out->count == fmt)) {
                *from = i + 1;
                return 0;
            }
        }
    }
    return -1;
}
