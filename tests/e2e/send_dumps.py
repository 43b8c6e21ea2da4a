#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""send_dumps.py - read what the test relays received, for the send_*.bats
end-to-end tests.

Postfix's smtp-sink with -d writes one file per mail transaction: its own
header lines (X-Client-Addr, X-Client-Proto, X-Helo-Args, X-Mail-Args,
one X-Rcpt-Args per recipient), a three-line Received: header, then the
message as received (dot-unstuffed, LF line ends), then one empty line.
Only transactions that ended with the final dot are written.
smtp_server.py (aiosmtpd) writes N.eml (exact bytes) and N.env.

Usage:
    send_dumps.py list DIR
        one line per recipient of every message: "RCPT<TAB>MESSAGE-ID<TAB>FILE"
        (recipients lower-cased, without angle brackets)
    send_dumps.py eml DIR OUT
        every smtp-sink dump as OUT/NAME.eml: the sink's headers removed,
        CRLF line ends restored - the bytes the client sent
    send_dumps.py check DB CAMPAIGN DIR
        the delivery promise, checked against the ledger: every ledger
        row of CAMPAIGN in state sent has at least one message; every
        message went to a recipient of the campaign and carries the
        Message-ID the ledger recorded for that recipient; a recipient
        with more than one copy has was_uncertain > 0 and all copies
        carry the same Message-ID; a copy to a row the ledger calls
        bounced, deferred, queued or expired is allowed only when the row
        was ever uncertain (a dot that went out with no reply, then a
        retry that ended so) - any other copy to a row not sent is a
        message the ledger lost (so is any copy to a skipped, failed or
        sending row).  Prints a summary line
        "rows R, sent S, messages M, recipients with copies C, duplicates D"
        and exits 1 with the problems listed when anything is wrong.
    send_dumps.py tokens SECRET BASE_URL DIR
        every token of every message, decoded and checked here, apart from
        the engine (engine/track.h: base64url of purpose, campaign (4
        bytes, big-endian), contact (8 bytes), a click's URL, then the
        HMAC-SHA256 of all that with the secret, truncated to 16 bytes):
        one line per token,
        "RCPT<TAB>WHERE<TAB>PURPOSE<TAB>CAMPAIGN<TAB>CONTACT<TAB>MAC<TAB>TOKEN[<TAB>URL]"
        where WHERE is envelope (the VERP MAIL FROM bounces+TOKEN@...),
        header-url and header-mailto (List-Unsubscribe), html or text (a
        BASE_URL/P/TOKEN link in that part); PURPOSE the token's first
        byte (u, o, c, v, b; "?" when it does not decode); MAC "valid" or
        "bad".  A body link whose path letter is not the token's purpose
        is printed with MAC "bad".  A message with no VERP sender prints
        one envelope line with PURPOSE "-" and the sender as TOKEN.
"""
import base64
import email
import email.parser
import email.policy
import hashlib
import hmac
import os
import re
import sqlite3
import sys


def sink_split(data):
    """(sink header lines, message bytes with CRLF) of one smtp-sink dump."""
    lines = data.split(b"\n")
    i = 0
    sink = []
    while i < len(lines) and lines[i].startswith(b"X-"):
        sink.append(lines[i])
        i += 1
    if i < len(lines) and lines[i].startswith(b"Received: "):
        i += 1
        while i < len(lines) and lines[i][:1] in (b"\t", b" "):
            i += 1
    rest = b"\n".join(lines[i:])
    # the sink adds one empty line after the message
    if rest.endswith(b"\n"):
        rest = rest[:-1]
    return sink, rest.replace(b"\n", b"\r\n")


def messages(d, with_sender=False):
    """(file, [rcpt...], message bytes) for every message in d; with
    with_sender, (file, [rcpt...], message bytes, MAIL FROM address)."""
    out = []
    names = sorted(os.listdir(d)) if os.path.isdir(d) else []
    for name in names:
        path = os.path.join(d, name)
        if name.endswith(".env") or name.endswith(".tmp"):
            continue
        data = open(path, "rb").read()
        if name.endswith(".eml") and os.path.exists(path[:-4] + ".env"):
            env = open(path[:-4] + ".env").read().splitlines()
            rcpts = [l[5:].strip().lower() for l in env
                     if l.startswith("rcpt ")]
            sender = [l[5:].strip() for l in env if l.startswith("from ")]
            out.append((path, rcpts, data) + ((sender[0] if sender else "",)
                                              if with_sender else ()))
            continue
        sink, msg = sink_split(data)
        # "<addr> ORCPT=..." when the relay passes RCPT parameters (DSN)
        rcpts = [l[len(b"X-Rcpt-Args: "):].decode().strip().split(" ")[0]
                 .strip("<>").lower()
                 for l in sink if l.startswith(b"X-Rcpt-Args: ")]
        # "X-Mail-Args: <addr> BODY=8BITMIME ..."
        sender = [l[len(b"X-Mail-Args: "):].decode().strip().split(" ")[0]
                  .strip("<>") for l in sink if l.startswith(b"X-Mail-Args: ")]
        out.append((path, rcpts, msg) + ((sender[0] if sender else "",)
                                         if with_sender else ()))
    return out


def message_id(msg):
    hdr = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    v = hdr.parsebytes(msg).get("Message-ID")
    return v.strip() if v else ""


def cmd_list(d):
    for path, rcpts, msg in messages(d):
        mid = message_id(msg)
        for r in rcpts:
            print("%s\t%s\t%s" % (r, mid, path))


def cmd_eml(d, out):
    os.makedirs(out, exist_ok=True)
    for path, rcpts, msg in messages(d):
        name = os.path.basename(path)
        if not name.endswith(".eml"):
            name += ".eml"
        with open(os.path.join(out, name), "wb") as f:
            f.write(msg)


def cmd_check(db, campaign, d):
    con = sqlite3.connect(db, timeout=30)
    rows = {}
    for email_, state, mid, unc in con.execute(
            "SELECT c.email, s.state, s.message_id, s.was_uncertain "
            "FROM sends s JOIN contacts c ON c.id = s.contact_id "
            "JOIN campaigns k ON k.id = s.campaign_id WHERE k.name = ?",
            (campaign,)):
        rows[email_.lower()] = (state, mid, unc)
    got = {}
    problems = []
    msgs = messages(d)
    for path, rcpts, msg in msgs:
        mid = message_id(msg)
        for r in rcpts:
            got.setdefault(r, []).append((mid, path))
            if r not in rows:
                problems.append("%s: a message to %s, not a recipient"
                                % (path, r))
    sent = 0
    dups = 0
    for r, (state, mid, unc) in sorted(rows.items()):
        copies = got.get(r, [])
        if state == "sent":
            sent += 1
            if not copies:
                problems.append("%s: sent in the ledger, never received" % r)
        if copies and state not in ("sent", "uncertain") and not (
                unc and state in ("bounced", "deferred", "queued",
                                  "expired")):
            problems.append("%s: received (%d copies), but the ledger says "
                            "%s%s" % (r, len(copies), state,
                                      "" if unc else
                                      " and the row was never uncertain"))
        for cmid, path in copies:
            if mid is not None and cmid != mid:
                problems.append("%s: %s has Message-ID %s, the ledger %s"
                                % (r, path, cmid, mid))
        if len(copies) > 1:
            dups += len(copies) - 1
            if not unc:
                problems.append("%s: %d copies but was_uncertain = 0"
                                % (r, len(copies)))
            if len({m for m, _ in copies}) != 1:
                problems.append("%s: copies with different Message-IDs: %s"
                                % (r, sorted({m for m, _ in copies})))
    print("rows %d, sent %d, messages %d, recipients with copies %d, "
          "duplicates %d" % (len(rows), sent, len(msgs), len(got), dups))
    if problems:
        print("\n".join(problems[:40]))
        if len(problems) > 40:
            print("... and %d more" % (len(problems) - 40))
        return 1
    return 0


def b64url_decode(t):
    return base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))


def token_fields(secret, tok):
    """(purpose, campaign, contact, "valid"|"bad", url) of a token."""
    try:
        raw = b64url_decode(tok)
    except (ValueError, TypeError):
        return "?", "", "", "bad", ""
    if len(raw) < 13 + 16:
        return "?", "", "", "bad", ""
    head, mac = raw[:-16], raw[-16:]
    want = hmac.new(secret, head, hashlib.sha256).digest()[:16]
    ok = "valid" if hmac.compare_digest(mac, want) else "bad"
    purpose = chr(raw[0]) if 32 < raw[0] < 127 else "?"
    campaign = int.from_bytes(raw[1:5], "big")
    contact = int.from_bytes(raw[5:13], "big")
    url = raw[13:-16].decode("utf-8", "replace")
    return purpose, campaign, contact, ok, url


def cmd_tokens(secret_path, base_url, d):
    secret = open(secret_path, "rb").read()
    base = re.escape(base_url.rstrip("/"))
    link = re.compile(base + r"/([a-z])/([A-Za-z0-9_-]+)")
    verp = re.compile(r"^bounces\+([A-Za-z0-9_-]+)@")
    mailto = re.compile(r"mailto:unsubscribe\+([A-Za-z0-9_-]+)@")

    def line(rcpt, where, tok, letter=None):
        p, camp, contact, ok, url = token_fields(secret, tok)
        if letter is not None and letter != p:
            ok = "bad"
        f = [rcpt, where, p, str(camp), str(contact), ok, tok]
        if url:
            f.append(url)
        print("\t".join(f))

    for path, rcpts, msg, sender in messages(d, with_sender=True):
        rcpt = ",".join(rcpts)
        m = verp.match(sender)
        if m:
            line(rcpt, "envelope", m.group(1))
        else:
            print("\t".join([rcpt, "envelope", "-", "", "", "", sender]))
        parsed = email.message_from_bytes(msg, policy=email.policy.compat32)
        lu = " ".join(parsed.get_all("List-Unsubscribe") or [])
        lu = re.sub(r"\r?\n[ \t]", " ", lu)
        for m in link.finditer(lu):
            line(rcpt, "header-url", m.group(2), m.group(1))
        for m in mailto.finditer(lu):
            line(rcpt, "header-mailto", m.group(1))
        for part in parsed.walk():
            ctype = part.get_content_type()
            if ctype not in ("text/html", "text/plain"):
                continue
            body = part.get_payload(decode=True).decode("utf-8", "replace")
            # HTML attributes carry &amp; for &: the token alphabet has
            # neither, so the match stops where the token does
            for m in link.finditer(body):
                line(rcpt, "html" if ctype == "text/html" else "text",
                     m.group(2), m.group(1))


def main(argv):
    if len(argv) == 3 and argv[1] == "list":
        cmd_list(argv[2])
        return 0
    if len(argv) == 4 and argv[1] == "eml":
        cmd_eml(argv[2], argv[3])
        return 0
    if len(argv) == 5 and argv[1] == "check":
        return cmd_check(argv[2], argv[3], argv[4])
    if len(argv) == 5 and argv[1] == "tokens":
        cmd_tokens(argv[2], argv[3], argv[4])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
