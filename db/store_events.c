/* SPDX-License-Identifier: ISC */
/*
 * store_events.c - the events family (see store.h and
 * db/migrations/004_events.sql, 008_bounces.sql): what comes back.  Opens,
 * clicks, unsubscribes and web views recorded by `campaign serve`;
 * bounces, complaints, auto-replies and mailed unsubscribes recorded by
 * `campaign bounces` (engine/ingest.c): the inbound messages read, the
 * ledger rows a bounce changes, and the campaign's circuit breaker.
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
    S_EVENT_RECIPIENT,
    S_EVENT_HAS,
    S_EVENT_OTHER_CLICKS,
    S_EVENT_FLAG_MACHINE,
    S_EVENT_COUNTS,
    S_INBOUND_SEEN,
    S_INBOUND_ADD,
    S_CONTACT_ROWS,
    S_LEDGER_BOUNCE,
    S_SOFT_SINCE,
    S_BREAKER_COUNTS,
    S_BREAKER_TRIP,
    S_BREAKER_REBASE,
    S_FOLD_FROM,
    S_FOLD_FLAGS,
    S_FOLD_COUNTS,
    S_FOLD_HOURS,
    S_FOLD_LINKS,
    S_FOLD_DOMAINS,
    S_FOLD_MARK,
    S_END
};
_Static_assert((int)S_END <= (int)STORE_SLOT_SCHEDULE,
               "more statements than slots");

/* BATCH - the events b after ?1 up to ?2, read by their rowid's range
 * (NOT INDEXED: without statistics the planner would walk
 * events_campaign's entries of a kind, every event of the campaign, for
 * each batch); an event of a campaign no longer there (its rows deleted
 * with the foreign keys off) is passed over: nothing can count it. */
#define BATCH                                                                  \
    "b.id > ?1 AND b.id <= ?2 AND b.campaign_id IN (SELECT id FROM campaigns)"

/* FIRST_OF_KIND, FIRST_OF_LINK - the batch's event b (after ?1) is of a
 * contact with no event of its kind and machine (a person's click of its
 * link) before the batch: a person counted once, as the triggers do */
#define FIRST_OF_KIND                                                          \
    "NOT EXISTS (SELECT 1 FROM events o WHERE o.campaign_id = b.campaign_id "  \
    "  AND o.kind = b.kind AND o.machine = b.machine "                         \
    "  AND o.contact_id = b.contact_id AND o.id <= ?1)"
#define FIRST_OF_LINK                                                          \
    "NOT EXISTS (SELECT 1 FROM events o WHERE o.campaign_id = b.campaign_id "  \
    "  AND o.kind = 'click' AND o.machine = 0 "                                \
    "  AND o.contact_id = b.contact_id "                                       \
    "  AND COALESCE(o.url, '') = COALESCE(b.url, '') AND o.id <= ?1)"

static const char *const stmt_sql[S_END - STORE_SLOT_EVENTS] = {
    /* one row of VALUES, not INSERT ... SELECT WHERE EXISTS: inside a
     * transaction SQLite gives a statement that may write several rows a
     * statement journal, a copy of every page it touches (16 KiB each,
     * three b-trees an event), which was a third of serve's writer; the
     * recipient is checked first (S_EVENT_RECIPIENT), in the same
     * transaction */
    [S_EVENT_ADD - STORE_SLOT_EVENTS] =
        "INSERT INTO events(campaign_id, contact_id, kind, url, at_ms, "
        "  machine, machine_reason, ua_class, ip, class, status, code, "
        "  detail) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [S_EVENT_RECIPIENT - STORE_SLOT_EVENTS] =
        "SELECT 1 FROM sends WHERE campaign_id = ?1 AND contact_id = ?2",
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
    /* the events after ?1 (the last counted) up to ?2 counted into what
     * 014_report_groups keeps (store_events_fold), and ?2 recorded as the
     * last counted */
    [S_FOLD_FROM - STORE_SLOT_EVENTS] =
        "SELECT (SELECT CAST(value AS INTEGER) FROM meta "
        "  WHERE key = 'events_folded'), "
        "  (SELECT COALESCE(max(id), 0) FROM events)",
    [S_FOLD_FLAGS - STORE_SLOT_EVENTS] =
        "UPDATE sends SET opened = opened OR x.o, clicked = clicked OR x.c, "
        "  unsubscribed = unsubscribed OR x.u, complained = complained OR x.p "
        "FROM (SELECT campaign_id AS k, contact_id AS who, "
        "    max(kind = 'open' AND machine = 0) AS o, "
        "    max(kind = 'click' AND machine = 0) AS c, "
        "    max(kind = 'unsubscribe') AS u, "
        "    max(kind = 'complaint' AND machine = 0) AS p "
        "  FROM events b NOT INDEXED "
        "  WHERE " BATCH " GROUP BY 1, 2) AS x "
        "WHERE sends.campaign_id = x.k AND sends.contact_id = x.who "
        "  AND ((x.o AND NOT opened) OR (x.c AND NOT clicked) "
        "    OR (x.u AND NOT unsubscribed) OR (x.p AND NOT complained))",
    [S_FOLD_COUNTS - STORE_SLOT_EVENTS] =
        "INSERT INTO event_counts(campaign_id, kind, machine, n, people) "
        "SELECT campaign_id, kind, machine, count(*), count(DISTINCT CASE "
        "  WHEN " FIRST_OF_KIND " THEN contact_id END) "
        "FROM events b NOT INDEXED "
        "WHERE " BATCH " GROUP BY 1, 2, 3 "
        "ON CONFLICT(campaign_id, kind, machine) "
        "DO UPDATE SET n = n + excluded.n, people = people + excluded.people",
    [S_FOLD_HOURS - STORE_SLOT_EVENTS] =
        "INSERT INTO event_hours(campaign_id, hour, click, machine, n) "
        "SELECT campaign_id, at_ms / 3600000, kind = 'click', machine, "
        "  count(*) "
        "FROM events b NOT INDEXED "
        "WHERE " BATCH " AND (kind = 'open' OR kind = 'click') "
        "GROUP BY 1, 2, 3, 4 "
        "ON CONFLICT(campaign_id, hour, click, machine) "
        "DO UPDATE SET n = n + excluded.n",
    [S_FOLD_LINKS - STORE_SLOT_EVENTS] =
        "INSERT INTO event_links(campaign_id, url, n, people) "
        "SELECT campaign_id, COALESCE(url, ''), count(*), count(DISTINCT "
        "  CASE WHEN " FIRST_OF_LINK " THEN contact_id END) "
        "FROM events b NOT INDEXED "
        "WHERE " BATCH " AND b.kind = 'click' AND b.machine = 0 "
        "GROUP BY 1, 2 "
        "ON CONFLICT(campaign_id, url) "
        "DO UPDATE SET n = n + excluded.n, people = people + excluded.people",
    [S_FOLD_DOMAINS - STORE_SLOT_EVENTS] =
        "INSERT INTO domain_events(campaign_id, domain, opens, clicks) "
        "SELECT b.campaign_id, s.domain, sum(b.kind = 'open'), "
        "  sum(b.kind = 'click') "
        "FROM events b NOT INDEXED JOIN sends s "
        "  ON s.campaign_id = b.campaign_id AND s.contact_id = b.contact_id "
        "WHERE " BATCH " AND b.machine = 0 "
        "  AND (b.kind = 'open' OR b.kind = 'click') GROUP BY 1, 2 "
        "ON CONFLICT(campaign_id, domain) "
        "DO UPDATE SET opens = opens + excluded.opens, "
        "  clicks = clicks + excluded.clicks",
    [S_FOLD_MARK - STORE_SLOT_EVENTS] =
        "UPDATE meta SET value = ?2 WHERE key = 'events_folded' AND ?1 < ?2",
    /* the campaign's events by kind and machine, and the people among
     * them, as 014_report_groups keeps them: a few rows, not a walk */
    [S_EVENT_COUNTS - STORE_SLOT_EVENTS] =
        "SELECT kind, machine, n, people FROM event_counts "
        "WHERE campaign_id = ?1 AND n > 0",
    [S_INBOUND_SEEN - STORE_SLOT_EVENTS] =
        "SELECT 1 FROM inbound WHERE key = ?1",
    [S_INBOUND_ADD - STORE_SLOT_EVENTS] =
        "INSERT OR IGNORE INTO inbound(key, at_ms, kind, outcome, "
        "  campaign_id, contact_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* a contact's ledger rows, the newest campaign first: one look-up of
     * the primary key per campaign, never a scan of the ledger */
    [S_CONTACT_ROWS - STORE_SLOT_EVENTS] =
        "SELECT s.campaign_id, s.state, s.message_id, "
        "  COALESCE(s.done_at, s.first_attempt_at, 0) "
        "FROM campaigns k CROSS JOIN sends s "
        "  ON s.campaign_id = k.id AND s.contact_id = ?1 "
        "ORDER BY k.id DESC",
    /* a bounce proves the relay took the message: sent and uncertain
     * rows become bounced, and a row a killed send left sending (its
     * recovery then leaves it: it is no longer sending); a row bounced
     * already keeps its first class */
    [S_LEDGER_BOUNCE - STORE_SLOT_EVENTS] =
        "UPDATE sends SET state = 'bounced', bounce_class = ?3, "
        "  last_code = ?4, last_status = ?5, last_text = ?6, "
        "  done_at = COALESCE(done_at, ?7) "
        "WHERE campaign_id = ?1 AND contact_id = ?2 "
        "  AND state IN ('sent', 'uncertain', 'sending')",
    [S_SOFT_SINCE - STORE_SLOT_EVENTS] =
        "SELECT count(*) FROM campaigns k WHERE k.id IS NOT ?3 AND ("
        "  EXISTS (SELECT 1 FROM events WHERE contact_id = ?1 "
        "    AND campaign_id = k.id AND kind = 'bounce' AND class = 'soft' "
        "    AND machine = 0 AND at_ms >= ?2) OR "
        "  EXISTS (SELECT 1 FROM sends s WHERE s.campaign_id = k.id "
        "    AND s.contact_id = ?1 AND s.state = 'bounced' "
        "    AND s.bounce_class = 'soft' AND s.done_at >= ?2 / 1000))",
    /* messages the relay took (sent or bounced since), hard bounces and
     * people who complained; with the counts at the last resume */
    [S_BREAKER_COUNTS - STORE_SLOT_EVENTS] =
        "SELECT "
        "  (SELECT count(*) FROM sends WHERE campaign_id = ?1 "
        "     AND state IN ('sent', 'bounced')), "
        "  (SELECT count(*) FROM sends WHERE campaign_id = ?1 "
        "     AND state = 'bounced' AND bounce_class = 'hard'), "
        "  (SELECT count(DISTINCT contact_id) FROM events "
        "     WHERE campaign_id = ?1 AND kind = 'complaint' AND machine = 0), "
        "  breaker_sent, breaker_hard, breaker_complaints, status, "
        "  breaker "
        "FROM campaigns WHERE id = ?1",
    [S_BREAKER_TRIP - STORE_SLOT_EVENTS] =
        "UPDATE campaigns SET control = 'pause', status = 'paused', "
        "  breaker = ?2 "
        "WHERE id = ?1 AND status NOT IN ('done', 'cancelled', 'paused')",
    [S_BREAKER_REBASE - STORE_SLOT_EVENTS] =
        "UPDATE campaigns SET breaker = NULL, "
        "  breaker_sent = (SELECT count(*) FROM sends WHERE campaign_id = ?1 "
        "     AND state IN ('sent', 'bounced')), "
        "  breaker_hard = (SELECT count(*) FROM sends WHERE campaign_id = ?1 "
        "     AND state = 'bounced' AND bounce_class = 'hard'), "
        "  breaker_complaints = (SELECT count(DISTINCT contact_id) "
        "     FROM events WHERE campaign_id = ?1 AND kind = 'complaint' AND "
        "machine = 0) "
        "WHERE id = ?1 AND breaker IS NOT NULL",
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

/* event_add - store_event_add inside a transaction */
static int
event_add(struct store *st, const struct store_event *ev, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_EVENT_RECIPIENT, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, ev->campaign_id);
    sqlite3_bind_int64(s, 2, ev->contact_id);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return store_fail(st, e, "read the ledger");
    if ((s = stmt(st, S_EVENT_ADD, e)) == NULL)
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
    bind_text(s, 10, ev->cls);
    bind_text(s, 11, ev->status);
    if (ev->code > 0)
        sqlite3_bind_int(s, 12, ev->code);
    else
        sqlite3_bind_null(s, 12);
    bind_text(s, 13, ev->detail);
    if (store_stmt_done(st, s, e, "record event") == -1)
        return -1;
    return 1;
}

int
store_event_add(struct store *st, const struct store_event *ev, struct err *e)
{
    int own = sqlite3_get_autocommit(st->db), rc;

    /* the check and the insert are one: a caller's transaction (serve's
     * writer, ingest), else one of our own */
    if (own && store_begin(st, e) == -1)
        return -1;
    rc = event_add(st, ev, e);
    if (own) {
        if (rc == -1)
            store_rollback(st);
        else if (store_commit(st, e) == -1) {
            store_rollback(st);
            rc = -1;
        }
    }
    return rc;
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

/* fold_chunk - the events after lo up to hi counted, in one transaction
 * begun without waiting more than STORE_FOLD_WAIT_MS for the write lock:
 * 0, 1 when the database is busy (nothing done), or -1 */
static int
fold_chunk(struct store *st, int64_t lo, int64_t hi, struct err *e)
{
    static const enum stmt_id fold[] = {S_FOLD_FLAGS,   S_FOLD_COUNTS,
                                        S_FOLD_HOURS,   S_FOLD_LINKS,
                                        S_FOLD_DOMAINS, S_FOLD_MARK};
    sqlite3_stmt *s;
    int rc;

    sqlite3_busy_timeout(st->db, STORE_FOLD_WAIT_MS);
    rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    store_busy_default(st);
    if (rc == SQLITE_BUSY)
        return 1;
    if (rc != SQLITE_OK)
        return store_fail(st, e, "begin transaction");
    for (size_t i = 0; i < sizeof fold / sizeof *fold; i++) {
        if ((s = stmt(st, fold[i], e)) == NULL)
            goto fail;
        sqlite3_bind_int64(s, 1, lo);
        sqlite3_bind_int64(s, 2, hi);
        if (store_stmt_done(st, s, e, "count the events") == -1)
            goto fail;
    }
    return store_commit(st, e);
fail:
    store_rollback(st);
    return -1;
}

int
store_events_fold(struct store *st, long *pending, struct err *e)
{
    sqlite3_stmt *s;
    int64_t lo = 0, hi = 0;
    int rc;

    *pending = 0;
    for (int64_t last = -1;; last = lo) {
        if ((s = stmt(st, S_FOLD_FROM, e)) == NULL)
            return -1;
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            lo = sqlite3_column_int64(s, 0);
            hi = sqlite3_column_int64(s, 1);
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW)
            return store_fail(st, e, "read the events counted");
        if (hi <= lo)
            return 0;
        if (lo == last) /* a chunk counted, the mark did not move */
            return err_set(e, EX_SOFTWARE,
                           "%s: the events counted did not "
                           "move past %lld",
                           st->path, (long long)lo);
        if (st->readonly) {
            *pending = (long)(hi - lo); /* ids, so at most this many */
            return 1;
        }
        /* a chunk at a time: the write lock is never held long */
        rc = fold_chunk(
            st, lo, hi - lo > STORE_FOLD_CHUNK ? lo + STORE_FOLD_CHUNK : hi, e);
        if (rc != 0) {
            *pending = rc == 1 ? (long)(hi - lo) : 0;
            return rc;
        }
    }
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
        else if (strcmp(k, "complaint") == 0 && !machine)
            c->complained += u;
        else if (strcmp(k, "auto_reply") == 0)
            c->auto_replies += n;
        else if (strcmp(k, "delayed") == 0)
            c->delayed += u;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, e, "count events");
    return 0;
}

int
store_inbound_seen(struct store *st, const uint8_t key[32], struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_INBOUND_SEEN, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read inbound");
    return rc == SQLITE_ROW;
}

int
store_inbound_add(struct store *st, const struct store_inbound *in,
                  struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_INBOUND_ADD, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_blob(s, 1, in->key, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, in->at_ms);
    sqlite3_bind_text(s, 3, in->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, in->outcome, -1, SQLITE_STATIC);
    if (in->campaign_id > 0)
        sqlite3_bind_int64(s, 5, in->campaign_id);
    else
        sqlite3_bind_null(s, 5);
    if (in->contact_id != 0)
        sqlite3_bind_int64(s, 6, in->contact_id);
    else
        sqlite3_bind_null(s, 6);
    if (store_stmt_done(st, s, e, "record inbound message") == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

int
store_contact_rows(struct store *st, int64_t contact, store_row_cb cb,
                   void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CONTACT_ROWS, e);
    struct store_row r;
    int rc, stop = 0;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        r.campaign_id = sqlite3_column_int64(s, 0);
        r.state = (const char *)sqlite3_column_text(s, 1);
        r.message_id = (const char *)sqlite3_column_text(s, 2);
        r.at = sqlite3_column_int64(s, 3);
        if ((stop = cb(&r, arg)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read the contact's ledger rows");
    return stop;
}

int
store_ledger_bounce(struct store *st, const struct store_bounce *b,
                    struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_LEDGER_BOUNCE, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, b->campaign_id);
    sqlite3_bind_int64(s, 2, b->contact_id);
    sqlite3_bind_text(s, 3, b->bounce_class, -1, SQLITE_STATIC);
    if (b->code > 0)
        sqlite3_bind_int(s, 4, b->code);
    else
        sqlite3_bind_null(s, 4);
    bind_text(s, 5, b->status);
    bind_text(s, 6, b->text);
    sqlite3_bind_int64(s, 7, b->at);
    if (store_stmt_done(st, s, e, "record bounce in the ledger") == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

int
store_breaker_counts(struct store *st, int64_t campaign,
                     struct store_breaker *b, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_BREAKER_COUNTS, e);
    int rc;

    memset(b, 0, sizeof *b);
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *v;
        b->sent = (long)sqlite3_column_int64(s, 0);
        b->hard = (long)sqlite3_column_int64(s, 1);
        b->complaints = (long)sqlite3_column_int64(s, 2);
        b->base_sent = (long)sqlite3_column_int64(s, 3);
        b->base_hard = (long)sqlite3_column_int64(s, 4);
        b->base_complaints = (long)sqlite3_column_int64(s, 5);
        v = (const char *)sqlite3_column_text(s, 6);
        snprintf(b->status, sizeof b->status, "%s", v ? v : "");
        v = (const char *)sqlite3_column_text(s, 7);
        snprintf(b->tripped, sizeof b->tripped, "%s", v ? v : "");
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "count the campaign's bounces");
    return rc == SQLITE_ROW;
}

int
store_breaker_trip(struct store *st, int64_t campaign, const char *why,
                   struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_BREAKER_TRIP, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_text(s, 2, why, -1, SQLITE_STATIC);
    if (store_stmt_done(st, s, e, "pause the campaign") == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

int
store_breaker_rebase(struct store *st, int64_t campaign, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_BREAKER_REBASE, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    if (store_stmt_done(st, s, e, "reset the circuit breaker") == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

int
store_soft_bounces(struct store *st, int64_t contact, int64_t since_ms,
                   int64_t except, long *n, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SOFT_SINCE, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact);
    sqlite3_bind_int64(s, 2, since_ms);
    if (except > 0)
        sqlite3_bind_int64(s, 3, except);
    rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? (long)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "count soft bounces");
    return 0;
}
