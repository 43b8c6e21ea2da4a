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
report_provider_rates(const struct report_group *p,
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
    report_timeline_add_n(t, at_ms, click, machine, 1);
}

void
report_timeline_add_n(struct report_timeline *t, int64_t at_ms, int click,
                      int machine, long n)
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
        *(machine ? &b->machine_clicks : &b->clicks) += n;
    else
        *(machine ? &b->machine_opens : &b->opens) += n;
}

/* timeline_cb - store_report_event_times into the timeline */
static int
timeline_cb(int64_t at_ms, int click, int machine, long n, void *arg)
{
    report_timeline_add_n(arg, at_ms, click, machine, n);
    return 0;
}

int
report_timeline(struct store *st, int64_t campaign, int64_t started_s,
                struct report_timeline *t, struct err *e)
{
    if (started_s <= 0) {
        int64_t first;
        int found = store_report_first_event(st, campaign, &first, e);
        if (found == -1)
            return -1;
        report_timeline_init(t, first / 1000);
        if (found == 0)
            return 0; /* no event */
    } else
        report_timeline_init(t, started_s);
    return store_report_event_times(st, campaign, timeline_cb, t, e);
}

int
report_handed(const struct store_recipient *r)
{
    static const char *const answered[] = {"sent", "bounced", "deferred",
                                           "expired", "uncertain"};

    for (size_t i = 0; i < sizeof answered / sizeof *answered; i++)
        if (strcmp(r->state, answered[i]) == 0)
            return 1;
    if (r->was_uncertain > 0)
        return 1;
    return (strcmp(r->state, "failed") == 0 ||
            strcmp(r->state, "cancelled") == 0) &&
           r->code > 0;
}

/* A grouping of report_groups: an open-addressing table of names. */
struct slot {
    char *name;
    struct report_group n;
};
struct groups {
    struct slot *g; /* cap slots, NULL name: free */
    size_t cap, n;
    struct report_group rest; /* past REPORT_GROUPS_MAX */
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
sum(struct report_group *to, const struct report_group *r)
{
    to->recipients += r->recipients;
    to->attempted += r->attempted;
    to->delivered += r->delivered;
    to->deferred += r->deferred;
    to->bounced += r->bounced;
    to->bounced_hard += r->bounced_hard;
    to->bounced_soft += r->bounced_soft;
    to->blocked += r->blocked;
    to->queued += r->queued;
    to->failed += r->failed;
    to->suppressed += r->suppressed;
    to->waiting += r->waiting;
    to->opened += r->opened;
    to->clicked += r->clicked;
    to->opened_unique += r->opened_unique;
    to->clicked_unique += r->clicked_unique;
    to->opens += r->opens;
    to->clicks += r->clicks;
    to->complained += r->complained;
    to->unsubscribed += r->unsubscribed;
}

/* find - name's slot in g (its own, or the free one it would take) */
static struct slot *
find(struct slot *g, size_t cap, const char *name)
{
    size_t i = hash(name) & (cap - 1);

    while (g[i].name != NULL && strcmp(g[i].name, name) != 0)
        i = (i + 1) & (cap - 1);
    return &g[i];
}

static void
groups_init(struct groups *gs)
{
    memset(gs, 0, sizeof *gs);
    gs->cap = 64;
    gs->g = xcalloc(gs->cap, sizeof *gs->g);
}

/* groups_add - one recipient's counts r into name's group */
static void
groups_add(struct groups *gs, const char *name, const struct report_group *r)
{
    struct slot *g = find(gs->g, gs->cap, name);

    if (g->name == NULL) {
        if (gs->n >= REPORT_GROUPS_MAX) {
            sum(&gs->rest, r); /* bounded: the rest */
            return;
        }
        if (2 * (gs->n + 1) > gs->cap) { /* at most half full */
            size_t cap = gs->cap * 2;
            struct slot *ng = xcalloc(cap, sizeof *ng);
            for (size_t i = 0; i < gs->cap; i++)
                if (gs->g[i].name != NULL)
                    *find(ng, cap, gs->g[i].name) = gs->g[i];
            free(gs->g);
            gs->g = ng;
            gs->cap = cap;
            g = find(gs->g, gs->cap, name);
        }
        g->name = xstrdup(name);
        gs->n++;
    }
    sum(&g->n, r);
}

/* larger - the larger group first, then by name */
static int
larger(const void *a, const void *b)
{
    const struct slot *x = *(const struct slot *const *)a;
    const struct slot *y = *(const struct slot *const *)b;

    if (x->n.recipients != y->n.recipients)
        return x->n.recipients > y->n.recipients ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* groups_done - cb for the k largest groups, then the rest; frees gs */
static void
groups_done(struct groups *gs, size_t k, report_group_cb cb, void *arg)
{
    struct slot **order = xcalloc(gs->n + 1, sizeof *order);
    size_t n = 0;
    int others = 0, stop = cb == NULL; /* NULL: only freed */

    for (size_t i = 0; i < gs->cap; i++)
        if (gs->g[i].name != NULL)
            order[n++] = &gs->g[i];
    qsort(order, n, sizeof *order, larger);
    for (size_t i = 0; i < n; i++) {
        if (i < k && !stop) {
            order[i]->n.name = order[i]->name;
            stop = cb(&order[i]->n, arg) != 0;
        } else if (i >= k) {
            sum(&gs->rest, &order[i]->n);
            others = 1;
        }
    }
    if (cb != NULL && !stop && (others || gs->rest.recipients > 0)) {
        gs->rest.name = REPORT_GROUP_OTHER;
        cb(&gs->rest, arg);
    }
    for (size_t i = 0; i < gs->cap; i++)
        free(gs->g[i].name);
    free(gs->g);
    free(order);
}

struct grouping {
    struct groups providers, domains;
    report_provider_fn fn;
    void *fnarg;
    long attempted;
};

/* one - a recipient's counts, each 0 or 1 (opens and clicks: events) */
static void
one(const struct store_recipient *r, struct report_group *g)
{
    int sent = strcmp(r->state, "sent") == 0;
    int bounced = strcmp(r->state, "bounced") == 0;
    const char *c = r->bounce_class ? r->bounce_class : "";

    memset(g, 0, sizeof *g);
    g->recipients = 1;
    g->attempted = report_handed(r);
    g->delivered = sent;
    g->deferred = strcmp(r->state, "deferred") == 0 ||
                  strcmp(r->state, "expired") == 0 ||
                  (r->attempts > 1 && g->attempted);
    g->bounced = bounced;
    g->bounced_hard = bounced && strcmp(c, "hard") == 0;
    g->blocked = bounced && strcmp(c, "blocked") == 0;
    g->bounced_soft = bounced && !g->bounced_hard && !g->blocked;
    g->queued =
        strcmp(r->state, "queued") == 0 || strcmp(r->state, "sending") == 0;
    g->failed = strcmp(r->state, "failed") == 0;
    g->suppressed = strcmp(r->state, "skipped") == 0;
    g->waiting = strcmp(r->state, "deferred") == 0;
    g->opened_unique = r->opens > 0;
    g->clicked_unique = r->clicks > 0;
    g->opened = sent && r->opens > 0;
    g->clicked = sent && r->clicks > 0;
    g->opens = r->opens;
    g->clicks = r->clicks;
    g->complained = r->complained;
    g->unsubscribed = r->unsubscribed;
}

/* scale - g's counts of one recipient times n */
static void
scale(struct report_group *g, long n)
{
    long *f[] = {&g->recipients,     &g->attempted,  &g->delivered,
                 &g->deferred,       &g->bounced,    &g->bounced_hard,
                 &g->bounced_soft,   &g->blocked,    &g->queued,
                 &g->failed,         &g->suppressed, &g->waiting,
                 &g->opened,         &g->clicked,    &g->opened_unique,
                 &g->clicked_unique, &g->complained, &g->unsubscribed};

    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        *f[i] *= n;
}

/* grouping_add - g into domain's groups: its provider's and its own
 * (REPORT_GROUP_FORGOTTEN for both when "") */
static void
grouping_add(struct grouping *gr, const char *domain,
             const struct report_group *g)
{
    const char *p;

    if (domain == NULL || domain[0] == '\0') {
        groups_add(&gr->providers, REPORT_GROUP_FORGOTTEN, g);
        groups_add(&gr->domains, REPORT_GROUP_FORGOTTEN, g);
        return;
    }
    p = gr->fn(domain, gr->fnarg);
    groups_add(&gr->providers, p != NULL ? p : domain, g);
    groups_add(&gr->domains, domain, g);
}

/* grouping_cb - a kept group row (n recipients alike): one recipient
 * standing for them, as one() reads a recipient, times n */
static int
grouping_cb(const struct store_group_row *row, void *arg)
{
    struct grouping *gr = arg;
    struct store_recipient r;
    struct report_group g;

    memset(&r, 0, sizeof r);
    r.state = row->state;
    r.bounce_class = row->bounce_class;
    r.code = row->coded;
    r.attempts = row->retried ? 2 : 1;
    r.was_uncertain = row->uncertain;
    r.opens = (row->people & STORE_PEOPLE_OPENED) != 0;
    r.clicks = (row->people & STORE_PEOPLE_CLICKED) != 0;
    r.unsubscribed = (row->people & STORE_PEOPLE_UNSUBSCRIBED) != 0;
    r.complained = (row->people & STORE_PEOPLE_COMPLAINED) != 0;
    one(&r, &g);
    scale(&g, row->n);
    g.opens = g.clicks = 0; /* the domain's: domain_events_cb */
    gr->attempted += g.attempted;
    grouping_add(gr, row->domain, &g);
    return 0;
}

/* domain_events_cb - people's opens and clicks of a domain's recipients
 * into its groups */
static int
domain_events_cb(const char *domain, long opens, long clicks, void *arg)
{
    struct report_group g;

    memset(&g, 0, sizeof g);
    g.opens = opens;
    g.clicks = clicks;
    grouping_add(arg, domain, &g);
    return 0;
}

int
report_groups(struct store *st, int64_t campaign, report_provider_fn fn,
              void *fnarg, size_t kp, report_group_cb pcb, size_t kd,
              report_group_cb dcb, void *arg, long *attempted, struct err *e)
{
    struct grouping gr;
    int rc;

    memset(&gr, 0, sizeof gr);
    groups_init(&gr.providers);
    groups_init(&gr.domains);
    gr.fn = fn;
    gr.fnarg = fnarg;
    rc = store_report_groups(st, campaign, grouping_cb, &gr, e) == -1 ||
                 store_report_domain_events(st, campaign, domain_events_cb, &gr,
                                            e) == -1
             ? -1
             : 0;
    /* the groups are freed either way; reported only when read whole */
    groups_done(&gr.providers, rc == 0 ? kp : 0, rc == 0 ? pcb : NULL, arg);
    groups_done(&gr.domains, rc == 0 ? kd : 0, rc == 0 ? dcb : NULL, arg);
    *attempted = gr.attempted;
    return rc;
}
