/* Unit tests for media/room_answer.c: the SSRCs, cnames and msids Parley announces for the
 * fixed slots, the directions that keep the layout, the answer flags the room relies on (no
 * rtx, no transport-cc), the K-slot layouts (K = 3 and 7, and the test client's K-slot
 * offer), and offers out of the layout refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tests/support/room_harness.h"
#include "tests/support/rtc_client.h"

/* ---- the answer ---- */

static void test_answer_gets_distinct_random_ssrcs_and_slot_b_is_sendonly(void **state)
{
    (void)state;
    pl_rh_spec_t spec = pl_rh_spec(0);
    static char text[PL_SDP_MAX_TEXT];
    size_t n = pl_rh_offer(&spec, text, sizeof text);
    pl_sdp_offer_t *offer = NULL;
    assert_int_equal(pl_sdp_offer_parse((const uint8_t *)text, n, &offer, NULL), 0);

    for (int staff = 0; staff < 2; staff++) {
        pl_room_answer_t a;
        pl_sdp_answer_params_t p = {.session_id = 1,
                                    .session_version = 1,
                                    .ice_ufrag = "PaRl",
                                    .ice_pwd = "parleyparleyparleypa+/",
                                    .candidate_ip = "127.0.0.1",
                                    .candidate_port = 40000};
        pl_sdp_negotiated_t neg;
        char *answer = NULL;
        assert_int_equal(pl_room_answer_prepare(offer, staff, &a), 0);
        assert_int_equal(a.n_sections, 5);
        pl_room_answer_apply(&a, &p);
        assert_true(p.no_rtx);
        assert_true(p.no_transport_cc);
        assert_ptr_equal(p.sections, a.sections);
        assert_int_equal(pl_sdp_answer_create(offer, &p, &answer, &neg, NULL), 0);
        for (int i = 0; i < 5; i++) {
            uint32_t s = neg.sections[i].ssrc;
            assert_int_equal(s, a.sections[i].ssrc);
            assert_int_not_equal(s, 0);
            for (int k = 0; k < 3; k++)
                assert_int_not_equal(s, spec.ssrc[k]);
            for (int k = 0; k < i; k++)
                assert_int_not_equal(s, neg.sections[k].ssrc);
            assert_int_equal(neg.sections[i].rtx_ssrc, 0);
        }
        assert_int_equal(neg.sections[0].dir, PL_SDP_SENDRECV);
        assert_int_equal(neg.sections[1].dir, PL_SDP_SENDRECV);
        assert_int_equal(neg.sections[2].dir, PL_SDP_SENDONLY);
        assert_int_equal(neg.sections[3].dir, PL_SDP_SENDONLY);
        assert_int_equal(neg.sections[4].dir, staff ? PL_SDP_SENDRECV : PL_SDP_SENDONLY);
        /* Slot A's voice and video share one msid stream (lip sync), slot B has its own. */
        assert_string_equal(a.sections[0].msid_stream, a.sections[1].msid_stream);
        assert_string_not_equal(a.sections[0].msid_stream, a.sections[2].msid_stream);
        assert_null(strstr(answer, "rtx/"));
        assert_null(strstr(answer, "transport-cc"));
        assert_null(strstr(answer, "transport-wide-cc"));
        assert_non_null(strstr(answer, "goog-remb"));
        free(answer);
    }
    pl_sdp_offer_destroy(offer);
}

static void test_answer_refuses_an_offer_out_of_the_slot_layout(void **state)
{
    (void)state;
    /* audio, video, then a data channel where slot B's audio belongs. */
    pl_rh_spec_t spec = pl_rh_spec(0);
    static char text[PL_SDP_MAX_TEXT];
    size_t n = pl_rh_offer(&spec, text, sizeof text);
    char *at =
        strstr(text, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd"
                     "\r\na=ice-pwd:0123456789abcdefghijkl\r\na=ice-options:trickle\r\n"
                     "a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:"
                     "99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\na=setup:"
                     "actpass\r\na=mid:2");
    assert_non_null(at);
    memcpy(at, "m=video", 7); /* section 2 now offers video, with an opus payload type */
    pl_sdp_offer_t *offer = NULL;
    pl_room_answer_t a;
    assert_int_equal(pl_sdp_offer_parse((const uint8_t *)text, n, &offer, NULL), 0);
    assert_int_equal(pl_room_answer_prepare(offer, true, &a), -PL_EINVAL);
    assert_int_equal(a.n_sections, 0);
    pl_sdp_offer_destroy(offer);
}

/* ---- K slots ---- */

static pl_sdp_offer_t *parse_spec(const pl_rh_spec_t *spec)
{
    static char text[PL_SDP_MAX_TEXT];
    size_t n = pl_rh_offer(spec, text, sizeof text);
    pl_sdp_offer_t *offer = NULL;
    assert_int_not_equal(n, 0);
    assert_int_equal(pl_sdp_offer_parse((const uint8_t *)text, n, &offer, NULL), 0);
    return offer;
}

/* Prepares and writes the answer to offer, and checks the K-slot layout in it. */
static void expect_k_slots(const pl_sdp_offer_t *offer, int k, bool staff)
{
    size_t n = (size_t)(2 * k + 1);
    pl_room_answer_t a;
    pl_sdp_answer_params_t p = {.session_id = 1,
                                .session_version = 1,
                                .ice_ufrag = "PaRl",
                                .ice_pwd = "parleyparleyparleypa+/",
                                .candidate_ip = "127.0.0.1",
                                .candidate_port = 40000};
    static pl_sdp_negotiated_t neg;
    char *answer = NULL;

    assert_int_equal(pl_room_answer_prepare(offer, staff, &a), 0);
    assert_int_equal(a.n_slots, k);
    assert_int_equal(a.n_sections, n);
    pl_room_answer_apply(&a, &p);
    assert_int_equal(pl_sdp_answer_create(offer, &p, &answer, &neg, NULL), 0);
    assert_true(neg.n_sections >= n);
    for (size_t i = 0; i < n; i++) {
        const pl_sdp_neg_section_t *ns = &neg.sections[i];
        assert_true(ns->accepted);
        assert_int_equal(ns->kind,
                         i % 2 == 1 || i == n - 1 ? PL_SDP_KIND_VIDEO : PL_SDP_KIND_AUDIO);
        assert_int_not_equal(ns->ssrc, 0);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(ns->ssrc, neg.sections[j].ssrc);
        pl_sdp_dir_t want = i < 2 || (i == n - 1 && staff) ? PL_SDP_SENDRECV : PL_SDP_SENDONLY;
        assert_int_equal(ns->dir, want);
        /* A slot's voice and video share a stream and a cname; slots and the screen differ. */
        const pl_sdp_answer_section_t *s = &a.sections[i];
        for (size_t j = 0; j < i; j++) {
            bool same_slot = j / 2 == i / 2 && i < n - 1;
            if (same_slot) {
                assert_string_equal(s->msid_stream, a.sections[j].msid_stream);
                assert_string_equal(s->cname, a.sections[j].cname);
            } else {
                assert_string_not_equal(s->msid_stream, a.sections[j].msid_stream);
                assert_string_not_equal(s->cname, a.sections[j].cname);
            }
            assert_string_not_equal(s->msid_track, a.sections[j].msid_track);
        }
    }
    free(answer);
}

static void test_answer_follows_offers_of_three_and_seven_slots(void **state)
{
    (void)state;
    for (int k = 3; k <= 7; k += 4) {
        pl_rh_spec_t spec = pl_rh_spec(1);
        spec.n_sections = (size_t)(2 * k + 1);
        pl_sdp_offer_t *offer = parse_spec(&spec);
        expect_k_slots(offer, k, false);
        expect_k_slots(offer, k, true);
        pl_sdp_offer_destroy(offer);
    }
}

static void test_answer_to_the_test_clients_k_slot_chromium_offer(void **state)
{
    (void)state;
    static const char fp[] = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                             "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
    pl_rtc_client_t *c = NULL;
    assert_int_equal(pl_rtc_client_create("u", "p", fp, NULL, NULL, NULL, &c), 0);
    for (int k = 2; k <= PL_ROOM_MAX_SLOTS; k++) {
        char *text = pl_rtc_client_offer_slots(c, k);
        pl_sdp_offer_t *offer = NULL;
        assert_non_null(text);
        assert_int_equal(pl_sdp_offer_parse((const uint8_t *)text, strlen(text), &offer, NULL), 0);
        assert_int_equal(pl_sdp_offer_section_count(offer), 2 * k + 1);
        expect_k_slots(offer, k, true);
        pl_sdp_offer_destroy(offer);
        free(text);
    }
    /* 0 is the fixture's own two sections; anything else is no offer. */
    char *two = pl_rtc_client_offer_slots(c, 0);
    assert_non_null(two);
    assert_null(strstr(two, "a=mid:2"));
    free(two);
    assert_null(pl_rtc_client_offer_slots(c, 1));
    assert_null(pl_rtc_client_offer_slots(c, PL_ROOM_MAX_SLOTS + 1));
    pl_rtc_client_destroy(c);
}

static void test_answer_refuses_layouts_with_too_many_slots_no_screen_or_wrong_kinds(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "avavavavavavavav", /* K = 8: eight pairs, and the screen would be a seventeenth */
        "avavav",           /* three pairs and no screen */
        "avavavav",         /* four pairs and no screen */
        "avava",            /* audio where the screen belongs */
        "avavavavavavava",  /* the same with seven slots */
        "avvav",            /* a video where slot 1's voice belongs: one slot only */
        "vaavv",            /* slot 0 the wrong way round */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pl_rh_spec_t spec = pl_rh_spec(0);
        spec.kinds = bad[i];
        pl_sdp_offer_t *offer = parse_spec(&spec);
        pl_room_answer_t a;
        print_message("layout %s\n", bad[i]);
        assert_int_equal(pl_room_answer_prepare(offer, true, &a), -PL_EINVAL);
        assert_int_equal(a.n_sections, 0);
        assert_int_equal(a.n_slots, 0);
        pl_sdp_offer_destroy(offer);
    }
    /* Sections after the screen are left alone, as sections after the fifth always were:
     * two slots and the screen at 4, whatever follows. */
    static const char *const extra[] = {"avavvv", "avavvav", "avavva"};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        pl_rh_spec_t spec = pl_rh_spec(0);
        spec.kinds = extra[i];
        pl_sdp_offer_t *offer = parse_spec(&spec);
        pl_room_answer_t a;
        assert_int_equal(pl_room_answer_prepare(offer, true, &a), 0);
        assert_int_equal(a.n_slots, 2);
        assert_int_equal(a.n_sections, 5);
        pl_sdp_offer_destroy(offer);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_gets_distinct_random_ssrcs_and_slot_b_is_sendonly),
        cmocka_unit_test(test_answer_refuses_an_offer_out_of_the_slot_layout),
        cmocka_unit_test(test_answer_follows_offers_of_three_and_seven_slots),
        cmocka_unit_test(test_answer_to_the_test_clients_k_slot_chromium_offer),
        cmocka_unit_test(test_answer_refuses_layouts_with_too_many_slots_no_screen_or_wrong_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
