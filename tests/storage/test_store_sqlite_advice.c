/* Unit tests for storage/store_sqlite_advice.c through storage/store.h: advice requests (create
 * and its idempotency, the thread it opens, claim and its conflicts, assign, status, close, the
 * JSON view field by field, the lists by side and filter, paging, and the sealed question and
 * summary). Specialist services and agreements are in test_store_sqlite_agreement.c. Real SQLite
 * in a temporary directory (tests/storage/advice_fixture.h over store_fixture.h). */
#include "tests/storage/advice_fixture.h"
#include "tests/storage/store_fixture.h"

#define QUESTION "Itchy plaque on the left shin for three months: psoriasis or eczema?"
#define SUMMARY "Tried emollients and 1% hydrocortisone for four weeks, no better. Photo taken."

/* A new request (asserted new) by created_by for patient at practice to a->svc; consent
 * recorded by the nurse. Returns its id. */
static int64_t advice_full(afx_t *a, int64_t practice, int64_t patient, int64_t created_by,
                           const char *txn, const char *urgency, int64_t now, int64_t due_at)
{
    pl_advice_new_t n = {.practice_id = practice,
                         .service_id = a->svc,
                         .patient_id = patient,
                         .agreement_id = practice == a->f->org_a ? a->ag_a : a->ag_b,
                         .specialty = "Dermatology",
                         .urgency = urgency,
                         .question = QUESTION,
                         .summary = SUMMARY,
                         .txn_id = txn,
                         .consent_by = a->nurse,
                         .consent_at = now - 1000,
                         .created_by = created_by,
                         .now = now,
                         .due_at = due_at};
    int64_t id = 0;
    bool created = false;
    assert_int_equal(pl_store_advice_create(a->f->st, &n, &id, &created), 0);
    assert_true(created);
    assert_true(id > 0);
    return id;
}

/* Practice A's GP asks about patient 1, routine, due in 72 h. */
static int64_t advice(afx_t *a, const char *txn)
{
    return advice_full(a, a->f->org_a, a->f->pat1, a->f->gp, txn, "routine", a->f->now,
                       a->f->now + 72 * HOUR_MS);
}

static pl_advice_t advice_of(afx_t *a, int64_t id)
{
    pl_advice_t out;
    assert_int_equal(pl_store_advice_get(a->f->st, id, &out), 0);
    return out;
}

static json_t *view_at(afx_t *a, int64_t id, int64_t now)
{
    json_t *j = NULL;
    assert_int_equal(pl_store_advice_json(a->f->st, id, now, &j), 0);
    assert_true(json_is_object(j));
    return j;
}

/* The ids of a list reply's "requests", newest first, as "3,2,1". */
static void ids_of(const json_t *out, char *buf, size_t cap)
{
    size_t i, n = 0;
    json_t *r;
    buf[0] = 0;
    json_array_foreach(json_object_get(out, "requests"), i, r)
    {
        if (n >= cap) break;
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)jint(r, "id"));
    }
}

/* pl_store_advice_list, asserting success, as the ids it returned ("" for none). */
static void list_ids(afx_t *a, const char *side, const int64_t *orgs, int n, const char *filter,
                     int64_t me, int64_t before, int limit, int64_t now, char *buf, size_t cap)
{
    json_t *out = NULL;
    assert_int_equal(
        pl_store_advice_list(a->f->st, side, orgs, n, filter, me, before, limit, now, &out), 0);
    assert_true(json_is_array(json_object_get(out, "requests")));
    ids_of(out, buf, cap);
    json_decref(out);
}

static void ids_str(char *buf, size_t cap, int n, const int64_t *ids)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)ids[i]);
}

/* ---- advice requests ---- */

static void test_advice_create_opens_an_advice_thread_and_reads_back(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t due = f->now + 4 * HOUR_MS;
    int64_t id = advice_full(a, f->org_a, f->pat1, f->gp, "t1", "urgent", f->now, due);
    pl_advice_t r = advice_of(a, id);
    assert_int_equal(r.id, id);
    assert_int_equal(r.practice_id, f->org_a);
    assert_int_equal(r.service_id, a->svc);
    assert_int_equal(r.patient_id, f->pat1);
    assert_int_equal(r.agreement_id, a->ag_a);
    assert_int_equal(r.specialist_id, 0);
    assert_int_equal(r.created_by, f->gp);
    assert_int_equal(r.created_at, f->now);
    assert_int_equal(r.due_at, due);
    assert_int_equal(r.closed_at, 0);
    assert_string_equal(r.specialty, "Dermatology");
    assert_string_equal(r.urgency, "urgent");
    assert_string_equal(r.status, "new");
    assert_string_equal(r.outcome, "");
    /* Its thread: a conversation of kind advice at the practice, about the patient, shared
     * with the service (peer_org_id), nothing in it yet. */
    pl_conv_t c = conv_of(f, r.conversation_id);
    assert_string_equal(c.kind, "advice");
    assert_int_equal(c.org_id, f->org_a);
    assert_int_equal(c.patient_id, f->pat1);
    assert_int_equal(c.peer_org_id, a->svc);
    assert_string_equal(c.status, "in_progress");
    assert_int_equal(c.last_seq, 0);
    /* Found by its thread too; not by an ordinary conversation. */
    pl_advice_t by;
    assert_int_equal(pl_store_advice_by_conv(f->st, r.conversation_id, &by), 0);
    assert_int_equal(by.id, id);
    int64_t plain = new_conv(f, f->org_a, f->pat1, "plain");
    assert_int_equal(pl_store_advice_by_conv(f->st, plain, &by), -PL_ENOTFOUND);
    assert_int_equal(conv_of(f, plain).peer_org_id, 0);
    assert_int_equal(pl_store_advice_get(f->st, 9999, &by), -PL_ENOTFOUND);
    json_t *j = NULL;
    assert_int_equal(pl_store_advice_json(f->st, 9999, f->now, &j), -PL_ENOTFOUND);
}

static void test_advice_create_is_idempotent_by_asker_and_txn_id(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t first = advice(a, "same");
    /* A retry (same asker, same txn_id) finds the first, even with other words. */
    pl_advice_new_t n = {.practice_id = f->org_a,
                         .service_id = a->svc,
                         .patient_id = f->pat1,
                         .agreement_id = a->ag_a,
                         .specialty = "Skin lesions (suspected cancer)",
                         .urgency = "urgent",
                         .question = "a different question",
                         .summary = "a different summary",
                         .txn_id = "same",
                         .consent_by = f->gp,
                         .consent_at = f->now + 5,
                         .created_by = f->gp,
                         .now = f->now + 5,
                         .due_at = f->now + 5};
    int64_t id = 0;
    bool created = true;
    assert_int_equal(pl_store_advice_create(f->st, &n, &id, &created), 0);
    assert_false(created);
    assert_int_equal(id, first);
    assert_string_equal(advice_of(a, first).urgency, "routine");
    json_t *v = view_at(a, first, f->now);
    assert_string_equal(jstr(v, "question"), QUESTION);
    json_decref(v);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM advice_requests"), 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM conversations WHERE kind = 'advice'"), 1);

    /* Another asker with the same txn_id, or the same asker with another: new requests. */
    n.created_by = a->nurse;
    assert_int_equal(pl_store_advice_create(f->st, &n, &id, &created), 0);
    assert_true(created);
    assert_int_not_equal(id, first);
    int64_t by_nurse = id;
    n.created_by = f->gp;
    n.txn_id = "other";
    assert_int_equal(pl_store_advice_create(f->st, &n, &id, &created), 0);
    assert_true(created);
    assert_int_not_equal(id, first);
    assert_int_not_equal(id, by_nurse);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM advice_requests"), 3);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM conversations WHERE kind = 'advice'"), 3);
    /* Each request has a thread of its own. */
    assert_int_equal(raw_int(f, "SELECT count(DISTINCT conversation_id) FROM advice_requests"), 3);
}

static void test_claim_is_one_specialists_and_a_retry_by_them_succeeds(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t id = advice(a, "c1");
    assert_int_equal(pl_store_advice_claim(f->st, id, a->spec, f->now + 10), 0);
    pl_advice_t r = advice_of(a, id);
    assert_int_equal(r.specialist_id, a->spec);
    assert_string_equal(r.status, "in_progress");
    json_t *v = view_at(a, id, f->now + 10);
    assert_int_equal(jint(v, "updated_at"), f->now + 10);
    json_decref(v);
    /* The same specialist again (a retry): fine, nothing changes but the time. */
    assert_int_equal(pl_store_advice_claim(f->st, id, a->spec, f->now + 20), 0);
    assert_int_equal(advice_of(a, id).specialist_id, a->spec);
    /* Another specialist: conflict, and the first keeps it. */
    assert_int_equal(pl_store_advice_claim(f->st, id, a->spec2, f->now + 30), -PL_ECONFLICT);
    r = advice_of(a, id);
    assert_int_equal(r.specialist_id, a->spec);
    assert_string_equal(r.status, "in_progress");
    /* Claiming leaves a request awaiting the GP where it is. */
    assert_int_equal(pl_store_advice_set_status(f->st, id, "awaiting_gp", f->now + 40), 0);
    assert_int_equal(pl_store_advice_claim(f->st, id, a->spec, f->now + 50), 0);
    assert_string_equal(advice_of(a, id).status, "awaiting_gp");
    /* Closed: nobody claims it, not even its specialist. */
    assert_int_equal(pl_store_advice_close(f->st, id, "advice_given", f->now + 60), 0);
    assert_int_equal(pl_store_advice_claim(f->st, id, a->spec, f->now + 70), -PL_ECONFLICT);
    assert_int_equal(pl_store_advice_claim(f->st, id, a->spec2, f->now + 70), -PL_ECONFLICT);
    /* An unclaimed closed request cannot be claimed either. */
    int64_t other = advice(a, "c2");
    assert_int_equal(pl_store_advice_close(f->st, other, "seen_elsewhere", f->now), 0);
    assert_int_equal(pl_store_advice_claim(f->st, other, a->spec, f->now), -PL_ECONFLICT);
    assert_int_equal(advice_of(a, other).specialist_id, 0);
}

static void test_assign_hands_a_request_to_any_specialist_until_it_is_closed(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t id = advice(a, "as1");
    assert_int_equal(pl_store_advice_assign(f->st, id, a->spec, f->now + 1), 0);
    pl_advice_t r = advice_of(a, id);
    assert_int_equal(r.specialist_id, a->spec);
    assert_string_equal(r.status, "in_progress");
    /* From one specialist to another, whoever had it. */
    assert_int_equal(pl_store_advice_assign(f->st, id, a->spec2, f->now + 2), 0);
    assert_int_equal(advice_of(a, id).specialist_id, a->spec2);
    /* It keeps a status other than new. */
    assert_int_equal(pl_store_advice_set_status(f->st, id, "awaiting_gp", f->now + 3), 0);
    assert_int_equal(pl_store_advice_assign(f->st, id, a->spec, f->now + 4), 0);
    r = advice_of(a, id);
    assert_string_equal(r.status, "awaiting_gp");
    assert_int_equal(r.specialist_id, a->spec);
    assert_int_equal(pl_store_advice_close(f->st, id, "referral", f->now + 5), 0);
    assert_int_equal(pl_store_advice_assign(f->st, id, a->spec2, f->now + 6), -PL_ECONFLICT);
    assert_int_equal(advice_of(a, id).specialist_id, a->spec);
}

static void test_status_moves_until_closed_and_close_happens_once(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t id = advice(a, "st1");
    assert_int_equal(pl_store_advice_set_status(f->st, id, "awaiting_gp", f->now + 1), 0);
    assert_string_equal(advice_of(a, id).status, "awaiting_gp");
    assert_int_equal(pl_store_advice_set_status(f->st, id, "in_progress", f->now + 2), 0);
    assert_string_equal(advice_of(a, id).status, "in_progress");
    /* The schema refuses a status that is not one of the four. */
    assert_int_not_equal(pl_store_advice_set_status(f->st, id, "bogus", f->now + 3), 0);
    assert_string_equal(advice_of(a, id).status, "in_progress");

    assert_int_equal(pl_store_advice_close(f->st, id, "referral", f->now + 100), 0);
    pl_advice_t r = advice_of(a, id);
    assert_string_equal(r.status, "closed");
    assert_string_equal(r.outcome, "referral");
    assert_int_equal(r.closed_at, f->now + 100);
    /* Closing again is a conflict and changes nothing. */
    assert_int_equal(pl_store_advice_close(f->st, id, "advice_given", f->now + 200), -PL_ECONFLICT);
    r = advice_of(a, id);
    assert_string_equal(r.outcome, "referral");
    assert_int_equal(r.closed_at, f->now + 100);
    /* Nor does it reopen. */
    assert_int_equal(pl_store_advice_set_status(f->st, id, "in_progress", f->now + 300),
                     -PL_ECONFLICT);
    assert_string_equal(advice_of(a, id).status, "closed");
    /* An outcome that is not one of the three is refused and leaves it open. */
    int64_t other = advice(a, "st2");
    assert_int_not_equal(pl_store_advice_close(f->st, other, "cured", f->now), 0);
    assert_string_equal(advice_of(a, other).status, "new");
}

static void test_json_view_carries_every_field_with_the_patient_identity(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t due = f->now + 72 * HOUR_MS;
    int64_t id = advice(a, "v1");
    pl_advice_t r = advice_of(a, id);
    json_t *v = view_at(a, id, f->now);
    assert_int_equal(json_object_size(v), 19); /* nothing more than these: */
    assert_int_equal(jint(v, "id"), id);
    assert_int_equal(jint(v, "conversation_id"), r.conversation_id);
    json_t *p = json_object_get(v, "practice");
    assert_int_equal(json_object_size(p), 2);
    assert_int_equal(jint(p, "id"), f->org_a);
    assert_string_equal(jstr(p, "name"), "Practice A81001");
    json_t *sv = json_object_get(v, "service");
    assert_int_equal(json_object_size(sv), 2);
    assert_int_equal(jint(sv, "id"), a->svc);
    assert_string_equal(jstr(sv, "name"), "Dermatology, Test Hospital");
    assert_string_equal(jstr(v, "specialty"), "Dermatology");
    assert_string_equal(jstr(v, "urgency"), "routine");
    assert_string_equal(jstr(v, "status"), "new");
    assert_string_equal(jstr(v, "question"), QUESTION);
    assert_string_equal(jstr(v, "summary"), SUMMARY);
    json_t *cb = json_object_get(v, "created_by");
    assert_int_equal(json_object_size(cb), 2);
    assert_int_equal(jint(cb, "id"), f->gp);
    assert_string_equal(jstr(cb, "display_name"), "gp");
    assert_true(json_is_null(json_object_get(v, "specialist")));
    json_t *pt = json_object_get(v, "patient");
    assert_int_equal(json_object_size(pt), 4);
    assert_int_equal(jint(pt, "id"), f->pat1);
    assert_string_equal(jstr(pt, "display_name"), "pat1");
    assert_string_equal(jstr(pt, "nhs_number"), "9434765919");
    assert_string_equal(jstr(pt, "date_of_birth"), "1970-01-01");
    /* Consent was recorded by the nurse, a second before the request. */
    json_t *cs = json_object_get(v, "consent");
    assert_int_equal(json_object_size(cs), 3);
    assert_int_equal(jint(cs, "recorded_by"), a->nurse);
    assert_string_equal(jstr(cs, "recorded_by_name"), "nurse");
    assert_int_equal(jint(cs, "recorded_at"), f->now - 1000);
    assert_int_equal(jint(v, "created_at"), f->now);
    assert_int_equal(jint(v, "due_at"), due);
    assert_true(json_is_false(json_object_get(v, "overdue")));
    assert_true(json_is_null(json_object_get(v, "outcome")));
    assert_true(json_is_null(json_object_get(v, "closed_at")));
    assert_int_equal(jint(v, "updated_at"), f->now);
    json_decref(v);

    /* Overdue once past due_at (not at it), while open. */
    v = view_at(a, id, due);
    assert_true(json_is_false(json_object_get(v, "overdue")));
    json_decref(v);
    v = view_at(a, id, due + 1);
    assert_true(json_is_true(json_object_get(v, "overdue")));
    json_decref(v);

    /* Claimed and closed: the specialist, the outcome and when; never overdue again. */
    assert_int_equal(pl_store_advice_claim(f->st, id, a->spec2, f->now + 1000), 0);
    assert_int_equal(pl_store_advice_close(f->st, id, "advice_given", f->now + 2000), 0);
    v = view_at(a, id, due + HOUR_MS);
    json_t *sp = json_object_get(v, "specialist");
    assert_int_equal(json_object_size(sp), 2);
    assert_int_equal(jint(sp, "id"), a->spec2);
    assert_string_equal(jstr(sp, "display_name"), "spec2");
    assert_string_equal(jstr(v, "status"), "closed");
    assert_string_equal(jstr(v, "outcome"), "advice_given");
    assert_int_equal(jint(v, "closed_at"), f->now + 2000);
    assert_int_equal(jint(v, "updated_at"), f->now + 2000);
    assert_true(json_is_false(json_object_get(v, "overdue")));
    json_decref(v);
}

static void test_question_and_summary_are_sealed_and_bound_to_their_request(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t id = advice(a, "seal1");
    /* On disk: blobs, neither of them the words, nor the thread's subject. */
    char sql[160];
    if (!f->pg) { /* PostgreSQL's columns are typed bytea; the scans below cover both */
        snprintf(sql, sizeof sql,
                 "SELECT typeof(question) = 'blob' AND typeof(summary) = 'blob' FROM "
                 "advice_requests WHERE id = %lld",
                 (long long)id);
        assert_int_equal(raw_int(f, sql), 1);
        snprintf(sql, sizeof sql,
                 "SELECT instr(CAST(question AS TEXT), 'psoriasis') + instr(CAST(summary AS "
                 "TEXT), 'hydrocortisone') FROM advice_requests WHERE id = %lld",
                 (long long)id);
        assert_int_equal(raw_int(f, sql), 0);
    }
    snprintf(sql, sizeof sql, "SELECT length(question) > %d FROM advice_requests WHERE id = %lld",
             (int)strlen(QUESTION), (long long)id);
    assert_int_equal(raw_int(f, sql), 1); /* nonce and tag on top of the text */
    assert_false(store_files_contain(f, "psoriasis or eczema"));
    assert_false(store_files_contain(f, "1% hydrocortisone"));
    assert_false(store_files_contain(f, "Advice: Dermatology"));

    /* A question moved onto another request does not open there: the view fails rather than
     * show the wrong patient's words. */
    int64_t other = advice(a, "seal2");
    snprintf(sql, sizeof sql,
             "UPDATE advice_requests SET question = (SELECT question FROM advice_requests "
             "WHERE id = %lld) WHERE id = %lld",
             (long long)id, (long long)other);
    raw_exec(f, sql);
    json_t *v = NULL;
    assert_true(pl_store_advice_json(f->st, other, f->now, &v) < 0);
    assert_null(v);
    v = view_at(a, id, f->now);
    assert_string_equal(jstr(v, "question"), QUESTION);
    json_decref(v);

    /* With another key, nothing opens. */
    uint8_t wrong[32];
    memcpy(wrong, f->key, sizeof wrong);
    wrong[0] ^= 1;
    reopen_refused(f, wrong);
    reopen(f, f->key);
    v = view_at(a, id, f->now);
    assert_string_equal(jstr(v, "summary"), SUMMARY);
    json_decref(v);
}

static void test_lists_by_side_and_filter_newest_first(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t now = f->now;
    /* Practice A: the GP's overdue one (due an hour ago), the GP's awaiting one, the nurse's
     * new one, the GP's closed one (overdue too, but closed). Practice B: one new. */
    int64_t overdue =
        advice_full(a, f->org_a, f->pat1, f->gp, "l1", "urgent", now - 5 * HOUR_MS, now - HOUR_MS);
    int64_t awaiting = advice(a, "l2");
    int64_t by_nurse =
        advice_full(a, f->org_a, f->pat2, a->nurse, "l3", "routine", now, now + 72 * HOUR_MS);
    int64_t closed = advice_full(a, f->org_a, f->pat2, f->gp, "l4", "urgent", now - 9 * HOUR_MS,
                                 now - 5 * HOUR_MS);
    int64_t at_b =
        advice_full(a, f->org_b, f->pat_b, f->gp_b, "l5", "routine", now, now + 72 * HOUR_MS);
    assert_int_equal(pl_store_advice_claim(f->st, overdue, a->spec, now), 0);
    assert_int_equal(pl_store_advice_claim(f->st, awaiting, a->spec, now), 0);
    assert_int_equal(pl_store_advice_set_status(f->st, awaiting, "awaiting_gp", now), 0);
    assert_int_equal(pl_store_advice_claim(f->st, closed, a->spec, now), 0);
    assert_int_equal(pl_store_advice_close(f->st, closed, "advice_given", now), 0);
    assert_int_equal(pl_store_advice_claim(f->st, at_b, a->spec2, now), 0);

    const int64_t pa[] = {f->org_a}, pb[] = {f->org_b}, sv[] = {a->svc}, sv2[] = {a->svc2};
    char got[128], want[128];
#define EXPECT(...)                                                                                \
    do {                                                                                           \
        const int64_t ids_[] = {__VA_ARGS__};                                                      \
        ids_str(want, sizeof want, (int)(sizeof ids_ / sizeof ids_[0]), ids_);                     \
        assert_string_equal(got, want);                                                            \
    } while (0)

    /* Sent: the practice's own, every filter. */
    list_ids(a, "sent", pa, 1, NULL, f->gp, 0, 50, now, got, sizeof got);
    EXPECT(closed, by_nurse, awaiting, overdue);
    list_ids(a, "sent", pa, 1, "open", f->gp, 0, 50, now, got, sizeof got);
    EXPECT(by_nurse, awaiting, overdue);
    list_ids(a, "sent", pa, 1, "closed", f->gp, 0, 50, now, got, sizeof got);
    EXPECT(closed);
    list_ids(a, "sent", pa, 1, "overdue", f->gp, 0, 50, now, got, sizeof got);
    EXPECT(overdue);
    list_ids(a, "sent", pa, 1, "mine", f->gp, 0, 50, now, got, sizeof got);
    EXPECT(closed, awaiting, overdue); /* asked by the GP, closed or not */
    list_ids(a, "sent", pa, 1, "mine", a->nurse, 0, 50, now, got, sizeof got);
    EXPECT(by_nurse);
    list_ids(a, "sent", pa, 1, "new", f->gp, 0, 50, now, got, sizeof got);
    EXPECT(by_nurse);
    list_ids(a, "sent", pa, 1, "awaiting_gp", f->gp, 0, 50, now, got, sizeof got);
    EXPECT(awaiting);
    list_ids(a, "sent", pb, 1, NULL, f->gp_b, 0, 50, now, got, sizeof got);
    EXPECT(at_b);
    /* A practice's list is never another's; a service's id on the sent side finds nothing. */
    list_ids(a, "sent", sv, 1, NULL, a->spec, 0, 50, now, got, sizeof got);
    assert_string_equal(got, "");

    /* Queue: the service's, from both practices. */
    list_ids(a, "queue", sv, 1, NULL, a->spec, 0, 50, now, got, sizeof got);
    EXPECT(at_b, closed, by_nurse, awaiting, overdue);
    list_ids(a, "queue", sv, 1, "open", a->spec, 0, 50, now, got, sizeof got);
    EXPECT(at_b, by_nurse, awaiting, overdue);
    list_ids(a, "queue", sv, 1, "overdue", a->spec, 0, 50, now, got, sizeof got);
    EXPECT(overdue);
    /* An hour before the first was due, nothing was overdue. */
    list_ids(a, "queue", sv, 1, "overdue", a->spec, 0, 50, now - 2 * HOUR_MS, got, sizeof got);
    assert_string_equal(got, "");
    list_ids(a, "queue", sv, 1, "mine", a->spec, 0, 50, now, got, sizeof got);
    EXPECT(awaiting, overdue); /* claimed by this specialist and still open */
    list_ids(a, "queue", sv, 1, "mine", a->spec2, 0, 50, now, got, sizeof got);
    EXPECT(at_b);
    list_ids(a, "queue", sv, 1, "new", a->spec, 0, 50, now, got, sizeof got);
    EXPECT(by_nurse);
    list_ids(a, "queue", sv, 1, "awaiting_gp", a->spec, 0, 50, now, got, sizeof got);
    EXPECT(awaiting);
    list_ids(a, "queue", sv, 1, "closed", a->spec, 0, 50, now, got, sizeof got);
    EXPECT(closed);
    list_ids(a, "queue", sv2, 1, NULL, a->spec, 0, 50, now, got, sizeof got);
    assert_string_equal(got, "");
    list_ids(a, "queue", pa, 1, NULL, a->spec, 0, 50, now, got, sizeof got);
    assert_string_equal(got, "");

    /* Paging: two at a time, next_before the last id given, null on a short page. */
    json_t *out = NULL;
    assert_int_equal(pl_store_advice_list(f->st, "queue", sv, 1, NULL, a->spec, 0, 2, now, &out),
                     0);
    ids_of(out, got, sizeof got);
    EXPECT(at_b, closed);
    assert_int_equal(jint(out, "next_before"), closed);
    json_decref(out);
    assert_int_equal(
        pl_store_advice_list(f->st, "queue", sv, 1, NULL, a->spec, closed, 2, now, &out), 0);
    ids_of(out, got, sizeof got);
    EXPECT(by_nurse, awaiting);
    assert_int_equal(jint(out, "next_before"), awaiting);
    json_decref(out);
    assert_int_equal(
        pl_store_advice_list(f->st, "queue", sv, 1, NULL, a->spec, awaiting, 2, now, &out), 0);
    ids_of(out, got, sizeof got);
    EXPECT(overdue);
    assert_true(json_is_null(json_object_get(out, "next_before")));
    json_decref(out);

    /* Each entry is the full view, with overdue computed at the time given. */
    assert_int_equal(pl_store_advice_list(f->st, "sent", pa, 1, "overdue", f->gp, 0, 50, now, &out),
                     0);
    json_t *e = json_array_get(json_object_get(out, "requests"), 0);
    assert_int_equal(json_object_size(e), 19);
    assert_true(json_is_true(json_object_get(e, "overdue")));
    assert_string_equal(jstr(e, "urgency"), "urgent");
    assert_string_equal(jstr(e, "question"), QUESTION);
    assert_int_equal(jint(json_object_get(e, "specialist"), "id"), a->spec);
    assert_string_equal(jstr(json_object_get(e, "patient"), "nhs_number"), "9434765919");
    json_decref(out);
#undef EXPECT
}

int main(void)
{
    pl_log_set_level(PL_LOG_WARN); /* keep migration notices out of the test output */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_advice, teardown_advice)
    const struct CMUnitTest tests[] = {
        T(test_advice_create_opens_an_advice_thread_and_reads_back),
        T(test_advice_create_is_idempotent_by_asker_and_txn_id),
        T(test_claim_is_one_specialists_and_a_retry_by_them_succeeds),
        T(test_assign_hands_a_request_to_any_specialist_until_it_is_closed),
        T(test_status_moves_until_closed_and_close_happens_once),
        T(test_json_view_carries_every_field_with_the_patient_identity),
        T(test_question_and_summary_are_sealed_and_bound_to_their_request),
        T(test_lists_by_side_and_filter_newest_first),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
