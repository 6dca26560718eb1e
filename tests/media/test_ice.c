/* Unit tests for media/ice.c: a browser's checks written with pl_stun, nomination and a network
 * change, consent expiry at 30 s, ICE restart (old credentials until the new ones are used),
 * and bad input answered or dropped as RFC 5389 and RFC 8445 say, over IPv4 and IPv6.
 * Requests the writer cannot produce are built here and signed with an independent HMAC and
 * CRC-32, which also cross-checks media/stun.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/err.h"
#include "media/ice.h"
#include "media/stun.h"

#define REMOTE_UFRAG "brWs"
#define REMOTE_PWD "browserPassword+of/24ch"
#define REMOTE_UFRAG2 "brW2"
#define REMOTE_PWD2 "browserPassword2+of/24c"
#define REMOTE_UFRAG3 "brW3"
#define REMOTE_PWD3 "browserPassword3+of/24c"

/* Credentials as the browser holds them: the server's ufrag and password and its own ufrag. */
typedef struct {
    char username[PL_ICE_UFRAG_LEN + 1 + PL_ICE_REMOTE_MAX + 1];
    char pwd[PL_ICE_PWD_LEN + 1];
} browser_creds_t;

static browser_creds_t creds_of(const pl_ice_t *ice, const char *remote_ufrag)
{
    browser_creds_t c;
    snprintf(c.username, sizeof c.username, "%s:%s", pl_ice_local_ufrag(ice), remote_ufrag);
    snprintf(c.pwd, sizeof c.pwd, "%s", pl_ice_local_pwd(ice));
    return c;
}

static struct sockaddr_storage v4(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    memset(&ss, 0, sizeof ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    memset(&ss, 0, sizeof ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
    size_t n = a->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    return a->sa_family == b->ss_family && memcmp(a, b, n) == 0;
}

/* The outcome of feeding one datagram to the server. */
typedef struct {
    int rc;
    uint8_t out[PL_STUN_RESPONSE_MAX];
    size_t out_len;
    pl_ice_event_t ev;
    /* Parsed response when out_len > 0. Its pointers are good only inside feed: a copy of the
     * result must be parsed again to reach the bytes (the scalar fields stay valid). */
    pl_stun_msg_t resp;
} result_t;

static result_t feed(pl_ice_t *ice, const uint8_t *pkt, size_t len,
                     const struct sockaddr_storage *from, int64_t now)
{
    result_t r;
    memset(&r, 0, sizeof r);
    r.rc = pl_ice_handle_request(ice, pkt, len, SA(*from), now, r.out, sizeof r.out, &r.out_len,
                                 &r.ev);
    if (r.out_len > 0) {
        assert_int_equal(pl_stun_parse(r.out, r.out_len, &r.resp), 0);
        assert_memory_equal(r.resp.txid, pkt + 8, PL_STUN_TXID_LEN);
        assert_int_equal(pl_stun_verify_fingerprint(&r.resp), 0);
    }
    return r;
}

/* Sends a check as a browser would (ICE-CONTROLLING, signed with the server's password). */
static result_t check(pl_ice_t *ice, const browser_creds_t *c, bool use_candidate,
                      const struct sockaddr_storage *from, int64_t now)
{
    pl_stun_request_t req = {
        .username = c->username,
        .pwd = c->pwd,
        .priority = 0x6e7f1eff,
        .role = PL_STUN_ROLE_CONTROLLING,
        .tie_breaker = 0x1122334455667788ull,
        .use_candidate = use_candidate,
    };
    uint8_t pkt[256];
    size_t len = 0;
    assert_int_equal(pl_stun_write_binding_request(&req, pkt, sizeof pkt, &len), 0);
    return feed(ice, pkt, len, from, now);
}

/* Asserts r is a success response signed with pwd that maps from. */
static result_t assert_success(result_t r, const char *pwd, const struct sockaddr_storage *from)
{
    pl_stun_msg_t resp; /* r was copied: parse again so the view points into r.out */
    assert_int_equal(r.rc, 0);
    assert_int_equal(pl_stun_parse(r.out, r.out_len, &resp), 0);
    assert_int_equal(resp.cls, PL_STUN_CLASS_SUCCESS);
    assert_int_equal(resp.method, PL_STUN_METHOD_BINDING);
    assert_int_equal(pl_stun_verify_integrity(&resp, pwd), 0);
    assert_true(resp.has_xor_mapped);
    assert_true(same_addr(SA(resp.xor_mapped), from));
    return r;
}

/* Asserts r is an error response with code, signed with pwd or (pwd NULL) not signed. */
static result_t assert_error(result_t r, int rc, int code, const char *pwd)
{
    pl_stun_msg_t resp;
    assert_int_equal(r.rc, rc);
    assert_int_equal(pl_stun_parse(r.out, r.out_len, &resp), 0);
    assert_int_equal(resp.cls, PL_STUN_CLASS_ERROR);
    assert_int_equal(resp.error_code, code);
    if (pwd != NULL)
        assert_int_equal(pl_stun_verify_integrity(&resp, pwd), 0);
    else
        assert_int_equal(resp.mi_offset, 0);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NONE);
    return r;
}

static result_t assert_dropped(result_t r)
{
    assert_int_equal(r.rc, -PL_EINVAL);
    assert_int_equal(r.out_len, 0);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NONE);
    return r;
}

static pl_ice_t *new_ice(void)
{
    pl_ice_t *ice = NULL;
    assert_int_equal(pl_ice_create(&ice, REMOTE_UFRAG, REMOTE_PWD), 0);
    assert_non_null(ice);
    return ice;
}

/* A request built by hand, for shapes pl_stun_write_binding_request never produces. */
typedef struct {
    uint8_t b[512];
    size_t len;
} msg_t;

static void m_start(msg_t *m, uint16_t type)
{
    static const uint8_t cookie_txid[16] = {0x21, 0x12, 0xa4, 0x42, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    memset(m, 0, sizeof *m);
    m->b[0] = (uint8_t)(type >> 8);
    m->b[1] = (uint8_t)type;
    memcpy(m->b + 4, cookie_txid, sizeof cookie_txid);
    m->len = 20;
}

static void m_set_len(msg_t *m, size_t extra)
{
    m->b[2] = (uint8_t)((m->len + extra - 20) >> 8);
    m->b[3] = (uint8_t)(m->len + extra - 20);
}

static void m_attr(msg_t *m, uint16_t type, const void *v, size_t n)
{
    uint8_t *p = m->b + m->len;
    p[0] = (uint8_t)(type >> 8);
    p[1] = (uint8_t)type;
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    if (n > 0) memcpy(p + 4, v, n);
    m->len += 4 + ((n + 3) & ~(size_t)3);
    m_set_len(m, 0);
}

static void m_integrity(msg_t *m, const char *pwd)
{
    uint8_t mac[20];
    size_t maclen = 0;
    m_set_len(m, 24);
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, pwd, strlen(pwd), m->b, m->len, mac,
                              sizeof mac, &maclen));
    m_attr(m, 0x0008, mac, sizeof mac);
}

/* Bit-at-a-time CRC-32, independent of the table-driven one in media/stun.c. */
static void m_fingerprint(msg_t *m)
{
    uint32_t crc = 0xffffffffu;
    m_set_len(m, 8);
    for (size_t i = 0; i < m->len; i++) {
        crc ^= m->b[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    crc = ~crc ^ 0x5354554eu;
    uint8_t v[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    m_attr(m, 0x8028, v, sizeof v);
}

static const uint8_t prio[4] = {0x6e, 0x7f, 0x1e, 0xff};
static const uint8_t tie[8] = {1, 2, 3, 4, 5, 6, 7, 8};

/* A Binding request with USERNAME and PRIORITY, ready for more attributes. */
static void m_check(msg_t *m, const browser_creds_t *c)
{
    m_start(m, 0x0001);
    m_attr(m, 0x0006, c->username, strlen(c->username));
    m_attr(m, 0x0024, prio, sizeof prio);
}

static void test_create_generates_ice_char_credentials(void **state)
{
    (void)state;
    pl_ice_t *a = new_ice(), *b = new_ice();
    const char *u = pl_ice_local_ufrag(a), *p = pl_ice_local_pwd(a);

    assert_int_equal(strlen(u), PL_ICE_UFRAG_LEN);
    assert_int_equal(strlen(p), PL_ICE_PWD_LEN);
    const char *set = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    assert_int_equal(strspn(u, set), PL_ICE_UFRAG_LEN);
    assert_int_equal(strspn(p, set), PL_ICE_PWD_LEN);
    assert_string_not_equal(u, pl_ice_local_ufrag(b));
    assert_string_not_equal(p, pl_ice_local_pwd(b));
    assert_null(pl_ice_selected(a));
    assert_int_equal(pl_ice_last_consent_ms(a), -1);
    pl_ice_destroy(a);
    pl_ice_destroy(b);
    pl_ice_destroy(NULL);
}

static void test_create_and_restart_reject_invalid_remote_credentials(void **state)
{
    (void)state;
    char long_ufrag[PL_ICE_REMOTE_MAX + 2];
    pl_ice_t *ice = NULL;

    memset(long_ufrag, 'u', sizeof long_ufrag - 1);
    long_ufrag[sizeof long_ufrag - 1] = '\0';
    assert_int_equal(pl_ice_create(NULL, REMOTE_UFRAG, REMOTE_PWD), -PL_EINVAL);
    assert_int_equal(pl_ice_create(&ice, NULL, REMOTE_PWD), -PL_EINVAL);
    assert_int_equal(pl_ice_create(&ice, REMOTE_UFRAG, NULL), -PL_EINVAL);
    assert_int_equal(pl_ice_create(&ice, "abc", REMOTE_PWD), -PL_EINVAL);  /* too short */
    assert_int_equal(pl_ice_create(&ice, "ab:c", REMOTE_PWD), -PL_EINVAL); /* not ice-char */
    assert_int_equal(pl_ice_create(&ice, "abcd", "short+password"), -PL_EINVAL);
    assert_int_equal(pl_ice_create(&ice, "abcd", "browserPassword of 24ch"), -PL_EINVAL);
    assert_int_equal(pl_ice_create(&ice, long_ufrag, REMOTE_PWD), -PL_EINVAL);
    assert_null(ice);
    long_ufrag[PL_ICE_REMOTE_MAX] = '\0'; /* exactly the maximum */
    assert_int_equal(pl_ice_create(&ice, long_ufrag, REMOTE_PWD), 0);

    char ufrag[PL_ICE_UFRAG_LEN + 1];
    snprintf(ufrag, sizeof ufrag, "%s", pl_ice_local_ufrag(ice));
    assert_int_equal(pl_ice_restart(ice, "abc", REMOTE_PWD), -PL_EINVAL);
    assert_int_equal(pl_ice_restart(ice, REMOTE_UFRAG, NULL), -PL_EINVAL);
    assert_int_equal(pl_ice_restart(NULL, REMOTE_UFRAG, REMOTE_PWD), -PL_EINVAL);
    assert_string_equal(pl_ice_local_ufrag(ice), ufrag); /* nothing changed */
    pl_ice_destroy(ice);
}

static void test_full_check_is_answered_with_signed_success(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);

    result_t r = assert_success(check(ice, &c, false, &a, 1000), c.pwd, &a);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NONE);
    assert_true(pl_ice_is_validated(ice, SA(a)));
    assert_null(pl_ice_selected(ice)); /* validated, not nominated */
    assert_false(pl_ice_consent_ok(ice, 1000));
    assert_int_equal(pl_ice_stats(ice)->requests, 1);
    pl_ice_destroy(ice);
}

static void test_use_candidate_nominates_tuple_once(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);

    result_t r = assert_success(check(ice, &c, true, &a, 1000), c.pwd, &a);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NOMINATED);
    assert_true(same_addr(SA(r.ev.addr), &a));
    assert_non_null(pl_ice_selected(ice));
    assert_true(same_addr(pl_ice_selected(ice), &a));
    assert_true(pl_ice_consent_ok(ice, 1000));
    assert_int_equal(pl_ice_last_consent_ms(ice), 1000);

    /* Browsers keep USE-CANDIDATE on later checks of the pair: no new event. */
    r = assert_success(check(ice, &c, true, &a, 3500), c.pwd, &a);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NONE);
    assert_int_equal(pl_ice_last_consent_ms(ice), 3500);
    pl_ice_destroy(ice);
}

static void test_nomination_of_second_tuple_switches_selected(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage wifi = v4("127.0.0.1", 50000), lte = v4("127.0.0.2", 60000);

    assert_int_equal(check(ice, &c, true, &wifi, 1000).ev.type, PL_ICE_EVENT_NOMINATED);
    /* Checked but not nominated: no switch. */
    result_t r = assert_success(check(ice, &c, false, &lte, 2000), c.pwd, &lte);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NONE);
    assert_true(same_addr(pl_ice_selected(ice), &wifi));

    r = assert_success(check(ice, &c, true, &lte, 3000), c.pwd, &lte);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NOMINATED);
    assert_true(same_addr(SA(r.ev.addr), &lte));
    assert_true(same_addr(pl_ice_selected(ice), &lte));
    assert_true(pl_ice_is_validated(ice, SA(wifi)));
    assert_int_equal(pl_ice_last_consent_ms(ice), 3000);
    pl_ice_destroy(ice);
}

static void test_consent_expires_30s_after_last_valid_check(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    browser_creds_t wrong = c;
    struct sockaddr_storage a = v4("127.0.0.1", 50000), b = v4("127.0.0.1", 50001);

    wrong.pwd[0] ^= 1;
    check(ice, &c, true, &a, 1000);
    assert_true(pl_ice_consent_ok(ice, 1000 + PL_ICE_CONSENT_TIMEOUT_MS - 1));
    assert_false(pl_ice_consent_ok(ice, 1000 + PL_ICE_CONSENT_TIMEOUT_MS));

    /* A valid check refreshes; a refused one, or one on another tuple, does not. */
    check(ice, &c, false, &a, 20000);
    check(ice, &wrong, false, &a, 40000);
    check(ice, &c, false, &b, 45000);
    assert_int_equal(pl_ice_last_consent_ms(ice), 20000);
    assert_true(pl_ice_consent_ok(ice, 49999));
    assert_false(pl_ice_consent_ok(ice, 50000));

    /* Consent comes back with the next valid check on the selected tuple. */
    check(ice, &c, false, &a, 60000);
    assert_true(pl_ice_consent_ok(ice, 60000));
    pl_ice_destroy(ice);
}

static void test_restart_old_credentials_work_until_new_ones_are_used(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t old = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);

    check(ice, &old, true, &a, 1000);
    assert_int_equal(pl_ice_restart(ice, REMOTE_UFRAG2, REMOTE_PWD2), 0);
    browser_creds_t cur = creds_of(ice, REMOTE_UFRAG2);
    assert_string_not_equal(cur.username, old.username);
    assert_string_not_equal(cur.pwd, old.pwd);

    /* Media keeps flowing on the old pair: its consent checks are answered with the old key. */
    result_t r = assert_success(check(ice, &old, false, &a, 2000), old.pwd, &a);
    assert_true(same_addr(pl_ice_selected(ice), &a));
    assert_int_equal(pl_ice_last_consent_ms(ice), 2000);

    r = assert_success(check(ice, &cur, false, &a, 3000), cur.pwd, &a);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NONE); /* same tuple stays selected */
    assert_true(same_addr(pl_ice_selected(ice), &a));

    assert_error(check(ice, &old, false, &a, 4000), -PL_EAUTH, 401, NULL);
    assert_int_equal(pl_ice_stats(ice)->unknown_ufrag, 1);
    assert_int_equal(pl_ice_last_consent_ms(ice), 3000);
    pl_ice_destroy(ice);
}

static void test_restart_switches_tuple_when_new_session_nominates_another(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t old = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v6("::1", 50000), b = v6("::1", 50002), c = v6("::1", 50004);

    check(ice, &old, true, &a, 1000);
    check(ice, &old, false, &c, 1100); /* validated only with the old credentials */
    assert_int_equal(pl_ice_restart(ice, REMOTE_UFRAG2, REMOTE_PWD2), 0);
    browser_creds_t cur = creds_of(ice, REMOTE_UFRAG2);

    result_t r = assert_success(check(ice, &cur, true, &b, 2000), cur.pwd, &b);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NOMINATED);
    assert_true(same_addr(pl_ice_selected(ice), &b));
    assert_false(pl_ice_is_validated(ice, SA(c))); /* the old session's tuples are forgotten */
    assert_error(check(ice, &old, false, &a, 2100), -PL_EAUTH, 401, NULL);
    pl_ice_destroy(ice);
}

static void test_second_restart_before_first_completes_keeps_established_credentials(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t one = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);

    check(ice, &one, true, &a, 1000);
    assert_int_equal(pl_ice_restart(ice, REMOTE_UFRAG2, REMOTE_PWD2), 0);
    browser_creds_t two = creds_of(ice, REMOTE_UFRAG2);
    assert_int_equal(pl_ice_restart(ice, REMOTE_UFRAG3, REMOTE_PWD3), 0);
    browser_creds_t three = creds_of(ice, REMOTE_UFRAG3);

    assert_success(check(ice, &one, false, &a, 2000), one.pwd, &a);
    assert_error(check(ice, &two, false, &a, 2100), -PL_EAUTH, 401, NULL);
    assert_success(check(ice, &three, false, &a, 2200), three.pwd, &a);
    assert_error(check(ice, &one, false, &a, 2300), -PL_EAUTH, 401, NULL);
    assert_success(check(ice, &three, false, &a, 2400), three.pwd, &a);
    pl_ice_destroy(ice);
}

static void test_restart_before_any_check_replaces_credentials(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t one = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);

    assert_int_equal(pl_ice_restart(ice, REMOTE_UFRAG2, REMOTE_PWD2), 0);
    browser_creds_t two = creds_of(ice, REMOTE_UFRAG2);
    assert_error(check(ice, &one, false, &a, 1000), -PL_EAUTH, 401, NULL);
    assert_success(check(ice, &two, false, &a, 1100), two.pwd, &a);
    pl_ice_destroy(ice);
}

static void test_bad_integrity_gets_unsigned_401_and_is_counted(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);

    c.pwd[PL_ICE_PWD_LEN - 1] ^= 1;
    assert_error(check(ice, &c, true, &a, 1000), -PL_EAUTH, 401, NULL);
    assert_int_equal(pl_ice_stats(ice)->bad_integrity, 1);
    assert_int_equal(pl_ice_stats(ice)->requests, 0);
    assert_false(pl_ice_is_validated(ice, SA(a)));
    assert_null(pl_ice_selected(ice));
    pl_ice_destroy(ice);
}

static void test_unknown_username_gets_401_and_is_counted(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    const char *l = pl_ice_local_ufrag(ice);
    /* Wrong local ufrag, swapped halves, wrong remote ufrag, no remote part, a trailing ':'. */
    const char *fmt[] = {"wrongUfr:%.0s" REMOTE_UFRAG, REMOTE_UFRAG ":%s", "%s:brWx", "%s",
                         "%s:" REMOTE_UFRAG ":"};

    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        snprintf(c.username, sizeof c.username, fmt[i], l);
        assert_error(check(ice, &c, true, &a, 1000), -PL_EAUTH, 401, NULL);
    }
    assert_int_equal(pl_ice_stats(ice)->unknown_ufrag, 5);
    assert_int_equal(pl_ice_stats(ice)->bad_integrity, 0);
    assert_false(pl_ice_is_validated(ice, SA(a)));
    pl_ice_destroy(ice);
}

static void test_bad_fingerprint_is_dropped_silently_and_counted(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    pl_stun_request_t req = {
        .username = c.username, .pwd = c.pwd, .priority = 1, .use_candidate = true};
    uint8_t pkt[256];
    size_t len = 0;

    assert_int_equal(pl_stun_write_binding_request(&req, pkt, sizeof pkt, &len), 0);
    pkt[len - 1] ^= 0x01;
    assert_dropped(feed(ice, pkt, len, &a, 1000));
    assert_int_equal(pl_ice_stats(ice)->bad_fingerprint, 1);
    assert_null(pl_ice_selected(ice));
    pl_ice_destroy(ice);
}

static void test_unparseable_datagrams_are_dropped_and_counted(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    static const uint8_t junk[64] = {0x00, 0x01, 0x00, 0x28, 0x21, 0x12, 0xa4, 0x42};
    static const uint8_t rtp[32] = {0x80, 0x60};

    assert_dropped(feed(ice, junk, 0, &a, 0));
    assert_dropped(feed(ice, junk, 1, &a, 0));
    assert_dropped(feed(ice, junk, 19, &a, 0));
    assert_dropped(feed(ice, junk, sizeof junk, &a, 0)); /* length field says 40, not 44 */
    assert_dropped(feed(ice, rtp, sizeof rtp, &a, 0));
    assert_int_equal(pl_ice_stats(ice)->malformed, 5);
    pl_ice_destroy(ice);
}

static void test_request_missing_integrity_or_username_gets_unsigned_400(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    msg_t m;
    result_t r;

    m_check(&m, &c); /* no MESSAGE-INTEGRITY */
    m_fingerprint(&m);
    assert_error(feed(ice, m.b, m.len, &a, 0), -PL_EINVAL, 400, NULL);

    m_start(&m, 0x0001); /* no USERNAME */
    m_attr(&m, 0x0024, prio, sizeof prio);
    m_integrity(&m, c.pwd);
    m_fingerprint(&m);
    assert_error(feed(ice, m.b, m.len, &a, 0), -PL_EINVAL, 400, NULL);

    m_check(&m, &c); /* no FINGERPRINT: ICE requires one */
    m_integrity(&m, c.pwd);
    assert_error(feed(ice, m.b, m.len, &a, 0), -PL_EINVAL, 400, NULL);

    m_start(&m, 0x0003); /* another method, signed */
    m_attr(&m, 0x0006, c.username, strlen(c.username));
    m_integrity(&m, c.pwd);
    m_fingerprint(&m);
    r = assert_error(feed(ice, m.b, m.len, &a, 0), -PL_EINVAL, 400, NULL);
    assert_int_equal(r.resp.method, 0x003);

    assert_int_equal(pl_ice_stats(ice)->malformed, 4);
    assert_false(pl_ice_is_validated(ice, SA(a)));
    pl_ice_destroy(ice);
}

static void test_authenticated_request_missing_priority_gets_signed_400(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    msg_t m;

    m_start(&m, 0x0001);
    m_attr(&m, 0x0006, c.username, strlen(c.username));
    m_attr(&m, 0x802A, tie, sizeof tie);
    m_integrity(&m, c.pwd);
    m_fingerprint(&m);
    assert_error(feed(ice, m.b, m.len, &a, 0), -PL_EINVAL, 400, c.pwd);
    assert_int_equal(pl_ice_stats(ice)->malformed, 1);
    assert_false(pl_ice_is_validated(ice, SA(a)));
    pl_ice_destroy(ice);
}

static void test_unknown_required_attribute_gets_signed_420(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    msg_t m;

    m_check(&m, &c);
    m_attr(&m, 0x8022, "optional", 8); /* SOFTWARE: fine */
    m_attr(&m, 0x0003, "\0\0\0\0", 4); /* CHANGE-REQUEST: not understood */
    m_integrity(&m, c.pwd);
    m_fingerprint(&m);
    assert_error(feed(ice, m.b, m.len, &a, 0), -PL_EINVAL, 420, c.pwd);
    assert_int_equal(pl_ice_stats(ice)->malformed, 1);
    pl_ice_destroy(ice);
}

static void test_hand_built_check_signed_independently_is_accepted(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    msg_t m;
    result_t r;

    m_check(&m, &c);
    m_attr(&m, 0xc057, "\0\1\0\x0a", 4); /* GOOG-NETWORK-INFO, as Chrome sends */
    m_attr(&m, 0x802A, tie, sizeof tie);
    m_attr(&m, 0x0025, NULL, 0);
    m_integrity(&m, c.pwd);
    m_fingerprint(&m);
    r = assert_success(feed(ice, m.b, m.len, &a, 0), c.pwd, &a);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NOMINATED);
    pl_ice_destroy(ice);
}

static void test_ice_controlled_peer_gets_signed_487(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    pl_stun_request_t req = {.username = c.username,
                             .pwd = c.pwd,
                             .priority = 1,
                             .role = PL_STUN_ROLE_CONTROLLED,
                             .use_candidate = true};
    uint8_t pkt[256];
    size_t len = 0;

    assert_int_equal(pl_stun_write_binding_request(&req, pkt, sizeof pkt, &len), 0);
    assert_error(feed(ice, pkt, len, &a, 0), -PL_ECONFLICT, 487, c.pwd);
    assert_int_equal(pl_ice_stats(ice)->role_conflicts, 1);
    assert_null(pl_ice_selected(ice));

    req.role = PL_STUN_ROLE_NONE; /* no role at all: tolerated */
    assert_int_equal(pl_stun_write_binding_request(&req, pkt, sizeof pkt, &len), 0);
    assert_success(feed(ice, pkt, len, &a, 0), c.pwd, &a);
    pl_ice_destroy(ice);
}

static void test_indication_is_ignored_and_response_is_dropped(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    msg_t m;
    result_t r;

    m_start(&m, 0x0011); /* Binding indication: a keepalive */
    m_fingerprint(&m);
    r = feed(ice, m.b, m.len, &a, 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out_len, 0);

    m_start(&m, 0x0101); /* success response: we never asked */
    m_fingerprint(&m);
    assert_dropped(feed(ice, m.b, m.len, &a, 0));
    assert_int_equal(pl_ice_stats(ice)->malformed, 1);
    assert_false(pl_ice_is_validated(ice, SA(a)));
    pl_ice_destroy(ice);
}

static void test_ipv6_check_nomination_and_mapped_address(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v6("2001:db8::7", 54321), b = v6("2001:db8::8", 54321);
    struct sockaddr_storage same_port_v4 = v4("127.0.0.1", 54321);

    result_t r = assert_success(check(ice, &c, true, &a, 500), c.pwd, &a);
    assert_int_equal(r.resp.xor_mapped.ss_family, AF_INET6);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NOMINATED);
    assert_true(same_addr(pl_ice_selected(ice), &a));
    assert_false(pl_ice_is_validated(ice, SA(b)));
    assert_false(pl_ice_is_validated(ice, SA(same_port_v4)));

    r = check(ice, &c, true, &b, 600);
    assert_int_equal(r.ev.type, PL_ICE_EVENT_NOMINATED);
    assert_true(same_addr(pl_ice_selected(ice), &b));
    pl_ice_destroy(ice);
}

static void test_ipv4_mapped_peer_sees_its_ipv4_address(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage mapped = v6("::ffff:127.0.0.1", 40000);
    struct sockaddr_storage plain = v4("127.0.0.1", 40000);

    result_t r = check(ice, &c, true, &mapped, 0);
    assert_int_equal(r.rc, 0);
    assert_true(same_addr(SA(r.resp.xor_mapped), &plain));
    assert_true(same_addr(pl_ice_selected(ice), &mapped)); /* the socket's view is kept */
    pl_ice_destroy(ice);
}

static void test_tuple_table_forgets_oldest_but_never_the_selected(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage sel = v4("127.0.0.1", 40000), t[PL_ICE_MAX_TUPLES + 1];

    check(ice, &c, true, &sel, 0);
    for (int i = 0; i <= PL_ICE_MAX_TUPLES; i++) {
        t[i] = v4("127.0.0.1", (uint16_t)(41000 + i));
        check(ice, &c, false, &t[i], 100 + i);
    }
    assert_true(same_addr(pl_ice_selected(ice), &sel));
    assert_true(pl_ice_is_validated(ice, SA(sel)));
    assert_false(pl_ice_is_validated(ice, SA(t[0])));
    assert_false(pl_ice_is_validated(ice, SA(t[1])));
    for (int i = 2; i <= PL_ICE_MAX_TUPLES; i++)
        assert_true(pl_ice_is_validated(ice, SA(t[i])));
    assert_int_equal(pl_ice_last_consent_ms(ice), 0);
    pl_ice_destroy(ice);
}

static void test_small_output_buffer_records_nothing(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    pl_stun_request_t req = {.username = c.username, .pwd = c.pwd, .use_candidate = true};
    uint8_t pkt[256], out[40];
    size_t len = 0, out_len = 99;
    pl_ice_event_t ev;

    assert_int_equal(pl_stun_write_binding_request(&req, pkt, sizeof pkt, &len), 0);
    assert_int_equal(pl_ice_handle_request(ice, pkt, len, SA(a), 0, out, sizeof out, &out_len, &ev),
                     -PL_ETOOBIG);
    assert_int_equal(out_len, 0);
    assert_int_equal(ev.type, PL_ICE_EVENT_NONE);
    assert_false(pl_ice_is_validated(ice, SA(a)));
    assert_null(pl_ice_selected(ice));
    pl_ice_destroy(ice);
}

static void test_handle_request_rejects_bad_arguments(void **state)
{
    (void)state;
    pl_ice_t *ice = new_ice();
    browser_creds_t c = creds_of(ice, REMOTE_UFRAG);
    struct sockaddr_storage a = v4("127.0.0.1", 50000);
    struct sockaddr_storage unix_addr = {.ss_family = AF_UNIX};
    pl_stun_request_t req = {.username = c.username, .pwd = c.pwd};
    uint8_t pkt[256], out[PL_STUN_RESPONSE_MAX];
    size_t len = 0, n = 0;

    assert_int_equal(pl_stun_write_binding_request(&req, pkt, sizeof pkt, &len), 0);
    assert_int_equal(pl_ice_handle_request(NULL, pkt, len, SA(a), 0, out, sizeof out, &n, NULL),
                     -PL_EINVAL);
    assert_int_equal(pl_ice_handle_request(ice, NULL, len, SA(a), 0, out, sizeof out, &n, NULL),
                     -PL_EINVAL);
    assert_int_equal(pl_ice_handle_request(ice, pkt, len, NULL, 0, out, sizeof out, &n, NULL),
                     -PL_EINVAL);
    assert_int_equal(pl_ice_handle_request(ice, pkt, len, SA(a), 0, NULL, sizeof out, &n, NULL),
                     -PL_EINVAL);
    assert_int_equal(pl_ice_handle_request(ice, pkt, len, SA(a), 0, out, sizeof out, NULL, NULL),
                     -PL_EINVAL);
    assert_int_equal(
        pl_ice_handle_request(ice, pkt, len, SA(unix_addr), 0, out, sizeof out, &n, NULL),
        -PL_EINVAL);
    assert_int_equal(pl_ice_stats(ice)->malformed, 0); /* caller errors are not bad input */
    /* The event is optional. */
    assert_int_equal(pl_ice_handle_request(ice, pkt, len, SA(a), 0, out, sizeof out, &n, NULL), 0);
    assert_true(n > 0);
    pl_ice_destroy(ice);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_generates_ice_char_credentials),
        cmocka_unit_test(test_create_and_restart_reject_invalid_remote_credentials),
        cmocka_unit_test(test_full_check_is_answered_with_signed_success),
        cmocka_unit_test(test_use_candidate_nominates_tuple_once),
        cmocka_unit_test(test_nomination_of_second_tuple_switches_selected),
        cmocka_unit_test(test_consent_expires_30s_after_last_valid_check),
        cmocka_unit_test(test_restart_old_credentials_work_until_new_ones_are_used),
        cmocka_unit_test(test_restart_switches_tuple_when_new_session_nominates_another),
        cmocka_unit_test(test_second_restart_before_first_completes_keeps_established_credentials),
        cmocka_unit_test(test_restart_before_any_check_replaces_credentials),
        cmocka_unit_test(test_bad_integrity_gets_unsigned_401_and_is_counted),
        cmocka_unit_test(test_unknown_username_gets_401_and_is_counted),
        cmocka_unit_test(test_bad_fingerprint_is_dropped_silently_and_counted),
        cmocka_unit_test(test_unparseable_datagrams_are_dropped_and_counted),
        cmocka_unit_test(test_request_missing_integrity_or_username_gets_unsigned_400),
        cmocka_unit_test(test_authenticated_request_missing_priority_gets_signed_400),
        cmocka_unit_test(test_unknown_required_attribute_gets_signed_420),
        cmocka_unit_test(test_hand_built_check_signed_independently_is_accepted),
        cmocka_unit_test(test_ice_controlled_peer_gets_signed_487),
        cmocka_unit_test(test_indication_is_ignored_and_response_is_dropped),
        cmocka_unit_test(test_ipv6_check_nomination_and_mapped_address),
        cmocka_unit_test(test_ipv4_mapped_peer_sees_its_ipv4_address),
        cmocka_unit_test(test_tuple_table_forgets_oldest_but_never_the_selected),
        cmocka_unit_test(test_small_output_buffer_records_nothing),
        cmocka_unit_test(test_handle_request_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
