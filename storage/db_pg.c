/* The PostgreSQL driver of storage/db.h, over libpq.
 *
 * Blocking libpq on the storage thread, not the non-blocking API on the loop: every store call
 * already runs on that thread (storage/worker.h), jobs there run many statements inside one
 * transaction (read, decide, write), and group commit batches them. The loop never waits on
 * PostgreSQL either way; docs/CLUSTER.md says more.
 *
 * Statements are prepared on the server the first time they run on a connection, and again
 * after a reconnect. Parameters go as text (numbers) or binary (blobs) with their types left to
 * the server to infer from the query; results come back as text, bytea decoded from hex.
 *
 * One lock orders the cluster's writes. pl_db_begin takes a transaction-scoped advisory lock,
 * so write transactions from every node commit one after another, like SQLite's. That is what
 * keeps event cursors (a sequence) committing in increasing order: a node reading the event
 * log after cursor N can never later find a smaller cursor committed behind it. Group commit
 * on each node keeps the lock's cost to one acquisition per batch.
 *
 * A lost connection fails what is running with PL_DB_UNAVAIL. Inside a transaction, every
 * statement then fails until the caller ends it (COMMIT fails too: nothing was committed that
 * the store will report as done); outside one, the next call reconnects. */
#include "core/err.h"
#include "core/log.h"
#include "storage/db_internal.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* pg_advisory_xact_lock key for writes: "PARLEYW" in ASCII, any fixed number would do. */
#define PG_WRITE_LOCK "23459720143294807"

#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

typedef struct {
    pl_db_t base;
    PGconn *c;
    char *url;
    unsigned gen;  /* bumped on every (re)connect: statements prepared before are gone */
    unsigned next; /* names prepared statements */
    bool txn;      /* inside BEGIN ... COMMIT/ROLLBACK as the caller sees it */
    bool broken;   /* the connection was lost inside that transaction */
    char outer_sp[32]; /* a SAVEPOINT that began the transaction: its RELEASE commits */
    int64_t changes;
    int64_t last_id;    /* from the last INSERT that returned its id (auto_id) */
    bool last_id_known; /* false after an INSERT that did not: ask lastval() */
    int errcode;
    char errmsg[256];
} pg_db_t;

typedef struct {
    pl_dbs_t base;
    char *sql; /* with $N parameters */
    char name[24];
    unsigned gen; /* the connection generation it is prepared in; 0: not prepared */
    int nparams;
    char **vals;
    int *lens, *fmts;
    PGresult *res;
    int row, nrows;
    bool ran;
    bool insert;  /* an INSERT */
    bool auto_id; /* an INSERT given "RETURNING id" here, its row read by the driver */
    unsigned char **blob; /* this row's decoded bytea columns */
    size_t *blob_len;
    int ncols;
} pg_stmt_t;

#define D(db) ((pg_db_t *)(db))
#define S(st) ((pg_stmt_t *)(st))

static void set_err(pg_db_t *d, int code, const char *msg)
{
    d->errcode = code;
    snprintf(d->errmsg, sizeof d->errmsg, "%s", msg ? msg : "?");
    size_t n = strlen(d->errmsg);
    while (n && (d->errmsg[n - 1] == '\n' || d->errmsg[n - 1] == ' ')) d->errmsg[--n] = 0;
}

/* Maps a failed result (or none) to a PL_DB code. Only the primary message is kept: the
 * detail of a constraint failure can quote row data. */
static int fail(pg_db_t *d, PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int code = PL_DB_ERROR;
    if (PQstatus(d->c) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P", 3) == 0)
        code = PL_DB_UNAVAIL;
    else if (strncmp(state, "23", 2) == 0)
        code = PL_DB_CONSTRAINT;
    else if (strcmp(state, "53100") == 0)
        code = PL_DB_FULL;
    else if (strncmp(state, "53", 2) == 0 || strncmp(state, "58", 2) == 0)
        code = PL_DB_IOERR;
    else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
             strcmp(state, "55P03") == 0)
        code = PL_DB_BUSY;
    else if (strcmp(state, "25006") == 0)
        code = PL_DB_READONLY;
    if (code == PL_DB_UNAVAIL && !msg) msg = PQerrorMessage(d->c);
    set_err(d, code, msg);
    if (code == PL_DB_UNAVAIL && d->txn) d->broken = true;
    return code;
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs (e.g. "relation already exists, skipping") are not errors */
}

/* Outside a transaction, a lost connection is made again; inside one it stays lost until the
 * caller ends the transaction. */
static int ready(pg_db_t *d)
{
    if (d->broken) {
        set_err(d, PL_DB_UNAVAIL, "connection lost in this transaction");
        return PL_DB_UNAVAIL;
    }
    if (PQstatus(d->c) == CONNECTION_OK) return PL_DB_OK;
    if (d->txn) {
        d->broken = true;
        set_err(d, PL_DB_UNAVAIL, "connection lost in this transaction");
        return PL_DB_UNAVAIL;
    }
    PQreset(d->c);
    if (PQstatus(d->c) != CONNECTION_OK) {
        set_err(d, PL_DB_UNAVAIL, PQerrorMessage(d->c));
        return PL_DB_UNAVAIL;
    }
    PQsetNoticeProcessor(d->c, quiet, NULL);
    d->gen++;
    pl_log_info("store", "reconnected to PostgreSQL");
    return PL_DB_OK;
}

static bool starts_with_word(const char *sql, const char *word)
{
    while (isspace((unsigned char)*sql)) sql++;
    size_t n = strlen(word);
    return strncasecmp(sql, word, n) == 0 && !isalnum((unsigned char)sql[n]) && sql[n] != '_';
}

/* Tracks the transaction as the caller sees it, from the statement that starts or ends it. */
static void track(pg_db_t *d, const char *sql, bool ok)
{
    if (starts_with_word(sql, "BEGIN")) {
        if (ok) d->txn = true;
    } else if (starts_with_word(sql, "COMMIT") || starts_with_word(sql, "END")) {
        d->txn = false;
        d->broken = false;
        d->outer_sp[0] = 0;
    } else if (starts_with_word(sql, "ROLLBACK")) {
        const char *p = sql;
        while (isspace((unsigned char)*p)) p++;
        p += 8;
        while (isspace((unsigned char)*p)) p++;
        if (strncasecmp(p, "TO", 2) != 0) {
            d->txn = false;
            d->broken = false;
            d->outer_sp[0] = 0;
        }
    }
}

static int pg_exec(pl_db_t *db, const char *sql);

static int exec_raw(pl_db_t *db, const char *sql)
{
    pg_db_t *d = D(db);
    bool ending = starts_with_word(sql, "COMMIT") || starts_with_word(sql, "END") ||
                  (starts_with_word(sql, "ROLLBACK") && !strcasestr(sql, " TO "));
    int rc = ready(d);
    if (rc != PL_DB_OK) {
        if (ending) track(d, sql, false);
        /* A rollback of a transaction the server has already forgotten has nothing to undo. */
        return ending && starts_with_word(sql, "ROLLBACK") ? PL_DB_OK : rc;
    }
    PGresult *r = PQexec(d->c, sql);
    ExecStatusType t = PQresultStatus(r);
    rc = (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) ? PL_DB_OK : fail(d, r);
    if (rc == PL_DB_OK) d->changes = atoll(PQcmdTuples(r));
    PQclear(r);
    track(d, sql, rc == PL_DB_OK);
    /* COMMIT of an aborted transaction "succeeds" as a rollback: report it as the failure it is. */
    return rc;
}

static int pg_begin(pl_db_t *db);

/* The savepoint name after SAVEPOINT or RELEASE [SAVEPOINT]. */
static void sp_name(const char *sql, char *out, size_t cap)
{
    const char *p = sql;
    while (isspace((unsigned char)*p)) p++;
    while (*p && !isspace((unsigned char)*p)) p++; /* the verb */
    while (isspace((unsigned char)*p)) p++;
    if (strncasecmp(p, "SAVEPOINT", 9) == 0 && isspace((unsigned char)p[9])) p += 9;
    while (isspace((unsigned char)*p)) p++;
    size_t n = 0;
    while (p[n] && (isalnum((unsigned char)p[n]) || p[n] == '_') && n + 1 < cap) n++;
    memcpy(out, p, n);
    out[n] = 0;
}

/* SQLite lets a SAVEPOINT outside a transaction begin one, which its RELEASE commits; the store
 * relies on that, so it is done the same way here. */
static int savepoint_semantics(pl_db_t *db, const char *sql, bool *handled)
{
    pg_db_t *d = D(db);
    *handled = false;
    if (starts_with_word(sql, "SAVEPOINT") && !d->txn) {
        int rc = pg_begin(db);
        if (rc != PL_DB_OK) {
            *handled = true;
            return rc;
        }
        sp_name(sql, d->outer_sp, sizeof d->outer_sp);
        return PL_DB_OK; /* and the SAVEPOINT itself runs as usual */
    }
    if (starts_with_word(sql, "RELEASE") && d->outer_sp[0] && !strchr(sql, ';')) {
        char name[32];
        sp_name(sql, name, sizeof name);
        if (strcmp(name, d->outer_sp) == 0) {
            *handled = true;
            d->outer_sp[0] = 0;
            return pg_exec(db, "COMMIT");
        }
    }
    return PL_DB_OK;
}

static int pg_exec(pl_db_t *db, const char *sql)
{
    bool handled;
    int rc = savepoint_semantics(db, sql, &handled);
    if (handled || rc != PL_DB_OK) return rc;
    return exec_raw(db, sql);
}

/* A batch that only reads: no write lock, so reading the event log never waits for another
 * node's commit. Safe because writers commit one at a time in cursor order: any snapshot
 * holds every event up to some cursor and none after it (gaps are rolled-back ids). */
static int pg_begin_read(pl_db_t *db)
{
    pg_db_t *d = D(db);
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = exec_raw(db, "BEGIN");
        if (rc != PL_DB_UNAVAIL) return rc;
        d->txn = false;
        d->broken = false;
    }
    return PL_DB_UNAVAIL;
}

static int pg_begin(pl_db_t *db)
{
    pg_db_t *d = D(db);
    /* Nothing has run yet, so a connection found dead here is made again and the begin tried
     * once more: the first batch after an outage succeeds. */
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = exec_raw(db, "BEGIN; SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK ")");
        if (rc != PL_DB_UNAVAIL) return rc;
        d->txn = false;
        d->broken = false;
    }
    return PL_DB_UNAVAIL;
}

/* SQLite's JSON functions the store's queries use, by their PostgreSQL names. json_group_array
 * and the parley_ functions are defined by the PostgreSQL schema (schema_pg.c). */
static const struct {
    const char *sqlite, *pg;
} renames[] = {
    {"json_object", "json_build_object"},
    {"json_array", "json_build_array"},
    {"json_each", "parley_json_each"},
    {"json", "parley_json"},
};

/* Writes the name starting at p (length n), renamed when it is a function in renames. */
static char *put_name(char *o, const char *p, size_t n)
{
    const char *q = p + n;
    while (*q == ' ') q++;
    if (*q == '(')
        for (size_t i = 0; i < sizeof renames / sizeof renames[0]; i++)
            if (strlen(renames[i].sqlite) == n && strncasecmp(p, renames[i].sqlite, n) == 0)
                return o + sprintf(o, "%s", renames[i].pg);
    memcpy(o, p, n);
    return o + n;
}

/* ?N becomes $N and a bare ? the next number after the largest so far (SQLite's rule); quoted
 * text is left alone. */
static char *translate(const char *sql, int *nparams)
{
    size_t n = strlen(sql);
    /* Room for the worst case: every ? a $NNN, every name renamed, and " RETURNING id". */
    char *out = malloc(n * 4 + 64), *o = out;
    if (!out) return NULL;
    int max = 0;
    char quote = 0;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote) quote = 0;
            *o++ = *p;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
            *o++ = *p;
        } else if (*p == '?') {
            int v;
            if (isdigit((unsigned char)p[1])) {
                v = (int)strtol(p + 1, (char **)&p, 10);
                p--;
            } else {
                v = max + 1;
            }
            if (v > max) max = v;
            o += sprintf(o, "$%d", v);
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            size_t len = 1;
            while (isalnum((unsigned char)p[len]) || p[len] == '_') len++;
            o = put_name(o, p, len);
            p += len - 1;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    *nparams = max;
    return out;
}

/* Tables whose rows get their id from an identity column (schema_pg.c). */
static const char *const id_tables[] = {
    "orgs",          "users",           "conversations", "messages",         "events",
    "reply_templates", "consultations", "consult_links", "attachments",      "agreements",
    "advice_requests", "cases",         "filings",       "outbox",           "data_keys",
};

/* An INSERT into one of id_tables without a RETURNING of its own: the driver adds RETURNING id
 * and keeps the id for pl_db_last_id, which saves the round trip lastval() would cost. The
 * statement still looks to the caller as if it returned no rows. */
static bool wants_auto_id(const char *sql, bool *insert)
{
    const char *p = sql;
    while (isspace((unsigned char)*p)) p++;
    *insert = strncasecmp(p, "INSERT", 6) == 0;
    if (!*insert || strcasestr(sql, "RETURNING")) return false;
    p += 6;
    while (isspace((unsigned char)*p)) p++;
    if (strncasecmp(p, "INTO", 4) != 0) return false;
    p += 4;
    while (isspace((unsigned char)*p)) p++;
    size_t n = 0;
    while (isalnum((unsigned char)p[n]) || p[n] == '_') n++;
    for (size_t i = 0; i < sizeof id_tables / sizeof id_tables[0]; i++)
        if (strlen(id_tables[i]) == n && strncmp(p, id_tables[i], n) == 0) return true;
    return false;
}

static void clear_row(pg_stmt_t *s)
{
    for (int i = 0; i < s->ncols; i++) {
        free(s->blob[i]);
        s->blob[i] = NULL;
    }
}

static void clear_binds(pg_stmt_t *s)
{
    for (int i = 0; i < s->nparams; i++) {
        free(s->vals[i]);
        s->vals[i] = NULL;
        s->lens[i] = 0;
        s->fmts[i] = 0;
    }
}

static int pg_prepare(pl_db_t *db, const char *sql, pl_dbs_t **out)
{
    pg_db_t *d = D(db);
    pg_stmt_t *s = calloc(1, sizeof *s);
    if (!s) return PL_DB_NOMEM;
    s->base.db = db;
    s->sql = translate(sql, &s->nparams);
    s->auto_id = wants_auto_id(sql, &s->insert);
    if (s->sql && s->auto_id) {
        size_t len = strlen(s->sql);
        while (len && (isspace((unsigned char)s->sql[len - 1]) || s->sql[len - 1] == ';')) len--;
        strcpy(s->sql + len, " RETURNING id"); /* translate left room */
    }
    int n = s->nparams ? s->nparams : 1;
    s->vals = calloc((size_t)n, sizeof *s->vals);
    s->lens = calloc((size_t)n, sizeof *s->lens);
    s->fmts = calloc((size_t)n, sizeof *s->fmts);
    if (!s->sql || !s->vals || !s->lens || !s->fmts) {
        free(s->sql);
        free(s->vals);
        free(s->lens);
        free(s->fmts);
        free(s);
        return PL_DB_NOMEM;
    }
    snprintf(s->name, sizeof s->name, "pl%u", ++d->next);
    *out = &s->base;
    return PL_DB_OK;
}

static void pg_reset(pl_dbs_t *st)
{
    pg_stmt_t *s = S(st);
    clear_row(s);
    PQclear(s->res);
    s->res = NULL;
    s->ran = false;
    s->row = s->nrows = 0;
    clear_binds(s);
}

static void pg_finalize(pl_dbs_t *st)
{
    pg_stmt_t *s = S(st);
    pg_db_t *d = D(st->db);
    pg_reset(st);
    if (s->gen && s->gen == d->gen && PQstatus(d->c) == CONNECTION_OK && !d->broken) {
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
        /* Inside a failed transaction this fails too; the statement then lives until the
         * connection closes, which costs nothing but its plan. */
        if (!d->txn) PQclear(PQexec(d->c, sql));
    }
    free(s->blob);
    free(s->blob_len);
    free(s->sql);
    free(s->vals);
    free(s->lens);
    free(s->fmts);
    free(s);
}

static void bind_str(pg_stmt_t *s, int idx, char *v, int len, int fmt)
{
    if (idx < 1 || idx > s->nparams) {
        free(v);
        return;
    }
    free(s->vals[idx - 1]);
    s->vals[idx - 1] = v;
    s->lens[idx - 1] = len;
    s->fmts[idx - 1] = fmt;
}

static void pg_bind_int64(pl_dbs_t *st, int idx, int64_t v)
{
    char *t = malloc(24);
    if (t) snprintf(t, 24, "%lld", (long long)v);
    bind_str(S(st), idx, t, 0, 0);
}

static void pg_bind_text(pl_dbs_t *st, int idx, const char *v, int len)
{
    size_t n = len < 0 ? strlen(v) : (size_t)len;
    char *t = malloc(n + 1);
    if (t) {
        memcpy(t, v, n);
        t[n] = 0;
    }
    bind_str(S(st), idx, t, 0, 0);
}

static void pg_bind_blob(pl_dbs_t *st, int idx, const void *v, int len)
{
    char *t = malloc(len > 0 ? (size_t)len : 1);
    if (t && len > 0) memcpy(t, v, (size_t)len);
    bind_str(S(st), idx, t, len, 1);
}

static void pg_bind_null(pl_dbs_t *st, int idx)
{
    bind_str(S(st), idx, NULL, 0, 0);
}

static int run(pg_stmt_t *s)
{
    pg_db_t *d = D(s->base.db);
    int rc = ready(d);
    if (rc != PL_DB_OK) return rc;
    if (s->gen != d->gen) {
        PGresult *r = PQprepare(d->c, s->name, s->sql, s->nparams, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            rc = fail(d, r);
            PQclear(r);
            return rc;
        }
        PQclear(r);
        s->gen = d->gen;
    }
    s->res = PQexecPrepared(d->c, s->name, s->nparams, (const char *const *)s->vals, s->lens,
                            s->fmts, 0);
    ExecStatusType t = PQresultStatus(s->res);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        rc = fail(d, s->res);
        PQclear(s->res);
        s->res = NULL;
        return rc;
    }
    d->changes = atoll(PQcmdTuples(s->res));
    s->nrows = t == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
    if (s->auto_id) {
        /* The id is the driver's: the caller sees what it asked for, no rows. */
        if (s->nrows > 0) d->last_id = strtoll(PQgetvalue(s->res, s->nrows - 1, 0), NULL, 10);
        d->last_id_known = s->nrows > 0;
        s->nrows = 0;
    } else if (s->insert) {
        d->last_id_known = false;
    }
    int ncols = PQnfields(s->res);
    if (ncols > s->ncols) {
        unsigned char **b = realloc(s->blob, (size_t)ncols * sizeof *b);
        if (!b) return PL_DB_NOMEM;
        s->blob = b;
        size_t *l = realloc(s->blob_len, (size_t)ncols * sizeof *l);
        if (!l) return PL_DB_NOMEM;
        s->blob_len = l;
        for (int i = s->ncols; i < ncols; i++) s->blob[i] = NULL;
        s->ncols = ncols;
    }
    s->row = -1;
    return PL_DB_OK;
}

static int pg_step(pl_dbs_t *st)
{
    pg_stmt_t *s = S(st);
    if (!s->ran) {
        s->ran = true;
        int rc = run(s);
        if (rc != PL_DB_OK) return rc;
    }
    if (!s->res) return PL_DB_DONE;
    clear_row(s);
    if (s->row + 1 >= s->nrows) {
        s->row = s->nrows;
        return PL_DB_DONE;
    }
    s->row++;
    return PL_DB_ROW;
}

static bool have(pg_stmt_t *s, int col)
{
    return s->res && s->row >= 0 && s->row < s->nrows && col >= 0 && col < PQnfields(s->res);
}

static int pg_type(pl_dbs_t *st, int col)
{
    pg_stmt_t *s = S(st);
    if (!have(s, col) || PQgetisnull(s->res, s->row, col)) return PL_DB_NULL;
    switch (PQftype(s->res, col)) {
    case OID_BYTEA: return PL_DB_BLOB;
    case OID_BOOL:
    case OID_INT8:
    case OID_INT2:
    case OID_INT4:
    case OID_OID: return PL_DB_INTEGER;
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC: return PL_DB_FLOAT;
    default: return PL_DB_TEXT;
    }
}

static int64_t pg_col_int64(pl_dbs_t *st, int col)
{
    pg_stmt_t *s = S(st);
    if (!have(s, col) || PQgetisnull(s->res, s->row, col)) return 0;
    const char *v = PQgetvalue(s->res, s->row, col);
    if (PQftype(s->res, col) == OID_BOOL) return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static const char *pg_text(pl_dbs_t *st, int col)
{
    pg_stmt_t *s = S(st);
    if (!have(s, col) || PQgetisnull(s->res, s->row, col)) return NULL;
    return PQgetvalue(s->res, s->row, col);
}

/* bytea arrives in text results as \x and hex digits: decoded once per row and column. */
static bool decode(pg_stmt_t *s, int col)
{
    if (s->blob[col]) return true;
    size_t n = 0;
    unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, col), &n);
    if (!b) return false;
    /* PQunescapeBytea's buffer is freed with PQfreemem; copy into ours so clear_row frees it. */
    unsigned char *c = malloc(n ? n : 1);
    if (c) memcpy(c, b, n);
    PQfreemem(b);
    if (!c) return false;
    s->blob[col] = c;
    s->blob_len[col] = n;
    return true;
}

static const void *pg_blob(pl_dbs_t *st, int col)
{
    pg_stmt_t *s = S(st);
    if (!have(s, col) || PQgetisnull(s->res, s->row, col)) return NULL;
    if (PQftype(s->res, col) != OID_BYTEA) return PQgetvalue(s->res, s->row, col);
    return decode(s, col) ? s->blob[col] : NULL;
}

static int pg_bytes(pl_dbs_t *st, int col)
{
    pg_stmt_t *s = S(st);
    if (!have(s, col) || PQgetisnull(s->res, s->row, col)) return 0;
    if (PQftype(s->res, col) != OID_BYTEA) return PQgetlength(s->res, s->row, col);
    return decode(s, col) ? (int)s->blob_len[col] : 0;
}

static int64_t pg_changes(pl_db_t *db)
{
    return D(db)->changes;
}

static int64_t pg_last_id(pl_db_t *db)
{
    pg_db_t *d = D(db);
    if (d->last_id_known) return d->last_id;
    if (ready(d) != PL_DB_OK) return 0;
    /* Called straight after an INSERT into a table whose id is an identity column, so lastval()
     * is that row's id. */
    PGresult *r = PQexec(d->c, "SELECT lastval()");
    int64_t id = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        fail(d, r);
    PQclear(r);
    return id;
}

static bool pg_autocommit(pl_db_t *db)
{
    return !D(db)->txn;
}

static const char *pg_errmsg(pl_db_t *db)
{
    return D(db)->errmsg;
}

static int pg_errcode(pl_db_t *db)
{
    return D(db)->errcode;
}

static void pg_close(pl_db_t *db)
{
    pg_db_t *d = D(db);
    PQfinish(d->c);
    free(d->url);
    free(d);
}

static const pl__db_ops_t pg_ops = {
    pg_close,     pg_exec,      pg_begin,     pg_begin_read,  pg_prepare, pg_finalize, pg_reset,
    pg_bind_int64, pg_bind_text, pg_bind_blob, pg_bind_null, pg_step,  pg_type,
    pg_col_int64,     pg_text,      pg_blob,   pg_bytes,   pg_changes,  pg_last_id,
    pg_autocommit, pg_errmsg,   pg_errcode,
};

int pl__db_pg_open(pl_db_t **out, const char *url)
{
    pg_db_t *d = calloc(1, sizeof *d);
    if (!d) return -PL_ENOMEM;
    d->base.ops = &pg_ops;
    d->base.pg = true;
    d->url = strdup(url);
    /* A timeout unless the URL names its own (keywords after dbname override the URL's). */
    const char *keys[] = {"connect_timeout", "dbname", "application_name", NULL};
    const char *vals[] = {"5", url, "parley", NULL};
    d->c = PQconnectdbParams(keys, vals, 1);
    if (!d->url || !d->c || PQstatus(d->c) != CONNECTION_OK) {
        /* libpq's message names host and port, never the password. */
        set_err(d, PL_DB_UNAVAIL, d->c ? PQerrorMessage(d->c) : "out of memory");
        pl_log_error("store", "cannot connect to PostgreSQL: %s", d->errmsg);
        PQfinish(d->c);
        free(d->url);
        free(d);
        return -PL_EUNAVAIL;
    }
    PQsetNoticeProcessor(d->c, quiet, NULL);
    d->gen = 1;
    *out = &d->base;
    return 0;
}
