/* STUN messages (RFC 5389, RFC 8489) as ICE (RFC 8445) uses them: parse a datagram into a
 * view, verify FINGERPRINT and MESSAGE-INTEGRITY, and write Binding requests and responses.
 *
 * Part of the media plane's zero-copy parsers (DESIGN.md, "Media"): the view points into the
 * caller's buffer and nothing here allocates or touches a socket. Only short-term credentials
 * are supported (the key is the ICE password as given; ice-chars need no SASLprep), and only
 * the attributes ICE needs are decoded. The policy (which attributes a request must carry, what
 * to answer) belongs to media/ice.c. */
#ifndef PL_STUN_H
#define PL_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PL_STUN_HEADER_LEN 20
#define PL_STUN_TXID_LEN 12
#define PL_STUN_MAGIC_COOKIE 0x2112A442u
/* Largest datagram pl_stun_parse accepts: STUN over UDP must fit one unfragmented packet. */
#define PL_STUN_MAX_LEN 1500
/* A USERNAME value must be shorter than 513 bytes (RFC 5389 section 15.3). */
#define PL_STUN_USERNAME_MAX 512
/* Unknown comprehension-required attribute types remembered for a 420 response. */
#define PL_STUN_MAX_UNKNOWN 8
/* Bytes that always suffice for any response written by the functions below. */
#define PL_STUN_RESPONSE_MAX 160

#define PL_STUN_METHOD_BINDING 0x001

typedef enum {
    PL_STUN_CLASS_REQUEST = 0,
    PL_STUN_CLASS_INDICATION = 1,
    PL_STUN_CLASS_SUCCESS = 2,
    PL_STUN_CLASS_ERROR = 3,
} pl_stun_class_t;

/* A parsed message. Every pointer points into the buffer given to pl_stun_parse and is valid
 * only while that buffer is. Of an attribute that appears twice only the first is kept. */
typedef struct {
    const uint8_t *buf; /* the whole message */
    size_t len;
    pl_stun_class_t cls;
    uint16_t method;     /* 12-bit method, e.g. PL_STUN_METHOD_BINDING */
    const uint8_t *txid; /* PL_STUN_TXID_LEN bytes */

    const uint8_t *username; /* USERNAME, not NUL-terminated; NULL when absent */
    size_t username_len;
    bool has_priority;
    uint32_t priority;
    bool use_candidate;
    bool has_ice_controlling;
    uint64_t ice_controlling; /* tie-breaker */
    bool has_ice_controlled;
    uint64_t ice_controlled; /* tie-breaker */
    bool has_xor_mapped;
    struct sockaddr_storage xor_mapped; /* decoded AF_INET or AF_INET6 address and port */
    bool has_error;
    uint16_t error_code;         /* 300..699 */
    const uint8_t *error_reason; /* UTF-8, not NUL-terminated */
    size_t error_reason_len;

    size_t mi_offset; /* offset of the MESSAGE-INTEGRITY attribute header, 0 when absent */
    size_t fp_offset; /* offset of the FINGERPRINT attribute header, 0 when absent */
    /* Comprehension-required (type < 0x8000) attributes this parser does not know: the total
     * count, and the first PL_STUN_MAX_UNKNOWN types. Comprehension-optional ones are skipped. */
    size_t n_unknown;
    uint16_t unknown[PL_STUN_MAX_UNKNOWN];
} pl_stun_msg_t;

/* What a Binding request written by pl_stun_write_binding_request carries. */
typedef enum {
    PL_STUN_ROLE_CONTROLLING = 0, /* ICE-CONTROLLING, what a browser sends to an ICE-lite server */
    PL_STUN_ROLE_CONTROLLED,      /* ICE-CONTROLLED */
    PL_STUN_ROLE_NONE,            /* neither (only for testing a peer's handling of that) */
} pl_stun_role_t;

typedef struct {
    const uint8_t *txid;  /* PL_STUN_TXID_LEN bytes, or NULL for a random one */
    const char *username; /* "RECEIVERUFRAG:SENDERUFRAG", NUL-terminated */
    const char *pwd;      /* the receiver's ICE password: key for MESSAGE-INTEGRITY */
    uint32_t priority;
    pl_stun_role_t role;
    uint64_t tie_breaker;
    bool use_candidate;
} pl_stun_request_t;

/* True if buf[0..len) is shaped like STUN for demultiplexing (RFC 7983: first byte 0..3) and
 * has at least a header with the magic cookie. Says nothing about the rest: call pl_stun_parse. */
bool pl_stun_is_stun(const uint8_t *buf, size_t len);

/* Parses buf[0..len) into *msg without copying or allocating. Checks the header (first byte
 * 0..3, length a multiple of 4 equal to len - 20, magic cookie), bounds every attribute, checks
 * the length of the attributes it decodes, and enforces that only FINGERPRINT follows
 * MESSAGE-INTEGRITY and that FINGERPRINT is last. Neither hash is verified here.
 * Returns 0, or -PL_EINVAL for NULL arguments or a malformed, truncated, or oversized
 * (> PL_STUN_MAX_LEN) message; *msg is then unspecified. */
int pl_stun_parse(const uint8_t *buf, size_t len, pl_stun_msg_t *msg);

/* Verifies the FINGERPRINT of a parsed message (CRC-32 XOR 0x5354554e).
 * Returns 0; -PL_ENOTFOUND if there is none; -PL_EINVAL if it is wrong. */
int pl_stun_verify_fingerprint(const pl_stun_msg_t *msg);

/* Verifies the MESSAGE-INTEGRITY of a parsed message: HMAC-SHA1 keyed with the short-term
 * password pwd (NUL-terminated) over the message up to the attribute, with the length field
 * counted up to the end of MESSAGE-INTEGRITY (RFC 5389 section 15.4). Compared in constant time.
 * Returns 0; -PL_ENOTFOUND if there is none; -PL_EAUTH if it does not match; -PL_EINVAL for a
 * NULL or empty pwd; -PL_ECRYPTO if HMAC failed. */
int pl_stun_verify_integrity(const pl_stun_msg_t *msg, const char *pwd);

/* For all three writers out must not overlap the buffer req was parsed from. */

/* Writes a Binding success response to req (same transaction id) into out[0..cap): the
 * XOR-MAPPED-ADDRESS of mapped (AF_INET or AF_INET6; an IPv4-mapped IPv6 address is written as
 * IPv4), MESSAGE-INTEGRITY keyed with pwd unless pwd is NULL, and FINGERPRINT. Sets *out_len.
 * Returns 0; -PL_EINVAL for NULL arguments, an empty pwd or another address family;
 * -PL_ETOOBIG if cap is too small (PL_STUN_RESPONSE_MAX always suffices); -PL_ECRYPTO. */
int pl_stun_write_binding_success(const pl_stun_msg_t *req, const struct sockaddr *mapped,
                                  const char *pwd, uint8_t *out, size_t cap, size_t *out_len);

/* Writes an error response to req (same method, Binding in practice, and transaction id) into
 * out[0..cap): ERROR-CODE code (400, 401, 420 or 487, with its standard reason phrase), for 420
 * an UNKNOWN-ATTRIBUTES listing req->unknown, MESSAGE-INTEGRITY keyed with pwd only when pwd is
 * not NULL (pass it only when the request authenticated), and FINGERPRINT. Sets *out_len.
 * Returns 0; -PL_EINVAL for NULL arguments, an empty pwd or another code; -PL_ETOOBIG if cap is
 * too small (PL_STUN_RESPONSE_MAX always suffices); -PL_ECRYPTO. */
int pl_stun_write_binding_error(const pl_stun_msg_t *req, int code, const char *pwd, uint8_t *out,
                                size_t cap, size_t *out_len);

/* Writes a Binding request as a full ICE agent (a browser) sends one: USERNAME, PRIORITY, the
 * role attribute with the tie-breaker, USE-CANDIDATE if asked, MESSAGE-INTEGRITY keyed with
 * r->pwd, and FINGERPRINT. Used by tests and test peers; the server itself never sends requests.
 * Returns 0; -PL_EINVAL for NULL arguments, an empty pwd or a username that is empty or longer
 * than PL_STUN_USERNAME_MAX; -PL_ETOOBIG if cap is too small; -PL_EINTERNAL if no random
 * transaction id could be drawn; -PL_ECRYPTO. */
int pl_stun_write_binding_request(const pl_stun_request_t *r, uint8_t *out, size_t cap,
                                  size_t *out_len);

#endif
