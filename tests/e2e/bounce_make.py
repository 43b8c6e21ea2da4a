#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# bounce_make.py - messages that come back, built from what smtp-sink
# received (tests/e2e/bounces_ingest.bats, bounces_breaker.bats).
#
#   bounce_make.py index DUMP
#       one line per received copy: rcpt TAB verp TAB unsub TAB message-id
#       (verp: the MAIL FROM address, unsub: the List-Unsubscribe mailto
#       address, both "" when absent)
#
#   bounce_make.py KIND [options]      the message on stdout (LF line ends)
#     KIND: dsn (RFC 3464 multipart/report), arf (RFC 5965 feedback
#           report), auto (an RFC 3834 out-of-office reply), unsub (a mail
#           to the List-Unsubscribe mailto)
#     --dump DIR --rcpt ADDR  the copy ADDR received in DIR (the only one:
#                             more than one is an error)
#     --final ADDR            Final-Recipient / the complainer / the
#                             auto-replier (default --rcpt)
#     --to ADDR|verp|unsub|plain
#                             the address it comes to: verp (default for
#                             dsn, arf, auto) the copy's MAIL FROM, unsub
#                             (default for unsub) its mailto, plain the
#                             sender news@acme.example
#     --forge                 the token of --to altered by one character
#     --strip                 the returned headers without our tokens
#                             (no Return-Path, no List-Unsubscribe); the
#                             Message-ID stays
#     --no-returned           no returned message at all
#     --message-id ID         the returned Message-ID instead of the copy's
#     --action A --status S --diag TEXT   the DSN's per-recipient fields
#                             (default failed, 5.1.1, "smtp; 550 5.1.1
#                             <ADDR>: Recipient address rejected: User
#                             unknown in virtual mailbox table")
#     --type T                the ARF Feedback-Type (default abuse)
#     --id ID                 this message's own Message-ID (default: a
#                             new one); "none": no Message-ID header
#     --body TEXT             extra text in the first part (may hold
#                             "\n"; used for mbox "From " lines)
#     --rcpt-list FILE --out DIR
#                             one message per address of FILE (one a
#                             line), each as DIR/N.eml (N from 1), instead
#                             of --rcpt and stdout
import argparse
import os
import sys
import uuid

SENDER = "news@acme.example"


def parse_dump(path):
    """the envelope and the message headers of one smtp-sink dump"""
    rcpts, mail_from, headers = [], "", []
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "surrogateescape")
    head = text.split("\n\n", 1)[0].split("\n")
    cur = None
    for line in head:
        if line.startswith("X-Mail-Args: "):
            mail_from = line[13:].split()[0].strip("<>")
            continue
        if line.startswith("X-Rcpt-Args: "):
            rcpts.append(line[13:].split()[0].strip("<>"))
            continue
        if line.startswith(("X-Client-Addr:", "X-Client-Proto:",
                            "X-Helo-Args:")):
            continue
        if line[:1] in (" ", "\t"):
            if cur is not None:
                cur[1] += "\n" + line
            continue
        name, _, value = line.partition(":")
        cur = [name, value]
        headers.append(cur)
    headers = [h for h in headers if h[0].lower() != "received"]
    unsub = ""
    for name, value in headers:
        if name.lower() == "list-unsubscribe" and "mailto:" in value:
            unsub = value.split("mailto:", 1)[1].split("?")[0].split(">")[0]
    mid = ""
    for name, value in headers:
        if name.lower() == "message-id":
            mid = value.strip()
    return {"rcpts": rcpts, "from": mail_from, "unsub": unsub, "mid": mid,
            "headers": headers}


def dumps(d):
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        if os.path.isfile(p):
            yield parse_dump(p)


def find(d, rcpt):
    got = [m for m in dumps(d) if rcpt in m["rcpts"]]
    if len(got) != 1:
        sys.exit("bounce_make: %d copies for %s in %s" % (len(got), rcpt, d))
    return got[0]


def forge(addr):
    """one character of the token after '+' changed"""
    local, _, dom = addr.partition("@")
    pfx, _, tok = local.partition("+")
    i = len(tok) // 2
    c = "A" if tok[i] != "A" else "B"
    return "%s+%s%s%s@%s" % (pfx, tok[:i], c, tok[i + 1:], dom)


def returned_headers(m, a):
    out = []
    if m is not None and not a.strip and m["from"]:
        out.append("Return-Path: <%s>" % m["from"])
    for name, value in (m["headers"] if m else []):
        low = name.lower()
        if a.strip and low == "list-unsubscribe":
            continue
        if low == "message-id" and a.message_id:
            value = " " + a.message_id
        out.append("%s:%s" % (name, value))
    if m is None and a.message_id:
        out.append("Message-ID: %s" % a.message_id)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["index", "dsn", "arf", "auto", "unsub"])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--dump")
    ap.add_argument("--rcpt")
    ap.add_argument("--final")
    ap.add_argument("--to")
    ap.add_argument("--forge", action="store_true")
    ap.add_argument("--strip", action="store_true")
    ap.add_argument("--no-returned", action="store_true")
    ap.add_argument("--message-id")
    ap.add_argument("--action", default="failed")
    ap.add_argument("--status", default="5.1.1")
    ap.add_argument("--diag")
    ap.add_argument("--type", default="abuse")
    ap.add_argument("--id")
    ap.add_argument("--body", default="")
    ap.add_argument("--rcpt-list")
    ap.add_argument("--out")
    a = ap.parse_args()

    if a.rcpt_list:
        by = {}
        for m in dumps(a.dump):
            for r in m["rcpts"]:
                by.setdefault(r, []).append(m)
        os.makedirs(a.out, exist_ok=True)
        with open(a.rcpt_list) as f:
            rcpts = [l.strip() for l in f if l.strip()]
        for i, r in enumerate(rcpts, 1):
            if len(by.get(r, [])) != 1:
                sys.exit("bounce_make: %d copies for %s" % (len(by.get(r, [])), r))
            a.rcpt = r
            with open(os.path.join(a.out, "%d.eml" % i), "w") as f:
                f.write(build(a, by[r][0]))
        return

    if a.kind == "index":
        for m in dumps(a.dir):
            for r in m["rcpts"]:
                print("\t".join([r, m["from"], m["unsub"], m["mid"]]))
        return

    m = find(a.dump, a.rcpt) if a.dump and a.rcpt else None
    sys.stdout.write(build(a, m))


def build(a, m):
    """the message of a's kind about the copy m (None: no copy)"""
    final = a.final or a.rcpt
    to = a.to or ("unsub" if a.kind == "unsub" else "verp")
    if to == "verp":
        to = m["from"]
    elif to == "unsub":
        to = m["unsub"]
    elif to == "plain":
        to = SENDER
    if a.forge:
        to = forge(to)
    own = a.id or "<%s@mx.example.net>" % uuid.uuid4()
    body = a.body.replace("\\n", "\n")
    hdr = []
    if a.id != "none":
        hdr.append("Message-ID: %s" % own)
    hdr.append("Date: Thu, 3 Dec 2026 12:00:00 +0000")
    rh = "" if a.no_returned else returned_headers(m, a)

    if a.kind == "dsn":
        diag = a.diag or ("smtp; 550 5.1.1 <%s>: Recipient address rejected:"
                          " User unknown in virtual mailbox table" % final)
        hdr += ["From: MAILER-DAEMON@mx.example.net (Mail Delivery System)",
                "To: %s" % to,
                "Subject: Undelivered Mail Returned to Sender",
                "Auto-Submitted: auto-replied",
                "MIME-Version: 1.0",
                'Content-Type: multipart/report; report-type=delivery-status;'
                '\n boundary="B1"']
        parts = ["--B1\nContent-Type: text/plain\n\nThis is the mail system "
                 "at host mx.example.net.\n\nI'm sorry to have to inform you "
                 "that your message could not\nbe delivered.\n" + body + "\n",
                 "--B1\nContent-Type: message/delivery-status\n\n"
                 "Reporting-MTA: dns; mx.example.net\n"
                 "Arrival-Date: Thu, 3 Dec 2026 11:59:59 +0000\n\n"
                 "Final-Recipient: rfc822; %s\n"
                 "Original-Recipient: rfc822; %s\n"
                 "Action: %s\nStatus: %s\n"
                 "Remote-MTA: dns; in.example.net\n"
                 "Diagnostic-Code: %s\n\n" % (final, final, a.action,
                                              a.status, diag)]
        if rh:
            parts.append("--B1\nContent-Type: text/rfc822-headers\n\n" + rh)
        out = "\n".join(hdr) + "\n\n" + "".join(parts) + "--B1--\n"
    elif a.kind == "arf":
        hdr += ["From: fbl@isp.example.net",
                "To: %s" % to,
                "Subject: FW: complaint",
                "MIME-Version: 1.0",
                'Content-Type: multipart/report; report-type=feedback-report;'
                '\n boundary="A1"']
        parts = ["--A1\nContent-Type: text/plain\n\nThis is an email abuse "
                 "report.\n" + body + "\n",
                 "--A1\nContent-Type: message/feedback-report\n\n"
                 "Feedback-Type: %s\nUser-Agent: isp-fbl/1.0\nVersion: 1\n"
                 "Original-Rcpt-To: %s\n"
                 "Source-IP: 192.0.2.1\n\n" % (a.type, final)]
        if rh:
            parts.append("--A1\nContent-Type: text/rfc822-headers\n\n" + rh)
        out = "\n".join(hdr) + "\n\n" + "".join(parts) + "--A1--\n"
    elif a.kind == "auto":
        hdr += ["From: Someone <%s>" % final,
                "To: %s" % to,
                "Subject: Out of office: back on Monday",
                "Auto-Submitted: auto-replied",
                "X-Autoreply: yes",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8"]
        out = ("\n".join(hdr) + "\n\nI am away until Monday and will read "
               "your mail then.\n" + body + "\n")
    else:
        hdr += ["From: <%s>" % final,
                "To: %s" % to,
                "Subject: unsubscribe",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8"]
        out = "\n".join(hdr) + "\n\nunsubscribe\n" + body + "\n"
    return out


if __name__ == "__main__":
    main()
