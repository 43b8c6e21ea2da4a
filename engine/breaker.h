/* SPDX-License-Identifier: ISC */
/*
 * breaker.h - the circuit breaker: a campaign whose hard-bounce rate or
 * complaint rate passes its limit pauses itself.
 *
 * A list that bounces or draws complaints beyond a few percent is a list
 * in trouble (bought, stale, or mailed without consent); sending on burns
 * the sender's reputation at every provider.  The rates count every
 * message the relay took (sent, and bounced since), from the last
 * `campaign resume` on: a sender who resumes has looked, and the rates
 * start again from there.  Checked by `bounces ingest` for the campaigns
 * its messages touched and by `send` as its own bounces come in.  Owns
 * no state but the database's (db/store.h, the campaigns' breaker
 * columns).
 */
#ifndef CAMPAIGN_BREAKER_H
#define CAMPAIGN_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "../db/store.h"
#include "err.h"

struct breaker_limits {
    double hard;      /* rate of hard bounces past which it pauses; 0 never */
    double complaint; /* rate of complaints; 0 never */
    long min;         /* only after this many messages since the resume */
};

/*
 * breaker_check - pause the campaign (control pause, status paused, the
 * reason kept) when a rate passes its limit; why (size bytes) says so.
 * Runs in the caller's transaction.  Returns 1 paused now, 0 not, -1.
 */
int breaker_check(struct store *st, int64_t campaign,
                  const struct breaker_limits *l, char *why, size_t size,
                  struct err *e);

#endif
