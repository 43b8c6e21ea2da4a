/* SPDX-License-Identifier: ISC */
/*
 * store_export.c - the export family (see store.h): a campaign's
 * recipients one a row with what came of them, for `campaign report NAME
 * --format csv`.  Streamed from one query in the primary key's order:
 * nothing is loaded into memory.  S_RECIPIENTS's subqueries look up one
 * recipient's events of a kind (events_campaign).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"

enum stmt_id { S_RECIPIENTS = STORE_SLOT_EXPORT, S_END };
_Static_assert((int)S_END <= (int)STORE_STMT_MAX, "more statements than slots");

static const char *const stmt_sql[S_END - STORE_SLOT_EXPORT] = {
    /* every recipient, forgotten ones (a tombstone id, no contact)
     * without an address; in contact order, which is the primary key's;
     * the first open and the clicks by a person */
    [S_RECIPIENTS - STORE_SLOT_EXPORT] =
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
    return store_stmt(st, (int)id, stmt_sql[id - STORE_SLOT_EXPORT], e);
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
