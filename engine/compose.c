/* SPDX-License-Identifier: ISC */
/*
 * compose.c - render, build and sign one recipient's message (compose.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uuid/uuid.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "compose.h"
#include "digest.h"
#include "mime.h"
#include "utf8.h"
#include "xalloc.h"

/* A message: 4 KB templates make ~15 KB messages; 16 MiB is a hard cap
 * far above any sane campaign message. */
#define COMPOSE_MSG_MAX (16u * 1024 * 1024)

/* Attributes of one contact that the fast reader takes (more: jansson). */
#define COMPOSE_ATTRS_MAX 64

/* One attribute read by flat_read: the key and the value's text, either
 * in the attribute text or (decoded escapes) in the composer's jtext. */
struct attr {
    const char *k;
    size_t kn;
    int type;      /* JSON_STRING, JSON_INTEGER, JSON_TRUE, ... */
    size_t voff;   /* string: offset in jtext, or ... */
    const char *v; /* ... the text itself when it needed no decoding */
    size_t vn;
    json_int_t i;
};

/* The built-in fields, above the contact's attributes. */
enum builtin { BI_CAMPAIGN, BI_DATE, BI_UNSUBSCRIBE, BI_VIEW, BI_N };
static const char *const builtin_name[BI_N] = {"campaign", "date",
                                               "unsubscribe_url", "view_url"};

/* The tokens a message of a contact may carry whatever its HTML: made
 * together at the start of composer_build. */
enum fixed_token { TK_UNSUBSCRIBE, TK_VIEW, TK_OPEN, TK_BOUNCE, TK_N };

/* A link track_html rewrites: the href value h[vs, ve). */
struct link {
    size_t vs, ve;
};

/* The contact's frame (template.h struct template_flat): the email, the
 * built-ins, then the attributes' slots. */
#define FK_EMAIL 0
#define FK_BI 1
#define FK_ATTRS (FK_BI + BI_N)

struct composer {
    struct compose_params p;
    json_t *empty; /* {} when there is no data */
    /* the frame above the campaign data: the contact's email, the
     * built-ins, then its attributes (no attribute has the name of
     * another field: those contacts go through jansson).  A flat frame
     * whose keys are the names seen so far in the campaign (keys[FK_ATTRS
     * + k] for slot k, malloc'd) and whose values point into this
     * message's attribute text, jtext and buffers: nothing is copied or
     * allocated per message.  epoch changes with the keys. */
    struct template_flat flat;
    struct template_flat_key keys[FK_ATTRS + COMPOSE_ATTRS_MAX];
    struct template_flat_val vals[FK_ATTRS + COMPOSE_ATTRS_MAX];
    size_t nslots;
    /* the keys of display's attributes in flat (-1: none) for epoch
     * disp_epoch */
    long disp_ix[3];
    unsigned long disp_epoch;
    /* this message's built-ins (NULL: none) */
    const char *bi_s[BI_N];
    size_t bi_n[BI_N];
    char *from_domain;
    uuid_t ns;
    struct track_signer *sig; /* NULL without a tracking key */
    struct mime_cache *mc;    /* the last message, line by line */
    /* look-ups in the campaign data, per part: subject, from, reply-to,
     * preheader, html, text */
    struct template_cache *tc[6];
    const struct template *tc_part[6];
    int64_t date_now; /* the `now` date_ymd was made for */
    char date_ymd[16];
    /* From from [sender] (no From: in the template): parsed once */
    int from_fixed, from_ok;
    struct mime_address from;
    struct buf fromb;
    char *list_id; /* the List-Id value for from, or NULL */
    char fbid[300];
    char last_from[256]; /* of the last message built ("" before) */
    struct buf subject, preheader, from_r, reply_to, html, text, final_html;
    struct buf msg, addr, tok, url, tmp, name, jtext, view;
    /* this message's fixed tokens in tok (tk[k] NULL: none), and the
     * clicks' in ctok: link[i] with its request req[i] */
    const char *tk[TK_N];
    size_t tkn[TK_N];
    struct link *link;
    struct track_req *req;
    size_t nlink_cap;
    struct buf ctok;
    struct attr attrs[COMPOSE_ATTRS_MAX];
    struct err scratch;
};

/* make_list_id - the List-Id value for sender from, or NULL: "Name
 * <id>", or "<id>" when the name has a quote or is not ASCII. */
static char *
make_list_id(const struct composer *c, const struct mime_address *from)
{
    char list_id[300];

    if (c->p.sender == NULL || c->p.sender->list_id == NULL)
        return NULL;
    if (from->name)
        snprintf(list_id, sizeof list_id, "%s <%s>", from->name,
                 c->p.sender->list_id);
    else
        snprintf(list_id, sizeof list_id, "<%s>", c->p.sender->list_id);
    /* a display name with a quote or non-ASCII: just the id */
    for (const char *q = list_id; *q; q++)
        if ((unsigned char)*q >= 0x7f || *q == '"' || *q == '\\') {
            snprintf(list_id, sizeof list_id, "<%s>", c->p.sender->list_id);
            break;
        }
    return xstrdup(list_id);
}

/* make_feedback_id - Feedback-ID (Gmail FBL): campaign:template:kind:sender,
 * the same for every message of the campaign. */
static void
make_feedback_id(struct composer *c)
{
    const struct config_sender *sd = c->p.sender;
    const char *sid = sd && sd->feedback_id ? sd->feedback_id
                      : sd && sd->list_id
                          ? sd->list_id
                          : (c->from_domain ? c->from_domain : "campaign");
    size_t k = 0;

    snprintf(c->fbid, sizeof c->fbid, "%s:%s:bulk:%s", c->p.campaign,
             c->p.tmpl->name, sid);
    for (char *q = c->fbid; *q && k < sizeof c->fbid; q++, k++)
        if (*q == ' ' || (unsigned char)*q < 0x21 || (unsigned char)*q >= 0x7f)
            *q = '_';
}

void
composer_free(struct composer *c)
{
    if (c == NULL)
        return;
    json_decref(c->empty);
    for (size_t i = 0; i < c->nslots; i++)
        free((char *)c->keys[FK_ATTRS + i].s);
    free(c->from_domain);
    free(c->list_id);
    track_signer_free(c->sig);
    mime_cache_free(c->mc);
    for (size_t i = 0; i < sizeof c->tc / sizeof c->tc[0]; i++)
        template_cache_free(c->tc[i]);
    buf_free(&c->fromb);
    buf_free(&c->jtext);
    buf_free(&c->view);
    buf_free(&c->ctok);
    free(c->link);
    free(c->req);
    buf_free(&c->subject);
    buf_free(&c->preheader);
    buf_free(&c->from_r);
    buf_free(&c->reply_to);
    buf_free(&c->html);
    buf_free(&c->text);
    buf_free(&c->final_html);
    buf_free(&c->msg);
    buf_free(&c->addr);
    buf_free(&c->tok);
    buf_free(&c->url);
    buf_free(&c->tmp);
    buf_free(&c->name);
    free(c);
}

struct composer *
composer_new(const struct compose_params *p, struct err *e)
{
    struct composer *c;
    const char *at;

    /* Message-IDs need SHA-1: a libcrypto that refuses it (a restrictive
     * configuration) is found here, not at the first message */
    if (!digest_available()) {
        err_set(e, EX_SOFTWARE,
                "libcrypto offers no SHA-256 or SHA-1 (needed for "
                "Message-IDs and address hashes)");
        return NULL;
    }
    c = xcalloc(1, sizeof *c);
    c->p = *p;
    c->empty = json_object();
    c->keys[FK_EMAIL].s = "email";
    c->keys[FK_EMAIL].n = 5;
    for (int b = 0; b < BI_N; b++) {
        c->keys[FK_BI + b].s = builtin_name[b];
        c->keys[FK_BI + b].n = strlen(builtin_name[b]);
    }
    c->flat.keys = c->keys;
    c->flat.vals = c->vals;
    c->flat.nkeys = FK_ATTRS;
    c->flat.epoch = 1;
    c->mc = mime_cache_new();
    {
        const struct tmpl *tp = p->tmpl;
        const struct template *parts[6] = {tp->subject,  tp->from,
                                           tp->reply_to, tp->preheader,
                                           tp->html,     tp->text};
        for (size_t i = 0; i < 6; i++) {
            c->tc_part[i] = parts[i];
            c->tc[i] = parts[i] ? template_cache_new(parts[i]) : NULL;
        }
    }
    c->date_now = INT64_MIN;
    buf_init(&c->fromb, 4096);
    buf_init(&c->jtext, COMPOSE_MSG_MAX);
    buf_init(&c->view, 16 * 1024);
    buf_init(&c->ctok, COMPOSE_MSG_MAX);
    buf_init(&c->subject, 64 * 1024);
    buf_init(&c->preheader, 64 * 1024);
    buf_init(&c->from_r, 4096);
    buf_init(&c->reply_to, 4096);
    buf_init(&c->html, COMPOSE_MSG_MAX);
    buf_init(&c->text, COMPOSE_MSG_MAX);
    buf_init(&c->final_html, COMPOSE_MSG_MAX);
    buf_init(&c->msg, COMPOSE_MSG_MAX);
    buf_init(&c->addr, 4096);
    buf_init(&c->tok, 16 * 1024);
    buf_init(&c->url, 16 * 1024);
    buf_init(&c->tmp, COMPOSE_MSG_MAX);
    buf_init(&c->name, 4096);
    if (p->tmpl->from == NULL &&
        (p->sender == NULL || p->sender->from == NULL)) {
        err_set(e, EX_CONFIG,
                "no sender: set from in [sender] of campaign.conf, or a "
                "From: header in %s",
                p->tmpl->path);
        composer_free(c);
        return NULL;
    }
    /* the namespace of this database's Message-IDs */
    {
        uuid_t base;
        uuid_parse("6f3c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f", base);
        uuid_generate_sha1(c->ns, base, p->salt ? p->salt : "",
                           p->salt ? strlen(p->salt) : 0);
    }
    /* the Message-ID domain: the configured sender's */
    if (p->sender && p->sender->from && (at = strrchr(p->sender->from, '@'))) {
        size_t n = strcspn(at + 1, "> \t");
        c->from_domain = xstrndup(at + 1, n);
    }
    if (p->key != NULL && (c->sig = track_signer_new(p->key, e)) == NULL) {
        composer_free(c);
        return NULL;
    }
    c->bi_s[BI_CAMPAIGN] = p->campaign;
    c->bi_n[BI_CAMPAIGN] = p->campaign ? strlen(p->campaign) : 0;
    /* without a From: in the template, the sender is the same for every
     * message: parse it and make what depends on it once */
    if (p->tmpl->from == NULL) {
        c->from_fixed = 1;
        c->from_ok =
            mime_parse_address(p->sender->from, &c->from, &c->fromb) == 0;
        if (c->from_ok)
            c->list_id = make_list_id(c, &c->from);
    }
    make_feedback_id(c);
    return c;
}

const char *
composer_last_html(const struct composer *c, size_t *len)
{
    *len = c->final_html.len;
    return c->final_html.p ? c->final_html.p : "";
}

const char *
composer_last_text(const struct composer *c, size_t *len)
{
    *len = c->text.len;
    return c->text.p ? c->text.p : "";
}

/* url_put - base/P/TOKEN[suffix] into u (tok the token of tn bytes); 0,
 * or -1 past u's maximum. */
static int
url_put(struct composer *c, struct buf *u, enum track_purpose p,
        const char *tok, size_t tn, const char *suffix)
{
    char mid[3] = {'/', (char)p, '/'};

    buf_reset(u);
    if (buf_puts(u, c->p.tracking->base_url) == -1 ||
        buf_append(u, mid, 3) == -1 || buf_append(u, tok, tn) == -1 ||
        (suffix && buf_puts(u, suffix) == -1))
        return -1;
    return 0;
}

/*
 * fixed_tokens - this message's tokens other than clicks into c->tok, in
 * one batch (track_signer_tokens hashes two at a time): unsubscribe (for
 * the URL or the mailto), view, open pixel and VERP, those that the
 * tracking and sender settings ask for; c->tk[k] points at each, NULL
 * when not wanted.  -1 when the signer fails.
 */
static int
fixed_tokens(struct composer *c, uint64_t contact)
{
    static const enum track_purpose purpose[TK_N] = {
        TRACK_UNSUBSCRIBE, TRACK_VIEW, TRACK_OPEN, TRACK_BOUNCE};
    const struct config_tracking *t = c->p.tracking;
    const struct config_sender *sd = c->p.sender;
    int base = c->sig != NULL && t != NULL && t->base_url != NULL;
    int verp = c->sig != NULL && sd != NULL && sd->bounce_domain != NULL;
    int want[TK_N];
    struct track_req r[TK_N];
    size_t n = 0;

    want[TK_UNSUBSCRIBE] = base || verp;
    want[TK_VIEW] = base;
    want[TK_OPEN] = base && t->opens;
    want[TK_BOUNCE] = verp;
    for (int k = 0; k < TK_N; k++) {
        c->tk[k] = NULL;
        c->tkn[k] = 0;
        if (want[k])
            r[n++] = (struct track_req){purpose[k], contact, NULL, 0, 0, 0};
    }
    buf_reset(&c->tok);
    if (n == 0)
        return 0;
    if (track_signer_tokens(c->sig, c->p.campaign_id, r, n, &c->tok) == -1)
        return -1;
    n = 0;
    for (int k = 0; k < TK_N; k++)
        if (want[k]) {
            c->tk[k] = c->tok.p + r[n].off;
            c->tkn[k] = r[n++].len;
        }
    return 0;
}

/* render - one part into out; errors name the template file's line.
 * stack[1] is the contact's object, or NULL for the flat frame c->flat. */
static int
render(struct composer *c, const struct template *t, json_t *const *stack,
       enum template_escape esc, struct buf *out, struct err *e)
{
    struct template_render_opts o = {esc, c->p.strict};
    const struct tmpl *tp = c->p.tmpl;
    struct template_cache *tc = NULL;

    for (size_t i = 0; i < sizeof c->tc / sizeof c->tc[0]; i++)
        if (c->tc_part[i] == t)
            tc = c->tc[i];
    buf_reset(out);
    /* the campaign data (stack[0]) is the same, unmodified, throughout */
    if (template_render_flat(t, stack, stack[1] ? 2 : 1, 1,
                             stack[1] ? NULL : &c->flat, &o, tc, out, e) == 0)
        return 0;
    if (t == tp->subject)
        tmpl_error_line(tp, tp->off_subject, e);
    else if (t == tp->from)
        tmpl_error_line(tp, tp->off_from, e);
    else if (t == tp->reply_to)
        tmpl_error_line(tp, tp->off_reply_to, e);
    else if (t == tp->preheader)
        tmpl_error_line(tp, tp->off_preheader, e);
    else if (t == tp->html)
        tmpl_error_line(tp, tp->off_html, e);
    return -1;
}

/* The hidden preheader: a div, the text, then padding so that clients do
 * not pull body text into the preview. */
#define PRE_OPEN                                                               \
    "<div style=\"display:none;font-size:1px;line-height:1px;max-height:0;"    \
    "max-width:0;opacity:0;overflow:hidden;mso-hide:all;\">"
#define PAD4                                                                   \
    "&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;"                   \
    "&#847;&zwnj;&nbsp;"
#define PRE_CLOSE PAD4 PAD4 PAD4 PAD4 PAD4 "</div>"

/* insert_preheader - put the preheader right after the <body ...> tag,
 * or at the start when there is none. */
static int
insert_preheader(struct buf *dst, const char *html, size_t n, const char *pre,
                 size_t pn)
{
    const char *b = NULL, *lt = html, *end = html + n;
    size_t at = 0;

    while ((lt = memchr(lt, '<', (size_t)(end - lt))) != NULL) {
        size_t i = (size_t)(lt - html);
        if (i + 5 > n)
            break;
        if (strncasecmp(lt + 1, "body", 4) == 0 &&
            (i + 5 == n || html[i + 5] == '>' || html[i + 5] == ' ' ||
             html[i + 5] == '\t' || html[i + 5] == '\n' ||
             html[i + 5] == '\r')) {
            b = memchr(lt, '>', n - i);
            break;
        }
        lt++;
    }
    if (b != NULL)
        at = (size_t)(b - html) + 1;
    /* the preheader is already HTML-escaped by the renderer */
    if (buf_reserve(dst, n + pn + sizeof PRE_OPEN + sizeof PRE_CLOSE) == -1 ||
        buf_append(dst, html, at) == -1 ||
        buf_append(dst, PRE_OPEN, sizeof PRE_OPEN - 1) == -1 ||
        buf_append(dst, pre, pn) == -1 ||
        buf_append(dst, PRE_CLOSE, sizeof PRE_CLOSE - 1) == -1 ||
        buf_append(dst, html + at, n - at) == -1)
        return -1;
    return 0;
}

/* unescape_attr - an href value as rendered (HTML-escaped) to the URL,
 * appended to out. */
static void
unescape_attr(const char *s, size_t n, struct buf *out)
{
    static const struct {
        const char *ent;
        size_t len;
        char c;
    } ents[] = {{"&amp;", 5, '&'},   {"&quot;", 6, '"'}, {"&#39;", 5, '\''},
                {"&#x27;", 6, '\''}, {"&lt;", 4, '<'},   {"&gt;", 4, '>'},
                {"&#x3D;", 6, '='},  {"&#x2F;", 6, '/'}, {"&#x60;", 6, '`'}};
    const char *end = s + n, *amp;

    while ((amp = memchr(s, '&', (size_t)(end - s))) != NULL) {
        size_t k, rest = (size_t)(end - amp);
        if (buf_append(out, s, (size_t)(amp - s)) == -1)
            return;
        for (k = 0; k < sizeof ents / sizeof ents[0]; k++)
            if (rest >= ents[k].len &&
                memcmp(amp, ents[k].ent, ents[k].len) == 0)
                break;
        if (k < sizeof ents / sizeof ents[0]) {
            if (buf_putc(out, ents[k].c) == -1)
                return;
            s = amp + ents[k].len;
        } else {
            if (buf_putc(out, '&') == -1)
                return;
            s = amp + 1;
        }
    }
    if (buf_append(out, s, (size_t)(end - s)) == -1)
        return; /* the caller's limit: the URL is cut, as before */
}

/* find_href - the first "href=\"" in h[i, n), or NULL: memchr finds the
 * '=' of each attribute (a few dozen in a message) far faster than a
 * general substring search walks the text. */
static const char *
find_href(const char *h, size_t i, size_t n)
{
    const char *p = h + i, *end = h + n;

    while (end - p >= 2 &&
           (p = memchr(p, '=', (size_t)(end - p - 1))) != NULL) {
        if (p[1] == '"' && p - (h + i) >= 4 && memcmp(p - 4, "href", 4) == 0)
            return p - 4;
        p++;
    }
    return NULL;
}

/* has_notrack - "data-notrack" in p[0, n): memchr jumps between the
 * d's of a tag, cheaper than a general search's set-up per tag. */
static int
has_notrack(const char *p, size_t n)
{
    const char *end = p + n;

    while (end - p >= 12 && (p = memchr(p, 'd', (size_t)(end - p - 11)))) {
        if (memcmp(p, "data-notrack", 12) == 0)
            return 1;
        p++;
    }
    return 0;
}

/* link_add - room for link i and its request; the arrays grow. */
static void
link_add(struct composer *c, size_t i)
{
    if (i < c->nlink_cap)
        return;
    c->nlink_cap = c->nlink_cap ? c->nlink_cap * 2 : 16;
    c->link = xreallocarray(c->link, c->nlink_cap, sizeof *c->link);
    c->req = xreallocarray(c->req, c->nlink_cap, sizeof *c->req);
}

/*
 * track_html - final_html from html: links to http(s) URLs rewritten to
 * signed click URLs (except our own tracking links and those marked
 * data-notrack), and the open pixel before </body>.  First the links to
 * rewrite, their URLs unescaped one after the other into tmp; then
 * their tokens in one batch; then the copy.
 */
static int
track_html(struct composer *c, uint64_t contact)
{
    const struct config_tracking *t = c->p.tracking;
    const char *h = c->html.p ? c->html.p : "";
    size_t n = c->html.len, i = 0, o = 0, nl = 0, base_len;
    int clicks = t && t->clicks && t->base_url && c->sig;
    struct buf *dst = &c->final_html;

    buf_reset(dst);
    /* the rewritten links are longer: a token per link, and the pixel */
    if (buf_reserve(dst, n + n / 2 + 1024) == -1) {
        /* never mind: the appends below find the limit */
    }
    base_len = t && t->base_url ? strlen(t->base_url) : 0;
    buf_reset(&c->tmp);
    while (clicks && i < n) {
        const char *m = find_href(h, i, n);
        if (m == NULL)
            break;
        size_t vs = (size_t)(m - h) + 6;
        const char *q = memchr(h + vs, '"', n - vs);
        if (q == NULL)
            break;
        size_t ve = (size_t)(q - h);
        int http = (ve - vs > 7 && strncasecmp(h + vs, "http://", 7) == 0) ||
                   (ve - vs > 8 && strncasecmp(h + vs, "https://", 8) == 0);
        int own = base_len && ve - vs >= base_len &&
                  memcmp(h + vs, t->base_url, base_len) == 0;
        if (http && !own) {
            /* data-notrack in the same tag keeps a link as it is (the tag
             * from the last '<' at or before the value) */
            const char *tag = memrchr(h, '<', vs + 1);
            const char *tag_end = memchr(h + ve, '>', n - ve);
            if (tag == NULL)
                tag = h;
            if (tag_end == NULL || !has_notrack(tag, (size_t)(tag_end - tag))) {
                size_t uo = c->tmp.len;
                link_add(c, nl);
                c->link[nl] = (struct link){vs, ve};
                unescape_attr(h + vs, ve - vs, &c->tmp);
                c->req[nl++] = (struct track_req){
                    TRACK_CLICK, contact, NULL, c->tmp.len - uo, uo, 0};
            }
        }
        i = ve;
    }
    if (nl > 0) {
        /* the URLs in place now that tmp has stopped moving */
        for (size_t k = 0; k < nl; k++)
            c->req[k].url = c->tmp.p + c->req[k].off;
        buf_reset(&c->ctok);
        if (track_signer_tokens(c->sig, c->p.campaign_id, c->req, nl,
                                &c->ctok) == -1)
            return -1;
    }
    for (size_t k = 0; k < nl; k++) {
        const struct track_req *r = &c->req[k];
        /* a click URL, base/c/TOKEN, as large as url holds */
        if (base_len + 3 + ((r->len + 3) & ~(size_t)3) > c->url.max ||
            buf_append(dst, h + o, c->link[k].vs - o) == -1 ||
            buf_append(dst, t->base_url, base_len) == -1 ||
            buf_append(dst, "/c/", 3) == -1 ||
            buf_append(dst, c->ctok.p + r->off, r->len) == -1)
            return -1;
        o = c->link[k].ve;
    }
    if (c->tk[TK_OPEN] != NULL) {
        const char *end = NULL;
        for (size_t k = n; k >= i + 7 && k > 0; k--) {
            if (h[k - 7] == '<' && strncasecmp(h + k - 6, "/body>", 6) == 0) {
                end = h + k - 7;
                break;
            }
        }
        size_t at = end ? (size_t)(end - h) : n;
        if (url_put(c, &c->url, TRACK_OPEN, c->tk[TK_OPEN], c->tkn[TK_OPEN],
                    ".gif") == -1 ||
            buf_append(dst, h + o, at - o) == -1 ||
            buf_puts(dst, "<img src=\"") == -1 ||
            buf_append(dst, c->url.p, c->url.len) == -1 ||
            buf_puts(dst, "\" width=\"1\" height=\"1\" alt=\"\" "
                          "style=\"display:block;border:0;width:1px;"
                          "height:1px\">") == -1)
            return -1;
        o = at;
    }
    return buf_append(dst, h + o, n - o);
}

/* The attributes display takes, in disp_ix order. */
static const char *const disp_name[3] = {"first_name", "last_name", "name"};

/* attr_text - display's string attribute d of the contact (its object,
 * or NULL for the flat frame), *n its length up to a NUL; NULL when it
 * is not there or not a string. */
static const char *
attr_text(struct composer *c, json_t *contact, int d, size_t *n)
{
    const char *s;
    long ix;

    *n = 0;
    if (contact != NULL) {
        s = json_string_value(json_object_get(contact, disp_name[d]));
        *n = s ? strlen(s) : 0;
        return s;
    }
    if (c->disp_epoch != c->flat.epoch) {
        for (int k = 0; k < 3; k++) {
            size_t kn = strlen(disp_name[k]);
            c->disp_ix[k] = -1;
            for (size_t i = FK_ATTRS; i < FK_ATTRS + c->nslots; i++)
                if (c->keys[i].n == kn &&
                    memcmp(c->keys[i].s, disp_name[k], kn) == 0) {
                    c->disp_ix[k] = (long)i;
                    break;
                }
        }
        c->disp_epoch = c->flat.epoch;
    }
    if ((ix = c->disp_ix[d]) == -1 || c->vals[ix].type != TEMPLATE_FLAT_STRING)
        return NULL;
    /* flat_read lets no NUL into a value */
    *n = c->vals[ix].n;
    return c->vals[ix].s;
}

/* display - the To display name from the contact's attributes (its
 * object, or NULL for the flat frame). */
static const char *
display(struct composer *c, json_t *contact)
{
    size_t fn, ln, nn;
    const char *first = attr_text(c, contact, 0, &fn);
    const char *last = attr_text(c, contact, 1, &ln);
    const char *name = attr_text(c, contact, 2, &nn);

    buf_reset(&c->name);
    if (first && last) {
        if (buf_append(&c->name, first, fn) == -1 ||
            buf_putc(&c->name, ' ') == -1 ||
            buf_append(&c->name, last, ln) == -1)
            return NULL;
    } else if (name || first || last) {
        if (name    ? buf_append(&c->name, name, nn) == -1
            : first ? buf_append(&c->name, first, fn) == -1
                    : buf_append(&c->name, last, ln) == -1)
            return NULL;
    } else {
        return NULL;
    }
    return c->name.p;
}

/* err_prefix - name the contact in front of an error message. */
static void
err_prefix(struct err *e, const char *email)
{
    char tmp[ERR_MSG_MAX];
    int n;

    n = snprintf(tmp, sizeof tmp, "contact %.254s: ", email);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return;
    /* truncation of a long message is acceptable here */
    size_t room = sizeof tmp - (size_t)n - 1, len = strlen(e->msg);
    memcpy(tmp + n, e->msg, len < room ? len : room);
    tmp[(size_t)n + (len < room ? len : room)] = '\0';
    memcpy(e->msg, tmp, sizeof e->msg);
}

/* no_breaks - header text rendered from merge data must stay one line;
 * the error names the contact and the template line of the header */
static int
no_breaks(const struct composer *c, const struct buf *b, const char *what,
          int off, const char *email, struct err *e)
{
    for (size_t i = 0; i < b->len; i++)
        if (b->p[i] == '\r' || b->p[i] == '\n' || b->p[i] == '\0')
            return err_set(e, EX_DATAERR,
                           "contact %.254s: %s:%d: the %s contains a line "
                           "break or NUL: it could add a header",
                           email, c->p.tmpl->path, off + 1, what);
    return 0;
}

/*---- the contact's attributes ----*/

/*
 * The attributes come from the store as the JSON text of a flat object
 * (import writes strings, the odd number or boolean).  jansson's parser
 * costs several microseconds per contact, more than the rest of the
 * message; flat_read reads the common shape - an object of strings
 * (with the simple escapes), integers, true, false and null, no repeated
 * key, valid UTF-8 - and flat_apply writes it into one object reused
 * from contact to contact.  Anything else (nesting, \u escapes, reals,
 * an error) goes to json_loads as before, so what a message holds and
 * every error are the same either way.
 */

static const char *
ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* flat_string - the string starting after the quote at *pp; a->v/vn when
 * it holds no escape, else the decoded text appended to jtext (a->v NULL,
 * a->voff).  -1: not for the fast reader. */
static int
flat_string(struct composer *c, const char **pp, const char *end,
            const char **v, size_t *vn, size_t *voff)
{
    const uint64_t ones = 0x0101010101010101ULL, high8 = ones * 0x80;
    const char *p = *pp, *start = p;
    int high = 0, esc = 0;

    for (;;) {
#ifdef __SSE2__
        /* sixteen bytes at a time: the first '"', '\\' or control, and
         * whether a byte before it is not ASCII */
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned hi = (unsigned)_mm_movemask_epi8(x);
            unsigned m =
                (unsigned)_mm_movemask_epi8(_mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                 _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                    _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)))) &
                ~hi;
            if (m != 0) {
                unsigned k = (unsigned)__builtin_ctz(m);
                high |= (hi & ((1u << k) - 1)) != 0;
                p += k;
                goto one;
            }
            high |= hi != 0;
            p += 16;
        }
#endif
        /* eight bytes at a time while none is '"', '\\', a control or
         * non-ASCII (the usual borrow tests; exact for existence) */
        while (end - p >= 8) {
            uint64_t x, q, b;
            memcpy(&x, p, 8);
            q = x ^ (ones * '"');
            b = x ^ (ones * '\\');
            if (((x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
                  ((b - ones) & ~b)) &
                 high8) != 0)
                break;
            p += 8;
        }
#ifdef __SSE2__
    one:
#endif
        if (p == end || *p == '"')
            break;
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20)
            return -1;
        if (ch >= 0x80)
            high = 1;
        if (ch == '\\') {
            esc = 1;
            p++;
            if (p == end || *p == 'u')
                return -1;
        }
        p++;
    }
    if (p == end)
        return -1;
    if (high && utf8_check(start, (size_t)(p - start)) != UTF8_VALID)
        return -1;
    *pp = p + 1;
    if (!esc) {
        *v = start;
        *vn = (size_t)(p - start);
        return 0;
    }
    *v = NULL;
    *voff = c->jtext.len;
    for (const char *q = start; q < p; q++) {
        char ch = *q;
        if (ch == '\\') {
            switch (*++q) {
            case '"':
                ch = '"';
                break;
            case '\\':
                ch = '\\';
                break;
            case '/':
                ch = '/';
                break;
            case 'b':
                ch = '\b';
                break;
            case 'f':
                ch = '\f';
                break;
            case 'n':
                ch = '\n';
                break;
            case 'r':
                ch = '\r';
                break;
            case 't':
                ch = '\t';
                break;
            default:
                return -1;
            }
        }
        if (buf_putc(&c->jtext, ch) == -1)
            return -1;
    }
    *vn = c->jtext.len - *voff;
    return 0;
}

/* flat_read - the attributes into c->attrs; their count, or -1. */
static int
flat_read(struct composer *c, const char *s)
{
    const char *p = s, *end = s + strlen(s);
    size_t n = 0, voff = 0;

    buf_reset(&c->jtext);
    p = ws(p, end);
    if (p == end || *p++ != '{')
        return -1;
    p = ws(p, end);
    if (p < end && *p == '}') {
        p++;
        goto close;
    }
    for (;;) {
        struct attr *a;
        const char *kv;
        size_t kn;

        if (n == COMPOSE_ATTRS_MAX || p == end || *p++ != '"')
            return -1;
        a = &c->attrs[n];
        if (flat_string(c, &p, end, &kv, &kn, &voff) == -1 || kv == NULL)
            return -1; /* keys with escapes: jansson */
        a->k = kv;
        a->kn = kn; /* a repeated key: flat_apply finds it */
        p = ws(p, end);
        if (p == end || *p++ != ':')
            return -1;
        p = ws(p, end);
        if (p == end)
            return -1;
        if (*p == '"') {
            p++;
            a->type = JSON_STRING;
            if (flat_string(c, &p, end, &a->v, &a->vn, &a->voff) == -1)
                return -1;
        } else if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            a->type = JSON_TRUE;
            p += 4;
        } else if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            a->type = JSON_FALSE;
            p += 5;
        } else if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            a->type = JSON_NULL;
            p += 4;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            /* integers of up to 18 digits; the rest to jansson */
            int neg = *p == '-';
            const char *d;
            json_int_t v = 0;
            if (neg)
                p++;
            d = p;
            while (p < end && *p >= '0' && *p <= '9')
                p++;
            if (p == d || p - d > 18 || (*d == '0' && p - d > 1) ||
                (p < end && (*p == '.' || *p == 'e' || *p == 'E')))
                return -1;
            for (const char *q = d; q < p; q++)
                v = v * 10 + (*q - '0');
            a->type = JSON_INTEGER;
            a->i = neg ? -v : v;
        } else {
            return -1;
        }
        n++;
        p = ws(p, end);
        if (p == end)
            return -1;
        if (*p == '}') {
            p++;
            break;
        }
        if (*p++ != ',')
            return -1;
        p = ws(p, end);
    }
close:
    p = ws(p, end);
    return p == end ? (int)n : -1;
}

/* special - a name of the built-ins or "email", which the fast path does
 * not take among the attributes. */
static int
special(const char *k, size_t kn)
{
    if (kn == 5 && memcmp(k, "email", 5) == 0)
        return 1;
    for (int b = 0; b < BI_N; b++)
        if (strlen(builtin_name[b]) == kn &&
            memcmp(builtin_name[b], k, kn) == 0)
            return 1;
    return 0;
}

/* slots_clear - forget the attribute names seen so far. */
static void
slots_clear(struct composer *c)
{
    for (size_t k = 0; k < c->nslots; k++)
        free((char *)c->keys[FK_ATTRS + k].s);
    c->nslots = 0;
    c->flat.nkeys = FK_ATTRS;
    c->flat.epoch++;
}

/* slot_of - the key index of attribute a in the flat frame, looked for
 * from slot h on (the attributes of a list come in the same order); a new
 * one when it is new, or -1 (a name of a built-in, or too many names:
 * then the names seen so far are forgotten, and the next contacts fill
 * the slots afresh). */
static long
slot_of(struct composer *c, const struct attr *a, size_t h)
{
    struct template_flat_key *key;

    for (size_t k = 0; k < c->nslots; k++) {
        key = &c->keys[FK_ATTRS + (h + k) % c->nslots];
        if (key->n == a->kn && memcmp(key->s, a->k, a->kn) == 0)
            return (long)(key - c->keys);
    }
    if (special(a->k, a->kn))
        return -1;
    if (c->nslots == COMPOSE_ATTRS_MAX) {
        slots_clear(c);
        return -1;
    }
    key = &c->keys[FK_ATTRS + c->nslots++];
    key->s = xstrndup(a->k, a->kn);
    key->n = a->kn;
    c->vals[key - c->keys].type = TEMPLATE_FLAT_ABSENT;
    c->flat.nkeys = FK_ATTRS + c->nslots;
    c->flat.epoch++;
    return (long)(key - c->keys);
}

/* set_text - v = the string s (n bytes), absent when it is not UTF-8 (as
 * json_string would refuse it). */
static void
set_text(struct template_flat_val *v, const char *s, size_t n)
{
    if (utf8_check(s, n) != UTF8_VALID) {
        v->type = TEMPLATE_FLAT_ABSENT;
        return;
    }
    v->type = TEMPLATE_FLAT_STRING;
    v->s = s;
    v->n = n;
}

/*
 * flat_apply - c->flat = the n attributes read, the email and the
 * built-ins.  The values point into the attribute text, jtext and the
 * built-ins' buffers, which stay as they are until the message is built.
 * -1: the attributes are not for the fast path (a repeated name, a name
 * of a built-in, too many names).
 */
static int
flat_apply(struct composer *c, size_t n, const char *email)
{
    struct template_flat_val *vals = c->vals;
    size_t h = 0;

    for (size_t k = 0; k < c->nslots; k++)
        vals[FK_ATTRS + k].type = TEMPLATE_FLAT_ABSENT;
    for (size_t i = 0; i < n; i++) {
        const struct attr *a = &c->attrs[i];
        long k = slot_of(c, a, h);
        struct template_flat_val *v;

        if (k == -1)
            return -1;
        v = &vals[k];
        if (v->type != TEMPLATE_FLAT_ABSENT)
            return -1; /* a repeated key: jansson's rules */
        h = (size_t)k - FK_ATTRS + 1;
        switch (a->type) {
        case JSON_STRING:
            v->type = TEMPLATE_FLAT_STRING;
            v->s = a->v ? a->v : c->jtext.p + a->voff;
            v->n = a->vn;
            break;
        case JSON_INTEGER:
            v->type = TEMPLATE_FLAT_INTEGER;
            v->i = a->i;
            break;
        case JSON_TRUE:
            v->type = TEMPLATE_FLAT_TRUE;
            break;
        case JSON_FALSE:
            v->type = TEMPLATE_FLAT_FALSE;
            break;
        default:
            v->type = TEMPLATE_FLAT_NULL;
            break;
        }
    }
    set_text(&vals[FK_EMAIL], email, strlen(email));
    for (int b = 0; b < BI_N; b++) {
        if (c->bi_s[b] != NULL)
            set_text(&vals[FK_BI + b], c->bi_s[b], c->bi_n[b]);
        else /* a campaign without a name is null; the other built-ins
              * are absent when there is no tracking */
            vals[FK_BI + b].type =
                b == BI_CAMPAIGN ? TEMPLATE_FLAT_NULL : TEMPLATE_FLAT_ABSENT;
    }
    return 0;
}

/* contact_json - the frame of the contact's attributes, email and the
 * built-ins: *o NULL for c->flat, else a new object for the caller to
 * release.  -1 when the attributes are not a JSON object. */
static int
contact_json(struct composer *c, const struct compose_contact *ct, json_t **o)
{
    const char *attrs = ct->attrs ? ct->attrs : "{}";
    json_error_t jerr;
    int n;

    *o = NULL;
    if ((n = flat_read(c, attrs)) >= 0 &&
        flat_apply(c, (size_t)n, ct->email) == 0)
        return 0;
    *o = json_loads(attrs, 0, &jerr);
    if (*o == NULL || !json_is_object(*o)) {
        json_decref(*o);
        *o = NULL;
        return -1;
    }
    json_object_set_new(*o, "email", json_string(ct->email));
    for (int b = 0; b < BI_N; b++) {
        if (c->bi_s[b] != NULL)
            json_object_set_new(*o, builtin_name[b],
                                json_stringn(c->bi_s[b], c->bi_n[b]));
        else if (b == BI_CAMPAIGN)
            json_object_set_new(*o, builtin_name[b], json_null());
    }
    return 0;
}

/* scat - dst (cap bytes) = the strings given, up to a NULL, cut as
 * snprintf would cut them. */
static void
scat(char *dst, size_t cap, ...)
{
    va_list ap;
    const char *s;
    size_t at = 0;

    va_start(ap, cap);
    while ((s = va_arg(ap, const char *)) != NULL) {
        size_t n = strlen(s);
        if (n > cap - 1 - at)
            n = cap - 1 - at;
        memcpy(dst + at, s, n);
        at += n;
    }
    va_end(ap);
    dst[at] = '\0';
}

/* message_id - "<uuid@domain>": a name-based UUID of the campaign and
 * the contact in this database's namespace. */
static void
message_id(struct composer *c, uint64_t id, const char *from_addr,
           struct compose_result *r)
{
    char name[128], uu[40], digits[24];
    size_t cl = strlen(c->p.campaign), nd = 0, len;
    const char *dom = c->from_domain, *at;

    do
        digits[nd++] = (char)('0' + id % 10);
    while ((id /= 10) != 0);
    /* "campaign\0id", as snprintf("%s%c%llu") made it: at most 127 */
    len = cl < sizeof name - 1 ? cl : sizeof name - 1;
    memcpy(name, c->p.campaign, len);
    name[len++] = '\0';
    while (nd > 0 && len < sizeof name - 1)
        name[len++] = digits[--nd];
    digest_uuid_sha1(c->ns, name, len, uu);
    if (dom == NULL && (at = strrchr(from_addr, '@')) != NULL)
        dom = at + 1;
    scat(r->message_id, sizeof r->message_id, "<", uu, "@",
         dom ? dom : "campaign.invalid", ">", (const char *)NULL);
}

/* build - composer_build; unsigned (sign 0) for composer_check. */
static int
build(struct composer *c, const struct compose_contact *ct, int64_t now,
      struct buf *out, struct compose_result *r, int sign, struct err *e)
{
    json_t *contact = NULL, *stack[2];
    struct mime_message m;
    struct mime_address from;
    const struct config_sender *sd = c->p.sender;
    char mailto[512];
    size_t hlen = 0;
    int rc = -1;
    const char *fromsrc, *list_id = NULL;

    memset(&m, 0, sizeof m);
    if (now != c->date_now) {
        time_t tt = (time_t)now;
        struct tm tm;
        gmtime_r(&tt, &tm);
        c->bi_n[BI_DATE] =
            strftime(c->date_ymd, sizeof c->date_ymd, "%Y-%m-%d", &tm);
        c->bi_s[BI_DATE] = c->date_ymd;
        c->date_now = now;
    }
    /* the tokens: unsubscribe (shared by the URL and the mailto), view,
     * open pixel, VERP */
    if (fixed_tokens(c, ct->id) == -1)
        goto full;
    c->bi_s[BI_UNSUBSCRIBE] = c->bi_s[BI_VIEW] = NULL;
    if (c->tk[TK_VIEW] != NULL) { /* tracking has a base URL */
        if (url_put(c, &c->addr, TRACK_UNSUBSCRIBE, c->tk[TK_UNSUBSCRIBE],
                    c->tkn[TK_UNSUBSCRIBE], NULL) == -1)
            goto full;
        c->bi_s[BI_UNSUBSCRIBE] = c->addr.p;
        c->bi_n[BI_UNSUBSCRIBE] = c->addr.len;
        m.unsubscribe_url = c->addr.p;
        /* a view URL past the limit: none, as ever */
        if (url_put(c, &c->view, TRACK_VIEW, c->tk[TK_VIEW], c->tkn[TK_VIEW],
                    NULL) == 0) {
            c->bi_s[BI_VIEW] = c->view.p;
            c->bi_n[BI_VIEW] = c->view.len;
        }
    }
    if (contact_json(c, ct, &contact) == -1)
        return err_set(e, EX_DATAERR, "contact %s: attributes are not JSON",
                       ct->email);
    stack[0] = c->p.data ? c->p.data : c->empty;
    stack[1] = contact;

#define PREFIX(what) err_prefix(e, ct->email)

    if (render(c, c->p.tmpl->subject, stack, TEMPLATE_ESCAPE_NONE, &c->subject,
               e) == -1) {
        PREFIX("");
        goto done;
    }
    if (no_breaks(c, &c->subject, "subject", c->p.tmpl->off_subject, ct->email,
                  e) == -1)
        goto done;
    fromsrc = sd ? sd->from : NULL;
    if (c->p.tmpl->from) {
        if (render(c, c->p.tmpl->from, stack, TEMPLATE_ESCAPE_NONE, &c->from_r,
                   e) == -1) {
            PREFIX("");
            goto done;
        }
        if (no_breaks(c, &c->from_r, "From", c->p.tmpl->off_from, ct->email,
                      e) == -1)
            goto done;
        fromsrc = c->from_r.p;
    }
    if (c->from_fixed) {
        if (!c->from_ok) {
            err_set(e, EX_CONFIG, "From \"%s\" is not an address", fromsrc);
            goto done;
        }
        from = c->from;
        list_id = c->list_id;
    } else {
        if (mime_parse_address(fromsrc, &from, &c->fromb) == -1) {
            err_set(e, EX_CONFIG, "From \"%s\" is not an address", fromsrc);
            goto done;
        }
        free(c->list_id);
        list_id = c->list_id = make_list_id(c, &from);
    }
    {
        const char *at = from.addr ? strrchr(from.addr, '@') : NULL;
        snprintf(c->last_from, sizeof c->last_from, "%s", at ? at + 1 : "");
    }
    m.reply_to = sd ? sd->reply_to : NULL;
    if (c->p.tmpl->reply_to) {
        if (render(c, c->p.tmpl->reply_to, stack, TEMPLATE_ESCAPE_NONE,
                   &c->reply_to, e) == -1) {
            PREFIX("");
            goto done;
        }
        if (no_breaks(c, &c->reply_to, "Reply-To", c->p.tmpl->off_reply_to,
                      ct->email, e) == -1)
            goto done;
        m.reply_to = c->reply_to.p;
    }
    if (render(c, c->p.tmpl->html, stack, TEMPLATE_ESCAPE_HTML, &c->tmp, e) ==
        -1) {
        PREFIX("");
        goto done;
    }
    buf_reset(&c->html);
    if (c->p.tmpl->preheader) {
        if (render(c, c->p.tmpl->preheader, stack, TEMPLATE_ESCAPE_HTML,
                   &c->preheader, e) == -1) {
            PREFIX("");
            goto done;
        }
        if (insert_preheader(&c->html, c->tmp.p ? c->tmp.p : "", c->tmp.len,
                             c->preheader.p, c->preheader.len) == -1)
            goto full;
    } else if (buf_append(&c->html, c->tmp.p ? c->tmp.p : "", c->tmp.len) ==
               -1) {
        goto full;
    }
    if (c->p.tmpl->text) {
        if (render(c, c->p.tmpl->text, stack, TEMPLATE_ESCAPE_NONE, &c->text,
                   e) == -1) {
            PREFIX("");
            goto done;
        }
    } else {
        buf_reset(&c->text);
        /* derived from the HTML without the hidden preheader */
        if (mime_html_to_text_cached(c->mc, c->tmp.p ? c->tmp.p : "",
                                     c->tmp.len, &c->text) == -1)
            goto full;
    }
    if (track_html(c, ct->id) == -1)
        goto full;

    /* identities */
    if (ct->message_id != NULL && ct->message_id[0] == '<' &&
        strlen(ct->message_id) < sizeof r->message_id)
        memcpy(r->message_id, ct->message_id, strlen(ct->message_id) + 1);
    else
        message_id(c, ct->id, from.addr, r);
    scat(r->envelope_from, sizeof r->envelope_from, from.addr,
         (const char *)NULL);
    if (c->tk[TK_BOUNCE] != NULL)
        scat(r->envelope_from, sizeof r->envelope_from, "bounces+",
             c->tk[TK_BOUNCE], "@", sd->bounce_domain, (const char *)NULL);

    m.from = from;
    m.to.name = display(c, contact);
    /* a display name with a line break is refused, as a Subject would
     * be: flattening it would send a name the contact never had */
    if (m.to.name != NULL && strpbrk(m.to.name, "\r\n") != NULL) {
        err_set(e, EX_DATAERR,
                "contact %.254s: the To display name (first_name, last_name "
                "or name) contains a line break: it could add a header",
                ct->email);
        goto done;
    }
    {
        const char *why;
        r->held[0] = '\0';
        if (email_wire(ct->email, r->rcpt, &r->smtputf8, &why) == -1) {
            /* To: shows what we have; the message is not sent */
            snprintf(r->rcpt, sizeof r->rcpt, "%s", ct->email);
            r->smtputf8 = 0;
            snprintf(r->held, sizeof r->held, "address has no wire form: %s",
                     why);
        }
    }
    m.to.addr = r->rcpt;
    m.subject = c->subject.p ? c->subject.p : "";
    m.message_id = r->message_id;
    m.date = now;
    m.text = c->text.p ? c->text.p : "";
    m.text_len = c->text.len;
    m.html = c->final_html.p ? c->final_html.p : "";
    m.html_len = c->final_html.len;
    if (c->tk[TK_BOUNCE] != NULL) {
        scat(mailto, sizeof mailto, "mailto:unsubscribe+",
             c->tk[TK_UNSUBSCRIBE], "@", sd->bounce_domain,
             "?subject=unsubscribe", (const char *)NULL);
        m.unsubscribe_mailto = mailto;
    }
    m.list_id = list_id;
    m.feedback_id = c->fbid;
    m.cache = c->mc;
    m.header_len = &hlen;

    if (c->p.ndkim == 0 || !sign) {
        /* nothing goes before the header: build in place */
        buf_reset(out);
        if (mime_build(&m, out, e) == -1) {
            PREFIX("");
            goto done;
        }
        r->header_len = hlen;
        rc = 0;
        goto done;
    }
    buf_reset(&c->msg);
    if (mime_build(&m, &c->msg, e) == -1) {
        PREFIX("");
        goto done;
    }
    buf_reset(out);
    if (dkim_sign(c->p.dkim, c->p.ndkim, c->msg.p, c->msg.len, now, out, e) ==
        -1)
        goto done;
    r->header_len = out->len + hlen;
    if (buf_append(out, c->msg.p, c->msg.len) == -1)
        goto full;
    rc = 0;
    goto done;
#undef PREFIX
full:
    err_set(e, EX_DATAERR, "contact %s: message larger than %u bytes",
            ct->email, COMPOSE_MSG_MAX);
done:
    json_decref(contact);
    return rc;
}

int
composer_build(struct composer *c, const struct compose_contact *ct,
               int64_t now, struct buf *out, struct compose_result *r,
               struct err *e)
{
    return build(c, ct, now, out, r, 1, e);
}

const char *
composer_from_domain(const struct composer *c)
{
    return c->last_from;
}

const char *
composer_sender_domain(const struct composer *c)
{
    const char *at;

    if (c->last_from[0] != '\0')
        return c->last_from;
    if (c->from_fixed && c->from_ok && c->from.addr != NULL &&
        (at = strrchr(c->from.addr, '@')) != NULL)
        return at + 1;
    return c->from_domain ? c->from_domain : "";
}

int
composer_check(struct composer *c, const struct compose_contact *ct,
               int64_t now, struct err *e)
{
    struct compose_result r;

    return build(c, ct, now, &c->msg, &r, 0, e);
}
