/* Unit tests for media/srtp_session.c: two peers' sessions built from mirrored keys (what a
 * DTLS-SRTP handshake gives each side), one side protecting and the other unprotecting, in both
 * profiles. RTP and RTCP packets are built by hand here, independent of media/rtp*. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "media/srtp_session.h"

#define PKT_CAP (1200 + PL_SRTP_TAIL_ROOM)

static const pl_srtp_profile_t profiles[] = {PL_SRTP_PROFILE_AEAD_AES_128_GCM,
                                             PL_SRTP_PROFILE_AES128_CM_SHA1_80};
#define N_PROFILES (sizeof profiles / sizeof profiles[0])

/* Two peers: a protects with its outbound session, b unprotects with its inbound, and back. */
typedef struct {
    pl_srtp_profile_t profile;
    pl_srtp_session_t *a;
    pl_srtp_session_t *b;
} duo_t;

static size_t tag_len(pl_srtp_profile_t p)
{
    return p == PL_SRTP_PROFILE_AEAD_AES_128_GCM ? 16 : 10;
}

/* Random keys for a, and b's keys as the mirror image (a's local is b's remote). */
static void make_keys(pl_srtp_profile_t p, pl_srtp_keys_t *a, pl_srtp_keys_t *b)
{
    memset(a, 0, sizeof *a);
    a->profile = p;
    a->key_len = 16;
    a->salt_len = p == PL_SRTP_PROFILE_AEAD_AES_128_GCM ? 12 : 14;
    assert_int_equal(pl_random_bytes(a->local_key, a->key_len), 0);
    assert_int_equal(pl_random_bytes(a->local_salt, a->salt_len), 0);
    assert_int_equal(pl_random_bytes(a->remote_key, a->key_len), 0);
    assert_int_equal(pl_random_bytes(a->remote_salt, a->salt_len), 0);
    *b = *a;
    memcpy(b->local_key, a->remote_key, sizeof b->local_key);
    memcpy(b->local_salt, a->remote_salt, sizeof b->local_salt);
    memcpy(b->remote_key, a->local_key, sizeof b->remote_key);
    memcpy(b->remote_salt, a->local_salt, sizeof b->remote_salt);
}

static void duo_open(duo_t *d, pl_srtp_profile_t p)
{
    pl_srtp_keys_t ka, kb;
    make_keys(p, &ka, &kb);
    d->profile = p;
    assert_int_equal(pl_srtp_session_create(&ka, &d->a), 0);
    assert_int_equal(pl_srtp_session_create(&kb, &d->b), 0);
    pl_wipe(&ka, sizeof ka);
    pl_wipe(&kb, sizeof kb);
}

static void duo_close(duo_t *d)
{
    pl_srtp_session_destroy(d->a);
    pl_srtp_session_destroy(d->b);
}

/* A 12-byte RTP header (V=2, PT 96, no CSRC or extension) and payload_len bytes of fill. */
static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload_len, uint8_t fill)
{
    uint32_t ts = (uint32_t)seq * 3000u;
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[4] = (uint8_t)(ts >> 24);
    buf[5] = (uint8_t)(ts >> 16);
    buf[6] = (uint8_t)(ts >> 8);
    buf[7] = (uint8_t)ts;
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    memset(buf + 12, fill, payload_len);
    return 12 + payload_len;
}

/* An RTCP sender report without report blocks: 28 bytes, 20 of them encrypted by SRTCP. */
static size_t make_rtcp_sr(uint8_t *buf, uint32_t ssrc)
{
    memset(buf, 0, 28);
    buf[0] = 0x80;
    buf[1] = 200;
    buf[3] = 6; /* length in 32-bit words minus one */
    buf[4] = (uint8_t)(ssrc >> 24);
    buf[5] = (uint8_t)(ssrc >> 16);
    buf[6] = (uint8_t)(ssrc >> 8);
    buf[7] = (uint8_t)ssrc;
    for (size_t i = 8; i < 28; i++)
        buf[i] = (uint8_t)(0xa0 + i);
    return 28;
}

/* Protects RTP seq from a into buf and returns the SRTP length. */
static size_t protect_seq(duo_t *d, uint8_t *buf, uint16_t seq, uint32_t ssrc)
{
    size_t len = make_rtp(buf, seq, ssrc, 160, (uint8_t)seq);
    assert_int_equal(pl_srtp_protect_rtp(d->a, buf, PKT_CAP, &len), 0);
    return len;
}

static void assert_unprotects_seq(duo_t *d, const uint8_t *srtp, size_t len, uint16_t seq)
{
    uint8_t buf[PKT_CAP];
    memcpy(buf, srtp, len);
    assert_int_equal(pl_srtp_unprotect_rtp(d->b, buf, &len), 0);
    assert_int_equal(len, 12 + 160);
    assert_int_equal(buf[3], (uint8_t)seq);
    assert_int_equal(buf[12], (uint8_t)seq);
}

static pl_srtp_stats_t stats_of(const pl_srtp_session_t *s)
{
    pl_srtp_stats_t st;
    pl_srtp_session_stats(s, &st);
    return st;
}

/* ---- set-up ---- */

static void *init_thread(void *arg)
{
    *(int *)arg = pl_srtp_global_init();
    return NULL;
}

static void test_global_init_is_idempotent_and_thread_safe(void **state)
{
    (void)state;
    pthread_t th[4];
    int rc[4] = {-1, -1, -1, -1};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, init_thread, &rc[i]), 0);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(rc[i], 0);
    }
    assert_int_equal(pl_srtp_global_init(), 0);
    assert_int_equal(pl_srtp_global_init(), 0);
}

static void test_create_rejects_keys_that_fit_no_profile(void **state)
{
    (void)state;
    pl_srtp_keys_t k, mirror;
    pl_srtp_session_t *s = (pl_srtp_session_t *)&k; /* must be reset to NULL */
    make_keys(PL_SRTP_PROFILE_AEAD_AES_128_GCM, &k, &mirror);

    k.salt_len = 14; /* the CM salt under the GCM profile */
    assert_int_equal(pl_srtp_session_create(&k, &s), -PL_EINVAL);
    assert_null(s);
    k.salt_len = 12;
    k.profile = PL_SRTP_PROFILE_NONE;
    assert_int_equal(pl_srtp_session_create(&k, &s), -PL_EINVAL);
    k.profile = PL_SRTP_PROFILE_AES128_CM_SHA1_80; /* 12-byte salt is GCM's */
    assert_int_equal(pl_srtp_session_create(&k, &s), -PL_EINVAL);
    k.profile = PL_SRTP_PROFILE_AEAD_AES_128_GCM;
    k.key_len = 32;
    assert_int_equal(pl_srtp_session_create(&k, &s), -PL_EINVAL);
    assert_int_equal(pl_srtp_session_create(NULL, &s), -PL_EINVAL);
    k.key_len = 16;
    assert_int_equal(pl_srtp_session_create(&k, &s), 0);
    pl_srtp_session_destroy(s);
    pl_srtp_session_destroy(NULL);
    pl_wipe(&k, sizeof k);
    pl_wipe(&mirror, sizeof mirror);
}

/* ---- round trips ---- */

static void test_rtp_round_trips_both_ways_in_both_profiles(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_PROFILES; i++) {
        duo_t d;
        duo_open(&d, profiles[i]);
        uint8_t buf[PKT_CAP], plain[PKT_CAP];
        size_t n = make_rtp(plain, 1000, 0x11223344, 200, 0x5a);
        memcpy(buf, plain, n);

        size_t len = n;
        assert_int_equal(pl_srtp_protect_rtp(d.a, buf, sizeof buf, &len), 0);
        assert_int_equal(len, n + tag_len(d.profile));
        assert_memory_equal(buf, plain, 12); /* header in the clear */
        assert_memory_not_equal(buf + 12, plain + 12, 200);
        assert_int_equal(pl_srtp_unprotect_rtp(d.b, buf, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(buf, plain, n);

        /* And the other way, b's outbound to a's inbound. */
        len = make_rtp(buf, 7, 0x55667788, 50, 0x33);
        assert_int_equal(pl_srtp_protect_rtp(d.b, buf, sizeof buf, &len), 0);
        assert_int_equal(pl_srtp_unprotect_rtp(d.a, buf, &len), 0);
        assert_int_equal(len, 62);
        assert_int_equal(buf[12], 0x33);

        /* A's outbound key is not a's inbound key. */
        len = make_rtp(buf, 8, 0x55667788, 50, 0x33);
        assert_int_equal(pl_srtp_protect_rtp(d.a, buf, sizeof buf, &len), 0);
        assert_int_equal(pl_srtp_unprotect_rtp(d.a, buf, &len), -PL_ECRYPTO);

        assert_int_equal(stats_of(d.a).rtp_protected, 2);
        assert_int_equal(stats_of(d.b).rtp_unprotected, 1);
        duo_close(&d);
    }
}

static void test_rtcp_round_trips_both_ways_in_both_profiles(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_PROFILES; i++) {
        duo_t d;
        duo_open(&d, profiles[i]);
        uint8_t buf[PKT_CAP], plain[PKT_CAP];
        size_t n = make_rtcp_sr(plain, 0x01020304);
        memcpy(buf, plain, n);

        size_t len = n;
        assert_int_equal(pl_srtp_protect_rtcp(d.a, buf, sizeof buf, &len), 0);
        assert_int_equal(len, n + 4 + tag_len(d.profile)); /* SRTCP index, then tag */
        assert_memory_not_equal(buf + 8, plain + 8, 20);
        assert_int_equal(pl_srtp_unprotect_rtcp(d.b, buf, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(buf, plain, n);

        len = make_rtcp_sr(buf, 0x0a0b0c0d);
        assert_int_equal(pl_srtp_protect_rtcp(d.b, buf, sizeof buf, &len), 0);
        assert_int_equal(pl_srtp_unprotect_rtcp(d.a, buf, &len), 0);
        assert_int_equal(len, 28);

        assert_int_equal(stats_of(d.a).rtcp_protected, 1);
        assert_int_equal(stats_of(d.a).rtcp_unprotected, 1);
        duo_close(&d);
    }
}

static void test_streams_with_different_ssrcs_share_the_session(void **state)
{
    (void)state;
    duo_t d;
    duo_open(&d, PL_SRTP_PROFILE_AEAD_AES_128_GCM);
    uint8_t p1[PKT_CAP], p2[PKT_CAP];
    size_t l1 = protect_seq(&d, p1, 1, 0xaaaa0001);
    size_t l2 = protect_seq(&d, p2, 1, 0xbbbb0002); /* same seq, other stream: not a replay */
    assert_unprotects_seq(&d, p1, l1, 1);
    assert_unprotects_seq(&d, p2, l2, 1);
    duo_close(&d);
}

/* ---- authentication ---- */

static void test_tampered_rtp_fails_auth_and_leaves_the_window_alone(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_PROFILES; i++) {
        duo_t d;
        duo_open(&d, profiles[i]);
        uint8_t good[PKT_CAP], bad[PKT_CAP];
        size_t len = protect_seq(&d, good, 42, 0xfeedface);
        size_t where[] = {2, 11, 12, 100, len - 1}; /* seq, ssrc, payload, payload, tag */
        for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
            size_t n = len;
            memcpy(bad, good, len);
            bad[where[w]] ^= 0x01;
            assert_int_equal(pl_srtp_unprotect_rtp(d.b, bad, &n), -PL_ECRYPTO);
        }
        size_t n = len - 1; /* truncated tag */
        memcpy(bad, good, len);
        assert_int_equal(pl_srtp_unprotect_rtp(d.b, bad, &n), -PL_ECRYPTO);
        pl_srtp_stats_t st = stats_of(d.b);
        assert_int_equal(st.auth_failures, 6);
        assert_int_equal(st.replays, 0);
        /* Forgeries do not mark seq 42 as seen: the genuine packet still gets through. */
        assert_unprotects_seq(&d, good, len, 42);
        duo_close(&d);
    }
}

static void test_tampered_rtcp_fails_auth(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_PROFILES; i++) {
        duo_t d;
        duo_open(&d, profiles[i]);
        uint8_t buf[PKT_CAP];
        size_t len = make_rtcp_sr(buf, 0x01020304);
        assert_int_equal(pl_srtp_protect_rtcp(d.a, buf, sizeof buf, &len), 0);
        buf[20] ^= 0x80;
        assert_int_equal(pl_srtp_unprotect_rtcp(d.b, buf, &len), -PL_ECRYPTO);
        assert_int_equal(stats_of(d.b).auth_failures, 1);
        duo_close(&d);
    }
}

/* ---- replay ---- */

static void test_replayed_rtp_is_rejected_as_replay(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_PROFILES; i++) {
        duo_t d;
        duo_open(&d, profiles[i]);
        uint8_t pkt[PKT_CAP];
        size_t len = protect_seq(&d, pkt, 500, 0x12345678);
        assert_unprotects_seq(&d, pkt, len, 500);
        uint8_t again[PKT_CAP];
        size_t n = len;
        memcpy(again, pkt, len);
        assert_int_equal(pl_srtp_unprotect_rtp(d.b, again, &n), -PL_ECONFLICT);
        pl_srtp_stats_t st = stats_of(d.b);
        assert_int_equal(st.replays, 1);
        assert_int_equal(st.auth_failures, 0);
        duo_close(&d);
    }
}

static void test_replayed_rtcp_is_rejected_as_replay(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_PROFILES; i++) {
        duo_t d;
        duo_open(&d, profiles[i]);
        uint8_t pkt[PKT_CAP], copy[PKT_CAP];
        size_t len = make_rtcp_sr(pkt, 0x01020304);
        assert_int_equal(pl_srtp_protect_rtcp(d.a, pkt, sizeof pkt, &len), 0);
        memcpy(copy, pkt, len);
        size_t n = len;
        assert_int_equal(pl_srtp_unprotect_rtcp(d.b, pkt, &n), 0);
        n = len;
        assert_int_equal(pl_srtp_unprotect_rtcp(d.b, copy, &n), -PL_ECONFLICT);
        assert_int_equal(stats_of(d.b).replays, 1);
        duo_close(&d);
    }
}

/* What the SFU does when a subscriber NACKs: protect the same packet again from its ring. */
static void test_retransmitted_protect_of_same_seq_is_allowed(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_PROFILES; i++) {
        duo_t d;
        duo_open(&d, profiles[i]);
        uint8_t first[PKT_CAP], resent[PKT_CAP], later[PKT_CAP];
        size_t l1 = protect_seq(&d, first, 10, 0xc0ffee00); /* lost on the way */
        for (uint16_t seq = 11; seq < 20; seq++) {
            size_t l = protect_seq(&d, later, seq, 0xc0ffee00);
            assert_unprotects_seq(&d, later, l, seq);
        }
        size_t l2 = protect_seq(&d, resent, 10, 0xc0ffee00);
        /* The same packet under the same index encrypts to the same bytes. */
        assert_int_equal(l1, l2);
        assert_memory_equal(first, resent, l1);
        assert_unprotects_seq(&d, resent, l2, 10); /* late, inside the window */
        assert_int_equal(stats_of(d.a).tx_too_old, 0);
        /* A second copy at the receiver is a duplicate. */
        assert_int_equal(pl_srtp_unprotect_rtp(d.b, first, &l1), -PL_ECONFLICT);
        duo_close(&d);
    }
}

static void test_window_bounds_late_packets_both_ways(void **state)
{
    (void)state;
    duo_t d;
    duo_open(&d, PL_SRTP_PROFILE_AES128_CM_SHA1_80);
    uint8_t old_pkt[PKT_CAP], in_window[PKT_CAP], newest[PKT_CAP], buf[PKT_CAP];
    const uint16_t newest_seq = 100 + PL_SRTP_REPLAY_WINDOW + 50;
    size_t lo = protect_seq(&d, old_pkt, 100, 0x0badcafe);
    size_t lw = protect_seq(&d, in_window, newest_seq - PL_SRTP_REPLAY_WINDOW + 10, 0x0badcafe);
    size_t ln = protect_seq(&d, newest, newest_seq, 0x0badcafe);

    assert_unprotects_seq(&d, newest, ln, newest_seq);
    assert_unprotects_seq(&d, in_window, lw, (uint16_t)(newest_seq - PL_SRTP_REPLAY_WINDOW + 10));
    assert_int_equal(pl_srtp_unprotect_rtp(d.b, old_pkt, &lo), -PL_ECONFLICT);
    assert_int_equal(stats_of(d.b).replays, 1);

    /* The sender refuses to resend what is more than a window behind. */
    size_t len = make_rtp(buf, 100, 0x0badcafe, 160, 100);
    assert_int_equal(pl_srtp_protect_rtp(d.a, buf, sizeof buf, &len), -PL_ECONFLICT);
    assert_int_equal(stats_of(d.a).tx_too_old, 1);
    duo_close(&d);
}

/* ---- buffers ---- */

static void test_short_packets_and_missing_tail_room_are_refused(void **state)
{
    (void)state;
    duo_t d;
    duo_open(&d, PL_SRTP_PROFILE_AEAD_AES_128_GCM);
    uint8_t buf[PKT_CAP];
    size_t len = make_rtp(buf, 1, 1, 100, 0);
    assert_int_equal(pl_srtp_protect_rtp(d.a, buf, len + PL_SRTP_TAIL_ROOM - 1, &len), -PL_ETOOBIG);
    assert_int_equal(pl_srtp_protect_rtp(d.a, buf, len - 1, &len), -PL_ETOOBIG);
    assert_int_equal(pl_srtp_protect_rtp(d.a, buf, len + PL_SRTP_TAIL_ROOM, &len), 0);

    size_t n = 11;
    assert_int_equal(pl_srtp_protect_rtp(d.a, buf, sizeof buf, &n), -PL_EINVAL);
    n = 11;
    assert_int_equal(pl_srtp_unprotect_rtp(d.b, buf, &n), -PL_EINVAL);
    n = 7;
    assert_int_equal(pl_srtp_protect_rtcp(d.a, buf, sizeof buf, &n), -PL_EINVAL);
    n = 7;
    assert_int_equal(pl_srtp_unprotect_rtcp(d.b, buf, &n), -PL_EINVAL);
    n = 28;
    assert_int_equal(pl_srtp_protect_rtcp(d.a, buf, 28 + 10, &n), -PL_ETOOBIG);
    assert_int_equal(stats_of(d.a).bad_packets, 5);
    assert_int_equal(stats_of(d.b).bad_packets, 2);
    duo_close(&d);
}

int main(void)
{
    pl_log_set_level(PL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global_init_is_idempotent_and_thread_safe),
        cmocka_unit_test(test_create_rejects_keys_that_fit_no_profile),
        cmocka_unit_test(test_rtp_round_trips_both_ways_in_both_profiles),
        cmocka_unit_test(test_rtcp_round_trips_both_ways_in_both_profiles),
        cmocka_unit_test(test_streams_with_different_ssrcs_share_the_session),
        cmocka_unit_test(test_tampered_rtp_fails_auth_and_leaves_the_window_alone),
        cmocka_unit_test(test_tampered_rtcp_fails_auth),
        cmocka_unit_test(test_replayed_rtp_is_rejected_as_replay),
        cmocka_unit_test(test_replayed_rtcp_is_rejected_as_replay),
        cmocka_unit_test(test_retransmitted_protect_of_same_seq_is_allowed),
        cmocka_unit_test(test_window_bounds_late_packets_both_ways),
        cmocka_unit_test(test_short_packets_and_missing_tail_room_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
