/* SQLite backend, second half: conversations, messages, receipts and the event stream.
 * Subjects, answers, bodies and event payloads are sealed; the AAD names the row's context
 * ("msg:<conversation>", "event:<conversation>", "conv:<patient>") so sealed values cannot be
 * moved between conversations or patients without failing to open. */
#include "core/err.h"
#include "core/util.h"
#include "storage/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORKDAY_END_MIN (18 * 60 + 30) /* a "same working day" target ends at 18:30 local */

/* When a request waiting since `since` is due: since + target, or for "same working day"
 * (target 0) the end of that working day, rolling to the next weekday after hours. */
static int64_t due_at(int64_t since, int target_minutes)
{
    if (target_minutes > 0) return since + (int64_t)target_minutes * 60000;
    time_t t = (time_t)(since / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    int mins = tm.tm_hour * 60 + tm.tm_min;
    if (mins >= WORKDAY_END_MIN) tm.tm_mday++;
    tm.tm_hour = WORKDAY_END_MIN / 60;
    tm.tm_min = WORKDAY_END_MIN % 60;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    time_t due = mktime(&tm);
    localtime_r(&due, &tm);
    while (tm.tm_wday == 0 || tm.tm_wday == 6) {
        tm.tm_mday++;
        tm.tm_isdst = -1;
        due = mktime(&tm);
        localtime_r(&due, &tm);
    }
    return (int64_t)due * 1000;
}

int pl_store_conv_create(pl_store_t *st, int64_t org_id, int64_t patient_id, const char *kind,
                         const char *subject, const json_t *answers, const char *create_txn,
                         int64_t now, int64_t *id, bool *dup)
{
    *dup = false;
    pl_dbs_t *s =
        pl__sq_stmt(st, "SELECT id FROM conversations WHERE patient_id = ? AND create_txn = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, patient_id);
    pl_dbs_bind_text(s, 2, create_txn, -1);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        *id = pl_dbs_int64(s, 0);
        *dup = true;
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    if (rc != PL_DB_DONE) return pl__sq_err(st, rc, "conv txn lookup");

    s = pl__sq_stmt(st, "INSERT INTO conversations (org_id, patient_id, kind, subject, answers, "
                        "create_txn, waiting_since, created_at, updated_at) "
                        "VALUES (?,?,?,?,?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    char aad[48];
    snprintf(aad, sizeof aad, "conv:%lld", (long long)patient_id);
    pl_dbs_bind_int64(s, 1, org_id);
    pl_dbs_bind_int64(s, 2, patient_id);
    pl_dbs_bind_text(s, 3, kind, -1);
    if ((rc = pl__sq_seal_bind(st, s, 4, org_id, aad, subject, strlen(subject))) < 0) return rc;
    if (answers) {
        char *txt = json_dumps(answers, JSON_COMPACT);
        if (!txt) return -PL_ENOMEM;
        rc = pl__sq_seal_bind(st, s, 5, org_id, aad, txt, strlen(txt));
        pl_wipe(txt, strlen(txt));
        free(txt);
        if (rc < 0) return rc;
    } else {
        pl_dbs_bind_null(s, 5);
    }
    pl_dbs_bind_text(s, 6, create_txn, -1);
    pl_dbs_bind_int64(s, 7, now);
    pl_dbs_bind_int64(s, 8, now);
    pl_dbs_bind_int64(s, 9, now);
    if ((rc = pl__sq_done(st, s, "conv create")) < 0) return rc;
    *id = pl_db_last_id(st->db);
    return 0;
}

int pl_store_conv_get(pl_store_t *st, int64_t id, pl_conv_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT c.id, c.org_id, c.patient_id, c.last_seq, c.status, "
                                      "c.kind, coalesce(a.service_id, 0), coalesce(k.id, 0) "
                                      "FROM conversations c "
                                      "LEFT JOIN advice_requests a ON a.conversation_id = c.id "
                                      "LEFT JOIN cases k ON k.conversation_id = c.id "
                                      "WHERE c.id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        memset(out, 0, sizeof *out);
        out->id = pl_dbs_int64(s, 0);
        out->org_id = pl_dbs_int64(s, 1);
        out->patient_id = pl_dbs_int64(s, 2);
        out->last_seq = pl_dbs_int64(s, 3);
        snprintf(out->status, sizeof out->status, "%s", (const char *)pl_dbs_text(s, 4));
        snprintf(out->kind, sizeof out->kind, "%s", (const char *)pl_dbs_text(s, 5));
        out->peer_org_id = pl_dbs_int64(s, 6);
        out->case_id = pl_dbs_int64(s, 7);
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "conv get");
}

/* Columns shared by every conversation view; conv_row_json reads them in this order. */
#define CONV_SELECT                                                                                \
    "SELECT c.id, c.org_id, c.patient_id, c.kind, c.subject, c.answers, c.status, "                \
    "coalesce(c.assignee_user_id, 0), c.assignee_role, c.last_seq, c.created_at, c.updated_at, "   \
    "c.waiting_since, o.response_target_minutes, u.display_name "                                  \
    "FROM conversations c JOIN orgs o ON o.id = c.org_id JOIN users u ON u.id = c.patient_id "

static json_t *conv_row_json(pl_store_t *st, pl_dbs_t *s, int64_t now)
{
    int64_t patient_id = pl_dbs_int64(s, 2);
    char aad[48];
    snprintf(aad, sizeof aad, "conv:%lld", (long long)patient_id);
    char *subject = NULL;
    if (pl__sq_open_col(st, s, 4, aad, &subject, NULL) < 0) return NULL;
    json_t *c = json_pack(
        "{sI sI sI s{sI ss} ss ss ss sI sI sI}", "id", (json_int_t)pl_dbs_int64(s, 0),
        "org_id", (json_int_t)pl_dbs_int64(s, 1), "patient_id", (json_int_t)patient_id,
        "patient", "id", (json_int_t)patient_id, "display_name",
        (const char *)pl_dbs_text(s, 14), "kind", (const char *)pl_dbs_text(s, 3),
        "subject", subject, "status", (const char *)pl_dbs_text(s, 6), "last_seq",
        (json_int_t)pl_dbs_int64(s, 9), "created_at",
        (json_int_t)pl_dbs_int64(s, 10), "updated_at",
        (json_int_t)pl_dbs_int64(s, 11));
    pl_wipe(subject, strlen(subject));
    free(subject);
    if (!c) return NULL;
    if (pl_dbs_type(s, 5) == PL_DB_BLOB) {
        json_t *answers = pl__sq_open_json(st, s, 5, aad);
        if (answers) json_object_set_new(c, "answers", answers);
    }
    int64_t assignee = pl_dbs_int64(s, 7);
    json_object_set_new(c, "assignee_user_id", assignee ? json_integer(assignee) : json_null());
    json_object_set_new(c, "assignee_role",
                        pl_dbs_type(s, 8) == PL_DB_TEXT
                            ? json_string((const char *)pl_dbs_text(s, 8))
                            : json_null());
    if (pl_dbs_type(s, 12) != PL_DB_NULL) {
        int64_t since = pl_dbs_int64(s, 12);
        int64_t due = due_at(since, pl_dbs_int(s, 13));
        json_object_set_new(c, "waiting_since", json_integer(since));
        json_object_set_new(c, "waited_seconds", json_integer((now - since) / 1000));
        json_object_set_new(c, "due_at", json_integer(due));
        json_object_set_new(c, "overdue", json_boolean(now > due));
    } else {
        json_object_set_new(c, "waiting_since", json_null());
        json_object_set_new(c, "overdue", json_false());
    }
    return c;
}

int pl_store_conv_json(pl_store_t *st, int64_t id, json_t **out)
{
    static const char sql[] = CONV_SELECT "WHERE c.id = ?";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    int rc = pl_dbs_step(s);
    json_t *c = rc == PL_DB_ROW ? conv_row_json(st, s, pl_now_ms()) : NULL;
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) {
        if (!c) return -PL_ECRYPTO;
        *out = c;
        return 0;
    }
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "conv json");
}

int pl_store_conv_set_status(pl_store_t *st, int64_t id, const char *status, int64_t now)
{
    /* Handing the request back to the patient, or closing it, stops the practice's clock. */
    pl_dbs_t *s = pl__sq_stmt(
        st, "UPDATE conversations SET status = ?1, updated_at = ?2, waiting_since = CASE WHEN ?1 "
            "IN ('awaiting_patient','closed') THEN NULL ELSE waiting_since END WHERE id = ?3");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, status, -1);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_int64(s, 3, id);
    int rc = pl__sq_done(st, s, "conv status");
    return rc == 0 && pl_db_changes(st->db) == 0 ? -PL_ENOTFOUND : rc;
}

int pl_store_conv_assign(pl_store_t *st, int64_t id, int64_t user_id, const char *role,
                         int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE conversations SET assignee_user_id = ?, "
                                      "assignee_role = ?, updated_at = ?, status = CASE WHEN "
                                      "status = 'new' THEN 'in_progress' ELSE status END "
                                      "WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    if (user_id > 0)
        pl_dbs_bind_int64(s, 1, user_id);
    else
        pl_dbs_bind_null(s, 1);
    if (role)
        pl_dbs_bind_text(s, 2, role, -1);
    else
        pl_dbs_bind_null(s, 2);
    pl_dbs_bind_int64(s, 3, now);
    pl_dbs_bind_int64(s, 4, id);
    int rc = pl__sq_done(st, s, "conv assign");
    return rc == 0 && pl_db_changes(st->db) == 0 ? -PL_ENOTFOUND : rc;
}

static int conv_list(pl_store_t *st, pl_dbs_t *s, int limit, bool only_overdue, int64_t now,
                     json_t **out)
{
    json_t *arr = json_array();
    int rc, n = 0;
    int64_t last_id = 0;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        n++;
        last_id = pl_dbs_int64(s, 0);
        json_t *c = conv_row_json(st, s, now);
        if (!c) continue; /* a row that fails to open is logged and skipped, not fatal */
        if (only_overdue && !json_is_true(json_object_get(c, "overdue"))) {
            json_decref(c);
            continue;
        }
        json_array_append_new(arr, c);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "conv list");
    }
    *out = json_pack("{so so}", "conversations", arr, "next_before",
                     n == limit ? json_integer(last_id) : json_null());
    return 0;
}

int pl_store_conv_list_org(pl_store_t *st, const int64_t *org_ids, int n_orgs, int64_t me,
                           const char *filter, int64_t before_id, int limit, int64_t now,
                           json_t **out)
{
    static const char sql[] =
        CONV_SELECT "WHERE c.org_id IN (SELECT value FROM json_each(?1)) AND c.kind NOT IN ('advice','case') "
                    "AND (?2 = 0 OR c.id < ?2) AND (CASE ?3 "
                    "WHEN 'new' THEN c.status = 'new' "
                    "WHEN 'assigned_to_me' THEN c.assignee_user_id = ?4 AND c.status != 'closed' "
                    "WHEN 'awaiting_patient' THEN c.status = 'awaiting_patient' "
                    "WHEN 'open' THEN c.status != 'closed' "
                    "WHEN 'closed' THEN c.status = 'closed' "
                    "WHEN 'overdue' THEN c.waiting_since IS NOT NULL AND c.status != 'closed' "
                    "ELSE 1 = 1 END) ORDER BY c.id DESC LIMIT ?5";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    char ids[PL_ACTOR_MAX_ORGS * 22 + 4];
    size_t n = 0;
    if (n_orgs < 1 || n_orgs > PL_ACTOR_MAX_ORGS) return -PL_EINVAL;
    ids[n++] = '[';
    for (int i = 0; i < n_orgs; i++)
        n += (size_t)snprintf(ids + n, sizeof ids - n, "%s%lld", i ? "," : "",
                              (long long)org_ids[i]);
    snprintf(ids + n, sizeof ids - n, "]");
    pl_dbs_bind_text(s, 1, ids, -1);
    pl_dbs_bind_int64(s, 2, before_id);
    pl_dbs_bind_text(s, 3, filter ? filter : "", -1);
    pl_dbs_bind_int64(s, 4, me);
    pl_dbs_bind_int(s, 5, limit);
    return conv_list(st, s, limit, filter && strcmp(filter, "overdue") == 0, now, out);
}

int pl_store_conv_list_patient(pl_store_t *st, int64_t patient_id, int64_t before_id, int limit,
                               json_t **out)
{
    /* Advice threads are between professionals: not in the inbox, not the patient's. */
    static const char sql[] = CONV_SELECT "WHERE c.patient_id = ?1 AND c.kind NOT IN ('advice','case') "
                                          "AND (?2 = 0 OR c.id < ?2) ORDER BY c.id DESC LIMIT ?3";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, patient_id);
    pl_dbs_bind_int64(s, 2, before_id);
    pl_dbs_bind_int(s, 3, limit);
    return conv_list(st, s, limit, false, pl_now_ms(), out);
}

/* ---- messages ---- */

int pl_store_msg_find_txn(pl_store_t *st, int64_t sender_id, const char *txn_id, pl_msg_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, conversation_id, seq, created_at, internal "
                                      "FROM messages WHERE sender_id = ? AND txn_id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, sender_id);
    pl_dbs_bind_text(s, 2, txn_id, -1);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        out->id = pl_dbs_int64(s, 0);
        out->conversation_id = pl_dbs_int64(s, 1);
        out->seq = pl_dbs_int64(s, 2);
        out->created_at = pl_dbs_int64(s, 3);
        out->internal = pl_dbs_int(s, 4) != 0;
        out->sender_id = sender_id;
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "msg txn lookup");
}

int pl_store_msg_append(pl_store_t *st, const pl_conv_t *conv, int64_t sender_id, bool internal,
                        const char *txn_id, const char *body, size_t body_len, int64_t now,
                        pl_msg_t *out, bool *dup)
{
    *dup = false;
    int rc = pl_store_msg_find_txn(st, sender_id, txn_id, out);
    if (rc == 0) {
        *dup = true;
        return out->conversation_id == conv->id ? 0 : -PL_ECONFLICT;
    }
    if (rc != -PL_ENOTFOUND) return rc;

    /* The patient's words start (or keep) the practice's clock; a staff reply stops it. A note
     * changes neither the clock nor the seq. */
    pl_dbs_t *s = pl__sq_stmt(
        st, "UPDATE conversations SET last_seq = last_seq + (1 - ?3), "
            "updated_at = CASE WHEN ?3 = 1 THEN updated_at ELSE ?2 END, "
            "waiting_since = CASE WHEN ?3 = 1 THEN waiting_since "
            "WHEN patient_id = ?4 THEN coalesce(waiting_since, ?2) ELSE NULL END "
            "WHERE id = ?1 RETURNING last_seq");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv->id);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_int(s, 3, internal);
    pl_dbs_bind_int64(s, 4, sender_id);
    rc = pl_dbs_step(s);
    int64_t seq = rc == PL_DB_ROW ? pl_dbs_int64(s, 0) : 0;
    pl_dbs_reset(s);
    if (rc != PL_DB_ROW) return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "seq");

    s = pl__sq_stmt(st, "INSERT INTO messages (conversation_id, seq, sender_id, internal, txn_id, "
                        "body, created_at) VALUES (?,?,?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    char aad[48];
    snprintf(aad, sizeof aad, "msg:%lld", (long long)conv->id);
    pl_dbs_bind_int64(s, 1, conv->id);
    pl_dbs_bind_int64(s, 2, seq);
    pl_dbs_bind_int64(s, 3, sender_id);
    pl_dbs_bind_int(s, 4, internal);
    pl_dbs_bind_text(s, 5, txn_id, -1);
    if ((rc = pl__sq_seal_bind(st, s, 6, conv->org_id, aad, body, body_len)) < 0) return rc;
    pl_dbs_bind_int64(s, 7, now);
    if ((rc = pl__sq_done(st, s, "msg insert")) < 0) return rc;
    out->id = pl_db_last_id(st->db);
    out->conversation_id = conv->id;
    out->seq = seq;
    out->sender_id = sender_id;
    out->created_at = now;
    out->internal = internal;
    return 0;
}

#define MSG_SELECT                                                                                 \
    "SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.internal, m.txn_id, m.body, "           \
    "m.created_at, u.display_name, u.kind, m.error_by, m.error_at, m.error_reason, "              \
    "eu.display_name FROM messages m JOIN users u ON u.id = m.sender_id "                          \
    "LEFT JOIN users eu ON eu.id = m.error_by "

static json_t *msg_row_json(pl_store_t *st, pl_dbs_t *s)
{
    int64_t conv = pl_dbs_int64(s, 1);
    char aad[48], *body = NULL;
    snprintf(aad, sizeof aad, "msg:%lld", (long long)conv);
    if (pl__sq_open_col(st, s, 6, aad, &body, NULL) < 0) return NULL;
    json_t *m = json_pack("{sI sI sI s{sI ss ss} ss ss ss sI}", "id",
                          (json_int_t)pl_dbs_int64(s, 0), "conversation_id",
                          (json_int_t)conv, "seq", (json_int_t)pl_dbs_int64(s, 2),
                          "sender", "id", (json_int_t)pl_dbs_int64(s, 3), "display_name",
                          (const char *)pl_dbs_text(s, 8), "kind",
                          pl_dbs_int(s, 9) == PL_USER_PATIENT ? "patient" : "staff",
                          "kind", pl_dbs_int(s, 4) ? "note" : "message", "txn_id",
                          (const char *)pl_dbs_text(s, 5), "body", body, "created_at",
                          (json_int_t)pl_dbs_int64(s, 7));
    pl_wipe(body, strlen(body));
    free(body);
    /* Marked entered in error: it stays, flagged, with who, when and why. */
    if (m && pl_dbs_type(s, 11) != PL_DB_NULL) {
        char eaad[48], *reason = NULL;
        size_t rn = 0;
        snprintf(eaad, sizeof eaad, "msgerr:%lld", (long long)conv);
        if (pl__sq_open_col(st, s, 12, eaad, &reason, &rn) < 0) {
            json_decref(m);
            return NULL;
        }
        json_object_set_new(m, "entered_in_error",
                            json_pack("{sI ss sI ss}", "by", (json_int_t)pl_dbs_int64(s, 10),
                                      "by_name", (const char *)pl_dbs_text(s, 13), "at",
                                      (json_int_t)pl_dbs_int64(s, 11), "reason", reason));
        pl_wipe(reason, rn);
        free(reason);
    }
    return m;
}

int pl_store_msg_json(pl_store_t *st, int64_t msg_id, json_t **out)
{
    static const char sql[] = MSG_SELECT "WHERE m.id = ?";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, msg_id);
    int rc = pl_dbs_step(s);
    json_t *m = rc == PL_DB_ROW ? msg_row_json(st, s) : NULL;
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) {
        if (!m) return -PL_ECRYPTO;
        *out = m;
        return 0;
    }
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "msg json");
}

int pl_store_msg_history(pl_store_t *st, int64_t conv_id, int64_t before_id, int limit,
                         bool include_internal, json_t **out)
{
    /* Rows of one conversation are written by one thread in seq order, so id order is
     * transcript order (a note after the message it follows): paging by id never splits or
     * repeats a note and its message, which paging by seq would. */
    static const char sql[] =
        "SELECT * FROM (" MSG_SELECT "WHERE m.conversation_id = ?1 AND (?2 = 0 OR m.id < ?2) "
        "AND (?3 = 1 OR m.internal = 0) ORDER BY m.id DESC LIMIT ?4) h ORDER BY 1";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv_id);
    pl_dbs_bind_int64(s, 2, before_id);
    pl_dbs_bind_int(s, 3, include_internal);
    pl_dbs_bind_int(s, 4, limit + 1); /* one extra row says whether an older page exists */
    json_t *arr = json_array();
    int rc;
    int64_t first_id = 0;
    bool more = false;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        json_t *m = msg_row_json(st, s);
        /* A row that will not open (corruption, wrong key) is shown as such, not skipped, so
         * the transcript keeps its shape and paging its count. */
        if (!m)
            m = json_pack("{sI sI sI sb}", "id", (json_int_t)pl_dbs_int64(s, 0),
                          "conversation_id", (json_int_t)pl_dbs_int64(s, 1), "seq",
                          (json_int_t)pl_dbs_int64(s, 2), "unreadable", 1);
        json_array_append_new(arr, m);
    }
    /* Rows come oldest first: the extra one, if there, is the first. */
    if ((int)json_array_size(arr) > limit) {
        json_array_remove(arr, 0);
        more = true;
    }
    if (json_array_size(arr))
        first_id = json_integer_value(json_object_get(json_array_get(arr, 0), "id"));
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "history");
    }
    *out = json_pack("{so so}", "messages", arr, "next_before",
                     more ? json_integer(first_id) : json_null());
    return 0;
}

/* ---- receipts ---- */

int pl_store_receipt_set(pl_store_t *st, int64_t conv_id, int64_t user_id, int64_t delivered_seq,
                         int64_t read_seq, bool *changed, int64_t *out_delivered,
                         int64_t *out_read)
{
    /* Read implies delivered; neither ever moves backwards. */
    if (read_seq > delivered_seq) delivered_seq = read_seq;
    pl_dbs_t *s =
        pl__sq_stmt(st, "SELECT delivered_seq, read_seq FROM receipts WHERE conversation_id = ? "
                        "AND user_id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv_id);
    pl_dbs_bind_int64(s, 2, user_id);
    int64_t d = 0, r = 0;
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        d = pl_dbs_int64(s, 0);
        r = pl_dbs_int64(s, 1);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_ROW && rc != PL_DB_DONE) return pl__sq_err(st, rc, "receipt get");
    int64_t nd = delivered_seq > d ? delivered_seq : d, nr = read_seq > r ? read_seq : r;
    *changed = nd != d || nr != r;
    *out_delivered = nd;
    *out_read = nr;
    if (!*changed) return 0;
    s = pl__sq_stmt(st, "INSERT INTO receipts (conversation_id, user_id, delivered_seq, read_seq) "
                        "VALUES (?1,?2,?3,?4) ON CONFLICT (conversation_id, user_id) DO UPDATE "
                        "SET delivered_seq = ?3, read_seq = ?4");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv_id);
    pl_dbs_bind_int64(s, 2, user_id);
    pl_dbs_bind_int64(s, 3, nd);
    pl_dbs_bind_int64(s, 4, nr);
    return pl__sq_done(st, s, "receipt set");
}

int pl_store_receipt_summary(pl_store_t *st, int64_t conv_id, int64_t patient_id,
                             pl_receipt_sum_t *out)
{
    memset(out, 0, sizeof *out);
    pl_dbs_t *s = pl__sq_stmt(
        st, "SELECT COALESCE(MAX(CASE WHEN user_id = ?2 THEN delivered_seq END), 0),"
            " COALESCE(MAX(CASE WHEN user_id = ?2 THEN read_seq END), 0),"
            " COALESCE(MAX(CASE WHEN user_id <> ?2 THEN delivered_seq END), 0),"
            " COALESCE(MAX(CASE WHEN user_id <> ?2 THEN read_seq END), 0)"
            " FROM receipts WHERE conversation_id = ?1");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv_id);
    pl_dbs_bind_int64(s, 2, patient_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        out->patient_delivered = pl_dbs_int64(s, 0);
        out->patient_read = pl_dbs_int64(s, 1);
        out->staff_delivered = pl_dbs_int64(s, 2);
        out->staff_read = pl_dbs_int64(s, 3);
    }
    pl_dbs_reset(s);
    return rc == PL_DB_ROW ? 0 : pl__sq_err(st, rc, "receipt summary");
}

/* ---- events ---- */

int pl_store_event_append(pl_store_t *st, int64_t conv_id, int64_t org_id, int64_t patient_id,
                          bool staff_only, const char *type, const json_t *payload, int64_t now,
                          int64_t *id)
{
    return pl_store_event_append_peer(st, conv_id, org_id, 0, patient_id, staff_only, type,
                                      payload, now, id);
}

int pl_store_event_append_peer(pl_store_t *st, int64_t conv_id, int64_t org_id,
                               int64_t peer_org_id, int64_t patient_id, bool staff_only,
                               const char *type, const json_t *payload, int64_t now, int64_t *id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO events (conversation_id, org_id, patient_id, "
                                      "staff_only, type, payload, created_at, peer_org_id) "
                                      "VALUES (?,?,?,?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    char *txt = json_dumps(payload, JSON_COMPACT);
    if (!txt) return -PL_ENOMEM;
    char aad[48];
    snprintf(aad, sizeof aad, "event:%lld", (long long)conv_id);
    pl_dbs_bind_int64(s, 1, conv_id);
    pl_dbs_bind_int64(s, 2, org_id);
    pl_dbs_bind_int64(s, 3, patient_id);
    pl_dbs_bind_int(s, 4, staff_only);
    pl_dbs_bind_text(s, 5, type, -1);
    int rc = pl__sq_seal_bind(st, s, 6, org_id, aad, txt, strlen(txt));
    pl_wipe(txt, strlen(txt));
    free(txt);
    if (rc < 0) return rc;
    pl_dbs_bind_int64(s, 7, now);
    if (peer_org_id > 0)
        pl_dbs_bind_int64(s, 8, peer_org_id);
    else
        pl_dbs_bind_null(s, 8);
    if ((rc = pl__sq_done(st, s, "event append")) < 0) return rc;
    *id = pl_db_last_id(st->db);
    return 0;
}

int pl_store_event_set_case(pl_store_t *st, int64_t id, int64_t case_id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE events SET case_id = ? WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, case_id);
    pl_dbs_bind_int64(s, 2, id);
    return pl__sq_done(st, s, "event case");
}

/* The events a statement of the shape of pl_store_events_since's returns, as JSON. */
static int events_rows(pl_store_t *st, pl_dbs_t *s, const char *what, json_t **out)
{
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        int64_t conv = pl_dbs_int64(s, 1);
        char aad[48];
        snprintf(aad, sizeof aad, "event:%lld", (long long)conv);
        json_t *payload = pl__sq_open_json(st, s, 6, aad);
        if (!payload) payload = json_object(); /* logged by the opener; keep the cursor moving */
        json_array_append_new(
            arr, json_pack("{sI sI sI sI sI sI sb ss so sI}", "cursor",
                           (json_int_t)pl_dbs_int64(s, 0), "conversation_id",
                           (json_int_t)conv, "org_id", (json_int_t)pl_dbs_int64(s, 2),
                           "peer_org_id", (json_int_t)pl_dbs_int64(s, 8), "case_id",
                           (json_int_t)pl_dbs_int64(s, 9),
                           "patient_id", (json_int_t)pl_dbs_int64(s, 3), "staff_only",
                           pl_dbs_int(s, 4) != 0, "type",
                           (const char *)pl_dbs_text(s, 5), "payload", payload, "at",
                           (json_int_t)pl_dbs_int64(s, 7)));
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, what);
    }
    *out = arr;
    return 0;
}

int pl_store_events_since(pl_store_t *st, const pl_actor_t *actor, int64_t after, int limit,
                          json_t **out)
{
    static const char patient_sql[] =
        "SELECT id, conversation_id, org_id, patient_id, staff_only, type, payload, created_at, "
        "coalesce(peer_org_id, 0), 0 "
        "FROM events WHERE patient_id = ?1 AND staff_only = 0 AND case_id IS NULL AND id > ?2 "
        "ORDER BY id LIMIT ?3";
    /* A case discussion's events go to the members with access now (store_sqlite_case.c's
     * rule, with the clock of the database: the replay has no request time). */
    static const char staff_sql[] =
        "SELECT id, conversation_id, org_id, patient_id, staff_only, type, payload, created_at, "
        "coalesce(peer_org_id, 0), coalesce(case_id, 0) FROM events "
        "WHERE ((case_id IS NULL AND (org_id IN (SELECT org_id FROM memberships WHERE user_id = ?1) "
        "OR peer_org_id IN (SELECT org_id FROM memberships WHERE user_id = ?1))) OR case_id IN "
        "(" PL_CASES_OF_USER("?1", "?4")
        ")) AND id > ?2 ORDER BY id LIMIT ?3";
    /* A guest sees only its consultation's consult.* events; authz sorts out which. */
    static const char guest_sql[] =
        "SELECT id, conversation_id, org_id, patient_id, staff_only, type, payload, created_at, "
        "coalesce(peer_org_id, 0), 0 FROM events WHERE conversation_id = ?1 AND staff_only = 0 "
        "AND case_id IS NULL AND id > ?2 "
        "AND type LIKE 'consult.%' ORDER BY id LIMIT ?3";
    bool guest = actor->kind == PL_USER_GUEST;
    pl_dbs_t *s = pl__sq_stmt(st, guest                              ? guest_sql
                                      : actor->kind == PL_USER_PATIENT ? patient_sql
                                                                       : staff_sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, guest ? actor->scope_conversation_id : actor->user_id);
    pl_dbs_bind_int64(s, 2, after);
    pl_dbs_bind_int(s, 3, limit);
    if (!guest && actor->kind != PL_USER_PATIENT) pl_dbs_bind_int64(s, 4, pl_now_ms());
    return events_rows(st, s, "events since", out);
}

int pl_store_events_tail(pl_store_t *st, int64_t after, int limit, int64_t now, json_t **out)
{
    static const char sql[] =
        "SELECT id, conversation_id, org_id, patient_id, staff_only, type, payload, created_at, "
        "coalesce(peer_org_id, 0), coalesce(case_id, 0) FROM events WHERE id > ?1 ORDER BY id "
        "LIMIT ?2";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, after);
    pl_dbs_bind_int(s, 2, limit);
    json_t *arr = NULL;
    int rc = events_rows(st, s, "events tail", &arr);
    if (rc < 0) return rc;
    /* A case discussion's events go to its members with access now, as on the node that
     * stored them (signalling/ws.c names them at the commit). */
    size_t i;
    json_t *ev;
    json_array_foreach(arr, i, ev)
    {
        int64_t case_id = json_integer_value(json_object_get(ev, "case_id"));
        if (!case_id) continue;
        int64_t ids[PL_CASE_MAX_MEMBERS];
        int n = 0;
        if ((rc = pl_store_case_audience(st, case_id, now, ids, PL_CASE_MAX_MEMBERS, &n)) < 0)
            break;
        json_t *aud = json_array();
        for (int k = 0; k < n; k++) json_array_append_new(aud, json_integer(ids[k]));
        json_object_set_new(ev, "audience", aud);
    }
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int pl_store_events_head(pl_store_t *st, int64_t *head)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT coalesce(max(id), 0) FROM events");
    if (!s) return -PL_EINTERNAL;
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *head = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    return rc == PL_DB_ROW ? 0 : pl__sq_err(st, rc, "events head");
}
