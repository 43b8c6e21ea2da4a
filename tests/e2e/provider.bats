#!/usr/bin/env bats
# provider.bats - providers and MX rollup (issue 15; README "Providers"):
# `[limits] provider.google = 5/s` holds gmail.com, googlemail.com and a
# company domain whose MX is Google's (corp-a.test, served by dnsmasq on
# a loopback port through `[limits] resolver`) to 5 messages a second
# together, while the other domains go at their own pace; a resolver
# that is not there or does not answer does not stop the send, nor stall
# it beyond its bounded timeouts.
#
# The arrival times are smtp-sink's dump files' (one per message, written
# at its final dot).

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

DNSMASQ=${DNSMASQ:-/usr/sbin/dnsmasq}

# start_dnsmasq - dnsmasq on 127.0.0.1 (a free port, UDP and TCP),
# authoritative for .test (NXDOMAIN for what is not here), with MX
# records: corp-a.test at Google, corp-b.test at Microsoft 365, nomx.test
# with an address and no MX; queries logged to $DNS_LOG.  Sets DNS_PORT.
start_dnsmasq() {
    local _ i
    [ -x "$DNSMASQ" ] || skip "dnsmasq not installed (scripts/install-deps installs dnsmasq-base)"
    DNS_LOG="$BATS_TEST_TMPDIR/dnsmasq.log"
    for _ in 1 2 3; do
        DNS_PORT=$(free_port)
        : >"$DNS_LOG"
        "$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts \
            --bind-interfaces --listen-address=127.0.0.1 --port="$DNS_PORT" \
            --pid-file= --user="$(id -un)" --log-queries \
            --log-facility="$DNS_LOG" --local=/test/ \
            --mx-host=corp-a.test,aspmx.l.google.com,10 \
            --mx-host=corp-a.test,alt1.aspmx.l.google.com,20 \
            --mx-host=corp-b.test,corp-b-test.mail.protection.outlook.com,10 \
            --host-record=nomx.test,192.0.2.1 \
            >>"$BATS_TEST_TMPDIR/dnsmasq.out" 2>&1 &
        local pid=$!
        track_pid "$pid"
        for ((i = 0; i < 50; i++)); do
            grep -q "started" "$DNS_LOG" 2>/dev/null && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        sleep 0.1
        if kill -0 "$pid" 2>/dev/null && grep -q "started" "$DNS_LOG"; then
            return 0
        fi
        stop_pid "$pid"
    done
    fail "dnsmasq did not start:" "$(cat "$BATS_TEST_TMPDIR/dnsmasq.out" "$DNS_LOG")"
}

# mx_queries NAME - MX queries for NAME in dnsmasq's log.
mx_queries() {
    grep -c "query\[MX\] $1 from" "$DNS_LOG" || :
}

# arrivals - "rcpt<TAB>mtime" of every message smtp-sink stored.
arrivals() {
    received | while IFS=$'\t' read -r rcpt _ file; do
        printf '%s\t%s\n' "$rcpt" "$(stat -c %.9Y "$file")"
    done
}

@test "provider: gmail.com, googlemail.com and a domain Google receives by MX share provider.google = 5/s; other domains go faster" {
    local a=() i
    # the Google group interleaved with the others, as a list would be
    for ((i = 0; i < 20; i++)); do
        a+=("g$i@gmail.com" "gm$i@googlemail.com" "c$i@corp-a.test")
        a+=("b$i@corp-b.test" "n$i@nomx.test" "x$i@d$((i % 4)).example")
        a+=("y$i@d$((i % 4)).example" "z$i@Corp-B.test")
    done
    list_of "${a[@]}"
    start_dnsmasq
    start_sink
    write_conf "$SINK_PORT" "" "[limits]" "provider.google = 5/s" \
        "resolver = 127.0.0.1:$DNS_PORT"
    send_status 0
    assert_contains "$output" "sent 160, deferred 0" || return 1
    check_delivery
    # the cache: one query per domain looked up, none for the table's
    assert_eq "$(mx_queries corp-a.test)" 1 "MX queries for corp-a.test"
    assert_eq "$(mx_queries corp-b.test)" 1 "MX queries for corp-b.test"
    assert_eq "$(mx_queries nomx.test)" 1 "MX queries for nomx.test"
    assert_eq "$(mx_queries gmail.com)" 0 "MX queries for gmail.com"
    arrivals >"$BATS_TEST_TMPDIR/arrivals"
    run "$PY" - "$BATS_TEST_TMPDIR/arrivals" <<'PY'
import sys
google = ("gmail.com", "googlemail.com", "corp-a.test")
g, o = [], []
for line in open(sys.argv[1]):
    rcpt, t = line.rstrip("\n").split("\t")
    (g if rcpt.rsplit("@", 1)[1] in google else o).append(float(t))
g.sort()
o.sort()
def most(t):
    lo = m = 0
    for hi in range(len(t)):
        while t[lo] <= t[hi] - 1.0:
            lo += 1
        m = max(m, hi - lo + 1)
    return m
rate = (len(g) - 1) / (g[-1] - g[0])
orate = (len(o) - 1) / (o[-1] - o[0]) if o[-1] > o[0] else 1e9
print(len(g), len(o), most(g), "%.3f" % rate, most(o), "%.1f" % orate)
PY
    [ "$status" -eq 0 ] || fail "$output" || return 1
    read -r ng no gmost grate omost orate <<<"$output"
    echo "# google group: $ng at $grate/s, at most $gmost in a second; others: $no at $orate/s, at most $omost in a second" >&3
    assert_eq "$ng" 60 "messages of the Google group" || return 1
    assert_eq "$no" 100 "messages of the others" || return 1
    # 5/s and a burst of 1 (a tenth of 5, at least 1): no second over 6
    [ "$gmost" -le 6 ] || fail "$gmost messages of the Google group in one second (bound 5 + 1)" || return 1
    # the long run within 2% of 5/s
    "$PY" -c 'import sys; r = float(sys.argv[1]); sys.exit(0 if 4.9 <= r <= 5.1 else 1)' "$grate" ||
        fail "the Google group went at $grate/s, not 5/s +- 2%" || return 1
    # the others were not held to Google's rate
    [ "$omost" -gt 12 ] || fail "only $omost of the other domains' messages in a second" || return 1
}

@test "provider: without provider.NAME rates no MX is looked up" {
    list_of a@gmail.com b@corp-a.test c@corp-b.test
    start_dnsmasq
    start_sink
    write_conf "$SINK_PORT" "" "[limits]" "domain.gmail.com = 5/s" \
        "resolver = 127.0.0.1:$DNS_PORT"
    send_status 0
    assert_contains "$output" "sent 3, deferred 0"
    assert_eq "$(grep -c 'query\[' "$DNS_LOG" || :)" 0 "queries"
}

# dead_resolver_send PORT - 10 at gmail.com and 20 at domains the table
# does not know, through the resolver 127.0.0.1:PORT; all delivered, in
# MS milliseconds
dead_resolver_send() {
    local a=() i t0
    for ((i = 0; i < 10; i++)); do
        a+=("g$i@gmail.com" "c$i@corp-a.test" "x$i@d$i.example")
    done
    list_of "${a[@]}"
    start_sink
    write_conf "$SINK_PORT" "" "[limits]" "provider.google = 5/s" \
        "resolver = 127.0.0.1:$1"
    t0=$(date +%s%3N)
    send_status 0
    MS=$(($(date +%s%3N) - t0))
    assert_contains "$output" "sent 30, deferred 0" || return 1
    check_delivery
}

@test "provider: a resolver with nothing listening does not stop the send" {
    dead_resolver_send "$(free_port)"
    echo "# 30 messages, resolver refused: $MS ms" >&3
    # 10 at gmail.com at 5/s: about 2 s; lookups refused at once
    [ "$MS" -lt 20000 ] || fail "the send took $MS ms"
    assert_contains "$stderr" "MX lookups: 3 failed in a row"
}

@test "provider: a resolver that never answers stalls the send by its timeouts only, then is left alone" {
    local port
    # a UDP socket bound and never read: every query times out
    port=$(free_port)
    "$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(120)' "$port" &
    track_pid $!
    sleep 0.3
    dead_resolver_send "$port"
    echo "# 30 messages, resolver silent: $MS ms" >&3
    # 3 lookups of 2 s, then none: about 6 s more than the 2 s of gmail.com
    [ "$MS" -lt 25000 ] || fail "the send took $MS ms: lookups were not bounded"
    [ "$MS" -ge 5500 ] || fail "the send took $MS ms: the lookups did not wait for the silent resolver"
    assert_contains "$stderr" "MX lookups: 3 failed in a row"
}

@test "provider: configuration errors name the key" {
    list_of a@gmail.com
    start_sink
    write_conf "$SINK_PORT" "" "[limits]" "provider.gogle = 5/s"
    send_status 78
    assert_contains "$stderr" "provider.gogle: no such provider"
    write_conf "$SINK_PORT" "" "[limits]" "resolver = dns.example"
    send_status 78
    assert_contains "$stderr" "campaign.conf:10: resolver"
    write_conf "$SINK_PORT" "" "[provider acme]" "mx = bad_host!"
    send_status 78
    assert_contains "$stderr" "campaign.conf:10: mx"
    # a provider the user describes takes a rate
    write_conf "$SINK_PORT" "" "[limits]" "provider.acme = 5/s" "resolver = off" \
        "[provider acme]" "domains = gmail.com"
    send_status 0
    assert_contains "$output" "sent 1, deferred 0"
}
