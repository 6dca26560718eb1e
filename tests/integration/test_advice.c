/* Integration: professional-to-professional advice against the real server binary over real
 * HTTPS and WSS, on the demo data: Riverside Surgery (Dr Patel, gp) asks the specialist service
 * "Dermatology, City Hospital" (Dr Khan, specialist; Priya Shah, its admin) under the demo's
 * agreement in force (identified). A second specialist, Dr Ali, is added with the CLI.
 * Checked: the whole journey (create, the queue, claim, asking the GP for more, messages both
 * ways on the thread, close) with the advice.* events live to both sides; that the patient gets
 * none of it (events, advice.get, the thread, the inbox) nor does another practice; claim and
 * close conflicts; assign; a request without an agreement, or by a receptionist, refused with
 * nothing stored; validation; idempotency; the audit. Agreements themselves (proposed, accepted,
 * ended, pseudonymised) are in test_advice_agreements.c; the fixture and the helpers both use
 * are in tests/support/advice_fx.h. One server for the group. */
#include "core/util.h"
#include "tests/support/advice_fx.h"
#include "tests/support/consult_fx.h"
#include "tests/support/pclient.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define T CFX_T

/* ---- helpers of this file ---- */

static pl_pc_t *open_ali(void)
{
    char token[128];
    assert_int_equal(pl_pc_login(fx.port, "dr.ali", ALI_PASSWORD, NULL, token, sizeof token, NULL),
                     200);
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_connect(&c, fx.port, token, NULL), 0);
    return c;
}

/* Whether a list reply's array under key holds an entry with this id. */
static bool lists(json_t *reply, const char *key, json_int_t id)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(reply, key), i, e)
    {
        if (cfx_jint(e, "id") == id) return true;
    }
    return false;
}

/* Every event frame on c's queue and wire until one that satisfies the sentinel (type on
 * conversation conv), asserting that none is an advice.* event or about the thread. */
static void no_advice_until(pl_pc_t *c, json_int_t thread, const char *type, json_int_t conv)
{
    for (;;) {
        json_t *m = pl_pc_next_push(c, T);
        assert_non_null(m);
        json_t *e = json_object_get(m, "event");
        const char *t = json_string_value(json_object_get(e, "type"));
        json_int_t cid = json_integer_value(json_object_get(e, "conversation_id"));
        if (t && strncmp(t, "advice.", 7) == 0) cfx_dump("an advice event", m);
        assert_false(t && strncmp(t, "advice.", 7) == 0);
        assert_int_not_equal(cid, thread);
        bool done = t && strcmp(t, type) == 0 && cid == conv;
        json_decref(m);
        if (done) return;
    }
}

/* Every event user may replay from the start: none about the thread, no advice.* at all. */
static void replay_has_nothing_of(const char *user, json_int_t thread)
{
    pl_pc_t *c = open_as(user);
    json_t *evs = pl_pc_subscribe(c, 0, T);
    assert_non_null(evs);
    size_t i;
    json_t *m;
    json_array_foreach(evs, i, m)
    {
        json_t *e = json_object_get(m, "event");
        assert_int_not_equal(json_integer_value(json_object_get(e, "conversation_id")), thread);
        assert_int_not_equal(strncmp(cfx_jstr(e, "type"), "advice.", 7), 0);
    }
    json_decref(evs);
    pl_pc_destroy(c);
}

/* The audit rows of action about advice request id that went through (a refusal leaves a
 * "denied" row of the request's type too). */
static int64_t audited(const char *action, json_int_t id)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit WHERE resource_type = 'advice' AND resource_id = ? AND "
             "action = '%s' AND outcome = 'ok'",
             action);
    return cfx_db_int(&fx, sql, id);
}

/* conversation.send of body on conversation conv by c, asserted ok. */
static void say(pl_pc_t *c, json_int_t conv, const char *body)
{
    json_decref(cfx_ok(pl_pc_callf(c, T, "{ss sI ss ss}", "type", "conversation.send",
                                   "conversation_id", conv, "txn_id", cfx_txn(), "body", body)));
}

/* The next message.created on conversation conv from sender on c (others skipped, among them
 * the echo of c's own messages); returns the frame, *msg its "message". */
static json_t *message_from(pl_pc_t *c, json_int_t conv, json_int_t sender, json_t **msg)
{
    for (;;) {
        json_t *e, *m = cfx_event(c, "message.created", &e);
        *msg = json_object_get(e, "message");
        if (cfx_jint(e, "conversation_id") == conv &&
            cfx_jint(json_object_get(*msg, "sender"), "id") == sender)
            return m;
        json_decref(m);
    }
}

/* A patient starts a request with their practice, so that c (subscribed) has an event to wait
 * for; returns the new conversation's id. */
static json_int_t patient_writes(const char *patient)
{
    pl_pc_t *p = open_as(patient);
    json_t *r = cfx_ok(pl_pc_callf(p, T, "{ss ss ss ss ss}", "type", "conversation.create",
                                   "txn_id", cfx_txn(), "kind", "admin", "subject", "Sick note",
                                   "body", "Could I have a sick note please?"));
    json_int_t id = cfx_jint(json_object_get(r, "conversation"), "id");
    json_decref(r);
    pl_pc_destroy(p);
    return id;
}

/* ---- the journey ---- */

static void test_journey_from_question_to_advice_with_events_live_to_both_sides(void **s)
{
    pl_pc_t *patel = open_live("dr.patel"), *khan = open_live("dr.khan");
    pl_pc_t *ann = open_live("ann.taylor"), *hughes = open_live("dr.hughes");

    /* Dr Patel asks, urgently, about Ann Taylor: the whole view comes back. */
    json_t *a = ask(patel, "urgent", "ann.taylor");
    json_int_t id = cfx_jint(a, "id"), thread = cfx_jint(a, "conversation_id");
    assert_int_equal(json_object_size(a), 19);
    json_t *o = json_object_get(a, "practice");
    assert_int_equal(cfx_jint(o, "id"), riverside_id);
    assert_string_equal(cfx_jstr(o, "name"), "Riverside Surgery");
    o = json_object_get(a, "service");
    assert_int_equal(cfx_jint(o, "id"), svc_id);
    assert_string_equal(cfx_jstr(o, "name"), "Dermatology, City Hospital");
    assert_string_equal(cfx_jstr(a, "specialty"), SKIN);
    assert_string_equal(cfx_jstr(a, "urgency"), "urgent");
    assert_string_equal(cfx_jstr(a, "status"), "new");
    assert_string_equal(cfx_jstr(a, "question"), QUESTION);
    assert_string_equal(cfx_jstr(a, "summary"), SUMMARY);
    o = json_object_get(a, "created_by");
    assert_int_equal(cfx_jint(o, "id"), uid("dr.patel"));
    assert_string_equal(cfx_jstr(o, "display_name"), "Dr Asha Patel");
    assert_true(json_is_null(json_object_get(a, "specialist")));
    check_identity_of_ann(a);
    json_int_t created = cfx_jint(a, "created_at");
    o = json_object_get(a, "consent");
    assert_int_equal(cfx_jint(o, "recorded_by"), uid("dr.patel"));
    assert_string_equal(cfx_jstr(o, "recorded_by_name"), "Dr Asha Patel");
    assert_int_equal(cfx_jint(o, "recorded_at"), created);
    /* Urgent: due at the service's urgent target, 4 hours on. */
    assert_int_equal(cfx_jint(a, "due_at"), created + 4 * HOUR_MS);
    assert_true(json_is_false(json_object_get(a, "overdue")));
    assert_true(json_is_null(json_object_get(a, "outcome")));
    assert_true(json_is_null(json_object_get(a, "closed_at")));
    assert_int_equal(cfx_jint(a, "updated_at"), created);
    json_decref(a);

    /* Live to the service, naming the request and never the patient. */
    json_t *e, *m = advice_event(khan, "advice.created", id, &e);
    assert_int_equal(cfx_jint(e, "conversation_id"), thread);
    assert_string_equal(cfx_jstr(e, "status"), "new");
    assert_string_equal(cfx_jstr(e, "urgency"), "urgent");
    assert_string_equal(cfx_jstr(e, "specialty"), SKIN);
    assert_int_equal(cfx_jint(e, "due_at"), created + 4 * HOUR_MS);
    assert_int_equal(cfx_jint(e, "by"), uid("dr.patel"));
    json_decref(m);

    /* In the service's queue (and its new ones), with the identity the agreement shares; in
     * the practice's sent list; the specialist has nothing on the sent side. */
    json_t *r = list(khan, "queue", NULL);
    check_identity_of_ann(entry(r, id));
    assert_string_equal(cfx_jstr(entry(r, id), "question"), QUESTION);
    json_decref(r);
    r = list(khan, "queue", "new");
    (void)entry(r, id);
    json_decref(r);
    r = list(patel, "sent", "mine");
    (void)entry(r, id);
    json_decref(r);
    r = list(khan, "sent", NULL);
    assert_int_equal(json_array_size(json_object_get(r, "requests")), 0);
    assert_true(json_is_null(json_object_get(r, "next_before")));
    json_decref(r);

    /* Dr Khan claims it; Dr Patel sees that live. */
    a = advice_of(act(khan, "advice.claim", id));
    assert_string_equal(cfx_jstr(a, "status"), "in_progress");
    o = json_object_get(a, "specialist");
    assert_int_equal(cfx_jint(o, "id"), uid("dr.khan"));
    assert_string_equal(cfx_jstr(o, "display_name"), "Dr Leila Khan");
    check_identity_of_ann(a);
    json_decref(a);
    m = advice_event(patel, "advice.claimed", id, &e);
    assert_string_equal(cfx_jstr(e, "status"), "in_progress");
    assert_int_equal(cfx_jint(json_object_get(e, "specialist"), "id"), uid("dr.khan"));
    assert_string_equal(cfx_jstr(json_object_get(e, "specialist"), "display_name"),
                        "Dr Leila Khan");
    assert_int_equal(cfx_jint(e, "by"), uid("dr.khan"));
    json_decref(m);
    r = list(khan, "queue", "new");
    assert_false(lists(r, "requests", id));
    json_decref(r);
    r = list(khan, "queue", "mine");
    (void)entry(r, id);
    json_decref(r);

    /* She asks the GP for more, on the thread. */
    a = advice_of(act(khan, "advice.request_info", id));
    assert_string_equal(cfx_jstr(a, "status"), "awaiting_gp");
    json_decref(a);
    m = advice_event(patel, "advice.status", id, &e);
    assert_string_equal(cfx_jstr(e, "status"), "awaiting_gp");
    assert_int_equal(cfx_jint(e, "by"), uid("dr.khan"));
    json_decref(m);
    r = list(patel, "sent", "awaiting_gp");
    (void)entry(r, id);
    json_decref(r);
    say(khan, thread, "Is it raised, and has it bled?");
    json_t *msg;
    m = message_from(patel, thread, uid("dr.khan"), &msg);
    assert_string_equal(cfx_jstr(msg, "body"), "Is it raised, and has it bled?");
    assert_int_equal(cfx_jint(msg, "conversation_id"), thread);
    json_decref(m);
    /* Dr Patel answers on the thread (the status this brings back is the next test's). */
    say(patel, thread, "Flat, and it has not bled.");
    m = message_from(khan, thread, uid("dr.patel"), &msg);
    assert_string_equal(cfx_jstr(msg, "body"), "Flat, and it has not bled.");
    assert_string_equal(cfx_jstr(json_object_get(msg, "sender"), "display_name"), "Dr Asha Patel");
    json_decref(m);

    /* Dr Khan gives her advice and closes it; Dr Patel sees that live. */
    a = advice_of(pl_pc_callf(khan, T, "{ss sI ss}", "type", "advice.close", "advice_id", id,
                              "outcome", "advice_given"));
    assert_string_equal(cfx_jstr(a, "status"), "closed");
    assert_string_equal(cfx_jstr(a, "outcome"), "advice_given");
    json_int_t closed_at = cfx_jint(a, "closed_at");
    assert_true(closed_at >= created);
    assert_int_equal(cfx_jint(a, "updated_at"), closed_at);
    assert_true(json_is_false(json_object_get(a, "overdue")));
    json_decref(a);
    m = advice_event(patel, "advice.closed", id, &e);
    assert_string_equal(cfx_jstr(e, "status"), "closed");
    assert_string_equal(cfx_jstr(e, "outcome"), "advice_given");
    assert_int_equal(cfx_jint(e, "closed_at"), closed_at);
    assert_int_equal(cfx_jint(e, "by"), uid("dr.khan"));
    json_decref(m);
    cfx_refused(pl_pc_callf(khan, T, "{ss sI ss}", "type", "advice.close", "advice_id", id,
                            "outcome", "referral"),
                "conflict", "this request is closed already");
    a = get_advice(patel, id);
    assert_string_equal(cfx_jstr(a, "outcome"), "advice_given");
    assert_int_equal(cfx_jint(a, "closed_at"), closed_at);
    json_decref(a);

    /* Both sides read the whole thread. */
    pl_pc_t *sides[] = {patel, khan};
    for (int i = 0; i < 2; i++) {
        r = cfx_ok(pl_pc_callf(sides[i], T, "{ss sI}", "type", "conversation.history",
                               "conversation_id", thread));
        json_t *msgs = json_object_get(r, "messages");
        assert_int_equal(json_array_size(msgs), 2);
        assert_string_equal(cfx_jstr(json_array_get(msgs, 0), "body"),
                            "Is it raised, and has it bled?");
        assert_string_equal(cfx_jstr(json_array_get(msgs, 1), "body"),
                            "Flat, and it has not bled.");
        json_decref(r);
    }
    /* The thread is not in the practice's inbox. */
    r = cfx_ok(pl_pc_callf(patel, T, "{ss}", "type", "conversation.list"));
    assert_false(lists(r, "conversations", thread));
    json_decref(r);

    /* The patient: no event of any of it (up to one of her own), no request, no thread, not
     * in her list, nothing to replay. */
    json_int_t own = patient_writes("ann.taylor");
    no_advice_until(ann, thread, "conversation.created", own);
    cfx_refused(act(ann, "advice.get", id), "not_found", NO_SUCH);
    cfx_refused(
        pl_pc_callf(ann, T, "{ss sI}", "type", "conversation.history", "conversation_id", thread),
        "forbidden", NO_ACCESS);
    cfx_refused(
        pl_pc_callf(ann, T, "{ss sI}", "type", "conversation.get", "conversation_id", thread),
        "forbidden", NO_ACCESS);
    cfx_refused(pl_pc_callf(ann, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id",
                            thread, "txn_id", cfx_txn(), "body", "Hello?"),
                "forbidden", NO_ACCESS);
    cfx_refused(pl_pc_callf(ann, T, "{ss ss}", "type", "advice.list", "side", "sent"), "forbidden",
                "advice requests are between professionals");
    r = cfx_ok(pl_pc_callf(ann, T, "{ss}", "type", "conversation.list"));
    assert_false(lists(r, "conversations", thread));
    assert_true(lists(r, "conversations", own));
    json_decref(r);
    replay_has_nothing_of("ann.taylor", thread);

    /* Another practice: nothing either. */
    json_int_t theirs = patient_writes("cara.evans");
    no_advice_until(hughes, thread, "conversation.created", theirs);
    cfx_refused(act(hughes, "advice.get", id), "not_found", NO_SUCH);
    cfx_refused(pl_pc_callf(hughes, T, "{ss sI}", "type", "conversation.history", "conversation_id",
                            thread),
                "forbidden", NO_ACCESS);
    r = list(hughes, "sent", NULL);
    assert_false(lists(r, "requests", id));
    json_decref(r);
    replay_has_nothing_of("dr.hughes", thread);

    /* On disk the thread's events name the service and no patient. */
    const char *types[] = {"advice.created", "advice.claimed", "advice.closed"};
    for (int i = 0; i < 3; i++) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM events WHERE conversation_id = ? AND type = '%s'", types[i]);
        assert_int_equal(cfx_db_int(&fx, sql, thread), 1);
    }
    assert_int_equal(cfx_db_int(&fx,
                                "SELECT count(*) FROM events WHERE conversation_id = ? AND "
                                "type = 'message.created'",
                                thread),
                     2);
    assert_int_equal(cfx_db_int(&fx,
                                "SELECT count(*) FROM events WHERE conversation_id = ? AND "
                                "(patient_id != 0 OR coalesce(peer_org_id, 0) != " /* svc */
                                "(SELECT id FROM orgs WHERE code = 'R0D01'))",
                                thread),
                     0);

    /* The audit: each step once, by whom, about whom; reads as they happen. */
    assert_int_equal(audited("advice.create", id), 1);
    assert_int_equal(audited("advice.claimed", id), 1);
    assert_int_equal(audited("advice.request_info", id), 1);
    assert_int_equal(audited("advice.close", id), 1);
    assert_int_equal(audited("advice.read", id), 1); /* Dr Patel's advice.get above */
    json_decref(get_advice(khan, id));
    json_decref(get_advice(khan, id));
    assert_int_equal(audited("advice.read", id), 3);
    assert_int_equal(cfx_db_int(&fx,
                                "SELECT patient_id FROM audit WHERE action = 'advice.create' AND "
                                "resource_type = 'advice' AND resource_id = ?",
                                id),
                     uid("ann.taylor"));
    assert_int_equal(cfx_db_int(&fx,
                                "SELECT actor_id FROM audit WHERE action = 'advice.close' AND "
                                "resource_type = 'advice' AND resource_id = ?",
                                id),
                     uid("dr.khan"));

    pl_pc_destroy(patel);
    pl_pc_destroy(khan);
    pl_pc_destroy(ann);
    pl_pc_destroy(hughes);
}

static void test_gp_reply_on_the_thread_takes_a_request_back_to_in_progress(void **s)
{
    pl_pc_t *patel = open_live("dr.patel"), *khan = open_live("dr.khan");
    json_t *a = ask(patel, "routine", "robert.green");
    json_int_t id = cfx_jint(a, "id"), thread = cfx_jint(a, "conversation_id");
    /* Routine: due at the service's routine target, 72 hours on. */
    assert_int_equal(cfx_jint(a, "due_at"), cfx_jint(a, "created_at") + 72 * HOUR_MS);
    json_decref(a);
    json_decref(advice_of(act(khan, "advice.claim", id)));
    json_decref(advice_of(act(khan, "advice.request_info", id)));
    /* The specialist writing again does not answer her own question. */
    say(khan, thread, "Please also send the date it first appeared.");
    a = get_advice(patel, id);
    assert_string_equal(cfx_jstr(a, "status"), "awaiting_gp");
    json_decref(a);
    /* The GP's answer does. */
    say(patel, thread, "It first appeared in March.");
    a = get_advice(patel, id);
    /* NOTE: the hook (pl_advice_on_message) is being wired into conversation.send by another
     * change; until it is, the status stays awaiting_gp and this assertion fails. */
    assert_string_equal(cfx_jstr(a, "status"), "in_progress");
    json_decref(a);
    json_t *e, *m = advice_event(khan, "advice.status", id, &e);
    while (strcmp(cfx_jstr(e, "status"), "in_progress") != 0) { /* skip request_info's */
        json_decref(m);
        m = advice_event(khan, "advice.status", id, &e);
    }
    assert_int_equal(cfx_jint(e, "by"), uid("dr.patel"));
    json_decref(m);
    pl_pc_destroy(patel);
    pl_pc_destroy(khan);
}

/* ---- claim, assign, close ---- */

static void test_a_request_is_one_specialists_until_the_service_reassigns_it(void **s)
{
    pl_pc_t *patel = open_as("dr.patel"), *khan = open_live("dr.khan"), *ali = open_ali();
    pl_pc_t *city = open_as("admin.city");
    json_t *a = ask(patel, "routine", "ann.taylor");
    json_int_t id = cfx_jint(a, "id");
    json_decref(a);
    /* Only the service's specialists claim. */
    cfx_refused(act(patel, "advice.claim", id), "forbidden",
                "requests are claimed by the service's specialists");
    cfx_refused(act(city, "advice.claim", id), "forbidden",
                "requests are claimed by the service's specialists");
    json_decref(advice_of(act(khan, "advice.claim", id)));
    /* A second specialist: conflict; the first again: fine, still hers. */
    cfx_refused(act(ali, "advice.claim", id), "conflict", "another specialist has claimed it");
    a = advice_of(act(khan, "advice.claim", id));
    assert_int_equal(cfx_jint(json_object_get(a, "specialist"), "id"), uid("dr.khan"));
    assert_string_equal(cfx_jstr(a, "status"), "in_progress");
    json_decref(a);
    assert_int_equal(audited("advice.claimed", id), 1); /* the retry changed nothing */

    /* The service's admin hands it to Dr Ali; Dr Khan sees that live. */
    a = advice_of(pl_pc_callf(city, T, "{ss sI sI}", "type", "advice.assign", "advice_id", id,
                              "user_id", uid("dr.ali")));
    assert_int_equal(cfx_jint(json_object_get(a, "specialist"), "id"), uid("dr.ali"));
    assert_string_equal(cfx_jstr(json_object_get(a, "specialist"), "display_name"), "Dr Sam Ali");
    json_decref(a);
    json_t *e, *m = advice_event(khan, "advice.assigned", id, &e);
    assert_int_equal(cfx_jint(json_object_get(e, "specialist"), "id"), uid("dr.ali"));
    assert_int_equal(cfx_jint(e, "by"), uid("admin.city"));
    json_decref(m);
    cfx_refused(act(khan, "advice.claim", id), "conflict", "another specialist has claimed it");
    /* Only to a specialist of this service; only by the service. */
    cfx_refused(pl_pc_callf(city, T, "{ss sI sI}", "type", "advice.assign", "advice_id", id,
                            "user_id", uid("dr.patel")),
                "bad_request", "user_id is not a specialist of this service");
    cfx_refused(pl_pc_callf(city, T, "{ss sI sI}", "type", "advice.assign", "advice_id", id,
                            "user_id", (json_int_t)999999),
                "bad_request", "user_id is not a specialist of this service");
    cfx_refused(pl_pc_callf(patel, T, "{ss sI sI}", "type", "advice.assign", "advice_id", id,
                            "user_id", uid("dr.khan")),
                "forbidden", "requests are claimed by the service's specialists");
    /* Advice is given by specialists, not the GP nor the service's admin. */
    cfx_refused(pl_pc_callf(patel, T, "{ss sI ss}", "type", "advice.close", "advice_id", id,
                            "outcome", "advice_given"),
                "forbidden", "advice is given by the service's specialists");
    cfx_refused(pl_pc_callf(city, T, "{ss sI ss}", "type", "advice.close", "advice_id", id,
                            "outcome", "advice_given"),
                "forbidden", "advice is given by the service's specialists");
    cfx_refused(act(patel, "advice.request_info", id), "forbidden",
                "advice is given by the service's specialists");
    /* Nor by another specialist than the one who has it. */
    cfx_refused(pl_pc_callf(khan, T, "{ss sI ss}", "type", "advice.close", "advice_id", id,
                            "outcome", "advice_given"),
                "conflict", "another specialist has this request");
    cfx_refused(act(khan, "advice.request_info", id), "conflict",
                "another specialist has this request");

    json_decref(advice_of(pl_pc_callf(ali, T, "{ss sI ss}", "type", "advice.close", "advice_id", id,
                                      "outcome", "referral")));
    /* Closed: no claim, no assignment, no second close, no more questions. */
    cfx_refused(pl_pc_callf(ali, T, "{ss sI ss}", "type", "advice.close", "advice_id", id,
                            "outcome", "advice_given"),
                "conflict", "this request is closed already");
    cfx_refused(act(khan, "advice.claim", id), "conflict", "this request is closed");
    cfx_refused(pl_pc_callf(city, T, "{ss sI sI}", "type", "advice.assign", "advice_id", id,
                            "user_id", uid("dr.khan")),
                "conflict", "this request is closed");
    cfx_refused(act(ali, "advice.request_info", id), "conflict", "this request is closed");
    a = get_advice(patel, id);
    assert_string_equal(cfx_jstr(a, "outcome"), "referral");
    assert_int_equal(cfx_jint(json_object_get(a, "specialist"), "id"), uid("dr.ali"));
    json_decref(a);
    assert_int_equal(audited("advice.close", id), 1);
    assert_int_equal(audited("advice.assigned", id), 1);
    pl_pc_destroy(patel);
    pl_pc_destroy(khan);
    pl_pc_destroy(ali);
    pl_pc_destroy(city);
}

/* ---- create: idempotency, who may ask, validation ---- */

static void test_create_retried_with_its_txn_id_is_stored_once(void **s)
{
    pl_pc_t *patel = open_as("dr.patel");
    json_t *req = create_req("routine", "ann.taylor");
    json_t *again = json_deep_copy(req);
    json_object_set_new(again, "question", json_string("A different question entirely"));
    counts_t before = counts_now();
    json_t *a = advice_of(pl_pc_call(patel, req, T));
    json_t *b = advice_of(pl_pc_call(patel, again, T));
    json_int_t id = cfx_jint(a, "id");
    assert_int_equal(cfx_jint(b, "id"), id);
    assert_int_equal(cfx_jint(b, "conversation_id"), cfx_jint(a, "conversation_id"));
    assert_string_equal(cfx_jstr(b, "question"), QUESTION);
    json_decref(a);
    json_decref(b);
    counts_t after = counts_now();
    assert_int_equal(after.advice, before.advice + 1);
    assert_int_equal(after.convs, before.convs + 1);
    assert_int_equal(after.events, before.events + 1); /* one advice.created */
    assert_int_equal(audited("advice.create", id), 1);
    pl_pc_destroy(patel);
}

static void test_create_with_no_agreement_in_force_is_forbidden_and_stores_nothing(void **s)
{
    pl_pc_t *hughes = open_as("dr.hughes");
    counts_t before = counts_now();
    cfx_refused(pl_pc_call(hughes, create_req("urgent", "cara.evans"), T), "forbidden",
                NO_AGREEMENT);
    json_t *req = create_req("urgent", "cara.evans");
    json_object_set_new(req, "practice_id", json_integer(hillside_id));
    cfx_refused(pl_pc_call(hughes, req, T), "forbidden", NO_AGREEMENT);
    counts_unchanged(before);
    assert_int_equal(count("SELECT count(*) FROM advice_requests a JOIN orgs o ON "
                           "o.id = a.practice_id WHERE o.code = 'Y90002'"),
                     0);
    /* The service lists Hillside with no agreement. */
    json_t *r = cfx_ok(pl_pc_callf(hughes, T, "{ss}", "type", "service.list"));
    json_t *svc = json_array_get(json_object_get(r, "services"), 0);
    assert_int_equal(json_array_size(json_object_get(r, "services")), 1);
    assert_int_equal(cfx_jint(svc, "id"), svc_id);
    assert_int_equal(json_array_size(json_object_get(svc, "agreements")), 0);
    json_decref(r);
    pl_pc_destroy(hughes);
}

static void
test_only_the_practices_clinicians_ask_and_nobody_else_learns_who_is_registered(void **s)
{
    counts_t before = counts_now();
    /* At the practice, not a clinician: refused. */
    const char *not_clinicians[] = {"reception.jones", "admin.smith"};
    for (int i = 0; i < 2; i++) {
        pl_pc_t *c = open_as(not_clinicians[i]);
        cfx_refused(pl_pc_call(c, create_req("routine", "ann.taylor"), T), "forbidden",
                    NOT_CLINICIAN);
        pl_pc_destroy(c);
    }
    /* Outside it, naming it: the same refusal whether or not the NHS number is registered
     * there (Ann Taylor is; 943 476 5919 is a valid number that is nobody's). */
    const char *outsiders[] = {"dr.hughes", "dr.khan"};
    const char *numbers[] = {nhs_of("ann.taylor"), "9434765919"};
    for (int i = 0; i < 2; i++) {
        pl_pc_t *c = open_as(outsiders[i]);
        for (int k = 0; k < 2; k++) {
            json_t *req = create_req("routine", "ann.taylor");
            json_object_set_new(req, "practice_id", json_integer(riverside_id));
            json_object_set_new(req, "nhs_number", json_string(numbers[k]));
            cfx_refused(pl_pc_call(c, req, T), "forbidden", NOT_CLINICIAN);
        }
        pl_pc_destroy(c);
    }
    /* A specialist, with no practice to ask from. */
    pl_pc_t *khan = open_as("dr.khan");
    cfx_refused(pl_pc_call(khan, create_req("routine", "ann.taylor"), T), "forbidden",
                NOT_CLINICIAN);
    pl_pc_destroy(khan);
    /* A patient may not ask at all, about anyone. */
    pl_pc_t *ann = open_as("ann.taylor");
    for (int k = 0; k < 2; k++) {
        json_t *req = create_req("routine", "ann.taylor");
        json_object_set_new(req, "practice_id", json_integer(riverside_id));
        json_object_set_new(req, "nhs_number", json_string(numbers[k]));
        json_t *r = pl_pc_call(ann, req, T);
        assert_true(pl_pc_is_error(r, "forbidden"));
        json_decref(r);
    }
    pl_pc_destroy(ann);
    counts_unchanged(before);
    /* The practice's other clinicians may. */
    const char *clinicians[] = {"nurse.okafor", "pharm.lee"};
    for (int i = 0; i < 2; i++) {
        pl_pc_t *c = open_as(clinicians[i]);
        json_t *a = ask(c, "routine", "robert.green");
        assert_int_equal(cfx_jint(json_object_get(a, "created_by"), "id"), uid(clinicians[i]));
        json_decref(a);
        pl_pc_destroy(c);
    }
}

static void test_malformed_requests_are_bad_requests_and_store_nothing(void **s)
{
    pl_pc_t *patel = open_as("dr.patel");
    counts_t before = counts_now();
    struct {
        const char *field;
        json_t *value; /* NULL: the field left out */
        const char *code, *msg;
    } cases[] = {
        {"urgency", json_string("soon"), "bad_request", "urgency must be one of: routine urgent"},
        {"urgency", NULL, "bad_request", "urgency is required"},
        {"specialty", json_string("Cardiology"), "bad_request",
         "that service does not offer this specialty"},
        {"specialty", NULL, "bad_request", "specialty is required"},
        {"consent", json_false(), "bad_request",
         "consent must be true: record that the patient agreed to share this"},
        {"consent", NULL, "bad_request", "consent is required"},
        {"consent", json_string("yes"), "bad_request", "consent must be true or false"},
        {"nhs_number", json_string("1234567890"), "bad_request",
         "nhs_number is not a valid NHS number"},
        {"nhs_number", NULL, "bad_request", "nhs_number is required"},
        {"question", NULL, "bad_request", "question is required"},
        {"question", json_string(""), "bad_request",
         "question must be 1 to 4000 bytes with no NUL"},
        {"summary", NULL, "bad_request", "summary is required"},
        {"txn_id", NULL, "bad_request", "txn_id is required"},
        {"service_id", NULL, "bad_request", "service_id is required"},
        {"service_id", json_integer(riverside_id), "bad_request",
         "service_id is not a specialist service"},
        {"service_id", json_string("R0D01"), "bad_request",
         "service_id must be an integer from 1 to 9223372036854775807"},
        /* A valid number, but of a patient of another practice. */
        {"nhs_number", json_string(nhs_of("cara.evans")), "not_found",
         "no such patient at your practice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *req = create_req("routine", "ann.taylor");
        if (cases[i].value)
            json_object_set_new(req, cases[i].field, cases[i].value);
        else
            json_object_del(req, cases[i].field);
        json_t *r = pl_pc_call(patel, req, T);
        if (!pl_pc_is_error(r, cases[i].code)) print_error("case %zu (%s)\n", i, cases[i].field);
        cfx_refused(r, cases[i].code, cases[i].msg);
    }
    /* The other requests check theirs too. */
    cfx_refused(pl_pc_callf(patel, T, "{ss}", "type", "advice.get"), "bad_request",
                "advice_id is required");
    cfx_refused(pl_pc_callf(patel, T, "{ss sI ss}", "type", "advice.close", "advice_id",
                            (json_int_t)1, "outcome", "cured"),
                "bad_request", "outcome must be one of: advice_given referral seen_elsewhere");
    cfx_refused(pl_pc_callf(patel, T, "{ss ss}", "type", "advice.list", "side", "both"),
                "bad_request", "side must be one of: sent queue");
    cfx_refused(pl_pc_callf(patel, T, "{ss ss ss}", "type", "advice.list", "side", "sent", "filter",
                            "bogus"),
                "bad_request", NULL);
    cfx_refused(
        pl_pc_callf(patel, T, "{ss sI}", "type", "advice.assign", "advice_id", (json_int_t)1),
        "bad_request", "user_id is required");
    cfx_refused(act(patel, "advice.get", 999999), "not_found", NO_SUCH);
    counts_unchanged(before);
    pl_pc_destroy(patel);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journey_from_question_to_advice_with_events_live_to_both_sides),
        cmocka_unit_test(test_gp_reply_on_the_thread_takes_a_request_back_to_in_progress),
        cmocka_unit_test(test_a_request_is_one_specialists_until_the_service_reassigns_it),
        cmocka_unit_test(test_create_retried_with_its_txn_id_is_stored_once),
        cmocka_unit_test(test_create_with_no_agreement_in_force_is_forbidden_and_stores_nothing),
        cmocka_unit_test(
            test_only_the_practices_clinicians_ask_and_nobody_else_learns_who_is_registered),
        cmocka_unit_test(test_malformed_requests_are_bad_requests_and_store_nothing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
