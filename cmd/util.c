/* SPDX-License-Identifier: ISC */
/*
 * util.c - helpers shared by the subcommands (see cmd.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/bounds.h"
#include "../engine/config.h"
#include "../engine/log.h"
#include "../engine/xalloc.h"
#include "../engine/utf8.h"
#include "cmd.h"

void
cmd_opt_reset(void)
{
    optind = 0; /* glibc: full re-initialisation */
    opterr = 1;
}

int
cmd_fail(const struct err *e)
{
    log_warnx("%s", e->msg);
    return e->kind ? e->kind : EX_SOFTWARE;
}

struct store *
cmd_open(struct ctx *ctx, int *code)
{
    struct err e;
    struct store *st;

    err_clear(&e);
    st = store_open(ctx->db_path, STORE_OPEN_EXISTING, NULL, &e);
    if (st == NULL)
        *code = cmd_fail(&e);
    return st;
}

const char *
cmd_time(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, n, "%lld", (long long)t);
    return buf;
}

size_t
cmd_csv_quote(char *dst, const char *s, size_t n)
{
    char *p = dst;
    const char *q;

    *p++ = '"';
    /* OWASP CSV injection: shown as text, never run as a formula */
    if (n > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
                  s[0] == '\t' || s[0] == '\r'))
        *p++ = '\'';
    /* RFC 4180 2.7: a quote is doubled; everything else, CR and LF too,
     * stands as it is between the quotes: the spans between quotes are
     * copied at once */
    while ((q = memchr(s, '"', n)) != NULL) {
        size_t k = (size_t)(q - s) + 1;
        memcpy(p, s, k);
        p += k;
        *p++ = '"';
        s += k;
        n -= k;
    }
    memcpy(p, s, n);
    p += n;
    *p++ = '"';
    return (size_t)(p - dst);
}

void
cmd_csv_cell(FILE *f, const char *s)
{
    size_t n = strlen(s);
    char small[256], *b = small;

    if (CMD_CSV_QUOTED_MAX(n) > sizeof small)
        b = xmalloc(CMD_CSV_QUOTED_MAX(n));
    fwrite(b, 1, cmd_csv_quote(b, s, n), f);
    if (b != small)
        free(b);
}

int
cmd_config_load(struct ctx *ctx, struct config *cfg, struct err *e)
{
    if (config_load(cfg, ctx->config_path, e) == -1)
        return -1;
    if (ctx->config_named && !cfg->exists)
        return err_set(
            e, EX_NOINPUT,
            "%s: no such configuration file (named by %s); "
            "campaign init writes one",
            ctx->config_path,
            getenv("CAMPAIGN_CONFIG") != NULL &&
                    strcmp(getenv("CAMPAIGN_CONFIG"), ctx->config_path) == 0
                ? "$CAMPAIGN_CONFIG"
                : "--config");
    return 0;
}

int
cmd_name_check(const char *what, const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > LIST_NAME_MAX || strspn(s, " \t") == n) {
        log_warnx("%s: a name of 1 to %d bytes, not only spaces (got \"%s\")",
                  what, LIST_NAME_MAX, n > 60 ? "..." : s);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < ' ' || s[i] == 0x7f) {
            /* the log writes the control characters as \xHH */
            log_warnx("%s: a name without control characters (got \"%s\")",
                      what, s);
            return -1;
        }
    /* a name is shown and written as JSON: text, not bytes */
    if (utf8_check(s, n) != UTF8_VALID) {
        char shown[256];
        log_warnx("%s: a name in UTF-8 (got \"%s\")", what,
                  log_printable(shown, sizeof shown, s, n));
        return -1;
    }
    return 0;
}

const char *
cmd_safe(const char *s)
{
    static char *ring[8];
    static int next;
    char *o;

    if (s == NULL || (o = log_unraw(s, 0)) == NULL)
        return s;
    free(ring[next]);
    ring[next] = o;
    next = (next + 1) % 8;
    return o;
}
