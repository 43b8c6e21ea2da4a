/* SPDX-License-Identifier: ISC */
/*
 * clock.h - the wall clock of schedules, windows, daily caps and retries.
 *
 * clock_now() is time(NULL), unless the environment variable
 * CAMPAIGN_TEST_NOW is set: then the clock starts at that instant (Unix
 * seconds, or "YYYY-MM-DD HH:MM[:SS]" in UTC) when the process starts and
 * runs on at the real pace from there.  It exists for the tests, which
 * drive `campaign run-due` across a sending window, a daily cap and
 * deferral back-offs without waiting days; it is documented as such and
 * nothing else should set it.  Rates and timeouts use the monotonic clock
 * (relay_now_ms) and are not affected.
 */
#ifndef CAMPAIGN_CLOCK_H
#define CAMPAIGN_CLOCK_H

#include <stdint.h>

#include "err.h"

#define CLOCK_TEST_ENV "CAMPAIGN_TEST_NOW"

/* clock_init - read CAMPAIGN_TEST_NOW; -1 (EX_USAGE) when it is set and
 * not a time.  Called once by main before any thread starts; without
 * it, clock_now() is time(NULL). */
int clock_init(struct err *e);
/* clock_now - the wall clock, in Unix seconds. */
int64_t clock_now(void);
/* clock_is_fake - 1 when CAMPAIGN_TEST_NOW moved the clock */
int clock_is_fake(void);

#endif
