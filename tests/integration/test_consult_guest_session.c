/* Integration: a guest's session in a video consultation (an interpreter or a carer from outside
 * the practice), against the real server binary over real HTTPS and WSS, on the demo data: Dr
 * Patel (Riverside Surgery) books for Ann Taylor, invites a guest with consult.invite, and the
 * guest opens its link. Checked: what a guest session may send; the guest's events (its own
 * consultation's consult.* events only, live and replayed, never the chat or a second
 * consultation on the same conversation); waiting and admission on its own, and consult.join
 * (with a real SDP offer) refused until then. The invitation and the guest's link are in
 * test_consult_guest.c; the fixture is tests/support/guest_fx.h.
 * One server for the group: every test books its own consultation. Failed joins and sign-ins
 * count in the address throttle (20 per address), so the whole file stays well under it. */
#include "tests/support/call_peer.h"
#include "tests/support/consult_fx.h"
#include "tests/support/guest_fx.h"
#include "tests/support/https.h"
#include "tests/support/pclient.h"
#include "tests/support/wsc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define T CFX_T
#define WAIT_TO_BE_ADMITTED "wait to be admitted: the clinician will let you in"
#define GATE "this session is for your video consultation only"

/* ---- helpers ---- */

/* Opens the guest's link (no date of birth) and connects with its session. */
static pl_pc_t *guest_open(const cfx_guest_t *g, char *device, size_t cap)
{
    return cfx_join_and_connect(&fx, g->token, NULL, device, cap);
}

/* The next event frame on c about consultation kid (events about others are skipped). */
static json_t *next_event_about(pl_pc_t *c, json_int_t kid)
{
    for (;;) {
        json_t *m = pl_pc_next_push(c, T);
        assert_non_null(m);
        json_t *e = json_object_get(m, "event");
        if (json_integer_value(json_object_get(e, "consultation_id")) == kid) return m;
        json_decref(m);
    }
}

/* Every event pushed to c up to and including the first of type `until` about consultation
 * kid (any other push is a failure: a guest gets events and nothing else here). */
static json_t *events_until(pl_pc_t *c, const char *until, json_int_t kid)
{
    json_t *all = json_array();
    for (;;) {
        json_t *m = pl_pc_next_push(c, T);
        if (!m) cfx_dump("events so far", all);
        assert_non_null(m);
        if (strcmp(cfx_jstr(m, "type"), "event") != 0) cfx_dump("not an event", m);
        assert_string_equal(cfx_jstr(m, "type"), "event");
        json_array_append_new(all, m);
        json_t *e = json_object_get(m, "event");
        if (strcmp(cfx_jstr(e, "type"), until) == 0 &&
            json_integer_value(json_object_get(e, "consultation_id")) == kid)
            return all;
    }
}

/* The types of an array of event frames, as "a,b,c". */
static void types_of(json_t *frames, char *out, size_t cap)
{
    size_t i, n = 0;
    json_t *f;
    out[0] = 0;
    json_array_foreach(frames, i, f)
    {
        const char *t = cfx_jstr(json_object_get(f, "event"), "type");
        if (n >= cap) break;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", t);
    }
}

/* ---- the guest's session ---- */

static void test_guest_session_may_send_only_what_its_page_needs(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp), other = cfx_book(&fx, gp);
    cfx_guest_t g = cfx_invite_guest(gp, b.id, "Maria Lopez", "interpreter");
    pl_pc_t *c = guest_open(&g, NULL, 0);

    /* What its page needs. */
    json_decref(cfx_ok(pl_pc_callf(c, T, "{ss}", "type", "ping")));
    json_t *r = cfx_ok(pl_pc_callf(c, T, "{ss}", "type", "session.info"));
    json_t *user = json_object_get(r, "user");
    assert_int_equal(cfx_jint(user, "id"), g.id);
    assert_string_equal(cfx_jstr(user, "kind"), "guest");
    assert_string_equal(cfx_jstr(user, "role"), "interpreter");
    assert_string_equal(cfx_jstr(user, "display_name"), "Maria Lopez");
    assert_null(json_object_get(user, "practice"));
    assert_int_equal(json_array_size(json_object_get(r, "organisations")), 0);
    assert_int_equal(cfx_jint(r, "consultation_id"), b.id);
    json_decref(r);
    json_t *k = cfx_consult_get(c, b.id);
    assert_int_equal(cfx_jint(k, "id"), b.id);
    assert_string_equal(cfx_jstr(k, "status"), "booked");
    assert_null(json_object_get(json_object_get(k, "clinician"), "id"));
    assert_string_equal(cfx_jstr(json_object_get(k, "clinician"), "display_name"), "Dr Asha Patel");
    check_invited(invited0(k), g.id, "Maria Lopez", "interpreter", false, false);
    json_decref(k);
    r = cfx_ok(pl_pc_callf(c, T, "{ss}", "type", "media.ice_servers"));
    assert_true(json_is_array(json_object_get(r, "ice_servers")));
    json_decref(r);
    json_t *evs = pl_pc_subscribe(c, -1, T);
    assert_non_null(evs);
    json_decref(evs);
    cfx_refused(pl_pc_callf(c, T, "{ss sI}", "type", "consult.leave", "consultation_id", b.id),
                "not_found", NULL); /* allowed, but it is not in the call */

    /* Nothing else: no chat, no lists, nothing the practice runs. */
    const char *types[] = {
        "conversation.get",    "conversation.history",
        "conversation.send",   "conversation.note",
        "conversation.list",   "conversation.create",
        "conversation.assign", "conversation.set_status",
        "typing.set",          "receipt.mark",
        "patient.lookup",      "consult.list",
        "consult.book",        "consult.link",
        "consult.admit",       "consult.invite",
        "consult.end",         "consult.cancel",
        "org.staff",           "template.list",
        "template.save",       "template.delete",
        "totp.enrol",          "totp.confirm",
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        r = pl_pc_callf(c, T, "{ss sI sI sI ss ss ss sb sI ss}", "type", types[i],
                        "conversation_id", b.conversation_id, "consultation_id", b.id, "patient_id",
                        uid("ann.taylor"), "txn_id", cfx_txn(), "body", "hello", "kind", "read",
                        "typing", 1, "seq", 1, "code", "123456");
        if (!pl_pc_is_error(r, "forbidden")) print_error("%s\n", types[i]);
        cfx_refused(r, "forbidden", GATE);
    }
    /* Its own consultation only. */
    cfx_refused(pl_pc_callf(c, T, "{ss sI}", "type", "consult.get", "consultation_id", other.id),
                "forbidden", NULL);
    cfx_refused(pl_pc_callf(c, T, "{ss sI}", "type", "consult.wait", "consultation_id", other.id),
                "forbidden", NULL);
    pl_call_peer_t peer;
    assert_int_equal(pl_call_peer_open(&peer, pl_test_server_media_port(fx.srv), NULL, NULL), 0);
    cfx_refused(pl_call_peer_join(&peer, c, other.id, "consult.join"), "forbidden", NULL);
    pl_call_peer_close(&peer);
    /* The chat went nowhere. */
    r = cfx_ok(pl_pc_callf(gp, T, "{ss sI}", "type", "conversation.get", "conversation_id",
                           b.conversation_id));
    assert_int_equal(cfx_jint(json_object_get(r, "conversation"), "last_seq"), 0);
    json_decref(r);
    pl_pc_destroy(c);
    pl_pc_destroy(gp);
}

static void test_guest_sees_its_consultations_events_and_nothing_else(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel"), *ann = cfx_open_as(&fx, "ann.taylor");
    cfx_booking_t b = cfx_book(&fx, gp);
    cfx_guest_t g = cfx_invite_guest(gp, b.id, "Maria Lopez", "interpreter");
    char device[64] = "";
    pl_pc_t *c = guest_open(&g, device, sizeof device);
    json_t *evs = pl_pc_subscribe(c, -1, T);
    assert_int_equal(json_array_size(evs), 0);
    json_decref(evs);

    /* On the same conversation, what the guest must not see: a second consultation (booked,
     * a colleague invited, the patient waiting in it), the chat both ways, a staff note, and
     * both sides typing. */
    cfx_booking_t b2 = cfx_book_with(gp, json_pack("{sI sI}", "patient_id", uid("ann.taylor"),
                                                   "conversation_id", b.conversation_id));
    assert_int_equal(b2.conversation_id, b.conversation_id);
    json_decref(cfx_ok(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.invite", "consultation_id",
                                   b2.id, "user_id", uid("nurse.okafor"))));
    json_decref(
        cfx_ok(pl_pc_callf(ann, T, "{ss sI}", "type", "consult.wait", "consultation_id", b2.id)));
    json_decref(cfx_ok(pl_pc_callf(ann, T, "{ss sI ss ss}", "type", "conversation.send",
                                   "conversation_id", b.conversation_id, "txn_id", cfx_txn(),
                                   "body", "My carer is here too")));
    json_decref(cfx_ok(pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "conversation.send",
                                   "conversation_id", b.conversation_id, "txn_id", cfx_txn(),
                                   "body", "Thank you, see you shortly")));
    json_decref(cfx_ok(pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "conversation.note",
                                   "conversation_id", b.conversation_id, "txn_id", cfx_txn(),
                                   "body", "Interpreter booked via the agency")));
    json_decref(cfx_ok(pl_pc_callf(gp, T, "{ss sI sb}", "type", "typing.set", "conversation_id",
                                   b.conversation_id, "typing", 1)));
    json_decref(cfx_ok(pl_pc_callf(ann, T, "{ss sI sb}", "type", "typing.set", "conversation_id",
                                   b.conversation_id, "typing", 1)));

    /* What it must see: its own waiting and admission, and nothing in between. */
    json_decref(
        cfx_ok(pl_pc_callf(c, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id)));
    json_decref(cfx_ok(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.admit", "consultation_id",
                                   b.id, "user_id", g.id)));
    json_t *got = events_until(c, "consult.admitted", b.id);
    char types[512];
    types_of(got, types, sizeof types);
    assert_string_equal(types, "consult.waiting,consult.admitted");
    size_t i;
    json_t *f;
    json_array_foreach(got, i, f)
    {
        json_t *e = json_object_get(f, "event");
        assert_int_equal(cfx_jint(e, "consultation_id"), b.id);
        assert_int_equal(cfx_jint(e, "conversation_id"), b.conversation_id);
        assert_true(cfx_jint(f, "cursor") > 0);
        assert_null(json_object_get(e, "by")); /* a patient-view frame */
        cfx_check_person(json_object_get(e, "participant"), g.id, "interpreter", "Maria Lopez");
    }
    json_decref(got);
    /* Nothing was held back to arrive later. */
    json_t *late = pl_pc_next_push(c, 300);
    if (late) cfx_dump("late push", late);
    assert_null(late);

    /* Those events were real, on the same conversation: the practice has them. */
    evs = pl_pc_subscribe(gp, 0, T);
    assert_non_null(evs);
    int seen_b2_booked = 0, seen_b2_invited = 0, seen_b2_waiting = 0, messages = 0, notes = 0;
    json_array_foreach(evs, i, f)
    {
        json_t *e = json_object_get(f, "event");
        if (json_integer_value(json_object_get(e, "conversation_id")) != b.conversation_id)
            continue;
        const char *t = cfx_jstr(e, "type");
        json_int_t kid = json_integer_value(json_object_get(e, "consultation_id"));
        seen_b2_booked += !strcmp(t, "consult.booked") && kid == b2.id;
        seen_b2_invited += !strcmp(t, "consult.invited") && kid == b2.id;
        seen_b2_waiting += !strcmp(t, "consult.waiting") && kid == b2.id;
        messages += !strcmp(t, "message.created");
        notes += !strcmp(t, "note.created");
    }
    json_decref(evs);
    assert_int_equal(seen_b2_booked, 1);
    assert_int_equal(seen_b2_invited, 1);
    assert_int_equal(seen_b2_waiting, 1);
    assert_int_equal(messages, 2);
    assert_int_equal(notes, 1);

    /* Replayed from the start, on a new session: the same rule. Its consultation's consult.*
     * events, in order, as a patient sees them. */
    pl_pc_t *c2 = guest_open(&g, device, sizeof device);
    evs = pl_pc_subscribe(c2, 0, T);
    assert_non_null(evs);
    types_of(evs, types, sizeof types);
    assert_string_equal(types, "consult.booked,consult.invited,consult.waiting,consult.admitted");
    json_int_t last = 0;
    json_array_foreach(evs, i, f)
    {
        json_t *e = json_object_get(f, "event");
        assert_int_equal(cfx_jint(e, "consultation_id"), b.id);
        assert_int_equal(cfx_jint(e, "conversation_id"), b.conversation_id);
        assert_null(json_object_get(e, "by"));
        assert_true(cfx_jint(f, "cursor") > last);
        last = cfx_jint(f, "cursor");
    }
    json_t *booked =
        json_object_get(json_object_get(json_array_get(evs, 0), "event"), "consultation");
    assert_int_equal(cfx_jint(booked, "id"), b.id);
    assert_null(json_object_get(json_object_get(booked, "clinician"), "id"));
    cfx_check_person(
        json_object_get(json_object_get(json_array_get(evs, 1), "event"), "participant"), g.id,
        "interpreter", "Maria Lopez");
    json_decref(evs);

    /* Live events of the other consultation keep passing it by: Dr Patel admits Ann into it,
     * then cancels the guest's own (the first event the guest gets after its replay). */
    json_decref(
        cfx_ok(pl_pc_callf(gp, T, "{ss sI}", "type", "consult.admit", "consultation_id", b2.id)));
    json_decref(
        cfx_ok(pl_pc_callf(gp, T, "{ss sI}", "type", "consult.cancel", "consultation_id", b.id)));
    got = events_until(c2, "consult.cancelled", b.id);
    assert_int_equal(json_array_size(got), 1);
    json_decref(got);
    /* Cancelled: admitted or not, there is no call to join. */
    pl_call_peer_t peer;
    assert_int_equal(pl_call_peer_open(&peer, pl_test_server_media_port(fx.srv), NULL, NULL), 0);
    cfx_refused(pl_call_peer_join(&peer, c2, b.id, "consult.join"), "conflict",
                "this consultation is over");
    pl_call_peer_close(&peer);
    pl_pc_destroy(c2);
    pl_pc_destroy(c);
    pl_pc_destroy(ann);
    pl_pc_destroy(gp);
}

/* ---- waiting room and admission ---- */

static void test_guest_waits_and_is_admitted_on_its_own(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel"), *ann = cfx_open_as(&fx, "ann.taylor");
    cfx_booking_t b = cfx_book(&fx, gp);
    cfx_guest_t g = cfx_invite_guest(gp, b.id, "Maria Lopez", "interpreter");
    pl_pc_t *c = guest_open(&g, NULL, 0);
    json_decref(pl_pc_subscribe(gp, -1, T));
    json_decref(pl_pc_subscribe(c, -1, T));
    pl_call_peer_t peer;
    assert_int_equal(pl_call_peer_open(&peer, pl_test_server_media_port(fx.srv), NULL, NULL), 0);

    /* Not admitted: no call, whether or not it waits. */
    cfx_refused(pl_call_peer_join(&peer, c, b.id, "consult.join"), "conflict", WAIT_TO_BE_ADMITTED);

    json_t *r =
        cfx_ok(pl_pc_callf(c, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id));
    json_t *k = json_object_get(r, "consultation");
    assert_string_equal(cfx_jstr(k, "status"), "booked"); /* the patient's status, unmoved */
    check_invited(invited0(k), g.id, "Maria Lopez", "interpreter", true, false);
    json_decref(r);
    json_t *e, *ev = cfx_event(gp, "consult.waiting", &e);
    assert_int_equal(cfx_jint(e, "consultation_id"), b.id);
    cfx_check_person(json_object_get(e, "participant"), g.id, "interpreter", "Maria Lopez");
    json_decref(ev);
    /* A reload waits again: nothing changes, nothing is said (the next event is the admit). */
    json_decref(
        cfx_ok(pl_pc_callf(c, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id)));
    k = cfx_consult_get(gp, b.id);
    assert_string_equal(cfx_jstr(k, "status"), "booked");
    check_invited(invited0(k), g.id, "Maria Lopez", "interpreter", true, false);
    json_decref(k);
    cfx_refused(pl_call_peer_join(&peer, c, b.id, "consult.join"), "conflict", WAIT_TO_BE_ADMITTED);

    /* Admitting is the practice's, and only for the guest invited into this consultation. */
    cfx_refused(pl_pc_callf(c, T, "{ss sI sI}", "type", "consult.admit", "consultation_id", b.id,
                            "user_id", g.id),
                "forbidden", GATE);
    cfx_refused(pl_pc_callf(ann, T, "{ss sI sI}", "type", "consult.admit", "consultation_id", b.id,
                            "user_id", g.id),
                "forbidden", NULL);
    const json_int_t not_guests[] = {uid("ann.taylor"), uid("dr.patel"), uid("nurse.okafor"),
                                     999999};
    for (size_t i = 0; i < sizeof not_guests / sizeof not_guests[0]; i++)
        cfx_refused(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.admit", "consultation_id",
                                b.id, "user_id", not_guests[i]),
                    "bad_request", NOT_A_GUEST);
    /* A guest of another consultation is no guest of this one. */
    cfx_booking_t b2 = cfx_book(&fx, gp);
    cfx_guest_t g2 = cfx_invite_guest(gp, b2.id, "Tom Taylor", "carer");
    cfx_refused(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.admit", "consultation_id", b.id,
                            "user_id", g2.id),
                "bad_request", NOT_A_GUEST);
    /* An invited colleague is not admitted: they come in as staff. */
    cfx_booking_t b3 = cfx_book(&fx, gp);
    json_decref(cfx_ok(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.invite", "consultation_id",
                                   b3.id, "user_id", uid("nurse.okafor"))));
    cfx_refused(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.admit", "consultation_id", b3.id,
                            "user_id", uid("nurse.okafor")),
                "bad_request", NOT_A_GUEST);
    assert_int_equal(cfx_audit_count(&fx, "consult.admit", b.id), 0);

    /* Let in before the patient: the consultation stays booked, the guest is admitted. */
    r = cfx_ok(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.admit", "consultation_id", b.id,
                           "user_id", g.id));
    k = json_object_get(r, "consultation");
    assert_string_equal(cfx_jstr(k, "status"), "booked");
    check_invited(invited0(k), g.id, "Maria Lopez", "interpreter", false, true);
    json_decref(r);
    json_t *next = next_event_about(gp, b.id); /* the reload's wait said nothing */
    e = json_object_get(next, "event");
    assert_string_equal(cfx_jstr(e, "type"), "consult.admitted");
    assert_int_equal(cfx_jint(e, "consultation_id"), b.id);
    assert_int_equal(cfx_jint(e, "by"), uid("dr.patel"));
    cfx_check_person(json_object_get(e, "participant"), g.id, "interpreter", "Maria Lopez");
    json_decref(next);
    ev = cfx_event(c, "consult.admitted", &e);
    assert_null(json_object_get(e, "by"));
    assert_null(json_object_get(e, "status"));
    cfx_check_person(json_object_get(e, "participant"), g.id, "interpreter", "Maria Lopez");
    json_decref(ev);
    assert_int_equal(cfx_audit_count(&fx, "consult.admit", b.id), 1);
    /* Again: nothing more happens. Waiting once admitted changes nothing either. */
    r = cfx_ok(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.admit", "consultation_id", b.id,
                           "user_id", g.id));
    check_invited(invited0(json_object_get(r, "consultation")), g.id, "Maria Lopez", "interpreter",
                  false, true);
    json_decref(r);
    assert_int_equal(cfx_audit_count(&fx, "consult.admit", b.id), 1);
    r = cfx_ok(pl_pc_callf(c, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id));
    check_invited(invited0(json_object_get(r, "consultation")), g.id, "Maria Lopez", "interpreter",
                  false, true);
    json_decref(r);

    /* Admitted, it may be in the call although the patient is not yet. */
    r = cfx_ok(pl_call_peer_join(&peer, c, b.id, "consult.join"));
    assert_non_null(strstr(cfx_jstr(r, "answer"), "a=ice-lite"));
    json_decref(r);
    json_decref(
        cfx_ok(pl_pc_callf(c, T, "{ss sI}", "type", "consult.leave", "consultation_id", b.id)));

    /* The patient's own waiting and admission are untouched by the guest's. */
    r = cfx_ok(pl_pc_callf(ann, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id));
    assert_string_equal(cfx_jstr(json_object_get(r, "consultation"), "status"), "waiting");
    json_decref(r);
    r = cfx_ok(pl_pc_callf(gp, T, "{ss sI}", "type", "consult.admit", "consultation_id", b.id));
    k = json_object_get(r, "consultation");
    assert_string_equal(cfx_jstr(k, "status"), "in_call");
    check_invited(invited0(k), g.id, "Maria Lopez", "interpreter", false, true);
    json_decref(r);
    assert_int_equal(cfx_audit_count(&fx, "consult.admit", b.id), 2);
    pl_call_peer_close(&peer);
    pl_pc_destroy(c);
    pl_pc_destroy(ann);
    pl_pc_destroy(gp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guest_session_may_send_only_what_its_page_needs),
        cmocka_unit_test(test_guest_sees_its_consultations_events_and_nothing_else),
        cmocka_unit_test(test_guest_waits_and_is_admitted_on_its_own),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
