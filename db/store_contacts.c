/* SPDX-License-Identifier: ISC */
/*
 * store_contacts.c - the contacts family of tables (see store.h): import
 * runs, contacts, lists and memberships, and the suppression list.
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
    S_IMPORT_BEGIN = STORE_SLOT_CONTACTS,
    S_IMPORT_END,
    S_CONTACT_FIND,
    S_CONTACT_INSERT,
    S_CONTACT_INSERT_LEGACY,
    S_CONTACT_TOUCH,
    S_IMPORT_REVERTED,
    S_IMPORT_CHANGED,
    S_IMPORT_CLEAR,
    S_LIST_GET,
    S_LIST_ADD,
    S_MEMBER_ADD,
    S_LISTS,
    S_CONTACT_GET,
    S_CONTACT_LISTS,
    S_CONTACT_DELETE,
    S_FORGET_ID,
    S_FORGET_TOMBSTONE,
    S_FORGET_SENDS,
    S_FORGET_EVENTS,
    S_SUPPRESS_ADD,
    S_SUPPRESS_STATUS,
    S_SUPPRESS_GET,
    S_SUPPRESS_ALL,
    S_SUPPRESS_FORGET,
    S_SUPPRESS_EMAIL_EXISTS,
    S_LIST_FIND,
    S_MEMBERS,
    S_CONTACT_FIRST,
    S_CONTACT_GET_ID,
    S_CONTACT_MERGED,
    S_SUPPRESS_LIFT,
    S_LIFT_STATUS,
    S_REKEY_MERGE,
    S_REKEY_DELETE,
    S_REKEY_MOVE,
    S_END
};
_Static_assert((int)S_END <= (int)STORE_SLOT_LEDGER,
               "this family's statements run into the ledger's slots");

/* CONTACT_INSERT - add a contact whose status is the first non-NULL of
 * the lookups, else active */
#define CONTACT_INSERT(lookups)                                                \
    "INSERT INTO contacts(email, attrs, status, created_at, updated_at, "      \
    "  seen_run, seen_new) "                                                   \
    "VALUES (?1, ?2, COALESCE(" lookups ", 'active'), ?4, ?4, ?5, 1) "         \
    "ON CONFLICT(email) DO NOTHING"
/* SUPPRESSION_RANK - the strongest reason first */
#define SUPPRESSION_RANK                                                       \
    "CASE reason WHEN 'complained' THEN 0 WHEN 'unsubscribed' THEN 1 "         \
    "  WHEN 'bounced' THEN 2 WHEN 'manual' THEN 3 ELSE 4 END"

static const char *const stmt_sql[S_END - STORE_SLOT_CONTACTS] = {
    [S_IMPORT_BEGIN - STORE_SLOT_CONTACTS] =
        "INSERT INTO imports(file, list_id, started_at) "
        "VALUES (?1, ?2, ?3)",
    [S_IMPORT_END - STORE_SLOT_CONTACTS] =
        "UPDATE imports SET imported = ?2, updated = ?3, "
        "unchanged = ?4, rejected = ?5 WHERE id = ?1",
    [S_CONTACT_FIND - STORE_SLOT_CONTACTS] =
        "SELECT id, attrs, updated_at, seen_run IS ?2, "
        "  seen_new, prev_attrs IS NOT NULL "
        "FROM contacts WHERE email = ?1",
    /* a new address takes its status from the suppression list; an
     * existing one is left alone (the caller then finds and merges it) */
    [S_CONTACT_INSERT - STORE_SLOT_CONTACTS] =
        CONTACT_INSERT(REASON_STATUS("?3")),
    /* the same for an address with an A-label form (email.h): an older
     * release may have suppressed that form (?6) */
    [S_CONTACT_INSERT_LEGACY - STORE_SLOT_CONTACTS] =
        CONTACT_INSERT(REASON_STATUS("?3") ", " REASON_STATUS("?6")),
    [S_CONTACT_TOUCH - STORE_SLOT_CONTACTS] =
        "UPDATE contacts SET attrs = ?2, updated_at = ?3, "
        "  prev_attrs = CASE WHEN ?8 THEN prev_attrs ELSE ?4 END, "
        "  prev_updated = CASE WHEN ?8 THEN prev_updated ELSE ?5 END, "
        "  seen_run = ?6, seen_new = ?7 WHERE id = ?1",
    [S_IMPORT_REVERTED - STORE_SLOT_CONTACTS] =
        "UPDATE contacts SET updated_at = prev_updated "
        "WHERE seen_run = ?1 AND prev_attrs IS NOT NULL "
        "  AND attrs IS prev_attrs",
    [S_IMPORT_CHANGED - STORE_SLOT_CONTACTS] =
        "SELECT count(*) FROM contacts "
        "WHERE seen_run = ?1 AND prev_attrs IS NOT NULL "
        "  AND attrs IS NOT prev_attrs",
    [S_IMPORT_CLEAR - STORE_SLOT_CONTACTS] =
        "UPDATE contacts SET prev_attrs = NULL, "
        "  prev_updated = NULL "
        "WHERE seen_run = ?1 AND prev_attrs IS NOT NULL",
    [S_LIST_GET - STORE_SLOT_CONTACTS] = "SELECT id FROM lists WHERE name = ?1",
    [S_LIST_ADD - STORE_SLOT_CONTACTS] =
        "INSERT INTO lists(name, created_at) VALUES (?1, ?2)",
    /* many at once: ?3 is a JSON array of contact ids; "WHERE true" tells
     * the parser that ON CONFLICT belongs to the INSERT.  A new member
     * has the list's gen: a campaign that started before is not frozen
     * with it (013_freeze_chunks.sql) */
    [S_MEMBER_ADD - STORE_SLOT_CONTACTS] =
        "INSERT INTO memberships(list_id, contact_id, added_at, gen) "
        "SELECT ?1, value, ?2, (SELECT gen FROM lists WHERE id = ?1) "
        "FROM json_each(?3) WHERE true "
        "ON CONFLICT DO NOTHING",
    [S_LISTS - STORE_SLOT_CONTACTS] =
        "SELECT l.name, l.created_at, count(m.contact_id), "
        "  count(CASE WHEN c.status = 'active' THEN 1 END) "
        "FROM lists l "
        "LEFT JOIN memberships m ON m.list_id = l.id "
        "LEFT JOIN contacts c ON c.id = m.contact_id "
        "GROUP BY l.id ORDER BY l.name",
    [S_CONTACT_GET - STORE_SLOT_CONTACTS] =
        "SELECT c.id, c.email, c.attrs, c.status, "
        "  c.created_at, c.updated_at, i.file, i.started_at "
        "FROM contacts c LEFT JOIN imports i "
        "  ON i.id = c.seen_run "
        "WHERE c.email = ?1",
    [S_CONTACT_LISTS - STORE_SLOT_CONTACTS] =
        "SELECT l.name FROM memberships m "
        "JOIN lists l ON l.id = m.list_id "
        "WHERE m.contact_id = ?1 ORDER BY l.name",
    [S_CONTACT_DELETE - STORE_SLOT_CONTACTS] =
        "DELETE FROM contacts WHERE email = ?1",
    [S_FORGET_ID - STORE_SLOT_CONTACTS] =
        "SELECT id FROM contacts WHERE email = ?1",
    /* a new tombstone id (006_history.sql): -1, -2, ... never reused */
    [S_FORGET_TOMBSTONE - STORE_SLOT_CONTACTS] =
        "UPDATE meta SET value = CAST(value AS INTEGER) - 1 "
        "WHERE key = 'tombstone' RETURNING CAST(value AS INTEGER)",
    /* the person's ledger rows move to the tombstone with their state,
     * attempts, codes and times; the reply text (it may quote the
     * address), the Message-ID and the domain go.  A row still to be sent, or
     * being sent, is skipped: nobody is left to mail.  One primary-key probe
     * per campaign (sends has no index on contact_id alone). */
    [S_FORGET_SENDS - STORE_SLOT_CONTACTS] =
        "UPDATE sends SET contact_id = ?2, message_id = NULL, domain = '', "
        "  last_text = CASE "
        "    WHEN state IN " STORE_SENDS_NOT_FINAL " THEN 'skipped: forgotten' "
        "    WHEN last_text IS NULL THEN NULL "
        "    ELSE 'reply text removed: forgotten' END, "
        "  done_at = CASE WHEN state IN " STORE_SENDS_NOT_FINAL " THEN ?3 "
        "    ELSE done_at END, "
        "  next_attempt_at = NULL, "
        "  state = CASE WHEN state IN " STORE_SENDS_NOT_FINAL " THEN 'skipped' "
        "    ELSE state END "
        "WHERE campaign_id IN (SELECT id FROM campaigns) AND contact_id = ?1",
    /* the person's opens and clicks stay counted; the IP goes */
    [S_FORGET_EVENTS - STORE_SLOT_CONTACTS] =
        "UPDATE events SET contact_id = ?2, ip = NULL WHERE contact_id = ?1",
    [S_SUPPRESS_ADD - STORE_SLOT_CONTACTS] =
        "INSERT INTO suppressions(hash, email, reason, "
        "  source, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT(hash) DO UPDATE SET reason = excluded.reason, "
        "  source = excluded.source, created_at = excluded.created_at "
        "WHERE " REASON_RANK("excluded.reason") " > " REASON_RANK(
            "suppressions.reason"),
    /* the contact's status follows the suppression's reason as it is now
     * (a weaker one did not replace a stronger): never weakened */
    [S_SUPPRESS_STATUS - STORE_SLOT_CONTACTS] =
        "UPDATE contacts SET status = " REASON_STATUS(
            "?2") ", "
                  "  updated_at = ?3 "
                  "WHERE email = ?1 AND " CONTACT_RANK " < "
                  "  " REASON_RANK(
                      "(SELECT reason FROM suppressions WHERE hash = ?2)"),
    [S_SUPPRESS_GET - STORE_SLOT_CONTACTS] =
        "SELECT hash, email, reason, source, created_at "
        "FROM suppressions WHERE hash = ?1",
    /* every suppression (of one source, one reason: NULL for any), with
     * the relay's reply that bounced the person (the latest).  CROSS JOIN
     * fixes the order: the contact by its address, then the campaigns
     * (few), each send found by its primary key - left to itself the
     * planner scans every bounced send for each suppression. */
    [S_SUPPRESS_ALL - STORE_SLOT_CONTACTS] =
        "SELECT p.hash, p.email, p.reason, p.source, p.created_at, "
        "  (SELECT x.last_code || CASE WHEN coalesce(x.last_status, '') "
        "     <> '' THEN ' ' || x.last_status ELSE '' END || ' ' || "
        "     coalesce(x.last_text, '') "
        "   FROM contacts c CROSS JOIN campaigns k CROSS JOIN sends x "
        "   WHERE p.reason = 'bounced' AND c.email = p.email AND "
        "     x.campaign_id = k.id AND x.contact_id = c.id AND "
        "     x.state = 'bounced' AND x.bounce_class = 'hard' AND "
        "     x.last_code IS NOT NULL "
        "   ORDER BY x.done_at DESC, k.id DESC LIMIT 1) "
        "FROM suppressions p "
        "WHERE (?1 IS NULL OR p.source = ?1) AND (?2 IS NULL OR p.reason = ?2) "
        "ORDER BY p.created_at, p.email",
    /* forget: keep the hash and the first reason, drop the address */
    [S_SUPPRESS_FORGET - STORE_SLOT_CONTACTS] =
        "INSERT INTO suppressions(hash, email, reason, source, created_at) "
        "VALUES (?1, NULL, 'forgotten', 'forget', ?2) "
        "ON CONFLICT(hash) DO UPDATE SET email = NULL",
    [S_SUPPRESS_EMAIL_EXISTS - STORE_SLOT_CONTACTS] =
        "SELECT 1 FROM suppressions WHERE hash = ?1",
    [S_LIST_FIND - STORE_SLOT_CONTACTS] =
        "SELECT id FROM lists WHERE name = ?1",
    /* in the primary key's order: ORDER BY c.id made SQLite sort the
     * whole list in memory first (153 MB for a million members) */
    [S_MEMBERS - STORE_SLOT_CONTACTS] =
        "SELECT c.id, c.email, c.attrs, c.status "
        "FROM memberships m JOIN contacts c ON c.id = m.contact_id "
        "WHERE m.list_id = ?1 ORDER BY m.contact_id",
    [S_CONTACT_FIRST - STORE_SLOT_CONTACTS] =
        "SELECT id, email, attrs, status, created_at, "
        "  updated_at, NULL, 0 "
        "FROM contacts WHERE status = 'active' "
        "ORDER BY id LIMIT 1",
    /* an id that is no contact, merged into another by migration 007 */
    [S_CONTACT_MERGED - STORE_SLOT_CONTACTS] =
        "SELECT into_id FROM contact_merged WHERE old_id = ?1 "
        "  AND NOT EXISTS (SELECT 1 FROM contacts WHERE id = ?1)",
    [S_CONTACT_GET_ID - STORE_SLOT_CONTACTS] =
        "SELECT c.id, c.email, c.attrs, c.status, "
        "  c.created_at, c.updated_at, i.file, i.started_at "
        "FROM contacts c LEFT JOIN imports i "
        "  ON i.id = c.seen_run "
        "WHERE c.id = ?1",
    [S_SUPPRESS_LIFT - STORE_SLOT_CONTACTS] =
        "DELETE FROM suppressions WHERE hash = ?1 AND reason = ?2",
    /* the contact's status said the same suppression: mailable again */
    [S_LIFT_STATUS - STORE_SLOT_CONTACTS] =
        "UPDATE contacts SET status = 'active', updated_at = ?3 "
        "WHERE email = ?1 AND status = CASE ?2 WHEN 'bounced' THEN 'bounced' "
        "  ELSE 'suppressed' END",
    /* re-key ?1 to ?2 when both exist: one row, with the stronger reason
     * (its source), the earlier time, and no address if either had none
     * (an erased person stays erased); else ?3 or the address kept */
    [S_REKEY_MERGE - STORE_SLOT_CONTACTS] =
        "UPDATE suppressions AS t SET reason = w.reason, source = w.source, "
        "  created_at = min(t.created_at, f.created_at), "
        "  email = CASE WHEN t.email IS NULL OR f.email IS NULL THEN NULL "
        "    ELSE coalesce(?3, t.email) END "
        "FROM (SELECT created_at, email FROM suppressions WHERE hash = ?1) "
        "  AS f, "
        "  (SELECT reason, source FROM suppressions "
        "   WHERE hash = ?1 OR hash = ?2 "
        "   ORDER BY " SUPPRESSION_RANK ", hash = ?2 DESC LIMIT 1) AS w "
        "WHERE t.hash = ?2",
    [S_REKEY_DELETE - STORE_SLOT_CONTACTS] =
        "DELETE FROM suppressions WHERE hash = ?1",
    [S_REKEY_MOVE - STORE_SLOT_CONTACTS] =
        "UPDATE suppressions SET hash = ?2, "
        "  email = CASE WHEN email IS NULL THEN NULL "
        "    ELSE coalesce(?3, email) END "
        "WHERE hash = ?1",
};

/* stmt - the family's statement id, prepared once, reset. */
static sqlite3_stmt *
stmt(struct store *st, enum stmt_id id, struct err *e)
{
    return store_stmt(st, (int)id, stmt_sql[id - STORE_SLOT_CONTACTS], e);
}

/* ---- import ---- */

/*
 * store_import_begin - start an import run.
 *
 * The run's statements are compiled without the tables' CHECK constraints
 * (PRAGMA ignore_check_constraints, which expires and so recompiles every
 * prepared statement) until store_import_end or store_rollback.  SQLite
 * (3.40) evaluates a CHECK of the form "col IN (five constants)" by
 * building a temporary b-tree - a new in-memory pager - for every row
 * inserted, which was 40% of the instructions of an import (callgrind,
 * scripts/bench/import).  The run writes checked columns only with values
 * that satisfy the checks by construction: contacts.status comes from the
 * CASE over the suppression reasons in S_CONTACT_INSERT(_LEGACY) and
 * S_SUPPRESS_STATUS, suppressions.reason from the opt-out markers of
 * csv_import.c ("unsubscribed", "bounced") or from an existing row
 * (S_REKEY_MERGE).
 */
int
store_import_begin(struct store *st, const char *file, int64_t list_id,
                   int64_t now, int64_t *run, struct err *e)
{
    sqlite3_stmt *s;

    if (store_import_checks(st, 0, e) == -1 ||
        (s = stmt(st, S_IMPORT_BEGIN, e)) == NULL)
        return -1;
    sqlite3_bind_text(s, 1, file, -1, SQLITE_STATIC);
    if (list_id > 0)
        sqlite3_bind_int64(s, 2, list_id);
    sqlite3_bind_int64(s, 3, now);
    if (store_stmt_done(st, s, e, "record import") == -1)
        return -1;
    *run = sqlite3_last_insert_rowid(st->db);
    return 0;
}

int
store_import_end(struct store *st, int64_t run, long imported, long updated,
                 long unchanged, long rejected, struct err *e)
{
    sqlite3_stmt *s;

    if (store_import_checks(st, 1, e) == -1 ||
        (s = stmt(st, S_IMPORT_END, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, run);
    sqlite3_bind_int64(s, 2, imported);
    sqlite3_bind_int64(s, 3, updated);
    sqlite3_bind_int64(s, 4, unchanged);
    sqlite3_bind_int64(s, 5, rejected);
    return store_stmt_done(st, s, e, "record import");
}

int
store_contact_find(struct store *st, const char *email, int64_t run,
                   struct store_found *f, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CONTACT_FIND, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, run);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return store_fail(st, e, "find contact");
    }
    f->id = sqlite3_column_int64(s, 0);
    /* copied: the statement is reset before the caller writes */
    buf_reset(&st->scratch);
    if (buf_append(&st->scratch, sqlite3_column_text(s, 1),
                   (size_t)sqlite3_column_bytes(s, 1)) == -1) {
        sqlite3_reset(s);
        return err_set(e, EX_DATAERR, "%s: attributes too large", st->path);
    }
    f->attrs = st->scratch.p;
    f->updated_at = sqlite3_column_int64(s, 2);
    f->same_run = sqlite3_column_int(s, 3);
    f->new_in_run = f->same_run && sqlite3_column_int(s, 4);
    f->has_prev = f->same_run && sqlite3_column_int(s, 5);
    sqlite3_reset(s);
    return 1;
}

int
store_contact_insert(struct store *st, const char *email, const char *attrs,
                     const uint8_t hash[32], const uint8_t *legacy, int64_t now,
                     int64_t run, int64_t *id, struct err *e)
{
    sqlite3_stmt *s = legacy != NULL ? stmt(st, S_CONTACT_INSERT_LEGACY, e)
                                     : stmt(st, S_CONTACT_INSERT, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, attrs, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_int64(s, 5, run);
    if (legacy != NULL)
        sqlite3_bind_blob(s, 6, legacy, 32, SQLITE_STATIC);
    if (store_stmt_done(st, s, e, "insert contact") == -1)
        return -1;
    if (sqlite3_changes(st->db) == 0)
        return 0;
    *id = sqlite3_last_insert_rowid(st->db);
    return 1;
}

int
store_contact_touch(struct store *st, const struct store_touch *t,
                    struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CONTACT_TOUCH, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, t->id);
    sqlite3_bind_text(s, 2, t->attrs, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, t->updated_at);
    if (t->prev_attrs != NULL) {
        sqlite3_bind_text(s, 4, t->prev_attrs, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 5, t->prev_updated);
    }
    sqlite3_bind_int64(s, 6, t->run);
    sqlite3_bind_int(s, 7, t->new_in_run);
    sqlite3_bind_int(s, 8, t->keep_prev);
    return store_stmt_done(st, s, e, "update contact");
}

int
store_import_settle(struct store *st, int64_t run, long *changed, struct err *e)
{
    sqlite3_stmt *s;

    if ((s = stmt(st, S_IMPORT_REVERTED, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, run);
    if (store_stmt_done(st, s, e, "settle import") == -1)
        return -1;
    if ((s = stmt(st, S_IMPORT_CHANGED, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, run);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return store_fail(st, e, "settle import");
    }
    *changed = (long)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if ((s = stmt(st, S_IMPORT_CLEAR, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, run);
    return store_stmt_done(st, s, e, "settle import");
}

int
store_list_ensure(struct store *st, const char *name, int64_t now, int64_t *id,
                  struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_LIST_GET, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return 0;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, e, "find list");
    if ((s = stmt(st, S_LIST_ADD, e)) == NULL)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    if (store_stmt_done(st, s, e, "create list") == -1)
        return -1;
    *id = sqlite3_last_insert_rowid(st->db);
    return 0;
}

/* ids_json - the ids as a JSON array into b; digits by hand, as this is
 * on the import's busiest thread and snprintf cost a tenth of it. */
static int
ids_json(struct buf *b, const int64_t *ids, size_t n)
{
    char num[24], *p;

    buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = ids[i] < 0 ? -(uint64_t)ids[i] : (uint64_t)ids[i];

        p = num + sizeof num;
        do {
            *--p = (char)('0' + v % 10);
            v /= 10;
        } while (v != 0);
        if (ids[i] < 0)
            *--p = '-';
        *--p = i == 0 ? '[' : ',';
        if (buf_append(b, p, (size_t)(num + sizeof num - p)) == -1)
            return -1;
    }
    return buf_putc(b, ']');
}

/*
 * store_memberships_add - one statement for many rows: the statement's
 * cursors stay open from row to row, so each insert at the end of the
 * memberships b-trees need not descend from the root again, and the cost
 * of running a statement is paid once.  With --list, this took a fifth
 * off the instructions of the import's writing thread (callgrind).
 */
int
store_memberships_add(struct store *st, int64_t list_id, const int64_t *ids,
                      size_t n, int64_t now, struct err *e)
{
    sqlite3_stmt *s;

    if (n == 0)
        return 0;
    if (ids_json(&st->ids, ids, n) == -1)
        return err_set(e, EX_SOFTWARE, "%s: too many members at once",
                       st->path);
    if ((s = stmt(st, S_MEMBER_ADD, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, list_id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_text(s, 3, st->ids.p, (int)st->ids.len, SQLITE_STATIC);
    return store_stmt_done(st, s, e, "add to list");
}

int
store_lists(struct store *st, store_list_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_LISTS, e);
    struct store_list_row row;
    int rc;

    if (s == NULL)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        row.name = (const char *)sqlite3_column_text(s, 0);
        row.created_at = sqlite3_column_int64(s, 1);
        row.members = (long)sqlite3_column_int64(s, 2);
        row.active = (long)sqlite3_column_int64(s, 3);
        if (cb(&row, arg) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read lists");
    return 0;
}

/* contact_row - run S_CONTACT_GET or _GET_ID (bound); cb for the row. */
static int
contact_row(struct store *st, sqlite3_stmt *s, store_contact_cb cb, void *arg,
            struct err *e)
{
    struct store_contact c;
    int rc = sqlite3_step(s);

    if (rc == SQLITE_ROW) {
        c.id = sqlite3_column_int64(s, 0);
        c.email = (const char *)sqlite3_column_text(s, 1);
        c.attrs = (const char *)sqlite3_column_text(s, 2);
        c.status = (const char *)sqlite3_column_text(s, 3);
        c.created_at = sqlite3_column_int64(s, 4);
        c.updated_at = sqlite3_column_int64(s, 5);
        c.last_import_file = (const char *)sqlite3_column_text(s, 6);
        c.last_import_at = sqlite3_column_int64(s, 7);
        cb(&c, arg);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read contact");
    return rc == SQLITE_ROW;
}

int
store_contact_get(struct store *st, const char *email, store_contact_cb cb,
                  void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CONTACT_GET, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
    return contact_row(st, s, cb, arg, e);
}

int
store_contact_current(struct store *st, int64_t id, int64_t *out, struct err *e)
{
    sqlite3_stmt *s;
    int rc;

    *out = id;
    if (!st->merged)
        return 0;
    if ((s = stmt(st, S_CONTACT_MERGED, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read merged contacts");
    return 0;
}

int
store_contact_get_id(struct store *st, int64_t id, store_contact_cb cb,
                     void *arg, struct err *e)
{
    sqlite3_stmt *s;

    if (store_contact_current(st, id, &id, e) == -1 ||
        (s = stmt(st, S_CONTACT_GET_ID, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    return contact_row(st, s, cb, arg, e);
}

int
store_contact_lists(struct store *st, int64_t contact_id, store_name_cb cb,
                    void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CONTACT_LISTS, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, contact_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (cb((const char *)sqlite3_column_text(s, 0), arg) != 0)
            break;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read memberships");
    return 0;
}

int
store_tombstone(struct store *st, int64_t *tomb, struct err *e)
{
    sqlite3_stmt *s;
    int rc;

    if ((s = stmt(st, S_FORGET_TOMBSTONE, e)) == NULL)
        return -1;
    rc = sqlite3_step(s);
    *tomb = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc == SQLITE_DONE || (rc == SQLITE_ROW && *tomb >= 0))
        return err_set(e, EX_DATAERR,
                       "%s: the meta key 'tombstone' is missing or not "
                       "negative (a damaged database)",
                       st->path);
    if (rc != SQLITE_ROW)
        return store_fail(st, e, "take a tombstone id");
    return 0;
}

/* forget_history - the ledger rows and events of the contact with this
 * email (if any) move to a new tombstone id, without what identifies
 * the person (006_history.sql). */
static int
forget_history(struct store *st, const char *email, int64_t now, struct err *e)
{
    sqlite3_stmt *s;
    int64_t id, tomb;
    int rc;

    if ((s = stmt(st, S_FORGET_ID, e)) == NULL)
        return -1;
    rc = store_find_id(st, s, email, &id, e);
    if (rc != 1)
        return rc;
    if (store_tombstone(st, &tomb, e) == -1)
        return -1;
    if ((s = stmt(st, S_FORGET_SENDS, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, tomb);
    sqlite3_bind_int64(s, 3, now);
    if (store_stmt_done(st, s, e, "keep the ledger of a forgotten contact") ==
        -1)
        return -1;
    if ((s = stmt(st, S_FORGET_EVENTS, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, tomb);
    return store_stmt_done(st, s, e, "keep the events of a forgotten contact");
}

int
store_contact_forget(struct store *st, const char *email,
                     const uint8_t hash[32], int64_t now, struct err *e)
{
    sqlite3_stmt *s;
    int existed;

    if ((s = stmt(st, S_SUPPRESS_EMAIL_EXISTS, e)) == NULL)
        return -1;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    existed = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);

    if (forget_history(st, email, now, e) == -1)
        return -1;
    if ((s = stmt(st, S_CONTACT_DELETE, e)) == NULL)
        return -1;
    sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
    if (store_stmt_done(st, s, e, "delete contact") == -1)
        return -1;
    if (sqlite3_changes(st->db) > 0)
        existed = 1;

    if ((s = stmt(st, S_SUPPRESS_FORGET, e)) == NULL)
        return -1;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    if (store_stmt_done(st, s, e, "record forgotten address") == -1)
        return -1;
    return existed;
}

/* ---- suppressions ---- */

int
store_suppress(struct store *st, const struct store_suppression *sup,
               struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SUPPRESS_ADD, e);
    int added;

    if (s == NULL)
        return -1;
    sqlite3_bind_blob(s, 1, sup->hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sup->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, sup->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, sup->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, sup->created_at);
    if (store_stmt_done(st, s, e, "add suppression") == -1)
        return -1;
    added = sqlite3_changes(st->db) > 0;

    if ((s = stmt(st, S_SUPPRESS_STATUS, e)) == NULL)
        return -1;
    sqlite3_bind_text(s, 1, sup->email, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, sup->hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, sup->created_at);
    if (store_stmt_done(st, s, e, "mark contact suppressed") == -1)
        return -1;
    return added;
}

/* rekey_step - run statement id (S_REKEY_MERGE or S_REKEY_MOVE) with the
 * hash from (?1), the hash into (?2) and the address (?3) */
static int
rekey_step(struct store *st, enum stmt_id id, const uint8_t from[32],
           const uint8_t into[32], const char *email, struct err *e)
{
    sqlite3_stmt *s = stmt(st, id, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_blob(s, 1, from, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, into, 32, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, email, -1, SQLITE_STATIC);
    return store_stmt_done(st, s, e, "re-key suppression");
}

int
store_suppression_rekey(struct store *st, const uint8_t from[32],
                        const uint8_t into[32], const char *email,
                        struct err *e)
{
    sqlite3_stmt *s;

    if (memcmp(from, into, 32) == 0) /* merging a row into itself deletes it */
        return 0;
    if (rekey_step(st, S_REKEY_MERGE, from, into, email, e) == -1)
        return -1;
    if (sqlite3_changes(st->db) > 0) {
        if ((s = stmt(st, S_REKEY_DELETE, e)) == NULL)
            return -1;
        sqlite3_bind_blob(s, 1, from, 32, SQLITE_STATIC);
        if (store_stmt_done(st, s, e, "re-key suppression") == -1)
            return -1;
        return 2;
    }
    if (rekey_step(st, S_REKEY_MOVE, from, into, email, e) == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

static void
suppression_row(sqlite3_stmt *s, struct store_suppression *out)
{
    out->hash = sqlite3_column_blob(s, 0);
    out->email = (const char *)sqlite3_column_text(s, 1);
    out->reason = (const char *)sqlite3_column_text(s, 2);
    out->source = (const char *)sqlite3_column_text(s, 3);
    out->created_at = sqlite3_column_int64(s, 4);
    out->reply = sqlite3_column_count(s) > 5
                     ? (const char *)sqlite3_column_text(s, 5)
                     : NULL;
}

int
store_suppression_get(struct store *st, const uint8_t hash[32],
                      store_suppression_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SUPPRESS_GET, e);
    struct store_suppression sup;
    int rc, found = 0;

    if (s == NULL)
        return -1;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        suppression_row(s, &sup);
        cb(&sup, arg);
        found = 1;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read suppression");
    return found;
}

int
store_suppressions(struct store *st, const char *source, const char *reason,
                   store_suppression_cb cb, void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SUPPRESS_ALL, e);
    struct store_suppression sup;
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, reason, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        suppression_row(s, &sup);
        if (cb(&sup, arg) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read suppressions");
    return 0;
}

/* ---- lists and members for sending ---- */

int
store_list_find(struct store *st, const char *name, int64_t *id, struct err *e)
{
    return store_find_id(st, stmt(st, S_LIST_FIND, e), name, id, e);
}

int
store_members(struct store *st, int64_t list_id, store_member_cb cb, void *arg,
              struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_MEMBERS, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, list_id);
    return store_member_rows(st, s, cb, arg, "read list members", e);
}

int
store_contact_first(struct store *st, store_contact_cb cb, void *arg,
                    struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CONTACT_FIRST, e);

    if (s == NULL)
        return -1;
    return contact_row(st, s, cb, arg, e);
}

int
store_suppression_lift(struct store *st, const uint8_t hash[32],
                       const char *email, const char *reason, int64_t now,
                       struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SUPPRESS_LIFT, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, reason, -1, SQLITE_STATIC);
    if (store_stmt_done(st, s, e, "lift suppression") == -1)
        return -1;
    if (sqlite3_changes(st->db) == 0)
        return 0;
    if ((s = stmt(st, S_LIFT_STATUS, e)) == NULL)
        return -1;
    sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    if (store_stmt_done(st, s, e, "lift suppression") == -1)
        return -1;
    return 1;
}

int
store_contacts_smtputf8(struct store *st, long *n, char *example, size_t len,
                        struct err *e)
{
    sqlite3_stmt *s = NULL;
    int rc;

    /* a character outside printable ASCII before the "@": a UTF-8 local
     * part (an address has one "@"); a scan, for doctor */
    if (sqlite3_prepare_v2(st->db,
                           "SELECT count(*), min(email) FROM contacts "
                           "WHERE status = 'active' AND "
                           "  email GLOB '*[^ -~]*@*'",
                           -1, &s, NULL) != SQLITE_OK)
        return store_fail(st, e, "count SMTPUTF8 contacts");
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *x = (const char *)sqlite3_column_text(s, 1);
        *n = (long)sqlite3_column_int64(s, 0);
        snprintf(example, len, "%s", x ? x : "");
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return store_fail(st, e, "count SMTPUTF8 contacts");
    return 0;
}
