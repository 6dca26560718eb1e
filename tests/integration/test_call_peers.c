/* Integration: three C test peers in one consultation through the real server, acting as
 * browsers (ICE check, DTLS client, SRTP). Dr Patel publishes synthetic Opus and VP8 RTP; Ann
 * and Nurse Okafor subscribe and decrypt it. Checked: payloads and their order, NACK recovery
 * under 5% loss, PLI relay to the publisher, and an ICE restart onto a new socket (a network
 * change) without interrupting the call. */
#include "media/rtcp.h"
#include "media/rtp.h"
#include "tests/support/call_peer.h"
#include "tests/support/https.h"
#include "tests/support/pclient.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define T 5000
#define VIDEO_PT 96
#define AUDIO_PT 111
#define N_VIDEO 400

static pl_fixture_t fx;

typedef struct {
    pl_call_peer_t p;
    const char *name;
    bool drop_some;        /* induce loss: drop every 20th video packet the first time */
    int drops;
    bool seen[N_VIDEO];    /* video payload "v<i>" received */
    int video_in, audio_in, dup;
    uint16_t last_video_seq;
    bool have_seq, in_order;
    uint32_t video_ssrc;   /* as received (the slot's announced SSRC) */
    int pli_in;            /* PLIs received (publisher side) */
    uint32_t pli_media_ssrc;
} peer_t;

static void on_media(void *opaque, const uint8_t *buf, size_t len, bool rtcp)
{
    peer_t *p = opaque;
    if (rtcp) {
        pl_rtcp_iter_t it;
        pl_rtcp_packet_t pk;
        if (pl_rtcp_iter_init(&it, buf, len) < 0) return;
        while (pl_rtcp_iter_next(&it, &pk) == 0) {
            pl_rtcp_fb_t fb;
            if (pk.pt == PL_RTCP_PSFB && pk.count == PL_RTCP_FMT_PLI && pl_rtcp_fb_parse(&pk, &fb) == 0) {
                p->pli_in++;
                p->pli_media_ssrc = fb.media_ssrc;
            }
        }
        return;
    }
    pl_rtp_packet_t r;
    if (pl_rtp_parse(buf, len, &r) < 0) return;
    if (r.pt == AUDIO_PT) {
        p->audio_in++;
        return;
    }
    if (r.pt != VIDEO_PT || r.payload_len < 2 || r.payload[0] != 'v') return;
    int i = atoi((const char *)r.payload + 1);
    if (i < 0 || i >= N_VIDEO) return;
    if (p->seen[i]) p->dup++;
    p->seen[i] = true;
    p->video_in++;
    p->video_ssrc = r.ssrc;
    if (p->have_seq && (uint16_t)(r.seq - p->last_video_seq) != 1) p->in_order = false;
    p->last_video_seq = r.seq;
    p->have_seq = true;
}

/* 5% loss on the wire, before SRTP (as a real network loses packets): every 20th video packet
 * by its sequence number, the first time it is seen. The SRTP header is in clear text. */
static bool lose(void *opaque, const uint8_t *buf, size_t len)
{
    peer_t *p = opaque;
    if (!p->drop_some || len < 12 || buf[0] < 128 || buf[0] > 191 || (buf[1] & 0x7f) != VIDEO_PT)
        return false;
    uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
    static uint16_t lost[N_VIDEO];
    for (int k = 0; k < p->drops; k++)
        if (lost[k] == seq) return false; /* a retransmission: let it through */
    if (seq % 20 != 7 || p->drops >= N_VIDEO / 20) return false;
    lost[p->drops++] = seq;
    return true;
}

static int group_setup(void **state)
{
    (void)state;
    return pl_fixture_start(&fx, NULL);
}

static int group_teardown(void **state)
{
    (void)state;
    pl_fixture_stop(&fx);
    return 0;
}

static void poll_all(peer_t **ps, int n, int ms)
{
    for (int t = 0; t < ms; t += 2) {
        for (int i = 0; i < n; i++) pl_call_peer_poll(&ps[i]->p);
        usleep(2000);
    }
}

static void send_video(peer_t *gp, int from, int to, int seq_base, peer_t **ps, int n)
{
    uint8_t buf[1500];
    for (int i = from; i < to; i++) {
        char payload[1100];
        memset(payload, 'x', sizeof payload);
        int l = snprintf(payload, sizeof payload, "v%d", i);
        payload[l] = ' ';
        pl_rtp_header_t h = {.pt = VIDEO_PT, .seq = (uint16_t)(30000 + seq_base + i),
                             .timestamp = 3000u * (uint32_t)(seq_base + i),
                             .ssrc = PL_RTC_OFFER_VIDEO_SSRC,
                             .marker = true};
        size_t len = 0;
        assert_int_equal(pl_rtp_write(&h, (const uint8_t *)payload, 200, buf, sizeof buf - 200, &len), 0);
        assert_int_equal(pl_rtc_client_send(gp->p.cli, buf, len, sizeof buf, false), 0);
        if (i % 4 == 0) {
            pl_rtp_header_t a = {.pt = AUDIO_PT, .seq = (uint16_t)(100 + seq_base + i),
                                 .timestamp = 960u * (uint32_t)(seq_base + i),
                                 .ssrc = PL_RTC_OFFER_AUDIO_SSRC};
            assert_int_equal(pl_rtp_write(&a, (const uint8_t *)"opus", 4, buf, sizeof buf - 200, &len), 0);
            assert_int_equal(pl_rtc_client_send(gp->p.cli, buf, len, sizeof buf, false), 0);
        }
        if (i % 10 == 9) poll_all(ps, n, 6); /* paced, like a camera */
    }
}

/* A subscriber NACKs every video sequence number it is missing, in its own (slot) seq space. */
static void nack_missing(peer_t *p, uint16_t first_seq)
{
    uint16_t seqs[N_VIDEO];
    size_t n = 0;
    for (int i = 0; i < N_VIDEO; i++)
        if (!p->seen[i]) seqs[n++] = (uint16_t)(first_seq + i);
    if (!n) return;
    uint8_t buf[1500];
    pl_rtcp_writer_t w;
    pl_rtcp_writer_init(&w, buf, sizeof buf - 200);
    assert_int_equal(pl_rtcp_write_rr(&w, 0x5EED0001, NULL, 0), 0);
    assert_int_equal(pl_rtcp_write_nack(&w, 0x5EED0001, p->video_ssrc, seqs, n), 0);
    assert_int_equal(pl_rtc_client_send(p->p.cli, buf, w.len, sizeof buf, true), 0);
}

static int missing(const peer_t *p)
{
    int m = 0;
    for (int i = 0; i < N_VIDEO; i++) m += !p->seen[i];
    return m;
}

static void test_three_peers_publish_subscribe_nack_pli_and_ice_restart(void **s)
{
    (void)s;
    pl_pc_t *gpc = NULL, *annc = NULL, *nursec = NULL;
    assert_int_equal(pl_pc_open(&gpc, &fx, "dr.patel"), 0);
    assert_int_equal(pl_pc_open(&annc, &fx, "ann.taylor"), 0);
    assert_int_equal(pl_pc_open(&nursec, &fx, "nurse.okafor"), 0);
    json_t *r = pl_pc_callf(gpc, T, "{ss sI}", "type", "consult.book", "patient_id",
                            (json_int_t)pl_fixture_user_id(&fx, "ann.taylor"));
    json_int_t kid = json_integer_value(json_object_get(json_object_get(r, "consultation"), "id"));
    json_decref(r);
    json_decref(pl_pc_callf(annc, T, "{ss sI}", "type", "consult.wait", "consultation_id", kid));
    json_decref(pl_pc_callf(gpc, T, "{ss sI}", "type", "consult.admit", "consultation_id", kid));

    int port = pl_test_server_media_port(fx.srv);
    static peer_t gp, ann, nurse;
    peer_t *all[] = {&gp, &ann, &nurse};
    pl_pc_t *pcs[] = {gpc, annc, nursec};
    const char *names[] = {"gp", "ann", "nurse"};
    for (int i = 0; i < 3; i++) {
        memset(all[i], 0, sizeof *all[i]);
        all[i]->name = names[i];
        all[i]->in_order = true;
        assert_int_equal(pl_call_peer_open(&all[i]->p, port, on_media, all[i]), 0);
        all[i]->p.drop = lose;
        r = pl_call_peer_join(&all[i]->p, pcs[i], kid, "consult.join");
        assert_true(pl_pc_is_ok(r));
        json_decref(r);
    }
    for (int i = 0; i < 3; i++) {
        pl_call_peer_t *others[] = {&all[(i + 1) % 3]->p, &all[(i + 2) % 3]->p};
        assert_int_equal(pl_call_peer_connect(&all[i]->p, others, 2), 0);
    }
    poll_all(all, 3, 200);

    /* 1. Publish; both subscribers receive every packet, in order, on slot A's SSRC. */
    ann.drop_some = true;
    send_video(&gp, 0, N_VIDEO, 0, all, 3);
    poll_all(all, 3, 300);
    assert_int_equal(missing(&nurse), 0);
    assert_true(nurse.in_order);
    assert_int_equal(nurse.dup, 0);
    assert_int_equal(nurse.video_ssrc, nurse.p.announced[1]);
    assert_true(nurse.audio_in >= N_VIDEO / 4 - 1);
    assert_int_equal(ann.video_ssrc, ann.p.announced[1]);
    assert_int_not_equal(ann.video_ssrc, PL_RTC_OFFER_VIDEO_SSRC);

    /* 2. Ann lost 5%: her NACKs are answered from the server's ring. */
    assert_int_equal(ann.drops, N_VIDEO / 20);
    assert_int_equal(missing(&ann), N_VIDEO / 20);
    /* Her slot's seq space: work out the first seq from the last one (v399 is never lost). */
    uint16_t first = (uint16_t)(ann.last_video_seq - (N_VIDEO - 1));
    nack_missing(&ann, first);
    poll_all(all, 3, 300);
    if (missing(&ann)) {
        pl_http_resp_t d = {0};
        pl_https_request("127.0.0.1", fx.port, "GET", "/metrics", NULL, NULL, 0, T, &d);
        const char *x = strstr(d.body, "parley_media_rtp_forwarded");
        fprintf(stderr, "first=%u last=%u missing=%d\n%s\n", first, ann.last_video_seq,
                missing(&ann), x ? x : d.body);
        pl_http_resp_free(&d);
    }
    assert_int_equal(missing(&ann), 0);
    assert_int_equal(ann.dup, 0);

    /* 3. PLI relay: after the room's own keyframe requests have passed their once-a-second
     * limit, a subscriber's PLI reaches the publisher, naming the publisher's real SSRC. */
    poll_all(all, 3, 1200);
    int before = gp.pli_in;
    uint8_t buf[1500];
    pl_rtcp_writer_t w;
    pl_rtcp_writer_init(&w, buf, sizeof buf - 200);
    assert_int_equal(pl_rtcp_write_rr(&w, 0x5EED0002, NULL, 0), 0);
    assert_int_equal(pl_rtcp_write_pli(&w, 0x5EED0002, nurse.video_ssrc), 0);
    assert_int_equal(pl_rtc_client_send(nurse.p.cli, buf, w.len, sizeof buf, true), 0);
    for (int t = 0; t < 100 && gp.pli_in == before; t++) poll_all(all, 3, 10);
    assert_true(gp.pli_in > before);
    assert_int_equal(gp.pli_media_ssrc, PL_RTC_OFFER_VIDEO_SSRC);

    /* 4. ICE restart: Ann's phone changes network. New socket, new ICE credentials through
     * consult.reoffer; the DTLS session and the call carry on. */
    pl_rtc_client_restart(ann.p.cli, "unused", "unusedunusedunused0123", "newufrag",
                          "aBrandNewIcePassword0123456");
    r = pl_call_peer_join(&ann.p, annc, kid, "consult.reoffer");
    if (!pl_pc_is_ok(r)) fprintf(stderr, "reoffer: %s\n", json_dumps(r, 0));
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    assert_int_equal(pl_call_peer_rebind(&ann.p), 0);
    assert_int_equal(pl_call_peer_connect(&ann.p, NULL, 0), 0);
    memset(ann.seen, 0, sizeof ann.seen);
    ann.drop_some = false;
    ann.video_in = 0;
    send_video(&gp, 0, 50, N_VIDEO, all, 3); /* the stream goes on: later seqs */
    poll_all(all, 3, 300);
    assert_int_equal(ann.video_in, 50);

    pl_http_resp_t m = {0};
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "GET", "/metrics", NULL, NULL, 0, T, &m), 0);
    const char *ans = strstr(m.body, "\nparley_media_nack_answered_from_ring_total ");
    assert_non_null(ans);
    assert_true(atoll(ans + strlen("\nparley_media_nack_answered_from_ring_total ")) >= N_VIDEO / 20);
    pl_http_resp_free(&m);

    for (int i = 0; i < 3; i++) pl_call_peer_close(&all[i]->p);
    pl_pc_destroy(gpc);
    pl_pc_destroy(annc);
    pl_pc_destroy(nursec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_peers_publish_subscribe_nack_pli_and_ice_restart),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
