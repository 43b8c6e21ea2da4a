#!/usr/bin/env bats
# Issue 14, tests: `campaign bounces ingest` against messages built from
# what smtp-sink really received from `campaign send` (real VERP and
# unsubscribe tokens, real Message-IDs): matching (token, returned
# Message-ID, address, nothing), the policy of each kind (hard, soft at
# the third, blocked, delayed, complaint, not-spam, auto-reply, mailed
# unsubscribe), idempotence, and the inputs (files, mbox, Maildir,
# standard input with the envelope recipient).  Every run goes through
# crun: the sanitizer build, and no sanitizer report.
#
# The messages are made by bounce_make.py (see its header).

load lib
load send_lib

MAKE="$BATS_TEST_DIRNAME/bounce_make.py"

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# bconf PORT [LINES...] - campaign.conf with a VERP bounce domain; LINES
# are added after [relay] (other sections may follow).
bconf() {
    local port=$1
    shift
    {
        printf '[sender]\nfrom = Acme News <news@acme.example>\n'
        printf 'bounce_domain = bounces.acme.example\n\n'
        printf '[relay]\nhost = 127.0.0.1\nport = %s\ntls = none\n' "$port"
        printf '%s\n' "$@"
    } >"$BATS_TEST_TMPDIR/campaign.conf"
    chmod 600 "$BATS_TEST_TMPDIR/campaign.conf"
}

# mailed ADDR... - these people in list news, sent the promo campaign
# through smtp-sink (dumps in $SINK_DUMP).
mailed() {
    list_of "$@"
    start_sink
    bconf "$SINK_PORT"
    send_status 0
    assert_eq "$(states)" "sent $#"
}

# again NAME - the same list sent again as campaign NAME; the copies of the
# first campaign move to $BATS_TEST_TMPDIR/dump.1 first, so that each
# dump directory holds one campaign.
again() {
    mv "$SINK_DUMP" "$BATS_TEST_TMPDIR/dump.1"
    mkdir "$SINK_DUMP"
    send_status 0 --campaign "$1"
}

# mk FILE KIND ARGS... - bounce_make.py KIND --dump $SINK_DUMP ARGS > FILE
mk() {
    local f=$1 kind=$2
    shift 2
    "$PY" "$MAKE" "$kind" --dump "$SINK_DUMP" "$@" >"$f" ||
        fail "bounce_make.py $kind $* failed"
}

# ingest N ARGS... - bounces ingest, exit status N
ingest() {
    local want=$1
    shift
    crun "$want" bounces ingest "$@"
}

# line H S B D C A U X Y K - the summary line of one ingest run
line() {
    local n=$((${1} + ${2} + ${3} + ${4} + ${5} + ${6} + ${7} + ${8} + ${9} + ${10}))
    local s=s
    [ "$n" -eq 1 ] && s=
    printf 'ingested %d message%s: hard %d, soft %d, blocked %d, delayed %d, complaint %d, auto_reply %d, unsubscribe %d, unmatched %d, duplicate %d, unknown %d' \
        "$n" "$s" "$@"
}

# row EMAIL [CAMPAIGN] - state|bounce_class|last_code|last_status of one
# ledger row
row() {
    q "SELECT s.state, s.bounce_class, s.last_code, s.last_status
         FROM sends s JOIN contacts c ON c.id = s.contact_id
         JOIN campaigns k ON k.id = s.campaign_id
        WHERE c.email = $(sqlstr "$1") AND k.name = $(sqlstr "${2:-promo}");"
}

# state_of_in EMAIL CAMPAIGN - one ledger row's state
state_of_in() {
    q "SELECT s.state FROM sends s JOIN contacts c ON c.id = s.contact_id
         JOIN campaigns k ON k.id = s.campaign_id
        WHERE c.email = $(sqlstr "$1") AND k.name = $(sqlstr "$2");"
}

# events_of EMAIL - kind|class|status|code|campaign per event, in order
events_of() {
    q "SELECT e.kind, e.class, e.status, e.code, k.name
         FROM events e JOIN contacts c ON c.id = e.contact_id
         JOIN campaigns k ON k.id = e.campaign_id
        WHERE c.email = $(sqlstr "$1") ORDER BY e.id;"
}

# supp EMAIL - the suppression reason of EMAIL ("" when none)
supp() {
    q "SELECT reason FROM suppressions WHERE email = $(sqlstr "$1");"
}

# snapshot FILE - everything ingest may change
snapshot() {
    q "SELECT campaign_id, contact_id, state, bounce_class, last_code, last_status, last_text FROM sends ORDER BY 1, 2;
       SELECT '--'; SELECT id, email, status FROM contacts ORDER BY id;
       SELECT '--'; SELECT email, reason, source FROM suppressions ORDER BY email;
       SELECT '--'; SELECT campaign_id, contact_id, kind, class, status, code, detail FROM events ORDER BY id;
       SELECT '--'; SELECT id, status, control, breaker FROM campaigns ORDER BY id;" >"$1"
}

# token_of ADDR - the token of a bounces+TOKEN@ / unsubscribe+TOKEN@ address
token_of() {
    local t=${1#*+}
    printf '%s' "${t%@*}"
}

@test "ingest: a DSN to the VERP address is a hard bounce: ledger, contact, suppression, event, report" {
    mailed ada@example.com bob@example.org
    mk "$BATS_TEST_TMPDIR/b.eml" dsn --rcpt bob@example.org
    ingest 0 "$BATS_TEST_TMPDIR/b.eml"
    assert_output "$(line 1 0 0 0 0 0 0 0 0 0)"
    assert_eq "$(row bob@example.org)" "bounced|hard|550|5.1.1"
    assert_eq "$(q "SELECT s.last_text FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email = 'bob@example.org';")" \
        "<bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table" "ledger text"
    assert_eq "$(status_of bob@example.org)" bounced
    assert_eq "$(supp bob@example.org)" bounced
    assert_eq "$(events_of bob@example.org)" "bounce|hard|5.1.1|550|promo"
    assert_eq "$(q "SELECT e.detail FROM events e JOIN contacts c ON c.id = e.contact_id WHERE c.email = 'bob@example.org';")" \
        "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table" "event detail"
    assert_eq "$(q "SELECT kind, outcome FROM inbound;")" "dsn|hard"
    # the other recipient is untouched
    assert_eq "$(row ada@example.com)" "sent||250|2.0.0"
    assert_eq "$(status_of ada@example.com)" active
    assert_eq "$(supp ada@example.com)" ""
    assert_eq "$(events_of ada@example.com)" ""
    # what the user sees
    crun 0 contacts show bob@example.org --format json
    assert_eq "$(json_get "$output" status)" bounced
    assert_eq "$(json_get "$output" campaigns 0 state)" bounced
    assert_eq "$(json_get "$output" suppression reason)" bounced
    crun 0 contacts show bob@example.org
    assert_contains "$output" "status:      bounced"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" bounced_hard)" 1
    assert_eq "$(json_get "$output" sent)" 1
    # the next send of another campaign to the list leaves bob out
    crun 0 --templates "$TEMPLATES" send --template promo --list news --campaign promo2
    assert_eq "$(state_of_in bob@example.org promo2)" skipped
    assert_eq "$(copies bob@example.org)" 1 "copies bob received"
    assert_eq "$(row ada@example.com promo2)" "sent||250|2.0.0"
}

@test "ingest: without tokens, the returned Message-ID picks the campaign it names (not the latest)" {
    mailed ada@example.com bob@example.org
    again promo2
    # a DSN of the FIRST campaign's copy, to the plain sender address,
    # its returned headers without Return-Path and List-Unsubscribe
    "$PY" "$MAKE" dsn --dump "$BATS_TEST_TMPDIR/dump.1" --rcpt bob@example.org \
        --to plain --strip >"$BATS_TEST_TMPDIR/b.eml"
    assert_not_contains "$(cat "$BATS_TEST_TMPDIR/b.eml")" "bounces+"
    assert_not_contains "$(cat "$BATS_TEST_TMPDIR/b.eml")" "unsubscribe+"
    crun 0 bounces parse --json "$BATS_TEST_TMPDIR/b.eml"
    assert_eq "$(json_get "$output" 0 token)" false
    ingest 0 "$BATS_TEST_TMPDIR/b.eml"
    assert_output "$(line 1 0 0 0 0 0 0 0 0 0)"
    assert_eq "$(row bob@example.org promo)" "bounced|hard|550|5.1.1"
    assert_eq "$(row bob@example.org promo2)" "sent||250|2.0.0"
    assert_eq "$(events_of bob@example.org)" "bounce|hard|5.1.1|550|promo"
    assert_eq "$(status_of bob@example.org)" bounced
}

@test "ingest: with neither token nor Message-ID, the address picks its latest campaign, unverified: an event, nothing acted on" {
    mailed ada@example.com bob@example.org
    again promo2
    mk "$BATS_TEST_TMPDIR/b.eml" dsn --rcpt bob@example.org --to plain --no-returned
    ingest 0 "$BATS_TEST_TMPDIR/b.eml"
    # anyone can write such a message: every message sent carries tokens
    assert_output "ingested 1 message: hard 0, soft 0, blocked 0, delayed 0, complaint 0, auto_reply 0, unsubscribe 0, unmatched 0, duplicate 0, unknown 0, unverified 1"
    assert_contains "$stderr" "matched by its address alone"
    assert_eq "$(row bob@example.org promo)" "sent||250|2.0.0"
    assert_eq "$(row bob@example.org promo2)" "sent||250|2.0.0"
    assert_eq "$(events_of bob@example.org)" "bounce|hard|5.1.1|550|promo2"
    assert_eq "$(q "SELECT machine, machine_reason FROM events;")" "1|unverified: matched by address only"
    assert_eq "$(status_of bob@example.org)" active
    assert_eq "$(supp bob@example.org)" ""
    # a forged complaint the same way: not complained, counts for no breaker
    mk "$BATS_TEST_TMPDIR/c.eml" arf --rcpt ada@example.com --to plain --no-returned
    ingest 0 "$BATS_TEST_TMPDIR/c.eml"
    assert_eq "$(status_of ada@example.com)" active
    crun 0 report promo2 --format json
    assert_eq "$(json_get "$output" complained)" 0
}

@test "ingest: a forged VERP token or a forged Message-ID matches nothing and changes nothing" {
    mailed ada@example.com bob@example.org
    snapshot "$BATS_TEST_TMPDIR/before"
    # one character of the token changed; the returned message carries a
    # Message-ID we never sent
    mk "$BATS_TEST_TMPDIR/f1.eml" dsn --rcpt bob@example.org --forge --strip \
        --message-id "<forged-1@acme.example>"
    crun 0 bounces parse --json "$BATS_TEST_TMPDIR/f1.eml"
    assert_eq "$(json_get "$output" 0 token)" true "the forged token is seen"
    # a forged unsubscribe token in the returned List-Unsubscribe only
    mk "$BATS_TEST_TMPDIR/f2.eml" dsn --rcpt bob@example.org --to plain \
        --message-id "<forged-2@acme.example>"
    sed -i 's/unsubscribe+\(.....\)./unsubscribe+\1Z/' "$BATS_TEST_TMPDIR/f2.eml"
    sed -i '/^Return-Path:/d' "$BATS_TEST_TMPDIR/f2.eml"
    ingest 0 "$BATS_TEST_TMPDIR/f1.eml" "$BATS_TEST_TMPDIR/f2.eml"
    assert_output "$(line 0 0 0 0 0 0 0 2 0 0)"
    assert_contains "$stderr" "matches nothing"
    snapshot "$BATS_TEST_TMPDIR/after"
    same_file "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
    # not even kept as read: once the cause is fixed, it may match
    assert_eq "$(count inbound)" 0 "unmatched messages are not kept in inbound"
}

@test "ingest: a forged VERP token is not rescued by the address the report names" {
    # the token is ours in form but does not check: the message is not
    # from a relay we sent to, whatever recipient it names
    mailed ada@example.com bob@example.org
    snapshot "$BATS_TEST_TMPDIR/before"
    mk "$BATS_TEST_TMPDIR/f.eml" dsn --rcpt bob@example.org --forge --no-returned
    ingest 0 "$BATS_TEST_TMPDIR/f.eml"
    assert_output "$(line 0 0 0 0 0 0 0 1 0 0)"
    snapshot "$BATS_TEST_TMPDIR/after"
    same_file "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
}

@test "ingest: a bounce for an address never mailed (a contact outside the list, or no contact) is unmatched" {
    mailed ada@example.com
    contacts "$BATS_TEST_TMPDIR/more.csv" carl@example.net
    crun 0 import "$BATS_TEST_TMPDIR/more.csv"
    snapshot "$BATS_TEST_TMPDIR/before"
    mk "$BATS_TEST_TMPDIR/c.eml" dsn --final carl@example.net --to plain --no-returned
    mk "$BATS_TEST_TMPDIR/z.eml" dsn --final zed@nowhere.example --to plain --no-returned
    ingest 0 "$BATS_TEST_TMPDIR/c.eml" "$BATS_TEST_TMPDIR/z.eml"
    assert_output "$(line 0 0 0 0 0 0 0 2 0 0)"
    snapshot "$BATS_TEST_TMPDIR/after"
    same_file "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
    assert_eq "$(status_of carl@example.net)" active
}

@test "ingest: the same message again is a duplicate and changes nothing (by Message-ID, and by body without one)" {
    mailed ada@example.com bob@example.org
    mk "$BATS_TEST_TMPDIR/s1.eml" dsn --rcpt bob@example.org --status 4.2.2 \
        --diag "smtp; 452 4.2.2 <bob@example.org>: Mailbox full"
    ingest 0 "$BATS_TEST_TMPDIR/s1.eml"
    assert_output "$(line 0 1 0 0 0 0 0 0 0 0)"
    snapshot "$BATS_TEST_TMPDIR/once"
    # the same file again, and twice in one run
    ingest 0 "$BATS_TEST_TMPDIR/s1.eml" "$BATS_TEST_TMPDIR/s1.eml"
    assert_output "$(line 0 0 0 0 0 0 0 0 2 0)"
    snapshot "$BATS_TEST_TMPDIR/twice"
    same_file "$BATS_TEST_TMPDIR/once" "$BATS_TEST_TMPDIR/twice"
    assert_eq "$(events_of bob@example.org)" "bounce|soft|4.2.2|452|promo"
    # a message without a Message-ID of its own is known by its body:
    # another relay's Received line on top does not make it new
    mk "$BATS_TEST_TMPDIR/n1.eml" dsn --rcpt bob@example.org --id none --status 4.2.2 \
        --diag "smtp; 452 4.2.2 <bob@example.org>: Mailbox full (2)"
    { printf 'Received: from mx2.example.net by mx.example.net; Thu, 3 Dec 2026 12:00:01 +0000\n'
      cat "$BATS_TEST_TMPDIR/n1.eml"; } >"$BATS_TEST_TMPDIR/n2.eml"
    ingest 0 "$BATS_TEST_TMPDIR/n1.eml" "$BATS_TEST_TMPDIR/n2.eml"
    assert_output "$(line 0 1 0 0 0 0 0 0 1 0)"
    assert_eq "$(count events)" 2
    assert_eq "$(count inbound)" 2
}

@test "ingest: soft bounces suppress only at the third within soft_days, one a campaign, counted across campaigns" {
    mailed ada@example.com bob@example.org
    mk "$BATS_TEST_TMPDIR/s1.eml" dsn --rcpt bob@example.org --status 4.2.2 \
        --diag "smtp; 452 4.2.2 <bob@example.org>: Mailbox full (1)"
    ingest 0 "$BATS_TEST_TMPDIR/s1.eml"
    assert_output "$(line 0 1 0 0 0 0 0 0 0 0)"
    assert_eq "$(row bob@example.org)" "bounced|soft|452|4.2.2"
    assert_eq "$(status_of bob@example.org)" active
    assert_eq "$(supp bob@example.org)" ""
    # a second DSN for the same message is not a second bounce
    mk "$BATS_TEST_TMPDIR/s1b.eml" dsn --rcpt bob@example.org --status 4.2.2 \
        --diag "smtp; 452 4.2.2 <bob@example.org>: Mailbox full (1b)"
    mk "$BATS_TEST_TMPDIR/s1c.eml" dsn --rcpt bob@example.org --status 4.2.2 \
        --diag "smtp; 452 4.2.2 <bob@example.org>: Mailbox full (1c)"
    ingest 0 "$BATS_TEST_TMPDIR/s1b.eml" "$BATS_TEST_TMPDIR/s1c.eml"
    assert_eq "$(status_of bob@example.org)" active "three DSNs of one message are one soft bounce"
    again promo2
    mk "$BATS_TEST_TMPDIR/s2.eml" dsn --rcpt bob@example.org --status 4.2.2 \
        --diag "smtp; 452 4.2.2 <bob@example.org>: Mailbox full (2)"
    ingest 0 "$BATS_TEST_TMPDIR/s2.eml"
    assert_eq "$(status_of bob@example.org)" active
    assert_eq "$(supp bob@example.org)" ""
    rm -rf "$BATS_TEST_TMPDIR/dump.1"
    again promo3
    mk "$BATS_TEST_TMPDIR/s3.eml" dsn --rcpt bob@example.org --status 4.2.2 \
        --diag "smtp; 452 4.2.2 <bob@example.org>: Mailbox full (3)"
    ingest 0 "$BATS_TEST_TMPDIR/s3.eml"
    assert_output "$(line 0 1 0 0 0 0 0 0 0 0)"
    assert_eq "$(status_of bob@example.org)" bounced "the third campaign's soft bounce"
    assert_eq "$(supp bob@example.org)" bounced
    assert_eq "$(events_of bob@example.org | sort -u | cut -d'|' -f5 | tr '\n' ' ')" "promo promo2 promo3 "
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" bounced_soft)" 1
    assert_eq "$(json_get "$output" bounced_hard)" 0
    assert_eq "$(status_of ada@example.com)" active
}

@test "ingest: soft_limit and soft_days come from [bounces]" {
    mailed bob@example.org
    bconf "$SINK_PORT" "" "[bounces]" "soft_limit = 2"
    mk "$BATS_TEST_TMPDIR/s1.eml" dsn --rcpt bob@example.org --status 4.2.2 --diag "smtp; 452 4.2.2 full (1)"
    ingest 0 "$BATS_TEST_TMPDIR/s1.eml"
    assert_eq "$(status_of bob@example.org)" active
    # an old soft bounce (40 days ago) is outside the 30-day window
    q "UPDATE events SET at_ms = at_ms - 40 * 86400000; UPDATE sends SET done_at = done_at - 40 * 86400;"
    again promo2
    mk "$BATS_TEST_TMPDIR/s2.eml" dsn --rcpt bob@example.org --status 4.2.2 --diag "smtp; 452 4.2.2 full (2)"
    ingest 0 "$BATS_TEST_TMPDIR/s2.eml"
    assert_eq "$(status_of bob@example.org)" active
    rm -rf "$BATS_TEST_TMPDIR/dump.1"
    again promo3
    mk "$BATS_TEST_TMPDIR/s3.eml" dsn --rcpt bob@example.org --status 4.2.2 --diag "smtp; 452 4.2.2 full (3)"
    ingest 0 "$BATS_TEST_TMPDIR/s3.eml"
    assert_eq "$(status_of bob@example.org)" bounced
}

@test "ingest: blocked is recorded and counted, the contact stays active and unsuppressed" {
    mailed ada@example.com bob@example.org
    mk "$BATS_TEST_TMPDIR/b.eml" dsn --rcpt bob@example.org --status 5.7.1 \
        --diag "smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"
    ingest 0 "$BATS_TEST_TMPDIR/b.eml"
    assert_output "$(line 0 0 1 0 0 0 0 0 0 0)"
    assert_eq "$(row bob@example.org)" "bounced|blocked|554|5.7.1"
    assert_eq "$(status_of bob@example.org)" active
    assert_eq "$(supp bob@example.org)" ""
    assert_eq "$(events_of bob@example.org)" "bounce|blocked|5.7.1|554|promo"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" blocked)" 1
    assert_eq "$(json_get "$output" bounced_hard)" 0
    # still mailed by the next campaign
    crun 0 --templates "$TEMPLATES" send --template promo --list news --campaign promo2
    assert_eq "$(row bob@example.org promo2)" "sent||250|2.0.0"
}

@test "ingest: a delayed DSN is an event only: the ledger row stays sent" {
    mailed ada@example.com bob@example.org
    mk "$BATS_TEST_TMPDIR/d.eml" dsn --rcpt bob@example.org --action delayed --status 4.4.1 \
        --diag "smtp; 451 4.4.1 connection timed out"
    ingest 0 "$BATS_TEST_TMPDIR/d.eml"
    assert_output "$(line 0 0 0 1 0 0 0 0 0 0)"
    assert_eq "$(row bob@example.org)" "sent||250|2.0.0"
    assert_eq "$(status_of bob@example.org)" active
    assert_eq "$(supp bob@example.org)" ""
    assert_eq "$(events_of bob@example.org)" "delayed||4.4.1|451|promo"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" delayed)" 1
    assert_eq "$(json_get "$output" sent)" 2
    assert_eq "$(json_get "$output" bounced_soft)" 0
}

@test "ingest: an ARF abuse report makes the contact complained; not-spam records nothing" {
    mailed ada@example.com bob@example.org
    mk "$BATS_TEST_TMPDIR/ns.eml" arf --rcpt ada@example.com --type not-spam
    snapshot "$BATS_TEST_TMPDIR/before"
    ingest 0 "$BATS_TEST_TMPDIR/ns.eml"
    assert_output "$(line 0 0 0 0 0 0 0 0 0 1)"
    snapshot "$BATS_TEST_TMPDIR/after"
    same_file "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
    mk "$BATS_TEST_TMPDIR/a.eml" arf --rcpt bob@example.org --type abuse
    ingest 0 "$BATS_TEST_TMPDIR/a.eml"
    assert_output "$(line 0 0 0 0 1 0 0 0 0 0)"
    assert_eq "$(status_of bob@example.org)" complained
    assert_eq "$(supp bob@example.org)" complained
    assert_eq "$(events_of bob@example.org)" "complaint|abuse|||promo"
    assert_eq "$(row bob@example.org)" "sent||250|2.0.0"
    assert_eq "$(status_of ada@example.com)" active
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" complained)" 1
    crun 0 contacts show bob@example.org --format json
    assert_eq "$(json_get "$output" status)" complained
}

@test "ingest: an auto-reply is an event only" {
    mailed ada@example.com bob@example.org
    mk "$BATS_TEST_TMPDIR/o.eml" auto --rcpt bob@example.org
    ingest 0 "$BATS_TEST_TMPDIR/o.eml"
    assert_output "$(line 0 0 0 0 0 1 0 0 0 0)"
    assert_eq "$(events_of bob@example.org)" "auto_reply||||promo"
    assert_eq "$(row bob@example.org)" "sent||250|2.0.0"
    assert_eq "$(status_of bob@example.org)" active
    assert_eq "$(supp bob@example.org)" ""
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" auto_replies)" 1
}

@test "ingest: a mail to the List-Unsubscribe mailto unsubscribes; a forged token or a From alone does nothing" {
    mailed ada@example.com bob@example.org
    snapshot "$BATS_TEST_TMPDIR/before"
    # bob's token with one character changed, and a token-less mail from
    # bob to the bare unsubscribe address
    mk "$BATS_TEST_TMPDIR/f.eml" unsub --rcpt bob@example.org --forge
    mk "$BATS_TEST_TMPDIR/p.eml" unsub --rcpt bob@example.org --to unsubscribe@bounces.acme.example
    ingest 0 "$BATS_TEST_TMPDIR/f.eml" "$BATS_TEST_TMPDIR/p.eml"
    # the forged one matches nothing (not even unverified, by its From);
    # the token-less one is no unsubscribe at all
    assert_output "$(line 0 0 0 0 0 0 0 1 0 1)"
    assert_eq "$(status_of bob@example.org)" active
    snapshot "$BATS_TEST_TMPDIR/after"
    same_file "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
    assert_eq "$(q "SELECT count(*) FROM inbound WHERE outcome = 'unsubscribe';")" 0
    # bob's real token, sent from ada's address: the token says who
    mk "$BATS_TEST_TMPDIR/u.eml" unsub --rcpt bob@example.org --final ada@example.com
    ingest 0 "$BATS_TEST_TMPDIR/u.eml"
    assert_output "$(line 0 0 0 0 0 0 1 0 0 0)"
    assert_eq "$(status_of bob@example.org)" unsubscribed
    assert_eq "$(supp bob@example.org)" unsubscribed
    assert_eq "$(events_of bob@example.org)" "unsubscribe|mail|||promo"
    assert_eq "$(status_of ada@example.com)" active
    assert_eq "$(supp ada@example.com)" ""
}

@test "ingest: an import never lifts what ingest suppressed" {
    mailed ada@example.com bob@example.org carl@example.net dan@example.net
    mk "$BATS_TEST_TMPDIR/1.eml" dsn --rcpt ada@example.com
    mk "$BATS_TEST_TMPDIR/2.eml" arf --rcpt bob@example.org
    mk "$BATS_TEST_TMPDIR/3.eml" unsub --rcpt carl@example.net
    ingest 0 "$BATS_TEST_TMPDIR/1.eml" "$BATS_TEST_TMPDIR/2.eml" "$BATS_TEST_TMPDIR/3.eml"
    assert_output "$(line 1 0 0 0 1 0 1 0 0 0)"
    # the same people in a new export, one in another spelling
    printf 'email,first_name,status\nADA@Example.COM,Ada,subscribed\nbob@example.org,Bob,subscribed\ncarl@example.net,Carl,subscribed\ndan@example.net,Dan,subscribed\n' \
        >"$BATS_TEST_TMPDIR/again.csv"
    crun 0 import "$BATS_TEST_TMPDIR/again.csv" --list news
    assert_eq "$(status_of ada@example.com)" bounced
    assert_eq "$(status_of bob@example.org)" complained
    assert_eq "$(status_of carl@example.net)" unsubscribed
    assert_eq "$(status_of dan@example.net)" active
    crun 0 --templates "$TEMPLATES" send --template promo --list news --campaign promo2
    assert_eq "$(q "SELECT c.email || ' ' || s.state FROM sends s JOIN contacts c ON c.id = s.contact_id JOIN campaigns k ON k.id = s.campaign_id WHERE k.name = 'promo2' ORDER BY c.email;")" \
        "$(printf '%s\n' 'ada@example.com skipped' 'bob@example.org skipped' 'carl@example.net skipped' 'dan@example.net sent')"
    assert_eq "$(copies ada@example.com)" 1 "copies ada received (promo only)"
}

@test "ingest --mbox: several messages, mboxrd >From lines unescaped" {
    mailed ada@example.com bob@example.org carl@example.net
    mk "$BATS_TEST_TMPDIR/1.eml" dsn --rcpt ada@example.com
    mk "$BATS_TEST_TMPDIR/2.eml" arf --rcpt bob@example.org
    # no Message-ID of its own: its identity is its body, which has a line
    # starting "From " and one starting ">From "
    mk "$BATS_TEST_TMPDIR/3.eml" auto --rcpt carl@example.net --id none \
        --body 'From the office: back on Monday.\n>From the desk too.'
    "$PY" - "$BATS_TEST_TMPDIR/box.mbox" "$BATS_TEST_TMPDIR"/[123].eml <<'EOF'
import re, sys
out = open(sys.argv[1], "w")
for i, p in enumerate(sys.argv[2:]):
    body = open(p).read()
    # mboxrd: every (>*)From line gains one ">"
    body = re.sub(r"(?m)^(>*From )", r">\1", body)
    if i:
        out.write("\n")
    out.write("From MAILER-DAEMON Thu Dec  3 12:00:0%d 2026\n" % i)
    out.write(body.rstrip("\n") + "\n")
EOF
    grep -q '^>From the office' "$BATS_TEST_TMPDIR/box.mbox"
    grep -q '^>>From the desk' "$BATS_TEST_TMPDIR/box.mbox"
    ingest 0 --mbox "$BATS_TEST_TMPDIR/box.mbox"
    assert_output "$(line 1 0 0 0 1 1 0 0 0 0)"
    assert_eq "$(status_of ada@example.com)" bounced
    assert_eq "$(status_of bob@example.org)" complained
    assert_eq "$(events_of carl@example.net)" "auto_reply||||promo"
    # the third message was read with its lines unescaped: the file itself
    # is the same message (same body), so a duplicate
    ingest 0 "$BATS_TEST_TMPDIR/3.eml"
    assert_output "$(line 0 0 0 0 0 0 0 0 1 0)"
    # the whole mbox again: all duplicates
    ingest 0 --mbox "$BATS_TEST_TMPDIR/box.mbox"
    assert_output "$(line 0 0 0 0 0 0 0 0 3 0)"
    # a file that is not an mbox
    ingest 65 --mbox "$BATS_TEST_TMPDIR/1.eml"
    assert_contains "$stderr" "not an mbox"
}

@test "ingest --maildir: new/ and cur/ are read, tmp/ is not" {
    mailed ada@example.com bob@example.org carl@example.net
    local md="$BATS_TEST_TMPDIR/Maildir"
    mkdir -p "$md/new" "$md/cur" "$md/tmp"
    mk "$md/new/1764763200.M1P1.mx" dsn --rcpt ada@example.com
    mk "$md/cur/1764763201.M2P1.mx:2,S" auto --rcpt bob@example.org
    # being delivered: not a message yet
    mk "$md/tmp/1764763202.M3P1.mx" arf --rcpt carl@example.net
    ingest 0 --maildir "$md"
    assert_output "$(line 1 0 0 0 0 1 0 0 0 0)"
    assert_eq "$(status_of ada@example.com)" bounced
    assert_eq "$(events_of bob@example.org)" "auto_reply||||promo"
    assert_eq "$(status_of carl@example.net)" active
    ingest 66 --maildir "$BATS_TEST_TMPDIR/no-such-dir"
}

@test "ingest from standard input: the envelope recipient from --rcpt, \$ORIGINAL_RECIPIENT or \$RECIPIENT" {
    mailed ada@example.com bob@example.org carl@example.net
    local verp_a verp_b verp_c
    verp_a=$("$PY" "$MAKE" index "$SINK_DUMP" | awk -F'\t' '$1 == "ada@example.com" { print $2 }')
    verp_b=$("$PY" "$MAKE" index "$SINK_DUMP" | awk -F'\t' '$1 == "bob@example.org" { print $2 }')
    verp_c=$("$PY" "$MAKE" index "$SINK_DUMP" | awk -F'\t' '$1 == "carl@example.net" { print $2 }')
    [ -n "$verp_a" ] && [ -n "$verp_b" ] && [ -n "$verp_c" ] || fail "no VERP addresses in the dumps"
    # the mail was forwarded: the failing address is one we never mailed,
    # the headers carry no token: only the envelope says whose it was
    local i
    for i in 1 2 3 4; do
        "$PY" "$MAKE" dsn --final "fwd$i@elsewhere.example" --to plain --no-returned \
            >"$BATS_TEST_TMPDIR/s$i.eml"
    done
    ingest 0 <"$BATS_TEST_TMPDIR/s1.eml"
    assert_output "$(line 0 0 0 0 0 0 0 1 0 0)"
    ingest 0 --rcpt "$verp_a" <"$BATS_TEST_TMPDIR/s2.eml"
    assert_output "$(line 1 0 0 0 0 0 0 0 0 0)"
    assert_eq "$(status_of ada@example.com)" bounced
    ORIGINAL_RECIPIENT=$verp_b RECIPIENT=nobody@bounces.acme.example ingest 0 <"$BATS_TEST_TMPDIR/s3.eml"
    assert_output "$(line 1 0 0 0 0 0 0 0 0 0)"
    assert_eq "$(status_of bob@example.org)" bounced
    RECIPIENT=$verp_c ingest 0 <"$BATS_TEST_TMPDIR/s4.eml"
    assert_output "$(line 1 0 0 0 0 0 0 0 0 0)"
    assert_eq "$(status_of carl@example.net)" bounced
    assert_eq "$(events_of carl@example.net)" "bounce|hard|5.1.1|550|promo"
}

@test "ingest: a missing file exits 66 and records nothing" {
    mailed ada@example.com
    snapshot "$BATS_TEST_TMPDIR/before"
    ingest 66 "$BATS_TEST_TMPDIR/no-such.eml"
    assert_contains "$stderr" "no-such.eml"
    ingest 66 --mbox "$BATS_TEST_TMPDIR/no-such.mbox"
    snapshot "$BATS_TEST_TMPDIR/after"
    same_file "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
    assert_eq "$(count inbound)" 0
}

@test "ingest: a complaint or a mailed unsubscribe after a bounce is the person's word: suppress lift --reason bounced cannot undo it" {
    # README, suppress lift: "An unsubscribe or a complaint is the
    # person's own word and is never lifted"
    mailed ada@example.com bob@example.org carl@example.net
    mk "$BATS_TEST_TMPDIR/h.eml" dsn --rcpt ada@example.com
    mk "$BATS_TEST_TMPDIR/c.eml" arf --rcpt ada@example.com
    local i
    for i in 1 2 3; do
        mk "$BATS_TEST_TMPDIR/s$i.eml" dsn --rcpt bob@example.org --status 4.2.2 \
            --diag "smtp; 452 4.2.2 Mailbox full ($i)"
    done
    mk "$BATS_TEST_TMPDIR/u.eml" unsub --rcpt bob@example.org
    ingest 0 "$BATS_TEST_TMPDIR/h.eml" "$BATS_TEST_TMPDIR/c.eml" \
        "$BATS_TEST_TMPDIR"/s{1,2,3}.eml "$BATS_TEST_TMPDIR/u.eml"
    assert_output "$(line 1 3 0 0 1 0 1 0 0 0)"
    assert_eq "$(events_of ada@example.com | cut -d'|' -f1)" "$(printf 'bounce\ncomplaint')"
    run --separate-stderr camp suppress lift ada@example.com --reason bounced
    no_sanitizer_report
    [ "$status" -ne 0 ] || fail "the bounce of a person who complained was lifted: $stderr"
    run --separate-stderr camp suppress lift bob@example.org --reason bounced
    no_sanitizer_report
    [ "$status" -ne 0 ] || fail "the bounce of a person who unsubscribed was lifted: $stderr"
    assert_eq "$(status_of ada@example.com)" complained
    assert_eq "$(status_of bob@example.org)" unsubscribed
    crun 0 --templates "$TEMPLATES" send --template promo --list news --campaign promo2
    assert_eq "$(copies ada@example.com)" 1 "copies ada received"
    assert_eq "$(copies bob@example.org)" 1 "copies bob received"
}

@test "ingest: two people's unsubscribe mails without a Message-ID and with the same body are two unsubscribes, not a duplicate" {
    # A mail client answering a List-Unsubscribe mailto writes the same
    # body ("unsubscribe") for everybody; the relay that took it need not
    # add a Message-ID.  Only the address it came to differs: the token.
    mailed ada@example.com bob@example.org
    mk "$BATS_TEST_TMPDIR/ua.eml" unsub --rcpt ada@example.com --id none
    mk "$BATS_TEST_TMPDIR/ub.eml" unsub --rcpt bob@example.org --id none
    ingest 0 "$BATS_TEST_TMPDIR/ua.eml" "$BATS_TEST_TMPDIR/ub.eml"
    assert_output "$(line 0 0 0 0 0 0 2 0 0 0)"
    assert_eq "$(status_of ada@example.com)" unsubscribed
    assert_eq "$(status_of bob@example.org)" unsubscribed
    # and the very same mail again is still a duplicate
    ingest 0 "$BATS_TEST_TMPDIR/ub.eml"
    assert_output "$(line 0 0 0 0 0 0 0 0 1 0)"
}

@test "ingest: without the tracking secret, tokens are not checked and Message-ID and address still match (no sanitizer report)" {
    mailed ada@example.com bob@example.org
    mk "$BATS_TEST_TMPDIR/b.eml" dsn --rcpt bob@example.org
    mk "$BATS_TEST_TMPDIR/u.eml" unsub --rcpt ada@example.com
    mv "$DB.secret" "$BATS_TEST_TMPDIR/secret.saved"
    ingest 0 "$BATS_TEST_TMPDIR/b.eml" "$BATS_TEST_TMPDIR/u.eml"
    assert_output "$(line 1 0 0 0 0 0 0 1 0 0)"
    assert_contains "$stderr" "no tracking secret"
    assert_eq "$(row bob@example.org)" "bounced|hard|550|5.1.1"
    # a mailed unsubscribe counts only with a token that checks
    assert_eq "$(status_of ada@example.com)" active
}

@test "ingest: a message that matched nothing can be ingested again once it can match (the tracking secret restored)" {
    # "matches nothing -> unmatched, nothing recorded": an unsubscribe read
    # while the secret was missing must not be lost for good
    mailed ada@example.com bob@example.org
    mk "$BATS_TEST_TMPDIR/u.eml" unsub --rcpt bob@example.org
    mv "$DB.secret" "$BATS_TEST_TMPDIR/secret.saved"
    ingest 0 "$BATS_TEST_TMPDIR/u.eml"
    assert_output "$(line 0 0 0 0 0 0 0 1 0 0)"
    assert_contains "$stderr" "no tracking secret"
    assert_eq "$(status_of bob@example.org)" active
    mv "$BATS_TEST_TMPDIR/secret.saved" "$DB.secret"
    ingest 0 "$BATS_TEST_TMPDIR/u.eml"
    assert_output "$(line 0 0 0 0 0 0 1 0 0 0)"
    assert_eq "$(status_of bob@example.org)" unsubscribed
}

@test "ingest: reports with an empty part (an empty text/plain, an empty feedback-report) are read without a sanitizer report" {
    mailed ada@example.com
    printf '%s\n' 'Message-ID: <e1@isp.example.net>' 'From: fbl@isp.example.net' \
        'To: news@acme.example' 'Subject: complaint' 'MIME-Version: 1.0' \
        'Content-Type: multipart/report; report-type=feedback-report; boundary="A1"' '' \
        '--A1' 'Content-Type: text/plain' '' 'abuse report' \
        '--A1' 'Content-Type: message/feedback-report' '' '--A1--' >"$BATS_TEST_TMPDIR/e1.eml"
    printf '%s\n' 'Message-ID: <e2@mx.example.net>' 'From: MAILER-DAEMON@mx.example.net' \
        'To: news@acme.example' 'Subject: Undelivered Mail Returned to Sender' 'MIME-Version: 1.0' \
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"' '' \
        '--B1' 'Content-Type: text/plain' '' \
        '--B1' 'Content-Type: message/delivery-status' '' \
        'Reporting-MTA: dns; mx.example.net' '' \
        'Final-Recipient: rfc822; ada@example.com' 'Action: failed' 'Status: 5.1.1' '' '--B1--' \
        >"$BATS_TEST_TMPDIR/e2.eml"
    crun 0 bounces parse "$BATS_TEST_TMPDIR/e1.eml" "$BATS_TEST_TMPDIR/e2.eml"
    ingest 0 "$BATS_TEST_TMPDIR/e1.eml" "$BATS_TEST_TMPDIR/e2.eml"
    # no token, no Message-ID: the DSN matches ada by address, unverified
    assert_contains "$output" "ingested 2 messages: hard 0,"
    assert_contains "$output" "unmatched 1, duplicate 0, unknown 0, unverified 1"
    assert_eq "$(status_of ada@example.com)" active
}
