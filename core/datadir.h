/* The data directory (var/ by default): created 0700 on first run with a random 32-byte at-rest
 * data key (data.key), a self-signed development TLS certificate (tls.crt, tls.key) and the
 * Ed25519 key pair that signs audit checkpoints (audit_signing.key, audit_signing.pub, PEM), all
 * 0600. Existing files are kept: the keys must never change under an existing database. */
#ifndef PL_DATADIR_H
#define PL_DATADIR_H

#include <stddef.h>
#include <stdint.h>

/* File names in the data dir of the audit checkpoint signing key (PKCS#8 PEM) and its public
 * half (SubjectPublicKeyInfo PEM), which `parley audit verify` checks signatures with. */
#define PL_DATADIR_AUDIT_KEY "audit_signing.key"
#define PL_DATADIR_AUDIT_PUB "audit_signing.pub"

/* Creates what is missing. 0 or -PL_EIO / -PL_ECRYPTO. */
int pl_datadir_prepare(const char *dir);
/* Reads the data key. 0, -PL_EIO if missing or not exactly 32 bytes. */
int pl_datadir_read_key(const char *dir, uint8_t key[32]);
/* Path of a file in the data dir. */
void pl_datadir_path(const char *dir, const char *name, char *out, size_t cap);

#endif
