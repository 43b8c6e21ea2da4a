#!/usr/bin/env bats
# Issue 4, tests: `kill -9` of `campaign send` at 30 random instants of a
# 5,000-recipient campaign against smtp-sink (every message dumped), each
# followed by a check of the ledger, then a rerun that finishes it
# (RELIABILITY.md: the ledger, and kill -9 at any instant).
#
# The optimised binary ($CAMPAIGN_FAST_BIN) sends: the sanitizer build is
# too slow for 5,000 messages in the time.  --rate spreads the run so the
# kills land before the first claim, after a claim, mid-DATA, after the
# dot and between a 250 and the commit of its result.  The instants come
# from a seed printed on failure (CRASH_SEED=N to replay one).

load lib
load send_lib

N=5000
KILLS=30

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# owed - rows a rerun still has to send (queued, claimed, deferred, or
# uncertain and owed their retry).
owed() {
    count sends "state IN ('queued', 'sending', 'deferred') OR (state = 'uncertain' AND was_uncertain = 1)"
}

@test "send crash: kill -9 at 30 random instants of a 5,000-recipient campaign; reruns finish it, nobody missing, duplicates only uncertain and with the same Message-ID" {
    [ -x "$CAMPAIGN_FAST_BIN" ] || fail "CAMPAIGN_FAST_BIN=$CAMPAIGN_FAST_BIN is not executable (make)"
    local seed=${CRASH_SEED:-$((RANDOM * 32768 + RANDOM))}
    RANDOM=$seed
    many_contacts "$BATS_TEST_TMPDIR/big.csv" "$N"
    fastrun 0 import "$BATS_TEST_TMPDIR/big.csv" --list news
    assert_eq "$output" "$(summary "$N" 0 0 0)"
    start_sink
    # 400 messages a second, after a burst of 10: about a hundred per
    # run, so the 30 kills leave the campaign unfinished
    write_conf "$SINK_PORT" "" "[limits]" "burst = 10"

    local i pid rc ms killed=0 finished=0 progressed=0 before after st log
    log="$BATS_TEST_TMPDIR/runs.log"
    for ((i = 1; i <= KILLS; i++)); do
        # one instant in five very early (start-up, recovery, first
        # claim); the others anywhere in the first 600 ms of the run (on
        # a loaded machine start-up alone can take a hundred)
        if ((RANDOM % 5 == 0)); then
            ms=$((RANDOM % 40))
        else
            ms=$((40 + RANDOM % 560))
        fi
        before=$(count sends "state = 'sent'")
        "$CAMPAIGN_FAST_BIN" --db "$DB" --templates "$TEMPLATES" send --template promo \
            --list news --rate 400/s --concurrency 4 >>"$log" 2>&1 &
        pid=$!
        sleep "$(printf '0.%03d' "$ms")"
        kill -9 "$pid" 2>/dev/null || :
        rc=0
        wait "$pid" 2>/dev/null || rc=$?
        echo "run $i: killed after ${ms} ms, exit $rc" >>"$log"
        case $rc in
        137) killed=$((killed + 1)) ;;
        0) finished=$((finished + 1)) ;;
        *) fail "run $i (seed $seed) exited $rc:" "$(tail -5 "$log")" ;;
        esac
        # after every crash: the database is sound, every recipient is in
        # exactly one state, and the campaign is not finished early
        integrity
        if [ "$(q "SELECT count(*) FROM campaigns WHERE name = 'promo' AND frozen_at IS NOT NULL;")" -eq 0 ]; then
            # killed before the campaign started: nothing frozen
            assert_eq "$(count sends)" 0 "ledger rows of a campaign not started (run $i, seed $seed)"
        else
            # started: every member counted, and the ledger holds whole
            # chunks of the freeze (013_freeze_chunks.sql), all of them
            # once it is complete
            assert_eq "$(q "SELECT recipients FROM campaigns WHERE name = 'promo';")" "$N"
            assert_eq "$(count sends)" "$(q "SELECT count(*) FROM memberships m, campaigns k
                WHERE k.name = 'promo' AND m.list_id = k.list_id
                  AND m.contact_id <= COALESCE(k.freeze_after, m.contact_id);")" \
                "ledger rows after run $i (seed $seed): whole chunks"
        fi
        st=$(campaign_status)
        if [ "$st" = done ]; then
            assert_eq "$(owed)" 0 "rows owed while the campaign says done (run $i, seed $seed)"
        else
            assert_eq "$(q "SELECT count(*) FROM campaigns WHERE name = 'promo' AND finished_at IS NOT NULL;")" 0 \
                "finished_at set while the campaign is $st (run $i, seed $seed)"
        fi
        after=$(count sends "state = 'sent'")
        [ "$after" -gt "$before" ] && progressed=$((progressed + 1))
        [ "$st" = done ] && break
    done
    # the kills really landed in the middle of sending
    [ "$killed" -ge 25 ] || fail "only $killed of $i runs were killed (seed $seed)" "$(cat "$log")"
    # (results are committed every 200 ms: a run killed before its first
    # commit sent messages that show as uncertain, not sent; a seed with
    # many early instants gave 14 of 30 on a loaded machine)
    [ "$progressed" -ge 10 ] || fail "only $progressed runs sent anything before the kill (seed $seed)" "$(cat "$log")"
    [ "$(owed)" -gt 0 ] || fail "the kills left nothing to do: the campaign was too short (seed $seed)"

    # a rerun finishes the campaign
    fastrun 0 --templates "$TEMPLATES" send --template promo --list news
    assert_contains "$output" "campaign done"
    integrity
    assert_eq "$(states)" "sent $N" "final states (seed $seed)"
    assert_eq "$(campaign_status)" done
    assert_eq "$(count sends "message_id IS NULL")" 0
    # what smtp-sink received: everyone, duplicates only for rows flagged
    # uncertain and always with the ledger's Message-ID
    check_delivery
    local summary=$output
    assert_contains "$summary" "rows $N, sent $N, "
    assert_contains "$summary" "recipients with copies $N, "
    local dups unc
    dups=$(sed -n 's/.*duplicates \([0-9]*\)$/\1/p' <<<"$summary")
    unc=$(count sends "was_uncertain > 0")
    [ "$dups" -le "$unc" ] || fail "$dups duplicates but only $unc uncertain rows (seed $seed)"
    # some kill landed while results were unrecorded: rows the crash
    # journal recorded sent, or (content out, no reply) made uncertain
    local settled
    settled=$(count sends "last_text LIKE '250 (read before the run stopped%'")
    [ $((unc + settled)) -ge 1 ] || fail "no kill landed while results were unrecorded (seed $seed)" "$(cat "$log")"
    # a finished campaign sends nothing more
    local files
    files=$(ls "$SINK_DUMP" | wc -l)
    fastrun 0 --templates "$TEMPLATES" send --template promo --list news
    assert_contains "$output" "campaign promo is finished: nothing to send"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" "$files"
    echo "# seed $seed: $killed killed, $finished finished, $unc uncertain rows, $settled recorded sent from the journal, $dups duplicates" >&3
}

# states_of CAMPAIGN - "state count" lines of one campaign's ledger
states_of() {
    q "SELECT s.state, count(*) FROM sends s JOIN campaigns k ON k.id = s.campaign_id
        WHERE k.name = $(sqlstr "$1") GROUP BY 1 ORDER BY 1;" | tr '|' ' '
}

# dups_in DIR - copies beyond the first per recipient in an smtp-sink dump
dups_in() {
    "$PY" "$DUMPS" list "$1" | cut -f1 | sort | uniq -c |
        awk '$1 > 1 { d += $1 - 1 } END { print d + 0 }'
}

# window_of FILE - how many messages a run's recovery found out with no
# reply read (its crash journal's count), 0 when it recovered nothing
window_of() {
    local n
    n=$(sed -n 's/.* and \([0-9]*\) went out with no reply read.*/\1/p' "$1")
    echo "${n:-0}"
}

@test "send crash journal: kill -9 at 30 random instants of 5,000-recipient sends at full speed over 8 connections; per kill at most 8 duplicates and 8 + 8 uncertain rows" {
    [ -x "$CAMPAIGN_FAST_BIN" ] || fail "CAMPAIGN_FAST_BIN=$CAMPAIGN_FAST_BIN is not executable (make)"
    local seed=${CRASH_SEED:-$((RANDOM * 32768 + RANDOM))}
    RANDOM=$seed
    many_contacts "$BATS_TEST_TMPDIR/big.csv" "$N"
    fastrun 0 import "$BATS_TEST_TMPDIR/big.csv" --list news
    start_sink
    write_conf "$SINK_PORT" ""

    # Each campaign of 5,000 runs at full speed until done, killed at a
    # random instant of each run; a new campaign (its own dump directory)
    # follows until 30 kills landed.  Per kill: the rows the next run's
    # recovery makes uncertain (at most 8 + 8), and the messages the
    # crash journal found out with no reply read (its "window", logged
    # by the recovery: at most one per connection).  Per campaign: every
    # duplicate is a copy to a row flagged uncertain (check_delivery),
    # and there are at most 8 per kill.  (The windows logged are not
    # summed against the copies: a kill that lands in the fsync of a
    # recovery's commit keeps the recovery and loses its stderr line.)
    local c=1 runs=0 killed=0 pid rc ms st log out unc0 unc1 w
    local worst_u=0 worst_w=0 kills_c=0 dups dups_all=0 journal_sent
    log="$BATS_TEST_TMPDIR/runs.log"
    out="$BATS_TEST_TMPDIR/run.err"
    while ((killed < KILLS && runs < 3 * KILLS)); do
        runs=$((runs + 1))
        ms=$((RANDOM % 400))
        unc0=$(count sends "was_uncertain > 0")
        "$CAMPAIGN_FAST_BIN" --db "$DB" --templates "$TEMPLATES" send --template promo \
            --list news --campaign "c$c" --concurrency 8 >"$out" 2>&1 &
        pid=$!
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        kill -9 "$pid" 2>/dev/null || :
        rc=0
        wait "$pid" 2>/dev/null || rc=$?
        cat "$out" >>"$log"
        echo "run $runs (c$c): killed after ${ms} ms, exit $rc" >>"$log"
        case $rc in
        137) killed=$((killed + 1)) kills_c=$((kills_c + 1)) ;;
        0) ;;
        *) fail "run $runs (seed $seed) exited $rc:" "$(tail -5 "$log")" ;;
        esac
        integrity
        if grep -q "machine restarted\|tried once more as uncertain, with the same Message-ID" "$out" &&
            ! grep -q "its crash journal says" "$out"; then
            fail "run $runs recovered without the crash journal (seed $seed)" "$(tail -5 "$log")"
        fi
        unc1=$(count sends "was_uncertain > 0")
        ((unc1 - unc0 > worst_u)) && worst_u=$((unc1 - unc0))
        [ $((unc1 - unc0)) -le 16 ] || fail "run $runs made $((unc1 - unc0)) rows uncertain (seed $seed)" "$(tail -20 "$log")"
        w=$(window_of "$out")
        ((w > worst_w)) && worst_w=$w
        [ "$w" -le 8 ] || fail "run $runs: $w messages out with no reply read at one kill (seed $seed)" "$(tail -20 "$log")"
        st=$(campaign_status "c$c")
        if [ "$st" = done ]; then
            # every recipient got it; duplicates only for uncertain rows,
            # with the ledger's Message-ID
            assert_eq "$(states_of "c$c")" "sent $N" "final states of c$c (seed $seed)"
            check_delivery "c$c"
            dups=$(dups_in "$SINK_DUMP")
            [ "$dups" -le $((8 * kills_c)) ] || fail "c$c: $dups duplicates for $kills_c kills (seed $seed)" "$(tail -20 "$log")"
            dups_all=$((dups_all + dups))
            mkdir "$BATS_TEST_TMPDIR/c$c"
            mv "$SINK_DUMP"/* "$BATS_TEST_TMPDIR/c$c/" 2>/dev/null || :
            kills_c=0
            c=$((c + 1))
        fi
    done
    [ "$killed" -ge "$KILLS" ] || fail "only $killed of $runs runs were killed (seed $seed)" "$(cat "$log")"
    # the last campaign finishes too
    fastrun 0 --templates "$TEMPLATES" send --template promo --list news --campaign "c$c"
    w=$(window_of <(printf '%s\n' "$stderr"))
    [ "$w" -le 8 ] || fail "the last run: $w messages out with no reply read (seed $seed)"
    integrity
    assert_eq "$(states_of "c$c")" "sent $N" "final states of c$c (seed $seed)"
    check_delivery "c$c"
    dups=$(dups_in "$SINK_DUMP")
    [ "$dups" -le $((8 * kills_c)) ] || fail "c$c: $dups duplicates for $kills_c kills (seed $seed)" "$(tail -20 "$log")"
    dups_all=$((dups_all + dups))
    [ "$dups_all" -le $((8 * killed)) ] || fail "$dups_all duplicates for $killed kills (seed $seed)"
    # the journal did the work: 250s read before a kill were recorded sent
    journal_sent=$(count sends "last_text LIKE '250 (read before the run stopped%'")
    [ "$journal_sent" -gt 0 ] || fail "no kill left a delivered message for the journal to record (seed $seed)" "$(cat "$log")"
    echo "# seed $seed: $killed kills over $runs runs, $c campaigns; worst kill: $worst_u rows uncertain, $worst_w out with no reply; $dups_all duplicates in all; $(count sends "was_uncertain > 0") rows ever uncertain; $journal_sent recorded sent from the journal" >&3
}
