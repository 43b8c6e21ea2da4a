/* SPDX-License-Identifier: ISC */
/*
 * store_export.c - the export family (see store.h): a campaign's
 * recipients one a row with what came of them, for `campaign report
 * [NAME] --format csv`.  Owns the SQL of that stream and nothing else
 * (`report NAME` reads its domains from kept counts, store_report.c).
 *
 * A merge join, done here in C: the ledger's rows (sends LEFT JOIN
 * contacts) stream in contact order, the primary key's, and beside them
 * five feeds of the campaign's events, each a row per contact in contact
 * order from the covering index events_campaign (migration 011): a
 * person's opens (the first one's time), a person's clicks, the
 * unsubscribes, a person's and the unverified ones by mail (machine 1),
 * and the complaints (verified ones).  Each feed moves
 * forward only, in step with the ledger, so every row of the ledger and of
 * the index is read once and nothing is held in memory: no look-up per
 * recipient, no sort.  Events of a contact without a ledger row in the
 * campaign are passed over; a forgotten recipient (a tombstone id, negative)
 * sorts first in the ledger and in the feeds alike.
 *
 * One read transaction: the statement over the campaigns stays active
 * from the first row to the last, so the ledger and the feeds of every
 * campaign are read from one snapshot of the database.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"

enum stmt_id {
    S_CAMPAIGNS = STORE_SLOT_EXPORT,
    S_LEDGER,
    S_OPENS,
    S_CLICKS,
    S_UNSUBSCRIBES,
    S_UNSUBSCRIBES_MACHINE,
    S_COMPLAINTS,
    S_END
};
_Static_assert((int)S_END <= (int)STORE_STMT_MAX, "more statements than slots");

/* FEED - the campaign's (?1) events of a kind, by a person (machine 0)
 * or by a machine (1), a row each (cols: the contact, then what else is
 * wanted) in contact order, a contact's in time order: the covering index
 * events_campaign's own order, so no sort and no temporary table.  Rows,
 * not a GROUP BY: feed_at counts them as it passes, which took 0.1 s less
 * of scripts/bench/report's 1,000,000 rows.  The store writes machine as 0 or 1
 * (store_events.c), so a person's and a machine's feeds of a kind are
 * every event of it. */
#define FEED(cols, kind, machine)                                              \
    "SELECT " cols " FROM events WHERE campaign_id = ?1 AND kind = '" kind     \
    "' AND machine = " machine " ORDER BY contact_id, at_ms"

static const char *const stmt_sql[S_END - STORE_SLOT_EXPORT] = {
    /* the campaigns from ?1 to ?2, in id order */
    [S_CAMPAIGNS - STORE_SLOT_EXPORT] =
        "SELECT id, name FROM campaigns WHERE id BETWEEN ?1 AND ?2 "
        "ORDER BY id",
    /* every recipient, forgotten ones (a tombstone id, no contact)
     * without an address; in contact order, which is the primary key's */
    [S_LEDGER - STORE_SLOT_EXPORT] =
        "SELECT s.contact_id, c.email, s.state, s.last_code, s.last_status, "
        "  s.last_text, s.bounce_class, s.attempts, s.was_uncertain "
        "FROM sends s LEFT JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 ORDER BY s.contact_id",
    [S_OPENS - STORE_SLOT_EXPORT] = FEED("contact_id, at_ms", "open", "0"),
    [S_CLICKS - STORE_SLOT_EXPORT] = FEED("contact_id", "click", "0"),
    [S_UNSUBSCRIBES - STORE_SLOT_EXPORT] =
        FEED("contact_id", "unsubscribe", "0"),
    [S_UNSUBSCRIBES_MACHINE - STORE_SLOT_EXPORT] =
        FEED("contact_id", "unsubscribe", "1"),
    [S_COMPLAINTS - STORE_SLOT_EXPORT] = FEED("contact_id", "complaint", "0"),
};

/* stmt - the family's statement id, prepared once, reset. */
static sqlite3_stmt *
stmt(struct store *st, enum stmt_id id, struct err *e)
{
    return store_stmt(st, (int)id, stmt_sql[id - STORE_SLOT_EXPORT], e);
}

/* One feed of the merge join: its statement and the row it stands on. */
struct feed {
    sqlite3_stmt *s;
    int64_t contact; /* the row's contact (live == 1) */
    int64_t at_ms;   /* and its time (S_OPENS) */
    int live;        /* 1: on a row, 0: past the last, -1: failed */
};

/* feed_next - the feed's next row. */
static void
feed_next(struct feed *f)
{
    int rc = sqlite3_step(f->s);

    if (rc == SQLITE_ROW) {
        f->contact = sqlite3_column_int64(f->s, 0);
        f->live = 1;
    } else
        f->live = rc == SQLITE_DONE ? 0 : -1;
}

/* feed_at - how many rows the feed has of contact, *first_ms the time of
 * the first (when the feed has times, first_ms not NULL); the rows of the
 * contacts before it (events of no recipient) are passed over, and the
 * contact's own.  Called with contacts in increasing order. */
static long
feed_at(struct feed *f, int64_t contact, int64_t *first_ms)
{
    long n = 0;

    while (f->live == 1 && f->contact < contact)
        feed_next(f);
    if (f->live == 1 && f->contact == contact && first_ms != NULL)
        *first_ms = sqlite3_column_int64(f->s, 1);
    for (; f->live == 1 && f->contact == contact; feed_next(f))
        n++;
    return n;
}

/* campaign_rows - cb for every ledger row of campaign id (its name in
 * r->campaign), the feeds joined in; 0, cb's non-zero, or -1. */
static int
campaign_rows(struct store *st, struct store_recipient *r,
              store_recipient_cb cb, void *arg, struct err *e)
{
    /* f[0] the opens, f[1] the clicks, f[2] and f[3] the unsubscribes,
     * f[4] the complaints */
    static const enum stmt_id feed_id[] = {
        S_OPENS, S_CLICKS, S_UNSUBSCRIBES, S_UNSUBSCRIBES_MACHINE, S_COMPLAINTS,
    };
    enum { N_FEEDS = sizeof feed_id / sizeof *feed_id };
    struct feed f[N_FEEDS];
    sqlite3_stmt *s = stmt(st, S_LEDGER, e);
    int rc, stop = 0, failed = 0;

    if (s == NULL)
        return -1;
    memset(f, 0, sizeof f);
    for (size_t i = 0; i < N_FEEDS; i++) {
        if ((f[i].s = stmt(st, feed_id[i], e)) == NULL)
            return -1;
        sqlite3_bind_int64(f[i].s, 1, r->campaign_id);
    }
    sqlite3_bind_int64(s, 1, r->campaign_id);
    /* the feeds start once the ledger has a row */
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        for (size_t i = 0; i < N_FEEDS; i++)
            feed_next(&f[i]);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        int64_t who = sqlite3_column_int64(s, 0);
        r->email = (const char *)sqlite3_column_text(s, 1);
        r->state = (const char *)sqlite3_column_text(s, 2);
        r->code = sqlite3_column_int(s, 3);
        r->status = (const char *)sqlite3_column_text(s, 4);
        r->text = (const char *)sqlite3_column_text(s, 5);
        r->bounce_class = (const char *)sqlite3_column_text(s, 6);
        r->attempts = (long)sqlite3_column_int64(s, 7);
        r->was_uncertain = sqlite3_column_int(s, 8);
        r->first_open_ms = 0;
        r->opens = feed_at(&f[0], who, &r->first_open_ms);
        r->clicks = feed_at(&f[1], who, NULL);
        /* both feeds are passed: each moves only forward */
        r->unsubscribed = feed_at(&f[2], who, NULL) > 0;
        r->unsubscribed |= feed_at(&f[3], who, NULL) > 0;
        r->complained = feed_at(&f[4], who, NULL) > 0;
        for (size_t i = 0; i < N_FEEDS; i++)
            failed |= f[i].live == -1;
        if (failed || (stop = cb(r, arg)) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        failed = 1;
    if (failed)
        store_fail(st, e, "read the campaign's recipients");
    for (size_t i = 0; i < N_FEEDS; i++)
        sqlite3_reset(f[i].s);
    sqlite3_reset(s);
    return failed ? -1 : stop;
}

/* recipients - campaign_rows of the campaigns with an id from lo to hi,
 * in id order; as store_report_recipients. */
static int
recipients(struct store *st, int64_t lo, int64_t hi, store_recipient_cb cb,
           void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGNS, e);
    struct store_recipient r;
    int rc, stop = 0;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, lo);
    sqlite3_bind_int64(s, 2, hi);
    memset(&r, 0, sizeof r);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        r.campaign_id = sqlite3_column_int64(s, 0);
        r.campaign = (const char *)sqlite3_column_text(s, 1);
        if ((stop = campaign_rows(st, &r, cb, arg, e)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (stop != 0)
        return stop;
    if (rc != SQLITE_DONE)
        return store_fail(st, e, "read the campaigns");
    return 0;
}

int
store_report_recipients(struct store *st, int64_t campaign,
                        store_recipient_cb cb, void *arg, struct err *e)
{
    return recipients(st, campaign, campaign, cb, arg, e);
}

int
store_report_recipients_all(struct store *st, store_recipient_cb cb, void *arg,
                            struct err *e)
{
    return recipients(st, INT64_MIN, INT64_MAX, cb, arg, e);
}
