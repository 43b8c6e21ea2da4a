# tests/e2e/postfix_lib.bash - a private Postfix instance for the
# send_postfix.bats end-to-end tests, loaded after lib.bash and
# send_lib.bash:
#
#   load lib
#   load send_lib
#   load postfix_lib
#
# The instance is the installed Postfix (the Debian package) started with
# `postfix -c DIR` on a configuration of its own: DIR, the queue and the
# data directory and the log all live under $BATS_TEST_TMPDIR/postfix;
# smtpd listens on a free port of 127.0.0.1 only, and everything it
# accepts is relayed to a Postfix smtp-sink (start_sink, messages in
# $SINK_DUMP).  Nothing outside the test's directory is written: no
# `postfix set-permissions`, never the system's /etc/postfix or its
# queue.  The queue's subdirectories are made by Postfix itself (`postfix
# start` runs `post-install create-missing`, which creates only what is
# missing, owned by mail_owner postfix and setgid_group postdrop).
#
# The master drops to mail_owner to open $data_directory/master.lock, and
# mail_owner cannot walk through the 0700 directories bats makes; so
# data_directory is relative ("data"): every Postfix program works in
# queue_directory, and that is where it lands.
#
# Postfix needs root (the master binds, then drops to mail_owner); a test
# skips only when Postfix is not installed.  Every wait is bounded.

PF_POSTFIX=${PF_POSTFIX:-/usr/sbin/postfix}
PF_POSTCONF=${PF_POSTCONF:-/usr/sbin/postconf}
PF_POSTQUEUE=${PF_POSTQUEUE:-/usr/sbin/postqueue}

# pf_require - Postfix is installed (scripts/install-deps installs it):
# without it the test fails, it is not a pass or a quiet skip.
pf_require() {
    [ -x "$PF_POSTFIX" ] ||
        fail "Postfix is not installed ($PF_POSTFIX): run ./scripts/install-deps"
}

# pf_main_cf SINKPORT - the main.cf of the private instance: a relay for
# 127.0.0.0/8 to [127.0.0.1]:SINKPORT, no local delivery, no DNS, short
# retry times, the log in $PF_LOG.
pf_main_cf() {
    cat <<EOF
compatibility_level = 3.6
queue_directory = $PF_DIR/queue
data_directory = data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.campaign.test
mydomain = campaign.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$1
smtp_host_lookup = native
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
# Postfix's tarpit (after smtpd_soft_error_limit errors, each error
# reply waits 1 s) is off: campaign stops handing out messages at the
# first refusal of us, but the transactions its SMTP client already
# holds (up to 8) still go out and are refused one by one; with the
# tarpit that costs about 4 s each
smtpd_error_sleep_time = 0s
maillog_file = $PF_LOG
maillog_file_prefixes = $PF_DIR
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = 1m
bounce_queue_lifetime = 1m
biff = no
EOF
}

# pf_master_cf PORT - master.cf: smtpd on 127.0.0.1:PORT and the services
# a relay needs, none chrooted.
pf_master_cf() {
    cat <<EOF
127.0.0.1:$1 inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# pf_start [PARAM=VALUE...] - smtp-sink (start_sink), then the private
# Postfix relaying to it, with these main.cf parameters added.  Sets
# PF_DIR, PF_CONF (the configuration directory), PF_LOG and PF_PORT (its
# smtpd).  A port taken between free_port and the bind is tried again.
pf_start() {
    local _ p
    start_sink
    PF_DIR="$BATS_TEST_TMPDIR/postfix"
    PF_CONF="$PF_DIR/conf"
    PF_LOG="$PF_DIR/postfix.log"
    mkdir -p "$PF_CONF"
    # root-owned and not writable by others: Postfix checks both
    mkdir -m 755 "$PF_DIR/queue"
    echo "$PF_CONF" >>"$BATS_TEST_TMPDIR/postfix.confs"
    for _ in 1 2 3; do
        PF_PORT=$(free_port)
        pf_main_cf "$SINK_PORT" >"$PF_CONF/main.cf"
        for p in "$@"; do
            printf '%s\n' "$p" >>"$PF_CONF/main.cf"
        done
        pf_master_cf "$PF_PORT" >"$PF_CONF/master.cf"
        if timeout 60 "$PF_POSTFIX" -c "$PF_CONF" start >>"$PF_DIR/start.out" 2>&1 &&
            pf_wait_smtpd; then
            return 0
        fi
        pf_stop
    done
    fail "the private Postfix did not start:" "$(cat "$PF_DIR/start.out")" \
        "--- postfix log:" "$(pf_log)"
}

# pf_wait_smtpd - until smtpd answers on PF_PORT with Postfix's greeting
# (not another server that took the port), at most 10 s.
pf_wait_smtpd() {
    local i banner
    for ((i = 0; i < 100; i++)); do
        banner=$(timeout 2 "$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
s.settimeout(1)
print(s.recv(512).decode("ascii", "replace").strip())
s.sendall(b"QUIT\r\n")' "$PF_PORT" 2>/dev/null) || banner=
        [[ "$banner" == "220 relay.campaign.test "* ]] && return 0
        sleep 0.1
    done
    return 1
}

# pf_master_pid [CONF] - the pid of the running master of this instance
# (its pid file, checked against the process's MAIL_CONFIG), or nothing.
pf_master_pid() {
    local conf=${1:-$PF_CONF} pid
    pid=$(awk '{ print $1; exit }' "$(dirname "$conf")/queue/pid/master.pid" 2>/dev/null) || return 0
    [ -n "$pid" ] || return 0
    if grep -qzxF "MAIL_CONFIG=$conf" "/proc/$pid/environ" 2>/dev/null &&
        ! pf_zombie "$pid"; then
        echo "$pid"
    fi
}

# pf_zombie PID - the process has exited and waits to be reaped.
pf_zombie() {
    [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# pf_procs [CONF] - pids of live processes of this instance: every Postfix
# program has MAIL_CONFIG=CONF in its environment.
pf_procs() {
    local conf=${1:-$PF_CONF} f pid
    for f in /proc/[0-9]*/environ; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        [ "$pid" = "$$" ] && continue
        if grep -qzxF "MAIL_CONFIG=$conf" "$f" 2>/dev/null &&
            ! pf_zombie "$pid"; then
            echo "$pid"
        fi
    done
}

# pf_stop [CONF] - `postfix -c CONF stop` (it waits up to 5 s for the
# master, then kills its process group), then until no process of this
# instance is left (5 s more); stragglers are killed by pid.  Fails when
# something survives.
pf_stop() {
    local conf=${1:-$PF_CONF} i left
    [ -n "$conf" ] && [ -d "$conf" ] || return 0
    if [ -n "$(pf_master_pid "$conf")" ]; then
        timeout 20 "$PF_POSTFIX" -c "$conf" stop >/dev/null 2>&1 || :
    fi
    for ((i = 0; i < 50; i++)); do
        left=$(pf_procs "$conf")
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null || :
    sleep 0.2
    left=$(pf_procs "$conf")
    [ -z "$left" ] || fail "Postfix processes of $conf left: $left"
}

# pf_teardown - stop every private Postfix of this test, then the sinks
# (send_teardown).  When the test failed, print the Postfix log.
pf_teardown() {
    local conf rc=0
    if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${PF_LOG:-}" ]; then
        printf '%s\n' "--- postfix log ($PF_LOG):" "$(pf_log)" >&2
    fi
    if [ -f "$BATS_TEST_TMPDIR/postfix.confs" ]; then
        while read -r conf; do
            pf_stop "$conf" || rc=1
        done < <(sort -u "$BATS_TEST_TMPDIR/postfix.confs")
        rm -f "$BATS_TEST_TMPDIR/postfix.confs"
    fi
    send_teardown
    return "$rc"
}

# pf_log - the private Postfix's log (empty when it has none yet).
pf_log() {
    cat "$PF_LOG" 2>/dev/null || :
}

# pf_set PARAM=VALUE... / pf_unset PARAM... - change main.cf, then
# `postfix reload`, and wait until the master has re-read it.
pf_set() {
    "$PF_POSTCONF" -c "$PF_CONF" -e "$@" || fail "postconf -e $*"
    pf_reload
}

pf_unset() {
    "$PF_POSTCONF" -c "$PF_CONF" -X "$@" || fail "postconf -X $*"
    pf_reload
}

# pf_reload - `postfix -c DIR reload`, then until the log says the master
# reloaded (10 s).  Processes started before (an idle smtpd) finish and
# are replaced; pf_wait_smtpd then checks a new connection is answered.
pf_reload() {
    local n
    n=$(grep -c 'reload -- version' "$PF_LOG" 2>/dev/null) || n=0
    timeout 20 "$PF_POSTFIX" -c "$PF_CONF" reload >>"$PF_DIR/start.out" 2>&1 ||
        fail "postfix reload failed:" "$(cat "$PF_DIR/start.out")" || return 1
    wait_for 10 pf_reloaded "$n" || return 1
    pf_wait_smtpd || fail "smtpd does not answer after the reload"
}

pf_reloaded() {
    [ "$(grep -c 'reload -- version' "$PF_LOG" 2>/dev/null)" -gt "$1" ]
}

# pf_queue_empty - nothing left in the private Postfix's queue.
pf_queue_empty() {
    [ "$("$PF_POSTQUEUE" -c "$PF_CONF" -p 2>&1)" = "Mail queue is empty" ]
}

# pf_delivered N [SECONDS] - until the sink got N recipients' copies and
# the private Postfix's queue is empty (default 30 s; the queue is
# flushed once a second meanwhile).  Fails with the queue when that does
# not happen (the log follows from pf_teardown).
pf_delivered() {
    local want=$1 tenths=$((${2:-30} * 10)) i got=0
    for ((i = 0; i < tenths; i++)); do
        got=$(received | wc -l)
        if [ "$got" -ge "$want" ] && pf_queue_empty; then
            return 0
        fi
        ((i % 10 == 9)) && "$PF_POSTQUEUE" -c "$PF_CONF" -f >/dev/null 2>&1
        sleep 0.1
    done
    fail "the sink behind Postfix got $got of $want copies in ${2:-30} s" \
        "--- postqueue -p:" "$("$PF_POSTQUEUE" -c "$PF_CONF" -p 2>&1)"
}

# pf_conf PORT [RELAY LINES...] - campaign.conf for the private Postfix
# (as write_conf, no TLS) with a VERP return path at b.example:
# the envelope sender is bounces+TOKEN@b.example.
pf_conf() {
    local port=$1
    shift
    {
        printf '[sender]\nfrom = Acme News <news@acme.example>\n'
        printf 'bounce_domain = b.example\n\n'
        printf '[relay]\nhost = 127.0.0.1\nport = %s\ntls = none\n' "$port"
        printf '%s\n' "$@"
    } >"$BATS_TEST_TMPDIR/campaign.conf"
    chmod 600 "$BATS_TEST_TMPDIR/campaign.conf"
}
