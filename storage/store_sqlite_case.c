/* SQLite backend: case discussions (MDT). A case is a row in cases beside its conversation
 * (kind 'case', the title as its sealed subject under the conversation's AAD); its members are
 * plain facts in case_members. Who has access is one SQL condition, CASE_ACCESS, used by every
 * query here and by the event replay (store_sqlite_msg.c), so that a membership, a lapsed
 * organisation membership and an ended agreement are judged the same way everywhere. */
#include "core/err.h"
#include "core/util.h"
#include "storage/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int case_row(pl_store_t *st, pl_dbs_t *s, pl_case_t *out, const char *what)
{
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        memset(out, 0, sizeof *out);
        out->id = pl_dbs_int64(s, 0);
        out->conversation_id = pl_dbs_int64(s, 1);
        out->org_id = pl_dbs_int64(s, 2);
        out->patient_id = pl_dbs_int64(s, 3);
        snprintf(out->status, sizeof out->status, "%s", (const char *)pl_dbs_text(s, 4));
        out->created_by = pl_dbs_int64(s, 5);
        out->created_at = pl_dbs_int64(s, 6);
        out->closed_at = pl_dbs_int64(s, 7);
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, what);
}

#define CASE_COLS                                                                                  \
    "SELECT id, conversation_id, org_id, patient_id, status, created_by, created_at, "            \
    "coalesce(closed_at, 0) FROM cases "

int pl_store_case_get(pl_store_t *st, int64_t id, pl_case_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, CASE_COLS "WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    return case_row(st, s, out, "case get");
}

int pl_store_case_by_conv(pl_store_t *st, int64_t conversation_id, pl_case_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, CASE_COLS "WHERE conversation_id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conversation_id);
    return case_row(st, s, out, "case by conv");
}

int pl_store_case_create(pl_store_t *st, int64_t org_id, int64_t patient_id, const char *title,
                         const char *txn, int64_t by, int64_t now, int64_t *id, bool *created)
{
    /* The transaction is the caller's: another clinician's same txn_id is another case. */
    char create_txn[100];
    snprintf(create_txn, sizeof create_txn, "case:%lld:%s", (long long)by, txn);
    *created = false;
    /* A retry: the conversation of that transaction, and its case. */
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT k.id FROM conversations c JOIN cases k ON "
                                      "k.conversation_id = c.id WHERE c.patient_id = ? AND "
                                      "c.create_txn = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, patient_id);
    pl_dbs_bind_text(s, 2, create_txn, -1);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *id = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    if (rc != PL_DB_DONE) return pl__sq_err(st, rc, "case txn");
    s = pl__sq_stmt(st, "INSERT INTO conversations (org_id, patient_id, kind, subject, status, "
                        "create_txn, waiting_since, created_at, updated_at) "
                        "VALUES (?,?,'case',?,'in_progress',?,NULL,?,?)");
    if (!s) return -PL_EINTERNAL;
    char aad[48];
    snprintf(aad, sizeof aad, "conv:%lld", (long long)patient_id);
    pl_dbs_bind_int64(s, 1, org_id);
    pl_dbs_bind_int64(s, 2, patient_id);
    if ((rc = pl__sq_seal_bind(st, s, 3, org_id, aad, title, strlen(title))) < 0) return rc;
    pl_dbs_bind_text(s, 4, create_txn, -1);
    pl_dbs_bind_int64(s, 5, now);
    pl_dbs_bind_int64(s, 6, now);
    if ((rc = pl__sq_done(st, s, "case conv")) < 0) return rc;
    int64_t conv = pl_db_last_id(st->db);
    s = pl__sq_stmt(st, "INSERT INTO cases (conversation_id, org_id, patient_id, created_by, "
                        "created_at) VALUES (?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv);
    pl_dbs_bind_int64(s, 2, org_id);
    pl_dbs_bind_int64(s, 3, patient_id);
    pl_dbs_bind_int64(s, 4, by);
    pl_dbs_bind_int64(s, 5, now);
    if ((rc = pl__sq_done(st, s, "case create")) < 0) return rc;
    *id = pl_db_last_id(st->db);
    bool added;
    if ((rc = pl_store_case_add_member(st, *id, by, org_id, by, now, &added)) < 0) return rc;
    *created = true;
    return 0;
}

#define CASE_ACCESS PL_CASE_ACCESS

int pl_store_case_member(pl_store_t *st, int64_t case_id, int64_t user_id, int64_t now,
                         bool *member)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT count(*) FROM case_members m JOIN cases k ON "
                                      "k.id = m.case_id WHERE m.case_id = ?1 AND m.user_id = ?2 "
                                      "AND " CASE_ACCESS("?3"));
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, case_id);
    pl_dbs_bind_int64(s, 2, user_id);
    pl_dbs_bind_int64(s, 3, now);
    int rc = pl_dbs_step(s);
    *member = rc == PL_DB_ROW && pl_dbs_int64(s, 0) > 0;
    pl_dbs_reset(s);
    return rc == PL_DB_ROW ? 0 : pl__sq_err(st, rc, "case member");
}

int pl_store_case_audience(pl_store_t *st, int64_t case_id, int64_t now, int64_t *ids, int max,
                           int *n)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT m.user_id FROM case_members m JOIN cases k ON "
                                      "k.id = m.case_id WHERE m.case_id = ?1 AND " CASE_ACCESS("?2")
                                      " ORDER BY m.added_at, m.user_id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, case_id);
    pl_dbs_bind_int64(s, 2, now);
    int rc;
    *n = 0;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW)
        if (*n < max) ids[(*n)++] = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    return rc == PL_DB_DONE ? 0 : pl__sq_err(st, rc, "case audience");
}

/* Organisations a person may take part for (?1 the case, ?2 now): its practice, and services
 * with an identified agreement in force with it. */
#define ELIGIBLE_ORGS                                                                              \
    "SELECT k.org_id AS org_id, 0 AS pref FROM cases k WHERE k.id = ?1 UNION "                   \
    "SELECT a.service_id, 1 FROM agreements a JOIN cases k ON k.id = ?1 WHERE "                  \
    "a.practice_id = k.org_id AND a.shares = 'identified' AND a.accepted_at IS NOT NULL AND "     \
    "a.ended_at IS NULL AND a.starts_at <= ?2 AND ?2 < a.ends_at"

int pl_store_case_eligible_org(pl_store_t *st, int64_t case_id, int64_t user_id, int64_t now,
                               int64_t *org_id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT e.org_id FROM (" ELIGIBLE_ORGS ") e JOIN memberships "
                                      "ms ON ms.org_id = e.org_id JOIN users u ON u.id = ms.user_id "
                                      "WHERE ms.user_id = ?3 AND u.kind = 2 AND u.guest_role IS NULL "
                                      "ORDER BY e.pref, e.org_id LIMIT 1");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, case_id);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_int64(s, 3, user_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *org_id = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "case eligible");
}

int pl_store_case_add_member(pl_store_t *st, int64_t case_id, int64_t user_id, int64_t org_id,
                             int64_t by, int64_t now, bool *added)
{
    *added = false;
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT count(*), coalesce(sum(CASE WHEN user_id = ?2 THEN 1 ELSE 0 END), 0) FROM "
                                      "case_members WHERE case_id = ?1");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, case_id);
    pl_dbs_bind_int64(s, 2, user_id);
    int rc = pl_dbs_step(s);
    int64_t count = rc == PL_DB_ROW ? pl_dbs_int64(s, 0) : 0;
    bool already = rc == PL_DB_ROW && pl_dbs_int64(s, 1) > 0;
    pl_dbs_reset(s);
    if (rc != PL_DB_ROW) return pl__sq_err(st, rc, "case members count");
    if (already) return 0;
    if (count >= PL_CASE_MAX_MEMBERS) return -PL_ECONFLICT;
    s = pl__sq_stmt(st, "INSERT INTO case_members (case_id, user_id, org_id, added_by, added_at) "
                        "VALUES (?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, case_id);
    pl_dbs_bind_int64(s, 2, user_id);
    pl_dbs_bind_int64(s, 3, org_id);
    pl_dbs_bind_int64(s, 4, by);
    pl_dbs_bind_int64(s, 5, now);
    if ((rc = pl__sq_done(st, s, "case add member")) == 0) *added = true;
    return rc;
}

int pl_store_case_close(pl_store_t *st, int64_t id, int64_t by, int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE cases SET status = 'closed', closed_by = ?2, "
                                      "closed_at = ?3 WHERE id = ?1 AND status = 'open'");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    pl_dbs_bind_int64(s, 2, by);
    pl_dbs_bind_int64(s, 3, now);
    int rc = pl__sq_done(st, s, "case close");
    if (rc < 0 || pl_db_changes(st->db) == 1) return rc;
    pl_case_t k;
    rc = pl_store_case_get(st, id, &k);
    return rc < 0 ? rc : -PL_ECONFLICT;
}

/* The case view's columns; case_view_json reads them in this order. */
#define CASE_VIEW                                                                                  \
    "SELECT k.id, k.conversation_id, k.org_id, o.name, k.status, c.subject, k.patient_id, "       \
    "p.display_name, pt.nhs_number, pt.dob, k.created_by, cu.display_name, k.created_at, "        \
    "k.closed_at, (SELECT json_group_array(json_object('user_id', m.user_id, 'display_name', "    \
    "mu.display_name, 'org', json_object('id', m.org_id, 'name', mo.name), 'added_at', "         \
    "m.added_at)) FROM (SELECT * FROM case_members WHERE case_id = k.id ORDER BY added_at, "     \
    "user_id) m JOIN users mu ON mu.id = m.user_id JOIN orgs mo ON mo.id = m.org_id) "           \
    "FROM cases k JOIN conversations c ON c.id = k.conversation_id JOIN orgs o ON o.id = k.org_id " \
    "JOIN users p ON p.id = k.patient_id LEFT JOIN patients pt ON pt.user_id = k.patient_id "     \
    "JOIN users cu ON cu.id = k.created_by "

static json_t *case_view_json(pl_store_t *st, pl_dbs_t *s)
{
    int64_t patient = pl_dbs_int64(s, 6);
    char aad[48], *title = NULL;
    size_t tn = 0;
    snprintf(aad, sizeof aad, "conv:%lld", (long long)patient);
    if (pl__sq_open_col(st, s, 5, aad, &title, &tn) < 0) return NULL;
    const char *members_txt = (const char *)pl_dbs_text(s, 14);
    json_t *members = members_txt ? json_loads(members_txt, 0, NULL) : NULL;
    if (!json_is_array(members)) {
        json_decref(members);
        members = json_array();
    }
    json_t *j = json_pack(
        "{sI sI s{sI ss} ss ss s{sI ss ss ss} so s{sI ss} sI so}", "id",
        (json_int_t)pl_dbs_int64(s, 0), "conversation_id",
        (json_int_t)pl_dbs_int64(s, 1), "org", "id",
        (json_int_t)pl_dbs_int64(s, 2), "name", (const char *)pl_dbs_text(s, 3),
        "title", title, "status", (const char *)pl_dbs_text(s, 4), "patient", "id",
        (json_int_t)patient, "display_name", (const char *)pl_dbs_text(s, 7), "nhs_number",
        pl_dbs_text(s, 8) ? (const char *)pl_dbs_text(s, 8) : "",
        "date_of_birth", pl_dbs_text(s, 9) ? (const char *)pl_dbs_text(s, 9) : "",
        "members", members, "created_by", "id", (json_int_t)pl_dbs_int64(s, 10),
        "display_name", (const char *)pl_dbs_text(s, 11), "created_at",
        (json_int_t)pl_dbs_int64(s, 12), "closed_at",
        pl_dbs_type(s, 13) == PL_DB_NULL ? json_null()
                                                  : json_integer(pl_dbs_int64(s, 13)));
    pl_wipe(title, tn);
    free(title);
    return j;
}

int pl_store_case_json(pl_store_t *st, int64_t id, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, CASE_VIEW "WHERE k.id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    int rc = pl_dbs_step(s);
    json_t *j = rc == PL_DB_ROW ? case_view_json(st, s) : NULL;
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) {
        if (!j) return -PL_EINTERNAL;
        *out = j;
        return 0;
    }
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "case json");
}

int pl_store_case_list(pl_store_t *st, int64_t user_id, const char *filter, int64_t now,
                       json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(
        st, CASE_VIEW "WHERE k.id IN (SELECT m.case_id FROM case_members m JOIN cases k ON "
                      "k.id = m.case_id WHERE m.user_id = ?1 AND " CASE_ACCESS("?2") ") AND "
                      "(?3 = 'all' OR k.status = ?3) ORDER BY k.id DESC LIMIT 100");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, user_id);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_text(s, 3, filter ? filter : "all", -1);
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        json_t *j = case_view_json(st, s);
        if (j) json_array_append_new(arr, j);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "case list");
    }
    *out = json_pack("{so}", "cases", arr);
    return *out ? 0 : -PL_ENOMEM;
}

int pl_store_case_candidates(pl_store_t *st, int64_t case_id, int64_t now, json_t **out)
{
    /* One row per person: the organisation they would take part for is the first eligible. */
    pl_dbs_t *s = pl__sq_stmt(
        st, "SELECT u.id, u.display_name, o.id, o.name FROM (SELECT ms.user_id AS user_id, "
            "min(e.pref * 1000000000 + e.org_id) AS pick FROM users u JOIN memberships ms ON "
            "ms.user_id = u.id JOIN (" ELIGIBLE_ORGS ") e ON e.org_id = ms.org_id WHERE "
            "u.kind = 2 AND u.guest_role IS NULL AND u.disabled = 0 AND u.id NOT IN (SELECT "
            "user_id FROM case_members WHERE case_id = ?1) GROUP BY ms.user_id) b JOIN users u "
            "ON u.id = b.user_id JOIN orgs o ON o.id = b.pick % 1000000000 "
            "ORDER BY o.name, u.display_name, u.id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, case_id);
    pl_dbs_bind_int64(s, 2, now);
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW)
        json_array_append_new(arr, json_pack("{sI ss s{sI ss}}", "user_id",
                                             (json_int_t)pl_dbs_int64(s, 0),
                                             "display_name", (const char *)pl_dbs_text(s, 1),
                                             "org", "id", (json_int_t)pl_dbs_int64(s, 2),
                                             "name", (const char *)pl_dbs_text(s, 3)));
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "case candidates");
    }
    *out = json_pack("{so}", "people", arr);
    return *out ? 0 : -PL_ENOMEM;
}
