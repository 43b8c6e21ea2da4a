#!/usr/bin/env bats
# bite_serve.bats - what `campaign serve` records, as `campaign report`
# counts it (README "campaign report": opens, opened_unique,
# machine_opens, machine_opened_unique, clicks, clicked_unique,
# machine_clicks, unsubscribed, views) and as the suppression list keeps
# it (a one-click POST: reason unsubscribed, source one-click).  Written
# for scripts/mutants-more.txt (issue 10): serve.bats checks the events
# table, not the figures the report makes of it.

load lib
load send_lib
load serve_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# nothers - events of everyone but the barrier recipient.
nothers() {
    q "SELECT count(*) FROM events
        WHERE contact_id <> (SELECT id FROM contacts WHERE email = '$BARRIER');"
}

nothers_is() {
    [ "$(nothers)" -eq "$1" ]
}

@test "bite serve: report NAME counts people's opens and clicks apart from machines', unsubscribes and views" {
    serve_sent ann@example.com bob@example.org cid@example.net
    # no click is a machine's for coming soon after delivery: the test
    # runs right after the send
    serve_conf "click_seconds = 0"
    start_serve

    # ann: two opens and a click in Chrome, and the web view
    hget "$(lpath open ann@example.com)" -A "$CHROME_UA"
    expect_code 200
    hget "$(lpath open ann@example.com)" -A "$CHROME_UA"
    expect_code 200
    hget "$(lpath click ann@example.com 1)" -A "$CHROME_UA"
    expect_code 302
    hget "$(lpath view ann@example.com)" -A "$CHROME_UA"
    expect_code 200
    # bob: Apple Mail Privacy Protection fetches the pixel, a link
    # checker sends HEAD to a link
    hget "$(lpath open bob@example.org)" -A "Mozilla/5.0"
    expect_code 200
    hhead "$(lpath click bob@example.org 1)"
    expect_code 302
    # cid: a click with no open before it (an open is implied), then the
    # one-click unsubscribe, twice
    hget "$(lpath click cid@example.net 2)" -A "$CHROME_UA"
    expect_code 302
    hpost "$(lpath unsubscribe cid@example.net)" -d List-Unsubscribe=One-Click -A "$CHROME_UA"
    expect_code 200
    hpost "$(lpath unsubscribe cid@example.net)" -d List-Unsubscribe=One-Click -A "$CHROME_UA"
    expect_code 200

    # ann 2 opens + click + view, bob open + click, cid click + open +
    # unsubscribe: 9 rows
    wait_for 5 nothers_is 9
    crun 0 report promo --format json
    printf '%s' "$output" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
want = {"opens": 3, "opened_unique": 2, "machine_opens": 1,
        "machine_opened_unique": 1, "clicks": 2, "clicked_unique": 2,
        "machine_clicks": 1, "unsubscribed": 1, "views": 1}
bad = ["%s: %r, want %r" % (k, d.get(k, "(missing)"), v)
       for k, v in want.items() if d.get(k, "(missing)") != v]
sys.exit("\n".join(bad) if bad else 0)' || fail "report promo --format json:" "$output"

    # the one-click POST: unsubscribed, from the one-click source
    assert_eq "$(q "SELECT email, reason, source FROM suppressions;")" \
        "cid@example.net|unsubscribed|one-click" "suppressions"
    crun 0 suppress list --source one-click --format csv
    assert_contains "$output" '"cid@example.net",'
    serve_alive
}

@test "bite serve: a HEAD of a click is a machine's even in a browser's user agent" {
    serve_sent paola@example.com
    serve_conf "click_seconds = 0"
    start_serve
    # a GET from the same browser is a person's: the control
    hget "$(lpath click paola@example.com 1)" -A "$CHROME_UA"
    expect_code 302
    wait_for 5 nev_is 1 click paola@example.com
    # the same link (two links within a second would make both a machine's)
    http_req "$(lpath click paola@example.com 1)" -I -A "$CHROME_UA"
    expect_code 302
    wait_for 5 nev_is 2 click paola@example.com
    assert_eq "$(q "SELECT machine, coalesce(machine_reason, '') FROM events
                     WHERE kind = 'click' AND contact_id = $(cid paola@example.com) ORDER BY id;")" \
        "0|
1|HEAD request (a link checker)" "the GET's and the HEAD's clicks"
    serve_alive
}
