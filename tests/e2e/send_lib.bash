# tests/e2e/send_lib.bash - helpers for the `campaign send` end-to-end tests
# (send_*.bats), loaded after lib.bash:
#
#   load lib
#   load send_lib
#
# Servers run on loopback ports picked here, in the background; their pids
# go to $BATS_TEST_TMPDIR/servers.pids and send_teardown stops them (by
# pid).  Every wait is bounded in count and time.

SINK_BIN=${SINK_BIN:-/usr/sbin/smtp-sink}
TEMPLATES="$E2E_TOP/templates"
DUMPS="$E2E_TOP/tests/e2e/send_dumps.py"

# free_port - a TCP port nobody listens on right now (127.0.0.1).
free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_open PORT - something accepts connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_port PORT [TENTHS] - until PORT accepts connections (default 10 s).
wait_port() {
    local i
    for ((i = 0; i < ${2:-100}; i++)); do
        port_open "$1" && return 0
        sleep 0.1
    done
    fail "nothing listens on port $1"
}

# track_pid PID - stop this server in send_teardown.
track_pid() {
    echo "$1" >>"$BATS_TEST_TMPDIR/servers.pids"
}

# stop_pid PID - SIGTERM, then SIGKILL after 5 s; waits until it is gone.
stop_pid() {
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || :
    wait "$pid" 2>/dev/null || :
}

# send_teardown - stop every server this test started.
send_teardown() {
    local pid
    if [ -f "$BATS_TEST_TMPDIR/servers.pids" ]; then
        while read -r pid; do
            stop_pid "$pid"
        done <"$BATS_TEST_TMPDIR/servers.pids"
        rm -f "$BATS_TEST_TMPDIR/servers.pids"
    fi
    ledger_counts_agree
}

# ledger_counts_agree - the counts the triggers of 012_ledger_counts and
# 014_report_groups keep (the ledger's by state, its recipients by domain,
# each recipient's events, the events by kind, hour and link) equal a full
# count of the ledger and the events, whatever the test did to them
# (sends, crashes, cancels, bounces, forgets, resends, opens and clicks,
# machines found out): tests/kept_counts.sql, run after every test that
# tears its servers down: first as they are (the events up to the last
# fold), then once `report` has counted the events recorded since
# (db/store.h store_events_fold).  A database that is not there, cannot
# be read (a test made it so) or predates the counts says nothing.
ledger_counts_agree() {
    local out bad
    [ -n "${DB:-}" ] && [ -f "$DB" ] || return 0
    out=$(sqlite3 -batch "$DB" "SELECT 1 FROM sqlite_master WHERE name = 'report_groups';" 2>/dev/null) || return 0
    [ "$out" = 1 ] || return 0
    kept_counts_now || return 1
    "$CAMPAIGN_BIN" --db "$DB" -q report >/dev/null 2>"$BATS_TEST_TMPDIR/kept.err" || {
        echo "report (counting the events) failed on $DB:" >&2
        cat "$BATS_TEST_TMPDIR/kept.err" >&2
        return 1
    }
    kept_counts_now
}

# kept_counts_now - tests/kept_counts.sql on $DB: every table agrees
kept_counts_now() {
    local out bad
    out=$(sqlite3 -batch "$DB" <"$BATS_TEST_DIRNAME/../kept_counts.sql") || {
        echo "tests/kept_counts.sql failed on $DB" >&2
        return 1
    }
    bad=$(printf '%s\n' "$out" | grep -v '|0$' || true)
    [ -z "$bad" ] || {
        printf 'kept counts differ from a full count (table|rows that differ):\n%s\n' "$bad" >&2
        return 1
    }
}

# start_sink [PORT] [SINK OPTIONS...] - Postfix smtp-sink on 127.0.0.1,
# every transaction dumped into $SINK_DUMP (one file each).  Sets
# SINK_PORT and SINK_PID.  PORT "-" (or none) picks a free one.
start_sink() {
    local port=${1:--} _
    [ $# -gt 0 ] && shift
    SINK_DUMP="$BATS_TEST_TMPDIR/dump"
    mkdir -p "$SINK_DUMP"
    local user=()
    [ "$(id -u)" -eq 0 ] && user=(-u "$(id -un)")
    for _ in 1 2 3; do
        if [ "$port" = - ]; then
            SINK_PORT=$(free_port)
        else
            SINK_PORT=$port
        fi
        "$SINK_BIN" "${user[@]}" -d "$SINK_DUMP/m." "$@" \
            "127.0.0.1:$SINK_PORT" 256 >>"$BATS_TEST_TMPDIR/sink.log" 2>&1 &
        SINK_PID=$!
        track_pid "$SINK_PID"
        # listening, and it is ours (not another server that took the
        # port picked a moment ago: then smtp-sink has exited)
        if wait_port "$SINK_PORT" 50 2>/dev/null && sleep 0.05 &&
            kill -0 "$SINK_PID" 2>/dev/null; then
            return 0
        fi
        stop_pid "$SINK_PID"
        [ "$port" = - ] || break
    done
    fail "smtp-sink did not start:" "$(cat "$BATS_TEST_TMPDIR/sink.log")"
}

# stop_sink - stop the smtp-sink started last.
stop_sink() {
    stop_pid "$SINK_PID"
}

# write_conf PORT [LINES...] - campaign.conf for a relay on 127.0.0.1:PORT
# without TLS (smtp-sink has none); LINES are added to [relay], and
# sections may follow.
write_conf() {
    local port=$1
    shift
    {
        printf '[sender]\nfrom = Acme News <news@acme.example>\n\n'
        printf '[relay]\nhost = 127.0.0.1\nport = %s\ntls = none\n' "$port"
        printf '%s\n' "$@"
    } >"$BATS_TEST_TMPDIR/campaign.conf"
    chmod 600 "$BATS_TEST_TMPDIR/campaign.conf"
}

# contacts FILE ADDRESS... - a CSV of these addresses, with first names.
contacts() {
    local f=$1 a i=0
    shift
    printf 'email,first_name,city\n' >"$f"
    for a in "$@"; do
        i=$((i + 1))
        printf '%s,Person%d,Town%d\n' "$a" "$i" "$i" >>"$f"
    done
}

# many_contacts FILE N [PREFIX] - N generated contacts over a few domains.
many_contacts() {
    "$PY" -c '
import csv, sys
f, n, p = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(f, "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["email", "first_name", "city"])
    for i in range(n):
        w.writerow(["%s%05d@d%d.example" % (p, i, i % 7), "Name%d" % i,
                    "City%d" % (i % 13)])
' "$1" "$2" "${3:-user}"
}

# list_of ADDRESS... - import these addresses as list "news".
list_of() {
    contacts "$BATS_TEST_TMPDIR/list.csv" "$@"
    crun 0 import "$BATS_TEST_TMPDIR/list.csv" --list news
}

# send_status N ARGS... - campaign send of the promo template to list
# news with the binary under test (crun: exit status N, no sanitizer
# report; stdout in $output, stderr in $stderr).
send_status() {
    local want=$1
    shift
    crun "$want" --templates "$TEMPLATES" send --template promo --list news "$@"
}

# states - "state count" lines of the promo campaign's ledger, sorted.
states() {
    q "SELECT state, count(*) FROM sends GROUP BY state ORDER BY state;" |
        tr '|' ' '
}

# state_of EMAIL - one recipient's ledger state.
state_of() {
    q "SELECT s.state FROM sends s JOIN contacts c ON c.id = s.contact_id
        WHERE c.email = $(sqlstr "$1");"
}

# row_of EMAIL - state|attempts|last_code|last_status|bounce_class|
# was_uncertain of one recipient.
row_of() {
    q "SELECT s.state, s.attempts, s.last_code, s.last_status,
              s.bounce_class, s.was_uncertain
         FROM sends s JOIN contacts c ON c.id = s.contact_id
        WHERE c.email = $(sqlstr "$1");"
}

# campaign_status [NAME] - the campaign's status column.
campaign_status() {
    q "SELECT status FROM campaigns WHERE name = $(sqlstr "${1:-promo}");"
}

# received [DIR] - "rcpt<TAB>message-id<TAB>file" per delivered copy.
received() {
    "$PY" "$DUMPS" list "${1:-$SINK_DUMP}"
}

# copies EMAIL [DIR] - how many copies EMAIL received.
copies() {
    received "${2:-}" | awk -F'\t' -v r="$1" '$1 == r { n++ } END { print n + 0 }'
}

# check_delivery [CAMPAIGN] [DIR] - send_dumps.py check: every `sent` row
# received, Message-IDs as in the ledger, duplicates only for uncertain
# rows and with the same Message-ID.  The summary line in $output.
check_delivery() {
    run "$PY" "$DUMPS" check "$DB" "${1:-promo}" "${2:-$SINK_DUMP}"
    if [ "$status" -ne 0 ]; then
        fail "delivery check failed:" "$output"
    fi
}

# integrity - PRAGMA integrity_check says ok.
integrity() {
    assert_eq "$(q 'PRAGMA integrity_check;')" ok "integrity_check"
}

# wait_for SECONDS COMMAND... - until COMMAND succeeds (polled every
# 0.1 s), at most SECONDS.
wait_for() {
    local tenths=$(($1 * 10)) i
    shift
    for ((i = 0; i < tenths; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    fail "timed out after $((tenths / 10)) s waiting for: $*"
}

# gone PID - the process has exited.
gone() {
    ! kill -0 "$1" 2>/dev/null
}

# addrs N [PREFIX] - N addresses PREFIXnn@example.com (default user), one a
# line.
addrs() {
    local i
    for ((i = 1; i <= $1; i++)); do
        printf '%s%02d@example.com\n' "${2:-user}" "$i"
    done
}

# test_ca DIR NAME - a test CA (DIR/ca.pem, DIR/ca.key, named NAME) and a
# leaf it signed for localhost and 127.0.0.1 (DIR/leaf.pem, DIR/leaf.key),
# EC P-256, valid two days: the certificates of the TLS relays the tests
# start.
test_ca() {
    local d=$1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
        -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || return 1
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/leaf.key" -out "$d/leaf.csr" -subj "/CN=localhost" 2>/dev/null || return 1
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/leaf.ext"
    openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -out "$d/leaf.pem" -extfile "$d/leaf.ext" 2>/dev/null
}

# wait_file FILE - until FILE is non-empty (at most 15 s).
wait_file() {
    local i
    for ((i = 0; i < 150; i++)); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    fail "$1 never appeared" "$(cat "$BATS_TEST_TMPDIR"/*.log 2>/dev/null)"
}

# slow_send RATE [ARGS...] - start the binary under test sending promo in
# the background; pid in SEND_PID, stdout/stderr in send.out/send.err.
slow_send() {
    local rate=$1
    shift
    "$CAMPAIGN_BIN" --db "$DB" --templates "$TEMPLATES" send --template promo \
        --list news --rate "$rate" --concurrency 1 "$@" \
        >"$BATS_TEST_TMPDIR/send.out" 2>"$BATS_TEST_TMPDIR/send.err" &
    SEND_PID=$!
    track_pid "$SEND_PID"
}

# dumps_at_least N - smtp-sink has stored N messages or more.
dumps_at_least() {
    [ "$(ls "$SINK_DUMP" | wc -l)" -ge "$1" ]
}

# reap PID SECONDS - wait for the background send to exit, at most
# SECONDS; its exit status in REAPED.
reap() {
    wait_for "$2" gone "$1" || return 1
    REAPED=0
    wait "$1" || REAPED=$?
}

# slow_setup N - N recipients, smtp-sink, a one-token burst (with
# slow_send's --rate, the relay loop takes a message from the ledger only
# when the rate lets it go).
slow_setup() {
    # shellcheck disable=SC2046
    list_of $(addrs "$1")
    start_sink
    write_conf "$SINK_PORT" "" "[limits]" "burst = 1"
}

# serve ARGS... - the scripted relay tests/e2e/smtp_server.py in the
# background with ARGS: port in SRV_PORT, messages in SRV_MAIL, events in
# SRV_EVENTS.
serve() {
    SRV_MAIL="$BATS_TEST_TMPDIR/mail"
    SRV_EVENTS="$BATS_TEST_TMPDIR/events"
    mkdir -p "$SRV_MAIL"
    : >"$SRV_EVENTS"
    rm -f "$BATS_TEST_TMPDIR/srv.port"
    "$PY" "$BATS_TEST_DIRNAME/smtp_server.py" --port-file "$BATS_TEST_TMPDIR/srv.port" \
        --maildir "$SRV_MAIL" --events "$SRV_EVENTS" "$@" >"$BATS_TEST_TMPDIR/srv.log" 2>&1 &
    track_pid $!
    wait_file "$BATS_TEST_TMPDIR/srv.port"
    SRV_PORT=$(cat "$BATS_TEST_TMPDIR/srv.port")
}
