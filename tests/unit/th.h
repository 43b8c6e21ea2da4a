/* SPDX-License-Identifier: ISC */
/*
 * th.h - the unit-test harness (Redis testhelp.h in spirit): table-driven
 * tests print one TAP line per case ("ok N - name" / "not ok N - name")
 * and the binary exits non-zero when any case failed.  tests/run counts
 * the lines of every binary into the final "N passed, N failed".
 */
#ifndef CAMPAIGN_TH_H
#define CAMPAIGN_TH_H

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int th_n, th_failed;

#define TH_CHECK(cond, name, ...)                                              \
    do {                                                                       \
        th_n++;                                                                \
        if (cond) {                                                            \
            printf("ok %d - " name "\n", th_n, ##__VA_ARGS__);                 \
        } else {                                                               \
            th_failed++;                                                       \
            printf("not ok %d - " name "  (%s:%d: %s)\n", th_n, ##__VA_ARGS__, \
                   __FILE__, __LINE__, #cond);                                 \
        }                                                                      \
    } while (0)

#define TH_STREQ(got, want, name, ...)                                         \
    do {                                                                       \
        const char *th_g = (got), *th_w = (want);                              \
        int th_ok = th_g && th_w && strcmp(th_g, th_w) == 0;                   \
        TH_CHECK(th_ok, name, ##__VA_ARGS__);                                  \
        if (!th_ok)                                                            \
            printf("#   got  \"%s\"\n#   want \"%s\"\n",                       \
                   th_g ? th_g : "(null)", th_w ? th_w : "(null)");            \
    } while (0)

#define TH_DONE() (th_failed ? 1 : 0)

/*
 * th_survives - fn runs to its end in a child process: a crash or a
 * sanitizer report there fails one named check instead of ending the
 * binary ("frees NULL", "is a no-op" become checks that can fail).
 */
static inline int
th_survives(void (*fn)(void))
{
    pid_t pid;
    int st;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
           WEXITSTATUS(st) == 0;
}

#endif
