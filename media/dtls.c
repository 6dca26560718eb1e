/* See dtls.h. DTLS 1.2 over memory BIOs, with DTLS-SRTP key export.
 *
 * Datagram boundaries. OpenSSL writes one datagram per BIO_write (each flush of its internal
 * write buffer during the handshake, each record afterwards) and sizes them to the MTU. A plain
 * memory BIO would run those writes together, so the write side is a small filter BIO over a
 * BIO_s_mem that records the length of each write; flush_out then hands the bytes to the
 * listener one datagram at a time, exactly as OpenSSL cut them. The filter reports nothing
 * pending, so OpenSSL never counts earlier datagrams against the MTU of the next one.
 *
 * Peer authentication is the fingerprint check in handshake_done, not the certificate chain:
 * WebRTC certificates are self-signed, and the SDP (carried over the authenticated signalling
 * channel) says which one to expect. The verify callback therefore accepts any certificate, and
 * SSL_VERIFY_FAIL_IF_NO_PEER_CERT makes sure there is one to check.
 *
 * Failures follow DESIGN.md: bad datagrams are dropped with a counter and a debug line (a peer
 * can send them at will), handshake failures are logged once and reported to the listener. */
#include "media/dtls.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#define LOG_MOD "dtls"

/* RFC 5764 section 4.2: the exporter label for DTLS-SRTP keys. */
#define SRTP_EXPORTER_LABEL "EXTRACTOR-dtls_srtp"

/* ECDHE with ECDSA (our certificate, and every browser's default) and AEAD only: what Chrome and
 * Firefox offer for WebRTC, best first. */
#define CIPHERS                                                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"
#define GROUPS "X25519:P-256"

#define CERT_DAYS 30
#define CERT_CN "parley"

/* Retransmission timeout: RFC 6347 suggests 1 s, doubling to 60 s. ICE has already measured the
 * path, so start lower (a spurious retransmission costs one flight) and cap at 3 s. OpenSSL
 * gives up on the 13th timeout: 30 s with these numbers, the same as ICE consent freshness. */
#define RTO_INITIAL_US 200000u
#define RTO_MAX_US 3000000u

/* Outgoing datagrams queued between flushes. One flight fits a handful, and flush_out empties
 * the queue after every OpenSSL call; beyond this a datagram is dropped as if lost. */
#define OUT_QUEUE 32

/* RFC 7983 demultiplexing and the DTLS record header (RFC 6347 section 4.1). */
#define DTLS_FIRST_BYTE_MIN 20
#define DTLS_FIRST_BYTE_MAX 63
#define DTLS_RECORD_HDR 13
#define DTLS_MAX_DATAGRAM (DTLS_RECORD_HDR + 16384 + 2048)

struct pl_dtls_ctx {
    SSL_CTX *ssl_ctx;
    BIO_METHOD *dgram_method; /* the write-side filter, shared by every peer */
    char fingerprint[PL_DTLS_FP_STR_LEN];
    size_t peers; /* live pl_dtls_t made from this context */
};

struct pl_dtls {
    pl_dtls_ctx_t *ctx;
    SSL *ssl; /* owns rbio and the filter chain */
    BIO *rbio;
    BIO *wmem; /* the BIO_s_mem under the filter */
    pl_dtls_role_t role;
    pl_dtls_state_t state;
    uint8_t remote_fp[PL_DTLS_FP_LEN];
    pl_dtls_listener_t listener;
    void *opaque;
    size_t out_lens[OUT_QUEUE];
    size_t out_count;
    pl_dtls_stats_t stats;
};

/* ---- certificate and fingerprint ---- */

static void fingerprint_format(const uint8_t md[PL_DTLS_FP_LEN], char out[PL_DTLS_FP_STR_LEN])
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < PL_DTLS_FP_LEN; i++) {
        out[3 * i] = hex[md[i] >> 4];
        out[3 * i + 1] = hex[md[i] & 0x0f];
        out[3 * i + 2] = i + 1 < PL_DTLS_FP_LEN ? ':' : '\0';
    }
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int pl_dtls_fingerprint_parse(const char *str, uint8_t out[PL_DTLS_FP_LEN])
{
    if (!str || !out || strlen(str) != PL_DTLS_FP_STR_LEN - 1) return -PL_EINVAL;
    for (size_t i = 0; i < PL_DTLS_FP_LEN; i++) {
        int hi = hex_value(str[3 * i]), lo = hex_value(str[3 * i + 1]);
        char sep = str[3 * i + 2];
        if (hi < 0 || lo < 0 || (i + 1 < PL_DTLS_FP_LEN ? sep != ':' : sep != '\0'))
            return -PL_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int cert_sha256(const X509 *cert, uint8_t md[PL_DTLS_FP_LEN])
{
    uint8_t buf[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!X509_digest(cert, EVP_sha256(), buf, &n) || n != PL_DTLS_FP_LEN) return -PL_ECRYPTO;
    memcpy(md, buf, PL_DTLS_FP_LEN);
    return 0;
}

/* A fresh P-256 key and a self-signed certificate for it, the way core/datadir.c makes the
 * development TLS certificate, but kept in memory and short-lived: a DTLS certificate is an
 * identity only for the SDPs exchanged while this process runs. */
static int make_identity(EVP_PKEY **out_key, X509 **out_cert)
{
    int rc = -PL_ECRYPTO;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    uint8_t serial[16];
    if (!pkey || !x) goto out;
    if (pl_random_bytes(serial, sizeof serial) < 0) goto out;
    serial[0] &= 0x7f; /* a positive INTEGER */
    if (!(bn = BN_bin2bn(serial, sizeof serial, NULL)) ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        goto out;
    X509_NAME *name = X509_get_subject_name(x);
    /* Backdated an hour for peers whose clocks run slow (browsers do not check it, others may). */
    if (!X509_set_version(x, 2) || !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), CERT_DAYS * 24L * 3600) ||
        !X509_set_pubkey(x, pkey) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)CERT_CN, -1,
                                    -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_sign(x, pkey, EVP_sha256()))
        goto out;
    *out_key = pkey;
    *out_cert = x;
    pkey = NULL;
    x = NULL;
    rc = 0;
out:
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

/* ---- the write-side filter BIO ---- */

static int dgram_write(BIO *b, const char *buf, int len)
{
    pl_dtls_t *d = BIO_get_data(b);
    if (len <= 0) return 0;
    if (d->out_count == OUT_QUEUE) {
        d->stats.datagrams_dropped++;
        return len; /* as if lost on the wire: DTLS retransmits */
    }
    if (BIO_write(BIO_next(b), buf, len) != len) return -1;
    d->out_lens[d->out_count++] = (size_t)len;
    return len;
}

static long dgram_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* each write already is a datagram; flush_out sends them */
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
        return 0; /* see the file comment: queued datagrams are not part of the next one */
    default:
        return 0; /* no MTU query, no overhead, no peer address: a memory transport */
    }
}

static int dgram_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* OpenSSL hands out BIO type indices from a small process-wide range (up to 255), so take one
 * once per process rather than once per context. */
static pthread_once_t dgram_index_once = PTHREAD_ONCE_INIT;
static int dgram_index = -1;

static void dgram_index_init(void)
{
    dgram_index = BIO_get_new_index();
}

static BIO_METHOD *dgram_method_new(void)
{
    if (pthread_once(&dgram_index_once, dgram_index_init) != 0 || dgram_index < 0) return NULL;
    BIO_METHOD *m = BIO_meth_new(dgram_index | BIO_TYPE_FILTER, "parley dtls datagrams");
    if (!m) return NULL;
    if (!BIO_meth_set_write(m, dgram_write) || !BIO_meth_set_ctrl(m, dgram_ctrl) ||
        !BIO_meth_set_create(m, dgram_create)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* Sends every queued datagram to the listener and empties the write side. */
static void flush_out(pl_dtls_t *d)
{
    char *data = NULL;
    long avail = BIO_get_mem_data(d->wmem, &data);
    size_t off = 0;
    for (size_t i = 0; i < d->out_count; i++) {
        size_t len = d->out_lens[i];
        if (avail < 0 || off + len > (size_t)avail) break; /* cannot happen: same writes */
        d->stats.datagrams_out++;
        d->listener.send(d->opaque, (const uint8_t *)data + off, len);
        off += len;
    }
    d->out_count = 0;
    (void)BIO_reset(d->wmem);
}

/* ---- context ---- */

static int accept_any_cert(int preverify_ok, X509_STORE_CTX *store)
{
    (void)preverify_ok;
    (void)store;
    return 1; /* self-signed by design; handshake_done checks the fingerprint */
}

static unsigned int next_rto_us(SSL *ssl, unsigned int prev_us)
{
    (void)ssl;
    if (prev_us == 0) return RTO_INITIAL_US;
    return prev_us >= RTO_MAX_US / 2 ? RTO_MAX_US : 2 * prev_us;
}

static int profile_list(const pl_srtp_profile_t *profiles, size_t n, char *out, size_t cap)
{
    static const pl_srtp_profile_t defaults[] = {PL_SRTP_PROFILE_AEAD_AES_128_GCM,
                                                 PL_SRTP_PROFILE_AES128_CM_SHA1_80};
    if (!profiles) {
        if (n) return -PL_EINVAL;
        profiles = defaults;
        n = sizeof defaults / sizeof defaults[0];
    }
    if (n == 0) return -PL_EINVAL;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *name;
        switch (profiles[i]) {
        case PL_SRTP_PROFILE_AEAD_AES_128_GCM:
            name = "SRTP_AEAD_AES_128_GCM";
            break;
        case PL_SRTP_PROFILE_AES128_CM_SHA1_80:
            name = "SRTP_AES128_CM_SHA1_80";
            break;
        default:
            return -PL_EINVAL;
        }
        size_t used = strlen(out);
        int w = snprintf(out + used, cap - used, "%s%s", i ? ":" : "", name);
        if (w < 0 || (size_t)w >= cap - used) return -PL_EINVAL;
    }
    return 0;
}

static int configure_ssl_ctx(SSL_CTX *c, EVP_PKEY *pkey, X509 *cert, const char *srtp_profiles)
{
    /* No tickets or cache: every peer is a fresh handshake, and a resumed session would skip
     * the certificate whose fingerprint we check. No renegotiation either. */
    SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any_cert);
    if (!SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION) || !SSL_CTX_use_certificate(c, cert) ||
        !SSL_CTX_use_PrivateKey(c, pkey) || !SSL_CTX_check_private_key(c) ||
        !SSL_CTX_set_cipher_list(c, CIPHERS) || !SSL_CTX_set1_groups_list(c, GROUPS))
        return -PL_ECRYPTO;
    /* Unlike its neighbours, this one returns 0 on success. */
    if (SSL_CTX_set_tlsext_use_srtp(c, srtp_profiles) != 0) return -PL_ECRYPTO;
    return 0;
}

int pl_dtls_ctx_create(const pl_srtp_profile_t *profiles, size_t n, pl_dtls_ctx_t **out)
{
    char srtp_profiles[128];
    if (!out) return -PL_EINVAL;
    *out = NULL;
    int rc = profile_list(profiles, n, srtp_profiles, sizeof srtp_profiles);
    if (rc < 0) return rc;

    pl_dtls_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return -PL_ENOMEM;
    EVP_PKEY *pkey = NULL;
    X509 *cert = NULL;
    uint8_t md[PL_DTLS_FP_LEN];
    rc = make_identity(&pkey, &cert);
    if (rc == 0) rc = cert_sha256(cert, md);
    if (rc == 0) {
        fingerprint_format(md, ctx->fingerprint);
        ctx->ssl_ctx = SSL_CTX_new(DTLS_method());
        ctx->dgram_method = dgram_method_new();
        rc = ctx->ssl_ctx && ctx->dgram_method ? 0 : -PL_ENOMEM;
    }
    if (rc == 0) rc = configure_ssl_ctx(ctx->ssl_ctx, pkey, cert, srtp_profiles);
    /* The SSL_CTX holds its own references to the key and certificate. */
    EVP_PKEY_free(pkey);
    X509_free(cert);
    if (rc < 0) {
        const char *why = ERR_reason_error_string(ERR_peek_last_error());
        pl_log_error(LOG_MOD, "could not create the DTLS context: %s", why ? why : pl_strerror(rc));
        ERR_clear_error();
        pl_dtls_ctx_destroy(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void pl_dtls_ctx_destroy(pl_dtls_ctx_t *ctx)
{
    if (!ctx) return;
    if (ctx->peers) {
        pl_log_error(LOG_MOD, "context destroyed with %zu transports alive", ctx->peers);
        abort();
    }
    SSL_CTX_free(ctx->ssl_ctx);
    BIO_meth_free(ctx->dgram_method);
    free(ctx);
}

const char *pl_dtls_ctx_fingerprint(const pl_dtls_ctx_t *ctx)
{
    return ctx->fingerprint;
}

/* ---- per-peer transport ---- */

int pl_dtls_create(pl_dtls_ctx_t *ctx, pl_dtls_role_t role, const uint8_t remote_fp[PL_DTLS_FP_LEN],
                   const pl_dtls_listener_t *listener, void *opaque, pl_dtls_t **out)
{
    if (!out) return -PL_EINVAL;
    *out = NULL;
    if (!ctx || !remote_fp || !listener || !listener->send ||
        (role != PL_DTLS_ROLE_CLIENT && role != PL_DTLS_ROLE_SERVER))
        return -PL_EINVAL;
    pl_dtls_t *d = calloc(1, sizeof *d);
    if (!d) return -PL_ENOMEM;
    d->ctx = ctx;
    d->role = role;
    d->state = PL_DTLS_NEW;
    memcpy(d->remote_fp, remote_fp, PL_DTLS_FP_LEN);
    d->listener = *listener;
    d->opaque = opaque;

    BIO *filter = NULL;
    d->ssl = SSL_new(ctx->ssl_ctx);
    d->rbio = BIO_new(BIO_s_mem());
    d->wmem = BIO_new(BIO_s_mem());
    filter = BIO_new(ctx->dgram_method);
    if (!d->ssl || !d->rbio || !d->wmem || !filter) {
        BIO_free(filter);
        BIO_free(d->wmem);
        BIO_free(d->rbio);
        SSL_free(d->ssl);
        free(d);
        ERR_clear_error();
        return -PL_ENOMEM;
    }
    /* An empty read BIO means "wait for the next datagram", not end of file. */
    BIO_set_mem_eof_return(d->rbio, -1);
    BIO_set_data(filter, d);
    BIO_push(filter, d->wmem);
    SSL_set_bio(d->ssl, d->rbio, filter); /* the SSL owns both chains from here */
    if (!SSL_set_mtu(d->ssl, PL_DTLS_MTU)) {
        SSL_free(d->ssl);
        free(d);
        ERR_clear_error();
        return -PL_ECRYPTO;
    }
    DTLS_set_timer_cb(d->ssl, next_rto_us);
    ctx->peers++;
    *out = d;
    return 0;
}

void pl_dtls_destroy(pl_dtls_t *d)
{
    if (!d) return;
    d->ctx->peers--;
    SSL_free(d->ssl); /* OpenSSL cleanses its own secrets */
    pl_wipe(d, sizeof *d);
    free(d);
}

/* Moves to FAILED or CLOSED and tells the listener. After a handshake has completed (our own
 * fingerprint or profile check failed) a close_notify tells the peer at once; after an OpenSSL
 * fatal error it has already sent its alert and must not be shut down. */
static void finish(pl_dtls_t *d, pl_dtls_state_t state, int err, bool send_close_notify)
{
    if (send_close_notify) {
        (void)SSL_shutdown(d->ssl);
        ERR_clear_error();
    }
    flush_out(d);
    d->state = state;
    if (d->listener.closed) d->listener.closed(d->opaque, state, err);
}

static void log_ssl_failure(const pl_dtls_t *d, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    pl_log_warn(LOG_MOD, "%s (%s role): %s", what,
                d->role == PL_DTLS_ROLE_SERVER ? "server" : "client", reason ? reason : "unknown");
    ERR_clear_error();
}

/* RFC 5764 section 4.2: the exporter output is client key, server key, client salt, server
 * salt; "local" is the half for our own role. Returns 0, -PL_ENOTFOUND if no profile we know was
 * negotiated, or -PL_ECRYPTO if the export failed. */
static int export_keys(pl_dtls_t *d, pl_srtp_keys_t *keys)
{
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
    memset(keys, 0, sizeof *keys);
    if (!p) return -PL_ENOTFOUND; /* the peer did not negotiate use_srtp */
    switch (p->id) {
    case SRTP_AES128_CM_SHA1_80:
        keys->profile = PL_SRTP_PROFILE_AES128_CM_SHA1_80;
        keys->key_len = 16;
        keys->salt_len = 14;
        break;
    case SRTP_AEAD_AES_128_GCM:
        keys->profile = PL_SRTP_PROFILE_AEAD_AES_128_GCM;
        keys->key_len = 16;
        keys->salt_len = 12;
        break;
    default:
        return -PL_ENOTFOUND; /* we never offer anything else */
    }
    uint8_t m[2 * (PL_SRTP_MAX_KEY_LEN + PL_SRTP_MAX_SALT_LEN)];
    size_t kl = keys->key_len, sl = keys->salt_len, total = 2 * (kl + sl);
    if (SSL_export_keying_material(d->ssl, m, total, SRTP_EXPORTER_LABEL,
                                   strlen(SRTP_EXPORTER_LABEL), NULL, 0, 0) != 1) {
        pl_wipe(m, sizeof m);
        pl_wipe(keys, sizeof *keys);
        return -PL_ECRYPTO;
    }
    const uint8_t *client_key = m, *server_key = m + kl;
    const uint8_t *client_salt = m + 2 * kl, *server_salt = m + 2 * kl + sl;
    bool client = d->role == PL_DTLS_ROLE_CLIENT;
    memcpy(keys->local_key, client ? client_key : server_key, kl);
    memcpy(keys->local_salt, client ? client_salt : server_salt, sl);
    memcpy(keys->remote_key, client ? server_key : client_key, kl);
    memcpy(keys->remote_salt, client ? server_salt : client_salt, sl);
    pl_wipe(m, sizeof m);
    return 0;
}

/* OpenSSL finished the handshake: authenticate the peer, then hand the keys over. */
static void handshake_done(pl_dtls_t *d)
{
    uint8_t md[PL_DTLS_FP_LEN];
    X509 *cert = SSL_get0_peer_certificate(d->ssl);
    if (!cert || cert_sha256(cert, md) < 0 || !pl_ct_equal(md, d->remote_fp, sizeof md)) {
        d->stats.fingerprint_mismatches++;
        pl_log_warn(LOG_MOD, "peer certificate does not match the SDP fingerprint");
        finish(d, PL_DTLS_FAILED, -PL_EAUTH, true);
        return;
    }
    pl_srtp_keys_t keys;
    int rc = export_keys(d, &keys);
    if (rc < 0) {
        d->stats.handshake_failures++;
        pl_log_warn(LOG_MOD, "%s",
                    rc == -PL_ENOTFOUND ? "the peer negotiated no SRTP profile"
                                        : "SRTP key export failed");
        ERR_clear_error();
        finish(d, PL_DTLS_FAILED, -PL_ECRYPTO, true);
        return;
    }
    d->state = PL_DTLS_CONNECTED;
    d->stats.handshakes_ok++;
    if (d->listener.connected) d->listener.connected(d->opaque, &keys);
    pl_wipe(&keys, sizeof keys);
}

/* Acts on the result r of SSL_do_handshake or SSL_read. Returns true while the transport is
 * still usable. */
static bool after_ssl_call(pl_dtls_t *d, int r)
{
    int e = SSL_get_error(d->ssl, r);
    switch (e) {
    case SSL_ERROR_NONE:
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return true;
    case SSL_ERROR_ZERO_RETURN:
        /* close_notify from the peer: answer it, as TLS expects, and close. */
        finish(d, PL_DTLS_CLOSED, 0, true);
        return false;
    default:
        if (d->state == PL_DTLS_CONNECTING) d->stats.handshake_failures++;
        log_ssl_failure(d, d->state == PL_DTLS_CONNECTING ? "handshake failed" : "fatal error");
        finish(d, PL_DTLS_FAILED, -PL_ECRYPTO, false);
        return false;
    }
}

/* Runs OpenSSL over whatever the read BIO holds, and sends what it writes. */
static void drive(pl_dtls_t *d)
{
    if (d->state == PL_DTLS_CONNECTING) {
        ERR_clear_error();
        int r = SSL_do_handshake(d->ssl);
        /* Send our last flight before reporting keys or failure. */
        flush_out(d);
        if (r == 1)
            handshake_done(d);
        else if (!after_ssl_call(d, r))
            return;
    }
    /* Connected: the records left are a retransmitted final flight from the peer (OpenSSL
     * answers by resending ours), alerts, or application data, which Parley does not use (no
     * data channels) and drops. */
    while (d->state == PL_DTLS_CONNECTED) {
        uint8_t sink[2048];
        ERR_clear_error();
        int r = SSL_read(d->ssl, sink, sizeof sink);
        pl_wipe(sink, sizeof sink);
        flush_out(d);
        if (r > 0) continue;
        after_ssl_call(d, r);
        break;
    }
}

int pl_dtls_start(pl_dtls_t *d)
{
    if (d->state != PL_DTLS_NEW) return -PL_ECONFLICT;
    d->state = PL_DTLS_CONNECTING;
    if (d->role == PL_DTLS_ROLE_SERVER) {
        SSL_set_accept_state(d->ssl);
        return 0;
    }
    SSL_set_connect_state(d->ssl);
    drive(d);
    return 0;
}

/* True if buf is one or more whole DTLS 1.0/1.2 records of a content type OpenSSL handles
 * (change_cipher_spec, alert, handshake, application_data). RFC 7983 puts the first byte of
 * DTLS in 20..63, which is also how the owner demultiplexes; checking the record framing here
 * lets garbage and truncated records be counted instead of vanishing inside OpenSSL. */
static bool is_dtls_datagram(const uint8_t *buf, size_t len)
{
    if (!buf || len < DTLS_RECORD_HDR || len > DTLS_MAX_DATAGRAM) return false;
    if (buf[0] < DTLS_FIRST_BYTE_MIN || buf[0] > DTLS_FIRST_BYTE_MAX) return false;
    size_t off = 0;
    while (off < len) {
        const uint8_t *r = buf + off;
        if (len - off < DTLS_RECORD_HDR) return false;
        if (r[0] < SSL3_RT_CHANGE_CIPHER_SPEC || r[0] > SSL3_RT_APPLICATION_DATA) return false;
        if (r[1] != 0xfe || (r[2] != 0xff && r[2] != 0xfd)) return false;
        size_t rec_len = (size_t)r[11] << 8 | r[12];
        if (rec_len > len - off - DTLS_RECORD_HDR) return false;
        off += DTLS_RECORD_HDR + rec_len;
    }
    return true;
}

int pl_dtls_feed(pl_dtls_t *d, const uint8_t *buf, size_t len)
{
    if (d->state != PL_DTLS_CONNECTING && d->state != PL_DTLS_CONNECTED) {
        d->stats.late_records++;
        pl_log_debug(LOG_MOD, "dropped a datagram in state %d", (int)d->state);
        return -PL_ECONFLICT;
    }
    if (!is_dtls_datagram(buf, len)) {
        d->stats.bad_records++;
        pl_log_debug(LOG_MOD, "dropped a datagram that is not DTLS (%zu bytes)", len);
        return -PL_EINVAL;
    }
    if (BIO_write(d->rbio, buf, (int)len) != (int)len) {
        ERR_clear_error();
        return -PL_ENOMEM;
    }
    drive(d);
    /* Whatever OpenSSL left unread belongs to this datagram only. */
    (void)BIO_reset(d->rbio);
    return 0;
}

int pl_dtls_timeout_ms(pl_dtls_t *d, uint64_t *ms)
{
    struct timeval tv;
    if (d->state != PL_DTLS_CONNECTING || DTLSv1_get_timeout(d->ssl, &tv) != 1)
        return -PL_ENOTFOUND;
    /* Round up: a timer that fires early only costs a wasted wake-up. */
    *ms = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
    return 0;
}

int pl_dtls_on_timer(pl_dtls_t *d)
{
    if (d->state != PL_DTLS_CONNECTING) return 0;
    ERR_clear_error();
    long r = DTLSv1_handle_timeout(d->ssl);
    if (r > 0) d->stats.retransmissions++;
    if (r < 0) {
        d->stats.handshake_failures++;
        log_ssl_failure(d, "handshake timed out");
        finish(d, PL_DTLS_FAILED, -PL_ETIMEOUT, false);
        return 0;
    }
    flush_out(d);
    return 0;
}

int pl_dtls_close(pl_dtls_t *d)
{
    if (d->state == PL_DTLS_FAILED || d->state == PL_DTLS_CLOSED) return -PL_ECONFLICT;
    /* OpenSSL cannot send close_notify in the middle of a handshake; the peer's own timer
     * ends it there. */
    if (d->state == PL_DTLS_CONNECTED) {
        (void)SSL_shutdown(d->ssl);
        ERR_clear_error();
        flush_out(d);
    }
    d->state = PL_DTLS_CLOSED;
    return 0;
}

pl_dtls_state_t pl_dtls_state(const pl_dtls_t *d)
{
    return d->state;
}

void pl_dtls_stats(const pl_dtls_t *d, pl_dtls_stats_t *out)
{
    *out = d->stats;
}
