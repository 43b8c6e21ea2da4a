/* SPDX-License-Identifier: ISC */
/*
 * throttle.h - sending rate limits as token buckets.
 *
 * Pure: the clock is passed in (milliseconds), so the behaviour is
 * exactly testable.  A bucket of rate R and capacity B lets at most
 * B + R*T messages go in any span of T seconds, and R*T in the long run:
 * with the default capacity, 10% of R a second (at least 1), no second
 * carries more than 1.1 R, where a capacity of a whole second's worth let
 * the first second carry 2 R (399 messages in one second at 200/s).  One bucket
 * for the global rate and one per configured recipient domain (gmail.com =
 * 20/s).  A relay's throttling reply (421, 451/454 with 4.7.x, "rate",
 * "throttl") halves the rate of the bucket concerned for a while
 * (throttle_slow); it recovers by 10% a minute of quiet.
 */
#ifndef CAMPAIGN_THROTTLE_H
#define CAMPAIGN_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct bucket {
    double rate;  /* tokens per second; 0: unlimited */
    double base;  /* the configured rate, to recover to */
    double burst; /* capacity */
    double tokens;
    int64_t last_ms;
    int64_t slowed_ms; /* last throttle_slow, for recovery */
};

/* bucket_default_burst - the capacity when none is configured: a tenth
 * of a second's worth, at least 1 */
double bucket_default_burst(double rate);
/* bucket_init - a full bucket of rate tokens a second (0: unlimited) and
 * capacity burst (0: bucket_default_burst) */
void bucket_init(struct bucket *b, double rate, double burst, int64_t now);
/* bucket_take - 1 and one token taken, or 0 when empty. */
int bucket_take(struct bucket *b, int64_t now);
/* bucket_wait - ms until a token is there (0 if now). */
int64_t bucket_wait(struct bucket *b, int64_t now);
/* bucket_slow - halve the rate (not below 1 per minute). */
void bucket_slow(struct bucket *b, int64_t now);

struct throttle;

/*
 * throttle_take_provider - throttle_take (below), and the bucket of the
 * recipient domain's provider (provider.h) when [limits] provider.NAME gives it
 * a rate: the global, the domain's and the provider's tokens are taken together
 * or not at all, so the tightest of the three wins.  provider NULL: none
 * (throttle_take).
 */
int64_t throttle_take_provider(struct throttle *t, const char *domain,
                               const char *provider, int64_t now);
/* throttle_new - from [limits]; the clock starts at now. */
struct throttle *throttle_new(const struct config_limits *l, int64_t now);
void throttle_free(struct throttle *t);
/*
 * throttle_take - may a message to this recipient domain go now?  Takes
 * tokens from the global and the domain bucket (both or neither).
 * Returns 0 when it may, else the ms to wait.
 */
int64_t throttle_take(struct throttle *t, const char *domain, int64_t now);
/* throttle_global_wait - ms until the global rate allows a message (0:
 * now), taking nothing: the caller asks its source for a message only
 * when one could go. */
int64_t throttle_global_wait(struct throttle *t, int64_t now);
/* throttle_slow - the relay said "slow down" for this domain. */
void throttle_slow(struct throttle *t, const char *domain, int64_t now);
/* throttle_is_throttling - does this reply ask us to slow down? */
int throttle_is_throttling(int code, const char *status, const char *text);

#endif
