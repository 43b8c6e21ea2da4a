/* SPDX-License-Identifier: ISC */
/*
 * store_report.c - the report family (see store.h and
 * db/migrations/010_report.sql, 011_report_cover.sql): what `campaign
 * report` asks of the ledger and the events beyond the ledger's counts -
 * the people behind a campaign's rates, the funnel, the bounces by class,
 * status and reply, the opens and clicks over time, the links clicked
 * (the recipients one by one, which engine/report.c groups by provider
 * and domain, come from store_export.c).  Each is an
 * aggregate answered by SQLite from an index (sends' primary key, sends_state
 * and events_campaign, which cover what is asked), or a stream of index entries
 * the caller folds into a bounded number of buckets.  Nothing here loads rows
 * into memory: a campaign of a million recipients costs what one of ten does,
 * in memory.
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
    S_END
};
_Static_assert((int)S_END <= (int)STORE_SLOT_EXPORT,
               "more statements than slots");

/* The ledger states other than sent, as an SQL list: a person counted
 * among the delivered is one whose row is sent, so the people of a kind
 * among the delivered are all the people of that kind (one walk of
 * events_campaign, in contact order: a distinct count without a sort)
 * less those whose row is in one of these states (a few look-ups). */
#define NOT_SENT                                                               \
    "('queued', 'sending', 'deferred', 'bounced', 'failed', 'skipped', "       \
    "'expired', 'uncertain', 'cancelled', 'unbuildable', 'held')"

/* PEOPLE(kind, machine) - the people among the campaign's (?1) delivered
 * recipients with an event of kind (machine: an SQL condition on
 * e.machine): complaints as the ledger's other readers count them (not a
 * machine's: one matched by address alone, unverified), unsubscribes by
 * link or by mail, opens and clicks by people. */
#define PEOPLE(kind, machine)                                                  \
    "(SELECT count(DISTINCT e.contact_id) FROM events e "                      \
    "   WHERE e.campaign_id = ?1 AND e.kind = '" kind "' AND " machine ") - "  \
    "(SELECT count(*) FROM sends s WHERE s.campaign_id = ?1 "                  \
    "   AND s.state IN " NOT_SENT " AND EXISTS (SELECT 1 FROM events e "       \
    "   WHERE e.campaign_id = ?1 AND e.kind = '" kind "' AND " machine         \
    "   AND e.contact_id = s.contact_id))"

/* the people of each kind among the delivered, as S_RATE_COUNTS asks */
#define COMPLAINED PEOPLE("complaint", "e.machine = 0")
#define UNSUBSCRIBED PEOPLE("unsubscribe", "e.machine IN (0, 1)")
#define OPENED PEOPLE("open", "e.machine = 0")
#define CLICKED PEOPLE("click", "e.machine = 0")

static const char *const stmt_sql[S_END - STORE_SLOT_REPORT] = {
    /* the delivered and the bounced from the counts the ledger's
     * triggers keep (012_ledger_counts.sql), not a walk of its rows */
    [S_RATE_COUNTS - STORE_SLOT_REPORT] =
        "SELECT "
        "  (SELECT COALESCE(sum(n), 0) FROM ledger_counts "
        "     WHERE campaign_id = ?1 AND state = 'sent'), "
        "  (SELECT COALESCE(sum(n), 0) FROM ledger_counts "
        "     WHERE campaign_id = ?1 AND state = 'bounced'), " COMPLAINED
        ", " UNSUBSCRIBED ", " OPENED ", " CLICKED,
    /* bounced recipients by class and enhanced status, the largest first */
    [S_BOUNCE_STATUS - STORE_SLOT_REPORT] =
        "SELECT bounce_class, COALESCE(last_status, ''), count(*) "
        "FROM sends WHERE campaign_id = ?1 AND state = 'bounced' "
        "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
    /* bounced recipients by their last reply (the relay's, or the DSN's
     * once one came back), with one address of each */
    [S_BOUNCE_TOP - STORE_SLOT_REPORT] =
        "SELECT s.state, s.bounce_class, s.last_code, s.last_status, "
        "  s.last_text, count(*), min(c.email) "
        "FROM sends s LEFT JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND s.state = 'bounced' "
        "GROUP BY 2, 3, 4, 5 ORDER BY 6 DESC, 2, 4, 5 LIMIT ?2",
    /* the campaign's opens and clicks with their instants, from the index
     * alone (events_campaign holds at_ms) */
    [S_EVENT_TIMES - STORE_SLOT_REPORT] =
        "SELECT kind = 'click', machine, at_ms FROM events "
        "WHERE campaign_id = ?1 AND kind IN ('open', 'click')",
    [S_FIRST_EVENT - STORE_SLOT_REPORT] =
        "SELECT min(at_ms) FROM events "
        "WHERE campaign_id = ?1 AND kind IN ('open', 'click')",
    /* people's clicks by link, the most clicked first */
    [S_LINKS - STORE_SLOT_REPORT] =
        "SELECT COALESCE(url, ''), count(*), count(DISTINCT contact_id) "
        "FROM events WHERE campaign_id = ?1 AND kind = 'click' "
        "  AND machine = 0 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?2",
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
               sqlite3_column_int(s, 1), arg) != 0)
            break;
    return done(st, s, rc, "read the campaign's opens and clicks", e);
}

int
store_report_first_event(struct store *st, int64_t campaign, int64_t *at_ms,
                         struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_FIRST_EVENT, e);
    int rc;

    *at_ms = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        *at_ms = sqlite3_column_int64(s, 0);
    return done(st, s, rc, "read the campaign's first open", e);
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
