#!/usr/bin/env bats
# bite_messages.bats - the header fields of each message, value by value
# (README "Messages", "Templates"): List-Unsubscribe with the https URL
# and a mailto, List-Unsubscribe-Post only for an https URL (RFC 8058),
# List-Id (RFC 2919), From and Reply-To from [sender] or from the
# template's own headers.  Written for scripts/mutants-more.txt (issue
# 10): messages.bats checks that these fields are there, not what they
# say.

load lib

setup() {
    campaign_setup || return 1
    cp -R "$E2E_TOP/templates" "$BATS_TEST_TMPDIR/templates"
    export CAMPAIGN_TEMPLATES="$BATS_TEST_TMPDIR/templates"
    conf https://t.acme.example
    crun 0 import "$E2E_TOP/tests/data/demo/contacts.csv" --list news
}

# conf BASE_URL - campaign.conf with this tracking base URL.
conf() {
    cat >campaign.conf <<CONF
[sender]
from = Acme Moda <news@acme.example>
reply_to = help@acme.example
list_id = news.acme.example
bounce_domain = bounces.acme.example

[tracking]
base_url = $1
CONF
}

# cout FILE N ARGS... - the binary's stdout into FILE, bytes exact; exit
# status N.
cout() {
    local file=$1 want=$2
    shift 2
    run --separate-stderr bash -c '"$@" >"$0"' "$file" "$CAMPAIGN_BIN" --db "$DB" "$@"
    no_sanitizer_report || return 1
    expect_status "$want"
}

# fields FILE NAME... - "NAME: value" of each named field of the message
# in FILE (every instance, unfolded), as Python's email package reads it.
fields() {
    py '
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.compat32)
for n in sys.argv[2:]:
    for v in m.get_all(n) or []:
        print("%s: %s" % (n, " ".join(v.split())))
' "$@"
}

@test "bite messages: List-Unsubscribe holds the https URL and the mailto; One-Click; List-Id; From and Reply-To of [sender]" {
    cout p.eml 0 preview --template promo --to ada.lovelace@example.com
    local lu
    lu=$(fields p.eml List-Unsubscribe)
    [[ "$lu" =~ ^List-Unsubscribe:\ \<https://t\.acme\.example/u/[A-Za-z0-9_-]+\>,\ \<mailto:unsubscribe\+[A-Za-z0-9_-]+@bounces\.acme\.example\?subject=unsubscribe\>$ ]] ||
        fail "List-Unsubscribe: $lu"
    assert_eq "$(fields p.eml List-Unsubscribe-Post)" "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    assert_eq "$(fields p.eml List-Id)" "List-Id: Acme Moda <news.acme.example>"
    assert_eq "$(fields p.eml From)" 'From: "Acme Moda" <news@acme.example>'
    assert_eq "$(fields p.eml Reply-To)" "Reply-To: help@acme.example"
    # the https URL of the header is the unsubscribe link of the body
    local url
    url=$(printf '%s\n' "$lu" | grep -o 'https://[^>]*')
    crun 0 preview --template promo --to ada.lovelace@example.com --format html
    assert_contains "$output" "href=\"$url\""
}

@test "bite messages: an http tracking URL gets List-Unsubscribe without the RFC 8058 one-click promise" {
    conf http://127.0.0.1:8787
    cout p.eml 0 preview --template promo --to ada.lovelace@example.com
    assert_contains "$(fields p.eml List-Unsubscribe)" "<http://127.0.0.1:8787/u/"
    assert_eq "$(fields p.eml List-Unsubscribe-Post)" ""
}

@test "bite messages: the template's From: and Reply-To: override [sender]" {
    cat >templates/own.mustache <<'T'
Subject: Hello
From: Acme Care <care@acme.example>
Reply-To: desk@acme.example

<p>Hello</p>
T
    cout p.eml 0 preview --template own --to ada.lovelace@example.com
    assert_eq "$(fields p.eml From)" 'From: "Acme Care" <care@acme.example>'
    assert_eq "$(fields p.eml Reply-To)" "Reply-To: desk@acme.example"
}

@test "bite messages: the real binary's signature over-signs List-Unsubscribe and Subject: a second one prepended fails" {
    crun 0 dkim keygen --domain acme.example --selector ed --algo ed25519
    printf '%s\n' "$output" | grep 'IN TXT' >ed.txt
    cat >>campaign.conf <<'CONF'

[dkim]
domain = acme.example
selector = ed
key_file = ed.acme.example.key
CONF
    cout p.eml 0 preview --template promo --to ada.lovelace@example.com
    { printf 'List-Unsubscribe: <https://evil.example/u>\r\n'; cat p.eml; } >lu.eml
    { printf 'Subject: You won\r\n'; cat p.eml; } >subject.eml
    dkim_verify() { $PY "$E2E_TOP/tests/e2e/dkim_verify.py" --txt ed.txt "$@"; }
    # the control: the message as built verifies
    run dkim_verify p.eml
    [ "$status" -eq 0 ] || fail "the message as built: $output"
    run dkim_verify lu.eml
    [ "$status" -ne 0 ] || fail "python3-dkim accepted a second List-Unsubscribe: $output"
    run dkim_verify subject.eml
    [ "$status" -ne 0 ] || fail "python3-dkim accepted a second Subject: $output"
}
