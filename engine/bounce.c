/* SPDX-License-Identifier: ISC */
/*
 * bounce.c - what a message that came back says (see bounce.h).
 *
 * The steps, in order:
 *  1. prepare: copy at most BOUNCE_INPUT_MAX bytes with every line end
 *     made LF (CR alone and CRLF alike), cut before the
 *     BOUNCE_NEST_SCAN-th multipart or message part header;
 *  2. the copy's structure is walked in place (engine/mimeread.h; its
 *     decoding is GMime's) BOUNCE_DEPTH_MAX deep for the report parts
 *     (message/delivery-status, also RFC 6533's
 *     message/global-delivery-status; message/feedback-report), the
 *     returned message (message/rfc822, its header only: the body is
 *     ours; text/rfc822-headers) and the first text parts;
 *  3. the kind: an ARF part makes a complaint, a DSN part a DSN; else a
 *     message from a mailer daemon, or one whose subject or text says it
 *     is a failure notice, is a non-standard bounce read by its
 *     recipient lines; else an auto-reply (RFC 3834 and the
 *     de-facto headers and subjects); else a message to our unsubscribe
 *     address; else unknown;
 *  4. the tokens of ours, found in the envelope recipient, the headers
 *     and the returned message (raw bytes: a bounce that quotes the
 *     headers in its text still names them).
 *
 * A token is only found here; whether it is ours is the HMAC's question
 * (engine/track.h), asked by engine/ingest.c.
 */
#include <ctype.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "bounce.h"
#include "mimeread.h"
#include "reply.h"
#include "rules.h"

/* multipart and message parts read at most; past it the input is cut */
#define BOUNCE_NEST_SCAN 64
/* the returned message's type: a part the walk gives whole, whose
 * header alone is read (its body is ours) */
#define RFC822 "message/rfc822"
/* bytes of a returned message's header read */
#define BOUNCE_HEAD_MAX (64u * 1024)
/* bytes of a decoded part's text kept */
#define BOUNCE_TEXT_MAX (256u * 1024)

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void
gmime_start(void)
{
    InternetAddressList *l;
    iconv_t cd;

    g_mime_init();
    /* the GObject classes and tables a parse uses, made now: made by the
     * first parse of each worker, two at once, they would be made under
     * GLib's own locks, which a thread checker cannot see */
    if ((l = internet_address_list_parse(NULL, "a <a@example.com>")) != NULL)
        g_object_unref(l);
    g_free(g_mime_utils_header_decode_text(NULL, "=?utf-8?q?a?="));
    if ((cd = g_mime_iconv_open("UTF-8", "iso-8859-1")) != (iconv_t)-1)
        g_mime_iconv_close(cd);
}

void
bounce_init(void)
{
    pthread_once(&gmime_once, gmime_start);
}

const char *
bounce_kind_name(enum bounce_kind k)
{
    switch (k) {
    case BOUNCE_DSN:
        return "dsn";
    case BOUNCE_ARF:
        return "arf";
    case BOUNCE_NONSTANDARD:
        return "nonstandard";
    case BOUNCE_AUTO_REPLY:
        return "auto_reply";
    case BOUNCE_UNSUBSCRIBE:
        return "unsubscribe";
    default:
        return "unknown";
    }
}

/* ---- small text helpers ---- */

/* copy - at most size - 1 bytes of s (n bytes), NUL-terminated */
static void
copy(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* one_line - collapse runs of white space (folding, tabs, CR, LF) into one
 * space, drop control bytes, trim; in place */
static void
one_line(char *s)
{
    char *w = s;
    int sp = 0;

    for (char *r = s; *r; r++) {
        unsigned char c = (unsigned char)*r;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            sp = 1;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            continue;
        if (sp && w != s)
            *w++ = ' ';
        sp = 0;
        *w++ = (char)c;
    }
    *w = '\0';
}

static int
ci_prefix(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && strncasecmp(s, p, k) == 0;
}

/* ci_find - case-insensitive search of needle in the n bytes at s.  The
 * candidates are found by memchr: of the needle's first byte that is not
 * a letter (":" of "message-id:") when it has one, so one search finds
 * them all, else of its first letter in either case (the next of each
 * kept), so the text is read about once. */
static const char *
ci_find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle), at = 0;
    const char *end, *lo, *up, *from;
    int cl, cu;

    if (k == 0 || n < k)
        return NULL;
    while (at < k && isalpha((unsigned char)needle[at]))
        at++;
    if (at < k) { /* the anchor's case does not vary */
        const char *last = s + n - (k - at); /* the anchor's last place */
        const char *c = s + at;
        while (c <= last &&
               (c = memchr(c, needle[at], (size_t)(last - c) + 1)) != NULL) {
            if (strncasecmp(c - at, needle, k) == 0)
                return c - at;
            c++;
        }
        return NULL;
    }
    end = s + n - k + 1; /* candidates start before end */
    cl = tolower((unsigned char)needle[0]);
    cu = toupper((unsigned char)needle[0]);
    lo = memchr(s, cl, (size_t)(end - s));
    up = cu == cl ? NULL : memchr(s, cu, (size_t)(end - s));
    while (lo != NULL || up != NULL) {
        const char *c = lo == NULL ? up : up == NULL ? lo : lo < up ? lo : up;
        if (strncasecmp(c + 1, needle + 1, k - 1) == 0)
            return c;
        from = c + 1;
        if (c == lo)
            lo = from < end ? memchr(from, cl, (size_t)(end - from)) : NULL;
        else
            up = from < end ? memchr(from, cu, (size_t)(end - from)) : NULL;
    }
    return NULL;
}

static int
addr_char(int c)
{
    return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c)) ||
           c >= 0x80;
}

/*
 * lower_addr - the address in s (n bytes): inside <...> if any, else the
 * first word with an @; lower-cased (ASCII) into out; "" when none.
 */
static void
lower_addr(const char *s, size_t n, char *out, size_t size)
{
    const char *lt = memchr(s, '<', n), *b, *e;
    size_t k = 0;

    out[0] = '\0';
    if (lt != NULL) {
        const char *gt = memchr(lt, '>', n - (size_t)(lt - s));
        if (gt != NULL && memchr(lt, '@', (size_t)(gt - lt)) != NULL) {
            b = lt + 1;
            e = gt;
            goto found;
        }
    }
    {
        const char *at = memchr(s, '@', n);
        if (at == NULL)
            return;
        b = at;
        while (b > s && addr_char((unsigned char)b[-1]))
            b--;
        e = at + 1;
        if (e < s + n && *e == '[') { /* a domain literal */
            const char *close = memchr(e, ']', (size_t)(s + n - e));
            e = close ? close + 1 : e;
        } else {
            while (e < s + n && addr_char((unsigned char)*e))
                e++;
        }
        while (e > at + 1 && e[-1] == '.')
            e--;
        /* Exchange's "SMTP=user@..." and "SMTP:user@..." */
        if (at - b > 5 && strncasecmp(b, "smtp=", 5) == 0)
            b += 5;
    }
found:
    while (b < e && (*b == ' ' || *b == '"' || *b == '\''))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '"' || e[-1] == '\''))
        e--;
    if (memchr(b, '@', (size_t)(e - b)) == NULL || e - b < 3)
        return;
    for (const char *p = b; p < e && k + 1 < size; p++)
        out[k++] = (char)tolower((unsigned char)*p);
    out[k] = '\0';
}

/* find_status - the first "4.x.y" or "5.x.y" in s, as a word, into out */
static int
find_status(const char *s, char *out, size_t size)
{
    for (const char *p = s; *p; p++) {
        const char *q = p;
        int d1 = 0, d2 = 0;

        if ((*p != '4' && *p != '5') || p[1] != '.')
            continue;
        if (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '.'))
            continue;
        q = p + 2;
        while (isdigit((unsigned char)*q) && d1 < 4) {
            q++;
            d1++;
        }
        if (d1 == 0 || d1 > 3 || *q != '.')
            continue;
        q++;
        while (isdigit((unsigned char)*q) && d2 < 4) {
            q++;
            d2++;
        }
        if (d2 == 0 || d2 > 3 || isalnum((unsigned char)*q) ||
            (*q == '.' && isdigit((unsigned char)q[1])))
            continue;
        copy(out, size, p, (size_t)(q - p));
        return 1;
    }
    return 0;
}

/* reply_code_of - the SMTP code at the start of s ("550 ...", "550-..."),
 * 0 if none */
static int
reply_code_of(const char *s)
{
    while (*s == ' ')
        s++;
    if (s[0] >= '2' && s[0] <= '5' && isdigit((unsigned char)s[1]) &&
        isdigit((unsigned char)s[2]) &&
        (s[3] == ' ' || s[3] == '-' || s[3] == '\0' || s[3] == ':'))
        return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return 0;
}

/* ---- classification ---- */

void
bounce_classify(struct bounce_rcpt *r)
{
    struct reply_verdict v;
    int code = r->reply_code;
    const char *cls;
    int temp;

    if (strcasecmp(r->action, "delayed") == 0) {
        r->classification = "delayed";
        r->reason = "delivery delayed, still being tried";
        if (r->status[0] == '\0')
            find_status(r->diagnostic, r->status, sizeof r->status);
        return;
    }
    if (strcasecmp(r->action, "delivered") == 0 ||
        strcasecmp(r->action, "relayed") == 0 ||
        strcasecmp(r->action, "expanded") == 0) {
        r->classification = "delivered";
        r->reason = "delivered";
        return;
    }
    if (r->status[0] == '\0' && r->diagnostic[0] == '\0' && code == 0) {
        r->classification = "unknown";
        r->reason = "";
        return;
    }
    /* a status in the text is the message's own */
    if (r->status[0] == '\0')
        find_status(r->diagnostic, r->status, sizeof r->status);
    /* a failure that was temporary at every try: it expired */
    temp = r->status[0] == '4' ||
           (r->status[0] == '\0' && code >= 400 && code < 500);
    if (code == 0)
        code = temp ? 450 : 550;
    reply_classify(code, r->status[0] == '5' ? r->status : "", r->diagnostic,
                   REPLY_STAGE_OTHER, &v);
    if (v.fault != REPLY_FAULT_RECIPIENT)
        cls = "blocked";
    else
        cls = v.bounce_class;
    if (temp && strcmp(cls, "hard") == 0)
        cls = "soft";
    r->classification = cls;
    r->reason = v.why;
    if (r->status[0] == '\0') {
        const char *s = v.status && *v.status ? v.status : NULL;
        if (s == NULL && strcmp(cls, "blocked") == 0)
            s = "5.7.1";
        if (s == NULL)
            s = temp ? "4.0.0" : "5.0.0";
        copy(r->status, sizeof r->status, s, strlen(s));
        if (temp && r->status[0] == '5')
            r->status[0] = '4';
        r->status_derived = 1;
    }
}

/* ---- step 1: a copy with LF line ends, cut where nesting runs deep ---- */

/*
 * prepare - the bytes the walk (engine/mimeread.h) reads.  Returns a
 * malloc'd copy (len in *out_len) or NULL; *cut is set when the input was
 * cut.
 */
static char *
prepare(const char *buf, size_t len, size_t *out_len, int *cut)
{
    size_t n = len > BOUNCE_INPUT_MAX ? BOUNCE_INPUT_MAX : len, k = 0, i = 0;
    char *o = malloc(n + 2);
    int parts = 0;

    *cut = len > BOUNCE_INPUT_MAX;
    if (o == NULL)
        return NULL;
    while (i < n) { /* a line at a time: i is where one begins */
        const char *l = buf + i, *cr, *lf;
        size_t ll, start = k;
        if ((*l == 'C' || *l == 'c') && ci_prefix(l, n - i, "content-type:")) {
            const char *v = l + 13;
            size_t rest = n - i - 13;
            while (rest > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                rest--;
            }
            if ((ci_prefix(v, rest, "multipart/") ||
                 ci_prefix(v, rest, "message/")) &&
                ++parts > BOUNCE_NEST_SCAN) {
                *cut = 1;
                break;
            }
        }
        /* the line's end: LF, or CR (alone or before LF) */
        lf = memchr(l, '\n', n - i);
        ll = lf ? (size_t)(lf - l) : n - i;
        cr = memchr(l, '\r', ll);
        if (cr != NULL)
            ll = (size_t)(cr - l);
        memcpy(o + k, l, ll);
        k += ll;
        i += ll;
        if (i < n) {
            o[k++] = '\n';
            i += buf[i] == '\r' && i + 1 < n && buf[i + 1] == '\n' ? 2 : 1;
        }
        /* NUL bytes would end the text early */
        for (char *z = memchr(o + start, '\0', k - start); z != NULL;
             z = memchr(z, '\0', (size_t)(o + k - z)))
            *z = ' ';
    }
    if (k == 0 || o[k - 1] != '\n')
        o[k++] = '\n';
    o[k] = '\0';
    *out_len = k;
    return o;
}

/* ---- step 2: the parts ---- */

struct walk {
    char *dsn;  /* the delivery-status part's text */
    char *arf;  /* the feedback-report part's text */
    char *text; /* the first text parts' text, up to BOUNCE_TEXT_MAX */
    size_t text_len;
    char *returned_head;    /* the header of a returned message/global */
    char *returned_headers; /* text/rfc822-headers, or the header of a
                               returned message/rfc822 */
    int inner;              /* a report forwarded whole was read */
    int base;               /* the depth of the message being walked */
};

/* part_bytes - a part's decoded content (transfer encoding undone),
 * NUL-terminated and cut at BOUNCE_TEXT_MAX; malloc'd, or NULL */
static char *
part_bytes(const struct mimeread_part *p)
{
    size_t n;

    return mimeread_decode(p, BOUNCE_TEXT_MAX, &n);
}

/* part_head - the header of a returned message (message/rfc822 or
 * message/global): its bytes up to the first blank line, at most
 * BOUNCE_HEAD_MAX; malloc'd, or NULL */
static char *
part_head(const struct mimeread_part *p)
{
    size_t n = p->body_len < BOUNCE_HEAD_MAX ? p->body_len : BOUNCE_HEAD_MAX;
    const char *q = p->body, *end = p->body + n, *nl;
    char *b;

    /* the blank line: a line end followed by another */
    while ((nl = memchr(q, '\n', (size_t)(end - q))) != NULL && nl + 1 < end &&
           nl[1] != '\n')
        q = nl + 1;
    if (nl != NULL && nl + 1 < end)
        n = (size_t)(nl - p->body) + 1;
    if ((b = malloc(n + 1)) == NULL)
        return NULL;
    memcpy(b, p->body, n);
    b[n] = '\0';
    return b;
}

static void part_cb(const struct mimeread_part *p, void *arg);

/*
 * forwarded - a returned message whose header says it is a report (a
 * bounce forwarded whole): read and walked as the report itself
 */
static void
forwarded(struct walk *w, const struct mimeread_part *p)
{
    char *all = part_bytes(p), *in;
    size_t n;
    int cut, base = w->base;

    w->inner = 1;
    if (all == NULL)
        return;
    in = prepare(all, strlen(all), &n, &cut);
    free(all);
    if (in == NULL)
        return;
    w->base = base + p->depth + 1;
    if (w->base <= BOUNCE_DEPTH_MAX)
        mimeread_walk(in, n, BOUNCE_DEPTH_MAX - w->base, part_cb, w);
    w->base = base;
    free(in);
}

/* add_text - append a text part's text (UTF-8 where the charset converts,
 * else its bytes) to w->text */
static void
add_text(struct walk *w, const struct mimeread_part *p)
{
    size_t n;
    char *t = mimeread_text(p, BOUNCE_TEXT_MAX - w->text_len, &n), *grown;

    if (t == NULL)
        return;
    grown = realloc(w->text, w->text_len + n + 2);
    if (grown != NULL) {
        w->text = grown;
        memcpy(w->text + w->text_len, t, n);
        w->text_len += n;
        w->text[w->text_len++] = '\n';
        w->text[w->text_len] = '\0';
    }
    free(t);
}

/* is_report - a header block whose Content-Type is multipart/report */
static int
is_report(const char *head, size_t n)
{
    char v[256];

    return mimeread_field(head, n, "Content-Type", 0, v, sizeof v) > 0 &&
           ci_prefix(v, strlen(v), "multipart/report");
}

/* part_cb - what each part that is not a multipart gives */
static void
part_cb(const struct mimeread_part *p, void *arg)
{
    struct walk *w = arg;
    const char *t = p->type;

    if (strcmp(t, "message/global") == 0 || strcmp(t, "message/news") == 0) {
        struct mimeread_part inner;
        mimeread_split(p->body, p->body_len, &inner);
        /* a report forwarded whole (a bounce of a bounce, a helpdesk's
         * forward) is read as the report */
        if (w->dsn == NULL && w->arf == NULL && !w->inner &&
            is_report(inner.head, inner.head_len)) {
            forwarded(w, p);
            return;
        }
        /* the first returned message is the one we sent: what it holds
         * (a forwarded copy inside it) is not read */
        if (w->returned_head == NULL)
            w->returned_head = part_head(p);
        return;
    }
    if (strcmp(t, "message/delivery-status") == 0 ||
        strcmp(t, "message/global-delivery-status") == 0) {
        if (w->dsn == NULL)
            w->dsn = part_bytes(p);
    } else if (strcmp(t, "message/feedback-report") == 0) {
        if (w->arf == NULL)
            w->arf = part_bytes(p);
    } else if (strcmp(t, RFC822) == 0) {
        char *head;
        if (w->returned_headers != NULL && w->inner)
            return;
        if ((head = part_head(p)) == NULL)
            return;
        if (w->dsn == NULL && w->arf == NULL && !w->inner &&
            ci_find(head, strlen(head), "multipart/report") != NULL) {
            free(head);
            forwarded(w, p);
        } else if (w->returned_headers == NULL) {
            w->returned_headers = head;
        } else {
            free(head);
        }
    } else if (strcmp(t, "text/rfc822-headers") == 0 ||
               strcmp(t, "message/global-headers") == 0) {
        if (w->returned_headers == NULL)
            w->returned_headers = part_bytes(p);
    } else if ((strcmp(t, "text/plain") == 0 ||
                (strcmp(t, "text/html") == 0 && w->text_len == 0)) &&
               w->text_len < BOUNCE_TEXT_MAX) {
        add_text(w, p);
    }
}

/* ---- fields: a block of "Name: value" lines with folding ---- */

typedef void (*field_cb)(const char *name, size_t nlen, const char *value,
                         size_t vlen, void *arg);

/*
 * fields - call cb for each field of the header-like text at s up to end
 * or a blank line; returns where the block ended (after its blank line).
 */
static const char *
fields(const char *s, const char *end, field_cb cb, void *arg)
{
    const char *p = s;

    /* blank lines before a block are skipped */
    while (p < end && (*p == '\n' || *p == ' ' || *p == '\t')) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q < end && *q != '\n')
            break;
        p = nl ? nl + 1 : end;
    }
    while (p < end && *p != '\n') {
        const char *colon, *vb, *ve = p;
        const char *nl;

        /* the field runs to the next line that does not start with
         * white space */
        do {
            nl = memchr(ve, '\n', (size_t)(end - ve));
            ve = nl ? nl + 1 : end;
        } while (ve < end && (*ve == ' ' || *ve == '\t'));
        colon = memchr(p, ':', (size_t)(ve - p));
        if (colon != NULL && colon > p) {
            vb = colon + 1;
            cb(p, (size_t)(colon - p), vb, (size_t)(ve - vb), arg);
        }
        p = ve;
    }
    if (p < end && *p == '\n')
        p++;
    return p;
}

/* field_value - value (vlen bytes) as one line into out */
static void
field_value(const char *v, size_t vlen, char *out, size_t size)
{
    copy(out, size, v, vlen);
    one_line(out);
}

/* strip_type - "rfc822; x" -> "x", "smtp; 550 ..." -> "550 ..." */
static void
strip_type(char *s)
{
    char *semi = strchr(s, ';');
    size_t k;

    if (semi == NULL)
        return;
    for (char *p = s; p < semi; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
            return;
    semi++;
    while (*semi == ' ')
        semi++;
    k = strlen(semi);
    memmove(s, semi, k + 1);
}

struct dsn_state {
    struct bounce_report *r;
    struct bounce_rcpt *cur;
    int have; /* the block named a recipient */
};

static void
dsn_field(const char *name, size_t nlen, const char *v, size_t vlen, void *arg)
{
    struct dsn_state *d = arg;
    struct bounce_rcpt *c = d->cur;
    char tmp[BOUNCE_DIAG_MAX];

#define IS(s) (nlen == sizeof(s) - 1 && strncasecmp(name, s, nlen) == 0)
    if (IS("Final-Recipient") || IS("Original-Recipient") ||
        IS("X-Actual-Recipient")) {
        field_value(v, vlen, tmp, sizeof tmp);
        strip_type(tmp);
        if (IS("Original-Recipient")) {
            lower_addr(tmp, strlen(tmp), c->original, sizeof c->original);
        } else if (IS("Final-Recipient") || c->recipient[0] == '\0') {
            char a[BOUNCE_ADDR_MAX];
            lower_addr(tmp, strlen(tmp), a, sizeof a);
            if (a[0] == '\0' && tmp[0] != '\0' && strchr(tmp, '@') == NULL)
                return;
            if (a[0] != '\0')
                memcpy(c->recipient, a, strlen(a) + 1);
        }
        d->have = 1;
    } else if (IS("Action")) {
        field_value(v, vlen, tmp, sizeof tmp);
        for (char *p = tmp; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        {
            char *sp = strpbrk(tmp, " (;");
            if (sp)
                *sp = '\0';
        }
        /* "failure": an old MTA's word for failed */
        if (strcmp(tmp, "failure") == 0)
            snprintf(tmp, sizeof tmp, "failed");
        copy(c->action, sizeof c->action, tmp, strlen(tmp));
    } else if (IS("Status")) {
        field_value(v, vlen, tmp, sizeof tmp);
        /* "5.0.0 (recipient reached disk quota)": the comment is the
         * only diagnostic some MTAs give */
        {
            const char *lp = strchr(tmp, '('), *rp = strrchr(tmp, ')');
            if (c->diagnostic[0] == '\0' && lp != NULL && rp != NULL &&
                rp > lp + 1)
                copy(c->diagnostic, sizeof c->diagnostic, lp + 1,
                     (size_t)(rp - lp - 1));
        }
        /* "553 Exceeded maximum inbound message size": a reply where the
         * status goes, read as the diagnostic */
        if (reply_code_of(tmp) != 0 && c->diagnostic[0] == '\0')
            copy(c->diagnostic, sizeof c->diagnostic, tmp, strlen(tmp));
        if (!find_status(tmp, c->status, sizeof c->status) &&
            strncmp(tmp, "2.", 2) == 0) {
            char *sp = strpbrk(tmp, " (");
            if (sp)
                *sp = '\0';
            copy(c->status, sizeof c->status, tmp, strlen(tmp));
        }
    } else if (IS("Diagnostic-Code")) {
        field_value(v, vlen, c->diagnostic, sizeof c->diagnostic);
        strip_type(c->diagnostic);
    } else if (IS("Remote-MTA")) {
        field_value(v, vlen, c->remote_mta, sizeof c->remote_mta);
        strip_type(c->remote_mta);
    }
#undef IS
}

/* read_dsn - the recipient blocks of a delivery-status part */
static void
read_dsn(struct bounce_report *r, const char *s)
{
    const char *p = s, *end = s + strlen(s);
    struct dsn_state d = {r, NULL, 0};

    while (p < end) {
        const char *next;
        if (r->nrcpt >= BOUNCE_RCPT_MAX) {
            /* is there another block with a recipient? */
            if (ci_find(p, (size_t)(end - p), "recipient:") != NULL)
                r->truncated = 1;
            break;
        }
        d.cur = &r->rcpt[r->nrcpt];
        memset(d.cur, 0, sizeof *d.cur);
        d.have = 0;
        next = fields(p, end, dsn_field, &d);
        if (d.have)
            r->nrcpt++;
        if (next <= p)
            break;
        p = next;
    }
}

static int token_after(const char *s, size_t n, const char *prefix, char *out,
                       size_t size);

struct arf_state {
    struct bounce_report *r;
    char rcpt[BOUNCE_ADDR_MAX];
};

static void
arf_field(const char *name, size_t nlen, const char *v, size_t vlen, void *arg)
{
    struct arf_state *a = arg;
    char tmp[BOUNCE_ADDR_MAX];

#define IS(s) (nlen == sizeof(s) - 1 && strncasecmp(name, s, nlen) == 0)
    if (IS("Feedback-Type")) {
        field_value(v, vlen, tmp, sizeof tmp);
        for (char *p = tmp; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        copy(a->r->feedback_type, sizeof a->r->feedback_type, tmp, strlen(tmp));
    } else if (IS("Original-Rcpt-To") || IS("Removal-Recipient")) {
        if (a->rcpt[0] == '\0') {
            field_value(v, vlen, tmp, sizeof tmp);
            lower_addr(tmp, strlen(tmp), a->rcpt, sizeof a->rcpt);
        }
    } else if (IS("Original-Mail-From")) {
        if (a->r->returned_verp[0] == '\0')
            token_after(v, vlen, "bounces", a->r->returned_verp,
                        sizeof a->r->returned_verp);
    } else if (IS("Source-IP")) {
        field_value(v, vlen, tmp, sizeof tmp);
        copy(a->r->arf_source_ip, sizeof a->r->arf_source_ip, tmp, strlen(tmp));
    }
#undef IS
}

/* ---- tokens ---- */

/*
 * token_after - the token of "prefix+TOKEN@" in the n bytes at s (the
 * first one), into out; 1 found.
 */
static int
token_after(const char *s, size_t n, const char *prefix, char *out, size_t size)
{
    size_t k = strlen(prefix);
    const char *p = s, *end = s + n;

    while ((p = ci_find(p, (size_t)(end - p), prefix)) != NULL) {
        const char *t = p + k, *q;
        if (p > s && addr_char((unsigned char)p[-1]) && p[-1] != '.') {
            p += k;
            continue;
        }
        if (t < end && *t == '+') {
            q = ++t;
            while (q < end &&
                   (isalnum((unsigned char)*q) || *q == '-' || *q == '_'))
                q++;
            if (q < end && *q == '@' && q > t && (size_t)(q - t) < size) {
                copy(out, size, t, (size_t)(q - t));
                return 1;
            }
        }
        p += k;
    }
    return 0;
}

/* header_tokens - the VERP and unsubscribe tokens of the address
 * headers this message was delivered through: of the envelope recipient
 * first, then of the first of these names that carries one (in this
 * order), the first such field - read in one pass over the header */
static void
header_tokens(struct bounce_report *r, const struct mimeread_part *top,
              const char *env)
{
    static const char *const hdr[] = {"Delivered-To", "X-Original-To",
                                      "Envelope-To", "X-Envelope-To", "To"};
    enum { NHDR = sizeof hdr / sizeof hdr[0] };
    char v[1024], verp[BOUNCE_TOKEN_MAX], unsub[BOUNCE_TOKEN_MAX];
    size_t best_verp = NHDR, best_unsub = NHDR, nlen;
    const char *cursor = NULL, *name;

    if (env != NULL) {
        token_after(env, strlen(env), "bounces", r->verp, sizeof r->verp);
        token_after(env, strlen(env), "unsubscribe", r->unsub, sizeof r->unsub);
    }
    if (r->verp[0] != '\0')
        best_verp = 0;
    if (r->unsub[0] != '\0')
        best_unsub = 0;
    while ((best_verp > 0 || best_unsub > 0) &&
           mimeread_next_field(top->head, top->head_len, &cursor, &name, &nlen,
                               v, sizeof v) == 0) {
        size_t i, n = strlen(v);
        for (i = 0; i < NHDR; i++)
            if (strlen(hdr[i]) == nlen && strncasecmp(name, hdr[i], nlen) == 0)
                break;
        if (i == NHDR)
            continue;
        if (i < best_verp &&
            token_after(v, n, "bounces", verp, sizeof verp) == 1) {
            memcpy(r->verp, verp, sizeof r->verp);
            best_verp = i;
        }
        if (i < best_unsub &&
            token_after(v, n, "unsubscribe", unsub, sizeof unsub) == 1) {
            memcpy(r->unsub, unsub, sizeof r->unsub);
            best_unsub = i;
        }
    }
}

/* angle_id - "<id>" of a Message-ID value (with or without brackets) */
static void
angle_id(const char *v, char *out, size_t size)
{
    char tmp[256];
    char *b, *e;

    out[0] = '\0';
    if (v == NULL)
        return;
    copy(tmp, sizeof tmp, v, strlen(v));
    one_line(tmp);
    b = strchr(tmp, '<');
    b = b ? b + 1 : tmp;
    e = strchr(b, '>');
    if (e)
        *e = '\0';
    if (*b == '\0' || strchr(b, ' ') != NULL || strchr(b, '@') == NULL ||
        strlen(b) + 3 > size)
        return;
    out[0] = '<';
    memcpy(out + 1, b, strlen(b));
    memcpy(out + 1 + strlen(b), ">", 2);
}

/*
 * returned_from_text - in the raw text of a returned message's headers
 * (a text/rfc822-headers part, or a bounce's body that quotes them):
 * its Message-ID and its tokens.
 */
static void
returned_from_text(struct bounce_report *r, const char *s, size_t n)
{
    const char *p = s, *end = s + n;

    while (p < end && r->message_id[0] == '\0') {
        const char *h = ci_find(p, (size_t)(end - p), "message-id:");
        const char *eol;
        char v[256];
        if (h == NULL)
            break;
        if (h > s && h[-1] != '\n' && h[-1] != ' ' && h[-1] != '>') {
            p = h + 11;
            continue;
        }
        h += 11;
        eol = memchr(h, '\n', (size_t)(end - h));
        /* a folded Message-ID goes on to the next line */
        if (eol && eol + 1 < end && (eol[1] == ' ' || eol[1] == '\t')) {
            const char *e2 = memchr(eol + 1, '\n', (size_t)(end - eol - 1));
            eol = e2 ? e2 : end;
        }
        copy(v, sizeof v, h, (size_t)((eol ? eol : end) - h));
        angle_id(v, r->message_id, sizeof r->message_id);
        p = h;
    }
    if (r->returned_verp[0] == '\0')
        token_after(s, n, "bounces", r->returned_verp, sizeof r->returned_verp);
    if (r->returned_unsub[0] == '\0')
        token_after(s, n, "unsubscribe", r->returned_unsub,
                    sizeof r->returned_unsub);
}

/* ---- non-standard bounces: their recipient lines ---- */

static const char *const daemon_words[] = {
    "mailer-daemon",      "postmaster", "mail delivery", "maildelivery",
    "mail administrator", "mdaemon",    "mailerdaemon",  "mail-daemon",
};

static const char *const bounce_subjects[] = {
    "undeliver",
    "undelivered",
    "delivery status notification",
    "delivery failure",
    "delivery failed",
    "mail delivery failed",
    "failure notice",
    "returned mail",
    "delivery has failed",
    "mail system error",
    "non remis",
    "unzustellbar",
    "nondeliverable",
    "not delivered",
    "could not be delivered",
    "delivery notification",
    "message not delivered",
    "rejected:",
    "failed delivery",
    "mail could not be delivered",
    "returned to sender",
    "delivery problem",
    "warning: could not send message",
};

/* The lines that begin a returned copy: what follows is ours, not the
 * bounce's own words. */
static const char *const copy_markers[] = {
    "----- original message",
    "------ this is a copy of the message",
    "--- below this line is a copy of the message",
    "----- transcript of session follows", /* sendmail: keep reading */
    "original message headers",
    "------ original message",
    "-----original message-----",
    "--- the header of the original message",
    "----- unsent message below",
    "----- message header follows",
    "content-type: message/rfc822",
};

/* copy_start - where the returned copy begins in text, or its end */
static size_t
copy_start(const char *text, size_t n)
{
    size_t best = n;

    for (size_t i = 0; i < sizeof copy_markers / sizeof copy_markers[0]; i++) {
        const char *p;
        if (i == 3)
            continue;
        p = ci_find(text, n, copy_markers[i]);
        if (p != NULL && (size_t)(p - text) < best)
            best = (size_t)(p - text);
    }
    return best;
}

/* is_ours - an address that is not a recipient: our VERP or unsubscribe
 * address, a mailer daemon's, the bounce's From */
static int
not_recipient(const struct bounce_report *r, const char *a)
{
    if (strncmp(a, "bounces+", 8) == 0 || strncmp(a, "unsubscribe+", 12) == 0)
        return 1;
    if (strncmp(a, "mailer-daemon@", 14) == 0 ||
        strncmp(a, "postmaster@", 11) == 0 ||
        strncmp(a, "mailer_daemon@", 14) == 0)
        return 1;
    if (r->from[0] != '\0' && strcmp(a, r->from) == 0)
        return 1;
    return 0;
}

/* quoted_header - the line at p starts with the name of a header of a
 * quoted message (its addresses are not recipients) */
static int
quoted_header(const char *p, const char *le)
{
    static const char *const names[] = {
        "from:",        "reply-to:",
        "sender:",      "return-path:",
        "message-id:",  "received:",
        "cc:",          "errors-to:",
        "list-",        "x-",
        "in-reply-to:", "references:",
        "resent-",      "delivered-to:",
        "mail from:",   "system contact:",
    };
    while (p < le && (*p == ' ' || *p == '\t' || *p == '>'))
        p++;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ci_prefix(p, (size_t)(le - p), names[i]))
            return 1;
    return 0;
}

/*
 * any_recipients - a failure notice whose lines named no recipient the
 * usual ways: the addresses its own words name (at most 3), outside the
 * lines of quoted headers and links
 */
static void
any_recipients(struct bounce_report *r, const char *text, size_t lim)
{
    const char *p = text, *end = text + lim;

    while (p < end && r->nrcpt < 3) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end, *at = p;

        if (!quoted_header(p, le))
            while ((at = memchr(at, '@', (size_t)(le - at))) != NULL &&
                   r->nrcpt < 3) {
                const char *b = at;
                char a[BOUNCE_ADDR_MAX];
                int dup = 0;
                while (b > p &&
                       (addr_char((unsigned char)b[-1]) || b[-1] == '='))
                    b--;
                lower_addr(b, (size_t)(le - b), a, sizeof a);
                at++;
                if (a[0] == '\0' || not_recipient(r, a) ||
                    (b - p >= 7 && ci_prefix(b - 7, 7, "mailto:")))
                    continue;
                for (size_t i = 0; i < r->nrcpt; i++)
                    dup |= strcmp(r->rcpt[i].recipient, a) == 0;
                if (dup)
                    continue;
                memset(&r->rcpt[r->nrcpt], 0, sizeof r->rcpt[0]);
                memcpy(r->rcpt[r->nrcpt].recipient, a, strlen(a) + 1);
                snprintf(r->rcpt[r->nrcpt].action,
                         sizeof r->rcpt[r->nrcpt].action, "failed");
                r->nrcpt++;
            }
        p = eol ? eol + 1 : end;
    }
}

/* text_reply - the first line of a notice's own words that carries an
 * SMTP reply or an enhanced status, into out (one line); 0 if none */
static int
text_reply(const char *text, size_t lim, char *out, size_t size)
{
    const char *p = text, *end = text + lim;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        char st[16];
        for (const char *q = p; q + 3 < le; q++)
            if ((q == p || q[-1] == ' ' || q[-1] == '\t' || q[-1] == '(' ||
                 q[-1] == ':' || q[-1] == '\'') &&
                reply_code_of(q) >= 400) {
                copy(out, size, q, (size_t)(le - q));
                one_line(out);
                return 1;
            }
        copy(out, size, p, (size_t)(le - p));
        if (find_status(out, st, sizeof st) && (st[0] == '4' || st[0] == '5')) {
            one_line(out);
            return 1;
        }
        p = eol ? eol + 1 : end;
    }
    /* no reply: the first line whose words the rule table knows ("the
     * mailbox does not exist", "Unrouteable address") */
    for (p = text; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        if (le > p && rules_match(p, (size_t)(le - p)) != NULL) {
            copy(out, size, p, (size_t)(le - p));
            one_line(out);
            return 1;
        }
        p = eol ? eol + 1 : end;
    }
    out[0] = '\0';
    return 0;
}

/*
 * text_recipients - recipients named by a non-standard bounce's text
 * (before its returned copy): each address that starts a line ("<a>:",
 * "a", "  a", "a:" - qmail, Exim, Postfix, Sendmail) or follows a phrase
 * that names it ("to the following address", "Your message to a",
 * "delivery to a", "recipient: a"), with the lines after it up to a blank
 * line as its diagnostic.
 */
static void
text_recipients(struct bounce_report *r, const char *text, size_t n)
{
    size_t lim = copy_start(text, n);
    const char *p = text, *end = text + lim;

    while (p < end && r->nrcpt < BOUNCE_RCPT_MAX) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end, *q = p;
        char a[BOUNCE_ADDR_MAX];
        int starts;

        while (q < le && (*q == ' ' || *q == '\t' || *q == '*' || *q == '>'))
            q++;
        starts = q < le && (*q == '<' || addr_char((unsigned char)*q)) &&
                 memchr(q, '@', (size_t)(le - q)) != NULL;
        a[0] = '\0';
        if (starts) {
            /* the address must be the line's first word */
            const char *w = q;
            while (w < le && *w != ' ' && *w != '\t' && *w != '@')
                w++;
            if (w < le && *w == '@')
                lower_addr(q, (size_t)(le - q), a, sizeof a);
        }
        /* every phrase is followed by the address: a line without an @
         * has none to give */
        if (a[0] == '\0' && memchr(p, '@', (size_t)(le - p)) != NULL) {
            static const char *const lead[] = {
                "following address",
                "your message to ",
                "delivery to ",
                "recipient:",
                "recipient address:",
                "original recipient:",
                "message to ",
                "could not be delivered to ",
                "failed recipient",
                "addressed to ",
                "undeliverable address:",
                "attempts:",
                "smtp=",
                "unknown user:",
            };
            for (size_t i = 0; i < sizeof lead / sizeof lead[0]; i++) {
                const char *l = ci_find(p, (size_t)(le - p), lead[i]);
                if (l != NULL && memchr(l, '@', (size_t)(le - l)) != NULL) {
                    lower_addr(l + strlen(lead[i]),
                               (size_t)(le - l - strlen(lead[i])), a, sizeof a);
                    break;
                }
            }
        }
        if (a[0] != '\0' && !not_recipient(r, a)) {
            struct bounce_rcpt *c = NULL;
            for (size_t i = 0; i < r->nrcpt; i++)
                if (strcmp(r->rcpt[i].recipient, a) == 0)
                    c = &r->rcpt[i];
            if (c == NULL) {
                c = &r->rcpt[r->nrcpt++];
                memset(c, 0, sizeof *c);
                memcpy(c->recipient, a, strlen(a) + 1);
                snprintf(c->action, sizeof c->action, "failed");
            }
            /* the diagnostic: the rest of this line after the address,
             * then the following lines up to a blank one */
            if (c->diagnostic[0] == '\0') {
                char d[BOUNCE_DIAG_MAX];
                const char *after = ci_find(p, (size_t)(le - p), a);
                const char *dp, *de = le;
                size_t k = 0;
                if (after == NULL)
                    after = q;
                else
                    after += strlen(a);
                while (after < le && (*after == '>' || *after == ':' ||
                                      *after == ' ' || *after == ','))
                    after++;
                dp = after;
                /* up to the next blank line or the next address line */
                while (de < end) {
                    const char *nx = de + 1, *ne;
                    if (nx >= end)
                        break;
                    ne = memchr(nx, '\n', (size_t)(end - nx));
                    if (ne == NULL)
                        ne = end;
                    {
                        const char *t = nx;
                        while (t < ne && (*t == ' ' || *t == '\t'))
                            t++;
                        if (t == ne)
                            break;
                        /* another address line, no deeper than this
                         * recipient's: the next recipient */
                        if (*t == '<' && memchr(t, '@', (size_t)(ne - t)) &&
                            t - nx <= q - p)
                            break;
                    }
                    de = ne;
                    if ((size_t)(de - dp) > BOUNCE_DIAG_MAX)
                        break;
                }
                k = (size_t)(de - dp);
                copy(d, sizeof d, dp, k);
                one_line(d);
                memcpy(c->diagnostic, d, strlen(d) + 1);
            }
        }
        p = eol ? eol + 1 : end;
    }
    /* a diagnostic line without a recipient line: the first line that
     * carries an SMTP reply */
    if (r->nrcpt == 0)
        return;
    for (size_t i = 0; i < r->nrcpt; i++) {
        struct bounce_rcpt *c = &r->rcpt[i];
        const char *said;
        if (reply_code_of(c->diagnostic) != 0)
            continue;
        /* "host x said: 550 ..." / "remote server returned '550 ...'" */
        said = strstr(c->diagnostic, "said:");
        if (said == NULL)
            said = ci_find(c->diagnostic, strlen(c->diagnostic), "returned '");
        if (said == NULL)
            said = ci_find(c->diagnostic, strlen(c->diagnostic),
                           "smtp error from remote mail server after");
        if (said != NULL) {
            const char *code = said;
            while (*code && !(reply_code_of(code) &&
                              (code == said || code[-1] == ' ' ||
                               code[-1] == '\'' || code[-1] == ':')))
                code++;
            if (*code)
                c->reply_code = reply_code_of(code);
        }
    }
}

/*
 * read_text - the recipients a notice's text names, each with its
 * diagnostic: by its recipient lines, else any address its words name;
 * a recipient without words of its own gets the notice's first reply
 * line; "(expanded from: a)" names the original recipient.
 */
static void
read_text(struct bounce_report *r, const char *text, size_t n)
{
    size_t lim = copy_start(text, n);
    char reply[BOUNCE_DIAG_MAX];
    int have_reply;

    text_recipients(r, text, n);
    if (r->nrcpt == 0)
        any_recipients(r, text, lim);
    have_reply = text_reply(text, lim, reply, sizeof reply);
    for (size_t i = 0; i < r->nrcpt; i++) {
        struct bounce_rcpt *c = &r->rcpt[i];
        const char *x =
            ci_find(c->diagnostic, strlen(c->diagnostic), "expanded from");
        if (x != NULL && c->original[0] == '\0')
            lower_addr(x, strlen(x), c->original, sizeof c->original);
        char st[16];
        if (c->reply_code == 0 &&
            find_status(c->diagnostic, st, sizeof st) == 0 && have_reply &&
            !strstr(c->diagnostic, reply)) {
            /* the recipient's own words carry no reply: the notice's */
            char both[BOUNCE_DIAG_MAX];
            if (c->diagnostic[0] != '\0')
                snprintf(both, sizeof both, "%.400s; %.600s", c->diagnostic,
                         reply);
            else
                snprintf(both, sizeof both, "%s", reply);
            memcpy(c->diagnostic, both, strlen(both) + 1);
            c->reply_code = reply_code_of(reply);
        }
    }
}

/*
 * text_diagnostics - DSN recipients without a Diagnostic-Code get what the
 * report's text says of them (Exim puts "Unrouteable address" there only)
 */
static void
text_diagnostics(struct bounce_report *r, const char *text, size_t n)
{
    struct bounce_report *t = NULL;

    for (size_t i = 0; i < r->nrcpt; i++) {
        struct bounce_rcpt *c = &r->rcpt[i];
        if (c->diagnostic[0] != '\0' || c->recipient[0] == '\0')
            continue;
        if (t == NULL) {
            if ((t = malloc(sizeof *t)) == NULL)
                return;
            memset(t, 0, offsetof(struct bounce_report, rcpt));
            memcpy(t->from, r->from, sizeof t->from);
            text_recipients(t, text, n);
        }
        for (size_t k = 0; k < t->nrcpt; k++)
            if (strcmp(t->rcpt[k].recipient, c->recipient) == 0) {
                memcpy(c->diagnostic, t->rcpt[k].diagnostic,
                       sizeof c->diagnostic);
                if (c->reply_code == 0)
                    c->reply_code = t->rcpt[k].reply_code;
            }
    }
    free(t);
}

/*
 * unclear_failure - a recipient that failed for no reason the message
 * gives: delivery failed, cause unknown - soft, which suppresses nobody
 */
static void
unclear_failure(struct bounce_rcpt *c)
{
    if (strcmp(c->classification, "unknown") != 0 ||
        strcasecmp(c->action, "failed") != 0)
        return;
    c->classification = "soft";
    c->reason = "failed, no reason given";
    if (c->status[0] == '\0') {
        snprintf(c->status, sizeof c->status, "5.0.0");
        c->status_derived = 1;
    }
}

/* ---- step 3: the kind ---- */

static int
lower_has(const char *s, const char *needle)
{
    return s != NULL && ci_find(s, strlen(s), needle) != NULL;
}

static int
is_daemon(const char *from, const char *from_name)
{
    for (size_t i = 0; i < sizeof daemon_words / sizeof daemon_words[0]; i++)
        if (lower_has(from, daemon_words[i]) ||
            lower_has(from_name, daemon_words[i]))
            return 1;
    return 0;
}

static int
bounce_subject(const char *subject)
{
    for (size_t i = 0; i < sizeof bounce_subjects / sizeof bounce_subjects[0];
         i++)
        if (lower_has(subject, bounce_subjects[i]))
            return 1;
    return 0;
}

/* auto_reply - RFC 3834 and what autoresponders put instead */
static int
auto_reply(const struct mimeread_part *top, const char *subject)
{
    char v[256];
    static const char *const subj[] = {
        "auto:",
        "automatic reply",
        "autoreply",
        "auto-reply",
        "auto reply",
        "out of office",
        "out of the office",
        "vacation",
        "abwesenheitsnotiz",
        "réponse automatique",
        "risposta automatica",
        "respuesta automática",
        "automatische antwort",
        "away from my desk",
        "on leave",
        "autosvar",
        "automaattinen vastaus",
    };

#define HAS(name)                                                              \
    (mimeread_field(top->head, top->head_len, name, 0, v, sizeof v) >= 0)
    if (HAS("Auto-Submitted") && strncasecmp(v, "no", 2) != 0)
        return 1;
    if (HAS("X-Autoreply") || HAS("X-Autorespond") || HAS("X-Autoresponder"))
        return 1;
    if (HAS("Precedence") && strncasecmp(v, "auto_reply", 10) == 0)
        return 1;
    if (HAS("X-Auto-Response-Suppress") &&
        lower_has(subject, "automatic reply"))
        return 1;
#undef HAS
    for (size_t i = 0; i < sizeof subj / sizeof subj[0]; i++)
        if (subject != NULL && ci_prefix(subject, strlen(subject), subj[i]))
            return 1;
    return 0;
}

/* from_addr - the From mailbox, lower-cased, and its display name (in
 * *list, which the caller unrefs) */
static void
from_addr(const struct mimeread_part *top, char *out, size_t size,
          const char **name, InternetAddressList **list)
{
    char v[1024];
    InternetAddress *ia;

    out[0] = '\0';
    *name = NULL;
    *list = NULL;
    if (mimeread_field(top->head, top->head_len, "From", 0, v, sizeof v) < 0 ||
        (*list = internet_address_list_parse(NULL, v)) == NULL ||
        internet_address_list_length(*list) < 1)
        return;
    ia = internet_address_list_get_address(*list, 0);
    *name = internet_address_get_name(ia);
    if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
        const char *a =
            internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
        if (a != NULL)
            lower_addr(a, strlen(a), out, size);
    }
}

int
bounce_parse(const char *buf, size_t len, const struct bounce_opts *o,
             struct bounce_report *r, struct err *e)
{
    struct walk w;
    struct mimeread_part top;
    InternetAddressList *from_list;
    char *in, *subject = NULL, v[1024];
    size_t n;
    int cut;
    const char *from_name;

    memset(r, 0, offsetof(struct bounce_report, rcpt));
    r->kind = BOUNCE_UNKNOWN;
    bounce_init();
    if ((in = prepare(buf, len, &n, &cut)) == NULL)
        return err_set(e, EX_SOFTWARE, "out of memory reading a message");
    r->truncated = cut;
    mimeread_split(in, n, &top);
    if (top.head_len == 0) {
        free(in);
        return 0; /* no header: not a message, nothing found */
    }

    memset(&w, 0, sizeof w);
    mimeread_walk(in, n, BOUNCE_DEPTH_MAX, part_cb, &w);
    /* a Subject without encoded words is as it is (GMime's decoding
     * would only copy it) */
    if (mimeread_field(top.head, top.head_len, "Subject", 0, v, sizeof v) >= 0)
        subject = strstr(v, "=?") != NULL
                      ? g_mime_utils_header_decode_text(NULL, v)
                      : g_strdup(v);
    from_addr(&top, r->from, sizeof r->from, &from_name, &from_list);
    if (mimeread_field(top.head, top.head_len, "Message-ID", 0, v, sizeof v) >=
        0)
        angle_id(v, r->self_id, sizeof r->self_id);
    header_tokens(r, &top, o ? o->envelope_rcpt : NULL);
    if (w.returned_head != NULL)
        returned_from_text(r, w.returned_head, strlen(w.returned_head));
    if (w.returned_headers != NULL)
        returned_from_text(r, w.returned_headers, strlen(w.returned_headers));

    if (w.arf != NULL) {
        struct arf_state a;
        memset(&a, 0, sizeof a);
        a.r = r;
        r->kind = BOUNCE_ARF;
        fields(w.arf, w.arf + strlen(w.arf), arf_field, &a);
        if (a.rcpt[0] == '\0' && w.returned_headers != NULL) {
            /* the returned header's To */
            const char *h = w.returned_headers, *t = h;
            while (t != NULL && *t) {
                if (ci_prefix(t, strlen(t), "to:")) {
                    const char *eol = strchr(t, '\n');
                    lower_addr(t + 3,
                               eol ? (size_t)(eol - t - 3) : strlen(t + 3),
                               a.rcpt, sizeof a.rcpt);
                    break;
                }
                t = strchr(t, '\n');
                t = t ? t + 1 : NULL;
            }
        }
        if (a.rcpt[0] == '\0' && w.returned_head != NULL &&
            mimeread_field(w.returned_head, strlen(w.returned_head), "To", 0, v,
                           sizeof v) > 0)
            lower_addr(v, strlen(v), a.rcpt, sizeof a.rcpt);
        r->nrcpt = 1;
        memset(&r->rcpt[0], 0, sizeof r->rcpt[0]);
        memcpy(r->rcpt[0].recipient, a.rcpt, strlen(a.rcpt) + 1);
        r->rcpt[0].classification = "complaint";
        r->rcpt[0].reason =
            r->feedback_type[0] ? r->feedback_type : "feedback report";
    } else if (w.dsn != NULL) {
        r->kind = BOUNCE_DSN;
        read_dsn(r, w.dsn);
        /* a report part without a recipient block: its text names them;
         * recipients without a diagnostic: what the text says of them */
        if (r->nrcpt == 0 && w.text != NULL)
            read_text(r, w.text, w.text_len);
        else if (w.text != NULL)
            text_diagnostics(r, w.text, w.text_len);
        for (size_t i = 0; i < r->nrcpt; i++) {
            struct bounce_rcpt *c = &r->rcpt[i];
            c->reply_code = reply_code_of(c->diagnostic);
            if (c->action[0] == '\0')
                snprintf(c->action, sizeof c->action, "%s",
                         c->status[0] == '2' ? "delivered" : "failed");
            bounce_classify(c);
            unclear_failure(c);
        }
    } else if (is_daemon(r->from, from_name) || bounce_subject(subject) ||
               (r->verp[0] != '\0' && !auto_reply(&top, subject))) {
        const char *t = w.text;
        size_t tn = w.text_len;
        r->kind = BOUNCE_NONSTANDARD;
        if (t == NULL && (t = strstr(in, "\n\n")) != NULL)
            tn = strlen(t); /* no text part (a boundary never seen) */
        if (t != NULL) {
            read_text(r, t, tn);
            if (r->message_id[0] == '\0')
                returned_from_text(r, t, tn);
        }
        for (size_t i = 0; i < r->nrcpt; i++) {
            bounce_classify(&r->rcpt[i]);
            unclear_failure(&r->rcpt[i]);
        }
        if (r->nrcpt == 0 && !is_daemon(r->from, from_name) &&
            !bounce_subject(subject))
            r->kind = BOUNCE_UNKNOWN;
    }
    if (r->kind == BOUNCE_UNKNOWN && auto_reply(&top, subject)) {
        r->kind = BOUNCE_AUTO_REPLY;
        r->nrcpt = 1;
        memset(&r->rcpt[0], 0, sizeof r->rcpt[0]);
        memcpy(r->rcpt[0].recipient, r->from, strlen(r->from) + 1);
        r->rcpt[0].classification = "auto_reply";
        r->rcpt[0].reason = "automatic reply";
    } else if (r->kind == BOUNCE_UNKNOWN && r->unsub[0] != '\0') {
        r->kind = BOUNCE_UNSUBSCRIBE;
        r->nrcpt = 1;
        memset(&r->rcpt[0], 0, sizeof r->rcpt[0]);
        memcpy(r->rcpt[0].recipient, r->from, strlen(r->from) + 1);
        r->rcpt[0].classification = "unsubscribe";
        r->rcpt[0].reason = "unsubscribe by mail";
    }
    /* last: tokens quoted anywhere in the input (a bounce that pastes the
     * returned headers into its text) */
    if (r->kind != BOUNCE_UNKNOWN && r->kind != BOUNCE_UNSUBSCRIBE &&
        r->returned_verp[0] == '\0' && r->returned_unsub[0] == '\0') {
        const char *body = strstr(in, "\n\n");
        if (body != NULL)
            returned_from_text(r, body, strlen(body));
    }

    free(w.dsn);
    free(w.arf);
    free(w.text);
    free(w.returned_headers);
    free(w.returned_head);
    g_free(subject);
    if (from_list != NULL)
        g_object_unref(from_list);
    free(in);
    return 0;
}
