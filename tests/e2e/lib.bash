# tests/e2e/lib.bash - shared helpers for the end-to-end tests (bats).
#
# Every test runs the real binary in a fresh directory of its own
# ($BATS_TEST_TMPDIR) on a fresh database made by `campaign init`.
#
#   CAMPAIGN_BIN       the binary under test (default: the ASAN build)
#   CAMPAIGN_FAST_BIN  the optimised binary, for the few tests whose
#                      input is too big for the sanitizer build to finish
#                      in time (default: ./campaign at the top level)

bats_require_minimum_version 1.5.0

E2E_TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
: "${CAMPAIGN_BIN:=$E2E_TOP/build/asan/campaign}"
: "${CAMPAIGN_FAST_BIN:=$E2E_TOP/campaign}"
E2E_DATA="$E2E_TOP/tests/data/import"
PY=/usr/bin/python3
export CAMPAIGN_BIN CAMPAIGN_FAST_BIN
# A sanitizer report must never look like an ordinary exit status.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Keep the environment from choosing another database or config.
unset CAMPAIGN_DB CAMPAIGN_CONFIG CAMPAIGN_TEMPLATES

# setup - a fresh directory and database for each test.  A file that needs
# more setup defines its own setup() and calls campaign_setup.
campaign_setup() {
    [ -x "$CAMPAIGN_BIN" ] || {
        echo "CAMPAIGN_BIN=$CAMPAIGN_BIN is not executable (make build/asan/campaign)" >&2
        return 1
    }
    cd "$BATS_TEST_TMPDIR" || return 1
    DB="$BATS_TEST_TMPDIR/c.db"
    crun 0 init
}

setup() {
    campaign_setup
}

# fail MESSAGE... - print to stderr (shown by bats on failure) and fail.
fail() {
    printf '%s\n' "$@" >&2
    return 1
}

# camp ARGS... - the binary under test on this test's database.
camp() {
    "$CAMPAIGN_BIN" --db "$DB" "$@"
}

# fastcamp ARGS... - the optimised binary on this test's database.
fastcamp() {
    "$CAMPAIGN_FAST_BIN" --db "$DB" "$@"
}

# no_sanitizer_report - fail when the last run's stderr holds a report.
no_sanitizer_report() {
    local all="${stderr:-}${output:-}"
    case "$all" in
    *AddressSanitizer* | *LeakSanitizer* | *"runtime error:"* | *UndefinedBehaviorSanitizer*)
        fail "sanitizer report:" "$all"
        ;;
    esac
}

# expect_status N - the last `run` exited with N, else show what it printed.
expect_status() {
    if [ "$status" -ne "$1" ]; then
        fail "exit status $status, expected $1" \
            "--- stdout:" "$output" "--- stderr:" "${stderr:-}"
    fi
}

# crun N ARGS... - run the binary under test, stdout in $output, stderr in
# $stderr (and $stderr_lines), and require exit status N and no sanitizer
# report.
crun() {
    local want=$1
    shift
    run --separate-stderr camp "$@"
    no_sanitizer_report || return 1
    expect_status "$want"
}

# fastrun N ARGS... - crun with the optimised binary.
fastrun() {
    local want=$1
    shift
    [ -x "$CAMPAIGN_FAST_BIN" ] || fail "CAMPAIGN_FAST_BIN=$CAMPAIGN_FAST_BIN is not executable (make)" || return 1
    run --separate-stderr fastcamp "$@"
    expect_status "$want"
}

# assert_eq ACTUAL EXPECTED [WHAT]
assert_eq() {
    if [ "$1" != "$2" ]; then
        fail "${3:-value} differs" \
            "  expected: $(printf '%q' "$2")" \
            "  actual:   $(printf '%q' "$1")"
    fi
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
    case "$1" in
    *"$2"*) return 0 ;;
    esac
    fail "${3:-text} does not contain $(printf '%q' "$2"):" "$1"
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
    case "$1" in
    *"$2"*) fail "${3:-text} contains $(printf '%q' "$2"):" "$1" ;;
    esac
    return 0
}

# assert_output EXPECTED - stdout of the last run, exactly.
assert_output() {
    assert_eq "$output" "$1" "stdout"
}

# assert_stderr_lines N - the last run printed exactly N stderr lines.
assert_stderr_lines() {
    local n=0
    [ -n "${stderr:-}" ] && n=$(printf '%s\n' "$stderr" | wc -l)
    assert_eq "$n" "$1" "number of stderr lines (stderr: ${stderr:-})"
}

# summary N M U R - the one-file import summary line.
summary() {
    printf 'imported %s, updated %s, unchanged %s, rejected %s' "$1" "$2" "$3" "$4"
}

# sqlstr S - S as an SQL string literal.
sqlstr() {
    local s=${1//\'/\'\'}
    printf "'%s'" "$s"
}

# q SQL - run SQL against the test database, rows on stdout ("|"-separated).
q() {
    sqlite3 -batch "$DB" "$@"
}

# count TABLE [WHERE] - number of rows.
count() {
    q "SELECT count(*) FROM $1 ${2:+WHERE $2};"
}

# attr EMAIL KEY - one attribute of one contact (empty when absent).
attr() {
    q "SELECT json_extract(attrs, $(sqlstr "\$.\"$2\"")) FROM contacts WHERE email = $(sqlstr "$1");"
}

# attrs EMAIL - every attribute of one contact as sorted "key=value" lines
# (values as JSON text for non-strings).
attrs() {
    q "SELECT key || '=' || CASE type WHEN 'text' THEN value ELSE json_quote(value) END
         FROM contacts, json_each(contacts.attrs)
        WHERE email = $(sqlstr "$1") ORDER BY key;"
}

# status_of EMAIL - the status column of one contact.
status_of() {
    q "SELECT status FROM contacts WHERE email = $(sqlstr "$1");"
}

# emails - every stored email, sorted, one a line.
emails() {
    q "SELECT email FROM contacts ORDER BY email;"
}

# dump FILE - the whole database as SQL text.
dump() {
    sqlite3 -batch "$DB" .dump >"$1"
}

# user_data FILE - what a user can see of the stored data: contacts without
# the import bookkeeping columns, lists, memberships, suppressions.
user_data() {
    q "SELECT id, email, attrs, status, created_at, updated_at FROM contacts ORDER BY id;
       SELECT '--lists'; SELECT id, name, created_at FROM lists ORDER BY id;
       SELECT '--memberships'; SELECT list_id, contact_id, added_at FROM memberships ORDER BY 1, 2;
       SELECT '--suppressions'; SELECT hex(hash), email, reason, source, created_at FROM suppressions ORDER BY 1;" >"$1"
}

# same_file A B - fail with a diff when the files differ.
same_file() {
    if ! cmp -s "$1" "$2"; then
        fail "$1 and $2 differ:" "$(diff "$1" "$2" | head -40)"
    fi
}

# py CODE ARGS... - run a Python 3 snippet (fixtures with exact bytes).
py() {
    local code=$1
    shift
    "$PY" -c "$code" "$@"
}

# json_get JSON PATH... - print a value from a JSON document, the path as
# keys/indices; prints "null" for null and JSON for objects/lists.
json_get() {
    local doc=$1
    shift
    printf '%s' "$doc" | "$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))
' "$@"
}

# release_schema N - the SQL that makes a database as release N left it
# (migrations 001-N applied and recorded), inside an open transaction:
# the caller adds its rows and COMMIT and pipes it all to sqlite3.
release_schema() {
    local f n
    printf 'PRAGMA foreign_keys = ON;\nBEGIN;\n'
    printf 'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);\n'
    for f in "$E2E_TOP"/db/migrations/00[1-"$1"]_*.sql; do
        cat "$f"
        n=$(basename "$f" .sql)
        printf "\nINSERT INTO schema_version VALUES (%d, '%s', 1700000000);\n" "${n%%_*}" "$n"
    done
}
