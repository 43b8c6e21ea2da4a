#!/usr/bin/env bats
# Issue 9: the same refusal for every recipient is the relay's answer to
# us, whatever its words (engine/relay.c, the streak rule): RELAY_STREAK
# (10) identical refusals in a row through one relay with nothing
# delivered through it in between, or every permanent answer of a relay
# that delivered nothing in the run (3 or more).  Nobody is bounced or
# suppressed for it; with a pool, the refusing relay is set aside and the
# others carry on.  A refusal among deliveries stays the recipient's.

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# untouched N - N rows queued, no attempt, no bounce, no suppression
untouched() {
    assert_eq "$(states)" "queued $1" "ledger"
    assert_eq "$(q "SELECT sum(attempts) FROM sends;")" 0 "attempts counted"
    assert_eq "$(count suppressions)" 0 "suppressions"
    assert_eq "$(q "SELECT count(*) FROM sends WHERE bounce_class IS NOT NULL;")" 0 "bounce classes"
    assert_eq "$(q "SELECT count(*) FROM contacts WHERE status <> 'active';")" 0 "contacts not active"
}

@test "send streak: '550 Rejected' (words the table does not know) for every recipient stops the run, bounces nobody (69)" {
    # shellcheck disable=SC2046
    list_of $(addrs 30)
    start_sink - -f RCPT -B "550 Rejected"
    write_conf "$SINK_PORT"
    send_status 69
    untouched 30
    assert_contains "$stderr" "550 Rejected"
    assert_contains "$stderr" "the same refusal for every recipient"
    assert_contains "$stderr" "nobody was bounced or suppressed"
    # the streak's ten (at least) carry the reply, and contacts show says it
    local n who
    n=$(q "SELECT count(*) FROM sends WHERE last_code = 550 AND last_text LIKE 'Rejected (not the recipient''s%';")
    [ "$n" -ge 10 ] || fail "rows with the reply: $n, want 10 or more"
    who=$(q "SELECT c.email FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE s.last_code = 550 LIMIT 1;")
    crun 0 contacts show "$who"
    assert_contains "$output" "promo: queued"
    assert_contains "$output" "550 Rejected"
    crun 0 report promo
    assert_contains "$output" "queued: 550 Rejected (not the recipient's: the same refusal for every recipient"
    crun 0 report promo --undelivered
    assert_contains "$output" "$who"
    # the list of campaigns shows them left to send, not bounced
    crun 0 report
    # (started, not finished; no bounce rate: nothing delivered or bounced)
    [[ "$output" =~ promo\ +sending\ +[0-9T:Z-]+\ +-\ +30\ +0\ +30\ +0\ +0\ +0\ +0\ +0\ +-\  ]] ||
        fail "report's row for promo:" "$output"
    # the relay fixed: everyone once
    stop_sink
    start_sink
    write_conf "$SINK_PORT"
    send_status 0
    assert_eq "$(states)" "sent 30"
    check_delivery
    assert_eq "$output" "rows 30, sent 30, messages 30, recipients with copies 30, duplicates 0"
}

@test "send streak: a relay that thinks it is the destination ('User unknown in local recipient table' for all) suppresses nobody; --trust-refusals believes it" {
    # shellcheck disable=SC2046
    list_of $(addrs 25)
    start_sink - -f RCPT -B "550 5.1.1 <someone@example.com>: Recipient address rejected: User unknown in local recipient table"
    write_conf "$SINK_PORT"
    send_status 69
    untouched 25
    assert_contains "$stderr" "User unknown in local recipient table"
    # told that these addresses really do not exist
    send_status 0 --trust-refusals
    assert_eq "$(states)" "bounced 25"
    assert_eq "$(count suppressions "reason = 'bounced'")" 25
}

@test "send streak: --trust-refusals goes with a real send only" {
    list_of ann@example.com
    crun 64 --templates "$TEMPLATES" send --template promo --list news --dry-run --trust-refusals
    assert_contains "$stderr" "--trust-refusals"
    crun 64 --templates "$TEMPLATES" send --template promo --list news --test-to a@example.com --trust-refusals
}

# pool BAD_REPLY - relay "bad" answers every RCPT with BAD_REPLY, relay
# "good" takes everything: 20 recipients all delivered through good, once,
# nobody bounced, and bad named as set aside.
pool() {
    # shellcheck disable=SC2046
    list_of $(addrs 20)
    start_sink - -f RCPT -B "$1"
    local bad=$SINK_PORT
    start_sink
    write_conf "$bad" "" "[relay good]" "host = 127.0.0.1" "port = $SINK_PORT" "tls = none"
    send_status 0
    assert_eq "$(states)" "sent 20"
    assert_eq "$(q "SELECT group_concat(DISTINCT relay) FROM sends;")" good "relays that delivered"
    assert_eq "$(count suppressions)" 0 "suppressions"
    assert_eq "$(q "SELECT count(*) FROM sends WHERE bounce_class IS NOT NULL;")" 0 "bounce classes"
    assert_contains "$stderr" "relay 127.0.0.1 set aside for this run"
    assert_contains "$stderr" "the other relays carry on"
    check_delivery
    assert_eq "$output" "rows 20, sent 20, messages 20, recipients with copies 20, duplicates 0"
}

@test "send streak: in a pool, a relay denying relaying is set aside and the other delivers everyone once" {
    pool "554 5.7.1 <user01@example.com>: Relay access denied"
}

@test "send streak: in a pool, a relay refusing every recipient in words of its own is set aside too" {
    pool "550 Rejected"
}

@test "send streak: dead addresses first, then deliveries: only the dead bounce (the streak is broken by a delivery)" {
    # the first five claimed are dead (smtp_server.py: "reject..." gets
    # 550 5.1.1), then fifteen that exist
    # shellcheck disable=SC2046
    list_of $(addrs 5 reject) $(addrs 15)
    serve --mode plain --pipelining
    write_conf "$SRV_PORT"
    send_status 0
    assert_eq "$(states)" "$(printf 'bounced 5\nsent 15')"
    assert_eq "$(count suppressions "reason = 'bounced' AND email LIKE 'reject%'")" 5
    assert_eq "$(count suppressions)" 5
    assert_eq "$(find "$SRV_MAIL" -name '*.eml' | wc -l)" 15 "messages received"
}

@test "send streak: dead addresses among deliveries, more than ten of them: every one bounces, the run is not stopped" {
    local a=() i
    # 15 dead ("reject..." gets 550 5.1.1 from smtp_server.py), each
    # followed by one that exists
    for ((i = 1; i <= 15; i++)); do
        a+=("$(printf 'reject%02d@example.com' "$i")" "$(printf 'user%02d@example.com' "$i")")
    done
    list_of "${a[@]}"
    serve --mode plain --pipelining
    write_conf "$SRV_PORT"
    send_status 0 --concurrency 1
    assert_eq "$(states)" "$(printf 'bounced 15\nsent 15')"
    assert_eq "$(count suppressions "reason = 'bounced'")" 15
    assert_eq "$(find "$SRV_MAIL" -name '*.eml' | wc -l)" 15 "messages received"
}
