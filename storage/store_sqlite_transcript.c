/* SQLite backend: the record side of transcripts. Messages marked entered in error (never
 * deleted), filed versions of a conversation's transcript, and the outbox of what is still to be
 * written back to the record system. Clinical text here is sealed like every message body: the
 * reason a message was marked (AAD "msgerr:<conversation>"), a filing's HTML rendering
 * ("filing:<conversation>") and an outbox Bundle ("outbox:<filing>"). */
#include "core/err.h"
#include "core/util.h"
#include "storage/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- entered in error ---- */

int pl_store_msg_mark_error(pl_store_t *st, int64_t msg_id, int64_t by, const char *reason,
                            int64_t now, pl_msg_t *out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT conversation_id, seq, sender_id, internal, "
                                      "created_at, error_at IS NOT NULL FROM messages WHERE id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, msg_id);
    int rc = pl_dbs_step(s);
    bool marked = false;
    if (rc == PL_DB_ROW) {
        memset(out, 0, sizeof *out);
        out->id = msg_id;
        out->conversation_id = pl_dbs_int64(s, 0);
        out->seq = pl_dbs_int64(s, 1);
        out->sender_id = pl_dbs_int64(s, 2);
        out->internal = pl_dbs_int(s, 3) != 0;
        out->created_at = pl_dbs_int64(s, 4);
        marked = pl_dbs_int(s, 5) != 0;
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_ROW) return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "msg get");
    if (!reason) return 0; /* a look only */
    if (marked) return -PL_ECONFLICT;
    s = pl__sq_stmt(st, "UPDATE messages SET error_by = ?, error_at = ?, error_reason = ? "
                        "WHERE id = ? AND error_at IS NULL");
    if (!s) return -PL_EINTERNAL;
    char aad[48];
    snprintf(aad, sizeof aad, "msgerr:%lld", (long long)out->conversation_id);
    pl_dbs_bind_int64(s, 1, by);
    pl_dbs_bind_int64(s, 2, now);
    int64_t org = 0;
    if ((rc = pl__sq_conv_org(st, out->conversation_id, &org)) < 0) return rc;
    if ((rc = pl__sq_seal_bind(st, s, 3, org, aad, reason, strlen(reason))) < 0) return rc;
    pl_dbs_bind_int64(s, 4, msg_id);
    if ((rc = pl__sq_done(st, s, "msg mark error")) < 0) return rc;
    return pl_db_changes(st->db) == 1 ? 0 : -PL_ECONFLICT;
}

/* ---- filings ---- */

int pl_store_filing_create(pl_store_t *st, const pl_filing_new_t *n, int64_t *id, int *version)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, version FROM filings WHERE conversation_id = ? "
                                      "ORDER BY version DESC LIMIT 1");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, n->conversation_id);
    int rc = pl_dbs_step(s);
    int64_t prev = 0;
    int v = 1;
    if (rc == PL_DB_ROW) {
        prev = pl_dbs_int64(s, 0);
        v = pl_dbs_int(s, 1) + 1;
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_ROW && rc != PL_DB_DONE) return pl__sq_err(st, rc, "filing latest");
    s = pl__sq_stmt(st, "INSERT INTO filings (conversation_id, patient_id, org_id, version, "
                        "replaces_id, filed_by, filed_at, parts, summary_code, summary_display, "
                        "html) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    if (!s) return -PL_EINTERNAL;
    char aad[48];
    snprintf(aad, sizeof aad, "filing:%lld", (long long)n->conversation_id);
    pl_dbs_bind_int64(s, 1, n->conversation_id);
    pl_dbs_bind_int64(s, 2, n->patient_id);
    pl_dbs_bind_int64(s, 3, n->org_id);
    pl_dbs_bind_int(s, 4, v);
    if (prev) pl_dbs_bind_int64(s, 5, prev);
    else pl_dbs_bind_null(s, 5);
    pl_dbs_bind_int64(s, 6, n->filed_by);
    pl_dbs_bind_int64(s, 7, n->now);
    pl_dbs_bind_text(s, 8, n->parts, -1);
    if (n->summary_code) pl_dbs_bind_text(s, 9, n->summary_code, -1);
    else pl_dbs_bind_null(s, 9);
    if (n->summary_display) pl_dbs_bind_text(s, 10, n->summary_display, -1);
    else pl_dbs_bind_null(s, 10);
    if ((rc = pl__sq_seal_bind(st, s, 11, n->org_id, aad, n->html, strlen(n->html))) < 0) return rc;
    if ((rc = pl__sq_done(st, s, "filing create")) < 0) return rc;
    *id = pl_db_last_id(st->db);
    if (version) *version = v;
    return 0;
}

/* One filing row as the record shows it ("html" included when with_html). */
static json_t *filing_json(pl_store_t *st, pl_dbs_t *s, bool with_html)
{
    int64_t conv = pl_dbs_int64(s, 1);
    json_t *parts = json_loads((const char *)pl_dbs_text(s, 7), 0, NULL);
    json_t *f = json_pack("{sI sI si sI sI so}", "id", (json_int_t)pl_dbs_int64(s, 0),
                          "conversation_id", (json_int_t)conv, "version", pl_dbs_int(s, 2),
                          "filed_by", (json_int_t)pl_dbs_int64(s, 4), "filed_at",
                          (json_int_t)pl_dbs_int64(s, 5), "parts",
                          json_is_array(parts) ? parts : json_array());
    if (!json_is_array(parts)) json_decref(parts);
    if (!f) return NULL;
    if (pl_dbs_type(s, 3) != PL_DB_NULL)
        json_object_set_new(f, "replaces_id", json_integer(pl_dbs_int64(s, 3)));
    if (pl_dbs_type(s, 8) != PL_DB_NULL)
        json_object_set_new(f, "summary",
                            json_pack("{ss ss}", "code", (const char *)pl_dbs_text(s, 8),
                                      "display", pl_dbs_text(s, 9)
                                                     ? (const char *)pl_dbs_text(s, 9)
                                                     : ""));
    if (pl_dbs_type(s, 11) != PL_DB_NULL)
        json_object_set_new(f, "outbox", json_string((const char *)pl_dbs_text(s, 11)));
    if (with_html) {
        char aad[48], *html = NULL;
        size_t n = 0;
        snprintf(aad, sizeof aad, "filing:%lld", (long long)conv);
        if (pl__sq_open_col(st, s, 10, aad, &html, &n) < 0) {
            json_decref(f);
            return NULL;
        }
        json_object_set_new(f, "html", json_string(html));
        pl_wipe(html, n);
        free(html);
    }
    return f;
}

#define FILING_COLS                                                                                \
    "SELECT f.id, f.conversation_id, f.version, f.replaces_id, f.filed_by, f.filed_at, "          \
    "f.patient_id, f.parts, f.summary_code, f.summary_display, f.html, o.status FROM filings f "  \
    "LEFT JOIN outbox o ON o.filing_id = f.id "

static int filing_list(pl_store_t *st, pl_dbs_t *s, bool with_html, json_t **out)
{
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        json_t *f = filing_json(st, s, with_html);
        if (!f) {
            rc = PL_DB_ERROR;
            break;
        }
        json_array_append_new(arr, f);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return rc == PL_DB_ERROR ? -PL_ECRYPTO : pl__sq_err(st, rc, "filings");
    }
    *out = arr;
    return 0;
}

int pl_store_filings_of_conv(pl_store_t *st, int64_t conv_id, bool with_html, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, FILING_COLS "WHERE f.conversation_id = ? ORDER BY f.version");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv_id);
    return filing_list(st, s, with_html, out);
}

int pl_store_filings_of_patient(pl_store_t *st, int64_t patient_id, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, FILING_COLS "WHERE f.patient_id = ? ORDER BY f.id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, patient_id);
    return filing_list(st, s, true, out);
}

/* ---- the outbox ---- */

int pl_store_outbox_add(pl_store_t *st, int64_t filing_id, int64_t org_id, const json_t *bundle,
                        int64_t now)
{
    char *txt = json_dumps(bundle, JSON_COMPACT);
    if (!txt) return -PL_ENOMEM;
    pl_dbs_t *s = pl__sq_stmt(st, "INSERT INTO outbox (filing_id, org_id, bundle, next_at, "
                                      "created_at) VALUES (?,?,?,?,?)");
    int rc = s ? 0 : -PL_EINTERNAL;
    char aad[48];
    snprintf(aad, sizeof aad, "outbox:%lld", (long long)filing_id);
    if (rc == 0) {
        pl_dbs_bind_int64(s, 1, filing_id);
        pl_dbs_bind_int64(s, 2, org_id);
        rc = pl__sq_seal_bind(st, s, 3, org_id, aad, txt, strlen(txt));
    }
    pl_wipe(txt, strlen(txt));
    free(txt);
    if (rc < 0) return rc;
    pl_dbs_bind_int64(s, 4, now);
    pl_dbs_bind_int64(s, 5, now);
    return pl__sq_done(st, s, "outbox add");
}

int pl_store_outbox_due(pl_store_t *st, int64_t now, int limit, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, filing_id, org_id, attempts, bundle FROM outbox "
                                      "WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, "
                                      "id LIMIT ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, now);
    pl_dbs_bind_int(s, 2, limit);
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        int64_t filing = pl_dbs_int64(s, 1);
        char aad[48];
        snprintf(aad, sizeof aad, "outbox:%lld", (long long)filing);
        json_t *bundle = pl__sq_open_json(st, s, 4, aad);
        if (!bundle) {
            rc = PL_DB_ERROR;
            break;
        }
        json_array_append_new(arr, json_pack("{sI sI sI si so}", "id",
                                             (json_int_t)pl_dbs_int64(s, 0), "filing_id",
                                             (json_int_t)filing, "org_id",
                                             (json_int_t)pl_dbs_int64(s, 2), "attempts",
                                             pl_dbs_int(s, 3), "bundle", bundle));
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return rc == PL_DB_ERROR ? -PL_ECRYPTO : pl__sq_err(st, rc, "outbox due");
    }
    *out = arr;
    return 0;
}

int pl_store_outbox_result(pl_store_t *st, int64_t id, const char *status, int attempts,
                           int64_t next_at, const char *error, int64_t now)
{
    pl_dbs_t *s = pl__sq_stmt(st, "UPDATE outbox SET status = ?2, attempts = ?3, next_at = ?4, "
                                      "last_error = ?5, sent_at = CASE WHEN ?2 = 'sent' THEN ?6 "
                                      "ELSE sent_at END WHERE id = ?1 AND status = 'pending'");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, id);
    pl_dbs_bind_text(s, 2, status, -1);
    pl_dbs_bind_int(s, 3, attempts);
    pl_dbs_bind_int64(s, 4, next_at);
    if (error) pl_dbs_bind_text(s, 5, error, -1);
    else pl_dbs_bind_null(s, 5);
    pl_dbs_bind_int64(s, 6, now);
    int rc = pl__sq_done(st, s, "outbox result");
    if (rc == 0 && pl_db_changes(st->db) != 1) rc = -PL_ECONFLICT;
    return rc;
}

int pl_store_outbox_summary(pl_store_t *st, int64_t org_id, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT coalesce(sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0), "
                                      "coalesce(sum(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0), "
                                      "coalesce(sum(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0) FROM outbox WHERE org_id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, org_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW)
        *out = json_pack("{sI sI sI}", "pending", (json_int_t)pl_dbs_int64(s, 0), "dead",
                         (json_int_t)pl_dbs_int64(s, 1), "sent",
                         (json_int_t)pl_dbs_int64(s, 2));
    pl_dbs_reset(s);
    return rc == PL_DB_ROW ? 0 : pl__sq_err(st, rc, "outbox summary");
}

/* ---- a conversation's events, for its transcript ---- */

int pl_store_conv_events(pl_store_t *st, int64_t conv_id, bool staff_only_too, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, type, payload, created_at, staff_only FROM "
                                      "events WHERE conversation_id = ?1 AND (?2 = 1 OR "
                                      "staff_only = 0) ORDER BY id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv_id);
    pl_dbs_bind_int(s, 2, staff_only_too);
    char aad[48];
    snprintf(aad, sizeof aad, "event:%lld", (long long)conv_id);
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        json_t *payload = pl__sq_open_json(st, s, 2, aad);
        if (!payload) payload = json_object(); /* logged by the opener */
        json_array_append_new(arr, json_pack("{sI ss so sI sb}", "cursor",
                                             (json_int_t)pl_dbs_int64(s, 0), "type",
                                             (const char *)pl_dbs_text(s, 1), "payload",
                                             payload, "at", (json_int_t)pl_dbs_int64(s, 3),
                                             "staff_only", pl_dbs_int(s, 4) != 0));
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "conversation events");
    }
    *out = arr;
    return 0;
}

int pl_store_patient_nhs(pl_store_t *st, int64_t user_id, char out[16])
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT nhs_number FROM patients WHERE user_id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, user_id);
    int rc = pl_dbs_step(s);
    if (rc == PL_DB_ROW) snprintf(out, 16, "%s", (const char *)pl_dbs_text(s, 0));
    pl_dbs_reset(s);
    if (rc == PL_DB_ROW) return 0;
    return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "patient nhs");
}
