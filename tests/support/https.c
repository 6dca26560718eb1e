/* One-shot HTTPS requests and raw TLS streams for integration tests (see https.h), plus the HTTP
 * head parsing that the WebSocket client shares (internal.h). Responses are read into one growing
 * buffer; chunked bodies are decoded incrementally so a large body costs one pass. */
#include "tests/support/https.h"
#include "tests/support/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEAD_BYTES (64 * 1024)

struct pl_tls {
    SSL *ssl;
    int fd;
};

/* A growing byte buffer that always keeps room for a trailing NUL. */
struct buf {
    char *p;
    size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_append(struct buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) < 0) return -ENOMEM;
    if (len) memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

int pl_http__parse_head(const char *head, size_t head_len, int *status, char **headers)
{
    /* "HTTP/1.x NNN reason\r\n" */
    const char *eol = memchr(head, '\n', head_len);
    if (!eol || head_len < 12 || strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ') return -EPROTO;
    if (!isdigit((unsigned char)head[9]) || !isdigit((unsigned char)head[10]) ||
        !isdigit((unsigned char)head[11]))
        return -EPROTO;
    *status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');

    const char *start = eol + 1;
    size_t len = head_len - (size_t)(start - head);
    if (len >= 2 && start[len - 2] == '\r' && start[len - 1] == '\n')
        len -= 2; /* blank line */
    else if (len >= 1 && start[len - 1] == '\n')
        len -= 1;
    char *h = malloc(len + 1);
    if (!h) return -ENOMEM;
    memcpy(h, start, len);
    h[len] = '\0';
    *headers = h;
    return 0;
}

char *pl_http__header_find(const char *headers, const char *name)
{
    if (!headers || !name) return NULL;
    size_t nlen = strlen(name);
    for (const char *line = headers; *line;) {
        const char *eol = strchr(line, '\n');
        size_t llen = eol ? (size_t)(eol - line) : strlen(line);
        if (llen > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1, *end = line + llen;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && isspace((unsigned char)end[-1]))
                end--;
            return strndup(v, (size_t)(end - v));
        }
        if (!eol) break;
        line = eol + 1;
    }
    return NULL;
}

char *pl_http_resp_header(const pl_http_resp_t *r, const char *name)
{
    return r ? pl_http__header_find(r->headers, name) : NULL;
}

void pl_http_resp_free(pl_http_resp_t *r)
{
    if (!r) return;
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Is there a header line named `name` in CRLF-separated `headers`? */
static int has_header(const char *headers, const char *name)
{
    char *v = pl_http__header_find(headers, name);
    free(v);
    return v != NULL;
}

/* Incremental chunked-transfer decoder over the raw body bytes. */
enum chunk_stage { CH_SIZE, CH_DATA, CH_DATA_CRLF, CH_TRAILER, CH_DONE };
struct chunked {
    enum chunk_stage stage;
    size_t pos;    /* next undecoded raw byte */
    uint64_t left; /* bytes left in the current chunk */
};

/* Decodes what raw[0..len) allows into body. Returns 1 when the body is complete, 0 when more
 * bytes are needed, or a negative errno. */
static int chunked_step(struct chunked *d, const char *raw, size_t len, struct buf *body)
{
    for (;;) {
        switch (d->stage) {
        case CH_SIZE:
        case CH_TRAILER: {
            const char *lf = memchr(raw + d->pos, '\n', len - d->pos);
            if (!lf) return len - d->pos > 4096 ? -EPROTO : 0;
            const char *line = raw + d->pos;
            size_t llen = (size_t)(lf - line);
            d->pos += llen + 1;
            if (d->stage == CH_TRAILER) {
                if (llen == 0 || (llen == 1 && line[0] == '\r')) {
                    d->stage = CH_DONE;
                    return 1;
                }
                continue; /* skip a trailer field */
            }
            char *end;
            errno = 0;
            unsigned long long n = strtoull(line, &end, 16);
            if (end == line || errno || !strchr(";\r\n \t", *end) || *end == '\0') return -EPROTO;
            d->left = n;
            d->stage = n ? CH_DATA : CH_TRAILER;
            break;
        }
        case CH_DATA: {
            size_t have = len - d->pos;
            size_t take = have < d->left ? have : (size_t)d->left;
            if (buf_append(body, raw + d->pos, take) < 0) return -ENOMEM;
            d->pos += take;
            d->left -= take;
            if (d->left) return 0;
            d->stage = CH_DATA_CRLF;
            break;
        }
        case CH_DATA_CRLF:
            if (len - d->pos < 2) return 0;
            if (raw[d->pos] != '\r' || raw[d->pos + 1] != '\n') return -EPROTO;
            d->pos += 2;
            d->stage = CH_SIZE;
            break;
        case CH_DONE:
            return 1;
        }
    }
}

static char *find_head_end(const char *p, size_t len)
{
    char *e = memmem(p, len, "\r\n\r\n", 4);
    return e ? e + 4 : NULL;
}

static int build_request(struct buf *req, const char *host, int port, const char *method,
                         const char *path, const char *headers, const char *body, size_t body_len)
{
    char line[512];
    int n = snprintf(line, sizeof line, "%s %s HTTP/1.1\r\n", method, path);
    if (n < 0 || (size_t)n >= sizeof line) {
        /* Long paths are a legitimate test case: build the request line piecewise. */
        if (buf_append(req, method, strlen(method)) < 0 || buf_append(req, " ", 1) < 0 ||
            buf_append(req, path, strlen(path)) < 0 || buf_append(req, " HTTP/1.1\r\n", 11) < 0)
            return -ENOMEM;
    } else if (buf_append(req, line, (size_t)n) < 0) {
        return -ENOMEM;
    }
    if (!has_header(headers, "Host")) {
        n = snprintf(line, sizeof line, "Host: %s:%d\r\n", host, port);
        if (buf_append(req, line, (size_t)n) < 0) return -ENOMEM;
    }
    if (!has_header(headers, "Connection") && buf_append(req, "Connection: close\r\n", 19) < 0)
        return -ENOMEM;
    if (body && !has_header(headers, "Content-Length")) {
        n = snprintf(line, sizeof line, "Content-Length: %zu\r\n", body_len);
        if (buf_append(req, line, (size_t)n) < 0) return -ENOMEM;
    }
    if (headers && buf_append(req, headers, strlen(headers)) < 0) return -ENOMEM;
    if (buf_append(req, "\r\n", 2) < 0) return -ENOMEM;
    if (body && body_len && buf_append(req, body, body_len) < 0) return -ENOMEM;
    return 0;
}

/* State of one response being read. */
struct reader {
    struct buf raw;  /* everything received */
    size_t body_off; /* start of the body in raw, once the head is parsed */
    int head_done;
    int framing; /* 0 none, 1 content-length, 2 chunked, 3 until EOF */
    uint64_t content_length;
    struct chunked ch;
    struct buf body; /* decoded body when chunked */
};

/* Parses whatever raw now allows. Returns 1 when the response is complete, 0 for more, <0. */
static int reader_step(struct reader *rd, const char *method, pl_http_resp_t *resp)
{
    while (!rd->head_done) {
        const char *start = rd->raw.p + rd->body_off;
        size_t avail = rd->raw.len - rd->body_off;
        const char *end = find_head_end(start, avail);
        if (!end) return avail > MAX_HEAD_BYTES ? -EPROTO : 0;
        int status = 0;
        char *headers = NULL;
        int err = pl_http__parse_head(start, (size_t)(end - start), &status, &headers);
        if (err < 0) return err;
        rd->body_off += (size_t)(end - start);
        if (status >= 100 && status < 200 && status != 101) {
            free(headers); /* interim response (100 Continue): the real one follows */
            continue;
        }
        resp->status = status;
        resp->headers = headers;
        rd->head_done = 1;

        char *te = pl_http__header_find(headers, "Transfer-Encoding");
        char *cl = pl_http__header_find(headers, "Content-Length");
        if (strcasecmp(method, "HEAD") == 0 || status == 204 || status == 304 || status < 200) {
            rd->framing = 0;
        } else if (te && strcasestr(te, "chunked")) {
            rd->framing = 2;
        } else if (cl) {
            char *e;
            errno = 0;
            rd->content_length = strtoull(cl, &e, 10);
            rd->framing = 1;
            if (e == cl || *e || errno) err = -EPROTO;
        } else {
            rd->framing = 3;
        }
        free(te);
        free(cl);
        if (err < 0) return err;
    }
    size_t have = rd->raw.len - rd->body_off;
    switch (rd->framing) {
    case 0:
        return 1;
    case 1:
        return have >= rd->content_length;
    case 2:
        return chunked_step(&rd->ch, rd->raw.p + rd->body_off, have, &rd->body);
    default:
        return 0;
    }
}

static int reader_finish(struct reader *rd, pl_http_resp_t *resp)
{
    if (rd->framing == 2) {
        if (buf_reserve(&rd->body, 0) < 0) return -ENOMEM;
        rd->body.p[rd->body.len] = '\0';
        resp->body = rd->body.p;
        resp->body_len = rd->body.len;
        rd->body.p = NULL;
        return 0;
    }
    size_t n = rd->raw.len - rd->body_off;
    if (rd->framing == 0) n = 0;
    if (rd->framing == 1 && n > rd->content_length) n = (size_t)rd->content_length;
    resp->body = malloc(n + 1);
    if (!resp->body) return -ENOMEM;
    memcpy(resp->body, rd->raw.p + rd->body_off, n);
    resp->body[n] = '\0';
    resp->body_len = n;
    return 0;
}

int pl_https_request(const char *host, int port, const char *method, const char *path,
                     const char *headers, const char *body, size_t body_len, int timeout_ms,
                     pl_http_resp_t *resp)
{
    memset(resp, 0, sizeof *resp);
    int64_t deadline = pl_tls__deadline(timeout_ms);
    struct buf req = {0};
    int err = build_request(&req, host, port, method, path, headers, body, body_len);
    if (err < 0) {
        free(req.p);
        return err;
    }
    int fd = -1;
    SSL *ssl = NULL;
    err = pl_tls__open(host, port, deadline, &fd, &ssl);
    if (err == 0) err = pl_tls__write_all(ssl, fd, req.p, req.len, deadline);
    free(req.p);

    struct reader rd = {0};
    while (err == 0) {
        if (buf_reserve(&rd.raw, 16384) < 0) {
            err = -ENOMEM;
            break;
        }
        int n = pl_tls__read(ssl, fd, rd.raw.p + rd.raw.len, rd.raw.cap - rd.raw.len - 1, deadline);
        if (n > 0) {
            rd.raw.len += (size_t)n;
            int r = reader_step(&rd, method, resp);
            if (r < 0)
                err = r;
            else if (r == 1)
                break;
            continue;
        }
        if (n == 0 || n == -ECONNRESET) {
            /* End of stream: complete only when the body runs to EOF. */
            if (rd.raw.len == 0)
                err = -ECONNRESET;
            else if (rd.head_done && rd.framing == 3)
                break;
            else
                err = -EPROTO;
        } else {
            err = n;
        }
    }
    if (err == 0) err = reader_finish(&rd, resp);
    pl_tls__close(fd, ssl, err == 0);
    free(rd.raw.p);
    free(rd.body.p);
    if (err < 0) pl_http_resp_free(resp);
    return err;
}

int pl_tls_connect(pl_tls_t **out, const char *host, int port, int timeout_ms)
{
    *out = NULL;
    pl_tls_t *t = calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    int err = pl_tls__open(host, port, pl_tls__deadline(timeout_ms), &t->fd, &t->ssl);
    if (err < 0) {
        free(t);
        return err;
    }
    *out = t;
    return 0;
}

int pl_tls_write(pl_tls_t *t, const void *buf, size_t len)
{
    return pl_tls__write_all(t->ssl, t->fd, buf, len, pl_tls__deadline(PL_TLS__WRITE_TIMEOUT_MS));
}

int pl_tls_read(pl_tls_t *t, void *buf, size_t cap, int timeout_ms)
{
    if (cap == 0) return -EINVAL;
    int n = pl_tls__read(t->ssl, t->fd, buf, cap, pl_tls__deadline(timeout_ms));
    return (n == -ECONNRESET || n == -EPIPE) ? 0 : n;
}

void pl_tls_destroy(pl_tls_t *t)
{
    if (!t) return;
    pl_tls__close(t->fd, t->ssl, 1);
    free(t);
}
