#!/usr/bin/env bats
# Issue 9: a relay's "no" to the sender or the client is never the
# recipients' fault.  smtp-sink answers every MAIL FROM, RCPT or final dot
# with the reply of a misconfigured or strict relay; campaign must bounce
# and suppress nobody, leave every row queued with no attempt counted,
# stop at once (a circuit breaker) with the relay's own reply and what to
# fix, exit 69 (the relay refused us) or 78 (our configuration) or 65
# (the message, campaign paused), and deliver everyone exactly once when
# rerun after the fix.

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# refused CMD REPLY STATUS - the list of 20 refused by smtp-sink answering
# CMD with REPLY; the send exits STATUS; nothing bounced or suppressed,
# everyone queued with no attempt, the reply on stderr; then the relay is
# fixed and a rerun delivers everyone once.
refused() {
    local cmd=$1 reply=$2 want=$3
    # shellcheck disable=SC2046
    list_of $(addrs 20)
    start_sink - -f "$cmd" -B "$reply"
    write_conf "$SINK_PORT"
    send_status "$want"
    assert_eq "$(states)" "queued 20" "ledger after the refusal"
    assert_eq "$(q "SELECT sum(attempts) FROM sends;")" 0 "attempts counted"
    assert_eq "$(count suppressions)" 0 "suppressions"
    assert_eq "$(q "SELECT count(*) FROM contacts WHERE status <> 'active';")" 0 "contacts not active"
    assert_contains "$stderr" "$reply"
    assert_contains "$stderr" "nobody was bounced or suppressed"
    assert_contains "$output" "bounced 0"
    refusal_err=$stderr
    # contacts show says why the person was not mailed
    crun 0 contacts show user01@example.com
    assert_contains "$output" "promo: queued"
    assert_contains "$output" "$reply"
    # fixed: everyone delivered, exactly once
    stop_sink
    start_sink
    write_conf "$SINK_PORT"
    send_status 0
    assert_eq "$(states)" "sent 20"
    check_delivery
    assert_eq "$output" "rows 20, sent 20, messages 20, recipients with copies 20, duplicates 0"
}

@test "send refused: Exim's '550 Administrative prohibition' to every RCPT bounces nobody (69)" {
    refused RCPT "550 Administrative prohibition" 69
}

@test "send refused: 'Relay access denied' bounces nobody (78: the relay wants AUTH or this client allowed)" {
    refused RCPT "554 5.7.1 <user01@example.com>: Relay access denied" 78
}

@test "send refused: a HELO refused for not being fully qualified is our configuration (78) and says to set helo" {
    refused RCPT "504 5.5.2 <vm>: Helo command rejected: need fully-qualified hostname" 78
    assert_contains "$refusal_err" "helo"
}

@test "send refused: the sender address refused at MAIL FROM bounces nobody" {
    refused MAIL "553 5.1.8 <bounces@b.example>: Sender address rejected: Domain not found" 78
}

@test "send refused: 'client blocked using' a blocklist is the relay refusing us, not the recipients" {
    refused RCPT "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.example" 69
}

@test "send refused: a content refusal at the dot pauses the campaign with the reply; the fixed template is used on resume" {
    # shellcheck disable=SC2046
    list_of $(addrs 5)
    cp -r "$TEMPLATES" "$BATS_TEST_TMPDIR/tpl"
    start_sink - -f . -B "554 5.6.0 Message content rejected"
    write_conf "$SINK_PORT"
    crun 65 --templates "$BATS_TEST_TMPDIR/tpl" send --template promo --list news
    assert_eq "$(states)" "queued 5"
    assert_eq "$(campaign_status)" paused
    assert_eq "$(count suppressions)" 0
    assert_contains "$stderr" "nobody got this message yet"
    # nobody got it: the frozen template is let go, the next run takes the
    # changed files
    assert_eq "$(q "SELECT template_src IS NULL FROM campaigns;")" 1
    sed -i 's/^Subject: .*/Subject: Fixed {{first_name}}/' "$BATS_TEST_TMPDIR/tpl/promo.mustache"
    stop_sink
    start_sink
    write_conf "$SINK_PORT"
    crun 0 resume promo
    crun 0 --templates "$BATS_TEST_TMPDIR/tpl" send --template promo --list news
    assert_eq "$(states)" "sent 5"
    assert_eq "$(grep -l '^Subject: Fixed' "$SINK_DUMP"/* | wc -l)" 5 "messages with the fixed subject"
}
