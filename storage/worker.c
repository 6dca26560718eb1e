/* Storage thread with group commit; see worker.h for the contract. */
#include "storage/worker.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct pl_worker {
    uv_async_t async;
    pl_store_t *st;
    pl_metrics_t *metrics;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pl_job_t *in_head, *in_tail;     /* queued for the thread */
    pl_job_t *out_head, *out_tail;   /* finished, for the loop */
    int pending;                     /* loop thread only */
    int max_batch;                   /* jobs per transaction; 0: no limit */
    bool stopping;
};

static void run_batch(pl_worker_t *w, pl_job_t *batch)
{
    uint64_t t0 = pl_mono_ns();
    bool reads = true;
    for (pl_job_t *j = batch; j; j = j->next) reads = reads && j->read_only;
    int rc = reads ? pl_store_begin_read(w->st) : pl_store_begin(w->st);
    pl_job_t *last = NULL;
    for (pl_job_t *j = batch; j; j = j->next) {
        last = j;
        j->commit_s = -1;
        if (rc < 0) {
            j->status = rc;
            continue;
        }
        int sp = pl_store_savepoint(w->st);
        j->status = sp < 0 ? sp : j->run(w->st, j);
        if (sp == 0) {
            if (j->status < 0)
                pl_store_rollback_to(w->st);
            else
                pl_store_release(w->st);
        }
    }
    if (rc == 0) {
        rc = pl_store_commit(w->st);
        if (rc < 0) {
            pl_store_rollback(w->st);
            for (pl_job_t *j = batch; j; j = j->next)
                if (j->status == 0) j->status = -PL_EIO;
        }
    }
    if (last) last->commit_s = (double)(pl_mono_ns() - t0) / 1e9;
}

static void *thread_main(void *arg)
{
    pl_worker_t *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->in_head && !w->stopping) pthread_cond_wait(&w->cond, &w->lock);
        if (!w->in_head && w->stopping) break;
        pl_job_t *batch = w->in_head, *tail = w->in_tail;
        /* At most max_batch jobs (0: all of them): the rest wait for the next batch. */
        int n = 1;
        if (w->max_batch > 0)
            for (tail = batch; tail->next && n < w->max_batch; n++) tail = tail->next;
        w->in_head = tail->next;
        if (!w->in_head) w->in_tail = NULL;
        tail->next = NULL;
        pthread_mutex_unlock(&w->lock);

        run_batch(w, batch);

        pthread_mutex_lock(&w->lock);
        if (w->out_tail)
            w->out_tail->next = batch;
        else
            w->out_head = batch;
        w->out_tail = tail;
        pthread_mutex_unlock(&w->lock);
        uv_async_send(&w->async);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void deliver(pl_worker_t *w)
{
    pthread_mutex_lock(&w->lock);
    pl_job_t *j = w->out_head;
    w->out_head = w->out_tail = NULL;
    pthread_mutex_unlock(&w->lock);
    while (j) {
        pl_job_t *next = j->next;
        j->next = NULL;
        w->pending--;
        if (j->commit_s >= 0) pl_metrics_observe_commit(w->metrics, j->commit_s);
        if (j->status < 0 && j->status != -PL_ENOTFOUND && j->status != -PL_EPERM)
            w->metrics->store_errors++;
        j->done(j, j->status); /* may free j */
        j = next;
    }
}

static void async_cb(uv_async_t *h)
{
    pl_worker_t *w = h->data;
    if (w) deliver(w);
}

int pl_worker_create(pl_worker_t **out, uv_loop_t *loop, pl_store_t *st, pl_metrics_t *m)
{
    pl_worker_t *w = calloc(1, sizeof *w);
    if (!w) return -PL_ENOMEM;
    w->st = st;
    w->metrics = m;
    w->max_batch = pl_store_batch_max(st);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (uv_async_init(loop, &w->async, async_cb) < 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        return -PL_EINTERNAL;
    }
    w->async.data = w;
    if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
        /* The async handle is already registered: it must be closed, and w freed with it. */
        w->async.data = NULL;
        uv_close((uv_handle_t *)&w->async, (uv_close_cb)free);
        return -PL_EINTERNAL;
    }
    *out = w;
    return 0;
}

int pl_worker_submit(pl_worker_t *w, pl_job_t *job, pl_job_run_fn run, pl_job_done_fn done)
{
    if (!w) return -PL_EUNAVAIL; /* shut down: the caller answers "unavailable" */
    job->run = run;
    job->done = done;
    job->status = 0;
    job->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        return -PL_EUNAVAIL;
    }
    if (w->in_tail)
        w->in_tail->next = job;
    else
        w->in_head = job;
    w->in_tail = job;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    w->pending++;
    return 0;
}

int pl_worker_pending(const pl_worker_t *w)
{
    return w->pending;
}

static void close_cb(uv_handle_t *h)
{
    pl_worker_t *w = (pl_worker_t *)h; /* async is the first member */
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

void pl_worker_destroy(pl_worker_t *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL); /* the thread commits everything queued before it exits */
    deliver(w);
    w->async.data = NULL;
    uv_close((uv_handle_t *)&w->async, close_cb);
}
