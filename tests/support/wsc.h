/* Test support: a TLS + WebSocket (RFC 6455) client for driving the real Parley server from
 * integration tests and the load-generating benchmark. Blocking use: connect, send, recv with a
 * timeout. Benchmark use: connect, pl_wsc_set_nonblocking, then pl_wsc_pump whenever epoll says
 * the fd is readable. Every function returns 0 or a negative errno unless it says otherwise.
 * Per-connection memory is small (one shared SSL_CTX; a 2 KB receive buffer that grows only for
 * bigger messages), so a process can hold thousands of connections. Not thread-safe. */
#ifndef PL_TEST_WSC_H
#define PL_TEST_WSC_H

#include <stddef.h>

typedef struct pl_wsc pl_wsc_t;

/* WebSocket opcodes, for pl_wsc_send_frame. */
enum {
    PL_WSC_OP_CONT = 0x0,
    PL_WSC_OP_TEXT = 0x1,
    PL_WSC_OP_BINARY = 0x2,
    PL_WSC_OP_CLOSE = 0x8,
    PL_WSC_OP_PING = 0x9,
    PL_WSC_OP_PONG = 0xA,
};

/* TCP connect to host:port, TLS handshake (no certificate verification: the test server's cert
 * is self-signed; SNI "localhost" for an IP literal, else host), then the WebSocket upgrade on
 * `path` requesting subprotocol "parley.v1". extra_headers is NULL or CRLF-terminated header
 * lines (e.g. "Cookie: parley_session=abc\r\n", "Origin: https://localhost\r\n"); no Origin is
 * sent unless given there. Verifies the 101 status, Sec-WebSocket-Accept and the negotiated
 * subprotocol. *http_status (if non-NULL) gets the response status, or 0 if none was read.
 * Returns 0 with a new connection in *out (free with pl_wsc_destroy or pl_wsc_abort);
 * -EACCES when the server answered with a status other than 101; -EPROTO for a bad upgrade
 * response; -ETIMEDOUT when connect+handshake exceeded timeout_ms (<0: no limit); other
 * negative errnos (-ECONNREFUSED, -ECONNRESET, ...). On failure *out is NULL. */
int pl_wsc_connect(pl_wsc_t **out, const char *host, int port, const char *path,
                   const char *extra_headers, int timeout_ms, int *http_status);

/* Sends data as one masked FIN text frame. Works in blocking and non-blocking mode (waits for
 * the socket to drain, up to 10 s). Returns 0, -ECONNRESET once the server has closed, -EPIPE
 * after an earlier write failed, -ETIMEDOUT, or another negative errno. */
int pl_wsc_send_text(pl_wsc_t *c, const char *data, size_t len);

/* Sends one masked frame with any opcode (0..15) and FIN bit, and any length (including control
 * frames over 125 bytes): for protocol-abuse tests (fragments, binary, ping, oversize). No
 * checking of what is sent. Returns as pl_wsc_send_text. */
int pl_wsc_send_frame(pl_wsc_t *c, int opcode, int fin, const void *payload, size_t len);

/* Writes raw bytes on the TLS stream (no framing). Returns as pl_wsc_send_text. */
int pl_wsc_send_raw(pl_wsc_t *c, const void *bytes, size_t len);

/* Waits up to timeout_ms (<0: forever; 0: only what has already arrived) for the next complete
 * text or binary message, reassembling fragments, answering pings with pongs and ignoring pongs.
 * On 0, *out is a malloc'd, NUL-terminated copy the caller frees, and *len (if non-NULL) its
 * length. Returns 0, -ETIMEDOUT, -ECONNRESET when the server closed (close frame, which is
 * answered, or EOF; then pl_wsc_close_code gives the code), -EMSGSIZE for a message over 64 MiB,
 * or -EPROTO for an invalid frame from the server. */
int pl_wsc_recv(pl_wsc_t *c, int timeout_ms, char **out, size_t *len);

/* The close code the server sent, or 0 if it closed without one (or has not closed). */
int pl_wsc_close_code(const pl_wsc_t *c);

/* The socket, for epoll. Owned by c. */
int pl_wsc_fd(const pl_wsc_t *c);

/* Marks the connection for non-blocking use with pl_wsc_pump. (The socket is in fact always
 * non-blocking; blocking calls poll with deadlines, so they keep working after this.) */
int pl_wsc_set_nonblocking(pl_wsc_t *c);

/* Reads everything available without waiting (until the socket would block and OpenSSL holds
 * no buffered record, so edge-triggered epoll is fine) and calls on_msg for each complete message.
 * msg is borrowed, NUL-terminated, valid until on_msg returns. on_msg may send on c (or on any
 * other connection) but must not recv, pump, destroy or abort c. Returns 0, or -ECONNRESET once
 * the server has closed (messages before the close are delivered first), or another negative
 * errno as pl_wsc_recv. */
int pl_wsc_pump(pl_wsc_t *c, void (*on_msg)(void *ud, const char *msg, size_t len), void *ud);

/* Sends a close frame (1000) if the connection is still open, waits briefly (up to 1 s) for the
 * server's close reply so the server sees a clean close rather than a reset, then frees. NULL ok.
 */
void pl_wsc_destroy(pl_wsc_t *c);

/* Drops the TCP connection at once, without a close frame or TLS close_notify, and frees. NULL ok.
 */
void pl_wsc_abort(pl_wsc_t *c);

#endif
