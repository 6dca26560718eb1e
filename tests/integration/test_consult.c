/* Integration: video consultations against the real server binary over real HTTPS and WSS, on
 * the demo data. Dr Patel (Riverside Surgery) books for Ann Taylor (born 1948-03-12); Ann opens
 * the link with POST /api/v1/join and gets a session scoped to that consultation; the waiting
 * room, admission, the end and the events both sides see; refusals for wrong dates of birth,
 * other devices, expired and revoked links, other practices and malformed bodies. One server
 * for the group: every test books its own consultation. The address throttle test runs last. */
#include "tests/support/https.h"
#include "tests/support/pclient.h"

#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define T 5000
#define ANN_DOB "1948-03-12"
#define HOUR_MS (3600 * 1000LL)
#define NOT_VALID "this link is not valid: ask your practice for a new one"

static pl_fixture_t fx;
static int txn_counter;

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

static const char *txn(void)
{
    static char buf[32];
    snprintf(buf, sizeof buf, "c%d-%d", getpid(), ++txn_counter);
    return buf;
}

static pl_pc_t *open_as(const char *user)
{
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_open(&c, &fx, user), 0);
    return c;
}

static json_int_t uid(const char *user)
{
    return (json_int_t)pl_fixture_user_id(&fx, user);
}

static json_int_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static const char *jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    assert_non_null(v);
    return v;
}

/* A booked consultation: its id, conversation, and the token from the link's fragment. */
typedef struct {
    json_int_t id, conversation_id, expires_at;
    char token[64];
} booking_t;

static booking_t book_with(pl_pc_t *staff, json_t *req)
{
    json_object_set_new(req, "type", json_string("consult.book"));
    json_t *r = pl_pc_call(staff, req, T);
    assert_true(pl_pc_is_ok(r));
    booking_t b;
    memset(&b, 0, sizeof b);
    json_t *c = json_object_get(r, "consultation"), *link = json_object_get(r, "link");
    b.id = jint(c, "id");
    b.conversation_id = jint(c, "conversation_id");
    b.expires_at = jint(link, "expires_at");
    const char *path = jstr(link, "path");
    assert_int_equal(strncmp(path, "/join#", 6), 0);
    snprintf(b.token, sizeof b.token, "%s", path + 6);
    assert_int_equal(strlen(b.token), 43);
    json_decref(r);
    return b;
}

static booking_t book(pl_pc_t *staff)
{
    return book_with(staff, json_pack("{sI}", "patient_id", uid("ann.taylor")));
}

/* ---- POST /api/v1/join ---- */

typedef struct {
    int status;
    json_t *body;
    char session[64], device[64];             /* cookie values set, "" if none */
    char session_line[256], device_line[256]; /* whole Set-Cookie values */
    char retry_after[16];
} join_resp_t;

/* Finds the Set-Cookie header for cookie `name` in the raw header block. */
static void find_cookie(const char *headers, const char *name, char *value, size_t vcap, char *line,
                        size_t lcap)
{
    value[0] = line[0] = 0;
    size_t nl = strlen(name);
    for (const char *p = headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > 11 && strncasecmp(p, "set-cookie:", 11) == 0) {
            const char *v = p + 11;
            while (*v == ' ')
                v++;
            if (strncmp(v, name, nl) == 0 && v[nl] == '=') {
                size_t ll = len - (size_t)(v - p);
                snprintf(line, lcap, "%.*s", (int)ll, v);
                const char *val = v + nl + 1, *semi = strchr(val, ';');
                size_t vl = semi && semi < p + len ? (size_t)(semi - val) : ll - nl - 1;
                snprintf(value, vcap, "%.*s", (int)vl, val);
                return;
            }
        }
        p = eol ? eol + 2 : p + len;
    }
}

static int post_join_raw(const char *headers, const char *body, join_resp_t *out)
{
    memset(out, 0, sizeof *out);
    pl_http_resp_t r;
    int rc = pl_https_request("127.0.0.1", fx.port, "POST", "/api/v1/join", headers, body,
                              strlen(body), T, &r);
    assert_int_equal(rc, 0);
    out->status = r.status;
    out->body = json_loadb(r.body, r.body_len, 0, NULL);
    find_cookie(r.headers, "parley_session", out->session, sizeof out->session, out->session_line,
                sizeof out->session_line);
    find_cookie(r.headers, "parley_device", out->device, sizeof out->device, out->device_line,
                sizeof out->device_line);
    char *ra = pl_http_resp_header(&r, "retry-after");
    if (ra) snprintf(out->retry_after, sizeof out->retry_after, "%s", ra);
    free(ra);
    pl_http_resp_free(&r);
    return out->status;
}

/* Opens a link: device is the parley_device cookie to send (NULL: a device never seen). */
static int join(const char *token, const char *dob, const char *device, join_resp_t *out)
{
    char headers[256], body[256];
    int n = snprintf(headers, sizeof headers, "Content-Type: application/json\r\n");
    if (device)
        snprintf(headers + n, sizeof headers - (size_t)n, "Cookie: parley_device=%s\r\n", device);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"date_of_birth\":\"%s\"}", token, dob);
    return post_join_raw(headers, body, out);
}

static const char *join_err(const join_resp_t *j)
{
    return json_string_value(json_object_get(json_object_get(j->body, "error"), "code"));
}

static const char *join_msg(const join_resp_t *j)
{
    return json_string_value(json_object_get(json_object_get(j->body, "error"), "message"));
}

static void join_free(join_resp_t *j)
{
    json_decref(j->body);
    j->body = NULL;
}

/* Opens the link with the right date of birth and connects with the scoped session. */
static pl_pc_t *join_and_connect(const booking_t *b, char *device, size_t dcap)
{
    join_resp_t j;
    assert_int_equal(join(b->token, ANN_DOB, device && device[0] ? device : NULL, &j), 200);
    if (device) snprintf(device, dcap, "%s", j.device);
    pl_pc_t *c = NULL;
    /* The cookie's value is the session token; a native client may present it as a Bearer. */
    assert_int_equal(pl_pc_connect(&c, fx.port, j.session, NULL), 0);
    join_free(&j);
    return c;
}

static long long metric(const char *name)
{
    pl_http_resp_t r;
    assert_int_equal(
        pl_https_request("127.0.0.1", fx.port, "GET", "/metrics", NULL, NULL, 0, T, &r), 0);
    char key[96];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(r.body, key);
    assert_non_null(p);
    long long v = atoll(p + strlen(key));
    pl_http_resp_free(&r);
    return v;
}

static int audit_count(const char *action, json_int_t consultation)
{
    char path[320];
    snprintf(path, sizeof path, "%s/parley.db", fx.dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM audit WHERE action = ? AND "
                                        "resource_type = 'consultation' AND resource_id = ?",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, action, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, consultation);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* ---- tests ---- */

static void test_gp_books_for_ann_and_gets_a_link_with_the_token_in_the_fragment(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *ann = open_as("ann.taylor");
    json_decref(pl_pc_subscribe(gp, -1, T));
    json_decref(pl_pc_subscribe(ann, -1, T));
    long long before = (long long)time(NULL) * 1000;
    json_t *r =
        pl_pc_callf(gp, T, "{ss sI}", "type", "consult.book", "patient_id", uid("ann.taylor"));
    assert_true(pl_pc_is_ok(r));
    json_t *c = json_object_get(r, "consultation"), *link = json_object_get(r, "link");
    assert_string_equal(jstr(c, "status"), "booked");
    assert_int_equal(jint(c, "patient_id"), uid("ann.taylor"));
    assert_int_equal(jint(json_object_get(c, "clinician"), "id"), uid("dr.patel"));
    assert_string_equal(jstr(json_object_get(c, "clinician"), "display_name"), "Dr Asha Patel");
    assert_true(json_is_null(json_object_get(c, "scheduled_at")));
    /* Unscheduled: the link lasts 24 hours. */
    json_int_t exp = jint(link, "expires_at");
    assert_true(exp >= before + 24 * HOUR_MS - 5000 && exp <= before + 24 * HOUR_MS + 60000);
    assert_int_equal(strncmp(jstr(link, "path"), "/join#", 6), 0);
    json_int_t id = jint(c, "id"), conv = jint(c, "conversation_id");
    json_decref(r);

    /* A new conversation of kind video holds it, in progress with no clock running. */
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "conversation.get", "conversation_id", conv);
    assert_true(pl_pc_is_ok(r));
    json_t *cv = json_object_get(r, "conversation");
    assert_string_equal(jstr(cv, "kind"), "video");
    assert_string_equal(jstr(cv, "subject"), "Video consultation");
    assert_string_equal(jstr(cv, "status"), "in_progress");
    assert_true(json_is_null(json_object_get(cv, "waiting_since")));
    json_decref(r);

    /* Both sides hear of it; the patient by name, without staff ids or who booked. */
    json_t *ev = pl_pc_wait_event(gp, "consult.booked", T);
    assert_non_null(ev);
    json_t *e = json_object_get(ev, "event");
    assert_int_equal(jint(e, "consultation_id"), id);
    assert_int_equal(jint(e, "conversation_id"), conv);
    assert_int_equal(jint(e, "by"), uid("dr.patel"));
    json_decref(ev);
    ev = pl_pc_wait_event(ann, "conversation.created", T);
    assert_non_null(ev);
    assert_string_equal(jstr(json_object_get(json_object_get(ev, "event"), "conversation"), "kind"),
                        "video");
    json_decref(ev);
    ev = pl_pc_wait_event(ann, "consult.booked", T);
    assert_non_null(ev);
    e = json_object_get(ev, "event");
    assert_null(json_object_get(e, "by"));
    json_t *ec = json_object_get(e, "consultation");
    assert_string_equal(jstr(json_object_get(ec, "clinician"), "display_name"), "Dr Asha Patel");
    assert_null(json_object_get(json_object_get(ec, "clinician"), "id"));
    json_decref(ev);

    /* Scheduled: the link lasts until 12 hours after the appointment. */
    json_int_t when = before + 3 * HOUR_MS;
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.book", "patient_id", uid("ann.taylor"),
                    "scheduled_at", when);
    assert_true(pl_pc_is_ok(r));
    assert_int_equal(jint(json_object_get(r, "link"), "expires_at"), when + 12 * HOUR_MS);
    assert_int_equal(jint(json_object_get(r, "consultation"), "scheduled_at"), when);
    json_decref(r);

    /* Staff reads are audited. */
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.get", "consultation_id", id);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    assert_int_equal(audit_count("consult.book", id), 1);
    assert_int_equal(audit_count("consult.read", id), 1);
    pl_pc_destroy(gp);
    pl_pc_destroy(ann);
}

static void test_right_date_of_birth_opens_a_session_scoped_to_the_consultation(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *ann = open_as("ann.taylor");
    booking_t b = book(gp);
    /* Another conversation of Ann's, which the scoped session must not reach. */
    json_t *r = pl_pc_callf(ann, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                            txn(), "kind", "admin", "subject", "Sick note", "body", "Please");
    assert_true(pl_pc_is_ok(r));
    json_int_t other_conv = jint(json_object_get(r, "conversation"), "id");
    json_decref(r);
    booking_t other = book(gp);

    long long failures = metric("parley_join_failures_total");
    join_resp_t j;
    assert_int_equal(join(b.token, "1948-03-13", NULL, &j), 401);
    assert_string_equal(join_err(&j), "unauthorised");
    assert_null(json_object_get(j.body, "consultation")); /* nothing before the check passes */
    assert_string_equal(j.session, "");
    join_free(&j);
    assert_int_equal(metric("parley_join_failures_total"), failures + 1);

    assert_int_equal(join(b.token, ANN_DOB, NULL, &j), 200);
    assert_int_equal(jint(json_object_get(j.body, "consultation"), "id"), b.id);
    assert_null(json_object_get(
        json_object_get(json_object_get(j.body, "consultation"), "clinician"), "id"));
    assert_string_equal(jstr(json_object_get(j.body, "user"), "display_name"), "Ann Taylor");
    assert_true(jint(j.body, "expires_at") > 0);
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
    join_free(&j);
    assert_int_equal(audit_count("consult.join", b.id), 1);

    r = pl_pc_callf(p, T, "{ss}", "type", "session.info");
    assert_true(pl_pc_is_ok(r));
    assert_int_equal(jint(r, "consultation_id"), b.id);
    json_decref(r);
    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    assert_string_equal(jstr(json_object_get(r, "consultation"), "status"), "waiting");
    json_decref(r);
    /* The consultation's own conversation: read, write. */
    r = pl_pc_callf(p, T, "{ss sI}", "type", "conversation.get", "conversation_id",
                    b.conversation_id);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(p, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id",
                    b.conversation_id, "txn_id", txn(), "body", "I am in the waiting room");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    /* Everything else is out of reach. */
    const char *refused_types[] = {"conversation.list", "consult.list", "totp.enrol"};
    for (int i = 0; i < 3; i++) {
        r = pl_pc_callf(p, T, "{ss}", "type", refused_types[i]);
        assert_true(pl_pc_is_error(r, "forbidden"));
        json_decref(r);
    }
    r = pl_pc_callf(p, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id", txn(),
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
        assert_int_equal(jint(json_object_get(ev, "event"), "conversation_id"), b.conversation_id);
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
    pl_pc_t *gp = open_as("dr.patel");
    booking_t b = book(gp);
    join_resp_t j;
    assert_int_equal(join(b.token, ANN_DOB, NULL, &j), 200);
    char device[64];
    snprintf(device, sizeof device, "%s", j.device);
    join_free(&j);

    long long failures = metric("parley_join_failures_total");
    long long other = metric("parley_join_other_device_total");
    /* Another device, even with the right date of birth. */
    assert_int_equal(join(b.token, ANN_DOB, NULL, &j), 409);
    assert_string_equal(join_err(&j), "conflict");
    assert_string_equal(join_msg(&j), "this link has already been used on another device: ask "
                                      "your practice for a new one");
    assert_string_equal(j.session, "");
    join_free(&j);
    assert_int_equal(join(b.token, ANN_DOB, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &j),
                     409);
    join_free(&j);
    assert_int_equal(metric("parley_join_other_device_total"), other + 2);
    assert_int_equal(metric("parley_join_failures_total"), failures + 2);

    /* The same device again: a fresh scoped session; it still has to give the date of birth. */
    assert_int_equal(join(b.token, "1948-12-03", device, &j), 401);
    join_free(&j);
    assert_int_equal(join(b.token, ANN_DOB, device, &j), 200);
    assert_string_equal(j.device, device);
    assert_int_equal(jint(json_object_get(j.body, "consultation"), "id"), b.id);
    join_free(&j);

    /* The same browser opening a second consultation's link keeps its one device cookie. */
    booking_t b2 = book(gp);
    assert_int_equal(join(b2.token, ANN_DOB, device, &j), 200);
    assert_string_equal(j.device, device);
    join_free(&j);
    pl_pc_destroy(gp);
}

static void test_expired_revoked_and_unknown_links_look_the_same(void **s)
{
    pl_pc_t *gp = open_as("dr.patel");
    /* Scheduled 13 hours ago: its link expired an hour ago. */
    json_int_t past = (json_int_t)time(NULL) * 1000 - 13 * HOUR_MS;
    booking_t b =
        book_with(gp, json_pack("{sI sI}", "patient_id", uid("ann.taylor"), "scheduled_at", past));
    assert_true(b.expires_at < (json_int_t)time(NULL) * 1000);
    join_resp_t j;
    assert_int_equal(join(b.token, ANN_DOB, NULL, &j), 404);
    assert_string_equal(join_err(&j), "not_found");
    assert_string_equal(join_msg(&j), NOT_VALID);
    join_free(&j);
    assert_int_equal(join("unknownunknownunknownunknownunknownunknown1", ANN_DOB, NULL, &j), 404);
    assert_string_equal(join_msg(&j), NOT_VALID);
    join_free(&j);

    /* consult.link revokes the old link and issues a new one (for re-sending). */
    booking_t live = book(gp);
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.link", "consultation_id", live.id);
    assert_true(pl_pc_is_ok(r));
    const char *path = jstr(json_object_get(r, "link"), "path");
    char fresh[64];
    snprintf(fresh, sizeof fresh, "%s", path + 6);
    assert_string_not_equal(fresh, live.token);
    json_decref(r);
    assert_int_equal(join(live.token, ANN_DOB, NULL, &j), 404);
    assert_string_equal(join_msg(&j), NOT_VALID);
    join_free(&j);
    assert_int_equal(join(fresh, ANN_DOB, NULL, &j), 200);
    join_free(&j);
    assert_int_equal(audit_count("consult.link", live.id), 1);
    pl_pc_destroy(gp);
}

static void test_five_wrong_dates_of_birth_lock_the_link(void **s)
{
    pl_pc_t *gp = open_as("dr.patel");
    booking_t b = book(gp);
    join_resp_t j;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(join(b.token, "1950-01-01", NULL, &j), 401);
        join_free(&j);
    }
    assert_int_equal(join(b.token, "1950-01-01", NULL, &j), 403);
    assert_string_equal(join_err(&j), "forbidden");
    join_free(&j);
    /* Locked: even the right date of birth is refused. */
    assert_int_equal(join(b.token, ANN_DOB, NULL, &j), 403);
    assert_string_equal(j.session, "");
    join_free(&j);
    /* A new link from the practice works. */
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.link", "consultation_id", b.id);
    char fresh[64];
    snprintf(fresh, sizeof fresh, "%s", jstr(json_object_get(r, "link"), "path") + 6);
    json_decref(r);
    assert_int_equal(join(fresh, ANN_DOB, NULL, &j), 200);
    join_free(&j);
    pl_pc_destroy(gp);
}

static void test_waiting_room_admission_and_end_reach_both_sides(void **s)
{
    pl_pc_t *gp = open_as("dr.patel");
    booking_t b = book(gp);
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.admit", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "conflict")); /* nobody is waiting yet */
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.end", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "conflict")); /* not started: cancel, not end */
    json_decref(r);
    json_decref(pl_pc_subscribe(gp, -1, T));
    char device[64] = "";
    pl_pc_t *p = join_and_connect(&b, device, sizeof device);
    json_decref(pl_pc_subscribe(p, -1, T));

    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    json_t *ev = pl_pc_wait_event(gp, "consult.waiting", T);
    assert_non_null(ev);
    json_t *e = json_object_get(ev, "event");
    assert_int_equal(jint(e, "consultation_id"), b.id);
    assert_string_equal(jstr(e, "status"), "waiting");
    json_t *who = json_object_get(e, "participant");
    assert_int_equal(jint(who, "user_id"), uid("ann.taylor"));
    assert_string_equal(jstr(who, "role"), "patient");
    assert_string_equal(jstr(who, "display_name"), "Ann Taylor");
    assert_true(jint(e, "at") > 0);
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
    assert_string_equal(jstr(json_object_get(r, "consultation"), "status"), "in_call");
    json_decref(r);
    ev = pl_pc_wait_event(p, "consult.admitted", T);
    assert_non_null(ev);
    e = json_object_get(ev, "event");
    assert_string_equal(jstr(e, "status"), "in_call");
    assert_true(jint(e, "started_at") > 0);
    assert_null(json_object_get(e, "by"));
    json_decref(ev);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.admit", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "conflict"));
    json_decref(r);
    /* Back after a dropped connection: the reply says the call is on. */
    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    assert_string_equal(jstr(json_object_get(r, "consultation"), "status"), "in_call");
    json_decref(r);

    sleep(1);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.end", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    json_t *c = json_object_get(r, "consultation");
    assert_string_equal(jstr(c, "status"), "ended");
    assert_true(jint(c, "duration_seconds") >= 1);
    json_decref(r);
    ev = pl_pc_wait_event(p, "consult.ended", T);
    assert_non_null(ev);
    e = json_object_get(ev, "event");
    assert_string_equal(jstr(e, "status"), "ended");
    json_int_t started = jint(e, "started_at"), ended = jint(e, "ended_at");
    assert_int_equal(jint(e, "duration_seconds"), (ended - started) / 1000);
    assert_true(jint(e, "duration_seconds") >= 1);
    json_t *people = json_object_get(e, "participants");
    assert_int_equal(json_array_size(people), 2);
    assert_string_equal(jstr(json_array_get(people, 1), "display_name"), "Dr Asha Patel");
    assert_null(json_object_get(json_array_get(people, 1), "user_id")); /* staff id: not for her */
    assert_null(json_object_get(e, "by"));
    json_decref(ev);
    ev = pl_pc_wait_event(gp, "consult.ended", T);
    assert_non_null(ev);
    e = json_object_get(ev, "event");
    assert_int_equal(jint(e, "by"), uid("dr.patel"));
    assert_int_equal(jint(json_array_get(json_object_get(e, "participants"), 1), "user_id"),
                     uid("dr.patel"));
    json_decref(ev);

    /* Over: the link opens nothing, waiting is refused. */
    r = pl_pc_callf(p, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "conflict"));
    json_decref(r);
    join_resp_t j;
    assert_int_equal(join(b.token, ANN_DOB, device, &j), 404);
    join_free(&j);
    assert_int_equal(audit_count("consult.admit", b.id), 1);
    assert_int_equal(audit_count("consult.end", b.id), 1);
    pl_pc_destroy(p);
    pl_pc_destroy(gp);
}

static void test_other_practices_and_patients_are_kept_out(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *hughes = open_as("dr.hughes");
    pl_pc_t *cara = open_as("cara.evans"), *ann = open_as("ann.taylor");
    booking_t b = book(gp);
    const char *staff_types[] = {"consult.get", "consult.admit", "consult.end", "consult.link",
                                 "consult.cancel"};
    for (int i = 0; i < 5; i++) {
        json_t *r =
            pl_pc_callf(hughes, T, "{ss sI}", "type", staff_types[i], "consultation_id", b.id);
        assert_true(pl_pc_is_error(r, "forbidden"));
        json_decref(r);
    }
    json_t *r = pl_pc_callf(hughes, T, "{ss sI sI}", "type", "consult.invite", "consultation_id",
                            b.id, "user_id", uid("dr.hughes"));
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    /* Booking for another practice's patient: as patient.lookup, no such patient. */
    r = pl_pc_callf(hughes, T, "{ss sI}", "type", "consult.book", "patient_id", uid("ann.taylor"));
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.book", "patient_id", uid("nurse.okafor"));
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    r = pl_pc_callf(hughes, T, "{ss}", "type", "consult.list");
    assert_true(pl_pc_is_ok(r));
    json_t *list = json_object_get(r, "consultations"), *c;
    size_t i;
    json_array_foreach(list, i, c) assert_int_not_equal(jint(c, "id"), b.id);
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
    json_array_foreach(json_object_get(r, "consultations"), i, c) found |= jint(c, "id") == b.id;
    assert_true(found);
    json_decref(r);
    const char *staff_only[] = {"consult.admit", "consult.end", "consult.link", "consult.cancel"};
    for (int k = 0; k < 4; k++) {
        r = pl_pc_callf(ann, T, "{ss sI}", "type", staff_only[k], "consultation_id", b.id);
        assert_true(pl_pc_is_error(r, "forbidden"));
        json_decref(r);
    }
    r = pl_pc_callf(ann, T, "{ss sI}", "type", "consult.book", "patient_id", uid("ann.taylor"));
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
    pl_pc_t *gp = open_as("dr.patel"), *ann = open_as("ann.taylor");
    json_t *r = pl_pc_callf(ann, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                            txn(), "kind", "clinical", "subject", "Rash", "body", "Itchy rash");
    assert_true(pl_pc_is_ok(r));
    json_int_t conv = jint(json_object_get(r, "conversation"), "id");
    json_decref(r);
    booking_t b = book_with(
        gp, json_pack("{sI sI}", "patient_id", uid("ann.taylor"), "conversation_id", conv));
    assert_int_equal(b.conversation_id, conv);
    /* Someone else's conversation cannot hold Ann's consultation. */
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.book", "patient_id", uid("robert.green"),
                    "conversation_id", conv);
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);

    json_decref(pl_pc_subscribe(gp, -1, T));
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.invite", "consultation_id", b.id,
                    "user_id", uid("nurse.okafor"));
    assert_true(pl_pc_is_ok(r));
    json_t *inv = json_object_get(json_object_get(r, "consultation"), "invited");
    assert_int_equal(json_array_size(inv), 1);
    assert_int_equal(jint(json_array_get(inv, 0), "id"), uid("nurse.okafor"));
    json_decref(r);
    json_t *ev = pl_pc_wait_event(gp, "consult.invited", T);
    assert_non_null(ev);
    assert_string_equal(
        jstr(json_object_get(json_object_get(ev, "event"), "participant"), "display_name"),
        "Grace Okafor");
    json_decref(ev);
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.invite", "consultation_id", b.id,
                    "user_id", uid("reception.jones"));
    assert_true(pl_pc_is_error(r, "conflict")); /* three places in the call */
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.invite", "consultation_id", b.id,
                    "user_id", uid("dr.hughes"));
    assert_true(pl_pc_is_error(r, "bad_request")); /* not of this practice */
    json_decref(r);

    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.cancel", "consultation_id", b.id);
    assert_true(pl_pc_is_ok(r));
    assert_string_equal(jstr(json_object_get(r, "consultation"), "status"), "cancelled");
    json_decref(r);
    ev = pl_pc_wait_event(gp, "consult.cancelled", T);
    assert_non_null(ev);
    json_decref(ev);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.cancel", "consultation_id", b.id);
    assert_true(pl_pc_is_error(r, "conflict"));
    json_decref(r);
    join_resp_t j;
    assert_int_equal(join(b.token, ANN_DOB, NULL, &j), 404);
    join_free(&j);

    /* A closed conversation cannot take a consultation: the patient could not chat in it. */
    r = pl_pc_callf(gp, T, "{ss sI ss}", "type", "conversation.set_status", "conversation_id", conv,
                    "status", "closed");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.book", "patient_id", uid("ann.taylor"),
                    "conversation_id", conv);
    assert_true(pl_pc_is_error(r, "conflict"));
    json_decref(r);
    pl_pc_destroy(gp);
    pl_pc_destroy(ann);
}

static void test_malformed_requests_are_bad_requests_and_count_nothing(void **s)
{
    pl_pc_t *gp = open_as("dr.patel");
    booking_t b = book(gp);
    long long failures = metric("parley_join_failures_total");
    const char *json_ct = "Content-Type: application/json\r\n";
    char body[256];
    const char *bodies[] = {
        "{\"date_of_birth\":\"" ANN_DOB "\"}", /* no token */
        "not json at all",                     /* not JSON */
        "[1,2]",                               /* not an object */
        "",                                    /* empty: {} */
        "{\"token\":\"short\",\"date_of_birth\":\"" ANN_DOB "\"}",
        "{\"token\":7,\"date_of_birth\":\"" ANN_DOB "\"}",
    };
    join_resp_t j;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        assert_int_equal(post_join_raw(json_ct, bodies[i], &j), 400);
        assert_string_equal(join_err(&j), "bad_request");
        join_free(&j);
    }
    const char *dates[] = {"12/03/1948", "1948-3-12", "1948-02-30", "1948-13-01", "", "19480312x"};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        snprintf(body, sizeof body, "{\"token\":\"%s\",\"date_of_birth\":\"%s\"}", b.token,
                 dates[i]);
        assert_int_equal(post_join_raw(json_ct, body, &j), 400);
        assert_string_equal(join_err(&j), "bad_request");
        join_free(&j);
    }
    snprintf(body, sizeof body, "{\"token\":\"%s\"}", b.token);
    assert_int_equal(post_join_raw(json_ct, body, &j), 400);
    join_free(&j);
    /* The same-site rule, as for login: decided from the headers, before the body. */
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"date_of_birth\":\"%s\"}", b.token, ANN_DOB);
    assert_int_equal(post_join_raw("Content-Type: text/plain\r\n", body, &j), 403);
    assert_string_equal(j.session, "");
    join_free(&j);
    assert_int_equal(
        post_join_raw("Content-Type: application/json\r\nOrigin: https://evil.example\r\n", body,
                      &j),
        403);
    join_free(&j);
    assert_int_equal(metric("parley_join_failures_total"), failures);
    /* None of that used the link up. */
    assert_int_equal(join(b.token, ANN_DOB, NULL, &j), 200);
    join_free(&j);

    /* WebSocket side. */
    json_t *r = pl_pc_callf(gp, T, "{ss}", "type", "consult.book");
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.book", "patient_id", uid("ann.taylor"),
                    "scheduled_at", (json_int_t)time(NULL) * 1000 + 400LL * 24 * HOUR_MS);
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
    pl_pc_t *gp = open_as("dr.patel");
    join_resp_t j;
    int status = 0, attempts = 0;
    booking_t b = book(gp);
    for (; attempts < 40 && status != 429; attempts++) {
        if (attempts % 4 == 3) b = book(gp); /* never lock a link: only the address counts */
        status = join(b.token, "1901-01-01", NULL, &j);
        if (status == 429) {
            assert_string_equal(join_err(&j), "rate_limited");
            assert_true(atoi(j.retry_after) >= 1);
        } else {
            assert_int_equal(status, 401);
        }
        join_free(&j);
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
