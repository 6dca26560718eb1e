/* See admin_util.h. */
#include "signalling/admin_util.h"
#include "core/config.h"
#include "core/datadir.h"
#include "core/err.h"
#include "core/util.h"
#include "signalling/password.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int pl_args_parse(pl_args_t *a, int argc, char **argv)
{
    a->n = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0 || a->n >= PL_ARGS_MAX) {
            fprintf(stderr, "unexpected argument: %s\n", argv[i]);
            return -PL_EINVAL;
        }
        a->keys[a->n] = argv[i] + 2;
        if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            a->vals[a->n++] = argv[++i];
        else
            a->vals[a->n++] = "";
    }
    return 0;
}

const char *pl_args_get(const pl_args_t *a, const char *key)
{
    for (int i = a->n - 1; i >= 0; i--)
        if (strcmp(a->keys[i], key) == 0) return a->vals[i][0] ? a->vals[i] : NULL;
    return NULL;
}

bool pl_args_has(const pl_args_t *a, const char *key)
{
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->keys[i], key) == 0) return true;
    return false;
}

int pl_admin_open_store(const pl_args_t *a, pl_store_t **out)
{
    pl_config_t cfg;
    pl_config_defaults(&cfg);
    pl_config_load_env(&cfg);
    const char *dir = pl_args_get(a, "data-dir");
    if (dir) pl_config_set(&cfg, "data_dir", dir);
    /* A cluster's shared PostgreSQL, as PARLEY_STORE names it for every command. */
    const char *store = pl_args_get(a, "store");
    if (store && pl_config_set(&cfg, "store", store) < 0) {
        fprintf(stderr, "bad --store\n");
        return -PL_EINVAL;
    }
    uint8_t key[32];
    int rc = pl_datadir_prepare(cfg.data_dir);
    if (rc == 0) rc = pl_datadir_read_key(cfg.data_dir, key);
    char url[700];
    pl_config_store_url(&cfg, url, sizeof url);
    if (rc == 0) rc = pl_store_open(out, url, key);
    pl_wipe(key, sizeof key);
    /* SQLite finds the audit signing key beside its file; a shared store's is in the data
     * directory, as the server sets it (server.c). */
    char ak[1100];
    pl_datadir_path(cfg.data_dir, PL_DATADIR_AUDIT_KEY, ak, sizeof ak);
    if (rc == 0 && strncmp(url, "sqlite:", 7) != 0 && access(ak, F_OK) == 0 &&
        (rc = pl_store_audit_set_signing_key(*out, ak)) < 0) {
        pl_store_close(*out);
        *out = NULL;
    }
    if (rc < 0)
        fprintf(stderr, "cannot open the store of %s: %s\n", cfg.data_dir, pl_strerror(rc));
    return rc;
}

int pl_admin_random_password(char *out, size_t cap)
{
    static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint8_t r[20];
    if (cap < sizeof r + 1 || pl_random_bytes(r, sizeof r) < 0) return -PL_EINTERNAL;
    for (size_t i = 0; i < sizeof r; i++) out[i] = alphabet[r[i] % (sizeof alphabet - 1)];
    out[sizeof r] = 0;
    pl_wipe(r, sizeof r);
    return 0;
}

int pl_admin_password(const pl_args_t *a, char *out, size_t cap, bool *generated)
{
    const char *file = pl_args_get(a, "password-file");
    FILE *f = NULL;
    *generated = false;
    if (file)
        f = fopen(file, "r");
    else if (pl_args_has(a, "password-stdin"))
        f = stdin;
    else {
        *generated = true;
        return pl_admin_random_password(out, cap);
    }
    if (!f || !fgets(out, (int)cap, f)) {
        if (f && f != stdin) fclose(f);
        fprintf(stderr, "could not read the password\n");
        return -PL_EINVAL;
    }
    if (f != stdin) fclose(f);
    out[strcspn(out, "\r\n")] = 0;
    if (pl_password_policy_check(out) < 0) {
        fprintf(stderr, "passwords must be 8 to 256 characters\n");
        return -PL_EINVAL;
    }
    return 0;
}
