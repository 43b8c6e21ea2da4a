/* SPDX-License-Identifier: ISC */
/*
 * pmap.c - an ordered parallel map (see pmap.h).
 *
 * A ring of depth slots: [head, next) were handed to workers (being
 * worked, or finished and waiting for the older ones to be delivered),
 * [next, tail) wait for a worker; a slot is delivered when it is the
 * oldest (head) and finished.  One mutex guards the ring; workers wait on
 * `work_cv`, the caller on `done_cv`, and is woken for a run of finished
 * jobs, not each.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "pmap.h"
#include "xalloc.h"

struct slot {
    void *job;
    int finished;
};

struct pmap {
    pmap_work work;
    pmap_done done;
    void *arg;
    size_t depth;
    size_t head, next, tail; /* counters; the slot is the value % depth */
    struct slot *ring;
    int nthreads, closing;
    int idle;    /* workers waiting for a job */
    size_t want; /* the caller waits for this many finished at the
                    head (0: it does not wait) */
    pthread_t *threads;
    void *scratch; /* the one scratch buffer when in place */
    size_t scratch_size;
    pthread_mutex_t lock;
    pthread_cond_t work_cv, done_cv;
};

int
pmap_threads(int max)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        n = 1;
    if (max < 1)
        max = 1;
    return n > max ? max : (int)n;
}

/* finished_run - how many jobs from the head on are finished.  Locked. */
static size_t
finished_run(const struct pmap *p)
{
    size_t n = 0;

    while (p->head + n != p->tail && p->ring[(p->head + n) % p->depth].finished)
        n++;
    return n;
}

static void *
worker(void *v)
{
    struct pmap *p = v;
    void *scratch = xcalloc(1, p->scratch_size ? p->scratch_size : 1);

    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct slot *s;
        while (p->next == p->tail && !p->closing) {
            p->idle++;
            pthread_cond_wait(&p->work_cv, &p->lock);
            p->idle--;
        }
        if (p->next == p->tail)
            break; /* closing, and nothing left */
        s = &p->ring[p->next++ % p->depth];
        pthread_mutex_unlock(&p->lock);
        p->work(s->job, scratch, p->arg);
        pthread_mutex_lock(&p->lock);
        s->finished = 1;
        /* the caller is woken for a run of finished jobs, not for each
         * one: a wake-up per job would cost as much as the job */
        if (p->want > 0 && finished_run(p) >= p->want)
            pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->lock);
    free(scratch);
    return NULL;
}

struct pmap *
pmap_new(int nthreads, size_t depth, size_t scratch_size, pmap_work work,
         pmap_done done, void *arg)
{
    struct pmap *p = xcalloc(1, sizeof *p);

    p->work = work;
    p->done = done;
    p->arg = arg;
    p->scratch_size = scratch_size;
    p->depth = depth < (size_t)nthreads ? (size_t)nthreads : depth;
    if (p->depth == 0)
        p->depth = 1;
    if (nthreads <= 1) {
        p->scratch = xcalloc(1, scratch_size ? scratch_size : 1);
        return p;
    }
    p->ring = xcalloc(p->depth, sizeof *p->ring);
    p->threads = xcalloc((size_t)nthreads, sizeof *p->threads);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
            break; /* fewer workers; at least one is needed */
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        /* no thread could start: work in place */
        p->scratch = xcalloc(1, scratch_size ? scratch_size : 1);
    }
    return p;
}

/* deliver - hand back every finished job at the head, first waiting,
 * while more than `keep` are in flight, for half the ring (or all that
 * is in flight, if less) to be finished at the head.  Called locked. */
static void
deliver(struct pmap *p, size_t keep)
{
    for (;;) {
        struct slot *s = &p->ring[p->head % p->depth];
        void *job;
        if (p->head == p->tail)
            return;
        if (!s->finished) {
            size_t half = p->depth / 2 ? p->depth / 2 : 1;
            if (p->tail - p->head <= keep)
                return;
            p->want = p->tail - p->head < half ? p->tail - p->head : half;
            while (finished_run(p) < p->want)
                pthread_cond_wait(&p->done_cv, &p->lock);
            p->want = 0;
            continue;
        }
        job = s->job;
        s->job = NULL;
        s->finished = 0;
        p->head++;
        pthread_mutex_unlock(&p->lock);
        p->done(job, p->arg);
        pthread_mutex_lock(&p->lock);
    }
}

void
pmap_put(struct pmap *p, void *job)
{
    if (p->nthreads == 0) {
        p->work(job, p->scratch, p->arg);
        p->done(job, p->arg);
        return;
    }
    pthread_mutex_lock(&p->lock);
    deliver(p, p->depth - 1);
    p->ring[p->tail % p->depth].job = job;
    p->ring[p->tail % p->depth].finished = 0;
    p->tail++;
    if (p->idle > 0)
        pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->lock);
}

void
pmap_drain(struct pmap *p)
{
    if (p->nthreads == 0)
        return;
    pthread_mutex_lock(&p->lock);
    deliver(p, 0);
    pthread_mutex_unlock(&p->lock);
}

void
pmap_finish(struct pmap *p)
{
    if (p->nthreads > 0) {
        pthread_mutex_lock(&p->lock);
        deliver(p, 0);
        p->closing = 1;
        pthread_cond_broadcast(&p->work_cv);
        pthread_mutex_unlock(&p->lock);
        for (int i = 0; i < p->nthreads; i++)
            pthread_join(p->threads[i], NULL);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->work_cv);
        pthread_cond_destroy(&p->done_cv);
    }
    free(p->ring);
    free(p->threads);
    free(p->scratch);
    free(p);
}
