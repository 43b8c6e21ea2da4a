/* SPDX-License-Identifier: ISC */
/*
 * test_report_html.c - the HTML page of `campaign report NAME --format
 * html` (engine/report_html.c), rendered from documents built here as
 * the contract (report16.md) has them: every chart's data attributes and
 * values, the rates with their denominators, numbers with separators;
 * hostile values (markup, attribute breakouts, bidi controls, CR/LF,
 * bytes that are no UTF-8) escaped; no tag that would make a request or
 * run a script; empty and missing sections; the bounds; a write error.
 *
 * The page is read back by a small tag scanner: after escaping, the only
 * '<' in the page are the page's own tags, so scanning them finds every
 * element and attribute a browser would.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th.h"

#include "report_html.h"

/* ---- rendering and reading back ---- */

/* render - the page of doc in a new string (*out, free it); the rc */
static int
render(const json_t *doc, char **out)
{
    size_t len;
    FILE *f = open_memstream(out, &len);
    int rc;

    if (f == NULL) {
        *out = NULL;
        return -2;
    }
    rc = report_html_write(f, doc);
    fclose(f);
    return rc;
}

/* load - a document from JSON text (NULL: a fixture's own error) */
static json_t *
load(const char *text)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);

    if (doc == NULL)
        printf("# fixture: line %d: %s\n", je.line, je.text);
    return doc;
}

#define TAG_ATTRS 24
struct tag {
    char name[24];
    int n;
    struct {
        char k[40];
        char v[512];
    } a[TAG_ATTRS];
};

/* next_tag - the next start tag at or after *p into t, *p after it; 0
 * when there is none.  End tags, comments and the doctype are passed. */
static int
next_tag(const char **p, struct tag *t)
{
    const char *s = *p;

    while ((s = strchr(s, '<')) != NULL) {
        size_t i = 0;
        s++;
        if (!isalpha((unsigned char)*s))
            continue;
        memset(t, 0, sizeof *t);
        while (isalnum((unsigned char)*s) && i + 1 < sizeof t->name)
            t->name[i++] = (char)tolower((unsigned char)*s++);
        for (;;) {
            char q;
            size_t k = 0, v = 0;
            while (isspace((unsigned char)*s) || *s == '/')
                s++;
            if (*s == '>' || *s == '\0')
                break;
            while (*s && *s != '=' && *s != '>' &&
                   !isspace((unsigned char)*s)) {
                if (t->n < TAG_ATTRS && k + 1 < sizeof t->a[0].k)
                    t->a[t->n].k[k++] = (char)tolower((unsigned char)*s);
                s++;
            }
            if (*s == '=') {
                s++;
                q = (*s == '"' || *s == '\'') ? *s++ : 0;
                while (*s && (q ? *s != q
                                : !isspace((unsigned char)*s) && *s != '>')) {
                    if (t->n < TAG_ATTRS && v + 1 < sizeof t->a[0].v)
                        t->a[t->n].v[v++] = *s;
                    s++;
                }
                if (q && *s == q)
                    s++;
            }
            if (t->n < TAG_ATTRS)
                t->n++;
        }
        *p = s;
        return 1;
    }
    return 0;
}

/* attr - the value of attribute k of t, NULL when it has none */
static const char *
attr(const struct tag *t, const char *k)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->a[i].k, k) == 0)
            return t->a[i].v;
    return NULL;
}

/* has_class - t's class attribute holds the word c */
static int
has_class(const struct tag *t, const char *c)
{
    const char *v = attr(t, "class");
    size_t n = strlen(c);

    for (const char *p = v; p && (p = strstr(p, c)) != NULL; p += n)
        if ((p == v || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return 1;
    return 0;
}

/* bars - the <rect class="bar"> of the page whose attribute key is
 * present, as "KEYVALUE=VALUE" lines ("opened=400\n"); series, when
 * set, keeps only data-series="series" */
static void
bars(const char *html, const char *key, const char *series, char *out, size_t n)
{
    struct tag t;
    const char *p = html;
    size_t len = 0;

    out[0] = '\0';
    while (next_tag(&p, &t)) {
        const char *k, *v, *s;
        if (strcmp(t.name, "rect") != 0 || !has_class(&t, "bar") ||
            (k = attr(&t, key)) == NULL)
            continue;
        s = attr(&t, "data-series");
        if (series && (s == NULL || strcmp(s, series) != 0))
            continue;
        v = attr(&t, "data-value");
        len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s=%s\n", k,
                                v ? v : "(none)");
    }
}

/* count - occurrences of needle in s */
static int
count(const char *s, const char *needle)
{
    int n = 0;

    for (; (s = strstr(s, needle)) != NULL; s += strlen(needle))
        n++;
    return n;
}

/* ---- the fixtures ---- */

/* A campaign as the contract has it, its strings hostile: markup, an
 * attribute breakout, bidi controls (U+202E, U+2066), CR/LF, a NUL-free
 * C1 control, a javascript: URL. */
static const char full_doc[] =
    "{\"campaign\": \"<script>alert(1)</script>\\u202egnp.exe\\r\\nX\","
    " \"template\": \"\\\"><img src=x onerror=alert(1)>\","
    " \"status\": \"done\", \"list\": \"news's \\u2066list\\u2069\","
    " \"recipients\": 1234567, \"queued\": 0, \"sent\": 1000000,"
    " \"deferred\": 0, \"failed\": 0, \"unbuildable\": 0, \"held\": 0,"
    " \"bounced_hard\": 3, \"bounced_soft\": 2, \"blocked\": 1,"
    " \"suppressed\": 0, \"uncertain\": 0, \"expired\": 0, \"cancelled\": 0,"
    " \"scheduled_at\": null,"
    " \"started_at\": \"2026-03-02 09:12:00 UTC\","
    " \"finished_at\": \"2026-03-02 10:40:00 UTC\","
    " \"opens\": 500, \"opened_unique\": 400, \"machine_opens\": 7,"
    " \"machine_opened_unique\": 5, \"clicks\": 60, \"clicked_unique\": 40,"
    " \"machine_clicks\": 0, \"unsubscribed\": 1, \"complained\": 1,"
    " \"auto_replies\": 0, \"delayed\": 0, \"views\": 0,"
    " \"bounce_rate\": {\"value\": 0.125, \"numerator\": 1,"
    "   \"denominator\": 8, \"of\": \"delivered+bounced\"},"
    " \"complaint_rate\": {\"value\": 0.1429, \"numerator\": 1,"
    "   \"denominator\": 7, \"of\": \"delivered\"},"
    " \"unsubscribe_rate\": {\"value\": 0.1429, \"numerator\": 1,"
    "   \"denominator\": 7, \"of\": \"delivered\"},"
    " \"open_rate\": {\"value\": 0.0004, \"numerator\": 400,"
    "   \"denominator\": 1000000, \"of\": \"delivered\"},"
    " \"click_rate\": {\"value\": null, \"numerator\": 0,"
    "   \"denominator\": 0, \"of\": \"delivered\"},"
    " \"funnel\": [{\"step\": \"recipients\", \"count\": 1234567},"
    "   {\"step\": \"sent\", \"count\": 1000006, \"of\": \"recipients\"},"
    "   {\"step\": \"accepted\", \"count\": 1000000, \"of\": \"sent\"},"
    "   {\"step\": \"opened\", \"count\": 400, \"of\": \"accepted\"},"
    "   {\"step\": \"clicked\", \"count\": 40, \"of\": \"accepted\"}],"
    " \"bounces\": {\"by_class\": [{\"class\": \"hard\", \"recipients\": 3},"
    "   {\"class\": \"soft\", \"recipients\": 2},"
    "   {\"class\": \"blocked\", \"recipients\": 1}],"
    "  \"by_status\": [{\"class\": \"hard\", \"status\": \"5.1.1\","
    "   \"recipients\": 3}, {\"class\": \"soft\", \"status\": \"\","
    "   \"recipients\": 2}],"
    "  \"top_diagnostics\": [{\"class\": \"hard\", \"status\": \"5.1.1\","
    "   \"code\": 550, \"text\": \"user unknown "
    "<script>window.__pwned=1</script>\\u202e\\r\\nInjected: yes\","
    "   \"recipients\": 3, \"example\": \"eve\\\"'<x>@example.com\"}]},"
    " \"providers\": [{\"provider\": \"google\", \"recipients\": 15,"
    "   \"sent\": 15, \"delivered\": 14, \"deferred\": 0, \"bounced\": 1,"
    "   \"opened\": 7, \"clicked\": 2,"
    "   \"delivery_rate\": {\"value\": 0.9333, \"numerator\": 14,"
    "     \"denominator\": 15, \"of\": \"sent\"},"
    "   \"deferral_rate\": {\"value\": 0, \"numerator\": 0,"
    "     \"denominator\": 15, \"of\": \"sent\"},"
    "   \"bounce_rate\": {\"value\": 0.0667, \"numerator\": 1,"
    "     \"denominator\": 15, \"of\": \"delivered+bounced\"},"
    "   \"open_rate\": {\"value\": 0.5, \"numerator\": 7,"
    "     \"denominator\": 14, \"of\": \"delivered\"},"
    "   \"click_rate\": {\"value\": 0.1429, \"numerator\": 2,"
    "     \"denominator\": 14, \"of\": \"delivered\"}},"
    "  {\"provider\": \"ex<b>ample\\u202e.org\", \"recipients\": 2}],"
    " \"timeline\": {\"start\": \"2026-03-02T09:00Z\", \"buckets\": ["
    "   {\"at\": \"2026-03-02T09:00Z\", \"hours\": 1, \"opens\": 12,"
    "    \"clicks\": 3, \"machine_opens\": 5},"
    "   {\"at\": \"2026-03-02T10:00Z\", \"hours\": 1, \"opens\": 0,"
    "    \"clicks\": 0, \"machine_opens\": 0},"
    "   {\"at\": \"2026-03-04T00:00Z\", \"hours\": 24, \"opens\": 488,"
    "    \"clicks\": 57, \"machine_opens\": 2}]},"
    " \"links\": [{\"url\": \"https://acme.example/a?x=1&y=<2>\","
    "   \"clicks\": 50, \"clicked_unique\": 30},"
    "  {\"url\": \"javascript:alert(1)\\r\\n\\u202e\", \"clicks\": 10,"
    "   \"clicked_unique\": 10}],"
    " \"uncertain_recipients\": [],"
    " \"undelivered\": [{\"state\": \"bounced\", \"bounce_class\": \"hard\","
    "   \"code\": 550, \"status\": \"5.1.1\", \"text\": \"no such user "
    "\\\"><img src=x onerror=alert(1)>\", \"recipients\": 3,"
    "   \"example\": \"eve@example.com\"}]}";

/* A campaign that sent but heard nothing back: every section there,
 * every list empty. */
static const char empty_doc[] =
    "{\"campaign\": \"quiet\", \"template\": \"promo\", \"status\": \"done\","
    " \"list\": \"news\", \"recipients\": 2, \"sent\": 2,"
    " \"started_at\": null, \"finished_at\": null,"
    " \"open_rate\": {\"value\": null, \"numerator\": 0,"
    "   \"denominator\": 0, \"of\": \"delivered\"},"
    " \"funnel\": [{\"step\": \"recipients\", \"count\": 0},"
    "   {\"step\": \"sent\", \"count\": 0, \"of\": \"recipients\"},"
    "   {\"step\": \"accepted\", \"count\": 0, \"of\": \"sent\"},"
    "   {\"step\": \"opened\", \"count\": 0, \"of\": \"accepted\"},"
    "   {\"step\": \"clicked\", \"count\": 0, \"of\": \"accepted\"}],"
    " \"bounces\": {\"by_class\": [{\"class\": \"hard\", \"recipients\": 0},"
    "   {\"class\": \"soft\", \"recipients\": 0},"
    "   {\"class\": \"blocked\", \"recipients\": 0}],"
    "  \"by_status\": [], \"top_diagnostics\": []},"
    " \"providers\": [], \"timeline\": {\"start\": null, \"buckets\": []},"
    " \"links\": [], \"uncertain_recipients\": [], \"undelivered\": []}";

/* ---- the tests ---- */

/* page - a whole page: doctype, viewport, no request, no script */
static void
test_page(const char *html)
{
    struct tag t;
    const char *p = html;
    int tags = 0, svgs = 0, viewport = 0, csp = 0;
    char bad[512] = "";

    TH_CHECK(strncmp(html, "<!DOCTYPE html>\n", 16) == 0,
             "page: starts with the doctype");
    TH_CHECK(strlen(html) > 7 &&
                 strcmp(html + strlen(html) - 8, "</html>\n") == 0,
             "page: ends with </html>");
    while (next_tag(&p, &t)) {
        tags++;
        svgs += strcmp(t.name, "svg") == 0;
        if (strcmp(t.name, "meta") == 0) {
            const char *n = attr(&t, "name"), *h = attr(&t, "http-equiv");
            const char *c = attr(&t, "content");
            viewport += n && strcmp(n, "viewport") == 0 && c &&
                        strstr(c, "width=device-width") != NULL;
            csp += h && strcmp(h, "Content-Security-Policy") == 0 && c &&
                   strstr(c, "default-src 'none'") != NULL;
        }
        /* what would make a request or run a script: the elements, and
         * any attribute that names a resource or an event handler */
        if (strcmp(t.name, "script") == 0 || strcmp(t.name, "img") == 0 ||
            strcmp(t.name, "link") == 0 || strcmp(t.name, "iframe") == 0 ||
            strcmp(t.name, "a") == 0 || strcmp(t.name, "object") == 0 ||
            strcmp(t.name, "image") == 0 || strcmp(t.name, "use") == 0)
            snprintf(bad + strlen(bad), sizeof bad - strlen(bad), " <%s>",
                     t.name);
        for (int i = 0; i < t.n; i++) {
            const char *k = t.a[i].k, *v = t.a[i].v;
            if (strcmp(k, "src") == 0 || strcmp(k, "href") == 0 ||
                strcmp(k, "xlink:href") == 0 || strcmp(k, "srcset") == 0 ||
                strcmp(k, "action") == 0 || strcmp(k, "formaction") == 0 ||
                strcmp(k, "poster") == 0 || strncmp(k, "on", 2) == 0 ||
                strstr(v, "http") == v || strstr(v, "url(") != NULL)
                snprintf(bad + strlen(bad), sizeof bad - strlen(bad),
                         " <%s %s=\"%s\">", t.name, k, v);
        }
    }
    TH_CHECK(tags > 50 && svgs == 3, "page: %d tags, 3 SVG charts (got %d)",
             tags, svgs);
    TH_CHECK(viewport == 1, "page: a viewport meta, width=device-width");
    TH_CHECK(csp == 1, "page: a CSP meta allowing no request");
    TH_STREQ(bad, "", "page: no element or attribute that fetches or runs");
    /* nor in the style sheet */
    TH_CHECK(strstr(html, "url(") == NULL && strstr(html, "@import") == NULL,
             "page: no url() nor @import in the CSS");
}

/* charts - every data element with its value, in order */
static void
test_charts(const char *html)
{
    char got[2048];

    bars(html, "data-step", NULL, got, sizeof got);
    TH_STREQ(got,
             "recipients=1234567\nsent=1000006\naccepted=1000000\n"
             "opened=400\nclicked=40\n",
             "funnel: five bars, data-step and data-value");
    bars(html, "data-class", NULL, got, sizeof got);
    TH_STREQ(got, "hard=3\nsoft=2\nblocked=1\n",
             "bounce classes: three bars, data-class and data-value");
    bars(html, "data-at", "opens", got, sizeof got);
    TH_STREQ(got,
             "2026-03-02T09:00Z=12\n2026-03-02T10:00Z=0\n"
             "2026-03-04T00:00Z=488\n",
             "timeline: one opens bar per bucket, empty buckets too");
    bars(html, "data-at", "clicks", got, sizeof got);
    TH_STREQ(got,
             "2026-03-02T09:00Z=3\n2026-03-02T10:00Z=0\n"
             "2026-03-04T00:00Z=57\n",
             "timeline: one clicks bar per bucket");
    bars(html, "data-at", "machine_opens", got, sizeof got);
    TH_STREQ(got,
             "2026-03-02T09:00Z=5\n2026-03-02T10:00Z=0\n"
             "2026-03-04T00:00Z=2\n",
             "timeline: machines' opens apart, one bar per bucket");
    TH_CHECK(count(html, "data-hours=\"24\"") == 3 &&
                 count(html, "data-hours=\"1\"") == 6,
             "timeline: each bar says its bucket's hours");
    bars(html, "data-rate", NULL, got, sizeof got);
    TH_STREQ(got, "", "rates are no bars");
}

/* text - what a reader sees: separators, rates with denominators */
static void
test_text(const char *html)
{
    static const char *const want[] = {
        /* the funnel: counts and the rate of the step each is of */
        "1,234,567</text>",
        "1,000,006 \u00b7 81.0% of recipients</text>",
        "1,000,000 \u00b7 &gt;99.9% of sent</text>",
        "400 \u00b7 &lt;0.1% of accepted</text>",
        "40 \u00b7 &lt;0.1% of accepted</text>",
        /* the rates, each with its denominator spelled out */
        "<b>Bounce rate</b>: 12.5% \u2014 1 of 8 delivered+bounced</li>",
        "<b>Complaint rate</b>: 14.3% \u2014 1 of 7 delivered</li>",
        "<b>Open rate</b>: &lt;0.1% \u2014 400 of 1,000,000 delivered</li>",
        "<b>Click rate</b>: no rate \u2014 0 of 0 delivered</li>",
        "data-rate=\"open_rate\" data-numerator=\"400\" "
        "data-denominator=\"1000000\"",
        /* the provider table: a rate and its fraction */
        "93.3%<br><small>14 / 15</small>",
        "50.0%<br><small>7 / 14</small>",
        /* counts */
        "data-count=\"recipients\">1,234,567</td>",
        "data-count=\"sent\">1,000,000</td>",
        /* the header */
        "<dd id=\"started_at\">2026-03-02 09:12:00 UTC</dd>",
        "<dd id=\"status\">done</dd>",
        /* scheduled_at present but null: said as none */
        "<dd id=\"scheduled_at\">\u2013</dd>",
        /* the reply of the undelivered group, code status text */
        "550 5.1.1 no such user",
    };

    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        TH_CHECK(strstr(html, want[i]) != NULL, "text: has \"%s\"", want[i]);
    TH_CHECK(strstr(html, "id=\"paused_by_breaker\"") == NULL,
             "text: no breaker line when the doc has none");
}

/* escaping - every hostile value as text, nothing of it as markup */
static void
test_escaping(const char *html)
{
    static const char *const want[] = {
        /* the campaign name, in the title and the heading */
        "<title>&lt;script&gt;alert(1)&lt;/script&gt;\\u202Egnp.exe"
        "\\u000D\\u000AX \u2014 campaign report</title>",
        "<h1>&lt;script&gt;alert(1)&lt;/script&gt;\\u202Egnp.exe"
        "\\u000D\\u000AX</h1>",
        /* the template: the attribute breakout as text */
        "<dd id=\"template\">&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        "</dd>",
        /* the list: the quote, and the isolates shown */
        "<dd id=\"list\">news&#39;s \\u2066list\\u2069</dd>",
        /* a diagnostic: markup, a bidi override, CR/LF */
        "user unknown &lt;script&gt;window.__pwned=1&lt;/script&gt;"
        "\\u202E\\u000D\\u000AInjected: yes</td>",
        /* an example address with quotes and brackets */
        "<td>eve&quot;&#39;&lt;x&gt;@example.com</td>",
        /* a provider's name */
        "<td>ex&lt;b&gt;ample\\u202E.org</td>",
        /* links as text: & escaped, no href anywhere (test_page) */
        "<td class=\"t\">https://acme.example/a?x=1&amp;y=&lt;2&gt;</td>",
        "<td class=\"t\">javascript:alert(1)\\u000D\\u000A\\u202E</td>",
        /* the undelivered group's reply */
        "no such user &quot;&gt;&lt;img src=x onerror=alert(1)&gt;</td>",
    };

    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        TH_CHECK(strstr(html, want[i]) != NULL, "escaping: has \"%s\"",
                 want[i]);
    TH_CHECK(strstr(html, "<script") == NULL && strstr(html, "<img") == NULL &&
                 strstr(html, "<x>") == NULL &&
                 strstr(html, "<b>ample") == NULL,
             "escaping: no hostile markup raw");
    TH_CHECK(strstr(html, "\u202e") == NULL && strstr(html, "\u2066") == NULL &&
                 strstr(html, "\u2069") == NULL,
             "escaping: no bidi control raw (U+202E, U+2066, U+2069)");
    TH_CHECK(strchr(html, '\r') == NULL, "escaping: no CR in the page");
}

/* empty - a campaign without events or bounces renders, saying so */
static void
test_empty(void)
{
    json_t *doc = load(empty_doc);
    char *html = NULL, got[512];
    int rc = render(doc, &html);

    TH_CHECK(rc == 0 && html != NULL, "empty: rendered (rc %d)", rc);
    if (html == NULL)
        goto out;
    TH_CHECK(strstr(html, "no opens or clicks yet") != NULL &&
                 strstr(html, "data-series") == NULL,
             "empty: no timeline chart, \"no opens or clicks yet\"");
    TH_CHECK(strstr(html, "no bounces") != NULL, "empty: \"no bounces\"");
    bars(html, "data-class", NULL, got, sizeof got);
    TH_STREQ(got, "hard=0\nsoft=0\nblocked=0\n",
             "empty: the three bounce classes at 0");
    bars(html, "data-step", NULL, got, sizeof got);
    TH_STREQ(got, "recipients=0\nsent=0\naccepted=0\nopened=0\nclicked=0\n",
             "empty: the five funnel steps at 0");
    TH_CHECK(strstr(html, "width=\"nan") == NULL &&
                 strstr(html, "width=\"-") == NULL &&
                 strstr(html, "nan%") == NULL && strstr(html, "inf") == NULL,
             "empty: no NaN, no infinity, no negative width");
    TH_CHECK(
        strstr(html, "<b>Open rate</b>: no rate \u2014 0 of 0 delivered") !=
            NULL,
        "empty: a rate of nothing is none, not 0%%");
    TH_CHECK(strstr(html, "no clicks yet") != NULL &&
                 strstr(html, "no undelivered recipient has a reply") != NULL &&
                 count(html, ">none</p>") == 2,
             "empty: links, undelivered, by status, diagnostics say none");
    TH_CHECK(strstr(html, "<dd id=\"started_at\">\u2013</dd>") != NULL,
             "empty: a time that is null shows as none");
    /* buckets that are all 0: no chart of nothing either */
    free(html);
    html = NULL;
    json_object_set_new(doc, "timeline",
                        json_pack("{s:s, s:[{s:s, s:i, s:i, s:i, s:i}]}",
                                  "start", "2026-03-02T09:00Z", "buckets", "at",
                                  "2026-03-02T09:00Z", "hours", 1, "opens", 0,
                                  "clicks", 0, "machine_opens", 0));
    rc = render(doc, &html);
    TH_CHECK(rc == 0 && html != NULL &&
                 strstr(html, "no opens or clicks yet") != NULL &&
                 strstr(html, "data-series") == NULL,
             "empty: buckets of nothing: \"no opens or clicks yet\"");
out:
    free(html);
    json_decref(doc);
}

/* missing - a document of before issue 16 (no funnel, bounces,
 * providers, timeline, links): those sections are left out */
static void
test_missing(void)
{
    json_t *doc =
        json_pack("{s:s, s:s, s:I, s:[]}", "campaign", "old", "status", "done",
                  "recipients", (json_int_t)5, "undelivered");
    json_t *odd = json_pack("{s:s, s:i, s:s, s:[i], s:{s:i}, s:s}", "campaign",
                            "odd", "status", 3, "funnel", "five", "links", 1,
                            "bounces", "by_class", 2, "timeline", "soon");
    char *html = NULL;
    int rc = render(doc, &html);

    TH_CHECK(rc == 0 && html != NULL, "missing: rendered (rc %d)", rc);
    if (html != NULL) {
        TH_CHECK(strstr(html, "id=\"funnel\"") == NULL &&
                     strstr(html, "id=\"timeline\"") == NULL &&
                     strstr(html, "id=\"bounces\"") == NULL &&
                     strstr(html, "id=\"providers\"") == NULL &&
                     strstr(html, "id=\"links\"") == NULL &&
                     strstr(html, "id=\"rates\"") == NULL &&
                     strstr(html, "<svg") == NULL,
                 "missing: no section for a key the doc lacks");
        TH_CHECK(strstr(html, "<h1>old</h1>") != NULL &&
                     strstr(html, "id=\"undelivered\"") != NULL &&
                     strstr(html, "</html>") != NULL,
                 "missing: the rest is there");
    }
    free(html);
    html = NULL;
    /* values of the wrong type count as missing */
    rc = render(odd, &html);
    TH_CHECK(rc == 0 && html != NULL && strstr(html, "<svg") == NULL &&
                 strstr(html, "<dd id=\"status\">\u2013</dd>") != NULL,
             "missing: a value of another type counts as none (rc %d)", rc);
    free(html);
    json_decref(odd);
    json_decref(doc);
}

/* bounds - a long string is cut, saying so; bytes that are no UTF-8
 * are shown as \xHH; the timeline draws at most its maximum */
static void
test_bounds(void)
{
    json_t *doc = json_object(), *b = json_array();
    char *html = NULL, *longs = malloc(5000), want[64];
    int rc;

    memset(longs, 'a', 4999);
    longs[4999] = '\0';
    json_object_set_new(doc, "campaign", json_string(longs));
    json_object_set_new(doc, "status",
                        json_stringn_nocheck("ok\xff\xc0\xafz", 6));
    for (int i = 0; i < REPORT_HTML_BUCKETS_MAX + 500; i++)
        json_array_append_new(b, json_pack("{s:s, s:i, s:i, s:i, s:i}", "at",
                                           "2026-03-02T09:00Z", "hours", 24,
                                           "opens", 1, "clicks", 0,
                                           "machine_opens", 0));
    json_object_set_new(
        doc, "timeline",
        json_pack("{s:s, s:o}", "start", "2026-03-02T09:00Z", "buckets", b));
    rc = render(doc, &html);
    TH_CHECK(rc == 0 && html != NULL, "bounds: rendered (rc %d)", rc);
    if (html != NULL) {
        snprintf(want, sizeof want, "\u2026 (%d more bytes)</h1>",
                 4999 - REPORT_HTML_TEXT_MAX);
        TH_CHECK(strstr(html, want) != NULL, "bounds: a long name cut: %s",
                 want);
        TH_CHECK(strstr(html, "<dd id=\"status\">ok\\xFF\\xC0\\xAFz</dd>") !=
                     NULL,
                 "bounds: bytes that are no UTF-8 shown as \\xHH");
        TH_CHECK(count(html, "data-series=\"opens\"") ==
                     REPORT_HTML_BUCKETS_MAX,
                 "bounds: %d timeline buckets drawn of %d (got %d)",
                 REPORT_HTML_BUCKETS_MAX, REPORT_HTML_BUCKETS_MAX + 500,
                 count(html, "data-series=\"opens\""));
        TH_CHECK(strstr(html, "500 more not shown") != NULL,
                 "bounds: the buckets not drawn are said");
    }
    free(html);
    free(longs);
    json_decref(doc);
}

/* write_error - a stream that cannot be written: -1 */
static void
test_write_error(const json_t *doc)
{
    FILE *f = fopen("/dev/full", "w");

    TH_CHECK(f != NULL, "write error: /dev/full opens");
    if (f == NULL)
        return;
    TH_CHECK(report_html_write(f, doc) == -1,
             "write error: -1 on a full device");
    fclose(f);
}

int
main(void)
{
    json_t *doc = load(full_doc);
    char *html = NULL;
    int rc;

    TH_CHECK(doc != NULL, "fixture: the full document loads");
    if (doc == NULL)
        return TH_DONE();
    rc = render(doc, &html);
    TH_CHECK(rc == 0 && html != NULL, "full: rendered (rc %d)", rc);
    if (html != NULL) {
        test_page(html);
        test_charts(html);
        test_text(html);
        test_escaping(html);
    }
    free(html);
    test_empty();
    test_missing();
    test_bounds();
    test_write_error(doc);
    json_decref(doc);
    return TH_DONE();
}
