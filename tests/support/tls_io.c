/* Client-side TCP+TLS plumbing shared by the WebSocket client (wsc.c) and the HTTPS helpers
 * (https.c). One SSL_CTX serves every connection: the benchmark holds thousands, and a context per
 * connection would cost far more memory than the connections themselves. It is created lazily and
 * never freed (test processes are short-lived; thread safety is not needed). Sockets are always
 * non-blocking and every wait is a poll() against an absolute deadline. */
#include "tests/support/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static SSL_CTX *shared_ctx;

int64_t pl_tls__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pl_tls__deadline(int timeout_ms)
{
    if (timeout_ms < 0) return PL_TLS__NO_DEADLINE;
    return pl_tls__now_ms() + timeout_ms;
}

/* Milliseconds left for poll(): -1 for no deadline, 0 once it has passed. */
static int remaining_ms(int64_t deadline)
{
    if (deadline == PL_TLS__NO_DEADLINE) return -1;
    int64_t left = deadline - pl_tls__now_ms();
    if (left <= 0) return 0;
    return left > 1000000000 ? 1000000000 : (int)left;
}

/* Waits for events on fd. Returns 0 when ready (or on error/hangup, which the next I/O call
 * reports), -ETIMEDOUT, or a negative errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int ms = remaining_ms(deadline);
        if (ms == 0) return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms);
        if (n > 0) return 0;
        if (n == 0) {
            if (deadline != PL_TLS__NO_DEADLINE && pl_tls__now_ms() >= deadline) return -ETIMEDOUT;
            continue;
        }
        if (errno != EINTR) return -errno;
    }
}

void pl_tls__ignore_sigpipe(void)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
        old.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
}

static SSL_CTX *get_ctx(void)
{
    if (shared_ctx) return shared_ctx;
    /* SSL_write on a socket the peer has reset raises SIGPIPE; a test must see an error. */
    pl_tls__ignore_sigpipe();

    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* The test server's certificate is self-signed: no verification, by design. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    /* A peer that drops TCP without close_notify is an ordinary EOF for these tests. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Idle connections give their 2 x ~17 KB record buffers back: the benchmark holds 2,000. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    shared_ctx = ctx;
    return ctx;
}

static int tcp_connect(const char *host, int port, int64_t deadline, int *fd_out)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res) return -EHOSTUNREACH;

    int err = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            err = -errno;
            close(fd);
            continue;
        }
        err = wait_fd(fd, POLLOUT, deadline);
        if (err == 0) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) soerr = errno;
            err = -soerr;
        }
        if (err == 0) {
            int one = 1; /* small WebSocket frames must not wait for Nagle + delayed ACK */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            *fd_out = fd;
            break;
        }
        close(fd);
        if (err == -ETIMEDOUT) break;
    }
    freeaddrinfo(res);
    return err;
}

/* Classifies the result of an SSL I/O call. Returns 1 when it should be retried once *events is
 * ready, 0 at a clean end of stream, or a negative errno. */
static int classify(SSL *ssl, int ret, short *events)
{
    int e = SSL_get_error(ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *events = POLLIN;
        return 1;
    case SSL_ERROR_WANT_WRITE:
        *events = POLLOUT;
        return 1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL: {
        int saved = errno;
        ERR_clear_error();
        if (saved == EINTR) {
            *events = POLLIN | POLLOUT;
            return 1;
        }
        return saved ? -saved : 0; /* no errno: the peer closed TCP */
    }
    default:
        ERR_clear_error();
        return -EPROTO;
    }
}

int pl_tls__open(const char *host, int port, int64_t deadline, int *fd_out, SSL **ssl_out)
{
    SSL_CTX *ctx = get_ctx();
    if (!ctx) return -ENOMEM;
    int fd = -1;
    int err = tcp_connect(host, port, deadline, &fd);
    if (err < 0) return err;

    SSL *ssl = SSL_new(ctx);
    if (!ssl || !SSL_set_fd(ssl, fd)) {
        pl_tls__close(fd, ssl, 0);
        return -ENOMEM;
    }
    unsigned char addr[sizeof(struct in6_addr)];
    int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    char sni[256]; /* SSL_set_tlsext_host_name takes a non-const pointer */
    snprintf(sni, sizeof sni, "%s", is_ip ? "localhost" : host);
    SSL_set_tlsext_host_name(ssl, sni);

    for (;;) {
        ERR_clear_error();
        errno = 0; /* SSL_ERROR_SYSCALL reads errno; a stale EAGAIN must not leak in */
        int r = SSL_connect(ssl);
        if (r == 1) break;
        short ev = 0;
        int c = classify(ssl, r, &ev);
        if (c == 1)
            c = wait_fd(fd, ev, deadline);
        else if (c == 0)
            c = -ECONNRESET; /* closed during the handshake */
        if (c < 0) {
            pl_tls__close(fd, ssl, 0);
            return c;
        }
    }
    *fd_out = fd;
    *ssl_out = ssl;
    return 0;
}

int pl_tls__write_all(SSL *ssl, int fd, const void *buf, size_t len, int64_t deadline)
{
    const unsigned char *p = buf;
    while (len > 0) {
        /* SSL_write takes an int; large buffers go in slices. */
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        ERR_clear_error();
        errno = 0;
        int r = SSL_write(ssl, p, chunk);
        if (r > 0) {
            p += r;
            len -= (size_t)r;
            continue;
        }
        short ev = 0;
        int c = classify(ssl, r, &ev);
        if (c == 1)
            c = wait_fd(fd, ev, deadline);
        else if (c == 0)
            c = -EPIPE;
        if (c < 0) return c;
    }
    return 0;
}

int pl_tls__read(SSL *ssl, int fd, void *buf, size_t cap, int64_t deadline)
{
    int want = cap > (1u << 30) ? (1 << 30) : (int)cap;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_read(ssl, buf, want);
        if (r > 0) return r;
        short ev = 0;
        int c = classify(ssl, r, &ev);
        if (c <= 0) return c;
        /* SSL_read has just found the socket empty, so a passed deadline needs no poll. */
        c = wait_fd(fd, ev, deadline);
        if (c < 0) return c;
    }
}

void pl_tls__close(int fd, SSL *ssl, int graceful)
{
    if (ssl) {
        if (graceful) {
            ERR_clear_error();
            SSL_shutdown(ssl); /* one non-blocking attempt; the reply is not awaited */
        }
        ERR_clear_error();
        SSL_free(ssl);
    }
    if (fd >= 0) close(fd);
}
