#!/usr/bin/env bats
# Issue 14: `campaign bounces parse` parses on every core (engine/pmap.c)
# - run here under ThreadSanitizer (build/tsan/campaign, made by `make
# test`) over the golden files, the hostile cases and a Maildir of 1,240
# messages: no data race, and the same output as the sanitizer build's.
#
# G_SLICE=always-malloc: GLib's slice allocator hands memory between
# threads through magazines ThreadSanitizer cannot see into (GLib is not
# built with it), and would report that reuse as races of ours.

load lib

: "${CAMPAIGN_TSAN_BIN:=$E2E_TOP/build/tsan/campaign}"
BDATA="$E2E_TOP/tests/data/bounces"

setup() {
    [ -x "$CAMPAIGN_TSAN_BIN" ] || {
        echo "CAMPAIGN_TSAN_BIN=$CAMPAIGN_TSAN_BIN is not executable (make build/tsan/campaign)" >&2
        return 1
    }
    cd "$BATS_TEST_TMPDIR" || return 1
}

@test "bounces threads: parse on every core under ThreadSanitizer - no data race, three runs, each the output of the sanitizer build" {
    [ "$(nproc)" -ge 2 ] || skip "one core: parse runs on one thread, nothing to check"
    local md="$BATS_TEST_TMPDIR/md" f k
    mkdir -p "$md/new" "$md/cur" hostile
    "$PY" "$E2E_TOP/tests/e2e/bounces_hostile.py" --small hostile >/dev/null ||
        fail "bounces_hostile.py failed" || return 1
    for k in $(seq 1 20); do
        for f in "$BDATA"/*.eml; do
            cp "$f" "$md/new/$k.$(basename "$f")"
        done
    done
    run --separate-stderr "$CAMPAIGN_BIN" bounces parse --json "$BDATA" hostile "$md"
    no_sanitizer_report || return 1
    expect_status 0 || return 1
    printf '%s' "$output" >want.json
    [ "$(wc -c <want.json)" -gt 100000 ] || fail "little output: $(head -c 300 want.json)" || return 1
    for k in 1 2 3; do
        run --separate-stderr env G_SLICE=always-malloc \
            TSAN_OPTIONS="halt_on_error=1:exitcode=87" \
            "$CAMPAIGN_TSAN_BIN" bounces parse --json "$BDATA" hostile "$md"
        [[ "${stderr:-}" != *ThreadSanitizer* ]] || fail "run $k:" "${stderr:0:4000}" || return 1
        expect_status 0 || return 1
        printf '%s' "$output" >got.json
        cmp -s got.json want.json || fail "run $k: output differs from the sanitizer build's" || return 1
    done
}

@test "bounces threads: a ThreadSanitizer build reports a race it is shown (the check can fail)" {
    [ "$(nproc)" -ge 2 ] || skip "one core"
    command -v cc >/dev/null || fail "no C compiler" || return 1
    cat >race.c <<'EOF'
#include <pthread.h>
static long n;
static void *bump(void *a) { for (int i = 0; i < 100000; i++) n++; return a; }
int main(void) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], 0, bump, 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], 0);
    return n == 0;
}
EOF
    cc -O1 -g -fsanitize=thread -o race race.c -lpthread || fail "cc -fsanitize=thread failed" || return 1
    run --separate-stderr env TSAN_OPTIONS="halt_on_error=1:exitcode=87" ./race
    [ "$status" -eq 87 ] && [[ "$stderr" == *"data race"* ]] ||
        fail "status $status, stderr: ${stderr:0:500}"
}
