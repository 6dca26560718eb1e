/* The Parley server: HTTPS + WSS front on libwebsockets, attached to the process's one libuv
 * loop as a foreign loop, with the storage thread behind it. */
#ifndef PL_SERVER_H
#define PL_SERVER_H

#include "core/config.h"

#include <stdint.h>
#include <uv.h>

typedef struct pl_server pl_server_t;

/* Opens the store (data dir must hold data.key, tls.crt and tls.key: see pl_datadir_prepare),
 * starts the storage thread and listens. cfg is borrowed for the server's life. */
int pl_server_create(pl_server_t **out, uv_loop_t *loop, const pl_config_t *cfg);
/* Graceful drain: stop accepting, let in-flight store work finish, close every socket. Safe
 * to call twice. The loop then runs dry and pl_server_destroy frees what is left. */
void pl_server_shutdown(pl_server_t *s);
void pl_server_destroy(pl_server_t *s);

#endif
