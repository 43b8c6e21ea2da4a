#!/usr/bin/env bats
# Issue 14: the mail that comes back reaches `campaign bounces ingest`
# through a real Postfix - the installed package, a private instance on
# loopback (postfix_lib.bash: `postfix -c DIR`, its configuration, queue
# and log in the test's directory) that accepts mail for the VERP domain
# bounces.acme.example over SMTP and pipes each message to the command.
#
# The route the README shows, and most tests use, is a pipe(8) transport
# for the whole domain (bx_pf_pipe in bounces_lib.bash):
#
#   main.cf:   relay_domains = bounces.acme.example
#              transport_maps = inline:{ { bounces.acme.example = campaign: } }
#              campaign_destination_recipient_limit = 1
#   master.cf: campaign unix - n n - - pipe
#                flags=Rq user=nobody argv=/usr/local/bin/campaign
#                --db DB --config CONF bounces ingest --rcpt ${recipient}
#
# One test takes the other route, a local(8) alias
# (bounces: "|campaign ... bounces ingest" with recipient_delimiter = +),
# where campaign reads the address from $ORIGINAL_RECIPIENT.
#
# Postfix runs the command as an unprivileged user (pipe's user=, or
# default_privs for an alias file owned by root): here nobody.  That user
# must write the database and its directory (SQLite puts the -wal and
# -shm files beside it) and read the secret and campaign.conf; the test
# keeps them in a directory of their own owned by nobody (bx_spool,
# bx_give), as an installation must.  The command runs behind a small
# wrapper that keeps its output and exit status (bx_wrapper).
#
# The bounces are about a real campaign: promo sent to three contacts
# into smtp-sink, the VERP and List-Unsubscribe tokens read from what was
# sent, the DSN / feedback report / opt-out made from those very messages
# (bounce_mail.py) and handed to Postfix over SMTP.  One test closes the
# whole loop with no hand-made message: a campaign sent through this
# Postfix, whose next hop (the scripted relay smtp_server.py) refuses one
# recipient, comes back as Postfix's own DSN to the VERP address.  Every
# wait is bounded (20 s); teardown stops Postfix, smtp-sink and the
# scripted relay by pid.

# crun sets stderr (bats run --separate-stderr)
# shellcheck disable=SC2154
load lib
load send_lib
load postfix_lib
load bounces_lib

setup() {
    pf_require
    bx_spool "$BX_PIPE_USER"
    pf_start
    bx_campaign
}

teardown() {
    pf_teardown
    bx_teardown
}

# ledger_of EMAIL - state|bounce_class of the promo row of EMAIL.
ledger_of() {
    q "SELECT s.state, coalesce(s.bounce_class, '') FROM sends s
         JOIN contacts c ON c.id = s.contact_id
        WHERE c.email = $(sqlstr "$1");"
}

# untouched EMAIL - the contact is active and its row still sent.
untouched() {
    assert_eq "$(status_of "$1")" active "status of $1" &&
        assert_eq "$(ledger_of "$1")" "sent|" "ledger row of $1"
}

# locked - another connection holds the database's write lock.
locked() {
    ! sqlite3 -batch -cmd '.timeout 0' "$DB" 'BEGIN IMMEDIATE; ROLLBACK;' >/dev/null 2>&1
}

# delivered_ok ADDRESS - Postfix handed ADDRESS's message to the command,
# which exited 0 (the log says status=sent), and bounced nothing back.
delivered_ok() {
    bx_delivered_to "$1" >/dev/null ||
        fail "Postfix's log has no successful delivery to <$1> through the command" || return 1
    if grep -E 'status=(bounced|deferred)' "$PF_LOG" >/dev/null; then
        fail "Postfix bounced or deferred something:" "$(grep -E 'status=(bounced|deferred)' "$PF_LOG")"
    fi
}

@test "bounces postfix: a hard DSN to bounces+TOKEN@ through Postfix's pipe marks that contact bounced, its ledger row bounced/hard, one bounce event; the others untouched" {
    bx_pf_pipe
    bx_give
    local verp f
    verp=$(bx_verp ben@example.com)
    f=$(bx_dsn ben@example.com 5.1.1 "550 5.1.1 <ben@example.com>: Recipient address rejected: User unknown in virtual mailbox table")
    bx_inject "$f" "$verp"
    bx_ingested 1
    assert_eq "$(cat "$BX_DIR/ingest.rc")" 0 "exit status of the command"
    delivered_ok "$verp"
    bx_summary_is "$(bx_last_summary)" ingested=1 hard=1 soft=0 complaint=0 unmatched=0 duplicate=0
    assert_eq "$(status_of ben@example.com)" bounced "status of ben"
    assert_eq "$(ledger_of ben@example.com)" "bounced|hard" "ledger row of ben"
    assert_eq "$(bx_events bounce ben@example.com)" 1 "bounce events of ben"
    crun 0 contacts show ben@example.com
    assert_contains "$output" bounced "contacts show ben"
    untouched ann@example.com
    untouched cid@example.com
    assert_eq "$(bx_events bounce)" 1 "bounce events"
}

@test "bounces postfix: an ARF abuse report (the whole message returned, to the feedback-loop address) marks the contact complained, one complaint event" {
    bx_pf_pipe
    bx_give
    local f
    f=$(bx_arf ann@example.com)
    bx_inject "$f" "fbl@$BX_DOMAIN" "feedback@arf.mail.yahoo.com"
    bx_ingested 1
    assert_eq "$(cat "$BX_DIR/ingest.rc")" 0 "exit status of the command"
    delivered_ok "fbl@$BX_DOMAIN"
    bx_summary_is "$(bx_last_summary)" ingested=1 complaint=1 hard=0 unmatched=0
    assert_eq "$(status_of ann@example.com)" complained "status of ann"
    assert_eq "$(bx_events complaint ann@example.com)" 1 "complaint events of ann"
    untouched ben@example.com
    untouched cid@example.com
}

@test "bounces postfix: a mail from the contact to unsubscribe+TOKEN@ (the List-Unsubscribe mailto) marks it unsubscribed, one unsubscribe event" {
    bx_pf_pipe
    bx_give
    local to f
    to=$(bx_unsub cid@example.com)
    f=$(bx_unsub_mail cid@example.com)
    bx_inject "$f" "$to" cid@example.com
    bx_ingested 1
    assert_eq "$(cat "$BX_DIR/ingest.rc")" 0 "exit status of the command"
    delivered_ok "$to"
    bx_summary_is "$(bx_last_summary)" ingested=1 unsubscribe=1 hard=0 unmatched=0
    assert_eq "$(status_of cid@example.com)" unsubscribed "status of cid"
    assert_eq "$(bx_events unsubscribe cid@example.com)" 1 "unsubscribe events of cid"
    untouched ann@example.com
    untouched ben@example.com
}

@test "bounces postfix: an out-of-office reply (RFC 3834) to the VERP address is one auto_reply event and changes nothing else" {
    bx_pf_pipe
    bx_give
    local verp f
    verp=$(bx_verp ann@example.com)
    f="$BATS_TEST_TMPDIR/ann.vacation"
    "$PY" "$BX_MAIL" vacation "$BX_EML/ann@example.com.eml" ann@example.com "$verp" >"$f"
    bx_inject "$f" "$verp"
    bx_ingested 1
    assert_eq "$(cat "$BX_DIR/ingest.rc")" 0 "exit status of the command"
    delivered_ok "$verp"
    bx_summary_is "$(bx_last_summary)" ingested=1 auto_reply=1 hard=0 soft=0 unmatched=0
    assert_eq "$(bx_events auto_reply ann@example.com)" 1 "auto_reply events of ann"
    assert_eq "$(count events)" 1 "events"
    untouched ann@example.com
    assert_eq "$(count suppressions)" 0 "suppressions"
}

@test "bounces postfix: a forged VERP token, and a valid token for a contact never mailed, change nothing; the command exits 0, so Postfix bounces nothing back" {
    bx_pf_pipe
    # dan is a contact, in no list: never mailed
    contacts "$BATS_TEST_TMPDIR/dan.csv" dan@example.com
    crun 0 import "$BATS_TEST_TMPDIR/dan.csv" --list other
    bx_give
    local good forged minted f g cid dan
    bx_snapshot "$BATS_TEST_TMPDIR/before"
    # ben's token with its MAC changed, on a DSN that names ben: what
    # someone who knows ben was mailed, and the shape of our return
    # path, but not the secret, can send (the returned headers made up:
    # no token of ours, a Message-ID we never used)
    good=$(bx_token ben@example.com envelope)
    forged="bounces+$(bx_forge "$good")@$BX_DOMAIN"
    printf 'From: Acme News <news@acme.example>\r\nTo: ben@example.com\r\nSubject: Hello\r\nMessage-ID: <made-up.1@acme.example>\r\nDate: Thu, 3 Dec 2026 21:00:00 +0000\r\n\r\nhello\r\n' >"$BATS_TEST_TMPDIR/fake.eml"
    f="$BATS_TEST_TMPDIR/forged.dsn"
    "$PY" "$BX_MAIL" dsn "$BATS_TEST_TMPDIR/fake.eml" ben@example.com "$forged" 5.1.1 "550 5.1.1 <ben@example.com>: User unknown" >"$f"
    bx_inject "$f" "$forged"
    bx_ingested 1
    assert_eq "$(cat "$BX_DIR/ingest.rc")" 0 "exit status of the command"
    delivered_ok "$forged"
    bx_summary_is "$(bx_last_summary)" ingested=1 hard=0 unmatched=1
    # the same without the returned headers (no Message-ID to compare)
    f="$BATS_TEST_TMPDIR/forged-bare.dsn"
    "$PY" "$BX_MAIL" dsn - ben@example.com "$forged" 5.1.1 "550 5.1.1 <ben@example.com>: User unknown" >"$f"
    bx_inject "$f" "$forged"
    bx_ingested 2
    bx_summary_is "$(bx_last_summary)" ingested=1 hard=0 unmatched=1
    # a token only the secret's holder can make, for dan, of this
    # campaign: the MAC is right but nothing was sent to dan
    cid=$(q "SELECT id FROM campaigns WHERE name = 'promo';")
    dan=$(q "SELECT id FROM contacts WHERE email = 'dan@example.com';")
    minted="bounces+$("$PY" "$BX_MAIL" mint "$DB.secret" b "$cid" "$dan")@$BX_DOMAIN"
    sed 's/ben@example.com/dan@example.com/; s/made-up\.1/made-up.2/' "$BATS_TEST_TMPDIR/fake.eml" >"$BATS_TEST_TMPDIR/fake-dan.eml"
    g="$BATS_TEST_TMPDIR/dan.dsn"
    "$PY" "$BX_MAIL" dsn "$BATS_TEST_TMPDIR/fake-dan.eml" dan@example.com "$minted" 5.1.1 "550 5.1.1 <dan@example.com>: User unknown" >"$g"
    bx_inject "$g" "$minted"
    bx_ingested 3
    assert_eq "$(tr '\n' ' ' <"$BX_DIR/ingest.rc")" "0 0 0 " "exit statuses of the command"
    delivered_ok "$minted"
    bx_summary_is "$(bx_last_summary)" ingested=1 hard=0 unmatched=1
    bx_snapshot "$BATS_TEST_TMPDIR/after"
    same_file "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
    assert_eq "$(status_of dan@example.com)" active "status of dan"
    untouched ben@example.com
}

@test "bounces postfix: the same DSN delivered twice is recorded once (the second run counts a duplicate)" {
    bx_pf_pipe
    bx_give
    local verp f
    verp=$(bx_verp ann@example.com)
    f=$(bx_dsn ann@example.com 5.2.1 "550 5.2.1 The email account that you tried to reach is disabled.")
    bx_inject "$f" "$verp"
    bx_ingested 1
    bx_summary_is "$(bx_last_summary)" ingested=1 hard=1 duplicate=0
    bx_inject "$f" "$verp"
    bx_ingested 2
    assert_eq "$(tr '\n' ' ' <"$BX_DIR/ingest.rc")" "0 0 " "exit statuses of the command"
    bx_summary_is "$(bx_last_summary)" hard=0 duplicate=1
    assert_eq "$(status_of ann@example.com)" bounced "status of ann"
    assert_eq "$(ledger_of ann@example.com)" "bounced|hard" "ledger row of ann"
    assert_eq "$(bx_events bounce)" 1 "bounce events"
    assert_eq "$(grep -cE "postfix/pipe\[[0-9]+\]: [0-9A-F]+: to=<$(bx_re "$verp")>.* status=sent " "$PF_LOG")" 2 "deliveries to the command"
}

@test "bounces postfix: the database busy, the command exits 75 and Postfix defers; once free, Postfix's retry records the bounce" {
    bx_pf_pipe
    bx_give
    local verp f holder i
    verp=$(bx_verp cid@example.com)
    f=$(bx_dsn cid@example.com 5.1.1 "550 5.1.1 <cid@example.com>: User unknown")
    # another writer holds the database (longer than campaign's 5 s busy
    # timeout); it lets go when $BATS_TEST_TMPDIR/release appears
    (
        printf 'BEGIN EXCLUSIVE;\nSELECT 1;\n'
        for ((i = 0; i < 300; i++)); do
            [ -e "$BATS_TEST_TMPDIR/release" ] && break
            sleep 0.1
        done
        printf 'COMMIT;\n'
    ) | sqlite3 -batch "$DB" >/dev/null &
    holder=$!
    track_pid "$holder"
    wait_for 10 locked
    bx_inject "$f" "$verp"
    wait_for 20 grep -qE "postfix/pipe\[[0-9]+\]: [0-9A-F]+: to=<$(bx_re "$verp")>.* status=deferred " "$PF_LOG"
    assert_eq "$(head -n 1 "$BX_DIR/ingest.rc")" 75 "exit status of the busy run"
    assert_eq "$(status_of cid@example.com)" active "status of cid while busy"
    touch "$BATS_TEST_TMPDIR/release"
    wait_for 10 gone "$holder"
    # Postfix retries (flushed once a second) until the command takes it
    for ((i = 0; i < 200; i++)); do
        bx_delivered_to "$verp" >/dev/null && break
        ((i % 10 == 9)) && "$PF_POSTQUEUE" -c "$PF_CONF" -f >/dev/null 2>&1
        sleep 0.1
    done
    bx_delivered_to "$verp" >/dev/null || fail "not delivered after the lock was released:" "$(cat "$BX_DIR/ingest.rc")"
    assert_eq "$(tail -n 1 "$BX_DIR/ingest.rc")" 0 "exit status of the retry"
    bx_clean_runs
    assert_eq "$(status_of cid@example.com)" bounced "status of cid"
    assert_eq "$(bx_events bounce cid@example.com)" 1 "bounce events of cid"
}

@test "bounces postfix: through a local(8) alias instead (recipient_delimiter +, no --rcpt: ORIGINAL_RECIPIENT), a hard DSN and a mailed opt-out are recorded" {
    bx_pf_alias
    bx_give
    local verp to f g
    verp=$(bx_verp ann@example.com)
    f=$(bx_dsn ann@example.com 5.1.1 "550 5.1.1 <ann@example.com>: User unknown")
    bx_inject "$f" "$verp"
    bx_ingested 1
    delivered_ok "$verp"
    bx_summary_is "$(bx_last_summary)" ingested=1 hard=1
    to=$(bx_unsub cid@example.com)
    g=$(bx_unsub_mail cid@example.com)
    bx_inject "$g" "$to" cid@example.com
    bx_ingested 2
    delivered_ok "$to"
    bx_summary_is "$(bx_last_summary)" ingested=1 unsubscribe=1
    assert_eq "$(tr '\n' ' ' <"$BX_DIR/ingest.rc")" "0 0 " "exit statuses of the command"
    assert_eq "$(status_of ann@example.com)" bounced "status of ann"
    assert_eq "$(ledger_of ann@example.com)" "bounced|hard" "ledger row of ann"
    assert_eq "$(status_of cid@example.com)" unsubscribed "status of cid"
    untouched ben@example.com
}

@test "bounces postfix: the whole loop - a campaign sent through Postfix, whose next hop refuses one recipient (550 5.1.1 at RCPT), makes Postfix's own DSN to that recipient's VERP address and pipes it to ingest: bounced/hard in that campaign" {
    bx_pf_pipe
    # dora joins the list; her copy goes to the scripted relay
    # (smtp_server.py), which refuses a local part "unknown..." with
    # 550 5.1.1 at RCPT as Postfix's smtpd words it: Postfix accepted the
    # message from campaign, so Postfix bounces it, with a DSN of its own
    # (bounce(8)) to the envelope sender
    local dora=unknown.dora@example.com
    list_of "${BX_PEOPLE[@]}" "$dora"
    serve --mode plain
    "$PF_POSTCONF" -c "$PF_CONF" -e \
        "transport_maps = inline:{ { $BX_DOMAIN = campaign: }, { $dora = smtp:[127.0.0.1]:$SRV_PORT } }"
    pf_reload
    bx_give
    # the relay is the private Postfix now; a second campaign, "loop"
    sed -i "s/^port = .*/port = $PF_PORT/" "$BX_CONF"
    crun 0 --templates "$TEMPLATES" send --template promo --list news --campaign loop
    assert_eq "$(q "SELECT count(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id
        WHERE c.name = 'loop' AND s.state = 'sent';")" 4 "loop rows sent (Postfix took all four)"
    bx_ingested 1
    assert_eq "$(cat "$BX_DIR/ingest.rc")" 0 "exit status of the command"
    grep -qE "postfix/smtp\[[0-9]+\]: [0-9A-F]+: to=<$(bx_re "$dora")>.* status=bounced \(host 127.0.0.1\[127.0.0.1\] said: 550 5.1.1 " "$PF_LOG" ||
        fail "Postfix did not bounce dora's copy"
    grep -qE 'postfix/pipe\[[0-9]+\]: [0-9A-F]+: to=<bounces\+[A-Za-z0-9_-]+@bounces\.acme\.example>.* status=sent \(delivered via campaign service\)' "$PF_LOG" ||
        fail "Postfix's DSN did not reach the command"
    bx_summary_is "$(bx_last_summary)" ingested=1 hard=1 unmatched=0
    assert_eq "$(status_of "$dora")" bounced "status of dora"
    assert_eq "$(q "SELECT c.name || '|' || s.state || '|' || coalesce(s.bounce_class, '')
        FROM sends s JOIN campaigns c ON c.id = s.campaign_id
        JOIN contacts p ON p.id = s.contact_id
        WHERE p.email = $(sqlstr "$dora");")" "loop|bounced|hard" "dora's ledger row"
    assert_eq "$(bx_events bounce "$dora")" 1 "bounce events of dora"
    assert_eq "$(bx_events bounce)" 1 "bounce events"
    local a
    for a in "${BX_PEOPLE[@]}"; do
        assert_eq "$(status_of "$a")" active "status of $a"
    done
}
