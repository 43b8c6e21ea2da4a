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
