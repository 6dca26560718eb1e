/* The one table from internal error codes to text, protocol codes and HTTP statuses. */
#include "core/err.h"

static const struct {
    const char *text;
    const char *code;
    int http;
} table[PL_ERR_MAX_] = {
    [PL_OK] = {"success", "ok", 200},
    [PL_EINVAL] = {"invalid request", "bad_request", 400},
    [PL_EAUTH] = {"not authenticated", "unauthorised", 401},
    [PL_EPERM] = {"not allowed", "forbidden", 403},
    [PL_ENOTFOUND] = {"not found", "not_found", 404},
    [PL_ECONFLICT] = {"conflict with current state", "conflict", 409},
    [PL_ERATE] = {"too many requests", "rate_limited", 429},
    [PL_ETOOBIG] = {"too large", "too_large", 413},
    [PL_ENOMEM] = {"out of memory", "internal", 500},
    [PL_EIO] = {"storage I/O error", "unavailable", 503},
    [PL_ECRYPTO] = {"cryptographic failure", "internal", 500},
    [PL_EUNAVAIL] = {"service unavailable", "unavailable", 503},
    [PL_ETIMEOUT] = {"timed out", "timeout", 408},
    [PL_EINTERNAL] = {"internal error", "internal", 500},
    [PL_EUNKNOWN_TYPE] = {"unknown message type", "unknown_type", 400},
    [PL_ETOTP] = {"second factor required or wrong", "totp_required", 401},
    [PL_EMOVED] = {"held by another server of the cluster", "moved", 421},
};

static int idx(int err)
{
    /* Compare before negating: -INT_MIN overflows. */
    if (err <= -PL_ERR_MAX_ || err >= PL_ERR_MAX_) return PL_EINTERNAL;
    return err < 0 ? -err : err;
}

const char *pl_strerror(int err)
{
    return table[idx(err)].text;
}

const char *pl_err_code(int err)
{
    return table[idx(err)].code;
}

int pl_err_http_status(int err)
{
    return table[idx(err)].http;
}
