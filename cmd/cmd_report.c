/* SPDX-License-Identifier: ISC */
/*
 * cmd_report.c - campaign report [NAME | --compare A B] [--format
 * table|json|csv|html]: the ledger's counts per campaign and the rates of
 * engine/report.h, each with its denominator; one campaign's funnel,
 * bounces, receiving providers, opens and clicks over time and links; a
 * campaign's recipients one a row as CSV (report_csv.c); one campaign's
 * page as HTML (engine/report_html.h, report_html.c).
 *
 * The table is for people: numbers with thousands separators, sized to
 * the terminal (columns that do not fit are left out, least useful
 * first), colour only on a terminal and never with NO_COLOR set
 * (no-color.org).  JSON is for programs: its keys are the contract the
 * README lists.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../engine/config.h"
#include "../engine/log.h"
#include "../engine/provider.h"
#include "../engine/report.h"
#include "../engine/utf8.h"
#include "../engine/xalloc.h"
#include "cmd.h"

/* The page cache of a report's connection, KiB (store.h store_cache). */
#define REPORT_CACHE_KIB 2048

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

/* How a table is shown: colour on a terminal unless NO_COLOR is set and
 * not empty (no-color.org), the width of the terminal (stdout's, else
 * $COLUMNS; 0: unlimited, as into a pipe or a file). */
struct look {
    int colour;
    int width;
};

static void
look_init(struct look *l)
{
    const char *nc = getenv("NO_COLOR"), *cols = getenv("COLUMNS");
    struct winsize ws;
    int tty = isatty(STDOUT_FILENO);

    l->colour = tty && (nc == NULL || *nc == '\0');
    l->width = 0;
    if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        l->width = ws.ws_col;
    else if (cols != NULL && atoi(cols) > 0)
        l->width = atoi(cols);
}

/* ANSI SGR sequences (ECMA-48), only when the look has colour */
#define SGR_BOLD "\033[1m"
#define SGR_RED "\033[31m"
#define SGR_OFF "\033[0m"

/* paint - s between sgr and SGR_OFF when the look has colour */
static void
paint(const struct look *l, const char *sgr, const char *s)
{
    if (l->colour)
        printf("%s%s%s", sgr, s, SGR_OFF);
    else
        fputs(s, stdout);
}

/* heading - a section's title line */
static void
heading(const struct look *l, const char *title)
{
    paint(l, SGR_BOLD, title);
    putchar('\n');
}

/* num - v with thousands separators ("1,234,567") */
static const char *
num(long long v, char *buf, size_t n)
{
    char digits[32];
    int len, lead, o = 0;

    len = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    if (v < 0 && o < (int)n - 1)
        buf[o++] = '-';
    lead = len % 3 ? len % 3 : 3;
    for (int i = 0; i < len && o < (int)n - 2; i++) {
        if (i > 0 && (i - lead) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* pct - a rate as "12.5%", "-" when there is nothing to divide by */
static const char *
pct(const struct report_rate *r, char *buf, size_t n)
{
    double p = report_rate_percent(r);

    if (p < 0)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.1f%%", p);
    return buf;
}

/* alarming - a rate a sender must look at: bounces over 2%, complaints
 * over 0.1% (the mailbox providers' published limits start at 0.1% and
 * 0.3%) */
static int
alarming(const struct report_rate *r, int id)
{
    double p = report_rate_percent(r);

    return (id == REPORT_RATE_BOUNCE && p > 2.0) ||
           (id == REPORT_RATE_COMPLAINT && p > 0.1);
}

struct rep {
    struct store *st;
    int json;
    int rows;
    json_t *arr;
    struct err *e;
    int failed;
    struct look look;
    int cols[32];           /* the list's columns shown (list_cols) */
    struct providers *prov; /* the provider table (no DNS) */
};

struct campinfo {
    struct store_campaign c;
    char name[256], template[128], status[16], list[256], breaker[256];
    struct store_rate_counts counts; /* the people behind the rates */
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

/* jstr - s as a JSON string, NULL as null.  A byte that is not UTF-8 (a
 * relay's reply in Latin-1, an address from an old import) becomes the
 * text \xHH: JSON holds only text, and nothing is left out for it. */
static json_t *
jstr(const char *s)
{
    size_t n, i = 0, at;
    char *b, *p;
    json_t *j;

    if (s == NULL)
        return json_null();
    n = strlen(s);
    if (utf8_check(s, n) == UTF8_VALID)
        return json_string(s);
    p = b = xmalloc(4 * n + 1);
    while (i < n) {
        at = utf8_check(s + i, n - i);
        if (at == UTF8_VALID)
            at = n - i;
        memcpy(p, s + i, at);
        p += at;
        i += at;
        if (i < n)
            p += sprintf(p, "\\x%02x", (unsigned char)s[i++]);
    }
    *p = '\0';
    j = json_string(b);
    free(b);
    return j;
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

/* figures - one campaign's document: its counts and rates; with events,
 * what came back through serve and by mail as well. */
static json_t *
figures(struct rep *r, const char *name, struct store_counts *cnt,
        struct campinfo *ci, int events)
{
    struct store_event_counts ev;
    json_t *doc;

    if (store_campaign_get(r->st, name, info_cb, ci, r->e) != 1 ||
        store_ledger_counts(r->st, ci->c.id, cnt, r->e) == -1 ||
        (events && store_event_counts(r->st, ci->c.id, &ev, r->e) == -1) ||
        store_report_counts(r->st, ci->c.id, &ci->counts, r->e) == -1)
        return NULL;
    report_rates_from(&ci->counts, &ci->rates);
    doc = json_pack(
        "{s:o, s:o, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}",
        "campaign", jstr(ci->name), "template", jstr(ci->template), "status",
        ci->status, "list", jstr(ci->list), "recipients",
        (json_int_t)cnt->recipients, "queued",
        (json_int_t)(cnt->queued + cnt->sending), "sent", (json_int_t)cnt->sent,
        "deferred", (json_int_t)cnt->deferred, "failed",
        (json_int_t)cnt->failed, "unbuildable", (json_int_t)cnt->unbuildable,
        "held", (json_int_t)cnt->held, "bounced_hard",
        (json_int_t)cnt->bounced_hard, "bounced_soft",
        (json_int_t)cnt->bounced_soft, "blocked", (json_int_t)cnt->blocked,
        "suppressed", (json_int_t)cnt->skipped, "uncertain",
        (json_int_t)cnt->was_uncertain, "expired", (json_int_t)cnt->expired,
        "cancelled", (json_int_t)cnt->cancelled, "scheduled_at",
        time_json(ci->c.scheduled_at), "started_at",
        time_json(ci->c.started_at), "finished_at",
        time_json(ci->c.finished_at));
    if (doc == NULL) {
        err_set(r->e, EX_SOFTWARE, "campaign %s: cannot be written as JSON",
                cmd_safe(name));
        return NULL;
    }
    if (events) {
        /* what came back through `campaign serve`: people's opens and
         * clicks apart from machines' (mail-privacy proxies, scanners) */
        json_object_set_new(doc, "opens", json_integer(ev.opens));
        json_object_set_new(doc, "opened_unique",
                            json_integer(ev.opened_unique));
        json_object_set_new(doc, "machine_opens",
                            json_integer(ev.machine_opens));
        json_object_set_new(doc, "machine_opened_unique",
                            json_integer(ev.machine_opened_unique));
        json_object_set_new(doc, "clicks", json_integer(ev.clicks));
        json_object_set_new(doc, "clicked_unique",
                            json_integer(ev.clicked_unique));
        json_object_set_new(doc, "machine_clicks",
                            json_integer(ev.machine_clicks));
        json_object_set_new(doc, "unsubscribed", json_integer(ev.unsubscribed));
        /* what came back by mail (`campaign bounces`) */
        json_object_set_new(doc, "complained", json_integer(ev.complained));
        json_object_set_new(doc, "auto_replies", json_integer(ev.auto_replies));
        json_object_set_new(doc, "delayed", json_integer(ev.delayed));
        if (ci->breaker[0] != '\0')
            json_object_set_new(doc, "paused_by_breaker", jstr(ci->breaker));
        json_object_set_new(doc, "views", json_integer(ev.views));
    }
    /* the rates, each with its numerator and what it is of */
    for (int i = 0; i < REPORT_RATE_N; i++)
        json_object_set_new(doc, ci->rates.rate[i].key,
                            rate_json(&ci->rates.rate[i]));
    return doc;
}

/* How many rows the breakdowns of one campaign hold at most. */
#define REPORT_BOUNCE_STATUSES 20
#define REPORT_BOUNCE_REPLIES 10
#define REPORT_PROVIDERS 10
#define REPORT_DOMAINS 50
#define REPORT_LINKS 10

/* bounce_status_cb - one class and status group: into by_status (the
 * largest REPORT_BOUNCE_STATUSES) and the class's total */
struct bounce_fold {
    json_t *by_status;
    long cls[3]; /* hard, soft, blocked */
};

static const char *const bounce_classes[3] = {"hard", "soft", "blocked"};

static int
bounce_status_cb(const struct store_reply *x, void *arg)
{
    struct bounce_fold *b = arg;
    const char *c = x->bounce_class ? x->bounce_class : "";

    for (int i = 0; i < 3; i++)
        if (strcmp(c, bounce_classes[i]) == 0)
            b->cls[i] += x->count;
    if (json_array_size(b->by_status) < REPORT_BOUNCE_STATUSES)
        json_array_append_new(b->by_status,
                              json_pack("{s:o, s:o, s:I}", "class",
                                        jstr(x->bounce_class), "status",
                                        jstr(x->status ? x->status : ""),
                                        "recipients", (json_int_t)x->count));
    return 0;
}

static int
bounce_top_cb(const struct store_reply *x, void *arg)
{
    json_t *j = json_pack("{s:o, s:o, s:i, s:o, s:I, s:o}", "class",
                          jstr(x->bounce_class), "status",
                          jstr(x->status ? x->status : ""), "code", x->code,
                          "text", jstr(x->text ? x->text : ""), "recipients",
                          (json_int_t)x->count, "example", jstr(x->email));

    if (j == NULL) {
        log_warnx("report: a bounce reply that is not UTF-8 in the ledger "
                  "(%s)",
                  x->email ? x->email : "a forgotten contact");
        return 0; /* the group is left out, said */
    }
    json_array_append_new(arg, j);
    return 0;
}

/* provider_name - a domain's provider for the report: the table's
 * (shipped, and the configuration's [provider NAME] domains), never a
 * DNS lookup; NULL: the domain is its own row */
static const char *
provider_name(const char *domain, void *arg)
{
    return providers_of_domain(arg, domain);
}

/* provider_json - a provider's row with its rates */
static json_t *
provider_json(const struct report_group *p, const char *name)
{
    struct report_rate rr[REPORT_PRATE_N];
    json_t *o = json_pack(
        "{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "provider", jstr(name),
        "recipients", (json_int_t)p->recipients, "sent",
        (json_int_t)p->attempted, "delivered", (json_int_t)p->delivered,
        "deferred", (json_int_t)p->deferred, "bounced", (json_int_t)p->bounced,
        "opened", (json_int_t)p->opened, "clicked", (json_int_t)p->clicked);

    if (o == NULL)
        return NULL;
    report_provider_rates(p, rr);
    for (int i = 0; i < REPORT_PRATE_N; i++)
        json_object_set_new(o, rr[i].key, rate_json(&rr[i]));
    return o;
}

/* the providers and the domains of report_groups, as JSON */
struct group_out {
    json_t *providers, *domains;
};

static int
provider_cb(const struct report_group *p, void *arg)
{
    struct group_out *o = arg;

    json_array_append_new(o->providers, provider_json(p, p->name));
    return 0;
}

/* domain_cb - a domain's row of by_domain: the counts of report NAME's
 * document (PRODUCT.md), for its recipients */
static int
domain_cb(const struct report_group *d, void *arg)
{
    struct group_out *o = arg;

    json_array_append_new(
        o->domains,
        json_pack(
            "{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
            "s:I, s:I, s:I, s:I, s:I}",
            "domain", jstr(d->name), "recipients", (json_int_t)d->recipients,
            "queued", (json_int_t)d->queued, "sent", (json_int_t)d->delivered,
            "deferred", (json_int_t)d->waiting, "failed", (json_int_t)d->failed,
            "bounced_hard", (json_int_t)d->bounced_hard, "bounced_soft",
            (json_int_t)d->bounced_soft, "blocked", (json_int_t)d->blocked,
            "suppressed", (json_int_t)d->suppressed, "complained",
            (json_int_t)d->complained, "unsubscribed",
            (json_int_t)d->unsubscribed, "opened_unique",
            (json_int_t)d->opened_unique, "opens", (json_int_t)d->opens,
            "clicked_unique", (json_int_t)d->clicked_unique, "clicks",
            (json_int_t)d->clicks));
    return 0;
}

static int
link_cb(const char *url, long clicks, long people, void *arg)
{
    json_t *j =
        json_pack("{s:o, s:I, s:I}", "url", jstr(url), "clicks",
                  (json_int_t)clicks, "clicked_unique", (json_int_t)people);

    if (j == NULL) {
        log_warnx("report: a link that is not UTF-8");
        return 0;
    }
    json_array_append_new(arg, j);
    return 0;
}

/* timeline_json - the buckets, hourly then daily */
static json_t *
timeline_json(const struct report_timeline *t)
{
    json_t *b = json_array();
    char at[24];

    for (size_t i = 0; i < t->n; i++)
        json_array_append_new(
            b, json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "at",
                         table_time(t->b[i].at, at, sizeof at), "hours",
                         t->b[i].hours, "opens", (json_int_t)t->b[i].opens,
                         "clicks", (json_int_t)t->b[i].clicks, "machine_opens",
                         (json_int_t)t->b[i].machine_opens, "machine_clicks",
                         (json_int_t)t->b[i].machine_clicks));
    return json_pack("{s:o, s:o}", "start",
                     t->start > 0
                         ? json_string(table_time(t->start, at, sizeof at))
                         : json_null(),
                     "buckets", b);
}

/* breakdowns - one campaign's funnel, bounces, providers, timeline and
 * links into doc (report NAME) */
static int
breakdowns(struct rep *r, json_t *doc, struct campinfo *ci,
           const struct store_counts *cnt)
{
    struct report_funnel f;
    struct report_timeline *t;
    struct bounce_fold bf;
    struct group_out go;
    json_t *funnel, *top, *bounces, *links;
    long attempted;

    /* the providers and domains, and the recipients handed to a relay,
     * in one pass over the recipients */
    go.providers = json_array();
    go.domains = json_array();
    json_object_set_new(doc, "providers", go.providers);
    json_object_set_new(doc, "by_domain", go.domains);
    if (report_groups(r->st, ci->c.id, provider_name, r->prov, REPORT_PROVIDERS,
                      provider_cb, REPORT_DOMAINS, domain_cb, &go, &attempted,
                      r->e) == -1)
        return -1;
    report_funnel_from(cnt->recipients, attempted, &ci->counts, &f);
    funnel = json_array();
    for (int i = 0; i < REPORT_STEP_N; i++) {
        const struct report_rate *s = &f.step[i];
        json_t *o = json_pack("{s:s, s:I}", "step", s->key, "count",
                              (json_int_t)s->numerator);
        if (s->of != NULL) {
            double v = report_rate_value(s);
            json_object_set_new(o, "of", json_string(s->of));
            json_object_set_new(o, "rate", v < 0 ? json_null() : json_real(v));
        }
        json_array_append_new(funnel, o);
    }
    json_object_set_new(doc, "funnel", funnel);

    memset(&bf, 0, sizeof bf);
    bf.by_status = json_array();
    top = json_array();
    bounces = json_object();
    json_object_set_new(bounces, "by_status", bf.by_status);
    json_object_set_new(bounces, "top_diagnostics", top);
    json_object_set_new(doc, "bounces", bounces);
    if (store_report_bounce_status(r->st, ci->c.id, bounce_status_cb, &bf,
                                   r->e) == -1 ||
        store_report_bounce_top(r->st, ci->c.id, REPORT_BOUNCE_REPLIES,
                                bounce_top_cb, top, r->e) == -1)
        return -1;
    json_t *by_class = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(
            by_class, json_pack("{s:s, s:I}", "class", bounce_classes[i],
                                "recipients", (json_int_t)bf.cls[i]));
    json_object_set_new(bounces, "by_class", by_class);

    t = xmalloc(sizeof *t);
    if (report_timeline(r->st, ci->c.id, ci->c.started_at, t, r->e) == -1) {
        free(t);
        return -1;
    }
    json_object_set_new(doc, "timeline", timeline_json(t));
    free(t);

    links = json_array();
    json_object_set_new(doc, "links", links);
    return store_report_links(r->st, ci->c.id, REPORT_LINKS, link_cb, links,
                              r->e);
}

/* The list's columns, in the order shown; prio: the order they are
 * given room in when the terminal is narrower than all of them (the
 * name, status, sent, recipients, bounced and the rates a sender watches
 * first; the times, the counts of rare states and the unsubscribe rate
 * last). */
enum list_col {
    LC_NAME,
    LC_STATUS,
    LC_STARTED,
    LC_FINISHED,
    LC_RECIPIENTS,
    LC_SENT,
    LC_QUEUED,
    LC_DEFERRED,
    LC_BOUNCED,
    LC_FAILED,
    LC_UNBUILDABLE,
    LC_HELD,
    LC_RATE0,
    LC_N = LC_RATE0 + REPORT_RATE_N
};
static const struct {
    const char *label;
    int width, left, prio;
} list_col[LC_N] = {
    [LC_NAME] = {"CAMPAIGN", 24, 1, 0},
    [LC_STATUS] = {"STATUS", 10, 1, 1},
    [LC_STARTED] = {"STARTED", 17, 1, 9},
    [LC_FINISHED] = {"FINISHED", 17, 1, 12},
    [LC_RECIPIENTS] = {"RECIPIENTS", 10, 0, 3},
    [LC_SENT] = {"SENT", 10, 0, 2},
    [LC_QUEUED] = {"QUEUED", 8, 0, 10},
    [LC_DEFERRED] = {"DEFERRED", 8, 0, 11},
    [LC_BOUNCED] = {"BOUNCED", 8, 0, 4},
    [LC_FAILED] = {"FAILED", 8, 0, 13},
    [LC_UNBUILDABLE] = {"UNBUILDABLE", 11, 0, 15},
    [LC_HELD] = {"HELD", 6, 0, 14},
    [LC_RATE0 + REPORT_RATE_BOUNCE] = {"BOUNCE%", 10, 0, 5},
    [LC_RATE0 + REPORT_RATE_COMPLAINT] = {"COMPLAINT%", 10, 0, 6},
    [LC_RATE0 + REPORT_RATE_UNSUBSCRIBE] = {"UNSUB%", 10, 0, 16},
    [LC_RATE0 + REPORT_RATE_OPEN] = {"OPEN%", 10, 0, 7},
    [LC_RATE0 + REPORT_RATE_CLICK] = {"CLICK%", 10, 0, 8},
};

/* list_cols - which columns fit in width (0: all): by priority, up to
 * the first that does not fit (a narrower one of less use after it is
 * left out too) */
static void
list_cols(int width, int shown[LC_N])
{
    int used = 0, full = 0;

    for (int p = 0; p < LC_N; p++)
        for (int c = 0; c < LC_N; c++) {
            if (list_col[c].prio != p)
                continue;
            if (p > 0 && width > 0 && used + 1 + list_col[c].width > width)
                full = 1;
            shown[c] = p == 0 || !full;
            if (shown[c])
                used += list_col[c].width + (p > 0);
        }
}

/* list_cell - one cell of the list, padded; a rate past what a sender
 * must look at in red */
static void
list_cell(const struct rep *r, int c, const char *text, int red, int first)
{
    char pad[64];

    if (!r->cols[c])
        return;
    snprintf(pad, sizeof pad, list_col[c].left ? "%-*s" : "%*s",
             list_col[c].width, text);
    if (!first)
        putchar(' ');
    if (red)
        paint(&r->look, SGR_RED, pad);
    else
        fputs(pad, stdout);
}

static int
row_cb(const char *name, void *arg)
{
    struct rep *r = arg;
    struct store_counts cnt;
    struct campinfo ci;
    json_t *doc = figures(r, name, &cnt, &ci, r->json);

    if (doc == NULL) {
        r->failed = 1;
        return 1;
    }
    if (r->json) {
        json_array_append_new(r->arr, doc);
        return 0;
    }
    long bounced = cnt.bounced_hard + cnt.bounced_soft + cnt.blocked;
    long v[LC_N] = {0};
    char cell[64];
    /* queued: what is left to send (a refusal of us leaves it so);
     * failed: what could not be sent for a reason of ours; held: what
     * the client did not hand to the relay (SMTPUTF8, SIZE).  Every cell
     * without a space: scripts split the row on blanks */
    if (r->rows++ == 0) {
        list_cols(r->look.width, r->cols);
        for (int c = 0; c < LC_N; c++)
            if (r->cols[c]) {
                snprintf(cell, sizeof cell, list_col[c].left ? "%-*s" : "%*s",
                         list_col[c].width, list_col[c].label);
                if (c > 0)
                    putchar(' ');
                paint(&r->look, SGR_BOLD, cell);
            }
        putchar('\n');
    }
    v[LC_RECIPIENTS] = cnt.recipients;
    v[LC_SENT] = cnt.sent;
    v[LC_QUEUED] = cnt.queued + cnt.sending;
    v[LC_DEFERRED] = cnt.deferred;
    v[LC_BOUNCED] = bounced;
    v[LC_FAILED] = cnt.failed;
    v[LC_UNBUILDABLE] = cnt.unbuildable;
    v[LC_HELD] = cnt.held;
    for (int c = 0; c < LC_N; c++) {
        int red = 0;
        if (c == LC_NAME)
            snprintf(cell, sizeof cell, "%s", "");
        else if (c == LC_STATUS)
            snprintf(cell, sizeof cell, "%s", ci.status);
        else if (c == LC_STARTED || c == LC_FINISHED)
            table_time(c == LC_STARTED ? ci.c.started_at : ci.c.finished_at,
                       cell, sizeof cell);
        else if (c >= LC_RATE0) {
            const struct report_rate *rt = &ci.rates.rate[c - LC_RATE0];
            pct(rt, cell, sizeof cell);
            red = alarming(rt, c - LC_RATE0);
        } else
            num(v[c], cell, sizeof cell);
        if (c == LC_NAME) /* the name, whole, however long */
            printf("%-*s", list_col[c].width, cmd_safe(ci.name));
        else
            list_cell(r, c, cell, red, 0);
    }
    putchar('\n');
    json_decref(doc);
    return 0;
}

static int
uncertain_cb(const char *email, const char *mid, const char *state, void *arg)
{
    json_t *arr = arg;

    /* email NULL: a forgotten recipient (JSON null, "(forgotten)") */
    json_array_append_new(arr,
                          json_pack("{s:o, s:o, s:s}", "email", jstr(email),
                                    "message_id", jstr(mid), "state", state));
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
    json_t *o = json_pack("{s:s, s:o, s:i, s:o, s:o}", "state", x->state,
                          "bounce_class", jstr(x->bounce_class), "code",
                          x->code, "status", jstr(x->status ? x->status : ""),
                          "text", jstr(x->text ? x->text : ""));

    if (o == NULL)
        return NULL;
    if (each)
        json_object_set_new(o, "email", jstr(x->email));
    else {
        json_object_set_new(o, "recipients", json_integer(x->count));
        json_object_set_new(o, "example", jstr(x->email));
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

/* jint - doc's integer at key (0 when absent) */
static long long
jint(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

/* jrate - a rate object of the JSON back into a report_rate */
static void
jrate(const json_t *o, struct report_rate *rt)
{
    memset(rt, 0, sizeof *rt);
    rt->numerator = (long)jint(o, "numerator");
    rt->denominator = (long)jint(o, "denominator");
    rt->of = json_string_value(json_object_get(o, "of"));
}

/* bar - a bar of n of max in at most w cells */
static void
bar(long long n, long long max, int w)
{
    int k = max > 0 ? (int)((n * w + max - 1) / max) : 0;

    for (int i = 0; i < k && i < w; i++)
        putchar('#');
}

/* print_breakdowns - report NAME's sections after its counts: the
 * funnel, the bounces, the providers, opens and clicks over time, the
 * links; from the document, so that the table says what the JSON says */
static void
print_breakdowns(const struct look *l, json_t *doc)
{
    char a[32], b[32], c[32], d[32], e[32], f[32];
    json_t *v, *w;
    size_t i;

    heading(l, "funnel:");
    json_array_foreach(json_object_get(doc, "funnel"), i, v)
    {
        const char *of = json_string_value(json_object_get(v, "of"));
        struct report_rate rt;
        printf("  %-12s %12s", json_string_value(json_object_get(v, "step")),
               num(jint(v, "count"), a, sizeof a));
        if (of != NULL) {
            /* the step before is what this one is a rate of */
            json_t *prev = json_array_get(json_object_get(doc, "funnel"),
                                          strcmp(of, "recipients") == 0 ? 0
                                          : strcmp(of, "sent") == 0     ? 1
                                                                        : 2);
            rt.numerator = (long)jint(v, "count");
            rt.denominator = (long)jint(prev, "count");
            printf("  %7s of %s", pct(&rt, b, sizeof b), of);
        }
        putchar('\n');
    }

    w = json_object_get(doc, "bounces");
    heading(l, "bounces:");
    printf("  by class:");
    json_array_foreach(json_object_get(w, "by_class"), i, v)
        printf("%s %s %s", i ? "," : "",
               json_string_value(json_object_get(v, "class")),
               num(jint(v, "recipients"), a, sizeof a));
    putchar('\n');
    json_array_foreach(json_object_get(w, "by_status"), i, v)
    {
        const char *st = json_string_value(json_object_get(v, "status"));
        if (i == 0)
            printf("  by class and status (the %d largest):\n",
                   REPORT_BOUNCE_STATUSES);
        printf("  %10s  %-7s %s\n", num(jint(v, "recipients"), a, sizeof a),
               cmd_safe(json_string_value(json_object_get(v, "class"))),
               st && *st ? cmd_safe(st) : "(no status)");
    }
    json_array_foreach(json_object_get(w, "top_diagnostics"), i, v)
    {
        struct store_reply x;
        json_t *ex = json_object_get(v, "example");
        if (i == 0)
            printf("  the most frequent replies:\n");
        memset(&x, 0, sizeof x);
        x.code = (int)jint(v, "code");
        x.status = json_string_value(json_object_get(v, "status"));
        x.text = json_string_value(json_object_get(v, "text"));
        printf("  %10s  %-7s ", num(jint(v, "recipients"), a, sizeof a),
               cmd_safe(json_string_value(json_object_get(v, "class"))));
        reply_line(&x);
        if (json_is_string(ex))
            printf(" (e.g. %s)", cmd_safe(json_string_value(ex)));
        putchar('\n');
    }

    w = json_object_get(doc, "providers");
    if (json_array_size(w) > 0) {
        /* the rates of the rare columns go first when the terminal is
         * narrow: the name, recipients, delivered and bounce rates stay */
        static const char *const rk[] = {"delivery_rate", "bounce_rate",
                                         "deferral_rate", "open_rate",
                                         "click_rate"};
        static const char *const rl[] = {"DELIVERED%", "BOUNCE%", "DEFERRED%",
                                         "OPEN%", "CLICK%"};
        int nr = 5;
        while (nr > 1 && l->width > 0 && 2 + 24 + 11 + 11 * nr > l->width)
            nr--;
        heading(l, "providers (the largest by recipients; delivered and "
                   "deferred of sent, bounced of delivered+bounced, opens "
                   "and clicks of delivered):");
        printf("  %-24s %10s", "PROVIDER", "RECIPIENTS");
        for (int k = 0; k < nr; k++)
            printf(" %10s", rl[k]);
        putchar('\n');
        json_array_foreach(w, i, v)
        {
            printf("  %-24s %10s",
                   cmd_safe(json_string_value(json_object_get(v, "provider"))),
                   num(jint(v, "recipients"), a, sizeof a));
            for (int k = 0; k < nr; k++) {
                struct report_rate rt;
                jrate(json_object_get(v, rk[k]), &rt);
                printf(" %10s", pct(&rt, b, sizeof b));
            }
            putchar('\n');
        }
    }

    w = json_object_get(json_object_get(doc, "timeline"), "buckets");
    if (json_array_size(w) > 0) {
        long long max = 1;
        int bw;
        json_array_foreach(w, i,
                           v) if (jint(v, "opens") + jint(v, "clicks") > max)
            max = jint(v, "opens") + jint(v, "clicks");
        bw = l->width > 0 ? l->width - 70 : 30;
        if (bw < 0)
            bw = 0;
        heading(l, "opens and clicks over time (UTC; hourly for 48 hours, "
                   "then daily; people's, machines' apart; empty ones left "
                   "out):");
        printf("  %-17s %3s %10s %10s %14s\n", "FROM", "H", "OPENS", "CLICKS",
               "MACHINE-OPENS");
        json_array_foreach(w, i, v)
        {
            if (jint(v, "opens") + jint(v, "clicks") +
                    jint(v, "machine_opens") + jint(v, "machine_clicks") ==
                0)
                continue;
            printf("  %-17s %3lld %10s %10s %14s ",
                   json_string_value(json_object_get(v, "at")),
                   jint(v, "hours"), num(jint(v, "opens"), c, sizeof c),
                   num(jint(v, "clicks"), d, sizeof d),
                   num(jint(v, "machine_opens"), e, sizeof e));
            bar(jint(v, "opens") + jint(v, "clicks"), max, bw);
            putchar('\n');
        }
    }

    w = json_object_get(doc, "links");
    if (json_array_size(w) > 0) {
        heading(l, "links (people's clicks, the most clicked first):");
        json_array_foreach(w, i, v)
            printf("  %10s clicks %8s people  %s\n",
                   num(jint(v, "clicks"), a, sizeof a),
                   num(jint(v, "clicked_unique"), f, sizeof f),
                   cmd_safe(json_string_value(json_object_get(v, "url"))));
    }
}

/* print_campaign - report NAME as a table */
static void
print_campaign(const struct look *l, json_t *doc)
{
    const char *k;
    char a[32];
    json_t *v, *unc, *rep;
    size_t i;

    json_object_foreach(doc, k, v)
    {
        if (json_is_array(v))
            continue;
        if (json_is_object(v)) { /* a rate */
            if (json_object_get(v, "of") != NULL)
                rate_line(k, v);
        } else if (json_is_integer(v))
            printf("%-22s %s\n", k, num(json_integer_value(v), a, sizeof a));
        else
            printf("%-22s %s\n", k,
                   json_is_string(v) ? cmd_safe(json_string_value(v)) : "-");
    }
    print_breakdowns(l, doc);
    unc = json_object_get(doc, "uncertain_recipients");
    rep = json_object_get(doc, "undelivered");
    json_array_foreach(unc, i, v)
    {
        if (i == 0)
            printf("uncertain recipients (may have received the "
                   "message twice, with the same Message-ID):\n");
        const char *mid = json_string_value(json_object_get(v, "message_id"));
        const char *who = json_string_value(json_object_get(v, "email"));
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
        x.code = (int)jint(v, "code");
        x.status = json_string_value(json_object_get(v, "status"));
        x.text = json_string_value(json_object_get(v, "text"));
        printf("  %6lld %s%s%s%s: ", jint(v, "recipients"),
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

/* fold - the events recorded since the last report counted into what
 * the report reads (db/store.h store_events_fold), before it reads them;
 * those it could not count now (a database read-only, or held by an
 * import) are named on stderr.  -1 (r->e filled) on error. */
static int
fold(struct rep *r)
{
    long pending = 0;
    int rc = store_events_fold(r->st, &pending, r->e);

    if (rc == 1 && pending > 0)
        log_warnx("%ld event%s recorded since the last report not counted "
                  "yet: the database is %s; report again to count them",
                  pending, pending == 1 ? "" : "s",
                  store_readonly(r->st) ? "read-only" : "busy");
    return rc == -1 ? -1 : 0;
}

/* campaign_doc - report NAME's whole document (NULL: e filled) */
static json_t *
campaign_doc(struct rep *r, const char *name)
{
    struct store_counts cnt;
    struct campinfo ci;
    json_t *doc, *unc, *rep;

    if ((doc = figures(r, name, &cnt, &ci, 1)) == NULL)
        return NULL;
    unc = json_array();
    rep = json_array();
    json_object_set_new(doc, "uncertain_recipients", unc);
    json_object_set_new(doc, "undelivered", rep);
    if (breakdowns(r, doc, &ci, &cnt) == -1 ||
        store_ledger_uncertain(r->st, ci.c.id, uncertain_cb, unc, r->e) == -1 ||
        store_ledger_replies(r->st, ci.c.id, 0, REPORT_REPLY_GROUPS, group_cb,
                             rep, r->e) == -1) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* compare_rows - report --compare A B as a table: each figure of A and
 * B side by side, and B - A (for a rate, in percentage points) */
static void
print_compare(const struct look *l, json_t *a, json_t *b)
{
    static const char *const counts[] = {
        "recipients",     "sent",
        "deferred",       "bounced_hard",
        "bounced_soft",   "blocked",
        "complained",     "unsubscribed",
        "opened_unique",  "machine_opened_unique",
        "clicked_unique",
    };
    static const char *const rates[] = {"bounce_rate", "complaint_rate",
                                        "unsubscribe_rate", "open_rate",
                                        "click_rate"};
    char x[32], y[32], z[32];
    const char *na = json_string_value(json_object_get(a, "campaign"));
    const char *nb = json_string_value(json_object_get(b, "campaign"));

    printf("%-24s ", "");
    paint(l, SGR_BOLD, "A");
    printf(" %s\n%-24s ", cmd_safe(na), "");
    paint(l, SGR_BOLD, "B");
    printf(" %s\n", cmd_safe(nb));
    printf("%-24s %22s %22s %12s\n", "", "A", "B", "B-A");
    printf("%-24s %22s %22s\n", "status",
           json_string_value(json_object_get(a, "status")),
           json_string_value(json_object_get(b, "status")));
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        long long va = jint(a, counts[i]), vb = jint(b, counts[i]);
        printf("%-24s %22s %22s %12s\n", counts[i], num(va, x, sizeof x),
               num(vb, y, sizeof y), num(vb - va, z, sizeof z));
    }
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        struct report_rate ra, rb;
        char ca[48], cb[48], d[32];
        double pa, pb;
        jrate(json_object_get(a, rates[i]), &ra);
        jrate(json_object_get(b, rates[i]), &rb);
        pa = report_rate_percent(&ra);
        pb = report_rate_percent(&rb);
        snprintf(ca, sizeof ca, "%s (%ld/%ld)", pct(&ra, x, sizeof x),
                 ra.numerator, ra.denominator);
        snprintf(cb, sizeof cb, "%s (%ld/%ld)", pct(&rb, y, sizeof y),
                 rb.numerator, rb.denominator);
        if (pa < 0 || pb < 0)
            snprintf(d, sizeof d, "-");
        else
            snprintf(d, sizeof d, "%+.1f pt", pb - pa);
        printf("%-24s %22s %22s %12s\n", rates[i], ca, cb, d);
    }
    printf("rates of: bounce_rate of %s; the others of %s (people, not "
           "machines)\n",
           REPORT_OF_ANSWERED, REPORT_OF_DELIVERED);
}

/* uncertain_each - report NAME --uncertain: one recipient a line */
struct unc_out {
    int json;
    long n;
};

static int
uncertain_each(const char *email, const char *mid, const char *state, void *arg)
{
    struct unc_out *o = arg;

    if (o->json) {
        json_t *j = json_pack("{s:o, s:o, s:s}", "email", jstr(email),
                              "message_id", jstr(mid), "state", state);
        if (j == NULL) {
            log_warnx("report: out of memory");
            return 1;
        }
        printf("%s\n  ", o->n ? "," : "[");
        json_dumpf(j, stdout, JSON_COMPACT);
        json_decref(j);
    } else
        printf("%-40s %-12s %s\n", email ? cmd_safe(email) : REPORT_FORGOTTEN,
               state, mid ? cmd_safe(mid) : "");
    o->n++;
    return 0;
}

/* provider_table - the provider table for the report: shipped, and
 * the configuration's [provider NAME] domains; never a DNS lookup */
static struct providers *
provider_table(struct ctx *ctx, int *code)
{
    static char off[] = "off";
    struct config cfg;
    struct providers *p;
    struct err e;

    err_clear(&e);
    if (cmd_config_load(ctx, &cfg, &e) == -1) {
        *code = cmd_fail(&e);
        return NULL;
    }
    char *resolver = cfg.limits.resolver;
    cfg.limits.resolver = off;
    p = providers_new(&cfg.limits, &e);
    cfg.limits.resolver = resolver;
    config_free(&cfg);
    if (p == NULL)
        *code = cmd_fail(&e);
    return p;
}

int
cmd_report(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"undelivered", no_argument, NULL, 'u'},
        {"uncertain", no_argument, NULL, 'U'},
        {"compare", no_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct rep r;
    struct err e;
    int c, code = 0, undelivered = 0, uncertain = 0, compare = 0, csv = 0;
    int html = 0;
    const char *out = NULL;

    memset(&r, 0, sizeof r);
    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            r.json = csv = html = 0;
            if (strcmp(optarg, "json") == 0)
                r.json = 1;
            else if (strcmp(optarg, "csv") == 0)
                csv = 1;
            else if (strcmp(optarg, "html") == 0)
                html = 1;
            else if (strcmp(optarg, "table") != 0) {
                log_warnx("--format: table, json, csv or html (got \"%s\")",
                          optarg);
                return EX_USAGE;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'u':
            undelivered = 1;
            break;
        case 'U':
            uncertain = 1;
            break;
        case 'c':
            compare = 1;
            break;
        case 'h':
            return cmd_usage("report", stdout, 0);
        default:
            return cmd_usage("report", stderr, EX_USAGE);
        }
    }
    /* --compare A B; --undelivered and --uncertain: one NAME, one of them */
    if ((compare &&
         (optind + 2 != argc || undelivered || uncertain || csv || html)) ||
        (!compare && optind + 1 < argc) ||
        ((undelivered || uncertain) && optind + 1 != argc) ||
        (undelivered && uncertain))
        return cmd_usage("report", stderr, EX_USAGE);
    /* the CSV is the recipients (of NAME, or of every campaign), into a
     * file */
    if (csv && (out == NULL || undelivered || uncertain)) {
        log_warnx("--format csv: the recipients into a file "
                  "(report [NAME] --format csv --out FILE)%s",
                  undelivered || uncertain
                      ? ", without --undelivered or --uncertain"
                      : "");
        return EX_USAGE;
    }
    /* the HTML page is one campaign's report, into a file */
    if (html && (optind == argc || out == NULL || undelivered || uncertain)) {
        log_warnx("--format html: one campaign's page into a file "
                  "(report NAME --format html --out FILE)%s",
                  undelivered || uncertain
                      ? ", without --undelivered or --uncertain"
                      : "");
        return EX_USAGE;
    }
    if (out != NULL && !csv && !html) {
        log_warnx("--out %s: only with --format csv or html", out);
        return EX_USAGE;
    }
    look_init(&r.look);
    if ((r.st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    r.e = &e;
    /* a report walks each index page once: a small page cache, and sorts
     * that spill to files, keep its memory the same on a list of ten
     * thousand and of ten million */
    if (store_lean(r.st, REPORT_CACHE_KIB, &e) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if (optind == argc && csv) {
        long rows;
        if (report_csv_write_all(ctx, r.st, out, &rows, &e) == -1)
            code = cmd_fail(&e);
        else if (!ctx->quiet)
            printf("%ld recipient%s of every campaign written to %s\n", rows,
                   rows == 1 ? "" : "s", out);
        goto out;
    }
    if (optind == argc) {
        if (fold(&r) == -1) {
            code = cmd_fail(&e);
            goto out;
        }
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
        goto out;
    }
    /* every campaign named must exist before anything is written */
    for (int k = optind; k < argc; k++) {
        int64_t id;
        int rc = store_campaign_find(r.st, argv[k], &id, &e);
        if (rc != 1) {
            if (rc == 0)
                log_warnx("no campaign \"%s\"", argv[k]);
            code = rc == 0 ? EX_NOINPUT : cmd_fail(&e);
            goto out;
        }
    }
    int64_t id;
    store_campaign_find(r.st, argv[optind], &id, &e);
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
    if (uncertain) {
        /* the recipients that were ever uncertain, streamed */
        struct unc_out o = {r.json, 0};
        if (store_ledger_uncertain(r.st, id, uncertain_each, &o, &e) == -1)
            code = cmd_fail(&e);
        if (r.json)
            printf(o.n ? "\n]\n" : "[]\n");
        else if (o.n == 0 && code == 0)
            printf("no recipient of %s was ever uncertain\n",
                   cmd_safe(argv[optind]));
        goto out;
    }
    if (fold(&r) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if ((r.prov = provider_table(ctx, &code)) == NULL)
        goto out;
    json_t *doc = campaign_doc(&r, argv[optind]), *doc2 = NULL;
    if (doc == NULL ||
        (compare && (doc2 = campaign_doc(&r, argv[optind + 1])) == NULL)) {
        json_decref(doc);
        code = cmd_fail(&e);
        goto out;
    }
    if (compare && r.json) {
        json_t *both = json_pack("{s:[o, o]}", "compare", doc, doc2);
        json_dumpf(both, stdout, REPORT_JSON_FLAGS);
        putchar('\n');
        json_decref(both);
    } else if (compare) {
        print_compare(&r.look, doc, doc2);
        json_decref(doc);
        json_decref(doc2);
    } else if (html) {
        if (report_html_file(ctx, doc, out, &e) == -1)
            code = cmd_fail(&e);
        else if (!ctx->quiet)
            printf("report of %s written to %s\n", argv[optind], out);
        json_decref(doc);
    } else if (r.json) {
        json_dumpf(doc, stdout, REPORT_JSON_FLAGS);
        putchar('\n');
        json_decref(doc);
    } else {
        print_campaign(&r.look, doc);
        json_decref(doc);
    }
out:
    providers_free(r.prov);
    store_close(r.st);
    return code;
}
