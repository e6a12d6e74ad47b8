/*
 * flusher: a FIFO of intrusive jobs and the threads that run them.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "flusher.h"
#include "logging.h"
#include "thread.h"

#define FLUSHER_MAX_THREADS 64

struct qr_flusher {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    qr_flush_job_t *head, *tail; /* lock */
    int stopping;                /* lock */
    int nthreads;
    pthread_t *threads;
    _Atomic unsigned long long runs;
    atomic_int test_delay_ms;
    qr_flusher_stats_t stats;
};

qr_flusher_stats_t *qr_flusher_stats(qr_flusher_t *fl)
{
    return &fl->stats;
}

void qr_flusher_note_sync(qr_flusher_t *fl, unsigned fsyncs, uint64_t ns,
                          unsigned waiters)
{
    atomic_fetch_add_explicit(&fl->stats.fsyncs, fsyncs, memory_order_relaxed);
    qr_hist_observe(&fl->stats.flush_ns, ns);
    qr_hist_observe(&fl->stats.group_commit, waiters);
}

static void test_delay(qr_flusher_t *fl)
{
    int ms = atomic_load(&fl->test_delay_ms);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    if (ms > 0)
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
}

static void *flusher_main(void *arg)
{
    qr_flusher_t *fl = arg;

    pthread_mutex_lock(&fl->lock);
    for (;;) {
        qr_flush_job_t *job = fl->head;
        if (!job) {
            if (fl->stopping)
                break;
            pthread_cond_wait(&fl->cond, &fl->lock);
            continue;
        }
        fl->head = job->next;
        if (!fl->head)
            fl->tail = NULL;
        job->next = NULL;
        pthread_mutex_unlock(&fl->lock);
        test_delay(fl);
        job->run(job);
        atomic_fetch_add(&fl->runs, 1);
        pthread_mutex_lock(&fl->lock);
    }
    pthread_mutex_unlock(&fl->lock);
    return NULL;
}

quire_err_t qr_flusher_new(int nthreads, qr_flusher_t **flp)
{
    if (nthreads < 1 || nthreads > FLUSHER_MAX_THREADS)
        return QUIRE_ERR_BAD_ARG;
    qr_flusher_t *fl = qr_calloc(1, sizeof(*fl));
    pthread_mutex_init(&fl->lock, NULL);
    pthread_cond_init(&fl->cond, NULL);
    qr_hist_init(&fl->stats.flush_ns, qr_hist_latency_ns,
                 qr_hist_latency_ns_len);
    qr_hist_init(&fl->stats.group_commit, qr_hist_pow2, qr_hist_pow2_len);
    fl->threads = qr_calloc((size_t)nthreads, sizeof(pthread_t));
    for (int i = 0; i < nthreads; i++) {
        int rc = pthread_create(&fl->threads[i], NULL, flusher_main, fl);
        if (rc != 0) {
            QR_LOG_ERR("FLUSH", "cannot start flusher thread: %s (errno %d)",
                       strerror(rc), rc);
            qr_flusher_destroy(fl);
            return QUIRE_ERR_STATE;
        }
        qr_thread_name(fl->threads[i], "qr-flusher", i);
        fl->nthreads++;
    }
    *flp = fl;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_flusher_enqueue(qr_flusher_t *fl, qr_flush_job_t *job)
{
    pthread_mutex_lock(&fl->lock);
    if (fl->stopping && fl->nthreads == 0) {
        pthread_mutex_unlock(&fl->lock);
        return QUIRE_ERR_DESTROYED;
    }
    job->next = NULL;
    if (fl->tail)
        fl->tail->next = job;
    else
        fl->head = job;
    fl->tail = job;
    pthread_cond_signal(&fl->cond);
    pthread_mutex_unlock(&fl->lock);
    return QUIRE_ERR_NONE;
}

void qr_flusher_set_test_delay(qr_flusher_t *fl, int delay_ms)
{
    atomic_store(&fl->test_delay_ms, delay_ms > 0 ? delay_ms : 0);
}

unsigned long long qr_flusher_runs(qr_flusher_t *fl)
{
    return atomic_load(&fl->runs);
}

void qr_flusher_destroy(qr_flusher_t *fl)
{
    if (!fl)
        return;
    pthread_mutex_lock(&fl->lock);
    fl->stopping = 1; /* threads drain the queue before they leave */
    pthread_cond_broadcast(&fl->cond);
    pthread_mutex_unlock(&fl->lock);
    for (int i = 0; i < fl->nthreads; i++)
        pthread_join(fl->threads[i], NULL);
    pthread_mutex_lock(&fl->lock);
    fl->nthreads = 0;
    /* Jobs queued after the last thread left run here, on this thread. */
    while (fl->head) {
        qr_flush_job_t *job = fl->head;
        fl->head = job->next;
        if (!fl->head)
            fl->tail = NULL;
        pthread_mutex_unlock(&fl->lock);
        job->run(job);
        pthread_mutex_lock(&fl->lock);
    }
    pthread_mutex_unlock(&fl->lock);
    pthread_mutex_destroy(&fl->lock);
    pthread_cond_destroy(&fl->cond);
    free(fl->threads);
    free(fl);
}
