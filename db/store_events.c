/* SPDX-License-Identifier: ISC */
/*
 * store_events.c - the events family (see store.h and
 * db/migrations/004_events.sql): opens, clicks, unsubscribes and web
 * views recorded by `campaign serve`.
 *
 * An event is recorded only for a recipient of the campaign (a row of
 * its ledger): a token made for a --test-to sample, or for a contact
 * forgotten since, records nothing.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"

enum stmt_id {
    S_EVENT_ADD = STORE_SLOT_EVENTS,
    S_EVENT_HAS,
    S_EVENT_OTHER_CLICKS,
    S_EVENT_FLAG_MACHINE,
    S_EVENT_COUNTS,
    S_END
};
_Static_assert((int)S_END <= (int)STORE_STMT_MAX, "more statements than slots");

static const char *const stmt_sql[S_END - STORE_SLOT_EVENTS] = {
    [S_EVENT_ADD - STORE_SLOT_EVENTS] =
        "INSERT INTO events(campaign_id, contact_id, kind, url, at_ms, "
        "  machine, machine_reason, ua_class, ip) "
        "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 "
        "WHERE EXISTS (SELECT 1 FROM sends "
        "  WHERE campaign_id = ?1 AND contact_id = ?2)",
    [S_EVENT_HAS - STORE_SLOT_EVENTS] =
        "SELECT 1 FROM events WHERE campaign_id = ?1 AND contact_id = ?2 "
        "  AND kind = ?3 AND (?4 < 0 OR machine = ?4) LIMIT 1",
    [S_EVENT_OTHER_CLICKS - STORE_SLOT_EVENTS] =
        "SELECT count(DISTINCT url) FROM events "
        "WHERE campaign_id = ?1 AND contact_id = ?2 AND kind = 'click' "
        "  AND at_ms >= ?3 AND url IS NOT ?4",
    /* the clicks of a burst, and the opens they implied */
    [S_EVENT_FLAG_MACHINE - STORE_SLOT_EVENTS] =
        "UPDATE events SET machine = 1, machine_reason = ?4 "
        "WHERE campaign_id = ?1 AND contact_id = ?2 "
        "  AND (kind = 'click' OR kind = 'open') AND at_ms >= ?3 "
        "  AND machine = 0",
    [S_EVENT_COUNTS - STORE_SLOT_EVENTS] =
        "SELECT kind, machine, count(*), count(DISTINCT contact_id) "
        "FROM events WHERE campaign_id = ?1 GROUP BY kind, machine",
};

/* stmt - the family's statement id, prepared once, reset. */
static sqlite3_stmt *
stmt(struct store *st, enum stmt_id id, struct err *e)
{
    return store_stmt(st, (int)id, stmt_sql[id - STORE_SLOT_EVENTS], e);
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v != NULL)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

int
store_event_add(struct store *st, const struct store_event *ev, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_EVENT_ADD, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, ev->campaign_id);
    sqlite3_bind_int64(s, 2, ev->contact_id);
    sqlite3_bind_text(s, 3, ev->kind, -1, SQLITE_STATIC);
    bind_text(s, 4, ev->url);
    sqlite3_bind_int64(s, 5, ev->at_ms);
    sqlite3_bind_int(s, 6, ev->machine ? 1 : 0);
    bind_text(s, 7, ev->machine ? ev->machine_reason : NULL);
    bind_text(s, 8, ev->ua_class);
    bind_text(s, 9, ev->ip);
    if (store_stmt_done(st, s, e, "record event") == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

int
store_event_has(struct store *st, int64_t campaign, int64_t contact,
                const char *kind, int machine, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_EVENT_HAS, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, contact);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, machine);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read events");
    return rc == SQLITE_ROW;
}

int
store_event_other_clicks(struct store *st, int64_t campaign, int64_t contact,
                         const char *url, int64_t since_ms, long *n,
                         struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_EVENT_OTHER_CLICKS, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, contact);
    sqlite3_bind_int64(s, 3, since_ms);
    bind_text(s, 4, url);
    rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? (long)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read events");
    return 0;
}

int
store_event_flag_machine(struct store *st, int64_t campaign, int64_t contact,
                         int64_t since_ms, const char *reason, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_EVENT_FLAG_MACHINE, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, contact);
    sqlite3_bind_int64(s, 3, since_ms);
    sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
    return store_stmt_done(st, s, e, "flag events");
}

int
store_event_counts(struct store *st, int64_t campaign,
                   struct store_event_counts *c, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_EVENT_COUNTS, e);
    int rc;

    memset(c, 0, sizeof *c);
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        int machine = sqlite3_column_int(s, 1);
        long n = (long)sqlite3_column_int64(s, 2);
        long u = (long)sqlite3_column_int64(s, 3);
        if (strcmp(k, "open") == 0 && !machine)
            c->opens += n, c->opened_unique += u;
        else if (strcmp(k, "open") == 0)
            c->machine_opens += n, c->machine_opened_unique += u;
        else if (strcmp(k, "click") == 0 && !machine)
            c->clicks += n, c->clicked_unique += u;
        else if (strcmp(k, "click") == 0)
            c->machine_clicks += n;
        else if (strcmp(k, "unsubscribe") == 0)
            c->unsubscribed += u;
        else if (strcmp(k, "view") == 0)
            c->views += n;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, e, "count events");
    return 0;
}
