/* A small hash map from int64 keys to sets of pointers, used to index live connections by user
 * and by organisation so that fan-out touches only the connections an event concerns.
 * Open addressing with linear probing; each slot holds a growable pointer array. Not
 * thread-safe: loop thread only. */
#ifndef PL_IMAP_H
#define PL_IMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pl_imap pl_imap_t;

int pl_imap_create(pl_imap_t **out);
void pl_imap_destroy(pl_imap_t *m);
/* Adds ptr to key's set (duplicates allowed, removed one at a time). 0 or -PL_ENOMEM. */
int pl_imap_add(pl_imap_t *m, int64_t key, void *ptr);
/* Removes one occurrence of ptr from key's set. 0 or -PL_ENOTFOUND. */
int pl_imap_remove(pl_imap_t *m, int64_t key, void *ptr);
/* Borrowed view of key's set, valid until the next add or remove. n = 0 when absent. */
void *const *pl_imap_get(const pl_imap_t *m, int64_t key, size_t *n);

#endif
