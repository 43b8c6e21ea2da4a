/* SPDX-License-Identifier: ISC */
/*
 * store_int.h - what the store_*.c files share; not part of the store's
 * interface (store.h).  Nothing outside db/ includes it.
 *
 * The store is one connection (store.c: opening, pragmas, migrations,
 * transactions) and one file per family of tables, each with its own
 * statement table: store_contacts.c (imports, contacts, lists,
 * memberships, suppressions), store_ledger.c (campaigns and the send
 * ledger), store_events.c (opens, clicks, unsubscribes, views),
 * store_schedule.c (when campaigns go: schedules, daily counts, resends),
 * store_report.c (what `campaign report` asks of the ledger and events),
 * store_export.c (a campaign's recipients one a row, for the CSV).  A
 * family's statements take the slots from its STORE_SLOT_* on.
 */
#ifndef CAMPAIGN_STORE_INT_H
#define CAMPAIGN_STORE_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "../engine/buf.h"
#include "../engine/err.h"

enum {
    STORE_SLOT_CONTACTS = 0,
    STORE_SLOT_LEDGER = 40,
    STORE_SLOT_EVENTS = 88,
    STORE_SLOT_SCHEDULE = 128,
    STORE_SLOT_REPORT = 148,
    STORE_SLOT_EXPORT = 173,
    STORE_STMT_MAX = 183,
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[STORE_STMT_MAX];
    int version;
    char *salt;
    int legacy_hashes; /* meta 'legacy_hashes' (007_idna.sql) */
    int merged;        /* contact_merged has rows (007_idna.sql) */
    char *path;
    struct buf scratch;
    struct buf ids;        /* store_memberships_add: the ids as JSON */
    int import_checks_off; /* inside an import run: see store_import_begin */
    int readonly;          /* opened read-only (store.c, readonly_uri) */
};

/* The ledger states that are not final: a row still to be sent, being
 * sent, or to be tried again (003_ledger.sql, 006_history.sql,
 * 007_idna.sql), as an SQL list.  A forgotten or merged recipient's such
 * rows become skipped. */
#define STORE_SENDS_NOT_FINAL                                                  \
    "('queued', 'sending', 'deferred', 'uncertain', 'unbuildable', 'held')"

/* REASON_STATUS - the contact status a suppression's reason implies, of
 * the suppression whose hash is the parameter h (NULL when none). */
#define REASON_STATUS(h)                                                       \
    "(SELECT CASE reason WHEN 'unsubscribed' THEN 'unsubscribed' "             \
    "  WHEN 'bounced' THEN 'bounced' WHEN 'complained' THEN 'complained' "     \
    "  ELSE 'suppressed' END FROM suppressions WHERE hash = " h ")"

/* REASON_RANK - how strong a suppression's reason is (the SQL expression
 * r): a later suppression of a stronger reason replaces a weaker one, so
 * that a person who bounced and then complained or unsubscribed is kept
 * for that, which `suppress lift --reason bounced` does not lift; a
 * forgotten person's hash is never rewritten. */
#define REASON_RANK(r)                                                         \
    "(CASE " r " WHEN 'bounced' THEN 1 WHEN 'manual' THEN 2 "                  \
    "  WHEN 'unsubscribed' THEN 3 WHEN 'complained' THEN 4 "                   \
    "  WHEN 'forgotten' THEN 5 ELSE 0 END)"

/* CONTACT_RANK - the rank (REASON_RANK) of a contact's status: active
 * 0, suppressed as manual */
#define CONTACT_RANK                                                           \
    REASON_RANK("CASE status WHEN 'active' THEN '' WHEN 'suppressed' "         \
                "THEN 'manual' ELSE status END")

/* store_read_salt - the hash salt from meta, malloc'd into *out (store.c
 * keeps it in st after the migrations; migration 007 needs it during). */
int store_read_salt(struct store *st, char **out, struct err *e);

/* store_fail - fill e from the connection's last error; returns -1. */
int store_fail(struct store *st, struct err *e, const char *what);

/* The freeze in chunks (db/migrations/013_freeze_chunks.sql), as SQL:
 * STORE_FREEZE_LATER(m, k) - membership m is one campaign k's freeze
 * under way has yet to add (a member when k started, after its cursor);
 * STORE_UNFROZEN(id) - how many members campaign id's freeze under way
 * has yet to add (the members counted when it started less the ledger's
 * rows, as 012_ledger_counts keeps them), 0 once it is complete. */
#define STORE_FREEZE_LATER(m, k)                                               \
    m ".list_id = " k ".list_id AND " k ".freeze_after IS NOT NULL "           \
      "AND " m ".contact_id > " k ".freeze_after "                             \
      "AND " m ".gen <= " k ".freeze_gen"
#define STORE_UNFROZEN(id)                                                     \
    "COALESCE((SELECT max(recipients - (SELECT COALESCE(sum(n), 0) "           \
    "FROM ledger_counts WHERE campaign_id = " id "), 0) FROM campaigns "       \
    "WHERE id = " id " AND freeze_after IS NOT NULL), 0)"
/* store_busy_default - the connection's busy timeout back to the store's
 * (after a caller that would rather not wait) */
void store_busy_default(struct store *st);
/* store_stmt - statement slot id (its SQL text sql), prepared on first use
 * with SQLITE_PREPARE_PERSISTENT, else reset with bindings cleared. */
sqlite3_stmt *store_stmt(struct store *st, int id, const char *sql,
                         struct err *e);
/* store_stmt_done - step a statement that returns no rows, then reset. */
int store_stmt_done(struct store *st, sqlite3_stmt *s, struct err *e,
                    const char *what);
/* store_import_checks - CHECK constraints off (0) or back on (1); see
 * store_import_begin. */
int store_import_checks(struct store *st, int on, struct err *e);
/* store_member_rows - run s (its parameters bound; NULL: prepare failed),
 * whose rows are (id, email, attrs, status): cb for each until it returns
 * non-zero.  0 when all were seen, 1 when cb stopped, -1 (what failed in
 * the message). */
int store_member_rows(struct store *st, sqlite3_stmt *s, store_member_cb cb,
                      void *arg, const char *what, struct err *e);
/* store_reply_rows - run s (its parameters bound), whose rows are (state,
 * bounce_class, code, status, text, count, email): cb for each reply
 * until it returns non-zero; 0, or -1 (what failed in the message). */
int store_reply_rows(struct store *st, sqlite3_stmt *s, store_reply_cb cb,
                     void *arg, const char *what, struct err *e);
/* store_find_id - run a one-column id lookup s (NULL: prepare failed) by
 * the text key; 1 and *out when found, 0 when not, -1. */
int store_find_id(struct store *st, sqlite3_stmt *s, const char *key,
                  int64_t *out, struct err *e);

/* store_tombstone - a new tombstone id (006_history.sql: -1, -2, ...,
 * never reused) into *tomb, for the ledger rows and events of a person
 * who is no longer a contact of their own. */
int store_tombstone(struct store *st, int64_t *tomb, struct err *e);

/* store_idna_migrate - the C step of migration 007 (store_idna.c), run
 * inside its transaction: every address to the canonical form of
 * engine/email.h, contacts that are one person merged, suppressions
 * re-keyed.  *rewritten and *merged count what changed. */
int store_idna_migrate(struct store *st, long *rewritten, long *merged,
                       struct err *e);

/* STORE_SENDS_REPLIED - the ledger rows (alias s) not delivered (nor
 * being sent) with a reply on record: the condition of the partial index
 * sends_replied (014_report_groups.sql), written as the index writes it
 * so that SQLite uses it (a walk of those rows, not of the campaign). */
#define STORE_SENDS_REPLIED                                                    \
    "s.state <> 'sent' AND s.state <> 'sending' AND s.last_text IS NOT NULL "

#endif
