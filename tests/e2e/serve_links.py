#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""serve_links.py - the links of a message as delivered, and raw HTTP, for
the `campaign serve` end-to-end tests (serve.bats).

A message is read the way a mail client reads it: the smtp-sink dump
(send_dumps.py strips the sink's own lines) parsed by Python's `email`
package (policy.default), the HTML part from get_body(('html',)) and its
attributes from html.parser (so "&amp;" in an href is "&").

Usage:
    serve_links.py links FILE
        one line per link, "KIND<TAB>URL", in document order:
          rcpt          the recipient (from the sink's envelope)
          list-unsub    the URL of the List-Unsubscribe header
          open          <img src> of the open pixel (.../o/TOKEN.gif)
          click         <a href> through the click redirect (.../c/TOKEN)
          view          <a href> of the web view (.../v/TOKEN)
          unsubscribe   <a href> of the unsubscribe page (.../u/TOKEN)
          href          any other <a href>
    serve_links.py html FILE
        the HTML part, as text (UTF-8), exactly as decoded
    serve_links.py same-html FILE VIEW
        the web view (VIEW, the body that GET /v/ answered) is the HTML
        part of FILE with its one open-pixel <img> element removed,
        character for character once CRLF line ends are read as LF (the
        wire's canonical form).  Exit 1 with a diff when not.
    serve_links.py expect-clicks FILE PREVIEW
        "CLICK-URL<TAB>ORIGINAL" for each click link of FILE: the <a href>
        at the same position in PREVIEW, an HTML part rendered with click
        tracking off (attribute-unescaped).  Exit 1 when the two documents
        do not have the same anchors.
    serve_links.py raw PORT [TIMEOUT]
        send stdin's bytes to 127.0.0.1:PORT as they are, read until the
        server closes or TIMEOUT (default 5) seconds pass, print what came
        back (bytes); nothing when the server closed without an answer
    serve_links.py slowloris PORT N SECONDS [READY]
        open N connections and on each send one byte of a request head
        per second for SECONDS seconds (the head is never finished);
        print "open K" - how many of them the server had not closed.
        READY, a file created once all N are connected and have sent
        their first byte
"""
import difflib
import html.parser
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import send_dumps  # noqa: E402

import email  # noqa: E402
import email.policy  # noqa: E402

PIXEL_RE = re.compile(r'<img\s[^>]*src="[^"]*/o/[A-Za-z0-9_-]+\.gif"[^>]*>')


def read_message(path):
    """(recipients, email.message.EmailMessage) of one smtp-sink dump."""
    with open(path, "rb") as f:
        sink, raw = send_dumps.sink_split(f.read())
    rcpts = [l[len(b"X-Rcpt-Args: "):].decode().strip().strip("<>").lower()
             for l in sink if l.startswith(b"X-Rcpt-Args: ")]
    return rcpts, email.message_from_bytes(raw, policy=email.policy.default)


def html_of(path):
    _, msg = read_message(path)
    part = msg.get_body(("html",))
    if part is None:
        raise SystemExit("%s: no HTML part" % path)
    return part.get_content()


class Links(html.parser.HTMLParser):
    """(tag, attribute value) of every <a href> and <img src>, in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href") is not None:
            self.found.append(("a", a["href"]))
        elif tag == "img" and a.get("src") is not None:
            self.found.append(("img", a["src"]))


def links_in(text):
    p = Links()
    p.feed(text)
    p.close()
    return p.found


def kind_of(tag, url):
    m = re.search(r"/([ocuv])/[A-Za-z0-9_-]+(\.gif)?$", url)
    if tag == "img":
        return "open" if m and m.group(1) == "o" else "img"
    if m is None:
        return "href"
    return {"c": "click", "v": "view", "u": "unsubscribe",
            "o": "href"}[m.group(1)]


def cmd_links(path):
    rcpts, msg = read_message(path)
    for r in rcpts:
        print("rcpt\t%s" % r)
    lu = msg.get("List-Unsubscribe")
    if lu is not None:
        for u in re.findall(r"<([^>]*)>", str(lu)):
            if u.startswith("http"):
                print("list-unsub\t%s" % u)
    for tag, url in links_in(html_of(path)):
        k = kind_of(tag, url)
        if k != "img":
            print("%s\t%s" % (k, url))
    return 0


def cmd_html(path):
    sys.stdout.buffer.write(html_of(path).encode("utf-8"))
    return 0


def lf(s):
    return s.replace("\r\n", "\n")


def cmd_same_html(path, view):
    sent = html_of(path)
    pixels = PIXEL_RE.findall(sent)
    if len(pixels) != 1:
        print("%s: %d open pixels in the HTML part, expected 1"
              % (path, len(pixels)))
        return 1
    want = lf(PIXEL_RE.sub("", sent, count=1))
    with open(view, "rb") as f:
        got = lf(f.read().decode("utf-8"))
    if got == want:
        return 0
    print("the web view differs from the HTML part sent (- sent, + view):")
    for line in list(difflib.unified_diff(want.splitlines(),
                                          got.splitlines(),
                                          lineterm=""))[:60]:
        print(line)
    return 1


def cmd_expect_clicks(path, preview):
    sent = [u for t, u in links_in(html_of(path)) if t == "a"]
    with open(preview, "rb") as f:
        orig = [u for t, u in links_in(f.read().decode("utf-8")) if t == "a"]
    if len(sent) != len(orig):
        print("%d anchors sent, %d in the preview" % (len(sent), len(orig)))
        return 1
    n = 0
    for s, o in zip(sent, orig):
        if kind_of("a", s) == "click":
            print("%s\t%s" % (s, o))
            n += 1
    return 0 if n > 0 else 1


def cmd_raw(port, timeout):
    req = sys.stdin.buffer.read()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        try:
            s.sendall(req)
        except OSError:
            pass  # closed while we wrote: read what it answered
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not b:
                break
            out += b
    finally:
        s.close()
    sys.stdout.buffer.write(out)
    return 0


def cmd_slowloris(port, n, seconds, ready=None):
    head = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"X-Slow: " + b"s" * 4096)
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.setblocking(False)
        socks.append(s)
    alive = set(range(n))
    for i in range(seconds):
        for j in list(alive):
            try:
                socks[j].send(head[i:i + 1])
            except OSError:
                alive.discard(j)
        if i == 0 and ready:
            open(ready, "w").close()
        time.sleep(1)
    # a connection the server closed reads as EOF (or a reset)
    for j in list(alive):
        try:
            if socks[j].recv(1) == b"":
                alive.discard(j)
        except BlockingIOError:
            pass
        except OSError:
            alive.discard(j)
    for s in socks:
        s.close()
    print("open %d" % len(alive))
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "links":
        return cmd_links(argv[2])
    if len(argv) == 3 and argv[1] == "html":
        return cmd_html(argv[2])
    if len(argv) == 4 and argv[1] == "same-html":
        return cmd_same_html(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "expect-clicks":
        return cmd_expect_clicks(argv[2], argv[3])
    if len(argv) in (3, 4) and argv[1] == "raw":
        return cmd_raw(int(argv[2]), float(argv[3]) if len(argv) == 4 else 5)
    if len(argv) in (5, 6) and argv[1] == "slowloris":
        return cmd_slowloris(int(argv[2]), int(argv[3]), int(argv[4]),
                             argv[5] if len(argv) == 6 else None)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
