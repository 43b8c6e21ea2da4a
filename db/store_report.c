/* SPDX-License-Identifier: ISC */
/*
 * store_report.c - the report family (see store.h and
 * db/migrations/010_report.sql): what `campaign report` asks of the
 * ledger and the events beyond the ledger's counts.  The people behind
 * a campaign's rates, each an aggregate answered by SQLite through an
 * index (sends' primary key and sends_state, events_campaign).  Nothing
 * here loads rows into memory: a campaign of a million recipients costs
 * what one of ten does, in memory.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"

enum stmt_id { S_RATE_COUNTS = STORE_SLOT_REPORT, S_END };
_Static_assert((int)S_END <= (int)STORE_SLOT_EXPORT,
               "more statements than slots");

/* S_RATE_COUNTS's people: those among the campaign's (?1) delivered
 * recipients (rows `sent`) with an event of a kind.  Driven from the
 * events (CROSS JOIN keeps that order): events_campaign gives the
 * campaign's events of the kind in contact order, and each person is one
 * look-up of sends' primary key.  Complaints as the ledger's other
 * readers count them (not a machine's: one matched by address alone,
 * unverified), unsubscribes by link or by mail, opens and clicks by
 * people. */
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
