/* ICE-lite (RFC 8445 section 2.5) server side for one peer: answers the peer's connectivity
 * checks, tracks which remote address (5-tuple; ours is the one UDP port) was nominated, keeps
 * consent freshness (RFC 7675) and handles ICE restarts.
 *
 * Part of the per-peer security layer (DESIGN.md, "Media"): no sockets and no clock reads. The
 * caller feeds every STUN datagram from the peer in with the current time, sends whatever
 * response comes back to the address it came from, and polls pl_ice_consent_ok from its own
 * timer. The server is always the controlled agent and never sends checks of its own, so the
 * remote password is only validated, never used. Loop thread only. */
#ifndef PL_ICE_H
#define PL_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media/stun.h"

#define PL_ICE_UFRAG_LEN 8 /* length of the local ufrag we generate */
#define PL_ICE_PWD_LEN 24  /* length of the local password we generate */
/* Limits on the remote credentials (RFC 8839 section 5.4: 4..256 and 22..256 ice-chars). */
#define PL_ICE_REMOTE_UFRAG_MIN 4
#define PL_ICE_REMOTE_PWD_MIN 22
#define PL_ICE_REMOTE_MAX 256
/* Consent is lost when no valid check has arrived on the selected tuple for this long. */
#define PL_ICE_CONSENT_TIMEOUT_MS 30000
/* Remote addresses remembered as having passed a check; the oldest unselected one is forgotten
 * first. A browser checks from one address per local candidate, rarely more than a few. */
#define PL_ICE_MAX_TUPLES 8

typedef struct pl_ice pl_ice_t;

typedef enum {
    PL_ICE_EVENT_NONE = 0,
    /* A check with USE-CANDIDATE selected a different tuple than before (the first nomination
     * or a network change): send media to addr from now on. */
    PL_ICE_EVENT_NOMINATED,
} pl_ice_event_type_t;

typedef struct {
    pl_ice_event_type_t type;
    struct sockaddr_storage addr; /* for PL_ICE_EVENT_NOMINATED: the newly selected tuple */
} pl_ice_event_t;

/* Bad input, counted for /metrics. */
typedef struct {
    uint64_t requests;        /* checks answered with success */
    uint64_t malformed;       /* unparseable, not a Binding request, attributes missing/unknown */
    uint64_t bad_fingerprint; /* FINGERPRINT wrong: dropped silently */
    uint64_t unknown_ufrag;   /* USERNAME names no credentials we hold: 401 */
    uint64_t bad_integrity;   /* MESSAGE-INTEGRITY wrong: 401 */
    uint64_t role_conflicts;  /* peer also claims the controlled role: 487 */
} pl_ice_stats_t;

/* Creates the ICE state for one peer with fresh random local credentials and the remote ones
 * from the peer's SDP (NUL-terminated, copied; each must be ice-chars within the RFC 8839
 * limits). Returns 0 and *out, which the caller frees with pl_ice_destroy; -PL_EINVAL for NULL
 * or invalid arguments; -PL_ENOMEM; -PL_EINTERNAL if the random generator failed. */
int pl_ice_create(pl_ice_t **out, const char *remote_ufrag, const char *remote_pwd);

/* Wipes and frees ice. NULL is allowed. */
void pl_ice_destroy(pl_ice_t *ice);

/* The current local ufrag and password, for our SDP. Borrowed, NUL-terminated, valid until the
 * next pl_ice_restart or pl_ice_destroy. The password is a secret: it goes only into the SDP
 * sent to this peer, never into a log. */
const char *pl_ice_local_ufrag(const pl_ice_t *ice);
const char *pl_ice_local_pwd(const pl_ice_t *ice);

/* ICE restart (RFC 8445 section 9) with the peer's new remote credentials: generates new local
 * credentials. Checks with the credentials in use until now keep being answered, so media keeps
 * flowing on the selected tuple, until the first check that authenticates with the new ones;
 * from then on the old ones get 401. The selected tuple stays until a new nomination.
 * Returns 0; -PL_EINVAL for NULL or invalid credentials; -PL_EINTERNAL if the random generator
 * failed. On error nothing changes. */
int pl_ice_restart(pl_ice_t *ice, const char *remote_ufrag, const char *remote_pwd);

/* Handles one STUN datagram pkt[0..len) from the peer address from (AF_INET or AF_INET6) at
 * now_ms (any monotonic millisecond clock, the same one given to pl_ice_consent_ok).
 * A valid Binding request (USERNAME "LOCALUFRAG:REMOTEUFRAG", MESSAGE-INTEGRITY with the local
 * password, FINGERPRINT, PRIORITY, not ICE-CONTROLLED) refreshes consent for from, records it
 * as validated and, with USE-CANDIDATE, nominates it.
 * *out_len is always set; when it is not 0, out[0..*out_len) is a response to send to from,
 * whatever the return value. out_cap of PL_STUN_RESPONSE_MAX always suffices. *event (may be
 * NULL) is set to PL_ICE_EVENT_NONE unless the selected tuple changed.
 * Returns 0 for a check answered with success or a Binding indication (ignored). Otherwise, and
 * counted in the stats:
 *   -PL_EINVAL    malformed: with a 400 or 420 response if the request could be read, silently
 *                 dropped if not, if its FINGERPRINT is wrong, or if it is not a request;
 *   -PL_EAUTH     unknown USERNAME or wrong MESSAGE-INTEGRITY, with a 401 response;
 *   -PL_ECONFLICT ICE-CONTROLLED present, with a 487 response.
 * Also -PL_EINVAL (not counted) for NULL arguments or another address family; -PL_ETOOBIG if
 * out_cap is too small or -PL_ECRYPTO if HMAC failed, and then a valid check is not recorded. */
int pl_ice_handle_request(pl_ice_t *ice, const uint8_t *pkt, size_t len,
                          const struct sockaddr *from, int64_t now_ms, uint8_t *out, size_t out_cap,
                          size_t *out_len, pl_ice_event_t *event);

/* The selected (nominated) tuple, or NULL before the first nomination. Borrowed, valid until the
 * next pl_ice_handle_request or pl_ice_destroy. */
const struct sockaddr *pl_ice_selected(const pl_ice_t *ice);

/* True if addr has passed a check (so DTLS from it may be accepted before nomination). */
bool pl_ice_is_validated(const pl_ice_t *ice, const struct sockaddr *addr);

/* True while there is a selected tuple and a valid check arrived on it less than
 * PL_ICE_CONSENT_TIMEOUT_MS before now_ms. Media must not be sent when this is false. */
bool pl_ice_consent_ok(const pl_ice_t *ice, int64_t now_ms);

/* Time of the last valid check on the selected tuple, or -1 if nothing is selected. */
int64_t pl_ice_last_consent_ms(const pl_ice_t *ice);

/* Counters since creation. Borrowed, valid until pl_ice_destroy. */
const pl_ice_stats_t *pl_ice_stats(const pl_ice_t *ice);

#endif
