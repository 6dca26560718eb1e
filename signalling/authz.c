/* Authorisation rules. Kept as a few plain conditions so that the whole policy can be read on
 * one screen; see authz.h. Cross-organisation access (sharing agreements, case discussions) is
 * decided here and nowhere else. */
#include "signalling/authz.h"
#include "core/err.h"

#include <string.h>

pl_resource_t pl_conv_resource(const pl_conv_t *conv)
{
    pl_resource_t res = {.kind = PL_RES_CONVERSATION,
                         .org_id = conv->org_id,
                         .patient_id = conv->patient_id,
                         .conversation_id = conv->id,
                         .peer_org_id = conv->peer_org_id,
                         .case_id = conv->case_id};
    return res;
}

unsigned pl_authz_roles_at(const pl_actor_t *actor, int64_t org_id)
{
    for (int i = 0; i < actor->n_orgs; i++)
        if (actor->orgs[i].org_id == org_id) return actor->orgs[i].roles;
    return 0;
}

/* A session opened from a consultation link (POST /api/v1/join) is held to that consultation:
 * reading it and waiting in it, its conversation's chat, and that conversation's events. Not
 * the patient's other conversations, not their list, not their identity. The ordinary rules
 * still apply on top: a scope narrows, it never grants. */
static int scope_allows(const pl_actor_t *a, const pl_resource_t *r, pl_action_t act)
{
    if (a->scope_consultation_id == 0) return 0;
    if (a->scope_consultation_id < 0 || a->scope_conversation_id <= 0) return -PL_EPERM;
    switch (r->kind) {
    case PL_RES_CONSULTATION:
        if (r->consultation_id != a->scope_consultation_id) return -PL_EPERM;
        return act == PL_ACT_READ || act == PL_ACT_WAIT || act == PL_ACT_JOIN ? 0 : -PL_EPERM;
    case PL_RES_CONVERSATION:
        if (r->conversation_id != a->scope_conversation_id) return -PL_EPERM;
        return act == PL_ACT_READ || act == PL_ACT_SEND || act == PL_ACT_RECEIPT ||
                       act == PL_ACT_TYPING
                   ? 0
                   : -PL_EPERM;
    case PL_RES_EVENT:
        return r->conversation_id == a->scope_conversation_id && act == PL_ACT_READ ? 0
                                                                                  : -PL_EPERM;
    default:
        return -PL_EPERM;
    }
}

static int patient_may(const pl_actor_t *a, const pl_resource_t *r, pl_action_t act)
{
    /* Between professionals (advice, agreements, case discussions): never the patient's. */
    if (r->peer_org_id || r->case_id || r->kind == PL_RES_AGREEMENT || r->kind == PL_RES_ADVICE ||
        r->kind == PL_RES_CASE)
        return -PL_EPERM;
    /* Organisations and their templates are the practice's business. */
    if (r->kind == PL_RES_ORG || r->kind == PL_RES_TEMPLATE) return -PL_EPERM;
    if (r->patient_id != a->user_id) return -PL_EPERM;
    if (r->kind == PL_RES_PATIENT) return act == PL_ACT_READ ? 0 : -PL_EPERM;
    if (r->kind == PL_RES_EVENT) return act == PL_ACT_READ && !r->staff_only ? 0 : -PL_EPERM;
    /* Their own consultations: see them, wait to be admitted, be in the call. Booking and
     * running one is the practice's. */
    if (r->kind == PL_RES_CONSULTATION)
        return act == PL_ACT_READ || act == PL_ACT_WAIT || act == PL_ACT_JOIN ? 0 : -PL_EPERM;
    switch (act) {
    case PL_ACT_CREATE:
        /* Patients write only to the practice they are registered with. */
        return r->org_id == a->practice_id ? 0 : -PL_EPERM;
    case PL_ACT_READ:
    case PL_ACT_SEND:
    case PL_ACT_RECEIPT:
    case PL_ACT_TYPING:
        return 0;
    default:
        return -PL_EPERM;
    }
}

#define CLINICAL_ROLES (PL_ROLE_GP | PL_ROLE_NURSE | PL_ROLE_PHARMACIST | PL_ROLE_CLINICIAN)

/* Professional-to-professional resources (peer_org_id set): the practice that asks (org_id)
 * and the specialist service asked (peer_org_id). Each side sees only what is between them and
 * the other; nobody else sees any of it. */
static int professional_may(const pl_actor_t *a, const pl_resource_t *r, pl_action_t act)
{
    unsigned gp_side = pl_authz_roles_at(a, r->org_id);
    unsigned service = pl_authz_roles_at(a, r->peer_org_id);
    if (!gp_side && !service) return -PL_EPERM;
    switch (r->kind) {
    case PL_RES_AGREEMENT:
        /* Read by both sides; proposed, accepted and ended by an admin of either. */
        if (act == PL_ACT_READ) return 0;
        return act == PL_ACT_ADMIN && ((gp_side | service) & PL_ROLE_PRACTICE_ADMIN) ? 0 : -PL_EPERM;
    case PL_RES_ADVICE:
        if (act == PL_ACT_READ) return 0;
        /* Asked by a clinician of the practice, only while an agreement is in force. */
        if (act == PL_ACT_CREATE) return (gp_side & CLINICAL_ROLES) && r->agreement_active ? 0 : -PL_EPERM;
        /* The service works it: its specialists claim and answer; its staff may assign. */
        if (act == PL_ACT_CLAIM) return service & (PL_ROLE_SPECIALIST | PL_ROLE_PRACTICE_ADMIN) ? 0 : -PL_EPERM;
        if (act == PL_ACT_RESPOND) return service & PL_ROLE_SPECIALIST ? 0 : -PL_EPERM;
        /* The patient's identity: always the practice's own; the service's only under an
         * agreement in force that shares it. An agreement that has ended hides it again. */
        if (act == PL_ACT_IDENTITY)
            return gp_side || (r->agreement_active && r->identity_shared) ? 0 : -PL_EPERM;
        return -PL_EPERM;
    case PL_RES_CONVERSATION:
        /* The thread: both sides talk in it. Internal notes are the practice's own. */
        if (act == PL_ACT_READ || act == PL_ACT_SEND || act == PL_ACT_RECEIPT ||
            act == PL_ACT_TYPING)
            return 0;
        /* The record is the practice's: its clinicians file the thread. */
        if (act == PL_ACT_FILE) return gp_side & CLINICAL_ROLES ? 0 : -PL_EPERM;
        return (act == PL_ACT_NOTE || act == PL_ACT_READ_NOTES) && gp_side ? 0 : -PL_EPERM;
    case PL_RES_EVENT:
        return act == PL_ACT_READ && (gp_side || !r->staff_only) ? 0 : -PL_EPERM;
    case PL_RES_CONSULTATION:
        /* A call on the thread (live escalation): a clinician of the practice or a specialist
         * of the service starts it, and both teams may see it, take part and end it. */
        if (act == PL_ACT_READ || act == PL_ACT_JOIN || act == PL_ACT_END) return 0;
        if (act == PL_ACT_CREATE)
            return (gp_side & CLINICAL_ROLES) || (service & PL_ROLE_SPECIALIST) ? 0 : -PL_EPERM;
        /* Bringing the patient in is their own practice's, and only while an agreement is in
         * force: on video the specialist sees who the patient is. */
        if (act == PL_ACT_INVITE) return gp_side && r->agreement_active ? 0 : -PL_EPERM;
        if (act == PL_ACT_IDENTITY)
            return gp_side || (r->agreement_active && r->identity_shared) ? 0 : -PL_EPERM;
        return -PL_EPERM;
    default:
        return -PL_EPERM;
    }
}

/* A case discussion (MDT) and everything on it (case_id set): its members' and nobody
 * else's, not even the rest of the practice that opened it. A member from the practice runs it
 * (invites, closes); every member talks, sees the patient's identity (only services whose
 * agreement shares it can have members) and takes part in the meeting. */
static int case_may(const pl_actor_t *a, const pl_resource_t *r, pl_action_t act)
{
    unsigned practice = pl_authz_roles_at(a, r->org_id);
    if (r->kind == PL_RES_CASE && act == PL_ACT_CREATE)
        return (practice & CLINICAL_ROLES) ? 0 : -PL_EPERM;
    if (!r->case_member) return -PL_EPERM;
    switch (r->kind) {
    case PL_RES_CASE:
        if (act == PL_ACT_READ || act == PL_ACT_IDENTITY) return 0;
        return (act == PL_ACT_INVITE || act == PL_ACT_END) && practice ? 0 : -PL_EPERM;
    case PL_RES_CONVERSATION:
        if (act == PL_ACT_FILE) return practice & CLINICAL_ROLES ? 0 : -PL_EPERM;
        return act == PL_ACT_READ || act == PL_ACT_SEND || act == PL_ACT_RECEIPT ? 0 : -PL_EPERM;
    case PL_RES_EVENT:
        return act == PL_ACT_READ && !r->staff_only ? 0 : -PL_EPERM;
    case PL_RES_CONSULTATION:
        return act == PL_ACT_READ || act == PL_ACT_CREATE || act == PL_ACT_JOIN ||
                       act == PL_ACT_END || act == PL_ACT_IDENTITY
                   ? 0
                   : -PL_EPERM;
    default:
        return -PL_EPERM;
    }
}

static int staff_may(const pl_actor_t *a, const pl_resource_t *r, pl_action_t act)
{
    if (r->case_id || r->kind == PL_RES_CASE) return r->peer_org_id ? -PL_EPERM : case_may(a, r, act);
    if (r->peer_org_id || r->kind == PL_RES_AGREEMENT || r->kind == PL_RES_ADVICE)
        return r->peer_org_id ? professional_may(a, r, act) : -PL_EPERM;
    unsigned roles = pl_authz_roles_at(a, r->org_id);
    if (!roles) return -PL_EPERM;
    if (r->kind == PL_RES_ORG)
        return (act == PL_ACT_READ || (act == PL_ACT_ADMIN && (roles & PL_ROLE_PRACTICE_ADMIN)))
                   ? 0
                   : -PL_EPERM;
    /* The whole record leaves Parley with the practice's clinicians and its admins, who answer
     * for it as data controller; not with the front desk. */
    if (r->kind == PL_RES_PATIENT && act == PL_ACT_EXPORT)
        return roles & (CLINICAL_ROLES | PL_ROLE_PRACTICE_ADMIN) ? 0 : -PL_EPERM;
    /* Who looked at a patient's data is the practice's to answer for, as data controller: its
     * admins see the trail (a patient sees the organisations, through their own request). */
    if (r->kind == PL_RES_PATIENT && act == PL_ACT_AUDIT)
        return roles & PL_ROLE_PRACTICE_ADMIN ? 0 : -PL_EPERM;
    if (r->kind == PL_RES_EVENT || r->kind == PL_RES_PATIENT)
        return act == PL_ACT_READ ? 0 : -PL_EPERM;
    /* Consultations are run by the practice team, as its inbox is: any member may book one,
     * send the link, admit the patient, invite a colleague, take part and end it. Waiting to be
     * admitted is the patient's. */
    if (r->kind == PL_RES_CONSULTATION)
        return (act == PL_ACT_READ || act == PL_ACT_CREATE || act == PL_ACT_ADMIT ||
                act == PL_ACT_END || act == PL_ACT_INVITE || act == PL_ACT_LINK ||
                act == PL_ACT_JOIN)
                   ? 0
                   : -PL_EPERM;
    /* Templates are the team's shared wording: anyone on the team may keep them. */
    if (r->kind == PL_RES_TEMPLATE)
        return (act == PL_ACT_READ || act == PL_ACT_CREATE || act == PL_ACT_UPDATE ||
                act == PL_ACT_DELETE)
                   ? 0
                   : -PL_EPERM;
    /* What goes into the patient's record is the clinicians' to decide. */
    if (act == PL_ACT_FILE) return roles & CLINICAL_ROLES ? 0 : -PL_EPERM;
    switch (act) {
    case PL_ACT_READ:
    case PL_ACT_SEND:
    case PL_ACT_NOTE:
    case PL_ACT_READ_NOTES:
    case PL_ACT_ASSIGN:
    case PL_ACT_SET_STATUS:
    case PL_ACT_RECEIPT:
    case PL_ACT_TYPING:
        /* The whole practice team works one shared inbox. */
        return 0;
    default:
        /* Requests are started by patients; staff-initiated conversations come later. */
        return -PL_EPERM;
    }
}

/* A guest (an interpreter or carer from outside the practice) exists only inside the one
 * consultation its link was for, already enforced by scope_allows: it may see the consultation,
 * wait to be admitted and take part in the call, and see that consultation's own events (who
 * is waiting, joined, left; that it ended). Not the conversation it sits on, which holds the
 * patient's messages, and nothing staff-only. */
static int guest_may(const pl_actor_t *a, const pl_resource_t *r, pl_action_t act)
{
    if (a->scope_consultation_id <= 0 || r->peer_org_id || r->case_id || r->kind == PL_RES_CASE)
        return -PL_EPERM;
    if (r->kind == PL_RES_CONSULTATION)
        return act == PL_ACT_READ || act == PL_ACT_WAIT || act == PL_ACT_JOIN ? 0 : -PL_EPERM;
    if (r->kind == PL_RES_EVENT)
        return act == PL_ACT_READ && !r->staff_only &&
                       r->consultation_id == a->scope_consultation_id
                   ? 0
                   : -PL_EPERM;
    return -PL_EPERM;
}

int pl_authz_check(const pl_actor_t *actor, const pl_resource_t *res, pl_action_t action)
{
    if (!actor || !res || actor->user_id <= 0) return -PL_EPERM;
    if (scope_allows(actor, res, action) < 0) return -PL_EPERM;
    if (actor->kind == PL_USER_PATIENT) return patient_may(actor, res, action);
    if (actor->kind == PL_USER_STAFF) return staff_may(actor, res, action);
    if (actor->kind == PL_USER_GUEST) return guest_may(actor, res, action);
    return -PL_EPERM;
}

bool pl_authz_request_allowed(const pl_actor_t *actor, const char *type)
{
    static const char *const scoped[] = {
        "ping",         "session.info", "events.subscribe", "conversation.get",
        "conversation.history", "conversation.send", "typing.set", "receipt.mark",
        "consult.get",  "consult.wait", "consult.join", "consult.reoffer", "consult.leave",
        "media.ice_servers", "attachment.url", NULL,
    };
    /* A guest has no chat: the conversation is the patient's. */
    static const char *const guest[] = {
        "ping",         "session.info",    "events.subscribe", "consult.get",       "consult.wait",
        "consult.join", "consult.reoffer", "consult.leave",    "media.ice_servers", NULL,
    };
    if (!actor || !type) return false;
    if (actor->kind == PL_USER_GUEST && actor->scope_consultation_id <= 0) return false;
    if (actor->scope_consultation_id == 0) return true;
    const char *const *list = actor->kind == PL_USER_GUEST ? guest : scoped;
    for (int i = 0; list[i]; i++)
        if (strcmp(type, list[i]) == 0) return true;
    return false;
}
