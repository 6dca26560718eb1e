/* Practice-team requests for the staff inbox: who is on the team (org.staff, for the "assign
 * to" list) and the practice's reply templates (template.list, template.save,
 * template.delete). As in conversations.c, each handler validates on the loop thread and its
 * run function executes on the storage thread, where authz decides.
 *
 * None of this is patient data, so reads are not audited; template changes are, so that a
 * practice can see who changed the wording it sends to patients. No events are emitted: a
 * client reloads the list when it needs it. */
#include "core/err.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <stdio.h>
#include <string.h>

#define TITLE_MAX 100
/* Templates are short openers. 200 of them at 4 KiB stay well inside one reply frame and the
 * 4 MiB per-connection send queue, so template.list cannot get its caller dropped. */
#define BODY_MAX 4096

static const char not_member[] = "you are not a member of that organisation";

/* Asks authz whether the actor may act on resource kind `kind` of org_id; on refusal the reply
 * says why in the actor's terms. */
static int authorise(pl_req_t *r, pl_resource_kind_t kind, int64_t org_id, pl_action_t act)
{
    pl_resource_t res = {.kind = kind, .org_id = org_id};
    int rc = pl_authz_check(&r->actor, &res, act);
    if (rc < 0)
        pl_req_fail_msg(r, r->actor.kind == PL_USER_STAFF ? not_member
                                                   : "this is for the practice team only");
    return rc;
}

static int audit(pl_store_t *st, pl_req_t *r, const char *action, int64_t tpl_id, int64_t org)
{
    return pl_req_audit(st, r, action, "template", tpl_id, 0, org);
}

/* ---- org.staff ---- */

static int staff_run(pl_store_t *st, pl_req_t *r)
{
    int64_t org = pl_req_param_id(r, "org_id");
    int rc = authorise(r, PL_RES_ORG, org, PL_ACT_READ);
    if (rc < 0) return rc;
    json_t *staff = NULL;
    if ((rc = pl_store_org_staff(st, org, &staff)) < 0) return rc;
    json_object_set_new(r->result, "staff", staff);
    return 0;
}

static int h_staff(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t org;
    int rc = pl_param_int(req, "org_id", 1, INT64_MAX, false, 0, &org, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, "org.staff", req, staff_run);
}

/* ---- template.list ---- */

static int list_run(pl_store_t *st, pl_req_t *r)
{
    int64_t org = pl_req_param_id(r, "org_id");
    int rc = authorise(r, PL_RES_TEMPLATE, org, PL_ACT_READ);
    if (rc < 0) return rc;
    json_t *list = NULL;
    if ((rc = pl_store_tpl_list(st, org, &list)) < 0) return rc;
    json_object_set_new(r->result, "templates", list);
    return 0;
}

static int h_list(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t org;
    int rc = pl_param_int(req, "org_id", 1, INT64_MAX, false, 0, &org, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, "template.list", req, list_run);
}

/* ---- template.save: create without template_id, replace with one ---- */

static int save_run(pl_store_t *st, pl_req_t *r)
{
    int64_t org = pl_req_param_id(r, "org_id"), tid = pl_req_param_id(r, "template_id");
    const char *title = json_string_value(json_object_get(r->params, "title"));
    const char *body = json_string_value(json_object_get(r->params, "body"));
    bool update = tid != 0;
    int rc = authorise(r, PL_RES_TEMPLATE, org, update ? PL_ACT_UPDATE : PL_ACT_CREATE);
    if (rc < 0) return rc;
    if (update) {
        /* Scoped to org: another practice's template is not found, whatever its id. */
        rc = pl_store_tpl_update(st, tid, org, title, body, r->actor.user_id, r->now);
        if (rc == -PL_ENOTFOUND) pl_req_fail_msg(r, "no such template at this organisation");
    } else {
        rc = pl_store_tpl_create(st, org, title, body, r->actor.user_id, r->now, &tid);
        if (rc == -PL_ECONFLICT) {
            char msg[80];
            snprintf(msg, sizeof msg, "this practice already has %d templates", PL_TPL_MAX_PER_ORG);
            pl_req_fail_msg(r, msg);
        }
    }
    if (rc < 0) return rc;
    json_t *t = NULL;
    if ((rc = pl_store_tpl_json(st, tid, &t)) < 0) return rc;
    json_object_set_new(r->result, "template", t);
    return audit(st, r, update ? "template.update" : "template.create", tid, org);
}

static int h_save(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t org, tid;
    const char *s;
    int rc;
    if ((rc = pl_param_int(req, "org_id", 1, INT64_MAX, false, 0, &org, &e)) < 0 ||
        (rc = pl_param_str(req, "title", 1, TITLE_MAX, false, &s, &e)) < 0 ||
        (rc = pl_param_str(req, "body", 1, BODY_MAX, false, &s, &e)) < 0 ||
        (rc = pl_param_int(req, "template_id", 1, INT64_MAX, true, 0, &tid, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, "template.save", req, save_run);
}

/* ---- template.delete ---- */

static int delete_run(pl_store_t *st, pl_req_t *r)
{
    int64_t tid = pl_req_param_id(r, "template_id");
    json_t *t = NULL;
    int rc = pl_store_tpl_json(st, tid, &t);
    if (rc == -PL_ENOTFOUND) pl_req_fail_msg(r, "no such template");
    if (rc < 0) return rc;
    int64_t org = json_integer_value(json_object_get(t, "org_id"));
    json_decref(t);
    if ((rc = authorise(r, PL_RES_TEMPLATE, org, PL_ACT_DELETE)) < 0) return rc;
    if ((rc = pl_store_tpl_delete(st, tid, org, r->actor.user_id, r->now)) < 0) return rc;
    return audit(st, r, "template.delete", tid, org);
}

static int h_delete(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t tid;
    int rc = pl_param_int(req, "template_id", 1, INT64_MAX, false, 0, &tid, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, "template.delete", req, delete_run);
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__tpl_handler(const char *type);
pl_handler_fn pl__tpl_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"org.staff", h_staff},
        {"template.list", h_list},
        {"template.save", h_save},
        {"template.delete", h_delete},
    };
    return PL_HANDLER_IN(table, type);
}
