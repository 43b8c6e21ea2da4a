#!/usr/bin/env bats
# Issue 12: a new user's first week - safety and hygiene, commands that
# wait for no reason.

load lib
load send_lib

teardown() {
    send_teardown
}

@test "first week: campaign.db and its -wal and -shm are created mode 0600 (personal data, the erasure salt)" {
    assert_eq "$(stat -c %a "$DB")" 600 "mode of the database made by init"
    printf 'email\na@example.com\n' >a.csv
    # hold the database open so that its -wal and -shm stay while an
    # import writes through them
    "$PY" -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute("SELECT count(*) FROM contacts").fetchall()
open(sys.argv[2], "w").close()
time.sleep(4)
' "$DB" "$BATS_TEST_TMPDIR/held" &
    local holder=$!
    local i
    for ((i = 0; i < 50; i++)); do [ -e "$BATS_TEST_TMPDIR/held" ] && break; sleep 0.1; done
    crun 0 import a.csv
    [ -e "$DB-wal" ] && [ -e "$DB-shm" ] || fail "no -wal/-shm while the database is held open"
    assert_eq "$(stat -c %a "$DB-wal")" 600 "mode of the -wal"
    assert_eq "$(stat -c %a "$DB-shm")" 600 "mode of the -shm"
    kill "$holder" 2>/dev/null || :
    wait "$holder" 2>/dev/null || :
    # under a permissive umask too
    rm -f "$BATS_TEST_TMPDIR/u.db"
    (umask 000 && "$CAMPAIGN_BIN" --db "$BATS_TEST_TMPDIR/u.db" init >/dev/null 2>&1)
    assert_eq "$(stat -c %a "$BATS_TEST_TMPDIR/u.db")" 600 "mode under umask 000"
}

@test "first week: read-only commands do not wait for a writer - lists, report, contacts show, suppress list answer while another process holds the write lock" {
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv --list news
    # a writer (a long import) holds the write lock for 8 s
    "$PY" -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("INSERT INTO lists(name, created_at) VALUES (\"held\", 0)")
open(sys.argv[2], "w").close()
time.sleep(8)
c.execute("ROLLBACK")
' "$DB" "$BATS_TEST_TMPDIR/locked" &
    local holder=$! i t0 ms
    for ((i = 0; i < 50; i++)); do [ -e "$BATS_TEST_TMPDIR/locked" ] && break; sleep 0.1; done
    [ -e "$BATS_TEST_TMPDIR/locked" ] || fail "the writer never took the lock"
    t0=$(date +%s%N)
    crun 0 lists
    assert_contains "$output" news
    crun 0 report
    crun 0 contacts show a@example.com
    crun 0 suppress list
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$ms" -lt 4000 ] || fail "the read-only commands took $ms ms beside a writer"
    kill "$holder" 2>/dev/null || :
    wait "$holder" 2>/dev/null || :
}

@test "first week: send --rate 6/m --max 1 exits as soon as its message is answered, not when the rate would allow the next (a cron chunk must not overlap the next)" {
    # shellcheck disable=SC2046
    list_of $(addrs 3)
    start_sink
    write_conf "$SINK_PORT"
    local t0 ms
    t0=$(date +%s%N)
    send_status 0 --rate 6/m --max 1
    ms=$((($(date +%s%N) - t0) / 1000000))
    assert_contains "$output" "sent 1, "
    assert_contains "$output" "(--max reached)"
    [ "$ms" -lt 5000 ] || fail "send --max 1 at 6/m took $ms ms (the rate's 10 s)"
    # and at one an hour
    t0=$(date +%s%N)
    send_status 0 --rate 1/h --max 1
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$ms" -lt 5000 ] || fail "send --max 1 at 1/h took $ms ms"
    assert_eq "$(count sends "state = 'sent'")" 2
}

@test "first week: doctor on a relay that accepts and never greets gives up after its own 10 s and names the step, not after the 300 s greeting timeout" {
    local port
    port=$(free_port)
    "$PY" -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(5)
held = []
end = time.time() + 40
s.settimeout(1)
while time.time() < end:
    try:
        held.append(s.accept())
    except OSError:
        pass
' "$port" &
    track_pid $!
    wait_port "$port"
    write_conf "$port"
    local t0 ms
    t0=$(date +%s%N)
    run --separate-stderr camp --config "$BATS_TEST_TMPDIR/campaign.conf" doctor
    ms=$((($(date +%s%N) - t0) / 1000000))
    no_sanitizer_report
    [ "$ms" -lt 25000 ] || fail "doctor took $ms ms on a silent relay"
    assert_contains "$output" "timeout waiting for the reply to the greeting"
}

@test "first week: a --config FILE (or \$CAMPAIGN_CONFIG) that does not exist says so (66) instead of reporting a missing sender; the default campaign.conf may be missing" {
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv --list news
    run --separate-stderr camp --config "$BATS_TEST_TMPDIR/nope.conf" --templates "$TEMPLATES" preview --template promo
    [ "$status" -eq 66 ] || fail "preview: exit $status, expected 66" "$stderr"
    assert_contains "$stderr" "nope.conf: no such configuration file (named by --config)"
    run --separate-stderr camp --config "$BATS_TEST_TMPDIR/nope.conf" --templates "$TEMPLATES" send --template promo --list news --dry-run
    [ "$status" -eq 66 ] || fail "send: exit $status, expected 66" "$stderr"
    run --separate-stderr env CAMPAIGN_CONFIG="$BATS_TEST_TMPDIR/nope.conf" "$CAMPAIGN_BIN" --db "$DB" doctor
    [ "$status" -eq 66 ] || fail "doctor: exit $status, expected 66" "$output"
    assert_contains "$output" "named by \$CAMPAIGN_CONFIG"
    run --separate-stderr camp --config "$BATS_TEST_TMPDIR/nope.conf" serve --listen 127.0.0.1:0
    [ "$status" -eq 66 ] || fail "serve: exit $status, expected 66" "$stderr"
    # the default may be missing: the environment gives the sender
    rm -f campaign.conf
    run --separate-stderr env CAMPAIGN_SENDER_FROM="News <news@acme.example>" "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" preview --template promo
    [ "$status" -eq 0 ] || fail "preview without campaign.conf: exit $status" "$stderr"
}

@test "first week: a campaign name nobody knows is a missing input (66) for report, pause, resume and cancel alike" {
    local c
    for c in report pause resume cancel; do
        run --separate-stderr camp $c nosuch
        [ "$status" -eq 66 ] || fail "$c nosuch: exit $status, expected 66" "$stderr"
        assert_contains "$stderr" 'no campaign "nosuch"'
    done
}

@test "first week: [tracking] base_url must be https://HOST[:PORT][/PATH] - a fragment, a query, userinfo, no host, a bad port or http:// to another machine is refused by preview, send and doctor alike (78)" {
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv --list news
    local u
    for u in "https://t.acme.example/p#x" "https://t.acme.example/?x=1" "https://" \
        "https://user:pw@t.acme.example" "https://t.acme.example:0" "https://t.acme.example:x" \
        "http://t.acme.example" "https://t.acme.example/a b"; do
        run --separate-stderr env CAMPAIGN_TRACKING_BASE_URL="$u" "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" preview --template promo
        [ "$status" -eq 78 ] || fail "preview with base_url $u: exit $status, expected 78" "$output"
        assert_contains "$stderr" "is not https://HOST[:PORT][/PATH]"
        run --separate-stderr env CAMPAIGN_TRACKING_BASE_URL="$u" "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" send --template promo --list news --dry-run
        [ "$status" -eq 78 ] || fail "send with base_url $u: exit $status, expected 78"
        run --separate-stderr env CAMPAIGN_TRACKING_BASE_URL="$u" "$CAMPAIGN_BIN" --db "$DB" doctor
        [ "$status" -eq 78 ] || fail "doctor with base_url $u: exit $status, expected 78"
    done
    # the good shapes pass, and the links are made from them
    for u in "https://t.acme.example" "https://t.acme.example:8443/track/" "https://[2001:db8::1]/t" "http://127.0.0.1:8080"; do
        run --separate-stderr env CAMPAIGN_TRACKING_BASE_URL="$u" CAMPAIGN_SENDER_FROM="News <news@acme.example>" \
            "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" preview --template promo
        [ "$status" -eq 0 ] || fail "preview with base_url $u: exit $status" "$stderr"
        assert_contains "$output" "${u%/}/u/"
    done
}

@test "first week: an internationalised domain in the sender's own addresses (from, bounce_domain, reply_to, [dkim] domain) is refused naming the key and giving its A-labels (78); a UTF-8 display name is fine" {
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv --list news
    local v
    for v in CAMPAIGN_SENDER_FROM CAMPAIGN_SENDER_BOUNCE_DOMAIN CAMPAIGN_SENDER_REPLY_TO; do
        local val="news@bücher.example"
        [ "$v" = CAMPAIGN_SENDER_BOUNCE_DOMAIN ] && val="bücher.example"
        run --separate-stderr env "$v=$val" "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" preview --template promo
        [ "$status" -eq 78 ] || fail "$v=$val: exit $status, expected 78" "$stderr"
        assert_contains "$stderr" "xn--bcher-kva.example"
        run --separate-stderr env "$v=$val" "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" send --template promo --list news --dry-run
        [ "$status" -eq 78 ] || fail "send --dry-run with $v=$val: exit $status, expected 78"
    done
    printf '[sender]\nfrom = news@acme.example\n[dkim]\ndomain = bücher.example\nselector = s\nkey_file = k.pem\n' >idn.conf
    run --separate-stderr "$CAMPAIGN_BIN" --db "$DB" --config idn.conf --templates "$TEMPLATES" preview --template promo
    [ "$status" -eq 78 ] || fail "[dkim] domain bücher.example: exit $status, expected 78" "$stderr"
    assert_contains "$stderr" "[dkim] domain"
    assert_contains "$stderr" "xn--bcher-kva.example"
    run --separate-stderr env CAMPAIGN_SENDER_FROM="Acmé Modà <news@acme.example>" \
        "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" preview --template promo
    [ "$status" -eq 0 ] || fail "a UTF-8 display name: exit $status" "$stderr"
    assert_contains "$output" "From: =?UTF-8?"
}

@test "first week: a CR or LF in a configuration value (from the environment) is refused naming the key, never flattened into a header" {
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv --list news
    local v
    for v in CAMPAIGN_SENDER_FROM CAMPAIGN_SENDER_LIST_ID CAMPAIGN_SENDER_BOUNCE_DOMAIN CAMPAIGN_SENDER_REPLY_TO; do
        run --separate-stderr env "$v=news@acme.example"$'\r\n'"Bcc: victim@evil.example" "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" preview --template promo
        [ "$status" -eq 78 ] || fail "$v with CRLF: exit $status, expected 78" "$output"
        assert_contains "$stderr" "environment $v: "
        assert_contains "$stderr" "a control character (CR, LF, ...) in the value is refused"
        [[ "$output" != *"victim@evil.example"* ]] || fail "$v: the injected header went into the message"
    done
}

@test "first week: relative key_file, password_file, secret_file and ca_file are read from the configuration's directory, not the working directory (cron runs from /); dkim keygen prints a path that works" {
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv --list news
    mkdir -p etc elsewhere
    crun 0 dkim keygen --domain acme.example --selector s1 --algo ed25519 --out etc/s1.key
    assert_contains "$output" "key_file = $BATS_TEST_TMPDIR/etc/s1.key"
    cp "$DB.secret" etc/tracking.secret
    chmod 600 etc/tracking.secret
    printf '[sender]\nfrom = News <news@acme.example>\n\n[dkim]\ndomain = acme.example\nselector = s1\nkey_file = s1.key\n\n[tracking]\nbase_url = https://t.acme.example\nsecret_file = tracking.secret\n' >etc/campaign.conf
    chmod 600 etc/campaign.conf
    cd elsewhere
    run --separate-stderr "$CAMPAIGN_BIN" --db "$DB" --config ../etc/campaign.conf --templates "$TEMPLATES" preview --template promo
    [ "$status" -eq 0 ] || fail "preview from another directory: exit $status" "$stderr"
    assert_contains "$output" "DKIM-Signature: "
    assert_contains "$output" "https://t.acme.example/u/"
    cd /
    run --separate-stderr "$CAMPAIGN_BIN" --db "$DB" --config "$BATS_TEST_TMPDIR/etc/campaign.conf" --templates "$TEMPLATES" preview --template promo
    [ "$status" -eq 0 ] || fail "preview from /: exit $status" "$stderr"
    assert_contains "$output" "DKIM-Signature: "
}

@test "first week: dkim keygen --bits below 2048 warns that the key is weak" {
    crun 0 dkim keygen --domain acme.example --selector s1 --bits 1024 --out k1.key
    assert_contains "$stderr" "1024-bit RSA key is weak"
    crun 0 dkim keygen --domain acme.example --selector s2 --bits 2048 --out k2.key
    [[ "$stderr" != *"weak"* ]] || fail "a 2048-bit key is called weak: $stderr"
}

@test "first week: --rate takes only a positive decimal rate per s, m, h or d and --max only a count that fits, both checked with --dry-run too; empty, blank or over-long campaign and list names are refused" {
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv --list news
    local r
    for r in nan inf 0 0/s -5/s 0x10/s 1e3/s 2000000/s 5/w 5. "" " 5/s" 1/d0; do
        run --separate-stderr camp --templates "$TEMPLATES" send --template promo --list news --dry-run --rate "$r"
        [ "$status" -eq 64 ] || fail "--rate '$r': exit $status, expected 64" "$stderr"
        assert_contains "$stderr" "--rate: a positive number"
    done
    for r in 50/s 3000/m 100000/h 500000/d 2.5/s 20; do
        run --separate-stderr env CAMPAIGN_SENDER_FROM="News <news@acme.example>" "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" send --template promo --list news --dry-run --rate "$r"
        [ "$status" -eq 0 ] || fail "--rate '$r': exit $status" "$stderr"
    done
    for r in 0 -1 99999999999999999999999 1x ""; do
        run --separate-stderr camp --templates "$TEMPLATES" send --template promo --list news --dry-run --max "$r"
        [ "$status" -eq 64 ] || fail "--max '$r': exit $status, expected 64" "$stderr"
    done
    local long
    long=$(printf 'x%.0s' $(seq 1 201))
    for r in "" "   " "$long" $'a\033[31mb'; do
        run --separate-stderr camp --templates "$TEMPLATES" send --template promo --list news --campaign "$r" --dry-run
        [ "$status" -eq 64 ] || fail "--campaign '$r': exit $status, expected 64" "$stderr"
        run --separate-stderr camp --templates "$TEMPLATES" send --template promo --list "$r" --dry-run
        [ "$status" -eq 64 ] || fail "send --list '$r': exit $status, expected 64" "$stderr"
        run --separate-stderr camp import a.csv --list "$r"
        [ "$status" -eq 64 ] || fail "import --list '$r': exit $status, expected 64" "$stderr"
    done
    assert_eq "$(count campaigns)" 0
    assert_eq "$(count lists)" 1
}

@test "first week: init does not replace a missing tracking secret once campaigns were sent (78, saying why) unless --force" {
    # shellcheck disable=SC2046
    list_of $(addrs 2)
    start_sink
    write_conf "$SINK_PORT" "" "[tracking]" "base_url = https://t.acme.example"
    send_status 0
    local before
    before=$(od -An -tx1 "$DB.secret" | tr -d ' \n')
    mv "$DB.secret" "$BATS_TEST_TMPDIR/backup.secret"
    run --separate-stderr camp --config "$BATS_TEST_TMPDIR/campaign.conf" init
    [ "$status" -eq 78 ] || fail "init: exit $status, expected 78" "$stderr"
    assert_contains "$stderr" "is missing, and 1 campaign has been sent with it"
    assert_contains "$stderr" "campaign init --force"
    [ ! -e "$DB.secret" ] || fail "a new secret was written"
    # restored: init is happy and the secret is the same
    mv "$BATS_TEST_TMPDIR/backup.secret" "$DB.secret"
    crun 0 --config "$BATS_TEST_TMPDIR/campaign.conf" init
    assert_eq "$(od -An -tx1 "$DB.secret" | tr -d ' \n')" "$before"
    # --force writes a new one
    rm "$DB.secret"
    crun 0 --config "$BATS_TEST_TMPDIR/campaign.conf" init --force
    [ -s "$DB.secret" ] || fail "init --force wrote no secret"
    [ "$(od -An -tx1 "$DB.secret" | tr -d ' \n')" != "$before" ] || fail "the same secret?"
}

@test "first week: control characters from CSV files and names never reach the terminal raw - error messages and lists escape them as \\xHH" {
    printf 'email,first_name\n"bad\033[2J\033]0;pwned\007@x",Eve\n' >esc.csv
    crun 0 import esc.csv
    [[ "$stderr" != *$'\033'* ]] || fail "an ESC reached stderr: $(printf '%s' "$stderr" | cat -v)"
    [[ "$stderr" != *$'\007'* ]] || fail "a BEL reached stderr"
    assert_contains "$stderr" '\x1b[2J'
    # a value echoed in an error message goes through the log's escaping
    crun 64 import esc.csv --list $'L\033[31m'
    [[ "$stderr" != *$'\033'* ]] || fail "an ESC reached stderr: $(printf '%s' "$stderr" | cat -v)"
    assert_contains "$stderr" 'L\x1b[31m'
    # a list name from an older database
    q "INSERT INTO lists(name, created_at) VALUES ('evil' || char(27) || '[31m', 0);"
    crun 0 lists
    [[ "$output" != *$'\033'* ]] || fail "an ESC reached stdout: $(printf '%s' "$output" | cat -v)"
    assert_contains "$output" 'evil\x1b[31m'
    # contacts show and report
    printf 'email,first_name
ok@example.com,"A\033[31mB"
' >n.csv
    crun 0 import n.csv
    crun 0 contacts show ok@example.com
    [[ "$output" != *$'\033'* ]] || fail "an ESC reached stdout: $(printf '%s' "$output" | cat -v)"
    assert_contains "$output" 'first_name: A\x1b[31mB'
    q "INSERT INTO campaigns(name, template, created_at) VALUES ('c' || char(27) || ']0;x' || char(7), 'promo', 0);"
    crun 0 report
    [[ "$output" != *$'\033'* ]] || fail "an ESC reached stdout: $(printf '%s' "$output" | cat -v)"
    assert_contains "$output" 'c\x1b]0;x\x07'
}

@test "first week: resume prints the real command that goes on, and that command works" {
    # shellcheck disable=SC2046
    list_of $(addrs 4)
    start_sink
    write_conf "$SINK_PORT"
    send_status 0 --max 1 --campaign "spring sale"
    crun 0 pause "spring sale"
    crun 0 resume "spring sale"
    assert_eq "$output" "campaign spring sale resumed: run campaign send --campaign 'spring sale' to go on"
    local cmd
    cmd=${output#*run campaign }
    cmd=${cmd% to go on}
    # the words as a shell reads them
    eval "set -- $cmd"
    crun 0 --templates "$TEMPLATES" "$@"
    assert_contains "$output" "campaign done"
    assert_eq "$(count sends "state = 'sent'")" 4
}

@test "first week: suppress import of a plain list skips '#' comment lines (an address may still begin with '#'); import finds an 'Email-Adresse' column" {
    printf '# unsubscribes exported 2026-11-30\n#   from the old tool\na@example.com\n# end of batch 1\nb@example.com\n#c@example.com\n' >plain.txt
    crun 0 suppress import plain.txt --reason unsubscribed
    [[ "$stderr" != *"plain.txt:1"* ]] || fail "a comment line was read as an address: $stderr"
    [[ "$stderr" != *"plain.txt:4"* ]] || fail "a comment line was read as an address: $stderr"
    assert_eq "$(q "SELECT email FROM suppressions ORDER BY email;")" $'#c@example.com\na@example.com\nb@example.com'
    printf 'Vorname;Email-Adresse\nHans;hans@example.de\n' >de.csv
    crun 0 import de.csv
    assert_eq "$(q "SELECT email FROM contacts;")" hans@example.de
    assert_eq "$(attr hans@example.de vorname)" Hans
}

@test "first week: on a database that cannot be written (another user's, a read-only directory), lists, report, contacts show and suppress list work; a write says read-only (73)" {
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv --list news
    crun 0 optout a@example.com
    # a directory of its own that the reader cannot write
    local d as=()
    d=$(mktemp -d /tmp/campaign-ro.XXXXXX)
    cp "$DB" "$d/c.db"
    chmod 644 "$d/c.db"
    chmod 555 "$d"
    if [ "$(id -u)" -eq 0 ]; then
        # root writes anything: read as nobody
        command -v setpriv >/dev/null || { chmod 755 "$d"; rm -rf "$d"; fail "setpriv (util-linux) is missing"; }
        as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        chmod 755 "$(dirname "$CAMPAIGN_BIN")" 2>/dev/null || :
    fi
    local c out rc
    for c in lists report "contacts show a@example.com" "suppress list"; do
        rc=0
        out=$(cd / && "${as[@]}" "$CAMPAIGN_BIN" --db "$d/c.db" $c 2>&1) || rc=$?
        [ "$rc" -eq 0 ] || { chmod 755 "$d"; rm -rf "$d"; fail "$c on a read-only database: exit $rc" "$out"; }
    done
    rc=0
    out=$(cd / && "${as[@]}" "$CAMPAIGN_BIN" --db "$d/c.db" optout b@example.com 2>&1) || rc=$?
    chmod 755 "$d"
    rm -rf "$d"
    [ "$rc" -eq 73 ] || fail "optout on a read-only database: exit $rc, expected 73" "$out"
    assert_contains "$out" "readonly database"
}

@test "first week: a last_name with a line break that would reach To: is refused like a first_name in the Subject (65), never flattened" {
    printf 'email,first_name,last_name\nok@example.com,Ann,Lee\nbad@example.com,Eve,"Doe\r\nBcc: victim@evil.example"\n' >n.csv
    crun 0 import n.csv --list news
    run --separate-stderr env CAMPAIGN_SENDER_FROM="News <news@acme.example>" "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" preview --template promo --to bad@example.com
    [ "$status" -eq 65 ] || fail "preview: exit $status, expected 65" "$output"
    assert_contains "$stderr" "the To display name (first_name, last_name or name) contains a line break"
    [[ "$output" != *"victim@evil.example"* ]] || fail "the injected header reached the message"
    run --separate-stderr env CAMPAIGN_SENDER_FROM="News <news@acme.example>" "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" preview --template promo --to ok@example.com
    [ "$status" -eq 0 ] || fail "preview of a good contact: exit $status" "$stderr"
    assert_contains "$output" "To: \"Ann Lee\" <ok@example.com>"
}

@test "first week: a dry run's --out never replaces an earlier dry run's files without --force (73, before building); its size summary is ordered (min <= median <= p95 <= max)" {
    # shellcheck disable=SC2046
    list_of $(addrs 6)
    export CAMPAIGN_SENDER_FROM="News <news@acme.example>"
    crun 0 --templates "$TEMPLATES" send --template promo --list news --dry-run --out out
    assert_eq "$(ls out/*.eml | wc -l)" 6
    # min <= median <= p95 <= max, in bytes
    printf '%s\n' "$output" | grep '^sizes: ' | "$PY" -c '
import re, sys
line = sys.stdin.read()
units = {"B": 1, "KB": 1024, "MB": 1024 * 1024}
v = [float(n) * units[u] for n, u in re.findall(r"([0-9.]+) (B|KB|MB)", line)]
assert len(v) == 4, line
assert v[0] <= v[1] <= v[2] <= v[3], "not ordered: " + line
' || fail "size summary: $(printf '%s\n' "$output" | grep '^sizes: ')"
    local sum
    sum=$(cat out/*.eml | md5sum)
    printf 'x' >>out/"$(ls out | head -1)"
    local changed
    changed=$(cat out/*.eml | md5sum)
    crun 73 --templates "$TEMPLATES" send --template promo --list news --dry-run --out out
    assert_contains "$stderr" "holds the messages of an earlier dry run"
    assert_eq "$(cat out/*.eml | md5sum)" "$changed" "the earlier files after a refused run"
    crun 0 --templates "$TEMPLATES" send --template promo --list news --dry-run --out out --force
    [ "$(cat out/*.eml | md5sum)" != "$changed" ] || fail "--force replaced nothing"
    crun 64 --templates "$TEMPLATES" send --template promo --list news --dry-run --force
    unset CAMPAIGN_SENDER_FROM
}

@test "first week: a From domain no [dkim] key is aligned with is warned about at preview, send --dry-run and the start of a send (DMARC fails unless SPF aligns); an aligned one is not" {
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv --list news
    crun 0 dkim keygen --domain other.example --selector s1 --algo ed25519 --out other.key
    crun 0 dkim keygen --domain acme.example --selector s1 --algo ed25519 --out acme.key
    printf '[sender]\nfrom = News <news@mail.acme.example>\n\n[dkim]\ndomain = other.example\nselector = s1\nkey_file = other.key\n' >bad.conf
    printf '[sender]\nfrom = News <news@mail.acme.example>\n\n[dkim]\ndomain = acme.example\nselector = s1\nkey_file = acme.key\n' >good.conf
    chmod 600 bad.conf good.conf
    crun 0 --config bad.conf --templates "$TEMPLATES" preview --template promo
    assert_contains "$stderr" "the From domain mail.acme.example is not aligned with any [dkim] domain (d=other.example)"
    crun 0 --config bad.conf --templates "$TEMPLATES" send --template promo --list news --dry-run
    assert_contains "$stderr" "is not aligned with any [dkim] domain"
    crun 0 --config good.conf --templates "$TEMPLATES" preview --template promo
    [[ "$stderr" != *"not aligned"* ]] || fail "an aligned subdomain was warned about: $stderr"
    crun 0 --config good.conf --templates "$TEMPLATES" send --template promo --list news --dry-run
    [[ "$stderr" != *"not aligned"* ]] || fail "an aligned subdomain was warned about: $stderr"
    # the start of a real send (its check before the freeze)
    start_sink
    printf '\n[relay]\nhost = 127.0.0.1\nport = %s\ntls = none\n' "$SINK_PORT" >>bad.conf
    crun 0 --config bad.conf --templates "$TEMPLATES" send --template promo --list news
    assert_contains "$stderr" "is not aligned with any [dkim] domain"
    assert_contains "$output" "sent 1, "
}

@test "first week: a missing partial is an error at templates (65, naming the file and line) as at preview and send; campaign render keeps the spec's empty rendering" {
    mkdir -p tpl/partials
    printf 'Subject: hi\n\n<p>hi</p>\n{{>footer}}\n' >tpl/t1.mustache
    printf 'Subject: ok\n\n<p>ok</p>\n' >tpl/t2.mustache
    crun 65 --templates tpl templates
    assert_contains "$stderr" 'tpl/t1.mustache:4:1: partial "footer" is missing'
    assert_contains "$output" "a partial it names has no file"
    printf '<p>unsubscribe</p>\n' >tpl/partials/footer.mustache
    crun 0 --templates tpl templates
    # render is the spec's renderer: a missing partial renders empty
    printf 'a{{>nope}}b' >r.mustache
    crun 0 render r.mustache
    assert_eq "$output" ab
}
