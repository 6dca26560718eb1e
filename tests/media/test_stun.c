/* Unit tests for media/stun.c: the RFC 5769 test vectors (request, IPv4 and IPv6 responses),
 * round trips through the writers, buffer limits, and malformed input of every kind the
 * parser must refuse, including every truncation and every single-bit flip of a vector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/err.h"
#include "media/stun.h"

static const char rfc_pwd[] = "VOkJxbRl1RmTxUk/WvJxBt";

/* RFC 5769 section 2.1: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME "evtj:h6vY", MI, FP.
 * SOFTWARE and USERNAME are padded with spaces, which RFC 5389 allows. */
static const uint8_t rfc_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 section 2.2: SOFTWARE, XOR-MAPPED-ADDRESS 192.0.2.1:32853, MI, FP. */
static const uint8_t rfc_resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 section 2.3: SOFTWARE, XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853,
 * MI, FP. */
static const uint8_t rfc_resp6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

#define RFC_XMA4_AT 36 /* offset of XOR-MAPPED-ADDRESS in rfc_resp4 and rfc_resp6 */
#define RFC_PORT 32853

static struct sockaddr_in addr4(const char *ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return a;
}

static struct sockaddr_in6 addr6(const char *ip, uint16_t port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
    return a;
}

/* A message under construction, for inputs the writers would never produce. */
typedef struct {
    uint8_t b[1600];
    size_t len;
} msg_t;

static void m_start(msg_t *m, uint16_t type)
{
    memset(m, 0, sizeof *m);
    m->b[0] = (uint8_t)(type >> 8);
    m->b[1] = (uint8_t)type;
    memcpy(m->b + 4, rfc_req + 4, 16); /* cookie and the RFC 5769 transaction id */
    m->len = 20;
}

/* Appends an attribute with zero padding and updates the header length. */
static void m_attr(msg_t *m, uint16_t type, const void *v, size_t n)
{
    uint8_t *p = m->b + m->len;
    p[0] = (uint8_t)(type >> 8);
    p[1] = (uint8_t)type;
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    if (n > 0) memcpy(p + 4, v, n);
    m->len += 4 + ((n + 3) & ~(size_t)3);
    m->b[2] = (uint8_t)((m->len - 20) >> 8);
    m->b[3] = (uint8_t)(m->len - 20);
}

static void test_rfc5769_request_parses_every_attribute(void **state)
{
    (void)state;
    pl_stun_msg_t m;

    assert_true(pl_stun_is_stun(rfc_req, sizeof rfc_req));
    assert_int_equal(pl_stun_parse(rfc_req, sizeof rfc_req, &m), 0);
    assert_int_equal(m.cls, PL_STUN_CLASS_REQUEST);
    assert_int_equal(m.method, PL_STUN_METHOD_BINDING);
    assert_ptr_equal(m.txid, rfc_req + 8);
    assert_int_equal(m.username_len, 9);
    assert_memory_equal(m.username, "evtj:h6vY", 9);
    assert_true(m.has_priority);
    assert_int_equal(m.priority, 0x6e0001ff);
    assert_true(m.has_ice_controlled);
    assert_true(m.ice_controlled == 0x932ff9b151263b36ull);
    assert_false(m.has_ice_controlling);
    assert_false(m.use_candidate);
    assert_false(m.has_xor_mapped);
    assert_int_equal(m.n_unknown, 0); /* SOFTWARE is comprehension-optional */
    assert_int_equal(m.mi_offset, 76);
    assert_int_equal(m.fp_offset, 100);
}

static void test_rfc5769_request_fingerprint_and_integrity_verify(void **state)
{
    (void)state;
    pl_stun_msg_t m;

    assert_int_equal(pl_stun_parse(rfc_req, sizeof rfc_req, &m), 0);
    assert_int_equal(pl_stun_verify_fingerprint(&m), 0);
    assert_int_equal(pl_stun_verify_integrity(&m, rfc_pwd), 0);
}

static void test_rfc5769_request_integrity_fails_with_wrong_password(void **state)
{
    (void)state;
    pl_stun_msg_t m;

    assert_int_equal(pl_stun_parse(rfc_req, sizeof rfc_req, &m), 0);
    assert_int_equal(pl_stun_verify_integrity(&m, "VOkJxbRl1RmTxUk/WvJxBT"), -PL_EAUTH);
    assert_int_equal(pl_stun_verify_integrity(&m, "VOkJxbRl1RmTxUk/WvJxB"), -PL_EAUTH);
    assert_int_equal(pl_stun_verify_integrity(&m, ""), -PL_EINVAL);
    assert_int_equal(pl_stun_verify_integrity(&m, NULL), -PL_EINVAL);
}

static void test_rfc5769_ipv4_response_verifies_and_decodes_address(void **state)
{
    (void)state;
    pl_stun_msg_t m;

    assert_int_equal(pl_stun_parse(rfc_resp4, sizeof rfc_resp4, &m), 0);
    assert_int_equal(m.cls, PL_STUN_CLASS_SUCCESS);
    assert_int_equal(m.method, PL_STUN_METHOD_BINDING);
    assert_int_equal(pl_stun_verify_fingerprint(&m), 0);
    assert_int_equal(pl_stun_verify_integrity(&m, rfc_pwd), 0);
    assert_true(m.has_xor_mapped);
    const struct sockaddr_in *a = (const struct sockaddr_in *)&m.xor_mapped;
    struct sockaddr_in want = addr4("192.0.2.1", RFC_PORT);
    assert_int_equal(a->sin_family, AF_INET);
    assert_int_equal(a->sin_port, want.sin_port);
    assert_int_equal(a->sin_addr.s_addr, want.sin_addr.s_addr);
}

static void test_rfc5769_ipv6_response_verifies_and_decodes_address(void **state)
{
    (void)state;
    pl_stun_msg_t m;

    assert_int_equal(pl_stun_parse(rfc_resp6, sizeof rfc_resp6, &m), 0);
    assert_int_equal(m.cls, PL_STUN_CLASS_SUCCESS);
    assert_int_equal(pl_stun_verify_fingerprint(&m), 0);
    assert_int_equal(pl_stun_verify_integrity(&m, rfc_pwd), 0);
    assert_true(m.has_xor_mapped);
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&m.xor_mapped;
    struct sockaddr_in6 want = addr6("2001:db8:1234:5678:11:2233:4455:6677", RFC_PORT);
    assert_int_equal(a->sin6_family, AF_INET6);
    assert_int_equal(a->sin6_port, want.sin6_port);
    assert_memory_equal(&a->sin6_addr, &want.sin6_addr, 16);
}

/* Our response to the RFC request for the RFC address has the RFC's XOR-MAPPED-ADDRESS bytes
 * and verifies with the RFC password. (The RFC responses also carry SOFTWARE, padded with
 * spaces, so the whole message cannot match byte for byte.) */
static void check_success_matches_vector(const struct sockaddr *a, const uint8_t *vector,
                                         size_t xma_len, int family)
{
    pl_stun_msg_t req, resp;
    uint8_t out[PL_STUN_RESPONSE_MAX];
    size_t n = 0;

    assert_int_equal(pl_stun_parse(rfc_req, sizeof rfc_req, &req), 0);
    assert_int_equal(pl_stun_write_binding_success(&req, a, rfc_pwd, out, sizeof out, &n), 0);
    assert_int_equal(n, 20 + xma_len + 24 + 8);
    assert_memory_equal(out, vector, 2); /* Binding success type */
    assert_memory_equal(out + 4, vector + 4, 16);
    assert_memory_equal(out + 20, vector + RFC_XMA4_AT, xma_len);

    assert_int_equal(pl_stun_parse(out, n, &resp), 0);
    assert_int_equal(resp.cls, PL_STUN_CLASS_SUCCESS);
    assert_int_equal(pl_stun_verify_fingerprint(&resp), 0);
    assert_int_equal(pl_stun_verify_integrity(&resp, rfc_pwd), 0);
    assert_true(resp.has_xor_mapped);
    assert_int_equal(resp.xor_mapped.ss_family, family);
}

static void test_write_success_ipv4_matches_rfc5769_address_bytes(void **state)
{
    (void)state;
    struct sockaddr_in a = addr4("192.0.2.1", RFC_PORT);
    check_success_matches_vector((struct sockaddr *)&a, rfc_resp4, 12, AF_INET);
}

static void test_write_success_ipv6_matches_rfc5769_address_bytes(void **state)
{
    (void)state;
    struct sockaddr_in6 a = addr6("2001:db8:1234:5678:11:2233:4455:6677", RFC_PORT);
    check_success_matches_vector((struct sockaddr *)&a, rfc_resp6, 24, AF_INET6);
}

static void test_write_success_reports_ipv4_mapped_ipv6_as_ipv4(void **state)
{
    (void)state;
    struct sockaddr_in6 a = addr6("::ffff:192.0.2.1", RFC_PORT);
    check_success_matches_vector((struct sockaddr *)&a, rfc_resp4, 12, AF_INET);
}

static void test_write_success_without_password_has_no_integrity(void **state)
{
    (void)state;
    pl_stun_msg_t req, resp;
    uint8_t out[PL_STUN_RESPONSE_MAX];
    size_t n = 0;
    struct sockaddr_in a = addr4("127.0.0.1", 5000);

    assert_int_equal(pl_stun_parse(rfc_req, sizeof rfc_req, &req), 0);
    assert_int_equal(
        pl_stun_write_binding_success(&req, (struct sockaddr *)&a, NULL, out, sizeof out, &n), 0);
    assert_int_equal(pl_stun_parse(out, n, &resp), 0);
    assert_int_equal(resp.mi_offset, 0);
    assert_int_equal(pl_stun_verify_integrity(&resp, rfc_pwd), -PL_ENOTFOUND);
    assert_int_equal(pl_stun_verify_fingerprint(&resp), 0);
}

static void test_write_success_rejects_bad_arguments(void **state)
{
    (void)state;
    pl_stun_msg_t req;
    uint8_t out[PL_STUN_RESPONSE_MAX];
    size_t n = 0;
    struct sockaddr_in a = addr4("127.0.0.1", 5000);
    struct sockaddr other = {.sa_family = AF_UNIX};

    assert_int_equal(pl_stun_parse(rfc_req, sizeof rfc_req, &req), 0);
    const struct sockaddr *sa = (struct sockaddr *)&a;
    assert_int_equal(pl_stun_write_binding_success(NULL, sa, rfc_pwd, out, sizeof out, &n),
                     -PL_EINVAL);
    assert_int_equal(pl_stun_write_binding_success(&req, NULL, rfc_pwd, out, sizeof out, &n),
                     -PL_EINVAL);
    assert_int_equal(pl_stun_write_binding_success(&req, sa, "", out, sizeof out, &n), -PL_EINVAL);
    assert_int_equal(pl_stun_write_binding_success(&req, sa, rfc_pwd, NULL, sizeof out, &n),
                     -PL_EINVAL);
    assert_int_equal(pl_stun_write_binding_success(&req, sa, rfc_pwd, out, sizeof out, NULL),
                     -PL_EINVAL);
    assert_int_equal(pl_stun_write_binding_success(&req, &other, rfc_pwd, out, sizeof out, &n),
                     -PL_EINVAL);
}

/* Writes an error response to the RFC request and parses it back into *resp. */
static void write_error(int code, const char *pwd, pl_stun_msg_t *req, uint8_t *out,
                        pl_stun_msg_t *resp)
{
    size_t n = 0;

    assert_int_equal(pl_stun_parse(rfc_req, sizeof rfc_req, req), 0);
    assert_int_equal(pl_stun_write_binding_error(req, code, pwd, out, PL_STUN_RESPONSE_MAX, &n), 0);
    assert_int_equal(pl_stun_parse(out, n, resp), 0);
    assert_int_equal(resp->cls, PL_STUN_CLASS_ERROR);
    assert_int_equal(resp->method, PL_STUN_METHOD_BINDING);
    assert_memory_equal(resp->txid, req->txid, PL_STUN_TXID_LEN);
    assert_true(resp->has_error);
    assert_int_equal(resp->error_code, code);
    assert_int_equal(pl_stun_verify_fingerprint(resp), 0);
}

static void test_write_error_unauthenticated_has_code_reason_and_no_integrity(void **state)
{
    (void)state;
    pl_stun_msg_t req, resp;
    uint8_t out[PL_STUN_RESPONSE_MAX];

    write_error(400, NULL, &req, out, &resp);
    assert_int_equal(resp.error_reason_len, strlen("Bad Request"));
    assert_memory_equal(resp.error_reason, "Bad Request", resp.error_reason_len);
    assert_int_equal(resp.mi_offset, 0);

    write_error(401, NULL, &req, out, &resp);
    assert_memory_equal(resp.error_reason, "Unauthenticated", resp.error_reason_len);
    assert_int_equal(resp.mi_offset, 0);
}

static void test_write_error_authenticated_carries_integrity(void **state)
{
    (void)state;
    pl_stun_msg_t req, resp;
    uint8_t out[PL_STUN_RESPONSE_MAX];

    write_error(487, rfc_pwd, &req, out, &resp);
    assert_memory_equal(resp.error_reason, "Role Conflict", resp.error_reason_len);
    assert_int_equal(pl_stun_verify_integrity(&resp, rfc_pwd), 0);
    write_error(400, rfc_pwd, &req, out, &resp);
    assert_int_equal(pl_stun_verify_integrity(&resp, rfc_pwd), 0);
}

static void test_write_error_420_lists_unknown_attributes(void **state)
{
    (void)state;
    msg_t m;
    pl_stun_msg_t req, resp;
    uint8_t out[PL_STUN_RESPONSE_MAX];
    size_t n = 0;

    m_start(&m, 0x0001);
    m_attr(&m, 0x0003, "\0\0\0\0", 4); /* CHANGE-REQUEST: comprehension-required, unknown */
    m_attr(&m, 0x7f00, NULL, 0);
    assert_int_equal(pl_stun_parse(m.b, m.len, &req), 0);
    assert_int_equal(pl_stun_write_binding_error(&req, 420, rfc_pwd, out, sizeof out, &n), 0);
    assert_int_equal(pl_stun_parse(out, n, &resp), 0);
    assert_int_equal(resp.error_code, 420);
    /* UNKNOWN-ATTRIBUTES follows ERROR-CODE ("Unknown Attribute", 17 bytes padded to 20). */
    static const uint8_t ua[] = {0x00, 0x0a, 0x00, 0x04, 0x00, 0x03, 0x7f, 0x00};
    assert_memory_equal(out + 20 + 4 + 4 + 20, ua, sizeof ua);
    assert_int_equal(pl_stun_verify_integrity(&resp, rfc_pwd), 0);
}

static void test_write_error_rejects_other_codes(void **state)
{
    (void)state;
    pl_stun_msg_t req;
    uint8_t out[PL_STUN_RESPONSE_MAX];
    size_t n = 0;

    assert_int_equal(pl_stun_parse(rfc_req, sizeof rfc_req, &req), 0);
    assert_int_equal(pl_stun_write_binding_error(&req, 500, NULL, out, sizeof out, &n), -PL_EINVAL);
    assert_int_equal(pl_stun_write_binding_error(&req, 0, NULL, out, sizeof out, &n), -PL_EINVAL);
    assert_int_equal(pl_stun_write_binding_error(&req, 400, "", out, sizeof out, &n), -PL_EINVAL);
}

static void test_writers_refuse_every_buffer_too_small(void **state)
{
    (void)state;
    pl_stun_msg_t req;
    uint8_t out[PL_STUN_RESPONSE_MAX];
    size_t full = 0, n = 0;
    struct sockaddr_in6 a = addr6("2001:db8::1", 9);
    const struct sockaddr *sa = (struct sockaddr *)&a;
    pl_stun_request_t r = {.username = "abcd:efgh", .pwd = rfc_pwd, .use_candidate = true};

    assert_int_equal(pl_stun_parse(rfc_req, sizeof rfc_req, &req), 0);
    assert_int_equal(pl_stun_write_binding_success(&req, sa, rfc_pwd, out, sizeof out, &full), 0);
    for (size_t cap = 0; cap < full; cap++)
        assert_int_equal(pl_stun_write_binding_success(&req, sa, rfc_pwd, out, cap, &n),
                         -PL_ETOOBIG);

    assert_int_equal(pl_stun_write_binding_error(&req, 487, rfc_pwd, out, sizeof out, &full), 0);
    for (size_t cap = 0; cap < full; cap++)
        assert_int_equal(pl_stun_write_binding_error(&req, 487, rfc_pwd, out, cap, &n),
                         -PL_ETOOBIG);

    assert_int_equal(pl_stun_write_binding_request(&r, out, sizeof out, &full), 0);
    for (size_t cap = 0; cap < full; cap++) {
        assert_int_equal(pl_stun_write_binding_request(&r, out, cap, &n), -PL_ETOOBIG);
        assert_int_equal(n, 0);
    }
}

static void test_write_request_round_trips_every_field(void **state)
{
    (void)state;
    static const uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    pl_stun_request_t r = {
        .txid = txid,
        .username = "srvUfrag:brwsr",
        .pwd = "serverPasswordOf24Chars+",
        .priority = 0x7e7f00ff,
        .role = PL_STUN_ROLE_CONTROLLING,
        .tie_breaker = 0x0123456789abcdefull,
        .use_candidate = true,
    };
    uint8_t out[256];
    size_t n = 0;
    pl_stun_msg_t m;

    assert_int_equal(pl_stun_write_binding_request(&r, out, sizeof out, &n), 0);
    assert_int_equal(n % 4, 0);
    assert_true(pl_stun_is_stun(out, n));
    assert_int_equal(pl_stun_parse(out, n, &m), 0);
    assert_int_equal(m.cls, PL_STUN_CLASS_REQUEST);
    assert_int_equal(m.method, PL_STUN_METHOD_BINDING);
    assert_memory_equal(m.txid, txid, 12);
    assert_int_equal(m.username_len, strlen(r.username));
    assert_memory_equal(m.username, r.username, m.username_len);
    assert_true(m.has_priority);
    assert_int_equal(m.priority, r.priority);
    assert_true(m.has_ice_controlling);
    assert_true(m.ice_controlling == r.tie_breaker);
    assert_false(m.has_ice_controlled);
    assert_true(m.use_candidate);
    assert_int_equal(pl_stun_verify_fingerprint(&m), 0);
    assert_int_equal(pl_stun_verify_integrity(&m, r.pwd), 0);
    assert_int_equal(pl_stun_verify_integrity(&m, rfc_pwd), -PL_EAUTH);
    assert_int_equal(m.fp_offset, n - 8);
    assert_int_equal(m.mi_offset, n - 32);
}

static void test_write_request_roles_and_random_transaction_ids(void **state)
{
    (void)state;
    pl_stun_request_t r = {.username = "a:b", .pwd = "pw", .role = PL_STUN_ROLE_CONTROLLED};
    uint8_t out1[128], out2[128];
    size_t n1 = 0, n2 = 0;
    pl_stun_msg_t m;

    assert_int_equal(pl_stun_write_binding_request(&r, out1, sizeof out1, &n1), 0);
    assert_int_equal(pl_stun_parse(out1, n1, &m), 0);
    assert_true(m.has_ice_controlled);
    assert_false(m.has_ice_controlling);
    assert_false(m.use_candidate);

    r.role = PL_STUN_ROLE_NONE;
    assert_int_equal(pl_stun_write_binding_request(&r, out2, sizeof out2, &n2), 0);
    assert_int_equal(pl_stun_parse(out2, n2, &m), 0);
    assert_false(m.has_ice_controlled);
    assert_false(m.has_ice_controlling);
    assert_memory_not_equal(out1 + 8, out2 + 8, 12);
}

static void test_write_request_rejects_bad_arguments(void **state)
{
    (void)state;
    char big[PL_STUN_USERNAME_MAX + 2];
    uint8_t out[1024];
    size_t n = 0;
    pl_stun_request_t r = {.username = "a:b", .pwd = "pw"};

    assert_int_equal(pl_stun_write_binding_request(NULL, out, sizeof out, &n), -PL_EINVAL);
    assert_int_equal(pl_stun_write_binding_request(&r, NULL, sizeof out, &n), -PL_EINVAL);
    assert_int_equal(pl_stun_write_binding_request(&r, out, sizeof out, NULL), -PL_EINVAL);
    r.pwd = "";
    assert_int_equal(pl_stun_write_binding_request(&r, out, sizeof out, &n), -PL_EINVAL);
    r.pwd = NULL;
    assert_int_equal(pl_stun_write_binding_request(&r, out, sizeof out, &n), -PL_EINVAL);
    r.pwd = "pw";
    r.username = "";
    assert_int_equal(pl_stun_write_binding_request(&r, out, sizeof out, &n), -PL_EINVAL);
    memset(big, 'u', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    r.username = big;
    assert_int_equal(pl_stun_write_binding_request(&r, out, sizeof out, &n), -PL_EINVAL);
    big[PL_STUN_USERNAME_MAX] = '\0'; /* exactly the maximum is allowed */
    assert_int_equal(pl_stun_write_binding_request(&r, out, sizeof out, &n), 0);
}

static void test_parse_rejects_empty_one_byte_and_truncated_header(void **state)
{
    (void)state;
    pl_stun_msg_t m;

    assert_int_equal(pl_stun_parse(rfc_req, 0, &m), -PL_EINVAL);
    assert_int_equal(pl_stun_parse(rfc_req, 1, &m), -PL_EINVAL);
    assert_int_equal(pl_stun_parse(rfc_req, 19, &m), -PL_EINVAL);
    assert_int_equal(pl_stun_parse(NULL, 20, &m), -PL_EINVAL);
    assert_int_equal(pl_stun_parse(rfc_req, sizeof rfc_req, NULL), -PL_EINVAL);
    assert_false(pl_stun_is_stun(rfc_req, 19));
    assert_false(pl_stun_is_stun(NULL, 20));
}

static void test_parse_rejects_every_truncation_of_a_vector(void **state)
{
    (void)state;
    pl_stun_msg_t m;

    for (size_t len = 0; len < sizeof rfc_req; len++)
        assert_int_equal(pl_stun_parse(rfc_req, len, &m), -PL_EINVAL);
}

static void test_parse_rejects_bad_cookie_and_first_byte(void **state)
{
    (void)state;
    uint8_t b[sizeof rfc_req];
    pl_stun_msg_t m;

    memcpy(b, rfc_req, sizeof b);
    b[7] ^= 0x01;
    assert_false(pl_stun_is_stun(b, sizeof b));
    assert_int_equal(pl_stun_parse(b, sizeof b, &m), -PL_EINVAL);

    /* RFC 7983: 20..63 is DTLS, 128..191 RTP/RTCP; 4 and up is never STUN. */
    static const uint8_t firsts[] = {0x04, 0x16, 0x40, 0x80, 0xbf};
    for (size_t i = 0; i < sizeof firsts; i++) {
        memcpy(b, rfc_req, sizeof b);
        b[0] = firsts[i];
        assert_false(pl_stun_is_stun(b, sizeof b));
        assert_int_equal(pl_stun_parse(b, sizeof b, &m), -PL_EINVAL);
    }
}

static void test_parse_rejects_length_not_multiple_of_four_or_not_datagram(void **state)
{
    (void)state;
    uint8_t b[sizeof rfc_req + 4];
    pl_stun_msg_t m;

    memcpy(b, rfc_req, sizeof rfc_req);
    b[3] = 0x57; /* 87: not a multiple of 4 */
    assert_int_equal(pl_stun_parse(b, sizeof rfc_req - 1, &m), -PL_EINVAL);
    assert_int_equal(pl_stun_parse(b, sizeof rfc_req, &m), -PL_EINVAL);
    b[3] = 0x54; /* 84: datagram is 4 bytes longer than the message says */
    assert_int_equal(pl_stun_parse(b, sizeof rfc_req, &m), -PL_EINVAL);
    b[3] = 0x5c; /* 92: says 4 bytes more than there are */
    assert_int_equal(pl_stun_parse(b, sizeof rfc_req, &m), -PL_EINVAL);
    memset(b + sizeof rfc_req, 0, 4); /* trailing bytes past the message */
    b[3] = 0x58;
    assert_int_equal(pl_stun_parse(b, sizeof b, &m), -PL_EINVAL);
}

static void test_parse_accepts_1500_bytes_and_rejects_oversized(void **state)
{
    (void)state;
    static uint8_t filler[1500];
    msg_t m;
    pl_stun_msg_t v;

    m_start(&m, 0x0001);
    m_attr(&m, 0x8000, filler, 1500 - 20 - 4); /* optional attribute filling a full datagram */
    assert_int_equal(m.len, PL_STUN_MAX_LEN);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), 0);

    m_start(&m, 0x0001);
    m_attr(&m, 0x8000, filler, 1500 - 20);
    assert_int_equal(m.len, PL_STUN_MAX_LEN + 4);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), -PL_EINVAL);
}

static void test_parse_rejects_attribute_overrunning_packet(void **state)
{
    (void)state;
    msg_t m;
    pl_stun_msg_t v;

    m_start(&m, 0x0001);
    m_attr(&m, 0x0006, "user", 4);
    m.b[20 + 3] = 8; /* USERNAME claims 8 bytes, 4 are there */
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), -PL_EINVAL);
    m.b[20 + 3] = 5; /* 5 bytes pad to 8: overruns too */
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), -PL_EINVAL);
    m.b[20 + 2] = 0xff; /* huge */
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), -PL_EINVAL);
    m.b[20 + 2] = 0;
    m.b[20 + 3] = 4;
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), 0);
}

static void test_parse_requires_only_fingerprint_after_integrity(void **state)
{
    (void)state;
    static const uint8_t mac[20], crc[4], prio[4];
    msg_t m;
    pl_stun_msg_t v;

    m_start(&m, 0x0001);
    m_attr(&m, 0x0008, mac, sizeof mac);
    m_attr(&m, 0x8028, crc, sizeof crc);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), 0);

    m_start(&m, 0x0001);
    m_attr(&m, 0x0008, mac, sizeof mac);
    m_attr(&m, 0x0024, prio, sizeof prio);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), -PL_EINVAL);

    m_start(&m, 0x0001); /* optional attributes may not follow either */
    m_attr(&m, 0x0008, mac, sizeof mac);
    m_attr(&m, 0x8022, "sw", 2);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), -PL_EINVAL);

    m_start(&m, 0x0001);
    m_attr(&m, 0x0008, mac, sizeof mac);
    m_attr(&m, 0x0008, mac, sizeof mac);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), -PL_EINVAL);
}

static void test_parse_requires_fingerprint_last(void **state)
{
    (void)state;
    static const uint8_t crc[4], prio[4];
    msg_t m;
    pl_stun_msg_t v;

    m_start(&m, 0x0001);
    m_attr(&m, 0x8028, crc, sizeof crc);
    m_attr(&m, 0x0024, prio, sizeof prio);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), -PL_EINVAL);

    m_start(&m, 0x0001);
    m_attr(&m, 0x8028, crc, sizeof crc);
    m_attr(&m, 0x8028, crc, sizeof crc);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), -PL_EINVAL);
}

/* Parses a request holding one attribute and returns the result. */
static int parse_one(uint16_t type, const void *val, size_t len)
{
    msg_t m;
    pl_stun_msg_t v;

    m_start(&m, 0x0001);
    m_attr(&m, type, val, len);
    return pl_stun_parse(m.b, m.len, &v);
}

static void test_parse_checks_lengths_of_decoded_attributes(void **state)
{
    (void)state;
    static const uint8_t z[600];

    assert_int_equal(parse_one(0x0024, z, 3), -PL_EINVAL); /* PRIORITY */
    assert_int_equal(parse_one(0x0024, z, 8), -PL_EINVAL);
    assert_int_equal(parse_one(0x0025, z, 4), -PL_EINVAL);   /* USE-CANDIDATE */
    assert_int_equal(parse_one(0x802A, z, 4), -PL_EINVAL);   /* ICE-CONTROLLING */
    assert_int_equal(parse_one(0x8029, z, 12), -PL_EINVAL);  /* ICE-CONTROLLED */
    assert_int_equal(parse_one(0x0008, z, 16), -PL_EINVAL);  /* MESSAGE-INTEGRITY */
    assert_int_equal(parse_one(0x8028, z, 8), -PL_EINVAL);   /* FINGERPRINT */
    assert_int_equal(parse_one(0x0006, z, 513), -PL_EINVAL); /* USERNAME */
    assert_int_equal(parse_one(0x0006, z, 512), 0);
    assert_int_equal(parse_one(0x0006, z, 0), 0);
}

static void test_parse_checks_xor_address_and_error_code_values(void **state)
{
    (void)state;
    static const uint8_t bad_family[8] = {0, 3, 0, 0, 0, 0, 0, 0};
    static const uint8_t v4_as_v6[20] = {0, 1};
    static const uint8_t v6_as_v4[8] = {0, 2};
    static const uint8_t ok_v4[8] = {0, 1};
    static const uint8_t class7[8] = {0, 0, 7, 0, 'x'};
    static const uint8_t number100[4] = {0, 0, 4, 100};
    static const uint8_t ok_error[8] = {0, 0, 4, 1, 'N', 'o', 'p', 'e'};
    uint8_t long_reason[4 + 764] = {0, 0, 4, 0};
    msg_t m;
    pl_stun_msg_t v;

    assert_int_equal(parse_one(0x0020, bad_family, 8), -PL_EINVAL);
    assert_int_equal(parse_one(0x0020, v4_as_v6, 20), -PL_EINVAL);
    assert_int_equal(parse_one(0x0020, v6_as_v4, 8), -PL_EINVAL);
    assert_int_equal(parse_one(0x0020, ok_v4, 2), -PL_EINVAL);
    assert_int_equal(parse_one(0x0020, ok_v4, 8), 0);
    assert_int_equal(parse_one(0x0009, class7, 8), -PL_EINVAL);
    assert_int_equal(parse_one(0x0009, number100, 4), -PL_EINVAL);
    assert_int_equal(parse_one(0x0009, ok_error, 3), -PL_EINVAL);
    assert_int_equal(parse_one(0x0009, long_reason, sizeof long_reason), -PL_EINVAL);

    m_start(&m, 0x0111);
    m_attr(&m, 0x0009, ok_error, sizeof ok_error);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), 0);
    assert_int_equal(v.cls, PL_STUN_CLASS_ERROR);
    assert_int_equal(v.error_code, 401);
    assert_int_equal(v.error_reason_len, 4);
}

static void test_parse_lists_unknown_required_attributes_and_skips_optional(void **state)
{
    (void)state;
    msg_t m;
    pl_stun_msg_t v;

    m_start(&m, 0x0001);
    m_attr(&m, 0x8022, "software", 8); /* SOFTWARE: optional, skipped */
    m_attr(&m, 0xc057, "\0\1\0\0", 4); /* GOOG-NETWORK-INFO, as Chrome sends: optional */
    for (uint16_t t = 0x7000; t < 0x7000 + PL_STUN_MAX_UNKNOWN + 2; t++)
        m_attr(&m, t, "x", 1);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), 0);
    assert_int_equal(v.n_unknown, PL_STUN_MAX_UNKNOWN + 2);
    for (size_t i = 0; i < PL_STUN_MAX_UNKNOWN; i++)
        assert_int_equal(v.unknown[i], 0x7000 + i);
}

static void test_parse_keeps_first_of_repeated_attribute(void **state)
{
    (void)state;
    msg_t m;
    pl_stun_msg_t v;

    m_start(&m, 0x0001);
    m_attr(&m, 0x0006, "first", 5);
    m_attr(&m, 0x0006, "second", 6);
    m_attr(&m, 0x0024, "\0\0\0\1", 4);
    m_attr(&m, 0x0024, "\0\0\0\2", 4);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), 0);
    assert_int_equal(v.username_len, 5);
    assert_memory_equal(v.username, "first", 5);
    assert_int_equal(v.priority, 1);
}

static void test_parse_decodes_message_classes_and_methods(void **state)
{
    (void)state;
    static const struct {
        uint16_t type, method;
        pl_stun_class_t cls;
    } v[] = {
        {0x0001, 0x001, PL_STUN_CLASS_REQUEST}, {0x0011, 0x001, PL_STUN_CLASS_INDICATION},
        {0x0101, 0x001, PL_STUN_CLASS_SUCCESS}, {0x0111, 0x001, PL_STUN_CLASS_ERROR},
        {0x0003, 0x003, PL_STUN_CLASS_REQUEST}, {0x0113, 0x003, PL_STUN_CLASS_ERROR},
        {0x02ef, 0x0ff, PL_STUN_CLASS_REQUEST}, {0x03ff, 0x0ff, PL_STUN_CLASS_ERROR},
    };
    msg_t m;
    pl_stun_msg_t p;

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        m_start(&m, v[i].type);
        assert_int_equal(pl_stun_parse(m.b, m.len, &p), 0);
        assert_int_equal(p.method, v[i].method);
        assert_int_equal(p.cls, v[i].cls);
    }
}

static void test_verify_reports_missing_hashes(void **state)
{
    (void)state;
    msg_t m;
    pl_stun_msg_t v;

    m_start(&m, 0x0001);
    m_attr(&m, 0x0006, "a:b", 3);
    assert_int_equal(pl_stun_parse(m.b, m.len, &v), 0);
    assert_int_equal(pl_stun_verify_fingerprint(&v), -PL_ENOTFOUND);
    assert_int_equal(pl_stun_verify_integrity(&v, rfc_pwd), -PL_ENOTFOUND);
    assert_int_equal(pl_stun_verify_fingerprint(NULL), -PL_EINVAL);
}

static void test_wrong_fingerprint_and_wrong_integrity_are_detected(void **state)
{
    (void)state;
    uint8_t b[sizeof rfc_req];
    pl_stun_msg_t m;

    memcpy(b, rfc_req, sizeof b);
    b[sizeof b - 1] ^= 0x01; /* the CRC itself */
    assert_int_equal(pl_stun_parse(b, sizeof b, &m), 0);
    assert_int_equal(pl_stun_verify_fingerprint(&m), -PL_EINVAL);
    assert_int_equal(pl_stun_verify_integrity(&m, rfc_pwd), 0);

    memcpy(b, rfc_req, sizeof b);
    b[76 + 4] ^= 0x80; /* the HMAC: FINGERPRINT covers it, so both fail */
    assert_int_equal(pl_stun_parse(b, sizeof b, &m), 0);
    assert_int_equal(pl_stun_verify_integrity(&m, rfc_pwd), -PL_EAUTH);
    assert_int_equal(pl_stun_verify_fingerprint(&m), -PL_EINVAL);

    memcpy(b, rfc_req, sizeof b);
    b[45] ^= 0x01; /* PRIORITY value */
    assert_int_equal(pl_stun_parse(b, sizeof b, &m), 0);
    assert_int_equal(pl_stun_verify_integrity(&m, rfc_pwd), -PL_EAUTH);
    assert_int_equal(pl_stun_verify_fingerprint(&m), -PL_EINVAL);
}

/* No single-bit change to the vector passes parsing and both hash checks, not even in the
 * space padding after USERNAME (offsets 73..75), which both hashes cover. */
static void test_every_single_bit_flip_of_a_vector_is_refused(void **state)
{
    (void)state;
    uint8_t b[sizeof rfc_req];
    pl_stun_msg_t m;

    for (size_t i = 0; i < sizeof b * 8; i++) {
        memcpy(b, rfc_req, sizeof b);
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
        bool accepted = pl_stun_parse(b, sizeof b, &m) == 0 &&
                        pl_stun_verify_fingerprint(&m) == 0 &&
                        pl_stun_verify_integrity(&m, rfc_pwd) == 0;
        assert_false(accepted);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5769_request_parses_every_attribute),
        cmocka_unit_test(test_rfc5769_request_fingerprint_and_integrity_verify),
        cmocka_unit_test(test_rfc5769_request_integrity_fails_with_wrong_password),
        cmocka_unit_test(test_rfc5769_ipv4_response_verifies_and_decodes_address),
        cmocka_unit_test(test_rfc5769_ipv6_response_verifies_and_decodes_address),
        cmocka_unit_test(test_write_success_ipv4_matches_rfc5769_address_bytes),
        cmocka_unit_test(test_write_success_ipv6_matches_rfc5769_address_bytes),
        cmocka_unit_test(test_write_success_reports_ipv4_mapped_ipv6_as_ipv4),
        cmocka_unit_test(test_write_success_without_password_has_no_integrity),
        cmocka_unit_test(test_write_success_rejects_bad_arguments),
        cmocka_unit_test(test_write_error_unauthenticated_has_code_reason_and_no_integrity),
        cmocka_unit_test(test_write_error_authenticated_carries_integrity),
        cmocka_unit_test(test_write_error_420_lists_unknown_attributes),
        cmocka_unit_test(test_write_error_rejects_other_codes),
        cmocka_unit_test(test_writers_refuse_every_buffer_too_small),
        cmocka_unit_test(test_write_request_round_trips_every_field),
        cmocka_unit_test(test_write_request_roles_and_random_transaction_ids),
        cmocka_unit_test(test_write_request_rejects_bad_arguments),
        cmocka_unit_test(test_parse_rejects_empty_one_byte_and_truncated_header),
        cmocka_unit_test(test_parse_rejects_every_truncation_of_a_vector),
        cmocka_unit_test(test_parse_rejects_bad_cookie_and_first_byte),
        cmocka_unit_test(test_parse_rejects_length_not_multiple_of_four_or_not_datagram),
        cmocka_unit_test(test_parse_accepts_1500_bytes_and_rejects_oversized),
        cmocka_unit_test(test_parse_rejects_attribute_overrunning_packet),
        cmocka_unit_test(test_parse_requires_only_fingerprint_after_integrity),
        cmocka_unit_test(test_parse_requires_fingerprint_last),
        cmocka_unit_test(test_parse_checks_lengths_of_decoded_attributes),
        cmocka_unit_test(test_parse_checks_xor_address_and_error_code_values),
        cmocka_unit_test(test_parse_lists_unknown_required_attributes_and_skips_optional),
        cmocka_unit_test(test_parse_keeps_first_of_repeated_attribute),
        cmocka_unit_test(test_parse_decodes_message_classes_and_methods),
        cmocka_unit_test(test_verify_reports_missing_hashes),
        cmocka_unit_test(test_wrong_fingerprint_and_wrong_integrity_are_detected),
        cmocka_unit_test(test_every_single_bit_flip_of_a_vector_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
