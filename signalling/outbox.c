/* Write-back of filed transcripts to the record system (docs/PROTOCOL.md section 13.4): the
 * sender that empties the outbox filing fills. record.outbox, which tells the practice how its
 * write-back stands, is in outbox_status.c.
 *
 * The outbox is the truth (storage/store_sqlite_transcript.c): this file keeps nothing that a
 * restart would miss. A pass reads a few due entries on the storage thread, POSTs each Bundle in
 * turn to <record_fhir_url>/Bundle with libwebsockets' HTTP client on the loop, and records each
 * outcome in the store before it starts the next. One request is in flight at a time: filings
 * are a few a minute, and one at a time means an entry is never sent twice at once.
 *
 * Exactly once, in effect: the POST is a conditional create (If-None-Exist on the Bundle's
 * identifier urn:parley:filing|<id>), so a Bundle delivered but not recorded as sent (the
 * server died in between, or the reply was lost) is sent again and the receiver keeps one.
 *
 * Outcomes: 2xx is sent. A 4xx that says the Bundle itself was refused (400, 409, 422...) is
 * dead at once: sending it again cannot help. 401/403/404/405 mean our credentials or the URL
 * are wrong, so they are retried, and fixing the configuration resumes delivery; 408, 429, 5xx,
 * refused connections and timeouts are retried too. A retry waits record_retry_base_s * 2^(n-1)
 * seconds, at most an hour, with jitter; the record_max_attempts-th failure is dead.
 *
 * Name lookup runs on the libuv thread pool (uv_getaddrinfo): this libwebsockets build has no
 * asynchronous DNS, and its own lookup would block the loop. TLS uses an SSL_CTX made here,
 * handed to a client-only vhost, so the trust store and the client certificate are checked at
 * start-up and a bad file stops the server rather than every delivery.
 *
 * Logs and last_error say how many, which filing and what went wrong; never Bundle content and
 * never the token. */
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASS_MS 2000              /* how often the outbox is looked at when nothing kicks it */
#define BATCH 4                   /* due entries read per pass */
#define REQUEST_TIMEOUT_MS 30000  /* connect, send and answer, all told */
#define BACKOFF_MAX_MS 3600000LL  /* the longest wait between two tries */
#define TOKEN_MAX 8192            /* a bearer token (a JWT is a few KiB at most) */
#define CHUNK 16384               /* request body bytes written per writeable callback */
#define PROTOCOL_NAME "parley-outbox"

typedef struct {
    int64_t id, filing_id;
    int attempts;
    char *body; /* the Bundle, compact JSON; wiped when freed */
    size_t len;
    char ident[200]; /* If-None-Exist value: identifier=<system>|<value>, percent-encoded */
} entry_t;

struct pl_outbox {
    pl_server_t *srv;
    pl_url_t url;
    char target[300];   /* url.path + "/Bundle" */
    char host_hdr[300]; /* Host: name, with :port unless the default */
    char *auth;         /* "Bearer <token>", or NULL; wiped when freed */
    size_t auth_len;
    SSL_CTX *ssl_ctx;
    struct lws_vhost *vhost;
    uv_timer_t pass_timer, deadline;
    bool stopping;
    bool busy;  /* a pass is under way: a job on the storage thread or a request */
    bool again; /* kicked during the pass: look again as soon as it ends */
    entry_t batch[BATCH];
    int n, cur;
    int recorded;    /* results this pass stored */
    int64_t soonest; /* ms: the earliest retry this pass scheduled (0: none) */
    /* the request in flight */
    bool attempt;  /* resolving, connecting, sending or waiting for the answer */
    uintptr_t gen; /* which attempt: callbacks of an earlier one are ignored */
    struct lws *wsi;
    int status;
    size_t sent;
    char addr[INET6_ADDRSTRLEN];
    unsigned char chunk[LWS_PRE + CHUNK];
};

static void pass_begin(pl_outbox_t *s);
static void attempt_start(pl_outbox_t *s);

static void entry_clear(entry_t *e)
{
    if (e->body) {
        pl_wipe(e->body, e->len);
        free(e->body);
    }
    memset(e, 0, sizeof *e);
}

/* ---- start-up: the token, the TLS context ---- */

/* Reads the bearer token: the first line, trailing whitespace cut. The file must not be
 * readable by group or others, as turn_secret_file. 0, -PL_EIO, -PL_EPERM (mode), -PL_EINVAL
 * (empty, too long, or characters a header may not carry). *out is malloc'd "Bearer <token>". */
static int load_token(const char *path, char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -PL_EIO;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return -PL_EIO;
    }
    if (sb.st_mode & 077) {
        close(fd);
        return -PL_EPERM;
    }
    char *buf = malloc(TOKEN_MAX + 8);
    if (!buf) {
        close(fd);
        return -PL_ENOMEM;
    }
    memcpy(buf, "Bearer ", 7);
    ssize_t n = read(fd, buf + 7, TOKEN_MAX + 1);
    close(fd);
    int rc = 0;
    size_t len = n > 0 ? (size_t)n : 0;
    if (n < 0) rc = -PL_EIO;
    len = strcspn(buf + 7, "\r\n") < len ? strcspn(buf + 7, "\r\n") : len;
    while (len > 0 && (buf[7 + len - 1] == ' ' || buf[7 + len - 1] == '\t')) len--;
    if (rc == 0 && (len == 0 || len > TOKEN_MAX)) rc = -PL_EINVAL;
    for (size_t i = 0; rc == 0 && i < len; i++) /* visible ASCII only: no header injection */
        if ((unsigned char)buf[7 + i] <= 0x20 || (unsigned char)buf[7 + i] >= 0x7f)
            rc = -PL_EINVAL;
    if (rc < 0) {
        pl_wipe(buf, TOKEN_MAX + 8);
        free(buf);
        return rc;
    }
    buf[7 + len] = 0;
    *out = buf;
    *out_len = 7 + len;
    return 0;
}

/* The file exists and group and others cannot read it (a private key). */
static int check_private(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return -PL_EIO;
    return sb.st_mode & 077 ? -PL_EPERM : 0;
}

static int make_ssl_ctx(const pl_config_t *cfg, SSL_CTX **out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return -PL_ENOMEM;
    const char *what = NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (cfg->record_ca_file[0]) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->record_ca_file, NULL) != 1)
            what = "record_ca_file: no CA certificates could be read from it";
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        what = "the system's CA store could not be read";
    }
    if (!what && cfg->record_client_cert_file[0]) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->record_client_cert_file) != 1)
            what = "record_client_cert_file: no PEM certificate could be read from it";
        else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->record_client_key_file, SSL_FILETYPE_PEM) !=
                 1)
            what = "record_client_key_file: no PEM private key could be read from it";
        else if (SSL_CTX_check_private_key(ctx) != 1)
            what = "record_client_key_file does not match record_client_cert_file";
    }
    ERR_clear_error();
    if (what) {
        pl_log_error("outbox", "%s", what);
        SSL_CTX_free(ctx);
        return -PL_EINVAL;
    }
    *out = ctx;
    return 0;
}

/* Percent-encodes src into dst for a query value, keeping unreserved characters and ':' '/'.
 * false if it does not fit. */
static bool query_encode(const char *src, char *dst, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
        bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~:/", *p);
        if (n + (keep ? 1 : 3) >= cap) return false;
        if (keep) {
            dst[n++] = (char)*p;
        } else {
            dst[n++] = '%';
            dst[n++] = hex[*p >> 4];
            dst[n++] = hex[*p & 15];
        }
    }
    dst[n] = 0;
    return true;
}

/* ---- the record system's answer: what becomes of the entry ---- */

/* A 4xx that refuses the Bundle itself, so that sending it again cannot help. 401 and 403 (our
 * credentials), 404 and 405 (the URL) are configuration, which someone can fix; 408 and 429 ask
 * us to come back later. */
static bool refused_for_good(int status)
{
    if (status < 400 || status > 499) return false;
    return status != 401 && status != 403 && status != 404 && status != 405 && status != 408 &&
           status != 429;
}

/* How long to wait before try number tries + 1: base * 2^(tries-1), at most an hour, then a
 * random point in its second half, so that entries failed together do not retry together. */
static int64_t backoff_ms(const pl_config_t *cfg, int tries)
{
    int64_t d = (int64_t)cfg->record_retry_base_s * 1000;
    for (int i = 1; i < tries && d < BACKOFF_MAX_MS; i++) d *= 2;
    if (d > BACKOFF_MAX_MS) d = BACKOFF_MAX_MS;
    uint32_t r = 0;
    pl_random_bytes((uint8_t *)&r, sizeof r);
    return d - (int64_t)(r % (uint32_t)(d / 2 + 1));
}

typedef struct {
    pl_job_t job;
    pl_outbox_t *s;
    int64_t id, filing_id, next_at, now;
    int attempts;
    char status[8];
    char error[128];
} result_job_t;

static int result_run(pl_store_t *st, pl_job_t *job)
{
    result_job_t *j = (result_job_t *)job;
    return pl_store_outbox_result(st, j->id, j->status, j->attempts, j->next_at,
                                  j->error[0] ? j->error : NULL, j->now);
}

static void pass_schedule(pl_outbox_t *s, uint64_t ms);

static void pass_end(pl_outbox_t *s)
{
    for (int i = 0; i < s->n; i++) entry_clear(&s->batch[i]);
    bool full = s->n == BATCH && s->recorded > 0;
    s->n = s->cur = 0;
    s->busy = false;
    if (s->stopping) return;
    /* More may be due already: a full batch, or a kick during the pass. */
    if (full || s->again) {
        pass_schedule(s, 0);
        return;
    }
    int64_t wait = PASS_MS, now = pl_now_ms();
    if (s->soonest && s->soonest - now < wait) wait = s->soonest > now ? s->soonest - now : 0;
    pass_schedule(s, (uint64_t)wait);
}

static void result_done(pl_job_t *job, int status)
{
    result_job_t *j = (result_job_t *)job;
    pl_outbox_t *s = j->s;
    if (status == 0) {
        s->recorded++;
        if (!strcmp(j->status, "sent")) s->srv->metrics.outbox_sent++;
        if (!strcmp(j->status, "dead")) s->srv->metrics.outbox_dead++;
    } else if (status == -PL_ECONFLICT) {
        pl_log_debug("outbox", "filing %lld: no longer pending", (long long)j->filing_id);
    } else {
        /* Still pending in the store: it is tried again, and the receiver keeps one copy. */
        pl_log_warn("outbox", "filing %lld: could not record the delivery's outcome: %s",
                    (long long)j->filing_id, pl_strerror(status));
    }
    free(j);
    s->cur++;
    if (!s->stopping && s->cur < s->n)
        attempt_start(s);
    else
        pass_end(s);
}

/* The attempt is over: http_status the answer (0 if none came), err what went wrong otherwise.
 * Records the outcome through the storage thread; the next entry goes once it is stored. */
static void attempt_finish(pl_outbox_t *s, int http_status, const char *err)
{
    if (!s->attempt) return;
    s->attempt = false;
    s->gen++;
    uv_timer_stop(&s->deadline);
    if (s->wsi) { /* done with it, whatever state it is in */
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        s->wsi = NULL;
    }
    if (s->stopping) {
        pass_end(s);
        return;
    }
    entry_t *e = &s->batch[s->cur];
    const pl_config_t *cfg = s->srv->cfg;
    int64_t now = pl_now_ms();
    result_job_t *j = calloc(1, sizeof *j);
    if (!j) { /* still pending in the store: the next pass tries again */
        s->cur++;
        if (s->cur < s->n) attempt_start(s);
        else pass_end(s);
        return;
    }
    j->s = s;
    j->id = e->id;
    j->filing_id = e->filing_id;
    j->now = j->next_at = now;
    j->attempts = e->attempts + 1;
    if (http_status >= 200 && http_status <= 299) {
        snprintf(j->status, sizeof j->status, "sent");
        pl_log_info("outbox", "filing %lld delivered to the record system (HTTP %d, try %d)",
                    (long long)e->filing_id, http_status, j->attempts);
    } else {
        s->srv->metrics.outbox_failed_attempts++;
        if (http_status > 0)
            snprintf(j->error, sizeof j->error, "HTTP %d%s", http_status,
                     refused_for_good(http_status) ? ": the record system refused the Bundle"
                     : http_status == 401 || http_status == 403
                         ? ": the record system refused our credentials"
                         : "");
        else
            snprintf(j->error, sizeof j->error, "%s", err ? err : "connection failed");
        if (refused_for_good(http_status) || j->attempts >= cfg->record_max_attempts) {
            snprintf(j->status, sizeof j->status, "dead");
            pl_log_error("outbox",
                         "filing %lld could not be delivered to the record system after %d "
                         "tr%s (%s): given up",
                         (long long)e->filing_id, j->attempts, j->attempts == 1 ? "y" : "ies",
                         j->error);
        } else {
            snprintf(j->status, sizeof j->status, "pending");
            j->next_at = now + backoff_ms(cfg, j->attempts);
            if (!s->soonest || j->next_at < s->soonest) s->soonest = j->next_at;
            pl_log_warn("outbox", "filing %lld: delivery failed (%s, try %d of %d); next in %llds",
                        (long long)e->filing_id, j->error, j->attempts, cfg->record_max_attempts,
                        (long long)((j->next_at - now + 999) / 1000));
        }
    }
    if (pl_worker_submit(s->srv->worker, &j->job, result_run, result_done) < 0) {
        free(j);
        pass_end(s); /* shutting down: the store still says pending */
    }
}

/* ---- the HTTP request ---- */

static pl_outbox_t *outbox_of(struct lws *wsi)
{
    pl_server_t *srv = lws_context_user(lws_get_context(wsi));
    return srv ? srv->outbox : NULL;
}

/* Whether wsi is the current attempt's connection. */
static bool is_current(pl_outbox_t *s, struct lws *wsi)
{
    return s && s->attempt && (uintptr_t)lws_get_opaque_user_data(wsi) == s->gen;
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    pl_outbox_t *s = outbox_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (is_current(s, wsi)) {
            char err[96];
            /* lws's reason ("connect failed", a TLS verify error) is about the connection,
             * never the Bundle; cut it short. */
            snprintf(err, sizeof err, "connection failed: %.70s", in ? (const char *)in : "-");
            err[strcspn(err, "\r\n")] = 0;
            s->wsi = NULL; /* lws closes it */
            attempt_finish(s, 0, err);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (!is_current(s, wsi)) return -1;
        s->wsi = wsi;
        entry_t *e = &s->batch[s->cur];
        unsigned char **p = (unsigned char **)in, *end = *p + len;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"content-type:",
                                        (const unsigned char *)"application/fhir+json", 21, p,
                                        end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"accept:",
                                        (const unsigned char *)"application/fhir+json", 21, p,
                                        end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"prefer:",
                                        (const unsigned char *)"return=minimal", 14, p, end) ||
            lws_add_http_header_content_length(wsi, e->len, p, end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"if-none-exist:",
                                        (const unsigned char *)e->ident, (int)strlen(e->ident),
                                        p, end))
            return -1;
        if (s->auth && lws_add_http_header_by_name(wsi, (const unsigned char *)"authorization:",
                                                   (const unsigned char *)s->auth,
                                                   (int)s->auth_len, p, end))
            return -1;
        s->sent = 0;
        lws_client_http_body_pending(wsi, 1);
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
        if (!is_current(s, wsi)) return -1;
        entry_t *e = &s->batch[s->cur];
        if (s->sent >= e->len) return 0;
        size_t n = e->len - s->sent < CHUNK ? e->len - s->sent : CHUNK;
        bool last = s->sent + n == e->len;
        memcpy(s->chunk + LWS_PRE, e->body + s->sent, n);
        int w = lws_write(wsi, s->chunk + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
        pl_wipe(s->chunk + LWS_PRE, n);
        if (w < 0) return -1;
        s->sent += n;
        if (last)
            lws_client_http_body_pending(wsi, 0);
        else
            lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        if (is_current(s, wsi)) s->status = (int)lws_http_client_http_response(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        /* The answer's body is not needed (Prefer: return=minimal), but it must be drained. */
        char buf[LWS_PRE + 1024], *px = buf + LWS_PRE;
        int lenx = (int)sizeof buf - LWS_PRE;
        return lws_http_client_read(wsi, &px, &lenx) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        return 0;
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        if (is_current(s, wsi)) {
            int st = (int)lws_http_client_http_response(wsi);
            attempt_finish(s, st > 0 ? st : s->status, "no answer");
        }
        return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
    case LWS_CALLBACK_WSI_DESTROY:
        if (s && s->wsi == wsi) s->wsi = NULL;
        /* Closed before the answer was complete: a status line, if one came, still says it. */
        if (is_current(s, wsi)) attempt_finish(s, s->status, "connection closed");
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols client_protocols[] = {
    {PROTOCOL_NAME, client_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void connect_now(pl_outbox_t *s)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = s->srv->lws;
    ci.vhost = s->vhost;
    ci.address = s->addr;
    ci.port = s->url.port;
    ci.ssl_connection = (s->url.tls ? LCCSCF_USE_SSL : 0) | LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
    ci.path = s->target;
    ci.host = s->host_hdr;
    ci.origin = s->host_hdr;
    ci.method = "POST";
    ci.protocol = PROTOCOL_NAME;
    ci.local_protocol_name = PROTOCOL_NAME;
    ci.alpn = "http/1.1";
    ci.opaque_user_data = (void *)s->gen;
    uintptr_t gen = s->gen;
    struct lws *w = lws_client_connect_via_info(&ci);
    if (!w && s->attempt && s->gen == gen) attempt_finish(s, 0, "could not connect");
}

typedef struct {
    uv_getaddrinfo_t req;
    pl_outbox_t *s;
    uintptr_t gen;
} lookup_t;

static void lookup_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    lookup_t *l = req->data;
    pl_outbox_t *s = l->s;
    bool current = s->attempt && s->gen == l->gen && !s->stopping;
    if (current && status == 0 && res) {
        const void *a = res->ai_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
        inet_ntop(res->ai_family, a, s->addr, sizeof s->addr);
    }
    if (res) uv_freeaddrinfo(res);
    free(l);
    if (!current) return;
    if (status < 0)
        attempt_finish(s, 0, "the record system's host name could not be resolved");
    else
        connect_now(s);
}

static void deadline_cb(uv_timer_t *t)
{
    pl_outbox_t *s = t->data;
    if (s) attempt_finish(s, 0, "timeout");
}

static void attempt_start(pl_outbox_t *s)
{
    s->attempt = true;
    s->gen++;
    s->status = 0;
    s->sent = 0;
    s->wsi = NULL;
    uv_timer_start(&s->deadline, deadline_cb, REQUEST_TIMEOUT_MS, 0);
    unsigned char tmp[16];
    if (inet_pton(AF_INET, s->url.host, tmp) == 1 || inet_pton(AF_INET6, s->url.host, tmp) == 1) {
        /* inet_pton took it, so it fits: at most INET6_ADDRSTRLEN - 1 characters */
        memcpy(s->addr, s->url.host, strnlen(s->url.host, sizeof s->addr - 1));
        s->addr[strnlen(s->url.host, sizeof s->addr - 1)] = 0;
        connect_now(s);
        return;
    }
    lookup_t *l = calloc(1, sizeof *l);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (l) {
        l->s = s;
        l->gen = s->gen;
        l->req.data = l;
    }
    if (!l || uv_getaddrinfo(s->srv->loop, &l->req, lookup_cb, s->url.host, NULL, &hints) < 0) {
        free(l);
        attempt_finish(s, 0, "the record system's host name could not be resolved");
    }
}

/* ---- a pass: read what is due, then send it ---- */

typedef struct {
    pl_job_t job;
    pl_outbox_t *s;
    int64_t now;
    int n;
    entry_t e[BATCH];
    int64_t pending; /* all organisations' pending entries, -1 if unknown */
} due_job_t;

/* identifier=<system>|<value> of the Bundle, for If-None-Exist. Filing fills it in as
 * urn:parley:filing|<filing id>; that is also what an entry without one is sent with. */
static void entry_ident(entry_t *e, json_t *bundle)
{
    json_t *idf = json_object_get(bundle, "identifier");
    const char *sys = json_string_value(json_object_get(idf, "system"));
    const char *val = json_string_value(json_object_get(idf, "value"));
    char fid[24], esys[80], eval[96];
    snprintf(fid, sizeof fid, "%lld", (long long)e->filing_id);
    if (!sys || !val || !*sys || !*val) {
        sys = "urn:parley:filing";
        val = fid;
    }
    if (!query_encode(sys, esys, sizeof esys) || !query_encode(val, eval, sizeof eval)) {
        query_encode("urn:parley:filing", esys, sizeof esys);
        query_encode(fid, eval, sizeof eval);
    }
    snprintf(e->ident, sizeof e->ident, "identifier=%s|%s", esys, eval);
}

static int due_run(pl_store_t *st, pl_job_t *job)
{
    due_job_t *j = (due_job_t *)job;
    json_t *arr = NULL;
    int rc = pl_store_outbox_due(st, j->now, BATCH, &arr);
    if (rc < 0) return rc;
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        if (j->n >= BATCH) break;
        entry_t *e = &j->e[j->n];
        json_t *bundle = json_object_get(it, "bundle");
        e->id = json_integer_value(json_object_get(it, "id"));
        e->filing_id = json_integer_value(json_object_get(it, "filing_id"));
        e->attempts = (int)json_integer_value(json_object_get(it, "attempts"));
        e->body = json_dumps(bundle, JSON_COMPACT);
        if (!e->body) {
            rc = -PL_ENOMEM;
            break;
        }
        e->len = strlen(e->body);
        entry_ident(e, bundle);
        j->n++;
    }
    json_decref(arr); /* plaintext Bundles: jansson frees, the copies above are wiped later */
    if (rc < 0) return rc;
    /* The gauge: every organisation's waiting entries (a handful of rows each). */
    json_t *orgs = NULL;
    j->pending = -1;
    if (pl_store_org_list(st, &orgs) == 0) {
        int64_t sum = 0;
        json_array_foreach(orgs, i, it)
        {
            json_t *sm = NULL;
            if (pl_store_outbox_summary(st, json_integer_value(json_object_get(it, "id")), &sm) <
                0) {
                sum = -1;
                break;
            }
            sum += json_integer_value(json_object_get(sm, "pending"));
            json_decref(sm);
        }
        j->pending = sum;
        json_decref(orgs);
    }
    return 0;
}

static void due_done(pl_job_t *job, int status)
{
    due_job_t *j = (due_job_t *)job;
    pl_outbox_t *s = j->s;
    if (status < 0 || s->stopping) {
        for (int i = 0; i < j->n; i++) entry_clear(&j->e[i]);
        if (status < 0)
            pl_log_warn("outbox", "could not read the outbox: %s", pl_strerror(status));
        free(j);
        pass_end(s);
        return;
    }
    if (j->pending >= 0) s->srv->metrics.outbox_pending = j->pending;
    memcpy(s->batch, j->e, sizeof j->e);
    s->n = j->n;
    s->cur = 0;
    free(j);
    if (s->n == 0) {
        pass_end(s);
        return;
    }
    pl_log_debug("outbox", "%d filed transcript%s due for the record system", s->n,
                 s->n == 1 ? "" : "s");
    attempt_start(s);
}

static void pass_begin(pl_outbox_t *s)
{
    if (s->stopping) return;
    if (s->busy) {
        s->again = true;
        return;
    }
    due_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        pass_schedule(s, PASS_MS);
        return;
    }
    j->s = s;
    j->now = pl_now_ms();
    if (pl_worker_submit(s->srv->worker, &j->job, due_run, due_done) < 0) {
        free(j);
        pass_schedule(s, PASS_MS);
        return;
    }
    s->busy = true;
    s->again = false;
    s->recorded = 0;
    s->soonest = 0;
}

static void pass_cb(uv_timer_t *t)
{
    pl_outbox_t *s = t->data;
    if (s) pass_begin(s);
}

static void pass_schedule(pl_outbox_t *s, uint64_t ms)
{
    if (!s->stopping) uv_timer_start(&s->pass_timer, pass_cb, ms, 0);
}

/* ---- life cycle ---- */

int pl_outbox_start(pl_server_t *srv)
{
    const pl_config_t *cfg = srv->cfg;
    if (!cfg->record_fhir_url[0]) {
        if (cfg->record_bearer_token_file[0] || cfg->record_client_cert_file[0])
            pl_log_warn("outbox", "record_fhir_url is not set: write-back to the record system "
                                  "is off, and its other settings are ignored");
        return 0;
    }
    pl_outbox_t *s = calloc(1, sizeof *s);
    if (!s) return -PL_ENOMEM;
    s->srv = srv;
    int rc = pl_config_parse_url(cfg->record_fhir_url, &s->url);
    if (rc < 0) pl_log_error("outbox", "record_fhir_url is not a usable http(s) URL");
    if (rc == 0 && !cfg->record_client_cert_file[0] != !cfg->record_client_key_file[0]) {
        pl_log_error("outbox", "record_client_cert_file and record_client_key_file go together");
        rc = -PL_EINVAL;
    }
    if (rc == 0 && (cfg->record_client_cert_file[0] || cfg->record_ca_file[0]) && !s->url.tls)
        pl_log_warn("outbox", "record_fhir_url is http: the TLS settings are not used");
    if (rc == 0 && cfg->record_client_key_file[0] &&
        (rc = check_private(cfg->record_client_key_file)) < 0)
        pl_log_error("outbox", "record_client_key_file %s: %s (it must exist and be mode 0600)",
                     cfg->record_client_key_file, pl_strerror(rc));
    if (rc == 0 && cfg->record_bearer_token_file[0] &&
        (rc = load_token(cfg->record_bearer_token_file, &s->auth, &s->auth_len)) < 0)
        pl_log_error("outbox",
                     "record_bearer_token_file %s: %s (it must exist, be mode 0600 and hold the "
                     "token on one line)",
                     cfg->record_bearer_token_file, pl_strerror(rc));
    if (rc == 0 && s->url.tls) rc = make_ssl_ctx(cfg, &s->ssl_ctx);
    if (rc == 0) {
        snprintf(s->target, sizeof s->target, "%s/Bundle", s->url.path);
        bool v6 = strchr(s->url.host, ':') != NULL;
        bool def = s->url.port == (s->url.tls ? 443 : 80);
        if (def)
            snprintf(s->host_hdr, sizeof s->host_hdr, v6 ? "[%s]" : "%s", s->url.host);
        else
            snprintf(s->host_hdr, sizeof s->host_hdr, v6 ? "[%s]:%d" : "%s:%d", s->url.host,
                     s->url.port);
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof info);
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = client_protocols;
        info.vhost_name = "parley-outbox";
        info.provided_client_ssl_ctx = s->ssl_ctx; /* ours to free: lws only borrows it */
        info.timeout_secs = (unsigned)(REQUEST_TIMEOUT_MS / 1000);
        info.connect_timeout_secs = 10;
        /* lws 4.1 sets up a vhost's client TLS only when asked, with the global-init option
         * set: it then takes our SSL_CTX as it is. */
        info.options = s->ssl_ctx ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
        s->vhost = lws_create_vhost(srv->lws, &info);
        if (s->vhost && s->ssl_ctx && lws_init_vhost_client_ssl(&info, s->vhost) != 0) {
            pl_log_error("outbox", "could not set up TLS for the record system");
            rc = -PL_EIO;
        } else if (!s->vhost) {
            pl_log_error("outbox", "could not make the record system's client");
            rc = -PL_EIO;
        }
    }
    if (rc < 0) {
        if (s->ssl_ctx) SSL_CTX_free(s->ssl_ctx);
        if (s->auth) {
            pl_wipe(s->auth, s->auth_len);
            free(s->auth);
        }
        free(s);
        return rc;
    }
    uv_timer_init(srv->loop, &s->pass_timer);
    uv_timer_init(srv->loop, &s->deadline);
    s->pass_timer.data = s->deadline.data = s;
    srv->outbox = s;
    /* Whatever the last run left pending (in flight when it died, too) goes first. */
    pass_schedule(s, 0);
    pl_log_info("outbox", "write-back to the record system at %s://%s%s%s (%s)",
                s->url.tls ? "https" : "http", s->host_hdr, s->url.path[0] ? "" : "/",
                s->url.path,
                s->auth && s->url.tls && cfg->record_client_cert_file[0]
                    ? "bearer token and mutual TLS"
                : s->auth                                                ? "bearer token"
                : s->url.tls && cfg->record_client_cert_file[0] ? "mutual TLS"
                                                                : "no credentials");
    return 0;
}

void pl_outbox_kick(pl_server_t *srv)
{
    pl_outbox_t *s = srv->outbox;
    if (!s || s->stopping) return;
    if (s->busy)
        s->again = true;
    else
        pass_schedule(s, 0);
}

void pl_outbox_stop(pl_server_t *srv)
{
    pl_outbox_t *s = srv->outbox;
    if (!s || s->stopping) return;
    s->stopping = true;
    uv_timer_stop(&s->pass_timer);
    s->pass_timer.data = NULL;
    uv_close((uv_handle_t *)&s->pass_timer, NULL);
    if (s->attempt) {
        /* Still pending in the store; the next start sends it again. */
        s->attempt = false;
        s->gen++;
        if (s->wsi) lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        s->wsi = NULL;
    }
    uv_timer_stop(&s->deadline);
    s->deadline.data = NULL;
    uv_close((uv_handle_t *)&s->deadline, NULL);
    /* A job on the storage thread comes back during the worker's drain and sees stopping. */
    if (!s->busy) {
        for (int i = 0; i < s->n; i++) entry_clear(&s->batch[i]);
        s->n = 0;
    }
}

void pl_outbox_destroy(pl_server_t *srv)
{
    pl_outbox_t *s = srv->outbox;
    if (!s) return;
    srv->outbox = NULL;
    for (int i = 0; i < BATCH; i++) entry_clear(&s->batch[i]);
    if (s->ssl_ctx) SSL_CTX_free(s->ssl_ctx);
    if (s->auth) {
        pl_wipe(s->auth, s->auth_len);
        free(s->auth);
    }
    free(s);
}
