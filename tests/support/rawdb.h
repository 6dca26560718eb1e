/* Test support: raw SQL on the database behind a test's data directory, beside (or after) the
 * server that owns it, for rows the API cannot show or states it cannot reach (tampering, a
 * membership changed underneath). Whichever backend the tests run on (tests/support/server.h):
 * SQLite's D/parley.db, or the directory's PostgreSQL database in postgres mode. Write the SQL
 * both engines accept (storage/db.h: ?N or ? parameters, COALESCE, CAST, CASE; no boolean
 * arithmetic, no sqlite_master) and branch on pl_db_is_pg for the rest.
 *
 * No assertions here: the benches link every support file without cmocka. Errors go to stderr
 * with the engine's message, never row data. */
#ifndef PL_TEST_RAWDB_H
#define PL_TEST_RAWDB_H

#include "storage/db.h"

#include <stddef.h>
#include <stdint.h>

/* Opens data_dir's database (the caller closes with pl_db_close). SQLite: D/parley.db, which
 * must exist (the server or a CLI command creates it); opened read-write, with a 5 s busy
 * timeout beside a running server. 0 or a negative errno (-ENOENT: no database for data_dir). */
int rawdb_open(pl_db_t **out, const char *data_dir);

/* The first column of the first row of sql as an integer in *out. If sql has a '?', arg is
 * bound to it (to the first parameter; ?1 may be used several times). 0, -ENOENT when there is
 * no row, or -EIO. */
int rawdb_read_int(const char *data_dir, const char *sql, int64_t arg, int64_t *out);

/* As rawdb_read_int, as text into buf ("" for NULL; truncated to cap). */
int rawdb_read_text(const char *data_dir, const char *sql, int64_t arg, char *buf, size_t cap);

/* rawdb_read_int without the argument and the code: the value, or -1 when there is no row or
 * the query failed (said on stderr). For counts and ids, which are never negative. */
int64_t rawdb_int(const char *data_dir, const char *sql);

/* Runs one statement (arg bound as for rawdb_read_int). 0 or -EIO. */
int rawdb_exec(const char *data_dir, const char *sql, int64_t arg);

/* Runs one or more statements without parameters, in one connection. 0 or -EIO. */
int rawdb_exec_script(const char *data_dir, const char *sql);

/* How many rows of sql have needle (len bytes) inside their first column's bytes, read as a
 * BLOB/BYTEA or TEXT: how a test shows that a sealed column holds no plaintext, on either
 * engine (CAST(bytea AS TEXT) on PostgreSQL is hex, so LIKE would never match). 0 and *out, or
 * -EIO. */
int rawdb_count_containing(const char *data_dir, const char *sql, const void *needle, size_t len,
                           int64_t *out);

#endif
