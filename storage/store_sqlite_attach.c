/* SQLite backend: attachments (store.h, "attachments"). Blobs are stored once per SHA-256 and
 * sealed whole, in the database itself, so every node sharing the store can serve them; an
 * attachment row ties one upload to its conversation, its uploader and, once sent, its message.
 *
 * These statements are prepared per call rather than kept in the connection's statement cache:
 * uploads and downloads are rare next to messages, their cost is the 10 MiB of AES-GCM and not
 * the parse, and the cache's fixed slots are left to the hot paths. */
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "storage/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pl_dbs_t *prep(pl_store_t *st, const char *sql)
{
    pl_dbs_t *s = NULL;
    if (pl_db_prepare(st->db, sql, &s) != PL_DB_OK) {
        pl_log_error("store", "prepare failed: %s", pl_db_errmsg(st->db));
        pl_dbs_finalize(s);
        return NULL;
    }
    return s;
}

/* Steps a one-off statement expected to return no rows, and finalizes it. */
static int run_done(pl_store_t *st, pl_dbs_t *s, const char *what)
{
    int rc = pl_dbs_step(s);
    int err = rc == PL_DB_DONE ? 0 : pl__sq_err(st, rc, what);
    pl_dbs_finalize(s);
    return err;
}

static bool hex64(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return false;
    return n == 64;
}

/* ---- blobs ---- */

int pl_store_blob_put(pl_store_t *st, const uint8_t *data, size_t len, int64_t now,
                      char sha256_out[65], bool *added)
{
    uint8_t h[32];
    pl_sha256(data, len, h);
    pl_hex_encode(h, sizeof h, sha256_out);
    *added = false;
    pl_dbs_t *s = prep(st, "SELECT 1 FROM blobs WHERE sha256 = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, sha256_out, 64);
    int rc = pl_dbs_step(s);
    pl_dbs_finalize(s);
    if (rc == PL_DB_ROW) return 0; /* the same bytes are stored already */
    if (rc != PL_DB_DONE) return pl__sq_err(st, rc, "blob lookup");
    if (!(s = prep(st, "INSERT INTO blobs (sha256, size, sealed, created_at) VALUES (?,?,?,?)")))
        return -PL_EINTERNAL;
    char aad[80];
    snprintf(aad, sizeof aad, "blob:%s", sha256_out);
    pl_dbs_bind_text(s, 1, sha256_out, 64);
    pl_dbs_bind_int64(s, 2, (int64_t)len);
    /* One copy serves every organisation that uploads these bytes: the shared key. */
    if ((rc = pl__sq_seal_bind(st, s, 3, 0, aad, data, len)) < 0) {
        pl_dbs_finalize(s);
        return rc;
    }
    pl_dbs_bind_int64(s, 4, now);
    if ((rc = run_done(st, s, "blob insert")) < 0) return rc;
    *added = true;
    return 0;
}

int pl_store_blob_read(pl_store_t *st, const char *sha256, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!hex64(sha256)) return -PL_ENOTFOUND;
    pl_dbs_t *s = prep(st, "SELECT sealed FROM blobs WHERE sha256 = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, sha256, 64);
    int rc = pl_dbs_step(s);
    if (rc != PL_DB_ROW) {
        pl_dbs_finalize(s);
        return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "blob read");
    }
    const uint8_t *in = pl_dbs_blob(s, 0);
    size_t inlen = (size_t)pl_dbs_bytes(s, 0);
    uint8_t *buf = inlen >= PL_AEAD_OVERHEAD ? malloc(inlen - PL_AEAD_OVERHEAD + 1) : NULL;
    char aad[80];
    snprintf(aad, sizeof aad, "blob:%s", sha256);
    size_t n = 0;
    if (!in || inlen < PL_AEAD_OVERHEAD)
        rc = -PL_ECRYPTO;
    else if (!buf)
        rc = -PL_ENOMEM;
    else
        rc = pl__sq_open(st, aad, in, inlen, buf, inlen - PL_AEAD_OVERHEAD + 1, &n);
    pl_dbs_finalize(s);
    if (rc < 0) {
        if (rc == -PL_ECRYPTO) pl_log_error("store", "blob %.12s failed to open", sha256);
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* ---- attachment rows ---- */

int pl_store_attach_create(pl_store_t *st, int64_t conv_id, const char *sha256,
                           const char *content_type, int64_t size, const char *filename,
                           int64_t uploaded_by, int64_t now, int64_t *id)
{
    size_t flen = filename ? strlen(filename) : 0;
    if (!hex64(sha256) || flen == 0 || flen > 255) return -PL_EINVAL;
    /* The name is sealed to its row, whose id exists only once inserted: insert, then seal. */
    pl_dbs_t *s = prep(st, "INSERT INTO attachments (conversation_id, sha256, content_type, "
                               "size, filename, uploaded_by, created_at) "
                               "VALUES (?1,?2,?3,?4,?7,?5,?6)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv_id);
    pl_dbs_bind_text(s, 2, sha256, 64);
    pl_dbs_bind_text(s, 3, content_type, -1);
    pl_dbs_bind_int64(s, 4, size);
    pl_dbs_bind_int64(s, 5, uploaded_by);
    pl_dbs_bind_int64(s, 6, now);
    pl_dbs_bind_blob(s, 7, "", 0);
    int rc = run_done(st, s, "attachment insert");
    if (rc < 0) return rc == -PL_ECONFLICT ? -PL_EINVAL : rc; /* a CHECK or a foreign key */
    int64_t new_id = pl_db_last_id(st->db);
    if (!(s = prep(st, "UPDATE attachments SET filename = ? WHERE id = ?"))) return -PL_EINTERNAL;
    char aad[64];
    snprintf(aad, sizeof aad, "attachment-name:%lld", (long long)new_id);
    int64_t org = 0;
    if ((rc = pl__sq_conv_org(st, conv_id, &org)) < 0 ||
        (rc = pl__sq_seal_bind(st, s, 1, org, aad, filename, flen)) < 0) {
        pl_dbs_finalize(s);
        return rc;
    }
    pl_dbs_bind_int64(s, 2, new_id);
    if ((rc = run_done(st, s, "attachment name")) < 0) return rc;
    *id = new_id;
    return 0;
}

#define ATTACH_COLS                                                                                \
    "SELECT id, conversation_id, sha256, content_type, size, filename, uploaded_by, created_at, "  \
    "coalesce(message_id, 0) FROM attachments "

/* Fills out from a row of ATTACH_COLS, opening the file name. */
static int row_attachment(pl_store_t *st, pl_dbs_t *s, pl_attachment_t *out)
{
    memset(out, 0, sizeof *out);
    out->id = pl_dbs_int64(s, 0);
    out->conversation_id = pl_dbs_int64(s, 1);
    snprintf(out->sha256, sizeof out->sha256, "%s", (const char *)pl_dbs_text(s, 2));
    snprintf(out->content_type, sizeof out->content_type, "%s",
             (const char *)pl_dbs_text(s, 3));
    out->size = pl_dbs_int64(s, 4);
    out->uploaded_by = pl_dbs_int64(s, 6);
    out->created_at = pl_dbs_int64(s, 7);
    out->message_id = pl_dbs_int64(s, 8);
    char aad[64], *name = NULL;
    size_t n = 0;
    snprintf(aad, sizeof aad, "attachment-name:%lld", (long long)out->id);
    int rc = pl__sq_open_col(st, s, 5, aad, &name, &n);
    if (rc < 0) return rc;
    snprintf(out->filename, sizeof out->filename, "%s", name);
    pl_wipe(name, n);
    free(name);
    return 0;
}

int pl_store_attach_get(pl_store_t *st, int64_t id, pl_attachment_t *out)
{
    pl_dbs_t *s = prep(st, ATTACH_COLS "WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    int rc = pl_dbs_step(s);
    int err = rc == PL_DB_ROW    ? row_attachment(st, s, out)
              : rc == PL_DB_DONE ? -PL_ENOTFOUND
                                  : pl__sq_err(st, rc, "attachment get");
    pl_dbs_finalize(s);
    return err;
}

int pl_store_attach_bind(pl_store_t *st, int64_t conv_id, int64_t uploader, int64_t msg_id,
                         const int64_t *ids, int n, int64_t *bad_id)
{
    *bad_id = 0;
    if (n < 0 || n > PL_STORE_ATTACH_MAX) return -PL_ETOOBIG;
    /* Every one is checked before any is bound: all or none, even outside a transaction. */
    for (int i = 0; i < n; i++) {
        *bad_id = ids[i];
        for (int j = 0; j < i; j++)
            if (ids[j] == ids[i]) return -PL_EINVAL;
        pl_attachment_t a;
        int rc = pl_store_attach_get(st, ids[i], &a);
        pl_wipe(a.filename, sizeof a.filename);
        if (rc < 0) return rc;
        if (a.uploaded_by != uploader) return -PL_ENOTFOUND;
        if (a.conversation_id != conv_id) return -PL_EINVAL;
        if (a.message_id) return -PL_ECONFLICT;
    }
    *bad_id = 0;
    for (int i = 0; i < n; i++) {
        pl_dbs_t *s = prep(st, "UPDATE attachments SET message_id = ? WHERE id = ? AND "
                                   "message_id IS NULL");
        if (!s) return -PL_EINTERNAL;
        pl_dbs_bind_int64(s, 1, msg_id);
        pl_dbs_bind_int64(s, 2, ids[i]);
        int rc = run_done(st, s, "attachment bind");
        if (rc < 0) return rc;
        if (pl_db_changes(st->db) != 1) return -PL_EINTERNAL; /* checked just above */
    }
    return 0;
}

static json_t *attachment_json(const pl_attachment_t *a)
{
    return json_pack("{sI ss sI ss}", "id", (json_int_t)a->id, "content_type", a->content_type,
                     "size", (json_int_t)a->size, "filename", a->filename);
}

/* Runs s (bound already) and appends each row's attachment to the array that its message_id
 * maps to via pick(ctx, message_id). Finalizes s. */
static int collect(pl_store_t *st, pl_dbs_t *s, json_t *(*pick)(void *, int64_t), void *ctx)
{
    int rc;
    pl_attachment_t a;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        int err = row_attachment(st, s, &a);
        if (err < 0) {
            pl_dbs_finalize(s);
            return err;
        }
        json_t *arr = pick(ctx, a.message_id);
        if (arr) json_array_append_new(arr, attachment_json(&a));
        pl_wipe(a.filename, sizeof a.filename);
    }
    pl_dbs_finalize(s);
    return rc == PL_DB_DONE ? 0 : pl__sq_err(st, rc, "attachments of messages");
}

static json_t *pick_one(void *ctx, int64_t msg_id)
{
    return ctx;
}

int pl_store_attach_of_msg(pl_store_t *st, int64_t msg_id, json_t **out)
{
    pl_dbs_t *s = prep(st, ATTACH_COLS "WHERE message_id = ? ORDER BY id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, msg_id);
    json_t *arr = json_array();
    int rc = collect(st, s, pick_one, arr);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* The "attachments" array of the message with this id in the page, created on first use. */
static json_t *pick_in_page(void *ctx, int64_t msg_id)
{
    json_t *messages = ctx, *m;
    size_t i;
    json_array_foreach(messages, i, m)
    {
        if (json_integer_value(json_object_get(m, "id")) != msg_id) continue;
        json_t *arr = json_object_get(m, "attachments");
        if (!arr) {
            arr = json_array();
            json_object_set_new(m, "attachments", arr);
        }
        return arr;
    }
    return NULL;
}

int pl_store_attach_decorate(pl_store_t *st, int64_t conv_id, json_t *messages)
{
    int64_t lo = INT64_MAX, hi = 0;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        int64_t id = json_integer_value(json_object_get(m, "id"));
        if (id > 0 && id < lo) lo = id;
        if (id > hi) hi = id;
    }
    if (hi == 0) return 0;
    /* One query for the page: its messages' ids are a range of this conversation's. */
    pl_dbs_t *s = prep(st, ATTACH_COLS "WHERE conversation_id = ? AND message_id BETWEEN ? "
                                           "AND ? ORDER BY id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv_id);
    pl_dbs_bind_int64(s, 2, lo);
    pl_dbs_bind_int64(s, 3, hi);
    return collect(st, s, pick_in_page, messages);
}

/* ---- uploads never sent ---- */

int pl_store_attach_pending(pl_store_t *st, int64_t user_id, int64_t *n)
{
    *n = 0;
    /* attachments_message finds the unbound rows; there are few (capped per user, swept). */
    pl_dbs_t *s = prep(st, "SELECT count(*) FROM attachments WHERE message_id IS NULL AND "
                               "uploaded_by = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, user_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *n = pl_dbs_int64(s, 0);
    pl_dbs_finalize(s);
    return rc == PL_DB_ROW ? 0 : pl__sq_err(st, rc, "attachments pending");
}

int pl_store_attach_sweep(pl_store_t *st, int64_t older_than_ms, int64_t *removed)
{
    *removed = 0;
    pl_dbs_t *s = prep(st, "DELETE FROM attachments WHERE message_id IS NULL AND "
                               "created_at < ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, older_than_ms);
    int rc = run_done(st, s, "attachment sweep");
    if (rc < 0) return rc;
    int64_t n = pl_db_changes(st->db);
    /* Every unreferenced blob, not only those of the rows just deleted: one the last sweep left
     * behind goes too. attachments.sha256 has no index, so NOT IN (which SQLite answers from one
     * temporary index built per statement) and not a correlated NOT EXISTS per blob. sha256 is
     * NOT NULL, so NOT IN cannot meet a NULL and keep everything. */
    if (!(s = prep(st, "DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM attachments)")))
        return -PL_EINTERNAL;
    if ((rc = run_done(st, s, "blob sweep")) < 0) return rc;
    *removed = n;
    return 0;
}
