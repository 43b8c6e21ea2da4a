/* SPDX-License-Identifier: ISC */
/*
 * test_schedule.c - sending windows, calendar days, warm-up allowances and
 * scheduled times (engine/schedule.c), at fixed instants: the instants
 * (Unix seconds, UTC) were computed independently with Python's zoneinfo.
 * Europe/Rome's clocks go forward on 2026-03-29 (02:00 CET -> 03:00 CEST)
 * and back on 2026-10-25 (03:00 CEST -> 02:00 CET).
 */
#include <stdlib.h>

#include "th.h"

#include "schedule.h"

#define H 3600

static struct sched_window
win(const char *s)
{
    struct sched_window w;
    char why[128];

    if (sched_window_parse(s, &w, why, sizeof why) == -1) {
        printf("# %s: %s\n", s, why);
        memset(&w, 0, sizeof w);
    }
    return w;
}

/* check - the schedule of the windows texts at now: open?, change */
static int
check(const char *a, const char *b, const char *tz, int64_t now,
      int64_t *change)
{
    struct sched_window w[2];
    size_t n = 0;

    w[n++] = win(a);
    if (b)
        w[n++] = win(b);
    return sched_window_check(w, n, tz, now, change);
}

int
main(void)
{
    const char *rome = "Europe/Rome";
    struct sched_window w;
    struct sched_cap cap;
    char why[160], buf[64];
    int64_t ch, t, day;

    setenv("TZ", "UTC", 1);

    /* parsing */
    TH_CHECK(sched_window_parse("Mon-Fri 09:00-18:00 Europe/Rome", &w, why,
                                sizeof why) == 0 &&
                 w.days == 0x3e && w.start == 540 && w.end == 1080 &&
                 strcmp(w.tz, rome) == 0,
             "window: Mon-Fri 09:00-18:00 Europe/Rome");
    TH_CHECK(sched_window_parse("sat,SUN 10:00-12:00", &w, why, sizeof why) ==
                     0 &&
                 w.days == 0x41 && w.tz[0] == '\0',
             "window: Sat,Sun, any case, no zone");
    TH_CHECK(sched_window_parse("Fri-Mon 22:00-06:00", &w, why, sizeof why) ==
                     0 &&
                 w.days == 0x63,
             "window: Fri-Mon wraps over the week end");
    TH_CHECK(sched_window_parse("08:00-24:00", &w, why, sizeof why) == 0 &&
                 w.days == 0x7f && w.end == 1440,
             "window: no days is every day; 24:00 ends it");
    {
        static const char *const bad[] = {"Mon-Fri 9-18",
                                          "Funday 09:00-18:00",
                                          "09:00-09:00",
                                          "09:00-18:00 Mars/Olympus",
                                          "09:00-25:00",
                                          "Mon-Fri",
                                          "09:00-18:00 Europe/Rome extra",
                                          "",
                                          "09:60-10:00",
                                          "09:00-18:00 ../../etc/passwd"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            TH_CHECK(sched_window_parse(bad[i], &w, why, sizeof why) == -1,
                     "window refused: \"%s\"", bad[i]);
    }
    TH_CHECK(sched_tz_valid(rome) && sched_tz_valid("UTC") &&
                 !sched_tz_valid("Europe/Nowhere") &&
                 !sched_tz_valid("/etc/passwd"),
             "zones: known, unknown, a path");

    /* windows in Europe/Rome */
    TH_CHECK(check("Mon-Fri 09:00-18:00 Europe/Rome", NULL, "", 1796374800,
                   &ch) == 1 &&
                 ch == 1796403600,
             "Fri 10:00 CET: open, closes 18:00 CET (17:00 UTC)");
    TH_CHECK(check("Mon-Fri 09:00-18:00 Europe/Rome", NULL, "", 1796403600,
                   &ch) == 0 &&
                 ch == 1796630400,
             "Fri 18:00 CET: closed (the end is exclusive), opens Mon 09:00");
    TH_CHECK(check("Mon-Fri 09:00-18:00", NULL, rome, 1796403600 - 1, &ch) ==
                     1 &&
                 ch == 1796403600,
             "the default zone applies to a window without one");
    TH_CHECK(check("Mon-Fri 09:00-18:00 Europe/Rome", NULL, "", 1774699200,
                   &ch) == 0 &&
                 ch == 1774854000,
             "Sat before the spring change: opens Mon 09:00 CEST (07:00 UTC)");
    TH_CHECK(check("22:00-06:00 Europe/Rome", NULL, "", 1796427000, &ch) == 1 &&
                 ch == 1796446800,
             "22:00-06:00 at 00:30: open, closes 06:00 the next day");
    TH_CHECK(check("22:00-06:00 Europe/Rome", NULL, "", 1796382000, &ch) == 0 &&
                 ch == 1796374800 + 12 * H,
             "22:00-06:00 at noon: opens 22:00 CET (21:00 UTC)");
    TH_CHECK(check("01:00-04:00 Europe/Rome", NULL, "", 1774744200, &ch) == 1 &&
                 ch == 1774749600,
             "spring forward: 01:00-04:00 lasts two hours (closes 02:00 UTC)");
    TH_CHECK(check("02:30-03:15 Europe/Rome", NULL, "", 1774746300, &ch) == 1 &&
                 ch == 1774746900,
             "spring forward: 02:30-03:15 opens when the clocks resume (03:00 "
             "CEST) and closes at 03:15");
    TH_CHECK(check("02:30-03:15 Europe/Rome", NULL, "", 1774742400, &ch) == 0 &&
                 ch == 1774746000,
             "spring forward: before it, 02:30-03:15 opens at 03:00 CEST");
    TH_CHECK(check("00:00-06:00 Europe/Rome", NULL, "", 1792882800, &ch) == 1 &&
                 ch == 1792904400 && ch - 1792879200 == 7 * H,
             "fall back: 00:00-06:00 lasts seven hours");
    TH_CHECK(check("Mon-Fri 09:00-12:00 Europe/Rome",
                   "Mon-Fri 12:00-18:00 Europe/Rome", "", 1796374800,
                   &ch) == 1 &&
                 ch == 1796403600,
             "two windows that meet close at the second one's end");
    TH_CHECK(check("Sat 09:00-10:00 Europe/Rome", "Mon 07:00-08:00 UTC", "",
                   1796403600, &ch) == 0 &&
                 ch == 1796457600,
             "closed: the earliest opening of several (Sat 09:00 CET)");
    TH_CHECK(sched_window_check(NULL, 0, "", 1796374800, &ch) == 1 && ch == 0,
             "no window: always open");

    /* calendar days */
    TH_CHECK(sched_day(rome, 1796427000) == 20792 &&
                 sched_day("UTC", 1796427000) == 20791,
             "23:30 UTC on 2026-12-04 is the 5th in Rome, the 4th in UTC");
    TH_CHECK(sched_date_parse("2026-12-04", &day) == 0 && day == 20791,
             "date 2026-12-04 is day 20791");
    TH_CHECK(sched_date_parse("2026-02-29", &day) == -1 &&
                 sched_date_parse("2028-02-29", &day) == 0 &&
                 sched_date_parse("2026-13-01", &day) == -1 &&
                 sched_date_parse("2026-12-4", &day) == -1,
             "dates: leap years, months, the form");

    /* warm-up and cap */
    memset(&cap, 0, sizeof cap);
    TH_CHECK(sched_warmup_parse("500, 1000,2500", &cap, why, sizeof why) == 0 &&
                 cap.nwarmup == 3 && cap.warmup[2] == 2500,
             "warmup: 500, 1000,2500");
    TH_CHECK(sched_warmup_parse("500, 100", &cap, why, sizeof why) == -1 &&
                 sched_warmup_parse("500,", &cap, why, sizeof why) == -1 &&
                 sched_warmup_parse("0", &cap, why, sizeof why) == -1,
             "warmup refused: going down, a trailing comma, zero");
    sched_warmup_parse("500, 1000, 2500", &cap, why, sizeof why);
    cap.warmup_start = 20791;
    TH_CHECK(sched_allowance(&cap, 20790) == 500 &&
                 sched_allowance(&cap, 20791) == 500 &&
                 sched_allowance(&cap, 20792) == 1000 &&
                 sched_allowance(&cap, 20793) == 2500 &&
                 sched_allowance(&cap, 20794) == -1,
             "warm-up steps by day, unlimited after the last");
    cap.daily_cap = 2000;
    TH_CHECK(sched_allowance(&cap, 20793) == 2000 &&
                 sched_allowance(&cap, 20794) == 2000 &&
                 sched_allowance(&cap, 20791) == 500,
             "daily_cap bounds the warm-up and follows it");
    cap.nwarmup = 0;
    TH_CHECK(sched_allowance(&cap, 1) == 2000, "daily_cap alone");
    cap.daily_cap = 0;
    TH_CHECK(sched_allowance(&cap, 1) == -1, "neither: unlimited");

    /* scheduled times */
    TH_CHECK(sched_at_parse("2026-12-24 09:00 Europe/Rome", "", &t, why,
                            sizeof why) == 0 &&
                 t == 1798099200,
             "at: 2026-12-24 09:00 Europe/Rome is 08:00 UTC");
    TH_CHECK(sched_at_parse("2026-07-01T09:00", rome, &t, why, sizeof why) ==
                     0 &&
                 t == 1782889200,
             "at: the default zone, summer time, a T");
    TH_CHECK(sched_at_parse("2026-03-29 02:30 Europe/Rome", "", &t, why,
                            sizeof why) == -1,
             "at: 02:30 on the spring change does not exist in Rome");
    TH_CHECK(sched_at_parse("2026-12-24 09:00 Europe/Nowhere", "", &t, why,
                            sizeof why) == -1 &&
                 sched_at_parse("tomorrow", "", &t, why, sizeof why) == -1 &&
                 sched_at_parse("2026-12-24", "", &t, why, sizeof why) == -1,
             "at refused: unknown zone, words, no time");
    TH_CHECK(sched_at_parse("2027-02-30 09:00", rome, &t, why, sizeof why) ==
                     -1 &&
                 strstr(why, "no such date") != NULL,
             "at: 2027-02-30 is no such date (not a DST gap)");
    sched_format(1798099200, rome, buf, sizeof buf);
    TH_STREQ(buf, "2026-12-24 09:00 CET", "format in Rome");
    TH_CHECK(strcmp(getenv("TZ"), "UTC") == 0, "TZ is as it was");
    return TH_DONE();
}
