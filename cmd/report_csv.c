/* SPDX-License-Identifier: ISC */
/*
 * report_csv.c - campaign report NAME --format csv --out FILE: the
 * campaign's recipients one a row (README "campaign report"), every cell
 * through cmd_csv_cell (RFC 4180 quoting, formula prefixes neutralised:
 * OWASP CSV injection), streamed from db/store_export.c into a temporary
 * file renamed over FILE once complete.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../engine/fsutil.h"
#include "cmd.h"

/* The columns of report NAME --format csv (README "campaign report"). */
static const char *const csv_columns[] = {
    "email",        "state",      "reply_code", "reply_status", "reply_text",
    "bounce_class", "first_open", "clicks",     "unsubscribed",
};

struct csv_out {
    FILE *f;
    long n;    /* rows written */
    int error; /* errno of the first write that failed, 0: none */
};

/* csv_row - one recipient as a CSV row, every cell through cmd_csv_cell
 * (formula prefixes neutralised); non-zero stops the query when the
 * file cannot be written. */
static int
csv_row(const struct store_recipient *x, void *arg)
{
    struct csv_out *o = arg;
    FILE *f = o->f;
    char code[16] = "", at[32] = "", clicks[24];
    const char *cell[9];

    if (x->code > 0)
        snprintf(code, sizeof code, "%d", x->code);
    if (x->first_open_ms > 0) {
        time_t t = (time_t)(x->first_open_ms / 1000);
        struct tm tm;
        if (gmtime_r(&t, &tm) == NULL ||
            strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            snprintf(at, sizeof at, "%lld", (long long)x->first_open_ms);
    }
    snprintf(clicks, sizeof clicks, "%ld", x->clicks);
    /* a forgotten recipient: no address (the row stays, counted) */
    cell[0] = x->email ? x->email : "";
    cell[1] = x->state;
    cell[2] = code;
    cell[3] = x->status ? x->status : "";
    cell[4] = x->text ? x->text : "";
    cell[5] = x->bounce_class ? x->bounce_class : "";
    cell[6] = at;
    cell[7] = clicks;
    cell[8] = x->unsubscribed ? "yes" : "no";
    for (size_t i = 0; i < 9; i++) {
        if (i > 0)
            fputc(',', f);
        cmd_csv_cell(f, cell[i]);
    }
    fputs("\r\n", f);
    o->n++;
    if (ferror(f)) {
        o->error = errno;
        return 1;
    }
    return 0;
}

/* report_csv_write - the campaign's recipients into path: written to a
 * temporary file beside it and renamed over it once complete, so that
 * path is either the whole new file or what it was before.  Mode 0600:
 * it holds addresses.  *rows counts the recipients. */
int
report_csv_write(struct ctx *ctx, struct store *st, int64_t id,
                 const char *path, long *rows, struct err *e)
{
    const char *inputs[] = {ctx->db_path};
    struct fs_out o;
    struct csv_out out;
    int rc;

    *rows = 0;
    /* force: an existing file is replaced (only when complete) - but never
     * the database itself */
    if (fs_out_new(&o, path, 0600, 1, inputs, 1, e) == -1)
        return -1;
    for (size_t i = 0; i < sizeof csv_columns / sizeof *csv_columns; i++)
        fprintf(o.f, "%s%s", i ? "," : "", csv_columns[i]);
    fputs("\r\n", o.f);
    out.f = o.f;
    out.n = 0;
    out.error = ferror(o.f) ? errno : 0;
    rc = out.error ? 1 : store_report_recipients(st, id, csv_row, &out, e);
    if (rc != 0) {
        /* nothing of it stays: path is as it was */
        if (rc == 1)
            err_set(e, EX_CANTCREAT, "%s: %s (not written)", path,
                    strerror(out.error ? out.error : EIO));
        fs_out_abort(&o);
        return -1;
    }
    if (fs_out_commit(&o, e) == -1)
        return -1;
    *rows = out.n;
    return 0;
}
