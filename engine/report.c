/* SPDX-License-Identifier: ISC */
/*
 * report.c - a campaign's rates and their denominators (see report.h).
 */
#include <math.h>

#include "report.h"

/* set - one rate */
static void
set(struct report_rate *r, const char *key, const char *label, const char *of,
    long numerator, long denominator)
{
    r->key = key;
    r->label = label;
    r->of = of;
    r->numerator = numerator;
    r->denominator = denominator;
}

void
report_rates_from(const struct store_rate_counts *c, struct report_rates *r)
{
    set(&r->rate[REPORT_RATE_BOUNCE], "bounce_rate", "BOUNCE%",
        REPORT_OF_ANSWERED, c->bounced, c->delivered + c->bounced);
    set(&r->rate[REPORT_RATE_COMPLAINT], "complaint_rate", "COMPLAINT%",
        REPORT_OF_DELIVERED, c->complained, c->delivered);
    set(&r->rate[REPORT_RATE_UNSUBSCRIBE], "unsubscribe_rate", "UNSUB%",
        REPORT_OF_DELIVERED, c->unsubscribed, c->delivered);
    set(&r->rate[REPORT_RATE_OPEN], "open_rate", "OPEN%", REPORT_OF_DELIVERED,
        c->opened, c->delivered);
    set(&r->rate[REPORT_RATE_CLICK], "click_rate", "CLICK%",
        REPORT_OF_DELIVERED, c->clicked, c->delivered);
}

int
report_rates(struct store *st, int64_t campaign, struct report_rates *r,
             struct err *e)
{
    struct store_rate_counts c;

    if (store_report_counts(st, campaign, &c, e) == -1)
        return -1;
    report_rates_from(&c, r);
    return 0;
}

double
report_rate_value(const struct report_rate *r)
{
    double scale = pow(10, REPORT_RATE_DIGITS);

    if (r->denominator <= 0)
        return -1;
    return round((double)r->numerator / (double)r->denominator * scale) / scale;
}

double
report_rate_percent(const struct report_rate *r)
{
    if (r->denominator <= 0)
        return -1;
    return 100.0 * (double)r->numerator / (double)r->denominator;
}
