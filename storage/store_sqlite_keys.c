/* SQLite backend: the data keys (store_keys.h, and the sealing helpers of sqlite_internal.h).
 *
 * Hierarchy: the master key in var/data.key wraps (AES-256-GCM, plain layout, AAD
 * "data-key:<id>:org:<org>" plus ":legacy" for the legacy key) one data key per organisation,
 * and one shared key (org_id NULL) for what belongs to no single organisation (attachment bytes,
 * deduplicated by SHA-256 across organisations; TOTP secrets, which belong to a person). The
 * wrapped keys live in data_keys; a value sealed under a data key carries its id in the keyed
 * layout's header (aead.h), so opening needs no organisation. An organisation's key is made the
 * first time something of theirs is sealed; `parley keys rotate --org` retires it (kept for
 * reading) and makes the next.
 *
 * Values sealed before this (the plain layout, under what was then the one data key and is now
 * the master key) are not re-sealed: the upgrade keeps that key as a "legacy" data key, wrapped
 * by the master key like the others, and every plain-layout value opens with it. Re-sealing in
 * the migration would need every sealed column's AAD, which is built in C from each row's context
 * in a dozen files: one forgotten column would be unreadable after the upgrade. With the legacy
 * key, a rotation of the master key needs nothing more, since the legacy key is re-wrapped like
 * any other.
 *
 * Caching: unwrapped keys stay in memory for the store's life and are wiped on close. The
 * current key of an organisation is looked up in the database on every seal (one indexed read):
 * a transaction that made a key and was rolled back, or a `parley keys rotate --org` run beside
 * the server, is then seen at once, and a cached key is used only while its wrapped bytes match
 * the row. When the master key no longer opens a row (a `parley keys rotate` ran beside this
 * process), the store re-reads data.key, then data.key.new, beside the database, and adopts the
 * one that opens it: so a key never gets wrapped under a master key that has been replaced. */
#include "core/datadir.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "storage/sqlite_internal.h"
#include "storage/store_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void wrap_aad(char *out, size_t cap, int64_t id, int64_t org, bool legacy)
{
    snprintf(out, cap, "data-key:%lld:org:%lld%s", (long long)id, (long long)org,
             legacy ? ":legacy" : "");
}

static int wrap(const uint8_t master[PL_AEAD_KEY_LEN], int64_t id, int64_t org, bool legacy,
                const uint8_t key[PL_AEAD_KEY_LEN], uint8_t out[PL_SQ_WRAPPED_LEN])
{
    char aad[96];
    size_t n = 0;
    wrap_aad(aad, sizeof aad, id, org, legacy);
    return pl_aead_seal(master, aad, strlen(aad), key, PL_AEAD_KEY_LEN, out, PL_SQ_WRAPPED_LEN, &n);
}

static int unwrap(const uint8_t master[PL_AEAD_KEY_LEN], int64_t id, int64_t org, bool legacy,
                  const uint8_t *w, size_t wlen, uint8_t key[PL_AEAD_KEY_LEN])
{
    char aad[96];
    size_t n = 0;
    if (wlen != PL_SQ_WRAPPED_LEN) return -PL_ECRYPTO;
    wrap_aad(aad, sizeof aad, id, org, legacy);
    int rc = pl_aead_open(master, aad, strlen(aad), w, wlen, key, PL_AEAD_KEY_LEN, &n);
    return rc == 0 && n == PL_AEAD_KEY_LEN ? 0 : -PL_ECRYPTO;
}

static pl__sq_dkey_t *cache_find(pl_store_t *st, int64_t id)
{
    for (int i = 0; i < st->n_dkeys; i++)
        if (st->dkeys[i]->id == id) return st->dkeys[i];
    return NULL;
}

/* The cached entry for id, made or overwritten. Entries never move: callers may hold one. */
static pl__sq_dkey_t *cache_put(pl_store_t *st, int64_t id, int64_t org, bool legacy,
                                const uint8_t key[PL_AEAD_KEY_LEN], const uint8_t *wrapped)
{
    pl__sq_dkey_t *e = cache_find(st, id);
    if (!e) {
        if (st->n_dkeys == st->cap_dkeys) {
            int cap = st->cap_dkeys ? st->cap_dkeys * 2 : 8;
            pl__sq_dkey_t **d = realloc(st->dkeys, (size_t)cap * sizeof *d);
            if (!d) return NULL;
            st->dkeys = d;
            st->cap_dkeys = cap;
        }
        if (!(e = calloc(1, sizeof *e))) return NULL;
        st->dkeys[st->n_dkeys++] = e;
    }
    e->id = id;
    e->org_id = org;
    e->legacy = legacy;
    memcpy(e->key, key, PL_AEAD_KEY_LEN);
    memcpy(e->wrapped, wrapped, PL_SQ_WRAPPED_LEN);
    return e;
}

void pl__sq_keys_close(pl_store_t *st)
{
    for (int i = 0; i < st->n_dkeys; i++) {
        pl_wipe(st->dkeys[i], sizeof *st->dkeys[i]);
        free(st->dkeys[i]);
    }
    free(st->dkeys);
    st->dkeys = NULL;
    st->n_dkeys = st->cap_dkeys = 0;
    pl_wipe(st->master, sizeof st->master);
}

/* The master key no longer opens row (id, org, w): looks for the one that does in data.key and
 * data.key.new beside the database, adopting it. A data.key.new that opens it is the key of a
 * rotation that committed but did not rename its file (a crash between the two): the rename is
 * finished here. 0 when adopted, else -PL_ECRYPTO. */
static int adopt_master_from_disk(pl_store_t *st, int64_t id, int64_t org, bool legacy,
                                  const uint8_t *w, size_t wlen)
{
    static const char *const names[] = {PL_DATADIR_KEY, PL_DATADIR_KEY_NEW};
    uint8_t cand[PL_AEAD_KEY_LEN], key[PL_AEAD_KEY_LEN];
    int rc = -PL_ECRYPTO;
    if (!st->dir[0]) return rc; /* a shared PostgreSQL store: no folder beside it to look in */
    for (size_t i = 0; i < sizeof names / sizeof names[0] && rc < 0; i++) {
        if (pl_datadir_read_key_file(st->dir, names[i], cand) < 0) continue;
        if (pl_ct_equal(cand, st->master, sizeof cand)) continue;
        if (unwrap(cand, id, org, legacy, w, wlen, key) < 0) continue;
        memcpy(st->master, cand, sizeof cand);
        rc = 0;
        if (i == 0) {
            pl_log_info("store", "the master key in %s changed (a rotation ran): using it",
                        PL_DATADIR_KEY);
        } else if (pl_datadir_install_new_key(st->dir, cand) == 0) {
            pl_log_warn("store", "finished an interrupted key rotation: %s installed as %s",
                        PL_DATADIR_KEY_NEW, PL_DATADIR_KEY);
        } else {
            pl_log_error("store",
                         "the database's keys are wrapped under %s/%s, which could not "
                         "be renamed to %s: rename it by hand",
                         st->dir, PL_DATADIR_KEY_NEW, PL_DATADIR_KEY);
        }
    }
    pl_wipe(cand, sizeof cand);
    pl_wipe(key, sizeof key);
    return rc;
}

/* The cached key of row (id, org, legacy, w), unwrapping it when the cache has no entry with
 * those exact wrapped bytes. */
static int resolve(pl_store_t *st, int64_t id, int64_t org, bool legacy, const uint8_t *w,
                   size_t wlen, pl__sq_dkey_t **out)
{
    if (!w || wlen != PL_SQ_WRAPPED_LEN) {
        pl_log_error("store", "data key %lld is malformed (the row was altered)", (long long)id);
        return -PL_ECRYPTO;
    }
    pl__sq_dkey_t *e = cache_find(st, id);
    if (e && e->org_id == org && e->legacy == legacy && memcmp(e->wrapped, w, wlen) == 0) {
        *out = e;
        return 0;
    }
    uint8_t key[PL_AEAD_KEY_LEN];
    int rc = unwrap(st->master, id, org, legacy, w, wlen, key);
    if (rc < 0 && adopt_master_from_disk(st, id, org, legacy, w, wlen) == 0)
        rc = unwrap(st->master, id, org, legacy, w, wlen, key);
    if (rc < 0) return -PL_ECRYPTO; /* the caller says which failure it is */
    e = cache_put(st, id, org, legacy, key, w);
    pl_wipe(key, sizeof key);
    if (!e) return -PL_ENOMEM;
    *out = e;
    return 0;
}

static int resolve_row(pl_store_t *st, pl_dbs_t *s, int c_id, pl__sq_dkey_t **out)
{
    int64_t id = pl_dbs_int64(s, c_id);
    int64_t org = pl_dbs_int64(s, c_id + 1);
    bool legacy = pl_dbs_int(s, c_id + 2) != 0;
    const uint8_t *w = pl_dbs_blob(s, c_id + 3);
    size_t wlen = (size_t)pl_dbs_bytes(s, c_id + 3);
    int rc = resolve(st, id, org, legacy, w, wlen, out);
    if (rc == -PL_ECRYPTO)
        pl_log_error("store",
                     "data key %lld does not open under the master key: the key file is "
                     "not this database's, or the key's row was altered",
                     (long long)id);
    return rc;
}

#define KEY_COLS "id, coalesce(org_id, 0), legacy, wrapped"

static int by_id(pl_store_t *st, int64_t id, pl__sq_dkey_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT " KEY_COLS " FROM data_keys WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW)
        rc = resolve_row(st, s, 0, out);
    else if (rc == PL_DB_DONE) {
        pl_log_error("store", "a sealed value names data key %lld, which does not exist",
                     (long long)id);
        rc = -PL_ECRYPTO;
    } else
        rc = pl__sq_err(st, rc, "data key read");
    pl_dbs_reset(s);
    return rc;
}

static int legacy_key(pl_store_t *st, pl__sq_dkey_t **out)
{
    for (int i = 0; i < st->n_dkeys; i++)
        if (st->dkeys[i]->legacy) {
            *out = st->dkeys[i];
            return 0;
        }
    pl_dbs_t *s =
        pl__sq_stmt(st, "SELECT " KEY_COLS " FROM data_keys WHERE legacy = 1 ORDER BY id LIMIT 1");
    if (!s) return -PL_EINTERNAL;
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW)
        rc = resolve_row(st, s, 0, out);
    else if (rc == PL_DB_DONE) {
        pl_log_error("store", "a value sealed before per-organisation keys, and no legacy key");
        rc = -PL_ECRYPTO;
    } else
        rc = pl__sq_err(st, rc, "legacy key read");
    pl_dbs_reset(s);
    return rc;
}

/* Runs fn in the caller's transaction under a savepoint, or in its own write transaction. */
static int in_txn(pl_store_t *st, int (*fn)(pl_store_t *, void *), void *arg)
{
    bool own = pl_db_autocommit(st->db);
    if ((own ? pl_db_begin(st->db) : pl_db_exec(st->db, "SAVEPOINT data_key")) != PL_DB_OK)
        return pl__sq_err(st, pl_db_errcode(st->db), "data key begin");
    int rc = fn(st, arg);
    if (rc == 0 &&
        pl_db_exec(st->db, own ? "COMMIT" : "RELEASE data_key") != PL_DB_OK)
        rc = pl__sq_err(st, pl_db_errcode(st->db), "data key commit");
    if (rc < 0)
        pl_db_exec(st->db, own ? "ROLLBACK" : "ROLLBACK TO data_key; RELEASE data_key");
    return rc;
}

/* Inserts a data key row for org with key, wrapped under the master key (its id is in the AAD,
 * so the row is inserted first and its wrapped bytes set once the id is known). */
static int insert_key(pl_store_t *st, int64_t org, bool legacy, const uint8_t key[PL_AEAD_KEY_LEN],
                      int64_t now, pl__sq_dkey_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO data_keys (org_id, legacy, wrapped, "
                                      "created_at, retired_at) VALUES (?, ?, ?, ?, ?)");
    if (!s) return -PL_EINTERNAL;
    if (org)
        pl_dbs_bind_int64(s, 1, org);
    else
        pl_dbs_bind_null(s, 1);
    pl_dbs_bind_int(s, 2, legacy);
    static const uint8_t placeholder[PL_SQ_WRAPPED_LEN];
    pl_dbs_bind_blob(s, 3, placeholder, sizeof placeholder);
    pl_dbs_bind_int64(s, 4, now);
    if (legacy)
        pl_dbs_bind_int64(s, 5, now); /* never used for new writes */
    else
        pl_dbs_bind_null(s, 5);
    int rc = pl__sq_done(st, s, "data key insert");
    if (rc < 0) return rc;
    int64_t id = pl_db_last_id(st->db);
    if (id <= 0 || id > (int64_t)UINT32_MAX) return -PL_EINTERNAL; /* the header holds 32 bits */
    uint8_t w[PL_SQ_WRAPPED_LEN];
    if ((rc = wrap(st->master, id, org, legacy, key, w)) < 0) return rc;
    if (!(s = pl__sq_stmt(st, "UPDATE data_keys SET wrapped = ? WHERE id = ?")))
        return -PL_EINTERNAL;
    pl_dbs_bind_blob(s, 1, w, sizeof w);
    pl_dbs_bind_int64(s, 2, id);
    if ((rc = pl__sq_done(st, s, "data key wrap")) < 0) return rc;
    pl__sq_dkey_t *e = cache_put(st, id, org, legacy, key, w);
    if (!e) return -PL_ENOMEM;
    if (out) *out = e;
    return 0;
}

typedef struct {
    int64_t org, now;
    pl__sq_dkey_t *made;
} create_arg_t;

static int create_fn(pl_store_t *st, void *arg)
{
    create_arg_t *a = arg;
    /* Confirm the master key is still the one the rows are wrapped under (adopting the new one
     * if a rotation ran beside this process) before wrapping anything with it. */
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT " KEY_COLS " FROM data_keys ORDER BY id LIMIT 1");
    if (!s) return -PL_EINTERNAL;
    int rc = pl_dbs_step(s);
    pl__sq_dkey_t *first = NULL;
    if (rc == PL_DB_ROW)
        rc = resolve_row(st, s, 0, &first);
    else
        rc = rc == PL_DB_DONE ? 0 : pl__sq_err(st, rc, "data key check");
    pl_dbs_reset(s);
    if (rc < 0) return rc;
    uint8_t key[PL_AEAD_KEY_LEN];
    if ((rc = pl_random_bytes(key, sizeof key)) < 0) return rc;
    rc = insert_key(st, a->org, false, key, a->now, &a->made);
    pl_wipe(key, sizeof key);
    if (rc == 0)
        pl_log_info("store", "created data key %lld for %s %lld", (long long)a->made->id,
                    a->org ? "organisation" : "shared use", (long long)a->org);
    return rc;
}

/* org's current data key, made when it has none. */
static int current_key(pl_store_t *st, int64_t org, pl__sq_dkey_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT " KEY_COLS " FROM data_keys WHERE org_id IS NOT DISTINCT FROM CAST(? AS BIGINT) AND "
                                      "legacy = 0 AND retired_at IS NULL ORDER BY id DESC LIMIT 1");
    if (!s) return -PL_EINTERNAL;
    if (org)
        pl_dbs_bind_int64(s, 1, org);
    else
        pl_dbs_bind_null(s, 1);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        rc = resolve_row(st, s, 0, out);
        pl_dbs_reset(s);
        return rc;
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) return pl__sq_err(st, rc, "data key lookup");
    create_arg_t a = {.org = org, .now = pl_now_ms(), .made = NULL};
    if ((rc = in_txn(st, create_fn, &a)) < 0) return rc;
    *out = a.made;
    return 0;
}

int pl__sq_keys_open(pl_store_t *st)
{
    pl_dbs_t *s = NULL;
    if (pl_db_prepare(st->db, "SELECT " KEY_COLS " FROM data_keys ORDER BY id", &s) != PL_DB_OK)
        return pl__sq_err(st, pl_db_errcode(st->db), "data keys load");
    int rc, n = 0;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        pl__sq_dkey_t *e = NULL;
        int64_t id = pl_dbs_int64(s, 0);
        const void *w = pl_dbs_blob(s, 3);
        size_t wlen = (size_t)pl_dbs_bytes(s, 3);
        rc =
            resolve(st, id, pl_dbs_int64(s, 1), pl_dbs_int(s, 2) != 0, w, wlen, &e);
        if (rc == -PL_ECRYPTO && n == 0)
            pl_log_error("store",
                         "the master key (%s) does not open this database's data keys: "
                         "it is not the key this database was written with (nothing was "
                         "changed; restore the right key file)",
                         PL_DATADIR_KEY);
        else if (rc == -PL_ECRYPTO)
            pl_log_error("store",
                         "data key %lld does not open under the master key that opens "
                         "the others: its row was altered",
                         (long long)id);
        if (rc < 0) break;
        n++;
    }
    pl_dbs_finalize(s);
    if (rc != PL_DB_DONE) return rc < 0 ? rc : pl__sq_err(st, rc, "data keys load");
    pl__sq_dkey_t *shared = NULL;
    return current_key(st, 0, &shared);
}

/* One plain-layout value sealed before data_keys existed, with its AAD: a conversation's subject
 * (every conversation has one), else a TOTP secret. 1 when found, 0 when there is none. */
static int legacy_probe(pl_store_t *st, uint8_t **blob, size_t *len, char *aad, size_t cap)
{
    static const char *const q[] = {
        "SELECT patient_id, subject FROM conversations WHERE substr(subject, 1, 1) = x'01' "
        "LIMIT 1",
        "SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL AND "
        "substr(totp_secret, 1, 1) = x'01' LIMIT 1"};
    static const char *const fmt[] = {"conv:%lld", "totp:%lld"};
    for (int i = 0; i < 2; i++) {
        pl_dbs_t *s = NULL;
        if (pl_db_prepare(st->db, q[i], &s) != PL_DB_OK)
            return pl__sq_err(st, pl_db_errcode(st->db), "legacy probe");
        int found = 0;
        if (pl_dbs_step(s) == PL_DB_ROW) {
            snprintf(aad, cap, fmt[i], (long long)pl_dbs_int64(s, 0));
            *len = (size_t)pl_dbs_bytes(s, 1);
            *blob = malloc(*len ? *len : 1);
            if (*blob && *len) memcpy(*blob, pl_dbs_blob(s, 1), *len);
            found = *blob ? 1 : -PL_ENOMEM;
        }
        pl_dbs_finalize(s);
        if (found) return found;
    }
    return 0;
}

int pl__sq_keys_adopt_legacy(pl_store_t *st)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    char aad[64];
    int rc = legacy_probe(st, &blob, &len, aad, sizeof aad);
    if (rc <= 0) return rc; /* nothing was sealed before: no legacy key needed */
    uint8_t *pt = malloc(len);
    size_t n = 0;
    rc = pt ? pl_aead_open(st->master, aad, strlen(aad), blob, len, pt, len, &n) : -PL_ENOMEM;
    if (pt) pl_wipe(pt, len);
    free(pt);
    free(blob);
    if (rc == -PL_ECRYPTO || rc == -PL_EINVAL) {
        pl_log_error("store",
                     "the key in %s does not open the data this database holds: it is "
                     "not the key the database was written with; not upgraded, nothing changed",
                     PL_DATADIR_KEY);
        return -PL_ECRYPTO;
    }
    if (rc < 0) return rc;
    rc = insert_key(st, 0, true, st->master, pl_now_ms(), NULL);
    if (rc == 0)
        pl_log_info("store",
                    "kept the previous data key as the legacy key for values sealed "
                    "before per-organisation keys; run `parley keys rotate` to give the master "
                    "key a value of its own");
    return rc;
}

int pl__sq_seal(pl_store_t *st, int64_t org_id, const char *aad, const void *pt, size_t len,
                uint8_t **out, size_t *out_len)
{
    pl__sq_dkey_t *e = NULL;
    int rc = current_key(st, org_id, &e);
    if (rc < 0) return rc;
    size_t cap = len + PL_AEAD_KEYED_OVERHEAD;
    uint8_t *buf = malloc(cap);
    if (!buf) return -PL_ENOMEM;
    rc = pl_aead_seal_keyed(e->key, (uint32_t)e->id, aad, strlen(aad), pt, len, buf, cap, out_len);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

int pl__sq_open(pl_store_t *st, const char *aad, const uint8_t *in, size_t inlen, uint8_t *out,
                size_t outcap, size_t *out_len)
{
    uint32_t kid = 0;
    int v = pl_aead_peek(in, inlen, &kid);
    if (v < 0) return -PL_ECRYPTO;
    pl__sq_dkey_t *e = NULL;
    int rc;
    if (v == PL_AEAD_VERSION) {
        if ((rc = legacy_key(st, &e)) < 0) return rc;
        return pl_aead_open(e->key, aad, strlen(aad), in, inlen, out, outcap, out_len);
    }
    bool cached = (e = cache_find(st, kid)) != NULL;
    if (!cached && (rc = by_id(st, kid, &e)) < 0) return rc;
    rc = pl_aead_open_keyed(e->key, aad, strlen(aad), in, inlen, out, outcap, out_len);
    if (rc == -PL_ECRYPTO && cached) {
        /* The cached key may be stale (its row written anew by another process). */
        uint8_t before[PL_AEAD_KEY_LEN];
        memcpy(before, e->key, sizeof before);
        if (by_id(st, kid, &e) == 0 && !pl_ct_equal(before, e->key, sizeof before))
            rc = pl_aead_open_keyed(e->key, aad, strlen(aad), in, inlen, out, outcap, out_len);
        pl_wipe(before, sizeof before);
    }
    return rc;
}

int pl__sq_conv_org(pl_store_t *st, int64_t conv_id, int64_t *org_id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT org_id FROM conversations WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *org_id = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "conversation org");
}

/* ---- store_keys.h ---- */

typedef struct {
    const uint8_t *new_master;
    int64_t n;
    pl__sq_dkey_t **ents;
    uint8_t (*wrapped)[PL_SQ_WRAPPED_LEN];
} rewrap_arg_t;

static int rewrap_fn(pl_store_t *st, void *arg)
{
    rewrap_arg_t *a = arg;
    pl_dbs_t *s = NULL;
    int rc;
    if (pl_db_prepare(st->db, "SELECT " KEY_COLS " FROM data_keys ORDER BY id", &s) != PL_DB_OK)
        return pl__sq_err(st, pl_db_errcode(st->db), "data keys load");
    int64_t cap = 0;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        pl__sq_dkey_t *e = NULL;
        if ((rc = resolve_row(st, s, 0, &e)) < 0) break;
        if (a->n == cap) {
            cap = cap ? cap * 2 : 16;
            void *p = realloc(a->ents, (size_t)cap * sizeof *a->ents);
            void *q = p ? realloc(a->wrapped, (size_t)cap * sizeof *a->wrapped) : NULL;
            if (p) a->ents = p;
            if (q) a->wrapped = q;
            if (!p || !q) {
                rc = -PL_ENOMEM;
                break;
            }
        }
        a->ents[a->n++] = e;
    }
    pl_dbs_finalize(s);
    if (rc != PL_DB_DONE) return rc < 0 ? rc : pl__sq_err(st, rc, "data keys load");
    for (int64_t i = 0; i < a->n; i++) {
        pl__sq_dkey_t *e = a->ents[i];
        if ((rc = wrap(a->new_master, e->id, e->org_id, e->legacy, e->key, a->wrapped[i])) < 0)
            return rc;
        pl_dbs_t *u = pl__sq_stmt(st, "UPDATE data_keys SET wrapped = ? WHERE id = ?");
        if (!u) return -PL_EINTERNAL;
        pl_dbs_bind_blob(u, 1, a->wrapped[i], PL_SQ_WRAPPED_LEN);
        pl_dbs_bind_int64(u, 2, e->id);
        if ((rc = pl__sq_done(st, u, "data key rewrap")) < 0) return rc;
    }
    return 0;
}

int pl_store_keys_rewrap(pl_store_t *st, const uint8_t new_master[32], int64_t *rewrapped)
{
    if (!pl_db_autocommit(st->db)) return -PL_EINVAL; /* one transaction of its own */
    rewrap_arg_t a = {.new_master = new_master, .n = 0, .ents = NULL, .wrapped = NULL};
    int rc = in_txn(st, rewrap_fn, &a);
    if (rc == 0) {
        memcpy(st->master, new_master, sizeof st->master);
        for (int64_t i = 0; i < a.n; i++)
            memcpy(a.ents[i]->wrapped, a.wrapped[i], PL_SQ_WRAPPED_LEN);
        *rewrapped = a.n;
    }
    free(a.ents);
    free(a.wrapped);
    return rc;
}

typedef struct {
    int64_t org, now, retired;
    pl__sq_dkey_t *made;
} rotate_org_arg_t;

static int rotate_org_fn(pl_store_t *st, void *arg)
{
    rotate_org_arg_t *a = arg;
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE data_keys SET retired_at = ? WHERE org_id IS NOT DISTINCT FROM CAST(? AS BIGINT) AND "
                                      "legacy = 0 AND retired_at IS NULL");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, a->now);
    if (a->org)
        pl_dbs_bind_int64(s, 2, a->org);
    else
        pl_dbs_bind_null(s, 2);
    int rc = pl__sq_done(st, s, "data key retire");
    if (rc < 0) return rc;
    a->retired = pl_db_changes(st->db);
    create_arg_t c = {.org = a->org, .now = a->now, .made = NULL};
    if ((rc = create_fn(st, &c)) < 0) return rc;
    a->made = c.made;
    return 0;
}

int pl_store_keys_rotate_org(pl_store_t *st, int64_t org_id, int64_t now, int64_t *new_id,
                             int64_t *retired)
{
    rotate_org_arg_t a = {.org = org_id, .now = now, .retired = 0, .made = NULL};
    int rc = in_txn(st, rotate_org_fn, &a);
    if (rc < 0) return rc;
    *new_id = a.made->id;
    *retired = a.retired;
    return 0;
}

int pl_store_keys_stats(pl_store_t *st, pl_keys_stats_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT count(*), count(DISTINCT org_id), "
                                      "coalesce(sum(CASE WHEN retired_at IS NOT NULL AND legacy = 0 THEN 1 ELSE 0 END), 0), "
                                      "coalesce(sum(legacy), 0) FROM data_keys");
    if (!s) return -PL_EINTERNAL;
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        out->keys = pl_dbs_int64(s, 0);
        out->orgs = pl_dbs_int64(s, 1);
        out->retired = pl_dbs_int64(s, 2);
        out->legacy = pl_dbs_int64(s, 3);
    }
    pl_dbs_reset(s);
    return rc == PL_DB_ROW ? 0 : pl__sq_err(st, rc, "data key stats");
}
