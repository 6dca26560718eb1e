/* Shared fixture for the store tests (test_store_sqlite*.c): a fresh store in its own mkdtemp
 * directory under a random key, seeded with two practices (A and B), patients and staff; helpers
 * read the raw database where a test must see what is really stored. Header-only: each test
 * binary includes it once.
 *
 * With PARLEY_TEST_BACKEND=postgres (and PARLEY_TEST_PG, see scripts/testdb.sh) every test runs
 * on a fresh PostgreSQL database instead of the SQLite file: the same store tests, both
 * backends. The few tests about SQLite itself (its file, its WAL, its migration history) call
 * sqlite_only() and are skipped there. */
#ifndef PL_TEST_STORE_FIXTURE_H
#define PL_TEST_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "storage/db.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "tests/support/pg_fx.h"

typedef struct {
    char dir[64];
    char path[128]; /* <dir>/parley.db (SQLite) */
    char url[300];  /* sqlite:<path>, or the test's own PostgreSQL database */
    bool pg;
    uint8_t key[32];
    pl_store_t *st;
    int64_t org_a, org_b;
    int64_t pat1, pat2, pat_b; /* patients: two at A, one at B */
    int64_t gp, recep, gp_b;   /* staff: gp and receptionist at A, gp at B */
    int64_t now;
} fx_t;

#define HOUR_MS (3600 * 1000LL)

/* Whether this run is on PostgreSQL (PARLEY_TEST_BACKEND=postgres). */
static inline bool fx_backend_pg(void)
{
    const char *b = getenv("PARLEY_TEST_BACKEND");
    return b && strcmp(b, "postgres") == 0;
}

/* For tests of SQLite itself: skipped on the PostgreSQL run. */
#define sqlite_only(f)                                                                             \
    do {                                                                                           \
        if ((f)->pg) skip();                                                                       \
    } while (0)

/* ---- fixture ---- */

static inline int64_t add_org(pl_store_t *st, const char *code, int target_minutes)
{
    pl_org_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.code, sizeof o.code, "%s", code);
    snprintf(o.name, sizeof o.name, "Practice %s", code);
    snprintf(o.kind, sizeof o.kind, "practice");
    o.response_target_minutes = target_minutes;
    int64_t id = 0;
    if (pl_store_org_create(st, &o, &id) != 0) return 0;
    return id;
}

static inline int64_t add_patient(pl_store_t *st, const char *username, const char *nhs, int64_t practice)
{
    int64_t id = 0;
    if (pl_store_user_create(st, PL_USER_PATIENT, username, username, "hash", nhs, "1970-01-01",
                             practice, &id) != 0)
        return 0;
    return id;
}

static inline int64_t add_staff(pl_store_t *st, const char *username, int64_t org, unsigned roles)
{
    int64_t id = 0;
    if (pl_store_user_create(st, PL_USER_STAFF, username, username, "hash", NULL, NULL, 0, &id) !=
        0)
        return 0;
    if (org && pl_store_membership_add(st, id, org, roles) != 0) return 0;
    return id;
}

static inline int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/parley-test-store-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/parley.db", f->dir);
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    f->pg = fx_backend_pg();
    if (f->pg && pg_fx_create_db(f->url, sizeof f->url) != 0) return -1;
    if (pl_random_bytes(f->key, sizeof f->key) != 0) return -1;
    if (pl_store_open(&f->st, f->url, f->key) != 0) return -1;
    f->now = pl_now_ms();
    f->org_a = add_org(f->st, "A81001", 0);
    f->org_b = add_org(f->st, "B82002", 0);
    f->pat1 = add_patient(f->st, "pat1", "9434765919", f->org_a);
    f->pat2 = add_patient(f->st, "pat2", "9434765870", f->org_a);
    f->pat_b = add_patient(f->st, "patb", "9434765862", f->org_b);
    f->gp = add_staff(f->st, "gp", f->org_a, PL_ROLE_GP);
    f->recep = add_staff(f->st, "recep", f->org_a, PL_ROLE_RECEPTIONIST);
    f->gp_b = add_staff(f->st, "gpb", f->org_b, PL_ROLE_GP);
    if (!f->org_a || !f->org_b || !f->pat1 || !f->pat2 || !f->pat_b || !f->gp || !f->recep ||
        !f->gp_b)
        return -1;
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fx_t *f = *state;
    pl_store_close(f->st);
    if (f->pg) pg_fx_drop_db(f->url);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        char p[400];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static inline void reopen(fx_t *f, const uint8_t *key)
{
    pl_store_close(f->st);
    f->st = NULL;
    assert_int_equal(pl_store_open(&f->st, f->url, key), 0);
}

/* Opening under a key that is not the store's master key fails at once (the data keys do not
 * unwrap), before anything is read or written: f->st is left NULL. */
static inline void reopen_refused(fx_t *f, const uint8_t *key)
{
    pl_store_close(f->st);
    f->st = NULL;
    assert_int_equal(pl_store_open(&f->st, f->url, key), -PL_ECRYPTO);
    assert_null(f->st);
}

/* ---- helpers ---- */

/* A separate raw connection to the test's database, as another process would have. */
static inline pl_db_t *raw_open(const fx_t *f)
{
    pl_db_t *db = NULL;
    assert_int_equal(pl_db_open(&db, f->url), 0);
    return db;
}

/* One integer from a query on a separate raw connection. */
static inline int64_t raw_int(const fx_t *f, const char *sql)
{
    pl_db_t *db = raw_open(f);
    pl_dbs_t *s = NULL;
    int rc = pl_db_prepare(db, sql, &s);
    if (rc == PL_DB_OK) rc = pl_dbs_step(s);
    if (rc != PL_DB_ROW) fail_msg("raw_int: %s: %s", sql, pl_db_errmsg(db));
    int64_t v = pl_dbs_int64(s, 0);
    pl_dbs_finalize(s);
    pl_db_close(db);
    return v;
}

static inline void raw_exec(const fx_t *f, const char *sql)
{
    pl_db_t *db = raw_open(f);
    int rc = pl_db_exec(db, sql);
    if (rc != PL_DB_OK) fail_msg("raw_exec: %s: %s", sql, pl_db_errmsg(db));
    pl_db_close(db);
}

static inline int64_t jint(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    assert_true(json_is_integer(v));
    return (int64_t)json_integer_value(v);
}

static inline int64_t new_conv_at(fx_t *f, int64_t org, int64_t patient, const char *txn, int64_t now)
{
    int64_t id = 0;
    bool dup = true;
    assert_int_equal(pl_store_conv_create(f->st, org, patient, "admin", "Repeat prescription", NULL,
                                          txn, now, &id, &dup),
                     0);
    assert_false(dup);
    assert_true(id > 0);
    return id;
}

static inline int64_t new_conv(fx_t *f, int64_t org, int64_t patient, const char *txn)
{
    return new_conv_at(f, org, patient, txn, f->now);
}

static inline pl_conv_t conv_of(fx_t *f, int64_t id)
{
    pl_conv_t c;
    assert_int_equal(pl_store_conv_get(f->st, id, &c), 0);
    return c;
}

/* Appends a message and returns it; asserts it was new. */
static inline pl_msg_t send_at(fx_t *f, int64_t conv_id, int64_t sender, bool internal, const char *txn,
                        const char *body, int64_t now)
{
    pl_conv_t c = conv_of(f, conv_id);
    pl_msg_t m;
    bool dup = true;
    assert_int_equal(
        pl_store_msg_append(f->st, &c, sender, internal, txn, body, strlen(body), now, &m, &dup),
        0);
    assert_false(dup);
    return m;
}

static inline pl_msg_t send_msg(fx_t *f, int64_t conv_id, int64_t sender, bool internal, const char *txn,
                         const char *body)
{
    return send_at(f, conv_id, sender, internal, txn, body, f->now);
}

/* True if needle occurs anywhere in the file at path (a missing file holds nothing). */
static inline bool file_contains(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return false;
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((n = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(fp);
    bool found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

/* PostgreSQL: whether any row of any of the store's tables holds needle, as text or as bytes
 * (a bytea column shows as hex in a row's text form). */
static inline bool pg_rows_contain(const fx_t *f, const char *needle)
{
    pl_db_t *db = raw_open(f);
    pl_dbs_t *t = NULL;
    assert_int_equal(pl_db_prepare(db, "SELECT table_name FROM information_schema.tables WHERE "
                                       "table_schema = current_schema()", &t), PL_DB_OK);
    char hex[512] = "";
    for (size_t i = 0; needle[i] && i * 2 + 2 < sizeof hex; i++)
        snprintf(hex + i * 2, 3, "%02x", (unsigned char)needle[i]);
    bool found = false;
    while (!found && pl_dbs_step(t) == PL_DB_ROW) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\" x WHERE strpos(CAST(x AS text), ?1) "
                 "> 0 OR strpos(CAST(x AS text), ?2) > 0", pl_dbs_text(t, 0));
        pl_dbs_t *q = NULL;
        assert_int_equal(pl_db_prepare(db, sql, &q), PL_DB_OK);
        pl_dbs_bind_text(q, 1, needle, -1);
        pl_dbs_bind_text(q, 2, hex, -1);
        assert_int_equal(pl_dbs_step(q), PL_DB_ROW);
        found = pl_dbs_int64(q, 0) > 0;
        pl_dbs_finalize(q);
    }
    pl_dbs_finalize(t);
    pl_db_close(db);
    return found;
}

/* Whether needle is anywhere in what the store keeps: the SQLite files, or PostgreSQL's rows. */
static inline bool store_files_contain(const fx_t *f, const char *needle)
{
    if (f->pg) return pg_rows_contain(f, needle);
    char p[160];
    bool found = file_contains(f->path, needle);
    snprintf(p, sizeof p, "%s-wal", f->path);
    found |= file_contains(p, needle);
    snprintf(p, sizeof p, "%s-shm", f->path);
    found |= file_contains(p, needle);
    return found;
}

static inline pl_actor_t actor_of(fx_t *f, int64_t user)
{
    pl_actor_t a;
    assert_int_equal(pl_store_actor_load(f->st, user, &a), 0);
    return a;
}

#endif
