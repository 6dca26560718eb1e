/* Unit tests for storage/store_sqlite_consult.c through storage/store.h: video consultations
 * (the conversation a booking starts, create, status transitions and their times, the JSON
 * view, lists and their filters), join links (create, find, claim, failures, revoke), invited
 * colleagues, presence, scoped sessions, and migration 3 on a real version-2 database. Guests
 * (migration 4): the users row that can never sign in, waiting and admission of an invited
 * guest, guest links and whose links a revocation ends, and how the JSON view lists them. */
#include "tests/storage/store_fixture.h"
#include <sqlite3.h>

#include "storage/aead.h"

#define DAY_MS (24 * HOUR_MS)

static int64_t video_conv(fx_t *f, int64_t patient, int64_t org)
{
    int64_t id = 0;
    assert_int_equal(
        pl_store_consult_conv_create(f->st, org, patient, "Video consultation", f->now, &id), 0);
    assert_true(id > 0);
    return id;
}

static int64_t book_at(fx_t *f, int64_t patient, int64_t org, int64_t scheduled, int64_t now)
{
    int64_t conv = video_conv(f, patient, org), id = 0;
    assert_int_equal(pl_store_consult_create(f->st, conv, org, patient, f->gp, scheduled, now, &id),
                     0);
    assert_true(id > 0);
    return id;
}

static int64_t book(fx_t *f, int64_t scheduled)
{
    return book_at(f, f->pat1, f->org_a, scheduled, f->now);
}

static pl_consult_t consult_of(fx_t *f, int64_t id)
{
    pl_consult_t k;
    assert_int_equal(pl_store_consult_get(f->st, id, &k), 0);
    return k;
}

static json_t *consult_json(fx_t *f, int64_t id)
{
    json_t *c = NULL;
    assert_int_equal(pl_store_consult_json(f->st, id, &c), 0);
    assert_true(json_is_object(c));
    return c;
}

static void hash_of(const char *token, char out[65])
{
    pl_token_hash(token, out);
}

/* ---- the conversation a booking starts ---- */

static void test_video_conversation_is_in_progress_with_no_clock_and_a_sealed_subject(void **s)
{
    fx_t *f = *s;
    int64_t conv = video_conv(f, f->pat1, f->org_a);
    pl_conv_t c = conv_of(f, conv);
    assert_string_equal(c.kind, "video");
    assert_string_equal(c.status, "in_progress");
    assert_int_equal(c.patient_id, f->pat1);
    assert_int_equal(c.last_seq, 0);
    json_t *j = NULL;
    assert_int_equal(pl_store_conv_json(f->st, conv, &j), 0);
    assert_string_equal(json_string_value(json_object_get(j, "subject")), "Video consultation");
    assert_true(json_is_null(json_object_get(j, "waiting_since")));
    json_decref(j);
    /* It is an ordinary conversation from here on: the patient can write in it. */
    (void)send_msg(f, conv, f->pat1, false, "v1", "Can you hear me?");
    assert_int_equal(conv_of(f, conv).last_seq, 1);
    assert_false(store_files_contain(f, "Video consultation"));
    /* Two bookings for one patient never collide on the idempotency key. */
    (void)video_conv(f, f->pat1, f->org_a);
}

/* ---- consultations ---- */

static void test_consultation_is_created_booked_and_reads_back(void **s)
{
    fx_t *f = *s;
    int64_t when = f->now + 2 * HOUR_MS;
    int64_t id = book(f, when);
    pl_consult_t k = consult_of(f, id);
    assert_string_equal(k.status, "booked");
    assert_int_equal(k.patient_id, f->pat1);
    assert_int_equal(k.org_id, f->org_a);
    assert_int_equal(k.clinician_user_id, f->gp);
    assert_int_equal(k.scheduled_at, when);
    assert_int_equal(k.created_at, f->now);
    assert_int_equal(k.started_at, 0);
    assert_int_equal(k.ended_at, 0);
    assert_string_equal(conv_of(f, k.conversation_id).kind, "video");

    json_t *c = consult_json(f, id);
    assert_int_equal(jint(c, "id"), id);
    assert_int_equal(jint(c, "conversation_id"), k.conversation_id);
    assert_int_equal(jint(c, "patient_id"), f->pat1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(c, "patient"), "display_name")), "pat1");
    assert_int_equal(jint(json_object_get(c, "clinician"), "id"), f->gp);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(c, "clinician"), "display_name")), "gp");
    assert_int_equal(json_array_size(json_object_get(c, "invited")), 0);
    assert_string_equal(json_string_value(json_object_get(c, "status")), "booked");
    assert_int_equal(jint(c, "scheduled_at"), when);
    assert_true(json_is_null(json_object_get(c, "started_at")));
    assert_true(json_is_null(json_object_get(c, "ended_at")));
    assert_null(json_object_get(c, "duration_seconds"));
    json_decref(c);

    /* Unscheduled: null, not 0. */
    c = consult_json(f, book(f, 0));
    assert_true(json_is_null(json_object_get(c, "scheduled_at")));
    json_decref(c);
    assert_int_equal(pl_store_consult_get(f->st, 9999, &k), -PL_ENOTFOUND);
    assert_int_equal(pl_store_consult_json(f->st, 9999, &c), -PL_ENOTFOUND);
}

static void test_status_moves_only_from_the_expected_state_and_stamps_times(void **s)
{
    fx_t *f = *s;
    int64_t id = book(f, 0);
    assert_int_equal(pl_store_consult_set_status(f->st, id, "booked", "waiting", f->now + 1000), 0);
    /* A second move from booked finds it waiting: the caller decided on stale facts. */
    assert_int_equal(pl_store_consult_set_status(f->st, id, "booked", "waiting", f->now + 1000),
                     -PL_ECONFLICT);
    assert_int_equal(consult_of(f, id).started_at, 0);
    assert_int_equal(pl_store_consult_set_status(f->st, id, "waiting", "in_call", f->now + 5000),
                     0);
    assert_int_equal(consult_of(f, id).started_at, f->now + 5000);
    assert_int_equal(pl_store_consult_set_status(f->st, id, "in_call", "ended", f->now + 65000), 0);
    pl_consult_t k = consult_of(f, id);
    assert_string_equal(k.status, "ended");
    assert_int_equal(k.started_at, f->now + 5000);
    assert_int_equal(k.ended_at, f->now + 65000);
    json_t *c = consult_json(f, id);
    assert_int_equal(jint(c, "duration_seconds"), 60);
    assert_int_equal(jint(c, "started_at"), f->now + 5000);
    assert_int_equal(jint(c, "ended_at"), f->now + 65000);
    json_decref(c);

    /* Cancelling stamps the end too, and never a start. */
    int64_t other = book(f, 0);
    assert_int_equal(pl_store_consult_set_status(f->st, other, "booked", "cancelled", f->now + 7),
                     0);
    k = consult_of(f, other);
    assert_string_equal(k.status, "cancelled");
    assert_int_equal(k.started_at, 0);
    assert_int_equal(k.ended_at, f->now + 7);
    c = consult_json(f, other);
    assert_null(json_object_get(c, "duration_seconds"));
    json_decref(c);

    assert_int_equal(pl_store_consult_set_status(f->st, 9999, "booked", "waiting", f->now),
                     -PL_ENOTFOUND);
    /* The schema refuses a status that is not one of the five. */
    int64_t third = book(f, 0);
    assert_int_equal(pl_store_consult_set_status(f->st, third, "booked", "bogus", f->now),
                     -PL_ECONFLICT);
    assert_string_equal(consult_of(f, third).status, "booked");
}

static void test_lists_filter_today_upcoming_and_all_and_page_newest_first(void **s)
{
    fx_t *f = *s;
    /* today: scheduled in an hour (if that is still today), or unscheduled and booked now */
    int64_t unscheduled = book(f, 0);
    int64_t next_week = book(f, f->now + 7 * DAY_MS);
    int64_t last_week = book(f, f->now - 7 * DAY_MS);
    int64_t done = book(f, 0);
    assert_int_equal(pl_store_consult_set_status(f->st, done, "booked", "cancelled", f->now), 0);
    int64_t other_org = book_at(f, f->pat_b, f->org_b, 0, f->now);
    int64_t other_patient = book_at(f, f->pat2, f->org_a, 0, f->now);

    int64_t a[] = {f->org_a};
    json_t *out = NULL;
    assert_int_equal(pl_store_consult_list_org(f->st, a, 1, NULL, 0, 50, f->now, &out), 0);
    json_t *list = json_object_get(out, "consultations");
    assert_int_equal(json_array_size(list), 5); /* not the other practice's */
    assert_int_equal(jint(json_array_get(list, 0), "id"), other_patient);
    assert_int_equal(jint(json_array_get(list, 4), "id"), unscheduled);
    assert_true(json_is_null(json_object_get(out, "next_before")));
    json_decref(out);

    assert_int_equal(pl_store_consult_list_org(f->st, a, 1, "upcoming", 0, 50, f->now, &out), 0);
    list = json_object_get(out, "consultations");
    assert_int_equal(json_array_size(list), 4); /* all but the cancelled one */
    for (size_t i = 0; i < json_array_size(list); i++)
        assert_int_not_equal(jint(json_array_get(list, i), "id"), done);
    json_decref(out);

    assert_int_equal(pl_store_consult_list_org(f->st, a, 1, "today", 0, 50, f->now, &out), 0);
    list = json_object_get(out, "consultations");
    for (size_t i = 0; i < json_array_size(list); i++) {
        int64_t id = jint(json_array_get(list, i), "id");
        assert_int_not_equal(id, next_week);
        assert_int_not_equal(id, last_week);
    }
    assert_int_equal(json_array_size(list), 3); /* unscheduled, done, other_patient */
    json_decref(out);

    /* Paging: two at a time, newest first, next_before while a page is full. */
    assert_int_equal(pl_store_consult_list_org(f->st, a, 1, "all", 0, 2, f->now, &out), 0);
    assert_int_equal(json_array_size(json_object_get(out, "consultations")), 2);
    int64_t before = jint(out, "next_before");
    assert_int_equal(before, done);
    json_decref(out);
    assert_int_equal(pl_store_consult_list_org(f->st, a, 1, "all", before, 2, f->now, &out), 0);
    list = json_object_get(out, "consultations");
    assert_int_equal(jint(json_array_get(list, 0), "id"), last_week);
    assert_int_equal(jint(json_array_get(list, 1), "id"), next_week);
    json_decref(out);

    assert_int_equal(pl_store_consult_list_patient(f->st, f->pat1, NULL, 0, 50, f->now, &out), 0);
    assert_int_equal(json_array_size(json_object_get(out, "consultations")), 4);
    json_decref(out);
    assert_int_equal(pl_store_consult_list_patient(f->st, f->pat_b, "all", 0, 50, f->now, &out), 0);
    list = json_object_get(out, "consultations");
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(jint(json_array_get(list, 0), "id"), other_org);
    json_decref(out);
    assert_int_equal(pl_store_consult_list_org(f->st, a, 0, NULL, 0, 50, f->now, &out), -PL_EINVAL);
}

/* ---- participants ---- */

static void test_invite_adds_one_colleague_once(void **s)
{
    fx_t *f = *s;
    int64_t id = book(f, 0);
    bool added = false;
    assert_int_equal(pl_store_consult_invite(f->st, id, f->recep, f->gp, f->now, &added), 0);
    assert_true(added);
    assert_int_equal(pl_store_consult_invite(f->st, id, f->recep, f->gp, f->now + 1, &added), 0);
    assert_false(added);
    /* The call has three places: patient, clinician and one more. */
    int64_t nurse = add_staff(f->st, "nurse", f->org_a, PL_ROLE_NURSE);
    assert_int_equal(pl_store_consult_invite(f->st, id, nurse, f->gp, f->now, &added),
                     -PL_ECONFLICT);
    json_t *c = consult_json(f, id);
    json_t *inv = json_object_get(c, "invited");
    assert_int_equal(json_array_size(inv), 1);
    assert_int_equal(jint(json_array_get(inv, 0), "id"), f->recep);
    assert_string_equal(json_string_value(json_object_get(json_array_get(inv, 0), "display_name")),
                        "recep");
    json_decref(c);
    /* Someone who only joined the call (presence) is not counted as invited. */
    int64_t other = book(f, 0);
    assert_int_equal(pl_store_consult_presence(f->st, other, f->pat1, PL_CONSULT_JOINED, f->now),
                     0);
    assert_int_equal(pl_store_consult_invite(f->st, other, nurse, f->gp, f->now, &added), 0);
    assert_true(added);
}

static void test_presence_keeps_the_first_join_and_the_latest_leave(void **s)
{
    fx_t *f = *s;
    int64_t id = book(f, 0);
    int64_t t = f->now;
    assert_int_equal(pl_store_consult_presence(f->st, id, f->pat1, PL_CONSULT_JOINED, t + 1), 0);
    assert_int_equal(pl_store_consult_presence(f->st, id, f->pat1, PL_CONSULT_LEFT, t + 2), 0);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT present FROM consult_participants WHERE consultation_id = %lld AND "
             "user_id = %lld",
             (long long)id, (long long)f->pat1);
    assert_int_equal(raw_int(f, sql), 0);
    assert_int_equal(pl_store_consult_presence(f->st, id, f->pat1, PL_CONSULT_RECONNECTED, t + 3),
                     0);
    assert_int_equal(pl_store_consult_presence(f->st, id, f->pat1, PL_CONSULT_JOINED, t + 4), 0);
    assert_int_equal(raw_int(f, sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT joined_at * 10 + left_at FROM consult_participants WHERE "
             "consultation_id = %lld AND user_id = %lld",
             (long long)id, (long long)f->pat1);
    assert_int_equal(raw_int(f, sql), (t + 1) * 10 + (t + 2));
    /* Leaving first (a report out of order) records the departure without a join. */
    assert_int_equal(pl_store_consult_presence(f->st, id, f->gp, PL_CONSULT_LEFT, t + 5), 0);
    assert_int_equal(pl_store_consult_presence(f->st, id, f->gp, (pl_presence_t)9, t), -PL_EINVAL);
    /* Presence is not an invitation; it is who is in the call now. */
    json_t *c = consult_json(f, id);
    assert_int_equal(json_array_size(json_object_get(c, "invited")), 0);
    json_t *present = json_object_get(c, "present");
    assert_int_equal(json_array_size(present), 1);
    json_t *p = json_array_get(present, 0);
    assert_int_equal(json_integer_value(json_object_get(p, "user_id")), f->pat1);
    assert_string_equal(json_string_value(json_object_get(p, "role")), "patient");
    json_decref(c);
    /* A restarted server starts with nobody in any call. */
    assert_int_equal(pl_store_consult_presence_reset(f->st), 0);
    snprintf(sql, sizeof sql,
             "SELECT present FROM consult_participants WHERE consultation_id = %lld AND "
             "user_id = %lld",
             (long long)id, (long long)f->pat1);
    assert_int_equal(raw_int(f, sql), 0);
    c = consult_json(f, id);
    assert_int_equal(json_array_size(json_object_get(c, "present")), 0);
    json_decref(c);
}

/* ---- join links ---- */

static void test_link_is_stored_by_hash_and_claimed_once(void **s)
{
    fx_t *f = *s;
    int64_t id = book(f, 0);
    char token[PL_TOKEN_BUF], hash[65], dev[65], dev2[65];
    assert_int_equal(pl_token_new(token, sizeof token), 0);
    hash_of(token, hash);
    hash_of("device-one", dev);
    hash_of("device-two", dev2);
    int64_t link = 0;
    assert_int_equal(
        pl_store_consult_link_create(f->st, id, 0, hash, f->now, f->now + DAY_MS, &link), 0);
    assert_true(link > 0);
    /* Only the hash is kept: the token itself is nowhere in the database. */
    assert_false(store_files_contain(f, token));
    assert_true(store_files_contain(f, hash));

    pl_consult_link_t l;
    assert_int_equal(pl_store_consult_link_find(f->st, hash, &l), 0);
    assert_int_equal(l.id, link);
    assert_int_equal(l.consultation_id, id);
    assert_int_equal(l.created_at, f->now);
    assert_int_equal(l.expires_at, f->now + DAY_MS);
    assert_string_equal(l.device_hash, "");
    assert_int_equal(l.claimed_at, 0);
    assert_int_equal(l.dob_failures, 0);
    assert_false(l.revoked);

    assert_int_equal(pl_store_consult_link_claim(f->st, link, dev, f->now + 10), 0);
    assert_int_equal(pl_store_consult_link_claim(f->st, link, dev2, f->now + 20), -PL_ECONFLICT);
    assert_int_equal(pl_store_consult_link_claim(f->st, link, dev, f->now + 20), -PL_ECONFLICT);
    assert_int_equal(pl_store_consult_link_claim(f->st, 9999, dev, f->now), -PL_ENOTFOUND);
    assert_int_equal(pl_store_consult_link_find(f->st, hash, &l), 0);
    assert_string_equal(l.device_hash, dev);
    assert_int_equal(l.claimed_at, f->now + 10);

    int n = 0;
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(pl_store_consult_link_fail(f->st, link, &n), 0);
        assert_int_equal(n, i);
    }
    assert_int_equal(pl_store_consult_link_find(f->st, hash, &l), 0);
    assert_int_equal(l.dob_failures, 5);
    assert_int_equal(pl_store_consult_link_fail(f->st, 9999, &n), -PL_ENOTFOUND);

    char other[65];
    hash_of("not a token we made", other);
    assert_int_equal(pl_store_consult_link_find(f->st, other, &l), -PL_ENOTFOUND);
    /* A hash names one link. */
    assert_int_equal(pl_store_consult_link_create(f->st, id, 0, hash, f->now, f->now + 1, NULL),
                     -PL_ECONFLICT);
}

static void test_revoke_ends_every_live_link_of_that_consultation_only(void **s)
{
    fx_t *f = *s;
    int64_t id = book(f, 0), other = book(f, 0);
    char h1[65], h2[65], h3[65];
    hash_of("t1", h1);
    hash_of("t2", h2);
    hash_of("t3", h3);
    assert_int_equal(pl_store_consult_link_create(f->st, id, 0, h1, f->now, f->now + DAY_MS, NULL),
                     0);
    assert_int_equal(pl_store_consult_link_create(f->st, id, 0, h2, f->now, f->now + DAY_MS, NULL),
                     0);
    assert_int_equal(
        pl_store_consult_link_create(f->st, other, 0, h3, f->now, f->now + DAY_MS, NULL), 0);
    assert_int_equal(pl_store_consult_links_revoke(f->st, id, PL_LINKS_ALL), 0);
    pl_consult_link_t l;
    assert_int_equal(pl_store_consult_link_find(f->st, h1, &l), 0);
    assert_true(l.revoked);
    assert_int_equal(pl_store_consult_link_find(f->st, h2, &l), 0);
    assert_true(l.revoked);
    assert_int_equal(pl_store_consult_link_find(f->st, h3, &l), 0);
    assert_false(l.revoked);
    /* Expiry is kept as given; judging it is the caller's (a link can be born expired). */
    char h4[65];
    hash_of("t4", h4);
    assert_int_equal(pl_store_consult_link_create(f->st, other, 0, h4, f->now, f->now - 1, NULL),
                     0);
    assert_int_equal(pl_store_consult_link_find(f->st, h4, &l), 0);
    assert_int_equal(l.expires_at, f->now - 1);
    assert_int_equal(pl_store_consult_links_revoke(f->st, 9999, PL_LINKS_ALL), 0);
}

/* ---- guests ---- */

/* One text value from a query on a separate raw connection ("" for NULL). */
static void raw_text(const fx_t *f, const char *sql, char *out, size_t cap)
{
    pl_db_t *db = raw_open(f);
    pl_dbs_t *st = NULL;
    assert_int_equal(pl_db_prepare(db, sql, &st), PL_DB_OK);
    assert_int_equal(pl_dbs_step(st), PL_DB_ROW);
    const char *t = pl_dbs_text(st, 0);
    snprintf(out, cap, "%s", t ? t : "");
    pl_dbs_finalize(st);
    pl_db_close(db);
}

static int64_t new_guest(fx_t *f, const char *name, const char *role)
{
    int64_t id = 0;
    assert_int_equal(pl_store_guest_create(f->st, name, role, f->now, &id), 0);
    assert_true(id > 0);
    return id;
}

static json_t *invited_entry(fx_t *f, int64_t consultation, size_t i)
{
    json_t *c = consult_json(f, consultation);
    json_t *e = json_incref(json_array_get(json_object_get(c, "invited"), i));
    assert_non_null(e);
    json_decref(c);
    return e;
}

static void test_guest_is_a_user_that_cannot_sign_in_and_belongs_nowhere(void **s)
{
    fx_t *f = *s;
    int64_t g = new_guest(f, "Maria Lopez", "interpreter");
    char sql[200], username[80], other[80], hash[80];
    /* In the table: kind 2 with guest_role set, a username nobody chose, a hash no password
     * verifies. */
    snprintf(sql, sizeof sql,
             "SELECT kind * 10 + CASE WHEN guest_role = 'interpreter' THEN 1 ELSE 0 END FROM "
             "users WHERE id = %lld",
             (long long)g);
    assert_int_equal(raw_int(f, sql), 21);
    snprintf(sql, sizeof sql, "SELECT password_hash FROM users WHERE id = %lld", (long long)g);
    raw_text(f, sql, hash, sizeof hash);
    assert_string_equal(hash, "!");
    snprintf(sql, sizeof sql, "SELECT created_at FROM users WHERE id = %lld", (long long)g);
    assert_int_equal(raw_int(f, sql), f->now);
    snprintf(sql, sizeof sql, "SELECT username FROM users WHERE id = %lld", (long long)g);
    raw_text(f, sql, username, sizeof username);
    assert_int_equal(strncmp(username, "guest:", 6), 0);
    assert_int_equal(strlen(username), 6 + 32);
    assert_int_equal(strspn(username + 6, "0123456789abcdef"), 32);
    /* Two guests of the same name are two users. */
    int64_t g2 = new_guest(f, "Maria Lopez", "carer");
    assert_int_not_equal(g2, g);
    snprintf(sql, sizeof sql, "SELECT username FROM users WHERE id = %lld", (long long)g2);
    raw_text(f, sql, other, sizeof other);
    assert_string_not_equal(other, username);

    /* In memory: PL_USER_GUEST with its role, no organisation even if the table had one. */
    assert_int_equal(pl_store_membership_add(f->st, g, f->org_a, PL_ROLE_GP), 0);
    pl_actor_t a = actor_of(f, g);
    assert_int_equal(a.kind, PL_USER_GUEST);
    assert_string_equal(a.guest_role, "interpreter");
    assert_string_equal(a.display_name, "Maria Lopez");
    assert_string_equal(a.username, username);
    assert_int_equal(a.n_orgs, 0);
    assert_int_equal(a.practice_id, 0);
    assert_string_equal(actor_of(f, g2).guest_role, "carer");
    /* Not a guest: no role. */
    assert_string_equal(actor_of(f, f->gp).guest_role, "");
    assert_int_equal(actor_of(f, f->gp).kind, PL_USER_STAFF);

    pl_user_t u;
    assert_int_equal(pl_store_user_by_username(f->st, username, &u), 0);
    assert_int_equal(u.id, g);
    assert_int_equal(u.kind, PL_USER_GUEST);
    assert_string_equal(u.password_hash, "!");
    assert_int_equal(pl_store_user_by_username(f->st, "gp", &u), 0);
    assert_int_equal(u.kind, PL_USER_STAFF);
    json_t *j = NULL;
    assert_int_equal(pl_store_user_json(f->st, g, &j), 0);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "guest");
    json_decref(j);
    char dob[16];
    assert_int_equal(pl_store_patient_dob(f->st, g, dob), -PL_ENOTFOUND);

    /* The schema knows two roles. */
    int64_t before = raw_int(f, "SELECT count(*) FROM users");
    int64_t bad = 0;
    assert_true(pl_store_guest_create(f->st, "X", "doctor", f->now, &bad) < 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM users"), before);
}

static void test_invited_guest_waits_and_is_admitted_once(void **s)
{
    fx_t *f = *s;
    int64_t id = book(f, 0), g = new_guest(f, "Maria Lopez", "interpreter");
    pl_consult_part_t p;
    bool moved = true;
    /* Not invited yet: no row, and nothing to stamp. */
    assert_int_equal(pl_store_consult_part_get(f->st, id, g, &p), -PL_ENOTFOUND);
    assert_int_equal(pl_store_consult_part_wait(f->st, id, g, f->now, &moved), -PL_ECONFLICT);
    assert_false(moved);
    moved = true;
    assert_int_equal(pl_store_consult_part_admit(f->st, id, g, f->now, &moved), -PL_ECONFLICT);
    assert_false(moved);

    bool added = false;
    assert_int_equal(pl_store_consult_invite(f->st, id, g, f->gp, f->now, &added), 0);
    assert_true(added);
    assert_int_equal(pl_store_consult_part_get(f->st, id, g, &p), 0);
    assert_true(p.invited);
    assert_int_equal(p.waiting_at, 0);
    assert_int_equal(p.admitted_at, 0);
    json_t *e = invited_entry(f, id, 0);
    assert_int_equal(jint(e, "id"), g);
    assert_string_equal(json_string_value(json_object_get(e, "display_name")), "Maria Lopez");
    assert_string_equal(json_string_value(json_object_get(e, "role")), "interpreter");
    assert_true(json_is_false(json_object_get(e, "waiting")));
    assert_true(json_is_false(json_object_get(e, "admitted")));
    json_decref(e);
    /* The guest takes the one place: nobody else fits. */
    assert_int_equal(pl_store_consult_invite(f->st, id, f->recep, f->gp, f->now, &added),
                     -PL_ECONFLICT);

    assert_int_equal(pl_store_consult_part_wait(f->st, id, g, f->now + 10, &moved), 0);
    assert_true(moved);
    assert_int_equal(pl_store_consult_part_wait(f->st, id, g, f->now + 20, &moved), 0);
    assert_false(moved); /* already waiting: the first time stands */
    assert_int_equal(pl_store_consult_part_get(f->st, id, g, &p), 0);
    assert_int_equal(p.waiting_at, f->now + 10);
    assert_int_equal(p.admitted_at, 0);
    e = invited_entry(f, id, 0);
    assert_true(json_is_true(json_object_get(e, "waiting")));
    assert_true(json_is_false(json_object_get(e, "admitted")));
    json_decref(e);

    assert_int_equal(pl_store_consult_part_admit(f->st, id, g, f->now + 30, &moved), 0);
    assert_true(moved);
    assert_int_equal(pl_store_consult_part_admit(f->st, id, g, f->now + 40, &moved), 0);
    assert_false(moved);
    /* Waiting again once admitted (a reload) changes nothing. */
    assert_int_equal(pl_store_consult_part_wait(f->st, id, g, f->now + 50, &moved), 0);
    assert_false(moved);
    assert_int_equal(pl_store_consult_part_get(f->st, id, g, &p), 0);
    assert_int_equal(p.waiting_at, f->now + 10);
    assert_int_equal(p.admitted_at, f->now + 30);
    e = invited_entry(f, id, 0);
    assert_true(json_is_false(json_object_get(e, "waiting")));
    assert_true(json_is_true(json_object_get(e, "admitted")));
    json_decref(e);
    /* The consultation's status is the patient's: a guest moves none of it. */
    assert_string_equal(consult_of(f, id).status, "booked");
    assert_int_equal(consult_of(f, id).started_at, 0);

    /* Admitted without having waited (let in before the patient arrives). */
    int64_t id2 = book(f, 0), g2 = new_guest(f, "Tom Taylor", "carer");
    assert_int_equal(pl_store_consult_invite(f->st, id2, g2, f->gp, f->now, &added), 0);
    assert_int_equal(pl_store_consult_part_admit(f->st, id2, g2, f->now + 5, &moved), 0);
    assert_true(moved);
    assert_int_equal(pl_store_consult_part_get(f->st, id2, g2, &p), 0);
    assert_int_equal(p.waiting_at, 0);
    assert_int_equal(p.admitted_at, f->now + 5);
    /* A guest is in the one consultation it was invited into, and nowhere else. */
    assert_int_equal(pl_store_consult_part_get(f->st, id2, g, &p), -PL_ENOTFOUND);
    assert_int_equal(pl_store_consult_part_get(f->st, 9999, g, &p), -PL_ENOTFOUND);

    /* In the call without an invitation (presence only): a row, but not invited. */
    int64_t id3 = book(f, 0);
    assert_int_equal(pl_store_consult_presence(f->st, id3, g2, PL_CONSULT_JOINED, f->now), 0);
    assert_int_equal(pl_store_consult_part_get(f->st, id3, g2, &p), 0);
    assert_false(p.invited);
    assert_int_equal(pl_store_consult_part_wait(f->st, id3, g2, f->now, &moved), -PL_ECONFLICT);
    assert_int_equal(pl_store_consult_part_admit(f->st, id3, g2, f->now, &moved), -PL_ECONFLICT);
    assert_int_equal(pl_store_consult_part_get(f->st, id3, g2, &p), 0);
    assert_int_equal(p.waiting_at, 0);
    assert_int_equal(p.admitted_at, 0);

    /* An invited colleague is listed as staff, never waiting, always admitted. */
    int64_t id4 = book(f, 0);
    assert_int_equal(pl_store_consult_invite(f->st, id4, f->recep, f->gp, f->now, &added), 0);
    e = invited_entry(f, id4, 0);
    assert_int_equal(jint(e, "id"), f->recep);
    assert_string_equal(json_string_value(json_object_get(e, "role")), "staff");
    assert_true(json_is_false(json_object_get(e, "waiting")));
    assert_true(json_is_true(json_object_get(e, "admitted")));
    json_decref(e);
}

static bool revoked(fx_t *f, const char *hash)
{
    pl_consult_link_t l;
    assert_int_equal(pl_store_consult_link_find(f->st, hash, &l), 0);
    return l.revoked;
}

static void test_guest_links_are_revoked_apart_from_the_patients(void **s)
{
    fx_t *f = *s;
    int64_t id = book(f, 0), other = book(f, 0);
    int64_t g = new_guest(f, "Maria Lopez", "interpreter"), g_other = new_guest(f, "B", "carer");
    bool added = false;
    assert_int_equal(pl_store_consult_invite(f->st, id, g, f->gp, f->now, &added), 0);
    assert_int_equal(pl_store_consult_invite(f->st, other, g_other, f->gp, f->now, &added), 0);
    char p1[65], p2[65], g1[65], g1b[65], o1[65], og[65];
    hash_of("p1", p1);
    hash_of("p2", p2);
    hash_of("g1", g1);
    hash_of("g1b", g1b);
    hash_of("o1", o1);
    hash_of("og", og);
    int64_t exp = f->now + DAY_MS;
    assert_int_equal(pl_store_consult_link_create(f->st, id, 0, p1, f->now, exp, NULL), 0);
    assert_int_equal(pl_store_consult_link_create(f->st, id, 0, p2, f->now, exp, NULL), 0);
    int64_t gl = 0;
    assert_int_equal(pl_store_consult_link_create(f->st, id, g, g1, f->now, exp, &gl), 0);
    assert_int_equal(pl_store_consult_link_create(f->st, other, 0, o1, f->now, exp, NULL), 0);
    assert_int_equal(pl_store_consult_link_create(f->st, other, g_other, og, f->now, exp, NULL), 0);

    /* Whose link it is comes back with it. */
    pl_consult_link_t l;
    assert_int_equal(pl_store_consult_link_find(f->st, g1, &l), 0);
    assert_int_equal(l.id, gl);
    assert_int_equal(l.guest_id, g);
    assert_int_equal(l.consultation_id, id);
    assert_int_equal(l.expires_at, exp);
    assert_int_equal(pl_store_consult_link_find(f->st, p1, &l), 0);
    assert_int_equal(l.guest_id, 0);
    /* A guest link for nobody is refused by the schema. */
    char nobody[65];
    hash_of("nobody", nobody);
    assert_true(pl_store_consult_link_create(f->st, id, 9999, nobody, f->now, exp, NULL) < 0);
    assert_int_equal(pl_store_consult_link_find(f->st, nobody, &l), -PL_ENOTFOUND);

    /* One guest's: only theirs. */
    assert_int_equal(pl_store_consult_links_revoke(f->st, id, g), 0);
    assert_true(revoked(f, g1));
    assert_false(revoked(f, p1));
    assert_false(revoked(f, p2));
    assert_false(revoked(f, og));
    /* The patient's (0): every patient link, no guest's. */
    assert_int_equal(pl_store_consult_link_create(f->st, id, g, g1b, f->now, exp, NULL), 0);
    assert_int_equal(pl_store_consult_links_revoke(f->st, id, 0), 0);
    assert_true(revoked(f, p1));
    assert_true(revoked(f, p2));
    assert_false(revoked(f, g1b));
    /* A guest of another consultation names nothing here. */
    assert_int_equal(pl_store_consult_links_revoke(f->st, id, g_other), 0);
    assert_false(revoked(f, g1b));
    assert_false(revoked(f, og));
    /* Everyone's (the end): that consultation only. */
    assert_int_equal(pl_store_consult_links_revoke(f->st, id, PL_LINKS_ALL), 0);
    assert_true(revoked(f, g1b));
    assert_false(revoked(f, o1));
    assert_false(revoked(f, og));
    assert_int_equal(pl_store_consult_links_revoke(f->st, other, PL_LINKS_ALL), 0);
    assert_true(revoked(f, o1));
    assert_true(revoked(f, og));
}

/* ---- patients and scoped sessions ---- */

static void test_scoped_session_carries_its_consultation(void **s)
{
    fx_t *f = *s;
    int64_t id = book(f, 0);
    char scoped[65], plain[65];
    hash_of("scoped-session", scoped);
    hash_of("plain-session", plain);
    assert_int_equal(
        pl_store_session_create_scoped(f->st, scoped, f->pat1, id, f->now, f->now + HOUR_MS), 0);
    assert_int_equal(pl_store_session_create(f->st, plain, f->pat1, f->now, f->now + HOUR_MS), 0);
    int64_t scope = -1;
    assert_int_equal(pl_store_session_scope(f->st, scoped, &scope), 0);
    assert_int_equal(scope, id);
    assert_int_equal(pl_store_session_scope(f->st, plain, &scope), 0);
    assert_int_equal(scope, 0);
    /* It is a session like any other for lookups, touches and sign-out. */
    pl_session_row_t row;
    assert_int_equal(pl_store_session_get(f->st, scoped, &row), 0);
    assert_int_equal(row.user_id, f->pat1);
    assert_int_equal(row.expires_at, f->now + HOUR_MS);
    assert_int_equal(pl_store_session_touch(f->st, scoped, f->now + 5), 0);
    assert_int_equal(pl_store_session_delete(f->st, scoped), 0);
    assert_int_equal(pl_store_session_scope(f->st, scoped, &scope), -PL_ENOTFOUND);
    /* The scope must name a real consultation. */
    assert_int_equal(
        pl_store_session_create_scoped(f->st, scoped, f->pat1, 9999, f->now, f->now + HOUR_MS),
        -PL_ECONFLICT);
}

static void test_patient_dob_is_read_for_patients_only(void **s)
{
    fx_t *f = *s;
    char dob[16];
    assert_int_equal(pl_store_patient_dob(f->st, f->pat1, dob), 0);
    assert_string_equal(dob, "1970-01-01");
    assert_int_equal(pl_store_patient_dob(f->st, f->gp, dob), -PL_ENOTFOUND);
    assert_int_equal(pl_store_patient_dob(f->st, 9999, dob), -PL_ENOTFOUND);
}

/* ---- migration 3 ---- */

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fprintf(stderr, "sql failed: %s\n", err ? err : "?");
    sqlite3_free(err);
    assert_int_equal(rc, SQLITE_OK);
}

static void bind_sealed(sqlite3_stmt *s, int idx, const uint8_t *key, const char *aad,
                        const char *pt)
{
    uint8_t buf[256];
    size_t n = 0;
    assert_int_equal(pl_aead_seal(key, aad, strlen(aad), pt, strlen(pt), buf, sizeof buf, &n), 0);
    sqlite3_bind_blob(s, idx, buf, (int)n, SQLITE_TRANSIENT);
}

static void test_version_2_database_migrates_to_consultations_and_keeps_data(void **s)
{
    fx_t *f = *s;
    /* A database exactly as a version-2 binary left it: migrations 1 and 2 only, with a
     * patient's conversation, messages, a receipt and a session in it. */
    char path[160], url[180];
    snprintf(path, sizeof path, "%s/v2.db", f->dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "PRAGMA foreign_keys=ON;"
                "CREATE TABLE schema_version (version INTEGER NOT NULL);");
    exec_ok(db, pl_schema_migrations[0]);
    exec_ok(db, pl_schema_migrations[1]);
    exec_ok(db, "INSERT INTO schema_version VALUES (1), (2);"
                "INSERT INTO orgs (id, code, name, kind, created_at) VALUES "
                "(1, 'A1', 'Practice', 'practice', 0);"
                "INSERT INTO users (id, kind, username, display_name, password_hash, created_at) "
                "VALUES (1, 1, 'pat', 'Pat', 'h', 0), (2, 2, 'doc', 'Doc', 'h', 0);"
                "INSERT INTO patients VALUES (1, '9434765919', '1960-02-29', 1);"
                "INSERT INTO memberships VALUES (2, 1, 2);"
                "INSERT INTO sessions VALUES ('abc', 1, 0, 0, 9000000000000);");
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO conversations (id, org_id, patient_id, kind, "
                                        "subject, create_txn, created_at, updated_at, last_seq) "
                                        "VALUES (7, 1, 1, 'clinical', ?, 'c1', 0, 0, 2)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    bind_sealed(st, 1, f->key, "conv:1", "Rash on my arm");
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO messages (conversation_id, seq, sender_id, "
                                        "txn_id, body, created_at) VALUES (7, ?, ?, ?, ?, 0)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    const char *bodies[] = {"It itches", "Send a photo please"};
    for (int i = 0; i < 2; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int(st, 1, i + 1);
        sqlite3_bind_int(st, 2, i + 1);
        sqlite3_bind_text(st, 3, i ? "m2" : "m1", -1, SQLITE_STATIC);
        bind_sealed(st, 4, f->key, "msg:7", bodies[i]);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    }
    sqlite3_finalize(st);
    exec_ok(db, "INSERT INTO receipts VALUES (7, 1, 2, 2);");
    /* The old kinds are all a version-2 database allows. */
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE conversations SET kind = 'video'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    pl_store_t *v = NULL;
    assert_int_equal(pl_store_open(&v, url, f->key), 0);
    /* Everything is still there and still opens. */
    json_t *c = NULL;
    assert_int_equal(pl_store_conv_json(v, 7, &c), 0);
    assert_string_equal(json_string_value(json_object_get(c, "subject")), "Rash on my arm");
    assert_int_equal(jint(c, "last_seq"), 2);
    json_decref(c);
    json_t *h = NULL;
    assert_int_equal(pl_store_msg_history(v, 7, 0, 10, true, &h), 0);
    json_t *msgs = json_object_get(h, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "body")),
                        "Send a photo please");
    json_decref(h);
    pl_receipt_sum_t rs;
    assert_int_equal(pl_store_receipt_summary(v, 7, 1, &rs), 0);
    assert_int_equal(rs.patient_read, 2);
    pl_session_row_t row;
    assert_int_equal(pl_store_session_get(v, "abc", &row), 0);
    assert_int_equal(row.user_id, 1);
    int64_t scope = -1;
    assert_int_equal(pl_store_session_scope(v, "abc", &scope), 0);
    assert_int_equal(scope, 0);
    char dob[16];
    assert_int_equal(pl_store_patient_dob(v, 1, dob), 0);
    assert_string_equal(dob, "1960-02-29");

    /* The new kind and tables work on the migrated file. */
    int64_t conv = 0, k = 0;
    assert_int_equal(pl_store_consult_conv_create(v, 1, 1, "Video consultation", 5, &conv), 0);
    assert_int_equal(pl_store_consult_create(v, conv, 1, 1, 2, 0, 5, &k), 0);
    pl_store_close(v);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), pl_schema_version);
    sqlite3_finalize(st);
    /* No row lost its parent in the rebuild, and the indexes are back. */
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE name IN "
                                        "('conversations_org', 'conversations_patient', "
                                        "'sessions_user', 'consultations_org')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 4);
    sqlite3_finalize(st);
    exec_ok(db, "PRAGMA foreign_keys=ON;");
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE conversations SET kind = 'bogus'", NULL, NULL, NULL), SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db,
                     "INSERT INTO messages (conversation_id, seq, sender_id, txn_id, body, "
                     "created_at) VALUES (999, 1, 1, 'x', x'00', 0)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    /* Opened again, nothing runs twice (migration 4 adds columns, which SQLite cannot add
     * twice; the version row is written in the migrations' own transaction) and the
     * consultation is still there. */
    assert_int_equal(pl_store_open(&v, url, f->key), 0);
    pl_consult_t got;
    assert_int_equal(pl_store_consult_get(v, k, &got), 0);
    assert_int_equal(got.conversation_id, conv);
    pl_store_close(v);
}

int main(void)
{
    pl_log_set_level(PL_LOG_WARN); /* keep migration notices out of the test output */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_video_conversation_is_in_progress_with_no_clock_and_a_sealed_subject),
        T(test_consultation_is_created_booked_and_reads_back),
        T(test_status_moves_only_from_the_expected_state_and_stamps_times),
        T(test_lists_filter_today_upcoming_and_all_and_page_newest_first),
        T(test_invite_adds_one_colleague_once),
        T(test_presence_keeps_the_first_join_and_the_latest_leave),
        T(test_link_is_stored_by_hash_and_claimed_once),
        T(test_revoke_ends_every_live_link_of_that_consultation_only),
        T(test_guest_is_a_user_that_cannot_sign_in_and_belongs_nowhere),
        T(test_invited_guest_waits_and_is_admitted_once),
        T(test_guest_links_are_revoked_apart_from_the_patients),
        T(test_scoped_session_carries_its_consultation),
        T(test_patient_dob_is_read_for_patients_only),
        T(test_version_2_database_migrates_to_consultations_and_keeps_data),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
