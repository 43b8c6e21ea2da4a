/* SPDX-License-Identifier: ISC */
/*
 * schedule.c - windows, calendar days and scheduled times (schedule.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "schedule.h"

static const char *const day_names[7] = {"sun", "mon", "tue", "wed",
                                         "thu", "fri", "sat"};

/* ---- the zone: TZ set around the C library's conversions ---- */

struct zone {
    char *saved; /* TZ as it was, or NULL */
    int had;
    int switched;
};

static void
zone_enter(struct zone *z, const char *tz)
{
    const char *cur = getenv("TZ");

    z->switched = 0;
    z->saved = NULL;
    z->had = cur != NULL;
    if (tz == NULL || *tz == '\0')
        return;
    if (cur != NULL && (z->saved = strdup(cur)) == NULL)
        abort();
    setenv("TZ", tz, 1);
    tzset();
    z->switched = 1;
}

static void
zone_leave(struct zone *z)
{
    if (!z->switched)
        return;
    if (z->had)
        setenv("TZ", z->saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(z->saved);
}

int
sched_tz_valid(const char *tz)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    char magic[4];
    FILE *f;
    size_t n;

    if (*tz == '\0' || strcmp(tz, "UTC") == 0)
        return 1;
    if (tz[0] == '/' || strstr(tz, "..") != NULL || strlen(tz) >= SCHED_TZ_MAX)
        return 0;
    for (const char *p = tz; *p; p++)
        if (!isalnum((unsigned char)*p) && strchr("/_+-", *p) == NULL)
            return 0;
    if (dir == NULL || *dir == '\0')
        dir = "/usr/share/zoneinfo";
    if (snprintf(path, sizeof path, "%s/%s", dir, tz) >= (int)sizeof path)
        return 0;
    if ((f = fopen(path, "rb")) == NULL)
        return 0;
    n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return n == 4 && memcmp(magic, "TZif", 4) == 0;
}

/* ---- days ---- */

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date
 * (H. Hinnant's algorithm) */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int64_t
sched_day(const char *tz, int64_t t)
{
    struct zone z;
    struct tm tm;
    time_t tt = (time_t)t;

    zone_enter(&z, tz);
    localtime_r(&tt, &tm);
    zone_leave(&z);
    return days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                           (unsigned)tm.tm_mday);
}

int
sched_date_parse(const char *s, int64_t *day)
{
    int y, m, d, n = 0;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};

    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 ||
        n != 10 || y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 ||
        d > mdays[m - 1])
        return -1;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return -1;
    *day = days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

/* ---- windows ---- */

static int
day_index(const char *s, size_t n)
{
    if (n != 3)
        return -1;
    for (int i = 0; i < 7; i++)
        if (strncasecmp(s, day_names[i], 3) == 0)
            return i;
    return -1;
}

/* parse_days - "Mon-Fri", "Sat,Sun", "Fri-Mon,Wed": the mask, or 0 when
 * the word is not a day list */
static unsigned
parse_days(const char *s)
{
    unsigned mask = 0;

    while (*s) {
        const char *e = s + strcspn(s, ",");
        const char *dash = memchr(s, '-', (size_t)(e - s));
        int a, b;

        if (dash == NULL) {
            if ((a = day_index(s, (size_t)(e - s))) == -1)
                return 0;
            b = a;
        } else if ((a = day_index(s, (size_t)(dash - s))) == -1 ||
                   (b = day_index(dash + 1, (size_t)(e - dash - 1))) == -1)
            return 0;
        for (int i = a;; i = (i + 1) % 7) {
            mask |= 1u << i;
            if (i == b)
                break;
        }
        s = *e ? e + 1 : e;
    }
    return mask;
}

/* parse_hm - "HH:MM" (00:00 to 24:00) as minutes, or -1 */
static int
parse_hm(const char *s, size_t n)
{
    int h, m;

    if (n != 5 || !isdigit((unsigned char)s[0]) ||
        !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    h = (s[0] - '0') * 10 + (s[1] - '0');
    m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 24 || m > 59 || (h == 24 && m != 0))
        return -1;
    return h * 60 + m;
}

int
sched_window_parse(const char *s, struct sched_window *w, char *why,
                   size_t whylen)
{
    char words[3][SCHED_TEXT_MAX];
    int nw = 0, i = 0;
    const char *p = s;

    memset(w, 0, sizeof *w);
    if (strlen(s) >= sizeof w->text) {
        snprintf(why, whylen, "longer than %zu characters", sizeof w->text - 1);
        return -1;
    }
    memcpy(w->text, s, strlen(s) + 1);
    for (;;) {
        size_t n;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        n = strcspn(p, " \t");
        if (nw == 3) {
            snprintf(why, whylen, "more than days, hours and a zone");
            return -1;
        }
        memcpy(words[nw], p, n);
        words[nw++][n] = '\0';
        p += n;
    }
    if (nw == 0) {
        snprintf(why, whylen, "empty: like Mon-Fri 09:00-18:00 Europe/Rome");
        return -1;
    }
    w->days = 0x7f;
    if (!isdigit((unsigned char)words[0][0])) {
        if ((w->days = parse_days(words[0])) == 0) {
            snprintf(why, whylen,
                     "\"%s\" is not a list of days (like Mon-Fri or Sat,Sun)",
                     words[0]);
            return -1;
        }
        i = 1;
    }
    if (i >= nw) {
        snprintf(why, whylen, "no hours (like 09:00-18:00)");
        return -1;
    }
    {
        const char *h = words[i];
        const char *dash = strchr(h, '-');
        if (dash == NULL ||
            (w->start = parse_hm(h, (size_t)(dash - h))) == -1 ||
            (w->end = parse_hm(dash + 1, strlen(dash + 1))) == -1 ||
            w->start == 1440) {
            snprintf(why, whylen, "\"%s\" is not hours like 09:00-18:00", h);
            return -1;
        }
        if (w->start == w->end) {
            snprintf(why, whylen, "\"%s\" is an empty window", h);
            return -1;
        }
        i++;
    }
    if (i < nw) {
        if (!sched_tz_valid(words[i]) || words[i][0] == '\0') {
            snprintf(why, whylen,
                     "unknown time zone \"%s\" (an IANA name "
                     "such as Europe/Rome)",
                     words[i]);
            return -1;
        }
        memcpy(w->tz, words[i], strlen(words[i]) + 1);
        i++;
    }
    if (i < nw) {
        snprintf(why, whylen, "\"%s\" after the zone", words[i]);
        return -1;
    }
    return 0;
}

/* local_at - the instant of local date (y, m, d + dd) at minute min
 * (1440: midnight after), in the current zone */
static int64_t
local_at(const struct tm *date, int dd, int min)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    tm.tm_year = date->tm_year;
    tm.tm_mon = date->tm_mon;
    tm.tm_mday = date->tm_mday + dd + (min == 1440);
    tm.tm_hour = (min % 1440) / 60;
    tm.tm_min = min % 60;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

/* one_window - in the current zone: 1 and *close when open at now, else
 * 0 and *open the next opening (0: none within 8 days) */
static int
one_window(const struct sched_window *w, int64_t now, int64_t *open,
           int64_t *close)
{
    struct tm today, day;
    time_t tt = (time_t)now;

    localtime_r(&tt, &today);
    *open = 0;
    for (int dd = -1; dd <= 8; dd++) {
        struct tm noon = today;
        time_t nt;
        int64_t o, c;

        noon.tm_mday += dd;
        noon.tm_hour = 12;
        noon.tm_min = noon.tm_sec = 0;
        noon.tm_isdst = -1;
        nt = mktime(&noon);
        localtime_r(&nt, &day);
        if (!(w->days & (1u << day.tm_wday)))
            continue;
        o = local_at(&day, 0, w->start);
        c = local_at(&day, w->end <= w->start ? 1 : 0, w->end);
        /* a start the clocks skip (02:30 when 02:00 becomes 03:00):
         * mktime moves it past the gap, the window opens when the clocks
         * resume - the start of the hour */
        if (o >= c)
            o = local_at(&day, 0, w->start - w->start % 60);
        if (o <= now && now < c) {
            *close = c;
            return 1;
        }
        if (o > now && (*open == 0 || o < *open))
            *open = o;
    }
    return 0;
}

int
sched_window_check(const struct sched_window *w, size_t n, const char *tz,
                   int64_t now, int64_t *change)
{
    struct zone z;
    int64_t t = now, open, close, next = 0;
    int is_open = 0;

    *change = 0;
    if (n == 0)
        return 1;
    /* open: follow the windows that meet or overlap to where the last
     * one closes; closed: the earliest opening.  Bounded: each step moves
     * t to a later close. */
    for (int step = 0; step < 4 * SCHED_WINDOWS_MAX; step++) {
        int any = 0;
        int64_t far = t;
        for (size_t i = 0; i < n; i++) {
            zone_enter(&z, w[i].tz[0] ? w[i].tz : tz);
            if (one_window(&w[i], t, &open, &close)) {
                any = 1;
                if (close > far)
                    far = close;
            } else if (step == 0 && open != 0 && (next == 0 || open < next))
                next = open;
            zone_leave(&z);
        }
        if (!any)
            break;
        is_open = 1;
        t = far;
    }
    *change = is_open ? t : next;
    return is_open;
}

/* ---- caps ---- */

int
sched_warmup_parse(const char *s, struct sched_cap *c, char *why, size_t whylen)
{
    const char *p = s;

    c->nwarmup = 0;
    for (;;) {
        char *end;
        long v;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!isdigit((unsigned char)*p)) {
            snprintf(why, whylen,
                     "a list of daily counts like 500, 1000, "
                     "2500 (got \"%s\")",
                     s);
            return -1;
        }
        v = strtol(p, &end, 10);
        if (v < 1 || v > 100000000) {
            snprintf(why, whylen, "%ld: 1 to 100000000 a day", v);
            return -1;
        }
        if (c->nwarmup == SCHED_WARMUP_MAX) {
            snprintf(why, whylen, "more than %d steps", SCHED_WARMUP_MAX);
            return -1;
        }
        if (c->nwarmup > 0 && v < c->warmup[c->nwarmup - 1]) {
            snprintf(why, whylen, "%ld after %ld: a warm-up does not go down",
                     v, c->warmup[c->nwarmup - 1]);
            return -1;
        }
        c->warmup[c->nwarmup++] = v;
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return 0;
        if (*p != ',') {
            snprintf(why, whylen,
                     "a list of daily counts like 500, 1000, "
                     "2500 (got \"%s\")",
                     s);
            return -1;
        }
        p++;
    }
}

long
sched_allowance(const struct sched_cap *c, int64_t day)
{
    long a = -1;

    if (c->nwarmup > 0) {
        int64_t i = day - c->warmup_start;
        if (i < 0)
            i = 0;
        if ((size_t)i < c->nwarmup)
            a = c->warmup[i];
    }
    if (c->daily_cap > 0 && (a == -1 || c->daily_cap < a))
        a = c->daily_cap;
    return a;
}

/* ---- scheduled times ---- */

int
sched_at_parse(const char *s, const char *tz, int64_t *t, char *why,
               size_t whylen)
{
    struct tm tm, back, want;
    const char *p;
    char zone[SCHED_TZ_MAX];
    struct zone z;
    time_t tt;

    memset(&tm, 0, sizeof tm);
    if ((p = strptime(s, "%Y-%m-%d", &tm)) == NULL ||
        (*p != ' ' && *p != 'T') ||
        (p = strptime(p + 1, "%H:%M", &tm)) == NULL) {
        snprintf(why, whylen,
                 "\"%s\" is not a time like \"2026-12-24 09:00 Europe/Rome\"",
                 s);
        return -1;
    }
    if (*p == ':' && (p = strptime(p, ":%S", &tm)) == NULL) {
        snprintf(why, whylen, "\"%s\": bad seconds", s);
        return -1;
    }
    while (*p == ' ')
        p++;
    if (*p != '\0') {
        if (strlen(p) >= sizeof zone || !sched_tz_valid(p)) {
            snprintf(why, whylen,
                     "unknown time zone \"%s\" (an IANA name such as "
                     "Europe/Rome)",
                     p);
            return -1;
        }
        memcpy(zone, p, strlen(p) + 1);
        tz = zone;
    }
    tm.tm_isdst = -1;
    want = tm;
    zone_enter(&z, tz);
    tt = mktime(&tm);
    localtime_r(&tt, &back);
    zone_leave(&z);
    {
        static const int mdays[12] = {31, 29, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31};
        int y = want.tm_year + 1900;
        if (want.tm_mday > mdays[want.tm_mon] ||
            (want.tm_mon == 1 && want.tm_mday == 29 &&
             !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))) {
            snprintf(why, whylen, "\"%s\": no such date", s);
            return -1;
        }
    }
    if (back.tm_hour != want.tm_hour || back.tm_min != want.tm_min ||
        back.tm_mday != want.tm_mday) {
        snprintf(why, whylen,
                 "\"%s\" does not exist there: the clocks skip it (a "
                 "change to summer time)",
                 s);
        return -1;
    }
    *t = (int64_t)tt;
    return 0;
}

void
sched_format(int64_t t, const char *tz, char *buf, size_t n)
{
    struct zone z;
    struct tm tm;
    time_t tt = (time_t)t;

    zone_enter(&z, tz);
    localtime_r(&tt, &tm);
    if (strftime(buf, n, "%Y-%m-%d %H:%M %Z", &tm) == 0 && n > 0)
        buf[0] = '\0';
    zone_leave(&z);
}
