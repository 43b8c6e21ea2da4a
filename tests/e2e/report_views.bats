#!/usr/bin/env bats
# Issue 16, `campaign report`: the views of one campaign (the funnel, the
# bounces, the receiving providers, opens and clicks over time, the
# links), the list of every campaign sized to the terminal, --compare and
# --uncertain.  The campaigns are real: sent through smtp_server.py (a
# scripted aiosmtpd relay: 550 5.1.1, 552, 554 and 451 at RCPT by local
# part, a connection cut after one dot) or smtp-sink on loopback; opens,
# clicks and a one-click unsubscribe through `campaign serve`; a hard
# bounce and a complaint through `bounces ingest` of a DSN and an ARF
# report built by bounce_make.py from the very messages sent.  Then the
# figures are read in every format and held against each other and
# against the ledger read with sqlite3 (report_views.py).

load lib
load send_lib
load serve_lib

MAKE="$BATS_TEST_DIRNAME/bounce_make.py"
CHECK="$BATS_TEST_DIRNAME/report_views.py"
GOOGLE_PROXY_UA='Mozilla/5.0 (compatible; GoogleImageProxy)'
# Apple Mail Privacy Protection's user agent: a machine's open
APPLE_MPP_UA='Mozilla/5.0'
# the people of the main campaign: by the relay's script, unknown.* is
# refused 550 5.1.1, full.* 552 5.2.2 (soft), blocked.* 554 5.7.1,
# defer.* 451 4.2.0, and the connection is cut after dropdot.*'s dot
# once (uncertain, then sent again); over five providers
PEOPLE=(ann@gmail.com ben@gmail.com dropdot.cy@gmail.com dan@outlook.com
    unknown.ed@outlook.com fay@outlook.com gus@example.org defer.hu@example.org
    blocked.ida@example.org jo@example.net kim@example.net lee@yahoo.com
    full.mo@yahoo.com)

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# views_templates - this file's templates in $TPL: views (three links,
# the third only for a contact with a tag) and summer (another subject)
views_templates() {
    TPL="$BATS_TEST_TMPDIR/tpl"
    mkdir -p "$TPL"
    cat >"$TPL/views.mustache" <<'T'
Subject: Spring news

<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Spring news</title></head>
<body>
<p>Hello {{first_name}},</p>
<p><a href="https://shop.acme.example/spring">the spring collection</a></p>
<p><a href="https://shop.acme.example/summer?a=1&amp;b=2">the summer preview</a></p>
{{#tag}}<p><a href="https://shop.acme.example/for?n={{tag}}">picked for you</a></p>{{/tag}}
</body>
</html>
T
    sed 's/^Subject: Spring news$/Subject: Summer is here/' "$TPL/views.mustache" >"$TPL/summer.mustache"
}

# msg_of EMAIL [CAMPAIGN] - serve_lib's, of campaign $CAMP by default
# (serve_lib's link and lpath find the message through it)
msg_of() {
    local mid f
    mid=$(q "SELECT s.message_id FROM sends s JOIN contacts c ON c.id = s.contact_id
               JOIN campaigns k ON k.id = s.campaign_id
              WHERE c.email = $(sqlstr "$1") AND k.name = $(sqlstr "${2:-$CAMP}");")
    [ -n "$mid" ] || { fail "no ledger row for $1 in ${2:-$CAMP}"; return 1; }
    f=$(received | awk -F'\t' -v r="$1" -v m="$mid" '$1 == r && $2 == m { print $3; exit }')
    [ -n "$f" ] || { fail "no message $mid to $1 in $SINK_DUMP"; return 1; }
    printf '%s\n' "$f"
}

# sinkish SRC DST - the N.eml and N.env of smtp_server.py as smtp-sink
# dumps (the envelope as X-Mail-Args and X-Rcpt-Args lines, LF line ends,
# an empty line after), which serve_links.py and bounce_make.py read
sinkish() {
    "$PY" -c '
import os, sys
src, dst = sys.argv[1:3]
os.makedirs(dst, exist_ok=True)
for n in sorted(os.listdir(src)):
    if not n.endswith(".eml"):
        continue
    env = open(os.path.join(src, n[:-4] + ".env")).read().splitlines()
    head = ["X-Mail-Args: <%s>" % l[5:] for l in env if l.startswith("from ")]
    head += ["X-Rcpt-Args: <%s>" % l[5:] for l in env if l.startswith("rcpt ")]
    body = open(os.path.join(src, n), "rb").read().replace(b"\r\n", b"\n")
    with open(os.path.join(dst, "m." + n[:-4]), "wb") as f:
        f.write(("\n".join(head) + "\n").encode() + body + b"\n")
' "$1" "$2"
}

# relay_conf - smtp_server.py started, campaign.conf for it with a VERP
# bounce domain and serve on a free port (click_seconds 0: the clicks come
# right after the send)
relay_conf() {
    serve --mode plain
    SERVE_PORT=$(free_port)
    SERVE_URL="http://127.0.0.1:$SERVE_PORT"
    SINK_PORT=$SRV_PORT
    serve_conf "click_seconds = 0"
    sed -i 's/^from = .*/&\nbounce_domain = bounces.acme.example/' "$BATS_TEST_TMPDIR/campaign.conf"
}

# main_send - campaign spring (template views) to PEOPLE through
# smtp_server.py; the messages as smtp-sink dumps in $SINK_DUMP
main_send() {
    CAMP=spring
    views_templates
    list_of "${PEOPLE[@]}"
    relay_conf
    crun 0 --templates "$TPL" send --template views --list news --campaign spring
    assert_contains "$output" "campaign spring: sent 9, deferred 1, bounced 3, failed 0" || return 1
    SINK_DUMP="$BATS_TEST_TMPDIR/dump"
    sinkish "$SRV_MAIL" "$SINK_DUMP" || fail "sinkish" || return 1
    assert_eq "$(received | cut -f1 | sort | uniq -c | awk '{ print $1 }' | sort | uniq -c | tr -s ' ')" \
        " 8 1
 1 2" "copies received (dropdot.cy's twice)"
}

# hit KIND EMAIL UA CODE [N] - GET the Nth link of KIND in EMAIL's message
hit() {
    hget "$(lpath "$1" "$2" "${5:-1}")" -A "$3"
    expect_code "$4"
}

# nevents_is N - the campaigns' events number N
nevents_is() {
    [ "$(count events)" -eq "$1" ]
}

# main_campaign - main_send, then through serve: ann opens twice and
# clicks the first link twice; ben opens and clicks the second; Gmail's
# proxy fetches dropdot.cy's pixel; dan opens and unsubscribes (one-click
# POST); gus opens (before his bounce); Apple's proxy fetches jo's pixel
# and a link checker HEADs his first link; kim clicks without an open (an
# open implied).  Then gus's message bounces (a DSN: hard) and fay
# complains (ARF).
main_campaign() {
    main_send || return 1
    start_serve || return 1
    hit open ann@gmail.com "$CHROME_UA" 200 || return 1
    hit open ann@gmail.com "$CHROME_UA" 200 || return 1
    hit click ann@gmail.com "$CHROME_UA" 302 1 || return 1
    hit click ann@gmail.com "$CHROME_UA" 302 1 || return 1
    hit open ben@gmail.com "$CHROME_UA" 200 || return 1
    hit click ben@gmail.com "$CHROME_UA" 302 2 || return 1
    hit open dropdot.cy@gmail.com "$GOOGLE_PROXY_UA" 200 || return 1
    hit open dan@outlook.com "$CHROME_UA" 200 || return 1
    hpost "$(lpath list-unsub dan@outlook.com)" -d List-Unsubscribe=One-Click -A "$CHROME_UA"
    expect_code 200 || return 1
    hit open gus@example.org "$CHROME_UA" 200 || return 1
    hit open jo@example.net "$APPLE_MPP_UA" 200 || return 1
    hhead "$(lpath click jo@example.net 1)"
    expect_code 302 || return 1
    hit click kim@example.net "$CHROME_UA" 302 1 || return 1
    wait_for 5 nevents_is 14 || return 1
    stop_serve || return 1
    assert_eq "$SERVE_STATUS" 0 "serve's exit status" || return 1
    serve_no_report || return 1
    assert_eq "$(q "SELECT c.email, e.kind, e.machine, count(*) FROM events e JOIN contacts c ON c.id = e.contact_id
                     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;")" \
        "ann@gmail.com|click|0|2
ann@gmail.com|open|0|2
ben@gmail.com|click|0|1
ben@gmail.com|open|0|1
dan@outlook.com|open|0|1
dan@outlook.com|unsubscribe|0|1
dropdot.cy@gmail.com|open|1|1
gus@example.org|open|0|1
jo@example.net|click|1|1
jo@example.net|open|1|1
kim@example.net|click|0|1
kim@example.net|open|0|1" "the events serve recorded" || return 1

    "$PY" "$MAKE" dsn --dump "$SINK_DUMP" --rcpt gus@example.org \
        >"$BATS_TEST_TMPDIR/dsn.eml" || fail "bounce_make.py dsn" || return 1
    "$PY" "$MAKE" arf --dump "$SINK_DUMP" --rcpt fay@outlook.com \
        >"$BATS_TEST_TMPDIR/arf.eml" || fail "bounce_make.py arf" || return 1
    crun 0 bounces ingest "$BATS_TEST_TMPDIR/dsn.eml" "$BATS_TEST_TMPDIR/arf.eml"
    assert_contains "$output" "hard 1, soft 0, blocked 0, delayed 0, complaint 1" || return 1
    assert_eq "$(states)" "bounced 4
deferred 1
sent 8" "the ledger" || return 1
}

# ledger_json NAME - the campaign's figures from the ledger and the
# events as sqlite3 reads them, one JSON object (report_views.py agree)
ledger_json() {
    local k
    k="(SELECT id FROM campaigns WHERE name = $(sqlstr "$1"))"
    q "WITH s AS (SELECT * FROM sends WHERE campaign_id = $k),
            e AS (SELECT * FROM events WHERE campaign_id = $k),
            d AS (SELECT contact_id FROM sends WHERE campaign_id = $k AND state = 'sent'),
            p AS (SELECT CASE substr(c.email, instr(c.email, '@') + 1)
                           WHEN 'gmail.com' THEN 'google' WHEN 'outlook.com' THEN 'microsoft'
                           WHEN 'yahoo.com' THEN 'yahoo'
                           ELSE substr(c.email, instr(c.email, '@') + 1) END AS name
                    FROM s JOIN contacts c ON c.id = s.contact_id)
       SELECT json_object(
         'recipients', (SELECT count(*) FROM s),
         'queued', (SELECT count(*) FROM s WHERE state IN ('queued', 'sending')),
         'sent', (SELECT count(*) FROM s WHERE state = 'sent'),
         'deferred', (SELECT count(*) FROM s WHERE state = 'deferred'),
         'failed', (SELECT count(*) FROM s WHERE state = 'failed'),
         'unbuildable', (SELECT count(*) FROM s WHERE state = 'unbuildable'),
         'held', (SELECT count(*) FROM s WHERE state = 'held'),
         'expired', (SELECT count(*) FROM s WHERE state = 'expired'),
         'cancelled', (SELECT count(*) FROM s WHERE state = 'cancelled'),
         'suppressed', (SELECT count(*) FROM s WHERE state = 'skipped'),
         'bounced_hard', (SELECT count(*) FROM s WHERE state = 'bounced' AND bounce_class = 'hard'),
         'bounced_soft', (SELECT count(*) FROM s WHERE state = 'bounced' AND bounce_class = 'soft'),
         'blocked', (SELECT count(*) FROM s WHERE state = 'bounced' AND bounce_class = 'blocked'),
         'uncertain', (SELECT count(*) FROM s WHERE was_uncertain > 0),
         'attempted', (SELECT count(*) FROM s WHERE first_attempt_at IS NOT NULL AND attempts > 0),
         'waited', (SELECT count(*) FROM s WHERE attempts > 1 OR state IN ('deferred', 'expired')),
         'domains', (SELECT json_group_array(d) FROM
                      (SELECT DISTINCT substr(c.email, instr(c.email, '@') + 1) AS d
                         FROM s JOIN contacts c ON c.id = s.contact_id ORDER BY d)),
         'states', (SELECT json_group_object(state, n) FROM
                      (SELECT state, count(*) AS n FROM s GROUP BY state ORDER BY state)),
         'bounce_status', (SELECT json_group_array(json_array(bounce_class, last_status, n)) FROM
                      (SELECT bounce_class, last_status, count(*) AS n FROM s
                        WHERE state = 'bounced' GROUP BY 1, 2)),
         'opens', (SELECT count(*) FROM e WHERE kind = 'open' AND machine = 0),
         'opened_unique', (SELECT count(DISTINCT contact_id) FROM e WHERE kind = 'open' AND machine = 0),
         'machine_opens', (SELECT count(*) FROM e WHERE kind = 'open' AND machine = 1),
         'machine_opened_unique', (SELECT count(DISTINCT contact_id) FROM e WHERE kind = 'open' AND machine = 1),
         'clicks', (SELECT count(*) FROM e WHERE kind = 'click' AND machine = 0),
         'clicked_unique', (SELECT count(DISTINCT contact_id) FROM e WHERE kind = 'click' AND machine = 0),
         'machine_clicks', (SELECT count(*) FROM e WHERE kind = 'click' AND machine = 1),
         'unsubscribed', (SELECT count(DISTINCT contact_id) FROM e WHERE kind = 'unsubscribe'),
         'complained', (SELECT count(DISTINCT contact_id) FROM e WHERE kind = 'complaint' AND machine = 0),
         'opened_delivered', (SELECT count(DISTINCT contact_id) FROM e WHERE kind = 'open' AND machine = 0
                                AND contact_id IN d),
         'clicked_delivered', (SELECT count(DISTINCT contact_id) FROM e WHERE kind = 'click' AND machine = 0
                                AND contact_id IN d),
         'unsubscribed_delivered', (SELECT count(DISTINCT contact_id) FROM e WHERE kind = 'unsubscribe'
                                AND contact_id IN d),
         'complained_delivered', (SELECT count(DISTINCT contact_id) FROM e WHERE kind = 'complaint'
                                AND machine = 0 AND contact_id IN d),
         'links', (SELECT json_group_array(json_array(url, n, u)) FROM
                      (SELECT url, count(*) AS n, count(DISTINCT contact_id) AS u FROM e
                        WHERE kind = 'click' AND machine = 0 GROUP BY url ORDER BY n DESC, url)),
         'providers', (SELECT json_group_array(json_array(name, n)) FROM
                      (SELECT name, count(*) AS n FROM p GROUP BY name ORDER BY n DESC, name)),
         'started_hour', (SELECT strftime('%Y-%m-%dT%H:00Z', started_at, 'unixepoch')
                            FROM campaigns WHERE id = $k));"
}

# views_of NAME - every view of campaign NAME into $BATS_TEST_TMPDIR/v.*:
# the ledger, report NAME as JSON, table and CSV, the list as table and
# JSON (all into a pipe, COLUMNS unset)
views_of() {
    local v="$BATS_TEST_TMPDIR/v"
    ledger_json "$1" >"$v.ledger" || return 1
    crun 0 report "$1" --format json || return 1
    printf '%s\n' "$output" >"$v.json"
    crun 0 report "$1" || return 1
    printf '%s\n' "$output" >"$v.table"
    crun 0 report "$1" --format csv --out "$v.csv" || return 1
    crun 0 report || return 1
    printf '%s\n' "$output" >"$v.list"
    crun 0 report --format json || return 1
    printf '%s\n' "$output" >"$v.listjson"
}

@test "report views: one campaign's counts agree in JSON, its funnel, bounces, providers, timeline and links, the table, the CSV and the list, and with the ledger read by sqlite3" {
    main_campaign
    views_of spring
    local v="$BATS_TEST_TMPDIR/v"
    # the ledger as the scenario made it (so that agreeing with it means
    # something): 13 recipients, all handed to the relay; 8 delivered;
    # people among the delivered: ann, ben, dan, kim opened (gus too,
    # bounced since), ann, ben, kim clicked; dan unsubscribed; fay
    # complained
    py 'import json, sys
L = json.load(open(sys.argv[1]))
want = {"recipients": 13, "attempted": 13, "sent": 8, "deferred": 1,
        "bounced_hard": 2, "bounced_soft": 1, "blocked": 1, "uncertain": 1,
        "waited": 2, "opens": 6, "opened_unique": 5, "machine_opens": 2,
        "clicks": 4, "clicked_unique": 3, "machine_clicks": 1,
        "unsubscribed": 1, "complained": 1, "opened_delivered": 4,
        "clicked_delivered": 3, "unsubscribed_delivered": 1,
        "complained_delivered": 1,
        "links": [["https://shop.acme.example/spring", 3, 2],
                  ["https://shop.acme.example/summer?a=1&b=2", 1, 1]],
        "providers": [["example.org", 3], ["google", 3], ["microsoft", 3],
                      ["example.net", 2], ["yahoo", 2]]}
bad = ["%s: %r, want %r" % (k, L[k], w) for k, w in want.items() if L[k] != w]
sys.exit("\n".join(bad) if bad else 0)' "$v.ledger"
    # handed to a relay: every recipient the relay saw at RCPT
    assert_eq "$(awk '$1 == "rcpt" { print $2 }' "$SRV_EVENTS" | sort -u | wc -l)" \
        "$(json_get "$(cat "$v.ledger")" attempted)" "recipients the relay saw"
    run "$PY" "$CHECK" agree "$v.ledger" "$v.json" "$v.table" "$v.csv" "$v.list" "$v.listjson"
    [ "$status" -eq 0 ] || fail "the views disagree:" "$output" "--- the table:" "$(cat "$v.table")"
    # a few figures as a person reads them
    assert_contains "$(cat "$v.table")" "  opened                  4    50.0% of accepted"
    assert_contains "$(cat "$v.table")" "  by class: hard 2, soft 1, blocked 1"
    assert_contains "$(cat "$v.table")" "           3 clicks        2 people  https://shop.acme.example/spring"
}

@test "report views: the JSON's keys are a contract: the document, a funnel step, a provider, a bucket, a link, the bounces' items, a rate, an element of the list" {
    main_campaign
    crun 0 report spring --format json
    local doc=$output
    crun 0 report --format json
    local list=$output
    crun 0 report spring --uncertain --format json
    local unc=$output
    py 'import json, sys
doc, lst, unc = (json.loads(a) for a in sys.argv[1:4])
bad = []
def keys(what, obj, want):
    got = sorted(obj)
    if got != sorted(want.split()):
        bad.append("%s: %s\n    want %s" % (what, " ".join(got), " ".join(sorted(want.split()))))
RATE = "value numerator denominator of"
top = dict(doc)
top.pop("paused_by_breaker", None)
keys("report NAME", top,
     "campaign template status list recipients queued sent deferred failed "
     "unbuildable held bounced_hard bounced_soft blocked suppressed uncertain "
     "expired cancelled scheduled_at started_at finished_at opens "
     "opened_unique machine_opens machine_opened_unique clicks clicked_unique "
     "machine_clicks unsubscribed complained auto_replies delayed views "
     "bounce_rate complaint_rate unsubscribe_rate open_rate click_rate "
     "uncertain_recipients undelivered funnel bounces providers by_domain "
     "timeline links")
for k in ("bounce_rate", "complaint_rate", "unsubscribe_rate", "open_rate", "click_rate"):
    keys("report NAME " + k, doc[k], RATE)
keys("the first funnel step", doc["funnel"][0], "step count")
for s in doc["funnel"][1:]:
    keys("funnel step " + s["step"], s, "step count of rate")
keys("bounces", doc["bounces"], "by_class by_status top_diagnostics")
for x in doc["bounces"]["by_class"]:
    keys("bounces.by_class item", x, "class recipients")
for x in doc["bounces"]["by_status"]:
    keys("bounces.by_status item", x, "class status recipients")
for x in doc["bounces"]["top_diagnostics"]:
    keys("bounces.top_diagnostics item", x, "class status code text recipients example")
for p in doc["providers"]:
    keys("provider " + p["provider"], p,
         "provider recipients sent delivered deferred bounced opened clicked "
         "delivery_rate deferral_rate bounce_rate open_rate click_rate")
    for k in ("delivery_rate", "deferral_rate", "bounce_rate", "open_rate", "click_rate"):
        keys("provider rate " + k, p[k], RATE)
check_by_domain = doc["by_domain"]
if not check_by_domain:
    bad.append("by_domain: empty")
for x in check_by_domain:
    keys("by_domain " + x["domain"], x,
         "domain recipients queued sent deferred failed bounced_hard "
         "bounced_soft blocked suppressed complained unsubscribed "
         "opened_unique opens clicked_unique clicks")
keys("timeline", doc["timeline"], "start buckets")
for b in doc["timeline"]["buckets"]:
    keys("timeline bucket", b, "at hours opens clicks machine_opens machine_clicks")
for x in doc["links"]:
    keys("link", x, "url clicks clicked_unique")
for x in doc["uncertain_recipients"]:
    keys("uncertain recipient", x, "email message_id state")
for x in doc["undelivered"]:
    keys("undelivered group", x, "state bounce_class code status text recipients example")
for x in unc:
    keys("--uncertain item", x, "email message_id state")
el = dict(lst[0])
el.pop("paused_by_breaker", None)
keys("an element of report --format json", el,
     "campaign template status list recipients queued sent deferred failed "
     "unbuildable held bounced_hard bounced_soft blocked suppressed uncertain "
     "expired cancelled scheduled_at started_at finished_at opens "
     "opened_unique machine_opens machine_opened_unique clicks clicked_unique "
     "machine_clicks unsubscribed complained auto_replies delayed views "
     "bounce_rate complaint_rate unsubscribe_rate open_rate click_rate")
# every array checked above had an item to check
empty = [k for k, v in (("by_status", doc["bounces"]["by_status"]),
                        ("top_diagnostics", doc["bounces"]["top_diagnostics"]),
                        ("providers", doc["providers"]), ("links", doc["links"]),
                        ("buckets", doc["timeline"]["buckets"]),
                        ("uncertain_recipients", doc["uncertain_recipients"]),
                        ("undelivered", doc["undelivered"]), ("--uncertain", unc),
                        ("list", lst)) if not v]
if empty:
    bad.append("empty, nothing checked: %s" % " ".join(empty))
sys.exit("\n".join(bad) if bad else 0)' "$doc" "$list" "$unc"
}

# no_raw TEXT WHAT [ctl] - TEXT holds no byte that drives a terminal: no
# ESC, no CR, no other control character but LF, no bidirectional control
# (U+202A-U+202E, U+2066-U+2069); with ctl, the control characters only
no_raw() {
    printf '%s' "$1" | "$PY" -c '
import re, sys
b = sys.stdin.buffer.read()
pat = rb"[\x00-\x09\x0b-\x1f\x7f]"
if sys.argv[2] != "ctl":
    pat += rb"|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]"
bad = sorted(set(m.group() for m in re.finditer(pat, b)))
sys.exit("raw bytes %r in %s" % (bad, sys.argv[1]) if bad else 0)' "$2" "${3:-}"
}

@test "report views: hostile names, addresses, replies and links come out inert: escaped on the terminal, neutralised and quoted in the CSV, exact in JSON" {
    views_templates
    # a tag is the third link's query: the clicked URL carries it
    local tag=$'<script>alert(1)</script> =HYPERLINK("http://evil.example/n","x") \e[31mred\e[0m \u202Eevil\u202C \u2066iso\u2069 cr\rlf\nend'
    CAMP=$'spring<script>alert(1)</script>\u202Eevil\u2066x'
    "$PY" -c '
import csv, sys
rows = [["email", "first_name", "tag"],
        ["h1@example.com", "<script>alert(1)</script>", sys.argv[2]],
        ["=cmd@example.com", "=HYPERLINK(\"http://evil.example/a\",\"y\")", ""],
        ["+1@example.com", "+1", ""],
        ["-2@example.com", "-2", ""],
        ["ok@example.org", "@SUM(1+1)", ""]]
csv.writer(open(sys.argv[1], "w", newline="")).writerows(rows)' "$BATS_TEST_TMPDIR/h.csv" "$tag"
    crun 0 import "$BATS_TEST_TMPDIR/h.csv" --list hostile
    assert_contains "$output" "imported 5, updated 0, unchanged 0, rejected 0"
    SERVE_PORT=$(free_port)
    SERVE_URL="http://127.0.0.1:$SERVE_PORT"
    start_sink
    serve_conf "click_seconds = 0"
    sed -i 's/^from = .*/&\nbounce_domain = bounces.acme.example/' "$BATS_TEST_TMPDIR/campaign.conf"
    crun 0 --templates "$TPL" send --template views --list hostile --campaign "$CAMP"
    assert_eq "$(states)" "sent 5" "the ledger"

    # h1 clicks the link with the tag in a browser whose user agent is
    # hostile too; +1 opens in it; =cmd clicks the first link
    local ua=$'Mozilla/5.0 <script>alert(1)</script> =HYPERLINK("x") \e[31m \u202Eevil\u2066'
    start_serve
    hit click h1@example.com "$ua" 302 3
    hit open +1@example.com "$ua" 200
    hit click =cmd@example.com "$CHROME_UA" 302 1
    wait_for 5 nevents_is 5
    stop_serve
    serve_no_report
    assert_eq "$(q "SELECT url FROM events WHERE kind = 'click' AND contact_id = $(cid h1@example.com);")" \
        "https://shop.acme.example/for?n=$tag" "the clicked URL as recorded"
    # -2 and ok bounce with hostile diagnostics, =cmd with one that
    # starts with a minus
    "$PY" "$MAKE" dsn --dump "$SINK_DUMP" --rcpt=-2@example.com \
        --diag 'smtp; 550 5.1.1 =HYPERLINK("http://evil.example/b","x")' >"$BATS_TEST_TMPDIR/d1.eml"
    "$PY" "$MAKE" dsn --dump "$SINK_DUMP" --rcpt ok@example.org \
        --diag $'smtp; 550 5.1.1 @SUM(1+1) <script>alert(1)</script> \e[31mred\e[0m \u202Eevil \u2066iso' >"$BATS_TEST_TMPDIR/d2.eml"
    "$PY" "$MAKE" dsn --dump "$SINK_DUMP" --rcpt==cmd@example.com \
        --diag 'smtp; 550 5.1.1 -2+3+cmd|'"' /C calc'"'!A0' >"$BATS_TEST_TMPDIR/d3.eml"
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/d[123].eml
    assert_contains "$output" "hard 3,"
    assert_eq "$(states)" "bounced 3
sent 2" "the ledger"
    # what the ledger keeps of the diagnostics: the bidi controls too
    assert_contains "$(q "SELECT last_text FROM sends WHERE contact_id = $(cid ok@example.org);")" \
        $'@SUM(1+1) <script>alert(1)</script> '
    assert_contains "$(q "SELECT last_text FROM sends WHERE contact_id = $(cid ok@example.org);")" \
        $'\u202Eevil \u2066iso'

    # the terminal: nothing raw in any table, the values there, escaped
    local esc_url
    esc_url=$'https://shop.acme.example/for?n=<script>alert(1)</script> =HYPERLINK("http://evil.example/n","x") \\x1b[31mred\\x1b[0m \\u202Eevil\\u202C \\u2066iso\\u2069 cr\\x0dlf\\x0aend'
    crun 0 report "$CAMP"
    no_raw "$output" "report NAME"
    assert_contains "$output" "           1 clicks        1 people  $esc_url"
    assert_contains "$output" $'campaign               spring<script>alert(1)</script>\\u202Eevil\\u2066x\n'
    assert_contains "$output" '550 5.1.1 @SUM(1+1) <script>alert(1)</script> '
    assert_contains "$output" '\u202Eevil \u2066iso (e.g. ok@example.org)'
    assert_contains "$output" '550 5.1.1 =HYPERLINK("http://evil.example/b","x") (e.g. -2@example.com)'
    crun 0 report
    no_raw "$output" "report"
    assert_eq "$(printf '%s\n' "$output" | sed -n 2p | cut -d' ' -f1)" 'spring<script>alert(1)</script>\u202Eevil\u2066x' "the list's name"
    crun 0 report "$CAMP" --undelivered
    no_raw "$output" "report NAME --undelivered"
    assert_contains "$output" '\u202Eevil \u2066iso'
    crun 0 report "$CAMP" --uncertain
    no_raw "$output" "report NAME --uncertain"
    assert_output 'no recipient of spring<script>alert(1)</script>\u202Eevil\u2066x was ever uncertain'
    crun 0 report --compare "$CAMP" "$CAMP"
    no_raw "$output" "report --compare"
    assert_contains "$output" ' spring<script>alert(1)</script>\u202Eevil\u2066x'

    # JSON: valid, and every hostile value exactly as the database has it
    local ledger
    ledger=$(q "SELECT json_object('name', (SELECT name FROM campaigns),
                  'url', (SELECT url FROM events WHERE kind = 'click' AND contact_id = $(cid h1@example.com)),
                  'texts', (SELECT json_group_array(last_text) FROM (SELECT last_text FROM sends
                             WHERE state = 'bounced' ORDER BY last_text)));")
    crun 0 report "$CAMP" --format json
    no_raw "$output" "report NAME --format json" ctl
    py 'import json, sys
d, L = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert d["campaign"] == L["name"], (d["campaign"], L["name"])
links = [x["url"] for x in d["links"]]
assert L["url"] in links, (links, L["url"])
texts = sorted(x["text"] for x in d["bounces"]["top_diagnostics"])
assert texts == L["texts"], (texts, L["texts"])
assert sorted(x["text"] for x in d["undelivered"]) == L["texts"]
' "$output" "$ledger"
    crun 0 report --format json
    py 'import json, sys; d = json.loads(sys.argv[1]); assert d[0]["campaign"] == json.loads(sys.argv[2])["name"]' "$output" "$ledger"
    crun 0 report "$CAMP" --undelivered --format json
    py 'import json, sys; d = json.loads(sys.argv[1]); assert sorted(x["text"] for x in d) == json.loads(sys.argv[2])["texts"], d' "$output" "$ledger"

    # the CSV: every cell quoted; one that starts with = + - @ TAB or CR
    # gets a ' in front, and is otherwise what the ledger has
    local f="$BATS_TEST_TMPDIR/h.out.csv" rows
    crun 0 report "$CAMP" --format csv --out "$f"
    rows=$(q "SELECT json_group_array(json_array(c.email, coalesce(s.last_text, ''))) FROM
                (SELECT * FROM sends ORDER BY contact_id) s JOIN contacts c ON c.id = s.contact_id;")
    py 'import csv, io, json, sys
raw = open(sys.argv[1], newline="", encoding="utf-8").read()
head, _, body = raw.partition("\r\n")
rows = list(csv.reader(io.StringIO(body, newline="")))
# quoted, every cell: the body is what a writer quoting all writes
out = io.StringIO(newline="")
csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
assert out.getvalue() == body, "not every cell is quoted:\n" + body
ledger = json.loads(sys.argv[2])
assert len(rows) == len(ledger) == 5, rows
neut = lambda s: "'"'"'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s
for r, (email, text) in zip(rows, ledger):
    assert r[0] == neut(email) and r[4] == neut(text), (r, email, text)
    for cell in r:
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (cell, r)
got = {r[0]: r[4] for r in rows}
assert got["'"'"'=cmd@example.com"] == "'"'"'-2+3+cmd|'"'"' /C calc'"'"'!A0", got
assert got["'"'"'-2@example.com"] == "'"'"'=HYPERLINK(\"http://evil.example/b\",\"x\")", got
assert got["ok@example.org"].startswith("'"'"'@SUM(1+1) <script>alert(1)</script> "), got
assert "'"'"'+1@example.com" in got, got
' "$f" "$rows"
}

# the name of a campaign wider than an 80-column terminal by itself
LONG=a-campaign-whose-name-alone-is-longer-than-eighty-columns-of-a-terminal-window

# big_campaigns - campaign big: the promo template to 1,200 people over
# 13 domains (the ten largest a row each, the rest one "(other)" row)
# through smtp-sink, 30 of them bounced by DSNs (BOUNCE% 2.5: past the 2%
# a sender must look at, red on a terminal); and $LONG, scheduled
big_campaigns() {
    "$PY" -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,first_name\n")
    for i in range(1200):
        f.write("user%05d@d%d.example,Name%d\n" % (i, i % 13, i))' "$BATS_TEST_TMPDIR/big.csv"
    crun 0 import "$BATS_TEST_TMPDIR/big.csv" --list big || return 1
    start_sink
    write_conf "$SINK_PORT"
    sed -i 's/^from = .*/&\nbounce_domain = bounces.acme.example/' "$BATS_TEST_TMPDIR/campaign.conf"
    crun 0 --templates "$TEMPLATES" send --template promo --list big --campaign big || return 1
    assert_contains "$output" "campaign big: sent 1200, deferred 0, bounced 0, failed 0" || return 1
    q "SELECT email FROM contacts ORDER BY id LIMIT 30;" >"$BATS_TEST_TMPDIR/rcpts"
    "$PY" "$MAKE" dsn --dump "$SINK_DUMP" --rcpt-list "$BATS_TEST_TMPDIR/rcpts" \
        --out "$BATS_TEST_TMPDIR/dsns" || fail "bounce_make.py dsn --rcpt-list" || return 1
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/dsns/*.eml || return 1
    assert_contains "$output" "ingested 30 messages: hard 30," || return 1
    crun 0 --templates "$TEMPLATES" send --template promo --list big --campaign "$LONG" \
        --at "2030-01-02 09:00 UTC" || return 1
}

# tty_run COLS ENV ARGS... - the binary under test with ARGS, its stdout
# a pseudo-terminal COLS columns wide (script(1) of util-linux, stty
# inside), the environment variables ENV ("NAME=VALUE ...", or "") set;
# what it printed in $output (the terminal's CR LF as LF), its exit
# status in $status; its stderr goes to a file, checked for a sanitizer
# report
tty_run() {
    local cols=$1 envs=$2 err="$BATS_TEST_TMPDIR/tty.err" cmd
    shift 2
    command -v script >/dev/null || { fail "script (util-linux) is not installed"; return 1; }
    cmd=$(printf '%q ' "$CAMPAIGN_BIN" --db "$DB" "$@")
    # shellcheck disable=SC2086
    run env $envs SHELL=/bin/sh timeout 20 script -qec \
        "stty cols $cols rows 50 && exec $cmd 2>$(printf '%q' "$err")" /dev/null </dev/null
    output=${output//$'\r'/}
    stderr=$(cat "$err") no_sanitizer_report
}

# sgr_off TEXT - TEXT without its SGR sequences (ESC [ ... m)
sgr_off() {
    printf '%s\n' "$1" | sed 's/\x1b\[[0-9;]*m//g'
}

# rows_fit WIDTH - every line of the list in $output (the header and the
# rows, not the legend) fits in WIDTH columns but a row whose name alone
# is wider than its column (24), which is longer by what the name is
rows_fit() {
    local w=$1 line name rows
    rows=$(printf '%s\n' "$output" | head -n -2)
    [ -n "$rows" ] || { fail "no rows"; return 1; }
    while IFS= read -r line; do
        name=${line%% *}
        if [ ${#name} -gt 24 ]; then
            [ $((${#line} - ${#name} + 24)) -le "$w" ] ||
                fail "a row longer than $w columns besides its name: $line" || return 1
        else
            [ ${#line} -le "$w" ] || fail "a line longer than $w columns (${#line}): $line" || return 1
        fi
    done <<<"$rows"
}

@test "report views: the list fits the terminal (TIOCGWINSZ, else COLUMNS, else every column), colour only on a terminal without NO_COLOR, numbers with thousands separators" {
    unset COLUMNS
    big_campaigns
    local all="CAMPAIGN STATUS STARTED FINISHED RECIPIENTS SENT QUEUED DEFERRED BOUNCED FAILED UNBUILDABLE HELD BOUNCE% COMPLAINT% UNSUB% OPEN% CLICK%"
    local w80="CAMPAIGN STATUS RECIPIENTS SENT BOUNCED BOUNCE%"

    # into a pipe, COLUMNS unset: every column, no colour
    crun 0 report
    assert_eq "$(printf '%s\n' "$output" | head -1 | tr -s ' ')" "$all" "the header, every column"
    assert_not_contains "$output" $'\e' "report into a pipe"
    assert_eq "$(printf '%s\n' "$output" | head -n -2 | awk '{ print NF }' | sort -u)" 17 "cells per row"
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "big" { print $2, $5, $6, $7, $9, $13 }')" \
        "done 1,200 1,170 0 30 2.5%" "big: status, recipients, sent, queued, bounced, bounce%"
    assert_eq "$(printf '%s\n' "$output" | awk -v n="$LONG" '$1 == n { print $2, $3, $5 }')" \
        "scheduled - 0" "the scheduled one: status, started, recipients"

    # into a pipe, COLUMNS=80: the least important columns left out
    export COLUMNS=80
    crun 0 report
    assert_eq "$(printf '%s\n' "$output" | head -1 | tr -s ' ')" "$w80" "the header in 80 columns"
    rows_fit 80
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "big"' | tr -s ' ')" "big done 1,200 1,170 30 2.5%" "big in 80 columns"
    assert_not_contains "$output" $'\e' "report into a pipe, COLUMNS=80"
    # at the edge: BOUNCE% (10 wide, a blank before) fits in 77; in 76
    # it does not, and nothing after it is shown (QUEUED, 8 wide, would
    # fit, but a column of less use never takes the place of one of more)
    export COLUMNS=77
    crun 0 report
    assert_eq "$(printf '%s\n' "$output" | head -1 | tr -s ' ')" "$w80" "the header in 77 columns"
    assert_eq "$(printf '%s\n' "$output" | head -1 | wc -L)" 77 "the header's width in 77 columns"
    rows_fit 77
    export COLUMNS=76
    crun 0 report
    assert_eq "$(printf '%s\n' "$output" | head -1 | tr -s ' ')" "CAMPAIGN STATUS RECIPIENTS SENT BOUNCED" "the header in 76 columns"
    rows_fit 76
    export COLUMNS=100
    crun 0 report
    assert_eq "$(printf '%s\n' "$output" | head -1 | tr -s ' ')" "$w80 COMPLAINT% OPEN%" "the header in 100 columns"
    rows_fit 100
    unset COLUMNS

    # on a terminal 80 wide: its width wins over COLUMNS; colour: the
    # header bold, the bounce rate past 2% red
    tty_run 80 "COLUMNS=200" report
    expect_status 0
    assert_contains "$output" $'\e[1mCAMPAIGN                \e[0m'
    assert_contains "$output" $'\e[31m      2.5%\e[0m'
    local plain
    plain=$(sgr_off "$output")
    assert_eq "$(printf '%s\n' "$plain" | head -1 | tr -s ' ')" "$w80" "the header on an 80-column terminal"
    output=$plain rows_fit 80
    # NO_COLOR set: no colour, the same table; NO_COLOR empty: colour
    tty_run 80 "NO_COLOR=1" report
    expect_status 0
    assert_not_contains "$output" $'\e' "report on a terminal with NO_COLOR=1"
    assert_eq "$output" "$plain" "the table with NO_COLOR=1"
    tty_run 80 "NO_COLOR=" report
    assert_contains "$output" $'\e[31m      2.5%\e[0m'
    # one campaign on a terminal: the headings bold; into a pipe: none
    tty_run 80 "" report big
    expect_status 0
    assert_contains "$output" $'\e[1mfunnel:\e[0m'
    assert_contains "$output" $'\e[1mbounces:\e[0m'

    # thousands separators in the table, plain numbers in JSON
    crun 0 report big
    assert_not_contains "$output" $'\e' "report big into a pipe"
    assert_contains "$output" "$(printf '%-22s %s' recipients 1,200)"
    assert_contains "$output" "$(printf '%-22s %s' sent 1,170)"
    assert_contains "$output" "$(printf '  %-12s %12s' recipients 1,200)"
    assert_contains "$output" "$(printf '  %-12s %12s  %7s of %s' accepted 1,170 97.5% sent)"
    assert_contains "$output" "  by class: hard 30, soft 0, blocked 0"
    assert_contains "$output" "$(printf '  %-24s %10s' '(other)' 276)"
    crun 0 report big --format json
    assert_eq "$(json_get "$output" recipients) $(json_get "$output" sent) $(json_get "$output" funnel 2 count)" \
        "1200 1170 1170" "recipients, sent, accepted in JSON"
    # the providers: 1,200 over 13 domains, d0-d3 93 each, the rest 92:
    # ten rows, and d7, d8 and d9 summed as (other)
    py 'import json, sys
P = json.loads(sys.argv[1])["providers"]
names = [p["provider"] for p in P]
assert names == ["d0.example", "d1.example", "d2.example", "d3.example", "d10.example",
                 "d11.example", "d12.example", "d4.example", "d5.example", "d6.example",
                 "(other)"], names
sums = {k: sum(p[k] for p in P) for k in ("recipients", "sent", "delivered", "bounced")}
assert sums == {"recipients": 1200, "sent": 1200, "delivered": 1170, "bounced": 30}, sums
o = P[-1]
assert (o["recipients"], o["sent"], o["delivery_rate"]["denominator"]) == (276, 276, 276), o
' "$output"
    crun 0 report --format json
    assert_eq "$(py 'import json, sys
print(" ".join("%s=%s" % (d["campaign"], d["scheduled_at"]) for d in json.loads(sys.argv[1])))' "$output")" \
        "big=None $LONG=2030-01-02 09:00:00 UTC" "scheduled_at in the list's JSON"
}

@test "report views: --compare A B shows both and B-A; its JSON is the two reports; an unknown name exits 66, one name 64" {
    views_templates
    list_of ann@example.com ben@example.org cid@example.net dan@example.com \
        eve@example.org fay@example.net gus@example.com hal@example.org
    start_sink
    write_conf "$SINK_PORT"
    sed -i 's/^from = .*/&\nbounce_domain = bounces.acme.example/' "$BATS_TEST_TMPDIR/campaign.conf"
    # A: the spring message to all eight, one bounced since; B: the
    # summer one, the first three only so far
    crun 0 --templates "$TPL" send --template views --list news --campaign spring-a
    assert_contains "$output" "sent 8,"
    "$PY" "$MAKE" dsn --dump "$SINK_DUMP" --rcpt eve@example.org >"$BATS_TEST_TMPDIR/dsn.eml"
    crun 0 bounces ingest "$BATS_TEST_TMPDIR/dsn.eml"
    assert_contains "$output" "hard 1,"
    crun 0 --templates "$TPL" send --template summer --list news --campaign summer-b --max 3
    assert_contains "$output" "sent 3,"
    assert_eq "$(grep -h '^Subject: ' "$SINK_DUMP"/* | sort | uniq -c | tr -s ' ')" \
        " 8 Subject: Spring news
 3 Subject: Summer is here" "the subjects received"

    local c="$BATS_TEST_TMPDIR/c"
    crun 0 report spring-a --format json
    printf '%s\n' "$output" >"$c.a"
    crun 0 report summer-b --format json
    printf '%s\n' "$output" >"$c.b"
    crun 0 report --compare spring-a summer-b --format json
    printf '%s\n' "$output" >"$c.json"
    crun 0 report --compare spring-a summer-b
    printf '%s\n' "$output" >"$c.table"
    assert_contains "$output" "$(printf '%-24s %22s %22s %12s' '' A B B-A)"
    assert_contains "$output" "$(printf '%-24s %22s %22s %12s' sent 7 3 -4)"
    assert_contains "$output" "$(printf '%-24s %22s %22s %12s' bounce_rate '12.5% (1/8)' '0.0% (0/3)' '-12.5 pt')"
    run "$PY" "$CHECK" compare "$c.table" "$c.json" "$c.a" "$c.b"
    [ "$status" -eq 0 ] || fail "report --compare:" "$output" "--- the table:" "$(cat "$c.table")"
    # the other way round: the other signs
    crun 0 report --compare summer-b spring-a
    assert_contains "$output" "$(printf '%-24s %22s %22s %12s' sent 3 7 4)"

    # a name that is no campaign: 66, nothing on stdout
    crun 66 report --compare spring-a nosuch
    assert_contains "$stderr" 'no campaign "nosuch"'
    assert_output ""
    crun 66 report --compare nosuch spring-a --format json
    assert_contains "$stderr" 'no campaign "nosuch"'
    assert_output ""
    # not two names: 64
    crun 64 report --compare spring-a
    assert_contains "$stderr" "usage: campaign report"
    assert_output ""
    crun 64 report --compare spring-a summer-b spring-a
    assert_output ""
    crun 64 report --compare
    crun 64 report --compare spring-a summer-b --uncertain
}

@test "report views: --uncertain lists the recipients that were ever uncertain, one a line or a JSON array; none: says so, and []" {
    main_send
    local want_line want_json
    want_line=$(q "SELECT printf('%-40s %-12s %s', c.email, s.state, s.message_id)
                     FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE s.was_uncertain > 0;")
    want_json=$(q "SELECT json_group_array(json_object('email', c.email, 'message_id', s.message_id, 'state', s.state))
                     FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE s.was_uncertain > 0;")
    assert_eq "$(printf '%s\n' "$want_line" | awk '{ print $1, $2 }')" "dropdot.cy@gmail.com sent" "the ledger's uncertain one"
    crun 0 report spring --uncertain
    assert_output "$want_line"
    crun 0 report spring --uncertain --format json
    py 'import json, sys
got, want = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert got == want and len(got) == 1, (got, want)' "$output" "$want_json"
    # report NAME says the same
    crun 0 report spring --format json
    py 'import json, sys
d, want = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert d["uncertain"] == 1 and d["uncertain_recipients"] == want, d["uncertain_recipients"]' "$output" "$want_json"

    # the same list again through the same relay, which cuts a
    # connection once per address only: nobody uncertain (unknown.ed,
    # bounced hard, is suppressed)
    crun 0 --templates "$TPL" send --template summer --list news --campaign summer
    assert_contains "$output" "campaign summer: sent 9, deferred 1, bounced 2, failed 0,"
    assert_contains "$output" "13 recipients: 9 sent, 0 queued, 1 deferred, 2 bounced, 0 failed, 1 suppressed, 0 uncertain"
    assert_eq "$(q "SELECT count(*) FROM sends s JOIN campaigns k ON k.id = s.campaign_id
                     WHERE k.name = 'summer' AND s.was_uncertain > 0;")" 0 "uncertain rows of summer"
    crun 0 report summer --uncertain
    assert_output "no recipient of summer was ever uncertain"
    crun 0 report summer --uncertain --format json
    assert_output "[]"

    # and summer, with its suppressed recipient, agrees in every view
    views_of summer
    local v="$BATS_TEST_TMPDIR/v"
    run "$PY" "$CHECK" agree "$v.ledger" "$v.json" "$v.table" "$v.csv" "$v.list" "$v.listjson"
    [ "$status" -eq 0 ] || fail "the views of summer disagree:" "$output" "--- the table:" "$(cat "$v.table")"
    assert_eq "$(json_get "$(cat "$v.json")" suppressed) $(json_get "$(cat "$v.json")" funnel 1 count)" "1 12" \
        "suppressed, and handed to a relay"

    # forgotten: listed still, without address or Message-ID
    crun 0 contacts forget dropdot.cy@gmail.com
    crun 0 report spring --uncertain
    assert_output "$(printf '%-40s %-12s ' '(forgotten)' sent)"
    crun 0 report spring --uncertain --format json
    assert_eq "$(json_get "$output")" '[{"email": null, "message_id": null, "state": "sent"}]' "the forgotten one in JSON"
    # unknown name 66, two names 64
    crun 66 report nosuch --uncertain
    crun 64 report spring summer --uncertain
}

@test "report views: the funnel's and the providers' sent count those handed to a relay: not one held (a UTF-8 address, a relay without SMTPUTF8)" {
    views_templates
    CAMP=spring
    list_of ann@example.com josé@example.org ben@example.org cid@example.net
    serve --mode plain --no-smtputf8
    write_conf "$SRV_PORT"
    crun 69 --templates "$TPL" send --template views --list news --campaign spring
    assert_contains "$output" "sent 3, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0, held 1"
    # what the relay saw: three recipients, never josé
    assert_eq "$(awk '$1 == "rcpt" { print $2 }' "$SRV_EVENTS" | sort -u)" "ann@example.com
ben@example.org
cid@example.net" "the recipients the relay saw"
    crun 0 report spring --format json
    py 'import json, sys
d = json.loads(sys.argv[1])
f = {s["step"]: s["count"] for s in d["funnel"]}
assert (d["recipients"], d["held"], d["sent"]) == (4, 1, 3), d
assert f == {"recipients": 4, "sent": 3, "accepted": 3, "opened": 0, "clicked": 0}, f
assert d["funnel"][1]["rate"] == 0.75 and d["funnel"][2]["rate"] == 1.0, d["funnel"]
p = {x["provider"]: (x["recipients"], x["sent"], x["delivered"]) for x in d["providers"]}
assert p == {"example.org": (2, 1, 1), "example.com": (1, 1, 1), "example.net": (1, 1, 1)}, p
r = [x["delivery_rate"] for x in d["providers"] if x["provider"] == "example.org"][0]
assert r == {"value": 1.0, "numerator": 1, "denominator": 1, "of": "sent"}, r
' "$output"
    crun 0 report spring
    assert_contains "$output" "$(printf '  %-12s %12s  %7s of %s' sent 3 75.0% recipients)"
    assert_contains "$output" "$(printf '  %-12s %12s  %7s of %s' accepted 3 100.0% sent)"
}
