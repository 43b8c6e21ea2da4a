/* SPDX-License-Identifier: ISC */
/*
 * test_throttle.c - sending rate limits (engine/throttle.c): which replies
 * ask us to slow down, and what slowing down does to the token buckets.
 * The clock is passed in, so each case counts the messages a bucket lets
 * go in a span of simulated milliseconds (a take tried every ms) and
 * compares with the rate it must have: the configured one, half of it
 * after a throttling reply (421, 4.7.x, "rate", ...), a quarter after
 * two, never below one a minute, 10% back per quiet minute, and only for
 * the domain the reply was about when that domain has a bucket.
 */
#include <stdlib.h>

#include "th.h"

#include "throttle.h"

/* a clock reading past 0 */
#define T0 1000000

static const struct {
    const char *name;
    int code;
    const char *status;
    const char *text;
    int want;
} replies[] = {
    {"421 closing (smtp_server.py)", 421, "4.7.0", "too busy, closing", 1},
    {"421 of smtp-sink", 421, "4.0.0", "Server closing connection", 1},
    {"421 without status or text", 421, NULL, NULL, 1},
    {"421 with empty status and text", 421, "", "", 1},
    {"451 4.7.1 (Gmail rate limit)", 451, "4.7.1",
     "Our system has detected an unusual rate of unsolicited mail", 1},
    {"451 4.7.0 no text", 451, "4.7.0", "", 1},
    {"454 4.7.0", 454, "4.7.0", "TLS not available due to local problem", 1},
    {"450 4.7.1 (Yahoo deferral)", 450, "4.7.1",
     "[TSS04] Messages from 192.0.2.1 temporarily deferred", 1},
    {"4xx with 'rate' in the text", 452, "4.3.0", "Rate limit exceeded", 1},
    {"4xx with 'throttl' in the text", 450, "4.2.0", "Throttling failure", 1},
    {"4xx 'too many'", 451, "4.3.2", "Too many connections from your host", 1},
    {"4xx 'slow down'", 450, NULL, "please slow down", 1},
    {"greylisting is not throttling", 450, "4.2.0",
     "<x>: Recipient address rejected: Greylisted", 0},
    {"451 4.2.0 try again later", 451, "4.2.0", "try again later", 0},
    {"451 4.3.0 local problem", 451, "4.3.0", "Temporary local problem", 0},
    {"452 4.7.1: not a code of the 4.7.x rule", 452, "4.7.1", "full", 0},
    {"5xx with 'rate' is a refusal, not a slow-down", 550, "5.7.1",
     "rate limited", 0},
    {"250", 250, "2.0.0", "OK", 0},
};

/* taken - messages a take every ms lets go in [from, to) */
static int
taken(struct throttle *t, const char *domain, int64_t from, int64_t to)
{
    int n = 0;

    for (int64_t ms = from; ms < to; ms++)
        if (throttle_take(t, domain, ms) == 0)
            n++;
    return n;
}

/* bucket_taken - the same for one bucket */
static int
bucket_taken(struct bucket *b, int64_t from, int64_t to)
{
    int n = 0;

    for (int64_t ms = from; ms < to; ms++)
        n += bucket_take(b, ms);
    return n;
}

/*
 * paced - a throttle of one global rate (per_second, default burst) asked
 * for a message every ms of span_ms from t = 0: the most messages let go
 * in any window_ms (a sliding window over the times they went), and the
 * total in *total
 */
static int
paced(double per_second, int64_t span_ms, int64_t window_ms, int *total)
{
    struct config_limits l;
    struct throttle *t;
    int64_t *at = NULL;
    size_t n = 0, cap = 0, lo = 0;
    int most = 0;

    memset(&l, 0, sizeof l);
    l.rate.per_second = per_second;
    t = throttle_new(&l, 0);
    for (int64_t ms = 0; ms < span_ms; ms++) {
        if (throttle_take(t, "example.com", ms) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            at = realloc(at, cap * sizeof *at);
        }
        at[n++] = ms;
        while (at[lo] <= ms - window_ms)
            lo++;
        if ((int)(n - lo) > most)
            most = (int)(n - lo);
    }
    throttle_free(t);
    free(at);
    *total = (int)n;
    return most;
}

/* near - got is want give or take one (a token held at the span's start,
 * or one due at its very end) */
static int
near(int got, int want)
{
    return got >= want - 1 && got <= want + 1;
}

int
main(void)
{
    struct config_limits l;
    struct throttle *t;
    struct bucket b;
    char gmail[] = "gmail.com";
    int n;
    int64_t w;

    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++)
        TH_CHECK(throttle_is_throttling(replies[i].code, replies[i].status,
                                        replies[i].text) == replies[i].want,
                 "is_throttling: %s -> %d", replies[i].name, replies[i].want);

    /* ---- pacing: no window carries more than R + burst, and the long
     * run is R (issue 15: 399 in the first second at 200/s) ---- */
    {
        static const struct {
            const char *name;
            double per_second;
            int64_t span_ms, window_ms;
            int per_window; /* R in the window's unit */
        } pace[] = {
            {"200/s", 200, 60000, 1000, 200},
            {"14/s (a relay sold at 14/s)", 14, 60000, 1000, 14},
            {"3000/m", 50, 600000, 60000, 3000},
            {"100000/h", 100000.0 / 3600, 3 * 3600000, 3600000, 100000},
        };
        for (size_t i = 0; i < sizeof pace / sizeof pace[0]; i++) {
            int total, most, burst;
            double want = pace[i].per_second * (double)pace[i].span_ms / 1000;
            burst = (int)bucket_default_burst(pace[i].per_second);
            most = paced(pace[i].per_second, pace[i].span_ms, pace[i].window_ms,
                         &total);
            TH_CHECK(burst >= 1 && burst <= pace[i].per_second / 10 + 1e-9 +
                                                (pace[i].per_second < 10),
                     "%s: the default burst is 10%% of the rate a second, at "
                     "least 1 (%d)",
                     pace[i].name, burst);
            TH_CHECK(most <= pace[i].per_window + burst,
                     "%s: no window of its unit carries more than R + burst "
                     "(%d, bound %d)",
                     pace[i].name, most, pace[i].per_window + burst);
            /* the issue asks 2%; the clock is exact here, so 0.5% */
            TH_CHECK(total >= want * 0.995 && total <= want * 1.005,
                     "%s: the long run within 0.5%% of the rate (%d of %.0f)",
                     pace[i].name, total, want);
        }
    }

    /* ---- one bucket ---- */
    bucket_init(&b, 10, 1, 0);
    TH_CHECK(bucket_take(&b, 0) == 1, "bucket 10/s: the first token at once");
    TH_CHECK(bucket_take(&b, 0) == 0, "bucket 10/s: burst 1, no second");
    w = bucket_wait(&b, 0);
    TH_CHECK(w >= 100 && w <= 101, "bucket 10/s: the next in 100 ms (%lld)",
             (long long)w);
    TH_CHECK(bucket_take(&b, 99) == 0 && bucket_take(&b, 100) == 1,
             "bucket 10/s: not at 99 ms, at 100 ms");
    n = bucket_taken(&b, 101, 10101);
    TH_CHECK(near(n, 100), "bucket 10/s: 100 in 10 s (%d)", n);
    bucket_slow(&b, 10101);
    TH_CHECK(b.rate == 5, "bucket_slow: 10/s halved to 5/s (%g)", b.rate);
    TH_CHECK(bucket_take(&b, 10101) == 0,
             "bucket_slow: the tokens held are dropped");
    w = bucket_wait(&b, 10101);
    TH_CHECK(w >= 200 && w <= 201, "bucket_slow: the next in 200 ms (%lld)",
             (long long)w);
    n = bucket_taken(&b, 10101, 20101);
    TH_CHECK(near(n, 50), "bucket_slow: 50 in the next 10 s (%d)", n);
    bucket_slow(&b, 20101);
    TH_CHECK(b.rate == 2.5, "bucket_slow twice: a quarter (%g)", b.rate);
    for (int i = 0; i < 20; i++)
        bucket_slow(&b, 20101);
    TH_CHECK(b.rate > 0.0166 && b.rate < 0.0167,
             "bucket_slow: never below 1 a minute (%g)", b.rate);
    w = bucket_wait(&b, 20101);
    TH_CHECK(w >= 60000 && w <= 60001,
             "bucket_slow: at the floor the next in a minute (%lld)",
             (long long)w);

    /* recovery: 10% of the rate back per quiet minute, up to the base
     * (the clock starts past 0: 0 is "never slowed") */
    bucket_init(&b, 10, 1, T0);
    bucket_slow(&b, T0);
    (void)bucket_take(&b, T0 + 59999);
    TH_CHECK(b.rate == 5, "recovery: nothing within the first minute (%g)",
             b.rate);
    (void)bucket_take(&b, T0 + 60000);
    TH_CHECK(b.rate > 5.49 && b.rate < 5.51,
             "recovery: 5/s + 10%% after a quiet minute (%g)", b.rate);
    (void)bucket_take(&b, T0 + 60000 + 59999);
    TH_CHECK(b.rate > 5.49 && b.rate < 5.51, "recovery: one step a minute (%g)",
             b.rate);
    for (int64_t ms = T0 + 120000; ms <= T0 + 60000 * 30; ms += 60000)
        (void)bucket_wait(&b, ms);
    TH_CHECK(b.rate == 10,
             "recovery: back to the configured 10/s, no more "
             "(%g)",
             b.rate);

    /* an unlimited bucket told to slow down: from 10/s, halved */
    bucket_init(&b, 0, 0, 0);
    TH_CHECK(bucket_wait(&b, 0) == 0 && bucket_taken(&b, 0, 10) == 10,
             "unlimited: never waits");
    bucket_slow(&b, 10);
    TH_CHECK(b.rate == 5, "unlimited, slowed: 5/s (%g)", b.rate);
    n = bucket_taken(&b, 10, 10010);
    TH_CHECK(near(n, 50), "unlimited, slowed: 50 in 10 s (%d)", n);

    /* ---- the throttle: a global rate and a gmail.com bucket ---- */
    memset(&l, 0, sizeof l);
    l.rate.per_second = 10;
    l.burst = 1;
    l.domain[0].domain = gmail;
    l.domain[0].rate.per_second = 2;
    l.ndomain = 1;
    t = throttle_new(&l, 0);
    n = taken(t, "example.com", 0, 10000);
    TH_CHECK(near(n, 100), "throttle 10/s: 100 in 10 s (%d)", n);
    /* a 421 for example.com (no bucket of its own): the global rate */
    TH_CHECK(throttle_is_throttling(421, "4.7.0", "too busy"), "421 throttles");
    throttle_slow(t, "example.com", 10000);
    TH_CHECK(throttle_global_wait(t, 10000) > 0,
             "throttle_slow: nothing may go at once");
    n = taken(t, "example.com", 10000, 20000);
    TH_CHECK(near(n, 50), "throttle: after a 421, 50 in 10 s (%d)", n);
    n = taken(t, "example.org", 20000, 30000);
    TH_CHECK(near(n, 50),
             "throttle: every domain without a bucket goes at the "
             "halved global rate (%d)",
             n);
    throttle_slow(t, "example.com", 30000);
    n = taken(t, "example.com", 30000, 40000);
    TH_CHECK(near(n, 25), "throttle: after a second 421, 25 in 10 s (%d)", n);
    throttle_free(t);

    /* a 421 about gmail.com slows gmail.com only */
    t = throttle_new(&l, 0);
    n = taken(t, "GMail.com", 0, 10000);
    TH_CHECK(near(n, 20), "throttle: gmail.com at its own 2/s (%d)", n);
    throttle_slow(t, "gmail.com", 10000);
    n = taken(t, "gmail.com", 10000, 20000);
    TH_CHECK(near(n, 10), "throttle: gmail.com halved to 1/s (%d)", n);
    n = taken(t, "example.com", 20000, 30000);
    TH_CHECK(near(n, 100), "throttle: the others keep 10/s (%d)", n);
    throttle_free(t);

    /* no rate configured: unlimited until a 421, then 5/s */
    memset(&l, 0, sizeof l);
    t = throttle_new(&l, 0);
    n = taken(t, "example.com", 0, 1000);
    TH_CHECK(n == 1000, "throttle unlimited: one every ms (%d)", n);
    throttle_slow(t, "example.com", 1000);
    n = taken(t, "example.com", 1000, 11000);
    TH_CHECK(near(n, 50), "throttle unlimited: after a 421, 50 in 10 s (%d)",
             n);
    throttle_free(t);
    throttle_free(NULL);
    return TH_DONE();
}
