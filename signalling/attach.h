/* The seam between the REST front (http.c) and attachments (attach.c): what each calls of the
 * other, and the signed download links, which conversations.c and tests reason about too.
 * Not a public header: signalling/ only. */
#ifndef PL_ATTACH_H
#define PL_ATTACH_H

#include "signalling/server_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Uploads in flight at once, server-wide: each can hold up to PL_ATTACH_MAX_BYTES in memory. */
#define PL_ATTACH_MAX_UPLOADS 8
/* A slow upload is cut off: it gets http_timeout_s plus one second per this many bytes. */
#define PL_ATTACH_MIN_RATE (64 * 1024)

/* ---- http.c, for attach.c ---- */

/* Keeps hr alive across asynchronous work; pl_http_respond or pl_http_release drops it. */
void pl_http_hold(pl_http_req_t *hr);
/* Drops a hold without answering (the work decided nothing the client must hear yet). */
void pl_http_release(pl_http_req_t *hr);
/* A download: status 200 with data[0..len) as the body (taken: wiped and freed once sent or
 * dropped), the real content type, Content-Disposition: attachment with the name as RFC 5987
 * filename*, Cache-Control: private, no-store, and a sandboxing Content-Security-Policy.
 * Releases the hold, as pl_http_respond does. */
void pl_http_respond_bytes(pl_http_req_t *hr, const char *content_type, uint8_t *data, size_t len,
                           const char *filename);

/* ---- attach.c, for http.c ---- */

typedef struct pl_attach_up pl_attach_up_t;

/* The conversation id of an upload path "/api/v1/conversations/{id}/attachments", or 0. */
int64_t pl_attach_upload_path(const char *path);
/* The attachment id of a download path "/api/v1/attachments/{id}", or 0. */
int64_t pl_attach_download_path(const char *path);

/* The headers of POST .../attachments have arrived (LWS_CALLBACK_HTTP; wsi's headers are still
 * readable). Checks them all: the same-site rule, session token present, content type, file
 * name, Content-Length (0 or over PL_ATTACH_MAX_BYTES is refused now, before any byte of the
 * body). Returns 0 with *out (owned by the caller until pl_attach_upload_finish; release with
 * pl_attach_upload_free) and *content_length, after starting an early check of the session and
 * the right to send in that conversation, which answers hr with a refusal as soon as it knows
 * one. Otherwise a negative code and *msg for the refusal, which the caller sends. */
int pl_attach_upload_begin(pl_server_t *srv, pl_http_req_t *hr, struct lws *wsi, int64_t conv_id,
                           pl_attach_up_t **out, size_t *content_length, const char **msg);
/* The whole body has arrived and hr is not answered: takes up and body (malloc'd), checks and
 * stores the attachment on the storage thread and answers hr. The caller has taken a hold on hr
 * (released by the answer). */
void pl_attach_upload_finish(pl_attach_up_t *up, uint8_t *body, size_t len);
/* An upload that will not finish (refused, or its connection closed). NULL ok. */
void pl_attach_upload_free(pl_attach_up_t *up);
/* Counts a refusal that http.c decided (the body passed the limit while arriving). */
void pl_attach_count_too_large(pl_server_t *srv);

/* GET /api/v1/attachments/{id}?expires=MS&sig=HEX: checks the link and the session, and
 * answers hr with the bytes or a refusal. The caller has taken a hold on hr. */
void pl_attach_download(pl_server_t *srv, pl_http_req_t *hr, struct lws *wsi, int64_t id);

/* ---- signed links ---- */

/* The key download links are signed with, derived from the data key (HMAC-SHA256(data_key,
 * "parley attachment urls v1")) so that the data key itself never signs anything a client
 * sees. The caller wipes it. 0, or -PL_ECRYPTO. */
int pl_attach_link_key(const uint8_t data_key[32], uint8_t key[32]);
/* The signature of a download link: lowercase hex of HMAC-SHA256(key, "attachment:<id>:
 * <user_id>:<expires_ms>"). hex gets 64 digits and a NUL. 0, or -PL_ECRYPTO. */
int pl_attach_link_sign(const uint8_t key[32], int64_t id, int64_t user_id, int64_t expires_ms,
                        char hex[65]);
/* Whether hex is exactly the signature of (id, user_id, expires_ms); compared in constant
 * time. */
bool pl_attach_link_verify(const uint8_t key[32], int64_t id, int64_t user_id, int64_t expires_ms,
                           const char *hex);

/* Loads conversation conv_id and asks authz for act (storage thread): 0, -PL_ENOTFOUND or
 * -PL_EPERM. */
int pl_attach_conv_allows(pl_store_t *st, const pl_actor_t *a, int64_t conv_id, pl_action_t act,
                          pl_conv_t *conv);
/* What an attachment refusal for lack of rights says. */
extern const char pl_attach_not_yours[];

#endif
