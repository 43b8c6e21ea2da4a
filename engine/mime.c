/* SPDX-License-Identifier: ISC */
/*
 * mime.c - message builder (see mime.h for what it owns and the RFCs).
 *
 * Everything is appended to one caller-owned buffer that is reused from
 * message to message, so a campaign builds its messages without
 * allocating.  Quoted-printable encoding is table-driven.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mime.h"
#include "xalloc.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define QP_SSE2 1
#endif
/* the cache compares this message with the last 32 bytes at a time when
 * the processor has AVX2 (see mime_cache_new) */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MIME_AVX2 1
#endif

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
/* the end of a multipart message's header section */
#define MULTIPART_HEAD                                                         \
    "Content-Type: multipart/alternative;\r\n"                                 \
    " boundary=\"" QP_BOUNDARY "\"\r\n"                                        \
    "\r\n"

static const char hexd[] = "0123456789ABCDEF";

/* bput - buf_append with the common case (room already there) inline;
 * the same result and limit. */
static inline int
bput(struct buf *b, const void *p, size_t n)
{
    if (n < b->cap - b->len && n <= b->max - b->len) {
        memcpy(b->p + b->len, p, n);
        b->len += n;
        b->p[b->len] = '\0';
        return 0;
    }
    return buf_append(b, p, n);
}

static inline int
bputs(struct buf *b, const char *s)
{
    return bput(b, s, strlen(s));
}

static inline int
bputc(struct buf *b, char c)
{
    return bput(b, &c, 1);
}

/* qp_lit - bytes that go literally anywhere but at a line's start:
 * printable ASCII except '=' (RFC 2045 6.7 (2)). */
static inline int
qp_lit(unsigned char c)
{
    return c >= 33 && c <= 126 && c != '=';
}

/* qp_ok - bytes that may be copied as they are mid-line, unless they
 * are white space at the end of a line: qp_lit, SP and HTAB. */
static inline int
qp_ok(unsigned char c)
{
    return qp_lit(c) || c == ' ' || c == '\t';
}

#ifdef QP_SSE2
/* qp_bad16 - a bit for each of the 16 bytes at p that is not qp_ok:
 * outside SP..'~' (as c - SP unsigned above 0x5e), or '=', and not HTAB. */
static inline unsigned
qp_bad16(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i t = _mm_sub_epi8(v, _mm_set1_epi8(0x20));
    __m128i print = _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(0x5e)), t);
    __m128i eq = _mm_cmpeq_epi8(v, _mm_set1_epi8('='));
    __m128i tab = _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'));
    __m128i ok = _mm_or_si128(_mm_andnot_si128(eq, print), tab);

    return ~(unsigned)_mm_movemask_epi8(ok) & 0xffff;
}
#endif

/* qp_scan - the first position in [j, lim) (lim <= n) whose byte is not
 * qp_ok, or lim.  With SSE2 16 bytes at a time, never reading outside
 * p[0..n): near the end the last 16 bytes are read and shifted. */
static inline size_t
qp_scan(const unsigned char *p, size_t j, size_t lim, size_t n)
{
#ifdef QP_SSE2
    if (n >= 16) {
        while (j < lim) {
            unsigned bad = j + 16 <= n ? qp_bad16(p + j)
                                       : qp_bad16(p + n - 16) >> (j + 16 - n);
            if (bad) {
                j += (size_t)__builtin_ctz(bad);
                return j < lim ? j : lim;
            }
            j += 16;
        }
        return lim;
    }
#else
    (void)n;
#endif
    while (j < lim && qp_ok(p[j]))
        j++;
    return j;
}

/* qp_run - the end of the run of bytes from i (before lim) that can be
 * copied as they are mid-line: qp_lit bytes, and SP or HTAB that are not
 * the last of their line (trailing white space must be encoded).  Every
 * SP or HTAB of the qp_ok run but its last is followed by a qp_ok byte;
 * the last one is trailing when a line break or the end follows it. */
static size_t
qp_run(const unsigned char *p, size_t i, size_t lim, size_t n)
{
    size_t j = qp_scan(p, i, lim, n);

    if (j > i && (p[j - 1] == ' ' || p[j - 1] == '\t') &&
        (j == n || p[j] == '\r' || p[j] == '\n'))
        j--;
    return j;
}

/*
 * qp_line - encode the line at p[*ip], up to and with its line break (or
 * to the end), into o, which has room; returns the end of the output and
 * moves *ip past the line.  A line holds at most QP_LINE_MAX - 1 = 75
 * characters before a soft break "=\r\n"; a run of bytes that need no
 * encoding is found a word at a time (qp_run) and copied at once; the
 * rest goes a byte at a time: '.' and "From " at a line's start, trailing
 * white space, '=', controls and non-ASCII are =XX, and a line break in
 * any convention becomes CRLF.  Nothing here looks past the line break.
 */
static char *
qp_line(const unsigned char *p, size_t n, size_t *ip, char *o)
{
    size_t col = 0, i = *ip;

    while (i < n) {
        unsigned char c = p[i];

        /* a line break in any convention becomes one CRLF */
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < n && p[i + 1] == '\n')
                i++;
            *ip = i + 1;
            *o++ = '\r';
            *o++ = '\n';
            return o;
        }
        /* a run of literal bytes (not at line start, where '.' and
         * "From " need care), stopping at the column limit */
        if (col > 0 && col < QP_LINE_MAX - 1) {
            size_t lim = i + (QP_LINE_MAX - 1 - col);
            size_t j = qp_run(p, i, lim < n ? lim : n, n);
            if (j > i) {
                memcpy(o, p + i, j - i);
                o += j - i;
                col += j - i;
                i = j;
                if (col >= QP_LINE_MAX - 1 && i < n && p[i] != '\r' &&
                    p[i] != '\n') {
                    memcpy(o, "=\r\n", 3);
                    o += 3;
                    col = 0;
                }
                continue;
            }
        }
        int literal = qp_lit(c) || c == ' ' || c == '\t';
        if (col == 0 && (c == '.' || (c == 'F' && n - i >= 5 &&
                                      memcmp(p + i, "From ", 5) == 0)))
            literal = 0;
        if ((c == ' ' || c == '\t') &&
            (i + 1 == n || p[i + 1] == '\r' || p[i + 1] == '\n'))
            literal = 0; /* trailing white space is not preserved */
        size_t w = literal ? 1 : 3;
        if (col + w > QP_LINE_MAX - 1) {
            memcpy(o, "=\r\n", 3);
            o += 3;
            col = 0;
            if (c == '.' ||
                (c == 'F' && n - i >= 5 && memcmp(p + i, "From ", 5) == 0)) {
                literal = 0;
                w = 3;
            }
        }
        if (literal) {
            *o++ = (char)c;
        } else {
            o[0] = '=';
            o[1] = hexd[c >> 4];
            o[2] = hexd[c & 15];
            o += 3;
        }
        col += w;
        i++;
    }
    *ip = i;
    return o;
}

int
mime_qp_encode(const char *s, size_t n, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    char *o;

    /* worst case: every byte as =XX plus soft breaks */
    if (buf_reserve(out, n * 3 + n / 24 * 3 + 8) == -1)
        return -1;
    o = out->p + out->len;
    while (i < n)
        o = qp_line(p, n, &i, o);
    out->len = (size_t)(o - out->p);
    out->p[out->len] = '\0';
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
        if (bput(out, q, 4) == -1)
            return -1;
    }
    if (n - i == 1) {
        q[0] = b64std[s[i] >> 2];
        q[1] = b64std[(s[i] & 3) << 4];
        q[2] = q[3] = '=';
        return bput(out, q, 4);
    }
    if (n - i == 2) {
        q[0] = b64std[s[i] >> 2];
        q[1] = b64std[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        q[2] = b64std[(s[i + 1] & 15) << 2];
        q[3] = '=';
        return bput(out, q, 4);
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
        if (i > 0 && bput(out, "\r\n ", 3) == -1)
            return -1;
        if (bput(out, "=?UTF-8?B?", 10) == -1 ||
            b64_append(p + i, j - i, out) == -1 || bput(out, "?=", 2) == -1)
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
        if (col + (j - i) > HDR_FOLD && col > used &&
            (s[i] == ' ' || s[i] == '\t')) {
            if (bput(out, "\r\n", 2) == -1)
                return -1;
            col = 0;
        }
        if (bput(out, s + i, j - i) == -1)
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
    if (bputc(out, '"') == -1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] == '"' || s[i] == '\\') && bputc(out, '\\') == -1)
            return -1;
        if (bputc(out, s[i]) == -1)
            return -1;
    }
    return bputc(out, '"');
}

/* clean - 0 when the value may go into a header: a line break in any
 * convention - CR LF, a bare LF or a bare CR, which some readers and
 * relays also take for the end of a line - is refused here, whatever the
 * caller checked before: the builder has the last word on what goes into
 * a header (mime.h, wire rules). */
static int
clean(const char *what, const char *v, struct err *e)
{
    size_t at = strcspn(v, "\r\n");

    if (v[at] != '\0')
        return err_set(e, EX_DATAERR,
                       "%s contains a line break (%s at byte %zu): it could "
                       "add a header",
                       what,
                       v[at] == '\n'       ? "LF"
                       : v[at + 1] == '\n' ? "CR LF"
                                           : "CR",
                       at);
    return 0;
}

static int
address_header(const char *name, const struct mime_address *a, struct buf *out,
               struct err *e)
{
    if (clean(name, a->addr, e) == -1 ||
        (a->name && clean(name, a->name, e) == -1))
        return -1;
    if (strchr(a->addr, '<') || strchr(a->addr, '>') || strchr(a->addr, ',') ||
        strchr(a->addr, '@') == NULL)
        return err_set(e, EX_DATAERR, "%s: \"%s\" is not an address", name,
                       a->addr);
    if (bputs(out, name) == -1 || bput(out, ": ", 2) == -1)
        return -1;
    if (a->name && *a->name) {
        if (display_name(a->name, out) == -1 || bputc(out, ' ') == -1)
            return -1;
    }
    if (bputc(out, '<') == -1 || bputs(out, a->addr) == -1 ||
        bput(out, ">\r\n", 3) == -1)
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
        if (n == 0 || memchr(s, '@', n) == NULL || bput(b, s, n) == -1 ||
            bputc(b, '\0') == -1)
            return -1;
        out->addr = b->p;
        return 0;
    }
    gt = strchr(lt, '>');
    if (gt == NULL || gt == lt + 1 ||
        memchr(lt, '@', (size_t)(gt - lt)) == NULL)
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
    if (bput(b, s, n) == -1 || bputc(b, '\0') == -1)
        return -1;
    addr_off = b->len;
    if (bput(b, lt + 1, (size_t)(gt - lt - 1)) == -1 || bputc(b, '\0') == -1)
        return -1;
    out->name = n ? b->p + name_off : NULL;
    out->addr = b->p + addr_off;
    return 0;
}

void
mime_date(int64_t t, char *out, size_t n)
{
    /* a campaign dates many messages in the same second: gmtime_r (which
     * takes the time-zone lock) and the formatting once per second and
     * thread */
    static _Thread_local int64_t last_t = INT64_MIN;
    static _Thread_local char last[48];
    static _Thread_local size_t last_len;
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
                                       "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};
    size_t k;

    if (t != last_t) {
        time_t tt = (time_t)t;
        struct tm tm;
        int w;

        gmtime_r(&tt, &tm);
        w = snprintf(last, sizeof last, "%s, %d %s %04d %02d:%02d:%02d +0000",
                     days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        last_len = w < 0                     ? 0
                   : (size_t)w < sizeof last ? (size_t)w
                                             : sizeof last - 1;
        last_t = t;
    }
    if (n == 0)
        return;
    k = last_len < n - 1 ? last_len : n - 1;
    memcpy(out, last, k);
    out[k] = '\0';
}

static int
simple_header(const char *name, const char *v, struct buf *out, struct err *e)
{
    if (v == NULL)
        return 0;
    if (clean(name, v, e) == -1)
        return -1;
    if (strlen(v) + strlen(name) + 2 > 998)
        return err_set(e, EX_DATAERR, "%s is longer than 998 octets", name);
    if (bputs(out, name) == -1 || bput(out, ": ", 2) == -1 ||
        bputs(out, v) == -1 || bput(out, "\r\n", 2) == -1)
        return -1;
    return 0;
}

static int qp_body(struct mime_cache *c, int html, const char *s, size_t n,
                   struct buf *out);

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
        if (needs_encoding(m->reply_to, strlen(m->reply_to))) {
            err_set(e, EX_DATAERR, "Reply-To must be ASCII: \"%s\"",
                    m->reply_to);
            goto bad;
        }
        OUT(bputs(out, "Reply-To: "));
        OUT(bputs(out, m->reply_to));
        OUT(bput(out, "\r\n", 2));
    }
    if (clean("Subject", m->subject, e) == -1)
        goto bad;
    OUT(bputs(out, "Subject: "));
    OUT(mime_encode_header(m->subject, strlen(m->subject), 9, out));
    OUT(bput(out, "\r\n", 2));
    if (simple_header("Message-ID", m->message_id, out, e) == -1)
        goto bad;
    OUT(bputs(out, "MIME-Version: 1.0\r\n"));
    if (m->unsubscribe_url || m->unsubscribe_mailto) {
        if ((m->unsubscribe_url &&
             clean("List-Unsubscribe", m->unsubscribe_url, e) == -1) ||
            (m->unsubscribe_mailto &&
             clean("List-Unsubscribe", m->unsubscribe_mailto, e) == -1))
            goto bad;
        OUT(bputs(out, "List-Unsubscribe: "));
        if (m->unsubscribe_url) {
            OUT(bputc(out, '<'));
            OUT(bputs(out, m->unsubscribe_url));
            OUT(bputc(out, '>'));
        }
        if (m->unsubscribe_mailto) {
            if (m->unsubscribe_url)
                OUT(bput(out, ",\r\n <", 5));
            else
                OUT(bputc(out, '<'));
            OUT(bputs(out, m->unsubscribe_mailto));
            OUT(bputc(out, '>'));
        }
        OUT(bput(out, "\r\n", 2));
        /* RFC 8058 3.1: one-click needs an https URI (a plain http one,
         * for a test server, gets the header without the promise) */
        if (m->unsubscribe_url &&
            strncasecmp(m->unsubscribe_url, "https://", 8) == 0)
            OUT(bputs(out, "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
                           "\r\n"));
    }
    if (simple_header("List-Id", m->list_id, out, e) == -1 ||
        simple_header("Feedback-ID", m->feedback_id, out, e) == -1)
        goto bad;

    if (m->html == NULL) {
        OUT(bputs(out, "Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n"
                       "\r\n"));
        if (m->header_len != NULL)
            *m->header_len = out->len - start;
        OUT(qp_body(m->cache, 0, m->text, m->text_len, out));
        OUT(bput(out, "\r\n", 2));
        return 0;
    }
    if (m->header_len != NULL)
        *m->header_len = out->len + sizeof MULTIPART_HEAD - 1 - start;
    OUT(bputs(out,
              MULTIPART_HEAD "This is a multi-part message in MIME format.\r\n"
                             "\r\n"
                             "--" QP_BOUNDARY "\r\n"
                             "Content-Type: text/plain; charset=utf-8\r\n"
                             "Content-Transfer-Encoding: quoted-printable\r\n"
                             "\r\n"));
    OUT(qp_body(m->cache, 0, m->text, m->text_len, out));
    OUT(bputs(out, "\r\n--" QP_BOUNDARY "\r\n"
                   "Content-Type: text/html; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: quoted-printable\r\n"
                   "\r\n"));
    OUT(qp_body(m->cache, 1, m->html, m->html_len, out));
    OUT(bputs(out, "\r\n--" QP_BOUNDARY "--\r\n"));
    return 0;
#undef OUT
    /* on error out is as it was: its length and its NUL (buf.h) */
full:
    out->len = start;
    if (out->p != NULL)
        out->p[start] = '\0';
    return err_set(e, EX_DATAERR, "message larger than %zu bytes", out->max);
bad:
    out->len = start;
    if (out->p != NULL)
        out->p[start] = '\0';
    return -1;
}

/* ---- HTML to text ---- */

struct entity {
    const char *name;
    const char *utf8;
};

static const struct entity entities[] = {
    {"amp", "&"},    {"lt", "<"},     {"gt", ">"},     {"quot", "\""},
    {"apos", "'"},   {"nbsp", " "},   {"zwnj", ""},    {"zwj", ""},
    {"shy", ""},     {"copy", "©"},   {"reg", "®"},    {"trade", "™"},
    {"euro", "€"},   {"pound", "£"},  {"yen", "¥"},    {"mdash", "—"},
    {"ndash", "–"},  {"hellip", "…"}, {"lsquo", "‘"},  {"rsquo", "’"},
    {"ldquo", "“"},  {"rdquo", "”"},  {"laquo", "«"},  {"raquo", "»"},
    {"middot", "·"}, {"bull", "•"},   {"deg", "°"},    {"agrave", "à"},
    {"egrave", "è"}, {"eacute", "é"}, {"igrave", "ì"}, {"ograve", "ò"},
    {"ugrave", "ù"}, {"Agrave", "À"}, {"Egrave", "È"}, {"Eacute", "É"},
    {"ccedil", "ç"}, {"ntilde", "ñ"}, {"uuml", "ü"},   {"ouml", "ö"},
    {"auml", "ä"},   {"szlig", "ß"},
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
    int skip;          /* 1 + the index in skipped[] of the element whose
                        * content is skipped, or 0 */
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
        if (bput(h->out, "\n", 1) == -1)
            return -1;
        h->newlines++;
    }
    return 0;
}

/* h2t_stop[c]: 1 for the bytes that end a run of text copied as it is
 * (outside <pre>): white space and '&'. */
static const unsigned char h2t_stop[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, ['&'] = 1,
};

/* h2t_text - text between tags: white space runs collapse to one space
 * before the next word (none at a line's start), entities decode, runs of
 * other bytes are copied at once. */
static int
h2t_text(struct h2t *h, const char *s, size_t n)
{
    struct buf *out = h->out;
    size_t i = 0;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (!h->pre && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            h->pending_space = 1;
            i++;
            continue;
        }
        if (h->pending_space && h->newlines == 0 && out->len > 0)
            if (bput(out, " ", 1) == -1)
                return -1;
        h->pending_space = 0;
        if (c == '&') {
            size_t k = entity(s + i + 1, n - i - 1, out);
            if (k > 0) {
                i += k + 1;
                h->newlines = 0;
                continue;
            }
        }
        if (h->pre || c == '&') {
            if (bput(out, (const char *)&s[i], 1) == -1)
                return -1;
            h->newlines = c == '\n' ? h->newlines + 1 : 0;
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && !h2t_stop[(unsigned char)s[j]])
            j++;
        if (bput(out, s + i, j - i) == -1)
            return -1;
        h->newlines = 0;
        i = j;
    }
    return 0;
}

/* attr - the value of attribute name (lower case) in the tag text t (n
 * bytes). */
static size_t
attr(const char *t, size_t n, const char *name, char *val, size_t vsz)
{
    size_t nl = strlen(name);

    for (size_t i = 0; i + nl < n; i++) {
        if ((t[i] | 0x20) != name[0] || strncasecmp(t + i, name, nl) != 0 ||
            t[i + nl] != '=' ||
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
        size_t len;
        char c;
    } ents[] = {{"&amp;", 5, '&'}, {"&quot;", 6, '"'}, {"&#39;", 5, '\''},
                {"&lt;", 4, '<'},  {"&gt;", 4, '>'},   {"&#x27;", 6, '\''}};
    const size_t n = sizeof ents / sizeof ents[0];
    char *o;

    if ((s = strchr(s, '&')) == NULL)
        return;
    o = s;
    while (*s) {
        if (*s == '&') {
            size_t k;
            for (k = 0; k < n; k++)
                if (strncmp(s, ents[k].ent, ents[k].len) == 0)
                    break;
            if (k < n) {
                *o++ = ents[k].c;
                s += ents[k].len;
                continue;
            }
        }
        *o++ = *s++;
    }
    *o = '\0';
}

enum tag {
    TAG_OTHER,
    TAG_SKIP, /* style, script, head, title: their content is skipped */
    TAG_BR,
    TAG_BLOCK2, /* a paragraph: a blank line around it */
    TAG_BLOCK1, /* a line of its own */
    TAG_LI,
    TAG_HR,
    TAG_CELL,
    TAG_PRE,
    TAG_A,
};

/* tag_kind - what a tag name (lower case, k bytes) does to the text. */
static enum tag
tag_kind(const char *name, size_t k)
{
#define IS(s) (k == sizeof s - 1 && memcmp(name, s, k) == 0)
    switch (k) {
    case 1:
        return name[0] == 'p' ? TAG_BLOCK2 : name[0] == 'a' ? TAG_A : TAG_OTHER;
    case 2:
        if (name[0] == 'h' && name[1] >= '1' && name[1] <= '6')
            return TAG_BLOCK2;
        if (IS("br"))
            return TAG_BR;
        if (IS("ul") || IS("ol"))
            return TAG_BLOCK2;
        if (IS("tr"))
            return TAG_BLOCK1;
        if (IS("li"))
            return TAG_LI;
        if (IS("hr"))
            return TAG_HR;
        if (IS("td") || IS("th"))
            return TAG_CELL;
        return TAG_OTHER;
    case 3:
        return IS("div") ? TAG_BLOCK1 : IS("pre") ? TAG_PRE : TAG_OTHER;
    default:
        if (IS("style") || IS("script") || IS("head") || IS("title"))
            return TAG_SKIP;
        if (IS("table") || IS("blockquote"))
            return TAG_BLOCK2;
        if (IS("section") || IS("header") || IS("footer"))
            return TAG_BLOCK1;
        return TAG_OTHER;
    }
#undef IS
}

/* The elements whose content is skipped, as h2t.skip (index + 1). */
static const char *const skipped[] = {"style", "script", "head", "title"};

/* h2t_tag - the tag (or comment) at html[i], which is '<'; returns the
 * position after it. */
static int
h2t_tag(struct h2t *h, const char *html, size_t n, size_t *ip)
{
    struct buf *out = h->out;
    size_t i = *ip;

    /* comments */
    if (n - i >= 4 && memcmp(html + i, "<!--", 4) == 0) {
        const char *end = memmem(html + i + 4, n - i - 4, "-->", 3);
        *ip = end ? (size_t)(end - html) + 3 : n;
        return 0;
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
    *ip = gt ? tag_end + 1 : n;
    if (h->skip) {
        if (closing && strcmp(name, skipped[h->skip - 1]) == 0)
            h->skip = 0;
        return 0;
    }
    switch (tag_kind(name, k)) {
    case TAG_SKIP:
        if (closing)
            break;
        for (size_t q = 0; q < sizeof skipped / sizeof skipped[0]; q++)
            if (strcmp(name, skipped[q]) == 0)
                h->skip = (int)q + 1;
        break;
    case TAG_BR:
        return h2t_break(h, h->newlines + 1);
    case TAG_BLOCK2:
        return h2t_break(h, 2);
    case TAG_BLOCK1:
        return h2t_break(h, 1);
    case TAG_LI:
        if (h2t_break(h, 1) == -1)
            return -1;
        if (!closing) {
            if (bput(out, "- ", 2) == -1)
                return -1;
            h->newlines = 0;
        }
        break;
    case TAG_HR:
        if (h2t_break(h, 1) == -1 || bput(out, "----", 4) == -1)
            return -1;
        h->newlines = 0;
        return h2t_break(h, 1);
    case TAG_CELL:
        h->pending_space = 1;
        break;
    case TAG_PRE:
        h->pre = !closing;
        break;
    case TAG_A:
        if (!closing) {
            h->in_link = attr(t, tn, "href", h->href, sizeof h->href) > 0;
            decode_inplace(h->href);
            h->link_start = out->len;
        } else if (h->in_link) {
            size_t tl = out->len - h->link_start;
            const char *shown = h->href;
            h->in_link = 0;
            if (strncmp(shown, "mailto:", 7) == 0)
                shown += 7;
            size_t sl = strlen(shown);
            if (h->href[0] == '#' ||
                (tl == sl && memcmp(out->p + h->link_start, shown, tl) == 0))
                break;
            if (tl == 0) {
                if (bput(out, shown, sl) == -1)
                    return -1;
            } else if (bput(out, " (", 2) == -1 || bput(out, shown, sl) == -1 ||
                       bput(out, ")", 1) == -1) {
                return -1;
            }
            h->newlines = 0;
        }
        break;
    case TAG_OTHER:
        break;
    }
    return 0;
}

/* h2t_end - no trailing blank lines or spaces, one final line break. */
static int
h2t_end(struct buf *out)
{
    while (out->len > 0 &&
           (out->p[out->len - 1] == '\n' || out->p[out->len - 1] == ' '))
        out->len--;
    return buf_putc(out, '\n');
}

int
mime_html_to_text(const char *html, size_t n, struct buf *out)
{
    struct h2t h;
    size_t i = 0;

    memset(&h, 0, sizeof h);
    h.out = out;
    h.newlines = 2;
    /* the text is shorter than the HTML but for a few expansions */
    if (buf_reserve(out, n + n / 2 + 64) == -1) {
        /* never mind: the appends below find the limit */
    }
    while (i < n) {
        const char *lt = memchr(html + i, '<', n - i);
        size_t text_end = lt ? (size_t)(lt - html) : n;

        if (!h.skip && h2t_text(&h, html + i, text_end - i) == -1)
            return -1;
        if (lt == NULL)
            break;
        i = text_end;
        if (h2t_tag(&h, html, n, &i) == -1)
            return -1;
    }
    return h2t_end(out);
}

/*---- the cache: what the last message's lines became ----*/

/* mismatch_scalar - the length of the common prefix of a and b (n bytes
 * each), 16 bytes at a time. */
static size_t
mismatch_scalar(const char *a, const char *b, size_t n)
{
    size_t i = 0;

#ifdef QP_SSE2
    while (i + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
        __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        unsigned ne =
            ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) & 0xffff;
        if (ne)
            return i + (size_t)__builtin_ctz(ne);
        i += 16;
    }
#else
    while (i + 16 <= n) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a + i, 8);
        memcpy(&a1, a + i + 8, 8);
        memcpy(&b0, b + i, 8);
        memcpy(&b1, b + i + 8, 8);
        if ((a0 ^ b0) | (a1 ^ b1))
            break;
        i += 16;
    }
#endif
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

#ifdef MIME_AVX2
/* mismatch_avx2 - mismatch_scalar 64 bytes at a time; the last (under
 * 32) bytes by an overlapping load of the last 32. */
__attribute__((target("avx2"))) static size_t
mismatch_avx2(const char *a, const char *b, size_t n)
{
    size_t i = 0;
    uint32_t ne;

    if (n < 32)
        return mismatch_scalar(a, b, n);
    for (; i + 64 <= n; i += 64) {
        __m256i e0 = _mm256_cmpeq_epi8(
            _mm256_loadu_si256((const __m256i *)(const void *)(a + i)),
            _mm256_loadu_si256((const __m256i *)(const void *)(b + i)));
        __m256i e1 = _mm256_cmpeq_epi8(
            _mm256_loadu_si256((const __m256i *)(const void *)(a + i + 32)),
            _mm256_loadu_si256((const __m256i *)(const void *)(b + i + 32)));
        if ((uint32_t)_mm256_movemask_epi8(_mm256_and_si256(e0, e1)) !=
            0xffffffffu) {
            ne = ~(uint32_t)_mm256_movemask_epi8(e0);
            if (ne)
                return i + (size_t)__builtin_ctz(ne);
            ne = ~(uint32_t)_mm256_movemask_epi8(e1);
            return i + 32 + (size_t)__builtin_ctz(ne);
        }
    }
    if (i + 32 <= n) {
        ne = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
            _mm256_loadu_si256((const __m256i *)(const void *)(a + i)),
            _mm256_loadu_si256((const __m256i *)(const void *)(b + i))));
        if (ne)
            return i + (size_t)__builtin_ctz(ne);
        i += 32;
    }
    if (i == n)
        return n;
    /* bytes before i are equal: their bits are clear */
    ne = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
        _mm256_loadu_si256((const __m256i *)(const void *)(a + n - 32)),
        _mm256_loadu_si256((const __m256i *)(const void *)(b + n - 32))));
    return ne ? n - 32 + (size_t)__builtin_ctz(ne) : n;
}
#endif

/* mismatch - the length of the common prefix of a and b (n bytes each);
 * avx2: the processor has AVX2. */
static inline size_t
mismatch(int avx2, const char *a, const char *b, size_t n)
{
#ifdef MIME_AVX2
    if (avx2)
        return mismatch_avx2(a, b, n);
#else
    (void)avx2;
#endif
    return mismatch_scalar(a, b, n);
}

/*
 * Quoted-printable, line by line.  The encoding of a line (its bytes up
 * to and with its line break) depends on nothing else: the column starts
 * at 0, every look-ahead (trailing white space, "From ", the soft break)
 * stops at the break.  So the lines that this message shares with the
 * last, at the same place (line k here and there), are copied from the
 * last output.  A line ending in a lone CR is reused only when the byte
 * after it matches too (CR LF would be one break, not two).
 */
struct qp_memo {
    int avx2;           /* mismatch with AVX2 */
    struct buf in, out; /* the last input and its encoding */
    size_t *lin, *lout; /* the start of each line in both */
    size_t nlines;
    size_t *nin, *nout; /* the lines of this call, being built */
    size_t cap;
};

static void
qp_memo_free(struct qp_memo *m)
{
    buf_free(&m->in);
    buf_free(&m->out);
    free(m->lin);
    free(m->lout);
    free(m->nin);
    free(m->nout);
}

/* qp_memo_grow - room for at least need lines in the line tables. */
static void
qp_memo_grow(struct qp_memo *m, size_t need)
{
    size_t cap = m->cap ? m->cap : 256;

    while (cap < need)
        cap *= 2;
    m->cap = cap;
    m->nin = xreallocarray(m->nin, cap, sizeof *m->nin);
    m->nout = xreallocarray(m->nout, cap, sizeof *m->nout);
    m->lin = xreallocarray(m->lin, cap, sizeof *m->lin);
    m->lout = xreallocarray(m->lout, cap, sizeof *m->lout);
}

static inline void
qp_memo_line(struct qp_memo *m, size_t nl, size_t in, size_t out)
{
    if (nl >= m->cap)
        qp_memo_grow(m, nl + 1);
    m->nin[nl] = in;
    m->nout[nl] = out;
}

static int
qp_encode_memo(struct qp_memo *m, const char *s, size_t n, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t base = out->len, i = 0, nl = 0;
    char *o, *o0;

    if (buf_reserve(out, n * 3 + n / 24 * 3 + 8) == -1)
        return -1;
    o = o0 = out->p + base;
    while (i < n) {
        size_t k = nl;

        qp_memo_line(m, nl++, i, (size_t)(o - o0));
        if (k < m->nlines) {
            size_t oi = m->lin[k], avail = m->in.len - oi, j = k;
            size_t len = mismatch(m->avx2, s + i, m->in.p + oi,
                                  n - i < avail ? n - i : avail);
            while (j < m->nlines) {
                size_t e = (j + 1 < m->nlines ? m->lin[j + 1] : m->in.len) - oi;
                if (e < len || (e == len && len == n - i && len == avail))
                    j++;
                else
                    break;
            }
            if (j > k) {
                size_t os = m->lout[k];
                size_t oe = j < m->nlines ? m->lout[j] : m->out.len;
                size_t at = (size_t)(o - o0);
                if (nl + (j - k) > m->cap)
                    qp_memo_grow(m, nl + (j - k));
                for (size_t t = k + 1; t < j; t++, nl++) {
                    m->nin[nl] = i + m->lin[t] - oi;
                    m->nout[nl] = at + m->lout[t] - os;
                }
                memcpy(o, m->out.p + os, oe - os);
                o += oe - os;
                i += (j < m->nlines ? m->lin[j] : m->in.len) - oi;
                continue;
            }
        }
        o = qp_line(p, n, &i, o);
    }
    out->len = (size_t)(o - out->p);
    out->p[out->len] = '\0';
    /* this message is the next one's last */
    buf_reset(&m->in);
    buf_reset(&m->out);
    if (buf_append(&m->in, s, n) == -1 ||
        buf_append(&m->out, o0, (size_t)(o - o0)) == -1) {
        m->nlines = 0;
        return 0;
    }
    {
        size_t *t = m->lin;
        m->lin = m->nin;
        m->nin = t;
        t = m->lout;
        m->lout = m->nout;
        m->nout = t;
    }
    m->nlines = nl;
    return 0;
}

/*
 * HTML to text, line by line.  The converter is a machine whose state at
 * the start of a line of text (outside any tag) is small: pending space,
 * line breaks, <pre>, the element being skipped, whether a link is open,
 * and whether the output is empty or ends in a space (which a break would
 * trim).  At such a line start with no open link and an output that does
 * not end in a space, what the rest of the input makes of the output
 * depends on the state and the rest of the input alone: that is a
 * checkpoint.  When this message reaches, at line L, the state that the
 * last message had at its checkpoint of line L, and the input from there
 * is the same as the last one's up to a later checkpoint, the output
 * between the two checkpoints is the last one's: copied, not recomputed.
 * (An entity never spans a line break, so splitting text at line breaks
 * changes nothing.)
 */
struct h2t_ck {
    size_t in, out;
    uint32_t line;
    int pending_space, newlines, pre, skip, empty;
};

struct h2t_memo {
    int avx2;           /* mismatch with AVX2 */
    struct buf in, out; /* the last input, and its output before the
                         * final trimming */
    struct h2t_ck *ck, *nck;
    size_t nck_last, ncap, nnew;
    uint32_t *by_line; /* line -> checkpoint index + 1, or 0 */
    size_t nlines, lcap;
};

static void
h2t_memo_free(struct h2t_memo *m)
{
    buf_free(&m->in);
    buf_free(&m->out);
    free(m->ck);
    free(m->nck);
    free(m->by_line);
}

/* h2t_memo_grow - room for at least need new checkpoints. */
static void
h2t_memo_grow(struct h2t_memo *m, size_t need)
{
    size_t cap = m->ncap ? m->ncap : 256;

    while (cap < need)
        cap *= 2;
    m->ncap = cap;
    m->nck = xreallocarray(m->nck, cap, sizeof *m->nck);
    m->ck = xreallocarray(m->ck, cap, sizeof *m->ck);
}

static inline void
h2t_memo_push(struct h2t_memo *m, const struct h2t_ck *c)
{
    if (m->nnew == m->ncap)
        h2t_memo_grow(m, m->nnew + 1);
    m->nck[m->nnew++] = *c;
}

static int
h2t_same(const struct h2t_ck *a, const struct h2t_ck *b)
{
    return a->pending_space == b->pending_space && a->newlines == b->newlines &&
           a->pre == b->pre && a->skip == b->skip && a->empty == b->empty;
}

/* h2t_checkpoint - at the line start *ip (line *linep): record it, and
 * replay the last message from there when it can.  1 when it replayed (ip,
 * linep and the machine moved on), 0 when not, -1 past out's limit. */
static int
h2t_checkpoint(struct h2t_memo *m, struct h2t *h, const char *html, size_t n,
               size_t *ip, uint32_t *linep)
{
    struct buf *out = h->out;
    struct h2t_ck c, *o, *e;
    size_t i = *ip, len, at;
    uint32_t ix;

    if (h->in_link || (out->len > 0 && out->p[out->len - 1] == ' '))
        return 0;
    c.in = i;
    c.out = out->len;
    c.line = *linep;
    c.pending_space = h->pending_space;
    c.newlines = h->newlines;
    c.pre = h->pre;
    c.skip = h->skip;
    c.empty = out->len == 0;
    h2t_memo_push(m, &c);
    if (c.line >= m->nlines || (ix = m->by_line[c.line]) == 0)
        return 0;
    o = &m->ck[ix - 1];
    if (!h2t_same(o, &c))
        return 0;
    len = mismatch(m->avx2, html + i, m->in.p + o->in,
                   n - i < m->in.len - o->in ? n - i : m->in.len - o->in);
    /* the last checkpoint the common input reaches */
    for (e = o; e + 1 < m->ck + m->nck_last && e[1].in - o->in <= len; e++)
        ;
    if (e == o)
        return 0;
    at = out->len;
    if (e->out > o->out && bput(out, m->out.p + o->out, e->out - o->out) == -1)
        return -1;
    if (m->nnew + (size_t)(e - o) > m->ncap) {
        size_t oix = (size_t)(o - m->ck), eix = (size_t)(e - m->ck);
        h2t_memo_grow(m, m->nnew + (size_t)(e - o));
        o = m->ck + oix; /* ck moved too */
        e = m->ck + eix;
    }
    for (const struct h2t_ck *t = o + 1; t <= e; t++) {
        struct h2t_ck *d = &m->nck[m->nnew++];
        *d = *t;
        d->in = i + (t->in - o->in);
        d->out = at + (t->out - o->out);
    }
    h->pending_space = e->pending_space;
    h->newlines = e->newlines;
    h->pre = e->pre;
    h->skip = e->skip;
    *ip = i + (e->in - o->in);
    *linep = e->line;
    return 1;
}

static int
h2t_cached(struct h2t_memo *m, const char *html, size_t n, struct buf *out)
{
    struct h2t h;
    size_t i = 0;
    uint32_t line = 0;

    memset(&h, 0, sizeof h);
    h.out = out;
    h.newlines = 2;
    m->nnew = 0;
    if (buf_reserve(out, n + n / 2 + 64) == -1) {
        /* never mind: the appends below find the limit */
    }
    while (i < n) {
        const char *lt = memchr(html + i, '<', n - i);
        size_t text_end = lt ? (size_t)(lt - html) : n;
        int moved = 0;

        /* the text, a line at a time, with a checkpoint at each start */
        while (i < text_end) {
            const char *nlp = memchr(html + i, '\n', text_end - i);
            size_t e = nlp ? (size_t)(nlp - html) + 1 : text_end;
            if (!h.skip && h2t_text(&h, html + i, e - i) == -1)
                return -1;
            i = e;
            if (nlp == NULL)
                break;
            line++;
            int r = h2t_checkpoint(m, &h, html, n, &i, &line);
            if (r == -1)
                return -1;
            if (r == 1) {
                moved = 1;
                break;
            }
        }
        if (moved)
            continue;
        if (lt == NULL)
            break;
        if (h2t_tag(&h, html, n, &i) == -1)
            return -1;
    }
    /* this message is the next one's last: input, untrimmed output, and
     * checkpoints by line */
    buf_reset(&m->in);
    buf_reset(&m->out);
    m->nlines = 0;
    if (buf_append(&m->in, html, n) == 0 &&
        buf_append(&m->out, out->p, out->len) == 0) {
        struct h2t_ck *t = m->ck;
        m->ck = m->nck;
        m->nck = t;
        m->nck_last = m->nnew;
        m->nlines = m->nnew ? m->ck[m->nnew - 1].line + 1 : 0;
        if (m->nlines > m->lcap) {
            m->lcap = m->nlines * 2;
            m->by_line = xreallocarray(m->by_line, m->lcap, sizeof *m->by_line);
        }
        if (m->nlines > 0)
            memset(m->by_line, 0, m->nlines * sizeof *m->by_line);
        for (size_t k = 0; k < m->nnew; k++)
            m->by_line[m->ck[k].line] = (uint32_t)k + 1;
    }
    return h2t_end(out);
}

struct mime_cache {
    struct qp_memo text, html;
    struct h2t_memo h2t;
};

struct mime_cache *
mime_cache_new(void)
{
    struct mime_cache *c = xcalloc(1, sizeof *c);

    buf_init(&c->text.in, 0);
    buf_init(&c->text.out, 0);
    buf_init(&c->html.in, 0);
    buf_init(&c->html.out, 0);
    buf_init(&c->h2t.in, 0);
    buf_init(&c->h2t.out, 0);
#ifdef MIME_AVX2
    c->text.avx2 = c->html.avx2 = c->h2t.avx2 =
        __builtin_cpu_supports("avx2") != 0;
#endif
    return c;
}

void
mime_cache_free(struct mime_cache *c)
{
    if (c == NULL)
        return;
    qp_memo_free(&c->text);
    qp_memo_free(&c->html);
    h2t_memo_free(&c->h2t);
    free(c);
}

int
mime_html_to_text_cached(struct mime_cache *c, const char *html, size_t n,
                         struct buf *out)
{
    /* checkpoints count output from an empty buffer */
    if (c == NULL || out->len != 0)
        return mime_html_to_text(html, n, out);
    return h2t_cached(&c->h2t, html, n, out);
}

/* qp_body - a part's body, through the cache when there is one. */
static int
qp_body(struct mime_cache *c, int html, const char *s, size_t n,
        struct buf *out)
{
    if (c == NULL)
        return mime_qp_encode(s, n, out);
    return qp_encode_memo(html ? &c->html : &c->text, s, n, out);
}
