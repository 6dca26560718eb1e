/* storage/db.h: the dispatch to a driver, and the statement cache both drivers share. */
#include "storage/db.h"
#include "core/err.h"
#include "core/log.h"
#include "storage/db_internal.h"

#include <stdlib.h>
#include <string.h>

int pl_db_open(pl_db_t **out, const char *url)
{
    if (strncmp(url, "sqlite:", 7) == 0) return pl__db_sqlite_open(out, url + 7);
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return pl__db_pg_open(out, url);
    pl_log_error("store", "unsupported store url scheme (sqlite: or postgres://)");
    return -PL_EINVAL;
}

void pl_db_close(pl_db_t *db)
{
    if (!db) return;
    for (int i = 0; i < db->n_cached; i++) db->ops->finalize(db->cached[i]);
    db->n_cached = 0;
    db->ops->close(db);
}

bool pl_db_is_pg(const pl_db_t *db)
{
    return db->pg;
}

int pl_db_exec(pl_db_t *db, const char *sql)
{
    return db->ops->exec(db, sql);
}

int pl_db_begin(pl_db_t *db)
{
    return db->ops->begin(db);
}

int pl_db_begin_read(pl_db_t *db)
{
    return db->ops->begin_read(db);
}

int pl_db_prepare(pl_db_t *db, const char *sql, pl_dbs_t **out)
{
    *out = NULL;
    return db->ops->prepare(db, sql, out);
}

pl_dbs_t *pl_db_stmt(pl_db_t *db, const char *sql)
{
    for (int i = 0; i < db->n_cached; i++) {
        if (db->cached_sql[i] == sql) {
            db->ops->reset(db->cached[i]);
            return db->cached[i];
        }
    }
    pl_dbs_t *s = NULL;
    if (db->ops->prepare(db, sql, &s) != PL_DB_OK) {
        pl_log_error("store", "prepare failed: %s", db->ops->errmsg(db));
        return NULL;
    }
    if (db->n_cached == PL_DB_MAX_CACHED) {
        pl_log_error("store", "statement cache full");
        abort(); /* a broken invariant: PL_DB_MAX_CACHED must cover every statement */
    }
    db->cached[db->n_cached] = s;
    db->cached_sql[db->n_cached++] = sql;
    return s;
}

void pl_dbs_finalize(pl_dbs_t *s)
{
    if (s) s->db->ops->finalize(s);
}

void pl_dbs_reset(pl_dbs_t *s)
{
    s->db->ops->reset(s);
}

void pl_dbs_bind_int64(pl_dbs_t *s, int idx, int64_t v)
{
    s->db->ops->bind_int64(s, idx, v);
}

void pl_dbs_bind_int(pl_dbs_t *s, int idx, int v)
{
    s->db->ops->bind_int64(s, idx, v);
}

void pl_dbs_bind_text(pl_dbs_t *s, int idx, const char *v, int len)
{
    if (!v)
        s->db->ops->bind_null(s, idx);
    else
        s->db->ops->bind_text(s, idx, v, len);
}

void pl_dbs_bind_blob(pl_dbs_t *s, int idx, const void *v, int len)
{
    s->db->ops->bind_blob(s, idx, v, len);
}

void pl_dbs_bind_null(pl_dbs_t *s, int idx)
{
    s->db->ops->bind_null(s, idx);
}

int pl_dbs_step(pl_dbs_t *s)
{
    return s->db->ops->step(s);
}

int pl_dbs_type(pl_dbs_t *s, int col)
{
    return s->db->ops->type(s, col);
}

int64_t pl_dbs_int64(pl_dbs_t *s, int col)
{
    return s->db->ops->int64(s, col);
}

int pl_dbs_int(pl_dbs_t *s, int col)
{
    return (int)s->db->ops->int64(s, col);
}

const char *pl_dbs_text(pl_dbs_t *s, int col)
{
    return s->db->ops->text(s, col);
}

const void *pl_dbs_blob(pl_dbs_t *s, int col)
{
    return s->db->ops->blob(s, col);
}

int pl_dbs_bytes(pl_dbs_t *s, int col)
{
    return s->db->ops->bytes(s, col);
}

int64_t pl_db_changes(pl_db_t *db)
{
    return db->ops->changes(db);
}

int64_t pl_db_last_id(pl_db_t *db)
{
    return db->ops->last_id(db);
}

bool pl_db_autocommit(pl_db_t *db)
{
    return db->ops->autocommit(db);
}

const char *pl_db_errmsg(pl_db_t *db)
{
    return db->ops->errmsg(db);
}

int pl_db_errcode(pl_db_t *db)
{
    return db->ops->errcode(db);
}
