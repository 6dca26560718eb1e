/* Encryption of stored values at rest: AES-256-GCM with a random 96-bit nonce per value.
 *
 * Two layouts:
 *   plain  0x01 (version) || nonce (12) || ciphertext || tag (16)
 *   keyed  0x02 (version) || key id (4, big-endian) || nonce (12) || ciphertext || tag (16)
 * The header (version byte, and the key id in the keyed form) is authenticated together with the
 * caller's AAD (GCM AAD = header || aad), so neither a later format nor another key's id can be
 * passed off as the one sealed: changing the id makes the value fail to open, it never selects
 * another key that opens it. The keyed form is what the store writes (the id names the data key,
 * storage/store_sqlite_keys.c); the plain form is what it wrote before per-organisation keys,
 * and what wraps a data key under the master key. The AAD should name where the row lives (for
 * example the conversation id and message id) so a row copied elsewhere fails to open.
 *
 * Random nonces are safe for about 2^32 messages under one key (NIST SP 800-38D); rotate keys
 * well before that. */
#ifndef PL_AEAD_H
#define PL_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define PL_AEAD_KEY_LEN 32
#define PL_AEAD_VERSION 0x01
#define PL_AEAD_NONCE_LEN 12
#define PL_AEAD_TAG_LEN 16
#define PL_AEAD_OVERHEAD 29 /* 1 version byte + 12 nonce + 16 tag */
#define PL_AEAD_VERSION_KEYED 0x02
#define PL_AEAD_KEY_ID_LEN 4
#define PL_AEAD_KEYED_OVERHEAD 33 /* 1 version byte + 4 key id + 12 nonce + 16 tag */

/* Encrypts pt[0..ptlen) under key, bound to aad[0..aadlen), and writes the sealed form
 * (ptlen + PL_AEAD_OVERHEAD bytes) to out and its length to *outlen. aad and pt may be NULL
 * when their lengths are 0. out holds outcap bytes and must not overlap pt.
 * Returns 0; -PL_EINVAL for NULL arguments; -PL_ETOOBIG if outcap is too small or ptlen or
 * aadlen is beyond what one call handles (INT_MAX bytes); -PL_ECRYPTO if OpenSSL failed (out is
 * then wiped). */
int pl_aead_seal(const uint8_t key[PL_AEAD_KEY_LEN], const void *aad, size_t aadlen, const void *pt,
                 size_t ptlen, uint8_t *out, size_t outcap, size_t *outlen);

/* Decrypts and authenticates in[0..inlen), sealed by pl_aead_seal under key with the same aad,
 * writing the plaintext (inlen - PL_AEAD_OVERHEAD bytes) to out and its length to *outlen. out
 * holds outcap bytes and must not overlap in. No plaintext is released unless the tag checks.
 * Returns 0; -PL_EINVAL for NULL arguments or inlen < PL_AEAD_OVERHEAD; -PL_ETOOBIG if outcap
 * is too small or the lengths exceed INT_MAX; -PL_ECRYPTO for an unknown version, wrong key,
 * wrong aad or any altered byte (out is then wiped). */
int pl_aead_open(const uint8_t key[PL_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                 const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen);

/* The keyed layout: as pl_aead_seal, with key_id written (and authenticated) in the header;
 * the output is ptlen + PL_AEAD_KEYED_OVERHEAD bytes. */
int pl_aead_seal_keyed(const uint8_t key[PL_AEAD_KEY_LEN], uint32_t key_id, const void *aad,
                       size_t aadlen, const void *pt, size_t ptlen, uint8_t *out, size_t outcap,
                       size_t *outlen);
/* As pl_aead_open, for the keyed layout only (inlen >= PL_AEAD_KEYED_OVERHEAD); the plaintext
 * is inlen - PL_AEAD_KEYED_OVERHEAD bytes. */
int pl_aead_open_keyed(const uint8_t key[PL_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                       const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap,
                       size_t *outlen);
/* Which layout in[0..inlen) has, without checking anything else: PL_AEAD_VERSION (*key_id = 0)
 * or PL_AEAD_VERSION_KEYED (*key_id from the header, not yet authenticated); -PL_ECRYPTO for an
 * unknown version or a value too short for its layout, -PL_EINVAL for NULL arguments. */
int pl_aead_peek(const uint8_t *in, size_t inlen, uint32_t *key_id);

#endif
