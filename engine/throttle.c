/* SPDX-License-Identifier: ISC */
/*
 * throttle.c - token buckets (see throttle.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "throttle.h"
#include "xalloc.h"

/* a slowed bucket regains 10% of its rate per minute without throttling */
#define RECOVER_MS 60000
#define MIN_RATE (1.0 / 60)

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
    b->slowed_ms = 0;
}

static void
refill(struct bucket *b, int64_t now)
{
    if (now <= b->last_ms)
        return;
    if (b->rate < b->base && b->slowed_ms && now - b->slowed_ms >= RECOVER_MS) {
        b->rate *= 1.1;
        if (b->rate > b->base)
            b->rate = b->base;
        b->slowed_ms = now;
    }
    b->tokens += b->rate * (double)(now - b->last_ms) / 1000.0;
    /* full: the capacity, plus what one millisecond brings - the clock
     * ticks in ms, and a token that comes due between two ticks would
     * otherwise lose its overshoot (0.8% of the rate at 14/s, burst 1) */
    if (b->tokens > b->burst + b->rate / 1000.0)
        b->tokens = b->burst + b->rate / 1000.0;
    b->last_ms = now;
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

void
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
    b->rate /= 2;
    if (b->rate < MIN_RATE)
        b->rate = MIN_RATE;
    if (b->tokens > 0)
        b->tokens = 0;
    b->slowed_ms = now;
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
    free(t);
}

static struct bucket *
domain_bucket(struct throttle *t, const char *domain)
{
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

int64_t
throttle_take_provider(struct throttle *t, const char *domain,
                       const char *provider, int64_t now)
{
    struct bucket *d = domain ? domain_bucket(t, domain) : NULL;
    struct bucket *pv = provider ? provider_bucket(t, provider) : NULL;
    int64_t wg = bucket_wait(&t->global, now);
    int64_t wd = d ? bucket_wait(d, now) : 0;
    int64_t wp = pv ? bucket_wait(pv, now) : 0;

    if (wd > wg)
        wg = wd;
    if (wp > wg)
        wg = wp;
    if (wg > 0)
        return wg;
    bucket_take(&t->global, now);
    if (d)
        bucket_take(d, now);
    if (pv)
        bucket_take(pv, now);
    return 0;
}

int64_t
throttle_take(struct throttle *t, const char *domain, int64_t now)
{
    return throttle_take_provider(t, domain, NULL, now);
}

int64_t
throttle_global_wait(struct throttle *t, int64_t now)
{
    return bucket_wait(&t->global, now);
}

void
throttle_slow(struct throttle *t, const char *domain, int64_t now)
{
    struct bucket *d = domain ? domain_bucket(t, domain) : NULL;

    bucket_slow(d ? d : &t->global, now);
}

int
throttle_is_throttling(int code, const char *status, const char *text)
{
    if (code == 421)
        return 1;
    if ((code == 451 || code == 454 || code == 450) && status &&
        strncmp(status, "4.7.", 4) == 0)
        return 1;
    if (code >= 400 && code < 500 && text &&
        (strcasestr(text, "rate") || strcasestr(text, "throttl") ||
         strcasestr(text, "too many") || strcasestr(text, "slow down")))
        return 1;
    return 0;
}
