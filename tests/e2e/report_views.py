#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""report_views.py - checks of `campaign report` for report_views.bats:
one campaign's figures read in every format the report has, each against
the others and against the ledger as sqlite3 read it.  Standard library
only.  Every check that fails is listed; exit 1 when any did.

    report_views.py agree LEDGER REPORT TABLE CSV LIST LIST_JSON
        LEDGER     the ledger's figures (report_views.bats ledger_json: one
                   json_object of SQL aggregates over sends and events)
        REPORT     report NAME --format json
        TABLE      report NAME (the table, into a pipe: no width, no colour)
        CSV        report NAME --format csv --out FILE
        LIST       report (every campaign, into a pipe)
        LIST_JSON  report --format json
    report_views.py compare TABLE COMPARE_JSON A_JSON B_JSON
        report --compare A B as a table and as JSON, against report A and
        report B --format json
"""
import csv
import json
import re
import sys

PROBLEMS = []


def check(cond, what):
    if not cond:
        PROBLEMS.append(what)
    return cond


def eq(got, want, what):
    return check(got == want, "%s: got %r, want %r" % (what, got, want))


def n(s):
    """a count as the table prints it: digits in groups of three"""
    if not re.fullmatch(r"-?\d{1,3}(,\d{3})*", s):
        PROBLEMS.append("not a count with thousands separators: %r" % s)
        return None
    return int(s.replace(",", ""))


def pct(num, den):
    """a rate as the table prints it"""
    return "-" if den <= 0 else "%.1f%%" % (100.0 * num / den)


def rate4(num, den):
    return None if den <= 0 else round(num / den, 4)


def rate_ok(r, num, den, of, what):
    eq(r, {"value": rate4(num, den), "numerator": num, "denominator": den,
           "of": of}, what)


def sections(lines):
    """the table of report NAME cut at its section headings"""
    out, cur = {"counts": []}, "counts"
    heads = (("funnel:", "funnel"), ("bounces:", "bounces"),
             ("providers ", "providers"), ("opens and clicks over time", "timeline"),
             ("links ", "links"), ("uncertain recipients", "uncertain"),
             ("not delivered", "undelivered"))
    for line in lines:
        for h, name in heads:
            if line.startswith(h):
                cur = name
                out[cur] = []
                break
        else:
            out[cur].append(line)
    return out


def agree(ledger_f, report_f, table_f, csv_f, list_f, list_json_f):
    L = json.load(open(ledger_f))
    J = json.load(open(report_f))
    table = open(table_f, encoding="utf-8").read().split("\n")
    if table and table[-1] == "":
        table.pop()

    # -- the JSON's counts against the ledger
    for k in ("recipients", "queued", "sent", "deferred", "failed",
              "unbuildable", "held", "bounced_hard", "bounced_soft",
              "blocked", "suppressed", "uncertain", "expired", "cancelled",
              "opens", "opened_unique", "machine_opens",
              "machine_opened_unique", "clicks", "clicked_unique",
              "machine_clicks", "unsubscribed", "complained"):
        eq(J.get(k), L[k], "JSON %s vs the ledger" % k)
    bounced = L["bounced_hard"] + L["bounced_soft"] + L["blocked"]
    eq(sum(L["states"].values()), J["recipients"], "the ledger's states")
    rate_ok(J["bounce_rate"], bounced, L["sent"] + bounced,
            "delivered+bounced", "JSON bounce_rate")
    rate_ok(J["open_rate"], L["opened_delivered"], L["sent"], "delivered",
            "JSON open_rate")
    rate_ok(J["click_rate"], L["clicked_delivered"], L["sent"], "delivered",
            "JSON click_rate")
    rate_ok(J["unsubscribe_rate"], L["unsubscribed_delivered"], L["sent"],
            "delivered", "JSON unsubscribe_rate")
    rate_ok(J["complaint_rate"], L["complained_delivered"], L["sent"],
            "delivered", "JSON complaint_rate")

    # -- the funnel: recipients, handed to a relay, accepted, and the
    # people among the accepted who opened and clicked
    want = [("recipients", L["recipients"], None),
            ("sent", L["attempted"], "recipients"),
            ("accepted", L["sent"], "sent"),
            ("opened", L["opened_delivered"], "accepted"),
            ("clicked", L["clicked_delivered"], "accepted")]
    counts = {}
    got = J.get("funnel", [])
    eq([s.get("step") for s in got], [w[0] for w in want], "funnel steps")
    for s, (step, count, of) in zip(got, want):
        counts[step] = count
        eq(s.get("count"), count, "funnel %s count vs the ledger" % step)
        if of is None:
            check("of" not in s and "rate" not in s,
                  "funnel %s: a rate of nothing: %r" % (step, s))
        else:
            eq(s.get("of"), of, "funnel %s of" % step)
            eq(s.get("rate"), rate4(count, counts[of]), "funnel %s rate" % step)

    # -- bounces: by class as the top-level counts; by status and the top
    # replies add up to them
    B = J.get("bounces", {})
    eq(B.get("by_class"),
       [{"class": "hard", "recipients": J["bounced_hard"]},
        {"class": "soft", "recipients": J["bounced_soft"]},
        {"class": "blocked", "recipients": J["blocked"]}], "bounces.by_class")
    eq(sorted((x["class"], x["status"], x["recipients"])
              for x in B.get("by_status", [])),
       sorted(tuple(x) for x in L["bounce_status"]),
       "bounces.by_status vs the ledger")
    eq(sum(x["recipients"] for x in B.get("top_diagnostics", [])), bounced,
       "bounces.top_diagnostics recipients")
    for c in ("hard", "soft", "blocked"):
        eq(sum(x["recipients"] for x in B.get("by_status", [])
               if x["class"] == c),
           J["bounced_" + c if c != "blocked" else "blocked"],
           "bounces.by_status of class %s" % c)

    # -- by_domain (PRODUCT.md): the document's counts per recipient
    # domain, which add up to the document's own (fewer than 50 domains
    # here: none in "(other)")
    D = J.get("by_domain", [])
    check(D and all(d["domain"] != "(other)" for d in D),
          "by_domain: every domain its own row")
    for k in ("recipients", "queued", "sent", "deferred", "failed",
              "bounced_hard", "bounced_soft", "blocked", "suppressed",
              "complained", "unsubscribed", "opened_unique", "opens",
              "clicked_unique", "clicks"):
        eq(sum(d[k] for d in D), J[k], "by_domain's %s summed" % k)
    eq(sorted(d["domain"] for d in D), sorted(L["domains"]),
       "by_domain's domains, each recipient's")

    # -- providers: every recipient in one row; each row's rates of its
    # own counts
    P = J.get("providers", [])
    for k, want_sum, what in (("recipients", L["recipients"], "recipients"),
                              ("sent", L["attempted"], "handed to a relay"),
                              ("delivered", L["sent"], "sent"),
                              ("deferred", L["waited"], "waited"),
                              ("bounced", bounced, "bounced"),
                              ("opened", L["opened_delivered"], "opened"),
                              ("clicked", L["clicked_delivered"], "clicked")):
        eq(sum(p[k] for p in P), want_sum,
           "the providers' %s summed vs the ledger's %s" % (k, what))
    eq([[p["provider"], p["recipients"]] for p in P], L["providers"],
       "the providers, the largest first")
    for p in P:
        w = "provider %s" % p["provider"]
        rate_ok(p["delivery_rate"], p["delivered"], p["sent"], "sent",
                w + " delivery_rate")
        rate_ok(p["deferral_rate"], p["deferred"], p["sent"], "sent",
                w + " deferral_rate")
        rate_ok(p["bounce_rate"], p["bounced"], p["delivered"] + p["bounced"],
                "delivered+bounced", w + " bounce_rate")
        rate_ok(p["open_rate"], p["opened"], p["delivered"], "delivered",
                w + " open_rate")
        rate_ok(p["click_rate"], p["clicked"], p["delivered"], "delivered",
                w + " click_rate")

    # -- the timeline: every open and click in one bucket, from the hour
    # the campaign started
    T = J.get("timeline", {})
    bk = T.get("buckets", [])
    eq(T.get("start"), L["started_hour"], "timeline start")
    if L["opens"] + L["clicks"] + L["machine_opens"] + L["machine_clicks"]:
        check(bk and bk[0]["at"] == T.get("start"),
              "the first bucket is not at the start: %r" % bk[:1])
    else:
        eq(bk, [], "the timeline without events")
    for k in ("opens", "clicks", "machine_opens", "machine_clicks"):
        eq(sum(b[k] for b in bk), J[k], "timeline %s summed vs JSON %s" % (k, k))
    eq(sum(b["machine_opens"] for b in bk), L["machine_opens"],
       "timeline machine_opens vs the ledger")
    for i, b in enumerate(bk):
        eq(b["hours"], 1 if i < 48 else 24, "bucket %d hours" % i)

    # -- links: people's clicks by URL
    eq([[x["url"], x["clicks"], x["clicked_unique"]] for x in J.get("links", [])],
       L["links"], "links vs the ledger")
    eq(sum(x["clicks"] for x in J.get("links", [])), J["clicks"],
       "links' clicks summed vs JSON clicks")

    # -- the table of report NAME says what the JSON says
    S = sections(table)
    keys = [k for k, v in J.items()
            if not isinstance(v, list)
            and (not isinstance(v, dict) or "of" in v)]
    got_keys = [l.split(None, 1)[0] for l in S["counts"]]
    eq(got_keys, keys, "the table's key lines")
    for line in S["counts"]:
        k, _, v = line.partition(" ")
        v = v.strip()
        check(line.startswith("%-22s " % k), "key line not aligned: %r" % line)
        j = J.get(k)
        if isinstance(j, bool) or j is None:
            eq(v, "-", "table %s" % k)
        elif isinstance(j, int):
            eq(n(v), j, "table %s" % k)
            eq(v, "{:,}".format(j), "table %s as printed" % k)
        elif isinstance(j, dict):
            eq(v, "%s (%d of %d %s)" % (pct(j["numerator"], j["denominator"]),
                                        j["numerator"], j["denominator"],
                                        j["of"]), "table %s" % k)
        else:
            eq(v, j, "table %s" % k)
    fun = []
    for line in S.get("funnel", []):
        m = re.fullmatch(r"  (\w+) +(\S+)(?: +(\S+) of (\w+))?", line)
        if check(m, "funnel line %r" % line):
            fun.append((m.group(1), n(m.group(2)), m.group(3), m.group(4)))
    want = []
    for s in J["funnel"]:
        if "of" in s:
            base = [x for x in J["funnel"] if x["step"] == s["of"]][0]["count"]
            want.append((s["step"], s["count"], pct(s["count"], base), s["of"]))
        else:
            want.append((s["step"], s["count"], None, None))
    eq(fun, want, "the table's funnel")
    bl = S.get("bounces", [])
    eq(bl[:1], ["  by class: " + ", ".join(
        "%s %s" % (x["class"], "{:,}".format(x["recipients"]))
        for x in J["bounces"]["by_class"])], "the table's bounces by class")
    st = [re.fullmatch(r" +(\S+)  (\S+) +(\S+)", l) for l in bl
          if re.fullmatch(r" +[\d,]+  \S+ +\S+", l)]
    eq([(n(m.group(1)), m.group(2), m.group(3)) for m in st],
       [(x["recipients"], x["class"], x["status"])
        for x in J["bounces"]["by_status"]], "the table's bounces by status")
    pl = S.get("providers", [])
    eq(pl[:1], ["  %-24s %10s %10s %10s %10s %10s %10s" % (
        "PROVIDER", "RECIPIENTS", "DELIVERED%", "BOUNCE%", "DEFERRED%",
        "OPEN%", "CLICK%")], "the providers' header")
    eq([l.split() for l in pl[1:]],
       [[p["provider"], "{:,}".format(p["recipients"])] +
        [pct(p[r]["numerator"], p[r]["denominator"])
         for r in ("delivery_rate", "bounce_rate", "deferral_rate",
                   "open_rate", "click_rate")] for p in P],
       "the table's providers")
    tl = S.get("timeline", [])
    eq(tl[:1], [] if not bk else ["  %-17s %3s %10s %10s %14s" % ("FROM", "H", "OPENS", "CLICKS",
                                               "MACHINE-OPENS")],
       "the timeline's header")
    eq([l.split()[:5] for l in tl[1:]],
       [[b["at"], str(b["hours"]), "{:,}".format(b["opens"]),
         "{:,}".format(b["clicks"]), "{:,}".format(b["machine_opens"])]
        for b in bk if b["opens"] + b["clicks"] + b["machine_opens"] +
        b["machine_clicks"] > 0], "the table's timeline")
    ll = S.get("links", [])
    eq([tuple(l.split(None, 4)) for l in ll],
       [("{:,}".format(x["clicks"]), "clicks", "{:,}".format(x["clicked_unique"]),
         "people", x["url"]) for x in J["links"]], "the table's links")
    ul = S.get("uncertain", [])
    eq([l.split() for l in ul],
       [[u["email"], u["message_id"], "(%s)" % u["state"]]
        for u in J["uncertain_recipients"]], "the table's uncertain recipients")
    dl = S.get("undelivered", [])
    eq([int(l.split()[0]) for l in dl],
       [g["recipients"] for g in J["undelivered"]], "the table's undelivered")
    eq(sum(int(l.split()[0]) for l in dl),
       J["recipients"] - J["sent"] - J["queued"], "undelivered groups summed")

    # -- the CSV: one row per recipient
    rows = list(csv.reader(open(csv_f, newline="", encoding="utf-8")))
    eq(rows[:1], [["email", "state", "reply_code", "reply_status",
                   "reply_text", "bounce_class", "first_open", "clicks",
                   "unsubscribed"]], "the CSV's header")
    rows = rows[1:]
    eq(len(rows), L["recipients"], "the CSV's rows")
    by_state = {}
    for r in rows:
        by_state[r[1]] = by_state.get(r[1], 0) + 1
    eq(by_state, L["states"], "the CSV's rows by state vs the ledger")
    eq(sum(int(r[7]) for r in rows), J["clicks"], "the CSV's clicks summed")
    eq(sum(1 for r in rows if r[6]), J["opened_unique"],
       "the CSV's first opens")
    eq(sum(1 for r in rows if r[6] and r[1] == "sent"), counts["opened"],
       "the CSV's first opens among the delivered vs the funnel's opened")
    eq(sum(1 for r in rows if r[8] == "yes"), J["unsubscribed"],
       "the CSV's unsubscribed")
    check(set(r[8] for r in rows) <= {"no", "yes"}, "the CSV's unsubscribed values")
    for c in ("hard", "soft", "blocked"):
        eq(sum(1 for r in rows if r[1] == "bounced" and r[5] == c),
           J["bounced_" + c if c != "blocked" else "blocked"],
           "the CSV's %s bounces" % c)
    eq(sum(1 for r in rows if r[1] != "bounced" and r[5]), 0,
       "the CSV's bounce classes outside bounced rows")

    # -- the list: the campaign's row, and its JSON element
    lst = open(list_f, encoding="utf-8").read().split("\n")
    head = lst[0].split()
    row = [l.split() for l in lst[1:] if l.split()[:1] == [J["campaign"]]]
    if check(len(row) == 1, "no row of %s in the list" % J["campaign"]):
        cell = dict(zip(head, row[0]))
        for col, k in (("RECIPIENTS", "recipients"), ("SENT", "sent"),
                       ("QUEUED", "queued"), ("DEFERRED", "deferred"),
                       ("FAILED", "failed"), ("UNBUILDABLE", "unbuildable"),
                       ("HELD", "held")):
            eq(n(cell.get(col, "?")), J[k], "the list's %s" % col)
        eq(n(cell.get("BOUNCED", "?")), bounced, "the list's BOUNCED")
        eq(cell.get("STATUS"), J["status"], "the list's STATUS")
        for col, k in (("BOUNCE%", "bounce_rate"), ("COMPLAINT%", "complaint_rate"),
                       ("UNSUB%", "unsubscribe_rate"), ("OPEN%", "open_rate"),
                       ("CLICK%", "click_rate")):
            eq(cell.get(col), pct(J[k]["numerator"], J[k]["denominator"]),
               "the list's %s" % col)
    el = [d for d in json.load(open(list_json_f)) if d["campaign"] == J["campaign"]]
    if check(len(el) == 1, "no element of %s in the list's JSON" % J["campaign"]):
        for k, v in el[0].items():
            eq(v, J.get(k), "the list's JSON %s vs report NAME's" % k)


def compare(table_f, cmp_f, a_f, b_f):
    C = json.load(open(cmp_f))
    A, B = json.load(open(a_f)), json.load(open(b_f))
    check(list(C) == ["compare"] and len(C["compare"]) == 2,
          "not {\"compare\": [A, B]}: keys %r" % list(C))
    eq(C["compare"][0], A, "compare[0] vs report A --format json")
    eq(C["compare"][1], B, "compare[1] vs report B --format json")
    lines = open(table_f, encoding="utf-8").read().split("\n")
    eq(lines[0].split(), ["A", A["campaign"]], "the table's first line")
    eq(lines[1].split(), ["B", B["campaign"]], "the table's second line")
    eq(lines[2].split(), ["A", "B", "B-A"], "the table's header")
    eq(lines[3].split(), ["status", A["status"], B["status"]], "status row")
    seen = []
    for line in lines[4:]:
        f = line.split()
        if len(f) == 4 and f[0] in A and isinstance(A[f[0]], int):
            k = f[0]
            seen.append(k)
            eq([n(f[1]), n(f[2]), n(f[3])], [A[k], B[k], B[k] - A[k]],
               "compare row %s (A, B, B-A)" % k)
        elif f and f[0].endswith("_rate"):
            k = f[0]
            seen.append(k)
            ra, rb = A[k], B[k]
            cell = lambda r: "%s (%d/%d)" % (pct(r["numerator"], r["denominator"]),
                                             r["numerator"], r["denominator"])
            d = "-"
            if ra["denominator"] > 0 and rb["denominator"] > 0:
                d = "%+.1f pt" % (100.0 * rb["numerator"] / rb["denominator"] -
                                  100.0 * ra["numerator"] / ra["denominator"])
            eq(" ".join(f[1:]), " ".join([cell(ra), cell(rb), d]),
               "compare row %s" % k)
    eq(seen, ["recipients", "sent", "deferred", "bounced_hard", "bounced_soft",
              "blocked", "complained", "unsubscribed", "opened_unique",
              "machine_opened_unique", "clicked_unique", "bounce_rate",
              "complaint_rate", "unsubscribe_rate", "open_rate", "click_rate"],
       "the compare table's rows")


def main(argv):
    if len(argv) == 8 and argv[1] == "agree":
        agree(*argv[2:])
    elif len(argv) == 6 and argv[1] == "compare":
        compare(*argv[2:])
    else:
        sys.exit(__doc__)
    if PROBLEMS:
        print("\n".join(PROBLEMS))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
