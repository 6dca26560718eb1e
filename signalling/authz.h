/* The one authorisation module. Every access decision in Parley is made here, as a pure
 * function of (actor, resource, action): no I/O, no clock, no globals. Handlers load the facts
 * (the actor's memberships, the resource's organisation and patient) and ask. Tested as a matrix
 * of role x resource x action in tests/signalling/test_authz.c. */
#ifndef PL_AUTHZ_H
#define PL_AUTHZ_H

#include "storage/store.h"

typedef enum {
    PL_RES_CONVERSATION = 1, /* a patient's request to a practice */
    PL_RES_EVENT,            /* one event of a conversation's stream */
    PL_RES_ORG,              /* an organisation's settings */
    PL_RES_PATIENT,          /* a patient's identity (org_id = their registered practice) */
    PL_RES_TEMPLATE,         /* a practice's reply template (patient_id 0) */
    PL_RES_CONSULTATION,     /* a video consultation (on a conversation of the patient's) */
    PL_RES_AGREEMENT,        /* an information-sharing agreement: org_id the practice,
                                peer_org_id the specialist service */
    PL_RES_CASE,             /* a case discussion (MDT): org_id the practice that opened it */
    PL_RES_ADVICE,           /* an advice request: org_id the practice that asks, peer_org_id
                                the service asked; conversation_id its thread */
} pl_resource_kind_t;

typedef struct {
    pl_resource_kind_t kind;
    int64_t org_id;     /* owning organisation */
    int64_t patient_id; /* the patient it is about (0 for PL_RES_ORG and PL_RES_TEMPLATE) */
    bool staff_only;    /* events: internal notes and other staff-only facts */
    /* Conversations, their events and consultations: the conversation (0 when not known, which
     * a session scoped to a consultation is never allowed). */
    int64_t conversation_id;
    /* PL_RES_CONSULTATION: the consultation; PL_RES_EVENT: the consultation a consult.* event
     * is about (0 for other events) */
    int64_t consultation_id;
    /* Professional-to-professional (advice threads and their events, advice requests,
     * agreements): the second organisation, the specialist service. 0 for everything else. A
     * patient never sees a resource that has one. */
    int64_t peer_org_id;
    /* PL_RES_ADVICE and a call on an advice thread, as the handler found it now: an agreement
     * between the two organisations is in force, and it shares the patient's identity with
     * the service. */
    bool agreement_active;
    bool identity_shared;
    /* A case discussion, its thread, the thread's events and its meeting: the case (0 for
     * everything else), and whether the actor is a member with access now, as the handler
     * found it (the store judges membership, organisation and agreement in one rule). */
    int64_t case_id;
    bool case_member;
} pl_resource_t;

typedef enum {
    PL_ACT_READ = 1,     /* see it: open, history, events */
    PL_ACT_CREATE,       /* start a conversation; add a template */
    PL_ACT_SEND,         /* send a message the patient sees */
    PL_ACT_NOTE,         /* add an internal note */
    PL_ACT_READ_NOTES,   /* see internal notes */
    PL_ACT_ASSIGN,       /* assign or reassign */
    PL_ACT_SET_STATUS,   /* change status */
    PL_ACT_RECEIPT,      /* mark delivered/read */
    PL_ACT_TYPING,       /* typing indicator */
    PL_ACT_ADMIN,        /* change organisation settings */
    PL_ACT_UPDATE,       /* change a template */
    PL_ACT_DELETE,       /* delete a template */
    PL_ACT_WAIT,         /* consultation: enter its waiting room (the patient) */
    PL_ACT_ADMIT,        /* consultation: let the waiting patient into the call */
    PL_ACT_END,          /* consultation: end it for everyone, or cancel it */
    PL_ACT_INVITE,       /* consultation: add a colleague as a participant */
    PL_ACT_LINK,         /* consultation: issue the patient a new join link */
    PL_ACT_JOIN,         /* consultation: take part in the call's media (media/ integration) */
    PL_ACT_CLAIM,        /* advice: a specialist takes a request, or is assigned it */
    PL_ACT_RESPOND,      /* advice: ask the GP for more, give advice and close with an outcome */
    PL_ACT_IDENTITY,     /* advice and its calls: see who the patient is (name, NHS number,
                          * date of birth) */
    PL_ACT_EXPORT,       /* a patient's whole record, as FHIR (PL_RES_PATIENT) */
    PL_ACT_AUDIT,        /* who accessed a patient's data: their audit trail (PL_RES_PATIENT) */
    PL_ACT_FILE,         /* conversation: file its transcript to the record, mark a message
                          * entered in error (the clinicians' record-keeping) */
    PL_ACT_LIMIT_          /* not an action: one past the last (new actions go above) */
} pl_action_t;

/* 0 if allowed, -PL_EPERM if not. NULL actor or resource is never allowed. An actor with a
 * scope (a session opened from a consultation link) is first held to that consultation, its
 * conversation and that conversation's events; the ordinary rules then apply on top. */
int pl_authz_check(const pl_actor_t *actor, const pl_resource_t *res, pl_action_t action);

/* Whether the actor's session may send requests of this type at all. Ordinary sessions may send
 * any; a session scoped to a consultation only what its page needs (ping, session.info,
 * events.subscribe, conversation.get/history/send, typing.set, receipt.mark, consult.get and
 * consult.wait, consult.join/reoffer/leave, media.ice_servers); a guest the same without the
 * conversation's chat. What those requests touch is still checked by pl_authz_check. */
bool pl_authz_request_allowed(const pl_actor_t *actor, const char *type);

/* The resource a conversation is, for pl_authz_check: every handler that acts on a conversation
 * (or on something inside it: a message, an attachment) builds it here, so what authz knows of
 * a conversation is decided in one place. */
pl_resource_t pl_conv_resource(const pl_conv_t *conv);

/* The actor's roles at org (0 if not a member). */
unsigned pl_authz_roles_at(const pl_actor_t *actor, int64_t org_id);

#endif
