#!/usr/bin/env bats
# Issue 4, tests: `campaign send` against Postfix's smtp-sink on loopback,
# every transaction dumped to a file (-d), and smtp-sink's fault flags
# each driving the ledger to the state RELIABILITY.md requires:
#
#   -f CMD  5xx to CMD (reply from -B)    -r CMD  4xx to CMD (reply from -b)
#   -q CMD  hang up without a reply       -Q CMD  421 and hang up
#   -p      no PIPELINING                 -W CMD:S  reply after S seconds
#
# The dumps are read by send_dumps.py (smtp-sink's own header lines and
# the Received: header stripped, CRLF restored).

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

@test "send sink: every recipient gets exactly one message, as rendered, with the ledger's Message-ID" {
    # shellcheck disable=SC2046
    list_of $(addrs 24)
    start_sink
    write_conf "$SINK_PORT"
    send_status 0
    assert_contains "$output" "campaign promo: sent 24, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0"
    assert_contains "$output" "campaign done"
    assert_eq "$(states)" "sent 24"
    assert_eq "$(campaign_status)" done
    check_delivery
    assert_eq "$output" "rows 24, sent 24, messages 24, recipients with copies 24, duplicates 0"
    # one file per recipient: one RCPT each, nobody twice
    assert_eq "$(received | cut -f1 | sort | uniq -d)" "" "recipients with two copies"
    assert_eq "$(received | cut -f1 | sort -u | wc -l)" 24
    assert_eq "$(q "SELECT count(DISTINCT message_id) FROM sends WHERE message_id LIKE '<%@acme.example>';")" 24
    # the bytes: the dry run renders the same messages (same campaign, so
    # the same Message-IDs); only Date may differ
    crun 0 --templates "$TEMPLATES" send --campaign promo --dry-run --out "$BATS_TEST_TMPDIR/dry"
    "$PY" "$DUMPS" eml "$SINK_DUMP" "$BATS_TEST_TMPDIR/wire"
    py '
import email.parser, email.policy, os, re, sys
dry, wire = sys.argv[1], sys.argv[2]
def mid(b):
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(b)["Message-ID"]
def nodate(b):
    return re.sub(rb"^Date: [^\r\n]*\r\n", b"", b, count=1, flags=re.M)
got = {}
for n in os.listdir(wire):
    b = open(os.path.join(wire, n), "rb").read()
    got[mid(b)] = b
bad = 0
for n in sorted(os.listdir(dry)):
    b = open(os.path.join(dry, n), "rb").read()
    w = got.get(mid(b))
    if w is None:
        print("no message on the wire for", n); bad += 1
    elif nodate(w) != nodate(b):
        print("differs:", n); bad += 1
    elif b"\r\n" not in w or re.search(rb"(?<!\r)\n", w):
        print("not CRLF:", n); bad += 1
if len(got) != 24 or len(os.listdir(dry)) != 24:
    print("counts", len(got), len(os.listdir(dry))); bad += 1
sys.exit(1 if bad else 0)' "$BATS_TEST_TMPDIR/dry" "$BATS_TEST_TMPDIR/wire"
    # the envelope: MAIL FROM is the sender, one RCPT per message
    local f
    f=$(ls "$SINK_DUMP" | head -1)
    grep -qx 'X-Mail-Args: <news@acme.example>' "$SINK_DUMP/$f"
    assert_eq "$(grep -c '^X-Rcpt-Args: ' "$SINK_DUMP/$f")" 1
}

@test "send sink: RSA and Ed25519 DKIM signatures verify on what the relay received" {
    list_of ada@example.com bob@example.org carla@example.net
    start_sink
    crun 0 dkim keygen --domain acme.example --selector rsa --out "$BATS_TEST_TMPDIR/rsa.key"
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/rsa.txt"
    crun 0 dkim keygen --domain acme.example --selector ed --algo ed25519 --out "$BATS_TEST_TMPDIR/ed.key"
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/ed.txt"
    write_conf "$SINK_PORT" "" \
        "[dkim]" "domain = acme.example" "selector = rsa" "key_file = $BATS_TEST_TMPDIR/rsa.key" "" \
        "[dkim ed]" "domain = acme.example" "selector = ed" "key_file = $BATS_TEST_TMPDIR/ed.key"
    send_status 0
    assert_eq "$(states)" "sent 3"
    check_delivery
    "$PY" "$DUMPS" eml "$SINK_DUMP" "$BATS_TEST_TMPDIR/wire"
    run "$PY" "$BATS_TEST_DIRNAME/dkim_verify.py" --txt "$BATS_TEST_TMPDIR/rsa.txt" \
        --txt "$BATS_TEST_TMPDIR/ed.txt" "$BATS_TEST_TMPDIR"/wire/*.eml
    [ "$status" -eq 0 ] || fail "DKIM verification failed:" "$output"
    assert_eq "$(printf '%s\n' "$output" | grep -c ': pass$')" 6 "signatures that pass ($output)"
    assert_contains "$output" "a=rsa-sha256"
    assert_contains "$output" "a=ed25519-sha256"
    # a tampered copy fails: the verifier is really checking
    local one
    one=$(ls "$BATS_TEST_TMPDIR"/wire/*.eml | head -1)
    sed 's/^Subject: /Subject: X/' "$one" >"$BATS_TEST_TMPDIR/tampered.eml"
    run "$PY" "$BATS_TEST_DIRNAME/dkim_verify.py" --txt "$BATS_TEST_TMPDIR/rsa.txt" \
        --txt "$BATS_TEST_TMPDIR/ed.txt" "$BATS_TEST_TMPDIR/tampered.eml"
    [ "$status" -ne 0 ] || fail "a tampered message verified:" "$output"
}

@test "send sink: without PIPELINING (-p) every message goes through once, one command at a time" {
    # shellcheck disable=SC2046
    list_of $(addrs 12)
    start_sink - -p
    write_conf "$SINK_PORT"
    run --separate-stderr camp -v --templates "$TEMPLATES" send --template promo --list news --concurrency 1
    no_sanitizer_report
    expect_status 0
    assert_eq "$(states)" "sent 12"
    check_delivery
    assert_eq "$output" "rows 12, sent 12, messages 12, recipients with copies 12, duplicates 0"
    assert_not_contains "$stderr" "< 250-PIPELINING"
    # lock-step: each MAIL FROM is answered before the RCPT goes out
    "$PY" -c '
import re, sys
lines = [l for l in sys.stdin.read().splitlines() if ": > " in l or ": < " in l]
for i, l in enumerate(lines):
    if "> MAIL FROM" in l:
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if "< 250" not in nxt:
            sys.exit("MAIL FROM not answered before the next command: %r" % nxt)
' <<<"$stderr"
}

@test "send sink: 5xx at RCPT with 5.1.1 bounces hard and suppresses (when trusted); the next campaign skips them" {
    list_of ann@example.com ben@example.com cid@example.com
    start_sink - -f RCPT -B "550 5.1.1 <x>: Recipient address rejected: User unknown"
    write_conf "$SINK_PORT"
    # every recipient the relay was ever asked about got the same refusal:
    # the relay's answer to us (a Postfix relay that thinks it is the
    # final destination says this), not theirs - until told otherwise
    send_status 69
    assert_contains "$stderr" "the same refusal for every recipient"
    assert_contains "$stderr" "--trust-refusals"
    assert_eq "$(states)" "queued 3"
    assert_eq "$(count suppressions)" 0
    send_status 0 --trust-refusals
    assert_contains "$output" "sent 0, deferred 0, bounced 3"
    assert_eq "$(states)" "bounced 3"
    assert_eq "$(row_of ben@example.com)" "bounced|1|550|5.1.1|hard|0"
    # contacts show gives the relay's reply
    crun 0 contacts show ben@example.com
    assert_contains "$output" "promo: bounced (hard)"
    assert_contains "$output" "last reply: 550 5.1.1 <x>: Recipient address rejected: User unknown"
    assert_eq "$(campaign_status)" done
    assert_eq "$(count suppressions "reason = 'bounced'")" 3
    assert_eq "$(status_of cid@example.com)" bounced
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 0 "messages received"
    # the report counts them as hard bounces, and gives the reply
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" bounced_hard)" 3
    assert_eq "$(json_get "$output" sent)" 0
    assert_eq "$(json_get "$output" undelivered 0 recipients)" 3
    assert_eq "$(json_get "$output" undelivered 0 code)" 550
    assert_eq "$(json_get "$output" undelivered 0 status)" 5.1.1
    assert_eq "$(json_get "$output" undelivered 0 bounce_class)" hard
    crun 0 report promo
    assert_contains "$output" "3 bounced (hard): 550 5.1.1 <x>: Recipient address rejected: User unknown (e.g. ann@example.com)"
    crun 0 report promo --undelivered
    assert_eq "$(grep -c 'bounced (hard) *550 5.1.1 <x>: Recipient address rejected: User unknown' <<<"$output")" 3 "undelivered lines"
    assert_contains "$output" "cid@example.com"
    # suppress list names the source and the reply that suppressed them
    crun 0 suppress list --source smtp
    assert_eq "$(grep -c ' bounced *smtp .*550 5.1.1 <x>: Recipient address rejected: User unknown$' <<<"$output")" 3 "suppressions with the reply"
    crun 0 suppress list --source smtp --format csv
    assert_contains "$output" "\"ben@example.com\","
    assert_contains "$output" ",\"550 5.1.1 <x>: Recipient address rejected: User unknown\""
    crun 0 suppress list --source one-click
    assert_eq "$output" "no such suppression"
    # a later campaign to the same list never mails them again
    stop_sink
    start_sink
    write_conf "$SINK_PORT"
    send_status 0 --campaign second
    assert_contains "$output" "sent 0"
    assert_eq "$(q "SELECT group_concat(DISTINCT state) FROM sends s JOIN campaigns k ON k.id = s.campaign_id WHERE k.name = 'second';")" skipped
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 0 "messages received"
}

@test "send sink: 5.7.x policy rejection of the recipient at RCPT is 'blocked', not suppressed" {
    list_of ann@example.com ben@example.com
    start_sink - -f RCPT -B "554 5.7.1 <ann@example.com>: Recipient address rejected: Access denied"
    write_conf "$SINK_PORT"
    send_status 0
    assert_eq "$(row_of ann@example.com)" "bounced|1|554|5.7.1|blocked|0"
    assert_eq "$(count suppressions)" 0
    assert_eq "$(status_of ann@example.com)" active
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" blocked)" 2
    assert_eq "$(json_get "$output" bounced_hard)" 0
}

@test "send sink: 4xx at RCPT defers with a retry time in the future, never fails; a later run delivers" {
    list_of ann@example.com ben@example.com cid@example.com
    start_sink - -r RCPT -b "450 4.2.0 <x>: Recipient address rejected: Greylisted"
    write_conf "$SINK_PORT"
    local before
    before=$(date +%s)
    send_status 0
    assert_contains "$output" "sent 0, deferred 3, bounced 0, failed 0"
    assert_contains "$output" "the next retry is due at"
    assert_eq "$(states)" "deferred 3"
    assert_eq "$(row_of ann@example.com)" "deferred|1|450|4.2.0||0"
    # next_attempt_at: the first back-off, about 5 minutes from now
    assert_eq "$(q "SELECT count(*) FROM sends WHERE next_attempt_at BETWEEN $((before + 240)) AND $((before + 400));")" 3
    assert_eq "$(campaign_status)" sending
    assert_eq "$(count suppressions)" 0
    # a rerun before the time sends nothing and changes nothing
    send_status 0
    assert_contains "$output" "sent 0, deferred 0"
    assert_eq "$(states)" "deferred 3"
    assert_eq "$(campaign_status)" sending
    # the time comes (moved here rather than waited for); the relay is well
    stop_sink
    start_sink
    write_conf "$SINK_PORT"
    q "UPDATE sends SET next_attempt_at = strftime('%s', 'now') - 1;"
    send_status 0
    assert_contains "$output" "sent 3"
    assert_eq "$(states)" "sent 3"
    assert_eq "$(row_of ben@example.com)" "sent|2|250|2.0.0||0"
    assert_eq "$(campaign_status)" done
    check_delivery
    assert_eq "$output" "rows 3, sent 3, messages 3, recipients with copies 3, duplicates 0"
}

@test "send sink: 5xx to the final dot refuses the message: nobody bounced, the campaign paused; 4xx defers" {
    list_of ann@example.com ben@example.com
    start_sink - -f . -B "554 5.6.0 Message content rejected"
    write_conf "$SINK_PORT"
    send_status 65
    assert_eq "$(states)" "queued 2"
    assert_eq "$(q "SELECT sum(attempts) FROM sends;")" 0 "attempts counted"
    assert_eq "$(count suppressions)" 0
    assert_eq "$(campaign_status)" paused
    assert_contains "$stderr" "554 5.6.0 Message content rejected"
    stop_sink
    start_sink - -r . -b "451 4.3.0 Temporary local problem"
    write_conf "$SINK_PORT"
    send_status 0 --campaign again
    assert_eq "$(q "SELECT state || ' ' || last_code FROM sends s JOIN campaigns k ON k.id = s.campaign_id WHERE k.name = 'again' GROUP BY 1;")" "deferred 451"
}

@test "send sink: 421 at RCPT defers that recipient and closes the connection; the others stay queued, nobody fails" {
    list_of ann@example.com ben@example.com
    start_sink - -Q RCPT
    write_conf "$SINK_PORT"
    run --separate-stderr timeout 120 "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" \
        send --template promo --list news --concurrency 1
    no_sanitizer_report
    # each connection ends with one 421: ann's, then (on a new connection,
    # the relay not yet given up) ben's; a reply for everyone and nothing
    # left to send now is a success (0), the deferrals retried later
    expect_status 0
    assert_contains "$output" "sent 0, deferred 2, bounced 0, failed 0, skipped 0, uncertain 0"
    assert_eq "$(states)" "deferred 2"
    assert_eq "$(q "SELECT count(*) FROM sends WHERE state = 'deferred' AND last_code = 421 AND next_attempt_at > strftime('%s', 'now');")" 2
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 0 "messages received"
    assert_eq "$(campaign_status)" sending
}

@test "send sink: the relay hangs up before the dot (-q DATA): nothing is lost, and each is delivered exactly once once the relay is back" {
    # shellcheck disable=SC2046
    list_of $(addrs 6)
    start_sink - -q DATA
    local port=$SINK_PORT
    write_conf "$port"
    send_status 69
    assert_contains "$stderr" "no relay reachable"
    assert_contains "$stderr" "closed the connection while we waited for the reply to DATA"
    assert_eq "$(states)" "queued 6"
    assert_eq "$(count sends "was_uncertain > 0")" 0
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 0
    assert_eq "$(campaign_status)" sending
    stop_sink
    start_sink "$port"
    send_status 0
    assert_eq "$(states)" "sent 6"
    check_delivery
    assert_eq "$output" "rows 6, sent 6, messages 6, recipients with copies 6, duplicates 0"
    assert_eq "$(campaign_status)" done
}

@test "send sink: the relay hangs up after the dot (-q .): uncertain, retried once with the same Message-ID, listed by report" {
    # shellcheck disable=SC2046
    list_of $(addrs 5)
    start_sink - -q .
    local port=$SINK_PORT
    write_conf "$port"
    run --separate-stderr camp --templates "$TEMPLATES" send --template promo --list news
    no_sanitizer_report
    # no connection delivers anything: the relay is given up with
    # recipients still waiting
    expect_status 69
    assert_contains "$stderr" "no relay reachable"
    assert_contains "$stderr" "closed the connection while we waited for the reply to the final dot"
    assert_eq "$(count sends "state NOT IN ('uncertain', 'queued')")" 0 "rows neither uncertain nor queued"
    # every dot that went out is one uncertain result, and one copy at the
    # relay; every row with a copy was made uncertain, no other
    local dots
    dots=$(ls "$SINK_DUMP" | wc -l)
    [ "$dots" -ge 1 ] || fail "no dot went out: $(states)"
    # the summary counts recipients (each in its last state), not dots
    assert_contains "$output" "uncertain $(count sends "state = 'uncertain'") in "
    assert_eq "$(count sends "was_uncertain > 0")" "$(received | cut -f1 | sort -u | wc -l)" \
        "rows made uncertain vs recipients with a copy"
    [ "$(count sends "state = 'uncertain'")" -ge 1 ] || fail "nothing uncertain: $(states)"
    # an uncertain row's message did reach the relay, each copy with the
    # Message-ID of the ledger; a second copy only after the one retry
    check_delivery
    assert_eq "$(count sends "state = 'uncertain' AND (was_uncertain = 0 OR message_id IS NULL)")" 0
    assert_eq "$(count sends "was_uncertain > 2")" 0
    stop_sink
    start_sink "$port"
    send_status 0
    assert_eq "$(count sends "state NOT IN ('sent', 'uncertain')")" 0
    assert_eq "$(count sends "state = 'uncertain' AND was_uncertain <> 2")" 0 "uncertain rows still owed a retry"
    assert_eq "$(campaign_status)" done
    check_delivery "" "$SINK_DUMP"
    # every recipient has its message: one copy, two for a row that was
    # uncertain (its first dot and the one retry)
    local a
    for a in $(addrs 5); do
        assert_eq "$(copies "$a")" "$(q "SELECT 1 + (s.was_uncertain > 0) FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email = '$a';")" \
            "copies to $a"
    done
    local unc
    unc=$(count sends "was_uncertain > 0")
    [ "$unc" -ge 1 ] || fail "no uncertain rows"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" $((5 + unc)) "messages received"
    crun 0 report promo
    assert_contains "$output" "uncertain recipients (may have received the message twice, with the same Message-ID):"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" uncertain)" "$unc"
    assert_eq "$(printf '%s' "$output" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["uncertain_recipients"]))')" "$unc"
    local mid email
    email=$(json_get "$output" uncertain_recipients 0 email)
    mid=$(json_get "$output" uncertain_recipients 0 message_id)
    assert_eq "$(received | awk -F'\t' -v r="$email" '$1 == r { print $2 }' | sort -u)" "$mid"
}

@test "send sink: slow replies (-W, lock-step and pipelined) still deliver once" {
    list_of ann@example.com ben@example.com cid@example.com
    start_sink - -p -W "RCPT:1"
    write_conf "$SINK_PORT"
    send_status 0
    assert_eq "$(states)" "sent 3"
    check_delivery
    assert_eq "$output" "rows 3, sent 3, messages 3, recipients with copies 3, duplicates 0"
    stop_sink
    rm -rf "$SINK_DUMP"
    start_sink - -W "DATA:1"
    write_conf "$SINK_PORT"
    send_status 0 --campaign again
    assert_eq "$(q "SELECT group_concat(DISTINCT state) FROM sends s JOIN campaigns k ON k.id = s.campaign_id WHERE k.name = 'again';")" sent
    check_delivery again
    assert_eq "$output" "rows 3, sent 3, messages 3, recipients with copies 3, duplicates 0"
}

@test "send sink: nobody answers on the relay's port: exit 69, everyone still queued with no attempt counted, and each delivered once when it is back" {
    # shellcheck disable=SC2046
    list_of $(addrs 5)
    start_sink
    local port=$SINK_PORT
    write_conf "$port"
    stop_sink
    send_status 69
    assert_contains "$stderr" "no relay reachable"
    assert_eq "$(states)" "queued 5"
    # no MAIL FROM went out: the claims were undone, not counted
    assert_eq "$(count sends "attempts > 0")" 0 "rows with an attempt counted"
    send_status 69
    assert_eq "$(count sends "attempts > 0")" 0 "rows with an attempt counted"
    start_sink "$port"
    send_status 0
    assert_eq "$(states)" "sent 5"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 5
    assert_eq "$(q "SELECT DISTINCT attempts FROM sends;")" 1
}

@test "send sink: replies out of order (-W RCPT with PIPELINING) are a protocol error: nobody bounced, nothing lost" {
    # smtp-sink answers the pipelined DATA ("503 need RCPT command")
    # before the delayed RCPT: read in order, that 503 would bounce a good
    # address
    list_of ann@example.com ben@example.com
    start_sink - -W "RCPT:1"
    write_conf "$SINK_PORT"
    send_status 69
    assert_contains "$stderr" "out of sequence at RCPT TO: 503 5.5.1"
    assert_eq "$(states)" "queued 2"
    assert_eq "$(count sends "bounce_class IS NOT NULL")" 0
    assert_eq "$(count suppressions)" 0
}

@test "send sink: a dot reply later than timeout_dot makes the message uncertain, never lost or bounced" {
    list_of ann@example.com ben@example.com
    start_sink - -p -W ".:3"
    write_conf "$SINK_PORT" "timeout_dot = 1"
    run --separate-stderr timeout 120 "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" \
        send --template promo --list news --concurrency 1
    no_sanitizer_report
    # one message per connection (no PIPELINING), each dot timed out:
    # both uncertain, and the relay given up (its third failed
    # connection) while one still owes its retry
    expect_status 69
    assert_contains "$stderr" "no relay reachable"
    assert_eq "$(states)" "uncertain 2" "states after a dot timeout"
    # the summary counts recipients (each in its last state), not the
    # timed-out dots
    assert_contains "$output" "uncertain 2 in "
    [ "$(ls "$SINK_DUMP" | wc -l)" -ge 2 ] || fail "fewer copies than timed-out dots"
    assert_eq "$(q "SELECT DISTINCT last_text FROM sends WHERE state = 'uncertain';")" \
        "127.0.0.1: timeout waiting for the reply to the final dot"
    # the relay did get them: each with the ledger's Message-ID
    check_delivery
}
