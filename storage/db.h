/* The SQL connection under the store: one interface, two drivers.
 *
 * The store's queries are written once, in the SQL that SQLite and PostgreSQL share (numbered
 * ?N or plain ? parameters, ON CONFLICT, RETURNING, COALESCE, CAST). The few that differ pick
 * their text with pl_db_is_pg. The interface keeps SQLite's shape (prepare, bind, step, read
 * a column, reset) because that is the shape the store was written in: a PostgreSQL statement
 * runs when it is first stepped and its rows are then read from the result one step at a time.
 *
 *   sqlite:PATH            the embedded default (db_sqlite.c)
 *   postgres://... or postgresql://...   a shared PostgreSQL (db_pg.c, libpq)
 *
 * Result codes are SQLite's numbers (PL_DB_ROW, PL_DB_CONSTRAINT, ...), whichever the driver, so
 * that one mapping (pl__sq_err) turns them into PL_E codes. PL_DB_UNAVAIL is PostgreSQL's own:
 * the server is gone; the driver reconnects at the next transaction.
 *
 * A connection is used by one thread at a time (the storage thread, or the CLI's main). */
#ifndef PL_DB_H
#define PL_DB_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pl_db pl_db_t;
typedef struct pl_dbs pl_dbs_t;

enum {
    PL_DB_OK = 0,
    PL_DB_ERROR = 1,
    PL_DB_BUSY = 5,
    PL_DB_LOCKED = 6,
    PL_DB_NOMEM = 7,
    PL_DB_READONLY = 8,
    PL_DB_IOERR = 10,
    PL_DB_FULL = 13,
    PL_DB_CANTOPEN = 14,
    PL_DB_CONSTRAINT = 19,
    PL_DB_ROW = 100,
    PL_DB_DONE = 101,
    PL_DB_UNAVAIL = 1001,
};

/* Column types, as SQLite numbers them. */
enum { PL_DB_INTEGER = 1, PL_DB_FLOAT = 2, PL_DB_TEXT = 3, PL_DB_BLOB = 4, PL_DB_NULL = 5 };

/* Opens url. For sqlite: the file must exist (the store creates it 0600 first). 0 or -PL_E*:
 * -PL_EINVAL for an unknown scheme, -PL_EUNAVAIL when PostgreSQL cannot be reached. */
int pl_db_open(pl_db_t **out, const char *url);
void pl_db_close(pl_db_t *db);
bool pl_db_is_pg(const pl_db_t *db);

/* Runs one or more statements without parameters. PL_DB_OK or a PL_DB code. */
int pl_db_exec(pl_db_t *db, const char *sql);
/* Starts a write transaction: SQLite's BEGIN IMMEDIATE; on PostgreSQL, BEGIN plus the cluster's
 * write lock (see db_pg.c), which keeps event cursors committing in order across nodes. */
int pl_db_begin(pl_db_t *db);
/* Starts a transaction that will only read: PostgreSQL takes no write lock; SQLite begins as
 * pl_db_begin does. */
int pl_db_begin_read(pl_db_t *db);
/* A statement of its own (caller finalizes). PL_DB_OK or a PL_DB code. */
int pl_db_prepare(pl_db_t *db, const char *sql, pl_dbs_t **out);
/* A statement cached for the life of the connection, keyed by the address of sql (pass a
 * string literal or a static), reset with its bindings cleared. NULL if it does not prepare. */
pl_dbs_t *pl_db_stmt(pl_db_t *db, const char *sql);
void pl_dbs_finalize(pl_dbs_t *s);
/* Ends the current run and clears the bindings. */
void pl_dbs_reset(pl_dbs_t *s);

/* Parameters count from 1. Values are copied. */
void pl_dbs_bind_int64(pl_dbs_t *s, int idx, int64_t v);
void pl_dbs_bind_int(pl_dbs_t *s, int idx, int v);
/* len < 0: up to the NUL. A NULL text binds SQL NULL. */
void pl_dbs_bind_text(pl_dbs_t *s, int idx, const char *v, int len);
void pl_dbs_bind_blob(pl_dbs_t *s, int idx, const void *v, int len);
void pl_dbs_bind_null(pl_dbs_t *s, int idx);

/* PL_DB_ROW, PL_DB_DONE or a PL_DB error code. */
int pl_dbs_step(pl_dbs_t *s);
/* Columns of the current row count from 0. Pointers stay valid until the next step or reset. */
int pl_dbs_type(pl_dbs_t *s, int col);
int64_t pl_dbs_int64(pl_dbs_t *s, int col);
int pl_dbs_int(pl_dbs_t *s, int col);
/* NULL for SQL NULL. */
const char *pl_dbs_text(pl_dbs_t *s, int col);
const void *pl_dbs_blob(pl_dbs_t *s, int col);
int pl_dbs_bytes(pl_dbs_t *s, int col);

/* Rows changed by the last INSERT, UPDATE or DELETE. */
int64_t pl_db_changes(pl_db_t *db);
/* The id the last INSERT gave its row (PostgreSQL: the session's last sequence value). */
int64_t pl_db_last_id(pl_db_t *db);
/* True outside a transaction. */
bool pl_db_autocommit(pl_db_t *db);
/* The last error's text (for logs: never holds row data). */
const char *pl_db_errmsg(pl_db_t *db);
int pl_db_errcode(pl_db_t *db);

#endif
