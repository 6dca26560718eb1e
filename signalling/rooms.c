/* Which node holds a call's media room, in a cluster (docs/CLUSTER.md).
 *
 * A room's media (ICE, DTLS, SRTP, forwarding) lives in one process, so everyone in a call must
 * reach the same node. The first node to host a room takes a lease on it in Redis
 * (parley:room:<id>, renewed every second by the call timer while the room has people); a join
 * that arrives at another node is answered "moved", naming the holder, and the client connects
 * there and joins again. Each node also keeps a heartbeat key with a short TTL
 * (parley:node:<id> = its URL). A node that dies stops both: once its heartbeat has lapsed
 * (NODE_TTL_MS) the next join anywhere takes the room over (releasing the dead node's lease
 * only if the dead node still holds it, so two nodes taking over at once cannot both win), and
 * the clients, whose connections and media died with the node, come back through the load
 * balancer and rejoin there.
 *
 * With no bus there is one node and every room is here. */
#include "core/err.h"
#include "core/log.h"
#include "signalling/bus.h"
#include "signalling/server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOM_TTL_MS 10000 /* a lease the holder stops renewing (not dead: partitioned) */
#define NODE_TTL_MS 3000  /* a heartbeat: how soon a dead node's rooms can move */

typedef struct {
    pl_server_t *srv;
    char key[48];
    char holder[PL_BUS_NODE_ID_MAX + 1];
    pl_room_pin_cb cb;
    void *ud;
    bool took_over;
} pin_t;

static void room_key(int64_t room, char *out, size_t cap)
{
    snprintf(out, cap, "parley:room:%lld", (long long)room);
}

static void node_key(const char *node, char *out, size_t cap)
{
    snprintf(out, cap, "parley:node:%s", node);
}

static void pin_end(pin_t *p, int status, const char *holder_url)
{
    p->cb(p->ud, status, p->holder, holder_url);
    free(p);
}

static void acquired(void *ud, int status, bool held, const char *holder);

static void holder_alive(void *ud, int status, const char *url)
{
    pin_t *p = ud;
    pl_bus_t *bus = pl_cluster_bus(p->srv);
    if (status < 0 || !bus) {
        pin_end(p, -PL_EUNAVAIL, NULL);
        return;
    }
    if (url) {
        pin_end(p, -PL_EMOVED, url);
        return;
    }
    if (p->took_over) { /* lost the race to another node taking it over: ask again */
        pin_end(p, -PL_EUNAVAIL, NULL);
        return;
    }
    /* The holder is gone: take the room over, unless someone else already has. */
    pl_log_warn("cluster", "node %s is gone: its room moves here", p->holder);
    p->took_over = true;
    pl_bus_lease_release(bus, p->key, p->holder);
    if (pl_bus_lease_acquire(bus, p->key, pl_cluster_node(p->srv), ROOM_TTL_MS, acquired, p) < 0)
        pin_end(p, -PL_EUNAVAIL, NULL);
}

static void acquired(void *ud, int status, bool held, const char *holder)
{
    pin_t *p = ud;
    pl_bus_t *bus = pl_cluster_bus(p->srv);
    if (status < 0 || !bus) {
        pin_end(p, -PL_EUNAVAIL, NULL);
        return;
    }
    if (held) {
        pin_end(p, 0, NULL);
        return;
    }
    snprintf(p->holder, sizeof p->holder, "%s", holder ? holder : "");
    char k[96];
    node_key(p->holder, k, sizeof k);
    if (pl_bus_get(bus, k, holder_alive, p) < 0) pin_end(p, -PL_EUNAVAIL, NULL);
}

int pl_room_pin(pl_server_t *srv, int64_t room, pl_room_pin_cb cb, void *ud)
{
    pl_bus_t *bus = pl_cluster_bus(srv);
    if (!bus) {
        cb(ud, 0, "", NULL);
        return 0;
    }
    pin_t *p = calloc(1, sizeof *p);
    if (!p) return -PL_ENOMEM;
    p->srv = srv;
    p->cb = cb;
    p->ud = ud;
    room_key(room, p->key, sizeof p->key);
    int rc = pl_bus_lease_acquire(bus, p->key, pl_cluster_node(srv), ROOM_TTL_MS, acquired, p);
    if (rc < 0) free(p);
    return rc;
}

static void renewed(void *ud, int status, bool held, const char *holder)
{
    int64_t *room = ud;
    /* Held by another node now (this one was cut off for longer than the lease): the people
     * here will be told "moved" when they next join; there is nothing better to do now. */
    if (status == 0 && !held)
        pl_log_warn("cluster", "the lease on room %lld passed to another node", (long long)*room);
    free(room);
}

void pl_room_renew(pl_server_t *srv, int64_t room)
{
    pl_bus_t *bus = pl_cluster_bus(srv);
    int64_t *ud = bus ? malloc(sizeof *ud) : NULL;
    if (!ud) return;
    *ud = room;
    char k[48];
    room_key(room, k, sizeof k);
    if (pl_bus_lease_renew(bus, k, pl_cluster_node(srv), ROOM_TTL_MS, renewed, ud) < 0) free(ud);
}

void pl_room_unpin(pl_server_t *srv, int64_t room)
{
    pl_bus_t *bus = pl_cluster_bus(srv);
    if (!bus) return;
    char k[48];
    room_key(room, k, sizeof k);
    pl_bus_lease_release(bus, k, pl_cluster_node(srv));
}

void pl_room_heartbeat(pl_server_t *srv, const char *url)
{
    pl_bus_t *bus = pl_cluster_bus(srv);
    if (!bus) return;
    char k[96];
    node_key(pl_cluster_node(srv), k, sizeof k);
    pl_bus_set(bus, k, url, NODE_TTL_MS);
}
