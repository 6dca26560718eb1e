/* The audit chain (storage/store_sqlite_audit.c): rows link by SHA-256 over the canonical form
 * docs/SECURITY.md defines (recomputed here independently, with jansson and SHA-256, from the raw
 * columns), checkpoints are Ed25519-signed, and pl_store_audit_verify names the first broken link
 * whatever is done to the file with plain SQL: altered, removed, reordered, re-hashed, forged. */
#include "store_fixture.h"

#include "core/datadir.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

/* ---- helpers ---- */

static char key_path[200], pub_path[200];

/* A store that signs a checkpoint every 4 rows with a key pair made in the fixture's dir. */
static int setup_signed(void **state)
{
    if (setup(state) != 0) return -1;
    fx_t *f = *state;
    if (pl_datadir_prepare(f->dir) != 0) return -1;
    pl_datadir_path(f->dir, PL_DATADIR_AUDIT_KEY, key_path, sizeof key_path);
    pl_datadir_path(f->dir, PL_DATADIR_AUDIT_PUB, pub_path, sizeof pub_path);
    if (pl_store_audit_set_signing_key(f->st, key_path) != 0) return -1;
    pl_store_audit_set_checkpoint_every(f->st, 4);
    return 0;
}

/* Appends row i of a varied series: nulls, roles, outcomes, non-ASCII user agents. */
static void append(fx_t *f, int i)
{
    static const char *const outcomes[] = {"ok", "denied", "failed"};
    char action[32], req[32];
    snprintf(action, sizeof action, "conversation.read.%d", i);
    snprintf(req, sizeof req, "req-%d", i);
    pl_audit_rec_t r = {.at = 1000 + i,
                        .actor_id = i % 2 ? f->gp : f->recep,
                        .role = i % 3 ? "gp" : NULL,
                        .org_id = i % 3 ? f->org_a : 0,
                        .action = action,
                        .resource_type = "conversation",
                        .resource_id = 100 + i,
                        .patient_id = i % 2 ? f->pat1 : 0,
                        .outcome = outcomes[i % 3],
                        .ip = i % 4 ? "10.0.0.1" : NULL,
                        .user_agent = i % 2 ? "Mozilla/5.0 (caf\xc3\xa9 \xf0\x9f\x98\x80)" : NULL,
                        .request_id = req};
    assert_int_equal(pl_store_audit_ex(f->st, &r), 0);
}

static void append_n(fx_t *f, int n)
{
    for (int i = 1; i <= n; i++) append(f, i);
}

/* Runs sql on a raw connection after dropping the append-only triggers, as anyone with write
 * access to the file can. */
static void tamper(fx_t *f, const char *sql)
{
    if (f->pg)
        raw_exec(f, "DROP TRIGGER IF EXISTS audit_append_only_update ON audit; "
                    "DROP TRIGGER IF EXISTS audit_append_only_delete ON audit; "
                    "DROP TRIGGER IF EXISTS audit_append_only_truncate ON audit; "
                    "DROP TRIGGER IF EXISTS audit_checkpoints_append_only_update ON "
                    "audit_checkpoints; DROP TRIGGER IF EXISTS "
                    "audit_checkpoints_append_only_delete ON audit_checkpoints;");
    else
        raw_exec(f, "DROP TRIGGER IF EXISTS audit_append_only_update; "
                    "DROP TRIGGER IF EXISTS audit_append_only_delete; "
                    "DROP TRIGGER IF EXISTS audit_checkpoints_append_only_update; "
                    "DROP TRIGGER IF EXISTS audit_checkpoints_append_only_delete;");
    raw_exec(f, sql);
}

static pl_audit_verdict_t verify(fx_t *f)
{
    pl_audit_verdict_t v;
    assert_int_equal(pl_store_audit_verify(f->url, pub_path, &v), 0);
    return v;
}

static void assert_broken(fx_t *f, pl_audit_break_t kind, int64_t id)
{
    pl_audit_verdict_t v = verify(f);
    if (v.broken != kind || v.audit_id != id)
        print_error("verdict: %s at %lld (%s)\n", pl_audit_break_name(v.broken),
                    (long long)v.audit_id, v.detail);
    assert_int_equal(v.broken, kind);
    assert_int_equal(v.audit_id, id);
    assert_true(v.detail[0] != 0);
}

/* The text of one column of audit row id ("" for NULL); caller frees. */
static char *raw_text(fx_t *f, int64_t id, const char *col)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT coalesce(%s, '') FROM audit WHERE id = %lld", col,
             (long long)id);
    pl_db_t *db = raw_open(f);
    pl_dbs_t *s = NULL;
    assert_int_equal(pl_db_prepare(db, sql, &s), PL_DB_OK);
    assert_int_equal(pl_dbs_step(s), PL_DB_ROW);
    char *out = strdup(pl_dbs_text(s, 0));
    pl_dbs_finalize(s);
    pl_db_close(db);
    return out;
}

/* The hash row id should have after prev_hex, computed here from docs/SECURITY.md's definition:
 * SHA-256(prev bytes || JSON of the 13 fields, sorted keys, compact, ASCII-only, nulls kept). */
static void expected_hash(fx_t *f, int64_t id, const char *prev_hex, char out[65])
{
    static const char *const ints[] = {"id", "at", "actor_id", "org_id", "resource_id",
                                       "patient_id"};
    static const char *const texts[] = {"role", "action", "resource_type", "outcome", "ip",
                                        "user_agent", "request_id"};
    pl_db_t *db = raw_open(f);
    json_t *o = json_object();
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < (pass ? 7 : 6); i++) {
            const char *col = pass ? texts[i] : ints[i];
            char sql[128];
            snprintf(sql, sizeof sql, "SELECT %s FROM audit WHERE id = %lld", col, (long long)id);
            pl_dbs_t *s = NULL;
            assert_int_equal(pl_db_prepare(db, sql, &s), PL_DB_OK);
            assert_int_equal(pl_dbs_step(s), PL_DB_ROW);
            json_t *v = pl_dbs_type(s, 0) == PL_DB_NULL ? json_null()
                        : pass ? json_string(pl_dbs_text(s, 0))
                               : json_integer(pl_dbs_int64(s, 0));
            json_object_set_new(o, col, v);
            pl_dbs_finalize(s);
        }
    }
    pl_db_close(db);
    char *canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(o);
    size_t n = strlen(canon);
    uint8_t *buf = malloc(32 + n), h[32];
    size_t plen = 0;
    assert_int_equal(pl_hex_decode(prev_hex, buf, 32, &plen), 0);
    assert_int_equal(plen, 32);
    memcpy(buf + 32, canon, n);
    pl_sha256(buf, 32 + n, h);
    pl_hex_encode(h, 32, out);
    free(buf);
    free(canon);
}

/* Sets row id's hash to what its (altered) fields give after its stored prev_hash: a forger who
 * knows the scheme. */
static void rehash_row(fx_t *f, int64_t id)
{
    char *prev = raw_text(f, id, "prev_hash"), h[65], sql[200];
    expected_hash(f, id, prev, h);
    snprintf(sql, sizeof sql, "UPDATE audit SET hash = '%s' WHERE id = %lld", h, (long long)id);
    tamper(f, sql);
    free(prev);
}

/* ---- the chain ---- */

static void test_rows_chain_from_genesis_by_the_documented_canonical_form(void **state)
{
    fx_t *f = *state;
    append_n(f, 6);
    char *prev = raw_text(f, 1, "prev_hash");
    assert_string_equal(prev, "0000000000000000000000000000000000000000000000000000000000000000");
    for (int64_t id = 1; id <= 6; id++) {
        char *stored = raw_text(f, id, "hash"), want[65];
        char *p = raw_text(f, id, "prev_hash");
        assert_string_equal(p, prev);
        expected_hash(f, id, p, want);
        assert_string_equal(stored, want);
        free(prev);
        free(p);
        prev = stored;
    }
    free(prev);
    /* The canonical text itself, spelled out for one row: what docs/SECURITY.md promises. */
    char *ua = raw_text(f, 1, "user_agent");
    assert_string_equal(ua, "Mozilla/5.0 (caf\xc3\xa9 \xf0\x9f\x98\x80)");
    free(ua);
    json_t *rows = NULL;
    assert_int_equal(pl_store_audit_list(f->st, 0, 10, &rows), 0);
    assert_int_equal(json_array_size(rows), 6);
    const json_t *r1 = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(r1, "outcome")), "denied");
    assert_string_equal(json_string_value(json_object_get(r1, "role")), "gp");
    assert_int_equal(jint(r1, "org_id"), f->org_a);
    assert_int_equal(strlen(json_string_value(json_object_get(r1, "hash"))), 64);
    json_decref(rows);
}

static void test_verify_passes_on_an_untouched_store_and_checks_each_checkpoint(void **state)
{
    fx_t *f = *state;
    append_n(f, 10);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM audit_checkpoints"), 2);
    assert_int_equal(raw_int(f, "SELECT max(audit_id) FROM audit_checkpoints"), 8);
    pl_audit_verdict_t v = verify(f);
    assert_int_equal(v.broken, PL_AUDIT_INTACT);
    assert_int_equal(v.rows, 10);
    assert_int_equal(v.first_id, 1);
    assert_int_equal(v.last_id, 10);
    assert_int_equal(v.checkpoints, 2);
    assert_int_equal(v.last_checkpointed, 8);
}

static void test_a_rolled_back_append_leaves_no_stale_link(void **state)
{
    fx_t *f = *state;
    append_n(f, 2);
    assert_int_equal(pl_store_begin(f->st), 0);
    append(f, 3);
    assert_int_equal(pl_store_rollback(f->st), 0);
    assert_int_equal(pl_store_begin(f->st), 0);
    assert_int_equal(pl_store_savepoint(f->st), 0);
    append(f, 4);
    assert_int_equal(pl_store_rollback_to(f->st), 0);
    append(f, 5);
    assert_int_equal(pl_store_commit(f->st), 0);
    append(f, 6);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM audit"), 4);
    assert_int_equal(verify(f).broken, PL_AUDIT_INTACT);
}

static void test_bad_text_is_cleaned_and_still_verifies(void **state)
{
    fx_t *f = *state;
    char ua[PL_AUDIT_UA_MAX + 100];
    memset(ua, 'a', sizeof ua - 1);
    ua[sizeof ua - 1] = 0;
    ua[0] = (char)0xff; /* not UTF-8 */
    pl_audit_rec_t r = {.at = 1, .actor_id = f->gp, .action = "session.login",
                        .resource_type = "user", .resource_id = f->gp, .user_agent = ua,
                        .ip = "\xc3(", .outcome = "failed"};
    assert_int_equal(pl_store_audit_ex(f->st, &r), 0);
    char *stored = raw_text(f, 1, "user_agent");
    assert_int_equal(strlen(stored), PL_AUDIT_UA_MAX);
    assert_int_equal(stored[0], '?');
    free(stored);
    stored = raw_text(f, 1, "ip");
    assert_string_equal(stored, "?(");
    free(stored);
    assert_int_equal(verify(f).broken, PL_AUDIT_INTACT);
    r.outcome = "maybe";
    assert_int_equal(pl_store_audit_ex(f->st, &r), -PL_EINVAL);
    r.outcome = NULL;
    r.action = NULL;
    assert_int_equal(pl_store_audit_ex(f->st, &r), -PL_EINVAL);
}

static void test_the_application_cannot_change_or_delete_audit_rows(void **state)
{
    fx_t *f = *state;
    append_n(f, 4);
    pl_db_t *db = raw_open(f);
    assert_int_equal(pl_db_exec(db, "UPDATE audit SET action = 'x' WHERE id = 1"),
                     PL_DB_CONSTRAINT);
    assert_int_equal(pl_db_exec(db, "DELETE FROM audit WHERE id = 2"), PL_DB_CONSTRAINT);
    assert_int_equal(pl_db_exec(db, "DELETE FROM audit_checkpoints"), PL_DB_CONSTRAINT);
    if (f->pg) /* which row triggers do not see */
        assert_int_equal(pl_db_exec(db, "TRUNCATE audit, audit_checkpoints"), PL_DB_CONSTRAINT);
    pl_db_close(db);
}

static void test_forced_checkpoint_needs_a_key_and_names_the_newest_row(void **state)
{
    fx_t *f = *state;
    pl_store_audit_set_checkpoint_every(f->st, 0);
    int64_t at = 0;
    assert_int_equal(pl_store_audit_checkpoint(f->st, 5, &at), -PL_ENOTFOUND);
    append_n(f, 5);
    assert_int_equal(pl_store_audit_set_signing_key(f->st, NULL), 0);
    assert_int_equal(pl_store_audit_checkpoint(f->st, 5, &at), -PL_EPERM);
    assert_int_equal(pl_store_audit_set_signing_key(f->st, pub_path), -PL_ECRYPTO);
    assert_int_equal(pl_store_audit_set_signing_key(f->st, key_path), 0);
    assert_int_equal(pl_store_audit_checkpoint(f->st, 5, &at), 0);
    assert_int_equal(at, 5);
    assert_int_equal(pl_store_audit_checkpoint(f->st, 6, &at), 0); /* already there */
    assert_int_equal(raw_int(f, "SELECT count(*) FROM audit_checkpoints"), 1);
    pl_audit_verdict_t v = verify(f);
    assert_int_equal(v.broken, PL_AUDIT_INTACT);
    assert_int_equal(v.last_checkpointed, 5);
    /* Without the public key the checkpoints cannot be checked: an error, never a pass. */
    assert_int_equal(pl_store_audit_verify(f->url, NULL, &v), -PL_EPERM);
}

static void test_rows_there_before_the_chain_are_chained_by_the_migration(void **state)
{
    fx_t *f = *state;
    sqlite_only(f); /* PostgreSQL starts at schema 12, chained from its first row */
    append_n(f, 3);
    pl_store_close(f->st);
    f->st = NULL;
    /* Rewind the file to the schema before the chain, with its rows unchained. */
    tamper(f, "DROP INDEX messages_conv_id; DROP TABLE data_keys; DROP INDEX audit_patient; DROP TABLE outbox; DROP TABLE filings; ALTER TABLE messages DROP COLUMN error_by; "
              "ALTER TABLE messages DROP COLUMN error_at; "
              "ALTER TABLE messages DROP COLUMN error_reason; "
              "DROP TABLE audit_checkpoints; ALTER TABLE audit DROP COLUMN role; "
              "ALTER TABLE audit DROP COLUMN org_id; ALTER TABLE audit DROP COLUMN outcome; "
              "ALTER TABLE audit DROP COLUMN user_agent; ALTER TABLE audit DROP COLUMN prev_hash;"
              "ALTER TABLE audit DROP COLUMN hash; DELETE FROM schema_version WHERE version > 8");
    reopen(f, f->key);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM audit WHERE hash IS NULL"), 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM audit WHERE outcome = 'ok'"), 3);
    append(f, 4);
    pl_audit_verdict_t v = verify(f);
    assert_int_equal(v.broken, PL_AUDIT_INTACT);
    assert_int_equal(v.rows, 4);
}

/* ---- tampering ---- */

static void test_altering_a_field_is_a_hash_mismatch_at_that_row(void **state)
{
    fx_t *f = *state;
    append_n(f, 10);
    tamper(f, "UPDATE audit SET action = 'conversation.list' WHERE id = 5");
    assert_broken(f, PL_AUDIT_HASH_MISMATCH, 5);
}

static void test_altering_a_null_field_is_caught(void **state)
{
    fx_t *f = *state;
    append_n(f, 6);
    tamper(f, "UPDATE audit SET patient_id = NULL WHERE id = 3");
    assert_broken(f, PL_AUDIT_HASH_MISMATCH, 3);
}

static void test_deleting_a_middle_row_is_a_gap_at_its_id(void **state)
{
    fx_t *f = *state;
    append_n(f, 10);
    tamper(f, "DELETE FROM audit WHERE id = 6");
    assert_broken(f, PL_AUDIT_GAP, 6);
}

static void test_deleting_and_renumbering_is_a_prev_hash_mismatch(void **state)
{
    fx_t *f = *state;
    append_n(f, 6);
    tamper(f, "DELETE FROM audit WHERE id = 5; UPDATE audit SET id = 5 WHERE id = 6");
    raw_exec(f, f->pg ? "UPDATE audit_head SET last_id = 5"
                      : "UPDATE sqlite_sequence SET seq = 5 WHERE name = 'audit'");
    assert_broken(f, PL_AUDIT_PREV_MISMATCH, 5);
}

static void test_deleting_the_checkpointed_last_row_is_caught_by_the_checkpoint(void **state)
{
    fx_t *f = *state;
    append_n(f, 8); /* checkpoint 2 names row 8 */
    tamper(f, "DELETE FROM audit WHERE id = 8");
    raw_exec(f, f->pg ? "UPDATE audit_head SET last_id = 7"
                      : "UPDATE sqlite_sequence SET seq = 7 WHERE name = 'audit'");
    assert_broken(f, PL_AUDIT_CKPT_MISSING_ROW, 8);
}

static void test_deleting_the_last_row_leaves_issued_ids_missing(void **state)
{
    fx_t *f = *state;
    append_n(f, 10);
    tamper(f, "DELETE FROM audit WHERE id >= 9");
    assert_broken(f, PL_AUDIT_TRUNCATED, 9);
}

static void test_swapping_two_rows_is_reported_as_reordered(void **state)
{
    fx_t *f = *state;
    append_n(f, 10);
    tamper(f, "UPDATE audit SET id = -3 WHERE id = 3; UPDATE audit SET id = 3 WHERE id = 4; "
              "UPDATE audit SET id = 4 WHERE id = -3");
    assert_broken(f, PL_AUDIT_REORDERED, 3);
}

static void test_rehashing_an_altered_row_breaks_the_next_link(void **state)
{
    fx_t *f = *state;
    append_n(f, 10);
    tamper(f, "UPDATE audit SET actor_id = 999 WHERE id = 6");
    rehash_row(f, 6);
    assert_broken(f, PL_AUDIT_PREV_MISMATCH, 7);
}

static void test_rewriting_the_chain_through_a_checkpoint_is_caught_by_its_signature(void **state)
{
    fx_t *f = *state;
    append_n(f, 10); /* checkpoints at 4 and 8 */
    tamper(f, "UPDATE audit SET action = 'nothing.to.see' WHERE id = 6");
    /* A forger without the key rewrites every link after the altered row. */
    for (int64_t id = 6; id <= 10; id++) {
        if (id > 6) {
            char *prev = raw_text(f, id - 1, "hash"), sql[200];
            snprintf(sql, sizeof sql, "UPDATE audit SET prev_hash = '%s' WHERE id = %lld", prev,
                     (long long)id);
            tamper(f, sql);
            free(prev);
        }
        rehash_row(f, id);
    }
    assert_broken(f, PL_AUDIT_CKPT_HASH_MISMATCH, 8);
    /* Re-pointing the checkpoint at the new hash needs a signature the forger cannot make. */
    char *h = raw_text(f, 8, "hash"), sql[200];
    snprintf(sql, sizeof sql, "UPDATE audit_checkpoints SET hash = '%s' WHERE audit_id = 8", h);
    tamper(f, sql);
    free(h);
    assert_broken(f, PL_AUDIT_CKPT_BAD_SIGNATURE, 8);
}

static void test_a_forged_checkpoint_signature_is_caught(void **state)
{
    fx_t *f = *state;
    append_n(f, 10);
    /* Signed with another Ed25519 key: well formed, just not ours. */
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(other);
    char *hash = raw_text(f, 4, "hash"), msg[200];
    int64_t signed_at = raw_int(f, "SELECT signed_at FROM audit_checkpoints WHERE id = 1");
    snprintf(msg, sizeof msg, "parley-audit-checkpoint-v1:1:4:%s:%lld", hash,
             (long long)signed_at);
    uint8_t sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, other), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(other);
    free(hash);
    char hex[129], sql[300];
    pl_hex_encode(sig, 64, hex);
    snprintf(sql, sizeof sql, "UPDATE audit_checkpoints SET signature = '%s' WHERE id = 1", hex);
    tamper(f, sql);
    assert_broken(f, PL_AUDIT_CKPT_BAD_SIGNATURE, 4);
}

static void test_the_checkpoint_signature_covers_its_own_message_format(void **state)
{
    /* The message format the test above signs is the one verify checks: a genuine signature
     * over it, made here with the store's key, passes. */
    fx_t *f = *state;
    append_n(f, 4);
    FILE *kf = fopen(key_path, "r");
    assert_non_null(kf);
    EVP_PKEY *k = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    fclose(kf);
    assert_non_null(k);
    char *hash = raw_text(f, 4, "hash"), msg[200];
    snprintf(msg, sizeof msg, "parley-audit-checkpoint-v1:1:4:%s:%lld", hash, 77LL);
    uint8_t sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, k), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    free(hash);
    char hex[129], sql[300];
    pl_hex_encode(sig, 64, hex);
    snprintf(sql, sizeof sql,
             "UPDATE audit_checkpoints SET signature = '%s', signed_at = 77 WHERE id = 1", hex);
    tamper(f, sql);
    assert_int_equal(verify(f).broken, PL_AUDIT_INTACT);
    /* ...and changing signed_at alone breaks it. */
    tamper(f, "UPDATE audit_checkpoints SET signed_at = 78 WHERE id = 1");
    assert_broken(f, PL_AUDIT_CKPT_BAD_SIGNATURE, 4);
}

static void test_removing_a_middle_checkpoint_is_caught(void **state)
{
    fx_t *f = *state;
    append_n(f, 13); /* checkpoints 1, 2, 3 at rows 4, 8, 12 */
    tamper(f, "DELETE FROM audit_checkpoints WHERE id = 2");
    pl_audit_verdict_t v = verify(f);
    assert_int_equal(v.broken, PL_AUDIT_CKPT_GAP);
    assert_int_equal(v.audit_id, 12);
    assert_int_equal(v.checkpoint_id, 3);
}

static void test_removing_the_newest_checkpoint_is_not_detectable_from_the_file(void **state)
{
    /* Documented limit (docs/SECURITY.md): the newest checkpoint is only as safe as the copies
     * kept outside the database (the server log line). The rows stay chained. */
    fx_t *f = *state;
    append_n(f, 10);
    tamper(f, "DELETE FROM audit_checkpoints WHERE id = 2");
    pl_audit_verdict_t v = verify(f);
    assert_int_equal(v.broken, PL_AUDIT_INTACT);
    assert_int_equal(v.last_checkpointed, 4);
}

static void test_a_row_inserted_behind_the_stores_back_is_caught(void **state)
{
    fx_t *f = *state;
    append_n(f, 3);
    tamper(f, "INSERT INTO audit (id, at, actor_id, action, resource_type, resource_id) "
              "VALUES ((SELECT max(id) + 1 FROM audit), 5, 1, 'x', 'y', 1)");
    assert_broken(f, PL_AUDIT_NO_HASH, 4);
    /* Reopening must not adopt it into the chain. */
    reopen(f, f->key);
    assert_broken(f, PL_AUDIT_NO_HASH, 4);
}

int main(void)
{
    pl_log_set_level(PL_LOG_ERROR);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_signed, teardown)
    const struct CMUnitTest tests[] = {
        T(test_rows_chain_from_genesis_by_the_documented_canonical_form),
        T(test_verify_passes_on_an_untouched_store_and_checks_each_checkpoint),
        T(test_a_rolled_back_append_leaves_no_stale_link),
        T(test_bad_text_is_cleaned_and_still_verifies),
        T(test_the_application_cannot_change_or_delete_audit_rows),
        T(test_forced_checkpoint_needs_a_key_and_names_the_newest_row),
        T(test_rows_there_before_the_chain_are_chained_by_the_migration),
        T(test_altering_a_field_is_a_hash_mismatch_at_that_row),
        T(test_altering_a_null_field_is_caught),
        T(test_deleting_a_middle_row_is_a_gap_at_its_id),
        T(test_deleting_and_renumbering_is_a_prev_hash_mismatch),
        T(test_deleting_the_checkpointed_last_row_is_caught_by_the_checkpoint),
        T(test_deleting_the_last_row_leaves_issued_ids_missing),
        T(test_swapping_two_rows_is_reported_as_reordered),
        T(test_rehashing_an_altered_row_breaks_the_next_link),
        T(test_rewriting_the_chain_through_a_checkpoint_is_caught_by_its_signature),
        T(test_a_forged_checkpoint_signature_is_caught),
        T(test_the_checkpoint_signature_covers_its_own_message_format),
        T(test_removing_a_middle_checkpoint_is_caught),
        T(test_removing_the_newest_checkpoint_is_not_detectable_from_the_file),
        T(test_a_row_inserted_behind_the_stores_back_is_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
