#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""mime_check.py - check generated messages with an independent MIME
parser (Python's email package), and the wire rules.

Usage:
    mime_check.py [--subject S] [--to ADDR] [--html-has X]... [--text-has X]...
                  [--html-lacks X]... [--text-lacks X]... [--header NAME]...
                  MESSAGE.eml...

For each message: CRLF line ends only (no bare CR or LF), no line over 998
octets, exactly one of each of From, To, Subject, Date, Message-ID,
MIME-Version; multipart/alternative with text/plain then text/html, both
UTF-8 quoted-printable; List-Unsubscribe and List-Unsubscribe-Post (RFC
8058) unless --no-unsubscribe.  Then the given expectations on the decoded
subject, the To address and the decoded parts.  Exit 0 when all hold.

The README's wire rules for the body: no line of a quoted-printable part
over 76 octets (RFC 2045 6.7 (5), the soft-break "=" included) and none
ending in a space or tab (6.7 (3)); no line of the body, in any part,
starting with "." or "From " (they are encoded, so that neither SMTP dot
stuffing nor mbox "From " quoting can change the message).

--preheader TEXT: the first text of the HTML part (outside head, style,
title and script) starts with TEXT, inside an element whose style hides
it (display:none), as the README promises for a template's Preheader:.
"""
import argparse
import email
import email.policy
import html.parser
import sys

# RFC 2045 6.7 (5): "encoded lines be no more than 76 characters long"
QP_LINE_MAX = 76
# HTML elements that have no end tag
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}
UNSEEN = {"head", "style", "title", "script"}


class FirstText(html.parser.HTMLParser):
    """The first non-blank text of a document and its open elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open = []
        self.text = None
        self.around = None

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.open.append((tag, dict(attrs).get("style") or ""))

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                del self.open[i:]
                break

    def handle_data(self, data):
        if self.text is not None or not data.strip():
            return
        if any(t in UNSEEN for t, _ in self.open):
            return
        self.text = data.strip()
        self.around = list(self.open)


def hidden(style):
    return "display:none" in "".join(style.split()).lower()


def body_lines(path, raw):
    """Failures of the README's rules on the lines of the body."""
    sep = raw.find(b"\r\n\r\n")
    if sep == -1:
        return fail(path, "no empty line after the header section")
    for n, line in enumerate(raw[sep + 4:].split(b"\r\n")):
        if line.startswith(b".") or line.startswith(b"From "):
            return fail(path, "body line %d starts with %r: not encoded" %
                        (n + 1, line[:5]))
    return 0


def qp_lines(path, part):
    """Failures of RFC 2045 6.7 on the encoded lines of one part."""
    enc = part.get_payload(decode=False)
    for n, line in enumerate(enc.split("\r\n")):
        if len(line) > QP_LINE_MAX:
            return fail(path, "%s line %d is %d characters (max %d): %r" % (
                part.get_content_type(), n + 1, len(line), QP_LINE_MAX, line))
        if line.endswith((" ", "\t")):
            return fail(path, "%s line %d ends in white space: %r" % (
                part.get_content_type(), n + 1, line))
    return 0


def fail(path, why):
    print("%s: %s" % (path, why))
    return 1


def check(path, a):
    raw = open(path, "rb").read()
    bad = 0
    for i, b in enumerate(raw):
        if b == 13 and raw[i + 1:i + 2] != b"\n":
            return fail(path, "bare CR at byte %d" % i)
        if b == 10 and (i == 0 or raw[i - 1] != 13):
            return fail(path, "bare LF at byte %d" % i)
    for n, line in enumerate(raw.split(b"\r\n")):
        if len(line) > 998:
            return fail(path, "line %d is %d octets" % (n + 1, len(line)))
    if body_lines(path, raw):
        return 1
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for h in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        got = msg.get_all(h) or []
        if len(got) != 1:
            bad |= fail(path, "%d %s headers" % (len(got), h))
    if not a.no_unsubscribe:
        lu = msg.get("List-Unsubscribe", "")
        if "<https://" not in lu:
            bad |= fail(path, "List-Unsubscribe has no https URL: %r" % lu)
        if msg.get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click":
            bad |= fail(path, "no RFC 8058 List-Unsubscribe-Post")
    for h in a.header:
        if msg.get(h) is None:
            bad |= fail(path, "no %s header" % h)
    if msg.get_content_type() != "multipart/alternative":
        return fail(path, "content type %s" % msg.get_content_type())
    parts = list(msg.iter_parts())
    types = [p.get_content_type() for p in parts]
    if types != ["text/plain", "text/html"]:
        return fail(path, "parts %r" % types)
    for p in parts:
        if p.get_content_charset() != "utf-8":
            bad |= fail(path, "charset %s" % p.get_content_charset())
        if p["Content-Transfer-Encoding"] != "quoted-printable":
            bad |= fail(path, "encoding %s" % p["Content-Transfer-Encoding"])
        else:
            bad |= qp_lines(path, p)
    # the parser keeps the wire CRLF in decoded text: compare with LF
    text = parts[0].get_content().replace("\r\n", "\n")
    html = parts[1].get_content().replace("\r\n", "\n")
    if a.subject is not None and str(msg["Subject"]) != a.subject:
        bad |= fail(path, "subject %r, expected %r" % (str(msg["Subject"]),
                                                       a.subject))
    if a.to is not None:
        addrs = [x.addr_spec for x in msg["To"].addresses]
        if addrs != [a.to]:
            bad |= fail(path, "To %r, expected %r" % (addrs, a.to))
    if a.to_name is not None:
        names = [x.display_name for x in msg["To"].addresses]
        if names != [a.to_name]:
            bad |= fail(path, "To name %r, expected %r" % (names, a.to_name))
    for x in a.html_has:
        if x not in html:
            bad |= fail(path, "HTML part lacks %r" % x)
    for x in a.text_has:
        if x not in text:
            bad |= fail(path, "text part lacks %r" % x)
    for x in a.html_lacks:
        if x in html:
            bad |= fail(path, "HTML part has %r" % x)
    for x in a.text_lacks:
        if x in text:
            bad |= fail(path, "text part has %r" % x)
    if a.preheader is not None:
        first = FirstText()
        first.feed(html)
        first.close()
        if first.text is None or not first.text.startswith(a.preheader):
            bad |= fail(path, "the HTML part's first text is %r, not the "
                        "preheader %r" % (first.text, a.preheader))
        elif not any(hidden(style) for _, style in first.around):
            bad |= fail(path, "the preheader is not hidden: %r" %
                        first.around)
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subject")
    ap.add_argument("--to")
    ap.add_argument("--to-name")
    ap.add_argument("--html-has", action="append", default=[])
    ap.add_argument("--text-has", action="append", default=[])
    ap.add_argument("--html-lacks", action="append", default=[])
    ap.add_argument("--text-lacks", action="append", default=[])
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--preheader")
    ap.add_argument("--no-unsubscribe", action="store_true")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    bad = 0
    for f in a.files:
        bad |= check(f, a)
    sys.exit(1 if bad else 0)


main()
