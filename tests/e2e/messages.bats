#!/usr/bin/env bats
# messages.bats - what each recipient receives (issue 3): templates,
# preview, the dry run, MIME checked by Python's email package, DKIM
# checked by python3-dkim and opendkim, hostile merge values.

load lib

setup() {
    campaign_setup || return 1
    cp -R "$E2E_TOP/templates" "$BATS_TEST_TMPDIR/templates"
    export CAMPAIGN_TEMPLATES="$BATS_TEST_TMPDIR/templates"
    cat >campaign.conf <<'CONF'
[sender]
from = Acme Moda <news@acme.example>
reply_to = help@acme.example
list_id = news.acme.example
bounce_domain = bounces.acme.example

[tracking]
base_url = https://t.acme.example
CONF
    crun 0 import "$E2E_TOP/tests/data/demo/contacts.csv" --list news
}

# keys - an Ed25519 and an RSA key, both in campaign.conf (dual signing)
keys() {
    crun 0 dkim keygen --domain acme.example --selector ed --algo ed25519
    printf '%s\n' "$output" | grep 'IN TXT' >ed.txt
    crun 0 dkim keygen --domain acme.example --selector rsa --algo rsa
    printf '%s\n' "$output" | grep 'IN TXT' >rsa.txt
    cat >>campaign.conf <<'CONF'

[dkim]
domain = acme.example
selector = ed
key_file = ed.acme.example.key

[dkim rsa]
domain = acme.example
selector = rsa
key_file = rsa.acme.example.key
CONF
}

# cout FILE N ARGS... - run the binary with stdout into FILE (bytes exact:
# $output would lose the final line break), require exit status N.
cout() {
    local file=$1 want=$2
    shift 2
    run --separate-stderr bash -c '"$@" >"$0"' "$file" "$CAMPAIGN_BIN" --db "$DB" "$@"
    no_sanitizer_report || return 1
    expect_status "$want"
}

mime_check() { $PY "$E2E_TOP/tests/e2e/mime_check.py" "$@"; }
dkim_verify() { $PY "$E2E_TOP/tests/e2e/dkim_verify.py" --txt ed.txt --txt rsa.txt "$@"; }
odkim_verify() { sh "$E2E_TOP/tests/e2e/opendkim_verify.sh" --txt ed.txt --txt rsa.txt "$@"; }

# only_sig SELECTOR IN OUT - IN without the DKIM-Signature fields of other
# selectors.  libopendkim answers for a message with the status of its
# first signature, so opendkim_verify.sh, which publishes one key at a
# time, reports "No key" for the other key's signature; with one
# signature left, its answer is that signature's.  The signatures do not
# sign one another (no DKIM-Signature in h=), so dropping one changes
# nothing for the other.
only_sig() {
    py '
import re, sys
sel, src, dst = sys.argv[1:]
raw = open(src, "rb").read()
head, body = raw.split(b"\r\n\r\n", 1)
fields = re.split(rb"\r\n(?![ \t])", head)
def keep(f):
    if not f.lower().startswith(b"dkim-signature:"):
        return True
    tags = re.sub(rb"\s", b"", f.split(b":", 1)[1])
    return (b";s=" + sel.encode() + b";") in b";" + tags + b";"
kept = [f for f in fields if keep(f)]
assert len(fields) - len(kept) == 1, "not exactly one other signature"
open(dst, "wb").write(b"\r\n".join(kept) + b"\r\n\r\n" + body)
' "$@"
}

@test "templates lists each template with its subject and fields" {
    crun 0 templates
    assert_contains "$output" "promo"
    assert_contains "$output" "notice"
    assert_contains "$output" "layout:  layout"
    assert_contains "$output" "discount"
    assert_contains "$output" "first_name?"
}

@test "preview: the complete promo message parses as intended" {
    cout p.eml 0 preview --template promo --to niccolo.rossi@example.it
    mime_check --subject "Niccolò, le novità di primavera: fino al 30% di sconto" \
        --to niccolo.rossi@example.it --to-name "Niccolò Rossi" \
        --html-has "Giacca in lino" --html-has "Città di Castello" \
        --preheader "Scopri la collezione di primavera: spedizione gratuita fino a" \
        --text-lacks "Scopri la collezione" \
        --text-has "Giacca in lino (https://shop.acme.example/p/giacca-lino)" \
        --text-has "Ciao Niccolò," --header List-Id --header Feedback-ID p.eml
}

@test "preview: --format html and text give the parts" {
    crun 0 preview --template promo --to ada.lovelace@example.com --format html
    assert_contains "$output" "<strong>30%</strong>"
    assert_contains "$output" "https://t.acme.example/c/"
    assert_contains "$output" "https://t.acme.example/o/"
    crun 0 preview --template promo --to ada.lovelace@example.com --format text
    assert_contains "$output" "Ciao Ada,"
    assert_not_contains "$output" "<p>"
}

@test "preview: the notice uses its own text part" {
    crun 0 preview --template notice --to grace.hopper@example.org --format text
    assert_contains "$output" "- We now store invoices for ten years"
    assert_contains "$output" "This is a service notice about your account (grace.hopper@example.org)."
}

@test "Message-ID is stable per campaign and contact" {
    crun 0 preview --template notice --to alan.turing@example.net
    a=$(printf '%s\n' "$output" | grep '^Message-ID:')
    crun 0 preview --template notice --to alan.turing@example.net
    b=$(printf '%s\n' "$output" | grep '^Message-ID:')
    crun 0 preview --template notice --to alan.turing@example.net --campaign other
    c=$(printf '%s\n' "$output" | grep '^Message-ID:')
    crun 0 preview --template notice --to ada.lovelace@example.com
    d=$(printf '%s\n' "$output" | grep '^Message-ID:')
    assert_eq "$a" "$b" "Message-ID of a resend"
    [ "$a" != "$c" ] || fail "another campaign has the same Message-ID"
    [ "$a" != "$d" ] || fail "another contact has the same Message-ID"
    assert_contains "$a" "@acme.example>"
}

@test "DKIM: dual RSA and Ed25519 signatures verify with python3-dkim and opendkim" {
    keys
    cout p.eml 0 preview --template promo --to niccolo.rossi@example.it
    [ "$(grep -c '^DKIM-Signature:' p.eml)" -eq 2 ] || fail "not two signatures"
    run dkim_verify p.eml
    [ "$status" -eq 0 ] || fail "python3-dkim: $output"
    run odkim_verify p.eml
    [ "$status" -eq 0 ] || fail "opendkim: $output"
}

# verdicts FILE... - the last run's one line per signature or key, as
# "FILE: verdict" with the key names cut out, sorted
verdicts() {
    printf '%s\n' "$output" | sed -E 's/: (signature [0-9]+ d=[^:]*|opendkim, key [^:]*): /: /' | sort
}

@test "DKIM: a prepended From or List-Unsubscribe, or appended body text, breaks the signatures themselves" {
    keys
    cout p.eml 0 preview --template notice --to ada.lovelace@example.com
    run dkim_verify p.eml
    [ "$status" -eq 0 ] || fail "the message itself does not verify: $output"
    { printf 'From: Mallory <ceo@acme.example>\r\n'; cat p.eml; } >from.eml
    { printf 'List-Unsubscribe: <https://evil.example/u>\r\n'; cat p.eml; } >lu.eml
    { cat p.eml; printf 'Click here: https://evil.example\r\n'; } >body.eml
    # python3-dkim: each of the two signatures fails on its own account -
    # the header hash for an added field (over-signed: h= names one more
    # instance than we had), the body hash for added text - not because
    # the verifier could not run or found no key
    run dkim_verify from.eml
    expect_status 1
    assert_eq "$(verdicts)" $'from.eml: FAIL (signature does not verify)\nfrom.eml: FAIL (signature does not verify)'
    run dkim_verify lu.eml
    expect_status 1
    assert_eq "$(verdicts)" $'lu.eml: FAIL (signature does not verify)\nlu.eml: FAIL (signature does not verify)'
    run dkim_verify body.eml
    expect_status 1
    [ "$(printf '%s\n' "$output" | grep -c ': FAIL (ValidationError: body hash mismatch ')" -eq 2 ] ||
        fail "python3-dkim, appended text: not two body hash mismatches:" "$output"
    # opendkim refuses a second From before it looks at any signature
    # (RFC 5322 3.6 allows one; libopendkim's header check, a syntax
    # error), so the over-signing is shown by the List-Unsubscribe copy
    run odkim_verify from.eml
    expect_status 1
    assert_eq "$(verdicts)" $'from.eml: FAIL (opendkim-testmsg: dkim_chunk(): Syntax error)\nfrom.eml: FAIL (opendkim-testmsg: dkim_chunk(): Syntax error)'
    local sel f
    for sel in ed rsa; do
        for f in lu body; do
            only_sig "$sel" "$f.eml" "$f-$sel.eml"
            run odkim_verify "$f-$sel.eml"
            expect_status 1
            assert_eq "$(verdicts)" "$f-$sel.eml: FAIL (opendkim-testmsg: dkim_eom(): Bad signature)" "opendkim, $f, key $sel"
        done
        only_sig "$sel" p.eml "p-$sel.eml"
        run odkim_verify "p-$sel.eml"
        expect_status 0
        assert_eq "$(verdicts)" "p-$sel.eml: pass" "opendkim, the message with only the $sel signature"
    done
}

@test "a field the template uses and the contact lacks is an error naming it" {
    cat >templates/greet.mustache <<'T'
Subject: Hello

<p>Dear {{nickname}},</p>
T
    crun 65 preview --template greet --to ada.lovelace@example.com
    # file, line and column of the tag, the field and the contact (README)
    assert_contains "$stderr" 'greet.mustache:3:9: field "nickname" is missing'
    assert_contains "$stderr" "ada.lovelace@example.com"
    cat >templates/greet.mustache <<'T'
Subject: Hello

<p>Dear {{#nickname}}{{nickname}}{{/nickname}}{{^nickname}}friend{{/nickname}},</p>
T
    crun 0 preview --template greet --to ada.lovelace@example.com --format html
    assert_contains "$output" "Dear friend,"
}

@test "a template error names file, line and column" {
    # the tag is on line 4 of the file (after the header block), column 6
    printf 'Subject: x\n\n<p>\n  ab {{#open}} never closed\n' >templates/broken.mustache
    crun 65 preview --template broken --to ada.lovelace@example.com
    assert_contains "$stderr" 'broken.mustache:4:6: unclosed section "open"'
    printf 'Subject: x\n\n<p>\n\tà {{/close}}\n' >templates/broken.mustache
    crun 65 preview --template broken --to ada.lovelace@example.com
    assert_contains "$stderr" 'broken.mustache:4:4: unopened section "close"' "a column counts characters, not bytes"
}

@test "hostile merge values: escaped in HTML, raw in text, never re-evaluated, never a header" {
    keys
    cat >h.csv <<'CSV'
email,first_name,notes
eve@example.com,"<script>alert(1)</script>","{{#x}}{{unsubscribe_url}}{{/x}} &amp; ""quoted"""
dots@example.com,Dot,"one
.
two
.
From the shop, with love
"
CSV
    crun 0 import h.csv --list news
    cat >templates/h.mustache <<'T'
Subject: Hi {{first_name}}

<p>Hi {{first_name}}</p><p>{{notes}}</p>
T
    printf 'Hi {{first_name}}\n{{notes}}\n' >templates/h.txt.mustache
    cout eve.eml 0 preview --template h --to eve@example.com
    mime_check --html-has "&lt;script&gt;alert(1)&lt;/script&gt;" \
        --html-lacks "<script>" --text-has "<script>alert(1)</script>" \
        --text-has "{{#x}}{{unsubscribe_url}}{{/x}}" eve.eml
    run dkim_verify eve.eml
    [ "$status" -eq 0 ] || fail "$output"
    cout dots.eml 0 preview --template h --to dots@example.com
    mime_check --text-has $'one\n.\ntwo\n.\nFrom the shop, with love' \
        --html-has $'\n.\ntwo\n.\nFrom the shop, with love' dots.eml
    grep -q $'^\.\r$' dots.eml && fail "a line that is only a dot"
    run dkim_verify dots.eml
    [ "$status" -eq 0 ] || fail "$output"
}

@test "a line break in a merge value for a header is refused, not sent" {
    cat >x.csv <<'CSV'
email,first_name
inject@example.com,"Eve
Bcc: victim@example.net"
CSV
    crun 0 import x.csv
    cat >templates/s.mustache <<'T'
Subject: Hello {{first_name}}

<p>x</p>
T
    crun 65 preview --template s --to inject@example.com
    assert_contains "$stderr" "line break"
    [ -z "$output" ] || fail "something was printed: $output"
}

@test "5,000-character unbroken values and single-line HTML: lines <= 998, DKIM verifies" {
    keys
    long=$(head -c 5000 /dev/zero | tr '\0' 'x')
    printf 'email,first_name,blob\nlong@example.com,Lo,%s\n' "$long" >l.csv
    crun 0 import l.csv
    { printf 'Subject: {{blob}}\n\n<html><body>'; for i in $(seq 1 300); do printf '<b>{{first_name}} %s</b>' "$i"; done; printf '{{blob}}</body></html>\n'; } >templates/long.mustache
    cout long.eml 0 preview --template long --to long@example.com
    mime_check --html-has "$long" --subject "$long" long.eml
    run dkim_verify long.eml
    [ "$status" -eq 0 ] || fail "$output"
    run odkim_verify long.eml
    [ "$status" -eq 0 ] || fail "$output"
}

@test "dry run: one .eml per mailable member, each parsed and verified" {
    keys
    crun 0 optout linus@example.fi
    crun 0 send --template promo --list news --dry-run --out out
    assert_contains "$output" "8 messages built and signed"
    assert_contains "$output" "1 suppressed or unsubscribed recipients skipped"
    assert_contains "$output" "0 recipients cannot be built"
    n=$(ls out/*.eml | wc -l)
    assert_eq "$n" 8 "number of .eml files"
    ls out | grep -q linus && fail "a suppressed recipient got a message"
    ls out | grep -q '\.tmp\.' && fail "a temporary file was left"
    mime_check out/*.eml
    run dkim_verify out/*.eml
    [ "$status" -eq 0 ] || fail "$output"
    # the same campaign again gives the same Message-IDs
    grep -h '^Message-ID:' out/*.eml | sort >ids1
    crun 0 send --template promo --list news --dry-run --out out2
    grep -h '^Message-ID:' out2/*.eml | sort >ids2
    same_file ids1 ids2
}

@test "dry run: missing fields are counted and named, exit 65" {
    cat >templates/need.mustache <<'T'
Subject: For {{company}}

<p>{{company}}</p>
T
    crun 65 send --template need --list news --dry-run
    assert_contains "$stderr" "company"
    assert_contains "$output" "recipients cannot be built"
}

@test "render: a Mustache file with JSON data, byte-exact" {
    printf 'Hi {{name}}{{#items}} [{{.}}]{{/items}}' >t.mustache
    printf '{"name": "<Ada>", "items": [1, "two"]}' >d.json
    crun 0 render t.mustache --data d.json
    assert_eq "$output" "Hi &lt;Ada&gt; [1] [two]"
}

@test "preview: a preheader over an HTML body that renders empty" {
    cat >templates/hollow.mustache <<'T'
Subject: s
Preheader: p

{{#nothing}}x{{/nothing}}
T
    cout hollow.eml 0 preview --template hollow --format eml
    mime_check --subject s --preheader p hollow.eml
}

@test "preview: the preheader is the first text of the HTML body, hidden, and not in the text part" {
    cat >templates/pre.mustache <<'T'
Subject: s
Preheader: Hello {{first_name}}, this is the preview

<html><head><title>Title text</title><style>p { color: red; }</style></head>
<body class="x">
<p>Visible first paragraph</p>
</body></html>
T
    cout pre.eml 0 preview --template pre --to ada.lovelace@example.com
    mime_check --preheader "Hello Ada, this is the preview" \
        --html-has "Visible first paragraph" --text-has "Visible first paragraph" \
        --text-lacks "this is the preview" pre.eml
}
