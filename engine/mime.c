/* SPDX-License-Identifier: ISC */
/*
 * mime.c - message builder (see mime.h for what it owns and the RFCs).
 *
 * Everything is appended to one caller-owned buffer that is reused from
 * message to message, so a campaign builds its messages without
 * allocating.  Quoted-printable encoding is table-driven.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mime.h"

/* RFC 2045 6.7 (5): encoded lines at most 76 characters. */
#define QP_LINE_MAX 76
/* RFC 5322 2.1.1: SHOULD fold at 78. */
#define HDR_FOLD 78
/* RFC 2047 2: an encoded-word is at most 75 characters; 45 raw bytes
 * make 60 base64 characters plus 12 of "=?UTF-8?B?" and "?=". */
#define EW_RAW_MAX 45

/* QP_BOUNDARY can never occur in a quoted-printable part: '=' is always
 * encoded there, so "=_" cannot appear (RFC 2045 6.7, the classic trick). */
#define QP_BOUNDARY "=_campaign_alt_7d1f"

static const char hexd[] = "0123456789ABCDEF";

/* qp_safe[c]: 1 when c can be written literally (mid-line). */
static unsigned char qp_safe[256];
static int qp_ready;

static void
qp_init(void)
{
    for (int c = 0; c < 256; c++)
        qp_safe[c] = (c >= 33 && c <= 126 && c != '=') || c == ' ' ||
                     c == '\t';
    qp_ready = 1;
}

int
mime_qp_encode(const char *s, size_t n, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t col = 0, i = 0;
    char enc[3];

    if (!qp_ready)
        qp_init();
    /* worst case: every byte as =XX plus soft breaks */
    if (buf_reserve(out, n * 3 + n / 24 * 3 + 8) == -1)
        return -1;
    while (i < n) {
        unsigned char c = p[i];

        /* a line break in any convention becomes one CRLF */
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < n && p[i + 1] == '\n')
                i++;
            i++;
            if (buf_append(out, "\r\n", 2) == -1)
                return -1;
            col = 0;
            continue;
        }
        /* a run of literal bytes (not at line start, where '.' and
         * "From " need care), stopping before the column limit */
        if (col > 0 && qp_safe[c] && c != ' ' && c != '\t') {
            size_t j = i, room = QP_LINE_MAX - 1 - col;
            while (j < n && j - i < room && qp_safe[p[j]] && p[j] != ' ' &&
                   p[j] != '\t')
                j++;
            if (j > i) {
                if (buf_append(out, s + i, j - i) == -1)
                    return -1;
                col += j - i;
                i = j;
                if (col >= QP_LINE_MAX - 1 && i < n && p[i] != '\r' &&
                    p[i] != '\n') {
                    if (buf_append(out, "=\r\n", 3) == -1)
                        return -1;
                    col = 0;
                }
                continue;
            }
        }
        int literal = qp_safe[c];
        if (col == 0 && (c == '.' || (c == 'F' && n - i >= 5 &&
                                      memcmp(p + i, "From ", 5) == 0)))
            literal = 0;
        if ((c == ' ' || c == '\t') &&
            (i + 1 == n || p[i + 1] == '\r' || p[i + 1] == '\n'))
            literal = 0; /* trailing white space is not preserved */
        size_t w = literal ? 1 : 3;
        if (col + w > QP_LINE_MAX - 1) {
            if (buf_append(out, "=\r\n", 3) == -1)
                return -1;
            col = 0;
            if (c == '.' || (c == 'F' && n - i >= 5 &&
                             memcmp(p + i, "From ", 5) == 0)) {
                literal = 0;
                w = 3;
            }
        }
        if (literal) {
            if (buf_putc(out, (char)c) == -1)
                return -1;
        } else {
            enc[0] = '=';
            enc[1] = hexd[c >> 4];
            enc[2] = hexd[c & 15];
            if (buf_append(out, enc, 3) == -1)
                return -1;
        }
        col += w;
        i++;
    }
    return 0;
}

static const char b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_append(const unsigned char *s, size_t n, struct buf *out)
{
    char q[4];
    size_t i;

    for (i = 0; i + 3 <= n; i += 3) {
        q[0] = b64std[s[i] >> 2];
        q[1] = b64std[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        q[2] = b64std[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
        q[3] = b64std[s[i + 2] & 63];
        if (buf_append(out, q, 4) == -1)
            return -1;
    }
    if (n - i == 1) {
        q[0] = b64std[s[i] >> 2];
        q[1] = b64std[(s[i] & 3) << 4];
        q[2] = q[3] = '=';
        return buf_append(out, q, 4);
    }
    if (n - i == 2) {
        q[0] = b64std[s[i] >> 2];
        q[1] = b64std[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        q[2] = b64std[(s[i + 1] & 15) << 2];
        q[3] = '=';
        return buf_append(out, q, 4);
    }
    return 0;
}

/* encoded_words - s as RFC 2047 B encoded-words, each on its own folded
 * line after the first, split only between UTF-8 characters. */
static int
encoded_words(const char *s, size_t n, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t j = i + EW_RAW_MAX < n ? i + EW_RAW_MAX : n;
        /* back up to a character boundary */
        while (j < n && j > i && (p[j] & 0xc0) == 0x80)
            j--;
        if (j == i)
            j = i + 1;
        if (i > 0 && buf_append(out, "\r\n ", 3) == -1)
            return -1;
        if (buf_append(out, "=?UTF-8?B?", 10) == -1 ||
            b64_append(p + i, j - i, out) == -1 ||
            buf_append(out, "?=", 2) == -1)
            return -1;
        i = j;
    }
    return 0;
}

/* needs_encoding - non-ASCII, controls, "=?" that a reader would decode,
 * or an unbreakable run too long to fold. */
static int
needs_encoding(const char *s, size_t n)
{
    size_t run = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x7f || (c < 0x20 && c != '\t'))
            return 1;
        if (c == '=' && i + 1 < n && s[i + 1] == '?')
            return 1;
        run = (c == ' ' || c == '\t') ? 0 : run + 1;
        if (run > 900)
            return 1;
    }
    return 0;
}

int
mime_encode_header(const char *s, size_t n, size_t used, struct buf *out)
{
    size_t col = used, i = 0;

    if (needs_encoding(s, n))
        return encoded_words(s, n, out);
    /* plain ASCII: fold before a space when the line would pass 78 */
    while (i < n) {
        size_t j = i;
        if (s[j] == ' ' || s[j] == '\t')
            j++;
        while (j < n && s[j] != ' ' && s[j] != '\t')
            j++;
        if (col + (j - i) > HDR_FOLD && col > used && (s[i] == ' ' ||
                                                        s[i] == '\t')) {
            if (buf_append(out, "\r\n", 2) == -1)
                return -1;
            col = 0;
        }
        if (buf_append(out, s + i, j - i) == -1)
            return -1;
        col += j - i;
        i = j;
    }
    return 0;
}

/* display_name - a phrase: a quoted-string when ASCII, encoded-words
 * otherwise. */
static int
display_name(const char *s, struct buf *out)
{
    size_t n = strlen(s);

    if (needs_encoding(s, n))
        return encoded_words(s, n, out);
    if (buf_putc(out, '"') == -1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] == '"' || s[i] == '\\') && buf_putc(out, '\\') == -1)
            return -1;
        if (buf_putc(out, s[i]) == -1)
            return -1;
    }
    return buf_putc(out, '"');
}

/* clean - 0 when the value may go into a header. */
static int
clean(const char *what, const char *v, struct err *e)
{
    for (const char *p = v; *p; p++)
        if (*p == '\r' || *p == '\n')
            return err_set(e, EX_DATAERR,
                           "%s contains a line break: it could add a header",
                           what);
    return 0;
}

static int
address_header(const char *name, const struct mime_address *a,
               struct buf *out, struct err *e)
{
    if (clean(name, a->addr, e) == -1 ||
        (a->name && clean(name, a->name, e) == -1))
        return -1;
    if (strchr(a->addr, '<') || strchr(a->addr, '>') || strchr(a->addr, ',') ||
        strchr(a->addr, '@') == NULL)
        return err_set(e, EX_DATAERR, "%s: \"%s\" is not an address", name,
                       a->addr);
    if (buf_puts(out, name) == -1 || buf_append(out, ": ", 2) == -1)
        return -1;
    if (a->name && *a->name) {
        if (display_name(a->name, out) == -1 || buf_putc(out, ' ') == -1)
            return -1;
    }
    if (buf_putc(out, '<') == -1 || buf_puts(out, a->addr) == -1 ||
        buf_append(out, ">\r\n", 3) == -1)
        return -1;
    return 0;
}

int
mime_parse_address(const char *s, struct mime_address *out, struct buf *b)
{
    const char *lt = strrchr(s, '<'), *gt;
    size_t name_off, addr_off, n;

    buf_reset(b);
    out->name = NULL;
    out->addr = NULL;
    while (*s == ' ' || *s == '\t')
        s++;
    if (lt == NULL) {
        n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n == 0 || memchr(s, '@', n) == NULL ||
            buf_append(b, s, n) == -1 || buf_putc(b, '\0') == -1)
            return -1;
        out->addr = b->p;
        return 0;
    }
    gt = strchr(lt, '>');
    if (gt == NULL || gt == lt + 1 || memchr(lt, '@', (size_t)(gt - lt)) ==
                                          NULL)
        return -1;
    /* name: the text before '<', trimmed, without surrounding quotes */
    n = (size_t)(lt - s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    name_off = 0;
    if (buf_append(b, s, n) == -1 || buf_putc(b, '\0') == -1)
        return -1;
    addr_off = b->len;
    if (buf_append(b, lt + 1, (size_t)(gt - lt - 1)) == -1 ||
        buf_putc(b, '\0') == -1)
        return -1;
    out->name = n ? b->p + name_off : NULL;
    out->addr = b->p + addr_off;
    return 0;
}

void
mime_date(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
                                       "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};

    gmtime_r(&tt, &tm);
    snprintf(out, n, "%s, %d %s %04d %02d:%02d:%02d +0000",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int
simple_header(const char *name, const char *v, struct buf *out,
              struct err *e)
{
    if (v == NULL)
        return 0;
    if (clean(name, v, e) == -1)
        return -1;
    if (strlen(v) + strlen(name) + 2 > 998)
        return err_set(e, EX_DATAERR, "%s is longer than 998 octets", name);
    if (buf_puts(out, name) == -1 || buf_append(out, ": ", 2) == -1 ||
        buf_puts(out, v) == -1 || buf_append(out, "\r\n", 2) == -1)
        return -1;
    return 0;
}

int
mime_build(const struct mime_message *m, struct buf *out, struct err *e)
{
    char date[48];
    size_t start = out->len;

#define OUT(x)                                                                 \
    do {                                                                       \
        if ((x) == -1)                                                         \
            goto full;                                                         \
    } while (0)

    mime_date(m->date, date, sizeof date);
    if (simple_header("Date", date, out, e) == -1)
        goto bad;
    if (address_header("From", &m->from, out, e) == -1 ||
        address_header("To", &m->to, out, e) == -1)
        goto bad;
    if (m->reply_to) {
        if (clean("Reply-To", m->reply_to, e) == -1)
            goto bad;
        if (needs_encoding(m->reply_to, strlen(m->reply_to)))
            return err_set(e, EX_DATAERR,
                           "Reply-To must be ASCII: \"%s\"", m->reply_to);
        OUT(buf_puts(out, "Reply-To: "));
        OUT(buf_puts(out, m->reply_to));
        OUT(buf_append(out, "\r\n", 2));
    }
    if (clean("Subject", m->subject, e) == -1)
        goto bad;
    OUT(buf_puts(out, "Subject: "));
    OUT(mime_encode_header(m->subject, strlen(m->subject), 9, out));
    OUT(buf_append(out, "\r\n", 2));
    if (simple_header("Message-ID", m->message_id, out, e) == -1)
        goto bad;
    OUT(buf_puts(out, "MIME-Version: 1.0\r\n"));
    if (m->unsubscribe_url || m->unsubscribe_mailto) {
        if ((m->unsubscribe_url && clean("List-Unsubscribe",
                                         m->unsubscribe_url, e) == -1) ||
            (m->unsubscribe_mailto &&
             clean("List-Unsubscribe", m->unsubscribe_mailto, e) == -1))
            goto bad;
        OUT(buf_puts(out, "List-Unsubscribe: "));
        if (m->unsubscribe_url) {
            OUT(buf_putc(out, '<'));
            OUT(buf_puts(out, m->unsubscribe_url));
            OUT(buf_putc(out, '>'));
        }
        if (m->unsubscribe_mailto) {
            if (m->unsubscribe_url)
                OUT(buf_append(out, ",\r\n <", 5));
            else
                OUT(buf_putc(out, '<'));
            OUT(buf_puts(out, m->unsubscribe_mailto));
            OUT(buf_putc(out, '>'));
        }
        OUT(buf_append(out, "\r\n", 2));
        /* RFC 8058 3.1: one-click needs the https URI */
        if (m->unsubscribe_url)
            OUT(buf_puts(out,
                         "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
                         "\r\n"));
    }
    if (simple_header("List-Id", m->list_id, out, e) == -1 ||
        simple_header("Feedback-ID", m->feedback_id, out, e) == -1)
        goto bad;

    if (m->html == NULL) {
        OUT(buf_puts(out, "Content-Type: text/plain; charset=utf-8\r\n"
                          "Content-Transfer-Encoding: quoted-printable\r\n"
                          "\r\n"));
        OUT(mime_qp_encode(m->text, m->text_len, out));
        OUT(buf_append(out, "\r\n", 2));
        return 0;
    }
    OUT(buf_puts(out, "Content-Type: multipart/alternative;\r\n"
                      " boundary=\"" QP_BOUNDARY "\"\r\n"
                      "\r\n"
                      "This is a multi-part message in MIME format.\r\n"
                      "\r\n"
                      "--" QP_BOUNDARY "\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n"
                      "\r\n"));
    OUT(mime_qp_encode(m->text, m->text_len, out));
    OUT(buf_puts(out, "\r\n--" QP_BOUNDARY "\r\n"
                      "Content-Type: text/html; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n"
                      "\r\n"));
    OUT(mime_qp_encode(m->html, m->html_len, out));
    OUT(buf_puts(out, "\r\n--" QP_BOUNDARY "--\r\n"));
    return 0;
#undef OUT
full:
    out->len = start;
    return err_set(e, EX_DATAERR, "message larger than %zu bytes", out->max);
bad:
    out->len = start;
    return -1;
}

/* ---- HTML to text ---- */

struct entity {
    const char *name;
    const char *utf8;
};

static const struct entity entities[] = {
    {"amp", "&"},       {"lt", "<"},        {"gt", ">"},
    {"quot", "\""},     {"apos", "'"},      {"nbsp", " "},
    {"zwnj", ""},       {"zwj", ""},        {"shy", ""},
    {"copy", "©"},      {"reg", "®"},       {"trade", "™"},
    {"euro", "€"},      {"pound", "£"},     {"yen", "¥"},
    {"mdash", "—"},     {"ndash", "–"},     {"hellip", "…"},
    {"lsquo", "‘"},     {"rsquo", "’"},     {"ldquo", "“"},
    {"rdquo", "”"},     {"laquo", "«"},     {"raquo", "»"},
    {"middot", "·"},    {"bull", "•"},      {"deg", "°"},
    {"agrave", "à"},    {"egrave", "è"},    {"eacute", "é"},
    {"igrave", "ì"},    {"ograve", "ò"},    {"ugrave", "ù"},
    {"Agrave", "À"},    {"Egrave", "È"},    {"Eacute", "É"},
    {"ccedil", "ç"},    {"ntilde", "ñ"},    {"uuml", "ü"},
    {"ouml", "ö"},      {"auml", "ä"},      {"szlig", "ß"},
};

static int
put_utf8(unsigned long cp, struct buf *out)
{
    char u[4];

    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return buf_puts(out, "\xef\xbf\xbd");
    if (cp < 0x80)
        return buf_putc(out, (int)cp);
    if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 63));
        return buf_append(out, u, 2);
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 63));
        u[2] = (char)(0x80 | (cp & 63));
        return buf_append(out, u, 3);
    }
    u[0] = (char)(0xf0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 63));
    u[2] = (char)(0x80 | ((cp >> 6) & 63));
    u[3] = (char)(0x80 | (cp & 63));
    return buf_append(out, u, 4);
}

/* entity - decode the entity at s (after '&'); returns bytes consumed
 * (including ';'), or 0 if it is not one. */
static size_t
entity(const char *s, size_t n, struct buf *out)
{
    const char *semi = memchr(s, ';', n < 12 ? n : 12);
    size_t len;

    if (semi == NULL)
        return 0;
    len = (size_t)(semi - s);
    if (len >= 2 && s[0] == '#') {
        unsigned long cp = 0;
        size_t i = 1;
        int hex = s[1] == 'x' || s[1] == 'X';
        if (hex)
            i++;
        if (i >= len)
            return 0;
        for (; i < len; i++) {
            int d;
            char c = s[i];
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (hex && c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F')
                d = c - 'A' + 10;
            else
                return 0;
            cp = cp * (hex ? 16 : 10) + (unsigned long)d;
            if (cp > 0x10ffff)
                return 0;
        }
        if (put_utf8(cp == 0xa0 ? ' ' : cp, out) == -1)
            return 0;
        return len + 1;
    }
    for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++) {
        if (strlen(entities[i].name) == len &&
            memcmp(entities[i].name, s, len) == 0) {
            if (buf_puts(out, entities[i].utf8) == -1)
                return 0;
            return len + 1;
        }
    }
    return 0;
}

struct h2t {
    struct buf *out;
    int pending_space; /* collapse white space between words */
    int newlines;      /* consecutive line breaks at the end of out */
    int pre;
    size_t link_start; /* out->len where the link text began */
    char href[2048];
    int in_link;
};

static int
h2t_break(struct h2t *h, int want)
{
    /* trim spaces at the end of the line */
    while (h->out->len > 0 && h->out->p[h->out->len - 1] == ' ')
        h->out->len--;
    h->pending_space = 0;
    if (h->out->len == 0)
        return 0;
    while (h->newlines < want) {
        if (buf_putc(h->out, '\n') == -1)
            return -1;
        h->newlines++;
    }
    return 0;
}

static int
h2t_text(struct h2t *h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!h->pre && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            h->pending_space = 1;
            continue;
        }
        if (h->pending_space && h->newlines == 0 && h->out->len > 0)
            if (buf_putc(h->out, ' ') == -1)
                return -1;
        h->pending_space = 0;
        if (c == '&') {
            size_t k = entity(s + i + 1, n - i - 1, h->out);
            if (k > 0) {
                i += k;
                h->newlines = 0;
                continue;
            }
        }
        if (buf_putc(h->out, (char)c) == -1)
            return -1;
        h->newlines = c == '\n' ? h->newlines + 1 : 0;
    }
    return 0;
}

/* attr - the value of attribute name in the tag text t (n bytes). */
static size_t
attr(const char *t, size_t n, const char *name, char *val, size_t vsz)
{
    size_t nl = strlen(name);

    for (size_t i = 0; i + nl < n; i++) {
        if (strncasecmp(t + i, name, nl) != 0 || t[i + nl] != '=' ||
            (i > 0 && t[i - 1] != ' ' && t[i - 1] != '\t' && t[i - 1] != '\n'))
            continue;
        size_t j = i + nl + 1, k = 0;
        char q = 0;
        if (j < n && (t[j] == '"' || t[j] == '\''))
            q = t[j++];
        while (j < n && k + 1 < vsz &&
               (q ? t[j] != q : (t[j] != ' ' && t[j] != '>')))
            val[k++] = t[j++];
        val[k] = '\0';
        return k;
    }
    return 0;
}

/* decode_inplace - the entities an attribute value may hold. */
static void
decode_inplace(char *s)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&quot;", '"'}, {"&#39;", '\''},
                {"&lt;", '<'},  {"&gt;", '>'},   {"&#x27;", '\''}};
    char *o = s;

    while (*s) {
        size_t k, n = sizeof ents / sizeof ents[0];
        for (k = 0; k < n; k++) {
            size_t l = strlen(ents[k].ent);
            if (strncmp(s, ents[k].ent, l) == 0) {
                *o++ = ents[k].c;
                s += l;
                break;
            }
        }
        if (k == n)
            *o++ = *s++;
    }
    *o = '\0';
}

int
mime_html_to_text(const char *html, size_t n, struct buf *out)
{
    struct h2t h;
    size_t i = 0;
    const char *skip_until = NULL;

    memset(&h, 0, sizeof h);
    h.out = out;
    h.newlines = 2;
    while (i < n) {
        const char *lt = memchr(html + i, '<', n - i);
        size_t text_end = lt ? (size_t)(lt - html) : n;

        if (skip_until == NULL && h2t_text(&h, html + i, text_end - i) == -1)
            return -1;
        if (lt == NULL)
            break;
        i = text_end;
        /* comments */
        if (n - i >= 4 && memcmp(html + i, "<!--", 4) == 0) {
            const char *end = memmem(html + i + 4, n - i - 4, "-->", 3);
            i = end ? (size_t)(end - html) + 3 : n;
            continue;
        }
        const char *gt = memchr(html + i, '>', n - i);
        size_t tag_end = gt ? (size_t)(gt - html) : n;
        const char *t = html + i + 1;
        size_t tn = tag_end - i - 1;
        int closing = tn > 0 && t[0] == '/';
        char name[16];
        size_t k = 0;
        if (closing) {
            t++;
            tn--;
        }
        while (k < tn && k + 1 < sizeof name &&
               ((t[k] >= 'a' && t[k] <= 'z') || (t[k] >= 'A' && t[k] <= 'Z') ||
                (t[k] >= '0' && t[k] <= '9'))) {
            name[k] = (char)(t[k] | 0x20);
            k++;
        }
        name[k] = '\0';
        i = gt ? tag_end + 1 : n;
        if (skip_until != NULL) {
            if (closing && strcmp(name, skip_until) == 0)
                skip_until = NULL;
            continue;
        }
        if (!closing && (strcmp(name, "style") == 0 ||
                         strcmp(name, "script") == 0 ||
                         strcmp(name, "head") == 0 ||
                         strcmp(name, "title") == 0)) {
            static const char *const names[] = {"style", "script", "head",
                                                "title"};
            for (size_t q = 0; q < 4; q++)
                if (strcmp(name, names[q]) == 0)
                    skip_until = names[q];
            continue;
        }
        if (strcmp(name, "br") == 0) {
            if (h2t_break(&h, h.newlines + 1) == -1)
                return -1;
        } else if (strcmp(name, "p") == 0 || strcmp(name, "h1") == 0 ||
                   strcmp(name, "h2") == 0 || strcmp(name, "h3") == 0 ||
                   strcmp(name, "h4") == 0 || strcmp(name, "h5") == 0 ||
                   strcmp(name, "h6") == 0 || strcmp(name, "table") == 0 ||
                   strcmp(name, "ul") == 0 || strcmp(name, "ol") == 0 ||
                   strcmp(name, "blockquote") == 0) {
            if (h2t_break(&h, 2) == -1)
                return -1;
        } else if (strcmp(name, "div") == 0 || strcmp(name, "tr") == 0 ||
                   strcmp(name, "section") == 0 ||
                   strcmp(name, "header") == 0 ||
                   strcmp(name, "footer") == 0) {
            if (h2t_break(&h, 1) == -1)
                return -1;
        } else if (strcmp(name, "li") == 0) {
            if (h2t_break(&h, 1) == -1)
                return -1;
            if (!closing) {
                if (buf_append(out, "- ", 2) == -1)
                    return -1;
                h.newlines = 0;
            }
        } else if (strcmp(name, "hr") == 0) {
            if (h2t_break(&h, 1) == -1 || buf_puts(out, "----") == -1)
                return -1;
            h.newlines = 0;
            if (h2t_break(&h, 1) == -1)
                return -1;
        } else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
            h.pending_space = 1;
        } else if (strcmp(name, "pre") == 0) {
            h.pre = !closing;
        } else if (strcmp(name, "a") == 0) {
            if (!closing) {
                h.in_link = attr(t, tn, "href", h.href, sizeof h.href) > 0;
                decode_inplace(h.href);
                h.link_start = out->len;
            } else if (h.in_link) {
                size_t tl = out->len - h.link_start;
                const char *shown = h.href;
                h.in_link = 0;
                if (strncmp(shown, "mailto:", 7) == 0)
                    shown += 7;
                if (h.href[0] == '#' ||
                    (tl == strlen(shown) &&
                     memcmp(out->p + h.link_start, shown, tl) == 0))
                    continue;
                if (tl == 0) {
                    if (buf_puts(out, shown) == -1)
                        return -1;
                } else if (buf_append(out, " (", 2) == -1 ||
                           buf_puts(out, shown) == -1 ||
                           buf_putc(out, ')') == -1) {
                    return -1;
                }
                h.newlines = 0;
            }
        }
    }
    /* no trailing blank lines or spaces */
    while (out->len > 0 &&
           (out->p[out->len - 1] == '\n' || out->p[out->len - 1] == ' '))
        out->len--;
    if (buf_putc(out, '\n') == -1)
        return -1;
    return 0;
}
