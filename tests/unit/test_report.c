/* SPDX-License-Identifier: ISC */
/*
 * test_report.c - the rates of `campaign report` (engine/report.c) and
 * what they are counted from (db/store_report.c): each rate's numerator,
 * denominator and name; people's opens and clicks apart from machines';
 * the people counted only among the delivered, of this campaign only;
 * the recipients one by one as the CSV export reads them, a forgotten
 * one without an address.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "th.h"

#include "report.h"
#include "store.h"

static char dir[] = "/tmp/test_report.XXXXXX";

static void
sql(const char *db, const char *q)
{
    sqlite3 *h;

    sqlite3_open(db, &h);
    if (sqlite3_exec(h, q, NULL, NULL, NULL) != SQLITE_OK)
        printf("# sql: %s\n", sqlite3_errmsg(h));
    sqlite3_close(h);
}

/* rates_from - the arithmetic alone: names, denominators, rounding */
static void
test_rates_from(void)
{
    struct store_rate_counts c = {7, 1, 1, 2, 3, 1};
    struct report_rates r;
    static const struct {
        enum report_rate_id id;
        const char *key, *label, *of;
        long n, d;
        double value;
    } want[] = {
        {REPORT_RATE_BOUNCE, "bounce_rate", "BOUNCE%", "delivered+bounced", 1,
         8, 0.125},
        {REPORT_RATE_COMPLAINT, "complaint_rate", "COMPLAINT%", "delivered", 1,
         7, 0.1429},
        {REPORT_RATE_UNSUBSCRIBE, "unsubscribe_rate", "UNSUB%", "delivered", 2,
         7, 0.2857},
        {REPORT_RATE_OPEN, "open_rate", "OPEN%", "delivered", 3, 7, 0.4286},
        {REPORT_RATE_CLICK, "click_rate", "CLICK%", "delivered", 1, 7, 0.1429},
    };

    report_rates_from(&c, &r);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const struct report_rate *x = &r.rate[want[i].id];
        TH_STREQ(x->key, want[i].key, "rates_from: key of %s", want[i].key);
        TH_STREQ(x->label, want[i].label, "rates_from: label of %s",
                 want[i].key);
        TH_STREQ(x->of, want[i].of, "rates_from: %s is of %s", want[i].key,
                 want[i].of);
        TH_CHECK(x->numerator == want[i].n && x->denominator == want[i].d,
                 "rates_from: %s is %ld / %ld (got %ld / %ld)", want[i].key,
                 want[i].n, want[i].d, x->numerator, x->denominator);
        TH_CHECK(fabs(report_rate_value(x) - want[i].value) < 1e-9,
                 "rate_value: %s rounded to 4 decimals is %g (got %.17g)",
                 want[i].key, want[i].value, report_rate_value(x));
    }
    TH_CHECK(fabs(report_rate_percent(&r.rate[REPORT_RATE_OPEN]) -
                  100.0 * 3 / 7) < 1e-9,
             "rate_percent: unrounded");

    /* nothing delivered, nothing bounced: no rate, not 0 */
    memset(&c, 0, sizeof c);
    report_rates_from(&c, &r);
    TH_CHECK(report_rate_value(&r.rate[REPORT_RATE_OPEN]) == -1 &&
                 report_rate_percent(&r.rate[REPORT_RATE_BOUNCE]) == -1,
             "rate_value: -1 when the denominator is 0");
    /* everything bounced: 100% of delivered+bounced, open rate none */
    c.bounced = 4;
    report_rates_from(&c, &r);
    TH_CHECK(report_rate_value(&r.rate[REPORT_RATE_BOUNCE]) == 1.0 &&
                 report_rate_value(&r.rate[REPORT_RATE_OPEN]) == -1,
             "rate_value: all bounced is 1, opens have no denominator");
}

struct seen {
    int n;
    char line[8][160];
};

static int
each(const struct store_recipient *x, void *arg)
{
    struct seen *s = arg;

    if (s->n < 8)
        snprintf(s->line[s->n], sizeof s->line[0],
                 "%s|%s|%d|%s|%s|%s|%lld|%ld|%d",
                 x->email ? x->email : "(null)", x->state, x->code,
                 x->status ? x->status : "", x->text ? x->text : "",
                 x->bounce_class ? x->bounce_class : "",
                 (long long)x->first_open_ms, x->clicks, x->unsubscribed);
    s->n++;
    return 0;
}

static int
stop_at_two(const struct store_recipient *x, void *arg)
{
    (void)x;
    return ++*(int *)arg == 2;
}

/* the counts and the recipients, from a ledger and events written here */
static void
test_store(void)
{
    char db[256];
    struct store *st;
    struct err e;
    struct store_rate_counts c;
    struct seen s;
    int n = 0;

    snprintf(db, sizeof db, "%s/c.db", dir);
    err_clear(&e);
    st = store_open(db, STORE_OPEN_CREATE, NULL, &e);
    TH_CHECK(st != NULL, "store: created (%s)", e.msg);
    if (st == NULL)
        return;
    sql(db,
        "INSERT INTO contacts(id, email, created_at, updated_at) VALUES "
        "(1, 'a@x.test', 0, 0), (2, 'b@x.test', 0, 0), (3, 'c@x.test', 0, 0),"
        "(4, 'd@x.test', 0, 0), (5, 'e@x.test', 0, 0), (6, 'f@x.test', 0, 0);"
        "INSERT INTO campaigns(id, name, template, created_at) VALUES "
        "(1, 'one', 't', 0), (2, 'two', 't', 0);"
        /* -1: a forgotten recipient's tombstone, delivered */
        "INSERT INTO sends(campaign_id, contact_id, state, queued_at, "
        "  last_code, last_status, last_text, bounce_class) VALUES "
        "(1, 1, 'sent', 0, 250, '2.0.0', 'ok', NULL),"
        "(1, 2, 'sent', 0, 250, NULL, 'ok', NULL),"
        "(1, 3, 'sent', 0, 250, NULL, 'ok', NULL),"
        "(1, 4, 'bounced', 0, 550, '5.1.1', '=cmd', 'hard'),"
        "(1, 5, 'bounced', 0, 554, '5.7.1', 'blocked', 'blocked'),"
        "(1, 6, 'deferred', 0, 451, NULL, 'later', NULL),"
        "(1, -1, 'sent', 0, NULL, NULL, NULL, NULL),"
        "(2, 2, 'sent', 0, 250, NULL, 'ok', NULL);"
        "INSERT INTO events(campaign_id, contact_id, kind, at_ms, machine) "
        "VALUES "
        /* a: two opens (the first at 1000), two clicks, a scanner's */
        "(1, 1, 'open', 2000, 0), (1, 1, 'open', 1000, 0),"
        "(1, 1, 'click', 3000, 0), (1, 1, 'click', 4000, 0),"
        "(1, 1, 'click', 500, 1), (1, 1, 'open', 400, 1),"
        /* b: a proxy's open only, an unsubscribe by mail matched by
         * address alone (machine), a person's open in the other one */
        "(1, 2, 'open', 1000, 1), (1, 2, 'unsubscribe', 1000, 1),"
        "(2, 2, 'open', 1000, 0), (2, 2, 'click', 1000, 0),"
        /* c: a complaint; an unverified one of b does not count */
        "(1, 3, 'complaint', 1000, 0), (1, 2, 'complaint', 1000, 1),"
        /* d bounced: its open and complaint are not among the delivered */
        "(1, 4, 'open', 1000, 0), (1, 4, 'complaint', 1000, 0),"
        "(1, 4, 'unsubscribe', 1000, 0), (1, 4, 'click', 1000, 0),"
        /* the forgotten one opened */
        "(1, -1, 'open', 7000, 0);");

    TH_CHECK(store_report_counts(st, 1, &c, &e) == 0, "report_counts: ok (%s)",
             e.msg);
    TH_CHECK(c.delivered == 4, "report_counts: delivered, sent rows (got %ld)",
             c.delivered);
    TH_CHECK(c.bounced == 2, "report_counts: bounced, every class (got %ld)",
             c.bounced);
    TH_CHECK(c.complained == 1,
             "report_counts: complained, a person's, among the delivered "
             "(got %ld)",
             c.complained);
    TH_CHECK(c.unsubscribed == 1,
             "report_counts: unsubscribed, by mail too (got %ld)",
             c.unsubscribed);
    TH_CHECK(c.opened == 2,
             "report_counts: opened, people not proxies, delivered only, "
             "this campaign only (got %ld)",
             c.opened);
    TH_CHECK(c.clicked == 1, "report_counts: clicked, once a person (got %ld)",
             c.clicked);
    TH_CHECK(store_report_counts(st, 2, &c, &e) == 0 && c.delivered == 1 &&
                 c.opened == 1 && c.clicked == 1 && c.bounced == 0,
             "report_counts: the other campaign's own");
    TH_CHECK(store_report_counts(st, 99, &c, &e) == 0 && c.delivered == 0 &&
                 c.opened == 0,
             "report_counts: no such campaign, zeros");

    memset(&s, 0, sizeof s);
    TH_CHECK(store_report_recipients(st, 1, each, &s, &e) == 0,
             "report_recipients: ok (%s)", e.msg);
    TH_CHECK(s.n == 7, "report_recipients: every ledger row (got %d)", s.n);
    TH_STREQ(s.line[0], "(null)|sent|0||||7000|0|0",
             "report_recipients: the forgotten one first, no address");
    TH_STREQ(s.line[1], "a@x.test|sent|250|2.0.0|ok||1000|2|0",
             "report_recipients: first open and clicks by a person");
    TH_STREQ(s.line[2], "b@x.test|sent|250||ok||0|0|1",
             "report_recipients: a proxy's open is none; unsubscribed");
    TH_STREQ(s.line[4], "d@x.test|bounced|550|5.1.1|=cmd|hard|1000|1|1",
             "report_recipients: the bounce's reply and class");
    TH_STREQ(s.line[6], "f@x.test|deferred|451||later||0|0|0",
             "report_recipients: deferred");
    TH_CHECK(store_report_recipients(st, 1, stop_at_two, &n, &e) == 1 && n == 2,
             "report_recipients: the callback stops it");
    store_close(st);
    unlink(db);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    test_rates_from();
    test_store();
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", dir);
    }
    return TH_DONE();
}
