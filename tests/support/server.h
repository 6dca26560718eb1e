/* Test support: start, stop and kill the real Parley server binary ($PARLEY_BIN) on loopback,
 * each in a fresh temporary data directory, and run its CLI. A started server dies with the test
 * process (PR_SET_PDEATHSIG), so a crashed test leaves nothing listening. Not thread-safe; start
 * servers from the test's main thread (the death signal follows the thread that forked). */
#ifndef PL_TEST_SERVER_H
#define PL_TEST_SERVER_H

typedef struct pl_test_server pl_test_server_t;

/* Starts `$PARLEY_BIN serve --data-dir D --port P --media-port M --bind 127.0.0.1 extra_args...`
 * with stdout and stderr appended to D/server.log, and waits (up to 15 s, polling every 50 ms)
 * until GET https://127.0.0.1:P/healthz answers 200. D is a new "parley-test-XXXXXX" directory
 * under $TMPDIR (or /tmp), or data_dir when given (restart tests: the directory is reused and
 * never removed by this object). P (TCP) and M (UDP) are free loopback ports. extra_args is a
 * NULL-terminated array or NULL. On success *out is the server (release with
 * pl_test_server_destroy). Returns 0; -ENOENT if PARLEY_BIN is unset; -ETIMEDOUT if it never got
 * healthy (it is killed); -ECHILD if it exited first; other negative errnos. On failure the tail
 * of server.log is printed to stderr, nothing is left running, and a created directory is removed
 * (kept when PARLEY_TEST_KEEP is set in the environment, to read the log). */
int pl_test_server_start(pl_test_server_t **out, const char *data_dir,
                         const char *const *extra_args);

/* The HTTPS/WSS port (TCP). */
int pl_test_server_port(const pl_test_server_t *s);
/* The media port (UDP). */
int pl_test_server_media_port(const pl_test_server_t *s);
/* The data directory (owned by s; its server.log is the server's output). */
const char *pl_test_server_dir(const pl_test_server_t *s);

/* Sends SIGTERM and waits up to 10 s, then SIGKILLs. Returns the exit status (0 for a clean
 * exit; 128+signal if a signal ended it), or -1 if it had to be killed, or -ESRCH if it was not
 * running. s stays valid (its directory and ports can be reused for a restart). */
int pl_test_server_stop(pl_test_server_t *s);

/* SIGKILL now and reap (a crash, for recovery tests). s stays valid. */
void pl_test_server_kill(pl_test_server_t *s);

/* Stops the server if running and frees s. Removes the data directory only if s created it and
 * pl_test_server_keep_dir(s, 1) was not called (and PARLEY_TEST_KEEP is unset). NULL ok. */
void pl_test_server_destroy(pl_test_server_t *s);

/* keep != 0: leave the data directory behind on destroy (e.g. to restart on it or debug). */
void pl_test_server_keep_dir(pl_test_server_t *s, int keep);

/* Runs `$PARLEY_BIN args...` (args NULL-terminated) synchronously with stdin from /dev/null and
 * stderr passed through. If out is non-NULL, *out gets stdout as a malloc'd NUL-terminated
 * string (the caller frees), or NULL on failure. Returns the exit status (128+signal if a signal
 * ended it), or a negative errno (-ENOENT if PARLEY_BIN is unset; -ETIMEDOUT after 60 s, when the
 * command is killed). */
int pl_test_run_cli(char **out, const char *const *args);

/* As pl_test_run_cli, writing `input` (NULL: none) to the command's stdin and then closing it:
 * for commands that read a password or a file from stdin. */
int pl_test_run_cli_input(char **out, const char *input, const char *const *args);

/* Removes a directory tree (rm -rf, without following symlinks). Returns 0 (also when it does not
 * exist) or a negative errno; refuses "" and "/" with -EINVAL. A PostgreSQL store registered for
 * exactly this directory (pl_test_store_url) is dropped with it. */
int pl_test_rmtree(const char *path);

/* ---- the store behind a data directory ----
 *
 * By default every server and CLI command keeps its store in SQLite, in D/parley.db. With
 * PARLEY_TEST_BACKEND=postgres in the environment (and PARLEY_TEST_PG naming a server, as
 * scripts/testdb.sh prints) each data directory gets a fresh PostgreSQL database of its own
 * instead: pl_test_server_start and pl_test_run_cli[_input] then run the child with PARLEY_STORE
 * set to that directory's database (for a CLI command, the directory after its --data-dir
 * argument; one without --data-dir gets the environment unchanged). The databases are dropped
 * by pl_test_rmtree of their directory (pl_fixture_stop, pl_test_server_destroy) and, for any
 * left, when the test process exits; with PARLEY_TEST_KEEP set they are kept and named on
 * stderr instead. A crash may leave a few behind (named parley_t_*). Before a directory's
 * database is dropped, the store's error lines in its server.log are copied to stderr, since
 * pl_fixture_stop removes the log with the directory. */

/* Whether the tests run on PostgreSQL (PARLEY_TEST_BACKEND=postgres). */
int pl_test_backend_is_pg(void);

/* In postgres mode: the store URL of data_dir. The first call for a directory creates its
 * database (pg_fx_create_db); later calls, for the same directory by any path that resolves to
 * it (realpath, when it exists), return the same URL. The string is owned by the registry and
 * stays valid until the directory's database is dropped. NULL in SQLite mode (the store is then
 * "sqlite:<data_dir>/parley.db", the server's default), or on failure (a message on stderr). */
const char *pl_test_store_url(const char *data_dir);

#endif
