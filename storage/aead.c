/* AES-256-GCM sealing of stored message bodies (see aead.h).
 *
 * Each call makes its own EVP_CIPHER_CTX: it costs well under a microsecond against the
 * encryption itself and keeps the functions free of shared state across threads. OpenSSL's EVP
 * calls take int lengths, so anything over INT_MAX is refused rather than chunked; message
 * bodies are far smaller. */
#include "storage/aead.h"

#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/err.h"
#include "core/util.h"

static const uint8_t version = PL_AEAD_VERSION;

/* Feeds version || aad to ctx as GCM additional data. */
static int add_aad(EVP_CIPHER_CTX *ctx, int enc, const void *aad, size_t aadlen)
{
    int n;
    int (*update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int) =
        enc ? EVP_EncryptUpdate : EVP_DecryptUpdate;

    if (update(ctx, NULL, &n, &version, 1) != 1) return -1;
    if (aadlen > 0 && update(ctx, NULL, &n, aad, (int)aadlen) != 1) return -1;
    return 0;
}

int pl_aead_seal(const uint8_t key[PL_AEAD_KEY_LEN], const void *aad, size_t aadlen, const void *pt,
                 size_t ptlen, uint8_t *out, size_t outcap, size_t *outlen)
{
    if (key == NULL || out == NULL || outlen == NULL) return -PL_EINVAL;
    if ((aad == NULL && aadlen > 0) || (pt == NULL && ptlen > 0)) return -PL_EINVAL;
    if (ptlen > (size_t)INT_MAX - PL_AEAD_OVERHEAD || aadlen > (size_t)INT_MAX) return -PL_ETOOBIG;
    if (outcap < ptlen + PL_AEAD_OVERHEAD) return -PL_ETOOBIG;

    uint8_t *nonce = out + 1;
    uint8_t *ct = nonce + PL_AEAD_NONCE_LEN;
    uint8_t *tag = ct + ptlen;
    int n = 0, fin = 0, rc = -PL_ECRYPTO;

    out[0] = version;
    EVP_CIPHER_CTX *ctx = NULL;
    /* GCM's default IV length is 12 bytes, which is what PL_AEAD_NONCE_LEN is. */
    if (pl_random_bytes(nonce, PL_AEAD_NONCE_LEN) == 0 && (ctx = EVP_CIPHER_CTX_new()) != NULL &&
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
        add_aad(ctx, 1, aad, aadlen) == 0 &&
        (ptlen == 0 || EVP_EncryptUpdate(ctx, ct, &n, pt, (int)ptlen) == 1) &&
        EVP_EncryptFinal_ex(ctx, ct + n, &fin) == 1 && (size_t)(n + fin) == ptlen &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, PL_AEAD_TAG_LEN, tag) == 1)
        rc = 0;
    EVP_CIPHER_CTX_free(ctx);

    if (rc != 0) {
        OPENSSL_cleanse(out, ptlen + PL_AEAD_OVERHEAD);
        return rc;
    }
    *outlen = ptlen + PL_AEAD_OVERHEAD;
    return 0;
}

int pl_aead_open(const uint8_t key[PL_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                 const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen)
{
    if (key == NULL || in == NULL || outlen == NULL) return -PL_EINVAL;
    if (aad == NULL && aadlen > 0) return -PL_EINVAL;
    if (inlen < PL_AEAD_OVERHEAD) return -PL_EINVAL;
    size_t ctlen = inlen - PL_AEAD_OVERHEAD;
    if (out == NULL && ctlen > 0) return -PL_EINVAL;
    if (ctlen > (size_t)INT_MAX - PL_AEAD_OVERHEAD || aadlen > (size_t)INT_MAX) return -PL_ETOOBIG;
    if (outcap < ctlen) return -PL_ETOOBIG;
    if (in[0] != version) {
        /* Same promise as for a bad tag: on -PL_ECRYPTO, out holds only zeros. */
        if (ctlen > 0) OPENSSL_cleanse(out, ctlen);
        return -PL_ECRYPTO;
    }

    const uint8_t *nonce = in + 1;
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
        add_aad(ctx, 0, aad, aadlen) == 0 &&
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
