/* Unit tests for storage/worker.c, the storage thread with group commit, run against a real
 * libuv loop and a real SQLite store in a mkdtemp directory: done callbacks on the loop thread
 * in submission order, jobs queued during a commit sharing one batch (one commit), a failing
 * job rolled back while the rest of its batch commits, destroy delivering every pending
 * callback, and submission refused once shut down.
 *
 * Batches are made deterministic with a gate: the first job blocks inside its run until the
 * test has queued the rest, so those are certain to be taken together as the next batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "storage/store.h"
#include "storage/worker.h"

#define MAX_JOBS 256

typedef struct {
    char dir[64];
    pl_store_t *st;
    uv_loop_t loop;
    pl_metrics_t metrics;
    pl_worker_t *w;
    pthread_t loop_thread;
    /* Filled by the callbacks. */
    int order[MAX_JOBS]; /* job indexes in the order their done ran */
    int status[MAX_JOBS];
    bool marker[MAX_JOBS]; /* done saw commit_s >= 0: last job of its batch */
    int n_done;
    int markers;
    bool done_off_loop;  /* a done ran on some other thread */
    bool run_on_loop;    /* a run ran on the loop thread */
    sem_t started, gate; /* the gated job posts started, then waits for gate */
    int resubmit_rc;     /* what a submit from inside a done callback returned */
} fx_t;

typedef struct {
    pl_job_t job; /* first, so a pl_job_t * is also a tjob_t * */
    fx_t *f;
    int idx;
    bool gated; /* block in run until the test opens the gate */
    bool fail;  /* write a row, then fail */
    bool resubmit;
} tjob_t;

static tjob_t jobs[MAX_JOBS + 1];

/* ---- fixture ---- */

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    uint8_t key[32];
    char url[128];
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/parley-test-worker-XXXXXX");
    if (!mkdtemp(f->dir) || pl_random_bytes(key, sizeof key) != 0) return -1;
    snprintf(url, sizeof url, "sqlite:%s/parley.db", f->dir);
    if (pl_store_open(&f->st, url, key) != 0) return -1;
    if (uv_loop_init(&f->loop) != 0) return -1;
    if (sem_init(&f->started, 0, 0) != 0 || sem_init(&f->gate, 0, 0) != 0) return -1;
    f->loop_thread = pthread_self();
    if (pl_worker_create(&f->w, &f->loop, f->st, &f->metrics) != 0) return -1;
    memset(jobs, 0, sizeof jobs);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    sem_post(&f->gate);      /* a test that failed mid-batch may have left the thread at the gate */
    pl_worker_destroy(f->w); /* NULL-safe when a test already destroyed it */
    uv_run(&f->loop, UV_RUN_DEFAULT); /* runs the close callback that frees the worker */
    int rc = uv_loop_close(&f->loop);
    pl_store_close(f->st);
    sem_destroy(&f->started);
    sem_destroy(&f->gate);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        char p[400];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return rc == 0 ? 0 : -1; /* a handle left open on the loop is a leak */
}

/* ---- jobs ---- */

static int run_job(pl_store_t *st, pl_job_t *job)
{
    tjob_t *t = (tjob_t *)job;
    if (pthread_equal(pthread_self(), t->f->loop_thread)) t->f->run_on_loop = true;
    if (t->gated) {
        sem_post(&t->f->started);
        sem_wait(&t->f->gate);
    }
    /* The row that says this job's writes exist: an audit row with resource_id = idx. */
    int rc = pl_store_audit(st, 1, "job", "test", t->idx, 0, NULL, NULL, pl_now_ms());
    if (rc < 0) return rc;
    return t->fail ? -PL_EINVAL : 0;
}

static void done_never(pl_job_t *job, int status)
{
    (void)status;
    tjob_t *t = (tjob_t *)job;
    t->f->order[t->f->n_done++] = -1000 - t->idx; /* shows up as a wrong order */
}

static void done_job(pl_job_t *job, int status)
{
    tjob_t *t = (tjob_t *)job;
    fx_t *f = t->f;
    if (!pthread_equal(pthread_self(), f->loop_thread)) f->done_off_loop = true;
    f->status[t->idx] = status;
    f->marker[t->idx] = job->commit_s >= 0;
    f->markers += job->commit_s >= 0;
    f->order[f->n_done++] = t->idx;
    if (t->resubmit) {
        tjob_t *again = &jobs[MAX_JOBS];
        again->f = f;
        again->idx = MAX_JOBS;
        f->resubmit_rc = pl_worker_submit(f->w, &again->job, run_job, done_never);
    }
}

static tjob_t *job_at(fx_t *f, int idx)
{
    tjob_t *t = &jobs[idx];
    t->f = f;
    t->idx = idx;
    return t;
}

static void submit(fx_t *f, int idx)
{
    assert_int_equal(pl_worker_submit(f->w, &job_at(f, idx)->job, run_job, done_job), 0);
}

/* Runs the loop until n done callbacks have run (or fails after 10 s). */
static void pump_until(fx_t *f, int n)
{
    uint64_t deadline = pl_mono_ns() + 10ull * 1000000000ull;
    while (f->n_done < n) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (f->n_done >= n) break;
        assert_true(pl_mono_ns() < deadline);
        usleep(500);
    }
}

/* Count of committed audit rows with resource_id = idx. */
static int rows_for(fx_t *f, int idx)
{
    json_t *rows = NULL;
    int n = 0;
    assert_int_equal(pl_store_audit_list(f->st, 0, 100000, &rows), 0);
    for (size_t i = 0; i < json_array_size(rows); i++)
        if (json_integer_value(json_object_get(json_array_get(rows, i), "resource_id")) == idx) n++;
    json_decref(rows);
    return n;
}

/* Submits gated job 0, waits until the storage thread is inside it, then submits 1..n-1 so they
 * all queue behind it; opens the gate. Returns with every job submitted. */
static void submit_gated_batch(fx_t *f, int n)
{
    job_at(f, 0)->gated = true;
    submit(f, 0);
    sem_wait(&f->started);
    for (int i = 1; i < n; i++)
        submit(f, i);
    sem_post(&f->gate);
}

/* ---- tests ---- */

static void test_done_callbacks_run_on_loop_thread_in_submission_order(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 40; i++)
        submit(f, i);
    pump_until(f, 1); /* some delivered... */
    for (int i = 40; i < 100; i++)
        submit(f, i); /* ...while more arrive */
    pump_until(f, 100);
    assert_int_equal(f->n_done, 100);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(f->order[i], i);
        assert_int_equal(f->status[i], 0);
    }
    assert_false(f->done_off_loop);
    assert_false(f->run_on_loop);
    assert_int_equal(pl_worker_pending(f->w), 0);
    for (int i = 0; i < 100; i += 33)
        assert_int_equal(rows_for(f, i), 1);
}

static void test_pending_counts_jobs_until_their_done_runs(void **state)
{
    fx_t *f = *state;
    assert_int_equal(pl_worker_pending(f->w), 0);
    job_at(f, 0)->gated = true;
    submit(f, 0);
    submit(f, 1);
    submit(f, 2);
    assert_int_equal(pl_worker_pending(f->w), 3);
    sem_post(&f->gate);
    pump_until(f, 3);
    assert_int_equal(pl_worker_pending(f->w), 0);
}

static void test_jobs_queued_during_a_commit_share_one_batch(void **state)
{
    fx_t *f = *state;
    enum { N = 50 };
    submit_gated_batch(f, N);
    pump_until(f, N);
    /* Job 0 ran alone; the 49 queued behind it were committed together, once. */
    assert_int_equal(f->markers, 2);
    assert_int_equal(f->metrics.commit_count, 2);
    assert_true(f->metrics.commit_count < N);
    assert_true(f->marker[0]);
    assert_true(f->marker[N - 1]);
    for (int i = 1; i < N - 1; i++)
        assert_false(f->marker[i]);
    for (int i = 0; i < N; i++) {
        assert_int_equal(f->order[i], i);
        assert_int_equal(f->status[i], 0);
        assert_int_equal(rows_for(f, i), 1);
    }
}

static void test_failing_job_is_rolled_back_while_its_batch_commits(void **state)
{
    fx_t *f = *state;
    enum { N = 6, BAD = 3 };
    job_at(f, BAD)->fail = true;
    submit_gated_batch(f, N);
    pump_until(f, N);
    /* Jobs 1..5 were one batch (only the last carries the commit marker)... */
    for (int i = 1; i < N - 1; i++)
        assert_false(f->marker[i]);
    assert_true(f->marker[N - 1]);
    assert_int_equal(f->metrics.commit_count, 2);
    /* ...in which the failing job's row is gone and every other row is durable. */
    for (int i = 0; i < N; i++) {
        assert_int_equal(f->status[i], i == BAD ? -PL_EINVAL : 0);
        assert_int_equal(rows_for(f, i), i == BAD ? 0 : 1);
    }
    assert_int_equal(f->metrics.store_errors, 1);
}

static void test_destroy_delivers_every_pending_done_callback(void **state)
{
    fx_t *f = *state;
    enum { N = 30 };
    for (int i = 0; i < N; i++)
        submit(f, i);
    /* The loop has not run: nothing can have been delivered yet. */
    assert_int_equal(f->n_done, 0);
    pl_worker_destroy(f->w);
    f->w = NULL;
    assert_int_equal(f->n_done, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(f->order[i], i);
        assert_int_equal(f->status[i], 0);
        assert_int_equal(rows_for(f, i), 1);
    }
    assert_false(f->done_off_loop);
}

static void test_submit_after_destroy_is_unavailable_and_never_calls_done(void **state)
{
    fx_t *f = *state;
    pl_worker_destroy(f->w);
    f->w = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    tjob_t *t = job_at(f, 0);
    assert_int_equal(pl_worker_submit(f->w, &t->job, run_job, done_never), -PL_EUNAVAIL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->n_done, 0);
    assert_int_equal(rows_for(f, 0), 0);
}

static void test_submit_during_shutdown_is_unavailable(void **state)
{
    fx_t *f = *state;
    job_at(f, 0)->resubmit = true; /* its done submits another job while destroy delivers */
    submit(f, 0);
    f->resubmit_rc = 1;
    pl_worker_destroy(f->w);
    assert_int_equal(f->resubmit_rc, -PL_EUNAVAIL);
    f->w = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->n_done, 1); /* the refused job's done never ran */
    assert_int_equal(f->order[0], 0);
    assert_int_equal(rows_for(f, MAX_JOBS), 0);
}

int main(void)
{
    pl_log_set_level(PL_LOG_WARN);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_done_callbacks_run_on_loop_thread_in_submission_order),
        T(test_pending_counts_jobs_until_their_done_runs),
        T(test_jobs_queued_during_a_commit_share_one_batch),
        T(test_failing_job_is_rolled_back_while_its_batch_commits),
        T(test_destroy_delivers_every_pending_done_callback),
        T(test_submit_after_destroy_is_unavailable_and_never_calls_done),
        T(test_submit_during_shutdown_is_unavailable),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
