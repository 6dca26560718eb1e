/* attachment.url (WebSocket, docs/PROTOCOL.md section 10.5): a short-lived link, signed for
 * the asker, to download one attachment they may read. The store decides; the link is signed on
 * the loop afterwards, so its clock starts when it is handed out. */
#include "signalling/attach.h"
#include "core/err.h"
#include "core/util.h"
#include "signalling/params.h"

#include <stdio.h>
#include <string.h>

/* ---- attachment.url (WebSocket) ---- */

static int url_run(pl_store_t *st, pl_req_t *r)
{
    pl_attachment_t a;
    pl_conv_t conv;
    int rc = pl_store_attach_get(st, r->i1, &a);
    pl_wipe(a.filename, sizeof a.filename);
    if (rc == 0) rc = pl_attach_conv_allows(st, &r->actor, a.conversation_id, PL_ACT_READ, &conv);
    /* Until a message carries it, an upload is its uploader's alone. */
    if (rc == 0 && !a.message_id && a.uploaded_by != r->actor.user_id) rc = -PL_ENOTFOUND;
    if (rc == -PL_ENOTFOUND || rc == -PL_EPERM)
        json_object_set_new(r->result, "error_message",
                            json_string(rc == -PL_EPERM ? pl_attach_not_yours : "no such attachment"));
    return rc;
}

/* Signs on the loop, after the store said yes: the link's clock starts when it is handed out. */
static void url_after(pl_req_t *r, int status)
{
    if (status < 0) return;
    uint8_t key[32];
    char sig[65], url[160];
    int64_t expires = pl_now_ms() + (int64_t)r->srv->cfg->attachment_url_ttl_s * 1000;
    if (pl_attach_link_key(r->srv->data_key, key) == 0 &&
        pl_attach_link_sign(key, r->i1, r->actor.user_id, expires, sig) == 0) {
        snprintf(url, sizeof url, "/api/v1/attachments/%lld?expires=%lld&sig=%s", (long long)r->i1,
                 (long long)expires, sig);
        json_object_set_new(r->result, "url", json_string(url));
        json_object_set_new(r->result, "expires_at", json_integer(expires));
    } else {
        /* The store said yes but there is no link to give: answer that instead. */
        r->no_reply = true;
        if (r->conn && r->conn->wsi) pl_conn_reply_err(r->conn, r->id, -PL_ECRYPTO, NULL);
    }
    pl_wipe(key, sizeof key);
}

static int h_url(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t att;
    int rc = pl_param_int(req, "attachment_id", 1, INT64_MAX, false, 0, &att, &e);
    if (rc < 0) {
        c->srv->metrics.bad_input++;
        pl_conn_reply_err(c, id, rc, e.msg);
        return 0;
    }
    pl_req_t *r = pl_req_new(c, id, "attachment.url", req, url_run);
    if (!r) return -PL_ENOMEM;
    r->i1 = att;
    r->after = url_after;
    pl_req_submit(r);
    return 0;
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__attach_handler(const char *type);
pl_handler_fn pl__attach_handler(const char *type)
{
    return strcmp(type, "attachment.url") == 0 ? h_url : NULL;
}
