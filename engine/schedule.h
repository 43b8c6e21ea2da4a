/* SPDX-License-Identifier: ISC */
/*
 * schedule.h - time in a place: sending windows, the calendar day of a
 * daily cap and warm-up, and the time of a scheduled campaign.
 *
 * Owns the reading of `[limits] window`, `timezone`, `daily_cap`,
 * `warmup`, `warmup_start` and `send --at`, and the arithmetic on them.
 * Pure but for the clock passed in: every function takes the instant
 * (Unix seconds) it answers for, so the tests drive it over DST changes.
 *
 * Time zones are IANA names (Europe/Rome), read from the system's tz
 * database (/usr/share/zoneinfo, or $TZDIR) by the C library: the zone
 * is switched by setting TZ around localtime_r/mktime.  That is not
 * thread-safe, so these functions run on the command's own thread
 * before a send starts (queue.h is handed instants, never zones).  ""
 * is the machine's own zone.
 *
 * A window "Mon-Fri 09:00-18:00 Europe/Rome" is open on the named days
 * (all days when none are named) from the start, inclusive, to the end,
 * exclusive, in local time; an end at or before the start runs to the
 * next day (22:00-06:00).  Local times that a DST change skips or repeats
 * are taken as mktime() takes them: a window is never shorter than the
 * clocks make it.  Several windows make one schedule: open when any is.
 */
#ifndef CAMPAIGN_SCHEDULE_H
#define CAMPAIGN_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#define SCHED_TZ_MAX 64
#define SCHED_WINDOWS_MAX 8
#define SCHED_WARMUP_MAX 64
#define SCHED_TEXT_MAX 96

struct sched_window {
    unsigned days;             /* bit d: open on weekday d (0 Sunday) */
    int start, end;            /* minutes after local midnight (end <= 1440) */
    char tz[SCHED_TZ_MAX];     /* "": the default zone */
    char text[SCHED_TEXT_MAX]; /* as written, for messages */
};

/* sched_tz_valid - 1 when tz names a zone of the tz database ("" and
 * "UTC" always do), 0 when not: glibc would silently take an unknown
 * name for UTC. */
int sched_tz_valid(const char *tz);

/* sched_window_parse - "[DAYS] HH:MM-HH:MM [ZONE]"; DAYS like Mon-Fri,
 * Sat,Sun or Fri-Mon (English three-letter names, any case).  0, or -1
 * with why. */
int sched_window_parse(const char *s, struct sched_window *w, char *why,
                       size_t whylen);

/*
 * sched_window_check - is the schedule of n windows open at now (zone
 * tz for windows that name none)?  1 when open, with *change the instant
 * it closes (windows that meet or overlap count as one); 0 when closed,
 * with *change the instant it next opens (within 8 days; 0 if never).
 * No window (n == 0): always open, *change 0.
 */
int sched_window_check(const struct sched_window *w, size_t n, const char *tz,
                       int64_t now, int64_t *change);

/* sched_day - the local calendar day of t in tz, as days since
 * 1970-01-01 (a daily cap's key). */
int64_t sched_day(const char *tz, int64_t t);
/* sched_date_parse - "YYYY-MM-DD" as a day number; -1 when not a date. */
int sched_date_parse(const char *s, int64_t *day);

/* daily allowance: warm-up steps from warmup_start, then daily_cap */
struct sched_cap {
    long daily_cap; /* 0: none */
    long warmup[SCHED_WARMUP_MAX];
    size_t nwarmup;
    int64_t warmup_start; /* day number (sched_day) */
};

/* sched_warmup_parse - "500, 1000, 2500": positive, not decreasing */
int sched_warmup_parse(const char *s, struct sched_cap *c, char *why,
                       size_t whylen);
/* sched_allowance - the messages day may carry: the warm-up step of the
 * day (its first step before warmup_start, daily_cap or none after the
 * last), never over daily_cap; -1 when unlimited. */
long sched_allowance(const struct sched_cap *c, int64_t day);

/*
 * sched_at_parse - "YYYY-MM-DD HH:MM[:SS] [ZONE]" (or with a T between
 * date and time) as an instant; the zone defaults to tz.  -1 with why
 * for a malformed text, an unknown zone, or a local time that the zone's
 * clocks skip.
 */
int sched_at_parse(const char *s, const char *tz, int64_t *t, char *why,
                   size_t whylen);

/* sched_format - "2026-12-24 09:00 CET" in tz */
void sched_format(int64_t t, const char *tz, char *buf, size_t n);

#endif
