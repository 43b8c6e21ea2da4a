#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# bounces_check.py - the checker of tests/e2e/bounces_golden.bats: compares
# what `campaign bounces parse --json` printed with the golden corpus
# (tests/data/bounces/NAME.eml + NAME.expect.json), with Sisimai's reading
# of the same files, and with flufl.bounce's test expectations.  Stdlib
# only; every mismatch is printed, one line each, prefixed by the file.
#
#   bounces_check.py golden DATADIR OUTDIR
#       OUTDIR/NAME.json is our output for DATADIR/NAME.eml alone.  Each
#       expected element must match the element at the same position (same
#       number of elements; every expected key equal; diagnostic_contains a
#       substring of diagnostic; "sisimai" is the oracle's, not compared).
#   bounces_check.py concat ALL.json OUTDIR FILE...
#       ALL.json (one invocation over FILE...) is the concatenation of the
#       per-file outputs OUTDIR/NAME.json, in the order of FILE...
#   bounces_check.py sisimai DATADIR ORACLE.jsonl
#       Sisimai's reason for each golden recipient, mapped to our classes
#       (SISIMAI_CLASS), must equal the expected classification, or the
#       expected element must carry "sisimai": {"classification": what
#       Sisimai says, "note": why we are right}.  A stale annotation (they
#       agree, or Sisimai now says something else) is a failure too.
#   bounces_check.py flufl HELPERS.py OUTDIR EXCEPTIONS
#       For every message of flufl.bounce's tests (the DATA table of its
#       testing/helpers.py, read with ast, plus the cases of
#       tests/test_detectors.py listed in FLUFL_EXTRA), the addresses flufl
#       expects must be among our recipients or original recipients
#       (lower-cased), a permanent one
#       classified hard, soft or blocked, a temporary one delayed or soft;
#       unless "FILE ADDRESS" is listed in EXCEPTIONS with a reason.
#       OUTDIR/FILE.json is our output for FILE.
import ast
import json
import os
import sys

# Sisimai 4's reasons (Sisimai::Reason::*) read as our classes.  hard: the
# address or its domain is gone (suspend: the mailbox is disabled;
# notaccept: the host accepts no mail, a null MX).  soft: it may work later
# (full, expired, the remote's own trouble, onhold/undefined: unclear).
# blocked: refused for what was sent or who sent it, not for the address.
SISIMAI_CLASS = {
    "userunknown": "hard", "hostunknown": "hard", "hasmoved": "hard",
    "suspend": "hard", "notaccept": "hard",
    "mailboxfull": "soft", "expired": "soft", "exceedlimit": "soft",
    "systemerror": "soft", "systemfull": "soft", "undefined": "soft",
    "onhold": "soft", "networkerror": "soft", "mailererror": "soft",
    "blocked": "blocked", "rejected": "blocked",
    "policyviolation": "blocked", "spamdetected": "blocked",
    "securityerror": "blocked", "virusdetected": "blocked",
    "contenterror": "blocked", "mesgtoobig": "blocked",
    "norelaying": "blocked", "toomanyconn": "blocked", "speeding": "blocked",
    "syntaxerror": "blocked", "authfailure": "blocked",
    "badreputation": "blocked", "requireptr": "blocked",
    "notcompliantrfc": "blocked", "filtered": "blocked",
    "feedback": "complaint", "vacation": "auto_reply",
    "delivered": "delivered",
}

# flufl.bounce's tests/test_detectors.py: the messages it scans with every
# detector, and what it expects (permanent unless temporary is True).
FLUFL_EXTRA = [
    ("simple_01.txt", [b"bbbsss@example.com"], False),
    ("llnl_01.txt", [b"user1@example.gov"], False),
    ("dumbass_01.txt", [], False),
    ("simple_03.txt", [b"userx@example.za"], True),
]

FAILURE_CLASSES = ("hard", "soft", "blocked")

# the keys every element of the output has (the contract of issue 14)
CONTRACT_KEYS = ("file", "kind", "recipient", "original_recipient", "action",
                 "status", "status_derived", "reply_code", "diagnostic",
                 "remote_mta", "classification", "reason", "message_id",
                 "feedback_type")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def sisimai_class(rec):
    """Sisimai's reading of one recipient as one of our classes."""
    if rec.get("recipient") is None:
        return "unknown"
    if rec.get("action") == "delayed":
        return "delayed"
    return SISIMAI_CLASS.get(rec.get("reason", ""), "unknown")


def compare(name, want, got, out):
    if not isinstance(got, list):
        out.append("%s: output is not a JSON array" % name)
        return
    if len(got) != len(want):
        out.append("%s: %d elements, expected %d (recipients %s)" % (
            name, len(got), len(want),
            [g.get("recipient") for g in got if isinstance(g, dict)]))
    for i, (w, g) in enumerate(zip(want, got)):
        where = "%s[%d]" % (name, i)
        missing = [k for k in CONTRACT_KEYS if k not in g]
        if missing:
            out.append("%s: keys missing from the output: %s" % (where, ", ".join(missing)))
        for k, v in w.items():
            if k == "sisimai":
                continue
            if k == "diagnostic_contains":
                d = g.get("diagnostic")
                if not isinstance(d, str) or v not in d:
                    out.append("%s: diagnostic %r lacks %r" % (where, d, v))
                continue
            if k not in g:
                if k not in CONTRACT_KEYS:
                    out.append("%s: no key %r (expected %r)" % (where, k, v))
            elif g[k] != v:
                out.append("%s: %s is %r, expected %r" % (where, k, g[k], v))


def golden(datadir, outdir):
    out = []
    names = sorted(f[:-4] for f in os.listdir(datadir) if f.endswith(".eml"))
    for name in names:
        exp = os.path.join(datadir, name + ".expect.json")
        if not os.path.exists(exp):
            out.append("%s: no %s.expect.json" % (name, name))
            continue
        try:
            got = load(os.path.join(outdir, name + ".json"))
        except (OSError, ValueError) as e:
            out.append("%s: unreadable output: %s" % (name, e))
            continue
        compare(name + ".eml", load(exp), got, out)
    return names, out


def concat(allpath, outdir, files):
    out = []
    try:
        got = load(allpath)
    except (OSError, ValueError) as e:
        return ["one invocation: unreadable output: %s" % e]
    want = []
    for f in files:
        name = os.path.basename(f)[:-4]
        want.extend(load(os.path.join(outdir, name + ".json")))
    if len(got) != len(want):
        out.append("one invocation: %d elements, the files alone %d" % (
            len(got), len(want)))
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            out.append("one invocation: element %d is %s, alone %s" % (
                i, json.dumps(g, sort_keys=True), json.dumps(w, sort_keys=True)))
            if len(out) > 20:
                break
    return out


def sisimai(datadir, oracle):
    out = []
    by_file = {}
    with open(oracle, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            name = os.path.basename(rec["file"])[:-4]
            by_file.setdefault(name, []).append(rec)
    for name in sorted(f[:-4] for f in os.listdir(datadir) if f.endswith(".eml")):
        recs = by_file.get(name, [{"recipient": None}])
        for i, w in enumerate(load(os.path.join(datadir, name + ".expect.json"))):
            rcpt = w.get("recipient")
            match = [r for r in recs if r.get("recipient") == rcpt]
            if rcpt is None or not match:
                says = "unknown"
                if rcpt is None and recs and recs[0].get("recipient"):
                    says = sisimai_class(recs[0])
            else:
                says = sisimai_class(match[0])
            ours = w.get("classification")
            note = w.get("sisimai")
            where = "%s.eml[%d] %s" % (name, i, rcpt)
            if says == ours:
                if note:
                    out.append("%s: annotated, but Sisimai agrees (%s)" % (where, says))
                continue
            if not note:
                detail = match[0] if match else recs
                out.append("%s: Sisimai says %s, expected %s, not annotated "
                           "(Sisimai: %s)" % (where, says, ours, json.dumps(detail)))
            elif note.get("classification") != says or not note.get("note"):
                out.append("%s: annotated %r, but Sisimai says %s" % (
                    where, note, says))
    return out


def flufl_cases(helpers):
    with open(helpers, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    data = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "DATA" for t in node.targets):
            data = ast.literal_eval(node.value)
    if data is None:
        raise SystemExit("no DATA table in %s" % helpers)
    cases = {}
    for row in data:
        fname, addrs = row[1], row[2]
        temporary = len(row) > 3 and row[3]
        c = cases.setdefault(fname, {})
        for a in addrs:
            c[a.decode().lower()] = temporary
    for fname, addrs, temporary in FLUFL_EXTRA:
        c = cases.setdefault(fname, {})
        for a in addrs:
            c[a.decode().lower()] = temporary
    return cases


def flufl(helpers, outdir, exceptions):
    exc = {}
    used = set()
    with open(exceptions, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3:
                return ["%s: an exception needs FILE ADDRESS REASON: %r" % (
                    exceptions, line)], 0
            exc[(parts[0], parts[1].lower())] = parts[2]
    out = []
    cases = flufl_cases(helpers)
    nchecked = 0
    for fname in sorted(cases):
        try:
            got = load(os.path.join(outdir, fname + ".json"))
        except (OSError, ValueError) as e:
            out.append("%s: unreadable output: %s" % (fname, e))
            continue
        # an address flufl expects may be our recipient or its
        # original_recipient (flufl reads a DSN's Original-Recipient, the
        # address that was sent to, where there is one)
        ours = {}
        for g in got:
            for k in ("recipient", "original_recipient"):
                if g.get(k):
                    ours.setdefault(g[k].lower(), g)
        for addr, temporary in sorted(cases[fname].items()):
            nchecked += 1
            key = (fname, addr)
            g = ours.get(addr)
            want = ("delayed", "soft") if temporary else FAILURE_CLASSES
            ok = g is not None and g.get("classification") in want
            if key in exc:
                used.add(key)
                if ok:
                    out.append("%s %s: listed as an exception but now passes "
                               "(%s): remove it" % (fname, addr, g.get("classification")))
                continue
            if g is None:
                out.append("%s: %s (%s) not among our recipients %s" % (
                    fname, addr, "temporary" if temporary else "permanent",
                    sorted(ours)))
            elif not ok:
                out.append("%s: %s is %s, expected one of %s (diagnostic %r)" % (
                    fname, addr, g.get("classification"), want, g.get("diagnostic")))
    for key in sorted(set(exc) - used):
        out.append("%s %s: an exception for a case flufl's tests do not have" % key)
    return out, nchecked


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    mode = argv[1]
    if mode == "golden":
        names, out = golden(argv[2], argv[3])
        summary = "%d golden files, %d mismatches" % (len(names), len(out))
    elif mode == "concat":
        out = concat(argv[2], argv[3], argv[4:])
        summary = "%d files in one invocation, %d mismatches" % (len(argv) - 4, len(out))
    elif mode == "sisimai":
        out = sisimai(argv[2], argv[3])
        summary = "Sisimai: %d unannotated or stale disagreements" % len(out)
    elif mode == "flufl":
        out, n = flufl(argv[2], argv[3], argv[4])
        summary = "flufl.bounce: %d expected addresses, %d failures" % (n, len(out))
    else:
        raise SystemExit("unknown mode %r" % mode)
    for line in out:
        print(line)
    print(summary)
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
