/* Unit tests for media/dtls.c: two transports, each with its own context and certificate, wired
 * back to back in memory. Each side's send callback queues datagrams; the test delivers them,
 * drops some to simulate loss, and drives the retransmission timer itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "media/dtls.h"
#include "media/srtp_session.h"

#define QUEUE_MAX 64
#define DGRAM_MAX 2048

typedef struct {
    pl_dtls_ctx_t *ctx;
    pl_dtls_t *dtls;
    uint8_t q[QUEUE_MAX][DGRAM_MAX]; /* datagrams sent and not yet delivered */
    size_t qlen[QUEUE_MAX];
    size_t qn;
    size_t sent;      /* datagrams sent in total */
    size_t max_dgram; /* largest datagram sent */
    int connected;    /* times the connected callback fired */
    pl_srtp_keys_t keys;
    int closed; /* times the closed callback fired */
    pl_dtls_state_t closed_state;
    int closed_err;
} peer_t;

typedef struct {
    peer_t client;
    peer_t server;
} pair_t;

static void on_send(void *opaque, const uint8_t *buf, size_t len)
{
    peer_t *p = opaque;
    assert_true(len <= DGRAM_MAX);
    assert_true(p->qn < QUEUE_MAX);
    memcpy(p->q[p->qn], buf, len);
    p->qlen[p->qn++] = len;
    p->sent++;
    if (len > p->max_dgram) p->max_dgram = len;
}

static void on_connected(void *opaque, pl_srtp_keys_t *keys)
{
    peer_t *p = opaque;
    p->connected++;
    p->keys = *keys;
}

static void on_closed(void *opaque, pl_dtls_state_t state, int err)
{
    peer_t *p = opaque;
    p->closed++;
    p->closed_state = state;
    p->closed_err = err;
}

static const pl_dtls_listener_t listener = {on_send, on_connected, on_closed};

static void make_ctx(peer_t *p, const pl_srtp_profile_t *profiles, size_t n)
{
    assert_int_equal(pl_dtls_ctx_create(profiles, n, &p->ctx), 0);
}

static void fp_of(const peer_t *p, uint8_t fp[PL_DTLS_FP_LEN])
{
    assert_int_equal(pl_dtls_fingerprint_parse(pl_dtls_ctx_fingerprint(p->ctx), fp), 0);
}

/* Creates both transports; each expects the other's real fingerprint unless told to corrupt
 * it. Contexts must exist. */
static void make_transports(pair_t *t, bool bad_fp_at_client, bool bad_fp_at_server)
{
    uint8_t cfp[PL_DTLS_FP_LEN], sfp[PL_DTLS_FP_LEN];
    fp_of(&t->client, cfp);
    fp_of(&t->server, sfp);
    if (bad_fp_at_client) sfp[7] ^= 0x01;
    if (bad_fp_at_server) cfp[31] ^= 0x80;
    assert_int_equal(pl_dtls_create(t->client.ctx, PL_DTLS_ROLE_CLIENT, sfp, &listener, &t->client,
                                    &t->client.dtls),
                     0);
    assert_int_equal(pl_dtls_create(t->server.ctx, PL_DTLS_ROLE_SERVER, cfp, &listener, &t->server,
                                    &t->server.dtls),
                     0);
}

static pair_t *pair_new(const pl_srtp_profile_t *cprof, size_t cn, const pl_srtp_profile_t *sprof,
                        size_t sn, bool bad_fp_at_client, bool bad_fp_at_server)
{
    pair_t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    make_ctx(&t->client, cprof, cn);
    make_ctx(&t->server, sprof, sn);
    make_transports(t, bad_fp_at_client, bad_fp_at_server);
    return t;
}

static void pair_free(pair_t *t)
{
    peer_t *peers[] = {&t->client, &t->server};
    for (size_t i = 0; i < 2; i++) {
        pl_dtls_destroy(peers[i]->dtls);
        pl_dtls_ctx_destroy(peers[i]->ctx);
        pl_wipe(&peers[i]->keys, sizeof peers[i]->keys);
    }
    free(t);
}

/* Feeds everything from has queued to to; returns how many datagrams moved. A transport that
 * has failed or closed refuses what is still in flight to it. */
static size_t deliver(peer_t *from, peer_t *to)
{
    size_t n = from->qn;
    for (size_t i = 0; i < n; i++) {
        int rc = pl_dtls_feed(to->dtls, from->q[i], from->qlen[i]);
        pl_dtls_state_t st = pl_dtls_state(to->dtls);
        if (rc == -PL_ECONFLICT)
            assert_true(st == PL_DTLS_FAILED || st == PL_DTLS_CLOSED);
        else
            assert_int_equal(rc, 0);
    }
    from->qn = 0;
    return n;
}

static void pump(pair_t *t)
{
    for (int i = 0; i < 50; i++)
        if (deliver(&t->client, &t->server) + deliver(&t->server, &t->client) == 0) return;
    fail_msg("handshake did not settle");
}

/* Sleeps until p's retransmission is due, then fires its timer. */
static void fire_timer(peer_t *p)
{
    uint64_t ms = 0;
    assert_int_equal(pl_dtls_timeout_ms(p->dtls, &ms), 0);
    assert_true(ms <= 3000);
    usleep((useconds_t)(ms + 2) * 1000);
    assert_int_equal(pl_dtls_on_timer(p->dtls), 0);
}

static void assert_keys_crosswise(const pair_t *t, pl_srtp_profile_t profile, size_t salt_len)
{
    const pl_srtp_keys_t *c = &t->client.keys, *s = &t->server.keys;
    static const uint8_t zero[PL_SRTP_MAX_KEY_LEN];
    assert_int_equal(c->profile, profile);
    assert_int_equal(s->profile, profile);
    assert_int_equal(c->key_len, 16);
    assert_int_equal(s->key_len, 16);
    assert_int_equal(c->salt_len, salt_len);
    assert_int_equal(s->salt_len, salt_len);
    assert_memory_equal(c->local_key, s->remote_key, 16);
    assert_memory_equal(c->remote_key, s->local_key, 16);
    assert_memory_equal(c->local_salt, s->remote_salt, salt_len);
    assert_memory_equal(c->remote_salt, s->local_salt, salt_len);
    assert_memory_not_equal(c->local_key, c->remote_key, 16);
    assert_memory_not_equal(c->local_key, zero, 16);
}

static void assert_connected(const pair_t *t)
{
    const peer_t *peers[] = {&t->client, &t->server};
    for (size_t i = 0; i < 2; i++) {
        pl_dtls_stats_t st;
        assert_int_equal(pl_dtls_state(peers[i]->dtls), PL_DTLS_CONNECTED);
        assert_int_equal(peers[i]->connected, 1);
        assert_int_equal(peers[i]->closed, 0);
        pl_dtls_stats(peers[i]->dtls, &st);
        assert_int_equal(st.handshakes_ok, 1);
        assert_int_equal(st.fingerprint_mismatches, 0);
        assert_int_equal(st.handshake_failures, 0);
        assert_true(peers[i]->max_dgram <= PL_DTLS_MTU);
    }
}

static void handshake(pair_t *t)
{
    assert_int_equal(pl_dtls_start(t->server.dtls), 0);
    assert_int_equal(pl_dtls_start(t->client.dtls), 0);
    pump(t);
}

static const pl_srtp_profile_t only_gcm[] = {PL_SRTP_PROFILE_AEAD_AES_128_GCM};
static const pl_srtp_profile_t only_cm[] = {PL_SRTP_PROFILE_AES128_CM_SHA1_80};

/* ---- fingerprints and arguments ---- */

static void test_fingerprint_is_uppercase_sdp_form_and_parses_back(void **state)
{
    (void)state;
    pl_dtls_ctx_t *a = NULL, *b = NULL;
    assert_int_equal(pl_dtls_ctx_create(NULL, 0, &a), 0);
    assert_int_equal(pl_dtls_ctx_create(NULL, 0, &b), 0);
    const char *fp = pl_dtls_ctx_fingerprint(a);
    assert_int_equal(strlen(fp), 95);
    for (size_t i = 0; i < 95; i++) {
        if (i % 3 == 2)
            assert_int_equal(fp[i], ':');
        else
            assert_true((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'A' && fp[i] <= 'F'));
    }
    /* A new certificate per context. */
    assert_string_not_equal(fp, pl_dtls_ctx_fingerprint(b));

    uint8_t bytes[PL_DTLS_FP_LEN], lower_bytes[PL_DTLS_FP_LEN];
    char lower[PL_DTLS_FP_STR_LEN];
    assert_int_equal(pl_dtls_fingerprint_parse(fp, bytes), 0);
    for (size_t i = 0; i < sizeof lower; i++)
        lower[i] = (char)((fp[i] >= 'A' && fp[i] <= 'F') ? fp[i] + 32 : fp[i]);
    assert_int_equal(pl_dtls_fingerprint_parse(lower, lower_bytes), 0);
    assert_memory_equal(bytes, lower_bytes, sizeof bytes);
    pl_dtls_ctx_destroy(a);
    pl_dtls_ctx_destroy(b);
}

static void test_fingerprint_parse_rejects_malformed(void **state)
{
    (void)state;
    uint8_t out[PL_DTLS_FP_LEN];
    char s[200];
    memset(s, 0, sizeof s);
    for (size_t i = 0; i < PL_DTLS_FP_LEN; i++)
        memcpy(s + 3 * i, i + 1 < PL_DTLS_FP_LEN ? "AB:" : "AB", 3);
    assert_int_equal(pl_dtls_fingerprint_parse(s, out), 0);

    char bad[200];
    memcpy(bad, s, sizeof s);
    bad[4] = 'G'; /* not hex */
    assert_int_equal(pl_dtls_fingerprint_parse(bad, out), -PL_EINVAL);
    memcpy(bad, s, sizeof s);
    bad[2] = '-'; /* wrong separator */
    assert_int_equal(pl_dtls_fingerprint_parse(bad, out), -PL_EINVAL);
    memcpy(bad, s, sizeof s);
    bad[94] = '\0'; /* one digit short */
    assert_int_equal(pl_dtls_fingerprint_parse(bad, out), -PL_EINVAL);
    memcpy(bad, s, sizeof s);
    memcpy(bad + 95, ":AB", 4); /* one byte long (a SHA-384 would be longer still) */
    assert_int_equal(pl_dtls_fingerprint_parse(bad, out), -PL_EINVAL);
    assert_int_equal(pl_dtls_fingerprint_parse("", out), -PL_EINVAL);
    assert_int_equal(pl_dtls_fingerprint_parse(NULL, out), -PL_EINVAL);
}

static void test_create_rejects_bad_arguments(void **state)
{
    (void)state;
    pl_dtls_ctx_t *ctx = NULL;
    pl_dtls_t *d = (pl_dtls_t *)&ctx; /* must be reset to NULL on failure */
    const pl_srtp_profile_t unknown[] = {(pl_srtp_profile_t)0x0002};
    uint8_t fp[PL_DTLS_FP_LEN] = {0};
    pl_dtls_listener_t no_send = {NULL, on_connected, on_closed};

    assert_int_equal(pl_dtls_ctx_create(unknown, 1, &ctx), -PL_EINVAL);
    assert_null(ctx);
    assert_int_equal(pl_dtls_ctx_create(only_gcm, 0, &ctx), -PL_EINVAL);
    assert_int_equal(pl_dtls_ctx_create(NULL, 0, &ctx), 0);
    assert_int_equal(pl_dtls_create(ctx, PL_DTLS_ROLE_SERVER, NULL, &listener, NULL, &d),
                     -PL_EINVAL);
    assert_null(d);
    assert_int_equal(pl_dtls_create(ctx, PL_DTLS_ROLE_SERVER, fp, &no_send, NULL, &d), -PL_EINVAL);
    assert_int_equal(pl_dtls_create(ctx, (pl_dtls_role_t)7, fp, &listener, NULL, &d), -PL_EINVAL);
    assert_int_equal(pl_dtls_create(NULL, PL_DTLS_ROLE_SERVER, fp, &listener, NULL, &d),
                     -PL_EINVAL);
    pl_dtls_ctx_destroy(ctx);
}

/* ---- handshakes ---- */

static void test_handshake_gcm_connects_and_keys_match_crosswise(void **state)
{
    (void)state;
    pair_t *t = pair_new(only_gcm, 1, NULL, 0, false, false);
    handshake(t);
    assert_connected(t);
    assert_keys_crosswise(t, PL_SRTP_PROFILE_AEAD_AES_128_GCM, 12);
    pair_free(t);
}

static void test_handshake_cm_sha1_80_connects_and_keys_match_crosswise(void **state)
{
    (void)state;
    pair_t *t = pair_new(only_cm, 1, NULL, 0, false, false);
    handshake(t);
    assert_connected(t);
    assert_keys_crosswise(t, PL_SRTP_PROFILE_AES128_CM_SHA1_80, 14);
    pair_free(t);
}

static void test_server_picks_gcm_when_client_offers_both(void **state)
{
    (void)state;
    const pl_srtp_profile_t cm_first[] = {PL_SRTP_PROFILE_AES128_CM_SHA1_80,
                                          PL_SRTP_PROFILE_AEAD_AES_128_GCM};
    pair_t *t = pair_new(cm_first, 2, NULL, 0, false, false);
    handshake(t);
    assert_connected(t);
    assert_keys_crosswise(t, PL_SRTP_PROFILE_AEAD_AES_128_GCM, 12);
    pair_free(t);
}

static void test_each_handshake_exports_fresh_keys(void **state)
{
    (void)state;
    pair_t *a = pair_new(NULL, 0, NULL, 0, false, false);
    pair_t *b = pair_new(NULL, 0, NULL, 0, false, false);
    handshake(a);
    handshake(b);
    assert_connected(a);
    assert_connected(b);
    assert_memory_not_equal(a->client.keys.local_key, b->client.keys.local_key, 16);
    pair_free(a);
    pair_free(b);
}

static void test_handshake_datagrams_never_exceed_mtu(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, false, false);
    handshake(t);
    assert_connected(t);
    assert_true(t->client.sent >= 2);
    assert_true(t->server.sent >= 2);
    assert_true(t->client.max_dgram <= PL_DTLS_MTU);
    assert_true(t->server.max_dgram <= PL_DTLS_MTU);
    pl_dtls_stats_t st;
    pl_dtls_stats(t->server.dtls, &st);
    assert_int_equal(st.datagrams_out, t->server.sent);
    assert_int_equal(st.datagrams_dropped, 0);
    pair_free(t);
}

static void test_no_timer_once_connected_and_none_before_client_hello(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, false, false);
    uint64_t ms = 0;
    assert_int_equal(pl_dtls_timeout_ms(t->server.dtls, &ms), -PL_ENOTFOUND); /* NEW */
    assert_int_equal(pl_dtls_start(t->server.dtls), 0);
    assert_int_equal(pl_dtls_timeout_ms(t->server.dtls, &ms), -PL_ENOTFOUND); /* waiting */
    assert_int_equal(pl_dtls_start(t->client.dtls), 0);
    assert_int_equal(pl_dtls_start(t->client.dtls), -PL_ECONFLICT);
    assert_int_equal(pl_dtls_timeout_ms(t->client.dtls, &ms), 0); /* ClientHello in flight */
    assert_true(ms > 0 && ms <= 1000);
    pump(t);
    assert_connected(t);
    assert_int_equal(pl_dtls_timeout_ms(t->client.dtls, &ms), -PL_ENOTFOUND);
    assert_int_equal(pl_dtls_timeout_ms(t->server.dtls, &ms), -PL_ENOTFOUND);
    assert_int_equal(pl_dtls_on_timer(t->client.dtls), 0); /* harmless */
    pair_free(t);
}

/* ---- authentication ---- */

static void assert_failed_without_keys(const peer_t *p)
{
    pl_dtls_stats_t st;
    pl_dtls_stats(p->dtls, &st);
    assert_int_equal(pl_dtls_state(p->dtls), PL_DTLS_FAILED);
    assert_int_equal(p->connected, 0);
    assert_int_equal(p->closed, 1);
    assert_int_equal(p->closed_state, PL_DTLS_FAILED);
    assert_int_equal(st.handshakes_ok, 0);
    static const uint8_t zero[sizeof p->keys] = {0};
    assert_memory_equal(&p->keys, zero, sizeof zero);
}

static void test_client_fingerprint_mismatch_fails_and_yields_no_keys(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, true, false);
    handshake(t);
    assert_failed_without_keys(&t->client);
    assert_int_equal(t->client.closed_err, -PL_EAUTH);
    pl_dtls_stats_t st;
    pl_dtls_stats(t->client.dtls, &st);
    assert_int_equal(st.fingerprint_mismatches, 1);
    /* The client's close_notify ends the server too. */
    assert_int_equal(pl_dtls_state(t->server.dtls), PL_DTLS_CLOSED);
    assert_int_equal(t->server.closed_err, 0);
    pair_free(t);
}

static void test_server_fingerprint_mismatch_fails_and_yields_no_keys(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, false, true);
    handshake(t);
    assert_failed_without_keys(&t->server);
    assert_int_equal(t->server.closed_err, -PL_EAUTH);
    pl_dtls_stats_t st;
    pl_dtls_stats(t->server.dtls, &st);
    assert_int_equal(st.fingerprint_mismatches, 1);
    assert_int_equal(st.handshake_failures, 0);
    assert_int_equal(pl_dtls_state(t->client.dtls), PL_DTLS_CLOSED);
    pair_free(t);
}

static void test_no_common_srtp_profile_fails_without_keys(void **state)
{
    (void)state;
    pair_t *t = pair_new(only_cm, 1, only_gcm, 1, false, false);
    handshake(t);
    assert_failed_without_keys(&t->server);
    assert_int_equal(t->server.closed_err, -PL_ECRYPTO);
    pl_dtls_stats_t st;
    pl_dtls_stats(t->server.dtls, &st);
    assert_int_equal(st.handshake_failures, 1);
    assert_int_equal(t->client.connected, 0);
    assert_true(pl_dtls_state(t->client.dtls) == PL_DTLS_FAILED ||
                pl_dtls_state(t->client.dtls) == PL_DTLS_CLOSED);
    pair_free(t);
}

/* ---- loss and retransmission ---- */

static void test_lost_client_hello_is_retransmitted_on_timer(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, false, false);
    assert_int_equal(pl_dtls_start(t->server.dtls), 0);
    assert_int_equal(pl_dtls_start(t->client.dtls), 0);
    assert_int_equal(t->client.qn, 1);
    t->client.qn = 0; /* lost */

    /* A timer that fires early does nothing. */
    assert_int_equal(pl_dtls_on_timer(t->client.dtls), 0);
    assert_int_equal(t->client.qn, 0);

    for (int i = 0; i < 5 && pl_dtls_state(t->client.dtls) != PL_DTLS_CONNECTED; i++) {
        fire_timer(&t->client);
        pump(t);
    }
    assert_connected(t);
    pl_dtls_stats_t st;
    pl_dtls_stats(t->client.dtls, &st);
    assert_int_equal(st.retransmissions, 1);
    pair_free(t);
}

static void test_lost_server_flight_is_retransmitted_on_timer(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, false, false);
    assert_int_equal(pl_dtls_start(t->server.dtls), 0);
    assert_int_equal(pl_dtls_start(t->client.dtls), 0);
    deliver(&t->client, &t->server);
    assert_true(t->server.qn >= 1);
    t->server.qn = 0; /* ServerHello..ServerHelloDone lost */
    fire_timer(&t->server);
    assert_true(t->server.qn >= 1);
    pump(t);
    assert_connected(t);
    pair_free(t);
}

/* The last flight (ChangeCipherSpec, Finished) goes from server to client and has no timer of
 * its own: when it is lost, the client's timer resends its flight and the already connected
 * server answers by resending its last one. */
static void test_lost_final_flight_is_resent_when_client_retransmits(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, false, false);
    assert_int_equal(pl_dtls_start(t->server.dtls), 0);
    assert_int_equal(pl_dtls_start(t->client.dtls), 0);
    deliver(&t->client, &t->server); /* ClientHello */
    deliver(&t->server, &t->client); /* ServerHello .. ServerHelloDone */
    deliver(&t->client, &t->server); /* Certificate .. Finished */
    assert_int_equal(pl_dtls_state(t->server.dtls), PL_DTLS_CONNECTED);
    assert_true(t->server.qn >= 1);
    t->server.qn = 0; /* lost */
    assert_int_equal(pl_dtls_state(t->client.dtls), PL_DTLS_CONNECTING);

    for (int i = 0; i < 5 && pl_dtls_state(t->client.dtls) != PL_DTLS_CONNECTED; i++) {
        fire_timer(&t->client);
        pump(t);
    }
    assert_connected(t);
    assert_keys_crosswise(t, PL_SRTP_PROFILE_AEAD_AES_128_GCM, 12);
    pair_free(t);
}

/* ---- bad input ---- */

static void test_garbage_and_truncated_records_are_counted_and_handshake_survives(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, false, false);
    assert_int_equal(pl_dtls_start(t->server.dtls), 0);
    assert_int_equal(pl_dtls_start(t->client.dtls), 0);
    assert_int_equal(t->client.qn, 1);
    const uint8_t *hello = t->client.q[0];
    size_t hello_len = t->client.qlen[0];
    pl_dtls_t *srv = t->server.dtls;

    uint8_t buf[DGRAM_MAX + 16];
    const uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
    const uint8_t rtp[20] = {0x80, 0x60, 0x00, 0x01};
    assert_int_equal(pl_dtls_feed(srv, stun, sizeof stun), -PL_EINVAL);
    assert_int_equal(pl_dtls_feed(srv, rtp, sizeof rtp), -PL_EINVAL);
    assert_int_equal(pl_dtls_feed(srv, hello, 5), -PL_EINVAL);              /* short */
    assert_int_equal(pl_dtls_feed(srv, hello, hello_len - 10), -PL_EINVAL); /* truncated */
    assert_int_equal(pl_dtls_feed(srv, hello, 0), -PL_EINVAL);              /* empty */
    assert_int_equal(pl_dtls_feed(srv, NULL, 10), -PL_EINVAL);
    memcpy(buf, hello, hello_len);
    memcpy(buf + hello_len, "\x16\xfe", 2); /* a second record cut after two bytes */
    assert_int_equal(pl_dtls_feed(srv, buf, hello_len + 2), -PL_EINVAL);
    memcpy(buf, hello, hello_len);
    buf[1] = 0x03; /* TLS, not DTLS, version */
    assert_int_equal(pl_dtls_feed(srv, buf, hello_len), -PL_EINVAL);
    memcpy(buf, hello, hello_len);
    buf[0] = 30; /* in the DTLS demux range but no such content type */
    assert_int_equal(pl_dtls_feed(srv, buf, hello_len), -PL_EINVAL);

    pl_dtls_stats_t st;
    pl_dtls_stats(srv, &st);
    assert_int_equal(st.bad_records, 9);
    assert_int_equal(t->server.qn, 0);
    assert_int_equal(pl_dtls_state(srv), PL_DTLS_CONNECTING);

    pump(t); /* the real ClientHello still works */
    assert_connected(t);
    assert_int_equal(pl_dtls_feed(t->client.dtls, rtp, sizeof rtp), -PL_EINVAL);
    pl_dtls_stats(t->client.dtls, &st);
    assert_int_equal(st.bad_records, 1);
    assert_int_equal(pl_dtls_state(t->client.dtls), PL_DTLS_CONNECTED);
    pair_free(t);
}

/* Well-framed records with random contents reach OpenSSL. They may fail the handshake (that is
 * DTLS), but must never crash or produce keys. */
static void test_well_framed_random_records_never_crash(void **state)
{
    (void)state;
    for (int round = 0; round < 200; round++) {
        pair_t *t = pair_new(NULL, 0, NULL, 0, false, false);
        assert_int_equal(pl_dtls_start(t->server.dtls), 0);
        assert_int_equal(pl_dtls_start(t->client.dtls), 0);
        if (round % 2) deliver(&t->client, &t->server);
        uint8_t rec[300];
        assert_int_equal(pl_random_bytes(rec, sizeof rec), 0);
        size_t body = rec[299] % (sizeof rec - 13);
        rec[0] = (uint8_t)(20 + rec[0] % 4);
        rec[1] = 0xfe;
        rec[2] = 0xfd;
        if (round % 3 == 0) rec[3] = rec[4] = 0; /* epoch 0, as in the handshake */
        rec[11] = (uint8_t)(body >> 8);
        rec[12] = (uint8_t)body;
        peer_t *target = round % 4 < 2 ? &t->server : &t->client;
        int rc = pl_dtls_feed(target->dtls, rec, 13 + body);
        assert_true(rc == 0 || rc == -PL_ECONFLICT);
        assert_int_equal(target->connected, 0);
        pair_free(t);
    }
}

static void test_fatal_alert_during_handshake_fails_transport(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, false, false);
    assert_int_equal(pl_dtls_start(t->server.dtls), 0);
    assert_int_equal(pl_dtls_start(t->client.dtls), 0);
    deliver(&t->client, &t->server);
    /* alert(21), DTLS 1.2, epoch 0, sequence 16, length 2: fatal(2) handshake_failure(40) */
    const uint8_t alert[] = {21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 16, 0, 2, 2, 40};
    t->client.qn = 0;
    assert_int_equal(pl_dtls_feed(t->client.dtls, alert, sizeof alert), 0);
    assert_failed_without_keys(&t->client);
    assert_int_equal(t->client.closed_err, -PL_ECRYPTO);
    pl_dtls_stats_t st;
    pl_dtls_stats(t->client.dtls, &st);
    assert_int_equal(st.handshake_failures, 1);
    pair_free(t);
}

static void test_input_after_failure_is_rejected_and_counted(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, true, false);
    handshake(t);
    assert_int_equal(pl_dtls_state(t->client.dtls), PL_DTLS_FAILED);
    const uint8_t rec[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0};
    pl_dtls_stats_t before, st;
    pl_dtls_stats(t->client.dtls, &before); /* the server's answering close_notify, already */
    assert_int_equal(pl_dtls_feed(t->client.dtls, rec, sizeof rec), -PL_ECONFLICT);
    assert_int_equal(pl_dtls_feed(t->client.dtls, rec, 3), -PL_ECONFLICT);
    pl_dtls_stats(t->client.dtls, &st);
    assert_int_equal(st.late_records, before.late_records + 2);
    assert_int_equal(st.bad_records, 0);
    assert_int_equal(t->client.closed, 1); /* no second report */
    assert_int_equal(pl_dtls_on_timer(t->client.dtls), 0);
    assert_int_equal(pl_dtls_close(t->client.dtls), -PL_ECONFLICT);

    /* Before start, too. */
    pl_dtls_t *fresh = NULL;
    uint8_t fp[PL_DTLS_FP_LEN] = {0};
    assert_int_equal(
        pl_dtls_create(t->server.ctx, PL_DTLS_ROLE_SERVER, fp, &listener, &t->server, &fresh), 0);
    assert_int_equal(pl_dtls_feed(fresh, rec, sizeof rec), -PL_ECONFLICT);
    pl_dtls_stats(fresh, &st);
    assert_int_equal(st.late_records, 1);
    pl_dtls_destroy(fresh);
    pair_free(t);
}

/* ---- closing ---- */

static void test_close_notify_closes_the_peer(void **state)
{
    (void)state;
    pair_t *t = pair_new(NULL, 0, NULL, 0, false, false);
    handshake(t);
    assert_connected(t);
    assert_int_equal(pl_dtls_close(t->client.dtls), 0);
    assert_int_equal(pl_dtls_state(t->client.dtls), PL_DTLS_CLOSED);
    assert_int_equal(t->client.closed, 0); /* our own close is not reported */
    assert_int_equal(t->client.qn, 1);
    deliver(&t->client, &t->server);
    assert_int_equal(pl_dtls_state(t->server.dtls), PL_DTLS_CLOSED);
    assert_int_equal(t->server.closed, 1);
    assert_int_equal(t->server.closed_state, PL_DTLS_CLOSED);
    assert_int_equal(t->server.closed_err, 0);
    /* The server answered with its own close_notify, which the closed client drops. */
    assert_int_equal(t->server.qn, 1);
    assert_int_equal(pl_dtls_feed(t->client.dtls, t->server.q[0], t->server.qlen[0]),
                     -PL_ECONFLICT);
    pair_free(t);
}

/* ---- the keys work ---- */

static void test_exported_keys_drive_interoperable_srtp_sessions(void **state)
{
    (void)state;
    const pl_srtp_profile_t *profiles[] = {only_gcm, only_cm};
    for (size_t i = 0; i < 2; i++) {
        pair_t *t = pair_new(profiles[i], 1, NULL, 0, false, false);
        handshake(t);
        assert_connected(t);
        pl_srtp_session_t *c = NULL, *s = NULL;
        assert_int_equal(pl_srtp_session_create(&t->client.keys, &c), 0);
        assert_int_equal(pl_srtp_session_create(&t->server.keys, &s), 0);

        uint8_t pkt[12 + 100 + PL_SRTP_TAIL_ROOM] = {0x80, 96, 0x12, 0x34, 0,    0,
                                                     0x10, 0,  0xca, 0xfe, 0xba, 0xbe};
        memset(pkt + 12, 0x5a, 100);
        size_t len = 112;
        assert_int_equal(pl_srtp_protect_rtp(c, pkt, sizeof pkt, &len), 0);
        assert_int_equal(pl_srtp_unprotect_rtp(s, pkt, &len), 0);
        assert_int_equal(len, 112);
        assert_int_equal(pkt[12], 0x5a);
        len = 112;
        assert_int_equal(pl_srtp_protect_rtp(s, pkt, sizeof pkt, &len), 0);
        assert_int_equal(pl_srtp_unprotect_rtp(c, pkt, &len), 0);

        pl_srtp_session_destroy(c);
        pl_srtp_session_destroy(s);
        pair_free(t);
    }
}

/* An independent check of the RFC 5764 section 4.2 layout: a plain OpenSSL client (not
 * pl_dtls) exports the keying block itself, and the server's keys must be its slices. The
 * crosswise tests above cannot catch a layout both sides get wrong the same way. */
static SSL *raw_client_new(uint8_t fp[PL_DTLS_FP_LEN])
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(pkey);
    assert_non_null(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"raw", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
    unsigned int n = 0;
    assert_true(X509_digest(x, EVP_sha256(), fp, &n) && n == PL_DTLS_FP_LEN);

    SSL_CTX *c = SSL_CTX_new(DTLS_client_method());
    assert_non_null(c);
    assert_true(SSL_CTX_use_certificate(c, x) && SSL_CTX_use_PrivateKey(c, pkey));
    assert_int_equal(SSL_CTX_set_tlsext_use_srtp(c, "SRTP_AES128_CM_SHA1_80"), 0);
    SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU);
    SSL *ssl = SSL_new(c);
    assert_non_null(ssl);
    SSL_set_mtu(ssl, PL_DTLS_MTU);
    SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_connect_state(ssl);
    SSL_CTX_free(c);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return ssl;
}

static void test_keys_follow_rfc5764_layout_against_a_raw_openssl_client(void **state)
{
    (void)state;
    peer_t *srv = calloc(1, sizeof *srv);
    assert_non_null(srv);
    uint8_t raw_fp[PL_DTLS_FP_LEN];
    SSL *raw = raw_client_new(raw_fp);
    make_ctx(srv, NULL, 0);
    assert_int_equal(
        pl_dtls_create(srv->ctx, PL_DTLS_ROLE_SERVER, raw_fp, &listener, srv, &srv->dtls), 0);
    assert_int_equal(pl_dtls_start(srv->dtls), 0);

    int done = 0;
    for (int i = 0; i < 10 && !(done == 1 && srv->connected); i++) {
        done = SSL_do_handshake(raw);
        char *out = NULL;
        long n = BIO_get_mem_data(SSL_get_wbio(raw), &out);
        /* A memory BIO joins the client's datagrams; DTLS records delimit themselves. */
        if (n > 0) assert_int_equal(pl_dtls_feed(srv->dtls, (uint8_t *)out, (size_t)n), 0);
        (void)BIO_reset(SSL_get_wbio(raw));
        for (size_t k = 0; k < srv->qn; k++)
            BIO_write(SSL_get_rbio(raw), srv->q[k], (int)srv->qlen[k]);
        srv->qn = 0;
    }
    assert_int_equal(done, 1);
    assert_int_equal(srv->connected, 1);

    /* client key 16 | server key 16 | client salt 14 | server salt 14 */
    uint8_t m[60];
    assert_int_equal(
        SSL_export_keying_material(raw, m, sizeof m, "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0), 1);
    const pl_srtp_keys_t *k = &srv->keys;
    assert_int_equal(k->profile, PL_SRTP_PROFILE_AES128_CM_SHA1_80);
    assert_memory_equal(k->remote_key, m, 16);
    assert_memory_equal(k->local_key, m + 16, 16);
    assert_memory_equal(k->remote_salt, m + 32, 14);
    assert_memory_equal(k->local_salt, m + 46, 14);

    pl_wipe(m, sizeof m);
    SSL_free(raw);
    pl_dtls_destroy(srv->dtls);
    pl_dtls_ctx_destroy(srv->ctx);
    pl_wipe(&srv->keys, sizeof srv->keys);
    free(srv);
}

int main(void)
{
    /* Failure paths log warnings by design; keep the test output to cmocka's lines. */
    pl_log_set_level(PL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_is_uppercase_sdp_form_and_parses_back),
        cmocka_unit_test(test_fingerprint_parse_rejects_malformed),
        cmocka_unit_test(test_create_rejects_bad_arguments),
        cmocka_unit_test(test_handshake_gcm_connects_and_keys_match_crosswise),
        cmocka_unit_test(test_handshake_cm_sha1_80_connects_and_keys_match_crosswise),
        cmocka_unit_test(test_server_picks_gcm_when_client_offers_both),
        cmocka_unit_test(test_each_handshake_exports_fresh_keys),
        cmocka_unit_test(test_handshake_datagrams_never_exceed_mtu),
        cmocka_unit_test(test_no_timer_once_connected_and_none_before_client_hello),
        cmocka_unit_test(test_client_fingerprint_mismatch_fails_and_yields_no_keys),
        cmocka_unit_test(test_server_fingerprint_mismatch_fails_and_yields_no_keys),
        cmocka_unit_test(test_no_common_srtp_profile_fails_without_keys),
        cmocka_unit_test(test_lost_client_hello_is_retransmitted_on_timer),
        cmocka_unit_test(test_lost_server_flight_is_retransmitted_on_timer),
        cmocka_unit_test(test_lost_final_flight_is_resent_when_client_retransmits),
        cmocka_unit_test(test_garbage_and_truncated_records_are_counted_and_handshake_survives),
        cmocka_unit_test(test_well_framed_random_records_never_crash),
        cmocka_unit_test(test_fatal_alert_during_handshake_fails_transport),
        cmocka_unit_test(test_input_after_failure_is_rejected_and_counted),
        cmocka_unit_test(test_close_notify_closes_the_peer),
        cmocka_unit_test(test_exported_keys_drive_interoperable_srtp_sessions),
        cmocka_unit_test(test_keys_follow_rfc5764_layout_against_a_raw_openssl_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
