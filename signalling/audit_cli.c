/* `parley audit verify`, `parley audit checkpoint` and `parley audit export` (audit_cli.h).
 * verify reads the database file read-only and touches nothing in the data dir, so it may run
 * beside a live server, or on a copy of the data dir somewhere safer; checkpoint and export open
 * the store like the other admin commands (SQLite's locking makes that safe while a server
 * runs). export writes one patient's trail as FHIR AuditEvents (storage/fhir_audit.h) and is
 * itself audited (audit.export, by nobody signed in, from "cli"). */
#include "signalling/audit_cli.h"
#include "core/config.h"
#include "core/datadir.h"
#include "core/err.h"
#include "core/util.h"
#include "signalling/admin_util.h"
#include "signalling/nhs.h"
#include "storage/fhir_audit.h"
#include "storage/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void usage(void)
{
    printf("usage: parley audit verify [--data-dir DIR] [--public-key FILE]\n"
           "       parley audit checkpoint [--data-dir DIR]\n"
           "       parley audit export --patient NHS_NUMBER [--data-dir DIR]\n\n"
           "verify      Recomputes the whole audit hash chain from the database (opened\n"
           "            read-only) and checks every signed checkpoint with the public key\n"
           "            (default DIR/audit_signing.pub). Prints one verdict line. Exit status:\n"
           "            0 intact, 1 altered, removed or reordered (the first broken link is\n"
           "            named), 2 usage or I/O error.\n"
           "checkpoint  Signs a checkpoint at the newest audit record now (the server also\n"
           "            signs one every 1000 records).\n"
           "export      Writes the patient's audit records, oldest first, to standard output\n"
           "            as a FHIR R4 Bundle of AuditEvent resources (IHE Basic Audit Log\n"
           "            Patterns). The export is itself recorded in the trail.\n\n"
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
    const char *store = pl_args_get(a, "store");
    if (store && pl_config_set(&cfg, "store", store) < 0) {
        fprintf(stderr, "audit verify: bad --store\n");
        return 2;
    }
    char url[700], pub[1024];
    pl_config_store_url(&cfg, url, sizeof url);
    /* A PostgreSQL URL may hold a password: name the store without it. */
    const char *name = strncmp(url, "sqlite:", 7) == 0 ? url : "the PostgreSQL store";
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
        fprintf(stderr, "audit verify: %s has no audit chain yet (a store from before it); "
                "open it once with this version of parley\n", name);
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "audit verify: cannot read the database %s: %s\n", name, pl_strerror(rc));
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

#define EXPORT_PAGE 500

/* Every row about patient pid, oldest first (the store pages newest first). */
static int rows_of(pl_store_t *st, int64_t pid, json_t **out)
{
    json_t *all = json_array();
    int64_t before = 0;
    for (;;) {
        json_t *page = NULL;
        int rc = pl_store_audit_of_patient(st, pid, before, EXPORT_PAGE, &page);
        if (rc < 0) {
            json_decref(all);
            return rc;
        }
        size_t n = json_array_size(page);
        for (size_t i = 0; i < n; i++) json_array_insert(all, 0, json_array_get(page, i));
        if (n) before = json_integer_value(json_object_get(json_array_get(page, n - 1), "id"));
        json_decref(page);
        if (n < EXPORT_PAGE) break;
    }
    *out = all;
    return 0;
}

static int export_main(const pl_args_t *a)
{
    const char *in = pl_args_get(a, "patient");
    char nhs[PL_NHS_LEN + 1];
    if (!in || pl_nhs_normalise(in, nhs) < 0) {
        fprintf(stderr, "audit export: --patient must be a valid NHS number\n");
        return 2;
    }
    pl_store_t *st = NULL;
    if (pl_admin_open_store(a, &st) < 0) return 2;
    int64_t pid = 0;
    pl_actor_t p;
    json_t *rows = NULL, *bundle = NULL;
    int rc = pl_store_patient_by_nhs(st, nhs, &pid);
    if (rc == 0) rc = pl_store_actor_load(st, pid, &p);
    if (rc == 0) rc = rows_of(st, pid, &rows);
    if (rc == 0) {
        json_t *who = json_pack("{ss ss}", "display_name", p.display_name, "nhs_number", nhs);
        rc = who ? pl_fhir_audit_bundle(who, rows, pl_now_ms(), &bundle) : -PL_ENOMEM;
        json_decref(who);
    }
    /* The export is an access to the patient's data too. Written after the rows are read, so
     * that it is not in this export, and before the output, so that no export goes unrecorded. */
    if (rc == 0) {
        pl_audit_rec_t rec = {.at = pl_now_ms(),
                              .action = "audit.export",
                              .resource_type = "patient",
                              .resource_id = pid,
                              .patient_id = pid,
                              .ip = "cli"};
        rc = pl_store_audit_ex(st, &rec);
    }
    pl_store_close(st);
    json_decref(rows);
    if (rc == -PL_ENOTFOUND) {
        fprintf(stderr, "audit export: no patient with that NHS number\n");
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "audit export: %s\n", pl_strerror(rc));
        json_decref(bundle);
        return 1;
    }
    int w = json_dumpf(bundle, stdout, JSON_INDENT(2));
    json_decref(bundle);
    printf("\n");
    return w == 0 && fflush(stdout) == 0 ? 0 : 1;
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
    if (!strcmp(argv[1], "export")) return export_main(&a);
    fprintf(stderr, "audit: unknown command %s\n\n", argv[1]);
    usage();
    return 2;
}
