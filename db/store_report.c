/* SPDX-License-Identifier: ISC */
/*
 * store_report.c - the report family (see store.h and
 * db/migrations/010_report.sql): what `campaign report` asks of the
 * ledger and the events beyond the ledger's counts.  The people behind
 * a campaign's rates, each an aggregate answered by SQLite through an
 * index (sends' primary key and sends_state, events_campaign), and every
 * recipient with what came of them, streamed from one query.  Nothing
 * here loads rows into memory: a campaign of a million recipients costs
 * what one of ten does, in memory.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"

enum stmt_id { S_RATE_COUNTS = STORE_SLOT_REPORT, S_RECIPIENTS, S_END };
_Static_assert((int)S_END <= (int)STORE_STMT_MAX, "more statements than slots");

/* S_RATE_COUNTS's people: those among the campaign's (?1) delivered
 * recipients (rows `sent`) with an event of a kind.  Driven from the
 * events (CROSS JOIN keeps that order): events_campaign gives the
 * campaign's events of the kind in contact order, and each person is one
 * look-up of sends' primary key.  Complaints as the ledger's other
 * readers count them (not a machine's: one matched by address alone,
 * unverified), unsubscribes by link or by mail, opens and clicks by
 * people.  S_RECIPIENTS's subqueries look up one recipient's events of a
 * kind (events_campaign or events_contact). */
static const char *const stmt_sql[S_END - STORE_SLOT_REPORT] = {
    [S_RATE_COUNTS - STORE_SLOT_REPORT] =
        "SELECT "
        "  (SELECT count(*) FROM sends WHERE campaign_id = ?1 "
        "     AND state = 'sent'), "
        "  (SELECT count(*) FROM sends WHERE campaign_id = ?1 "
        "     AND state = 'bounced'), "
        "  (SELECT count(DISTINCT e.contact_id) FROM events e "
        "     CROSS JOIN sends s WHERE e.campaign_id = ?1 "
        "     AND e.kind = 'complaint' AND e.machine = 0 "
        "     AND s.campaign_id = ?1 AND s.contact_id = e.contact_id "
        "     AND s.state = 'sent'), "
        "  (SELECT count(DISTINCT e.contact_id) FROM events e "
        "     CROSS JOIN sends s WHERE e.campaign_id = ?1 "
        "     AND e.kind = 'unsubscribe' "
        "     AND s.campaign_id = ?1 AND s.contact_id = e.contact_id "
        "     AND s.state = 'sent'), "
        "  (SELECT count(DISTINCT e.contact_id) FROM events e "
        "     CROSS JOIN sends s WHERE e.campaign_id = ?1 "
        "     AND e.kind = 'open' AND e.machine = 0 "
        "     AND s.campaign_id = ?1 AND s.contact_id = e.contact_id "
        "     AND s.state = 'sent'), "
        "  (SELECT count(DISTINCT e.contact_id) FROM events e "
        "     CROSS JOIN sends s WHERE e.campaign_id = ?1 "
        "     AND e.kind = 'click' AND e.machine = 0 "
        "     AND s.campaign_id = ?1 AND s.contact_id = e.contact_id "
        "     AND s.state = 'sent')",
    /* every recipient, forgotten ones (a tombstone id, no contact)
     * without an address; in contact order, which is the primary key's;
     * the first open and the clicks by a person */
    [S_RECIPIENTS - STORE_SLOT_REPORT] =
        "SELECT c.email, s.state, s.last_code, s.last_status, s.last_text, "
        "  s.bounce_class, "
        "  (SELECT min(e.at_ms) FROM events e WHERE e.campaign_id = ?1 "
        "     AND e.kind = 'open' AND e.machine = 0 "
        "     AND e.contact_id = s.contact_id), "
        "  (SELECT count(*) FROM events e WHERE e.campaign_id = ?1 "
        "     AND e.kind = 'click' AND e.machine = 0 "
        "     AND e.contact_id = s.contact_id), "
        "  EXISTS (SELECT 1 FROM events e WHERE e.campaign_id = ?1 "
        "     AND e.kind = 'unsubscribe' AND e.contact_id = s.contact_id) "
        "FROM sends s LEFT JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 ORDER BY s.contact_id",
};

/* stmt - the family's statement id, prepared once, reset. */
static sqlite3_stmt *
stmt(struct store *st, enum stmt_id id, struct err *e)
{
    return store_stmt(st, (int)id, stmt_sql[id - STORE_SLOT_REPORT], e);
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
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "count the campaign's rates");
    return 0;
}

int
store_report_recipients(struct store *st, int64_t campaign,
                        store_recipient_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_RECIPIENTS, e);
    struct store_recipient r;
    int rc, stop = 0;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        r.email = (const char *)sqlite3_column_text(s, 0);
        r.state = (const char *)sqlite3_column_text(s, 1);
        r.code = sqlite3_column_int(s, 2);
        r.status = (const char *)sqlite3_column_text(s, 3);
        r.text = (const char *)sqlite3_column_text(s, 4);
        r.bounce_class = (const char *)sqlite3_column_text(s, 5);
        r.first_open_ms = sqlite3_column_int64(s, 6);
        r.clicks = (long)sqlite3_column_int64(s, 7);
        r.unsubscribed = sqlite3_column_int(s, 8);
        if ((stop = cb(&r, arg)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read the campaign's recipients");
    return stop;
}
