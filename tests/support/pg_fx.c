/* See pg_fx.h. The admin connection goes to whatever database PARLEY_TEST_PG names (parley,
 * from scripts/testdb.sh); new databases are cloned from template0, which nobody can connect
 * to, so parallel creates never fail with "source database is being accessed by other users"
 * as they can with template1. Connection strings may carry a password, so they are never
 * printed; messages name only the database. */
#include "tests/support/pg_fx.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NAME_PREFIX "parley_t_"

static const char *admin_url(void)
{
    const char *u = getenv("PARLEY_TEST_PG");
    return (u && *u) ? u : NULL;
}

bool pg_fx_available(void)
{
    return admin_url() != NULL;
}

/* DROP DATABASE IF EXISTS and friends send NOTICEs that would clutter test output. */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static PGconn *admin_connect(void)
{
    const char *url = admin_url();
    if (!url) {
        fprintf(stderr, "pg_fx: PARLEY_TEST_PG is not set\n");
        return NULL;
    }
    /* connect_timeout comes first so that one given in the URL (expanded from dbname) wins;
     * without any, a wedged server would hang the test instead of failing it. */
    const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *vals[] = {"10", "parley-test-fx", url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_fx: cannot connect to the PARLEY_TEST_PG server: %s",
                c ? PQerrorMessage(c) : "out of memory\n");
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

/* Runs one command; params may be NULL. Returns 0 or -1 with a message naming what. */
static int exec_cmd(PGconn *c, const char *sql, int nparams, const char *const *params,
                    const char *what)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) fprintf(stderr, "pg_fx: %s failed: %s", what, PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

/* The pid and counter make names unique within one machine's run; the random part keeps a
 * leftover database from an earlier run (same pid reused) from colliding with a new one. */
static void unique_name(char *name, size_t cap)
{
    static atomic_uint counter;
    unsigned n = atomic_fetch_add(&counter, 1u);
    uint32_t rnd = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, &rnd, sizeof rnd) != (ssize_t)sizeof rnd) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rnd = (uint32_t)ts.tv_nsec ^ ((uint32_t)ts.tv_sec << 7) ^ n;
    }
    if (fd >= 0) close(fd);
    snprintf(name, cap, NAME_PREFIX "%ld_%u_%08x", (long)getpid(), n, (unsigned)rnd);
}

/* Appends s[0..n) to out at *len, keeping it NUL-terminated. -1 when it does not fit. */
static int put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > cap) return -1;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return 0;
}

/* Writes src with its database replaced by name. For URLs the path is replaced and any
 * dbname= query parameter dropped (libpq would let it override the path); a keyword/value
 * string just gets a later dbname=, which libpq lets override an earlier one. */
static int with_dbname(const char *src, const char *name, char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0) return -1;
    out[0] = '\0';
    size_t scheme = 0;
    if (strncmp(src, "postgresql://", 13) == 0)
        scheme = 13;
    else if (strncmp(src, "postgres://", 11) == 0)
        scheme = 11;
    if (scheme == 0) {
        if (put(out, cap, &len, src, strlen(src)) || put(out, cap, &len, " dbname=", 8) ||
            put(out, cap, &len, name, strlen(name)))
            return -1;
        return 0;
    }
    size_t auth_end = scheme + strcspn(src + scheme, "/?");
    const char *query = strchr(src + auth_end, '?');
    if (put(out, cap, &len, src, auth_end) || put(out, cap, &len, "/", 1) ||
        put(out, cap, &len, name, strlen(name)))
        return -1;
    if (!query) return 0;
    char sep = '?';
    for (const char *p = query + 1; *p;) {
        size_t n = strcspn(p, "&");
        if (n > 0 && strncmp(p, "dbname=", 7) != 0) {
            if (put(out, cap, &len, &sep, 1) || put(out, cap, &len, p, n)) return -1;
            sep = '&';
        }
        p += n;
        if (*p == '&') p++;
    }
    return 0;
}

int pg_fx_create_db(char *url, size_t cap)
{
    char name[64];
    if (cap > 0) url[0] = '\0';
    unique_name(name, sizeof name);
    if (with_dbname(admin_url() ? admin_url() : "", name, url, cap) != 0) {
        fprintf(stderr, "pg_fx: url buffer of %zu bytes too small\n", cap);
        if (cap > 0) url[0] = '\0';
        return -1;
    }
    PGconn *c = admin_connect();
    if (!c) {
        url[0] = '\0';
        return -1;
    }
    int rc = -1;
    char *ident = PQescapeIdentifier(c, name, strlen(name));
    if (ident) {
        char sql[160];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE template0", ident);
        char what[96];
        snprintf(what, sizeof what, "creating database %s", name);
        rc = exec_cmd(c, sql, 0, NULL, what);
        PQfreemem(ident);
    }
    PQfinish(c);
    if (rc != 0) url[0] = '\0';
    return rc;
}

int pg_fx_drop_db(const char *url)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url ? url : "", &err);
    if (!opts) {
        /* libpq's message may quote the string, password and all: keep it to ourselves. */
        fprintf(stderr, "pg_fx: cannot parse the database url\n");
        PQfreemem(err);
        return -1;
    }
    char name[64] = "";
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val) snprintf(name, sizeof name, "%s", o->val);
    PQconninfoFree(opts);
    if (strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0) {
        fprintf(stderr, "pg_fx: refusing to drop '%s': not a " NAME_PREFIX "* test database\n",
                name);
        return -1;
    }

    PGconn *c = admin_connect();
    if (!c) return -1;
    int rc = -1;
    char what[96];
    snprintf(what, sizeof what, "dropping database %s", name);
    const char *params[] = {name};
    /* PG 13+ does the terminating itself with FORCE; doing it first as well keeps older
     * servers working and costs nothing. */
    if (exec_cmd(c,
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                 " WHERE datname = $1 AND pid <> pg_backend_pid()",
                 1, params, what) == 0) {
        char *ident = PQescapeIdentifier(c, name, strlen(name));
        if (ident) {
            char sql[160];
            snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s%s", ident,
                     PQserverVersion(c) >= 130000 ? " WITH (FORCE)" : "");
            rc = exec_cmd(c, sql, 0, NULL, what);
            PQfreemem(ident);
        }
    }
    PQfinish(c);
    return rc;
}
