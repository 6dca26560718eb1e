/* The cluster event bus: Redis pub/sub and small shared state with TTLs, for several Parley
 * nodes sharing one PostgreSQL store (DESIGN.md, "other nodes <-> Redis pub/sub").
 *
 * The store is the truth; the bus only wakes other nodes up ("conversation X has events up to
 * cursor N") and holds short-lived shared state (presence, waiting room, media room leases).
 * Nothing here is durable or guaranteed: a message published while a node is disconnected is
 * lost, so the owner is told through state(up=true) each time the subscription is in place again,
 * and catches up from the store then.
 *
 * Everything runs on the caller's libuv loop, with two hiredis connections (a subscribed
 * connection can carry no other commands). Not thread-safe. */
#ifndef PL_BUS_H
#define PL_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct pl_bus pl_bus_t;

typedef struct {
    /* A message on a subscribed channel. channel is NUL-terminated; payload is len bytes and may
     * hold NUL bytes. Both are borrowed until the callback returns. May be NULL. */
    void (*message)(void *ud, const char *channel, const char *payload, size_t len);
    /* up=true each time the bus is fully working again: both connections are established and
     * every subscribed channel is confirmed (after the first connect, after each reconnect, and
     * again once channels subscribed while up are confirmed). up=false once when a connection is
     * lost. Messages published while not up are lost to this node: catch up from the store on
     * up=true. May be NULL. */
    void (*state)(void *ud, bool up);
    void *ud;
} pl_bus_listener_t;

#define PL_BUS_HOST_MAX 253
#define PL_BUS_URL_MAX 512
#define PL_BUS_NODE_ID_MAX 64

typedef struct {
    char host[PL_BUS_HOST_MAX + 1]; /* an IPv4 literal or a DNS name */
    int port;                       /* 1..65535 */
    int db;                         /* 0..9999, 0 when absent */
} pl_bus_url_t;

/* Parses "redis://host:port[/db]". host is a dotted IPv4 address or a DNS name (letters, digits,
 * '-' and '.'); the port is required. 0, or -PL_EINVAL for anything else (another scheme, no
 * host, a bad or out-of-range port or db, trailing characters, over PL_BUS_URL_MAX bytes); *out
 * is zeroed on failure. */
int pl_bus_parse_url(const char *url, pl_bus_url_t *out);

/* Creates a bus on loop and starts connecting to url in the background; returns 0 even when Redis
 * is down now, and keeps retrying with backoff (100 ms doubling to 2 s), logging only when the
 * state changes. node_id (1..PL_BUS_NODE_ID_MAX printable bytes, no spaces) names this node to
 * callers; it is copied. l is copied. On success *out is the bus (release with pl_bus_destroy).
 * -PL_EINVAL for a bad url, node_id or l, -PL_ENOMEM; on failure nothing is left behind.
 * A host name is resolved on the loop thread at each connect attempt (getaddrinfo blocks): use
 * an address or a name in /etc/hosts. */
int pl_bus_create(pl_bus_t **out, uv_loop_t *loop, const char *url, const char *node_id,
                  const pl_bus_listener_t *l);

/* Stops the bus. Pending get and lease callbacks are called, from inside this function, with
 * -PL_EUNAVAIL (exactly once each); calls they make into the bus fail with -PL_EUNAVAIL. No
 * callback runs after it returns. May be called from inside any bus callback. The memory is
 * freed once the loop has closed the libuv handles: keep running the loop afterwards. NULL ok;
 * a second call is a no-op until the memory is freed, and undefined after. */
void pl_bus_destroy(pl_bus_t *b);

/* This node's id as given to pl_bus_create (owned by b). */
const char *pl_bus_node_id(const pl_bus_t *b);

/* True between state(up=true) and state(up=false). */
bool pl_bus_up(const pl_bus_t *b);

/* Subscribes to channel (copied) now if connected, and again after each reconnect. Subscribing
 * twice to one channel is a no-op. 0, -PL_EINVAL (empty or over 256 bytes), -PL_ENOMEM. */
int pl_bus_subscribe(pl_bus_t *b, const char *channel);

/* Publishes len bytes of payload (binary-safe) on channel, fire-and-forget. 0 once queued on the
 * connection; -PL_EUNAVAIL when disconnected (the message is dropped: the store is the truth);
 * -PL_EINVAL. */
int pl_bus_publish(pl_bus_t *b, const char *channel, const char *payload, size_t len);

/* Shared state: SET key val PX ttl_ms, and DEL key. Fire-and-forget: 0 once queued,
 * -PL_EUNAVAIL when disconnected, -PL_EINVAL (empty key, NULL val, ttl_ms <= 0). */
int pl_bus_set(pl_bus_t *b, const char *key, const char *val, int ttl_ms);
int pl_bus_del(pl_bus_t *b, const char *key);

/* val is NUL-terminated, borrowed until the callback returns, NULL when the key is absent or
 * status < 0. status is 0, -PL_EUNAVAIL (connection lost meanwhile, or the bus was destroyed) or
 * -PL_EIO (Redis answered with an error, e.g. the key holds another type). */
typedef void (*pl_bus_get_cb)(void *ud, int status, const char *val);

/* GET key. On 0, cb is called exactly once, later (never from inside this call). On error
 * (-PL_EUNAVAIL when disconnected, -PL_EINVAL, -PL_ENOMEM) cb is never called. */
int pl_bus_get(pl_bus_t *b, const char *key, pl_bus_get_cb cb, void *ud);

/* held: whether owner holds the lease after the operation. holder: the current holder's value
 * (owner when held; another owner's id when not; NULL when nobody holds it or status < 0),
 * borrowed until the callback returns. status as for pl_bus_get_cb. */
typedef void (*pl_bus_lease_cb)(void *ud, int status, bool held, const char *holder);

/* Leases pin shared things (a media room) to one owner for ttl_ms unless renewed. Each is one
 * atomic Lua script on Redis.
 * acquire: take key if free (SET NX PX), or extend it if owner already holds it.
 * renew: extend only if owner still holds it (compare-and-pexpire).
 * release: delete only if owner holds it; fire-and-forget.
 * cb (NULL allowed) as for pl_bus_get: exactly once on 0, never on error. Errors: -PL_EINVAL
 * (empty key or owner, ttl_ms <= 0), -PL_EUNAVAIL (disconnected), -PL_ENOMEM. */
int pl_bus_lease_acquire(pl_bus_t *b, const char *key, const char *owner, int ttl_ms,
                         pl_bus_lease_cb cb, void *ud);
int pl_bus_lease_renew(pl_bus_t *b, const char *key, const char *owner, int ttl_ms,
                       pl_bus_lease_cb cb, void *ud);
int pl_bus_lease_release(pl_bus_t *b, const char *key, const char *owner);

#endif
