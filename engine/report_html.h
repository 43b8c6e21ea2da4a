/* SPDX-License-Identifier: ISC */
/*
 * report_html.h - one campaign's report as one self-contained HTML page
 * (`campaign report NAME --format html --out FILE`, issue 16).
 *
 * Owns the page: what it shows of the report's JSON document (README
 * "campaign report" lists its keys; cmd/cmd_report.c builds it) and how.  It
 * does not own the figures (db/store_report.c, engine/report.c) nor the
 * file (cmd/report_html.c writes it beside its path and renames it).
 *
 * The page is HTML5 (WHATWG HTML Living Standard) with inline CSS and
 * inline SVG 1.1 charts: it makes no request of its own (no external
 * style, image, font or script; a Content-Security-Policy meta that
 * allows none either) and needs no JavaScript.  Laid out for a phone
 * first: a viewport meta, nothing wider than the screen (long tables
 * scroll inside their own box).
 *
 * Every string that came from the document (campaign, template, list,
 * status, replies, URLs, addresses, provider names, times) is untrusted:
 * HTML-escaped (& < > " '), and the characters that would hide or reorder
 * what a reader sees - C0 and C1 controls, DEL, the Unicode bidi controls
 * (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069) and the line and
 * paragraph separators (U+2028-U+2029) - shown as the visible escape
 * \uXXXX; bytes that are not UTF-8 as \xHH.  URLs are text, never links.
 *
 * Each chart's data elements carry their data as attributes, for tests
 * and for scripts that read the page:
 *   funnel        <rect class="bar funnel" data-step="opened" data-value="400">
 *   bounce class  <rect class="bar bounce" data-class="hard" data-value="3">
 *   timeline      <rect class="bar" data-series="opens|clicks|machine_opens"
 *                       data-at="2026-03-02T09:00Z" data-hours="1"
 *                       data-value="12">
 *   rates         <li class="rate" data-rate="open_rate" data-numerator="3"
 *                     data-denominator="7">
 * A key missing from the document (an older `report`) leaves its section
 * out; an empty one says so ("no opens or clicks yet").
 */
#ifndef CAMPAIGN_REPORT_HTML_H
#define CAMPAIGN_REPORT_HTML_H

#include <jansson.h>
#include <stdio.h>

/* At most this many rows of any one table, and buckets of the timeline,
 * are drawn (the document's lists are top-N: 10 or 20; the timeline is
 * 48 hours then days): the page stays bounded whatever the document. */
#define REPORT_HTML_ROWS_MAX 100
#define REPORT_HTML_BUCKETS_MAX 1000
/* At most this many bytes of one string are shown; the rest is cut,
 * saying how much (a relay's reply is far shorter, RFC 5321 4.5.3.1). */
#define REPORT_HTML_TEXT_MAX 2048

/*
 * report_html_write - the page of doc (one campaign's report, a JSON
 * object) to f, streamed.  No I/O besides f.  Returns 0, or -1 when the
 * stream had a write error (ferror after a final fflush); what was
 * written then is incomplete.  doc stays the caller's.
 */
int report_html_write(FILE *f, const json_t *doc);

#endif
