/* SPDX-License-Identifier: ISC */
/*
 * test_report.c - the rates of `campaign report` (engine/report.c) and
 * what they are counted from (db/store_report.c): each rate's numerator,
 * denominator and name; people's opens and clicks apart from machines';
 * the people counted only among the delivered, of this campaign only;
 * the recipients one by one as the CSV export reads them, a forgotten
 * one without an address; the export's merge join (db/store_export.c)
 * row for row against the correlated subqueries it replaced.
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

/* store_events_fold's: the events it left uncounted */
static long fold_pending;

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

    /* counted as a report counts them: the events since the last fold */
    TH_CHECK(store_events_fold(st, &fold_pending, &e) == 0 &&
                 store_report_counts(st, 1, &c, &e) == 0,
             "report_counts: ok (%s)", e.msg);
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

/* The export as one query of correlated subqueries (the form
 * db/store_export.c's merge join replaced): what each row must be. */
static const char correlated_sql[] =
    "SELECT s.campaign_id, k.name, c.email, s.state, s.last_code, "
    "  s.last_status, s.last_text, s.bounce_class, "
    "  (SELECT min(e.at_ms) FROM events e WHERE e.campaign_id = s.campaign_id "
    "     AND e.kind = 'open' AND e.machine = 0 "
    "     AND e.contact_id = s.contact_id), "
    "  (SELECT count(*) FROM events e WHERE e.campaign_id = s.campaign_id "
    "     AND e.kind = 'click' AND e.machine = 0 "
    "     AND e.contact_id = s.contact_id), "
    "  EXISTS (SELECT 1 FROM events e WHERE e.campaign_id = s.campaign_id "
    "     AND e.kind = 'unsubscribe' AND e.contact_id = s.contact_id) "
    "FROM campaigns k JOIN sends s ON s.campaign_id = k.id "
    "  LEFT JOIN contacts c ON c.id = s.contact_id "
    "WHERE ?1 = 0 OR k.id = ?1 ORDER BY k.id, s.contact_id";

/* a row as text: campaign, name, and the fields of each() */
static void
row_text(char *buf, size_t n, int64_t campaign, const char *name,
         const char *email, const char *state, int code, const char *status,
         const char *text, const char *bounce_class, long long first_open,
         long clicks, int unsubscribed)
{
    snprintf(buf, n, "%lld|%s|%s|%s|%d|%s|%s|%s|%lld|%ld|%d",
             (long long)campaign, name ? name : "(null)",
             email ? email : "(null)", state, code, status ? status : "",
             text ? text : "", bounce_class ? bounce_class : "", first_open,
             clicks, unsubscribed);
}

struct rows {
    int n;
    char line[64][200];
};

static int
collect(const struct store_recipient *x, void *arg)
{
    struct rows *r = arg;

    if (r->n < 64)
        row_text(r->line[r->n], sizeof r->line[0], x->campaign_id, x->campaign,
                 x->email, x->state, x->code, x->status, x->text,
                 x->bounce_class, (long long)x->first_open_ms, x->clicks,
                 x->unsubscribed);
    r->n++;
    return 0;
}

/* correlated - the rows of correlated_sql for campaign (0: every one) */
static void
correlated(const char *db, int64_t campaign, struct rows *r)
{
    sqlite3 *h;
    sqlite3_stmt *s;

    memset(r, 0, sizeof *r);
    sqlite3_open(db, &h);
    if (sqlite3_prepare_v2(h, correlated_sql, -1, &s, NULL) != SQLITE_OK) {
        printf("# sql: %s\n", sqlite3_errmsg(h));
        sqlite3_close(h);
        return;
    }
    sqlite3_bind_int64(s, 1, campaign);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (r->n < 64)
            row_text(
                r->line[r->n], sizeof r->line[0], sqlite3_column_int64(s, 0),
                (const char *)sqlite3_column_text(s, 1),
                (const char *)sqlite3_column_text(s, 2),
                (const char *)sqlite3_column_text(s, 3),
                sqlite3_column_int(s, 4),
                (const char *)sqlite3_column_text(s, 5),
                (const char *)sqlite3_column_text(s, 6),
                (const char *)sqlite3_column_text(s, 7),
                (long long)sqlite3_column_int64(s, 8),
                (long)sqlite3_column_int64(s, 9), sqlite3_column_int(s, 10));
        r->n++;
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
}

/* same_rows - got and want alike, line for line; the first difference
 * printed */
static int
same_rows(const struct rows *got, const struct rows *want)
{
    if (got->n != want->n) {
        printf("#   %d rows, want %d\n", got->n, want->n);
        return 0;
    }
    for (int i = 0; i < got->n && i < 64; i++)
        if (strcmp(got->line[i], want->line[i]) != 0) {
            printf("#   row %d: got  \"%s\"\n#          want \"%s\"\n", i,
                   got->line[i], want->line[i]);
            return 0;
        }
    return 1;
}

static int
stop_in_second(const struct store_recipient *x, void *arg)
{
    int *n = arg;

    ++*n;
    return x->campaign_id == 2;
}

/* the merge join against the correlated subqueries, on a ledger and
 * events that try every way a feed could get out of step */
static void
test_recipients_join(void)
{
    char db[256];
    struct store *st;
    struct err e;
    struct rows got, want;
    int n = 0;

    snprintf(db, sizeof db, "%s/j.db", dir);
    err_clear(&e);
    st = store_open(db, STORE_OPEN_CREATE, NULL, &e);
    TH_CHECK(st != NULL, "join: created (%s)", e.msg);
    if (st == NULL)
        return;
    sql(db,
        "INSERT INTO contacts(id, email, created_at, updated_at) VALUES "
        "(1, 'a@x.test', 0, 0), (2, 'b@x.test', 0, 0), (3, 'c@x.test', 0, 0),"
        "(4, 'd@x.test', 0, 0), (5, 'e@x.test', 0, 0), (6, 'f@x.test', 0, 0),"
        "(7, 'g@x.test', 0, 0), (8, 'h@x.test', 0, 0), (9, 'i@x.test', 0, 0);"
        "INSERT INTO campaigns(id, name, template, created_at) VALUES "
        "(1, 'one', 't', 0), (2, 'two', 't', 0), (3, 'empty', 't', 0),"
        "(4, '=four', 't', 0);"
        /* one: forgotten -5 and -2, and 2, 3, 5, 8; no row for -9, -3,
         * 1, 4, 6, 7, 9, which have events below */
        "INSERT INTO sends(campaign_id, contact_id, state, queued_at, "
        "  last_code, last_status, last_text, bounce_class) VALUES "
        "(1, -5, 'sent', 0, 250, NULL, NULL, NULL),"
        "(1, -2, 'bounced', 0, 550, '5.1.1', 'gone', 'hard'),"
        "(1, 2, 'sent', 0, 250, '2.0.0', 'ok', NULL),"
        "(1, 3, 'sent', 0, 250, NULL, 'ok', NULL),"
        "(1, 5, 'deferred', 0, 451, NULL, 'later', NULL),"
        "(1, 8, 'sent', 0, 250, NULL, 'ok', NULL),"
        /* two: 1, 2, 3 and 9 */
        "(2, 1, 'sent', 0, 250, NULL, 'ok', NULL),"
        "(2, 2, 'sent', 0, 250, NULL, 'ok', NULL),"
        "(2, 3, 'failed', 0, 552, NULL, 'big', NULL),"
        "(2, 9, 'sent', 0, 250, NULL, 'ok', NULL),"
        /* four: one row, its events all elsewhere */
        "(4, 4, 'sent', 0, 250, NULL, 'ok', NULL);"
        "INSERT INTO events(campaign_id, contact_id, kind, at_ms, machine) "
        "VALUES "
        /* before the first recipient, between, after the last: no row */
        "(1, -9, 'open', 10, 0), (1, -9, 'click', 10, 0),"
        "(1, -9, 'unsubscribe', 10, 0), (1, -3, 'open', 20, 0),"
        "(1, -3, 'click', 20, 0), (1, 1, 'open', 30, 0),"
        "(1, 1, 'unsubscribe', 30, 1), (1, 4, 'click', 40, 0),"
        "(1, 4, 'open', 40, 0), (1, 6, 'unsubscribe', 60, 0),"
        "(1, 7, 'open', 70, 0), (1, 9, 'open', 90, 0),"
        "(1, 9, 'click', 90, 0), (1, 9, 'unsubscribe', 90, 1),"
        /* forgotten -5: two opens, the first at 500; a click */
        "(1, -5, 'open', 700, 0), (1, -5, 'open', 500, 0),"
        "(1, -5, 'click', 800, 0),"
        /* forgotten -2: a machine's open and click only */
        "(1, -2, 'open', 100, 1), (1, -2, 'click', 100, 1),"
        /* 2: three opens (the first at 2000), a machine's earlier; three
         * clicks of a person, two of a machine; unsubscribed twice */
        "(1, 2, 'open', 3000, 0), (1, 2, 'open', 2000, 0),"
        "(1, 2, 'open', 2500, 0), (1, 2, 'open', 1000, 1),"
        "(1, 2, 'click', 3100, 0), (1, 2, 'click', 3200, 0),"
        "(1, 2, 'click', 3300, 0), (1, 2, 'click', 3000, 1),"
        "(1, 2, 'click', 3050, 1), (1, 2, 'unsubscribe', 4000, 0),"
        "(1, 2, 'unsubscribe', 4100, 0),"
        /* 3: nothing in one; opened, clicked, unsubscribed in two */
        "(2, 3, 'open', 50, 0), (2, 3, 'click', 60, 0),"
        "(2, 3, 'unsubscribe', 70, 0),"
        /* 5: unsubscribed by mail alone (machine), a view, a complaint */
        "(1, 5, 'unsubscribe', 5000, 1), (1, 5, 'view', 5000, 0),"
        "(1, 5, 'complaint', 5000, 0),"
        /* 8: a machine's open, then a person's */
        "(1, 8, 'open', 100, 1), (1, 8, 'open', 8000, 0),"
        /* two: 1 opened in two (and in one, without a row there); 9 */
        "(2, 1, 'open', 111, 0), (2, 1, 'open', 99, 0),"
        "(2, 9, 'click', 900, 0), (2, 9, 'click', 901, 1),"
        /* a campaign with no ledger row: events only */
        "(3, 2, 'open', 1, 0), (3, 2, 'click', 1, 0),"
        /* four's contact 4: events in one (above) and these of a
         * contact with no row in four */
        "(4, 5, 'open', 1, 0), (4, 5, 'unsubscribe', 1, 0);");

    for (int64_t k = 1; k <= 5; k++) {
        memset(&got, 0, sizeof got);
        correlated(db, k, &want);
        TH_CHECK(store_report_recipients(st, k, collect, &got, &e) == 0,
                 "join: campaign %lld read (%s)", (long long)k, e.msg);
        TH_CHECK(same_rows(&got, &want),
                 "join: campaign %lld, the rows of the correlated "
                 "subqueries (%d)",
                 (long long)k, want.n);
    }
    /* a few rows spelled out, so that the reference is checked too */
    correlated(db, 1, &want);
    TH_CHECK(want.n == 6, "join: one has 6 rows (got %d)", want.n);
    TH_STREQ(want.line[0], "1|one|(null)|sent|250||||500|1|0",
             "join: forgotten -5, its first open and a click");
    TH_STREQ(want.line[1], "1|one|(null)|bounced|550|5.1.1|gone|hard|0|0|0",
             "join: forgotten -2, a machine's open and click are none");
    TH_STREQ(want.line[2], "1|one|b@x.test|sent|250|2.0.0|ok||2000|3|1",
             "join: 2, the first of three opens, a person's clicks");
    TH_STREQ(want.line[3], "1|one|c@x.test|sent|250||ok||0|0|0",
             "join: 3, nothing of the other campaign's");
    TH_STREQ(want.line[4], "1|one|e@x.test|deferred|451||later||0|0|1",
             "join: 5, unsubscribed by mail (machine)");
    TH_STREQ(want.line[5], "1|one|h@x.test|sent|250||ok||8000|0|0",
             "join: 8, a person's open after a machine's");

    memset(&got, 0, sizeof got);
    correlated(db, 0, &want);
    TH_CHECK(store_report_recipients_all(st, collect, &got, &e) == 0,
             "join: every campaign read (%s)", e.msg);
    TH_CHECK(want.n == 11 && same_rows(&got, &want),
             "join: every campaign, in id order, the rows of the correlated "
             "subqueries (%d)",
             want.n);
    TH_CHECK(store_report_recipients_all(st, stop_in_second, &n, &e) == 1 &&
                 n == 7,
             "join: the callback stops every campaign's (after %d)", n);
    /* after a stop, the statements start over */
    memset(&got, 0, sizeof got);
    TH_CHECK(
        store_report_recipients(st, 2, collect, &got, &e) == 0 && got.n == 4 &&
            strcmp(got.line[0], "2|two|a@x.test|sent|250||ok||99|0|0") == 0,
        "join: read again after a stop (%d: %s)", got.n, got.line[0]);
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
    test_recipients_join();
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", dir);
    }
    return TH_DONE();
}
