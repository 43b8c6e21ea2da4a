/* SPDX-License-Identifier: ISC */
/*
 * throttle.h - sending rate limits as token buckets.
 *
 * Pure: the clock is passed in (milliseconds), so the behaviour is
 * exactly testable.  A bucket of rate R and capacity B lets at most
 * B + R*T messages go in any span of T seconds, and R*T in the long run:
 * with the default capacity, 10% of R a second (at least 1), no second
 * carries more than 1.1 R, where a capacity of a whole second's worth let
 * the first second carry 2 R (399 messages in one second at 200/s).
 *
 * The buckets: one for the global rate ([limits] rate, --rate), one per
 * configured recipient domain ([limits] domain.gmail.com = 20/s), one
 * per relay with a rate of its own ([relay] rate = 14/s: what the relay
 * sells).  A message takes a token from each bucket that applies - the
 * global one, its domain's, the relay's it goes through - all or none,
 * so the tightest wins.
 *
 * AIMD.  A throttling reply (throttle_is_throttling: 421, or a 4xx whose
 * text the rule table, engine/classify.rules, calls sender.rate) cuts
 * the rate of the bucket concerned by THROTTLE_CUT (multiplicative
 * decrease; replies within THROTTLE_HOLD_MS of a cut count once: they
 * answer what was in flight when the first came), never below
 * THROTTLE_MIN_RATE; after THROTTLE_RECOVER_MS with no throttling reply
 * the rate gains THROTTLE_RECOVER_STEP of the configured rate, and so on
 * each quiet period, up to the configured rate and never above it
 * (additive increase).  From half the rate, back to the full rate in
 * five steps: 25 seconds of quiet.
 */
#ifndef CAMPAIGN_THROTTLE_H
#define CAMPAIGN_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* AIMD (above) */
#define THROTTLE_CUT 0.5             /* the rate is multiplied by this */
#define THROTTLE_HOLD_MS 1000        /* replies this close to a cut: one */
#define THROTTLE_RECOVER_MS 5000     /* quiet that earns one step back */
#define THROTTLE_RECOVER_STEP 0.1    /* of the configured rate a step */
#define THROTTLE_MIN_RATE (1.0 / 60) /* one a minute */
/* throttle_take's relay when the message goes through none in
 * particular */
#define THROTTLE_NO_RELAY ((size_t)-1)

struct bucket {
    double rate;  /* tokens per second; 0: unlimited */
    double base;  /* the configured rate, to recover to */
    double burst; /* capacity */
    double tokens;
    int64_t last_ms;
    int64_t quiet_ms; /* slowed: since when no throttling reply, or the
                         last step back */
    int64_t cut_ms;   /* the last cut */
    int cut;          /* cut_ms is set */
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
/* bucket_slow - a throttling reply: cut the rate (AIMD, above); an
 * unlimited bucket starts from 10/s.  Returns 1 when cut, 0 when within
 * THROTTLE_HOLD_MS of the last cut (the quiet restarts either way). */
int bucket_slow(struct bucket *b, int64_t now);

struct throttle;

/*
 * throttle_take_provider - throttle_take (below), and the bucket of the
 * recipient domain's provider (provider.h) when [limits] provider.NAME gives it
 * a rate: the global, the domain's, the relay's and the provider's tokens are
 * taken together or not at all, so the tightest wins.  provider NULL: none
 * (throttle_take).
 */
int64_t throttle_take_provider(struct throttle *t, const char *domain,
                               const char *provider, size_t relay, int64_t now);
/* throttle_new - from [limits]; the clock starts at now. */
struct throttle *throttle_new(const struct config_limits *l, int64_t now);
/* throttle_relays - a bucket for each of the n relays (their rate; 0:
 * none), numbered as in r[]; replaces any set before. */
void throttle_relays(struct throttle *t, const struct config_relay *r, size_t n,
                     int64_t now);
void throttle_free(struct throttle *t);
/*
 * throttle_take - may a message to this recipient domain go now through
 * this relay (an index of throttle_relays, or THROTTLE_NO_RELAY)?  Takes
 * tokens from the global, the domain's and the relay's bucket (all or
 * none).  Returns 0 when it may, else the ms to wait.
 */
int64_t throttle_take(struct throttle *t, const char *domain, size_t relay,
                      int64_t now);
/* throttle_relay_wait - ms until relay's own rate allows a message (0:
 * now, or it has none), taking nothing. */
int64_t throttle_relay_wait(struct throttle *t, size_t relay, int64_t now);
/* throttle_global_wait - ms until the global rate allows a message (0:
 * now), taking nothing: the caller asks its source for a message only
 * when one could go. */
int64_t throttle_global_wait(struct throttle *t, int64_t now);
/*
 * throttle_slow - relay (an index, or THROTTLE_NO_RELAY) said "slow down"
 * about a message to domain: the bucket concerned is cut (bucket_slow) -
 * the domain's when it has a limit of its own, else the relay's when it
 * has a rate, else the global one.  Returns bucket_slow's answer.
 */
int throttle_slow(struct throttle *t, const char *domain, size_t relay,
                  int64_t now);
/* throttle_slow_provider - throttle_slow, where the provider's bucket
 * (a provider with [limits] provider.NAME) is the one concerned first:
 * Gmail's "421 4.7.28" is about all of Google's recipients */
int throttle_slow_provider(struct throttle *t, const char *domain,
                           const char *provider, size_t relay, int64_t now);
/* throttle_is_throttling - does this reply ask us to slow down?  A 421
 * (RFC 5321 3.8: the server closes; what it sent is deferred), or a 4xx
 * whose status and text the rule table calls sender.rate (rules.h).  A
 * 5xx never: that is a refusal, judged by reply.h. */
int throttle_is_throttling(int code, const char *status, const char *text);

#endif
