#!/usr/bin/env bats
# `campaign serve`: the HTTP endpoint of the links of every message
# (README, "campaign serve"; RELIABILITY.md, Hostile input).  Each test
# mails the promo template through Postfix's smtp-sink on loopback, then
# starts serve on the port of [tracking] base_url and follows the links
# of the messages as the sink received them (serve_links.py: Python's
# `email` package and html.parser), checking the answers and what the
# database recorded.
#
# Events are batched (at most 100 ms): a check that something was
# recorded polls with wait_for; a check that nothing was recorded comes
# after serve_barrier (serve_lib.bash), which proves every earlier hit has
# been written.  Load tests (the burst, SIGTERM under load) run the
# optimised binary (CAMPAIGN_FAST_BIN); everything else the sanitizer
# build, whose reports on serve's stderr fail the test.

load lib
load send_lib
load serve_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# ---------------------------------------------------------------- pixel

@test "serve: the open pixel is a 43-byte no-store GIF on GET and HEAD, with or without .gif, each one open" {
    serve_sent ann@example.com bob@example.org
    start_serve
    local p camp
    p=$(lpath open ann@example.com)
    case "$p" in /o/*.gif) ;; *) fail "the pixel's path: $p" ;; esac
    camp=$(q "SELECT id FROM campaigns WHERE name = 'promo';")

    hget "$p" -A "$CHROME_UA"
    expect_code 200
    assert_eq "$(stat -c %s "$BODY")" 43 "bytes of the pixel"
    assert_eq "$(head -c 6 "$BODY")" GIF89a "GIF signature"
    # a 1x1 image, ending with the GIF trailer
    py 'import sys
b = open(sys.argv[1], "rb").read()
assert b[6:10] == b"\x01\x00\x01\x00", b[6:10]
assert b[-1:] == b"\x3b", b[-1:]' "$BODY"
    assert_eq "$(hdr Content-Type)" image/gif
    assert_contains "$(hdr Cache-Control)" no-store "Cache-Control"
    wait_for 5 nev_is 1 open ann@example.com
    assert_eq "$(q "SELECT campaign_id, kind, url IS NULL FROM events
                     WHERE contact_id = $(cid ann@example.com);")" "$camp|open|1"

    # HEAD: the same answer without a body, and an open
    printf 'HEAD %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n' \
        "$p" "$CHROME_UA" | raw_http >"$BATS_TEST_TMPDIR/head.raw"
    py 'import sys
r = open(sys.argv[1], "rb").read()
head, sep, body = r.partition(b"\r\n\r\n")
assert sep, "no end of headers: %r" % r[:300]
assert head.startswith(b"HTTP/1.1 200 "), head[:100]
h = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip()
     for l in head.split(b"\r\n")[1:]}
assert h.get(b"content-type") == b"image/gif", h
assert b"no-store" in h.get(b"cache-control", b""), h
assert body == b"", "HEAD answered with a body: %r" % body[:80]' "$BATS_TEST_TMPDIR/head.raw"
    wait_for 5 nev_is 2 open ann@example.com

    # the path without ".gif"
    hget "${p%.gif}" -A "$CHROME_UA"
    expect_code 200
    assert_eq "$(stat -c %s "$BODY")" 43 "bytes of the pixel without .gif"
    assert_eq "$(head -c 6 "$BODY")" GIF89a
    wait_for 5 nev_is 3 open ann@example.com

    # nothing else: three opens of ann, none of bob
    serve_barrier
    assert_eq "$(nev % ann@example.com)" 3 "events of ann"
    assert_eq "$(nev % bob@example.org)" 0 "events of bob"
    serve_alive
}

# ---------------------------------------------------------------- clicks

@test "serve: a click redirects (302) to exactly the link as written, records it and an open when the person had none" {
    serve_sent ann@example.com bob@example.org carl@example.net dan@example.com
    # the same campaign data with a link outside printable ASCII
    py 'import json, sys
d = json.load(open(sys.argv[1]))
d["shop_url"] = "https://shop.acme.example/città/a b\"<x>|{y}"
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)' "$TEMPLATES/promo.json" "$BATS_TEST_TMPDIR/na.json"
    send_status 0 --campaign na --data "$BATS_TEST_TMPDIR/na.json"
    # click_seconds = 0: no click is a machine's for coming soon after
    # delivery; every hit from a desktop browser
    serve_conf "click_seconds = 0"
    # the messages as they would be without click tracking: the links as
    # written in the template
    sed 's|^base_url = .*|&\nclicks = off|' "$BATS_TEST_TMPDIR/campaign.conf" >"$BATS_TEST_TMPDIR/noclicks.conf"
    crun 0 --config "$BATS_TEST_TMPDIR/noclicks.conf" --templates "$TEMPLATES" \
        preview --template promo --to ann@example.com --format html
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/preview.html"
    assert_not_contains "$output" "/c/" "the preview without click tracking"
    crun 0 --config "$BATS_TEST_TMPDIR/noclicks.conf" --templates "$TEMPLATES" \
        preview --template promo --to ann@example.com --format html --campaign na --data "$BATS_TEST_TMPDIR/na.json"
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/preview-na.html"
    start_serve

    # every click link of ann's message: 302 to its link, nothing else
    "$PY" "$SERVE_LINKS" expect-clicks "$(msg_of ann@example.com)" "$BATS_TEST_TMPDIR/preview.html" \
        >"$BATS_TEST_TMPDIR/clicks" || fail "$(cat "$BATS_TEST_TMPDIR/clicks")"
    assert_eq "$(wc -l <"$BATS_TEST_TMPDIR/clicks")" 6 "click links in the promo"
    grep -q $'\thttps://shop.acme.example/primavera?utm_source=newsletter&utm_campaign=promo$' \
        "$BATS_TEST_TMPDIR/clicks" || fail "the button's link, &amp; unescaped, is not among:" "$(cat "$BATS_TEST_TMPDIR/clicks")"
    local url want p n=0
    while IFS=$'\t' read -r url want; do
        p=$(path_of "$url")
        hget "$p" -A "$CHROME_UA"
        expect_code 302
        assert_eq "$(hdr Location)" "$want" "Location of $p"
        assert_eq "$(hdr Referrer-Policy)" no-referrer "Referrer-Policy"
        assert_eq "$(grep -ci '^Set-Cookie:' "$HDRS")" 0 "cookies"
        n=$((n + 1))
    done <"$BATS_TEST_TMPDIR/clicks"
    assert_eq "$n" 6
    wait_for 5 nev_is 6 click ann@example.com
    assert_eq "$(q "SELECT url FROM events WHERE kind = 'click' AND contact_id = $(cid ann@example.com) ORDER BY id;")" \
        "$(cut -f2 "$BATS_TEST_TMPDIR/clicks")" "the urls recorded"

    # no part of the request chooses the redirect: a query, a Host
    local first orig
    IFS=$'\t' read -r first orig <"$BATS_TEST_TMPDIR/clicks"
    hget "$(path_of "$first")?url=https://evil.example/&next=//evil.example" -H 'Host: evil.example' -A "$CHROME_UA"
    expect_code 302
    assert_eq "$(hdr Location)" "$orig" "Location with a query and a Host of the attacker's"

    # bob clicks the first link: one click with its url, one open implied
    local bobp danp carlp
    bobp=$(lpath click bob@example.org 1)
    danp=$(lpath click dan@example.com 1)
    carlp=$(lpath click carl@example.net 1)
    hget "$bobp" -A "$CHROME_UA"
    expect_code 302
    assert_eq "$(hdr Location)" "$orig"
    # dan clicks the same link within the same second: fine, a person too
    hget "$danp" -A "$CHROME_UA"
    expect_code 302
    wait_for 5 nev_is 1 click bob@example.org
    wait_for 5 nev_is 1 click dan@example.com
    wait_for 5 nev_is 1 open bob@example.org
    assert_eq "$(q "SELECT kind, url, machine FROM events WHERE contact_id = $(cid bob@example.org) ORDER BY kind;")" \
        "click|$orig|0"$'\n'"open||0" "bob's events"
    assert_eq "$(q "SELECT kind, machine FROM events WHERE contact_id = $(cid dan@example.com) ORDER BY kind;")" \
        "click|0"$'\n'"open|0" "dan's events"
    # carl opened first: his click implies no second open
    hget "$(lpath open carl@example.net)" -A "$CHROME_UA"
    expect_code 200
    wait_for 5 nev_is 1 open carl@example.net
    hget "$carlp" -A "$CHROME_UA"
    expect_code 302
    wait_for 5 nev_is 1 click carl@example.net
    serve_barrier
    assert_eq "$(nev open carl@example.net)" 1 "opens of carl"
    assert_eq "$(nev open bob@example.org)" 1 "opens of bob"
    assert_eq "$(nev % bob@example.org)" 2 "events of bob"

    # a link outside printable ASCII: percent-encoded, the same bytes
    "$PY" "$SERVE_LINKS" expect-clicks "$(msg_of ann@example.com na)" "$BATS_TEST_TMPDIR/preview-na.html" \
        >"$BATS_TEST_TMPDIR/clicks-na" || fail "$(cat "$BATS_TEST_TMPDIR/clicks-na")"
    IFS=$'\t' read -r url want < <(tail -1 "$BATS_TEST_TMPDIR/clicks-na")
    assert_contains "$want" "città/a b" "the button's link in the preview"
    hget "$(path_of "$url")" -A "$CHROME_UA"
    expect_code 302
    py 'import sys, urllib.parse
loc, want = sys.argv[1], sys.argv[2]
bad = [c for c in loc if not 0x20 < ord(c) < 0x7f]
assert not bad, "Location carries %r: %r" % (bad, loc)
assert "%C3%A0" in loc.upper(), loc
assert urllib.parse.unquote_to_bytes(loc) == want.encode(), (loc, want)' "$(hdr Location)" "$want"
    wait_for 5 nev_is 1 click ann@example.com "url = $(sqlstr "$want")"
    serve_alive
}

# ---------------------------------------------------------------- unsubscribe

@test "serve: GET of the unsubscribe link shows the list, a masked address and one button, and changes nothing" {
    serve_sent paola@example.com ann@example.com
    start_serve
    local p lu before
    p=$(lpath unsubscribe paola@example.com)
    lu=$(link list-unsub paola@example.com)
    assert_eq "$lu" "$SERVE_URL$p" "List-Unsubscribe and the link in the HTML"
    before=$(others)
    hget "$p" -A "$CHROME_UA"
    expect_code 200
    assert_contains "$(hdr Content-Type)" text/html
    local body
    body=$(cat "$BODY")
    assert_contains "$body" "news" "the page (the list's name)"
    assert_contains "$body" "p***@e***.com" "the page (the masked address)"
    assert_not_contains "$body" "paola@example.com" "the page"
    assert_not_contains "$body" "paola" "the page"
    assert_not_contains "$body" "example.com" "the page"
    assert_eq "$(grep -o '<button' "$BODY" | wc -l)" 1 "buttons on the page"
    assert_eq "$(grep -oi '<form[^>]*method="post"' "$BODY" | wc -l)" 1 "POST forms on the page"
    # a link scanner that fetches it again, and HEAD: still nothing
    hget "$p" -A "Mozilla/5.0 (compatible; Barracuda)"
    expect_code 200
    hhead "$p"
    serve_barrier
    assert_eq "$(others)" "$before" "events, suppressions, contacts and ledger after GET /u/"
    assert_eq "$(status_of paola@example.com)" active
    assert_eq "$(count suppressions)" 0
    serve_alive
}

@test "serve: RFC 8058 one-click POST suppresses before its 200, idempotently; later campaigns and imports keep the person out" {
    serve_sent paola@example.com ann@example.com
    start_serve
    local p
    p=$(lpath unsubscribe paola@example.com)
    # another process writing for a second (a send's commit): the 200
    # must wait for serve's own commit, after that
    hold_db 1
    hpost "$p" -d List-Unsubscribe=One-Click -A "$CHROME_UA"
    expect_code 200
    # right after the answer, no waiting: committed before the 200
    assert_eq "$(q "SELECT email, reason FROM suppressions;")" "paola@example.com|unsubscribed" "suppressions"
    assert_eq "$(status_of paola@example.com)" unsubscribed
    assert_eq "$(nev unsubscribe paola@example.com)" 1 "unsubscribe events"
    assert_eq "$(q "SELECT k.name FROM events e JOIN campaigns k ON k.id = e.campaign_id WHERE e.kind = 'unsubscribe';")" promo
    # the answer is the confirmation, still without the address in full
    assert_not_contains "$(cat "$BODY")" "paola@example.com" "the confirmation page"
    assert_contains "$(cat "$BODY")" "p***@e***.com" "the confirmation page"
    # again (a second client, a retry): 200, nothing new
    hpost "$p" -d List-Unsubscribe=One-Click -A "$CHROME_UA"
    expect_code 200
    assert_eq "$(count suppressions)" 1 "suppressions after a repeated POST"
    assert_eq "$(nev unsubscribe paola@example.com)" 1 "unsubscribe events after a repeated POST"
    serve_barrier
    assert_eq "$(count suppressions)" 1
    assert_eq "$(nev unsubscribe paola@example.com)" 1
    assert_eq "$(status_of ann@example.com)" active
    assert_eq "$(nev % ann@example.com)" 0 "events of ann"

    # a new campaign to the same list skips her
    assert_eq "$(copies paola@example.com)" 1
    send_status 0 --campaign second
    assert_eq "$(q "SELECT s.state FROM sends s JOIN campaigns k ON k.id = s.campaign_id
                     WHERE k.name = 'second' AND s.contact_id = $(cid paola@example.com);")" skipped "paola in campaign second"
    assert_eq "$(copies paola@example.com)" 1 "copies paola received"
    assert_eq "$(copies ann@example.com)" 2 "copies ann received"
    # an import with her in it does not lift the unsubscribe
    contacts "$BATS_TEST_TMPDIR/again.csv" paola@example.com newbie@example.com
    crun 0 import "$BATS_TEST_TMPDIR/again.csv" --list news
    assert_eq "$(status_of paola@example.com)" unsubscribed "status after the import"
    assert_eq "$(q "SELECT email, reason FROM suppressions;")" "paola@example.com|unsubscribed" "suppressions after the import"
    send_status 0 --campaign third
    assert_eq "$(q "SELECT s.state FROM sends s JOIN campaigns k ON k.id = s.campaign_id
                     WHERE k.name = 'third' AND s.contact_id = $(cid paola@example.com);")" skipped "paola in campaign third"
    assert_eq "$(copies paola@example.com)" 1 "copies paola received"
    assert_eq "$(copies newbie@example.com)" 1 "copies the newcomer received"
    serve_alive
}

@test "serve: one-click POST as multipart works; a wrong field, a wrong type, a big or chunked body are refused and record nothing" {
    serve_sent paola@example.com ann@example.com bea@example.org
    start_serve
    local pp pa pb before
    pp=$(lpath unsubscribe paola@example.com)
    pa=$(lpath unsubscribe ann@example.com)
    pb=$(lpath unsubscribe bea@example.org)

    # multipart/form-data (RFC 8058 allows both encodings)
    hpost "$pp" -F List-Unsubscribe=One-Click
    expect_code 200
    assert_eq "$(q "SELECT email, reason FROM suppressions;")" "paola@example.com|unsubscribed"
    assert_eq "$(status_of paola@example.com)" unsubscribed

    before=$(others)
    # no List-Unsubscribe=One-Click: 400
    hpost "$pa" -d foo=bar
    expect_code 400
    hpost "$pa" -d List-Unsubscribe=Two-Clicks
    expect_code 400
    hpost "$pa" --data-binary ''
    expect_code 400
    # the right words in a body that is no form
    hpost "$pa" -H 'Content-Type: text/plain' --data-binary List-Unsubscribe=One-Click
    expect_code 400
    # 100 KB: the right field first, then padding; 413 or a closed
    # connection, never an unsubscribe
    py 'import sys; sys.stdout.write("List-Unsubscribe=One-Click&pad=" + "a" * 100000)' >"$BATS_TEST_TMPDIR/big"
    hpost "$pa" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @"$BATS_TEST_TMPDIR/big"
    case "$HTTP_CODE" in 413 | 000) ;; *) fail "100 KB POST answered $HTTP_CODE" ;; esac
    # the same, chunked (no Content-Length to refuse it by)
    hpost "$pa" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-binary @"$BATS_TEST_TMPDIR/big"
    case "$HTTP_CODE" in 413 | 000) ;; *) fail "chunked 100 KB POST answered $HTTP_CODE" ;; esac
    # multipart, 100 KB
    py 'import sys; sys.stdout.write("x" * 100000)' >"$BATS_TEST_TMPDIR/pad"
    hpost "$pa" -F List-Unsubscribe=One-Click -F pad=@"$BATS_TEST_TMPDIR/pad"
    case "$HTTP_CODE" in 413 | 000) ;; *) fail "100 KB multipart POST answered $HTTP_CODE" ;; esac
    # the server still answers
    hget /healthz
    expect_code 200
    serve_barrier
    assert_eq "$(others)" "$before" "the database after refused POSTs"
    assert_eq "$(status_of ann@example.com)" active

    # the page's own button (List-Unsubscribe=One-Click&via=page)
    hpost "$pb" -d 'List-Unsubscribe=One-Click&via=page'
    expect_code 200
    assert_eq "$(status_of bea@example.org)" unsubscribed
    assert_eq "$(q "SELECT reason FROM suppressions WHERE email = 'bea@example.org';")" unsubscribed
    assert_eq "$(nev unsubscribe bea@example.org)" 1
    serve_alive
}

@test "serve: a send running in another process skips a person unsubscribed meanwhile" {
    serve_sent ann@example.com bob@example.com cid@example.com dee@example.com eve@example.com
    start_serve
    # a second campaign, slowly (2 a second): 6 recipients take ~2.5 s
    "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" send --template promo --list news \
        --campaign second --rate 2/s --concurrency 1 >"$BATS_TEST_TMPDIR/send2.out" 2>&1 &
    local spid=$! victim p
    track_pid "$spid"
    second_sent() {
        [ "$(q "SELECT count(*) FROM sends s JOIN campaigns k ON k.id = s.campaign_id
                 WHERE k.name = 'second' AND s.state = 'sent';")" -ge 1 ]
    }
    wait_for 10 second_sent
    # the last of those not sent yet
    victim=$(q "SELECT c.email FROM sends s JOIN campaigns k ON k.id = s.campaign_id
                 JOIN contacts c ON c.id = s.contact_id
                WHERE k.name = 'second' AND s.state <> 'sent' AND c.email <> '$BARRIER'
                ORDER BY c.id DESC LIMIT 1;")
    [ -n "$victim" ] || fail "everyone was sent already: $(cat "$BATS_TEST_TMPDIR/send2.out")"
    p=$(lpath unsubscribe "$victim")
    hpost "$p" -d List-Unsubscribe=One-Click
    expect_code 200
    wait_for 15 gone "$spid"
    local rc=0
    wait "$spid" || rc=$?
    assert_eq "$rc" 0 "exit status of the second send ($(cat "$BATS_TEST_TMPDIR/send2.out"))"
    assert_eq "$(q "SELECT s.state FROM sends s JOIN campaigns k ON k.id = s.campaign_id
                     WHERE k.name = 'second' AND s.contact_id = $(cid "$victim");")" skipped "$victim in the running campaign"
    assert_eq "$(copies "$victim")" 1 "copies $victim received"
    serve_alive
}

# ---------------------------------------------------------------- web view

@test "serve: the web view is the HTML part as sent, without the pixel, from the frozen template; a view, not an open" {
    cp -r "$E2E_TOP/templates" "$BATS_TEST_TMPDIR/templates"
    TEMPLATES="$BATS_TEST_TMPDIR/templates"
    serve_sent ann@example.com bob@example.org
    start_serve
    local pa pb
    pa=$(lpath view ann@example.com)
    pb=$(lpath view bob@example.org)
    hget "$pa" -A "$CHROME_UA"
    expect_code 200
    assert_contains "$(hdr Content-Type)" text/html
    cp "$BODY" "$BATS_TEST_TMPDIR/view-ann.html"
    run "$PY" "$SERVE_LINKS" same-html "$(msg_of ann@example.com)" "$BATS_TEST_TMPDIR/view-ann.html"
    [ "$status" -eq 0 ] || fail "$output"
    assert_not_contains "$(cat "$BODY")" "/o/" "the web view"
    # each person sees their own message
    hget "$pb" -A "$CHROME_UA"
    expect_code 200
    run "$PY" "$SERVE_LINKS" same-html "$(msg_of bob@example.org)" "$BODY"
    [ "$status" -eq 0 ] || fail "$output"
    wait_for 5 nev_is 1 view ann@example.com
    wait_for 5 nev_is 1 view bob@example.org
    serve_barrier
    assert_eq "$(nev open ann@example.com)" 0 "opens recorded for a web view"
    assert_eq "$(nev % ann@example.com)" 1 "events of ann"

    # the templates change on disk; the campaign froze its own
    assert_eq "$(q "SELECT template_src IS NOT NULL FROM campaigns WHERE name = 'promo';")" 1 "template frozen"
    grep -q 'Vai al negozio' "$TEMPLATES/promo.mustache"
    sed -i 's/Vai al negozio/Tutto cambiato/; s/Ciao /Salve /' "$TEMPLATES/promo.mustache"
    sed -i 's/View it in your browser/CHANGED/' "$TEMPLATES/partials/footer.mustache"
    stop_serve
    assert_eq "$SERVE_STATUS" 0
    # a later run of the campaign sends nobody anything
    local n
    n=$(ls "$SINK_DUMP" | wc -l)
    send_status 0
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" "$n" "messages in the sink after the rerun"
    # serve with the changed templates in reach: it must not use them
    start_serve "$CAMPAIGN_BIN" --templates "$TEMPLATES"
    hget "$pa" -A "$CHROME_UA"
    expect_code 200
    assert_not_contains "$(cat "$BODY")" "Tutto cambiato" "the web view after the templates changed"
    cmp -s "$BODY" "$BATS_TEST_TMPDIR/view-ann.html" || fail "the web view changed with the templates on disk"
    run "$PY" "$SERVE_LINKS" same-html "$(msg_of ann@example.com)" "$BODY"
    [ "$status" -eq 0 ] || fail "$output"
    assert_contains "$(q "SELECT template_src FROM campaigns WHERE name = 'promo';")" "Vai al negozio" "template_src"
    serve_alive
}

@test "serve: /healthz answers 200 ok" {
    serve_sent ann@example.com
    start_serve
    hget /healthz
    expect_code 200
    assert_eq "$(cat "$BODY")" ok "/healthz body"
    hhead /healthz
    expect_code 200
    serve_barrier
    assert_eq "$(nev % ann@example.com)" 0
    serve_alive
}

# ---------------------------------------------------------------- forged tokens

@test "serve: forged, truncated, re-purposed and sample tokens, and unknown paths, all get the one 404 and record nothing" {
    serve_sent ann@example.com bob@example.org
    # a --test-to sample: in the sink too, with tokens of its own
    crun 0 --templates "$TEMPLATES" send --template promo --list news --test-to reviewer@example.net
    local sample
    sample=$(received | awk -F'\t' '$1 == "reviewer@example.net" { print $3; exit }')
    [ -n "$sample" ] || fail "no sample in the sink"
    start_serve
    local o u c v ob cb so su sv sc rnd
    o=$(token_of "$(lpath open ann@example.com)")
    u=$(token_of "$(lpath unsubscribe ann@example.com)")
    c=$(token_of "$(lpath click ann@example.com 1)")
    v=$(token_of "$(lpath view ann@example.com)")
    ob=$(token_of "$(lpath open bob@example.org)")
    cb=$(token_of "$(lpath click bob@example.org 2)")
    so=$(token_of "$(path_of "$(links_of "$sample" open)")")
    su=$(token_of "$(path_of "$(links_of "$sample" unsubscribe)")")
    sv=$(token_of "$(path_of "$(links_of "$sample" view)")")
    sc=$(token_of "$(path_of "$(links_of "$sample" click | head -1)")")
    [ -n "$so" ] && [ -n "$su" ] && [ -n "$sv" ] && [ -n "$sc" ] || fail "the sample's links: $so $su $sv $sc"
    assert_eq "${#o}" 39 "length of an open token"
    rnd=$(py 'import secrets, sys; n = int(sys.argv[1]); print(secrets.token_urlsafe(n)[:n])' "${#o}")

    # the real ones answer (the forgeries below are near misses of these)
    hget "/o/$o.gif"
    expect_code 200
    hget "/c/$c"
    expect_code 302
    wait_for 5 nev_is 1 click ann@example.com
    local before
    before=$(others)

    local paths=(
        "/o/$(flip "$o" 3).gif"              # a character of the campaign
        "/o/$(flip "$o" 10).gif"             # ... of the contact
        "/o/$(flip "$o" 30).gif"             # ... of the MAC
        "/o/$(flip "$o" 38).gif"             # the last one (its spare bits)
        "/o/${o:0:38}.gif"                   # truncated by one
        "/o/${o:0:19}.gif"                   # by half
        "/o/${o}A.gif"                       # one more
        "/o/" "/o/.gif" "/o/.gif.gif"        # empty
        "/o/${ob:0:20}${o:20}.gif"           # bob's head, ann's MAC
        "/u/$o" "/c/$o" "/v/$o" "/o/$o"x     # an open token elsewhere
        "/o/$u.gif" "/o/$u" "/c/$u" "/v/$u"  # an unsubscribe token elsewhere
        "/u/$v" "/o/$v.gif" "/u/$c" "/o/$c.gif"
        "/u/$(flip "$u" 30)" "/v/$(flip "$v" 30)" "/u/${u:0:38}" "/v/${v:0:19}"
        "/c/$(flip "$c" 25)"                 # the URL in a click token
        "/c/$(flip "$c" $((${#c} - 5)))"     # its MAC
        "/c/${c:0:$((${#c} - 1))}"           # truncated
        "/c/${c:0:30}${cb:30}"               # another link's MAC
        "/o/$rnd.gif" "/u/$rnd" "/v/$rnd" "/c/$rnd"
        "/o/$so.gif" "/o/$so" "/u/$su" "/v/$sv" "/c/$sc"   # the sample's
        "/" "/o" "/x/$o" "/O/$o.gif" "/o/$o.gif/" "/o/$o.png" "//o/$o.gif"
        "/robots.txt" "/favicon.ico" "/healthz/x"
        "/c//evil.example" "/c/https://evil.example/" "/c/$c/../..//evil.example"
    )
    local path
    for path in "${paths[@]}"; do
        hget "$path" -A "$CHROME_UA"
        expect_404 "GET $path"
    done
    # the sample's unsubscribe, posted
    hpost "/u/$su" -d List-Unsubscribe=One-Click
    expect_404 "POST /u/<sample>"
    hpost "/u/$(flip "$u" 30)" -d List-Unsubscribe=One-Click
    expect_404 "POST /u/<forged>"
    hpost "/u/$o" -d List-Unsubscribe=One-Click
    expect_404 "POST /u/<open token>"
    # POST to the pixel, a click, a view: 405 (or 404), nothing recorded
    for path in "/o/$o.gif" "/c/$c" "/v/$v"; do
        hpost "$path" -d List-Unsubscribe=One-Click
        case "$HTTP_CODE" in 404 | 405) ;; *) fail "POST $path answered $HTTP_CODE" ;; esac
    done
    serve_barrier
    assert_eq "$(others)" "$before" "the database after forged requests"
    assert_eq "$(count suppressions)" 0
    serve_alive
}

# ---------------------------------------------------------------- hostile

@test "serve: hostile requests (.., NUL, CR/LF, 100 KB path and header, 500 headers, slowloris) are bounded; the server lives on" {
    serve_sent ann@example.com bob@example.org
    serve_conf "timeout = 2"
    start_serve
    local o c p orig before r
    p=$(lpath open ann@example.com)
    o=$(token_of "$p")
    c=$(token_of "$(lpath click ann@example.com 1)")
    hget "/c/$c"
    expect_code 302
    orig=$(hdr Location)
    wait_for 5 nev_is 1 click ann@example.com
    # CR/LF: no header of ours carries what the request said
    hget "/c/$c?x=%0d%0aSet-Cookie:%20injected=1"
    expect_code 302
    assert_eq "$(hdr Location)" "$orig" "Location with CR/LF in the query"
    printf 'GET /c/%s HTTP/1.1\r\nHost: x\r\nX-A: a\rSet-Cookie: injected=1\r\nConnection: close\r\n\r\n' "$c" |
        raw_http >"$BATS_TEST_TMPDIR/crlf.raw"
    ! grep -aqi 'injected' "$BATS_TEST_TMPDIR/crlf.raw" || fail "injected header in:" "$(cat "$BATS_TEST_TMPDIR/crlf.raw")"
    ! grep -qi 'injected' "$HDRS" || fail "injected header:" "$(cat "$HDRS")"

    serve_barrier
    before=$(others)

    # CR/LF after a token: not a token
    hget "/c/$c%0d%0aSet-Cookie:%20injected=1"
    expect_404 "CR/LF after a click token"
    hget "/o/$o.gif%0d%0aSet-Cookie:%20injected=1"
    expect_404 "CR/LF after an open token"

    # dot segments: nothing is a file, nothing normalised into a route
    local path
    for path in "/o/../healthz" "/healthz/../o/$o.gif" "/o/$o.gif/.." "/v/../../../../etc/passwd" \
        "/o/%2e%2e/healthz" "/u/..%2f..%2fetc%2fpasswd" "/o/$o.gif%2f.."; do
        hget "$path"
        case "$HTTP_CODE" in 400 | 404) ;; *) fail "GET $path answered $HTTP_CODE" ;; esac
        assert_not_contains "$(cat "$BODY")" "root:" "answer to $path"
    done
    # a 100 KB path: 414 or closed
    r=$(py 'import sys; sys.stdout.write("GET /o/" + "A" * 100000 + ".gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")' |
        raw_http | status_line)
    case "$r" in 414 | 431 | 400 | closed) ;; *) fail "a 100 KB path: $r" ;; esac
    # a 100 KB header: 431 (or 414, or closed)
    r=$(py 'import sys; sys.stdout.write("GET %s HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\nConnection: close\r\n\r\n" % (sys.argv[1], "b" * 100000))' "$p" |
        raw_http | status_line)
    case "$r" in 431 | 414 | 400 | closed) ;; *) fail "a 100 KB header: $r" ;; esac
    # 500 small headers fit in 64 KiB: answered
    r=$(py 'import sys; sys.stdout.write("GET /healthz HTTP/1.1\r\nHost: x\r\n" + "".join("X-H%d: v\r\n" % i for i in range(500)) + "Connection: close\r\n\r\n")' |
        raw_http | status_line)
    case "$r" in 200 | 431) ;; *) fail "500 headers: $r" ;; esac
    # 500 headers of 200 bytes (100 KB): refused
    r=$(py 'import sys; sys.stdout.write("GET %s HTTP/1.1\r\nHost: x\r\n" % sys.argv[1] + "".join("X-H%d: %s\r\n" % (i, "v" * 200) for i in range(500)) + "Connection: close\r\n\r\n")' "$p" |
        raw_http | status_line)
    case "$r" in 431 | 414 | 400 | closed) ;; *) fail "500 headers of 200 bytes: $r" ;; esac
    # garbage request lines
    r=$(printf 'BLAH\r\n\r\n' | raw_http 3 | status_line)
    case "$r" in 400 | 404 | 405 | 501 | closed) ;; *) fail "a garbage request line: $r" ;; esac
    r=$(printf 'GET /o/%s.gif HTTP/9.9\r\nHost: x\r\n\r\n' "$o" | raw_http 3 | status_line)
    case "$r" in 400 | 505 | closed) ;; *) fail "HTTP/9.9: $r" ;; esac
    serve_barrier
    assert_eq "$(others)" "$before" "the database after hostile requests"
    serve_alive

    # slowloris: 50 connections sending a byte a second; a person's
    # pixel still comes within 2 s
    "$PY" "$SERVE_LINKS" slowloris "$SERVE_PORT" 50 4 "$BATS_TEST_TMPDIR/slow.ready" >"$BATS_TEST_TMPDIR/slow.out" 2>&1 &
    local slow=$! t0 t1
    track_pid "$slow"
    wait_for 5 test -e "$BATS_TEST_TMPDIR/slow.ready"
    t0=$(date +%s%N)
    hget "$p" -A "$CHROME_UA" --max-time 2
    t1=$(date +%s%N)
    expect_code 200
    [ $(((t1 - t0) / 1000000)) -lt 2000 ] || fail "the pixel took $(((t1 - t0) / 1000000)) ms during slowloris"
    wait_for 10 gone "$slow"
    wait "$slow" || fail "slowloris client failed: $(cat "$BATS_TEST_TMPDIR/slow.out")"
    # a connection that goes quiet is closed after timeout (2 s)
    r=$(py 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=6)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
t = time.monotonic()
try:
    b = s.recv(100)
except OSError:
    b = b""
print("%s %.1f" % ("closed" if b == b"" else "answered", time.monotonic() - t))' "$SERVE_PORT")
    case "$r" in "closed "[1-4].*) ;; *) fail "an idle connection with timeout = 2: $r" ;; esac

    hget /healthz
    expect_code 200
    assert_eq "$(cat "$BODY")" ok
    serve_alive

    # NUL, encoded and raw: a path with a NUL in it is no route of ours,
    # not the route it would be if cut short at the NUL (last: when this
    # fails, things were recorded)
    local u bad=()
    u=$(token_of "$(lpath unsubscribe bob@example.org)")
    before=$(others)
    for path in "/o/$o%00.gif" "/o/$o.gif%00" "/o/${o}%00junk" "/c/$c%00" "/healthz%00junk"; do
        hget "$path"
        case "$HTTP_CODE" in 400 | 404) ;; *) bad+=("GET $path answered $HTTP_CODE") ;; esac
    done
    hpost "/u/$u%00junk" -d List-Unsubscribe=One-Click
    case "$HTTP_CODE" in 400 | 404) ;; *) bad+=("POST /u/TOKEN%00junk answered $HTTP_CODE") ;; esac
    r=$(printf 'GET /o/%s\0.gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$o" | raw_http | status_line)
    case "$r" in 400 | 404 | closed) ;; *) bad+=("a raw NUL in the path: $r") ;; esac
    serve_barrier
    [ "$(others)" = "$before" ] || bad+=("recorded:" "$(diff <(printf '%s\n' "$before") <(others) || :)")
    [ ${#bad[@]} -eq 0 ] || fail "${bad[@]}"
    serve_alive
}

@test "serve: per_ip and max_connections bound the connections held at once; freed, they serve again" {
    serve_sent ann@example.com
    local lim
    for lim in "per_ip = 3" "max_connections = 3"; do
        serve_conf "$lim"
        start_serve
        # three idle connections held, then a fourth asks for /healthz
        run "$PY" -c 'import socket, subprocess, sys, time
port = int(sys.argv[1])
def healthz():
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "--max-time", "1", "http://127.0.0.1:%d/healthz" % port],
                       capture_output=True, text=True)
    return r.stdout or "000"
held = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(3)]
time.sleep(0.3)
during = healthz()
for h in held:
    h.close()
after = "000"
for _ in range(15):  # the server notices the closes
    after = healthz()
    if after == "200":
        break
    time.sleep(0.2)
print(during, after)' "$SERVE_PORT"
        [ "$status" -eq 0 ] || fail "$output"
        assert_eq "$output" "000 200" "/healthz with three connections held and after, with $lim"
        stop_serve
        assert_eq "$SERVE_STATUS" 0
        serve_no_report
    done
}

@test "serve: quiet on stderr per hit; -v logs one line per hit" {
    serve_sent ann@example.com
    start_serve
    hget "$(lpath open ann@example.com)"
    expect_code 200
    hget "$(lpath click ann@example.com 1)"
    expect_code 302
    hget "/o/nothing.gif"
    expect_404 "a forged pixel"
    serve_barrier
    stop_serve
    assert_eq "$SERVE_STATUS" 0
    assert_eq "$(grep -cv -e 'campaign serve: listening on' -e 'campaign serve: SIGTERM: stopping' "$SERVE_ERR")" 0 \
        "stderr lines besides start and stop ($(cat "$SERVE_ERR"))"
    start_serve "$CAMPAIGN_BIN" -v
    hget "$(lpath open ann@example.com)"
    expect_code 200
    hget "$(lpath open ann@example.com)"
    expect_code 200
    hget "$(lpath click ann@example.com 2)"
    expect_code 302
    serve_barrier
    assert_eq "$(grep -c 'serve: open campaign=' "$SERVE_ERR")" 3 "open lines with -v (2 and the barrier's): $(cat "$SERVE_ERR")"
    assert_eq "$(grep -c 'serve: click campaign=' "$SERVE_ERR")" 1 "click lines with -v: $(cat "$SERVE_ERR")"
    serve_alive
}

# ---------------------------------------------------------------- machines

@test "serve: opens and clicks are classed machine or person: proxies, user agents, trusted X-Forwarded-For, user rules, timing" {
    serve_sent m1@example.com m2@example.com m3@example.com m4@example.com m5@example.com \
        m6@example.com m7@example.com m8@example.com m9@example.com m10@example.com
    serve_conf "trusted_proxy = 127.0.0.1" "machine_ua = Acme Link Guard" \
        "machine_net = 192.0.2.0/24" "store_ip = on" "click_seconds = 0"
    start_serve
    hget "$(lpath open m1@example.com)" -A "Mozilla/5.0 (compatible; GoogleImageProxy)"
    expect_code 200
    hget "$(lpath open m2@example.com)" -A "Mozilla/5.0"
    expect_code 200
    hget "$(lpath open m3@example.com)" -A "$CHROME_UA"
    expect_code 200
    hget "$(lpath open m4@example.com)" -A "$CHROME_UA" -H 'X-Forwarded-For: 17.58.1.1'
    expect_code 200
    hget "$(lpath open m5@example.com)" -A "Mozilla/5.0 (Windows NT 10.0) Acme Link Guard/3.1"
    expect_code 200
    hget "$(lpath open m6@example.com)" -A "$CHROME_UA" -H 'X-Forwarded-For: 192.0.2.7'
    expect_code 200
    # two links of one message within a second: both clicks a machine's
    hget "$(lpath click m7@example.com 1)" -A "$CHROME_UA"
    expect_code 302
    hget "$(lpath click m7@example.com 2)" -A "$CHROME_UA"
    expect_code 302
    # one link alone: a person
    hget "$(lpath click m8@example.com 1)" -A "$CHROME_UA"
    expect_code 302
    serve_barrier
    ev() { q "SELECT machine, ua_class, coalesce(ip, 'NULL') FROM events WHERE kind = '$1' AND contact_id = $(cid "$2") ORDER BY id;"; }
    why() { q "SELECT machine_reason FROM events WHERE kind = '$1' AND contact_id = $(cid "$2") ORDER BY id LIMIT 1;"; }
    assert_eq "$(ev open m1@example.com)" "1|gmail-proxy|127.0.0.1" "GoogleImageProxy"
    assert_eq "$(ev open m2@example.com)" "1|apple-mpp|127.0.0.1" "bare Mozilla/5.0"
    assert_eq "$(ev open m3@example.com)" "0|browser|127.0.0.1" "desktop Chrome"
    assert_eq "$(why open m3@example.com)" "" "reason for a person"
    assert_eq "$(ev open m4@example.com | cut -d'|' -f1,3)" "1|17.58.1.1" "Apple's 17/8 through a trusted proxy"
    assert_contains "$(why open m4@example.com)" "17.0.0.0/8"
    assert_eq "$(ev open m5@example.com | cut -d'|' -f1)" 1 "a machine_ua rule"
    assert_contains "$(why open m5@example.com)" "Acme Link Guard" "reason of a machine_ua rule"
    assert_eq "$(ev open m6@example.com | cut -d'|' -f1,3)" "1|192.0.2.7" "a machine_net rule through a trusted proxy"
    assert_contains "$(why open m6@example.com)" "192.0.2.0/24" "reason of a machine_net rule"
    assert_eq "$(q "SELECT machine, machine_reason FROM events WHERE kind = 'click' AND contact_id = $(cid m7@example.com) ORDER BY id;")" \
        "1|2 links clicked within 1 s"$'\n'"1|2 links clicked within 1 s" "two links within a second"
    assert_eq "$(q "SELECT machine FROM events WHERE kind = 'click' AND contact_id = $(cid m8@example.com);")" 0 "one link alone"
    # the user agent itself is never stored
    assert_eq "$(q "SELECT count(*) FROM events WHERE coalesce(machine_reason, '') || coalesce(ua_class, '') || coalesce(url, '')
                     LIKE '%Chrome/124%' OR coalesce(machine_reason, '') LIKE '%Windows NT%';")" 0 "events holding the user agent"
    stop_serve
    assert_eq "$SERVE_STATUS" 0

    # defaults: X-Forwarded-For of an untrusted peer is ignored, no ip
    # stored; a click within click_seconds of delivery is a machine's
    serve_conf "click_seconds = 60"
    start_serve
    hget "$(lpath open m9@example.com)" -A "$CHROME_UA" -H 'X-Forwarded-For: 17.58.1.1'
    expect_code 200
    hget "$(lpath click m10@example.com 1)" -A "$CHROME_UA"
    expect_code 302
    serve_barrier
    assert_eq "$(ev open m9@example.com)" "0|browser|NULL" "X-Forwarded-For without trusted_proxy"
    assert_eq "$(q "SELECT machine FROM events WHERE kind = 'click' AND contact_id = $(cid m10@example.com);")" 1 "a click right after delivery"
    assert_contains "$(why click m10@example.com)" "after delivery"
    assert_eq "$(q "SELECT count(*) FROM events WHERE ip IS NOT NULL AND contact_id IN ($(cid m9@example.com), $(cid m10@example.com));")" 0 "ip without store_ip"
    serve_alive
}

# ---------------------------------------------------------------- load and signals

@test "serve: a burst of 3,000 pixel hits from 32 keep-alive clients: every 200 is one open" {
    [ -x "$CAMPAIGN_FAST_BIN" ] || fail "CAMPAIGN_FAST_BIN=$CAMPAIGN_FAST_BIN is not executable (make)"
    serve_sent b1@example.com b2@example.com b3@example.com b4@example.com b5@example.com \
        b6@example.com b7@example.com b8@example.com
    # with ".gif" for four of them, without for the others
    local i
    for i in 1 2 3 4; do lpath open "b$i@example.com"; done >"$BATS_TEST_TMPDIR/paths"
    for i in 5 6 7 8; do lpath open "b$i@example.com" | sed 's/\.gif$//'; done >>"$BATS_TEST_TMPDIR/paths"
    start_serve "$CAMPAIGN_FAST_BIN"
    run "$PY" "$SERVE_BURST" "$SERVE_PORT" 32 3000 "$BATS_TEST_TMPDIR/paths"
    [ "$status" -eq 0 ] || fail "load client: $output"
    assert_eq "$output" "ok 3000 other 0 failed 0 signalled 0" "the load client's count"
    opens() { q "SELECT count(*) FROM events WHERE kind = 'open';"; }
    at_least() { [ "$(opens)" -ge "$1" ]; }
    wait_for 10 at_least 3000
    stop_serve
    assert_eq "$SERVE_STATUS" 0
    assert_eq "$(opens)" 3000 "opens recorded"
    assert_eq "$(q "SELECT count(*) FROM events;")" 3000 "events recorded"
    # spread over the 8 people as the paths were
    assert_eq "$(q "SELECT group_concat(n) FROM (SELECT count(*) AS n FROM events GROUP BY contact_id);")" \
        "375,375,375,375,375,375,375,375" "opens per person"
}

@test "serve: SIGTERM in the middle of a burst exits 0 having recorded exactly the opens it answered 200" {
    [ -x "$CAMPAIGN_FAST_BIN" ] || fail "CAMPAIGN_FAST_BIN=$CAMPAIGN_FAST_BIN is not executable (make)"
    serve_sent b1@example.com b2@example.com b3@example.com b4@example.com
    local i round ok signalled rc before after bad=()
    for i in 1 2 3 4; do lpath open "b$i@example.com"; done >"$BATS_TEST_TMPDIR/paths"
    # three rounds: the moment of the signal differs from one to the next
    for round in 1 2 3; do
        before=$(q "SELECT count(*) FROM events WHERE kind = 'open';")
        start_serve "$CAMPAIGN_FAST_BIN"
        # the client sends SIGTERM itself once 1,000 hits were answered,
        # and goes on until the server stops answering
        run "$PY" "$SERVE_BURST" "$SERVE_PORT" 32 200000 "$BATS_TEST_TMPDIR/paths" \
            --signal TERM --after 1000 --pid "$SERVE_PID"
        [ "$status" -eq 0 ] || fail "load client: $output"
        read -r _ ok _ _ _ _ _ signalled <<<"$output"
        assert_eq "$signalled" 1 "signal sent ($output)"
        [ "$ok" -ge 1000 ] || fail "fewer answers than expected: $output"
        [ "$ok" -lt 200000 ] || fail "the burst outlived SIGTERM: $output"
        wait_for 10 gone "$SERVE_PID"
        rc=0
        wait "$SERVE_PID" || rc=$?
        assert_eq "$rc" 0 "exit status after SIGTERM ($(cat "$SERVE_ERR"))"
        grep -q 'SIGTERM: stopping' "$SERVE_ERR" || fail "serve did not say it stopped:" "$(cat "$SERVE_ERR")"
        assert_eq "$(q 'PRAGMA integrity_check;')" ok
        # every 200 recorded, and nothing recorded that was not answered
        after=$(q "SELECT count(*) FROM events WHERE kind = 'open';")
        [ $((after - before)) -eq "$ok" ] ||
            bad+=("round $round: $((after - before)) opens recorded, $ok answered 200 ($output)")
    done
    [ ${#bad[@]} -eq 0 ] || fail "${bad[@]}"
}

@test "serve: SIGINT exits 0, saying so, with the hits before it recorded" {
    serve_sent ann@example.com
    start_serve
    hget "$(lpath open ann@example.com)"
    expect_code 200
    hget "$(lpath open ann@example.com)"
    expect_code 200
    stop_serve INT
    assert_eq "$SERVE_STATUS" 0 "exit status after SIGINT ($(cat "$SERVE_ERR"))"
    grep -q 'SIGINT: stopping' "$SERVE_ERR" || fail "serve did not say it stopped:" "$(cat "$SERVE_ERR")"
    serve_no_report
    assert_eq "$(nev open ann@example.com)" 2 "opens recorded before SIGINT"
    # and SIGTERM, on the sanitizer build: exit 0, no report
    start_serve
    hget "$(lpath open ann@example.com)"
    expect_code 200
    stop_serve TERM
    assert_eq "$SERVE_STATUS" 0 "exit status after SIGTERM ($(cat "$SERVE_ERR"))"
    serve_no_report
    assert_eq "$(nev open ann@example.com)" 3 "opens recorded before SIGTERM"
}

@test "serve: kill -9 right after an unsubscribe's 200 loses nothing of it" {
    serve_sent paola@example.com ann@example.com
    start_serve
    # an open, written within its batch
    hget "$(lpath open ann@example.com)"
    expect_code 200
    wait_for 5 nev_is 1 open ann@example.com
    # the commit is held up by another writer for a second: the 200
    # waits for it, and kill -9 comes at once after the 200
    local p
    p=$(lpath unsubscribe paola@example.com)
    hold_db 1
    hpost "$p" -d List-Unsubscribe=One-Click
    expect_code 200
    kill -9 "$SERVE_PID"
    wait_for 5 gone "$SERVE_PID"
    wait "$SERVE_PID" || :
    assert_eq "$(q "SELECT email, reason FROM suppressions;")" "paola@example.com|unsubscribed" "suppressions after kill -9"
    assert_eq "$(status_of paola@example.com)" unsubscribed
    assert_eq "$(nev unsubscribe paola@example.com)" 1
    assert_eq "$(nev open ann@example.com)" 1
    assert_eq "$(q 'PRAGMA integrity_check;')" ok
    # and it starts again on the same database
    start_serve
    hget /healthz
    expect_code 200
}

# ---------------------------------------------------------------- command line

@test "serve: --help, a bad --listen (64/78), a port in use (69), no database (66)" {
    crun 0 serve --help
    assert_contains "$output" "usage: campaign serve [--listen ADDR:PORT]"
    assert_eq "${stderr:-}" "" "stderr of --help"

    crun 64 serve --bogus
    run --separate-stderr camp serve --listen nonsense
    no_sanitizer_report
    case "$status" in 64 | 78) ;; *) fail "--listen nonsense: exit $status" "$stderr" ;; esac
    assert_contains "$stderr" "nonsense" "the message for --listen nonsense"
    run --separate-stderr camp serve --listen 256.1.1.1:80
    no_sanitizer_report
    case "$status" in 64 | 69 | 78) ;; *) fail "--listen 256.1.1.1:80: exit $status" "$stderr" ;; esac
    assert_contains "$stderr" "256.1.1.1:80"

    # a port somebody else listens on
    local port
    port=$(free_port)
    "$PY" -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
time.sleep(30)' "$port" &
    track_pid $!
    wait_port "$port" 50
    run --separate-stderr camp serve --listen "127.0.0.1:$port"
    no_sanitizer_report
    expect_status 69
    assert_contains "$stderr" "127.0.0.1:$port" "the message for a port in use"

    # no database
    run --separate-stderr "$CAMPAIGN_BIN" --db "$BATS_TEST_TMPDIR/none.db" serve --listen "127.0.0.1:$(free_port)"
    no_sanitizer_report
    expect_status 66
    assert_contains "$stderr" "none.db"
    [ ! -e "$BATS_TEST_TMPDIR/none.db" ] || fail "serve created a database"
}

@test "serve: a one-click body that arrives in pieces still unsubscribes; an unsubscribe waiting on the disk holds no other request" {
    serve_sent paola@example.com ann@example.com
    start_serve
    local p o t0 t1
    p=$(lpath unsubscribe paola@example.com)
    o=$(lpath open ann@example.com)
    # the body in two writes, the field's value split across them: the
    # post processor hands the value over in two pieces
    r=$("$PY" -c '
import socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
body = b"List-Unsubscribe=One-Click"
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
          b"Content-Type: application/x-www-form-urlencoded\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body) + body[:21])
time.sleep(0.3)
s.sendall(body[21:])
print(s.recv(4096).split(b"\r\n")[0].decode())
' "$SERVE_PORT" "$p")
    assert_eq "$r" "HTTP/1.1 200 OK" "a body in two pieces"
    assert_eq "$(status_of paola@example.com)" unsubscribed

    # ann unsubscribes while another process holds the write lock for 2 s:
    # her answer waits for the commit, but an open of hers on another
    # connection is answered at once (the request threads are not held)
    p=$(lpath unsubscribe ann@example.com)
    hold_db 2
    curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -d List-Unsubscribe=One-Click \
        "$SERVE_URL$p" >"$BATS_TEST_TMPDIR/unsub.code" &
    local upid=$!
    sleep 0.3
    t0=$(date +%s%N)
    for _ in 1 2 3 4; do
        hget "$o" -A "$CHROME_UA"
        expect_code 200
    done
    t1=$(date +%s%N)
    [ $(((t1 - t0) / 1000000)) -lt 1000 ] || fail "4 opens took $(((t1 - t0) / 1000000)) ms while an unsubscribe waited"
    wait "$upid"
    assert_eq "$(cat "$BATS_TEST_TMPDIR/unsub.code")" 200 "the unsubscribe's answer"
    assert_eq "$(status_of ann@example.com)" unsubscribed
}

@test "serve: HEAD of a click is a link checker's; a POST to a pixel, click or view is the one 404" {
    serve_sent paola@example.com
    start_serve
    local c o
    c=$(lpath click paola@example.com 1)
    hhead "$c"
    expect_code 302
    serve_barrier
    assert_eq "$(nev click paola@example.com "machine = 1 AND machine_reason LIKE 'HEAD request%'")" 1 "a HEAD click is a machine's"
    assert_eq "$(nev click paola@example.com "machine = 0")" 0
    for kind in open click view; do
        o=$(lpath "$kind" paola@example.com 1)
        hpost "$o" -d x=y
        expect_404 "POST to the $kind link"
    done
    serve_barrier
    assert_eq "$(nev view paola@example.com)" 0 "views"
}

@test "serve: trusted_proxy must be an address" {
    serve_sent paola@example.com
    printf '[serve]\ntrusted_proxy = localhost\n' >>"$BATS_TEST_TMPDIR/campaign.conf"
    crun 78 serve
    assert_contains "$stderr" "trusted_proxy"
    assert_contains "$stderr" "localhost"
}
