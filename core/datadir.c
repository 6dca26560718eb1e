/* See datadir.h. The certificate is ECDSA P-256, valid for localhost and 127.0.0.1 for a year:
 * good for development and tests; production puts its own certificate in place. */
#include "core/datadir.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void pl_datadir_path(const char *dir, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static int write_new_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -PL_EIO;
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            unlink(path);
            return -PL_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    int rc = fsync(fd) == 0 ? 0 : -PL_EIO;
    close(fd);
    return rc;
}

static FILE *open_new_0600(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    return fd < 0 ? NULL : fdopen(fd, "w");
}

static int make_cert(const char *crt_path, const char *key_path)
{
    int rc = -PL_ECRYPTO;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *f = NULL;
    if (!pkey || !x) goto out;
    uint8_t serial[16];
    pl_random_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               (const unsigned char *)"Parley development", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
                                              "DNS:localhost,IP:127.0.0.1,IP:::1");
    if (!ext) goto out;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (!X509_sign(x, pkey, EVP_sha256())) goto out;
    if (!(f = open_new_0600(key_path)) || !PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL))
        goto out;
    fclose(f);
    f = NULL;
    if (!(f = open_new_0600(crt_path)) || !PEM_write_X509(f, x)) goto out;
    rc = 0;
out:
    if (f) fclose(f);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

/* The audit checkpoint signing pair. A missing .pub is rewritten from the key; a missing key
 * beside an existing .pub is not replaced, since a new key would make every checkpoint signed
 * so far fail verification: that needs a person (restore the key, or retire the old .pub). */
static int make_audit_key(const char *dir)
{
    char key_path[1024], pub_path[1024];
    pl_datadir_path(dir, PL_DATADIR_AUDIT_KEY, key_path, sizeof key_path);
    pl_datadir_path(dir, PL_DATADIR_AUDIT_PUB, pub_path, sizeof pub_path);
    bool have_key = access(key_path, F_OK) == 0, have_pub = access(pub_path, F_OK) == 0;
    if (have_key && have_pub) return 0;
    if (!have_key && have_pub) {
        pl_log_error("datadir", "%s is missing but %s exists: audit checkpoints cannot be "
                     "signed until the key is restored or the old public key is moved away",
                     PL_DATADIR_AUDIT_KEY, PL_DATADIR_AUDIT_PUB);
        return 0;
    }
    int rc = -PL_ECRYPTO;
    EVP_PKEY *pkey = NULL;
    FILE *f = NULL;
    if (have_key) {
        if ((f = fopen(key_path, "r"))) pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        if (f) fclose(f);
        f = NULL;
    } else {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (pkey && (!(f = open_new_0600(key_path)) ||
                     !PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)))
            goto out;
        if (f && fclose(f) != 0) {
            f = NULL;
            goto out;
        }
        f = NULL;
    }
    if (!pkey || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) goto out;
    if (!(f = open_new_0600(pub_path)) || !PEM_write_PUBKEY(f, pkey)) goto out;
    rc = 0;
    pl_log_info("datadir", "created the audit checkpoint signing key pair");
out:
    if (f && fclose(f) != 0) rc = -PL_EIO;
    if (rc < 0) pl_log_error("datadir", "could not create the audit signing key pair");
    EVP_PKEY_free(pkey);
    return rc;
}

int pl_datadir_prepare(const char *dir)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        pl_log_error("datadir", "cannot create data directory %s", dir);
        return -PL_EIO;
    }
    char path[1024], crt[1024];
    pl_datadir_path(dir, PL_DATADIR_KEY, path, sizeof path);
    if (access(path, F_OK) != 0) {
        uint8_t key[32];
        int rc = pl_random_bytes(key, sizeof key);
        if (rc == 0) rc = write_new_file(path, key, sizeof key);
        pl_wipe(key, sizeof key);
        if (rc < 0) return rc;
        pl_log_info("datadir", "created a new at-rest data key");
    }
    pl_datadir_path(dir, "tls.crt", crt, sizeof crt);
    pl_datadir_path(dir, "tls.key", path, sizeof path);
    if (access(crt, F_OK) != 0 || access(path, F_OK) != 0) {
        int rc = make_cert(crt, path);
        if (rc < 0) {
            pl_log_error("datadir", "could not create the development TLS certificate");
            return rc;
        }
        pl_log_info("datadir", "created a self-signed development TLS certificate");
    }
    return make_audit_key(dir);
}

int pl_datadir_read_key_file(const char *dir, const char *name, uint8_t key[32])
{
    char path[1024];
    pl_datadir_path(dir, name, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? -PL_ENOTFOUND : -PL_EIO;
    uint8_t buf[33];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    int rc = n == 32 ? 0 : -PL_EIO;
    if (rc == 0) memcpy(key, buf, 32);
    pl_wipe(buf, sizeof buf);
    return rc;
}

int pl_datadir_read_key(const char *dir, uint8_t key[32])
{
    int rc = pl_datadir_read_key_file(dir, PL_DATADIR_KEY, key);
    return rc == -PL_ENOTFOUND ? -PL_EIO : rc;
}

int pl_datadir_write_new_key(const char *dir, const uint8_t key[32], int *lock_fd)
{
    char path[1024];
    pl_datadir_path(dir, PL_DATADIR_KEY_NEW, path, sizeof path);
    /* Not O_TRUNC: the lock must be ours before a byte of another rotation's file changes. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -PL_EIO;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return errno == EWOULDBLOCK ? -PL_ECONFLICT : -PL_EIO;
    }
    const uint8_t *p = key;
    size_t len = 32;
    int rc = fchmod(fd, 0600) == 0 && ftruncate(fd, 0) == 0 ? 0 : -PL_EIO;
    while (rc == 0 && len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) rc = -PL_EIO;
        else {
            p += n;
            len -= (size_t)n;
        }
    }
    if (rc == 0 && fsync(fd) != 0) rc = -PL_EIO;
    if (rc < 0) {
        unlink(path);
        close(fd);
        return rc;
    }
    *lock_fd = fd;
    return 0;
}

int pl_datadir_install_new_key(const char *dir, const uint8_t *expect)
{
    char from[1024], to[1024];
    pl_datadir_path(dir, PL_DATADIR_KEY_NEW, from, sizeof from);
    pl_datadir_path(dir, PL_DATADIR_KEY, to, sizeof to);
    if (rename(from, to) < 0) {
        if (errno != ENOENT || !expect) return -PL_EIO;
        uint8_t cur[32];
        int rc = pl_datadir_read_key_file(dir, PL_DATADIR_KEY, cur);
        bool same = rc == 0 && pl_ct_equal(cur, expect, 32);
        pl_wipe(cur, sizeof cur);
        if (!same) return -PL_EIO;
    }
    /* The rename is durable only once the directory entry is on disk. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -PL_EIO;
    int rc = fsync(dfd) == 0 ? 0 : -PL_EIO;
    close(dfd);
    return rc;
}
