/* SPDX-License-Identifier: ISC */
/*
 * store.h - the database: the only module that speaks SQL.
 *
 * Owns the SQLite connection, its pragmas (WAL, synchronous=FULL, foreign
 * keys, busy timeout), the schema migrations embedded from db/migrations/,
 * and every SQL statement of the program, each prepared once on first use
 * and run with bound parameters.  Write transactions are BEGIN IMMEDIATE.
 *
 * Does not own: validation (engine/email.c), hashing (engine/digest.c),
 * formatting (cmd/).  Strings returned through callbacks point into SQLite
 * memory and are valid only during the callback.
 */
#ifndef CAMPAIGN_STORE_H
#define CAMPAIGN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/err.h"

struct store;

enum store_open_mode {
    STORE_OPEN_EXISTING, /* the file must exist (any command but init) */
    STORE_OPEN_CREATE,   /* create it if missing (init) */
};

/*
 * store_open - open the database at path and migrate it to the newest
 * schema this binary knows.  Errors: EX_NOINPUT (no such database),
 * EX_CANTCREAT, EX_DATAERR (not a campaign database, or a newer schema),
 * EX_TEMPFAIL (locked).  *created is set to 1 when a new file was made.
 */
struct store *store_open(const char *path, enum store_open_mode mode,
                         int *created, struct err *e);
/* store_close - close; store_close(NULL) is a no-op. */
void store_close(struct store *st);
/* store_cache - this connection's page cache at most kib KiB (an import
 * wants a large one, a send's second connection a small one), releasing
 * what it holds above that. */
int store_cache(struct store *st, int kib, struct err *e);
/* store_lean - as store_cache, and the temporary tables and sorts of
 * aggregates in files (SQLite's, deleted when closed) once they outgrow
 * that cache, instead of in memory: a reader's memory then stays the
 * same whatever the size of what it aggregates. */
int store_lean(struct store *st, int kib, struct err *e);
/* store_schema_version - the schema version now in force. */
int store_schema_version(struct store *st);
/* store_latest_version - the newest schema version this binary carries. */
int store_latest_version(void);

/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int store_begin(struct store *st, struct err *e);
int store_commit(struct store *st, struct err *e);
void store_rollback(struct store *st);

/* store_autocheckpoint - a commit that leaves the WAL over pages pages
 * copies it back into the database (SQLite's default 1000); 0: never,
 * another connection checkpoints (store_checkpoint). */
int store_autocheckpoint(struct store *st, int pages, struct err *e);

/* store_durable - commits synced to disk before they return (1, the
 * default: synchronous=FULL) or only written (0: synchronous=NORMAL,
 * which in WAL mode survives a crash of the process but may lose the
 * last commits to a power cut). */
int store_durable(struct store *st, int full, struct err *e);

/* store_contact_current - the contact that id stands for now: id, or,
 * when no contact has it and migration 007 merged it into another, that
 * one (links in mail sent before the merge carry the old id). */
int store_contact_current(struct store *st, int64_t id, int64_t *out,
                          struct err *e);
/* store_legacy_hashes - whether an older release left hash-only
 * suppressions (erased people), which may be the hash of an address's
 * A-label form (email.h email_alabel_form): then a bulk look-up tries
 * that form too.  0 for a database made by this release. */
int store_legacy_hashes(const struct store *st);
/* store_hash_salt - the per-database salt (hex), owned by st. */
const char *store_hash_salt(struct store *st);

/* ---- import runs and contacts ---- */

/*
 * An import run sees each row of a file once: store_contact_insert adds
 * the address if it is new (the common case, one index probe); if it
 * exists, store_contact_find reads it, the caller merges, and
 * store_contact_touch records the result with the run's bookkeeping.
 * store_import_settle ends the run: a contact whose changes were undone
 * by a later row of the same file gets its old update time back, and the
 * number of contacts really changed is returned.  From store_import_begin to
 * store_import_end (or store_rollback) the connection skips the schema's
 * CHECK constraints, which the run's own writes satisfy by construction
 * (store.c explains what they cost): in between, use the connection only
 * for the run (contacts, memberships, suppressions of the file).
 */
struct store_found {
    int64_t id;
    const char *attrs; /* valid until the next store call */
    int64_t updated_at;
    int same_run;   /* this run already saw the contact */
    int new_in_run; /* ... and created it */
    int has_prev;   /* ... and changed it (prev_* kept) */
};

struct store_touch {
    int64_t id;
    const char *attrs; /* the merged attributes */
    int64_t updated_at;
    const char *prev_attrs; /* pre-run attributes, or NULL */
    int64_t prev_updated;
    int keep_prev; /* leave prev_* as they are */
    int64_t run;
    int new_in_run;
};

int store_import_begin(struct store *st, const char *file, int64_t list_id,
                       int64_t now, int64_t *run, struct err *e);
int store_import_end(struct store *st, int64_t run, long imported, long updated,
                     long unchanged, long rejected, struct err *e);
/* store_contact_find - 1 and *f filled, 0 if no such contact, -1. */
int store_contact_find(struct store *st, const char *email, int64_t run,
                       struct store_found *f, struct err *e);
/* store_contact_insert - add email as a new contact unless it exists:
 * 1 with *id set when added, 0 when the address is already a contact
 * (nothing is written), -1 on error.  A new contact's status comes from
 * the suppression list (hash, or else legacy: the hash of the address's
 * A-label form, which an older release may have suppressed; NULL when
 * the address has none): an import never lifts a suppression. */
int store_contact_insert(struct store *st, const char *email, const char *attrs,
                         const uint8_t hash[32], const uint8_t *legacy,
                         int64_t now, int64_t run, int64_t *id, struct err *e);
int store_contact_touch(struct store *st, const struct store_touch *t,
                        struct err *e);
/* store_import_settle - see above; *changed is the count of contacts of
 * this run that existed before and now differ. */
int store_import_settle(struct store *st, int64_t run, long *changed,
                        struct err *e);

/* store_list_ensure - id of list name, created at now if missing. */
int store_list_ensure(struct store *st, const char *name, int64_t now,
                      int64_t *id, struct err *e);
/* store_memberships_add - add the n contacts of ids to list list_id (at
 * now); those already members are left as they are. */
int store_memberships_add(struct store *st, int64_t list_id, const int64_t *ids,
                          size_t n, int64_t now, struct err *e);

struct store_list_row {
    const char *name;
    int64_t created_at;
    long members;
    long active;
};
typedef int (*store_list_cb)(const struct store_list_row *row, void *arg);
int store_lists(struct store *st, store_list_cb cb, void *arg, struct err *e);

struct store_contact {
    int64_t id;
    const char *email;
    const char *attrs;
    const char *status;
    int64_t created_at;
    int64_t updated_at;
    const char *last_import_file; /* NULL if never imported */
    int64_t last_import_at;
};
/*
 * store_contact_get - look up a contact by normalised email; returns 1 and
 * calls cb once when found, 0 when not found, -1 on error.
 */
typedef int (*store_contact_cb)(const struct store_contact *c, void *arg);
int store_contact_get(struct store *st, const char *email, store_contact_cb cb,
                      void *arg, struct err *e);
/* store_contact_get_id - the same by contact id. */
int store_contact_get_id(struct store *st, int64_t id, store_contact_cb cb,
                         void *arg, struct err *e);
/* store_contact_lists - cb(name) for each list the contact belongs to. */
typedef int (*store_name_cb)(const char *name, void *arg);
int store_contact_lists(struct store *st, int64_t contact_id, store_name_cb cb,
                        void *arg, struct err *e);
/*
 * store_contact_forget - delete the contact with this email (memberships
 * follow) and keep only the hash in the suppression list.  Its ledger
 * rows and events stay, under a new tombstone id and without the reply
 * text, Message-ID and IP (006_history.sql): past campaigns' counts do
 * not change; its rows still to be sent become skipped.  Returns 1 when
 * a contact or a suppression with that email existed, 0 otherwise.
 */
int store_contact_forget(struct store *st, const char *email,
                         const uint8_t hash[32], int64_t now, struct err *e);

/* ---- suppressions ---- */

struct store_suppression {
    const uint8_t *hash; /* 32 bytes */
    const char *email;   /* NULL once forgotten */
    const char *reason;
    const char *source;
    int64_t created_at;
    /* read only by store_suppressions: the relay's reply (code, status,
     * text) that bounced the person, NULL when none is recorded */
    const char *reply;
};

/*
 * store_suppress - add a suppression (reason: unsubscribed, bounced,
 * complained, manual) and mark the contact, if any, as not mailable.
 * An existing suppression is kept as it is.  Returns 1 when added, 0 when
 * the address was already suppressed, -1 on error.
 */
int store_suppress(struct store *st, const struct store_suppression *s,
                   struct err *e);
/* store_suppression_lift - remove the suppression of hash if its reason
 * is reason, and make the contact (email) mailable again if its status
 * came from it; 1 lifted, 0 when there was no such suppression. */
int store_suppression_lift(struct store *st, const uint8_t hash[32],
                           const char *email, const char *reason, int64_t now,
                           struct err *e);
/*
 * store_suppression_rekey - the suppression of hash from now has hash into
 * (the same person under the canonical form of the address, email.h),
 * its address email unless it had none (NULL: kept).  When into is
 * suppressed too, one row is kept: the stronger reason (complained >
 * unsubscribed > bounced > manual > forgotten) with its source, the
 * earlier time, and no address if either had none.  Returns 1 when
 * moved, 2 when merged, 0 when from is not suppressed, -1.
 */
int store_suppression_rekey(struct store *st, const uint8_t from[32],
                            const uint8_t into[32], const char *email,
                            struct err *e);
typedef int (*store_suppression_cb)(const struct store_suppression *s,
                                    void *arg);
/* store_suppression_get - when hash is suppressed, call cb once and return
 * 1; return 0 when not suppressed, -1 on error. */
int store_suppression_get(struct store *st, const uint8_t hash[32],
                          store_suppression_cb cb, void *arg, struct err *e);
/* store_suppressions - cb for every suppression, oldest first; of this
 * source and this reason when they are not NULL. */
int store_suppressions(struct store *st, const char *source, const char *reason,
                       store_suppression_cb cb, void *arg, struct err *e);

/* ---- lists, members and campaigns for sending ---- */

/* store_list_find - 1 and *id when the list exists, 0 when not. */
int store_list_find(struct store *st, const char *name, int64_t *id,
                    struct err *e);

struct store_member {
    int64_t id;
    const char *email;
    const char *attrs;
    const char *status; /* active, or why not mailable */
};
/* cb returns non-zero to stop. */
typedef int (*store_member_cb)(const struct store_member *m, void *arg);
/*
 * store_members - every member of the list in contact id order, streamed
 * (memory does not grow with the list).  Returns 0 when all were seen, 1
 * when cb stopped, -1 on error.  The callback must not write.
 */
int store_members(struct store *st, int64_t list_id, store_member_cb cb,
                  void *arg, struct err *e);
/* store_contact_first - the first active contact (for previews); 1 and cb
 * called, 0 when there is none. */
int store_contact_first(struct store *st, store_contact_cb cb, void *arg,
                        struct err *e);
/* store_contacts_smtputf8 - how many active contacts have a UTF-8 local
 * part (they need a relay with SMTPUTF8), and one of them into example. */
int store_contacts_smtputf8(struct store *st, long *n, char *example,
                            size_t len, struct err *e);
/* store_campaign_find - 1 and *id when a campaign has this name. */
int store_campaign_find(struct store *st, const char *name, int64_t *id,
                        struct err *e);
/* store_campaign_ensure - the campaign's id, recorded (as a draft) on
 * first use.  The caller holds a write transaction or accepts autocommit. */
int store_campaign_ensure(struct store *st, const char *name,
                          const char *template, int64_t list_id, int64_t now,
                          int64_t *id, struct err *e);

/* ---- the send ledger (003_ledger.sql explains the states) ---- */

struct store_campaign {
    int64_t id;
    const char *name, *template, *list, *status, *data, *control;
    const char *template_src;  /* the frozen template (tmpl.h), or NULL */
    const char *breaker;       /* why the circuit breaker paused it, or NULL */
    const char *sender_domain; /* 009_schedule: whose daily cap, or NULL */
    int64_t list_id, frozen_at, recipients, created_at, started_at, finished_at;
    int64_t scheduled_at; /* send --at (0: none) */
};
typedef int (*store_campaign_cb)(const struct store_campaign *c, void *arg);
/* store_campaign_get - 1 and cb called when it exists, 0 when not. */
int store_campaign_get(struct store *st, const char *name, store_campaign_cb cb,
                       void *arg, struct err *e);
/* store_campaign_get_id - the same by id. */
int store_campaign_get_id(struct store *st, int64_t id, store_campaign_cb cb,
                          void *arg, struct err *e);
/* store_campaign_template - freeze the campaign's template files (the
 * JSON of tmpl_frozen()); a template frozen before is kept. */
int store_campaign_template(struct store *st, int64_t id, const char *src,
                            struct err *e);
/* store_campaign_refreeze - replace the frozen template (a campaign
 * whose unbuildable recipients get today's fixed files); the caller
 * holds the transaction that queues them again. */
int store_campaign_refreeze(struct store *st, int64_t id, const char *src,
                            struct err *e);
/* store_campaign_thaw - forget the frozen template when nobody can have
 * received the message yet (no row sent or uncertain), so that the next
 * run freezes today's files; *thawed says whether it did. */
int store_campaign_thaw(struct store *st, int64_t id, int *thawed,
                        struct err *e);
/* store_campaign_names - cb(name) for every campaign, oldest first. */
int store_campaign_names(struct store *st, store_name_cb cb, void *arg,
                         struct err *e);
/* store_campaign_start - status sending, started_at and data kept; 1, or
 * 0 when a pause or a cancel came first (the status says which: the
 * request is not cleared), -1 on error. */
int store_campaign_start(struct store *st, int64_t id, int64_t now,
                         const char *data, struct err *e);
/* store_campaign_finish - set status (done, paused, cancelled, ...). */
int store_campaign_finish(struct store *st, int64_t id, const char *status,
                          int64_t now, struct err *e);
/* store_campaign_control - the pending request ("pause", "cancel", "")
 * into out. */
int store_campaign_control(struct store *st, int64_t id, char *out, size_t n,
                           struct err *e);
/* store_campaign_set_control - request control (NULL clears) and set
 * status (NULL keeps); 1 when the campaign exists, 0 when not. */
int store_campaign_set_control(struct store *st, const char *name,
                               const char *control, const char *status,
                               struct err *e);

/* store_ledger_freeze - start the campaign's freeze (in the transaction
 * that starts it): its recipients are the list's members now, and the
 * members added from now on are not (013_freeze_chunks.sql); none is in
 * the ledger yet: store_ledger_freeze_more adds them. */
int store_ledger_freeze(struct store *st, int64_t campaign, int64_t list_id,
                        int64_t now, struct err *e);
/* store_ledger_freeze_more - add the next n of those members (in contact
 * order) not yet in the ledger: mailable ones queued, the others skipped.
 * *left 1 while members remain to freeze; 0 once the freeze is complete
 * (at once for a campaign that froze in one statement before 013). */
int store_ledger_freeze_more(struct store *st, int64_t campaign, int64_t now,
                             int n, int *left, struct err *e);
/* store_ledger_unfrozen - 1 when contact, not in the campaign's ledger, is
 * one of its recipients that the freeze under way has yet to add; 0 when
 * not (it joined the list after the campaign started), -1. */
int store_ledger_unfrozen(struct store *st, int64_t campaign, int64_t contact,
                          struct err *e);
/* store_ledger_cancel - `campaign cancel`: the campaign's rows left to
 * send (queued, deferred, unbuildable, held, uncertain still owed their
 * retry) become cancelled; rows sending are left to the send that claimed
 * them (its results cancel a row that would wait for another attempt,
 * once the campaign's control is "cancel").  *n is how many.  A freeze
 * under way ends: *unfrozen members were not frozen yet, and are no
 * longer among the campaign's recipients.  The caller holds the
 * transaction that also sets the control. */
int store_ledger_cancel(struct store *st, int64_t campaign, int64_t now,
                        long *n, long *unfrozen, struct err *e);
/* store_ledger_pending - the recipients left to send (queued, sending,
 * deferred, uncertain, unbuildable, held), then the members a freeze
 * under way has yet to add, as members, in contact id order, streamed;
 * returns as store_members. */
int store_ledger_pending(struct store *st, int64_t campaign, store_member_cb cb,
                         void *arg, struct err *e);
/* store_ledger_requeue_unbuildable - the rows whose message could not be
 * built, and those the client held, are queued again (a later send
 * retries them); *n is how many. */
int store_ledger_requeue_unbuildable(struct store *st, int64_t campaign,
                                     long *n, struct err *e);
/* store_ledger_recover - rows left "sending" by a crash become
 * "uncertain" (retried once); *n is how many. */
int store_ledger_recover(struct store *st, int64_t campaign, long *n,
                         struct err *e);

/* store_ledger_release_all - every row of the campaign still `sending` is
 * released (as store_ledger_release, with why): the crash journal says
 * none of them left.  *n is how many. */
int store_ledger_release_all(struct store *st, int64_t campaign,
                             const char *why, long *n, struct err *e);
/* store_ledger_replay - one crash-journal record (engine/journal.h) for a
 * row still `sending` at attempt: sent (its 250 was read; message_id
 * recorded), uncertain (its content went out, no reply), or queued again
 * (nobody got it; the claim undone).  1 when the row changed, 0 when it
 * was not `sending` at that attempt (the record is stale), -1. */
enum store_replay {
    STORE_REPLAY_SENT,
    STORE_REPLAY_UNCERTAIN,
    STORE_REPLAY_QUEUED,
};
int store_ledger_replay(struct store *st, int64_t campaign, int64_t contact,
                        int attempt, enum store_replay how,
                        const char *message_id, int64_t now, struct err *e);

enum store_claim {
    STORE_CLAIM_QUEUED,
    STORE_CLAIM_DEFERRED,  /* next_attempt_at <= now */
    STORE_CLAIM_UNCERTAIN, /* the one retry */
};
struct store_claim_row {
    int64_t contact_id;
    const char *email, *attrs, *status;
    int attempts;
    const char *message_id; /* the uncertain retry's: the Message-ID it was
                             * sent with (NULL for the others) */
};
typedef void (*store_claim_cb)(const struct store_claim_row *r, void *arg);
/* store_ledger_claim - up to limit candidate rows (cb for each; the
 * callback must not use the store); returns how many. */
int store_ledger_claim(struct store *st, int64_t campaign,
                       enum store_claim kind, int64_t now, int limit,
                       store_claim_cb cb, void *arg, struct err *e);
/* store_ledger_release - undo the claim of a row never handed to a
 * connection (the run stopped first): queued again (uncertain again if it
 * was owed its retry, keeping its last_text), its attempts as before the
 * claim; why becomes the last_text of the others - unless keep is set and
 * they have one (a relay's earlier reply says more than "not sent"); the
 * reply's code (0: none) and status go with why. */
int store_ledger_release(struct store *st, int64_t campaign, int64_t contact,
                         const char *why, int keep, int code,
                         const char *status, struct err *e);
/* store_ledger_mark_sending - the row is claimed (attempts + 1). */
int store_ledger_mark_sending(struct store *st, int64_t campaign,
                              int64_t contact, int64_t now, struct err *e);

struct store_result {
    int64_t campaign_id, contact_id;
    const char *state; /* the new state */
    int code;
    const char *status, *text, *bounce_class, *message_id, *relay;
    int64_t next_attempt_at, done_at;
};
int store_ledger_result(struct store *st, const struct store_result *r,
                        struct err *e);

struct store_counts {
    long recipients, queued, sending, sent, deferred, failed, skipped, expired,
        uncertain, bounced_hard, bounced_soft, blocked,
        cancelled,       /* left unsent by campaign cancel */
        unbuildable,     /* the message could not be built: retried later */
        held,            /* the client held it (SMTPUTF8, SIZE): retried */
        was_uncertain,   /* rows that were ever uncertain */
        uncertain_retry, /* uncertain rows still owed their one retry */
        unfrozen;        /* members not in the ledger yet (a freeze under
                            way): counted in recipients and queued too */
};
int store_ledger_counts(struct store *st, int64_t campaign,
                        struct store_counts *c, struct err *e);
/* store_ledger_next_due - the earliest deferred retry time, 0 if none. */
int store_ledger_next_due(struct store *st, int64_t campaign, int64_t *when,
                          struct err *e);
/* A recipient not delivered (or a group of them) and the last reply. */
struct store_reply {
    const char *state;
    const char *bounce_class; /* NULL unless bounced */
    int code;                 /* 0: no reply (a connection's failure) */
    const char *status;       /* NULL or "" when none */
    const char *text;
    long count;        /* recipients with this reply (1 one by one) */
    const char *email; /* the recipient (grouped: one of them); NULL once
                          forgotten */
};
typedef int (*store_reply_cb)(const struct store_reply *r, void *arg);
/* store_ledger_replies - cb for the campaign's recipients that were not
 * delivered and have a last reply: grouped by state and reply, the
 * largest group first (each == 0), or one by one in contact order; at
 * most limit (0: all).  Streams. */
int store_ledger_replies(struct store *st, int64_t campaign, int each,
                         long limit, store_reply_cb cb, void *arg,
                         struct err *e);

/* store_ledger_uncertain - cb(email, message_id, state) for every
 * recipient that was ever uncertain (its message may have arrived twice),
 * by address; a forgotten recipient's row last, with email and message_id
 * NULL. */
typedef int (*store_uncertain_cb)(const char *email, const char *message_id,
                                  const char *state, void *arg);
int store_ledger_uncertain(struct store *st, int64_t campaign,
                           store_uncertain_cb cb, void *arg, struct err *e);
/* store_contact_sends - cb for each campaign that had the contact as a
 * recipient, oldest first: its state and last SMTP reply (code 0 and
 * NULL texts when none); cb returns non-zero to stop. */
struct store_contact_send {
    const char *campaign, *state, *status, *text, *bounce_class;
    int attempts, code;
    int64_t done_at;
};
typedef int (*store_contact_send_cb)(const struct store_contact_send *r,
                                     void *arg);
int store_contact_sends(struct store *st, int64_t contact,
                        store_contact_send_cb cb, void *arg, struct err *e);
/* store_send_times - one ledger row's state, first attempt and end
 * (0 when not yet); 1 when the row exists, 0 when not. */
struct store_send_times {
    char state[16];
    int64_t first_attempt_at, done_at;
};
int store_send_times(struct store *st, int64_t campaign, int64_t contact,
                     struct store_send_times *t, struct err *e);
/* ---- events (004_events.sql): what `campaign serve` records ---- */

struct store_event {
    int64_t campaign_id, contact_id;
    const char *kind; /* "open", "click", "unsubscribe", "view", "bounce",
                         "delayed", "complaint" or "auto_reply" */
    const char *url;  /* the link of a click, else NULL */
    int64_t at_ms;    /* milliseconds since the epoch */
    int machine;      /* made by a machine (engine/machine.h) */
    const char *machine_reason; /* why, when machine */
    const char *ua_class;
    const char *ip; /* NULL unless [serve] store_ip */
    /* 008_bounces, for what comes back by mail; NULL/0 otherwise */
    const char *cls;    /* bounce: hard/soft/blocked; complaint: type */
    const char *status; /* enhanced status */
    int code;           /* reply code */
    const char *detail; /* diagnostic */
};
/* store_event_add - record ev if its contact is a recipient of its
 * campaign: 1 recorded, 0 not (nothing written), -1. */
int store_event_add(struct store *st, const struct store_event *ev,
                    struct err *e);
/* store_event_has - 1 when the contact has an event of this kind in the
 * campaign (made by a machine or not, as machine says; -1: either), 0
 * when not. */
int store_event_has(struct store *st, int64_t campaign, int64_t contact,
                    const char *kind, int machine, struct err *e);
/* store_event_other_clicks - *n: distinct links other than url that the
 * contact clicked in the campaign from since_ms on. */
int store_event_other_clicks(struct store *st, int64_t campaign,
                             int64_t contact, const char *url, int64_t since_ms,
                             long *n, struct err *e);
/*
 * store_events_fold - count the events recorded since the last fold into
 * what 014_report_groups keeps for `campaign report` (the people flags
 * of the ledger, the events by kind, hour, link and domain), a chunk of
 * at most STORE_FOLD_CHUNK events per write transaction of a few GROUP BY
 * statements, and record the last one counted (meta 'events_folded').
 * No trigger counts an event as it is recorded: at tens of thousands of
 * opens a second, `campaign serve`'s writer has no microsecond to spare,
 * and a batch costs less than the events one by one.  The readers of
 * those counts fold first (`report`).  0 when every event is counted; 1
 * when some are left (*pending: at most this many) because the database
 * is read-only or another process holds the write lock for longer than
 * STORE_FOLD_WAIT_MS (an import); -1 (e filled) on error.  Event ids
 * never go back (events are never deleted but with their campaign), so
 * an id at or below the mark is an event counted.
 */
#define STORE_FOLD_CHUNK 100000
#define STORE_FOLD_WAIT_MS 250
int store_events_fold(struct store *st, long *pending, struct err *e);
/* store_readonly - 1 when the database was opened read-only */
int store_readonly(const struct store *st);
/* store_event_flag_machine - mark the contact's clicks and opens in the
 * campaign from since_ms on as a machine's, for reason. */
int store_event_flag_machine(struct store *st, int64_t campaign,
                             int64_t contact, int64_t since_ms,
                             const char *reason, struct err *e);
struct store_event_counts {
    long opens, opened_unique, machine_opens, machine_opened_unique, clicks,
        clicked_unique, machine_clicks, unsubscribed, views;
    long complained, auto_replies, delayed; /* 008_bounces */
};
/* store_event_counts - the campaign's events, people's apart from
 * machines'. */
int store_event_counts(struct store *st, int64_t campaign,
                       struct store_event_counts *c, struct err *e);

/* ---- 008_bounces: what comes back by mail (engine/ingest.c) ---- */

struct store_inbound {
    const uint8_t *key; /* 32 bytes: the SHA-256 of the message's identity */
    int64_t at_ms;
    const char *kind;    /* engine/bounce.h's kind name */
    const char *outcome; /* "recorded", "unmatched", ... */
    int64_t campaign_id; /* 0 when not matched */
    int64_t contact_id;
};
/* store_inbound_seen - 1 when a message of this key was read before. */
int store_inbound_seen(struct store *st, const uint8_t key[32], struct err *e);
/* store_inbound_add - 1 recorded, 0 there already. */
int store_inbound_add(struct store *st, const struct store_inbound *in,
                      struct err *e);

struct store_row {
    int64_t campaign_id;
    const char *state;
    const char *message_id; /* NULL before the first attempt */
    int64_t at;             /* done_at, else first_attempt_at, else 0 */
};
typedef int (*store_row_cb)(const struct store_row *r, void *arg);
/* store_contact_rows - the contact's ledger rows, the newest campaign
 * first, until cb returns non-zero (returned). */
int store_contact_rows(struct store *st, int64_t contact, store_row_cb cb,
                       void *arg, struct err *e);

struct store_bounce {
    int64_t campaign_id, contact_id;
    const char *bounce_class; /* hard, soft, blocked */
    int code;                 /* 0: none */
    const char *status, *text;
    int64_t at;
};
/* store_ledger_bounce - a sent (or uncertain) row becomes bounced: 1
 * changed, 0 not (another state, or no row). */
int store_ledger_bounce(struct store *st, const struct store_bounce *b,
                        struct err *e);
/* store_soft_bounces - *n: the campaigns (except except, 0 for none) in
 * which the contact soft-bounced from since_ms on: by mail (events) or
 * during the session (ledger rows).  One a campaign: a message bounces
 * once, however many DSNs say so. */
int store_soft_bounces(struct store *st, int64_t contact, int64_t since_ms,
                       int64_t except, long *n, struct err *e);

struct store_breaker {
    long sent, hard, complaints;                /* now */
    long base_sent, base_hard, base_complaints; /* at the last resume */
    char status[16];
    char tripped[256]; /* why it paused the campaign, "" if it did not */
};
/* store_breaker_counts - 1 filled, 0 no such campaign. */
int store_breaker_counts(struct store *st, int64_t campaign,
                         struct store_breaker *b, struct err *e);
/* store_breaker_trip - pause a campaign that is not finished, cancelled
 * or paused, saying why: 1 paused, 0 not. */
int store_breaker_trip(struct store *st, int64_t campaign, const char *why,
                       struct err *e);
/* store_breaker_rebase - after a resume: the rates are measured from the
 * counts of now on (1), when the breaker had paused it (else 0). */
int store_breaker_rebase(struct store *st, int64_t campaign, struct err *e);

/* store_checkpoint - a passive WAL checkpoint (between batches). */
int store_checkpoint(struct store *st);
/* store_checkpoint_truncate - every page of the WAL copied into the
 * database and the WAL emptied (waits for other connections as long as
 * the busy timeout); -1 when another connection kept it from finishing.
 * After contacts forget: the WAL's old pages may hold what was erased. */
int store_checkpoint_truncate(struct store *st);

/* ---- when campaigns go (009_schedule.sql, store_schedule.c) ---- */

/* store_campaign_schedule - status scheduled at `at` (data kept when not
 * NULL); 1, or 0 when the campaign has started or is over. */
int store_campaign_schedule(struct store *st, int64_t id, int64_t at,
                            const char *data, struct err *e);
/* store_campaign_set_sender - the domain whose daily cap it counts on */
int store_campaign_set_sender(struct store *st, int64_t id, const char *domain,
                              struct err *e);
/* store_campaign_reschedule - `resume` of a scheduled campaign that has
 * not started: scheduled again, due now if its time passed; 1 and *at,
 * or 0 when it is not such a campaign. */
int store_campaign_reschedule(struct store *st, int64_t id, int64_t now,
                              int64_t *at, struct err *e);
/* a campaign as run-due and `campaigns` see it */
struct store_due {
    int64_t id;
    const char *name, *status, *sender_domain;
    int64_t scheduled_at, frozen_at, created_at, started_at, finished_at;
    long recipients;
    int queued;         /* rows to send now: queued, left sending by a
                           crash, or uncertain owed their retry */
    int64_t next_retry; /* the earliest deferred retry, 0: none */
};
typedef int (*store_due_cb)(const struct store_due *d, void *arg);
/* store_campaigns_due - cb for every campaign not over (all: every
 * campaign), oldest first; cb returns non-zero to stop. */
int store_campaigns_due(struct store *st, int all, store_due_cb cb, void *arg,
                        struct err *e);
/* store_daily_get / _add - messages a sending domain handed to relays on
 * a local day (schedule.h sched_day) */
int store_daily_get(struct store *st, const char *domain, int64_t day, long *n,
                    struct err *e);
int store_daily_add(struct store *st, const char *domain, int64_t day, long n,
                    struct err *e);
/* store_ledger_resend - the rows of the chosen states (STORE_RESEND_*)
 * back to queued, due now, attempts counted afresh; a finished campaign
 * is sending again.  Suppressions are honoured when the rows are claimed.
 * The caller holds the transaction. */
#define STORE_RESEND_DEFERRED 1
#define STORE_RESEND_FAILED 2
#define STORE_RESEND_UNCERTAIN 4
#define STORE_RESEND_EXPIRED 8
struct store_resent {
    long deferred, failed, uncertain, expired;
};
int store_ledger_resend(struct store *st, int64_t campaign, int which,
                        struct store_resent *n, struct err *e);
/* store_run_due_tick - when run-due last ran (meta run_due_at; 0: never)
 * into *prev, and now recorded: a schedule missed while run-due ran is
 * not one the machine slept through (cmd_cron.c) */
int store_run_due_tick(struct store *st, int64_t now, int64_t *prev,
                       struct err *e);
/* store_campaign_overdue - a schedule the machine slept through: status
 * overdue, which run-due does not start on its own (resume reschedules,
 * send and run-due --force start it) */
int store_campaign_overdue(struct store *st, int64_t id, struct err *e);
/* store_ledger_sendable - the campaign's rows a send could hand out at
 * now (deferred ones only when due) */
int store_ledger_sendable(struct store *st, int64_t campaign, int64_t now,
                          long *n, struct err *e);

/* ---- what `campaign report` asks (010_report.sql, store_report.c) ---- */

/* The people behind a campaign's rates (engine/report.h defines the
 * rates): delivered - ledger rows `sent` (the relay accepted the message
 * and no bounce came back since: a DSN moves the row to `bounced`);
 * bounced - rows `bounced`, of every class, refused during the session
 * or by a DSN later; then, among the delivered only, the people who
 * complained (not a machine's report), unsubscribed (by link or by
 * mail), opened (a person's open, not a proxy's or a scanner's) and
 * clicked (a person's click). */
struct store_rate_counts {
    long delivered, bounced;
    long complained, unsubscribed, opened, clicked;
};
/* store_report_counts - *c for the campaign, each an aggregate in SQL
 * (no row is read into memory). */
int store_report_counts(struct store *st, int64_t campaign,
                        struct store_rate_counts *c, struct err *e);

/* One row of a campaign's recipients counted by domain (the kept counts
 * of 014_report_groups.sql): n recipients of the domain alike in what
 * the report reads of them. */
#define STORE_PEOPLE_OPENED 1
#define STORE_PEOPLE_CLICKED 2
#define STORE_PEOPLE_UNSUBSCRIBED 4
#define STORE_PEOPLE_COMPLAINED 8
struct store_group_row {
    const char *domain;       /* "" once forgotten */
    const char *state;        /* the ledger state; "sending" reads "queued" */
    const char *bounce_class; /* NULL unless bounced */
    int coded;                /* failed or cancelled after a relay's reply */
    int retried;              /* attempted more than once */
    int uncertain;            /* was_uncertain > 0 */
    int people;               /* STORE_PEOPLE_* of each of them */
    long n;                   /* how many */
};
typedef int (*store_group_cb)(const struct store_group_row *g, void *arg);
/* store_report_groups - cb for each of the campaign's kept group rows
 * (none with n 0), a domain's together: as many rows as the campaign
 * has domains times the kinds of outcome, whatever its recipients.  The
 * strings are valid during the call only; non-zero stops (returned). */
int store_report_groups(struct store *st, int64_t campaign, store_group_cb cb,
                        void *arg, struct err *e);
typedef int (*store_domain_events_cb)(const char *domain, long opens,
                                      long clicks, void *arg);
/* store_report_domain_events - cb for each domain of the campaign's
 * recipients with people's opens and clicks ("" for the forgotten), as
 * 014_report_groups keeps them; non-zero stops (returned). */
int store_report_domain_events(struct store *st, int64_t campaign,
                               store_domain_events_cb cb, void *arg,
                               struct err *e);

/* store_report_bounce_status - cb for the campaign's bounced recipients
 * grouped by class and enhanced status (r->bounce_class, r->status: ""
 * when none, r->count), every group, the largest first. */
int store_report_bounce_status(struct store *st, int64_t campaign,
                               store_reply_cb cb, void *arg, struct err *e);
/* store_report_bounce_top - cb for the campaign's bounced recipients
 * grouped by class and last reply (code, status, text; one address of
 * each), the largest first, at most limit (0: all). */
int store_report_bounce_top(struct store *st, int64_t campaign, long limit,
                            store_reply_cb cb, void *arg, struct err *e);

/* store_event_time_cb - n opens (click 0) or clicks, by people or by
 * machines, within the hour that starts at at_ms */
typedef int (*store_event_time_cb)(int64_t at_ms, int click, int machine,
                                   long n, void *arg);
/* store_report_event_times - cb for the campaign's opens and clicks by
 * the hour (014_report_groups.sql keeps them so), one call per hour and
 * kind: as many as the hours with an event, whatever the events. */
int store_report_event_times(struct store *st, int64_t campaign,
                             store_event_time_cb cb, void *arg, struct err *e);
/* store_report_first_event - *at_ms: the start of the hour of the
 * campaign's first open or click; 1 when it has one, 0 when none (*at_ms
 * 0), -1 (e filled) on error. */
int store_report_first_event(struct store *st, int64_t campaign, int64_t *at_ms,
                             struct err *e);
typedef int (*store_link_cb)(const char *url, long clicks, long people,
                             void *arg);
/* store_report_links - cb for the links people clicked, with their
 * clicks and the people who clicked, the most clicked first, at most
 * limit (0: all): from the counts kept per link (014_report_groups.sql),
 * a walk of the campaign's links, not of its clicks. */
int store_report_links(struct store *st, int64_t campaign, long limit,
                       store_link_cb cb, void *arg, struct err *e);

/* One recipient of a campaign and what came of it. */
struct store_recipient {
    int64_t campaign_id;      /* the campaign */
    const char *campaign;     /* and its name */
    const char *email;        /* NULL once forgotten (a tombstone id) */
    const char *state;        /* the ledger state */
    int code;                 /* the relay's last reply code, 0: none */
    const char *status;       /* its enhanced status, NULL: none */
    const char *text;         /* its text, NULL: none */
    const char *bounce_class; /* NULL unless bounced */
    int64_t first_open_ms;    /* the first open by a person, 0: none */
    long opens;               /* opens by a person */
    long clicks;              /* clicks by a person */
    int unsubscribed;         /* unsubscribed through this campaign */
    int complained;           /* complained (a verified report, ARF) */
    long attempts;            /* the ledger's attempts */
    int was_uncertain;        /* the ledger's was_uncertain (0, 1, 2) */
};
typedef int (*store_recipient_cb)(const struct store_recipient *r, void *arg);
/* store_report_recipients - cb for every recipient of the campaign (every
 * ledger row, forgotten ones too), in contact id order, streamed from the
 * ledger merged with the campaign's events (store_export.c): memory stays
 * flat.  The strings are valid during the call only.  cb must not use the
 * store; non-zero stops (returned). */
int store_report_recipients(struct store *st, int64_t campaign,
                            store_recipient_cb cb, void *arg, struct err *e);
/* store_report_recipients_all - the same for every campaign, campaigns in
 * id order, from one snapshot of the database. */
int store_report_recipients_all(struct store *st, store_recipient_cb cb,
                                void *arg, struct err *e);

#endif
