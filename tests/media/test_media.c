/* The SFU over real UDP on loopback: two test clients (acting as browsers) connect to one room
 * through pl_media's socket, and RTP from one reaches the other, decrypted. Datagrams from
 * strangers are dropped and counted. The socket gets the receive buffer the kernel allows. */
#include "core/err.h"
#include "media/media.h"
#include "media/room.h"
#include "media/sdp.h"
#include "tests/support/rtc_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    int fd;
    struct sockaddr_in server;
    pl_rtc_client_t *cli;
    int rtp_in;
    char last[64];
} client_t;

static void cli_send(void *opaque, const uint8_t *buf, size_t len)
{
    client_t *c = opaque;
    sendto(c->fd, buf, len, 0, (const struct sockaddr *)&c->server, sizeof c->server);
}

static void cli_media(void *opaque, const uint8_t *buf, size_t len, bool rtcp)
{
    client_t *c = opaque;
    if (rtcp || len <= 12) return;
    c->rtp_in++;
    size_t n = len - 12 < sizeof c->last - 1 ? len - 12 : sizeof c->last - 1;
    memcpy(c->last, buf + 12, n);
    c->last[n] = 0;
}

static void client_open(client_t *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in me = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
    assert_int_equal(bind(c->fd, (struct sockaddr *)&me, sizeof me), 0);
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    c->server.sin_family = AF_INET;
    c->server.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &c->server.sin_addr);
}

static void client_poll(client_t *c)
{
    uint8_t buf[2048];
    ssize_t n;
    while ((n = recv(c->fd, buf, sizeof buf, 0)) > 0) pl_rtc_client_receive(c->cli, buf, (size_t)n);
    pl_rtc_client_tick(c->cli);
}

static void spin(uv_loop_t *loop, client_t *a, client_t *b, int ms)
{
    for (int i = 0; i < ms; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        client_poll(a);
        if (b) client_poll(b);
        usleep(1000);
    }
}

static size_t rtp_packet(uint8_t *buf, uint16_t seq, uint32_t ssrc, const char *payload)
{
    memset(buf, 0, 12);
    buf[0] = 0x80;
    buf[1] = 111;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    size_t n = strlen(payload);
    memcpy(buf + 12, payload, n);
    return 12 + n;
}

static int events;
static void on_event(void *opaque, const pl_media_event_t *ev)
{
    (void)opaque;
    if (ev->kind == PL_MEDIA_EV_CONNECTED) events++;
}

/* Adds a peer for c with the test client's offer of `slots` slots (0: the two-section
 * Chromium offer), answered as the signalling layer does; pl_media_peer_set_media must return
 * want. Returns the peer. */
static pl_media_peer_t *join_slots(pl_media_t *m, pl_media_room_t *r, client_t *c, uint64_t key,
                                   int slots, int want)
{
    assert_int_equal(pl_rtc_client_create("x", "y", pl_media_fingerprint(m), cli_send, cli_media,
                                          c, &c->cli),
                     0);
    pl_media_peer_t *p;
    assert_int_equal(pl_media_peer_add(r, key, pl_rtc_client_ufrag(c->cli),
                                       pl_rtc_client_pwd(c->cli), pl_rtc_client_fingerprint(c->cli),
                                       &p),
                     0);
    pl_rtc_client_restart(c->cli, pl_media_peer_ufrag(p), pl_media_peer_pwd(p), NULL, NULL);
    /* The answer, as the signalling layer writes it, puts the peer in the room. */
    char *offer_text = pl_rtc_client_offer_slots(c->cli, slots);
    assert_non_null(offer_text);
    pl_sdp_offer_t *offer = NULL;
    assert_int_equal(pl_sdp_offer_parse((const uint8_t *)offer_text, strlen(offer_text), &offer,
                                        NULL),
                     0);
    pl_room_answer_t ra;
    assert_int_equal(pl_room_answer_prepare(offer, true, &ra), 0);
    pl_sdp_answer_params_t ap = {.session_id = 1, .session_version = 1,
                                 .ice_ufrag = pl_media_peer_ufrag(p),
                                 .ice_pwd = pl_media_peer_pwd(p), .candidate_ip = "127.0.0.1",
                                 .candidate_port = (uint16_t)pl_media_port(m)};
    assert_int_equal(pl_dtls_fingerprint_parse(pl_media_fingerprint(m), ap.fingerprint), 0);
    pl_room_answer_apply(&ra, &ap);
    static pl_sdp_negotiated_t neg;
    char *answer = NULL;
    assert_int_equal(pl_sdp_answer_create(offer, &ap, &answer, &neg, NULL), 0);
    assert_int_equal(pl_media_peer_set_media(p, offer, &neg, true), want);
    if (want == 0) assert_int_equal(pl_media_peer_set_media(p, offer, &neg, true), -PL_ECONFLICT);
    free(answer);
    free(offer_text);
    pl_sdp_offer_destroy(offer);
    return p;
}

static void join(pl_media_t *m, pl_media_room_t *r, client_t *c, uint64_t key)
{
    join_slots(m, r, c, key, 0, 0);
}

static void test_two_clients_exchange_media_over_udp(void **s)
{
    (void)s;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pl_media_t *m;
    events = 0;
    assert_int_equal(pl_media_create(&loop, "127.0.0.1", "127.0.0.1", 0, on_event, NULL, &m), 0);
    assert_true(pl_media_port(m) > 0);
    pl_media_room_t *room;
    assert_int_equal(pl_media_room_create(m, 1, &room), 0);
    client_t a, b;
    client_open(&a, pl_media_port(m));
    client_open(&b, pl_media_port(m));
    join(m, room, &a, 10);
    join(m, room, &b, 20);
    for (client_t *c = &a; c; c = c == &a ? &b : NULL) {
        assert_int_equal(pl_rtc_client_check(c->cli, true), 0);
        spin(&loop, &a, &b, 30);
        assert_int_equal(pl_rtc_client_stun_ok(c->cli), 1);
        assert_int_equal(pl_rtc_client_start_dtls(c->cli), 0);
        for (int i = 0; i < 200 && !pl_rtc_client_connected(c->cli); i++) spin(&loop, &a, &b, 5);
        assert_true(pl_rtc_client_connected(c->cli));
    }
    spin(&loop, &a, &b, 20);
    assert_int_equal(events, 2);
    uint8_t buf[1500];
    for (int i = 0; i < 10; i++) {
        size_t n = rtp_packet(buf, (uint16_t)(100 + i), PL_RTC_OFFER_AUDIO_SSRC, "opus-frame-from-a");
        assert_int_equal(pl_rtc_client_send(a.cli, buf, n, sizeof buf, false), 0);
    }
    size_t n = rtp_packet(buf, 5, PL_RTC_OFFER_AUDIO_SSRC, "opus-frame-from-b");
    assert_int_equal(pl_rtc_client_send(b.cli, buf, n, sizeof buf, false), 0);
    spin(&loop, &a, &b, 50);
    assert_int_equal(b.rtp_in, 10);
    assert_string_equal(b.last, "opus-frame-from-a");
    assert_int_equal(a.rtp_in, 1);
    assert_string_equal(a.last, "opus-frame-from-b");

    /* A stranger's datagrams reach no one. */
    client_t x;
    client_open(&x, pl_media_port(m));
    uint8_t junk[] = {0x80, 111, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 'h', 'i'};
    sendto(x.fd, junk, sizeof junk, 0, (const struct sockaddr *)&x.server, sizeof x.server);
    uint8_t dtls[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    sendto(x.fd, dtls, sizeof dtls, 0, (const struct sockaddr *)&x.server, sizeof x.server);
    spin(&loop, &a, &b, 20);
    pl_media_stats_t st;
    pl_media_stats(m, &st);
    assert_int_equal(st.unknown_source, 2);
    assert_int_equal(st.rtp_forwarded, 11);
    assert_int_equal(b.rtp_in, 10);

    pl_rtc_client_destroy(a.cli);
    pl_rtc_client_destroy(b.cli);
    close(a.fd);
    close(b.fd);
    close(x.fd);
    pl_media_destroy(m);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* What the kernel grants an ordinary SO_RCVBUF request of want bytes (capped at
 * net.core.rmem_max), read back as SO_RCVBUF reports it, from a socket of our own. */
static int kernel_allowed_rcvbuf(int want)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want), 0);
    int got = 0;
    socklen_t len = sizeof got;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
    close(fd);
    return got;
}

static int default_rcvbuf(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    int got = 0;
    socklen_t len = sizeof got;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
    close(fd);
    return got;
}

static void test_media_socket_gets_at_least_the_receive_buffer_the_kernel_allows(void **s)
{
    (void)s;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pl_media_t *m;
    assert_int_equal(pl_media_create(&loop, "127.0.0.1", "127.0.0.1", 0, NULL, NULL, &m), 0);
    int got = pl_media_recv_buffer_size(m);
    int allowed = kernel_allowed_rcvbuf(PL_MEDIA_RCVBUF_BYTES);
    print_message("receive buffer %d (an ordinary request gets %d, the default is %d)\n", got,
                  allowed, default_rcvbuf());
    /* With CAP_NET_ADMIN, SO_RCVBUFFORCE may go past the cap: at least, never less. Left at the
     * default the socket would fail this, unless rmem_max were under half the default. */
    assert_true(got >= allowed);
    pl_media_stats_t st;
    pl_media_stats(m, &st);
    assert_true(st.rcvbuf_bytes == (uint64_t)got);
    assert_true(st.sndbuf_bytes > 0);
    pl_media_destroy(m);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_room_capacity_and_slot_counts_through_the_media_api(void **s)
{
    (void)s;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pl_media_t *m;
    assert_int_equal(pl_media_create(&loop, "127.0.0.1", "127.0.0.1", 0, NULL, NULL, &m), 0);
    pl_media_room_t *room;
    assert_int_equal(pl_media_room_create(m, 1, &room), 0);
    client_t c[5];
    pl_media_peer_t *p[5];
    for (int i = 0; i < 5; i++)
        client_open(&c[i], pl_media_port(m));
    /* Three by default, whatever the offers. */
    p[0] = join_slots(m, room, &c[0], 10, 0, 0);
    p[1] = join_slots(m, room, &c[1], 11, 7, 0);
    p[2] = join_slots(m, room, &c[2], 12, 3, 0);
    p[3] = join_slots(m, room, &c[3], 13, 7, -PL_ETOOBIG);
    assert_int_equal(pl_media_peer_slot_count(p[3]), 0); /* no media yet */
    assert_int_equal(pl_media_peer_slot_count(NULL), 0);
    assert_int_equal(pl_media_peer_slot_count(p[0]), 2);
    assert_int_equal(pl_media_peer_slot_count(p[1]), 7);
    assert_int_equal(pl_media_peer_slot_count(p[2]), 3);
    assert_int_equal(pl_media_room_set_capacity(room, PL_ROOM_MAX_MEMBERS + 1), -PL_EINVAL);
    assert_int_equal(pl_media_room_set_capacity(room, 2), -PL_ECONFLICT);
    assert_int_equal(pl_media_room_set_capacity(room, 4), 0);
    p[4] = join_slots(m, room, &c[4], 14, 7, 0);
    /* Slots in join order, every slot below the count answered. */
    assert_int_equal(pl_media_peer_slot_key(p[1], 0), 10);
    assert_int_equal(pl_media_peer_slot_key(p[1], 1), 12);
    assert_int_equal(pl_media_peer_slot_key(p[1], 2), 14);
    assert_int_equal(pl_media_peer_slot_key(p[1], 3), 0);
    assert_int_equal(pl_media_peer_slot_key(p[1], 7), 0);
    assert_int_equal(pl_media_peer_slot_key(p[0], 1), 12);
    assert_int_equal(pl_media_peer_slot_key(p[0], 2), 0); /* two slots: 14 is not seen */
    assert_int_equal(pl_media_peer_slot_key(p[2], 2), 14);
    pl_media_peer_remove(p[1]);
    assert_int_equal(pl_media_peer_slot_key(p[0], 0), 14); /* the next in line */
    for (int i = 0; i < 5; i++) {
        pl_rtc_client_destroy(c[i].cli);
        close(c[i].fd);
    }
    pl_media_destroy(m);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_clients_exchange_media_over_udp),
        cmocka_unit_test(test_media_socket_gets_at_least_the_receive_buffer_the_kernel_allows),
        cmocka_unit_test(test_room_capacity_and_slot_counts_through_the_media_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
