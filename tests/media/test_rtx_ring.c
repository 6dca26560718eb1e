/* Unit tests for media/rtx_ring.c: what it keeps, what it finds, what it refuses (too old,
 * too large, evicted), across the 16-bit sequence wrap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/err.h"
#include "media/rtp.h"
#include "media/rtx_ring.h"
#include "media/srtp_session.h"

static void fill(uint8_t *b, size_t n, uint16_t seq)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seq + i);
}

static void test_create_takes_only_powers_of_two_up_to_the_replay_window(void **state)
{
    (void)state;
    pl_rtx_ring_t *r = (pl_rtx_ring_t *)&r;
    assert_int_equal(pl_rtx_ring_create(0, &r), -PL_EINVAL);
    assert_null(r);
    assert_int_equal(pl_rtx_ring_create(100, &r), -PL_EINVAL);
    assert_int_equal(pl_rtx_ring_create(2 * PL_SRTP_REPLAY_WINDOW, &r), -PL_EINVAL);
    assert_int_equal(pl_rtx_ring_create(PL_RTX_RING_SLOTS, NULL), -PL_EINVAL);
    assert_true(PL_RTX_RING_SLOTS <= PL_SRTP_REPLAY_WINDOW);
    assert_int_equal(pl_rtx_ring_create(PL_SRTP_REPLAY_WINDOW, &r), 0);
    pl_rtx_ring_destroy(r);
    pl_rtx_ring_destroy(NULL);
}

static void test_finds_what_it_stored_across_the_sequence_wrap(void **state)
{
    (void)state;
    pl_rtx_ring_t *r;
    uint8_t pkt[PL_RTP_MAX_LEN], want[PL_RTP_MAX_LEN];
    const uint8_t *got;
    size_t len;
    int64_t at;
    assert_int_equal(pl_rtx_ring_create(64, &r), 0);
    for (uint32_t i = 0; i < 40; i++) {
        uint16_t seq = (uint16_t)(65520 + i);
        fill(pkt, 100 + i, seq);
        assert_int_equal(pl_rtx_ring_put(r, seq, pkt, 100 + i, 1000 + i), 0);
    }
    for (uint32_t i = 0; i < 40; i++) {
        uint16_t seq = (uint16_t)(65520 + i);
        assert_int_equal(pl_rtx_ring_get(r, seq, 1100, 1000, &got, &len, &at), 0);
        assert_int_equal(len, 100 + i);
        assert_int_equal(at, 1000 + i);
        fill(want, len, seq);
        assert_memory_equal(got, want, len);
    }
    assert_int_equal(pl_rtx_ring_get(r, 24, 1100, 1000, &got, &len, NULL), -PL_ENOTFOUND);
    assert_int_equal(pl_rtx_ring_get(r, 65519, 1100, 1000, &got, &len, NULL), -PL_ENOTFOUND);
    pl_rtx_ring_destroy(r);
}

static void test_newer_packets_evict_older_and_old_ones_never_evict_newer(void **state)
{
    (void)state;
    pl_rtx_ring_t *r;
    uint8_t pkt[200];
    const uint8_t *got;
    size_t len;
    assert_int_equal(pl_rtx_ring_create(16, &r), 0);
    fill(pkt, sizeof pkt, 0);
    for (uint16_t seq = 100; seq < 120; seq++)
        assert_int_equal(pl_rtx_ring_put(r, seq, pkt, 50, 1000), 0);
    /* 100..103 share slots with 116..119. */
    assert_int_equal(pl_rtx_ring_get(r, 103, 1000, 1000, &got, &len, NULL), -PL_ENOTFOUND);
    assert_int_equal(pl_rtx_ring_get(r, 104, 1000, 1000, &got, &len, NULL), 0);
    /* A very late 102 would overwrite 118: refused. A late 110 is fine. */
    assert_int_equal(pl_rtx_ring_put(r, 102, pkt, 60, 1001), -PL_ENOTFOUND);
    assert_int_equal(pl_rtx_ring_get(r, 118, 1001, 1000, &got, &len, NULL), 0);
    assert_int_equal(len, 50);
    assert_int_equal(pl_rtx_ring_put(r, 110, pkt, 70, 1001), 0);
    assert_int_equal(pl_rtx_ring_get(r, 110, 1001, 1000, &got, &len, NULL), 0);
    assert_int_equal(len, 70);
    pl_rtx_ring_destroy(r);
}

static void test_too_old_too_big_and_cleared_packets_are_not_found(void **state)
{
    (void)state;
    pl_rtx_ring_t *r;
    uint8_t pkt[PL_RTP_MAX_LEN + 1] = {0};
    const uint8_t *got;
    size_t len;
    assert_int_equal(pl_rtx_ring_create(8, &r), 0);
    assert_int_equal(pl_rtx_ring_put(r, 1, pkt, PL_RTP_MAX_LEN + 1, 0), -PL_EINVAL);
    assert_int_equal(pl_rtx_ring_put(r, 1, pkt, 0, 0), -PL_EINVAL);
    assert_int_equal(pl_rtx_ring_put(r, 1, NULL, 10, 0), -PL_EINVAL);
    assert_int_equal(pl_rtx_ring_put(r, 1, pkt, PL_RTP_MAX_LEN, 1000), 0);
    assert_int_equal(pl_rtx_ring_get(r, 1, 2000, 1000, &got, &len, NULL), 0);
    assert_int_equal(pl_rtx_ring_get(r, 1, 2001, 1000, &got, &len, NULL), -PL_ENOTFOUND);
    pl_rtx_ring_clear(r);
    assert_int_equal(pl_rtx_ring_get(r, 1, 1000, 1000, &got, &len, NULL), -PL_ENOTFOUND);
    /* After a clear, any numbering starts afresh. */
    assert_int_equal(pl_rtx_ring_put(r, 40000, pkt, 10, 1000), 0);
    assert_int_equal(pl_rtx_ring_put(r, 39999, pkt, 10, 1000), 0);
    pl_rtx_ring_clear(NULL);
    pl_rtx_ring_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_takes_only_powers_of_two_up_to_the_replay_window),
        cmocka_unit_test(test_finds_what_it_stored_across_the_sequence_wrap),
        cmocka_unit_test(test_newer_packets_evict_older_and_old_ones_never_evict_newer),
        cmocka_unit_test(test_too_old_too_big_and_cleared_packets_are_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
