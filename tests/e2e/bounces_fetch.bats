#!/usr/bin/env bats
# Issue 14: `campaign bounces fetch` reads the bounce mailbox over IMAP -
# against a real Dovecot (the installed dovecot-imapd, a private instance
# on loopback, see dovecot_lib.bash: imaps on one port, imap with
# STARTTLS required on another, a test CA's certificate, one user).
#
# The messages are about a real campaign (bounces_lib.bash: promo sent to
# ann, ben and cid into smtp-sink, the DSN / feedback report / opt-out
# made from what was sent) and are put into the Maildir's new/ as a
# delivery agent would.  Promises held here:
#   - every new message of the folder is ingested and then moved to
#     Processed (the default, the folder created), marked \Seen
#     (processed = seen) or deleted (processed = delete): a second fetch
#     reads nothing twice, and fetches what arrived since;
#   - the password comes from password_env or a password_file, never
#     from argv: it is on no process's command line while fetch runs,
#     nor in what campaign prints, nor in any file of the test, nor in the
#     server's log;
#   - a wrong password is exit 69 or 78 naming the server and its reply,
#     with nothing recorded and nothing moved;
#   - with tls_verify = on the server's certificate is checked against
#     ca_file: the right CA works, another CA fails with an error that
#     says so, before anything is read.
# Every wait is bounded; teardown stops Dovecot and smtp-sink by pid.

# tfetch sets stderr (bats run --separate-stderr)
# shellcheck disable=SC2154
load lib
load send_lib
load dovecot_lib
load bounces_lib

PW_ENV=CAMPAIGN_TEST_IMAP_PASSWORD

setup() {
    dv_require
    bx_spool
    dv_start
    bx_campaign
}

teardown() {
    dv_teardown
    send_teardown
    bx_teardown
}

# imap_conf URL [LINES...] - campaign.conf with a [bounces] section for
# the private Dovecot at URL, the password from $PW_ENV, the certificate
# verified with ca_file = $IMAP_CA (default: the test CA that signed it);
# LINES are added to [bounces].
imap_conf() {
    local url=$1
    shift
    bx_conf "[bounces]" "imap = $url" "username = $DV_USER" \
        "password_env = $PW_ENV" "tls_verify = on" \
        "ca_file = ${IMAP_CA:-$DV_DIR/ca.pem}" "$@"
}

# imaps / imap_starttls - the two URLs of the INBOX.
imaps() {
    printf 'imaps://127.0.0.1:%s/INBOX' "$DV_IMAPS"
}

imap_starttls() {
    printf 'imap://127.0.0.1:%s/INBOX' "$DV_IMAP"
}

# FETCH_LIMIT - seconds a fetch may take before the test gives up on it
FETCH_LIMIT=30

# tfetch - `campaign bounces fetch` under timeout(1) (124 when it hangs),
# stdout in $output, stderr in $stderr.
tfetch() {
    run --separate-stderr timeout "$FETCH_LIMIT" "$CAMPAIGN_BIN" --db "$DB" bounces fetch "$@"
    no_sanitizer_report
}

# frun N - tfetch, which must exit N; the password not in what it printed.
frun() {
    local want=$1
    shift
    tfetch "$@" || return 1
    expect_status "$want" || return 1
    no_password_in "$output$stderr" "what fetch printed"
}

# fetch N - frun with the password in the environment ($PW_ENV).
fetch() {
    local rc=0
    export "$PW_ENV=$DV_PASS"
    frun "$@" || rc=1
    unset "$PW_ENV"
    return "$rc"
}

# no_password_in TEXT WHAT - the password is not in TEXT.
no_password_in() {
    case "$1" in
    *"$DV_PASS"*) fail "the IMAP password appears in $2:" "$1" ;;
    esac
    return 0
}

# three_messages - a hard DSN about ben's message, an abuse report about
# ann's, cid's mailed opt-out: into the INBOX.
three_messages() {
    dv_deliver "$(bx_dsn ben@example.com 5.1.1 "550 5.1.1 <ben@example.com>: Recipient address rejected: User unknown")" \
        "$(bx_arf ann@example.com)" "$(bx_unsub_mail cid@example.com)"
    assert_eq "$(dv_count INBOX)" 3 "messages in the INBOX"
}

# three_recorded - what three_messages says is in the database.
three_recorded() {
    assert_eq "$(status_of ben@example.com)" bounced "status of ben"
    assert_eq "$(q "SELECT s.state || '|' || s.bounce_class FROM sends s JOIN contacts c
        ON c.id = s.contact_id WHERE c.email = 'ben@example.com';")" "bounced|hard" "ledger row of ben"
    assert_eq "$(status_of ann@example.com)" complained "status of ann"
    assert_eq "$(status_of cid@example.com)" unsubscribed "status of cid"
    assert_eq "$(bx_events bounce ben@example.com)" 1 "bounce events of ben"
    assert_eq "$(bx_events complaint ann@example.com)" 1 "complaint events of ann"
    assert_eq "$(bx_events unsubscribe cid@example.com)" 1 "unsubscribe events of cid"
}

# inbox_uids - what an independent client (curl) finds in the INBOX:
# the UIDs, space-separated ("" when empty).
inbox_uids() {
    dv_curl INBOX -X 'UID SEARCH ALL' | tr -d '\r' | sed -n 's/^\* SEARCH *//p'
}

# busy_then_free PROCESSED - with another writer holding the database,
# fetch (processed = PROCESSED) exits 75 having recorded nothing and
# moved nothing: every message is still in the INBOX (with processed =
# seen: still unseen) for the next fetch, which (the database free)
# records all three.  The holder waits for the lock (.timeout): the probe
# `locked` takes it for an instant, and under load the two can meet.
busy_then_free() {
    imap_conf "$(imaps)" "processed = $1"
    three_messages
    local holder i
    (
        printf 'BEGIN EXCLUSIVE;\nSELECT 1;\n'
        for ((i = 0; i < 300; i++)); do
            [ -e "$BATS_TEST_TMPDIR/release" ] && break
            sleep 0.1
        done
        printf 'COMMIT;\n'
    ) | sqlite3 -batch -cmd '.timeout 5000' "$DB" >/dev/null &
    holder=$!
    track_pid "$holder"
    wait_for 10 locked
    fetch 75
    touch "$BATS_TEST_TMPDIR/release"
    wait_for 10 gone "$holder"
    assert_eq "$(count events)" 0 "events after the busy fetch"
    assert_eq "$(dv_count INBOX)" 3 "messages in the INBOX after the busy fetch"
    if [ "$1" = seen ]; then
        # UNSEEN is what the next fetch reads: a message that FETCH
        # BODY[] (not BODY.PEEK[]) marked would never be read again
        assert_eq "$(dv_flagged S)" 0 "INBOX messages marked seen by the busy fetch"
    fi
    fetch 0
    bx_summary_is "$output" fetched=3 hard=1 complaint=1 unsubscribe=1
    three_recorded
}

# locked - another connection holds the database's write lock.
locked() {
    ! sqlite3 -batch -cmd '.timeout 0' "$DB" 'BEGIN IMMEDIATE; ROLLBACK;' >/dev/null 2>&1
}

@test "bounces fetch: imaps with the CA verified: three messages ingested and moved to Processed (the default, created); a second fetch reads nothing, a third only what arrived since" {
    imap_conf "$(imaps)"
    three_messages
    fetch 0
    bx_summary_is "$output" fetched=3 hard=1 complaint=1 unsubscribe=1 unmatched=0 duplicate=0
    three_recorded
    # moved: on disk, and as an IMAP client sees it
    assert_eq "$(dv_count INBOX)" 0 "messages left in the INBOX"
    assert_eq "$(dv_count Processed)" 3 "messages in Processed"
    assert_eq "$(inbox_uids)" "" "UIDs in the INBOX (curl)"
    bx_snapshot "$BATS_TEST_TMPDIR/after1"
    fetch 0
    bx_summary_is "$output" fetched=0 hard=0 complaint=0 unsubscribe=0
    bx_snapshot "$BATS_TEST_TMPDIR/after2"
    same_file "$BATS_TEST_TMPDIR/after1" "$BATS_TEST_TMPDIR/after2"
    assert_eq "$(dv_count Processed)" 3 "messages in Processed"
    # one more arrives: only that one is read
    dv_deliver "$(bx_dsn ann@example.com 4.2.2 "452 4.2.2 Mailbox full")"
    fetch 0
    bx_summary_is "$output" fetched=1 hard=0 complaint=0
    assert_eq "$(dv_count INBOX)" 0 "messages left in the INBOX"
    assert_eq "$(dv_count Processed)" 4 "messages in Processed"
    assert_eq "$(bx_events complaint ann@example.com)" 1 "complaint events of ann"
}

@test "bounces fetch: imap:// with STARTTLS, the password from a password_file (0644 refused, 0600 used), processed = seen: the messages stay, marked \\Seen, and are not read again" {
    printf '%s\n' "$DV_PASS" >"$BX_DIR/imap.pw"
    bx_conf "[bounces]" "imap = $(imap_starttls)" "username = $DV_USER" \
        "password_file = $BX_DIR/imap.pw" "tls_verify = on" "ca_file = $DV_DIR/ca.pem" \
        "processed = seen"
    three_messages
    # readable by others: refused (78) before anything is read
    chmod 644 "$BX_DIR/imap.pw"
    frun 78
    assert_contains "$stderr" "$BX_DIR/imap.pw" "the error (names the file)"
    assert_eq "$(find "$DV_MAILDIR/new" -type f | wc -l)" 3 "messages still new in the INBOX"
    assert_eq "$(count events)" 0 "events"
    chmod 600 "$BX_DIR/imap.pw"
    frun 0
    bx_summary_is "$output" fetched=3 hard=1 complaint=1 unsubscribe=1
    three_recorded
    assert_eq "$(dv_count INBOX)" 3 "messages in the INBOX"
    assert_eq "$(dv_flagged S)" 3 "INBOX messages flagged seen"
    assert_eq "$(dv_count Processed)" 0 "messages in Processed"
    [ ! -d "$DV_MAILDIR/.Processed" ] || fail "a Processed folder was made with processed = seen"
    assert_eq "$(dv_curl INBOX -X 'UID SEARCH UNSEEN' | tr -d '\r' | sed -n 's/^\* SEARCH *//p')" "" "unseen UIDs (curl)"
    frun 0
    bx_summary_is "$output" fetched=0
    assert_eq "$(bx_events bounce)" 1 "bounce events"
}

@test "bounces fetch: processed = delete: the messages are ingested, then gone from the INBOX; a second fetch reads nothing" {
    imap_conf "$(imaps)" "processed = delete"
    three_messages
    fetch 0
    bx_summary_is "$output" fetched=3 hard=1 complaint=1 unsubscribe=1
    three_recorded
    assert_eq "$(dv_count INBOX)" 0 "messages left in the INBOX"
    assert_eq "$(inbox_uids)" "" "UIDs in the INBOX (curl)"
    [ ! -d "$DV_MAILDIR/.Processed" ] || fail "a Processed folder was made with processed = delete"
    fetch 0
    bx_summary_is "$output" fetched=0
    assert_eq "$(bx_events bounce)" 1 "bounce events"
}

@test "bounces fetch: the database busy, fetch exits 75 and moves nothing; the next fetch records all three (processed = move)" {
    busy_then_free move:Processed
    assert_eq "$(dv_count Processed)" 3 "messages in Processed"
}

@test "bounces fetch: the database busy, fetch exits 75 and leaves every message unseen (reading one must not mark it \\Seen); the next fetch records all three (processed = seen)" {
    busy_then_free seen
    assert_eq "$(dv_flagged S)" 3 "INBOX messages flagged seen"
}

@test "bounces fetch: a wrong password is exit 69 or 78 naming the server and its reply; nothing recorded, nothing moved or marked" {
    imap_conf "$(imaps)"
    three_messages
    bx_snapshot "$BATS_TEST_TMPDIR/before"
    export "$PW_ENV=not-$DV_PASS"
    tfetch
    unset "$PW_ENV"
    [ "$status" -eq 69 ] || [ "$status" -eq 78 ] ||
        fail "exit status $status, expected 69 or 78" "--- stdout:" "$output" "--- stderr:" "$stderr"
    assert_contains "$stderr" "127.0.0.1:$DV_IMAPS" "the error (names the server)"
    # Dovecot's reply: "NO [AUTHENTICATIONFAILED] Authentication failed."
    grep -qiE 'authentication ?failed' <<<"$stderr" ||
        fail "the error does not give Dovecot's reply (Authentication failed):" "$stderr"
    no_password_in "$output$stderr" "what fetch printed"
    case "$output$stderr" in
    *"not-$DV_PASS"*) fail "the wrong password appears in what fetch printed" ;;
    esac
    bx_snapshot "$BATS_TEST_TMPDIR/after"
    same_file "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
    assert_eq "$(find "$DV_MAILDIR/new" -type f | wc -l)" 3 "messages still new in the INBOX"
    [ ! -d "$DV_MAILDIR/.Processed" ] || fail "a Processed folder was made"
}

@test "bounces fetch: tls_verify = on with the right ca_file works over both ports; a CA that did not sign the server's certificate fails with a certificate error, nothing read" {
    # another CA, which never signed Dovecot's certificate
    mkdir -p "$BATS_TEST_TMPDIR/otherca"
    test_ca "$BATS_TEST_TMPDIR/otherca" "Some Other CA"
    local url
    three_messages
    bx_snapshot "$BATS_TEST_TMPDIR/before"
    for url in "$(imaps)" "$(imap_starttls)"; do
        IMAP_CA="$BATS_TEST_TMPDIR/otherca/ca.pem" imap_conf "$url"
        export "$PW_ENV=$DV_PASS"
        tfetch
        unset "$PW_ENV"
        [ "$status" -ne 0 ] || fail "fetch over $url with the wrong CA succeeded:" "$output"
        [ "$status" -eq 69 ] || [ "$status" -eq 78 ] ||
            fail "exit status $status, expected 69 or 78" "--- stdout:" "$output" "--- stderr:" "$stderr"
        assert_contains "$stderr" "127.0.0.1" "the error (names the server)"
        grep -qi 'certificate\|verif' <<<"$stderr" ||
            fail "the error over $url does not say the certificate failed:" "$stderr"
        no_password_in "$output$stderr" "what fetch printed"
        assert_eq "$(find "$DV_MAILDIR/new" -type f | wc -l)" 3 "messages still new in the INBOX"
    done
    bx_snapshot "$BATS_TEST_TMPDIR/after"
    same_file "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
    # and with the CA that did sign it
    imap_conf "$(imap_starttls)"
    fetch 0
    bx_summary_is "$output" fetched=3 hard=1 complaint=1 unsubscribe=1
    three_recorded
}

@test "bounces fetch: the password is on no process's command line while fetch runs, nor in its output, the test's files, the database or Dovecot's log" {
    imap_conf "$(imaps)"
    three_messages
    # enough mail that the fetch takes a while to watch
    local i pid seen=0 f
    for ((i = 1; i <= 40; i++)); do
        printf 'From: someone%d@example.net\r\nTo: bounces@%s\r\nSubject: hello %d\r\nMessage-ID: <watch%d@example.net>\r\n\r\nnothing of ours\r\n' \
            "$i" "$BX_DOMAIN" "$i" "$i" >"$BATS_TEST_TMPDIR/plain$i.eml"
        dv_deliver "$BATS_TEST_TMPDIR/plain$i.eml"
    done
    export "$PW_ENV=$DV_PASS"
    timeout "$FETCH_LIMIT" "$CAMPAIGN_BIN" --db "$DB" bounces fetch \
        >"$BATS_TEST_TMPDIR/fetch.out" 2>"$BATS_TEST_TMPDIR/fetch.err" &
    pid=$!
    unset "$PW_ENV"
    track_pid "$pid"
    # every process's argv, sampled until fetch exits (at most 20 s)
    for ((i = 0; i < 1000; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        for f in /proc/[0-9]*/cmdline; do
            # (a process may be gone between the glob and the read)
            if { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$DV_PASS"; then
                fail "the password is on a command line: $f: $(tr '\0' ' ' <"$f")"
            fi
        done
        seen=$((seen + 1))
        sleep 0.02
    done
    reap "$pid" "$FETCH_LIMIT"
    assert_eq "$REAPED" 0 "exit status of fetch ($(cat "$BATS_TEST_TMPDIR/fetch.err"))"
    output=$(cat "$BATS_TEST_TMPDIR/fetch.out")
    stderr=$(cat "$BATS_TEST_TMPDIR/fetch.err")
    no_sanitizer_report
    # the 40 are not ours (unmatched or unknown: recorded as nothing)
    bx_summary_is "$output" fetched=43 hard=1 complaint=1 unsubscribe=1
    assert_eq "$(count events)" 3 "events"
    # what matched nothing stays in the INBOX, for a run that may match it
    assert_eq "$(find "$DV_MAILDIR/new" "$DV_MAILDIR/cur" -type f | wc -l)" 40 \
        "messages left in the INBOX"
    no_password_in "$output$stderr" "what fetch printed"
    [ "$seen" -ge 1 ] || fail "fetch ended before its command line could be read"
    if grep -rlaF -- "$DV_PASS" "$BATS_TEST_TMPDIR" "$BX_DIR" 2>/dev/null; then
        fail "the password is in a file of the test (above)"
    fi
    if grep -aF -- "$DV_PASS" "$DV_LOG"; then
        fail "the password is in Dovecot's log"
    fi
    three_recorded
}
