/* The sweep of uploads never sent (docs/PROTOCOL.md section 10.1): an attachment no message
 * carries within attachment_unsent_ttl_s is deleted, and so is every blob no attachment refers
 * to any more. The housekeeping timer asks at most every min(1 h, ttl/2); the work runs on the
 * storage thread, never on the loop, and never twice at once. */
#include "signalling/attach.h"
#include "core/err.h"
#include "core/log.h"

#include <stdlib.h>

/* ---- the sweep of uploads never sent ---- */

#define SWEEP_MAX_MS (3600 * 1000ULL)

uint64_t pl_attach_sweep_every_ms(const pl_config_t *cfg)
{
    uint64_t half = (uint64_t)cfg->attachment_unsent_ttl_s * 500;
    return half < SWEEP_MAX_MS ? half : SWEEP_MAX_MS;
}

typedef struct {
    pl_job_t job;
    pl_server_t *srv;
    int64_t before; /* uploads created before this (ms) go */
    int64_t removed;
} sweep_t;

static int sweep_run(pl_store_t *st, pl_job_t *job)
{
    sweep_t *w = (sweep_t *)job;
    return pl_store_attach_sweep(st, w->before, &w->removed);
}

static void sweep_done(pl_job_t *job, int status)
{
    sweep_t *w = (sweep_t *)job;
    pl_server_t *srv = w->srv;
    srv->attach_sweeping = false;
    if (status == 0) {
        srv->metrics.attach_swept += (uint64_t)w->removed;
        /* How many, never whose or what: names and uploaders are not for the log. */
        if (w->removed)
            pl_log_info("attach", "deleted %lld uploads never sent on a message",
                        (long long)w->removed);
        else
            pl_log_debug("attach", "no uploads to delete");
    } else {
        pl_log_warn("attach", "could not delete uploads never sent: %s", pl_strerror(status));
    }
    free(w);
}

void pl_attach_sweep_tick(pl_server_t *srv, int64_t now)
{
    if (srv->attach_sweeping || now < srv->attach_sweep_at) return;
    sweep_t *w = calloc(1, sizeof *w);
    if (!w) return; /* the next tick tries again */
    w->srv = srv;
    w->before = now - (int64_t)srv->cfg->attachment_unsent_ttl_s * 1000;
    if (pl_worker_submit(srv->worker, &w->job, sweep_run, sweep_done) < 0) {
        free(w);
        return;
    }
    srv->attach_sweeping = true;
    srv->attach_sweep_at = now + (int64_t)pl_attach_sweep_every_ms(srv->cfg);
}
