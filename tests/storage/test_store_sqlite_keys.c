/* The key hierarchy of the SQLite store (storage/store_sqlite_keys.c, store_keys.h): one data key
 * per organisation and a shared one, wrapped by the master key; values written before it (no
 * key id) still open; the master key rotates without touching the data; a wrong master key or an
 * altered wrapped key is refused at open. */
#include "tests/storage/store_fixture.h"

#include "core/datadir.h"
#include "storage/aead.h"
#include "storage/store_keys.h"

#include <fcntl.h>

/* ---- raw access ---- */

/* Column 0 of the first row of sql (on a separate connection), malloc'd; *len its size. */
static uint8_t *raw_blob(const fx_t *f, const char *sql, size_t *len)
{
    pl_db_t *db = raw_open(f);
    pl_dbs_t *s = NULL;
    assert_int_equal(pl_db_prepare(db, sql, &s), PL_DB_OK);
    assert_int_equal(pl_dbs_step(s), PL_DB_ROW);
    *len = (size_t)pl_dbs_bytes(s, 0);
    uint8_t *out = malloc(*len + 1);
    assert_non_null(out);
    memcpy(out, pl_dbs_blob(s, 0), *len);
    pl_dbs_finalize(s);
    pl_db_close(db);
    return out;
}

/* Runs sql with blob bound to ?1. */
static void raw_set_blob(const fx_t *f, const char *sql, const uint8_t *blob, size_t len)
{
    pl_db_t *db = raw_open(f);
    pl_dbs_t *s = NULL;
    assert_int_equal(pl_db_prepare(db, sql, &s), PL_DB_OK);
    pl_dbs_bind_blob(s, 1, blob, (int)len);
    assert_int_equal(pl_dbs_step(s), PL_DB_DONE);
    pl_dbs_finalize(s);
    pl_db_close(db);
}

static uint32_t key_id_of(const uint8_t *blob, size_t len)
{
    uint32_t id = 0;
    assert_int_equal(pl_aead_peek(blob, len, &id), PL_AEAD_VERSION_KEYED);
    return id;
}

static int64_t current_key_of(const fx_t *f, int64_t org)
{
    char sql[200], who[32] = "IS NULL";
    if (org) snprintf(who, sizeof who, "= %lld", (long long)org);
    snprintf(sql, sizeof sql,
             "SELECT id FROM data_keys WHERE org_id %s AND retired_at IS NULL AND legacy = 0",
             who);
    return raw_int(f, sql);
}

static char *msg_body(fx_t *f, int64_t id)
{
    json_t *j = NULL;
    assert_int_equal(pl_store_msg_json(f->st, id, &j), 0);
    char *out = strdup(json_string_value(json_object_get(j, "body")));
    json_decref(j);
    return out;
}

static void assert_msg_body(fx_t *f, int64_t id, const char *want)
{
    char *b = msg_body(f, id);
    assert_string_equal(b, want);
    free(b);
}

static void assert_subject(fx_t *f, int64_t conv, const char *want)
{
    json_t *j = NULL;
    assert_int_equal(pl_store_conv_json(f->st, conv, &j), 0);
    assert_string_equal(json_string_value(json_object_get(j, "subject")), want);
    json_decref(j);
}

static void assert_blob(fx_t *f, const char *sha, const char *want)
{
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(pl_store_blob_read(f->st, sha, &out, &n), 0);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    free(out);
}

static void put_blob(fx_t *f, const char *data, char sha[65])
{
    bool added = false;
    assert_int_equal(
        pl_store_blob_put(f->st, (const uint8_t *)data, strlen(data), f->now, sha, &added), 0);
}

static void write_key_file(const fx_t *f, const char *name, const uint8_t key[32])
{
    char p[200];
    snprintf(p, sizeof p, "%s/%s", f->dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, key, 32), 32);
    close(fd);
}

/* ---- one key per organisation ---- */

static void test_each_org_seals_under_its_own_key_and_blobs_under_the_shared_one(void **state)
{
    fx_t *f = *state;
    int64_t ca = new_conv(f, f->org_a, f->pat1, "a1");
    int64_t cb = new_conv(f, f->org_b, f->pat_b, "b1");
    pl_msg_t ma = send_msg(f, ca, f->pat1, false, "t1", "words for practice A");
    pl_msg_t mb = send_msg(f, cb, f->pat_b, false, "t2", "words for practice B");
    char sha[65];
    put_blob(f, "photo bytes", sha);

    int64_t ka = current_key_of(f, f->org_a), kb = current_key_of(f, f->org_b);
    int64_t ks = current_key_of(f, 0);
    assert_true(ka > 0 && kb > 0 && ks > 0);
    assert_true(ka != kb && ka != ks && kb != ks);
    /* Three distinct wrapped keys, none of them the master key's bytes. */
    assert_int_equal(raw_int(f, "SELECT count(DISTINCT wrapped) FROM data_keys"), 3);
    assert_false(store_files_contain(f, "words for practice"));

    char sql[200];
    size_t n = 0;
    snprintf(sql, sizeof sql, "SELECT body FROM messages WHERE id = %lld", (long long)ma.id);
    uint8_t *body = raw_blob(f, sql, &n);
    assert_int_equal(key_id_of(body, n), (uint32_t)ka);
    free(body);
    snprintf(sql, sizeof sql, "SELECT subject FROM conversations WHERE id = %lld", (long long)cb);
    body = raw_blob(f, sql, &n);
    assert_int_equal(key_id_of(body, n), (uint32_t)kb);
    free(body);
    snprintf(sql, sizeof sql, "SELECT sealed FROM blobs WHERE sha256 = '%s'", sha);
    body = raw_blob(f, sql, &n);
    assert_int_equal(key_id_of(body, n), (uint32_t)ks);
    free(body);

    assert_msg_body(f, ma.id, "words for practice A");
    assert_msg_body(f, mb.id, "words for practice B");
    assert_blob(f, sha, "photo bytes");
}

static void test_a_value_relabelled_to_another_orgs_key_fails_to_open(void **state)
{
    fx_t *f = *state;
    int64_t ca = new_conv(f, f->org_a, f->pat1, "a1");
    (void)new_conv(f, f->org_b, f->pat_b, "b1");
    pl_msg_t m = send_msg(f, ca, f->pat1, false, "t1", "only for practice A");
    uint32_t kb = (uint32_t)current_key_of(f, f->org_b);

    char sql[200];
    size_t n = 0;
    snprintf(sql, sizeof sql, "SELECT body FROM messages WHERE id = %lld", (long long)m.id);
    uint8_t *body = raw_blob(f, sql, &n);
    uint8_t *orig = malloc(n);
    memcpy(orig, body, n);
    /* The header now names practice B's key: an AEAD failure, never B's key's "plaintext". */
    body[1] = (uint8_t)(kb >> 24);
    body[2] = (uint8_t)(kb >> 16);
    body[3] = (uint8_t)(kb >> 8);
    body[4] = (uint8_t)kb;
    snprintf(sql, sizeof sql, "UPDATE messages SET body = ?1 WHERE id = %lld", (long long)m.id);
    raw_set_blob(f, sql, body, n);
    json_t *j = NULL;
    assert_int_equal(pl_store_msg_json(f->st, m.id, &j), -PL_ECRYPTO);
    assert_null(j);
    /* Nor does a key id that names no key. */
    body[1] = body[2] = body[3] = 0x7f;
    raw_set_blob(f, sql, body, n);
    assert_int_equal(pl_store_msg_json(f->st, m.id, &j), -PL_ECRYPTO);
    /* Put back, it opens. */
    raw_set_blob(f, sql, orig, n);
    assert_msg_body(f, m.id, "only for practice A");
    free(body);
    free(orig);
}

/* ---- written before the upgrade ---- */

/* Rewrites conversation conv's subject and message msg's body as the code before data keys
 * sealed them (plain layout, under what is now the master key), and rewinds the schema. */
static void make_pre_upgrade(fx_t *f, int64_t conv, int64_t patient, int64_t msg,
                             const char *subject, const char *body)
{
    uint8_t buf[256];
    size_t n = 0;
    char aad[48], sql[160];
    pl_store_close(f->st);
    f->st = NULL;
    snprintf(aad, sizeof aad, "conv:%lld", (long long)patient);
    assert_int_equal(
        pl_aead_seal(f->key, aad, strlen(aad), subject, strlen(subject), buf, sizeof buf, &n), 0);
    snprintf(sql, sizeof sql, "UPDATE conversations SET subject = ?1 WHERE id = %lld",
             (long long)conv);
    raw_set_blob(f, sql, buf, n);
    snprintf(aad, sizeof aad, "msg:%lld", (long long)conv);
    assert_int_equal(
        pl_aead_seal(f->key, aad, strlen(aad), body, strlen(body), buf, sizeof buf, &n), 0);
    snprintf(sql, sizeof sql, "UPDATE messages SET body = ?1 WHERE id = %lld", (long long)msg);
    raw_set_blob(f, sql, buf, n);
    /* Events written by the new code would name keys about to go: none of them is read here. */
    raw_exec(f, "DROP INDEX messages_conv_id; DROP TABLE data_keys; "
                "DELETE FROM schema_version WHERE version > 11");
}

static void test_values_sealed_before_the_upgrade_still_open_and_new_ones_are_keyed(void **state)
{
    fx_t *f = *state;
    sqlite_only(f); /* an upgrade from SQLite schemas before data keys */
    int64_t c = new_conv(f, f->org_a, f->pat1, "c1");
    pl_msg_t m = send_msg(f, c, f->pat1, false, "t1", "x");
    make_pre_upgrade(f, c, f->pat1, m.id, "Old subject", "written by the old code");
    reopen(f, f->key);
    assert_int_equal(raw_int(f, "SELECT max(version) FROM schema_version"), pl_schema_version);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM data_keys WHERE legacy = 1 AND "
                                "retired_at IS NOT NULL AND org_id IS NULL"),
                     1);
    assert_msg_body(f, m.id, "written by the old code");
    assert_subject(f, c, "Old subject");

    /* New writes name a key, and the legacy key seals nothing new. */
    pl_msg_t m2 = send_msg(f, c, f->gp, false, "t2", "written by the new code");
    char sql[120];
    size_t n = 0;
    snprintf(sql, sizeof sql, "SELECT body FROM messages WHERE id = %lld", (long long)m2.id);
    uint8_t *b = raw_blob(f, sql, &n);
    assert_int_equal(key_id_of(b, n), (uint32_t)current_key_of(f, f->org_a));
    free(b);

    /* After a rotation of the master key, the old values still open (the legacy key is
     * re-wrapped like the others), and the old master key opens nothing. */
    uint8_t next[32];
    int64_t rewrapped = 0;
    assert_int_equal(pl_random_bytes(next, sizeof next), 0);
    assert_int_equal(pl_store_keys_rewrap(f->st, next, &rewrapped), 0);
    assert_int_equal(rewrapped, raw_int(f, "SELECT count(*) FROM data_keys"));
    reopen_refused(f, f->key);
    reopen(f, next);
    assert_msg_body(f, m.id, "written by the old code");
    assert_msg_body(f, m2.id, "written by the new code");
    assert_subject(f, c, "Old subject");
    memcpy(f->key, next, sizeof next);
}

static void test_upgrade_under_the_wrong_key_is_refused_and_changes_nothing(void **state)
{
    fx_t *f = *state;
    sqlite_only(f); /* an upgrade from SQLite schemas before data keys */
    int64_t c = new_conv(f, f->org_a, f->pat1, "c1");
    pl_msg_t m = send_msg(f, c, f->pat1, false, "t1", "x");
    make_pre_upgrade(f, c, f->pat1, m.id, "Old subject", "kept safe");
    uint8_t wrong[32];
    memcpy(wrong, f->key, sizeof wrong);
    wrong[5] ^= 0x40;
    reopen_refused(f, wrong);
    assert_int_equal(raw_int(f, "SELECT max(version) FROM schema_version"), 11);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM sqlite_master WHERE name = 'data_keys'"), 0);
    reopen(f, f->key);
    assert_msg_body(f, m.id, "kept safe");
}

/* ---- the master key ---- */

static void test_rotation_rewraps_every_key_and_leaves_the_data_alone(void **state)
{
    fx_t *f = *state;
    int64_t ca = new_conv(f, f->org_a, f->pat1, "a1");
    int64_t cb = new_conv(f, f->org_b, f->pat_b, "b1");
    pl_msg_t ma = send_msg(f, ca, f->pat1, false, "t1", "alpha");
    pl_msg_t mb = send_msg(f, cb, f->pat_b, false, "t2", "bravo");
    char sha[65];
    put_blob(f, "blob bytes", sha);
    raw_exec(f, "CREATE TABLE before_wrap AS SELECT id, wrapped FROM data_keys; "
                "CREATE TABLE before_body AS SELECT id, body FROM messages");

    uint8_t next[32];
    int64_t n = 0;
    assert_int_equal(pl_random_bytes(next, sizeof next), 0);
    assert_int_equal(pl_store_keys_rewrap(f->st, next, &n), 0);
    assert_int_equal(n, 3);
    /* Every wrapped key changed; no sealed value did. */
    assert_int_equal(raw_int(f, "SELECT count(*) FROM data_keys d JOIN before_wrap b USING (id) "
                                "WHERE d.wrapped = b.wrapped"),
                     0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM messages m JOIN before_body b USING (id) "
                                "WHERE m.body = b.body"),
                     2);
    /* The same store goes on reading and writing. */
    assert_msg_body(f, ma.id, "alpha");
    pl_msg_t ma2 = send_msg(f, ca, f->gp, false, "t3", "charlie");
    int64_t cn = new_conv(f, f->org_b, f->pat_b, "b2"); /* and a new key if one is needed */
    (void)cn;

    reopen_refused(f, f->key); /* the old master key opens nothing now */
    reopen(f, next);
    assert_msg_body(f, ma.id, "alpha");
    assert_msg_body(f, mb.id, "bravo");
    assert_msg_body(f, ma2.id, "charlie");
    assert_subject(f, ca, "Repeat prescription");
    assert_blob(f, sha, "blob bytes");
    memcpy(f->key, next, sizeof next);
}

static void test_a_rotation_interrupted_before_the_rename_is_finished_at_open(void **state)
{
    fx_t *f = *state;
    sqlite_only(f); /* data.key.new is looked for beside the database file */
    int64_t c = new_conv(f, f->org_a, f->pat1, "a1");
    pl_msg_t m = send_msg(f, c, f->pat1, false, "t1", "survives the crash");
    write_key_file(f, PL_DATADIR_KEY, f->key);
    uint8_t next[32];
    int lock = -1;
    int64_t n = 0;
    assert_int_equal(pl_random_bytes(next, sizeof next), 0);
    assert_int_equal(pl_datadir_write_new_key(f->dir, next, &lock), 0);
    /* A second rotation cannot start while the first holds data.key.new. */
    int lock2 = -1;
    assert_int_equal(pl_datadir_write_new_key(f->dir, next, &lock2), -PL_ECONFLICT);
    assert_int_equal(pl_store_keys_rewrap(f->st, next, &n), 0);
    close(lock); /* ... and the process dies before the rename */

    /* Opening with what data.key holds (the old key) finds the database under data.key.new,
     * adopts it and finishes the rename. */
    reopen(f, f->key);
    assert_msg_body(f, m.id, "survives the crash");
    uint8_t now_in_file[32];
    assert_int_equal(pl_datadir_read_key_file(f->dir, PL_DATADIR_KEY, now_in_file), 0);
    assert_memory_equal(now_in_file, next, 32);
    assert_int_equal(pl_datadir_read_key_file(f->dir, PL_DATADIR_KEY_NEW, now_in_file),
                     -PL_ENOTFOUND);
    memcpy(f->key, next, sizeof next);
    reopen(f, f->key);
    assert_msg_body(f, m.id, "survives the crash");
}

static void test_a_rotation_that_never_committed_leaves_the_old_key_in_charge(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "a1");
    pl_msg_t m = send_msg(f, c, f->pat1, false, "t1", "still under the old key");
    write_key_file(f, PL_DATADIR_KEY, f->key);
    uint8_t stale[32];
    assert_int_equal(pl_random_bytes(stale, sizeof stale), 0);
    write_key_file(f, PL_DATADIR_KEY_NEW, stale); /* written, then the crash before commit */
    reopen(f, f->key);
    assert_msg_body(f, m.id, "still under the old key");
    uint8_t in_file[32];
    assert_int_equal(pl_datadir_read_key_file(f->dir, PL_DATADIR_KEY, in_file), 0);
    assert_memory_equal(in_file, f->key, 32);
}

static void test_wrong_master_key_is_refused_at_open_and_nothing_is_lost(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "a1");
    pl_msg_t m = send_msg(f, c, f->pat1, false, "t1", "precious");
    int64_t keys = raw_int(f, "SELECT count(*) FROM data_keys");
    uint8_t wrong[32];
    memcpy(wrong, f->key, sizeof wrong);
    wrong[31] ^= 0x80;
    reopen_refused(f, wrong);
    reopen_refused(f, wrong);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM data_keys"), keys);
    reopen(f, f->key);
    assert_msg_body(f, m.id, "precious");
}

static void test_an_altered_or_moved_wrapped_key_is_detected(void **state)
{
    fx_t *f = *state;
    int64_t cb = new_conv(f, f->org_b, f->pat_b, "b1");
    pl_msg_t m = send_msg(f, cb, f->pat_b, false, "t1", "practice B's words");
    int64_t kb = current_key_of(f, f->org_b);
    char sql[200];
    /* One flipped bit in B's wrapped key. */
    raw_exec(f, "CREATE TABLE saved AS SELECT * FROM data_keys");
    snprintf(sql, sizeof sql,
             f->pg ? "UPDATE data_keys SET wrapped = overlay(wrapped placing decode('ff', 'hex') "
                     "from 21 for 1) WHERE id = %lld"
                   : "UPDATE data_keys SET wrapped = substr(wrapped, 1, 20) || "
                     "x'ff' || substr(wrapped, 22) WHERE id = %lld",
             (long long)kb);
    raw_exec(f, sql);
    reopen_refused(f, f->key);
    /* B's key relabelled as A's (the wrap binds the organisation). */
    snprintf(sql, sizeof sql,
             "UPDATE data_keys SET wrapped = (SELECT wrapped FROM saved WHERE id = %lld), "
             "org_id = %lld WHERE id = %lld",
             (long long)kb, (long long)f->org_a, (long long)kb);
    raw_exec(f, sql);
    reopen_refused(f, f->key);
    /* B's wrapped bytes under another id. */
    snprintf(sql, sizeof sql,
             "UPDATE data_keys SET org_id = %lld WHERE id = %lld; UPDATE data_keys SET wrapped = "
             "(SELECT wrapped FROM saved WHERE id = %lld) WHERE id = (SELECT min(id) FROM "
             "data_keys)",
             (long long)f->org_b, (long long)kb, (long long)kb);
    raw_exec(f, sql);
    reopen_refused(f, f->key);
    raw_exec(f, "DELETE FROM data_keys; INSERT INTO data_keys SELECT * FROM saved");
    reopen(f, f->key);
    assert_msg_body(f, m.id, "practice B's words");
}

/* ---- an organisation's key ---- */

static void test_rotating_an_orgs_key_retires_the_old_one_and_keeps_it_for_reading(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "a1");
    pl_msg_t m1 = send_msg(f, c, f->pat1, false, "t1", "before");
    int64_t old = current_key_of(f, f->org_a);
    int64_t id = 0, retired = 0;
    assert_int_equal(pl_store_keys_rotate_org(f->st, f->org_a, f->now, &id, &retired), 0);
    assert_int_equal(retired, 1);
    assert_true(id != old);
    assert_int_equal(current_key_of(f, f->org_a), id);
    pl_msg_t m2 = send_msg(f, c, f->gp, false, "t2", "after");
    char sql[120];
    size_t n = 0;
    snprintf(sql, sizeof sql, "SELECT body FROM messages WHERE id = %lld", (long long)m2.id);
    uint8_t *b = raw_blob(f, sql, &n);
    assert_int_equal(key_id_of(b, n), (uint32_t)id);
    free(b);
    reopen(f, f->key);
    assert_msg_body(f, m1.id, "before");
    assert_msg_body(f, m2.id, "after");
    pl_keys_stats_t k;
    assert_int_equal(pl_store_keys_stats(f->st, &k), 0);
    assert_int_equal(k.keys, 3); /* shared, A's old, A's new */
    assert_int_equal(k.retired, 1);
    assert_int_equal(k.orgs, 1);
    assert_int_equal(k.legacy, 0);
    /* An organisation that does not exist gets no key. */
    assert_int_equal(pl_store_keys_rotate_org(f->st, 99999, f->now, &id, &retired), -PL_ECONFLICT);
}

static void test_a_key_made_in_a_rolled_back_transaction_is_never_used(void **state)
{
    fx_t *f = *state;
    assert_int_equal(pl_store_begin(f->st), 0);
    int64_t c = new_conv(f, f->org_b, f->pat_b, "b1"); /* makes B's key */
    (void)c;
    assert_int_equal(pl_store_rollback(f->st), 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM data_keys WHERE org_id IS NOT NULL"), 0);
    int64_t c2 = new_conv(f, f->org_b, f->pat_b, "b2");
    pl_msg_t m = send_msg(f, c2, f->pat_b, false, "t1", "after the rollback");
    reopen(f, f->key);
    assert_msg_body(f, m.id, "after the rollback");
    assert_subject(f, c2, "Repeat prescription");
}

int main(void)
{
    pl_log_set_level(PL_LOG_WARN); /* keep migration notices out of the test output */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_each_org_seals_under_its_own_key_and_blobs_under_the_shared_one),
        T(test_a_value_relabelled_to_another_orgs_key_fails_to_open),
        T(test_values_sealed_before_the_upgrade_still_open_and_new_ones_are_keyed),
        T(test_upgrade_under_the_wrong_key_is_refused_and_changes_nothing),
        T(test_rotation_rewraps_every_key_and_leaves_the_data_alone),
        T(test_a_rotation_interrupted_before_the_rename_is_finished_at_open),
        T(test_a_rotation_that_never_committed_leaves_the_old_key_in_charge),
        T(test_wrong_master_key_is_refused_at_open_and_nothing_is_lost),
        T(test_an_altered_or_moved_wrapped_key_is_detected),
        T(test_rotating_an_orgs_key_retires_the_old_one_and_keeps_it_for_reading),
        T(test_a_key_made_in_a_rolled_back_transaction_is_never_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
