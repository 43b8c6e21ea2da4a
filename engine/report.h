/* SPDX-License-Identifier: ISC */
/*
 * report.h - a campaign's rates, each with the denominator it is of; its
 * funnel, its recipients grouped by receiving provider, its opens and
 * clicks over time.
 *
 * Owns what the figures of `campaign report` mean (the outputs -
 * cmd/cmd_report.c, engine/report_html.c - only format them), and how
 * they are computed from the database's aggregates (db/store_report.c)
 * with bounded memory.  The rates:  A rate is a numerator
 * of people (or of messages, for bounces) over a named denominator, and
 * every output says which (the table's legend, the JSON's "of"):
 *
 *   delivered          ledger rows `sent`: the relay accepted the message
 *                      (250) and no bounce came back since (a DSN that
 *                      `bounces ingest` matches moves the row to
 *                      `bounced`).  What a Mailchimp user knows as
 *                      "successful deliveries".
 *   delivered+bounced  the messages the relay answered for good: the
 *                      delivered and the bounced (hard, soft and blocked;
 *                      refused during the session or by a DSN later).
 *                      Deferred, expired, failed, uncertain, held,
 *                      unbuildable, queued, suppressed and cancelled
 *                      recipients are in neither.
 *
 *   bounce_rate       bounced / delivered+bounced
 *   complaint_rate    people who complained (ARF, not an unverified
 *                     match) / delivered
 *   unsubscribe_rate  people who unsubscribed (link or mail) / delivered
 *   open_rate         people who opened (a person's open: not a privacy
 *                     proxy's or a scanner's, engine/machine.h) /
 *                     delivered
 *   click_rate        people who clicked (a person's click) / delivered
 *
 * The people counted are among the delivered only, so a rate never
 * passes 1.  The counts are the database's (db/store.h
 * store_report_counts: aggregates in SQL); this module does the
 * arithmetic, and formats nothing.
 */
#ifndef CAMPAIGN_REPORT_H
#define CAMPAIGN_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "../db/store.h"
#include "err.h"

/* the denominators' names, as the JSON's "of" and the legend say them */
#define REPORT_OF_DELIVERED "delivered"
#define REPORT_OF_ANSWERED "delivered+bounced"

/* decimals of a rate's value (0.1429: a hundredth of a percent) */
#define REPORT_RATE_DIGITS 4

enum report_rate_id {
    REPORT_RATE_BOUNCE,
    REPORT_RATE_COMPLAINT,
    REPORT_RATE_UNSUBSCRIBE,
    REPORT_RATE_OPEN,
    REPORT_RATE_CLICK,
    REPORT_RATE_N
};

struct report_rate {
    const char *key;   /* the JSON key: "bounce_rate", ... */
    const char *label; /* the table's column: "BOUNCE%", ... */
    const char *of;    /* the denominator's name: REPORT_OF_* */
    long numerator, denominator;
};

struct report_rates {
    struct report_rate rate[REPORT_RATE_N]; /* in enum report_rate_id order */
};

/* report_rates_from - the rates of the counts c (no I/O). */
void report_rates_from(const struct store_rate_counts *c,
                       struct report_rates *r);
/* report_rate_value - numerator / denominator rounded to
 * REPORT_RATE_DIGITS decimals; -1 when the denominator is 0 (no rate). */
double report_rate_value(const struct report_rate *r);
/* report_rate_percent - 100 * numerator / denominator, unrounded; -1
 * when the denominator is 0. */
double report_rate_percent(const struct report_rate *r);

/* report_rate_set - one rate: key and label as the outputs name it, of
 * the denominator's name (REPORT_OF_* or a funnel step's). */
void report_rate_set(struct report_rate *r, const char *key, const char *label,
                     const char *of, long numerator, long denominator);

/*
 * The funnel: recipients (ledger rows) -> sent (handed to a relay at
 * least once) -> accepted (delivered: rows `sent`) -> opened and clicked
 * (people among the accepted).  Each step's rate is of the step it
 * names: sent of recipients, accepted of sent, opened and clicked of
 * accepted.
 */
enum report_step_id {
    REPORT_STEP_RECIPIENTS,
    REPORT_STEP_SENT,
    REPORT_STEP_ACCEPTED,
    REPORT_STEP_OPENED,
    REPORT_STEP_CLICKED,
    REPORT_STEP_N
};
struct report_funnel {
    /* key: the step's name; of: the step it is a rate of (NULL for the
     * first) */
    struct report_rate step[REPORT_STEP_N];
};
/* report_funnel_from - the funnel of recipients and attempted (ledger
 * counts) and the rates' counts c. */
void report_funnel_from(long recipients, long attempted,
                        const struct store_rate_counts *c,
                        struct report_funnel *f);

/*
 * The recipients grouped by receiving provider and by domain.  A group
 * counts its recipients and what came of them:
 *   attempted   handed to a relay and answered for at least once
 *               (report_handed: the funnel's "sent")
 *   delivered   the ledger's sent; deferred: waited at least once (tried
 *               again, or waiting); bounced, and by class
 *   queued      left to send (queued, or being sent); failed; suppressed
 *               (skipped at the freeze or the claim); waiting: the
 *               ledger's deferred (a retry to come)
 *   opened, clicked   people among the delivered (the provider's rates)
 *   opened_unique, clicked_unique, opens, clicks, complained,
 *   unsubscribed      people (and their events) among all recipients
 */
struct report_group {
    const char *name; /* the provider, the domain, or REPORT_GROUP_* */
    long recipients, attempted, delivered, deferred, bounced;
    long bounced_hard, bounced_soft, blocked, queued, failed, suppressed;
    long waiting; /* the ledger's deferred: waiting for a retry now */
    long opened, clicked;
    long opened_unique, clicked_unique, opens, clicks, complained, unsubscribed;
};

/* report_handed - was the recipient's message handed to a relay and
 * answered for: delivered, bounced, deferred or expired, or sent without
 * a known answer (uncertain, now or once), or failed or cancelled after
 * a reply.  Not a row only claimed: the ledger records a first attempt
 * at the claim, before the message is built or a relay reached
 * (unbuildable, held, a relay that refused us or could not be reached
 * put the row back). */
int report_handed(const struct store_recipient *r);

/*
 * A receiving provider's rates: delivered and deferred of the recipients
 * handed to a relay (sent), bounced of delivered+bounced, opened and
 * clicked of delivered.
 */
enum report_prate_id {
    REPORT_PRATE_DELIVERY,
    REPORT_PRATE_DEFERRAL,
    REPORT_PRATE_BOUNCE,
    REPORT_PRATE_OPEN,
    REPORT_PRATE_CLICK,
    REPORT_PRATE_N
};
#define REPORT_OF_SENT "sent"
void report_provider_rates(const struct report_group *p,
                           struct report_rate r[REPORT_PRATE_N]);

/*
 * report_groups - the campaign's recipients by domain as the database
 * keeps them counted (db/store.h store_report_groups: a row per domain
 * and kind of outcome, n recipients alike, whatever the campaign's size),
 * each row counted as n recipients in its provider's group - fn(domain,
 * fnarg), NULL for a domain that is its own group - and in its domain's
 * (REPORT_GROUP_FORGOTTEN for both once forgotten).  Then pcb for the kp
 * largest provider groups (recipients, then name) and once for
 * REPORT_GROUP_OTHER with the rest summed, if any; dcb the same for the
 * kd largest domains.  *attempted: the recipients handed to a relay.
 * Memory is bounded by the groups, never the recipients: at most
 * REPORT_GROUPS_MAX groups of each are kept, and a recipient of any
 * further name counts in the rest.
 */
#define REPORT_GROUPS_MAX 65536
#define REPORT_GROUP_FORGOTTEN "(forgotten)"
#define REPORT_GROUP_OTHER "(other)"
typedef const char *(*report_provider_fn)(const char *domain, void *arg);
typedef int (*report_group_cb)(const struct report_group *g, void *arg);
int report_groups(struct store *st, int64_t campaign, report_provider_fn fn,
                  void *fnarg, size_t kp, report_group_cb pcb, size_t kd,
                  report_group_cb dcb, void *arg, long *attempted,
                  struct err *e);

/*
 * Opens and clicks over time: an hour a bucket for the first
 * REPORT_HOURLY hours from the hour the campaign started, then a day a
 * bucket, at most REPORT_DAYS of them (an event later than that counts
 * in the last); an event before the start (a clock's skew) counts in the
 * first.  The buckets run from the start to the last event's, the empty
 * ones included, so memory is bounded by REPORT_HOURLY + REPORT_DAYS
 * whatever the number of events.
 */
#define REPORT_HOURLY 48
#define REPORT_DAYS 400
struct report_bucket {
    int64_t at;         /* its start, seconds since the epoch (UTC) */
    int hours;          /* 1 or 24 */
    long opens, clicks; /* people's */
    long machine_opens; /* machines' (proxies, scanners) */
    long machine_clicks;
};
struct report_timeline {
    int64_t start; /* the first bucket's start; 0: no event */
    size_t n;      /* buckets in use */
    struct report_bucket b[REPORT_HOURLY + REPORT_DAYS];
};
/* report_timeline_init - empty, its hours counted from start_s (seconds,
 * rounded down to the hour). */
void report_timeline_init(struct report_timeline *t, int64_t start_s);
/* report_timeline_add - one open (click 0) or click at at_ms;
 * report_timeline_add_n - n of them. */
void report_timeline_add(struct report_timeline *t, int64_t at_ms, int click,
                         int machine);
void report_timeline_add_n(struct report_timeline *t, int64_t at_ms, int click,
                           int machine, long n);
/* report_timeline - the campaign's timeline from the database, from
 * started_s (0: from its first open or click); -1 (e filled) when it
 * cannot be read. */
int report_timeline(struct store *st, int64_t campaign, int64_t started_s,
                    struct report_timeline *t, struct err *e);

#endif
