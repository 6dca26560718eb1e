/* Integration: case discussions (MDT, PROTOCOL section 12) through the real server and its
 * media port. Dr Patel (Riverside) opens a discussion about Ann Taylor and invites Dr Khan
 * (Dermatology, City Hospital, under the demo's identified agreement) and colleagues; the
 * thread and its events reach the members only (not the rest of the practice, not the patient,
 * not another practice); the meeting takes four people who each hear the other three (test
 * WebRTC clients offering seven slots), and refuses non-members; closing stops the thread; and
 * an ended agreement takes the service's member out of everything at once. */
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

#define TITLE "Changing pigmented lesion: excise or monitor?"

static json_t *case_call(pl_pc_t *c, const char *type, json_int_t case_id)
{
    return pl_pc_callf(c, CFX_T, "{ss sI}", "type", type, "case_id", case_id);
}

static json_t *invite(pl_pc_t *c, json_int_t case_id, const char *user)
{
    return pl_pc_callf(c, CFX_T, "{ss sI sI}", "type", "case.invite", "case_id", case_id,
                       "user_id", uid(user));
}

static json_int_t open_case(pl_pc_t *gp, const char *txn)
{
    json_t *r = cfx_ok(pl_pc_callf(gp, CFX_T, "{ss sI ss ss}", "type", "case.create",
                                   "patient_id", uid("ann.taylor"), "title", TITLE, "txn_id", txn));
    json_t *k = json_object_get(r, "case");
    assert_string_equal(cfx_jstr(k, "title"), TITLE);
    assert_string_equal(cfx_jstr(k, "status"), "open");
    json_int_t id = cfx_jint(k, "id");
    json_decref(r);
    return id;
}

static bool is_member(json_t *k, const char *user)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(k, "members"), i, m)
    {
        if (cfx_jint(m, "user_id") == uid(user)) return true;
    }
    return false;
}

static void test_members_only_thread_across_organisations(void **s)
{
    pl_pc_t *gp = open_live("dr.patel"), *khan = open_live("dr.khan");
    pl_pc_t *nurse = open_live("nurse.okafor"), *ann = open_live("ann.taylor");
    pl_pc_t *hughes = open_as("dr.hughes");
    json_int_t id = open_case(gp, "case-1");
    assert_int_equal(open_case(gp, "case-1"), id); /* a retry is the same discussion */
    json_t *r = cfx_ok(case_call(gp, "case.get", id));
    json_t *k = json_object_get(r, "case");
    json_int_t conv = cfx_jint(k, "conversation_id");
    assert_string_equal(cfx_jstr(json_object_get(k, "patient"), "display_name"), "Ann Taylor");
    assert_int_equal(json_array_size(json_object_get(k, "members")), 1);
    assert_true(is_member(k, "dr.patel"));
    assert_true(json_is_null(json_object_get(k, "call_id")));
    json_decref(r);

    /* Who may be invited: the practice's staff and the service's, not another practice's. */
    r = cfx_ok(case_call(gp, "case.candidates", id));
    bool khan_found = false, nurse_found = false;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(r, "people"), i, p)
    {
        json_int_t u = cfx_jint(p, "user_id");
        assert_int_not_equal(u, uid("dr.hughes"));
        assert_int_not_equal(u, uid("dr.patel"));
        assert_int_not_equal(u, uid("ann.taylor"));
        if (u == uid("dr.khan")) {
            khan_found = true;
            assert_string_equal(cfx_jstr(json_object_get(p, "org"), "name"),
                                "Dermatology, City Hospital");
        }
        nurse_found |= u == uid("nurse.okafor");
    }
    assert_true(khan_found && nurse_found);
    json_decref(r);
    cfx_refused(invite(gp, id, "dr.hughes"), "bad_request",
                "user_id is not a professional of this practice or of a service with an agreement "
                "in force that shares the patient's identity");
    cfx_refused(invite(gp, id, "ann.taylor"), "bad_request", NULL);

    /* Not a member yet: the service's specialist and the practice's own nurse see nothing. */
    cfx_refused(case_call(khan, "case.get", id), "not_found", "no such case discussion");
    cfx_refused(case_call(nurse, "case.get", id), "not_found", "no such case discussion");
    cfx_refused(pl_pc_callf(nurse, CFX_T, "{ss sI}", "type", "conversation.history",
                            "conversation_id", conv),
                "forbidden", NULL);

    k = json_object_get(r = cfx_ok(invite(gp, id, "dr.khan")), "case");
    assert_true(is_member(k, "dr.khan"));
    json_decref(r);
    json_t *e, *ev = cfx_event(khan, "case.member_added", &e);
    assert_int_equal(cfx_jint(e, "case_id"), id);
    assert_int_equal(cfx_jint(json_object_get(e, "member"), "user_id"), uid("dr.khan"));
    json_decref(ev);
    /* Once a member, the specialist sees the patient, and talks in the thread. */
    r = cfx_ok(case_call(khan, "case.get", id));
    assert_string_equal(cfx_jstr(json_object_get(json_object_get(r, "case"), "patient"),
                                 "nhs_number"),
                        nhs_of("ann.taylor"));
    json_decref(r);
    json_decref(cfx_ok(pl_pc_callf(khan, CFX_T, "{ss sI ss ss}", "type", "conversation.send",
                                   "conversation_id", conv, "body",
                                   "Excise: asymmetric and changing.", "txn_id", cfx_txn())));
    ev = cfx_event(gp, "message.created", &e);
    assert_int_equal(cfx_jint(e, "conversation_id"), conv);
    json_decref(ev);
    /* The practice's service side may not run it, nor type in it. */
    cfx_refused(invite(khan, id, "nurse.okafor"), "forbidden",
                "only the practice that opened the discussion may do that");
    cfx_refused(case_call(khan, "case.close", id), "forbidden", NULL);
    cfx_refused(pl_pc_callf(khan, CFX_T, "{ss sI sb}", "type", "typing.set", "conversation_id",
                            conv, "typing", 1),
                "forbidden", NULL);

    /* Nothing of it reached the non-members or the patient, live or on replay. */
    assert_false(cfx_replays(nurse, "message.created", "conversation_id", conv));
    assert_false(cfx_replays(nurse, "case.created", "conversation_id", conv));
    assert_false(cfx_replays(ann, "message.created", "conversation_id", conv));
    assert_false(cfx_replays(hughes, "case.member_added", "conversation_id", conv));
    assert_true(cfx_replays(khan, "case.created", "conversation_id", conv)); /* a member replays it all */
    r = cfx_ok(pl_pc_callf(ann, CFX_T, "{ss}", "type", "conversation.list"));
    json_array_foreach(json_object_get(r, "conversations"), i, p)
        assert_int_not_equal(cfx_jint(p, "id"), conv);
    json_decref(r);
    cfx_refused(case_call(ann, "case.get", id), "not_found", NULL);
    cfx_refused(pl_pc_callf(ann, CFX_T, "{ss}", "type", "case.list"), "forbidden", NULL);
    /* Lists: the members', not the nurse's. */
    r = cfx_ok(pl_pc_callf(khan, CFX_T, "{ss}", "type", "case.list"));
    assert_int_equal(cfx_jint(json_array_get(json_object_get(r, "cases"), 0), "id"), id);
    json_decref(r);
    r = cfx_ok(pl_pc_callf(nurse, CFX_T, "{ss}", "type", "case.list"));
    assert_int_equal(json_array_size(json_object_get(r, "cases")), 0);
    json_decref(r);

    /* Closed: no more messages; everyone is told. */
    r = cfx_ok(case_call(gp, "case.close", id));
    assert_string_equal(cfx_jstr(json_object_get(r, "case"), "status"), "closed");
    json_decref(r);
    ev = cfx_event(khan, "case.closed", &e);
    assert_int_equal(cfx_jint(e, "case_id"), id);
    json_decref(ev);
    cfx_refused(case_call(gp, "case.close", id), "conflict", "this case discussion is closed");
    cfx_refused(invite(gp, id, "nurse.okafor"), "conflict", "this case discussion is closed");
    cfx_refused(pl_pc_callf(khan, CFX_T, "{ss sI ss ss}", "type", "conversation.send",
                            "conversation_id", conv, "body", "One more thing", "txn_id",
                            cfx_txn()),
                "conflict", "this case discussion is closed");
    cfx_refused(case_call(gp, "case.call", id), "conflict", NULL);
    pl_pc_destroy(hughes);
    pl_pc_destroy(ann);
    pl_pc_destroy(nurse);
    pl_pc_destroy(khan);
    pl_pc_destroy(gp);
}

static void test_who_may_open_one_and_bad_requests(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *rec = open_as("reception.jones");
    pl_pc_t *hughes = open_as("dr.hughes"), *khan = open_as("dr.khan");
    int64_t cases = count("SELECT count(*) FROM cases");
    cfx_refused(pl_pc_callf(rec, CFX_T, "{ss sI ss ss}", "type", "case.create", "patient_id",
                            uid("ann.taylor"), "title", TITLE, "txn_id", "r1"),
                "forbidden", "case discussions are opened by the practice's clinicians");
    cfx_refused(pl_pc_callf(hughes, CFX_T, "{ss sI ss ss}", "type", "case.create", "patient_id",
                            uid("ann.taylor"), "title", TITLE, "txn_id", "h1"),
                "not_found", "no such patient at your practice");
    cfx_refused(pl_pc_callf(khan, CFX_T, "{ss sI ss ss}", "type", "case.create", "patient_id",
                            uid("ann.taylor"), "title", TITLE, "txn_id", "k1"),
                "not_found", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI ss ss}", "type", "case.create", "patient_id",
                            uid("dr.khan"), "title", TITLE, "txn_id", "g1"),
                "not_found", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI ss ss}", "type", "case.create", "patient_id",
                            uid("ann.taylor"), "title", "two\nlines", "txn_id", "g2"),
                "bad_request", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI ss}", "type", "case.create", "patient_id",
                            uid("ann.taylor"), "title", TITLE),
                "bad_request", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI ss ss}", "type", "case.create", "patient_id",
                            uid("ann.taylor"), "title", "", "txn_id", "g3"),
                "bad_request", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss ss}", "type", "case.get", "case_id", "1"),
                "bad_request", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss ss}", "type", "case.list", "filter", "everything"),
                "bad_request", NULL);
    cfx_refused(case_call(gp, "case.get", 999999), "not_found", "no such case discussion");
    assert_int_equal(count("SELECT count(*) FROM cases"), cases);
    pl_pc_destroy(khan);
    pl_pc_destroy(hughes);
    pl_pc_destroy(rec);
    pl_pc_destroy(gp);
}

/* ---- the meeting: four browsers that say who they are in every packet ---- */

enum { GP, KHAN, NURSE, PHARM, N_PEERS };
static const char *const users[N_PEERS] = {"dr.patel", "dr.khan", "nurse.okafor", "pharm.lee"};

typedef struct {
    pl_call_peer_t p;
    int from[N_PEERS];
} peer_t;

static void on_media(void *opaque, const uint8_t *buf, size_t len, bool rtcp)
{
    peer_t *p = opaque;
    pl_rtp_packet_t r;
    if (rtcp || pl_rtp_parse(buf, len, &r) < 0) return;
    for (int i = 0; i < N_PEERS; i++)
        if (r.payload_len == strlen(users[i]) && !memcmp(r.payload, users[i], r.payload_len))
            p->from[i]++;
}

static void send_voice(peer_t *p, int who, int n)
{
    uint8_t buf[1500];
    for (int i = 0; i < n; i++) {
        pl_rtp_header_t h = {.pt = 111,
                             .seq = (uint16_t)(100 * who + i),
                             .timestamp = 960u * (uint32_t)i,
                             .ssrc = PL_RTC_OFFER_AUDIO_SSRC};
        size_t len = 0;
        assert_int_equal(pl_rtp_write(&h, (const uint8_t *)users[who], strlen(users[who]), buf,
                                      sizeof buf - 200, &len),
                         0);
        assert_int_equal(pl_rtc_client_send(p->p.cli, buf, len, sizeof buf, false), 0);
    }
}

static void test_meeting_of_four_members_each_hears_the_other_three(void **s)
{
    pl_pc_t *pc[N_PEERS];
    for (int i = 0; i < N_PEERS; i++) pc[i] = open_live(users[i]);
    json_int_t id = open_case(pc[GP], "case-meet");
    for (int i = 1; i < N_PEERS; i++) json_decref(cfx_ok(invite(pc[GP], id, users[i])));

    /* The specialist starts it; the others are told, and meet in the same one. */
    json_t *r = cfx_ok(case_call(pc[KHAN], "case.call", id));
    assert_true(json_is_true(json_object_get(r, "started")));
    json_t *k = json_object_get(r, "consultation");
    json_int_t kid = cfx_jint(k, "id");
    assert_int_equal(cfx_jint(k, "case_id"), id);
    assert_int_equal(cfx_jint(k, "capacity"), 8);
    json_decref(r);
    json_t *e, *ev = cfx_event(pc[NURSE], "consult.started", &e);
    assert_int_equal(cfx_jint(e, "consultation_id"), kid);
    json_decref(ev);
    r = cfx_ok(case_call(pc[GP], "case.call", id));
    assert_false(json_is_true(json_object_get(r, "started")));
    assert_int_equal(cfx_jint(json_object_get(r, "consultation"), "id"), kid);
    json_decref(r);
    r = cfx_ok(case_call(pc[GP], "case.get", id));
    assert_int_equal(cfx_jint(json_object_get(r, "case"), "call_id"), kid);
    json_decref(r);

    static peer_t ps[N_PEERS];
    memset(ps, 0, sizeof ps);
    for (int i = 0; i < N_PEERS; i++) {
        assert_int_equal(pl_call_peer_open(&ps[i].p, media_port, on_media, &ps[i]), 0);
        ps[i].p.slots = 7; /* a meeting browser's offer */
        json_decref(cfx_ok(pl_call_peer_join(&ps[i].p, pc[i], kid, "consult.join")));
    }
    for (int i = 0; i < N_PEERS; i++) {
        pl_call_peer_t *others[N_PEERS - 1];
        int n = 0;
        for (int j = 0; j < N_PEERS; j++)
            if (j != i) others[n++] = &ps[j].p;
        assert_int_equal(pl_call_peer_connect(&ps[i].p, others, n), 0);
    }
    for (int i = 0; i < N_PEERS; i++) send_voice(&ps[i], i, 20);
    for (int t = 0; t < 3000; t += 5) {
        bool done = true;
        for (int i = 0; i < N_PEERS; i++)
            for (int j = 0; j < N_PEERS; j++)
                if (i != j && ps[i].from[j] < 20) done = false;
        if (done) break;
        for (int i = 0; i < N_PEERS; i++) pl_call_peer_poll(&ps[i].p);
        usleep(5000);
    }
    for (int i = 0; i < N_PEERS; i++)
        for (int j = 0; j < N_PEERS; j++) assert_int_equal(ps[i].from[j], i == j ? 0 : 20);

    /* The slots name the three others for each. */
    json_t *sl = NULL, *se = NULL;
    for (int tries = 0; tries < 8; tries++) {
        json_decref(sl);
        sl = cfx_event(pc[PHARM], "consult.slots", &se);
        if (!json_is_null(json_array_get(json_object_get(se, "slots"), 2))) break;
    }
    assert_int_equal(cfx_jint(se, "consultation_id"), kid);
    assert_int_equal(json_array_size(json_object_get(se, "slots")), 7);
    assert_true(json_is_null(json_array_get(json_object_get(se, "slots"), 3)));
    json_decref(sl);

    /* A member of the practice who is not a member of the case is refused; so is the patient. */
    pl_pc_t *rec = open_as("reception.jones"), *ann = open_as("ann.taylor");
    peer_t extra;
    memset(&extra, 0, sizeof extra);
    assert_int_equal(pl_call_peer_open(&extra.p, media_port, NULL, NULL), 0);
    extra.p.slots = 7;
    cfx_refused(pl_call_peer_join(&extra.p, rec, kid, "consult.join"), "forbidden", NULL);
    cfx_refused(pl_call_peer_join(&extra.p, ann, kid, "consult.join"), "forbidden", NULL);
    pl_call_peer_close(&extra.p);
    pl_pc_destroy(ann);
    pl_pc_destroy(rec);
    /* Not in the practice's list of consultations: it is the discussion's. */
    r = cfx_ok(pl_pc_callf(pc[GP], CFX_T, "{ss ss}", "type", "consult.list", "filter", "all"));
    size_t at;
    json_t *x;
    json_array_foreach(json_object_get(r, "consultations"), at, x)
        assert_int_not_equal(cfx_jint(x, "id"), kid);
    json_decref(r);

    /* Any member ends it; everyone is told, with the professionals who took part. */
    json_decref(cfx_ok(pl_pc_callf(pc[NURSE], CFX_T, "{ss sI}", "type", "consult.end",
                                   "consultation_id", kid)));
    for (;;) {
        ev = cfx_event(pc[KHAN], "consult.ended", &e);
        if (cfx_jint(e, "consultation_id") == kid) break;
        json_decref(ev);
    }
    assert_int_equal(json_array_size(json_object_get(e, "participants")), N_PEERS);
    char *txt = json_dumps(e, JSON_COMPACT);
    assert_null(strstr(txt, "Ann Taylor"));
    free(txt);
    json_decref(ev);
    for (int i = 0; i < N_PEERS; i++) {
        pl_call_peer_close(&ps[i].p);
        pl_pc_destroy(pc[i]);
    }
}

/* Last: it ends the demo agreement. */
static void test_an_ended_agreement_takes_the_services_member_out(void **s)
{
    pl_pc_t *gp = open_live("dr.patel"), *khan = open_live("dr.khan");
    pl_pc_t *svc_admin = open_as("admin.city");
    json_int_t id = open_case(gp, "case-agreement");
    json_decref(cfx_ok(invite(gp, id, "dr.khan")));
    json_t *r = cfx_ok(case_call(gp, "case.get", id)), *e, *ev;
    json_int_t conv = cfx_jint(json_object_get(r, "case"), "conversation_id");
    json_decref(r);
    json_decref(cfx_ok(case_call(khan, "case.get", id)));

    r = cfx_ok(pl_pc_callf(svc_admin, CFX_T, "{ss}", "type", "agreement.list"));
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(r, "agreements"), i, a)
    {
        if (cfx_jint(a, "practice_id") == riverside_id && !strcmp(cfx_jstr(a, "state"), "active"))
            json_decref(cfx_ok(pl_pc_callf(svc_admin, CFX_T, "{ss sI}", "type", "agreement.end",
                                           "agreement_id", cfx_jint(a, "id"))));
    }
    json_decref(r);
    /* At once: no case, no thread, no meeting, no events; no more invitations from there. */
    cfx_refused(case_call(khan, "case.get", id), "not_found", "no such case discussion");
    cfx_refused(case_call(khan, "case.call", id), "not_found", NULL);
    cfx_refused(pl_pc_callf(khan, CFX_T, "{ss sI ss ss}", "type", "conversation.send",
                            "conversation_id", conv, "body", "Still here?", "txn_id", cfx_txn()),
                "forbidden", NULL);
    r = cfx_ok(pl_pc_callf(khan, CFX_T, "{ss}", "type", "case.list"));
    assert_int_equal(json_array_size(json_object_get(r, "cases")), 0);
    json_decref(r);
    json_decref(cfx_ok(pl_pc_callf(gp, CFX_T, "{ss sI ss ss}", "type", "conversation.send",
                                   "conversation_id", conv, "body", "For the practice only now",
                                   "txn_id", cfx_txn())));
    ev = cfx_event(gp, "message.created", &e);
    json_decref(ev);
    assert_false(cfx_replays(khan, "message.created", "conversation_id", conv));
    cfx_refused(invite(gp, id, "dr.ali"), "bad_request", NULL);
    r = cfx_ok(case_call(gp, "case.candidates", id));
    json_array_foreach(json_object_get(r, "people"), i, a)
        assert_int_not_equal(cfx_jint(a, "user_id"), uid("dr.ali"));
    json_decref(r);
    pl_pc_destroy(svc_admin);
    pl_pc_destroy(khan);
    pl_pc_destroy(gp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_only_thread_across_organisations),
        cmocka_unit_test(test_who_may_open_one_and_bad_requests),
        cmocka_unit_test(test_meeting_of_four_members_each_hears_the_other_three),
        cmocka_unit_test(test_an_ended_agreement_takes_the_services_member_out),
    };
    return cmocka_run_group_tests(tests, setup, group_teardown);
}
