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
} pl_resource_kind_t;

typedef struct {
    pl_resource_kind_t kind;
    int64_t org_id;     /* owning organisation */
    int64_t patient_id; /* the patient it is about (0 for PL_RES_ORG and PL_RES_TEMPLATE) */
    bool staff_only;    /* events: internal notes and other staff-only facts */
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
} pl_action_t;

/* 0 if allowed, -PL_EPERM if not. NULL actor or resource is never allowed. */
int pl_authz_check(const pl_actor_t *actor, const pl_resource_t *res, pl_action_t action);

/* The actor's roles at org (0 if not a member). */
unsigned pl_authz_roles_at(const pl_actor_t *actor, int64_t org_id);

#endif
