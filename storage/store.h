/* The store: Parley's persistence interface. Every durable fact (organisations, people,
 * sessions, conversations, messages, events, receipts, audit) is read and written through here.
 *
 * All functions are synchronous and must only be called from one thread at a time: in the
 * server that is the storage thread (storage/worker.h), in the CLI it is main. Sensitive text
 * (message bodies, subjects, structured answers, event payloads, TOTP secrets) is sealed with
 * AES-256-GCM under its organisation's data key (storage/store_keys.h: data keys are wrapped by
 * the master key in var/) before it reaches the database, and opened on the way out.
 *
 * One implementation (store_sqlite*.c, named for the engine it began with) serves SQLite and
 * PostgreSQL through storage/db.h (docs/CLUSTER.md). */
#ifndef PL_STORE_H
#define PL_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pl_store pl_store_t;

/* PL_USER_GUEST: someone from outside the practice (an interpreter, a carer) invited into one
 * video consultation. Guests never sign in; they exist only through a guest join link. */
typedef enum { PL_USER_PATIENT = 1, PL_USER_STAFF = 2, PL_USER_GUEST = 3 } pl_user_kind_t;

enum {
    PL_ROLE_RECEPTIONIST = 1 << 0, /* receptionist or care navigator */
    PL_ROLE_GP = 1 << 1,
    PL_ROLE_NURSE = 1 << 2,
    PL_ROLE_PHARMACIST = 1 << 3,
    PL_ROLE_CLINICIAN = 1 << 4, /* other clinician */
    PL_ROLE_SPECIALIST = 1 << 5,
    PL_ROLE_PRACTICE_ADMIN = 1 << 6,
};
#define PL_ROLE_COUNT 7
/* Role name <-> bit ("gp", "receptionist", ...). 0 if unknown. */
unsigned pl_role_from_name(const char *name);
const char *pl_role_name(unsigned role_bit);

#define PL_ACTOR_MAX_ORGS 32

/* Who is acting: loaded once per session and passed by value into jobs. */
typedef struct {
    int64_t user_id;
    pl_user_kind_t kind;
    int64_t practice_id; /* patients: their registered practice */
    int n_orgs;
    struct {
        int64_t org_id;
        unsigned roles;
    } orgs[PL_ACTOR_MAX_ORGS];
    char username[64];
    char display_name[128];
    char guest_role[16]; /* PL_USER_GUEST: "interpreter" or "carer"; "" otherwise */
    /* A session opened from a video consultation link (POST /api/v1/join) acts only on that
     * consultation and its conversation (signalling/authz.c); both 0 for an ordinary session. */
    int64_t scope_consultation_id;
    int64_t scope_conversation_id;
} pl_actor_t;

/* How a person is named in consultation events: "patient", "staff", or a guest's role. */
static inline const char *pl_actor_role(const pl_actor_t *a)
{
    return a->kind == PL_USER_PATIENT ? "patient"
           : a->kind == PL_USER_GUEST ? a->guest_role
                                      : "staff";
}

typedef struct {
    int64_t id;
    char code[32]; /* ODS-style code */
    char name[128];
    char kind[24]; /* practice | network | specialist_service */
    int64_t parent_id;
    int response_target_minutes; /* 0 = same working day */
    bool require_totp;
} pl_org_t;

/* A user row as login needs it. password_hash and totp secret stay inside the storage thread's
 * job and are wiped by the caller (pl_user_wipe). */
typedef struct {
    int64_t id;
    pl_user_kind_t kind;
    char username[64];
    char password_hash[160];
    bool disabled;
    bool totp_enabled;
    uint8_t totp_secret[32];
    size_t totp_secret_len;
    int64_t totp_last_step;
} pl_user_t;
void pl_user_wipe(pl_user_t *u);

typedef struct {
    int64_t user_id;
    int64_t created_at, last_seen_at, expires_at; /* ms since epoch */
} pl_session_row_t;

/* A conversation's access-relevant facts. */
typedef struct {
    int64_t id;
    int64_t org_id;
    int64_t patient_id;
    int64_t last_seq;
    char status[24]; /* new | in_progress | awaiting_patient | closed */
    char kind[16];   /* admin | clinical | video | advice | case */
    /* An advice request's thread: the specialist service whose staff share it (0 for every
     * other kind). Its events go to both organisations and never to the patient. */
    int64_t peer_org_id;
    /* A case discussion's thread: the case (0 for every other kind). Its events go to the
     * case's members only. */
    int64_t case_id;
} pl_conv_t;

/* A message as written: */
typedef struct {
    int64_t id, conversation_id, seq, sender_id, created_at;
    bool internal; /* internal note: staff only */
} pl_msg_t;

/* Opens (creating and migrating when needed) the store at url: "sqlite:PATH" (the file is
 * created 0600), "sqlite::memory:" (a private database in memory: the fuzz harness), or
 * "postgres://..." / "postgresql://..." (a shared PostgreSQL; -PL_EUNAVAIL when it cannot be
 * reached). key is the 32-byte master key, copied: it unwraps the data keys, and a wrong one is
 * refused here (-PL_ECRYPTO) before anything is written. Caller destroys. */
int pl_store_open(pl_store_t **out, const char *url, const uint8_t key[32]);
void pl_store_close(pl_store_t *st);
int pl_store_health(pl_store_t *st);

/* Transactions. The worker wraps each batch in begin/commit and each job in a savepoint. */
int pl_store_begin(pl_store_t *st);
/* A transaction for jobs that only read (storage/worker.h): on PostgreSQL it takes no write
 * lock. Ended with commit or rollback like any other. */
int pl_store_begin_read(pl_store_t *st);
/* The most jobs the storage thread should run in one transaction (0: no limit). PostgreSQL
 * gives each job's savepoint a subtransaction, and past 64 in one transaction every snapshot
 * taken meanwhile (on every node) has to look them up on disk: batches stay below that. */
int pl_store_batch_max(const pl_store_t *st);
int pl_store_commit(pl_store_t *st);
int pl_store_rollback(pl_store_t *st);
int pl_store_savepoint(pl_store_t *st);
int pl_store_release(pl_store_t *st);
int pl_store_rollback_to(pl_store_t *st);

/* Organisations. */
int pl_store_org_create(pl_store_t *st, const pl_org_t *org, int64_t *id);
int pl_store_org_get(pl_store_t *st, int64_t id, pl_org_t *out);
int pl_store_org_by_code(pl_store_t *st, const char *code, pl_org_t *out);
int pl_store_org_set(pl_store_t *st, int64_t id, const char *field, const char *value);
int pl_store_org_list(pl_store_t *st, json_t **out); /* caller decrefs */

/* People. nhs_number is canonical (10 digits) for patients, NULL for staff. */
int pl_store_user_create(pl_store_t *st, pl_user_kind_t kind, const char *username,
                         const char *display_name, const char *password_hash,
                         const char *nhs_number, const char *dob, int64_t practice_id,
                         int64_t *id);
int pl_store_user_by_username(pl_store_t *st, const char *username, pl_user_t *out);
int pl_store_user_set_password(pl_store_t *st, int64_t user_id, const char *password_hash);
int pl_store_user_set_disabled(pl_store_t *st, int64_t user_id, bool disabled);
int pl_store_user_set_totp(pl_store_t *st, int64_t user_id, const uint8_t *secret, size_t len,
                           bool enabled, int64_t last_step);
int pl_store_user_list(pl_store_t *st, json_t **out);
int pl_store_user_json(pl_store_t *st, int64_t user_id, json_t **out); /* public profile */
int pl_store_membership_add(pl_store_t *st, int64_t user_id, int64_t org_id, unsigned role);
int pl_store_actor_load(pl_store_t *st, int64_t user_id, pl_actor_t *out);
int pl_store_patient_by_nhs(pl_store_t *st, const char *nhs, int64_t *user_id);

/* Sessions, keyed by the hex SHA-256 of the token: the token itself is never stored. */
int pl_store_session_create(pl_store_t *st, const char *token_hash, int64_t user_id,
                            int64_t now, int64_t expires_at);
int pl_store_session_get(pl_store_t *st, const char *token_hash, pl_session_row_t *out);
/* -PL_ENOTFOUND when the session is gone (signed out, password changed, user disabled). */
int pl_store_session_touch(pl_store_t *st, const char *token_hash, int64_t now);
int pl_store_session_delete(pl_store_t *st, const char *token_hash);
int pl_store_sessions_delete_user(pl_store_t *st, int64_t user_id);

/* Conversations. create_txn makes creation idempotent per patient: a second create with the
 * same txn returns the first conversation's id and sets *dup. answers may be NULL. */
int pl_store_conv_create(pl_store_t *st, int64_t org_id, int64_t patient_id, const char *kind,
                         const char *subject, const json_t *answers, const char *create_txn,
                         int64_t now, int64_t *id, bool *dup);
int pl_store_conv_get(pl_store_t *st, int64_t id, pl_conv_t *out);
/* Full JSON view (subject, answers, status, assignee, times). */
int pl_store_conv_json(pl_store_t *st, int64_t id, json_t **out);
int pl_store_conv_set_status(pl_store_t *st, int64_t id, const char *status, int64_t now);
int pl_store_conv_assign(pl_store_t *st, int64_t id, int64_t user_id, const char *role,
                         int64_t now);
/* Inbox and patient listings. filter: NULL or new|assigned_to_me|awaiting_patient|overdue|open|closed.
 * before_id pages backwards (0 = newest). */
int pl_store_conv_list_org(pl_store_t *st, const int64_t *org_ids, int n_orgs, int64_t me,
                           const char *filter, int64_t before_id, int limit, int64_t now,
                           json_t **out);
int pl_store_conv_list_patient(pl_store_t *st, int64_t patient_id, int64_t before_id, int limit,
                               json_t **out);

/* Messages. Idempotent on (sender, txn_id): a repeat returns the original in *out with *dup set.
 * A message takes the next per-conversation seq; an internal note takes the current one (it
 * follows that message) and does not advance it. Server time is `now`. */
int pl_store_msg_append(pl_store_t *st, const pl_conv_t *conv, int64_t sender_id, bool internal,
                        const char *txn_id, const char *body, size_t body_len, int64_t now,
                        pl_msg_t *out, bool *dup);
/* The message a sender already stored under txn_id, if any: 0 or -PL_ENOTFOUND. */
int pl_store_msg_find_txn(pl_store_t *st, int64_t sender_id, const char *txn_id, pl_msg_t *out);
/* The message (with body) as JSON. */
int pl_store_msg_json(pl_store_t *st, int64_t msg_id, json_t **out);
/* History in transcript order: the `limit` entries before message id before_id (0 = latest),
 * oldest first; next_before is the id to pass for the page before, or null at the start.
 * include_internal false hides internal notes (patients). */
int pl_store_msg_history(pl_store_t *st, int64_t conv_id, int64_t before_id, int limit,
                         bool include_internal, json_t **out);

/* Receipts: raises (never lowers) a user's delivered/read seq. *changed is set if it moved. */
int pl_store_receipt_set(pl_store_t *st, int64_t conv_id, int64_t user_id, int64_t delivered_seq,
                         int64_t read_seq, bool *changed, int64_t *out_delivered,
                         int64_t *out_read);

/* Receipts of a conversation by side: the patient's own, and the furthest any staff member
 * has reached (the practice answers as a team). Zeros where there are none. */
typedef struct {
    int64_t patient_delivered, patient_read, staff_delivered, staff_read;
} pl_receipt_sum_t;
int pl_store_receipt_summary(pl_store_t *st, int64_t conv_id, int64_t patient_id,
                             pl_receipt_sum_t *out);

/* Events: the resumable stream. The payload is sealed at rest. */
int pl_store_event_append(pl_store_t *st, int64_t conv_id, int64_t org_id, int64_t patient_id,
                          bool staff_only, const char *type, const json_t *payload, int64_t now,
                          int64_t *id);
/* The same with a second organisation whose staff see the event (peer_org_id, 0 for none). */
int pl_store_event_append_peer(pl_store_t *st, int64_t conv_id, int64_t org_id,
                               int64_t peer_org_id, int64_t patient_id, bool staff_only,
                               const char *type, const json_t *payload, int64_t now, int64_t *id);
/* Marks event id as a case discussion's (delivered to its members only). */
int pl_store_event_set_case(pl_store_t *st, int64_t id, int64_t case_id);
/* Events after `after` that could be visible to the actor (by org membership, as the owning
 * or the peer organisation, or patient), oldest first, at most limit. Each: {cursor, type,
 * conversation_id, org_id, peer_org_id, case_id, patient_id, staff_only, at, payload}; a case
 * discussion's only for its members with access now. Callers still
 * run each through authz. */
int pl_store_events_since(pl_store_t *st, const pl_actor_t *actor, int64_t after, int limit,
                          json_t **out);
int pl_store_events_head(pl_store_t *st, int64_t *head);
/* Every event after `after`, whoever may see it, oldest first, at most limit: a cluster node's
 * read of the log it fans out from (signalling/cluster.c). As pl_store_events_since's, plus
 * "audience" (the members with access at now) on a case discussion's. Callers run each
 * through authz for each connection. */
int pl_store_events_tail(pl_store_t *st, int64_t after, int limit, int64_t now, json_t **out);

/* A practice team's shared, non-patient data (store_sqlite_tpl.c). Stored in plain text. */

/* The non-disabled staff members of org_id with at least one role there, ordered by display
 * name (ASCII case-insensitive), then id. *out is a new array of {"id","display_name","roles"},
 * roles being role names; caller decrefs. An unknown org gives an empty array. */
int pl_store_org_staff(pl_store_t *st, int64_t org_id, json_t **out);

/* Reply templates: canned replies a practice's staff share. A template is
 * {"id","org_id","title","body","updated_at"}; deleting one marks it deleted, and a deleted
 * template is not found by any call below. */
#define PL_TPL_MAX_PER_ORG 200 /* live templates per organisation */
/* Creates a template for org_id written by user `by`; -PL_ECONFLICT when the organisation
 * already has PL_TPL_MAX_PER_ORG live ones. */
int pl_store_tpl_create(pl_store_t *st, int64_t org_id, const char *title, const char *body,
                        int64_t by, int64_t now, int64_t *id);
/* Replaces title and body. -PL_ENOTFOUND unless id is a live template of org_id. */
int pl_store_tpl_update(pl_store_t *st, int64_t id, int64_t org_id, const char *title,
                        const char *body, int64_t by, int64_t now);
/* Marks it deleted. -PL_ENOTFOUND unless id is a live template of org_id. */
int pl_store_tpl_delete(pl_store_t *st, int64_t id, int64_t org_id, int64_t by, int64_t now);
/* One live template as a new object (caller decrefs); -PL_ENOTFOUND if missing or deleted. */
int pl_store_tpl_json(pl_store_t *st, int64_t id, json_t **out);
/* org_id's live templates as a new array, ordered by title (ASCII case-insensitive), then id.
 * Caller decrefs. */
int pl_store_tpl_list(pl_store_t *st, int64_t org_id, json_t **out);

/* ---- video consultations (store_sqlite_consult.c) ----
 * A consultation belongs to a conversation: its chat, receipts and events are the
 * conversation's. Status moves booked -> waiting -> in_call -> ended, or from booked or waiting
 * to cancelled. Times are ms since the epoch; 0 stands for "not set" (NULL in the database). */
typedef struct {
    int64_t id, conversation_id, org_id, patient_id;
    int64_t clinician_user_id; /* who booked it, and leads it */
    int64_t scheduled_at, created_at, started_at, ended_at;
    char status[16]; /* booked | waiting | in_call | ended | cancelled */
    /* A call on an advice thread: the service asked (the thread's peer_org_id), else 0. */
    int64_t peer_org_id;
    /* The consultation whose media room this one's call is in (a patient brought into an
     * advice call), else 0: its own. */
    int64_t room_id;
    /* A case discussion's meeting: the case, else 0. Up to PL_CASE_MAX_MEMBERS in the call. */
    int64_t case_id;
} pl_consult_t;

/* A join link as stored: never the token itself, only its hash. */
typedef struct {
    int64_t id, consultation_id, created_at, expires_at, claimed_at;
    int64_t guest_id;     /* 0: the patient's link; else the guest's it admits */
    char device_hash[65]; /* "" until a device has claimed the link */
    int dob_failures;
    bool revoked;
} pl_consult_link_t;

/* Presence in the call, as the media layer reports it. */
typedef enum { PL_CONSULT_JOINED = 1, PL_CONSULT_LEFT, PL_CONSULT_RECONNECTED } pl_presence_t;

#define PL_CONSULT_MAX_INVITED 1 /* the call has three places: patient, clinician, one more */
#define PL_CONSULT_CAPACITY 3

/* A conversation the server starts itself for a consultation: kind "video", status in_progress
 * and no response clock running (nobody is waiting for the practice to answer yet). The
 * subject is sealed like any other. */
int pl_store_consult_conv_create(pl_store_t *st, int64_t org_id, int64_t patient_id,
                                 const char *subject, int64_t now, int64_t *id);
/* scheduled_at 0: not scheduled. Status starts at booked. */
int pl_store_consult_create(pl_store_t *st, int64_t conversation_id, int64_t org_id,
                            int64_t patient_id, int64_t clinician_user_id, int64_t scheduled_at,
                            int64_t now, int64_t *id);
int pl_store_consult_get(pl_store_t *st, int64_t id, pl_consult_t *out);
/* Puts consultation id's call into room_id's media room (see pl_consult_t). */
int pl_store_consult_set_room(pl_store_t *st, int64_t id, int64_t room_id);
/* The consultations still open (booked, waiting, in call) whose call is in room_id's room, at
 * most max, into ids; *n their number. */
int pl_store_consult_in_room(pl_store_t *st, int64_t room_id, int64_t *ids, int max, int *n);
/* The open call (status in_call) on a conversation, if any: how both sides of an advice thread
 * find the one call to join. -PL_ENOTFOUND. */
int pl_store_consult_open_call(pl_store_t *st, int64_t conversation_id, pl_consult_t *out);
/* Moves status from `from` to `to`, stamping started_at when `to` is in_call and ended_at when it
 * is ended or cancelled. -PL_ECONFLICT if the status is no longer `from`, -PL_ENOTFOUND. */
int pl_store_consult_set_status(pl_store_t *st, int64_t id, const char *from, const char *to,
                                int64_t now);
/* The consultation as a new object (caller decrefs): the staff view, see docs/PROTOCOL.md. */
int pl_store_consult_json(pl_store_t *st, int64_t id, json_t **out);
/* Listings, newest booking first, paging backwards by id (before_id 0 = newest).
 * filter: "today" (scheduled, or if unscheduled booked, on the server's local day of now),
 * "upcoming" (not ended or cancelled) or NULL/"all". *out is {"consultations":[...],
 * "next_before": id|null}; caller decrefs. Calls on advice threads are not listed: they
 * are the thread's, between professionals. */
int pl_store_consult_list_org(pl_store_t *st, const int64_t *org_ids, int n_orgs,
                              const char *filter, int64_t before_id, int limit, int64_t now,
                              json_t **out);
int pl_store_consult_list_patient(pl_store_t *st, int64_t patient_id, const char *filter,
                                  int64_t before_id, int limit, int64_t now, json_t **out);

/* Invites a colleague. *added is false when user_id was already invited (nothing changes).
 * -PL_ECONFLICT when PL_CONSULT_MAX_INVITED others are already invited. */
int pl_store_consult_invite(pl_store_t *st, int64_t consultation_id, int64_t user_id,
                            int64_t by, int64_t now, bool *added);
/* Records presence in the call for the media layer: joined (first join time kept), left,
 * reconnected. */
int pl_store_consult_presence(pl_store_t *st, int64_t consultation_id, int64_t user_id,
                              pl_presence_t what, int64_t now);

/* A guest: a users row that can never sign in (see schema migration 4). role is "interpreter"
 * or "carer". */
int pl_store_guest_create(pl_store_t *st, const char *display_name, const char *role, int64_t now,
                          int64_t *id);

/* One person's place in a consultation beyond the booking. */
typedef struct {
    bool invited;
    int64_t waiting_at, admitted_at; /* 0: not waiting / not admitted */
} pl_consult_part_t;
/* -PL_ENOTFOUND when user_id has no row for the consultation. */
int pl_store_consult_part_get(pl_store_t *st, int64_t consultation_id, int64_t user_id,
                              pl_consult_part_t *out);
/* An invited guest enters the waiting room (unless already admitted); *moved is false when
 * nothing changed. */
int pl_store_consult_part_wait(pl_store_t *st, int64_t consultation_id, int64_t user_id,
                               int64_t now, bool *moved);
/* Lets an invited guest in. -PL_ECONFLICT if not invited; *moved false if already admitted. */
int pl_store_consult_part_admit(pl_store_t *st, int64_t consultation_id, int64_t user_id,
                                int64_t now, bool *moved);

/* At server start: nobody is in a call (calls live in the server process). With several nodes
 * sharing one store this must become per node. */
int pl_store_consult_presence_reset(pl_store_t *st);
/* Nobody is present in the call held in room (a consultation id): its own participants and
 * those of consultations held in it. A cluster node opening a room that another node held
 * before it died: whoever was "present" there is in no call now. */
int pl_store_consult_presence_clear_room(pl_store_t *st, int64_t room);

/* Join links, keyed by the hex SHA-256 of the token. guest_id 0 makes the patient's link. */
int pl_store_consult_link_create(pl_store_t *st, int64_t consultation_id, int64_t guest_id,
                                 const char *token_hash, int64_t now, int64_t expires_at,
                                 int64_t *id);
/* Revokes live links of the consultation: the patient's (guest_id 0), one guest's, or
 * every one (PL_LINKS_ALL). */
#define PL_LINKS_ALL (-1)
int pl_store_consult_links_revoke(pl_store_t *st, int64_t consultation_id, int64_t guest_id);
/* The link with this token hash, whatever its state: callers judge expiry and revocation. */
int pl_store_consult_link_find(pl_store_t *st, const char *token_hash, pl_consult_link_t *out);
/* Counts a wrong date of birth; *failures gets the new count. */
int pl_store_consult_link_fail(pl_store_t *st, int64_t link_id, int *failures);
/* Binds an unclaimed link to a device (hex SHA-256 of its secret). -PL_ECONFLICT if already
 * bound. */
int pl_store_consult_link_claim(pl_store_t *st, int64_t link_id, const char *device_hash,
                                int64_t now);

/* A patient's date of birth as stored ("YYYY-MM-DD"); -PL_ENOTFOUND for non-patients. */
int pl_store_patient_dob(pl_store_t *st, int64_t user_id, char out[16]);

/* Sessions restricted to one consultation (opened by POST /api/v1/join). */
int pl_store_session_create_scoped(pl_store_t *st, const char *token_hash, int64_t user_id,
                                   int64_t consultation_id, int64_t now, int64_t expires_at);
/* The session's scope: *consultation_id is 0 for an ordinary session. -PL_ENOTFOUND. */
int pl_store_session_scope(pl_store_t *st, const char *token_hash, int64_t *consultation_id);

/* ---- professional advice (store_sqlite_advice.c) ----
 * A specialist service is an orgs row of kind specialist_service. An agreement between a
 * practice and a service is proposed by an admin of one side and accepted by an admin of the
 * other; see pl_agreement_state. Times are ms since the epoch; 0 is "not set". */
typedef struct {
    int64_t id;
    char name[128], code[32];
    json_t *specialties; /* array of names; the caller decrefs */
    int routine_target_hours, urgent_target_hours;
} pl_service_t;
/* specialties: a JSON array of strings. -PL_ENOTFOUND unless org_id is a specialist service. */
int pl_store_service_set(pl_store_t *st, int64_t org_id, const json_t *specialties,
                         int routine_target_hours, int urgent_target_hours);
int pl_store_service_get(pl_store_t *st, int64_t org_id, pl_service_t *out);
/* Every specialist service: [{id, code, name, specialties, routine_target_hours,
 * urgent_target_hours}]. */
int pl_store_service_list(pl_store_t *st, json_t **out);

typedef struct {
    int64_t id, practice_id, service_id;
    char shares[16]; /* identified | pseudonymised */
    int64_t starts_at, ends_at;
    int64_t proposed_by, proposed_org_id, proposed_at;
    int64_t accepted_by, accepted_at, ended_by, ended_at;
} pl_agreement_t;
/* "proposed", "accepted" (not started yet), "active", "expired" or "ended". */
const char *pl_agreement_state(const pl_agreement_t *a, int64_t now);
json_t *pl_agreement_json(const pl_agreement_t *a, int64_t now);
int pl_store_agreement_create(pl_store_t *st, const pl_agreement_t *a, int64_t *id);
int pl_store_agreement_get(pl_store_t *st, int64_t id, pl_agreement_t *out);
/* -PL_ECONFLICT when already accepted or ended. */
int pl_store_agreement_accept(pl_store_t *st, int64_t id, int64_t by, int64_t now);
/* -PL_ECONFLICT when already ended. */
int pl_store_agreement_end(pl_store_t *st, int64_t id, int64_t by, int64_t now);
/* The agreement in force between the two now; -PL_ENOTFOUND if none. */
int pl_store_agreement_active(pl_store_t *st, int64_t practice_id, int64_t service_id,
                              int64_t now, pl_agreement_t *out);
/* Agreements with any of the organisations on either side, newest first, each with
 * practice_name and service_name. */
int pl_store_agreement_list(pl_store_t *st, const int64_t *org_ids, int n_orgs, int64_t now,
                            json_t **out);

typedef struct {
    int64_t practice_id, service_id, patient_id, agreement_id;
    const char *specialty, *urgency, *question, *summary, *txn_id;
    int64_t consent_by, consent_at, created_by, now, due_at;
} pl_advice_new_t;
typedef struct {
    int64_t id, conversation_id, practice_id, service_id, patient_id, agreement_id;
    int64_t specialist_id, created_by, created_at, due_at, closed_at;
    char specialty[64], urgency[8], status[16], outcome[16];
} pl_advice_t;
/* Creates the request and its thread (a conversation of kind advice). A retry with the same
 * created_by and txn_id finds the first: *created false. */
int pl_store_advice_create(pl_store_t *st, const pl_advice_new_t *n, int64_t *id, bool *created);
int pl_store_advice_get(pl_store_t *st, int64_t id, pl_advice_t *out);
int pl_store_advice_by_conv(pl_store_t *st, int64_t conversation_id, pl_advice_t *out);
/* Claims for a specialist: -PL_ECONFLICT if another has it, or it is closed. new moves to
 * in_progress. */
int pl_store_advice_claim(pl_store_t *st, int64_t id, int64_t specialist_id, int64_t now);
/* Assigns to a specialist whoever had it; -PL_ECONFLICT if closed. */
int pl_store_advice_assign(pl_store_t *st, int64_t id, int64_t specialist_id, int64_t now);
/* in_progress | awaiting_gp; -PL_ECONFLICT if closed. */
int pl_store_advice_set_status(pl_store_t *st, int64_t id, const char *to, int64_t now);
/* -PL_ECONFLICT if already closed. */
int pl_store_advice_close(pl_store_t *st, int64_t id, const char *outcome, int64_t now);
/* The full view (the patient's identity included: the caller removes what the reader may not
 * see), docs/PROTOCOL.md section 11. */
int pl_store_advice_json(pl_store_t *st, int64_t id, int64_t now, json_t **out);
/* side "sent" (by practice) or "queue" (by service); filter open | closed | overdue | mine |
 * new | awaiting_gp | NULL (all). {"requests":[...], "next_before": id|null}. */
int pl_store_advice_list(pl_store_t *st, const char *side, const int64_t *org_ids, int n_orgs,
                         const char *filter, int64_t me, int64_t before_id, int limit, int64_t now,
                         json_t **out);

/* ---- case discussions, MDT (store_sqlite_case.c) ----
 * A practice's discussion of a patient with invited professionals: its thread is a
 * conversation of kind case, its members take part each for one organisation. A member has
 * access while they take part for the practice that opened it, or for a service with which
 * that practice has an agreement in force that shares the patient's identity. */
typedef struct {
    int64_t id, conversation_id, org_id, patient_id, created_by, created_at, closed_at;
    char status[8]; /* open | closed */
} pl_case_t;

#define PL_CASE_MAX_MEMBERS 8 /* the meeting's places */

/* Opens a case: its conversation (subject = title, sealed), the case, and the creator as its
 * first member (for org_id). A retry with the same txn returns the first (*created false). */
int pl_store_case_create(pl_store_t *st, int64_t org_id, int64_t patient_id, const char *title,
                         const char *txn, int64_t by, int64_t now, int64_t *id, bool *created);
int pl_store_case_get(pl_store_t *st, int64_t id, pl_case_t *out);
int pl_store_case_by_conv(pl_store_t *st, int64_t conversation_id, pl_case_t *out);
/* Whether user_id has access to the case now (see above). */
int pl_store_case_member(pl_store_t *st, int64_t case_id, int64_t user_id, int64_t now,
                         bool *member);
/* The members with access now, at most max, into ids. */
int pl_store_case_audience(pl_store_t *st, int64_t case_id, int64_t now, int64_t *ids, int max,
                           int *n);
/* The organisation user_id may take part for in the case now: the practice that opened it, or
 * a service with an identified agreement in force with it (the practice first). -PL_ENOTFOUND
 * if none (or not staff). */
int pl_store_case_eligible_org(pl_store_t *st, int64_t case_id, int64_t user_id, int64_t now,
                               int64_t *org_id);
/* Adds a member. *added false if already one; -PL_ECONFLICT when PL_CASE_MAX_MEMBERS are in. */
int pl_store_case_add_member(pl_store_t *st, int64_t case_id, int64_t user_id, int64_t org_id,
                             int64_t by, int64_t now, bool *added);
/* -PL_ECONFLICT when closed already. */
int pl_store_case_close(pl_store_t *st, int64_t id, int64_t by, int64_t now);
/* The case as PROTOCOL section 12 shows it (call_id not included); caller decrefs. */
int pl_store_case_json(pl_store_t *st, int64_t id, json_t **out);
/* The cases user_id has access to now, newest first, at most 100: {"cases":[...]}.
 * filter: "open", "closed" or NULL/"all". */
int pl_store_case_list(pl_store_t *st, int64_t user_id, const char *filter, int64_t now,
                       json_t **out);
/* Who may be invited now and is not a member: {"people":[{user_id, display_name, org}]}. */
int pl_store_case_candidates(pl_store_t *st, int64_t case_id, int64_t now, json_t **out);

/* ---- transcripts filed to the record (store_sqlite_transcript.c) ---- */

/* Marks message msg_id entered in error (it is never deleted): by whom, why, when. *out gets
 * the message. With reason NULL, only loads *out. -PL_ENOTFOUND; -PL_ECONFLICT if marked
 * already. */
int pl_store_msg_mark_error(pl_store_t *st, int64_t msg_id, int64_t by, const char *reason,
                            int64_t now, pl_msg_t *out);

typedef struct {
    int64_t conversation_id, patient_id, org_id, filed_by, now;
    const char *parts;           /* JSON array of the message ids filed */
    const char *summary_code;    /* SNOMED CT concept id, or NULL */
    const char *summary_display; /* its display text, or NULL */
    const char *html;            /* the rendering */
} pl_filing_new_t;
/* Files the next version of the conversation's transcript (replacing the last, if any):
 * *id and *version. */
int pl_store_filing_create(pl_store_t *st, const pl_filing_new_t *n, int64_t *id, int *version);
/* The conversation's filings, oldest first: [{id, conversation_id, version, replaces_id?,
 * filed_by, filed_at, parts, summary?:{code, display}, outbox?: pending|sent|dead, html?}]. */
int pl_store_filings_of_conv(pl_store_t *st, int64_t conv_id, bool with_html, json_t **out);
/* Every filing of the patient's, with its HTML (for the record). */
int pl_store_filings_of_patient(pl_store_t *st, int64_t patient_id, json_t **out);

/* The patient's NHS number (10 digits). -PL_ENOTFOUND. */
int pl_store_patient_nhs(pl_store_t *st, int64_t user_id, char out[16]);
/* A conversation's stored events, oldest first, opened: [{cursor, type, payload, at,
 * staff_only}]; staff-only ones only when staff_only_too. */
int pl_store_conv_events(pl_store_t *st, int64_t conv_id, bool staff_only_too, json_t **out);

/* The outbox of write-back to the record system: the Bundle to deliver for a filing. */
int pl_store_outbox_add(pl_store_t *st, int64_t filing_id, int64_t org_id, const json_t *bundle,
                        int64_t now);
/* Pending entries due by now, oldest first, at most limit: [{id, filing_id, org_id, attempts,
 * bundle}]. */
int pl_store_outbox_due(pl_store_t *st, int64_t now, int limit, json_t **out);
/* Records an attempt's result: status "sent", "pending" (try again at next_at) or "dead";
 * error a short text for people (never patient data). -PL_ECONFLICT if not pending. */
int pl_store_outbox_result(pl_store_t *st, int64_t id, const char *status, int attempts,
                           int64_t next_at, const char *error, int64_t now);
/* {"pending", "dead", "sent"} counts of an organisation's outbox. */
int pl_store_outbox_summary(pl_store_t *st, int64_t org_id, json_t **out);

/* ---- a patient's record, for export (store_sqlite_record.c) ----
 * Everything held about the patient's care, opened, as one object for storage/fhir.c:
 * {"patient":{id, display_name, nhs_number, date_of_birth, practice_id},
 *  "organisations":[{id, code, name, kind}],
 *  "people":[{id, display_name, kind: staff|patient|guest, guest_role?, roles:[{org_id, role}]}],
 *  "conversations":[{id, org_id, kind, subject, status, created_at, updated_at, peer_org_id?,
 *                    case_id?, messages:[{id, seq, sender_id, body, created_at,
 *                    entered_in_error?:{by, at, reason}, attachments:[...]}]}],
 *  "consultations":[{id, conversation_id, org_id, status, clinician_id, created_at, started_at?,
 *                    ended_at?, participants:[user ids], advice_id?, case_id?}],
 *  "advice":[{id, conversation_id, practice_id, service_id, specialty, urgency, status,
 *             question, summary, created_by, created_at, due_at, closed_at?, outcome?,
 *             specialist_id?, consent_by, consent_at}],
 *  "cases":[{id, conversation_id, org_id, title, status, created_by, created_at, closed_at?,
 *            members:[user ids]}],
 *  "filings":[...]}
 * Internal notes are not in it. -PL_ENOTFOUND if patient_id is not a patient. */
int pl_store_patient_record(pl_store_t *st, int64_t patient_id, int64_t now, json_t **out);

/* ---- audit (store_sqlite_audit.c) ----
 * Who did what to which patient data, as what, with what outcome, when, from where. The trail is
 * append-only and tamper-evident (docs/SECURITY.md "Accountability"): every row carries
 * hash = SHA-256(previous row's hash || canonical(row)), and every N rows the store signs a
 * checkpoint (Ed25519) naming a row and its hash. */

/* One audit record. Strings are borrowed for the call; NULL or 0 means "none" (stored as SQL
 * NULL, except ip and request_id, stored as "" as they always were). outcome: "ok" (NULL means
 * "ok"), "denied" or "failed". Text that is not valid UTF-8 is stored with '?' for each bad
 * byte; user_agent is cut to PL_AUDIT_UA_MAX bytes. */
typedef struct {
    int64_t at; /* ms since the epoch */
    int64_t actor_id;
    const char *role; /* the role acted as: "gp", "patient", ... */
    int64_t org_id;   /* the organisation acted for */
    const char *action;
    const char *resource_type;
    int64_t resource_id;
    int64_t patient_id;
    const char *outcome;
    const char *ip;
    const char *user_agent;
    const char *request_id;
} pl_audit_rec_t;
#define PL_AUDIT_UA_MAX 512
#define PL_AUDIT_CHECKPOINT_EVERY 1000

/* Appends rec to the chain: inside the caller's transaction if one is open (the previous row is
 * read in it: one writer at a time), else in its own. Writes a signed checkpoint when
 * PL_AUDIT_CHECKPOINT_EVERY (or the set number of) rows have been appended since the last one
 * and a signing key is loaded. 0, -PL_EINVAL (no action or resource_type, bad outcome), or a
 * store error; on error nothing was appended. */
int pl_store_audit_ex(pl_store_t *st, const pl_audit_rec_t *rec);
/* pl_store_audit_ex with no role, organisation or user agent and outcome "ok". */
int pl_store_audit(pl_store_t *st, int64_t actor_id, const char *action, const char *resource_type,
                   int64_t resource_id, int64_t patient_id, const char *ip, const char *request_id,
                   int64_t now);
/* Up to limit rows with id > after_id, oldest first: [{id, at, actor_id, role, org_id, action,
 * resource_type, resource_id, patient_id, outcome, ip, user_agent, request_id, hash}] with 0 or
 * "" for what is absent. Caller decrefs. */
int pl_store_audit_list(pl_store_t *st, int64_t after_id, int limit, json_t **out);
/* A patient's trail, for those who answer for it (the practice admin's access view, `parley
 * audit export`): up to limit rows with patient_id = patient_id and id < before_id (0: from the
 * newest), newest first: [{id, at, actor_id, actor_name, actor_kind (staff|patient|guest, or ""
 * for no person: the command line), role, org_id, org_name, org_code, action, resource_type,
 * resource_id, outcome, ip, user_agent, request_id}] with 0 or "" for what is absent. Names are
 * read now, not as they were. Caller decrefs. */
int pl_store_audit_of_patient(pl_store_t *st, int64_t patient_id, int64_t before_id, int limit,
                              json_t **out);
/* The organisations whose people touched patient_id's data (outcome ok; the patient's own
 * actions left out), most recent first: [{org_id, name, kind, first_at, last_at, count}]. Access
 * on behalf of no organisation (a guest in a consultation, the command line) is one entry with
 * org_id 0 and name "". Caller decrefs. */
int pl_store_audit_orgs_of_patient(pl_store_t *st, int64_t patient_id, json_t **out);

/* The checkpoint signing key: an Ed25519 private key in PEM at pem_path (NULL: none, so no
 * checkpoints are written). pl_store_open loads DIR/audit_signing.key by itself when the SQLite
 * file is in DIR and that file exists. 0, -PL_EIO (unreadable), -PL_ECRYPTO (not Ed25519). */
int pl_store_audit_set_signing_key(pl_store_t *st, const char *pem_path);
/* Automatic checkpoints every n appended rows (n <= 0: only forced ones). */
void pl_store_audit_set_checkpoint_every(pl_store_t *st, int n);
/* Signs a checkpoint at the newest audit row now, unless one already names it. *audit_id (may be
 * NULL) gets the row checkpointed. 0; -PL_ENOTFOUND if the trail is empty; -PL_EPERM if no
 * signing key is loaded; a store error. */
int pl_store_audit_checkpoint(pl_store_t *st, int64_t now, int64_t *audit_id);

/* What pl_store_audit_verify found: the first broken link, in id order. */
typedef enum {
    PL_AUDIT_INTACT = 0,
    PL_AUDIT_NO_HASH,            /* a row was never chained (inserted behind Parley's back) */
    PL_AUDIT_HASH_MISMATCH,      /* the row's fields no longer give its hash: altered */
    PL_AUDIT_PREV_MISMATCH,      /* the row does not link to the row before it */
    PL_AUDIT_GAP,                /* an id is missing: a row was removed */
    PL_AUDIT_REORDERED,          /* the row links to a row other than the one before it */
    PL_AUDIT_TRUNCATED,          /* ids were issued past the last row: rows removed at the end */
    PL_AUDIT_CKPT_BAD_SIGNATURE, /* a checkpoint's signature does not verify */
    PL_AUDIT_CKPT_HASH_MISMATCH, /* a checkpoint names a hash the chain no longer gives */
    PL_AUDIT_CKPT_MISSING_ROW,   /* a checkpoint names a row that is not there */
    PL_AUDIT_CKPT_GAP,           /* a checkpoint was removed, or they are out of order */
} pl_audit_break_t;

typedef struct {
    pl_audit_break_t broken;
    int64_t audit_id;      /* the first broken link's audit id (0 if none) */
    int64_t checkpoint_id; /* the checkpoint concerned, for the CKPT kinds */
    int64_t rows;          /* rows read */
    int64_t first_id, last_id;
    int64_t checkpoints;       /* checkpoints whose signature and hash were checked */
    int64_t last_checkpointed; /* audit id of the newest verified checkpoint (0 if none) */
    char detail[256];          /* one line saying what is wrong */
} pl_audit_verdict_t;

/* Short name of a break kind ("hash mismatch", ...). Never NULL. */
const char *pl_audit_break_name(pl_audit_break_t b);
/* Recomputes the whole chain of the store at url, opened read-only (it may run beside a live
 * server), and checks every checkpoint against the public key in pub_pem_path (NULL: only
 * allowed when there are no checkpoints). Returns 0 when the check ran, whatever it found (see
 * out->broken); -PL_EIO if the database or key cannot be read, -PL_EINVAL if the database
 * predates the audit chain, -PL_EPERM if there are checkpoints and no public key. */
int pl_store_audit_verify(const char *url, const char *pub_pem_path, pl_audit_verdict_t *out);

/* ---- attachments (store_sqlite_attach.c) ----
 * An upload's bytes are a blob, stored once per content under its hex SHA-256 and sealed with
 * the data key (associated data "blob:<sha256>"). An attachment is one upload of a blob to one
 * conversation by one person, with its content type and its file name (sealed, "attachment-
 * name:<id>": a name can say who it is about). It is unbound (message_id 0) until a message
 * carries it; until then only its uploader may use it. The bytes are checked (storage/
 * attach_sniff.h) before they get here. */
typedef struct {
    int64_t id, conversation_id, uploaded_by, created_at;
    int64_t message_id; /* 0: not on a message yet */
    int64_t size;
    char sha256[65];
    char content_type[24];
    char filename[256];
} pl_attachment_t;

/* Stores data[0..len) as a blob unless the same bytes are stored already: *added says which.
 * The hex SHA-256 (computed here) goes to sha256_out. */
int pl_store_blob_put(pl_store_t *st, const uint8_t *data, size_t len, int64_t now,
                      char sha256_out[65], bool *added);
/* The bytes of a blob, opened: *out is malloc'd (never NULL on success, even for 0 bytes); the
 * caller wipes (pl_wipe) and frees it. -PL_ENOTFOUND, -PL_ECRYPTO if it does not open. */
int pl_store_blob_read(pl_store_t *st, const char *sha256, uint8_t **out, size_t *len);
/* A new, unbound attachment of blob sha256 (which must be stored) to conversation conv_id.
 * filename is 1..255 bytes. */
int pl_store_attach_create(pl_store_t *st, int64_t conv_id, const char *sha256,
                           const char *content_type, int64_t size, const char *filename,
                           int64_t uploaded_by, int64_t now, int64_t *id);
/* -PL_ENOTFOUND if there is no attachment id. */
int pl_store_attach_get(pl_store_t *st, int64_t id, pl_attachment_t *out);
/* Puts attachments ids[0..n) on message msg_id, all or none. Each must be an attachment of
 * conv_id uploaded by uploader and not yet on a message. Returns 0, or, with *bad_id set to the
 * first id at fault: -PL_ENOTFOUND (no such attachment, or someone else's), -PL_EINVAL (of
 * another conversation, or named twice), -PL_ECONFLICT (already on a message). -PL_ETOOBIG
 * for n over PL_STORE_ATTACH_MAX (*bad_id 0). n 0 does nothing. */
#define PL_STORE_ATTACH_MAX 5
int pl_store_attach_bind(pl_store_t *st, int64_t conv_id, int64_t uploader, int64_t msg_id,
                         const int64_t *ids, int n, int64_t *bad_id);
/* The attachments on message msg_id, oldest first, as a new array of
 * {id, content_type, size, filename}; empty if none. Caller decrefs. */
int pl_store_attach_of_msg(pl_store_t *st, int64_t msg_id, json_t **out);
/* For a page of conv_id's messages (objects with "id", as pl_store_msg_history gives them):
 * sets "attachments" (as pl_store_attach_of_msg) on each message that has any. */
int pl_store_attach_decorate(pl_store_t *st, int64_t conv_id, json_t *messages);
/* The uploads user_id has made that no message carries yet (every conversation): *n. */
int pl_store_attach_pending(pl_store_t *st, int64_t user_id, int64_t *n);
/* Deletes the uploads never put on a message and created before older_than_ms (*removed says
 * how many), then every blob no attachment refers to. A blob still referred to by any
 * attachment, on a message or not, stays: blobs are shared by content. Two statements: if the
 * second fails outside a transaction, the blobs left over go at the next sweep. */
int pl_store_attach_sweep(pl_store_t *st, int64_t older_than_ms, int64_t *removed);

#endif
