/* Integration: a guest in a video consultation (an interpreter or a carer from outside the
 * practice) and the guest's link, against the real server binary over real HTTPS and WSS, on the
 * demo data: Dr Patel (Riverside Surgery) books for Ann Taylor and invites a guest with
 * consult.invite. Checked: the invitation and its validation; the guest's users row that can
 * never sign in; the guest link (/guest#), opened without a date of birth and bound to the first
 * device; a patient's link sent without one; re-issuing and revoking links; a guest taken off the
 * consultation; the audit. What a guest's session may send, its events, and waiting and
 * admission are in test_consult_guest_session.c; the guest in a three-person call, with media,
 * is in test_call.c. The fixture is tests/support/guest_fx.h.
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
#define HOUR_MS (3600 * 1000LL)
#define NOT_VALID "this link is not valid: ask your practice for a new one"
#define OTHER_DEVICE                                                                               \
    "this link has already been used on another device: ask your practice for a new one"
#define NO_ROOM "the call has room for one more person, and someone else is invited"

/* ---- helpers ---- */

/* The first frame the server sends on a WebSocket authenticated with this session token. */
static json_t *first_frame(const char *session)
{
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", session);
    pl_wsc_t *ws = NULL;
    assert_int_equal(pl_wsc_connect(&ws, "127.0.0.1", fx.port, "/", hdr, T, NULL), 0);
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(pl_wsc_recv(ws, T, &msg, &len), 0);
    json_t *j = json_loadb(msg, len, 0, NULL);
    assert_non_null(j);
    free(msg);
    pl_wsc_destroy(ws);
    return j;
}

static int guest_rows(void)
{
    return (int)cfx_db_int(&fx, "SELECT count(*) FROM users WHERE guest_role IS NOT NULL", 0);
}

/* ---- invitation ---- */

static void test_invite_refuses_malformed_guests_as_bad_requests(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp);
    /* 41 characters, 81 bytes: the limit is 80 bytes of UTF-8. */
    char long_name[96] = "";
    for (int i = 0; i < 40; i++)
        strcat(long_name, "\xc3\xa9"); /* é */
    strcat(long_name, "a");
    json_t *bad[] = {
        json_pack("{s{ss ss}}", "guest", "display_name", "Maria Lopez", "role", "doctor"),
        json_pack("{s{ss ss}}", "guest", "display_name", "Maria Lopez", "role", "Interpreter"),
        json_pack("{s{ss}}", "guest", "display_name", "Maria Lopez"),
        json_pack("{s{ss si}}", "guest", "display_name", "Maria Lopez", "role", 1),
        json_pack("{s{ss ss}}", "guest", "display_name", "", "role", "carer"),
        json_pack("{s{ss ss}}", "guest", "display_name", "   ", "role", "carer"),
        json_pack("{s{ss ss}}", "guest", "display_name", "Maria\nLopez", "role", "carer"),
        json_pack("{s{ss ss}}", "guest", "display_name", "Maria\tLopez", "role", "carer"),
        json_pack("{s{ss ss}}", "guest", "display_name", "Maria\x7fLopez", "role", "carer"),
        json_pack("{s{si ss}}", "guest", "display_name", 7, "role", "carer"),
        json_pack("{s{ss}}", "guest", "role", "carer"),
        json_pack("{sI s{ss ss}}", "user_id", uid("nurse.okafor"), "guest", "display_name",
                  "Maria Lopez", "role", "interpreter"),
        json_pack("{ss}", "guest", "Maria Lopez"),
        json_pack("{s[]}", "guest"),
        json_pack("{sn}", "guest"),
        json_pack("{}"), /* neither */
    };
    size_t n = sizeof bad / sizeof bad[0];
    int rows = guest_rows();
    long long bad_input = cfx_metric(&fx, "parley_bad_input_total");
    for (size_t i = 0; i < n; i++) {
        assert_non_null(bad[i]);
        json_object_set_new(bad[i], "type", json_string("consult.invite"));
        json_object_set_new(bad[i], "consultation_id", json_integer(b.id));
        json_t *r = pl_pc_call(gp, bad[i], T);
        if (!pl_pc_is_error(r, "bad_request")) print_error("case %zu\n", i);
        cfx_refused(r, "bad_request", NULL);
    }
    /* A name over 80 bytes is too_large, as any string over its maximum (PROTOCOL.md). */
    cfx_refused(pl_pc_callf(gp, T, "{ss sI s{ss ss}}", "type", "consult.invite", "consultation_id",
                            b.id, "guest", "display_name", long_name, "role", "carer"),
                "too_large", "display_name is longer than 80 bytes");
    /* Each was turned away at the door: counted, nothing stored, nobody invited. */
    assert_int_equal(cfx_metric(&fx, "parley_bad_input_total"), bad_input + (long long)n + 1);
    assert_int_equal(guest_rows(), rows);
    json_t *k = cfx_consult_get(gp, b.id);
    assert_int_equal(json_array_size(json_object_get(k, "invited")), 0);
    json_decref(k);

    /* 80 bytes (40 characters) is the longest name. */
    long_name[80] = 0;
    cfx_guest_t g = cfx_invite_guest(gp, b.id, long_name, "carer");
    k = cfx_consult_get(gp, b.id);
    check_invited(invited0(k), g.id, long_name, "carer", false, false);
    json_decref(k);
    cfx_booking_t b2 = cfx_book(&fx, gp);
    g = cfx_invite_guest(gp, b2.id, "Zoë Ångström", "interpreter");
    k = cfx_consult_get(gp, b2.id);
    check_invited(invited0(k), g.id, "Zoë Ångström", "interpreter", false, false);
    json_decref(k);
    assert_int_equal(guest_rows(), rows + 2);

    /* Only staff of the practice invite. */
    pl_pc_t *ann = cfx_open_as(&fx, "ann.taylor"), *hughes = cfx_open_as(&fx, "dr.hughes");
    cfx_booking_t b3 = cfx_book(&fx, gp);
    cfx_refused(pl_pc_callf(ann, T, "{ss sI s{ss ss}}", "type", "consult.invite", "consultation_id",
                            b3.id, "guest", "display_name", "Tom", "role", "carer"),
                "forbidden", NULL);
    cfx_refused(pl_pc_callf(hughes, T, "{ss sI s{ss ss}}", "type", "consult.invite",
                            "consultation_id", b3.id, "guest", "display_name", "Tom", "role",
                            "carer"),
                "forbidden", NULL);
    assert_int_equal(guest_rows(), rows + 2);
    pl_pc_destroy(ann);
    pl_pc_destroy(hughes);
    pl_pc_destroy(gp);
}

static void test_invited_guest_gets_a_guest_link_and_takes_the_last_place(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel"), *ann = cfx_open_as(&fx, "ann.taylor");
    json_decref(pl_pc_subscribe(gp, -1, T));
    json_decref(pl_pc_subscribe(ann, -1, T));
    /* Scheduled: the guest's link ends when the patient's does, 12 hours after. */
    json_int_t when = (json_int_t)time(NULL) * 1000 + 3 * HOUR_MS;
    cfx_booking_t b = cfx_book_with(
        gp, json_pack("{sI sI}", "patient_id", uid("ann.taylor"), "scheduled_at", when));
    int rows = guest_rows();
    json_t *r =
        cfx_ok(pl_pc_callf(gp, T, "{ss sI s{ss ss}}", "type", "consult.invite", "consultation_id",
                           b.id, "guest", "display_name", "Maria Lopez", "role", "interpreter"));
    json_int_t gid = cfx_jint(r, "user_id");
    json_t *link = json_object_get(r, "link");
    const char *path = cfx_jstr(link, "path");
    assert_int_equal(strncmp(path, "/guest#", 7), 0);
    assert_int_equal(strlen(path), 7 + CFX_TOKEN_LEN);
    assert_int_equal(cfx_jint(link, "expires_at"), when + 12 * HOUR_MS);
    assert_int_equal(cfx_jint(link, "expires_at"), b.expires_at);
    /* The staff view: the guest by id, waiting for nothing yet. */
    json_t *k = json_object_get(r, "consultation");
    assert_string_equal(cfx_jstr(k, "status"), "booked");
    check_invited(invited0(k), gid, "Maria Lopez", "interpreter", false, false);
    json_decref(r);
    assert_int_equal(guest_rows(), rows + 1);

    /* As stored: a users row that can never sign in, invited by Dr Patel. */
    char sql[256], buf[96];
    snprintf(sql, sizeof sql, "SELECT kind FROM users WHERE id = %lld", (long long)gid);
    assert_int_equal(cfx_db_int(&fx, sql, 0), 2);
    snprintf(sql, sizeof sql, "SELECT guest_role FROM users WHERE id = %lld", (long long)gid);
    assert_string_equal(cfx_db_text(&fx, sql, 0, buf, sizeof buf), "interpreter");
    snprintf(sql, sizeof sql, "SELECT password_hash FROM users WHERE id = %lld", (long long)gid);
    assert_string_equal(cfx_db_text(&fx, sql, 0, buf, sizeof buf), "!");
    snprintf(sql, sizeof sql, "SELECT username FROM users WHERE id = %lld", (long long)gid);
    cfx_db_text(&fx, sql, 0, buf, sizeof buf);
    assert_int_equal(strncmp(buf, "guest:", 6), 0);
    assert_int_equal(strlen(buf), 6 + 32);
    snprintf(sql, sizeof sql,
             "SELECT invited_by FROM consult_participants WHERE consultation_id = ? AND "
             "user_id = %lld",
             (long long)gid);
    assert_int_equal(cfx_db_int(&fx, sql, b.id), uid("dr.patel"));
    assert_int_equal(cfx_audit_count(&fx, "consult.invite", b.id), 1);

    /* The practice hears who was invited and by whom; Ann by name, without who did it. */
    json_t *e, *ev = cfx_event(gp, "consult.invited", &e);
    assert_int_equal(cfx_jint(e, "consultation_id"), b.id);
    assert_int_equal(cfx_jint(e, "conversation_id"), b.conversation_id);
    assert_int_equal(cfx_jint(e, "by"), uid("dr.patel"));
    cfx_check_person(json_object_get(e, "participant"), gid, "interpreter", "Maria Lopez");
    json_decref(ev);
    ev = cfx_event(ann, "consult.invited", &e);
    assert_null(json_object_get(e, "by"));
    cfx_check_person(json_object_get(e, "participant"), gid, "interpreter", "Maria Lopez");
    json_decref(ev);
    /* Ann's view lists the guest by id too (a guest's page finds itself by it). */
    k = cfx_consult_get(ann, b.id);
    check_invited(invited0(k), gid, "Maria Lopez", "interpreter", false, false);
    assert_null(json_object_get(json_object_get(k, "clinician"), "id"));
    json_decref(k);

    /* One more person only: a second guest, or a colleague, finds the place taken, and the
     * refused guest leaves no users row behind. */
    cfx_refused(pl_pc_callf(gp, T, "{ss sI s{ss ss}}", "type", "consult.invite", "consultation_id",
                            b.id, "guest", "display_name", "Tom Taylor", "role", "carer"),
                "conflict", NO_ROOM);
    cfx_refused(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.invite", "consultation_id", b.id,
                            "user_id", uid("nurse.okafor")),
                "conflict", NULL);
    assert_int_equal(guest_rows(), rows + 1);
    /* ...and the other way round: a colleague first, then no guest. */
    cfx_booking_t b2 = cfx_book(&fx, gp);
    json_decref(cfx_ok(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.invite", "consultation_id",
                                   b2.id, "user_id", uid("nurse.okafor"))));
    cfx_refused(pl_pc_callf(gp, T, "{ss sI s{ss ss}}", "type", "consult.invite", "consultation_id",
                            b2.id, "guest", "display_name", "Tom Taylor", "role", "carer"),
                "conflict", NO_ROOM);
    assert_int_equal(guest_rows(), rows + 1);
    k = cfx_consult_get(gp, b2.id);
    check_invited(invited0(k), uid("nurse.okafor"), "Grace Okafor", "staff", false, true);
    json_decref(k);
    /* Closed consultations take nobody. */
    json_decref(
        cfx_ok(pl_pc_callf(gp, T, "{ss sI}", "type", "consult.cancel", "consultation_id", b2.id)));
    cfx_refused(pl_pc_callf(gp, T, "{ss sI s{ss ss}}", "type", "consult.invite", "consultation_id",
                            b2.id, "guest", "display_name", "Tom Taylor", "role", "carer"),
                "conflict", NULL);
    assert_int_equal(guest_rows(), rows + 1);
    pl_pc_destroy(gp);
    pl_pc_destroy(ann);
}

static void test_guest_can_never_sign_in(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp);
    cfx_guest_t g = cfx_invite_guest(gp, b.id, "Maria Lopez", "interpreter");
    char sql[160], username[96];
    snprintf(sql, sizeof sql, "SELECT username FROM users WHERE id = %lld", (long long)g.id);
    cfx_db_text(&fx, sql, 0, username, sizeof username);
    long long failures = cfx_metric(&fx, "parley_auth_failures_total");
    json_t *body = NULL;
    /* Knowing the username is not enough: "!" verifies as no password... */
    assert_int_equal(pl_pc_login(fx.port, username, "!", NULL, NULL, 0, &body), 401);
    assert_string_equal(cfx_jstr(json_object_get(body, "error"), "message"),
                        "unknown username or wrong password");
    json_decref(body);
    /* ...and even a password that does verify is refused, because the account is a guest's:
     * give the guest row Ann's password hash. */
    snprintf(sql, sizeof sql,
             "UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE "
             "username = 'ann.taylor') WHERE id = %lld",
             (long long)g.id);
    assert_int_equal(cfx_db_exec(&fx, sql, 0), 0);
    const char *pw = pl_fixture_password(&fx, "ann.taylor");
    char token[128];
    assert_int_equal(pl_pc_login(fx.port, username, pw, NULL, token, sizeof token, &body), 401);
    assert_string_equal(cfx_jstr(json_object_get(body, "error"), "message"),
                        "unknown username or wrong password");
    assert_null(json_object_get(body, "token"));
    json_decref(body);
    assert_int_equal(cfx_metric(&fx, "parley_auth_failures_total"), failures + 2);
    /* The same password on Ann's own account works. */
    assert_int_equal(pl_pc_login(fx.port, "ann.taylor", pw, NULL, NULL, 0, NULL), 200);
    pl_pc_destroy(gp);
}

/* ---- POST /api/v1/join ---- */

static void test_guest_link_opens_without_a_date_of_birth_and_binds_the_device(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp);
    cfx_guest_t g = cfx_invite_guest(gp, b.id, "Tom Taylor", "carer");
    long long failures = cfx_metric(&fx, "parley_join_failures_total");
    long long other = cfx_metric(&fx, "parley_join_other_device_total");
    long long now = (long long)time(NULL) * 1000;
    cfx_join_resp_t j;
    assert_int_equal(cfx_join(&fx, g.token, NULL, NULL, &j), 200);
    json_t *k = json_object_get(j.body, "consultation");
    assert_int_equal(cfx_jint(k, "id"), b.id);
    assert_null(json_object_get(json_object_get(k, "clinician"), "id")); /* patient view */
    check_invited(invited0(k), g.id, "Tom Taylor", "carer", false, false);
    json_t *user = json_object_get(j.body, "user");
    assert_int_equal(cfx_jint(user, "id"), g.id);
    assert_string_equal(cfx_jstr(user, "display_name"), "Tom Taylor");
    assert_string_equal(cfx_jstr(user, "role"), "carer");
    assert_true(cfx_jint(j.body, "expires_at") > now);
    assert_null(json_object_get(j.body, "token"));
    assert_int_equal(strlen(j.session), CFX_TOKEN_LEN);
    assert_non_null(strstr(j.session_line, "Path=/;"));
    assert_int_equal(strlen(j.device), CFX_TOKEN_LEN);
    assert_non_null(strstr(j.device_line, "Path=/api/v1/join"));
    for (int i = 0; i < 2; i++) {
        const char *line = i ? j.device_line : j.session_line;
        assert_non_null(strstr(line, "Secure"));
        assert_non_null(strstr(line, "HttpOnly"));
        assert_non_null(strstr(line, "SameSite=Strict"));
    }
    char device[64], session[64];
    snprintf(device, sizeof device, "%s", j.device);
    snprintf(session, sizeof session, "%s", j.session);
    cfx_join_free(&j);
    /* The join is audited as the guest's, about the patient's consultation. */
    assert_int_equal(cfx_audit_count(&fx, "consult.join", b.id), 1);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT actor_id * 1000000 + patient_id FROM audit WHERE action = 'consult.join' "
             "AND resource_type = 'consultation' AND resource_id = ?");
    assert_int_equal(cfx_db_int(&fx, sql, b.id), g.id * 1000000 + uid("ann.taylor"));

    /* The session it opened is a guest's, scoped to the consultation. */
    json_t *ready = first_frame(session);
    assert_string_equal(cfx_jstr(ready, "type"), "session.ready");
    assert_string_equal(cfx_jstr(ready, "kind"), "guest");
    assert_int_equal(cfx_jint(ready, "user_id"), g.id);
    assert_int_equal(cfx_jint(ready, "consultation_id"), b.id);
    assert_true(json_is_false(json_object_get(ready, "must_enrol_totp")));
    json_decref(ready);

    /* Another device: refused, as for the patient's link, and counted as such. */
    assert_int_equal(cfx_join(&fx, g.token, NULL, NULL, &j), 409);
    assert_string_equal(cfx_join_err(&j), "conflict");
    assert_string_equal(cfx_join_msg(&j), OTHER_DEVICE);
    assert_string_equal(j.session, "");
    cfx_join_free(&j);
    assert_int_equal(
        cfx_join(&fx, g.token, NULL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &j), 409);
    cfx_join_free(&j);
    assert_int_equal(cfx_metric(&fx, "parley_join_other_device_total"), other + 2);
    assert_int_equal(cfx_metric(&fx, "parley_join_failures_total"), failures + 2);

    /* The same device again: a fresh session. A date of birth sent with a guest link is not
     * looked at (nor counted against the link). */
    assert_int_equal(cfx_join(&fx, g.token, "1901-01-01", device, &j), 200);
    assert_string_equal(j.device, device);
    assert_string_not_equal(j.session, session);
    assert_int_equal(cfx_jint(json_object_get(j.body, "user"), "id"), g.id);
    cfx_join_free(&j);
    assert_int_equal(cfx_join(&fx, g.token, CFX_ANN_DOB, device, &j), 200);
    cfx_join_free(&j);
    assert_int_equal(cfx_db_int(&fx,
                                "SELECT dob_failures FROM consult_links WHERE consultation_id = ? "
                                "AND user_id IS NOT NULL",
                                b.id),
                     0);
    assert_int_equal(cfx_metric(&fx, "parley_join_failures_total"), failures + 2);
    assert_int_equal(cfx_audit_count(&fx, "consult.join", b.id), 3);

    /* The patient's link of the same consultation is still the patient's: her date of birth,
     * any device (the guest's binding is its own link's). */
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, NULL, &j), 200);
    assert_string_equal(cfx_jstr(json_object_get(j.body, "user"), "role"), "patient");
    assert_int_equal(cfx_jint(json_object_get(j.body, "user"), "id"), uid("ann.taylor"));
    cfx_join_free(&j);
    pl_pc_destroy(gp);
}

static void test_patient_link_without_a_date_of_birth_is_refused_and_counts_nothing(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp);
    long long failures = cfx_metric(&fx, "parley_join_failures_total");
    long long bad = cfx_metric(&fx, "parley_bad_input_total");
    cfx_join_resp_t j;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cfx_join(&fx, b.token, NULL, NULL, &j), 400);
        assert_string_equal(cfx_join_err(&j), "bad_request");
        assert_string_equal(cfx_join_msg(&j), "date_of_birth is required for this link");
        assert_null(json_object_get(j.body, "consultation"));
        assert_string_equal(j.session, "");
        cfx_join_free(&j);
    }
    assert_int_equal(cfx_metric(&fx, "parley_join_failures_total"), failures);
    assert_int_equal(cfx_metric(&fx, "parley_bad_input_total"), bad + 3);
    /* Nothing was used up: not a failure on the link, no device bound. */
    assert_int_equal(cfx_db_int(&fx,
                                "SELECT dob_failures * 10 + CASE WHEN device_hash IS NULL "
                                "THEN 0 ELSE 1 END FROM consult_links WHERE "
                                "consultation_id = ?",
                                b.id),
                     0);
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, NULL, &j), 200);
    cfx_join_free(&j);
    pl_pc_destroy(gp);
}

/* ---- links ---- */

static void test_reissuing_a_link_revokes_only_that_persons_links(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp);
    cfx_guest_t g = cfx_invite_guest(gp, b.id, "Maria Lopez", "interpreter");
    char gdev[64] = "", pdev[64] = "";
    cfx_join_resp_t j;
    assert_int_equal(cfx_join(&fx, g.token, NULL, NULL, &j), 200);
    snprintf(gdev, sizeof gdev, "%s", j.device);
    cfx_join_free(&j);

    /* The guest's link again: a new /guest link; its old one is dead, the patient's lives. */
    json_t *r = cfx_ok(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.link", "consultation_id",
                                   b.id, "user_id", g.id));
    char g1[64];
    assert_int_equal(cfx_link_token(json_object_get(r, "link"), "/guest", g1, sizeof g1), 0);
    assert_string_not_equal(g1, g.token);
    json_decref(r);
    assert_int_equal(cfx_join(&fx, g.token, NULL, gdev, &j), 404);
    assert_string_equal(cfx_join_msg(&j), NOT_VALID);
    cfx_join_free(&j);
    assert_int_equal(cfx_join(&fx, g1, NULL, gdev, &j), 200);
    assert_int_equal(cfx_jint(json_object_get(j.body, "user"), "id"), g.id);
    cfx_join_free(&j);
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, NULL, &j), 200);
    snprintf(pdev, sizeof pdev, "%s", j.device);
    cfx_join_free(&j);

    /* The patient's again: a new /join link; hers is dead, the guest's new one lives. */
    r = cfx_ok(pl_pc_callf(gp, T, "{ss sI}", "type", "consult.link", "consultation_id", b.id));
    char p1[64];
    assert_int_equal(cfx_link_token(json_object_get(r, "link"), "/join", p1, sizeof p1), 0);
    json_decref(r);
    assert_int_equal(cfx_join(&fx, b.token, CFX_ANN_DOB, pdev, &j), 404);
    cfx_join_free(&j);
    assert_int_equal(cfx_join(&fx, g1, NULL, gdev, &j), 200);
    cfx_join_free(&j);
    assert_int_equal(cfx_join(&fx, p1, CFX_ANN_DOB, pdev, &j), 200);
    assert_int_equal(cfx_jint(json_object_get(j.body, "user"), "id"), uid("ann.taylor"));
    cfx_join_free(&j);
    /* As stored: one live link each. */
    assert_int_equal(cfx_db_int(&fx,
                                "SELECT sum(CASE WHEN revoked = 0 THEN 10 ELSE 1 END) "
                                "FROM consult_links WHERE consultation_id = ?",
                                b.id),
                     2 * 10 + 2);

    /* A link only for the guest invited here. */
    cfx_booking_t b2 = cfx_book(&fx, gp);
    cfx_guest_t g2 = cfx_invite_guest(gp, b2.id, "Tom Taylor", "carer");
    const json_int_t not_guests[] = {uid("ann.taylor"), uid("nurse.okafor"), g2.id, 999999};
    for (size_t i = 0; i < sizeof not_guests / sizeof not_guests[0]; i++)
        cfx_refused(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.link", "consultation_id",
                                b.id, "user_id", not_guests[i]),
                    "bad_request", NOT_A_GUEST);
    cfx_refused(pl_pc_callf(gp, T, "{ss sI ss}", "type", "consult.link", "consultation_id", b.id,
                            "user_id", "7"),
                "bad_request", NULL);
    assert_int_equal(cfx_audit_count(&fx, "consult.link", b.id), 2);

    /* Cancelling ends every link. */
    json_decref(
        cfx_ok(pl_pc_callf(gp, T, "{ss sI}", "type", "consult.cancel", "consultation_id", b.id)));
    assert_int_equal(cfx_join(&fx, g1, NULL, gdev, &j), 404);
    cfx_join_free(&j);
    assert_int_equal(cfx_join(&fx, p1, CFX_ANN_DOB, pdev, &j), 404);
    cfx_join_free(&j);
    assert_int_equal(cfx_db_int(&fx,
                                "SELECT count(*) FROM consult_links WHERE consultation_id = ? AND "
                                "revoked = 0",
                                b.id),
                     0);
    /* ...of that consultation only. */
    assert_int_equal(cfx_join(&fx, g2.token, NULL, NULL, &j), 200);
    cfx_join_free(&j);
    pl_pc_destroy(gp);
}

static void test_a_guest_no_longer_invited_is_turned_away_everywhere(void **s)
{
    pl_pc_t *gp = cfx_open_as(&fx, "dr.patel");
    cfx_booking_t b = cfx_book(&fx, gp);
    cfx_guest_t g = cfx_invite_guest(gp, b.id, "Maria Lopez", "interpreter");
    cfx_join_resp_t j;
    assert_int_equal(cfx_join(&fx, g.token, NULL, NULL, &j), 200);
    char device[64], session[64];
    snprintf(device, sizeof device, "%s", j.device);
    snprintf(session, sizeof session, "%s", j.session);
    cfx_join_free(&j);
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_connect(&c, fx.port, session, NULL), 0);
    json_decref(cfx_ok(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.admit", "consultation_id",
                                   b.id, "user_id", g.id)));

    /* Taken off the consultation (there is no request for it yet: straight in the store). */
    char sql[160];
    snprintf(sql, sizeof sql,
             "UPDATE consult_participants SET invited_by = NULL WHERE consultation_id = ? AND "
             "user_id = %lld",
             (long long)g.id);
    assert_int_equal(cfx_db_exec(&fx, sql, b.id), 0);

    /* Its session no longer opens... */
    pl_pc_t *again = NULL;
    json_t *err = NULL;
    assert_int_equal(pl_pc_connect(&again, fx.port, session, &err), -EACCES);
    assert_null(again);
    assert_string_equal(cfx_jstr(err, "type"), "session.error");
    json_decref(err);
    /* ...the open one gets no call and no waiting room... */
    pl_call_peer_t peer;
    assert_int_equal(pl_call_peer_open(&peer, pl_test_server_media_port(fx.srv), NULL, NULL), 0);
    cfx_refused(pl_call_peer_join(&peer, c, b.id, "consult.join"), "forbidden", NULL);
    pl_call_peer_close(&peer);
    cfx_refused(pl_pc_callf(c, T, "{ss sI}", "type", "consult.wait", "consultation_id", b.id),
                "conflict", "you are no longer invited to this consultation");
    /* ...and its link opens nothing, on its own device too. */
    assert_int_equal(cfx_join(&fx, g.token, NULL, device, &j), 404);
    assert_string_equal(cfx_join_msg(&j), NOT_VALID);
    assert_string_equal(j.session, "");
    cfx_join_free(&j);
    /* Nor can the practice address it as this consultation's guest. */
    cfx_refused(pl_pc_callf(gp, T, "{ss sI sI}", "type", "consult.link", "consultation_id", b.id,
                            "user_id", g.id),
                "bad_request", NOT_A_GUEST);
    pl_pc_destroy(c);
    pl_pc_destroy(gp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invite_refuses_malformed_guests_as_bad_requests),
        cmocka_unit_test(test_invited_guest_gets_a_guest_link_and_takes_the_last_place),
        cmocka_unit_test(test_guest_can_never_sign_in),
        cmocka_unit_test(test_guest_link_opens_without_a_date_of_birth_and_binds_the_device),
        cmocka_unit_test(test_patient_link_without_a_date_of_birth_is_refused_and_counts_nothing),
        cmocka_unit_test(test_reissuing_a_link_revokes_only_that_persons_links),
        cmocka_unit_test(test_a_guest_no_longer_invited_is_turned_away_everywhere),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
