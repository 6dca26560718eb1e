/* FHIR R4 export: consultations and advice requests. Each consultation becomes an Encounter;
 * each advice request a CommunicationRequest, followed by a Consent when the patient's consent
 * was recorded. Called by pl_fhir_bundle (storage/fhir.c, whose opening comment holds the
 * mapping decisions) through storage/fhir_internal.h. */
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "storage/fhir_internal.h"

#define ACTCODE_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define PARTTYPE_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

/* ---- Encounter ------------------------------------------------------------------------- */

static const char *encounter_status(const char *s)
{
    static const char *const map[][2] = {
        {"booked", "planned"},  {"waiting", "arrived"},      {"in_call", "in-progress"},
        {"ended", "finished"},  {"cancelled", "cancelled"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (pl__fhir_str_is(s, map[i][0]))
            return map[i][1];
    return "unknown";
}

/* One participant who joined consultation, other than the patient (the subject). */
static void add_participant(pl__fhir_ctx_t *c, json_t *parts, int64_t id, bool primary)
{
    const json_t *person = NULL;
    const char *kind = pl__fhir_person_kind(c, id, &person);
    if (!kind || pl__fhir_str_is(kind, "patient")) {
        if (kind && id != c->patient_id)
            pl__fhir_fail(c, -PL_EINVAL); /* another patient in this patient's consultation */
        return;
    }
    if (pl__fhir_str_is(kind, "staff")) {
        json_t *type = primary
            ? pl__fhir_coded(PARTTYPE_SYSTEM, "PPRF", "primary performer", NULL)
            : pl__fhir_coded(PARTTYPE_SYSTEM, "PART", "Participation", NULL);
        pl__fhir_push(c, parts, json_pack("{s[o] so}", "type", type, "individual",
                                          pl__fhir_ref_id("Practitioner", id)));
    } else if (pl__fhir_str_is(kind, "guest")) {
        const char *role = pl__fhir_get_str(c, person, "guest_role", false);
        json_t *type = pl__fhir_str_is(role, "interpreter")
            ? pl__fhir_coded("http://terminology.hl7.org/CodeSystem/participant-type",
                             "translator", "Translator", "Interpreter (guest)")
            : pl__fhir_coded(PARTTYPE_SYSTEM, "PART", "Participation",
                             pl__fhir_str_is(role, "carer") ? "Carer (guest)" : "Guest");
        pl__fhir_push(c, parts, json_pack("{s[o]}", "type", type));
    } else {
        pl__fhir_fail(c, -PL_EINVAL);
    }
}

void pl__fhir_map_consultations(pl__fhir_ctx_t *c)
{
    size_t i;
    const json_t *k;
    json_array_foreach(c->consults, i, k) {
        int64_t id = 0, conv = 0, org = 0, clin = 0, advice = 0, kase = 0;
        char created[PL__FHIR_TIME_LEN], start[PL__FHIR_TIME_LEN], end[PL__FHIR_TIME_LEN];
        int64_t start_ms = 0, end_ms = 0;
        if (!json_is_object(k)) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        pl__fhir_get_int(c, k, "id", true, &id);
        pl__fhir_get_int(c, k, "conversation_id", true, &conv);
        pl__fhir_get_int(c, k, "org_id", true, &org);
        const char *status = pl__fhir_get_str(c, k, "status", true);
        pl__fhir_get_int(c, k, "clinician_id", true, &clin);
        pl__fhir_get_time(c, k, "created_at", true, created, NULL);
        bool has_start = pl__fhir_get_time(c, k, "started_at", false, start, &start_ms);
        bool has_end = pl__fhir_get_time(c, k, "ended_at", false, end, &end_ms);
        const json_t *joined = pl__fhir_get_arr(c, k, "participants");
        bool is_advice = pl__fhir_get_int(c, k, "advice_id", false, &advice);
        bool is_case = pl__fhir_get_int(c, k, "case_id", false, &kase);
        if (c->err || !pl__fhir_org_exists(c, org))
            return;
        if (!pl__fhir_find_by_id(c->convs, conv) ||
            (is_advice && !pl__fhir_find_by_id(c->advice, advice)) ||
            (is_case && !pl__fhir_find_by_id(c->cases, kase))) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        json_t *r = pl__fhir_resource_new_id(c, "Encounter", id);
        if (!r)
            return;
        pl__fhir_put(c, r, "identifier", pl__fhir_identifier_id("urn:parley:consultation", id));
        pl__fhir_put_str(c, r, "status", encounter_status(status));
        pl__fhir_put(c, r, "class", json_pack("{ss ss ss}", "system", ACTCODE_SYSTEM, "code",
                                              "VR", "display", "virtual"));
        const char *what = is_advice ? "Advice call (video)"
                           : is_case ? "Case discussion (video)"
                                     : "Video consultation";
        pl__fhir_put(c, r, "type", json_pack("[o]", pl__fhir_text_concept(what)));
        pl__fhir_put(c, r, "subject", pl__fhir_ref_id("Patient", c->patient_id));
        json_t *parts = json_array();
        if (!parts) {
            pl__fhir_fail(c, -PL_ENOMEM);
            return;
        }
        add_participant(c, parts, clin, true);
        size_t j;
        const json_t *p;
        json_array_foreach(joined, j, p) {
            if (!json_is_integer(p)) {
                pl__fhir_fail(c, -PL_EINVAL);
                break;
            }
            int64_t pid = (int64_t)json_integer_value(p);
            if (pid != clin)
                add_participant(c, parts, pid, false);
        }
        if (json_array_size(parts) > 0)
            pl__fhir_put(c, r, "participant", parts);
        else
            json_decref(parts);
        if (has_start || has_end) {
            json_t *period = json_object();
            if (has_start)
                pl__fhir_put_str(c, period, "start", start);
            /* An end before the start would break R4's per-1: keep the start alone then. */
            if (has_end && (!has_start || end_ms >= start_ms))
                pl__fhir_put_str(c, period, "end", end);
            pl__fhir_put(c, r, "period", period);
        }
        pl__fhir_put(c, r, "serviceProvider", pl__fhir_ref_id("Organization", org));
        if (c->err)
            return;
    }
}

/* ---- CommunicationRequest and Consent (advice requests) -------------------------------- */

static const char *advice_status(const char *s)
{
    if (pl__fhir_str_is(s, "new") || pl__fhir_str_is(s, "in_progress") ||
        pl__fhir_str_is(s, "awaiting_gp"))
        return "active";
    if (pl__fhir_str_is(s, "closed"))
        return "completed";
    return "unknown";
}

static const char *outcome_text(const char *o)
{
    if (pl__fhir_str_is(o, "advice_given"))
        return "Outcome: advice given";
    if (pl__fhir_str_is(o, "referral"))
        return "Outcome: referral";
    if (pl__fhir_str_is(o, "seen_elsewhere"))
        return "Outcome: seen elsewhere";
    return NULL;
}

static void map_consent(pl__fhir_ctx_t *c, int64_t id, int64_t practice, int64_t service,
                        bool has_by, int64_t by, const char *at)
{
    json_t *r = pl__fhir_resource_new_id(c, "Consent", id);
    if (!r)
        return;
    pl__fhir_put(c, r, "identifier", pl__fhir_identifier_id("urn:parley:advice-consent", id));
    pl__fhir_put_str(c, r, "status", "active");
    pl__fhir_put(c, r, "scope",
                 pl__fhir_coded("http://terminology.hl7.org/CodeSystem/consentscope",
                                "patient-privacy", "Privacy Consent", NULL));
    json_t *category = pl__fhir_coded("http://loinc.org", "59284-0", "Patient Consent",
                                      "Consent to share with a specialist service for advice");
    pl__fhir_put(c, r, "category", json_pack("[o]", category));
    pl__fhir_put(c, r, "patient", pl__fhir_ref_id("Patient", c->patient_id));
    pl__fhir_put_str(c, r, "dateTime", at);
    /* The patient grants; the practitioner recorded it (R4 has no recorder element). */
    json_t *perf = json_pack("[o]", pl__fhir_ref_id("Patient", c->patient_id));
    if (perf && has_by)
        pl__fhir_push(c, perf, pl__fhir_staff_ref(c, by));
    pl__fhir_put(c, r, "performer", perf);
    pl__fhir_put(c, r, "organization",
                 json_pack("[o]", pl__fhir_ref_id("Organization", practice)));
    pl__fhir_put(c, r, "policyRule", pl__fhir_coded(ACTCODE_SYSTEM, "OPTIN", "opt-in", NULL));
    pl__fhir_put(c, r, "provision",
                 json_pack("{ss s[{so so}] s[o] s[{ss so}]}", "type", "permit", "actor", "role",
                           pl__fhir_coded(PARTTYPE_SYSTEM, "IRCP", "information recipient", NULL),
                           "reference", pl__fhir_ref_id("Organization", service), "action",
                           pl__fhir_coded("http://terminology.hl7.org/CodeSystem/consentaction",
                                          "disclose", "Disclose", NULL),
                           "data", "meaning", "related", "reference",
                           pl__fhir_ref_id("CommunicationRequest", id)));
}

void pl__fhir_map_advice(pl__fhir_ctx_t *c)
{
    size_t i;
    const json_t *a;
    json_array_foreach(c->advice, i, a) {
        int64_t id = 0, conv = 0, practice = 0, service = 0, by = 0, specialist = 0, cby = 0;
        char created[PL__FHIR_TIME_LEN], due[PL__FHIR_TIME_LEN], closed[PL__FHIR_TIME_LEN];
        char consent_at[PL__FHIR_TIME_LEN];
        int64_t created_ms = 0, due_ms = 0;
        if (!json_is_object(a)) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        pl__fhir_get_int(c, a, "id", true, &id);
        pl__fhir_get_int(c, a, "conversation_id", true, &conv);
        pl__fhir_get_int(c, a, "practice_id", true, &practice);
        pl__fhir_get_int(c, a, "service_id", true, &service);
        const char *specialty = pl__fhir_get_str(c, a, "specialty", false);
        const char *urgency = pl__fhir_get_str(c, a, "urgency", true);
        const char *status = pl__fhir_get_str(c, a, "status", true);
        const char *question = pl__fhir_get_str(c, a, "question", false);
        const char *summary = pl__fhir_get_str(c, a, "summary", false);
        pl__fhir_get_int(c, a, "created_by", true, &by);
        pl__fhir_get_time(c, a, "created_at", true, created, &created_ms);
        bool has_due = pl__fhir_get_time(c, a, "due_at", false, due, &due_ms);
        bool has_closed = pl__fhir_get_time(c, a, "closed_at", false, closed, NULL);
        const char *outcome = pl__fhir_get_str(c, a, "outcome", false);
        bool has_spec = pl__fhir_get_int(c, a, "specialist_id", false, &specialist);
        bool has_cby = pl__fhir_get_int(c, a, "consent_by", false, &cby);
        bool has_consent = pl__fhir_get_time(c, a, "consent_at", false, consent_at, NULL);
        if (c->err || !pl__fhir_org_exists(c, practice) || !pl__fhir_org_exists(c, service))
            return;
        if (!pl__fhir_find_by_id(c->convs, conv) ||
            (!pl__fhir_str_is(urgency, "routine") && !pl__fhir_str_is(urgency, "urgent"))) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        json_t *r = pl__fhir_resource_new_id(c, "CommunicationRequest", id);
        if (!r)
            return;
        pl__fhir_put(c, r, "identifier", pl__fhir_identifier_id("urn:parley:advice", id));
        pl__fhir_put_str(c, r, "status", advice_status(status));
        pl__fhir_put(c, r, "category",
                     json_pack("[o]", pl__fhir_text_concept("Advice and guidance request")));
        pl__fhir_put_str(c, r, "priority", urgency);
        pl__fhir_put(c, r, "subject", pl__fhir_ref_id("Patient", c->patient_id));
        json_t *payload = json_array();
        if (question && *question)
            pl__fhir_push(c, payload, json_pack("{ss}", "contentString", question));
        if (summary && *summary)
            pl__fhir_push(c, payload, json_pack("{ss}", "contentString", summary));
        if (json_array_size(payload) > 0)
            pl__fhir_put(c, r, "payload", payload);
        else
            json_decref(payload);
        if (has_due) {
            /* Respond by due_at: the window the request asks the service to answer in. */
            json_t *period = json_object();
            if (due_ms >= created_ms)
                pl__fhir_put_str(c, period, "start", created);
            pl__fhir_put_str(c, period, "end", due);
            pl__fhir_put(c, r, "occurrencePeriod", period);
        }
        pl__fhir_put_str(c, r, "authoredOn", created);
        pl__fhir_put(c, r, "requester", pl__fhir_staff_ref(c, by));
        pl__fhir_put(c, r, "recipient",
                     json_pack("[o]", pl__fhir_ref_id("Organization", service)));
        if (has_spec)
            pl__fhir_put(c, r, "sender", pl__fhir_staff_ref(c, specialist));
        if (specialty)
            pl__fhir_put(c, r, "reasonCode",
                         json_pack("[o]", pl__fhir_text_concept(specialty)));
        const char *otext = outcome_text(outcome);
        if (otext)
            pl__fhir_put(c, r, "note",
                         has_closed ? json_pack("[{ss ss}]", "time", closed, "text", otext)
                                    : json_pack("[{ss}]", "text", otext));
        if (c->err)
            return;
        if (has_consent)
            map_consent(c, id, practice, service, has_cby, cby, consent_at);
        if (c->err)
            return;
    }
}
