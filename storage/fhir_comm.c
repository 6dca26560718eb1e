/* FHIR R4 export: conversations and filings. Each message becomes a Communication (threaded,
 * addressed and linked to its consultation or advice request), each filed transcript a
 * DocumentReference carrying the HTML by value. Called by pl_fhir_bundle (storage/fhir.c,
 * whose opening comment holds the mapping decisions) through storage/fhir_internal.h. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/err.h"
#include "core/util.h"
#include "storage/fhir_internal.h"

#define SNOMED_SYSTEM "http://snomed.info/sct"
#define PARLEY_EXT_SHA256 "urn:parley:fhir:extension:attachment-sha256"

/* ---- Communication (one per message) -------------------------------------------------- */

typedef struct {
    int64_t seq, id;
    const json_t *msg;
} msg_ref_t;

static int msg_cmp(const void *a, const void *b)
{
    const msg_ref_t *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Who a conversation's messages go to (storage/fhir.c's opening comment, "Recipients"). */
typedef struct {
    bool patient_thread;  /* admin, clinical, video: the patient's own */
    int64_t org;          /* patient thread: the practice side; case: the case's organisation */
    int64_t practice, service; /* advice thread: its two sides */
    bool advice_thread, has_advice;
    int64_t advice_id;    /* the advice request whose thread this is, if has_advice */
} thread_t;

static bool holds_role_at(const json_t *person, int64_t org)
{
    size_t i;
    const json_t *ro;
    json_array_foreach(json_object_get(person, "roles"), i, ro) {
        const json_t *v = json_object_get(ro, "org_id");
        if (json_is_integer(v) && (int64_t)json_integer_value(v) == org)
            return true;
    }
    return false;
}

static bool thread_of(pl__fhir_ctx_t *c, const json_t *conv, int64_t conv_id, thread_t *t)
{
    int64_t org = 0, peer = 0, kase = 0;
    memset(t, 0, sizeof *t);
    pl__fhir_get_int(c, conv, "org_id", true, &org);
    const char *kind = pl__fhir_get_str(c, conv, "kind", true);
    bool has_peer = pl__fhir_get_int(c, conv, "peer_org_id", false, &peer);
    bool has_case = pl__fhir_get_int(c, conv, "case_id", false, &kase);
    if (c->err || !pl__fhir_org_exists(c, org) || (has_peer && !pl__fhir_org_exists(c, peer)))
        return false;
    t->org = org;
    if (pl__fhir_str_is(kind, "admin") || pl__fhir_str_is(kind, "clinical") ||
        pl__fhir_str_is(kind, "video")) {
        t->patient_thread = true;
        return true;
    }
    if (pl__fhir_str_is(kind, "advice")) {
        size_t i;
        const json_t *a;
        t->advice_thread = true;
        t->practice = org;
        t->service = peer;
        json_array_foreach(c->advice, i, a) {
            int64_t ac = 0;
            if (pl__fhir_get_int(c, a, "conversation_id", true, &ac) && ac == conv_id) {
                pl__fhir_get_int(c, a, "id", true, &t->advice_id);
                pl__fhir_get_int(c, a, "practice_id", true, &t->practice);
                pl__fhir_get_int(c, a, "service_id", true, &t->service);
                t->has_advice = true;
                break;
            }
        }
        if (!t->has_advice && !has_peer)
            return pl__fhir_fail(c, -PL_EINVAL); /* no other side to address */
        return !c->err;
    }
    if (pl__fhir_str_is(kind, "case")) {
        const json_t *k = has_case ? pl__fhir_find_by_id(c->cases, kase) : NULL;
        if (has_case && !k)
            return pl__fhir_fail(c, -PL_EINVAL);
        if (!k) {
            size_t i;
            const json_t *e;
            json_array_foreach(c->cases, i, e) {
                int64_t ec = 0;
                if (pl__fhir_get_int(c, e, "conversation_id", true, &ec) && ec == conv_id) {
                    k = e;
                    break;
                }
            }
        }
        if (k && (!pl__fhir_get_int(c, k, "org_id", true, &t->org) ||
                  !pl__fhir_org_exists(c, t->org)))
            return false;
        return !c->err;
    }
    return pl__fhir_fail(c, -PL_EINVAL);
}

/* The consultation a message at time ms in conversation conv belongs to: the latest created at
 * or before ms, else the first one in the conversation. Returns false if it holds none. */
static bool consult_for(pl__fhir_ctx_t *c, int64_t conv, int64_t ms, int64_t *out)
{
    bool found = false, before = false;
    int64_t best_at = 0;
    size_t i;
    const json_t *k;
    json_array_foreach(c->consults, i, k) {
        int64_t kc = 0, kid = 0, at = 0;
        if (!pl__fhir_get_int(c, k, "conversation_id", true, &kc) || kc != conv ||
            !pl__fhir_get_int(c, k, "id", true, &kid) ||
            !pl__fhir_get_int(c, k, "created_at", true, &at))
            continue;
        if (at <= ms && (!before || at >= best_at)) {
            *out = kid;
            best_at = at;
            before = found = true;
        } else if (!found) {
            *out = kid;
            found = true;
        }
    }
    return found;
}

/* One message attachment, exported by reference with its SHA-256 in an extension. */
static json_t *attachment_content(pl__fhir_ctx_t *c, const json_t *att)
{
    int64_t id = 0, size = 0;
    if (!json_is_object(att)) {
        pl__fhir_fail(c, -PL_EINVAL);
        return NULL;
    }
    pl__fhir_get_int(c, att, "id", true, &id);
    const char *type = pl__fhir_get_str(c, att, "content_type", false);
    bool has_size = pl__fhir_get_int(c, att, "size", false, &size);
    const char *sha = pl__fhir_get_str(c, att, "sha256", false);
    const char *name = pl__fhir_get_str(c, att, "filename", false);
    /* R4's Attachment.hash is the SHA-1 of the data, base64: the store works it out from the
     * bytes at export, when it can read them. */
    const char *sha1 = pl__fhir_get_str(c, att, "sha1", false);
    if (c->err)
        return NULL;
    uint8_t digest[32];
    size_t dlen = 0;
    if (sha && (pl_hex_decode(sha, digest, sizeof digest, &dlen) != 0 || dlen != 32)) {
        pl__fhir_fail(c, -PL_EINVAL);
        return NULL;
    }
    char url[48];
    snprintf(url, sizeof url, "urn:parley:attachment:%" PRId64, id);
    json_t *a = json_object();
    if (!a) {
        pl__fhir_fail(c, -PL_ENOMEM);
        return NULL;
    }
    if (sha) {
        char *b64 = pl_b64_encode(digest, sizeof digest);
        pl__fhir_put(c, a, "extension",
                     b64 ? json_pack("[{ss ss}]", "url", PARLEY_EXT_SHA256, "valueBase64Binary",
                                     b64)
                         : NULL);
        free(b64);
    }
    pl__fhir_put_str(c, a, "contentType", type);
    pl__fhir_put_str(c, a, "url", url);
    /* R4's size is an unsignedInt (32-bit signed range); a size it cannot hold is left out. */
    if (has_size && size >= 0 && size <= INT32_MAX)
        pl__fhir_put(c, a, "size", json_integer((json_int_t)size));
    else if (has_size && size < 0)
        pl__fhir_fail(c, -PL_EINVAL);
    pl__fhir_put_str(c, a, "title", name);
    if (sha1) pl__fhir_put_str(c, a, "hash", sha1);
    return a;
}

/* Concatenation into a new heap string (caller frees); NULL on allocation failure. Used for
 * text that includes record strings, which must not be cut mid UTF-8 sequence. */
static char *concat(const char *a, const char *b)
{
    size_t al = strlen(a), bl = strlen(b);
    char *s = malloc(al + bl + 1);
    if (s) {
        memcpy(s, a, al);
        memcpy(s + al, b, bl + 1);
    }
    return s;
}

static void map_message(pl__fhir_ctx_t *c, const json_t *m, const thread_t *t, const char *topic,
                        int64_t conv_id, const msg_ref_t *prev)
{
    int64_t id = 0, sender = 0, at_ms = 0, by = 0, consult = 0;
    char sent[PL__FHIR_TIME_LEN], err_at[PL__FHIR_TIME_LEN];
    pl__fhir_get_int(c, m, "id", true, &id);
    pl__fhir_get_int(c, m, "sender_id", true, &sender);
    const char *body = pl__fhir_get_str(c, m, "body", false);
    pl__fhir_get_time(c, m, "created_at", true, sent, &at_ms);
    const json_t *eie = pl__fhir_get_obj(c, m, "entered_in_error");
    const json_t *atts = pl__fhir_get_arr(c, m, "attachments");
    const char *reason = NULL;
    bool has_err_at = false;
    if (eie) {
        pl__fhir_get_int(c, eie, "by", true, &by);
        has_err_at = pl__fhir_get_time(c, eie, "at", true, err_at, NULL);
        reason = pl__fhir_get_str(c, eie, "reason", false);
    }
    const json_t *person = NULL;
    const char *kind = c->err ? NULL : pl__fhir_person_kind(c, sender, &person);
    if (c->err)
        return;
    if (pl__fhir_str_is(kind, "patient") && sender != c->patient_id) {
        pl__fhir_fail(c, -PL_EINVAL);
        return;
    }

    json_t *r = pl__fhir_resource_new_id(c, "Communication", id);
    if (!r)
        return;
    pl__fhir_put(c, r, "identifier", pl__fhir_identifier_id("urn:parley:message", id));
    if (t->has_advice)
        pl__fhir_put(c, r, "basedOn",
                     json_pack("[o]", pl__fhir_ref_id("CommunicationRequest", t->advice_id)));
    bool in_consult = consult_for(c, conv_id, at_ms, &consult);
    if (in_consult)
        pl__fhir_put(c, r, "partOf",
                     json_pack("[o]", pl__fhir_ref_id("Encounter", consult)));
    if (prev)
        pl__fhir_put(c, r, "inResponseTo",
                     json_pack("[o]", pl__fhir_ref_id("Communication", prev->id)));
    pl__fhir_put_str(c, r, "status", eie ? "entered-in-error" : "completed");
    pl__fhir_put(c, r, "subject", pl__fhir_ref_id("Patient", c->patient_id));
    if (topic)
        pl__fhir_put(c, r, "topic", pl__fhir_text_concept(topic));
    if (in_consult)
        pl__fhir_put(c, r, "encounter", pl__fhir_ref_id("Encounter", consult));
    pl__fhir_put_str(c, r, "sent", sent);

    int64_t to_org = 0;
    bool to_patient = false;
    if (t->patient_thread) {
        to_patient = !pl__fhir_str_is(kind, "patient");
        to_org = t->org;
    } else if (t->advice_thread) {
        to_org = person && holds_role_at(person, t->service) ? t->practice : t->service;
    } else {
        to_org = t->org;
    }
    json_t *to = to_patient ? pl__fhir_ref_id("Patient", c->patient_id)
                            : pl__fhir_ref_id("Organization", to_org);
    pl__fhir_put(c, r, "recipient", json_pack("[o]", to));
    if (pl__fhir_str_is(kind, "patient"))
        pl__fhir_put(c, r, "sender", pl__fhir_ref_id("Patient", c->patient_id));
    else if (pl__fhir_str_is(kind, "staff"))
        pl__fhir_put(c, r, "sender", pl__fhir_ref_id("Practitioner", sender));
    else if (!pl__fhir_str_is(kind, "guest")) {
        pl__fhir_fail(c, -PL_EINVAL);
        return;
    }

    json_t *payload = json_array();
    if (!payload) {
        pl__fhir_fail(c, -PL_ENOMEM);
        return;
    }
    if (body && *body)
        pl__fhir_push(c, payload, json_pack("{ss}", "contentString", body));
    size_t i;
    const json_t *att;
    json_array_foreach(atts, i, att) {
        json_t *a = attachment_content(c, att);
        if (!a)
            break;
        pl__fhir_push(c, payload, json_pack("{so}", "contentAttachment", a));
    }
    if (json_array_size(payload) > 0)
        pl__fhir_put(c, r, "payload", payload);
    else
        json_decref(payload);

    json_t *notes = json_array();
    if (!notes) {
        pl__fhir_fail(c, -PL_ENOMEM);
        return;
    }
    if (eie) {
        char *text = concat("Entered in error: ", reason && *reason ? reason : "no reason given");
        json_t *n = text ? json_pack("{so ss}", "authorReference", pl__fhir_staff_ref(c, by),
                                     "text", text)
                         : NULL;
        free(text);
        if (n && has_err_at)
            pl__fhir_put_str(c, n, "time", err_at);
        pl__fhir_push(c, notes, n);
    }
    if (pl__fhir_str_is(kind, "guest")) {
        const char *role = pl__fhir_get_str(c, person, "guest_role", false);
        const char *note = pl__fhir_str_is(role, "interpreter") ? "Sent by a guest interpreter"
                           : pl__fhir_str_is(role, "carer")     ? "Sent by a guest carer"
                                                                : "Sent by a guest";
        pl__fhir_push(c, notes, json_pack("{ss}", "text", note));
    }
    if (json_array_size(notes) > 0)
        pl__fhir_put(c, r, "note", notes);
    else
        json_decref(notes);
}

void pl__fhir_map_conversations(pl__fhir_ctx_t *c)
{
    size_t i;
    const json_t *conv;
    json_array_foreach(c->convs, i, conv) {
        int64_t id = 0;
        thread_t t;
        if (!json_is_object(conv)) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        pl__fhir_get_int(c, conv, "id", true, &id);
        const char *subject = pl__fhir_get_str(c, conv, "subject", false);
        const json_t *msgs = pl__fhir_get_arr(c, conv, "messages");
        if (c->err || !thread_of(c, conv, id, &t))
            return;
        size_t n = json_array_size(msgs);
        if (n == 0)
            continue;
        msg_ref_t *order = calloc(n, sizeof *order);
        if (!order) {
            pl__fhir_fail(c, -PL_ENOMEM);
            return;
        }
        for (size_t j = 0; j < n && !c->err; j++) {
            const json_t *m = json_array_get(msgs, j);
            if (!json_is_object(m)) {
                pl__fhir_fail(c, -PL_EINVAL);
                break;
            }
            order[j].msg = m;
            pl__fhir_get_int(c, m, "seq", true, &order[j].seq);
            pl__fhir_get_int(c, m, "id", true, &order[j].id);
        }
        if (!c->err)
            qsort(order, n, sizeof *order, msg_cmp);
        for (size_t j = 0; j < n && !c->err; j++)
            map_message(c, order[j].msg, &t, subject, id, j > 0 ? &order[j - 1] : NULL);
        free(order);
        if (c->err)
            return;
    }
}

/* ---- DocumentReference (one per filing) ----------------------------------------------- */

static bool is_replaced(pl__fhir_ctx_t *c, int64_t id)
{
    size_t i;
    const json_t *f;
    json_array_foreach(c->filings, i, f) {
        const json_t *v = json_object_get(f, "replaces_id");
        if (json_is_integer(v) && (int64_t)json_integer_value(v) == id)
            return true;
    }
    return false;
}

static json_t *html_attachment(pl__fhir_ctx_t *c, const char *html, const char *title,
                               const char *at)
{
    size_t len = strlen(html);
    unsigned char sha1[EVP_MAX_MD_SIZE];
    unsigned int sha1_len = 0;
    if (len > INT32_MAX || !EVP_Digest(html, len, sha1, &sha1_len, EVP_sha1(), NULL)) {
        pl__fhir_fail(c, len > INT32_MAX ? -PL_EINVAL : -PL_ENOMEM);
        return NULL;
    }
    char *data = pl_b64_encode((const uint8_t *)html, len);
    char *hash = pl_b64_encode(sha1, sha1_len);
    json_t *a = data && hash
        ? json_pack("{ss ss sI ss ss* ss}", "contentType", "text/html", "data", data, "size",
                    (json_int_t)len, "hash", hash, "title", title, "creation", at)
        : NULL;
    free(data);
    free(hash);
    if (!a)
        pl__fhir_fail(c, -PL_ENOMEM);
    return a;
}

/* A list of references to the Encounters of conversation conv, or NULL when it holds none. */
static json_t *conversation_encounters(pl__fhir_ctx_t *c, int64_t conv)
{
    json_t *list = NULL;
    size_t i;
    const json_t *k;
    json_array_foreach(c->consults, i, k) {
        int64_t kc = 0, kid = 0;
        if (!pl__fhir_get_int(c, k, "conversation_id", true, &kc) || kc != conv ||
            !pl__fhir_get_int(c, k, "id", true, &kid))
            continue;
        if (!list && !(list = json_array())) {
            pl__fhir_fail(c, -PL_ENOMEM);
            return NULL;
        }
        pl__fhir_push(c, list, pl__fhir_ref_id("Encounter", kid));
    }
    return list;
}

static bool all_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

void pl__fhir_map_filings(pl__fhir_ctx_t *c)
{
    size_t i;
    const json_t *f;
    json_array_foreach(c->filings, i, f) {
        int64_t id = 0, conv = 0, version = 0, by = 0, replaces = 0;
        char at[PL__FHIR_TIME_LEN];
        if (!json_is_object(f)) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        pl__fhir_get_int(c, f, "id", true, &id);
        pl__fhir_get_int(c, f, "conversation_id", true, &conv);
        bool has_version = pl__fhir_get_int(c, f, "version", false, &version);
        pl__fhir_get_int(c, f, "filed_by", true, &by);
        pl__fhir_get_time(c, f, "filed_at", true, at, NULL);
        const char *html = pl__fhir_get_str(c, f, "html", true);
        bool has_replaces = pl__fhir_get_int(c, f, "replaces_id", false, &replaces);
        const json_t *summary = pl__fhir_get_obj(c, f, "summary");
        const char *code = summary ? pl__fhir_get_str(c, summary, "code", true) : NULL;
        const char *display = summary ? pl__fhir_get_str(c, summary, "display", false) : NULL;
        const json_t *conv_obj = c->err ? NULL : pl__fhir_find_by_id(c->convs, conv);
        if (c->err)
            return;
        /* A SNOMED CT concept id is 6 to 18 digits; it replaces itself or nothing. */
        if (!conv_obj || (code && !all_digits(code, 6, 18)) ||
            (has_replaces && (replaces == id || !pl__fhir_find_by_id(c->filings, replaces)))) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        const char *subject = json_string_value(json_object_get(conv_obj, "subject"));
        json_t *r = pl__fhir_resource_new_id(c, "DocumentReference", id);
        if (!r)
            return;
        pl__fhir_put(c, r, "identifier", pl__fhir_identifier_id("urn:parley:filing", id));
        pl__fhir_put_str(c, r, "status", is_replaced(c, id) ? "superseded" : "current");
        pl__fhir_put_str(c, r, "docStatus", "final");
        pl__fhir_put(c, r, "type", pl__fhir_text_concept("Conversation transcript"));
        pl__fhir_put(c, r, "subject", pl__fhir_ref_id("Patient", c->patient_id));
        pl__fhir_put_str(c, r, "date", at);
        pl__fhir_put(c, r, "author", json_pack("[o]", pl__fhir_staff_ref(c, by)));
        pl__fhir_put(c, r, "custodian", pl__fhir_ref_id("Organization", c->practice_id));
        if (has_replaces)
            pl__fhir_put(c, r, "relatesTo",
                         json_pack("[{ss so}]", "code", "replaces", "target",
                                   pl__fhir_ref_id("DocumentReference", replaces)));
        char desc[96];
        if (has_version)
            snprintf(desc, sizeof desc, "Transcript of conversation %" PRId64 ", version %" PRId64,
                     conv, version);
        else
            snprintf(desc, sizeof desc, "Transcript of conversation %" PRId64, conv);
        pl__fhir_put_str(c, r, "description", desc);
        pl__fhir_put(c, r, "content", json_pack("[{so}]", "attachment",
                                                html_attachment(c, html, subject, at)));
        json_t *ctx = json_object();
        json_t *encs = conversation_encounters(c, conv);
        if (encs)
            pl__fhir_put(c, ctx, "encounter", encs);
        if (code)
            pl__fhir_put(c, ctx, "event",
                         json_pack("[{s[{ss ss ss*}] ss*}]", "coding", "system", SNOMED_SYSTEM,
                                   "code", code, "display", display, "text", display));
        if (json_object_size(ctx) > 0)
            pl__fhir_put(c, r, "context", ctx);
        else
            json_decref(ctx);
        if (c->err)
            return;
    }
}
