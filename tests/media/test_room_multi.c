/* Unit tests for media/room.c with more than three people: rooms of up to eight members, each
 * subscribing through K other-person slots (2K + 1 m-sections, media/room.h). Every member
 * reaching every other on distinct slots, continuous numbering when a slot changes hands, the
 * capacity (eight at most, three by default), a two-slot member in a bigger room seeing the
 * first two others and the next in line when one leaves, the screen section wherever each
 * member's layout puts it, and RTCP (NACK, PLI, SR, REMB) on the highest slots.
 *
 * The two- and three-person cases are in test_room.c and test_room_rtcp.c; all use the
 * in-memory harness of tests/support/room_harness.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tests/support/room_harness.h"

/* ---- helpers ---- */

static int setup(void **state)
{
    pl_rh_t *h = calloc(1, sizeof *h);
    if (h == NULL) return -1;
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    pl_rh_destroy(*state);
    free(*state);
    return 0;
}

/* The harness with a room of capacity max_members (0: the default). */
static void make_room(pl_rh_t *h, int max_members)
{
    pl_room_config_t cfg = {.max_members = max_members};
    assert_int_equal(pl_rh_create(h, &cfg), 0);
}

/* Member who joins with a K-slot offer (staff: may share a screen). */
static int join_k(pl_rh_t *h, int who, int k, bool staff)
{
    pl_rh_spec_t s = pl_rh_spec(who);
    s.n_sections = (size_t)(2 * k + 1);
    return pl_rh_join(h, who, &s, staff, staff);
}

static void send_ok(pl_rh_t *h, int who, int section, uint16_t seq, uint32_t ts, int64_t now)
{
    pl_rh_rtp_t o = {.section = section, .seq = seq, .ts = ts, .level = 40};
    assert_int_equal(pl_rh_send(h, who, &o, now), 0);
}

static pl_room_stats_t stats(pl_rh_t *h)
{
    pl_room_stats_t s;
    pl_room_stats(h->room, &s);
    return s;
}

static void *slot(pl_rh_t *h, int who, int k)
{
    return pl_room_member_slot(h->peer[who].member, k);
}

/* The sequence number of the one RTP packet sub received on section; fails unless there is
 * exactly one, under the SSRC announced for that section, with sub's payload type. */
static uint16_t got_one(pl_rh_t *h, int sub, int section)
{
    pl_rtp_packet_t pkt;
    const pl_rh_spec_t *s = &h->peer[sub].spec;
    assert_int_equal(pl_rh_count(h, sub, false), 1);
    assert_non_null(pl_rh_last_rtp(h, sub, pl_rh_slot_ssrc(h, sub, section), &pkt));
    assert_int_equal(pkt.pt,
                     section % 2 == 0 && section < (int)s->n_sections - 1 ? s->opus_pt : s->vp8_pt);
    return pkt.seq;
}

/* ---- eight members, seven slots each ---- */

/* Joined in order 0..7, subscriber s sees publisher p on slot p, or p - 1 after itself. */
static int slot_in_order(int s, int p)
{
    return p < s ? p : p - 1;
}

static void
test_eight_members_with_seven_slots_each_receive_every_other_on_its_own_slot(void **state)
{
    pl_rh_t *h = *state;
    make_room(h, 8);
    for (int m = 0; m < 8; m++)
        assert_int_equal(join_k(h, m, 7, false), 0);

    for (int s = 0; s < 8; s++) {
        assert_int_equal(pl_room_member_slot_count(h->peer[s].member), 7);
        for (int p = 0; p < 8; p++)
            if (p != s) assert_ptr_equal(slot(h, s, slot_in_order(s, p)), &h->peer[p]);
        assert_null(slot(h, s, 7));
        /* Fifteen sections, fifteen distinct SSRCs announced. */
        assert_int_equal(h->peer[s].neg.n_sections, 15);
        for (int i = 0; i < 15; i++) {
            assert_int_not_equal(pl_rh_slot_ssrc(h, s, i), 0);
            for (int j = 0; j < i; j++)
                assert_int_not_equal(pl_rh_slot_ssrc(h, s, i), pl_rh_slot_ssrc(h, s, j));
        }
    }

    /* Each publisher's voice and camera, three packets each, numbered from a base that wraps
     * for some of them: every other member gets each packet once, on its slot's sections,
     * under its own SSRC and payload types, in unbroken sequence. */
    uint16_t last[8][15] = {{0}};
    int64_t now = 1000;
    for (int round = 0; round < 3; round++) {
        for (int p = 0; p < 8; p++) {
            for (int kind = 0; kind < 2; kind++) {
                uint16_t seq = (uint16_t)(60000 + 1000 * p + 100 * kind + round);
                pl_rh_clear(h);
                send_ok(h, p, kind, seq, 960u * (uint32_t)round, now++);
                assert_int_equal(pl_rh_count(h, p, false), 0);
                for (int s = 0; s < 8; s++) {
                    if (s == p) continue;
                    int section = 2 * slot_in_order(s, p) + kind;
                    uint16_t got = got_one(h, s, section);
                    if (round > 0) assert_int_equal(got, (uint16_t)(last[s][section] + 1));
                    last[s][section] = got;
                }
            }
        }
    }
    assert_int_equal(stats(h).rtp_forwarded, 3 * 8 * 2 * 7);

    /* A ninth is refused, and changes nothing. */
    assert_int_equal(join_k(h, 8, 7, false), -PL_ETOOBIG);
    assert_false(h->peer[8].joined);

    /* Member 3 leaves and the ninth takes its place: the freed slot of every member, with the
     * numbering going on from member 3's. */
    pl_rh_leave(h, 3);
    assert_int_equal(join_k(h, 8, 7, false), 0);
    for (int s = 0; s < 8; s++) {
        if (s == 3) continue;
        assert_ptr_equal(slot(h, s, slot_in_order(s, 3)), &h->peer[8]);
    }
    static const int eights[] = {0, 1, 2, 4, 5, 6, 7};
    for (int k = 0; k < 7; k++)
        assert_ptr_equal(slot(h, 8, k), &h->peer[eights[k]]);
    for (int kind = 0; kind < 2; kind++) {
        pl_rh_clear(h);
        send_ok(h, 8, kind, (uint16_t)(12345 + kind), 77, now++);
        for (int s = 0; s < 8; s++) {
            if (s == 3) continue;
            int section = 2 * slot_in_order(s, 3) + kind;
            assert_int_equal(got_one(h, s, section), (uint16_t)(last[s][section] + 1));
        }
    }
}

/* ---- capacity ---- */

static void test_capacity_defaults_to_three_and_can_be_raised_to_eight_but_no_further(void **state)
{
    pl_rh_t *h = *state;
    pl_room_t *r = NULL;
    pl_room_config_t nine = {.max_members = PL_ROOM_MAX_MEMBERS + 1}, minus = {.max_members = -1};
    assert_int_equal(pl_room_create(&nine, &r), -PL_EINVAL);
    assert_int_equal(pl_room_create(&minus, &r), -PL_EINVAL);
    assert_null(r);

    make_room(h, 0);
    /* Seven-slot offers do not make the room bigger: three people, and slots 2 to 6 empty. */
    for (int m = 0; m < 3; m++)
        assert_int_equal(join_k(h, m, 7, false), 0);
    assert_int_equal(join_k(h, 3, 7, false), -PL_ETOOBIG);
    assert_int_equal(join_k(h, 3, 2, false), -PL_ETOOBIG);
    assert_ptr_equal(slot(h, 2, 0), &h->peer[0]);
    assert_ptr_equal(slot(h, 2, 1), &h->peer[1]);
    for (int k = 2; k < 7; k++)
        assert_null(slot(h, 2, k));
    pl_rh_clear(h);
    send_ok(h, 1, 1, 5, 5, 1000);
    assert_int_equal(got_one(h, 2, 3), 5);
    assert_int_equal(got_one(h, 0, 1), 5);

    assert_int_equal(pl_room_set_capacity(h->room, PL_ROOM_MAX_MEMBERS + 1), -PL_EINVAL);
    assert_int_equal(pl_room_set_capacity(h->room, -1), -PL_EINVAL);
    assert_int_equal(pl_room_set_capacity(h->room, 2), -PL_ECONFLICT);
    assert_int_equal(pl_room_set_capacity(NULL, 4), -PL_EINVAL);
    assert_int_equal(pl_room_set_capacity(h->room, 4), 0);
    assert_int_equal(join_k(h, 3, 7, false), 0);
    assert_ptr_equal(slot(h, 0, 2), &h->peer[3]);
    assert_int_equal(join_k(h, 4, 7, false), -PL_ETOOBIG);
    /* 0 is the default, three: less than the four in the room. */
    assert_int_equal(pl_room_set_capacity(h->room, 0), -PL_ECONFLICT);
    pl_rh_leave(h, 3);
    assert_int_equal(pl_room_set_capacity(h->room, 0), 0);
    assert_int_equal(join_k(h, 3, 7, false), -PL_ETOOBIG);
}

/* ---- fewer slots than people ---- */

static void
test_a_two_slot_member_sees_the_first_two_others_and_the_next_when_one_leaves(void **state)
{
    pl_rh_t *h = *state;
    make_room(h, 6);
    assert_int_equal(join_k(h, 0, 2, false), 0); /* the original five sections */
    for (int m = 1; m < 5; m++)
        assert_int_equal(join_k(h, m, m == 1 ? 3 : 7, false), 0);
    assert_int_equal(pl_room_member_slot_count(h->peer[0].member), 2);
    assert_int_equal(pl_room_member_slot_count(h->peer[1].member), 3);
    assert_ptr_equal(slot(h, 0, 0), &h->peer[1]);
    assert_ptr_equal(slot(h, 0, 1), &h->peer[2]);
    assert_null(slot(h, 0, 2));
    /* Member 1's three slots: 0, 2 and 3; member 4 is not among them. */
    assert_ptr_equal(slot(h, 1, 2), &h->peer[3]);

    /* Members 3 and 4 reach nobody through member 0's sections. */
    int64_t now = 1000;
    pl_rh_clear(h);
    send_ok(h, 3, 1, 1, 1, now++);
    send_ok(h, 4, 1, 1, 1, now++);
    assert_int_equal(pl_rh_count(h, 0, false), 0);
    pl_rh_clear(h);
    send_ok(h, 1, 1, 700, 1, now++);
    assert_int_equal(got_one(h, 0, 1), 700);
    pl_rh_clear(h);
    send_ok(h, 2, 0, 900, 1, now++);
    assert_int_equal(got_one(h, 0, 2), 900);

    /* Member 1 leaves: member 3, the first without a slot, takes slot 0 and continues its
     * numbering; member 2 stays where it was. */
    pl_rh_leave(h, 1);
    assert_ptr_equal(slot(h, 0, 0), &h->peer[3]);
    assert_ptr_equal(slot(h, 0, 1), &h->peer[2]);
    pl_rh_clear(h);
    send_ok(h, 3, 1, 2, 1, now++);
    assert_int_equal(got_one(h, 0, 1), 701);
    pl_rh_clear(h);
    send_ok(h, 4, 1, 2, 2, now++);
    assert_int_equal(pl_rh_count(h, 0, false), 0);
    /* A seven-slot member keeps everyone where they were, with a hole where member 1 was. */
    assert_null(slot(h, 4, 1));
    assert_ptr_equal(slot(h, 4, 0), &h->peer[0]);
    assert_ptr_equal(slot(h, 4, 2), &h->peer[2]);
    assert_ptr_equal(slot(h, 4, 3), &h->peer[3]);

    /* Member 2 leaves: member 4 takes slot 1. */
    pl_rh_leave(h, 2);
    assert_ptr_equal(slot(h, 0, 1), &h->peer[4]);
    pl_rh_clear(h);
    send_ok(h, 4, 0, 3, 3, now++);
    assert_int_equal(got_one(h, 0, 2), 901);

    /* Someone new fills the lowest hole of a member with room, and nothing of member 0's. */
    assert_int_equal(join_k(h, 5, 2, false), 0);
    assert_ptr_equal(slot(h, 4, 1), &h->peer[5]);
    assert_null(slot(h, 4, 4));
    assert_ptr_equal(slot(h, 0, 0), &h->peer[3]);
    assert_ptr_equal(slot(h, 0, 1), &h->peer[4]);
    assert_ptr_equal(slot(h, 5, 0), &h->peer[0]);
    assert_ptr_equal(slot(h, 5, 1), &h->peer[3]);
}

/* ---- the screen section ---- */

static void test_screen_share_reaches_the_screen_section_of_every_layout(void **state)
{
    pl_rh_t *h = *state;
    make_room(h, 4);
    assert_int_equal(join_k(h, 0, 7, true), 0);  /* staff, screen at section 14 */
    assert_int_equal(join_k(h, 1, 2, false), 0); /* section 4 */
    assert_int_equal(join_k(h, 2, 3, false), 0); /* section 6 */
    assert_int_equal(join_k(h, 3, 3, true), 0);  /* staff, section 6 */

    pl_rh_clear(h);
    send_ok(h, 0, 14, 300, 10, 1000);
    assert_int_equal(got_one(h, 1, 4), 300);
    assert_int_equal(got_one(h, 2, 6), 300);
    assert_int_equal(got_one(h, 3, 6), 300);
    assert_int_equal(pl_rh_count(h, 0, false), 0);
    /* A patient's screen section is sendonly in its answer: its screen is no stream. */
    pl_rh_rtp_t o = {.section = 6, .seq = 1};
    assert_int_equal(pl_rh_send(h, 2, &o, 1001), -PL_ENOTFOUND);

    /* The other staff member waits while the first shares, and takes over after a BYE. */
    pl_rh_clear(h);
    send_ok(h, 3, 6, 5000, 10, 1100);
    assert_int_equal(pl_rh_count(h, 0, false) + pl_rh_count(h, 1, false), 0);
    uint8_t bye[32];
    pl_rtcp_writer_t w;
    uint32_t ssrc = pl_rh_spec(0).ssrc[2];
    pl_rtcp_writer_init(&w, bye, sizeof bye);
    pl_rtcp_write_rr(&w, ssrc, NULL, 0);
    pl_rtcp_write_bye(&w, &ssrc, 1, NULL, 0);
    assert_int_equal(pl_room_on_rtcp(h->room, h->peer[0].member, bye, w.len, 1200), 0);
    pl_rh_clear(h);
    send_ok(h, 3, 6, 5001, 20, 1300);
    assert_int_equal(got_one(h, 0, 14), 5001);
    assert_int_equal(got_one(h, 1, 4), 301);
    assert_int_equal(got_one(h, 2, 6), 301);
}

/* ---- RTCP on the highest slot ---- */

static void test_nack_pli_reports_and_remb_work_on_the_seventh_slot(void **state)
{
    pl_rh_t *h = *state;
    make_room(h, 8);
    for (int m = 0; m < 8; m++)
        assert_int_equal(join_k(h, m, 7, false), 0);
    pl_room_tick(h->room, 1000);
    /* Everyone sends a little of both; member 7 is member 0's slot 6 (sections 12 and 13). */
    for (int i = 0; i < 10; i++)
        for (int p = 0; p < 8; p++) {
            send_ok(h, p, 0, (uint16_t)(100 + i), 960u * (uint32_t)i, 1000 + 10 * i);
            send_ok(h, p, 1, (uint16_t)(100 + i), 3000u * (uint32_t)i, 1000 + 10 * i);
        }
    uint32_t video = pl_rh_slot_ssrc(h, 0, 13);
    pl_rtp_packet_t pkt;
    assert_non_null(pl_rh_last_rtp(h, 0, video, &pkt));
    assert_int_equal(pkt.seq, 109);

    /* A NACK for 105 on slot 6 is answered from member 7's ring, under the slot's SSRC. */
    uint8_t buf[256];
    pl_rtcp_writer_t w;
    uint16_t lost = 105;
    pl_rh_clear(h);
    pl_rtcp_writer_init(&w, buf, sizeof buf);
    pl_rtcp_write_rr(&w, 0x5B5B5B5B, NULL, 0);
    pl_rtcp_write_nack(&w, 0x5B5B5B5B, video, &lost, 1);
    pl_rtcp_write_remb(&w, 0x5B5B5B5B, 1400000, &video, 1);
    assert_int_equal(pl_room_on_rtcp(h->room, h->peer[0].member, buf, w.len, 1200), 0);
    assert_int_equal(stats(h).nack_answered_from_ring, 1);
    assert_int_equal(pl_rh_count(h, 0, false), 1);
    assert_non_null(pl_rh_last_rtp(h, 0, video, &pkt));
    assert_int_equal(pkt.seq, 105);
    pl_rtcp_packet_t p;
    pl_rtcp_fb_t fb;
    size_t from = 0;

    /* The reports a second later: member 0 hears an SR for each of its fourteen slot
     * sections, and member 7 a REMB of member 0's estimate shared over its seven cameras. */
    pl_rh_clear(h);
    pl_room_tick(h->room, 2000);
    bool sr_for[15] = {false};
    size_t n_sr = 0;
    const pl_rh_peer_t *zero = &h->peer[0];
    for (size_t i = 0; i < zero->n && i < PL_RH_CAPTURE; i++) {
        pl_rtcp_iter_t it;
        if (!zero->pkts[i].rtcp) continue;
        assert_int_equal(pl_rtcp_iter_init(&it, zero->pkts[i].data, zero->pkts[i].len), 0);
        while (pl_rtcp_iter_next(&it, &p) == 0) {
            pl_rtcp_report_t rep;
            if (p.pt != PL_RTCP_SR) continue;
            assert_int_equal(pl_rtcp_report_parse(&p, &rep), 0);
            for (int s = 0; s < 15; s++)
                if (rep.info.ssrc == pl_rh_slot_ssrc(h, 0, s)) sr_for[s] = true;
            n_sr++;
        }
    }
    assert_int_equal(n_sr, 14);
    for (int s = 0; s < 14; s++)
        assert_true(sr_for[s]);
    assert_false(sr_for[14]); /* nobody shares a screen */
    from = 0;
    assert_int_equal(pl_rh_find_rtcp(h, 7, PL_RTCP_PSFB, PL_RTCP_FMT_AFB, &from, &p), 0);
    pl_rtcp_remb_t remb;
    assert_int_equal(pl_rtcp_fb_parse(&p, &fb), 0);
    assert_int_equal(pl_rtcp_remb_parse(&fb, &remb), 0);
    assert_int_equal(remb.bitrate, 1400000 / 7);

    /* A PLI on slot 6 (a second after the keyframe the room asked for itself when the slot
     * started) goes to member 7, about its camera, and to nobody else. */
    pl_rh_clear(h);
    pl_rtcp_writer_init(&w, buf, sizeof buf);
    pl_rtcp_write_rr(&w, 0x5B5B5B5B, NULL, 0);
    pl_rtcp_write_pli(&w, 0x5B5B5B5B, video);
    assert_int_equal(pl_room_on_rtcp(h->room, h->peer[0].member, buf, w.len, 2100), 0);
    from = 0;
    assert_int_equal(pl_rh_find_rtcp(h, 7, PL_RTCP_PSFB, PL_RTCP_FMT_PLI, &from, &p), 0);
    assert_int_equal(pl_rtcp_fb_parse(&p, &fb), 0);
    assert_int_equal(fb.media_ssrc, pl_rh_spec(7).ssrc[1]);
    for (int m = 0; m < 7; m++)
        assert_int_equal(pl_rh_count(h, m, true), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_eight_members_with_seven_slots_each_receive_every_other_on_its_own_slot),
        T(test_capacity_defaults_to_three_and_can_be_raised_to_eight_but_no_further),
        T(test_a_two_slot_member_sees_the_first_two_others_and_the_next_when_one_leaves),
        T(test_screen_share_reaches_the_screen_section_of_every_layout),
        T(test_nack_pli_reports_and_remb_work_on_the_seventh_slot),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
