#!/usr/bin/env bats
# Issue 14: `campaign bounces parse --json` on hostile inbound messages,
# made at run time by bounces_hostile.py in $BATS_TEST_TMPDIR: message/rfc822
# nested 100 deep, multipart nested 10,000 deep, a DSN followed by a 50 MB
# attachment, broken MIME boundaries, CR-only, LF-only and CRLF line ends,
# NUL bytes, undeclared and invalid charsets, a DSN with 10,000 recipient
# blocks, a 1 MB header line, 100,000 headers.
#
# Each must exit 0 with no sanitizer report, within HOSTILE_SECONDS and
# HOSTILE_RSS_KB of peak RSS (/usr/bin/time -f %M), print valid JSON and
# report at most 100 recipients (bounce.h: BOUNCE_RCPT_MAX).  The bounds
# are for the sanitizer build and leave a wide margin over what was
# observed (2026-12-03, build/asan/campaign on the 2-core VM): every case
# under 1 s; peak RSS 24-55 MB for most, 155 MB for 100,000 headers and
# 185 MB for the 1 MB header line (GMime's header tables).

load lib

HOSTILE_SECONDS=20
HOSTILE_RSS_KB=$((300 * 1024))
GEN="$BATS_TEST_DIRNAME/bounces_hostile.py"

# hostile NAME - make NAME.eml and parse it; sets $n (recipients), $kind,
# $class, $rcpt, $truncated (of the first element) and $all_truncated
hostile() {
    "$PY" "$GEN" "$BATS_TEST_TMPDIR" "$1" || fail "bounces_hostile.py $1 failed"
    local t0 t1 ms rss
    t0=$(date +%s%N)
    run --separate-stderr /usr/bin/time -f %M -o "$BATS_TEST_TMPDIR/rss" \
        timeout 120 "$CAMPAIGN_BIN" --db "$DB" bounces parse --json "$BATS_TEST_TMPDIR/$1.eml"
    t1=$(date +%s%N)
    no_sanitizer_report || return 1
    expect_status 0 || return 1
    ms=$(((t1 - t0) / 1000000))
    rss=$(tail -n 1 "$BATS_TEST_TMPDIR/rss")
    echo "# $1: ${ms} ms, peak RSS ${rss} KB" >&3
    [ "$ms" -le $((HOSTILE_SECONDS * 1000)) ] ||
        fail "$1: took ${ms} ms, bound ${HOSTILE_SECONDS} s" || return 1
    [ "$rss" -le "$HOSTILE_RSS_KB" ] ||
        fail "$1: peak RSS ${rss} KB, bound ${HOSTILE_RSS_KB} KB" || return 1
    printf '%s' "$output" >"$BATS_TEST_TMPDIR/out.json"
    local summary
    summary=$("$PY" -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert isinstance(a, list) and 1 <= len(a) <= 100, "recipients: %d" % len(a)
for o in a:
    for k in ("kind", "recipient", "classification", "truncated"):
        assert k in o, "no %s in %r" % (k, o)
f = a[0]
print(len(a), f["kind"], f["classification"], f["recipient"] or "-",
      str(f["truncated"]).lower(), str(all(o["truncated"] for o in a)).lower())
' "$BATS_TEST_TMPDIR/out.json") || fail "$1: not the JSON expected:" "$(head -c 2000 "$BATS_TEST_TMPDIR/out.json")" || return 1
    read -r n kind class rcpt truncated all_truncated <<<"$summary"
}

@test "hostile bounces: message/rfc822 nested 100 deep" {
    hostile rfc822-nested
    assert_eq "$n" 1 "recipients"
}

@test "hostile bounces: multipart nested 10,000 deep is cut, not recursed" {
    hostile multipart-nested
    assert_eq "$n" 1 "recipients"
    assert_eq "$truncated" true "truncated"
}

@test "hostile bounces: a DSN followed by a 50 MB attachment" {
    hostile big
    assert_eq "$kind $class $rcpt" "dsn hard user0@example.org"
    assert_eq "$truncated" true "truncated (only the first 4 MB are read)"
}

@test "hostile bounces: multipart/report without its end boundary" {
    hostile boundary-no-end
    assert_eq "$kind $class $rcpt" "dsn hard user0@example.org"
}

@test "hostile bounces: a boundary that never appears" {
    hostile boundary-never
    assert_eq "$n" 1 "recipients"
}

@test "hostile bounces: CR-only line ends read as a DSN" {
    hostile cr-only
    assert_eq "$kind $class $rcpt" "dsn hard user0@example.org"
}

@test "hostile bounces: LF-only and CRLF line ends read alike" {
    hostile lf-only
    assert_eq "$kind $class $rcpt" "dsn hard user0@example.org"
    hostile crlf
    assert_eq "$kind $class $rcpt" "dsn hard user0@example.org"
}

@test "hostile bounces: NUL bytes" {
    hostile nul
    assert_eq "$n" 1 "recipients"
}

@test "hostile bounces: charset=x-unknown with 8-bit bytes: read as bytes, each that is not UTF-8 printed as U+FFFD in ASCII-only JSON" {
    hostile charset-unknown
    assert_eq "$rcpt" user0@example.org "recipient" || return 1
    if LC_ALL=C grep -q '[^[:print:][:space:]]' "$BATS_TEST_TMPDIR/out.json"; then
        fail "the JSON is not ASCII only"
        return 1
    fi
    grep -q 'unbekannt \\uFFFD' "$BATS_TEST_TMPDIR/out.json" ||
        fail "no \\uFFFD where the 8-bit bytes were:" "$(head -c 600 "$BATS_TEST_TMPDIR/out.json")"
}

@test "hostile bounces: charset=utf-8 with invalid UTF-8" {
    hostile charset-bad-utf8
    assert_eq "$kind $class $rcpt" "dsn hard user0@example.org"
}

@test "hostile bounces: a DSN with 10,000 recipient blocks reports 100, truncated" {
    hostile dsn-many
    assert_eq "$n" 100 "recipients"
    assert_eq "$all_truncated" true "truncated on every element"
    assert_eq "$kind $class $rcpt" "dsn hard user0@example.org"
}

@test "hostile bounces: a 1 MB header line" {
    hostile header-long
    assert_eq "$kind $class $rcpt" "dsn hard user0@example.org"
}

@test "hostile bounces: 100,000 headers" {
    hostile headers-many
    assert_eq "$kind $class $rcpt" "dsn hard user0@example.org"
}
