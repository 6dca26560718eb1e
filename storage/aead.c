/* AES-256-GCM sealing of stored values (see aead.h). Both layouts share one body: only the
 * header in front of the nonce differs, and it is always authenticated as GCM AAD.
 *
 * Each call makes its own EVP_CIPHER_CTX: it costs well under a microsecond against the
 * encryption itself and keeps the functions free of shared state across threads. OpenSSL's EVP
 * calls take int lengths, so anything over INT_MAX is refused rather than chunked; message
 * bodies are far smaller. */
#include "storage/aead.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/err.h"
#include "core/util.h"

/* Feeds hdr || aad to ctx as GCM additional data: the header (version byte, and the key id in
 * the keyed form) is authenticated with the caller's context. */
static int add_aad(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *hdr, size_t hdrlen,
                   const void *aad, size_t aadlen)
{
    int n;
    int (*update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int) =
        enc ? EVP_EncryptUpdate : EVP_DecryptUpdate;

    if (update(ctx, NULL, &n, hdr, (int)hdrlen) != 1) return -1;
    if (aadlen > 0 && update(ctx, NULL, &n, aad, (int)aadlen) != 1) return -1;
    return 0;
}

/* Seals with the header hdr[0..hdrlen) in front of nonce || ct || tag. */
static int seal_with(const uint8_t key[PL_AEAD_KEY_LEN], const uint8_t *hdr, size_t hdrlen,
                     const void *aad, size_t aadlen, const void *pt, size_t ptlen, uint8_t *out,
                     size_t outcap, size_t *outlen)
{
    size_t overhead = hdrlen + PL_AEAD_NONCE_LEN + PL_AEAD_TAG_LEN;
    if (key == NULL || out == NULL || outlen == NULL) return -PL_EINVAL;
    if ((aad == NULL && aadlen > 0) || (pt == NULL && ptlen > 0)) return -PL_EINVAL;
    if (ptlen > (size_t)INT_MAX - overhead || aadlen > (size_t)INT_MAX) return -PL_ETOOBIG;
    if (outcap < ptlen + overhead) return -PL_ETOOBIG;

    uint8_t *nonce = out + hdrlen;
    uint8_t *ct = nonce + PL_AEAD_NONCE_LEN;
    uint8_t *tag = ct + ptlen;
    int n = 0, fin = 0, rc = -PL_ECRYPTO;

    memcpy(out, hdr, hdrlen);
    EVP_CIPHER_CTX *ctx = NULL;
    /* GCM's default IV length is 12 bytes, which is what PL_AEAD_NONCE_LEN is. */
    if (pl_random_bytes(nonce, PL_AEAD_NONCE_LEN) == 0 && (ctx = EVP_CIPHER_CTX_new()) != NULL &&
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
        add_aad(ctx, 1, hdr, hdrlen, aad, aadlen) == 0 &&
        (ptlen == 0 || EVP_EncryptUpdate(ctx, ct, &n, pt, (int)ptlen) == 1) &&
        EVP_EncryptFinal_ex(ctx, ct + n, &fin) == 1 && (size_t)(n + fin) == ptlen &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, PL_AEAD_TAG_LEN, tag) == 1)
        rc = 0;
    EVP_CIPHER_CTX_free(ctx);

    if (rc != 0) {
        OPENSSL_cleanse(out, ptlen + overhead);
        return rc;
    }
    *outlen = ptlen + overhead;
    return 0;
}

/* Opens in[0..inlen) whose first hdrlen bytes are a header the caller has already checked the
 * version byte of. */
static int open_with(const uint8_t key[PL_AEAD_KEY_LEN], size_t hdrlen, uint8_t want_version,
                     const void *aad, size_t aadlen, const uint8_t *in, size_t inlen, uint8_t *out,
                     size_t outcap, size_t *outlen)
{
    size_t overhead = hdrlen + PL_AEAD_NONCE_LEN + PL_AEAD_TAG_LEN;
    if (key == NULL || in == NULL || outlen == NULL) return -PL_EINVAL;
    if (aad == NULL && aadlen > 0) return -PL_EINVAL;
    if (inlen < overhead) return -PL_EINVAL;
    size_t ctlen = inlen - overhead;
    if (out == NULL && ctlen > 0) return -PL_EINVAL;
    if (ctlen > (size_t)INT_MAX - overhead || aadlen > (size_t)INT_MAX) return -PL_ETOOBIG;
    if (outcap < ctlen) return -PL_ETOOBIG;
    if (in[0] != want_version) {
        /* Same promise as for a bad tag: on -PL_ECRYPTO, out holds only zeros. */
        if (ctlen > 0) OPENSSL_cleanse(out, ctlen);
        return -PL_ECRYPTO;
    }

    const uint8_t *nonce = in + hdrlen;
    const uint8_t *ct = nonce + PL_AEAD_NONCE_LEN;
    /* The tag ctrl takes a non-const pointer but only reads it when decrypting. */
    uint8_t *tag = (uint8_t *)(ct + ctlen);
    uint8_t dummy;
    uint8_t *dst = ctlen > 0 ? out : &dummy;
    int n = 0, fin = 0, rc = -PL_ECRYPTO;

    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    /* Final checks the tag; until it succeeds, what sits in out is unauthenticated and is
     * wiped below on failure. */
    if (ctx != NULL && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
        add_aad(ctx, 0, in, hdrlen, aad, aadlen) == 0 &&
        (ctlen == 0 || EVP_DecryptUpdate(ctx, dst, &n, ct, (int)ctlen) == 1) &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, PL_AEAD_TAG_LEN, tag) == 1 &&
        EVP_DecryptFinal_ex(ctx, dst + n, &fin) == 1 && (size_t)(n + fin) == ctlen)
        rc = 0;
    EVP_CIPHER_CTX_free(ctx);

    if (rc != 0) {
        if (ctlen > 0) OPENSSL_cleanse(out, ctlen);
        return rc;
    }
    *outlen = ctlen;
    return 0;
}

int pl_aead_seal(const uint8_t key[PL_AEAD_KEY_LEN], const void *aad, size_t aadlen, const void *pt,
                 size_t ptlen, uint8_t *out, size_t outcap, size_t *outlen)
{
    static const uint8_t hdr[1] = {PL_AEAD_VERSION};
    return seal_with(key, hdr, sizeof hdr, aad, aadlen, pt, ptlen, out, outcap, outlen);
}

int pl_aead_open(const uint8_t key[PL_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                 const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen)
{
    return open_with(key, 1, PL_AEAD_VERSION, aad, aadlen, in, inlen, out, outcap, outlen);
}

int pl_aead_seal_keyed(const uint8_t key[PL_AEAD_KEY_LEN], uint32_t key_id, const void *aad,
                       size_t aadlen, const void *pt, size_t ptlen, uint8_t *out, size_t outcap,
                       size_t *outlen)
{
    uint8_t hdr[1 + PL_AEAD_KEY_ID_LEN] = {PL_AEAD_VERSION_KEYED, (uint8_t)(key_id >> 24),
                                           (uint8_t)(key_id >> 16), (uint8_t)(key_id >> 8),
                                           (uint8_t)key_id};
    return seal_with(key, hdr, sizeof hdr, aad, aadlen, pt, ptlen, out, outcap, outlen);
}

int pl_aead_open_keyed(const uint8_t key[PL_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                       const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap,
                       size_t *outlen)
{
    return open_with(key, 1 + PL_AEAD_KEY_ID_LEN, PL_AEAD_VERSION_KEYED, aad, aadlen, in, inlen,
                     out, outcap, outlen);
}

int pl_aead_peek(const uint8_t *in, size_t inlen, uint32_t *key_id)
{
    if (in == NULL || key_id == NULL) return -PL_EINVAL;
    if (inlen >= PL_AEAD_OVERHEAD && in[0] == PL_AEAD_VERSION) {
        *key_id = 0;
        return PL_AEAD_VERSION;
    }
    if (inlen >= PL_AEAD_KEYED_OVERHEAD && in[0] == PL_AEAD_VERSION_KEYED) {
        *key_id = (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 8 | in[4];
        return PL_AEAD_VERSION_KEYED;
    }
    return -PL_ECRYPTO;
}
