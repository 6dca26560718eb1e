/* ICE-lite server side for one peer (see ice.h).
 *
 * Checks are validated in the order RFC 5389 section 10.1.2 gives, so that only an
 * authenticated request ever gets a response carrying MESSAGE-INTEGRITY and a request we cannot
 * attribute to this peer learns nothing from the answer. Credentials come in at most two
 * generations: the current set and, between an ICE restart and the first check that uses the
 * new set, the previous one. Tuples are a small fixed table: the hot path allocates nothing. */
#include "media/ice.h"

#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "core/err.h"
#include "core/util.h"
#include "media/stun.h"

typedef struct {
    char ufrag[PL_ICE_UFRAG_LEN + 1]; /* local */
    char pwd[PL_ICE_PWD_LEN + 1];     /* local: the key checks are signed with */
    char remote_ufrag[PL_ICE_REMOTE_MAX + 1];
    unsigned gen; /* tells which set a tuple last authenticated with */
    bool set;
} creds_t;

typedef struct {
    struct sockaddr_storage addr;
    int64_t last_ms; /* last valid check from it */
    unsigned gen;
    bool used;
} tuple_t;

struct pl_ice {
    creds_t cur;
    creds_t prev;  /* .set only between a restart and the first check with cur */
    bool cur_used; /* a check has authenticated with cur */
    unsigned next_gen;
    tuple_t tuples[PL_ICE_MAX_TUPLES];
    int selected; /* index into tuples, or -1 */
    pl_ice_stats_t stats;
};

static bool is_ice_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* True if s is min..PL_ICE_REMOTE_MAX ice-chars (RFC 8839 section 5.4). */
static bool valid_remote(const char *s, size_t min)
{
    if (s == NULL) return false;
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (n >= PL_ICE_REMOTE_MAX || !is_ice_char(s[n])) return false;
    return n >= min;
}

/* Fills out[0..n) with random ice-chars and NUL-terminates it. */
static int random_ice_chars(char *out, size_t n)
{
    /* 64 characters, so a byte masked to 6 bits picks one without bias. */
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t raw[PL_ICE_PWD_LEN];

    if (n > sizeof raw) return -PL_EINTERNAL;
    int rc = pl_random_bytes(raw, n);
    if (rc != 0) return rc;
    for (size_t i = 0; i < n; i++)
        out[i] = set[raw[i] & 63];
    out[n] = '\0';
    pl_wipe(raw, sizeof raw);
    return 0;
}

/* Fills *c with new local credentials for remote_ufrag. The ufrag differs from those of the
 * sets in ice, so that USERNAME alone says which set a check is meant for. */
static int new_creds(pl_ice_t *ice, creds_t *c, const char *remote_ufrag)
{
    memset(c, 0, sizeof *c);
    do {
        int rc = random_ice_chars(c->ufrag, PL_ICE_UFRAG_LEN);
        if (rc == 0) rc = random_ice_chars(c->pwd, PL_ICE_PWD_LEN);
        if (rc != 0) {
            pl_wipe(c, sizeof *c);
            return rc;
        }
    } while ((ice->cur.set && strcmp(c->ufrag, ice->cur.ufrag) == 0) ||
             (ice->prev.set && strcmp(c->ufrag, ice->prev.ufrag) == 0));
    memcpy(c->remote_ufrag, remote_ufrag, strlen(remote_ufrag) + 1); /* valid_remote: fits */
    c->gen = ice->next_gen++;
    c->set = true;
    return 0;
}

int pl_ice_create(pl_ice_t **out, const char *remote_ufrag, const char *remote_pwd)
{
    if (out == NULL) return -PL_EINVAL;
    *out = NULL;
    if (!valid_remote(remote_ufrag, PL_ICE_REMOTE_UFRAG_MIN) ||
        !valid_remote(remote_pwd, PL_ICE_REMOTE_PWD_MIN))
        return -PL_EINVAL;

    pl_ice_t *ice = calloc(1, sizeof *ice);
    if (ice == NULL) return -PL_ENOMEM;
    ice->selected = -1;
    int rc = new_creds(ice, &ice->cur, remote_ufrag);
    if (rc != 0) {
        free(ice);
        return rc;
    }
    *out = ice;
    return 0;
}

void pl_ice_destroy(pl_ice_t *ice)
{
    if (ice == NULL) return;
    pl_wipe(ice, sizeof *ice);
    free(ice);
}

const char *pl_ice_local_ufrag(const pl_ice_t *ice)
{
    return ice->cur.ufrag;
}

const char *pl_ice_local_pwd(const pl_ice_t *ice)
{
    return ice->cur.pwd;
}

int pl_ice_restart(pl_ice_t *ice, const char *remote_ufrag, const char *remote_pwd)
{
    if (ice == NULL || !valid_remote(remote_ufrag, PL_ICE_REMOTE_UFRAG_MIN) ||
        !valid_remote(remote_pwd, PL_ICE_REMOTE_PWD_MIN))
        return -PL_EINVAL;

    creds_t next;
    int rc = new_creds(ice, &next, remote_ufrag);
    if (rc != 0) return rc;
    /* Keep the set media flows on. A current set no check has used yet (a second restart
     * before the first finished) carries nothing and is simply replaced. */
    if (ice->cur_used) {
        pl_wipe(&ice->prev, sizeof ice->prev);
        ice->prev = ice->cur;
    }
    pl_wipe(&ice->cur, sizeof ice->cur);
    ice->cur = next;
    ice->cur_used = false;
    pl_wipe(&next, sizeof next);
    return 0;
}

/* USERNAME of a check to us is "OURUFRAG:THEIRUFRAG". Ufrags are public (they travel in the
 * SDP and in clear in every check), so an ordinary compare is fine. */
static bool username_matches(const pl_stun_msg_t *req, const creds_t *c)
{
    size_t l = strlen(c->ufrag), r = strlen(c->remote_ufrag);
    return c->set && req->username_len == l + 1 + r && memcmp(req->username, c->ufrag, l) == 0 &&
           req->username[l] == ':' && memcmp(req->username + l + 1, c->remote_ufrag, r) == 0;
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
    if (a->sa_family != b->ss_family) return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

static void copy_addr(struct sockaddr_storage *dst, const struct sockaddr *src)
{
    memset(dst, 0, sizeof *dst);
    memcpy(dst, src,
           src->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
}

static int find_tuple(const pl_ice_t *ice, const struct sockaddr *addr)
{
    for (int i = 0; i < PL_ICE_MAX_TUPLES; i++)
        if (ice->tuples[i].used && same_addr(addr, &ice->tuples[i].addr)) return i;
    return -1;
}

/* A free slot for a new tuple: an unused one, else the least recently checked one that is not
 * selected (there are always PL_ICE_MAX_TUPLES - 1 of those). */
static int free_tuple(const pl_ice_t *ice)
{
    int oldest = -1;
    for (int i = 0; i < PL_ICE_MAX_TUPLES; i++) {
        if (!ice->tuples[i].used) return i;
        if (i != ice->selected &&
            (oldest < 0 || ice->tuples[i].last_ms < ice->tuples[oldest].last_ms))
            oldest = i;
    }
    return oldest;
}

/* The first check with the new credentials ends the restart: forget the old set and the tuples
 * only it validated. The selected tuple stays until the peer nominates another. */
static void retire_prev(pl_ice_t *ice)
{
    for (int i = 0; i < PL_ICE_MAX_TUPLES; i++)
        if (i != ice->selected && ice->tuples[i].used && ice->tuples[i].gen == ice->prev.gen)
            memset(&ice->tuples[i], 0, sizeof ice->tuples[i]);
    pl_wipe(&ice->prev, sizeof ice->prev);
}

/* Records a check that passed: consent for from, and its nomination if asked. */
static void accept_check(pl_ice_t *ice, const creds_t *c, const pl_stun_msg_t *req,
                         const struct sockaddr *from, int64_t now_ms, pl_ice_event_t *event)
{
    if (c == &ice->cur && !ice->cur_used) {
        ice->cur_used = true;
        if (ice->prev.set) retire_prev(ice);
    }
    int i = find_tuple(ice, from);
    if (i < 0) {
        i = free_tuple(ice);
        memset(&ice->tuples[i], 0, sizeof ice->tuples[i]);
        copy_addr(&ice->tuples[i].addr, from);
        ice->tuples[i].used = true;
    }
    ice->tuples[i].last_ms = now_ms;
    ice->tuples[i].gen = c->gen;
    ice->stats.requests++;

    if (req->use_candidate && i != ice->selected) {
        ice->selected = i;
        if (event != NULL) {
            event->type = PL_ICE_EVENT_NOMINATED;
            event->addr = ice->tuples[i].addr;
        }
    }
}

/* Counts a refused check in *counter, writes the error response and returns result. */
static int refuse(const pl_stun_msg_t *req, int code, const char *pwd, uint64_t *counter,
                  int result, uint8_t *out, size_t out_cap, size_t *out_len)
{
    (*counter)++;
    int rc = pl_stun_write_binding_error(req, code, pwd, out, out_cap, out_len);
    return rc != 0 ? rc : result;
}

int pl_ice_handle_request(pl_ice_t *ice, const uint8_t *pkt, size_t len,
                          const struct sockaddr *from, int64_t now_ms, uint8_t *out, size_t out_cap,
                          size_t *out_len, pl_ice_event_t *event)
{
    if (out_len != NULL) *out_len = 0;
    if (event != NULL) memset(event, 0, sizeof *event);
    if (ice == NULL || pkt == NULL || from == NULL || out == NULL || out_len == NULL)
        return -PL_EINVAL;
    if (from->sa_family != AF_INET && from->sa_family != AF_INET6) return -PL_EINVAL;
    pl_ice_stats_t *st = &ice->stats;

    pl_stun_msg_t req;
    if (pl_stun_parse(pkt, len, &req) != 0) {
        st->malformed++;
        return -PL_EINVAL;
    }
    /* A Binding indication is a keepalive (RFC 8445 section 11) and needs no answer. We send
     * no requests, so a response cannot be for us. */
    if (req.cls == PL_STUN_CLASS_INDICATION) return 0;
    if (req.cls != PL_STUN_CLASS_REQUEST) {
        st->malformed++;
        return -PL_EINVAL;
    }
    /* A wrong FINGERPRINT means this is not STUN at all (RFC 5389 section 8): drop it. */
    int rc = pl_stun_verify_fingerprint(&req);
    if (rc == -PL_EINVAL) {
        st->bad_fingerprint++;
        return -PL_EINVAL;
    }
    /* ICE checks must carry FINGERPRINT, USERNAME and MESSAGE-INTEGRITY (RFC 8445 7.1.2). */
    if (rc != 0 || req.method != PL_STUN_METHOD_BINDING || req.username == NULL ||
        req.mi_offset == 0)
        return refuse(&req, 400, NULL, &st->malformed, -PL_EINVAL, out, out_cap, out_len);

    const creds_t *c = NULL;
    if (username_matches(&req, &ice->cur))
        c = &ice->cur;
    else if (username_matches(&req, &ice->prev))
        c = &ice->prev;
    if (c == NULL)
        return refuse(&req, 401, NULL, &st->unknown_ufrag, -PL_EAUTH, out, out_cap, out_len);
    rc = pl_stun_verify_integrity(&req, c->pwd);
    if (rc == -PL_EAUTH)
        return refuse(&req, 401, NULL, &st->bad_integrity, -PL_EAUTH, out, out_cap, out_len);
    if (rc != 0) return rc;

    /* Authenticated: from here every answer carries MESSAGE-INTEGRITY. */
    if (req.n_unknown > 0)
        return refuse(&req, 420, c->pwd, &st->malformed, -PL_EINVAL, out, out_cap, out_len);
    if (!req.has_priority)
        return refuse(&req, 400, c->pwd, &st->malformed, -PL_EINVAL, out, out_cap, out_len);
    /* A lite agent is always controlled (RFC 8445 6.1.1) and cannot take the controlling role
     * that resolving the conflict would need, so it answers 487 and keeps its role. */
    if (req.has_ice_controlled)
        return refuse(&req, 487, c->pwd, &st->role_conflicts, -PL_ECONFLICT, out, out_cap, out_len);

    rc = pl_stun_write_binding_success(&req, from, c->pwd, out, out_cap, out_len);
    if (rc != 0) return rc;
    accept_check(ice, c, &req, from, now_ms, event);
    return 0;
}

const struct sockaddr *pl_ice_selected(const pl_ice_t *ice)
{
    if (ice->selected < 0) return NULL;
    return (const struct sockaddr *)&ice->tuples[ice->selected].addr;
}

bool pl_ice_is_validated(const pl_ice_t *ice, const struct sockaddr *addr)
{
    return addr != NULL && find_tuple(ice, addr) >= 0;
}

bool pl_ice_consent_ok(const pl_ice_t *ice, int64_t now_ms)
{
    if (ice->selected < 0) return false;
    return now_ms - ice->tuples[ice->selected].last_ms < PL_ICE_CONSENT_TIMEOUT_MS;
}

int64_t pl_ice_last_consent_ms(const pl_ice_t *ice)
{
    return ice->selected < 0 ? -1 : ice->tuples[ice->selected].last_ms;
}

const pl_ice_stats_t *pl_ice_stats(const pl_ice_t *ice)
{
    return &ice->stats;
}
