#!/usr/bin/env bats
# cron.bats - campaigns that run on their own (issue 15, README "Cron"):
# send --at, run-due, the sending window, the daily cap and warm-up,
# deferrals retried when due, resend, campaigns, the overdue rule, and the
# crontab line and systemd units of the README.
#
# The wall clock is moved with CAMPAIGN_TEST_NOW (engine/clock.h: it
# exists for these tests), UTC.  2026-12-07 is a Monday; Europe/Rome is
# UTC+1 in December, so its 09:00-18:00 is 08:00-17:00 UTC.  The relay is
# Postfix's smtp-sink, every message dumped.

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    unset CAMPAIGN_TEST_NOW
    send_teardown
}

# at TIME - the clock of the commands that follow (UTC)
at() {
    export CAMPAIGN_TEST_NOW="$1"
}

# due [N] - run-due with exit status N (default 0)
due() {
    crun "${1:-0}" --templates "$TEMPLATES" run-due "${@:2}"
}

# sent_rows [CAMPAIGN] - recipients sent in the ledger
sent_rows() {
    q "SELECT count(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id
        WHERE c.name = $(sqlstr "${1:-promo}") AND s.state = 'sent';"
}

# delivered - messages smtp-sink received so far
delivered() {
    ls "$SINK_DUMP" | wc -l
}

# together A B - run-due in the background; "both" when the send locks of
# campaigns A and B were held at one moment, else "never"; both sent
together() {
    local a b i both=never
    a="$DB.campaign-$(q "SELECT id FROM campaigns WHERE name = '$1';").lock"
    b="$DB.campaign-$(q "SELECT id FROM campaigns WHERE name = '$2';").lock"
    # looked for in /proc/locks by inode, never taken here (a send that
    # met the test's own lock would fail)
    touch "$a" "$b"
    a=$(stat -c %i "$a")
    b=$(stat -c %i "$b")
    camp --templates "$TEMPLATES" run-due >"$BATS_TEST_TMPDIR/due.out" 2>&1 &
    local pid=$!
    for ((i = 0; i < 300; i++)); do
        if grep -q ":$a " /proc/locks && grep -q ":$b " /proc/locks; then
            both=both
        fi
        gone "$pid" && break
        sleep 0.02
    done
    wait "$pid" || fail "run-due failed" "$(cat "$BATS_TEST_TMPDIR/due.out")"
    TOGETHER_OUT=$(cat "$BATS_TEST_TMPDIR/due.out")
    grep -q "campaign $1: sent 6" "$BATS_TEST_TMPDIR/due.out" &&
        grep -q "campaign $2: sent 6" "$BATS_TEST_TMPDIR/due.out" ||
        fail "not both sent:" "$(cat "$BATS_TEST_TMPDIR/due.out")"
    echo "$both"
}

# hold_lock FILE - a process holding flock(FILE) until stopped; its pid
# in HOLDER, returns once the lock is held
hold_lock() {
    rm -f "$BATS_TEST_TMPDIR/held"
    "$PY" -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
open(sys.argv[2], "w").close()
time.sleep(60)' "$1" "$BATS_TEST_TMPDIR/held" &
    HOLDER=$!
    track_pid "$HOLDER"
    wait_for 10 test -e "$BATS_TEST_TMPDIR/held"
}

rome_conf() {
    write_conf "$SINK_PORT" "" "[limits]" "timezone = Europe/Rome" "$@"
}

@test "cron: send --at schedules and sends nothing; run-due starts it at its time, with the list's members of then" {
    list_of $(addrs 3)
    start_sink
    rome_conf
    at "2026-12-07 07:00"
    send_status 0 --at "2026-12-07 10:00"
    assert_contains "$output" "campaign promo scheduled for 2026-12-07 10:00 CET (2026-12-07 09:00:00 UTC)"
    assert_eq "$(campaign_status)" scheduled
    assert_eq "$(delivered)" 0
    crun 0 campaigns
    assert_contains "$output" "promo"
    assert_contains "$output" "scheduled  2026-12-07 10:00 CET"
    # a send before its time says when, and sends nothing
    send_status 0
    assert_contains "$output" "campaign promo is scheduled for 2026-12-07 10:00 CET"
    # run-due before its time: nothing, quietly
    at "2026-12-07 08:59"
    due
    assert_eq "$output" ""
    assert_eq "$(delivered)" 0
    # members added meanwhile are recipients: frozen when it starts
    contacts "$BATS_TEST_TMPDIR/late.csv" late1@example.com late2@example.com
    crun 0 import "$BATS_TEST_TMPDIR/late.csv" --list news
    at "2026-12-07 09:00"
    due
    assert_eq "${#lines[@]}" 1 "one summary line: $output"
    assert_contains "$output" "campaign promo: sent 5, deferred 0"
    assert_eq "$(campaign_status)" done
    check_delivery
    assert_eq "$(copies late2@example.com)" 1
    # and nothing more, ever
    at "2026-12-07 09:30"
    due
    assert_eq "$output" ""
    assert_eq "$(delivered)" 5
}

@test "cron: --at refuses the past, a time the clocks skip, an unknown zone, a started campaign" {
    list_of $(addrs 2)
    start_sink
    rome_conf
    at "2026-12-07 12:00"
    send_status 64 --at "2026-12-07 09:00"
    assert_contains "$stderr" "is in the past"
    send_status 64 --at "2027-03-28 02:30"
    assert_contains "$stderr" "does not exist there"
    send_status 64 --at "2026-12-24 09:00 Mars/Olympus"
    assert_contains "$stderr" "unknown time zone"
    send_status 64 --at "next tuesday"
    send_status 64 --at "2026-12-24 09:00" --max 5
    assert_eq "$(count campaigns)" 0 "nothing recorded by a refused --at"
    send_status 0 --max 1
    send_status 64 --at "2026-12-24 09:00"
    assert_contains "$stderr" "has started"
    send_status 0
    send_status 65 --at "2026-12-24 09:00"
    assert_contains "$stderr" "campaign promo is finished: it cannot be scheduled"
}

@test "cron: a schedule more than grace overdue is said, not started, until --force or resume" {
    list_of $(addrs 2)
    start_sink
    rome_conf
    at "2026-12-07 07:00"
    send_status 0 --at "2026-12-07 09:00"
    send_status 0 --campaign second --at "2026-12-07 09:00"
    # the machine was off: 3 h 10 min later
    at "2026-12-07 11:10"
    due
    assert_contains "$output" "campaign promo: scheduled for 2026-12-07 09:00 CET, overdue by 3 h 10 min"
    assert_contains "$output" "campaign run-due --force or campaign resume promo starts it"
    assert_eq "$(delivered)" 0
    # they stay overdue: a run minutes later says so again
    assert_eq "$(campaign_status)" overdue
    at "2026-12-07 11:15"
    due
    assert_contains "$output" "campaign promo: scheduled for 2026-12-07 09:00 CET, overdue by 3 h 15 min"
    assert_contains "$output" "campaign second: scheduled for"
    assert_eq "$(delivered)" 0
    crun 0 campaigns
    assert_contains "$output" "overdue"
    # resume makes one of them due now
    crun 0 resume promo
    assert_contains "$output" "scheduled for 2026-12-07 11:15:00 UTC"
    due
    assert_contains "$output" "campaign promo: sent 2"
    assert_contains "$output" "campaign second: scheduled for"
    assert_eq "$(campaign_status second)" overdue
    # --force starts the other
    due 0 --force
    assert_contains "$output" "campaign second: sent 2"
    assert_eq "$(delivered)" 4
    # within the grace it simply starts (13:00 in Rome is 12:00 UTC)
    send_status 0 --campaign third --at "2026-12-07 13:00"
    at "2026-12-07 13:30"
    due
    assert_contains "$output" "campaign third: sent 2"
    # a grace of its own: 15:00 in Rome is 14:00 UTC
    send_status 0 --campaign fourth --at "2026-12-07 15:00"
    rome_conf "grace = 10m"
    at "2026-12-07 14:09"
    due
    assert_contains "$output" "campaign fourth: sent 2"
    send_status 0 --campaign fifth --at "2026-12-07 16:00"
    at "2026-12-07 15:11"
    due
    assert_contains "$output" "campaign fifth: scheduled for 2026-12-07 16:00 CET, overdue by 0 h 11 min (more than the grace of 10 min"
}

@test "cron: outside the sending window nothing is sent; a send stops when it closes; the next window goes on" {
    list_of $(addrs 40)
    start_sink
    rome_conf "window = Mon-Fri 09:00-18:00" "burst = 1" "daily_cap = 1000"
    # Saturday noon in Rome
    at "2026-12-05 11:00"
    send_status 0
    assert_contains "$output" "campaign promo: outside the sending window (Mon-Fri 09:00-18:00): it opens at 2026-12-07 09:00 CET; nothing sent"
    assert_eq "$(delivered)" 0
    assert_eq "$(count sends)" 0 "nothing frozen outside the window"
    # Monday 17:59:52 in Rome: eight seconds at 2/s before it closes
    at "2026-12-07 16:59:52"
    send_status 0 --rate 2/s
    assert_contains "$output" "(the sending window closed)"
    assert_contains "$output" "campaign promo: the sending window closed at 2026-12-07 18:00 CET"
    local first
    first=$(sent_rows)
    [ "$first" -ge 1 ] && [ "$first" -le 20 ] || fail "sent $first in the last 8 s of the window at 2/s"
    # it had reserved all 40 of the day's 1000: the rest was given back
    assert_eq "$(q "SELECT sent FROM daily_sent;")" "$first" "the day's count"
    assert_eq "$(campaign_status)" sending
    # the evening and the night: run-due does nothing, says nothing
    at "2026-12-07 20:00"
    due
    assert_eq "$output" ""
    at "2026-12-08 07:59"
    due
    assert_eq "$output" ""
    assert_eq "$(sent_rows)" "$first"
    # Tuesday 09:00 in Rome: the rest
    at "2026-12-08 08:00"
    due
    assert_contains "$output" "campaign promo: sent $((40 - first)), deferred 0"
    assert_eq "$(campaign_status)" done
    check_delivery
    assert_eq "$output" "rows 40, sent 40, messages 40, recipients with copies 40, duplicates 0"
}

@test "cron: daily_cap and warmup: a day's allowance per sending domain, then 'daily limit reached, N left for tomorrow'" {
    list_of $(addrs 12)
    start_sink
    rome_conf "daily_cap = 5"
    at "2026-12-07 10:00"
    send_status 0
    assert_contains "$output" "sent 5, deferred 0"
    assert_contains "$output" "(daily limit reached)"
    assert_contains "$output" "campaign promo: daily limit reached (5 today from acme.example), 7 left for tomorrow"
    send_status 0
    assert_contains "$output" "campaign promo: daily limit reached (5 of 5 today from acme.example), 7 left for tomorrow"
    due
    assert_eq "$output" ""
    # 23:30 UTC is already tomorrow in Rome
    at "2026-12-07 23:30"
    due
    assert_contains "$output" "campaign promo: sent 5"
    at "2026-12-08 22:59"
    due
    assert_eq "$output" ""
    at "2026-12-08 23:00"
    due
    assert_contains "$output" "campaign promo: sent 2"
    assert_eq "$(campaign_status)" done
    assert_eq "$(q "SELECT group_concat(sent, ',') FROM (SELECT sent FROM daily_sent ORDER BY day);")" "5,5,2"
    check_delivery
    rm -f "$SINK_DUMP"/*
    # another campaign from the same domain shares the day's count: the
    # 9th (in Rome) had 2
    list_of $(addrs 12 other)
    at "2026-12-09 10:00"
    send_status 0 --campaign more
    assert_contains "$output" "campaign more: sent 3, deferred 0"
    assert_contains "$output" "campaign more: daily limit reached (5 today from acme.example), 21 left for tomorrow"
    # a warm-up: 2, then 4, then the cap
    rome_conf "daily_cap = 100" "warmup = 2, 4" "warmup_start = 2026-12-10"
    at "2026-12-10 10:00"
    send_status 0 --campaign more
    assert_contains "$output" "sent 2, deferred 0"
    at "2026-12-11 10:00"
    due
    assert_contains "$output" "campaign more: sent 4"
    at "2026-12-12 10:00"
    due
    assert_contains "$output" "campaign more: sent 15"
    assert_eq "$(campaign_status more)" done
    check_delivery more
}

@test "cron: run-due across a window, a daily cap and deferrals: everyone gets exactly one copy" {
    list_of $(addrs 30)
    start_sink - -r RCPT
    local port=$SINK_PORT
    rome_conf "window = Mon-Fri 09:00-18:00" "daily_cap = 20"
    at "2026-12-07 06:00"
    send_status 0 --at "2026-12-07 10:00"
    local h day before n outside=0 deferred_seen=0
    # every hour from Monday 06:00 to Wednesday 20:00 UTC; the day's 20
    # are spent on Monday by deferrals, Tuesday sends 20 (the deferred
    # ones due again among them), Wednesday the last 10
    for ((h = 0; h < 63; h++)); do
        local t
        t=$(date -u -d "2026-12-07 06:00 UTC + $h hour" '+%Y-%m-%d %H:%M')
        at "$t"
        # the relay defers everything until Monday 11:00 UTC
        if [ "$t" = "2026-12-07 11:00" ]; then
            stop_sink
            start_sink "$port"
        fi
        before=$(delivered)
        due
        n=$(($(delivered) - before))
        case "$output" in *"deferred "[1-9]*) deferred_seen=1 ;; esac
        local hh=${t#* }
        hh=${hh%:*}
        if [ "$n" -gt 0 ] && { [ "$hh" -lt 8 ] || [ "$hh" -ge 17 ]; }; then
            outside=1
        fi
        [ "$(campaign_status)" = done ] && break
    done
    assert_eq "$outside" 0 "nothing delivered outside the window"
    assert_eq "$deferred_seen" 1 "the relay's 4xx deferred recipients"
    assert_eq "$(campaign_status)" done "done by $t"
    check_delivery
    assert_eq "$output" "rows 30, sent 30, messages 30, recipients with copies 30, duplicates 0"
    # the cap held: attempts (deferrals included) per day
    run q "SELECT max(sent) FROM daily_sent;"
    [ "$output" -le 20 ] || fail "a day carried $output messages"
}

@test "cron: run-due retries deferrals when their time comes, not before; a run gives back the day's allowance it did not use" {
    list_of $(addrs 3)
    start_sink - -r RCPT
    local port=$SINK_PORT
    rome_conf "daily_cap = 10"
    at "2026-12-07 10:00"
    send_status 0
    assert_contains "$output" "sent 0, deferred 3"
    assert_eq "$(q "SELECT sent FROM daily_sent;")" 3
    stop_sink
    start_sink "$port"
    # a send before the retries are due sends nothing and keeps the count
    at "2026-12-07 10:01"
    send_status 0
    assert_contains "$output" "sent 0, deferred 0"
    assert_eq "$(q "SELECT sent FROM daily_sent;")" 3 "the unused reservation given back"
    due
    assert_eq "$output" ""
    # the first back-off is 5 minutes
    at "2026-12-07 10:06"
    due
    assert_contains "$output" "campaign promo: sent 3, deferred 0"
    assert_eq "$(campaign_status)" done
    assert_eq "$(q "SELECT sent FROM daily_sent;")" 6
    check_delivery
}

@test "cron: resend --deferred --failed --expired --uncertain queues them again, suppressions honoured" {
    list_of $(addrs 4)
    start_sink - -r RCPT
    rome_conf
    at "2026-12-07 10:00"
    send_status 0
    assert_contains "$output" "deferred 4"
    # one of them opts out meanwhile; one row is made expired, one failed
    crun 0 optout user04@example.com
    q "UPDATE sends SET state = 'expired', attempts = 20 WHERE contact_id =
         (SELECT id FROM contacts WHERE email = 'user03@example.com');"
    q "UPDATE sends SET state = 'failed' WHERE contact_id =
         (SELECT id FROM contacts WHERE email = 'user02@example.com');"
    crun 64 resend promo
    crun 66 resend nosuch --deferred
    crun 0 resend promo --deferred --expired
    assert_eq "$output" "campaign promo: 3 recipients queued again (deferred 2, expired 1): the next send or run-due sends them; addresses suppressed since are skipped"
    assert_eq "$(state_of user03@example.com)" queued
    assert_eq "$(state_of user02@example.com)" failed
    crun 0 resend promo --failed
    assert_contains "$output" "1 recipient queued again (failed 1)"
    # the expired one has its attempts again: a 4xx defers it, it does
    # not expire at once; the one who opted out is skipped
    send_status 0
    assert_contains "$output" "sent 0, deferred 3, bounced 0, failed 0, skipped 1"
    assert_eq "$(state_of user03@example.com)" deferred
    assert_eq "$(state_of user04@example.com)" skipped
    stop_sink
    start_sink
    rome_conf
    at "2026-12-08 10:00"
    due
    assert_contains "$output" "campaign promo: sent 3, deferred 0"
    assert_eq "$(copies user04@example.com)" 0
    assert_eq "$(campaign_status)" done
    # a finished campaign with nothing of those states: nothing
    crun 0 resend promo --deferred
    assert_eq "$output" "campaign promo: 0 recipients queued again (deferred 0)"
    assert_eq "$(campaign_status)" done
    # an uncertain one that had its retry
    q "UPDATE sends SET state = 'uncertain', was_uncertain = 2 WHERE contact_id =
         (SELECT id FROM contacts WHERE email = 'user01@example.com');"
    crun 0 resend promo --uncertain --deferred
    assert_contains "$output" "campaign promo: 1 recipient queued again (deferred 0, uncertain 1)"
    assert_eq "$(state_of user01@example.com)" queued
    assert_eq "$(campaign_status)" sending
    q "UPDATE campaigns SET status = 'cancelled' WHERE name = 'promo';"
    crun 65 resend promo --failed
    assert_contains "$stderr" "cancelled"
}

@test "cron: run-due leaves a campaign whose send runs; [limits] campaigns sends several at once" {
    list_of $(addrs 6)
    start_sink
    rome_conf "campaigns = 2"
    at "2026-12-07 07:00"
    send_status 0 --at "2026-12-07 09:00"
    send_status 0 --campaign second --at "2026-12-07 09:00"
    at "2026-12-07 09:00"
    # a send of promo holds its lock
    local id
    id=$(q "SELECT id FROM campaigns WHERE name = 'promo';")
    hold_lock "$DB.campaign-$id.lock"
    local holder=$HOLDER
    due
    assert_not_contains "$output" "campaign promo"
    assert_contains "$output" "campaign second: sent 6"
    assert_eq "$(campaign_status)" scheduled
    stop_pid "$holder"
    due
    assert_contains "$output" "campaign promo: sent 6"
    # two at once: both sends hold their locks at the same moment (each
    # takes 1.25 s at 4/s for 6); with campaigns = 1, never
    send_status 0 --campaign third --at "2026-12-07 11:00"
    send_status 0 --campaign fourth --at "2026-12-07 11:00"
    send_status 0 --campaign fifth --at "2026-12-07 12:00"
    send_status 0 --campaign sixth --at "2026-12-07 12:00"
    rome_conf "campaigns = 2" "rate = 4/s" "burst = 1"
    at "2026-12-07 10:00"
    local t0 ms
    t0=$(date +%s%3N)
    assert_eq "$(together third fourth)" "both" "campaigns = 2"
    # sharing [limits] rate: 12 messages at 4/s together, not 6 at 4/s each
    ms=$(($(date +%s%3N) - t0))
    [ "$ms" -ge 2000 ] || fail "two sends of 6 at a shared 4/s took $ms ms: the rate was not shared"
    rome_conf "campaigns = 1" "rate = 4/s" "burst = 1"
    at "2026-12-07 11:00"
    assert_eq "$(together fifth sixth)" "never" "campaigns = 1"
}

@test "cron: bad [limits] window, timezone, caps and grace name the line; a bad CAMPAIGN_TEST_NOW is refused" {
    list_of $(addrs 1)
    start_sink
    local bad
    for bad in "window = Mon-Fri 9-18" "window = Funday 09:00-18:00" \
        "window = 09:00-18:00 Mars/Olympus" "timezone = Europe/Nowhere" \
        "daily_cap = 0" "warmup = 500, 100" "warmup_start = 2026-13-01" \
        "grace = soon" "grace = 5m" "campaigns = 0"; do
        write_conf "$SINK_PORT" "" "[limits]" "$bad"
        crun 78 run-due
        assert_contains "$stderr" "campaign.conf:10: "
    done
    write_conf "$SINK_PORT" "" "[limits]" "warmup = 500, 1000"
    crun 78 run-due
    assert_contains "$stderr" "warmup needs warmup_start"
    # the environment's window replaces the file's
    write_conf "$SINK_PORT" "" "[limits]" "window = Mon-Fri 09:00-18:00"
    CAMPAIGN_LIMITS_WINDOW="Sat 10:00-11:00" crun 0 campaigns
    assert_contains "$output" "sending window: Sat 10:00-11:00 ("
    assert_not_contains "$output" "Mon-Fri"
    write_conf "$SINK_PORT"
    at "yesterday"
    crun 64 campaigns
    assert_contains "$stderr" "CAMPAIGN_TEST_NOW"
}

@test "cron: the README's crontab line and the systemd service run run-due; systemd-analyze verifies the units" {
    local line cmd wd exec unit k srv="$BATS_TEST_TMPDIR/srv"
    # a directory as the README describes: campaign.db, campaign.conf and
    # templates/ in it, nothing named on the command line
    mkdir "$srv"
    ln -s "$TEMPLATES" "$srv/templates"
    DB="$srv/campaign.db"
    crun 0 init
    list_of $(addrs 3)
    start_sink
    rome_conf
    mv "$BATS_TEST_TMPDIR/campaign.conf" "$srv/campaign.conf"
    at "2026-12-07 07:00"
    (cd "$srv" && camp send --template promo --list news --at "2026-12-07 10:00" &&
        camp send --template promo --list news --campaign second --at "2026-12-07 11:00") ||
        fail "scheduling failed"
    # the crontab line of the README, its paths made this test's
    line=$(grep -E '^\*/5 \* \* \* \* ' "$E2E_TOP/README.md")
    [ -n "$line" ] || fail "no crontab line in README.md"
    cmd=${line#"*/5 * * * * "}
    cmd=${cmd//\/srv\/campaign/$srv}
    cmd=${cmd//\/usr\/local\/bin\/campaign/$CAMPAIGN_BIN}
    at "2026-12-07 09:05"
    run --separate-stderr sh -c "cd / && $cmd"
    no_sanitizer_report
    expect_status 0
    assert_eq "$output" "$(printf '%s' "$output" | grep -m1 '^campaign promo: sent 3, deferred 0')"
    assert_eq "$(campaign_status second)" scheduled
    check_delivery
    rm -f "$SINK_DUMP"/*
    # the service: its ExecStart in its WorkingDirectory
    unit="$E2E_TOP/scripts/systemd/campaign-run-due.service"
    wd=$(sed -n 's/^WorkingDirectory=//p' "$unit")
    exec=$(sed -n 's/^ExecStart=//p' "$unit")
    assert_eq "$wd" /srv/campaign
    exec=${exec//\/usr\/local\/bin\/campaign/$CAMPAIGN_BIN}
    at "2026-12-07 10:05"
    run --separate-stderr sh -c "cd '$srv' && $exec"
    no_sanitizer_report
    expect_status 0
    assert_contains "$output" "campaign second: sent 3, deferred 0"
    check_delivery second
    # the README shows the units' settings as they are in the files
    for k in Type=oneshot User=campaign WorkingDirectory=/srv/campaign \
        EnvironmentFile=-/etc/campaign/environment \
        "ExecStart=/usr/local/bin/campaign run-due" TimeoutStartSec=infinity \
        "OnCalendar=*:0/5" AccuracySec=30s WantedBy=timers.target; do
        grep -qxF "$k" "$E2E_TOP/README.md" || fail "README lacks $k"
        cat "$E2E_TOP"/scripts/systemd/campaign-run-due.* | grep -qxF "$k" ||
            fail "scripts/systemd lacks $k"
    done
    # systemd's own check of both units
    command -v systemd-analyze >/dev/null ||
        fail "systemd-analyze is not installed (scripts/install-deps installs systemd)"
    mkdir -p "$BATS_TEST_TMPDIR/units"
    sed "s|/usr/local/bin/campaign|$CAMPAIGN_BIN|; s|/srv/campaign|$BATS_TEST_TMPDIR|" \
        "$unit" >"$BATS_TEST_TMPDIR/units/campaign-run-due.service"
    cp "$E2E_TOP/scripts/systemd/campaign-run-due.timer" "$BATS_TEST_TMPDIR/units/"
    run systemd-analyze verify "$BATS_TEST_TMPDIR/units/campaign-run-due.service" \
        "$BATS_TEST_TMPDIR/units/campaign-run-due.timer"
    [ "$status" -eq 0 ] || fail "systemd-analyze verify:" "$output"
    [ -z "$output" ] || fail "systemd-analyze verify warns:" "$output"
}

@test "cron: a schedule held back while run-due ran (the window, the cap) is not overdue; one run-due at a time" {
    list_of $(addrs 3)
    start_sink
    rome_conf "window = Mon-Fri 09:00-18:00" "grace = 4h"
    # Saturday 10:00 in Rome: outside the window
    at "2026-12-05 07:00"
    send_status 0 --at "2026-12-05 10:00"
    local h
    # run-due every three hours over the week end (within the grace of
    # 4 h): quiet
    for h in "2026-12-05 09:00" "2026-12-05 12:00" "2026-12-05 15:00" \
        "2026-12-05 18:00" "2026-12-05 21:00" "2026-12-06 00:00" \
        "2026-12-06 03:00" "2026-12-06 06:00" "2026-12-06 09:00" \
        "2026-12-06 12:00" "2026-12-06 15:00" "2026-12-06 18:00" \
        "2026-12-06 21:00" "2026-12-07 00:00" "2026-12-07 03:00" \
        "2026-12-07 06:00"; do
        at "$h"
        due
        assert_eq "$output" "" "run-due at $h"
    done
    # Monday 09:00 in Rome: 47 h after its time, but run-due ran all along
    at "2026-12-07 08:00"
    due
    assert_contains "$output" "campaign promo: sent 3"
    # another run-due holds the lock: this one does nothing, quietly
    send_status 0 --campaign second --at "2026-12-07 10:00"
    at "2026-12-07 09:00"
    hold_lock "$DB.run-due.lock"
    due
    assert_eq "$output" ""
    assert_eq "$(campaign_status second)" scheduled
    stop_pid "$HOLDER"
    due
    assert_contains "$output" "campaign second: sent 3"
    # a resend while a send of the campaign runs: 75, nothing moved
    local id
    id=$(q "SELECT id FROM campaigns WHERE name = 'second';")
    hold_lock "$DB.campaign-$id.lock"
    crun 75 resend second --failed
    stop_pid "$HOLDER"
}

@test "cron: a recipient suppressed since the freeze takes nothing of the day's allowance" {
    list_of $(addrs 3)
    start_sink
    rome_conf "daily_cap = 10"
    at "2026-12-07 10:00"
    send_status 0 --max 1
    assert_eq "$(q "SELECT sent FROM daily_sent;")" 1
    crun 0 optout user03@example.com
    send_status 0
    assert_contains "$output" "sent 1, deferred 0, bounced 0, failed 0, skipped 1"
    assert_eq "$(q "SELECT sent FROM daily_sent;")" 2 "the skipped one's reservation given back"
    check_delivery
}
