#!/usr/bin/env bats
# Issue 9: a relay's "no" to the sender is never the recipients' fault -
# against a real Postfix (the installed package, a private instance on
# loopback, see postfix_lib.bash) that relays what it accepts to
# smtp-sink.  Postfix's own restrictions refuse our HELO name or our
# envelope sender: campaign bounces and suppresses nobody, leaves every
# row queued with no attempt counted, stops with Postfix's reply and exits
# 78 (our configuration); once Postfix is satisfied a rerun delivers
# everyone exactly once.  Refusals that are the recipients' fault (User
# unknown) bounce and suppress exactly those recipients.

# crun sets stderr (bats run --separate-stderr)
# shellcheck disable=SC2154
load lib
load send_lib
load postfix_lib

setup() {
    campaign_setup
}

teardown() {
    pf_teardown
}

# list_20 - user01..user20@example.com imported as list "news".
list_20() {
    # shellcheck disable=SC2046
    list_of $(addrs 20)
}

# nobody_blamed REPLY - after a refusal of us: all 20 queued, no
# attempt, no suppression, every contact active, nothing reached
# Postfix's queue or the sink; campaign said so with Postfix's REPLY,
# and contacts show gives it as the reason the person was not mailed.
nobody_blamed() {
    assert_contains "$stderr" "$1"
    assert_eq "$(states)" "queued 20" "ledger after the refusal"
    assert_eq "$(q "SELECT sum(attempts) FROM sends;")" 0 "attempts counted"
    assert_eq "$(count suppressions)" 0 "suppressions"
    assert_eq "$(q "SELECT count(*) FROM contacts WHERE status <> 'active';")" 0 "contacts not active"
    assert_contains "$stderr" "nobody was bounced or suppressed"
    assert_contains "$output" "bounced 0"
    pf_queue_empty || fail "Postfix queued mail:" "$("$PF_POSTQUEUE" -c "$PF_CONF" -p 2>&1)"
    assert_eq "$(received | wc -l)" 0 "copies at the sink"
    crun 0 contacts show user01@example.com
    assert_contains "$output" "promo: queued"
    assert_contains "$output" "$1"
}

# everyone_once N - the rerun's N sent rows reached the sink through
# Postfix, exactly one copy each, with the ledger's Message-IDs.
everyone_once() {
    pf_delivered "$1"
    check_delivery
    assert_eq "$output" "rows 20, sent $1, messages $1, recipients with copies $1, duplicates 0"
}

@test "send postfix: Postfix refusing HELO vm (reject_non_fqdn_helo_hostname) is our configuration (78), bounces nobody; the default EHLO name gets everyone one copy" {
    pf_require
    list_20
    pf_start "smtpd_helo_required = yes" \
        "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname"
    pf_conf "$PF_PORT" "helo = vm"
    send_status 78
    assert_contains "$stderr" "set helo in [relay]"
    nobody_blamed "504 5.5.2 <vm>: Helo command rejected: need fully-qualified hostname"
    # Postfix itself refused (smtpd_delay_reject: at RCPT)
    grep -q 'NOQUEUE: reject: RCPT from .*504 5.5.2 <vm>: Helo command rejected' "$PF_LOG" ||
        fail "no HELO reject in the Postfix log"
    # without helo: the host's FQDN or [127.0.0.1], which Postfix accepts
    pf_conf "$PF_PORT"
    send_status 0
    assert_eq "$(states)" "sent 20"
    assert_eq "$(count suppressions)" 0 "suppressions"
    everyone_once 20
}

@test "send postfix: Postfix refusing the VERP sender's domain (check_sender_access) bounces nobody (78); after the reload everyone gets one copy" {
    pf_require
    list_20
    pf_start "smtpd_sender_restrictions = check_sender_access inline:{ { b.example = REJECT sender domain refused } }"
    pf_conf "$PF_PORT"
    send_status 78
    assert_contains "$stderr" "bounce_domain"
    nobody_blamed "Sender address rejected: sender domain refused"
    grep -q 'NOQUEUE: reject: RCPT from .*<bounces+[^@>]*@b.example>: Sender address rejected: sender domain refused' "$PF_LOG" ||
        fail "no reject of the VERP sender in the Postfix log"
    pf_unset smtpd_sender_restrictions
    send_status 0
    assert_eq "$(states)" "sent 20"
    assert_eq "$(count suppressions)" 0 "suppressions"
    everyone_once 20
    # the envelope sender Postfix relayed is the VERP address
    assert_eq "$(grep -c 'qmgr\[[0-9]*\]: [0-9A-F]*: from=<bounces+[^@>]*@b.example>' "$PF_LOG")" 20 "messages from the VERP sender"
}

@test "send postfix: 'User unknown' from Postfix for 3 of 20 bounces and suppresses exactly those 3 (hard); the 17 others get one copy" {
    pf_require
    list_20
    local dead=(user04@example.com user11@example.com user17@example.com) d map=
    for d in "${dead[@]}"; do
        map="$map{ $d = 550 5.1.1 User unknown }, "
    done
    pf_start "smtpd_recipient_restrictions = check_recipient_access inline:{ ${map%, } }, permit_mynetworks, reject"
    pf_conf "$PF_PORT"
    send_status 0
    assert_contains "$output" "bounced 3"
    assert_eq "$(states)" "$(printf 'bounced 3\nsent 17')"
    for d in "${dead[@]}"; do
        assert_eq "$(state_of "$d")" bounced "state of $d"
        assert_eq "$(q "SELECT s.bounce_class, s.last_code, s.last_status FROM sends s
            JOIN contacts c ON c.id = s.contact_id WHERE c.email = $(sqlstr "$d");")" \
            "hard|550|5.1.1" "bounce of $d"
        assert_eq "$(copies "$d")" 0 "copies to $d"
    done
    assert_eq "$(q "SELECT email, reason FROM suppressions ORDER BY email;")" \
        "$(printf '%s|bounced\n' "${dead[@]}")" "suppressions"
    assert_eq "$(q "SELECT email, status FROM contacts WHERE status <> 'active' ORDER BY email;")" \
        "$(printf '%s|bounced\n' "${dead[@]}")" "contacts not active"
    assert_eq "$(grep -c 'NOQUEUE: reject: RCPT from .*550 5.1.1 <user[0-9]*@example.com>: Recipient address rejected: User unknown' "$PF_LOG")" 3 "rejects in the Postfix log"
    everyone_once 17
}
