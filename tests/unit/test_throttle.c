/* SPDX-License-Identifier: ISC */
/*
 * test_throttle.c - sending rate limits (engine/throttle.c): which replies
 * ask us to slow down, and what slowing down does to the token buckets.
 * The clock is passed in, so each case counts the messages a bucket lets
 * go in a span of simulated milliseconds (a take tried every ms) and
 * compares with the rate it must have: the configured one, half of it
 * after a throttling reply (421, or a 4xx the rule table calls
 * sender.rate), a quarter after two, never below one a minute, a tenth of
 * the configured rate back per quiet THROTTLE_RECOVER_MS (AIMD: the rate
 * drawn over time), and only for the domain the reply was about when
 * that domain has a bucket, or the relay's when the relay has a rate.
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
    /* the texts of issue 15, as the providers write them */
    {"SES 454 Throttling failure", 454, "",
     "Throttling failure: Maximum sending rate exceeded.", 1},
    {"SES 454 Throttling failure, status 4.7.0", 454, "4.7.0",
     "Throttling failure: Maximum sending rate exceeded.", 1},
    {"Gmail 421 4.7.28", 421, "4.7.28",
     "[192.0.2.1] Our system has detected an unusual rate of unsolicited "
     "mail originating from your IP address. To protect our users from "
     "spam, mail sent from your IP address has been temporarily rate "
     "limited. Please visit https://support.google.com/mail/"
     "?p=UnsolicitedRateLimitError to review our Bulk Email Senders "
     "Guidelines.",
     1},
    {"Gmail 4.7.28 as a 450, the status alone", 450, "4.7.28",
     "Please try again later", 1},
    {"Gmail 4.7.28 in the text alone", 451, NULL,
     "4.7.28 Please try again later", 1},
    {"Microsoft 451 4.7.650", 451, "4.7.650",
     "The mail server [192.0.2.1] has been temporarily rate limited due to "
     "IP reputation. For e-mail delivery information, see "
     "https://aka.ms/postmaster (S775)",
     1},
    {"Microsoft 4.7.650, the status alone", 451, "4.7.650", "", 1},
    {"4xx try again later, too many messages", 450, "4.2.1",
     "Try again later, too many messages from your address", 1},
    {"4xx too many concurrent connections", 451, "",
     "Too many concurrent connections, try again later", 1},
    {"4xx rate limit", 450, "4.7.1", "Rate limit reached", 1},
    {"4xx with 'rate' in the text", 452, "4.3.0", "Rate limit exceeded", 1},
    {"4xx with 'throttl' in the text", 450, "4.2.0", "Throttling failure", 1},
    {"4xx throttled", 451, NULL, "You are being throttled", 1},
    {"4xx 'too many'", 451, "4.3.2", "Too many connections from your host", 1},
    {"4xx 'slow down'", 450, NULL, "please slow down", 1},
    /* a 4.7.x is not a slow-down by itself: TLS, greylisting, policy */
    {"451 4.7.0 no text", 451, "4.7.0", "", 0},
    {"454 4.7.0 TLS", 454, "4.7.0", "TLS not available due to local problem",
     0},
    {"450 4.7.1 (Yahoo deferral: reputation, not rate)", 450, "4.7.1",
     "[TSS04] Messages from 192.0.2.1 temporarily deferred", 0},
    {"a rate word of another rule's text: 'rate' alone is no rule", 451,
     "4.3.0", "separate accounting error", 0},
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
        if (throttle_take(t, domain, THROTTLE_NO_RELAY, ms) == 0)
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
        if (throttle_take(t, "example.com", THROTTLE_NO_RELAY, ms) != 0)
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
    TH_CHECK(bucket_slow(&b, 10101) == 1 && b.rate == 5,
             "bucket_slow: 10/s halved to 5/s (%g)", b.rate);
    TH_CHECK(bucket_take(&b, 10101) == 0,
             "bucket_slow: the tokens held are dropped");
    w = bucket_wait(&b, 10101);
    TH_CHECK(w >= 200 && w <= 201, "bucket_slow: the next in 200 ms (%lld)",
             (long long)w);
    n = bucket_taken(&b, 10101, 10101 + THROTTLE_RECOVER_MS);
    TH_CHECK(near(n, 25),
             "bucket_slow: 25 in the next 5 s, before a step "
             "back (%d)",
             n);
    TH_CHECK(bucket_slow(&b, 15000) == 1 && b.rate == 2.5,
             "bucket_slow twice: a quarter (%g)", b.rate);
    TH_CHECK(bucket_slow(&b, 15000 + THROTTLE_HOLD_MS - 1) == 0 &&
                 b.rate == 2.5,
             "bucket_slow: a reply within THROTTLE_HOLD_MS of the cut counts "
             "once (%g)",
             b.rate);
    for (int i = 1; i <= 20; i++)
        bucket_slow(&b, 15000 + (int64_t)i * THROTTLE_HOLD_MS);
    TH_CHECK(b.rate > 0.0166 && b.rate < 0.0167,
             "bucket_slow: never below 1 a minute (%g)", b.rate);
    w = bucket_wait(&b, 35000);
    TH_CHECK(w >= 60000 && w <= 60001,
             "bucket_slow: at the floor the next in a minute (%lld)",
             (long long)w);

    /* recovery: a tenth of the configured rate back per quiet
     * THROTTLE_RECOVER_MS, up to the configured rate */
    bucket_init(&b, 10, 1, T0);
    bucket_slow(&b, T0);
    (void)bucket_take(&b, T0 + THROTTLE_RECOVER_MS - 1);
    TH_CHECK(b.rate == 5, "recovery: nothing within the first period (%g)",
             b.rate);
    (void)bucket_take(&b, T0 + THROTTLE_RECOVER_MS);
    TH_CHECK(b.rate > 5.99 && b.rate < 6.01,
             "recovery: 5/s + a tenth of 10/s after a quiet period (%g)",
             b.rate);
    (void)bucket_take(&b, T0 + 2 * THROTTLE_RECOVER_MS - 1);
    TH_CHECK(b.rate > 5.99 && b.rate < 6.01, "recovery: one step a period (%g)",
             b.rate);
    (void)bucket_wait(&b, T0 + 4 * THROTTLE_RECOVER_MS);
    TH_CHECK(b.rate > 8.99 && b.rate < 9.01,
             "recovery: the steps a long gap earned, all of them (%g)", b.rate);
    for (int64_t ms = T0; ms <= T0 + 30 * THROTTLE_RECOVER_MS;
         ms += THROTTLE_RECOVER_MS)
        (void)bucket_wait(&b, ms);
    TH_CHECK(b.rate == 10,
             "recovery: back to the configured 10/s, no more "
             "(%g)",
             b.rate);

    /* ---- AIMD drawn over time: 100/s, throttled at 0, 7 and 14 s,
     * then quiet for 66 s; a take every ms, the rate read every 100 ms
     * ---- */
    {
        int64_t cuts[] = {0, 7000, 14000};
        size_t nc = 0;
        int above = 0, drops = 0, linear = 1, per_s = 0, worst = 0;
        int counts[80] = {0};
        double prev = 100;

        bucket_init(&b, 100, 0, T0);
        for (int64_t ms = 0; ms < 80000; ms++) {
            if (nc < 3 && ms == cuts[nc]) {
                double before = b.rate;
                bucket_slow(&b, T0 + ms);
                drops += b.rate == before * THROTTLE_CUT;
                nc++;
            }
            if (bucket_take(&b, T0 + ms))
                counts[ms / 1000]++;
            if (ms % 100 != 99)
                continue;
            above += b.rate > b.base;
            /* after the last cut: 20/s, + 10/s each quiet 5 s, to 100 */
            if (ms > 14000) {
                int64_t k = (ms - 14000) / THROTTLE_RECOVER_MS;
                double want = 20 + 10.0 * (double)k;
                if (want > 100)
                    want = 100;
                if (b.rate < want - 1e-9 || b.rate > want + 1e-9) {
                    if (linear)
                        printf("#   at %lld ms: %g/s, want %g/s\n",
                               (long long)ms, b.rate, want);
                    linear = 0;
                }
            }
            if (ms % 1000 == 999) {
                int bar = (int)(b.rate / 2.5);
                printf("# %3llds %5.1f/s %3d sent |%.*s\n",
                       (long long)(ms / 1000), b.rate, counts[ms / 1000], bar,
                       "########################################");
            }
            prev = b.rate;
        }
        (void)prev;
        TH_CHECK(drops == 3,
                 "AIMD: each throttling reply halves the rate at once (%d "
                 "of 3)",
                 drops);
        TH_CHECK(linear,
                 "AIMD: after the last cut, + a tenth of the rate per quiet "
                 "%d ms, up to the rate: linear",
                 THROTTLE_RECOVER_MS);
        TH_CHECK(above == 0, "AIMD: never above the configured rate (%d)",
                 above);
        for (int i = 0; i < 80; i++)
            if (counts[i] > worst)
                worst = counts[i];
        per_s = counts[30];
        TH_CHECK(near(per_s, 50),
                 "AIMD: the messages follow the rate: 50 in the 30th second "
                 "(%d)",
                 per_s);
        TH_CHECK(near(counts[70], 100) && worst <= 100 + 10,
                 "AIMD: 100 a second once recovered (%d), no second over R "
                 "+ burst (%d)",
                 counts[70], worst);
    }

    /* an unlimited bucket told to slow down: from 10/s, halved */
    bucket_init(&b, 0, 0, 0);
    TH_CHECK(bucket_wait(&b, 0) == 0 && bucket_taken(&b, 0, 10) == 10,
             "unlimited: never waits");
    bucket_slow(&b, 10);
    TH_CHECK(b.rate == 5, "unlimited, slowed: 5/s (%g)", b.rate);
    n = bucket_taken(&b, 10, 4010);
    TH_CHECK(near(n, 20), "unlimited, slowed: 20 in 4 s (%d)", n);

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
    throttle_slow(t, "example.com", THROTTLE_NO_RELAY, 10000);
    TH_CHECK(throttle_global_wait(t, 10000) > 0,
             "throttle_slow: nothing may go at once");
    n = taken(t, "example.com", 10000, 12000);
    TH_CHECK(near(n, 10), "throttle: after a 421, 10 in 2 s (%d)", n);
    n = taken(t, "example.org", 12000, 14000);
    TH_CHECK(near(n, 10),
             "throttle: every domain without a bucket goes at the "
             "halved global rate (%d)",
             n);
    throttle_slow(t, "example.com", THROTTLE_NO_RELAY, 14000);
    n = taken(t, "example.com", 14000, 18000);
    TH_CHECK(near(n, 10), "throttle: after a second 421, 10 in 4 s (%d)", n);
    throttle_free(t);

    /* a 421 about gmail.com slows gmail.com only */
    t = throttle_new(&l, 0);
    n = taken(t, "GMail.com", 0, 10000);
    TH_CHECK(near(n, 20), "throttle: gmail.com at its own 2/s (%d)", n);
    throttle_slow(t, "gmail.com", THROTTLE_NO_RELAY, 10000);
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
    throttle_slow(t, "example.com", THROTTLE_NO_RELAY, 1000);
    n = taken(t, "example.com", 1000, 5000);
    TH_CHECK(near(n, 20), "throttle unlimited: after a 421, 20 in 4 s (%d)", n);
    throttle_free(t);
    /* ---- a relay's own rate: 14/s through relay 0, none of its own
     * for relay 1, the global 100/s over both ---- */
    {
        struct config_relay r[2];
        int via0 = 0, via1 = 0, g = 0, e = 0;

        memset(r, 0, sizeof r);
        r[0].rate.per_second = 14;
        memset(&l, 0, sizeof l);
        l.rate.per_second = 100;
        t = throttle_new(&l, 0);
        throttle_relays(t, r, 2, 0);
        for (int64_t ms = 0; ms < 10000; ms++)
            via0 += throttle_take(t, "example.com", 0, ms) == 0;
        TH_CHECK(near(via0, 140),
                 "relay rate: 14/s through the relay sold at 14/s, whatever "
                 "the global 100/s (%d in 10 s)",
                 via0);
        (void)throttle_take(t, "example.com", 0, 10000);
        TH_CHECK(throttle_relay_wait(t, 0, 10000) > 0 &&
                     throttle_relay_wait(t, 1, 10000) == 0 &&
                     throttle_relay_wait(t, THROTTLE_NO_RELAY, 10000) == 0,
                 "relay rate: throttle_relay_wait, for the relay with a rate "
                 "only");
        /* both relays asked every ms: relay 0 at most its rate (less: its
         * token may wait for a global one the other took), relay 1 the
         * rest of the global rate */
        via0 = 0;
        for (int64_t ms = 10000; ms < 20000; ms++) {
            if (throttle_take(t, "example.com", 0, ms) == 0)
                via0++;
            else if (throttle_take(t, "example.com", 1, ms) == 0)
                via1++;
        }
        TH_CHECK(via0 >= 100 && via0 <= 141,
                 "relay rate: at most 14/s through relay 0 beside a hungry "
                 "relay 1 (%d in 10 s)",
                 via0);
        TH_CHECK(via0 + via1 >= 999 && via0 + via1 <= 1011,
                 "relay rate: relay 1 takes the rest of the global rate "
                 "(%d + %d in 10 s)",
                 via0, via1);
        /* a throttling reply through relay 0 (no domain limit): relay 0
         * halves, the global rate stays */
        TH_CHECK(throttle_slow(t, "example.com", 0, 20000) == 1,
                 "relay rate: throttle_slow cuts");
        via0 = via1 = 0;
        for (int64_t ms = 20000; ms < 24000; ms++)
            via0 += throttle_take(t, "example.com", 0, ms) == 0;
        for (int64_t ms = 24000; ms < 26000; ms++)
            via1 += throttle_take(t, "example.com", 1, ms) == 0;
        /* (the global bucket was full: 200 + its burst of 10) */
        TH_CHECK(near(via0, 28) && via1 >= 199 && via1 <= 211,
                 "relay rate: a throttling reply through it halves its rate "
                 "to 7/s (%d in 4 s), not the global (%d in 2 s)",
                 via0, via1);
        /* through relay 1 (no rate): the global rate is cut */
        throttle_slow(t, "example.com", 1, 30000);
        n = 0;
        for (int64_t ms = 30000; ms < 34000; ms++)
            n += throttle_take(t, "example.com", 1, ms) == 0;
        TH_CHECK(near(n, 200),
                 "relay rate: a throttling reply through a relay without a "
                 "rate halves the global rate (%d in 4 s)",
                 n);
        throttle_free(t);

        /* all or none: a domain held back takes nothing from the relay */
        memset(&l, 0, sizeof l);
        l.domain[0].domain = gmail;
        l.domain[0].rate.per_second = 2;
        l.ndomain = 1;
        t = throttle_new(&l, 0);
        throttle_relays(t, r, 2, 0);
        for (int64_t ms = 0; ms < 10000; ms++) {
            g += throttle_take(t, "gmail.com", 0, ms) == 0;
            e += throttle_take(t, "example.com", 0, ms) == 0;
        }
        TH_CHECK(near(g, 20) && g + e >= 139 && g + e <= 141,
                 "relay rate: the tightest wins, all or none (gmail.com %d "
                 "at 2/s, example.com %d, together the relay's 14/s)",
                 g, e);
        /* a domain with a limit of its own: its bucket is the one cut */
        throttle_slow(t, "gmail.com", 0, 10000);
        TH_CHECK(throttle_relay_wait(t, 0, 10072) == 0,
                 "relay rate: a reply about a limited domain cuts the "
                 "domain, not the relay");
        throttle_free(t);
    }
    throttle_free(NULL);
    return TH_DONE();
}
