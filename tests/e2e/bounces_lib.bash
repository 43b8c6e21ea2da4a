# tests/e2e/bounces_lib.bash - helpers for the issue-14 end-to-end tests
# of `campaign bounces` (bounces_postfix.bats, bounces_fetch.bats), loaded
# after lib.bash and send_lib.bash:
#
#   load lib
#   load send_lib
#   load bounces_lib
#
# The mail that comes back is about a real campaign: bx_campaign sends
# promo to three contacts into smtp-sink and reads each message's VERP
# token (MAIL FROM bounces+TOKEN@bounces.acme.example) and its
# List-Unsubscribe mailto token (unsubscribe+TOKEN@bounces.acme.example)
# from the dump; tests/e2e/bounce_mail.py makes the DSN, the feedback
# report and the mailed opt-out from the very bytes that were sent.
#
# The database lives outside $BATS_TEST_TMPDIR when another user must
# write it (Postfix's pipe(8) runs the command as an unprivileged user:
# the directories bats makes are 0700 root), in a directory of its own
# that bx_teardown removes; see bx_spool.

BX_DOMAIN=bounces.acme.example
BX_MAIL="$E2E_TOP/tests/e2e/bounce_mail.py"
# the contacts every test mails
BX_PEOPLE=(ann@example.com ben@example.com cid@example.com)

# bx_spool [OWNER] - a fresh directory for the database, its secret and
# campaign.conf: /tmp/campaign-bounces.XXXXXX, which OWNER (a user name;
# default: whoever runs the test) will own once bx_campaign is done - the
# user Postfix runs the ingest command as must be able to write the
# database, its directory (SQLite's -wal and -shm files go beside it),
# and read the secret and the configuration.  SQLite run as root gives
# the files it creates the database's owner, so the test's own queries
# (as root) keep them writable.  Sets BX_DIR, DB, BX_CONF; cd's there.
bx_spool() {
    BX_OWNER=${1:-$(id -un)}
    [ -x "$CAMPAIGN_BIN" ] || fail "CAMPAIGN_BIN=$CAMPAIGN_BIN is not executable (make build/asan/campaign)" || return 1
    BX_DIR=$(mktemp -d /tmp/campaign-bounces.XXXXXX) || return 1
    echo "$BX_DIR" >>"$BATS_TEST_TMPDIR/bx.dirs"
    chmod 700 "$BX_DIR"
    DB="$BX_DIR/c.db"
    BX_CONF="$BX_DIR/campaign.conf"
    cd "$BX_DIR" || return 1
    crun 0 init
}

# bx_give - hand BX_DIR and everything in it to BX_OWNER.
bx_give() {
    [ "$BX_OWNER" = "$(id -un)" ] && return 0
    chown -R "$BX_OWNER:$(id -gn "$BX_OWNER")" "$BX_DIR"
}

# bx_teardown - remove the directories bx_spool made (only those).
bx_teardown() {
    local d
    [ -f "$BATS_TEST_TMPDIR/bx.dirs" ] || return 0
    while read -r d; do
        case "$d" in
        /tmp/campaign-bounces.??????) rm -rf "$d" ;;
        esac
    done <"$BATS_TEST_TMPDIR/bx.dirs"
    rm -f "$BATS_TEST_TMPDIR/bx.dirs"
}

# bx_conf [LINES...] - campaign.conf with the VERP domain and smtp-sink
# as the relay (SINK_PORT); LINES are added at the end (a [bounces]
# section).
bx_conf() {
    {
        printf '[sender]\nfrom = Acme News <news@acme.example>\n'
        printf 'bounce_domain = %s\n\n' "$BX_DOMAIN"
        printf '[relay]\nhost = 127.0.0.1\nport = %s\ntls = none\n\n' "${SINK_PORT:-25}"
        printf '%s\n' "$@"
    } >"$BX_CONF"
    chmod 600 "$BX_CONF"
}

# bx_campaign - import BX_PEOPLE as list news, start smtp-sink, send
# promo to them; then BX_EML/ADDRESS.eml is the message each received
# (the bytes campaign sent) and BX_TOKENS the send_dumps.py tokens table
# (rcpt, where, purpose, campaign, contact, valid, token).
bx_campaign() {
    list_of "${BX_PEOPLE[@]}"
    # smtp-sink: pf_start's, or one of its own
    [ -n "${SINK_PORT:-}" ] || start_sink
    bx_conf ""
    send_status 0
    assert_eq "$(states)" "sent ${#BX_PEOPLE[@]}" "ledger after the send" || return 1
    BX_EML="$BATS_TEST_TMPDIR/eml"
    mkdir -p "$BX_EML" "$BATS_TEST_TMPDIR/eml.all"
    "$PY" "$DUMPS" eml "$SINK_DUMP" "$BATS_TEST_TMPDIR/eml.all" || return 1
    local rcpt file
    while IFS=$'\t' read -r rcpt _ file; do
        cp "$BATS_TEST_TMPDIR/eml.all/$(basename "$file").eml" "$BX_EML/$rcpt.eml" || return 1
    done < <(received)
    BX_TOKENS="$BATS_TEST_TMPDIR/tokens"
    "$PY" "$DUMPS" tokens "$DB.secret" https://t.acme.example "$SINK_DUMP" >"$BX_TOKENS" || return 1
    local a
    for a in "${BX_PEOPLE[@]}"; do
        [ -s "$BX_EML/$a.eml" ] || fail "no message to $a in the sink's dump" || return 1
        [ -n "$(bx_verp "$a")" ] || fail "no VERP token for $a:" "$(cat "$BX_TOKENS")" || return 1
        [ -n "$(bx_unsub "$a")" ] || fail "no List-Unsubscribe mailto token for $a:" "$(cat "$BX_TOKENS")" || return 1
    done
}

# bx_token ADDRESS WHERE - the token of this recipient's message found at
# WHERE (envelope, header-mailto), with a valid MAC.
bx_token() {
    awk -F'\t' -v r="$1" -v w="$2" '$1 == r && $2 == w && $6 == "valid" { print $7; exit }' "$BX_TOKENS"
}

# bx_verp ADDRESS / bx_unsub ADDRESS - bounces+TOKEN@ and
# unsubscribe+TOKEN@ of the message ADDRESS was sent.
bx_verp() {
    local t
    t=$(bx_token "$1" envelope)
    [ -n "$t" ] && printf 'bounces+%s@%s\n' "$t" "$BX_DOMAIN"
}

bx_unsub() {
    local t
    t=$(bx_token "$1" header-mailto)
    [ -n "$t" ] && printf 'unsubscribe+%s@%s\n' "$t" "$BX_DOMAIN"
}

# bx_forge TOKEN - TOKEN with one character of its MAC changed: the shape
# of ours, the MAC wrong.
bx_forge() {
    local t=$1 last=${1: -1}
    if [ "$last" = A ]; then
        printf '%sB\n' "${t%?}"
    else
        printf '%sA\n' "${t%?}"
    fi
}

# bx_dsn ADDRESS STATUS REPLY [OUT] - a DSN about ADDRESS's message, to
# its VERP address; into OUT (default $BATS_TEST_TMPDIR/ADDRESS.dsn).
# Prints the file's path.
bx_dsn() {
    local out=${4:-$BATS_TEST_TMPDIR/$1.dsn}
    "$PY" "$BX_MAIL" dsn "$BX_EML/$1.eml" "$1" "$(bx_verp "$1")" "$2" "$3" >"$out" || return 1
    echo "$out"
}

# bx_arf ADDRESS [OUT] - an abuse report about ADDRESS's message (the
# whole message returned, with its VERP Return-Path).  Prints the path.
bx_arf() {
    local out=${2:-$BATS_TEST_TMPDIR/$1.arf}
    "$PY" "$BX_MAIL" arf "$BX_EML/$1.eml" "$1" "$(bx_verp "$1")" >"$out" || return 1
    echo "$out"
}

# bx_unsub_mail ADDRESS [OUT] - ADDRESS's mail client answering the
# List-Unsubscribe mailto.  Prints the path.
bx_unsub_mail() {
    local out=${2:-$BATS_TEST_TMPDIR/$1.unsub}
    "$PY" "$BX_MAIL" unsub "$1" "$(bx_unsub "$1")" >"$out" || return 1
    echo "$out"
}

# bx_snapshot FILE - what a bounce may change, as text: contacts'
# statuses, the ledger, suppressions, events.
bx_snapshot() {
    q "SELECT email, status FROM contacts ORDER BY email;
       SELECT '--sends'; SELECT contact_id, state, bounce_class FROM sends ORDER BY contact_id;
       SELECT '--suppressions'; SELECT email, reason FROM suppressions ORDER BY email;
       SELECT '--events'; SELECT count(*) FROM events;" >"$1"
}

# bx_events KIND [ADDRESS] - events rows of KIND (of ADDRESS's contact).
bx_events() {
    if [ $# -gt 1 ]; then
        q "SELECT count(*) FROM events e JOIN contacts c ON c.id = e.contact_id
            WHERE e.kind = $(sqlstr "$1") AND c.email = $(sqlstr "$2");"
    else
        count events "kind = $(sqlstr "$1")"
    fi
}

# bx_number TEXT KEYWORD - the number after KEYWORD in a summary line
# ("hard 1", "duplicate 0"); empty when there is none.
bx_number() {
    printf '%s\n' "$1" | grep -oE "(^|[^a-z_])$2 [0-9]+" | grep -oE '[0-9]+$' | head -1
}

# bx_summary_is TEXT KEYWORD=N... - the summary line says N for each
# KEYWORD.
bx_summary_is() {
    local text=$1 kv k v got
    shift
    for kv in "$@"; do
        k=${kv%%=*}
        v=${kv#*=}
        got=$(bx_number "$text" "$k")
        [ "$got" = "$v" ] || fail "summary: $k is '${got}', expected $v, in:" "$text" || return 1
    done
}

# ---- Postfix delivering to `campaign bounces ingest` (postfix_lib.bash)

# BX_PIPE_USER - whom Postfix runs the command as: pipe(8)'s user= (never
# root, nor mail_owner) and local(8)'s default_privs for an alias file
# owned by root.
BX_PIPE_USER=nobody

# bx_wrapper - $BX_DIR/ingest.sh, the test's wrapper around the command
# Postfix runs: it execs nothing else, only keeps what campaign printed
# (stdout to ingest.out, stderr to ingest.err) and its exit status (one
# line per delivery in ingest.rc), then exits with that status, so
# Postfix sees exactly what campaign returned.  Postfix gives the command
# a clean environment; the sanitizer options are set here.
bx_wrapper() {
    cat >"$BX_DIR/ingest.sh" <<SH
#!/bin/sh
ASAN_OPTIONS='$ASAN_OPTIONS'
UBSAN_OPTIONS='$UBSAN_OPTIONS'
export ASAN_OPTIONS UBSAN_OPTIONS
"\$@" >>"$BX_DIR/ingest.out" 2>>"$BX_DIR/ingest.err"
rc=\$?
echo "\$rc" >>"$BX_DIR/ingest.rc"
exit "\$rc"
SH
    chmod 755 "$BX_DIR/ingest.sh"
    : >"$BX_DIR/ingest.out"
    : >"$BX_DIR/ingest.err"
    : >"$BX_DIR/ingest.rc"
}

# bx_ingest_argv - the command line Postfix runs, up to "bounces ingest".
bx_ingest_argv() {
    printf '%s' "$BX_DIR/ingest.sh $CAMPAIGN_BIN --db $DB --config $BX_CONF bounces ingest"
}

# bx_pf_pipe - route the whole VERP domain to a pipe(8) service
# "campaign" (the private Postfix of pf_start must be running):
#
#   main.cf:   relay_domains = bounces.acme.example
#              transport_maps = inline:{ { bounces.acme.example = campaign: } }
#              campaign_destination_recipient_limit = 1
#   master.cf: campaign unix - n n - - pipe
#                flags=Rq user=nobody argv=/usr/local/bin/campaign
#                --db DB --config CONF bounces ingest --rcpt ${recipient}
#
# (with the test's wrapper in front of campaign).  The recipient limit 1
# makes ${recipient} one address; flags R adds Return-Path, q quotes
# the address for the command line.  Then reload.
bx_pf_pipe() {
    bx_wrapper
    "$PF_POSTCONF" -c "$PF_CONF" -e \
        "relay_domains = $BX_DOMAIN" \
        "transport_maps = inline:{ { $BX_DOMAIN = campaign: } }" \
        "campaign_destination_recipient_limit = 1" || fail "postconf -e" || return 1
    # shellcheck disable=SC2016 # ${recipient} is pipe(8)'s, not ours
    printf 'campaign  unix  -       n       n       -       -       pipe\n  flags=Rq user=%s argv=%s --rcpt ${recipient}\n' \
        "$BX_PIPE_USER" "$(bx_ingest_argv)" >>"$PF_CONF/master.cf"
    pf_reload
}

# bx_pf_alias - deliver the VERP domain locally instead: local(8) with
# mydestination = bounces.acme.example, recipient_delimiter = +, and an
# alias file owned by root, so the command runs as default_privs (nobody);
# in /etc/aliases (then newaliases):
#
#   bounces:     "|/usr/local/bin/campaign --db DB --config CONF bounces ingest"
#   unsubscribe: "|/usr/local/bin/campaign --db DB --config CONF bounces ingest"
#
# here a texthash: table (postmap's "key value" format, no postalias step)
#
# campaign takes the address from $ORIGINAL_RECIPIENT, which local(8)
# sets.  Then reload.
bx_pf_alias() {
    bx_wrapper
    printf 'bounces "|%s"\nunsubscribe "|%s"\n' "$(bx_ingest_argv)" "$(bx_ingest_argv)" >"$BX_DIR/aliases"
    chmod 644 "$BX_DIR/aliases"
    "$PF_POSTCONF" -c "$PF_CONF" -e \
        "mydestination = $BX_DOMAIN" \
        "recipient_delimiter = +" \
        "alias_maps = texthash:$BX_DIR/aliases" \
        "default_privs = $BX_PIPE_USER" || fail "postconf -e" || return 1
    printf 'local     unix  -       n       n       -       -       local\n' >>"$PF_CONF/master.cf"
    pf_reload
}

# bx_inject FILE RCPT [MAIL_FROM] - deliver FILE to the private Postfix
# over SMTP (envelope sender MAIL_FROM, default <> as for a bounce);
# Postfix must accept it.
# shellcheck disable=SC2154 # status and output: set by bats run
bx_inject() {
    run "$PY" "$BX_MAIL" smtp "$PF_PORT" "${3:-}" "$2" "$1"
    [ "$status" -eq 0 ] || fail "Postfix did not take $1 for <$2>:" "$output" || return 1
    assert_contains "$output" "250 2.0.0 Ok: queued as" "Postfix's reply to the end of data"
}

# bx_runs - how many times Postfix ran the command so far.
bx_runs() {
    wc -l <"$BX_DIR/ingest.rc"
}

# bx_ingested N - until Postfix has run the command N times and its queue
# is empty (at most 20 s, the queue flushed once a second meanwhile).
bx_ingested() {
    local want=$1 i
    for ((i = 0; i < 200; i++)); do
        if [ "$(bx_runs)" -ge "$want" ] && pf_queue_empty; then
            bx_clean_runs
            return
        fi
        ((i % 10 == 9)) && "$PF_POSTQUEUE" -c "$PF_CONF" -f >/dev/null 2>&1
        sleep 0.1
    done
    fail "Postfix ran the ingest command $(bx_runs) times of $want in 20 s" \
        "--- postqueue -p:" "$("$PF_POSTQUEUE" -c "$PF_CONF" -p 2>&1)" \
        "--- ingest stdout:" "$(cat "$BX_DIR/ingest.out")" \
        "--- ingest stderr:" "$(cat "$BX_DIR/ingest.err")"
}

# bx_clean_runs - no sanitizer report in what the command printed.
bx_clean_runs() {
    local all
    all=$(cat "$BX_DIR/ingest.err" "$BX_DIR/ingest.out")
    case "$all" in
    *AddressSanitizer* | *LeakSanitizer* | *"runtime error:"* | *UndefinedBehaviorSanitizer*)
        fail "sanitizer report from the ingest command:" "$all"
        ;;
    esac
}

# bx_last_summary - the last line the command printed on stdout.
bx_last_summary() {
    tail -n 1 "$BX_DIR/ingest.out"
}

# bx_delivered_to ADDRESS - Postfix's log says the message to ADDRESS was
# delivered to the command with success (exit 0): status=sent.
bx_delivered_to() {
    grep -E "postfix/(pipe|local)\[[0-9]+\]: [0-9A-F]+: to=<$(bx_re "$1")>.* status=sent " "$PF_LOG"
}

# bx_re TEXT - TEXT as an extended regular expression matching itself.
bx_re() {
    printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}
