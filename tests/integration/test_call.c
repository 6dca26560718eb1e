/* Integration: a video consultation's media through the real server. Dr Patel books, Ann waits
 * and is admitted; both join with SDP offers (a real Chromium offer carrying the test client's
 * ICE credentials and certificate fingerprint); two test WebRTC clients then check ICE, complete
 * DTLS and exchange SRTP through the server's UDP port. The consultation's event stream records
 * who joined; ending the consultation closes the media. A guest (an interpreter, invited with
 * consult.invite and in through its own link) as the third person in the call. Also the
 * refusals: joining before being admitted, strangers, bad offers. */
#include "core/err.h"
#include "media/rtp.h"
#include "media/sdp.h"
#include "tests/support/https.h"
#include "tests/support/call_peer.h"
#include "tests/support/consult_fx.h"
#include "tests/support/pclient.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define T 5000

static pl_fixture_t fx;
static int media_port;

static int group_setup(void **state)
{
    (void)state;
    int rc = pl_fixture_start(&fx, NULL);
    if (rc == 0) media_port = pl_test_server_media_port(fx.srv);
    return rc;
}

static int group_teardown(void **state)
{
    (void)state;
    pl_fixture_stop(&fx);
    return 0;
}

static pl_pc_t *open_as(const char *user)
{
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_open(&c, &fx, user), 0);
    return c;
}

/* ---- a browser stand-in (tests/support/call_peer.h) that remembers what it received ---- */

typedef struct {
    pl_call_peer_t p;
    pl_rtc_client_t *cli; /* = p.cli */
    int rtp_in;
    char last[64];
    uint32_t last_ssrc; /* what arrived */
} browser_t;

static void b_media(void *opaque, const uint8_t *buf, size_t len, bool rtcp)
{
    browser_t *b = opaque;
    if (rtcp || len <= 12) return;
    b->rtp_in++;
    b->last_ssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    size_t n = len - 12 < sizeof b->last - 1 ? len - 12 : sizeof b->last - 1;
    memcpy(b->last, buf + 12, n);
    b->last[n] = 0;
}

static void b_open(browser_t *b)
{
    memset(b, 0, sizeof *b);
    assert_int_equal(pl_call_peer_open(&b->p, media_port, b_media, b), 0);
    b->cli = b->p.cli;
}

static void b_close(browser_t *b) { pl_call_peer_close(&b->p); }
static void b_poll(browser_t *b) { pl_call_peer_poll(&b->p); }

static char *offer_for(browser_t *b)
{
    char *o = pl_rtc_client_offer(b->cli);
    assert_non_null(o);
    return o;
}

/* Joins with an offer and applies the answer, as a browser does. */
static void join(pl_pc_t *pc, json_int_t kid, browser_t *b)
{
    json_t *r = pl_call_peer_join(&b->p, pc, kid, "consult.join");
    if (!pl_pc_is_ok(r)) fprintf(stderr, "join: %s\n", json_dumps(r, 0));
    assert_true(pl_pc_is_ok(r));
    const char *answer = json_string_value(json_object_get(r, "answer"));
    assert_non_null(strstr(answer, "a=ice-lite"));
    assert_true(json_is_array(json_object_get(r, "ice_servers")));
    assert_int_not_equal(b->p.announced[0], 0);
    json_decref(r);
}

static void connect_media(browser_t *b, browser_t *other)
{
    pl_call_peer_t *o[] = {&other->p};
    assert_int_equal(pl_call_peer_connect(&b->p, o, 1), 0);
}

static json_int_t book_and_admit(pl_pc_t *gp, pl_pc_t *ann)
{
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.book", "patient_id",
                            (json_int_t)pl_fixture_user_id(&fx, "ann.taylor"));
    assert_true(pl_pc_is_ok(r));
    json_int_t kid = json_integer_value(json_object_get(json_object_get(r, "consultation"), "id"));
    json_decref(r);
    r = pl_pc_callf(ann, T, "{ss sI}", "type", "consult.wait", "consultation_id", kid);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.admit", "consultation_id", kid);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    return kid;
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

static void test_gp_and_patient_exchange_media_through_the_server(void **s)
{
    (void)s;
    pl_pc_t *gp = open_as("dr.patel"), *ann = open_as("ann.taylor");
    json_decref(pl_pc_subscribe(gp, -1, T));
    json_int_t kid = book_and_admit(gp, ann);
    browser_t bg, ba;
    b_open(&bg);
    b_open(&ba);
    join(gp, kid, &bg);
    join(ann, kid, &ba);
    connect_media(&bg, &ba);
    connect_media(&ba, &bg);
    uint8_t buf[1500];
    for (int i = 0; i < 20; i++) {
        size_t n = rtp_packet(buf, (uint16_t)(1000 + i), PL_RTC_OFFER_AUDIO_SSRC, "gp-voice");
        assert_int_equal(pl_rtc_client_send(bg.cli, buf, n, sizeof buf, false), 0);
        n = rtp_packet(buf, (uint16_t)(5000 + i), PL_RTC_OFFER_AUDIO_SSRC, "patient-voice");
        assert_int_equal(pl_rtc_client_send(ba.cli, buf, n, sizeof buf, false), 0);
    }
    for (int i = 0; i < 200 && (ba.rtp_in < 20 || bg.rtp_in < 20); i++) {
        usleep(5000);
        b_poll(&ba);
        b_poll(&bg);
    }
    assert_int_equal(ba.rtp_in, 20);
    assert_string_equal(ba.last, "gp-voice");
    /* The SFU rewrote the GP's SSRC to the one Ann's answer announced for slot A's voice. */
    assert_int_equal(ba.last_ssrc, ba.p.announced[0]);
    assert_int_not_equal(ba.last_ssrc, PL_RTC_OFFER_AUDIO_SSRC);
    assert_int_equal(bg.rtp_in, 20);
    assert_string_equal(bg.last, "patient-voice");

    /* Active speaker: the GP talks (audio level -10 dBov), Ann is silent (-127): everyone in
     * the call is told who is speaking; Ann by name only. */
    json_decref(pl_pc_subscribe(ann, -1, T));
    for (int i = 0; i < 60; i++) {
        uint8_t loud = 0x80 | 10, quiet = 0x80 | 127;
        pl_rtp_ext_t e1 = {.id = 1, .len = 1, .data = &loud}, e2 = {.id = 1, .len = 1, .data = &quiet};
        pl_rtp_header_t h = {.pt = 111, .seq = (uint16_t)(1100 + i), .timestamp = 960u * (uint32_t)i,
                             .ssrc = PL_RTC_OFFER_AUDIO_SSRC, .exts = &e1, .ext_count = 1};
        size_t n = 0;
        assert_int_equal(pl_rtp_write(&h, (const uint8_t *)"talk", 4, buf, sizeof buf - 200, &n), 0);
        assert_int_equal(pl_rtc_client_send(bg.cli, buf, n, sizeof buf, false), 0);
        h.seq = (uint16_t)(5100 + i);
        h.exts = &e2;
        assert_int_equal(pl_rtp_write(&h, (const uint8_t *)"hush", 4, buf, sizeof buf - 200, &n), 0);
        assert_int_equal(pl_rtc_client_send(ba.cli, buf, n, sizeof buf, false), 0);
        usleep(20000);
        b_poll(&ba);
        b_poll(&bg);
    }
    json_t *sp = pl_pc_wait_event(ann, "consult.speaker", T);
    assert_non_null(sp);
    json_t *spe = json_object_get(sp, "event");
    assert_string_equal(json_string_value(json_object_get(spe, "display_name")), "Dr Asha Patel");
    assert_null(json_object_get(spe, "user_id"));
    assert_null(json_object_get(sp, "cursor")); /* ephemeral, like typing */
    json_decref(sp);

    /* The relay shows in /metrics. */
    pl_http_resp_t m = {0};
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "GET", "/metrics", NULL, NULL, 0, T, &m),
                     0);
    const char *fw = strstr(m.body, "\nparley_media_rtp_forwarded_total ");
    assert_non_null(fw);
    assert_true(atoll(fw + strlen("\nparley_media_rtp_forwarded_total ")) >= 40);
    assert_non_null(strstr(m.body, "\nparley_media_peers 2\n"));
    pl_http_resp_free(&m);

    /* The practice sees both join, on the consultation's conversation. */
    int joined = 0;
    for (int i = 0; i < 4 && joined < 2; i++) {
        json_t *ev = pl_pc_wait_event(gp, "consult.joined", T);
        if (!ev) break;
        joined++;
        json_decref(ev);
    }
    assert_int_equal(joined, 2);

    /* Ending the consultation closes the media: nothing is relayed any more. */
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.end", "consultation_id", kid);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    usleep(100000);
    int before = ba.rtp_in;
    size_t n = rtp_packet(buf, 1020, PL_RTC_OFFER_AUDIO_SSRC, "after-the-end");
    pl_rtc_client_send(bg.cli, buf, n, sizeof buf, false);
    for (int i = 0; i < 40; i++) {
        usleep(5000);
        b_poll(&ba);
    }
    assert_int_equal(ba.rtp_in, before);
    /* And nobody can join it again. */
    char *offer = offer_for(&ba);
    r = pl_pc_callf(ann, T, "{ss sI ss}", "type", "consult.join", "consultation_id", kid, "offer",
                    offer);
    free(offer);
    assert_true(pl_pc_is_error(r, "conflict"));
    json_decref(r);
    b_close(&bg);
    b_close(&ba);
    pl_pc_destroy(gp);
    pl_pc_destroy(ann);
}

/* ---- a guest as the third person ---- */

/* Three C peers that count the RTP they receive by who sent it (the payload names them). */

typedef struct {
    pl_call_peer_t p;
    int from[3]; /* RTP packets received, by sender (GP, guest, Ann) */
} peer_t;

static const char *const voices[3] = {"gp-voice", "guest-voice", "ann-voice"};

static void on_media(void *opaque, const uint8_t *buf, size_t len, bool rtcp)
{
    peer_t *p = opaque;
    pl_rtp_packet_t r;
    if (rtcp || pl_rtp_parse(buf, len, &r) < 0) return;
    for (int i = 0; i < 3; i++)
        if (r.payload_len == strlen(voices[i]) && !memcmp(r.payload, voices[i], r.payload_len))
            p->from[i]++;
}

static void send_voice(peer_t *p, int who, int n, uint16_t seq0)
{
    uint8_t buf[1500];
    for (int i = 0; i < n; i++) {
        pl_rtp_header_t h = {.pt = 111,
                             .seq = (uint16_t)(seq0 + i),
                             .timestamp = 960u * (uint32_t)(seq0 + i),
                             .ssrc = PL_RTC_OFFER_AUDIO_SSRC};
        size_t len = 0;
        assert_int_equal(pl_rtp_write(&h, (const uint8_t *)voices[who], strlen(voices[who]), buf,
                                      sizeof buf - 200, &len),
                         0);
        assert_int_equal(pl_rtc_client_send(p->p.cli, buf, len, sizeof buf, false), 0);
    }
}

static void poll_until(peer_t **ps, int n, bool (*done)(peer_t **), int ms)
{
    for (int t = 0; t < ms && !done(ps); t += 5) {
        for (int i = 0; i < n; i++)
            pl_call_peer_poll(&ps[i]->p);
        usleep(5000);
    }
}

static bool first_round(peer_t **ps)
{
    return ps[0]->from[1] >= 20 && ps[1]->from[0] >= 20;
}

static bool second_round(peer_t **ps)
{
    return ps[0]->from[1] >= 40 && ps[1]->from[0] >= 40 && ps[2]->from[0] >= 20;
}

static void test_admitted_guest_is_the_third_person_in_the_call(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel"), *ann = cfx_open_as(&fx, "ann.taylor");
    cfx_booking_t b = cfx_book(&fx, gp);
    cfx_guest_t g = cfx_invite_guest(gp, b.id, "Maria Lopez", "interpreter");
    char device[64] = "";
    pl_pc_t *c = cfx_join_and_connect(&fx, g.token, NULL, device, sizeof device);
    json_decref(pl_pc_subscribe(gp, -1, T));
    json_decref(pl_pc_subscribe(ann, -1, T));
    json_decref(pl_pc_subscribe(c, -1, T));
    static peer_t pg, pq, pa; /* GP, guest, Ann */
    peer_t *all[] = {&pg, &pq, &pa};
    for (int i = 0; i < 3; i++) {
        memset(all[i], 0, sizeof *all[i]);
        assert_int_equal(pl_call_peer_open(&all[i]->p, media_port, on_media, all[i]), 0);
    }

    /* The interpreter is let in and joins with the GP before Ann arrives: join order GP,
     * guest, Ann fills everyone's first slot (the test offer has one) with the first other
     * person to join. */
    json_decref(cfx_ok(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.admit", "consultation_id",
                                   b.id, "user_id", g.id)));
    json_decref(cfx_ok(pl_call_peer_join(&pg.p, gp, b.id, "consult.join")));
    json_t *r = cfx_ok(pl_call_peer_join(&pq.p, c, b.id, "consult.join"));
    assert_non_null(strstr(cfx_jstr(r, "answer"), "a=ice-lite"));
    assert_int_not_equal(pq.p.announced[0], 0);
    json_decref(r);
    pl_call_peer_t *gp_others[] = {&pq.p}, *guest_others[] = {&pg.p};
    assert_int_equal(pl_call_peer_connect(&pg.p, gp_others, 1), 0);
    assert_int_equal(pl_call_peer_connect(&pq.p, guest_others, 1), 0);
    send_voice(&pg, 0, 20, 1000);
    send_voice(&pq, 1, 20, 2000);
    poll_until(all, 2, first_round, 2000);
    assert_int_equal(pq.from[0], 20); /* the interpreter hears the GP */
    assert_int_equal(pg.from[1], 20); /* and the GP the interpreter */

    /* Ann waits, is admitted, and joins: three people in the call. */
    json_decref(
        cfx_ok(pl_pc_callf(ann, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id)));
    json_decref(
        cfx_ok(pl_pc_callf(gp, T, "{ss sI}", "type", "consult.admit", "consultation_id", b.id)));
    json_decref(cfx_ok(pl_call_peer_join(&pa.p, ann, b.id, "consult.join")));
    pl_call_peer_t *ann_others[] = {&pg.p, &pq.p};
    assert_int_equal(pl_call_peer_connect(&pa.p, ann_others, 2), 0);
    send_voice(&pg, 0, 20, 1020);
    send_voice(&pq, 1, 20, 2020);
    send_voice(&pa, 2, 20, 3000);
    poll_until(all, 3, second_round, 2000);
    assert_int_equal(pq.from[0], 40);
    assert_int_equal(pg.from[1], 40);
    assert_int_equal(pa.from[0], 20);
    assert_int_equal(pq.from[1], 0); /* nobody hears themselves */
    /* The guest's page is told who is in its pictures (consult.slots): slot A the GP, who
     * joined first, slot B Ann; the GP by name only. */
    json_t *sl = NULL, *se = NULL;
    for (int tries = 0; tries < 4; tries++) {
        json_decref(sl);
        sl = cfx_event(c, "consult.slots", &se);
        if (!json_is_null(json_array_get(json_object_get(se, "slots"), 1))) break;
    }
    assert_int_equal(cfx_jint(se, "consultation_id"), b.id);
    assert_int_equal(json_array_size(json_object_get(se, "slots")), 2);
    cfx_check_person(json_array_get(json_object_get(se, "slots"), 0), 0, "staff", "Dr Asha Patel");
    cfx_check_person(json_array_get(json_object_get(se, "slots"), 1), cfx_uid(&fx, "ann.taylor"),
                     "patient", "Ann Taylor");
    json_decref(sl);
    pl_http_resp_t m;
    assert_int_equal(
        pl_https_request("127.0.0.1", fx.port, "GET", "/metrics", NULL, NULL, 0, T, &m), 0);
    assert_non_null(strstr(m.body, "\nparley_media_peers 3\n"));
    /* The socket's buffers, as the kernel granted them: never below its default. */
    const char *rb = strstr(m.body, "\nparley_media_socket_receive_buffer_bytes ");
    assert_non_null(rb);
    assert_true(atoll(rb + strlen("\nparley_media_socket_receive_buffer_bytes ")) >= 4096);
    pl_http_resp_free(&m);
    /* A fourth is turned away. */
    pl_pc_t *nurse = cfx_open_as(&fx, "nurse.okafor");
    peer_t pn;
    memset(&pn, 0, sizeof pn);
    assert_int_equal(pl_call_peer_open(&pn.p, media_port, NULL, NULL), 0);
    cfx_refused(pl_call_peer_join(&pn.p, nurse, b.id, "consult.join"), "conflict", NULL);
    pl_call_peer_close(&pn.p);
    pl_pc_destroy(nurse);

    /* Everyone is told the interpreter joined: the practice and Ann with the guest's id. */
    for (int side = 0; side < 2; side++) {
        pl_pc_t *who = side ? ann : gp;
        json_t *e = NULL, *ev = NULL;
        for (int tries = 0; tries < 3; tries++) {
            ev = cfx_event(who, "consult.joined", &e);
            json_t *p = json_object_get(e, "participant");
            if (json_integer_value(json_object_get(p, "user_id")) == g.id) break;
            json_decref(ev);
            ev = NULL;
        }
        assert_non_null(ev);
        assert_int_equal(cfx_jint(e, "consultation_id"), b.id);
        cfx_check_person(json_object_get(e, "participant"), g.id, "interpreter", "Maria Lopez");
        json_decref(ev);
    }

    /* Who is in the call, as the guest's page sees it: the clinician by name only. */
    json_t *k = NULL;
    for (int tries = 0; tries < 50; tries++) {
        json_decref(k);
        k = cfx_consult_get(c, b.id);
        if (json_array_size(json_object_get(k, "present")) == 3) break;
        usleep(100000);
    }
    json_t *present = json_object_get(k, "present");
    assert_int_equal(json_array_size(present), 3);
    int found = 0;
    size_t at;
    json_t *p;
    json_array_foreach(present, at, p)
    {
        const char *role = cfx_jstr(p, "role");
        if (!strcmp(role, "staff")) {
            cfx_check_person(p, 0, "staff", "Dr Asha Patel");
            found |= 1;
        } else if (!strcmp(role, "interpreter")) {
            cfx_check_person(p, g.id, "interpreter", "Maria Lopez");
            found |= 2;
        } else {
            cfx_check_person(p, cfx_uid(&fx, "ann.taylor"), "patient", "Ann Taylor");
            found |= 4;
        }
    }
    assert_int_equal(found, 7);
    json_decref(k);

    /* The interpreter leaves; the practice hears it by role. */
    json_decref(
        cfx_ok(pl_pc_callf(c, T, "{ss sI}", "type", "consult.leave", "consultation_id", b.id)));
    json_t *e, *ev = cfx_event(gp, "consult.left", &e);
    cfx_check_person(json_object_get(e, "participant"), g.id, "interpreter", "Maria Lopez");
    json_decref(ev);

    /* The end lists the guest among the participants, and closes its way back in. */
    json_decref(
        cfx_ok(pl_pc_callf(gp, T, "{ss sI}", "type", "consult.end", "consultation_id", b.id)));
    ev = cfx_event(c, "consult.ended", &e);
    json_t *people = json_object_get(e, "participants");
    assert_int_equal(json_array_size(people), 3);
    cfx_check_person(json_array_get(people, 0), cfx_uid(&fx, "ann.taylor"), "patient",
                     "Ann Taylor");
    cfx_check_person(json_array_get(people, 1), 0, "staff", "Dr Asha Patel");
    cfx_check_person(json_array_get(people, 2), g.id, "interpreter", "Maria Lopez");
    assert_null(json_object_get(e, "by"));
    json_decref(ev);
    ev = cfx_event(gp, "consult.ended", &e);
    people = json_object_get(e, "participants");
    assert_int_equal(json_array_size(people), 3);
    cfx_check_person(json_array_get(people, 1), cfx_uid(&fx, "dr.patel"), "staff", "Dr Asha Patel");
    cfx_check_person(json_array_get(people, 2), g.id, "interpreter", "Maria Lopez");
    json_decref(ev);
    cfx_refused(pl_call_peer_join(&pq.p, c, b.id, "consult.join"), "conflict",
                "this consultation is over");
    cfx_refused(pl_pc_callf(c, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id),
                "conflict", NULL);
    cfx_join_resp_t j;
    assert_int_equal(cfx_join(&fx, g.token, NULL, device, &j), 404);
    assert_string_equal(cfx_join_err(&j), "not_found");
    assert_string_equal(cfx_join_msg(&j),
                        "this link is not valid: ask your practice for a new one");
    cfx_join_free(&j);
    for (int i = 0; i < 3; i++)
        pl_call_peer_close(&all[i]->p);
    pl_pc_destroy(c);
    pl_pc_destroy(ann);
    pl_pc_destroy(gp);
}

static void test_joins_are_refused_when_they_should_be(void **s)
{
    (void)s;
    pl_pc_t *gp = open_as("dr.patel"), *ann = open_as("ann.taylor"),
            *robert = open_as("robert.green"), *hughes = open_as("dr.hughes");
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.book", "patient_id",
                            (json_int_t)pl_fixture_user_id(&fx, "ann.taylor"));
    json_int_t kid = json_integer_value(json_object_get(json_object_get(r, "consultation"), "id"));
    json_decref(r);
    browser_t b;
    b_open(&b);
    char *offer = offer_for(&b);
    /* The patient waits to be admitted. */
    r = pl_pc_callf(ann, T, "{ss sI ss}", "type", "consult.join", "consultation_id", kid, "offer",
                    offer);
    assert_true(pl_pc_is_error(r, "conflict"));
    json_decref(r);
    /* Another patient and another practice's GP have no business here. */
    r = pl_pc_callf(robert, T, "{ss sI ss}", "type", "consult.join", "consultation_id", kid,
                    "offer", offer);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(hughes, T, "{ss sI ss}", "type", "consult.join", "consultation_id", kid,
                    "offer", offer);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    pl_http_resp_t mr = {0};
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "GET", "/metrics", NULL, NULL, 0, T, &mr),
                     0);
    const char *jr = strstr(mr.body, "\nparley_media_join_refused_total ");
    assert_non_null(jr);
    assert_true(atoll(jr + strlen("\nparley_media_join_refused_total ")) >= 2);
    pl_http_resp_free(&mr);
    /* Bad offers: not SDP, and SDP without BUNDLE. */
    r = pl_pc_callf(gp, T, "{ss sI ss}", "type", "consult.join", "consultation_id", kid, "offer",
                    "hello");
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    char *nobundle = strdup(offer);
    char *g = strstr(nobundle, "a=group:BUNDLE");
    assert_non_null(g);
    memcpy(g, "a=xgroup:BUND", 13);
    r = pl_pc_callf(gp, T, "{ss sI ss}", "type", "consult.join", "consultation_id", kid, "offer",
                    nobundle);
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    free(nobundle);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.join", "consultation_id", kid);
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    /* Staff may be in the call before admitting the patient; leaving twice is not_found. */
    r = pl_pc_callf(gp, T, "{ss sI ss}", "type", "consult.join", "consultation_id", kid, "offer",
                    offer);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    /* Three people at most: a fourth member of staff is turned away. */
    const char *team[] = {"nurse.okafor", "reception.jones", "pharm.lee"};
    for (int i = 0; i < 3; i++) {
        pl_pc_t *t = open_as(team[i]);
        r = pl_pc_callf(t, T, "{ss sI ss}", "type", "consult.join", "consultation_id", kid,
                        "offer", offer);
        if (i < 2) assert_true(pl_pc_is_ok(r));
        else assert_true(pl_pc_is_error(r, "conflict"));
        json_decref(r);
        pl_pc_destroy(t);
    }
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.leave", "consultation_id", kid);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.leave", "consultation_id", kid);
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    free(offer);
    b_close(&b);
    pl_pc_destroy(gp);
    pl_pc_destroy(ann);
    pl_pc_destroy(robert);
    pl_pc_destroy(hughes);
}

/* A browser whose DTLS certificate is not the one its offer named (a man in the middle of the
 * signalling, say) completes ICE but gets no keys: the server fails its DTLS, relays nothing
 * to it, and counts it in /metrics. */
static void test_a_certificate_not_in_the_offer_gets_no_media(void **s)
{
    (void)s;
    pl_pc_t *gp = open_as("dr.patel");
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.book", "patient_id",
                            (json_int_t)pl_fixture_user_id(&fx, "ann.taylor"));
    json_int_t kid = json_integer_value(json_object_get(json_object_get(r, "consultation"), "id"));
    json_decref(r);
    browser_t b;
    b_open(&b);
    b.p.wrong_fingerprint = true;
    join(gp, kid, &b);
    assert_int_not_equal(pl_call_peer_connect(&b.p, NULL, 0), 0);
    pl_http_resp_t m = {0};
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "GET", "/metrics", NULL, NULL, 0, T, &m),
                     0);
    const char *x = strstr(m.body, "\nparley_media_fingerprint_mismatches_total ");
    assert_non_null(x);
    assert_true(atoll(x + strlen("\nparley_media_fingerprint_mismatches_total ")) >= 1);
    pl_http_resp_free(&m);
    b_close(&b);
    pl_pc_destroy(gp);
}

static void test_ice_servers_without_turn_is_empty(void **s)
{
    (void)s;
    pl_pc_t *ann = open_as("ann.taylor");
    json_t *r = pl_pc_callf(ann, T, "{ss}", "type", "media.ice_servers");
    assert_true(pl_pc_is_ok(r));
    assert_int_equal(json_array_size(json_object_get(r, "ice_servers")), 0);
    json_decref(r);
    pl_pc_destroy(ann);
}

/* With TURN configured, clients get credentials coturn will accept: username "EXPIRY:LABEL",
 * password base64(HMAC-SHA1(secret, username)), checked here independently with OpenSSL. A
 * secret file others can read stops the server from starting. */
static void test_turn_credentials_from_a_configured_server(void **s)
{
    (void)s;
    char dir[] = "/tmp/parley-turn-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/turn.secret", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("correct-horse-turn-secret\n", f);
    fclose(f);
    chmod(path, 0644);
    pl_fixture_t tf;
    const char *args[] = {"--turn-urls", "turn:127.0.0.1:3478?transport=udp,turns:turn.example:5349",
                          "--turn-secret-file", path, NULL};
    assert_int_not_equal(pl_fixture_start(&tf, args), 0); /* 0644: refused */
    chmod(path, 0600);
    assert_int_equal(pl_fixture_start(&tf, args), 0);
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_open(&c, &tf, "ann.taylor"), 0);
    json_t *r = pl_pc_callf(c, T, "{ss}", "type", "media.ice_servers");
    assert_true(pl_pc_is_ok(r));
    json_t *srv0 = json_array_get(json_object_get(r, "ice_servers"), 0);
    assert_non_null(srv0);
    assert_int_equal(json_array_size(json_object_get(srv0, "urls")), 2);
    const char *user = json_string_value(json_object_get(srv0, "username"));
    const char *cred = json_string_value(json_object_get(srv0, "credential"));
    long long expiry = atoll(user);
    assert_true(expiry > time(NULL) + 3600); /* default turn_ttl_s is 12 hours */
    assert_null(strstr(user, "ann")); /* an opaque label, never a name */
    uint8_t mac[20];
    unsigned int maclen = 0;
    HMAC(EVP_sha1(), "correct-horse-turn-secret", 25, (const uint8_t *)user, strlen(user), mac,
         &maclen);
    char b64[64];
    EVP_EncodeBlock((uint8_t *)b64, mac, (int)maclen);
    assert_string_equal(cred, b64);
    json_decref(r);
    pl_pc_destroy(c);
    pl_fixture_stop(&tf);
    unlink(path);
    rmdir(dir);
}

/* The credentials are the ones coturn really accepts: Debian's coturn runs on loopback with
 * the same shared secret, and its own test client (turnutils_uclient) allocates a relay with
 * Parley's username and credential and sends through it; a wrong credential is refused. */
static int free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 65536, n = 0;
    char *out = calloc(1, cap);
    assert_non_null(out);
    size_t got;
    while (n < cap - 1 && (got = fread(out + n, 1, cap - 1 - n, p)) > 0) n += got;
    pclose(p);
    return out;
}

static void test_coturn_accepts_the_credentials(void **s)
{
    (void)s;
    char dir[] = "/tmp/parley-coturn-XXXXXX", path[80], cmd[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/turn.secret", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("loopback-only-test-secret\n", f);
    fclose(f);
    chmod(path, 0600);
    int port = free_udp_port();
    assert_true(port > 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char p[16], log[120];
        snprintf(p, sizeof p, "%d", port);
        snprintf(log, sizeof log, "--log-file=%s/turn.log", dir);
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execlp("turnserver", "turnserver", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
               "-p", p, "--min-port=49152", "--max-port=65535", "--use-auth-secret",
               "--static-auth-secret=loopback-only-test-secret", "--realm=parley.test",
               "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls", "--fingerprint",
               "--no-stdout-log", log, (char *)NULL);
        _exit(127);
    }
    char urls[64];
    snprintf(urls, sizeof urls, "turn:127.0.0.1:%d?transport=udp", port);
    pl_fixture_t tf;
    const char *args[] = {"--turn-urls", urls, "--turn-secret-file", path, NULL};
    assert_int_equal(pl_fixture_start(&tf, args), 0);
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_open(&c, &tf, "dr.patel"), 0);
    json_t *r = pl_pc_callf(c, T, "{ss}", "type", "media.ice_servers");
    json_t *srv0 = json_array_get(json_object_get(r, "ice_servers"), 0);
    const char *user = json_string_value(json_object_get(srv0, "username"));
    const char *cred = json_string_value(json_object_get(srv0, "credential"));
    assert_non_null(user);
    assert_non_null(cred);
    usleep(300000); /* coturn's listener */
    snprintf(cmd, sizeof cmd, "timeout 20 turnutils_uclient -y -n 3 -u '%s' -w '%s' -p %d 127.0.0.1 2>&1",
             user, cred, port);
    char *out = run(cmd);
    if (!strstr(out, "Total lost packets 0")) fprintf(stderr, "%s\n", out);
    assert_non_null(strstr(out, "Total lost packets 0"));
    assert_null(strstr(out, "Cannot complete Allocation"));
    free(out);
    snprintf(cmd, sizeof cmd, "timeout 20 turnutils_uclient -y -n 1 -u '%s' -w 'not-the-credential' -p %d 127.0.0.1 2>&1",
             user, port);
    out = run(cmd);
    assert_non_null(strstr(out, "Cannot complete Allocation"));
    free(out);
    json_decref(r);
    pl_pc_destroy(c);
    pl_fixture_stop(&tf);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gp_and_patient_exchange_media_through_the_server),
        cmocka_unit_test(test_admitted_guest_is_the_third_person_in_the_call),
        cmocka_unit_test(test_joins_are_refused_when_they_should_be),
        cmocka_unit_test(test_a_certificate_not_in_the_offer_gets_no_media),
        cmocka_unit_test(test_ice_servers_without_turn_is_empty),
        cmocka_unit_test(test_turn_credentials_from_a_configured_server),
        cmocka_unit_test(test_coturn_accepts_the_credentials),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
