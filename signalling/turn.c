/* TURN REST API credentials for coturn's use-auth-secret mode (see turn.h). */
#include "signalling/turn.h"
#include "core/err.h"
#include "core/util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int pl_turn_credentials(const uint8_t *secret, size_t secret_len, const char *user, int64_t now_s,
                        int ttl_s, pl_turn_cred_t *out)
{
    memset(out, 0, sizeof *out);
    if (!secret || !secret_len || !user || !*user || strlen(user) > 48 || strchr(user, ':') ||
        ttl_s <= 0)
        return -PL_EINVAL;
    out->expires_at = now_s + ttl_s;
    snprintf(out->username, sizeof out->username, "%lld:%s", (long long)out->expires_at, user);
    uint8_t mac[20];
    size_t maclen = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, secret, secret_len,
                   (const uint8_t *)out->username, strlen(out->username), mac, sizeof mac,
                   &maclen) ||
        maclen != sizeof mac)
        return -PL_ECRYPTO;
    char *b64 = pl_b64_encode(mac, sizeof mac);
    if (!b64) return -PL_ENOMEM;
    snprintf(out->credential, sizeof out->credential, "%s", b64);
    free(b64);
    return 0;
}

int pl_turn_load_secret(const char *path, uint8_t *out, size_t *out_len)
{
    FILE *f = fopen(path, "r");
    if (!f) return -PL_EIO;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        fclose(f);
        return -PL_EIO;
    }
    if (sb.st_mode & 077) {
        fclose(f);
        return -PL_EPERM;
    }
    char line[PL_TURN_SECRET_MAX + 2];
    int rc = fgets(line, sizeof line, f) ? 0 : -PL_EINVAL;
    fclose(f);
    if (rc < 0) return rc;
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                     line[n - 1] == '\t'))
        n--;
    if (n == 0 || n > PL_TURN_SECRET_MAX) { /* a longer line fills the buffer: too long */
        pl_wipe(line, sizeof line);
        return -PL_EINVAL;
    }
    memcpy(out, line, n);
    *out_len = n;
    pl_wipe(line, sizeof line);
    return 0;
}
