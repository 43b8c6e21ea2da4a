#!/usr/bin/env bats
# bite_pacing.bats - the rate of `campaign send` (README "campaign send":
# "--rate R caps the rate (50/s, 3000/m, 100000/h)"; "[limits]
# domain.gmail.com = 20/s").  Written for scripts/mutants-more.txt (issue
# 10): the other tests use --rate only to make a send slow enough to
# interrupt, and none sets a rate for one domain.
#
# Only lower bounds on the time are asserted: a loaded machine makes a
# send slower, never faster, so they cannot fail for want of CPU.

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# timed_send N ARGS... - send_status N ARGS...; its wall time in ms in MS.
timed_send() {
    local t0
    t0=$(date +%s%3N)
    send_status "$@"
    MS=$(($(date +%s%3N) - t0))
}

@test "bite pacing: --rate caps the messages per second, in every unit" {
    # shellcheck disable=SC2046
    list_of $(addrs 9)
    start_sink
    write_conf "$SINK_PORT" "" "[limits]" "burst = 1"
    # 9 messages at 4/s with a burst of one: 8 waits of 250 ms
    timed_send 0 --rate 4/s --concurrency 2
    assert_contains "$output" "sent 9, deferred 0"
    [ "$MS" -ge 1900 ] || fail "9 messages at --rate 4/s took $MS ms"
    check_delivery
    # the same rate per minute: a second campaign, 9 more
    timed_send 0 --rate 240/m --concurrency 2 --campaign again
    assert_contains "$output" "sent 9, deferred 0"
    [ "$MS" -ge 1900 ] || fail "9 messages at --rate 240/m took $MS ms"
    # --rate overrides [limits] rate
    write_conf "$SINK_PORT" "" "[limits]" "burst = 1" "rate = 1000/s"
    timed_send 0 --rate 4/s --concurrency 2 --campaign third
    [ "$MS" -ge 1900 ] || fail "--rate 4/s over rate = 1000/s took $MS ms"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 27
}

@test "bite pacing: [limits] domain.D caps the rate to that domain only" {
    local a=() i
    for i in 1 2 3 4 5 6 7; do a+=("slow$i@slow.example"); done
    for i in 1 2 3 4 5 6 7 8 9 10; do a+=("fast$i@fast.example"); done
    list_of "${a[@]}"
    start_sink
    # a domain's bucket holds as many tokens as its rate: 2 go at once,
    # then one every 500 ms
    write_conf "$SINK_PORT" "" "[limits]" "domain.Slow.Example = 2/s"
    timed_send 0 --concurrency 2
    assert_contains "$output" "sent 17, deferred 0"
    [ "$MS" -ge 2300 ] || fail "7 messages to slow.example at 2/s took $MS ms"
    check_delivery
    assert_eq "$output" "rows 17, sent 17, messages 17, recipients with copies 17, duplicates 0"
}

@test "bite pacing: a domain limit written in U-labels or A-labels caps the internationalised domain, whichever spelling the list used" {
    local a=() i
    for i in 1 2 3 4 5 6 7; do a+=("slow$i@BÜCHER.DE"); done
    for i in 1 2 3 4 5 6 7; do a+=("quick$i@fast.example"); done
    list_of "${a[@]}"
    start_sink
    write_conf "$SINK_PORT" "" "[limits]" "domain.bücher.de = 2/s"
    timed_send 0 --concurrency 2
    assert_contains "$output" "sent 14, deferred 0"
    [ "$MS" -ge 2300 ] || fail "7 messages to bücher.de at 2/s (U-label key) took $MS ms"
    write_conf "$SINK_PORT" "" "[limits]" "domain.XN--BCHER-KVA.DE = 2/s"
    timed_send 0 --concurrency 2 --campaign again
    assert_contains "$output" "sent 14, deferred 0"
    [ "$MS" -ge 2300 ] || fail "7 messages to bücher.de at 2/s (A-label key) took $MS ms"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 28
    # two spellings of one domain are one key: the second is an error
    write_conf "$SINK_PORT" "" "[limits]" "domain.bücher.de = 2/s" "domain.xn--bcher-kva.de = 9/s"
    send_status 78 --campaign fourth
    assert_contains "$stderr" "the same domain as an earlier key"
    # a key IDNA2008 refuses is a configuration error that names it
    write_conf "$SINK_PORT" "" "[limits]" "domain.☃.com = 2/s"
    send_status 78 --campaign third
    assert_contains "$stderr" "domain.☃.com"
}

@test "pacing (issue 15): --rate 200/s with the default burst - no second of arrivals at the relay carries more than 200 + 20, none comes faster than the rate" {
    # 660 messages at 200/s, default burst 20 (a tenth of a second's
    # worth): the old bucket held a whole second's (399 in the first
    # second).  The arrival times are smtp-sink's files'; the bound
    # allows 10% of R more for the relay's own scheduling (a message
    # written late bunches with the next), the exact bound R + burst is
    # test_throttle's, on a fake clock.
    many_contacts "$BATS_TEST_TMPDIR/list.csv" 660
    crun 0 import "$BATS_TEST_TMPDIR/list.csv" --list news
    start_sink
    write_conf "$SINK_PORT"
    fastrun 0 --templates "$TEMPLATES" send --template promo --list news --rate 200/s
    assert_contains "$output" "sent 660" || return 1
    run "$PY" - "$SINK_DUMP" <<'PY'
import os, sys
d = sys.argv[1]
t = sorted(os.stat(os.path.join(d, f)).st_mtime_ns / 1e9 for f in os.listdir(d))
lo, most = 0, 0
for hi in range(len(t)):
    while t[lo] <= t[hi] - 1.0:
        lo += 1
    most = max(most, hi - lo + 1)
# long past the burst and the connections' start, messages come at the
# rate: from the 100th arrival to the last
span = t[-1] - t[100]
rate = (len(t) - 1 - 100) / span if span > 0 else float("inf")
print(len(t), most, "%.1f" % rate)
PY
    [ "$status" -eq 0 ] || fail "$output" || return 1
    read -r n most rate <<<"$output"
    echo "# 660 at --rate 200/s: at most $most in one second, $rate/s from the 100th on" >&3
    assert_eq "$n" 660 "messages at the relay" || return 1
    [ "$most" -le 240 ] || fail "$most messages in one second (bound 200 + 20, +20 for scheduling)" || return 1
    "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 204 else 1)' "$rate" ||
        fail "$rate messages a second from the 100th on: faster than 200/s + 2%"
}
