/* Test support: one-shot HTTPS requests and raw TLS streams against the real Parley server.
 * Integration tests use pl_https_request for the REST surface and pl_tls_* for slow-body and
 * malformed-HTTP tests. No certificate verification: the test server's certificate is
 * self-signed. All functions return 0 (or a byte count) or a negative errno. */
#ifndef PL_TEST_HTTPS_H
#define PL_TEST_HTTPS_H

#include <stddef.h>

typedef struct {
    int status;      /* HTTP status of the final (non-1xx) response */
    char *headers;   /* header lines, each ending CRLF, without the status line; NUL-terminated */
    char *body;      /* decoded body (chunked is undone), NUL-terminated; never NULL on success */
    size_t body_len; /* body length, not counting the NUL */
} pl_http_resp_t;

/* Sends one HTTP/1.1 request with "Connection: close" and reads the whole response.
 * headers is NULL or CRLF-terminated lines; Host and (when body != NULL) Content-Length are
 * added unless headers already has them, so a test can send a deliberately wrong length.
 * The response body is framed by Content-Length, chunked encoding, or end of stream; 1xx interim
 * responses are skipped; HEAD, 204 and 304 have no body. timeout_ms (<0: none) covers connect,
 * send and receive. On success fills *resp, which the caller releases with pl_http_resp_free.
 * Returns 0, -ETIMEDOUT, -ECONNRESET (closed before any response byte), -EPROTO (malformed or
 * truncated response), or another negative errno; on failure *resp is zeroed. */
int pl_https_request(const char *host, int port, const char *method, const char *path,
                     const char *headers, const char *body, size_t body_len, int timeout_ms,
                     pl_http_resp_t *resp);

/* Frees what pl_https_request put in r and zeroes it; r itself is the caller's. NULL ok. */
void pl_http_resp_free(pl_http_resp_t *r);

/* Case-insensitive header lookup, e.g. "Set-Cookie". Returns a malloc'd copy of the first
 * matching header's value (whitespace trimmed) that the caller frees, or NULL if absent. */
char *pl_http_resp_header(const pl_http_resp_t *r, const char *name);

/* A raw TLS stream, for slow-body and malformed-HTTP tests. */
typedef struct pl_tls pl_tls_t;

/* TCP connect and TLS handshake within timeout_ms (<0: none). On success *out is a new stream
 * the caller releases with pl_tls_destroy. Returns 0, -ETIMEDOUT, -ECONNREFUSED, -EPROTO, ... */
int pl_tls_connect(pl_tls_t **out, const char *host, int port, int timeout_ms);

/* Writes all of buf. Returns 0, or a negative errno (-EPIPE/-ECONNRESET once the server has
 * closed; -ETIMEDOUT if the server stops reading for 10 s). After a failure only destroy. */
int pl_tls_write(pl_tls_t *t, const void *buf, size_t len);

/* Reads up to cap bytes, waiting up to timeout_ms (<0: forever; 0: only what has arrived).
 * Returns >0 bytes, 0 when the server closed the connection (close_notify, FIN or reset),
 * -ETIMEDOUT, or another negative errno. */
int pl_tls_read(pl_tls_t *t, void *buf, size_t cap, int timeout_ms);

/* Sends close_notify if possible (without waiting), closes and frees. NULL ok. */
void pl_tls_destroy(pl_tls_t *t);

#endif
