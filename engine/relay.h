/* SPDX-License-Identifier: ISC */
/*
 * relay.h - the event loop: N SMTP connections over a pool of relays.
 *
 * Owns: one poll() loop over the connections (smtp.h), how many to keep
 * open and to which relay (weights; a relay that cannot be reached, or
 * answers 421, is set aside for a while and the others take over), the
 * throttle (throttle.h: the global rate, per-domain rates, slowing down
 * on throttling replies), and the orderly stop: stop taking messages,
 * wait for in-flight replies (bounded), QUIT.
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
#include "smtp.h"

struct relay_msg {
    uint64_t cookie;
    const char *mail_from;
    const char *rcpt;
    const char *domain; /* the recipient's domain, for per-domain limits */
    const char *data;   /* valid until the result */
    size_t len;
};

struct relay_done {
    uint64_t cookie;
    const char *relay; /* the relay's name ("" for [relay]) or host */
    struct smtp_result r;
};

enum relay_next { RELAY_NONE_NOW = 0, RELAY_GOT = 1, RELAY_DRAINED = -1 };

struct relay_source {
    /* next - the next message; RELAY_NONE_NOW when there is none yet
     * (results are pending), RELAY_DRAINED when no more will come. */
    enum relay_next (*next)(void *arg, struct relay_msg *m);
    /* result - one per message handed out */
    void (*result)(void *arg, const struct relay_done *d);
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
    int stop_grace_ms; /* how long to wait for in-flight replies on stop */
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
