/* SPDX-License-Identifier: ISC */
/*
 * store.c - every SQL statement of campaign (see store.h).
 *
 * Statements live in one table, stmt_sql[], indexed by enum stmt_id; each
 * is prepared on first use with SQLITE_PREPARE_PERSISTENT and reused for
 * the life of the connection.  No SQL text is ever assembled at run time:
 * all values are bound parameters.
 *
 * Pragmas: WAL (readers never block the sender), synchronous=FULL (a
 * commit is on disk before we act on it: RELIABILITY.md, the ledger),
 * foreign_keys=ON, busy_timeout so that a concurrent writer waits instead
 * of failing, and a fixed page cache, so that memory does not grow with
 * the database.  A new database gets 16 KiB pages.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/buf.h"
#include "../engine/xalloc.h"
#include "store.h"
#include "store_migrations.h"

/*
 * 32 MiB of page cache, a bound on memory whatever the size of the
 * database: an import of 3,000,000 rows peaks at the same RSS as one of
 * 1,000,000.  The email index outgrows it past about a million contacts,
 * but the pages it misses come from the OS page cache; 16 or 64 MiB made
 * no measurable difference to the import benchmark (scripts/bench/import).
 */
#define STORE_CACHE_KIB 32768
/*
 * Page size of a new database; an existing one keeps its own (SQLite fixes
 * it when the first table is created).  16 KiB rather than the default 4:
 * an import writes every page twice (WAL, then checkpoint), and bigger
 * pages mean a quarter of the read and write calls, fewer b-tree levels
 * and fewer page-cache entries.  On the 1,000,000-row import benchmark,
 * 4 KiB to 16 KiB took about a quarter off the time; 32 and 64 KiB gained
 * little more, and would cost more per small commit while sending.
 */
#define STORE_PAGE_SIZE 16384
#define STORE_BUSY_MS 5000

enum stmt_id {
    S_IMPORT_BEGIN,
    S_IMPORT_END,
    S_CONTACT_FIND,
    S_CONTACT_INSERT,
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
    S_SUPPRESS_ADD,
    S_SUPPRESS_STATUS,
    S_SUPPRESS_GET,
    S_SUPPRESS_ALL,
    S_SUPPRESS_FORGET,
    S_SUPPRESS_EMAIL_EXISTS,
    S_LIST_FIND,
    S_MEMBERS,
    S_CONTACT_FIRST,
    S_CAMPAIGN_FIND,
    S_CAMPAIGN_ADD,
    S_CAMPAIGN_GET,
    S_CAMPAIGN_START,
    S_CAMPAIGN_FINISH,
    S_CAMPAIGN_CONTROL_GET,
    S_CAMPAIGN_CONTROL_SET,
    S_FREEZE,
    S_FREEZE_COUNT,
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
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_IMPORT_BEGIN] = "INSERT INTO imports(file, list_id, started_at) "
                       "VALUES (?1, ?2, ?3)",
    [S_IMPORT_END] = "UPDATE imports SET imported = ?2, updated = ?3, "
                     "unchanged = ?4, rejected = ?5 WHERE id = ?1",
    [S_CONTACT_FIND] = "SELECT id, attrs, updated_at, seen_run IS ?2, "
                       "  seen_new, prev_attrs IS NOT NULL "
                       "FROM contacts WHERE email = ?1",
    /* a new address takes its status from the suppression list; an
     * existing one is left alone (the caller then finds and merges it) */
    [S_CONTACT_INSERT] =
        "INSERT INTO contacts(email, attrs, status, created_at, updated_at, "
        "  seen_run, seen_new) "
        "VALUES (?1, ?2, "
        "  COALESCE((SELECT CASE reason WHEN 'unsubscribed' THEN "
        "    'unsubscribed' WHEN 'bounced' THEN 'bounced' WHEN 'complained' "
        "    THEN 'complained' ELSE 'suppressed' END "
        "    FROM suppressions WHERE hash = ?3), 'active'), "
        "  ?4, ?4, ?5, 1) "
        "ON CONFLICT(email) DO NOTHING",
    [S_CONTACT_TOUCH] =
        "UPDATE contacts SET attrs = ?2, updated_at = ?3, "
        "  prev_attrs = CASE WHEN ?8 THEN prev_attrs ELSE ?4 END, "
        "  prev_updated = CASE WHEN ?8 THEN prev_updated ELSE ?5 END, "
        "  seen_run = ?6, seen_new = ?7 WHERE id = ?1",
    [S_IMPORT_REVERTED] = "UPDATE contacts SET updated_at = prev_updated "
                          "WHERE seen_run = ?1 AND prev_attrs IS NOT NULL "
                          "  AND attrs IS prev_attrs",
    [S_IMPORT_CHANGED] = "SELECT count(*) FROM contacts "
                         "WHERE seen_run = ?1 AND prev_attrs IS NOT NULL "
                         "  AND attrs IS NOT prev_attrs",
    [S_IMPORT_CLEAR] = "UPDATE contacts SET prev_attrs = NULL, "
                       "  prev_updated = NULL "
                       "WHERE seen_run = ?1 AND prev_attrs IS NOT NULL",
    [S_LIST_GET] = "SELECT id FROM lists WHERE name = ?1",
    [S_LIST_ADD] = "INSERT INTO lists(name, created_at) VALUES (?1, ?2)",
    /* many at once: ?3 is a JSON array of contact ids; "WHERE true" tells
     * the parser that ON CONFLICT belongs to the INSERT */
    [S_MEMBER_ADD] = "INSERT INTO memberships(list_id, contact_id, added_at) "
                     "SELECT ?1, value, ?2 FROM json_each(?3) WHERE true "
                     "ON CONFLICT DO NOTHING",
    [S_LISTS] = "SELECT l.name, l.created_at, count(m.contact_id), "
                "  count(CASE WHEN c.status = 'active' THEN 1 END) "
                "FROM lists l "
                "LEFT JOIN memberships m ON m.list_id = l.id "
                "LEFT JOIN contacts c ON c.id = m.contact_id "
                "GROUP BY l.id ORDER BY l.name",
    [S_CONTACT_GET] = "SELECT c.id, c.email, c.attrs, c.status, "
                      "  c.created_at, c.updated_at, i.file, i.started_at "
                      "FROM contacts c LEFT JOIN imports i "
                      "  ON i.id = c.seen_run "
                      "WHERE c.email = ?1",
    [S_CONTACT_LISTS] = "SELECT l.name FROM memberships m "
                        "JOIN lists l ON l.id = m.list_id "
                        "WHERE m.contact_id = ?1 ORDER BY l.name",
    [S_CONTACT_DELETE] = "DELETE FROM contacts WHERE email = ?1",
    [S_SUPPRESS_ADD] = "INSERT INTO suppressions(hash, email, reason, "
                       "  source, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                       "ON CONFLICT(hash) DO NOTHING",
    [S_SUPPRESS_STATUS] =
        "UPDATE contacts SET status = CASE ?2 WHEN 'unsubscribed' THEN "
        "  'unsubscribed' WHEN 'bounced' THEN 'bounced' WHEN 'complained' "
        "  THEN 'complained' ELSE 'suppressed' END, updated_at = ?3 "
        "WHERE email = ?1 AND status = 'active'",
    [S_SUPPRESS_GET] = "SELECT hash, email, reason, source, created_at "
                       "FROM suppressions WHERE hash = ?1",
    [S_SUPPRESS_ALL] = "SELECT hash, email, reason, source, created_at "
                       "FROM suppressions ORDER BY created_at, email",
    /* forget: keep the hash and the first reason, drop the address */
    [S_SUPPRESS_FORGET] =
        "INSERT INTO suppressions(hash, email, reason, source, created_at) "
        "VALUES (?1, NULL, 'forgotten', 'forget', ?2) "
        "ON CONFLICT(hash) DO UPDATE SET email = NULL",
    [S_SUPPRESS_EMAIL_EXISTS] = "SELECT 1 FROM suppressions WHERE hash = ?1",
    [S_LIST_FIND] = "SELECT id FROM lists WHERE name = ?1",
    [S_MEMBERS] = "SELECT c.id, c.email, c.attrs, c.status "
                  "FROM memberships m JOIN contacts c ON c.id = m.contact_id "
                  "WHERE m.list_id = ?1 ORDER BY c.id",
    [S_CONTACT_FIRST] = "SELECT id, email, attrs, status, created_at, "
                        "  updated_at, NULL, 0 "
                        "FROM contacts WHERE status = 'active' "
                        "ORDER BY id LIMIT 1",
    [S_CAMPAIGN_FIND] = "SELECT id FROM campaigns WHERE name = ?1",
    [S_CAMPAIGN_ADD] = "INSERT INTO campaigns(name, template, list_id, "
                       "  created_at) VALUES (?1, ?2, ?3, ?4)",
    [S_CAMPAIGN_GET] =
        "SELECT c.id, c.name, c.template, c.list_id, l.name, c.status, "
        "  c.data, c.frozen_at, c.control, c.recipients, c.created_at, "
        "  c.started_at, c.finished_at "
        "FROM campaigns c LEFT JOIN lists l ON l.id = c.list_id "
        "WHERE c.name = ?1",
    [S_CAMPAIGN_START] =
        "UPDATE campaigns SET status = 'sending', "
        "  started_at = COALESCE(started_at, ?2), "
        "  data = COALESCE(data, ?3), control = NULL WHERE id = ?1",
    [S_CAMPAIGN_FINISH] = "UPDATE campaigns SET status = ?2, "
                          "  finished_at = ?3 WHERE id = ?1",
    [S_CAMPAIGN_CONTROL_GET] = "SELECT control FROM campaigns WHERE id = ?1",
    [S_CAMPAIGN_CONTROL_SET] = "UPDATE campaigns SET control = ?2, "
                               "  status = CASE WHEN ?3 IS NULL THEN status "
                               "    ELSE ?3 END WHERE name = ?1",
    /* members minus suppressed minus already in the ledger: the mailable
     * ones queued, the others recorded as skipped (the report's
     * "suppressed") */
    [S_FREEZE] = "INSERT INTO sends(campaign_id, contact_id, state, queued_at, "
                 "  last_text) "
                 "SELECT ?1, c.id, CASE WHEN c.status = 'active' THEN 'queued' "
                 "    ELSE 'skipped' END, ?2, "
                 "  CASE WHEN c.status = 'active' THEN NULL "
                 "    ELSE 'suppressed: ' || c.status END "
                 "FROM memberships m JOIN contacts c ON c.id = m.contact_id "
                 "WHERE m.list_id = ?3 "
                 "ON CONFLICT DO NOTHING",
    [S_FREEZE_COUNT] =
        "UPDATE campaigns SET frozen_at = ?2, recipients = "
        "  (SELECT count(*) FROM sends WHERE campaign_id = ?1) WHERE id = ?1",
    /* a crash left these claimed: the dot may have gone out */
    /* a claim undone: the row as it was before it (an uncertain row owes
     * its retry again and keeps why it is uncertain), the attempt not
     * counted.  SQLite evaluates every SET expression on the old row. */
    [S_RELEASE] =
        "UPDATE sends SET attempts = max(attempts - 1, 0), "
        "  state = CASE WHEN was_uncertain = 2 THEN 'uncertain' "
        "    ELSE 'queued' END, "
        "  last_text = CASE WHEN was_uncertain = 2 THEN last_text "
        "    ELSE ?3 END, "
        "  was_uncertain = CASE WHEN was_uncertain = 2 THEN 1 "
        "    ELSE was_uncertain END "
        "WHERE campaign_id = ?1 AND contact_id = ?2 AND state = 'sending'",
    [S_RECOVER] = "UPDATE sends SET state = 'uncertain', was_uncertain = 1 "
                  "WHERE campaign_id = ?1 AND state = 'sending'",
    /* through the state index: ordering by the primary key instead made
     * SQLite walk every row already sent, so each claim got slower as
     * the campaign went on (quadratic in its size).  Within one state the
     * index is in contact order anyway (queued rows have no retry time) */
    [S_CLAIM_QUEUED] =
        "SELECT s.contact_id, c.email, c.attrs, c.status, s.attempts "
        "FROM sends s INDEXED BY sends_state "
        "JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND s.state = 'queued' LIMIT ?2",
    [S_CLAIM_DEFERRED] =
        "SELECT s.contact_id, c.email, c.attrs, c.status, s.attempts "
        "FROM sends s JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND s.state = 'deferred' "
        "  AND s.next_attempt_at <= ?3 "
        "ORDER BY s.next_attempt_at LIMIT ?2",
    [S_CLAIM_UNCERTAIN] =
        "SELECT s.contact_id, c.email, c.attrs, c.status, s.attempts "
        "FROM sends s INDEXED BY sends_state "
        "JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.campaign_id = ?1 AND s.state = 'uncertain' "
        "  AND s.was_uncertain = 1 LIMIT ?2",
    [S_CLAIM_MARK] =
        "UPDATE sends SET state = 'sending', attempts = attempts + 1, "
        "  first_attempt_at = COALESCE(first_attempt_at, ?3), "
        "  was_uncertain = CASE WHEN state = 'uncertain' THEN 2 "
        "    ELSE was_uncertain END "
        "WHERE campaign_id = ?1 AND contact_id = ?2",
    [S_SEND_RESULT] =
        "UPDATE sends SET state = ?3, last_code = ?4, last_status = ?5, "
        "  last_text = ?6, bounce_class = ?7, "
        "  message_id = COALESCE(?8, message_id), relay = ?9, "
        "  next_attempt_at = ?10, done_at = ?11, "
        "  was_uncertain = CASE WHEN ?3 = 'uncertain' AND was_uncertain = 0 "
        "    THEN 1 ELSE was_uncertain END "
        "WHERE campaign_id = ?1 AND contact_id = ?2",
    [S_SEND_COUNTS] = "SELECT state, COALESCE(bounce_class, ''), count(*), "
                      "  sum(was_uncertain > 0), sum(was_uncertain = 1) "
                      "FROM sends WHERE campaign_id = ?1 GROUP BY 1, 2",
    [S_CAMPAIGNS_ALL] = "SELECT name FROM campaigns ORDER BY id",
    [S_UNCERTAIN_LIST] = "SELECT c.email, s.message_id, s.state FROM sends s "
                         "JOIN contacts c ON c.id = s.contact_id "
                         "WHERE s.campaign_id = ?1 AND s.was_uncertain > 0 "
                         "ORDER BY c.email",
    [S_NEXT_DUE] = "SELECT min(next_attempt_at) FROM sends "
                   "WHERE campaign_id = ?1 AND state = 'deferred'",
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    int version;
    char *salt;
    char *path;
    struct buf scratch;
    struct buf ids;        /* store_memberships_add: the ids as JSON */
    int import_checks_off; /* inside an import run: see store_import_begin */
};

/* store_fail - fill e from the connection's last error. */
static int
store_fail(struct store *st, struct err *e, const char *what)
{
    int code = sqlite3_extended_errcode(st->db);
    int kind = EX_SOFTWARE;

    switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        kind = EX_TEMPFAIL;
        break;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
        kind = EX_CANTCREAT;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        kind = EX_DATAERR;
        break;
    default:
        break;
    }
    /* an I/O error's cause as the OS gave it: "disk I/O error" alone hides
     * a full disk (SQLite reports ENOSPC while it grows the -shm file as
     * SQLITE_IOERR_SHMSIZE); SQLite sets the errno for these two only */
    if (((code & 0xff) == SQLITE_IOERR || (code & 0xff) == SQLITE_CANTOPEN) &&
        sqlite3_system_errno(st->db) != 0)
        return err_set(e, kind, "%s: %s: %s (%s)", st->path, what,
                       sqlite3_errmsg(st->db),
                       strerror(sqlite3_system_errno(st->db)));
    return err_set(e, kind, "%s: %s: %s", st->path, what,
                   sqlite3_errmsg(st->db));
}

/* stmt - the prepared statement id, reset and with bindings cleared. */
static sqlite3_stmt *
stmt(struct store *st, enum stmt_id id, struct err *e)
{
    sqlite3_stmt *s = st->stmt[id];

    if (s == NULL) {
        if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
                               SQLITE_PREPARE_PERSISTENT, &s,
                               NULL) != SQLITE_OK) {
            store_fail(st, e, "prepare");
            return NULL;
        }
        st->stmt[id] = s;
    } else {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    return s;
}

/* stmt_done - step a statement that returns no rows. */
static int
stmt_done(struct store *st, sqlite3_stmt *s, struct err *e, const char *what)
{
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_fail(st, e, what);
    return 0;
}

static int
exec(struct store *st, const char *sql, struct err *e, const char *what)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(st, e, what);
    return 0;
}

int
store_begin(struct store *st, struct err *e)
{
    return exec(st, "BEGIN IMMEDIATE", e, "begin transaction");
}

int
store_commit(struct store *st, struct err *e)
{
    return exec(st, "COMMIT", e, "commit");
}

/* import_checks - CHECK constraints off (0) or back on (1); see
 * store_import_begin. */
static int
import_checks(struct store *st, int on, struct err *e)
{
    if (st->import_checks_off == !on)
        return 0;
    if (exec(st,
             on ? "PRAGMA ignore_check_constraints = OFF"
                : "PRAGMA ignore_check_constraints = ON",
             e, "configure import") == -1)
        return -1;
    st->import_checks_off = !on;
    return 0;
}

void
store_rollback(struct store *st)
{
    struct err e;

    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    (void)import_checks(st, 1, &e);
}

int
store_latest_version(void)
{
    int v = 0;

    for (const struct store_migration *m = store_migrations; m->sql; m++)
        v = m->version;
    return v;
}

/* migrate - apply every embedded migration newer than the database. */
static int
migrate(struct store *st, struct err *e)
{
    sqlite3_stmt *s = NULL;
    int current = 0, latest = store_latest_version();

    if (store_begin(st, e) == -1)
        return -1;
    if (exec(st,
             "CREATE TABLE IF NOT EXISTS schema_version ("
             "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
             "applied_at INTEGER NOT NULL)",
             e, "create schema_version") == -1)
        goto fail;
    if (sqlite3_prepare_v2(st->db, "SELECT max(version) FROM schema_version",
                           -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        store_fail(st, e, "read schema_version");
        goto fail;
    }
    current = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    s = NULL;
    if (current > latest) {
        err_set(e, EX_DATAERR,
                "%s: schema version %d is newer than this campaign "
                "understands (%d); upgrade campaign",
                st->path, current, latest);
        goto fail;
    }
    for (const struct store_migration *m = store_migrations; m->sql; m++) {
        if (m->version <= current)
            continue;
        if (exec(st, m->sql, e, m->name) == -1)
            goto fail;
        if (sqlite3_prepare_v2(st->db,
                               "INSERT INTO schema_version(version, name, "
                               "applied_at) VALUES (?1, ?2, ?3)",
                               -1, &s, NULL) != SQLITE_OK) {
            store_fail(st, e, "record migration");
            goto fail;
        }
        sqlite3_bind_int(s, 1, m->version);
        sqlite3_bind_text(s, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
        if (sqlite3_step(s) != SQLITE_DONE) {
            store_fail(st, e, "record migration");
            goto fail;
        }
        sqlite3_finalize(s);
        s = NULL;
        current = m->version;
    }
    if (store_commit(st, e) == -1)
        goto fail;
    st->version = current;
    return 0;
fail:
    sqlite3_finalize(s);
    store_rollback(st);
    return -1;
}

static int
load_salt(struct store *st, struct err *e)
{
    sqlite3_stmt *s;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT value FROM meta WHERE key = 'hash_salt'", -1,
                           &s, NULL) != SQLITE_OK)
        return store_fail(st, e, "read meta");
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return err_set(e, EX_DATAERR, "%s: no hash salt in meta table",
                       st->path);
    }
    st->salt = xstrdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return 0;
}

/*
 * configure - process-wide SQLite settings, before the library
 * initialises.  Memory statistics off: we never read them, and keeping
 * them takes a global mutex on every allocation SQLite makes (several per
 * row of an import).  If SQLite was initialised already, the call fails
 * and the default stays: harmless.
 */
static pthread_once_t configure_once = PTHREAD_ONCE_INIT;

static void
configure(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *
store_open(const char *path, enum store_open_mode mode, int *created,
           struct err *e)
{
    struct store *st;
    struct stat sb;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    char pragmas[256];

    if (created)
        *created = 0;
    if (stat(path, &sb) == -1) {
        if (errno != ENOENT || mode != STORE_OPEN_CREATE) {
            err_set(e, EX_NOINPUT, "%s: %s%s", path, strerror(errno),
                    errno == ENOENT ? " (run 'campaign init' first)" : "");
            return NULL;
        }
        flags |= SQLITE_OPEN_CREATE;
        if (created)
            *created = 1;
    } else if (!S_ISREG(sb.st_mode)) {
        err_set(e, EX_NOINPUT, "%s: not a regular file", path);
        return NULL;
    }

    pthread_once(&configure_once, configure);
    st = xcalloc(1, sizeof *st);
    st->path = xstrdup(path);
    buf_init(&st->scratch, 0);
    buf_init(&st->ids, 0);
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        err_set(e, EX_CANTCREAT, "%s: cannot open database: %s", path,
                st->db ? sqlite3_errmsg(st->db) : "out of memory");
        store_close(st);
        return NULL;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
    /* the page size first: it has no effect after WAL or a table */
    snprintf(pragmas, sizeof pragmas, "PRAGMA page_size = %d;",
             STORE_PAGE_SIZE);
    if ((flags & SQLITE_OPEN_CREATE) &&
        exec(st, pragmas, e, "configure") == -1) {
        store_close(st);
        return NULL;
    }
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
             "PRAGMA foreign_keys = ON; PRAGMA cache_size = -%d; "
             "PRAGMA temp_store = MEMORY;",
             STORE_CACHE_KIB);
    if (exec(st, pragmas, e, "configure") == -1 || migrate(st, e) == -1 ||
        load_salt(st, e) == -1) {
        store_close(st);
        return NULL;
    }
    return st;
}

int
store_cache(struct store *st, int kib, struct err *e)
{
    char sql[96];

    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d; PRAGMA shrink_memory;",
             kib);
    return exec(st, sql, e, "cache size");
}

void
store_close(struct store *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    free(st->salt);
    free(st->path);
    buf_free(&st->scratch);
    buf_free(&st->ids);
    free(st);
}

int
store_schema_version(struct store *st)
{
    return st->version;
}

const char *
store_hash_salt(struct store *st)
{
    return st->salt;
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
 * CASE over the suppression reasons in S_CONTACT_INSERT and
 * S_SUPPRESS_STATUS, suppressions.reason from the opt-out markers of
 * csv_import.c ("unsubscribed", "bounced").
 */
int
store_import_begin(struct store *st, const char *file, int64_t list_id,
                   int64_t now, int64_t *run, struct err *e)
{
    sqlite3_stmt *s;

    if (import_checks(st, 0, e) == -1 ||
        (s = stmt(st, S_IMPORT_BEGIN, e)) == NULL)
        return -1;
    sqlite3_bind_text(s, 1, file, -1, SQLITE_STATIC);
    if (list_id > 0)
        sqlite3_bind_int64(s, 2, list_id);
    sqlite3_bind_int64(s, 3, now);
    if (stmt_done(st, s, e, "record import") == -1)
        return -1;
    *run = sqlite3_last_insert_rowid(st->db);
    return 0;
}

int
store_import_end(struct store *st, int64_t run, long imported, long updated,
                 long unchanged, long rejected, struct err *e)
{
    sqlite3_stmt *s;

    if (import_checks(st, 1, e) == -1 ||
        (s = stmt(st, S_IMPORT_END, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, run);
    sqlite3_bind_int64(s, 2, imported);
    sqlite3_bind_int64(s, 3, updated);
    sqlite3_bind_int64(s, 4, unchanged);
    sqlite3_bind_int64(s, 5, rejected);
    return stmt_done(st, s, e, "record import");
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
                     const uint8_t hash[32], int64_t now, int64_t run,
                     int64_t *id, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CONTACT_INSERT, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, attrs, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_int64(s, 5, run);
    if (stmt_done(st, s, e, "insert contact") == -1)
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
    return stmt_done(st, s, e, "update contact");
}

int
store_import_settle(struct store *st, int64_t run, long *changed, struct err *e)
{
    sqlite3_stmt *s;

    if ((s = stmt(st, S_IMPORT_REVERTED, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, run);
    if (stmt_done(st, s, e, "settle import") == -1)
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
    return stmt_done(st, s, e, "settle import");
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
    if (stmt_done(st, s, e, "create list") == -1)
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
    return stmt_done(st, s, e, "add to list");
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

int
store_contact_get(struct store *st, const char *email, store_contact_cb cb,
                  void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CONTACT_GET, e);
    struct store_contact c;
    int rc, found = 0;

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        found = 1;
        c.id = sqlite3_column_int64(s, 0);
        c.email = (const char *)sqlite3_column_text(s, 1);
        c.attrs = (const char *)sqlite3_column_text(s, 2);
        c.status = (const char *)sqlite3_column_text(s, 3);
        c.created_at = sqlite3_column_int64(s, 4);
        c.updated_at = sqlite3_column_int64(s, 5);
        c.last_import_file = (const char *)sqlite3_column_text(s, 6);
        c.last_import_at = sqlite3_column_int64(s, 7);
        cb(&c, arg);
    } else if (rc != SQLITE_DONE) {
        sqlite3_reset(s);
        return store_fail(st, e, "read contact");
    }
    sqlite3_reset(s);
    return found;
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

    if ((s = stmt(st, S_CONTACT_DELETE, e)) == NULL)
        return -1;
    sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
    if (stmt_done(st, s, e, "delete contact") == -1)
        return -1;
    if (sqlite3_changes(st->db) > 0)
        existed = 1;

    if ((s = stmt(st, S_SUPPRESS_FORGET, e)) == NULL)
        return -1;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    if (stmt_done(st, s, e, "record forgotten address") == -1)
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
    if (stmt_done(st, s, e, "add suppression") == -1)
        return -1;
    added = sqlite3_changes(st->db) > 0;

    if ((s = stmt(st, S_SUPPRESS_STATUS, e)) == NULL)
        return -1;
    sqlite3_bind_text(s, 1, sup->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sup->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, sup->created_at);
    if (stmt_done(st, s, e, "mark contact suppressed") == -1)
        return -1;
    return added;
}

static void
suppression_row(sqlite3_stmt *s, struct store_suppression *out)
{
    out->hash = sqlite3_column_blob(s, 0);
    out->email = (const char *)sqlite3_column_text(s, 1);
    out->reason = (const char *)sqlite3_column_text(s, 2);
    out->source = (const char *)sqlite3_column_text(s, 3);
    out->created_at = sqlite3_column_int64(s, 4);
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
store_suppressions(struct store *st, store_suppression_cb cb, void *arg,
                   struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_SUPPRESS_ALL, e);
    struct store_suppression sup;
    int rc;

    if (s == NULL)
        return -1;
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

/* ---- lists, members and campaigns for sending ---- */

/* find_id - run a one-column id lookup by text; 1 found, 0 not. */
static int
find_id(struct store *st, enum stmt_id id, const char *key, int64_t *out,
        struct err *e)
{
    sqlite3_stmt *s = stmt(st, id, e);
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "lookup");
    return rc == SQLITE_ROW;
}

int
store_list_find(struct store *st, const char *name, int64_t *id, struct err *e)
{
    return find_id(st, S_LIST_FIND, name, id, e);
}

int
store_members(struct store *st, int64_t list_id, store_member_cb cb, void *arg,
              struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_MEMBERS, e);
    struct store_member m;
    int rc, stop = 0;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, list_id);
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        m.id = sqlite3_column_int64(s, 0);
        m.email = (const char *)sqlite3_column_text(s, 1);
        m.attrs = (const char *)sqlite3_column_text(s, 2);
        m.status = (const char *)sqlite3_column_text(s, 3);
        stop = cb(&m, arg);
    }
    sqlite3_reset(s);
    if (!stop && rc != SQLITE_DONE)
        return store_fail(st, e, "read list members");
    return stop ? 1 : 0;
}

int
store_contact_first(struct store *st, store_contact_cb cb, void *arg,
                    struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CONTACT_FIRST, e);
    struct store_contact c;
    int rc;

    if (s == NULL)
        return -1;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        memset(&c, 0, sizeof c);
        c.id = sqlite3_column_int64(s, 0);
        c.email = (const char *)sqlite3_column_text(s, 1);
        c.attrs = (const char *)sqlite3_column_text(s, 2);
        c.status = (const char *)sqlite3_column_text(s, 3);
        c.created_at = sqlite3_column_int64(s, 4);
        c.updated_at = sqlite3_column_int64(s, 5);
        cb(&c, arg);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read contact");
    return rc == SQLITE_ROW;
}

int
store_campaign_find(struct store *st, const char *name, int64_t *id,
                    struct err *e)
{
    return find_id(st, S_CAMPAIGN_FIND, name, id, e);
}

int
store_campaign_ensure(struct store *st, const char *name, const char *template,
                      int64_t list_id, int64_t now, int64_t *id, struct err *e)
{
    sqlite3_stmt *s;
    int rc = find_id(st, S_CAMPAIGN_FIND, name, id, e);

    if (rc != 0)
        return rc == 1 ? 0 : -1;
    if ((s = stmt(st, S_CAMPAIGN_ADD, e)) == NULL)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, template, -1, SQLITE_STATIC);
    if (list_id > 0)
        sqlite3_bind_int64(s, 3, list_id);
    sqlite3_bind_int64(s, 4, now);
    if (stmt_done(st, s, e, "create campaign") == -1)
        return -1;
    *id = sqlite3_last_insert_rowid(st->db);
    return 0;
}

/* ---- the send ledger ---- */

int
store_campaign_get(struct store *st, const char *name, store_campaign_cb cb,
                   void *arg, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_CAMPAIGN_GET, e);
    struct store_campaign c;
    int rc;

    if (s == NULL)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
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
        cb(&c, arg);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, e, "read campaign");
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
    return stmt_done(st, s, e, "start campaign");
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
    return stmt_done(st, s, e, "update campaign");
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
    if (stmt_done(st, s, e, "control campaign") == -1)
        return -1;
    return sqlite3_changes(st->db) > 0;
}

int
store_ledger_freeze(struct store *st, int64_t campaign, int64_t list_id,
                    int64_t now, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_FREEZE, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, list_id);
    if (stmt_done(st, s, e, "freeze recipients") == -1)
        return -1;
    if ((s = stmt(st, S_FREEZE_COUNT, e)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, now);
    return stmt_done(st, s, e, "freeze recipients");
}

int
store_ledger_recover(struct store *st, int64_t campaign, long *n, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_RECOVER, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    if (stmt_done(st, s, e, "recover ledger") == -1)
        return -1;
    *n = sqlite3_changes(st->db);
    return 0;
}

int
store_ledger_release(struct store *st, int64_t campaign, int64_t contact,
                     const char *why, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_RELEASE, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, contact);
    sqlite3_bind_text(s, 3, why, -1, SQLITE_STATIC);
    return stmt_done(st, s, e, "release a claimed recipient");
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
    return stmt_done(st, s, e, "claim recipient");
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
    return stmt_done(st, s, e, "record result");
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
    return 0;
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
store_checkpoint(struct store *st)
{
    return sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                     NULL, NULL) == SQLITE_OK
               ? 0
               : -1;
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
