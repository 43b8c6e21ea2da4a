#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
#
# serve_nginx.bats - `campaign serve` behind the nginx server block of the
# README (section "### `campaign serve"), as an operator would run it:
# TLS terminated by nginx (Debian's, a self-signed certificate), HTTP/2
# and HTTP/1.1 from the client, HTTP/1.1 keep-alive to serve, and
# [serve] trusted_proxy = 127.0.0.1 with store_ip = on.
#
# Each test sends the promo campaign to two people through smtp-sink with
# [tracking] base_url = https://127.0.0.1:NGINX_PORT, takes the links out
# of the message received, and follows them with curl through nginx.
# serve is the binary under test (CAMPAIGN_BIN, the sanitizer build); it
# is stopped with SIGTERM at the end of each test and must exit 0 with no
# sanitizer report.  A missing nginx fails the tests, never skips them.

load lib
load send_lib
load serve_nginx_lib

ANN=ann@example.com
BOB=bob@example.com

setup() {
    nginx_require || return 1
    campaign_setup || return 1
    NGX="$BATS_TEST_TMPDIR/nginx"
    make_cert "$NGX" || return 1
    list_of "$ANN" "$BOB" || return 1
    start_sink || return 1
    start_front || return 1
    send_status 0
    assert_eq "$(states)" "sent 2" "ledger" || return 1
    LINKS="$BATS_TEST_TMPDIR/links.tsv"
    mail_links "$ANN" >"$LINKS" || return 1
    [ -n "$(link open)" ] && [ -n "$(link unsub)" ] && [ -n "$(link click)" ] ||
        fail "links of the message:" "$(cat "$LINKS")"
}

teardown() {
    send_teardown
}

# id_of EMAIL - the contact's id.
id_of() {
    q "SELECT id FROM contacts WHERE email = $(sqlstr "$1");"
}

@test "serve_nginx: the README's block is used with only ports, name and certificate changed" {
    local orig
    orig=$(readme_nginx_block)
    # the block as served, without the test's wrapper
    run diff <(printf '%s\n' "$orig") \
        <(sed -n '/^upstream campaign_serve/,$p' "$NGX/nginx.conf" | sed '$d')
    assert_eq "$(printf '%s\n' "$output" | grep -c '^>')" 5 \
        "lines changed from the README's block (diff: $output)"
    assert_contains "$(cat "$NGX/nginx.conf")" "listen 127.0.0.1:$NGINX_PORT ssl http2;"
    assert_contains "$(cat "$NGX/nginx.conf")" "server 127.0.0.1:$SERVE_PORT;"
    stop_serve
    nginx_errors_none
}

@test "serve_nginx: the pixel over https is the 43-byte GIF and an open from the address nginx saw" {
    local px hdr body
    px=$(link open)
    assert_contains "$px" "https://127.0.0.1:$NGINX_PORT/o/"
    body="$BATS_TEST_TMPDIR/pixel.gif"
    hdr="$BATS_TEST_TMPDIR/pixel.hdr"
    # a person's mail client; the client claims to be behind Apple's
    # privacy proxy (17.0.0.0/8): nginx appends the real peer, and serve
    # takes the last address, the one nginx added
    run tls_curl -o "$body" -D "$hdr" -A "$BROWSER_UA" \
        -H 'X-Forwarded-For: 17.1.1.1' \
        -w '%{http_code} %{size_download} %{http_version}' "$px"
    expect_status 0
    assert_eq "$output" "200 43 2" "status, size, HTTP version"
    assert_eq "$(head -c 6 "$body")" "GIF89a" "GIF signature"
    assert_contains "$(tr -d '\r' <"$hdr")" "content-type: image/gif"
    assert_contains "$(tr -d '\r' <"$hdr")" "cache-control: no-store"

    wait_for 2 has_events 1 "kind = 'open'"
    run q "SELECT contact_id, ip, machine, coalesce(machine_reason, '')
             FROM events WHERE kind = 'open';"
    assert_output "$(id_of "$ANN")|127.0.0.1|0|"

    # the same from another client address (127.0.0.2 is loopback too):
    # serve, whose peer is always nginx at 127.0.0.1, records the address
    # nginx saw, so it came through X-Forwarded-For
    run tls_curl --interface 127.0.0.2 -o /dev/null -A "$BROWSER_UA" \
        -H 'X-Forwarded-For: 17.1.1.1' -w '%{http_code}' "$px"
    assert_output 200
    wait_for 2 has_events 2 "kind = 'open'"
    run q "SELECT ip, machine FROM events WHERE kind = 'open' ORDER BY id;"
    assert_output "127.0.0.1|0
127.0.0.2|0"

    # the control: the same claim made straight to serve, from the
    # trusted proxy's address, is believed (Bob's open: Apple's proxy)
    local bob_px
    LINKS="$BATS_TEST_TMPDIR/bob.tsv"
    mail_links "$BOB" >"$LINKS"
    bob_px=$(link open)
    run curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
        -A "$BROWSER_UA" -H 'X-Forwarded-For: 17.1.1.1' \
        "http://127.0.0.1:$SERVE_PORT${bob_px#https://127.0.0.1:$NGINX_PORT}"
    assert_output 200
    wait_for 2 has_events 3 "kind = 'open'"
    run q "SELECT ip, machine FROM events
            WHERE kind = 'open' AND contact_id = $(id_of "$BOB");"
    assert_output "17.1.1.1|1"

    # HEAD through nginx: 200 and no body
    run tls_curl -I -o /dev/null -w '%{http_code}' "$px"
    assert_output 200
    stop_serve
    nginx_errors_none
}

@test "serve_nginx: each click link redirects (302) to its link in the message" {
    local n=0 url want
    while IFS=$'\t' read -r kind url want; do
        [ "$kind" = click ] || continue
        n=$((n + 1))
        [ "$want" != "?" ] || fail "no link in the text part for $url" || return 1
        # HTTP/1.1 here (the pixel test covers HTTP/2)
        run tls_curl --http1.1 -A "$BROWSER_UA" -o /dev/null \
            -w '%{http_code} %{http_version} %{redirect_url}' "$url"
        expect_status 0
        assert_eq "$output" "302 1.1 $want" "click $n ($url)"
    done <"$LINKS"
    [ "$n" -ge 2 ] || fail "only $n click links in the message:" "$(cat "$LINKS")"
    wait_for 2 has_events "$n" "kind = 'click'"
    run q "SELECT DISTINCT contact_id || '|' || ip FROM events WHERE kind = 'click';"
    assert_output "$(id_of "$ANN")|127.0.0.1"
    run q "SELECT url FROM events WHERE kind = 'click' ORDER BY id;"
    assert_output "$(awk -F'\t' '$1 == "click" { print $3 }' "$LINKS")"
    stop_serve
    nginx_errors_none
}

@test "serve_nginx: RFC 8058 one-click POST through nginx suppresses the contact" {
    local u
    u=$(link list-unsubscribe)
    assert_eq "$u" "$(link unsub)" "List-Unsubscribe URL vs the link in the body"
    assert_eq "$(link list-unsubscribe-post)" "List-Unsubscribe=One-Click" \
        "List-Unsubscribe-Post"

    # the page changes nothing (link scanners GET every URL)
    run tls_curl -A "$BROWSER_UA" -w '\n%{http_code}' "$u"
    expect_status 0
    assert_eq "${output##*$'\n'}" 200 "GET /u/ status"
    assert_contains "$output" "a***@e***.com"
    assert_eq "$(count suppressions)" 0 "suppressions after GET"

    # what a mailbox provider sends (RFC 8058 section 3.1)
    run tls_curl -X POST -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-raw 'List-Unsubscribe=One-Click' -o /dev/null -w '%{http_code}' "$u"
    expect_status 0
    assert_output 200
    # committed before the 200: no waiting here
    run q "SELECT email, reason FROM suppressions;"
    assert_output "$ANN|unsubscribed"
    assert_eq "$(status_of "$ANN")" unsubscribed "contact status"
    assert_eq "$(status_of "$BOB")" active "Bob's status"
    assert_eq "$(events_where "kind = 'unsubscribe'")" 1 "unsubscribe events"

    # again, and multipart this time: idempotent
    run tls_curl --http1.1 -F 'List-Unsubscribe=One-Click' -o /dev/null \
        -w '%{http_code}' "$u"
    assert_output 200
    assert_eq "$(count suppressions)" 1 "suppressions after a second POST"
    assert_eq "$(events_where "kind = 'unsubscribe'")" 1 "unsubscribe events"

    # a body over client_max_body_size is refused by nginx itself
    run tls_curl -X POST --data-binary "List-Unsubscribe=One-Click&x=$(head -c 5000 /dev/zero | tr '\0' a)" \
        -o /dev/null -w '%{http_code}' "$u"
    assert_output 413
    stop_serve
}

@test "serve_nginx: web view, healthz and a forged token through nginx" {
    local v forged body="$BATS_TEST_TMPDIR/view.html"
    v=$(link view)
    run tls_curl -A "$BROWSER_UA" -o "$body" -w '%{http_code} %{content_type}' "$v"
    expect_status 0
    assert_eq "${output%%;*}" "200 text/html" "web view status and type"
    assert_contains "$(cat "$body")" "Giacca in lino"
    assert_not_contains "$(cat "$body")" "/o/" "the web view"
    wait_for 2 has_events 1 "kind = 'view'"
    assert_eq "$(events_where "kind = 'open'")" 0 "opens after a web view"

    run tls_curl -o /dev/null -w '%{http_code}' "https://127.0.0.1:$NGINX_PORT/healthz"
    assert_output 200

    # one character of the pixel's token changed
    forged=$(link open | sed 's/\(\/o\/.\{10\}\)./\1x/')
    [ "$forged" != "$(link open)" ] || forged=$(link open | sed 's/\(\/o\/.\{10\}\)./\1y/')
    run tls_curl -o /dev/null -w '%{http_code}' "$forged"
    assert_output 404
    sleep 0.3
    assert_eq "$(events_where "kind = 'open'")" 0 "opens after a forged token"
    stop_serve
    nginx_errors_none
}
