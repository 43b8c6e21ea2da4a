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
/* store_schema_version - the schema version now in force. */
int store_schema_version(struct store *st);
/* store_latest_version - the newest schema version this binary carries. */
int store_latest_version(void);

/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int store_begin(struct store *st, struct err *e);
int store_commit(struct store *st, struct err *e);
void store_rollback(struct store *st);

/* store_hash_salt - the per-database salt (hex), owned by st. */
const char *store_hash_salt(struct store *st);

/* ---- import runs and contacts ---- */

/*
 * An import run sees each row of a file once: store_contact_find looks
 * the address up, the caller merges, then store_contact_insert or
 * store_contact_touch records the result with the run's bookkeeping.
 * store_import_settle ends the run: a contact whose changes were undone
 * by a later row of the same file gets its old update time back, and the
 * number of contacts really changed is returned.
 */
struct store_found {
    int64_t id;
    const char *attrs;    /* valid until the next store call */
    int64_t updated_at;
    int same_run;         /* this run already saw the contact */
    int new_in_run;       /* ... and created it */
    int has_prev;         /* ... and changed it (prev_* kept) */
};

struct store_touch {
    int64_t id;
    const char *attrs;       /* the merged attributes */
    int64_t updated_at;
    const char *prev_attrs;  /* pre-run attributes, or NULL */
    int64_t prev_updated;
    int keep_prev;           /* leave prev_* as they are */
    int64_t run;
    int new_in_run;
};

int store_import_begin(struct store *st, const char *file, int64_t list_id,
                       int64_t now, int64_t *run, struct err *e);
int store_import_end(struct store *st, int64_t run, long imported,
                     long updated, long unchanged, long rejected,
                     struct err *e);
/* store_contact_find - 1 and *f filled, 0 if no such contact, -1. */
int store_contact_find(struct store *st, const char *email, int64_t run,
                       struct store_found *f, struct err *e);
/* store_contact_insert - a new contact; its status comes from the
 * suppression list (hash): an import never lifts a suppression. */
int store_contact_insert(struct store *st, const char *email,
                         const char *attrs, const uint8_t hash[32],
                         int64_t now, int64_t run, int64_t *id,
                         struct err *e);
int store_contact_touch(struct store *st, const struct store_touch *t,
                        struct err *e);
/* store_import_settle - see above; *changed is the count of contacts of
 * this run that existed before and now differ. */
int store_import_settle(struct store *st, int64_t run, long *changed,
                        struct err *e);

/* store_list_ensure - id of list name, created at now if missing. */
int store_list_ensure(struct store *st, const char *name, int64_t now,
                      int64_t *id, struct err *e);
int store_membership_add(struct store *st, int64_t list_id,
                         int64_t contact_id, int64_t now, struct err *e);

struct store_list_row {
    const char *name;
    int64_t created_at;
    long members;
    long active;
};
typedef int (*store_list_cb)(const struct store_list_row *row, void *arg);
int store_lists(struct store *st, store_list_cb cb, void *arg,
                struct err *e);

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
int store_contact_get(struct store *st, const char *email,
                      store_contact_cb cb, void *arg, struct err *e);
/* store_contact_lists - cb(name) for each list the contact belongs to. */
typedef int (*store_name_cb)(const char *name, void *arg);
int store_contact_lists(struct store *st, int64_t contact_id,
                        store_name_cb cb, void *arg, struct err *e);
/*
 * store_contact_forget - delete the contact with this email (memberships
 * follow) and keep only the hash in the suppression list.  Returns 1 when
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
};

/*
 * store_suppress - add a suppression (reason: unsubscribed, bounced,
 * complained, manual) and mark the contact, if any, as not mailable.
 * An existing suppression is kept as it is.  Returns 1 when added, 0 when
 * the address was already suppressed, -1 on error.
 */
int store_suppress(struct store *st, const struct store_suppression *s,
                   struct err *e);
typedef int (*store_suppression_cb)(const struct store_suppression *s,
                                    void *arg);
/* store_suppression_get - when hash is suppressed, call cb once and return
 * 1; return 0 when not suppressed, -1 on error. */
int store_suppression_get(struct store *st, const uint8_t hash[32],
                          store_suppression_cb cb, void *arg, struct err *e);
int store_suppressions(struct store *st, store_suppression_cb cb, void *arg,
                       struct err *e);

#endif
