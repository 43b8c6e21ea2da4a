/* SPDX-License-Identifier: ISC */
/*
 * test_report_views.c - what `campaign report NAME` shows beyond the
 * rates (engine/report.c, db/store_report.c): the funnel and what each
 * step is of, a provider's rates, the opens and clicks bucketed by hour
 * then by day (boundaries, a clock's skew, the last day), and the
 * aggregates behind them held to a hand-made ledger: people among the
 * delivered counted by the subtraction the rates use, bounces by class
 * and status, the top replies, providers through the caller's grouping,
 * links.  And the terminal's escaping of bidirectional controls
 * (log_unraw), which the report's table relies on.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "th.h"

#include "log.h"
#include "report.h"
#include "store.h"

/* store_events_fold's: the events it left uncounted */
static long fold_pending;

static char dir[] = "/tmp/test_report_views.XXXXXX";

static void
sql(const char *db, const char *q)
{
    sqlite3 *h;

    sqlite3_open(db, &h);
    TH_CHECK(sqlite3_exec(h, q, NULL, NULL, NULL) == SQLITE_OK,
             "sql: %.60s (%s)", q, sqlite3_errmsg(h));
    sqlite3_close(h);
}

static void
test_funnel(void)
{
    struct store_rate_counts c = {7, 1, 1, 2, 3, 1};
    struct report_funnel f;
    static const struct {
        const char *key, *of;
        long n, d;
    } want[REPORT_STEP_N] = {
        {"recipients", NULL, 10, 10},  {"sent", "recipients", 9, 10},
        {"accepted", "sent", 7, 9},    {"opened", "accepted", 3, 7},
        {"clicked", "accepted", 1, 7},
    };

    report_funnel_from(10, 9, &c, &f);
    for (int i = 0; i < REPORT_STEP_N; i++) {
        TH_STREQ(f.step[i].key, want[i].key, "funnel: step %d", i);
        TH_CHECK((f.step[i].of == NULL && want[i].of == NULL) ||
                     (f.step[i].of && want[i].of &&
                      strcmp(f.step[i].of, want[i].of) == 0),
                 "funnel: %s is of %s", want[i].key,
                 want[i].of ? want[i].of : "nothing");
        TH_CHECK(f.step[i].numerator == want[i].n &&
                     f.step[i].denominator == want[i].d,
                 "funnel: %s %ld of %ld (got %ld of %ld)", want[i].key,
                 want[i].n, want[i].d, f.step[i].numerator,
                 f.step[i].denominator);
    }
}

static void
test_provider_rates(void)
{
    struct report_group p = {.name = "google",
                             .recipients = 10,
                             .attempted = 9,
                             .delivered = 6,
                             .deferred = 2,
                             .bounced = 2,
                             .opened = 3,
                             .clicked = 1};
    struct report_rate r[REPORT_PRATE_N];

    report_provider_rates(&p, r);
    TH_CHECK(r[REPORT_PRATE_DELIVERY].numerator == 6 &&
                 r[REPORT_PRATE_DELIVERY].denominator == 9 &&
                 strcmp(r[REPORT_PRATE_DELIVERY].of, "sent") == 0,
             "provider: delivered of sent");
    TH_CHECK(r[REPORT_PRATE_DEFERRAL].numerator == 2 &&
                 r[REPORT_PRATE_DEFERRAL].denominator == 9,
             "provider: deferred of sent");
    TH_CHECK(r[REPORT_PRATE_BOUNCE].numerator == 2 &&
                 r[REPORT_PRATE_BOUNCE].denominator == 8 &&
                 strcmp(r[REPORT_PRATE_BOUNCE].of, "delivered+bounced") == 0,
             "provider: bounced of delivered+bounced");
    TH_CHECK(r[REPORT_PRATE_OPEN].numerator == 3 &&
                 r[REPORT_PRATE_OPEN].denominator == 6 &&
                 r[REPORT_PRATE_CLICK].numerator == 1 &&
                 r[REPORT_PRATE_CLICK].denominator == 6,
             "provider: opened and clicked of delivered");
    TH_STREQ(r[REPORT_PRATE_DEFERRAL].key, "deferral_rate",
             "provider: the deferral rate's key");
}

#define H 3600LL
#define D 86400LL
/* a start that is not on the hour: 2026-03-02T09:20:00Z */
#define T0 1772443200LL

static void
test_timeline(void)
{
    static struct report_timeline t;

    report_timeline_init(&t, T0);
    TH_CHECK(t.start == T0 - 20 * 60, "timeline: starts on the hour");
    TH_CHECK(t.n == 0, "timeline: empty");
    report_timeline_add(&t, (T0 + 5) * 1000, 0, 0);          /* hour 0 */
    report_timeline_add(&t, (T0 - 3 * H) * 1000, 0, 0);      /* skew: 0 */
    report_timeline_add(&t, (t.start + 2 * H) * 1000, 1, 0); /* hour 2 */
    report_timeline_add(&t, (t.start + 2 * H - 1) * 1000, 0, 1);
    TH_CHECK(t.n == 3,
             "timeline: buckets up to the last, empty ones too "
             "(got %zu)",
             t.n);
    TH_CHECK(t.b[0].opens == 2 && t.b[1].opens == 0 && t.b[2].clicks == 1 &&
                 t.b[1].machine_opens == 1,
             "timeline: hours counted (%ld %ld %ld %ld)", t.b[0].opens,
             t.b[1].opens, t.b[2].clicks, t.b[1].machine_opens);
    TH_CHECK(t.b[1].at == t.start + H && t.b[1].hours == 1,
             "timeline: an hour's start");
    /* the last hour and the first day */
    report_timeline_add(&t, (t.start + 48 * H - 1) * 1000, 0, 0);
    report_timeline_add(&t, (t.start + 48 * H) * 1000, 0, 0);
    report_timeline_add(&t, (t.start + 48 * H + D - 1) * 1000, 1, 1);
    report_timeline_add(&t, (t.start + 48 * H + D) * 1000, 0, 0);
    TH_CHECK(t.n == 50, "timeline: 48 hours and two days (got %zu)", t.n);
    TH_CHECK(t.b[47].opens == 1 && t.b[47].hours == 1,
             "timeline: the 48th hour");
    TH_CHECK(t.b[48].opens == 1 && t.b[48].machine_clicks == 1 &&
                 t.b[48].hours == 24 && t.b[48].at == t.start + 48 * H,
             "timeline: the first day");
    TH_CHECK(t.b[49].opens == 1 && t.b[49].at == t.start + 48 * H + D,
             "timeline: the second day");
    /* years later: the last day holds it, memory stays bounded */
    report_timeline_add(&t, (t.start + 5000 * D) * 1000, 1, 0);
    TH_CHECK(t.n == REPORT_HOURLY + REPORT_DAYS && t.b[t.n - 1].clicks == 1,
             "timeline: a late click in the last day (n %zu)", t.n);
}

static void
test_bidi(void)
{
    char *o = log_unraw("a\xe2\x80\xae"
                        "b\xe2\x81\xa6"
                        "c\x1b[31m\xe2\x80\x8b",
                        0);

    TH_STREQ(o ? o : "(none)", "a\\u202Eb\\u2066c\\x1b[31m\xe2\x80\x8b",
             "unraw: bidi controls escaped, ESC escaped, a zero-width "
             "space kept");
    free(o);
    o = log_unraw("\xc2\x9b"
                  "2J\xe2\x80\x8f"
                  "a\xd8\x9c"
                  "b\xc2\xa0",
                  0);
    TH_STREQ(o ? o : "(none)", "\\u009B2J\\u200Fa\\u061Cb\xc2\xa0",
             "unraw: a C1 CSI and the bidi marks escaped, a no-break space "
             "kept");
    free(o);
    o = log_unraw("a\xe2\x80\xa8"
                  "b",
                  0);
    TH_STREQ(o ? o : "(none)", "a\\u2028b",
             "unraw: a line separator escaped, as on the HTML page");
    free(o);
    o = log_unraw("caf\xc3\xa9 \xe2\x82\xac", 0);
    TH_CHECK(o == NULL, "unraw: other UTF-8 left alone");
    free(o);
}

struct text {
    char b[2048];
    int rows; /* kept_cb's */
};

static int
reply_cb(const struct store_reply *x, void *arg)
{
    struct text *t = arg;
    size_t n = strlen(t->b);

    snprintf(t->b + n, sizeof t->b - n, "%s|%s|%d|%s|%ld|%s;",
             x->bounce_class ? x->bounce_class : "-",
             x->status ? x->status : "-", x->code, x->text ? x->text : "-",
             x->count, x->email ? x->email : "-");
    return 0;
}

static const char *
group(const char *domain, void *arg)
{
    (void)arg;
    if (strcmp(domain, "gmail.com") == 0 || strcmp(domain, "g.test") == 0)
        return "google";
    return NULL;
}

struct two {
    struct text p, d;
};

static int
provider_cb(const struct report_group *p, void *arg)
{
    struct text *t = &((struct two *)arg)->p;
    size_t n = strlen(t->b);

    snprintf(t->b + n, sizeof t->b - n, "%s %ld %ld %ld %ld %ld %ld %ld;",
             p->name, p->recipients, p->attempted, p->delivered, p->deferred,
             p->bounced, p->opened, p->clicked);
    return 0;
}

static int
domain_cb(const struct report_group *d, void *arg)
{
    struct text *t = &((struct two *)arg)->d;
    size_t n = strlen(t->b);

    snprintf(t->b + n, sizeof t->b - n,
             "%s %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld;",
             d->name, d->recipients, d->queued, d->delivered, d->waiting,
             d->failed, d->bounced_hard, d->bounced_soft, d->blocked,
             d->suppressed, d->complained, d->unsubscribed, d->opened_unique,
             d->opens, d->clicked_unique, d->clicks);
    return 0;
}

static int
link_cb(const char *url, long clicks, long people, void *arg)
{
    struct text *t = arg;
    size_t n = strlen(t->b);

    snprintf(t->b + n, sizeof t->b - n, "%s %ld %ld;", url, clicks, people);
    return 0;
}

static int
time_cb(int64_t at_ms, int click, int machine, long k, void *arg)
{
    long *n = arg;

    n[0] += k;
    n[1] += click * k;
    n[2] += machine * k;
    n[3] += (long)(at_ms / 1000) * k;
    return 0;
}

static void
test_store(void)
{
    char db[256];
    struct store *st;
    struct err e;
    struct store_rate_counts c;
    struct text t;
    struct two tw;
    long n, tm[4] = {0, 0, 0, 0};
    int64_t first;

    snprintf(db, sizeof db, "%s/v.db", dir);
    err_clear(&e);
    st = store_open(db, STORE_OPEN_CREATE, NULL, &e);
    TH_CHECK(st != NULL, "store: created (%s)", e.msg);
    if (st == NULL)
        return;
    sql(db,
        "INSERT INTO contacts(id, email, created_at, updated_at) VALUES "
        "(1, 'a@gmail.com', 0, 0), (2, 'b@g.test', 0, 0), "
        "(3, 'c@x.test', 0, 0), (4, 'd@x.test', 0, 0), "
        "(5, 'e@x.test', 0, 0), (6, 'f@y.test', 0, 0), "
        "(7, 'g@y.test', 0, 0), (8, 'h@y.test', 0, 0);"
        "INSERT INTO campaigns(id, name, template, created_at) VALUES "
        "(1, 'one', 't', 0), (2, 'two', 't', 0);"
        "INSERT INTO sends(campaign_id, contact_id, state, queued_at, "
        "  attempts, first_attempt_at, last_code, last_status, last_text, "
        "  bounce_class) VALUES "
        "(1, 1, 'sent', 0, 1, 5, 250, NULL, 'ok', NULL),"
        "(1, 2, 'sent', 0, 2, 5, 250, NULL, 'ok', NULL),"
        "(1, 3, 'bounced', 0, 1, 5, 550, '5.1.1', 'no such user', 'hard'),"
        "(1, 4, 'bounced', 0, 1, 5, 550, '5.1.1', 'no such user', 'hard'),"
        "(1, 5, 'bounced', 0, 1, 5, 554, '5.7.1', 'spam', 'blocked'),"
        "(1, 6, 'deferred', 0, 1, 5, 451, '4.7.0', 'later', NULL),"
        "(1, 7, 'skipped', 0, 0, NULL, NULL, NULL, NULL, NULL),"
        /* claimed once, never handed over: the relay could not be
         * reached (the claim records a first attempt) */
        "(1, 8, 'queued', 0, 1, 5, NULL, NULL, NULL, NULL),"
        "(1, -1, 'sent', 0, 1, 5, NULL, NULL, NULL, NULL),"
        "(2, 1, 'sent', 0, 1, 5, 250, NULL, 'ok', NULL);"
        /* the domain as the freeze records it */
        "UPDATE sends SET domain = COALESCE((SELECT substr(email, "
        "  instr(email, '@') + 1) FROM contacts WHERE id = contact_id), '');"
        "INSERT INTO events(campaign_id, contact_id, kind, at_ms, machine, "
        "  url) VALUES "
        /* a: two opens, two clicks on two links; b: a proxy's open, a
         * click; c bounced: its open and click are not among the
         * delivered; the forgotten one opened; another campaign's */
        "(1, 1, 'open', 3600000, 0, NULL), (1, 1, 'open', 7200000, 0, NULL),"
        "(1, 1, 'click', 3700000, 0, 'https://a.test/1'),"
        "(1, 1, 'click', 3800000, 0, 'https://a.test/2'),"
        "(1, 2, 'open', 1000, 1, NULL),"
        "(1, 2, 'click', 3900000, 0, 'https://a.test/1'),"
        "(1, 2, 'click', 3950000, 1, 'https://a.test/9'),"
        "(1, 3, 'open', 1000, 0, NULL),"
        "(1, 3, 'click', 1000, 0, 'https://a.test/1'),"
        "(1, -1, 'open', 9000000, 0, NULL),"
        /* a complained; f unsubscribed by mail (matched by address) */
        "(1, 1, 'complaint', 5000, 0, NULL),"
        "(1, 6, 'unsubscribe', 5000, 1, NULL),"
        "(2, 1, 'open', 1000, 0, NULL), (2, 1, 'click', 1000, 0, 'x');");
    TH_CHECK(store_events_fold(st, &fold_pending, &e) == 0,
             "store: the events counted (%s)", e.msg);

    TH_CHECK(store_report_counts(st, 1, &c, &e) == 0 && c.delivered == 3 &&
                 c.bounced == 3 && c.opened == 2 && c.clicked == 2,
             "counts: people among the delivered (%ld %ld %ld %ld)",
             c.delivered, c.bounced, c.opened, c.clicked);

    memset(&t, 0, sizeof t);
    TH_CHECK(store_report_bounce_status(st, 1, reply_cb, &t, &e) == 0,
             "bounce status: ok (%s)", e.msg);
    TH_STREQ(t.b, "hard|5.1.1|0|-|2|-;blocked|5.7.1|0|-|1|-;",
             "bounce status: by class and status, the largest first");
    memset(&t, 0, sizeof t);
    TH_CHECK(store_report_bounce_top(st, 1, 1, reply_cb, &t, &e) == 0,
             "bounce top: ok (%s)", e.msg);
    TH_STREQ(t.b, "hard|5.1.1|550|no such user|2|c@x.test;",
             "bounce top: the largest reply, with an address, at most the "
             "limit");

    memset(&tw, 0, sizeof tw);
    TH_CHECK(report_groups(st, 1, group, NULL, 10, provider_cb, 10, domain_cb,
                           &tw, &n, &e) == 0,
             "groups: ok (%s)", e.msg);
    TH_CHECK(n == 7,
             "groups: the recipients a relay answered for, not one only "
             "claimed (got %ld)",
             n);
    /* x.test: 3 bounced; google: a and b delivered, b deferred once
     * (attempts 2), both opened (b's open a proxy's: not counted), both
     * clicked; y.test: one deferred, one skipped (no attempt), one
     * claimed and put back (not handed over, not deferred); the
     * forgotten one: no domain */
    TH_STREQ(tw.p.b,
             "x.test 3 3 0 0 3 0 0;y.test 3 1 0 1 0 0 0;google 2 2 2 1 0 1 2;"
             "(forgotten) 1 1 1 0 0 1 0;",
             "providers: grouped by the caller, largest first, with counts");
    /* by domain: recipients queued sent deferred failed hard soft blocked
     * suppressed complained unsubscribed opened opens clicked clicks */
    TH_STREQ(tw.d.b,
             "x.test 3 0 0 0 0 2 0 1 0 0 0 1 1 1 1;"
             "y.test 3 1 0 1 0 0 0 0 1 0 1 0 0 0 0;"
             "(forgotten) 1 0 1 0 0 0 0 0 0 0 0 1 1 0 0;"
             "g.test 1 0 1 0 0 0 0 0 0 0 0 0 0 1 1;"
             "gmail.com 1 0 1 0 0 0 0 0 0 1 0 1 2 1 2;",
             "domains: each its own, the counts of report NAME");
    memset(&tw, 0, sizeof tw);
    TH_CHECK(report_groups(st, 1, group, NULL, 1, provider_cb, 2, domain_cb,
                           &tw, &n, &e) == 0,
             "groups: ok (%s)", e.msg);
    TH_STREQ(tw.p.b, "x.test 3 3 0 0 3 0 0;(other) 6 4 3 2 0 2 2;",
             "providers: the k largest, then the rest summed");
    TH_STREQ(tw.d.b,
             "x.test 3 0 0 0 0 2 0 1 0 0 0 1 1 1 1;"
             "y.test 3 1 0 1 0 0 0 0 1 0 1 0 0 0 0;"
             "(other) 3 0 3 0 0 0 0 0 0 1 0 2 3 2 3;",
             "domains: the k largest, then the rest summed");
    /* three recipients alike are one kept row of n 3: counted three times */
    sql(db, "INSERT INTO campaigns(id, name, template, created_at) VALUES "
            "(3, 'three', 't', 0);"
            "INSERT INTO sends(campaign_id, contact_id, state, queued_at, "
            "  attempts, last_code, domain) VALUES "
            "(3, 3, 'sent', 0, 1, 250, 'x.test'), "
            "(3, 4, 'sent', 0, 1, 250, 'x.test'), "
            "(3, 5, 'sent', 0, 1, 250, 'x.test');");
    memset(&tw, 0, sizeof tw);
    TH_CHECK(report_groups(st, 3, group, NULL, 10, provider_cb, 10, domain_cb,
                           &tw, &n, &e) == 0 &&
                 n == 3,
             "groups: a kept row of three (%ld attempted)", n);
    TH_STREQ(tw.p.b, "x.test 3 3 3 0 0 0 0;",
             "providers: a kept row counts as its n recipients");

    memset(&t, 0, sizeof t);
    TH_CHECK(store_report_links(st, 1, 10, link_cb, &t, &e) == 0,
             "links: ok (%s)", e.msg);
    TH_STREQ(t.b, "https://a.test/1 3 3;https://a.test/2 1 1;",
             "links: people's clicks by link, most clicked first");
    memset(&t, 0, sizeof t);
    store_report_links(st, 1, 1, link_cb, &t, &e);
    TH_STREQ(t.b, "https://a.test/1 3 3;", "links: at most the limit");

    TH_CHECK(store_report_event_times(st, 1, time_cb, tm, &e) == 0 &&
                 tm[0] == 10 && tm[1] == 5 && tm[2] == 2,
             "event times: this campaign's opens and clicks (%ld, %ld "
             "clicks, %ld machines')",
             tm[0], tm[1], tm[2]);
    TH_CHECK(store_report_first_event(st, 1, &first, &e) == 1 && first == 0,
             "first event: the earliest's hour (got %lld)", (long long)first);
    TH_CHECK(store_report_first_event(st, 99, &first, &e) == 0 && first == 0,
             "first event: none");
    {
        static struct report_timeline tl;
        TH_CHECK(report_timeline(st, 1, 0, &tl, &e) == 0 && tl.start == 0 &&
                     tl.n == 3 && tl.b[0].opens == 1 && tl.b[0].clicks == 1 &&
                     tl.b[0].machine_opens == 1 && tl.b[1].opens == 1 &&
                     tl.b[1].clicks == 3 && tl.b[1].machine_clicks == 1 &&
                     tl.b[2].opens == 2,
                 "timeline: from the first event when not started (n %zu)",
                 tl.n);
    }
    store_close(st);
    unlink(db);
}

/* kept_cb - a row of tests/kept_counts.sql: a kept table and how many
 * of its rows differ from a full count */
static int
kept_cb(void *arg, int n, char **v, char **names)
{
    struct text *t = arg;

    (void)names;
    if (n == 2 && v[1] != NULL && strcmp(v[1], "0") != 0) {
        size_t l = strlen(t->b);
        snprintf(t->b + l, sizeof t->b - l, "%s:%s;", v[0], v[1]);
    }
    t->rows++;
    return 0;
}

/* kept - the tables 014_report_groups keeps that differ from a full
 * count of db ("" when none), after step: as it is (the events counted
 * so far), then once the events recorded since are counted too */
static void kept_now(const char *db, const char *step);
static void
kept(const char *db, const char *step)
{
    struct store *st;
    struct err e;
    char folded[200];

    kept_now(db, step);
    err_clear(&e);
    st = store_open(db, STORE_OPEN_EXISTING, NULL, &e);
    TH_CHECK(st != NULL && store_events_fold(st, &fold_pending, &e) == 0,
             "kept: the events counted after %s (%s)", step, e.msg);
    store_close(st);
    snprintf(folded, sizeof folded, "%s, the events counted", step);
    kept_now(db, folded);
}

static void
kept_now(const char *db, const char *step)
{
    FILE *f = fopen("tests/kept_counts.sql", "r");
    static char q[16384];
    size_t len = f ? fread(q, 1, sizeof q - 1, f) : 0;
    struct text t;
    sqlite3 *h;
    int rc;

    if (f != NULL)
        fclose(f);
    q[len] = '\0';
    memset(&t, 0, sizeof t);
    sqlite3_open(db, &h);
    rc = sqlite3_exec(h, q, kept_cb, &t, NULL);
    TH_CHECK(len > 0 && rc == SQLITE_OK && t.rows == 8,
             "kept counts: tests/kept_counts.sql runs after %s (%s)", step,
             sqlite3_errmsg(h));
    TH_STREQ(t.b, "", "kept counts: each equals a full count after %s", step);
    sqlite3_close(h);
}

/* The triggers of 014_report_groups through every change the store
 * makes to the ledger and the events, and those it never makes (a
 * delete, an event's link or time changed): after each, the kept counts
 * equal a full count. */
static void
test_kept(void)
{
    char db[256];
    struct store *st;
    struct err e;

    snprintf(db, sizeof db, "%s/k.db", dir);
    err_clear(&e);
    st = store_open(db, STORE_OPEN_CREATE, NULL, &e);
    TH_CHECK(st != NULL, "kept: created (%s)", e.msg);
    if (st == NULL)
        return;
    store_close(st);
    sql(db, "INSERT INTO contacts(id, email, created_at, updated_at) VALUES "
            "(1, 'a@gmail.com', 0, 0), (2, 'b@g.test', 0, 0), "
            "(3, 'c@x.test', 0, 0), (4, 'd@x.test', 0, 0);"
            "INSERT INTO campaigns(id, name, template, created_at) VALUES "
            "(1, 'one', 't', 0), (2, 'two', 't', 0);"
            "INSERT INTO sends(campaign_id, contact_id, state, queued_at, "
            "  domain) VALUES (1, 1, 'queued', 0, 'gmail.com'), "
            "(1, 2, 'queued', 0, 'g.test'), (1, 3, 'queued', 0, 'x.test'), "
            "(1, 4, 'queued', 0, 'x.test'), (2, 1, 'queued', 0, "
            "'gmail.com');");
    kept(db, "the freeze");
    sql(db, "UPDATE sends SET state = 'sending', attempts = 1 "
            "WHERE campaign_id = 1;"
            "UPDATE sends SET state = 'sent', last_code = 250, "
            "  last_text = 'ok' WHERE contact_id IN (1, 2);"
            "UPDATE sends SET state = 'deferred', last_code = 451, "
            "  last_text = 'later' WHERE contact_id = 3;"
            "UPDATE sends SET state = 'failed', last_code = 554, "
            "  last_text = 'no' WHERE contact_id = 4;");
    kept(db, "a send");
    sql(db, "INSERT INTO events(campaign_id, contact_id, kind, at_ms, "
            "  machine, url) VALUES "
            "(1, 1, 'open', 3600000, 0, NULL), (1, 1, 'open', 7300000, 0, "
            "NULL), (1, 1, 'click', 3700000, 0, 'https://a.test/1'),"
            "(1, 1, 'click', 3800000, 0, 'https://a.test/1'),"
            "(1, 2, 'open', 1000, 1, NULL), (1, 2, 'click', 9000, 0, NULL),"
            "(1, 2, 'unsubscribe', 5000, 1, NULL),"
            "(1, 1, 'complaint', 5000, 0, NULL),"
            "(1, 3, 'complaint', 5000, 1, NULL), (1, 4, 'view', 5, 0, NULL),"
            "(2, 1, 'open', 1000, 0, NULL), (1, 9, 'open', 1000, 0, NULL);");
    kept(db, "opens, clicks, complaints and unsubscribes");
    /* people who opened or clicked before, again: counted once */
    sql(db, "INSERT INTO events(campaign_id, contact_id, kind, at_ms, "
            "  machine, url) VALUES "
            "(1, 1, 'open', 3650000, 0, NULL),"
            "(1, 1, 'click', 3900000, 0, 'https://a.test/1'),"
            "(1, 2, 'click', 9500, 0, 'https://a.test/3'),"
            "(1, 2, 'open', 2000, 1, NULL);");
    {
        /* another process holding the write lock (an import): the fold
         * leaves the four events for later and says so, at once */
        sqlite3 *h;
        struct store *s2;
        long pending = 0;
        int rc = -2;
        sqlite3_open(db, &h);
        sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        err_clear(&e);
        if ((s2 = store_open(db, STORE_OPEN_EXISTING, NULL, &e)) != NULL)
            rc = store_events_fold(s2, &pending, &e);
        TH_CHECK(rc == 1 && pending == 4,
                 "kept: the write lock held elsewhere, the events are left "
                 "for later (rc %d, %ld pending)",
                 rc, pending);
        store_close(s2);
        sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(h);
    }
    kept(db, "more opens and clicks of the same people");
    sql(db, "UPDATE sends SET state = 'sending', attempts = 2 "
            "WHERE contact_id = 3 AND campaign_id = 1;"
            "UPDATE sends SET state = 'bounced', bounce_class = 'hard', "
            "  last_code = 550 WHERE contact_id = 3 AND campaign_id = 1;"
            "UPDATE sends SET state = 'bounced', bounce_class = 'soft' "
            "WHERE contact_id = 1 AND campaign_id = 1;"
            "UPDATE sends SET was_uncertain = 1 WHERE contact_id = 2;");
    kept(db, "a retry, bounces by DSN and an uncertain row");
    sql(db, "UPDATE events SET machine = 1, machine_reason = 'burst' "
            "WHERE contact_id = 1 AND kind = 'click';"
            "UPDATE events SET url = 'https://a.test/2' "
            "WHERE contact_id = 2 AND kind = 'click';"
            "UPDATE events SET at_ms = at_ms + 86400000, kind = 'click', "
            "  url = 'x' WHERE contact_id = 1 AND kind = 'open' "
            "  AND campaign_id = 1 AND at_ms = 7300000;"
            "UPDATE events SET campaign_id = 2 WHERE contact_id = 4;");
    kept(db, "machines found out, and a link, a time, a kind, a campaign "
             "changed");
    /* every person's click of b found to be a machine's: b no longer
     * clicked */
    sql(db, "UPDATE events SET machine = 1, machine_reason = 'scanner' "
            "WHERE contact_id = 2 AND kind = 'click';");
    kept(db, "a person's every click found to be a machine's");
    sql(db, "UPDATE sends SET contact_id = -1, domain = '' "
            "WHERE contact_id = 2;"
            "UPDATE events SET contact_id = -1 WHERE contact_id = 2;"
            "DELETE FROM contacts WHERE id = 2;");
    kept(db, "a person forgotten");
    sql(db, "DELETE FROM events WHERE contact_id = 1 AND kind = 'click';"
            "DELETE FROM sends WHERE contact_id = 4 AND campaign_id = 1;"
            "UPDATE sends SET campaign_id = 2 WHERE contact_id = 3;");
    kept(db, "events and a ledger row deleted, a row moved");
    sql(db, "PRAGMA foreign_keys = ON; DELETE FROM campaigns WHERE id = 1;");
    kept(db, "a campaign deleted");
    unlink(db);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    test_funnel();
    test_provider_rates();
    test_timeline();
    test_bidi();
    test_store();
    test_kept();
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", dir);
    }
    return TH_DONE();
}
