/* The audit trail of the SQLite store (store.h, "audit"): append-only and tamper-evident.
 *
 * Each row is a link of a hash chain, hash = SHA-256(prev || canonical(row)), where prev is the
 * previous row's hash as 32 raw bytes (32 zero bytes before the first row) and canonical(row) is
 * the row's thirteen fields as compact JSON with sorted keys (canonical_json below; the exact
 * form is written down in docs/SECURITY.md "Accountability", so that anyone can recompute it).
 *
 * Appending inserts the row, reads it back and hashes the columns as stored, then sets its hash:
 * the writer and pl_store_audit_verify derive canonical(row) from the same column values through
 * the same function, so they cannot disagree about, say, how a NULL or a non-ASCII byte is
 * written. The previous hash is read from the database every time, never cached: a rolled-back
 * job would otherwise leave the cache pointing at a row that does not exist.
 *
 * Every N rows (PL_AUDIT_CHECKPOINT_EVERY, or the set number) the store signs a checkpoint with
 * the Ed25519 key in the data dir; pl_store_audit_verify checks them with the public key. */
#include "core/datadir.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "storage/sqlite_internal.h"
#include "storage/store.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HASH_LEN 32
#define HASH_HEX (2 * HASH_LEN + 1)
#define SIG_LEN 64

/* The columns canonical_json reads, in this order, then prev_hash and hash. */
#define AUDIT_COLS                                                                                 \
    "id, at, actor_id, role, org_id, action, resource_type, resource_id, patient_id, outcome, "    \
    "ip, user_agent, request_id, prev_hash, hash"
enum { C_PREV = 13, C_HASH = 14 };

static const struct {
    const char *key;
    bool integer;
} fields[13] = {
    {"id", true},          {"at", true},          {"actor_id", true},  {"role", false},
    {"org_id", true},      {"action", false},     {"resource_type", false},
    {"resource_id", true}, {"patient_id", true},  {"outcome", false},  {"ip", false},
    {"user_agent", false}, {"request_id", false},
};

/* ---- canonical form and hashing ---- */

/* canonical(row) for the row s is on (columns as AUDIT_COLS): a JSON object of the thirteen
 * fields, integers as JSON integers, text as JSON strings, SQL NULL as null, dumped by jansson
 * with JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII. A value of the wrong SQL type is written
 * as the string SQLite gives for it, so it can never hash like the original. Malloc'd, caller
 * frees; NULL if a text value is not valid UTF-8 (jansson refuses it: the row was not written by
 * this store) or on allocation failure. */
static char *canonical_json(pl_dbs_t *s)
{
    json_t *o = json_object();
    if (!o) return NULL;
    for (int i = 0; i < 13; i++) {
        json_t *v;
        int t = pl_dbs_type(s, i);
        if (t == PL_DB_NULL)
            v = json_null();
        else if (fields[i].integer && t == PL_DB_INTEGER)
            v = json_integer((json_int_t)pl_dbs_int64(s, i));
        else
            v = json_stringn((const char *)pl_dbs_text(s, i),
                             (size_t)pl_dbs_bytes(s, i));
        if (!v || json_object_set_new(o, fields[i].key, v) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    char *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(o);
    return out;
}

/* out = SHA-256(prev || canonical). */
static void link_hash(const uint8_t prev[HASH_LEN], const char *canonical, uint8_t out[HASH_LEN])
{
    size_t n = strlen(canonical);
    uint8_t *buf = malloc(HASH_LEN + n);
    if (!buf) abort(); /* a few hundred bytes: out of memory here is not recoverable */
    memcpy(buf, prev, HASH_LEN);
    memcpy(buf + HASH_LEN, canonical, n);
    pl_sha256(buf, HASH_LEN + n, out);
    free(buf);
}

/* Decodes a stored 64-digit lowercase hex hash. false if it is not one. */
static bool hash_from_hex(const char *hex, uint8_t out[HASH_LEN])
{
    size_t n = 0;
    if (!hex || strlen((const char *)hex) != 2 * HASH_LEN) return false;
    for (const char *p = hex; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return pl_hex_decode((const char *)hex, out, HASH_LEN, &n) == 0 && n == HASH_LEN;
}

/* The text a checkpoint's signature covers. */
static void checkpoint_message(int64_t id, int64_t audit_id, const char *hash_hex,
                               int64_t signed_at, char *out, size_t cap)
{
    snprintf(out, cap, "parley-audit-checkpoint-v1:%" PRId64 ":%" PRId64 ":%s:%" PRId64, id,
             audit_id, hash_hex, signed_at);
}

/* ---- text clean-up ---- */

/* Length of the valid UTF-8 sequence at p (of n bytes left), or 0. Same rules as jansson:
 * shortest form, no surrogates, nothing past U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return c ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* A malloc'd copy of in with each byte that is not part of valid UTF-8 replaced by '?', cut to
 * at most max bytes at a character boundary. NULL in gives NULL (and *err stays 0). */
static char *clean_text(const char *in, size_t max, int *err)
{
    if (!in) return NULL;
    size_t n = strlen(in);
    char *out = malloc((n < max ? n : max) + 1);
    if (!out) {
        *err = -PL_ENOMEM;
        return NULL;
    }
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(p + i, n - i);
        if (o + (l ? l : 1) > max) break;
        if (l == 0) {
            out[o++] = '?';
            i++;
        } else {
            memcpy(out + o, p + i, l);
            o += l;
            i += l;
        }
    }
    out[o] = 0;
    return out;
}

/* ---- signing key ---- */

int pl_store_audit_set_signing_key(pl_store_t *st, const char *pem_path)
{
    EVP_PKEY_free(st->audit_key);
    st->audit_key = NULL;
    if (!pem_path) return 0;
    FILE *f = fopen(pem_path, "r");
    if (!f) {
        pl_log_error("store", "cannot read the audit signing key %s", pem_path);
        return -PL_EIO;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
        pl_log_error("store", "%s is not an Ed25519 private key", pem_path);
        EVP_PKEY_free(k);
        return -PL_ECRYPTO;
    }
    st->audit_key = k;
    return 0;
}

void pl_store_audit_set_checkpoint_every(pl_store_t *st, int n)
{
    st->audit_ckpt_every = n;
}

int pl__sq_audit_open(pl_store_t *st, const char *db_path)
{
    st->audit_ckpt_every = PL_AUDIT_CHECKPOINT_EVERY;
    if (!db_path) return 0; /* PostgreSQL: the server sets the key from its data directory */
    char dir[1024], key[1100];
    const char *slash = strrchr(db_path, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - db_path), db_path);
    else
        snprintf(dir, sizeof dir, ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    pl_datadir_path(dir, PL_DATADIR_AUDIT_KEY, key, sizeof key);
    if (access(key, F_OK) != 0) return 0; /* said once, when a checkpoint falls due */
    return pl_store_audit_set_signing_key(st, key);
}

void pl__sq_audit_close(pl_store_t *st)
{
    EVP_PKEY_free(st->audit_key);
    st->audit_key = NULL;
}

/* ---- appending ---- */

/* Runs fn inside a transaction: the caller's (under a savepoint, so a failure takes back only
 * what fn did) or, when none is open, its own BEGIN IMMEDIATE, which holds the write lock from
 * the first read of the previous hash to the commit: another process appending (the CLI beside
 * a server) waits rather than forking the chain. */
static int in_txn(pl_store_t *st, int (*fn)(pl_store_t *, void *), void *arg)
{
    bool own = pl_db_autocommit(st->db);
    if ((own ? pl_db_begin(st->db) : pl_db_exec(st->db, "SAVEPOINT audit_append")) != PL_DB_OK)
        return pl__sq_err(st, pl_db_errcode(st->db), "audit begin");
    int rc = fn(st, arg);
    if (rc == 0 &&
        pl_db_exec(st->db, own ? "COMMIT" : "RELEASE audit_append") !=
            PL_DB_OK)
        rc = pl__sq_err(st, pl_db_errcode(st->db), "audit commit");
    if (rc < 0)
        pl_db_exec(st->db, own ? "ROLLBACK" : "ROLLBACK TO audit_append; RELEASE audit_append");
    return rc;
}

/* The hash of the newest row before id (genesis if none) into prev. */
static int prev_of(pl_store_t *st, int64_t id, uint8_t prev[HASH_LEN])
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, hash FROM audit WHERE id < ? "
                                      "ORDER BY id DESC LIMIT 1");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    memset(prev, 0, HASH_LEN);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW && !hash_from_hex(pl_dbs_text(s, 1), prev)) {
        /* Only a row written behind the store's back has no hash: chain on, verify names it. */
        pl_log_error("store", "audit row %" PRId64 " has no valid hash",
                     (int64_t)pl_dbs_int64(s, 0));
        memset(prev, 0, HASH_LEN);
    }
    pl_dbs_reset(s);
    return rc == PL_DB_ROW || rc == PL_DB_DONE ? 0 : pl__sq_err(st, rc, "audit prev");
}

/* Hashes row id as stored and sets its prev_hash and hash; hex gets the hash. */
static int chain_row(pl_store_t *st, int64_t id, char hex[HASH_HEX])
{
    uint8_t prev[HASH_LEN], h[HASH_LEN];
    int rc = prev_of(st, id, prev);
    if (rc < 0) return rc;
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT " AUDIT_COLS " FROM audit WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    if ((rc = pl_dbs_step(s)) != PL_DB_ROW) {
        pl_dbs_reset(s);
        return rc == PL_DB_DONE ? -PL_EINTERNAL : pl__sq_err(st, rc, "audit read back");
    }
    char *canon = canonical_json(s);
    pl_dbs_reset(s);
    if (!canon) return -PL_EINTERNAL; /* text was cleaned on the way in: cannot happen */
    link_hash(prev, canon, h);
    free(canon);
    char prev_hex[HASH_HEX];
    pl_hex_encode(prev, HASH_LEN, prev_hex);
    pl_hex_encode(h, HASH_LEN, hex);
    s = pl__sq_stmt(st, "UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, prev_hex, -1);
    pl_dbs_bind_text(s, 2, hex, -1);
    pl_dbs_bind_int64(s, 3, id);
    return pl__sq_done(st, s, "audit chain");
}

/* The audit id the newest checkpoint names (0 if none). */
static int last_checkpoint(pl_store_t *st, int64_t *audit_id, int64_t *ckpt_id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, audit_id FROM audit_checkpoints "
                                      "ORDER BY id DESC LIMIT 1");
    if (!s) return -PL_EINTERNAL;
    *audit_id = *ckpt_id = 0;
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        *ckpt_id = pl_dbs_int64(s, 0);
        *audit_id = pl_dbs_int64(s, 1);
    }
    pl_dbs_reset(s);
    return rc == PL_DB_ROW || rc == PL_DB_DONE ? 0 : pl__sq_err(st, rc, "audit checkpoint");
}

/* Signs and stores checkpoint (next id) for row audit_id whose hash is hash_hex. */
static int write_checkpoint(pl_store_t *st, int64_t audit_id, const char *hash_hex, int64_t now)
{
    int64_t last_audit, last_id;
    int rc = last_checkpoint(st, &last_audit, &last_id);
    if (rc < 0) return rc;
    int64_t id = last_id + 1;
    char msg[200];
    checkpoint_message(id, audit_id, hash_hex, now, msg, sizeof msg);
    uint8_t sig[SIG_LEN];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, st->audit_key) == 1 &&
              EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)msg, strlen(msg)) == 1 &&
              siglen == SIG_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        pl_log_error("store", "audit checkpoint signing failed");
        return -PL_ECRYPTO;
    }
    char sig_hex[2 * SIG_LEN + 1];
    pl_hex_encode(sig, SIG_LEN, sig_hex);
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO audit_checkpoints (id, audit_id, hash, "
                                      "signed_at, signature) VALUES (?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    pl_dbs_bind_int64(s, 2, audit_id);
    pl_dbs_bind_text(s, 3, hash_hex, -1);
    pl_dbs_bind_int64(s, 4, now);
    pl_dbs_bind_text(s, 5, sig_hex, -1);
    rc = pl__sq_done(st, s, "audit checkpoint");
    /* The log line is a copy outside the database: removing the newest checkpoints from the
     * file cannot remove them from wherever the logs went. */
    if (rc == 0)
        pl_log_info("audit", "checkpoint %" PRId64 " audit_id %" PRId64 " hash %s signed_at "
                    "%" PRId64 " signature %s", id, audit_id, hash_hex, now, sig_hex);
    return rc;
}

typedef struct {
    const pl_audit_rec_t *rec;
    char *role, *action, *resource_type, *outcome, *ip, *user_agent, *request_id;
} append_t;

static void bind_text_or_null(pl_dbs_t *s, int idx, const char *v)
{
    if (v)
        pl_dbs_bind_text(s, idx, v, -1);
    else
        pl_dbs_bind_null(s, idx);
}

static void bind_id_or_null(pl_dbs_t *s, int idx, int64_t v)
{
    if (v > 0)
        pl_dbs_bind_int64(s, idx, v);
    else
        pl_dbs_bind_null(s, idx);
}

static int append(pl_store_t *st, void *arg)
{
    append_t *a = arg;
    const pl_audit_rec_t *r = a->rec;
    /* SQLite's AUTOINCREMENT never reuses an id and a rolled-back one is issued again, so ids
     * have no gaps unless rows are removed. A PostgreSQL sequence would leave a gap at every
     * rollback, which verify would take for a removed row: there the next id is max + 1, safe
     * because every append holds the cluster's write lock (db_pg.c), and the highest id ever
     * issued is kept by a trigger in audit_head (schema_pg.c). */
    static const char sq_sql[] = "INSERT INTO audit (at, actor_id, role, org_id, action, "
                                 "resource_type, resource_id, patient_id, outcome, ip, "
                                 "user_agent, request_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                                 "RETURNING id";
    static const char pg_sql[] = "INSERT INTO audit (id, at, actor_id, role, org_id, action, "
                                 "resource_type, resource_id, patient_id, outcome, ip, "
                                 "user_agent, request_id) VALUES ((SELECT coalesce(max(id), 0) + 1 "
                                 "FROM audit),?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id";
    pl_dbs_t *s = pl__sq_stmt(st, pl_db_is_pg(st->db) ? pg_sql : sq_sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, r->at);
    pl_dbs_bind_int64(s, 2, r->actor_id);
    bind_text_or_null(s, 3, a->role);
    bind_id_or_null(s, 4, r->org_id);
    bind_text_or_null(s, 5, a->action);
    bind_text_or_null(s, 6, a->resource_type);
    pl_dbs_bind_int64(s, 7, r->resource_id);
    bind_id_or_null(s, 8, r->patient_id);
    bind_text_or_null(s, 9, a->outcome ? a->outcome : "ok");
    bind_text_or_null(s, 10, a->ip ? a->ip : "");
    bind_text_or_null(s, 11, a->user_agent);
    bind_text_or_null(s, 12, a->request_id ? a->request_id : "");
    int rc = pl_dbs_step(s);
    int64_t id = rc == PL_DB_ROW ? pl_dbs_int64(s, 0) : 0;
    if (rc == PL_DB_ROW) rc = pl_dbs_step(s);
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) return pl__sq_err(st, rc, "audit");
    char hex[HASH_HEX];
    if ((rc = chain_row(st, id, hex)) < 0) return rc;
    if (st->audit_ckpt_every <= 0) return 0;
    int64_t last_audit, last_id;
    if ((rc = last_checkpoint(st, &last_audit, &last_id)) < 0) return rc;
    if (id - last_audit < st->audit_ckpt_every) return 0;
    if (!st->audit_key) {
        if (!st->audit_warned)
            pl_log_warn("store", "no audit signing key: audit checkpoints are not being written");
        st->audit_warned = true;
        return 0;
    }
    return write_checkpoint(st, id, hex, r->at);
}

int pl_store_audit_ex(pl_store_t *st, const pl_audit_rec_t *rec)
{
    if (!rec || !rec->action || !rec->action[0] || !rec->resource_type || !rec->resource_type[0])
        return -PL_EINVAL;
    if (rec->outcome && strcmp(rec->outcome, "ok") && strcmp(rec->outcome, "denied") &&
        strcmp(rec->outcome, "failed"))
        return -PL_EINVAL;
    int err = 0;
    const size_t any = (size_t)-1;
    append_t a = {.rec = rec,
                  .role = clean_text(rec->role, any, &err),
                  .action = clean_text(rec->action, any, &err),
                  .resource_type = clean_text(rec->resource_type, any, &err),
                  .outcome = clean_text(rec->outcome, any, &err),
                  .ip = clean_text(rec->ip, any, &err),
                  .user_agent = clean_text(rec->user_agent, PL_AUDIT_UA_MAX, &err),
                  .request_id = clean_text(rec->request_id, any, &err)};
    int rc = err ? err : in_txn(st, append, &a);
    free(a.role);
    free(a.action);
    free(a.resource_type);
    free(a.outcome);
    free(a.ip);
    free(a.user_agent);
    free(a.request_id);
    return rc;
}

int pl_store_audit(pl_store_t *st, int64_t actor_id, const char *action, const char *resource_type,
                   int64_t resource_id, int64_t patient_id, const char *ip, const char *request_id,
                   int64_t now)
{
    pl_audit_rec_t r = {.at = now,
                        .actor_id = actor_id,
                        .action = action,
                        .resource_type = resource_type,
                        .resource_id = resource_id,
                        .patient_id = patient_id,
                        .ip = ip,
                        .request_id = request_id};
    return pl_store_audit_ex(st, &r);
}

typedef struct {
    int64_t now, audit_id;
} force_t;

static int force_checkpoint(pl_store_t *st, void *arg)
{
    force_t *f = arg;
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1");
    if (!s) return -PL_EINTERNAL;
    int rc = pl_dbs_step(s);
    char hex[HASH_HEX] = "";
    uint8_t h[HASH_LEN];
    if (rc == PL_DB_ROW) {
        f->audit_id = pl_dbs_int64(s, 0);
        if (hash_from_hex(pl_dbs_text(s, 1), h)) pl_hex_encode(h, HASH_LEN, hex);
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_DONE) return -PL_ENOTFOUND;
    if (rc != PL_DB_ROW) return pl__sq_err(st, rc, "audit last");
    if (!hex[0]) return -PL_EINTERNAL;
    int64_t last_audit, last_id;
    if ((rc = last_checkpoint(st, &last_audit, &last_id)) < 0) return rc;
    if (last_audit == f->audit_id) return 0;
    return write_checkpoint(st, f->audit_id, hex, f->now);
}

int pl_store_audit_checkpoint(pl_store_t *st, int64_t now, int64_t *audit_id)
{
    if (!st->audit_key) return -PL_EPERM;
    force_t f = {.now = now};
    int rc = in_txn(st, force_checkpoint, &f);
    if (rc == 0 && audit_id) *audit_id = f.audit_id;
    return rc;
}

int pl__sq_audit_chain_existing(pl_store_t *st)
{
    /* Once any row is chained, an unchained row is an intruder for verify to name, not a row to
     * adopt: only a trail that was never chained is chained here. */
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT EXISTS (SELECT 1 FROM audit WHERE hash IS NOT NULL),"
                                      " EXISTS (SELECT 1 FROM audit WHERE hash IS NULL)");
    if (!s) return -PL_EINTERNAL;
    int rc = pl_dbs_step(s);
    bool chained = rc == PL_DB_ROW && pl_dbs_int(s, 0);
    bool unchained = rc == PL_DB_ROW && pl_dbs_int(s, 1);
    pl_dbs_reset(s);
    if (rc != PL_DB_ROW) return pl__sq_err(st, rc, "audit chain existing");
    if (chained || !unchained) return 0;
    int64_t id = 0, n = 0;
    char hex[HASH_HEX];
    for (;;) {
        s = pl__sq_stmt(st, "SELECT min(id) FROM audit WHERE id > ?");
        if (!s) return -PL_EINTERNAL;
        pl_dbs_bind_int64(s, 1, id);
        rc = pl_dbs_step(s);
        bool more = rc == PL_DB_ROW && pl_dbs_type(s, 0) != PL_DB_NULL;
        if (more) id = pl_dbs_int64(s, 0);
        pl_dbs_reset(s);
        if (rc != PL_DB_ROW) return pl__sq_err(st, rc, "audit chain existing");
        if (!more) break;
        if ((rc = chain_row(st, id, hex)) < 0) return rc;
        n++;
    }
    pl_log_info("store", "chained %" PRId64 " existing audit rows", n);
    return 0;
}

/* ---- listing ---- */

static const char *text_or_empty(pl_dbs_t *s, int col)
{
    const char *t = (const char *)pl_dbs_text(s, col);
    return t ? t : "";
}

int pl_store_audit_list(pl_store_t *st, int64_t after_id, int limit, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT " AUDIT_COLS " FROM audit WHERE id > ? "
                                      "ORDER BY id LIMIT ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, after_id);
    pl_dbs_bind_int(s, 2, limit);
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        json_t *o = json_object();
        for (int i = 0; i < 13; i++)
            json_object_set_new(o, fields[i].key,
                                fields[i].integer
                                    ? json_integer((json_int_t)pl_dbs_int64(s, i))
                                    : json_string(text_or_empty(s, i)));
        json_object_set_new(o, "hash", json_string(text_or_empty(s, C_HASH)));
        json_array_append_new(arr, o);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "audit list");
    }
    *out = arr;
    return 0;
}

/* ---- verification ---- */

const char *pl_audit_break_name(pl_audit_break_t b)
{
    switch (b) {
    case PL_AUDIT_INTACT: return "intact";
    case PL_AUDIT_NO_HASH: return "row never chained";
    case PL_AUDIT_HASH_MISMATCH: return "hash mismatch";
    case PL_AUDIT_PREV_MISMATCH: return "prev_hash mismatch";
    case PL_AUDIT_GAP: return "gap in ids (row removed)";
    case PL_AUDIT_REORDERED: return "reordered";
    case PL_AUDIT_TRUNCATED: return "rows removed from the end";
    case PL_AUDIT_CKPT_BAD_SIGNATURE: return "bad checkpoint signature";
    case PL_AUDIT_CKPT_HASH_MISMATCH: return "checkpoint hash mismatch";
    case PL_AUDIT_CKPT_MISSING_ROW: return "checkpoint for a missing row";
    case PL_AUDIT_CKPT_GAP: return "checkpoint removed or out of order";
    }
    return "unknown";
}

typedef struct {
    pl_db_t *db;
    EVP_PKEY *pub;
    pl_dbs_t *ck; /* checkpoints in id order */
    bool ck_have;     /* ck is on a row not yet checked */
    int64_t ck_id, ck_audit, ck_expect_id, ck_prev_audit;
    pl_audit_verdict_t *v;
} verify_t;

static void broken(verify_t *x, pl_audit_break_t b, int64_t audit_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void broken(verify_t *x, pl_audit_break_t b, int64_t audit_id, const char *fmt, ...)
{
    x->v->broken = b;
    x->v->audit_id = audit_id;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->v->detail, sizeof x->v->detail, fmt, ap);
    va_end(ap);
}

static int ck_next(verify_t *x)
{
    int rc = pl_dbs_step(x->ck);
    x->ck_have = rc == PL_DB_ROW;
    if (x->ck_have) {
        x->ck_id = pl_dbs_int64(x->ck, 0);
        x->ck_audit = pl_dbs_int64(x->ck, 1);
    }
    return rc == PL_DB_ROW || rc == PL_DB_DONE ? 0 : -PL_EIO;
}

static bool sig_ok(EVP_PKEY *pub, const char *msg, const char *sig_hex)
{
    uint8_t sig[SIG_LEN];
    size_t n = 0;
    if (!sig_hex || pl_hex_decode((const char *)sig_hex, sig, sizeof sig, &n) < 0 || n != SIG_LEN)
        return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
              EVP_DigestVerify(ctx, sig, SIG_LEN, (const uint8_t *)msg, strlen(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* Checks the current checkpoint, which names row audit_id whose recomputed hash is hex. false
 * (and the verdict set) if it is broken. */
static bool ck_check(verify_t *x, const char *hex)
{
    pl_audit_verdict_t *v = x->v;
    v->checkpoint_id = x->ck_id;
    if (x->ck_id != x->ck_expect_id) {
        broken(x, PL_AUDIT_CKPT_GAP, x->ck_audit,
               "checkpoint %" PRId64 " follows checkpoint %" PRId64 ": a checkpoint was removed",
               x->ck_id, x->ck_expect_id - 1);
        return false;
    }
    if (x->ck_audit <= x->ck_prev_audit) {
        broken(x, PL_AUDIT_CKPT_GAP, x->ck_audit,
               "checkpoint %" PRId64 " names audit id %" PRId64 ", not after checkpoint "
               "%" PRId64 "'s %" PRId64, x->ck_id, x->ck_audit, x->ck_id - 1, x->ck_prev_audit);
        return false;
    }
    const char *ck_hash = (const char *)pl_dbs_text(x->ck, 2);
    char msg[200];
    checkpoint_message(x->ck_id, x->ck_audit, ck_hash ? ck_hash : "",
                       pl_dbs_int64(x->ck, 3), msg, sizeof msg);
    if (!sig_ok(x->pub, msg, pl_dbs_text(x->ck, 4))) {
        broken(x, PL_AUDIT_CKPT_BAD_SIGNATURE, x->ck_audit,
               "checkpoint %" PRId64 "'s signature does not verify with the public key",
               x->ck_id);
        return false;
    }
    if (!ck_hash || strcmp(ck_hash, hex) != 0) {
        broken(x, PL_AUDIT_CKPT_HASH_MISMATCH, x->ck_audit,
               "checkpoint %" PRId64 " signed hash %.16s... but the chain now gives %.16s...: "
               "this row or one before it was rewritten", x->ck_id, ck_hash ? ck_hash : "",
               hex);
        return false;
    }
    v->checkpoints++;
    v->last_checkpointed = x->ck_audit;
    x->ck_prev_audit = x->ck_audit;
    x->ck_expect_id++;
    return true;
}

/* The row whose stored hash is hex, other than not_id and not_id - 1; 0 if none. */
static int64_t row_with_hash(pl_db_t *db, const char *hex, int64_t not_id)
{
    pl_dbs_t *s = NULL;
    int64_t id = 0;
    if (!hex || pl_db_prepare(db, "SELECT id FROM audit WHERE hash = ? AND id <> ? AND "
                                  "id <> ? LIMIT 1", &s) != PL_DB_OK)
        return 0;
    pl_dbs_bind_text(s, 1, (const char *)hex, -1);
    pl_dbs_bind_int64(s, 2, not_id);
    pl_dbs_bind_int64(s, 3, not_id - 1);
    if (pl_dbs_step(s) == PL_DB_ROW) id = pl_dbs_int64(s, 0);
    pl_dbs_finalize(s);
    return id;
}

/* Walks the rows; false as soon as a link is broken (verdict set). -PL_EIO on read errors. */
static int walk(verify_t *x)
{
    pl_audit_verdict_t *v = x->v;
    pl_dbs_t *s = NULL;
    if (pl_db_prepare(x->db, "SELECT " AUDIT_COLS " FROM audit ORDER BY id", &s) !=
        PL_DB_OK)
        return -PL_EIO;
    uint8_t prev[HASH_LEN] = {0}, h[HASH_LEN];
    char prev_hex[HASH_HEX], hex[HASH_HEX];
    int64_t expect = 1;
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        int64_t id = pl_dbs_int64(s, 0);
        if (id != expect) {
            broken(x, PL_AUDIT_GAP, expect,
                   expect == id - 1 ? "audit id %" PRId64 " is missing (ids go from %" PRId64
                                      " to %" PRId64 ")"
                                    : "audit ids from %" PRId64 " are missing (ids go from "
                                      "%" PRId64 " to %" PRId64 ")",
                   expect, expect - 1, id);
            break;
        }
        if (x->ck_have && x->ck_audit < id) {
            broken(x, PL_AUDIT_CKPT_MISSING_ROW, x->ck_audit,
                   "checkpoint %" PRId64 " names audit id %" PRId64 ", which is not in order "
                   "in the trail", x->ck_id, x->ck_audit);
            v->checkpoint_id = x->ck_id;
            break;
        }
        if (v->rows++ == 0) v->first_id = id;
        v->last_id = id;
        expect = id + 1;
        const char *stored_prev = pl_dbs_text(s, C_PREV);
        const char *stored = pl_dbs_text(s, C_HASH);
        if (!stored) {
            broken(x, PL_AUDIT_NO_HASH, id, "audit id %" PRId64 " has no hash: it was not "
                   "written through Parley", id);
            break;
        }
        pl_hex_encode(prev, HASH_LEN, prev_hex);
        if (!stored_prev || strcmp((const char *)stored_prev, prev_hex) != 0) {
            int64_t after = row_with_hash(x->db, stored_prev, id);
            if (after)
                broken(x, PL_AUDIT_REORDERED, id, "audit id %" PRId64 " links to audit id "
                       "%" PRId64 ", not to the row before it: rows were moved", id, after);
            else
                broken(x, PL_AUDIT_PREV_MISMATCH, id, "audit id %" PRId64 "'s prev_hash is not "
                       "the hash of the row before it: that row was altered or removed", id);
            break;
        }
        char *canon = canonical_json(s);
        if (!canon) {
            broken(x, PL_AUDIT_HASH_MISMATCH, id, "audit id %" PRId64 " holds text that is not "
                   "valid UTF-8: it was altered", id);
            break;
        }
        link_hash(prev, canon, h);
        free(canon);
        pl_hex_encode(h, HASH_LEN, hex);
        if (strcmp((const char *)stored, hex) != 0) {
            broken(x, PL_AUDIT_HASH_MISMATCH, id, "audit id %" PRId64 "'s fields no longer give "
                   "its hash: the record was altered", id);
            break;
        }
        memcpy(prev, h, HASH_LEN);
        bool ok = true;
        while (ok && x->ck_have && x->ck_audit == id) {
            if (!(ok = ck_check(x, hex))) break;
            if (ck_next(x) < 0) {
                pl_dbs_finalize(s);
                return -PL_EIO;
            }
        }
        if (!ok) break;
    }
    bool io = rc != PL_DB_ROW && rc != PL_DB_DONE;
    pl_dbs_finalize(s);
    return io ? -PL_EIO : 0;
}

/* After the walk: checkpoints past the last row, then ids issued past it. */
static int check_tail(verify_t *x)
{
    pl_audit_verdict_t *v = x->v;
    if (x->ck_have) {
        v->checkpoint_id = x->ck_id;
        broken(x, PL_AUDIT_CKPT_MISSING_ROW, x->ck_audit,
               "checkpoint %" PRId64 " names audit id %" PRId64 ", which is not there (the "
               "trail ends at %" PRId64 "): rows were removed", x->ck_id, x->ck_audit,
               v->last_id);
        return 0;
    }
    pl_dbs_t *s = NULL;
    /* The last id ever issued, from the id generator, which removing rows does not wind back. */
    if (pl_db_prepare(x->db,
                      pl_db_is_pg(x->db)
                          ? "SELECT last_id FROM audit_head"
                          : "SELECT seq FROM sqlite_sequence WHERE name = 'audit'",
                      &s) != PL_DB_OK)
        return -PL_EIO;
    int64_t seq = pl_dbs_step(s) == PL_DB_ROW ? pl_dbs_int64(s, 0) : 0;
    pl_dbs_finalize(s);
    if (seq > v->last_id)
        broken(x, PL_AUDIT_TRUNCATED, v->last_id + 1,
               "audit ids %" PRId64 " to %" PRId64 " were issued but are not there: rows were "
               "removed from the end", v->last_id + 1, seq);
    return 0;
}

static int64_t count_of(pl_db_t *db, const char *sql)
{
    pl_dbs_t *s = NULL;
    int64_t n = -1;
    if (pl_db_prepare(db, sql, &s) == PL_DB_OK && pl_dbs_step(s) == PL_DB_ROW)
        n = pl_dbs_int64(s, 0);
    pl_dbs_finalize(s);
    return n;
}

int pl_store_audit_verify(const char *url, const char *pub_pem_path, pl_audit_verdict_t *out)
{
    memset(out, 0, sizeof *out);
    bool sqlite = strncmp(url, "sqlite:", 7) == 0;
    if (sqlite && access(url + 7, R_OK) != 0) return -PL_EIO;
    verify_t x = {.v = out, .ck_expect_id = 1};
    int rc = pl_db_open(&x.db, url);
    if (rc < 0) return rc == -PL_EINVAL ? rc : -PL_EIO;
    /* One read transaction: a server appending meanwhile is not seen half-way. */
    if (pl_db_exec(x.db, sqlite ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") !=
        PL_DB_OK)
        rc = -PL_EIO;
    int64_t has_chain =
        count_of(x.db, sqlite ? "SELECT count(*) FROM sqlite_master WHERE type = "
                                "'table' AND name = 'audit_checkpoints'"
                              : "SELECT count(*) FROM information_schema.tables WHERE "
                                "table_schema = current_schema() AND table_name = "
                                "'audit_checkpoints'");
    if (rc == 0 && has_chain < 0) rc = -PL_EIO;
    if (rc == 0 && has_chain == 0) rc = -PL_EINVAL;
    int64_t n_ck = rc == 0 ? count_of(x.db, "SELECT count(*) FROM audit_checkpoints") : 0;
    if (rc == 0 && n_ck < 0) rc = -PL_EIO;
    if (rc == 0 && n_ck > 0) {
        FILE *f = pub_pem_path ? fopen(pub_pem_path, "r") : NULL;
        if (f) {
            x.pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
            fclose(f);
        }
        if (!x.pub || EVP_PKEY_get_id(x.pub) != EVP_PKEY_ED25519) rc = -PL_EPERM;
    }
    if (rc == 0 && pl_db_prepare(x.db, "SELECT id, audit_id, hash, signed_at, signature "
                                        "FROM audit_checkpoints ORDER BY id",
                                 &x.ck) != PL_DB_OK)
        rc = -PL_EIO;
    if (rc == 0) rc = ck_next(&x);
    if (rc == 0) rc = walk(&x);
    if (rc == 0 && out->broken == PL_AUDIT_INTACT) rc = check_tail(&x);
    pl_dbs_finalize(x.ck);
    pl_db_exec(x.db, "COMMIT");
    pl_db_close(x.db);
    EVP_PKEY_free(x.pub);
    if (rc < 0) {
        int64_t n = out->checkpoints;
        memset(out, 0, sizeof *out);
        out->checkpoints = rc == -PL_EPERM ? n_ck : n;
    }
    return rc;
}

/* ---- a patient's trail ----
 * Rare reads (an admin's access page, an export), so the statements are prepared each time
 * rather than held in the store's statement cache. */

int pl_store_audit_of_patient(pl_store_t *st, int64_t patient_id, int64_t before_id, int limit,
                              json_t **out)
{
    static const char sql[] =
        "SELECT a.id, a.at, a.actor_id, u.display_name, u.kind, a.role, a.org_id, o.name, o.code, "
        "a.action, a.resource_type, a.resource_id, a.outcome, a.ip, a.user_agent, a.request_id "
        "FROM audit a LEFT JOIN users u ON u.id = a.actor_id LEFT JOIN orgs o ON o.id = a.org_id "
        "WHERE a.patient_id = ? AND a.id < ? ORDER BY a.id DESC LIMIT ?";
    pl_dbs_t *s = NULL;
    int rc = pl_db_prepare(st->db, sql, &s);
    if (rc != PL_DB_OK) return pl__sq_err(st, rc, "audit of patient");
    pl_dbs_bind_int64(s, 1, patient_id);
    pl_dbs_bind_int64(s, 2, before_id > 0 ? before_id : INT64_MAX);
    pl_dbs_bind_int(s, 3, limit);
    json_t *arr = json_array();
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        int kind = pl_dbs_type(s, 4) == PL_DB_NULL ? 0 : pl_dbs_int(s, 4);
        json_t *o = json_pack(
            "{sI sI sI ss ss ss sI ss ss ss ss sI ss ss ss ss}", "id",
            (json_int_t)pl_dbs_int64(s, 0), "at", (json_int_t)pl_dbs_int64(s, 1),
            "actor_id", (json_int_t)pl_dbs_int64(s, 2), "actor_name", text_or_empty(s, 3),
            "actor_kind",
            kind == PL_USER_STAFF     ? "staff"
            : kind == PL_USER_PATIENT ? "patient"
            : kind == PL_USER_GUEST   ? "guest"
                                      : "",
            "role", text_or_empty(s, 5), "org_id", (json_int_t)pl_dbs_int64(s, 6),
            "org_name", text_or_empty(s, 7), "org_code", text_or_empty(s, 8), "action",
            text_or_empty(s, 9), "resource_type", text_or_empty(s, 10), "resource_id",
            (json_int_t)pl_dbs_int64(s, 11), "outcome", text_or_empty(s, 12), "ip",
            text_or_empty(s, 13), "user_agent", text_or_empty(s, 14), "request_id",
            text_or_empty(s, 15));
        if (!o || json_array_append_new(arr, o) < 0) {
            rc = PL_DB_NOMEM;
            break;
        }
    }
    pl_dbs_finalize(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return rc == PL_DB_NOMEM ? -PL_ENOMEM : pl__sq_err(st, rc, "audit of patient");
    }
    *out = arr;
    return 0;
}

int pl_store_audit_orgs_of_patient(pl_store_t *st, int64_t patient_id, json_t **out)
{
    static const char sql[] =
        "SELECT coalesce(a.org_id, 0), o.name, o.kind, min(a.at), max(a.at), count(*) "
        "FROM audit a LEFT JOIN orgs o ON o.id = a.org_id "
        "WHERE a.patient_id = ?1 AND a.outcome = 'ok' AND a.actor_id <> ?1 "
        "GROUP BY coalesce(a.org_id, 0), o.name, o.kind ORDER BY max(a.at) DESC, 1";
    pl_dbs_t *s = NULL;
    int rc = pl_db_prepare(st->db, sql, &s);
    if (rc != PL_DB_OK) return pl__sq_err(st, rc, "audit orgs of patient");
    pl_dbs_bind_int64(s, 1, patient_id);
    json_t *arr = json_array();
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        json_t *o = json_pack("{sI ss ss sI sI sI}", "org_id",
                              (json_int_t)pl_dbs_int64(s, 0), "name", text_or_empty(s, 1),
                              "kind", text_or_empty(s, 2), "first_at",
                              (json_int_t)pl_dbs_int64(s, 3), "last_at",
                              (json_int_t)pl_dbs_int64(s, 4), "count",
                              (json_int_t)pl_dbs_int64(s, 5));
        if (!o || json_array_append_new(arr, o) < 0) {
            rc = PL_DB_NOMEM;
            break;
        }
    }
    pl_dbs_finalize(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return rc == PL_DB_NOMEM ? -PL_ENOMEM : pl__sq_err(st, rc, "audit orgs of patient");
    }
    *out = arr;
    return 0;
}
