#!/usr/bin/env bats
# Issue 11: after `kill -9`, only what was really in flight is uncertain.
# The relay loop keeps a crash journal beside the database
# (engine/journal.h: DB.campaign-ID.journal); the next run, or a cancel,
# reads it back before it recovers the ledger.
#
# The scripted relay (smtp_server.py) stores a message to a `dotwait`
# recipient and holds back the reply to its dot: the send is killed while
# that one message is out with no reply read.  Everyone before it was
# delivered (their 250s read), everyone after it was claimed but never
# handed out.  See send_crash.bats for kills at random instants.

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# held_kill - 40 recipients, the 5th a dotwait one; a send over one
# connection killed -9 once the relay holds that message's reply.  All
# 40 are claimed in one batch; the connection holds at most 16 of them
# (SMTP_PIPELINE_MAX), so some were handed out and some never were.
held_kill() {
    local a=() i
    for ((i = 6; i <= 40; i++)); do a+=("$(printf 'u%02d@example.com' "$i")"); done
    list_of u01@example.com u02@example.com u03@example.com u04@example.com \
        dotwait@example.com "${a[@]}"
    serve --pipelining --mode plain
    write_conf "$SRV_PORT" ""
    "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" send --template promo \
        --list news --concurrency 1 \
        >"$BATS_TEST_TMPDIR/send.out" 2>"$BATS_TEST_TMPDIR/send.err" &
    SEND_PID=$!
    track_pid "$SEND_PID"
    wait_for 20 grep -q "^hold dot dotwait@example.com" "$SRV_EVENTS" ||
        fail "the relay never held the dot" "$(cat "$SRV_EVENTS")" "$(cat "$BATS_TEST_TMPDIR/send.err")"
    kill -9 "$SEND_PID"
    reap "$SEND_PID" 10 || fail "the killed send is still there"
    [ "$REAPED" -eq 137 ] || fail "the send exited $REAPED before the kill"
    JOURNAL="$DB.campaign-$(q "SELECT id FROM campaigns WHERE name = 'promo';").journal"
    [ -f "$JOURNAL" ] || fail "no crash journal at $JOURNAL"
    # the ledger alone cannot tell: rows are still claimed
    [ "$(count sends "state = 'sending'")" -gt 1 ] || fail "nothing left claimed: the kill came too late"
}

@test "send journal: killed while one message's reply is held - only that recipient is uncertain; the delivered are sent, the rest queued; nobody missing, one duplicate with the same Message-ID" {
    held_kill
    send_status 0
    assert_contains "$output" "campaign done"
    assert_contains "$stderr" "its crash journal says"
    assert_contains "$stderr" "and 1 went out with no reply read"
    integrity
    assert_eq "$(states)" "sent 40"
    # only the held one: the ledger alone would have made every claimed
    # row uncertain (all forty were claimed in one batch)
    assert_eq "$(q "SELECT c.email FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE s.was_uncertain > 0;")" \
        dotwait@example.com
    # the four before it were delivered once, and recorded sent
    local a
    for a in u01 u02 u03 u04; do
        assert_eq "$(copies "$a@example.com" "$SRV_MAIL")" 1 "copies to $a"
    done
    assert_eq "$(copies dotwait@example.com "$SRV_MAIL")" 2 "copies to the held one (its retry)"
    check_delivery promo "$SRV_MAIL"
    assert_contains "$output" "rows 40, sent 40, messages 41, recipients with copies 40, duplicates 1"
    [ ! -e "$JOURNAL" ] || fail "a run that recorded everything left its journal"
}

@test "send journal: a journal of another boot (a power cut) is not trusted: every claimed row is uncertain, as without one, and nobody is missing" {
    held_kill
    # the boot id in the header (engine/journal.c: offset 24)
    printf '00000000-0000-0000-0000-000000000000' |
        dd of="$JOURNAL" bs=1 seek=24 conv=notrunc status=none
    local claimed
    claimed=$(count sends "state = 'sending'")
    send_status 0
    assert_contains "$stderr" "were being sent when the last run stopped, and the journal was written before the machine restarted"
    assert_eq "$(count sends "was_uncertain > 0")" "$claimed" "uncertain rows: every one claimed"
    assert_eq "$(states)" "sent 40"
    check_delivery promo "$SRV_MAIL"
}

@test "send journal: cancel after a crash settles what the dead send left claimed: delivered rows sent, the one out with no reply uncertain, the rest cancelled; nothing left sending" {
    held_kill
    crun 0 cancel promo
    assert_eq "$(count sends "state = 'sending'")" 0 "rows left sending"
    assert_contains "$stderr" "its crash journal says"
    local a
    for a in u01 u02 u03 u04; do
        assert_eq "$(state_of "$a@example.com")" sent "state of $a"
    done
    # out with no reply: uncertain, then cancelled (owed a retry that
    # will not come), and still listed as uncertain
    assert_eq "$(row_of dotwait@example.com)" "cancelled|1||||1"
    assert_eq "$(state_of u06@example.com)" cancelled
    assert_eq "$(count sends "state = 'cancelled'")" 36
    crun 0 report promo --format json
    assert_contains "$output" '"cancelled": 36'
    # and nothing more goes out
    local n
    n=$(ls "$SRV_MAIL"/*.eml | wc -l)
    send_status 0
    assert_contains "$output" "campaign promo is cancelled: nothing to send"
    assert_eq "$(ls "$SRV_MAIL"/*.eml | wc -l)" "$n" "messages after the cancel"
}
