/* SPDX-License-Identifier: ISC */
/*
 * cmd_report.c - campaign report [NAME] [--format table|json]: the
 * ledger's counts per campaign.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../engine/log.h"
#include "cmd.h"

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
    char name[256], template[128], status[16], list[256];
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
    return 0;
}

static json_t *
time_json(int64_t t)
{
    char b[40];

    return t > 0 ? json_string(cmd_time(t, b, sizeof b)) : json_null();
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
        store_event_counts(r->st, ci->c.id, &ev, r->e) == -1)
        return NULL;
    doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I, s:o, s:o}",
        "campaign", ci->name, "template", ci->template, "status", ci->status,
        "list", ci->list, "recipients", (json_int_t)cnt->recipients, "queued",
        (json_int_t)(cnt->queued + cnt->sending), "sent", (json_int_t)cnt->sent,
        "deferred", (json_int_t)cnt->deferred, "failed",
        (json_int_t)cnt->failed, "bounced_hard", (json_int_t)cnt->bounced_hard,
        "bounced_soft", (json_int_t)cnt->bounced_soft, "blocked",
        (json_int_t)cnt->blocked, "suppressed", (json_int_t)cnt->skipped,
        "uncertain", (json_int_t)cnt->was_uncertain, "expired",
        (json_int_t)cnt->expired, "started_at", time_json(ci->c.started_at),
        "finished_at", time_json(ci->c.finished_at));
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
    json_object_set_new(doc, "views", json_integer(ev.views));
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
        double base = cnt.recipients - cnt.skipped;
        double done =
            cnt.sent + cnt.bounced_hard + cnt.bounced_soft + cnt.blocked;
        if (r->rows++ == 0)
            printf("%-24s %-10s %10s %10s %10s %10s %9s\n", "CAMPAIGN",
                   "STATUS", "RECIPIENTS", "SENT", "DEFERRED", "BOUNCED",
                   "BOUNCE%");
        printf("%-24s %-10s %10ld %10ld %10ld %10ld %8.1f%%\n", ci.name,
               ci.status, cnt.recipients, cnt.sent, cnt.deferred,
               cnt.bounced_hard + cnt.bounced_soft + cnt.blocked,
               done > 0 ? 100.0 *
                              (double)(cnt.bounced_hard + cnt.bounced_soft +
                                       cnt.blocked) /
                              done
                        : 0.0);
        (void)base;
        json_decref(doc);
    }
    return 0;
}

static int
uncertain_cb(const char *email, const char *mid, const char *state, void *arg)
{
    json_t *arr = arg;

    json_array_append_new(arr, json_pack("{s:s, s:s?, s:s}", "email", email,
                                         "message_id", mid, "state", state));
    return 0;
}

int
cmd_report(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct rep r;
    struct err e;
    int c, code = 0;

    memset(&r, 0, sizeof r);
    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "json") == 0)
                r.json = 1;
            else if (strcmp(optarg, "table") != 0) {
                log_warnx("--format: table or json (got \"%s\")", optarg);
                return EX_USAGE;
            }
            break;
        case 'h':
            return cmd_usage("report", stdout, 0);
        default:
            return cmd_usage("report", stderr, EX_USAGE);
        }
    }
    if (optind + 1 < argc)
        return cmd_usage("report", stderr, EX_USAGE);
    if ((r.st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    r.e = &e;
    if (optind == argc) {
        r.arr = json_array();
        if (store_campaign_names(r.st, row_cb, &r, &e) == -1 || r.failed)
            code = cmd_fail(&e);
        else if (r.json) {
            json_dumpf(r.arr, stdout, JSON_INDENT(2));
            putchar('\n');
        } else if (r.rows == 0)
            printf("no campaigns yet\n");
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
            code = rc == 0 ? EX_DATAERR : cmd_fail(&e);
            goto out;
        }
        if ((doc = figures(&r, argv[optind], &cnt, &ci)) == NULL) {
            code = cmd_fail(&e);
            goto out;
        }
        json_t *unc = json_array();
        store_ledger_uncertain(r.st, ci.c.id, uncertain_cb, unc, &e);
        json_object_set_new(doc, "uncertain_recipients", unc);
        if (r.json) {
            json_dumpf(doc, stdout, JSON_INDENT(2));
            putchar('\n');
        } else {
            const char *k;
            json_t *v;
            json_object_foreach(doc, k, v)
            {
                if (json_is_array(v))
                    continue;
                if (json_is_integer(v))
                    printf("%-22s %lld\n", k, (long long)json_integer_value(v));
                else
                    printf("%-22s %s\n", k,
                           json_is_string(v) ? json_string_value(v) : "-");
            }
            size_t i;
            json_array_foreach(unc, i, v)
            {
                if (i == 0)
                    printf("uncertain recipients (may have received the "
                           "message twice, with the same Message-ID):\n");
                const char *mid =
                    json_string_value(json_object_get(v, "message_id"));
                printf("  %s %s (%s)\n",
                       json_string_value(json_object_get(v, "email")),
                       mid ? mid : "",
                       json_string_value(json_object_get(v, "state")));
            }
        }
        json_decref(doc);
    }
out:
    store_close(r.st);
    return code;
}
