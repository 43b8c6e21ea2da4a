#!/usr/bin/env bats
# Issue 12: the man page matches --help (options, sections, files).

load lib

@test "manpage: every command's --help options are in its man page entry and the entry's synopsis has no option --help lacks; CONFIGURATION, ENVIRONMENT, FILES" {
    run "$PY" "$BATS_TEST_DIRNAME/man_check.py" "$CAMPAIGN_BIN" "$E2E_TOP/cmd/campaign.1"
    [ "$status" -eq 0 ] || fail "the man page and --help differ:" "$output"
}

@test "manpage: man renders it without a warning" {
    command -v man >/dev/null || fail "man is not installed (scripts/install-deps installs man-db)"
    run --separate-stderr env MANWIDTH=80 man --warnings -l "$E2E_TOP/cmd/campaign.1"
    [ "$status" -eq 0 ] || fail "man: exit $status" "$stderr"
    [ -z "$stderr" ] || fail "man warns:" "$stderr"
    assert_contains "$output" "CONFIGURATION"
}
