/* SQLite backend, third part: what a practice team shares, namely who is on the team
 * (org.staff) and its reply templates. Neither is about one patient, so unlike the
 * conversation tables (store_sqlite_msg.c) nothing here is sealed.
 *
 * Templates are never removed, only marked deleted, so that created_by/updated_by keep saying
 * who wrote what. Every lookup and change is scoped to live rows, and changes also to the
 * organisation the caller was authorised for: a template id from another practice is simply
 * not found. */
#include "core/err.h"
#include "storage/sqlite_internal.h"

#include <string.h>

int pl_store_org_staff(pl_store_t *st, int64_t org_id, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT u.id, u.display_name, m.roles FROM memberships m "
                                      "JOIN users u ON u.id = m.user_id WHERE m.org_id = ? AND "
                                      "m.roles != 0 AND u.kind = ? AND u.disabled = 0 "
                                      "ORDER BY lower(u.display_name), u.id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, org_id);
    pl_dbs_bind_int(s, 2, PL_USER_STAFF);
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        unsigned bits = (unsigned)pl_dbs_int(s, 2);
        json_t *roles = json_array();
        for (int b = 0; b < PL_ROLE_COUNT; b++)
            if (bits & (1u << b)) json_array_append_new(roles, json_string(pl_role_name(1u << b)));
        json_array_append_new(arr,
                              json_pack("{sI ss so}", "id", (json_int_t)pl_dbs_int64(s, 0),
                                        "display_name", (const char *)pl_dbs_text(s, 1),
                                        "roles", roles));
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "org staff");
    }
    *out = arr;
    return 0;
}

/* ---- reply templates ---- */

#define TPL_COLS "SELECT id, org_id, title, body, updated_at FROM reply_templates "

static json_t *tpl_row_json(pl_dbs_t *s)
{
    return json_pack("{sI sI ss ss sI}", "id", (json_int_t)pl_dbs_int64(s, 0), "org_id",
                     (json_int_t)pl_dbs_int64(s, 1), "title",
                     (const char *)pl_dbs_text(s, 2), "body",
                     (const char *)pl_dbs_text(s, 3), "updated_at",
                     (json_int_t)pl_dbs_int64(s, 4));
}

int pl_store_tpl_create(pl_store_t *st, int64_t org_id, const char *title, const char *body,
                        int64_t by, int64_t now, int64_t *id)
{
    /* Count and insert run in the caller's one transaction on the one storage thread, so two
     * creates cannot both pass the check. */
    pl_dbs_t *s =
        pl__sq_stmt(st, "SELECT count(*) FROM reply_templates WHERE org_id = ? AND deleted = 0");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, org_id);
    int rc = pl_dbs_step(s);
    int64_t live = rc == PL_DB_ROW ? pl_dbs_int64(s, 0) : 0;
    pl_dbs_reset(s);
    if (rc != PL_DB_ROW) return pl__sq_err(st, rc, "template count");
    if (live >= PL_TPL_MAX_PER_ORG) return -PL_ECONFLICT;

    s = pl__sq_stmt(st, "INSERT INTO reply_templates (org_id, title, body, created_by, "
                        "created_at, updated_by, updated_at) VALUES (?1,?2,?3,?4,?5,?4,?5)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, org_id);
    pl_dbs_bind_text(s, 2, title, -1);
    pl_dbs_bind_text(s, 3, body, -1);
    pl_dbs_bind_int64(s, 4, by);
    pl_dbs_bind_int64(s, 5, now);
    if ((rc = pl__sq_done(st, s, "template create")) < 0) return rc;
    if (id) *id = pl_db_last_id(st->db);
    return 0;
}

int pl_store_tpl_update(pl_store_t *st, int64_t id, int64_t org_id, const char *title,
                        const char *body, int64_t by, int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE reply_templates SET title = ?, body = ?, "
                                      "updated_by = ?, updated_at = ? "
                                      "WHERE id = ? AND org_id = ? AND deleted = 0");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, title, -1);
    pl_dbs_bind_text(s, 2, body, -1);
    pl_dbs_bind_int64(s, 3, by);
    pl_dbs_bind_int64(s, 4, now);
    pl_dbs_bind_int64(s, 5, id);
    pl_dbs_bind_int64(s, 6, org_id);
    int rc = pl__sq_done(st, s, "template update");
    return rc == 0 && pl_db_changes(st->db) == 0 ? -PL_ENOTFOUND : rc;
}

int pl_store_tpl_delete(pl_store_t *st, int64_t id, int64_t org_id, int64_t by, int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE reply_templates SET deleted = 1, updated_by = ?, "
                                      "updated_at = ? WHERE id = ? AND org_id = ? AND deleted = 0");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, by);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_int64(s, 3, id);
    pl_dbs_bind_int64(s, 4, org_id);
    int rc = pl__sq_done(st, s, "template delete");
    return rc == 0 && pl_db_changes(st->db) == 0 ? -PL_ENOTFOUND : rc;
}

int pl_store_tpl_json(pl_store_t *st, int64_t id, json_t **out)
{
    static const char sql[] = TPL_COLS "WHERE id = ? AND deleted = 0";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    int rc = pl_dbs_step(s);
    json_t *t = rc == PL_DB_ROW ? tpl_row_json(s) : NULL;
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) {
        if (!t) return -PL_ENOMEM;
        *out = t;
        return 0;
    }
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "template get");
}

int pl_store_tpl_list(pl_store_t *st, int64_t org_id, json_t **out)
{
    static const char sql[] =
        TPL_COLS "WHERE org_id = ? AND deleted = 0 ORDER BY lower(title), id";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, org_id);
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW)
        json_array_append_new(arr, tpl_row_json(s));
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "template list");
    }
    *out = arr;
    return 0;
}
