#!/usr/bin/env bats
# Issue 4, tests: controlling `campaign send` against smtp-sink - two
# sends of one campaign at once, SIGTERM, pause / resume, cancel, an
# opt-out that lands mid-campaign, --max chunks, a finished campaign,
# `report --format json`, and --test-to samples that record nothing.
#
# A slow send is made with --rate and [limits] burst = 1: the relay loop
# takes a message from the ledger only when the rate lets it go.

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

@test "send control: a second send of the same campaign exits 75 naming the pid, and sends nothing" {
    slow_setup 10
    slow_send 4/s
    wait_for 15 dumps_at_least 1
    crun 75 --templates "$TEMPLATES" send --template promo --list news
    assert_contains "$stderr" "another send of this campaign is running (pid $SEND_PID holds"
    assert_eq "$output" "" "stdout of the second send"
    # the same campaign under its name, from another directory's view
    crun 75 --templates "$TEMPLATES" send --campaign promo
    assert_contains "$stderr" "pid $SEND_PID"
    reap "$SEND_PID" 30
    assert_eq "$REAPED" 0 "exit status of the first send"
    assert_eq "$(states)" "sent 10"
    # nobody got a copy from the second one
    check_delivery
    assert_eq "$output" "rows 10, sent 10, messages 10, recipients with copies 10, duplicates 0"
    no_sanitizer_report
    # the lock is free again: a later run just says it is finished
    send_status 0
    assert_contains "$output" "campaign promo is finished: nothing to send"
}

@test "send control: SIGTERM mid-send stops cleanly with 75, everything committed; a rerun finishes with no duplicates" {
    slow_setup 12
    slow_send 4/s
    wait_for 15 dumps_at_least 2
    kill -TERM "$SEND_PID"
    reap "$SEND_PID" 10
    assert_eq "$REAPED" 75 "exit status after SIGTERM ($(cat "$BATS_TEST_TMPDIR/send.err"))"
    assert_contains "$(cat "$BATS_TEST_TMPDIR/send.out")" "(interrupted)"
    # committed: nothing left claimed, and the ledger agrees with the relay
    assert_eq "$(count sends "state = 'sending'")" 0
    assert_eq "$(count sends "was_uncertain > 0")" 0
    local sent
    sent=$(count sends "state = 'sent'")
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" "$sent" "messages received vs sent in the ledger"
    [ "$sent" -lt 12 ] || fail "SIGTERM came too late: everything was sent"
    assert_eq "$(campaign_status)" sending
    integrity
    send_status 0
    assert_eq "$(states)" "sent 12"
    check_delivery
    assert_eq "$output" "rows 12, sent 12, messages 12, recipients with copies 12, duplicates 0"
    assert_eq "$(campaign_status)" done
}

@test "send control: pause stops a running send within about a second; resume and a rerun finish it, nobody twice" {
    slow_setup 12
    slow_send 4/s
    wait_for 15 dumps_at_least 2
    crun 0 pause promo
    assert_contains "$output" "campaign promo paused"
    local t0 ms
    t0=$(date +%s%3N)
    reap "$SEND_PID" 5
    ms=$(($(date +%s%3N) - t0))
    # polled every second, then the replies in flight
    [ "$ms" -le 2000 ] || fail "the send took $ms ms to stop after the pause"
    # 75 (README, Exit codes: the campaign is paused), as for SIGTERM
    assert_eq "$REAPED" 75 "exit status after pause ($(cat "$BATS_TEST_TMPDIR/send.err"))"
    assert_contains "$(cat "$BATS_TEST_TMPDIR/send.out")" "(paused)"
    assert_eq "$(campaign_status)" paused
    assert_eq "$(count sends "state = 'sending'")" 0
    local sent files
    sent=$(count sends "state = 'sent'")
    files=$(ls "$SINK_DUMP" | wc -l)
    assert_eq "$files" "$sent"
    [ "$sent" -lt 12 ] || fail "the pause came too late"
    # the rows claimed ahead and never handed out are as before the claim
    # (at most the one the relay loop held for the next free connection
    # counts an attempt)
    [ "$(count sends "state = 'queued' AND attempts > 0")" -le 1 ] ||
        fail "claimed rows kept an attempt: $(q "SELECT attempts, last_text FROM sends WHERE state = 'queued' AND attempts > 0;")"
    # paused: a send refuses until resumed
    send_status 75
    assert_contains "$output" "campaign promo is paused: run campaign resume promo first"
    sleep 0.5
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" "$files" "messages sent while paused"
    crun 0 resume promo
    assert_eq "$(campaign_status)" sending
    send_status 0
    assert_eq "$(states)" "sent 12"
    check_delivery
    assert_eq "$output" "rows 12, sent 12, messages 12, recipients with copies 12, duplicates 0"
    assert_eq "$(campaign_status)" done
}

@test "send control: cancel stops a running send; the campaign sends nothing more" {
    slow_setup 12
    slow_send 4/s
    wait_for 15 dumps_at_least 1
    crun 0 cancel promo
    reap "$SEND_PID" 5
    assert_eq "$REAPED" 0 "exit status after cancel ($(cat "$BATS_TEST_TMPDIR/send.err"))"
    assert_contains "$(cat "$BATS_TEST_TMPDIR/send.out")" "(cancelled)"
    assert_eq "$(campaign_status)" cancelled
    assert_eq "$(count sends "state = 'sending'")" 0
    local files
    files=$(ls "$SINK_DUMP" | wc -l)
    assert_eq "$files" "$(count sends "state = 'sent'")"
    # what was left to send is cancelled, not queued (issue 11)
    [ "$(count sends "state = 'cancelled'")" -gt 0 ] || fail "cancel came too late: $(states)"
    assert_eq "$(count sends "state = 'queued'")" 0
    send_status 0
    assert_contains "$output" "campaign promo is cancelled: nothing to send"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" "$files"
    # cancelled is for good: resume does not bring it back
    crun 65 resume promo
    assert_contains "$stderr" "campaign promo is cancelled: nothing to resume"
    assert_eq "$(campaign_status)" cancelled
    send_status 0
    assert_contains "$output" "campaign promo is cancelled: nothing to send"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" "$files"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" status)" cancelled
    check_delivery
}

@test "send control: an opt-out from another process while a slow send runs stops the next send to that person (skipped)" {
    # all eight are claimed (one batch) at the start; the last two go out
    # about 3 s later, long after the opt-out
    slow_setup 8
    slow_send 2/s
    wait_for 15 dumps_at_least 1
    crun 0 optout user07@example.com user08@example.com
    [ "$(copies user07@example.com)" -eq 0 ] || fail "the opt-out came too late"
    reap "$SEND_PID" 30
    assert_eq "$REAPED" 0 "exit status ($(cat "$BATS_TEST_TMPDIR/send.err"))"
    assert_eq "$(state_of user07@example.com)" skipped
    assert_eq "$(state_of user08@example.com)" skipped
    assert_eq "$(copies user07@example.com)" 0
    assert_eq "$(copies user08@example.com)" 0
    assert_eq "$(states)" "$(printf 'sent 6\nskipped 2')"
    assert_eq "$(campaign_status)" done
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" suppressed)" 2
    assert_eq "$(json_get "$output" sent)" 6
    check_delivery
}

@test "send control: --max N sends exactly N and a rerun goes on; a finished campaign sends nothing and says so" {
    # shellcheck disable=SC2046
    list_of $(addrs 10)
    start_sink
    write_conf "$SINK_PORT"
    send_status 0 --max 4
    assert_contains "$output" "sent 4, deferred 0"
    assert_contains "$output" "(--max reached)"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 4
    assert_eq "$(states)" "$(printf 'queued 6\nsent 4')"
    assert_eq "$(campaign_status)" sending
    send_status 0 --max 4
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 8
    send_status 0 --max 4
    assert_contains "$output" "sent 2, deferred 0"
    assert_eq "$(states)" "sent 10"
    assert_eq "$(campaign_status)" done
    check_delivery
    assert_eq "$output" "rows 10, sent 10, messages 10, recipients with copies 10, duplicates 0"
    send_status 0
    assert_eq "$output" "campaign promo is finished: nothing to send"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 10
    # a finished campaign stays finished
    crun 65 pause promo
    assert_contains "$stderr" "campaign promo is finished: nothing to pause"
    crun 65 cancel promo
    assert_eq "$(campaign_status)" done
}

@test "send control: report --format json carries the ledger's figures" {
    list_of ann@example.com ben@example.com cid@example.com dan@example.com
    crun 0 optout dan@example.com
    start_sink
    write_conf "$SINK_PORT"
    send_status 0 --max 2
    crun 0 report promo --format json
    local doc=$output
    printf '%s' "$doc" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
want = {"campaign": "promo", "template": "promo", "status": "sending",
        "list": "news", "recipients": 4, "queued": 1, "sent": 2,
        "deferred": 0, "failed": 0, "bounced_hard": 0, "bounced_soft": 0,
        "suppressed": 1, "uncertain": 0, "finished_at": None,
        "uncertain_recipients": []}
bad = ["%s: %r, want %r" % (k, d.get(k, "(missing)"), v)
       for k, v in want.items() if d.get(k, "(missing)") != v]
import re
if not re.match(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d", str(d.get("started_at"))):
    bad.append("started_at: %r" % d.get("started_at"))
sys.exit("\n".join(bad) if bad else 0)'
    send_status 0
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" status)" done
    assert_eq "$(json_get "$output" sent)" 3
    assert_eq "$(json_get "$output" queued)" 0
    [ "$(json_get "$output" finished_at)" != null ] || fail "no finished_at: $output"
    # every campaign: a JSON list
    crun 0 report --format json
    assert_eq "$(json_get "$output" 0 campaign)" promo
    assert_eq "$(json_get "$output" 0 sent)" 3
}

@test "send control: --test-to sends rendered samples of the first mailable members, Subject [test], and records nothing" {
    list_of ann@example.com ben@example.com cid@example.com
    crun 0 optout ann@example.com
    start_sink
    # VERP and tracking on: the samples' tokens are checked below
    write_conf "$SINK_PORT"
    sed -i 's/^from = .*/&\nbounce_domain = bounces.acme.example/' "$BATS_TEST_TMPDIR/campaign.conf"
    printf '\n[tracking]\nbase_url = https://t.acme.example\nopens = on\nclicks = on\n' \
        >>"$BATS_TEST_TMPDIR/campaign.conf"
    send_status 0 --test-to Me@Example.org --test-to boss@example.net,third@example.com
    assert_contains "$output" "test message to me@example.org (rendered for ben@example.com): sent: 250"
    assert_contains "$output" "test message to boss@example.net (rendered for cid@example.com): sent: 250"
    # more addresses than members: round the list again
    assert_contains "$output" "test message to third@example.com (rendered for ben@example.com): sent: 250"
    assert_contains "$output" "3 of 3 test messages sent"
    assert_eq "$(count campaigns)" 0
    assert_eq "$(count sends)" 0
    received >"$BATS_TEST_TMPDIR/got"
    assert_eq "$(cut -f1 "$BATS_TEST_TMPDIR/got" | sort | tr '\n' ' ')" \
        "boss@example.net me@example.org third@example.com "
    "$PY" "$DUMPS" eml "$SINK_DUMP" "$BATS_TEST_TMPDIR/wire"
    py '
import email, email.header, email.policy, glob, sys
subjects = {}
for f in glob.glob(sys.argv[1] + "/*.eml"):
    m = email.message_from_bytes(open(f, "rb").read(), policy=email.policy.default)
    subjects[str(m["To"].addresses[0].addr_spec)] = str(m["Subject"])
want = {"me@example.org": "[test] Person2, ", "boss@example.net": "[test] Person3, ",
        "third@example.com": "[test] Person2, "}
bad = [a for a, p in want.items() if not subjects.get(a, "").startswith(p)]
sys.exit("subjects: %r" % subjects if bad else 0)' "$BATS_TEST_TMPDIR/wire"
    # every token of a sample (VERP return path, List-Unsubscribe URL and
    # mailto, the links, the pixel, the view) verifies with the secret and
    # names campaign 0 and a contact id of the sample's own (bit 63 set,
    # never a contact's), one per sample
    "$PY" "$DUMPS" tokens "$DB.secret" https://t.acme.example "$SINK_DUMP" >"$BATS_TEST_TMPDIR/sample.tok"
    py '
import collections, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
bad, ids, kinds = [], collections.defaultdict(set), collections.defaultdict(set)
for r in rows:
    rcpt, where, p, camp, contact, ok = r[:6]
    kinds[rcpt].add((where, p))
    if ok != "valid" or camp != "0" or int(contact or 0) < 1 << 63:
        bad.append("not a sample token: %r" % r)
    ids[rcpt].add(contact)
want = {("envelope", "b"), ("header-url", "u"), ("header-mailto", "u"),
        ("html", "c"), ("html", "o"), ("html", "u"), ("html", "v"),
        ("text", "u"), ("text", "v")}
for rcpt in ("me@example.org", "boss@example.net", "third@example.com"):
    if kinds[rcpt] != want:
        bad.append("%s: tokens %r" % (rcpt, sorted(kinds[rcpt])))
    if len(ids[rcpt]) != 1:
        bad.append("%s: contact ids %r" % (rcpt, ids[rcpt]))
if len(set().union(*ids.values())) != 3:
    bad.append("the samples share a contact id: %r" % dict(ids))
sys.exit("\n".join(bad) if bad else 0)' "$BATS_TEST_TMPDIR/sample.tok"
    # the samples are not the real messages: their Message-IDs differ
    send_status 0
    assert_eq "$(states)" "$(printf 'sent 2\nskipped 1')"
    local real
    for real in $(q "SELECT message_id FROM sends WHERE message_id IS NOT NULL;"); do
        [ "$(grep -cF "$real" "$BATS_TEST_TMPDIR/got")" -eq 0 ] ||
            fail "a test sample used the real Message-ID $real"
    done
    # nor their tokens: the real ones name the campaign and the contact,
    # and none of them is a sample's
    "$PY" "$DUMPS" tokens "$DB.secret" https://t.acme.example "$SINK_DUMP" |
        awk -F'\t' '$1 == "ben@example.com" || $1 == "cid@example.com"' >"$BATS_TEST_TMPDIR/real.tok"
    assert_eq "$(awk -F'\t' '{ print $1, $4, $5, $6 }' "$BATS_TEST_TMPDIR/real.tok" | sort -u | tr '\n' ';')" \
        "ben@example.com $(q "SELECT id FROM campaigns") $(q "SELECT id FROM contacts WHERE email = 'ben@example.com'") valid;cid@example.com $(q "SELECT id FROM campaigns") $(q "SELECT id FROM contacts WHERE email = 'cid@example.com'") valid;" \
        "the real messages' tokens"
    assert_eq "$(cut -f7 "$BATS_TEST_TMPDIR/sample.tok" | sort -u | comm -12 - <(cut -f7 "$BATS_TEST_TMPDIR/real.tok" | sort -u))" "" \
        "tokens of a sample that are a real message's"
    # the words after --test-to are addresses too; a bad one is refused
    send_status 64 --test-to good@example.com 'bad address'
    assert_contains "$stderr" "--test-to"
}
