/* Internal to the bus (bus.c: connections, reconnects and pub/sub; bus_kv.c: shared state and
 * leases). Never included outside signalling/bus*.c. */
#ifndef PL_BUS_INTERNAL_H
#define PL_BUS_INTERNAL_H

#include "signalling/bus.h"

#include <hiredis/async.h>

/* One command in flight whose reply someone waits for. It belongs to hiredis once queued, and is
 * freed in its reply callback, which hiredis runs exactly once (with reply NULL when the
 * connection goes). Also linked into its bus so destroy can answer it at once and detach it
 * (req->bus = NULL) while hiredis still holds it. */
typedef struct pl_bus__req pl_bus__req_t;
struct pl_bus__req {
    pl_bus__req_t *prev, *next;
    pl_bus_t *bus; /* NULL once detached: the reply is then dropped */
    int kind;      /* PL_BUS__GET or PL_BUS__LEASE */
    pl_bus_get_cb get_cb;
    pl_bus_lease_cb lease_cb;
    void *ud;
};

enum { PL_BUS__GET = 1, PL_BUS__LEASE };

struct pl_bus {
    uv_loop_t *loop;
    pl_bus_listener_t l;
    pl_bus_url_t url;
    char node_id[PL_BUS_NODE_ID_MAX + 1];

    redisAsyncContext *cmd; /* NULL when not connected or connecting */
    redisAsyncContext *sub;
    bool cmd_connected; /* TCP connected; SELECT sent */
    bool cmd_ready;     /* SELECT answered: commands may be sent */
    bool sub_connected; /* TCP connected; SUBSCRIBEs sent */
    bool sub_ready;     /* every channel confirmed once on this connection */
    int sub_pending;    /* SUBSCRIBE confirmations still awaited on this connection */
    bool up;            /* last state reported to the listener */
    bool warned;        /* "unreachable" logged since the last up: log once per change */
    bool closing;

    uv_timer_t retry;    /* reconnect backoff */
    uv_timer_t kick;     /* reports up outside hiredis's connect callback (see bus.c) */
    uv_timer_t deadline; /* abandons connects that neither succeed nor fail (dropped SYNs) */
    int backoff_ms;
    int handles_open;

    char **channels; /* remembered subscriptions, re-sent on each reconnect */
    size_t n_channels, cap_channels;

    pl_bus__req_t *reqs; /* waited-for commands in flight, newest first */
};

/* The command connection if commands may be sent now, else NULL. */
redisAsyncContext *pl_bus__cmd(pl_bus_t *b);

/* Calls every waited-for command's callback with -PL_EUNAVAIL and detaches it (destroy). */
void pl_bus__fail_pending(pl_bus_t *b);

#endif
