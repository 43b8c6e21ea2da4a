#!/usr/bin/env bats
# Issue 17, "the first message within a second": a campaign's recipients
# are frozen in chunks (QUEUE_FREEZE members, 4,096) that the send
# interleaves with sending (013_freeze_chunks.sql, engine/queue.h), and a
# new campaign checks the message of its first 20,000 mailable members
# only before it starts (cmd/cmd_send.c, SEND_PRECHECK).  The promises
# kept, over lists of several chunks:
#  - every mailable member gets exactly one copy, a suppressed one none;
#  - the frozen set is the list's members when the campaign started: an
#    import landing mid-freeze adds nobody to it, an opt-out landing
#    mid-freeze is not mailed (skipped), and a campaign started later has
#    the new members;
#  - while the freeze is under way, send, report and campaigns count the
#    members not frozen yet as recipients queued; a cancel ends it;
#  - a broken message within the first 20,000 refuses the send, after
#    them it is unbuildable when the send reaches it.
# The ledger's counts are checked against a full count after every test
# (send_teardown).  Real sends go to Postfix's smtp-sink on loopback.

load lib
load send_lib

setup() {
    campaign_setup
    start_sink
    write_conf "$SINK_PORT"
    mkdir -p templates
    # a small message: thousands of them are dumped
    printf 'Subject: Hi {{first_name}}\n\n<p>hello {{first_name}}</p>\n' \
        >templates/hi.mustache
}

teardown() {
    send_teardown
}

# hi ARGS... - the binary under test sends template hi to list news.
hi() {
    crun "$1" --templates templates send --template hi --list news "${@:2}"
}

# freeze_after [CAMPAIGN] - where the freeze has got to (empty: complete).
freeze_after() {
    q "SELECT freeze_after FROM campaigns WHERE name = $(sqlstr "${1:-hi}");"
}

# members N - N generated members of list news (user00000@d0.example...).
members() {
    many_contacts members.csv "$1"
    crun 0 import members.csv --list news
}

@test "send freeze: 10,000 members frozen in chunks while sending, every 9th suppressed: each mailable member gets one copy, a suppressed one none" {
    members 10000
    awk -F, 'NR > 1 && (NR - 2) % 9 == 0 { print $1 }' members.csv >out.txt
    assert_eq "$(wc -l <out.txt)" 1112
    crun 0 suppress import out.txt --reason manual
    hi 0 --concurrency 4
    assert_contains "$output" "campaign hi: sent 8888, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0 in "
    assert_contains "$output" "ledger: 10000 recipients: 8888 sent, 0 queued, 0 deferred, 0 bounced, 0 failed, 1112 suppressed, 0 uncertain; campaign done"
    assert_eq "$(freeze_after)" ""
    assert_eq "$(q "SELECT recipients FROM campaigns WHERE name = 'hi';")" 10000
    check_delivery hi
    assert_eq "$output" "rows 10000, sent 8888, messages 8888, recipients with copies 8888, duplicates 0"
    # the suppressed are skipped, none received anything
    assert_eq "$(count sends "state = 'skipped' AND last_text = 'suppressed: suppressed'")" 1112
    assert_eq "$(received | awk -F'\t' 'NR == FNR { s[$1] = 1; next } ($1 in s) { n++ } END { print n + 0 }' out.txt -)" 0
    integrity
}

@test "send freeze: an import and an opt-out landing mid-freeze: the frozen set is the list's members when the campaign started" {
    members 12000
    many_contacts others.csv 20 other
    crun 0 import others.csv --list side
    # one message: one chunk frozen (members 1-4096), not the others
    hi 0 --max 1
    assert_eq "$(freeze_after)" 4096
    assert_eq "$(count sends)" 4096
    # mid-freeze: ten new contacts and five existing ones join the list;
    # the last member (not frozen yet) and the third (frozen, queued)
    # opt out
    many_contacts late.csv 10 late
    crun 0 import late.csv --list news
    head -6 others.csv >joined.csv
    crun 0 import joined.csv --list news
    crun 0 optout user11999@d1.example user00002@d2.example
    hi 0
    assert_contains "$output" "ledger: 12000 recipients: 11998 sent, 0 queued, 0 deferred, 0 bounced, 0 failed, 2 suppressed, 0 uncertain; campaign done"
    assert_eq "$(freeze_after)" ""
    # nobody who joined after the start is in the ledger
    assert_eq "$(count sends "contact_id IN (SELECT id FROM contacts WHERE email LIKE 'late%' OR email LIKE 'other%')")" 0
    assert_eq "$(state_of user11999@d1.example)" skipped
    assert_eq "$(state_of user00002@d2.example)" skipped
    # the one frozen before the opt-out was skipped when claimed, the
    # other when its chunk froze
    assert_eq "$(q "SELECT s.last_text FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email = 'user00002@d2.example';")" \
        "suppressed after the campaign started"
    assert_eq "$(q "SELECT s.last_text FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email = 'user11999@d1.example';")" \
        "suppressed: unsubscribed"
    check_delivery hi
    assert_eq "$output" "rows 12000, sent 11998, messages 11998, recipients with copies 11998, duplicates 0"
    # a campaign started now has the new members (12,015, two opted out)
    fastrun 0 --templates templates send --template hi --list news --campaign later
    assert_contains "$output" "ledger: 12015 recipients: 12013 sent, 0 queued"
    assert_eq "$(count sends "campaign_id = (SELECT id FROM campaigns WHERE name = 'later') AND contact_id IN (SELECT id FROM contacts WHERE email LIKE 'late%' OR email LIKE 'other%')")" 15
    integrity
}

@test "send freeze: while the freeze is under way send, report and campaigns count the members not frozen yet as queued; cancel ends it" {
    members 12000
    hi 0 --max 1
    assert_contains "$output" "ledger: 12000 recipients: 1 sent, 11999 queued,"
    assert_eq "$(freeze_after)" 4096
    crun 0 report hi --format json
    assert_eq "$(json_get "$output" recipients)" 12000
    assert_eq "$(json_get "$output" queued)" 11999
    assert_eq "$(json_get "$output" sent)" 1
    crun 0 campaigns
    assert_contains "$output" "$(printf '%-20s %-10s %-22s %10d %10d %10d' hi sending - 12000 1 11999)"
    # a dry run renders every recipient, frozen or not yet
    hi 0 --dry-run
    assert_contains "$output" "dry run of campaign hi (template hi, list news): 12000 messages built"
    # a second --max run goes on with the queue and the freeze
    hi 0 --max 5
    assert_contains "$output" "ledger: 12000 recipients: 6 sent, 11994 queued,"
    crun 0 cancel hi
    assert_output "campaign hi cancelled: nothing more will be sent; 11994 recipients left to send are cancelled (7904 of them members not frozen yet, which the campaign's recipients no longer count)"
    assert_eq "$(freeze_after)" ""
    assert_eq "$(count sends)" 4096
    crun 0 report hi --format json
    assert_eq "$(json_get "$output" recipients)" 4096
    assert_eq "$(json_get "$output" queued)" 0
    assert_eq "$(json_get "$output" sent)" 6
    assert_eq "$(json_get "$output" cancelled)" 4090
    hi 0
    assert_contains "$output" "campaign hi is cancelled: nothing to send"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 6
    integrity
}

@test "send freeze: a new campaign checks its first 20,000 members' messages: a broken one among them refuses the send, after them it is unbuildable" {
    # 20,001 members; the 20,001st's first name (in the Subject) has a
    # line break
    many_contacts members.csv 20000
    printf 'zz-last@d0.example,"Last\nBcc: x@example.net",Town\n' >>members.csv
    crun 0 import members.csv --list news
    hi 0 --max 1
    assert_contains "$stderr" "campaign hi: checked the message of the first 20000 recipients; the others' are checked as they are sent (send --dry-run checks every one first)"
    assert_contains "$output" "campaign hi: sent 1,"
    fastrun 65 --templates templates send --template hi --list news
    assert_contains "$output" "unbuildable 1"
    assert_eq "$(state_of zz-last@d0.example)" unbuildable
    assert_eq "$(count sends "state = 'sent'")" 20000
    # the same breakage as the 20,000th mailable member: refused, nothing
    # recorded
    crun 0 import members.csv --list other
    crun 0 optout user00000@d0.example
    crun 65 --templates templates send --template hi --list other --campaign other
    assert_contains "$stderr" "the message cannot be built for 1 of 20000 recipients: nothing sent, nothing recorded"
    assert_not_contains "$stderr" "checked the message of the first"
    assert_eq "$(q "SELECT count(*) FROM campaigns WHERE name = 'other';")" 0
    integrity
}

@test "send freeze: run-due resumes a campaign whose frozen rows are all sent and whose freeze is not complete" {
    members 5000
    # the first chunk's 4,096 messages, and no claim asks for more (a
    # message being handed out counts against --max)
    hi 0 --max 4096 --concurrency 8
    assert_eq "$(freeze_after)" 4096
    assert_eq "$(count sends "state = 'queued'")" 0
    crun 0 --templates templates run-due
    assert_contains "$output" "campaign hi: sent 904,"
    assert_eq "$(freeze_after)" ""
    assert_eq "$(campaign_status hi)" done
    check_delivery hi
    assert_eq "$output" "rows 5000, sent 5000, messages 5000, recipients with copies 5000, duplicates 0"
}

@test "send freeze: the daily cap holds on a new campaign's first run, frozen or not" {
    members 5000
    write_conf "$SINK_PORT" "" "[limits]" "daily_cap = 4200"
    hi 0
    assert_contains "$output" "campaign hi: sent 4200,"
    assert_contains "$output" "daily limit reached"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 4200
    assert_eq "$(q "SELECT sum(sent) FROM daily_sent;")" 4200
}

@test "send freeze: changed template files are checked against the members not frozen yet too" {
    members 5000
    hi 0 --max 1
    assert_eq "$(freeze_after)" 4096
    # the second member (frozen, queued) gets a line break in the first
    # name the Subject shows: unbuildable when the next run reaches it
    printf 'email,first_name\nuser00001@d1.example,"Bad\nBcc: x@example.net"\n' >bad.csv
    crun 0 import bad.csv
    hi 65 --max 3
    assert_contains "$output" "campaign hi: sent 3,"
    assert_eq "$(state_of user00001@d1.example)" unbuildable
    # fixed, and the template changed to show the city; the 4,501st
    # member (not frozen yet) has a line break in it
    printf 'email,first_name\nuser00001@d1.example,Good\n' >good.csv
    crun 0 import good.csv
    printf 'email,city\nuser04500@d6.example,"Rome\nBcc: x@example.net"\n' >city.csv
    crun 0 import city.csv
    printf 'Subject: Hi {{first_name}} from {{city}}\n\n<p>hello</p>\n' >templates/hi.mustache
    local before
    before=$(ls "$SINK_DUMP" | wc -l)
    hi 65
    assert_contains "$stderr" "cannot be built for 1 of the 4996 recipients left to send: nothing sent, nothing changed"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" "$before"
    assert_eq "$(freeze_after)" 4096
}
