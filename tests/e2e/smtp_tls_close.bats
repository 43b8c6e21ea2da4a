#!/usr/bin/env bats
# Issue 9: a TLS session that the server ends - a "421" and a close
# without close_notify (Exim after "too many nonmail commands"), a reset,
# a "421" written in clear text under the session - is reported as the
# server's close with its last reply, not as an OpenSSL error ("wrong
# version number", "unexpected eof") that reads like a TLS configuration
# problem; a handshake that never completes is still a TLS error.  In
# every case nobody is bounced, and a rerun against a well-behaved relay
# delivers each message exactly once.
#
# The misbehaving relay is tls_close_server.py (plain sockets and
# Python's ssl): it accepts the first two RCPTs, delivers those messages,
# and ends the session at every later RCPT the way --close says.  The
# well-behaved one for the reruns is smtp_server.py, unchanged.  Both run
# on 127.0.0.1 with kernel-chosen ports and a certificate from a CA made
# here, which campaign.conf trusts through ca_file.

load lib
load send_lib

# the 421 tls_close_server.py sends
REPLY_421='421 4.7.0 example.test too many nonmail commands'
# what the old code printed instead of the server's close
TLS_NOISE='wrong version number|unexpected eof|record layer failure|TLS read with|TLS write with'

setup_file() {
    local d=$BATS_FILE_TMPDIR
    test_ca "$d" "campaign tls close test CA" || return 1
}

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# close_serve HOW [ARGS...] - tls_close_server.py --close HOW: port in
# BAD_PORT, pid in BAD_PID, messages in $BATS_TEST_TMPDIR/bad, events in
# $BATS_TEST_TMPDIR/bad.events.
close_serve() {
    local how=$1
    shift
    mkdir -p "$BATS_TEST_TMPDIR/bad"
    rm -f "$BATS_TEST_TMPDIR/bad.port"
    "$PY" "$BATS_TEST_DIRNAME/tls_close_server.py" --port-file "$BATS_TEST_TMPDIR/bad.port" \
        --cert "$BATS_FILE_TMPDIR/leaf.pem" --key "$BATS_FILE_TMPDIR/leaf.key" \
        --close "$how" --after 2 --pipelining --maildir "$BATS_TEST_TMPDIR/bad" \
        --events "$BATS_TEST_TMPDIR/bad.events" "$@" >"$BATS_TEST_TMPDIR/bad.log" 2>&1 &
    BAD_PID=$!
    track_pid "$BAD_PID"
    wait_file "$BATS_TEST_TMPDIR/bad.port"
    BAD_PORT=$(cat "$BATS_TEST_TMPDIR/bad.port")
}

# good_serve MODE - smtp_server.py (starttls or smtps) with our leaf:
# port in GOOD_PORT, messages in $BATS_TEST_TMPDIR/good.
good_serve() {
    mkdir -p "$BATS_TEST_TMPDIR/good"
    rm -f "$BATS_TEST_TMPDIR/good.port"
    "$PY" "$BATS_TEST_DIRNAME/smtp_server.py" --port-file "$BATS_TEST_TMPDIR/good.port" \
        --maildir "$BATS_TEST_TMPDIR/good" --mode "$1" --pipelining \
        --cert "$BATS_FILE_TMPDIR/leaf.pem" --key "$BATS_FILE_TMPDIR/leaf.key" \
        >"$BATS_TEST_TMPDIR/good.log" 2>&1 &
    track_pid $!
    wait_file "$BATS_TEST_TMPDIR/good.port"
    GOOD_PORT=$(cat "$BATS_TEST_TMPDIR/good.port")
}

# tls_conf PORT MODE - a relay on 127.0.0.1:PORT with tls = MODE, our CA.
tls_conf() {
    {
        printf '[sender]\nfrom = Acme News <news@acme.example>\n\n'
        printf '[relay]\nhost = 127.0.0.1\nport = %s\ntls = %s\nca_file = %s\n' \
            "$1" "$2" "$BATS_FILE_TMPDIR/ca.pem"
    } >"$BATS_TEST_TMPDIR/campaign.conf"
}

# send_run [ARGS...] - campaign send of promo to news (any exit status,
# bounded in time; no sanitizer report).
send_run() {
    run --separate-stderr timeout 120 "$CAMPAIGN_BIN" --db "$DB" \
        --templates "$TEMPLATES" "$@" send --template promo --list news
    no_sanitizer_report
}

# closes - the closing errors of the transcript (-v), one a line.
closes() {
    printf '%s\n' "$stderr" | sed -n 's/^campaign: smtp 127\.0\.0\.1: ! //p'
}

# nobody_bounced - a closed connection is never a bounce.
nobody_bounced() {
    assert_eq "$(count sends "state IN ('bounced', 'failed', 'expired')")" 0 \
        "bounced or failed rows ($(states))"
    assert_eq "$(count suppressions)" 0 "suppressions"
    assert_eq "$(count contacts "status != 'active'")" 0 "contacts not active"
}

# first_run_ledger - the two messages before the close went out; the
# others wait (deferred by a 421 that was read, or still queued).
first_run_ledger() {
    assert_eq "$(state_of u1@example.com)" sent
    assert_eq "$(state_of u2@example.com)" sent
    assert_eq "$(count sends "state IN ('deferred', 'queued')")" 4 "$(states)"
    assert_eq "$(count sends "was_uncertain > 0")" 0
    assert_eq "$(ls "$BATS_TEST_TMPDIR/bad" | grep -c '\.eml$')" 2 \
        "messages the closing relay took"
}

# rerun_once MODE - stop the closing relay, rerun against smtp_server.py
# (every row made due now): each recipient gets exactly one copy over
# both relays, Message-IDs as in the ledger.
rerun_once() {
    stop_pid "$BAD_PID"
    good_serve "$1"
    tls_conf "$GOOD_PORT" "$1"
    q "UPDATE sends SET next_attempt_at = strftime('%s', 'now') - 1 WHERE state = 'deferred';"
    send_run
    expect_status 0
    assert_eq "$(states)" "sent 6"
    local all=$BATS_TEST_TMPDIR/all f
    mkdir -p "$all"
    for f in "$BATS_TEST_TMPDIR"/bad/*.eml "$BATS_TEST_TMPDIR"/good/*.eml; do
        cp "$f" "$all/$(basename "$(dirname "$f")")-$(basename "$f")"
        cp "${f%.eml}.env" "$all/$(basename "$(dirname "$f")")-$(basename "${f%.eml}").env"
    done
    check_delivery promo "$all"
    assert_eq "$output" "rows 6, sent 6, messages 6, recipients with copies 6, duplicates 0"
    nobody_bounced
    assert_eq "$(campaign_status)" done
}

@test "tls close: STARTTLS, 421 inside TLS then a close without close_notify: the server's close with its 421" {
    list_of u1@example.com u2@example.com u3@example.com u4@example.com \
        u5@example.com u6@example.com
    close_serve tls421
    tls_conf "$BAD_PORT" starttls
    send_run -v
    [ "$status" -eq 0 ] || [ "$status" -eq 69 ] || expect_status 0
    local c
    c=$(closes)
    [ -n "$c" ] || fail "no closing error in the transcript:" "$stderr"
    # every connection the relay ended names its 421, and nothing TLS
    assert_eq "$(printf '%s\n' "$c" | grep -cv "^127.0.0.1 closed the session: $REPLY_421\$")" 0 "$c"
    printf '%s\n' "$stderr" | grep -Eq "$TLS_NOISE" && fail "TLS noise:" "$stderr"
    assert_eq "$(grep -c '^close tls421 ' "$BATS_TEST_TMPDIR/bad.events")" "$(printf '%s\n' "$c" | wc -l)"
    assert_eq "$(q "SELECT DISTINCT last_code || ' ' || last_status FROM sends WHERE state = 'deferred';")" "421 4.7.0"
    first_run_ledger
    nobody_bounced
    rerun_once starttls
}

@test "tls close: STARTTLS, 421 then a TCP reset: the server's close with its last reply, the reset only as detail" {
    list_of u1@example.com u2@example.com u3@example.com u4@example.com \
        u5@example.com u6@example.com
    close_serve rst421
    tls_conf "$BAD_PORT" starttls
    send_run -v
    [ "$status" -eq 0 ] || [ "$status" -eq 69 ] || expect_status 0
    local c bad
    c=$(closes)
    [ -n "$c" ] || fail "no closing error in the transcript:" "$stderr"
    # the reset usually overtakes the 421 (the kernel drops what it had
    # not sent yet); when the 421 does arrive, it is read as such
    bad=$(printf '%s\n' "$c" | grep -Ev "^127.0.0.1 closed the session: $REPLY_421\$" |
        grep -Ev '^127\.0\.0\.1 closed the connection while we waited for the reply to (MAIL FROM|RCPT TO|DATA) \(after its last reply "250 [^"]*"; TLS (read: Connection reset by peer|write: (Connection reset by peer|Broken pipe))\)$' || :)
    [ -z "$bad" ] || fail "not reported as the server's close:" "$bad"
    printf '%s\n' "$stderr" | grep -Eq "TLS read with|TLS write with" && fail "TLS error:" "$stderr"
    if [ "$status" -eq 69 ]; then
        assert_contains "$stderr" "no relay reachable (127.0.0.1:$BAD_PORT: 127.0.0.1 closed the "
    fi
    first_run_ledger
    nobody_bounced
    rerun_once starttls
}

@test "tls close: STARTTLS, 421 in clear text under the TLS session: the server's close with that 421, 'wrong version number' only in the parenthesis" {
    list_of u1@example.com u2@example.com u3@example.com u4@example.com \
        u5@example.com u6@example.com
    close_serve clear421
    tls_conf "$BAD_PORT" starttls
    send_run
    expect_status 69
    local want="127.0.0.1 closed the connection while we waited for the reply to RCPT TO (after its last reply \"$REPLY_421\", sent in clear text outside TLS; TLS read: wrong version number)"
    assert_contains "$stderr" "no relay reachable (127.0.0.1:$BAD_PORT: $want)"
    first_run_ledger
    assert_eq "$(count sends "state = 'queued'")" 4
    nobody_bounced
    rerun_once starttls
}

@test "tls close: implicit TLS (smtps), 421 in clear text under the session: the server's close with that 421" {
    list_of u1@example.com u2@example.com u3@example.com u4@example.com \
        u5@example.com u6@example.com
    close_serve clear421 --smtps
    tls_conf "$BAD_PORT" smtps
    send_run -v
    expect_status 69
    assert_contains "$stderr" "no relay reachable (127.0.0.1:$BAD_PORT: 127.0.0.1 closed the connection while we waited for the reply to RCPT TO (after its last reply \"$REPLY_421\", sent in clear text outside TLS; TLS read: wrong version number))"
    assert_eq "$(closes | grep -cv "^127.0.0.1 closed the connection while we waited for the reply to RCPT TO (after its last reply \"$REPLY_421\", sent in clear text outside TLS; TLS read: wrong version number)\$")" 0 "$(closes)"
    first_run_ledger
    nobody_bounced
    rerun_once smtps
}

@test "tls close: implicit TLS (smtps), 421 inside TLS then a close without close_notify" {
    list_of u1@example.com u2@example.com u3@example.com u4@example.com \
        u5@example.com u6@example.com
    close_serve tls421 --smtps
    tls_conf "$BAD_PORT" smtps
    send_run -v
    [ "$status" -eq 0 ] || [ "$status" -eq 69 ] || expect_status 0
    local c
    c=$(closes)
    [ -n "$c" ] || fail "no closing error in the transcript:" "$stderr"
    assert_eq "$(printf '%s\n' "$c" | grep -cv "^127.0.0.1 closed the session: $REPLY_421\$")" 0 "$c"
    printf '%s\n' "$stderr" | grep -Eq "$TLS_NOISE" && fail "TLS noise:" "$stderr"
    first_run_ledger
    nobody_bounced
    rerun_once smtps
}

@test "tls close: a handshake answered with garbage is still a TLS handshake error; nothing sent, nobody bounced" {
    list_of u1@example.com u2@example.com u3@example.com u4@example.com \
        u5@example.com u6@example.com
    close_serve garbage
    tls_conf "$BAD_PORT" starttls
    send_run
    expect_status 78
    assert_contains "$stderr" "relay 127.0.0.1: TLS handshake with 127.0.0.1: "
    assert_not_contains "$stderr" "closed the connection"
    assert_not_contains "$stderr" "clear text"
    assert_eq "$(grep -c '^garbage$' "$BATS_TEST_TMPDIR/bad.events")" 1 "one attempt"
    assert_eq "$(states)" "queued 6"
    assert_eq "$(ls "$BATS_TEST_TMPDIR/bad" | wc -l)" 0
    nobody_bounced
    stop_pid "$BAD_PID"
    good_serve starttls
    tls_conf "$GOOD_PORT" starttls
    send_run
    expect_status 0
    assert_eq "$(states)" "sent 6"
    check_delivery promo "$BATS_TEST_TMPDIR/good"
    assert_eq "$output" "rows 6, sent 6, messages 6, recipients with copies 6, duplicates 0"
}

@test "tls close: implicit TLS against a plain SMTP relay is a TLS handshake error quoting the greeting it got" {
    list_of u1@example.com
    mkdir -p "$BATS_TEST_TMPDIR/plain"
    "$PY" "$BATS_TEST_DIRNAME/smtp_server.py" --port-file "$BATS_TEST_TMPDIR/plain.port" \
        --maildir "$BATS_TEST_TMPDIR/plain" --mode plain >"$BATS_TEST_TMPDIR/plain.log" 2>&1 &
    track_pid $!
    wait_file "$BATS_TEST_TMPDIR/plain.port"
    tls_conf "$(cat "$BATS_TEST_TMPDIR/plain.port")" smtps
    send_run
    expect_status 78
    assert_contains "$stderr" "relay 127.0.0.1: TLS handshake with 127.0.0.1: wrong version number (the server sent clear text: \"220 relay.test "
    assert_not_contains "$stderr" "closed the connection"
    assert_eq "$(states)" "queued 1"
    nobody_bounced
}
