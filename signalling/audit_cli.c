/* `parley audit verify` and `parley audit checkpoint` (audit_cli.h). verify reads the database
 * file read-only and touches nothing in the data dir, so it may run beside a live server, or on
 * a copy of the data dir somewhere safer; checkpoint opens the store like the other admin
 * commands (SQLite's locking makes that safe while a server runs). */
#include "signalling/audit_cli.h"
#include "core/config.h"
#include "core/datadir.h"
#include "core/err.h"
#include "core/util.h"
#include "signalling/admin_util.h"
#include "storage/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void usage(void)
{
    printf("usage: parley audit verify [--data-dir DIR] [--public-key FILE]\n"
           "       parley audit checkpoint [--data-dir DIR]\n\n"
           "verify      Recomputes the whole audit hash chain from the database (opened\n"
           "            read-only) and checks every signed checkpoint with the public key\n"
           "            (default DIR/audit_signing.pub). Prints one verdict line. Exit status:\n"
           "            0 intact, 1 altered, removed or reordered (the first broken link is\n"
           "            named), 2 usage or I/O error.\n"
           "checkpoint  Signs a checkpoint at the newest audit record now (the server also\n"
           "            signs one every 1000 records).\n\n"
           "See docs/SECURITY.md, \"Accountability\", for what this does and does not prove.\n");
}

static int verify_main(const pl_args_t *a)
{
    pl_config_t cfg;
    pl_config_defaults(&cfg);
    pl_config_load_env(&cfg);
    const char *dir = pl_args_get(a, "data-dir");
    if (dir && pl_config_set(&cfg, "data_dir", dir) < 0) {
        fprintf(stderr, "audit verify: bad --data-dir\n");
        return 2;
    }
    char url[700], pub[1024];
    pl_config_store_url(&cfg, url, sizeof url);
    const char *key = pl_args_get(a, "public-key");
    if (!key) {
        pl_datadir_path(cfg.data_dir, PL_DATADIR_AUDIT_PUB, pub, sizeof pub);
        key = pub;
    }
    pl_audit_verdict_t v;
    int rc = pl_store_audit_verify(url, key, &v);
    if (rc == -PL_EPERM) {
        fprintf(stderr, "audit verify: cannot check %" PRId64 " signed checkpoints: no Ed25519 "
                "public key in %s\n", v.checkpoints, key);
        return 2;
    }
    if (rc == -PL_EINVAL) {
        fprintf(stderr, "audit verify: %s has no audit chain yet (a store from before it, or "
                "not an sqlite: store); open it once with this version of parley\n", url);
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "audit verify: cannot read the database %s: %s\n", url, pl_strerror(rc));
        return 2;
    }
    if (v.broken != PL_AUDIT_INTACT) {
        printf("audit trail BROKEN at audit id %" PRId64 ": %s: %s\n", v.audit_id,
               pl_audit_break_name(v.broken), v.detail);
        return 1;
    }
    if (v.rows == 0)
        printf("audit trail intact: no records yet\n");
    else
        printf("audit trail intact: %" PRId64 " records (ids %" PRId64 "-%" PRId64 "), %" PRId64
               " signed checkpoint%s verified%s", v.rows, v.first_id, v.last_id, v.checkpoints,
               v.checkpoints == 1 ? "" : "s", v.checkpoints ? "" : "\n");
    if (v.rows && v.checkpoints)
        printf(", the newest at audit id %" PRId64 "%s\n", v.last_checkpointed,
               v.last_checkpointed == v.last_id ? "" : " (later records rest on the chain alone)");
    return 0;
}

static int checkpoint_main(const pl_args_t *a)
{
    pl_store_t *st = NULL;
    if (pl_admin_open_store(a, &st) < 0) return 2;
    int64_t id = 0;
    int rc = pl_store_audit_checkpoint(st, pl_now_ms(), &id);
    pl_store_close(st);
    if (rc == -PL_ENOTFOUND) {
        printf("no audit records yet: nothing to checkpoint\n");
        return 0;
    }
    if (rc == -PL_EPERM) {
        fprintf(stderr, "audit checkpoint: no signing key (%s in the data dir)\n",
                PL_DATADIR_AUDIT_KEY);
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "audit checkpoint: %s\n", pl_strerror(rc));
        return 1;
    }
    printf("checkpoint signed at audit id %" PRId64 "\n", id);
    return 0;
}

int pl_audit_cli_main(int argc, char **argv)
{
    pl_args_t a;
    bool want_help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    if (argc < 2 || argv[1][0] == '-' || pl_args_parse(&a, argc - 2, argv + 2) < 0 ||
        pl_args_has(&a, "help")) {
        usage();
        return want_help || (argc >= 2 && argv[1][0] != '-' && pl_args_has(&a, "help")) ? 0 : 2;
    }
    if (!strcmp(argv[1], "verify")) return verify_main(&a);
    if (!strcmp(argv[1], "checkpoint")) return checkpoint_main(&a);
    fprintf(stderr, "audit: unknown command %s\n\n", argv[1]);
    usage();
    return 2;
}
