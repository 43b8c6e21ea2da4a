#!/usr/bin/env bats
# Issue 4, tests: `campaign send` against a scripted aiosmtpd relay
# (smtp_server.py, run by /usr/bin/python3): STARTTLS with a certificate
# made here, AUTH PLAIN and LOGIN with the right and a wrong password,
# per-recipient 550 / 554 5.7.1 / 451 / 421 replies, replies to the dot,
# a connection cut before and after the dot; and the STARTTLS injection
# case against a hand-written server (send_inject.py).
#
# What a recipient gets from smtp_server.py depends on how its address
# starts (reject, blocked, defer, close421, droprcpt, dropdot, dotdefer,
# dotreject); anything else is accepted.  Accepted messages are stored
# byte for byte as N.eml with their envelope in N.env.

load lib
load send_lib

USER_NAME=mailer
PASSWORD='s3cret pass'

setup_file() {
    local d=$BATS_FILE_TMPDIR
    test_ca "$d" "campaign send test CA" || return 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$d/other.key" -out "$d/other.pem" -days 2 \
        -subj "/CN=some other CA" 2>/dev/null
}

setup() {
    campaign_setup
    export TEST_SMTP_PASSWORD="$PASSWORD"
}

teardown() {
    send_teardown
}

# serve_tls - STARTTLS with our leaf certificate, AUTH, PIPELINING.
serve_tls() {
    serve --mode starttls --cert "$BATS_FILE_TMPDIR/leaf.pem" \
        --key "$BATS_FILE_TMPDIR/leaf.key" --user "$USER_NAME" \
        --password "$PASSWORD" --pipelining "$@"
}

# tls_conf PORT [LINES...] - a relay with STARTTLS, our CA and AUTH.
tls_conf() {
    local port=$1
    shift
    {
        printf '[sender]\nfrom = Acme News <news@acme.example>\n\n'
        printf '[relay]\nhost = 127.0.0.1\nport = %s\ntls = starttls\n' "$port"
        printf 'ca_file = %s\nusername = %s\npassword_env = TEST_SMTP_PASSWORD\n' \
            "$BATS_FILE_TMPDIR/ca.pem" "$USER_NAME"
        printf '%s\n' "$@"
    } >"$BATS_TEST_TMPDIR/campaign.conf"
}

# events PATTERN - how many event lines match (grep -E).
events() {
    grep -cE "$1" "$SRV_EVENTS" || :
}

# mails - messages the server stored.
mails() {
    find "$SRV_MAIL" -name '*.eml' | wc -l
}

# no_secret TEXT - neither the password nor its base64 forms appear.
no_secret() {
    assert_not_contains "$1" "$PASSWORD"
    assert_not_contains "$1" "$(printf '\0%s\0%s' "$USER_NAME" "$PASSWORD" | base64 -w0)"
    assert_not_contains "$1" "$(printf '%s' "$PASSWORD" | base64 -w0)"
}

@test "send script: STARTTLS verified with our CA, AUTH PLAIN, every message delivered inside TLS; no password in the transcript" {
    list_of ann@example.com ben@example.com cid@example.com
    serve_tls
    tls_conf "$SRV_PORT"
    run --separate-stderr camp -v --templates "$TEMPLATES" send --template promo --list news
    no_sanitizer_report
    expect_status 0
    assert_eq "$(states)" "sent 3"
    assert_eq "$(mails)" 3
    assert_eq "$(cat "$SRV_MAIL"/*.env | grep -c '^tls True$')" 3
    assert_eq "$(cat "$SRV_MAIL"/*.env | grep -c '^auth True$')" 3
    assert_contains "$stderr" "> STARTTLS"
    assert_contains "$stderr" "(certificate verified)"
    assert_contains "$stderr" "> AUTH PLAIN <redacted>"
    assert_contains "$stderr" "< 235 "
    no_secret "$stderr$output"
    # AUTH only inside TLS: the first EHLO's reply offered no AUTH
    assert_eq "$(events '^auth PLAIN ok mailer$')" "$(events '^connect$')"
    check_delivery promo "$SRV_MAIL"
    assert_eq "$output" "rows 3, sent 3, messages 3, recipients with copies 3, duplicates 0"
}

@test "send script: AUTH LOGIN (auth = login) delivers; the base64 of the password is never shown" {
    list_of ann@example.com ben@example.com
    serve_tls
    tls_conf "$SRV_PORT" "auth = login"
    run --separate-stderr camp -v --templates "$TEMPLATES" send --template promo --list news
    no_sanitizer_report
    expect_status 0
    assert_eq "$(states)" "sent 2"
    assert_contains "$stderr" "> AUTH LOGIN"
    assert_contains "$stderr" "> <redacted>"
    no_secret "$stderr$output"
    [ "$(events '^auth LOGIN ok mailer$')" -ge 1 ] || fail "no AUTH LOGIN: $(cat "$SRV_EVENTS")"
    assert_eq "$(mails)" 2
}

@test "send script: a wrong password stops at once with the 535, no retry loop, nothing sent, no password in any output" {
    list_of ann@example.com ben@example.com cid@example.com
    serve_tls
    tls_conf "$SRV_PORT"
    export TEST_SMTP_PASSWORD='wrong horse'
    PASSWORD='wrong horse'
    run --separate-stderr timeout 60 "$CAMPAIGN_BIN" --db "$DB" -v --templates "$TEMPLATES" \
        send --template promo --list news
    no_sanitizer_report
    expect_status 78
    assert_contains "$stderr" "rejected the credentials of mailer: 535 5.7.8"
    no_secret "$stderr$output"
    # one login attempt, not one per connection or per message
    assert_eq "$(events '^auth ')" 1 "AUTH attempts ($(cat "$SRV_EVENTS"))"
    assert_eq "$(mails)" 0
    assert_eq "$(states)" "queued 3"
    assert_eq "$(campaign_status)" sending
    # again: the same, still one attempt per run
    run --separate-stderr timeout 60 "$CAMPAIGN_BIN" --db "$DB" -v --templates "$TEMPLATES" \
        send --template promo --list news
    expect_status 78
    assert_eq "$(events '^auth ')" 2 "AUTH attempts ($(cat "$SRV_EVENTS")) ($stderr)"
    no_secret "$stderr$output"
    assert_eq "$(states)" "queued 3"
}

@test "send script: a certificate our CA did not sign fails closed: no credentials, nothing sent" {
    list_of ann@example.com
    serve_tls
    tls_conf "$SRV_PORT"
    sed -i "s|^ca_file = .*|ca_file = $BATS_FILE_TMPDIR/other.pem|" "$BATS_TEST_TMPDIR/campaign.conf"
    send_status 78
    assert_contains "$stderr" "certificate verification failed"
    assert_eq "$(events '^auth ')" 0
    assert_eq "$(mails)" 0
    assert_eq "$(states)" "queued 1"
}

@test "send script: STARTTLS missing (stripped) with tls = starttls fails closed before AUTH" {
    list_of ann@example.com
    serve --mode plain --user "$USER_NAME" --password "$PASSWORD"
    tls_conf "$SRV_PORT"
    send_status 78
    assert_contains "$stderr" "does not offer STARTTLS"
    assert_eq "$(events '^auth ')" 0
    assert_eq "$(mails)" 0
    assert_eq "$(states)" "queued 1"
}

@test "send script: per-recipient 550, 554 5.7.1, 451 and 421 on a pipelining relay; the rest delivered once" {
    list_of ok1@example.com reject1@example.com ok2@example.com blocked1@example.com \
        defer1@example.com ok3@example.com close421@example.com ok4@example.com ok5@example.com
    serve --mode plain --pipelining
    write_conf "$SRV_PORT"
    run --separate-stderr timeout 120 "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" \
        send --template promo --list news --concurrency 1
    no_sanitizer_report
    expect_status 0
    assert_eq "$(row_of reject1@example.com)" "bounced|1|550|5.1.1|hard|0"
    assert_eq "$(status_of reject1@example.com)" bounced
    assert_eq "$(row_of blocked1@example.com)" "bounced|1|554|5.7.1|blocked|0"
    assert_eq "$(status_of blocked1@example.com)" active
    assert_eq "$(row_of defer1@example.com)" "deferred|1|451|4.2.0||0"
    assert_eq "$(row_of close421@example.com)" "deferred|1|421|4.7.0||0"
    assert_eq "$(q "SELECT count(*) FROM sends WHERE state = 'deferred' AND next_attempt_at > strftime('%s', 'now') + 200;")" 2
    local a
    for a in ok1 ok2 ok3 ok4 ok5; do
        assert_eq "$(state_of $a@example.com)" sent "$a"
        assert_eq "$(copies $a@example.com "$SRV_MAIL")" 1 "copies to $a"
    done
    assert_eq "$(mails)" 5
    assert_eq "$(count suppressions)" 1
    check_delivery promo "$SRV_MAIL"
    assert_eq "$(campaign_status)" sending "campaign status with deferrals left"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" sent)" 5
    assert_eq "$(json_get "$output" deferred)" 2
    assert_eq "$(json_get "$output" bounced_hard)" 1
    assert_eq "$(json_get "$output" blocked)" 1
}

@test "send script: 451 to the final dot defers that message; 554 5.6.0 (content) pauses the campaign, bouncing nobody" {
    list_of ok1@example.com dotdefer1@example.com dotreject1@example.com ok2@example.com
    serve --mode plain --pipelining
    write_conf "$SRV_PORT"
    send_status 65
    assert_eq "$(row_of dotdefer1@example.com)" "deferred|1|451|4.3.0||0"
    # the message's fault, not the recipient's: no bounce, no attempt
    # (the relay's reply kept: code, status, and its text with whose fault)
    assert_eq "$(row_of dotreject1@example.com)" "queued|0|554|5.6.0||0"
    assert_contains "$(q "SELECT last_text FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email = 'dotreject1@example.com';")" "(not the recipient's: message content refused)"
    assert_contains "$stderr" "refused the message"
    assert_eq "$(campaign_status)" paused
    assert_eq "$(state_of ok1@example.com)" sent
    assert_eq "$(count suppressions)" 0
}

@test "send script: the connection cut before the dot: delivered exactly once after a reconnect, in the same run" {
    list_of ok1@example.com droprcpt1@example.com ok2@example.com droprcpt2@example.com ok3@example.com
    serve --mode plain --pipelining
    write_conf "$SRV_PORT"
    send_status 0
    assert_eq "$(states)" "sent 5"
    assert_eq "$(events '^drop rcpt ')" 2
    [ "$(events '^connect$')" -ge 2 ] || fail "no reconnect: $(cat "$SRV_EVENTS")"
    check_delivery promo "$SRV_MAIL"
    assert_eq "$output" "rows 5, sent 5, messages 5, recipients with copies 5, duplicates 0"
    assert_eq "$(count sends "was_uncertain > 0")" 0
    assert_eq "$(campaign_status)" done
}

@test "send script: the connection cut after the dot: uncertain, retried once with the same Message-ID, listed by report" {
    list_of ok1@example.com dropdot1@example.com ok2@example.com ok3@example.com
    serve --mode plain --pipelining
    write_conf "$SRV_PORT"
    send_status 0
    # the summary counts recipients in their last state: the retry sent it
    assert_contains "$output" "sent 4, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0"
    assert_eq "$(states)" "sent 4"
    assert_eq "$(row_of dropdot1@example.com)" "sent|2|250|2.0.0||2"
    # two copies of the one message, same Message-ID as the ledger's
    assert_eq "$(copies dropdot1@example.com "$SRV_MAIL")" 2
    check_delivery promo "$SRV_MAIL"
    assert_eq "$output" "rows 4, sent 4, messages 5, recipients with copies 4, duplicates 1"
    local mid
    mid=$(q "SELECT message_id FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email = 'dropdot1@example.com';")
    assert_eq "$(received "$SRV_MAIL" | awk -F'\t' '$1 == "dropdot1@example.com" { print $2 }' | sort -u)" "$mid"
    crun 0 report promo
    assert_contains "$output" "uncertain recipients (may have received the message twice, with the same Message-ID):"
    assert_contains "$output" "  dropdot1@example.com $mid (sent)"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" uncertain)" 1
    assert_eq "$(json_get "$output" uncertain_recipients 0 email)" dropdot1@example.com
    assert_eq "$(json_get "$output" uncertain_recipients 0 message_id)" "$mid"
    assert_eq "$(campaign_status)" done
}

@test "send script: bytes after '220 Ready to start TLS' (STARTTLS injection): abort, nothing more sent" {
    list_of ann@example.com ben@example.com
    rm -f "$BATS_TEST_TMPDIR/inject.port"
    : >"$BATS_TEST_TMPDIR/inject.log"
    "$PY" "$BATS_TEST_DIRNAME/send_inject.py" --port-file "$BATS_TEST_TMPDIR/inject.port" \
        --log "$BATS_TEST_TMPDIR/inject.log" 2>>"$BATS_TEST_TMPDIR/inject.err" &
    track_pid $!
    wait_file "$BATS_TEST_TMPDIR/inject.port"
    tls_conf "$(cat "$BATS_TEST_TMPDIR/inject.port")"
    send_status 78
    assert_contains "$stderr" "possible STARTTLS command injection"
    wait_for 10 grep -q '^after ' "$BATS_TEST_TMPDIR/inject.log"
    local log
    log=$(cat "$BATS_TEST_TMPDIR/inject.log")
    # not a byte after the injected reply: no handshake, no AUTH, no MAIL
    assert_eq "$(grep '^after ' "$BATS_TEST_TMPDIR/inject.log" | sort -u)" "after 0" "$log"
    assert_not_contains "$log" "cmd MAIL"
    assert_not_contains "$log" "cmd AUTH"
    assert_eq "$(states)" "queued 2"
}
