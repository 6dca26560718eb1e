/* Authentication: password login (REST), session resolution for WebSocket connections, and
 * logout.
 *
 * Login takes three hops so that nothing slow runs on the loop or the storage thread: the user
 * row is read on the storage thread, the scrypt verify runs on libuv's thread pool, and the
 * session is written back on the storage thread. Unknown accounts get a dummy verify of the same
 * cost and the same answer as a wrong password, so neither the reply nor its timing says whether
 * an account exists. Only the SHA-256 of a session token is ever stored.
 *
 * Every sign-in, refused or not, and every sign-out is an audit row (session.login with outcome
 * ok or failed, session.logout). A refused one names the account when it exists and nobody (actor
 * 0) when it does not: what was typed for an unknown account is never stored, as it is often a
 * mistyped password or someone else's name. Throttled attempts are not: nothing was checked. */
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/params.h"
#include "signalling/password.h"
#include "signalling/server_internal.h"
#include "signalling/totp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pl_job_t job;
    uv_work_t work;
    pl_server_t *srv;
    pl_http_req_t *hr;
    char username[65];
    char password[257];
    char totp[8];
    bool want_token;
    /* stage A result */
    bool found;
    pl_user_t user;
    bool org_requires_totp;
    /* verify result */
    int verdict; /* 0 ok, -PL_EAUTH, -PL_ETOTP */
    int64_t totp_step;
    /* stage B */
    char token[64];
    char token_hash[65];
    int64_t now, expires_at;
    json_t *user_json;
    char key_ip[80], key_user[80];
    char ip[64], user_agent[PL_UA_MAX];
} login_t;

static void login_free(login_t *l)
{
    pl_wipe(l->password, sizeof l->password);
    pl_wipe(l->token, sizeof l->token);
    pl_user_wipe(&l->user);
    json_decref(l->user_json);
    free(l);
}

static bool requires_totp(pl_store_t *st, const pl_actor_t *a)
{
    for (int i = 0; i < a->n_orgs; i++) {
        pl_org_t o;
        if (pl_store_org_get(st, a->orgs[i].org_id, &o) == 0 && o.require_totp) return true;
    }
    return false;
}

static int stage_a_run(pl_store_t *st, pl_job_t *job)
{
    login_t *l = (login_t *)job;
    int rc = pl_store_user_by_username(st, l->username, &l->user);
    if (rc == -PL_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    /* Guests never sign in: they come in through their link alone. */
    l->found = !l->user.disabled && l->user.kind != PL_USER_GUEST;
    if (l->found && l->user.kind == PL_USER_STAFF) {
        pl_actor_t a;
        if (pl_store_actor_load(st, l->user.id, &a) == 0)
            l->org_requires_totp = requires_totp(st, &a);
    }
    return 0;
}

static void verify_work(uv_work_t *w)
{
    login_t *l = w->data;
    if (!l->found) {
        pl_password_verify_dummy(l->password);
        l->verdict = -PL_EAUTH;
        return;
    }
    l->verdict = pl_password_verify(l->password, l->user.password_hash) == 0 ? 0 : -PL_EAUTH;
    pl_wipe(l->password, sizeof l->password);
    if (l->verdict == 0 && l->user.totp_enabled) {
        l->totp_step = l->user.totp_last_step;
        if (!l->totp[0] ||
            pl_totp_verify(l->user.totp_secret, l->user.totp_secret_len, l->totp,
                           (uint64_t)(pl_now_ms() / 1000), 1, &l->totp_step) != 0)
            l->verdict = -PL_ETOTP;
    }
}

/* The sign-in's audit row: as the account's actor (its roles) when it exists, else nobody. */
static int login_audit(pl_store_t *st, const login_t *l, const char *outcome)
{
    pl_actor_t a = {0};
    if (l->user.id > 0 && pl_store_actor_load(st, l->user.id, &a) < 0) {
        memset(&a, 0, sizeof a);
        a.user_id = l->user.id;
    }
    return pl_audit_actor(st, &a, pl_audit_org_for(&a, 0, 0), "session.login", "user", l->user.id,
                          0, outcome, l->ip, l->user_agent, NULL, l->now);
}

static int stage_b_run(pl_store_t *st, pl_job_t *job)
{
    login_t *l = (login_t *)job;
    int rc = pl_store_session_create(st, l->token_hash, l->user.id, l->now, l->expires_at);
    if (rc == 0 && l->user.totp_enabled)
        rc = pl_store_user_set_totp(st, l->user.id, l->user.totp_secret, l->user.totp_secret_len,
                                    true, l->totp_step);
    if (rc == 0) rc = pl_store_user_json(st, l->user.id, &l->user_json);
    if (rc == 0) rc = login_audit(st, l, NULL);
    return rc;
}

static void stage_b_done(pl_job_t *job, int status)
{
    login_t *l = (login_t *)job;
    if (status < 0) {
        pl_http_respond_err(l->hr, status, "could not start a session; try again");
        login_free(l);
        return;
    }
    /* Only the account's count is cleared: one good login from an address must not wipe the
     * address's record of guesses at other accounts. */
    pl_throttle_success(l->srv->throttle, l->key_user);
    char cookie[200];
    snprintf(cookie, sizeof cookie,
             PL_SESSION_COOKIE "=%s; Path=/; Max-Age=%d; Secure; HttpOnly; SameSite=Strict",
             l->token, l->srv->cfg->session_absolute_timeout_s);
    json_t *body = json_pack("{sO sI sb}", "user", l->user_json, "expires_at",
                             (json_int_t)l->expires_at, "must_enrol_totp",
                             l->org_requires_totp && !l->user.totp_enabled);
    /* Native clients that cannot hold cookies ask for the token in the body. */
    if (l->want_token) json_object_set_new(body, "token", json_string(l->token));
    pl_log_info("auth", "login ok user=%lld", (long long)l->user.id);
    pl_http_respond(l->hr, 200, body, cookie);
    pl_wipe(cookie, sizeof cookie);
    login_free(l);
}

/* A refused sign-in: its audit row is written before the answer goes (the same for known and
 * unknown accounts, so the answer's timing still says nothing). A failure to write it is logged,
 * and the answer is the refusal all the same. */
static int refused_run(pl_store_t *st, pl_job_t *job)
{
    return login_audit(st, (login_t *)job, "failed");
}

static void refused_done(pl_job_t *job, int status)
{
    login_t *l = (login_t *)job;
    if (status < 0)
        pl_log_warn("auth", "could not audit a refused sign-in: %s", pl_strerror(status));
    if (l->verdict == -PL_ETOTP)
        pl_http_respond_err(l->hr, -PL_ETOTP,
                            l->totp[0] ? "that code is not right" : "enter the 6-digit code "
                                                                    "from your authenticator");
    else
        pl_http_respond_err(l->hr, -PL_EAUTH, "unknown username or wrong password");
    login_free(l);
}

static void verify_after(uv_work_t *w, int status)
{
    login_t *l = w->data;
    pl_server_t *srv = l->srv;
    l->now = pl_now_ms();
    if (status < 0 || l->verdict < 0) {
        bool totp = status == 0 && l->verdict == -PL_ETOTP;
        srv->metrics.auth_failures++;
        pl_throttle_failure(srv->throttle, l->key_user, l->now);
        pl_throttle_failure(srv->throttle, l->key_ip, l->now);
        pl_log_info("auth", "login refused%s", totp ? " (second factor)" : "");
        l->verdict = totp ? -PL_ETOTP : -PL_EAUTH;
        if (pl_worker_submit(srv->worker, &l->job, refused_run, refused_done) < 0)
            refused_done(&l->job, -PL_EUNAVAIL);
        return;
    }
    if (pl_token_new(l->token, sizeof l->token) < 0) {
        pl_http_respond_err(l->hr, -PL_EINTERNAL, NULL);
        login_free(l);
        return;
    }
    pl_token_hash(l->token, l->token_hash);
    l->expires_at = l->now + (int64_t)srv->cfg->session_absolute_timeout_s * 1000;
    int rc = pl_worker_submit(srv->worker, &l->job, stage_b_run, stage_b_done);
    if (rc < 0) {
        pl_http_respond_err(l->hr, rc, NULL);
        login_free(l);
    }
}

static void stage_a_done(pl_job_t *job, int status)
{
    login_t *l = (login_t *)job;
    if (status < 0) {
        pl_http_respond_err(l->hr, status, NULL);
        login_free(l);
        return;
    }
    l->work.data = l;
    if (uv_queue_work(l->srv->loop, &l->work, verify_work, verify_after) < 0) {
        pl_http_respond_err(l->hr, -PL_EINTERNAL, NULL);
        login_free(l);
    }
}

void pl_auth_login(pl_server_t *srv, pl_http_req_t *hr, json_t *body)
{
    pl_perr_t e;
    const char *user, *pw, *totp;
    bool want;
    int rc;
    if ((rc = pl_param_str(body, "username", 1, 64, false, &user, &e)) < 0 ||
        (rc = pl_param_str(body, "password", 1, 256, false, &pw, &e)) < 0 ||
        (rc = pl_param_str(body, "totp", 6, 6, true, &totp, &e)) < 0 ||
        (rc = pl_param_bool(body, "want_token", true, false, &want, &e)) < 0) {
        srv->metrics.bad_input++;
        pl_http_respond_err(hr, rc, e.msg);
        return;
    }
    login_t *l = calloc(1, sizeof *l);
    if (!l) {
        pl_http_respond_err(hr, -PL_ENOMEM, NULL);
        return;
    }
    l->srv = srv;
    l->hr = hr;
    l->want_token = want;
    snprintf(l->username, sizeof l->username, "%s", user);
    snprintf(l->password, sizeof l->password, "%s", pw);
    if (totp) snprintf(l->totp, sizeof l->totp, "%s", totp);
    snprintf(l->key_ip, sizeof l->key_ip, "ip:%s", pl_http_ip(hr));
    snprintf(l->ip, sizeof l->ip, "%s", pl_http_ip(hr));
    snprintf(l->user_agent, sizeof l->user_agent, "%s", pl_http_user_agent(hr));
    int n = snprintf(l->key_user, sizeof l->key_user, "user:");
    for (const char *p = user; *p && n < (int)sizeof l->key_user - 1; p++)
        l->key_user[n++] = (char)tolower((unsigned char)*p);
    l->key_user[n] = 0;

    int64_t now = pl_now_ms();
    int64_t wait = pl_throttle_wait(srv->throttle, l->key_user, now);
    int64_t wait_ip = pl_throttle_wait(srv->throttle, l->key_ip, now);
    if (wait_ip > wait) wait = wait_ip;
    if (wait > 0) {
        srv->metrics.rate_limited++;
        char msg[96];
        snprintf(msg, sizeof msg, "too many failed sign-ins: try again in %lld seconds",
                 (long long)(wait + 999) / 1000);
        pl_http_set_retry_after(hr, (int)((wait + 999) / 1000));
        pl_http_respond_err(hr, -PL_ERATE, msg);
        login_free(l);
        return;
    }
    rc = pl_worker_submit(srv->worker, &l->job, stage_a_run, stage_a_done);
    if (rc < 0) {
        pl_http_respond_err(hr, rc, NULL);
        login_free(l);
    }
}

/* ---- logout ---- */

typedef struct {
    pl_job_t job;
    pl_server_t *srv;
    pl_http_req_t *hr;
    char token_hash[65];
    char ip[64], user_agent[PL_UA_MAX];
} logout_t;

static int logout_run(pl_store_t *st, pl_job_t *job)
{
    logout_t *l = (logout_t *)job;
    pl_session_row_t row;
    int rc = pl_store_session_get(st, l->token_hash, &row);
    if (rc < 0) return rc == -PL_ENOTFOUND ? -PL_EAUTH : rc;
    rc = pl_store_session_delete(st, l->token_hash);
    pl_actor_t a = {0};
    if (rc == 0 && pl_store_actor_load(st, row.user_id, &a) < 0) {
        memset(&a, 0, sizeof a);
        a.user_id = row.user_id;
    }
    if (rc == 0)
        rc = pl_audit_actor(st, &a, pl_audit_org_for(&a, 0, 0), "session.logout", "user",
                            row.user_id, 0, NULL, l->ip, l->user_agent, NULL, pl_now_ms());
    return rc;
}

static void logout_done(pl_job_t *job, int status)
{
    logout_t *l = (logout_t *)job;
    if (status == 0) {
        pl_auth_logout_conns(l->srv, l->token_hash);
        pl_http_respond(l->hr, 204, NULL,
                        PL_SESSION_COOKIE "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict");
    } else {
        pl_http_respond_err(l->hr, status, NULL);
    }
    free(l);
}

void pl_auth_logout(pl_server_t *srv, pl_http_req_t *hr, const char *token)
{
    logout_t *l = calloc(1, sizeof *l);
    if (!l) {
        pl_http_respond_err(hr, -PL_ENOMEM, NULL);
        return;
    }
    l->srv = srv;
    l->hr = hr;
    snprintf(l->ip, sizeof l->ip, "%s", pl_http_ip(hr));
    snprintf(l->user_agent, sizeof l->user_agent, "%s", pl_http_user_agent(hr));
    pl_token_hash(token, l->token_hash);
    int rc = pl_worker_submit(srv->worker, &l->job, logout_run, logout_done);
    if (rc < 0) {
        pl_http_respond_err(hr, rc, NULL);
        free(l);
    }
}

void pl_auth_logout_conns(pl_server_t *srv, const char *token_hash)
{
    for (pl_conn_t *c = srv->conns; c; c = c->next) {
        if (c->authed && strcmp(c->token_hash, token_hash) == 0) {
            pl_conn_send_json(c, json_pack("{ss s{ss ss}}", "type", "session.ended", "error",
                                           "code", "unauthorised", "message", "signed out"));
            pl_conn_close(c, 4401, "signed out");
        }
    }
}

/* ---- session resolution, for the WebSocket and for REST ---- */

int pl_auth_session_actor(pl_store_t *st, const pl_config_t *cfg, const char *hash, int64_t now,
                          pl_actor_t *out, int64_t *expires_at, bool *must_enrol_totp)
{
    pl_session_row_t row;
    int rc = pl_store_session_get(st, hash, &row);
    if (rc == -PL_ENOTFOUND) return -PL_EAUTH;
    if (rc < 0) return rc;
    int64_t idle_ms = (int64_t)cfg->session_idle_timeout_s * 1000;
    if (now >= row.expires_at || now - row.last_seen_at >= idle_ms) {
        pl_store_session_delete(st, hash);
        return -PL_EAUTH;
    }
    if ((rc = pl_store_actor_load(st, row.user_id, out)) < 0)
        return rc == -PL_ENOTFOUND || rc == -PL_EAUTH ? -PL_EAUTH : rc;
    /* A session opened from a consultation link carries its scope into every request. */
    int64_t scope = 0;
    if ((rc = pl_store_session_scope(st, hash, &scope)) < 0) return rc;
    if (scope) {
        pl_consult_t k;
        rc = pl_store_consult_get(st, scope, &k);
        if (rc == -PL_ENOTFOUND) return -PL_EAUTH;
        if (rc < 0) return rc;
        /* The patient of that consultation, or a guest still invited into it. */
        if (out->kind == PL_USER_GUEST) {
            pl_consult_part_t part;
            rc = pl_store_consult_part_get(st, k.id, row.user_id, &part);
            if (rc == -PL_ENOTFOUND || (rc == 0 && !part.invited)) return -PL_EAUTH;
            if (rc < 0) return rc;
        } else if (k.patient_id != row.user_id) {
            return -PL_EAUTH;
        }
        out->scope_consultation_id = k.id;
        out->scope_conversation_id = k.conversation_id;
    }
    if (out->kind == PL_USER_GUEST && !scope) return -PL_EAUTH;
    if ((rc = pl_store_session_touch(st, hash, now)) < 0) return rc;
    *expires_at = row.expires_at;
    *must_enrol_totp = false;
    pl_user_t u;
    if (out->kind == PL_USER_STAFF && requires_totp(st, out) &&
        pl_store_user_by_username(st, out->username, &u) == 0) {
        *must_enrol_totp = !u.totp_enabled;
        pl_user_wipe(&u);
    }
    return 0;
}

static int resolve_run(pl_store_t *st, pl_req_t *r)
{
    const char *hash = json_string_value(json_object_get(r->params, "h"));
    bool must = false;
    int rc = pl_auth_session_actor(st, r->srv->cfg, hash, r->now, &r->actor, &r->i1, &must);
    r->i2 = must;
    return rc;
}

static void resolve_after(pl_req_t *r, int status)
{
    pl_conn_t *c = r->conn;
    if (!c->wsi) return;
    if (status < 0) {
        c->srv->metrics.auth_failures++;
        int code = status == -PL_EAUTH ? 4401 : 1011;
        pl_conn_send_json(c, json_pack("{ss s{ss ss}}", "type", "session.error", "error", "code",
                                       pl_err_code(status), "message",
                                       status == -PL_EAUTH ? "session is not valid: sign in again"
                                                           : "try again shortly"));
        pl_conn_close(c, code, status == -PL_EAUTH ? "unauthorised" : "unavailable");
        return;
    }
    c->actor = r->actor;
    c->session_expires_at = r->i1;
    c->session_idle_deadline = r->now + (int64_t)c->srv->cfg->session_idle_timeout_s * 1000;
    c->session_touched_at = r->now;
    c->session_checked_at = r->now;
    c->must_enrol_totp = r->i2 != 0;
    pl_conn_authenticated(c);
    json_t *ready = json_pack("{ss sI ss sb}", "type", "session.ready", "user_id",
                              (json_int_t)c->actor.user_id, "kind",
                              c->actor.kind == PL_USER_PATIENT ? "patient"
                              : c->actor.kind == PL_USER_GUEST ? "guest"
                                                               : "staff",
                              "must_enrol_totp", c->must_enrol_totp);
    if (c->actor.scope_consultation_id)
        json_object_set_new(ready, "consultation_id",
                            json_integer(c->actor.scope_consultation_id));
    pl_conn_send_json(c, ready);
    lws_rx_flow_control(c->wsi, 1);
}

static int recheck_run(pl_store_t *st, pl_req_t *r)
{
    pl_session_row_t row;
    int rc = pl_store_session_get(st, json_string_value(json_object_get(r->params, "h")), &row);
    if (rc == -PL_ENOTFOUND || (rc == 0 && r->now >= row.expires_at)) return -PL_EAUTH;
    if (rc < 0) return rc;
    pl_actor_t fresh;
    rc = pl_store_actor_load(st, row.user_id, &fresh);
    return rc == -PL_ENOTFOUND ? -PL_EAUTH : rc;
}

static void recheck_after(pl_req_t *r, int status)
{
    pl_conn_t *c = r->conn;
    if (status != -PL_EAUTH || !c->wsi) return; /* a store hiccup is not a reason to drop */
    pl_conn_send_json(c, json_pack("{ss s{ss ss}}", "type", "session.ended", "error", "code",
                                   "unauthorised", "message", "session ended: sign in again"));
    pl_conn_close(c, 4401, "session ended");
}

void pl_auth_recheck(pl_conn_t *c)
{
    pl_req_t *r = pl_req_new(c, NULL, "session.recheck", NULL, recheck_run);
    if (!r) return;
    r->params = json_pack("{ss}", "h", c->token_hash);
    r->no_reply = true;
    r->after = recheck_after;
    pl_req_submit(r);
}

void pl_auth_resolve_ws(pl_conn_t *c)
{
    pl_req_t *r = pl_req_new(c, NULL, "session.resolve", NULL, resolve_run);
    if (!r) {
        pl_conn_close(c, 1011, "out of memory");
        return;
    }
    r->params = json_pack("{ss}", "h", c->token_hash);
    r->no_reply = true;
    r->after = resolve_after;
    pl_req_submit(r);
}
