#!/usr/bin/env bats
# Issue 9 (part): the EHLO name.  Without [relay] helo, campaign names
# itself by the host's fully-qualified name when it has one, else by the
# address literal of its end of the connection (RFC 5321 4.1.3) - never
# a bare host name such as "vm", which strict relays refuse
# (reject_non_fqdn_helo_hostname: 504 5.5.2).  doctor shows the name.

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# ehlo_sent - the name of the first EHLO of the last -v run's transcript.
ehlo_sent() {
    printf '%s\n' "$stderr" | sed -n 's/.*> EHLO \(.*\)$/\1/p' | head -1 | tr -d '\r'
}

@test "send ehlo: without helo, a fully-qualified name or the address literal, never a bare host name" {
    list_of ann@example.com
    start_sink
    write_conf "$SINK_PORT"
    crun 0 -v --templates "$TEMPLATES" send --template promo --list news
    name=$(ehlo_sent)
    [ -n "$name" ] || fail "no EHLO in the transcript:" "$stderr"
    case "$name" in
    "[127.0.0.1]") ;;
    *.*) [[ "$name" != *" "* ]] || fail "EHLO name with a space: $name" ;;
    *) fail "EHLO with a bare host name: $name" ;;
    esac
    # the address literal exactly when the host has no dotted name
    if [[ "$(hostname)" != *.* ]] && ! getent hosts "$(hostname)" | grep -q '\.'; then
        assert_eq "$name" "[127.0.0.1]" "EHLO of a host without a fully-qualified name"
    fi
    assert_eq "$(states)" "sent 1"
}

@test "send ehlo: [relay] helo is the name given" {
    list_of ann@example.com
    start_sink
    write_conf "$SINK_PORT" "helo = mail.acme.example"
    crun 0 -v --templates "$TEMPLATES" send --template promo --list news
    assert_eq "$(ehlo_sent)" mail.acme.example
}

@test "send ehlo: doctor shows the EHLO name, and says what to do without a fully-qualified one" {
    start_sink
    write_conf "$SINK_PORT"
    run --separate-stderr camp doctor
    no_sanitizer_report
    assert_contains "$output" "EHLO "
    if [[ "$output" == *"EHLO [127.0.0.1]"* ]]; then
        assert_contains "$output" "set helo in [relay]"
    fi
    write_conf "$SINK_PORT" "helo = mail.acme.example"
    run --separate-stderr camp doctor
    assert_contains "$output" "ok   EHLO mail.acme.example ([relay] helo)"
}

@test "send ehlo: doctor says to fix a [relay] helo that is neither a fully-qualified name nor an address literal" {
    start_sink
    write_conf "$SINK_PORT" "helo = vm"
    run --separate-stderr camp doctor
    no_sanitizer_report
    assert_eq "$status" 78 "doctor's exit status"
    assert_contains "$output" "FIX  EHLO vm ([relay] helo) is neither a fully-qualified name nor an address literal"
    write_conf "$SINK_PORT" "helo = [127.0.0.1]"
    run --separate-stderr camp doctor
    assert_contains "$output" "ok   EHLO [127.0.0.1] ([relay] helo)"
}
