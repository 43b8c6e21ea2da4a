/* SPDX-License-Identifier: ISC */
/*
 * relay.c - the sending event loop, and whose fault a relay's permanent
 * refusal is (see relay.h).
 *
 * One thread, one poll() over at most `concurrency` SMTP connections.
 * Connections are opened lazily - one more each turn while a message is
 * waiting and every open connection is busy - so a small campaign does
 * not open eight sessions; and to each relay only one until a message
 * has gone through it, so that wrong credentials fail once instead of
 * once per connection; to a relay with max_connections, no more than
 * that.  The source is asked for a message only when the global rate
 * allows one to go and a relay's own rate would take it; a message goes
 * to a free connection whose relay's bucket has a token (a relay at its
 * rate does not hold up the others: when none of the free connections
 * can take one, another relay gets a connection); a message its
 * domain's bucket holds back waits in a small held list, and the source
 * is not asked for more while that list is full.
 *
 * Clients are never freed inside their own callbacks: `closed` marks the
 * connection dead and the loop reaps it after smtp_client_handle returns.
 *
 * Refusals: reply.h judges each one; a recipient's is held in its relay's
 * streak until a delivery or another reply breaks the streak (handed
 * over as the recipient's), RELAY_STREAK of them trip it, or nothing
 * more can come (streak_settle: the source awaits our results, the loop
 * stops, the relay is given up or set aside).  Every held result is
 * handed over before relay_run returns.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"
#include "throttle.h"
#include "xalloc.h"

#define RELAY_TICK_MS 100
#define HELD_MAX 256
/* a relay failing this many times in a row with no success in between is
 * given up (after 1 + 2 + 4 s of back-off) */
#define RELAY_MAX_FAILS 3
#define RELAY_BACKOFF_MS 1000
/* a streak's key: "CODE STATUS:" (at most 3 + 1 + 15 + 1 characters) and
 * the text's words */
#define RELAY_KEY_MAX (sizeof((struct smtp_result *)0)->text + 24)

struct inflight {
    uint64_t cookie;
    const char *domain;
    const char *provider;
};

struct conn {
    struct relay_loop *loop;
    struct smtp_client *c;
    size_t relay;
    int ready;
    int dead;
    int quitting;
    int retire;    /* its relay was set aside: QUIT once idle */
    int succeeded; /* at least one message went through */
    int throttled; /* it said "slow down" (a 421 closes): not a failure */
    struct inflight fl[SMTP_PIPELINE_MAX];
    int nfl;
};

struct relay_state {
    int64_t down_until;
    int fails;   /* consecutive */
    int conns;   /* open now */
    int proven;  /* a message went through it (250 to the dot) */
    int refused; /* it refused us: set aside for the rest of the run */
    long perm;   /* permanent refusals it gave in this run */
    struct err last;
    /* the recipients' refusals held back: the same reply (key) in a
     * row, nothing delivered through this relay in between */
    struct smtp_result streak[RELAY_STREAK];
    int nstreak;
    char key[sizeof((struct smtp_result *)0)->text + 24];
    /* a streak was judged ours: what was in flight and gets the same
     * reply afterwards is judged the same */
    int tripped, trip_aside;
    char trip_key[sizeof((struct smtp_result *)0)->text + 24];
};

struct relay_loop {
    const struct relay_params *p;
    const struct relay_source *src;
    struct relay_stats *stats;
    struct throttle *throttle;
    struct conn **conns;
    int nconns;
    int rr; /* the connection free_conn found last */
    struct relay_state *rs;
    struct relay_msg held[HELD_MAX];
    int nheld;
    struct relay_msg pending; /* fetched, not yet placed */
    int have_pending;
    long inflight;
    int drained;
    int awaiting; /* the source's last answer: only results bring more */
    int stopping;
    int64_t stop_at;
    int fatal;
    struct err ferr;
};

int64_t
relay_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
relay_name(const struct relay_loop *l, size_t i)
{
    const struct config_relay *r = &l->p->relays[i];
    return *r->name ? r->name : r->host;
}

/* deliver - hand one result to the source, with its verdict (for a
 * permanent refusal) and whether its relay was set aside. */
static void
deliver(struct relay_loop *l, size_t relay, const struct smtp_result *r,
        const struct reply_verdict *v, int set_aside)
{
    struct relay_done d;

    memset(&d, 0, sizeof d);
    d.cookie = r->cookie;
    d.relay = relay_name(l, relay);
    d.r = *r;
    if (v != NULL)
        d.verdict = *v;
    d.set_aside = set_aside;
    /* a result may give the source more to send: ask it again before
     * judging what is held */
    l->awaiting = 0;
    l->src->result(l->src->arg, &d);
}

/* not_sent - a message that never reached a connection. */
static void
not_sent(struct relay_loop *l, const struct relay_msg *m, const char *why)
{
    struct relay_done d;

    memset(&d, 0, sizeof d);
    d.cookie = m->cookie;
    d.relay = "";
    d.r.cookie = m->cookie;
    d.r.outcome = SMTP_NOT_SENT;
    d.r.stage = SMTP_STAGE_CONNECT;
    snprintf(d.r.text, sizeof d.r.text, "%s", why);
    l->awaiting = 0;
    l->src->result(l->src->arg, &d);
}

static void
on_ready(struct smtp_client *c, void *arg)
{
    struct conn *k = arg;

    (void)c;
    k->ready = 1;
}

/* reply_stage_of - the SMTP client's stage as reply.h names it. */
static enum reply_stage
reply_stage_of(enum smtp_stage st)
{
    switch (st) {
    case SMTP_STAGE_MAIL:
        return REPLY_STAGE_MAIL;
    case SMTP_STAGE_RCPT:
        return REPLY_STAGE_RCPT;
    case SMTP_STAGE_DATA:
    case SMTP_STAGE_DOT:
        return REPLY_STAGE_DATA;
    default:
        return REPLY_STAGE_OTHER;
    }
}

/* usable - relay i may still be given connections in this run */
static int
usable(const struct relay_loop *l, size_t i)
{
    return l->p->relays[i].weight > 0 && !l->rs[i].refused &&
           l->rs[i].fails < RELAY_MAX_FAILS;
}

/* streak_pattern - the verdict on a streak: the relay's answer to us */
static const struct reply_verdict streak_pattern = {
    .fault = REPLY_FAULT_SENDER,
    .bounce_class = "",
    .why = "the same refusal for every recipient: the relay's answer to us, "
           "whatever its words",
    .fix = "read the relay's log for why it refuses this sender or client; "
           "if these addresses really do not exist, send again with "
           "--trust-refusals",
    .config = 0,
};

/* others - is a relay other than i usable */
static int
others(const struct relay_loop *l, size_t i)
{
    for (size_t j = 0; j < l->p->nrelays; j++)
        if (j != i && usable(l, j))
            return 1;
    return 0;
}

/*
 * set_aside - relay i refused us (r, judged v): no new connection to it,
 * its connections QUIT once idle, and the refusals it holds are handed
 * over as ours too (nothing would break their streak now).  Returns 1
 * when another relay carries on; 0 when none is left: then the loop
 * winds down, and the source stops on the result.
 */
static int
set_aside(struct relay_loop *l, size_t i, const struct smtp_result *r,
          const struct reply_verdict *v)
{
    struct relay_state *rs = &l->rs[i];

    if (!others(l, i)) {
        if (!l->stopping) {
            l->stopping = 1;
            l->stop_at = relay_now_ms() + l->p->stop_grace_ms;
        }
        return 0;
    }
    if (!rs->refused) {
        int n = rs->nstreak;
        rs->refused = 1;
        log_warnx("relay %s set aside for this run: it refused us at %s: "
                  "%d%s%s %s (%s); the other relays carry on",
                  relay_name(l, i), smtp_stage_str(r->stage), r->code,
                  r->status[0] ? " " : "", r->status, r->text, v->why);
        for (int k = 0; k < l->nconns; k++)
            if (l->conns[k]->relay == i)
                l->conns[k]->retire = 1;
        rs->nstreak = 0;
        for (int k = 0; k < n; k++)
            deliver(l, i, &rs->streak[k], &streak_pattern, 1);
    }
    return 1;
}

/*
 * streak_key - what makes two refusals "the same": the code, the status
 * and the text without its words that name one recipient or one message
 * (an address, anything in <>, anything with a digit: queue ids, dates),
 * case-folded.
 */
static void
streak_key(const struct smtp_result *r, char *out, size_t size)
{
    const char *p = r->text;
    int n = snprintf(out, size, "%d %s:", r->code, r->status);
    size_t o = n > 0 && (size_t)n < size ? (size_t)n : 0;

    while (*p) {
        const char *w = p;
        int skip = *p == '<' || *p == '[' || *p == '(';
        while (*p && *p != ' ') {
            if (*p == '@' || (*p >= '0' && *p <= '9'))
                skip = 1;
            p++;
        }
        if (!skip)
            for (; w < p && o + 2 < size; w++)
                out[o++] = (char)(*w >= 'A' && *w <= 'Z' ? *w + 32 : *w);
        if (!skip && o + 2 < size)
            out[o++] = ' ';
        while (*p == ' ')
            p++;
    }
    out[o] = '\0';
}

/* streak_pass - the held refusals were the recipients': hand them over */
static void
streak_pass(struct relay_loop *l, size_t i)
{
    struct relay_state *rs = &l->rs[i];
    int n = rs->nstreak;

    rs->nstreak = 0;
    for (int k = 0; k < n; k++) {
        struct reply_verdict v;
        reply_classify(rs->streak[k].code, rs->streak[k].status,
                       rs->streak[k].text, reply_stage_of(rs->streak[k].stage),
                       &v);
        deliver(l, i, &rs->streak[k], &v, 0);
    }
}

/* streak_trip - the held refusals were the relay's answer to us */
static void
streak_trip(struct relay_loop *l, size_t i)
{
    struct relay_state *rs = &l->rs[i];
    int n = rs->nstreak, aside;

    log_warnx("relay %s: the same refusal for %d recipients in a row, "
              "nothing delivered in between: %d%s%s %s",
              relay_name(l, i), n, rs->streak[0].code,
              rs->streak[0].status[0] ? " " : "", rs->streak[0].status,
              rs->streak[0].text);
    rs->nstreak = 0;
    aside = set_aside(l, i, &rs->streak[0], &streak_pattern);
    rs->tripped = 1;
    memcpy(rs->trip_key, rs->key, sizeof rs->trip_key);
    for (int k = 0; k < n; k++)
        deliver(l, i, &rs->streak[k], &streak_pattern, aside);
}

/*
 * streak_settle_one - nothing more will come to break relay i's streak
 * (the source awaits our results, the loop stops, the relay is given
 * up): judge it.  Every permanent answer of a relay that delivered
 * nothing in this run, RELAY_STREAK_FIRST or more of them, is ours;
 * anything less is the recipients' - unless another relay is left: then
 * a single one is enough to set that relay aside, and the other relay
 * gives its own answer for the same recipients.
 */
static void
streak_settle_one(struct relay_loop *l, size_t i)
{
    struct relay_state *rs = &l->rs[i];

    if (rs->nstreak == 0)
        return;
    if (!rs->proven && rs->perm == rs->nstreak &&
        (rs->nstreak >= RELAY_STREAK_FIRST || others(l, i)))
        streak_trip(l, i);
    else
        streak_pass(l, i);
}

static void
streak_settle(struct relay_loop *l)
{
    for (size_t i = 0; i < l->p->nrelays; i++)
        streak_settle_one(l, i);
}

/*
 * judge_refusal - a permanent refusal from the relay: whose fault.  Ours
 * sets the relay aside (or stops the run); the recipient's is held in
 * the relay's streak.
 */
static void
judge_refusal(struct relay_loop *l, size_t i, const struct smtp_result *r)
{
    struct relay_state *rs = &l->rs[i];
    struct reply_verdict v;
    char key[RELAY_KEY_MAX];

    rs->perm++;
    reply_classify(r->code, r->status, r->text, reply_stage_of(r->stage), &v);
    if (v.fault == REPLY_FAULT_SENDER) {
        int aside = set_aside(l, i, r, &v);
        deliver(l, i, r, &v, aside);
        return;
    }
    if (v.fault != REPLY_FAULT_RECIPIENT || l->p->trust_refusals) {
        deliver(l, i, r, &v, 0);
        return;
    }
    streak_key(r, key, sizeof key);
    if (rs->tripped && strcmp(key, rs->trip_key) == 0) {
        /* in flight when the streak tripped: judged the same */
        int aside = set_aside(l, i, r, &streak_pattern);
        deliver(l, i, r, &streak_pattern, aside);
        return;
    }
    if (rs->refused) {
        /* set aside, finishing what it had in flight */
        deliver(l, i, r, &v, 0);
        return;
    }
    if (rs->nstreak > 0 && strcmp(key, rs->key) != 0)
        streak_pass(l, i);
    if (rs->nstreak == 0)
        memcpy(rs->key, key, sizeof key);
    rs->streak[rs->nstreak++] = *r;
    if (rs->nstreak == RELAY_STREAK)
        streak_trip(l, i);
}

static void
on_result(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
    struct conn *k = arg;
    struct relay_loop *l = k->loop;
    const char *domain = NULL, *provider = NULL;

    (void)c;
    for (int i = 0; i < k->nfl; i++) {
        if (k->fl[i].cookie == r->cookie) {
            domain = k->fl[i].domain;
            provider = k->fl[i].provider;
            k->fl[i] = k->fl[--k->nfl];
            break;
        }
    }
    l->inflight--;
    if (r->outcome == SMTP_SENT) {
        k->succeeded = 1;
        l->rs[k->relay].fails = 0;
        l->rs[k->relay].proven = 1;
        /* a delivery through it: what it refused was the recipients' */
        streak_pass(l, k->relay);
    }
    if (r->outcome == SMTP_TEMPFAIL &&
        throttle_is_throttling(r->code, r->status, r->text)) {
        if (throttle_slow_provider(l->throttle, domain, provider, k->relay,
                                   relay_now_ms()))
            log_info("relay %s: %d%s%s %s: sending slower",
                     relay_name(l, k->relay), r->code, r->status[0] ? " " : "",
                     r->status, r->text);
        k->throttled = 1;
        l->stats->throttled++;
    }
    if (r->outcome == SMTP_PERMFAIL) {
        judge_refusal(l, k->relay, r);
        return;
    }
    /* SMTP_HELD (refused here, before the relay saw it: an address that
     * cannot go on the wire, SMTPUTF8 not offered, a message over its
     * SIZE) says nothing of the relay */
    deliver(l, k->relay, r, NULL, 0);
}

static void
on_content(struct smtp_client *c, uint64_t cookie, void *arg)
{
    struct conn *k = arg;

    (void)c;
    k->loop->src->content(k->loop->src->arg, cookie);
}

static void
on_closed(struct smtp_client *c, enum smtp_fail fail, const struct err *e,
          void *arg)
{
    struct conn *k = arg;
    struct relay_loop *l = k->loop;
    struct relay_state *rs = &l->rs[k->relay];

    (void)c;
    k->dead = 1;
    k->ready = 0;
    if (fail == SMTP_FAIL_NONE)
        return;
    if (e != NULL)
        rs->last = *e;
    log_debug("relay %s: connection closed: %s: %s", relay_name(l, k->relay),
              smtp_fail_str(fail), e ? e->msg : "");
    if (fail == SMTP_FAIL_AUTH || fail == SMTP_FAIL_TLS) {
        /* credentials or TLS: retrying changes nothing */
        l->fatal = 1;
        err_set(&l->ferr, EX_CONFIG, "relay %s: %s", relay_name(l, k->relay),
                e && e->msg[0] ? e->msg : smtp_fail_str(fail));
        return;
    }
    if (!k->succeeded && !k->throttled) {
        l->stats->conn_failures++;
        rs->fails++;
        rs->down_until =
            relay_now_ms() + ((int64_t)RELAY_BACKOFF_MS << (rs->fails - 1));
        if (rs->fails >= RELAY_MAX_FAILS)
            streak_settle_one(l, k->relay); /* given up */
    }
}

/* pick_relay - the usable relay with the fewest connections per weight. */
static int
pick_relay(struct relay_loop *l, int64_t now)
{
    int best = -1;
    double best_load = 0;

    for (size_t i = 0; i < l->p->nrelays; i++) {
        const struct config_relay *r = &l->p->relays[i];
        struct relay_state *rs = &l->rs[i];
        if (!usable(l, i) || rs->down_until > now)
            continue;
        /* Until a message has gone through it, one connection at a
         * time: a wrong password or a bad certificate then costs one
         * failed login, not one per connection, and a relay that drops
         * every message is found out (RELAY_MAX_FAILS) before the
         * messages have made the rounds of many connections. */
        if (!rs->proven && rs->conns > 0)
            continue;
        if (r->max_connections > 0 && rs->conns >= r->max_connections)
            continue;
        /* at its own rate: another connection would not send more */
        if (throttle_relay_wait(l->throttle, i, now) > 0)
            continue;
        double load = (double)rs->conns / r->weight;
        if (best == -1 || load < best_load) {
            best = (int)i;
            best_load = load;
        }
    }
    return best;
}

/* all_given_up - every relay failed RELAY_MAX_FAILS times in a row (or
 * was set aside for refusing us). */
static int
all_given_up(const struct relay_loop *l)
{
    for (size_t i = 0; i < l->p->nrelays; i++)
        if (usable(l, i))
            return 0;
    return 1;
}

static void
open_conn(struct relay_loop *l, int64_t now)
{
    struct smtp_params sp;
    struct smtp_callbacks cb;
    struct conn *k;
    struct err e;
    int r = pick_relay(l, now);

    if (r < 0 || l->nconns >= l->p->concurrency)
        return;
    memset(&sp, 0, sizeof sp);
    sp.relay = &l->p->relays[r];
    sp.password = l->p->passwords ? l->p->passwords[r] : NULL;
    sp.helo = l->p->relays[r].helo;
    sp.transcript = l->p->transcript;
    k = xcalloc(1, sizeof *k);
    k->loop = l;
    k->relay = (size_t)r;
    cb.ready = on_ready;
    cb.result = on_result;
    cb.closed = on_closed;
    cb.content = l->src->content ? on_content : NULL;
    cb.arg = k;
    err_clear(&e);
    k->c = smtp_client_new(&sp, &cb, now, &e);
    l->stats->connections++;
    if (k->c == NULL) {
        struct relay_state *rs = &l->rs[r];
        rs->last = e;
        rs->fails++;
        rs->down_until = now + ((int64_t)RELAY_BACKOFF_MS << (rs->fails - 1));
        l->stats->conn_failures++;
        free(k);
        if (rs->fails >= RELAY_MAX_FAILS)
            streak_settle_one(l, (size_t)r); /* given up */
        return;
    }
    l->rs[r].conns++;
    l->conns[l->nconns++] = k;
}

static void
reap(struct relay_loop *l)
{
    for (int i = 0; i < l->nconns;) {
        struct conn *k = l->conns[i];
        if (!k->dead) {
            i++;
            continue;
        }
        l->rs[k->relay].conns--;
        smtp_client_free(k->c);
        free(k);
        l->conns[i] = l->conns[--l->nconns];
    }
}

/*
 * rate_wait - ms until the rates let a message go through some relay: the
 * global rate's wait, or the shortest of the usable relays' own.
 */
static int64_t
rate_wait(struct relay_loop *l, int64_t now)
{
    int64_t g = throttle_global_wait(l->throttle, now), r = -1;

    for (size_t i = 0; i < l->p->nrelays && r != 0; i++) {
        int64_t w;
        if (!usable(l, i))
            continue;
        w = throttle_relay_wait(l->throttle, i, now);
        if (r < 0 || w < r)
            r = w;
    }
    return r > g ? r : g;
}

/*
 * fetch - make sure a message is pending, if the source has one.  Nothing
 * is taken from the source while the rates say wait: a message taken
 * early would sit here where the source can no longer stop it (a
 * suppression that lands meanwhile, a pause).
 */
static void
fetch(struct relay_loop *l, int64_t now)
{
    enum relay_next rn;

    if (l->have_pending || l->drained || l->stopping || l->fatal)
        return;
    if (rate_wait(l, now) > 0) {
        /* nothing taken early; but a source with nothing more to give
         * ends the run now, not when the rate would let one go */
        rn = l->src->peek ? l->src->peek(l->src->arg) : RELAY_NONE_NOW;
        if (rn != RELAY_DRAINED && rn != RELAY_AWAITING)
            return;
    } else {
        rn = l->src->next(l->src->arg, &l->pending);
    }
    switch (rn) {
    case RELAY_GOT:
        l->have_pending = 1;
        l->awaiting = 0;
        break;
    case RELAY_DRAINED:
        l->drained = 1;
        break;
    case RELAY_AWAITING:
        l->awaiting = 1;
        break;
    case RELAY_NONE_NOW:
        l->awaiting = 0;
        break;
    }
}

static void
submit(struct relay_loop *l, struct conn *k, const struct relay_msg *m)
{
    struct smtp_msg sm;

    sm.cookie = m->cookie;
    sm.mail_from = m->mail_from;
    sm.rcpt = m->rcpt;
    sm.smtputf8 = m->smtputf8;
    sm.data = m->data;
    sm.len = m->len;
    if (smtp_client_submit(k->c, &sm) == -1) {
        not_sent(l, m, "connection could not take the message");
        return;
    }
    k->fl[k->nfl].cookie = m->cookie;
    k->fl[k->nfl].domain = m->domain;
    k->fl[k->nfl].provider = m->provider;
    k->nfl++;
    l->inflight++;
}

/* waiting - messages that need a connection */
static int
waiting(const struct relay_loop *l)
{
    return l->have_pending || l->nheld > 0;
}

/*
 * free_conn - a ready connection with room for one more message whose
 * relay's own rate lets one go now; NULL when none, with *wait (if not
 * NULL) the ms until the relay of a free one would (0: none is free).
 * The search starts after the connection found last, so that a paced
 * send spreads over the connections it opened instead of leaving all
 * but the first idle.
 */
static struct conn *
free_conn(struct relay_loop *l, int64_t now, int64_t *wait)
{
    int64_t soonest = 0;

    for (int j = 0; j < l->nconns; j++) {
        int i = (l->rr + 1 + j) % l->nconns;
        struct conn *k = l->conns[i];
        int64_t w;
        if (!k->ready || k->dead || k->quitting || k->retire ||
            k->nfl >= SMTP_PIPELINE_MAX || smtp_client_capacity(k->c) <= 0)
            continue;
        w = throttle_relay_wait(l->throttle, k->relay, now);
        if (w == 0) {
            l->rr = i;
            return k;
        }
        if (soonest == 0 || w < soonest)
            soonest = w;
    }
    if (wait != NULL)
        *wait = soonest;
    return NULL;
}

/* dispatch - place held and new messages on free connections; returns
 * the ms until the throttle lets the next one go (0 if no wait). */
static int64_t
dispatch(struct relay_loop *l, int64_t now)
{
    int64_t wait = 0;

    for (;;) {
        int64_t rw;
        struct conn *k = free_conn(l, now, &rw);
        int placed = 0;

        if (k == NULL) {
            /* none free: when a relay's token comes (a connection of
             * its may be free, or one may be opened to it) */
            if (rw == 0 && waiting(l))
                rw = rate_wait(l, now);
            if (rw > 0 && (wait == 0 || rw < wait))
                wait = rw;
            break;
        }
        /* held messages first, oldest first */
        for (int i = 0; i < l->nheld; i++) {
            int64_t w =
                throttle_take_provider(l->throttle, l->held[i].domain,
                                       l->held[i].provider, k->relay, now);
            if (w == 0) {
                struct relay_msg m = l->held[i];
                memmove(&l->held[i], &l->held[i + 1],
                        (size_t)(l->nheld - i - 1) * sizeof l->held[0]);
                l->nheld--;
                submit(l, k, &m);
                placed = 1;
                break;
            }
            if (wait == 0 || w < wait)
                wait = w;
        }
        if (placed)
            continue;
        fetch(l, now);
        if (!l->have_pending) {
            int64_t g = rate_wait(l, now);
            if (g > 0 && (wait == 0 || g < wait))
                wait = g;
            break;
        }
        int64_t w = throttle_take_provider(l->throttle, l->pending.domain,
                                           l->pending.provider, k->relay, now);
        if (w == 0) {
            l->have_pending = 0;
            submit(l, k, &l->pending);
            continue;
        }
        if (wait == 0 || w < wait)
            wait = w;
        /* held is for a domain's own limit; under the global rate the
         * message stays pending */
        if (throttle_global_wait(l->throttle, now) > 0)
            break;
        if (l->nheld < HELD_MAX) {
            l->held[l->nheld++] = l->pending;
            l->have_pending = 0;
            continue;
        }
        break;
    }
    return wait;
}

int
relay_run(const struct relay_params *p, const struct relay_source *src,
          struct relay_stats *stats, struct err *e)
{
    struct relay_loop l;
    struct pollfd *pfd;
    int64_t now = relay_now_ms(), next_tick = now;
    int rc = 0;

    memset(&l, 0, sizeof l);
    memset(stats, 0, sizeof *stats);
    l.p = p;
    l.src = src;
    l.stats = stats;
    if (p->nrelays == 0)
        return err_set(e, EX_CONFIG,
                       "no [relay] in the configuration: set host (and "
                       "port, tls, username, password_env)");
    l.throttle = throttle_new(p->limits, now);
    throttle_relays(l.throttle, p->relays, p->nrelays, now);
    l.conns = xcalloc((size_t)p->concurrency, sizeof *l.conns);
    l.rs = xcalloc(p->nrelays, sizeof *l.rs);
    /* the connections, and the source's wake-up descriptor last */
    pfd = xcalloc((size_t)p->concurrency + 1, sizeof *pfd);

    for (;;) {
        now = relay_now_ms();
        if (now >= next_tick) {
            if (!l.stopping && src->tick(src->arg, now)) {
                l.stopping = 1;
                l.stop_at = now + p->stop_grace_ms;
            }
            next_tick = now + RELAY_TICK_MS;
        }
        if (l.fatal && !l.stopping) {
            l.stopping = 1;
            l.stop_at = now;
        }
        if (l.stopping) {
            /* never started: back to the source */
            for (int i = 0; i < l.nheld; i++)
                not_sent(&l, &l.held[i], "not sent: the run stopped first");
            l.nheld = 0;
            if (l.have_pending)
                not_sent(&l, &l.pending, "not sent: the run stopped first");
            l.have_pending = 0;
            for (int i = 0; i < l.nconns; i++) {
                struct conn *k = l.conns[i];
                if (k->dead)
                    continue;
                smtp_client_withdraw(k->c, "not sent: the run stopped first");
                if (now >= l.stop_at)
                    smtp_client_abort(k->c);
                else if (!k->quitting && k->nfl == 0) {
                    k->quitting = 1;
                    smtp_client_quit(k->c);
                }
            }
            /* the held refusals are judged now: nothing more comes (an
             * abort above may have handed over a few more) */
            streak_settle(&l);
        }
        int64_t wait = 0;
        if (!l.stopping)
            wait = dispatch(&l, now);
        /* nothing in flight, and the source has nothing until it has
         * our results: what is held back is judged now */
        if (!l.stopping && l.inflight == 0 && !waiting(&l) && l.awaiting)
            streak_settle(&l);
        /* a relay set aside: what it has not begun goes back (to another
         * relay), and its connections leave once idle */
        for (int i = 0; i < l.nconns; i++) {
            struct conn *k = l.conns[i];
            if (k->retire && !k->dead)
                smtp_client_withdraw(k->c, "not sent: its relay was set aside");
            if (k->retire && !k->dead && !k->quitting && k->nfl == 0) {
                k->quitting = 1;
                smtp_client_quit(k->c);
            }
        }
        /* when drained and idle, say goodbye */
        if (l.drained && !waiting(&l)) {
            for (int i = 0; i < l.nconns; i++) {
                struct conn *k = l.conns[i];
                if (!k->dead && !k->quitting && k->nfl == 0) {
                    k->quitting = 1;
                    smtp_client_quit(k->c);
                }
            }
        }
        reap(&l);
        if ((l.drained || l.stopping) && !waiting(&l) && l.nconns == 0 &&
            l.inflight == 0) {
            streak_settle(&l); /* nothing is held when relay_run returns */
            break;
        }
        /* more connections while messages wait and none is free; a
         * message is taken for that only when a connection could be
         * opened (not while every relay backs off: each claim counts as
         * an attempt), or to learn whether anything is left once every
         * relay is given up */
        if (!l.stopping &&
            (l.nconns > 0 || pick_relay(&l, now) >= 0 || all_given_up(&l)))
            fetch(&l, now);
        if (!l.stopping && waiting(&l) && free_conn(&l, now, NULL) == NULL &&
            l.nconns < p->concurrency) {
            int before = l.nconns;
            open_conn(&l, now);
            if (l.nconns == before && l.nconns == 0 && all_given_up(&l)) {
                size_t i = 0;
                for (; i + 1 < p->nrelays && !l.rs[i].last.msg[0]; i++)
                    ;
                l.fatal = 1;
                err_set(&l.ferr, EX_UNAVAILABLE,
                        "no relay reachable (%s:%d: %s)", p->relays[i].host,
                        p->relays[i].port,
                        l.rs[i].last.msg[0] ? l.rs[i].last.msg
                                            : "connection failed");
                continue;
            }
        }
        if (l.nconns == 0 && all_given_up(&l) && waiting(&l) && !l.fatal) {
            l.fatal = 1;
            err_set(&l.ferr, EX_UNAVAILABLE, "no relay reachable (%s:%d: %s)",
                    p->relays[0].host, p->relays[0].port,
                    l.rs[0].last.msg[0] ? l.rs[0].last.msg
                                        : "connection failed");
            continue;
        }

        /* poll */
        int64_t deadline = next_tick;
        if (wait > 0 && now + wait < deadline)
            deadline = now + wait;
        for (int i = 0; i < l.nconns; i++) {
            int64_t d = smtp_client_deadline(l.conns[i]->c);
            pfd[i].fd = smtp_client_fd(l.conns[i]->c);
            pfd[i].events = smtp_client_events(l.conns[i]->c);
            pfd[i].revents = 0;
            if (d >= 0 && d < deadline)
                deadline = d;
        }
        int timeout = deadline > now ? (int)(deadline - now) : 0;
        nfds_t nfd = (nfds_t)l.nconns;
        if (src->wake_fd >= 0 && !l.drained && !l.stopping) {
            pfd[nfd].fd = src->wake_fd;
            pfd[nfd].events = POLLIN;
            pfd[nfd].revents = 0;
            nfd++;
        }
        int n = poll(pfd, nfd, timeout);
        if (n == -1 && errno != EINTR) {
            l.fatal = 1;
            err_set(&l.ferr, EX_OSERR, "poll: %s", strerror(errno));
            continue;
        }
        if (n > 0 && nfd > (nfds_t)l.nconns && pfd[l.nconns].revents) {
            char drain[64];
            /* the source has something again: fetch() asks next loop */
            while (read(src->wake_fd, drain, sizeof drain) > 0)
                ;
        }
        now = relay_now_ms();
        int count = l.nconns;
        for (int i = 0; i < count; i++) {
            struct conn *k = l.conns[i];
            int64_t d = smtp_client_deadline(k->c);
            if (k->dead)
                continue;
            if ((n > 0 && pfd[i].revents) || (d >= 0 && d <= now))
                smtp_client_handle(k->c, n > 0 ? pfd[i].revents : 0, now);
        }
    }
    if (l.fatal) {
        *e = l.ferr;
        rc = -1;
    }
    throttle_free(l.throttle);
    free(l.conns);
    free(l.rs);
    free(pfd);
    return rc;
}
