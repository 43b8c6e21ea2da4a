#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""dkim_verify.py - verify every DKIM signature of a message with
python3-dkim (dkimpy), offline: the public keys come from DNS records in
files, as `campaign dkim keygen` prints them (zone-file syntax):

    s2026._domainkey.acme.example. IN TXT ( "v=DKIM1; k=rsa; p=..." "..." )

Usage:
    dkim_verify.py --txt RECORD_FILE [--txt ...] [-v] MESSAGE.eml...
        exit 0 if each message has at least one DKIM-Signature and every
        one of them verifies; 1 if any fails (or a message has none); 2
        on a usage error.  One line per signature on stdout:
            FILE: signature I d=D s=S a=A: pass | FAIL (why)
    dkim_verify.py --txt RECORD_FILE [--txt ...] --keyfile
        print the records as "NAME VALUE" lines: the key file format of
        libopendkim's file query method (see opendkim_verify.sh).

A record file may hold several records; ';' starts a comment.  A file
with no owner name, only the value ("v=DKIM1; ..."), is refused: the
verifier needs to know which selector and domain it belongs to.
"""
import argparse
import logging
import re
import sys

import dkim

RECORD = re.compile(
    r'^(?P<owner>[^\s;"()]+)[ \t]+(?:\d+[ \t]+)?(?:IN[ \t]+)?TXT[ \t]+'
    r'(?P<rdata>\((?:[^)"]|"(?:[^"\\]|\\.)*")*\)|(?:"(?:[^"\\]|\\.)*"[ \t]*)+)',
    re.M | re.I)
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def strip_comments(text):
    """Remove ';' comments that are outside quoted strings."""
    out = []
    for line in text.splitlines():
        quoted = False
        cut = len(line)
        i = 0
        while i < len(line):
            c = line[i]
            if c == "\\" and quoted:
                i += 2
                continue
            if c == '"':
                quoted = not quoted
            elif c == ";" and not quoted:
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


def unescape(s):
    return re.sub(r"\\(\d{3}|.)",
                  lambda m: chr(int(m.group(1))) if m.group(1).isdigit()
                  else m.group(1), s)


def load_records(paths):
    """{owner name with final dot, lower case: TXT value as bytes}"""
    records = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = strip_comments(f.read())
        found = 0
        for m in RECORD.finditer(text):
            owner = m.group("owner").lower()
            if not owner.endswith("."):
                owner += "."
            value = "".join(unescape(s) for s in STRING.findall(m.group("rdata")))
            records[owner] = value.encode("ascii")
            found += 1
        if found == 0:
            sys.exit("dkim_verify.py: %s: no NAME ... TXT record found" % path)
    return records


def signatures(msg):
    d = dkim.DKIM(msg)
    return [dkim.util.parse_tag_value(v) for (n, v) in d.headers
            if n.lower() == b"dkim-signature"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--txt", action="append", required=True,
                    metavar="RECORD_FILE", help="DNS record file (repeatable)")
    ap.add_argument("--keyfile", action="store_true",
                    help="print an opendkim key file and exit")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="dkimpy's debug log on stderr")
    ap.add_argument("message", nargs="*", help="the .eml files")
    args = ap.parse_args()

    records = load_records(args.txt)
    if args.keyfile:
        if args.message:
            ap.error("--keyfile takes no MESSAGE")
        for owner, value in records.items():
            print("%s %s" % (owner.rstrip("."), value.decode("ascii")))
        return 0
    if not args.message:
        ap.error("a MESSAGE is needed")

    logging.basicConfig(stream=sys.stderr,
                        level=logging.DEBUG if args.verbose else logging.ERROR,
                        format="dkimpy: %(message)s")
    logger = logging.getLogger("dkim")

    def dnsfunc(name, timeout=5):
        key = name.decode("ascii").lower()
        if not key.endswith("."):
            key += "."
        return records.get(key)

    failed = 0
    for path in args.message:
        failed += verify_file(path, dnsfunc, logger)
    return 1 if failed else 0


def verify_file(path, dnsfunc, logger):
    """Check every signature of one message; the number that failed."""
    with open(path, "rb") as f:
        msg = f.read()
    sigs = signatures(msg)
    if not sigs:
        print("%s: no DKIM-Signature: FAIL" % path)
        return 1
    failed = 0
    for i, tags in enumerate(sigs):
        try:
            ok = dkim.DKIM(msg, logger=logger).verify(idx=i, dnsfunc=dnsfunc)
            why = "" if ok else " (signature does not verify)"
        except Exception as x:  # dkimpy lets nacl's and others' through
            ok = False
            why = " (%s: %s)" % (type(x).__name__, x)
        print("%s: signature %d d=%s s=%s a=%s: %s%s" % (
            path, i, tags.get(b"d", b"?").decode(),
            tags.get(b"s", b"?").decode(), tags.get(b"a", b"?").decode(),
            "pass" if ok else "FAIL", why))
        failed += not ok
    # the library's own entry point checks the topmost signature
    if failed == 0 and not dkim.verify(msg, dnsfunc=dnsfunc):
        print("%s: dkim.verify() of the topmost signature: FAIL" % path)
        failed += 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
