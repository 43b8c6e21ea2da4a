/* SPDX-License-Identifier: ISC */
/*
 * clock.c - the wall clock, movable by the tests (see clock.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

static int64_t offset;
static int fake;

/* parse - Unix seconds, or "YYYY-MM-DD HH:MM[:SS]" in UTC */
static int
parse(const char *s, int64_t *out)
{
    struct tm tm;
    const char *end;
    char *e;
    long long v;

    if (*s >= '0' && *s <= '9' && strchr(s, '-') == NULL) {
        v = strtoll(s, &e, 10);
        if (*e != '\0' || v < 0)
            return -1;
        *out = v;
        return 0;
    }
    memset(&tm, 0, sizeof tm);
    if ((end = strptime(s, "%Y-%m-%d %H:%M", &tm)) == NULL)
        return -1;
    if (*end == ':' && (end = strptime(end, ":%S", &tm)) == NULL)
        return -1;
    if (*end != '\0')
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

int
clock_init(struct err *e)
{
    const char *s = getenv(CLOCK_TEST_ENV);
    int64_t t;

    offset = 0;
    fake = 0;
    if (s == NULL || *s == '\0')
        return 0;
    if (parse(s, &t) == -1)
        return err_set(e, EX_USAGE,
                       "%s: Unix seconds or \"YYYY-MM-DD HH:MM[:SS]\" in UTC "
                       "(got \"%s\")",
                       CLOCK_TEST_ENV, s);
    offset = t - (int64_t)time(NULL);
    fake = 1;
    return 0;
}

int64_t
clock_now(void)
{
    return (int64_t)time(NULL) + offset;
}

int
clock_is_fake(void)
{
    return fake;
}
