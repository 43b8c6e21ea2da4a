/* SPDX-License-Identifier: ISC */
/*
 * throttle.c - token buckets, AIMD on throttling replies (see
 * throttle.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"
#include "throttle.h"
#include "xalloc.h"

double
bucket_default_burst(double rate)
{
    double b = floor(rate / 10);

    return b < 1 ? 1 : b;
}

void
bucket_init(struct bucket *b, double rate, double burst, int64_t now)
{
    b->rate = rate;
    b->base = rate;
    b->burst = burst > 0 ? burst : bucket_default_burst(rate);
    b->tokens = b->burst;
    b->last_ms = now;
    b->quiet_ms = now;
    b->cut_ms = 0;
    b->cut = 0;
}

/* accrue - the tokens the rate brings from last_ms to `to` */
static void
accrue(struct bucket *b, int64_t to)
{
    if (to <= b->last_ms)
        return;
    b->tokens += b->rate * (double)(to - b->last_ms) / 1000.0;
    /* full: the capacity, plus what one millisecond brings - the clock
     * ticks in ms, and a token that comes due between two ticks would
     * otherwise lose its overshoot (0.8% of the rate at 14/s, burst 1) */
    if (b->tokens > b->burst + b->rate / 1000.0)
        b->tokens = b->burst + b->rate / 1000.0;
    b->last_ms = to;
}

/*
 * refill - the tokens up to now, and the steps back a slowed bucket has
 * earned meanwhile, each at its own time (the tokens before a step come
 * at the rate before it).  At most 1 / THROTTLE_RECOVER_STEP + 1 steps:
 * each adds that much of the configured rate.
 */
static void
refill(struct bucket *b, int64_t now)
{
    if (now <= b->last_ms)
        return;
    while (b->rate < b->base && b->quiet_ms + THROTTLE_RECOVER_MS <= now) {
        int64_t at = b->quiet_ms + THROTTLE_RECOVER_MS;
        accrue(b, at);
        b->rate += b->base * THROTTLE_RECOVER_STEP;
        if (b->rate > b->base)
            b->rate = b->base;
        b->quiet_ms = at;
    }
    accrue(b, now);
}

int64_t
bucket_wait(struct bucket *b, int64_t now)
{
    if (b->rate <= 0)
        return 0;
    refill(b, now);
    if (b->tokens >= 1)
        return 0;
    return (int64_t)((1 - b->tokens) * 1000.0 / b->rate) + 1;
}

int
bucket_take(struct bucket *b, int64_t now)
{
    if (b->rate <= 0)
        return 1;
    if (bucket_wait(b, now) > 0)
        return 0;
    b->tokens -= 1;
    return 1;
}

int
bucket_slow(struct bucket *b, int64_t now)
{
    if (b->rate <= 0) {
        /* unlimited until the relay complained: start from 10/s */
        b->rate = b->base = 10;
        b->burst = 10;
        b->tokens = 0;
        b->last_ms = now;
    }
    refill(b, now);
    b->quiet_ms = now > b->last_ms ? now : b->last_ms;
    if (b->cut && now - b->cut_ms < THROTTLE_HOLD_MS)
        return 0;
    b->cut = 1;
    b->cut_ms = now;
    b->rate *= THROTTLE_CUT;
    if (b->rate < THROTTLE_MIN_RATE)
        b->rate = THROTTLE_MIN_RATE;
    if (b->tokens > 0)
        b->tokens = 0;
    return 1;
}

struct domain_bucket {
    char *domain;
    struct bucket b;
};

struct throttle {
    struct domain_bucket *prov; /* [limits] provider.NAME, by name */
    size_t nprov;
    struct bucket global;
    struct domain_bucket *dom;
    size_t ndom;
    struct bucket *relay; /* rate 0: the relay has none of its own */
    size_t nrelay;
};

struct throttle *
throttle_new(const struct config_limits *l, int64_t now)
{
    struct throttle *t = xcalloc(1, sizeof *t);

    bucket_init(&t->global, l->rate.per_second, l->burst, now);
    t->dom = xcalloc(l->ndomain ? l->ndomain : 1, sizeof *t->dom);
    for (size_t i = 0; i < l->ndomain; i++) {
        t->dom[i].domain = xstrdup(l->domain[i].domain);
        bucket_init(&t->dom[i].b, l->domain[i].rate.per_second, 0, now);
    }
    t->ndom = l->ndomain;
    t->prov =
        xcalloc(l->nprovider_rate ? l->nprovider_rate : 1, sizeof *t->prov);
    for (size_t i = 0; i < l->nprovider_rate; i++) {
        t->prov[i].domain = xstrdup(l->provider_rate[i].name);
        bucket_init(&t->prov[i].b, l->provider_rate[i].rate.per_second, 0, now);
    }
    t->nprov = l->nprovider_rate;
    return t;
}

void
throttle_relays(struct throttle *t, const struct config_relay *r, size_t n,
                int64_t now)
{
    free(t->relay);
    t->relay = xcalloc(n ? n : 1, sizeof *t->relay);
    for (size_t i = 0; i < n; i++)
        bucket_init(&t->relay[i], r[i].rate.per_second, 0, now);
    t->nrelay = n;
}

void
throttle_free(struct throttle *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nprov; i++)
        free(t->prov[i].domain);
    free(t->prov);
    for (size_t i = 0; i < t->ndom; i++)
        free(t->dom[i].domain);
    free(t->dom);
    free(t->relay);
    free(t);
}

static struct bucket *
domain_bucket(struct throttle *t, const char *domain)
{
    if (domain == NULL)
        return NULL;
    for (size_t i = 0; i < t->ndom; i++)
        if (strcasecmp(t->dom[i].domain, domain) == 0)
            return &t->dom[i].b;
    return NULL;
}

static struct bucket *
provider_bucket(struct throttle *t, const char *provider)
{
    for (size_t i = 0; i < t->nprov; i++)
        if (strcmp(t->prov[i].domain, provider) == 0)
            return &t->prov[i].b;
    return NULL;
}

static struct bucket *
relay_bucket(struct throttle *t, size_t relay)
{
    return relay < t->nrelay ? &t->relay[relay] : NULL;
}

int64_t
throttle_take_provider(struct throttle *t, const char *domain,
                       const char *provider, size_t relay, int64_t now)
{
    struct bucket *b[4] = {&t->global, domain_bucket(t, domain),
                           relay_bucket(t, relay),
                           provider ? provider_bucket(t, provider) : NULL};
    int64_t wait = 0;

    for (size_t i = 0; i < 4; i++) {
        int64_t w = b[i] ? bucket_wait(b[i], now) : 0;
        if (w > wait)
            wait = w;
    }
    if (wait > 0)
        return wait;
    for (size_t i = 0; i < 4; i++)
        if (b[i])
            bucket_take(b[i], now);
    return 0;
}

int64_t
throttle_take(struct throttle *t, const char *domain, size_t relay, int64_t now)
{
    return throttle_take_provider(t, domain, NULL, relay, now);
}

int64_t
throttle_relay_wait(struct throttle *t, size_t relay, int64_t now)
{
    struct bucket *r = relay_bucket(t, relay);

    return r ? bucket_wait(r, now) : 0;
}

int64_t
throttle_global_wait(struct throttle *t, int64_t now)
{
    return bucket_wait(&t->global, now);
}

int
throttle_slow_provider(struct throttle *t, const char *domain,
                       const char *provider, size_t relay, int64_t now)
{
    struct bucket *d = provider ? provider_bucket(t, provider) : NULL;
    struct bucket *r = relay_bucket(t, relay);

    if (d == NULL)
        d = domain_bucket(t, domain);
    if (d == NULL && r != NULL && r->base > 0)
        d = r;
    return bucket_slow(d ? d : &t->global, now);
}

int
throttle_slow(struct throttle *t, const char *domain, size_t relay, int64_t now)
{
    return throttle_slow_provider(t, domain, NULL, relay, now);
}

int
throttle_is_throttling(int code, const char *status, const char *text)
{
    char both[16 + RULES_TEXT_MAX];
    const struct rule *r;
    int n;

    if (code == 421)
        return 1;
    if (code < 400 || code >= 500)
        return 0;
    /* the status with the text: "4.7.28" alone says rate at Gmail */
    n = snprintf(both, sizeof both, "%s %s", status ? status : "",
                 text ? text : "");
    if (n < 0)
        return 0;
    if ((size_t)n >= sizeof both)
        n = (int)sizeof both - 1;
    r = rules_match(both, (size_t)n);
    return r != NULL && r->fault == RULE_SENDER && strcmp(r->key, "rate") == 0;
}
