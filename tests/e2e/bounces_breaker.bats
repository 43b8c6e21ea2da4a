#!/usr/bin/env bats
# Issue 14, tests: the circuit breaker (engine/breaker.c).  A campaign
# whose hard-bounce rate passes [bounces] breaker_hard (5%) or whose
# complaint rate passes breaker_complaint (0.3%), counted over the
# messages the relay took since the last resume and only from
# breaker_min (200) of them, is paused - by `bounces ingest` for the
# campaigns its messages touched, and by a running `send` as its own
# refusals come in.  `campaign resume` measures the rates again from
# there.
#
# Ingest side: the campaign is sent in part (`send --max`) into
# smtp-sink, so that it is still running, and the bounces are built from
# what smtp-sink received (bounce_make.py).  Send side: the scripted
# relay smtp_server.py refuses local parts starting "reject" with
# "550 5.1.1" at RCPT.

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
# after [relay].
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

# partly N SEND [CONF LINES...] - N generated contacts in list news, SEND
# of them sent (send --max) into smtp-sink: the campaign is still
# running ("sending").
partly() {
    local n=$1 max=$2
    shift 2
    many_contacts "$BATS_TEST_TMPDIR/many.csv" "$n"
    crun 0 import "$BATS_TEST_TMPDIR/many.csv" --list news
    start_sink
    bconf "$SINK_PORT" "$@"
    send_status 0 --max "$max"
    assert_eq "$(q "SELECT count(*) FROM sends WHERE state = 'sent';")" "$max"
    assert_eq "$(campaign_status)" sending
}

# mailed_list FILE - every address smtp-sink received, sorted, into FILE
mailed_list() {
    "$PY" "$MAKE" index "$SINK_DUMP" | cut -f1 | sort >"$1"
}

# bounces KIND DIR FROM TO [ARGS...] - messages of KIND for the recipients
# on lines FROM..TO of $BATS_TEST_TMPDIR/mailed, as DIR/N.eml
bounces() {
    local kind=$1 dir=$2 from=$3 to=$4
    shift 4
    sed -n "${from},${to}p" "$BATS_TEST_TMPDIR/mailed" >"$BATS_TEST_TMPDIR/some"
    rm -rf "$dir"
    "$PY" "$MAKE" "$kind" --dump "$SINK_DUMP" --rcpt-list "$BATS_TEST_TMPDIR/some" \
        --out "$dir" "$@" || fail "bounce_make.py failed"
}

# line H C PAUSED - the ingest summary of H hard bounces and C complaints
# (nothing else), with "; 1 campaign paused ..." when PAUSED is 1
line() {
    local n=$(($1 + $2)) s=s
    [ "$n" -eq 1 ] && s=
    printf 'ingested %d message%s: hard %d, soft 0, blocked 0, delayed 0, complaint %d, auto_reply 0, unsubscribe 0, unmatched 0, duplicate 0, unknown 0' \
        "$n" "$s" "$1" "$2"
    [ "$3" = 1 ] && printf '; 1 campaign paused by the circuit breaker'
    return 0
}

# breaker_of - status|control|breaker of the promo campaign
breaker_of() {
    q "SELECT status, coalesce(control, ''), coalesce(breaker, '') FROM campaigns WHERE name = 'promo';"
}

# not_paused - the campaign runs on, without a breaker reason anywhere
not_paused() {
    assert_eq "$(breaker_of)" "sending||" "status|control|breaker" || return 1
    crun 0 report promo --format json
    assert_not_contains "$output" paused_by_breaker "report"
}

@test "breaker (ingest): 5.0% hard bounces leave a campaign running, 5.5% pause it; send then says paused" {
    partly 210 200
    mailed_list "$BATS_TEST_TMPDIR/mailed"
    assert_eq "$(wc -l <"$BATS_TEST_TMPDIR/mailed")" 200
    bounces dsn "$BATS_TEST_TMPDIR/b" 1 11
    # 10 of 200: the limit is "more than 5%"
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/b/{1,2,3,4,5,6,7,8,9,10}.eml
    assert_output "$(line 10 0 0)"
    not_paused
    # 11 of 200: 5.5%
    crun 0 bounces ingest "$BATS_TEST_TMPDIR/b/11.eml"
    assert_output "$(line 1 0 1)"
    assert_contains "$stderr" "campaign promo paused: hard-bounce rate 5.5% (11 of 200 messages) passed 5.0%"
    assert_eq "$(breaker_of | cut -d'|' -f1,2)" "paused|pause"
    assert_contains "$(breaker_of | cut -d'|' -f3)" "hard-bounce rate 5.5%"
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" status)" paused
    assert_contains "$(json_get "$output" paused_by_breaker)" "hard-bounce rate 5.5% (11 of 200 messages)"
    assert_eq "$(json_get "$output" bounced_hard)" 11
    # the 10 recipients left stay unsent
    send_status 75
    assert_contains "$output$stderr" "paused"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 200
    assert_eq "$(q "SELECT count(*) FROM sends WHERE state = 'queued';")" 10
    # more bounces into a paused campaign: recorded, no second pause
    bounces dsn "$BATS_TEST_TMPDIR/c" 12 13
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/c/*.eml
    assert_output "$(line 2 0 0)"
    assert_eq "$(breaker_of | cut -d'|' -f1)" paused
}

@test "breaker (ingest): 4% hard bounces, soft and blocked ones do not pause" {
    partly 210 200
    mailed_list "$BATS_TEST_TMPDIR/mailed"
    bounces dsn "$BATS_TEST_TMPDIR/h" 1 8
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/h/*.eml
    assert_output "$(line 8 0 0)"
    not_paused
    # soft and blocked bounces are not hard ones: 8 + 20 would be 14%
    bounces dsn "$BATS_TEST_TMPDIR/s" 9 18 --status 4.2.2 --diag "smtp; 452 4.2.2 Mailbox full"
    bounces dsn "$BATS_TEST_TMPDIR/k" 19 28 --status 5.7.1 \
        --diag "smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/s/*.eml "$BATS_TEST_TMPDIR"/k/*.eml
    assert_contains "$output" "soft 10, blocked 10,"
    not_paused
}

@test "breaker (ingest): nothing pauses below breaker_min messages; breaker_min and breaker_hard come from [bounces]" {
    partly 160 150
    mailed_list "$BATS_TEST_TMPDIR/mailed"
    # 30 of 150 = 20%, but fewer than 200 messages
    bounces dsn "$BATS_TEST_TMPDIR/b" 1 30
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/b/*.eml
    assert_output "$(line 30 0 0)"
    not_paused
    # a lower minimum and a higher limit: 31 of 150 = 20.7% > 20%
    bconf "$SINK_PORT" "" "[bounces]" "breaker_min = 100" "breaker_hard = 20%"
    bounces dsn "$BATS_TEST_TMPDIR/c" 31 31
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/c/*.eml
    assert_output "$(line 1 0 1)"
    assert_contains "$stderr" "hard-bounce rate 20.7% (31 of 150 messages) passed 20.0%"
}

@test "breaker (ingest): 0.4% complaints pause; not-spam reports do not count" {
    partly 260 250
    mailed_list "$BATS_TEST_TMPDIR/mailed"
    bounces arf "$BATS_TEST_TMPDIR/ns" 1 3 --type not-spam
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/ns/*.eml
    assert_contains "$output" "unknown 3"
    not_paused
    bounces arf "$BATS_TEST_TMPDIR/a" 4 4 --type abuse
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/a/*.eml
    assert_output "$(line 0 1 1)"
    assert_contains "$stderr" "campaign promo paused: complaint rate 0.40% (1 of 250 messages) passed 0.30%"
    assert_eq "$(breaker_of | cut -d'|' -f1,2)" "paused|pause"
    crun 0 report promo --format json
    assert_contains "$(json_get "$output" paused_by_breaker)" "complaint rate 0.40%"
    assert_eq "$(json_get "$output" complained)" 1
}

@test "breaker (ingest): after resume the rates are measured from the resume on" {
    partly 410 200
    mailed_list "$BATS_TEST_TMPDIR/mailed"
    bounces dsn "$BATS_TEST_TMPDIR/b" 1 11
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/b/*.eml
    assert_output "$(line 11 0 1)"
    crun 0 resume promo
    assert_contains "$output" "circuit breaker"
    assert_eq "$(breaker_of)" "sending||" "status|control|breaker after resume"
    crun 0 report promo --format json
    assert_not_contains "$output" paused_by_breaker
    # the send goes on: 200 more
    mv "$SINK_DUMP" "$BATS_TEST_TMPDIR/dump.1"
    mkdir "$SINK_DUMP"
    send_status 0 --max 200
    assert_eq "$(q "SELECT count(*) FROM sends WHERE state IN ('sent', 'bounced');")" 400
    mailed_list "$BATS_TEST_TMPDIR/mailed"
    assert_eq "$(wc -l <"$BATS_TEST_TMPDIR/mailed")" 200
    # 10 of the 200 since the resume: 5.0%, not more (over the whole
    # campaign 21 of 400 would be 5.25%)
    bounces dsn "$BATS_TEST_TMPDIR/c" 1 10
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/c/*.eml
    assert_output "$(line 10 0 0)"
    not_paused
    # one more: 11 of 200 since the resume
    bounces dsn "$BATS_TEST_TMPDIR/d" 11 11
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/d/*.eml
    assert_output "$(line 1 0 1)"
    assert_contains "$stderr" "(11 of 200 messages)"
    assert_eq "$(breaker_of | cut -d'|' -f1)" paused
}

@test "breaker (ingest): a finished campaign is not reopened as paused" {
    # bounces come back after a short campaign has ended: nothing is
    # left to hold back, and `done` stays done (breaker.h)
    many_contacts "$BATS_TEST_TMPDIR/many.csv" 200
    crun 0 import "$BATS_TEST_TMPDIR/many.csv" --list news
    start_sink
    bconf "$SINK_PORT"
    send_status 0
    assert_eq "$(campaign_status)" "done"
    mailed_list "$BATS_TEST_TMPDIR/mailed"
    bounces dsn "$BATS_TEST_TMPDIR/b" 1 20
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/b/*.eml
    assert_output "$(line 20 0 0)"
    assert_eq "$(breaker_of)" "done||"
}

@test "breaker (send): a running send refused 550 5.1.1 for 5.5% stops paused, send says paused, resume goes on" {
    # 200 recipients in contact-id order (the order send claims them):
    # every other one of the first 22 is refused at RCPT - 11 of 200 -
    # and none after, so that once resumed the rate since the resume
    # stays at 0
    "$PY" - "$BATS_TEST_TMPDIR/list.csv" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,first_name\n")
    for i in range(200):
        if i % 2 == 1 and i <= 21:
            f.write("reject%03d@d%d.example,R%d\n" % (i, i % 3, i))
        else:
            f.write("user%03d@d%d.example,U%d\n" % (i, i % 3, i))
EOF
    crun 0 import "$BATS_TEST_TMPDIR/list.csv" --list news
    serve --mode plain
    bconf "$SRV_PORT" "" "[limits]" "burst = 1" "" "[bounces]" "breaker_min = 20"
    slow_send 10
    # 200 messages at 10/s would take 20 s: it must stop long before
    reap "$SEND_PID" 30 || fail "send still running" "$(cat "$BATS_TEST_TMPDIR/send.err")"
    assert_eq "$REAPED" 75 "exit status of the paused send ($(cat "$BATS_TEST_TMPDIR/send.out" "$BATS_TEST_TMPDIR/send.err"))"
    local errs
    errs=$(cat "$BATS_TEST_TMPDIR/send.err")
    stderr=$errs output=$(cat "$BATS_TEST_TMPDIR/send.out") no_sanitizer_report
    assert_contains "$errs" "paused by the circuit breaker: hard-bounce rate"
    local done_n
    done_n=$(q "SELECT count(*) FROM sends WHERE state IN ('sent', 'bounced');")
    # the breaker needs 20 messages; at 10/s it checks once a second and
    # the send stops within a second after: 50 leaves room for a slow
    # machine, far from the 200 of a send that was not stopped
    [ "$done_n" -ge 20 ] && [ "$done_n" -le 50 ] ||
        fail "$done_n recipients done when the breaker stopped the send (20 to 50 expected)"
    assert_eq "$(q "SELECT count(*) FROM sends WHERE state = 'bounced' AND bounce_class = 'hard';")" \
        "$(q "SELECT count(*) FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email LIKE 'reject%' AND s.state = 'bounced';")"
    assert_eq "$(breaker_of | cut -d'|' -f1,2)" "paused|pause"
    crun 0 report promo --format json
    assert_contains "$(json_get "$output" paused_by_breaker)" "hard-bounce rate"
    # a later send: paused, nothing sent
    local before
    before=$(ls "$SRV_MAIL"/*.eml | wc -l)
    send_status 75
    assert_contains "$output$stderr" "paused"
    assert_eq "$(ls "$SRV_MAIL"/*.eml | wc -l)" "$before"
    # resume: the rest goes, the breaker measures from here (no refusal
    # left) and does not stop it again
    crun 0 resume promo
    send_status 0
    assert_eq "$(states)" "$(printf 'bounced 11\nsent 189')"
    assert_eq "$(campaign_status)" "done"
    assert_eq "$(ls "$SRV_MAIL"/*.eml | wc -l)" 189
    assert_eq "$(cat "$SRV_MAIL"/*.env | grep '^rcpt ' | sort | uniq -d)" "" "recipients mailed twice"
    assert_eq "$(q "SELECT count(*) FROM suppressions WHERE reason = 'bounced';")" 11
}

@test "breaker (ingest during a send): bounces ingested while the campaign sends pause it, and the send stops within seconds" {
    many_contacts "$BATS_TEST_TMPDIR/many.csv" 250
    crun 0 import "$BATS_TEST_TMPDIR/many.csv" --list news
    start_sink
    bconf "$SINK_PORT" "" "[limits]" "burst = 1" "" "[bounces]" "breaker_min = 20"
    slow_send 10
    wait_for 20 dumps_at_least 30
    # five of the first recipients bounce: 5 of 30 or more, over 5% while
    # fewer than 100 went (10 s at 10/s)
    q "SELECT c.email FROM sends s JOIN contacts c ON c.id = s.contact_id
        WHERE s.state = 'sent' ORDER BY s.contact_id LIMIT 5;" >"$BATS_TEST_TMPDIR/some"
    assert_eq "$(wc -l <"$BATS_TEST_TMPDIR/some")" 5
    "$PY" "$MAKE" dsn --dump "$SINK_DUMP" --rcpt-list "$BATS_TEST_TMPDIR/some" \
        --out "$BATS_TEST_TMPDIR/b" || fail "bounce_make.py failed"
    crun 0 bounces ingest "$BATS_TEST_TMPDIR"/b/*.eml
    assert_contains "$output" "hard 5,"
    assert_contains "$output" "; 1 campaign paused by the circuit breaker"
    reap "$SEND_PID" 10 || fail "the send did not stop" "$(cat "$BATS_TEST_TMPDIR/send.err")"
    assert_eq "$REAPED" 75 "exit status of the paused send ($(cat "$BATS_TEST_TMPDIR/send.out" "$BATS_TEST_TMPDIR/send.err"))"
    stderr=$(cat "$BATS_TEST_TMPDIR/send.err") output=$(cat "$BATS_TEST_TMPDIR/send.out") no_sanitizer_report
    local n
    n=$(q "SELECT count(*) FROM sends WHERE state IN ('sent', 'bounced');")
    [ "$n" -lt 250 ] || fail "the send went to the end ($n)"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" "$n"
    # the send's own end keeps the breaker's pause and its reason
    assert_eq "$(breaker_of | cut -d'|' -f1,2)" "paused|pause"
    crun 0 report promo --format json
    assert_contains "$(json_get "$output" paused_by_breaker)" "hard-bounce rate"
}

@test "soft limit (send): soft bounces refused during the session count toward soft_limit, with those that come back by mail" {
    contacts "$BATS_TEST_TMPDIR/list.csv" full1@example.org ok1@example.org full2@example.org
    crun 0 import "$BATS_TEST_TMPDIR/list.csv" --list news
    serve --mode plain
    bconf "$SRV_PORT" "" "[limits]" "burst = 1"
    # two campaigns: full1 and full2 refused 552 5.2.2 at RCPT (soft)
    crun 0 --templates "$TEMPLATES" send --template promo --list news --campaign one
    crun 0 --templates "$TEMPLATES" send --template promo --list news --campaign two
    assert_eq "$(status_of full1@example.org)" active "two soft bounces suppress nobody"
    assert_eq "$(q "SELECT count(*) FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email = 'full1@example.org' AND s.state = 'bounced' AND s.bounce_class = 'soft';")" 2
    # the third, in the session too: suppressed at once
    crun 0 --templates "$TEMPLATES" send --template promo --list news --campaign three
    assert_eq "$(status_of full1@example.org)" bounced "the third soft bounce suppresses"
    assert_eq "$(q "SELECT source FROM suppressions WHERE email = 'full1@example.org';")" "soft bounces"
    assert_eq "$(status_of ok1@example.org)" active
    # soft_limit from [bounces]: 4 would have kept full2
    crun 0 suppress lift full2@example.org --reason bounced
    bconf "$SRV_PORT" "" "[limits]" "burst = 1" "" "[bounces]" "soft_limit = 5"
    crun 0 --templates "$TEMPLATES" send --template promo --list news --campaign four
    assert_eq "$(status_of full2@example.org)" active "soft_limit = 5: four soft bounces keep the address"
}
