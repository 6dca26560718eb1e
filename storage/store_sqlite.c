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
    if (rc == PL_DB_CONSTRAINT) return -PL_ECONFLICT;
    pl_log_error("store", "%s: %s", what, pl_db_errmsg(st->db));
    if (rc == PL_DB_FULL || rc == PL_DB_IOERR || rc == PL_DB_BUSY || rc == PL_DB_LOCKED ||
        rc == PL_DB_READONLY || rc == PL_DB_CANTOPEN)
        return -PL_EIO;
    if (rc == PL_DB_UNAVAIL) return -PL_EUNAVAIL;
    return -PL_EINTERNAL;
}

pl_dbs_t *pl__sq_stmt(pl_store_t *st, const char *sql)
{
    return pl_db_stmt(st->db, sql);
}

static int exec(pl_store_t *st, const char *sql)
{
    int rc = pl_db_exec(st->db, sql);
    if (rc != PL_DB_OK) {
        pl_log_error("store", "exec failed: %s", pl_db_errmsg(st->db));
        return rc == PL_DB_UNAVAIL                            ? -PL_EUNAVAIL
               : rc == PL_DB_FULL || rc == PL_DB_IOERR ? -PL_EIO
                                                                : -PL_EINTERNAL;
    }
    return 0;
}

/* Runs a statement expected to produce no rows. */
int pl__sq_done(pl_store_t *st, pl_dbs_t *s, const char *what)
{
    if (!s) return -PL_EINTERNAL;
    int rc = pl_dbs_step(s);
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) return pl__sq_err(st, rc, what);
    return 0;
}

/* ---- sealing helpers ---- */

int pl__sq_seal_bind(pl_store_t *st, pl_dbs_t *s, int idx, int64_t org_id, const char *aad,
                     const void *pt, size_t len)
{
    uint8_t *buf = NULL;
    size_t outlen = 0;
    int rc = pl__sq_seal(st, org_id, aad, pt, len, &buf, &outlen);
    if (rc < 0) return rc;
    pl_dbs_bind_blob(s, idx, buf, (int)outlen);
    free(buf);
    return 0;
}

/* Opens column col of s into a malloc'd NUL-terminated string. */
int pl__sq_open_col(pl_store_t *st, pl_dbs_t *s, int col, const char *aad, char **out,
                    size_t *out_len)
{
    const uint8_t *in = pl_dbs_blob(s, col);
    size_t inlen = (size_t)pl_dbs_bytes(s, col);
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

json_t *pl__sq_open_json(pl_store_t *st, pl_dbs_t *s, int col, const char *aad)
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

static int schema_have(pl_store_t *st, int *have)
{
    pl_dbs_t *s = NULL;
    *have = 0;
    int rc = pl_db_prepare(st->db, "SELECT coalesce(max(version), 0) FROM schema_version", &s);
    if (rc != PL_DB_OK) return pl__sq_err(st, rc, "schema version");
    rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *have = pl_dbs_int(s, 0);
    pl_dbs_finalize(s);
    return rc == PL_DB_ROW ? 0 : pl__sq_err(st, rc, "schema version");
}

static int migrate_locked(pl_store_t *st)
{
    bool pg = pl_db_is_pg(st->db);
    int version = pg ? pl_schema_pg_version : pl_schema_version;
    int rc = exec(st, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);");
    int have = 0;
    if (rc == 0) rc = schema_have(st, &have);
    if (rc < 0) return rc;
    if (have > version) {
        pl_log_error("store", "database schema %d is newer than this binary (%d)", have, version);
        return -PL_EINVAL;
    }
    if (have == version) return 0;
    if (pg && have != 0 && have < pl_schema_pg_base) {
        pl_log_error("store", "PostgreSQL database at schema %d predates its baseline", have);
        return -PL_EINVAL;
    }
    if ((rc = pl_db_begin(st->db)) != PL_DB_OK) return pl__sq_err(st, rc, "migration begin");
    for (int v = pg && have == 0 ? pl_schema_pg_base - 1 : have; v < version; v++) {
        const char *sql = pg ? pl_schema_pg_migrations[v - (pl_schema_pg_base - 1)]
                             : pl_schema_migrations[v];
        if ((rc = exec(st, sql)) < 0) break;
        char ins[80];
        snprintf(ins, sizeof ins, "INSERT INTO schema_version VALUES (%d)", v + 1);
        if ((rc = exec(st, ins)) < 0) break;
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

/* Nodes of a cluster start together: on PostgreSQL a session advisory lock lets one of them
 * migrate while the others wait, then find the work done. */
#define PG_MIGRATE_LOCK "23459720143294797"

static int migrate(pl_store_t *st)
{
    if (!pl_db_is_pg(st->db)) return migrate_locked(st);
    int rc = exec(st, "SELECT pg_advisory_lock(" PG_MIGRATE_LOCK ")");
    if (rc < 0) return rc;
    rc = migrate_locked(st);
    exec(st, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")");
    return rc;
}

int pl_store_open(pl_store_t **out, const char *url, const uint8_t key[32])
{
    bool sqlite = strncmp(url, "sqlite:", 7) == 0;
    const char *path = sqlite ? url + 7 : NULL;
    /* "sqlite::memory:" is a private database in this connection's memory (the fuzz harness):
     * no file to create, and no folder beside it for key files, as for PostgreSQL. */
    if (path && strcmp(path, ":memory:") == 0) path = NULL;
    /* Create the file ourselves so it is 0600 from birth; SQLite gives -wal/-shm the same mode. */
    if (path) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            pl_log_error("store", "cannot open database file %s", path);
            return -PL_EIO;
        }
        close(fd);
    }
    pl_store_t *st = calloc(1, sizeof *st);
    if (!st) return -PL_ENOMEM;
    memcpy(st->master, key, sizeof st->master);
    /* The folder beside the database, where key files are looked for; PostgreSQL has none (the
     * server names the data directory's files itself). */
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!path)
        st->dir[0] = 0;
    else if (slash && slash > path)
        snprintf(st->dir, sizeof st->dir, "%.*s", (int)(slash - path), path);
    else
        snprintf(st->dir, sizeof st->dir, "%s", slash ? "/" : ".");
    int rc = pl_db_open(&st->db, url);
    if (rc < 0) {
        free(st);
        return rc;
    }
    /* A 64 MiB page cache and memory-mapped reads: without them every lookup on the commit
     * path copies pages from the kernel (measured as the storage thread's main cost). */
    if (sqlite)
        rc = exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
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
    pl_db_close(st->db);
    pl__sq_audit_close(st);
    pl__sq_keys_close(st);
    free(st);
}

int pl_store_health(pl_store_t *st)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT count(*) FROM schema_version");
    if (!s) return -PL_EIO;
    int rc = pl_dbs_step(s);
    pl_dbs_reset(s);
    return rc == PL_DB_ROW ? 0 : -PL_EIO;
}

int pl_store_begin(pl_store_t *st)
{
    int rc = pl_db_begin(st->db);
    return rc == PL_DB_OK ? 0 : pl__sq_err(st, rc, "begin");
}
int pl_store_batch_max(const pl_store_t *st)
{
    return pl_db_is_pg(st->db) ? 48 : 0;
}

int pl_store_begin_read(pl_store_t *st)
{
    int rc = pl_db_begin_read(st->db);
    return rc == PL_DB_OK ? 0 : pl__sq_err(st, rc, "begin");
}
int pl_store_commit(pl_store_t *st)
{
    return exec(st, "COMMIT");
}
int pl_store_rollback(pl_store_t *st)
{
    /* A COMMIT that failed (a full disk) has already undone the transaction. */
    if (pl_db_autocommit(st->db)) return 0;
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
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO orgs (code, name, kind, parent_id, "
                            "response_target_minutes, require_totp, created_at) "
                            "VALUES (?,?,?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, org->code, -1);
    pl_dbs_bind_text(s, 2, org->name, -1);
    pl_dbs_bind_text(s, 3, org->kind, -1);
    if (org->parent_id > 0)
        pl_dbs_bind_int64(s, 4, org->parent_id);
    else
        pl_dbs_bind_null(s, 4);
    pl_dbs_bind_int(s, 5, org->response_target_minutes);
    pl_dbs_bind_int(s, 6, org->require_totp);
    pl_dbs_bind_int64(s, 7, pl_now_ms());
    int rc = pl__sq_done(st, s, "org create");
    if (rc == 0 && id) *id = pl_db_last_id(st->db);
    return rc;
}

static void org_row(pl_dbs_t *s, pl_org_t *o)
{
    memset(o, 0, sizeof *o);
    o->id = pl_dbs_int64(s, 0);
    snprintf(o->code, sizeof o->code, "%s", (const char *)pl_dbs_text(s, 1));
    snprintf(o->name, sizeof o->name, "%s", (const char *)pl_dbs_text(s, 2));
    snprintf(o->kind, sizeof o->kind, "%s", (const char *)pl_dbs_text(s, 3));
    o->parent_id = pl_dbs_int64(s, 4);
    o->response_target_minutes = pl_dbs_int(s, 5);
    o->require_totp = pl_dbs_int(s, 6) != 0;
}

static int org_one(pl_store_t *st, pl_dbs_t *s, pl_org_t *out)
{
    if (!s) return -PL_EINTERNAL;
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) org_row(s, out);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "org get");
}

int pl_store_org_get(pl_store_t *st, int64_t id, pl_org_t *out)
{
    static const char sql[] = "SELECT id, code, name, kind, coalesce(parent_id,0), "
                              "response_target_minutes, require_totp FROM orgs WHERE id = ?";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (s) pl_dbs_bind_int64(s, 1, id);
    return org_one(st, s, out);
}

int pl_store_org_by_code(pl_store_t *st, const char *code, pl_org_t *out)
{
    static const char sql[] = "SELECT id, code, name, kind, coalesce(parent_id,0), "
                              "response_target_minutes, require_totp FROM orgs WHERE code = ?";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (s) pl_dbs_bind_text(s, 1, code, -1);
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
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    pl_dbs_bind_text(s, 2, value, -1);
    int rc = pl__sq_done(st, s, "org set");
    if (rc == 0 && pl_db_changes(st->db) == 0) return -PL_ENOTFOUND;
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
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, code, name, kind, coalesce(parent_id,0), "
                            "response_target_minutes, require_totp FROM orgs ORDER BY id");
    if (!s) return -PL_EINTERNAL;
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        pl_org_t o;
        org_row(s, &o);
        json_array_append_new(arr, org_json(&o));
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
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
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO users (kind, username, display_name, "
                                      "password_hash, created_at) VALUES (?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int(s, 1, (int)kind);
    pl_dbs_bind_text(s, 2, username, -1);
    pl_dbs_bind_text(s, 3, display_name, -1);
    pl_dbs_bind_text(s, 4, password_hash, -1);
    pl_dbs_bind_int64(s, 5, pl_now_ms());
    int rc = pl__sq_done(st, s, "user create");
    if (rc < 0) return rc;
    int64_t uid = pl_db_last_id(st->db);
    if (kind == PL_USER_PATIENT) {
        s = pl__sq_stmt(st, "INSERT INTO patients (user_id, nhs_number, dob, practice_id) "
                            "VALUES (?,?,?,?)");
        if (!s) return -PL_EINTERNAL;
        pl_dbs_bind_int64(s, 1, uid);
        pl_dbs_bind_text(s, 2, nhs_number, -1);
        pl_dbs_bind_text(s, 3, dob, -1);
        pl_dbs_bind_int64(s, 4, practice_id);
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
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, username, -1);
    int rc = pl_dbs_step(s);
    if (rc != PL_DB_ROW) {
        pl_dbs_reset(s);
        return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "user get");
    }
    memset(out, 0, sizeof *out);
    out->id = pl_dbs_int64(s, 0);
    out->kind = pl_dbs_int(s, 8) ? PL_USER_GUEST : (pl_user_kind_t)pl_dbs_int(s, 1);
    snprintf(out->username, sizeof out->username, "%s", (const char *)pl_dbs_text(s, 2));
    snprintf(out->password_hash, sizeof out->password_hash, "%s",
             (const char *)pl_dbs_text(s, 3));
    out->disabled = pl_dbs_int(s, 4) != 0;
    out->totp_enabled = pl_dbs_int(s, 5) != 0;
    out->totp_last_step = pl_dbs_int64(s, 7);
    rc = 0;
    if (pl_dbs_type(s, 6) == PL_DB_BLOB) {
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
    pl_dbs_reset(s);
    return rc;
}

int pl_store_user_set_password(pl_store_t *st, int64_t user_id, const char *password_hash)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE users SET password_hash = ? WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, password_hash, -1);
    pl_dbs_bind_int64(s, 2, user_id);
    int rc = pl__sq_done(st, s, "user set password");
    return rc == 0 && pl_db_changes(st->db) == 0 ? -PL_ENOTFOUND : rc;
}

int pl_store_user_set_disabled(pl_store_t *st, int64_t user_id, bool disabled)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE users SET disabled = ? WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int(s, 1, disabled);
    pl_dbs_bind_int64(s, 2, user_id);
    int rc = pl__sq_done(st, s, "user set disabled");
    return rc == 0 && pl_db_changes(st->db) == 0 ? -PL_ENOTFOUND : rc;
}

int pl_store_user_set_totp(pl_store_t *st, int64_t user_id, const uint8_t *secret, size_t len,
                           bool enabled, int64_t last_step)
{
    pl_dbs_t *s = pl__sq_stmt(
        st, "UPDATE users SET totp_secret = ?, totp_enabled = ?, totp_last_step = ? WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    if (secret && len) {
        char aad[40];
        snprintf(aad, sizeof aad, "totp:%lld", (long long)user_id);
        /* A person's second factor belongs to no one organisation: the shared key. */
        int rc = pl__sq_seal_bind(st, s, 1, 0, aad, secret, len);
        if (rc < 0) return rc;
    } else {
        pl_dbs_bind_null(s, 1);
    }
    pl_dbs_bind_int(s, 2, enabled);
    pl_dbs_bind_int64(s, 3, last_step);
    pl_dbs_bind_int64(s, 4, user_id);
    return pl__sq_done(st, s, "user set totp");
}

static json_t *user_row_json(pl_dbs_t *s)
{
    int kind = pl_dbs_type(s, 6) != PL_DB_NULL ? PL_USER_GUEST : pl_dbs_int(s, 1);
    json_t *u = json_pack("{sI ss ss ss sb}", "id", (json_int_t)pl_dbs_int64(s, 0), "kind",
                          kind == PL_USER_PATIENT ? "patient"
                          : kind == PL_USER_GUEST ? "guest"
                                                  : "staff",
                          "username",
                          (const char *)pl_dbs_text(s, 2), "display_name",
                          (const char *)pl_dbs_text(s, 3), "disabled",
                          pl_dbs_int(s, 4) != 0);
    if (kind == PL_USER_PATIENT && pl_dbs_type(s, 5) != PL_DB_NULL)
        json_object_set_new(u, "practice_id", json_integer(pl_dbs_int64(s, 5)));
    return u;
}

int pl_store_user_list(pl_store_t *st, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT u.id, u.kind, u.username, u.display_name, "
                                      "u.disabled, p.practice_id, u.guest_role FROM users u "
                                      "LEFT JOIN patients p ON p.user_id = u.id ORDER BY u.id");
    if (!s) return -PL_EINTERNAL;
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) json_array_append_new(arr, user_row_json(s));
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "user list");
    }
    *out = arr;
    return 0;
}

int pl_store_user_json(pl_store_t *st, int64_t user_id, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT u.id, u.kind, u.username, u.display_name, "
                                      "u.disabled, p.practice_id, u.guest_role FROM users u "
                                      "LEFT JOIN patients p ON p.user_id = u.id WHERE u.id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, user_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *out = user_row_json(s);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "user json");
}

int pl_store_membership_add(pl_store_t *st, int64_t user_id, int64_t org_id, unsigned role)
{
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO memberships (user_id, org_id, roles) "
                                      "VALUES (?1,?2,?3) ON CONFLICT (user_id, org_id) "
                                      "DO UPDATE SET roles = memberships.roles | ?3");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, user_id);
    pl_dbs_bind_int64(s, 2, org_id);
    pl_dbs_bind_int(s, 3, (int)role);
    return pl__sq_done(st, s, "membership add");
}

int pl_store_actor_load(pl_store_t *st, int64_t user_id, pl_actor_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT u.kind, u.username, u.display_name, u.disabled, "
                                      "coalesce(p.practice_id, 0), u.guest_role FROM users u "
                                      "LEFT JOIN patients p ON p.user_id = u.id WHERE u.id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, user_id);
    int rc = pl_dbs_step(s);
    if (rc != PL_DB_ROW) {
        pl_dbs_reset(s);
        return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "actor load");
    }
    memset(out, 0, sizeof *out);
    out->user_id = user_id;
    out->kind = (pl_user_kind_t)pl_dbs_int(s, 0);
    snprintf(out->username, sizeof out->username, "%s", (const char *)pl_dbs_text(s, 1));
    snprintf(out->display_name, sizeof out->display_name, "%s",
             (const char *)pl_dbs_text(s, 2));
    bool disabled = pl_dbs_int(s, 3) != 0;
    out->practice_id = pl_dbs_int64(s, 4);
    const char *guest = (const char *)pl_dbs_text(s, 5);
    if (guest) {
        out->kind = PL_USER_GUEST;
        snprintf(out->guest_role, sizeof out->guest_role, "%s", guest);
    }
    pl_dbs_reset(s);
    if (disabled) return -PL_EAUTH;
    if (guest) return 0; /* a guest belongs to no organisation, whatever the table says */
    s = pl__sq_stmt(st, "SELECT org_id, roles FROM memberships WHERE user_id = ? ORDER BY org_id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, user_id);
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW && out->n_orgs < PL_ACTOR_MAX_ORGS) {
        out->orgs[out->n_orgs].org_id = pl_dbs_int64(s, 0);
        out->orgs[out->n_orgs].roles = (unsigned)pl_dbs_int(s, 1);
        out->n_orgs++;
    }
    pl_dbs_reset(s);
    return rc == PL_DB_ROW || rc == PL_DB_DONE ? 0 : pl__sq_err(st, rc, "actor orgs");
}

int pl_store_patient_by_nhs(pl_store_t *st, const char *nhs, int64_t *user_id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT user_id FROM patients WHERE nhs_number = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, nhs, -1);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *user_id = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "patient by nhs");
}

/* ---- sessions ---- */

int pl_store_session_create(pl_store_t *st, const char *token_hash, int64_t user_id, int64_t now,
                            int64_t expires_at)
{
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO sessions (token_hash, user_id, created_at, "
                                      "last_seen_at, expires_at) VALUES (?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, token_hash, -1);
    pl_dbs_bind_int64(s, 2, user_id);
    pl_dbs_bind_int64(s, 3, now);
    pl_dbs_bind_int64(s, 4, now);
    pl_dbs_bind_int64(s, 5, expires_at);
    return pl__sq_done(st, s, "session create");
}

int pl_store_session_get(pl_store_t *st, const char *token_hash, pl_session_row_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT user_id, created_at, last_seen_at, expires_at "
                                      "FROM sessions WHERE token_hash = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, token_hash, -1);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        out->user_id = pl_dbs_int64(s, 0);
        out->created_at = pl_dbs_int64(s, 1);
        out->last_seen_at = pl_dbs_int64(s, 2);
        out->expires_at = pl_dbs_int64(s, 3);
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "session get");
}

int pl_store_session_touch(pl_store_t *st, const char *token_hash, int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, now);
    pl_dbs_bind_text(s, 2, token_hash, -1);
    int rc = pl__sq_done(st, s, "session touch");
    return rc == 0 && pl_db_changes(st->db) == 0 ? -PL_ENOTFOUND : rc;
}

int pl_store_session_delete(pl_store_t *st, const char *token_hash)
{
    pl_dbs_t *s = pl__sq_stmt(st, "DELETE FROM sessions WHERE token_hash = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, token_hash, -1);
    return pl__sq_done(st, s, "session delete");
}

int pl_store_sessions_delete_user(pl_store_t *st, int64_t user_id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "DELETE FROM sessions WHERE user_id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, user_id);
    return pl__sq_done(st, s, "sessions delete user");
}
