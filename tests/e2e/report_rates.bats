#!/usr/bin/env bats
# Issue 16, first slice: the rates of `campaign report`, each with what it
# is of (README, "campaign report"; engine/report.h), and the CSV of one
# campaign's recipients.  The campaign is real: the promo template sent
# through smtp-sink to eight people; opens, a click and a one-click
# unsubscribe through `campaign serve` (curl of the links in the messages
# as the sink received them, one open from Gmail's image proxy: a
# machine's); a hard bounce and a complaint through `bounces ingest`
# (bounce_make.py builds them from the very messages sent).  Then the
# list's row, the campaign's report and the CSV are checked exactly, in
# table and JSON.

load lib
load send_lib
load serve_lib

MAKE="$BATS_TEST_DIRNAME/bounce_make.py"
# the people mailed, in import (contact id) order
PEOPLE=(ann@example.com ben@example.com cid@example.com dan@example.com
    eve@example.com fay@example.com gus@example.com =cmd@example.com)
# a contact attribute a spreadsheet would run: no CSV column carries it
HOSTILE_ATTR='=HYPERLINK("http://attr.example/x","y")'
# the diagnostic of eve's bounce: its text becomes her last reply
HOSTILE_DIAG='smtp; 550 5.1.1 =HYPERLINK("http://evil.example/b","x")'
GOOGLE_PROXY_UA='Mozilla/5.0 (compatible; GoogleImageProxy)'

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# rates_campaign - the campaign above, everything recorded; serve stopped.
rates_campaign() {
    local a i=0
    {
        printf 'email,first_name\n'
        for a in "${PEOPLE[@]}"; do
            i=$((i + 1))
            if [ "$a" = gus@example.com ]; then
                printf '%s,"%s"\n' "$a" "${HOSTILE_ATTR//\"/\"\"}"
            else
                printf '%s,Person%d\n' "$a" "$i"
            fi
        done
    } >"$BATS_TEST_TMPDIR/people.csv"
    crun 0 import "$BATS_TEST_TMPDIR/people.csv" --list news
    assert_contains "$output" "imported 8" || return 1
    SERVE_PORT=$(free_port)
    SERVE_URL="http://127.0.0.1:$SERVE_PORT"
    start_sink
    serve_conf "click_seconds = 0"
    # VERP: the bounce and the complaint come back to their token
    sed -i 's/^from = .*/&\nbounce_domain = bounces.acme.example/' "$BATS_TEST_TMPDIR/campaign.conf"
    send_status 0
    assert_contains "$output" "sent 8, deferred 0, bounced 0, failed 0" || return 1

    start_serve
    # ann opens, then clicks a link (a person: one link alone)
    hget "$(lpath open ann@example.com)" -A "$CHROME_UA"
    expect_code 200 || return 1
    wait_for 5 nev_is 1 open ann@example.com || return 1
    hget "$(lpath click ann@example.com 1)" -A "$CHROME_UA"
    expect_code 302 || return 1
    # ben opens; cid's open is Gmail's image proxy (a machine's)
    hget "$(lpath open ben@example.com)" -A "$CHROME_UA"
    expect_code 200 || return 1
    hget "$(lpath open cid@example.com)" -A "$GOOGLE_PROXY_UA"
    expect_code 200 || return 1
    # dan opens and unsubscribes (RFC 8058 one-click)
    hget "$(lpath open dan@example.com)" -A "$CHROME_UA"
    expect_code 200 || return 1
    hpost "$(lpath unsubscribe dan@example.com)" -d List-Unsubscribe=One-Click -A "$CHROME_UA"
    expect_code 200 || return 1
    wait_for 5 nev_is 1 click ann@example.com || return 1
    wait_for 5 nev_is 1 open ben@example.com || return 1
    wait_for 5 nev_is 1 open cid@example.com || return 1
    wait_for 5 nev_is 1 open dan@example.com || return 1
    stop_serve || return 1
    assert_eq "$SERVE_STATUS" 0 "serve's exit status" || return 1
    serve_no_report || return 1
    assert_eq "$(q "SELECT c.email, e.kind, e.machine FROM events e JOIN contacts c ON c.id = e.contact_id ORDER BY 1, 2;")" \
        "ann@example.com|click|0
ann@example.com|open|0
ben@example.com|open|0
cid@example.com|open|1
dan@example.com|open|0
dan@example.com|unsubscribe|0" "the events serve recorded" || return 1

    # eve's message bounces (hard), fay complains
    "$PY" "$MAKE" dsn --dump "$SINK_DUMP" --rcpt eve@example.com --diag "$HOSTILE_DIAG" \
        >"$BATS_TEST_TMPDIR/dsn.eml" || fail "bounce_make.py dsn" || return 1
    "$PY" "$MAKE" arf --dump "$SINK_DUMP" --rcpt fay@example.com \
        >"$BATS_TEST_TMPDIR/arf.eml" || fail "bounce_make.py arf" || return 1
    crun 0 bounces ingest "$BATS_TEST_TMPDIR/dsn.eml" "$BATS_TEST_TMPDIR/arf.eml"
    assert_contains "$output" "hard 1, soft 0, blocked 0, delayed 0, complaint 1" || return 1
    assert_eq "$(states)" "bounced 1
sent 7" "the ledger" || return 1
    assert_eq "$(q "SELECT substr(s.last_text, 1, 11) FROM sends s JOIN contacts c ON c.id = s.contact_id WHERE c.email = 'eve@example.com';")" \
        "=HYPERLINK(" "eve's last reply text" || return 1
}

# col ROW COLUMN - in `report` (all campaigns, $output), the cell of
# COLUMN (found by the header) in the row whose first cell is ROW.
col() {
    printf '%s\n' "$output" | awk -v n="$1" -v c="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
        $1 == n && k { print $k }'
}

# first_open EMAIL - the first open by a person of EMAIL, as the CSV
# writes it (empty when none), from the events table
first_open() {
    q "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', min(at_ms) / 1000, 'unixepoch')
         FROM events WHERE kind = 'open' AND machine = 0 AND contact_id = $(cid "$1");"
}

# the rates of the campaign: 7 delivered (eve bounced), 1 bounced
RATE_BOUNCE='{"value": 0.125, "numerator": 1, "denominator": 8, "of": "delivered+bounced"}'
RATE_COMPLAINT='{"value": 0.1429, "numerator": 1, "denominator": 7, "of": "delivered"}'
RATE_UNSUB='{"value": 0.1429, "numerator": 1, "denominator": 7, "of": "delivered"}'
RATE_OPEN='{"value": 0.4286, "numerator": 3, "denominator": 7, "of": "delivered"}'
RATE_CLICK='{"value": 0.1429, "numerator": 1, "denominator": 7, "of": "delivered"}'

# rates_of JSON PATH... - the five rate objects at PATH, one a line
rates_of() {
    local k
    for k in bounce_rate complaint_rate unsubscribe_rate open_rate click_rate; do
        json_get "$@" "$k" || return 1
    done
}

@test "report rates: every campaign's row has status, times, counts and five rates; a legend says what each is of; JSON objects with numerator and denominator" {
    rates_campaign
    crun 0 report
    local header
    header=$(printf '%s\n' "$output" | head -1 | tr -s ' ')
    assert_eq "$header" "CAMPAIGN STATUS STARTED FINISHED RECIPIENTS SENT QUEUED DEFERRED BOUNCED FAILED UNBUILDABLE HELD BOUNCE% COMPLAINT% UNSUB% OPEN% CLICK%" "the header"
    assert_eq "$(col promo STATUS)" done
    assert_eq "$(col promo RECIPIENTS) $(col promo SENT) $(col promo BOUNCED) $(col promo QUEUED)" "8 7 1 0" "recipients sent bounced queued"
    assert_eq "$(col promo BOUNCE%) $(col promo COMPLAINT%) $(col promo UNSUB%) $(col promo OPEN%) $(col promo CLICK%)" \
        "12.5% 14.3% 14.3% 42.9% 14.3%" "the rates"
    # the times as the database has them, UTC, without a blank
    assert_eq "$(col promo STARTED)" "$(q "SELECT strftime('%Y-%m-%dT%H:%MZ', started_at, 'unixepoch') FROM campaigns;")" "STARTED"
    assert_eq "$(col promo FINISHED)" "$(q "SELECT strftime('%Y-%m-%dT%H:%MZ', finished_at, 'unixepoch') FROM campaigns;")" "FINISHED"
    [[ "$(col promo STARTED)" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}Z$ ]] || fail "STARTED: $(col promo STARTED)"
    # the legend: what each rate is of
    assert_eq "$(printf '%s\n' "$output" | tail -2)" \
        "BOUNCE% of delivered+bounced: BOUNCED / (SENT + BOUNCED)
COMPLAINT% UNSUB% OPEN% CLICK% of delivered: people among SENT (the relay accepted, no bounce since); opens and clicks by people, not machines" "the legend"
    assert_eq "$(printf '%s\n' "$output" | wc -l)" 4 "lines: header, one row, legend"

    crun 0 report --format json
    assert_eq "$(rates_of "$output" 0)" "$RATE_BOUNCE
$RATE_COMPLAINT
$RATE_UNSUB
$RATE_OPEN
$RATE_CLICK" "the rates in JSON"
    # printed as the rounded decimals, not 0.42859999999999998
    assert_contains "$output" '"value": 0.4286,'
    # the keys scripts relied on before are all there, with the ledger's
    # and serve's counts agreeing with the rates' numerators
    py 'import json, sys
d = json.loads(sys.argv[1])[0]
old = ("campaign template status list recipients queued sent deferred failed "
       "unbuildable held bounced_hard bounced_soft blocked suppressed uncertain "
       "expired cancelled started_at finished_at opens opened_unique "
       "machine_opens machine_opened_unique clicks clicked_unique machine_clicks "
       "unsubscribed complained auto_replies delayed views").split()
missing = [k for k in old if k not in d]
assert not missing, missing
got = (d["sent"], d["bounced_hard"], d["opened_unique"], d["machine_opened_unique"],
       d["clicked_unique"], d["unsubscribed"], d["complained"])
assert got == (7, 1, 3, 1, 1, 1, 1), got
assert d["open_rate"]["numerator"] == d["opened_unique"]
assert d["open_rate"]["denominator"] == d["sent"]
assert d["bounce_rate"]["denominator"] == d["sent"] + d["bounced_hard"] + d["bounced_soft"] + d["blocked"]
' "$output"
}

@test "report rates: one campaign's table and JSON carry the same rates with their denominators" {
    rates_campaign
    crun 0 report promo --format json
    assert_eq "$(rates_of "$output")" "$RATE_BOUNCE
$RATE_COMPLAINT
$RATE_UNSUB
$RATE_OPEN
$RATE_CLICK" "the rates in JSON"
    crun 0 report promo
    assert_contains "$output" "$(printf '%-22s %s' bounce_rate '12.5% (1 of 8 delivered+bounced)')"
    assert_contains "$output" "$(printf '%-22s %s' complaint_rate '14.3% (1 of 7 delivered)')"
    assert_contains "$output" "$(printf '%-22s %s' unsubscribe_rate '14.3% (1 of 7 delivered)')"
    assert_contains "$output" "$(printf '%-22s %s' open_rate '42.9% (3 of 7 delivered)')"
    assert_contains "$output" "$(printf '%-22s %s' click_rate '14.3% (1 of 7 delivered)')"
    # a campaign that sent nothing yet: no rate, not 0%
    q "INSERT INTO campaigns(name, template, created_at, status) VALUES ('later', 'promo', 0, 'scheduled');"
    crun 0 report later --format json
    assert_eq "$(json_get "$output" open_rate)" '{"value": null, "numerator": 0, "denominator": 0, "of": "delivered"}'
    crun 0 report later
    assert_contains "$output" "$(printf '%-22s %s' open_rate '- (0 of 0 delivered)')"
    crun 0 report
    assert_eq "$(col later STATUS) $(col later STARTED) $(col later FINISHED) $(col later BOUNCE%) $(col later OPEN%)" \
        "scheduled - - - -" "the row of a campaign not started"
}

@test "report rates: --format csv --out writes one row per recipient (header first), formula prefixes neutralised, a forgotten one without address" {
    rates_campaign
    local f="$BATS_TEST_TMPDIR/r.csv" t_ann t_ben t_dan
    t_ann=$(first_open ann@example.com)
    t_ben=$(first_open ben@example.com)
    t_dan=$(first_open dan@example.com)
    [ -n "$t_ann" ] && [ -n "$t_ben" ] && [ -n "$t_dan" ] || fail "no first opens"
    crun 0 report promo --format csv --out "$f"
    assert_output "8 recipients of promo written to $f"
    assert_eq "$(stat -c %a "$f")" 600 "the file's mode"
    assert_eq "$(head -1 "$f")" $'email,state,reply_code,reply_status,reply_text,bounce_class,first_open,clicks,unsubscribed\r' "the header"
    assert_eq "$(wc -l <"$f")" 9 "lines: the header and 8 rows"
    # the hostile cells, as bytes: a ' before the =, inside the quotes
    grep -q $'^"\'=cmd@example.com","sent",' "$f" || fail "the address starting with = is not neutralised:" "$(cat "$f")"
    grep -q '"'"'"'=HYPERLINK(""http://evil.example/b"",""x"")"' "$f" || fail "eve's reply text is not neutralised:" "$(cat "$f")"
    assert_not_contains "$(cat "$f")" "attr.example" "the CSV (a contact attribute)"
    # every row, read back by Python's csv module: the columns per
    # person; the replies as the ledger has them
    local replies
    replies=$(q "SELECT c.email, coalesce(s.last_code, ''), coalesce(s.last_status, ''), coalesce(s.last_text, '')
                   FROM sends s JOIN contacts c ON c.id = s.contact_id ORDER BY s.contact_id;")
    py 'import csv, sys
f, replies, t_ann, t_ben, t_dan = sys.argv[1:6]
rows = list(csv.reader(open(f, newline="")))
assert rows[0] == ["email", "state", "reply_code", "reply_status", "reply_text",
                   "bounce_class", "first_open", "clicks", "unsubscribed"], rows[0]
want = {
    "ann@example.com": ("sent", "", t_ann, "1", "no"),
    "ben@example.com": ("sent", "", t_ben, "0", "no"),
    "cid@example.com": ("sent", "", "", "0", "no"),    # a proxy opened
    "dan@example.com": ("sent", "", t_dan, "0", "yes"),
    "eve@example.com": ("bounced", "hard", "", "0", "no"),
    "fay@example.com": ("sent", "", "", "0", "no"),
    "gus@example.com": ("sent", "", "", "0", "no"),
    "'"'"'=cmd@example.com": ("sent", "", "", "0", "no"),
}
got = [r[0] for r in rows[1:]]
assert got == list(want), got
for r in rows[1:]:
    assert len(r) == 9, r
    w = want[r[0]]
    assert (r[1], r[5], r[6], r[7], r[8]) == w, (r, w)
# the replies, in contact order, as the ledger has them (a cell that
# starts with = gets its quote)
for r, line in zip(rows[1:], replies.split("\n")):
    email, code, status, text = line.split("|", 3)
    neut = lambda s: "'"'"'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s
    assert (r[0], r[2], r[3], r[4]) == (neut(email), code, status, neut(text)), (r, line)
assert rows[5][2:5] == ["550", "5.1.1", "'"'"'=HYPERLINK(\"http://evil.example/b\",\"x\")"], rows[5]
' "$f" "$replies" "$t_ann" "$t_ben" "$t_dan"

    # ben forgotten: his row stays, counted, without an address; the
    # rates do not change
    crun 0 report promo --format json
    local before=$output
    crun 0 contacts forget ben@example.com
    crun 0 report promo --format json
    assert_eq "$(rates_of "$output")" "$(rates_of "$before")" "the rates after forget"
    crun 0 report promo --format csv --out "$f"
    assert_output "8 recipients of promo written to $f"
    assert_eq "$(grep -c 'ben@example.com' "$f")" 0 "rows naming ben"
    # the forgotten row: first (a tombstone id is negative), no address,
    # his first open still there
    local row
    row=$(sed -n 2p "$f")
    assert_contains "$row" '"","sent",' "the forgotten row"
    assert_contains "$row" "\"$t_ben\",\"0\",\"no\"" "the forgotten row"
    assert_eq "$(grep -c '^"",' "$f")" 1 "rows without an address"
}

@test "report rates: --format csv --out without NAME writes every campaign's recipients after a first column naming it (neutralised), campaigns in id order, each as its own CSV" {
    rates_campaign
    local f="$BATS_TEST_TMPDIR/all.csv" one="$BATS_TEST_TMPDIR/one.csv" name='=SUM(1+1)'
    # a second campaign to the same list, named as a formula (a name may
    # start with =: cmd_name_check), and a third with no recipient yet
    send_status 0 --campaign "$name"
    q "INSERT INTO campaigns(name, template, created_at, status) VALUES ('later', 'promo', 0, 'scheduled');"
    local n1 n2
    n1=$(q "SELECT count(*) FROM sends s JOIN campaigns k ON k.id = s.campaign_id WHERE k.name = 'promo';")
    n2=$(q "SELECT count(*) FROM sends s JOIN campaigns k ON k.id = s.campaign_id WHERE k.name = '$name';")
    assert_eq "$n1 $n2" "8 8" "the ledgers"
    crun 0 report --format csv --out "$f"
    assert_output "16 recipients of every campaign written to $f"
    assert_eq "$(stat -c %a "$f")" 600 "the file's mode"
    assert_eq "$(head -1 "$f")" $'campaign,email,state,reply_code,reply_status,reply_text,bounce_class,first_open,clicks,unsubscribed\r' "the header"
    assert_eq "$(wc -l <"$f")" 17 "lines: the header and 16 rows"
    # each campaign's rows are its own CSV's, byte for byte, after a cell
    # naming it; promo (the older) first; the formula's name neutralised
    local want
    crun 0 report promo --format csv --out "$one"
    want=$(tail -n +2 "$one" | sed 's/^/"promo",/')
    assert_eq "$(head -1 "$one")" "$(head -1 "$f" | sed 's/^campaign,//')" "one campaign's header: the nine columns"
    crun 0 report "$name" --format csv --out "$one"
    want+=$'\n'$(tail -n +2 "$one" | sed "s/^/\"'=SUM(1+1)\",/")
    assert_eq "$(tail -n +2 "$f")" "$want" "the rows"
    assert_eq "$(grep -c $'^"\'=SUM(1+1)",' "$f")" 8 "rows naming the formula campaign, neutralised"
    # read back by Python's csv module: ten columns, the campaign first
    py 'import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0][0] == "campaign" and len(rows[0]) == 10, rows[0]
assert all(len(r) == 10 for r in rows), [r for r in rows if len(r) != 10]
names = [r[0] for r in rows[1:]]
assert names == ["promo"] * 8 + ["'"'"'=SUM(1+1)"] * 8, names
' "$f"
    # no campaign at all: the header alone
    q "DELETE FROM campaigns;"
    crun 0 report --format csv --out "$f"
    assert_output "0 recipients of every campaign written to $f"
    assert_eq "$(cat "$f")" $'campaign,email,state,reply_code,reply_status,reply_text,bounce_class,first_open,clicks,unsubscribed\r' "the file of no campaign"
}

@test "report rates: the CSV's cells as RFC 4180 has them (quotes doubled, commas, CR and LF kept), each of = + - @ TAB CR first gets a ' in front, one campaign or every one" {
    local f="$BATS_TEST_TMPDIR/cells.csv"
    # forgotten recipients (no contact needed), one reply text each, of a
    # campaign whose id is 0
    q "INSERT INTO campaigns(id, name, template, created_at) VALUES (0, '+x', 'promo', 0);
       INSERT INTO sends(campaign_id, contact_id, state, queued_at, last_code, last_text) VALUES
       (0, -1, 'deferred', 0, 451, '=1+2'), (0, -2, 'deferred', 0, 451, '+1'),
       (0, -3, 'deferred', 0, 451, '-1'), (0, -4, 'deferred', 0, 451, '@SUM(A1)'),
       (0, -5, 'deferred', 0, 451, char(9) || 'tab'), (0, -6, 'deferred', 0, 451, char(13) || 'cr'),
       (0, -7, 'deferred', 0, 451, 'say \"hi\", ' || char(13, 10) || 'then \"\"'),
       (0, -8, 'deferred', 0, 451, 'a=b'), (0, -9, 'deferred', 0, 451, '\"=quoted');
       INSERT INTO events(campaign_id, contact_id, kind, at_ms, machine) VALUES
       (0, -9, 'open', 1000, 0), (0, -8, 'open', 86399999, 0), (0, -7, 'open', 86400000, 0),
       (0, -6, 'open', 1764000000123, 0), (0, -5, 'open', 1764259200999, 0),
       (0, -4, 'open', 253402300799000, 0), (0, -3, 'open', 951782400000, 0),
       (0, -2, 'open', 999, 0), (0, -1, 'open', 5000, 1);"
    # the first opens as SQLite writes them: a day, its last second, the
    # next day, today's, years on, day 0 again (the date is cached a day)
    local t opens
    opens=$(q "SELECT group_concat(coalesce(t, ''), '|') FROM (SELECT
                 (SELECT strftime('%Y-%m-%dT%H:%M:%SZ', min(at_ms) / 1000, 'unixepoch') FROM events e
                   WHERE e.contact_id = s.contact_id AND kind = 'open' AND machine = 0) AS t
               FROM sends s WHERE campaign_id = 0 ORDER BY contact_id);")
    assert_eq "$opens" "1970-01-01T00:00:01Z|1970-01-01T23:59:59Z|1970-01-02T00:00:00Z|2025-11-24T16:00:00Z|2025-11-27T16:00:00Z|9999-12-31T23:59:59Z|2000-02-29T00:00:00Z|1970-01-01T00:00:00Z|" "the first opens"
    for t in one all; do
        if [ $t = one ]; then
            crun 0 report +x --format csv --out "$f"
        else
            crun 0 report --format csv --out "$f"
        fi
        py 'import csv, sys
f, t = sys.argv[1:3]
rows = list(csv.reader(open(f, newline="")))
off = 1 if t == "all" else 0
texts = [r[4 + off] for r in rows[1:]]
want = ["\"=quoted", "a=b", "say \"hi\", \r\nthen \"\"", "'"'"'\rcr", "'"'"'\ttab",
        "'"'"'@SUM(A1)", "'"'"'-1", "'"'"'+1", "'"'"'=1+2"]
assert texts == want, (texts, want)
opens = [r[6 + off] for r in rows[1:]]
assert opens == sys.argv[3].split("|"), opens
if t == "all":
    assert [r[0] for r in rows[1:]] == ["'"'"'+x"] * 9, rows
' "$f" $t "$opens"
    done
    # the bytes (of every campaign's): every cell between quotes, a quote
    # doubled
    assert_eq "$(sed -n 2p "$f")" $'"\'+x","","deferred","451","","""=quoted","","1970-01-01T00:00:01Z","0","no"\r' "the first row"
}

@test "report rates: the CSV replaces FILE only when complete; a write that fails leaves FILE as it was and nothing beside it (73, naming it)" {
    rates_campaign
    local f="$BATS_TEST_TMPDIR/out/r.csv"
    # a directory that does not exist: 73, the path named, nothing made
    crun 73 report promo --format csv --out "$f"
    assert_contains "$stderr" "$f: No such file or directory"
    [ ! -e "$BATS_TEST_TMPDIR/out" ] || fail "something was made: $(ls -la "$BATS_TEST_TMPDIR/out")"
    mkdir "$BATS_TEST_TMPDIR/out"
    # an existing file is replaced by the whole export
    printf 'old\n' >"$f"
    crun 0 report promo --format csv --out "$f"
    assert_eq "$(wc -l <"$f")" 9 "lines of the new file"
    assert_eq "$(ls "$BATS_TEST_TMPDIR/out")" r.csv "the directory (no temporary file left)"
    # an unknown campaign: 66, the file untouched
    printf 'old\n' >"$f"
    crun 66 report nosuch --format csv --out "$f"
    assert_contains "$stderr" 'no campaign "nosuch"'
    assert_eq "$(cat "$f")" old "the file after an unknown campaign"
    # the write fails half way (files larger than 64 KiB refused: a
    # campaign of 2,000 recipients with long replies is ~700 KiB): 73,
    # the path named, the old file intact, no temporary file left
    q "INSERT INTO campaigns(id, name, template, created_at) VALUES (50, 'big', 'promo', 0);
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
       INSERT INTO sends(campaign_id, contact_id, state, queued_at, last_code, last_text)
       SELECT 50, -i, 'deferred', 0, 451, replace(hex(zeroblob(150)), '0', 'x') FROM n;"
    # (the sqlite3 shell's close copied its WAL into the database: the
    # run below has nothing to checkpoint)
    run --separate-stderr bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' _ \
        "$CAMPAIGN_BIN" --db "$DB" report big --format csv --out "$f"
    no_sanitizer_report
    expect_status 73
    assert_contains "$stderr" "$f: File too large (not written)"
    assert_eq "$(cat "$f")" old "the file after a failed write"
    assert_eq "$(ls "$BATS_TEST_TMPDIR/out")" r.csv "the directory (no temporary file left)"
    # without the limit the same export is complete
    crun 0 report big --format csv --out "$f"
    assert_output "2000 recipients of big written to $f"
    assert_eq "$(wc -l <"$f")" 2001 "lines of the big export"
    # a cell larger than the writer's buffer (256 KiB), quotes in it
    q "UPDATE sends SET last_text = '\"' || replace(hex(zeroblob(300000)), '0', 'y') || '\"'
       WHERE campaign_id = 50 AND contact_id = -1000;"
    crun 0 report big --format csv --out "$f"
    py 'import csv, sys
csv.field_size_limit(1 << 20)
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert len(rows) == 2001 and all(len(r) == 9 for r in rows), len(rows)
big = [r[4] for r in rows if len(r[4]) > 1000]
assert big == ["\"" + "y" * 600000 + "\""], [len(b) for b in big]
' "$f"
}

@test "report rates: --format csv takes --out (and NAME or not), --out only csv, never the database itself (64)" {
    crun 64 report --format csv
    assert_contains "$stderr" "report [NAME] --format csv --out FILE"
    crun 64 report promo --format csv
    assert_contains "$stderr" "report [NAME] --format csv --out FILE"
    crun 64 report promo --format csv --out x.csv --undelivered
    assert_contains "$stderr" "without --undelivered"
    crun 64 report promo --format json --out x.csv
    assert_contains "$stderr" "--out x.csv: only with --format csv"
    crun 64 report promo --format yaml
    assert_contains "$stderr" "table, json, csv or html"
    q "INSERT INTO campaigns(name, template, created_at) VALUES ('promo', 'promo', 0);"
    crun 64 report promo --format csv --out "$DB"
    assert_contains "$stderr" "is also an input"
    crun 64 report --format csv --out "$DB"
    assert_contains "$stderr" "is also an input"
    assert_eq "$(q "SELECT name FROM campaigns;")" promo "the database after --out naming it"
    [ ! -e x.csv ] || fail "x.csv was written"
}

@test "report rates: a byte that is not UTF-8 in the ledger is written as \\xHH in the JSON, nothing left out; names must be UTF-8 (64)" {
    rates_campaign
    # a relay's reply in Latin-1, kept as it came
    q "UPDATE sends SET last_text = 'caf' || X'E9' || ' full' WHERE contact_id = (SELECT id FROM contacts WHERE email = 'eve@example.com');"
    crun 0 report promo --format json
    assert_eq "$(printf '%s' "$output" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print(d["bounces"]["top_diagnostics"][0]["text"])
print(len(d["bounces"]["top_diagnostics"]), d["bounces"]["by_class"][0]["recipients"])
print([g["text"] for g in d["undelivered"]])')" 'caf\xe9 full
1 1
['"'"'caf\\xe9 full'"'"']' "the reply in the JSON, as text"
    crun 0 report promo --undelivered --format json
    assert_eq "$(printf '%s' "$output" | "$PY" -c '
import json, sys
print([g["text"] for g in json.load(sys.stdin)])')" "['caf\\\\xe9 full']" "--undelivered"
    crun 64 send --campaign $'bad\xff' --template promo --list news
    assert_contains "$stderr" "a name in UTF-8"
    crun 64 import "$BATS_TEST_TMPDIR/people.csv" --list $'n\xe9ws'
    assert_contains "$stderr" "a name in UTF-8"
}
