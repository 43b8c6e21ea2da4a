# tests/e2e/dovecot_lib.bash - a private Dovecot IMAP server for the
# bounces_fetch.bats end-to-end tests (issue 14), loaded after lib.bash
# and send_lib.bash:
#
#   load lib
#   load send_lib
#   load dovecot_lib
#
# The installed Dovecot (Debian's dovecot-imapd) started as
# `dovecot -c DIR/dovecot.conf` on a configuration of its own: its
# base_dir (sockets, master.pid), state_dir, log, certificate, user
# database and the mailbox all live in one directory, DV_DIR; imap-login
# listens on two free ports of 127.0.0.1 only: DV_IMAP (imap, STARTTLS
# required before login) and DV_IMAPS (implicit TLS).  The certificate is
# a leaf of a test CA (send_lib.bash test_ca, for 127.0.0.1 and
# localhost): DV_DIR/ca.pem is the CA a client verifies it with.  One
# user, DV_USER, with password DV_PASS (passwd-file passdb, a static
# userdb), whose Maildir is DV_MAILDIR.  The system's /etc/dovecot and its
# service are never used or touched (install-deps stops that service).
#
# DV_DIR is /tmp/campaign-dovecot.XXXXXX, not under $BATS_TEST_TMPDIR:
# Dovecot's own processes run as unprivileged users (auth as dovecot, the
# imap process as the mail user) and cannot walk through the 0700
# directories bats makes.  The mail user is nobody: Dovecot refuses to
# give mail access as root.  Dovecot needs root to start (it binds, then
# drops privileges); the tests run as root.
#
# dv_teardown stops the instance (by the master's pid and those of its
# children, never by name) and removes DV_DIR.  Every wait is bounded.

DV_BIN=${DV_BIN:-/usr/sbin/dovecot}
DV_USER=bounces
DV_MAIL_USER=nobody

# dv_require - Dovecot is installed (scripts/install-deps installs
# dovecot-imapd): without it the test fails, it is not a pass or a quiet
# skip.
dv_require() {
    if [ ! -x "$DV_BIN" ] || [ ! -x /usr/lib/dovecot/imap ]; then
        fail "Dovecot's IMAP server is not installed ($DV_BIN, /usr/lib/dovecot/imap): run ./scripts/install-deps"
    fi
}

# dv_conf - the configuration of the private instance.
dv_conf() {
    cat <<EOF
# the private Dovecot of tests/e2e/dovecot_lib.bash
instance_name = campaign-test-${DV_DIR##*.}
base_dir = $DV_DIR/run
state_dir = $DV_DIR/state
log_path = $DV_LOG
info_log_path = $DV_LOG
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$DV_DIR/leaf.pem
ssl_key = <$DV_DIR/leaf.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:$DV_MAILDIR
mail_uid = $DV_MAIL_USER
mail_gid = $(id -gn "$DV_MAIL_USER")
mail_privileged_group =
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV_DIR/passwd
}
userdb {
  driver = static
  args = uid=$DV_MAIL_USER gid=$(id -gn "$DV_MAIL_USER") home=$DV_DIR/home
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DV_IMAP
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $DV_IMAPS
    ssl = yes
  }
}
service stats {
  inet_listener http {
    port = 0
  }
}
EOF
}

# dv_start - the private Dovecot, running and answering on both ports.
# Sets DV_DIR, DV_CONF, DV_LOG, DV_MAILDIR, DV_PASS, DV_IMAP, DV_IMAPS,
# DV_PID.  A port taken between free_port and the bind is tried again.
dv_start() {
    local _ g
    DV_DIR=$(mktemp -d /tmp/campaign-dovecot.XXXXXX) || return 1
    echo "$DV_DIR" >>"$BATS_TEST_TMPDIR/dovecot.dirs"
    chmod 755 "$DV_DIR"
    DV_CONF="$DV_DIR/dovecot.conf"
    DV_LOG="$DV_DIR/dovecot.log"
    DV_MAILDIR="$DV_DIR/home/Maildir"
    # a password with characters a shell or a URL would mangle
    DV_PASS="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')-%&;\$x"
    g=$(id -gn "$DV_MAIL_USER")
    test_ca "$DV_DIR" "Campaign Dovecot Test CA" || fail "openssl: no test certificate" || return 1
    chmod 644 "$DV_DIR/leaf.key" # read by the master (root) only; DV_DIR is the test's
    printf '%s:{PLAIN}%s::::::\n' "$DV_USER" "$DV_PASS" >"$DV_DIR/passwd"
    chgrp dovecot "$DV_DIR/passwd" 2>/dev/null || :
    chmod 640 "$DV_DIR/passwd"
    mkdir -p "$DV_MAILDIR/cur" "$DV_MAILDIR/new" "$DV_MAILDIR/tmp"
    chown -R "$DV_MAIL_USER:$g" "$DV_DIR/home"
    chmod -R go-rwx "$DV_DIR/home"
    for _ in 1 2 3; do
        DV_IMAP=$(free_port)
        DV_IMAPS=$(free_port)
        dv_conf >"$DV_CONF"
        if timeout 20 "$DV_BIN" -c "$DV_CONF" >>"$DV_DIR/start.out" 2>&1 &&
            dv_wait_ready; then
            return 0
        fi
        dv_stop
    done
    fail "the private Dovecot did not start:" "$(cat "$DV_DIR/start.out")" \
        "--- dovecot log:" "$(dv_log)"
}

# dv_master_pid - the pid of this instance's master (base_dir/master.pid,
# checked to be a dovecot running this configuration), or nothing.
dv_master_pid() {
    local pid
    pid=$(cat "$DV_DIR/run/master.pid" 2>/dev/null) || return 0
    [ -n "$pid" ] || return 0
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DV_CONF"; then
        echo "$pid"
    fi
}

# dv_banner PORT - the first line the server sends on PORT over TLS
# (imaps), or in clear (imap).
dv_banner() {
    timeout 3 "$PY" -c '
import socket, ssl, sys
port, tls = int(sys.argv[1]), sys.argv[2] == "tls"
s = socket.create_connection(("127.0.0.1", port), 2)
s.settimeout(2)
if tls:
    s = ssl._create_unverified_context().wrap_socket(s)
print(s.recv(512).decode("ascii", "replace").strip())
' "$1" "$2" 2>/dev/null
}

# dv_wait_ready - until both listeners greet as Dovecot does and the
# master is ours (at most 10 s).
dv_wait_ready() {
    local i
    for ((i = 0; i < 100; i++)); do
        DV_PID=$(dv_master_pid)
        if [ -n "$DV_PID" ] &&
            [[ "$(dv_banner "$DV_IMAP" plain)" == "* OK "*"Dovecot"*"ready."* ]] &&
            [[ "$(dv_banner "$DV_IMAPS" tls)" == "* OK "*"Dovecot"*"ready."* ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# dv_procs PID - the process PID and its descendants.
dv_procs() {
    local p kids
    echo "$1"
    kids=$(awk -v pp="$1" '$4 == pp { print $1 }' /proc/[0-9]*/stat 2>/dev/null)
    for p in $kids; do
        dv_procs "$p"
    done
}

# dv_stop - stop this instance: SIGTERM to its master (Dovecot's own
# `stop` does the same), until the master and every process it started
# are gone (5 s), then SIGKILL to those left, by pid.
dv_stop() {
    local pid i left p
    pid=$(dv_master_pid)
    [ -n "$pid" ] || return 0
    left=$(dv_procs "$pid")
    kill "$pid" 2>/dev/null || :
    for ((i = 0; i < 50; i++)); do
        p=
        for pid in $left; do
            kill -0 "$pid" 2>/dev/null && p="$p $pid"
        done
        [ -z "$p" ] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -9 $p 2>/dev/null || :
}

# dv_teardown - stop every private Dovecot of this test and remove its
# directory.  When the test failed, print the Dovecot log.
dv_teardown() {
    local d
    [ -f "$BATS_TEST_TMPDIR/dovecot.dirs" ] || return 0
    if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${DV_LOG:-}" ]; then
        printf '%s\n' "--- dovecot log ($DV_LOG):" "$(dv_log)" >&2
    fi
    while read -r d; do
        DV_DIR=$d
        DV_CONF="$d/dovecot.conf"
        dv_stop
        case "$d" in
        /tmp/campaign-dovecot.??????) rm -rf "$d" ;;
        esac
    done <"$BATS_TEST_TMPDIR/dovecot.dirs"
    rm -f "$BATS_TEST_TMPDIR/dovecot.dirs"
}

# dv_log - the private Dovecot's log.
dv_log() {
    cat "$DV_LOG" 2>/dev/null || :
}

# dv_deliver FILE... - put each message in the Maildir's new/ as a local
# delivery agent would (written in tmp/, renamed into new/).
dv_deliver() {
    local f n base
    for f in "$@"; do
        n=$(($(cat "$DV_DIR/delivered" 2>/dev/null || echo 0) + 1))
        echo "$n" >"$DV_DIR/delivered"
        base="$(date +%s).M${n}P$$.campaign-test"
        cp "$f" "$DV_MAILDIR/tmp/$base" || return 1
        chown "$DV_MAIL_USER:$(id -gn "$DV_MAIL_USER")" "$DV_MAILDIR/tmp/$base"
        mv "$DV_MAILDIR/tmp/$base" "$DV_MAILDIR/new/$base" || return 1
    done
}

# dv_count FOLDER - messages in a folder of the Maildir on disk (new/ and
# cur/): INBOX, or a folder's name (Maildir++: .NAME).
dv_count() {
    local d=$DV_MAILDIR
    [ "$1" = INBOX ] || d="$DV_MAILDIR/.$1"
    find "$d/new" "$d/cur" -type f 2>/dev/null | wc -l
}

# dv_flagged FLAG - INBOX messages on disk whose Maildir info has FLAG
# (S seen, T deleted).
dv_flagged() {
    find "$DV_MAILDIR/cur" -type f -name "*:2,*$1*" 2>/dev/null | wc -l
}

# dv_curl URL-PATH [CURL ARGS...] - curl as an independent IMAP client
# over implicit TLS, the CA verified, the credentials from a file (not on
# argv): `dv_curl INBOX -X 'UID SEARCH ALL'`.
dv_curl() {
    local path=$1
    shift
    printf 'user = "%s:%s"\n' "$DV_USER" "$DV_PASS" >"$DV_DIR/curl.cfg"
    chmod 600 "$DV_DIR/curl.cfg"
    curl -sS --max-time 10 --ssl-reqd --cacert "$DV_DIR/ca.pem" \
        -K "$DV_DIR/curl.cfg" "imaps://127.0.0.1:$DV_IMAPS/$path" "$@"
}
