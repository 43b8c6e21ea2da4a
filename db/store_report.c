/* SPDX-License-Identifier: ISC */
/*
 * store_report.c - the report family (see store.h and
 * db/migrations/010_report.sql, 011_report_cover.sql,
 * 014_report_groups.sql): what `campaign report NAME` asks of the
 * database beyond the ledger's counts - the people behind a campaign's
 * rates, its recipients by domain (which engine/report.c folds into
 * providers and domains), the bounces by class, status and reply, the
 * opens and clicks over time, the links clicked.
 *
 * None of it walks the campaign's recipients or its events: the rates,
 * the domains, the hours and the links are read from the counts kept by
 * 012 and 014 (a few rows per campaign, per domain, per hour, per link:
 * the ledger's by triggers in the transaction of each change, the
 * events' by store_events_fold, which the caller runs first), and the
 * bounces
 * from sends_state's range of the bounced (named with INDEXED BY: the
 * planner has no statistics to prefer it).  So a report of a campaign of
 * ten million costs what one of ten thousand does, in time as in memory;
 * the recipients one by one (CSV) come from store_export.c.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"

enum stmt_id {
    S_RATE_COUNTS = STORE_SLOT_REPORT,
    S_BOUNCE_STATUS,
    S_BOUNCE_TOP,
    S_EVENT_TIMES,
    S_FIRST_EVENT,
    S_LINKS,
    S_GROUPS,
    S_DOMAIN_EVENTS,
    S_END
};
_Static_assert((int)S_END <= (int)STORE_SLOT_EXPORT,
               "more statements than slots");

static const char *const stmt_sql[S_END - STORE_SLOT_REPORT] = {
    /* the delivered and the bounced, and the people among the delivered
     * who complained (a verified report, not a match by address alone),
     * unsubscribed (by link or by mail), opened and clicked (a person's
     * open or click, not a machine's), from the counts the ledger's
     * triggers keep (012_ledger_counts.sql, 014_report_groups.sql): a
     * few rows, never a walk of the ledger or the events */
    [S_RATE_COUNTS - STORE_SLOT_REPORT] =
        "SELECT COALESCE(sum(n) FILTER (WHERE state = 'sent'), 0), "
        "  COALESCE(sum(n) FILTER (WHERE state = 'bounced'), 0), "
        "  COALESCE(sum(complained) FILTER (WHERE state = 'sent'), 0), "
        "  COALESCE(sum(unsubscribed) FILTER (WHERE state = 'sent'), 0), "
        "  COALESCE(sum(opened) FILTER (WHERE state = 'sent'), 0), "
        "  COALESCE(sum(clicked) FILTER (WHERE state = 'sent'), 0) "
        "FROM ledger_counts WHERE campaign_id = ?1 "
        "  AND (state = 'sent' OR state = 'bounced')",
    /* bounced recipients by class and enhanced status, the largest
     * first.  Here and below, sends_state is named: without statistics
     * the planner walks the campaign's primary key (every recipient) for
     * the few bounced. */
    [S_BOUNCE_STATUS - STORE_SLOT_REPORT] =
        "SELECT bounce_class, COALESCE(last_status, ''), count(*) "
        "FROM sends INDEXED BY sends_state "
        "WHERE campaign_id = ?1 AND state = 'bounced' "
        "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
    /* bounced recipients by their last reply (the relay's, or the DSN's
     * once one came back), with one address of each */
    [S_BOUNCE_TOP - STORE_SLOT_REPORT] =
        "SELECT s.state, s.bounce_class, s.last_code, s.last_status, "
        "  s.last_text, count(*), min(c.email) "
        "FROM sends s INDEXED BY sends_state "
        "LEFT JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND s.state = 'bounced' "
        "GROUP BY 2, 3, 4, 5 ORDER BY 6 DESC, 2, 4, 5 LIMIT ?2",
    /* the campaign's opens and clicks by the hour, as 014_report_groups
     * keeps them */
    [S_EVENT_TIMES - STORE_SLOT_REPORT] =
        "SELECT click, machine, hour * 3600000, n FROM event_hours "
        "WHERE campaign_id = ?1 AND n > 0",
    [S_FIRST_EVENT - STORE_SLOT_REPORT] =
        "SELECT min(hour) * 3600000 FROM event_hours "
        "WHERE campaign_id = ?1 AND n > 0",
    /* people's clicks by link, the most clicked first */
    [S_LINKS - STORE_SLOT_REPORT] =
        "SELECT url, n, people FROM event_links "
        "WHERE campaign_id = ?1 AND n > 0 ORDER BY 2 DESC, 1 LIMIT ?2",
    /* the recipients by domain as 014_report_groups keeps them, in the
     * primary key's order */
    [S_GROUPS - STORE_SLOT_REPORT] =
        "SELECT domain, state, NULLIF(class, ''), coded, retried, uncertain, "
        "  people, n FROM report_groups "
        "WHERE campaign_id = ?1 AND n > 0",
    [S_DOMAIN_EVENTS - STORE_SLOT_REPORT] =
        "SELECT domain, opens, clicks FROM domain_events "
        "WHERE campaign_id = ?1 AND (opens > 0 OR clicks > 0)",
};

/* stmt - the family's statement id, prepared once, reset. */
static sqlite3_stmt *
stmt(struct store *st, enum stmt_id id, struct err *e)
{
    return store_stmt(st, (int)id, stmt_sql[id - STORE_SLOT_REPORT], e);
}

/* done - reset s after its last step rc; -1 (e filled) unless the query
 * ran to its end or was stopped by a callback. */
static int
done(struct store *st, sqlite3_stmt *s, int rc, const char *what, struct err *e)
{
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, what);
    return 0;
}

int
store_report_counts(struct store *st, int64_t campaign,
                    struct store_rate_counts *c, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_RATE_COUNTS, e);
    int rc;

    memset(c, 0, sizeof *c);
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        c->delivered = (long)sqlite3_column_int64(s, 0);
        c->bounced = (long)sqlite3_column_int64(s, 1);
        c->complained = (long)sqlite3_column_int64(s, 2);
        c->unsubscribed = (long)sqlite3_column_int64(s, 3);
        c->opened = (long)sqlite3_column_int64(s, 4);
        c->clicked = (long)sqlite3_column_int64(s, 5);
    }
    return done(st, s, rc, "count the campaign's rates", e);
}

int
store_report_bounce_status(struct store *st, int64_t campaign,
                           store_reply_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_BOUNCE_STATUS, e);
    struct store_reply r;
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&r, 0, sizeof r);
        r.state = "bounced";
        r.bounce_class = (const char *)sqlite3_column_text(s, 0);
        r.status = (const char *)sqlite3_column_text(s, 1);
        r.count = (long)sqlite3_column_int64(s, 2);
        if (cb(&r, arg) != 0)
            break;
    }
    return done(st, s, rc, "count the campaign's bounces", e);
}

int
store_report_bounce_top(struct store *st, int64_t campaign, long limit,
                        store_reply_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_BOUNCE_TOP, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
    return store_reply_rows(st, s, cb, arg,
                            "read the campaign's bounce replies", e);
}

int
store_report_event_times(struct store *st, int64_t campaign,
                         store_event_time_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_EVENT_TIMES, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb(sqlite3_column_int64(s, 2), sqlite3_column_int(s, 0),
               sqlite3_column_int(s, 1), (long)sqlite3_column_int64(s, 3),
               arg) != 0)
            break;
    return done(st, s, rc, "read the campaign's opens and clicks", e);
}

int
store_report_first_event(struct store *st, int64_t campaign, int64_t *at_ms,
                         struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_FIRST_EVENT, e);
    int rc, found = 0;

    *at_ms = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW &&
        sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *at_ms = sqlite3_column_int64(s, 0);
        found = 1;
    }
    if (done(st, s, rc, "read the campaign's first open", e) == -1)
        return -1;
    return found;
}

int
store_report_links(struct store *st, int64_t campaign, long limit,
                   store_link_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_LINKS, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb((const char *)sqlite3_column_text(s, 0),
               (long)sqlite3_column_int64(s, 1),
               (long)sqlite3_column_int64(s, 2), arg) != 0)
            break;
    return done(st, s, rc, "count the campaign's links", e);
}

int
store_report_groups(struct store *st, int64_t campaign, store_group_cb cb,
                    void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_GROUPS, e);
    struct store_group_row g;
    int rc, stop = 0;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        g.domain = (const char *)sqlite3_column_text(s, 0);
        g.state = (const char *)sqlite3_column_text(s, 1);
        g.bounce_class = (const char *)sqlite3_column_text(s, 2);
        g.coded = sqlite3_column_int(s, 3);
        g.retried = sqlite3_column_int(s, 4);
        g.uncertain = sqlite3_column_int(s, 5);
        g.people = sqlite3_column_int(s, 6);
        g.n = (long)sqlite3_column_int64(s, 7);
        if ((stop = cb(&g, arg)) != 0)
            break;
    }
    if (done(st, s, rc, "read the campaign's recipients by domain", e) == -1)
        return -1;
    return stop;
}

int
store_report_domain_events(struct store *st, int64_t campaign,
                           store_domain_events_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_DOMAIN_EVENTS, e);
    int rc, stop = 0;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if ((stop = cb((const char *)sqlite3_column_text(s, 0),
                       (long)sqlite3_column_int64(s, 1),
                       (long)sqlite3_column_int64(s, 2), arg)) != 0)
            break;
    if (done(st, s, rc, "read the campaign's opens and clicks by domain", e) ==
        -1)
        return -1;
    return stop;
}
