/* Unit tests for storage/store_sqlite_attach.c through storage/store.h: blobs stored once per
 * content and sealed at rest (and bound to their hash), attachment rows with sealed names,
 * binding to a message (all or none, only the uploader's own unbound ones of the same
 * conversation, at most five), the attachments of a page of history, and uploads never sent:
 * counted per uploader, and swept with the blobs no attachment refers to any more. */
#include "tests/storage/store_fixture.h"

#include "storage/aead.h"

static const uint8_t photo[] = "\xFF\xD8\xFF pretend-photo-bytes MARKER-IN-THE-PHOTO \xFF\xD9";

static char *put_blob(fx_t *f, const void *data, size_t len, bool want_added, char sha[65])
{
    bool added = !want_added;
    assert_int_equal(pl_store_blob_put(f->st, data, len, f->now, sha, &added), 0);
    assert_int_equal(added, want_added);
    return sha;
}

static int64_t new_attachment(fx_t *f, int64_t conv, int64_t by, const char *name)
{
    char sha[65];
    bool added;
    assert_int_equal(pl_store_blob_put(f->st, photo, sizeof photo, f->now, sha, &added), 0);
    int64_t id = 0;
    assert_int_equal(
        pl_store_attach_create(f->st, conv, sha, "image/jpeg", sizeof photo, name, by, f->now, &id),
        0);
    assert_true(id > 0);
    return id;
}

static int64_t bound_to(fx_t *f, int64_t attachment)
{
    pl_attachment_t a;
    assert_int_equal(pl_store_attach_get(f->st, attachment, &a), 0);
    return a.message_id;
}

/* ---- blobs ---- */

static void test_blob_is_stored_once_per_content_under_its_sha256(void **state)
{
    fx_t *f = *state;
    char sha[65], again[65], want[65];
    uint8_t h[32];
    pl_sha256(photo, sizeof photo, h);
    pl_hex_encode(h, sizeof h, want);
    put_blob(f, photo, sizeof photo, true, sha);
    assert_string_equal(sha, want);
    put_blob(f, photo, sizeof photo, false, again);
    assert_string_equal(again, want);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM blobs"), 1);
    assert_int_equal(raw_int(f, "SELECT size FROM blobs"), (int64_t)sizeof photo);
    put_blob(f, "other", 5, true, again);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM blobs"), 2);
}

static void test_blob_is_sealed_at_rest_and_reads_back(void **state)
{
    fx_t *f = *state;
    char sha[65];
    put_blob(f, photo, sizeof photo, true, sha);
    assert_false(store_files_contain(f, "MARKER-IN-THE-PHOTO"));
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(pl_store_blob_read(f->st, sha, &out, &n), 0);
    assert_int_equal(n, sizeof photo);
    assert_memory_equal(out, photo, n);
    pl_wipe(out, n);
    free(out);
    /* empty content is stored and read like any other */
    put_blob(f, "", 0, true, sha);
    assert_int_equal(pl_store_blob_read(f->st, sha, &out, &n), 0);
    assert_non_null(out);
    assert_int_equal(n, 0);
    free(out);
}

static void test_blob_under_another_key_or_hash_does_not_open(void **state)
{
    fx_t *f = *state;
    char a[65], b[65];
    put_blob(f, photo, sizeof photo, true, a);
    put_blob(f, "second", 6, true, b);
    uint8_t *out = (uint8_t *)"x";
    size_t n = 9;
    /* the sealed bytes of one hash copied under the other: the hash is the associated data */
    char sql[400];
    snprintf(sql, sizeof sql,
             "UPDATE blobs SET sealed = (SELECT sealed FROM blobs WHERE sha256 = '%s') "
             "WHERE sha256 = '%s'",
             a, b);
    raw_exec(f, sql);
    assert_int_equal(pl_store_blob_read(f->st, b, &out, &n), -PL_ECRYPTO);
    assert_null(out);
    assert_int_equal(n, 0);
    uint8_t other[32];
    assert_int_equal(pl_random_bytes(other, sizeof other), 0);
    reopen_refused(f, other);
    reopen(f, f->key);
    assert_int_equal(pl_store_blob_read(f->st, a, &out, &n), 0);
    free(out);
}

static void test_blob_read_of_unknown_or_malformed_hash_is_not_found(void **state)
{
    fx_t *f = *state;
    uint8_t *out = NULL;
    size_t n = 0;
    char sha[65];
    memset(sha, 'a', 64);
    sha[64] = 0;
    assert_int_equal(pl_store_blob_read(f->st, sha, &out, &n), -PL_ENOTFOUND);
    assert_int_equal(pl_store_blob_read(f->st, "' OR 1=1 --", &out, &n), -PL_ENOTFOUND);
    sha[3] = 'A'; /* hex, but not the lower-case form a hash is stored in */
    assert_int_equal(pl_store_blob_read(f->st, sha, &out, &n), -PL_ENOTFOUND);
    assert_null(out);
}

/* ---- attachment rows ---- */

static void test_attachment_reads_back_with_its_sealed_name(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    int64_t id = new_attachment(f, conv, f->pat1, "Rash on Ann Taylor's arm.jpg");
    pl_attachment_t a;
    assert_int_equal(pl_store_attach_get(f->st, id, &a), 0);
    assert_int_equal(a.id, id);
    assert_int_equal(a.conversation_id, conv);
    assert_int_equal(a.uploaded_by, f->pat1);
    assert_int_equal(a.message_id, 0);
    assert_int_equal(a.size, (int64_t)sizeof photo);
    assert_int_equal(a.created_at, f->now);
    assert_string_equal(a.content_type, "image/jpeg");
    assert_string_equal(a.filename, "Rash on Ann Taylor's arm.jpg");
    assert_int_equal(strlen(a.sha256), 64);
    assert_false(store_files_contain(f, "Ann Taylor's arm"));
    assert_int_equal(pl_store_attach_get(f->st, id + 100, &a), -PL_ENOTFOUND);
}

static void test_attachment_name_copied_to_another_row_does_not_open(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    int64_t one = new_attachment(f, conv, f->pat1, "one.jpg");
    int64_t two = new_attachment(f, conv, f->pat1, "two.jpg");
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE attachments SET filename = (SELECT filename FROM attachments WHERE id = %lld) "
             "WHERE id = %lld",
             (long long)one, (long long)two);
    raw_exec(f, sql);
    pl_attachment_t a;
    assert_int_equal(pl_store_attach_get(f->st, two, &a), -PL_ECRYPTO);
    assert_int_equal(pl_store_attach_get(f->st, one, &a), 0);
}

static void test_attachment_create_refuses_what_the_schema_would_not_hold(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1"), id = 0;
    char sha[65], name[300];
    put_blob(f, photo, sizeof photo, true, sha);
    assert_int_equal(
        pl_store_attach_create(f->st, conv, sha, "image/gif", 3, "a.gif", f->pat1, f->now, &id),
        -PL_EINVAL);
    assert_int_equal(
        pl_store_attach_create(f->st, conv, sha, "image/jpeg", 3, "", f->pat1, f->now, &id),
        -PL_EINVAL);
    memset(name, 'n', 256);
    name[256] = 0;
    assert_int_equal(
        pl_store_attach_create(f->st, conv, sha, "image/jpeg", 3, name, f->pat1, f->now, &id),
        -PL_EINVAL);
    name[255] = 0; /* 255 bytes is the longest name */
    assert_int_equal(
        pl_store_attach_create(f->st, conv, sha, "image/jpeg", 3, name, f->pat1, f->now, &id), 0);
    char unknown[65];
    memset(unknown, 'b', 64);
    unknown[64] = 0;
    assert_int_equal(pl_store_attach_create(f->st, conv, unknown, "image/jpeg", 3, "a.jpg", f->pat1,
                                            f->now, &id),
                     -PL_EINVAL);
    assert_int_equal(
        pl_store_attach_create(f->st, 9999, sha, "image/jpeg", 3, "a.jpg", f->pat1, f->now, &id),
        -PL_EINVAL);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM attachments"), 1);
}

/* ---- binding to a message ---- */

static void test_bind_puts_every_attachment_on_the_message(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    int64_t ids[2] = {new_attachment(f, conv, f->pat1, "b.jpg"),
                      new_attachment(f, conv, f->pat1, "a.jpg")};
    pl_msg_t m = send_msg(f, conv, f->pat1, false, "m1", "see the photos");
    int64_t bad = -1;
    assert_int_equal(pl_store_attach_bind(f->st, conv, f->pat1, m.id, ids, 2, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(bound_to(f, ids[0]), m.id);
    assert_int_equal(bound_to(f, ids[1]), m.id);
    json_t *l = NULL;
    assert_int_equal(pl_store_attach_of_msg(f->st, m.id, &l), 0);
    assert_int_equal(json_array_size(l), 2);
    json_t *first = json_array_get(l, 0);
    assert_int_equal(jint(first, "id"), ids[0]); /* in upload order */
    assert_string_equal(json_string_value(json_object_get(first, "filename")), "b.jpg");
    assert_string_equal(json_string_value(json_object_get(first, "content_type")), "image/jpeg");
    assert_int_equal(jint(first, "size"), (int64_t)sizeof photo);
    assert_null(json_object_get(first, "sha256"));
    json_decref(l);
    pl_msg_t none = send_msg(f, conv, f->pat1, false, "m2", "no photos");
    assert_int_equal(pl_store_attach_of_msg(f->st, none.id, &l), 0);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
    assert_int_equal(pl_store_attach_bind(f->st, conv, f->pat1, none.id, NULL, 0, &bad), 0);
}

static void test_bind_is_all_or_nothing_and_says_which_one_is_wrong(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    int64_t other_conv = new_conv(f, f->org_a, f->pat1, "c2");
    int64_t mine = new_attachment(f, conv, f->pat1, "mine.jpg");
    int64_t theirs = new_attachment(f, conv, f->gp, "gp.jpg");
    int64_t elsewhere = new_attachment(f, other_conv, f->pat1, "else.jpg");
    int64_t used = new_attachment(f, conv, f->pat1, "used.jpg");
    pl_msg_t first = send_msg(f, conv, f->pat1, false, "m1", "first");
    int64_t bad = 0;
    assert_int_equal(pl_store_attach_bind(f->st, conv, f->pat1, first.id, &used, 1, &bad), 0);
    pl_msg_t m = send_msg(f, conv, f->pat1, false, "m2", "second");
    struct {
        int64_t ids[2];
        int rc;
    } cases[] = {
        {{mine, 424242}, -PL_ENOTFOUND}, {{mine, theirs}, -PL_ENOTFOUND},
        {{mine, elsewhere}, -PL_EINVAL}, {{mine, used}, -PL_ECONFLICT},
        {{mine, mine}, -PL_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bad = 0;
        assert_int_equal(pl_store_attach_bind(f->st, conv, f->pat1, m.id, cases[i].ids, 2, &bad),
                         cases[i].rc);
        assert_int_equal(bad, cases[i].ids[1]);
        assert_int_equal(bound_to(f, mine), 0); /* the good one was not bound either */
    }
    assert_int_equal(bound_to(f, used), first.id);
    int64_t six[6];
    for (int i = 0; i < 6; i++)
        six[i] = new_attachment(f, conv, f->pat1, "x.jpg");
    assert_int_equal(pl_store_attach_bind(f->st, conv, f->pat1, m.id, six, 6, &bad), -PL_ETOOBIG);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM attachments WHERE message_id IS NOT NULL"),
                     1);
    assert_int_equal(pl_store_attach_bind(f->st, conv, f->pat1, m.id, six, 5, &bad), 0);
}

static void test_history_page_carries_each_messages_attachments(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    int64_t other = new_conv(f, f->org_a, f->pat2, "c2");
    pl_msg_t plain = send_msg(f, conv, f->pat1, false, "m1", "hello");
    int64_t a1 = new_attachment(f, conv, f->pat1, "one.png");
    pl_msg_t with = send_msg(f, conv, f->pat1, false, "m2", "a photo");
    int64_t bad;
    assert_int_equal(pl_store_attach_bind(f->st, conv, f->pat1, with.id, &a1, 1, &bad), 0);
    int64_t a2 = new_attachment(f, other, f->pat2, "theirs.png");
    pl_msg_t theirs = send_msg(f, other, f->pat2, false, "m3", "other conversation");
    assert_int_equal(pl_store_attach_bind(f->st, other, f->pat2, theirs.id, &a2, 1, &bad), 0);
    new_attachment(f, conv, f->pat1, "unbound.png");
    json_t *h = NULL;
    assert_int_equal(pl_store_msg_history(f->st, conv, 0, 50, true, &h), 0);
    json_t *msgs = json_object_get(h, "messages");
    assert_int_equal(pl_store_attach_decorate(f->st, conv, msgs), 0);
    /* the conversation's first message, then ours */
    json_t *p = NULL, *w = NULL, *m;
    size_t i;
    json_array_foreach(msgs, i, m)
    {
        if (jint(m, "id") == plain.id) p = m;
        if (jint(m, "id") == with.id) w = m;
    }
    assert_non_null(p);
    assert_non_null(w);
    assert_null(json_object_get(p, "attachments"));
    json_t *att = json_object_get(w, "attachments");
    assert_int_equal(json_array_size(att), 1);
    assert_int_equal(jint(json_array_get(att, 0), "id"), a1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(att, 0), "filename")),
                        "one.png");
    json_decref(h);
    json_t *empty = json_array();
    assert_int_equal(pl_store_attach_decorate(f->st, conv, empty), 0);
    json_decref(empty);
}

/* ---- uploads never sent ---- */

/* An unbound attachment of data[0..len) created at `at`; its id. */
static int64_t upload_at(fx_t *f, int64_t conv, int64_t by, const char *data, int64_t at,
                         char sha[65])
{
    bool added;
    int64_t id = 0;
    assert_int_equal(pl_store_blob_put(f->st, (const uint8_t *)data, strlen(data), at, sha, &added),
                     0);
    assert_int_equal(pl_store_attach_create(f->st, conv, sha, "image/png", (int64_t)strlen(data),
                                            "p.png", by, at, &id),
                     0);
    return id;
}

static bool blob_exists(fx_t *f, const char *sha)
{
    uint8_t *out = NULL;
    size_t n = 0;
    int rc = pl_store_blob_read(f->st, sha, &out, &n);
    free(out);
    assert_true(rc == 0 || rc == -PL_ENOTFOUND);
    return rc == 0;
}

static bool attachment_exists(fx_t *f, int64_t id)
{
    pl_attachment_t a;
    int rc = pl_store_attach_get(f->st, id, &a);
    assert_true(rc == 0 || rc == -PL_ENOTFOUND);
    return rc == 0;
}

static void test_sweep_deletes_an_old_unsent_upload_and_its_blob_and_keeps_a_newer_one(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    char old_sha[65], new_sha[65], stray[65];
    int64_t old = upload_at(f, conv, f->pat1, "old upload", f->now - 2 * HOUR_MS, old_sha);
    int64_t fresh = upload_at(f, conv, f->pat1, "new upload", f->now - HOUR_MS + 1, new_sha);
    put_blob(f, "a blob no attachment refers to", 30, true, stray);
    int64_t removed = -1;
    assert_int_equal(pl_store_attach_sweep(f->st, f->now - HOUR_MS, &removed), 0);
    assert_int_equal(removed, 1);
    assert_false(attachment_exists(f, old));
    assert_false(blob_exists(f, old_sha));
    assert_false(blob_exists(f, stray)); /* every unreferenced blob goes, not only the old one's */
    assert_true(attachment_exists(f, fresh));
    assert_true(blob_exists(f, new_sha));
    assert_int_equal(raw_int(f, "SELECT count(*) FROM attachments"), 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM blobs"), 1);
    /* created exactly at the cutoff is not older than it */
    assert_int_equal(pl_store_attach_sweep(f->st, f->now - HOUR_MS + 1, &removed), 0);
    assert_int_equal(removed, 0);
    assert_true(attachment_exists(f, fresh));
}

static void test_sweep_keeps_a_sent_attachment_whatever_its_age(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    char sha[65];
    int64_t sent = upload_at(f, conv, f->pat1, "sent long ago", f->now - 1000 * HOUR_MS, sha), bad;
    pl_msg_t m = send_msg(f, conv, f->pat1, false, "m1", "the photo");
    assert_int_equal(pl_store_attach_bind(f->st, conv, f->pat1, m.id, &sent, 1, &bad), 0);
    int64_t removed = -1;
    assert_int_equal(pl_store_attach_sweep(f->st, f->now + HOUR_MS, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(bound_to(f, sent), m.id);
    assert_true(blob_exists(f, sha));
}

static void test_sweep_keeps_a_blob_an_old_upload_shares_with_others(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    char a[65], b[65], c[65], d[65];
    /* the same bytes: unsent and old, and sent */
    int64_t orphan = upload_at(f, conv, f->pat1, "shared with a sent one", f->now - 5 * HOUR_MS, a);
    int64_t sent = upload_at(f, conv, f->gp, "shared with a sent one", f->now - 5 * HOUR_MS, b);
    int64_t bad;
    assert_string_equal(a, b);
    pl_msg_t m = send_msg(f, conv, f->gp, false, "m1", "from the practice");
    assert_int_equal(pl_store_attach_bind(f->st, conv, f->gp, m.id, &sent, 1, &bad), 0);
    /* the same bytes: unsent and old, and unsent and new */
    int64_t old = upload_at(f, conv, f->pat2, "shared with a new one", f->now - 5 * HOUR_MS, c);
    int64_t fresh = upload_at(f, conv, f->pat1, "shared with a new one", f->now, d);
    assert_string_equal(c, d);
    int64_t removed = -1;
    assert_int_equal(pl_store_attach_sweep(f->st, f->now - HOUR_MS, &removed), 0);
    assert_int_equal(removed, 2);
    assert_false(attachment_exists(f, orphan));
    assert_false(attachment_exists(f, old));
    assert_true(attachment_exists(f, sent));
    assert_true(attachment_exists(f, fresh));
    assert_true(blob_exists(f, a));
    assert_true(blob_exists(f, c));
    assert_int_equal(raw_int(f, "SELECT count(*) FROM blobs"), 2);
    /* and the sent one still opens, bytes and all */
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(pl_store_blob_read(f->st, a, &out, &n), 0);
    assert_memory_equal(out, "shared with a sent one", n);
    free(out);
}

static void test_sweep_counts_what_it_deleted_and_then_finds_nothing(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    int64_t other = new_conv(f, f->org_a, f->pat2, "c2");
    char sha[65];
    upload_at(f, conv, f->pat1, "one", f->now - 3 * HOUR_MS, sha);
    upload_at(f, conv, f->pat1, "two", f->now - 3 * HOUR_MS, sha);
    upload_at(f, conv, f->gp, "three", f->now - 2 * HOUR_MS, sha);
    upload_at(f, other, f->pat2, "four", f->now - 2 * HOUR_MS, sha);
    upload_at(f, other, f->pat2, "five", f->now, sha);
    int64_t before = raw_int(f, "SELECT count(*) FROM attachments"), removed = -1;
    assert_int_equal(pl_store_attach_sweep(f->st, f->now - HOUR_MS, &removed), 0);
    assert_int_equal(removed, 4);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM attachments"), before - 4);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM blobs"), 1);
    assert_int_equal(pl_store_attach_sweep(f->st, f->now - HOUR_MS, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM attachments"), 1);
}

static void test_pending_counts_each_users_unsent_uploads(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    int64_t other = new_conv(f, f->org_a, f->pat1, "c2");
    int64_t n = -1;
    assert_int_equal(pl_store_attach_pending(f->st, f->pat1, &n), 0);
    assert_int_equal(n, 0);
    int64_t first = new_attachment(f, conv, f->pat1, "1.jpg"), bad;
    new_attachment(f, conv, f->pat1, "2.jpg");
    new_attachment(f, other, f->pat1, "3.jpg"); /* every conversation counts */
    new_attachment(f, conv, f->gp, "gp.jpg");
    assert_int_equal(pl_store_attach_pending(f->st, f->pat1, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(pl_store_attach_pending(f->st, f->gp, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pl_store_attach_pending(f->st, f->pat2, &n), 0);
    assert_int_equal(n, 0);
    /* one sent on a message no longer waits */
    pl_msg_t m = send_msg(f, conv, f->pat1, false, "m1", "a photo");
    assert_int_equal(pl_store_attach_bind(f->st, conv, f->pat1, m.id, &first, 1, &bad), 0);
    assert_int_equal(pl_store_attach_pending(f->st, f->pat1, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(pl_store_attach_pending(f->st, f->gp, &n), 0);
    assert_int_equal(n, 1);
}

int main(void)
{
    pl_log_set_level(PL_LOG_ERROR + 1); /* the failures provoked here log errors by design */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blob_is_stored_once_per_content_under_its_sha256,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_is_sealed_at_rest_and_reads_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_blob_under_another_key_or_hash_does_not_open, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_blob_read_of_unknown_or_malformed_hash_is_not_found,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_attachment_reads_back_with_its_sealed_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_attachment_name_copied_to_another_row_does_not_open,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_attachment_create_refuses_what_the_schema_would_not_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_puts_every_attachment_on_the_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bind_is_all_or_nothing_and_says_which_one_is_wrong,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_page_carries_each_messages_attachments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_sweep_deletes_an_old_unsent_upload_and_its_blob_and_keeps_a_newer_one, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_sweep_keeps_a_sent_attachment_whatever_its_age, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sweep_keeps_a_blob_an_old_upload_shares_with_others,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_counts_what_it_deleted_and_then_finds_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_counts_each_users_unsent_uploads, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
