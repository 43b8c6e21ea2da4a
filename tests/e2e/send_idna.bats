#!/usr/bin/env bats
# Issue 13, tests: `campaign send` to internationalised addresses, end to
# end, against real relays on loopback - Postfix smtp-sink (which does not
# offer SMTPUTF8) and the scripted aiosmtpd relay smtp_server.py (which
# offers it unless --no-smtputf8, and refuses a UTF-8 address sent
# without it: 553 5.6.7):
#
#   - an ASCII local part at an IDN domain (hans@bücher.de) goes as
#     A-labels (hans@xn--bcher-kva.de) in RCPT TO and To:, with no
#     SMTPUTF8 parameter, whether the relay offers SMTPUTF8 or not;
#   - a UTF-8 local part (chloé@example.fr) goes, to a relay that offers
#     SMTPUTF8, with "SMTPUTF8" (and BODY=8BITMIME) on MAIL FROM, raw
#     UTF-8 in RCPT TO and To:, Subject and display names still RFC 2047,
#     the VERP sender and the unsubscribe tokens ASCII;
#   - to a relay that does not offer it, that recipient is held ("relay
#     lacks SMTPUTF8"): nothing sent for it, not bounced, not suppressed,
#     counted by the summary, report and the exit status (69), and the
#     next send through a relay that offers SMTPUTF8 delivers it once;
#   - a message over the relay's SIZE is held too, never bounced;
#   - preview, send --dry-run and doctor say who needs SMTPUTF8;
#   - DKIM over the UTF-8 header verifies with python3-dkim and opendkim,
#     and python's email parser finds the UTF-8 To address.
#
# What the relay received is the ground truth: smtp_server.py's N.eml
# (exact bytes) and N.env (envelope and MAIL FROM parameters), its events
# (every MAIL and RCPT, refused ones too), smtp-sink's dumps (X-Mail-Args,
# X-Rcpt-Args).

load lib
load send_lib
load relay_lib

OPENDKIM_TESTMSG=${OPENDKIM_TESTMSG:-$(command -v opendkim-testmsg ||
    echo /usr/sbin/opendkim-testmsg)}
export OPENDKIM_TESTMSG

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# people ROW... - import "email,first_name,last_name" ROWs as list news.
people() {
    {
        printf 'email,first_name,last_name\n'
        printf '%s\n' "$@"
    } >"$BATS_TEST_TMPDIR/people.csv"
    crun 0 import "$BATS_TEST_TMPDIR/people.csv" --list news
    assert_contains "$output" "rejected 0"
}

# idn_conf PORT [LINES...] - write_conf with a VERP bounce domain and
# [tracking] (List-Unsubscribe); LINES follow, in [tracking] unless they
# open a section.
idn_conf() {
    local port=$1
    shift
    write_conf "$port" "" "[sender]" "bounce_domain = bounces.acme.example" "" \
        "[tracking]" "base_url = https://t.acme.example" "$@"
}

# wire DIR - one line per message the relay in DIR received (smtp-sink
# dumps, or smtp_server.py's N.eml and N.env), sorted:
#   RCPT<TAB>MAIL PARAMS<TAB>To ADDR-SPEC<TAB>To DISPLAY NAME<TAB>
#   HEADER<TAB>SUBJECT
# RCPT and the To address as received (UTF-8 kept); PARAMS MAIL FROM's
# parameters upper-cased and sorted ("-" for none); HEADER "ascii" when
# every byte of the header section is ASCII, else "8bit"; the display
# name and Subject decoded (RFC 2047).  The To address is what python's
# email parser (policy SMTPUTF8) finds in the header.
wire() {
    "$PY" - "$1" <<'EOF'
import email, email.policy, os, sys
d = sys.argv[1]
out = []
for n in sorted(os.listdir(d)):
    p = os.path.join(d, n)
    if n.endswith(".env") or n.endswith(".tmp"):
        continue
    raw = open(p, "rb").read()
    if n.endswith(".eml"):
        env = open(p[:-4] + ".env", encoding="utf-8").read().splitlines()
        rcpt = [l[5:] for l in env if l.startswith("rcpt ")]
        params = [l.split()[1:] for l in env if l.split()[:1] == ["params"]][0]
        msg = raw
    else:  # smtp-sink: its own X- lines, a Received: header, the message
        lines = raw.split(b"\n")
        i = 0
        rcpt, params = [], []
        while lines[i].startswith(b"X-"):
            k, _, v = lines[i].decode("utf-8").partition(": ")
            if k == "X-Rcpt-Args":
                rcpt.append(v.split()[0].strip("<>"))
            elif k == "X-Mail-Args":
                params = [x.upper() for x in v.split()[1:]]
            i += 1
        i += 1
        while lines[i][:1] in (b" ", b"\t"):
            i += 1
        msg = b"\r\n".join(lines[i:])
    head = msg.split(b"\r\n\r\n", 1)[0]
    m = email.message_from_bytes(msg, policy=email.policy.SMTPUTF8)
    to = m["To"].addresses[0]
    # the bytes parser keeps non-ASCII bytes as surrogates: back to UTF-8
    spec = to.addr_spec.encode("utf-8", "surrogateescape").decode("utf-8")
    out.append("\t".join([",".join(rcpt), " ".join(sorted(params)) or "-",
                          spec, to.display_name,
                          "ascii" if head.isascii() else "8bit",
                          str(m["Subject"])]))
print("\n".join(sorted(out)))
EOF
}

# wire_field RCPT N [DIR] - field N of the wire line of the message to RCPT
# (DIR: default the scripted relay's).
wire_field() {
    wire "${3:-$RELAY_MAIL}" | awk -F'\t' -v r="$1" -v n="$2" '$1 == r { print $n }'
}

# eml_to RCPT - smtp_server.py's .eml file of the message to RCPT.
eml_to() {
    local env
    env=$(grep -lx "rcpt $1" "$RELAY_MAIL"/*.env) || fail "no message to $1"
    printf '%s\n' "${env%.env}.eml"
}

# raw_header FILE NAME - the header field NAME of FILE as sent (unfolded,
# bytes as they are).
raw_header() {
    "$PY" -c '
import re, sys
head = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[0]
head = re.sub(rb"\r\n[ \t]", b" ", head)
for l in head.split(b"\r\n"):
    k, _, v = l.partition(b":")
    if k.lower() == sys.argv[2].lower().encode():
        sys.stdout.buffer.write(v.strip() + b"\n")
' "$1" "$2"
}

# last_text EMAIL - the ledger's last_text for one recipient.
last_text() {
    q "SELECT s.last_text FROM sends s JOIN contacts c ON c.id = s.contact_id
        WHERE c.email = $(sqlstr "$1");"
}

# report_col NAME COLUMN - campaign report (all campaigns): COLUMN's value
# in NAME's row, found by the header.
report_col() {
    crun 0 report
    printf '%s\n' "$output" | awk -v n="$1" -v c="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
        $1 == n && k { print $k }'
}

@test "send idna: an ASCII local part at an IDN domain goes as A-labels in RCPT TO and To: through smtp-sink, without SMTPUTF8; display names RFC 2047" {
    people "hans@bücher.de,Hans,Müller" "mario@CAFFÈ.IT,Mario,Rossi" \
        "info@xn--r8jz45g.jp,," "ann@example.com,Ann,Lee"
    assert_eq "$(emails)" "$(printf 'ann@example.com\nhans@bücher.de\ninfo@例え.jp\nmario@caffè.it')" "contacts (U-labels)"
    start_sink
    idn_conf "$SINK_PORT"
    send_status 0
    assert_contains "$output" "campaign promo: sent 4, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0 in"
    assert_not_contains "$output" "held"
    assert_eq "$(states)" "sent 4"
    assert_eq "$(campaign_status)" done
    # RCPT TO and To: the A-labels; no SMTPUTF8 on any MAIL FROM; every
    # header ASCII; the display name encoded
    wire "$SINK_DUMP" >"$BATS_TEST_TMPDIR/wire"
    assert_eq "$(cut -f1 "$BATS_TEST_TMPDIR/wire")" \
        "$(printf 'ann@example.com\nhans@xn--bcher-kva.de\ninfo@xn--r8jz45g.jp\nmario@xn--caff-8oa.it')" "RCPT TO"
    assert_eq "$(cut -f1 "$BATS_TEST_TMPDIR/wire")" "$(cut -f3 "$BATS_TEST_TMPDIR/wire")" "To: addresses"
    assert_eq "$(cut -f5 "$BATS_TEST_TMPDIR/wire" | sort -u)" ascii "header sections"
    assert_eq "$(grep -c SMTPUTF8 "$BATS_TEST_TMPDIR/wire")" 0 "messages sent with SMTPUTF8"
    assert_eq "$(grep -h '^X-Mail-Args:' "$SINK_DUMP"/* | grep -c SMTPUTF8)" 0 "MAIL FROM with SMTPUTF8"
    assert_eq "$(wire_field hans@xn--bcher-kva.de 4 "$SINK_DUMP")" "Hans Müller" "hans's display name"
    local f
    f=$(grep -l '^X-Rcpt-Args: <hans@xn--bcher-kva.de>' "$SINK_DUMP"/*) || fail "no dump for hans"
    grep -qiE '^To: =\?utf-8\?[bq]\?[^?]+\?= <hans@xn--bcher-kva\.de>' "$f" ||
        fail "To: of hans's message: $(grep -a '^To:' "$f")"
}

@test "send idna: an ASCII local part at an IDN domain goes as A-labels, without SMTPUTF8, also when the relay (aiosmtpd) offers SMTPUTF8" {
    people "hans@BÜCHER.DE,Hans,Müller" "ann@example.com,Ann,Lee"
    relay_start
    idn_conf "$RELAY_PORT"
    send_status 0
    assert_eq "$(states)" "sent 2"
    assert_eq "$(relay_events '^rcpt hans@xn--bcher-kva\.de 250$')" 1 "RCPT TO of hans ($(cat "$RELAY_EVENTS"))"
    assert_eq "$(relay_events '^mail-params .*SMTPUTF8')" 0 "MAIL FROMs with SMTPUTF8"
    assert_eq "$(relay_events '^mail-params .*BODY=8BITMIME')" 0 "MAIL FROMs with BODY=8BITMIME"
    assert_eq "$(relay_events '^mail .* 250$')" 2 "MAIL FROMs accepted"
    assert_eq "$(grep -c '[^ -~]' "$RELAY_EVENTS")" 0 "non-ASCII events ($(cat "$RELAY_EVENTS"))"
    wire "$RELAY_MAIL" >"$BATS_TEST_TMPDIR/wire"
    assert_eq "$(cut -f1,3,5 "$BATS_TEST_TMPDIR/wire")" \
        "$(printf 'ann@example.com\tann@example.com\tascii\nhans@xn--bcher-kva.de\thans@xn--bcher-kva.de\tascii')" "RCPT, To: and header"
    assert_contains "$(raw_header "$(eml_to hans@xn--bcher-kva.de)" To)" "<hans@xn--bcher-kva.de>"
}

@test "send idna: a UTF-8 local part goes with SMTPUTF8 and BODY=8BITMIME to a relay that offers them: UTF-8 in RCPT TO and To:, Subject and display name RFC 2047, VERP and unsubscribe tokens ASCII" {
    people "chloé@example.fr,Chloé,Dubois" "hans@bücher.de,Hans,Müller" "ann@example.com,Ann,Lee" \
        "josé@bücher.de,José,García"
    relay_start
    idn_conf "$RELAY_PORT"
    send_status 0
    assert_contains "$output" "campaign promo: sent 4, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0 in"
    assert_not_contains "$output" "held"
    assert_eq "$(states)" "sent 4"
    assert_eq "$(campaign_status)" done
    # the envelope: SMTPUTF8 for the UTF-8 local parts' transactions only;
    # with SMTPUTF8 the address goes as it is, its domain's U-labels too
    assert_eq "$(relay_events '^rcpt chloé@example\.fr 250$')" 1 "chloé's RCPT TO ($(cat "$RELAY_EVENTS"))"
    assert_eq "$(relay_events '^rcpt josé@bücher\.de 250$')" 1 "josé's RCPT TO ($(cat "$RELAY_EVENTS"))"
    assert_eq "$(relay_events '^mail-params .*SMTPUTF8')" 2 "MAIL FROMs with SMTPUTF8"
    assert_eq "$(wire_field josé@bücher.de 3)" josé@bücher.de "josé's To: address"
    assert_contains " $(wire_field josé@bücher.de 2) " " SMTPUTF8 " "josé's MAIL FROM parameters"
    wire "$RELAY_MAIL" >"$BATS_TEST_TMPDIR/wire"
    local params
    params=$(wire_field chloé@example.fr 2)
    assert_contains " $params " " SMTPUTF8 " "chloé's MAIL FROM parameters"
    assert_contains " $params " " BODY=8BITMIME " "chloé's MAIL FROM parameters"
    assert_not_contains "$(wire_field hans@xn--bcher-kva.de 2)" SMTPUTF8 "hans's MAIL FROM parameters"
    assert_not_contains "$(wire_field ann@example.com 2)" SMTPUTF8 "ann's MAIL FROM parameters"
    # To: the raw UTF-8 address (python's parser finds it), the display
    # name and Subject still encoded words
    assert_eq "$(wire_field chloé@example.fr 3)" chloé@example.fr "chloé's To: address"
    assert_eq "$(wire_field chloé@example.fr 4)" "Chloé Dubois" "chloé's display name"
    assert_eq "$(wire_field chloé@example.fr 5)" 8bit "chloé's header section"
    assert_contains "$(wire_field chloé@example.fr 6)" "Chloé, le novità di primavera" "chloé's Subject"
    local eml to subject
    eml=$(eml_to chloé@example.fr)
    to=$(raw_header "$eml" To)
    subject=$(raw_header "$eml" Subject)
    [[ "$to" =~ ^=\?[Uu][Tt][Ff]-8\?[BbQq]\?[^?]+\?=\ \<chloé@example\.fr\>$ ]] || fail "To: of chloé's message: $to"
    [[ "$subject" =~ ^(=\?[Uu][Tt][Ff]-8\?[BbQq]\?[^?]+\?=\ ?)+$ ]] || fail "Subject of chloé's message: $subject"
    # the only 8-bit bytes of the header are in To:'s address
    assert_eq "$(tr -d '\r' <"$eml" | sed '/^$/q' | grep -c '[^ -~]')" 1 "header lines with 8-bit bytes"
    # VERP: bounces+TOKEN@bounce_domain, ASCII, a valid token of purpose b
    # and chloé's contact; List-Unsubscribe's tokens ASCII and valid
    assert_eq "$(grep -h '^from ' "$RELAY_MAIL"/*.env | grep -cvE '^from bounces\+[A-Za-z0-9_-]+@bounces\.acme\.example$')" 0 \
        "envelope senders that are not ASCII VERP addresses: $(grep -h '^from ' "$RELAY_MAIL"/*.env)"
    "$PY" "$DUMPS" tokens "$DB.secret" https://t.acme.example "$RELAY_MAIL" >"$BATS_TEST_TMPDIR/tok"
    local cid camp
    cid=$(q "SELECT id FROM contacts WHERE email = 'chloé@example.fr';")
    camp=$(q "SELECT id FROM campaigns WHERE name = 'promo';")
    assert_eq "$(awk -F'\t' '$1 == "chloé@example.fr" && $2 == "envelope" { print $3, $4, $5, $6 }' "$BATS_TEST_TMPDIR/tok")" \
        "b $camp $cid valid" "chloé's VERP token"
    assert_eq "$(awk -F'\t' '$1 == "chloé@example.fr" && $2 ~ /^header-/ { print $2, $3, $4, $5, $6 }' "$BATS_TEST_TMPDIR/tok" | sort)" \
        "$(printf 'header-mailto u %s %s valid\nheader-url u %s %s valid' "$camp" "$cid" "$camp" "$cid")" \
        "chloé's List-Unsubscribe tokens"
    raw_header "$eml" List-Unsubscribe | LC_ALL=C grep -q '^[ -~]*$' ||
        fail "List-Unsubscribe is not ASCII: $(raw_header "$eml" List-Unsubscribe)"
}

@test "send idna: a relay that offers SMTPUTF8 but not 8BITMIME gets SMTPUTF8 without BODY=8BITMIME" {
    people "chloé@example.fr,Chloé,Dubois" "ann@example.com,Ann,Lee"
    relay_start --no-8bitmime
    idn_conf "$RELAY_PORT"
    send_status 0
    assert_eq "$(states)" "sent 2"
    assert_eq "$(relay_events '^mail-params .*BODY=')" 0 "MAIL FROMs with BODY= ($(cat "$RELAY_EVENTS"))"
    assert_contains " $(wire_field chloé@example.fr 2) " " SMTPUTF8 " "chloé's MAIL FROM parameters"
    assert_eq "$(wire_field chloé@example.fr 3)" chloé@example.fr "chloé's To: address"
}

@test "send idna: a relay without SMTPUTF8 (aiosmtpd --no-smtputf8): the UTF-8 local part is held - nothing sent, not bounced, not suppressed, counted, 69 - and the next send through one that offers it delivers it once" {
    people "chloé@example.fr,Chloé,Dubois" "hans@bücher.de,Hans,Müller" "ann@example.com,Ann,Lee"
    relay_start --no-smtputf8
    idn_conf "$RELAY_PORT"
    send_status 69
    assert_contains "$output" "campaign promo: sent 2, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0, held 1 in"
    assert_contains "$output" "ledger: 3 recipients: 2 sent, 0 queued, 0 deferred, 0 bounced, 0 failed, 0 suppressed, 0 uncertain, 1 held; campaign"
    # stderr explains, after the run (not only the note before it)
    printf '%s\n' "$stderr" | grep -v 'needs\? SMTPUTF8' | grep -q 'held' ||
        fail "no explanation of the held recipient on stderr:" "$stderr"
    assert_eq "$(state_of chloé@example.fr)" held
    assert_eq "$(last_text chloé@example.fr)" "relay lacks SMTPUTF8"
    assert_eq "$(state_of hans@bücher.de)" sent
    assert_eq "$(state_of ann@example.com)" sent
    [ "$(campaign_status)" != done ] || fail "the campaign is done with a recipient held"
    # not a bounce, not a suppression
    assert_eq "$(status_of chloé@example.fr)" active
    assert_eq "$(count suppressions)" 0 "suppressions"
    assert_eq "$(q "SELECT coalesce(bounce_class, '') FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email = 'chloé@example.fr';")" "" "bounce class"
    crun 0 suppress list
    assert_not_contains "$output" "chlo" "suppress list"
    # the relay never heard of chloé: two transactions, nothing UTF-8
    assert_eq "$(relay_events '^mail ')" 2 "MAIL FROMs ($(cat "$RELAY_EVENTS"))"
    assert_eq "$(relay_events '^rcpt ')" 2 "RCPT TOs ($(cat "$RELAY_EVENTS"))"
    assert_eq "$(grep -c '[^ -~]' "$RELAY_EVENTS")" 0 "non-ASCII events ($(cat "$RELAY_EVENTS"))"
    assert_eq "$(relay_mails)" 2 "messages"
    # report: the count, the reason, the column
    crun 0 report promo
    printf '%s\n' "$output" | grep -qE '^ *held:? +1$' || fail "no 'held 1' line in report promo:" "$output"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" held)" 1 "report --format json: held"
    assert_eq "$(json_get "$output" bounced_hard)" 0 "report --format json: bounced_hard"
    crun 0 report promo --undelivered
    assert_eq "$(printf '%s\n' "$output" | grep -c 'chloé@example.fr')" 1 "undelivered lines of chloé ($output)"
    assert_contains "$(printf '%s\n' "$output" | grep 'chloé@example.fr')" "relay lacks SMTPUTF8"
    assert_not_contains "$output" "ann@example.com" "report --undelivered"
    assert_eq "$(report_col promo HELD)" 1 "report: HELD ($output)"
    # the next send, through a relay that offers SMTPUTF8: chloé once
    relay_stop
    relay_start
    idn_conf "$RELAY_PORT"
    send_status 0
    assert_contains "$output" "campaign promo: sent 1, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0 in"
    assert_contains "$output" "campaign done"
    assert_eq "$(states)" "sent 3"
    assert_eq "$(campaign_status)" done
    assert_eq "$(relay_mails)" 3 "messages over both runs"
    assert_eq "$(grep -lx 'rcpt chloé@example.fr' "$RELAY_MAIL"/*.env | wc -l)" 1 "copies to chloé"
    assert_eq "$(grep -h '^rcpt ' "$RELAY_MAIL"/*.env | sort | uniq -d)" "" "recipients with two copies"
    assert_contains " $(wire_field chloé@example.fr 2) " " SMTPUTF8 " "chloé's MAIL FROM parameters"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" held)" 0 "report --format json: held after the second send"
    assert_eq "$(report_col promo HELD)" 0 "report: HELD after the second send"
    # a third send has nothing left
    send_status 0
    assert_eq "$(relay_mails)" 3 "messages after a third send"
}

@test "send idna: smtp-sink (no SMTPUTF8) holds the UTF-8 local part run after run, sending it nothing and the others once; aiosmtpd then delivers it" {
    people "chloé@example.fr,Chloé,Dubois" "josé@example.es,José,García" "ann@example.com,Ann,Lee"
    start_sink
    idn_conf "$SINK_PORT"
    send_status 69
    assert_contains "$output" ", held 2 in"
    assert_contains "$output" ", 2 held; campaign"
    assert_eq "$(states)" "$(printf 'held 2\nsent 1')"
    assert_eq "$(q "SELECT DISTINCT last_text FROM sends WHERE state = 'held';")" "relay lacks SMTPUTF8"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 1 "transactions at the sink"
    assert_eq "$(grep -h '^X-Rcpt-Args:' "$SINK_DUMP"/*)" "X-Rcpt-Args: <ann@example.com>"
    # again through the same relay: still held, nobody sent twice
    send_status 69
    assert_contains "$output" "campaign promo: sent 0, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0, held 2 in"
    assert_eq "$(states)" "$(printf 'held 2\nsent 1')"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 1 "transactions at the sink after the second send"
    assert_eq "$(q "SELECT group_concat(status) FROM contacts;")" "active,active,active"
    assert_eq "$(count suppressions)" 0 "suppressions"
    stop_sink
    relay_start
    idn_conf "$RELAY_PORT"
    send_status 0
    assert_contains "$output" "campaign promo: sent 2,"
    assert_eq "$(states)" "sent 3"
    assert_eq "$(grep -h '^rcpt ' "$RELAY_MAIL"/*.env | sort)" \
        "$(printf 'rcpt chloé@example.fr\nrcpt josé@example.es')" "what aiosmtpd received"
}

@test "send idna: a message larger than the relay's SIZE is held (the reason says SIZE), never bounced or suppressed; a relay with room then takes it" {
    people "ann@example.com,Ann,Lee" "bob@example.org,Bob,Ray"
    relay_start --size 3000
    idn_conf "$RELAY_PORT"
    send_status 69
    assert_contains "$output" ", held 2 in"
    assert_contains "$output" ", 2 held; campaign"
    assert_eq "$(states)" "held 2"
    assert_contains "$(last_text ann@example.com)" SIZE "ann's reason"
    assert_contains "$(last_text bob@example.org)" SIZE "bob's reason"
    assert_eq "$(q "SELECT group_concat(status) FROM contacts;")" "active,active"
    assert_eq "$(count suppressions)" 0 "suppressions"
    assert_eq "$(q "SELECT count(*) FROM sends WHERE bounce_class IS NOT NULL;")" 0 "rows with a bounce class"
    # refused by the client: the relay got no MAIL FROM, no message
    assert_eq "$(relay_events '^(mail|rcpt|data) ')" 0 "transactions ($(cat "$RELAY_EVENTS"))"
    assert_eq "$(relay_mails)" 0 "messages"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" held)" 2 "report: held"
    relay_stop
    relay_start
    idn_conf "$RELAY_PORT"
    send_status 0
    assert_eq "$(states)" "sent 2"
    assert_eq "$(relay_mails)" 2 "messages"
}

@test "send idna: preview and send --dry-run say how many recipients need SMTPUTF8, and nothing when none do" {
    people "chloé@example.fr,Chloé,Dubois" "josé@example.es,José,García" \
        "hans@bücher.de,Hans,Müller" "ann@example.com,Ann,Lee"
    printf 'email\nhans@bücher.de\nann@example.com\n' >"$BATS_TEST_TMPDIR/plain.csv"
    crun 0 import "$BATS_TEST_TMPDIR/plain.csv" --list plain
    printf 'email\nann@example.com\nchloé@example.fr\n' >"$BATS_TEST_TMPDIR/one.csv"
    crun 0 import "$BATS_TEST_TMPDIR/one.csv" --list one
    write_conf 9
    crun 0 --templates "$TEMPLATES" send --template promo --list news --dry-run
    assert_contains "$stderr" "2 recipients need SMTPUTF8"
    crun 0 --templates "$TEMPLATES" send --template promo --list one --campaign one --dry-run
    assert_contains "$stderr" "1 recipient needs SMTPUTF8"
    crun 0 --templates "$TEMPLATES" send --template promo --list plain --campaign plain --dry-run
    assert_not_contains "$stderr" "SMTPUTF8" "dry run of a list without UTF-8 local parts"
    assert_eq "$(count sends)" 0 "ledger rows after dry runs"
    # preview: the contact it shows (the first, or --to)
    crun 0 --templates "$TEMPLATES" preview --template promo
    assert_contains "$output" "chloé@example.fr"
    assert_contains "$stderr" "1 recipient needs SMTPUTF8"
    crun 0 --templates "$TEMPLATES" preview --template promo --to josé@example.es
    assert_contains "$stderr" "1 recipient needs SMTPUTF8"
    crun 0 --templates "$TEMPLATES" preview --template promo --to hans@bücher.de
    assert_not_contains "$stderr" "SMTPUTF8" "preview of hans@bücher.de"
}

@test "send idna: doctor counts the contacts that need SMTPUTF8 and says whether the relay offers it" {
    people "chloé@example.fr,Chloé,Dubois" "josé@example.es,José,García" "hans@bücher.de,Hans,Müller"
    relay_start
    idn_conf "$RELAY_PORT"
    run --separate-stderr camp doctor
    no_sanitizer_report
    local all="$output$stderr"
    assert_contains "$all" "2 contacts need SMTPUTF8"
    printf '%s\n' "$all" | grep 'contacts need SMTPUTF8' | grep -q 'offers it' ||
        fail "doctor, relay with SMTPUTF8:" "$all"
    assert_not_contains "$all" "does not offer it"
    relay_stop
    relay_start --no-smtputf8
    idn_conf "$RELAY_PORT"
    run --separate-stderr camp doctor
    no_sanitizer_report
    all="$output$stderr"
    printf '%s\n' "$all" | grep '2 contacts need SMTPUTF8' | grep -q 'does not offer it' ||
        fail "doctor, relay without SMTPUTF8:" "$all"
    # smtp-sink does not offer it either; without UTF-8 local parts, no word
    relay_stop
    start_sink
    idn_conf "$SINK_PORT"
    run --separate-stderr camp doctor
    no_sanitizer_report
    all="$output$stderr"
    printf '%s\n' "$all" | grep '2 contacts need SMTPUTF8' | grep -q 'does not offer it' ||
        fail "doctor, smtp-sink:" "$all"
    crun 0 contacts forget chloé@example.fr
    crun 0 contacts forget josé@example.es
    run --separate-stderr camp doctor
    no_sanitizer_report
    assert_not_contains "$output$stderr" "need SMTPUTF8" "doctor without UTF-8 local parts"
    assert_not_contains "$output$stderr" "needs SMTPUTF8" "doctor without UTF-8 local parts"
}

@test "send idna: DKIM over a UTF-8 header (SMTPUTF8) and an A-label To: verifies with python3-dkim and opendkim; python's email parser reads the UTF-8 To:" {
    command -v "$OPENDKIM_TESTMSG" >/dev/null ||
        fail "opendkim-testmsg not found ($OPENDKIM_TESTMSG): run ./scripts/install-deps (Debian package opendkim-tools)"
    people "chloé@example.fr,Chloé,Dubois" "hans@bücher.de,Hans,Müller"
    crun 0 dkim keygen --domain acme.example --selector rsa --out "$BATS_TEST_TMPDIR/rsa.key"
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/rsa.txt"
    crun 0 dkim keygen --domain acme.example --selector ed --algo ed25519 --out "$BATS_TEST_TMPDIR/ed.key"
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/ed.txt"
    relay_start
    idn_conf "$RELAY_PORT" "" \
        "[dkim]" "domain = acme.example" "selector = rsa" "key_file = $BATS_TEST_TMPDIR/rsa.key" "" \
        "[dkim ed]" "domain = acme.example" "selector = ed" "key_file = $BATS_TEST_TMPDIR/ed.key"
    send_status 0
    assert_eq "$(states)" "sent 2"
    local chloe hans keys=(--txt "$BATS_TEST_TMPDIR/rsa.txt" --txt "$BATS_TEST_TMPDIR/ed.txt")
    chloe=$(eml_to chloé@example.fr)
    hans=$(eml_to hans@xn--bcher-kva.de)
    # the signed To: is the one on the wire
    assert_contains "$(raw_header "$chloe" To)" "<chloé@example.fr>"
    assert_contains "$(raw_header "$hans" To)" "<hans@xn--bcher-kva.de>"
    run "$PY" "$BATS_TEST_DIRNAME/dkim_verify.py" "${keys[@]}" "$chloe" "$hans"
    [ "$status" -eq 0 ] || fail "python3-dkim:" "$output"
    assert_eq "$(printf '%s\n' "$output" | grep -c ': pass$')" 4 "signatures that pass ($output)"
    run sh "$BATS_TEST_DIRNAME/opendkim_verify.sh" "${keys[@]}" "$chloe" "$hans"
    [ "$status" -eq 0 ] || fail "opendkim:" "$output"
    assert_eq "$(printf '%s\n' "$output" | grep -c ': pass$')" 4 "opendkim passes ($output)"
    # python's email parser, bytes (SMTPUTF8 and default policies) and text
    py '
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
for pol in (email.policy.SMTPUTF8, email.policy.default):
    for m in (email.message_from_bytes(raw, policy=pol),
              email.message_from_string(raw.decode("utf-8"), policy=pol)):
        a = m["To"].addresses
        spec = a[0].addr_spec.encode("utf-8", "surrogateescape").decode("utf-8")
        if len(a) != 1 or spec != "chloé@example.fr" or a[0].display_name != "Chloé Dubois":
            sys.exit("To: parsed as %r" % (a,))
        if not str(m["Subject"]).startswith("Chloé, le novità"):
            sys.exit("Subject parsed as %r" % str(m["Subject"]))
        if m.get_content_type() != "multipart/alternative" and not m.is_multipart():
            sys.exit("not a multipart message: %s" % m.get_content_type())
' "$chloe" || fail "python's email parser on $chloe"
    # a changed byte in the UTF-8 To: breaks both verifiers: they check it
    sed 's/^To: \(.*\)chloé@/To: \1chloe@/' "$chloe" >"$BATS_TEST_TMPDIR/tampered.eml"
    ! cmp -s "$chloe" "$BATS_TEST_TMPDIR/tampered.eml" || fail "the tampering changed nothing"
    run "$PY" "$BATS_TEST_DIRNAME/dkim_verify.py" "${keys[@]}" "$BATS_TEST_TMPDIR/tampered.eml"
    [ "$status" -ne 0 ] || fail "python3-dkim passed a tampered UTF-8 To:" "$output"
    run sh "$BATS_TEST_DIRNAME/opendkim_verify.sh" "${keys[@]}" "$BATS_TEST_TMPDIR/tampered.eml"
    [ "$status" -ne 0 ] || fail "opendkim passed a tampered UTF-8 To:" "$output"
}

@test "send idna: the retry of an uncertain recipient goes with the Message-ID its row was sent with, even when the contact id changed since (migration 007 merges one person's contacts)" {
    people "hans@bücher.de,Hans,Huber" "ada@example.com,Ada,Lovelace"
    start_sink
    idn_conf "$SINK_PORT"
    send_status 0 --max 1
    # as a merge leaves it: this recipient's row uncertain, owed its
    # retry, with the Message-ID the duplicate's message had
    local id
    id=$(q "SELECT id FROM contacts WHERE email = 'ada@example.com';")
    q "UPDATE sends SET state = 'uncertain', was_uncertain = 1, message_id = '<merged-dup@acme.example>' WHERE contact_id = $id;" >/dev/null
    rm -f "$SINK_DUMP"/*
    send_status 0
    assert_eq "$(grep -l '^Message-ID: <merged-dup@acme.example>' "$SINK_DUMP"/* | wc -l)" 1 \
        "the retry carries the row's Message-ID"
}

@test "send idna: a held recipient is not an attempt - --max counts what the relay saw, and a held row's attempts do not grow run after run" {
    people "chloé@example.fr,Chloé,Dubois" "josé@example.es,José,Ruiz" "zoë@example.nl,Zoë,Bakker" \
        "ada@example.com,Ada,Lovelace" "bob@example.com,Bob,Hope" "cy@example.com,Cy,Young" "di@example.com,Di,Ross"
    start_sink # no SMTPUTF8: the three UTF-8 addresses are held
    idn_conf "$SINK_PORT"
    send_status 69 --max 3 --concurrency 1
    assert_contains "$output" "sent 3,"
    assert_contains "$output" "held 3"
    send_status 69 --max 3 --concurrency 1
    assert_contains "$output" "sent 1,"
    assert_contains "$output" "held 3"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 4
    assert_eq "$(q "SELECT group_concat(attempts, ' ') FROM sends WHERE state = 'held';")" "0 0 0" \
        "held rows' attempts"
}
