/* SPDX-License-Identifier: ISC */
/*
 * report_html.c - one campaign's report as one self-contained HTML page
 * (see report_html.h for what it owns and the standards it follows).
 *
 * Rendering only: the document in, the page out to a FILE, written as it
 * goes (no page in memory).  Every value read from the document is
 * checked for its type; one of another type counts as missing.
 */
#include <stdint.h>
#include <string.h>

#include "report_html.h"
#include "utf8.h"

/* What the page says instead of a number (no rate: nothing to divide
 * by) and between a rate and its denominator. */
#define RH_NONE "\u2013"
#define RH_DASH " \u2014 "

/* The charts' coordinates (SVG user units; the SVG scales to the
 * screen's width, never above 1.5 times this). */
#define RH_W 360         /* width of the funnel and bounce charts */
#define RH_ROW 46        /* height of one of their rows */
#define RH_BAR 16        /* height of one of their bars */
#define RH_SLOT 14       /* width of one timeline bucket, at least */
#define RH_SLOT_MAX 40   /* and at most (a few buckets) */
#define RH_LABEL 64      /* width of a time label under the timeline */
#define RH_AXIS 40       /* the timeline's left margin (its scale) */
#define RH_PLOT 120      /* height of the people's opens and clicks */
#define RH_MPLOT 40      /* height of the machines' opens, drawn apart */
#define RH_XLABELS 8     /* at most this many times under the timeline */
#define RH_STEPS 10      /* funnel steps drawn at most (the report has 5) */
#define RH_MIN_SCALE 0.6 /* the timeline never narrower than this much */

/* The colours (each series also has a name in the legend and the
 * tooltip: colour is never the only cue, WCAG 1.4.1). */
#define RH_C_OPENS "#2f6fdf"
#define RH_C_CLICKS "#e07b00"
#define RH_C_MACHINE "#9a9a9a"

static const char rh_style[] =
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}"
    "body{margin:0;font:16px/1.45 system-ui,-apple-system,'Segoe UI',"
    "Roboto,sans-serif;color:#1b1b1b;background:#fff;"
    "overflow-wrap:anywhere}"
    "main{max-width:60rem;margin:0 auto;padding:12px}"
    "h1{font-size:1.5rem;margin:.3em 0}"
    "h2{font-size:1.2rem;margin:1.6em 0 .4em;border-bottom:1px solid #ddd}"
    "h3{font-size:1rem;margin:1.2em 0 .3em}"
    "dl.head{display:grid;grid-template-columns:max-content 1fr;"
    "gap:.15em .8em;margin:0}"
    "dl.head dt{color:#555}dl.head dd{margin:0}"
    "ul.rates{list-style:none;padding:0;margin:0}"
    "ul.rates li{padding:.2em 0}"
    ".scroll{max-width:100%;overflow-x:auto}"
    "table{border-collapse:collapse;font-size:.9rem}"
    "th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #eee;"
    "vertical-align:top}"
    "td.n,th.n{text-align:right;white-space:nowrap}"
    "td,th{overflow-wrap:normal}"
    "td.t{min-width:12rem;max-width:28rem;overflow-wrap:anywhere}"
    "small{color:#555}"
    "svg.chart{display:block;width:100%;height:auto}"
    "svg text{font:12px system-ui,sans-serif;fill:#1b1b1b}"
    "svg .track{fill:#f0f0f0}"
    "svg .axis{stroke:#bbb;stroke-width:1}"
    ".key{display:inline-block;width:.8em;height:.8em;margin-right:.3em}"
    ".empty{color:#555;font-style:italic}"
    "footer{margin-top:2em;color:#777;font-size:.8rem}";

/* ---- values out of the document ---- */

/* get - member k of object o, NULL when o is no object or lacks it */
static const json_t *
get(const json_t *o, const char *k)
{
    return json_is_object(o) ? json_object_get(o, k) : NULL;
}

/* get_str - string member k of o, NULL when missing or not a string */
static const char *
get_str(const json_t *o, const char *k)
{
    return json_string_value(get(o, k));
}

/* get_int - integer member k of o into *v; 0 when missing or no integer */
static int
get_int(const json_t *o, const char *k, json_int_t *v)
{
    const json_t *x = get(o, k);

    if (!json_is_integer(x))
        return 0;
    *v = json_integer_value(x);
    return 1;
}

/* int_or0 - integer member k of o, 0 when missing */
static json_int_t
int_or0(const json_t *o, const char *k)
{
    json_int_t v = 0;

    get_int(o, k, &v);
    return v;
}

/* rows - how many elements of array a are drawn (capped) */
static size_t
rows(const json_t *a, size_t max)
{
    size_t n = json_array_size(a);

    return n < max ? n : max;
}

/* ---- text out ---- */

/* put_text - untrusted s as HTML text or attribute value: & < > " '
 * escaped, hidden code points as \uXXXX, bytes that are no UTF-8 as
 * \xHH, cut after REPORT_HTML_TEXT_MAX bytes saying so */
static void
put_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;
    uint32_t c;

    if (s == NULL)
        return;
    while (p[i] != '\0') {
        if (i >= REPORT_HTML_TEXT_MAX) {
            fprintf(f, "\u2026 (%zu more bytes)", strlen(s + i));
            return;
        }
        if ((n = utf8_next((const char *)p + i, &c)) == 0) {
            fprintf(f, "\\x%02X", p[i]);
            i++;
            continue;
        }
        switch (c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            if (utf8_hidden(c))
                fprintf(f, "\\u%04X", (unsigned)c);
            else
                fwrite(p + i, 1, n, f);
        }
        i += n;
    }
}

/* put_str - string member k of o as text, or none when it has none */
static void
put_str(FILE *f, const json_t *o, const char *k, const char *none)
{
    const char *s = get_str(o, k);

    if (s != NULL && *s != '\0')
        put_text(f, s);
    else
        fputs(none, f);
}

/* put_num - v with thousands separators: 1,234,567 */
static void
put_num(FILE *f, json_int_t v)
{
    char d[32];
    const char *p = d;
    int n = snprintf(d, sizeof d, "%lld", (long long)v);

    if (*p == '-') {
        fputc('-', f);
        p++;
        n--;
    }
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            fputc(',', f);
        fputc(p[i], f);
    }
}

/* put_count - integer member k of o with separators, or RH_NONE */
static void
put_count(FILE *f, const json_t *o, const char *k)
{
    json_int_t v;

    if (get_int(o, k, &v))
        put_num(f, v);
    else
        fputs(RH_NONE, f);
}

/* put_percent - 100 n / d with one decimal, RH_NONE when d is not > 0;
 * never 0.0% for something nor 100.0% for not all: <0.1%, >99.9% */
static void
put_percent(FILE *f, json_int_t n, json_int_t d)
{
    double p = d > 0 ? 100.0 * (double)n / (double)d : 0;

    if (d <= 0)
        fputs(RH_NONE, f);
    else if (n > 0 && p < 0.05)
        fputs("&lt;0.1%", f);
    else if (n < d && p >= 99.95)
        fputs("&gt;99.9%", f);
    else
        fprintf(f, "%.1f%%", p);
}

/* put_rate - a RATE object in full: "12.5% - 1 of 8 delivered", "no
 * rate - 0 of 0 delivered" */
static void
put_rate(FILE *f, const json_t *r)
{
    json_int_t n = int_or0(r, "numerator"), d = int_or0(r, "denominator");

    if (d > 0)
        put_percent(f, n, d);
    else
        fputs("no rate", f);
    fputs(RH_DASH, f);
    put_num(f, n);
    fputs(" of ", f);
    put_num(f, d);
    fputc(' ', f);
    put_str(f, r, "of", "");
}

/* put_rate_cell - a RATE object in a table cell: "93.3%", "14 / 15" */
static void
put_rate_cell(FILE *f, const json_t *r)
{
    json_int_t n = int_or0(r, "numerator"), d = int_or0(r, "denominator");

    fputs("<td class=\"n\">", f);
    if (!json_is_object(r)) {
        fputs(RH_NONE "</td>", f);
        return;
    }
    put_percent(f, n, d);
    fputs("<br><small>", f);
    put_num(f, n);
    fputs(" / ", f);
    put_num(f, d);
    fputs("</small></td>", f);
}

/* put_td - one cell of string member k of o */
static void
put_td(FILE *f, const json_t *o, const char *k, const char *cls)
{
    fprintf(f, "<td%s%s%s>", cls ? " class=\"" : "", cls ? cls : "",
            cls ? "\"" : "");
    put_str(f, o, k, RH_NONE);
    fputs("</td>", f);
}

/* put_td_num - one cell of integer member k of o */
static void
put_td_num(FILE *f, const json_t *o, const char *k)
{
    fputs("<td class=\"n\">", f);
    put_count(f, o, k);
    fputs("</td>", f);
}

/* put_more - "N more not shown" under a table cut at max rows */
static void
put_more(FILE *f, const json_t *a, size_t max)
{
    if (json_array_size(a) > max) {
        fputs("<p class=\"empty\">", f);
        put_num(f, (json_int_t)(json_array_size(a) - max));
        fputs(" more not shown</p>", f);
    }
}

/* table_open - a table of the rows of array a drawn (at most
 * REPORT_HTML_ROWS_MAX): none, the text empty in its paragraph; else a
 * box that scrolls, the table (with id when not NULL), the header cells
 * head, and its body opened.  Returns the rows to draw. */
static size_t
table_open(FILE *f, const json_t *a, const char *id, const char *head,
           const char *empty)
{
    size_t n = rows(a, REPORT_HTML_ROWS_MAX);

    if (n == 0) {
        fprintf(f, "<p class=\"empty\">%s</p>", empty);
        return 0;
    }
    fputs("<div class=\"scroll\"><table", f);
    if (id != NULL)
        fprintf(f, " id=\"%s\"", id);
    fprintf(f, "><thead><tr>%s</tr></thead><tbody>", head);
    return n;
}

/* table_close - the end of table_open's table, and how many rows of a
 * were not drawn */
static void
table_close(FILE *f, const json_t *a)
{
    fputs("</tbody></table></div>", f);
    put_more(f, a, REPORT_HTML_ROWS_MAX);
}

/* put_reply - a reply as text: "CODE STATUS TEXT" */
static void
put_reply(FILE *f, const json_t *x)
{
    json_int_t code;

    if (get_int(x, "code", &code) && code > 0)
        fprintf(f, "%lld ", (long long)code);
    put_str(f, x, "status", "");
    fputc(' ', f);
    put_str(f, x, "text", "");
}

/* ---- the sections ---- */

/* head - the campaign, its status, times, template and list */
static void
head(FILE *f, const json_t *doc)
{
    static const struct {
        const char *key, *label;
    } field[] = {
        {"status", "Status"},
        {"scheduled_at", "Scheduled"},
        {"started_at", "Started"},
        {"finished_at", "Finished"},
        {"template", "Template"},
        {"list", "List"},
        {"paused_by_breaker", "Paused by the breaker"},
    };

    fputs("<header><h1>", f);
    put_str(f, doc, "campaign", "(unnamed campaign)");
    fputs("</h1><dl class=\"head\">", f);
    for (size_t i = 0; i < sizeof field / sizeof *field; i++) {
        /* scheduled_at and paused_by_breaker only when the doc has them */
        if (get(doc, field[i].key) == NULL &&
            (strcmp(field[i].key, "scheduled_at") == 0 ||
             strcmp(field[i].key, "paused_by_breaker") == 0))
            continue;
        fprintf(f, "<dt>%s</dt><dd id=\"%s\">", field[i].label, field[i].key);
        put_str(f, doc, field[i].key, RH_NONE);
        fputs("</dd>", f);
    }
    fputs("</dl></header>\n", f);
}

/* funnel - recipients, sent, accepted, opened, clicked: a bar each (its
 * length of the first step's count), its count, and its rate of the
 * step it is "of" */
static void
funnel(FILE *f, const json_t *doc)
{
    const json_t *a = get(doc, "funnel"), *s;
    size_t n, i;
    json_int_t max = 0;

    if (!json_is_array(a))
        return;
    n = rows(a, RH_STEPS);
    fputs("<section id=\"funnel\"><h2>Funnel</h2>", f);
    if (n == 0) {
        fputs("<p class=\"empty\">no recipients yet</p></section>\n", f);
        return;
    }
    for (i = 0; i < n; i++) {
        json_int_t v = int_or0(json_array_get(a, i), "count");
        max = v > max ? v : max;
    }
    fprintf(f,
            "<svg class=\"chart\" style=\"max-width:%dpx\" "
            "viewBox=\"0 0 %d %zu\" role=\"img\" "
            "aria-label=\"the funnel\">",
            RH_W * 3 / 2, RH_W, n * RH_ROW);
    for (i = 0; i < n; i++) {
        const char *of;
        json_int_t v;
        size_t y = i * RH_ROW;
        double w;

        s = json_array_get(a, i);
        v = int_or0(s, "count");
        w = max > 0 && v > 0 ? (double)RH_W * (double)v / (double)max : 0;
        fprintf(f, "<text x=\"0\" y=\"%zu\">", y + 14);
        put_str(f, s, "step", "?");
        fprintf(f, "</text><text x=\"%d\" y=\"%zu\" text-anchor=\"end\">", RH_W,
                y + 14);
        put_num(f, v);
        /* the rate of the step this one is "of" (the latest of that
         * name before it) */
        if ((of = get_str(s, "of")) != NULL) {
            json_int_t d = -1;
            for (size_t k = 0; k < i; k++) {
                const char *name = get_str(json_array_get(a, k), "step");
                if (name != NULL && strcmp(name, of) == 0)
                    d = int_or0(json_array_get(a, k), "count");
            }
            if (d >= 0) {
                fputs(" \u00b7 ", f);
                put_percent(f, v, d);
                fputs(" of ", f);
                put_text(f, of);
            }
        }
        fprintf(f,
                "</text><rect class=\"track\" x=\"0\" y=\"%zu\" width=\"%d\" "
                "height=\"%d\"/>",
                y + 20, RH_W, RH_BAR);
        fprintf(f,
                "<rect class=\"bar funnel\" x=\"0\" y=\"%zu\" width=\"%.1f\" "
                "height=\"%d\" fill=\"%s\" data-step=\"",
                y + 20, w, RH_BAR, RH_C_OPENS);
        put_str(f, s, "step", "");
        fprintf(f, "\" data-value=\"%lld\"><title>", (long long)v);
        put_str(f, s, "step", "?");
        fputs(": ", f);
        put_num(f, v);
        fputs("</title></rect>", f);
    }
    fputs("</svg></section>\n", f);
}

/* rates - the five rates, each with its numerator and denominator */
static void
rates(FILE *f, const json_t *doc)
{
    static const struct {
        const char *key, *label;
    } r[] = {
        {"bounce_rate", "Bounce rate"},
        {"complaint_rate", "Complaint rate"},
        {"unsubscribe_rate", "Unsubscribe rate"},
        {"open_rate", "Open rate"},
        {"click_rate", "Click rate"},
    };
    int any = 0;

    for (size_t i = 0; i < sizeof r / sizeof *r; i++) {
        const json_t *x = get(doc, r[i].key);
        if (!json_is_object(x))
            continue;
        if (!any++)
            fputs("<section id=\"rates\"><h2>Rates</h2><ul class=\"rates\">",
                  f);
        fprintf(f,
                "<li class=\"rate\" data-rate=\"%s\" data-numerator=\"%lld\" "
                "data-denominator=\"%lld\"><b>%s</b>: ",
                r[i].key, (long long)int_or0(x, "numerator"),
                (long long)int_or0(x, "denominator"), r[i].label);
        put_rate(f, x);
        fputs("</li>", f);
    }
    if (any)
        fputs("</ul><p><small>People among the delivered (accepted by the "
              "relay, no bounce since); opens and clicks by people, not "
              "machines.</small></p></section>\n",
              f);
}

/* counts - the ledger's counts and what came back, those the doc has */
static void
counts(FILE *f, const json_t *doc)
{
    static const struct {
        const char *key, *label;
    } c[] = {
        {"recipients", "recipients"},
        {"sent", "delivered"},
        {"queued", "queued"},
        {"deferred", "deferred"},
        {"bounced_hard", "bounced hard"},
        {"bounced_soft", "bounced soft"},
        {"blocked", "blocked"},
        {"failed", "failed"},
        {"unbuildable", "unbuildable"},
        {"held", "held"},
        {"suppressed", "suppressed"},
        {"uncertain", "uncertain"},
        {"expired", "expired"},
        {"cancelled", "cancelled"},
        {"opens", "opens (people)"},
        {"opened_unique", "people who opened"},
        {"machine_opens", "opens (machines)"},
        {"clicks", "clicks (people)"},
        {"clicked_unique", "people who clicked"},
        {"machine_clicks", "clicks (machines)"},
        {"unsubscribed", "unsubscribed"},
        {"complained", "complained"},
        {"auto_replies", "auto-replies"},
        {"delayed", "delay notices"},
        {"views", "web views"},
    };
    int any = 0;

    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        json_int_t v;
        if (!get_int(doc, c[i].key, &v))
            continue;
        if (!any++)
            fputs("<section id=\"counts\"><h2>Counts</h2><div "
                  "class=\"scroll\"><table><tbody>",
                  f);
        fprintf(f, "<tr><th>%s</th><td class=\"n\" data-count=\"%s\">",
                c[i].label, c[i].key);
        put_num(f, v);
        fputs("</td></tr>", f);
    }
    if (any)
        fputs("</tbody></table></div></section>\n", f);
}

/* xlabel - the short form of a bucket's time under the timeline:
 * "03-02 09h" (hourly) or "03-02" (daily) from "2026-03-02T09:00Z";
 * anything else as it is (escaped) */
static void
xlabel(FILE *f, const char *at, json_int_t hours)
{
    char b[16];

    if (at != NULL && strlen(at) >= 16 && at[4] == '-' && at[10] == 'T') {
        if (hours == 24)
            snprintf(b, sizeof b, "%.5s", at + 5);
        else
            snprintf(b, sizeof b, "%.5s %.2sh", at + 5, at + 11);
        put_text(f, b);
    } else
        put_text(f, at);
}

/* tbar - one bar of the timeline, its data as attributes */
static void
tbar(FILE *f, const json_t *b, const char *series, const char *what,
     const char *colour, double x, double width, double base, double h,
     json_int_t v)
{
    json_int_t hours = int_or0(b, "hours");

    fprintf(f,
            "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
            "height=\"%.1f\" fill=\"%s\" data-series=\"%s\" data-at=\"",
            x, base - h, width, h, colour, series);
    put_str(f, b, "at", "");
    fprintf(f, "\" data-hours=\"%lld\" data-value=\"%lld\"><title>",
            (long long)hours, (long long)v);
    put_str(f, b, "at", "?");
    fprintf(f, " (%lld h): ", (long long)hours);
    put_num(f, v);
    fprintf(f, " %s</title></rect>", what);
}

/* timeline - people's opens and clicks per bucket, machines' opens in
 * a band of their own below; then the non-empty buckets as a table */
static void
timeline(FILE *f, const json_t *doc)
{
    const json_t *t = get(doc, "timeline");
    const json_t *a = get(t, "buckets"), *b;
    json_int_t max = 0, mmax = 0, total = 0;
    size_t n, i, w, h, every;
    double slot;

    if (!json_is_object(t))
        return;
    fputs("<section id=\"timeline\"><h2>Opens and clicks over time</h2>", f);
    n = rows(a, REPORT_HTML_BUCKETS_MAX);
    for (i = 0; i < n; i++) {
        json_int_t o, c, m;
        b = json_array_get(a, i);
        o = int_or0(b, "opens");
        c = int_or0(b, "clicks");
        m = int_or0(b, "machine_opens");
        max = o > max ? o : max;
        max = c > max ? c : max;
        mmax = m > mmax ? m : mmax;
        total += o + c + m;
    }
    if (n == 0 || total == 0) {
        fputs("<p class=\"empty\">no opens or clicks yet</p></section>\n", f);
        return;
    }
    /* a few buckets get wide bars; room on the right for the last time
     * label; never narrower than the other charts */
    slot = (double)(RH_W - RH_AXIS - RH_LABEL) / (double)n;
    slot = slot < RH_SLOT ? RH_SLOT : slot > RH_SLOT_MAX ? RH_SLOT_MAX : slot;
    w = RH_AXIS + (size_t)(slot * (double)n) + RH_LABEL;
    w = w < RH_W ? RH_W : w;
    h = 14 + RH_PLOT + 30 + RH_MPLOT + 24;
    fputs("<p><small>From ", f);
    put_str(f, t, "start", RH_NONE);
    fputs(" (UTC): hourly for the first 48 hours, then daily.</small></p>"
          "<div class=\"scroll\">",
          f);
    fprintf(f,
            "<svg class=\"chart\" style=\"max-width:%zupx;min-width:%zupx\" "
            "viewBox=\"0 0 %zu %zu\" role=\"img\" "
            "aria-label=\"opens and clicks over time\">",
            w * 3 / 2, (size_t)((double)w * RH_MIN_SCALE), w, h);
    /* the scales: the people's maximum, the machines' maximum */
    fprintf(f,
            "<text x=\"0\" y=\"12\">people</text>"
            "<text x=\"%d\" y=\"26\" text-anchor=\"end\">",
            RH_AXIS - 4);
    put_num(f, max);
    fprintf(f,
            "</text><line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%zu\" "
            "y2=\"%d\"/>",
            RH_AXIS, 14 + RH_PLOT, w, 14 + RH_PLOT);
    fprintf(f,
            "<text x=\"0\" y=\"%d\">machines</text>"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
            14 + RH_PLOT + 24, RH_AXIS - 4, 14 + RH_PLOT + 38);
    put_num(f, mmax);
    fprintf(f,
            "</text><line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%zu\" "
            "y2=\"%d\"/>",
            RH_AXIS, 14 + RH_PLOT + 30 + RH_MPLOT, w,
            14 + RH_PLOT + 30 + RH_MPLOT);
    /* at most RH_XLABELS time labels, never on top of each other */
    every = (n + RH_XLABELS - 1) / RH_XLABELS;
    if ((double)every * slot < RH_LABEL)
        every = (size_t)(RH_LABEL / slot) + 1;
    for (i = 0; i < n; i++) {
        double x = RH_AXIS + (double)i * slot, bw = slot / 2 - 1;
        json_int_t o, c, m;
        b = json_array_get(a, i);
        o = int_or0(b, "opens");
        c = int_or0(b, "clicks");
        m = int_or0(b, "machine_opens");
        tbar(f, b, "opens", "opens by people", RH_C_OPENS, x + 1, bw,
             14 + RH_PLOT, max > 0 ? RH_PLOT * (double)o / (double)max : 0, o);
        tbar(f, b, "clicks", "clicks by people", RH_C_CLICKS, x + slot / 2, bw,
             14 + RH_PLOT, max > 0 ? RH_PLOT * (double)c / (double)max : 0, c);
        tbar(f, b, "machine_opens", "opens by machines", RH_C_MACHINE, x + 1,
             bw, 14 + RH_PLOT + 30 + RH_MPLOT,
             mmax > 0 ? RH_MPLOT * (double)m / (double)mmax : 0, m);
        if (i % every == 0) {
            fprintf(f, "<text x=\"%.1f\" y=\"%zu\">", x, h - 6);
            xlabel(f, get_str(b, "at"), int_or0(b, "hours"));
            fputs("</text>", f);
        }
    }
    fputs("</svg></div><p><small>"
          "<span class=\"key\" style=\"background:" RH_C_OPENS
          "\"></span>opens by people "
          "<span class=\"key\" style=\"background:" RH_C_CLICKS
          "\"></span>clicks by people "
          "<span class=\"key\" style=\"background:" RH_C_MACHINE
          "\"></span>opens by machines (privacy proxies, scanners), "
          "apart</small></p>",
          f);
    put_more(f, a, REPORT_HTML_BUCKETS_MAX);
    /* the same figures as a table, for a phone (no hovering there) and
     * a screen reader: the buckets with something in them */
    fputs("<details><summary>the figures</summary><div class=\"scroll\">"
          "<table><thead><tr><th>from (UTC)</th><th class=\"n\">hours</th>"
          "<th class=\"n\">opens</th><th class=\"n\">clicks</th>"
          "<th class=\"n\">machine opens</th></tr></thead><tbody>",
          f);
    for (i = 0; i < n; i++) {
        b = json_array_get(a, i);
        if (int_or0(b, "opens") + int_or0(b, "clicks") +
                int_or0(b, "machine_opens") ==
            0)
            continue;
        fputs("<tr>", f);
        put_td(f, b, "at", NULL);
        put_td_num(f, b, "hours");
        put_td_num(f, b, "opens");
        put_td_num(f, b, "clicks");
        put_td_num(f, b, "machine_opens");
        fputs("</tr>", f);
    }
    fputs("</tbody></table></div></details></section>\n", f);
}

/* bounce_classes - hard, soft, blocked: a bar each */
static void
bounce_classes(FILE *f, const json_t *a)
{
    static const char *const colour[] = {"#c62828", "#f9a825", "#6a1b9a"};
    size_t n = rows(a, 3), i;
    json_int_t max = 0, total = 0;

    for (i = 0; i < n; i++) {
        json_int_t v = int_or0(json_array_get(a, i), "recipients");
        max = v > max ? v : max;
        total += v;
    }
    fputs("<h3>By class</h3>", f);
    if (total == 0)
        fputs("<p class=\"empty\">no bounces</p>", f);
    if (n == 0)
        return;
    fprintf(f,
            "<svg class=\"chart\" style=\"max-width:%dpx\" "
            "viewBox=\"0 0 %d %zu\" role=\"img\" "
            "aria-label=\"bounces by class\">",
            RH_W * 3 / 2, RH_W, n * RH_ROW);
    for (i = 0; i < n; i++) {
        const json_t *c = json_array_get(a, i);
        json_int_t v = int_or0(c, "recipients");
        size_t y = i * RH_ROW;
        double w = max > 0 ? (double)RH_W * (double)v / (double)max : 0;

        fprintf(f, "<text x=\"0\" y=\"%zu\">", y + 14);
        put_str(f, c, "class", "?");
        fprintf(f, "</text><text x=\"%d\" y=\"%zu\" text-anchor=\"end\">", RH_W,
                y + 14);
        put_num(f, v);
        fprintf(f,
                "</text><rect class=\"track\" x=\"0\" y=\"%zu\" width=\"%d\" "
                "height=\"%d\"/><rect class=\"bar bounce\" x=\"0\" "
                "y=\"%zu\" width=\"%.1f\" height=\"%d\" fill=\"%s\" "
                "data-class=\"",
                y + 20, RH_W, RH_BAR, y + 20, w, RH_BAR, colour[i]);
        put_str(f, c, "class", "");
        fprintf(f, "\" data-value=\"%lld\"><title>", (long long)v);
        put_str(f, c, "class", "?");
        fputs(": ", f);
        put_num(f, v);
        fputs("</title></rect>", f);
    }
    fputs("</svg>", f);
}

/* bounces - by class (a chart), by status and the top diagnostics */
static void
bounces(FILE *f, const json_t *doc)
{
    const json_t *bo = get(doc, "bounces"), *a, *x;
    size_t i, n;

    if (!json_is_object(bo))
        return;
    fputs("<section id=\"bounces\"><h2>Bounces</h2>", f);
    if (json_is_array(a = get(bo, "by_class")))
        bounce_classes(f, a);
    if (json_is_array(a = get(bo, "by_status"))) {
        fputs("<h3>By status</h3>", f);
        n = table_open(f, a, "by-status",
                       "<th>class</th><th>status</th><th class=\"n\">"
                       "recipients</th>",
                       "none");
        for (i = 0; i < n; i++) {
            x = json_array_get(a, i);
            fputs("<tr>", f);
            put_td(f, x, "class", NULL);
            put_td(f, x, "status", NULL);
            put_td_num(f, x, "recipients");
            fputs("</tr>", f);
        }
        if (n > 0)
            table_close(f, a);
    }
    if (json_is_array(a = get(bo, "top_diagnostics"))) {
        fputs("<h3>Top diagnostics</h3>", f);
        n = table_open(f, a, "diagnostics",
                       "<th class=\"n\">recipients</th><th>class</th>"
                       "<th>reply</th><th>e.g.</th>",
                       "none");
        for (i = 0; i < n; i++) {
            x = json_array_get(a, i);
            fputs("<tr>", f);
            put_td_num(f, x, "recipients");
            put_td(f, x, "class", NULL);
            fputs("<td class=\"t\">", f);
            put_reply(f, x);
            fputs("</td>", f);
            put_td(f, x, "example", NULL);
            fputs("</tr>", f);
        }
        if (n > 0)
            table_close(f, a);
    }
    fputs("</section>\n", f);
}

/* providers - per provider (or domain): recipients and five rates */
static void
providers(FILE *f, const json_t *doc)
{
    static const char *const rk[] = {"delivery_rate", "deferral_rate",
                                     "bounce_rate", "open_rate", "click_rate"};
    const json_t *a = get(doc, "providers");
    size_t n, i;

    if (!json_is_array(a))
        return;
    fputs("<section id=\"providers\"><h2>Providers</h2>", f);
    n = table_open(
        f, a, "providers-table",
        "<th>provider</th><th class=\"n\">recipients</th>"
        "<th class=\"n\">delivered<br><small>of sent</small></th>"
        "<th class=\"n\">deferred<br><small>of sent</small></th>"
        "<th class=\"n\">bounced<br><small>of delivered+bounced</small></th>"
        "<th class=\"n\">opened<br><small>of delivered</small></th>"
        "<th class=\"n\">clicked<br><small>of delivered</small></th>",
        "no recipients yet");
    for (i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, i);
        fputs("<tr>", f);
        put_td(f, x, "provider", NULL);
        put_td_num(f, x, "recipients");
        for (size_t k = 0; k < sizeof rk / sizeof *rk; k++)
            put_rate_cell(f, get(x, rk[k]));
        fputs("</tr>", f);
    }
    if (n > 0)
        table_close(f, a);
    fputs("</section>\n", f);
}

/* links - the links people clicked most; URLs as text, never links */
static void
links(FILE *f, const json_t *doc)
{
    const json_t *a = get(doc, "links");
    size_t n, i;

    if (!json_is_array(a))
        return;
    fputs("<section id=\"links\"><h2>Top links</h2>", f);
    n = table_open(f, a, "links-table",
                   "<th>link</th><th class=\"n\">clicks</th>"
                   "<th class=\"n\">people</th>",
                   "no clicks yet");
    for (i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, i);
        fputs("<tr>", f);
        put_td(f, x, "url", "t");
        put_td_num(f, x, "clicks");
        put_td_num(f, x, "clicked_unique");
        fputs("</tr>", f);
    }
    if (n > 0)
        table_close(f, a);
    fputs("</section>\n", f);
}

/* undelivered - the recipients not delivered, grouped by the relay's
 * last reply */
static void
undelivered(FILE *f, const json_t *doc)
{
    const json_t *a = get(doc, "undelivered");
    size_t n, i;

    if (!json_is_array(a))
        return;
    fputs("<section id=\"undelivered\"><h2>Not delivered</h2>", f);
    if (rows(a, REPORT_HTML_ROWS_MAX) > 0)
        fputs("<p><small>By the relay's last reply, the most frequent first."
              "</small></p>",
              f);
    n = table_open(f, a, "undelivered-table",
                   "<th class=\"n\">recipients</th><th>state</th>"
                   "<th>reply</th><th>e.g.</th>",
                   "no undelivered recipient has a reply");
    for (i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, i);
        fputs("<tr>", f);
        put_td_num(f, x, "recipients");
        fputs("<td>", f);
        put_str(f, x, "state", RH_NONE);
        if (get_str(x, "bounce_class") != NULL) {
            fputs(" (", f);
            put_str(f, x, "bounce_class", "");
            fputc(')', f);
        }
        fputs("</td><td class=\"t\">", f);
        put_reply(f, x);
        fputs("</td>", f);
        put_td(f, x, "example", NULL);
        fputs("</tr>", f);
    }
    if (n > 0)
        table_close(f, a);
    fputs("</section>\n", f);
}

/* uncertain - recipients who may have received the message twice */
static void
uncertain(FILE *f, const json_t *doc)
{
    const json_t *a = get(doc, "uncertain_recipients");
    size_t n, i;

    if ((n = rows(a, REPORT_HTML_ROWS_MAX)) == 0)
        return;
    fputs("<section id=\"uncertain\"><h2>Uncertain recipients</h2><p><small>"
          "May have received the message twice, with the same Message-ID."
          "</small></p>",
          f);
    table_open(f, a, NULL, "<th>address</th><th>Message-ID</th><th>state</th>",
               "");
    for (i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, i);
        fputs("<tr>", f);
        fputs("<td>", f);
        put_str(f, x, "email", "(forgotten)");
        fputs("</td>", f);
        put_td(f, x, "message_id", "t");
        put_td(f, x, "state", NULL);
        fputs("</tr>", f);
    }
    table_close(f, a);
    fputs("</section>\n", f);
}

int
report_html_write(FILE *f, const json_t *doc)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" "
          "content=\"width=device-width, initial-scale=1\">"
          /* no request of any kind, no script: even a value that got
           * through unescaped could not fetch or run anything */
          "<meta http-equiv=\"Content-Security-Policy\" "
          "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
          "<meta name=\"referrer\" content=\"no-referrer\">"
          "<meta name=\"generator\" content=\"campaign\">\n<title>",
          f);
    put_str(f, doc, "campaign", "(unnamed campaign)");
    fprintf(f,
            " \u2014 campaign report</title>\n<style>%s</style></head>\n"
            "<body><main>\n",
            rh_style);
    head(f, doc);
    funnel(f, doc);
    rates(f, doc);
    timeline(f, doc);
    bounces(f, doc);
    providers(f, doc);
    links(f, doc);
    undelivered(f, doc);
    uncertain(f, doc);
    counts(f, doc);
    fputs("<footer>Made by <code>campaign report --format html</code>: "
          "times in UTC.</footer>\n</main></body></html>\n",
          f);
    if (fflush(f) == EOF || ferror(f))
        return -1;
    return 0;
}
