/* Parley error codes: one enum for the whole process.
 * Functions return 0 or a negative PL_E* code. Protocol error codes sent to clients
 * ("bad_request", ...) are derived from these in one table (pl_err_code), so a client
 * sees a stable code whatever module failed. */
#ifndef PL_ERR_H
#define PL_ERR_H

enum {
    PL_OK = 0,
    PL_EINVAL = 1,     /* malformed or invalid input          -> bad_request */
    PL_EAUTH = 2,      /* not authenticated / bad credentials -> unauthorised */
    PL_EPERM = 3,      /* authenticated but not allowed       -> forbidden */
    PL_ENOTFOUND = 4,  /* no such thing (or not visible)      -> not_found */
    PL_ECONFLICT = 5,  /* state conflict, duplicate           -> conflict */
    PL_ERATE = 6,      /* too many requests                   -> rate_limited */
    PL_ETOOBIG = 7,    /* over a size limit                   -> too_large */
    PL_ENOMEM = 8,     /* allocation failed                   -> internal */
    PL_EIO = 9,        /* file or database I/O failed         -> unavailable */
    PL_ECRYPTO = 10,   /* crypto failure (tamper, bad key)    -> internal */
    PL_EUNAVAIL = 11,  /* store or service unavailable        -> unavailable */
    PL_ETIMEOUT = 12,  /* timed out                           -> timeout */
    PL_EINTERNAL = 13, /* broken invariant, bug               -> internal */
    PL_EUNKNOWN_TYPE = 14, /* unknown message type            -> unknown_type */
    PL_ETOTP = 15,     /* second factor required or wrong     -> totp_required */
    PL_EMOVED = 16,    /* held by another node of the cluster -> moved */
    PL_ERR_MAX_
};

/* Human-readable text for a code (positive or negative). Never NULL. */
const char *pl_strerror(int err);
/* Stable protocol code for a code (positive or negative), e.g. "bad_request". Never NULL. */
const char *pl_err_code(int err);
/* HTTP status that goes with a code for the REST surface. */
int pl_err_http_status(int err);

#endif
