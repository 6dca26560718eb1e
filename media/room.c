/* The room (see room.h): members, their slots, and RTP forwarding. RTCP and the periodic
 * reports are in room_rtcp.c, building a member's answer in room_answer.c.
 *
 * The forwarding path is: parse once, find the publisher stream by SSRC, store a video packet
 * in the stream's ring, then for each subscriber track the stream fills, copy into the room's
 * scratch buffer, rewrite the copy from tables computed when the slot was assigned (PT map,
 * extension id map, sequence and timestamp offsets) and send. Nothing on it allocates.
 *
 * Sequence numbers: a track's outgoing numbers are the publisher's plus an offset fixed when
 * the publisher's first packet reaches the track (its "epoch"), so they continue the track's
 * previous numbering. Two rules keep every (SSRC, sequence number) we protect tied to one
 * packet, which SRTP needs (a second, different packet under the same number would reuse the
 * keystream): packets from before the epoch are dropped, and a retransmission is rewritten
 * from the same tables and the same arrival time, so it comes out byte for byte the same.
 *
 * Header extensions: abs-send-time is rewritten to the time the room received the packet, so
 * a subscriber's REMB estimate measures the path from the SFU rather than the publisher's
 * jitter on top of it; the mid is blanked, because the publisher's mid names its own section,
 * not the subscriber's (which then demultiplexes by the SSRC its answer announced); and
 * transport-wide-cc is blanked because the SFU sends no transport-cc feedback. */
#include "media/room_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/util.h"

/* The section a member publishes each stream on: microphone 0, camera 1, screen 2K. */
static uint8_t pub_section(const pl_room_member_t *m, int role)
{
    return (uint8_t)(role == PL_ROOM_PUB_MIC ? 0 : role == PL_ROOM_PUB_CAMERA ? 1 : 2 * m->n_slots);
}

/* Members are speaker sources by their index. */
_Static_assert(PL_SPEAKER_MAX >= PL_ROOM_MAX_MEMBERS, "a speaker source per member");

#define EPOCH_TRAIL 8192u
#define SEQ_MISORDER 100u /* pl_rtp_seq_update's limit for a late packet (RFC 3550 A.1) */

/* ---- the room ---- */

int pl_room_create(const pl_room_config_t *cfg, pl_room_t **out)
{
    if (out == NULL) return -PL_EINVAL;
    *out = NULL;
    if (cfg != NULL && (cfg->max_members < 0 || cfg->max_members > PL_ROOM_MAX_MEMBERS))
        return -PL_EINVAL;
    pl_room_t *r = calloc(1, sizeof *r);
    if (r == NULL) return -PL_ENOMEM;
    if (cfg != NULL) r->cfg = *cfg;
    if (r->cfg.max_members == 0) r->cfg.max_members = PL_ROOM_DEFAULT_MEMBERS;
    if (r->cfg.camera_max_bps == 0) r->cfg.camera_max_bps = PL_ROOM_CAMERA_MAX_BPS;
    if (r->cfg.screen_max_bps == 0) r->cfg.screen_max_bps = PL_ROOM_SCREEN_MAX_BPS;
    pl_speaker_init(&r->speaker);
    *out = r;
    return 0;
}

int pl_room_set_capacity(pl_room_t *r, int max_members)
{
    if (r == NULL || max_members < 0 || max_members > PL_ROOM_MAX_MEMBERS) return -PL_EINVAL;
    if (max_members == 0) max_members = PL_ROOM_DEFAULT_MEMBERS;
    if (r->busy > 0 || r->n_members > max_members) return -PL_ECONFLICT;
    r->cfg.max_members = max_members;
    return 0;
}

static void member_free(pl_room_member_t *m)
{
    for (int i = 0; i < PL_ROOM_PUB_COUNT; i++)
        pl_rtx_ring_destroy(m->pub[i].ring);
    free(m);
}

void pl_room_destroy(pl_room_t *r)
{
    if (r == NULL) return;
    if (r->busy > 0) {
        /* Freeing the room under a packet it is still forwarding cannot end well. */
        fprintf(stderr, "pl_room_destroy called from inside a room callback\n");
        abort();
    }
    for (int i = 0; i < PL_ROOM_MAX_MEMBERS; i++)
        if (r->members[i] != NULL) member_free(r->members[i]);
    free(r);
}

void pl_room_stats(const pl_room_t *r, pl_room_stats_t *out)
{
    if (r != NULL && out != NULL) *out = r->stats;
}

void pl_room__enter(pl_room_t *r)
{
    r->busy++;
}

void pl_room__exit(pl_room_t *r)
{
    if (--r->busy > 0) return;
    for (int i = 0; i < PL_ROOM_MAX_MEMBERS; i++) {
        if (r->dying[i] != NULL) member_free(r->dying[i]);
        r->dying[i] = NULL;
    }
}

int pl_room__send(pl_room_t *r, pl_room_member_t *m, uint8_t *buf, size_t len, size_t cap,
                  bool rtcp)
{
    if (m->dead) return -PL_EUNAVAIL;
    int rc = m->send(m->opaque, buf, len, cap, rtcp);
    if (rc < 0) r->stats.send_failures++;
    return rc;
}

/* ---- adding a member ---- */

static int random_u32(uint32_t *out)
{
    uint8_t b[4];
    if (pl_random_bytes(b, sizeof b) < 0) return -PL_EINTERNAL;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* The media SSRC a section's publisher declared: the first a=ssrc that is not an rtx SSRC. */
static uint32_t offered_ssrc(const pl_sdp_section_t *s)
{
    if (s == NULL) return 0;
    if (s->n_fids > 0) return s->fids[0].ssrc;
    for (size_t i = 0; i < s->n_ssrcs; i++) {
        bool rtx = false;
        for (size_t k = 0; k < s->n_fids; k++)
            rtx = rtx || s->fids[k].rtx_ssrc == s->ssrcs[i].ssrc;
        if (!rtx) return s->ssrcs[i].ssrc;
    }
    return 0;
}

static bool dir_sends(pl_sdp_dir_t d)
{
    return d == PL_SDP_SENDRECV || d == PL_SDP_SENDONLY;
}

static bool dir_recvs(pl_sdp_dir_t d)
{
    return d == PL_SDP_SENDRECV || d == PL_SDP_RECVONLY;
}

static int setup_pub(pl_room_member_t *m, int role, const pl_sdp_neg_section_t *ns,
                     const pl_sdp_offer_t *offer)
{
    pl_room_pub_t *p = &m->pub[role];

    p->owner = m;
    p->section = pub_section(m, role);
    p->video = role != PL_ROOM_PUB_MIC;
    pl_rtp_seq_init(&p->rx);
    if (ns == NULL || !ns->accepted || ns->n_codecs == 0 || !dir_recvs(ns->dir)) return 0;
    p->active = true;
    p->clock = ns->codecs[0].clock;
    for (size_t i = 0; i < ns->n_codecs; i++) {
        const pl_sdp_neg_codec_t *c = &ns->codecs[i];
        if (c->pt < 128) p->codec_of_pt[c->pt] = (uint8_t)(c->codec + 1);
        p->fb |= c->fb;
    }
    memcpy(p->ext_id, ns->ext_id, sizeof p->ext_id);
    p->ssrc = offered_ssrc(pl_sdp_offer_find_mid(offer, ns->mid));
    if (p->video) return pl_rtx_ring_create(PL_RTX_RING_SLOTS, &p->ring);
    return 0;
}

static void setup_track(pl_room_member_t *m, int i, const pl_sdp_neg_section_t *ns)
{
    pl_room_track_t *t = &m->track[i];

    t->video = pl_room__section_kind((size_t)i, m->n_slots) == PL_SDP_KIND_VIDEO;
    memset(t->pt_of_codec, PL_ROOM_NO_PT, sizeof t->pt_of_codec);
    if (ns == NULL || !ns->accepted || ns->n_codecs == 0 || !dir_sends(ns->dir) || ns->ssrc == 0)
        return;
    t->active = true;
    t->ssrc = ns->ssrc;
    t->clock = ns->codecs[0].clock;
    for (size_t k = 0; k < ns->n_codecs; k++) {
        const pl_sdp_neg_codec_t *c = &ns->codecs[k];
        if ((unsigned)c->codec < sizeof t->pt_of_codec) t->pt_of_codec[c->codec] = c->pt;
    }
    memcpy(t->ext_id, ns->ext_id, sizeof t->ext_id);
}

static bool ssrc_taken(const pl_room_member_t *m, uint32_t ssrc)
{
    if (ssrc == 0) return true;
    for (int i = 0; i < PL_ROOM_PUB_COUNT; i++)
        if (m->pub[i].ssrc == ssrc) return true;
    for (int i = 0; i < m->n_tracks; i++)
        if (m->track[i].ssrc == ssrc) return true;
    return false;
}

/* Copies what the room needs from the member's negotiation into m. */
static int setup_member(pl_room_member_t *m, const pl_room_member_params_t *p)
{
    const pl_sdp_negotiated_t *neg = p->neg;
    const pl_sdp_neg_section_t *sec[PL_ROOM_SECTIONS] = {0};
    size_t used = 0;
    int slots = pl_room__layout(p->offer, &used);

    if (slots < 0 || neg->n_sections > PL_SDP_MAX_SECTIONS) return -PL_EINVAL;
    m->n_slots = slots;
    m->n_tracks = 2 * slots + 1;
    for (size_t i = 0; i < neg->n_sections && i < used; i++) {
        const pl_sdp_neg_section_t *ns = &neg->sections[i];
        if (ns->accepted && ns->n_codecs > 0 && ns->kind != pl_room__section_kind(i, slots))
            return -PL_EINVAL;
        sec[i] = ns;
        snprintf(m->mid[i], sizeof m->mid[i], "%s", ns->mid);
    }
    for (int role = 0; role < PL_ROOM_PUB_COUNT; role++) {
        int rc = setup_pub(m, role, sec[pub_section(m, role)], p->offer);
        if (rc < 0) return rc;
    }
    for (int i = 0; i < m->n_tracks; i++)
        setup_track(m, i, sec[i]);
    do {
        if (random_u32(&m->rtcp_ssrc) < 0) return -PL_EINTERNAL;
    } while (ssrc_taken(m, m->rtcp_ssrc));
    return 0;
}

int pl_room_member_add(pl_room_t *r, const pl_room_member_params_t *p, pl_room_member_t **out)
{
    if (out != NULL) *out = NULL;
    if (r == NULL || p == NULL || out == NULL || p->send == NULL || p->offer == NULL ||
        p->neg == NULL)
        return -PL_EINVAL;
    if (r->busy > 0) return -PL_ECONFLICT;
    if (r->n_members >= r->cfg.max_members) return -PL_ETOOBIG;
    int index = -1;
    for (int i = PL_ROOM_MAX_MEMBERS - 1; i >= 0; i--)
        if (r->members[i] == NULL) index = i;
    if (index < 0) return -PL_ETOOBIG; /* cannot happen: max_members <= PL_ROOM_MAX_MEMBERS */

    pl_room_member_t *m = calloc(1, sizeof *m);
    if (m == NULL) return -PL_ENOMEM;
    m->room = r;
    m->opaque = p->opaque;
    m->send = p->send;
    m->may_screen = p->may_screen;
    m->index = index;
    int rc = setup_member(m, p);
    if (rc < 0) {
        member_free(m);
        return rc;
    }
    m->join_seq = ++r->joins;
    r->members[index] = m;
    r->n_members++;
    pl_room__assign(r);
    *out = m;
    return 0;
}

void pl_room_member_remove(pl_room_member_t *m)
{
    if (m == NULL || m->dead) return;
    pl_room_t *r = m->room;
    m->dead = true;
    r->members[m->index] = NULL;
    r->n_members--;
    pl_speaker_forget(&r->speaker, m->index);
    if (r->screen == m) r->screen = NULL;
    pl_room__assign(r);
    if (r->busy > 0)
        r->dying[m->index] = m;
    else
        member_free(m);
}

void *pl_room_member_opaque(const pl_room_member_t *m)
{
    return m != NULL ? m->opaque : NULL;
}

void *pl_room_member_slot(const pl_room_member_t *m, int slot)
{
    if (m == NULL || slot < 0 || slot >= m->n_slots) return NULL;
    const pl_room_member_t *o = m->slot[slot];
    return o != NULL && !o->dead ? o->opaque : NULL;
}

int pl_room_member_slot_count(const pl_room_member_t *m)
{
    return m != NULL ? m->n_slots : 0;
}

/* ---- slots ---- */

/* Points t at p (or nothing), with the tables that translate p's packets for t. */
static void track_set_source(pl_room_track_t *t, pl_room_pub_t *p)
{
    if (!t->active || p == NULL || p->video != t->video) p = NULL;
    if (t->src == p) return;
    t->src = p;
    t->synced = false;
    if (p == NULL) return;
    memset(t->pt_map, PL_ROOM_NO_PT, sizeof t->pt_map);
    for (size_t pt = 0; pt < sizeof t->pt_map; pt++) {
        uint8_t c = p->codec_of_pt[pt];
        if (c != 0) t->pt_map[pt] = t->pt_of_codec[c - 1];
    }
    memset(t->ext_map, 0, sizeof t->ext_map);
    static const pl_sdp_ext_t kept[] = {PL_SDP_EXT_ABS_SEND_TIME, PL_SDP_EXT_AUDIO_LEVEL};
    for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++) {
        uint8_t from = p->ext_id[kept[k]];
        if (from != 0) t->ext_map[from] = t->ext_id[kept[k]];
    }
}

static pl_room_pub_t *pub_of(pl_room_member_t *m, int role)
{
    return m != NULL && m->pub[role].active ? &m->pub[role] : NULL;
}

static bool has_slot(const pl_room_member_t *s, const pl_room_member_t *o)
{
    for (int k = 0; k < s->n_slots; k++)
        if (s->slot[k] == o) return true;
    return false;
}

static void assign_member(pl_room_t *r, pl_room_member_t *s, pl_room_member_t *const *order, int n)
{
    int slots = s->n_slots;

    for (int k = 0; k < slots; k++)
        if (s->slot[k] != NULL && s->slot[k]->dead) s->slot[k] = NULL;
    /* Sticky: whoever fills a slot keeps it; free slots, lowest first, go to the others who
     * have none, in join order. */
    int free_at = 0;
    for (int i = 0; i < n; i++) {
        pl_room_member_t *o = order[i];
        if (o == s || has_slot(s, o)) continue;
        while (free_at < slots && s->slot[free_at] != NULL)
            free_at++;
        if (free_at == slots) break;
        s->slot[free_at] = o;
    }
    for (int k = 0; k < slots; k++) {
        track_set_source(&s->track[2 * k], pub_of(s->slot[k], PL_ROOM_PUB_MIC));
        track_set_source(&s->track[2 * k + 1], pub_of(s->slot[k], PL_ROOM_PUB_CAMERA));
    }
    pl_room_member_t *screen = r->screen != s ? r->screen : NULL;
    track_set_source(&s->track[2 * slots], pub_of(screen, PL_ROOM_PUB_SCREEN));
}

void pl_room__assign(pl_room_t *r)
{
    pl_room_member_t *order[PL_ROOM_MAX_MEMBERS];
    int n = 0;

    for (int i = 0; i < PL_ROOM_MAX_MEMBERS; i++) {
        pl_room_member_t *m = r->members[i];
        if (m == NULL) continue;
        int at = n++;
        while (at > 0 && order[at - 1]->join_seq > m->join_seq) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = m;
    }
    for (int i = 0; i < n; i++)
        assign_member(r, order[i], order, n);
}

/* ---- forwarding ---- */

/* abs-send-time: 6.18 fixed-point seconds, 24 bits. */
static uint32_t abs_send_time(int64_t ms)
{
    return (uint32_t)((((uint64_t)ms << 18) / 1000) & 0xFFFFFFu);
}

/* The first packet of t's new source: continue t's numbering from where it stopped. */
static void track_sync(pl_room_track_t *t, const pl_rtp_packet_t *pkt, int64_t now_ms)
{
    if (!t->started) {
        t->seq_off = 0;
        t->ts_off = 0;
    } else {
        int64_t elapsed = now_ms > t->last_ms ? now_ms - t->last_ms : 0;
        uint32_t advance = (uint32_t)((uint64_t)elapsed * t->clock / 1000);
        if (advance == 0) advance = 1;
        t->seq_off = (uint16_t)(t->last_seq + 1 - pkt->seq);
        t->ts_off = t->last_ts + advance - pkt->timestamp;
    }
    t->epoch_seq = pkt->seq;
    t->synced = true;
}

int pl_room__forward(pl_room_t *r, pl_room_member_t *sub, pl_room_track_t *t,
                     const pl_rtp_packet_t *pkt, int64_t arrival_ms, bool retransmit)
{
    pl_room_pub_t *p = t->src;
    uint8_t pt = t->pt_map[pkt->pt & 0x7F];

    if (pt == PL_ROOM_NO_PT) {
        r->stats.rtp_dropped_no_codec++;
        return -PL_ENOTFOUND;
    }
    if (!t->synced) {
        if (retransmit) return -PL_ENOTFOUND;
        track_sync(t, pkt, arrival_ms);
        if (t->video && pl_room__keyframe(r, p, false, arrival_ms) == 0)
            r->stats.keyframe_requests++;
    } else if ((int16_t)(uint16_t)(pkt->seq - t->epoch_seq) < 0) {
        return -PL_ENOTFOUND; /* sent before this publisher filled the slot */
    }
    uint16_t seq = (uint16_t)(pkt->seq + t->seq_off);
    uint32_t ts = pkt->timestamp + t->ts_off;
    uint8_t *buf = r->scratch;

    memcpy(buf, pkt->data, pkt->len);
    pl_rtp_set_ssrc(buf, pkt->len, t->ssrc);
    pl_rtp_set_seq(buf, pkt->len, seq);
    pl_rtp_set_timestamp(buf, pkt->len, ts);
    pl_rtp_set_pt(buf, pkt->len, pt);
    uint8_t ast = p->ext_id[PL_SDP_EXT_ABS_SEND_TIME];
    if (ast != 0 && t->ext_map[ast] != 0)
        pl_rtp_ext_set_abs_send_time(pkt, buf, ast, abs_send_time(arrival_ms));
    if (pl_rtp_ext_remap(pkt, buf, t->ext_map) < 0) return -PL_EINVAL;
    if (!t->started || (int16_t)(uint16_t)(seq - t->last_seq) > 0) {
        t->started = true;
        t->last_seq = seq;
        t->last_ts = ts;
        t->last_ms = arrival_ms;
        /* The epoch trails the newest packet, so the serial comparison above stays valid
         * however long the publisher fills the slot; 8192 back is far beyond anything SRTP
         * would still protect. */
        if ((uint16_t)(pkt->seq - t->epoch_seq) > EPOCH_TRAIL)
            t->epoch_seq = (uint16_t)(pkt->seq - EPOCH_TRAIL);
    }
    t->packets++;
    t->octets += (uint32_t)pkt->payload_len;
    int rc = pl_room__send(r, sub, buf, pkt->len, sizeof r->scratch, false);
    if (rc == 0 && !retransmit) r->stats.rtp_forwarded++;
    return rc;
}

/* p's numbering started afresh: each subscriber track continues its own from the next packet
 * (as when a new publisher fills it), and the ring's packets belong to the old numbering. */
static void pub_resync(pl_room_pub_t *p)
{
    pl_room_t *r = p->owner->room;

    pl_rtx_ring_clear(p->ring);
    for (int i = 0; i < PL_ROOM_MAX_MEMBERS; i++) {
        pl_room_member_t *s = r->members[i];
        for (int k = 0; s != NULL && k < s->n_tracks; k++)
            if (s->track[k].src == p) s->track[k].synced = false;
    }
}

/* A new SSRC on a stream: the browser restarted it. */
static void pub_restart(pl_room_pub_t *p, uint32_t ssrc)
{
    p->ssrc = ssrc;
    p->have_rtp = false;
    p->have_sr = false;
    pl_rtp_seq_init(&p->rx);
    pub_resync(p);
}

/* The member's stream that pkt belongs to: by SSRC, else by the mid extension (when the
 * offer declared no SSRC, or the browser changed it). */
static pl_room_pub_t *find_pub(pl_room_member_t *m, const pl_rtp_packet_t *pkt)
{
    for (int i = 0; i < PL_ROOM_PUB_COUNT; i++)
        if (m->pub[i].active && m->pub[i].ssrc != 0 && m->pub[i].ssrc == pkt->ssrc)
            return &m->pub[i];
    for (int i = 0; i < PL_ROOM_PUB_COUNT; i++) {
        pl_room_pub_t *p = &m->pub[i];
        uint8_t id = p->ext_id[PL_SDP_EXT_MID];
        char mid[PL_SDP_MID_MAX + 1];
        /* Only a media PT teaches an SSRC: an rtx packet carries the mid too. */
        if (!p->active || id == 0 || p->codec_of_pt[pkt->pt & 0x7F] == 0) continue;
        if (pkt->ssrc == 0 || pl_rtp_ext_get_mid(pkt, id, mid, sizeof mid) < 0) continue;
        if (strcmp(mid, m->mid[p->section]) != 0) continue;
        if (p->ssrc != pkt->ssrc) pub_restart(p, pkt->ssrc);
        return p;
    }
    return NULL;
}

/* The screen section carries one screen at a time: the first to share holds it until it goes
 * quiet. */
static bool claim_screen(pl_room_t *r, pl_room_member_t *m, int64_t now_ms)
{
    pl_room_member_t *h = r->screen;
    if (h == m) return true;
    if (h != NULL && now_ms - h->pub[PL_ROOM_PUB_SCREEN].last_rtp_ms < PL_ROOM_SCREEN_IDLE_MS)
        return false;
    r->screen = m;
    pl_room__assign(r);
    return true;
}

/* Takes the packet into p's statistics, speaker level and ring. Returns false for a packet to
 * hold back: the first after a jump in sequence numbers (RFC 3550 A.1), which is either a
 * stray or the start of a new numbering, confirmed by the next packet. Forwarding a stray
 * would move a subscriber's SRTP index so far that what follows would be refused as old. */
static bool receive(pl_room_t *r, pl_room_pub_t *p, const pl_rtp_packet_t *pkt, int64_t now_ms)
{
    uint32_t base = p->rx.base_seq, received = p->rx.received;
    bool started = p->rx.started;
    uint16_t behind = (uint16_t)(p->rx.max_seq - pkt->seq);

    p->have_rtp = true;
    p->last_rtp_ms = now_ms;
    /* A.1 takes a packet more than 100 late for a jump, and two in a row for a restart; but
     * a burst of retransmissions the room asked for upstream is exactly that. Such packets
     * are forwarded without being counted, as long as SRTP could still protect them. */
    bool late = started && behind > SEQ_MISORDER && behind <= PL_SRTP_REPLAY_WINDOW;
    if (!late) {
        if (pl_rtp_seq_update(&p->rx, pkt->seq) < 0) return false;
        if (started && (p->rx.base_seq != base || p->rx.received <= received)) pub_resync(p);
    }
    pl_rtp_seq_jitter(&p->rx, pkt->timestamp, (uint32_t)((uint64_t)now_ms * p->clock / 1000));
    uint8_t level_id = p->ext_id[PL_SDP_EXT_AUDIO_LEVEL];
    bool voice;
    uint8_t level;
    if (!p->video && level_id != 0 &&
        pl_rtp_ext_get_audio_level(pkt, level_id, &voice, &level) == 0)
        pl_speaker_level(&r->speaker, p->owner->index, level, now_ms);
    if (p->ring != NULL) pl_rtx_ring_put(p->ring, pkt->seq, pkt->data, pkt->len, now_ms);
    return true;
}

int pl_room_on_rtp(pl_room_t *r, pl_room_member_t *m, const uint8_t *buf, size_t len,
                   int64_t now_ms)
{
    pl_rtp_packet_t pkt;

    if (r == NULL || m == NULL || m->room != r || m->dead) return -PL_EINVAL;
    if (pl_rtp_parse(buf, len, &pkt) < 0) {
        r->stats.rtp_malformed++;
        return -PL_EINVAL;
    }
    pl_room_pub_t *p = find_pub(m, &pkt);
    if (p == NULL) {
        r->stats.rtp_unknown_ssrc++;
        return -PL_ENOTFOUND;
    }
    if (p == &m->pub[PL_ROOM_PUB_SCREEN] && !m->may_screen) {
        r->stats.rtp_not_allowed++;
        return -PL_EPERM;
    }
    pl_room__enter(r);
    bool fan_out = receive(r, p, &pkt, now_ms);
    if (fan_out && p == &m->pub[PL_ROOM_PUB_SCREEN]) fan_out = claim_screen(r, m, now_ms);
    for (int i = 0; fan_out && i < PL_ROOM_MAX_MEMBERS; i++) {
        pl_room_member_t *s = r->members[i];
        if (s == NULL || s == m) continue;
        for (int k = 0; k < s->n_tracks && !s->dead; k++)
            if (s->track[k].src == p) pl_room__forward(r, s, &s->track[k], &pkt, now_ms, false);
    }
    pl_room__exit(r);
    return 0;
}
