/* SQLite backend of store.h: the embedded default.
 *
 * Durability: WAL journal with synchronous=FULL, so a COMMIT returns only after the WAL is
 * fsync'd. The worker batches many jobs into one transaction (group commit), which is what makes
 * that affordable. Statements are prepared once and cached for the life of the connection. */
#include "storage/store.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "storage/aead.h"
#include "storage/schema.h"
#include "storage/sqlite_internal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>


static const char *role_names[PL_ROLE_COUNT] = {"receptionist", "gp",         "nurse",
                                                "pharmacist",   "clinician",  "specialist",
                                                "practice_admin"};

unsigned pl_role_from_name(const char *name)
{
    for (int i = 0; name && i < PL_ROLE_COUNT; i++)
        if (strcmp(name, role_names[i]) == 0) return 1u << i;
    return 0;
}

const char *pl_role_name(unsigned role_bit)
{
    for (int i = 0; i < PL_ROLE_COUNT; i++)
        if (role_bit == 1u << i) return role_names[i];
    return "unknown";
}

void pl_user_wipe(pl_user_t *u)
{
    pl_wipe(u, sizeof *u);
}

int pl__sq_err(pl_store_t *st, int rc, const char *what)
{
    if (rc == SQLITE_CONSTRAINT) return -PL_ECONFLICT;
    pl_log_error("store", "%s: %s", what, sqlite3_errmsg(st->db));
    if (rc == SQLITE_FULL || rc == SQLITE_IOERR || rc == SQLITE_BUSY || rc == SQLITE_LOCKED ||
        rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN)
        return -PL_EIO;
    return -PL_EINTERNAL;
}

/* Cached prepared statement for sql (compared by pointer first, then text). Reset and cleared
 * on return, ready to bind. */
sqlite3_stmt *pl__sq_stmt(pl_store_t *st, const char *sql)
{
    for (int i = 0; i < st->n_stmts; i++) {
        if (st->stmt_sql[i] == sql) {
            sqlite3_reset(st->stmts[i]);
            sqlite3_clear_bindings(st->stmts[i]);
            return st->stmts[i];
        }
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
        pl_log_error("store", "prepare failed: %s", sqlite3_errmsg(st->db));
        return NULL;
    }
    if (st->n_stmts < PL_SQ_MAX_STMTS) {
        st->stmts[st->n_stmts] = s;
        st->stmt_sql[st->n_stmts++] = sql;
    } else {
        pl_log_error("store", "statement cache full");
        abort(); /* a broken invariant: PL_SQ_MAX_STMTS must cover every statement in this file */
    }
    return s;
}

static int exec(pl_store_t *st, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        pl_log_error("store", "exec failed: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return rc == SQLITE_FULL || rc == SQLITE_IOERR ? -PL_EIO : -PL_EINTERNAL;
    }
    return 0;
}

/* Runs a statement expected to produce no rows. */
int pl__sq_done(pl_store_t *st, sqlite3_stmt *s, const char *what)
{
    if (!s) return -PL_EINTERNAL;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return pl__sq_err(st, rc, what);
    return 0;
}

/* ---- sealing helpers ---- */

int pl__sq_seal_bind(pl_store_t *st, sqlite3_stmt *s, int idx, int64_t org_id, const char *aad,
                     const void *pt, size_t len)
{
    uint8_t *buf = NULL;
    size_t outlen = 0;
    int rc = pl__sq_seal(st, org_id, aad, pt, len, &buf, &outlen);
    if (rc < 0) return rc;
    sqlite3_bind_blob(s, idx, buf, (int)outlen, free);
    return 0;
}

/* Opens column col of s into a malloc'd NUL-terminated string. */
int pl__sq_open_col(pl_store_t *st, sqlite3_stmt *s, int col, const char *aad, char **out,
                    size_t *out_len)
{
    const uint8_t *in = sqlite3_column_blob(s, col);
    size_t inlen = (size_t)sqlite3_column_bytes(s, col);
    if (!in || inlen < PL_AEAD_OVERHEAD) return -PL_ECRYPTO;
    char *buf = malloc(inlen + 1);
    if (!buf) return -PL_ENOMEM;
    size_t n = 0;
    int rc = pl__sq_open(st, aad, in, inlen, (uint8_t *)buf, inlen, &n);
    if (rc < 0) {
        pl_log_error("store", "sealed column failed to open (aad %s)", aad);
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *out = buf;
    if (out_len) *out_len = n;
    return 0;
}

json_t *pl__sq_open_json(pl_store_t *st, sqlite3_stmt *s, int col, const char *aad)
{
    char *txt = NULL;
    size_t n = 0;
    if (pl__sq_open_col(st, s, col, aad, &txt, &n) < 0) return NULL;
    json_t *j = json_loadb(txt, n, 0, NULL);
    pl_wipe(txt, n);
    free(txt);
    return j;
}

/* ---- open, migrate, transactions ---- */

static int migrate(pl_store_t *st)
{
    int rc = exec(st, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);");
    if (rc < 0) return rc;
    int have = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT max(version) FROM schema_version", -1, &s, NULL))
        return -PL_EINTERNAL;
    if (sqlite3_step(s) == SQLITE_ROW) have = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (have > pl_schema_version) {
        pl_log_error("store", "database schema %d is newer than this binary (%d)", have,
                     pl_schema_version);
        return -PL_EINVAL;
    }
    if (have == pl_schema_version) return 0;
    if ((rc = exec(st, "BEGIN IMMEDIATE")) < 0) return rc;
    for (int v = have; v < pl_schema_version; v++) {
        if ((rc = exec(st, pl_schema_migrations[v])) < 0) break;
        char sql[80];
        snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%d)", v + 1);
        if ((rc = exec(st, sql)) < 0) break;
        pl_log_info("store", "migrated schema to version %d", v + 1);
    }
    if (rc == 0) rc = pl__sq_audit_chain_existing(st);
    /* A database from before per-organisation keys keeps its one key as the legacy data key. */
    if (rc == 0 && have > 0 && have < PL_SQ_SCHEMA_DATA_KEYS) rc = pl__sq_keys_adopt_legacy(st);
    if (rc < 0) {
        exec(st, "ROLLBACK");
        return rc;
    }
    return exec(st, "COMMIT");
}

int pl_store_open(pl_store_t **out, const char *url, const uint8_t key[32])
{
    if (strncmp(url, "sqlite:", 7) != 0) {
        pl_log_error("store", "unsupported store url scheme (only sqlite: in this build)");
        return -PL_EINVAL;
    }
    const char *path = url + 7;
    /* Create the file ourselves so it is 0600 from birth; SQLite gives -wal/-shm the same mode. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        pl_log_error("store", "cannot open database file %s", path);
        return -PL_EIO;
    }
    close(fd);
    pl_store_t *st = calloc(1, sizeof *st);
    if (!st) return -PL_ENOMEM;
    memcpy(st->master, key, sizeof st->master);
    const char *slash = strrchr(path, '/');
    if (slash && slash > path)
        snprintf(st->dir, sizeof st->dir, "%.*s", (int)(slash - path), path);
    else
        snprintf(st->dir, sizeof st->dir, "%s", slash ? "/" : ".");
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        pl_log_error("store", "sqlite open failed: %s", sqlite3_errmsg(st->db));
        pl_store_close(st);
        return -PL_EIO;
    }
    sqlite3_busy_timeout(st->db, 5000);
    /* A 64 MiB page cache and memory-mapped reads: without them every lookup on the commit
     * path copies pages from the kernel (measured as the storage thread's main cost). */
    int rc = exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                      "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; "
                      "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;");
    if (rc == 0) rc = migrate(st);
    if (rc == 0) rc = pl__sq_keys_open(st);
    if (rc == 0) rc = pl__sq_audit_open(st, path);
    if (rc < 0) {
        pl_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void pl_store_close(pl_store_t *st)
{
    if (!st) return;
    for (int i = 0; i < st->n_stmts; i++) sqlite3_finalize(st->stmts[i]);
    if (st->db) sqlite3_close(st->db);
    pl__sq_audit_close(st);
    pl__sq_keys_close(st);
    free(st);
}

int pl_store_health(pl_store_t *st)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "SELECT count(*) FROM schema_version");
    if (!s) return -PL_EIO;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : -PL_EIO;
}

int pl_store_begin(pl_store_t *st)
{
    return exec(st, "BEGIN IMMEDIATE");
}
int pl_store_commit(pl_store_t *st)
{
    return exec(st, "COMMIT");
}
int pl_store_rollback(pl_store_t *st)
{
    return exec(st, "ROLLBACK");
}
int pl_store_savepoint(pl_store_t *st)
{
    return exec(st, "SAVEPOINT job");
}
int pl_store_release(pl_store_t *st)
{
    return exec(st, "RELEASE job");
}
int pl_store_rollback_to(pl_store_t *st)
{
    int rc = exec(st, "ROLLBACK TO job");
    return rc ? rc : exec(st, "RELEASE job");
}

/* ---- organisations ---- */

int pl_store_org_create(pl_store_t *st, const pl_org_t *org, int64_t *id)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "INSERT INTO orgs (code, name, kind, parent_id, "
                            "response_target_minutes, require_totp, created_at) "
                            "VALUES (?,?,?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_text(s, 1, org->code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, org->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, org->kind, -1, SQLITE_TRANSIENT);
    if (org->parent_id > 0)
        sqlite3_bind_int64(s, 4, org->parent_id);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_int(s, 5, org->response_target_minutes);
    sqlite3_bind_int(s, 6, org->require_totp);
    sqlite3_bind_int64(s, 7, pl_now_ms());
    int rc = pl__sq_done(st, s, "org create");
    if (rc == 0 && id) *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static void org_row(sqlite3_stmt *s, pl_org_t *o)
{
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(s, 0);
    snprintf(o->code, sizeof o->code, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(o->name, sizeof o->name, "%s", (const char *)sqlite3_column_text(s, 2));
    snprintf(o->kind, sizeof o->kind, "%s", (const char *)sqlite3_column_text(s, 3));
    o->parent_id = sqlite3_column_int64(s, 4);
    o->response_target_minutes = sqlite3_column_int(s, 5);
    o->require_totp = sqlite3_column_int(s, 6) != 0;
}

static int org_one(pl_store_t *st, sqlite3_stmt *s, pl_org_t *out)
{
    if (!s) return -PL_EINTERNAL;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) org_row(s, out);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return 0;
    return rc == SQLITE_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "org get");
}

int pl_store_org_get(pl_store_t *st, int64_t id, pl_org_t *out)
{
    static const char sql[] = "SELECT id, code, name, kind, coalesce(parent_id,0), "
                              "response_target_minutes, require_totp FROM orgs WHERE id = ?";
    sqlite3_stmt *s = pl__sq_stmt(st, sql);
    if (s) sqlite3_bind_int64(s, 1, id);
    return org_one(st, s, out);
}

int pl_store_org_by_code(pl_store_t *st, const char *code, pl_org_t *out)
{
    static const char sql[] = "SELECT id, code, name, kind, coalesce(parent_id,0), "
                              "response_target_minutes, require_totp FROM orgs WHERE code = ?";
    sqlite3_stmt *s = pl__sq_stmt(st, sql);
    if (s) sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    return org_one(st, s, out);
}

int pl_store_org_set(pl_store_t *st, int64_t id, const char *field, const char *value)
{
    const char *sql;
    if (strcmp(field, "response_target_minutes") == 0)
        sql = "UPDATE orgs SET response_target_minutes = CAST(?2 AS INTEGER) WHERE id = ?1";
    else if (strcmp(field, "require_totp") == 0)
        sql = "UPDATE orgs SET require_totp = CAST(?2 AS INTEGER) WHERE id = ?1";
    else if (strcmp(field, "name") == 0)
        sql = "UPDATE orgs SET name = ?2 WHERE id = ?1";
    else
        return -PL_EINVAL;
    sqlite3_stmt *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_TRANSIENT);
    int rc = pl__sq_done(st, s, "org set");
    if (rc == 0 && sqlite3_changes(st->db) == 0) return -PL_ENOTFOUND;
    return rc;
}

static json_t *org_json(const pl_org_t *o)
{
    return json_pack("{sI ss ss ss sI si sb}", "id", (json_int_t)o->id, "code", o->code, "name",
                     o->name, "kind", o->kind, "parent_id", (json_int_t)o->parent_id,
                     "response_target_minutes", o->response_target_minutes, "require_totp",
                     o->require_totp);
}

int pl_store_org_list(pl_store_t *st, json_t **out)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "SELECT id, code, name, kind, coalesce(parent_id,0), "
                            "response_target_minutes, require_totp FROM orgs ORDER BY id");
    if (!s) return -PL_EINTERNAL;
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        pl_org_t o;
        org_row(s, &o);
        json_array_append_new(arr, org_json(&o));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "org list");
    }
    *out = arr;
    return 0;
}

/* ---- people ---- */

static int user_insert(pl_store_t *st, pl_user_kind_t kind, const char *username,
                       const char *display_name, const char *password_hash, const char *nhs_number,
                       const char *dob, int64_t practice_id, int64_t *id);

int pl_store_user_create(pl_store_t *st, pl_user_kind_t kind, const char *username,
                         const char *display_name, const char *password_hash,
                         const char *nhs_number, const char *dob, int64_t practice_id,
                         int64_t *id)
{
    /* User and patient rows go in together or not at all, inside any caller's transaction. */
    int rc = exec(st, "SAVEPOINT user_create");
    if (rc < 0) return rc;
    rc = user_insert(st, kind, username, display_name, password_hash, nhs_number, dob,
                     practice_id, id);
    if (rc < 0) exec(st, "ROLLBACK TO user_create");
    int rc2 = exec(st, "RELEASE user_create");
    return rc < 0 ? rc : rc2;
}

static int user_insert(pl_store_t *st, pl_user_kind_t kind, const char *username,
                       const char *display_name, const char *password_hash, const char *nhs_number,
                       const char *dob, int64_t practice_id, int64_t *id)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "INSERT INTO users (kind, username, display_name, "
                                      "password_hash, created_at) VALUES (?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_int(s, 1, (int)kind);
    sqlite3_bind_text(s, 2, username, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, display_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, password_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, pl_now_ms());
    int rc = pl__sq_done(st, s, "user create");
    if (rc < 0) return rc;
    int64_t uid = sqlite3_last_insert_rowid(st->db);
    if (kind == PL_USER_PATIENT) {
        s = pl__sq_stmt(st, "INSERT INTO patients (user_id, nhs_number, dob, practice_id) "
                            "VALUES (?,?,?,?)");
        if (!s) return -PL_EINTERNAL;
        sqlite3_bind_int64(s, 1, uid);
        sqlite3_bind_text(s, 2, nhs_number, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, dob, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 4, practice_id);
        if ((rc = pl__sq_done(st, s, "patient create")) < 0) return rc;
    }
    if (id) *id = uid;
    return 0;
}

int pl_store_user_by_username(pl_store_t *st, const char *username, pl_user_t *out)
{
    static const char sql[] = "SELECT id, kind, username, password_hash, disabled, totp_enabled, "
                              "totp_secret, totp_last_step, guest_role IS NOT NULL FROM users "
                              "WHERE username = ?";
    sqlite3_stmt *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_text(s, 1, username, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc == SQLITE_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "user get");
    }
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(s, 0);
    out->kind = sqlite3_column_int(s, 8) ? PL_USER_GUEST : (pl_user_kind_t)sqlite3_column_int(s, 1);
    snprintf(out->username, sizeof out->username, "%s", (const char *)sqlite3_column_text(s, 2));
    snprintf(out->password_hash, sizeof out->password_hash, "%s",
             (const char *)sqlite3_column_text(s, 3));
    out->disabled = sqlite3_column_int(s, 4) != 0;
    out->totp_enabled = sqlite3_column_int(s, 5) != 0;
    out->totp_last_step = sqlite3_column_int64(s, 7);
    rc = 0;
    if (sqlite3_column_type(s, 6) == SQLITE_BLOB) {
        char aad[40], *sec = NULL;
        size_t n = 0;
        snprintf(aad, sizeof aad, "totp:%lld", (long long)out->id);
        rc = pl__sq_open_col(st, s, 6, aad, &sec, &n);
        if (rc == 0) {
            if (n <= sizeof out->totp_secret) {
                memcpy(out->totp_secret, sec, n);
                out->totp_secret_len = n;
            }
            pl_wipe(sec, n);
            free(sec);
        }
    }
    sqlite3_reset(s);
    return rc;
}

int pl_store_user_set_password(pl_store_t *st, int64_t user_id, const char *password_hash)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "UPDATE users SET password_hash = ? WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_text(s, 1, password_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, user_id);
    int rc = pl__sq_done(st, s, "user set password");
    return rc == 0 && sqlite3_changes(st->db) == 0 ? -PL_ENOTFOUND : rc;
}

int pl_store_user_set_disabled(pl_store_t *st, int64_t user_id, bool disabled)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "UPDATE users SET disabled = ? WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_int(s, 1, disabled);
    sqlite3_bind_int64(s, 2, user_id);
    int rc = pl__sq_done(st, s, "user set disabled");
    return rc == 0 && sqlite3_changes(st->db) == 0 ? -PL_ENOTFOUND : rc;
}

int pl_store_user_set_totp(pl_store_t *st, int64_t user_id, const uint8_t *secret, size_t len,
                           bool enabled, int64_t last_step)
{
    sqlite3_stmt *s = pl__sq_stmt(
        st, "UPDATE users SET totp_secret = ?, totp_enabled = ?, totp_last_step = ? WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    if (secret && len) {
        char aad[40];
        snprintf(aad, sizeof aad, "totp:%lld", (long long)user_id);
        /* A person's second factor belongs to no one organisation: the shared key. */
        int rc = pl__sq_seal_bind(st, s, 1, 0, aad, secret, len);
        if (rc < 0) return rc;
    } else {
        sqlite3_bind_null(s, 1);
    }
    sqlite3_bind_int(s, 2, enabled);
    sqlite3_bind_int64(s, 3, last_step);
    sqlite3_bind_int64(s, 4, user_id);
    return pl__sq_done(st, s, "user set totp");
}

static json_t *user_row_json(sqlite3_stmt *s)
{
    int kind = sqlite3_column_type(s, 6) != SQLITE_NULL ? PL_USER_GUEST : sqlite3_column_int(s, 1);
    json_t *u = json_pack("{sI ss ss ss sb}", "id", (json_int_t)sqlite3_column_int64(s, 0), "kind",
                          kind == PL_USER_PATIENT ? "patient"
                          : kind == PL_USER_GUEST ? "guest"
                                                  : "staff",
                          "username",
                          (const char *)sqlite3_column_text(s, 2), "display_name",
                          (const char *)sqlite3_column_text(s, 3), "disabled",
                          sqlite3_column_int(s, 4) != 0);
    if (kind == PL_USER_PATIENT && sqlite3_column_type(s, 5) != SQLITE_NULL)
        json_object_set_new(u, "practice_id", json_integer(sqlite3_column_int64(s, 5)));
    return u;
}

int pl_store_user_list(pl_store_t *st, json_t **out)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "SELECT u.id, u.kind, u.username, u.display_name, "
                                      "u.disabled, p.practice_id, u.guest_role FROM users u "
                                      "LEFT JOIN patients p ON p.user_id = u.id ORDER BY u.id");
    if (!s) return -PL_EINTERNAL;
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) json_array_append_new(arr, user_row_json(s));
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "user list");
    }
    *out = arr;
    return 0;
}

int pl_store_user_json(pl_store_t *st, int64_t user_id, json_t **out)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "SELECT u.id, u.kind, u.username, u.display_name, "
                                      "u.disabled, p.practice_id, u.guest_role FROM users u "
                                      "LEFT JOIN patients p ON p.user_id = u.id WHERE u.id = ?");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_int64(s, 1, user_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *out = user_row_json(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return 0;
    return rc == SQLITE_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "user json");
}

int pl_store_membership_add(pl_store_t *st, int64_t user_id, int64_t org_id, unsigned role)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "INSERT INTO memberships (user_id, org_id, roles) "
                                      "VALUES (?1,?2,?3) ON CONFLICT (user_id, org_id) "
                                      "DO UPDATE SET roles = roles | ?3");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, org_id);
    sqlite3_bind_int(s, 3, (int)role);
    return pl__sq_done(st, s, "membership add");
}

int pl_store_actor_load(pl_store_t *st, int64_t user_id, pl_actor_t *out)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "SELECT u.kind, u.username, u.display_name, u.disabled, "
                                      "coalesce(p.practice_id, 0), u.guest_role FROM users u "
                                      "LEFT JOIN patients p ON p.user_id = u.id WHERE u.id = ?");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_int64(s, 1, user_id);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc == SQLITE_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "actor load");
    }
    memset(out, 0, sizeof *out);
    out->user_id = user_id;
    out->kind = (pl_user_kind_t)sqlite3_column_int(s, 0);
    snprintf(out->username, sizeof out->username, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(out->display_name, sizeof out->display_name, "%s",
             (const char *)sqlite3_column_text(s, 2));
    bool disabled = sqlite3_column_int(s, 3) != 0;
    out->practice_id = sqlite3_column_int64(s, 4);
    const char *guest = (const char *)sqlite3_column_text(s, 5);
    if (guest) {
        out->kind = PL_USER_GUEST;
        snprintf(out->guest_role, sizeof out->guest_role, "%s", guest);
    }
    sqlite3_reset(s);
    if (disabled) return -PL_EAUTH;
    if (guest) return 0; /* a guest belongs to no organisation, whatever the table says */
    s = pl__sq_stmt(st, "SELECT org_id, roles FROM memberships WHERE user_id = ? ORDER BY org_id");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_int64(s, 1, user_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && out->n_orgs < PL_ACTOR_MAX_ORGS) {
        out->orgs[out->n_orgs].org_id = sqlite3_column_int64(s, 0);
        out->orgs[out->n_orgs].roles = (unsigned)sqlite3_column_int(s, 1);
        out->n_orgs++;
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : pl__sq_err(st, rc, "actor orgs");
}

int pl_store_patient_by_nhs(pl_store_t *st, const char *nhs, int64_t *user_id)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "SELECT user_id FROM patients WHERE nhs_number = ?");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_text(s, 1, nhs, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *user_id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return 0;
    return rc == SQLITE_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "patient by nhs");
}

/* ---- sessions ---- */

int pl_store_session_create(pl_store_t *st, const char *token_hash, int64_t user_id, int64_t now,
                            int64_t expires_at)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "INSERT INTO sessions (token_hash, user_id, created_at, "
                                      "last_seen_at, expires_at) VALUES (?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_text(s, 1, token_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, user_id);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_int64(s, 5, expires_at);
    return pl__sq_done(st, s, "session create");
}

int pl_store_session_get(pl_store_t *st, const char *token_hash, pl_session_row_t *out)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "SELECT user_id, created_at, last_seen_at, expires_at "
                                      "FROM sessions WHERE token_hash = ?");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_text(s, 1, token_hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->user_id = sqlite3_column_int64(s, 0);
        out->created_at = sqlite3_column_int64(s, 1);
        out->last_seen_at = sqlite3_column_int64(s, 2);
        out->expires_at = sqlite3_column_int64(s, 3);
    }
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return 0;
    return rc == SQLITE_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "session get");
}

int pl_store_session_touch(pl_store_t *st, const char *token_hash, int64_t now)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_text(s, 2, token_hash, -1, SQLITE_TRANSIENT);
    int rc = pl__sq_done(st, s, "session touch");
    return rc == 0 && sqlite3_changes(st->db) == 0 ? -PL_ENOTFOUND : rc;
}

int pl_store_session_delete(pl_store_t *st, const char *token_hash)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "DELETE FROM sessions WHERE token_hash = ?");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_text(s, 1, token_hash, -1, SQLITE_TRANSIENT);
    return pl__sq_done(st, s, "session delete");
}

int pl_store_sessions_delete_user(pl_store_t *st, int64_t user_id)
{
    sqlite3_stmt *s = pl__sq_stmt(st, "DELETE FROM sessions WHERE user_id = ?");
    if (!s) return -PL_EINTERNAL;
    sqlite3_bind_int64(s, 1, user_id);
    return pl__sq_done(st, s, "sessions delete user");
}
