/* Test support: a fresh PostgreSQL database per test, on the server named by PARLEY_TEST_PG
 * (started by scripts/testdb.sh for make test). Each test creates its own database and drops
 * it afterwards, so tests never see each other's rows and may run in parallel. Tests that need
 * PostgreSQL skip when pg_fx_available() is false rather than fail, so the SQLite-only suite
 * still runs on a machine without a server. libpq only: this file is linked into every test. */
#ifndef PL_TEST_PG_FX_H
#define PL_TEST_PG_FX_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the PostgreSQL test server is configured (PARLEY_TEST_PG set and non-empty). */
bool pg_fx_available(void);

/* Creates a fresh, uniquely named database (parley_t_<pid>_<counter>_<random>) on the server
 * of PARLEY_TEST_PG and writes a connection URL for it into url: the same scheme (postgres://
 * or postgresql://), user, host, port and parameters, with that database name. A
 * keyword/value PARLEY_TEST_PG ("host=... port=...") gives a keyword/value string instead.
 * Returns 0, or -1 with a message on stderr (url is then an empty string when cap > 0).
 * The caller drops the database with pg_fx_drop_db. */
int pg_fx_create_db(char *url, size_t cap);

/* Drops the database named in url, as made by pg_fx_create_db, after ending any connections
 * still open to it (a test that failed midway may leave its store open). Only databases named
 * parley_t_* are dropped, so a wrong url can never drop the shared parley database. Dropping
 * one that no longer exists succeeds. Returns 0, or -1 with a message on stderr. */
int pg_fx_drop_db(const char *url);

#endif
