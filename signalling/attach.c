/* Attachments: photos and PDFs on conversation messages (docs/PROTOCOL.md section 10).
 *
 *   POST /api/v1/conversations/{id}/attachments   the raw file as the body; 201 with its id
 *   GET  /api/v1/attachments/{id}?expires&sig      the bytes, through a signed link
 *   attachment.url (WebSocket)                     a signed link, valid attachment_url_ttl_s
 *
 * and conversation.send's attachment_ids (conversations.c) puts uploads on a message.
 *
 * An upload is refused as early as each fact is known. From its headers on the loop: the
 * same-site rule (the custom header X-Parley-Upload: 1, which no cross-site form or simple
 * request can carry, and the Origin check of the JSON endpoints), a session token present,
 * Content-Length 1..10 MiB, one of the four content types, a well-formed file name, and room
 * among the uploads in flight. Then, while the body arrives, an early job checks the session
 * and the right to send in the conversation, and refuses at once if either fails. Once the body
 * is in, its content is checked on libuv's thread pool (storage/attach_sniff.h: it is what it
 * claims, with nothing hidden in or after it), and one job on the storage thread checks the
 * session and the right again, then stores the bytes (sealed, once per SHA-256) and the row.
 *
 * An upload no message carries within attachment_unsent_ttl_s is deleted by a sweep on the
 * storage thread (attach_sweep.c), and one person may have at most attachment_pending_max
 * waiting: both jobs ask, so that no account can fill the disk with files it never sends.
 * attachment.url, the WebSocket request for a signed link, is in attach_url.c.
 *
 * A download link is signed for one user and a short time; the request must also carry that
 * user's session, and the right to read the conversation is asked again, so a right revoked
 * after the link was issued wins. The query string carries the signature: nothing here logs a
 * path or a query. */
#include "signalling/attach.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/params.h"
#include "storage/attach_sniff.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(PL_SNIFF_CLASSES_ == PL_METRICS_ATTACH_REASONS,
               "core/metrics.h counts attachment refusals by pl_sniff_class_t");
_Static_assert(PL_STORE_ATTACH_MAX == PL_ATTACH_MAX_PER_MSG, "one limit per message");

#define NAME_MAX_BYTES 255
#define DEFAULT_NAME "attachment"

const char pl_attach_not_yours[] = "you do not have access to this attachment";
static const char link_bad[] = "this link is not valid: open the attachment again";
static const char link_expired[] = "this link has expired: open the attachment again";

/* ---- paths ---- */

/* A positive decimal id with no sign, no leading zero and at most 18 digits, ending at *end. */
static int64_t parse_id(const char *s, const char **end)
{
    int64_t v = 0;
    int n = 0;
    if (*s < '1' || *s > '9') return 0;
    for (; *s >= '0' && *s <= '9' && n < 18; s++, n++)
        v = v * 10 + (*s - '0');
    *end = s;
    return *s >= '0' && *s <= '9' ? 0 : v;
}

int64_t pl_attach_upload_path(const char *path)
{
    static const char pre[] = "/api/v1/conversations/";
    const char *end = NULL;
    if (strncmp(path, pre, sizeof pre - 1) != 0) return 0;
    int64_t id = parse_id(path + sizeof pre - 1, &end);
    return id && strcmp(end, "/attachments") == 0 ? id : 0;
}

int64_t pl_attach_download_path(const char *path)
{
    static const char pre[] = "/api/v1/attachments/";
    const char *end = NULL;
    if (strncmp(path, pre, sizeof pre - 1) != 0) return 0;
    int64_t id = parse_id(path + sizeof pre - 1, &end);
    return id && *end == 0 ? id : 0;
}

/* ---- signed links ---- */

static int hmac(const uint8_t key[32], const void *msg, size_t len, uint8_t out[32])
{
    size_t n = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, msg, len, out, 32, &n) || n != 32) {
        pl_wipe(out, 32);
        return -PL_ECRYPTO;
    }
    return 0;
}

int pl_attach_link_key(const uint8_t data_key[32], uint8_t key[32])
{
    static const char label[] = "parley attachment urls v1";
    return hmac(data_key, label, sizeof label - 1, key);
}

static int link_mac(const uint8_t key[32], int64_t id, int64_t user_id, int64_t expires_ms,
                    uint8_t mac[32])
{
    char msg[96];
    int n = snprintf(msg, sizeof msg, "attachment:%lld:%lld:%lld", (long long)id,
                     (long long)user_id, (long long)expires_ms);
    return hmac(key, msg, (size_t)n, mac);
}

int pl_attach_link_sign(const uint8_t key[32], int64_t id, int64_t user_id, int64_t expires_ms,
                        char hex[65])
{
    uint8_t mac[32];
    int rc = link_mac(key, id, user_id, expires_ms, mac);
    if (rc == 0) pl_hex_encode(mac, sizeof mac, hex);
    pl_wipe(mac, sizeof mac);
    return rc;
}

bool pl_attach_link_verify(const uint8_t key[32], int64_t id, int64_t user_id, int64_t expires_ms,
                           const char *hex)
{
    uint8_t want[32], got[32];
    size_t n = 0;
    /* One spelling only: 64 lower-case hex digits (pl_hex_decode also takes upper case). */
    for (size_t i = 0; hex && i < 64; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'))) return false;
    if (!hex || hex[64] != 0 || pl_hex_decode(hex, got, sizeof got, &n) < 0 || n != 32)
        return false;
    bool ok = link_mac(key, id, user_id, expires_ms, want) == 0 && pl_ct_equal(want, got, 32);
    pl_wipe(want, sizeof want);
    return ok;
}

/* ---- the session behind a REST request (storage thread) ---- */

/* The actor whose session token hashes to hash, held to the same rules as a WebSocket's
 * (auth.c); staff who must enrol in two-factor sign-in first get -PL_ETOTP. */
static int rest_actor(pl_store_t *st, const pl_config_t *cfg, const char *hash, int64_t now,
                      pl_actor_t *out)
{
    int64_t expires = 0;
    bool must = false;
    int rc = pl_auth_session_actor(st, cfg, hash, now, out, &expires, &must);
    return rc == 0 && must ? -PL_ETOTP : rc;
}

static const char *actor_refusal(int rc)
{
    return rc == -PL_EAUTH   ? "no valid session: sign in again"
           : rc == -PL_ETOTP ? "your practice requires two-factor sign-in: enrol first"
                             : NULL;
}

int pl_attach_conv_allows(pl_store_t *st, const pl_actor_t *a, int64_t conv_id, pl_action_t act,
                          pl_conv_t *conv)
{
    pl_resource_t res;
    int rc = pl_store_conv_get(st, conv_id, conv);
    if (rc < 0 || (rc = pl_conv_resource_for(st, a, conv, pl_now_ms(), &res)) < 0) return rc;
    return pl_authz_check(a, &res, act);
}

/* ---- uploads waiting to be sent ---- */

/* "a day", "3 hours", "2 seconds": how long attachment_unsent_ttl_s is, for people. */
static void say_duration(int s, char *out, size_t cap)
{
    static const struct {
        int len;
        const char *one, *many;
    } units[] = {{86400, "a day", "days"},
                 {3600, "an hour", "hours"},
                 {60, "a minute", "minutes"},
                 {1, "a second", "seconds"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (s % units[i].len) continue;
        if (s == units[i].len)
            snprintf(out, cap, "%s", units[i].one);
        else
            snprintf(out, cap, "%d %s", s / units[i].len, units[i].many);
        return;
    }
}

/* -PL_ERATE, with the refusal in msg, if user_id already has attachment_pending_max uploads
 * no message carries; 0 if there is room; a store error. Storage thread. */
static int pending_check(pl_store_t *st, const pl_config_t *cfg, int64_t user_id, char *msg,
                         size_t cap)
{
    int64_t n = 0;
    int rc = pl_store_attach_pending(st, user_id, &n);
    if (rc < 0 || n < cfg->attachment_pending_max) return rc;
    char wait[32];
    say_duration(cfg->attachment_unsent_ttl_s, wait, sizeof wait);
    snprintf(msg, cap,
             "you have %d files waiting to be sent: send them on a message, or wait %s for them "
             "to be cleared",
             cfg->attachment_pending_max, wait);
    return -PL_ERATE;
}

/* The answer to a refusal by the cap: counted, logged (never who), and told when waiting
 * alone is sure to have cleared the oldest (one TTL and one sweep). Loop thread. */
static void pending_refused(pl_server_t *srv, pl_http_req_t *hr, int64_t conv_id)
{
    srv->metrics.rate_limited++;
    pl_log_info("attach", "upload to conversation=%lld refused: too many waiting to be sent",
                (long long)conv_id);
    uint64_t wait_ms =
        (uint64_t)srv->cfg->attachment_unsent_ttl_s * 1000 + pl_attach_sweep_every_ms(srv->cfg);
    pl_http_set_retry_after(hr, (int)(wait_ms / 1000));
}

/* ---- upload: the headers ---- */

struct pl_attach_up {
    struct precheck *pre; /* the early check, while it runs (each detaches from the other) */
    bool refused_early;   /* it answered: the final job's answer will not be heard */
    pl_server_t *srv;
    pl_http_req_t *hr;
    int64_t conv_id;
    char token_hash[65];
    char claimed[24];
    char filename[NAME_MAX_BYTES + 1];
    char ip[64];
    char user_agent[PL_UA_MAX];
};

/* The early check: is the session live, may it send in the conversation, and has the person
 * room for another upload waiting to be sent? Refuses at once if not, while the body is still
 * arriving; otherwise says nothing (the final job asks again). */
typedef struct precheck {
    pl_job_t job;
    pl_server_t *srv;
    pl_http_req_t *hr;
    pl_attach_up_t *up; /* NULL once the upload is freed */
    int64_t conv_id, now;
    char token_hash[65];
    const char *msg;
    char msgbuf[160];
} precheck_t;

void pl_attach_upload_free(pl_attach_up_t *up)
{
    if (!up) return;
    if (up->pre) up->pre->up = NULL;
    up->srv->attach_uploads--;
    pl_wipe(up, sizeof *up);
    free(up);
}

static void count_refused(pl_server_t *srv, pl_sniff_class_t cls)
{
    if (cls > PL_SNIFF_OK && cls < PL_SNIFF_CLASSES_) srv->metrics.attach_refused[cls]++;
    srv->metrics.bad_input++;
}

void pl_attach_count_too_large(pl_server_t *srv)
{
    count_refused(srv, PL_SNIFF_TOO_LARGE);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Whether s[0..n) is UTF-8 (shortest forms, no surrogates) without control characters (C0,
 * DEL, C1) or the bidirectional controls that make a name read other than it is. */
static bool name_text_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (k == 0 || i + k > n) return false;
        if (k > 1) c &= 0x3F >> (k - 1);
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            c = c << 6 | (s[i + j] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (c < min[k] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
        if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) ||
            (c >= 0x2066 && c <= 0x2069))
            return false;
        i += k;
    }
    return true;
}

/* The X-Filename header: percent-encoded UTF-8 (encodeURIComponent), 1..255 bytes decoded,
 * no control characters, no path separators, not "." or "..". Absent: DEFAULT_NAME. */
static int read_filename(struct lws *wsi, char out[NAME_MAX_BYTES + 1], const char **msg)
{
    char raw[3 * NAME_MAX_BYTES + 2];
    int len = lws_hdr_custom_length(wsi, "x-filename:", 11);
    if (len < 0) {
        snprintf(out, NAME_MAX_BYTES + 1, "%s", DEFAULT_NAME);
        return 0;
    }
    if ((size_t)len >= sizeof raw) {
        *msg = "the file name (X-Filename) is over 255 bytes";
        return -PL_ETOOBIG;
    }
    if (lws_hdr_custom_copy(wsi, raw, sizeof raw, "x-filename:", 11) < 0) return -PL_EINVAL;
    size_t n = 0;
    for (const char *p = raw; *p; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (lo < 0) {
                *msg = "the file name (X-Filename) must be percent-encoded UTF-8";
                return -PL_EINVAL;
            }
            c = hi << 4 | lo;
            p += 2;
        }
        if (n == NAME_MAX_BYTES) {
            *msg = "the file name (X-Filename) is over 255 bytes";
            return -PL_ETOOBIG;
        }
        out[n++] = (char)c;
    }
    out[n] = 0;
    if (n == 0 || !name_text_ok((const unsigned char *)out, n) || strchr(out, '/') ||
        strchr(out, '\\') || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
        *msg = "the file name (X-Filename) must be 1 to 255 bytes of UTF-8 text with no "
               "control characters or path separators";
        return -PL_EINVAL;
    }
    return 0;
}

/* Content-Type, lower case, without parameters or spaces. */
static void read_ctype(struct lws *wsi, char *out, size_t cap)
{
    char buf[128];
    size_t n = 0;
    out[0] = 0;
    if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0) return;
    for (const char *p = buf; *p && *p != ';' && n + 1 < cap; p++)
        if (*p != ' ' && *p != '\t') out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    out[n] = 0;
}

/* The same-site rule for uploads: a body that is not JSON needs another proof that the page
 * sending it is ours. X-Parley-Upload: 1 is a custom header, which a cross-site form cannot send
 * and a cross-site script cannot send without a CORS preflight the server never grants; and if
 * the browser says where it comes from, that is this site, as for the JSON endpoints. */
static bool upload_same_site(struct lws *wsi)
{
    char flag[8], origin[256], host[256], want[300];
    if (lws_hdr_custom_copy(wsi, flag, sizeof flag, "x-parley-upload:", 16) < 0 ||
        strcmp(flag, "1") != 0)
        return false;
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0) {
        if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0) return false;
        snprintf(want, sizeof want, "https://%s", host);
        if (strcmp(origin, want) != 0) return false;
    }
    return true;
}

static int precheck_run(pl_store_t *st, pl_job_t *job)
{
    precheck_t *p = (precheck_t *)job;
    pl_actor_t a;
    pl_conv_t conv;
    int rc = rest_actor(st, p->srv->cfg, p->token_hash, p->now, &a);
    if (rc < 0) {
        p->msg = actor_refusal(rc);
        return rc;
    }
    rc = pl_attach_conv_allows(st, &a, p->conv_id, PL_ACT_SEND, &conv);
    p->msg = rc == -PL_ENOTFOUND ? "no such conversation"
             : rc == -PL_EPERM   ? "you cannot send attachments in this conversation"
                                 : NULL;
    if (rc == 0 &&
        (rc = pending_check(st, p->srv->cfg, a.user_id, p->msgbuf, sizeof p->msgbuf)) == -PL_ERATE)
        p->msg = p->msgbuf;
    return rc;
}

static void precheck_done(pl_job_t *job, int status)
{
    precheck_t *p = (precheck_t *)job;
    if (p->up) {
        p->up->pre = NULL;
        p->up->refused_early = p->msg != NULL;
    }
    if (p->msg) {
        if (status == -PL_EAUTH) p->srv->metrics.auth_failures++;
        if (status == -PL_ERATE) pending_refused(p->srv, p->hr, p->conv_id);
        pl_http_respond_err(p->hr, status, p->msg);
    } else {
        pl_http_release(p->hr); /* store trouble: the final job will say */
    }
    pl_wipe(p, sizeof *p);
    free(p);
}

int pl_attach_upload_begin(pl_server_t *srv, pl_http_req_t *hr, struct lws *wsi, int64_t conv_id,
                           pl_attach_up_t **out, size_t *content_length, const char **msg)
{
    char token[128], num[32];
    *out = NULL;
    if (!upload_same_site(wsi)) {
        srv->metrics.bad_input++;
        *msg = "uploads must come from this site with X-Parley-Upload: 1";
        return -PL_EPERM;
    }
    if (pl_http_token(wsi, token, sizeof token) < 0) {
        srv->metrics.auth_failures++;
        *msg = "no session";
        return -PL_EAUTH;
    }
    pl_attach_up_t *up = calloc(1, sizeof *up);
    if (!up) {
        pl_wipe(token, sizeof token);
        return -PL_ENOMEM;
    }
    up->srv = srv;
    up->hr = hr;
    up->conv_id = conv_id;
    srv->attach_uploads++;
    pl_token_hash(token, up->token_hash);
    pl_wipe(token, sizeof token);
    snprintf(up->ip, sizeof up->ip, "%s", pl_http_ip(hr));
    snprintf(up->user_agent, sizeof up->user_agent, "%s", pl_http_user_agent(hr));
    int rc = 0;
    pl_sniff_class_t cls = PL_SNIFF_OK;
    char *end = NULL;
    unsigned long long clen = 0;
    if (lws_hdr_copy(wsi, num, sizeof num, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        clen = strtoull(num, &end, 10);
    read_ctype(wsi, up->claimed, sizeof up->claimed);
    if (!end || *end || num[0] < '0' || num[0] > '9') {
        srv->metrics.bad_input++;
        *msg = "send the file as the body with its Content-Length";
        rc = -PL_EINVAL;
    } else if (clen == 0) {
        *msg = "the file is empty";
        cls = PL_SNIFF_EMPTY;
        rc = -PL_EINVAL;
    } else if (clen > PL_ATTACH_MAX_BYTES) {
        *msg = "an attachment may be at most 10 MiB";
        cls = PL_SNIFF_TOO_LARGE;
        rc = -PL_ETOOBIG;
    } else if (!pl_attach_type_known(up->claimed)) {
        *msg = "Content-Type must be image/jpeg, image/png, image/heic or application/pdf";
        cls = PL_SNIFF_UNKNOWN;
        rc = -PL_EINVAL;
    } else if ((rc = read_filename(wsi, up->filename, msg)) < 0) {
        srv->metrics.bad_input++;
    } else if (srv->attach_uploads > PL_ATTACH_MAX_UPLOADS) {
        *msg = "too many uploads at once: try again shortly";
        rc = -PL_EUNAVAIL;
    }
    if (cls != PL_SNIFF_OK) {
        count_refused(srv, cls);
        pl_log_info("attach", "upload to conversation=%lld refused: %s", (long long)conv_id,
                    pl_sniff_class_name(cls));
    }
    precheck_t *p = rc == 0 ? calloc(1, sizeof *p) : NULL;
    if (rc == 0 && !p) rc = -PL_ENOMEM;
    if (rc == 0) {
        p->srv = srv;
        p->hr = hr;
        p->conv_id = conv_id;
        p->now = pl_now_ms();
        memcpy(p->token_hash, up->token_hash, sizeof p->token_hash);
        pl_http_hold(hr);
        if (pl_worker_submit(srv->worker, &p->job, precheck_run, precheck_done) < 0) {
            pl_http_release(hr);
            free(p);
            *msg = "shutting down";
            rc = -PL_EUNAVAIL;
        } else {
            p->up = up;
            up->pre = p;
        }
    }
    if (rc < 0) {
        pl_attach_upload_free(up);
        return rc;
    }
    *out = up;
    *content_length = (size_t)clen;
    return 0;
}

/* ---- upload: the body ---- */

typedef struct {
    pl_job_t job;
    uv_work_t work;
    pl_attach_up_t *up;
    uint8_t *body;
    size_t len;
    int64_t now;
    /* the content check (thread pool) */
    int sniffed;
    pl_sniff_class_t cls;
    const char *why;
    /* the result (storage thread) */
    const char *msg;
    char msgbuf[160];
    int64_t id;
    char sha256[65];
} upload_t;

static void upload_free(upload_t *u)
{
    pl_attach_upload_free(u->up);
    if (u->body) pl_wipe(u->body, u->len);
    free(u->body);
    free(u);
}

static int upload_run(pl_store_t *st, pl_job_t *job)
{
    upload_t *u = (upload_t *)job;
    pl_attach_up_t *up = u->up;
    pl_actor_t a;
    pl_conv_t conv;
    int rc = rest_actor(st, up->srv->cfg, up->token_hash, u->now, &a);
    if (rc < 0) {
        u->msg = actor_refusal(rc);
        return rc;
    }
    if ((rc = pl_attach_conv_allows(st, &a, up->conv_id, PL_ACT_SEND, &conv)) < 0) {
        u->msg = rc == -PL_ENOTFOUND ? "no such conversation"
                 : rc == -PL_EPERM   ? "you cannot send attachments in this conversation"
                                     : NULL;
        return rc;
    }
    /* As for messages: a patient cannot add to a request the practice has closed. */
    if (a.kind == PL_USER_PATIENT && strcmp(conv.status, "closed") == 0) {
        u->msg = "this request is closed: start a new one";
        return -PL_ECONFLICT;
    }
    /* Asked again here, in the job that stores: two uploads in flight at once cannot both take
     * the last place. */
    if ((rc = pending_check(st, up->srv->cfg, a.user_id, u->msgbuf, sizeof u->msgbuf)) < 0) {
        if (rc == -PL_ERATE) u->msg = u->msgbuf;
        return rc;
    }
    if (u->sniffed < 0) { /* the content was refused: only now, to someone allowed to send */
        u->msg = u->why;
        return u->sniffed;
    }
    bool added = false;
    if ((rc = pl_store_blob_put(st, u->body, u->len, u->now, u->sha256, &added)) < 0 ||
        (rc = pl_store_attach_create(st, conv.id, u->sha256, up->claimed, (int64_t)u->len,
                                     up->filename, a.user_id, u->now, &u->id)) < 0)
        return rc;
    /* Anyone's upload is audited: it adds to the patient's record, whoever sends it. */
    return pl_audit_actor(st, &a, pl_audit_org_for(&a, conv.org_id, conv.peer_org_id),
                          "attachment.create", "attachment", u->id, conv.patient_id, NULL, up->ip,
                          up->user_agent, NULL, u->now);
}

static void upload_done(pl_job_t *job, int status)
{
    upload_t *u = (upload_t *)job;
    pl_attach_up_t *up = u->up;
    pl_server_t *srv = up->srv;
    if (status == 0) {
        srv->metrics.attach_stored++;
        pl_log_info("attach", "stored attachment=%lld conversation=%lld bytes=%zu",
                    (long long)u->id, (long long)up->conv_id, u->len);
        pl_http_respond(up->hr, 201,
                        json_pack("{s{sI ss sI ss ss}}", "attachment", "id", (json_int_t)u->id,
                                  "content_type", up->claimed, "size", (json_int_t)u->len, "sha256",
                                  u->sha256, "filename", up->filename),
                        NULL);
    } else {
        if (status == u->sniffed) {
            count_refused(srv, u->cls);
            pl_log_info("attach", "upload to conversation=%lld refused: %s", (long long)up->conv_id,
                        pl_sniff_class_name(u->cls));
        }
        if (status == -PL_EAUTH) srv->metrics.auth_failures++;
        /* A small file can be in before the early check answers, and then both refuse it:
         * the refusal heard is the early one, already counted. */
        if (status == -PL_ERATE && !up->refused_early) pending_refused(srv, up->hr, up->conv_id);
        if (status == -PL_EIO || status == -PL_EINTERNAL || status == -PL_ECRYPTO)
            pl_log_warn("attach", "upload to conversation=%lld failed: %s", (long long)up->conv_id,
                        pl_strerror(status));
        pl_http_respond_err(up->hr, status,
                            u->msg ? u->msg : "could not store the attachment; try again");
    }
    upload_free(u);
}

static void sniff_work(uv_work_t *w)
{
    upload_t *u = w->data;
    u->sniffed = pl_attach_check(u->body, u->len, u->up->claimed, NULL, &u->why, &u->cls);
}

static void sniff_after(uv_work_t *w, int status)
{
    upload_t *u = w->data;
    pl_server_t *srv = u->up->srv;
    if (status < 0) {
        pl_http_respond_err(u->up->hr, -PL_EINTERNAL, NULL);
        upload_free(u);
        return;
    }
    u->now = pl_now_ms();
    if (pl_worker_submit(srv->worker, &u->job, upload_run, upload_done) < 0) {
        pl_http_respond_err(u->up->hr, -PL_EUNAVAIL, "shutting down");
        upload_free(u);
    }
}

void pl_attach_upload_finish(pl_attach_up_t *up, uint8_t *body, size_t len)
{
    upload_t *u = calloc(1, sizeof *u);
    if (!u) {
        pl_http_respond_err(up->hr, -PL_ENOMEM, NULL);
        pl_wipe(body, len);
        free(body);
        pl_attach_upload_free(up);
        return;
    }
    u->up = up;
    u->body = body;
    u->len = len;
    u->work.data = u;
    /* Walking 10 MiB of PNG chunks with their CRCs is CPU work: the thread pool, not the loop,
     * and not the storage thread every other request waits on. */
    if (uv_queue_work(up->srv->loop, &u->work, sniff_work, sniff_after) < 0) {
        pl_http_respond_err(up->hr, -PL_EINTERNAL, NULL);
        upload_free(u);
    }
}

/* ---- download ---- */

typedef struct {
    pl_job_t job;
    pl_server_t *srv;
    pl_http_req_t *hr;
    int64_t id, expires, now;
    char token_hash[65];
    char sig[72];
    char ip[64];
    char user_agent[PL_UA_MAX];
    uint8_t key[32];
    /* the result */
    const char *msg;
    bool link_refused;
    pl_attachment_t att;
    uint8_t *bytes;
    size_t len;
} download_t;

static void download_free(download_t *d)
{
    if (d->bytes) pl_wipe(d->bytes, d->len);
    free(d->bytes);
    pl_wipe(d, sizeof *d);
    free(d);
}

static int download_run(pl_store_t *st, pl_job_t *job)
{
    download_t *d = (download_t *)job;
    pl_actor_t a;
    pl_conv_t conv;
    int rc = rest_actor(st, d->srv->cfg, d->token_hash, d->now, &a);
    if (rc < 0) {
        d->msg = actor_refusal(rc);
        return rc;
    }
    /* The link is this user's (the signature binds the user id), and still fresh. */
    bool signed_ok = pl_attach_link_verify(d->key, d->id, a.user_id, d->expires, d->sig);
    if (!signed_ok || d->now >= d->expires) {
        d->link_refused = true;
        d->msg = signed_ok ? link_expired : link_bad;
        return -PL_EPERM;
    }
    if ((rc = pl_store_attach_get(st, d->id, &d->att)) < 0) {
        d->msg = "no such attachment";
        return rc;
    }
    /* Asked again now: a right revoked since the link was issued wins over the link. */
    if ((rc = pl_attach_conv_allows(st, &a, d->att.conversation_id, PL_ACT_READ, &conv)) < 0 ||
        (!d->att.message_id && d->att.uploaded_by != a.user_id)) {
        d->msg = pl_attach_not_yours;
        return -PL_EPERM;
    }
    if ((rc = pl_store_blob_read(st, d->att.sha256, &d->bytes, &d->len)) < 0) return rc;
    return pl_audit_actor(st, &a, pl_audit_org_for(&a, conv.org_id, conv.peer_org_id),
                          "attachment.read", "attachment", d->id, conv.patient_id, NULL, d->ip,
                          d->user_agent, NULL, d->now);
}

static void download_done(pl_job_t *job, int status)
{
    download_t *d = (download_t *)job;
    pl_server_t *srv = d->srv;
    if (status == 0) {
        srv->metrics.attach_downloads++;
        pl_http_respond_bytes(d->hr, d->att.content_type, d->bytes, d->len, d->att.filename);
        d->bytes = NULL; /* taken */
    } else {
        if (d->link_refused) {
            srv->metrics.attach_links_refused++;
            pl_log_info("attach", "download link for attachment=%lld refused: %s", (long long)d->id,
                        d->msg == link_expired ? "expired" : "not valid");
        }
        if (status == -PL_EAUTH) srv->metrics.auth_failures++;
        pl_http_respond_err(d->hr, status,
                            d->msg ? d->msg : "could not read the attachment; try again");
    }
    download_free(d);
}

/* A query parameter's value (lws decodes it): 0, or -PL_EINVAL when absent or too long. */
static int url_arg(struct lws *wsi, const char *name, char *out, size_t cap)
{
    char buf[128];
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, sizeof buf);
    if (!v || strlen(v) >= cap) return -PL_EINVAL;
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

void pl_attach_download(pl_server_t *srv, pl_http_req_t *hr, struct lws *wsi, int64_t id)
{
    char token[128], exp[24];
    download_t *d = calloc(1, sizeof *d);
    if (!d) {
        pl_http_respond_err(hr, -PL_ENOMEM, NULL);
        return;
    }
    d->srv = srv;
    d->hr = hr;
    d->id = id;
    d->now = pl_now_ms();
    snprintf(d->ip, sizeof d->ip, "%s", pl_http_ip(hr));
    snprintf(d->user_agent, sizeof d->user_agent, "%s", pl_http_user_agent(hr));
    const char *end = NULL;
    int rc = 0;
    if (pl_http_token(wsi, token, sizeof token) < 0) {
        srv->metrics.auth_failures++;
        pl_http_respond_err(hr, -PL_EAUTH, "no session: sign in, then open the attachment again");
        download_free(d);
        return;
    }
    pl_token_hash(token, d->token_hash);
    pl_wipe(token, sizeof token);
    if (url_arg(wsi, "expires=", exp, sizeof exp) < 0 || (d->expires = parse_id(exp, &end)) == 0 ||
        *end || url_arg(wsi, "sig=", d->sig, sizeof d->sig) < 0) {
        srv->metrics.attach_links_refused++;
        pl_http_respond_err(hr, -PL_EPERM, link_bad);
        download_free(d);
        return;
    }
    if ((rc = pl_attach_link_key(srv->data_key, d->key)) == 0)
        rc = pl_worker_submit(srv->worker, &d->job, download_run, download_done);
    if (rc < 0) {
        pl_http_respond_err(hr, rc, NULL);
        download_free(d);
    }
}
