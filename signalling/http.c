/* The REST surface: GET /healthz, GET /metrics, POST /api/v1/login, POST /api/v1/logout,
 * POST /api/v1/join (a patient opening a video consultation link: consult_join.c), attachment
 * upload and download (attach.c), and the web app's static files. Everything else a client does
 * goes over the WebSocket.
 *
 * A request object outlives its socket when the answer needs the storage thread: it is
 * reference counted, and an answer for a client that has gone is dropped. Bodies are capped at
 * 16 KiB, and the whole request must arrive within http_timeout_s (slow senders are cut off).
 * An attachment upload is the one exception: its body grows as it arrives, up to 10 MiB, and it
 * gets more time in proportion to its size (attach.h). A download is written in pieces as the
 * socket drains, never queued whole. */
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/attach.h"
#include "signalling/record.h"
#include "signalling/bus.h"
#include "signalling/server_internal.h"
#include "storage/attach_sniff.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_MAX 16384
#define WRITE_CHUNK 16384 /* a download goes out this much per writeable callback */

struct pl_http_req {
    struct lws *wsi;
    pl_server_t *srv;
    int refs;
    char ip[64];
    char user_agent[PL_UA_MAX]; /* cut; for the audit trail */
    char path[256];
    bool post;
    uint64_t deadline_ns; /* the whole request must have arrived by then */
    char *body;
    size_t body_len, body_cap;
    size_t body_max; /* BODY_MAX, or PL_ATTACH_MAX_BYTES for an upload */
    bool body_too_big;
    pl_attach_up_t *upload; /* an attachment upload whose body is arriving */
    /* response, written on the next WRITEABLE */
    bool ready;
    bool answered; /* a response is decided: the body that follows is ignored */
    int status;
    int retry_after_s;
    unsigned char *resp; /* LWS_PRE headroom + body */
    size_t resp_len;
    const char *ctype; /* NULL: application/json */
    char cookie[512];  /* Set-Cookie values, '\n' between two */
    /* a download (pl_http_respond_bytes) instead of resp */
    uint8_t *bytes;
    size_t bytes_len, bytes_off;
    bool bytes_hdr_sent;
    char bytes_type[32];
    char *disposition; /* the Content-Disposition value */
};

typedef struct {
    pl_http_req_t *hr;
} http_pss_t;

size_t pl_http_pss_size(void)
{
    return sizeof(http_pss_t);
}

const char *pl_http_ip(const pl_http_req_t *hr)
{
    return hr->ip;
}

const char *pl_http_user_agent(const pl_http_req_t *hr)
{
    return hr->user_agent;
}

void pl_http_copy_user_agent(struct lws *wsi, char *out, size_t cap)
{
    out[0] = 0;
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_USER_AGENT);
    char *buf = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf) return;
    if (lws_hdr_copy(wsi, buf, n + 1, WSI_TOKEN_HTTP_USER_AGENT) > 0) {
        size_t len = strlen(buf);
        if (len >= cap) {
            len = cap - 1;
            while (len > 0 && ((unsigned char)buf[len] & 0xC0) == 0x80) len--;
        }
        memcpy(out, buf, len);
        out[len] = 0;
    }
    free(buf);
}

/* The request body is done with once an answer is decided: it may hold a password or a
 * patient's photo, so it is wiped, and an upload's place among those in flight is given back. */
static void drop_body(pl_http_req_t *hr)
{
    if (hr->body) pl_wipe(hr->body, hr->body_len);
    free(hr->body);
    hr->body = NULL;
    hr->body_len = hr->body_cap = 0;
    pl_attach_upload_free(hr->upload);
    hr->upload = NULL;
}

static void drop_bytes(pl_http_req_t *hr)
{
    if (hr->bytes) pl_wipe(hr->bytes, hr->bytes_len);
    free(hr->bytes);
    hr->bytes = NULL;
    free(hr->disposition);
    hr->disposition = NULL;
}

static void hr_release(pl_http_req_t *hr)
{
    if (--hr->refs > 0) return;
    drop_body(hr);
    drop_bytes(hr);
    free(hr->resp);
    pl_wipe(hr->cookie, sizeof hr->cookie);
    free(hr);
}

void pl_http_hold(pl_http_req_t *hr)
{
    hr->refs++;
}

void pl_http_release(pl_http_req_t *hr)
{
    hr_release(hr);
}

void pl_http_respond(pl_http_req_t *hr, int status, json_t *body, const char *set_cookie)
{
    if (hr->answered) {
        /* Two pieces of work raced to answer (an upload's early refusal and its final check):
         * the first answer stands. */
        json_decref(body);
        hr_release(hr);
        return;
    }
    drop_body(hr);
    char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    size_t n = txt ? strlen(txt) : 0;
    free(hr->resp);
    hr->resp = malloc(LWS_PRE + n + 1);
    if (hr->resp && txt) memcpy(hr->resp + LWS_PRE, txt, n);
    free(txt);
    hr->resp_len = hr->resp ? n : 0;
    hr->status = hr->resp ? status : 500;
    snprintf(hr->cookie, sizeof hr->cookie, "%s", set_cookie ? set_cookie : "");
    hr->ready = true;
    hr->answered = true;
    if (hr->wsi) lws_callback_on_writable(hr->wsi);
    hr_release(hr); /* the hold taken when the request went async */
}

void pl_http_set_retry_after(pl_http_req_t *hr, int seconds)
{
    hr->retry_after_s = seconds;
}

void pl_http_respond_err(pl_http_req_t *hr, int err, const char *message)
{
    pl_http_respond(hr, pl_err_http_status(err),
                    json_pack("{s{ss ss}}", "error", "code", pl_err_code(err), "message",
                              message ? message : pl_strerror(err)),
                    NULL);
}

/* "attachment; filename*=UTF-8''<name>" with every byte outside RFC 5987's attr-char
 * percent-encoded, so no quote, semicolon, CR or LF of a name can reach the header. */
static char *content_disposition(const char *name)
{
    static const char head[] = "attachment; filename*=UTF-8''", hex[] = "0123456789ABCDEF";
    size_t n = strlen(name);
    char *out = malloc(sizeof head + 3 * n);
    if (!out) return NULL;
    char *o = out + (sizeof head - 1);
    memcpy(out, head, sizeof head - 1);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = 0;
    return out;
}

void pl_http_respond_bytes(pl_http_req_t *hr, const char *content_type, uint8_t *data,
                           size_t len, const char *filename)
{
    if (hr->answered) {
        pl_wipe(data, len);
        free(data);
        hr_release(hr);
        return;
    }
    drop_body(hr);
    drop_bytes(hr);
    hr->bytes = data;
    hr->bytes_len = len;
    hr->bytes_off = 0;
    hr->bytes_hdr_sent = false;
    snprintf(hr->bytes_type, sizeof hr->bytes_type, "%s", content_type);
    hr->disposition = content_disposition(filename);
    if (!hr->disposition) {
        drop_bytes(hr);
        pl_http_respond_err(hr, -PL_ENOMEM, NULL); /* releases the hold */
        return;
    }
    hr->status = 200;
    hr->ready = true;
    hr->answered = true;
    if (hr->wsi) lws_callback_on_writable(hr->wsi);
    hr_release(hr);
}

static int add_hdr(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                   unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* Headers every response carries: see docs/SECURITY notes in PROTOCOL.md. */
static int security_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    return add_hdr(wsi, "strict-transport-security:", "max-age=63072000; includeSubDomains", p,
                   end) ||
           add_hdr(wsi, "x-content-type-options:", "nosniff", p, end) ||
           add_hdr(wsi, "referrer-policy:", "no-referrer", p, end) ||
           add_hdr(wsi, "content-security-policy:",
                   "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                   "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                   "frame-ancestors 'none'",
                   p, end) ||
           add_hdr(wsi, "x-frame-options:", "DENY", p, end);
}

static int write_response(pl_http_req_t *hr)
{
    struct lws *wsi = hr->wsi;
    unsigned char hdr[LWS_PRE + 2048], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)hr->status,
                                    hr->ctype ? hr->ctype : "application/json", hr->resp_len, &p,
                                    end) ||
        security_headers(wsi, &p, end) || add_hdr(wsi, "cache-control:", "no-store", &p, end))
        return -1;
    for (char *ck = hr->cookie; *ck;) {
        char *nl = strchr(ck, '\n');
        if (nl) *nl = 0;
        if (add_hdr(wsi, "set-cookie:", ck, &p, end)) return -1;
        ck = nl ? nl + 1 : ck + strlen(ck);
    }
    if (hr->status == 429) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", hr->retry_after_s > 0 ? hr->retry_after_s : 1);
        if (add_hdr(wsi, "retry-after:", ra, &p, end)) return -1;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    if (hr->resp_len &&
        lws_write(wsi, hr->resp + LWS_PRE, hr->resp_len, LWS_WRITE_HTTP_FINAL) < (int)hr->resp_len)
        return -1;
    hr->srv->metrics.http_requests++;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A download: the headers in one writeable callback, then WRITE_CHUNK bytes in each of the
 * next, each piece copied into a buffer with the headroom lws wants and wiped after. */
static int write_bytes(pl_http_req_t *hr)
{
    struct lws *wsi = hr->wsi;
    if (!hr->bytes_hdr_sent) {
        unsigned char hdr[LWS_PRE + 4096], *start = hdr + LWS_PRE, *p = start,
                                           *end = hdr + sizeof hdr - 1;
        /* The file is the patient's: never cached, never rendered in our origin (sandbox), never
         * sniffed into something else, always saved rather than shown inline. */
        if (lws_add_http_common_headers(wsi, 200, hr->bytes_type, hr->bytes_len, &p, end) ||
            add_hdr(wsi, "strict-transport-security:", "max-age=63072000; includeSubDomains", &p,
                    end) ||
            add_hdr(wsi, "x-content-type-options:", "nosniff", &p, end) ||
            add_hdr(wsi, "referrer-policy:", "no-referrer", &p, end) ||
            add_hdr(wsi, "content-security-policy:",
                    "sandbox; default-src 'none'; frame-ancestors 'none'", &p, end) ||
            add_hdr(wsi, "x-frame-options:", "DENY", &p, end) ||
            add_hdr(wsi, "cache-control:", "private, no-store", &p, end) ||
            add_hdr(wsi, "content-disposition:", hr->disposition, &p, end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        hr->bytes_hdr_sent = true;
        hr->ready = true; /* one write per writeable callback: the body from the next */
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (hr->bytes_off < hr->bytes_len) {
        unsigned char buf[LWS_PRE + WRITE_CHUNK];
        size_t n = hr->bytes_len - hr->bytes_off;
        if (n > WRITE_CHUNK) n = WRITE_CHUNK;
        bool last = hr->bytes_off + n == hr->bytes_len;
        memcpy(buf + LWS_PRE, hr->bytes + hr->bytes_off, n);
        int w = lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
        pl_wipe(buf + LWS_PRE, n);
        if (w < (int)n) return -1;
        hr->bytes_off += n;
        if (!last) {
            hr->ready = true;
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    drop_bytes(hr);
    hr->srv->metrics.http_requests++;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void respond_err_now(pl_http_req_t *hr, int err, const char *msg)
{
    hr->refs++;
    pl_http_respond_err(hr, err, msg);
}

/* The value of cookie `name` from the request's Cookie header: 0, or -PL_ENOTFOUND. */
static int cookie_value(struct lws *wsi, const char *name, char *out, size_t cap)
{
    char buf[4096]; /* a whole header: cookies from other apps on the host can be long */
    size_t nlen = strlen(name);
    int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_COOKIE);
    int rc = -PL_ENOTFOUND;
    for (char *s = n > 0 ? buf : NULL; s && *s;) {
        while (*s == ' ' || *s == ';') s++;
        char *e = strchr(s, ';');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len > nlen && strncmp(s, name, nlen) == 0 && s[nlen] == '=') {
            size_t vl = len - nlen - 1;
            if (vl > 0 && vl < cap) {
                memcpy(out, s + nlen + 1, vl);
                out[vl] = 0;
                rc = 0;
            }
            break;
        }
        s = e;
    }
    pl_wipe(buf, sizeof buf);
    return rc;
}

int pl_http_token(struct lws *wsi, char *out, size_t cap)
{
    char buf[4096];
    if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        strncasecmp(buf, "Bearer ", 7) == 0) {
        size_t n = strlen(buf + 7);
        int rc = n == 0 || n >= cap ? -PL_EAUTH : 0;
        if (rc == 0) memcpy(out, buf + 7, n + 1);
        pl_wipe(buf, sizeof buf);
        return rc;
    }
    pl_wipe(buf, sizeof buf);
    return cookie_value(wsi, PL_SESSION_COOKIE, out, cap) == 0 ? 0 : -PL_EAUTH;
}

int pl_http_cookie(pl_http_req_t *hr, const char *name, char *out, size_t cap)
{
    if (!hr->wsi) return -PL_ENOTFOUND;
    return cookie_value(hr->wsi, name, out, cap);
}

/* A browser on another site must not be able to drive our API with the user's cookie: state
 * changes need a JSON content type (a cross-site form cannot send one without a preflight we
 * never grant) and, when the browser says where it comes from, the same origin. */
static int csrf_ok(struct lws *wsi)
{
    char ctype[128], origin[256], host[256], want[300];
    if (lws_hdr_copy(wsi, ctype, sizeof ctype, WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0 ||
        strncasecmp(ctype, "application/json", 16) != 0)
        return 0;
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0) {
        if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0) return 0;
        snprintf(want, sizeof want, "https://%s", host);
        if (strcmp(origin, want) != 0) return 0;
    }
    return 1;
}

/* ---- health ---- */

typedef struct {
    pl_job_t job;
    pl_http_req_t *hr;
    pl_server_t *srv;
} health_t;

static int health_run(pl_store_t *st, pl_job_t *job)
{
    return pl_store_health(st);
}

static void health_done(pl_job_t *job, int status)
{
    health_t *h = (health_t *)job;
    h->srv->store_ok = status == 0;
    json_t *body = json_pack("{ss ss sI si}", "status", status == 0 ? "ok" : "degraded", "store",
                             status == 0 ? "ok" : pl_err_code(status), "connections",
                             (json_int_t)h->srv->metrics.connections, "store_queue",
                             pl_worker_pending(h->srv->worker));
    /* A node of a cluster also says who it is and whether it hears the others. Without the bus
     * it still serves (live events from other nodes come by the one-second poll), so it stays
     * "ok" for the load balancer. */
    if (body && h->srv->cluster)
        json_object_set_new(body, "cluster",
                            json_pack("{ss ss}", "node", pl_cluster_node(h->srv), "bus",
                                      pl_bus_up(pl_cluster_bus(h->srv)) ? "ok" : "down"));
    pl_http_respond(h->hr, status == 0 ? 200 : 503, body, NULL);
    free(h);
}

static void route_health(pl_http_req_t *hr)
{
    health_t *h = calloc(1, sizeof *h);
    if (!h) {
        respond_err_now(hr, -PL_ENOMEM, NULL);
        return;
    }
    h->hr = hr;
    h->srv = hr->srv;
    hr->refs++;
    if (pl_worker_submit(hr->srv->worker, &h->job, health_run, health_done) < 0) {
        free(h);
        pl_http_respond_err(hr, -PL_EUNAVAIL, "shutting down");
    }
}

/* ---- static files ---- */

static const char *mime_for(const char *path)
{
    const char *dot = strrchr(path, '.');
    static const struct {
        const char *ext, *mime;
    } m[] = {{".html", "text/html; charset=utf-8"}, {".js", "text/javascript"},
             {".css", "text/css"},                  {".svg", "image/svg+xml"},
             {".png", "image/png"},                 {".ico", "image/x-icon"},
             {".woff2", "font/woff2"},              {".json", "application/json"}};
    for (size_t i = 0; dot && i < sizeof m / sizeof m[0]; i++)
        if (strcmp(dot, m[i].ext) == 0) return m[i].mime;
    return NULL;
}

/* Serves a file from the web root, or index.html for a route of the web app. Returns 0 when
 * lws has taken over the response, 1 when the caller should answer 404, -1 on failure. */
static int serve_static(pl_http_req_t *hr)
{
    const char *path = hr->path;
    if (path[0] != '/') return 1; /* lws always gives "/..."; the check below reads p[-1] */
    /* Only plain names: no "..", no hidden files, no odd bytes. */
    for (const char *p = path; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '/' || ch == '-' || ch == '_' || (ch == '.' && p[-1] != '/' && p[-1] != '.');
        if (!ok) return 1;
    }
    /* The web app routes paths such as /practice/inbox in the browser: a last segment without
     * an extension names a route, not a file, so it gets the app's one page (this covers "/").
     * Files keep their extension and the rules below. */
    if (!strchr(strrchr(path, '/'), '.')) path = "/index.html";
    const char *mime = mime_for(path);
    if (!mime) return 1;
    char file[1024];
    snprintf(file, sizeof file, "%s%s", hr->srv->cfg->web_root, path);
    unsigned char extra[1024], *p = extra, *end = extra + sizeof extra;
    if (security_headers(hr->wsi, &p, end)) return -1;
    int rc = lws_serve_http_file(hr->wsi, file, mime, (const char *)extra, (int)(p - extra));
    if (rc < 0) return -1;
    hr->srv->metrics.http_requests++;
    return rc > 0 ? 1 : 0;
}

/* ---- dispatch ---- */

/* The body of an upload is complete: attach.c takes it (and the upload) from here. */
static void route_upload(pl_http_req_t *hr)
{
    if (hr->answered) return; /* refused early: no session, no right, or too large */
    pl_attach_up_t *up = hr->upload;
    uint8_t *body = (uint8_t *)hr->body;
    size_t len = hr->body_len;
    hr->upload = NULL;
    hr->body = NULL;
    hr->body_len = hr->body_cap = 0;
    hr->refs++; /* released by the answer */
    pl_attach_upload_finish(up, body, len);
}

static void route_body(pl_http_req_t *hr)
{
    pl_server_t *srv = hr->srv;
    if (hr->upload) {
        route_upload(hr);
        return;
    }
    if (hr->answered) return; /* refused before its body arrived (CSRF, shutting down) */
    if (hr->body_too_big) {
        srv->metrics.bad_input++;
        respond_err_now(hr, -PL_ETOOBIG, "request body over 16 KiB");
        return;
    }
    json_error_t jerr;
    json_t *body = hr->body_len ? json_loadb(hr->body, hr->body_len, JSON_REJECT_DUPLICATES, &jerr)
                                : json_object();
    if (!json_is_object(body)) {
        srv->metrics.bad_input++;
        json_decref(body);
        respond_err_now(hr, -PL_EINVAL, "body must be a JSON object");
        return;
    }
    hr->refs++; /* released by pl_http_respond */
    if (strcmp(hr->path, "/api/v1/login") == 0) {
        pl_auth_login(srv, hr, body);
    } else if (strcmp(hr->path, "/api/v1/join") == 0) {
        pl_consult_join(srv, hr, body);
    } else {
        char token[128];
        if (pl_http_token(hr->wsi, token, sizeof token) < 0) {
            srv->metrics.auth_failures++;
            pl_http_respond_err(hr, -PL_EAUTH, "no session");
        } else {
            pl_auth_logout(srv, hr, token);
        }
        pl_wipe(token, sizeof token);
    }
    json_decref(body);
}

static int on_http(struct lws *wsi, http_pss_t *pss, const char *uri)
{
    pl_server_t *srv = lws_context_user(lws_get_context(wsi));
    if (pss->hr) {
        pss->hr->wsi = NULL;
        hr_release(pss->hr);
    }
    pl_http_req_t *hr = calloc(1, sizeof *hr);
    if (!hr) return -1;
    pss->hr = hr;
    hr->wsi = wsi;
    hr->srv = srv;
    hr->refs = 1;
    lws_get_peer_simple(wsi, hr->ip, sizeof hr->ip);
    pl_http_copy_user_agent(wsi, hr->user_agent, sizeof hr->user_agent);
    snprintf(hr->path, sizeof hr->path, "%s", uri);
    hr->post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    hr->deadline_ns = pl_mono_ns() + (uint64_t)srv->cfg->http_timeout_s * 1000000000ull;
    hr->body_max = BODY_MAX;
    bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    if (srv->shutting_down) {
        respond_err_now(hr, -PL_EUNAVAIL, "shutting down");
        return 0;
    }
    if (get && strcmp(uri, "/healthz") == 0) {
        route_health(hr);
        return 0;
    }
    if (get && strcmp(uri, "/metrics") == 0) {
        size_t n = 0, mn = 0;
        char *txt = pl_metrics_render(&srv->metrics, &n);
        char *media = pl_call_metrics(srv, &mn);
        if (!txt) {
            free(media);
            respond_err_now(hr, -PL_ENOMEM, NULL);
            return 0;
        }
        hr->resp = malloc(LWS_PRE + n + mn);
        if (!hr->resp) {
            free(txt);
            free(media);
            respond_err_now(hr, -PL_ENOMEM, NULL);
            return 0;
        }
        memcpy(hr->resp + LWS_PRE, txt, n);
        if (media) memcpy(hr->resp + LWS_PRE + n, media, mn);
        free(txt);
        free(media);
        hr->resp_len = n + mn;
        hr->status = 200;
        hr->ctype = "text/plain; version=0.0.4";
        hr->ready = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (hr->post && (strcmp(uri, "/api/v1/login") == 0 || strcmp(uri, "/api/v1/logout") == 0 ||
                     strcmp(uri, "/api/v1/join") == 0)) {
        if (!csrf_ok(wsi)) {
            srv->metrics.bad_input++;
            respond_err_now(hr, -PL_EPERM, "requests must be JSON from this site");
            return 0;
        }
        /* The body has the rest of the request time budget to arrive. */
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, srv->cfg->http_timeout_s);
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) route_body(hr);
        return 0;
    }
    int64_t conv_id = hr->post ? pl_attach_upload_path(uri) : 0;
    if (conv_id > 0) {
        const char *msg = NULL;
        size_t clen = 0;
        int rc = pl_attach_upload_begin(srv, hr, wsi, conv_id, &hr->upload, &clen, &msg);
        if (rc < 0) {
            respond_err_now(hr, rc, msg);
            return 0;
        }
        /* A file takes longer to send than a form: time in proportion to its size. */
        uint64_t secs = (uint64_t)srv->cfg->http_timeout_s + clen / PL_ATTACH_MIN_RATE;
        hr->deadline_ns = pl_mono_ns() + secs * 1000000000ull;
        hr->body_max = PL_ATTACH_MAX_BYTES;
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int)secs);
        return 0;
    }
    int64_t patient_id = get ? pl_record_fhir_path(uri) : 0;
    if (patient_id > 0) {
        hr->refs++; /* released by the answer */
        pl_record_fhir_http(srv, hr, wsi, patient_id);
        return 0;
    }
    int64_t att_id = get ? pl_attach_download_path(uri) : 0;
    if (att_id > 0) {
        hr->refs++; /* released by the answer */
        pl_attach_download(srv, hr, wsi, att_id);
        return 0;
    }
    /* "/api" itself is API namespace too: it must not fall back to the web app's page. */
    if (get && strncmp(uri, "/api/", 5) != 0 && strcmp(uri, "/api") != 0) {
        int rc = serve_static(hr);
        if (rc <= 0) return rc;
    }
    respond_err_now(hr, -PL_ENOTFOUND, "no such endpoint");
    return 0;
}

int pl_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    http_pss_t *pss = user;
    pl_http_req_t *hr = pss ? pss->hr : NULL;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, pss, (const char *)in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* An upgrade that names no subprotocol lands on this HTTP protocol: refuse it. */
        return 1;
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        /* lws's one hook onto the server SSL_CTX (user). Idle connections are most of them:
         * let OpenSSL free each one's 16 KiB+ record buffers between reads and writes. */
        SSL_CTX_set_mode((SSL_CTX *)user, SSL_MODE_RELEASE_BUFFERS);
        return 0;
    case LWS_CALLBACK_HTTP_BODY:
        if (!hr) return -1;
        if (hr->answered) return 0;
        /* lws re-arms its timeout on every byte, so a sender dribbling one byte at a time would
         * hold the connection for ever: enforce one deadline for the whole request. */
        if (pl_mono_ns() > hr->deadline_ns) {
            hr->srv->metrics.bad_input++;
            pl_log_info("http", "request body too slow; closing");
            return -1;
        }
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                        (int)((hr->deadline_ns - pl_mono_ns()) / 1000000000ull) + 1);
        if (hr->body_len + len > hr->body_max) {
            hr->body_too_big = true;
            if (hr->upload) {
                /* More than Content-Length said, or it lied: refuse now, not at the end. */
                pl_attach_count_too_large(hr->srv);
                respond_err_now(hr, -PL_ETOOBIG, "an attachment may be at most 10 MiB");
            }
            return 0;
        }
        if (len == 0) return 0; /* lws reports "Content-Length: 0" as one empty chunk */
        if (hr->body_len + len > hr->body_cap) {
            /* Grows as bytes arrive (doubling, from 64 KiB), so a Content-Length that promises
             * 10 MiB costs nothing until the bytes are sent. */
            size_t cap = hr->body_cap ? hr->body_cap : 65536;
            while (cap < hr->body_len + len) cap *= 2;
            if (cap > hr->body_max) cap = hr->body_max;
            char *nb = malloc(cap);
            if (!nb) return -1;
            if (hr->body_len) memcpy(nb, hr->body, hr->body_len);
            if (hr->body) pl_wipe(hr->body, hr->body_len);
            free(hr->body);
            hr->body = nb;
            hr->body_cap = cap;
        }
        memcpy(hr->body + hr->body_len, in, len);
        hr->body_len += len;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!hr) return -1;
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        route_body(hr);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!hr || !hr->ready) return 0;
        hr->ready = false;
        return hr->bytes ? write_bytes(hr) : write_response(hr);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (hr) {
            hr->wsi = NULL;
            pss->hr = NULL;
            hr_release(hr);
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
