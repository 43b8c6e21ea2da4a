#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# pace_stats.py - figures of a paced send, for tests/e2e/pace.bats and
# scripts/bench/pace.
#
#   pace_stats.py dumps DIR     the arrival times at smtp-sink (the
#                               mtimes of its per-message dump files):
#                               "N RATE MOST"
#   pace_stats.py rcpts LOG     the accepted recipients' times in a
#                               pace_relay.py log: "N RATE MOST", RATE
#                               from the first one after the first
#                               delivery (until a message has gone
#                               through a relay the loop keeps one
#                               connection to it: relay.c)
#   pace_stats.py conns LOG     "MOST_OPEN CARRIED": the most connections
#                               open at once, and how many connections
#                               carried at least one message
#   pace_stats.py aimd LOG      around the first 421: "BEFORE AFTER LATER
#                               MOST" - the rate of attempts before it, in
#                               [t+1, t+5) and in [t+11, t+15) after it, and
#                               the most attempts in one second after it
#   pace_stats.py once LOG LIST every address of LIST (one a line) was sent
#                               exactly once ("sent" lines of the log):
#                               prints "ok N" or the misses and doubles
#
# RATE is (N - 1) / (last - first); MOST is the most in any 1-second
# window (sliding, [t, t + 1)).
import os
import sys


def stats(t):
    t = sorted(t)
    if len(t) < 2:
        return "%d 0 %d" % (len(t), len(t))
    lo = most = 0
    for hi in range(len(t)):
        while t[lo] <= t[hi] - 1.0:
            lo += 1
        most = max(most, hi - lo + 1)
    rate = (len(t) - 1) / (t[-1] - t[0])
    return "%d %.2f %d" % (len(t), rate, most)


def events(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            w = line.split()
            if len(w) >= 3:
                yield float(w[0]), w[1], w[2:]


def main():
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "dumps":
        print(stats([os.stat(os.path.join(arg, f)).st_mtime_ns / 1e9
                     for f in os.listdir(arg)]))
    elif cmd == "rcpts":
        ev = list(events(arg))
        t = [t for t, k, w in ev if k == "rcpt" and w[-1] == "250"]
        sent = min([t for t, k, w in ev if k == "sent"] or [0])
        n, _, most = stats(t).split()
        _, rate, _ = stats([x for x in t if x >= sent]).split()
        print(n, rate, most)
    elif cmd == "conns":
        open_now = most = 0
        carried = set()
        for t, k, w in events(arg):
            if k == "open":
                open_now += 1
                most = max(most, open_now)
            elif k == "close":
                open_now -= 1
            elif k == "sent":
                carried.add(w[0])
        print(most, len(carried))
    elif cmd == "aimd":
        tries = [(t, w[-1]) for t, k, w in events(arg) if k == "rcpt"]
        first = [t for t, c in tries if c == "421"]
        if not first:
            print("no 421 in the log")
            return 1
        t1 = first[0]
        ok = [t for t, c in tries if t < t1]
        before = (len(ok) - 1) / (ok[-1] - ok[0]) if len(ok) > 1 else 0

        def rate(a, b):
            return len([t for t, c in tries if t1 + a <= t < t1 + b]) / (b - a)

        after = [t for t, c in tries if t >= t1]
        print("%.2f %.2f %.2f %s" % (before, rate(1, 5), rate(11, 15),
                                     stats(after).split()[2]))
    elif cmd == "once":
        want = [a.strip() for a in open(sys.argv[3]) if a.strip()]
        got = {}
        for t, k, w in events(arg):
            if k == "sent":
                got[w[1]] = got.get(w[1], 0) + 1
        missed = [a for a in want if a not in got]
        doubled = [a for a, n in got.items() if n > 1]
        extra = [a for a in got if a not in set(want)]
        if missed or doubled or extra:
            print("missed %s doubled %s extra %s" % (missed[:10],
                                                     doubled[:10], extra[:10]))
            return 1
        print("ok", len(want))
    else:
        print("unknown command", cmd, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main())
