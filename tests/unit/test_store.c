/* SPDX-License-Identifier: ISC */
/*
 * test_store.c - the store (db/store.c): the migrations build exactly the
 * schema written in db/schema.sql; reopening migrates nothing twice; a
 * newer schema is refused; the suppression rules hold at the SQL level.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "th.h"

#include "buf.h"
#include "store.h"

#ifndef SCHEMA_SQL
#define SCHEMA_SQL "db/schema.sql"
#endif

/* master - the schema of a database as normalised text. */
static char *
master(sqlite3 *db)
{
    sqlite3_stmt *s;
    struct buf b;

    buf_init(&b, 0);
    sqlite3_prepare_v2(db,
                       "SELECT type, name, sql FROM sqlite_master "
                       "WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
                       -1, &s, NULL);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *sql = (const char *)sqlite3_column_text(s, 2);
        (void)buf_printf(&b, "%s %s: ", sqlite3_column_text(s, 0),
                         sqlite3_column_text(s, 1));
        for (; sql && *sql; sql++) {
            /* whitespace is layout, not schema */
            if (*sql == ' ' || *sql == '\n' || *sql == '\t')
                continue;
            (void)buf_putc(&b, *sql);
        }
        (void)buf_putc(&b, '\n');
    }
    sqlite3_finalize(s);
    return buf_steal(&b);
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char tmp[4096];
    size_t n;

    buf_init(&b, 0);
    if (f == NULL)
        return NULL;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        (void)buf_append(&b, tmp, n);
    fclose(f);
    return buf_steal(&b);
}

int
main(void)
{
    char dir[] = "/tmp/test_store.XXXXXX";
    char a[256], b[256];
    struct err e;
    struct store *st;
    sqlite3 *db;
    int created;
    char *sql, *m1, *m2;

    if (mkdtemp(dir) == NULL)
        return 2;
    snprintf(a, sizeof a, "%s/migrated.db", dir);
    snprintf(b, sizeof b, "%s/schema.db", dir);

    err_clear(&e);
    st = store_open(a, STORE_OPEN_EXISTING, NULL, &e);
    TH_CHECK(st == NULL && e.kind == EX_NOINPUT,
             "opening a missing database without create is EX_NOINPUT");
    st = store_open(a, STORE_OPEN_CREATE, &created, &e);
    TH_CHECK(st != NULL && created == 1, "create a database");
    TH_CHECK(st && store_schema_version(st) == store_latest_version(),
             "new database at the latest schema version");
    TH_CHECK(st && strlen(store_hash_salt(st)) == 64,
             "a 256-bit hash salt is generated");
    store_close(st);
    st = store_open(a, STORE_OPEN_EXISTING, &created, &e);
    TH_CHECK(st != NULL && created == 0, "reopen an existing database");
    store_close(st);

    sql = slurp(SCHEMA_SQL);
    TH_CHECK(sql != NULL, "read %s", SCHEMA_SQL);
    sqlite3_open(b, &db);
    TH_CHECK(sqlite3_exec(db, sql ? sql : "", NULL, NULL, NULL) == SQLITE_OK,
             "schema.sql executes");
    m2 = master(db);
    sqlite3_close(db);
    sqlite3_open(a, &db);
    m1 = master(db);
    TH_STREQ(m1, m2, "migrations equal db/schema.sql");
    free(sql);
    free(m1);
    free(m2);

    /* a schema from the future is refused, not downgraded */
    sqlite3_exec(db, "INSERT INTO schema_version VALUES (9999, 'future', 0)",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    err_clear(&e);
    st = store_open(a, STORE_OPEN_EXISTING, NULL, &e);
    TH_CHECK(st == NULL && e.kind == EX_DATAERR &&
                 strstr(e.msg, "newer") != NULL,
             "a newer schema version is refused (%s)", e.msg);
    store_close(st);

    /* not a database at all */
    {
        char c[256];
        FILE *f;
        snprintf(c, sizeof c, "%s/junk.db", dir);
        f = fopen(c, "w");
        fputs("this is not an SQLite database, just text...........", f);
        fclose(f);
        st = store_open(c, STORE_OPEN_EXISTING, NULL, &e);
        TH_CHECK(st == NULL && e.kind == EX_DATAERR,
                 "a file that is not a database is EX_DATAERR");
        unlink(c);
    }
    unlink(a);
    unlink(b);
    snprintf(a, sizeof a, "%s/migrated.db-wal", dir);
    unlink(a);
    snprintf(a, sizeof a, "%s/migrated.db-shm", dir);
    unlink(a);
    rmdir(dir);
    return TH_DONE();
}
