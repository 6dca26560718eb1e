/* A patient's audit trail as FHIR R4 AuditEvent resources (fhir_audit.h), after IHE Basic
 * Audit Log Patterns (BALP, https://profiles.ihe.net/ITI/BALP/):
 *
 *   type/subtype  a RESTful operation on patient data: type "rest" (audit-event-type), subtype
 *                 the FHIR interaction (restful-interaction: create, read, update, delete,
 *                 search-type); an export: type DICOM 110106 "Export"; a sign-in or sign-out:
 *                 DICOM 110114 "User Authentication", subtype 110122 "Login" / 110123 "Logout".
 *                 Parley's own action name is one more subtype coding (urn:parley:audit-action).
 *   action        C, R, U, D or E, from Parley's action name (table below).
 *   recorded      the row's time, an instant in UTC with milliseconds.
 *   outcome       0 for ok; 4 (minor failure) for a refused request or a failed sign-in, as
 *                 BALP records an access control refusal; outcomeDesc says which.
 *   agent         the person who acted (requestor true): a Practitioner, Patient or (a guest in
 *                 a consultation) RelatedPerson reference with Parley's user id as identifier
 *                 and their name as display; role as text ("gp,practice_admin"); network address
 *                 the IP (type 2). Staff acting for an organisation get a second agent, the
 *                 Organization (ODS code, name), requestor false. A row with no actor (a refused
 *                 sign-in for no account, the command line) names nobody.
 *   source        Parley itself: observer "urn:parley:server", type 4 "Application Server".
 *   entity        the patient (type 1 Person, role 1 Patient, the NHS number as identifier) and
 *                 what was touched (type 2 System Object, role 4 Domain Resource, identifier
 *                 urn:parley:<resource type> and Parley's id), with the user agent and request
 *                 id as details.
 *
 * Ids: pl_fhir_uuid("AuditEvent", "<audit row id>"), fullUrl urn:uuid:<id>. Nothing here reads
 * the store or the clock. */
#include "storage/fhir_audit.h"
#include "core/err.h"
#include "storage/fhir.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DCM "http://dicom.nema.org/resources/ontology/DCM"
#define MAX_TIME_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

/* How each of Parley's actions maps: by its verb, the part after the last '.'. */
typedef enum { K_REST, K_EXPORT, K_LOGIN, K_LOGOUT } kind_t;
static const struct {
    const char *verb; /* matched against the action's last part */
    char action;      /* C R U D E */
    const char *interaction;
} verbs[] = {
    {"create", 'C', "create"},   {"book", 'C', "create"},       {"propose", 'C', "create"},
    {"start", 'C', "create"},    {"file", 'C', "create"},       {"read", 'R', "read"},
    {"get", 'R', "read"},        {"history", 'R', "read"},      {"join", 'R', "read"},
    {"lookup", 'R', "search-type"}, {"list", 'R', "search-type"}, {"replay", 'R', "search-type"},
    {"patient", 'R', "search-type"}, {"mine", 'R', "search-type"}, {"subscribe", 'R', "read"},
    {"delete", 'D', "delete"},   {"cancel", 'U', "update"},
};

/* ms as an instant in UTC with milliseconds; false if out of range. out has room for whatever
 * int fields snprintf might see (24 bytes are used). */
#define TIME_LEN 80
static bool fmt_instant(int64_t ms, char out[TIME_LEN])
{
    if (ms < 0 || ms > MAX_TIME_MS) return false;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) return false;
    snprintf(out, TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return true;
}

static kind_t kind_of(const char *action)
{
    if (!strcmp(action, "session.login")) return K_LOGIN;
    if (!strcmp(action, "session.logout")) return K_LOGOUT;
    const char *verb = strrchr(action, '.');
    verb = verb ? verb + 1 : action;
    return !strcmp(verb, "export") ? K_EXPORT : K_REST;
}

/* C/R/U/D and the restful interaction for a REST-like action: anything that is not a known
 * creation, read or deletion changes what is there (assign, status, close, admit...). */
static void rest_of(const char *action, char *act, const char **interaction)
{
    const char *verb = strrchr(action, '.');
    verb = verb ? verb + 1 : action;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp(verb, verbs[i].verb)) {
            *act = verbs[i].action;
            *interaction = verbs[i].interaction;
            return;
        }
    *act = 'U';
    *interaction = "update";
}

static json_t *coding(const char *system, const char *code, const char *display)
{
    return json_pack("{ss ss ss}", "system", system, "code", code, "display", display);
}

static const char *str_of(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static json_t *event_type(const char *action, char *act, json_t **subtype)
{
    const char *interaction = NULL;
    switch (kind_of(action)) {
    case K_LOGIN:
    case K_LOGOUT: {
        bool in = kind_of(action) == K_LOGIN;
        *act = 'E';
        *subtype = json_pack("[o]", coding(DCM, in ? "110122" : "110123", in ? "Login" : "Logout"));
        return coding(DCM, "110114", "User Authentication");
    }
    case K_EXPORT:
        *act = 'E';
        *subtype = json_pack("[o]", coding(DCM, "110106", "Export"));
        return coding(DCM, "110106", "Export");
    default:
        rest_of(action, act, &interaction);
        *subtype = json_pack("[o]", coding("http://hl7.org/fhir/restful-interaction", interaction,
                                           interaction));
        return coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest",
                      "Restful Operation");
    }
}

/* The agents: the person, and the organisation they acted for. */
static json_t *agents(const json_t *row)
{
    json_t *out = json_array();
    int64_t actor = json_integer_value(json_object_get(row, "actor_id"));
    const char *kind = str_of(row, "actor_kind"), *ip = str_of(row, "ip");
    const char *type = !strcmp(kind, "patient") ? "Patient"
                       : !strcmp(kind, "guest") ? "RelatedPerson"
                                                : "Practitioner";
    char id[32];
    snprintf(id, sizeof id, "%" PRId64, actor);
    json_t *who = actor ? json_pack("{ss s{ss ss} ss}", "type", type, "identifier", "system",
                                    "urn:parley:user", "value", id, "display",
                                    str_of(row, "actor_name")[0] ? str_of(row, "actor_name")
                                                                 : "unknown person")
                        : json_pack("{ss}", "display", "nobody signed in");
    json_t *person = json_pack("{so sb}", "who", who, "requestor", 1);
    if (person && str_of(row, "role")[0])
        json_object_set_new(person, "role", json_pack("[{ss}]", "text", str_of(row, "role")));
    if (person && ip[0] && strcmp(ip, "cli") != 0)
        json_object_set_new(person, "network", json_pack("{ss ss}", "address", ip, "type", "2"));
    json_array_append_new(out, person);
    if (json_integer_value(json_object_get(row, "org_id"))) {
        json_t *org =
            json_pack("{ss ss}", "type", "Organization", "display", str_of(row, "org_name"));
        if (org && str_of(row, "org_code")[0])
            json_object_set_new(org, "identifier",
                                json_pack("{ss ss}", "system",
                                          "https://fhir.nhs.uk/Id/ods-organization-code", "value",
                                          str_of(row, "org_code")));
        json_array_append_new(
            out, json_pack("{s{s[o]} so sb}", "type", "coding",
                           coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV",
                                  "healthcare provider"),
                           "who", org, "requestor", 0));
    }
    return out;
}

static json_t *entities(const json_t *patient, const json_t *row)
{
    json_t *p = json_pack(
        "{s{ss s{ss ss} ss} s{ss ss ss} s{ss ss ss}}", "what", "type", "Patient", "identifier",
        "system", "https://fhir.nhs.uk/Id/nhs-number", "value", str_of(patient, "nhs_number"),
        "display", str_of(patient, "display_name"), "type", "system",
        "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code", "1", "display",
        "Person", "role", "system", "http://terminology.hl7.org/CodeSystem/object-role", "code",
        "1", "display", "Patient");
    char system[96], id[32], display[128];
    const char *rtype = str_of(row, "resource_type");
    int64_t rid = json_integer_value(json_object_get(row, "resource_id"));
    snprintf(system, sizeof system, "urn:parley:%s", rtype[0] ? rtype : "unknown");
    snprintf(id, sizeof id, "%" PRId64, rid);
    snprintf(display, sizeof display, "%s %s", rtype, id);
    json_t *r = json_pack("{s{s{ss ss} ss} s{ss ss ss} s{ss ss ss}}", "what", "identifier",
                          "system", system, "value", id, "display", display, "type", "system",
                          "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code", "2",
                          "display", "System Object", "role", "system",
                          "http://terminology.hl7.org/CodeSystem/object-role", "code", "4",
                          "display", "Domain Resource");
    json_t *detail = json_array();
    if (str_of(row, "user_agent")[0])
        json_array_append_new(detail, json_pack("{ss ss}", "type", "user-agent", "valueString",
                                                str_of(row, "user_agent")));
    if (str_of(row, "request_id")[0])
        json_array_append_new(detail, json_pack("{ss ss}", "type", "request-id", "valueString",
                                                str_of(row, "request_id")));
    if (r && json_array_size(detail))
        json_object_set(r, "detail", detail);
    json_decref(detail);
    return json_pack("[oo]", p, r);
}

static int event_of(const json_t *patient, const json_t *row, json_t **out)
{
    json_t *jid = json_object_get(row, "id"), *jat = json_object_get(row, "at");
    const char *action = json_string_value(json_object_get(row, "action"));
    const char *outcome = json_string_value(json_object_get(row, "outcome"));
    if (!json_is_integer(jid) || !json_is_integer(jat) || !action || !action[0]) return -PL_EINVAL;
    char recorded[TIME_LEN], key[32], uuid[PL_FHIR_UUID_LEN + 1];
    if (!fmt_instant(json_integer_value(jat), recorded)) return -PL_EINVAL;
    snprintf(key, sizeof key, "%" PRId64, (int64_t)json_integer_value(jid));
    if (pl_fhir_uuid("AuditEvent", key, uuid) < 0) return -PL_EINVAL;
    bool ok = !outcome || !outcome[0] || !strcmp(outcome, "ok");
    char act = 'R', act_s[2];
    json_t *subtype = NULL;
    json_t *type = event_type(action, &act, &subtype);
    act_s[0] = act;
    act_s[1] = 0;
    json_t *ev = json_pack(
        "{ss ss so so ss ss ss so s{ss s{ss s{ss}} s[o]} so}", "resourceType", "AuditEvent", "id",
        uuid, "type", type, "subtype", subtype, "action", act_s, "recorded", recorded, "outcome",
        ok ? "0" : "4", "agent", agents(row), "source", "site", "Parley", "observer", "display",
        "Parley", "identifier", "value", "urn:parley:server", "type",
        coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4",
               "Application Server"),
        "entity", entities(patient, row));
    if (!ev) return -PL_ENOMEM;
    if (!ok) json_object_set_new(ev, "outcomeDesc", json_string(outcome));
    /* What Parley called it, for a reader who knows Parley (the value set is extensible). */
    json_array_append_new(json_object_get(ev, "subtype"),
                          json_pack("{ss ss}", "system", "urn:parley:audit-action", "code",
                                    action));
    char full[PL_FHIR_UUID_LEN + 10];
    snprintf(full, sizeof full, "urn:uuid:%s", uuid);
    *out = json_pack("{ss so}", "fullUrl", full, "resource", ev);
    return *out ? 0 : -PL_ENOMEM;
}

int pl_fhir_audit_bundle(const json_t *patient, const json_t *rows, int64_t now_ms,
                         json_t **bundle)
{
    char ts[TIME_LEN];
    if (!json_is_object(patient) || !json_is_array(rows) ||
        strlen(str_of(patient, "nhs_number")) != 10 || !fmt_instant(now_ms, ts))
        return -PL_EINVAL;
    json_t *entries = json_array();
    if (!entries) return -PL_ENOMEM;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_t *e = NULL;
        int rc = json_is_object(row) ? event_of(patient, row, &e) : -PL_EINVAL;
        if (rc < 0) {
            json_decref(entries);
            return rc;
        }
        json_array_append_new(entries, e);
    }
    json_t *b = json_pack("{ss ss ss so}", "resourceType", "Bundle", "type", "collection",
                          "timestamp", ts, "entry", entries);
    if (!b) return -PL_ENOMEM;
    *bundle = b;
    return 0;
}
