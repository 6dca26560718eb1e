/* Integration: the first journey end to end against the real server binary over real WSS,
 * with the real SQLite store. One server for the group; each test uses its own conversations. */
#include "tests/support/https.h"
#include "tests/support/pclient.h"

#include <errno.h>
#include <setjmp.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define T 5000

static pl_fixture_t fx;
static int txn_counter;

static const char *txn(void)
{
    static char buf[32];
    snprintf(buf, sizeof buf, "t%d-%d", getpid(), ++txn_counter);
    return buf;
}

static int group_setup(void **state)
{
    const char *args[] = {"--rate-limit-per-sec", "200", "--rate-limit-burst", "50",
                          "--http-timeout-s", "2", NULL};
    return pl_fixture_start(&fx, args);
}

static int group_teardown(void **state)
{
    pl_fixture_stop(&fx);
    return 0;
}

static pl_pc_t *open_as(const char *user)
{
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_open(&c, &fx, user), 0);
    return c;
}

/* Creates a request as the patient; returns the reply (caller decrefs). */
static json_t *create_request(pl_pc_t *p, const char *subject, const char *body)
{
    json_t *r = pl_pc_callf(p, T, "{ss ss ss ss ss s{ss}}", "type", "conversation.create",
                            "txn_id", txn(), "kind", "clinical", "subject", subject, "body", body,
                            "answers", "How long have you had it?", "Three days");
    assert_true(pl_pc_is_ok(r));
    return r;
}

static json_int_t conv_id(json_t *reply)
{
    return json_integer_value(json_object_get(json_object_get(reply, "conversation"), "id"));
}

static void test_login_refusals_look_the_same_for_unknown_and_wrong_password(void **s)
{
    json_t *a = NULL, *b = NULL;
    int sa = pl_pc_login(fx.port, "ann.taylor", "not-her-password", NULL, NULL, 0, &a);
    int sb = pl_pc_login(fx.port, "nobody.here", "whatever-it-is", NULL, NULL, 0, &b);
    assert_int_equal(sa, 401);
    assert_int_equal(sb, 401);
    assert_true(json_equal(a, b));
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "error"), "code")),
                        "unauthorised");
    json_decref(a);
    json_decref(b);
}

static void test_login_sets_secure_httponly_strict_cookie(void **s)
{
    char body[256];
    snprintf(body, sizeof body, "{\"username\":\"dr.patel\",\"password\":\"%s\"}",
             pl_fixture_password(&fx, "dr.patel"));
    pl_http_resp_t r;
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "POST", "/api/v1/login",
                                      "Content-Type: application/json\r\n", body, strlen(body), T,
                                      &r),
                     0);
    assert_int_equal(r.status, 200);
    char *cookie = pl_http_resp_header(&r, "set-cookie");
    assert_non_null(cookie);
    assert_non_null(strstr(cookie, "parley_session="));
    assert_non_null(strstr(cookie, "Secure"));
    assert_non_null(strstr(cookie, "HttpOnly"));
    assert_non_null(strstr(cookie, "SameSite=Strict"));
    /* Without want_token the token stays out of the body (the cookie carries it). */
    assert_null(strstr(r.body, "\"token\""));
    free(cookie);
    pl_http_resp_free(&r);
}

static void test_login_without_json_content_type_is_refused(void **s)
{
    const char *body = "{\"username\":\"dr.patel\",\"password\":\"x\"}";
    pl_http_resp_t r;
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "POST", "/api/v1/login",
                                      "Content-Type: application/x-www-form-urlencoded\r\n", body,
                                      strlen(body), T, &r),
                     0);
    assert_int_equal(r.status, 403);
    pl_http_resp_free(&r);
}

static void test_websocket_without_token_gets_session_error_and_close_4401(void **s)
{
    pl_wsc_t *ws = NULL;
    assert_int_equal(pl_wsc_connect(&ws, "127.0.0.1", fx.port, "/", NULL, T, NULL), 0);
    char *m = NULL;
    assert_int_equal(pl_wsc_recv(ws, T, &m, NULL), 0);
    assert_non_null(strstr(m, "session.error"));
    free(m);
    assert_int_equal(pl_wsc_recv(ws, T, &m, NULL), -ECONNRESET);
    assert_int_equal(pl_wsc_close_code(ws), 4401);
    pl_wsc_destroy(ws);
}

static void test_upgrade_without_subprotocol_is_not_accepted(void **s)
{
    pl_tls_t *t = NULL;
    assert_int_equal(pl_tls_connect(&t, "127.0.0.1", fx.port, T), 0);
    const char *req = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    assert_int_equal(pl_tls_write(t, req, strlen(req)), 0);
    char buf[512] = "";
    int n = pl_tls_read(t, buf, sizeof buf - 1, T);
    if (n > 0) buf[n] = 0;
    assert_null(strstr(buf, " 101 "));
    pl_tls_destroy(t);
}

static void test_cross_site_login_is_refused_even_with_a_valid_body(void **s)
{
    char body[256];
    snprintf(body, sizeof body, "{\"username\":\"dr.patel\",\"password\":\"%s\"}",
             pl_fixture_password(&fx, "dr.patel"));
    pl_http_resp_t r;
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "POST", "/api/v1/login",
                                      "Content-Type: application/json\r\n"
                                      "Origin: https://evil.example\r\n",
                                      body, strlen(body), T, &r),
                     0);
    assert_int_equal(r.status, 403);
    char *cookie = pl_http_resp_header(&r, "set-cookie");
    assert_null(cookie);
    pl_http_resp_free(&r);
}

static void test_websocket_without_or_with_bad_token_is_refused(void **s)
{
    pl_pc_t *c = NULL;
    json_t *err = NULL;
    assert_int_equal(pl_pc_connect(&c, fx.port, NULL, &err), -EACCES);
    assert_string_equal(json_string_value(json_object_get(json_object_get(err, "error"), "code")),
                        "unauthorised");
    json_decref(err);
    assert_int_equal(pl_pc_connect(&c, fx.port, "bm90LWEtcmVhbC10b2tlbg", &err), -EACCES);
    assert_string_equal(json_string_value(json_object_get(json_object_get(err, "error"), "code")),
                        "unauthorised");
    json_decref(err);
}

static void test_patient_request_reaches_practice_inbox_live(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *pt = open_as("ann.taylor");
    json_decref(pl_pc_subscribe(gp, -1, T)); /* live from now on */
    json_t *r = create_request(pt, "Rash on my arm", "It is itchy and spreading.");
    json_int_t cid = conv_id(r);
    assert_true(cid > 0);
    json_t *ev = pl_pc_wait_event(gp, "conversation.created", T);
    assert_non_null(ev);
    json_t *e = json_object_get(ev, "event");
    assert_int_equal(json_integer_value(json_object_get(e, "conversation_id")), cid);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(e, "conversation"), "answers"),
                            "How long have you had it?")),
                        "Three days");
    json_decref(ev);
    ev = pl_pc_wait_event(gp, "message.created", T);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(ev, "event"), "message"), "body")),
                        "It is itchy and spreading.");
    json_decref(ev);
    /* It is in the inbox under "new", with its waiting time shown. */
    json_t *l = pl_pc_callf(gp, T, "{ss ss}", "type", "conversation.list", "filter", "new");
    assert_true(pl_pc_is_ok(l));
    json_t *first = json_array_get(json_object_get(l, "conversations"), 0);
    assert_int_equal(json_integer_value(json_object_get(first, "id")), cid);
    assert_non_null(json_object_get(first, "waited_seconds"));
    assert_non_null(json_object_get(first, "due_at"));
    json_decref(l);
    json_decref(r);
    pl_pc_destroy(gp);
    pl_pc_destroy(pt);
}

static void test_staff_reply_reaches_patient_but_internal_note_does_not(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *pt = open_as("ann.taylor");
    json_t *r = create_request(pt, "Repeat prescription", "Can I have my inhaler?");
    json_int_t cid = conv_id(r);
    json_decref(r);
    json_decref(pl_pc_subscribe(pt, -1, T));
    r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "conversation.note", "conversation_id", cid,
                    "txn_id", txn(), "body", "INTERNAL: check last review date");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id", cid,
                    "txn_id", txn(), "body", "Done, collect from the pharmacy tomorrow.");
    assert_true(pl_pc_is_ok(r));
    /* The note took no seq of its own: the patient sees 1, 2 with no gap betraying it. */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "message"), "seq")),
                     2);
    json_decref(r);
    json_t *ev = pl_pc_wait_event(pt, "message.created", T);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(ev, "event"), "message"), "body")),
                        "Done, collect from the pharmacy tomorrow.");
    json_decref(ev);
    /* History for the patient has no note; for staff it has. */
    r = pl_pc_callf(pt, T, "{ss sI}", "type", "conversation.history", "conversation_id", cid);
    assert_true(pl_pc_is_ok(r));
    char *dump = json_dumps(r, 0);
    assert_null(strstr(dump, "INTERNAL"));
    free(dump);
    assert_int_equal(json_array_size(json_object_get(r, "messages")), 2);
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "conversation.history", "conversation_id", cid);
    assert_int_equal(json_array_size(json_object_get(r, "messages")), 3);
    json_decref(r);
    /* Replaying the patient's stream from the start never yields the note either. */
    pl_pc_t *pt2 = open_as("ann.taylor");
    json_t *all = pl_pc_subscribe(pt2, 0, T);
    assert_non_null(all);
    dump = json_dumps(all, 0);
    assert_null(strstr(dump, "INTERNAL"));
    assert_null(strstr(dump, "note.created"));
    free(dump);
    json_decref(all);
    pl_pc_destroy(pt2);
    pl_pc_destroy(gp);
    pl_pc_destroy(pt);
}

static void test_receipts_and_typing_reach_the_other_side(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *pt = open_as("robert.green");
    json_t *r = create_request(pt, "Fit note", "I need a fit note please.");
    json_int_t cid = conv_id(r);
    json_decref(r);
    json_decref(pl_pc_subscribe(pt, -1, T));
    json_decref(pl_pc_subscribe(gp, -1, T));
    r = pl_pc_callf(gp, T, "{ss sI sI ss}", "type", "receipt.mark", "conversation_id", cid, "seq",
                    (json_int_t)1, "kind", "read");
    assert_true(pl_pc_is_ok(r));
    assert_int_equal(json_integer_value(json_object_get(r, "delivered_seq")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "read_seq")), 1);
    json_decref(r);
    json_t *ev = pl_pc_wait_event(pt, "receipt.updated", T);
    assert_non_null(ev);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "event"), "read_seq")),
                     1);
    /* The patient learns the practice read it, not which member of staff. */
    assert_null(json_object_get(json_object_get(ev, "event"), "user_id"));
    json_decref(ev);
    r = pl_pc_callf(gp, T, "{ss sI sb}", "type", "typing.set", "conversation_id", cid, "typing", 1);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    ev = pl_pc_wait_event(pt, "typing", T);
    assert_non_null(ev);
    assert_true(json_is_true(json_object_get(json_object_get(ev, "event"), "typing")));
    assert_null(json_object_get(json_object_get(ev, "event"), "user_id"));
    assert_null(json_object_get(ev, "cursor")); /* ephemeral: not part of the stream */
    json_decref(ev);
    /* A page opened later learns the receipts from conversation.get, by side. */
    r = pl_pc_callf(pt, T, "{ss sI}", "type", "conversation.get", "conversation_id", cid);
    json_t *rc = json_object_get(r, "receipts");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rc, "staff"), "read_seq")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(rc, "patient"), "read_seq")), 0);
    json_decref(r);
    /* A receipt past the last message is refused. */
    r = pl_pc_callf(gp, T, "{ss sI sI ss}", "type", "receipt.mark", "conversation_id", cid, "seq",
                    (json_int_t)99, "kind", "read");
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    pl_pc_destroy(gp);
    pl_pc_destroy(pt);
}

static void test_duplicate_txn_id_returns_the_original(void **s)
{
    pl_pc_t *pt = open_as("ann.taylor");
    json_t *r = create_request(pt, "Blood test results", "Are they back?");
    json_int_t cid = conv_id(r);
    json_decref(r);
    const char *t = txn();
    char id[32];
    snprintf(id, sizeof id, "%s", t);
    json_t *a = pl_pc_callf(pt, T, "{ss sI ss ss}", "type", "conversation.send",
                            "conversation_id", cid, "txn_id", id, "body", "Any news?");
    json_t *b = pl_pc_callf(pt, T, "{ss sI ss ss}", "type", "conversation.send",
                            "conversation_id", cid, "txn_id", id, "body", "Any news?");
    assert_true(pl_pc_is_ok(a) && pl_pc_is_ok(b));
    assert_false(json_is_true(json_object_get(a, "duplicate")));
    assert_true(json_is_true(json_object_get(b, "duplicate")));
    assert_true(json_equal(json_object_get(a, "message"), json_object_get(b, "message")));
    json_decref(a);
    json_decref(b);
    json_t *h = pl_pc_callf(pt, T, "{ss sI}", "type", "conversation.history", "conversation_id",
                            cid);
    assert_int_equal(json_array_size(json_object_get(h, "messages")), 2);
    json_decref(h);
    pl_pc_destroy(pt);
}

static void test_reconnect_with_cursor_replays_missed_events_once_in_order(void **s)
{
    pl_pc_t *pt = open_as("ann.taylor"), *gp = open_as("dr.patel");
    json_t *evs = pl_pc_subscribe(gp, 0, T);
    assert_non_null(evs);
    json_int_t cursor = 0;
    if (json_array_size(evs))
        cursor = json_integer_value(
            json_object_get(json_array_get(evs, json_array_size(evs) - 1), "cursor"));
    json_decref(evs);
    pl_pc_destroy(gp); /* the GP goes offline */
    json_t *r = create_request(pt, "Missed while offline", "message 1");
    json_int_t cid = conv_id(r);
    json_decref(r);
    for (int i = 2; i <= 5; i++) {
        char body[32];
        snprintf(body, sizeof body, "message %d", i);
        r = pl_pc_callf(pt, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id",
                        cid, "txn_id", txn(), "body", body);
        assert_true(pl_pc_is_ok(r));
        json_decref(r);
    }
    gp = open_as("dr.patel");
    evs = pl_pc_subscribe(gp, cursor, T);
    assert_non_null(evs);
    int seen = 0;
    json_int_t last = cursor;
    size_t i;
    json_t *ev;
    json_array_foreach(evs, i, ev)
    {
        json_int_t cur = json_integer_value(json_object_get(ev, "cursor"));
        assert_true(cur > last); /* strictly increasing: in order, no repeats */
        last = cur;
        json_t *e = json_object_get(ev, "event");
        if (!strcmp(json_string_value(json_object_get(e, "type")), "message.created") &&
            json_integer_value(json_object_get(e, "conversation_id")) == cid) {
            seen++;
            char want[32];
            snprintf(want, sizeof want, "message %d", seen);
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(e, "message"), "body")), want);
        }
    }
    assert_int_equal(seen, 5);
    json_decref(evs);
    /* Live after the replay: the next message arrives once. */
    r = pl_pc_callf(pt, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id", cid,
                    "txn_id", txn(), "body", "message 6");
    json_decref(r);
    ev = pl_pc_wait_event(gp, "message.created", T);
    assert_non_null(ev);
    assert_true(json_integer_value(json_object_get(ev, "cursor")) > last);
    json_decref(ev);
    assert_null(pl_pc_wait_event(gp, "message.created", 300));
    pl_pc_destroy(gp);
    pl_pc_destroy(pt);
}

static void test_access_across_practices_and_patients_is_forbidden(void **s)
{
    pl_pc_t *ann = open_as("ann.taylor"), *bob = open_as("robert.green");
    pl_pc_t *other_gp = open_as("dr.hughes"), *gp = open_as("dr.patel");
    json_t *r = create_request(ann, "Private matter", "Only my practice may read this.");
    json_int_t cid = conv_id(r);
    json_decref(r);
    const char *reads[] = {"conversation.get", "conversation.history"};
    for (int i = 0; i < 2; i++) {
        r = pl_pc_callf(bob, T, "{ss sI}", "type", reads[i], "conversation_id", cid);
        assert_true(pl_pc_is_error(r, "forbidden"));
        json_decref(r);
        r = pl_pc_callf(other_gp, T, "{ss sI}", "type", reads[i], "conversation_id", cid);
        assert_true(pl_pc_is_error(r, "forbidden"));
        json_decref(r);
    }
    r = pl_pc_callf(other_gp, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id",
                    cid, "txn_id", txn(), "body", "hello");
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    /* A patient cannot write internal notes, assign, or change status. */
    r = pl_pc_callf(ann, T, "{ss sI ss ss}", "type", "conversation.note", "conversation_id", cid,
                    "txn_id", txn(), "body", "x");
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(ann, T, "{ss sI ss}", "type", "conversation.set_status", "conversation_id",
                    cid, "status", "closed");
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    /* A patient cannot start a request at a practice they are not registered with. */
    r = pl_pc_callf(ann, T, "{ss ss ss ss ss sI}", "type", "conversation.create", "txn_id", txn(),
                    "kind", "admin", "subject", "x", "body", "y", "org_id", (json_int_t)3);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    /* The other practice's inbox does not list it. */
    r = pl_pc_callf(other_gp, T, "{ss}", "type", "conversation.list");
    char *dump = json_dumps(r, 0);
    assert_null(strstr(dump, "Private matter"));
    free(dump);
    json_decref(r);
    /* Staff cannot start patient requests. */
    r = pl_pc_callf(gp, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id", txn(),
                    "kind", "admin", "subject", "x", "body", "y");
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    pl_pc_destroy(ann);
    pl_pc_destroy(bob);
    pl_pc_destroy(other_gp);
    pl_pc_destroy(gp);
}

static void test_assign_and_status_drive_the_inbox_filters(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *pt = open_as("robert.green");
    json_t *r = create_request(pt, "Travel vaccines", "Do I need any for Kenya?");
    json_int_t cid = conv_id(r);
    json_decref(r);
    json_int_t nurse = pl_fixture_user_id(&fx, "nurse.okafor");
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "conversation.assign", "conversation_id", cid,
                    "user_id", nurse);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    /* Assigning to someone outside the practice is refused. */
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "conversation.assign", "conversation_id", cid,
                    "user_id", (json_int_t)pl_fixture_user_id(&fx, "dr.hughes"));
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    pl_pc_t *ns = open_as("nurse.okafor");
    r = pl_pc_callf(ns, T, "{ss ss}", "type", "conversation.list", "filter", "assigned_to_me");
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(r, "conversations"), 0), "id")),
                     cid);
    json_decref(r);
    r = pl_pc_callf(ns, T, "{ss sI ss}", "type", "conversation.set_status", "conversation_id", cid,
                    "status", "awaiting_patient");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(ns, T, "{ss ss}", "type", "conversation.list", "filter", "awaiting_patient");
    json_t *c0 = json_array_get(json_object_get(r, "conversations"), 0);
    assert_int_equal(json_integer_value(json_object_get(c0, "id")), cid);
    assert_true(json_is_null(json_object_get(c0, "waiting_since"))); /* clock stopped */
    json_decref(r);
    /* The patient's reply puts it back in progress. */
    r = pl_pc_callf(pt, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id", cid,
                    "txn_id", txn(), "body", "Here are my dates.");
    json_decref(r);
    r = pl_pc_callf(ns, T, "{ss sI}", "type", "conversation.get", "conversation_id", cid);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "conversation"),
                                                          "status")),
                        "in_progress");
    json_decref(r);
    pl_pc_destroy(ns);
    pl_pc_destroy(gp);
    pl_pc_destroy(pt);
}

static void test_bad_input_gets_clear_errors_and_connection_stays_usable(void **s)
{
    pl_pc_t *pt = open_as("ann.taylor");
    pl_wsc_t *ws = pl_pc_ws(pt);
    char *m = NULL;
    const char *bad[] = {"{not json", "[1,2,3]", "{\"type\":\"ping\"}",
                         "{\"id\":\"a\",\"type\":42}"};
    const char *codes[] = {"bad_request", "bad_request", "bad_request", "bad_request"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pl_wsc_send_text(ws, bad[i], strlen(bad[i])), 0);
        assert_int_equal(pl_wsc_recv(ws, T, &m, NULL), 0);
        json_t *j = json_loads(m, 0, NULL);
        assert_true(pl_pc_is_error(j, codes[i]));
        json_decref(j);
        free(m);
    }
    json_t *r = pl_pc_callf(pt, T, "{ss}", "type", "no.such.thing");
    assert_true(pl_pc_is_error(r, "unknown_type"));
    json_decref(r);
    r = pl_pc_callf(pt, T, "{ss ss}", "type", "conversation.get", "conversation_id", "seven");
    assert_true(pl_pc_is_error(r, "bad_request"));
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r, "error"),
                                                             "message")),
                           "conversation_id"));
    json_decref(r);
    /* A message body over the limit. */
    char *big = malloc(20000);
    memset(big, 'x', 19999);
    big[19999] = 0;
    r = pl_pc_callf(pt, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id",
                    (json_int_t)1, "txn_id", txn(), "body", big);
    assert_true(pl_pc_is_error(r, "too_large"));
    json_decref(r);
    free(big);
    /* A frame over the hard cap is dropped with too_large, and the connection lives on. */
    size_t n = 200000;
    char *huge = malloc(n);
    memset(huge, ' ', n);
    huge[0] = '{';
    huge[n - 1] = '}';
    assert_int_equal(pl_wsc_send_text(ws, huge, n), 0);
    free(huge);
    assert_int_equal(pl_wsc_recv(ws, T, &m, NULL), 0);
    json_t *j = json_loads(m, 0, NULL);
    assert_true(pl_pc_is_error(j, "too_large"));
    json_decref(j);
    free(m);
    r = pl_pc_callf(pt, T, "{ss}", "type", "ping");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    pl_pc_destroy(pt);
}

static void test_invalid_nhs_number_is_rejected(void **s)
{
    pl_pc_t *gp = open_as("dr.patel");
    json_t *r = pl_pc_callf(gp, T, "{ss ss}", "type", "patient.lookup", "nhs_number",
                            "9434765918"); /* wrong check digit */
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    json_t *ann = NULL;
    size_t i;
    json_array_foreach(fx.logins, i, ann) if (!strcmp(
        json_string_value(json_object_get(ann, "username")), "ann.taylor")) break;
    r = pl_pc_callf(gp, T, "{ss ss}", "type", "patient.lookup", "nhs_number",
                    json_string_value(json_object_get(ann, "nhs_number")));
    assert_true(pl_pc_is_ok(r));
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "patient"),
                                                          "username")),
                        "ann.taylor");
    json_decref(r);
    pl_pc_destroy(gp);
    /* Another practice's GP cannot find her. */
    pl_pc_t *other = open_as("dr.hughes");
    r = pl_pc_callf(other, T, "{ss ss}", "type", "patient.lookup", "nhs_number",
                    json_string_value(json_object_get(ann, "nhs_number")));
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    pl_pc_destroy(other);
    /* The admin CLI refuses an invalid NHS number too. */
    const char *args[] = {"user", "add", "--data-dir", fx.dir, "--username", "bad.nhs", "--name",
                          "Bad", "--patient", "--nhs-number", "1234567890", "--dob",
                          "1980-01-01", "--practice", "Y90001", "--kdf-log-n", "10", NULL};
    assert_int_not_equal(pl_test_run_cli(NULL, args), 0);
    /* Asking for help names no command and must not create a data directory. */
    char nowhere[4200], *out = NULL;
    snprintf(nowhere, sizeof nowhere, "%s/not-created", fx.dir);
    const char *help[] = {"org", "--help", "--data-dir", nowhere, NULL};
    assert_int_equal(pl_test_run_cli(&out, help), 0);
    assert_non_null(strstr(out, "usage: parley org"));
    free(out);
    assert_int_equal(access(nowhere, F_OK), -1);
}

static void test_request_flood_is_rate_limited_and_connection_recovers(void **s)
{
    pl_pc_t *pt = open_as("robert.green");
    pl_wsc_t *ws = pl_pc_ws(pt);
    const char *ping = "{\"id\":\"f\",\"type\":\"ping\"}";
    for (int i = 0; i < 400; i++) assert_int_equal(pl_wsc_send_text(ws, ping, strlen(ping)), 0);
    int limited = 0, ok = 0;
    for (int i = 0; i < 400; i++) {
        char *m = NULL;
        assert_int_equal(pl_wsc_recv(ws, T, &m, NULL), 0);
        json_t *j = json_loads(m, 0, NULL);
        if (pl_pc_is_error(j, "rate_limited")) limited++;
        if (pl_pc_is_ok(j)) ok++;
        json_decref(j);
        free(m);
    }
    assert_true(limited > 0);
    assert_true(ok >= 50);
    usleep(600 * 1000);
    json_t *r = pl_pc_callf(pt, T, "{ss}", "type", "ping");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    pl_pc_destroy(pt);
}

static void test_slow_request_body_is_cut_off(void **s)
{
    pl_tls_t *t = NULL;
    assert_int_equal(pl_tls_connect(&t, "127.0.0.1", fx.port, T), 0);
    const char *head = "POST /api/v1/login HTTP/1.1\r\nHost: localhost\r\n"
                       "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    assert_int_equal(pl_tls_write(t, head, strlen(head)), 0);
    /* Dribble a byte every 500 ms: the server's 2 s limit must end it long before 100 bytes. */
    int closed = 0;
    for (int i = 0; i < 20 && !closed; i++) {
        char buf[256];
        int n = pl_tls_read(t, buf, sizeof buf, 500);
        if (n == 0 || (n < 0 && n != -ETIMEDOUT)) closed = 1;
        else if (n > 0) closed = 1; /* any answer (408) also ends it */
        else if (pl_tls_write(t, "\"", 1) < 0) closed = 1;
    }
    assert_true(closed);
    pl_tls_destroy(t);
    /* And the server is still fine. */
    pl_http_resp_t r;
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "GET", "/healthz", NULL, NULL, 0, T, &r),
                     0);
    assert_int_equal(r.status, 200);
    pl_http_resp_free(&r);
}

static void test_logout_ends_the_session_and_its_connections(void **s)
{
    char token[128];
    assert_int_equal(pl_pc_login(fx.port, "cara.evans", pl_fixture_password(&fx, "cara.evans"),
                                 NULL, token, sizeof token, NULL),
                     200);
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_connect(&c, fx.port, token, NULL), 0);
    char hdr[256];
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\nContent-Type: application/json\r\n",
             token);
    pl_http_resp_t r;
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "POST", "/api/v1/logout", hdr, "{}", 2,
                                      T, &r),
                     0);
    assert_int_equal(r.status, 204);
    pl_http_resp_free(&r);
    json_t *ended = pl_pc_next_push(c, T);
    assert_non_null(ended);
    assert_string_equal(json_string_value(json_object_get(ended, "type")), "session.ended");
    json_decref(ended);
    pl_pc_destroy(c);
    json_t *err = NULL;
    assert_int_equal(pl_pc_connect(&c, fx.port, token, &err), -EACCES);
    json_decref(err);
}

static void test_health_and_metrics(void **s)
{
    pl_http_resp_t r;
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "GET", "/healthz", NULL, NULL, 0, T, &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"store\":\"ok\""));
    pl_http_resp_free(&r);
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "GET", "/metrics", NULL, NULL, 0, T, &r),
                     0);
    assert_int_equal(r.status, 200);
    const char *names[] = {"parley_connections ", "parley_messages_in_total ",
                           "parley_messages_out_total ", "parley_store_commit_seconds_bucket",
                           "parley_auth_failures_total "};
    for (int i = 0; i < 5; i++) assert_non_null(strstr(r.body, names[i]));
    pl_http_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_refusals_look_the_same_for_unknown_and_wrong_password),
        cmocka_unit_test(test_login_sets_secure_httponly_strict_cookie),
        cmocka_unit_test(test_login_without_json_content_type_is_refused),
        cmocka_unit_test(test_websocket_without_or_with_bad_token_is_refused),
        cmocka_unit_test(test_websocket_without_token_gets_session_error_and_close_4401),
        cmocka_unit_test(test_upgrade_without_subprotocol_is_not_accepted),
        cmocka_unit_test(test_cross_site_login_is_refused_even_with_a_valid_body),
        cmocka_unit_test(test_patient_request_reaches_practice_inbox_live),
        cmocka_unit_test(test_staff_reply_reaches_patient_but_internal_note_does_not),
        cmocka_unit_test(test_receipts_and_typing_reach_the_other_side),
        cmocka_unit_test(test_duplicate_txn_id_returns_the_original),
        cmocka_unit_test(test_reconnect_with_cursor_replays_missed_events_once_in_order),
        cmocka_unit_test(test_access_across_practices_and_patients_is_forbidden),
        cmocka_unit_test(test_assign_and_status_drive_the_inbox_filters),
        cmocka_unit_test(test_bad_input_gets_clear_errors_and_connection_stays_usable),
        cmocka_unit_test(test_invalid_nhs_number_is_rejected),
        cmocka_unit_test(test_request_flood_is_rate_limited_and_connection_recovers),
        cmocka_unit_test(test_slow_request_body_is_cut_off),
        cmocka_unit_test(test_logout_ends_the_session_and_its_connections),
        cmocka_unit_test(test_health_and_metrics),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
