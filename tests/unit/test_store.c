/* SPDX-License-Identifier: ISC */
/*
 * test_store.c - the store (db/store.c): the migrations build exactly the
 * schema written in db/schema.sql; reopening migrates nothing twice; a
 * newer schema is refused; the suppression rules hold at the SQL level
 * (test_suppressions: add, already suppressed, get, the contact's status,
 * a contact added after its suppression, the list and its filters, lift);
 * campaign cancel at the SQL level (test_cancel: what is left to send
 * becomes cancelled, and so does what a running send would give back to
 * the queue after the cancel).
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "th.h"

#include "buf.h"
#include "digest.h"
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

/*---- suppressions ----*/

struct sup_seen {
    int calls;
    uint8_t hash[DIGEST_LEN];
    char email[64], reason[32], source[64];
    int64_t created_at;
};

static int
sup_cb(const struct store_suppression *s, void *arg)
{
    struct sup_seen *o = arg;

    o->calls++;
    memcpy(o->hash, s->hash, DIGEST_LEN);
    snprintf(o->email, sizeof o->email, "%s", s->email ? s->email : "");
    snprintf(o->reason, sizeof o->reason, "%s", s->reason);
    snprintf(o->source, sizeof o->source, "%s", s->source);
    o->created_at = s->created_at;
    return 0;
}

static int
count_cb(const struct store_suppression *s, void *arg)
{
    (void)s;
    (*(int *)arg)++;
    return 0;
}

static int
status_cb(const struct store_contact *c, void *arg)
{
    snprintf(arg, 32, "%s", c->status);
    return 0;
}

/* status - the contact's status, "(none)" when there is no such contact */
static const char *
status(struct store *st, const char *email)
{
    static char s[32];
    struct err e;

    snprintf(s, sizeof s, "(none)");
    if (store_contact_get(st, email, status_cb, s, &e) == -1)
        snprintf(s, sizeof s, "(error)");
    return s;
}

/* suppress - store_suppress of email for reason, from source, at t */
static int
suppress(struct store *st, const char *email, const char *reason,
         const char *source, int64_t t)
{
    uint8_t h[DIGEST_LEN];
    struct store_suppression s = {h, email, reason, source, t, NULL};
    struct err e;

    digest_email(store_hash_salt(st), email, h);
    return store_suppress(st, &s, &e);
}

/* get - store_suppression_get of email into *o */
static int
get(struct store *st, const char *email, struct sup_seen *o)
{
    uint8_t h[DIGEST_LEN];
    struct err e;

    memset(o, 0, sizeof *o);
    digest_email(store_hash_salt(st), email, h);
    return store_suppression_get(st, h, sup_cb, o, &e);
}

/* lift - store_suppression_lift of email for reason at t */
static int
lift(struct store *st, const char *email, const char *reason, int64_t t)
{
    uint8_t h[DIGEST_LEN];
    struct err e;

    digest_email(store_hash_salt(st), email, h);
    return store_suppression_lift(st, h, email, reason, t, &e);
}

/* add_contacts - the n addresses as contacts, as one import run would */
static int
add_contacts(struct store *st, const char *const *emails, size_t n, int64_t t)
{
    struct err e;
    int64_t run, id;
    long changed;

    if (store_begin(st, &e) == -1 ||
        store_import_begin(st, "test.csv", 0, t, &run, &e) == -1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t h[DIGEST_LEN];

        digest_email(store_hash_salt(st), emails[i], h);
        if (store_contact_insert(st, emails[i], "{}", h, NULL, t, run, &id,
                                 &e) != 1) {
            store_rollback(st);
            return -1;
        }
    }
    if (store_import_settle(st, run, &changed, &e) == -1 ||
        store_import_end(st, run, (long)n, 0, 0, 0, &e) == -1 ||
        store_commit(st, &e) == -1) {
        store_rollback(st);
        return -1;
    }
    return 0;
}

static void
test_suppressions(const char *dir)
{
    static const char *const people[] = {"ann@example.com", "bob@example.com",
                                         "cy@example.com", "dee@example.com"};
    char path[256];
    struct sup_seen o;
    struct store *st;
    struct err e;
    uint8_t h[DIGEST_LEN];
    int n;

    snprintf(path, sizeof path, "%s/sup.db", dir);
    err_clear(&e);
    st = store_open(path, STORE_OPEN_CREATE, NULL, &e);
    TH_CHECK(st != NULL, "suppressions: a database (%s)", e.msg);
    if (st == NULL)
        return;
    TH_CHECK(add_contacts(st, people, 4, 10) == 0 &&
                 strcmp(status(st, "ann@example.com"), "active") == 0 &&
                 strcmp(status(st, "dee@example.com"), "active") == 0,
             "suppressions: four active contacts");

    /* add */
    TH_CHECK(suppress(st, "ann@example.com", "unsubscribed", "manual", 100) ==
                 1,
             "suppress: a new suppression is added (1)");
    TH_STREQ(status(st, "ann@example.com"), "unsubscribed",
             "suppress: the contact's status follows the reason");
    TH_CHECK(get(st, "ann@example.com", &o) == 1 && o.calls == 1 &&
                 strcmp(o.email, "ann@example.com") == 0 &&
                 strcmp(o.reason, "unsubscribed") == 0 &&
                 strcmp(o.source, "manual") == 0 && o.created_at == 100,
             "suppression_get: email, reason, source and time as added");
    digest_email(store_hash_salt(st), "ann@example.com", h);
    TH_CHECK(memcmp(o.hash, h, DIGEST_LEN) == 0,
             "suppression_get: the salted hash of the address");

    /* already suppressed: the first suppression stands, whole */
    TH_CHECK(suppress(st, "ann@example.com", "bounced", "smtp", 200) == 0,
             "suppress: an address already suppressed is 0");
    TH_CHECK(get(st, "ann@example.com", &o) == 1 &&
                 strcmp(o.reason, "unsubscribed") == 0 &&
                 strcmp(o.source, "manual") == 0 && o.created_at == 100,
             "suppress: a second reason does not replace the first "
             "(%s, %s, %lld)",
             o.reason, o.source, (long long)o.created_at);
    TH_STREQ(status(st, "ann@example.com"), "unsubscribed",
             "suppress: a second reason does not change the contact");

    /* each reason's status */
    TH_CHECK(suppress(st, "bob@example.com", "bounced", "smtp", 300) == 1 &&
                 suppress(st, "cy@example.com", "complained", "arf", 301) ==
                     1 &&
                 suppress(st, "dee@example.com", "manual", "manual", 302) == 1,
             "suppress: bounced, complained, manual");
    TH_STREQ(status(st, "bob@example.com"), "bounced", "status: bounced");
    TH_STREQ(status(st, "cy@example.com"), "complained", "status: complained");
    TH_STREQ(status(st, "dee@example.com"), "suppressed",
             "status: manual is 'suppressed'");

    /* get of an address never suppressed */
    TH_CHECK(get(st, "zed@example.com", &o) == 0 && o.calls == 0,
             "suppression_get: 0 and no callback when not suppressed");

    /* an address suppressed before it is a contact comes in suppressed */
    TH_CHECK(suppress(st, "eve@example.com", "unsubscribed", "manual", 400) ==
                 1,
             "suppress: an address that is no contact");
    TH_STREQ(status(st, "eve@example.com"), "(none)",
             "suppress: no contact is made");
    {
        static const char *const eve[] = {"eve@example.com"};
        TH_CHECK(add_contacts(st, eve, 1, 500) == 0, "eve imported");
    }
    TH_STREQ(status(st, "eve@example.com"), "unsubscribed",
             "a contact added after its suppression is suppressed");

    /* the list, and its filters */
    n = 0;
    TH_CHECK(store_suppressions(st, NULL, NULL, count_cb, &n, &e) == 0 &&
                 n == 5,
             "suppressions: all 5 (%d)", n);
    n = 0;
    TH_CHECK(store_suppressions(st, "smtp", NULL, count_cb, &n, &e) == 0 &&
                 n == 1,
             "suppressions: of source smtp, 1 (%d)", n);
    n = 0;
    TH_CHECK(store_suppressions(st, NULL, "unsubscribed", count_cb, &n, &e) ==
                     0 &&
                 n == 2,
             "suppressions: of reason unsubscribed, 2 (%d)", n);

    /* lift: only for exactly the suppression's reason */
    TH_CHECK(lift(st, "ann@example.com", "bounced", 600) == 0,
             "lift: another reason lifts nothing (0)");
    TH_CHECK(get(st, "ann@example.com", &o) == 1 &&
                 strcmp(o.reason, "unsubscribed") == 0 &&
                 strcmp(status(st, "ann@example.com"), "unsubscribed") == 0,
             "lift: the unsubscribe and the contact's status stay");
    TH_CHECK(lift(st, "bob@example.com", "bounced", 601) == 1,
             "lift: a bounce lifted (1)");
    TH_CHECK(get(st, "bob@example.com", &o) == 0,
             "lift: the suppression is gone");
    TH_STREQ(status(st, "bob@example.com"), "active",
             "lift: the contact is mailable again");
    TH_CHECK(lift(st, "bob@example.com", "bounced", 602) == 0,
             "lift: a second lift is 0");
    TH_CHECK(lift(st, "dee@example.com", "manual", 603) == 1 &&
                 strcmp(status(st, "dee@example.com"), "active") == 0,
             "lift: a manual suppression lifted, the contact active");
    TH_CHECK(lift(st, "zed@example.com", "manual", 604) == 0,
             "lift: an address never suppressed is 0");
    TH_STREQ(status(st, "cy@example.com"), "complained",
             "lift: other contacts untouched");
    n = 0;
    TH_CHECK(store_suppressions(st, NULL, NULL, count_cb, &n, &e) == 0 &&
                 n == 3,
             "suppressions: 3 left (%d)", n);
    store_close(st);
    unlink(path);
    snprintf(path, sizeof path, "%s/sup.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/sup.db-shm", dir);
    unlink(path);
}

/*---- cancel ----*/

/* state_of - contact's ledger state in campaign ("(none)", "(error)") */
static const char *
state_of(struct store *st, int64_t campaign, int64_t contact)
{
    static struct store_send_times t;
    struct err e;
    int rc = store_send_times(st, campaign, contact, &t, &e);

    if (rc != 1)
        snprintf(t.state, sizeof t.state, rc == 0 ? "(none)" : "(error)");
    return t.state;
}

/* result - store_ledger_result of state (with a reply) for contact */
static int
result(struct store *st, int64_t campaign, int64_t contact, const char *state)
{
    struct store_result r;
    struct err e;

    memset(&r, 0, sizeof r);
    r.campaign_id = campaign;
    r.contact_id = contact;
    r.state = state;
    r.code = 451;
    r.status = "4.7.1";
    r.text = "try later";
    r.next_attempt_at = strcmp(state, "deferred") == 0 ? 2000 : 0;
    return store_ledger_result(st, &r, &e);
}

static void
claim_count_cb(const struct store_claim_row *r, void *arg)
{
    (void)r;
    (*(int *)arg)++;
}

static void
test_cancel(const char *dir)
{
    static const char *const people[] = {"c1@example.com", "c2@example.com",
                                         "c3@example.com", "c4@example.com",
                                         "c5@example.com", "c6@example.com"};
    char path[256];
    struct store *st;
    struct store_counts c;
    struct err e;
    sqlite3 *db;
    sqlite3_stmt *q;
    int64_t k = 0;
    long n = -1, nu = -1;
    int claimable = 0;

    snprintf(path, sizeof path, "%s/cancel.db", dir);
    err_clear(&e);
    st = store_open(path, STORE_OPEN_CREATE, NULL, &e);
    TH_CHECK(st != NULL, "cancel: a database (%s)", e.msg);
    if (st == NULL)
        return;
    TH_CHECK(add_contacts(st, people, 6, 100) == 0 &&
                 store_campaign_ensure(st, "promo", "promo", 0, 100, &k, &e) ==
                     0,
             "cancel: six contacts and a campaign");
    /* the ledger rows, contact ids 1..6, all queued */
    sqlite3_open(path, &db);
    TH_CHECK(sqlite3_exec(db,
                          "INSERT INTO sends(campaign_id, contact_id, "
                          "queued_at) SELECT 1, id, 100 FROM contacts",
                          NULL, NULL, NULL) == SQLITE_OK,
             "cancel: six rows queued");
    /* a running send claimed 1-4; 5 was deferred before the cancel */
    for (int64_t i = 1; i <= 4; i++)
        (void)store_ledger_mark_sending(st, k, i, 150, &e);
    TH_CHECK(result(st, k, 5, "deferred") == 0, "cancel: 5 deferred");
    TH_STREQ(state_of(st, k, 5), "deferred",
             "a result before the cancel is kept");

    TH_CHECK(store_begin(st, &e) == 0 &&
                 store_campaign_set_control(st, "promo", "cancel", "cancelled",
                                            &e) == 1 &&
                 store_ledger_cancel(st, k, 200, &n, &nu, &e) == 0 &&
                 store_commit(st, &e) == 0,
             "cancel: control and rows (%s)", e.msg);
    TH_CHECK(n == 2, "cancel: the queued and the deferred row (%ld)", n);
    /* a send that read the campaign before the cancel does not start it
     * again (its start loses to the cancel) */
    TH_CHECK(store_campaign_start(st, k, 210, NULL, &e) == 0,
             "cancel: a later start does not undo the cancel");
    TH_STREQ(state_of(st, k, 6), "cancelled", "cancel: queued -> cancelled");
    TH_STREQ(state_of(st, k, 5), "cancelled", "cancel: deferred -> cancelled");
    TH_STREQ(state_of(st, k, 1), "sending",
             "cancel: a claimed row is left to its send");

    /* the running send's results after the cancel */
    TH_CHECK(result(st, k, 1, "deferred") == 0, "cancel: 1's 4xx recorded");
    TH_STREQ(state_of(st, k, 1), "cancelled",
             "a 4xx after the cancel: cancelled, not deferred");
    TH_CHECK(store_ledger_release(st, k, 2, "not sent: the run stopped first",
                                  1, 0, NULL, &e) == 0,
             "cancel: 2 released");
    TH_STREQ(state_of(st, k, 2), "cancelled",
             "a claim undone after the cancel: cancelled, not queued");
    TH_CHECK(result(st, k, 3, "sent") == 0, "cancel: 3 sent");
    TH_STREQ(state_of(st, k, 3), "sent", "a 250 after the cancel: sent");
    TH_CHECK(result(st, k, 4, "uncertain") == 0, "cancel: 4 uncertain");
    TH_STREQ(state_of(st, k, 4), "cancelled",
             "uncertain after the cancel: cancelled, no retry");

    sqlite3_prepare_v2(db,
                       "SELECT count(*) FROM sends WHERE state = 'cancelled' "
                       "AND last_text LIKE 'cancelled%' AND "
                       "next_attempt_at IS NULL AND done_at > 0",
                       -1, &q, NULL);
    TH_CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 5,
             "cancel: every cancelled row says so, no retry, done");
    sqlite3_finalize(q);
    sqlite3_prepare_v2(db,
                       "SELECT last_text, last_code FROM sends "
                       "WHERE contact_id = 1",
                       -1, &q, NULL);
    TH_CHECK(sqlite3_step(q) == SQLITE_ROW &&
                 strcmp((const char *)sqlite3_column_text(q, 0),
                        "cancelled after: try later") == 0 &&
                 sqlite3_column_int(q, 1) == 451,
             "cancel: the last reply is kept after the word");
    sqlite3_finalize(q);
    sqlite3_close(db);

    TH_CHECK(store_ledger_counts(st, k, &c, &e) == 0 && c.recipients == 6 &&
                 c.sent == 1 && c.cancelled == 5 && c.queued == 0 &&
                 c.deferred == 0 && c.sending == 0 && c.uncertain == 0 &&
                 c.uncertain_retry == 0 && c.was_uncertain == 1,
             "cancel: counts sent 1, cancelled 5, uncertain ever 1 (%ld %ld "
             "%ld)",
             c.sent, c.cancelled, c.was_uncertain);
    for (int kind = STORE_CLAIM_QUEUED; kind <= STORE_CLAIM_UNCERTAIN; kind++)
        (void)store_ledger_claim(st, k, (enum store_claim)kind, 1000000, 10,
                                 claim_count_cb, &claimable, &e);
    TH_CHECK(claimable == 0, "cancel: nothing claimable (%d)", claimable);
    store_close(st);
    unlink(path);
    snprintf(path, sizeof path, "%s/cancel.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/cancel.db-shm", dir);
    unlink(path);
}

static int
pending_cb(const struct store_member *m, void *arg)
{
    struct buf *b = arg;

    if (buf_printf(b, "%s%lld", b->len ? " " : "", (long long)m->id) == -1)
        abort();
    return 0;
}

static int
src_cb(const struct store_campaign *c, void *arg)
{
    snprintf(arg, 32, "%s", c->template_src ? c->template_src : "(null)");
    return 0;
}

/* test_unbuildable - a message that could not be built: counted, not
 * claimable, still to send, queued again on request, cancelled by a
 * cancel; a template frozen again replaces the frozen one */
static void
test_unbuildable(const char *dir)
{
    static const char *const people[] = {"u1@example.com", "u2@example.com",
                                         "u3@example.com", "u4@example.com"};
    char path[256], src[32];
    struct store *st;
    struct store_counts c;
    struct err e;
    struct buf b;
    sqlite3 *db;
    int64_t k = 0;
    long n = -1, nu = -1;
    int claimable = 0;

    snprintf(path, sizeof path, "%s/unbuildable.db", dir);
    err_clear(&e);
    st = store_open(path, STORE_OPEN_CREATE, NULL, &e);
    TH_CHECK(st != NULL, "unbuildable: a database (%s)", e.msg);
    if (st == NULL)
        return;
    TH_CHECK(add_contacts(st, people, 4, 100) == 0 &&
                 store_campaign_ensure(st, "u", "u", 0, 100, &k, &e) == 0,
             "unbuildable: four contacts and a campaign (%s)", e.msg);
    sqlite3_open(path, &db);
    TH_CHECK(sqlite3_exec(db,
                          "INSERT INTO sends(campaign_id, contact_id, "
                          "queued_at) SELECT 1, id, 100 FROM contacts",
                          NULL, NULL, NULL) == SQLITE_OK,
             "unbuildable: four rows queued");
    sqlite3_close(db);
    for (int64_t i = 1; i <= 3; i++)
        (void)store_ledger_mark_sending(st, k, i, 150, &e);
    TH_CHECK(result(st, k, 1, "sent") == 0 &&
                 result(st, k, 2, "unbuildable") == 0 &&
                 result(st, k, 3, "deferred") == 0,
             "unbuildable: 1 sent, 2 unbuildable, 3 deferred, 4 queued");
    TH_CHECK(store_ledger_counts(st, k, &c, &e) == 0 && c.unbuildable == 1 &&
                 c.failed == 0 && c.queued == 1,
             "unbuildable: counted apart from failed (%ld)", c.unbuildable);
    for (int kind = STORE_CLAIM_QUEUED; kind <= STORE_CLAIM_UNCERTAIN; kind++)
        (void)store_ledger_claim(st, k, (enum store_claim)kind, 1000, 10,
                                 claim_count_cb, &claimable, &e);
    TH_CHECK(claimable == 1, "unbuildable: not claimable (%d claimable)",
             claimable);
    buf_init(&b, 0);
    TH_CHECK(store_ledger_pending(st, k, pending_cb, &b, &e) == 0,
             "unbuildable: the recipients left to send");
    TH_STREQ(b.p, "2 3 4", "unbuildable: left to send, the sent one not");
    buf_free(&b);
    TH_CHECK(store_ledger_requeue_unbuildable(st, k, &n, &e) == 0 && n == 1,
             "unbuildable: queued again (%ld)", n);
    TH_STREQ(state_of(st, k, 2), "queued", "unbuildable: -> queued");
    TH_STREQ(state_of(st, k, 3), "deferred", "unbuildable: others untouched");
    TH_CHECK(store_campaign_template(st, k, "A", &e) == 0 &&
                 store_campaign_template(st, k, "B", &e) == 0 &&
                 store_campaign_get_id(st, k, src_cb, src, &e) == 1,
             "unbuildable: a template frozen once");
    TH_STREQ(src, "A", "unbuildable: the first freeze is kept");
    TH_CHECK(store_campaign_refreeze(st, k, "C", &e) == 0 &&
                 store_campaign_get_id(st, k, src_cb, src, &e) == 1,
             "unbuildable: frozen again");
    TH_STREQ(src, "C", "unbuildable: a freeze again replaces it");
    (void)store_ledger_mark_sending(st, k, 2, 160, &e);
    TH_CHECK(result(st, k, 2, "unbuildable") == 0 &&
                 store_ledger_cancel(st, k, 200, &n, &nu, &e) == 0 && n == 3,
             "unbuildable: cancel takes it with the others (%ld)", n);
    TH_STREQ(state_of(st, k, 2), "cancelled",
             "unbuildable: cancelled by a cancel");
    store_close(st);
    unlink(path);
    snprintf(path, sizeof path, "%s/unbuildable.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/unbuildable.db-shm", dir);
    unlink(path);
}

/* counts - "state/class/uncertain=n ..." of campaign 1: from the counts
 * the triggers keep (kept 1) or from a full count of the ledger */
static char *
counts(sqlite3 *db, int kept)
{
    static char out[1024];
    sqlite3_stmt *s;
    size_t o = 0;

    sqlite3_prepare_v2(
        db,
        kept ? "SELECT state, class, uncertain, n FROM ledger_counts "
               "WHERE campaign_id = 1 AND n != 0 ORDER BY 1, 2, 3"
             : "SELECT state, COALESCE(bounce_class, ''), was_uncertain, "
               "count(*) FROM sends WHERE campaign_id = 1 "
               "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        -1, &s, NULL);
    out[0] = '\0';
    while (s != NULL && sqlite3_step(s) == SQLITE_ROW && o < sizeof out - 80)
        o += (size_t)snprintf(
            out + o, sizeof out - o, "%s/%s/%d=%d ", sqlite3_column_text(s, 0),
            sqlite3_column_text(s, 1), sqlite3_column_int(s, 2),
            sqlite3_column_int(s, 3));
    sqlite3_finalize(s);
    return out;
}

/* ledger_counts - 012_ledger_counts's triggers keep each campaign's
 * counts through inserts, state changes, bounces, uncertainty, deletes
 * and a campaign's deletion; store_ledger_counts reads them */
static void
test_ledger_counts(const char *dir)
{
    char path[256], full[1024];
    struct store *st;
    struct store_counts c;
    struct err e;
    sqlite3 *db;

    snprintf(path, sizeof path, "%s/counts.db", dir);
    err_clear(&e);
    st = store_open(path, STORE_OPEN_CREATE, NULL, &e);
    TH_CHECK(st != NULL, "counts: created (%s)", e.msg);
    if (st == NULL)
        return;
    sqlite3_open(path, &db);
    sqlite3_exec(
        db,
        "INSERT INTO campaigns(id, name, template, created_at) VALUES "
        "(1, 'one', 't', 0), (2, 'two', 't', 0);"
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k "
        "  WHERE i < 50) "
        "INSERT INTO sends(campaign_id, contact_id, queued_at) "
        "SELECT 1, i, 0 FROM k UNION ALL SELECT 2, i, 0 FROM k;"
        "UPDATE sends SET state = 'sending', attempts = 1 "
        "  WHERE campaign_id = 1 AND contact_id <= 30;"
        "UPDATE sends SET state = 'sent' WHERE campaign_id = 1 "
        "  AND contact_id <= 20;"
        "UPDATE sends SET state = 'bounced', bounce_class = 'hard' "
        "  WHERE campaign_id = 1 AND contact_id <= 3;"
        "UPDATE sends SET state = 'bounced', bounce_class = 'soft' "
        "  WHERE campaign_id = 1 AND contact_id = 4;"
        "UPDATE sends SET state = 'uncertain', was_uncertain = 1 "
        "  WHERE campaign_id = 1 AND contact_id BETWEEN 21 AND 24;"
        "UPDATE sends SET was_uncertain = 2 "
        "  WHERE campaign_id = 1 AND contact_id = 21;"
        "UPDATE sends SET last_text = 'no change counted' "
        "  WHERE campaign_id = 1;"
        "DELETE FROM sends WHERE campaign_id = 1 AND contact_id = 50;",
        NULL, NULL, NULL);
    snprintf(full, sizeof full, "%s", counts(db, 0));
    TH_STREQ(counts(db, 1), full, "counts: kept equal a full count");
    TH_STREQ(full,
             "bounced/hard/0=3 bounced/soft/0=1 queued//0=19 sending//0=6 "
             "sent//0=16 uncertain//1=3 uncertain//2=1 ",
             "counts: the full count is what the changes made");
    TH_CHECK(store_ledger_counts(st, 1, &c, &e) == 0 && c.recipients == 49 &&
                 c.sent == 16 && c.bounced_hard == 3 && c.bounced_soft == 1 &&
                 c.queued == 19 && c.sending == 6 && c.uncertain == 4 &&
                 c.was_uncertain == 4 && c.uncertain_retry == 3,
             "counts: store_ledger_counts reads them (%ld recipients, %ld "
             "sent, %ld uncertain, %ld to retry)",
             c.recipients, c.sent, c.uncertain, c.uncertain_retry);
    TH_CHECK(store_ledger_counts(st, 2, &c, &e) == 0 && c.recipients == 50 &&
                 c.queued == 50,
             "counts: the other campaign's are its own");
    sqlite3_exec(
        db, "PRAGMA foreign_keys = ON; DELETE FROM campaigns WHERE id = 2;",
        NULL, NULL, NULL);
    TH_CHECK(store_ledger_counts(st, 2, &c, &e) == 0 && c.recipients == 0,
             "counts: a deleted campaign's go with it");
    sqlite3_close(db);
    store_close(st);
    unlink(path);
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
    test_suppressions(dir);
    test_cancel(dir);
    test_unbuildable(dir);
    test_ledger_counts(dir);
    unlink(a);
    unlink(b);
    snprintf(a, sizeof a, "%s/migrated.db-wal", dir);
    unlink(a);
    snprintf(a, sizeof a, "%s/migrated.db-shm", dir);
    unlink(a);
    rmdir(dir);
    return TH_DONE();
}
