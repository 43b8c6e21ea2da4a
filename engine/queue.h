/* SPDX-License-Identifier: ISC */
/*
 * queue.h - a campaign's ledger in motion: lock, freeze, recover, claim,
 * send, record (RELIABILITY.md, The ledger).
 *
 * The promises, and how they are kept:
 *  - one send per campaign at a time: flock() on DB.campaign-ID.lock,
 *    which holds the pid of its owner; the kernel releases it when the
 *    process dies, so a dead owner's lock is simply taken over;
 *  - a row is durably `sending` before its MAIL FROM goes out: rows are
 *    claimed in small batches, marked and committed (synchronous=FULL)
 *    before any of them is handed to the relay loop; a feeder thread
 *    claims, commits and composes about one batch ahead of the loop, so
 *    the loop sends while the next batch's fsync runs;
 *  - a row becomes `sent` only after the relay's 250 to the dot; results
 *    are committed in batches (every QUEUE_FLUSH_MS or QUEUE_RESULTS
 *    results), so a crash can leave the claimed-but-unrecorded window in
 *    `sending`.  The relay loop keeps a crash journal (journal.h) of each
 *    message handed out - its content going out, its final reply - and
 *    the next run reads it back first (queue_recover): a recorded 250 is
 *    sent, a message whose content never went out (or was refused) is
 *    queued again, and only one whose content went out with no reply
 *    read - at most a message or two per connection - becomes
 *    `uncertain`, sent once more with the same Message-ID (compose.h) and
 *    listed by the report.  Without a journal to trust (a power cut: one
 *    written before the machine restarted) every `sending` row is
 *    uncertain;
 *  - a suppression that lands mid-campaign stops the next send: the
 *    contact's status is checked again when its row is claimed, and
 *    once more when it is handed to the relay loop if it was claimed
 *    QUEUE_RECHECK_MS ago or more (a slow rate); the relay loop takes a
 *    message only when the rate lets it go;
 *  - a hard bounce suppresses the address in the same transaction that
 *    records it;
 *  - the first message goes out at once whatever the size of the list:
 *    the recipients are frozen in chunks (QUEUE_FREEZE members, in
 *    contact order) by the feeder's claims, in the claim's transaction,
 *    when the queued rows run out; a chunk's rows are claimed like any
 *    other (a claim freezes a chunk only before it has claimed a row:
 *    claimed rows are marked at its end, and the same query would return
 *    them again).  A run that stops leaves the rest to the next.  The frozen
 * set stays the list's members when the campaign started (the generations of
 * db/migrations/013_freeze_chunks.sql), and the run is never done while members
 * remain to freeze.
 */
#ifndef CAMPAIGN_QUEUE_H
#define CAMPAIGN_QUEUE_H

#include <signal.h>
#include <stdint.h>

#include "../db/store.h"
#include "breaker.h"
#include "compose.h"
#include "err.h"
#include "relay.h"

/* rows claimed at once: QUEUE_BATCH, doubled (up to QUEUE_BATCH_MAX) each
 * time the relay loop ran out of messages while the claim's fsync was
 * under way (a slow disk), halved again after eight claims without; a
 * crash leaves about two claims `sending`, which the journal settles */
#define QUEUE_BATCH 64
#define QUEUE_BATCH_MAX 512
/* members frozen at once (a chunk: 013_freeze_chunks.sql), and the
 * chunks one claim may freeze before it returns what it has */
#define QUEUE_FREEZE 4096
#define QUEUE_FREEZE_CLAIM 4
/* results that make the feeder write at once */
#define QUEUE_RESULTS 64
#define QUEUE_FLUSH_MS 200
/* results not yet written at which the loop stops handing out: a feeder
 * that is composing, waiting for an fsync or for a busy database must not
 * let sent-but-unrecorded messages pile up (each is a duplicate after a
 * crash) */
#define QUEUE_RESULTS_MAX (2 * QUEUE_RESULTS)
/* the page caches of a send's two database connections (KiB) */
#define QUEUE_LOOP_CACHE_KIB 1024
#define QUEUE_FEEDER_CACHE_KIB 8192
/* a claimed row handed out this long after its claim has its contact's
 * status read again */
#define QUEUE_RECHECK_MS 1000

/*
 * queue_lock - take the campaign's send lock (flock, non-blocking) and
 * write our pid into it.  EX_TEMPFAIL naming the holder's pid when another
 * send has it.  Returns the fd to keep open, or -1.
 */
int queue_lock(const char *db_path, int64_t campaign_id, struct err *e);
void queue_unlock(int fd);

/* queue_backoff - seconds before retry number `attempts` of a 4xx:
 * 5 min doubling to at most 4 h. */
int64_t queue_backoff(int attempts);
/* After this many attempts a persistent 4xx expires (about 3 days). */
#define QUEUE_MAX_ATTEMPTS 20

enum queue_stop {
    QUEUE_DONE,      /* nothing left to send now */
    QUEUE_PAUSED,    /* campaign pause */
    QUEUE_CANCELLED, /* campaign cancel */
    QUEUE_SIGNALLED, /* SIGINT / SIGTERM */
    QUEUE_MAXED,     /* --max reached */
    QUEUE_REFUSED,   /* the relay refused us (sender, client, HELO, ...) */
    QUEUE_MESSAGE_REFUSED, /* the relay refused the message itself */
    QUEUE_WINDOW,          /* the sending window closed (stop_at) */
};

/* queue_refusal - the first refusal that was not a recipient's fault:
 * the reply, and what reply.h made of it. */
struct queue_refusal {
    int code;
    char status[16];
    char text[256];
    char stage[16];
    char relay[64];
    const char *why, *fix; /* static */
    int config;            /* our configuration: EX_CONFIG */
};

struct queue_params {
    struct store *st;    /* the loop thread's connection */
    const char *db_path; /* the feeder thread opens its own */
    int64_t campaign_id;
    const char *campaign;
    struct composer *comp; /* used by the feeder thread alone */
    const struct relay_params *relay;
    long max; /* messages to attempt in this run; 0: no limit */
    volatile sig_atomic_t *interrupted;
    int progress; /* draw a progress line on stderr (a terminal) */
    /* the circuit breaker (breaker.h), checked once a second while this
     * run's bounces grow; NULL: none */
    const struct breaker_limits *breaker;
    /* [bounces] soft_limit soft bounces within soft_days suppress; 0: no
     * limit */
    int soft_limit, soft_days;
    /* when the sending window closes (clock.h clock_now; 0: never): no
     * message is handed out from then on */
    int64_t stop_at;
};

/* what queue_recover found of a run that stopped without recording */
struct queue_recovered {
    long sent;      /* its 250 in the journal: recorded sent */
    long requeued;  /* never delivered: queued again */
    long uncertain; /* content out, no reply (or no journal): uncertain */
    int journal;    /* 1: a journal was read */
    const char *untrusted; /* why there was none to trust (static), or NULL */
};

/*
 * queue_recover - settle the rows a run that stopped without recording
 * left `sending`, from its crash journal (journal.h) or, without one to
 * trust, as uncertain; in one transaction, said on stderr.  The caller
 * holds the campaign's send lock (queue_lock), so no run is sending.
 */
int queue_recover(struct store *st, const char *db_path, int64_t campaign,
                  const char *name, struct queue_recovered *out, struct err *e);

/* queue_summary - what the run did.  sent ... uncertain count
 * recipients, each once, in its last state of the run (a recipient
 * uncertain and then sent by its retry is sent); requeued: results that
 * put a recipient back in the queue; attempted: messages handed out. */
struct queue_summary {
    long attempted, sent, deferred, bounced, failed, skipped, uncertain,
        requeued;
    long expired;     /* a 4xx after QUEUE_MAX_ATTEMPTS: given up */
    long unbuildable; /* the message could not be built (not final) */
    long held;        /* refused by the client, not the relay (smtp.h SMTP_HELD,
                       * compose.h held): not final, never a bounce */
    enum queue_stop stop;
    struct queue_refusal refusal;     /* QUEUE_REFUSED, QUEUE_MESSAGE_REFUSED */
    struct queue_recovered recovered; /* what the last run left */
    struct relay_stats relay;
    double seconds;
};

/*
 * queue_send - recover what a crash left, then drain the campaign's
 * claimable rows through the relay loop, recording every result.
 * Returns 0, or -1 (relay unavailable, AUTH refused, database error) with
 * everything handed out recorded before returning.  A database that cannot
 * be written (a full disk: EX_CANTCREAT) stops the hand-out at the first
 * failed commit; the results that cannot be recorded then leave their rows
 * `sending` (said on stderr), and the next run sends each once more as
 * uncertain, with the same Message-ID.
 */
int queue_send(const struct queue_params *p, struct queue_summary *s,
               struct err *e);

#endif
