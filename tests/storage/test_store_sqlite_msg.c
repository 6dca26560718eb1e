/* Unit tests for storage/store_sqlite_msg.c through storage/store.h: per-conversation sequence
 * numbers and idempotent writes, encryption at rest (checked against the raw database and WAL
 * bytes), history and inbox paging and filters, the response clock (waiting_since), the
 * resumable event stream and receipts. */
#include "tests/storage/store_fixture.h"

/* ---- messages ---- */

static void test_msg_append_assigns_seq_1_2_3_per_conversation(void **state)
{
    fx_t *f = *state;
    int64_t c1 = new_conv(f, f->org_a, f->pat1, "c1");
    int64_t c2 = new_conv(f, f->org_a, f->pat2, "c2");
    assert_int_equal(send_msg(f, c1, f->pat1, false, "a1", "one").seq, 1);
    assert_int_equal(send_msg(f, c2, f->pat2, false, "b1", "uno").seq, 1);
    assert_int_equal(send_msg(f, c1, f->gp, false, "a2", "two").seq, 2);
    /* A note follows message 2 and takes its seq; the next message is 3. */
    assert_int_equal(send_msg(f, c1, f->gp, true, "a3", "three").seq, 2);
    assert_int_equal(send_msg(f, c1, f->pat1, false, "a4", "four").seq, 3);
    assert_int_equal(send_msg(f, c2, f->gp, false, "b2", "dos").seq, 2);
    assert_int_equal(conv_of(f, c1).last_seq, 3);
    assert_int_equal(conv_of(f, c2).last_seq, 2);
}

static void test_msg_append_repeat_txn_returns_original_without_new_row(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "c1");
    pl_msg_t first = send_at(f, c, f->pat1, false, "t1", "original body", f->now);

    pl_conv_t cv = conv_of(f, c);
    pl_msg_t again;
    bool dup = false;
    assert_int_equal(pl_store_msg_append(f->st, &cv, f->pat1, false, "t1", "retried body", 12,
                                         f->now + 5000, &again, &dup),
                     0);
    assert_true(dup);
    assert_int_equal(again.id, first.id);
    assert_int_equal(again.seq, 1);
    assert_int_equal(again.conversation_id, c);
    assert_int_equal(again.created_at, first.created_at);
    assert_int_equal(conv_of(f, c).last_seq, 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM messages"), 1);

    json_t *m = NULL;
    assert_int_equal(pl_store_msg_json(f->st, first.id, &m), 0);
    assert_string_equal(json_string_value(json_object_get(m, "body")), "original body");
    json_decref(m);
    /* The next new message follows on with no gap. */
    assert_int_equal(send_msg(f, c, f->pat1, false, "t2", "next").seq, 2);
}

static void test_msg_append_same_txn_from_other_sender_is_a_new_message(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "c1");
    pl_msg_t a = send_msg(f, c, f->pat1, false, "t1", "from patient");
    pl_msg_t b = send_msg(f, c, f->gp, false, "t1", "from gp");
    assert_int_not_equal(a.id, b.id);
    assert_int_equal(b.seq, 2);
}

static void test_msg_append_txn_reused_in_other_conversation_conflicts(void **state)
{
    fx_t *f = *state;
    int64_t c1 = new_conv(f, f->org_a, f->pat1, "c1");
    int64_t c2 = new_conv(f, f->org_a, f->pat1, "c2");
    (void)send_msg(f, c1, f->pat1, false, "t1", "first");
    pl_conv_t cv2 = conv_of(f, c2);
    pl_msg_t m;
    bool dup = false;
    assert_int_equal(
        pl_store_msg_append(f->st, &cv2, f->pat1, false, "t1", "other", 5, f->now, &m, &dup),
        -PL_ECONFLICT);
    assert_int_equal(conv_of(f, c2).last_seq, 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM messages"), 1);
}

static void test_msg_append_to_missing_conversation_is_not_found(void **state)
{
    fx_t *f = *state;
    pl_conv_t ghost;
    memset(&ghost, 0, sizeof ghost);
    ghost.id = 4242;
    pl_msg_t m;
    bool dup;
    assert_int_equal(
        pl_store_msg_append(f->st, &ghost, f->pat1, false, "t", "x", 1, f->now, &m, &dup),
        -PL_ENOTFOUND);
}

static void test_conv_create_is_idempotent_on_patient_and_create_txn(void **state)
{
    fx_t *f = *state;
    int64_t first = new_conv(f, f->org_a, f->pat1, "create-1");
    int64_t id = 0;
    bool dup = false;
    assert_int_equal(pl_store_conv_create(f->st, f->org_a, f->pat1, "clinical", "different", NULL,
                                          "create-1", f->now, &id, &dup),
                     0);
    assert_true(dup);
    assert_int_equal(id, first);
    /* The same txn from another patient is their own, new conversation. */
    int64_t other = new_conv(f, f->org_a, f->pat2, "create-1");
    assert_int_not_equal(other, first);

    json_t *list = NULL;
    assert_int_equal(pl_store_conv_list_patient(f->st, f->pat1, 0, 10, &list), 0);
    json_t *convs = json_object_get(list, "conversations");
    assert_int_equal(json_array_size(convs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(convs, 0), "subject")),
                        "Repeat prescription");
    json_decref(list);
}

/* ---- encryption at rest ---- */

static void test_sealed_text_never_reaches_the_database_or_wal(void **state)
{
    fx_t *f = *state;
    const char *secret_body = "ZEBRA-body-ulcer-7731";
    const char *secret_subject = "QUAGGA-subject-rash-4410";
    const char *secret_answer = "OKAPI-answer-asthma-9921";
    const char *plain_txn = "PLAINTXN-control-5150"; /* txn ids are not sealed */
    json_t *answers = json_pack("{ss}", "symptoms", secret_answer);
    int64_t id = 0;
    bool dup;
    assert_int_equal(pl_store_conv_create(f->st, f->org_a, f->pat1, "clinical", secret_subject,
                                          answers, "c1", f->now, &id, &dup),
                     0);
    json_decref(answers);
    pl_msg_t m = send_msg(f, id, f->pat1, false, plain_txn, secret_body);
    json_t *payload = json_pack("{ss}", "body", secret_body);
    int64_t ev = 0;
    assert_int_equal(
        pl_store_event_append(f->st, id, f->org_a, f->pat1, false, "message", payload, f->now, &ev),
        0);
    json_decref(payload);

    /* The scan can see plain text: the unsealed txn id is found, so a miss below means sealed. */
    assert_true(store_files_contain(f, plain_txn));
    assert_false(store_files_contain(f, secret_body));
    assert_false(store_files_contain(f, secret_subject));
    assert_false(store_files_contain(f, secret_answer));

    /* Once closed (WAL checkpointed into the main file) it is still absent. */
    reopen(f, f->key);
    assert_false(store_files_contain(f, secret_body));
    assert_false(store_files_contain(f, secret_subject));

    /* And the store opens it all again under the right key. */
    json_t *mj = NULL, *cj = NULL;
    assert_int_equal(pl_store_msg_json(f->st, m.id, &mj), 0);
    assert_string_equal(json_string_value(json_object_get(mj, "body")), secret_body);
    assert_int_equal(pl_store_conv_json(f->st, id, &cj), 0);
    assert_string_equal(json_string_value(json_object_get(cj, "subject")), secret_subject);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(cj, "answers"), "symptoms")),
        secret_answer);
    json_decref(mj);
    json_decref(cj);
}

static void test_wrong_key_cannot_open_bodies(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "c1");
    pl_msg_t m = send_msg(f, c, f->pat1, false, "t1", "private words");
    uint8_t other[32];
    memcpy(other, f->key, sizeof other);
    other[0] ^= 0x01;
    /* The master key opens nothing but the data keys: another one is refused at open. */
    reopen_refused(f, other);
    json_t *j = NULL;
    reopen(f, f->key);
    assert_int_equal(pl_store_msg_json(f->st, m.id, &j), 0);
    json_decref(j);
}

static void test_body_copied_to_another_conversation_fails_to_open(void **state)
{
    fx_t *f = *state;
    int64_t c1 = new_conv(f, f->org_a, f->pat1, "c1");
    int64_t c2 = new_conv(f, f->org_a, f->pat1, "c2");
    (void)send_msg(f, c1, f->pat1, false, "t1", "about c1");
    pl_msg_t m2 = send_msg(f, c2, f->pat1, false, "t2", "about c2");
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE messages SET body = (SELECT body FROM messages WHERE conversation_id = %lld) "
             "WHERE id = %lld",
             (long long)c1, (long long)m2.id);
    pl_store_close(f->st);
    f->st = NULL;
    raw_exec(f, sql);
    reopen(f, f->key);
    json_t *j = NULL;
    assert_int_equal(pl_store_msg_json(f->st, m2.id, &j), -PL_ECRYPTO);
}

/* ---- history ---- */

/* Seqs of a history page, in order. Returns the count. */
static size_t page_seqs(const json_t *page, int64_t *out, size_t cap)
{
    const json_t *msgs = json_object_get(page, "messages");
    size_t n = json_array_size(msgs);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++)
        out[i] = jint(json_array_get(msgs, i), "seq");
    return n;
}

static int64_t next_before(const json_t *page)
{
    const json_t *v = json_object_get(page, "next_before");
    if (json_is_null(v)) return 0;
    assert_true(json_is_integer(v));
    return (int64_t)json_integer_value(v);
}

static int64_t page_first_id(const json_t *page)
{
    return jint(json_array_get(json_object_get(page, "messages"), 0), "id");
}

static void test_history_pages_backwards_through_every_message_once(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "c1");
    char txn[16];
    for (int i = 1; i <= 7; i++) {
        snprintf(txn, sizeof txn, "t%d", i);
        (void)send_msg(f, c, i % 2 ? f->pat1 : f->gp, false, txn, txn);
    }
    int64_t seqs[8];
    json_t *p = NULL;
    const int64_t want[3][3] = {{5, 6, 7}, {2, 3, 4}, {1}};
    const size_t want_n[3] = {3, 3, 1};
    int64_t before = 0;
    for (int page = 0; page < 3; page++) {
        assert_int_equal(pl_store_msg_history(f->st, c, before, 3, true, &p), 0);
        size_t n = page_seqs(p, seqs, 8);
        assert_int_equal(n, want_n[page]);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(seqs[i], want[page][i]);
        before = next_before(p);
        /* The cursor is the oldest entry's id while older entries remain, then null. */
        assert_int_equal(before, page < 2 ? page_first_id(p) : 0);
        json_decref(p);
    }
    /* A page that holds everything says there is nothing before it. */
    assert_int_equal(pl_store_msg_history(f->st, c, 0, 7, true, &p), 0);
    assert_int_equal(page_seqs(p, seqs, 8), 7);
    assert_int_equal(next_before(p), 0);
    const json_t *m3 = json_array_get(json_object_get(p, "messages"), 2);
    assert_string_equal(json_string_value(json_object_get(m3, "body")), "t3");
    assert_string_equal(json_string_value(json_object_get(m3, "kind")), "message");
    json_decref(p);
}

static void test_history_without_internal_hides_notes(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "c1");
    char txn[16];
    for (int i = 1; i <= 7; i++) {
        snprintf(txn, sizeof txn, "t%d", i);
        bool note = i == 3 || i == 6;
        (void)send_msg(f, c, note ? f->gp : f->pat1, note, txn, note ? "NOTE" : txn);
    }
    /* Notes take the seq of the message they follow: the patient's seqs have no gaps. */
    int64_t seqs[8];
    json_t *p = NULL;
    assert_int_equal(pl_store_msg_history(f->st, c, 0, 10, false, &p), 0);
    assert_int_equal(page_seqs(p, seqs, 8), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(seqs[i], i + 1);
    char *dump = json_dumps(p, 0);
    assert_null(strstr(dump, "NOTE"));
    free(dump);
    json_decref(p);

    /* Paged two at a time, the patient still sees exactly the visible ones, once each. */
    int64_t before = 0;
    size_t total = 0;
    const int64_t pages[3][2] = {{4, 5}, {2, 3}, {1}};
    for (int page = 0; page < 3; page++) {
        assert_int_equal(pl_store_msg_history(f->st, c, before, 2, false, &p), 0);
        size_t n = page_seqs(p, seqs, 8);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(seqs[i], pages[page][i]);
            total++;
        }
        before = next_before(p);
        json_decref(p);
        if (!before) break;
    }
    assert_int_equal(total, 5);

    /* Staff see all seven in transcript order, each note right after the message it follows,
     * and paging one at a time never splits or repeats an entry. */
    const int64_t staff_seqs[7] = {1, 2, 2, 3, 4, 4, 5};
    const bool staff_note[7] = {false, false, true, false, false, true, false};
    before = 0;
    for (int k = 6; k >= 0; k--) {
        assert_int_equal(pl_store_msg_history(f->st, c, before, 1, true, &p), 0);
        const json_t *m = json_array_get(json_object_get(p, "messages"), 0);
        assert_int_equal(jint(m, "seq"), staff_seqs[k]);
        assert_string_equal(json_string_value(json_object_get(m, "kind")),
                            staff_note[k] ? "note" : "message");
        before = next_before(p);
        assert_true(k == 0 ? before == 0 : before > 0);
        json_decref(p);
    }
}

/* ---- events ---- */

typedef struct {
    int64_t c1, c2, c3; /* pat1 at A, pat2 at A, pat_b at B */
    int64_t ev[9];      /* ev[1..8], in append order */
} events_fx_t;

/* e1 c1 | e2 c3 | e3 c1 staff | e4 c2 | e5 c1 | e6 c3 staff | e7 c2 staff | e8 c1 */
static events_fx_t seed_events(fx_t *f)
{
    events_fx_t e;
    memset(&e, 0, sizeof e);
    e.c1 = new_conv(f, f->org_a, f->pat1, "c1");
    e.c2 = new_conv(f, f->org_a, f->pat2, "c2");
    e.c3 = new_conv(f, f->org_b, f->pat_b, "c3");
    const struct {
        int64_t conv, org, patient;
        bool staff;
    } rows[9] = {
        {0, 0, 0, false},
        {e.c1, f->org_a, f->pat1, false},
        {e.c3, f->org_b, f->pat_b, false},
        {e.c1, f->org_a, f->pat1, true},
        {e.c2, f->org_a, f->pat2, false},
        {e.c1, f->org_a, f->pat1, false},
        {e.c3, f->org_b, f->pat_b, true},
        {e.c2, f->org_a, f->pat2, true},
        {e.c1, f->org_a, f->pat1, false},
    };
    for (int i = 1; i <= 8; i++) {
        json_t *payload = json_pack("{si}", "n", i);
        assert_int_equal(pl_store_event_append(f->st, rows[i].conv, rows[i].org, rows[i].patient,
                                               rows[i].staff, "message", payload, f->now, &e.ev[i]),
                         0);
        json_decref(payload);
    }
    return e;
}

/* Asserts that the events since `after` for user are exactly ev[want[0..n)], in order, with
 * their payloads intact. */
static void expect_events(fx_t *f, const events_fx_t *e, int64_t user, int64_t after,
                          const int *want, size_t n)
{
    pl_actor_t a = actor_of(f, user);
    json_t *arr = NULL;
    assert_int_equal(pl_store_events_since(f->st, &a, after, 100, &arr), 0);
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++) {
        const json_t *ev = json_array_get(arr, i);
        assert_int_equal(jint(ev, "cursor"), e->ev[want[i]]);
        assert_int_equal(jint(json_object_get(ev, "payload"), "n"), want[i]);
    }
    json_decref(arr);
}

static void test_patient_events_are_only_their_own_and_never_staff_only(void **state)
{
    fx_t *f = *state;
    events_fx_t e = seed_events(f);
    const int pat1[] = {1, 5, 8}, pat2[] = {4}, pat_b[] = {2};
    expect_events(f, &e, f->pat1, 0, pat1, 3);
    expect_events(f, &e, f->pat2, 0, pat2, 1);
    expect_events(f, &e, f->pat_b, 0, pat_b, 1);
}

static void test_staff_events_are_only_their_orgs_including_staff_only(void **state)
{
    fx_t *f = *state;
    events_fx_t e = seed_events(f);
    const int at_a[] = {1, 3, 4, 5, 7, 8}, at_b[] = {2, 6}, all[] = {1, 2, 3, 4, 5, 6, 7, 8};
    expect_events(f, &e, f->gp, 0, at_a, 6);
    expect_events(f, &e, f->recep, 0, at_a, 6);
    expect_events(f, &e, f->gp_b, 0, at_b, 2);
    int64_t lone = add_staff(f->st, "lone", 0, 0);
    expect_events(f, &e, lone, 0, NULL, 0);
    assert_int_equal(pl_store_membership_add(f->st, f->gp_b, f->org_a, PL_ROLE_NURSE), 0);
    expect_events(f, &e, f->gp_b, 0, all, 8);
}

static void test_resume_from_cursor_returns_exactly_the_later_events_in_order(void **state)
{
    fx_t *f = *state;
    events_fx_t e = seed_events(f);
    const int after4[] = {5, 7, 8}, after5_pat1[] = {8};
    expect_events(f, &e, f->gp, e.ev[4], after4, 3);
    expect_events(f, &e, f->pat1, e.ev[5], after5_pat1, 1);
    expect_events(f, &e, f->gp, e.ev[8], NULL, 0);
    int64_t head = 0;
    assert_int_equal(pl_store_events_head(f->st, &head), 0);
    assert_int_equal(head, e.ev[8]);
}

static void test_paging_events_with_small_limit_replays_each_once(void **state)
{
    fx_t *f = *state;
    events_fx_t e = seed_events(f);
    const int64_t users[] = {f->gp, f->pat1, f->gp_b};
    for (size_t u = 0; u < 3; u++) {
        pl_actor_t a = actor_of(f, users[u]);
        json_t *full = NULL;
        assert_int_equal(pl_store_events_since(f->st, &a, 0, 1000, &full), 0);
        json_t *joined = json_array();
        int64_t cursor = 0;
        for (int guard = 0; guard < 20; guard++) {
            json_t *page = NULL;
            assert_int_equal(pl_store_events_since(f->st, &a, cursor, 2, &page), 0);
            assert_true(json_array_size(page) <= 2);
            size_t n = json_array_size(page);
            for (size_t i = 0; i < n; i++)
                json_array_append(joined, json_array_get(page, i));
            if (n) cursor = jint(json_array_get(page, n - 1), "cursor");
            json_decref(page);
            if (n < 2) break;
        }
        assert_true(json_array_size(full) > 0);
        assert_true(json_equal(joined, full));
        json_decref(joined);
        json_decref(full);
    }
    (void)e;
}

/* ---- receipts ---- */

static void receipt(fx_t *f, int64_t conv, int64_t user, int64_t d, int64_t r, bool want_changed,
                    int64_t want_d, int64_t want_r)
{
    bool changed = !want_changed;
    int64_t od = -1, orr = -1;
    assert_int_equal(pl_store_receipt_set(f->st, conv, user, d, r, &changed, &od, &orr), 0);
    assert_int_equal(changed, want_changed);
    assert_int_equal(od, want_d);
    assert_int_equal(orr, want_r);
}

static void test_receipts_never_move_backwards_and_read_implies_delivered(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "c1");
    receipt(f, c, f->pat1, 3, 1, true, 3, 1);
    receipt(f, c, f->pat1, 2, 0, false, 3, 1); /* lower: nothing moves */
    receipt(f, c, f->pat1, 3, 1, false, 3, 1); /* same: unchanged */
    receipt(f, c, f->pat1, 0, 5, true, 5, 5);  /* read 5 implies delivered 5 */
    receipt(f, c, f->pat1, 6, 2, true, 6, 5);  /* delivered moves, read stays */
    receipt(f, c, f->gp, 1, 0, true, 1, 0);    /* each user has their own */
    receipt(f, c, f->pat1, 0, 0, false, 6, 5);
    char sql[120]; /* and what is stored is the raised value, not the last request */
    snprintf(sql, sizeof sql,
             "SELECT delivered_seq * 100 + read_seq FROM receipts WHERE user_id = %lld",
             (long long)f->pat1);
    assert_int_equal(raw_int(f, sql), 605);
}

static void test_receipt_summary_splits_patient_and_furthest_staff(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "rs1");
    pl_receipt_sum_t rs;
    assert_int_equal(pl_store_receipt_summary(f->st, c, f->pat1, &rs), 0);
    assert_int_equal(rs.patient_read + rs.patient_delivered + rs.staff_read + rs.staff_delivered, 0);
    receipt(f, c, f->pat1, 4, 2, true, 4, 2);
    receipt(f, c, f->gp, 3, 3, true, 3, 3);
    receipt(f, c, f->recep, 5, 1, true, 5, 1);
    assert_int_equal(pl_store_receipt_summary(f->st, c, f->pat1, &rs), 0);
    assert_int_equal(rs.patient_delivered, 4);
    assert_int_equal(rs.patient_read, 2);
    assert_int_equal(rs.staff_delivered, 5); /* the furthest any member of staff got */
    assert_int_equal(rs.staff_read, 3);
    /* Another conversation's receipts do not leak in. */
    int64_t c2 = new_conv(f, f->org_a, f->pat1, "rs2");
    assert_int_equal(pl_store_receipt_summary(f->st, c2, f->pat1, &rs), 0);
    assert_int_equal(rs.staff_delivered, 0);
}

/* ---- inbox filters ---- */

static size_t list_ids(fx_t *f, const int64_t *orgs, int n_orgs, int64_t me, const char *filter,
                       int64_t before, int limit, int64_t *ids, int64_t *next)
{
    json_t *out = NULL;
    assert_int_equal(
        pl_store_conv_list_org(f->st, orgs, n_orgs, me, filter, before, limit, pl_now_ms(), &out),
        0);
    const json_t *arr = json_object_get(out, "conversations");
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++)
        ids[i] = jint(json_array_get(arr, i), "id");
    if (next) *next = next_before(out);
    json_decref(out);
    return n;
}

static void expect_list(fx_t *f, const char *filter, int64_t me, const int64_t *want, size_t n)
{
    int64_t ids[16];
    size_t got = list_ids(f, &f->org_a, 1, me, filter, 0, 16, ids, NULL);
    if (got != n) print_error("filter %s: %zu conversations, expected %zu\n", filter, got, n);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ids[i], want[i]);
}

static void test_conv_list_org_filters_select_the_right_conversations(void **state)
{
    fx_t *f = *state;
    assert_int_equal(pl_store_org_set(f->st, f->org_a, "response_target_minutes", "1"), 0);
    int64_t old = f->now - HOUR_MS;
    int64_t late = new_conv_at(f, f->org_a, f->pat1, "late", old);     /* new, overdue */
    int64_t mine = new_conv(f, f->org_a, f->pat2, "mine");             /* assigned to gp */
    int64_t waiting = new_conv_at(f, f->org_a, f->pat1, "wait", old);  /* awaiting patient */
    int64_t closed = new_conv_at(f, f->org_a, f->pat2, "closed", old); /* closed */
    int64_t fresh = new_conv(f, f->org_a, f->pat1, "fresh");           /* new, not yet due */
    int64_t at_b = new_conv_at(f, f->org_b, f->pat_b, "b", old);       /* other practice */
    assert_int_equal(pl_store_conv_assign(f->st, mine, f->gp, "gp", f->now), 0);
    assert_int_equal(pl_store_conv_set_status(f->st, waiting, "awaiting_patient", f->now), 0);
    assert_int_equal(pl_store_conv_set_status(f->st, closed, "closed", f->now), 0);
    assert_string_equal(conv_of(f, mine).status, "in_progress");

    const int64_t all[] = {fresh, closed, waiting, mine, late};
    const int64_t new_[] = {fresh, late}, assigned[] = {mine}, awaiting[] = {waiting};
    const int64_t closed_[] = {closed}, open[] = {fresh, waiting, mine, late}, overdue[] = {late};
    expect_list(f, NULL, f->gp, all, 5);
    expect_list(f, "new", f->gp, new_, 2);
    expect_list(f, "assigned_to_me", f->gp, assigned, 1);
    expect_list(f, "assigned_to_me", f->recep, NULL, 0);
    expect_list(f, "awaiting_patient", f->gp, awaiting, 1);
    expect_list(f, "closed", f->gp, closed_, 1);
    expect_list(f, "open", f->gp, open, 4);
    expect_list(f, "overdue", f->gp, overdue, 1);

    json_t *j = NULL;
    assert_int_equal(pl_store_conv_json(f->st, late, &j), 0);
    assert_true(json_is_true(json_object_get(j, "overdue")));
    assert_int_equal(jint(j, "waiting_since"), old);
    json_decref(j);

    /* Both practices together include B's conversation. */
    int64_t ids[16];
    const int64_t both[] = {f->org_a, f->org_b};
    assert_int_equal(list_ids(f, both, 2, f->gp, NULL, 0, 16, ids, NULL), 6);
    assert_int_equal(ids[0], at_b);
}

static void test_conv_list_org_pages_backwards_by_id(void **state)
{
    fx_t *f = *state;
    int64_t c[5];
    char txn[16];
    for (int i = 0; i < 5; i++) {
        snprintf(txn, sizeof txn, "c%d", i);
        c[i] = new_conv(f, f->org_a, i % 2 ? f->pat1 : f->pat2, txn);
    }
    (void)new_conv(f, f->org_b, f->pat_b, "b"); /* never listed for A */
    int64_t ids[4], next = -1, before = 0, seen[8];
    size_t total = 0;
    const size_t page_n[3] = {2, 2, 1};
    for (int page = 0; page < 3; page++) {
        size_t n = list_ids(f, &f->org_a, 1, f->gp, NULL, before, 2, ids, &next);
        assert_int_equal(n, page_n[page]);
        for (size_t i = 0; i < n; i++)
            seen[total++] = ids[i];
        if (n == 2) assert_int_equal(next, ids[1]);
        before = next;
    }
    assert_int_equal(next, 0); /* the short last page ends the listing */
    assert_int_equal(total, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(seen[i], c[4 - i]);
}

/* ---- the response clock ---- */

#define NOT_WAITING (-1)

/* The conversation's waiting_since, or NOT_WAITING when it is null. */
static int64_t waiting_since(fx_t *f, int64_t conv)
{
    json_t *j = NULL;
    assert_int_equal(pl_store_conv_json(f->st, conv, &j), 0);
    const json_t *w = json_object_get(j, "waiting_since");
    assert_true(json_is_null(w) || json_is_integer(w));
    int64_t v = json_is_null(w) ? NOT_WAITING : (int64_t)json_integer_value(w);
    json_decref(j);
    return v;
}

#define ASSERT_WAITING(f, conv, t) assert_int_equal(waiting_since(f, conv), t)
#define ASSERT_NOT_WAITING(f, conv) assert_int_equal(waiting_since(f, conv), NOT_WAITING)

static void test_waiting_since_follows_who_spoke_last(void **state)
{
    fx_t *f = *state;
    int64_t t0 = f->now - 10 * HOUR_MS;
    int64_t c = new_conv_at(f, f->org_a, f->pat1, "c1", t0);
    ASSERT_WAITING(f, c, t0);
    (void)send_at(f, c, f->gp, true, "n1", "internal note", t0 + 1000);
    ASSERT_WAITING(f, c, t0); /* a note is not an answer */
    (void)send_at(f, c, f->gp, false, "r1", "reply", t0 + 2000);
    ASSERT_NOT_WAITING(f, c); /* a staff reply stops the clock */
    (void)send_at(f, c, f->pat1, false, "p1", "thanks, but", t0 + 3000);
    ASSERT_WAITING(f, c, t0 + 3000); /* the patient restarts it */
    (void)send_at(f, c, f->pat1, false, "p2", "also", t0 + 4000);
    ASSERT_WAITING(f, c, t0 + 3000); /* ...from their first unanswered message */
    assert_int_equal(pl_store_conv_set_status(f->st, c, "awaiting_patient", t0 + 5000), 0);
    ASSERT_NOT_WAITING(f, c);
    (void)send_at(f, c, f->pat1, false, "p3", "here you go", t0 + 6000);
    ASSERT_WAITING(f, c, t0 + 6000);
    assert_int_equal(pl_store_conv_set_status(f->st, c, "in_progress", t0 + 7000), 0);
    ASSERT_WAITING(f, c, t0 + 6000); /* other statuses leave the clock alone */
    assert_int_equal(pl_store_conv_set_status(f->st, c, "closed", t0 + 8000), 0);
    ASSERT_NOT_WAITING(f, c);
    assert_int_equal(pl_store_conv_set_status(f->st, 9999, "closed", t0), -PL_ENOTFOUND);
}

int main(void)
{
    pl_log_set_level(PL_LOG_WARN); /* keep migration notices out of the test output */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_msg_append_assigns_seq_1_2_3_per_conversation),
        T(test_msg_append_repeat_txn_returns_original_without_new_row),
        T(test_msg_append_same_txn_from_other_sender_is_a_new_message),
        T(test_msg_append_txn_reused_in_other_conversation_conflicts),
        T(test_msg_append_to_missing_conversation_is_not_found),
        T(test_conv_create_is_idempotent_on_patient_and_create_txn),
        T(test_sealed_text_never_reaches_the_database_or_wal),
        T(test_wrong_key_cannot_open_bodies),
        T(test_body_copied_to_another_conversation_fails_to_open),
        T(test_history_pages_backwards_through_every_message_once),
        T(test_history_without_internal_hides_notes),
        T(test_patient_events_are_only_their_own_and_never_staff_only),
        T(test_staff_events_are_only_their_orgs_including_staff_only),
        T(test_resume_from_cursor_returns_exactly_the_later_events_in_order),
        T(test_paging_events_with_small_limit_replays_each_once),
        T(test_receipts_never_move_backwards_and_read_implies_delivered),
        T(test_receipt_summary_splits_patient_and_furthest_staff),
        T(test_conv_list_org_filters_select_the_right_conversations),
        T(test_conv_list_org_pages_backwards_by_id),
        T(test_waiting_since_follows_who_spoke_last),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
