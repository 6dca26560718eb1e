/* Unit tests for media/room.c: slot assignment as members come and go, RTP rewriting (SSRC,
 * sequence, timestamp, payload type, extension ids) checked byte for byte, continuity across a
 * publisher who leaves and rejoins, codec mapping, SSRC learning from the mid, the screen-share
 * slot, hostile input, removal from inside a callback, and a count of allocations on the packet
 * paths (zero).
 *
 * RTCP (NACK, PLI/FIR, REMB, SR/RR) and the active speaker are in test_room_rtcp.c. Both use
 * the in-memory harness of tests/support/room_harness.c: members 0, 1 and 2 are browsers with
 * different payload types, extension ids and SSRCs; 3 is member 1 rejoining with new SSRCs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tests/support/room_harness.h"

/* ---- counting allocations ----
 * The test binary defines malloc, calloc and realloc, which the dynamic linker then uses for
 * the whole process (libc, OpenSSL, libparley alike), and forwards them to glibc's. Under
 * AddressSanitizer, whose allocator must see every block, the count is skipped. */
#if defined(__SANITIZE_ADDRESS__)
#define NO_ALLOC_COUNT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_ALLOC_COUNT 1
#endif
#endif

#ifndef NO_ALLOC_COUNT
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static volatile bool counting; /* volatile: the compiler assumes malloc reads no globals */
static volatile size_t allocations;

void *malloc(size_t n)
{
    if (counting) allocations++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (counting) allocations++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (counting) allocations++;
    return __libc_realloc(p, n);
}
#endif

/* ---- helpers ---- */

static int setup(void **state)
{
    pl_rh_t *h = calloc(1, sizeof *h);
    if (h == NULL || pl_rh_create(h, NULL) < 0) return -1;
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
    pl_rh_rtp_t o = {.section = section, .seq = seq, .ts = ts, .level = 40};
    assert_int_equal(pl_rh_send(h, who, &o, now), 0);
}

/* Asserts that subscriber sub received exactly one RTP packet, on section's SSRC. */
static void expect_one_on(pl_rh_t *h, int sub, int section)
{
    pl_rtp_packet_t pkt;
    assert_int_equal(pl_rh_count(h, sub, false), 1);
    assert_non_null(pl_rh_last_rtp(h, sub, pl_rh_slot_ssrc(h, sub, section), &pkt));
}

static pl_room_stats_t stats(pl_rh_t *h)
{
    pl_room_stats_t s;
    pl_room_stats(h->room, &s);
    return s;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- forwarding ---- */

static void test_two_members_exchange_audio_and_video_rewritten_byte_for_byte(void **state)
{
    pl_rh_t *h = *state;
    uint8_t in[PL_RTP_MAX_LEN];
    pl_rh_rtp_t o = {.section = 0, .seq = 1000, .ts = 5000, .level = 30};
    join(h, 0);
    join(h, 1);

    /* Member 0's microphone: opus 111, level id 1, mid id 4; member 1 knows opus as 109 and
     * the level as id 10, and must see Parley's SSRC for its section 0 with no mid. */
    size_t n = pl_rh_rtp(h, 0, &o, in, sizeof in);
    static const uint8_t head[] = {0x90, 0x6F, 0x03, 0xE8, 0x00, 0x00, 0x13, 0x88,      0xA0, 0x00,
                                   0x00, 0x01, 0xBE, 0xDE, 0x00, 0x01, 0x10, 0x80 | 30, 0x40, '0'};
    assert_memory_equal(in, head, sizeof head);
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[0].member, in, n, 10000), 0);
    assert_int_equal(pl_rh_count(h, 1, false), 1);
    const pl_rh_pkt_t *got = &h->peer[1].pkts[0];
    uint32_t s = pl_rh_slot_ssrc(h, 1, 0);
    uint8_t want[PL_RTP_MAX_LEN];
    memcpy(want, in, n);
    want[1] = 109;
    want[8] = (uint8_t)(s >> 24), want[9] = (uint8_t)(s >> 16);
    want[10] = (uint8_t)(s >> 8), want[11] = (uint8_t)s;
    want[16] = 0xA0;         /* level: id 10, one byte */
    want[18] = want[19] = 0; /* mid blanked to padding */
    assert_int_equal(got->len, n);
    assert_memory_equal(got->data, want, n);
    assert_int_equal(pl_rh_count(h, 0, false), 0); /* nothing echoed to the sender */

    /* Member 0's camera: VP8 96 -> 120, abs-send-time id 2 -> 11 and restamped with the time
     * the room received it, mid blanked, padding kept. */
    o = (pl_rh_rtp_t){.section = 1, .seq = 7, .ts = 90000, .marker = true};
    n = pl_rh_rtp(h, 0, &o, in, sizeof in);
    static const uint8_t vhead[] = {0x90, 0x80 | 96, 0x00, 0x07, 0x00, 0x01, 0x5F, 0x90,
                                    0xA0, 0x00,      0x00, 0x02, 0xBE, 0xDE, 0x00, 0x02,
                                    0x22, 0x12,      0x34, 0x56, 0x40, '1',  0x00, 0x00};
    assert_memory_equal(in, vhead, sizeof vhead);
    pl_rh_clear(h);
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[0].member, in, n, 10020), 0);
    assert_int_equal(pl_rh_count(h, 1, false), 1);
    got = &h->peer[1].pkts[0];
    s = pl_rh_slot_ssrc(h, 1, 1);
    uint32_t ast = (uint32_t)(((uint64_t)10020 << 18) / 1000) & 0xFFFFFF;
    memcpy(want, in, n);
    want[1] = 0x80 | 120;
    want[8] = (uint8_t)(s >> 24), want[9] = (uint8_t)(s >> 16);
    want[10] = (uint8_t)(s >> 8), want[11] = (uint8_t)s;
    want[16] = 0xB2;
    want[17] = (uint8_t)(ast >> 16), want[18] = (uint8_t)(ast >> 8), want[19] = (uint8_t)ast;
    want[20] = want[21] = 0;
    assert_int_equal(got->len, n);
    assert_memory_equal(got->data, want, n);

    /* And back: member 1's opus 109 / level id 10 become member 0's 111 / id 1. */
    pl_rh_clear(h);
    send_ok(h, 1, 0, 50, 960, 10040);
    pl_rtp_packet_t pkt;
    assert_non_null(pl_rh_last_rtp(h, 0, pl_rh_slot_ssrc(h, 0, 0), &pkt));
    assert_int_equal(pkt.pt, 111);
    assert_int_equal(pkt.seq, 50);
    assert_int_equal(pkt.timestamp, 960);
    bool voice;
    uint8_t level;
    assert_int_equal(pl_rtp_ext_get_audio_level(&pkt, 1, &voice, &level), 0);
    assert_int_equal(level, 40);
    assert_int_equal(stats(h).rtp_forwarded, 3);
}

static void test_one_to_one_call_from_real_chromium_offers(void **state)
{
    pl_rh_t *h = *state;
    static char text[PL_SDP_MAX_TEXT];
    FILE *f = fopen("tests/media/fixtures/chromium_sendrecv.sdp", "rb");
    if (f == NULL) skip(); /* make unit runs tests from the repository root */
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);

    /* Two browsers with Chromium's own two-section offer: slot A alone, nothing else. */
    assert_int_equal(pl_rh_join_text(h, 0, text, n, false, false), 0);
    assert_int_equal(pl_rh_join_text(h, 1, text, n, false, false), 0);
    assert_int_equal(h->peer[1].neg.n_sections, 2);
    uint8_t buf[200], lvl = 0x80 | 20;
    size_t len;
    pl_rtp_ext_t ext[] = {{1, 1, &lvl}, {4, 1, (const uint8_t *)"0"}};
    /* The fixture's a=ssrc for its microphone, and opus 111 with level id 1 and mid id 4. */
    pl_rtp_header_t hd = {
        .pt = 111, .seq = 1, .timestamp = 960, .ssrc = 2886586202u, .exts = ext, .ext_count = 2};
    assert_int_equal(pl_rtp_write(&hd, (const uint8_t *)"opus", 4, buf, sizeof buf, &len), 0);
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[0].member, buf, len, 1000), 0);
    pl_rtp_packet_t pkt;
    assert_non_null(pl_rh_last_rtp(h, 1, pl_rh_slot_ssrc(h, 1, 0), &pkt));
    assert_int_equal(pkt.pt, 111);
    assert_int_equal(pl_rtp_ext_find(&pkt, 4, &ext[0]), -PL_ENOTFOUND); /* mid blanked */
    assert_int_equal(pl_rh_count(h, 0, false), 0);
    /* Its camera (a=ssrc-group:FID's first SSRC), VP8 96. */
    hd = (pl_rtp_header_t){.pt = 96, .seq = 9, .timestamp = 3000, .ssrc = 1676914129u};
    assert_int_equal(pl_rtp_write(&hd, (const uint8_t *)"vp8!", 4, buf, sizeof buf, &len), 0);
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[1].member, buf, len, 1010), 0);
    assert_non_null(pl_rh_last_rtp(h, 0, pl_rh_slot_ssrc(h, 0, 1), &pkt));
    assert_int_equal(pkt.pt, 96);
    assert_int_equal(pkt.seq, 9);
}

/* ---- slots ---- */

/* Every publisher's voice and camera reach every subscriber on the sections of the slot the
 * subscriber gave it: want[sub][pub] is that slot's first section (0 or 2), -1 for none. */
static void expect_slots(pl_rh_t *h, const int want[4][4], int64_t now)
{
    for (int pub = 0; pub < PL_RH_PEERS; pub++) {
        if (!h->peer[pub].joined) continue;
        for (int kind = 0; kind < 2; kind++) {
            pl_rh_clear(h);
            send_ok(h, pub, kind, (uint16_t)(100 + now), (uint32_t)(1000 * now), now);
            for (int sub = 0; sub < PL_RH_PEERS; sub++) {
                if (sub == pub || !h->peer[sub].joined) continue;
                if (want[sub][pub] < 0) {
                    assert_int_equal(pl_rh_count(h, sub, false), 0);
                    continue;
                }
                expect_one_on(h, sub, want[sub][pub] + kind);
            }
            now++;
        }
    }
}

static void test_third_member_fills_slot_b_for_each_member(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    static const int two[4][4] = {{-1, 0, -1, -1}, {0, -1, -1, -1}};
    expect_slots(h, two, 1000);
    join(h, 2);
    /* Slot A: the first other member by join order; slot B: the second. */
    static const int three[4][4] = {{-1, 0, 2, -1}, {0, -1, 2, -1}, {0, 2, -1, -1}};
    expect_slots(h, three, 2000);
}

static void test_slots_are_sticky_and_a_freed_slot_is_filled_by_the_next_to_join(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    join(h, 2);
    pl_rh_leave(h, 1);
    /* Member 2 stays on slot B for member 0 rather than jumping to the freed slot A. Rows are
     * subscribers, columns publishers (row 1 has left and is skipped). */
    static const int left[4][4] = {{-1, -1, 2, -1}, {-1}, {0, -1, -1, -1}};
    expect_slots(h, left, 1000);
    /* The next to join takes the free slot: A for member 0, B for member 2. */
    join(h, 3);
    static const int back[4][4] = {{-1, -1, 2, 0}, {-1}, {0, -1, -1, 2}, {0, -1, 2, -1}};
    expect_slots(h, back, 2000);
    /* pl_room_member_slot names the same people, for the pages' captions. */
    static const int named[4][2] = {{3, 2}, {-1, -1}, {0, 3}, {0, 2}};
    for (int m = 0; m < 4; m++) {
        if (m == 1) continue;
        for (int k = 0; k < 2; k++)
            assert_ptr_equal(pl_room_member_slot(h->peer[m].member, k), &h->peer[named[m][k]]);
    }
    assert_null(pl_room_member_slot(h->peer[0].member, 2));
    assert_null(pl_room_member_slot(NULL, 0));
}

static void test_rejoin_with_new_ssrc_continues_the_slot_and_asks_for_a_keyframe(void **state)
{
    pl_rh_t *h = *state;
    pl_rtp_packet_t pkt;
    join(h, 0);
    join(h, 1);
    uint32_t video = pl_rh_slot_ssrc(h, 0, 1), voice = pl_rh_slot_ssrc(h, 0, 0);
    for (int i = 0; i < 10; i++) {
        send_ok(h, 1, 1, (uint16_t)(65530 + i), 90000u + 3000u * (uint32_t)i, 1000 + 33 * i);
        send_ok(h, 1, 0, (uint16_t)(200 + i), 4800u + 960u * (uint32_t)i, 1000 + 20 * i);
    }
    assert_non_null(pl_rh_last_rtp(h, 0, video, &pkt));
    uint16_t last_seq = pkt.seq;
    uint32_t last_ts = pkt.timestamp;
    assert_int_equal(last_seq, 3); /* the first publisher's numbering, wrapped */
    assert_non_null(pl_rh_last_rtp(h, 0, voice, &pkt));
    uint16_t last_aseq = pkt.seq;
    uint32_t last_ats = pkt.timestamp;
    pl_rh_leave(h, 1);

    /* Member 1 again, with new SSRCs, its own random numbering, 2.103 s after the last video
     * packet (sent at 1297) and 2.220 s after the last audio one (1180). */
    join(h, 3);
    pl_rh_clear(h);
    uint64_t before = stats(h).keyframe_requests;
    send_ok(h, 3, 1, 40000, 7777777, 3400);
    assert_non_null(pl_rh_last_rtp(h, 0, video, &pkt));
    assert_int_equal(pkt.seq, (uint16_t)(last_seq + 1));
    assert_int_equal(pkt.timestamp, last_ts + 2103u * 90u);
    send_ok(h, 3, 1, 40001, 7777777 + 3000, 3433);
    assert_non_null(pl_rh_last_rtp(h, 0, video, &pkt));
    assert_int_equal(pkt.seq, (uint16_t)(last_seq + 2));
    assert_int_equal(pkt.timestamp, last_ts + 2103u * 90u + 3000u);
    send_ok(h, 3, 0, 9, 123, 3400);
    assert_non_null(pl_rh_last_rtp(h, 0, voice, &pkt));
    assert_int_equal(pkt.seq, (uint16_t)(last_aseq + 1));
    assert_int_equal(pkt.timestamp, last_ats + 2220u * 48u);

    /* A keyframe was asked of the new camera, by PLI, under its real SSRC. */
    assert_int_equal(stats(h).keyframe_requests, before + 1);
    size_t from = 0;
    pl_rtcp_packet_t p;
    pl_rtcp_fb_t fb;
    assert_int_equal(pl_rh_find_rtcp(h, 3, PL_RTCP_PSFB, PL_RTCP_FMT_PLI, &from, &p), 0);
    assert_int_equal(pl_rtcp_fb_parse(&p, &fb), 0);
    assert_int_equal(fb.media_ssrc, pl_rh_spec(3).ssrc[1]);
    assert_int_equal(fb.sender_ssrc, rd32(h->peer[3].pkts[from - 1].data + 4));
    assert_int_equal(pl_rh_find_rtcp(h, 3, PL_RTCP_PSFB, PL_RTCP_FMT_PLI, &from, &p), -1);
}

static void test_a_packet_from_before_the_new_publisher_filled_the_slot_is_dropped(void **state)
{
    pl_rh_t *h = *state;
    pl_rtp_packet_t pkt;
    join(h, 0);
    join(h, 1);
    send_ok(h, 1, 1, 500, 1000, 1000);
    pl_rh_leave(h, 1);
    join(h, 3);
    send_ok(h, 3, 1, 800, 5000, 2000);
    assert_non_null(pl_rh_last_rtp(h, 0, pl_rh_slot_ssrc(h, 0, 1), &pkt));
    assert_int_equal(pkt.seq, 501);
    /* 799 would come out as 500, a number already used for another packet: SRTP must never
     * see that, so it is not sent at all. */
    pl_rh_clear(h);
    send_ok(h, 3, 1, 799, 4000, 2001);
    assert_int_equal(pl_rh_count(h, 0, false), 0);
    send_ok(h, 3, 1, 801, 6000, 2002);
    assert_int_equal(pl_rh_count(h, 0, false), 1);
}

static void test_a_slot_keeps_forwarding_past_half_the_sequence_space(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    for (uint32_t i = 0; i < 70000; i++) {
        pl_rh_rtp_t o = {.section = 1, .seq = (uint16_t)(1000 + i), .ts = 3000 * i, .payload = 1};
        assert_int_equal(pl_rh_send(h, 0, &o, 1000 + i / 100), 0);
        if (h->peer[1].n >= PL_RH_CAPTURE) pl_rh_clear(h);
    }
    assert_int_equal(stats(h).rtp_forwarded, 70000);
}

static void test_a_stray_jump_is_held_back_and_a_confirmed_one_continues_the_slot(void **state)
{
    pl_rh_t *h = *state;
    pl_rtp_packet_t pkt;
    uint32_t slot;
    join(h, 0);
    join(h, 1);
    slot = pl_rh_slot_ssrc(h, 1, 1);
    for (int i = 0; i < 10; i++)
        send_ok(h, 0, 1, (uint16_t)(100 + i), 0, 1000 + i);
    pl_rh_clear(h);
    send_ok(h, 0, 1, 40000, 0, 1100); /* one stray: not sent on */
    assert_int_equal(pl_rh_count(h, 1, false), 0);
    send_ok(h, 0, 1, 110, 0, 1101);
    assert_non_null(pl_rh_last_rtp(h, 1, slot, &pkt));
    assert_int_equal(pkt.seq, 110);
    /* The browser really did restart its numbering: the slot goes on from 111. */
    send_ok(h, 0, 1, 50000, 0, 3000);
    send_ok(h, 0, 1, 50001, 0, 3010);
    assert_non_null(pl_rh_last_rtp(h, 1, slot, &pkt));
    assert_int_equal(pkt.seq, 111);
    assert_int_equal(pl_rh_count(h, 1, false), 2);
    /* Late retransmissions a few hundred packets back keep their numbers and restart
     * nothing. */
    for (int i = 0; i < 400; i++)
        if (i < 150 || i >= 160) send_ok(h, 0, 1, (uint16_t)(50002 + i), 0, 3100 + i);
    pl_rh_clear(h);
    for (int i = 150; i < 160; i++)
        send_ok(h, 0, 1, (uint16_t)(50002 + i), 0, 3600);
    send_ok(h, 0, 1, 50402, 0, 3601);
    assert_int_equal(pl_rh_count(h, 1, false), 11);
    pl_rtp_parse(h->peer[1].pkts[0].data, h->peer[1].pkts[0].len, &pkt);
    assert_int_equal(pkt.seq, 112 + 150);
    assert_non_null(pl_rh_last_rtp(h, 1, slot, &pkt));
    assert_int_equal(pkt.seq, 112 + 400);
}

static void test_a_failed_send_is_counted_and_not_forwarded(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    assert_ptr_equal(pl_room_member_opaque(h->peer[1].member), &h->peer[1]);
    h->peer[1].send_rc = -PL_EUNAVAIL; /* not connected yet */
    send_ok(h, 0, 0, 1, 1, 1000);
    pl_room_stats_t st = stats(h);
    assert_int_equal(st.rtp_forwarded, 0);
    assert_int_equal(st.send_failures, 1);
    h->peer[1].send_rc = 0;
    send_ok(h, 0, 0, 2, 2, 1020);
    assert_int_equal(stats(h).rtp_forwarded, 1);
}

/* ---- codecs, SSRCs and hostile input ---- */

static void test_payload_type_maps_by_codec_and_drops_what_the_subscriber_lacks(void **state)
{
    pl_rh_t *h = *state;
    pl_rtp_packet_t pkt;
    pl_rh_spec_t h264 = pl_rh_spec(2);
    h264.vp8_pt = -1;
    h264.h264_pt = 125;
    join(h, 0); /* VP8 96 and H264 102 */
    join(h, 1); /* VP8 120 only */
    assert_int_equal(pl_rh_join(h, 2, &h264, false, false), 0);

    send_ok(h, 0, 1, 1, 0, 1000);
    assert_non_null(pl_rh_last_rtp(h, 1, pl_rh_slot_ssrc(h, 1, 1), &pkt));
    assert_int_equal(pkt.pt, 120);
    assert_int_equal(pl_rh_count(h, 2, false), 0);
    assert_int_equal(stats(h).rtp_dropped_no_codec, 1);

    pl_rh_clear(h);
    send_ok(h, 2, 1, 1, 0, 1001);
    assert_non_null(pl_rh_last_rtp(h, 0, pl_rh_slot_ssrc(h, 0, 3), &pkt));
    assert_int_equal(pkt.pt, 102);
    assert_int_equal(pl_rh_count(h, 1, false), 0);
    assert_int_equal(stats(h).rtp_dropped_no_codec, 2);
}

static void test_unknown_ssrc_without_mid_is_dropped_and_counted(void **state)
{
    pl_rh_t *h = *state;
    uint8_t buf[PL_RTP_MAX_LEN];
    join(h, 0);
    join(h, 1);
    pl_rh_rtp_t o = {.section = 1, .seq = 1, .no_mid = true};
    size_t n = pl_rh_rtp(h, 0, &o, buf, sizeof buf);
    pl_rtp_set_ssrc(buf, n, 0x12345678);
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[0].member, buf, n, 1000), -PL_ENOTFOUND);
    /* The offer's rtx SSRC is not a media stream either: Parley answered no rtx. */
    pl_rtp_set_ssrc(buf, n, pl_rh_spec(0).ssrc[1] + 0x100u);
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[0].member, buf, n, 1000), -PL_ENOTFOUND);
    assert_int_equal(stats(h).rtp_unknown_ssrc, 2);
    assert_int_equal(pl_rh_count(h, 1, false), 0);
}

static void test_ssrc_is_learnt_from_the_mid_when_the_offer_has_none(void **state)
{
    pl_rh_t *h = *state;
    uint8_t buf[PL_RTP_MAX_LEN];
    pl_rtp_packet_t pkt;
    pl_rh_spec_t bare = pl_rh_spec(0);
    memset(bare.ssrc, 0, sizeof bare.ssrc);
    assert_int_equal(pl_rh_join(h, 0, &bare, false, false), 0);
    join(h, 1);

    pl_rh_rtp_t o = {.section = 1, .seq = 10, .ts = 100};
    size_t n = pl_rh_rtp(h, 0, &o, buf, sizeof buf);
    pl_rtp_set_ssrc(buf, n, 0x5EED0001);
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[0].member, buf, n, 1000), 0);
    /* Once learnt, the mid is no longer needed. */
    o = (pl_rh_rtp_t){.section = 1, .seq = 11, .ts = 200, .no_mid = true};
    n = pl_rh_rtp(h, 0, &o, buf, sizeof buf);
    pl_rtp_set_ssrc(buf, n, 0x5EED0001);
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[0].member, buf, n, 1010), 0);
    assert_non_null(pl_rh_last_rtp(h, 1, pl_rh_slot_ssrc(h, 1, 1), &pkt));
    assert_int_equal(pkt.seq, 11);
    /* The browser restarts the stream under another SSRC: the subscriber's numbering goes on. */
    o = (pl_rh_rtp_t){.section = 1, .seq = 3000, .ts = 9000};
    n = pl_rh_rtp(h, 0, &o, buf, sizeof buf);
    pl_rtp_set_ssrc(buf, n, 0x5EED0002);
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[0].member, buf, n, 1020), 0);
    assert_non_null(pl_rh_last_rtp(h, 1, pl_rh_slot_ssrc(h, 1, 1), &pkt));
    assert_int_equal(pkt.seq, 12);
    /* A mid that names a section the member does not publish on teaches nothing. */
    o = (pl_rh_rtp_t){.section = 1, .seq = 1};
    n = pl_rh_rtp(h, 0, &o, buf, sizeof buf);
    pl_rtp_set_ssrc(buf, n, 0x5EED0003);
    buf[21] = '3';
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[0].member, buf, n, 1030), -PL_ENOTFOUND);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void test_truncated_and_garbage_packets_are_dropped_safely(void **state)
{
    pl_rh_t *h = *state;
    uint8_t good[PL_RTP_MAX_LEN], rtcp[64];
    join(h, 0);
    join(h, 1);
    pl_rh_rtp_t o = {.section = 1, .seq = 1, .payload = 20};
    size_t n = pl_rh_rtp(h, 0, &o, good, sizeof good);
    /* Each truncation in a heap block of exactly its size, so ASan sees any overread. */
    for (size_t len = 0; len < n; len++) {
        uint8_t *b = malloc(len + 1);
        memcpy(b, good, len);
        int rc = pl_room_on_rtp(h->room, h->peer[0].member, b, len, 1000);
        assert_true(rc == 0 || rc == -PL_EINVAL);
        free(b);
    }
    pl_rtcp_writer_t w;
    pl_rtcp_writer_init(&w, rtcp, sizeof rtcp);
    pl_rtcp_write_rr(&w, 1, NULL, 0);
    uint16_t seqs[] = {1, 2};
    pl_rtcp_write_nack(&w, 1, pl_rh_slot_ssrc(h, 1, 1), seqs, 2);
    for (size_t len = 0; len < w.len; len++) {
        uint8_t *b = malloc(len + 1);
        memcpy(b, rtcp, len);
        int rc = pl_room_on_rtcp(h->room, h->peer[1].member, b, len, 1000);
        assert_true(rc == 0 || rc == -PL_EINVAL);
        free(b);
    }
    uint32_t seed = 7;
    for (int i = 0; i < 20000; i++) {
        size_t len = lcg(&seed) % 80;
        uint8_t *b = malloc(len + 1);
        for (size_t k = 0; k < len; k++)
            b[k] = (uint8_t)lcg(&seed);
        if (len > 0 && (i & 1)) b[0] = (uint8_t)(0x80 | (b[0] & 0x3F)); /* version 2 */
        pl_room_on_rtp(h->room, h->peer[i % 2].member, b, len, 1000 + i);
        pl_room_on_rtcp(h->room, h->peer[i % 2].member, b, len, 1000 + i);
        free(b);
    }
    assert_true(stats(h).rtp_malformed > 0);
    assert_true(stats(h).rtcp_malformed > 0);
    assert_int_equal(pl_room_on_rtp(h->room, h->peer[0].member, NULL, 0, 1), -PL_EINVAL);
    assert_int_equal(pl_room_on_rtp(NULL, h->peer[0].member, good, n, 1), -PL_EINVAL);
    /* Still forwarding afterwards. */
    pl_rh_clear(h);
    send_ok(h, 0, 0, 1, 1, 30000);
    assert_int_equal(pl_rh_count(h, 1, false), 1);
}

/* ---- screen share ---- */

static void test_screen_share_fills_section_4_for_everyone_else(void **state)
{
    pl_rh_t *h = *state;
    pl_rtp_packet_t pkt;
    pl_rh_spec_t s0 = pl_rh_spec(0), s1 = pl_rh_spec(1), s2 = pl_rh_spec(2);
    assert_int_equal(pl_rh_join(h, 0, &s0, true, true), 0);   /* clinician */
    assert_int_equal(pl_rh_join(h, 1, &s1, false, false), 0); /* patient */
    /* Answered as staff, but the room was told this member may not share. */
    assert_int_equal(pl_rh_join(h, 2, &s2, true, false), 0);

    send_ok(h, 0, 4, 1, 10, 1000);
    assert_non_null(pl_rh_last_rtp(h, 1, pl_rh_slot_ssrc(h, 1, 4), &pkt));
    assert_non_null(pl_rh_last_rtp(h, 2, pl_rh_slot_ssrc(h, 2, 4), &pkt));
    assert_int_equal(pkt.pt, 98);
    assert_int_equal(pl_rh_count(h, 0, false), 0);

    /* The patient's answer is sendonly on section 4, so its screen SSRC is no stream. */
    pl_rh_rtp_t o = {.section = 4, .seq = 1};
    assert_int_equal(pl_rh_send(h, 1, &o, 1001), -PL_ENOTFOUND);
    assert_int_equal(pl_rh_send(h, 2, &o, 1002), -PL_EPERM);
    pl_room_stats_t st = stats(h);
    assert_int_equal(st.rtp_unknown_ssrc, 1);
    assert_int_equal(st.rtp_not_allowed, 1);
}

static void test_screen_slot_passes_on_when_the_sharer_goes_quiet(void **state)
{
    pl_rh_t *h = *state;
    pl_rtp_packet_t pkt;
    pl_rh_spec_t s0 = pl_rh_spec(0), s2 = pl_rh_spec(2);
    assert_int_equal(pl_rh_join(h, 0, &s0, true, true), 0);
    join(h, 1);
    assert_int_equal(pl_rh_join(h, 2, &s2, true, true), 0);
    uint32_t screen = pl_rh_slot_ssrc(h, 1, 4);

    send_ok(h, 0, 4, 100, 1000, 1000);
    assert_non_null(pl_rh_last_rtp(h, 1, screen, &pkt));
    /* A second sharer waits while the first is active. */
    pl_rh_clear(h);
    send_ok(h, 2, 4, 7000, 50, 2000);
    assert_int_equal(pl_rh_count(h, 1, false), 0);
    assert_int_equal(pl_rh_count(h, 0, false), 0);
    /* Five quiet seconds free the slot (at a tick), and the next share takes it, continuing
     * the numbering member 1 saw. */
    pl_room_tick(h->room, 5000);
    pl_room_tick(h->room, 6000);
    send_ok(h, 2, 4, 7001, 60, 6100);
    assert_non_null(pl_rh_last_rtp(h, 1, screen, &pkt));
    assert_int_equal(pkt.seq, 101);
    assert_non_null(pl_rh_last_rtp(h, 0, pl_rh_slot_ssrc(h, 0, 4), &pkt));
    /* An RTCP BYE for the screen frees it at once. */
    uint8_t bye[32];
    pl_rtcp_writer_t w;
    uint32_t ssrc = s2.ssrc[2];
    pl_rtcp_writer_init(&w, bye, sizeof bye);
    pl_rtcp_write_rr(&w, ssrc, NULL, 0);
    pl_rtcp_write_bye(&w, &ssrc, 1, NULL, 0);
    assert_int_equal(pl_room_on_rtcp(h->room, h->peer[2].member, bye, w.len, 6200), 0);
    pl_rh_clear(h);
    send_ok(h, 0, 4, 101, 2000, 6300);
    assert_non_null(pl_rh_last_rtp(h, 1, screen, &pkt));
    assert_int_equal(pkt.seq, 102);
}

/* ---- lifetime ---- */

static void test_member_removed_inside_a_send_callback_is_safe(void **state)
{
    pl_rh_t *h = *state;
    join(h, 0);
    join(h, 1);
    join(h, 2);
    /* While member 1 is being sent member 0's voice, member 2 leaves: it gets nothing. */
    h->peer[1].remove_on_send = 2;
    send_ok(h, 0, 0, 1, 1, 1000);
    assert_int_equal(pl_rh_count(h, 1, false), 1);
    assert_int_equal(pl_rh_count(h, 2, false), 0);
    /* While member 1 is being sent member 0's video, the publisher itself leaves. */
    join(h, 2);
    pl_rh_clear(h);
    h->peer[1].remove_on_send = 0;
    send_ok(h, 0, 1, 1, 1, 1100);
    assert_int_equal(pl_rh_count(h, 1, false), 1);
    assert_int_equal(pl_rh_count(h, 2, false), 0);
    /* Removal inside the reports of a tick. */
    pl_room_tick(h->room, 2000);
    send_ok(h, 1, 1, 5, 5, 2500);
    h->peer[2].remove_on_send = 1;
    pl_room_tick(h->room, 3000);
    assert_false(h->peer[1].joined);
    pl_rh_clear(h);
    send_ok(h, 2, 0, 1, 1, 3100);
    assert_int_equal(pl_rh_count(h, 1, false), 0);
    /* And the room still works: full again, it refuses a fourth. */
    join(h, 0);
    join(h, 1);
    pl_rh_spec_t s = pl_rh_spec(3);
    assert_int_equal(pl_rh_join(h, 3, &s, false, false), -PL_ETOOBIG);
}

static void test_packet_paths_never_allocate(void **state)
{
#ifdef NO_ALLOC_COUNT
    (void)state;
    skip();
#else
    pl_rh_t *h = *state;
    pl_rh_spec_t s0 = pl_rh_spec(0);
    assert_int_equal(pl_rh_join(h, 0, &s0, true, true), 0);
    join(h, 1);
    join(h, 2);
    uint8_t fb[256];

    /* The hook is live. */
    counting = true;
    void *volatile probe = malloc(16);
    counting = false;
    free(probe);
    assert_int_equal(allocations, 1);
    allocations = 0;

    counting = true;
    for (int i = 0; i < 3000; i++) {
        int64_t now = 1000 + 10 * i;
        uint16_t seq = (uint16_t)(100 + i);
        pl_rh_rtp_t o = {.section = i % 3 == 2 ? 4 : i % 3,
                         .seq = seq,
                         .ts = 90u * (uint32_t)i,
                         .level = (uint8_t)(i % 90)};
        int from = i % 3 == 2 ? 0 : (i / 3) % 3;
        pl_rh_send(h, from, &o, now);
        if (i % 50 == 49) {
            /* Feedback from member 1 about what it receives from member 0. */
            pl_rtcp_writer_t w;
            uint16_t lost[] = {(uint16_t)(seq - 30), (uint16_t)(seq - 3), (uint16_t)(seq + 9000)};
            uint32_t ssrcs[] = {pl_rh_slot_ssrc(h, 1, 1)};
            pl_rtcp_sender_info_t si = {.ssrc = pl_rh_spec(0).ssrc[1], .ntp = 1ull << 40};
            pl_rtcp_writer_init(&w, fb, sizeof fb);
            pl_rtcp_write_rr(&w, 77, NULL, 0);
            pl_rtcp_write_nack(&w, 77, pl_rh_slot_ssrc(h, 1, 1), lost, 3);
            pl_rtcp_write_pli(&w, 77, pl_rh_slot_ssrc(h, 1, 1));
            pl_rtcp_write_remb(&w, 77, 800000, ssrcs, 1);
            pl_room_on_rtcp(h->room, h->peer[1].member, fb, w.len, now);
            pl_rtcp_writer_init(&w, fb, sizeof fb);
            pl_rtcp_write_sr(&w, &si, NULL, 0);
            pl_room_on_rtcp(h->room, h->peer[0].member, fb, w.len, now);
        }
        if (i % 5 == 0) pl_room_tick(h->room, now);
    }
    counting = false;
    assert_int_equal(allocations, 0);
    pl_room_stats_t st = stats(h);
    assert_true(st.rtp_forwarded > 4000);
    assert_true(st.nack_answered_from_ring > 0);
    assert_true(st.sr_sent > 0 && st.rr_sent > 0 && st.remb_sent > 0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_two_members_exchange_audio_and_video_rewritten_byte_for_byte),
        T(test_one_to_one_call_from_real_chromium_offers),
        T(test_third_member_fills_slot_b_for_each_member),
        T(test_slots_are_sticky_and_a_freed_slot_is_filled_by_the_next_to_join),
        T(test_rejoin_with_new_ssrc_continues_the_slot_and_asks_for_a_keyframe),
        T(test_a_packet_from_before_the_new_publisher_filled_the_slot_is_dropped),
        T(test_a_slot_keeps_forwarding_past_half_the_sequence_space),
        T(test_a_stray_jump_is_held_back_and_a_confirmed_one_continues_the_slot),
        T(test_a_failed_send_is_counted_and_not_forwarded),
        T(test_payload_type_maps_by_codec_and_drops_what_the_subscriber_lacks),
        T(test_unknown_ssrc_without_mid_is_dropped_and_counted),
        T(test_ssrc_is_learnt_from_the_mid_when_the_offer_has_none),
        T(test_truncated_and_garbage_packets_are_dropped_safely),
        T(test_screen_share_fills_section_4_for_everyone_else),
        T(test_screen_slot_passes_on_when_the_sharer_goes_quiet),
        T(test_member_removed_inside_a_send_callback_is_safe),
        T(test_packet_paths_never_allocate),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
