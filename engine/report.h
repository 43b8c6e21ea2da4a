/* SPDX-License-Identifier: ISC */
/*
 * report.h - a campaign's rates, each with the denominator it is of.
 *
 * Owns what the rates of `campaign report` mean.  A rate is a numerator
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
/* report_rates - the campaign's rates from the database; -1 (e filled)
 * when it cannot be read. */
int report_rates(struct store *st, int64_t campaign, struct report_rates *r,
                 struct err *e);
/* report_rate_value - numerator / denominator rounded to
 * REPORT_RATE_DIGITS decimals; -1 when the denominator is 0 (no rate). */
double report_rate_value(const struct report_rate *r);
/* report_rate_percent - 100 * numerator / denominator, unrounded; -1
 * when the denominator is 0. */
double report_rate_percent(const struct report_rate *r);

#endif
