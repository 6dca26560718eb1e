/* The storage thread. All store access in the server runs here, never on the libuv loop.
 *
 * Jobs queue up while a commit is in progress; the thread then takes every queued job, runs
 * them in one transaction (each in its own savepoint, so one failing job does not spoil the
 * others) and commits once: one fsync for the whole batch (group commit). Results go back to the
 * loop with uv_async_send, and done callbacks run on the loop thread in submission order. That
 * order is what lets the event stream hand over from replay to live without gaps or repeats. */
#ifndef PL_WORKER_H
#define PL_WORKER_H

#include "core/metrics.h"
#include "storage/store.h"

#include <uv.h>

typedef struct pl_job pl_job_t;
/* Runs on the storage thread inside a savepoint. Returns 0 or -PL_E*; on failure the job's
 * writes are rolled back. Must not touch loop-owned state. */
typedef int (*pl_job_run_fn)(pl_store_t *st, pl_job_t *job);
/* Runs on the loop thread once the batch is durable (status 0) or failed (-PL_E*). A job whose
 * run succeeded but whose batch failed to commit gets -PL_EIO: nothing it wrote exists. */
typedef void (*pl_job_done_fn)(pl_job_t *job, int status);

/* Embed in the request struct (intrusive: the worker allocates nothing per job). The caller owns
 * the memory and must keep it alive until done runs. */
struct pl_job {
    pl_job_run_fn run;
    pl_job_done_fn done;
    int status;
    double commit_s; /* set on the last job of a batch: its commit time; else -1 */
    /* Set by the submitter of a job that never writes: a batch of nothing else runs without the
     * store's write lock (pl_store_begin_read). */
    bool read_only;
    pl_job_t *next;
};

typedef struct pl_worker pl_worker_t;

/* Starts the thread. st is borrowed and used only from the thread from now on; m is borrowed and
 * updated on the loop thread. */
int pl_worker_create(pl_worker_t **out, uv_loop_t *loop, pl_store_t *st, pl_metrics_t *m);
/* Queues a job. Callable from the loop thread only. -PL_EUNAVAIL once shutdown has begun or
 * when w is NULL (already destroyed). */
int pl_worker_submit(pl_worker_t *w, pl_job_t *job, pl_job_run_fn run, pl_job_done_fn done);
/* Jobs queued or in flight (for health and drain). */
int pl_worker_pending(const pl_worker_t *w);
/* Finishes every queued job, delivers every done callback, stops the thread, then closes the
 * async handle; memory is freed in its close callback, so keep running the loop afterwards. */
void pl_worker_destroy(pl_worker_t *w);

#endif
