/* SPDX-License-Identifier: ISC */
/*
 * report.c - what `campaign report` computes of the database's counts
 * (see report.h): the rates and their denominators, the funnel, the
 * receiving providers' groups and rates, the opens and clicks by hour
 * and by day.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#include "report.h"

void
report_rate_set(struct report_rate *r, const char *key, const char *label,
                const char *of, long numerator, long denominator)
{
    r->key = key;
    r->label = label;
    r->of = of;
    r->numerator = numerator;
    r->denominator = denominator;
}

void
report_rates_from(const struct store_rate_counts *c, struct report_rates *r)
{
    report_rate_set(&r->rate[REPORT_RATE_BOUNCE], "bounce_rate", "BOUNCE%",
                    REPORT_OF_ANSWERED, c->bounced, c->delivered + c->bounced);
    report_rate_set(&r->rate[REPORT_RATE_COMPLAINT], "complaint_rate",
                    "COMPLAINT%", REPORT_OF_DELIVERED, c->complained,
                    c->delivered);
    report_rate_set(&r->rate[REPORT_RATE_UNSUBSCRIBE], "unsubscribe_rate",
                    "UNSUB%", REPORT_OF_DELIVERED, c->unsubscribed,
                    c->delivered);
    report_rate_set(&r->rate[REPORT_RATE_OPEN], "open_rate", "OPEN%",
                    REPORT_OF_DELIVERED, c->opened, c->delivered);
    report_rate_set(&r->rate[REPORT_RATE_CLICK], "click_rate", "CLICK%",
                    REPORT_OF_DELIVERED, c->clicked, c->delivered);
}

int
report_rates(struct store *st, int64_t campaign, struct report_rates *r,
             struct err *e)
{
    struct store_rate_counts c;

    if (store_report_counts(st, campaign, &c, e) == -1)
        return -1;
    report_rates_from(&c, r);
    return 0;
}

double
report_rate_value(const struct report_rate *r)
{
    double scale = pow(10, REPORT_RATE_DIGITS);

    if (r->denominator <= 0)
        return -1;
    return round((double)r->numerator / (double)r->denominator * scale) / scale;
}

double
report_rate_percent(const struct report_rate *r)
{
    if (r->denominator <= 0)
        return -1;
    return 100.0 * (double)r->numerator / (double)r->denominator;
}

void
report_funnel_from(long recipients, long attempted,
                   const struct store_rate_counts *c, struct report_funnel *f)
{
    struct report_rate *s = f->step;

    report_rate_set(&s[REPORT_STEP_RECIPIENTS], "recipients", "RECIPIENTS",
                    NULL, recipients, recipients);
    report_rate_set(&s[REPORT_STEP_SENT], "sent", "SENT", "recipients",
                    attempted, recipients);
    report_rate_set(&s[REPORT_STEP_ACCEPTED], "accepted", "ACCEPTED", "sent",
                    c->delivered, attempted);
    report_rate_set(&s[REPORT_STEP_OPENED], "opened", "OPENED", "accepted",
                    c->opened, c->delivered);
    report_rate_set(&s[REPORT_STEP_CLICKED], "clicked", "CLICKED", "accepted",
                    c->clicked, c->delivered);
}

void
report_provider_rates(const struct store_provider_row *p,
                      struct report_rate r[REPORT_PRATE_N])
{
    report_rate_set(&r[REPORT_PRATE_DELIVERY], "delivery_rate", "DELIVERED%",
                    REPORT_OF_SENT, p->delivered, p->attempted);
    report_rate_set(&r[REPORT_PRATE_DEFERRAL], "deferral_rate", "DEFERRED%",
                    REPORT_OF_SENT, p->deferred, p->attempted);
    report_rate_set(&r[REPORT_PRATE_BOUNCE], "bounce_rate", "BOUNCE%",
                    REPORT_OF_ANSWERED, p->bounced, p->delivered + p->bounced);
    report_rate_set(&r[REPORT_PRATE_OPEN], "open_rate", "OPEN%",
                    REPORT_OF_DELIVERED, p->opened, p->delivered);
    report_rate_set(&r[REPORT_PRATE_CLICK], "click_rate", "CLICK%",
                    REPORT_OF_DELIVERED, p->clicked, p->delivered);
}

#define HOUR 3600
#define DAY 86400
#define BUCKETS (REPORT_HOURLY + REPORT_DAYS)

/* bucket_start - the start of bucket i of a timeline from start */
static int64_t
bucket_start(int64_t start, size_t i)
{
    if (i < REPORT_HOURLY)
        return start + (int64_t)i * HOUR;
    return start + (int64_t)REPORT_HOURLY * HOUR +
           (int64_t)(i - REPORT_HOURLY) * DAY;
}

void
report_timeline_init(struct report_timeline *t, int64_t start_s)
{
    memset(t, 0, sizeof *t);
    t->start = start_s > 0 ? start_s - start_s % HOUR : 0;
}

void
report_timeline_add(struct report_timeline *t, int64_t at_ms, int click,
                    int machine)
{
    int64_t d = at_ms / 1000 - t->start;
    struct report_bucket *b;
    size_t i;

    if (d < 0)
        i = 0; /* before the start: a clock's skew */
    else if (d < (int64_t)REPORT_HOURLY * HOUR)
        i = (size_t)(d / HOUR);
    else if ((d - (int64_t)REPORT_HOURLY * HOUR) / DAY < REPORT_DAYS)
        i = REPORT_HOURLY + (size_t)((d - (int64_t)REPORT_HOURLY * HOUR) / DAY);
    else
        i = BUCKETS - 1; /* later than the last day: counted in it */
    /* the buckets up to i exist, the empty ones too */
    for (; t->n <= i; t->n++) {
        t->b[t->n].at = bucket_start(t->start, t->n);
        t->b[t->n].hours = t->n < REPORT_HOURLY ? 1 : 24;
    }
    b = &t->b[i];
    if (click)
        *(machine ? &b->machine_clicks : &b->clicks) += 1;
    else
        *(machine ? &b->machine_opens : &b->opens) += 1;
}

/* timeline_cb - store_report_event_times into the timeline */
static int
timeline_cb(int64_t at_ms, int click, int machine, void *arg)
{
    report_timeline_add(arg, at_ms, click, machine);
    return 0;
}

int
report_timeline(struct store *st, int64_t campaign, int64_t started_s,
                struct report_timeline *t, struct err *e)
{
    if (started_s <= 0) {
        int64_t first;
        if (store_report_first_event(st, campaign, &first, e) == -1)
            return -1;
        started_s = first / 1000;
    }
    report_timeline_init(t, started_s);
    if (started_s <= 0)
        return 0; /* no event */
    return store_report_event_times(st, campaign, timeline_cb, t, e);
}

/* The groups of report_providers: an open-addressing table of names. */
struct group {
    char *name;
    struct store_provider_row n;
};
struct groups {
    struct group *g; /* cap slots, NULL name: free */
    size_t cap, n;
    struct store_provider_row rest; /* past REPORT_GROUPS_MAX */
    report_provider_fn fn;
    void *fnarg;
};

/* hash - FNV-1a */
static size_t
hash(const char *s)
{
    size_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void
sum(struct store_provider_row *to, const struct store_provider_row *r)
{
    to->recipients += r->recipients;
    to->attempted += r->attempted;
    to->delivered += r->delivered;
    to->deferred += r->deferred;
    to->bounced += r->bounced;
    to->opened += r->opened;
    to->clicked += r->clicked;
}

/* slot - name's slot in g (its own, or the free one it would take) */
static struct group *
slot(struct group *g, size_t cap, const char *name)
{
    size_t i = hash(name) & (cap - 1);

    while (g[i].name != NULL && strcmp(g[i].name, name) != 0)
        i = (i + 1) & (cap - 1);
    return &g[i];
}

static int
group_cb(const struct store_provider_row *r, void *arg)
{
    struct groups *gs = arg;
    const char *name = REPORT_GROUP_FORGOTTEN, *p;
    struct group *g;

    if (r->provider != NULL)
        name = (p = gs->fn(r->provider, gs->fnarg)) != NULL ? p : r->provider;
    g = slot(gs->g, gs->cap, name);
    if (g->name == NULL) {
        if (gs->n >= REPORT_GROUPS_MAX) {
            sum(&gs->rest, r); /* bounded: the rest */
            return 0;
        }
        if (2 * (gs->n + 1) > gs->cap) { /* at most half full */
            size_t cap = gs->cap * 2;
            struct group *ng = xcalloc(cap, sizeof *ng);
            for (size_t i = 0; i < gs->cap; i++)
                if (gs->g[i].name != NULL)
                    *slot(ng, cap, gs->g[i].name) = gs->g[i];
            free(gs->g);
            gs->g = ng;
            gs->cap = cap;
            g = slot(gs->g, gs->cap, name);
        }
        g->name = xstrdup(name);
        gs->n++;
    }
    sum(&g->n, r);
    return 0;
}

/* larger - the larger group first, then by name */
static int
larger(const void *a, const void *b)
{
    const struct group *x = *(const struct group *const *)a;
    const struct group *y = *(const struct group *const *)b;

    if (x->n.recipients != y->n.recipients)
        return x->n.recipients > y->n.recipients ? -1 : 1;
    return strcmp(x->name, y->name);
}

int
report_providers(struct store *st, int64_t campaign, report_provider_fn fn,
                 void *fnarg, size_t k, report_group_cb cb, void *arg,
                 struct err *e)
{
    struct groups gs;
    struct group **order;
    size_t n = 0;
    int rc = 0, others = 0;

    memset(&gs, 0, sizeof gs);
    gs.cap = 64;
    gs.g = xcalloc(gs.cap, sizeof *gs.g);
    gs.fn = fn;
    gs.fnarg = fnarg;
    if (store_report_domains(st, campaign, group_cb, &gs, e) == -1)
        rc = -1;
    order = xcalloc(gs.n + 1, sizeof *order);
    for (size_t i = 0; i < gs.cap; i++)
        if (gs.g[i].name != NULL)
            order[n++] = &gs.g[i];
    qsort(order, n, sizeof *order, larger);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i < k) {
            order[i]->n.provider = order[i]->name;
            if (cb(&order[i]->n, arg) != 0)
                break;
        } else {
            sum(&gs.rest, &order[i]->n);
            others = 1;
        }
    }
    if (rc == 0 && (others || gs.rest.recipients > 0)) {
        gs.rest.provider = REPORT_GROUP_OTHER;
        cb(&gs.rest, arg);
    }
    for (size_t i = 0; i < gs.cap; i++)
        free(gs.g[i].name);
    free(gs.g);
    free(order);
    return rc;
}
