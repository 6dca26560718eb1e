/* `parley keys rotate` (keys_cli.h).
 *
 * Master key rotation, and why it is safe to crash anywhere in it:
 *   1. open the store with var/data.key (the data keys unwrap: the key is right);
 *   2. write the new master key to var/data.key.new (0600, fsync'd, flock'd so two rotations
 *      cannot interleave);
 *   3. re-wrap every data key under it in one SQLite transaction, and commit;
 *   4. rename data.key.new over data.key, and fsync the directory.
 * A crash before 3 commits leaves the database under the old key, which data.key still holds:
 * the leftover data.key.new is ignored, and the next rotation overwrites it. A crash between the
 * commit and the rename leaves the database under the key in data.key.new: the store, when
 * data.key no longer opens its keys, tries data.key.new beside the database and finishes the
 * rename itself (storage/store_sqlite_keys.c). So at every instant one of the two files opens
 * the database, and neither is removed until the other is in place. The sealed data is never
 * re-encrypted: only the 61-byte wrapped keys change.
 *
 * `--org CODE` instead gives one organisation a fresh data key for new writes; its old keys are
 * retired and kept for reading. Output is counts, never key material. */
#include "signalling/keys_cli.h"
#include "core/config.h"
#include "core/datadir.h"
#include "core/err.h"
#include "core/util.h"
#include "signalling/admin_util.h"
#include "storage/store.h"
#include "storage/store_keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    printf("usage: parley keys rotate [--data-dir DIR]\n"
           "       parley keys rotate --org CODE [--data-dir DIR]\n"
           "       parley keys status [--data-dir DIR]\n\n"
           "rotate          Makes a new master key (DIR/data.key) and re-wraps every data key\n"
           "                under it in one transaction; the data itself is not re-encrypted.\n"
           "                The old master key no longer opens the database afterwards.\n"
           "rotate --org    Gives organisation CODE a fresh data key for new writes; its old\n"
           "                keys are kept, retired, to read what they sealed.\n"
           "status          Counts the data keys.\n\n"
           "Prints counts, never key material. See docs/SECURITY.md, \"At rest\".\n");
}

static void data_dir_of(const pl_args_t *a, char *out, size_t cap)
{
    pl_config_t cfg;
    pl_config_defaults(&cfg);
    pl_config_load_env(&cfg);
    const char *dir = pl_args_get(a, "data-dir");
    if (dir) pl_config_set(&cfg, "data_dir", dir);
    snprintf(out, cap, "%s", cfg.data_dir);
}

static int print_stats(pl_store_t *st)
{
    pl_keys_stats_t k;
    if (pl_store_keys_stats(st, &k) < 0) return -1;
    printf("data keys: %" PRId64 " in all; organisations with a key of their own: %" PRId64
           "; retired (kept for reading): %" PRId64 "; legacy key: %s\n",
           k.keys, k.orgs, k.retired, k.legacy ? "yes" : "no");
    return 0;
}

static int rotate_org(pl_store_t *st, const char *code)
{
    pl_org_t org;
    if (pl_store_org_by_code(st, code, &org) < 0) {
        fprintf(stderr, "keys rotate: no organisation %s\n", code);
        return 1;
    }
    int64_t id = 0, retired = 0;
    int rc = pl_store_keys_rotate_org(st, org.id, pl_now_ms(), &id, &retired);
    if (rc < 0) {
        fprintf(stderr, "keys rotate: %s\n", pl_strerror(rc));
        return 1;
    }
    printf("organisation %s: new data key %" PRId64 " for new writes; %" PRId64
           " key%s retired (kept for reading)\n",
           code, id, retired, retired == 1 ? "" : "s");
    return 0;
}

static int rotate_master(pl_store_t *st, const char *dir)
{
    uint8_t key[32];
    int lock = -1;
    int rc = pl_random_bytes(key, sizeof key);
    if (rc == 0) rc = pl_datadir_write_new_key(dir, key, &lock);
    if (rc < 0) {
        pl_wipe(key, sizeof key);
        fprintf(stderr, "keys rotate: cannot write %s/%s: %s%s\n", dir, PL_DATADIR_KEY_NEW,
                pl_strerror(rc), rc == -PL_ECONFLICT ? " (another rotation is running)" : "");
        return 1;
    }
    int64_t n = 0;
    rc = pl_store_keys_rewrap(st, key, &n);
    if (rc < 0) {
        /* Nothing committed: the database is still under data.key. */
        char p[1100];
        pl_datadir_path(dir, PL_DATADIR_KEY_NEW, p, sizeof p);
        unlink(p);
        close(lock);
        pl_wipe(key, sizeof key);
        fprintf(stderr, "keys rotate: re-wrapping failed, nothing changed: %s\n", pl_strerror(rc));
        return 1;
    }
    rc = pl_datadir_install_new_key(dir, key);
    close(lock);
    pl_wipe(key, sizeof key);
    if (rc < 0) {
        fprintf(stderr,
                "keys rotate: the data keys are re-wrapped under %s/%s but it could not "
                "be renamed to %s; the next open finishes the rename, or rename it by hand\n",
                dir, PL_DATADIR_KEY_NEW, PL_DATADIR_KEY);
        return 1;
    }
    printf("new master key in %s/%s: %" PRId64 " data key%s re-wrapped, no data re-encrypted\n",
           dir, PL_DATADIR_KEY, n, n == 1 ? "" : "s");
    return 0;
}

int pl_keys_cli_main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    pl_args_t a;
    if (pl_args_parse(&a, argc - 2, argv + 2) < 0) return 2;
    if (pl_args_has(&a, "help")) {
        usage();
        return 0;
    }
    if (strcmp(sub, "rotate") != 0 && strcmp(sub, "status") != 0) {
        fprintf(stderr, "unknown keys command %s\n\n", sub);
        usage();
        return 2;
    }
    const char *org = pl_args_get(&a, "org");
    if (pl_args_has(&a, "org") && (!org || strcmp(sub, "rotate") != 0)) {
        fprintf(stderr, "keys: --org CODE goes with rotate\n");
        return 2;
    }
    char dir[1024];
    data_dir_of(&a, dir, sizeof dir);
    pl_store_t *st = NULL;
    if (pl_admin_open_store(&a, &st) < 0) return 1;
    int rc;
    if (!strcmp(sub, "status"))
        rc = 0;
    else if (org)
        rc = rotate_org(st, org);
    else
        rc = rotate_master(st, dir);
    if (rc == 0 && print_stats(st) < 0) rc = 1;
    pl_store_close(st);
    return rc;
}
