/* Integration: what the audit trail records (signalling/ws.c pl_req_audit and the refusals,
 * signalling/auth.c sign-in and sign-out) and who may read it (signalling/audit_view.c:
 * audit.patient, audit.mine), on the real server. Every row has who (user, role, organisation),
 * what, the outcome, when and from where (IP, user agent); a refused request leaves a "denied"
 * row although its transaction was rolled back; the chain still verifies; and no column holds a
 * password, a session token, a username typed for an unknown account or an NHS number. */
#include "tests/support/https.h"
#include "tests/support/pclient.h"
#include "tests/support/rawdb.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define T 5000
#define UA "ParleyAuditTest/1.0 (integration)"

static pl_fixture_t fx;

static int setup(void **s)
{
    return pl_fixture_start(&fx, NULL);
}

static int teardown(void **s)
{
    pl_fixture_stop(&fx);
    return 0;
}

/* The server's database (SQLite or PostgreSQL, as the tests run), beside the server. */
static pl_db_t *db_open(void)
{
    pl_db_t *db = NULL;
    assert_int_equal(rawdb_open(&db, fx.dir), 0);
    return db;
}

static pl_dbs_t *db_prepare(pl_db_t *db, const char *sql)
{
    pl_dbs_t *s = NULL;
    if (pl_db_prepare(db, sql, &s) != PL_DB_OK) print_error("%s\n%s\n", pl_db_errmsg(db), sql);
    assert_non_null(s);
    return s;
}

/* Steps s: PL_DB_ROW or PL_DB_DONE, asserted (an error names the SQL engine's message). */
static int db_step(pl_db_t *db, pl_dbs_t *s)
{
    int rc = pl_dbs_step(s);
    if (rc != PL_DB_ROW && rc != PL_DB_DONE) print_error("%s\n", pl_db_errmsg(db));
    assert_true(rc == PL_DB_ROW || rc == PL_DB_DONE);
    return rc;
}

/* The first column of the first row of sql with ?1 = a (and ?2 = b if b is not NULL), as an
 * integer; -1 when there is no row. */
static long long db_int(const char *sql, const char *a, const char *b)
{
    pl_db_t *db = db_open();
    pl_dbs_t *s = db_prepare(db, sql);
    if (a) pl_dbs_bind_text(s, 1, a, -1);
    if (b) pl_dbs_bind_text(s, 2, b, -1);
    long long v = db_step(db, s) == PL_DB_ROW ? pl_dbs_int64(s, 0) : -1;
    pl_dbs_finalize(s);
    pl_db_close(db);
    return v;
}

/* A column of the newest audit row of action by actor, as text (sql text; "<null>" for NULL).
 * Caller frees. */
static char *newest(const char *column, const char *action, long long actor)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(CAST(%s AS TEXT), '<null>') FROM audit WHERE action = ?1 AND "
             "actor_id = %lld ORDER BY id DESC LIMIT 1",
             column, actor);
    pl_db_t *db = db_open();
    pl_dbs_t *s = db_prepare(db, sql);
    pl_dbs_bind_text(s, 1, action, -1);
    char *out = NULL;
    if (db_step(db, s) == PL_DB_ROW) out = strdup(pl_dbs_text(s, 0));
    pl_dbs_finalize(s);
    pl_db_close(db);
    return out;
}

/* A refusal's row is written by a job of its own after the answer: wait for it. */
static long long wait_count(const char *sql, const char *a)
{
    long long n = 0;
    for (int i = 0; i < 100 && (n = db_int(sql, a, NULL)) <= 0; i++) usleep(20000);
    return n;
}

static long long org_id(const char *name)
{
    return db_int("SELECT id FROM orgs WHERE name = ?1", name, NULL);
}

/* Logs in with a User-Agent header. Returns the HTTP status; the token on 200. */
static int login_ua(const char *user, const char *password, char *token, size_t cap)
{
    json_t *req = json_pack("{ss ss sb}", "username", user, "password", password, "want_token", 1);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    pl_http_resp_t resp;
    int rc = pl_https_request("127.0.0.1", fx.port, "POST", "/api/v1/login",
                              "Content-Type: application/json\r\nUser-Agent: " UA "\r\n", body,
                              strlen(body), 10000, &resp);
    free(body);
    assert_int_equal(rc, 0);
    int status = resp.status;
    if (status == 200 && token) {
        json_t *j = json_loadb(resp.body, resp.body_len, 0, NULL);
        snprintf(token, cap, "%s", json_string_value(json_object_get(j, "token")));
        json_decref(j);
    }
    pl_http_resp_free(&resp);
    return status;
}

/* A WebSocket whose upgrade carries a User-Agent (pclient sends none): connects, waits for
 * session.ready. */
static pl_wsc_t *ws_with_ua(const char *user)
{
    char token[128], hdr[400];
    assert_int_equal(login_ua(user, pl_fixture_password(&fx, user), token, sizeof token), 200);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\nUser-Agent: " UA "\r\n", token);
    pl_wsc_t *ws = NULL;
    int status = 0;
    assert_int_equal(pl_wsc_connect(&ws, "127.0.0.1", fx.port, "/", hdr, 10000, &status), 0);
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(pl_wsc_recv(ws, T, &msg, &len), 0);
    assert_non_null(strstr(msg, "session.ready"));
    free(msg);
    return ws;
}

/* Sends one request on a bare WebSocket and returns its reply (pushes skipped). */
static json_t *ws_call(pl_wsc_t *ws, json_t *req)
{
    static int n;
    char id[16];
    snprintf(id, sizeof id, "w%d", ++n);
    json_object_set_new(req, "id", json_string(id));
    char *txt = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    assert_int_equal(pl_wsc_send_text(ws, txt, strlen(txt)), 0);
    free(txt);
    for (;;) {
        char *msg = NULL;
        size_t len = 0;
        assert_int_equal(pl_wsc_recv(ws, T, &msg, &len), 0);
        json_t *j = json_loadb(msg, len, 0, NULL);
        free(msg);
        if (j && !strcmp(json_string_value(json_object_get(j, "id")) ?: "", id)) return j;
        json_decref(j);
    }
}

static json_int_t create_request(pl_wsc_t *ann)
{
    static int n;
    char txn[32];
    snprintf(txn, sizeof txn, "audit-%d-%ld", ++n, (long)time(NULL));
    json_t *r = ws_call(ann, json_pack("{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                                       txn, "kind", "clinical", "subject", "Rash on my arm",
                                       "body", "It has been itchy for a week."));
    assert_true(pl_pc_is_ok(r));
    json_int_t id = json_integer_value(json_object_get(json_object_get(r, "conversation"), "id"));
    json_decref(r);
    return id;
}

static void test_requests_are_audited_with_role_organisation_and_user_agent(void **s)
{
    long long ann = pl_fixture_user_id(&fx, "ann.taylor");
    long long patel = pl_fixture_user_id(&fx, "dr.patel");
    pl_wsc_t *ws = ws_with_ua("ann.taylor");
    json_int_t conv = create_request(ws);
    pl_wsc_destroy(ws);

    /* The patient's new request: as "patient", for no organisation, from her browser. */
    char *v = newest("role", "conversation.create", ann);
    assert_string_equal(v, "patient");
    free(v);
    v = newest("org_id", "conversation.create", ann);
    assert_string_equal(v, "<null>");
    free(v);
    v = newest("user_agent", "conversation.create", ann);
    assert_string_equal(v, UA);
    free(v);
    v = newest("patient_id", "conversation.create", ann);
    assert_int_equal(atoll(v), ann);
    free(v);

    /* A GP reading it: as "gp", for Riverside Surgery, from where. */
    pl_pc_t *gp = NULL;
    assert_int_equal(pl_pc_open(&gp, &fx, "dr.patel"), 0);
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "conversation.get", "conversation_id", conv);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    pl_pc_destroy(gp);
    v = newest("role", "conversation.read", patel);
    assert_string_equal(v, "gp");
    free(v);
    v = newest("org_id", "conversation.read", patel);
    assert_int_equal(atoll(v), org_id("Riverside Surgery"));
    free(v);
    v = newest("outcome || ' ' || ip || ' ' || resource_type || ' ' || resource_id",
               "conversation.read", patel);
    char want[80];
    snprintf(want, sizeof want, "ok 127.0.0.1 conversation %lld", (long long)conv);
    assert_string_equal(v, want);
    free(v);
    /* The sign-ins too, with their user agent, as what the person is. */
    v = newest("role || ' ' || outcome || ' ' || user_agent", "session.login", ann);
    assert_string_equal(v, "patient ok " UA);
    free(v);
}

static void test_a_refusal_is_audited_as_denied_and_the_chain_still_verifies(void **s)
{
    long long robert = pl_fixture_user_id(&fx, "robert.green");
    long long ann = pl_fixture_user_id(&fx, "ann.taylor");
    pl_wsc_t *ws = ws_with_ua("ann.taylor");
    json_int_t conv = create_request(ws);
    pl_wsc_destroy(ws);

    /* Another patient asks for Ann's request: refused, and the refusal is on Ann's trail. */
    pl_pc_t *rob = NULL;
    assert_int_equal(pl_pc_open(&rob, &fx, "robert.green"), 0);
    json_t *r = pl_pc_callf(rob, T, "{ss sI}", "type", "conversation.get", "conversation_id", conv);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    pl_pc_destroy(rob);
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit WHERE action = 'conversation.get' AND outcome = 'denied' "
             "AND actor_id = %lld AND resource_type = 'conversation' AND resource_id = %lld AND "
             "patient_id = %lld AND role = 'patient'",
             robert, (long long)conv, ann);
    assert_int_equal(wait_count(sql, NULL), 1);

    /* A GP asking for the trail (an admin's): refused, named as the patient it was about. */
    pl_pc_t *gp = NULL;
    assert_int_equal(pl_pc_open(&gp, &fx, "dr.patel"), 0);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "audit.patient", "patient_id", (json_int_t)ann);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    pl_pc_destroy(gp);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit WHERE action = 'audit.patient' AND outcome = 'denied' "
             "AND resource_type = 'patient' AND resource_id = %lld AND patient_id = %lld AND "
             "role = 'gp' AND org_id IS NOT NULL",
             ann, ann);
    assert_int_equal(wait_count(sql, NULL), 1);

    const char *args[] = {"audit", "verify", "--data-dir", fx.dir, NULL};
    char *out = NULL;
    assert_int_equal(pl_test_run_cli(&out, args), 0);
    assert_non_null(strstr(out, "audit trail intact"));
    free(out);
}

/* Whether any text column of any audit row contains needle. */
static bool trail_contains(const char *needle)
{
    /* Searched here rather than in SQL: SQLite's instr and PostgreSQL's strpos differ. */
    int64_t n = -1;
    assert_int_equal(rawdb_count_containing(fx.dir,
                                            "SELECT coalesce(role,'') || '|' || action || '|' || "
                                            "resource_type || '|' || outcome || '|' || "
                                            "coalesce(ip,'') || '|' || coalesce(user_agent,'') || "
                                            "'|' || coalesce(request_id,'') FROM audit",
                                            needle, strlen(needle), &n),
                     0);
    return n > 0;
}

static void test_sign_ins_are_audited_and_the_trail_holds_no_secrets(void **s)
{
    long long ann = pl_fixture_user_id(&fx, "ann.taylor");
    char token[128];
    assert_int_equal(login_ua("ann.taylor", "not-her-password", NULL, 0), 401);
    assert_int_equal(login_ua("nobody.here", "whatever-it-is", NULL, 0), 401);
    assert_int_equal(login_ua("ann.taylor", pl_fixture_password(&fx, "ann.taylor"), token,
                              sizeof token),
                     200);
    /* A refused sign-in for her account is hers; one for no account is nobody's. */
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit WHERE action = 'session.login' AND outcome = 'failed' "
             "AND actor_id = %lld AND user_agent = '" UA "'",
             ann);
    assert_int_equal(db_int(sql, NULL, NULL), 1);
    assert_int_equal(db_int("SELECT count(*) FROM audit WHERE action = 'session.login' AND "
                            "outcome = 'failed' AND actor_id = 0 AND resource_id = 0 AND "
                            "role IS NULL AND org_id IS NULL",
                            NULL, NULL),
                     1);
    /* Sign-out. */
    char hdr[300];
    snprintf(hdr, sizeof hdr,
             "Content-Type: application/json\r\nAuthorization: Bearer %s\r\nUser-Agent: " UA
             "\r\n",
             token);
    pl_http_resp_t resp;
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "POST", "/api/v1/logout", hdr, "{}", 2,
                                      10000, &resp),
                     0);
    assert_int_equal(resp.status, 204);
    pl_http_resp_free(&resp);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit WHERE action = 'session.logout' AND actor_id = %lld AND "
             "role = 'patient' AND user_agent = '" UA "'",
             ann);
    assert_int_equal(db_int(sql, NULL, NULL), 1);

    /* More activity: a request, a GP reading it. */
    pl_wsc_t *ws = ws_with_ua("ann.taylor");
    json_int_t conv = create_request(ws);
    pl_wsc_destroy(ws);
    pl_pc_t *gp = NULL;
    assert_int_equal(pl_pc_open(&gp, &fx, "dr.patel"), 0);
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "conversation.get", "conversation_id", conv);
    json_decref(r);
    pl_pc_destroy(gp);

    /* No password, token, typed username of an unknown account, or NHS number anywhere. */
    assert_false(trail_contains("not-her-password"));
    assert_false(trail_contains("whatever-it-is"));
    assert_false(trail_contains("nobody.here"));
    assert_false(trail_contains(token));
    size_t i;
    json_t *l;
    json_array_foreach(fx.logins, i, l)
    {
        const char *pw = json_string_value(json_object_get(l, "password"));
        if (pw && strlen(pw) >= 6) assert_false(trail_contains(pw));
    }
    pl_db_t *db = db_open();
    pl_dbs_t *st = db_prepare(db, "SELECT nhs_number FROM patients");
    int n = 0;
    while (db_step(db, st) == PL_DB_ROW) {
        assert_false(trail_contains(pl_dbs_text(st, 0)));
        n++;
    }
    pl_dbs_finalize(st);
    pl_db_close(db);
    assert_true(n > 0);
}

static void test_an_admin_sees_who_accessed_a_patient_and_the_patient_sees_organisations(void **s)
{
    long long ann = pl_fixture_user_id(&fx, "ann.taylor");
    long long patel = pl_fixture_user_id(&fx, "dr.patel");
    pl_wsc_t *ws = ws_with_ua("ann.taylor");
    json_int_t conv = create_request(ws);
    pl_pc_t *gp = NULL;
    assert_int_equal(pl_pc_open(&gp, &fx, "dr.patel"), 0);
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "conversation.get", "conversation_id", conv);
    json_decref(r);
    pl_pc_destroy(gp);

    pl_pc_t *admin = NULL;
    assert_int_equal(pl_pc_open(&admin, &fx, "admin.smith"), 0);
    r = pl_pc_callf(admin, T, "{ss sI}", "type", "audit.patient", "patient_id", (json_int_t)ann);
    assert_true(pl_pc_is_ok(r));
    json_t *recs = json_object_get(r, "records");
    assert_true(json_array_size(recs) >= 2);
    /* Newest first; Dr Patel's read is the newest. */
    json_t *first = json_array_get(recs, 0);
    assert_string_equal(json_string_value(json_object_get(first, "action")), "conversation.read");
    json_t *who = json_object_get(first, "who");
    assert_int_equal(json_integer_value(json_object_get(who, "user_id")), patel);
    assert_string_equal(json_string_value(json_object_get(who, "display_name")), "Dr Asha Patel");
    assert_string_equal(json_string_value(json_object_get(first, "role")), "gp");
    assert_string_equal(json_string_value(json_object_get(json_object_get(first, "organisation"),
                                                          "name")),
                        "Riverside Surgery");
    assert_string_equal(json_string_value(json_object_get(first, "outcome")), "ok");
    assert_string_equal(json_string_value(json_object_get(first, "ip")), "127.0.0.1");
    json_int_t prev = json_integer_value(json_object_get(first, "id"));
    for (size_t i = 1; i < json_array_size(recs); i++) {
        json_int_t id = json_integer_value(json_object_get(json_array_get(recs, i), "id"));
        assert_true(id < prev);
        prev = id;
    }
    json_decref(r);
    /* Paged. */
    r = pl_pc_callf(admin, T, "{ss sI si}", "type", "audit.patient", "patient_id", (json_int_t)ann,
                    "limit", 1);
    assert_int_equal(json_array_size(json_object_get(r, "records")), 1);
    json_int_t next = json_integer_value(json_object_get(r, "next_before_id"));
    assert_true(next > 0);
    json_decref(r);
    r = pl_pc_callf(admin, T, "{ss sI si sI}", "type", "audit.patient", "patient_id",
                    (json_int_t)ann, "limit", 1, "before_id", next);
    assert_true(json_integer_value(json_object_get(json_array_get(json_object_get(r, "records"), 0),
                                                   "id")) < next);
    json_decref(r);
    /* Not a patient, bad input, and a patient's own view is not an admin's. */
    r = pl_pc_callf(admin, T, "{ss sI}", "type", "audit.patient", "patient_id", (json_int_t)patel);
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    r = pl_pc_callf(admin, T, "{ss ss}", "type", "audit.patient", "patient_id", "x");
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    r = pl_pc_callf(admin, T, "{ss}", "type", "audit.mine");
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    pl_pc_destroy(admin);

    /* Ann sees organisations, not people. */
    r = ws_call(ws, json_pack("{ss}", "type", "audit.mine"));
    assert_true(pl_pc_is_ok(r));
    json_t *orgs = json_object_get(r, "organisations");
    bool riverside = false;
    size_t i;
    json_t *o;
    json_array_foreach(orgs, i, o)
    {
        json_t *org = json_object_get(o, "organisation");
        if (json_is_object(org) &&
            !strcmp(json_string_value(json_object_get(org, "name")), "Riverside Surgery")) {
            riverside = true;
            assert_true(json_is_true(json_object_get(o, "own_practice")));
            assert_true(json_integer_value(json_object_get(o, "count")) >= 1);
        }
    }
    assert_true(riverside);
    char *txt = json_dumps(r, 0);
    assert_null(strstr(txt, "Patel"));
    free(txt);
    json_decref(r);
    /* ...and not another patient's trail. */
    r = ws_call(ws, json_pack("{ss sI}", "type", "audit.patient", "patient_id", (json_int_t)ann));
    assert_true(pl_pc_is_error(r, "not_found") || pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    pl_wsc_destroy(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_requests_are_audited_with_role_organisation_and_user_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_refusal_is_audited_as_denied_and_the_chain_still_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sign_ins_are_audited_and_the_trail_holds_no_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_an_admin_sees_who_accessed_a_patient_and_the_patient_sees_organisations, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
