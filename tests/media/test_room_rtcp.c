/* Unit tests for media/room_rtcp.c: NACKs answered from the ring byte for byte or asked of
 * the publisher in its own numbering, a 5% loss run fully repaired, PLI/FIR relay at most once
 * a second, REMB as the smallest share of subscribers' estimates within the caps, the SR and
 * RR each tick writes (parsed back), RTCP consumed rather than relayed, and the active speaker
 * with its hysteresis. Same harness as test_room.c (tests/support/room_harness.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tests/support/room_harness.h"

#define NTP_OFFSET_MS 1700000000000LL

static int setup(void **state)
{
    pl_rh_t *h = calloc(1, sizeof *h);
    pl_room_config_t cfg = {.ntp_offset_ms = NTP_OFFSET_MS};
    if (h == NULL || pl_rh_create(h, &cfg) < 0) return -1;
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    pl_rh_destroy(*state);
    free(*state);
    return 0;
}

static void join(pl_rh_t *h, int who)
{
    pl_rh_spec_t s = pl_rh_spec(who);
    assert_int_equal(pl_rh_join(h, who, &s, false, false), 0);
}

static void send_ok(pl_rh_t *h, int who, int section, uint16_t seq, uint32_t ts, int64_t now)
{
    pl_rh_rtp_t o = {.section = section, .seq = seq, .ts = ts, .level = 40, .payload = 100};
    assert_int_equal(pl_rh_send(h, who, &o, now), 0);
}

static pl_room_stats_t stats(pl_rh_t *h)
{
    pl_room_stats_t s;
    pl_room_stats(h->room, &s);
    return s;
}

/* Member who sends an RR followed by a NACK for seqs of the stream it receives as ssrc. */
static void nack(pl_rh_t *h, int who, uint32_t ssrc, const uint16_t *seqs, size_t n, int64_t now)
{
    uint8_t buf[512];
    pl_rtcp_writer_t w;
    pl_rtcp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(pl_rtcp_write_rr(&w, 0x5B5B5B5B, NULL, 0), 0);
    assert_int_equal(pl_rtcp_write_nack(&w, 0x5B5B5B5B, ssrc, seqs, n), 0);
    assert_int_equal(pl_room_on_rtcp(h->room, h->peer[who].member, buf, w.len, now), 0);
}

static void pli(pl_rh_t *h, int who, uint32_t ssrc, bool fir, uint8_t fir_seq, int64_t now)
{
    uint8_t buf[64];
    pl_rtcp_writer_t w;
    pl_rtcp_fir_entry_t e = {.ssrc = ssrc, .seq_nr = fir_seq};
    pl_rtcp_writer_init(&w, buf, sizeof buf);
    pl_rtcp_write_rr(&w, 0x5B5B5B5B, NULL, 0);
    if (fir)
        pl_rtcp_write_fir(&w, 0x5B5B5B5B, &e, 1);
    else
        pl_rtcp_write_pli(&w, 0x5B5B5B5B, ssrc);
    assert_int_equal(pl_room_on_rtcp(h->room, h->peer[who].member, buf, w.len, now), 0);
}

static void remb(pl_rh_t *h, int who, uint64_t bps, int64_t now)
{
    uint8_t buf[64];
    pl_rtcp_writer_t w;
    uint32_t ssrc = pl_rh_slot_ssrc(h, who, 1);
    pl_rtcp_writer_init(&w, buf, sizeof buf);
    pl_rtcp_write_rr(&w, 0x5B5B5B5B, NULL, 0);
    pl_rtcp_write_remb(&w, 0x5B5B5B5B, bps, &ssrc, 1);
    assert_int_equal(pl_room_on_rtcp(h->room, h->peer[who].member, buf, w.len, now), 0);
}

/* The index in who's capture of the RTP packet with this ssrc and seq; fails if absent. */
static size_t captured(const pl_rh_t *h, int who, uint32_t ssrc, uint16_t seq)
{
    const pl_rh_peer_t *p = &h->peer[who];
    for (size_t i = 0; i < p->n && i < PL_RH_CAPTURE; i++) {
        pl_rtp_packet_t pkt;
        if (p->pkts[i].rtcp || pl_rtp_parse(p->pkts[i].data, p->pkts[i].len, &pkt) < 0) continue;
        if (pkt.ssrc == ssrc && pkt.seq == seq) return i;
    }
    fail_msg("no packet %u on %08x", seq, ssrc);
    return 0;
}

/* The lost seqs of the next NACK member who received, in the order written. */
static size_t upstream_nack(const pl_rh_t *h, int who, size_t *from, uint32_t *media,
                            uint16_t *seqs, size_t cap)
{
    pl_rtcp_packet_t p;
    pl_rtcp_fb_t fb;
    pl_rtcp_nack_iter_t it;
    size_t n = 0;
    if (pl_rh_find_rtcp(h, who, PL_RTCP_RTPFB, PL_RTCP_FMT_NACK, from, &p) < 0) return 0;
    assert_int_equal(pl_rtcp_fb_parse(&p, &fb), 0);
    *media = fb.media_ssrc;
    assert_int_equal(pl_rtcp_nack_iter_init(&it, &fb), 0);
    while (n < cap && pl_rtcp_nack_next(&it, &seqs[n]) == 0)
        n++;
    return n;
}

/* ---- NACK ---- */

static void test_nack_is_answered_from_the_ring_with_the_same_bytes(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    uint32_t slot = pl_rh_slot_ssrc(h, 1, 1);
    for (int i = 0; i < 20; i++)
        send_ok(h, 0, 1, (uint16_t)(1 + i), 3000u * (uint32_t)i, 1000 + 10 * i);
    size_t at5 = captured(h, 1, slot, 5), at6 = captured(h, 1, slot, 6);
    size_t before = h->peer[1].n;

    uint16_t lost[] = {5, 6};
    nack(h, 1, slot, lost, 2, 1300);
    assert_int_equal(h->peer[1].n, before + 2);
    const pl_rh_pkt_t *re5 = &h->peer[1].pkts[before], *re6 = &h->peer[1].pkts[before + 1];
    /* SRTP may protect a sequence number twice only with the very same packet. */
    assert_int_equal(re5->len, h->peer[1].pkts[at5].len);
    assert_memory_equal(re5->data, h->peer[1].pkts[at5].data, re5->len);
    assert_int_equal(re6->len, h->peer[1].pkts[at6].len);
    assert_memory_equal(re6->data, h->peer[1].pkts[at6].data, re6->len);
    pl_room_stats_t st = stats(h);
    assert_int_equal(st.nack_received, 2);
    assert_int_equal(st.nack_answered_from_ring, 2);
    assert_int_equal(st.nack_sent_upstream, 0);
    size_t from = 0;
    uint32_t media;
    uint16_t seqs[8];
    assert_int_equal(upstream_nack(h, 0, &from, &media, seqs, 8), 0);
    /* Nothing for a packet not sent yet, nor for an SSRC the member does not receive. */
    uint16_t future[] = {21};
    nack(h, 1, slot, future, 1, 1310);
    nack(h, 1, 0x0BADF00D, lost, 2, 1320);
    assert_int_equal(h->peer[1].n, before + 2);
    assert_int_equal(stats(h).nack_sent_upstream, 0);
    /* One NACK naming every packet is read only so far: the room does not resend its ring
     * wholesale for one small RTCP packet. */
    static uint16_t all[1000];
    for (int i = 0; i < 1000; i++)
        all[i] = (uint16_t)(1 + i % 20);
    uint64_t asked = stats(h).nack_received;
    nack(h, 1, slot, all, 1000, 1330);
    assert_int_equal(stats(h).nack_received - asked, 128);
}

static void test_nack_for_a_packet_missing_from_the_ring_goes_upstream_once(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    uint32_t slot = pl_rh_slot_ssrc(h, 0, 1);
    for (int i = 0; i < 6; i++)
        send_ok(h, 1, 1, (uint16_t)(500 + i), 0, 1000 + i);
    pl_rh_leave(h, 1);
    /* The rejoined member numbers from 30000; member 0 sees it continue from 506. Its 30004
     * is lost before reaching the SFU. */
    join(h, 3);
    for (int i = 0; i < 11; i++)
        if (i != 4) send_ok(h, 3, 1, (uint16_t)(30000 + i), 90u * (uint32_t)i, 2000 + 10 * i);
    pl_rh_clear(h);

    uint16_t lost[] = {505, 507, 510, 520};
    nack(h, 0, slot, lost, 4, 2200);
    /* 505 was the previous publisher's, 520 not sent yet, 507 is in the ring. */
    assert_int_equal(pl_rh_count(h, 0, false), 1);
    captured(h, 0, slot, 507);
    size_t from = 0;
    uint32_t media = 0;
    uint16_t seqs[8];
    assert_int_equal(upstream_nack(h, 3, &from, &media, seqs, 8), 1);
    assert_int_equal(media, pl_rh_spec(3).ssrc[1]);
    assert_int_equal(seqs[0], 30004);
    assert_int_equal(stats(h).nack_sent_upstream, 1);
    /* Asked again within 200 ms: not again upstream; later, yes. */
    uint16_t again[] = {510};
    nack(h, 0, slot, again, 1, 2300);
    assert_int_equal(upstream_nack(h, 3, &from, &media, seqs, 8), 0);
    nack(h, 0, slot, again, 1, 2450);
    assert_int_equal(upstream_nack(h, 3, &from, &media, seqs, 8), 1);
    assert_int_equal(seqs[0], 30004);
    /* The publisher's retransmission reaches the subscriber under the slot's numbering. */
    send_ok(h, 3, 1, 30004, 360, 2460);
    captured(h, 0, slot, 510);
    pl_room_stats_t st = stats(h);
    assert_int_equal(st.nack_received, 6);
    assert_int_equal(st.nack_answered_from_ring, 1);
    assert_int_equal(st.nack_sent_upstream, 2);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void test_five_percent_loss_is_repaired_entirely_from_the_ring(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    uint32_t slot = pl_rh_slot_ssrc(h, 1, 1), seed = 42;
    size_t n_lost = 0, repaired = 0;
    uint16_t batch[64];
    size_t n_batch = 0;

    for (int i = 0; i < 2000; i++) {
        int64_t now = 1000 + 10 * i;
        pl_rh_rtp_t o = {
            .section = 1, .seq = (uint16_t)(60000 + i), .ts = 3000u * (uint32_t)i, .payload = 1000};
        size_t before = h->peer[1].n;
        assert_int_equal(pl_rh_send(h, 0, &o, now), 0);
        assert_int_equal(h->peer[1].n, before + 1);
        /* The network to member 1 drops one packet in twenty. */
        if (lcg(&seed) % 20 == 0) {
            n_lost++;
            batch[n_batch++] = (uint16_t)(60000 + i);
        }
        /* Chrome NACKs a loss once it sees a later packet; here, every 100 ms. */
        if (i % 10 == 9 && n_batch > 0) {
            size_t mark = h->peer[1].n;
            nack(h, 1, slot, batch, n_batch, now);
            assert_int_equal(h->peer[1].n, mark + n_batch);
            for (size_t k = 0; k < n_batch; k++) {
                const pl_rh_pkt_t *re = &h->peer[1].pkts[mark + k];
                size_t first = captured(h, 1, slot, batch[k]);
                assert_int_equal(re->len, h->peer[1].pkts[first].len);
                assert_memory_equal(re->data, h->peer[1].pkts[first].data, re->len);
                repaired++;
            }
            n_batch = 0;
        }
        /* Keep the capture from filling up, between batches so every loss is still in it. */
        if (n_batch == 0 && h->peer[1].n > PL_RH_CAPTURE - 200) pl_rh_clear(h);
    }
    assert_true(n_lost > 60 && n_lost < 140);
    assert_int_equal(repaired + n_batch, n_lost);
    pl_room_stats_t st = stats(h);
    assert_int_equal(st.nack_answered_from_ring, repaired);
    assert_int_equal(st.nack_sent_upstream, 0);
}

/* ---- PLI and FIR ---- */

static void test_pli_and_fir_reach_the_publisher_at_most_once_a_second(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    join(h, 2);
    send_ok(h, 0, 1, 1, 0, 1000); /* fills 1's and 2's slot A: one keyframe request */
    pl_room_stats_t st = stats(h);
    assert_int_equal(st.keyframe_requests, 1);
    assert_int_equal(st.pli_rate_limited, 1);
    pl_rh_clear(h);

    uint32_t cam = pl_rh_spec(0).ssrc[1];
    pli(h, 1, pl_rh_slot_ssrc(h, 1, 1), false, 0, 3000);
    pli(h, 2, pl_rh_slot_ssrc(h, 2, 1), false, 0, 3300);
    pli(h, 2, pl_rh_slot_ssrc(h, 2, 0), false, 0, 3400); /* an audio slot: ignored */
    size_t from = 0;
    pl_rtcp_packet_t p;
    pl_rtcp_fb_t fb;
    assert_int_equal(pl_rh_find_rtcp(h, 0, PL_RTCP_PSFB, PL_RTCP_FMT_PLI, &from, &p), 0);
    assert_int_equal(pl_rtcp_fb_parse(&p, &fb), 0);
    assert_int_equal(fb.media_ssrc, cam);
    assert_int_equal(pl_rh_find_rtcp(h, 0, PL_RTCP_PSFB, PL_RTCP_FMT_PLI, &from, &p), -1);
    st = stats(h);
    assert_int_equal(st.pli_relayed, 1);
    assert_int_equal(st.pli_rate_limited, 2);
    assert_int_equal(pl_rh_count(h, 1, true) + pl_rh_count(h, 2, true), 0);

    /* A FIR goes on as a FIR, with the room's own command sequence number per stream. */
    pli(h, 2, pl_rh_slot_ssrc(h, 2, 1), true, 77, 4100);
    pli(h, 1, pl_rh_slot_ssrc(h, 1, 1), true, 3, 5200);
    pl_rtcp_fir_entry_t e1, e2;
    from = 0;
    assert_int_equal(pl_rh_find_rtcp(h, 0, PL_RTCP_PSFB, PL_RTCP_FMT_FIR, &from, &p), 0);
    assert_int_equal(pl_rtcp_fb_parse(&p, &fb), 0);
    assert_int_equal(pl_rtcp_fir_entry(&fb, 0, &e1), 0);
    assert_int_equal(pl_rh_find_rtcp(h, 0, PL_RTCP_PSFB, PL_RTCP_FMT_FIR, &from, &p), 0);
    assert_int_equal(pl_rtcp_fb_parse(&p, &fb), 0);
    assert_int_equal(pl_rtcp_fir_entry(&fb, 0, &e2), 0);
    assert_int_equal(e1.ssrc, cam);
    assert_int_equal(e2.ssrc, cam);
    assert_int_equal(e2.seq_nr, (uint8_t)(e1.seq_nr + 1));
    assert_int_equal(stats(h).pli_relayed, 3);
}

/* ---- REMB ---- */

/* The bitrate of the last REMB member who received, or 0. */
static uint64_t last_remb(const pl_rh_t *h, int who, uint32_t *ssrc0)
{
    size_t from = 0;
    pl_rtcp_packet_t p;
    pl_rtcp_fb_t fb;
    pl_rtcp_remb_t r = {0};
    while (pl_rh_find_rtcp(h, who, PL_RTCP_PSFB, PL_RTCP_FMT_AFB, &from, &p) == 0) {
        assert_int_equal(pl_rtcp_fb_parse(&p, &fb), 0);
        assert_int_equal(pl_rtcp_remb_parse(&fb, &r), 0);
        if (ssrc0 != NULL) *ssrc0 = pl_rtcp_remb_ssrc(&r, 0);
    }
    return r.bitrate;
}

static void test_remb_is_the_smallest_share_within_the_caps(void **state)
{
    pl_rh_t *h = *state;
    uint32_t ssrc = 0;
    join(h, 0);
    join(h, 1);
    send_ok(h, 0, 1, 1, 0, 900);
    send_ok(h, 1, 1, 1, 0, 900);
    pl_room_tick(h->room, 1000);
    pl_rh_clear(h);
    /* Nobody has estimated anything: the camera cap. */
    pl_room_tick(h->room, 2000);
    assert_int_equal(last_remb(h, 0, &ssrc), PL_ROOM_CAMERA_MAX_BPS);
    assert_int_equal(ssrc, pl_rh_spec(0).ssrc[1]);
    assert_int_equal(stats(h).remb_sent, 2);

    /* Member 1's estimate is consumed, not relayed, and bounds member 0 at the next report. */
    pl_rh_clear(h);
    remb(h, 1, 800000, 2500);
    assert_int_equal(pl_rh_count(h, 0, true), 0);
    pl_room_tick(h->room, 3000);
    assert_int_equal(last_remb(h, 0, NULL), 800000);
    assert_int_equal(last_remb(h, 1, NULL), PL_ROOM_CAMERA_MAX_BPS);
    pl_rh_clear(h);
    remb(h, 1, 10000000, 3500);
    pl_room_tick(h->room, 4000);
    assert_int_equal(last_remb(h, 0, NULL), PL_ROOM_CAMERA_MAX_BPS);
    pl_rh_clear(h);
    remb(h, 1, 50000, 4500);
    pl_room_tick(h->room, 5000);
    assert_int_equal(last_remb(h, 0, NULL), PL_ROOM_MIN_BPS);

    /* Three people: each estimate covers two videos. 2 Mbit/s over two is 1 Mbit/s; 600
     * kbit/s over two is 300 kbit/s, the smaller. */
    join(h, 2);
    send_ok(h, 2, 1, 1, 0, 5100);
    send_ok(h, 0, 1, 2, 3000, 5100);
    send_ok(h, 1, 1, 2, 3000, 5100);
    remb(h, 1, 2000000, 5500);
    remb(h, 2, 600000, 5500);
    pl_rh_clear(h);
    pl_room_tick(h->room, 6000);
    assert_int_equal(last_remb(h, 0, NULL), 300000);
    assert_int_equal(last_remb(h, 2, NULL), 1000000);
}

static void test_remb_for_camera_and_screen_adds_their_caps(void **state)
{
    pl_rh_t *h = *state;
    pl_rh_spec_t s0 = pl_rh_spec(0);
    pl_room_config_t cfg = {.camera_max_bps = 1000000, .screen_max_bps = 2000000};
    pl_room_destroy(h->room);
    assert_int_equal(pl_room_create(&cfg, &h->room), 0);
    assert_int_equal(pl_rh_join(h, 0, &s0, true, true), 0);
    join(h, 1);
    send_ok(h, 0, 1, 1, 0, 900);
    send_ok(h, 0, 4, 1, 0, 900);
    pl_room_tick(h->room, 1000);
    pl_room_tick(h->room, 2000);
    assert_int_equal(last_remb(h, 0, NULL), 3000000);
}

/* ---- SR and RR ---- */

static uint64_t ntp_of(int64_t ms)
{
    return ((uint64_t)(ms / 1000) + 2208988800u) << 32 | ((uint64_t)(ms % 1000) << 32) / 1000;
}

static void test_tick_writes_sr_per_slot_and_rr_per_published_stream(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    pl_room_tick(h->room, 1000);
    /* 100 camera packets, one lost upstream, 3000 ticks (33 ms) apart sent every 10 ms. */
    for (int i = 1; i <= 100; i++)
        if (i != 50) send_ok(h, 0, 1, (uint16_t)i, 3000u * (uint32_t)i, 1000 + 10 * i);
    uint8_t buf[64];
    pl_rtcp_writer_t w;
    uint64_t sr_ntp = 0x1122334455667788ull;
    pl_rtcp_sender_info_t si = {.ssrc = pl_rh_spec(0).ssrc[1],
                                .ntp = sr_ntp,
                                .rtp_ts = 400000,
                                .packet_count = 100,
                                .octet_count = 10000};
    pl_rtcp_writer_init(&w, buf, sizeof buf);
    pl_rtcp_write_sr(&w, &si, NULL, 0);
    assert_int_equal(pl_room_on_rtcp(h->room, h->peer[0].member, buf, w.len, 1995), 0);
    pl_rh_clear(h);
    pl_room_tick(h->room, 2000);

    /* Member 1 hears an SR for the slot, in the slot's SSRC and time line. */
    size_t from = 0;
    pl_rtcp_packet_t p;
    pl_rtcp_report_t rep;
    pl_rtcp_rb_t rb;
    assert_int_equal(pl_rh_find_rtcp(h, 1, PL_RTCP_SR, -1, &from, &p), 0);
    assert_int_equal(pl_rtcp_report_parse(&p, &rep), 0);
    assert_true(rep.is_sr);
    assert_int_equal(rep.info.ssrc, pl_rh_slot_ssrc(h, 1, 1));
    assert_int_equal(rep.info.ntp, ntp_of(NTP_OFFSET_MS + 2000));
    assert_int_equal(rep.info.rtp_ts, 400000 + 5 * 90);
    assert_int_equal(rep.info.packet_count, 99);
    assert_int_equal(rep.info.octet_count, 99 * 100);
    assert_int_equal(rep.rb_count, 0);
    assert_int_equal(pl_rh_find_rtcp(h, 1, PL_RTCP_SR, -1, &from, &p), -1); /* one slot used */
    from = 0;
    assert_int_equal(pl_rh_find_rtcp(h, 1, PL_RTCP_RR, -1, &from, &p), -1); /* publishes none */

    /* Member 0 hears an RR about its camera. */
    from = 0;
    assert_int_equal(pl_rh_find_rtcp(h, 0, PL_RTCP_RR, -1, &from, &p), 0);
    assert_int_equal(pl_rtcp_report_parse(&p, &rep), 0);
    assert_int_equal(rep.rb_count, 1);
    assert_int_equal(pl_rtcp_report_block(&rep, 0, &rb), 0);
    assert_int_equal(rb.ssrc, pl_rh_spec(0).ssrc[1]);
    assert_int_equal(rb.ext_highest_seq, 100);
    assert_int_equal(rb.cumulative_lost, 1);
    assert_int_equal(rb.fraction_lost, 256 / 100);
    assert_int_equal(rb.lsr, 0x33445566);
    assert_int_equal(rb.dlsr, 5 * 65536 / 1000);
    /* Packets 33 ms apart in media time arriving 10 ms apart: the estimate converges on a
     * transit change of 2100 ticks (23.3 ms) a packet. */
    assert_in_range(rb.jitter, 1800, 2400);
    pl_room_stats_t st = stats(h);
    assert_int_equal(st.sr_sent, 1);
    assert_int_equal(st.rr_sent, 1);
    /* Nothing before the next second. */
    pl_rh_clear(h);
    pl_room_tick(h->room, 2900);
    assert_int_equal(pl_rh_count(h, 0, true) + pl_rh_count(h, 1, true), 0);
}

static void test_rtcp_from_members_is_consumed_not_relayed(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    send_ok(h, 0, 1, 1, 0, 1000);
    send_ok(h, 1, 1, 1, 0, 1000);
    pl_rh_clear(h);
    uint8_t buf[256];
    pl_rtcp_writer_t w;
    pl_rtcp_rb_t rb = {.ssrc = pl_rh_slot_ssrc(h, 1, 1), .ext_highest_seq = 1};
    pl_rtcp_sender_info_t si = {.ssrc = pl_rh_spec(1).ssrc[1], .ntp = 1ull << 32};
    pl_rtcp_writer_init(&w, buf, sizeof buf);
    pl_rtcp_write_sr(&w, &si, &rb, 1);
    pl_rtcp_write_sdes_cname(&w, si.ssrc, "rhcname", 7);
    pl_rtcp_write_remb(&w, si.ssrc, 500000, &rb.ssrc, 1);
    pl_rtcp_write_pli(&w, si.ssrc, 0x0BADF00D); /* not a slot of member 1 */
    assert_int_equal(pl_room_on_rtcp(h->room, h->peer[1].member, buf, w.len, 1100), 0);
    assert_int_equal(pl_rh_count(h, 0, true), 0);
    assert_int_equal(pl_rh_count(h, 1, true), 0);
    assert_int_equal(stats(h).pli_relayed, 0);
}

/* ---- active speaker ---- */

/* 20 ms of audio from each of members 0..2 at these levels (-dBov), then a tick. */
static void talk(pl_rh_t *h, const uint8_t level[3], int64_t *now, int ms)
{
    static uint16_t seq;
    for (int t = 0; t < ms; t += 20) {
        for (int who = 0; who < 3; who++) {
            pl_rh_rtp_t o = {.section = 0, .seq = seq, .ts = 960u * seq, .level = level[who]};
            assert_int_equal(pl_rh_send(h, who, &o, *now), 0);
        }
        seq++;
        *now += 20;
        pl_room_tick(h->room, *now);
    }
}

static void test_active_speaker_changes_only_after_leading_for_half_a_second(void **state)
{
    pl_rh_t *h = *state;
    int64_t now = 1000;
    static const uint8_t zero_talks[3] = {30, 127, 127}, one_louder[3] = {30, 10, 127};
    static const uint8_t all_quiet[3] = {127, 127, 127}, two_talks[3] = {127, 127, 25};
    join(h, 0);
    join(h, 1);
    join(h, 2);

    talk(h, zero_talks, &now, 480);
    assert_int_equal(h->speaker_events, 0);
    talk(h, zero_talks, &now, 60);
    assert_int_equal(h->speaker_events, 1);
    assert_ptr_equal(h->last_speaker, &h->peer[0]);
    /* Member 1 talks over member 0 for 700 ms: loudest for only part of it, not 500 ms. */
    talk(h, one_louder, &now, 700);
    talk(h, zero_talks, &now, 500);
    assert_int_equal(h->speaker_events, 1);
    /* Long enough, and the floor moves. */
    talk(h, one_louder, &now, 1500);
    assert_int_equal(h->speaker_events, 2);
    assert_ptr_equal(h->last_speaker, &h->peer[1]);
    /* Silence keeps the last speaker. */
    talk(h, all_quiet, &now, 2000);
    assert_int_equal(h->speaker_events, 2);
    talk(h, two_talks, &now, 1000);
    assert_int_equal(h->speaker_events, 3);
    assert_ptr_equal(h->last_speaker, &h->peer[2]);
    /* The speaker leaving is no event; whoever then leads is. */
    pl_rh_leave(h, 2);
    int64_t t = now;
    for (int i = 0; i < 50; i++) {
        pl_rh_rtp_t o = {.section = 0, .seq = (uint16_t)(5000 + i), .level = 20};
        assert_int_equal(pl_rh_send(h, 0, &o, t), 0);
        t += 20;
        pl_room_tick(h->room, t);
    }
    assert_int_equal(h->speaker_events, 4);
    assert_ptr_equal(h->last_speaker, &h->peer[0]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_nack_is_answered_from_the_ring_with_the_same_bytes),
        T(test_nack_for_a_packet_missing_from_the_ring_goes_upstream_once),
        T(test_five_percent_loss_is_repaired_entirely_from_the_ring),
        T(test_pli_and_fir_reach_the_publisher_at_most_once_a_second),
        T(test_remb_is_the_smallest_share_within_the_caps),
        T(test_remb_for_camera_and_screen_adds_their_caps),
        T(test_tick_writes_sr_per_slot_and_rr_per_published_stream),
        T(test_rtcp_from_members_is_consumed_not_relayed),
        T(test_active_speaker_changes_only_after_leading_for_half_a_second),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
