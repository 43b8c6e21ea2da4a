/* SPDX-License-Identifier: ISC */
/*
 * test_mime.c - the message builder (engine/mime.c): quoted-printable,
 * RFC 2047 headers, header injection, wire rules, HTML to text.
 */
#include <stdint.h>
#include <stdlib.h>

#include "th.h"

#include "mime.h"

static const struct {
    const char *name, *in, *want;
} qp[] = {
    {"plain", "hello", "hello"},
    {"equals", "a=b", "a=3Db"},
    {"UTF-8", "città", "citt=C3=A0"},
    {"LF to CRLF", "a\nb", "a\r\nb"},
    {"lone CR to CRLF", "a\rb", "a\r\nb"},
    {"CRLF kept", "a\r\nb", "a\r\nb"},
    {"trailing space encoded", "a \nb", "a=20\r\nb"},
    {"trailing tab at end", "a\t", "a=09"},
    {"leading dot encoded", ".\n.x", "=2E\r\n=2Ex"},
    {"smuggling sequence", "x\r\n.\r\ny", "x\r\n=2E\r\ny"},
    {"From at line start", "From me\nx From y", "=46rom me\r\nx From y"},
    {"NUL and controls", "a\x01\x7f", "a=01=7F"},
};

static int
max_line(const char *s, size_t n)
{
    int max = 0, cur = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            if (cur > max)
                max = cur;
            cur = 0;
        } else if (s[i] != '\r') {
            cur++;
        }
    }
    return cur > max ? cur : max;
}

static int
bare_cr_or_lf(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
            return 1;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            return 1;
    }
    return 0;
}

static const struct {
    const char *name, *html, *want;
} h2t[] = {
    {"paragraphs", "<p>One</p><p>Two</p>", "One\n\nTwo\n"},
    {"link kept as URL", "<a href=\"https://x.io/a?b=1&amp;c=2\">Shop</a>",
     "Shop (https://x.io/a?b=1&c=2)\n"},
    {"link text is the URL", "<a href=\"https://x.io\">https://x.io</a>",
     "https://x.io\n"},
    {"entities", "caf&eacute; &amp; t&#233; &#x20AC;5", "café & té €5\n"},
    {"list", "<ul><li>a</li><li>b</li></ul>", "- a\n- b\n"},
    {"style and head skipped",
     "<head><title>T</title><style>p{x}</style></head><body>Hi</body>", "Hi\n"},
    {"br and whitespace", "a  \n b<br>c", "a b\nc\n"},
    {"comments dropped", "a<!-- <p>no</p> -->b", "ab\n"},
};

/* ref_qp - quoted-printable a byte at a time, the rules of RFC 2045 6.7
 * as mime.c applies them (soft break before a character that would pass
 * column 75, '.' and "From " at a line's start, trailing white space,
 * any line break to CRLF): the reference for the encoder's fast paths. */
static void
ref_qp(const unsigned char *p, size_t n, struct buf *out)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t col = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < n && p[i + 1] == '\n')
                i++;
            (void)buf_append(out, "\r\n", 2);
            col = 0;
            continue;
        }
        int from = c == 'F' && n - i >= 5 && memcmp(p + i, "From ", 5) == 0;
        int lit = (c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t';
        if ((c == ' ' || c == '\t') &&
            (i + 1 == n || p[i + 1] == '\r' || p[i + 1] == '\n'))
            lit = 0;
        if (col == 0 && (c == '.' || from))
            lit = 0;
        if (col + (lit ? 1 : 3) > 75) {
            (void)buf_append(out, "=\r\n", 3);
            col = 0;
            if (c == '.' || from)
                lit = 0;
        }
        if (lit) {
            (void)buf_putc(out, c);
        } else {
            char x[3] = {'=', hexd[c >> 4], hexd[c & 15]};
            (void)buf_append(out, x, 3);
        }
        col += lit ? 1 : 3;
    }
}

/* same - a and b hold the same bytes. */
static int
same(const struct buf *a, const struct buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* rnd - a small deterministic generator (xorshift64). */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* rnd_text - n bytes: any byte (mode 0), or mostly text with the bytes
 * the encoder treats specially (mode 1), or long literal runs (mode 2). */
static void
rnd_text(unsigned char *p, size_t n, int mode)
{
    static const char special[] = " \t\r\n.F=\x80\xc3\xa0\x7f\x01";
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rnd();
        if (mode == 0)
            p[i] = (unsigned char)r;
        else if (mode == 1 && r % 4 == 0)
            p[i] = (unsigned char)special[(r >> 8) % (sizeof special - 1)];
        else if (mode == 2 && r % 61 == 0)
            p[i] = (unsigned char)special[(r >> 8) % (sizeof special - 1)];
        else if (r % 97 == 1 && i + 5 <= n)
            p[i] = 'F', p[i + 1] = 'r', p[i + 2] = 'o', p[i + 3] = 'm',
            p[i + 4] = ' ', i += 4;
        else
            p[i] = (unsigned char)('a' + (r >> 8) % 26);
    }
}

/* mutate - a message like the last: a few spans replaced by random text
 * of another length, as merge fields and tokens do; into q (qcap). */
static size_t
mutate(const unsigned char *p, size_t n, unsigned char *q, size_t qcap)
{
    size_t k = 0, i = 0;

    while (i < n && k < qcap) {
        uint64_t r = rnd();
        if (r % 200 == 0) {
            size_t skip = (r >> 8) % 12, add = (r >> 16) % 12;
            unsigned char t[12];
            rnd_text(t, add, (int)((r >> 24) % 3));
            for (size_t a = 0; a < add && k < qcap; a++)
                q[k++] = t[a];
            i += skip;
            continue;
        }
        q[k++] = p[i++];
    }
    return k;
}

/* guard_message - a valid message for header_guard to spoil. */
static void
guard_message(struct mime_message *m)
{
    memset(m, 0, sizeof *m);
    m->from.name = "Acme News";
    m->from.addr = "news@acme.example";
    m->to.name = "Ada";
    m->to.addr = "ada@example.com";
    m->reply_to = "help@acme.example";
    m->subject = "Hello";
    m->message_id = "<1@acme.example>";
    m->date = 1795823528;
    m->unsubscribe_url = "https://t.acme.example/u/TOKEN";
    m->unsubscribe_mailto = "mailto:u+TOKEN@b.acme.example";
    m->list_id = "<news.acme.example>";
    m->feedback_id = "c1:news:acme";
    m->text = "hi\n";
    m->text_len = 3;
    m->html = "<p>hi</p>\n";
    m->html_len = strlen(m->html);
}

/*
 * header_guard - mime_build itself refuses a header value holding a line
 * break in any convention (a bare CR too: a reader or a relay may take
 * it for the end of the line), whoever calls it: compose.c checks its
 * rendered Subject and From first, but mime_build is the last word on
 * what goes into a header.  Every value, every kind of break: -1,
 * EX_DATAERR naming the header and "line break", and out exactly as it
 * was before the call.
 */
static void
header_guard(void)
{
    static const char *const breaks[] = {"\r", "\n", "\r\n"};
    static const char *const brk_name[] = {"bare CR", "bare LF", "CRLF"};
    static const struct {
        const char *what, *header;
    } fields[] = {
        {"From address", "From"},
        {"From display name", "From"},
        {"To address", "To"},
        {"To display name", "To"},
        {"Reply-To", "Reply-To"},
        {"Subject", "Subject"},
        {"Message-ID", "Message-ID"},
        {"unsubscribe URL", "List-Unsubscribe"},
        {"unsubscribe mailto", "List-Unsubscribe"},
        {"List-Id", "List-Id"},
        {"Feedback-ID", "Feedback-ID"},
    };
    struct buf b;
    struct err e;

    buf_init(&b, 0);
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        for (size_t k = 0; k < 3; k++) {
            struct mime_message m;
            char addr[64], text[64];
            int rc;

            guard_message(&m);
            snprintf(addr, sizeof addr, "x@acme.example%sBcc: v@evil.example",
                     breaks[k]);
            snprintf(text, sizeof text, "x%sBcc: v@evil.example", breaks[k]);
            switch (f) {
            case 0:
                m.from.addr = addr;
                break;
            case 1:
                m.from.name = text;
                break;
            case 2:
                m.to.addr = addr;
                break;
            case 3:
                m.to.name = text;
                break;
            case 4:
                m.reply_to = addr;
                break;
            case 5:
                m.subject = text;
                break;
            case 6:
                m.message_id = text;
                break;
            case 7:
                m.unsubscribe_url = text;
                break;
            case 8:
                m.unsubscribe_mailto = text;
                break;
            case 9:
                m.list_id = text;
                break;
            default:
                m.feedback_id = text;
                break;
            }
            buf_reset(&b);
            (void)buf_puts(&b, "before");
            err_clear(&e);
            rc = mime_build(&m, &b, &e);
            TH_CHECK(rc == -1 && e.kind == EX_DATAERR &&
                         strncmp(e.msg, fields[f].header,
                                 strlen(fields[f].header)) == 0 &&
                         strstr(e.msg, "line break") != NULL && b.len == 6 &&
                         strcmp(b.p, "before") == 0,
                     "a %s in the %s is refused by mime_build (%s), out "
                     "unchanged",
                     brk_name[k], fields[f].what, rc == -1 ? e.msg : "built");
        }
    }
    /* a value refused for another reason leaves out as it was too */
    {
        struct mime_message m;

        guard_message(&m);
        m.reply_to = "Caff\xc3\xa8 <help@acme.example>";
        buf_reset(&b);
        (void)buf_puts(&b, "before");
        err_clear(&e);
        TH_CHECK(mime_build(&m, &b, &e) == -1 && e.kind == EX_DATAERR &&
                     strstr(e.msg, "Reply-To must be ASCII") != NULL &&
                     b.len == 6 && strcmp(b.p, "before") == 0,
                 "a non-ASCII Reply-To is refused, out unchanged (%s)", e.msg);
    }
    buf_free(&b);
}

int
main(void)
{
    struct buf b;
    struct err e;

    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof qp / sizeof qp[0]; i++) {
        buf_reset(&b);
        mime_qp_encode(qp[i].in, strlen(qp[i].in), &b);
        TH_STREQ(b.p, qp[i].want, "qp %s", qp[i].name);
    }
    /* the fast paths (16-byte runs) equal the byte-at-a-time rules: every
     * length 0..200 of random bytes, text with the special bytes, long
     * runs, and a line of every byte value */
    {
        struct buf want;
        unsigned char in[2100];
        int bad = 0;
        buf_init(&want, 0);
        for (int mode = 0; mode < 3; mode++)
            for (size_t n = 0; n <= 200; n++)
                for (int rep = 0; rep < 8; rep++) {
                    rnd_text(in, n, mode);
                    buf_reset(&b);
                    buf_reset(&want);
                    mime_qp_encode((const char *)in, n, &b);
                    ref_qp(in, n, &want);
                    bad += !same(&b, &want);
                }
        TH_CHECK(bad == 0, "qp fast paths equal the reference (%d differ)",
                 bad);
        bad = 0;
        for (int c = 0; c < 256; c++)
            for (size_t at = 0; at < 90; at++) {
                /* byte c at every column of a line of 'x' (and of ' ') */
                size_t n = 100 + (size_t)c % 7;
                memset(in, at % 2 ? ' ' : 'x', n);
                in[at] = (unsigned char)c;
                buf_reset(&b);
                buf_reset(&want);
                mime_qp_encode((const char *)in, n, &b);
                ref_qp(in, n, &want);
                bad += !same(&b, &want);
            }
        TH_CHECK(bad == 0, "qp: every byte at every column (%d differ)", bad);
        bad = 0;
        for (int rep = 0; rep < 200; rep++) {
            size_t n = 900 + rnd() % 1200;
            rnd_text(in, n, 2);
            buf_reset(&b);
            buf_reset(&want);
            mime_qp_encode((const char *)in, n, &b);
            ref_qp(in, n, &want);
            bad += !same(&b, &want);
        }
        TH_CHECK(bad == 0, "qp: long lines near 998 (%d differ)", bad);
        buf_free(&want);
    }
    /* the cache: a stream of similar messages (spans replaced, lines
     * moved, lone CR and LF) builds byte for byte as without it */
    {
        struct mime_cache *mc = mime_cache_new();
        struct buf want, t1, t2;
        static unsigned char text[6][8192], html[6][8192];
        size_t tn[6], hn[6];
        int bad = 0, badh = 0;
        buf_init(&want, 0);
        buf_init(&t1, 0);
        buf_init(&t2, 0);
        for (int v = 0; v < 6; v++) {
            tn[v] = 200 + rnd() % 7000;
            rnd_text(text[v], tn[v], v % 3);
            hn[v] = 200 + rnd() % 7000;
            rnd_text(html[v], hn[v], 1);
            for (size_t i = 0; i < hn[v]; i++) {
                uint64_t r = rnd();
                if (r % 23 == 0)
                    html[v][i] = (r >> 8) % 2 ? '<' : '>';
                else if (r % 53 == 0)
                    html[v][i] = '&';
            }
        }
        for (int rep = 0; rep < 400; rep++) {
            static unsigned char tx[8192], hx[8192];
            struct mime_message m;
            int v = (int)(rnd() % 6);
            size_t txn = mutate(text[v], tn[v], tx, sizeof tx);
            size_t hxn = mutate(html[v], hn[v], hx, sizeof hx);
            memset(&m, 0, sizeof m);
            m.from.addr = "news@acme.example";
            m.to.addr = "a@b.example";
            m.subject = "s";
            m.message_id = "<1@acme.example>";
            m.text = (const char *)tx;
            m.text_len = txn;
            m.html = (const char *)hx;
            m.html_len = hxn;
            buf_reset(&want);
            mime_build(&m, &want, &e);
            m.cache = mc;
            buf_reset(&b);
            mime_build(&m, &b, &e);
            bad += !same(&b, &want);
            buf_reset(&t1);
            buf_reset(&t2);
            mime_html_to_text((const char *)hx, hxn, &t1);
            mime_html_to_text_cached(mc, (const char *)hx, hxn, &t2);
            badh += !same(&t1, &t2);
            /* sometimes the very same message again */
            if (rnd() % 4 == 0) {
                buf_reset(&b);
                mime_build(&m, &b, &e);
                bad += !same(&b, &want);
            }
        }
        TH_CHECK(bad == 0, "cached builds equal uncached (%d differ)", bad);
        TH_CHECK(badh == 0, "cached html to text equals uncached (%d differ)",
                 badh);
        buf_free(&want);
        buf_free(&t1);
        buf_free(&t2);
        mime_cache_free(mc);
    }
    /* the cache at the edges: a lone CR that becomes CR LF, a message
     * that is a prefix of the last, a line that continues, a tail that
     * starts with '.' or "From " or white space */
    {
        static const char *const seq[] = {
            "one\rtwo\nthree",
            "one\r\ntwo\nthree",
            "one\rtwo\nthree",
            "one\rtwo",
            "one\rtwo\n",
            "one\rtwo\nthree and more",
            "one\rtwo\nthree",
            "one\rtwo\nthree.",
            "one\rtwo\nthree ",
            "one\rtwo\nthree\n.",
            "one\rtwo\nthree\nFrom me",
            "one\rtwo\nthree\nFrom",
            "one\rtwo\nthree\n",
            "",
            "one\r",
            "one\r\n",
            "one",
        };
        struct mime_cache *mc = mime_cache_new();
        struct buf want, t1, t2;
        int bad = 0, badh = 0;
        buf_init(&want, 0);
        buf_init(&t1, 0);
        buf_init(&t2, 0);
        for (int round = 0; round < 2; round++)
            for (size_t k = 0; k < sizeof seq / sizeof seq[0]; k++) {
                char big[400];
                struct mime_message m;
                /* round 1: after a 74..76-byte line, so soft breaks
                 * fall near the edits */
                snprintf(big, sizeof big, "%.*s%s",
                         round ? 70 + (int)(k % 7) : 0,
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                         seq[k]);
                memset(&m, 0, sizeof m);
                m.from.addr = "news@acme.example";
                m.to.addr = "a@b.example";
                m.subject = "s";
                m.message_id = "<1@acme.example>";
                m.text = big;
                m.text_len = strlen(big);
                m.html = big;
                m.html_len = strlen(big);
                buf_reset(&want);
                mime_build(&m, &want, &e);
                m.cache = mc;
                buf_reset(&b);
                mime_build(&m, &b, &e);
                bad += !same(&b, &want);
                buf_reset(&t1);
                buf_reset(&t2);
                mime_html_to_text(big, strlen(big), &t1);
                mime_html_to_text_cached(mc, big, strlen(big), &t2);
                badh += !same(&t1, &t2);
            }
        TH_CHECK(bad == 0, "cache edges: builds equal uncached (%d differ)",
                 bad);
        TH_CHECK(badh == 0, "cache edges: html to text (%d differ)", badh);
        buf_free(&want);
        buf_free(&t1);
        buf_free(&t2);
        mime_cache_free(mc);
    }
    /* a 5000-character unbroken value: soft breaks, lines <= 76 */
    {
        char *big = malloc(5001);
        memset(big, 'x', 5000);
        big[5000] = '\0';
        buf_reset(&b);
        mime_qp_encode(big, 5000, &b);
        TH_CHECK(max_line(b.p, b.len) <= 76, "qp lines <= 76 (got %d)",
                 max_line(b.p, b.len));
        free(big);
    }
    /* UTF-8 Subject: encoded words of <= 75 chars, folded */
    {
        const char *s = "Ciao Niccolò, le novità di primavera: fino al 30% "
                        "di sconto su giacche, borse e città";
        buf_reset(&b);
        mime_encode_header(s, strlen(s), 9, &b);
        TH_CHECK(strncmp(b.p, "=?UTF-8?B?", 10) == 0,
                 "non-ASCII subject is an encoded-word");
        TH_CHECK(max_line(b.p, b.len) <= 76, "encoded subject lines <= 76");
        TH_CHECK(!bare_cr_or_lf(b.p, b.len), "folded with CRLF");
    }
    {
        const char *s = "Plain ASCII subject";
        buf_reset(&b);
        mime_encode_header(s, strlen(s), 9, &b);
        TH_STREQ(b.p, s, "ASCII subject is written as it is");
        s = "Looks like =?UTF-8?B?eA==?= an encoded word";
        buf_reset(&b);
        mime_encode_header(s, strlen(s), 9, &b);
        TH_CHECK(strncmp(b.p, "=?UTF-8?B?", 10) == 0,
                 "ASCII subject holding =? is encoded");
    }
    /* a whole message */
    {
        struct mime_message m;
        memset(&m, 0, sizeof m);
        m.from.name = "Acme News";
        m.from.addr = "news@acme.example";
        m.to.name = "Niccolò \"Nico\" Rossi";
        m.to.addr = "nico@example.it";
        m.subject = "Hello";
        m.message_id = "<1@acme.example>";
        m.date = 1795823528;
        m.unsubscribe_url = "https://t.acme.example/u/TOKEN";
        m.unsubscribe_mailto = "mailto:unsubscribe+TOKEN@b.acme.example";
        m.list_id = "<news.acme.example>";
        m.text = "line\n.\nend\rx";
        m.text_len = strlen(m.text);
        m.html = "<p>hi</p>\n.\n";
        m.html_len = strlen(m.html);
        buf_reset(&b);
        err_clear(&e);
        TH_CHECK(mime_build(&m, &b, &e) == 0, "build a message");
        TH_CHECK(!bare_cr_or_lf(b.p, b.len), "no bare CR or LF anywhere");
        TH_CHECK(max_line(b.p, b.len) <= 998, "no line over 998");
        TH_CHECK(strstr(b.p, "\r\n.\r\n") == NULL,
                 "no line that is only a dot");
        TH_CHECK(strstr(b.p, "List-Unsubscribe-Post: "
                             "List-Unsubscribe=One-Click\r\n") != NULL,
                 "RFC 8058 one-click header");
        TH_CHECK(strstr(b.p, "To: =?UTF-8?B?") != NULL,
                 "non-ASCII display name encoded");
        TH_CHECK(strstr(b.p, "Date: Fri, 27 Nov 2026 ") != NULL,
                 "RFC 5322 date");
        {
            size_t hl = 0, hl2 = 0;
            const char *sep;
            m.header_len = &hl;
            buf_reset(&b);
            (void)buf_puts(&b, "prefix");
            (void)mime_build(&m, &b, &e);
            sep = memmem(b.p + 6, b.len - 6, "\r\n\r\n", 4);
            TH_CHECK(sep && hl == (size_t)(sep - b.p) - 6 + 4,
                     "header_len: the header section with its empty line "
                     "(multipart)");
            m.html = NULL;
            m.header_len = &hl2;
            buf_reset(&b);
            (void)mime_build(&m, &b, &e);
            sep = memmem(b.p, b.len, "\r\n\r\n", 4);
            TH_CHECK(sep && hl2 == (size_t)(sep - b.p) + 4,
                     "header_len: the header section with its empty line "
                     "(text only)");
            m.html = "<p>hi</p>\n.\n";
            m.header_len = NULL;
        }

        /* RFC 8058 3.1: one-click only with an https URI */
        m.unsubscribe_url = "http://127.0.0.1:8787/u/TOKEN";
        buf_reset(&b);
        TH_CHECK(mime_build(&m, &b, &e) == 0 &&
                     strstr(b.p, "List-Unsubscribe: <http://127.0.0.1") &&
                     strstr(b.p, "List-Unsubscribe-Post:") == NULL,
                 "an http unsubscribe URL: no List-Unsubscribe-Post");
        m.unsubscribe_url = "HTTPS://t.acme.example/u/TOKEN";
        buf_reset(&b);
        TH_CHECK(mime_build(&m, &b, &e) == 0 &&
                     strstr(b.p, "List-Unsubscribe-Post: "
                                 "List-Unsubscribe=One-Click\r\n") != NULL,
                 "an https unsubscribe URL (any case): one-click");
        m.unsubscribe_url = "https://t.acme.example/u/TOKEN";

        m.subject = "Hi\r\nBcc: victim@evil.example";
        buf_reset(&b);
        TH_CHECK(mime_build(&m, &b, &e) == -1 && e.kind == EX_DATAERR &&
                     b.len == 0,
                 "a line break in Subject is an error, not stripped");
        m.subject = "Hi";
        m.to.name = "Eve\nBcc: x@evil.example";
        TH_CHECK(mime_build(&m, &b, &e) == -1,
                 "a line break in a display name is an error");
        m.to.name = NULL;
        m.to.addr = "a@x.io>, <b@evil.example";
        TH_CHECK(mime_build(&m, &b, &e) == -1,
                 "an address with <> or , is refused");
    }
    /* address parsing */
    {
        struct mime_address a;
        struct buf ab;
        buf_init(&ab, 0);
        TH_CHECK(mime_parse_address("Acme News <news@acme.example>", &a, &ab) ==
                         0 &&
                     strcmp(a.name, "Acme News") == 0 &&
                     strcmp(a.addr, "news@acme.example") == 0,
                 "parse Name <addr>");
        TH_CHECK(mime_parse_address("\"Q, Name\" <q@x.io>", &a, &ab) == 0 &&
                     strcmp(a.name, "Q, Name") == 0,
                 "parse a quoted name");
        TH_CHECK(mime_parse_address("plain@x.io", &a, &ab) == 0 &&
                     a.name == NULL && strcmp(a.addr, "plain@x.io") == 0,
                 "parse a bare address");
        TH_CHECK(mime_parse_address("no address", &a, &ab) == -1,
                 "refuse text without an address");
        buf_free(&ab);
    }
    for (size_t i = 0; i < sizeof h2t / sizeof h2t[0]; i++) {
        buf_reset(&b);
        mime_html_to_text(h2t[i].html, strlen(h2t[i].html), &b);
        TH_STREQ(b.p, h2t[i].want, "html to text: %s", h2t[i].name);
    }
    buf_free(&b);
    header_guard();
    return TH_DONE();
}
