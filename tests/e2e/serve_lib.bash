# tests/e2e/serve_lib.bash - helpers for the `campaign serve` end-to-end
# tests (serve.bats), loaded after lib.bash and send_lib.bash:
#
#   load lib
#   load send_lib
#   load serve_lib
#
# A test mails the promo template through smtp-sink (send_lib.bash) with
# [tracking] base_url pointing at a loopback port, then starts `campaign
# serve` on that port in the background and follows the links of the
# messages as the sink received them (serve_links.py).  Every server is
# stopped by send_teardown; every wait is bounded.
#
# Events are committed by serve's writer thread at most 100 ms after a
# hit, in the order the hits came.  A check that something was NOT
# recorded first calls serve_barrier: an open of the barrier recipient
# (zz-barrier@example.com, on every list, never used otherwise) hit after
# the requests under test and waited for; once it is in the table,
# everything enqueued before it is too.

SERVE_LINKS="$BATS_TEST_DIRNAME/serve_links.py"
SERVE_BURST="$BATS_TEST_DIRNAME/serve_burst.py"
BARRIER=zz-barrier@example.com
CHROME_UA='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'

# serve_conf [LINES...] - campaign.conf for the sink (SINK_PORT), with
# [tracking] base_url = SERVE_URL and [serve] listen on SERVE_PORT; LINES
# are added to [serve] (other sections may follow).
serve_conf() {
    write_conf "$SINK_PORT" "" \
        "[tracking]" "base_url = $SERVE_URL" "" \
        "[serve]" "listen = 127.0.0.1:$SERVE_PORT" "$@"
}

# serve_sent ADDRESS... - list news of these addresses and the barrier,
# smtp-sink, campaign.conf (serve_conf) and the promo campaign sent to
# all of them: the send has exited.  Sets SERVE_PORT and SERVE_URL.
serve_sent() {
    SERVE_PORT=$(free_port)
    SERVE_URL="http://127.0.0.1:$SERVE_PORT"
    list_of "$@" "$BARRIER"
    start_sink
    serve_conf
    send_status 0
    assert_contains "$output" "sent $(($# + 1)), deferred 0, bounced 0, failed 0"
}

# start_serve [BINARY] [ARGS...] - `campaign serve` (default the binary
# under test) in the background on this test's database and config,
# stderr to $SERVE_ERR; returns once it said it listens and the port
# answers.  Sets SERVE_PID.
start_serve() {
    local bin=${1:-$CAMPAIGN_BIN} i
    [ $# -gt 0 ] && shift
    SERVE_ERR="$BATS_TEST_TMPDIR/serve.err"
    : >"$SERVE_ERR"
    "$bin" --db "$DB" serve "$@" 2>>"$SERVE_ERR" &
    SERVE_PID=$!
    track_pid "$SERVE_PID"
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$SERVE_ERR" && break
        if gone "$SERVE_PID"; then
            fail "campaign serve exited at start:" "$(cat "$SERVE_ERR")"
            return 1
        fi
        sleep 0.1
    done
    grep -q "campaign serve: listening on 127.0.0.1:$SERVE_PORT" "$SERVE_ERR" ||
        { fail "campaign serve did not say it listens:" "$(cat "$SERVE_ERR")"; return 1; }
    wait_port "$SERVE_PORT" 50
}

# stop_serve [SIGNAL] - signal serve (default TERM), wait (at most 10 s)
# until it has exited; its exit status in SERVE_STATUS.
stop_serve() {
    SERVE_STATUS=0
    kill -s "${1:-TERM}" "$SERVE_PID"
    wait_for 10 gone "$SERVE_PID" || return 1
    wait "$SERVE_PID" || SERVE_STATUS=$?
}

# serve_alive - serve has not exited, and its stderr holds no sanitizer
# report.
serve_alive() {
    if gone "$SERVE_PID"; then
        fail "campaign serve is gone:" "$(cat "$SERVE_ERR")"
        return 1
    fi
    serve_no_report
}

# serve_no_report - serve's stderr holds no sanitizer report.
serve_no_report() {
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$SERVE_ERR"; then
        fail "sanitizer report from campaign serve:" "$(cat "$SERVE_ERR")"
        return 1
    fi
}

# msg_of EMAIL [CAMPAIGN] - the file holding the message of CAMPAIGN
# (default promo) to EMAIL, found by the Message-ID of its ledger row.
msg_of() {
    local mid f
    mid=$(q "SELECT s.message_id FROM sends s JOIN contacts c ON c.id = s.contact_id
               JOIN campaigns k ON k.id = s.campaign_id
              WHERE c.email = $(sqlstr "$1") AND k.name = $(sqlstr "${2:-promo}");")
    [ -n "$mid" ] || { fail "no ledger row for $1 in ${2:-promo}"; return 1; }
    f=$(received | awk -F'\t' -v r="$1" -v m="$mid" '$1 == r && $2 == m { print $3; exit }')
    [ -n "$f" ] || { fail "no message $mid to $1 in the sink"; return 1; }
    printf '%s\n' "$f"
}

# links_of FILE KIND - the URLs of KIND (serve_links.py links) in the
# message in FILE, one a line.
links_of() {
    "$PY" "$SERVE_LINKS" links "$1" | awk -F'\t' -v k="$2" '$1 == k { print $2 }'
}

# link KIND EMAIL [N] - the Nth (default first) URL of KIND in the promo
# message to EMAIL.
link() {
    local f u
    f=$(msg_of "$2") || return 1
    u=$(links_of "$f" "$1" | sed -n "${3:-1}p")
    [ -n "$u" ] || { fail "no $1 link number ${3:-1} in the message to $2 ($f)"; return 1; }
    printf '%s\n' "$u"
}

# path_of URL - the path of a URL of ours (base_url removed).
path_of() {
    case "$1" in
    "$SERVE_URL"/*) printf '%s\n' "${1#"$SERVE_URL"}" ;;
    *) fail "$1 is not a link to $SERVE_URL"; return 1 ;;
    esac
}

# lpath KIND EMAIL [N] - path_of (link KIND EMAIL N).
lpath() {
    local u
    u=$(link "$@") || return 1
    path_of "$u"
}

# token_of PATH - the token of /x/TOKEN[.gif].
token_of() {
    local t=${1#/?/}
    printf '%s\n' "${t%.gif}"
}

# hget PATH [CURL ARGS...] / hpost PATH [CURL ARGS...] / hhead PATH - one
# request to serve (5 s at most): the status in HTTP_CODE ("000" when no
# answer), the body in $BODY, the headers (CRs removed) in $HDRS.
BODY_NAME=body
hget() {
    local path=$1
    shift
    http_req "$path" "$@"
}
hpost() {
    local path=$1
    shift
    http_req "$path" -X POST "$@"
}
hhead() {
    http_req "$1" -I
}
http_req() {
    local path=$1
    shift
    BODY="$BATS_TEST_TMPDIR/$BODY_NAME"
    HDRS="$BATS_TEST_TMPDIR/$BODY_NAME.hdrs"
    rm -f "$BODY" "$HDRS"
    HTTP_CODE=$(curl -sS --path-as-is -g --max-time 5 -o "$BODY" -D "$HDRS.raw" \
        -w '%{http_code}' "$@" "$SERVE_URL$path" 2>"$BATS_TEST_TMPDIR/curl.err") || :
    [ -n "$HTTP_CODE" ] || HTTP_CODE=000
    touch "$BODY" "$HDRS.raw"
    tr -d '\r' <"$HDRS.raw" >"$HDRS"
}

# hdr NAME - the value of header NAME of the last answer (empty when
# absent; the first when repeated).
hdr() {
    awk -v n="$1" 'BEGIN { n = tolower(n) }
        { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) {
              v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }' "$HDRS"
}

# expect_code CODE - the last answer's status.
expect_code() {
    assert_eq "$HTTP_CODE" "$1" "HTTP status of the last request ($(head -c 300 "$BODY" 2>/dev/null | tr -d '\0'))"
}

# expect_404 WHAT - the last answer is our one 404: the status, the body
# "Not found\n", no Location, no Set-Cookie.
expect_404() {
    assert_eq "$HTTP_CODE" 404 "status for $1" || return 1
    assert_eq "$(od -An -c "$BODY" | tr -s ' ')" "$(printf 'Not found\n' | od -An -c | tr -s ' ')" "404 body for $1" || return 1
    assert_eq "$(hdr Location)$(hdr Set-Cookie)" "" "Location/Set-Cookie on the 404 for $1"
}

# cid EMAIL - the contact's id.
cid() {
    q "SELECT id FROM contacts WHERE email = $(sqlstr "$1");"
}

# nev KIND EMAIL [WHERE] - events of KIND (or "%" for any) of EMAIL.
nev() {
    q "SELECT count(*) FROM events WHERE kind LIKE $(sqlstr "$1")
         AND contact_id = (SELECT id FROM contacts WHERE email = $(sqlstr "$2"))
         ${3:+AND ($3)};"
}

# nev_is N KIND EMAIL [WHERE] - exactly N such events (for wait_for).
nev_is() {
    local n=$1
    shift
    [ "$(nev "$@")" -eq "$n" ]
}

# others - every event and suppression that is not the barrier's: what
# must not change when a request records nothing.
others() {
    q "SELECT 'event', campaign_id, contact_id, kind, url, machine FROM events
        WHERE contact_id <> (SELECT id FROM contacts WHERE email = '$BARRIER') ORDER BY id;
       SELECT 'suppression', email, reason FROM suppressions ORDER BY email;
       SELECT 'contact', email, status FROM contacts ORDER BY email;
       SELECT 'send', campaign_id, contact_id, state FROM sends ORDER BY 2, 3;"
}

# serve_barrier - every hit answered before this call is in the table
# (see the top of this file).
serve_barrier() {
    local before p
    p=$(lpath open "$BARRIER") || return 1
    before=$(nev open "$BARRIER")
    curl -sS --max-time 5 -o /dev/null "$SERVE_URL$p" || :
    wait_for 5 nev_is $((before + 1)) open "$BARRIER"
}

# flip TOKEN I - TOKEN with its character at index I replaced by another
# base64url character.
flip() {
    local t=$1 i=$2 c
    c=${t:i:1}
    if [ "$c" = A ]; then c=B; else c=A; fi
    printf '%s\n' "${t:0:i}$c${t:i+1}"
}

# raw_http [TIMEOUT] - stdin's bytes sent to serve as they are; what came
# back on stdout (nothing when the connection was closed unanswered).
raw_http() {
    "$PY" "$SERVE_LINKS" raw "$SERVE_PORT" "${1:-5}"
}

# status_line - the status code of a raw answer on stdin ("closed" when
# there was none).
status_line() {
    local l
    IFS= read -r l || :
    l=${l%$'\r'}
    case "$l" in
    HTTP/1.[01]\ [0-9][0-9][0-9]*) printf '%s\n' "${l:9:3}" ;;
    '') echo closed ;;
    *) printf 'garbage: %q\n' "$l" ;;
    esac
}

# hold_db SECONDS - another writer takes the database's write lock (BEGIN
# IMMEDIATE) and keeps it for SECONDS, in the background; returns once
# the lock is held.  Sets HOLD_PID.
hold_db() {
    rm -f "$BATS_TEST_TMPDIR/held"
    "$PY" -c 'import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
c.execute("COMMIT")' "$DB" "$BATS_TEST_TMPDIR/held" "$1" &
    HOLD_PID=$!
    track_pid "$HOLD_PID"
    wait_for 5 test -e "$BATS_TEST_TMPDIR/held"
}
