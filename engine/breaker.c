/* SPDX-License-Identifier: ISC */
/*
 * breaker.c - the circuit breaker (see breaker.h).
 */
#include <stdio.h>
#include <string.h>

#include "breaker.h"

int
breaker_check(struct store *st, int64_t campaign,
              const struct breaker_limits *l, char *why, size_t size,
              struct err *e)
{
    struct store_breaker b;
    long sent, hard, compl ;
    int rc;

    why[0] = '\0';
    if ((rc = store_breaker_counts(st, campaign, &b, e)) != 1)
        return rc;
    if (strcmp(b.status, "done") == 0 || strcmp(b.status, "cancelled") == 0 ||
        strcmp(b.status, "paused") == 0)
        return 0;
    sent = b.sent - b.base_sent;
    hard = b.hard - b.base_hard;
    compl = b.complaints - b.base_complaints;
    if (sent < l->min || sent <= 0)
        return 0;
    if (l->hard > 0 && (double)hard / (double)sent > l->hard)
        snprintf(why, size,
                 "hard-bounce rate %.1f%% (%ld of %ld messages) passed "
                 "%.1f%%: check where the list came from, then campaign "
                 "resume",
                 100.0 * (double)hard / (double)sent, hard, sent,
                 100.0 * l->hard);
    else if (l->complaint > 0 && (double)compl / (double)sent > l->complaint)
        snprintf(why, size,
                 "complaint rate %.2f%% (%ld of %ld messages) passed "
                 "%.2f%%: check the list's consent and the content, then "
                 "campaign resume",
                 100.0 * (double)compl / (double)sent, compl, sent,
                 100.0 * l->complaint);
    else
        return 0;
    return store_breaker_trip(st, campaign, why, e);
}
