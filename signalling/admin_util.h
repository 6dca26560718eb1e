/* Small helpers shared by the admin and demo subcommands: flag parsing, opening the store
 * from --data-dir, reading or generating a password. */
#ifndef PL_ADMIN_UTIL_H
#define PL_ADMIN_UTIL_H

#include "storage/store.h"

#include <stdbool.h>
#include <stddef.h>

#define PL_ARGS_MAX 32
typedef struct {
    int n;
    const char *keys[PL_ARGS_MAX];
    const char *vals[PL_ARGS_MAX]; /* "" for a bare flag */
} pl_args_t;

/* Parses `--key value` and bare `--flag` (a flag is bare when the next word starts with "--"
 * or there is none). Keys are stored without the dashes. 0 or -PL_EINVAL. */
int pl_args_parse(pl_args_t *a, int argc, char **argv);
const char *pl_args_get(const pl_args_t *a, const char *key); /* last value or NULL */
bool pl_args_has(const pl_args_t *a, const char *key);
/* Prepares --data-dir (default ./var) and opens its store. */
int pl_admin_open_store(const pl_args_t *a, pl_store_t **out);
/* Password from --password-file, --password-stdin, or a generated one (*generated set). */
int pl_admin_password(const pl_args_t *a, char *out, size_t cap, bool *generated);
/* A strong random password of 20 characters from an unambiguous alphabet. */
int pl_admin_random_password(char *out, size_t cap);

#endif
