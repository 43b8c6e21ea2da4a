/* SPDX-License-Identifier: ISC */
/*
 * ingest.h - what a message that came back changes: matching it to what
 * was sent, and recording it.
 *
 * Owns the matching and the policy.  Matching, first that works: a token
 * of ours that checks (HMAC, engine/track.h) - the VERP token of the
 * address the message came to or of the returned message's Return-Path,
 * the unsubscribe token of the address it came to or of the returned
 * List-Unsubscribe; else the returned Message-ID among the ledger rows of
 * the recipient the report names; else that recipient and the latest
 * campaign that mailed them.  A message that matches nothing is counted
 * and logged, never recorded: a forged bounce suppresses nobody, and a
 * mailed unsubscribe counts only with its token.
 *
 * The policy ([bounces]): hard -> the ledger row bounced, the address
 * suppressed (reason bounced); soft -> bounced, suppressed after
 * soft_limit soft bounces within soft_days; blocked -> bounced, counted,
 * the address kept; delayed -> an event, nothing else; complaint ->
 * suppressed (reason complained) - except an ARF "not-spam" report;
 * auto-reply -> an event; unsubscribe -> suppressed (reason
 * unsubscribed).  Every recorded message is an events row
 * (db/store.h).  Suppressions from here are of the reasons an import
 * never lifts.
 *
 * A message of our token form whose token does not check matches
 * nothing: the recipient it names is not believed.  One matched by its
 * recipient's address alone (no token, no Message-ID) while the database
 * has a tracking secret - so that every message sent carries tokens - is
 * unverified: anyone can write it, so it is an event for the report
 * (machine_reason says so) and changes no ledger row, suppresses nobody
 * and counts toward no breaker.
 *
 * Idempotent: each recorded message's identity (its own Message-ID, else
 * the SHA-256 of its tokens, envelope recipient and body) is kept in the
 * inbound table; a message read again is a duplicate and changes nothing.
 * A message that matched nothing is not kept: read again after the cause
 * is fixed (the tracking secret, --rcpt) it may match.
 */
#ifndef CAMPAIGN_INGEST_H
#define CAMPAIGN_INGEST_H

#include <stddef.h>

#include "../db/store.h"
#include "breaker.h"
#include "err.h"
#include "track.h"

struct ingest_policy {
    int soft_limit; /* soft bounces ... */
    int soft_days;  /* ... within this many days that suppress */
    struct breaker_limits breaker;
};

struct ingest_totals {
    long messages, hard, soft, blocked, delayed, complaint, auto_reply,
        unsubscribe, delivered, unknown, unmatched, duplicate, paused,
        unverified;
};

struct ingest;

/* ingest_new - NULL with e set (EX_SOFTWARE) when out of memory. */
struct ingest *ingest_new(struct store *st, const struct track_key *key,
                          const struct ingest_policy *p, struct err *e);
void ingest_free(struct ingest *in);

/*
 * ingest_message - read and record one raw message (len bytes) that came
 * to envelope_rcpt (NULL when not known), in a transaction of its own.  where
 * names it in log lines (a file, "a message on standard input", "IMAP UID 7").
 * Returns 1 (recorded, or a duplicate of one recorded), 0 (not recorded:
 * it matched nothing, or is no bounce; see the totals) or -1 (the database
 * failed: nothing of this message kept; EX_TEMPFAIL when it was busy).
 */
int ingest_message(struct ingest *in, const char *buf, size_t len,
                   const char *envelope_rcpt, const char *where, struct err *e);

/*
 * ingest_finish - the circuit breaker for every campaign the messages
 * touched (each one it pauses is logged); call once at the end.
 */
int ingest_finish(struct ingest *in, struct err *e);

/* ingest_totals - what was read so far. */
void ingest_totals(const struct ingest *in, struct ingest_totals *t);

#endif
