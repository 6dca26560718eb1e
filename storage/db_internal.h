/* What a driver of storage/db.h implements (db_sqlite.c, db_pg.c): a table of operations, and
 * the two structs every driver's own connection and statement begin with. Not part of db.h. */
#ifndef PL_DB_INTERNAL_H
#define PL_DB_INTERNAL_H

#include "storage/db.h"

#define PL_DB_MAX_CACHED 160

typedef struct {
    void (*close)(pl_db_t *db);
    int (*exec)(pl_db_t *db, const char *sql);
    int (*begin)(pl_db_t *db);
    int (*begin_read)(pl_db_t *db);
    int (*prepare)(pl_db_t *db, const char *sql, pl_dbs_t **out);
    void (*finalize)(pl_dbs_t *s);
    void (*reset)(pl_dbs_t *s);
    void (*bind_int64)(pl_dbs_t *s, int idx, int64_t v);
    void (*bind_text)(pl_dbs_t *s, int idx, const char *v, int len);
    void (*bind_blob)(pl_dbs_t *s, int idx, const void *v, int len);
    void (*bind_null)(pl_dbs_t *s, int idx);
    int (*step)(pl_dbs_t *s);
    int (*type)(pl_dbs_t *s, int col);
    int64_t (*int64)(pl_dbs_t *s, int col);
    const char *(*text)(pl_dbs_t *s, int col);
    const void *(*blob)(pl_dbs_t *s, int col);
    int (*bytes)(pl_dbs_t *s, int col);
    int64_t (*changes)(pl_db_t *db);
    int64_t (*last_id)(pl_db_t *db);
    bool (*autocommit)(pl_db_t *db);
    const char *(*errmsg)(pl_db_t *db);
    int (*errcode)(pl_db_t *db);
} pl__db_ops_t;

/* The head of every driver's connection. */
struct pl_db {
    const pl__db_ops_t *ops;
    bool pg;
    pl_dbs_t *cached[PL_DB_MAX_CACHED];
    const char *cached_sql[PL_DB_MAX_CACHED];
    int n_cached;
};

/* The head of every driver's statement. */
struct pl_dbs {
    pl_db_t *db;
};

int pl__db_sqlite_open(pl_db_t **out, const char *path);
int pl__db_pg_open(pl_db_t **out, const char *url);

#endif
