/* SPDX-License-Identifier: ISC */
/*
 * store.c - the connection (see store.h and store_int.h): opening,
 * pragmas, migrations, transactions and the statement cache that the
 * family files (store_contacts.c, store_ledger.c, store_events.c) use.
 *
 * Each family keeps its statements in one table, stmt_sql[], indexed by
 * its enum stmt_id; each is prepared on first use with
 * SQLITE_PREPARE_PERSISTENT and reused for the life of the connection.
 * No SQL text is ever assembled at run time: all values are bound
 * parameters.
 *
 * Pragmas: WAL (readers never block the sender), synchronous=FULL (a
 * commit is on disk before we act on it: RELIABILITY.md, the ledger),
 * foreign_keys=ON, busy_timeout so that a concurrent writer waits instead
 * of failing, and a fixed page cache, so that memory does not grow with
 * the database.  A new database gets 16 KiB pages.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/buf.h"
#include "../engine/log.h"
#include "../engine/xalloc.h"
#include "store.h"
#include "store_int.h"
#include "store_migrations.h"

/*
 * 32 MiB of page cache, a bound on memory whatever the size of the
 * database: an import of 3,000,000 rows peaks at the same RSS as one of
 * 1,000,000.  The email index outgrows it past about a million contacts,
 * but the pages it misses come from the OS page cache; 16 or 64 MiB made
 * no measurable difference to the import benchmark (scripts/bench/import).
 */
#define STORE_CACHE_KIB 32768
/* the page cache (and so the sorter's memory) while migrating */
#define STORE_MIGRATE_CACHE_KIB 8192
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

int
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

sqlite3_stmt *
store_stmt(struct store *st, int id, const char *sql, struct err *e)
{
    sqlite3_stmt *s = st->stmt[id];

    if (sql == NULL) { /* a statement id without its SQL: our bug */
        err_set(e, EX_SOFTWARE, "%s: statement %d has no SQL", st->path, id);
        return NULL;
    }

    if (s == NULL) {
        if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
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

int
store_stmt_done(struct store *st, sqlite3_stmt *s, struct err *e,
                const char *what)
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
store_readonly(const struct store *st)
{
    return st->readonly;
}

void
store_busy_default(struct store *st)
{
    sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
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
store_checkpoint_truncate(struct store *st)
{
    return sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                     NULL, NULL) == SQLITE_OK
               ? 0
               : -1;
}

int
store_autocheckpoint(struct store *st, int pages, struct err *e)
{
    char sql[64];

    snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint = %d", pages);
    return exec(st, sql, e, "wal_autocheckpoint");
}

int
store_durable(struct store *st, int full, struct err *e)
{
    return exec(
        st, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
        e, "synchronous");
}

int
store_commit(struct store *st, struct err *e)
{
    return exec(st, "COMMIT", e, "commit");
}

int
store_import_checks(struct store *st, int on, struct err *e)
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
    (void)store_import_checks(st, 1, &e);
}

int
store_latest_version(void)
{
    int v = 0;

    for (const struct store_migration *m = store_migrations; m->sql; m++)
        v = m->version;
    return v;
}

/* schema_current - the schema version of the database, read without a
 * write transaction: 1 and *v set, 0 when there is no schema_version
 * table yet, -1. */
static int
schema_current(struct store *st, int *v, struct err *e)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sqlite3_prepare_v2(st->db, "SELECT max(version) FROM schema_version",
                            -1, &s, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        /* no such table: a new database */
        if (rc == SQLITE_ERROR)
            return 0;
        return store_fail(st, e, "read schema_version");
    }
    rc = sqlite3_step(s);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return store_fail(st, e, "read schema_version");
    return 1;
}

/* The migration whose work SQL cannot do alone (it needs libidn2): its C
 * step (store_idna.c) runs right after its SQL, in the same transaction. */
#define STORE_IDNA_VERSION 7

/* migrate - apply every embedded migration newer than the database.  A
 * database already at the newest version is only read (no write lock: a
 * report runs beside a long import); otherwise the check is done again
 * inside BEGIN IMMEDIATE, so two processes never migrate at once. */
static int
migrate(struct store *st, struct err *e)
{
    sqlite3_stmt *s = NULL;
    int current = 0, latest = store_latest_version();
    long rewritten = 0, merged = 0;
    char sql[96];
    int rc = schema_current(st, &current, e);

    if (rc == -1)
        return -1;
    if (rc == 1 && current > latest)
        return err_set(e, EX_DATAERR,
                       "%s: schema version %d is newer than this campaign "
                       "understands (%d); upgrade campaign",
                       st->path, current, latest);
    if (rc == 1 && current == latest) {
        st->version = current;
        return 0;
    }
    if (st->readonly)
        return err_set(e, EX_CANTCREAT,
                       "%s: read-only, and its schema (version %d) needs "
                       "migrating to %d: run any command once where it can "
                       "be written",
                       st->path, current, latest);
    current = 0;
    /* a migration's sorts and the keys of a whole table's UPDATE go to
     * temporary files, not memory, and its sorter holds at most a cache
     * (its size): a ledger of millions of rows migrates in the memory of
     * one of thousands (both set back once done) */
    if (store_lean(st, STORE_MIGRATE_CACHE_KIB, e) == -1 ||
        store_begin(st, e) == -1)
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
        if (m->version == STORE_IDNA_VERSION &&
            store_idna_migrate(st, &rewritten, &merged, e) == -1)
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
    if (rewritten > 0 || merged > 0)
        log_warnx("migrated addresses to IDNA2008 canonical form: %ld "
                  "rewritten, %ld merged",
                  rewritten, merged);
    snprintf(sql, sizeof sql,
             "PRAGMA cache_size = -%d; PRAGMA temp_store = MEMORY;",
             STORE_CACHE_KIB);
    return exec(st, sql, e, "cache size");
fail:
    sqlite3_finalize(s);
    store_rollback(st);
    return -1;
}

int
store_read_salt(struct store *st, char **out, struct err *e)
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
    *out = xstrdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return 0;
}

static int
load_salt(struct store *st, struct err *e)
{
    sqlite3_stmt *s;

    if (store_read_salt(st, &st->salt, e) == -1)
        return -1;
    /* 007_idna.sql: an older release's hash-only suppressions */
    if (sqlite3_prepare_v2(st->db,
                           "SELECT 1 FROM meta WHERE key = 'legacy_hashes'", -1,
                           &s, NULL) != SQLITE_OK)
        return store_fail(st, e, "read meta");
    st->legacy_hashes = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    /* ... and its merged contacts, whose old ids old links carry */
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM contact_merged LIMIT 1", -1,
                           &s, NULL) != SQLITE_OK)
        return store_fail(st, e, "read contact_merged");
    st->merged = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return 0;
}

int
store_legacy_hashes(const struct store *st)
{
    return st->legacy_hashes;
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

/* readonly_uri - a read-only open of path when this process cannot
 * write the database or its directory (a read-only mount, another
 * user's readable database): "file:PATH?mode=ro", or with immutable=1
 * when the -shm that WAL readers share cannot be created (a directory
 * we cannot write, and no -shm: then no writer is at work either).
 * NULL when the database can be written. */
static char *
readonly_uri(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir, *shm, *uri, *esc;
    size_t o = 0;
    int dir_w, file_w, have_shm;

    dir = slash ? xasprintf("%.*s", (int)(slash - path) + (slash == path), path)
                : xstrdup(".");
    dir_w = access(dir, W_OK) == 0;
    file_w = access(path, W_OK) == 0;
    free(dir);
    if (dir_w && file_w)
        return NULL;
    shm = xasprintf("%s-shm", path);
    have_shm = access(shm, R_OK) == 0;
    free(shm);
    /* '%', '?' and '#' have meanings in a URI: escaped */
    esc = xmalloc(3 * strlen(path) + 1);
    for (const char *c = path; *c; c++) {
        if (*c == '%' || *c == '?' || *c == '#')
            o += (size_t)sprintf(esc + o, "%%%02X", (unsigned char)*c);
        else
            esc[o++] = *c;
    }
    esc[o] = '\0';
    uri = xasprintf("file:%s?mode=ro%s", esc,
                    !dir_w && !have_shm ? "&immutable=1" : "");
    free(esc);
    return uri;
}

struct store *
store_open(const char *path, enum store_open_mode mode, int *created,
           struct err *e)
{
    struct store *st;
    struct stat sb;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, rc;
    char pragmas[256];

    if (created)
        *created = 0;
    if (stat(path, &sb) == -1) {
        if (errno != ENOENT || mode != STORE_OPEN_CREATE) {
            err_set(e, EX_NOINPUT, "%s: %s%s", path, strerror(errno),
                    errno == ENOENT ? " (run 'campaign init' first)" : "");
            return NULL;
        }
        /* created here, mode 0600 (it holds personal data and the
         * erasure salt): SQLite gives its -wal and -shm the database's
         * mode, and would create it 0644 under the usual umask */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd == -1) {
            err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
            return NULL;
        }
        close(fd);
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
    char *ro = (flags & SQLITE_OPEN_CREATE) ? NULL : readonly_uri(path);
    if (ro != NULL) {
        /* read-only: reports and lists work; a write fails (73) */
        flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
        st->readonly = 1;
    }
    rc = sqlite3_open_v2(ro ? ro : path, &st->db, flags, NULL);
    free(ro);
    if (rc != SQLITE_OK) {
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
    /* WAL is a property of the file, set at creation: a read-only open
     * cannot (and need not) set it again.  secure_delete: what a delete
     * or an update frees is overwritten, so a forgotten person's address,
     * reply text, Message-ID and IP leave the file (006_history.sql);
     * Debian's SQLite has it on by default, others do not */
    snprintf(pragmas, sizeof pragmas,
             "%sPRAGMA synchronous = FULL; "
             "PRAGMA foreign_keys = ON; PRAGMA cache_size = -%d; "
             "PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;",
             st->readonly ? "" : "PRAGMA journal_mode = WAL; ",
             STORE_CACHE_KIB);
    if (exec(st, pragmas, e, "configure") == -1 || migrate(st, e) == -1 ||
        load_salt(st, e) == -1) {
        store_close(st);
        return NULL;
    }
    return st;
}

int
store_lean(struct store *st, int kib, struct err *e)
{
    char sql[128];

    snprintf(sql, sizeof sql,
             "PRAGMA cache_size = -%d; PRAGMA temp_store = FILE; "
             "PRAGMA shrink_memory;",
             kib);
    return exec(st, sql, e, "cache size");
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
    for (int i = 0; i < STORE_STMT_MAX; i++)
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

int
store_member_rows(struct store *st, sqlite3_stmt *s, store_member_cb cb,
                  void *arg, const char *what, struct err *e)
{
    struct store_member m;
    int rc, stop = 0;

    if (s == NULL)
        return -1;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        m.id = sqlite3_column_int64(s, 0);
        m.email = (const char *)sqlite3_column_text(s, 1);
        m.attrs = (const char *)sqlite3_column_text(s, 2);
        m.status = (const char *)sqlite3_column_text(s, 3);
        stop = cb(&m, arg);
    }
    sqlite3_reset(s);
    if (!stop && rc != SQLITE_DONE)
        return store_fail(st, e, what);
    return stop ? 1 : 0;
}

int
store_find_id(struct store *st, sqlite3_stmt *s, const char *key, int64_t *out,
              struct err *e)
{
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
