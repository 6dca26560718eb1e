/* The data directory (var/ by default): created 0700 on first run with a random 32-byte at-rest
 * master key (data.key: it wraps the per-organisation data keys kept in the database, see
 * docs/SECURITY.md "At rest"), a self-signed development TLS certificate (tls.crt, tls.key) and the
 * Ed25519 key pair that signs audit checkpoints (audit_signing.key, audit_signing.pub, PEM), all
 * 0600. Existing files are kept: the keys must never change under an existing database, except
 * through `parley keys rotate`, which writes the next master key to data.key.new, re-wraps the
 * data keys under it, then renames it over data.key. */
#ifndef PL_DATADIR_H
#define PL_DATADIR_H

#include <stddef.h>
#include <stdint.h>

/* File names in the data dir of the audit checkpoint signing key (PKCS#8 PEM) and its public
 * half (SubjectPublicKeyInfo PEM), which `parley audit verify` checks signatures with. */
#define PL_DATADIR_AUDIT_KEY "audit_signing.key"
#define PL_DATADIR_AUDIT_PUB "audit_signing.pub"

/* The master key file, and where a rotation puts the next one until it is installed. */
#define PL_DATADIR_KEY "data.key"
#define PL_DATADIR_KEY_NEW "data.key.new"

/* Creates what is missing. 0 or -PL_EIO / -PL_ECRYPTO. */
int pl_datadir_prepare(const char *dir);
/* Reads the data key. 0, -PL_EIO if missing or not exactly 32 bytes. */
int pl_datadir_read_key(const char *dir, uint8_t key[32]);
/* Reads a 32-byte key from DIR/name (PL_DATADIR_KEY or PL_DATADIR_KEY_NEW). 0, -PL_ENOTFOUND
 * if the file is missing, -PL_EIO if unreadable or not exactly 32 bytes. */
int pl_datadir_read_key_file(const char *dir, const char *name, uint8_t key[32]);
/* Writes key to DIR/data.key.new, 0600, fsync'd, replacing a leftover one from a rotation that
 * never committed. The file stays locked (flock) through *lock_fd until the caller closes it,
 * so two rotations cannot interleave: -PL_ECONFLICT if another holds it. 0 or -PL_EIO. */
int pl_datadir_write_new_key(const char *dir, const uint8_t key[32], int *lock_fd);
/* Renames DIR/data.key.new over DIR/data.key and fsyncs DIR, so the rename is durable. When
 * data.key.new is already gone but data.key holds expect (someone, e.g. a store opening
 * beside, finished the rename first), that is success. expect may be NULL. 0 or -PL_EIO. */
int pl_datadir_install_new_key(const char *dir, const uint8_t *expect);
/* Path of a file in the data dir. */
void pl_datadir_path(const char *dir, const char *name, char *out, size_t cap);

#endif
