/* Internal to tests/support: the one shared client SSL_CTX, TCP+TLS connect with a deadline,
 * deadline-driven reads and writes on a non-blocking socket, and HTTP head parsing. wsc.c and
 * https.c are built on it; tests include wsc.h, https.h and server.h, never this file.
 *
 * Every socket here is non-blocking from connect on; "blocking" calls poll until a deadline.
 * That keeps one code path for the tests' blocking use and the benchmark's epoll use, and lets
 * every wait honour a timeout. */
#ifndef PL_TEST_SUPPORT_INTERNAL_H
#define PL_TEST_SUPPORT_INTERNAL_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#define PL_TLS__NO_DEADLINE INT64_MAX
/* Writes have no timeout in the public APIs; a peer that stops reading fails them after this. */
#define PL_TLS__WRITE_TIMEOUT_MS 10000

/* Monotonic milliseconds. */
int64_t pl_tls__now_ms(void);
/* Absolute deadline timeout_ms from now; a negative timeout means no deadline. */
int64_t pl_tls__deadline(int timeout_ms);

/* TCP connect to host:port, then a TLS client handshake (no certificate verification; SNI is
 * host, or "localhost" when host is an IP literal), all before deadline. On success *fd_out is a
 * non-blocking, close-on-exec, TCP_NODELAY socket and *ssl_out owns nothing but the SSL; the
 * caller releases both with pl_tls__close. Returns 0, -ETIMEDOUT, -EPROTO (TLS failure), or
 * another negative errno; on failure nothing is left open. Ignores SIGPIPE process-wide on first
 * use (writes to a peer that has gone must fail, not kill the test). */
int pl_tls__open(const char *host, int port, int64_t deadline, int *fd_out, SSL **ssl_out);

/* Writes all of buf, polling as needed. Returns 0, -ETIMEDOUT, -EPIPE/-ECONNRESET when the peer
 * has gone, -EPROTO, or another negative errno. After a failure the stream must not be written
 * again (OpenSSL may hold part of a record). */
int pl_tls__write_all(SSL *ssl, int fd, const void *buf, size_t len, int64_t deadline);

/* Reads what is available, up to cap bytes, waiting until deadline for at least one byte.
 * Returns >0 bytes, 0 at end of stream (close_notify or TCP EOF), -ETIMEDOUT when nothing came
 * by the deadline (at once, without polling, when the deadline has passed), -ECONNRESET, or
 * another negative errno. Calling it with a past deadline is a non-blocking read. */
int pl_tls__read(SSL *ssl, int fd, void *buf, size_t cap, int64_t deadline);

/* Sets SIGPIPE to be ignored if it still has its default action (a handler the test installed is
 * left alone): writing to a peer or child that has gone must fail with EPIPE, not kill the test. */
void pl_tls__ignore_sigpipe(void);

/* Frees ssl and closes fd (either may be NULL / -1). When graceful, first tries once, without
 * waiting, to send a TLS close_notify. */
void pl_tls__close(int fd, SSL *ssl, int graceful);

/* Parses an HTTP response head: the status line and header lines, ending with the blank line
 * (head_len counts up to and including the final CRLFCRLF). *headers is a malloc'd,
 * NUL-terminated copy of the header lines (each ending CRLF, without the status line and the blank
 * line); the caller frees it. Returns 0 or -EPROTO. */
int pl_http__parse_head(const char *head, size_t head_len, int *status, char **headers);

/* Case-insensitive lookup of a header in CRLF-separated lines; returns a malloc'd copy of the
 * first match's value with surrounding whitespace trimmed, or NULL. */
char *pl_http__header_find(const char *headers, const char *name);

#endif
