/* The per-peer transport end to end, in memory: a test client acting as a browser checks ICE,
 * completes DTLS and exchanges SRTP with a pl_peer_t, through queues standing in for the
 * network. Also: strangers refused, consent expiry, a network change, a fingerprint mismatch. */
#include "core/err.h"
#include "media/peer.h"
#include "media/srtp_session.h"
#include "tests/support/rtc_client.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define QMAX 64
typedef struct {
    uint8_t buf[QMAX][1600];
    size_t len[QMAX];
    struct sockaddr_in to[QMAX];
    int n;
} queue_t;

typedef struct {
    pl_dtls_ctx_t *ctx;
    pl_peer_t *peer;
    pl_rtc_client_t *cli;
    queue_t to_cli, to_peer;
    struct sockaddr_in cli_addr; /* where the client's datagrams appear to come from */
    int64_t now;
    int rtp_at_peer, rtp_at_cli;
    uint8_t last_payload[64];
    pl_peer_state_t last_state;
    int states, reconnects;
} fx_t;

static void push(queue_t *q, const uint8_t *b, size_t n, const struct sockaddr_in *to)
{
    assert_true(q->n < QMAX);
    assert_true(n <= sizeof q->buf[0]);
    memcpy(q->buf[q->n], b, n);
    q->len[q->n] = n;
    if (to) q->to[q->n] = *to;
    q->n++;
}

static void peer_send(void *opaque, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
    fx_t *f = opaque;
    push(&f->to_cli, buf, len, (const struct sockaddr_in *)to);
}

static void peer_rtp(void *opaque, uint8_t *buf, size_t len)
{
    fx_t *f = opaque;
    f->rtp_at_peer++;
    memcpy(f->last_payload, buf + 12, len - 12 < 64 ? len - 12 : 64);
}

static void peer_state(void *opaque, pl_peer_state_t st, bool reconnected)
{
    fx_t *f = opaque;
    f->last_state = st;
    f->states++;
    if (reconnected) f->reconnects++;
}

static void cli_send(void *opaque, const uint8_t *buf, size_t len)
{
    fx_t *f = opaque;
    push(&f->to_peer, buf, len, NULL);
}

static void cli_media(void *opaque, const uint8_t *buf, size_t len, bool rtcp)
{
    fx_t *f = opaque;
    if (!rtcp) {
        f->rtp_at_cli++;
        memcpy(f->last_payload, buf + 12, len - 12 < 64 ? len - 12 : 64);
    }
}

/* Delivers queued datagrams both ways until the network is quiet. */
static void pump(fx_t *f)
{
    for (int rounds = 0; rounds < 50 && (f->to_cli.n || f->to_peer.n); rounds++) {
        queue_t q = f->to_peer;
        f->to_peer.n = 0;
        for (int i = 0; i < q.n; i++)
            pl_peer_receive(f->peer, q.buf[i], q.len[i], sizeof q.buf[i],
                            (const struct sockaddr *)&f->cli_addr, f->now);
        q = f->to_cli;
        f->to_cli.n = 0;
        for (int i = 0; i < q.n; i++) pl_rtc_client_receive(f->cli, q.buf[i], q.len[i]);
    }
}

static void set_addr(struct sockaddr_in *a, const char *ip, int port)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &a->sin_addr);
}

static fx_t *fx_new(bool wrong_fp)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->now = 1000;
    set_addr(&f->cli_addr, "127.0.0.1", 50000);
    assert_int_equal(pl_dtls_ctx_create(NULL, 0, &f->ctx), 0);
    /* The client is created first so its fingerprint can go in the "offer"; the server's
     * credentials reach it afterwards, as an answer would. */
    assert_int_equal(pl_rtc_client_create("x", "y", pl_dtls_ctx_fingerprint(f->ctx), cli_send,
                                          cli_media, f, &f->cli),
                     0);
    uint8_t fp[PL_DTLS_FP_LEN];
    assert_int_equal(pl_dtls_fingerprint_parse(pl_rtc_client_fingerprint(f->cli), fp), 0);
    if (wrong_fp) fp[0] ^= 1;
    pl_peer_listener_t l = {.send = peer_send, .rtp = peer_rtp, .state = peer_state};
    assert_int_equal(pl_peer_create(f->ctx, pl_rtc_client_ufrag(f->cli), pl_rtc_client_pwd(f->cli),
                                    fp, &l, f, &f->peer),
                     0);
    pl_rtc_client_restart(f->cli, pl_peer_local_ufrag(f->peer), pl_peer_local_pwd(f->peer), NULL,
                          NULL);
    return f;
}

static void fx_free(fx_t *f)
{
    pl_peer_destroy(f->peer);
    pl_rtc_client_destroy(f->cli);
    pl_dtls_ctx_destroy(f->ctx);
    free(f);
}

static void connect_all(fx_t *f)
{
    assert_int_equal(pl_rtc_client_check(f->cli, true), 0);
    pump(f);
    assert_int_equal(pl_rtc_client_stun_ok(f->cli), 1);
    assert_int_equal(pl_peer_state(f->peer), PL_PEER_CONNECTING);
    assert_int_equal(pl_rtc_client_start_dtls(f->cli), 0);
    pump(f);
    assert_true(pl_rtc_client_connected(f->cli));
    assert_int_equal(pl_peer_state(f->peer), PL_PEER_CONNECTED);
}

static size_t rtp_packet(uint8_t *buf, uint16_t seq, const char *payload)
{
    memset(buf, 0, 12);
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[8] = 0x11; /* SSRC 0x11223344 */
    buf[9] = 0x22;
    buf[10] = 0x33;
    buf[11] = 0x44;
    size_t n = strlen(payload);
    memcpy(buf + 12, payload, n);
    return 12 + n;
}

static void test_check_dtls_and_srtp_both_ways(void **s)
{
    (void)s;
    fx_t *f = fx_new(false);
    connect_all(f);
    uint8_t buf[1500];
    size_t n = rtp_packet(buf, 1, "hello-from-browser");
    assert_int_equal(pl_rtc_client_send(f->cli, buf, n, sizeof buf, false), 0);
    pump(f);
    assert_int_equal(f->rtp_at_peer, 1);
    assert_memory_equal(f->last_payload, "hello-from-browser", 18);
    n = rtp_packet(buf, 7, "hello-from-parley");
    assert_int_equal(pl_peer_send_rtp(f->peer, buf, n, sizeof buf), 0);
    pump(f);
    assert_int_equal(f->rtp_at_cli, 1);
    assert_memory_equal(f->last_payload, "hello-from-parley", 17);
    pl_peer_stats_t st;
    pl_peer_stats(f->peer, &st);
    assert_int_equal(st.rtp_in, 1);
    assert_int_equal(st.rtp_out, 1);
    fx_free(f);
}

static void test_strangers_are_refused(void **s)
{
    (void)s;
    fx_t *f = fx_new(false);
    /* DTLS and SRTP before any ICE check: dropped and counted, nothing answered. */
    uint8_t dtls[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    struct sockaddr_in other;
    set_addr(&other, "127.0.0.1", 50999);
    assert_int_equal(pl_peer_receive(f->peer, dtls, sizeof dtls, sizeof dtls,
                                     (const struct sockaddr *)&other, f->now),
                     -PL_EPERM);
    uint8_t rtp[64];
    size_t n = rtp_packet(rtp, 1, "x");
    assert_int_equal(pl_peer_receive(f->peer, rtp, n, sizeof rtp, (const struct sockaddr *)&other,
                                     f->now),
                     -PL_EPERM);
    uint8_t junk[] = {70, 1, 2};
    assert_int_equal(pl_peer_receive(f->peer, junk, sizeof junk, sizeof junk,
                                     (const struct sockaddr *)&other, f->now),
                     -PL_EINVAL);
    assert_int_equal(f->to_cli.n, 0);
    connect_all(f);
    /* Media from an address that never passed a check is still refused once connected. */
    n = rtp_packet(rtp, 2, "y");
    assert_int_equal(pl_peer_receive(f->peer, rtp, n, sizeof rtp, (const struct sockaddr *)&other,
                                     f->now),
                     -PL_EPERM);
    /* And a forged packet from the right address fails SRTP authentication. */
    n = rtp_packet(rtp, 3, "forged-without-keys-and-tag");
    assert_int_equal(pl_peer_receive(f->peer, rtp, n, sizeof rtp,
                                     (const struct sockaddr *)&f->cli_addr, f->now),
                     -PL_ECRYPTO);
    pl_peer_stats_t st;
    pl_peer_stats(f->peer, &st);
    assert_int_equal(st.dtls_unknown_tuple, 1);
    assert_int_equal(st.srtp_unknown_tuple, 2);
    assert_int_equal(st.unknown_packets, 1);
    assert_int_equal(st.srtp_auth_failures, 1);
    assert_int_equal(f->rtp_at_peer, 0);
    fx_free(f);
}

static void test_consent_expiry_stops_sending_until_a_check(void **s)
{
    (void)s;
    fx_t *f = fx_new(false);
    connect_all(f);
    f->now += 29000;
    pl_peer_tick(f->peer, f->now);
    assert_int_equal(pl_peer_state(f->peer), PL_PEER_CONNECTED);
    f->now += 2000; /* 31 s without a check */
    pl_peer_tick(f->peer, f->now);
    assert_int_equal(pl_peer_state(f->peer), PL_PEER_DISCONNECTED);
    uint8_t buf[1500];
    size_t n = rtp_packet(buf, 9, "nobody-listening");
    assert_int_equal(pl_peer_send_rtp(f->peer, buf, n, sizeof buf), -PL_EUNAVAIL);
    assert_int_equal(f->to_cli.n, 0);
    assert_int_equal(pl_rtc_client_check(f->cli, false), 0);
    pump(f);
    assert_int_equal(pl_peer_state(f->peer), PL_PEER_CONNECTED);
    assert_int_equal(f->reconnects, 1);
    n = rtp_packet(buf, 10, "back-again");
    assert_int_equal(pl_peer_send_rtp(f->peer, buf, n, sizeof buf), 0);
    pump(f);
    assert_int_equal(f->rtp_at_cli, 1);
    fx_free(f);
}

static void test_network_change_keeps_the_keys(void **s)
{
    (void)s;
    fx_t *f = fx_new(false);
    connect_all(f);
    set_addr(&f->cli_addr, "127.0.0.1", 50001); /* the phone moved from Wi-Fi to 4G */
    assert_int_equal(pl_rtc_client_check(f->cli, true), 0);
    pump(f);
    assert_int_equal(f->reconnects, 1);
    const struct sockaddr_in *a = (const void *)pl_peer_address(f->peer);
    assert_int_equal(ntohs(a->sin_port), 50001);
    uint8_t buf[1500];
    size_t n = rtp_packet(buf, 11, "after-the-move");
    assert_int_equal(pl_peer_send_rtp(f->peer, buf, n, sizeof buf), 0);
    assert_int_equal(ntohs(f->to_cli.to[0].sin_port), 50001);
    pump(f);
    assert_int_equal(f->rtp_at_cli, 1);
    fx_free(f);
}

static void test_fingerprint_mismatch_fails_without_keys(void **s)
{
    (void)s;
    fx_t *f = fx_new(true);
    assert_int_equal(pl_rtc_client_check(f->cli, true), 0);
    pump(f);
    assert_int_equal(pl_rtc_client_start_dtls(f->cli), 0);
    pump(f);
    assert_int_equal(pl_peer_state(f->peer), PL_PEER_FAILED);
    pl_peer_stats_t st;
    pl_peer_stats(f->peer, &st);
    assert_int_equal(st.fingerprint_mismatches, 1);
    uint8_t buf[1500];
    size_t n = rtp_packet(buf, 1, "no");
    assert_int_equal(pl_peer_send_rtp(f->peer, buf, n, sizeof buf), -PL_EUNAVAIL);
    fx_free(f);
}

/* Chromium completes DTLS after its first check and nominates only afterwards: that is one
 * connection, not a reconnection, and consent is not judged before anything is nominated. */
static void test_dtls_before_nomination_is_not_a_reconnect(void **s)
{
    (void)s;
    fx_t *f = fx_new(false);
    assert_int_equal(pl_rtc_client_check(f->cli, false), 0);
    pump(f);
    assert_int_equal(pl_rtc_client_start_dtls(f->cli), 0);
    pump(f);
    assert_int_equal(pl_peer_state(f->peer), PL_PEER_CONNECTED);
    f->now += 100;
    pl_peer_tick(f->peer, f->now);
    assert_int_equal(pl_peer_state(f->peer), PL_PEER_CONNECTED);
    assert_int_equal(pl_rtc_client_check(f->cli, true), 0);
    pump(f);
    assert_int_equal(pl_peer_state(f->peer), PL_PEER_CONNECTED);
    assert_int_equal(f->reconnects, 0);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_dtls_and_srtp_both_ways),
        cmocka_unit_test(test_strangers_are_refused),
        cmocka_unit_test(test_consent_expiry_stops_sending_until_a_check),
        cmocka_unit_test(test_network_change_keeps_the_keys),
        cmocka_unit_test(test_fingerprint_mismatch_fails_without_keys),
        cmocka_unit_test(test_dtls_before_nomination_is_not_a_reconnect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
