/* SPDX-License-Identifier: ISC */
/*
 * pmap.h - an ordered parallel map: jobs put in one at a time are worked
 * on by a few threads at once, and handed back to the caller's thread in
 * the order they were put in.
 *
 * For work that is pure and costs more than its hand-over (reading and
 * parsing one message of many: `bounces parse` over a Maildir), so the
 * machine's cores share it while the output stays exactly what one thread
 * would print.  At most `depth` jobs are in flight: a put waits for the
 * oldest to be delivered, so memory stays flat over any number of jobs.
 * Each worker has its own scratch buffer (scratch_size bytes, zeroed when
 * the worker starts and kept as the last job left it), for what a job
 * needs but need not keep.  With one thread (or a machine
 * of one core) nothing is started: put works and delivers in place.
 */
#ifndef CAMPAIGN_PMAP_H
#define CAMPAIGN_PMAP_H

#include <stddef.h>

/* pmap_work - on a worker thread: do job (its results go in job) */
typedef void (*pmap_work)(void *job, void *scratch, void *arg);
/* pmap_done - on the caller's thread, in put order: take job's results
 * (and free it) */
typedef void (*pmap_done)(void *job, void *arg);

struct pmap;

/* pmap_threads - how many workers to use: the online cores, at most
 * max (at least 1) */
int pmap_threads(int max);

/* pmap_new - a map of nthreads workers (1: none, in place) */
struct pmap *pmap_new(int nthreads, size_t depth, size_t scratch_size,
                      pmap_work work, pmap_done done, void *arg);

/* pmap_put - hand job over; waits while depth jobs are in flight, and
 * delivers every job finished in order before it */
void pmap_put(struct pmap *p, void *job);

/* pmap_drain - deliver every job in flight (when what they use is about
 * to go: a directory they open files in) */
void pmap_drain(struct pmap *p);

/* pmap_finish - deliver every job still in flight, stop the workers and
 * free p */
void pmap_finish(struct pmap *p);

#endif
