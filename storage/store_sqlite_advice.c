/* Specialist services, information-sharing agreements and advice requests on SQLite (see
 * store.h, "advice"). The question and summary of a request are sealed like message bodies;
 * its thread is a conversation of kind 'advice' (schema migration 6). */
#include "core/err.h"
#include "core/util.h"
#include "storage/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *opt_int(pl_dbs_t *s, int col)
{
    return pl_dbs_type(s, col) == PL_DB_NULL ? json_null()
                                                      : json_integer(pl_dbs_int64(s, col));
}

static int64_t col64(pl_dbs_t *s, int col)
{
    return pl_dbs_type(s, col) == PL_DB_NULL ? 0 : pl_dbs_int64(s, col);
}

/* Runs an UPDATE meant for exactly one row in a given state: -PL_ECONFLICT when no row was in
 * it (any more). */
static int update_one(pl_store_t *st, pl_dbs_t *s, const char *what)
{
    int rc = pl__sq_done(st, s, what);
    if (rc < 0) return rc;
    return pl_db_changes(st->db) == 1 ? 0 : -PL_ECONFLICT;
}

/* Binds the organisations as a JSON array, for "IN (SELECT value FROM json_each(?))". */
static int bind_ids(pl_dbs_t *s, int idx, const int64_t *org_ids, int n_orgs)
{
    json_t *ids = json_array();
    for (int i = 0; i < n_orgs; i++) json_array_append_new(ids, json_integer(org_ids[i]));
    char *txt = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    if (!txt) return -PL_ENOMEM;
    pl_dbs_bind_text(s, idx, txt, -1);
    free(txt);
    return 0;
}

/* ---- services ---- */

int pl_store_service_set(pl_store_t *st, int64_t org_id, const json_t *specialties,
                         int routine_target_hours, int urgent_target_hours)
{
    char *txt = json_dumps(specialties, JSON_COMPACT);
    if (!txt) return -PL_ENOMEM;
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE orgs SET specialties = ?, routine_target_hours = ?, "
                                      "urgent_target_hours = ? WHERE id = ? AND "
                                      "kind = 'specialist_service'");
    if (!s) {
        free(txt);
        return -PL_EINTERNAL;
    }
    pl_dbs_bind_text(s, 1, txt, -1);
    pl_dbs_bind_int(s, 2, routine_target_hours);
    pl_dbs_bind_int(s, 3, urgent_target_hours);
    pl_dbs_bind_int64(s, 4, org_id);
    free(txt);
    int rc = pl__sq_done(st, s, "service set");
    if (rc == 0 && pl_db_changes(st->db) != 1) return -PL_ENOTFOUND;
    return rc;
}

int pl_store_service_get(pl_store_t *st, int64_t org_id, pl_service_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, name, code, coalesce(specialties, '[]'), "
                                      "routine_target_hours, urgent_target_hours FROM orgs "
                                      "WHERE id = ? AND kind = 'specialist_service'");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, org_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        memset(out, 0, sizeof *out);
        out->id = pl_dbs_int64(s, 0);
        snprintf(out->name, sizeof out->name, "%s", (const char *)pl_dbs_text(s, 1));
        snprintf(out->code, sizeof out->code, "%s", (const char *)pl_dbs_text(s, 2));
        out->specialties = json_loads((const char *)pl_dbs_text(s, 3), 0, NULL);
        if (!json_is_array(out->specialties)) {
            json_decref(out->specialties);
            out->specialties = json_array();
        }
        out->routine_target_hours = pl_dbs_int(s, 4);
        out->urgent_target_hours = pl_dbs_int(s, 5);
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "service get");
}

int pl_store_service_list(pl_store_t *st, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, code, name, coalesce(specialties, '[]'), "
                                      "routine_target_hours, urgent_target_hours FROM orgs "
                                      "WHERE kind = 'specialist_service' ORDER BY name, id");
    if (!s) return -PL_EINTERNAL;
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        json_t *sp = json_loads((const char *)pl_dbs_text(s, 3), 0, NULL);
        json_array_append_new(
            arr, json_pack("{sI ss ss so si si}", "id", (json_int_t)pl_dbs_int64(s, 0),
                           "code", (const char *)pl_dbs_text(s, 1), "name",
                           (const char *)pl_dbs_text(s, 2), "specialties",
                           json_is_array(sp) ? sp : json_array(), "routine_target_hours",
                           pl_dbs_int(s, 4), "urgent_target_hours",
                           pl_dbs_int(s, 5)));
        if (!json_is_array(sp)) json_decref(sp);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "service list");
    }
    *out = arr;
    return 0;
}

/* ---- agreements ---- */

#define AGREEMENT_COLS                                                                             \
    "a.id, a.practice_id, a.service_id, a.shares, a.starts_at, a.ends_at, a.proposed_by, "         \
    "a.proposed_org_id, a.proposed_at, a.accepted_by, a.accepted_at, a.ended_by, a.ended_at "

static void agreement_row(pl_dbs_t *s, pl_agreement_t *a)
{
    memset(a, 0, sizeof *a);
    a->id = pl_dbs_int64(s, 0);
    a->practice_id = pl_dbs_int64(s, 1);
    a->service_id = pl_dbs_int64(s, 2);
    snprintf(a->shares, sizeof a->shares, "%s", (const char *)pl_dbs_text(s, 3));
    a->starts_at = pl_dbs_int64(s, 4);
    a->ends_at = pl_dbs_int64(s, 5);
    a->proposed_by = pl_dbs_int64(s, 6);
    a->proposed_org_id = pl_dbs_int64(s, 7);
    a->proposed_at = pl_dbs_int64(s, 8);
    a->accepted_by = col64(s, 9);
    a->accepted_at = col64(s, 10);
    a->ended_by = col64(s, 11);
    a->ended_at = col64(s, 12);
}

const char *pl_agreement_state(const pl_agreement_t *a, int64_t now)
{
    if (a->ended_at) return "ended";
    if (!a->accepted_at) return "proposed";
    if (now >= a->ends_at) return "expired";
    if (now < a->starts_at) return "accepted";
    return "active";
}

int pl_store_agreement_create(pl_store_t *st, const pl_agreement_t *a, int64_t *id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO agreements (practice_id, service_id, shares, "
                                      "starts_at, ends_at, proposed_by, proposed_org_id, "
                                      "proposed_at) VALUES (?,?,?,?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, a->practice_id);
    pl_dbs_bind_int64(s, 2, a->service_id);
    pl_dbs_bind_text(s, 3, a->shares, -1);
    pl_dbs_bind_int64(s, 4, a->starts_at);
    pl_dbs_bind_int64(s, 5, a->ends_at);
    pl_dbs_bind_int64(s, 6, a->proposed_by);
    pl_dbs_bind_int64(s, 7, a->proposed_org_id);
    pl_dbs_bind_int64(s, 8, a->proposed_at);
    int rc = pl__sq_done(st, s, "agreement create");
    if (rc == 0 && id) *id = pl_db_last_id(st->db);
    return rc;
}

int pl_store_agreement_get(pl_store_t *st, int64_t id, pl_agreement_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT " AGREEMENT_COLS "FROM agreements a WHERE a.id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) agreement_row(s, out);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "agreement get");
}

/* Stamps one of the agreement's closing columns if still open (accepted_* only before
 * acceptance). -PL_ECONFLICT when it was not in that state any more. */
static int agreement_stamp(pl_store_t *st, const char *sql, int64_t id, int64_t by, int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, by);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_int64(s, 3, id);
    return update_one(st, s, "agreement stamp");
}

int pl_store_agreement_accept(pl_store_t *st, int64_t id, int64_t by, int64_t now)
{
    return agreement_stamp(st,
                           "UPDATE agreements SET accepted_by = ?1, accepted_at = ?2 WHERE id = ?3 "
                           "AND accepted_at IS NULL AND ended_at IS NULL",
                           id, by, now);
}

int pl_store_agreement_end(pl_store_t *st, int64_t id, int64_t by, int64_t now)
{
    return agreement_stamp(
        st, "UPDATE agreements SET ended_by = ?1, ended_at = ?2 WHERE id = ?3 AND ended_at IS NULL",
        id, by, now);
}

int pl_store_agreement_active(pl_store_t *st, int64_t practice_id, int64_t service_id,
                              int64_t now, pl_agreement_t *out)
{
    /* The one in force now; of several, the one that lasts longest. */
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT " AGREEMENT_COLS "FROM agreements a WHERE "
                                      "a.practice_id = ?1 AND a.service_id = ?2 AND "
                                      "a.accepted_at IS NOT NULL AND a.ended_at IS NULL AND "
                                      "a.starts_at <= ?3 AND ?3 < a.ends_at "
                                      "ORDER BY a.ends_at DESC, a.id DESC LIMIT 1");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, practice_id);
    pl_dbs_bind_int64(s, 2, service_id);
    pl_dbs_bind_int64(s, 3, now);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) agreement_row(s, out);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "agreement active");
}

json_t *pl_agreement_json(const pl_agreement_t *a, int64_t now)
{
    return json_pack("{sI sI sI ss ss sI sI sI sI sI so so so so}", "id", (json_int_t)a->id,
                     "practice_id", (json_int_t)a->practice_id, "service_id",
                     (json_int_t)a->service_id, "shares", a->shares, "state",
                     pl_agreement_state(a, now), "starts_at", (json_int_t)a->starts_at, "ends_at",
                     (json_int_t)a->ends_at, "proposed_by", (json_int_t)a->proposed_by,
                     "proposed_org_id", (json_int_t)a->proposed_org_id, "proposed_at",
                     (json_int_t)a->proposed_at, "accepted_by",
                     a->accepted_by ? json_integer(a->accepted_by) : json_null(), "accepted_at",
                     a->accepted_at ? json_integer(a->accepted_at) : json_null(), "ended_by",
                     a->ended_by ? json_integer(a->ended_by) : json_null(), "ended_at",
                     a->ended_at ? json_integer(a->ended_at) : json_null());
}

int pl_store_agreement_list(pl_store_t *st, const int64_t *org_ids, int n_orgs, int64_t now,
                            json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(
        st, "SELECT " AGREEMENT_COLS ", p.name, v.name FROM agreements a "
            "JOIN orgs p ON p.id = a.practice_id JOIN orgs v ON v.id = a.service_id "
            "WHERE a.practice_id IN (SELECT value FROM json_each(?1)) OR "
            "a.service_id IN (SELECT value FROM json_each(?1)) ORDER BY a.id DESC LIMIT 500");
    if (!s) return -PL_EINTERNAL;
    int brc = bind_ids(s, 1, org_ids, n_orgs);
    if (brc < 0) return brc;
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        pl_agreement_t a;
        agreement_row(s, &a);
        json_t *j = pl_agreement_json(&a, now);
        json_object_set_new(j, "practice_name", json_string((const char *)pl_dbs_text(s, 13)));
        json_object_set_new(j, "service_name", json_string((const char *)pl_dbs_text(s, 14)));
        json_array_append_new(arr, j);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "agreement list");
    }
    *out = arr;
    return 0;
}

/* ---- advice requests ---- */

int pl_store_advice_create(pl_store_t *st, const pl_advice_new_t *n, int64_t *id, bool *created)
{
    *created = false;
    /* A retry of the same request (same asker, same txn_id) finds the first. */
    char txn[96];
    snprintf(txn, sizeof txn, "advice:%lld:%s", (long long)n->created_by, n->txn_id);
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT a.id FROM advice_requests a JOIN conversations c "
                                      "ON c.id = a.conversation_id WHERE a.created_by = ? AND "
                                      "c.create_txn = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, n->created_by);
    pl_dbs_bind_text(s, 2, txn, -1);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *id = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    if (rc != PL_DB_DONE) return pl__sq_err(st, rc, "advice txn");

    char subject[160], aad[64];
    snprintf(subject, sizeof subject, "Advice: %s", n->specialty);
    snprintf(aad, sizeof aad, "conv:%lld", (long long)n->patient_id);
    s = pl__sq_stmt(st, "INSERT INTO conversations (org_id, patient_id, kind, subject, status, "
                        "create_txn, waiting_since, created_at, updated_at) "
                        "VALUES (?,?,'advice',?,'in_progress',?,NULL,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, n->practice_id);
    pl_dbs_bind_int64(s, 2, n->patient_id);
    if ((rc = pl__sq_seal_bind(st, s, 3, n->practice_id, aad, subject, strlen(subject))) < 0) return rc;
    pl_dbs_bind_text(s, 4, txn, -1);
    pl_dbs_bind_int64(s, 5, n->now);
    pl_dbs_bind_int64(s, 6, n->now);
    if ((rc = pl__sq_done(st, s, "advice conv")) < 0) return rc;
    int64_t conv = pl_db_last_id(st->db);

    s = pl__sq_stmt(st, "INSERT INTO advice_requests (conversation_id, practice_id, service_id, "
                        "patient_id, agreement_id, specialty, urgency, question, summary, "
                        "consent_by, consent_at, created_by, created_at, due_at, updated_at) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    snprintf(aad, sizeof aad, "advice:%lld", (long long)conv);
    pl_dbs_bind_int64(s, 1, conv);
    pl_dbs_bind_int64(s, 2, n->practice_id);
    pl_dbs_bind_int64(s, 3, n->service_id);
    pl_dbs_bind_int64(s, 4, n->patient_id);
    pl_dbs_bind_int64(s, 5, n->agreement_id);
    pl_dbs_bind_text(s, 6, n->specialty, -1);
    pl_dbs_bind_text(s, 7, n->urgency, -1);
    if ((rc = pl__sq_seal_bind(st, s, 8, n->practice_id, aad, n->question, strlen(n->question))) < 0 ||
        (rc = pl__sq_seal_bind(st, s, 9, n->practice_id, aad, n->summary, strlen(n->summary))) < 0)
        return rc;
    pl_dbs_bind_int64(s, 10, n->consent_by);
    pl_dbs_bind_int64(s, 11, n->consent_at);
    pl_dbs_bind_int64(s, 12, n->created_by);
    pl_dbs_bind_int64(s, 13, n->now);
    pl_dbs_bind_int64(s, 14, n->due_at);
    pl_dbs_bind_int64(s, 15, n->now);
    if ((rc = pl__sq_done(st, s, "advice create")) < 0) return rc;
    *id = pl_db_last_id(st->db);
    *created = true;
    return 0;
}

#define ADVICE_COLS                                                                                \
    "a.id, a.conversation_id, a.practice_id, a.service_id, a.patient_id, a.agreement_id, "         \
    "a.specialty, a.urgency, a.status, a.specialist_id, a.outcome, a.created_by, a.created_at, "   \
    "a.due_at, a.closed_at, a.consent_by, a.consent_at, a.updated_at "

static void advice_row(pl_dbs_t *s, pl_advice_t *a)
{
    memset(a, 0, sizeof *a);
    a->id = pl_dbs_int64(s, 0);
    a->conversation_id = pl_dbs_int64(s, 1);
    a->practice_id = pl_dbs_int64(s, 2);
    a->service_id = pl_dbs_int64(s, 3);
    a->patient_id = pl_dbs_int64(s, 4);
    a->agreement_id = pl_dbs_int64(s, 5);
    snprintf(a->specialty, sizeof a->specialty, "%s", (const char *)pl_dbs_text(s, 6));
    snprintf(a->urgency, sizeof a->urgency, "%s", (const char *)pl_dbs_text(s, 7));
    snprintf(a->status, sizeof a->status, "%s", (const char *)pl_dbs_text(s, 8));
    a->specialist_id = col64(s, 9);
    const char *o = (const char *)pl_dbs_text(s, 10);
    snprintf(a->outcome, sizeof a->outcome, "%s", o ? o : "");
    a->created_by = pl_dbs_int64(s, 11);
    a->created_at = pl_dbs_int64(s, 12);
    a->due_at = pl_dbs_int64(s, 13);
    a->closed_at = col64(s, 14);
}

static int advice_one(pl_store_t *st, const char *where, int64_t key, pl_advice_t *out)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT " ADVICE_COLS "FROM advice_requests a WHERE %s = ?", where);
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, key);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) advice_row(s, out);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "advice get");
}

int pl_store_advice_get(pl_store_t *st, int64_t id, pl_advice_t *out)
{
    return advice_one(st, "a.id", id, out);
}

int pl_store_advice_by_conv(pl_store_t *st, int64_t conversation_id, pl_advice_t *out)
{
    return advice_one(st, "a.conversation_id", conversation_id, out);
}

int pl_store_advice_claim(pl_store_t *st, int64_t id, int64_t specialist_id, int64_t now)
{
    /* Taken by nobody yet, or already by this specialist (a retry); never from another. */
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE advice_requests SET specialist_id = ?1, "
                                      "status = CASE status WHEN 'new' THEN 'in_progress' "
                                      "ELSE status END, updated_at = ?2 WHERE id = ?3 AND "
                                      "status != 'closed' AND (specialist_id IS NULL OR "
                                      "specialist_id = ?1)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, specialist_id);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_int64(s, 3, id);
    return update_one(st, s, "advice claim");
}

int pl_store_advice_assign(pl_store_t *st, int64_t id, int64_t specialist_id, int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE advice_requests SET specialist_id = ?1, "
                                      "status = CASE status WHEN 'new' THEN 'in_progress' "
                                      "ELSE status END, updated_at = ?2 WHERE id = ?3 AND "
                                      "status != 'closed'");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, specialist_id);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_int64(s, 3, id);
    return update_one(st, s, "advice assign");
}

int pl_store_advice_set_status(pl_store_t *st, int64_t id, const char *to, int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE advice_requests SET status = ?1, updated_at = ?2 "
                                      "WHERE id = ?3 AND status != 'closed'");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, to, -1);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_int64(s, 3, id);
    return update_one(st, s, "advice status");
}

int pl_store_advice_close(pl_store_t *st, int64_t id, const char *outcome, int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE advice_requests SET status = 'closed', outcome = ?1, "
                                      "closed_at = ?2, updated_at = ?2 WHERE id = ?3 AND "
                                      "status != 'closed'");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, outcome, -1);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_int64(s, 3, id);
    return update_one(st, s, "advice close");
}

/* The full view: everything, the patient's identity included; the caller removes what the
 * reader may not see (signalling/advice.c). */
#define ADVICE_VIEW                                                                                \
    "SELECT " ADVICE_COLS ", a.question, a.summary, pr.name, sv.name, cu.display_name, "           \
    "su.display_name, pu.display_name, pt.nhs_number, pt.dob, cb.display_name "                    \
    "FROM advice_requests a JOIN orgs pr ON pr.id = a.practice_id "                                \
    "JOIN orgs sv ON sv.id = a.service_id JOIN users cu ON cu.id = a.created_by "                  \
    "LEFT JOIN users su ON su.id = a.specialist_id JOIN users pu ON pu.id = a.patient_id "         \
    "JOIN patients pt ON pt.user_id = a.patient_id JOIN users cb ON cb.id = a.consent_by "

static json_t *advice_view_json(pl_store_t *st, pl_dbs_t *s, int64_t now)
{
    pl_advice_t a;
    advice_row(s, &a);
    char aad[64];
    snprintf(aad, sizeof aad, "advice:%lld", (long long)a.conversation_id);
    char *q = NULL, *sum = NULL;
    size_t qn = 0, sn = 0;
    int rc = pl__sq_open_col(st, s, 18, aad, &q, &qn);
    if (rc == 0) rc = pl__sq_open_col(st, s, 19, aad, &sum, &sn);
    json_t *j = NULL;
    if (rc == 0)
        j = json_pack(
            "{sI sI s{sI ss} s{sI ss} ss ss ss ss ss s{sI ss} so s{sI ss ss ss} s{sI ss sI} "
            "sI sI sb so so}",
            "id", (json_int_t)a.id, "conversation_id", (json_int_t)a.conversation_id, "practice",
            "id", (json_int_t)a.practice_id, "name", (const char *)pl_dbs_text(s, 20),
            "service", "id", (json_int_t)a.service_id, "name",
            (const char *)pl_dbs_text(s, 21), "specialty", a.specialty, "urgency",
            a.urgency, "status", a.status, "question", q, "summary", sum, "created_by", "id",
            (json_int_t)a.created_by, "display_name", (const char *)pl_dbs_text(s, 22),
            "specialist",
            a.specialist_id ? json_pack("{sI ss}", "id", (json_int_t)a.specialist_id,
                                        "display_name", (const char *)pl_dbs_text(s, 23))
                            : json_null(),
            "patient", "id", (json_int_t)a.patient_id, "display_name",
            (const char *)pl_dbs_text(s, 24), "nhs_number",
            (const char *)pl_dbs_text(s, 25), "date_of_birth",
            (const char *)pl_dbs_text(s, 26), "consent", "recorded_by",
            (json_int_t)pl_dbs_int64(s, 15), "recorded_by_name",
            (const char *)pl_dbs_text(s, 27), "recorded_at",
            (json_int_t)pl_dbs_int64(s, 16), "created_at", (json_int_t)a.created_at,
            "due_at", (json_int_t)a.due_at, "overdue",
            strcmp(a.status, "closed") != 0 && now > a.due_at, "outcome",
            a.outcome[0] ? json_string(a.outcome) : json_null(), "closed_at", opt_int(s, 14));
    if (j) json_object_set_new(j, "updated_at", json_integer(pl_dbs_int64(s, 17)));
    if (q) pl_wipe(q, qn);
    if (sum) pl_wipe(sum, sn);
    free(q);
    free(sum);
    return j;
}

int pl_store_advice_json(pl_store_t *st, int64_t id, int64_t now, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, ADVICE_VIEW "WHERE a.id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    int rc = pl_dbs_step(s);
    json_t *j = rc == PL_DB_ROW ? advice_view_json(st, s, now) : NULL;
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) {
        if (!j) return -PL_EINTERNAL;
        *out = j;
        return 0;
    }
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "advice json");
}

int pl_store_advice_list(pl_store_t *st, const char *side, const int64_t *org_ids, int n_orgs,
                         const char *filter, int64_t me, int64_t before_id, int limit, int64_t now,
                         json_t **out)
{
    /* side: "sent" (the practice's requests) or "queue" (the service's). */
    static const char sent[] =
        ADVICE_VIEW "WHERE a.practice_id IN (SELECT value FROM json_each(?1)) AND "
                    "(?2 = 0 OR a.id < ?2) AND (CASE ?3 WHEN 'open' THEN a.status != 'closed' "
                    "WHEN 'closed' THEN a.status = 'closed' WHEN 'overdue' THEN "
                    "a.status != 'closed' AND a.due_at < ?4 WHEN 'mine' THEN a.created_by = ?5 "
                    "WHEN 'new' THEN a.status = 'new' WHEN 'awaiting_gp' THEN "
                    "a.status = 'awaiting_gp' ELSE 1 = 1 END) ORDER BY a.id DESC LIMIT ?6";
    static const char queue[] =
        ADVICE_VIEW "WHERE a.service_id IN (SELECT value FROM json_each(?1)) AND "
                    "(?2 = 0 OR a.id < ?2) AND (CASE ?3 WHEN 'open' THEN a.status != 'closed' "
                    "WHEN 'closed' THEN a.status = 'closed' WHEN 'overdue' THEN "
                    "a.status != 'closed' AND a.due_at < ?4 WHEN 'mine' THEN "
                    "a.specialist_id = ?5 AND a.status != 'closed' WHEN 'new' THEN "
                    "a.status = 'new' WHEN 'awaiting_gp' THEN a.status = 'awaiting_gp' "
                    "ELSE 1 = 1 END) ORDER BY a.id DESC LIMIT ?6";
    pl_dbs_t *s = pl__sq_stmt(st, strcmp(side, "queue") == 0 ? queue : sent);
    if (!s) return -PL_EINTERNAL;
    int brc = bind_ids(s, 1, org_ids, n_orgs);
    if (brc < 0) return brc;
    pl_dbs_bind_int64(s, 2, before_id);
    pl_dbs_bind_text(s, 3, filter ? filter : "", -1);
    pl_dbs_bind_int64(s, 4, now);
    pl_dbs_bind_int64(s, 5, me);
    pl_dbs_bind_int(s, 6, limit);
    json_t *arr = json_array();
    int rc, n = 0;
    int64_t last = 0;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        json_t *j = advice_view_json(st, s, now);
        if (!j) continue;
        last = pl_dbs_int64(s, 0);
        n++;
        json_array_append_new(arr, j);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "advice list");
    }
    *out = json_pack("{so so}", "requests", arr, "next_before",
                     n == limit && last ? json_integer(last) : json_null());
    return 0;
}
