/* SPDX-License-Identifier: ISC */
/*
 * test_mime.c - the message builder (engine/mime.c): quoted-printable,
 * RFC 2047 headers, header injection, wire rules, HTML to text.
 */
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
    return TH_DONE();
}
