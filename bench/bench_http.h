/* A tiny plain-HTTP/1.1 client for the benchmarks: one request per TCP connection
 * ("Connection: close") to 127.0.0.1 only, blocking, with one deadline for the whole exchange.
 * It exists for Janus's REST API (tests/support/https.h speaks only HTTPS). The response body is
 * framed by Content-Length, chunked encoding or the end of the stream. Header-only because the
 * Makefile builds every bench .c file as its own program. */
#ifndef PL_BENCH_HTTP_H
#define PL_BENCH_HTTP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline long long pl_bhttp__ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for `events` before the deadline: 0, -ETIMEDOUT or -errno. */
static inline int pl_bhttp__wait(int fd, short events, long long deadline_ms)
{
    for (;;) {
        long long left = deadline_ms - pl_bhttp__ms();
        if (left <= 0) return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0) return 0;
        if (n < 0 && errno != EINTR) return -errno;
    }
}

/* Undoes chunked transfer coding in place; returns the decoded length or -EPROTO. */
static inline long pl_bhttp__unchunk(char *body, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        unsigned long n = strtoul(body + in, &end, 16);
        char *crlf = strstr(body + in, "\r\n");
        if (end == body + in || !crlf) return -EPROTO;
        in = (size_t)(crlf - body) + 2;
        if (n == 0) break;
        if (in + n + 2 > len) return -EPROTO;
        memmove(body + out, body + in, n);
        out += n;
        in += n + 2;
    }
    body[out] = '\0';
    return (long)out;
}

/* Sends `method path` (body may be NULL) to 127.0.0.1:port and reads the response within
 * timeout_ms. On success returns the HTTP status and *body_out is the malloc'd NUL-terminated
 * body (the caller frees). Otherwise a negative errno, and *body_out is NULL. */
static inline int pl_bench_http(int port, const char *method, const char *path, const char *body,
                                int timeout_ms, char **body_out)
{
    *body_out = NULL;
    long long deadline = pl_bhttp__ms() + timeout_ms;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) rc = -errno;
    if (rc == 0) rc = pl_bhttp__wait(fd, POLLOUT, deadline);
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr) rc = -soerr;
    size_t blen = body ? strlen(body) : 0;
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, port, blen);
    const char *parts[2] = {head, body};
    size_t lens[2] = {(size_t)hl, blen};
    for (int i = 0; i < 2 && rc == 0; i++) {
        size_t off = 0;
        while (off < lens[i] && rc == 0) {
            ssize_t n = send(fd, parts[i] + off, lens[i] - off, MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno == EAGAIN)
                rc = pl_bhttp__wait(fd, POLLOUT, deadline);
            else if (n < 0 && errno != EINTR)
                rc = -errno;
        }
    }
    size_t cap = 16384, len = 0;
    char *buf = rc == 0 ? malloc(cap) : NULL;
    if (rc == 0 && !buf) rc = -ENOMEM;
    while (rc == 0) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n > 0)
            len += (size_t)n;
        else if (n == 0)
            break;
        else if (errno == EAGAIN)
            rc = pl_bhttp__wait(fd, POLLIN, deadline);
        else if (errno != EINTR)
            rc = -errno;
    }
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    int status = 0;
    char *hdr_end = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || !hdr_end) {
        free(buf);
        return -EPROTO;
    }
    *hdr_end = '\0';
    bool chunked = false;
    for (char *l = strstr(buf, "\r\n"); l; l = strstr(l + 2, "\r\n"))
        if (strncasecmp(l + 2, "transfer-encoding:", 18) == 0 && strstr(l + 2, "chunked"))
            chunked = true;
    size_t blen_in = len - (size_t)(hdr_end + 4 - buf);
    memmove(buf, hdr_end + 4, blen_in);
    buf[blen_in] = '\0';
    if (chunked && pl_bhttp__unchunk(buf, blen_in) < 0) {
        free(buf);
        return -EPROTO;
    }
    *body_out = buf;
    return status;
}

#endif
