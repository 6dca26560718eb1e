/* Integration: video consultations against the real server binary over real HTTPS and WSS, on
 * the demo data. Dr Patel (Riverside Surgery) books for Ann Taylor (born 1948-03-12); Ann opens
 * the link with POST /api/v1/join and gets a session scoped to that consultation; the waiting
 * room, admission, the end and the events both sides see; refusals for wrong dates of birth,
 * other devices, expired and revoked links, other practices and malformed bodies. One server
 * for the group: every test books its own consultation. The address throttle test runs last.
 * Shared helpers (booking, POST /api/v1/join, metrics, audit) are in tests/support/consult_fx.h. */
#include "tests/support/consult_fx.h"
#include "tests/support/https.h"
#include "tests/support/pclient.h"

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
#define HOUR_MS (3600 * 1000LL)
#define NOT_VALID "this link is not valid: ask your practice for a new one"

static pl_fixture_t fx;

static int group_setup(void **state)
{
    const char *args[] = {"--rate-limit-per-sec", "100000", "--rate-limit-burst", "100000", NULL};
    return pl_fixture_start(&fx, args);
}

static int group_teardown(void **state)
{
    pl_fixture_stop(&fx);
    return 0;
}

/* ---- tests ---- */

static void test_gp_books_for_ann_and_gets_a_link_with_the_token_in_the_fragment(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel"), *ann = cfx_open_as(&fx, "ann.taylor");
    json_decref(pl_pc_subscribe(gp, -1, T));
    json_decref(pl_pc_subscribe(ann, -1, T));
    long long before = (long long)time(NULL) * 1000;
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.book", "patient_id",
                            cfx_uid(&fx, "ann.taylor"));
    assert_true(pl_pc_is_ok(r));
    json_t *c = json_object_get(r, "consultation"), *link = json_object_get(r, "link");
    assert_string_equal(cfx_jstr(c, "status"), "booked");
    assert_int_equal(cfx_jint(c, "patient_id"), cfx_uid(&fx, "ann.taylor"));
    assert_int_equal(cfx_jint(json_object_get(c, "clinician"), "id"), cfx_uid(&fx, "dr.patel"));
    assert_string_equal(cfx_jstr(json_object_get(c, "clinician"), "display_name"), "Dr Asha Patel");
    assert_true(json_is_null(json_object_get(c, "scheduled_at")));
    /* Unscheduled: the link lasts 24 hours. */
    json_int_t exp = cfx_jint(link, "expires_at");
    assert_true(exp >= before + 24 * HOUR_MS - 5000 && exp <= before + 24 * HOUR_MS + 60000);
    assert_int_equal(strncmp(cfx_jstr(link, "path"), "/join#", 6), 0);
    json_int_t id = cfx_jint(c, "id"), conv = cfx_jint(c, "conversation_id");
    json_decref(r);

    /* A new conversation of kind video holds it, in progress with no clock running. */
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "conversation.get", "conversation_id", conv);
    assert_true(pl_pc_is_ok(r));
    json_t *cv = json_object_get(r, "conversation");
    assert_string_equal(cfx_jstr(cv, "kind"), "video");
    assert_string_equal(cfx_jstr(cv, "subject"), "Video consultation");
    assert_string_equal(cfx_jstr(cv, "status"), "in_progress");
    assert_true(json_is_null(json_object_get(cv, "waiting_since")));
    json_decref(r);

    /* Both sides hear of it; the patient by name, without staff ids or who booked. */
    json_t *ev = pl_pc_wait_event(gp, "consult.booked", T);
    assert_non_null(ev);
    json_t *e = json_object_get(ev, "event");
    assert_int_equal(cfx_jint(e, "consultation_id"), id);
    assert_int_equal(cfx_jint(e, "conversation_id"), conv);
    assert_int_equal(cfx_jint(e, "by"), cfx_uid(&fx, "dr.patel"));
    json_decref(ev);
    ev = pl_pc_wait_event(ann, "conversation.created", T);
    assert_non_null(ev);
    assert_string_equal(
        cfx_jstr(json_object_get(json_object_get(ev, "event"), "conversation"), "kind"), "video");
    json_decref(ev);
    ev = pl_pc_wait_event(ann, "consult.booked", T);
    assert_non_null(ev);
    e = json_object_get(ev, "event");
    assert_null(json_object_get(e, "by"));
    json_t *ec = json_object_get(e, "consultation");
    assert_string_equal(cfx_jstr(json_object_get(ec, "clinician"), "display_name"),
                        "Dr Asha Patel");
    assert_null(json_object_get(json_object_get(ec, "clinician"), "id"));
    json_decref(ev);

    /* Scheduled: the link lasts until 12 hours after the appointment. */
    json_int_t when = before + 3 * HOUR_MS;
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.book", "patient_id",
                    cfx_uid(&fx, "ann.taylor"), "scheduled_at", when);
    assert_true(pl_pc_is_ok(r));
    assert_int_equal(cfx_jint(json_object_get(r, "link"), "expires_at"), when + 12 * HOUR_MS);
    assert_int_equal(cfx_jint(json_object_get(r, "consultation"), "scheduled_at"), when);
    json_decref(r);

    /* Staff reads are audited. */
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.get", "consultation_id", id);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    assert_int_equal(cfx_audit_count(&fx, "consult.book", id), 1);
    assert_int_equal(cfx_audit_count(&fx, "consult.read", id), 1);
    pl_pc_destroy(gp);
    pl_pc_destroy(ann);
}

static void test_right_date_of_birth_opens_a_session_scoped_to_the_consultation(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel"), *ann = cfx_open_as(&fx, "ann.taylor");
    cfx_booking_t b = cfx_book(&fx, gp);
    /* Another conversation of Ann's, which the scoped session must not reach. */
    json_t *r = pl_pc_callf(ann, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                            cfx_txn(), "kind", "admin", "subject", "Sick note", "body", "Please");
    assert_true(pl_pc_is_ok(r));
    json_int_t other_conv = cfx_jint(json_object_get(r, "conversation"), "id");
    json_decref(r);
    cfx_booking_t other = cfx_book(&fx, gp);

    long long failures = cfx_metric(&fx, "parley_join_failures_total");
    cfx_join_resp_t j;
    assert_int_equal(cfx_join(&fx, b.token, "1948-03-13", NULL, &j), 401);
    assert_string_equal(cfx_join_err(&j), "unauthorised");
    assert_null(json_object_get(j.body, "consultation")); /* nothing before the check passes */
    assert_string_equal(j.session, "");
    cfx_join_free(&j);
    assert_int_equal(cfx_metric(&fx, "parley_join_failures_total"), failures + 1);

    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, NULL, &j), 200);
    assert_int_equal(cfx_jint(json_object_get(j.body, "consultation"), "id"), b.id);
    assert_null(json_object_get(
        json_object_get(json_object_get(j.body, "consultation"), "clinician"), "id"));
    assert_string_equal(cfx_jstr(json_object_get(j.body, "user"), "display_name"), "Ann Taylor");
    assert_true(cfx_jint(j.body, "expires_at") > 0);
    assert_null(json_object_get(j.body, "token")); /* the token travels only in the cookie */
    assert_int_equal(strlen(j.session), 43);
    assert_non_null(strstr(j.session_line, "Path=/;"));
    assert_int_equal(strlen(j.device), 43);
    assert_non_null(strstr(j.device_line, "Path=/api/v1/join"));
    for (int i = 0; i < 2; i++) {
        const char *line = i ? j.device_line : j.session_line;
        assert_non_null(strstr(line, "Secure"));
        assert_non_null(strstr(line, "HttpOnly"));
        assert_non_null(strstr(line, "SameSite=Strict"));
    }
    pl_pc_t *p = NULL;
    assert_int_equal(pl_pc_connect(&p, fx.port, j.session, NULL), 0);
    cfx_join_free(&j);
    assert_int_equal(cfx_audit_count(&fx, "consult.join", b.id), 1);

    r = pl_pc_callf(p, T, "{ss}", "type", "session.info");
    assert_true(pl_pc_is_ok(r));
    assert_int_equal(cfx_jint(r, "consultation_id"), b.id);
    json_decref(r);
    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    assert_string_equal(cfx_jstr(json_object_get(r, "consultation"), "status"), "waiting");
    json_decref(r);
    /* The consultation's own conversation: read, write. */
    r = pl_pc_callf(p, T, "{ss sI}", "type", "conversation.get", "conversation_id",
                    b.conversation_id);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(p, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id",
                    b.conversation_id, "txn_id", cfx_txn(), "body", "I am in the waiting room");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    /* Everything else is out of reach. */
    const char *refused_types[] = {"conversation.list", "consult.list", "totp.enrol"};
    for (int i = 0; i < 3; i++) {
        r = pl_pc_callf(p, T, "{ss}", "type", refused_types[i]);
        assert_true(pl_pc_is_error(r, "forbidden"));
        json_decref(r);
    }
    r = pl_pc_callf(p, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id", cfx_txn(),
                    "kind", "admin", "subject", "x", "body", "y");
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(p, T, "{ss sI}", "type", "conversation.get", "conversation_id", other_conv);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(p, T, "{ss sI sI ss}", "type", "receipt.mark", "conversation_id", other_conv,
                    "seq", 1, "kind", "read");
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.get", "consultation_id", other.id);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.wait", "consultation_id", other.id);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    /* Its event stream holds only this consultation's conversation. */
    json_t *evs = pl_pc_subscribe(p, 0, T);
    assert_non_null(evs);
    assert_true(json_array_size(evs) >= 3); /* created, booked, message, waiting */
    size_t i;
    json_t *ev;
    json_array_foreach(evs, i, ev)
    {
        json_t *e = json_object_get(ev, "event");
        assert_int_equal(cfx_jint(e, "conversation_id"), b.conversation_id);
    }
    json_decref(evs);
    /* Ann's ordinary session still sees everything of hers. */
    r = pl_pc_callf(ann, T, "{ss}", "type", "conversation.list");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    pl_pc_destroy(p);
    pl_pc_destroy(ann);
    pl_pc_destroy(gp);
}

static void test_link_is_bound_to_the_first_device(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp);
    cfx_join_resp_t j;
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, NULL, &j), 200);
    char device[64];
    snprintf(device, sizeof device, "%s", j.device);
    cfx_join_free(&j);

    long long failures = cfx_metric(&fx, "parley_join_failures_total");
    long long other = cfx_metric(&fx, "parley_join_other_device_total");
    /* Another device, even with the right date of birth. */
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, NULL, &j), 409);
    assert_string_equal(cfx_join_err(&j), "conflict");
    assert_string_equal(cfx_join_msg(&j), "this link has already been used on another device: ask "
                                          "your practice for a new one");
    assert_string_equal(j.session, "");
    cfx_join_free(&j);
    assert_int_equal(
        cfx_join(&fx, b.token, CFX_ANN_DOB, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &j),
        409);
    cfx_join_free(&j);
    assert_int_equal(cfx_metric(&fx, "parley_join_other_device_total"), other + 2);
    assert_int_equal(cfx_metric(&fx, "parley_join_failures_total"), failures + 2);

    /* The same device again: a fresh scoped session; it still has to give the date of birth. */
    assert_int_equal(cfx_join(&fx, b.token, "1948-12-03", device, &j), 401);
    cfx_join_free(&j);
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, device, &j), 200);
    assert_string_equal(j.device, device);
    assert_int_equal(cfx_jint(json_object_get(j.body, "consultation"), "id"), b.id);
    cfx_join_free(&j);

    /* The same browser opening a second consultation's link keeps its one device cookie. */
    cfx_booking_t b2 = cfx_book(&fx, gp);
    assert_int_equal(cfx_join(&fx, b2.token, CFX_ANN_DOB, device, &j), 200);
    assert_string_equal(j.device, device);
    cfx_join_free(&j);
    pl_pc_destroy(gp);
}

static void test_expired_revoked_and_unknown_links_look_the_same(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    /* Scheduled 13 hours ago: its link expired an hour ago. */
    json_int_t past = (json_int_t)time(NULL) * 1000 - 13 * HOUR_MS;
    cfx_booking_t b = cfx_book_with(
        gp, json_pack("{sI sI}", "patient_id", cfx_uid(&fx, "ann.taylor"), "scheduled_at", past));
    assert_true(b.expires_at < (json_int_t)time(NULL) * 1000);
    cfx_join_resp_t j;
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, NULL, &j), 404);
    assert_string_equal(cfx_join_err(&j), "not_found");
    assert_string_equal(cfx_join_msg(&j), NOT_VALID);
    cfx_join_free(&j);
    assert_int_equal(
        cfx_join(&fx, "unknownunknownunknownunknownunknownunknown1", CFX_ANN_DOB, NULL, &j), 404);
    assert_string_equal(cfx_join_msg(&j), NOT_VALID);
    cfx_join_free(&j);

    /* consult.link revokes the old link and issues a new one (for re-sending). */
    cfx_booking_t live = cfx_book(&fx, gp);
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.link", "consultation_id", live.id);
    assert_true(pl_pc_is_ok(r));
    const char *path = cfx_jstr(json_object_get(r, "link"), "path");
    char fresh[64];
    snprintf(fresh, sizeof fresh, "%s", path + 6);
    assert_string_not_equal(fresh, live.token);
    json_decref(r);
    assert_int_equal(cfx_join(&fx, live.token, CFX_ANN_DOB, NULL, &j), 404);
    assert_string_equal(cfx_join_msg(&j), NOT_VALID);
    cfx_join_free(&j);
    assert_int_equal(cfx_join(&fx, fresh, CFX_ANN_DOB, NULL, &j), 200);
    cfx_join_free(&j);
    assert_int_equal(cfx_audit_count(&fx, "consult.link", live.id), 1);
    pl_pc_destroy(gp);
}

static void test_five_wrong_dates_of_birth_lock_the_link(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp);
    cfx_join_resp_t j;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(cfx_join(&fx, b.token, "1950-01-01", NULL, &j), 401);
        cfx_join_free(&j);
    }
    assert_int_equal(cfx_join(&fx, b.token, "1950-01-01", NULL, &j), 403);
    assert_string_equal(cfx_join_err(&j), "forbidden");
    cfx_join_free(&j);
    /* Locked: even the right date of birth is refused. */
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, NULL, &j), 403);
    assert_string_equal(j.session, "");
    cfx_join_free(&j);
    /* A new link from the practice works. */
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.link", "consultation_id", b.id);
    char fresh[64];
    snprintf(fresh, sizeof fresh, "%s", cfx_jstr(json_object_get(r, "link"), "path") + 6);
    json_decref(r);
    assert_int_equal(cfx_join(&fx, fresh, CFX_ANN_DOB, NULL, &j), 200);
    cfx_join_free(&j);
    pl_pc_destroy(gp);
}

static void test_waiting_room_admission_and_end_reach_both_sides(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp);
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.admit", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "conflict")); /* nobody is waiting yet */
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.end", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "conflict")); /* not started: cancel, not end */
    json_decref(r);
    json_decref(pl_pc_subscribe(gp, -1, T));
    char device[64] = "";
    pl_pc_t *p = cfx_join_and_connect(&fx, b.token, CFX_ANN_DOB, device, sizeof device);
    json_decref(pl_pc_subscribe(p, -1, T));

    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    json_t *ev = pl_pc_wait_event(gp, "consult.waiting", T);
    assert_non_null(ev);
    json_t *e = json_object_get(ev, "event");
    assert_int_equal(cfx_jint(e, "consultation_id"), b.id);
    assert_string_equal(cfx_jstr(e, "status"), "waiting");
    json_t *who = json_object_get(e, "participant");
    assert_int_equal(cfx_jint(who, "user_id"), cfx_uid(&fx, "ann.taylor"));
    assert_string_equal(cfx_jstr(who, "role"), "patient");
    assert_string_equal(cfx_jstr(who, "display_name"), "Ann Taylor");
    assert_true(cfx_jint(e, "at") > 0);
    json_decref(ev);
    /* Waiting again (a reload) changes nothing and says nothing. */
    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    /* Staff cannot wait; the patient cannot admit. */
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.admit", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);

    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.admit", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    assert_string_equal(cfx_jstr(json_object_get(r, "consultation"), "status"), "in_call");
    json_decref(r);
    ev = pl_pc_wait_event(p, "consult.admitted", T);
    assert_non_null(ev);
    e = json_object_get(ev, "event");
    assert_string_equal(cfx_jstr(e, "status"), "in_call");
    assert_true(cfx_jint(e, "started_at") > 0);
    assert_null(json_object_get(e, "by"));
    json_decref(ev);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.admit", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "conflict"));
    json_decref(r);
    /* Back after a dropped connection: the reply says the call is on. */
    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    assert_string_equal(cfx_jstr(json_object_get(r, "consultation"), "status"), "in_call");
    json_decref(r);

    sleep(1);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.end", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    json_t *c = json_object_get(r, "consultation");
    assert_string_equal(cfx_jstr(c, "status"), "ended");
    assert_true(cfx_jint(c, "duration_seconds") >= 1);
    json_decref(r);
    ev = pl_pc_wait_event(p, "consult.ended", T);
    assert_non_null(ev);
    e = json_object_get(ev, "event");
    assert_string_equal(cfx_jstr(e, "status"), "ended");
    json_int_t started = cfx_jint(e, "started_at"), ended = cfx_jint(e, "ended_at");
    assert_int_equal(cfx_jint(e, "duration_seconds"), (ended - started) / 1000);
    assert_true(cfx_jint(e, "duration_seconds") >= 1);
    json_t *people = json_object_get(e, "participants");
    assert_int_equal(json_array_size(people), 2);
    assert_string_equal(cfx_jstr(json_array_get(people, 1), "display_name"), "Dr Asha Patel");
    assert_null(json_object_get(json_array_get(people, 1), "user_id")); /* staff id: not for her */
    assert_null(json_object_get(e, "by"));
    json_decref(ev);
    ev = pl_pc_wait_event(gp, "consult.ended", T);
    assert_non_null(ev);
    e = json_object_get(ev, "event");
    assert_int_equal(cfx_jint(e, "by"), cfx_uid(&fx, "dr.patel"));
    assert_int_equal(cfx_jint(json_array_get(json_object_get(e, "participants"), 1), "user_id"),
                     cfx_uid(&fx, "dr.patel"));
    json_decref(ev);

    /* Over: the link opens nothing, waiting is refused. */
    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "conflict"));
    json_decref(r);
    cfx_join_resp_t j;
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, device, &j), 404);
    cfx_join_free(&j);
    assert_int_equal(cfx_audit_count(&fx, "consult.admit", b.id), 1);
    assert_int_equal(cfx_audit_count(&fx, "consult.end", b.id), 1);
    pl_pc_destroy(p);
    pl_pc_destroy(gp);
}

static void test_other_practices_and_patients_are_kept_out(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel"), *hughes = cfx_open_as(&fx, "dr.hughes");
    pl_pc_t *cara = cfx_open_as(&fx, "cara.evans"), *ann = cfx_open_as(&fx, "ann.taylor");
    cfx_booking_t b = cfx_book(&fx, gp);
    const char *staff_types[] = {"consult.get", "consult.admit", "consult.end", "consult.link",
                                 "consult.cancel"};
    for (int i = 0; i < 5; i++) {
        json_t *r =
            pl_pc_callf(hughes, T, "{ss sI}", "type", staff_types[i], "consultation_id", b.id);
        assert_true(pl_pc_is_error(r, "forbidden"));
        json_decref(r);
    }
    json_t *r = pl_pc_callf(hughes, T, "{ss sI sI}", "type", "consult.invite", "consultation_id",
                            b.id, "user_id", cfx_uid(&fx, "dr.hughes"));
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    /* Booking for another practice's patient: as patient.lookup, no such patient. */
    r = pl_pc_callf(hughes, T, "{ss sI}", "type", "consult.book", "patient_id",
                    cfx_uid(&fx, "ann.taylor"));
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.book", "patient_id",
                    cfx_uid(&fx, "nurse.okafor"));
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    r = pl_pc_callf(hughes, T, "{ss}", "type", "consult.list");
    assert_true(pl_pc_is_ok(r));
    json_t *list = json_object_get(r, "consultations"), *c;
    size_t i;
    json_array_foreach(list, i, c) assert_int_not_equal(cfx_jint(c, "id"), b.id);
    json_decref(r);

    const char *patient_types[] = {"consult.get", "consult.wait"};
    for (int k = 0; k < 2; k++) {
        r = pl_pc_callf(cara, T, "{ss sI}", "type", patient_types[k], "consultation_id", b.id);
        assert_true(pl_pc_is_error(r, "forbidden"));
        json_decref(r);
    }
    /* Ann, on her ordinary session: her own, read and listed, but run by the practice. */
    r = pl_pc_callf(ann, T, "{ss sI}", "type", "consult.get", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    assert_null(
        json_object_get(json_object_get(json_object_get(r, "consultation"), "clinician"), "id"));
    json_decref(r);
    r = pl_pc_callf(ann, T, "{ss ss}", "type", "consult.list", "filter", "upcoming");
    assert_true(pl_pc_is_ok(r));
    int found = 0;
    json_array_foreach(json_object_get(r, "consultations"), i, c)
    {
        found |= cfx_jint(c, "id") == b.id;
    }
    assert_true(found);
    json_decref(r);
    const char *staff_only[] = {"consult.admit", "consult.end", "consult.link", "consult.cancel"};
    for (int k = 0; k < 4; k++) {
        r = pl_pc_callf(ann, T, "{ss sI}", "type", staff_only[k], "consultation_id", b.id);
        assert_true(pl_pc_is_error(r, "forbidden"));
        json_decref(r);
    }
    r = pl_pc_callf(ann, T, "{ss sI}", "type", "consult.book", "patient_id",
                    cfx_uid(&fx, "ann.taylor"));
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.get", "consultation_id", 999999);
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    /* A scoped session of Cara's is no way into Ann's either. */
    pl_pc_destroy(gp);
    pl_pc_destroy(hughes);
    pl_pc_destroy(cara);
    pl_pc_destroy(ann);
}

static void test_invite_cancel_and_attach_to_an_existing_conversation(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel"), *ann = cfx_open_as(&fx, "ann.taylor");
    json_t *r = pl_pc_callf(ann, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                            cfx_txn(), "kind", "clinical", "subject", "Rash", "body", "Itchy rash");
    assert_true(pl_pc_is_ok(r));
    json_int_t conv = cfx_jint(json_object_get(r, "conversation"), "id");
    json_decref(r);
    cfx_booking_t b =
        cfx_book_with(gp, json_pack("{sI sI}", "patient_id", cfx_uid(&fx, "ann.taylor"),
                                    "conversation_id", conv));
    assert_int_equal(b.conversation_id, conv);
    /* Someone else's conversation cannot hold Ann's consultation. */
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.book", "patient_id",
                    cfx_uid(&fx, "robert.green"), "conversation_id", conv);
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);

    json_decref(pl_pc_subscribe(gp, -1, T));
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.invite", "consultation_id", b.id,
                    "user_id", cfx_uid(&fx, "nurse.okafor"));
    assert_true(pl_pc_is_ok(r));
    json_t *inv = json_object_get(json_object_get(r, "consultation"), "invited");
    assert_int_equal(json_array_size(inv), 1);
    assert_int_equal(cfx_jint(json_array_get(inv, 0), "id"), cfx_uid(&fx, "nurse.okafor"));
    json_decref(r);
    json_t *ev = pl_pc_wait_event(gp, "consult.invited", T);
    assert_non_null(ev);
    assert_string_equal(
        cfx_jstr(json_object_get(json_object_get(ev, "event"), "participant"), "display_name"),
        "Grace Okafor");
    json_decref(ev);
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.invite", "consultation_id", b.id,
                    "user_id", cfx_uid(&fx, "reception.jones"));
    assert_true(pl_pc_is_error(r, "conflict")); /* three places in the call */
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.invite", "consultation_id", b.id,
                    "user_id", cfx_uid(&fx, "dr.hughes"));
    assert_true(pl_pc_is_error(r, "bad_request")); /* not of this practice */
    json_decref(r);

    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.cancel", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    assert_string_equal(cfx_jstr(json_object_get(r, "consultation"), "status"), "cancelled");
    json_decref(r);
    ev = pl_pc_wait_event(gp, "consult.cancelled", T);
    assert_non_null(ev);
    json_decref(ev);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.cancel", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "conflict"));
    json_decref(r);
    cfx_join_resp_t j;
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, NULL, &j), 404);
    cfx_join_free(&j);

    /* A closed conversation cannot take a consultation: the patient could not chat in it. */
    r = pl_pc_callf(gp, T, "{ss sI ss}", "type", "conversation.set_status", "conversation_id", conv,
                    "status", "closed");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.book", "patient_id",
                    cfx_uid(&fx, "ann.taylor"), "conversation_id", conv);
    assert_true(pl_pc_is_error(r, "conflict"));
    json_decref(r);
    pl_pc_destroy(gp);
    pl_pc_destroy(ann);
}

static void test_malformed_requests_are_bad_requests_and_count_nothing(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp);
    long long failures = cfx_metric(&fx, "parley_join_failures_total");
    const char *json_ct = "Content-Type: application/json\r\n";
    char body[256];
    const char *bodies[] = {
        "{\"date_of_birth\":\"" CFX_ANN_DOB "\"}", /* no token */
        "not json at all",                         /* not JSON */
        "[1,2]",                                   /* not an object */
        "",                                        /* empty: {} */
        "{\"token\":\"short\",\"date_of_birth\":\"" CFX_ANN_DOB "\"}",
        "{\"token\":7,\"date_of_birth\":\"" CFX_ANN_DOB "\"}",
    };
    cfx_join_resp_t j;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        assert_int_equal(cfx_post_join_raw(&fx, json_ct, bodies[i], &j), 400);
        assert_string_equal(cfx_join_err(&j), "bad_request");
        cfx_join_free(&j);
    }
    const char *dates[] = {"12/03/1948", "1948-3-12", "1948-02-30", "1948-13-01", "", "19480312x"};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        snprintf(body, sizeof body, "{\"token\":\"%s\",\"date_of_birth\":\"%s\"}", b.token,
                 dates[i]);
        assert_int_equal(cfx_post_join_raw(&fx, json_ct, body, &j), 400);
        assert_string_equal(cfx_join_err(&j), "bad_request");
        cfx_join_free(&j);
    }
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", b.token);
    assert_int_equal(cfx_post_join_raw(&fx, json_ct, body, &j), 400);
    cfx_join_free(&j);
    /* The same-site rule, as for login: decided from the headers, before the body. */
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"date_of_birth\":\"%s\"}", b.token,
             CFX_ANN_DOB);
    assert_int_equal(cfx_post_join_raw(&fx, "Content-Type: text/plain\r\n", body, &j), 403);
    assert_string_equal(j.session, "");
    cfx_join_free(&j);
    assert_int_equal(
        cfx_post_join_raw(&fx, "Content-Type: application/json\r\nOrigin: https://evil.example\r\n",
                          body, &j),
        403);
    cfx_join_free(&j);
    assert_int_equal(cfx_metric(&fx, "parley_join_failures_total"), failures);
    /* None of that used the link up. */
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, NULL, &j), 200);
    cfx_join_free(&j);

    /* WebSocket side. */
    json_t *r = pl_pc_callf(gp, T, "{ss}", "type", "consult.book");
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.book", "patient_id",
                    cfx_uid(&fx, "ann.taylor"), "scheduled_at",
                    (json_int_t)time(NULL) * 1000 + 400LL * 24 * HOUR_MS);
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss ss}", "type", "consult.list", "filter", "tomorrow");
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss ss}", "type", "consult.get", "consultation_id", "7");
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    pl_pc_destroy(gp);
}

/* Last: it leaves the test address throttled. */
static void test_failed_joins_count_in_the_address_throttle(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_join_resp_t j;
    int status = 0, attempts = 0;
    cfx_booking_t b = cfx_book(&fx, gp);
    for (; attempts < 40 && status != 429; attempts++) {
        if (attempts % 4 == 3)
            b = cfx_book(&fx, gp); /* never lock a link: only the address counts */
        status = cfx_join(&fx, b.token, "1901-01-01", NULL, &j);
        if (status == 429) {
            assert_string_equal(cfx_join_err(&j), "rate_limited");
            assert_true(atoi(j.retry_after) >= 1);
        } else {
            assert_int_equal(status, 401);
        }
        cfx_join_free(&j);
    }
    assert_int_equal(status, 429);
    /* The address limit is shared with sign-in. */
    assert_int_equal(pl_pc_login(fx.port, "ann.taylor", pl_fixture_password(&fx, "ann.taylor"),
                                 NULL, NULL, 0, NULL),
                     429);
    pl_pc_destroy(gp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gp_books_for_ann_and_gets_a_link_with_the_token_in_the_fragment),
        cmocka_unit_test(test_right_date_of_birth_opens_a_session_scoped_to_the_consultation),
        cmocka_unit_test(test_link_is_bound_to_the_first_device),
        cmocka_unit_test(test_expired_revoked_and_unknown_links_look_the_same),
        cmocka_unit_test(test_five_wrong_dates_of_birth_lock_the_link),
        cmocka_unit_test(test_waiting_room_admission_and_end_reach_both_sides),
        cmocka_unit_test(test_other_practices_and_patients_are_kept_out),
        cmocka_unit_test(test_invite_cancel_and_attach_to_an_existing_conversation),
        cmocka_unit_test(test_malformed_requests_are_bad_requests_and_count_nothing),
        cmocka_unit_test(test_failed_joins_count_in_the_address_throttle),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
