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
"""
import argparse
import email
import email.policy
import sys


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
    ap.add_argument("--no-unsubscribe", action="store_true")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    bad = 0
    for f in a.files:
        bad |= check(f, a)
    sys.exit(1 if bad else 0)


main()
