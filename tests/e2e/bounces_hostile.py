#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""bounces_hostile.py - hostile inbound messages for `campaign bounces parse`.

    bounces_hostile.py [--small] OUTDIR [NAME...]

Writes OUTDIR/NAME.eml for each case named (all when none): each is a
message a bounce parser can meet from a hostile or broken sender.  The
full-size cases are for tests/e2e/bounces_hostile.bats; with --small
every case is scaled down to fit the fuzzer's -max_len (64 KB) and used
as a seed by tests/fuzz/run.  Standard library only.
"""
import os
import sys

CRLF = b"\r\n"


def head(subject, ctype, extra=b""):
    return (b"Return-Path: <>\n"
            b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
            b"To: bounces+AAAAbbbbCCCCdddd@send.example.com\n"
            b"Subject: " + subject + b"\n"
            b"Date: Thu, 3 Dec 2026 10:00:00 +0000\n"
            b"Message-ID: <hostile.1@mx.example.net>\n"
            b"Auto-Submitted: auto-replied\n"
            b"MIME-Version: 1.0\n" + extra +
            b"Content-Type: " + ctype + b"\n\n")


def rcpt_block(i, status=b"5.1.1"):
    a = b"user%d@example.org" % i
    return (b"Final-Recipient: rfc822; " + a + b"\n"
            b"Original-Recipient: rfc822; " + a + b"\n"
            b"Action: failed\n"
            b"Status: " + status + b"\n"
            b"Remote-MTA: dns; mx.example.org\n"
            b"Diagnostic-Code: smtp; 550 5.1.1 <" + a +
            b">: Recipient address rejected: User unknown\n\n")


RETURNED = (b"Return-Path: <bounces+AAAAbbbbCCCCdddd@send.example.com>\n"
            b"From: News <news@send.example.com>\n"
            b"To: user0@example.org\n"
            b"Subject: Our offers\n"
            b"Message-ID: <orig.1@send.example.com>\n\n"
            b"Hello.\n")


def dsn(nrcpt=1, tail=b"", boundary=b"B0"):
    """a complete DSN (multipart/report) with nrcpt recipient blocks;
    tail goes before the closing boundary"""
    out = [head(b"Undelivered Mail Returned to Sender",
                b"multipart/report; report-type=delivery-status;\n"
                b" boundary=\"" + boundary + b"\""),
           b"--" + boundary + b"\n"
           b"Content-Type: text/plain; charset=us-ascii\n\n"
           b"This is the mail system at host mx.example.net.\n"
           b"I'm sorry to have to inform you that your message could not\n"
           b"be delivered to one or more recipients.\n\n"
           b"--" + boundary + b"\n"
           b"Content-Type: message/delivery-status\n\n"
           b"Reporting-MTA: dns; mx.example.net\n"
           b"Arrival-Date: Thu, 3 Dec 2026 09:59:59 +0000\n\n"]
    out += [rcpt_block(i) for i in range(nrcpt)]
    out.append(b"--" + boundary + b"\n"
               b"Content-Type: message/rfc822\n\n" + RETURNED + b"\n")
    out.append(tail)
    out.append(b"--" + boundary + b"--\n")
    return b"".join(out)


def rfc822_nested(depth):
    inner = RETURNED
    for i in range(depth):
        inner = (b"From: MAILER-DAEMON@hop%d.example.net\n"
                 b"To: bounces+AAAAbbbbCCCCdddd@send.example.com\n"
                 b"Subject: Undeliverable: level %d\n"
                 b"MIME-Version: 1.0\n"
                 b"Content-Type: message/rfc822\n\n" % (i, i)) + inner
    return inner


def multipart_nested(depth):
    out = [head(b"Undelivered Mail Returned to Sender",
                b"multipart/mixed; boundary=\"b0\"")]
    for i in range(1, depth):
        out.append(b"--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n"
                   % (i - 1, i))
    out.append(b"--b%d\nContent-Type: text/plain\n\n"
               b"<user0@example.org>: host mx.example.org said: 550 5.1.1 "
               b"User unknown\n" % (depth - 1))
    for i in reversed(range(depth)):
        out.append(b"--b%d--\n" % i)
    return b"".join(out)


def big(attach):
    """a DSN whose last part, before the closing boundary, is an
    attachment of attach bytes (base64 lines)"""
    line = b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
    n = attach // len(line) + 1
    part = (b"--B0\nContent-Type: application/octet-stream; name=\"big.bin\"\n"
            b"Content-Transfer-Encoding: base64\n"
            b"Content-Disposition: attachment; filename=\"big.bin\"\n\n" +
            line * n)
    return dsn(tail=part)


def no_end_boundary():
    m = dsn()
    return m[:m.rindex(b"--B0--")]


def boundary_never():
    return (head(b"Undelivered Mail Returned to Sender",
                 b"multipart/report; report-type=delivery-status;"
                 b" boundary=\"never-seen\"") +
            b"This is the mail system at host mx.example.net.\n\n"
            b"<user0@example.org>: host mx.example.org said: 550 5.1.1 "
            b"User unknown\n\n" + b"Reporting-MTA: dns; mx.example.net\n\n" +
            rcpt_block(0) + RETURNED)


def cr_only():
    return dsn().replace(b"\n", b"\r")


def lf_only():
    return dsn()


def crlf():
    return dsn().replace(b"\n", CRLF)


def nul_bytes():
    m = dsn()
    # a NUL every 7 bytes, and a run of them in the status part
    out = bytearray()
    for i in range(0, len(m), 7):
        out += m[i:i + 7] + b"\0"
    return bytes(out).replace(b"Action:", b"\0\0\0\0Action:")


def charset_unknown():
    return (head(b"Undelivered Mail Returned to Sender",
                 b"text/plain; charset=x-unknown",
                 b"Content-Transfer-Encoding: 8bit\n") +
            b"Die Nachricht konnte nicht zugestellt werden \xe4\xf6\xfc\xdf\xff\xfe\n"
            b"<user0@example.org>: host mx.example.org said: 550 5.1.1 "
            b"Benutzer unbekannt \x80\x81\x82\n" + bytes(range(128, 256)) + b"\n")


def charset_bad_utf8():
    bad = b"\xc3\x28\xa0\xa1\xe2\x28\xa1\xe2\x82\x28\xf0\x28\x8c\xbc\xf8\xa1\xa1\xa1\xa1\xed\xa0\x80\xc0\xaf"
    m = dsn().replace(b"charset=us-ascii", b"charset=utf-8")
    m = m.replace(b"I'm sorry", bad + b" I'm sorry" + bad)
    m = m.replace(b"User unknown", b"User unknown " + bad)
    return m.replace(b"Subject: Undelivered", b"Subject: =?utf-8?q?=C3=28=FF?= Undelivered")


def header_1mb(size):
    return dsn().replace(b"Auto-Submitted:",
                         b"X-Long: " + b"a" * size + b"\nAuto-Submitted:", 1)


def headers_many(n):
    hs = b"".join(b"X-H%d: value %d\n" % (i, i) for i in range(n))
    return dsn().replace(b"Auto-Submitted:", hs + b"Auto-Submitted:", 1)


def cases(small):
    """name -> a function that makes the bytes"""
    return {
        "rfc822-nested": lambda: rfc822_nested(100),
        "multipart-nested": lambda: multipart_nested(300 if small else 10000),
        "big": lambda: big(40 * 1024 if small else 50 * 1024 * 1024),
        "boundary-no-end": no_end_boundary,
        "boundary-never": boundary_never,
        "cr-only": cr_only,
        "lf-only": lf_only,
        "crlf": crlf,
        "nul": nul_bytes,
        "charset-unknown": charset_unknown,
        "charset-bad-utf8": charset_bad_utf8,
        "dsn-many": lambda: dsn(150 if small else 10000),
        "header-long": lambda: header_1mb(60000 if small else 1 << 20),
        "headers-many": lambda: headers_many(2000 if small else 100000),
    }


def main(argv):
    small = "--small" in argv
    args = [a for a in argv if a != "--small"]
    if not args:
        sys.stderr.write(__doc__)
        return 2
    out, names = args[0], args[1:]
    table = cases(small)
    for n in names:
        if n not in table:
            sys.stderr.write("bounces_hostile.py: no case %s (%s)\n" %
                             (n, " ".join(table)))
            return 2
    os.makedirs(out, exist_ok=True)
    for n in names or table:
        with open(os.path.join(out, n + ".eml"), "wb") as f:
            f.write(table[n]())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
