/* TLS + WebSocket (RFC 6455) client for tests and the benchmark (see wsc.h).
 *
 * Shape: one receive buffer per connection holds decrypted, not yet parsed bytes. Frames are
 * parsed in place; an unfragmented message is handed out straight from that buffer, and only
 * fragmented messages are copied into a second buffer, allocated the first time a server
 * fragments. The receive buffer starts at 2 KB, grows to fit the largest frame seen and shrinks
 * back once it is empty, so 2,000 idle connections stay cheap. The socket is non-blocking from
 * the start (tls_io.c); blocking calls are polls against a deadline, which is why
 * pl_wsc_set_nonblocking has nothing left to switch. */
#include "tests/support/wsc.h"
#include "tests/support/internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INITIAL_BUF 2048
#define SHRINK_ABOVE (64 * 1024)
#define MAX_MESSAGE ((uint64_t)64 * 1024 * 1024)
#define MAX_HEAD 16384
#define CLOSE_WAIT_MS 1000
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define SUBPROTOCOL "parley.v1"

struct pl_wsc {
    SSL *ssl;
    int fd;
    int close_code;
    unsigned char closed;     /* server closed (close frame or EOF): no more messages */
    unsigned char close_sent; /* a close frame went out */
    unsigned char broken;     /* a write failed; OpenSSL may hold half a record: never write */
    unsigned char frag_op;    /* opcode of the message being reassembled, 0 when none */
    uint8_t *buf;             /* undecoded bytes are buf[start..end); end < cap always */
    size_t cap, start, end;
    uint8_t *frag; /* reassembly of a fragmented message, NUL-terminated when delivered */
    size_t frag_len, frag_cap;
    uint64_t rng; /* xorshift state for masking keys: masking only needs unpredictability to
                     proxies, not cryptographic strength, and RAND_bytes per frame is costly */
};

static uint32_t next_mask(pl_wsc_t *c)
{
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Frames and writes one masked frame. */
static int write_frame(pl_wsc_t *c, int op, int fin, const void *payload, size_t len,
                       int64_t deadline)
{
    if (c->broken) return -EPIPE;
    uint8_t stack[2048];
    size_t hdr = 2 + (len < 126 ? 0 : len <= 0xffff ? 2 : 8) + 4;
    uint8_t *out = hdr + len <= sizeof stack ? stack : malloc(hdr + len);
    if (!out) return -ENOMEM;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (op & 0x0f));
    size_t i = 2;
    if (len < 126) {
        out[1] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        out[1] = 0x80 | 126;
        out[i++] = (uint8_t)(len >> 8);
        out[i++] = (uint8_t)len;
    } else {
        out[1] = 0x80 | 127;
        for (int s = 56; s >= 0; s -= 8)
            out[i++] = (uint8_t)((uint64_t)len >> s);
    }
    uint32_t key = next_mask(c);
    uint8_t mask[4] = {(uint8_t)(key >> 24), (uint8_t)(key >> 16), (uint8_t)(key >> 8),
                       (uint8_t)key};
    memcpy(out + i, mask, 4);
    i += 4;
    const uint8_t *src = payload;
    for (size_t k = 0; k < len; k++)
        out[i + k] = src[k] ^ mask[k & 3];

    int err = pl_tls__write_all(c->ssl, c->fd, out, hdr + len, deadline);
    if (out != stack) free(out);
    if (err < 0)
        c->broken = 1;
    else if (op == PL_WSC_OP_CLOSE)
        c->close_sent = 1;
    return err;
}

/* Makes buf able to hold `total` bytes from its start (compacting first), plus the spare byte. */
static int reserve(pl_wsc_t *c, size_t total)
{
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (total + 1 <= c->cap) return 0;
    size_t cap = c->cap;
    while (cap < total + 1)
        cap *= 2;
    uint8_t *p = realloc(c->buf, cap);
    if (!p) return -ENOMEM;
    c->buf = p;
    c->cap = cap;
    return 0;
}

/* Reads more bytes into buf, waiting until deadline. Returns >0, 0 at EOF, or a negative errno
 * (-ETIMEDOUT when nothing came; at once when the deadline has passed). */
static int fill(pl_wsc_t *c, int64_t deadline)
{
    if (c->start == c->end) {
        c->start = c->end = 0;
        if (c->cap > SHRINK_ABOVE) {
            uint8_t *p = realloc(c->buf, INITIAL_BUF);
            if (p) {
                c->buf = p;
                c->cap = INITIAL_BUF;
            }
        }
    } else if (c->cap - 1 - c->end < 512 && c->start > 0) {
        reserve(c, 0);
    }
    if (c->cap - 1 - c->end == 0 && reserve(c, c->cap * 2) < 0) return -ENOMEM;
    int n = pl_tls__read(c->ssl, c->fd, c->buf + c->end, c->cap - 1 - c->end, deadline);
    if (n > 0) c->end += (size_t)n;
    return n;
}

/* Records the server's close and answers a close frame. Always returns -ECONNRESET. */
static int on_closed(pl_wsc_t *c, int code, int from_frame)
{
    c->closed = 1;
    c->close_code = code;
    if (from_frame && !c->close_sent && !c->broken) {
        uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        write_frame(c, PL_WSC_OP_CLOSE, 1, p, code ? 2 : 0, pl_tls__deadline(CLOSE_WAIT_MS));
    }
    return -ECONNRESET;
}

/* Parses frames already in buf until a whole message is available. Returns 1 with *msg and *len set
 * (borrowed until the next call on c; *in_place says it lies inside buf, where msg[len] may be
 * the next frame's first byte), 0 when more bytes are needed, -ECONNRESET once the server has
 * closed, or -EPROTO / -EMSGSIZE / -ENOMEM. Answers pings. */
static int next_message(pl_wsc_t *c, const uint8_t **msg, size_t *len, int *in_place)
{
    for (;;) {
        if (c->closed) return -ECONNRESET;
        const uint8_t *p = c->buf + c->start;
        size_t avail = c->end - c->start;
        if (avail < 2) return 0;
        int fin = p[0] & 0x80, op = p[0] & 0x0f, masked = p[1] & 0x80;
        if (p[0] & 0x70) return -EPROTO; /* no extension was negotiated */
        uint64_t plen = p[1] & 0x7f;
        size_t hdr = 2;
        if (plen == 126) {
            if (avail < 4) return 0;
            plen = (uint64_t)p[2] << 8 | p[3];
            hdr = 4;
        } else if (plen == 127) {
            if (avail < 10) return 0;
            plen = 0;
            for (int k = 2; k < 10; k++)
                plen = plen << 8 | p[k];
            hdr = 10;
        }
        if (masked) hdr += 4;
        if (plen > MAX_MESSAGE) return -EMSGSIZE;
        if (avail < hdr + plen) return reserve(c, hdr + (size_t)plen) < 0 ? -ENOMEM : 0;

        uint8_t *payload = c->buf + c->start + hdr;
        size_t n = (size_t)plen;
        if (masked) { /* servers must not mask, but unmasking costs nothing */
            const uint8_t *m = payload - 4;
            for (size_t k = 0; k < n; k++)
                payload[k] ^= m[k & 3];
        }
        c->start += hdr + n;

        switch (op) {
        case PL_WSC_OP_CLOSE:
            return on_closed(c, n >= 2 ? payload[0] << 8 | payload[1] : 0, 1);
        case PL_WSC_OP_PING:
            write_frame(c, PL_WSC_OP_PONG, 1, payload, n,
                        pl_tls__deadline(PL_TLS__WRITE_TIMEOUT_MS));
            continue;
        case PL_WSC_OP_PONG:
            continue;
        case PL_WSC_OP_TEXT:
        case PL_WSC_OP_BINARY:
            if (c->frag_op) return -EPROTO;
            if (fin) {
                *msg = payload;
                *len = n;
                *in_place = 1;
                return 1;
            }
            c->frag_op = (unsigned char)op;
            c->frag_len = 0;
            break;
        case PL_WSC_OP_CONT:
            if (!c->frag_op) return -EPROTO;
            break;
        default:
            return -EPROTO;
        }
        /* A fragment: append to the reassembly buffer. */
        if (c->frag_len + n > MAX_MESSAGE) return -EMSGSIZE;
        if (c->frag_len + n + 1 > c->frag_cap) {
            size_t cap = c->frag_cap ? c->frag_cap : INITIAL_BUF;
            while (cap < c->frag_len + n + 1)
                cap *= 2;
            uint8_t *f = realloc(c->frag, cap);
            if (!f) return -ENOMEM;
            c->frag = f;
            c->frag_cap = cap;
        }
        memcpy(c->frag + c->frag_len, payload, n);
        c->frag_len += n;
        if (fin) {
            c->frag[c->frag_len] = '\0';
            c->frag_op = 0;
            *msg = c->frag;
            *len = c->frag_len;
            *in_place = 0;
            return 1;
        }
    }
}

static void b64(const uint8_t *in, int len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, len);
}

/* Checks the upgrade response head. Returns 0, -EACCES (non-101) or -EPROTO. */
static int check_upgrade(const char *head, size_t head_len, const char *accept, int *http_status)
{
    int status = 0;
    char *headers = NULL;
    int err = pl_http__parse_head(head, head_len, &status, &headers);
    if (err < 0) return err;
    if (http_status) *http_status = status;
    if (status != 101) {
        free(headers);
        return -EACCES;
    }
    char *upgrade = pl_http__header_find(headers, "Upgrade");
    char *conn = pl_http__header_find(headers, "Connection");
    char *acc = pl_http__header_find(headers, "Sec-WebSocket-Accept");
    char *proto = pl_http__header_find(headers, "Sec-WebSocket-Protocol");
    if (!upgrade || strcasecmp(upgrade, "websocket") != 0 || !conn ||
        !strcasestr(conn, "upgrade") || !acc || strcmp(acc, accept) != 0 || !proto ||
        strcmp(proto, SUBPROTOCOL) != 0)
        err = -EPROTO;
    free(upgrade);
    free(conn);
    free(acc);
    free(proto);
    free(headers);
    return err;
}

static int handshake(pl_wsc_t *c, const char *host, int port, const char *path,
                     const char *extra_headers, int64_t deadline, int *http_status)
{
    uint8_t nonce[16];
    char key[32], accept[32];
    if (RAND_bytes(nonce, sizeof nonce) != 1) return -EIO;
    b64(nonce, sizeof nonce, key);
    char concat[sizeof key + sizeof WS_GUID];
    snprintf(concat, sizeof concat, "%s%s", key, WS_GUID);
    uint8_t sha[EVP_MAX_MD_SIZE];
    unsigned int sha_len = 0;
    if (!EVP_Digest(concat, strlen(concat), sha, &sha_len, EVP_sha1(), NULL)) return -EIO;
    b64(sha, (int)sha_len, accept);

    int v6 = strchr(host, ':') != NULL;
    const char *fmt = "GET %s HTTP/1.1\r\n"
                      "Host: %s%s%s:%d\r\n"
                      "Upgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Protocol: " SUBPROTOCOL "\r\n"
                      "%s\r\n";
    const char *extra = extra_headers ? extra_headers : "";
    char *req = NULL;
    int n = asprintf(&req, fmt, path, v6 ? "[" : "", host, v6 ? "]" : "", port, key, extra);
    if (n < 0) return -ENOMEM;
    int err = pl_tls__write_all(c->ssl, c->fd, req, (size_t)n, deadline);
    free(req);
    if (err < 0) return err;

    /* Read up to the blank line; bytes after it are already frames and stay in buf. */
    size_t scanned = 0;
    for (;;) {
        uint8_t *end = memmem(c->buf + scanned, c->end - scanned, "\r\n\r\n", 4);
        if (end) {
            size_t head_len = (size_t)(end - c->buf) + 4;
            err = check_upgrade((const char *)c->buf, head_len, accept, http_status);
            c->start = head_len;
            return err;
        }
        if (c->end >= MAX_HEAD) return -EPROTO;
        scanned = c->end > 3 ? c->end - 3 : 0;
        n = fill(c, deadline);
        if (n == 0) return -ECONNRESET;
        if (n < 0) return n;
    }
}

int pl_wsc_connect(pl_wsc_t **out, const char *host, int port, const char *path,
                   const char *extra_headers, int timeout_ms, int *http_status)
{
    *out = NULL;
    if (http_status) *http_status = 0;
    int64_t deadline = pl_tls__deadline(timeout_ms);
    pl_wsc_t *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->fd = -1;
    c->cap = INITIAL_BUF;
    c->buf = malloc(c->cap);
    if (!c->buf || RAND_bytes((unsigned char *)&c->rng, sizeof c->rng) != 1) {
        free(c->buf);
        free(c);
        return -ENOMEM;
    }
    c->rng |= 1; /* xorshift state must not be zero */
    int err = pl_tls__open(host, port, deadline, &c->fd, &c->ssl);
    if (err == 0) err = handshake(c, host, port, path, extra_headers, deadline, http_status);
    if (err < 0) {
        pl_wsc_abort(c);
        return err;
    }
    *out = c;
    return 0;
}

int pl_wsc_send_frame(pl_wsc_t *c, int opcode, int fin, const void *payload, size_t len)
{
    if (opcode < 0 || opcode > 15) return -EINVAL;
    if (c->closed) return -ECONNRESET;
    return write_frame(c, opcode, fin, payload, len, pl_tls__deadline(PL_TLS__WRITE_TIMEOUT_MS));
}

int pl_wsc_send_text(pl_wsc_t *c, const char *data, size_t len)
{
    return pl_wsc_send_frame(c, PL_WSC_OP_TEXT, 1, data, len);
}

int pl_wsc_send_raw(pl_wsc_t *c, const void *bytes, size_t len)
{
    if (c->closed) return -ECONNRESET;
    if (c->broken) return -EPIPE;
    int err =
        pl_tls__write_all(c->ssl, c->fd, bytes, len, pl_tls__deadline(PL_TLS__WRITE_TIMEOUT_MS));
    if (err < 0) c->broken = 1;
    return err;
}

/* After fill() returned n <= 0: end of stream becomes a close without a code. */
static int read_failed(pl_wsc_t *c, int n)
{
    if (n == 0 || n == -ECONNRESET || n == -EPIPE) return on_closed(c, c->close_code, 0);
    return n;
}

int pl_wsc_recv(pl_wsc_t *c, int timeout_ms, char **out, size_t *len)
{
    *out = NULL;
    int64_t deadline = pl_tls__deadline(timeout_ms);
    for (;;) {
        const uint8_t *m;
        size_t n;
        int in_place;
        int r = next_message(c, &m, &n, &in_place);
        if (r == 1) {
            char *copy = malloc(n + 1);
            if (!copy) return -ENOMEM;
            memcpy(copy, m, n);
            copy[n] = '\0';
            *out = copy;
            if (len) *len = n;
            return 0;
        }
        if (r < 0) return r;
        r = fill(c, deadline);
        if (r <= 0) return read_failed(c, r);
    }
}

int pl_wsc_pump(pl_wsc_t *c, void (*on_msg)(void *ud, const char *msg, size_t len), void *ud)
{
    for (;;) {
        const uint8_t *m;
        size_t n;
        int in_place, r;
        while ((r = next_message(c, &m, &n, &in_place)) == 1) {
            /* NUL-terminate in place: msg[n] is inside buf (end < cap) and is put back after. */
            uint8_t *term = (uint8_t *)m + n, saved = *term;
            *term = '\0';
            on_msg(ud, (const char *)m, n);
            if (in_place) *term = saved;
        }
        if (r < 0) return r;
        r = fill(c, 0); /* a past deadline: read only what has arrived */
        if (r == -ETIMEDOUT) return 0;
        if (r <= 0) return read_failed(c, r);
    }
}

int pl_wsc_close_code(const pl_wsc_t *c)
{
    return c->close_code;
}

int pl_wsc_fd(const pl_wsc_t *c)
{
    return c->fd;
}

int pl_wsc_set_nonblocking(pl_wsc_t *c)
{
    return 0; /* the socket is non-blocking already; see the comment at the top */
}

void pl_wsc_destroy(pl_wsc_t *c)
{
    if (!c) return;
    if (!c->closed && !c->broken) {
        int64_t deadline = pl_tls__deadline(CLOSE_WAIT_MS);
        uint8_t code[2] = {1000 >> 8, 1000 & 0xff};
        int err = c->close_sent ? 0 : write_frame(c, PL_WSC_OP_CLOSE, 1, code, 2, deadline);
        /* Wait for the server's close so it sees a clean close rather than a reset caused by
         * unread data; messages still in flight are discarded. */
        while (err == 0 && !c->closed) {
            const uint8_t *m;
            size_t n;
            int in_place;
            int r = next_message(c, &m, &n, &in_place);
            if (r == 1) continue;
            if (r < 0) break;
            r = fill(c, deadline);
            if (r <= 0) break;
        }
    }
    pl_tls__close(c->fd, c->ssl, !c->broken);
    free(c->buf);
    free(c->frag);
    free(c);
}

void pl_wsc_abort(pl_wsc_t *c)
{
    if (!c) return;
    pl_tls__close(c->fd, c->ssl, 0);
    free(c->buf);
    free(c->frag);
    free(c);
}
