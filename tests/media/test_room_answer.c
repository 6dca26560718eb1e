/* Unit tests for media/room_answer.c: the SSRCs, cnames and msids Parley announces for the
 * fixed slots, the directions that keep the layout, the answer flags the room relies on (no
 * rtx, no transport-cc), and an offer out of the layout refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tests/support/room_harness.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_gets_distinct_random_ssrcs_and_slot_b_is_sendonly),
        cmocka_unit_test(test_answer_refuses_an_offer_out_of_the_slot_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
