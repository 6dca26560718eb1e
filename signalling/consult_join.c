/* POST /api/v1/join: a patient opens the link to their video consultation.
 *
 * The link's token came in the URL fragment, which the page posts here with the patient's
 * date of birth. Nothing about the consultation is told before that check passes; an unknown,
 * expired, revoked or finished link gets one generic not_found. The check:
 *
 *   1. the link is live, and not locked by PL_JOIN_MAX_DOB_FAILURES wrong dates of birth;
 *   2. if a device has claimed the link, this request comes from it: the parley_device cookie
 *      hashes to what the claim stored. Other devices are turned away before any date of birth
 *      is tried, so a link seen by someone else is neither a way to guess the patient's
 *      birthday nor a way to lock the patient out;
 *   3. the date of birth matches the patient's, compared in constant time. A wrong one counts
 *      against the link and, like a failed sign-in, against the client's address
 *      (throttle.c, the login throttle's "ip:" key).
 *
 * On success the link is bound to this device (single use per device: the first device to
 * pass claims it), and the patient gets a session scoped to the consultation: authz.c lets it
 * do only what the consultation page needs. The session token goes in the usual parley_session
 * cookie, never in a URL or the body. The device secret is a random token of ours in its own
 * cookie, sent only to this endpoint; the server keeps only its hash.
 *
 * A guest's link (an interpreter or carer invited with consult.invite, opened at /guest) asks
 * for no date of birth, which a guest need not know: it is the same token, expiry and device
 * binding, and then the clinician admits the guest from the waiting room by name. The guest's
 * session is scoped to the consultation like the patient's, and authz.c holds a guest to less:
 * no chat, no patient record, only the consultation and its own events. A patient's link posted
 * without a date of birth is told one is needed (nothing counted: the token is real).
 *
 * One job on the storage thread does the whole check, and returns 0 for refusals too so that a
 * counted failure is committed. */
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL_JOIN_MAX_DOB_FAILURES 5
#define DEVICE_COOKIE "parley_device"
#define DEVICE_COOKIE_MAX_AGE 34560000 /* 400 days: as long as browsers keep any cookie */
#define DOB_LEN 10                     /* YYYY-MM-DD */

static const char not_valid[] = "this link is not valid: ask your practice for a new one";

typedef enum {
    JOIN_OK,
    JOIN_NOT_FOUND,
    JOIN_LOCKED,
    JOIN_WRONG_DOB,
    JOIN_NEED_DOB,
    JOIN_OTHER_DEVICE
} outcome_t;

typedef struct {
    pl_job_t job;
    pl_server_t *srv;
    pl_http_req_t *hr;
    char ip[64];
    char user_agent[PL_UA_MAX];
    char key_ip[80];
    char token_hash[65];
    char dob[DOB_LEN + 1]; /* "" when the request had none (a guest's link) */
    char device[PL_TOKEN_BUF]; /* from the cookie, or new */
    char device_hash[65];
    char session[PL_TOKEN_BUF];
    char session_hash[65];
    int64_t now, expires_at;
    /* results */
    outcome_t outcome;
    bool counted; /* a wrong date of birth was counted by this request */
    int64_t link_id, consultation_id;
    json_t *reply;
} join_t;

static void join_free(join_t *j)
{
    pl_wipe(j->dob, sizeof j->dob);
    pl_wipe(j->device, sizeof j->device);
    pl_wipe(j->session, sizeof j->session);
    json_decref(j->reply);
    free(j);
}

/* 43 characters of unpadded base64url: the shape of every token pl_token_new makes. */
static bool token_shaped(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return n == PL_TOKEN_LEN;
}

/* "YYYY-MM-DD", a real calendar date. */
static bool date_valid(const char *s)
{
    if (strlen(s) != DOB_LEN || s[4] != '-' || s[7] != '-') return false;
    for (int i = 0; i < DOB_LEN; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1800 || m < 1 || m > 12 || d < 1) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

/* The check passed: bind the link to this device, open the scoped session, and say what the
 * page may show. */
static int join_open(pl_store_t *st, join_t *j, const pl_consult_link_t *link,
                     const pl_consult_t *k, const pl_actor_t *who)
{
    int rc;
    if (!link->device_hash[0] &&
        (rc = pl_store_consult_link_claim(st, link->id, j->device_hash, j->now)) < 0)
        return rc;
    json_t *c = NULL;
    if ((rc = pl_store_session_create_scoped(st, j->session_hash, who->user_id, k->id, j->now,
                                             j->expires_at)) < 0 ||
        (rc = pl_audit_actor(st, who, k->org_id, "consult.join", "consultation", k->id,
                             k->patient_id, NULL, j->ip, j->user_agent, NULL, j->now)) < 0 ||
        (rc = pl_store_consult_json(st, k->id, &c)) < 0)
        return rc;
    pl_consult_patient_view(c);
    j->reply = json_pack("{so s{sI ss ss} sI}", "consultation", c, "user", "id",
                         (json_int_t)who->user_id, "display_name", who->display_name, "role",
                         pl_actor_role(who), "expires_at", (json_int_t)j->expires_at);
    if (!j->reply) return -PL_ENOMEM;
    j->outcome = JOIN_OK;
    return 0;
}

static int join_run(pl_store_t *st, pl_job_t *job)
{
    join_t *j = (join_t *)job;
    j->outcome = JOIN_NOT_FOUND;
    pl_consult_link_t link;
    int rc = pl_store_consult_link_find(st, j->token_hash, &link);
    if (rc == -PL_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    j->link_id = link.id;
    pl_consult_t k;
    pl_actor_t pat;
    if ((rc = pl_store_consult_get(st, link.consultation_id, &k)) < 0) return rc;
    j->consultation_id = k.id;
    /* pat: whoever the link lets in, the patient or the guest. */
    int64_t who = link.guest_id ? link.guest_id : k.patient_id;
    rc = pl_store_actor_load(st, who, &pat);
    if (rc < 0 && rc != -PL_EAUTH && rc != -PL_ENOTFOUND) return rc;
    if (rc == 0 && link.guest_id) {
        pl_consult_part_t part;
        int prc = pl_store_consult_part_get(st, k.id, who, &part);
        if (prc < 0 && prc != -PL_ENOTFOUND) return prc;
        if (prc < 0 || !part.invited || pat.kind != PL_USER_GUEST) rc = -PL_ENOTFOUND;
    }
    /* Expired, revoked, over, or for an account that may no longer sign in: one answer. */
    if (rc < 0 || link.revoked || j->now >= link.expires_at || strcmp(k.status, "ended") == 0 ||
        strcmp(k.status, "cancelled") == 0)
        return 0;
    if (link.dob_failures >= PL_JOIN_MAX_DOB_FAILURES) {
        j->outcome = JOIN_LOCKED;
        return 0;
    }
    if (link.device_hash[0] && !pl_ct_equal(link.device_hash, j->device_hash, 64)) {
        j->outcome = JOIN_OTHER_DEVICE;
        return 0;
    }
    if (link.guest_id) return join_open(st, j, &link, &k, &pat);
    if (!j->dob[0]) {
        j->outcome = JOIN_NEED_DOB;
        return 0;
    }
    char stored[16] = "", want[DOB_LEN] = {0};
    if ((rc = pl_store_patient_dob(st, k.patient_id, stored)) < 0) return rc;
    memcpy(want, stored, strnlen(stored, DOB_LEN));
    bool match = pl_ct_equal(want, j->dob, DOB_LEN);
    pl_wipe(stored, sizeof stored);
    pl_wipe(want, sizeof want);
    if (!match) {
        int failures = 0;
        if ((rc = pl_store_consult_link_fail(st, link.id, &failures)) < 0) return rc;
        j->counted = true;
        j->outcome = failures >= PL_JOIN_MAX_DOB_FAILURES ? JOIN_LOCKED : JOIN_WRONG_DOB;
        return 0;
    }
    return join_open(st, j, &link, &k, &pat);
}

static void join_done(pl_job_t *job, int status)
{
    join_t *j = (join_t *)job;
    pl_server_t *srv = j->srv;
    if (status < 0) {
        pl_http_respond_err(j->hr, status, "could not open the consultation; try again");
        join_free(j);
        return;
    }
    if (j->outcome == JOIN_OK) {
        char cookies[400];
        snprintf(cookies, sizeof cookies,
                 PL_SESSION_COOKIE
                 "=%s; Path=/; Max-Age=%d; Secure; HttpOnly; SameSite=Strict\n" DEVICE_COOKIE
                 "=%s; Path=/api/v1/join; Max-Age=%d; Secure; HttpOnly; "
                 "SameSite=Strict",
                 j->session, srv->cfg->session_absolute_timeout_s, j->device,
                 DEVICE_COOKIE_MAX_AGE);
        pl_log_info("consult", "join ok consultation=%lld", (long long)j->consultation_id);
        pl_http_respond(j->hr, 200, j->reply, cookies);
        j->reply = NULL;
        pl_wipe(cookies, sizeof cookies);
        join_free(j);
        return;
    }
    /* A patient's link sent without a date of birth is a malformed request, not a failure. */
    if (j->outcome == JOIN_NEED_DOB)
        srv->metrics.bad_input++;
    else
        srv->metrics.join_failures++;
    /* A failed join is a failed sign-in as far as the client's address is concerned. Turning
     * away another device is not a guess at anything, so it does not count there. */
    if (j->outcome == JOIN_NOT_FOUND || j->counted)
        pl_throttle_failure(srv->throttle, j->key_ip, j->now);
    switch (j->outcome) {
    case JOIN_OTHER_DEVICE:
        srv->metrics.join_other_device++;
        pl_log_info("consult", "join refused: link %lld is bound to another device",
                    (long long)j->link_id);
        pl_http_respond_err(j->hr, -PL_ECONFLICT,
                            "this link has already been used on another device: ask your "
                            "practice for a new one");
        break;
    case JOIN_WRONG_DOB:
        pl_log_info("consult", "join refused: wrong date of birth for link %lld",
                    (long long)j->link_id);
        pl_http_respond_err(j->hr, -PL_EAUTH,
                            "the date of birth does not match: check it and try again");
        break;
    case JOIN_NEED_DOB:
        pl_http_respond_err(j->hr, -PL_EINVAL, "date_of_birth is required for this link");
        break;
    case JOIN_LOCKED:
        pl_log_info("consult", "join refused: link %lld is locked", (long long)j->link_id);
        pl_http_respond_err(j->hr, -PL_EPERM,
                            "this link is locked after too many wrong dates of birth: ask your "
                            "practice for a new one");
        break;
    default:
        pl_log_info("consult", "join refused: no live link for that token");
        pl_http_respond_err(j->hr, -PL_ENOTFOUND, not_valid);
        break;
    }
    join_free(j);
}

void pl_consult_join(pl_server_t *srv, pl_http_req_t *hr, json_t *body)
{
    pl_perr_t e;
    const char *token, *dob;
    int rc;
    if ((rc = pl_param_str(body, "token", 1, 64, false, &token, &e)) < 0 ||
        (rc = pl_param_str(body, "date_of_birth", 1, 32, true, &dob, &e)) < 0) {
        srv->metrics.bad_input++;
        pl_http_respond_err(hr, rc, e.msg);
        return;
    }
    if (!token_shaped(token) || (dob && !date_valid(dob))) {
        srv->metrics.bad_input++;
        pl_http_respond_err(hr, -PL_EINVAL,
                            token_shaped(token)
                                ? "date_of_birth must be a date written YYYY-MM-DD"
                                : "token must be the 43 characters after # in the link");
        return;
    }
    join_t *j = calloc(1, sizeof *j);
    if (!j) {
        pl_http_respond_err(hr, -PL_ENOMEM, NULL);
        return;
    }
    j->srv = srv;
    j->hr = hr;
    j->now = pl_now_ms();
    j->expires_at = j->now + (int64_t)srv->cfg->session_absolute_timeout_s * 1000;
    snprintf(j->ip, sizeof j->ip, "%s", pl_http_ip(hr));
    snprintf(j->key_ip, sizeof j->key_ip, "ip:%s", j->ip);
    snprintf(j->user_agent, sizeof j->user_agent, "%s", pl_http_user_agent(hr));
    int64_t wait = pl_throttle_wait(srv->throttle, j->key_ip, j->now);
    if (wait > 0) {
        char msg[96];
        srv->metrics.rate_limited++;
        snprintf(msg, sizeof msg, "too many failed attempts: try again in %lld seconds",
                 (long long)(wait + 999) / 1000);
        pl_http_set_retry_after(hr, (int)((wait + 999) / 1000));
        pl_http_respond_err(hr, -PL_ERATE, msg);
        join_free(j);
        return;
    }
    pl_token_hash(token, j->token_hash);
    if (dob) memcpy(j->dob, dob, DOB_LEN);
    /* The device's secret: the one this browser was given before (by any link), else new. */
    if (pl_http_cookie(hr, DEVICE_COOKIE, j->device, sizeof j->device) < 0 ||
        !token_shaped(j->device))
        rc = pl_token_new(j->device, sizeof j->device);
    if (rc == 0) rc = pl_token_new(j->session, sizeof j->session);
    if (rc < 0) {
        pl_http_respond_err(hr, rc, NULL);
        join_free(j);
        return;
    }
    pl_token_hash(j->device, j->device_hash);
    pl_token_hash(j->session, j->session_hash);
    rc = pl_worker_submit(srv->worker, &j->job, join_run, join_done);
    if (rc < 0) {
        pl_http_respond_err(hr, rc, NULL);
        join_free(j);
    }
}
