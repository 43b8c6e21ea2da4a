/* SPDX-License-Identifier: ISC */
/*
 * report_csv.c - campaign report [NAME] --format csv --out FILE: a
 * campaign's recipients one a row (README "campaign report"), or every
 * campaign's after a first column naming it; every text cell through
 * cmd_csv_quote (RFC 4180 quoting, formula prefixes neutralised: OWASP
 * CSV injection), streamed from db/store_export.c into a temporary file
 * renamed over FILE once complete.
 *
 * Written at the speed the store reads: each row is formatted straight
 * into one output buffer (numbers and times without printf, the date of a
 * time formatted once a day, a cell's spans between quotes copied at
 * once) and the buffer goes to the file CSV_OUT_BUF bytes at a time.  The
 * buffer's size is fixed (it grows only for a cell larger than itself):
 * memory stays flat however many rows there are.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/fsutil.h"
#include "../engine/xalloc.h"
#include "cmd.h"

/* The columns of report NAME --format csv (README "campaign report");
 * report --format csv puts "campaign" before them. */
static const char csv_header[] =
    "email,state,reply_code,reply_status,reply_text,bounce_class,first_open,"
    "clicks,unsubscribed\r\n";

/* what a row is formatted into before it goes to the file */
#define CSV_OUT_BUF (256 * 1024)
/* SQLite's page cache during the export, KiB */
#define CSV_CACHE_KIB 2048
/* the most a row's cells other than its texts take: reply code, time,
 * clicks, unsubscribed, separators, CRLF */
#define CSV_ROW_FIXED 128

struct csv_out {
    FILE *f;
    char *buf;
    size_t len, cap;
    long n;           /* rows written */
    int error;        /* errno of the first write that failed, 0: none */
    int named;        /* the first column names the campaign */
    int64_t campaign; /* the campaign whose cell is in name */
    char *name;       /* its name as a cell, with its comma; NULL: none */
    size_t name_len;
    int64_t day; /* the UTC day (since the epoch) in day_s, -1: none */
    char day_s[32];
    size_t day_len;
};

/* out_flush - the buffer into the file; 0, or -1 once a write failed. */
static int
out_flush(struct csv_out *o)
{
    errno = 0;
    if (o->error == 0 && o->len > 0 &&
        fwrite(o->buf, 1, o->len, o->f) != o->len)
        o->error = errno ? errno : EIO;
    o->len = 0;
    return o->error ? -1 : 0;
}

/* out_room - room for need more bytes in the buffer; -1 when a write
 * failed. */
static int
out_room(struct csv_out *o, size_t need)
{
    if (o->cap - o->len >= need)
        return 0;
    if (out_flush(o) == -1)
        return -1;
    if (need > o->cap) { /* a cell larger than the buffer */
        o->buf = xrealloc(o->buf, need);
        o->cap = need;
    }
    return 0;
}

/* put_uint - v in decimal at p; the length. */
static size_t
put_uint(char *p, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;

    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* put_2 - v (0 to 99) as two digits at p. */
static char *
put_2(char *p, int v)
{
    *p++ = (char)('0' + v / 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

/* put_time - the time of ms (after the epoch) as "YYYY-MM-DDTHH:MM:SSZ"
 * (UTC) at p, the date formatted once a day, the rest in arithmetic (a
 * POSIX day has 86,400 seconds); the milliseconds when the year does
 * not fit (as strftime would say).  The length, at most 31. */
static size_t
put_time(struct csv_out *o, char *p, int64_t ms)
{
    int64_t t = ms / 1000, day = t / 86400;
    int s = (int)(t % 86400);
    char *q = p;

    if (day != o->day) {
        time_t tt = (time_t)(day * 86400);
        struct tm tm;
        o->day = -1;
        if (gmtime_r(&tt, &tm) == NULL ||
            (o->day_len =
                 strftime(o->day_s, sizeof o->day_s, "%Y-%m-%dT", &tm)) == 0)
            return (size_t)snprintf(p, 32, "%lld", (long long)ms);
        o->day = day;
    }
    memcpy(q, o->day_s, o->day_len);
    q += o->day_len;
    q = put_2(q, s / 3600);
    *q++ = ':';
    q = put_2(q, s / 60 % 60);
    *q++ = ':';
    q = put_2(q, s % 60);
    *q++ = 'Z';
    return (size_t)(q - p);
}

/* csv_row - one recipient as a CSV row (its campaign's name first when
 * named); non-zero stops the query when the file cannot be written. */
static int
csv_row(const struct store_recipient *x, void *arg)
{
    struct csv_out *o = arg;
    /* a forgotten recipient: no address (the row stays, counted) */
    const char *text[5] = {x->email ? x->email : "", x->state,
                           x->status ? x->status : "", x->text ? x->text : "",
                           x->bounce_class ? x->bounce_class : ""};
    size_t len[5], need = CSV_ROW_FIXED;
    char *p;

    if (o->named && (o->name == NULL || x->campaign_id != o->campaign)) {
        size_t n = strlen(x->campaign);
        o->name = xrealloc(o->name, CMD_CSV_QUOTED_MAX(n) + 1);
        o->name_len = cmd_csv_quote(o->name, x->campaign, n);
        o->name[o->name_len++] = ',';
        o->campaign = x->campaign_id;
    }
    for (size_t i = 0; i < 5; i++) {
        len[i] = strlen(text[i]);
        need += CMD_CSV_QUOTED_MAX(len[i]);
    }
    if (out_room(o, need + (o->named ? o->name_len : 0)) == -1)
        return 1;
    p = o->buf + o->len;
    if (o->named) {
        memcpy(p, o->name, o->name_len);
        p += o->name_len;
    }
    p += cmd_csv_quote(p, text[0], len[0]);
    *p++ = ',';
    p += cmd_csv_quote(p, text[1], len[1]);
    /* the numbers and the time: digits, '-', 'T', ':', 'Z' only, so that
     * cmd_csv_quote would only put them between quotes */
    *p++ = ',';
    *p++ = '"';
    if (x->code > 0)
        p += put_uint(p, (unsigned long long)x->code);
    *p++ = '"';
    for (size_t i = 2; i < 5; i++) {
        *p++ = ',';
        p += cmd_csv_quote(p, text[i], len[i]);
    }
    *p++ = ',';
    *p++ = '"';
    if (x->first_open_ms > 0)
        p += put_time(o, p, x->first_open_ms);
    *p++ = '"';
    *p++ = ',';
    *p++ = '"';
    p += put_uint(p, x->clicks > 0 ? (unsigned long long)x->clicks : 0);
    memcpy(p, x->unsubscribed ? "\",\"yes\"\r\n" : "\",\"no\"\r\n",
           x->unsubscribed ? 9 : 8);
    p += x->unsubscribed ? 9 : 8;
    o->len = (size_t)(p - o->buf);
    o->n++;
    return 0;
}

/* csv_write - the recipients of campaign id, or of every campaign (all),
 * into path: written to a temporary file beside it and renamed over it
 * once complete, so that path is either the whole new file or what it was
 * before.  Mode 0600: it holds addresses.  *rows counts the recipients. */
static int
csv_write(struct ctx *ctx, struct store *st, int64_t id, int all,
          const char *path, long *rows, struct err *e)
{
    const char *inputs[] = {ctx->db_path};
    struct fs_out fo;
    struct csv_out o;
    int rc;

    *rows = 0;
    /* the export reads each page once, in order: a small page cache
     * does, where filling the store's usual one cost a fifth of the time
     * (its page faults) and most of the memory */
    if (store_cache(st, CSV_CACHE_KIB, e) == -1)
        return -1;
    /* force: an existing file is replaced (only when complete) - but never
     * the database itself */
    if (fs_out_new(&fo, path, 0600, 1, inputs, 1, e) == -1)
        return -1;
    memset(&o, 0, sizeof o);
    o.f = fo.f;
    o.cap = CSV_OUT_BUF;
    o.buf = xmalloc(o.cap);
    o.named = all;
    o.day = -1;
    if (all) {
        memcpy(o.buf, "campaign,", 9);
        o.len = 9;
    }
    memcpy(o.buf + o.len, csv_header, sizeof csv_header - 1);
    o.len += sizeof csv_header - 1;
    rc = all ? store_report_recipients_all(st, csv_row, &o, e)
             : store_report_recipients(st, id, csv_row, &o, e);
    if (rc == 0 && out_flush(&o) == -1)
        rc = 1;
    free(o.buf);
    free(o.name);
    if (rc != 0) {
        /* nothing of it stays: path is as it was */
        if (rc == 1)
            err_set(e, EX_CANTCREAT, "%s: %s (not written)", path,
                    strerror(o.error ? o.error : EIO));
        fs_out_abort(&fo);
        return -1;
    }
    if (fs_out_commit(&fo, e) == -1)
        return -1;
    *rows = o.n;
    return 0;
}

int
report_csv_write(struct ctx *ctx, struct store *st, int64_t id,
                 const char *path, long *rows, struct err *e)
{
    return csv_write(ctx, st, id, 0, path, rows, e);
}

int
report_csv_write_all(struct ctx *ctx, struct store *st, const char *path,
                     long *rows, struct err *e)
{
    return csv_write(ctx, st, 0, 1, path, rows, e);
}
