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
        carry the same Message-ID.  Prints a summary line
        "rows R, sent S, messages M, recipients with copies C, duplicates D"
        and exits 1 with the problems listed when anything is wrong.
"""
import email.parser
import email.policy
import os
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


def messages(d):
    """(file, [rcpt...], message bytes) for every message in d."""
    out = []
    names = sorted(os.listdir(d)) if os.path.isdir(d) else []
    for name in names:
        path = os.path.join(d, name)
        if name.endswith(".env") or name.endswith(".tmp"):
            continue
        data = open(path, "rb").read()
        if name.endswith(".eml") and os.path.exists(path[:-4] + ".env"):
            rcpts = [l[5:].strip().lower() for l in
                     open(path[:-4] + ".env").read().splitlines()
                     if l.startswith("rcpt ")]
            out.append((path, rcpts, data))
            continue
        sink, msg = sink_split(data)
        # "<addr> ORCPT=..." when the relay passes RCPT parameters (DSN)
        rcpts = [l[len(b"X-Rcpt-Args: "):].decode().strip().split(" ")[0]
                 .strip("<>").lower()
                 for l in sink if l.startswith(b"X-Rcpt-Args: ")]
        out.append((path, rcpts, msg))
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
        if copies and state not in ("sent", "uncertain", "bounced",
                                    "deferred", "queued", "expired"):
            problems.append("%s: received, but the ledger says %s"
                            % (r, state))
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


def main(argv):
    if len(argv) == 3 and argv[1] == "list":
        cmd_list(argv[2])
        return 0
    if len(argv) == 4 and argv[1] == "eml":
        cmd_eml(argv[2], argv[3])
        return 0
    if len(argv) == 5 and argv[1] == "check":
        return cmd_check(argv[2], argv[3], argv[4])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
