/* See params.h. */
#include "signalling/params.h"
#include "core/err.h"

#include <stdio.h>
#include <string.h>

int pl_param_str(json_t *o, const char *name, size_t min, size_t max, bool optional,
                 const char **out, pl_perr_t *e)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (optional) return 0;
        snprintf(e->msg, sizeof e->msg, "%s is required", name);
        return -PL_EINVAL;
    }
    if (!json_is_string(v)) {
        snprintf(e->msg, sizeof e->msg, "%s must be a string", name);
        return -PL_EINVAL;
    }
    size_t n = json_string_length(v);
    if (n > max) {
        snprintf(e->msg, sizeof e->msg, "%s is longer than %zu bytes", name, max);
        return -PL_ETOOBIG;
    }
    if (n < min || strlen(json_string_value(v)) != n) {
        snprintf(e->msg, sizeof e->msg, "%s must be %zu to %zu bytes with no NUL", name, min, max);
        return -PL_EINVAL;
    }
    *out = json_string_value(v);
    return 0;
}

int pl_param_int(json_t *o, const char *name, int64_t min, int64_t max, bool optional,
                 int64_t def, int64_t *out, pl_perr_t *e)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) {
        *out = def;
        if (optional) return 0;
        snprintf(e->msg, sizeof e->msg, "%s is required", name);
        return -PL_EINVAL;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(e->msg, sizeof e->msg, "%s must be an integer from %lld to %lld", name,
                 (long long)min, (long long)max);
        return -PL_EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}

int pl_param_bool(json_t *o, const char *name, bool optional, bool def, bool *out, pl_perr_t *e)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) {
        *out = def;
        if (optional) return 0;
        snprintf(e->msg, sizeof e->msg, "%s is required", name);
        return -PL_EINVAL;
    }
    if (!json_is_boolean(v)) {
        snprintf(e->msg, sizeof e->msg, "%s must be true or false", name);
        return -PL_EINVAL;
    }
    *out = json_is_true(v);
    return 0;
}

int pl_param_enum(json_t *o, const char *name, const char *const *words, bool optional,
                  const char **out, pl_perr_t *e)
{
    int rc = pl_param_str(o, name, 1, 64, optional, out, e);
    if (rc < 0 || !*out) return rc;
    for (int i = 0; words[i]; i++)
        if (strcmp(*out, words[i]) == 0) return 0;
    size_t n = (size_t)snprintf(e->msg, sizeof e->msg, "%s must be one of:", name);
    for (int i = 0; words[i] && n < sizeof e->msg; i++)
        n += (size_t)snprintf(e->msg + n, sizeof e->msg - n, " %s", words[i]);
    *out = NULL;
    return -PL_EINVAL;
}
