/* libFuzzer target for media/stun.c: the datagram parser, both hash checks, and the writers
 * that read a parsed request (the answers media/ice.c sends, and a request rebuilt from the
 * parsed fields).
 *
 * Input: one option byte, then the datagram. The option byte picks the ICE password (so that
 * seeds with a valid MESSAGE-INTEGRITY exist for each password below), the error code, the
 * mapped address family, and whether responses carry MESSAGE-INTEGRITY. Everything the writers
 * produce is parsed and verified again: a response that does not parse, or whose hashes do not
 * verify, is a bug in the writer and aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/err.h"
#include "media/stun.h"

/* The passwords the seeds are keyed with: RFC 5769's, the one test_stun.c's browser-style
 * request uses, one shaped like Parley's own (22 ice-chars), and a short one. */
static const char *const pwds[4] = {
    "VOkJxbRl1RmTxUk/WvJxBt",
    "serverPasswordOf24Chars+",
    "parleyparleyparleypa+/",
    "pw",
};

static const int codes[4] = {400, 401, 420, 487};

/* A written message must parse, carry the transaction id and a good FINGERPRINT, and verify
 * with pwd when one was given. */
static void check_written(const uint8_t *out, size_t n, const uint8_t *txid, const char *pwd,
                          pl_stun_msg_t *back)
{
    if (n == 0 || n > PL_STUN_MAX_LEN) abort();
    if (!pl_stun_is_stun(out, n) || pl_stun_parse(out, n, back) != 0) abort();
    if (memcmp(back->txid, txid, PL_STUN_TXID_LEN) != 0) abort();
    if (pl_stun_verify_fingerprint(back) != 0) abort();
    if (pwd != NULL && pl_stun_verify_integrity(back, pwd) != 0) abort();
    if (pwd == NULL && back->mi_offset != 0) abort();
}

static void mapped_addr(unsigned which, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (which == 0) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(32853);
        a->sin_addr.s_addr = htonl(0xC0000201u); /* 192.0.2.1 */
    } else if (which == 1 || which == 2) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                                       0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
        static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(32853);
        memcpy(a->sin6_addr.s6_addr, which == 1 ? v6 : mapped, 16);
    } else {
        ss->ss_family = AF_UNIX; /* refused by the writer */
    }
}

static void write_responses(const pl_stun_msg_t *req, uint8_t opt)
{
    const char *pwd = (opt & 0x40) ? NULL : pwds[opt & 3];
    uint8_t out[PL_STUN_RESPONSE_MAX];
    size_t n = 0;
    pl_stun_msg_t back;
    struct sockaddr_storage ss;
    unsigned family = (opt >> 4) & 3;

    mapped_addr(family, &ss);
    int rc = pl_stun_write_binding_success(req, (const struct sockaddr *)&ss, pwd, out, sizeof out,
                                           &n);
    if (family == 3) {
        if (rc != -PL_EINVAL) abort();
    } else {
        if (rc != 0) abort();
        check_written(out, n, req->txid, pwd, &back);
        if (back.cls != PL_STUN_CLASS_SUCCESS || back.method != PL_STUN_METHOD_BINDING) abort();
        if (!back.has_xor_mapped || back.xor_mapped.ss_family != (family == 1 ? AF_INET6 : AF_INET))
            abort();
        /* Every shorter buffer is refused, never overrun. */
        size_t full = n;
        if (pl_stun_write_binding_success(req, (const struct sockaddr *)&ss, pwd, out, full - 1,
                                          &n) != -PL_ETOOBIG)
            abort();
    }

    int code = codes[(opt >> 2) & 3];
    rc = pl_stun_write_binding_error(req, code, pwd, out, sizeof out, &n);
    if (rc != 0) abort();
    check_written(out, n, req->txid, pwd, &back);
    if (back.cls != PL_STUN_CLASS_ERROR || back.method != req->method) abort();
    if (!back.has_error || back.error_code != code) abort();
    if (pl_stun_write_binding_error(req, code, pwd, out, n - 1, &n) != -PL_ETOOBIG) abort();
}

/* Rebuilds a Binding request from the parsed fields, as a browser would send it. */
static void rewrite_request(const pl_stun_msg_t *m, uint8_t opt)
{
    char user[PL_STUN_USERNAME_MAX + 1];
    uint8_t out[PL_STUN_MAX_LEN];
    size_t n = 0;
    pl_stun_msg_t back;

    if (m->username == NULL) return;
    memcpy(user, m->username, m->username_len);
    user[m->username_len] = '\0';
    pl_stun_request_t r = {
        .txid = m->txid,
        .username = user,
        .pwd = pwds[opt & 3],
        .priority = m->priority,
        .role = m->has_ice_controlling  ? PL_STUN_ROLE_CONTROLLING
                : m->has_ice_controlled ? PL_STUN_ROLE_CONTROLLED
                                        : PL_STUN_ROLE_NONE,
        .tie_breaker = m->has_ice_controlling ? m->ice_controlling : m->ice_controlled,
        .use_candidate = m->use_candidate,
    };
    int rc = pl_stun_write_binding_request(&r, out, sizeof out, &n);
    if (strlen(user) == 0) {
        if (rc != -PL_EINVAL) abort();
        return;
    }
    if (rc != 0) abort();
    check_written(out, n, m->txid, r.pwd, &back);
    if (back.cls != PL_STUN_CLASS_REQUEST || back.username_len != strlen(user) ||
        memcmp(back.username, user, back.username_len) != 0 || back.priority != m->priority ||
        back.use_candidate != m->use_candidate || back.n_unknown != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t opt = data[0];
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    pl_stun_msg_t m;

    bool looks = pl_stun_is_stun(buf, len);
    if (pl_stun_parse(buf, len, &m) != 0) return 0;
    if (!looks) abort(); /* whatever parses must also pass the demultiplexer */

    int rc = pl_stun_verify_fingerprint(&m);
    if (rc != 0 && rc != -PL_ENOTFOUND && rc != -PL_EINVAL) abort();
    if ((rc == -PL_ENOTFOUND) != (m.fp_offset == 0)) abort();
    rc = pl_stun_verify_integrity(&m, pwds[opt & 3]);
    if (rc != 0 && rc != -PL_ENOTFOUND && rc != -PL_EAUTH) abort();
    if ((rc == -PL_ENOTFOUND) != (m.mi_offset == 0)) abort();
    if (pl_stun_verify_integrity(&m, "") != -PL_EINVAL) abort();

    /* Read everything the view points at, so ASan sees any pointer past the datagram. */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < m.username_len; i++)
        sink ^= m.username[i];
    for (size_t i = 0; i < m.error_reason_len; i++)
        sink ^= m.error_reason[i];
    (void)sink;

    write_responses(&m, opt);
    rewrite_request(&m, opt);
    return 0;
}
