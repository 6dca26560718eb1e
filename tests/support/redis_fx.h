/* Test support: a private redis-server for one test, on a free loopback port in a fresh temporary
 * directory, so bus tests run against the real thing without touching any Redis on the machine.
 * The server runs in the foreground as our child (never daemonized, so we own its pid), dies with
 * the test process (PR_SET_PDEATHSIG), keeps nothing on disk (--save '' --appendonly no) and logs
 * to DIR/redis.log. Restart keeps the port, as a Redis restart in production does. */
#ifndef PL_TEST_REDIS_FX_H
#define PL_TEST_REDIS_FX_H

#include <sys/types.h>

#define REDIS_FX_BIN "/usr/bin/redis-server"

typedef struct {
    pid_t pid; /* 0 when not running */
    int port;
    char dir[64]; /* "" until the first start */
    char url[64]; /* "redis://127.0.0.1:PORT" */
} redis_fx_t;

/* Starts redis-server and waits (up to 5 s) until it answers PING. The first start on a zeroed
 * f picks a free port and makes the directory; later starts (restart) reuse both. Returns 0, or
 * -1 with the reason (and the log's tail) printed to stderr: a missing REDIS_FX_BIN fails, it is
 * never skipped. */
int redis_fx_start(redis_fx_t *f);

/* SIGTERM and wait (SIGKILL after 5 s). No-op when not running. */
void redis_fx_stop(redis_fx_t *f);

/* Stop, then start on the same port. 0 or -1 as redis_fx_start. */
int redis_fx_restart(redis_fx_t *f);

/* Stop and remove the directory; f can be reused from a zeroed state. */
void redis_fx_cleanup(redis_fx_t *f);

#endif
