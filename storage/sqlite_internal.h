/* Internals shared by the SQLite store's files (store_sqlite.c: identity, sessions;
 * store_sqlite_audit.c: the audit chain and its checkpoints;
 * store_sqlite_msg.c: conversations, messages, receipts, events). Not part of store.h. */
#ifndef PL_SQLITE_INTERNAL_H
#define PL_SQLITE_INTERNAL_H

#include "storage/aead.h"
#include "storage/store.h"

#include <sqlite3.h>

#define PL_SQ_MAX_STMTS 96

struct pl_store {
    sqlite3 *db;
    uint8_t key[PL_AEAD_KEY_LEN];
    sqlite3_stmt *stmts[PL_SQ_MAX_STMTS];
    const char *stmt_sql[PL_SQ_MAX_STMTS];
    int n_stmts;
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
sqlite3_stmt *pl__sq_stmt(pl_store_t *st, const char *sql);
/* Steps a statement expected to return no rows, then resets it. */
int pl__sq_done(pl_store_t *st, sqlite3_stmt *s, const char *what);
/* Seals pt under the data key with aad and binds the result as a blob at idx. */
int pl__sq_seal_bind(pl_store_t *st, sqlite3_stmt *s, int idx, const char *aad, const void *pt,
                     size_t len);
/* Opens a sealed column into a malloc'd NUL-terminated string (caller wipes and frees). */
int pl__sq_open_col(pl_store_t *st, sqlite3_stmt *s, int col, const char *aad, char **out,
                    size_t *out_len);
/* Opens a sealed JSON column; NULL on failure. Caller decrefs. */
json_t *pl__sq_open_json(pl_store_t *st, sqlite3_stmt *s, int col, const char *aad);

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
