/* STUN parse, verify and write (see stun.h).
 *
 * CRC-32 is our own 16-entry table (one lookup per nibble) because zlib is not linked into
 * Parley and a 1 KB table for messages of about 100 bytes buys nothing. HMAC-SHA1 is OpenSSL's
 * EVP_MAC, fed the header and the body separately so that the length field can be adjusted for
 * MESSAGE-INTEGRITY without copying or writing to the caller's const buffer. */
#include "media/stun.h"

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/err.h"
#include "media/wire.h"
#include "core/util.h"

enum {
    ATTR_USERNAME = 0x0006,
    ATTR_MESSAGE_INTEGRITY = 0x0008,
    ATTR_ERROR_CODE = 0x0009,
    ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
    ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    ATTR_PRIORITY = 0x0024,
    ATTR_USE_CANDIDATE = 0x0025,
    ATTR_FINGERPRINT = 0x8028,
    ATTR_ICE_CONTROLLED = 0x8029,
    ATTR_ICE_CONTROLLING = 0x802A,
};

#define MI_LEN 20                /* HMAC-SHA1 */
#define MI_ATTR_LEN (4 + MI_LEN) /* header + value */
#define FP_ATTR_LEN (4 + 4)      /* header + CRC */
#define FP_XOR 0x5354554eu       /* "STUN" */
#define ERROR_REASON_MAX 763     /* 128 characters of UTF-8 (RFC 5389 section 15.6) */

/* CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320), the one zlib and RFC 5389 use. */
static uint32_t crc32_of(const uint8_t *p, size_t len)
{
    static const uint32_t nibble[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < len; i++) {
        crc = (crc >> 4) ^ nibble[(crc ^ p[i]) & 15];
        crc = (crc >> 4) ^ nibble[(crc ^ (uint32_t)(p[i] >> 4)) & 15];
    }
    return ~crc;
}

/* HMAC-SHA1 keyed with pwd over hdr[0..20) then body[0..body_len). */
static int hmac_sha1(const char *pwd, const uint8_t *hdr, const uint8_t *body, size_t body_len,
                     uint8_t out[MI_LEN])
{
    char digest[] = "SHA1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    size_t outl = 0;
    bool ok = ctx != NULL &&
              EVP_MAC_init(ctx, (const unsigned char *)pwd, strlen(pwd), params) == 1 &&
              EVP_MAC_update(ctx, hdr, PL_STUN_HEADER_LEN) == 1 &&
              (body_len == 0 || EVP_MAC_update(ctx, body, body_len) == 1) &&
              EVP_MAC_final(ctx, out, &outl, MI_LEN) == 1 && outl == MI_LEN;

    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (!ok) {
        OPENSSL_cleanse(out, MI_LEN);
        return -PL_ECRYPTO;
    }
    return 0;
}

/* The 14-bit message type interleaves the class bits C1 C0 into the method (RFC 5389 6). */
static uint16_t msg_type(uint16_t method, pl_stun_class_t cls)
{
    unsigned c = (unsigned)cls;
    return (uint16_t)((method & 0x000f) | (method & 0x0070) << 1 | (method & 0x0f80) << 2 |
                      (c & 1) << 4 | (c & 2) << 7);
}

bool pl_stun_is_stun(const uint8_t *buf, size_t len)
{
    return buf != NULL && len >= PL_STUN_HEADER_LEN && buf[0] <= 3 &&
           rd32(buf + 4) == PL_STUN_MAGIC_COOKIE;
}

/* Decodes an XOR-MAPPED-ADDRESS value into m->xor_mapped. */
static int parse_xor_address(pl_stun_msg_t *m, const uint8_t *v, size_t vlen)
{
    if (vlen < 4) return -PL_EINVAL;
    uint16_t port = rd16(v + 2) ^ (uint16_t)(PL_STUN_MAGIC_COOKIE >> 16);

    memset(&m->xor_mapped, 0, sizeof m->xor_mapped);
    if (v[1] == 0x01 && vlen == 8) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&m->xor_mapped;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr.s_addr = htonl(rd32(v + 4) ^ PL_STUN_MAGIC_COOKIE);
    } else if (v[1] == 0x02 && vlen == 20) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&m->xor_mapped;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        /* The IPv6 key is the cookie followed by the transaction id: header bytes 4..20. */
        for (int i = 0; i < 16; i++)
            sin6->sin6_addr.s6_addr[i] = v[4 + i] ^ m->buf[4 + i];
    } else {
        return -PL_EINVAL;
    }
    m->has_xor_mapped = true;
    return 0;
}

static int parse_error_code(pl_stun_msg_t *m, const uint8_t *v, size_t vlen)
{
    if (vlen < 4 || vlen > 4 + ERROR_REASON_MAX) return -PL_EINVAL;
    unsigned cls = v[2] & 7, num = v[3];
    if (cls < 3 || cls > 6 || num > 99) return -PL_EINVAL;
    m->has_error = true;
    m->error_code = (uint16_t)(cls * 100 + num);
    m->error_reason = v + 4;
    m->error_reason_len = vlen - 4;
    return 0;
}

/* Records one attribute whose value v[0..vlen) lies inside the message. Only the first of a
 * repeated attribute counts (RFC 5389 section 15); its length must still be right. */
static int parse_attr(pl_stun_msg_t *m, uint16_t type, size_t off, const uint8_t *v, size_t vlen)
{
    switch (type) {
    case ATTR_USERNAME:
        if (vlen > PL_STUN_USERNAME_MAX) return -PL_EINVAL;
        if (m->username == NULL) {
            m->username = v;
            m->username_len = vlen;
        }
        return 0;
    case ATTR_MESSAGE_INTEGRITY:
        if (vlen != MI_LEN) return -PL_EINVAL;
        m->mi_offset = off;
        return 0;
    case ATTR_FINGERPRINT:
        if (vlen != 4) return -PL_EINVAL;
        m->fp_offset = off;
        return 0;
    case ATTR_PRIORITY:
        if (vlen != 4) return -PL_EINVAL;
        if (!m->has_priority) m->priority = rd32(v);
        m->has_priority = true;
        return 0;
    case ATTR_USE_CANDIDATE:
        if (vlen != 0) return -PL_EINVAL;
        m->use_candidate = true;
        return 0;
    case ATTR_ICE_CONTROLLING:
        if (vlen != 8) return -PL_EINVAL;
        if (!m->has_ice_controlling) m->ice_controlling = rd64(v);
        m->has_ice_controlling = true;
        return 0;
    case ATTR_ICE_CONTROLLED:
        if (vlen != 8) return -PL_EINVAL;
        if (!m->has_ice_controlled) m->ice_controlled = rd64(v);
        m->has_ice_controlled = true;
        return 0;
    case ATTR_XOR_MAPPED_ADDRESS:
        return m->has_xor_mapped ? 0 : parse_xor_address(m, v, vlen);
    case ATTR_ERROR_CODE:
        return m->has_error ? 0 : parse_error_code(m, v, vlen);
    default:
        /* Comprehension-optional attributes (0x8000 and up) are skipped silently; the
         * required ones are listed so that the caller can answer 420. */
        if (type < 0x8000) {
            if (m->n_unknown < PL_STUN_MAX_UNKNOWN) m->unknown[m->n_unknown] = type;
            m->n_unknown++;
        }
        return 0;
    }
}

int pl_stun_parse(const uint8_t *buf, size_t len, pl_stun_msg_t *msg)
{
    if (buf == NULL || msg == NULL) return -PL_EINVAL;
    if (len < PL_STUN_HEADER_LEN || len > PL_STUN_MAX_LEN) return -PL_EINVAL;
    if (buf[0] > 3) return -PL_EINVAL; /* RFC 7983: not STUN; also the top two type bits */
    uint16_t type = rd16(buf), body = rd16(buf + 2);
    if (body % 4 != 0 || body != len - PL_STUN_HEADER_LEN) return -PL_EINVAL;
    if (rd32(buf + 4) != PL_STUN_MAGIC_COOKIE) return -PL_EINVAL;

    memset(msg, 0, sizeof *msg);
    msg->buf = buf;
    msg->len = len;
    msg->cls = (pl_stun_class_t)((type >> 7 & 2) | (type >> 4 & 1));
    msg->method = (uint16_t)((type & 0x000f) | (type & 0x00e0) >> 1 | (type & 0x3e00) >> 2);
    msg->txid = buf + 8;

    size_t off = PL_STUN_HEADER_LEN;
    while (off < len) {
        if (len - off < 4) return -PL_EINVAL;
        uint16_t atype = rd16(buf + off);
        size_t alen = rd16(buf + off + 2);
        size_t padded = (alen + 3) & ~(size_t)3;
        if (padded > len - off - 4) return -PL_EINVAL;
        /* Nothing may follow FINGERPRINT, and only FINGERPRINT may follow MESSAGE-INTEGRITY:
         * anything else would be outside what the hashes cover. */
        if (msg->fp_offset != 0) return -PL_EINVAL;
        if (msg->mi_offset != 0 && atype != ATTR_FINGERPRINT) return -PL_EINVAL;
        int rc = parse_attr(msg, atype, off, buf + off + 4, alen);
        if (rc != 0) return rc;
        off += 4 + padded;
    }
    return 0;
}

int pl_stun_verify_fingerprint(const pl_stun_msg_t *msg)
{
    if (msg == NULL || msg->buf == NULL) return -PL_EINVAL;
    if (msg->fp_offset == 0) return -PL_ENOTFOUND;
    /* FINGERPRINT is last, so the length field already counts it: hash the bytes as they are. */
    uint32_t want = crc32_of(msg->buf, msg->fp_offset) ^ FP_XOR;
    return rd32(msg->buf + msg->fp_offset + 4) == want ? 0 : -PL_EINVAL;
}

int pl_stun_verify_integrity(const pl_stun_msg_t *msg, const char *pwd)
{
    if (msg == NULL || msg->buf == NULL || pwd == NULL || pwd[0] == '\0') return -PL_EINVAL;
    if (msg->mi_offset == 0) return -PL_ENOTFOUND;

    /* The HMAC covers the message as if it ended with MESSAGE-INTEGRITY (a FINGERPRINT after
     * it is not counted), so hash a copy of the header with that length. */
    uint8_t hdr[PL_STUN_HEADER_LEN], mac[MI_LEN];
    memcpy(hdr, msg->buf, sizeof hdr);
    wr16(hdr + 2, (uint16_t)(msg->mi_offset + MI_ATTR_LEN - PL_STUN_HEADER_LEN));
    int rc = hmac_sha1(pwd, hdr, msg->buf + PL_STUN_HEADER_LEN, msg->mi_offset - PL_STUN_HEADER_LEN,
                       mac);
    if (rc != 0) return rc;
    bool ok = pl_ct_equal(mac, msg->buf + msg->mi_offset + 4, MI_LEN);
    pl_wipe(mac, sizeof mac);
    return ok ? 0 : -PL_EAUTH;
}

/* An output buffer being filled; every append checks the room left. */
typedef struct {
    uint8_t *p;
    size_t cap, len;
} writer_t;

static int w_header(writer_t *w, uint16_t type, const uint8_t *txid)
{
    if (w->cap < PL_STUN_HEADER_LEN) return -PL_ETOOBIG;
    wr16(w->p, type);
    wr16(w->p + 2, 0);
    wr32(w->p + 4, PL_STUN_MAGIC_COOKIE);
    memcpy(w->p + 8, txid, PL_STUN_TXID_LEN);
    w->len = PL_STUN_HEADER_LEN;
    return 0;
}

/* Appends an attribute, zero-padded to a multiple of 4 (RFC 8489 asks for zero padding). */
static int w_attr(writer_t *w, uint16_t type, const void *val, size_t vlen)
{
    size_t padded = (vlen + 3) & ~(size_t)3;
    if (w->cap - w->len < 4 + padded) return -PL_ETOOBIG;
    uint8_t *p = w->p + w->len;
    wr16(p, type);
    wr16(p + 2, (uint16_t)vlen);
    if (vlen > 0) memcpy(p + 4, val, vlen);
    memset(p + 4 + vlen, 0, padded - vlen);
    w->len += 4 + padded;
    return 0;
}

/* Sets the header length as if the message ended extra bytes after what is written so far. */
static void w_set_len(writer_t *w, size_t extra)
{
    wr16(w->p + 2, (uint16_t)(w->len + extra - PL_STUN_HEADER_LEN));
}

/* Appends MESSAGE-INTEGRITY (when pwd is not NULL) and FINGERPRINT, leaving the header length
 * final. Each hash is taken with the length counting up to the end of its own attribute. */
static int w_finish(writer_t *w, const char *pwd)
{
    int rc;

    if (pwd != NULL) {
        uint8_t mac[MI_LEN];
        if (w->cap - w->len < MI_ATTR_LEN) return -PL_ETOOBIG;
        w_set_len(w, MI_ATTR_LEN);
        rc = hmac_sha1(pwd, w->p, w->p + PL_STUN_HEADER_LEN, w->len - PL_STUN_HEADER_LEN, mac);
        if (rc == 0) rc = w_attr(w, ATTR_MESSAGE_INTEGRITY, mac, sizeof mac);
        pl_wipe(mac, sizeof mac);
        if (rc != 0) return rc;
    }
    if (w->cap - w->len < FP_ATTR_LEN) return -PL_ETOOBIG;
    w_set_len(w, FP_ATTR_LEN);
    uint8_t crc[4];
    wr32(crc, crc32_of(w->p, w->len) ^ FP_XOR);
    return w_attr(w, ATTR_FINGERPRINT, crc, sizeof crc);
}

/* Encodes addr as an XOR-MAPPED-ADDRESS value for transaction txid into val (20 bytes). */
static int encode_xor_address(const struct sockaddr *addr, const uint8_t *txid, uint8_t val[20],
                              size_t *vlen)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t key[16];
    const uint8_t *ip;
    uint16_t port;

    wr32(key, PL_STUN_MAGIC_COOKIE);
    memcpy(key + 4, txid, PL_STUN_TXID_LEN);
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
        ip = (const uint8_t *)&sin->sin_addr;
        port = ntohs(sin->sin_port);
        *vlen = 8;
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
        ip = sin6->sin6_addr.s6_addr;
        port = ntohs(sin6->sin6_port);
        *vlen = 20;
        /* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d. The peer sent from an
         * IPv4 address and must see that address, or it learns a bogus reflexive candidate. */
        if (memcmp(ip, v4mapped, sizeof v4mapped) == 0) {
            ip += 12;
            *vlen = 8;
        }
    } else {
        return -PL_EINVAL;
    }
    val[0] = 0;
    val[1] = *vlen == 8 ? 0x01 : 0x02;
    wr16(val + 2, port ^ (uint16_t)(PL_STUN_MAGIC_COOKIE >> 16));
    for (size_t i = 0; i + 4 < *vlen; i++)
        val[4 + i] = ip[i] ^ key[i];
    return 0;
}

int pl_stun_write_binding_success(const pl_stun_msg_t *req, const struct sockaddr *mapped,
                                  const char *pwd, uint8_t *out, size_t cap, size_t *out_len)
{
    if (req == NULL || req->txid == NULL || mapped == NULL || out == NULL || out_len == NULL)
        return -PL_EINVAL;
    if (pwd != NULL && pwd[0] == '\0') return -PL_EINVAL;
    *out_len = 0;

    uint8_t val[20];
    size_t vlen = 0;
    writer_t w = {out, cap, 0};
    int rc = encode_xor_address(mapped, req->txid, val, &vlen);
    if (rc == 0)
        rc = w_header(&w, msg_type(PL_STUN_METHOD_BINDING, PL_STUN_CLASS_SUCCESS), req->txid);
    if (rc == 0) rc = w_attr(&w, ATTR_XOR_MAPPED_ADDRESS, val, vlen);
    if (rc == 0) rc = w_finish(&w, pwd);
    if (rc != 0) return rc;
    *out_len = w.len;
    return 0;
}

static const char *error_reason(int code)
{
    switch (code) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthenticated"; /* RFC 8489's name for RFC 5389's "Unauthorized" */
    case 420:
        return "Unknown Attribute";
    case 487:
        return "Role Conflict";
    default:
        return NULL;
    }
}

int pl_stun_write_binding_error(const pl_stun_msg_t *req, int code, const char *pwd, uint8_t *out,
                                size_t cap, size_t *out_len)
{
    if (req == NULL || req->txid == NULL || out == NULL || out_len == NULL) return -PL_EINVAL;
    if (pwd != NULL && pwd[0] == '\0') return -PL_EINVAL;
    const char *reason = error_reason(code);
    if (reason == NULL) return -PL_EINVAL;
    *out_len = 0;

    uint8_t ec[4 + 32];
    size_t rlen = strlen(reason);
    ec[0] = ec[1] = 0;
    ec[2] = (uint8_t)(code / 100);
    ec[3] = (uint8_t)(code % 100);
    memcpy(ec + 4, reason, rlen);

    writer_t w = {out, cap, 0};
    int rc = w_header(&w, msg_type(req->method, PL_STUN_CLASS_ERROR), req->txid);
    if (rc == 0) rc = w_attr(&w, ATTR_ERROR_CODE, ec, 4 + rlen);
    if (rc == 0 && code == 420) {
        uint8_t types[2 * PL_STUN_MAX_UNKNOWN];
        size_t n = req->n_unknown < PL_STUN_MAX_UNKNOWN ? req->n_unknown : PL_STUN_MAX_UNKNOWN;
        for (size_t i = 0; i < n; i++)
            wr16(types + 2 * i, req->unknown[i]);
        rc = w_attr(&w, ATTR_UNKNOWN_ATTRIBUTES, types, 2 * n);
    }
    if (rc == 0) rc = w_finish(&w, pwd);
    if (rc != 0) return rc;
    *out_len = w.len;
    return 0;
}

int pl_stun_write_binding_request(const pl_stun_request_t *r, uint8_t *out, size_t cap,
                                  size_t *out_len)
{
    if (r == NULL || r->username == NULL || r->pwd == NULL || out == NULL || out_len == NULL)
        return -PL_EINVAL;
    size_t ulen = strlen(r->username);
    if (ulen == 0 || ulen > PL_STUN_USERNAME_MAX || r->pwd[0] == '\0') return -PL_EINVAL;
    *out_len = 0;

    uint8_t txid[PL_STUN_TXID_LEN];
    if (r->txid != NULL) {
        memcpy(txid, r->txid, sizeof txid);
    } else {
        int rc = pl_random_bytes(txid, sizeof txid);
        if (rc != 0) return rc;
    }

    uint8_t prio[4], tie[8];
    wr32(prio, r->priority);
    wr64(tie, r->tie_breaker);
    writer_t w = {out, cap, 0};
    int rc = w_header(&w, msg_type(PL_STUN_METHOD_BINDING, PL_STUN_CLASS_REQUEST), txid);
    if (rc == 0) rc = w_attr(&w, ATTR_USERNAME, r->username, ulen);
    if (rc == 0) rc = w_attr(&w, ATTR_PRIORITY, prio, sizeof prio);
    if (rc == 0 && r->role == PL_STUN_ROLE_CONTROLLING)
        rc = w_attr(&w, ATTR_ICE_CONTROLLING, tie, sizeof tie);
    if (rc == 0 && r->role == PL_STUN_ROLE_CONTROLLED)
        rc = w_attr(&w, ATTR_ICE_CONTROLLED, tie, sizeof tie);
    if (rc == 0 && r->use_candidate) rc = w_attr(&w, ATTR_USE_CANDIDATE, NULL, 0);
    if (rc == 0) rc = w_finish(&w, r->pwd);
    if (rc != 0) return rc;
    *out_len = w.len;
    return 0;
}
