/* The room's RTCP (see room.h): feedback from subscribers routed to publishers, and the
 * reports the room writes itself on each tick.
 *
 * The SFU terminates RTCP rather than relaying it: each member only ever hears about the
 * SSRCs in its own answer. A subscriber's NACK, PLI and FIR name the slot's SSRC and sequence
 * numbers, and are translated to the publisher's before anything goes upstream; its REMB is
 * kept, not relayed, and becomes part of the REMB the room sends each publisher; SR and RR are
 * consumed, and the room writes its own, consistent with the rewritten streams.
 *
 * Every compound the room writes starts with an SR or RR, as RFC 3550 section 6.1 asks of
 * compound RTCP (the answer has no a=rtcp-rsize): feedback goes behind an empty RR. */
#include "media/room_internal.h"

#include <string.h>

#include "core/err.h"

/* Seconds between 1900 (NTP) and 1970 (Unix). */
#define NTP_UNIX_OFFSET 2208988800u

static uint64_t ntp_from_ms(int64_t ms)
{
    if (ms < 0) ms = 0;
    uint64_t secs = (uint64_t)(ms / 1000) + NTP_UNIX_OFFSET;
    uint64_t frac = ((uint64_t)(ms % 1000) << 32) / 1000;
    return secs << 32 | frac;
}

/* RTP timestamp units in ms milliseconds (which may be negative), modulo 2^32. */
static uint32_t ts_units(int64_t ms, uint32_t clock)
{
    return (uint32_t)(uint64_t)(ms * (int64_t)clock / 1000);
}

/* A compound for member to, started with an empty RR from the SSRC the room uses with it. */
static void compound_begin(pl_room_t *r, const pl_room_member_t *to, pl_rtcp_writer_t *w)
{
    pl_rtcp_writer_init(w, r->rtcp, PL_ROOM_RTCP_MAX);
    pl_rtcp_write_rr(w, to->rtcp_ssrc, NULL, 0);
}

static int compound_send(pl_room_t *r, pl_room_member_t *to, const pl_rtcp_writer_t *w)
{
    return pl_room__send(r, to, r->rtcp, w->len, sizeof r->rtcp, true);
}

int pl_room__keyframe(pl_room_t *r, pl_room_pub_t *p, bool want_fir, int64_t now_ms)
{
    pl_room_member_t *o = p->owner;
    bool pli = (p->fb & PL_SDP_FB_NACK_PLI) != 0, fir = (p->fb & PL_SDP_FB_CCM_FIR) != 0;
    pl_rtcp_writer_t w;

    if (o->dead || p->ssrc == 0 || (!pli && !fir)) return -PL_ENOTFOUND;
    if (p->kf_sent && now_ms - p->kf_ms < PL_ROOM_KEYFRAME_MS) {
        r->stats.pli_rate_limited++;
        return -PL_ERATE;
    }
    compound_begin(r, o, &w);
    if (fir && (want_fir || !pli)) {
        /* RFC 5104 4.3.1.2: a new request gets the next command sequence number. */
        pl_rtcp_fir_entry_t e = {.ssrc = p->ssrc, .seq_nr = p->fir_seq++};
        pl_rtcp_write_fir(&w, o->rtcp_ssrc, &e, 1);
    } else {
        pl_rtcp_write_pli(&w, o->rtcp_ssrc, p->ssrc);
    }
    p->kf_sent = true;
    p->kf_ms = now_ms;
    return compound_send(r, o, &w);
}

/* ---- what members send ---- */

static pl_room_track_t *find_track(pl_room_member_t *m, uint32_t ssrc)
{
    for (int i = 0; i < m->n_tracks; i++)
        if (m->track[i].active && m->track[i].ssrc == ssrc) return &m->track[i];
    return NULL;
}

static void on_sr(pl_room_member_t *m, const pl_rtcp_packet_t *pkt, int64_t now_ms)
{
    pl_rtcp_report_t rep;

    if (pl_rtcp_report_parse(pkt, &rep) < 0 || !rep.is_sr) return;
    for (int i = 0; i < PL_ROOM_PUB_COUNT; i++) {
        pl_room_pub_t *p = &m->pub[i];
        if (!p->active || p->ssrc == 0 || p->ssrc != rep.info.ssrc) continue;
        p->have_sr = true;
        p->sr_ntp = rep.info.ntp;
        p->sr_rtp = rep.info.rtp_ts;
        p->sr_ms = now_ms;
    }
}

/* Whether to ask p's publisher for seq now: once per PL_ROOM_NACK_REPEAT_MS, so that the
 * same loss seen by two subscribers, or NACKed again before the first answer could arrive,
 * goes upstream once. */
static bool nack_fresh(pl_room_pub_t *p, uint16_t seq, int64_t now_ms)
{
    size_t i = seq % PL_ROOM_NACK_DEDUP;

    if (p->nack_used[i] && p->nack_seq[i] == seq && now_ms - p->nack_ms[i] < PL_ROOM_NACK_REPEAT_MS)
        return false;
    p->nack_used[i] = true;
    p->nack_seq[i] = seq;
    p->nack_ms[i] = now_ms;
    return true;
}

static void nack_upstream(pl_room_t *r, pl_room_pub_t *p, const uint16_t *seqs, size_t n)
{
    pl_rtcp_writer_t w;

    compound_begin(r, p->owner, &w);
    if (pl_rtcp_write_nack(&w, p->owner->rtcp_ssrc, p->ssrc, seqs, n) < 0) return;
    if (compound_send(r, p->owner, &w) == 0) r->stats.nack_sent_upstream += n;
}

/* Resends pub_seq from p's ring to track t of m. Returns false when the ring lacks it. */
static bool answer_from_ring(pl_room_t *r, pl_room_member_t *m, pl_room_track_t *t,
                             uint16_t pub_seq, int64_t now_ms)
{
    const uint8_t *data;
    size_t len;
    int64_t stored_ms;
    pl_rtp_packet_t pkt;

    if (t->src->ring == NULL ||
        pl_rtx_ring_get(t->src->ring, pub_seq, now_ms, PL_ROOM_NACK_MAX_AGE_MS, &data, &len,
                        &stored_ms) < 0)
        return false;
    if (pl_rtp_parse(data, len, &pkt) < 0) return true; /* cannot happen: it parsed before */
    if (pl_room__forward(r, m, t, &pkt, stored_ms, true) == 0) r->stats.nack_answered_from_ring++;
    return true;
}

static void on_nack(pl_room_t *r, pl_room_member_t *m, const pl_rtcp_fb_t *fb, int64_t now_ms)
{
    pl_rtcp_nack_iter_t it;
    uint16_t seq, up[64];
    size_t n_up = 0, n_seen = 0;
    pl_room_track_t *t = find_track(m, fb->media_ssrc);
    pl_room_pub_t *p = t != NULL ? t->src : NULL;

    if (t == NULL || pl_rtcp_nack_iter_init(&it, fb) < 0) return;
    while (n_seen++ < PL_ROOM_NACK_MAX_SEQS && pl_rtcp_nack_next(&it, &seq) == 0) {
        r->stats.nack_received++;
        /* A send callback may have removed someone and moved the slot. */
        if (p == NULL || m->dead || t->src != p || !t->synced) continue;
        uint16_t pub_seq = (uint16_t)(seq - t->seq_off);
        /* Only what this publisher sent in this slot, and nothing not sent yet. */
        if ((int16_t)(uint16_t)(pub_seq - t->epoch_seq) < 0 ||
            (int16_t)(uint16_t)(seq - t->last_seq) > 0)
            continue;
        if (answer_from_ring(r, m, t, pub_seq, now_ms)) continue;
        if ((p->fb & PL_SDP_FB_NACK) && n_up < sizeof up / sizeof up[0] &&
            nack_fresh(p, pub_seq, now_ms))
            up[n_up++] = pub_seq;
    }
    if (n_up > 0 && p != NULL && !p->owner->dead) nack_upstream(r, p, up, n_up);
}

static void keyframe_for(pl_room_t *r, pl_room_track_t *t, bool fir, int64_t now_ms)
{
    if (t == NULL || t->src == NULL || !t->video) return;
    if (pl_room__keyframe(r, t->src, fir, now_ms) == 0) r->stats.pli_relayed++;
}

static void on_psfb(pl_room_t *r, pl_room_member_t *m, const pl_rtcp_fb_t *fb, int64_t now_ms)
{
    pl_rtcp_remb_t remb;
    pl_rtcp_fir_entry_t e;

    switch (fb->fmt) {
    case PL_RTCP_FMT_PLI:
        keyframe_for(r, find_track(m, fb->media_ssrc), false, now_ms);
        break;
    case PL_RTCP_FMT_FIR:
        for (size_t i = 0; pl_rtcp_fir_entry(fb, i, &e) == 0 && !m->dead; i++)
            keyframe_for(r, find_track(m, e.ssrc), true, now_ms);
        break;
    case PL_RTCP_FMT_AFB:
        if (pl_rtcp_remb_parse(fb, &remb) == 0) {
            m->have_remb = true;
            m->remb_bps = remb.bitrate;
        }
        break;
    default:
        break;
    }
}

/* A BYE for the stream holding the screen slot frees it at once, without the idle wait. */
static void on_bye(pl_room_t *r, pl_room_member_t *m, const pl_rtcp_packet_t *pkt)
{
    pl_rtcp_bye_t bye;
    uint32_t screen = m->pub[PL_ROOM_PUB_SCREEN].ssrc;

    if (r->screen != m || screen == 0 || pl_rtcp_bye_parse(pkt, &bye) < 0) return;
    for (size_t i = 0; i < bye.count; i++) {
        if (pl_rtcp_bye_ssrc(&bye, i) == screen) {
            r->screen = NULL;
            pl_room__assign(r);
            return;
        }
    }
}

int pl_room_on_rtcp(pl_room_t *r, pl_room_member_t *m, const uint8_t *buf, size_t len,
                    int64_t now_ms)
{
    pl_rtcp_iter_t it;
    pl_rtcp_packet_t pkt;
    pl_rtcp_fb_t fb;

    if (r == NULL || m == NULL || m->room != r || m->dead) return -PL_EINVAL;
    if (pl_rtcp_iter_init(&it, buf, len) < 0) {
        r->stats.rtcp_malformed++;
        return -PL_EINVAL;
    }
    pl_room__enter(r);
    while (!m->dead && pl_rtcp_iter_next(&it, &pkt) == 0) {
        switch (pkt.pt) {
        case PL_RTCP_SR:
            on_sr(m, &pkt, now_ms);
            break;
        case PL_RTCP_RTPFB:
            if (pkt.count == PL_RTCP_FMT_NACK && pl_rtcp_fb_parse(&pkt, &fb) == 0)
                on_nack(r, m, &fb, now_ms);
            break;
        case PL_RTCP_PSFB:
            if (pl_rtcp_fb_parse(&pkt, &fb) == 0) on_psfb(r, m, &fb, now_ms);
            break;
        case PL_RTCP_BYE:
            on_bye(r, m, &pkt);
            break;
        default: /* RR, SDES, transport-cc, XR, APP: nothing the room needs */
            break;
        }
    }
    pl_room__exit(r);
    return 0;
}

/* ---- what the room sends every second ---- */

/* The RTP time of t's stream now: from its publisher's last SR when there is one, which keeps
 * the publisher's own audio/video relation for lip sync, else from the last packet sent. */
static uint32_t track_rtp_now(const pl_room_track_t *t, int64_t now_ms)
{
    const pl_room_pub_t *p = t->src;

    if (p != NULL && t->synced && p->have_sr)
        return p->sr_rtp + ts_units(now_ms - p->sr_ms, t->clock) + t->ts_off;
    return t->last_ts + ts_units(now_ms - t->last_ms, t->clock);
}

static void report_block(const pl_room_pub_t *p, pl_rtp_seq_t *rx, int64_t now_ms, pl_rtcp_rb_t *rb)
{
    pl_rtp_seq_stats_t st;

    pl_rtp_seq_report(rx, &st);
    *rb = (pl_rtcp_rb_t){
        .ssrc = p->ssrc,
        .fraction_lost = st.fraction_lost,
        .cumulative_lost = st.cumulative_lost,
        .ext_highest_seq = st.ext_highest_seq,
        .jitter = st.jitter,
    };
    if (p->have_sr) {
        rb->lsr = (uint32_t)(p->sr_ntp >> 16);
        rb->dlsr = (uint32_t)((uint64_t)(now_ms - p->sr_ms) * 65536 / 1000);
    }
}

/* What p may send: the smallest share of any subscriber's REMB, each subscriber's estimate
 * split evenly over the videos it receives (a REMB covers the whole downlink), within the
 * cap for its kind and never under the floor. */
static uint64_t remb_bound(const pl_room_t *r, const pl_room_pub_t *p)
{
    bool screen = p == &p->owner->pub[PL_ROOM_PUB_SCREEN];
    uint64_t bound = screen ? r->cfg.screen_max_bps : r->cfg.camera_max_bps;

    for (int i = 0; i < PL_ROOM_MAX_MEMBERS; i++) {
        const pl_room_member_t *s = r->members[i];
        if (s == NULL || s == p->owner || !s->have_remb) continue;
        uint64_t videos = 0;
        bool receives = false;
        for (int k = 0; k < s->n_tracks; k++) {
            const pl_room_track_t *t = &s->track[k];
            if (!t->video || t->src == NULL) continue;
            videos++;
            receives = receives || t->src == p;
        }
        if (receives && s->remb_bps / videos < bound) bound = s->remb_bps / videos;
    }
    return bound < PL_ROOM_MIN_BPS ? PL_ROOM_MIN_BPS : bound;
}

static void send_reports(pl_room_t *r, pl_room_member_t *m, int64_t now_ms)
{
    pl_rtcp_writer_t w;
    pl_rtcp_rb_t rb[PL_ROOM_PUB_COUNT];
    uint32_t video[PL_ROOM_PUB_COUNT];
    size_t n_rb = 0, n_video = 0, n_sr = 0;
    uint64_t remb = 0;
    uint64_t ntp = ntp_from_ms(now_ms + r->cfg.ntp_offset_ms);

    pl_rtcp_writer_init(&w, r->rtcp, PL_ROOM_RTCP_MAX);
    for (int k = 0; k < m->n_tracks; k++) {
        const pl_room_track_t *t = &m->track[k];
        if (!t->active || !t->started) continue;
        pl_rtcp_sender_info_t info = {.ssrc = t->ssrc,
                                      .ntp = ntp,
                                      .rtp_ts = track_rtp_now(t, now_ms),
                                      .packet_count = t->packets,
                                      .octet_count = t->octets};
        if (pl_rtcp_write_sr(&w, &info, NULL, 0) == 0) n_sr++;
    }
    for (int i = 0; i < PL_ROOM_PUB_COUNT; i++) {
        pl_room_pub_t *p = &m->pub[i];
        if (!p->active || !p->have_rtp || p->ssrc == 0) continue;
        report_block(p, &p->rx, now_ms, &rb[n_rb++]);
        if (p->video) {
            remb += remb_bound(r, p);
            video[n_video++] = p->ssrc;
        }
    }
    bool rr = n_rb > 0 && pl_rtcp_write_rr(&w, m->rtcp_ssrc, rb, n_rb) == 0;
    bool rembed =
        rr && n_video > 0 && pl_rtcp_write_remb(&w, m->rtcp_ssrc, remb, video, n_video) == 0;
    if (w.len == 0 || compound_send(r, m, &w) < 0) return;
    r->stats.sr_sent += n_sr;
    r->stats.rr_sent += rr;
    r->stats.remb_sent += rembed;
}

void pl_room_tick(pl_room_t *r, int64_t now_ms)
{
    if (r == NULL) return;
    pl_room__enter(r);
    int who = pl_speaker_update(&r->speaker, now_ms);
    if (who >= 0 && r->members[who] != NULL && r->cfg.on_speaker != NULL)
        r->cfg.on_speaker(r->cfg.opaque, r->members[who]->opaque);
    pl_room_member_t *h = r->screen;
    if (h != NULL && now_ms - h->pub[PL_ROOM_PUB_SCREEN].last_rtp_ms >= PL_ROOM_SCREEN_IDLE_MS) {
        r->screen = NULL;
        pl_room__assign(r);
    }
    if (!r->ticked) {
        r->ticked = true;
        r->next_report_ms = now_ms + PL_ROOM_REPORT_MS;
    } else if (now_ms >= r->next_report_ms) {
        r->next_report_ms = now_ms + PL_ROOM_REPORT_MS;
        for (int i = 0; i < PL_ROOM_MAX_MEMBERS; i++)
            if (r->members[i] != NULL) send_reports(r, r->members[i], now_ms);
    }
    pl_room__exit(r);
}
