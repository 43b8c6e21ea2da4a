#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""serve_burst.py - a load client for the `campaign serve` end-to-end
tests (serve.bats): many concurrent keep-alive clients hitting the open
pixel, counting the answers.

Usage: serve_burst.py PORT THREADS N PATHS [--signal SIG --after K --pid P]
    N GET requests of the paths in the file PATHS (one a line, taken in
    turn) over THREADS threads, each on its own keep-alive connection
    (http.client, 127.0.0.1:PORT, a 5 s timeout per request).  With
    --signal, once K requests have been answered 200 the signal (TERM,
    INT) is sent to process P, and the clients go on until the server
    stops answering; each thread stops at its first failed request after
    the signal.  Before the signal a failed request is retried on a new
    connection (at most 20 times per thread in all).
    Prints one line: "ok A other B failed C signalled S" - A requests
    answered 200 (with the whole 43-byte body), B answered with another
    status, C that got no complete answer; S is 1 when the signal was sent.
    Exits 1 when more than 60 s passed (a bound, not a measure).
"""
import argparse
import http.client
import os
import signal
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("threads", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("paths")
    ap.add_argument("--signal", choices=["TERM", "INT"])
    ap.add_argument("--after", type=int, default=0)
    ap.add_argument("--pid", type=int)
    a = ap.parse_args()
    with open(a.paths) as f:
        paths = [l.strip() for l in f if l.strip()]
    lock = threading.Lock()
    st = {"next": 0, "ok": 0, "other": 0, "failed": 0, "signalled": 0}
    start = time.monotonic()

    def take():
        with lock:
            if st["next"] >= a.n or time.monotonic() - start > 60:
                return None
            i = st["next"]
            st["next"] += 1
            return paths[i % len(paths)]

    def answered(ok):
        with lock:
            if ok:
                st["ok"] += 1
            else:
                st["other"] += 1
            fire = (a.signal and not st["signalled"] and
                    st["ok"] >= a.after)
            if fire:
                st["signalled"] = 1
        if fire:
            os.kill(a.pid, getattr(signal, "SIG" + a.signal))

    def worker():
        conn = None
        retries = 0
        while True:
            path = take()
            if path is None:
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", a.port,
                                                      timeout=5)
                conn.request("GET", path,
                             headers={"User-Agent": "serve_burst"})
                r = conn.getresponse()
                body = r.read()
                answered(r.status == 200 and len(body) == 43)
                if r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                with lock:
                    st["failed"] += 1
                    after = st["signalled"]
                if conn is not None:
                    conn.close()
                    conn = None
                retries += 1
                if after or retries > 20:
                    break
        if conn is not None:
            conn.close()

    ts = [threading.Thread(target=worker) for _ in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("ok %d other %d failed %d signalled %d"
          % (st["ok"], st["other"], st["failed"], st["signalled"]))
    return 1 if time.monotonic() - start > 60 else 0


if __name__ == "__main__":
    sys.exit(main())
