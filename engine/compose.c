/* SPDX-License-Identifier: ISC */
/*
 * compose.c - render, build and sign one recipient's message (compose.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uuid/uuid.h>

#include "compose.h"
#include "mime.h"
#include "xalloc.h"

/* A message: 4 KB templates make ~15 KB messages; 16 MiB is a hard cap
 * far above any sane campaign message. */
#define COMPOSE_MSG_MAX (16u * 1024 * 1024)

struct composer {
    struct compose_params p;
    json_t *extras;  /* unsubscribe_url, view_url, campaign, date */
    json_t *empty;   /* {} when there is no data */
    char *from_domain;
    uuid_t ns;
    struct buf subject, preheader, from, reply_to, html, text, final_html;
    struct buf msg, addr, tok, url, tmp, name;
    struct err scratch;
};

void
composer_free(struct composer *c)
{
    if (c == NULL)
        return;
    json_decref(c->extras);
    json_decref(c->empty);
    free(c->from_domain);
    buf_free(&c->subject);
    buf_free(&c->preheader);
    buf_free(&c->from);
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
    struct composer *c = xcalloc(1, sizeof *c);
    const char *at;

    c->p = *p;
    c->extras = json_object();
    c->empty = json_object();
    buf_init(&c->subject, 64 * 1024);
    buf_init(&c->preheader, 64 * 1024);
    buf_init(&c->from, 4096);
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

/* tracking_url - base/P/TOKEN[suffix] into c->url; 0, or -1 when there is
 * no tracking base or key. */
static int
tracking_url(struct composer *c, enum track_purpose p, uint64_t contact,
             const char *target, const char *suffix)
{
    const struct config_tracking *t = c->p.tracking;

    if (t == NULL || t->base_url == NULL || c->p.key == NULL)
        return -1;
    buf_reset(&c->url);
    if (buf_printf(&c->url, "%s/%c/", t->base_url, (char)p) == -1 ||
        track_token(c->p.key, p, c->p.campaign_id, contact, target,
                    &c->url) == -1 ||
        (suffix && buf_puts(&c->url, suffix) == -1))
        return -1;
    return 0;
}

static void
set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v ? json_string(v) : json_null());
}

/* render - one part into out; errors name the template file's line. */
static int
render(struct composer *c, const struct template *t, json_t *const *stack,
       enum template_escape esc, struct buf *out, struct err *e)
{
    struct template_render_opts o = {esc, c->p.strict};
    const struct tmpl *tp = c->p.tmpl;

    buf_reset(out);
    if (template_render(t, stack, 3, &o, out, e) == 0)
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

/* insert_after_body - put ins right after the <body ...> tag, or at the
 * start when there is none. */
static int
insert_preheader(struct buf *dst, const char *html, size_t n,
                 const char *pre, size_t pn)
{
    const char *b = NULL;
    size_t at = 0;

    for (size_t i = 0; i + 5 <= n; i++) {
        if (html[i] == '<' && strncasecmp(html + i + 1, "body", 4) == 0 &&
            (i + 5 == n || html[i + 5] == '>' || html[i + 5] == ' ' ||
             html[i + 5] == '\t' || html[i + 5] == '\n' ||
             html[i + 5] == '\r')) {
            b = memchr(html + i, '>', n - i);
            break;
        }
    }
    if (b != NULL)
        at = (size_t)(b - html) + 1;
    if (buf_append(dst, html, at) == -1 ||
        buf_puts(dst, "<div style=\"display:none;font-size:1px;"
                      "line-height:1px;max-height:0;max-width:0;"
                      "opacity:0;overflow:hidden;mso-hide:all;\">") == -1)
        return -1;
    /* the preheader is already HTML-escaped by the renderer */
    if (buf_append(dst, pre, pn) == -1)
        return -1;
    /* padding so that clients do not pull body text into the preview */
    for (int i = 0; i < 20; i++)
        if (buf_puts(dst, "&#847;&zwnj;&nbsp;") == -1)
            return -1;
    if (buf_puts(dst, "</div>") == -1 ||
        buf_append(dst, html + at, n - at) == -1)
        return -1;
    return 0;
}

/* unescape_attr - an href value as rendered (HTML-escaped) to the URL. */
static void
unescape_attr(const char *s, size_t n, struct buf *out)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'},  {"&quot;", '"'}, {"&#39;", '\''},
                {"&#x27;", '\''}, {"&lt;", '<'},   {"&gt;", '>'},
                {"&#x3D;", '='}, {"&#x2F;", '/'}, {"&#x60;", '`'}};

    buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '&') {
            size_t k;
            for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
                size_t l = strlen(ents[k].ent);
                if (n - i >= l && memcmp(s + i, ents[k].ent, l) == 0) {
                    if (buf_putc(out, ents[k].c) == -1)
                        return;
                    i += l - 1;
                    break;
                }
            }
            if (k < sizeof ents / sizeof ents[0])
                continue;
        }
        if (buf_putc(out, s[i]) == -1)
            return;
    }
}

/*
 * track_html - final_html from html: links to http(s) URLs rewritten to
 * signed click URLs (except our own tracking links and those marked
 * data-notrack), and the open pixel before </body>.
 */
static int
track_html(struct composer *c, uint64_t contact)
{
    const struct config_tracking *t = c->p.tracking;
    const char *h = c->html.p ? c->html.p : "";
    size_t n = c->html.len, i = 0, base_len;
    int clicks = t && t->clicks && t->base_url && c->p.key;
    int opens = t && t->opens && t->base_url && c->p.key;
    struct buf *dst = &c->final_html;

    buf_reset(dst);
    base_len = t && t->base_url ? strlen(t->base_url) : 0;
    while (clicks && i < n) {
        const char *m = memmem(h + i, n - i, "href=\"", 6);
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
                  strncmp(h + vs, t->base_url, base_len) == 0;
        /* data-notrack in the same tag keeps a link as it is */
        const char *tag = h + vs;
        while (tag > h && *tag != '<')
            tag--;
        const char *tag_end = memchr(h + ve, '>', n - ve);
        int notrack = tag_end &&
                      memmem(tag, (size_t)(tag_end - tag), "data-notrack",
                             12) != NULL;
        if (buf_append(dst, h + i, vs - i) == -1)
            return -1;
        if (http && !own && !notrack) {
            unescape_attr(h + vs, ve - vs, &c->tmp);
            if (tracking_url(c, TRACK_CLICK, contact, c->tmp.p, NULL) == -1 ||
                buf_append(dst, c->url.p, c->url.len) == -1)
                return -1;
        } else if (buf_append(dst, h + vs, ve - vs) == -1) {
            return -1;
        }
        i = ve;
    }
    if (opens) {
        const char *end = NULL;
        for (size_t k = n; k >= i + 7 && k > 0; k--) {
            if (h[k - 7] == '<' && strncasecmp(h + k - 6, "/body>", 6) == 0) {
                end = h + k - 7;
                break;
            }
        }
        size_t at = end ? (size_t)(end - h) : n;
        if (tracking_url(c, TRACK_OPEN, contact, NULL, ".gif") == -1 ||
            buf_append(dst, h + i, at - i) == -1 ||
            buf_printf(dst,
                       "<img src=\"%s\" width=\"1\" height=\"1\" alt=\"\" "
                       "style=\"display:block;border:0;width:1px;"
                       "height:1px\">",
                       c->url.p) == -1)
            return -1;
        i = at;
    }
    return buf_append(dst, h + i, n - i);
}

/* display - the To display name from the contact's attributes. */
static const char *
display(struct composer *c, json_t *contact)
{
    const char *first = json_string_value(json_object_get(contact,
                                                          "first_name"));
    const char *last = json_string_value(json_object_get(contact,
                                                         "last_name"));
    const char *name = json_string_value(json_object_get(contact, "name"));

    buf_reset(&c->name);
    if (first && last) {
        if (buf_printf(&c->name, "%s %s", first, last) == -1)
            return NULL;
    } else if (name || first || last) {
        if (buf_puts(&c->name, name ? name : first ? first : last) == -1)
            return NULL;
    } else {
        return NULL;
    }
    /* a display name can never carry a line break into To: */
    for (size_t i = 0; i < c->name.len; i++)
        if (c->name.p[i] == '\r' || c->name.p[i] == '\n')
            c->name.p[i] = ' ';
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

/* no_breaks - header text rendered from merge data must stay one line */
static int
no_breaks(const struct buf *b, const char *what, const char *email,
          struct err *e)
{
    for (size_t i = 0; i < b->len; i++)
        if (b->p[i] == '\r' || b->p[i] == '\n' || b->p[i] == '\0')
            return err_set(e, EX_DATAERR,
                           "%s for %s contains a line break or NUL: it "
                           "could add a header",
                           what, email);
    return 0;
}

int
composer_build(struct composer *c, const struct compose_contact *ct,
               int64_t now, struct buf *out, struct compose_result *r,
               struct err *e)
{
    json_t *contact, *stack[3];
    json_error_t jerr;
    struct mime_message m;
    struct mime_address from;
    struct buf fromb;
    char date[16], uu[40], name[128];
    uuid_t id;
    time_t tt = (time_t)now;
    struct tm tm;
    int rc = -1;
    const char *fromsrc;

    memset(&m, 0, sizeof m);
    buf_init(&fromb, 4096);
    contact = json_loads(ct->attrs ? ct->attrs : "{}", 0, &jerr);
    if (contact == NULL || !json_is_object(contact)) {
        json_decref(contact);
        buf_free(&fromb);
        return err_set(e, EX_DATAERR, "contact %s: attributes are not JSON",
                       ct->email);
    }
    json_object_set_new(contact, "email", json_string(ct->email));

    gmtime_r(&tt, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    set_str(c->extras, "campaign", c->p.campaign);
    set_str(c->extras, "date", date);
    if (tracking_url(c, TRACK_UNSUBSCRIBE, ct->id, NULL, NULL) == 0)
        set_str(c->extras, "unsubscribe_url", c->url.p);
    else if (c->p.sender && c->p.sender->bounce_domain)
        json_object_del(c->extras, "unsubscribe_url");
    if (tracking_url(c, TRACK_VIEW, ct->id, NULL, NULL) == 0)
        set_str(c->extras, "view_url", c->url.p);
    stack[0] = c->p.data ? c->p.data : c->empty;
    stack[1] = contact;
    stack[2] = c->extras;

#define PREFIX(what) err_prefix(e, ct->email)

    if (render(c, c->p.tmpl->subject, stack, TEMPLATE_ESCAPE_NONE,
               &c->subject, e) == -1) {
        PREFIX("");
        goto done;
    }
    if (no_breaks(&c->subject, "the subject", ct->email, e) == -1)
        goto done;
    fromsrc = c->p.sender ? c->p.sender->from : NULL;
    if (c->p.tmpl->from) {
        if (render(c, c->p.tmpl->from, stack, TEMPLATE_ESCAPE_NONE, &c->from,
                   e) == -1) {
            PREFIX("");
            goto done;
        }
        if (no_breaks(&c->from, "From", ct->email, e) == -1)
            goto done;
        fromsrc = c->from.p;
    }
    if (mime_parse_address(fromsrc, &from, &fromb) == -1) {
        err_set(e, EX_CONFIG, "From \"%s\" is not an address", fromsrc);
        goto done;
    }
    m.reply_to = c->p.sender ? c->p.sender->reply_to : NULL;
    if (c->p.tmpl->reply_to) {
        if (render(c, c->p.tmpl->reply_to, stack, TEMPLATE_ESCAPE_NONE,
                   &c->reply_to, e) == -1) {
            PREFIX("");
            goto done;
        }
        if (no_breaks(&c->reply_to, "Reply-To", ct->email, e) == -1)
            goto done;
        m.reply_to = c->reply_to.p;
    }
    if (render(c, c->p.tmpl->html, stack, TEMPLATE_ESCAPE_HTML, &c->tmp,
               e) == -1) {
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
        if (insert_preheader(&c->html, c->tmp.p, c->tmp.len, c->preheader.p,
                             c->preheader.len) == -1)
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
        if (mime_html_to_text(c->tmp.p ? c->tmp.p : "", c->tmp.len,
                              &c->text) == -1)
            goto full;
    }
    if (track_html(c, ct->id) == -1)
        goto full;

    /* identities */
    snprintf(name, sizeof name, "%s%c%llu", c->p.campaign, 0,
             (unsigned long long)ct->id);
    uuid_generate_sha1(id, c->ns, name,
                       strlen(c->p.campaign) + 1 +
                           strlen(name + strlen(c->p.campaign) + 1));
    uuid_unparse_lower(id, uu);
    {
        const char *dom = c->from_domain;
        const char *at = strrchr(from.addr, '@');
        if (dom == NULL && at)
            dom = at + 1;
        snprintf(r->message_id, sizeof r->message_id, "<%s@%s>", uu,
                 dom ? dom : "campaign.invalid");
    }
    snprintf(r->envelope_from, sizeof r->envelope_from, "%s", from.addr);
    if (c->p.sender && c->p.sender->bounce_domain && c->p.key) {
        buf_reset(&c->tok);
        if (track_token(c->p.key, TRACK_BOUNCE, c->p.campaign_id, ct->id,
                        NULL, &c->tok) == 0)
            snprintf(r->envelope_from, sizeof r->envelope_from,
                     "bounces+%s@%s", c->tok.p, c->p.sender->bounce_domain);
    }

    m.from = from;
    m.to.name = display(c, contact);
    m.to.addr = ct->email;
    m.subject = c->subject.p ? c->subject.p : "";
    m.message_id = r->message_id;
    m.date = now;
    m.text = c->text.p ? c->text.p : "";
    m.text_len = c->text.len;
    m.html = c->final_html.p ? c->final_html.p : "";
    m.html_len = c->final_html.len;
    if (tracking_url(c, TRACK_UNSUBSCRIBE, ct->id, NULL, NULL) == 0) {
        buf_reset(&c->addr);
        if (buf_puts(&c->addr, c->url.p) == -1)
            goto full;
        m.unsubscribe_url = c->addr.p;
    }
    char mailto[512];
    if (c->p.sender && c->p.sender->bounce_domain && c->p.key) {
        buf_reset(&c->tok);
        if (track_token(c->p.key, TRACK_UNSUBSCRIBE, c->p.campaign_id, ct->id,
                        NULL, &c->tok) == -1)
            goto full;
        snprintf(mailto, sizeof mailto,
                 "mailto:unsubscribe+%s@%s?subject=unsubscribe", c->tok.p,
                 c->p.sender->bounce_domain);
        m.unsubscribe_mailto = mailto;
    }
    char list_id[300], fbid[300];
    if (c->p.sender && c->p.sender->list_id) {
        if (from.name)
            snprintf(list_id, sizeof list_id, "%s <%s>", from.name,
                     c->p.sender->list_id);
        else
            snprintf(list_id, sizeof list_id, "<%s>", c->p.sender->list_id);
        /* a display name with a quote or non-ASCII: just the id */
        for (const char *q = list_id; *q; q++)
            if ((unsigned char)*q >= 0x7f || *q == '"' || *q == '\\') {
                snprintf(list_id, sizeof list_id, "<%s>",
                         c->p.sender->list_id);
                break;
            }
        m.list_id = list_id;
    }
    {
        /* Feedback-ID (Gmail FBL): campaign:template:kind:sender */
        const char *sid = c->p.sender && c->p.sender->feedback_id
                              ? c->p.sender->feedback_id
                          : c->p.sender && c->p.sender->list_id
                              ? c->p.sender->list_id
                              : (c->from_domain ? c->from_domain : "campaign");
        size_t k = 0;
        snprintf(fbid, sizeof fbid, "%s:%s:bulk:%s", c->p.campaign,
                 c->p.tmpl->name, sid);
        for (char *q = fbid; *q && k < sizeof fbid; q++, k++)
            if (*q == ' ' || (unsigned char)*q < 0x21 ||
                (unsigned char)*q >= 0x7f)
                *q = '_';
        m.feedback_id = fbid;
    }

    buf_reset(&c->msg);
    if (mime_build(&m, &c->msg, e) == -1) {
        PREFIX("");
        goto done;
    }
    buf_reset(out);
    if (c->p.ndkim > 0 &&
        dkim_sign(c->p.dkim, c->p.ndkim, c->msg.p, c->msg.len, now, out, e) ==
            -1)
        goto done;
    {
        const char *sep = memmem(c->msg.p, c->msg.len, "\r\n\r\n", 4);
        r->header_len = out->len + (sep ? (size_t)(sep - c->msg.p) + 4 : 0);
    }
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
    buf_free(&fromb);
    return rc;
}
