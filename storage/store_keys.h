/* The store's key hierarchy, for `parley keys` (signalling/keys_cli.c) and tests: one data key
 * per organisation (and one shared key for what belongs to no single organisation), each kept in
 * the database wrapped by the master key from var/data.key. See docs/SECURITY.md "At rest". */
#ifndef PL_STORE_KEYS_H
#define PL_STORE_KEYS_H

#include "storage/store.h"

#include <stdint.h>

typedef struct {
    int64_t keys;    /* data key rows */
    int64_t orgs;    /* organisations with a key of their own */
    int64_t retired; /* kept for reading only */
    int64_t legacy;  /* the pre-upgrade master key kept as a data key (0 or 1) */
} pl_keys_stats_t;

/* Re-wraps every data key under new_master in one transaction (the sealed data is not touched);
 * from then on the store uses new_master. The caller has put new_master where the next open
 * will find it first (var/data.key.new) before calling, and installs it after. *rewrapped: how
 * many keys. 0, -PL_ECRYPTO if a wrapped key fails to open (nothing changed), -PL_EIO. */
int pl_store_keys_rewrap(pl_store_t *st, const uint8_t new_master[32], int64_t *rewrapped);
/* Gives org_id (0: the shared key) a fresh data key for new writes and retires its current one,
 * which stays for reading what it sealed. *new_id: the new key's id; *retired: how many keys were
 * retired (0 when the organisation had none yet). -PL_ECONFLICT for an unknown org_id. */
int pl_store_keys_rotate_org(pl_store_t *st, int64_t org_id, int64_t now, int64_t *new_id,
                             int64_t *retired);
/* Counts, never key material. */
int pl_store_keys_stats(pl_store_t *st, pl_keys_stats_t *out);

#endif
