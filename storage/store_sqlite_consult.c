/* SQLite backend, fourth part: video consultations, their join links and participants, and the
 * sessions a join link opens (scoped to one consultation).
 *
 * A consultation has no text of its own: its chat and history are its conversation's
 * (store_sqlite_msg.c), where the sealing happens. What is kept here is facts (who, when,
 * status) in plain columns, and for links only the SHA-256 of the token and of the device secret
 * that claimed it. The one sealed value written here is the subject of the conversation a
 * booking starts, under the same AAD as every other conversation subject ("conv:<patient>"). */
#include "core/err.h"
#include "core/util.h"
#include "storage/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void bind_opt(pl_dbs_t *s, int idx, int64_t v)
{
    if (v)
        pl_dbs_bind_int64(s, idx, v);
    else
        pl_dbs_bind_null(s, idx);
}

static json_t *opt_json(pl_dbs_t *s, int col)
{
    return pl_dbs_type(s, col) == PL_DB_NULL ? json_null()
                                                      : json_integer(pl_dbs_int64(s, col));
}

/* ---- consultations ---- */

int pl_store_consult_conv_create(pl_store_t *st, int64_t org_id, int64_t patient_id,
                                 const char *subject, int64_t now, int64_t *id)
{
    /* create_txn exists to make a patient's conversation.create idempotent; a conversation the
     * server starts gets a random one that no client can have used. */
    char rnd[33], txn[48];
    int rc = pl_id_new(rnd);
    if (rc < 0) return rc;
    snprintf(txn, sizeof txn, "consult:%s", rnd);
    pl_dbs_t *s =
        pl__sq_stmt(st, "INSERT INTO conversations (org_id, patient_id, kind, "
                        "subject, status, create_txn, waiting_since, created_at, "
                        "updated_at) VALUES (?,?,'video',?,'in_progress',?,NULL,?,?)");
    if (!s) return -PL_EINTERNAL;
    char aad[48];
    snprintf(aad, sizeof aad, "conv:%lld", (long long)patient_id);
    pl_dbs_bind_int64(s, 1, org_id);
    pl_dbs_bind_int64(s, 2, patient_id);
    if ((rc = pl__sq_seal_bind(st, s, 3, org_id, aad, subject, strlen(subject))) < 0) return rc;
    pl_dbs_bind_text(s, 4, txn, -1);
    pl_dbs_bind_int64(s, 5, now);
    pl_dbs_bind_int64(s, 6, now);
    if ((rc = pl__sq_done(st, s, "consult conv create")) < 0) return rc;
    *id = pl_db_last_id(st->db);
    return 0;
}

int pl_store_consult_create(pl_store_t *st, int64_t conversation_id, int64_t org_id,
                            int64_t patient_id, int64_t clinician_user_id, int64_t scheduled_at,
                            int64_t now, int64_t *id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO consultations (conversation_id, org_id, "
                                      "patient_id, clinician_user_id, scheduled_at, created_at) "
                                      "VALUES (?,?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conversation_id);
    pl_dbs_bind_int64(s, 2, org_id);
    pl_dbs_bind_int64(s, 3, patient_id);
    pl_dbs_bind_int64(s, 4, clinician_user_id);
    bind_opt(s, 5, scheduled_at);
    pl_dbs_bind_int64(s, 6, now);
    int rc = pl__sq_done(st, s, "consult create");
    if (rc == 0) *id = pl_db_last_id(st->db);
    return rc;
}

/* The columns consult_row reads. A call on an advice thread knows its service from the
 * request. */
#define CONSULT_ROW                                                                                \
    "SELECT c.id, c.conversation_id, c.org_id, c.patient_id, c.clinician_user_id, "               \
    "coalesce(c.scheduled_at, 0), c.created_at, coalesce(c.started_at, 0), "                       \
    "coalesce(c.ended_at, 0), c.status, coalesce(ar.service_id, 0), coalesce(c.room_id, 0), "     \
    "coalesce(ck.id, 0) FROM consultations c "                                                     \
    "LEFT JOIN advice_requests ar ON ar.conversation_id = c.conversation_id "                      \
    "LEFT JOIN cases ck ON ck.conversation_id = c.conversation_id "

static int consult_row(pl_store_t *st, pl_dbs_t *s, pl_consult_t *out, const char *what);

int pl_store_consult_get(pl_store_t *st, int64_t id, pl_consult_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, CONSULT_ROW "WHERE c.id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    return consult_row(st, s, out, "consult get");
}

int pl_store_consult_open_call(pl_store_t *st, int64_t conversation_id, pl_consult_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, CONSULT_ROW "WHERE c.conversation_id = ? "
                                      "AND c.status = 'in_call' ORDER BY c.id DESC LIMIT 1");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conversation_id);
    return consult_row(st, s, out, "consult open call");
}

int pl_store_consult_set_room(pl_store_t *st, int64_t id, int64_t room_id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE consultations SET room_id = ? WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, room_id);
    pl_dbs_bind_int64(s, 2, id);
    int rc = pl__sq_done(st, s, "consult set room");
    if (rc == 0 && pl_db_changes(st->db) != 1) rc = -PL_ENOTFOUND;
    return rc;
}

int pl_store_consult_in_room(pl_store_t *st, int64_t room_id, int64_t *ids, int max, int *n)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id FROM consultations WHERE room_id = ? AND "
                                      "status IN ('booked','waiting','in_call') ORDER BY id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, room_id);
    int rc;
    *n = 0;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW)
        if (*n < max) ids[(*n)++] = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    return rc == PL_DB_DONE ? 0 : pl__sq_err(st, rc, "consult in room");
}

static int consult_row(pl_store_t *st, pl_dbs_t *s, pl_consult_t *out, const char *what)
{
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        memset(out, 0, sizeof *out);
        out->id = pl_dbs_int64(s, 0);
        out->conversation_id = pl_dbs_int64(s, 1);
        out->org_id = pl_dbs_int64(s, 2);
        out->patient_id = pl_dbs_int64(s, 3);
        out->clinician_user_id = pl_dbs_int64(s, 4);
        out->scheduled_at = pl_dbs_int64(s, 5);
        out->created_at = pl_dbs_int64(s, 6);
        out->started_at = pl_dbs_int64(s, 7);
        out->ended_at = pl_dbs_int64(s, 8);
        snprintf(out->status, sizeof out->status, "%s", (const char *)pl_dbs_text(s, 9));
        out->peer_org_id = pl_dbs_int64(s, 10);
        out->room_id = pl_dbs_int64(s, 11);
        out->case_id = pl_dbs_int64(s, 12);
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, what);
}

int pl_store_consult_set_status(pl_store_t *st, int64_t id, const char *from, const char *to,
                                int64_t now)
{
    /* Conditional on the status the caller decided from, so a transition is never applied to a
     * consultation that has moved on in the meantime. */
    pl_dbs_t *s = pl__sq_stmt(
        st, "UPDATE consultations SET status = ?2, "
            "started_at = CASE WHEN ?2 = 'in_call' THEN ?4 ELSE started_at END, "
            "ended_at = CASE WHEN ?2 IN ('ended','cancelled') THEN ?4 ELSE ended_at END "
            "WHERE id = ?1 AND status = ?3");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    pl_dbs_bind_text(s, 2, to, -1);
    pl_dbs_bind_text(s, 3, from, -1);
    pl_dbs_bind_int64(s, 4, now);
    int rc = pl__sq_done(st, s, "consult status");
    if (rc < 0 || pl_db_changes(st->db) == 1) return rc;
    pl_consult_t c;
    rc = pl_store_consult_get(st, id, &c);
    return rc < 0 ? rc : -PL_ECONFLICT;
}

/* Columns of every consultation view; consult_row_json reads them in this order. Invited
 * colleagues come as one JSON array per row, in the order they were invited. */
#define CONSULT_SELECT                                                                             \
    "SELECT c.id, c.conversation_id, c.org_id, c.patient_id, p.display_name, "                     \
    "c.clinician_user_id, s.display_name, c.status, c.scheduled_at, c.created_at, "                \
    "c.started_at, c.ended_at, (SELECT json_group_array(json_object('id', i.user_id, "             \
    "'display_name', i.display_name, 'role', i.role, 'waiting', json(i.waiting), "                \
    "'admitted', json(i.admitted))) FROM (SELECT cp.user_id, u.display_name, "                     \
    "coalesce(u.guest_role, 'staff') AS role, "                                                    \
    "CASE WHEN cp.waiting_at IS NOT NULL AND cp.admitted_at IS NULL THEN 'true' ELSE 'false' END " \
    "AS waiting, CASE WHEN cp.admitted_at IS NOT NULL OR u.guest_role IS NULL THEN 'true' "        \
    "ELSE 'false' END AS admitted "                                                                \
    "FROM consult_participants cp JOIN users u ON u.id = cp.user_id "                              \
    "WHERE cp.consultation_id = c.id AND cp.invited_by IS NOT NULL "                               \
    "ORDER BY cp.invited_at, cp.user_id) i), "                                                     \
    "(SELECT json_group_array(json_object('user_id', cp.user_id, 'display_name', u.display_name, " \
    "'role', CASE WHEN cp.user_id = c.patient_id THEN 'patient' "                                  \
    "ELSE coalesce(u.guest_role, 'staff') END)) FROM consult_participants cp "                     \
    "JOIN users u ON u.id = cp.user_id WHERE cp.consultation_id = c.id AND cp.present = 1), "      \
    "c.room_id, (SELECT ar.id FROM advice_requests ar WHERE ar.conversation_id = c.conversation_id), " \
    "(SELECT ck.id FROM cases ck WHERE ck.conversation_id = c.conversation_id) "                   \
    "FROM consultations c JOIN users p ON p.id = c.patient_id "                                    \
    "JOIN users s ON s.id = c.clinician_user_id "

static json_t *consult_row_json(pl_dbs_t *s)
{
    int64_t patient = pl_dbs_int64(s, 3), clinician = pl_dbs_int64(s, 5);
    const char *invited_txt = (const char *)pl_dbs_text(s, 12);
    json_t *invited = invited_txt ? json_loads(invited_txt, 0, NULL) : NULL;
    if (!json_is_array(invited)) {
        json_decref(invited);
        invited = json_array();
    }
    json_t *c = json_pack(
        "{sI sI sI sI s{sI ss} s{sI ss} so ss so sI so so}", "id",
        (json_int_t)pl_dbs_int64(s, 0), "conversation_id",
        (json_int_t)pl_dbs_int64(s, 1), "org_id", (json_int_t)pl_dbs_int64(s, 2),
        "patient_id", (json_int_t)patient, "patient", "id", (json_int_t)patient, "display_name",
        (const char *)pl_dbs_text(s, 4), "clinician", "id", (json_int_t)clinician,
        "display_name", (const char *)pl_dbs_text(s, 6), "invited", invited, "status",
        (const char *)pl_dbs_text(s, 7), "scheduled_at", opt_json(s, 8), "created_at",
        (json_int_t)pl_dbs_int64(s, 9), "started_at", opt_json(s, 10), "ended_at",
        opt_json(s, 11));
    /* Who is in the call now, as the media layer last reported: how a page opened late
     * knows who is already there. */
    const char *present_txt = (const char *)pl_dbs_text(s, 13);
    json_t *present = present_txt ? json_loads(present_txt, 0, NULL) : NULL;
    if (c) json_object_set_new(c, "present", json_is_array(present) ? present : json_array());
    else json_decref(present);
    /* A call on an advice thread names its request; a patient's consultation held in another's
     * room (brought into an advice call) names that room. */
    if (c && pl_dbs_type(s, 15) != PL_DB_NULL)
        json_object_set_new(c, "advice_id", json_integer(pl_dbs_int64(s, 15)));
    if (c && pl_dbs_type(s, 14) != PL_DB_NULL)
        json_object_set_new(c, "room_id", json_integer(pl_dbs_int64(s, 14)));
    /* A case discussion's meeting has room for its members; a consultation for three. */
    bool meeting = pl_dbs_type(s, 16) != PL_DB_NULL;
    if (c && meeting) json_object_set_new(c, "case_id", json_integer(pl_dbs_int64(s, 16)));
    if (c)
        json_object_set_new(c, "capacity",
                            json_integer(meeting ? PL_CASE_MAX_MEMBERS : PL_CONSULT_CAPACITY));
    if (c && pl_dbs_type(s, 10) != PL_DB_NULL && pl_dbs_type(s, 11) != PL_DB_NULL)
        json_object_set_new(
            c, "duration_seconds",
            json_integer((pl_dbs_int64(s, 11) - pl_dbs_int64(s, 10)) / 1000));
    return c;
}

int pl_store_consult_json(pl_store_t *st, int64_t id, json_t **out)
{
    static const char sql[] = CONSULT_SELECT "WHERE c.id = ?";
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    int rc = pl_dbs_step(s);
    json_t *c = rc == PL_DB_ROW ? consult_row_json(s) : NULL;
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) {
        if (!c) return -PL_ENOMEM;
        *out = c;
        return 0;
    }
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "consult json");
}

/* [start, end) of the server's local calendar day holding now, in ms. */
static void local_day(int64_t now, int64_t *start, int64_t *end)
{
    time_t t = (time_t)(now / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    *start = (int64_t)mktime(&tm) * 1000;
    tm.tm_mday++;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    *end = (int64_t)mktime(&tm) * 1000;
}

#define CONSULT_FILTER                                                                             \
    "AND (?2 = 0 OR c.id < ?2) AND (CASE ?3 "                                                      \
    "WHEN 'today' THEN coalesce(c.scheduled_at, c.created_at) >= ?4 "                              \
    "AND coalesce(c.scheduled_at, c.created_at) < ?5 "                                             \
    "WHEN 'upcoming' THEN c.status IN ('booked','waiting','in_call') "                             \
    "ELSE 1 = 1 END) AND NOT EXISTS (SELECT 1 FROM advice_requests ar "                                \
    "WHERE ar.conversation_id = c.conversation_id) AND NOT EXISTS (SELECT 1 FROM cases ck "        \
    "WHERE ck.conversation_id = c.conversation_id) ORDER BY c.id DESC LIMIT ?6"

static int consult_list(pl_store_t *st, pl_dbs_t *s, const char *filter, int64_t before_id,
                        int limit, int64_t now, json_t **out)
{
    int64_t day_start, day_end;
    local_day(now, &day_start, &day_end);
    pl_dbs_bind_int64(s, 2, before_id);
    pl_dbs_bind_text(s, 3, filter ? filter : "all", -1);
    pl_dbs_bind_int64(s, 4, day_start);
    pl_dbs_bind_int64(s, 5, day_end);
    pl_dbs_bind_int(s, 6, limit);
    json_t *arr = json_array();
    int rc, n = 0;
    int64_t last_id = 0;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        n++;
        last_id = pl_dbs_int64(s, 0);
        json_t *c = consult_row_json(s);
        if (c) json_array_append_new(arr, c);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "consult list");
    }
    *out = json_pack("{so so}", "consultations", arr, "next_before",
                     n == limit ? json_integer(last_id) : json_null());
    return *out ? 0 : -PL_ENOMEM;
}

int pl_store_consult_list_org(pl_store_t *st, const int64_t *org_ids, int n_orgs,
                              const char *filter, int64_t before_id, int limit, int64_t now,
                              json_t **out)
{
    static const char sql[] =
        CONSULT_SELECT "WHERE c.org_id IN (SELECT value FROM json_each(?1)) " CONSULT_FILTER;
    if (n_orgs < 1 || n_orgs > PL_ACTOR_MAX_ORGS) return -PL_EINVAL;
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    char ids[PL_ACTOR_MAX_ORGS * 22 + 4];
    size_t n = 0;
    ids[n++] = '[';
    for (int i = 0; i < n_orgs; i++)
        n += (size_t)snprintf(ids + n, sizeof ids - n, "%s%lld", i ? "," : "",
                              (long long)org_ids[i]);
    snprintf(ids + n, sizeof ids - n, "]");
    pl_dbs_bind_text(s, 1, ids, -1);
    return consult_list(st, s, filter, before_id, limit, now, out);
}

int pl_store_consult_list_patient(pl_store_t *st, int64_t patient_id, const char *filter,
                                  int64_t before_id, int limit, int64_t now, json_t **out)
{
    static const char sql[] = CONSULT_SELECT "WHERE c.patient_id = ?1 " CONSULT_FILTER;
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, patient_id);
    return consult_list(st, s, filter, before_id, limit, now, out);
}

/* ---- participants ---- */

int pl_store_consult_invite(pl_store_t *st, int64_t consultation_id, int64_t user_id, int64_t by,
                            int64_t now, bool *added)
{
    *added = false;
    /* Already invited: nothing to do. Otherwise count the others (one transaction on the one
     * storage thread, so two invitations cannot both pass the check). */
    pl_dbs_t *s =
        pl__sq_stmt(st, "SELECT count(*), coalesce(sum(CASE WHEN user_id = ?2 THEN 1 ELSE 0 END), 0) FROM consult_participants "
                        "WHERE consultation_id = ?1 AND invited_by IS NOT NULL");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, consultation_id);
    pl_dbs_bind_int64(s, 2, user_id);
    int rc = pl_dbs_step(s);
    int64_t invited = rc == PL_DB_ROW ? pl_dbs_int64(s, 0) : 0;
    bool already = rc == PL_DB_ROW && pl_dbs_int64(s, 1) > 0;
    pl_dbs_reset(s);
    if (rc != PL_DB_ROW) return pl__sq_err(st, rc, "consult invited count");
    if (already) return 0;
    if (invited >= PL_CONSULT_MAX_INVITED) return -PL_ECONFLICT;
    s = pl__sq_stmt(st, "INSERT INTO consult_participants (consultation_id, user_id, invited_by, "
                        "invited_at) VALUES (?1,?2,?3,?4) ON CONFLICT (consultation_id, user_id) "
                        "DO UPDATE SET invited_by = ?3, invited_at = ?4");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, consultation_id);
    pl_dbs_bind_int64(s, 2, user_id);
    pl_dbs_bind_int64(s, 3, by);
    pl_dbs_bind_int64(s, 4, now);
    if ((rc = pl__sq_done(st, s, "consult invite")) < 0) return rc;
    *added = true;
    return 0;
}

int pl_store_consult_presence(pl_store_t *st, int64_t consultation_id, int64_t user_id,
                              pl_presence_t what, int64_t now)
{
    if (what != PL_CONSULT_JOINED && what != PL_CONSULT_LEFT && what != PL_CONSULT_RECONNECTED)
        return -PL_EINVAL;
    /* joined_at keeps the first join; left_at the latest departure. */
    pl_dbs_t *s = pl__sq_stmt(
        st, "INSERT INTO consult_participants (consultation_id, user_id, joined_at, left_at, "
            "present) VALUES (?1, ?2, CASE WHEN ?3 = 1 THEN CAST(?4 AS BIGINT) END, CASE WHEN "
            "?3 = 1 THEN NULL ELSE CAST(?4 AS BIGINT) END, ?3) ON CONFLICT (consultation_id, user_id) DO UPDATE SET "
            "joined_at = CASE WHEN ?3 = 1 THEN coalesce(consult_participants.joined_at, ?4) "
            "ELSE consult_participants.joined_at END, left_at = CASE WHEN ?3 = 1 THEN "
            "consult_participants.left_at ELSE ?4 END, present = ?3");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, consultation_id);
    pl_dbs_bind_int64(s, 2, user_id);
    pl_dbs_bind_int(s, 3, what != PL_CONSULT_LEFT);
    pl_dbs_bind_int64(s, 4, now);
    return pl__sq_done(st, s, "consult presence");
}

int pl_store_consult_presence_reset(pl_store_t *st)
{
    pl_dbs_t *s =
        pl__sq_stmt(st, "UPDATE consult_participants SET present = 0 WHERE present = 1");
    if (!s) return -PL_EINTERNAL;
    return pl__sq_done(st, s, "consult presence reset");
}

int pl_store_consult_presence_clear_room(pl_store_t *st, int64_t room)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE consult_participants SET present = 0 WHERE present = 1 "
                                  "AND (consultation_id = ?1 OR consultation_id IN (SELECT id "
                                  "FROM consultations WHERE room_id = ?1))");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, room);
    return pl__sq_done(st, s, "consult presence clear");
}

/* ---- guests ---- */

int pl_store_guest_create(pl_store_t *st, const char *display_name, const char *role, int64_t now,
                          int64_t *id)
{
    /* A username nobody chose or will type, and a password hash no password verifies. */
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO users (kind, username, display_name, "
                                      "password_hash, created_at, guest_role) VALUES "
                                      "(2, ?4, ?1, '!', ?2, ?3)");
    if (!s) return -PL_EINTERNAL;
    uint8_t rnd[16];
    char username[48] = "guest:";
    if (pl_random_bytes(rnd, sizeof rnd) != 0) return -PL_EINTERNAL;
    pl_hex_encode(rnd, sizeof rnd, username + 6);
    pl_dbs_bind_text(s, 4, username, -1);
    pl_dbs_bind_text(s, 1, display_name, -1);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_text(s, 3, role, -1);
    int rc = pl__sq_done(st, s, "guest create");
    if (rc == 0) *id = pl_db_last_id(st->db);
    return rc;
}

int pl_store_consult_part_get(pl_store_t *st, int64_t consultation_id, int64_t user_id,
                              pl_consult_part_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT invited_by IS NOT NULL, coalesce(waiting_at, 0), "
                                      "coalesce(admitted_at, 0) FROM consult_participants "
                                      "WHERE consultation_id = ? AND user_id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, consultation_id);
    pl_dbs_bind_int64(s, 2, user_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        out->invited = pl_dbs_int(s, 0) != 0;
        out->waiting_at = pl_dbs_int64(s, 1);
        out->admitted_at = pl_dbs_int64(s, 2);
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "consult part get");
}

/* Runs one stamping UPDATE (sql binds consultation, user, now). When it changes nothing, tells
 * "already so" (0, *moved false) from "not invited" (-PL_ECONFLICT). */
static int part_stamp(pl_store_t *st, const char *sql, const char *what, int64_t consultation_id,
                      int64_t user_id, int64_t now, bool *moved)
{
    *moved = false;
    pl_dbs_t *s = pl__sq_stmt(st, sql);
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, consultation_id);
    pl_dbs_bind_int64(s, 2, user_id);
    pl_dbs_bind_int64(s, 3, now);
    int rc = pl__sq_done(st, s, what);
    if (rc < 0) return rc;
    if (pl_db_changes(st->db) == 1) {
        *moved = true;
        return 0;
    }
    pl_consult_part_t p;
    rc = pl_store_consult_part_get(st, consultation_id, user_id, &p);
    if (rc == -PL_ENOTFOUND || (rc == 0 && !p.invited)) return -PL_ECONFLICT;
    return rc;
}

int pl_store_consult_part_wait(pl_store_t *st, int64_t consultation_id, int64_t user_id,
                               int64_t now, bool *moved)
{
    return part_stamp(st,
                      "UPDATE consult_participants SET waiting_at = ?3 WHERE consultation_id = ?1 "
                      "AND user_id = ?2 AND invited_by IS NOT NULL AND waiting_at IS NULL AND "
                      "admitted_at IS NULL",
                      "consult part wait", consultation_id, user_id, now, moved);
}

int pl_store_consult_part_admit(pl_store_t *st, int64_t consultation_id, int64_t user_id,
                                int64_t now, bool *moved)
{
    return part_stamp(st,
                      "UPDATE consult_participants SET admitted_at = ?3 WHERE consultation_id = ?1 "
                      "AND user_id = ?2 AND invited_by IS NOT NULL AND admitted_at IS NULL",
                      "consult part admit", consultation_id, user_id, now, moved);
}

/* ---- join links ---- */

int pl_store_consult_link_create(pl_store_t *st, int64_t consultation_id, int64_t guest_id,
                                 const char *token_hash, int64_t now, int64_t expires_at,
                                 int64_t *id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO consult_links (consultation_id, token_hash, "
                                      "created_at, expires_at, user_id) VALUES (?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, consultation_id);
    pl_dbs_bind_text(s, 2, token_hash, -1);
    pl_dbs_bind_int64(s, 3, now);
    pl_dbs_bind_int64(s, 4, expires_at);
    if (guest_id > 0)
        pl_dbs_bind_int64(s, 5, guest_id);
    else
        pl_dbs_bind_null(s, 5);
    int rc = pl__sq_done(st, s, "consult link create");
    if (rc == 0 && id) *id = pl_db_last_id(st->db);
    return rc;
}

int pl_store_consult_links_revoke(pl_store_t *st, int64_t consultation_id, int64_t guest_id)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE consult_links SET revoked = 1 WHERE "
                                      "consultation_id = ?1 AND revoked = 0 AND "
                                      "(?2 < 0 OR coalesce(user_id, 0) = ?2)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, consultation_id);
    pl_dbs_bind_int64(s, 2, guest_id);
    return pl__sq_done(st, s, "consult links revoke");
}

int pl_store_consult_link_find(pl_store_t *st, const char *token_hash, pl_consult_link_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, consultation_id, created_at, expires_at, "
                                      "coalesce(claimed_at, 0), device_hash, dob_failures, "
                                      "revoked, coalesce(user_id, 0) FROM consult_links "
                                      "WHERE token_hash = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, token_hash, -1);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        memset(out, 0, sizeof *out);
        out->id = pl_dbs_int64(s, 0);
        out->consultation_id = pl_dbs_int64(s, 1);
        out->created_at = pl_dbs_int64(s, 2);
        out->expires_at = pl_dbs_int64(s, 3);
        out->claimed_at = pl_dbs_int64(s, 4);
        const char *dev = (const char *)pl_dbs_text(s, 5);
        snprintf(out->device_hash, sizeof out->device_hash, "%s", dev ? dev : "");
        out->dob_failures = pl_dbs_int(s, 6);
        out->revoked = pl_dbs_int(s, 7) != 0;
        out->guest_id = pl_dbs_int64(s, 8);
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "consult link find");
}

int pl_store_consult_link_fail(pl_store_t *st, int64_t link_id, int *failures)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE consult_links SET dob_failures = dob_failures + 1 "
                                      "WHERE id = ? RETURNING dob_failures");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, link_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *failures = pl_dbs_int(s, 0);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "consult link fail");
}

int pl_store_consult_link_claim(pl_store_t *st, int64_t link_id, const char *device_hash,
                                int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE consult_links SET device_hash = ?, claimed_at = ? "
                                      "WHERE id = ? AND device_hash IS NULL");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, device_hash, -1);
    pl_dbs_bind_int64(s, 2, now);
    pl_dbs_bind_int64(s, 3, link_id);
    int rc = pl__sq_done(st, s, "consult link claim");
    if (rc < 0 || pl_db_changes(st->db) == 1) return rc;
    s = pl__sq_stmt(st, "SELECT count(*) FROM consult_links WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, link_id);
    rc = pl_dbs_step(s);
    int64_t n = rc == PL_DB_ROW ? pl_dbs_int64(s, 0) : 0;
    pl_dbs_reset(s);
    if (rc != PL_DB_ROW) return pl__sq_err(st, rc, "consult link exists");
    return n ? -PL_ECONFLICT : -PL_ENOTFOUND;
}

/* ---- patients and scoped sessions ---- */

int pl_store_patient_dob(pl_store_t *st, int64_t user_id, char out[16])
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT dob FROM patients WHERE user_id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, user_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) {
        const char *d = (const char *)pl_dbs_text(s, 0);
        snprintf(out, 16, "%s", d ? d : "");
    }
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "patient dob");
}

int pl_store_session_create_scoped(pl_store_t *st, const char *token_hash, int64_t user_id,
                                   int64_t consultation_id, int64_t now, int64_t expires_at)
{
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO sessions (token_hash, user_id, created_at, "
                                      "last_seen_at, expires_at, scope_consultation_id) "
                                      "VALUES (?,?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, token_hash, -1);
    pl_dbs_bind_int64(s, 2, user_id);
    pl_dbs_bind_int64(s, 3, now);
    pl_dbs_bind_int64(s, 4, now);
    pl_dbs_bind_int64(s, 5, expires_at);
    pl_dbs_bind_int64(s, 6, consultation_id);
    return pl__sq_done(st, s, "session create scoped");
}

int pl_store_session_scope(pl_store_t *st, const char *token_hash, int64_t *consultation_id)
{
    pl_dbs_t *s = pl__sq_stmt(
        st, "SELECT coalesce(scope_consultation_id, 0) FROM sessions WHERE token_hash = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_text(s, 1, token_hash, -1);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) *consultation_id = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "session scope");
}
