/* Transcripts and the record (docs/PROTOCOL.md section 13.5): transcript.get, message.mark_error,
 * conversation.file and filing.list.
 *
 * A transcript is one ordered, immutable list for every kind of conversation: its messages (and,
 * for the practice, its internal notes) and the events that tell what happened (a call began, a
 * request was claimed), each with its author and server time. Nothing is deleted: a clinician
 * marks a message entered in error with a reason, and it stays, flagged. The clinicians of the
 * practice file a conversation to the patient's record in one action, choosing the messages and
 * optionally a coded (SNOMED CT) summary; filing again adds a version that replaces the last.
 * A filing keeps the transcript's HTML rendering, and puts the FHIR Bundle for the record system
 * in the outbox in the same transaction, so nothing filed is lost on the way out. */
#include "core/err.h"
#include "core/util.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"
#include "storage/fhir.h"
#include "storage/transcript_html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 500
#define PARTS_MAX 2000
#define PAGE 500

/* Loads conversation id and asks authz for READ, then act. */
static int load_conv(pl_store_t *st, pl_req_t *r, int64_t id, pl_action_t act, pl_conv_t *conv)
{
    pl_resource_t res;
    int rc = pl_store_conv_get(st, id, conv);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    if (rc == 0 && (rc = pl_conv_resource_for(st, &r->actor, conv, r->now, &res)) < 0) return rc;
    if (rc == -PL_ENOTFOUND || pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0) {
        pl_req_fail_msg(r, "you do not have access to this conversation");
        return -PL_EPERM;
    }
    if (act != PL_ACT_READ && pl_authz_check(&r->actor, &res, act) < 0) {
        pl_req_fail_msg(r, "the practice's clinicians keep the record");
        return -PL_EPERM;
    }
    return 0;
}

/* Every message of the conversation, oldest first (notes when asked), with attachments. */
static int all_messages(pl_store_t *st, int64_t conv_id, bool notes, json_t **out)
{
    json_t *all = json_array();
    int64_t before = 0;
    for (;;) {
        json_t *page = NULL;
        int rc = pl_store_msg_history(st, conv_id, before, PAGE, notes, &page);
        if (rc == 0) rc = pl_store_attach_decorate(st, conv_id, json_object_get(page, "messages"));
        if (rc < 0) {
            json_decref(page);
            json_decref(all);
            return rc;
        }
        /* Pages come newest page first, each oldest first: prepend. */
        json_t *older = json_deep_copy(json_object_get(page, "messages"));
        json_array_extend(older, all);
        json_decref(all);
        all = older;
        json_t *next = json_object_get(page, "next_before");
        before = json_is_integer(next) ? json_integer_value(next) : 0;
        json_decref(page);
        if (!before) break;
    }
    *out = all;
    return 0;
}

static const char *pstr(const json_t *p, const char *k)
{
    const char *s = json_string_value(json_object_get(p, k));
    return s ? s : "";
}

/* What an event says, in a line a reader of the transcript understands; NULL for events that
 * are not part of the story (reads, typing, assignment). */
static char *event_text(const char *type, const json_t *p)
{
    const json_t *who = json_object_get(p, "participant");
    const char *name = pstr(who, "display_name");
    char buf[300];
    if (!strcmp(type, "consult.booked")) snprintf(buf, sizeof buf, "Video consultation booked");
    else if (!strcmp(type, "consult.waiting")) snprintf(buf, sizeof buf, "%s is in the waiting room", name);
    else if (!strcmp(type, "consult.admitted")) snprintf(buf, sizeof buf, "%s was let into the call", name);
    else if (!strcmp(type, "consult.joined")) snprintf(buf, sizeof buf, "%s joined the call", name);
    else if (!strcmp(type, "consult.left")) snprintf(buf, sizeof buf, "%s left the call", name);
    else if (!strcmp(type, "consult.ended")) snprintf(buf, sizeof buf, "The call ended");
    else if (!strcmp(type, "consult.cancelled")) snprintf(buf, sizeof buf, "The video consultation was cancelled");
    else if (!strcmp(type, "consult.started"))
        snprintf(buf, sizeof buf, "%s started a video call", pstr(p, "display_name"));
    else if (!strcmp(type, "advice.created")) snprintf(buf, sizeof buf, "Advice requested (%s)", pstr(p, "urgency"));
    else if (!strcmp(type, "advice.claimed") || !strcmp(type, "advice.assigned"))
        snprintf(buf, sizeof buf, "%s took the request",
                 pstr(json_object_get(p, "specialist"), "display_name"));
    else if (!strcmp(type, "advice.status")) snprintf(buf, sizeof buf, "Status: %s", pstr(p, "status"));
    else if (!strcmp(type, "advice.closed")) snprintf(buf, sizeof buf, "Closed: %s", pstr(p, "outcome"));
    else if (!strcmp(type, "case.created")) snprintf(buf, sizeof buf, "Case discussion opened");
    else if (!strcmp(type, "case.member_added"))
        snprintf(buf, sizeof buf, "%s joined the discussion",
                 pstr(json_object_get(p, "member"), "display_name"));
    else if (!strcmp(type, "case.closed")) snprintf(buf, sizeof buf, "The discussion was closed");
    else if (!strcmp(type, "message.entered_in_error"))
        snprintf(buf, sizeof buf, "A message was marked entered in error");
    else return NULL;
    return strdup(buf);
}

typedef struct {
    json_t *e;
    int64_t at;
    size_t idx; /* messages were added before events: the index keeps that order on ties */
} sortable_t;

static int by_time(const void *a, const void *b)
{
    const sortable_t *x = a, *y = b;
    if (x->at != y->at) return x->at < y->at ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The organisation a member of staff wrote for, by name: the conversation's own, else the
 * second organisation of an advice thread, else their first. Names are cached in names (by
 * user id). NULL for a patient or a guest. */
static const char *org_name_of(pl_store_t *st, const pl_conv_t *conv, json_t *sender,
                               json_t *names)
{
    if (strcmp(pstr(sender, "kind"), "staff") != 0) return NULL;
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(sender, "id")));
    json_t *hit = json_object_get(names, key);
    if (hit) return json_string_value(hit);
    pl_actor_t a;
    pl_org_t o;
    int64_t org = 0;
    if (pl_store_actor_load(st, json_integer_value(json_object_get(sender, "id")), &a) == 0) {
        for (int i = 0; i < a.n_orgs; i++)
            if (a.orgs[i].org_id == conv->org_id) org = conv->org_id;
        for (int i = 0; i < a.n_orgs && !org; i++)
            if (a.orgs[i].org_id == conv->peer_org_id) org = conv->peer_org_id;
        if (!org && a.n_orgs) org = a.orgs[0].org_id;
    }
    json_t *name = org && pl_store_org_get(st, org, &o) == 0 ? json_string(o.name) : json_null();
    json_object_set_new(names, key, name);
    return json_string_value(name);
}

/* The transcript's entries for this reader, in time order. */
static int entries_of(pl_store_t *st, pl_req_t *r, const pl_conv_t *conv, json_t **out)
{
    pl_resource_t res;
    int rc = pl_conv_resource_for(st, &r->actor, conv, r->now, &res);
    if (rc < 0) return rc;
    bool notes = pl_authz_check(&r->actor, &res, PL_ACT_READ_NOTES) == 0;
    bool staff = r->actor.kind == PL_USER_STAFF;
    json_t *msgs = NULL, *evs = NULL;
    if ((rc = all_messages(st, conv->id, notes, &msgs)) < 0) return rc;
    if ((rc = pl_store_conv_events(st, conv->id, notes, &evs)) < 0) {
        json_decref(msgs);
        return rc;
    }
    json_t *entries = json_array(), *names = json_object(), *m, *e;
    size_t i, j = 0;
    json_array_foreach(msgs, i, m)
    {
        json_t *sender = json_object_get(m, "sender");
        const char *org = org_name_of(st, conv, sender, names);
        json_t *x = json_pack("{ss sO sO sO ss ss sO}", "kind", pstr(m, "kind"), "id",
                              json_object_get(m, "id"), "seq", json_object_get(m, "seq"), "at",
                              json_object_get(m, "created_at"), "author", pstr(sender, "display_name"),
                              "role", pstr(sender, "kind"), "body", json_object_get(m, "body"));
        if (staff) json_object_set(x, "author_id", json_object_get(sender, "id"));
        json_object_set_new(x, "organisation", org ? json_string(org) : json_null());
        json_t *atts = json_object_get(m, "attachments");
        json_object_set_new(x, "attachments", atts ? json_incref(atts) : json_array());
        json_t *err = json_object_get(m, "entered_in_error");
        if (err) {
            json_t *c = json_deep_copy(err);
            if (!staff) json_object_del(c, "by");
            json_object_set_new(x, "entered_in_error", c);
        }
        json_array_append_new(entries, x);
    }
    json_array_foreach(evs, j, e)
    {
        char *t = event_text(pstr(e, "type"), json_object_get(e, "payload"));
        if (!t) continue;
        json_array_append_new(entries, json_pack("{ss ss sO ss}", "kind", "event", "type",
                                                 pstr(e, "type"), "at", json_object_get(e, "at"),
                                                 "text", t));
        free(t);
    }
    json_decref(names);
    json_decref(msgs);
    json_decref(evs);
    /* One order for everything: server time; at the same instant, messages before events and
     * otherwise as they came (the index breaks ties, so the sort is stable). */
    size_t n = json_array_size(entries);
    sortable_t *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        json_decref(entries);
        return -PL_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        v[k].e = json_incref(json_array_get(entries, k));
        v[k].at = json_integer_value(json_object_get(v[k].e, "at"));
        v[k].idx = k;
    }
    qsort(v, n, sizeof *v, by_time);
    json_array_clear(entries);
    for (size_t k = 0; k < n; k++) json_array_append_new(entries, v[k].e);
    free(v);
    *out = entries;
    return 0;
}

/* ---- transcript.get ---- */

static int get_run(pl_store_t *st, pl_req_t *r)
{
    pl_conv_t conv;
    json_t *cj = NULL, *entries = NULL;
    int rc = load_conv(st, r, pl_req_param_id(r, "conversation_id"), PL_ACT_READ, &conv);
    if (rc < 0 || (rc = pl_store_conv_json(st, conv.id, &cj)) < 0) return rc;
    if ((rc = entries_of(st, r, &conv, &entries)) < 0) {
        json_decref(cj);
        return rc;
    }
    json_t *t = json_pack("{s{sI ss ss ss} so}", "conversation", "id", (json_int_t)conv.id, "kind",
                          conv.kind, "subject", pstr(cj, "subject"), "status", conv.status,
                          "entries", entries);
    json_decref(cj);
    json_object_set_new(r->result, "transcript", t);
    return pl_req_audit(st, r, "transcript.read", "conversation", conv.id, conv.patient_id,
                        conv.org_id);
}

/* ---- message.mark_error ---- */

static int mark_run(pl_store_t *st, pl_req_t *r)
{
    pl_msg_t msg;
    pl_conv_t conv;
    const char *reason = json_string_value(json_object_get(r->params, "reason"));
    int rc = pl_store_msg_mark_error(st, pl_req_param_id(r, "message_id"), 0, NULL, r->now, &msg);
    if (rc == -PL_ENOTFOUND) pl_req_fail_msg(r, "no such message");
    if (rc < 0 || (rc = load_conv(st, r, msg.conversation_id, PL_ACT_FILE, &conv)) < 0) return rc;
    rc = pl_store_msg_mark_error(st, msg.id, r->actor.user_id, reason, r->now, &msg);
    if (rc == -PL_ECONFLICT) pl_req_fail_msg(r, "this message is already marked entered in error");
    json_t *mj = NULL;
    if (rc < 0 || (rc = pl_store_msg_json(st, msg.id, &mj)) < 0) return rc;
    json_object_set_new(r->result, "message", mj);
    /* Notes are the practice's: so is the fact that one was marked. */
    rc = pl_req_event(st, r, &conv, msg.internal, "message.entered_in_error",
                      json_pack("{sI sI sI sI}", "message_id", (json_int_t)msg.id, "seq",
                                (json_int_t)msg.seq, "at", (json_int_t)r->now, "by",
                                (json_int_t)r->actor.user_id));
    if (rc < 0) return rc;
    return pl_req_audit(st, r, "message.entered_in_error", "message", msg.id, conv.patient_id,
                        conv.org_id);
}

/* ---- conversation.file ---- */

/* The record gathered for export, cut down to this conversation: what the filing's Bundle
 * carries (the patient, the people and organisations, the filed messages, the conversation's
 * consultations, advice, case and every version of its filing). */
static void keep_conv(json_t *rec, const char *key, int64_t conv_id)
{
    json_t *arr = json_object_get(rec, key);
    for (size_t i = json_array_size(arr); i-- > 0;)
        if (json_integer_value(json_object_get(json_array_get(arr, i), "conversation_id")) != conv_id)
            json_array_remove(arr, i);
}

static int filing_bundle(pl_store_t *st, pl_req_t *r, const pl_conv_t *conv, const json_t *parts,
                         int64_t filing_id, json_t **bundle)
{
    json_t *rec = NULL;
    int rc = pl_store_patient_record(st, conv->patient_id, r->now, &rec);
    if (rc < 0) return rc;
    json_t *convs = json_object_get(rec, "conversations");
    for (size_t i = json_array_size(convs); i-- > 0;) {
        json_t *c = json_array_get(convs, i);
        if (json_integer_value(json_object_get(c, "id")) != conv->id) {
            json_array_remove(convs, i);
            continue;
        }
        json_t *msgs = json_object_get(c, "messages");
        for (size_t k = json_array_size(msgs); k-- > 0;) {
            json_t *id = json_object_get(json_array_get(msgs, k), "id"), *p;
            size_t j;
            bool filed = false;
            json_array_foreach(parts, j, p) filed |= json_equal(p, id);
            if (!filed) json_array_remove(msgs, k);
        }
    }
    keep_conv(rec, "consultations", conv->id);
    keep_conv(rec, "advice", conv->id);
    keep_conv(rec, "cases", conv->id);
    keep_conv(rec, "filings", conv->id);
    rc = pl_fhir_bundle(rec, r->now, bundle);
    json_decref(rec);
    if (rc < 0) return rc == -PL_EINVAL ? -PL_EINTERNAL : rc;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)filing_id);
    json_object_set_new(*bundle, "identifier",
                        json_pack("{ss ss}", "system", "urn:parley:filing", "value", id));
    return 0;
}

static int file_run(pl_store_t *st, pl_req_t *r)
{
    pl_conv_t conv;
    json_t *msgs = NULL, *chosen = json_object_get(r->params, "message_ids");
    int rc = load_conv(st, r, pl_req_param_id(r, "conversation_id"), PL_ACT_FILE, &conv);
    if (rc < 0 || (rc = all_messages(st, conv.id, false, &msgs)) < 0) return rc;
    /* The parts: the messages chosen (every one, by default); never an internal note. */
    json_t *parts = json_array(), *entries = json_array(), *m;
    size_t i;
    json_array_foreach(msgs, i, m)
    {
        json_t *id = json_object_get(m, "id"), *c;
        size_t j;
        bool want = !json_is_array(chosen);
        json_array_foreach(chosen, j, c) want |= json_equal(c, id);
        if (!want) continue;
        json_array_append(parts, id);
        json_t *sender = json_object_get(m, "sender");
        json_t *atts = json_object_get(m, "attachments");
        json_t *e = json_pack("{ss ss sO sO so}", "author", pstr(sender, "display_name"), "role",
                              pstr(sender, "kind"), "at", json_object_get(m, "created_at"), "body",
                              json_object_get(m, "body"), "attachments",
                              atts ? json_incref(atts) : json_array());
        if (json_object_get(m, "entered_in_error"))
            json_object_set(e, "entered_in_error", json_object_get(m, "entered_in_error"));
        json_array_append_new(entries, e);
    }
    json_decref(msgs);
    if (json_is_array(chosen) && json_array_size(parts) != json_array_size(chosen)) {
        pl_req_fail_msg(r, "message_ids must be messages of this conversation, not internal notes");
        rc = -PL_EINVAL;
    } else if (json_array_size(parts) == 0) {
        pl_req_fail_msg(r, "there is nothing to file: the conversation has no messages");
        rc = -PL_EINVAL;
    }
    pl_actor_t pat;
    char dob[16] = "", nhs[16] = "";
    pl_org_t org;
    json_t *cj = NULL;
    if (rc == 0 && (rc = pl_store_actor_load(st, conv.patient_id, &pat)) == 0 &&
        (rc = pl_store_patient_dob(st, conv.patient_id, dob)) == 0 &&
        (rc = pl_store_patient_nhs(st, conv.patient_id, nhs)) == 0 &&
        (rc = pl_store_org_get(st, conv.org_id, &org)) == 0)
        rc = pl_store_conv_json(st, conv.id, &cj);
    if (rc < 0) {
        json_decref(parts);
        json_decref(entries);
        return rc;
    }
    json_t *summary = json_object_get(r->params, "summary");
    json_t *t = json_pack("{ss s{ss ss ss} ss ss sI so}", "title", pstr(cj, "subject"), "patient",
                          "display_name", pat.display_name, "nhs_number", nhs, "date_of_birth",
                          dob, "organisation", org.name, "filed_by", r->actor.display_name,
                          "filed_at", (json_int_t)r->now, "entries", entries);
    json_decref(cj);
    if (summary) json_object_set(t, "summary", summary);
    char *html = NULL, *parts_txt = json_dumps(parts, JSON_COMPACT);
    rc = parts_txt ? pl_transcript_html(t, &html) : -PL_ENOMEM;
    json_decref(t);
    int64_t fid = 0;
    int version = 0;
    if (rc == 0) {
        pl_filing_new_t n = {.conversation_id = conv.id,
                             .patient_id = conv.patient_id,
                             .org_id = conv.org_id,
                             .filed_by = r->actor.user_id,
                             .now = r->now,
                             .parts = parts_txt,
                             .summary_code = json_string_value(json_object_get(summary, "code")),
                             .summary_display = json_string_value(json_object_get(summary, "display")),
                             .html = html};
        rc = pl_store_filing_create(st, &n, &fid, &version);
    }
    if (html) {
        pl_wipe(html, strlen(html));
        free(html);
    }
    free(parts_txt);
    json_t *bundle = NULL;
    if (rc == 0 && (rc = filing_bundle(st, r, &conv, parts, fid, &bundle)) == 0) {
        rc = pl_store_outbox_add(st, fid, conv.org_id, bundle, r->now);
        json_decref(bundle);
    }
    json_t *list = NULL;
    if (rc == 0 && (rc = pl_store_filings_of_conv(st, conv.id, false, &list)) == 0) {
        json_object_set(r->result, "filing", json_array_get(list, json_array_size(list) - 1));
        json_decref(list);
    }
    json_decref(parts);
    if (rc < 0) return rc;
    rc = pl_req_event(st, r, &conv, true, "conversation.filed",
                      json_pack("{sI si sI}", "filing_id", (json_int_t)fid, "version", version,
                                "by", (json_int_t)r->actor.user_id));
    if (rc < 0) return rc;
    return pl_req_audit(st, r, "conversation.file", "conversation", conv.id, conv.patient_id,
                        conv.org_id);
}

/* ---- filing.list ---- */

static int list_run(pl_store_t *st, pl_req_t *r)
{
    pl_conv_t conv;
    json_t *list = NULL;
    int rc = load_conv(st, r, pl_req_param_id(r, "conversation_id"), PL_ACT_FILE, &conv);
    if (rc < 0 || (rc = pl_store_filings_of_conv(st, conv.id, false, &list)) < 0) return rc;
    json_object_set_new(r->result, "filings", list);
    return 0;
}

/* ---- handlers ---- */

static int by_conv(pl_conn_t *c, const char *id, json_t *req, const char *type, pl_req_run_fn run)
{
    pl_perr_t e;
    int64_t conv;
    int rc = pl_param_int(req, "conversation_id", 1, INT64_MAX, false, 0, &conv, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, type, req, run);
}

static int h_get(pl_conn_t *c, const char *id, json_t *req)
{
    return by_conv(c, id, req, "transcript.get", get_run);
}

static int h_list(pl_conn_t *c, const char *id, json_t *req)
{
    return by_conv(c, id, req, "filing.list", list_run);
}

/* Text on one or more lines: no control characters other than line breaks and tabs. */
static bool text_ok(const char *s)
{
    bool seen = false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r') || *p == 0x7f) return false;
        if (*p > ' ') seen = true;
    }
    return seen;
}

static int h_mark(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t msg;
    const char *reason;
    int rc;
    if ((rc = pl_param_int(req, "message_id", 1, INT64_MAX, false, 0, &msg, &e)) < 0 ||
        (rc = pl_param_str(req, "reason", 1, REASON_MAX, false, &reason, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    if (!text_ok(reason)) {
        snprintf(e.msg, sizeof e.msg, "reason must be text, without control characters");
        return pl_req_reject(c, id, -PL_EINVAL, &e);
    }
    return pl_req_start(c, id, "message.mark_error", req, mark_run);
}

/* Committed: the record system need not wait for the sender's next pass. */
static void file_after(pl_req_t *r, int status)
{
    if (status == 0) pl_outbox_kick(r->srv);
}

/* A SNOMED CT concept id: 6 to 18 digits, no leading zero. */
static bool sctid_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 6 || n > 18 || s[0] == '0') return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static int h_file(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t conv;
    const char *code, *display;
    int rc = pl_param_int(req, "conversation_id", 1, INT64_MAX, false, 0, &conv, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    json_t *ids = json_object_get(req, "message_ids"), *v, *summary = json_object_get(req, "summary");
    size_t i;
    if (ids && (!json_is_array(ids) || json_array_size(ids) < 1 || json_array_size(ids) > PARTS_MAX)) {
        snprintf(e.msg, sizeof e.msg, "message_ids must be an array of 1 to %d message ids", PARTS_MAX);
        return pl_req_reject(c, id, -PL_EINVAL, &e);
    }
    json_array_foreach(ids, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            snprintf(e.msg, sizeof e.msg, "message_ids must be an array of message ids");
            return pl_req_reject(c, id, -PL_EINVAL, &e);
        }
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(ids, j), v)) {
                snprintf(e.msg, sizeof e.msg, "message_ids must not repeat an id");
                return pl_req_reject(c, id, -PL_EINVAL, &e);
            }
    }
    if (summary) {
        if (!json_is_object(summary)) {
            snprintf(e.msg, sizeof e.msg, "summary must be an object {code, display}");
            return pl_req_reject(c, id, -PL_EINVAL, &e);
        }
        if ((rc = pl_param_str(summary, "code", 1, 18, false, &code, &e)) < 0 ||
            (rc = pl_param_str(summary, "display", 1, 255, false, &display, &e)) < 0)
            return pl_req_reject(c, id, rc, &e);
        if (!sctid_ok(code) || !text_ok(display) || strchr(display, '\n')) {
            snprintf(e.msg, sizeof e.msg, "summary.code must be a SNOMED CT concept id (6 to 18 "
                                          "digits) and summary.display one line of text");
            return pl_req_reject(c, id, -PL_EINVAL, &e);
        }
    }
    pl_req_t *r = pl_req_new(c, id, "conversation.file", req, file_run);
    if (!r) return -PL_ENOMEM;
    r->after = file_after;
    pl_req_submit(r);
    return 0;
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__transcript_handler(const char *type);
pl_handler_fn pl__transcript_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"transcript.get", h_get},
        {"message.mark_error", h_mark},
        {"conversation.file", h_file},
        {"filing.list", h_list},
    };
    return PL_HANDLER_IN(table, type);
}
