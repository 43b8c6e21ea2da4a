#!/usr/bin/env bats
# pace.bats - pacing (issue 15): the rate a send keeps at the relay,
# measured where the messages arrive.  --rate over 30 s into smtp-sink; a
# relay's own rate ([relay] rate) over 8 connections and its
# max_connections; a relay at its rate does not hold up the others of the
# pool; and AIMD against a scripted relay that answers Gmail's "421
# 4.7.28" for a while: the rate drops, comes back, and everybody is sent
# exactly once.  The exact bounds on a fake clock are test_throttle's;
# here the real loop, the real clock, real servers.
#
# The arrival times: smtp-sink's per-message dump files' mtimes, or the
# times pace_relay.py logs (tests/e2e/pace_relay.py); the figures from
# tests/e2e/pace_stats.py.

load lib
load send_lib

STATS="$E2E_TOP/tests/e2e/pace_stats.py"

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# pace_relay_start ARGS... - pace_relay.py on 127.0.0.1 with ARGS; sets
# PACE_PORT, its log in PACE_LOG.
pace_relay_start() {
    local i pf="$BATS_TEST_TMPDIR/pace.port"
    PACE_LOG="$BATS_TEST_TMPDIR/pace.log"
    rm -f "$pf"
    "$PY" "$E2E_TOP/tests/e2e/pace_relay.py" --port-file "$pf" \
        --log "$PACE_LOG" "$@" >>"$BATS_TEST_TMPDIR/pace_relay.err" 2>&1 &
    track_pid $!
    for ((i = 0; i < 150; i++)); do
        [ -s "$pf" ] && break
        sleep 0.1
    done
    [ -s "$pf" ] || fail "pace_relay.py did not start:" \
        "$(cat "$BATS_TEST_TMPDIR/pace_relay.err")" || return 1
    PACE_PORT=$(cat "$pf")
}

# within X LO HI - LO <= X <= HI (decimals)
within() {
    "$PY" -c 'import sys; x, lo, hi = map(float, sys.argv[1:]); sys.exit(0 if lo <= x <= hi else 1)' "$@"
}

@test "pace: --rate 100/s over 30 s into smtp-sink - the achieved rate within 2%, no second over 100 + burst 10" {
    many_contacts "$BATS_TEST_TMPDIR/list.csv" 3000
    crun 0 import "$BATS_TEST_TMPDIR/list.csv" --list news
    start_sink
    write_conf "$SINK_PORT"
    send_status 0 --rate 100/s
    assert_contains "$output" "sent 3000, deferred 0" || return 1
    run "$PY" "$STATS" dumps "$SINK_DUMP"
    [ "$status" -eq 0 ] || fail "$output" || return 1
    read -r n rate most <<<"$output"
    echo "# 3000 at --rate 100/s: $rate/s, at most $most in one second" >&3
    assert_eq "$n" 3000 "messages at the relay" || return 1
    within "$rate" 98 102 || fail "achieved $rate/s at --rate 100/s (2%)" || return 1
    [ "$most" -le 110 ] || fail "$most messages in one second (bound 100 + 10)"
}

@test "pace: a relay sold at 14/s gets 14/s over 8 connections, whatever the global rate" {
    local a=() i
    for ((i = 0; i < 168; i++)); do a+=("r$i@example.com"); done
    list_of "${a[@]}"
    # 0.45 s to answer each dot: one connection carries about 2 a second,
    # so 14/s keeps 7 or 8 of them busy - and the rate still holds (from
    # the first delivery on: until then, one connection to the relay)
    pace_relay_start --data-delay 0.45
    write_conf "$PACE_PORT" "rate = 14/s" "max_connections = 8"
    send_status 0 --rate 1000/s --concurrency 8
    assert_contains "$output" "sent 168, deferred 0" || return 1
    run "$PY" "$STATS" rcpts "$PACE_LOG"
    read -r n rate most <<<"$output"
    run "$PY" "$STATS" conns "$PACE_LOG"
    read -r open carried <<<"$output"
    echo "# relay rate = 14/s, --rate 1000/s --concurrency 8: $rate/s, at most $most in one second, $open connections at once, $carried carried messages" >&3
    assert_eq "$n" 168 "recipients at the relay" || return 1
    within "$rate" 13.72 14.28 || fail "achieved $rate/s through a relay at 14/s (2%)" || return 1
    [ "$most" -le 15 ] || fail "$most messages in one second (bound 14 + 1)" || return 1
    assert_eq "$open" 8 "connections open at once" || return 1
    [ "$carried" -ge 8 ] || fail "only $carried connections carried messages"
}

@test "pace: max_connections caps the connections to a relay below --concurrency" {
    local a=() i
    for ((i = 0; i < 24; i++)); do a+=("m$i@example.com"); done
    list_of "${a[@]}"
    pace_relay_start --data-delay 0.3
    write_conf "$PACE_PORT" "max_connections = 3"
    send_status 0 --concurrency 8
    assert_contains "$output" "sent 24, deferred 0" || return 1
    run "$PY" "$STATS" conns "$PACE_LOG"
    read -r open carried <<<"$output"
    echo "# max_connections = 3, --concurrency 8: $open at once" >&3
    assert_eq "$open" 3 "connections open at once"
    # the environment overrides it, like the other keys; bad values name
    # the file and line, or the variable
    CAMPAIGN_RELAY_MAX_CONNECTIONS=0 send_status 78 --campaign again
    assert_contains "$stderr" "environment CAMPAIGN_RELAY_MAX_CONNECTIONS: max_connections: 1 to 256" || return 1
    write_conf "$PACE_PORT" "rate = fast"
    send_status 78 --campaign again
    assert_contains "$stderr" "campaign.conf:8: rate: like 14/s, 3000/m or 100000/h (got \"fast\")" || return 1
    write_conf "$PACE_PORT" "" "[relay b]" "host = 127.0.0.1" "max_connections = 300"
    send_status 78 --campaign again
    assert_contains "$stderr" "campaign.conf:11: max_connections: 1 to 256 (got \"300\")"
}

@test "pace: a relay at its rate does not hold up the other relays of the pool" {
    local a=() i
    for ((i = 0; i < 120; i++)); do a+=("p$i@example.com"); done
    list_of "${a[@]}"
    start_sink
    pace_relay_start
    # [relay] is the slow one (2/s), [relay sink] takes the rest
    write_conf "$PACE_PORT" "rate = 2/s" "" "[relay sink]" "host = 127.0.0.1" \
        "port = $SINK_PORT" "tls = none"
    t0=$(date +%s%3N)
    send_status 0 --rate 60/s --concurrency 4
    ms=$(($(date +%s%3N) - t0))
    assert_contains "$output" "sent 120, deferred 0" || return 1
    slow=$(grep -c ' sent ' "$PACE_LOG" || :)
    fast=$(find "$SINK_DUMP" -type f | wc -l)
    echo "# 120 at --rate 60/s over a 2/s relay and an unlimited one: $slow + $fast in $ms ms" >&3
    assert_eq "$((slow + fast))" 120 "messages at the two relays" || return 1
    # 120 at 60/s: 2 s; the slow relay alone would have taken a minute
    [ "$ms" -lt 8000 ] || fail "$ms ms: the 2/s relay held the others up" || return 1
    [ "$slow" -ge 1 ] && [ "$slow" -le $((ms / 500 + 2)) ] ||
        fail "$slow messages through the 2/s relay in $ms ms"
}

@test "pace: AIMD - a relay's 421 4.7.28 halves its rate, the rate comes back additively, and everybody is sent exactly once" {
    local a=() i n
    for ((i = 0; i < 520; i++)); do a+=("g$i@example.com"); done
    list_of "${a[@]}"
    printf '%s\n' "${a[@]}" >"$BATS_TEST_TMPDIR/want.txt"
    # after 100 recipients, every RCPT of the next 0.8 s gets Gmail's
    # 421 4.7.28 (closing the session); then everything is taken
    pace_relay_start --throttle-after 100 --throttle-for 0.8
    write_conf "$PACE_PORT" "rate = 40/s"
    send_status 0 --concurrency 4
    assert_contains "$output" "campaign promo: sent " || return 1
    run "$PY" "$STATS" aimd "$PACE_LOG"
    [ "$status" -eq 0 ] || fail "$output" || return 1
    read -r before after later most <<<"$output"
    echo "# relay rate = 40/s, 421 after 100: $before/s before, $after/s 1-5 s after, $later/s 11-15 s after, at most $most in a second after" >&3
    # before: the relay's 40/s (and its burst of 4 at the start); after:
    # halved (20/s); 11-15 s later: two
    # steps of 4/s back (28/s); never above 40 + burst 4
    within "$before" 38 42 || fail "$before/s before the 421 (40/s)" || return 1
    within "$after" 17 22 || fail "$after/s after the 421: not halved" || return 1
    within "$later" 25 31 || fail "$later/s 11-15 s after: no additive recovery" || return 1
    [ "$most" -le 44 ] || fail "$most in one second after the 421 (above 40 + 4)" || return 1
    # the deferred ones (the 421s) are due again now; bounded reruns
    for ((n = 0; n < 3; n++)); do
        [ "$(states)" = "sent 520" ] && break
        q "UPDATE sends SET next_attempt_at = 0 WHERE state = 'deferred';"
        send_status 0 --concurrency 4
    done
    assert_eq "$(states)" "sent 520" "the ledger" || return 1
    run "$PY" "$STATS" once "$PACE_LOG" "$BATS_TEST_TMPDIR/want.txt"
    [ "$status" -eq 0 ] || fail "at the relay: $output"
}
