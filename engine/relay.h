/* SPDX-License-Identifier: ISC */
/*
 * relay.h - the event loop: N SMTP connections over a pool of relays.
 *
 * Owns: one poll() loop over the connections (smtp.h), how many to keep
 * open and to which relay (weights, each relay's max_connections; a
 * relay that cannot be reached is set aside for a while and the others
 * take over), the throttle (throttle.h: the global rate, per-domain
 * rates, each relay's own rate, AIMD on throttling replies - a session
 * a throttling 421 closed is no failure of the relay), and the orderly
 * stop: stop taking messages, wait for in-flight replies (bounded),
 * QUIT.
 *
 * Also decides whose fault a permanent refusal is (reply.h), because the
 * answer depends on the relay as much as on the reply: a refusal that is
 * ours (relaying denied, HELO, sender, AUTH) sets that relay aside for
 * the run while others are left; and the same refusal for every
 * recipient is the relay's answer to us whatever its words (a streak:
 * RELAY_STREAK refusals in a row through one relay with nothing
 * delivered through it in between, or every permanent answer of a relay
 * that delivered nothing in this run, RELAY_STREAK_FIRST or more).  To
 * decide that without bouncing anyone first, a recipient's refusal is
 * held back - its result reaches the source only when the streak is
 * broken (a delivery, another reply: then it is the recipient's) or
 * judged (then it is ours).  What is held is still `sending` in the
 * ledger: a crash meanwhile makes it `uncertain`, and nobody got it.
 *
 * Knows no SQL and no templates: a source hands it messages (bytes and an
 * envelope) and gets one result per message back.
 */
#ifndef CAMPAIGN_RELAY_H
#define CAMPAIGN_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "reply.h"
#include "smtp.h"

/* the streak rule (above) */
#define RELAY_STREAK 10
#define RELAY_STREAK_FIRST 3

struct relay_msg {
    uint64_t cookie;
    const char *mail_from;
    const char *rcpt;
    const char *domain; /* the recipient's domain, for per-domain limits */
    const char *data;   /* valid until the result */
    size_t len;
    int smtputf8; /* smtp.h struct smtp_msg */
    /* the recipient domain's provider (provider.h), for [limits]
     * provider.NAME rates; NULL: none */
    const char *provider;
};

struct relay_done {
    uint64_t cookie;
    const char *relay; /* the relay's name ("" for [relay]) or host */
    struct smtp_result r;
    /* for SMTP_PERMFAIL: whose fault (reply.h), from the reply or from
     * the pattern across recipients (a streak, below) */
    struct reply_verdict verdict;
    /* for a sender's fault: 1 when the relay was set aside for the rest
     * of the run and the others carry on (the message goes back to the
     * queue, to be sent through another), 0 when none is left (stop) */
    int set_aside;
};

enum relay_next {
    RELAY_NONE_NOW = 0, /* none yet (being built, or held back) */
    RELAY_GOT = 1,
    RELAY_DRAINED = -1,  /* none will come */
    RELAY_AWAITING = -2, /* none will come but what the results of the
                            messages handed out may bring back */
};

struct relay_source {
    /* next - the next message; RELAY_NONE_NOW when there is none yet,
     * RELAY_AWAITING when only results can bring more (the loop then
     * judges what it holds once nothing is in flight), RELAY_DRAINED
     * when no more will come. */
    enum relay_next (*next)(void *arg, struct relay_msg *m);
    /* result - one per message handed out */
    void (*result)(void *arg, const struct relay_done *d);
    /* peek - optional (NULL): while the rate keeps the loop from taking
     * a message, whether next() would have one: RELAY_DRAINED or
     * RELAY_AWAITING when none will come (--max reached, the source
     * empty), so that the loop ends without waiting for the rate;
     * anything else when one may. Takes nothing. */
    enum relay_next (*peek)(void *arg);
    /* content - optional (NULL): the message's content is about to be
     * written to its connection (smtp.h, the content callback); after
     * this, and before its result, it may have been delivered */
    void (*content)(void *arg, uint64_t cookie);
    /* tick - about every 100 ms: 0 to go on, 1 to stop handing out
     * messages (pause, cancel, signal); the loop then winds down. */
    int (*tick)(void *arg, int64_t now_ms);
    void *arg;
    /* -1, or a descriptor that becomes readable when next() may have a
     * message again after RELAY_NONE_NOW (the loop polls it, and reads
     * what is there) */
    int wake_fd;
};

struct relay_params {
    const struct config_relay *relays;
    size_t nrelays;
    const char *const *passwords; /* nrelays entries, NULL: no AUTH */
    const struct config_limits *limits;
    int concurrency;
    int transcript;
    int stop_grace_ms;  /* how long to wait for in-flight replies on stop */
    int trust_refusals; /* no streak rule: a recipient's refusal is
                           always the recipient's */
};

struct relay_stats {
    long connections; /* opened */
    long conn_failures;
    long throttled; /* replies that slowed us down */
};

/*
 * relay_run - send until the source is drained or asks to stop.  Returns
 * 0, or -1 with e set when sending had to stop for a reason of the relay
 * (EX_UNAVAILABLE: no relay reachable; EX_CONFIG: AUTH refused or a TLS
 * requirement not met - no retry loop).  Every message handed out has
 * had its result by the time it returns.
 */
int relay_run(const struct relay_params *p, const struct relay_source *src,
              struct relay_stats *stats, struct err *e);

/* relay_now_ms - the monotonic clock in milliseconds. */
int64_t relay_now_ms(void);

#endif
