/* SPDX-License-Identifier: ISC */
/*
 * test_pmap.c - the ordered parallel map (engine/pmap.c): every job is
 * worked once and handed back in the order it was put, whatever order
 * the workers finish in (each job sleeps a pseudo-random time, so later
 * jobs often finish first); no more than depth jobs are ever in flight;
 * each worker's scratch starts zeroed and is its own; one thread works in
 * place, on the caller's thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "th.h"

#include "pmap.h"

#define JOBS 2000

struct job {
    int n;          /* its number, in put order */
    int worked;     /* times worked */
    int scratch_ok; /* the scratch was zero, then ours */
    pthread_t by;   /* the thread that worked it */
};

struct run {
    int next; /* the number the next delivery must have */
    int out_of_order;
    int delivered;
    int in_flight, max_in_flight;
    pthread_mutex_t lock;
};

static void
work(void *v, void *scratch, void *arg)
{
    struct job *j = v;
    long *s = scratch;
    struct timespec ts = {0, (long)((unsigned)j->n * 2654435761u % 200) * 1000};

    (void)arg;
    /* the scratch is the worker's: what this job leaves there is what the
     * next job of the worker finds, never another's */
    j->scratch_ok = s[1] == (long)pthread_self() || s[1] == 0;
    s[0] = j->n;
    s[1] = (long)pthread_self();
    nanosleep(&ts, NULL);
    j->scratch_ok = j->scratch_ok && s[0] == j->n;
    j->worked++;
    j->by = pthread_self();
}

static void
done(void *v, void *arg)
{
    struct job *j = v;
    struct run *r = arg;

    if (j->n != r->next || j->worked != 1 || !j->scratch_ok)
        r->out_of_order++;
    r->next++;
    r->delivered++;
    pthread_mutex_lock(&r->lock);
    r->in_flight--;
    pthread_mutex_unlock(&r->lock);
    free(j);
}

static void
run_map(int threads, size_t depth, struct run *r, int *other_thread)
{
    struct pmap *p;

    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    *other_thread = 0;
    p = pmap_new(threads, depth, 2 * sizeof(long), work, done, r);
    for (int i = 0; i < JOBS; i++) {
        struct job *j = calloc(1, sizeof *j);
        j->n = i;
        pthread_mutex_lock(&r->lock);
        if (++r->in_flight > r->max_in_flight)
            r->max_in_flight = r->in_flight;
        pthread_mutex_unlock(&r->lock);
        pmap_put(p, j);
        /* in place, the job is done when put returns */
        if (threads <= 1 && r->delivered != i + 1)
            r->out_of_order++;
    }
    pmap_finish(p);
    pthread_mutex_destroy(&r->lock);
}

/* a map whose workers record the thread: did any job run elsewhere? */
static pthread_t seen;
static int elsewhere;

static void
work_where(void *v, void *scratch, void *arg)
{
    (void)v;
    (void)scratch;
    (void)arg;
    if (!pthread_equal(pthread_self(), seen))
        elsewhere = 1;
}

static void
done_free(void *v, void *arg)
{
    (void)arg;
    free(v);
}

int
main(void)
{
    struct run r;
    int other;

    run_map(4, 16, &r, &other);
    TH_CHECK(r.delivered == JOBS, "4 threads: every job delivered (%d)",
             r.delivered);
    TH_CHECK(r.out_of_order == 0,
             "4 threads: each worked once, delivered in put order, its "
             "scratch its own (%d wrong)",
             r.out_of_order);
    TH_CHECK(r.max_in_flight <= 16 + 1,
             "4 threads, depth 16: at most depth in flight before a put "
             "returns (%d)",
             r.max_in_flight);

    run_map(2, 1, &r, &other);
    TH_CHECK(r.delivered == JOBS && r.out_of_order == 0,
             "depth below the threads: raised to them, order kept");

    run_map(1, 8, &r, &other);
    TH_CHECK(r.delivered == JOBS && r.out_of_order == 0,
             "one thread: in place, each delivered as it is put");

    {
        struct pmap *p;
        seen = pthread_self();
        elsewhere = 0;
        p = pmap_new(1, 4, 0, work_where, done_free, NULL);
        for (int i = 0; i < 10; i++)
            pmap_put(p, malloc(1));
        pmap_finish(p);
        TH_CHECK(!elsewhere, "one thread: worked on the caller's thread");
        elsewhere = 0;
        p = pmap_new(2, 4, 0, work_where, done_free, NULL);
        for (int i = 0; i < 10; i++)
            pmap_put(p, malloc(1));
        pmap_finish(p);
        TH_CHECK(elsewhere, "two threads: worked on the workers");
    }
    TH_CHECK(pmap_threads(1) == 1, "pmap_threads(1) is 1");
    TH_CHECK(pmap_threads(64) >= 1 && pmap_threads(64) <= 64,
             "pmap_threads is between 1 and its max (%d)", pmap_threads(64));
    TH_CHECK(pmap_threads(0) == 1, "pmap_threads(0) is 1");
    return TH_DONE();
}
