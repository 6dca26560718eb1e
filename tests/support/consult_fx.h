/* Test support: video consultation fixtures shared by the integration tests of consultations
 * (test_consult.c, test_consult_guest.c, test_consult_guest_session.c). Booking on the demo data
 * (Dr Patel at Riverside books for Ann Taylor, born 1948-03-12), opening a join link with POST
 * /api/v1/join and reading its cookies, /metrics counters and the audit table of a running
 * fixture.
 *
 * Two halves. consult_fx.c does the work and returns codes: it is linked into every binary
 * under tests/ and bench/, and the benches have no cmocka. The asserting helpers the tests call
 * are static inline below, as in tests/storage/store_fixture.h: a test fails on the line of the
 * helper that was given bad data, loudly. Every helper takes the fixture as a parameter. */
#ifndef PL_TEST_CONSULT_FX_H
#define PL_TEST_CONSULT_FX_H

#include "tests/support/pclient.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define CFX_T 5000               /* ms to wait for any reply */
#define CFX_ANN_DOB "1948-03-12" /* the demo patient Ann Taylor's date of birth */
#define CFX_TOKEN_LEN 43         /* a link or session token: 32 random bytes, base64url */

/* A booked consultation: its id, conversation, and the token from the link's fragment. */
typedef struct {
    json_int_t id, conversation_id, expires_at;
    char token[64];
} cfx_booking_t;

/* The answer to POST /api/v1/join. */
typedef struct {
    int status;
    json_t *body;                             /* parsed, NULL if not JSON; cfx_join_free */
    char session[64], device[64];             /* cookie values set, "" if none */
    char session_line[256], device_line[256]; /* whole Set-Cookie values */
    char retry_after[16];
} cfx_join_resp_t;

/* ---- consult_fx.c: no assertions, codes only ---- */

/* A fresh txn_id for conversation.create/send, unique in this process. Static buffer: copy it
 * before the next call. */
const char *cfx_txn(void);

/* The token of a link {"path": "<prefix>#<token>", ...}: 0 and the token in out (cap >= 44),
 * -EPROTO if the path does not start with prefix + '#' or the token is not CFX_TOKEN_LEN long. */
int cfx_link_token(json_t *link, const char *prefix, char *out, size_t cap);

/* POSTs body to /api/v1/join with these header lines (CRLF-terminated). Fills *out (release
 * with cfx_join_free) and returns the HTTP status, or a negative errno if no response came. */
int cfx_post_join_raw(const pl_fixture_t *f, const char *headers, const char *body,
                      cfx_join_resp_t *out);
/* Opens a link as a browser does: {"token", "date_of_birth"} with dob NULL leaving the date
 * out (a guest's link), and device the parley_device cookie to send (NULL: a device never
 * seen). As cfx_post_join_raw. */
int cfx_join(const pl_fixture_t *f, const char *token, const char *dob, const char *device,
             cfx_join_resp_t *out);
const char *cfx_join_err(const cfx_join_resp_t *j); /* error.code, or NULL */
const char *cfx_join_msg(const cfx_join_resp_t *j); /* error.message, or NULL */
void cfx_join_free(cfx_join_resp_t *j);

/* The value of a counter in GET /metrics: 0 and *out, -ENOENT if not listed, or a negative
 * errno from the request. */
int cfx_metric_read(const pl_fixture_t *f, const char *name, long long *out);
/* Audit rows with this action about this consultation that went through (outcome ok; a refusal
 * leaves a "denied" row of the request type): 0 and *out, or -EIO. Reads the
 * fixture's database directly (tests/support/rawdb.h: SQLite or PostgreSQL, as the tests run),
 * alongside the running server. */
int cfx_audit_read(const pl_fixture_t *f, const char *action, int64_t consultation, int *out);
/* The first column of the first row of sql (one ? bound to arg) on the fixture's database, as
 * an integer (*out) or as text (into buf, "" for NULL). 0, -ENOENT when there is no row, or
 * -EIO. The SQL must be what both SQLite and PostgreSQL accept (see rawdb.h). */
int cfx_db_read_int(const pl_fixture_t *f, const char *sql, int64_t arg, int64_t *out);
int cfx_db_read_text(const pl_fixture_t *f, const char *sql, int64_t arg, char *buf, size_t cap);
/* Runs one statement of sql (one ? bound to arg, if it has one) on the fixture's database,
 * beside the running server: for a state the API cannot reach. 0 or -EIO. */
int cfx_db_exec(const pl_fixture_t *f, const char *sql, int64_t arg);

/* ---- asserting helpers, for cmocka tests ---- */

/* Prints j (compact JSON) after what, for the log of a failing test. */
static inline void cfx_dump(const char *what, json_t *j)
{
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    print_error("%s: %s\n", what, t ? t : "(nothing)");
    free(t);
}

/* Asserts the reply is ok and returns it (the caller decrefs). */
static inline json_t *cfx_ok(json_t *r)
{
    if (!pl_pc_is_ok(r)) cfx_dump("expected ok", r);
    assert_true(pl_pc_is_ok(r));
    return r;
}

/* Asserts the reply is the error code (and message, unless msg is NULL); releases it. */
static inline void cfx_refused(json_t *r, const char *code, const char *msg)
{
    if (!pl_pc_is_error(r, code)) cfx_dump(code, r);
    assert_true(pl_pc_is_error(r, code));
    if (msg) {
        const char *got =
            json_string_value(json_object_get(json_object_get(r, "error"), "message"));
        assert_non_null(got);
        assert_string_equal(got, msg);
    }
    json_decref(r);
}

static inline json_int_t cfx_jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static inline const char *cfx_jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    assert_non_null(v);
    return v;
}

/* A demo user's id. */
static inline json_int_t cfx_uid(const pl_fixture_t *f, const char *user)
{
    json_int_t id = (json_int_t)pl_fixture_user_id(f, user);
    assert_true(id > 0);
    return id;
}

/* Signs a demo user in and connects; the caller destroys the client. */
static inline pl_pc_t *cfx_open_as(const pl_fixture_t *f, const char *user)
{
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_open(&c, f, user), 0);
    return c;
}

/* consult.book with req (stolen; "type" is added) by staff; asserts it worked and that the
 * link is a patient's (/join#). */
static inline cfx_booking_t cfx_book_with(pl_pc_t *staff, json_t *req)
{
    json_object_set_new(req, "type", json_string("consult.book"));
    json_t *r = pl_pc_call(staff, req, CFX_T);
    assert_true(pl_pc_is_ok(r));
    cfx_booking_t b;
    memset(&b, 0, sizeof b);
    json_t *c = json_object_get(r, "consultation"), *link = json_object_get(r, "link");
    b.id = cfx_jint(c, "id");
    b.conversation_id = cfx_jint(c, "conversation_id");
    b.expires_at = cfx_jint(link, "expires_at");
    assert_int_equal(cfx_link_token(link, "/join", b.token, sizeof b.token), 0);
    json_decref(r);
    return b;
}

/* An unscheduled consultation for Ann Taylor, in a new conversation. */
static inline cfx_booking_t cfx_book(const pl_fixture_t *f, pl_pc_t *staff)
{
    return cfx_book_with(staff, json_pack("{sI}", "patient_id", cfx_uid(f, "ann.taylor")));
}

/* A guest invited into a consultation: its user id and its link. */
typedef struct {
    json_int_t id, expires_at;
    char token[64];
} cfx_guest_t;

/* consult.invite of a guest {display_name, role} by staff; asserts it worked, that the reply
 * is about kid and that the link is a guest's (/guest#). */
static inline cfx_guest_t cfx_invite_guest(pl_pc_t *staff, json_int_t kid, const char *name,
                                           const char *role)
{
    json_t *r =
        cfx_ok(pl_pc_callf(staff, CFX_T, "{ss sI s{ss ss}}", "type", "consult.invite",
                           "consultation_id", kid, "guest", "display_name", name, "role", role));
    cfx_guest_t g;
    memset(&g, 0, sizeof g);
    g.id = cfx_jint(r, "user_id");
    json_t *link = json_object_get(r, "link");
    g.expires_at = cfx_jint(link, "expires_at");
    assert_int_equal(cfx_link_token(link, "/guest", g.token, sizeof g.token), 0);
    assert_int_equal(cfx_jint(json_object_get(r, "consultation"), "id"), kid);
    json_decref(r);
    return g;
}

/* The consultation as c sees it (consult.get); the caller decrefs. */
static inline json_t *cfx_consult_get(pl_pc_t *c, json_int_t kid)
{
    json_t *r =
        cfx_ok(pl_pc_callf(c, CFX_T, "{ss sI}", "type", "consult.get", "consultation_id", kid));
    json_t *k = json_incref(json_object_get(r, "consultation"));
    json_decref(r);
    return k;
}

/* Checks a person in a consultation event {user_id, role, display_name}; id 0: user_id must be
 * absent (a member of staff, to a patient or a guest). */
static inline void cfx_check_person(json_t *p, json_int_t id, const char *role, const char *name)
{
    assert_non_null(p);
    if (id)
        assert_int_equal(cfx_jint(p, "user_id"), id);
    else
        assert_null(json_object_get(p, "user_id"));
    assert_string_equal(cfx_jstr(p, "role"), role);
    assert_string_equal(cfx_jstr(p, "display_name"), name);
}

/* The next event frame of this type on c (others are skipped); *e gets its "event" object.
 * The caller decrefs the frame. */
static inline json_t *cfx_event(pl_pc_t *c, const char *type, json_t **e)
{
    json_t *ev = pl_pc_wait_event(c, type, CFX_T);
    if (!ev) print_error("no %s event\n", type);
    assert_non_null(ev);
    *e = json_object_get(ev, "event");
    return ev;
}

/* Whether c's replay of the whole stream (from cursor 0) has an event of this type whose key
 * (e.g. "conversation_id", "consultation_id") is value: how a test shows who may and may not
 * read an event. */
static inline bool cfx_replays(pl_pc_t *c, const char *type, const char *key, json_int_t value)
{
    json_t *evs = pl_pc_subscribe(c, 0, CFX_T);
    assert_non_null(evs);
    bool found = false;
    size_t i;
    json_t *f;
    json_array_foreach(evs, i, f)
    {
        json_t *e = json_object_get(f, "event");
        if (!strcmp(cfx_jstr(e, "type"), type) && cfx_jint(e, key) == value) found = true;
    }
    json_decref(evs);
    return found;
}

/* Opens the link (dob as cfx_join) and connects with the scoped session; asserts both worked.
 * device, if given, holds the parley_device cookie to send ("" for none) and gets the one the
 * server set. */
static inline pl_pc_t *cfx_join_and_connect(const pl_fixture_t *f, const char *token,
                                            const char *dob, char *device, size_t dcap)
{
    cfx_join_resp_t j;
    assert_int_equal(cfx_join(f, token, dob, device && device[0] ? device : NULL, &j), 200);
    if (device) snprintf(device, dcap, "%s", j.device);
    pl_pc_t *c = NULL;
    /* The cookie's value is the session token; a native client may present it as a Bearer. */
    assert_int_equal(pl_pc_connect(&c, f->port, j.session, NULL), 0);
    cfx_join_free(&j);
    return c;
}

static inline long long cfx_metric(const pl_fixture_t *f, const char *name)
{
    long long v = -1;
    assert_int_equal(cfx_metric_read(f, name, &v), 0);
    return v;
}

static inline int cfx_audit_count(const pl_fixture_t *f, const char *action,
                                  json_int_t consultation)
{
    int n = -1;
    assert_int_equal(cfx_audit_read(f, action, (int64_t)consultation, &n), 0);
    return n;
}

static inline int64_t cfx_db_int(const pl_fixture_t *f, const char *sql, int64_t arg)
{
    int64_t v = 0;
    assert_int_equal(cfx_db_read_int(f, sql, arg, &v), 0);
    return v;
}

/* Text of the first column of the first row (there must be one) into buf; returns buf. */
static inline const char *cfx_db_text(const pl_fixture_t *f, const char *sql, int64_t arg,
                                      char *buf, size_t cap)
{
    assert_int_equal(cfx_db_read_text(f, sql, arg, buf, cap), 0);
    return buf;
}

#endif
