/* The SQLite driver of storage/db.h: a thin layer over sqlite3's own prepare/bind/step, which
 * is the shape db.h copies. Durability settings (WAL, synchronous=FULL) are the store's. */
#include "core/err.h"
#include "core/log.h"
#include "storage/db_internal.h"

#include <sqlite3.h>
#include <stdlib.h>

typedef struct {
    pl_db_t base;
    sqlite3 *h;
} sq_db_t;

typedef struct {
    pl_dbs_t base;
    sqlite3_stmt *s;
} sq_stmt_t;

#define H(db) (((sq_db_t *)(db))->h)
#define S(st) (((sq_stmt_t *)(st))->s)

static void sq_close(pl_db_t *db)
{
    sqlite3_close(H(db));
    free(db);
}

static int sq_exec(pl_db_t *db, const char *sql)
{
    return sqlite3_exec(H(db), sql, NULL, NULL, NULL) & 0xff;
}

static int sq_begin(pl_db_t *db)
{
    return sq_exec(db, "BEGIN IMMEDIATE");
}

static int sq_prepare(pl_db_t *db, const char *sql, pl_dbs_t **out)
{
    sq_stmt_t *st = calloc(1, sizeof *st);
    if (!st) return PL_DB_NOMEM;
    int rc = sqlite3_prepare_v3(H(db), sql, -1, SQLITE_PREPARE_PERSISTENT, &st->s, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st->s);
        free(st);
        return rc & 0xff;
    }
    st->base.db = db;
    *out = &st->base;
    return PL_DB_OK;
}

static void sq_finalize(pl_dbs_t *s)
{
    sqlite3_finalize(S(s));
    free(s);
}

static void sq_reset(pl_dbs_t *s)
{
    sqlite3_reset(S(s));
    sqlite3_clear_bindings(S(s));
}

static void sq_bind_int64(pl_dbs_t *s, int idx, int64_t v)
{
    sqlite3_bind_int64(S(s), idx, v);
}

static void sq_bind_text(pl_dbs_t *s, int idx, const char *v, int len)
{
    sqlite3_bind_text(S(s), idx, v, len, SQLITE_TRANSIENT);
}

static void sq_bind_blob(pl_dbs_t *s, int idx, const void *v, int len)
{
    sqlite3_bind_blob(S(s), idx, v, len, SQLITE_TRANSIENT);
}

static void sq_bind_null(pl_dbs_t *s, int idx)
{
    sqlite3_bind_null(S(s), idx);
}

static int sq_step(pl_dbs_t *s)
{
    return sqlite3_step(S(s)) & 0xff;
}

static int sq_type(pl_dbs_t *s, int col)
{
    return sqlite3_column_type(S(s), col);
}

static int64_t sq_int64(pl_dbs_t *s, int col)
{
    return sqlite3_column_int64(S(s), col);
}

static const char *sq_text(pl_dbs_t *s, int col)
{
    return (const char *)sqlite3_column_text(S(s), col);
}

static const void *sq_blob(pl_dbs_t *s, int col)
{
    return sqlite3_column_blob(S(s), col);
}

static int sq_bytes(pl_dbs_t *s, int col)
{
    return sqlite3_column_bytes(S(s), col);
}

static int64_t sq_changes(pl_db_t *db)
{
    return sqlite3_changes(H(db));
}

static int64_t sq_last_id(pl_db_t *db)
{
    return sqlite3_last_insert_rowid(H(db));
}

static bool sq_autocommit(pl_db_t *db)
{
    return sqlite3_get_autocommit(H(db)) != 0;
}

static const char *sq_errmsg(pl_db_t *db)
{
    return sqlite3_errmsg(H(db));
}

static int sq_errcode(pl_db_t *db)
{
    return sqlite3_errcode(H(db)) & 0xff;
}

static const pl__db_ops_t sq_ops = {
    sq_close,     sq_exec,      sq_begin,     sq_begin,  sq_prepare, sq_finalize, sq_reset,
    sq_bind_int64, sq_bind_text, sq_bind_blob, sq_bind_null, sq_step,  sq_type,
    sq_int64,     sq_text,      sq_blob,   sq_bytes,   sq_changes,  sq_last_id,
    sq_autocommit, sq_errmsg,   sq_errcode,
};

int pl__db_sqlite_open(pl_db_t **out, const char *path)
{
    sq_db_t *db = calloc(1, sizeof *db);
    if (!db) return -PL_ENOMEM;
    db->base.ops = &sq_ops;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        pl_log_error("store", "sqlite open failed: %s", sqlite3_errmsg(db->h));
        sqlite3_close(db->h);
        free(db);
        return -PL_EIO;
    }
    sqlite3_busy_timeout(db->h, 5000);
    *out = &db->base;
    return 0;
}
