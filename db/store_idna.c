/* SPDX-License-Identifier: ISC */
/*
 * store_idna.c - the C step of migration 007_idna (store_int.h): one
 * identity per address in a database made by an older release.
 *
 * Releases before IDNA2008 lower-cased ASCII only, so one person could be
 * two contacts ("hans@bücher.de" and "hans@xn--bcher-kva.de", or
 * "user@bÜcher.de") and a suppression could be keyed by the hash of a
 * form that the import no longer produces.  Run inside the migration's
 * transaction, after its SQL, this rewrites every address that may not be
 * canonical (a non-ASCII byte, or a label that starts "xn--": ASCII-only
 * rows are filtered out by SQL, not visited one by one) to the canonical
 * form of engine/email.h:
 *
 *  - suppressions with an address are re-keyed (hash of the canonical
 *    form); two that are one person become one (store_suppression_rekey:
 *    the stronger reason, the earlier time).  Hash-only rows (a forgotten
 *    person) cannot be rewritten: the look-ups also try the hash of the
 *    A-label form (email_alabel_form) for them.
 *  - a contact whose canonical form no other contact has gets it; two or
 *    more that are one person are merged into the one with the lowest id
 *    (merge() says how).
 *  - a contact still active whose canonical address is suppressed takes
 *    the status the reason implies, as an import would give it.
 *
 * An address the new rules refuse (a@☃.com) is kept as it is, with one
 * warning line: the send side holds such a recipient.  Nothing here
 * assumes that a step ran before: a failure rolls the whole migration
 * back.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/digest.h"
#include "../engine/email.h"
#include "../engine/log.h"
#include "../engine/xalloc.h"
#include "store.h"
#include "store_int.h"

/* the rows that may not be canonical: a byte outside printable ASCII, or
 * a label that starts "xn--" */
#define IDNA_SUSPECT(col)                                                      \
    "(" col " GLOB '*[^ -~]*' OR " col " GLOB '*[@.][xX][nN]--*')"

/* SEND_RANK - which of two rows of one person in one campaign the person
 * keeps: a final row (2: the person was mailed, or bounced) over one in
 * doubt (1: sending or uncertain, which may have been delivered and is
 * retried with its own Message-ID) over one still to be sent (0) */
#define SEND_RANK(col)                                                         \
    "(CASE WHEN " col " NOT IN " STORE_SENDS_NOT_FINAL " THEN 2 "              \
    "  WHEN " col " IN ('sending', 'uncertain') THEN 1 ELSE 0 END)"

/* the status the suppression of hash ?2 implies (store_int.h) */
#define STATUS_OF_HASH2 REASON_STATUS("?2")

enum mig_stmt {
    M_CONTACTS,
    M_SUPPRESSIONS,
    M_FIND,
    M_SET_EMAIL,
    M_MERGE_ROW,
    M_MEMBERS,
    M_SENDS_OF,
    M_SEND_MOVE,
    M_SEND_BURY,
    M_EVENTS,
    M_DELETE,
    M_MERGED,
    M_MERGED_CHAIN,
    M_STATUS,
    M_END
};

static const char *const mig_sql[M_END] = {
    [M_CONTACTS] = "SELECT id, email FROM contacts "
                   "WHERE " IDNA_SUSPECT("email") " ORDER BY id",
    [M_SUPPRESSIONS] = "SELECT hash, email FROM suppressions "
                       "WHERE email IS NOT NULL AND " IDNA_SUSPECT("email"),
    [M_FIND] = "SELECT id FROM contacts WHERE email = ?1",
    [M_SET_EMAIL] = "UPDATE contacts SET email = ?2 WHERE id = ?1",
    /* survivor ?1 takes from both rows: the strongest status (a
     * suppressed one wins), the attributes of the one updated last (the
     * survivor's on a tie), the earliest creation, the latest update and
     * import */
    [M_MERGE_ROW] =
        "UPDATE contacts SET "
        "  status = (SELECT status FROM contacts WHERE id IN (?1, ?2) "
        "    ORDER BY CASE status WHEN 'complained' THEN 0 "
        "      WHEN 'unsubscribed' THEN 1 WHEN 'bounced' THEN 2 "
        "      WHEN 'suppressed' THEN 3 ELSE 4 END, id LIMIT 1), "
        "  attrs = (SELECT attrs FROM contacts WHERE id IN (?1, ?2) "
        "    ORDER BY updated_at DESC, id LIMIT 1), "
        "  created_at = (SELECT min(created_at) FROM contacts "
        "    WHERE id IN (?1, ?2)), "
        "  updated_at = (SELECT max(updated_at) FROM contacts "
        "    WHERE id IN (?1, ?2)), "
        "  seen_run = (SELECT max(seen_run) FROM contacts "
        "    WHERE id IN (?1, ?2)) "
        "WHERE id = ?1",
    /* the loser's (?2) lists, the earlier membership time kept */
    [M_MEMBERS] =
        "INSERT INTO memberships(list_id, contact_id, added_at) "
        "SELECT list_id, ?1, added_at FROM memberships WHERE contact_id = ?2 "
        "ON CONFLICT DO UPDATE SET added_at = min(added_at, excluded.added_at)",
    /* the loser's (?1) ledger rows, each with whether it is final and
     * whether the survivor (?2) has a row in that campaign, and if so
     * whether that one is final */
    /* each row of the loser (?1): its campaign, its rank, whether the
     * survivor (?2) has a row there, and that one's rank (see ledger) */
    [M_SENDS_OF] = "SELECT l.campaign_id, " SEND_RANK(
        "l.state") ", "
                   "  s.contact_id IS NOT NULL, "
                   "  coalesce(" SEND_RANK(
                       "s.state") ", 0) "
                                  "FROM sends l LEFT JOIN sends s "
                                  "  ON s.campaign_id = l.campaign_id AND "
                                  "s.contact_id = ?2 "
                                  "WHERE l.campaign_id IN (SELECT id FROM "
                                  "campaigns) "
                                  "  AND l.contact_id = ?1",
    [M_SEND_MOVE] = "UPDATE sends SET contact_id = ?3 "
                    "WHERE campaign_id = ?1 AND contact_id = ?2",
    /* a duplicate's row under a tombstone: counted as before; one still
     * to be sent is skipped, as the person has the other row */
    [M_SEND_BURY] =
        "UPDATE sends SET contact_id = ?3, "
        "  last_text = CASE WHEN state IN " STORE_SENDS_NOT_FINAL
        "    THEN 'skipped: merged duplicate' ELSE last_text END, "
        "  done_at = CASE WHEN state IN " STORE_SENDS_NOT_FINAL
        "    THEN ?4 ELSE done_at END, "
        "  next_attempt_at = CASE WHEN state IN " STORE_SENDS_NOT_FINAL
        "    THEN NULL ELSE next_attempt_at END, "
        "  state = CASE WHEN state IN " STORE_SENDS_NOT_FINAL
        "    THEN 'skipped' ELSE state END "
        "WHERE campaign_id = ?1 AND contact_id = ?2",
    [M_EVENTS] = "UPDATE events SET contact_id = ?2 WHERE contact_id = ?1",
    [M_DELETE] = "DELETE FROM contacts WHERE id = ?1",
    /* the loser's links (and those of contacts merged into it) lead to
     * the survivor (007_idna.sql, contact_merged) */
    [M_MERGED] = "INSERT INTO contact_merged(old_id, into_id) "
                 "VALUES (?1, ?2) ON CONFLICT(old_id) DO UPDATE SET "
                 "into_id = excluded.into_id",
    [M_MERGED_CHAIN] = "UPDATE contact_merged SET into_id = ?2 "
                       "WHERE into_id = ?1",
    /* as S_CONTACT_INSERT maps a suppression's reason to a status */
    [M_STATUS] = "UPDATE contacts SET status = " STATUS_OF_HASH2
                 " WHERE email = ?1 AND status = 'active' "
                 "  AND EXISTS (SELECT 1 FROM suppressions WHERE hash = ?2)",
};

struct mig {
    struct store *st;
    sqlite3 *db;
    sqlite3_stmt *s[M_END];
    char *salt;
    int64_t now;
    char **touched; /* canonical addresses whose contact status to check */
    size_t ntouched, cap;
    long rewritten, merged;
};

/* prep - statement id of this run, prepared once, reset. */
static sqlite3_stmt *
prep(struct mig *m, enum mig_stmt id, struct err *e)
{
    if (m->s[id] == NULL) {
        if (sqlite3_prepare_v2(m->db, mig_sql[id], -1, &m->s[id], NULL) !=
            SQLITE_OK) {
            store_fail(m->st, e, "prepare (migration 007)");
            return NULL;
        }
    } else {
        sqlite3_reset(m->s[id]);
        sqlite3_clear_bindings(m->s[id]);
    }
    return m->s[id];
}

/* run - a statement of this run with two integer parameters (and a
 * third and fourth when not 0), to its end. */
static int
run(struct mig *m, enum mig_stmt id, int64_t a, int64_t b, int64_t c, int64_t d,
    struct err *e)
{
    sqlite3_stmt *s = prep(m, id, e);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    if (c != 0)
        sqlite3_bind_int64(s, 3, c);
    if (d != 0)
        sqlite3_bind_int64(s, 4, d);
    return store_stmt_done(m->st, s, e, "migrate addresses (007)");
}

/* touch - remember a canonical address whose status to check. */
static void
touch(struct mig *m, const char *email)
{
    if (m->ntouched == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->touched = xreallocarray(m->touched, m->cap, sizeof *m->touched);
    }
    m->touched[m->ntouched++] = xstrdup(email);
}

/* refused - the one warning line for an address the rules refuse. */
static void
refused(const char *what, const char *email, const char *why)
{
    char pr[EMAIL_MAX + 40];

    log_warnx("%s <%s> kept as it is, not valid under IDNA2008: %s", what,
              log_printable(pr, sizeof pr, email, strlen(email)), why);
}

/* suppressions - re-key each suppression with an address that may not be
 * canonical. */
static int
suppressions(struct mig *m, struct err *e)
{
    sqlite3_stmt *s = prep(m, M_SUPPRESSIONS, e);
    struct row {
        uint8_t hash[DIGEST_LEN];
        char *email;
    } *rows = NULL;
    size_t n = 0, cap = 0;
    int rc, ret = -1;

    if (s == NULL)
        return -1;
    /* read first: the loop below writes the table */
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 0) != DIGEST_LEN)
            continue; /* not one of ours: leave it */
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            rows = xreallocarray(rows, cap, sizeof *rows);
        }
        memcpy(rows[n].hash, sqlite3_column_blob(s, 0), DIGEST_LEN);
        rows[n].email = xstrdup((const char *)sqlite3_column_text(s, 1));
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        store_fail(m->st, e, "read suppressions (007)");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char canon[EMAIL_MAX + 1];
        uint8_t hash[DIGEST_LEN];
        const char *why;

        if (email_normalize(rows[i].email, strlen(rows[i].email), canon,
                            &why) == -1) {
            refused("suppression", rows[i].email, why);
            continue;
        }
        if (strcmp(canon, rows[i].email) == 0)
            continue;
        digest_email(m->salt, canon, hash);
        rc = store_suppression_rekey(m->st, rows[i].hash, hash, canon, e);
        if (rc == -1)
            goto out;
        if (rc == 1)
            m->rewritten++;
        else if (rc == 2)
            m->merged++;
        touch(m, canon);
    }
    ret = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(rows[i].email);
    free(rows);
    return ret;
}

/* ledger - the loser's ledger rows to the survivor; where the survivor has
 * a row in the same campaign, one of the two goes to a tombstone (a
 * duplicate still to be sent is skipped there).  The survivor keeps the
 * loser's row when it ranks higher (SEND_RANK): mailed, or perhaps mailed,
 * through the duplicate, the person must not be mailed again. */
static int
ledger(struct mig *m, int64_t survivor, int64_t loser, struct err *e)
{
    sqlite3_stmt *s = prep(m, M_SENDS_OF, e);
    struct send {
        int64_t campaign;
        int loser_rank, both, survivor_rank;
    } *rows = NULL;
    size_t n = 0, cap = 0;
    int64_t tomb = 0;
    int rc, ret = -1;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, loser);
    sqlite3_bind_int64(s, 2, survivor);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            rows = xreallocarray(rows, cap, sizeof *rows);
        }
        rows[n].campaign = sqlite3_column_int64(s, 0);
        rows[n].loser_rank = sqlite3_column_int(s, 1);
        rows[n].both = sqlite3_column_int(s, 2);
        rows[n].survivor_rank = sqlite3_column_int(s, 3);
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        store_fail(m->st, e, "read the ledger (007)");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t k = rows[i].campaign;

        if (!rows[i].both) {
            if (run(m, M_SEND_MOVE, k, loser, survivor, 0, e) == -1)
                goto out;
            continue;
        }
        if (tomb == 0 && store_tombstone(m->st, &tomb, e) == -1)
            goto out;
        if (rows[i].loser_rank > rows[i].survivor_rank) {
            if (run(m, M_SEND_BURY, k, survivor, tomb, m->now, e) == -1 ||
                run(m, M_SEND_MOVE, k, loser, survivor, 0, e) == -1)
                goto out;
        } else if (run(m, M_SEND_BURY, k, loser, tomb, m->now, e) == -1) {
            goto out;
        }
    }
    ret = 0;
out:
    free(rows);
    return ret;
}

/*
 * merge - contact loser is the same person as survivor (a lower id):
 * survivor takes the strongest status (complained > unsubscribed >
 * bounced > suppressed > active), the attributes of the one updated last,
 * the earliest creation time, every list of both, the loser's ledger rows
 * (ledger()) and events; the loser is deleted.
 */
static int
merge(struct mig *m, int64_t survivor, int64_t loser, struct err *e)
{
    if (run(m, M_MERGE_ROW, survivor, loser, 0, 0, e) == -1 ||
        run(m, M_MEMBERS, survivor, loser, 0, 0, e) == -1 ||
        ledger(m, survivor, loser, e) == -1 ||
        run(m, M_EVENTS, loser, survivor, 0, 0, e) == -1 ||
        run(m, M_DELETE, loser, 0, 0, 0, e) == -1 ||
        run(m, M_MERGED_CHAIN, loser, survivor, 0, 0, e) == -1 ||
        run(m, M_MERGED, loser, survivor, 0, 0, e) == -1)
        return -1;
    m->merged++;
    return 0;
}

/* contact - one contact whose address may not be canonical. */
static int
contact(struct mig *m, int64_t id, const char *email, struct err *e)
{
    char canon[EMAIL_MAX + 1];
    const char *why;
    sqlite3_stmt *s;
    int64_t other;
    int rc;

    if (email_normalize(email, strlen(email), canon, &why) == -1) {
        refused("contact", email, why);
        return 0;
    }
    touch(m, canon);
    if (strcmp(canon, email) == 0)
        return 0;
    if ((s = prep(m, M_FIND, e)) == NULL)
        return -1;
    if ((rc = store_find_id(m->st, s, canon, &other, e)) == -1)
        return -1;
    if (rc == 0 || other == id) {
        if ((s = prep(m, M_SET_EMAIL, e)) == NULL)
            return -1;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_text(s, 2, canon, -1, SQLITE_STATIC);
        if (store_stmt_done(m->st, s, e, "rewrite an address (007)") == -1)
            return -1;
        if (sqlite3_changes(m->db) > 0)
            m->rewritten++;
        return 0;
    }
    /* one person twice: the lower id stays, with the canonical address */
    if (merge(m, id < other ? id : other, id < other ? other : id, e) == -1)
        return -1;
    if (id < other) {
        if ((s = prep(m, M_SET_EMAIL, e)) == NULL)
            return -1;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_text(s, 2, canon, -1, SQLITE_STATIC);
        if (store_stmt_done(m->st, s, e, "rewrite an address (007)") == -1)
            return -1;
    }
    return 0;
}

/* contacts - every contact whose address may not be canonical, in id
 * order (read first: the loop writes the table). */
static int
contacts(struct mig *m, struct err *e)
{
    sqlite3_stmt *s = prep(m, M_CONTACTS, e);
    struct row {
        int64_t id;
        char *email;
    } *rows = NULL;
    size_t n = 0, cap = 0;
    int rc, ret = -1;

    if (s == NULL)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            rows = xreallocarray(rows, cap, sizeof *rows);
        }
        rows[n].id = sqlite3_column_int64(s, 0);
        rows[n].email = xstrdup((const char *)sqlite3_column_text(s, 1));
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        store_fail(m->st, e, "read contacts (007)");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (contact(m, rows[i].id, rows[i].email, e) == -1)
            goto out;
    ret = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(rows[i].email);
    free(rows);
    return ret;
}

/* status_of - an active contact with a suppressed canonical address (by
 * its hash, or the hash of its A-label form) takes the status the reason
 * implies. */
static int
status_of(struct mig *m, const char *email, struct err *e)
{
    char alabel[EMAIL_MAX + 1];
    uint8_t hash[DIGEST_LEN];
    sqlite3_stmt *s;
    int legacy = email_alabel_form(email, alabel);

    for (int i = 0; i <= legacy; i++) {
        digest_email(m->salt, i == 0 ? email : alabel, hash);
        if ((s = prep(m, M_STATUS, e)) == NULL)
            return -1;
        sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, hash, DIGEST_LEN, SQLITE_STATIC);
        if (store_stmt_done(m->st, s, e, "contact status (007)") == -1)
            return -1;
    }
    return 0;
}

int
store_idna_migrate(struct store *st, long *rewritten, long *merged,
                   struct err *e)
{
    struct mig m;
    int ret = -1;

    memset(&m, 0, sizeof m);
    m.st = st;
    m.db = st->db;
    m.now = (int64_t)time(NULL);
    if (store_read_salt(st, &m.salt, e) == -1 || suppressions(&m, e) == -1 ||
        contacts(&m, e) == -1)
        goto out;
    for (size_t i = 0; i < m.ntouched; i++)
        if (status_of(&m, m.touched[i], e) == -1)
            goto out;
    *rewritten = m.rewritten;
    *merged = m.merged;
    ret = 0;
out:
    for (int i = 0; i < M_END; i++)
        sqlite3_finalize(m.s[i]);
    for (size_t i = 0; i < m.ntouched; i++)
        free(m.touched[i]);
    free(m.touched);
    free(m.salt);
    return ret;
}
