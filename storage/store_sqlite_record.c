/* SQLite backend: one patient's record, gathered for export (storage/fhir.c turns it into a
 * FHIR R4 Bundle). Everything Parley holds about the patient's care, opened from its sealed
 * columns: the patient, every conversation of theirs of every kind (requests, video, advice
 * threads, case discussions) with its messages (not the practice's internal notes, which are
 * working notes between staff and not communications) and their attachments, consultations,
 * advice requests with the consent recorded on them, case discussions, and everyone and every
 * organisation these name. The shape is documented in storage/store.h. */
#include "core/err.h"
#include "core/util.h"
#include "storage/sqlite_internal.h"

#include <openssl/sha.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Remembers a user id the record names (people are loaded at the end). */
static void name_person(json_t *people, int64_t id)
{
    if (id <= 0) return;
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)id);
    json_object_set_new(people, key, json_true());
}

static void name_org(json_t *orgs, int64_t id)
{
    name_person(orgs, id);
}

static json_t *opt_int(pl_dbs_t *s, int col)
{
    return pl_dbs_type(s, col) == PL_DB_NULL ? NULL
                                                      : json_integer(pl_dbs_int64(s, col));
}

static void set_opt(json_t *o, const char *key, json_t *v)
{
    if (v) json_object_set_new(o, key, v);
}

static int messages_of(pl_store_t *st, int64_t conv_id, json_t *people, json_t **out)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id, seq, sender_id, body, created_at, error_by, "
                                      "error_at, error_reason FROM messages "
                                      "WHERE conversation_id = ? AND internal = 0 ORDER BY seq, id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, conv_id);
    char aad[48];
    snprintf(aad, sizeof aad, "msg:%lld", (long long)conv_id);
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        char *body = NULL;
        size_t n = 0;
        if (pl__sq_open_col(st, s, 3, aad, &body, &n) < 0) {
            rc = PL_DB_ERROR;
            break;
        }
        int64_t sender = pl_dbs_int64(s, 2);
        name_person(people, sender);
        json_array_append_new(arr, json_pack("{sI sI sI ss sI}", "id",
                                             (json_int_t)pl_dbs_int64(s, 0), "seq",
                                             (json_int_t)pl_dbs_int64(s, 1), "sender_id",
                                             (json_int_t)sender, "body", body, "created_at",
                                             (json_int_t)pl_dbs_int64(s, 4)));
        pl_wipe(body, n);
        free(body);
        if (pl_dbs_type(s, 6) != PL_DB_NULL) {
            char eaad[48], *why = NULL;
            size_t wn = 0;
            snprintf(eaad, sizeof eaad, "msgerr:%lld", (long long)conv_id);
            if (pl__sq_open_col(st, s, 7, eaad, &why, &wn) < 0) {
                rc = PL_DB_ERROR;
                break;
            }
            int64_t by = pl_dbs_int64(s, 5);
            name_person(people, by);
            json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "entered_in_error",
                                json_pack("{sI sI ss}", "by", (json_int_t)by, "at",
                                          (json_int_t)pl_dbs_int64(s, 6), "reason", why));
            pl_wipe(why, wn);
            free(why);
        }
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return rc == PL_DB_ERROR ? -PL_ECRYPTO : pl__sq_err(st, rc, "record messages");
    }
    /* Their attachments, as the messages carry them everywhere else. */
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        json_t *att = NULL;
        int arc = pl_store_attach_of_msg(st, json_integer_value(json_object_get(m, "id")), &att);
        if (arc < 0) {
            json_decref(arr);
            return arc;
        }
        /* With their SHA-256: the record says which bytes were sent. */
        size_t j;
        json_t *x;
        json_array_foreach(att, j, x)
        {
            pl_attachment_t a;
            if ((arc = pl_store_attach_get(st, json_integer_value(json_object_get(x, "id")), &a)) < 0) {
                json_decref(att);
                json_decref(arr);
                return arc;
            }
            json_object_set_new(x, "sha256", json_string(a.sha256));
            pl_wipe(a.filename, sizeof a.filename);
            /* FHIR R4's Attachment.hash is SHA-1 of the bytes, base64: opened here to work it
             * out (a blob that will not open is exported without it). */
            uint8_t *bytes = NULL;
            size_t blen = 0;
            if (pl_store_blob_read(st, a.sha256, &bytes, &blen) == 0) {
                uint8_t d[SHA_DIGEST_LENGTH];
                SHA1(bytes, blen, d);
                char *b64 = pl_b64_encode(d, sizeof d);
                if (b64) json_object_set_new(x, "sha1", json_string(b64));
                free(b64);
                pl_wipe(bytes, blen);
                free(bytes);
            }
        }
        json_object_set_new(m, "attachments", att);
    }
    *out = arr;
    return 0;
}

static int conversations_of(pl_store_t *st, int64_t patient_id, json_t *rec, json_t *people,
                            json_t *orgs)
{
    pl_dbs_t *s = pl__sq_stmt(
        st, "SELECT c.id, c.org_id, c.kind, c.subject, c.status, c.created_at, c.updated_at, "
            "a.service_id, k.id FROM conversations c "
            "LEFT JOIN advice_requests a ON a.conversation_id = c.id "
            "LEFT JOIN cases k ON k.conversation_id = c.id WHERE c.patient_id = ? ORDER BY c.id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, patient_id);
    char aad[48];
    snprintf(aad, sizeof aad, "conv:%lld", (long long)patient_id);
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        char *subject = NULL;
        size_t n = 0;
        if (pl__sq_open_col(st, s, 3, aad, &subject, &n) < 0) {
            rc = PL_DB_ERROR;
            break;
        }
        int64_t org = pl_dbs_int64(s, 1);
        name_org(orgs, org);
        json_t *c = json_pack("{sI sI ss ss ss sI sI}", "id", (json_int_t)pl_dbs_int64(s, 0),
                              "org_id", (json_int_t)org, "kind",
                              (const char *)pl_dbs_text(s, 2), "subject", subject, "status",
                              (const char *)pl_dbs_text(s, 4), "created_at",
                              (json_int_t)pl_dbs_int64(s, 5), "updated_at",
                              (json_int_t)pl_dbs_int64(s, 6));
        json_t *peer = opt_int(s, 7);
        if (peer) name_org(orgs, json_integer_value(peer));
        set_opt(c, "peer_org_id", peer);
        set_opt(c, "case_id", opt_int(s, 8));
        json_array_append_new(arr, c);
        pl_wipe(subject, n);
        free(subject);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return rc == PL_DB_ERROR ? -PL_ECRYPTO : pl__sq_err(st, rc, "record conversations");
    }
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        json_t *msgs = NULL;
        int mrc = messages_of(st, json_integer_value(json_object_get(c, "id")), people, &msgs);
        if (mrc < 0) {
            json_decref(arr);
            return mrc;
        }
        json_object_set_new(c, "messages", msgs);
    }
    json_object_set_new(rec, "conversations", arr);
    return 0;
}

static int consultations_of(pl_store_t *st, int64_t patient_id, json_t *rec, json_t *people,
                            json_t *orgs)
{
    pl_dbs_t *s = pl__sq_stmt(
        st, "SELECT c.id, c.conversation_id, c.org_id, c.status, c.clinician_user_id, "
            "c.created_at, c.started_at, c.ended_at, ar.id, ck.id, (SELECT json_group_array("
            "cp.user_id) FROM consult_participants cp WHERE cp.consultation_id = c.id AND "
            "cp.joined_at IS NOT NULL) FROM consultations c "
            "LEFT JOIN advice_requests ar ON ar.conversation_id = c.conversation_id "
            "LEFT JOIN cases ck ON ck.conversation_id = c.conversation_id "
            "WHERE c.patient_id = ? ORDER BY c.id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, patient_id);
    json_t *arr = json_array();
    int rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
        int64_t clin = pl_dbs_int64(s, 4);
        name_person(people, clin);
        name_org(orgs, pl_dbs_int64(s, 2));
        const char *joined = (const char *)pl_dbs_text(s, 10);
        json_t *parts = joined ? json_loads(joined, 0, NULL) : NULL;
        if (!json_is_array(parts)) {
            json_decref(parts);
            parts = json_array();
        }
        size_t i;
        json_t *p;
        json_array_foreach(parts, i, p) name_person(people, json_integer_value(p));
        json_t *k = json_pack("{sI sI sI ss sI sI so}", "id",
                              (json_int_t)pl_dbs_int64(s, 0), "conversation_id",
                              (json_int_t)pl_dbs_int64(s, 1), "org_id",
                              (json_int_t)pl_dbs_int64(s, 2), "status",
                              (const char *)pl_dbs_text(s, 3), "clinician_id",
                              (json_int_t)clin, "created_at",
                              (json_int_t)pl_dbs_int64(s, 5), "participants", parts);
        set_opt(k, "started_at", opt_int(s, 6));
        set_opt(k, "ended_at", opt_int(s, 7));
        set_opt(k, "advice_id", opt_int(s, 8));
        set_opt(k, "case_id", opt_int(s, 9));
        json_array_append_new(arr, k);
    }
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE) {
        json_decref(arr);
        return pl__sq_err(st, rc, "record consultations");
    }
    json_object_set_new(rec, "consultations", arr);
    return 0;
}

static int advice_of(pl_store_t *st, int64_t patient_id, int64_t now, json_t *rec, json_t *people,
                     json_t *orgs)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id FROM advice_requests WHERE patient_id = ? "
                                      "ORDER BY id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, patient_id);
    int64_t ids[256];
    int n = 0, rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW && n < 256) ids[n++] = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE && rc != PL_DB_ROW) return pl__sq_err(st, rc, "record advice");
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        pl_advice_t a;
        json_t *v = NULL;
        if ((rc = pl_store_advice_get(st, ids[i], &a)) < 0 ||
            (rc = pl_store_advice_json(st, ids[i], now, &v)) < 0) {
            json_decref(arr);
            return rc;
        }
        name_person(people, a.created_by);
        name_person(people, a.specialist_id);
        json_t *consent = json_object_get(v, "consent");
        int64_t consent_by = json_integer_value(json_object_get(consent, "recorded_by"));
        name_person(people, consent_by);
        name_org(orgs, a.practice_id);
        name_org(orgs, a.service_id);
        json_t *x = json_pack("{sI sI sI sI ss ss ss sO sO sI sI sI sI sI}", "id", (json_int_t)a.id,
                              "conversation_id", (json_int_t)a.conversation_id, "practice_id",
                              (json_int_t)a.practice_id, "service_id", (json_int_t)a.service_id,
                              "specialty", a.specialty, "urgency", a.urgency, "status", a.status,
                              "question", json_object_get(v, "question"), "summary",
                              json_object_get(v, "summary"), "created_by",
                              (json_int_t)a.created_by, "created_at", (json_int_t)a.created_at,
                              "due_at", (json_int_t)a.due_at, "consent_by",
                              (json_int_t)consent_by, "consent_at",
                              (json_int_t)json_integer_value(json_object_get(consent, "recorded_at")));
        if (a.closed_at) json_object_set_new(x, "closed_at", json_integer(a.closed_at));
        if (a.outcome[0]) json_object_set_new(x, "outcome", json_string(a.outcome));
        if (a.specialist_id) json_object_set_new(x, "specialist_id", json_integer(a.specialist_id));
        json_decref(v);
        json_array_append_new(arr, x);
    }
    json_object_set_new(rec, "advice", arr);
    return 0;
}

static int cases_of(pl_store_t *st, int64_t patient_id, json_t *rec, json_t *people, json_t *orgs)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT id FROM cases WHERE patient_id = ? ORDER BY id");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, patient_id);
    int64_t ids[256];
    int n = 0, rc;
    while ((rc = pl_dbs_step(s)) == PL_DB_ROW && n < 256) ids[n++] = pl_dbs_int64(s, 0);
    pl_dbs_reset(s);
    if (rc != PL_DB_DONE && rc != PL_DB_ROW) return pl__sq_err(st, rc, "record cases");
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *v = NULL;
        if ((rc = pl_store_case_json(st, ids[i], &v)) < 0) {
            json_decref(arr);
            return rc;
        }
        json_t *members = json_array(), *m;
        size_t j;
        json_array_foreach(json_object_get(v, "members"), j, m)
        {
            int64_t uid = json_integer_value(json_object_get(m, "user_id"));
            name_person(people, uid);
            name_org(orgs, json_integer_value(json_object_get(json_object_get(m, "org"), "id")));
            json_array_append_new(members, json_integer(uid));
        }
        int64_t by = json_integer_value(json_object_get(json_object_get(v, "created_by"), "id"));
        name_person(people, by);
        json_t *x = json_pack("{sO sO sO sO sO sI sO so}", "id", json_object_get(v, "id"),
                              "conversation_id", json_object_get(v, "conversation_id"), "org_id",
                              json_object_get(json_object_get(v, "org"), "id"), "title",
                              json_object_get(v, "title"), "status", json_object_get(v, "status"),
                              "created_by", (json_int_t)by, "created_at",
                              json_object_get(v, "created_at"), "members", members);
        if (json_is_integer(json_object_get(v, "closed_at")))
            json_object_set(x, "closed_at", json_object_get(v, "closed_at"));
        json_decref(v);
        json_array_append_new(arr, x);
    }
    json_object_set_new(rec, "cases", arr);
    return 0;
}

/* Filed transcripts (conversation.file), each version with its rendering. */
static int filings_of(pl_store_t *st, int64_t patient_id, json_t *rec, json_t *people)
{
    json_t *arr = NULL;
    int rc = pl_store_filings_of_patient(st, patient_id, &arr);
    if (rc < 0) return rc;
    size_t i;
    json_t *f;
    json_array_foreach(arr, i, f)
    {
        name_person(people, json_integer_value(json_object_get(f, "filed_by")));
        json_object_del(f, "outbox");
        json_object_del(f, "parts");
    }
    json_object_set_new(rec, "filings", arr);
    return 0;
}

/* Everyone the record names, whatever has happened to their account since (a disabled
 * account still wrote what it wrote): staff with their roles, the patient, guests. */
static int people_of(pl_store_t *st, json_t *ids, json_t *rec, json_t *orgs)
{
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT u.display_name, u.kind, u.guest_role, "
                                      "(SELECT json_group_array(json_array(m.org_id, m.roles)) "
                                      "FROM memberships m WHERE m.user_id = u.id) "
                                      "FROM users u WHERE u.id = ?");
    if (!s) return -PL_EINTERNAL;
    json_t *arr = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(ids, key, v)
    {
        int64_t id = strtoll(key, NULL, 10);
        pl_dbs_bind_int64(s, 1, id);
        int rc = pl_dbs_step(s);
        if (rc != PL_DB_ROW) {
            pl_dbs_reset(s);
            if (rc == PL_DB_DONE) continue;
            json_decref(arr);
            return pl__sq_err(st, rc, "record people");
        }
        bool guest = pl_dbs_type(s, 2) != PL_DB_NULL;
        /* users.kind: 1 patient, 2 staff (a guest is a kind-2 row with a guest role). */
        const char *kind = guest ? "guest" : pl_dbs_int(s, 1) == 1 ? "patient" : "staff";
        json_t *p = json_pack("{sI ss ss}", "id", (json_int_t)id, "display_name",
                              (const char *)pl_dbs_text(s, 0), "kind", kind);
        if (guest)
            json_object_set_new(p, "guest_role",
                                json_string((const char *)pl_dbs_text(s, 2)));
        json_t *roles = json_array(), *ms = json_loads((const char *)pl_dbs_text(s, 3), 0,
                                                       NULL), *m;
        size_t i;
        json_array_foreach(ms, i, m)
        {
            int64_t org = json_integer_value(json_array_get(m, 0));
            unsigned bits = (unsigned)json_integer_value(json_array_get(m, 1));
            name_org(orgs, org);
            for (int b = 0; b < PL_ROLE_COUNT; b++)
                if (bits & (1u << b))
                    json_array_append_new(roles, json_pack("{sI ss}", "org_id", (json_int_t)org,
                                                           "role", pl_role_name(1u << b)));
        }
        json_decref(ms);
        pl_dbs_reset(s);
        json_object_set_new(p, "roles", roles);
        json_array_append_new(arr, p);
    }
    json_object_set_new(rec, "people", arr);
    return 0;
}

static int orgs_of(pl_store_t *st, json_t *ids, json_t *rec)
{
    json_t *arr = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(ids, key, v)
    {
        pl_org_t o;
        int rc = pl_store_org_get(st, strtoll(key, NULL, 10), &o);
        if (rc == -PL_ENOTFOUND) continue;
        if (rc < 0) {
            json_decref(arr);
            return rc;
        }
        json_array_append_new(arr, json_pack("{sI ss ss ss}", "id", (json_int_t)o.id, "code",
                                             o.code, "name", o.name, "kind", o.kind));
    }
    json_object_set_new(rec, "organisations", arr);
    return 0;
}

int pl_store_patient_record(pl_store_t *st, int64_t patient_id, int64_t now, json_t **out)
{
    pl_actor_t pat;
    char dob[16] = "";
    int rc = pl_store_actor_load(st, patient_id, &pat);
    if (rc == -PL_EAUTH) rc = -PL_ENOTFOUND;
    if (rc == 0 && pat.kind != PL_USER_PATIENT) rc = -PL_ENOTFOUND;
    if (rc < 0 || (rc = pl_store_patient_dob(st, patient_id, dob)) < 0) return rc;
    char nhs[16] = "";
    pl_dbs_t *s = pl__sq_stmt(st, "SELECT nhs_number FROM patients WHERE user_id = ?");
    if (!s) return -PL_EINTERNAL;
    pl_dbs_bind_int64(s, 1, patient_id);
    if ((rc = pl_dbs_step(s)) == PL_DB_ROW)
        snprintf(nhs, sizeof nhs, "%s", (const char *)pl_dbs_text(s, 0));
    pl_dbs_reset(s);
    if (rc != PL_DB_ROW) return rc == PL_DB_DONE ? -PL_ENOTFOUND : pl__sq_err(st, rc, "record nhs");
    json_t *people = json_object(), *orgs = json_object();
    json_t *rec = json_pack("{s{sI ss ss ss sI}}", "patient", "id", (json_int_t)patient_id,
                            "display_name", pat.display_name, "nhs_number", nhs, "date_of_birth",
                            dob, "practice_id", (json_int_t)pat.practice_id);
    name_org(orgs, pat.practice_id);
    name_person(people, patient_id);
    rc = conversations_of(st, patient_id, rec, people, orgs);
    if (rc == 0) rc = consultations_of(st, patient_id, rec, people, orgs);
    if (rc == 0) rc = advice_of(st, patient_id, now, rec, people, orgs);
    if (rc == 0) rc = cases_of(st, patient_id, rec, people, orgs);
    if (rc == 0) rc = filings_of(st, patient_id, rec, people);
    if (rc == 0) rc = people_of(st, people, rec, orgs);
    if (rc == 0) rc = orgs_of(st, orgs, rec);
    json_decref(people);
    json_decref(orgs);
    if (rc < 0) {
        json_decref(rec);
        return rc;
    }
    *out = rec;
    return 0;
}
