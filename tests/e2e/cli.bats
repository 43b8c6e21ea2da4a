#!/usr/bin/env bats
# Issue 2: the command line - init, --help everywhere, exit codes
# (sysexits: 64 usage, 65 data, 66 no input, 67 no such user).

load lib

@test "init: creates the schema in WAL mode; a second init keeps the data" {
    assert_eq "$(q 'PRAGMA journal_mode;')" wal
    local versions
    versions=$(q "SELECT * FROM schema_version ORDER BY 1;")
    [ -n "$versions" ] || fail "schema_version is empty"
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv
    user_data before.txt
    cp campaign.conf conf.before
    cp c.db.secret secret.before
    crun 0 init
    # README: safe to run again, it changes nothing else - the tracking
    # secret above all, which every link already sent depends on
    assert_output "$DB is at schema version $(q 'SELECT max(version) FROM schema_version;')"
    user_data after.txt
    same_file before.txt after.txt
    same_file conf.before campaign.conf
    same_file secret.before c.db.secret
    assert_eq "$(q "SELECT * FROM schema_version ORDER BY 1;")" "$versions" "schema_version after a second init"
}

@test "init: each database gets its own random hash salt" {
    local other="$BATS_TEST_TMPDIR/other.db"
    run --separate-stderr "$CAMPAIGN_BIN" --db "$other" init
    no_sanitizer_report
    expect_status 0
    assert_contains "$output" "created $other"
    local s1 s2
    s1=$(q "SELECT value FROM meta WHERE key = 'hash_salt';")
    s2=$(sqlite3 "$other" "SELECT value FROM meta WHERE key = 'hash_salt';")
    # 256 bits as hex (store_hash_salt)
    [[ "$s1" =~ ^[0-9a-f]{64}$ ]] || fail "salt of the first database: $s1"
    [[ "$s2" =~ ^[0-9a-f]{64}$ ]] || fail "salt of the second database: $s2"
    [ "$s1" != "$s2" ] || fail "two databases share the salt $s1"
}

@test "import before init: exit 66, no database file created" {
    printf 'email\na@example.com\n' >a.csv
    run --separate-stderr "$CAMPAIGN_BIN" --db "$BATS_TEST_TMPDIR/none.db" import a.csv
    no_sanitizer_report
    expect_status 66
    [ ! -e "$BATS_TEST_TMPDIR/none.db" ] || fail "none.db was created"
}

@test "--help: every command exits 0 with its usage on stdout" {
    local c
    for c in "" init import lists "contacts show" "contacts forget" optout \
        "suppress import" "suppress list" "suppress lift" serve; do
        # shellcheck disable=SC2086
        crun 0 $c --help || fail "campaign $c --help" || return 1
        assert_contains "$output" "usage:" "campaign $c --help" || return 1
    done
    crun 0 import --help
    assert_contains "$output" "--dry-run"
    assert_contains "$output" "--encoding"
    crun 0 --version
    assert_contains "$output" campaign
}

@test "exit 64: usage errors change nothing" {
    printf 'email\na@example.com\n' >a.csv
    dump before.sql
    local args
    while IFS= read -r args; do
        # shellcheck disable=SC2086
        crun 64 $args || fail "campaign $args" || return 1
    done <<'EOF'
frobnicate
import
import a.csv --bogus
import a.csv --delimiter x
import a.csv --delimiter ;;
import a.csv --encoding ebcdic
import a.csv --list
import a.csv --rejects
lists --bogus
contacts
contacts show
contacts frob
optout
optout a@example.com --reason asked
suppress
suppress list --format xml
EOF
    dump after.sql
    same_file before.sql after.sql
}

@test "exit 65: a data error in the file" {
    # README: refused "with the headers it has"; a quote never closed is
    # "an error naming the line"
    printf 'name\nx\n' >noemail.csv
    crun 65 import noemail.csv
    assert_contains "$stderr" 'noemail.csv:1: no email column; the header has "name"'
    printf 'email\nok@example.com\n"a@example.com\n' >unterminated.csv
    crun 65 import unterminated.csv
    assert_contains "$stderr" "unterminated.csv:3: unterminated quoted field"
    assert_eq "$(count contacts)" 0
}

@test "exit 66: a missing input file" {
    crun 66 import does-not-exist.csv
    assert_contains "$stderr" does-not-exist.csv
    crun 66 suppress import does-not-exist.csv
    assert_eq "$(count contacts)" 0
    assert_eq "$(count suppressions)" 0
}

@test "exit 67: contacts show for an address that is neither contact nor suppressed" {
    crun 67 contacts show nobody@example.com
    crun 67 contacts show nobody@example.com --format json
}

@test "a row-level reject is not an error: exit 0 with the count" {
    printf 'email\nnope\n' >a.csv
    crun 0 import a.csv
    assert_output "$(summary 0 0 0 1)"
    assert_stderr_lines 1
}

@test "--quiet: the summary is still printed on stdout" {
    printf 'email\nnope\nok@example.com\n' >a.csv
    crun 0 -q import a.csv
    assert_output "$(summary 1 0 0 1)"
}
