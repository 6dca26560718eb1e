/* Field validation for decoded requests: each getter checks presence, type and bounds and, on
 * failure, writes a client-facing message naming the field. */
#ifndef PL_PARAMS_H
#define PL_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char msg[160];
} pl_perr_t;

/* String of min..max bytes (UTF-8 already checked by jansson). optional: absent gives *out NULL
 * and 0. Returns 0 or -PL_EINVAL / -PL_ETOOBIG. */
int pl_param_str(json_t *o, const char *name, size_t min, size_t max, bool optional,
                 const char **out, pl_perr_t *e);
/* Integer in [min, max]; optional: absent gives def. */
int pl_param_int(json_t *o, const char *name, int64_t min, int64_t max, bool optional,
                 int64_t def, int64_t *out, pl_perr_t *e);
int pl_param_bool(json_t *o, const char *name, bool optional, bool def, bool *out, pl_perr_t *e);
/* One of a NULL-terminated list of words. */
int pl_param_enum(json_t *o, const char *name, const char *const *words, bool optional,
                  const char **out, pl_perr_t *e);

#endif
