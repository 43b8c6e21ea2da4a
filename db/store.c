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
 * of failing, and a page cache large enough that an import of millions of
 * rows keeps the email index in memory while RSS stays bounded.
 */
#include <errno.h>
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

/* 32 MiB of page cache: the contacts email index for a few million rows. */
#define STORE_CACHE_KIB 32768
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
    /* a new address takes its status from the suppression list */
    [S_CONTACT_INSERT] =
        "INSERT INTO contacts(email, attrs, status, created_at, updated_at, "
        "  seen_run, seen_new) "
        "VALUES (?1, ?2, "
        "  COALESCE((SELECT CASE reason WHEN 'unsubscribed' THEN "
        "    'unsubscribed' WHEN 'bounced' THEN 'bounced' WHEN 'complained' "
        "    THEN 'complained' ELSE 'suppressed' END "
        "    FROM suppressions WHERE hash = ?3), 'active'), "
        "  ?4, ?4, ?5, 1)",
    [S_CONTACT_TOUCH] =
        "UPDATE contacts SET attrs = ?2, updated_at = ?3, "
        "  prev_attrs = CASE WHEN ?8 THEN prev_attrs ELSE ?4 END, "
        "  prev_updated = CASE WHEN ?8 THEN prev_updated ELSE ?5 END, "
        "  seen_run = ?6, seen_new = ?7 WHERE id = ?1",
    [S_IMPORT_REVERTED] =
        "UPDATE contacts SET updated_at = prev_updated "
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
    [S_MEMBER_ADD] = "INSERT INTO memberships(list_id, contact_id, added_at) "
                     "VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
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
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    int version;
    char *salt;
    char *path;
    struct buf scratch;
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

void
store_rollback(struct store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
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
                           "SELECT value FROM meta WHERE key = 'hash_salt'",
                           -1, &s, NULL) != SQLITE_OK)
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

    st = xcalloc(1, sizeof *st);
    st->path = xstrdup(path);
    buf_init(&st->scratch, 0);
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        err_set(e, EX_CANTCREAT, "%s: cannot open database: %s", path,
                st->db ? sqlite3_errmsg(st->db) : "out of memory");
        store_close(st);
        return NULL;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
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

int
store_import_begin(struct store *st, const char *file, int64_t list_id,
                   int64_t now, int64_t *run, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_IMPORT_BEGIN, e);

    if (s == NULL)
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
    sqlite3_stmt *s = stmt(st, S_IMPORT_END, e);

    if (s == NULL)
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
    *id = sqlite3_last_insert_rowid(st->db);
    return 0;
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
store_import_settle(struct store *st, int64_t run, long *changed,
                    struct err *e)
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
store_list_ensure(struct store *st, const char *name, int64_t now,
                  int64_t *id, struct err *e)
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

int
store_membership_add(struct store *st, int64_t list_id, int64_t contact_id,
                     int64_t now, struct err *e)
{
    sqlite3_stmt *s = stmt(st, S_MEMBER_ADD, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, list_id);
    sqlite3_bind_int64(s, 2, contact_id);
    sqlite3_bind_int64(s, 3, now);
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
