/* SPDX-License-Identifier: ISC */
/*
 * store_ledger.c - the campaigns and their send ledger (see store.h and
 * db/migrations/003_ledger.sql for the states).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/buf.h"
#include "../engine/xalloc.h"
#include "store.h"
#include "store_int.h"

enum stmt_id {
    S_CAMPAIGN_FIND = STORE_SLOT_LEDGER,
    S_CAMPAIGN_ADD,
    S_CAMPAIGN_GET,
    S_CAMPAIGN_START,
    S_CAMPAIGN_FINISH,
    S_CAMPAIGN_CONTROL_GET,
    S_CAMPAIGN_CONTROL_SET,
    S_FREEZE,
    S_FREEZE_COUNT,
    S_FREEZE_BEGIN,
    S_FREEZE_GEN,
    S_FREEZE_UPPER,
    S_FREEZE_STATE,
    S_FREEZE_PENDING,
    S_PENDING_UNFROZEN,
    S_RECOVER,
    S_RELEASE,
    S_CLAIM_QUEUED,
    S_CLAIM_DEFERRED,
    S_CLAIM_UNCERTAIN,
    S_CLAIM_MARK,
    S_SEND_RESULT,
    S_SEND_COUNTS,
    S_CAMPAIGNS_ALL,
    S_NEXT_DUE,
    S_UNCERTAIN_LIST,
    S_CAMPAIGN_GET_ID,
    S_CAMPAIGN_TEMPLATE,
    S_SEND_TIMES,
    S_CAMPAIGN_THAW,
    S_CONTACT_SENDS,
    S_REPLIES_GROUPED,
    S_REPLIES_EACH,
    S_CANCEL,
    S_RELEASE_ALL,
    S_REPLAY_SENT,
    S_REPLAY_UNCERTAIN,
    S_REPLAY_QUEUED,
    S_PENDING,
    S_REQUEUE_UNBUILDABLE,
    S_CAMPAIGN_REFREEZE,
    S_END
};
_Static_assert((int)S_END <= (int)STORE_SLOT_EVENTS,
               "this family's statements run into the events's slots");

/* the campaign of ?1 is cancelled (`campaign cancel` set its control) */
#define LEDGER_CANCELLED                                                       \
    "EXISTS (SELECT 1 FROM campaigns WHERE id = ?1 AND control = 'cancel')"
/* a result (?3) that would leave the row for another attempt, in a
 * cancelled campaign */
#define LEDGER_RESULT_CANCELLED                                                \
    "(?3 IN ('queued', 'deferred', 'uncertain', 'unbuildable', 'held') "       \
    "AND " LEDGER_CANCELLED ")"
#define LEDGER_NOW "CAST(strftime('%s', 'now') AS INTEGER)"

/* a claim undone: the row as it was before it (an uncertain row owes its
 * retry again and keeps why it is uncertain), the attempt not counted;
 * ?3 the text why, ?4 keep an earlier reply, ?5 ?6 the reply's code and
 * status.  SQLite evaluates every SET expression on the old row. */
#define LEDGER_RELEASE                                                         \
    "UPDATE sends SET attempts = max(attempts - 1, 0), "                       \
    "  state = CASE WHEN " LEDGER_CANCELLED " THEN 'cancelled' "               \
    "    WHEN was_uncertain = 2 THEN 'uncertain' "                             \
    "    ELSE 'queued' END, "                                                  \
    "  done_at = CASE WHEN " LEDGER_CANCELLED " THEN " LEDGER_NOW " "          \
    "    ELSE done_at END, "                                                   \
    "  last_text = CASE WHEN " LEDGER_CANCELLED " THEN 'cancelled' "           \
    "    WHEN was_uncertain = 2 THEN last_text "                               \
    "    WHEN ?4 AND last_text IS NOT NULL THEN last_text ELSE ?3 END, "       \
    "  last_code = CASE WHEN was_uncertain = 2 THEN last_code "                \
    "    WHEN ?4 AND last_text IS NOT NULL THEN last_code "                    \
    "    ELSE nullif(?5, 0) END, "                                             \
    "  last_status = CASE WHEN was_uncertain = 2 THEN last_status "            \
    "    WHEN ?4 AND last_text IS NOT NULL THEN last_status "                  \
    "    ELSE nullif(?6, '') END, "                                            \
    "  was_uncertain = CASE WHEN was_uncertain = 2 THEN 1 "                    \
    "    ELSE was_uncertain END "

static const char *const stmt_sql[S_END - STORE_SLOT_LEDGER] = {
    [S_CAMPAIGN_FIND - STORE_SLOT_LEDGER] =
        "SELECT id FROM campaigns WHERE name = ?1",
    [S_CAMPAIGN_ADD - STORE_SLOT_LEDGER] =
        "INSERT INTO campaigns(name, template, list_id, "
        "  created_at) VALUES (?1, ?2, ?3, ?4)",
    [S_CAMPAIGN_GET - STORE_SLOT_LEDGER] =
        "SELECT c.id, c.name, c.template, c.list_id, l.name, c.status, "
        "  c.data, c.frozen_at, c.control, c.recipients, c.created_at, "
        "  c.started_at, c.finished_at, c.template_src, c.breaker, "
        "  c.scheduled_at, c.sender_domain "
        "FROM campaigns c LEFT JOIN lists l ON l.id = c.list_id "
        "WHERE c.name = ?1",
    [S_CAMPAIGN_START - STORE_SLOT_LEDGER] =
        "UPDATE campaigns SET status = 'sending', "
        "  started_at = COALESCE(started_at, ?2), "
        "  data = COALESCE(data, ?3), control = NULL "
        "WHERE id = ?1 AND status NOT IN ('paused', 'cancelled') "
        "  AND (status <> 'scheduled' OR scheduled_at <= ?2)",
    [S_CAMPAIGN_FINISH - STORE_SLOT_LEDGER] =
        "UPDATE campaigns SET status = ?2, "
        "  finished_at = ?3 WHERE id = ?1",
    [S_CAMPAIGN_CONTROL_GET - STORE_SLOT_LEDGER] =
        "SELECT control FROM campaigns WHERE id = ?1",
    [S_CAMPAIGN_CONTROL_SET - STORE_SLOT_LEDGER] =
        "UPDATE campaigns SET control = ?2, "
        "  status = CASE WHEN ?3 IS NULL THEN status "
        "    ELSE ?3 END WHERE name = ?1",
    /* one chunk of the freeze (013_freeze_chunks.sql): the members in
     * (?4, ?5] of contact ids that were members when the campaign
     * started (gen ?6), minus already in the ledger: the mailable ones
     * queued, the others recorded as skipped (the report's
     * "suppressed") */
    [S_FREEZE - STORE_SLOT_LEDGER] =
        "INSERT INTO sends(campaign_id, contact_id, state, queued_at, "
        "  last_text, domain) "
        "SELECT ?1, c.id, CASE WHEN c.status = 'active' THEN 'queued' "
        "    ELSE 'skipped' END, ?2, "
        "  CASE WHEN c.status = 'active' THEN NULL "
        "    ELSE 'suppressed: ' || c.status END, "
        "  substr(c.email, instr(c.email, '@') + 1) "
        "FROM memberships m JOIN contacts c ON c.id = m.contact_id "
        "WHERE m.list_id = ?3 AND m.contact_id > ?4 AND m.contact_id <= ?5 "
        "  AND m.gen <= ?6 "
        "ON CONFLICT DO NOTHING",
    /* where the freeze has got to (NULL: complete); once complete, the
     * recipients are the ledger's rows */
    [S_FREEZE_COUNT - STORE_SLOT_LEDGER] =
        "UPDATE campaigns SET freeze_after = ?2, recipients = CASE "
        "  WHEN ?2 IS NULL THEN (SELECT COALESCE(sum(n), 0) "
        "    FROM ledger_counts WHERE campaign_id = ?1) "
        "  ELSE recipients END WHERE id = ?1",
    /* the start of the freeze: the list's members now (their gen), and
     * how many (the recipients until the freeze completes) */
    [S_FREEZE_BEGIN - STORE_SLOT_LEDGER] =
        "UPDATE campaigns SET frozen_at = ?2, freeze_after = 0, "
        "  freeze_gen = (SELECT gen FROM lists WHERE id = ?3), "
        "  recipients = (SELECT count(*) FROM memberships "
        "    WHERE list_id = ?3) "
        "WHERE id = ?1",
    /* ... after which the list's new members have a greater gen */
    [S_FREEZE_GEN - STORE_SLOT_LEDGER] =
        "UPDATE lists SET gen = gen + 1 WHERE id = ?1",
    /* the ?3rd member after contact id ?2: the end of the next chunk */
    [S_FREEZE_UPPER - STORE_SLOT_LEDGER] =
        "SELECT contact_id FROM memberships "
        "WHERE list_id = ?1 AND contact_id > ?2 "
        "ORDER BY contact_id LIMIT 1 OFFSET ?3 - 1",
    /* a member not in the ledger that its freeze under way will add */
    [S_FREEZE_PENDING - STORE_SLOT_LEDGER] =
        "SELECT 1 FROM campaigns k JOIN memberships m "
        "  ON " STORE_FREEZE_LATER("m",
                                   "k") " "
                                        "WHERE k.id = ?1 AND m.contact_id = ?2",
    /* the members its freeze under way has yet to add, after the ledger's
     * rows left to send (S_PENDING) */
    [S_PENDING_UNFROZEN - STORE_SLOT_LEDGER] =
        "SELECT c.id, c.email, c.attrs, c.status "
        "FROM campaigns k JOIN memberships m "
        "  ON " STORE_FREEZE_LATER(
            "m", "k") " "
                      "JOIN contacts c ON c.id = m.contact_id "
                      "WHERE k.id = ?1 ORDER BY m.contact_id",
    [S_FREEZE_STATE - STORE_SLOT_LEDGER] =
        "SELECT list_id, freeze_gen, freeze_after, " STORE_UNFROZEN(
            "?1") " "
                  "FROM campaigns WHERE id = ?1",
    /* a crash left these claimed, with no journal to say more: the dot
     * may have gone out */
    [S_RECOVER - STORE_SLOT_LEDGER] =
        "UPDATE sends SET state = 'uncertain', was_uncertain = 1 "
        "WHERE campaign_id = ?1 AND state = 'sending'",
    [S_RELEASE - STORE_SLOT_LEDGER] = LEDGER_RELEASE
    "WHERE campaign_id = ?1 AND contact_id = ?2 AND state = 'sending'",
    /* through the state index: ordering by the primary key instead made
     * SQLite walk every row already sent, so each claim got slower as
     * the campaign went on (quadratic in its size).  Within one state the
     * index is in contact order anyway (queued rows have no retry time) */
    [S_CLAIM_QUEUED - STORE_SLOT_LEDGER] =
        "SELECT s.contact_id, c.email, c.attrs, c.status, s.attempts, NULL "
        "FROM sends s INDEXED BY sends_state "
        "JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND s.state = 'queued' LIMIT ?2",
    [S_CLAIM_DEFERRED - STORE_SLOT_LEDGER] =
        "SELECT s.contact_id, c.email, c.attrs, c.status, s.attempts, NULL "
        "FROM sends s JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND s.state = 'deferred' "
        "  AND s.next_attempt_at <= ?3 "
        "ORDER BY s.next_attempt_at LIMIT ?2",
    /* the retry goes with the Message-ID the message had (a receiver
     * that got both keeps one), even if the recipient's contact id
     * changed since (db/store_idna.c merges one person's contacts) */
    [S_CLAIM_UNCERTAIN - STORE_SLOT_LEDGER] =
        "SELECT s.contact_id, c.email, c.attrs, c.status, s.attempts, "
        "  s.message_id "
        "FROM sends s INDEXED BY sends_state "
        "JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND s.state = 'uncertain' "
        "  AND s.was_uncertain = 1 LIMIT ?2",
    [S_CLAIM_MARK - STORE_SLOT_LEDGER] =
        "UPDATE sends SET state = 'sending', attempts = attempts + 1, "
        "  first_attempt_at = COALESCE(first_attempt_at, ?3), "
        "  was_uncertain = CASE WHEN state = 'uncertain' THEN 2 "
        "    ELSE was_uncertain END "
        "WHERE campaign_id = ?1 AND contact_id = ?2",
    /* a row that would wait for another attempt in a cancelled campaign
     * is cancelled instead (see S_CANCEL) */
    [S_SEND_RESULT - STORE_SLOT_LEDGER] =
        "UPDATE sends SET state = CASE WHEN " LEDGER_RESULT_CANCELLED " "
        "    THEN 'cancelled' ELSE ?3 END, "
        "  last_code = ?4, last_status = ?5, "
        "  last_text = CASE WHEN " LEDGER_RESULT_CANCELLED " "
        "    THEN 'cancelled' || COALESCE(' after: ' || ?6, '') ELSE ?6 END, "
        "  bounce_class = ?7, "
        "  message_id = COALESCE(?8, message_id), relay = ?9, "
        "  next_attempt_at = CASE WHEN " LEDGER_RESULT_CANCELLED " "
        "    THEN NULL ELSE ?10 END, "
        "  done_at = CASE WHEN " LEDGER_RESULT_CANCELLED " "
        "    THEN COALESCE(?11, " LEDGER_NOW ") ELSE ?11 END, "
        "  was_uncertain = CASE WHEN ?3 = 'uncertain' AND was_uncertain = 0 "
        "    THEN 1 ELSE was_uncertain END, "
        /* held: the client kept it, the relay never saw it: not an
         * attempt (the claim counted one), so no back-off or expiry
         * grows from runs that hold it */
        "  attempts = CASE WHEN ?3 = 'held' AND attempts > 0 "
        "    THEN attempts - 1 ELSE attempts END "
        "WHERE campaign_id = ?1 AND contact_id = ?2",
    /* the counts the triggers of 012_ledger_counts keep: a few rows,
     * whatever the size of the campaign */
    [S_SEND_COUNTS - STORE_SLOT_LEDGER] =
        "SELECT state, class, sum(n), "
        "  sum(CASE WHEN uncertain > 0 THEN n ELSE 0 END), "
        "  sum(CASE WHEN uncertain = 1 THEN n ELSE 0 END) "
        "FROM ledger_counts WHERE campaign_id = ?1 GROUP BY 1, 2",
    [S_CAMPAIGNS_ALL - STORE_SLOT_LEDGER] =
        "SELECT name FROM campaigns ORDER BY id",
    [S_NEXT_DUE - STORE_SLOT_LEDGER] =
        "SELECT min(next_attempt_at) FROM sends "
        "WHERE campaign_id = ?1 AND state = 'deferred'",
    /* a forgotten recipient's row (a tombstone id, no contact) is listed
     * too, without an address, after the others (006_history.sql).  The
     * partial index sends_uncertain holds only those rows; named, as the
     * planner without statistics would walk the primary key (every row
     * of the campaign) instead. */
    [S_UNCERTAIN_LIST - STORE_SLOT_LEDGER] =
        "SELECT c.email, s.message_id, s.state "
        "FROM sends s INDEXED BY sends_uncertain "
        "LEFT JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND s.was_uncertain > 0 "
        "ORDER BY c.email IS NULL, c.email, s.contact_id",
    [S_CAMPAIGN_GET_ID - STORE_SLOT_LEDGER] =
        "SELECT c.id, c.name, c.template, c.list_id, l.name, c.status, "
        "  c.data, c.frozen_at, c.control, c.recipients, c.created_at, "
        "  c.started_at, c.finished_at, c.template_src, c.breaker, "
        "  c.scheduled_at, c.sender_domain "
        "FROM campaigns c LEFT JOIN lists l ON l.id = c.list_id "
        "WHERE c.id = ?1",
    /* a campaign's template is frozen once, when it starts */
    [S_CAMPAIGN_TEMPLATE - STORE_SLOT_LEDGER] =
        "UPDATE campaigns SET template_src = COALESCE(template_src, ?2) "
        "WHERE id = ?1",
    [S_CAMPAIGN_THAW - STORE_SLOT_LEDGER] =
        "UPDATE campaigns SET template_src = NULL WHERE id = ?1 AND "
        "  NOT EXISTS (SELECT 1 FROM ledger_counts WHERE campaign_id = ?1 "
        "    AND n > 0 AND (state = 'sent' OR state = 'uncertain' "
        "      OR uncertain > 0))",
    [S_CONTACT_SENDS - STORE_SLOT_LEDGER] =
        "SELECT k.name, s.state, s.attempts, s.last_code, s.last_status, "
        "  s.last_text, s.bounce_class, s.done_at "
        "FROM sends s JOIN campaigns k ON k.id = s.campaign_id "
        "WHERE s.contact_id = ?1 ORDER BY k.id",
    /* the recipients not delivered, by their last reply (the most
     * frequent first) or one by one; LEFT JOIN: a forgotten recipient's
     * row (a tombstone id, no contact) counts, without an address */
    [S_REPLIES_GROUPED - STORE_SLOT_LEDGER] =
        "SELECT s.state, s.bounce_class, s.last_code, s.last_status, "
        "  s.last_text, count(*), min(c.email) "
        "FROM sends s LEFT JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND " STORE_SENDS_REPLIED
        "GROUP BY 1, 2, 3, 4, 5 ORDER BY 6 DESC, 1, 5 LIMIT ?2",
    [S_REPLIES_EACH - STORE_SLOT_LEDGER] =
        "SELECT s.state, s.bounce_class, s.last_code, s.last_status, "
        "  s.last_text, 1, c.email "
        "FROM sends s LEFT JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND " STORE_SENDS_REPLIED
        "ORDER BY s.contact_id LIMIT ?2",
    /* campaign cancel: what is left to send, not sent - the rows
     * queued, deferred, and uncertain still owed their retry (which keep
     * was_uncertain = 1, so the report lists them).  Rows `sending` are
     * left to the send that claimed them: its results and releases come
     * back through S_SEND_RESULT and S_RELEASE, which cancel a row that
     * would wait for another attempt. */
    [S_CANCEL - STORE_SLOT_LEDGER] =
        "UPDATE sends SET state = 'cancelled', next_attempt_at = NULL, "
        "  done_at = ?2, "
        "  last_text = 'cancelled' || COALESCE(' after: ' || last_text, '') "
        "WHERE campaign_id = ?1 AND (state = 'queued' OR state = 'deferred' "
        "  OR state = 'unbuildable' OR state = 'held' "
        "  OR (state = 'uncertain' AND was_uncertain = 1))",
    /* the crash journal's replay (engine/journal.h): every row handed
     * out has its record, so the rows still claimed never left */
    [S_RELEASE_ALL - STORE_SLOT_LEDGER] =
        LEDGER_RELEASE "WHERE campaign_id = ?1 AND state = 'sending'",
    /* its 250 was read, its result not committed */
    [S_REPLAY_SENT - STORE_SLOT_LEDGER] =
        "UPDATE sends SET state = 'sent', last_code = 250, "
        "  last_status = NULL, bounce_class = NULL, next_attempt_at = NULL, "
        "  last_text = '250 (read before the run stopped; recorded from its "
        "crash journal)', "
        "  message_id = COALESCE(?4, message_id), done_at = ?5 "
        "WHERE campaign_id = ?1 AND contact_id = ?2 AND state = 'sending' "
        "  AND attempts = ?3",
    /* its content went out, no reply was read */
    [S_REPLAY_UNCERTAIN - STORE_SLOT_LEDGER] =
        "UPDATE sends SET state = 'uncertain', was_uncertain = 1, "
        "  message_id = COALESCE(?4, message_id) "
        "WHERE campaign_id = ?1 AND contact_id = ?2 AND state = 'sending' "
        "  AND attempts = ?3",
    /* never delivered (its reply said no, or its content never left) */
    [S_REPLAY_QUEUED - STORE_SLOT_LEDGER] = LEDGER_RELEASE
    "WHERE campaign_id = ?1 AND contact_id = ?2 AND state = 'sending' "
    "  AND attempts = ?7",
    /* the recipients still to send, for the check of a template about to
     * be frozen (again) */
    [S_PENDING - STORE_SLOT_LEDGER] =
        "SELECT c.id, c.email, c.attrs, c.status "
        "FROM sends s JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND s.state IN ('queued', 'sending', "
        "  'deferred', 'uncertain', 'unbuildable', 'held') "
        "ORDER BY s.contact_id",
    /* a later send retries what could not be built (the template or the
     * contact may have been fixed) and what the client held (the relay
     * may now offer SMTPUTF8, or a larger SIZE) */
    [S_REQUEUE_UNBUILDABLE - STORE_SLOT_LEDGER] =
        "UPDATE sends SET state = 'queued', done_at = NULL, "
        "  next_attempt_at = NULL "
        "WHERE campaign_id = ?1 AND state IN ('unbuildable', 'held')",
    [S_CAMPAIGN_REFREEZE - STORE_SLOT_LEDGER] =
        "UPDATE campaigns SET template_src = ?2 WHERE id = ?1",
    [S_SEND_TIMES - STORE_SLOT_LEDGER] =
        "SELECT state, COALESCE(first_attempt_at, 0), COALESCE(done_at, 0) "
        "FROM sends WHERE campaign_id = ?1 AND contact_id = ?2",
};

/* stmt - the family's statement id, prepared once, reset. */
static sqlite3_stmt *
stmt(struct store *st, enum stmt_id id, struct err *e)
{
    return store_stmt(st, (int)id, stmt_sql[id - STORE_SLOT_LEDGER], e);
}

int
store_campaign_find(struct store *st, const char *name, int64_t *id,
                    struct err *e)
{
    return store_find_id(st, stmt(st, S_CAMPAIGN_FIND, e), name, id, e);
}

int
store_campaign_ensure(struct store *st, const char *name, const char *template,
                      int64_t list_id, int64_t now, int64_t *id, struct err *e)
{
    sqlite3_stmt *s;
    int rc = store_find_id(st, stmt(st, S_CAMPAIGN_FIND, e), name, id, e);

    if (rc != 0)
        return rc == 1 ? 0 : -1;
    if ((s = stmt(st, S_CAMPAIGN_ADD, e)) == NULL)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, template, -1, SQLITE_STATIC);
    if (list_id > 0)
        sqlite3_bind_int64(s, 3, list_id);
    sqlite3_bind_int64(s, 4, now);
    if (store_stmt_done(st, s, e, "create campaign") == -1)
        return -1;
    *id = sqlite3_last_insert_rowid(st->db);
    return 0;
}

/* ---- the send ledger ---- */

/* campaign_row - run S_CAMPAIGN_GET or _GET_ID (bound); cb for the row. */
static int
campaign_row(struct store *st, sqlite3_stmt *s, store_campaign_cb cb, void *arg,
             struct err *e)
{
    struct store_campaign c;
    int rc = sqlite3_step(s);

    if (rc == SQLITE_ROW) {
        c.id = sqlite3_column_int64(s, 0);
        c.name = (const char *)sqlite3_column_text(s, 1);
        c.template = (const char *)sqlite3_column_text(s, 2);
        c.list_id = sqlite3_column_int64(s, 3);
        c.list = (const char *)sqlite3_column_text(s, 4);
        c.status = (const char *)sqlite3_column_text(s, 5);
        c.data = (const char *)sqlite3_column_text(s, 6);
        c.frozen_at = sqlite3_column_int64(s, 7);
        c.control = (const char *)sqlite3_column_text(s, 8);
        c.recipients = sqlite3_column_int64(s, 9);
        c.created_at = sqlite3_column_int64(s, 10);
        c.started_at = sqlite3_column_int64(s, 11);
        c.finished_at = sqlite3_column_int64(s, 12);
        c.template_src = (const char *)sqlite3_column_text(s, 13);
        c.breaker = (const char *)sqlite3_column_text(s, 14);
        c.scheduled_at = sqlite3_column_int64(s, 15);
        c.sender_domain = (const char *)sqlite3_column_text(s, 16);
        cb(&c, arg);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read campaign");
    return rc == SQLITE_ROW;
}

int
store_campaign_get(struct store *st, const char *name, store_campaign_cb cb,
                   void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGN_GET, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    return campaign_row(st, s, cb, arg, e);
}

int
store_campaign_get_id(struct store *st, int64_t id, store_campaign_cb cb,
                      void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGN_GET_ID, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    return campaign_row(st, s, cb, arg, e);
}

int
store_campaign_template(struct store *st, int64_t id, const char *src,
                        struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGN_TEMPLATE, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, src, -1, SQLITE_STATIC);
    return store_stmt_done(st, s, e, "freeze template");
}

int
store_campaign_thaw(struct store *st, int64_t id, int *thawed, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGN_THAW, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    if (store_stmt_done(st, s, e, "thaw template") == -1)
        return -1;
    *thawed = sqlite3_changes(st->db) > 0;
    return 0;
}

int
store_contact_sends(struct store *st, int64_t contact, store_contact_send_cb cb,
                    void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CONTACT_SENDS, e);
    struct store_contact_send r;
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        r.campaign = (const char *)sqlite3_column_text(s, 0);
        r.state = (const char *)sqlite3_column_text(s, 1);
        r.attempts = sqlite3_column_int(s, 2);
        r.code = sqlite3_column_int(s, 3);
        r.status = (const char *)sqlite3_column_text(s, 4);
        r.text = (const char *)sqlite3_column_text(s, 5);
        r.bounce_class = (const char *)sqlite3_column_text(s, 6);
        r.done_at = sqlite3_column_int64(s, 7);
        if (cb(&r, arg) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read sends");
    return 0;
}

int
store_send_times(struct store *st, int64_t campaign, int64_t contact,
                 struct store_send_times *t, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SEND_TIMES, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, contact);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        snprintf(t->state, sizeof t->state, "%s",
                 (const char *)sqlite3_column_text(s, 0));
        t->first_attempt_at = sqlite3_column_int64(s, 1);
        t->done_at = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read send");
    return rc == SQLITE_ROW;
}

int
store_campaign_start(struct store *st, int64_t id, int64_t now,
                     const char *data, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGN_START, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now);
    if (data)
        sqlite3_bind_text(s, 3, data, -1, SQLITE_STATIC);
    if (store_stmt_done(st, s, e, "start campaign") == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

int
store_campaign_finish(struct store *st, int64_t id, const char *status,
                      int64_t now, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGN_FINISH, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
    if (now > 0)
        sqlite3_bind_int64(s, 3, now);
    return store_stmt_done(st, s, e, "update campaign");
}

int
store_campaign_control(struct store *st, int64_t id, char *out, size_t n,
                       struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGN_CONTROL_GET, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    out[0] = '\0';
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read campaign control");
    return 0;
}

int
store_campaign_set_control(struct store *st, const char *name,
                           const char *control, const char *status,
                           struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGN_CONTROL_SET, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (control)
        sqlite3_bind_text(s, 2, control, -1, SQLITE_STATIC);
    if (status)
        sqlite3_bind_text(s, 3, status, -1, SQLITE_STATIC);
    if (store_stmt_done(st, s, e, "control campaign") == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

int
store_ledger_cancel(struct store *st, int64_t campaign, int64_t now, long *n,
                    long *unfrozen, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CANCEL, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, now);
    if (store_stmt_done(st, s, e, "cancel recipients") == -1)
        return -1;
    *n = sqlite3_changes(st->db);
    /* a freeze under way ends: the members not frozen yet are never
     * sent (*unfrozen), and the recipients are the ledger's */
    struct store_counts c;
    memset(&c, 0, sizeof c);
    if (store_ledger_counts(st, campaign, &c, e) == -1 ||
        (s = stmt(st, S_FREEZE_COUNT, e)) == NULL)
        return -1;
    *unfrozen = c.unfrozen;
    sqlite3_bind_int64(s, 1, campaign);
    return store_stmt_done(st, s, e, "end the freeze");
}

int
store_ledger_freeze(struct store *st, int64_t campaign, int64_t list_id,
                    int64_t now, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_FREEZE_BEGIN, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, list_id);
    if (store_stmt_done(st, s, e, "freeze recipients") == -1 ||
        (s = stmt(st, S_FREEZE_GEN, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, list_id);
    return store_stmt_done(st, s, e, "freeze recipients");
}

/* freeze_state - the campaign's list, gen and cursor, and the members
 * still to freeze (STORE_UNFROZEN); *after -1 when the freeze is complete
 * (or the campaign froze before 013). */
static int
freeze_state(struct store *st, int64_t campaign, int64_t *list_id, int64_t *gen,
             int64_t *after, int64_t *left, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_FREEZE_STATE, e);
    int rc;

    if (s == NULL)
        return -1;
    *after = -1;
    *list_id = *gen = *left = 0;
    sqlite3_bind_int64(s, 1, campaign);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW &&
        sqlite3_column_type(s, 2) != SQLITE_NULL) {
        *list_id = sqlite3_column_int64(s, 0);
        *gen = sqlite3_column_int64(s, 1);
        *after = sqlite3_column_int64(s, 2);
        *left = sqlite3_column_int64(s, 3);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read the freeze");
    return 0;
}

int
store_ledger_freeze_more(struct store *st, int64_t campaign, int64_t now, int n,
                         int *left, struct err *e)
{
    sqlite3_stmt *s;
    int64_t list_id, gen, after, upper = INT64_MAX, unfrozen;
    int rc;

    *left = 0;
    if (freeze_state(st, campaign, &list_id, &gen, &after, &unfrozen, e) == -1)
        return -1;
    if (after < 0)
        return 0;
    if ((s = stmt(st, S_FREEZE_UPPER, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, list_id);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int(s, 3, n > 0 ? n : 1);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        upper = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "freeze recipients");
    if ((s = stmt(st, S_FREEZE, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, list_id);
    sqlite3_bind_int64(s, 4, after);
    sqlite3_bind_int64(s, 5, upper);
    sqlite3_bind_int64(s, 6, gen);
    if (store_stmt_done(st, s, e, "freeze recipients") == -1 ||
        (s = stmt(st, S_FREEZE_COUNT, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    if (upper != INT64_MAX)
        sqlite3_bind_int64(s, 2, upper);
    *left = upper != INT64_MAX;
    return store_stmt_done(st, s, e, "freeze recipients");
}

int
store_ledger_recover(struct store *st, int64_t campaign, long *n, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_RECOVER, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    if (store_stmt_done(st, s, e, "recover ledger") == -1)
        return -1;
    *n = sqlite3_changes(st->db);
    return 0;
}

int
store_ledger_release(struct store *st, int64_t campaign, int64_t contact,
                     const char *why, int keep, int code, const char *status,
                     struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_RELEASE, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, contact);
    sqlite3_bind_text(s, 3, why, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, keep);
    sqlite3_bind_int(s, 5, code);
    sqlite3_bind_text(s, 6, status ? status : "", -1, SQLITE_STATIC);
    return store_stmt_done(st, s, e, "release a claimed recipient");
}

int
store_ledger_release_all(struct store *st, int64_t campaign, const char *why,
                         long *n, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_RELEASE_ALL, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_text(s, 3, why, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, 0);
    sqlite3_bind_int(s, 5, 0);
    sqlite3_bind_text(s, 6, "", -1, SQLITE_STATIC);
    if (store_stmt_done(st, s, e, "release the recipients never sent") == -1)
        return -1;
    *n = sqlite3_changes(st->db);
    return 0;
}

int
store_ledger_replay(struct store *st, int64_t campaign, int64_t contact,
                    int attempt, enum store_replay how, const char *message_id,
                    int64_t now, struct err *e)
{
    static const enum stmt_id ids[] = {S_REPLAY_SENT, S_REPLAY_UNCERTAIN,
                                       S_REPLAY_QUEUED};
    sqlite3_stmt *s = stmt(st, ids[how], e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, contact);
    if (how == STORE_REPLAY_QUEUED) {
        sqlite3_bind_text(s, 3,
                          "not sent: the run stopped first (its crash "
                          "journal says so)",
                          -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 4, 0);
        sqlite3_bind_int(s, 5, 0);
        sqlite3_bind_text(s, 6, "", -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 7, attempt);
    } else {
        sqlite3_bind_int(s, 3, attempt);
        if (message_id != NULL)
            sqlite3_bind_text(s, 4, message_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, now);
    }
    if (store_stmt_done(st, s, e, "replay the crash journal") == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

int
store_ledger_claim(struct store *st, int64_t campaign, enum store_claim kind,
                   int64_t now, int limit, store_claim_cb cb, void *arg,
                   struct err *e)
{
    static const enum stmt_id ids[] = {S_CLAIM_QUEUED, S_CLAIM_DEFERRED,
                                       S_CLAIM_UNCERTAIN};
    sqlite3_stmt *s = stmt(st, ids[kind], e);
    struct store_claim_row r;
    int rc, n = 0;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int(s, 2, limit);
    if (kind == STORE_CLAIM_DEFERRED)
        sqlite3_bind_int64(s, 3, now);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        r.contact_id = sqlite3_column_int64(s, 0);
        r.email = (const char *)sqlite3_column_text(s, 1);
        r.attrs = (const char *)sqlite3_column_text(s, 2);
        r.status = (const char *)sqlite3_column_text(s, 3);
        r.attempts = sqlite3_column_int(s, 4);
        r.message_id = (const char *)sqlite3_column_text(s, 5);
        cb(&r, arg);
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, e, "claim recipients");
    return n;
}

int
store_ledger_mark_sending(struct store *st, int64_t campaign, int64_t contact,
                          int64_t now, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CLAIM_MARK, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, contact);
    sqlite3_bind_int64(s, 3, now);
    return store_stmt_done(st, s, e, "claim recipient");
}

int
store_ledger_result(struct store *st, const struct store_result *r,
                    struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SEND_RESULT, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, r->campaign_id);
    sqlite3_bind_int64(s, 2, r->contact_id);
    sqlite3_bind_text(s, 3, r->state, -1, SQLITE_STATIC);
    if (r->code > 0)
        sqlite3_bind_int(s, 4, r->code);
    if (r->status && *r->status)
        sqlite3_bind_text(s, 5, r->status, -1, SQLITE_STATIC);
    if (r->text && *r->text)
        sqlite3_bind_text(s, 6, r->text, -1, SQLITE_STATIC);
    if (r->bounce_class)
        sqlite3_bind_text(s, 7, r->bounce_class, -1, SQLITE_STATIC);
    if (r->message_id)
        sqlite3_bind_text(s, 8, r->message_id, -1, SQLITE_STATIC);
    if (r->relay)
        sqlite3_bind_text(s, 9, r->relay, -1, SQLITE_STATIC);
    if (r->next_attempt_at > 0)
        sqlite3_bind_int64(s, 10, r->next_attempt_at);
    if (r->done_at > 0)
        sqlite3_bind_int64(s, 11, r->done_at);
    return store_stmt_done(st, s, e, "record result");
}

int
store_ledger_unfrozen(struct store *st, int64_t campaign, int64_t contact,
                      struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_FREEZE_PENDING, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, contact);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read the freeze");
    return rc == SQLITE_ROW;
}

/* unfrozen - a freeze under way: the members counted when the campaign
 * started that are not in the ledger yet count as recipients, queued */
static int
unfrozen(struct store *st, int64_t campaign, struct store_counts *c,
         struct err *e)
{
    int64_t list_id, gen, after, left;

    if (freeze_state(st, campaign, &list_id, &gen, &after, &left, e) == -1)
        return -1;
    c->unfrozen = (long)left;
    c->recipients += c->unfrozen;
    c->queued += c->unfrozen;
    return 0;
}

int
store_ledger_counts(struct store *st, int64_t campaign, struct store_counts *c,
                    struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SEND_COUNTS, e);
    int rc;

    if (s == NULL)
        return -1;
    memset(c, 0, sizeof *c);
    sqlite3_bind_int64(s, 1, campaign);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(s, 0);
        const char *cls = (const char *)sqlite3_column_text(s, 1);
        long n = (long)sqlite3_column_int64(s, 2);
        c->recipients += n;
        c->was_uncertain += (long)sqlite3_column_int64(s, 3);
        if (strcmp(state, "uncertain") == 0)
            c->uncertain_retry += (long)sqlite3_column_int64(s, 4);
        if (strcmp(state, "queued") == 0)
            c->queued += n;
        else if (strcmp(state, "sending") == 0)
            c->sending += n;
        else if (strcmp(state, "sent") == 0)
            c->sent += n;
        else if (strcmp(state, "deferred") == 0)
            c->deferred += n;
        else if (strcmp(state, "failed") == 0)
            c->failed += n;
        else if (strcmp(state, "skipped") == 0)
            c->skipped += n;
        else if (strcmp(state, "expired") == 0)
            c->expired += n;
        else if (strcmp(state, "uncertain") == 0)
            c->uncertain += n;
        else if (strcmp(state, "cancelled") == 0)
            c->cancelled += n;
        else if (strcmp(state, "unbuildable") == 0)
            c->unbuildable += n;
        else if (strcmp(state, "held") == 0)
            c->held += n;
        else if (strcmp(state, "bounced") == 0) {
            if (strcmp(cls, "hard") == 0)
                c->bounced_hard += n;
            else if (strcmp(cls, "blocked") == 0)
                c->blocked += n;
            else
                c->bounced_soft += n;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, e, "count ledger");
    return unfrozen(st, campaign, c, e);
}

int
store_ledger_next_due(struct store *st, int64_t campaign, int64_t *when,
                      struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_NEXT_DUE, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    *when = 0;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *when = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read ledger");
    return 0;
}

int
store_campaign_names(struct store *st, store_name_cb cb, void *arg,
                     struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGNS_ALL, e);
    struct buf names;
    int rc;

    if (s == NULL)
        return -1;
    /* copied first: the callback may use the store */
    buf_init(&names, 0);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(s, 0);
        if (buf_append(&names, n, strlen(n) + 1) == -1)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        buf_free(&names);
        return store_fail(st, e, "read campaigns");
    }
    for (size_t i = 0; i < names.len; i += strlen(names.p + i) + 1)
        if (cb(names.p + i, arg) != 0)
            break;
    buf_free(&names);
    return 0;
}

int
store_ledger_uncertain(struct store *st, int64_t campaign,
                       store_uncertain_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_UNCERTAIN_LIST, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb((const char *)sqlite3_column_text(s, 0),
               (const char *)sqlite3_column_text(s, 1),
               (const char *)sqlite3_column_text(s, 2), arg) != 0)
            break;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read ledger");
    return 0;
}

int
store_reply_rows(struct store *st, sqlite3_stmt *s, store_reply_cb cb,
                 void *arg, const char *what, struct err *e)
{
    struct store_reply r;
    int rc;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        r.state = (const char *)sqlite3_column_text(s, 0);
        r.bounce_class = (const char *)sqlite3_column_text(s, 1);
        r.code = sqlite3_column_int(s, 2);
        r.status = (const char *)sqlite3_column_text(s, 3);
        r.text = (const char *)sqlite3_column_text(s, 4);
        r.count = sqlite3_column_int64(s, 5);
        r.email = (const char *)sqlite3_column_text(s, 6);
        if (cb(&r, arg) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, what);
    return 0;
}

int
store_ledger_replies(struct store *st, int64_t campaign, int each, long limit,
                     store_reply_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, each ? S_REPLIES_EACH : S_REPLIES_GROUPED, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
    return store_reply_rows(st, s, cb, arg, "read ledger", e);
}

int
store_ledger_pending(struct store *st, int64_t campaign, store_member_cb cb,
                     void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_PENDING, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    rc = store_member_rows(st, s, cb, arg, "read the recipients left to send",
                           e);
    if (rc != 0 || (s = stmt(st, S_PENDING_UNFROZEN, e)) == NULL)
        return s == NULL ? -1 : rc;
    sqlite3_bind_int64(s, 1, campaign);
    return store_member_rows(st, s, cb, arg, "read the recipients left to send",
                             e);
}

int
store_ledger_requeue_unbuildable(struct store *st, int64_t campaign, long *n,
                                 struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_REQUEUE_UNBUILDABLE, e);

    *n = 0;
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    if (store_stmt_done(st, s, e, "queue the unbuildable and held again") == -1)
        return -1;
    *n = (long)sqlite3_changes(st->db);
    return 0;
}

int
store_campaign_refreeze(struct store *st, int64_t id, const char *src,
                        struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGN_REFREEZE, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, src, -1, SQLITE_STATIC);
    return store_stmt_done(st, s, e, "freeze the template again");
}
