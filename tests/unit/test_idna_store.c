/* SPDX-License-Identifier: ISC */
/*
 * test_idna_store.c - one identity per address in the store (issue 13):
 * a database at schema 6 (the previous release) holding one person in
 * several forms migrates to one contact (the lower id; the suppressed
 * status wins; lists united; the attributes of the last update; the
 * earliest creation), with every ledger row and event kept (a duplicate's
 * row under a tombstone, never a second mail); suppressions re-keyed and
 * merged; an active contact whose address is suppressed under another
 * form takes the suppression's status; an address IDNA2008 refuses is
 * kept as it is.  Then store_suppression_rekey and the legacy hash of
 * store_contact_insert on their own.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "th.h"

#include "digest.h"
#include "store.h"
#include "store_migrations.h"

#define SALT "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* one - the first column of the first row of sql as text ("(none)"). */
static const char *
one(sqlite3 *db, const char *sql)
{
    static char out[512];
    sqlite3_stmt *s;

    snprintf(out, sizeof out, "(none)");
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        snprintf(out, sizeof out, "(error: %s)", sqlite3_errmsg(db));
        return out;
    }
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(out, sizeof out, "%s", sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
}

/* suppression - add a suppression row (email NULL: hash-only) keyed by
 * the hash of key. */
static int
suppression(sqlite3 *db, const char *key, const char *email, const char *reason,
            int at)
{
    uint8_t h[DIGEST_LEN];
    sqlite3_stmt *s;
    int rc;

    digest_email(SALT, key, h);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO suppressions VALUES (?1, ?2, ?3, "
                           "'test', ?4)",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_blob(s, 1, h, DIGEST_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, email, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, at);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(s);
    return rc;
}

/* reason_of - the reason of the suppression keyed by key's hash. */
static const char *
reason_of(sqlite3 *db, const char *key)
{
    char sql[200];
    uint8_t h[DIGEST_LEN];
    char hex[2 * DIGEST_LEN + 1];

    digest_email(SALT, key, h);
    digest_hex(h, hex);
    snprintf(sql, sizeof sql,
             "SELECT reason || '|' || coalesce(email, '-') || '|' || "
             "created_at FROM suppressions WHERE hash = x'%s'",
             hex);
    return one(db, sql);
}

/* schema6 - a database at path as the previous release left it (the
 * migrations up to 6, recorded), with the fixed salt. */
static sqlite3 *
schema6(const char *path)
{
    sqlite3 *db;
    char sql[200];

    if (sqlite3_open(path, &db) != SQLITE_OK)
        return NULL;
    sqlite3_exec(db,
                 "PRAGMA foreign_keys = ON; BEGIN; CREATE TABLE schema_version "
                 "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at INTEGER NOT NULL)",
                 NULL, NULL, NULL);
    for (const struct store_migration *m = store_migrations; m->sql; m++) {
        if (m->version > 6)
            break;
        if (sqlite3_exec(db, m->sql, NULL, NULL, NULL) != SQLITE_OK) {
            sqlite3_close(db);
            return NULL;
        }
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_version VALUES (%d, '%s', 1)", m->version,
                 m->name);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    sqlite3_exec(db,
                 "UPDATE meta SET value = '" SALT "' WHERE key = 'hash_salt'",
                 NULL, NULL, NULL);
    return db;
}

/*
 * The fixture: hans in three forms (1 active in news, 2 unsubscribed in
 * promo and updated last, 3 bounced in vip and created first); eva in two
 * (4 complained, 5 suppressed); zed active, suppressed under the A-label
 * form; an address the new rules refuse; an ASCII one.  Campaign 1 has
 * hans 1 queued and hans 2 sent; campaign 2 only hans 2 (deferred);
 * campaign 3 hans 1 and hans 3, both sent; campaign 4 eva 4 queued and
 * eva 5 uncertain (perhaps delivered: that one stays, with its
 * Message-ID, for its retry).
 */
static const char fixture[] =
    "INSERT INTO lists(id, name, created_at) VALUES (1, 'news', 1), "
    "  (2, 'promo', 1), (3, 'vip', 1);"
    "INSERT INTO contacts(id, email, attrs, status, created_at, updated_at) "
    "VALUES (1, 'hans@bücher.de', '{\"v\":1}', 'active', 100, 100),"
    "  (2, 'hans@xn--bcher-kva.de', '{\"v\":2}', 'unsubscribed', 200, 300),"
    "  (3, 'hans@bÜcher.de', '{\"v\":3}', 'bounced', 50, 60),"
    "  (4, 'eva@xn--bcher-kva.de', '{}', 'complained', 10, 10),"
    "  (5, 'eva@bücher.de', '{}', 'suppressed', 10, 10),"
    "  (6, 'zed@bücher.de', '{}', 'active', 10, 10),"
    "  (7, 'a@☃.com', '{}', 'active', 10, 10),"
    "  (8, 'ann@example.com', '{}', 'active', 10, 10);"
    "INSERT INTO memberships VALUES (1, 1, 100), (2, 2, 200), (3, 3, 50),"
    "  (1, 2, 90);"
    "INSERT INTO campaigns(id, name, template, status, created_at) VALUES "
    "  (1, 'c1', 't', 'done', 1), (2, 'c2', 't', 'paused', 1), "
    "  (3, 'c3', 't', 'done', 1), (4, 'c4', 't', 'paused', 1);"
    "INSERT INTO sends(campaign_id, contact_id, state, queued_at, "
    "  next_attempt_at, message_id) VALUES "
    "  (1, 1, 'queued', 1, NULL, NULL), (1, 2, 'sent', 1, NULL, '<a@x>'),"
    "  (2, 2, 'deferred', 1, 500, NULL),"
    "  (3, 1, 'sent', 1, NULL, '<b@x>'), (3, 3, 'sent', 1, NULL, '<c@x>'),"
    "  (4, 4, 'queued', 1, NULL, NULL), (4, 5, 'uncertain', 1, NULL, '<d@x>');"
    "UPDATE sends SET was_uncertain = 1 WHERE campaign_id = 4 AND "
    "  contact_id = 5;"
    "INSERT INTO events(campaign_id, contact_id, kind, at_ms) VALUES "
    "  (1, 2, 'open', 1), (3, 3, 'click', 2), (3, 1, 'open', 3);";

static void
test_migrate(const char *dir)
{
    char path[256];
    struct store *st;
    struct err e;
    sqlite3 *db;
    int ok;

    snprintf(path, sizeof path, "%s/six.db", dir);
    db = schema6(path);
    TH_CHECK(db != NULL, "a database at schema 6");
    if (db == NULL)
        return;
    ok = sqlite3_exec(db, fixture, NULL, NULL, NULL) == SQLITE_OK;
    TH_CHECK(ok, "the fixture (%s)", sqlite3_errmsg(db));
    /* user@ suppressed in two forms; zed@ in the A-label form; an erased
     * person's hash-only row */
    ok = suppression(db, "user@xn--bcher-kva.de", "user@xn--bcher-kva.de",
                     "manual", 30) == 0 &&
         suppression(db, "user@bücher.de", "user@bücher.de", "bounced", 40) ==
             0 &&
         suppression(db, "zed@xn--bcher-kva.de", "zed@xn--bcher-kva.de",
                     "unsubscribed", 20) == 0 &&
         suppression(db, "gone@xn--bcher-kva.de", NULL, "forgotten", 20) == 0;
    TH_CHECK(ok, "the suppressions");
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);

    err_clear(&e);
    st = store_open(path, STORE_OPEN_EXISTING, NULL, &e);
    TH_CHECK(st != NULL && store_schema_version(st) == store_latest_version(),
             "schema 6 migrates (%s)", e.msg);
    store_close(st);
    if (st == NULL)
        return;
    sqlite3_open(path, &db);

    TH_STREQ(one(db, "SELECT group_concat(id || ':' || email, ' ') FROM "
                     "(SELECT id, email FROM contacts ORDER BY id)"),
             "1:hans@bücher.de 4:eva@bücher.de 6:zed@bücher.de 7:a@☃.com "
             "8:ann@example.com",
             "one contact per person, the lower id, the canonical address; "
             "a refused address kept");
    TH_STREQ(one(db, "SELECT status || ' ' || attrs || ' ' || created_at || "
                     "' ' || updated_at FROM contacts WHERE id = 1"),
             "unsubscribed {\"v\":2} 50 300",
             "hans: the strongest status, the last update's attributes, the "
             "earliest creation");
    TH_STREQ(one(db, "SELECT status FROM contacts WHERE id = 4"), "complained",
             "eva: complained wins over suppressed");
    TH_STREQ(one(db, "SELECT group_concat(list_id || '@' || added_at, ' ') "
                     "FROM (SELECT * FROM memberships WHERE contact_id = 1 "
                     "ORDER BY list_id)"),
             "1@90 2@200 3@50", "hans: every list, the earlier time kept");
    TH_STREQ(one(db, "SELECT count(*) FROM memberships"), "3",
             "no membership left to a deleted contact");

    /* old links: the merged contacts' ids lead to the survivors */
    TH_STREQ(one(db, "SELECT group_concat(old_id || '>' || into_id, ' ') FROM "
                     "(SELECT * FROM contact_merged ORDER BY old_id)"),
             "2>1 3>1 5>4", "contact_merged: each merged id and its survivor");
    {
        struct store *s2 = store_open(path, STORE_OPEN_EXISTING, NULL, &e);
        int64_t a = 0, b = 0, c = 0;
        TH_CHECK(
            s2 != NULL && store_contact_current(s2, 3, &a, &e) == 0 &&
                store_contact_current(s2, 4, &b, &e) == 0 &&
                store_contact_current(s2, 99, &c, &e) == 0 && a == 1 &&
                b == 4 && c == 99,
            "store_contact_current: a merged id gives its survivor (%lld), "
            "a contact's id itself (%lld), an unknown id itself (%lld)",
            (long long)a, (long long)b, (long long)c);
        store_close(s2);
    }

    /* the ledger: seven rows before, seven after */
    TH_STREQ(one(db, "SELECT count(*) FROM sends"), "7", "no ledger row lost");
    TH_STREQ(one(db, "SELECT group_concat(campaign_id || ':' || state || ':' "
                     "|| coalesce(message_id, '-'), ' ') FROM (SELECT * FROM "
                     "sends WHERE contact_id = 1 ORDER BY campaign_id)"),
             "1:sent:<a@x> 2:deferred:- 3:sent:<b@x>",
             "hans keeps the row he was mailed by, and the duplicate's own "
             "campaign");
    TH_STREQ(one(db, "SELECT group_concat(campaign_id || ':' || state || ':' "
                     "|| coalesce(last_text, '-') || ':' || "
                     "coalesce(next_attempt_at, '-'), ' ') FROM (SELECT * "
                     "FROM sends WHERE contact_id < 0 ORDER BY campaign_id)"),
             "1:skipped:skipped: merged duplicate:- 3:sent:-:- "
             "4:skipped:skipped: merged duplicate:-",
             "the other copies under tombstones: a queued one skipped, a sent "
             "one kept");
    TH_STREQ(one(db, "SELECT count(DISTINCT contact_id) FROM sends "
                     "WHERE contact_id < 0"),
             "3", "one tombstone per merged duplicate");
    TH_STREQ(one(db, "SELECT value FROM meta WHERE key = 'tombstone'"), "-3",
             "tombstones taken from meta");
    TH_STREQ(one(db, "SELECT state || ':' || was_uncertain || ':' || "
                     "message_id FROM sends WHERE campaign_id = 4 AND "
                     "contact_id = 4"),
             "uncertain:1:<d@x>",
             "eva keeps the duplicate's uncertain row (perhaps delivered) "
             "over her own queued one, with its Message-ID for the retry");
    TH_STREQ(one(db, "SELECT group_concat(contact_id, ' ') FROM events"),
             "1 1 1", "the duplicates' events are hans's");

    /* suppressions */
    TH_STREQ(reason_of(db, "user@bücher.de"), "bounced|user@bücher.de|30",
             "user: one row, the stronger reason, the earlier time");
    TH_STREQ(reason_of(db, "user@xn--bcher-kva.de"), "(none)",
             "user: the A-label form's row is gone");
    TH_STREQ(reason_of(db, "zed@bücher.de"), "unsubscribed|zed@bücher.de|20",
             "zed: re-keyed to the canonical form");
    TH_STREQ(one(db, "SELECT status FROM contacts WHERE id = 6"),
             "unsubscribed",
             "zed: active, suppressed under another form: now unsubscribed");
    TH_STREQ(reason_of(db, "gone@xn--bcher-kva.de"), "forgotten|-|20",
             "an erased person's hash-only row stays");
    TH_STREQ(one(db, "SELECT status FROM contacts WHERE id = 8"), "active",
             "an ASCII address untouched");
    sqlite3_close(db);

    /* opened again: nothing left to migrate */
    st = store_open(path, STORE_OPEN_EXISTING, NULL, &e);
    TH_CHECK(st != NULL, "reopened");
    store_close(st);
}

static void
test_rekey(const char *dir)
{
    char path[256];
    uint8_t a[DIGEST_LEN], b[DIGEST_LEN], c[DIGEST_LEN];
    struct store *st;
    struct err e;
    sqlite3 *db;
    int64_t id = 0;

    snprintf(path, sizeof path, "%s/rekey.db", dir);
    err_clear(&e);
    st = store_open(path, STORE_OPEN_CREATE, NULL, &e);
    TH_CHECK(st != NULL, "rekey: a database (%s)", e.msg);
    if (st == NULL)
        return;
    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 "UPDATE meta SET value = '" SALT "' WHERE key = 'hash_salt'",
                 NULL, NULL, NULL);
    suppression(db, "a@xn--bcher-kva.de", NULL, "forgotten", 5);
    suppression(db, "b@xn--bcher-kva.de", "b@xn--bcher-kva.de", "complained",
                9);
    suppression(db, "b@bücher.de", "b@bücher.de", "manual", 7);
    digest_email(SALT, "a@xn--bcher-kva.de", a);
    digest_email(SALT, "a@bücher.de", c);
    TH_CHECK(store_suppression_rekey(st, a, c, "a@bücher.de", &e) == 1,
             "rekey: moved (%s)", e.msg);
    TH_STREQ(reason_of(db, "a@bücher.de"), "forgotten|-|5",
             "rekey: a hash-only row stays without an address");
    TH_CHECK(store_suppression_rekey(st, a, c, "a@bücher.de", &e) == 0,
             "rekey: nothing to move is 0");
    digest_email(SALT, "b@xn--bcher-kva.de", a);
    digest_email(SALT, "b@bücher.de", b);
    TH_CHECK(store_suppression_rekey(st, a, b, "b@bücher.de", &e) == 2,
             "rekey: merged (%s)", e.msg);
    TH_STREQ(reason_of(db, "b@bücher.de"), "complained|b@bücher.de|7",
             "rekey: the stronger reason, the earlier time");
    TH_STREQ(one(db, "SELECT count(*) FROM suppressions"), "2",
             "rekey: one row per person");

    /* an import's new contact: suppressed by the legacy hash */
    suppression(db, "n@xn--bcher-kva.de", NULL, "forgotten", 5);
    digest_email(SALT, "n@bücher.de", b);
    digest_email(SALT, "n@xn--bcher-kva.de", c);
    TH_CHECK(
        store_contact_insert(st, "n@bücher.de", "{}", b, c, 1, 0, &id, &e) == 1,
        "legacy: inserted (%s)", e.msg);
    TH_STREQ(one(db, "SELECT status FROM contacts WHERE email = 'n@bücher.de'"),
             "suppressed",
             "legacy: a hash-only row of the A-label form counts");
    digest_email(SALT, "m@bücher.de", a);
    TH_CHECK(store_contact_insert(st, "m@bücher.de", "{}", a, NULL, 1, 0, &id,
                                  &e) == 1,
             "legacy: inserted without one");
    TH_STREQ(one(db, "SELECT status FROM contacts WHERE email = 'm@bücher.de'"),
             "active", "legacy: none given, none looked at");
    sqlite3_close(db);
    store_close(st);
}

int
main(void)
{
    char dir[] = "/tmp/test_idna_store.XXXXXX";
    char cmd[300];

    if (mkdtemp(dir) == NULL)
        return 2;
    test_migrate(dir);
    test_rekey(dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 2;
    return TH_DONE();
}
