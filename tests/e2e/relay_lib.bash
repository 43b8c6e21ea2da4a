# tests/e2e/relay_lib.bash - the scripted aiosmtpd relay (smtp_server.py)
# for the `campaign send` end-to-end tests, loaded after lib.bash and
# send_lib.bash:
#
#   load lib
#   load send_lib
#   load relay_lib
#
# One relay at a time per test.  It is stopped (by pid) by send_teardown
# or by relay_stop; a restarted relay keeps the test's message directory
# and events file, so copies and events count over both.

# relay_start ARGS... - smtp_server.py on 127.0.0.1 in the background,
# with ARGS (--mode plain unless ARGS give a --mode).  Sets RELAY_PORT
# and RELAY_PID; messages go to RELAY_MAIL, events to RELAY_EVENTS.
relay_start() {
    local i mode=(--mode plain) a
    for a in "$@"; do
        [ "$a" = --mode ] && mode=()
    done
    RELAY_MAIL="$BATS_TEST_TMPDIR/mail"
    RELAY_EVENTS="$BATS_TEST_TMPDIR/events"
    mkdir -p "$RELAY_MAIL"
    touch "$RELAY_EVENTS"
    rm -f "$BATS_TEST_TMPDIR/relay.port"
    "$PY" "$E2E_TOP/tests/e2e/smtp_server.py" "${mode[@]}" \
        --port-file "$BATS_TEST_TMPDIR/relay.port" --maildir "$RELAY_MAIL" \
        --events "$RELAY_EVENTS" "$@" >>"$BATS_TEST_TMPDIR/relay.log" 2>&1 &
    RELAY_PID=$!
    track_pid "$RELAY_PID"
    for ((i = 0; i < 150; i++)); do
        [ -s "$BATS_TEST_TMPDIR/relay.port" ] && break
        gone "$RELAY_PID" && break
        sleep 0.1
    done
    [ -s "$BATS_TEST_TMPDIR/relay.port" ] ||
        fail "smtp_server.py did not start:" "$(cat "$BATS_TEST_TMPDIR/relay.log")" ||
        return 1
    # shellcheck disable=SC2034 # used by the tests
    RELAY_PORT=$(cat "$BATS_TEST_TMPDIR/relay.port")
}

# relay_stop - stop the relay started last.
relay_stop() {
    stop_pid "$RELAY_PID"
}

# relay_events REGEX - how many event lines match (grep -E).
relay_events() {
    grep -cE "$1" "$RELAY_EVENTS" || :
}

# relay_mails - how many messages the relay stored.
relay_mails() {
    find "$RELAY_MAIL" -name '*.eml' | wc -l
}
