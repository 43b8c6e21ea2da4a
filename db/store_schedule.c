/* SPDX-License-Identifier: ISC */
/*
 * store_schedule.c - the schedule family (see store.h and
 * db/migrations/009_schedule.sql): when campaigns go.  A campaign's
 * scheduled time (`send --at`) and sending domain, the campaigns
 * `run-due` looks at, the messages a sending domain handed to relays
 * each local day (the daily cap and warm-up), and `resend`, which puts
 * recipients of chosen states back in the queue.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"

enum stmt_id {
    S_SCHEDULE = STORE_SLOT_SCHEDULE,
    S_SET_SENDER,
    S_RESCHEDULE,
    S_DUE,
    S_DAILY_GET,
    S_DAILY_ADD,
    S_RESEND,
    S_RESEND_REOPEN,
    S_TICK_GET,
    S_TICK_SET,
    S_SENDABLE,
    S_OVERDUE,
    S_END
};
_Static_assert((int)S_END <= (int)STORE_SLOT_REPORT,
               "more statements than slots");

static const char *const stmt_sql[S_END - STORE_SLOT_SCHEDULE] = {
    /* only a campaign that has not started: its recipients are frozen
     * when it starts */
    [S_SCHEDULE - STORE_SLOT_SCHEDULE] =
        "UPDATE campaigns SET status = 'scheduled', scheduled_at = ?2, "
        "  data = COALESCE(?3, data), control = NULL "
        "WHERE id = ?1 AND frozen_at IS NULL "
        "  AND status IN ('draft', 'scheduled', 'overdue', 'paused')",
    [S_SET_SENDER - STORE_SLOT_SCHEDULE] =
        "UPDATE campaigns SET sender_domain = ?2 WHERE id = ?1",
    /* a resume of a schedule that has not started (scheduled, overdue,
     * paused): due now if its time passed, else at its time */
    [S_RESCHEDULE - STORE_SLOT_SCHEDULE] =
        "UPDATE campaigns SET status = 'scheduled', "
        "  scheduled_at = max(scheduled_at, ?2) "
        "WHERE id = ?1 AND scheduled_at IS NOT NULL AND frozen_at IS NULL "
        "RETURNING scheduled_at",
    [S_DUE - STORE_SLOT_SCHEDULE] =
        "SELECT c.id, c.name, c.status, c.sender_domain, c.scheduled_at, "
        "  c.frozen_at, c.created_at, c.started_at, c.finished_at, "
        "  c.recipients, "
        "  EXISTS (SELECT 1 FROM sends WHERE campaign_id = c.id "
        "    AND state IN ('queued', 'sending')) "
        "  OR EXISTS (SELECT 1 FROM sends WHERE campaign_id = c.id "
        "    AND state = 'uncertain' AND was_uncertain = 1) "
        "  OR c.freeze_after IS NOT NULL, "
        "  (SELECT min(next_attempt_at) FROM sends WHERE campaign_id = c.id "
        "    AND state = 'deferred') "
        "FROM campaigns c "
        "WHERE ?1 OR c.status NOT IN ('done', 'cancelled') ORDER BY c.id",
    [S_DAILY_GET - STORE_SLOT_SCHEDULE] =
        "SELECT sent FROM daily_sent WHERE domain = ?1 AND day = ?2",
    [S_DAILY_ADD - STORE_SLOT_SCHEDULE] =
        "INSERT INTO daily_sent(domain, day, sent) VALUES (?1, ?2, ?3) "
        "ON CONFLICT(domain, day) DO UPDATE SET sent = sent + excluded.sent",
    /* back to the queue, due now, with a new count of attempts (an
     * expired row had used them all) */
    [S_RESEND - STORE_SLOT_SCHEDULE] =
        "UPDATE sends SET state = 'queued', attempts = 0, "
        "  next_attempt_at = NULL, done_at = NULL "
        "WHERE campaign_id = ?1 AND state = ?2",
    [S_RESEND_REOPEN - STORE_SLOT_SCHEDULE] =
        "UPDATE campaigns SET status = 'sending', finished_at = NULL "
        "WHERE id = ?1 AND status = 'done'",
    [S_TICK_GET - STORE_SLOT_SCHEDULE] =
        "SELECT value FROM meta WHERE key = 'run_due_at'",
    [S_TICK_SET - STORE_SLOT_SCHEDULE] =
        "INSERT INTO meta(key, value) VALUES ('run_due_at', ?1) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    /* what a send could hand out now: queued, left sending by a crash,
     * owed their uncertain retry, unbuildable and held (queued again by
     * the next send) - from the ledger's counts (012_ledger_counts.sql) -,
     * deferred and due, and the members a freeze under way has yet to add
     * (013_freeze_chunks.sql) */
    [S_SENDABLE - STORE_SLOT_SCHEDULE] =
        "SELECT (SELECT COALESCE(sum(n), 0) FROM ledger_counts "
        "    WHERE campaign_id = ?1 AND (state IN ('queued', 'sending', "
        "      'unbuildable', 'held') "
        "      OR (state = 'uncertain' AND uncertain = 1))) "
        "  + (SELECT count(*) FROM sends WHERE campaign_id = ?1 "
        "    AND state = 'deferred' AND next_attempt_at <= ?2) "
        "  + " STORE_UNFROZEN("?1"),
    [S_OVERDUE - STORE_SLOT_SCHEDULE] =
        "UPDATE campaigns SET status = 'overdue' "
        "WHERE id = ?1 AND status = 'scheduled'",
};

static sqlite3_stmt *
stmt(struct store *st, enum stmt_id id, struct err *e)
{
    return store_stmt(st, (int)id, stmt_sql[id - STORE_SLOT_SCHEDULE], e);
}

/* one_number - run s (bound) for its one number into *n (0 without a
 * row) */
static int
one_number(struct store *st, sqlite3_stmt *s, int64_t *n, const char *what,
           struct err *e)
{
    int rc;

    *n = 0;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *n = sqlite3_column_int64(s, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, e, what);
    return 0;
}

int
store_campaign_schedule(struct store *st, int64_t id, int64_t at,
                        const char *data, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SCHEDULE, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, at);
    if (data != NULL)
        sqlite3_bind_text(s, 3, data, -1, SQLITE_STATIC);
    if (store_stmt_done(st, s, e, "schedule the campaign") == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

int
store_campaign_set_sender(struct store *st, int64_t id, const char *domain,
                          struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SET_SENDER, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, domain, -1, SQLITE_STATIC);
    return store_stmt_done(st, s, e, "record the campaign's sending domain");
}

int
store_campaign_reschedule(struct store *st, int64_t id, int64_t now,
                          int64_t *at, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_RESCHEDULE, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *at = sqlite3_column_int64(s, 0);
        rc = sqlite3_step(s);
    } else
        *at = 0;
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, e, "reschedule the campaign");
    return *at != 0;
}

int
store_campaigns_due(struct store *st, int all, store_due_cb cb, void *arg,
                    struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_DUE, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int(s, 1, all != 0);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_due d;
        d.id = sqlite3_column_int64(s, 0);
        d.name = (const char *)sqlite3_column_text(s, 1);
        d.status = (const char *)sqlite3_column_text(s, 2);
        d.sender_domain = (const char *)sqlite3_column_text(s, 3);
        d.scheduled_at = sqlite3_column_int64(s, 4);
        d.frozen_at = sqlite3_column_int64(s, 5);
        d.created_at = sqlite3_column_int64(s, 6);
        d.started_at = sqlite3_column_int64(s, 7);
        d.finished_at = sqlite3_column_int64(s, 8);
        d.recipients = (long)sqlite3_column_int64(s, 9);
        d.queued = sqlite3_column_int(s, 10);
        d.next_retry = sqlite3_column_int64(s, 11);
        if (cb(&d, arg) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, e, "read the campaigns");
    return 0;
}

int
store_daily_get(struct store *st, const char *domain, int64_t day, long *n,
                struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_DAILY_GET, e);
    int64_t v;

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, day);
    if (one_number(st, s, &v, "read the day's count", e) == -1)
        return -1;
    *n = (long)v;
    return 0;
}

int
store_daily_add(struct store *st, const char *domain, int64_t day, long n,
                struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_DAILY_ADD, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, day);
    sqlite3_bind_int64(s, 3, n);
    return store_stmt_done(st, s, e, "count the day's messages");
}

int
store_ledger_resend(struct store *st, int64_t campaign, int which,
                    struct store_resent *n, struct err *e)
{
    static const struct {
        int bit;
        const char *state;
    } states[] = {
        {STORE_RESEND_DEFERRED, "deferred"},
        {STORE_RESEND_FAILED, "failed"},
        {STORE_RESEND_UNCERTAIN, "uncertain"},
        {STORE_RESEND_EXPIRED, "expired"},
    };
    long *count[] = {&n->deferred, &n->failed, &n->uncertain, &n->expired};
    sqlite3_stmt *s;

    memset(n, 0, sizeof *n);
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        if (!(which & states[i].bit))
            continue;
        if ((s = stmt(st, S_RESEND, e)) == NULL)
            return -1;
        sqlite3_bind_int64(s, 1, campaign);
        sqlite3_bind_text(s, 2, states[i].state, -1, SQLITE_STATIC);
        if (store_stmt_done(st, s, e, "queue the recipients again") == -1)
            return -1;
        *count[i] = sqlite3_changes(st->db);
    }
    if (n->deferred + n->failed + n->uncertain + n->expired > 0) {
        if ((s = stmt(st, S_RESEND_REOPEN, e)) == NULL)
            return -1;
        sqlite3_bind_int64(s, 1, campaign);
        if (store_stmt_done(st, s, e, "reopen the campaign") == -1)
            return -1;
    }
    return 0;
}

int
store_run_due_tick(struct store *st, int64_t now, int64_t *prev, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_TICK_GET, e);

    if (s == NULL ||
        one_number(st, s, prev, "read run-due's last run", e) == -1 ||
        (s = stmt(st, S_TICK_SET, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, now);
    return store_stmt_done(st, s, e, "record run-due's run");
}

int
store_ledger_sendable(struct store *st, int64_t campaign, int64_t now, long *n,
                      struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SENDABLE, e);
    int64_t v;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, now);
    if (one_number(st, s, &v, "count what can be sent", e) == -1)
        return -1;
    *n = (long)v;
    return 0;
}

int
store_campaign_overdue(struct store *st, int64_t id, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_OVERDUE, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    return store_stmt_done(st, s, e, "mark the schedule overdue");
}
