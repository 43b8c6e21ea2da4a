/* SPDX-License-Identifier: ISC */
/*
 * cmd_report.c - campaign report [NAME] [--format table|json|csv]: the
 * ledger's counts per campaign and the rates of engine/report.h, each
 * with its denominator; a campaign's recipients one a row as CSV.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../engine/log.h"
#include "../engine/report.h"
#include "cmd.h"

/* JSON as printed: the rates' values as the decimals they were rounded
 * to (0.1429, not 0.14290000000000000) */
#define REPORT_JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(10))

/* table_time - "YYYY-MM-DDTHH:MMZ" (UTC, no blank), "-" for none */
static const char *
table_time(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, n, "%Y-%m-%dT%H:%MZ", &tm) == 0)
        snprintf(buf, n, "-");
    return buf;
}

/* The table's legend: what each rate is of (engine/report.h). */
static void
table_legend(void)
{
    printf("BOUNCE%% of %s: BOUNCED / (SENT + BOUNCED)\n"
           "COMPLAINT%% UNSUB%% OPEN%% CLICK%% of %s: people among SENT (the "
           "relay accepted, no bounce since); opens and clicks by people, "
           "not machines\n",
           REPORT_OF_ANSWERED, REPORT_OF_DELIVERED);
}

struct rep {
    struct store *st;
    int json;
    int rows;
    json_t *arr;
    struct err *e;
    int failed;
};

struct campinfo {
    struct store_campaign c;
    char name[256], template[128], status[16], list[256], breaker[256];
    struct report_rates rates;
};

static int
info_cb(const struct store_campaign *c, void *arg)
{
    struct campinfo *ci = arg;

    ci->c = *c;
    snprintf(ci->name, sizeof ci->name, "%s", c->name);
    snprintf(ci->template, sizeof ci->template, "%s", c->template);
    snprintf(ci->status, sizeof ci->status, "%s", c->status);
    snprintf(ci->list, sizeof ci->list, "%s", c->list ? c->list : "");
    snprintf(ci->breaker, sizeof ci->breaker, "%s",
             c->breaker ? c->breaker : "");
    return 0;
}

static json_t *
time_json(int64_t t)
{
    char b[40];

    return t > 0 ? json_string(cmd_time(t, b, sizeof b)) : json_null();
}

/* rate_json - a rate with what it is of: {"value", "numerator",
 * "denominator", "of"}; value null when there is nothing to divide by */
static json_t *
rate_json(const struct report_rate *r)
{
    double v = report_rate_value(r);

    return json_pack("{s:o, s:I, s:I, s:s}", "value",
                     v < 0 ? json_null() : json_real(v), "numerator",
                     (json_int_t)r->numerator, "denominator",
                     (json_int_t)r->denominator, "of", r->of);
}

/* rate_line - a rate in report NAME's table: "12.5% (1 of 8 delivered)" */
static void
rate_line(const char *key, json_t *v)
{
    json_int_t n = json_integer_value(json_object_get(v, "numerator"));
    json_int_t d = json_integer_value(json_object_get(v, "denominator"));
    const char *of = json_string_value(json_object_get(v, "of"));

    printf("%-22s ", key);
    if (d > 0)
        printf("%.1f%%", 100.0 * (double)n / (double)d);
    else
        printf("-");
    printf(" (%lld of %lld %s)\n", (long long)n, (long long)d, of ? of : "");
}

/* figures - one campaign's document. */
static json_t *
figures(struct rep *r, const char *name, struct store_counts *cnt,
        struct campinfo *ci)
{
    struct store_event_counts ev;
    json_t *doc;

    if (store_campaign_get(r->st, name, info_cb, ci, r->e) != 1 ||
        store_ledger_counts(r->st, ci->c.id, cnt, r->e) == -1 ||
        store_event_counts(r->st, ci->c.id, &ev, r->e) == -1 ||
        report_rates(r->st, ci->c.id, &ci->rates, r->e) == -1)
        return NULL;
    doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
        "campaign", ci->name, "template", ci->template, "status", ci->status,
        "list", ci->list, "recipients", (json_int_t)cnt->recipients, "queued",
        (json_int_t)(cnt->queued + cnt->sending), "sent", (json_int_t)cnt->sent,
        "deferred", (json_int_t)cnt->deferred, "failed",
        (json_int_t)cnt->failed, "unbuildable", (json_int_t)cnt->unbuildable,
        "held", (json_int_t)cnt->held, "bounced_hard",
        (json_int_t)cnt->bounced_hard, "bounced_soft",
        (json_int_t)cnt->bounced_soft, "blocked", (json_int_t)cnt->blocked,
        "suppressed", (json_int_t)cnt->skipped, "uncertain",
        (json_int_t)cnt->was_uncertain, "expired", (json_int_t)cnt->expired,
        "cancelled", (json_int_t)cnt->cancelled, "started_at",
        time_json(ci->c.started_at), "finished_at",
        time_json(ci->c.finished_at));
    if (doc == NULL)
        return NULL;
    /* what came back through `campaign serve`: people's opens and clicks
     * apart from machines' (mail-privacy proxies, link scanners) */
    json_object_set_new(doc, "opens", json_integer(ev.opens));
    json_object_set_new(doc, "opened_unique", json_integer(ev.opened_unique));
    json_object_set_new(doc, "machine_opens", json_integer(ev.machine_opens));
    json_object_set_new(doc, "machine_opened_unique",
                        json_integer(ev.machine_opened_unique));
    json_object_set_new(doc, "clicks", json_integer(ev.clicks));
    json_object_set_new(doc, "clicked_unique", json_integer(ev.clicked_unique));
    json_object_set_new(doc, "machine_clicks", json_integer(ev.machine_clicks));
    json_object_set_new(doc, "unsubscribed", json_integer(ev.unsubscribed));
    /* what came back by mail (`campaign bounces`) */
    json_object_set_new(doc, "complained", json_integer(ev.complained));
    json_object_set_new(doc, "auto_replies", json_integer(ev.auto_replies));
    json_object_set_new(doc, "delayed", json_integer(ev.delayed));
    if (ci->breaker[0] != '\0')
        json_object_set_new(doc, "paused_by_breaker", json_string(ci->breaker));
    json_object_set_new(doc, "views", json_integer(ev.views));
    /* the rates, each with its numerator and what it is of */
    for (int i = 0; i < REPORT_RATE_N; i++)
        json_object_set_new(doc, ci->rates.rate[i].key,
                            rate_json(&ci->rates.rate[i]));
    return doc;
}

static int
row_cb(const char *name, void *arg)
{
    struct rep *r = arg;
    struct store_counts cnt;
    struct campinfo ci;
    json_t *doc = figures(r, name, &cnt, &ci);

    if (doc == NULL) {
        r->failed = 1;
        return 1;
    }
    if (r->json) {
        json_array_append_new(r->arr, doc);
    } else {
        long bounced = cnt.bounced_hard + cnt.bounced_soft + cnt.blocked;
        char t0[24], t1[24];
        /* queued: what is left to send (a refusal of us leaves it so);
         * failed: what could not be sent for a reason of ours; held:
         * what the client did not hand to the relay (SMTPUTF8, SIZE).
         * Every cell without a space: scripts split the row on blanks */
        if (r->rows++ == 0) {
            printf("%-24s %-10s %-17s %-17s %10s %10s %8s %8s %8s %8s %11s "
                   "%6s",
                   "CAMPAIGN", "STATUS", "STARTED", "FINISHED", "RECIPIENTS",
                   "SENT", "QUEUED", "DEFERRED", "BOUNCED", "FAILED",
                   "UNBUILDABLE", "HELD");
            for (int i = 0; i < REPORT_RATE_N; i++)
                printf(" %10s", ci.rates.rate[i].label);
            putchar('\n');
        }
        printf("%-24s %-10s %-17s %-17s %10ld %10ld %8ld %8ld %8ld %8ld "
               "%11ld %6ld",
               cmd_safe(ci.name), ci.status,
               table_time(ci.c.started_at, t0, sizeof t0),
               table_time(ci.c.finished_at, t1, sizeof t1), cnt.recipients,
               cnt.sent, cnt.queued + cnt.sending, cnt.deferred, bounced,
               cnt.failed, cnt.unbuildable, cnt.held);
        for (int i = 0; i < REPORT_RATE_N; i++) {
            double p = report_rate_percent(&ci.rates.rate[i]);
            char cell[32];
            if (p < 0)
                snprintf(cell, sizeof cell, "-");
            else
                snprintf(cell, sizeof cell, "%.1f%%", p);
            printf(" %10s", cell);
        }
        putchar('\n');
        json_decref(doc);
    }
    return 0;
}

static int
uncertain_cb(const char *email, const char *mid, const char *state, void *arg)
{
    json_t *arr = arg;

    /* email NULL: a forgotten recipient (JSON null, "(forgotten)") */
    json_array_append_new(arr, json_pack("{s:s?, s:s?, s:s}", "email", email,
                                         "message_id", mid, "state", state));
    return 0;
}

/* What a table shows where a forgotten recipient's address was (JSON:
 * null): their ledger rows stay, counted, under a tombstone id without a
 * contact (db/migrations/006_history.sql). */
#define REPORT_FORGOTTEN "(forgotten)"

/* How many groups of undelivered recipients report NAME shows. */
#define REPORT_REPLY_GROUPS 20

/* reply_json - a store_reply as JSON (grouped: with its count) */
static json_t *
reply_json(const struct store_reply *x, int each)
{
    json_t *o =
        json_pack("{s:s, s:s?, s:i, s:s, s:s}", "state", x->state,
                  "bounce_class", x->bounce_class, "code", x->code, "status",
                  x->status ? x->status : "", "text", x->text ? x->text : "");

    if (o == NULL)
        return NULL;
    if (each)
        json_object_set_new(o, "email",
                            x->email ? json_string(x->email) : json_null());
    else {
        json_object_set_new(o, "recipients", json_integer(x->count));
        json_object_set_new(o, "example",
                            x->email ? json_string(x->email) : json_null());
    }
    return o;
}

/* reply_line - "CODE STATUS TEXT" of a reply */
static void
reply_line(const struct store_reply *x)
{
    if (x->code > 0)
        printf("%d ", x->code);
    if (x->status && *x->status)
        printf("%s ", cmd_safe(x->status));
    /* a relay's text, or a contact's name in it: never raw */
    printf("%s", x->text ? cmd_safe(x->text) : "");
}

struct each_out {
    int json;
    long n;
    int failed; /* a row that JSON cannot hold (not UTF-8) */
};

static int
group_cb(const struct store_reply *x, void *arg)
{
    json_t *j = reply_json(x, 0);

    if (j == NULL) {
        log_warnx("report: a reply that is not UTF-8 in the ledger (%s)",
                  x->email ? x->email : "a forgotten contact");
        return 0; /* the group is left out, said */
    }
    json_array_append_new(arg, j);
    return 0;
}

/* each_cb - one undelivered recipient, streamed */
static int
each_cb(const struct store_reply *x, void *arg)
{
    struct each_out *o = arg;

    if (o->json) {
        json_t *j = reply_json(x, 1);
        if (j == NULL) {
            log_warnx("report: a reply that is not UTF-8 in the ledger (%s)",
                      x->email ? x->email : "a forgotten contact");
            o->failed = 1;
            return 0; /* left out, said; the exit status says it too */
        }
        printf("%s\n  ", o->n ? "," : "[");
        json_dumpf(j, stdout, JSON_COMPACT);
        json_decref(j);
    } else {
        char st[32];
        snprintf(
            st, sizeof st, "%s%s%s%s", x->state, x->bounce_class ? " (" : "",
            x->bounce_class ? x->bounce_class : "", x->bounce_class ? ")" : "");
        printf("%-40s %-16s ", x->email ? cmd_safe(x->email) : REPORT_FORGOTTEN,
               st);
        reply_line(x);
        putchar('\n');
    }
    o->n++;
    return 0;
}

int
cmd_report(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"undelivered", no_argument, NULL, 'u'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct rep r;
    struct err e;
    int c, code = 0, undelivered = 0, csv = 0;
    const char *out = NULL;

    memset(&r, 0, sizeof r);
    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            r.json = csv = 0;
            if (strcmp(optarg, "json") == 0)
                r.json = 1;
            else if (strcmp(optarg, "csv") == 0)
                csv = 1;
            else if (strcmp(optarg, "table") != 0) {
                log_warnx("--format: table, json or csv (got \"%s\")", optarg);
                return EX_USAGE;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'u':
            undelivered = 1;
            break;
        case 'h':
            return cmd_usage("report", stdout, 0);
        default:
            return cmd_usage("report", stderr, EX_USAGE);
        }
    }
    if (optind + 1 < argc || (undelivered && optind + 1 != argc))
        return cmd_usage("report", stderr, EX_USAGE);
    /* the CSV is the recipients (of NAME, or of every campaign), into a
     * file */
    if (csv && (out == NULL || undelivered)) {
        log_warnx("--format csv: the recipients into a file "
                  "(report [NAME] --format csv --out FILE)%s",
                  undelivered ? ", without --undelivered" : "");
        return EX_USAGE;
    }
    if (out != NULL && !csv) {
        log_warnx("--out %s: only with --format csv", out);
        return EX_USAGE;
    }
    if ((r.st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    r.e = &e;
    if (optind == argc && csv) {
        long rows;
        if (report_csv_write_all(ctx, r.st, out, &rows, &e) == -1)
            code = cmd_fail(&e);
        else if (!ctx->quiet)
            printf("%ld recipient%s of every campaign written to %s\n", rows,
                   rows == 1 ? "" : "s", out);
    } else if (optind == argc) {
        r.arr = json_array();
        if (store_campaign_names(r.st, row_cb, &r, &e) == -1 || r.failed)
            code = cmd_fail(&e);
        else if (r.json) {
            json_dumpf(r.arr, stdout, REPORT_JSON_FLAGS);
            putchar('\n');
        } else if (r.rows == 0)
            printf("no campaigns yet\n");
        else
            table_legend();
        json_decref(r.arr);
    } else {
        struct store_counts cnt;
        struct campinfo ci;
        int64_t id;
        int rc = store_campaign_find(r.st, argv[optind], &id, &e);
        json_t *doc;
        if (rc != 1) {
            if (rc == 0)
                log_warnx("no campaign \"%s\"", argv[optind]);
            code = rc == 0 ? EX_NOINPUT : cmd_fail(&e);
            goto out;
        }
        if (csv) {
            long rows;
            if (report_csv_write(ctx, r.st, id, out, &rows, &e) == -1)
                code = cmd_fail(&e);
            else if (!ctx->quiet)
                printf("%ld recipient%s of %s written to %s\n", rows,
                       rows == 1 ? "" : "s", argv[optind], out);
            goto out;
        }
        if (undelivered) {
            /* one line per recipient, streamed: memory stays flat */
            struct each_out o = {r.json, 0, 0};
            if (store_ledger_replies(r.st, id, 1, 0, each_cb, &o, &e) == -1)
                code = cmd_fail(&e);
            else if (o.failed)
                code = EX_DATAERR;
            if (r.json)
                printf(o.n ? "\n]\n" : "[]\n");
            else if (o.n == 0 && code == 0)
                printf("no undelivered recipient has a reply\n");
            goto out;
        }
        if ((doc = figures(&r, argv[optind], &cnt, &ci)) == NULL) {
            code = cmd_fail(&e);
            goto out;
        }
        json_t *unc = json_array(), *rep = json_array();
        if (store_ledger_uncertain(r.st, ci.c.id, uncertain_cb, unc, &e) ==
                -1 ||
            store_ledger_replies(r.st, ci.c.id, 0, REPORT_REPLY_GROUPS,
                                 group_cb, rep, &e) == -1) {
            json_decref(unc);
            json_decref(rep);
            json_decref(doc);
            code = cmd_fail(&e);
            goto out;
        }
        json_object_set_new(doc, "uncertain_recipients", unc);
        json_object_set_new(doc, "undelivered", rep);
        if (r.json) {
            json_dumpf(doc, stdout, REPORT_JSON_FLAGS);
            putchar('\n');
        } else {
            const char *k;
            json_t *v;
            json_object_foreach(doc, k, v)
            {
                if (json_is_array(v))
                    continue;
                if (json_is_object(v)) /* a rate */
                    rate_line(k, v);
                else if (json_is_integer(v))
                    printf("%-22s %lld\n", k, (long long)json_integer_value(v));
                else
                    printf("%-22s %s\n", k,
                           json_is_string(v) ? cmd_safe(json_string_value(v))
                                             : "-");
            }
            size_t i;
            json_array_foreach(unc, i, v)
            {
                if (i == 0)
                    printf("uncertain recipients (may have received the "
                           "message twice, with the same Message-ID):\n");
                const char *mid =
                    json_string_value(json_object_get(v, "message_id"));
                const char *who =
                    json_string_value(json_object_get(v, "email"));
                printf("  %s %s (%s)\n", who ? cmd_safe(who) : REPORT_FORGOTTEN,
                       mid ? cmd_safe(mid) : "",
                       json_string_value(json_object_get(v, "state")));
            }
            json_array_foreach(rep, i, v)
            {
                struct store_reply x;
                json_t *bc = json_object_get(v, "bounce_class");
                if (i == 0)
                    printf("not delivered, by the relay's last reply (the %d "
                           "most frequent; all: --undelivered):\n",
                           REPORT_REPLY_GROUPS);
                memset(&x, 0, sizeof x);
                x.code = (int)json_integer_value(json_object_get(v, "code"));
                x.status = json_string_value(json_object_get(v, "status"));
                x.text = json_string_value(json_object_get(v, "text"));
                printf("  %6lld %s%s%s%s: ",
                       (long long)json_integer_value(
                           json_object_get(v, "recipients")),
                       json_string_value(json_object_get(v, "state")),
                       bc && json_is_string(bc) ? " (" : "",
                       bc && json_is_string(bc) ? json_string_value(bc) : "",
                       bc && json_is_string(bc) ? ")" : "");
                reply_line(&x);
                json_t *ex = json_object_get(v, "example");
                if (json_is_string(ex))
                    printf(" (e.g. %s)", cmd_safe(json_string_value(ex)));
                putchar('\n');
            }
        }
        json_decref(doc);
    }
out:
    store_close(r.st);
    return code;
}
