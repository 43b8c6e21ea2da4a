#!/usr/bin/env bats
# `campaign send` on a full disk (RELIABILITY.md: "disk full / SQLITE_FULL
# during send: stop before any message whose state cannot be recorded;
# nothing lost once space returns"), against smtp-sink with every message
# dumped.
#
# The disk is filled by enospc.c, an LD_PRELOAD shim built here: while the
# file $FLAG exists, every write to the database, its -wal, -journal and
# -shm fails with ENOSPC, so a test can fill the disk in the middle of a
# running send and free it again.  SQLite reports that as SQLITE_FULL,
# which the store maps to EX_CANTCREAT (73; README, Exit codes).
#
# The big send uses the optimised binary ($CAMPAIGN_FAST_BIN); the small
# ones the binary under test (the sanitizer build: its runtime must then
# accept a preloaded library ahead of it, verify_asan_link_order=0).

load lib
load send_lib

N=4000
# QUEUE_BATCH (engine/queue.h): rows claimed at once
BATCH=64

setup() {
    campaign_setup
    SHIM="$BATS_TEST_TMPDIR/enospc.so"
    FLAG="$BATS_TEST_TMPDIR/disk-full"
    ${CC:-cc} -shared -fPIC -o "$SHIM" "$E2E_TOP/tests/e2e/enospc.c" -ldl ||
        fail "cannot build the enospc shim"
    export ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
}

teardown() {
    send_teardown
}

# full_send N ARGS... - send_status with the disk full for the database
# while $FLAG exists.
full_send() {
    LD_PRELOAD=$SHIM ENOSPC_DB=$DB ENOSPC_FLAG=$FLAG send_status "$@"
}

# dumps - how many messages smtp-sink has stored.
dumps() {
    ls "$SINK_DUMP" | wc -l
}

# hold_open - another process keeps the database open (as `campaign track`
# would), so its -wal and -shm exist when the disk fills: then the first
# failing write is a transaction's, not the opening of the database.
hold_open() {
    "$PY" -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute("SELECT count(*) FROM contacts").fetchall()
print("open", flush=True)
time.sleep(120)
' "$DB" >"$BATS_TEST_TMPDIR/holder.out" &
    track_pid "$!"
    wait_for 10 grep -q open "$BATS_TEST_TMPDIR/holder.out"
}

# nothing_recorded - no ledger row and an unfrozen campaign (if any).
nothing_recorded() {
    assert_eq "$(count sends)" 0 "ledger rows"
    assert_eq "$(count campaigns "frozen_at IS NOT NULL")" 0 "frozen campaigns"
}

# everyone_once M - after a rerun: all M sent, each received exactly once.
everyone_once() {
    integrity
    assert_eq "$(states)" "sent $1" "final states"
    assert_eq "$(campaign_status)" done
    check_delivery
    assert_eq "$output" "rows $1, sent $1, messages $1, recipients with copies $1, duplicates 0"
}

@test "send diskfull: the disk fills mid-send: exit 73 naming the full database, nothing handed out past the claimed window, ledger sound; with space back a rerun finishes, nobody missing, duplicates only uncertain with the same Message-ID" {
    [ -x "$CAMPAIGN_FAST_BIN" ] || fail "CAMPAIGN_FAST_BIN=$CAMPAIGN_FAST_BIN is not executable (make)"
    many_contacts "$BATS_TEST_TMPDIR/big.csv" "$N"
    fastrun 0 import "$BATS_TEST_TMPDIR/big.csv" --list news
    start_sink
    write_conf "$SINK_PORT" "" "[limits]" "burst = 1"
    # 300 a second: the whole campaign would take 13 s
    LD_PRELOAD=$SHIM ENOSPC_DB=$DB ENOSPC_FLAG=$FLAG "$CAMPAIGN_FAST_BIN" \
        --db "$DB" --templates "$TEMPLATES" send --template promo --list news \
        --rate 300/s --concurrency 4 \
        >"$BATS_TEST_TMPDIR/send.out" 2>"$BATS_TEST_TMPDIR/send.err" &
    local pid=$! rc=0 t0 ms i
    track_pid "$pid"
    wait_for 30 dumps_at_least 300
    gone "$pid" && fail "the send ended before the disk filled:" "$(cat "$BATS_TEST_TMPDIR/send.err")"
    touch "$FLAG"
    t0=$(date +%s%N)
    # what smtp-sink has now came in before or while the disk filled;
    # anything later was handed out after
    ls "$SINK_DUMP" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/before.lst"
    # it stops soon: at most 5 s (sending on would take 10 s more)
    for ((i = 0; i < 100; i++)); do
        gone "$pid" && break
        sleep 0.05
    done
    gone "$pid" || fail "still running 5 s after the disk filled ($(dumps) messages received)"
    wait "$pid" || rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    local out err
    out=$(cat "$BATS_TEST_TMPDIR/send.out")
    err=$(cat "$BATS_TEST_TMPDIR/send.err")
    # EX_CANTCREAT, and the cause: the database, and that it is full
    [ "$rc" -eq 73 ] || fail "exit status $rc, expected 73" "--- stdout:" "$out" "--- stderr:" "$err"
    assert_contains "$err" "$DB: "
    assert_contains "$err" "database or disk is full"
    assert_contains "$out" "campaign sending"

    # handed out after the disk filled: only rows already claimed (durably
    # `sending`, their result never recorded), at most the claimed window
    ls "$SINK_DUMP" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/after.lst"
    local late sending bad
    late=$(LC_ALL=C comm -13 "$BATS_TEST_TMPDIR/before.lst" "$BATS_TEST_TMPDIR/after.lst" | wc -l)
    sending=$(count sends "state = 'sending'")
    [ "$sending" -le $((2 * BATCH)) ] || fail "$sending rows sending: more than the claimed window"
    [ "$late" -le "$sending" ] || fail "$late messages after the disk filled, only $sending rows claimed"
    q "SELECT c.email FROM sends s JOIN contacts c ON c.id = s.contact_id
        WHERE s.state = 'sending';" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/sending.lst"
    # the recipients of the late messages (one each)
    LC_ALL=C comm -13 "$BATS_TEST_TMPDIR/before.lst" "$BATS_TEST_TMPDIR/after.lst" |
        sed "s|^|$SINK_DUMP/|" >"$BATS_TEST_TMPDIR/late.files"
    received | awk -F'\t' 'NR == FNR { late[$0] = 1; next } ($3 in late) { print $1 }' \
        "$BATS_TEST_TMPDIR/late.files" - | LC_ALL=C sort >"$BATS_TEST_TMPDIR/late.rcpts"
    assert_eq "$(wc -l <"$BATS_TEST_TMPDIR/late.rcpts")" "$late" "recipients of the late messages"
    bad=$(LC_ALL=C comm -23 "$BATS_TEST_TMPDIR/late.rcpts" "$BATS_TEST_TMPDIR/sending.lst")
    [ -z "$bad" ] || fail "messages after the disk filled went to rows not claimed (not 'sending'):" "$bad"
    # nowhere near the end, and the ledger is sound
    local before
    before=$(wc -l <"$BATS_TEST_TMPDIR/before.lst")
    [ "$before" -lt $((N / 2)) ] || fail "$before messages before the disk filled: too late to tell"
    integrity
    assert_eq "$(count sends)" "$N" "ledger rows"
    assert_eq "$(q "SELECT sum(n) FROM (SELECT count(*) AS n FROM sends GROUP BY state);")" "$N" "states add up"
    assert_eq "$(count sends "state NOT IN ('queued', 'sending', 'sent')")" 0 "rows in other states"
    assert_eq "$(q "SELECT count(*) FROM campaigns WHERE name = 'promo' AND finished_at IS NOT NULL;")" 0 "finished_at"
    sed "s/^/# /" <<<"$err" >&3
    echo "# stopped ${ms} ms after the disk filled: $before messages before, $late after, $sending rows claimed" >&3

    # space returns: the rerun finishes the campaign
    rm -f "$FLAG"
    fastrun 0 --templates "$TEMPLATES" send --template promo --list news
    assert_contains "$output" "campaign done"
    # the crash journal kept what the database could not: each late
    # message's 250 is recorded sent, none is resent
    assert_contains "$stderr" "the last run stopped before recording $sending recipients; its crash journal says"
    integrity
    assert_eq "$(states)" "sent $N" "final states"
    assert_eq "$(count sends "message_id IS NULL")" 0
    check_delivery
    local summary=$output dups unc
    assert_contains "$summary" "rows $N, sent $N, "
    assert_contains "$summary" "recipients with copies $N, "
    dups=$(sed -n 's/.*duplicates \([0-9]*\)$/\1/p' <<<"$summary")
    unc=$(count sends "was_uncertain > 0")
    # the duplicates are the late messages whose results were lost with
    # the disk (check_delivery: each among the uncertain rows, same
    # Message-ID)
    [ "$dups" -le "$unc" ] || fail "$dups duplicates but only $unc uncertain rows"
    [ "$dups" -le "$sending" ] || fail "$dups duplicates, more than the $sending rows claimed"
    # every reply was read before the run stopped: the journal has them all
    assert_eq "$dups" 0 "duplicates (the journal recorded every late 250)"
    assert_eq "$unc" 0 "rows ever uncertain"
}

@test "send diskfull: full before the run, nobody else has the database open: exit 73 'No space left on device', nothing recorded or sent; with space back everyone gets one copy" {
    # shellcheck disable=SC2046
    list_of $(addrs 20)
    start_sink
    write_conf "$SINK_PORT"
    touch "$FLAG"
    # SQLite cannot even set up the database's -shm file
    full_send 73
    assert_contains "$stderr" "$DB: "
    assert_contains "$stderr" "(No space left on device)"
    assert_eq "$(dumps)" 0 "messages sent"
    integrity
    nothing_recorded
    rm -f "$FLAG"
    send_status 0
    assert_contains "$output" "campaign done"
    everyone_once 20
}

@test "send diskfull: full before the freeze (the database held open elsewhere): exit 73 'database or disk is full', no ledger, nothing sent; with space back everyone gets one copy" {
    # shellcheck disable=SC2046
    list_of $(addrs 20)
    start_sink
    write_conf "$SINK_PORT"
    # a dry run records nothing: the campaign does not exist yet, and its
    # creation is the first commit to fail
    send_status 0 --dry-run
    assert_eq "$(count campaigns)" 0
    hold_open
    touch "$FLAG"
    full_send 73
    assert_contains "$stderr" "$DB: commit: database or disk is full"
    assert_eq "$(dumps)" 0 "messages sent"
    integrity
    nothing_recorded
    rm -f "$FLAG"
    send_status 0
    assert_contains "$output" "campaign done"
    everyone_once 20
}

@test "send diskfull: full on resume, the first claim cannot be committed: exit 73, nothing more sent, the ledger unchanged; with space back the rest is sent once" {
    # shellcheck disable=SC2046
    list_of $(addrs 20)
    start_sink
    write_conf "$SINK_PORT"
    send_status 0 --max 5
    assert_eq "$(states)" "$(printf 'queued 15\nsent 5')"
    q "SELECT * FROM sends ORDER BY contact_id;" >"$BATS_TEST_TMPDIR/ledger.before"
    hold_open
    touch "$FLAG"
    full_send 73
    assert_contains "$stderr" "$DB: commit: database or disk is full"
    assert_eq "$(dumps)" 5 "messages sent"
    integrity
    q "SELECT * FROM sends ORDER BY contact_id;" >"$BATS_TEST_TMPDIR/ledger.after"
    same_file "$BATS_TEST_TMPDIR/ledger.before" "$BATS_TEST_TMPDIR/ledger.after"
    assert_eq "$(campaign_status)" sending
    rm -f "$FLAG"
    send_status 0
    assert_contains "$output" "campaign done"
    everyone_once 20
}
