#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""bounce_mail.py - the mail that comes back, made and delivered for the
bounces_*.bats end-to-end tests (issue 14).

The messages are what real receivers send (shapes after Postfix's own
bounce(8) DSN and an RFC 5965 feedback report as Yahoo's and AOL's loops
send them); the returned message is the exact message `campaign send`
gave smtp-sink (its headers, or all of it for a complaint).

Usage:
    bounce_mail.py dsn ORIG.eml RCPT VERP STATUS 'REPLY'
        a multipart/report DSN (RFC 3464) about the message ORIG.eml to
        RCPT: Action failed (5.x.x) or delayed (4.x.x), Status STATUS,
        Diagnostic-Code "smtp; REPLY", the returned headers as
        text/rfc822-headers; To: VERP, the envelope sender of ORIG.
        ORIG "-": no part with the returned headers (as many MTAs send)
    bounce_mail.py arf ORIG.eml RCPT RETURN_PATH
        an RFC 5965 abuse report about ORIG.eml, the whole original as
        message/rfc822 with the Return-Path: <RETURN_PATH> the receiving
        MTA recorded
    bounce_mail.py vacation ORIG.eml RCPT VERP
        RCPT's out-of-office reply (RFC 3834: Auto-Submitted:
        auto-replied, In-Reply-To the original) sent to VERP, the
        original's envelope sender
    bounce_mail.py unsub FROM TO
        what a mail client sends for the List-Unsubscribe mailto: From FROM
        to TO, Subject unsubscribe
    bounce_mail.py smtp PORT MAIL_FROM RCPT FILE
        deliver FILE over SMTP to 127.0.0.1:PORT (envelope MAIL_FROM,
        "" for the null sender, and RCPT); prints the server's reply to
        the end of data; exits 1 when anything is refused
    bounce_mail.py mint SECRET_FILE PURPOSE CAMPAIGN CONTACT
        a token of the engine's scheme (engine/track.h; see
        send_dumps.py token_fields) with the right MAC: what only someone
        holding the secret can make
The DSN's Message-ID is derived from ORIG and RCPT, so the same bounce
made twice is byte-for-byte the same message (the duplicate test).
"""
import base64
import email
import email.policy
import hashlib
import hmac
import smtplib
import sys

CRLF = "\r\n"


def read_orig(path):
    raw = open(path, "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    head, _, _ = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    return raw, msg, head.decode("utf-8", "replace").replace("\n", CRLF)


def stable_id(*parts):
    h = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    return "<%s@mx.example.com>" % h


def cmd_dsn(orig, rcpt, verp, status, reply):
    head = None if orig == "-" else read_orig(orig)[2]
    action = "failed" if status.startswith("5") else "delayed"
    b = "8F0C1B2A.1764800000/mx.example.com"
    date = "Thu, 3 Dec 2026 21:30:00 +0000 (UTC)"
    out = [
        "Return-Path: <>",
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)",
        "To: <%s>" % verp,
        "Subject: %s" % ("Undelivered Mail Returned to Sender"
                         if action == "failed" else
                         "Delayed Mail (still being retried)"),
        "Date: %s" % date,
        "Message-Id: %s" % stable_id("dsn", orig, rcpt, status, reply),
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status;',
        '\tboundary="%s"' % b,
        "Content-Transfer-Encoding: 7bit",
        "",
        "This is a MIME-encapsulated message.",
        "",
        "--%s" % b,
        "Content-Description: Notification",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "This is the mail system at host mx.example.com.",
        "",
        "I'm sorry to have to inform you that your message could not",
        "be delivered to one or more recipients. It's attached below.",
        "",
        "                   The mail system",
        "",
        "<%s>: host mail.example.com[192.0.2.25] said: %s (in reply to"
        % (rcpt, reply),
        "    RCPT TO command)",
        "",
        "--%s" % b,
        "Content-Description: Delivery report",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.example.com",
        "X-Postfix-Queue-ID: 8F0C1B2A",
        "X-Postfix-Sender: rfc822; %s" % verp,
        "Arrival-Date: %s" % date,
        "",
        "Final-Recipient: rfc822; %s" % rcpt,
        "Original-Recipient: rfc822;%s" % rcpt,
        "Action: %s" % action,
        "Status: %s" % status,
        "Remote-MTA: dns; mail.example.com",
        "Diagnostic-Code: smtp; %s" % reply,
        "",
    ]
    if head is not None:
        out += [
            "--%s" % b,
            "Content-Description: Undelivered Message Headers",
            "Content-Type: text/rfc822-headers",
            "",
            head,
            "",
        ]
    out += ["--%s--" % b, ""]
    sys.stdout.write(CRLF.join(out))


def cmd_arf(orig, rcpt, return_path):
    raw, msg, head = read_orig(orig)
    b = "----=_Part_ARF_4242"
    body = raw.replace(b"\r\n", b"\n").decode("utf-8", "replace")
    body = body.replace("\n", CRLF)
    out = [
        "From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>",
        "To: fbl@bounces.acme.example",
        "Subject: FW: %s" % (msg.get("Subject") or ""),
        "Date: Thu, 3 Dec 2026 21:31:00 +0000",
        "Message-ID: %s" % stable_id("arf", orig, rcpt),
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=feedback-report;',
        '\tboundary="%s"' % b,
        "",
        "--%s" % b,
        "Content-Type: text/plain; charset=us-ascii",
        "Content-Transfer-Encoding: 7bit",
        "",
        "This is an email abuse report for an email message received from",
        "IP 192.0.2.10 on Thu, 3 Dec 2026 21:20:00 +0000.",
        "",
        "--%s" % b,
        "Content-Type: message/feedback-report",
        "",
        "Feedback-Type: abuse",
        "User-Agent: Yahoo!-Mail-Feedback/2.0",
        "Version: 1",
        "Original-Mail-From: <%s>" % return_path,
        "Original-Rcpt-To: <%s>" % rcpt,
        "Arrival-Date: Thu, 3 Dec 2026 21:20:00 +0000",
        "Source-IP: 192.0.2.10",
        "Reported-Domain: acme.example",
        "Authentication-Results: mta1.mail.yahoo.com; dkim=none",
        "",
        "--%s" % b,
        "Content-Type: message/rfc822",
        "Content-Disposition: inline",
        "",
        "Return-Path: <%s>" % return_path,
        "Received: from relay.acme.example (192.0.2.10) by mta1.mail.yahoo.com",
        "\twith SMTP; Thu, 3 Dec 2026 21:20:00 +0000",
        body.rstrip(CRLF),
        "",
        "--%s--" % b,
        "",
    ]
    sys.stdout.write(CRLF.join(out))


def cmd_vacation(orig, rcpt, verp):
    _, msg, _ = read_orig(orig)
    mid = (msg.get("Message-ID") or "").strip()
    out = [
        "From: <%s>" % rcpt,
        "To: <%s>" % verp,
        "Subject: Automatic reply: out of the office",
        "Date: Thu, 3 Dec 2026 21:33:00 +0000",
        "Message-ID: %s" % stable_id("vacation", orig, rcpt),
        "In-Reply-To: %s" % mid,
        "References: %s" % mid,
        "Auto-Submitted: auto-replied",
        "X-Auto-Response-Suppress: All",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "I am out of the office until Monday with no access to email.",
        "",
    ]
    sys.stdout.write(CRLF.join(out))


def cmd_unsub(frm, to):
    out = [
        "From: <%s>" % frm,
        "To: <%s>" % to,
        "Subject: unsubscribe",
        "Date: Thu, 3 Dec 2026 21:32:00 +0000",
        "Message-ID: %s" % stable_id("unsub", frm, to),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "unsubscribe",
        "",
    ]
    sys.stdout.write(CRLF.join(out))


def cmd_smtp(port, mail_from, rcpt, path):
    data = open(path, "rb").read()
    s = smtplib.SMTP("127.0.0.1", int(port), timeout=10)
    try:
        s.ehlo("mx.example.com")
        code, resp = s.mail(mail_from)
        if code != 250:
            print("MAIL FROM: %d %s" % (code, resp.decode()))
            return 1
        code, resp = s.rcpt(rcpt)
        if code not in (250, 251):
            print("RCPT TO: %d %s" % (code, resp.decode()))
            return 1
        code, resp = s.data(data)
        print("%d %s" % (code, resp.decode()))
        return 0 if code == 250 else 1
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


def cmd_mint(secret_path, purpose, campaign, contact):
    secret = open(secret_path, "rb").read()
    head = (purpose.encode() + int(campaign).to_bytes(4, "big") +
            int(contact).to_bytes(8, "big"))
    mac = hmac.new(secret, head, hashlib.sha256).digest()[:16]
    print(base64.urlsafe_b64encode(head + mac).decode().rstrip("="))
    return 0


def main(argv):
    if len(argv) == 7 and argv[1] == "dsn":
        cmd_dsn(*argv[2:])
        return 0
    if len(argv) == 5 and argv[1] == "arf":
        cmd_arf(*argv[2:])
        return 0
    if len(argv) == 5 and argv[1] == "vacation":
        cmd_vacation(*argv[2:])
        return 0
    if len(argv) == 4 and argv[1] == "unsub":
        cmd_unsub(*argv[2:])
        return 0
    if len(argv) == 6 and argv[1] == "smtp":
        return cmd_smtp(*argv[2:])
    if len(argv) == 6 and argv[1] == "mint":
        return cmd_mint(*argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
