#!/usr/bin/env bats
# Issue 11 (part): what `campaign send` says and records is the truth.
#  - a dry run records nothing (no campaign, no ledger row, no frozen
#    template), with or without --out; --max applies to it; a dry run of
#    a campaign that exists renders its frozen recipients and template;
#  - a send whose campaign name exists for another list or template says
#    so and exits 64 before writing anything;
#  - a send stopped by `campaign pause` from another shell exits 75;
#  - the summary line counts recipients, each once in its last state of
#    the run, not attempts.

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# two_lists - list news (ann, ben) and list other (cid, dan).
two_lists() {
    contacts "$BATS_TEST_TMPDIR/a.csv" ann@example.com ben@example.com
    crun 0 import "$BATS_TEST_TMPDIR/a.csv" --list news
    contacts "$BATS_TEST_TMPDIR/b.csv" cid@example.com dan@example.com
    crun 0 import "$BATS_TEST_TMPDIR/b.csv" --list other
}

# rcpts - the recipients smtp-sink received, sorted, on one line.
rcpts() {
    received | cut -f1 | sort | tr '\n' ' '
}

@test "send truth: a dry run records nothing; the next real send decides the list; the other list is refused (64) untouched, and mailed under another name" {
    two_lists
    start_sink
    write_conf "$SINK_PORT"
    dump "$BATS_TEST_TMPDIR/before.sql"
    crun 0 --templates "$TEMPLATES" send --template promo --list news --dry-run
    assert_contains "$output" "2 messages built and signed"
    crun 0 --templates "$TEMPLATES" send --template promo --list news --dry-run --out "$BATS_TEST_TMPDIR/dry"
    assert_eq "$(ls "$BATS_TEST_TMPDIR/dry" | wc -l)" 2 "messages written"
    assert_eq "$(count campaigns)" 0 "campaigns after the dry runs"
    assert_eq "$(count sends)" 0 "ledger rows after the dry runs"
    dump "$BATS_TEST_TMPDIR/after.sql"
    same_file "$BATS_TEST_TMPDIR/before.sql" "$BATS_TEST_TMPDIR/after.sql"
    # the real send of list other: other is mailed, and the report says so
    crun 0 --templates "$TEMPLATES" send --template promo --list other
    assert_contains "$output" "campaign promo: sent 2,"
    assert_eq "$(rcpts)" "cid@example.com dan@example.com "
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" list)" other
    # the same name for list news: said, exit 64, nothing written or sent
    dump "$BATS_TEST_TMPDIR/before.sql"
    crun 64 --templates "$TEMPLATES" send --template promo --list news
    assert_contains "$stderr" "campaign promo is for list other, not news"
    assert_eq "$(rcpts)" "cid@example.com dan@example.com "
    dump "$BATS_TEST_TMPDIR/after.sql"
    same_file "$BATS_TEST_TMPDIR/before.sql" "$BATS_TEST_TMPDIR/after.sql"
    # a dry run under that name for the other list is refused the same way
    crun 64 --templates "$TEMPLATES" send --template promo --list news --dry-run
    assert_contains "$stderr" "campaign promo is for list other, not news"
    # under a name of its own, news is a campaign of its own
    crun 0 --templates "$TEMPLATES" send --template promo --list news --campaign promo-news
    assert_eq "$(rcpts)" "ann@example.com ben@example.com cid@example.com dan@example.com "
    assert_eq "$(q "SELECT s.state, count(*) FROM sends s JOIN campaigns k ON k.id = s.campaign_id
                    WHERE k.name = 'promo-news' GROUP BY 1;")" "sent|2"
}

@test "send truth: a campaign recorded but not started (a draft) is for its list and template: another one exits 64 naming both, before writing anything" {
    two_lists
    start_sink
    write_conf "$SINK_PORT"
    # a draft, as older dry runs left them
    q "INSERT INTO campaigns(name, template, list_id, created_at)
       SELECT 'promo', 'promo', id, 1 FROM lists WHERE name = 'news';"
    dump "$BATS_TEST_TMPDIR/before.sql"
    crun 64 --templates "$TEMPLATES" send --template promo --list other
    assert_contains "$stderr" "campaign promo is for list news, not other"
    crun 64 --templates "$TEMPLATES" send --campaign promo --template notice --list news
    assert_contains "$stderr" "campaign promo uses template promo, not notice"
    dump "$BATS_TEST_TMPDIR/after.sql"
    same_file "$BATS_TEST_TMPDIR/before.sql" "$BATS_TEST_TMPDIR/after.sql"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 0 "messages sent"
    # its own list goes
    crun 0 --templates "$TEMPLATES" send --template promo --list news
    assert_eq "$(rcpts)" "ann@example.com ben@example.com "
    assert_eq "$(q "SELECT l.name FROM campaigns c JOIN lists l ON l.id = c.list_id WHERE c.name = 'promo';")" news
}

@test "send truth: --max N limits a dry run to N messages" {
    # shellcheck disable=SC2046
    list_of $(addrs 5)
    write_conf 25
    crun 0 --templates "$TEMPLATES" send --template promo --list news --dry-run --out "$BATS_TEST_TMPDIR/dry" --max 2
    assert_contains "$output" "2 messages built and signed"
    assert_contains "$output" "(--max reached)"
    assert_eq "$(ls "$BATS_TEST_TMPDIR/dry" | wc -l)" 2 "messages written"
    assert_eq "$(count campaigns)" 0
    crun 0 --templates "$TEMPLATES" send --template promo --list news --dry-run --max 9
    assert_contains "$output" "5 messages built and signed"
    assert_not_contains "$output" "--max reached"
}

@test "send truth: a dry run of a started campaign renders its frozen recipients and template, and writes nothing" {
    local tpl="$BATS_TEST_TMPDIR/tpl"
    cp -r "$TEMPLATES" "$tpl"
    # shellcheck disable=SC2046
    list_of $(addrs 4)
    start_sink
    write_conf "$SINK_PORT"
    crun 0 --templates "$tpl" send --template promo --list news --max 2
    assert_eq "$(states)" "$(printf 'queued 2\nsent 2')"
    # later: a new member of the list, and the template's files changed
    contacts "$BATS_TEST_TMPDIR/late.csv" late@example.com
    crun 0 import "$BATS_TEST_TMPDIR/late.csv" --list news
    sed -i '1s/^Subject: .*/Subject: CHANGED {{first_name}}/' "$tpl/promo.mustache"
    dump "$BATS_TEST_TMPDIR/before.sql"
    crun 0 --templates "$tpl" send --campaign promo --dry-run --out "$BATS_TEST_TMPDIR/dry"
    assert_contains "$output" "4 messages built and signed"
    assert_eq "$(ls "$BATS_TEST_TMPDIR/dry" | wc -l)" 4 "messages written"
    ls "$BATS_TEST_TMPDIR/dry" | grep -q late && fail "a member who joined after the freeze was rendered"
    grep -l CHANGED "$BATS_TEST_TMPDIR/dry"/*.eml && fail "rendered with today's template, not the frozen one"
    dump "$BATS_TEST_TMPDIR/after.sql"
    same_file "$BATS_TEST_TMPDIR/before.sql" "$BATS_TEST_TMPDIR/after.sql"
    # the dry run's messages are the ones the campaign sends
    crun 0 --templates "$tpl" send --campaign promo
    assert_eq "$(states)" "sent 4"
    check_delivery
    "$PY" "$DUMPS" eml "$SINK_DUMP" "$BATS_TEST_TMPDIR/wire"
    py '
import email.parser, email.policy, os, re, sys
dry, wire = sys.argv[1], sys.argv[2]
def mid(b):
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(b)["Message-ID"]
def nodate(b):
    return re.sub(rb"^Date: [^\r\n]*\r\n", b"", b, count=1, flags=re.M)
got = {}
for n in os.listdir(wire):
    b = open(os.path.join(wire, n), "rb").read()
    got[mid(b)] = b
bad = [n for n in os.listdir(dry)
       if nodate(got.get(mid(open(os.path.join(dry, n), "rb").read()), b"")) !=
          nodate(open(os.path.join(dry, n), "rb").read())]
sys.exit("differ from the wire: %r" % bad if bad else 0)' "$BATS_TEST_TMPDIR/dry" "$BATS_TEST_TMPDIR/wire"
}

@test "send truth: a send stopped by campaign pause from another shell exits 75" {
    # shellcheck disable=SC2046
    list_of $(addrs 10)
    start_sink
    write_conf "$SINK_PORT" "" "[limits]" "burst = 1"
    "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" send --template promo \
        --list news --rate 4/s --concurrency 1 \
        >"$BATS_TEST_TMPDIR/send.out" 2>"$BATS_TEST_TMPDIR/send.err" &
    local pid=$!
    track_pid "$pid"
    wait_for 15 dumps_at_least 1
    crun 0 pause promo
    reap "$pid" 5
    assert_eq "$REAPED" 75 "exit status after pause ($(cat "$BATS_TEST_TMPDIR/send.err"))"
    assert_contains "$(cat "$BATS_TEST_TMPDIR/send.out")" "(paused)"
    assert_eq "$(campaign_status)" paused
    [ "$(count sends "state = 'queued'")" -gt 0 ] || fail "the pause came too late: $(states)"
    crun 0 resume promo
    send_status 0
    assert_eq "$(states)" "sent 10"
    check_delivery
    assert_eq "$output" "rows 10, sent 10, messages 10, recipients with copies 10, duplicates 0"
}

@test "send truth: the summary counts recipients once, in their last state: uncertain and then sent by the retry is sent" {
    list_of ok1@example.com dropdot1@example.com ok2@example.com ok3@example.com
    SRV_MAIL="$BATS_TEST_TMPDIR/mail"
    mkdir -p "$SRV_MAIL"
    "$PY" "$BATS_TEST_DIRNAME/smtp_server.py" --port-file "$BATS_TEST_TMPDIR/srv.port" \
        --maildir "$SRV_MAIL" --mode plain --pipelining >"$BATS_TEST_TMPDIR/srv.log" 2>&1 &
    track_pid $!
    wait_file "$BATS_TEST_TMPDIR/srv.port"
    write_conf "$(cat "$BATS_TEST_TMPDIR/srv.port")"
    send_status 0
    assert_eq "$(states)" "sent 4"
    # five messages went out (one twice), for four recipients
    assert_eq "$(copies dropdot1@example.com "$SRV_MAIL")" 2
    assert_contains "$output" "campaign promo: sent 4, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0 in "
}

@test "send truth: the summary counts recipients once: a recipient uncertain twice in one run is one uncertain" {
    # shellcheck disable=SC2046
    list_of $(addrs 3)
    # every dot: the connection is cut before the reply
    start_sink - -q .
    write_conf "$SINK_PORT"
    run --separate-stderr camp --templates "$TEMPLATES" send --template promo --list news
    no_sanitizer_report
    local line unc sum
    line=$(printf '%s\n' "$output" | grep '^campaign promo: sent ')
    [ -n "$line" ] || fail "no summary line:" "$output" "$stderr"
    unc=$(count sends "state = 'uncertain'")
    assert_contains "$line" "uncertain $unc in " "summary line (ledger: $(states))"
    # no recipient twice: the counts add up to at most the recipients
    sum=$(printf '%s\n' "$line" | sed -E 's/^campaign promo: sent ([0-9]+), deferred ([0-9]+), bounced ([0-9]+), failed ([0-9]+), skipped ([0-9]+), uncertain ([0-9]+) in .*/\1+\2+\3+\4+\5+\6/')
    [ "$((sum))" -le 3 ] || fail "the summary counts $((sum)) for 3 recipients: $line"
}

@test "send truth: a recipient that expires in the run (a 4xx after 20 attempts) is counted expired, not deferred, in both summary lines" {
    list_of ok1@example.com defer1@example.com
    serve --mode plain
    write_conf "$SRV_PORT"
    send_status 0
    assert_contains "$output" "campaign promo: sent 1, deferred 1, bounced 0"
    assert_eq "$(state_of defer1@example.com)" deferred
    # set up its 20th attempt, due now (the rows the run reads, not the
    # thing under test)
    q "UPDATE sends SET attempts = 19, next_attempt_at = 0 WHERE state = 'deferred';" >/dev/null
    send_status 0
    assert_eq "$(state_of defer1@example.com)" expired
    assert_contains "$output" "campaign promo: sent 0, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0, expired 1 in "
    assert_contains "$output" "0 uncertain, 1 expired; campaign done"
}
