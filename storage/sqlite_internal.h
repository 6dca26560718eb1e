/* Internals shared by the SQLite store's files (store_sqlite.c: identity, sessions;
 * store_sqlite_audit.c: the audit chain and its checkpoints;
 * store_sqlite_msg.c: conversations, messages, receipts, events). Not part of store.h. */
#ifndef PL_SQLITE_INTERNAL_H
#define PL_SQLITE_INTERNAL_H

#include "storage/aead.h"
#include "storage/store.h"

#include "storage/db.h"

/* The schema version whose migration added data_keys (storage/schema.c). */
#define PL_SQ_SCHEMA_DATA_KEYS 12
/* A data key wrapped under the master key: the plain AEAD layout around 32 key bytes. */
#define PL_SQ_WRAPPED_LEN (PL_AEAD_KEY_LEN + PL_AEAD_OVERHEAD)

/* One unwrapped data key, cached for the life of the store (wiped on close). wrapped is the row
 * as last read: a row whose bytes differ in the database (re-wrapped by a rotation, or written
 * anew after a rolled-back transaction reused its id) is unwrapped again. */
typedef struct {
    int64_t id;
    int64_t org_id; /* 0: the shared key */
    bool legacy;    /* the master key of before per-organisation keys: opens the plain layout */
    uint8_t key[PL_AEAD_KEY_LEN];
    uint8_t wrapped[PL_SQ_WRAPPED_LEN];
} pl__sq_dkey_t;

struct pl_store {
    pl_db_t *db;
    uint8_t master[PL_AEAD_KEY_LEN]; /* the key-encryption key from var/data.key */
    pl__sq_dkey_t **dkeys;           /* unwrapped data keys, each its own allocation */
    int n_dkeys, cap_dkeys;
    char dir[1024]; /* the database file's folder: where a rotation's data.key.new is looked for */
        void *audit_key;      /* EVP_PKEY (Ed25519) signing checkpoints, or NULL */
    int audit_ckpt_every; /* automatic checkpoint after this many rows; <= 0: never */
    bool audit_warned;    /* "no signing key" said once */
};

/* The audit chain's hooks into open and close (store_sqlite_audit.c). */
/* Chains the rows that have no hash yet, in id order, if no row has one: the rows a database
 * held when the chain migration ran. Called inside the migration's transaction. */
int pl__sq_audit_chain_existing(pl_store_t *st);
/* Sets the defaults and loads DIR/audit_signing.key when present, DIR being db_path's folder. */
int pl__sq_audit_open(pl_store_t *st, const char *db_path);
void pl__sq_audit_close(pl_store_t *st);

/* Maps an SQLite result code to a PL_E code, logging unexpected ones (never with row data). */
int pl__sq_err(pl_store_t *st, int rc, const char *what);
/* Cached prepared statement, keyed by the address of sql (pass a string literal or static);
 * reset with bindings cleared. NULL if it does not prepare. */
pl_dbs_t *pl__sq_stmt(pl_store_t *st, const char *sql);
/* Steps a statement expected to return no rows, then resets it. */
int pl__sq_done(pl_store_t *st, pl_dbs_t *s, const char *what);
/* Data keys (store_sqlite_keys.c). */
/* Loads and unwraps every data key (so a wrong master key fails here, before anything is
 * written), finishing an interrupted rotation from data.key.new beside the database when the
 * given key no longer opens them, and creates the shared key when there is none. */
int pl__sq_keys_open(pl_store_t *st);
void pl__sq_keys_close(pl_store_t *st);
/* In the migration's transaction, when a database from before data_keys is upgraded: adopts the
 * master key as the legacy data key that opens every value sealed before (plain layout), after
 * checking it opens one of them. -PL_ECRYPTO if it does not (a wrong key file): nothing then
 * changes. */
int pl__sq_keys_adopt_legacy(pl_store_t *st);
/* Seals pt under org_id's current data key (0: the shared key), created on first use, into a
 * malloc'd buffer (caller frees). */
int pl__sq_seal(pl_store_t *st, int64_t org_id, const char *aad, const void *pt, size_t len,
                uint8_t **out, size_t *out_len);
/* Opens a sealed value with the key its header names (a value without one: the legacy key).
 * out holds outcap >= inlen - PL_AEAD_OVERHEAD bytes. */
int pl__sq_open(pl_store_t *st, const char *aad, const uint8_t *in, size_t inlen, uint8_t *out,
                size_t outcap, size_t *out_len);
/* The organisation of conversation conv_id, for sealing what belongs to it. */
int pl__sq_conv_org(pl_store_t *st, int64_t conv_id, int64_t *org_id);

/* Seals pt under org_id's data key (0: the shared key) with aad and binds the result as a blob
 * at idx. */
int pl__sq_seal_bind(pl_store_t *st, pl_dbs_t *s, int idx, int64_t org_id, const char *aad,
                     const void *pt, size_t len);
/* Opens a sealed column into a malloc'd NUL-terminated string (caller wipes and frees). */
int pl__sq_open_col(pl_store_t *st, pl_dbs_t *s, int col, const char *aad, char **out,
                    size_t *out_len);
/* Opens a sealed JSON column; NULL on failure. Caller decrefs. */
json_t *pl__sq_open_json(pl_store_t *st, pl_dbs_t *s, int col, const char *aad);

/* Case discussions (store_sqlite_case.c): the members m (of case k) with access at time NOW
 * (an SQL expression): still a member of the organisation they take part for, which is the
 * practice that opened the case or a service with an agreement in force with it that shares
 * the patient's identity. One rule for every query, the event replay's included. */
#define PL_CASE_ACCESS(NOW)                                                                        \
    "m.org_id IN (SELECT org_id FROM memberships WHERE user_id = m.user_id) AND "                 \
    "(m.org_id = k.org_id OR EXISTS (SELECT 1 FROM agreements a WHERE a.practice_id = k.org_id " \
    "AND a.service_id = m.org_id AND a.shares = 'identified' AND a.accepted_at IS NOT NULL AND " \
    "a.ended_at IS NULL AND a.starts_at <= " NOW " AND " NOW " < a.ends_at))"
/* The cases USER (an SQL expression) has access to at NOW. */
#define PL_CASES_OF_USER(USER, NOW)                                                                \
    "SELECT m.case_id FROM case_members m JOIN cases k ON k.id = m.case_id WHERE m.user_id = "    \
    USER " AND " PL_CASE_ACCESS(NOW)

#endif
