/* SPDX-License-Identifier: ISC */
/*
 * test_mimeread.c - reading a received message's structure in place
 * (engine/mimeread.c): the header block and where it ends, fields with
 * folding, Content-Type parameters, the multipart walk (delimiters, the
 * close delimiter, preamble and epilogue, a part left open, nesting and
 * its limit, the parts cap), and the decoding done through GMime
 * (base64, quoted-printable, uuencode, charsets).
 */
#include <gmime/gmime.h>
#include <stdlib.h>

#include "th.h"

#include "mimeread.h"

/* what a walk gave: "depth:type:body" per part, joined by "|" */
struct seen {
    char s[4096];
};

static void
collect(const struct mimeread_part *p, void *arg)
{
    struct seen *w = arg;
    size_t n = strlen(w->s);

    snprintf(w->s + n, sizeof w->s - n, "%s%d:%s:%.*s", n ? "|" : "", p->depth,
             p->type, (int)p->body_len, p->body);
}

static const char *
walk(const char *msg, int depth)
{
    static struct seen w;

    w.s[0] = '\0';
    mimeread_walk(msg, strlen(msg), depth, collect, &w);
    return w.s;
}

static struct mimeread_part
part(const char *head_and_body)
{
    struct mimeread_part p;

    mimeread_split(head_and_body, strlen(head_and_body), &p);
    return p;
}

int
main(void)
{
    struct mimeread_part p;
    char v[64], *d;
    size_t n;

    g_mime_init();

    /* ---- the header block ---- */
    p = part("From: a@b\nSubject: hi\n\nbody\n");
    TH_CHECK(p.head_len == strlen("From: a@b\nSubject: hi\n") &&
                 strcmp(p.body, "body\n") == 0,
             "split: the header ends at the empty line, the body after it");
    p = part("From: a@b\nSubject: hi\n");
    TH_CHECK(p.head_len == strlen("From: a@b\nSubject: hi\n") &&
                 p.body_len == 0,
             "split: no empty line: all header, no body");
    p = part("From: a@b\nthis is text\nmore\n");
    TH_CHECK(p.head_len == strlen("From: a@b\n") &&
                 strcmp(p.body, "this is text\nmore\n") == 0,
             "split: a line that is not a field begins the body");
    p = part("From MAILER-DAEMON Thu Dec  3 10:00:00 2026\nSubject: x\n\nb\n");
    TH_CHECK(strncmp(p.head, "Subject: x", 10) == 0 &&
                 strcmp(p.body, "b\n") == 0,
             "split: an mbox From_ line is not part of the header");
    p = part("Subject: a\n  folded\n\tagain\nTo: x\n\nb");
    TH_CHECK(p.head_len == strlen("Subject: a\n  folded\n\tagain\nTo: x\n"),
             "split: continuation lines are part of the header");

    /* ---- fields ---- */
    {
        const char *h = "Subject: one\n  two\n\tthree  \nto: first\n"
                        "X-Y : spaced\nTo: second\nEmpty:\n";
        size_t hl = strlen(h);
        TH_CHECK(mimeread_field(h, hl, "subject", 0, v, sizeof v) ==
                         (long)strlen("one  two\tthree") &&
                     strcmp(v, "one  two\tthree") == 0,
                 "field: unfolded (line ends removed), trimmed, any case");
        mimeread_field(h, hl, "To", 1, v, sizeof v);
        TH_STREQ(v, "second", "field: the second of two by index");
        TH_CHECK(mimeread_field(h, hl, "To", 2, v, sizeof v) == -1 &&
                     v[0] == '\0',
                 "field: past the last one: -1, empty");
        mimeread_field(h, hl, "X-Y", 0, v, sizeof v);
        TH_STREQ(v, "spaced", "field: blanks before the colon allowed");
        TH_CHECK(mimeread_field(h, hl, "Empty", 0, v, sizeof v) == 0,
                 "field: present but empty is 0, not -1");
        TH_CHECK(mimeread_field(h, hl, "Subj", 0, v, sizeof v) == -1,
                 "field: a name's prefix is not the name");
        TH_CHECK(mimeread_field(h, hl, "Subject", 0, v, 5) == 3 &&
                     strcmp(v, "one") == 0,
                 "field: cut at the buffer (then trimmed)");
    }

    /* ---- parameters ---- */
    TH_CHECK(mimeread_param("multipart/report; report-type=delivery-status; "
                            "BOUNDARY=\"a;b \\\"c\\\"\"",
                            "boundary", v, sizeof v) == 0 &&
                 strcmp(v, "a;b \"c\"") == 0,
             "param: quoted, with ; inside and escapes, name in any case");
    TH_CHECK(mimeread_param("text/plain; format=flowed; charset=iso-8859-1",
                            "charset", v, sizeof v) == 0 &&
                 strcmp(v, "iso-8859-1") == 0,
             "param: a token value after another parameter");
    TH_CHECK(mimeread_param("text/plain; novalue; charset = utf-8", "charset",
                            v, sizeof v) == 0 &&
                 strcmp(v, "utf-8") == 0,
             "param: one without a value skipped, blanks around = allowed");
    TH_CHECK(mimeread_param("text/plain; xcharset=a", "charset", v, sizeof v) ==
                 -1,
             "param: absent is -1 (a longer name is another)");
    TH_CHECK(mimeread_param("text/plain; odd thing; charset=koi8-r", "charset",
                            v, sizeof v) == 0 &&
                 strcmp(v, "koi8-r") == 0,
             "param: one without = and with words after it is skipped whole");
    TH_CHECK(mimeread_param("multipart/report; boundary*0=\"abc\"; "
                            "boundary*1=def; boundary*2*=%2Dg",
                            "boundary", v, sizeof v) == 0 &&
                 strcmp(v, "abcdef-g") == 0,
             "param: RFC 2231 pieces joined in order, %%XX of an encoded "
             "one decoded (%s)",
             v);
    TH_CHECK(mimeread_param("text/plain; charset*=us-ascii'en'utf%2D8",
                            "charset", v, sizeof v) == 0 &&
                 strcmp(v, "utf-8") == 0,
             "param: RFC 2231 name*=charset'language'value (%s)", v);

    /* ---- the walk ---- */
    TH_STREQ(walk("Subject: x\n\nhello\n", 8), "0:text/plain:hello\n",
             "walk: no Content-Type is text/plain, the message its one part");
    TH_STREQ(walk("Content-Type: multipart/mixed; boundary=B\n\n"
                  "preamble\n--B\nContent-Type: text/plain\n\none\n"
                  "--B  \n\ntwo\n--B--\nepilogue\n",
                  8),
             "1:text/plain:one|1:text/plain:two",
             "walk: parts between delimiters (blanks after one allowed), "
             "preamble and epilogue left out, the line end before a "
             "delimiter is the delimiter's");
    TH_STREQ(walk("Content-Type: multipart/report; boundary=\"o\"\n\n--o\n"
                  "Content-Type: multipart/alternative; boundary=i\n\n"
                  "--i\n\nA\n--i\nContent-Type: TEXT/HTML\n\nB\n--i--\n"
                  "--o\nContent-Type: message/delivery-status\n\nC\n"
                  "--o\nContent-Type: message/rfc822\n\nSubject: s\n\nD\n"
                  "--o--\n",
                  8),
             "2:text/plain:A|2:text/html:B|1:message/delivery-status:C|"
             "1:message/rfc822:Subject: s\n\nD",
             "walk: nested multiparts in order with their depth; the type in "
             "lower case; a message part given whole, not walked");
    TH_STREQ(walk("Content-Type: multipart/mixed; boundary=B\n\n--B\n\none\n"
                  "--B\n\ntwo, never closed\n",
                  8),
             "1:text/plain:one|1:text/plain:two, never closed\n",
             "walk: no close delimiter: the last part runs to the end");
    TH_STREQ(walk("Content-Type: multipart/mixed; boundary=B\n\n--Bx\n\none\n"
                  "--B\n\ntwo\n--B--\n",
                  8),
             "1:text/plain:two",
             "walk: a line that begins with the boundary but goes on is not "
             "a delimiter");
    TH_STREQ(walk("Content-Type: multipart/mixed; boundary*0=\"a\";\n"
                  "\tboundary*1=\"b\"\n\n--ab\n\none\n--ab--\n",
                  8),
             "1:text/plain:one",
             "walk: a boundary given in RFC 2231 pieces over folded lines");
    TH_STREQ(walk("Content-Type: multipart/mixed\n\n--B\n\none\n--B--\n", 8),
             "", "walk: a multipart without a boundary has no parts");
    TH_STREQ(walk("Content-Type: multipart/mixed; boundary=a\n\n--a\n"
                  "Content-Type: multipart/mixed; boundary=b\n\n--b\n\ndeep\n"
                  "--b--\n--a\n\nshallow\n--a--\n",
                  1),
             "1:text/plain:shallow",
             "walk: parts below max_depth are not given");
    {
        char big[8192];
        size_t k = (size_t)snprintf(big, sizeof big,
                                    "Content-Type: multipart/mixed; "
                                    "boundary=B\n\n");
        for (int i = 0; i < 100; i++)
            k += (size_t)snprintf(big + k, sizeof big - k, "--B\n\n%d\n", i);
        snprintf(big + k, sizeof big - k, "--B--\n");
        TH_CHECK(strstr(walk(big, 8), "|1:text/plain:63") != NULL &&
                     strstr(walk(big, 8), ":64") == NULL,
                 "walk: at most %d parts of one multipart", MIMEREAD_PARTS_MAX);
    }
    TH_STREQ(walk("Content-Type: text\n\nx", 8), "0:text/plain:x",
             "walk: a type without subtype: text is text/plain");
    TH_STREQ(walk("Content-Type: ;;\n\nx", 8), "0:application/octet-stream:x",
             "walk: an unreadable type is application/octet-stream");
    TH_STREQ(walk("Content-Type: (a comment) message/delivery-status "
                  "(RFC 3464)\n\nx",
                  8),
             "0:message/delivery-status:x",
             "walk: comments around the type are not part of it");
    TH_STREQ(walk("Content-Type: message (report) / delivery-status\n\nx", 8),
             "0:message/delivery-status:x",
             "walk: blanks and comments around the / too");
    TH_STREQ(walk("Content-Type: text/plain charset=us-ascii\n\nx", 8),
             "0:text/plain:x",
             "walk: the type ends where its token does (no ; before a "
             "parameter)");
    TH_STREQ(walk("Content-Type:\n message/rfc822\n\nSubject: s\n", 8),
             "0:message/rfc822:Subject: s\n",
             "walk: a type folded onto the next line");
    TH_STREQ(walk("Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
                  "Subject: one\n\nbody\n--d\nContent-Type: text/plain\n\n"
                  "two\n--d--\n",
                  8),
             "1:message/rfc822:Subject: one\n\nbody|1:text/plain:two",
             "walk: in a multipart/digest a part without a type is "
             "message/rfc822 (RFC 2046 5.1.5)");
    TH_STREQ(walk("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                  "From the desk of\nName: x\n--b--\n",
                  8),
             "1:text/plain:From the desk of\nName: x",
             "walk: a part's first line \"From ...\" is its text, not an mbox "
             "line");
    {
        const char *m = "Content-Type: multipart/report; "
                        "report-type=delivery-status; boundary=b\n\n--b\n"
                        "Content-Type: text/plain; charset=\"ISO-8859-1\"\n"
                        "Content-Transfer-Encoding: Quoted-Printable\n\nx\n"
                        "--b--\n";
        struct mimeread_part top;
        char rt[64];
        mimeread_split(m, strlen(m), &top);
        TH_CHECK(mimeread_field(top.head, top.head_len, "Content-Type", 0, v,
                                sizeof v) > 0 &&
                     mimeread_param(v, "report-type", rt, sizeof rt) == 0 &&
                     strcmp(rt, "delivery-status") == 0,
                 "the report-type of a multipart/report");
    }

    /* ---- decoding ---- */
    {
        struct mimeread_part q;
        memset(&q, 0, sizeof q);
        q.body = "aGVsbG8gd29y\nbGQ=\n";
        q.body_len = strlen(q.body);
        strcpy(q.encoding, "base64");
        d = mimeread_decode(&q, 1000, &n);
        TH_STREQ(d, "hello world", "decode: base64 across lines");
        free(d);
        d = mimeread_decode(&q, 5, &n);
        TH_CHECK(d && n == 5 && strcmp(d, "hello") == 0, "decode: cut at max");
        free(d);
        q.body = "AGEA";
        q.body_len = 4;
        d = mimeread_decode(&q, 1000, &n);
        TH_CHECK(d && n == 3 && memcmp(d, " a ", 4) == 0,
                 "decode: NUL bytes of the content become spaces");
        free(d);
        q.body = "caf=C3=A9 =\nsoft break\n";
        q.body_len = strlen(q.body);
        strcpy(q.encoding, "quoted-printable");
        d = mimeread_decode(&q, 1000, &n);
        TH_STREQ(d, "caf\xc3\xa9 soft break\n",
                 "decode: quoted-printable, soft line break");
        free(d);
        q.body = "begin 644 x\n+:&5L;&\\@=V]R;&0 \n`\nend\n";
        q.body_len = strlen(q.body);
        strcpy(q.encoding, "x-uuencode");
        d = mimeread_decode(&q, 1000, &n);
        TH_CHECK(d && strncmp(d, "hello world", 11) == 0,
                 "decode: uuencode after its begin line (%s)", d ? d : "");
        free(d);
        q.body = "=41 plain";
        q.body_len = strlen(q.body);
        strcpy(q.encoding, "7bit");
        d = mimeread_decode(&q, 1000, &n);
        TH_STREQ(d, "=41 plain", "decode: 7bit is as it is");
        free(d);

        q.body = "caf\xe9";
        q.body_len = 4;
        strcpy(q.encoding, "8bit");
        strcpy(q.charset, "latin1");
        d = mimeread_text(&q, 1000, &n);
        TH_STREQ(d, "caf\xc3\xa9", "text: latin1 (an alias) to UTF-8");
        free(d);
        strcpy(q.charset, "x-no-such-charset");
        d = mimeread_text(&q, 1000, &n);
        TH_CHECK(d && n == 4 && memcmp(d, "caf\xe9", 4) == 0,
                 "text: an unknown charset leaves the bytes");
        free(d);
        q.body = "caf\xc3\xa9";
        q.body_len = 5;
        strcpy(q.charset, "UTF-8");
        d = mimeread_text(&q, 1000, &n);
        TH_STREQ(d, "caf\xc3\xa9", "text: UTF-8 as it is");
        free(d);
        q.body = "\xe9\xe9\xe9\xe9";
        q.body_len = 4;
        strcpy(q.charset, "iso-8859-1");
        d = mimeread_text(&q, 3, &n);
        TH_CHECK(d && n == 2 && strcmp(d, "\xc3\xa9") == 0,
                 "text: the converted text cut at max, at a character's "
                 "start (%zu)",
                 n);
        free(d);
    }
    return TH_DONE();
}
