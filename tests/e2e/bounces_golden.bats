#!/usr/bin/env bats
# Issue 14: `campaign bounces parse --json` against the golden corpus
# tests/data/bounces/ (NAME.eml + NAME.expect.json, see its README), two
# independent parsers (Sisimai, the Debian package libsisimai-perl, and
# flufl.bounce, python3-flufl.bounce, with the expectations of its own
# tests), and hostile inputs made at run time (50 MB, 100-deep nesting,
# 10,000 recipients).  The comparisons are tests/e2e/bounces_check.py's.

load lib

BDATA="$E2E_TOP/tests/data/bounces"
CHECK="$E2E_TOP/tests/e2e/bounces_check.py"
FLUFL_DIR=/usr/lib/python3/dist-packages/flufl/bounce

# parse_each DIR OUTDIR FILE... - `bounces parse --json` on each FILE alone,
# its stdout in OUTDIR/BASENAME.json (BASENAME without .eml); every run must
# exit 0 with no sanitizer report.
parse_each() {
    local outdir=$1 f name bad=
    shift
    mkdir -p "$outdir"
    for f in "$@"; do
        name=$(basename "$f")
        name=${name%.eml}
        run --separate-stderr timeout 60 "$CAMPAIGN_BIN" bounces parse --json "$f"
        printf '%s' "$output" >"$outdir/$name.json"
        if [ "$status" -ne 0 ]; then
            bad="$bad $name(exit $status: ${stderr:-})"
        fi
        no_sanitizer_report || bad="$bad $name(sanitizer)"
    done
    [ -z "$bad" ] || fail "bounces parse failed on:$bad"
}

@test "bounces golden: the corpus is complete (every .eml has its .expect.json, at least 45)" {
    local n=0 f
    for f in "$BDATA"/*.eml; do
        [ -f "${f%.eml}.expect.json" ] || fail "no expect file for $f" || return 1
        n=$((n + 1))
    done
    [ "$n" -ge 45 ] || fail "only $n golden messages"
    for f in "$BDATA"/*.expect.json; do
        [ -f "${f%.expect.json}.eml" ] || fail "no .eml for $f" || return 1
        "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1]))
assert isinstance(d, list) and d, "not a non-empty array"
for e in d:
    for k in ("kind", "recipient", "action", "status", "reply_code", "classification"):
        assert k in e, "element without %s" % k' "$f" ||
            fail "$f is not a valid expectation" || return 1
    done
    # nothing big is committed: the big cases are made at run time
    run find "$BDATA" -type f -size +200k
    assert_eq "$output" "" "files over 200 KB"
}

@test "bounces golden: every file alone matches its .expect.json" {
    parse_each "$BATS_TEST_TMPDIR/out" "$BDATA"/*.eml || return 1
    run "$PY" "$CHECK" golden "$BDATA" "$BATS_TEST_TMPDIR/out"
    [ "$status" -eq 0 ] || fail "$output"
}

@test "bounces golden: all files in one invocation print the concatenation of the files alone" {
    local files=("$BDATA"/*.eml)
    parse_each "$BATS_TEST_TMPDIR/out" "${files[@]}" || return 1
    run --separate-stderr timeout 120 "$CAMPAIGN_BIN" bounces parse --json "${files[@]}"
    no_sanitizer_report || return 1
    expect_status 0 || return 1
    printf '%s' "$output" >"$BATS_TEST_TMPDIR/all.json"
    run "$PY" "$CHECK" concat "$BATS_TEST_TMPDIR/all.json" "$BATS_TEST_TMPDIR/out" "${files[@]}"
    [ "$status" -eq 0 ] || fail "$output"
}

# in_dir_order DIR... - the message files of each DIR, in the directory's
# own order (readdir's, which os.listdir keeps): not dot files, not
# directories
in_dir_order() {
    "$PY" -c 'import os, sys
for d in sys.argv[1:]:
    for n in os.listdir(d):
        p = os.path.join(d, n)
        if not n.startswith(".") and os.path.isfile(p):
            print(p)' "$@"
}

@test "bounces parse DIR: a Maildir is read new/ then cur/, each in the directory's order, as if its files were named one by one; dot files, tmp/ and directories skipped" {
    local md="$BATS_TEST_TMPDIR/md" f i=0 files=()
    mkdir -p "$md/new" "$md/cur" "$md/tmp" "$md/new/sub.eml"
    for f in "$BDATA"/*.eml; do
        i=$((i + 1))
        if [ $((i % 3)) -eq 0 ]; then cp "$f" "$md/cur/"; else cp "$f" "$md/new/"; fi
    done
    cp "$BDATA/postfix-delayed.eml" "$md/new/.hidden.eml"
    cp "$BDATA/postfix-delayed.eml" "$md/tmp/in-delivery.eml"
    mapfile -t files < <(in_dir_order "$md/new" "$md/cur")
    [ "${#files[@]}" -ge 45 ] || fail "only ${#files[@]} files" || return 1
    parse_each "$BATS_TEST_TMPDIR/out" "${files[@]}" || return 1
    run --separate-stderr timeout 120 "$CAMPAIGN_BIN" bounces parse --json "$md"
    no_sanitizer_report || return 1
    expect_status 0 || return 1
    printf '%s' "$output" >"$BATS_TEST_TMPDIR/all.json"
    run "$PY" "$CHECK" concat "$BATS_TEST_TMPDIR/all.json" "$BATS_TEST_TMPDIR/out" "${files[@]}"
    [ "$status" -eq 0 ] || fail "$output"
}

@test "bounces parse DIR: a folder without new/ and cur/ is read whole; text lines in the same order; a missing name among them is warned of (exit 66) and the rest still read" {
    local d="$BATS_TEST_TMPDIR/folder" f lines_one= lines_dir=
    mkdir -p "$d"
    cp "$BDATA"/*.eml "$d/"
    for f in $(in_dir_order "$d"); do
        run --separate-stderr "$CAMPAIGN_BIN" bounces parse "$f"
        expect_status 0 || return 1
        lines_one+="$output"$'\n'
    done
    run --separate-stderr timeout 120 "$CAMPAIGN_BIN" bounces parse "$d"
    no_sanitizer_report || return 1
    expect_status 0 || return 1
    assert_eq "$output"$'\n' "$lines_one" "the folder's lines" || return 1
    run --separate-stderr "$CAMPAIGN_BIN" bounces parse "$d/arf-abuse.eml" "$d/no-such.eml" "$d"
    expect_status 66 || return 1
    [[ "$stderr" == *"no-such.eml: No such file or directory"* ]] || fail "stderr: $stderr" || return 1
    assert_eq "$(printf '%s\n' "$output" | wc -l)" "$(( $(printf '%s' "$lines_one" | wc -l) + 1 ))" "lines" || return 1
}

@test "bounces golden: Sisimai's reading agrees with every expected class, or the disagreement is annotated" {
    perl -MSisimai -e 1 2>/dev/null ||
        skip "Sisimai is not installed (libsisimai-perl; ./scripts/install-deps)"
    run --separate-stderr timeout 300 "$BDATA/sisimai-oracle" "$BDATA"/*.eml
    expect_status 0 || return 1
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/sisimai.jsonl"
    run "$PY" "$CHECK" sisimai "$BDATA" "$BATS_TEST_TMPDIR/sisimai.jsonl"
    [ "$status" -eq 0 ] || fail "$output"
}

@test "bounces golden: the addresses flufl.bounce's tests expect are among our failed recipients" {
    [ -f "$FLUFL_DIR/testing/helpers.py" ] && [ -d "$FLUFL_DIR/tests/data" ] ||
        skip "flufl.bounce is not installed (python3-flufl.bounce; ./scripts/install-deps)"
    local files=()
    mapfile -t files < <(find "$FLUFL_DIR/tests/data" -name '*.txt' | sort)
    [ "${#files[@]}" -gt 50 ] || fail "only ${#files[@]} flufl messages" || return 1
    parse_each "$BATS_TEST_TMPDIR/flufl" "${files[@]}" || return 1
    # parse_each names outputs by the basename without .eml: here NAME.txt
    run "$PY" "$CHECK" flufl "$FLUFL_DIR/testing/helpers.py" "$BATS_TEST_TMPDIR/flufl" \
        "$BDATA/flufl-exceptions.txt"
    [ "$status" -eq 0 ] || fail "$output"
}

# dsn_head - the head of a DSN from our relay for big@example.com, up to the
# returned message's part, which the caller writes.
dsn_head() {
    printf '%s\n' 'From: MAILER-DAEMON@mta.acme.example (Mail Delivery System)' \
        'To: bounces+hQ3kZ8vB2nW5xY7pL0aRt9sUe4cG6dFj1mK3oIw@bounces.acme.example' \
        'Subject: Undelivered Mail Returned to Sender' \
        'MIME-Version: 1.0' \
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B0"' \
        '' '--B0' 'Content-Type: message/delivery-status' '' \
        'Reporting-MTA: dns; mta.acme.example' '' \
        'Final-Recipient: rfc822; big@example.com' 'Action: failed' 'Status: 5.1.1' \
        'Diagnostic-Code: smtp; 550 5.1.1 <big@example.com>: User unknown' '' \
        '--B0' 'Content-Type: message/rfc822' ''
}

@test "bounces hostile: a 50 MB bounce is read in bounded time (under 10 s), exit 0" {
    {
        dsn_head
        printf 'From: news@acme.example\nSubject: big\n\n'
        "$PY" -c 'import sys
line = b"x" * 76 + b"\n"
for _ in range(50 * 1024 * 1024 // 77):
    sys.stdout.buffer.write(line)'
        printf '\n--B0--\n'
    } >big.eml
    [ "$(stat -c %s big.eml)" -ge 50000000 ] || fail "big.eml is too small" || return 1
    local t0 t1
    t0=$(date +%s%N)
    run --separate-stderr timeout 60 "$CAMPAIGN_BIN" bounces parse --json big.eml
    t1=$(date +%s%N)
    no_sanitizer_report || return 1
    expect_status 0 || return 1
    [ $(((t1 - t0) / 1000000)) -lt 10000 ] ||
        fail "took $(((t1 - t0) / 1000000)) ms" || return 1
    "$PY" -c 'import json, sys
d = json.loads(sys.argv[1])
assert d[0]["recipient"] == "big@example.com", d
assert d[0]["classification"] == "hard", d' "$output" || fail "$output"
}

@test "bounces hostile: message/rfc822 nested 100 deep, exit 0, valid JSON" {
    "$PY" - <<'EOF'
inner = b"From: x@example.com\nSubject: innermost\n\nhello\n"
for i in range(100):
    b = b"N%d" % i
    inner = (b"From: MAILER-DAEMON@example.com\nSubject: level %d\n"
             b"MIME-Version: 1.0\n"
             b"Content-Type: multipart/mixed; boundary=\"" + b + b"\"\n\n--" + b +
             b"\nContent-Type: text/plain\n\nlevel\n--" + b +
             b"\nContent-Type: message/rfc822\n\n" + inner + b"\n--" + b + b"--\n") % i
open("deep.eml", "wb").write(inner)
EOF
    run --separate-stderr timeout 60 "$CAMPAIGN_BIN" bounces parse --json deep.eml
    no_sanitizer_report || return 1
    expect_status 0 || return 1
    "$PY" -c 'import json, sys
d = json.loads(sys.argv[1])
assert isinstance(d, list) and len(d) >= 1, d' "$output" || fail "$output"
}

@test "bounces hostile: a DSN with 10,000 recipients reports at most 100, exit 0" {
    {
        printf '%s\n' 'From: MAILER-DAEMON@mta.acme.example' \
            'To: bounces+hQ3kZ8vB2nW5xY7pL0aRt9sUe4cG6dFj1mK3oIw@bounces.acme.example' \
            'Subject: Undelivered Mail Returned to Sender' 'MIME-Version: 1.0' \
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"' \
            '' '--B1' 'Content-Type: text/plain' '' 'many' '' \
            '--B1' 'Content-Type: message/delivery-status' '' \
            'Reporting-MTA: dns; mta.acme.example'
        for ((i = 0; i < 10000; i++)); do
            printf '\nFinal-Recipient: rfc822; u%d@example.com\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n' "$i"
        done
        printf '\n--B1--\n'
    } >many.eml
    run --separate-stderr timeout 60 "$CAMPAIGN_BIN" bounces parse --json many.eml
    no_sanitizer_report || return 1
    expect_status 0 || return 1
    "$PY" -c 'import json, sys
d = json.loads(sys.argv[1])
assert 1 <= len(d) <= 100, len(d)
assert d[0]["recipient"] == "u0@example.com", d[0]
assert all(e["classification"] == "hard" for e in d), d' "$output" || fail "${output:0:2000}"
}
