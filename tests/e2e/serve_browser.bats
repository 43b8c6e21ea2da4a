#!/usr/bin/env bats
# `campaign serve`: the unsubscribe page in a real browser.  A message is
# sent through Postfix's smtp-sink, its unsubscribe link is read from the
# message the sink received (List-Unsubscribe, the same URL as the /u/ link
# of the HTML part), `campaign serve` answers it on loopback, and Debian's
# chromium, headless and driven by puppeteer-core (tests/browser/
# unsubscribe.mjs), opens the page at a phone's size, looks, and clicks.
#
# Two browser runs: the first only opens the page (link scanners and
# prefetchers do that: it must change nothing), the second clicks.  The
# screenshots stay in the test's directory and are copied to
# build/screenshots/ for a person to look at.
#
# Needs chromium and tests/browser/node_modules (scripts/install-deps):
# without them the test fails, saying so.

load lib
load send_lib

BROWSER_DIR="$E2E_TOP/tests/browser"
BROWSER_JS="$BROWSER_DIR/unsubscribe.mjs"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SHOTS="$E2E_TOP/build/screenshots"
export CHROMIUM

GIULIA=giulia.bianchi@example.it
GIULIA_MASKED='g***@e***.it'

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# browser_ready - chromium, node and puppeteer-core are installed, else
# fail saying how to get them.
browser_ready() {
    [ -x "$CHROMIUM" ] ||
        fail "no chromium at $CHROMIUM: run scripts/install-deps (Debian package chromium)" ||
        return 1
    command -v node >/dev/null 2>&1 ||
        fail "no node: run scripts/install-deps (Debian package nodejs)" ||
        return 1
    [ -f "$BROWSER_DIR/node_modules/puppeteer-core/package.json" ] ||
        fail "no puppeteer-core in $BROWSER_DIR/node_modules: run scripts/install-deps (npm ci --prefix tests/browser)" ||
        return 1
}

# unsub_url - the unsubscribe URL of the one message the sink received:
# the List-Unsubscribe header's http(s) URI, which must also be the /u/
# link of the HTML part.
unsub_url() {
    "$PY" "$DUMPS" eml "$SINK_DUMP" "$BATS_TEST_TMPDIR/wire" || return 1
    py '
import email, email.policy, glob, re, sys
files = sorted(glob.glob(sys.argv[1] + "/*.eml"))
if len(files) != 1:
    sys.exit("expected one message at the sink, got %d" % len(files))
with open(files[0], "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)
if msg["To"].addresses[0].addr_spec != sys.argv[2]:
    sys.exit("message to %s, expected %s" % (msg["To"], sys.argv[2]))
hdr = re.findall(r"<(https?://[^>]+)>", str(msg["List-Unsubscribe"] or ""))
if len(hdr) != 1:
    sys.exit("List-Unsubscribe: %r: expected one http(s) URI" % msg["List-Unsubscribe"])
html = msg.get_body(("html",)).get_content()
links = set(re.findall(r"href=\"(https?://[^\"]*/u/[^\"]*)\"", html))
if links != {hdr[0]}:
    sys.exit("HTML part /u/ links %s, List-Unsubscribe %s" % (sorted(links), hdr[0]))
if not hdr[0].startswith(sys.argv[3] + "/u/"):
    sys.exit("unsubscribe URL %s is not under base_url %s" % (hdr[0], sys.argv[3]))
print(hdr[0])
' "$BATS_TEST_TMPDIR/wire" "$GIULIA" "$BASE_URL"
}

# start_serve PORT - campaign serve (the binary under test) in the
# background, stderr to serve.log; waits until the port answers.  The
# binary itself, not a subshell around it, is $SERVE_PID (SIGTERM must
# reach it), and it does not keep bats' fd 3 open.
start_serve() {
    "$CAMPAIGN_BIN" --db "$DB" serve >"$BATS_TEST_TMPDIR/serve.out" \
        2>"$BATS_TEST_TMPDIR/serve.log" 3>&- &
    SERVE_PID=$!
    track_pid "$SERVE_PID"
    wait_port "$1" 50 || fail "serve.log:" "$(cat "$BATS_TEST_TMPDIR/serve.log")" || return 1
    kill -0 "$SERVE_PID" 2>/dev/null ||
        fail "campaign serve exited (port $1 taken by another?):" "$(cat "$BATS_TEST_TMPDIR/serve.log")"
}

# stop_serve - SIGTERM; it must exit 0 within 5 s, without a sanitizer
# report.
stop_serve() {
    local rc=0
    kill -TERM "$SERVE_PID"
    wait_for 5 gone "$SERVE_PID" || return 1
    wait "$SERVE_PID" || rc=$?
    output=$(cat "$BATS_TEST_TMPDIR/serve.log")
    stderr=
    no_sanitizer_report || return 1
    assert_eq "$rc" 0 "exit status of campaign serve after SIGTERM (log: $output)"
}

# browser MODE - tests/browser/unsubscribe.mjs look|click on $URL; the
# screenshots land in $BATS_TEST_TMPDIR.
browser() {
    run --separate-stderr timeout 60 node "$BROWSER_JS" "$1" "$URL" \
        "$BATS_TEST_TMPDIR" "$GIULIA" "$GIULIA_MASKED" news
    expect_status 0 || fail "--- serve.log:" "$(cat "$BATS_TEST_TMPDIR/serve.log")"
}

# png_size FILE - "WIDTHxHEIGHT" of a PNG, or fail when it is none.
png_size() {
    py '
import struct, sys
b = open(sys.argv[1], "rb").read(24)
if b[:8] != b"\x89PNG\r\n\x1a\n" or b[12:16] != b"IHDR":
    sys.exit(sys.argv[1] + ": not a PNG")
print("%dx%d" % struct.unpack(">II", b[16:24]))
' "$1"
}

# keep_shot NAME - check a screenshot (a phone's 390x844 CSS pixels at
# device scale 2) and copy it to build/screenshots/.
keep_shot() {
    local f="$BATS_TEST_TMPDIR/$1"
    [ -s "$f" ] || fail "no screenshot $f" || return 1
    assert_eq "$(png_size "$f")" 780x1688 "size of $1" || return 1
    mkdir -p "$SHOTS" && cp "$f" "$SHOTS/$1"
}

@test "serve browser: a phone opens the unsubscribe link of a sent message, sees its address masked, clicks: suppressed" {
    browser_ready

    printf 'email,first_name\n%s,Giulia\n' "$GIULIA" >giulia.csv
    crun 0 import giulia.csv --list news
    start_sink
    SERVE_PORT=$(free_port)
    BASE_URL="http://127.0.0.1:$SERVE_PORT"
    write_conf "$SINK_PORT" "" \
        "[tracking]" "base_url = $BASE_URL" "" \
        "[serve]" "listen = 127.0.0.1:$SERVE_PORT"
    send_status 0
    assert_contains "$output" "campaign promo: sent 1,"
    URL=$(unsub_url)
    start_serve "$SERVE_PORT"

    # opening the page is no unsubscribe: a scanner or a prefetcher does
    # that much
    browser look
    assert_contains "$output" "look: ok"
    keep_shot unsubscribe.png
    assert_eq "$(count suppressions)" 0 "suppressions after only opening the page"
    assert_eq "$(status_of "$GIULIA")" active "status after only opening the page"
    assert_eq "$(count events)" 0 "events after only opening the page"

    # the click: committed before the answer page comes
    browser click
    assert_contains "$output" "click: ok"
    keep_shot unsubscribe-done.png
    assert_eq "$(q "SELECT email, reason, source FROM suppressions;")" \
        "$GIULIA|unsubscribed|unsubscribe page" "suppressions"
    assert_eq "$(status_of "$GIULIA")" unsubscribed "status after the click"
    assert_eq "$(q "SELECT e.kind, ca.name, co.email FROM events e
                      JOIN campaigns ca ON ca.id = e.campaign_id
                      JOIN contacts co ON co.id = e.contact_id;")" \
        "unsubscribe|promo|$GIULIA" "events after the click"

    stop_serve
    integrity
}
