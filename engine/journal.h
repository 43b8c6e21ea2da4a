/* SPDX-License-Identifier: ISC */
/*
 * journal.h - the crash journal of a send: what became of each message
 * handed to the relay loop, kept where a crash of the process cannot
 * lose it, without an fsync per message (RELIABILITY.md, kill -9 at any
 * instant).
 *
 * The ledger commits results in batches (queue.h), so after a crash the
 * rows claimed but not yet recorded are `sending`, and without more
 * knowledge every one of them must be treated as possibly delivered
 * (`uncertain`, resent once).  The physical limit is far smaller: only a
 * message whose final dot went out and whose reply was not read can have
 * arrived unbeknown to us - at most one or two per connection.
 *
 * So the relay loop writes one fixed-size record per message in flight
 * into a file beside the database, DB.campaign-ID.journal, mapped with
 * MAP_SHARED: a store into the mapping is a store into the kernel's page
 * cache, which outlives the process (a kill -9, a crash, an OOM kill) and
 * costs no system call.  A record says: handed out (its Message-ID, the
 * row's attempt); its content about to be written (before the first byte
 * of it reaches the socket); and the final reply read (delivered, not
 * delivered, or uncertain).  The next run reads the records back before
 * it recovers the ledger (queue_recover): a row whose 250 is recorded is
 * sent, one whose reply said no (or that never got to its content) goes
 * back to the queue, and only one whose content went out with no
 * recorded reply is uncertain.
 *
 * A power cut loses page-cache data the kernel had not yet written.  The
 * journal records the boot it was written in (the kernel's boot_id); one
 * from another boot is not trusted, and the ledger's own rule applies
 * (every `sending` row uncertain).
 *
 * Slots.  A record lives in a slot from the message's hand-out until its
 * result is committed to the database; then the slot is free for another
 * message.  A record left in a freed slot describes a row already
 * recorded, and the replay ignores it: it applies a record only to a row
 * still `sending` with the record's attempt, and of several records of
 * one contact the latest (seq) wins.  Within a record the kind is
 * written last, and cleared first when a slot is reused, so a crash in
 * the middle of writing one leaves an empty slot, never a mixed record.
 *
 * Not thread-safe: the caller serialises (queue.c takes slots and frees
 * them under its mutex; only the relay loop's thread writes records and
 * grows the file).
 */
#ifndef CAMPAIGN_JOURNAL_H
#define CAMPAIGN_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum journal_kind {
    JOURNAL_EMPTY = 0,
    JOURNAL_HANDED = 'H',    /* handed to the loop; nothing written yet */
    JOURNAL_CONTENT = 'C',   /* its content is going out (dot included) */
    JOURNAL_SENT = 'S',      /* 250 to the dot */
    JOURNAL_REFUSED = 'N',   /* a final reply read: not delivered */
    JOURNAL_UNCERTAIN = 'U', /* the link died after the dot */
    JOURNAL_RELEASED = 'R',  /* given back before any command of its */
};

#define JOURNAL_MSGID 224 /* bytes kept of a Message-ID */

/* one message's record as the replay reads it */
struct journal_rec {
    int64_t contact;
    uint64_t seq;
    int32_t attempt;
    enum journal_kind kind;
    char message_id[JOURNAL_MSGID];
};

struct journal;

/*
 * journal_open - create (or empty) DB.campaign-ID.journal and map it for
 * this run.  The caller holds the campaign's send lock and has replayed
 * the previous journal.  EX_CANTCREAT on failure.
 */
struct journal *journal_open(const char *db_path, int64_t campaign,
                             struct err *e);
/* journal_close - unmap; remove the file when the run recorded every
 * result (remove = 1).  NULL is a no-op. */
void journal_close(struct journal *j, int remove);

/* journal_take - a free slot for a message handed out now, its record
 * written (HANDED); -1 when the file cannot grow (the caller goes on
 * without): the journal is then marked incomplete, and its replay trusts
 * none of it (the ledger's own rule: every `sending` row uncertain). */
int journal_take(struct journal *j, int64_t contact, int attempt,
                 const char *message_id);
/* journal_mark - the slot's message reached kind. */
void journal_mark(struct journal *j, int slot, enum journal_kind kind);
/* journal_free - the slot's result is committed: the slot may be reused. */
void journal_free(struct journal *j, int slot);

/*
 * journal_replay - read the previous run's DB.campaign-ID.journal: cb for
 * the latest record of each contact (any order); a cb that returns
 * non-zero (its error in its own err) stops the replay: -1.  Returns 1 when the
 * journal was read (so a `sending` row without a record was never handed
 * out), 0 when there is none to trust (missing, another boot, damaged:
 * *why says which, for the log), -1 on a read error.  Memory: a sort of
 * the file's records, which hold only what was in flight.
 */
typedef int (*journal_cb)(const struct journal_rec *r, void *arg);
int journal_replay(const char *db_path, int64_t campaign, journal_cb cb,
                   void *arg, const char **why, struct err *e);

/* journal_path - DB.campaign-ID.journal into out. */
void journal_path(const char *db_path, int64_t campaign, char *out, size_t n);

#endif
