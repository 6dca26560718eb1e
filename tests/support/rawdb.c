/* See rawdb.h. One short-lived connection per call: the callers are tests reading a few rows,
 * and a fresh connection never holds a read transaction open across the server's writes. */
#include "tests/support/rawdb.h"
#include "tests/support/server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int rawdb_open(pl_db_t **out, const char *data_dir)
{
    *out = NULL;
    char url[4200];
    if (pl_test_backend_is_pg()) {
        const char *u = pl_test_store_url(data_dir);
        if (!u) return -ENOENT;
        snprintf(url, sizeof url, "%s", u);
    } else {
        int n = snprintf(url, sizeof url, "sqlite:%s/parley.db", data_dir);
        struct stat st;
        if (n < 0 || (size_t)n >= sizeof url) return -ENAMETOOLONG;
        if (stat(url + 7, &st) < 0) {
            fprintf(stderr, "rawdb: no database file %s\n", url + 7);
            return -ENOENT;
        }
    }
    int rc = pl_db_open(out, url);
    if (rc < 0) {
        fprintf(stderr, "rawdb: cannot open the database of %s (%d)\n", data_dir, rc);
        return -EIO;
    }
    return 0;
}

/* Opens data_dir's database and prepares sql, binding arg when sql has a parameter. 0 or a
 * negative errno, with nothing left open. */
static int open_prepared(const char *data_dir, const char *sql, int64_t arg, pl_db_t **db,
                         pl_dbs_t **s)
{
    *s = NULL;
    int rc = rawdb_open(db, data_dir);
    if (rc < 0) return rc;
    if (pl_db_prepare(*db, sql, s) != PL_DB_OK) {
        fprintf(stderr, "rawdb: prepare failed: %s\n  in: %s\n", pl_db_errmsg(*db), sql);
        pl_db_close(*db);
        *db = NULL;
        return -EIO;
    }
    if (strchr(sql, '?')) pl_dbs_bind_int64(*s, 1, arg);
    return 0;
}

static void close_prepared(pl_db_t *db, pl_dbs_t *s)
{
    pl_dbs_finalize(s);
    pl_db_close(db);
}

/* Steps s once: 0 on a row, -ENOENT on none, -EIO on an error (said on stderr). */
static int step_row(pl_db_t *db, pl_dbs_t *s, const char *sql)
{
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) return 0;
    if (rc == PL_DB_DONE) return -ENOENT;
    fprintf(stderr, "rawdb: query failed: %s\n  in: %s\n", pl_db_errmsg(db), sql);
    return -EIO;
}

int rawdb_read_int(const char *data_dir, const char *sql, int64_t arg, int64_t *out)
{
    pl_db_t *db;
    pl_dbs_t *s;
    int rc = open_prepared(data_dir, sql, arg, &db, &s);
    if (rc < 0) return rc;
    rc = step_row(db, s, sql);
    if (rc == 0) *out = pl_dbs_int64(s, 0);
    close_prepared(db, s);
    return rc;
}

int rawdb_read_text(const char *data_dir, const char *sql, int64_t arg, char *buf, size_t cap)
{
    pl_db_t *db;
    pl_dbs_t *s;
    int rc = open_prepared(data_dir, sql, arg, &db, &s);
    if (rc < 0) return rc;
    rc = step_row(db, s, sql);
    if (rc == 0) {
        const char *t = pl_dbs_text(s, 0);
        snprintf(buf, cap, "%s", t ? t : "");
    }
    close_prepared(db, s);
    return rc;
}

int64_t rawdb_int(const char *data_dir, const char *sql)
{
    int64_t v = -1;
    return rawdb_read_int(data_dir, sql, 0, &v) == 0 ? v : -1;
}

int rawdb_exec(const char *data_dir, const char *sql, int64_t arg)
{
    pl_db_t *db;
    pl_dbs_t *s;
    int rc = open_prepared(data_dir, sql, arg, &db, &s);
    if (rc < 0) return rc;
    rc = pl_dbs_step(s);
    if (rc != PL_DB_DONE && rc != PL_DB_ROW)
        fprintf(stderr, "rawdb: statement failed: %s\n  in: %s\n", pl_db_errmsg(db), sql);
    close_prepared(db, s);
    return rc == PL_DB_DONE || rc == PL_DB_ROW ? 0 : -EIO;
}

int rawdb_exec_script(const char *data_dir, const char *sql)
{
    pl_db_t *db;
    int rc = rawdb_open(&db, data_dir);
    if (rc < 0) return rc;
    rc = pl_db_exec(db, sql) == PL_DB_OK ? 0 : -EIO;
    if (rc < 0) fprintf(stderr, "rawdb: script failed: %s\n  in: %s\n", pl_db_errmsg(db), sql);
    pl_db_close(db);
    return rc;
}

int rawdb_count_containing(const char *data_dir, const char *sql, const void *needle, size_t len,
                           int64_t *out)
{
    pl_db_t *db;
    pl_dbs_t *s;
    int rc = open_prepared(data_dir, sql, 0, &db, &s);
    if (rc < 0) return rc;
    int64_t n = 0;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        const void *b = pl_dbs_blob(s, 0);
        int bytes = pl_dbs_bytes(s, 0);
        if (b && bytes > 0 && memmem(b, (size_t)bytes, needle, len)) n++;
    }
    if (rc != PL_DB_DONE)
        fprintf(stderr, "rawdb: query failed: %s\n  in: %s\n", pl_db_errmsg(db), sql);
    close_prepared(db, s);
    if (rc != PL_DB_DONE) return -EIO;
    *out = n;
    return 0;
}
