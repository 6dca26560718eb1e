/* The WebSocket dispatch table and the session-level handlers: ping, session.info,
 * events.subscribe and TOTP enrolment. Conversation handlers live in conversations.c, the
 * practice team's (org.staff, template.*) in templates.c, video consultations' (consult.*) in
 * consult.c. */
#include "core/err.h"
#include "core/util.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"
#include "signalling/totp.h"

#include <stdio.h>
#include <string.h>

pl_handler_fn pl__conv_handler(const char *type);
pl_handler_fn pl__call_handler(const char *type);
pl_handler_fn pl__patient_handler(const char *type);
pl_handler_fn pl__tpl_handler(const char *type);
pl_handler_fn pl__consult_handler(const char *type);
pl_handler_fn pl__attach_handler(const char *type);
pl_handler_fn pl__agreement_handler(const char *type);
pl_handler_fn pl__advice_handler(const char *type);
pl_handler_fn pl__advice_call_handler(const char *type);
pl_handler_fn pl__case_handler(const char *type);
pl_handler_fn pl__outbox_handler(const char *type);
pl_handler_fn pl__transcript_handler(const char *type);

static int h_ping(pl_conn_t *c, const char *id, json_t *req)
{
    pl_conn_reply_ok(c, id, json_pack("{sI}", "time", (json_int_t)pl_now_ms()));
    return 0;
}

static int info_run(pl_store_t *st, pl_req_t *r)
{
    json_t *user = NULL, *orgs = json_array();
    int rc = pl_store_user_json(st, r->actor.user_id, &user);
    if (rc < 0) {
        json_decref(orgs);
        return rc;
    }
    for (int i = 0; i < r->actor.n_orgs; i++) {
        pl_org_t o;
        if (pl_store_org_get(st, r->actor.orgs[i].org_id, &o) < 0) continue;
        json_t *roles = json_array();
        for (int b = 0; b < PL_ROLE_COUNT; b++)
            if (r->actor.orgs[i].roles & (1u << b))
                json_array_append_new(roles, json_string(pl_role_name(1u << b)));
        json_array_append_new(orgs, json_pack("{sI ss ss ss so si sb}", "id", (json_int_t)o.id,
                                              "code", o.code, "name", o.name, "kind", o.kind,
                                              "roles", roles, "response_target_minutes",
                                              o.response_target_minutes, "require_totp",
                                              o.require_totp));
    }
    if (r->actor.kind == PL_USER_PATIENT) {
        pl_org_t o;
        if (pl_store_org_get(st, r->actor.practice_id, &o) == 0)
            json_object_set_new(user, "practice",
                                json_pack("{sI ss ss}", "id", (json_int_t)o.id, "code", o.code,
                                          "name", o.name));
    }
    if (r->actor.kind == PL_USER_GUEST)
        json_object_set_new(user, "role", json_string(r->actor.guest_role));
    if (r->actor.scope_consultation_id)
        json_object_set_new(r->result, "consultation_id",
                            json_integer(r->actor.scope_consultation_id));
    json_object_set_new(r->result, "user", user);
    json_object_set_new(r->result, "organisations", orgs);
    json_object_set_new(r->result, "must_enrol_totp", json_boolean(r->i1));
    return 0;
}

static int h_info(pl_conn_t *c, const char *id, json_t *req)
{
    pl_req_t *r = pl_req_new(c, id, "session.info", req, info_run);
    if (!r) return -PL_ENOMEM;
    r->i1 = c->must_enrol_totp;
    pl_req_submit(r);
    return 0;
}

static int h_subscribe(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t cursor;
    int rc = pl_param_int(req, "cursor", 0, INT64_MAX, true, -1, &cursor, &e);
    if (rc < 0) {
        pl_conn_reply_err(c, id, rc, e.msg);
        return 0;
    }
    if (c->sub == SUB_REPLAY) {
        pl_conn_reply_err(c, id, -PL_ECONFLICT, "a replay is already in progress");
        return 0;
    }
    return pl_events_subscribe(c, id, cursor);
}

/* ---- TOTP enrolment: totp.enrol makes a secret, totp.confirm proves the app has it ---- */

static int enrol_run(pl_store_t *st, pl_req_t *r)
{
    if (r->actor.kind != PL_USER_STAFF) {
        json_object_set_new(r->result, "error_message",
                            json_string("two-factor sign-in is for staff accounts"));
        return -PL_EPERM;
    }
    pl_user_t u;
    int rc = pl_store_user_by_username(st, r->actor.username, &u);
    if (rc < 0) return rc;
    bool enabled = u.totp_enabled;
    pl_user_wipe(&u);
    if (enabled) {
        json_object_set_new(r->result, "error_message",
                            json_string("two-factor sign-in is already enrolled"));
        return -PL_ECONFLICT;
    }
    uint8_t key[20];
    char b32[40], uri[300];
    if ((rc = pl_random_bytes(key, sizeof key)) < 0) return rc;
    pl_base32_encode(key, sizeof key, b32, sizeof b32);
    pl_totp_uri(r->actor.username, key, sizeof key, uri, sizeof uri);
    rc = pl_store_user_set_totp(st, r->actor.user_id, key, sizeof key, false, PL_TOTP_NO_STEP);
    pl_wipe(key, sizeof key);
    /* The secret goes to its owner once, over TLS, so their authenticator app can store it. */
    json_object_set_new(r->result, "secret", json_string(b32));
    json_object_set_new(r->result, "otpauth_uri", json_string(uri));
    pl_wipe(b32, sizeof b32);
    pl_wipe(uri, sizeof uri);
    return rc;
}

static int h_enrol(pl_conn_t *c, const char *id, json_t *req)
{
    pl_req_t *r = pl_req_new(c, id, "totp.enrol", req, enrol_run);
    if (!r) return -PL_ENOMEM;
    pl_req_submit(r);
    return 0;
}

static int confirm_run(pl_store_t *st, pl_req_t *r)
{
    pl_user_t u;
    int rc = pl_store_user_by_username(st, r->actor.username, &u);
    if (rc < 0) return rc;
    if (u.totp_enabled || !u.totp_secret_len) {
        pl_user_wipe(&u);
        json_object_set_new(r->result, "error_message",
                            json_string(u.totp_enabled ? "already enrolled" : "call totp.enrol first"));
        return -PL_ECONFLICT;
    }
    int64_t step = u.totp_last_step;
    rc = pl_totp_verify(u.totp_secret, u.totp_secret_len,
                        json_string_value(json_object_get(r->params, "code")),
                        (uint64_t)(r->now / 1000), 1, &step);
    if (rc == 0) {
        rc = pl_store_user_set_totp(st, u.id, u.totp_secret, u.totp_secret_len, true, step);
    } else {
        json_object_set_new(r->result, "error_message", json_string("that code is not right"));
        rc = -PL_ETOTP;
    }
    pl_user_wipe(&u);
    return rc;
}

static void confirm_after(pl_req_t *r, int status)
{
    if (status < 0) return;
    /* Every open connection of this user is ungated, not just the one that confirmed. */
    size_t n = 0;
    void *const *conns = pl_imap_get(r->srv->by_user, r->actor.user_id, &n);
    for (size_t i = 0; i < n; i++) ((pl_conn_t *)conns[i])->must_enrol_totp = false;
}

static int h_confirm(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    const char *code;
    int rc = pl_param_str(req, "code", 6, 6, false, &code, &e);
    if (rc < 0) {
        pl_conn_reply_err(c, id, rc, e.msg);
        return 0;
    }
    pl_req_t *r = pl_req_new(c, id, "totp.confirm", req, confirm_run);
    if (!r) return -PL_ENOMEM;
    r->after = confirm_after;
    pl_req_submit(r);
    return 0;
}

static const struct {
    const char *type;
    pl_handler_fn fn;
    bool before_totp;
} table[] = {
    {"ping", h_ping, true},
    {"session.info", h_info, true},
    {"events.subscribe", h_subscribe, false},
    {"totp.enrol", h_enrol, true},
    {"totp.confirm", h_confirm, true},
};

static pl_handler_fn find(const char *type)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].type, type) == 0) return table[i].fn;
    pl_handler_fn fn = pl__conv_handler(type);
    if (!fn) fn = pl__patient_handler(type);
    if (!fn) fn = pl__consult_handler(type);
    if (!fn) fn = pl__attach_handler(type);
    if (!fn) fn = pl__call_handler(type);
    if (!fn) fn = pl__agreement_handler(type);
    if (!fn) fn = pl__advice_handler(type);
    if (!fn) fn = pl__advice_call_handler(type);
    if (!fn) fn = pl__case_handler(type);
    if (!fn) fn = pl__outbox_handler(type);
    if (!fn) fn = pl__transcript_handler(type);
    return fn ? fn : pl__tpl_handler(type);
}

/* Every request passes here: a session opened from a consultation link may send only the few
 * types its page needs, and authz.c decides which (what they touch is checked again there).
 * The dispatcher knows the type but not the connection, hence the second lookup. */
static int h_gate(pl_conn_t *c, const char *id, json_t *req)
{
    const char *type = json_string_value(json_object_get(req, "type"));
    pl_handler_fn fn = type ? find(type) : NULL;
    if (!fn) return -PL_EUNKNOWN_TYPE;
    if (!pl_authz_request_allowed(&c->actor, type)) {
        pl_conn_reply_err(c, id, -PL_EPERM, "this session is for your video consultation only");
        return 0;
    }
    return fn(c, id, req);
}

pl_handler_fn pl_handler_in(const pl_handler_entry_t *entries, size_t n, const char *type)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(entries[i].type, type) == 0) return entries[i].fn;
    return NULL;
}

pl_handler_fn pl_handler_find(const char *type)
{
    return find(type) ? h_gate : NULL;
}

bool pl_handler_allowed_before_totp(const char *type)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].type, type) == 0) return table[i].before_totp;
    return false;
}
