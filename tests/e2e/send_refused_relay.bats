#!/usr/bin/env bats
# Issue 9: a relay's "no" to the sender is never the recipients' fault -
# against the scripted aiosmtpd relay (smtp_server.py --refuse MODE), which
# refuses us, the client, for every recipient: Exim's "550 Administrative
# prohibition", "Relay access denied", the sender address refused at MAIL
# FROM, a HELO name that is not fully qualified, AUTH required, the
# content refused at the dot.  campaign must bounce and suppress nobody,
# leave every row queued with no attempt counted, stop with the relay's
# own reply and what to fix, exit 69 (the relay refused us) or 78 (our
# configuration) or 65 (the message, campaign paused), and deliver
# everyone exactly once when rerun after the fix.  The mixed case - three
# of twenty recipients refused with 550 5.1.1 - bounces and suppresses
# exactly those three.  (send_refused.bats asks the same of smtp-sink.)

load lib
load send_lib
load relay_lib

USER_NAME=mailer
PASSWORD='s3cret pass'

setup_file() {
    local d=$BATS_FILE_TMPDIR
    test_ca "$d" "campaign refused test CA" || return 1
}

setup() {
    campaign_setup
    export TEST_SMTP_PASSWORD="$PASSWORD"
}

teardown() {
    send_teardown
}

# twenty - the list news: user01..user20@example.com.
twenty() {
    # shellcheck disable=SC2046
    list_of $(addrs 20)
}

# nobody_blamed - after a send refused for everyone: nobody bounced or
# suppressed, every row queued with no attempt, every contact active,
# nothing delivered, and stderr says so.
nobody_blamed() {
    assert_eq "$(states)" "queued 20" "ledger after the refusal"
    assert_eq "$(count sends "state = 'queued' AND attempts = 0")" 20 "rows queued with 0 attempts"
    assert_eq "$(count suppressions)" 0 "suppressions"
    assert_eq "$(count contacts "status <> 'active'")" 0 "contacts not active"
    assert_contains "$stderr" "nobody was bounced or suppressed"
    assert_contains "$output" "bounced 0"
    assert_eq "$(relay_mails)" 0 "messages the relay stored"
    assert_eq "$(relay_events '^data .* 250$')" 0 "messages accepted at the dot"
    # contacts show says the person is still to be mailed
    local saved_out=$output saved_err=$stderr
    crun 0 contacts show user01@example.com
    assert_contains "$output" "promo: queued"
    output=$saved_out stderr=$saved_err
}

# delivered_once - a rerun after the fix: exit 0, every row sent, and the
# relay's message directory (both servers' messages) holds exactly one
# copy for each recipient, with the ledger's Message-ID.
delivered_once() {
    local a
    send_status 0
    assert_eq "$(states)" "sent 20" "ledger after the rerun"
    assert_eq "$(count suppressions)" 0 "suppressions after the rerun"
    for a in $(addrs 20); do
        assert_eq "$(copies "$a" "$RELAY_MAIL")" 1 "copies to $a"
    done
    check_delivery promo "$RELAY_MAIL"
    assert_eq "$output" "rows 20, sent 20, messages 20, recipients with copies 20, duplicates 0"
}

# tls_conf PORT [LINES...] - write_conf with STARTTLS, verified by our CA.
tls_conf() {
    write_conf "$@" "ca_file = $BATS_FILE_TMPDIR/ca.pem" || return 1
    sed -i 's/^tls = none$/tls = starttls/' "$BATS_TEST_TMPDIR/campaign.conf"
}

# stderr_matches ERE - the last run's stderr has a line matching ERE.
stderr_matches() {
    printf '%s\n' "$stderr" | grep -qE "$1" ||
        fail "stderr does not match $1:" "$stderr"
}

# default_ehlo NAME - NAME is what campaign says by default: the host's
# fully-qualified name, or [127.0.0.1] when it has none (send_ehlo.bats).
default_ehlo() {
    case "$1" in
    "[127.0.0.1]") ;;
    *.*) [[ "$1" != *" "* ]] || fail "EHLO name with a space: $1" ;;
    *) fail "EHLO with a bare host name: $1" ;;
    esac
    if [[ "$(hostname)" != *.* ]] && ! getent hosts "$(hostname)" | grep -q '\.'; then
        assert_eq "$1" "[127.0.0.1]" "EHLO of a host without a fully-qualified name"
    fi
}

@test "send refused relay: Exim's '550 Administrative prohibition' to every RCPT bounces nobody (69); rerun delivers once" {
    twenty
    relay_start --refuse admin
    write_conf "$RELAY_PORT"
    send_status 69
    assert_contains "$stderr" "550 Administrative prohibition"
    [ "$(relay_events '^rcpt user[0-9]+@example\.com 550$')" -ge 1 ] ||
        fail "no RCPT refused: $(cat "$RELAY_EVENTS")"
    nobody_blamed
    relay_stop
    relay_start
    write_conf "$RELAY_PORT"
    delivered_once
}

@test "send refused relay: '554 5.7.1 <ADDR>: Relay access denied' bounces nobody (78); rerun delivers once" {
    twenty
    relay_start --refuse relay
    write_conf "$RELAY_PORT"
    send_status 78
    stderr_matches '554 5\.7\.1 <user[0-9]{2}@example\.com>: Relay access denied'
    nobody_blamed
    relay_stop
    relay_start
    write_conf "$RELAY_PORT"
    delivered_once
}

@test "send refused relay: the sender refused at MAIL FROM (553 5.1.8) bounces nobody (78); rerun delivers once" {
    twenty
    relay_start --refuse sender
    write_conf "$RELAY_PORT"
    send_status 78
    assert_contains "$stderr" "553 5.1.8 <news@acme.example>: Sender address rejected: Domain not found"
    assert_eq "$(relay_events '^rcpt ')" 0 "RCPT after a refused MAIL FROM"
    nobody_blamed
    relay_stop
    relay_start
    write_conf "$RELAY_PORT"
    delivered_once
}

@test "send refused relay: helo = vm refused at RCPT (504 5.5.2) is our configuration (78) and says to set helo; without it, delivered once" {
    twenty
    relay_start --refuse helo
    write_conf "$RELAY_PORT" "helo = vm"
    send_status 78
    assert_contains "$stderr" "504 5.5.2 <vm>: Helo command rejected: need fully-qualified hostname"
    assert_contains "$stderr" "set helo in [relay]"
    [ "$(relay_events '^ehlo vm$')" -ge 1 ] || fail "no EHLO vm: $(cat "$RELAY_EVENTS")"
    nobody_blamed
    # fixed: helo removed; the same strict relay takes the default name
    write_conf "$RELAY_PORT"
    : >"$RELAY_EVENTS"
    delivered_once
    assert_eq "$(relay_events '^rcpt .* 504$')" 0 "RCPTs refused for the HELO name"
}

@test "send refused relay: the default EHLO name (host FQDN or [127.0.0.1]) passes a relay that refuses non-FQDN HELO" {
    twenty
    relay_start --refuse helo
    write_conf "$RELAY_PORT"
    delivered_once
    local names
    names=$(sed -n 's/^\(ehlo\|helo\) //p' "$RELAY_EVENTS" | sort -u)
    [ -n "$names" ] || fail "no EHLO in the events:" "$(cat "$RELAY_EVENTS")"
    assert_eq "$(printf '%s\n' "$names" | wc -l)" 1 "distinct EHLO names ($names)"
    default_ehlo "$names"
    assert_eq "$(relay_events '^rcpt .* 504$')" 0 "RCPTs refused for the HELO name"
}

@test "send refused relay: '530 5.7.0 Authentication required' at MAIL FROM without credentials (78); with username and password_env, delivered once" {
    twenty
    relay_start --refuse auth --user "$USER_NAME" --password "$PASSWORD"
    write_conf "$RELAY_PORT"
    send_status 78
    assert_contains "$stderr" "530 5.7.0 Authentication required"
    assert_eq "$(relay_events '^auth ')" 0 "AUTH attempts without credentials"
    assert_eq "$(relay_events '^mail .* 530$')" "$(relay_events '^mail ')" "MAIL FROMs refused"
    nobody_blamed
    # fixed: credentials set, the same relay accepts the authenticated client
    write_conf "$RELAY_PORT" "username = $USER_NAME" "password_env = TEST_SMTP_PASSWORD"
    delivered_once
    assert_eq "$(cat "$RELAY_MAIL"/*.env | grep -c '^auth True$')" 20 "messages sent authenticated"
    assert_not_contains "$stderr$output" "$PASSWORD"
}

@test "send refused relay: AUTH required inside STARTTLS (78), then delivered once over TLS with credentials" {
    twenty
    relay_start --mode starttls --cert "$BATS_FILE_TMPDIR/leaf.pem" \
        --key "$BATS_FILE_TMPDIR/leaf.key" --user "$USER_NAME" \
        --password "$PASSWORD" --pipelining --refuse auth
    tls_conf "$RELAY_PORT"
    send_status 78
    assert_contains "$stderr" "530 5.7.0 Authentication required"
    assert_eq "$(relay_events '^auth ')" 0 "AUTH attempts without credentials"
    nobody_blamed
    tls_conf "$RELAY_PORT" "username = $USER_NAME" "password_env = TEST_SMTP_PASSWORD"
    delivered_once
    assert_eq "$(cat "$RELAY_MAIL"/*.env | grep -c '^tls True$')" 20 "messages sent inside TLS"
    assert_eq "$(cat "$RELAY_MAIL"/*.env | grep -c '^auth True$')" 20 "messages sent authenticated"
}

@test "send refused relay: '554 5.6.0 Message content rejected' at the dot pauses the campaign (65), suppresses nobody; the fixed template goes once to everyone" {
    twenty
    cp -r "$TEMPLATES" "$BATS_TEST_TMPDIR/tpl"
    relay_start --refuse content
    write_conf "$RELAY_PORT"
    crun 65 --templates "$BATS_TEST_TMPDIR/tpl" send --template promo --list news
    assert_contains "$stderr" "554 5.6.0 Message content rejected"
    assert_contains "$stderr" "nobody got this message yet"
    assert_eq "$(campaign_status)" paused
    [ "$(relay_events '^data .* 554$')" -ge 1 ] || fail "no dot refused: $(cat "$RELAY_EVENTS")"
    nobody_blamed
    # nobody got it: the frozen template is let go, the next run takes the
    # changed files
    assert_eq "$(q "SELECT template_src IS NULL FROM campaigns;")" 1
    sed -i 's/^Subject: .*/Subject: Fixed {{first_name}}/' "$BATS_TEST_TMPDIR/tpl/promo.mustache"
    relay_stop
    relay_start
    write_conf "$RELAY_PORT"
    crun 0 resume promo
    TEMPLATES="$BATS_TEST_TMPDIR/tpl" delivered_once
    assert_eq "$(grep -l '^Subject: Fixed' "$RELAY_MAIL"/*.eml | wc -l)" 20 "messages with the fixed subject"
}

@test "send refused relay: 3 of 20 refused with 550 5.1.1 at RCPT are exactly the bounces (hard, suppressed); the other 17 sent once" {
    # shellcheck disable=SC2046
    list_of $(addrs 3 reject) $(addrs 17)
    relay_start --pipelining
    write_conf "$RELAY_PORT"
    # a run with bounces is a success (cmd/cmd_send.c sets no code for
    # them): exit 0
    send_status 0
    assert_contains "$output" "bounced 3"
    assert_not_contains "$stderr" "nobody was bounced or suppressed"
    assert_eq "$(states)" "$(printf 'bounced 3\nsent 17')"
    local a
    for a in $(addrs 3 reject); do
        assert_eq "$(row_of "$a")" "bounced|1|550|5.1.1|hard|0" "row of $a"
        assert_eq "$(status_of "$a")" bounced "contact $a"
        assert_eq "$(copies "$a" "$RELAY_MAIL")" 0 "copies to $a"
    done
    # shellcheck disable=SC2046
    assert_eq "$(q "SELECT email, reason, source FROM suppressions ORDER BY email;")" \
        "$(printf '%s|bounced|smtp\n' $(addrs 3 reject))" "suppressions"
    for a in $(addrs 17); do
        assert_eq "$(state_of "$a")" sent "row of $a"
        assert_eq "$(status_of "$a")" active "contact $a"
        assert_eq "$(copies "$a" "$RELAY_MAIL")" 1 "copies to $a"
    done
    check_delivery promo "$RELAY_MAIL"
    assert_eq "$output" "rows 20, sent 17, messages 17, recipients with copies 17, duplicates 0"
    assert_eq "$(campaign_status)" "done"
}

@test "send refused relay: after the refusal of us, what the connection held and had not begun is withdrawn, not sent to be refused again" {
    twenty
    relay_start --refuse admin --pipelining
    write_conf "$RELAY_PORT"
    send_status 69 --concurrency 1
    nobody_blamed
    # the refused transaction, and at most the one pipelined behind it
    local n
    n=$(relay_events '^rcpt user[0-9]+@example\.com 550$')
    [ "$n" -ge 1 ] && [ "$n" -le 2 ] ||
        fail "RCPTs refused: $n, want 1 or 2:" "$(cat "$RELAY_EVENTS")"
}
