/* Integration: live escalation from an advice thread, through the real server and its media
 * port. Dr Patel (Riverside) asks Dermatology, City Hospital about Ann Taylor; Dr Khan starts a
 * call from the thread and Dr Patel joins the same one; they talk (RTP through the SFU between
 * two test WebRTC clients). Dr Patel then brings Ann in: an ordinary consultation of hers, whose
 * call is held in the advice call's room; she waits, is admitted and joins, and all three hear
 * each other. The thread's events reach both teams and never Ann; her consultation's reach her.
 * Ending the advice call ends hers too. Also the refusals: strangers, the patient, bringing
 * the patient into something that is not an advice call, twice, into an ended call. */
#include "media/rtp.h"
#include "tests/support/advice_fx.h"
#include "tests/support/call_peer.h"

#include <unistd.h>

static int media_port;

static int setup(void **state)
{
    int rc = group_setup(state);
    if (rc == 0) media_port = pl_test_server_media_port(fx.srv);
    return rc;
}

/* ---- three browsers that say who they are in every packet ---- */

enum { GP, SPEC, ANN, N_PEERS };
static const char *const voices[N_PEERS] = {"gp-voice", "specialist-voice", "ann-voice"};

typedef struct {
    pl_call_peer_t p;
    int from[N_PEERS]; /* RTP packets received, by sender */
} peer_t;

static void on_media(void *opaque, const uint8_t *buf, size_t len, bool rtcp)
{
    peer_t *p = opaque;
    pl_rtp_packet_t r;
    if (rtcp || pl_rtp_parse(buf, len, &r) < 0) return;
    for (int i = 0; i < N_PEERS; i++)
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

/* Polls every peer until each of want[i][j] packets from j has reached i, or 3 s pass. */
static void poll_until(peer_t *ps, int n, int want[N_PEERS][N_PEERS])
{
    for (int t = 0; t < 3000; t += 5) {
        bool done = true;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (ps[i].from[j] < want[i][j]) done = false;
        if (done) return;
        for (int i = 0; i < n; i++)
            pl_call_peer_poll(&ps[i].p);
        usleep(5000);
    }
}

static json_int_t start_call(pl_pc_t *c, json_int_t advice_id, bool started)
{
    json_t *r = cfx_ok(act(c, "advice.call", advice_id));
    assert_true(json_is_boolean(json_object_get(r, "started")));
    assert_int_equal(json_is_true(json_object_get(r, "started")), started);
    json_t *k = json_object_get(r, "consultation");
    assert_string_equal(cfx_jstr(k, "status"), "in_call");
    assert_int_equal(cfx_jint(k, "advice_id"), advice_id);
    json_int_t kid = cfx_jint(k, "id");
    json_decref(r);
    return kid;
}

static void test_specialist_calls_from_the_thread_and_the_gp_brings_the_patient_in(void **s)
{
    pl_pc_t *gp = open_live("dr.patel"), *spec = open_live("dr.khan");
    pl_pc_t *ann = open_live("ann.taylor");
    json_t *a = ask(gp, "urgent", "ann.taylor");
    json_int_t aid = cfx_jint(a, "id");
    json_decref(a);

    /* The specialist starts the call; the GP's page learns of it on the thread, without the
     * patient's name, and pressing "call" too meets the same one. */
    json_int_t kid = start_call(spec, aid, true);
    json_t *e, *ev = advice_event(gp, "consult.started", aid, &e);
    assert_int_equal(cfx_jint(e, "consultation_id"), kid);
    assert_string_equal(cfx_jstr(e, "display_name"), "Dr Leila Khan");
    json_decref(ev);
    assert_int_equal(start_call(gp, aid, false), kid);
    /* The agreement shares who the patient is: the specialist sees it on the call too. */
    json_t *k = cfx_consult_get(spec, kid);
    assert_string_equal(cfx_jstr(json_object_get(k, "patient"), "display_name"), "Ann Taylor");
    json_decref(k);
    /* Not the patient's: no access, no event, not in her list. */
    cfx_refused(pl_pc_callf(ann, CFX_T, "{ss sI}", "type", "consult.get", "consultation_id", kid),
                "forbidden", NULL);
    assert_false(cfx_replays(ann, "consult.started", "consultation_id", kid));
    json_t *l = cfx_ok(pl_pc_callf(ann, CFX_T, "{ss}", "type", "consult.list"));
    assert_int_equal(json_array_size(json_object_get(l, "consultations")), 0);
    json_decref(l);
    /* Nor the practice's consultation list: it lives on the thread. */
    l = cfx_ok(pl_pc_callf(gp, CFX_T, "{ss ss}", "type", "consult.list", "filter", "upcoming"));
    size_t at;
    json_t *x;
    json_array_foreach(json_object_get(l, "consultations"), at, x)
        assert_int_not_equal(cfx_jint(x, "id"), kid);
    json_decref(l);

    /* GP and specialist talk. */
    static peer_t ps[N_PEERS];
    memset(ps, 0, sizeof ps);
    for (int p = 0; p < N_PEERS; p++) {
        assert_int_equal(pl_call_peer_open(&ps[p].p, media_port, on_media, &ps[p]), 0);
        ps[p].p.slots = 2; /* a browser's offer: slots A and B, and the screen */
    }
    json_decref(cfx_ok(pl_call_peer_join(&ps[GP].p, gp, kid, "consult.join")));
    json_decref(cfx_ok(pl_call_peer_join(&ps[SPEC].p, spec, kid, "consult.join")));
    pl_call_peer_t *to_spec[] = {&ps[SPEC].p}, *to_gp[] = {&ps[GP].p};
    assert_int_equal(pl_call_peer_connect(&ps[GP].p, to_spec, 1), 0);
    assert_int_equal(pl_call_peer_connect(&ps[SPEC].p, to_gp, 1), 0);
    send_voice(&ps[GP], GP, 20, 100);
    send_voice(&ps[SPEC], SPEC, 20, 200);
    int two[N_PEERS][N_PEERS] = {[GP] = {[SPEC] = 20}, [SPEC] = {[GP] = 20}};
    poll_until(ps, 2, two);
    assert_int_equal(ps[GP].from[SPEC], 20);
    assert_int_equal(ps[SPEC].from[GP], 20);
    /* The patient cannot walk into it. */
    cfx_refused(pl_call_peer_join(&ps[ANN].p, ann, kid, "consult.join"), "forbidden", NULL);

    /* The GP brings Ann in: a consultation of her own, held in the advice call's room. The
     * specialist may not; nor may it happen twice. */
    cfx_refused(pl_pc_callf(spec, CFX_T, "{ss sI sI}", "type", "consult.book", "patient_id",
                            uid("ann.taylor"), "into_consultation_id", kid),
                "not_found", NULL);
    cfx_booking_t b =
        cfx_book_with(gp, json_pack("{sI sI}", "patient_id", uid("ann.taylor"),
                                    "into_consultation_id", kid));
    assert_int_not_equal(b.id, kid);
    ev = cfx_event(spec, "consult.patient_invited", &e);
    assert_int_equal(cfx_jint(e, "consultation_id"), kid);
    assert_int_equal(cfx_jint(e, "patient_consultation_id"), b.id);
    json_decref(ev);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI sI}", "type", "consult.book", "patient_id",
                            uid("ann.taylor"), "into_consultation_id", kid),
                "conflict", NULL);
    k = cfx_consult_get(gp, b.id);
    assert_int_equal(cfx_jint(k, "room_id"), kid);
    json_decref(k);
    k = cfx_consult_get(ann, b.id); /* hers, without the professionals' call */
    assert_null(json_object_get(k, "room_id"));
    json_decref(k);

    /* Her own way in: she waits, her GP admits her, and she joins her consultation. */
    json_decref(cfx_ok(
        pl_pc_callf(ann, CFX_T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id)));
    json_decref(cfx_ok(
        pl_pc_callf(gp, CFX_T, "{ss sI}", "type", "consult.admit", "consultation_id", b.id)));
    json_decref(cfx_ok(pl_call_peer_join(&ps[ANN].p, ann, b.id, "consult.join")));
    pl_call_peer_t *to_both[] = {&ps[GP].p, &ps[SPEC].p};
    assert_int_equal(pl_call_peer_connect(&ps[ANN].p, to_both, 2), 0);
    send_voice(&ps[GP], GP, 20, 120);
    send_voice(&ps[SPEC], SPEC, 20, 220);
    send_voice(&ps[ANN], ANN, 20, 300);
    int three[N_PEERS][N_PEERS] = {[GP] = {[SPEC] = 40, [ANN] = 20},
                                   [SPEC] = {[GP] = 40, [ANN] = 20},
                                   [ANN] = {[GP] = 20, [SPEC] = 20}};
    poll_until(ps, 3, three);
    for (int i = 0; i < N_PEERS; i++)
        for (int j = 0; j < N_PEERS; j++)
            assert_int_equal(ps[i].from[j], three[i][j]);

    /* Ann's page is told who is in her pictures, about her own consultation: her GP, who joined
     * first, and the specialist, by name only. */
    json_t *sl = NULL, *se = NULL;
    for (int tries = 0; tries < 4; tries++) {
        json_decref(sl);
        sl = cfx_event(ann, "consult.slots", &se);
        if (!json_is_null(json_array_get(json_object_get(se, "slots"), 1))) break;
    }
    assert_int_equal(cfx_jint(se, "consultation_id"), b.id);
    cfx_check_person(json_array_get(json_object_get(se, "slots"), 0), 0, "staff", "Dr Asha Patel");
    cfx_check_person(json_array_get(json_object_get(se, "slots"), 1), 0, "staff", "Dr Leila Khan");
    json_decref(sl);
    /* Her joining is her consultation's event, which her practice gets. */
    for (;;) {
        ev = cfx_event(gp, "consult.joined", &e);
        if (cfx_jint(e, "consultation_id") == b.id) break;
        json_decref(ev);
    }
    cfx_check_person(json_object_get(e, "participant"), uid("ann.taylor"), "patient",
                     "Ann Taylor");
    json_decref(ev);

    /* The specialist ends the call: Ann's consultation ends with it, on her conversation. */
    json_decref(cfx_ok(
        pl_pc_callf(spec, CFX_T, "{ss sI}", "type", "consult.end", "consultation_id", kid)));
    for (;;) {
        ev = cfx_event(ann, "consult.ended", &e);
        if (cfx_jint(e, "consultation_id") == b.id) break;
        json_decref(ev);
    }
    json_decref(ev);
    /* The call's own end is the thread's: it lists the professionals, not the patient. */
    for (;;) {
        ev = cfx_event(spec, "consult.ended", &e);
        if (cfx_jint(e, "consultation_id") == kid) break;
        json_decref(ev);
    }
    char *txt = json_dumps(ev, JSON_COMPACT);
    assert_null(strstr(txt, "Ann Taylor"));
    assert_non_null(strstr(txt, "Dr Asha Patel"));
    free(txt);
    json_decref(ev);
    k = cfx_consult_get(ann, b.id);
    assert_string_equal(cfx_jstr(k, "status"), "ended");
    json_decref(k);
    assert_false(cfx_replays(ann, "consult.started", "consultation_id", kid));
    assert_false(cfx_replays(ann, "consult.ended", "consultation_id", kid));
    cfx_refused(pl_call_peer_join(&ps[ANN].p, ann, b.id, "consult.join"), "conflict", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI sI}", "type", "consult.book", "patient_id",
                            uid("ann.taylor"), "into_consultation_id", kid),
                "conflict", "that call has ended: start a new one from the request");
    /* A new call starts fresh. */
    json_int_t again = start_call(gp, aid, true);
    assert_int_not_equal(again, kid);
    json_decref(cfx_ok(
        pl_pc_callf(gp, CFX_T, "{ss sI}", "type", "consult.end", "consultation_id", again)));
    for (int p = 0; p < N_PEERS; p++)
        pl_call_peer_close(&ps[p].p);
    pl_pc_destroy(ann);
    pl_pc_destroy(spec);
    pl_pc_destroy(gp);
}

static void test_calls_on_a_thread_are_refused_to_those_outside_it(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *spec = open_as("dr.khan");
    pl_pc_t *other = open_as("dr.hughes"), *ann = open_as("ann.taylor");
    json_t *a = ask(gp, "routine", "ann.taylor");
    json_int_t aid = cfx_jint(a, "id");
    json_decref(a);
    /* Another practice's GP, and the patient, see no request to call about. */
    cfx_refused(act(other, "advice.call", aid), "not_found", NO_SUCH);
    json_t *r = act(ann, "advice.call", aid);
    assert_false(pl_pc_is_ok(r));
    json_decref(r);
    /* Only an advice call takes a patient in, and only the one the call is about. */
    cfx_booking_t plain = cfx_book(&fx, gp);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI sI}", "type", "consult.book", "patient_id",
                            uid("ann.taylor"), "into_consultation_id", plain.id),
                "bad_request", "into_consultation_id must be a call on an advice request");
    json_int_t kid = start_call(spec, aid, true);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI sI}", "type", "consult.book", "patient_id",
                            uid("robert.green"), "into_consultation_id", kid),
                "bad_request", "that call is about another patient");
    cfx_refused(pl_pc_callf(other, CFX_T, "{ss sI}", "type", "consult.get", "consultation_id", kid),
                "forbidden", NULL);
    /* No guests between professionals. */
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI s{ss ss}}", "type", "consult.invite",
                            "consultation_id", kid, "guest", "display_name", "Maria Lopez",
                            "role", "interpreter"),
                "bad_request", NULL);
    /* A closed request takes no new call; the open one can still be ended. */
    json_decref(cfx_ok(act(spec, "advice.claim", aid)));
    json_decref(cfx_ok(pl_pc_callf(spec, CFX_T, "{ss sI ss}", "type", "advice.close", "advice_id",
                                   aid, "outcome", "advice_given")));
    assert_int_equal(start_call(gp, aid, false), kid);
    json_decref(cfx_ok(
        pl_pc_callf(gp, CFX_T, "{ss sI}", "type", "consult.end", "consultation_id", kid)));
    cfx_refused(act(gp, "advice.call", aid), "conflict",
                "this request is closed: ask a new one to talk again");
    json_decref(cfx_ok(
        pl_pc_callf(gp, CFX_T, "{ss sI}", "type", "consult.cancel", "consultation_id", plain.id)));
    pl_pc_destroy(ann);
    pl_pc_destroy(other);
    pl_pc_destroy(spec);
    pl_pc_destroy(gp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_specialist_calls_from_the_thread_and_the_gp_brings_the_patient_in),
        cmocka_unit_test(test_calls_on_a_thread_are_refused_to_those_outside_it),
    };
    return cmocka_run_group_tests(tests, setup, group_teardown);
}
