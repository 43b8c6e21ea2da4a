#!/usr/bin/env bats
# Issue 11, "Erasure keeps history honest": `contacts forget` keeps the
# person's ledger rows and events under a tombstone id (006_history.sql),
# so every report of a past campaign counts what it counted before, while
# nothing that identifies the person stays in the database files: not the
# address, not its local part, not the Message-ID of their message, not
# the IP of their opens, not the relay's reply that quoted the address.
# A recipient still to be sent is skipped.  A database of the previous
# release (schema 5) migrates and keeps every row.

load lib
load send_lib
load serve_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# dbfiles_hits STRING... - lines of the database files (db, -wal, -shm,
# whichever exist) holding any of the strings (fixed, case-insensitive).
dbfiles_hits() {
    local args=() s
    for s in "$@"; do
        args+=(-e "$s")
    done
    cat "$DB" "$DB"-wal "$DB"-shm 2>/dev/null | grep -a -i -c -F "${args[@]}" || true
}

# mid_of EMAIL - the Message-ID of EMAIL's row in promo, without <>.
mid_of() {
    q "SELECT trim(s.message_id, '<>') FROM sends s JOIN contacts c ON c.id = s.contact_id
        WHERE c.email = $(sqlstr "$1");"
}

# report_counts JSON - the report of one campaign without what forget must
# change: the reply text and example address of each group of undelivered
# recipients, the address and Message-ID of each uncertain one.  Groups
# sorted.
report_counts() {
    printf '%s' "$1" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
d["undelivered"] = sorted(
    json.dumps({k: g[k] for k in ("state", "bounce_class", "code", "status",
                                  "recipients")}, sort_keys=True)
    for g in d["undelivered"])
d["uncertain_recipients"] = sorted(u["state"] for u in d["uncertain_recipients"])
# the same for the bounced ones'"'"' replies; the providers are the
# recipients'"'"' domains, which a forgotten recipient no longer has: their
# totals stay
if "bounces" in d:
    d["bounces"]["top_diagnostics"] = sorted(
        json.dumps({k: g[k] for k in ("class", "code", "status", "recipients")},
                   sort_keys=True)
        for g in d["bounces"]["top_diagnostics"])
if "providers" in d:
    d["providers"] = {k: sum(p[k] for p in d["providers"])
                      for k in ("recipients", "sent", "delivered", "deferred",
                                "bounced", "opened", "clicked")}
if "by_domain" in d:
    d["by_domain"] = {k: sum(x[k] for x in d["by_domain"])
                      for k in d["by_domain"][0] if k != "domain"} \
        if d["by_domain"] else {}
print(json.dumps(d, indent=1, sort_keys=True))'
}

# table_counts - the lines of `report promo` (table) before the groups of
# undelivered recipients, each uncertain one's address and Message-ID cut
# (the state kept), and each group's count and state; the bounces' replies
# and the providers (the domains of the forgotten are gone) left out.
table_counts() {
    printf '%s\n' "$output" | awk '
        /^  the most frequent replies/ || /^providers/ { skip = 1; next }
        /^[a-z]/ { skip = 0 }
        skip { next }
        /^uncertain recipients/ { u = 1; print; next }
        /^not delivered/ { u = 0; g = 1; print; next }
        g { print $1, $2; next }
        u { print $NF; next }
        { print }'
}

@test "forget history: report NAME, --format json, --undelivered and report of all count the same after a delivered, an uncertain and a bounced recipient are forgotten" {
    list_of ann@example.com ben@example.com dropdot.zed@example.com \
        unknown.quux@example.com cid@example.com
    serve --mode plain
    write_conf "$SRV_PORT"
    send_status 0
    assert_contains "$output" "sent 4, deferred 0, bounced 1, failed 0"
    assert_eq "$(row_of unknown.quux@example.com)" "bounced|1|550|5.1.1|hard|0"
    assert_contains "$(q "SELECT last_text FROM sends WHERE state = 'bounced';")" \
        "<unknown.quux@example.com>: Recipient address rejected" "the bounce quotes the address"
    assert_eq "$(row_of dropdot.zed@example.com | cut -d'|' -f1,6)" "sent|2" "the uncertain one, resent"
    local mid_zed mid_ben
    mid_zed=$(mid_of dropdot.zed@example.com)
    mid_ben=$(mid_of ben@example.com)
    [ -n "$mid_zed" ] && [ -n "$mid_ben" ] || fail "no Message-ID"

    crun 0 report promo --format json
    local before_json=$output
    assert_eq "$(json_get "$output" uncertain_recipients 0 email)" dropdot.zed@example.com
    crun 0 report promo
    local before_table
    before_table=$(table_counts)
    crun 0 report --format json
    local before_all=$output
    crun 0 report
    local before_all_table=$output
    crun 0 report promo --undelivered --format json
    local before_und_json=$output
    crun 0 report promo --undelivered
    local before_und=$output

    crun 0 contacts forget ben@example.com
    crun 0 contacts forget dropdot.zed@example.com
    crun 0 contacts forget unknown.quux@example.com
    assert_eq "$(count contacts)" 2

    crun 0 report promo --format json
    local after_json=$output
    assert_eq "$(report_counts "$after_json")" "$(report_counts "$before_json")" "report promo --format json, counts"
    assert_eq "$(json_get "$after_json" recipients) $(json_get "$after_json" sent) $(json_get "$after_json" bounced_hard) $(json_get "$after_json" uncertain)" \
        "5 4 1 1" "recipients sent bounced_hard uncertain"
    # the uncertain one is still listed, without address or Message-ID
    assert_eq "$(json_get "$after_json" uncertain_recipients)" \
        '[{"email": null, "message_id": null, "state": "sent"}]'
    # the bounce's group: its code and status, not its text
    assert_eq "$(json_get "$after_json" undelivered 0 text)" "reply text removed: forgotten"
    assert_eq "$(json_get "$after_json" undelivered 0 example)" null
    crun 0 report promo
    assert_eq "$(table_counts)" "$before_table" "report promo, counts"
    assert_contains "$output" "  (forgotten)  (sent)"
    crun 0 report --format json
    assert_eq "$output" "$before_all" "report --format json"
    crun 0 report
    assert_eq "$output" "$before_all_table" "report"
    crun 0 report promo --undelivered --format json
    assert_eq "$(printf '%s' "$output" | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))')" \
        "$(printf '%s' "$before_und_json" | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))')" \
        "report --undelivered --format json, rows"
    assert_eq "$(json_get "$output" 0 email)" null
    assert_eq "$(json_get "$output" 0 code)" 550
    crun 0 report promo --undelivered
    assert_eq "$(printf '%s\n' "$output" | wc -l)" "$(printf '%s\n' "$before_und" | wc -l)" "report --undelivered, rows"
    assert_contains "$output" "(forgotten)"
    assert_contains "$output" "bounced (hard)"

    # nothing of the three is left in what the reports print ...
    local all
    crun 0 report promo --format json
    all=$output
    crun 0 report promo --undelivered
    all+=$output
    crun 0 report promo
    all+=$output
    local w
    for w in ben@ dropdot.zed unknown.quux "$mid_zed" "$mid_ben"; do
        assert_not_contains "$all" "$w" "the reports"
    done
    # ... nor in the database files
    assert_eq "$(dbfiles_hits ben@example.com dropdot.zed unknown.quux "$mid_zed" "$mid_ben")" 0 \
        "lines of the database files naming them"
    assert_eq "$(q "SELECT count(*) FROM sends WHERE contact_id < 0;")" 3
    integrity
}

@test "forget history: opens and clicks stay counted; the address, Message-ID and IP leave the database files, serve running or not; the old links record nothing" {
    serve_sent secret.person@example.com other@example.com
    serve_conf "trusted_proxy = 127.0.0.1" "store_ip = on" "click_seconds = 0"
    start_serve
    local open_p click_p unsub_p view_p mid
    open_p=$(lpath open secret.person@example.com)
    click_p=$(lpath click secret.person@example.com)
    unsub_p=$(lpath unsubscribe secret.person@example.com)
    view_p=$(lpath view secret.person@example.com)
    mid=$(mid_of secret.person@example.com)
    [ -n "$mid" ] || fail "no Message-ID"
    hget "$open_p" -A "$CHROME_UA" -H 'X-Forwarded-For: 198.51.100.77'
    expect_code 200
    hget "$click_p" -A "$CHROME_UA" -H 'X-Forwarded-For: 198.51.100.77'
    expect_code 302
    hget "$(lpath open other@example.com)" -A "$CHROME_UA" -H 'X-Forwarded-For: 203.0.113.9'
    expect_code 200
    serve_barrier
    assert_eq "$(nev % secret.person@example.com "ip = '198.51.100.77'")" 2 "events with the IP"
    local w
    for w in secret.person@example.com "$mid" 198.51.100.77; do
        [ "$(dbfiles_hits "$w")" -ge 1 ] || fail "$w is not in the database files before forget"
    done
    crun 0 report promo --format json
    local before=$output
    assert_eq "$(json_get "$before" opens) $(json_get "$before" opened_unique) $(json_get "$before" clicks) $(json_get "$before" clicked_unique)" \
        "2 2 1 1" "people's opens, people who opened, clicks, people who clicked (the barrier's open is curl's: a machine's)"

    # forget while serve holds the database open: forget empties the WAL
    # itself, so the files are clean at once, not at serve's next
    # checkpoint
    crun 0 contacts forget secret.person@example.com
    assert_eq "${stderr:-}" "" "forget's stderr"
    assert_eq "$(dbfiles_hits secret.person "$mid" 198.51.100.77)" 0 \
        "lines of the database files naming the person, serve running"
    crun 0 report promo --format json
    assert_eq "$(report_counts "$output")" "$(report_counts "$before")" "report after forget"
    assert_eq "$(q "SELECT count(*) FROM events WHERE contact_id < 0 AND ip IS NULL;")" 2
    # the other recipient's IP stays (store_ip = on)
    [ "$(dbfiles_hits 203.0.113.9)" -ge 1 ] || fail "the other recipient's IP is gone"

    # the person's links, hit again: nothing recorded, nobody crashes
    local events sups
    events=$(q "SELECT id, campaign_id, contact_id, kind, coalesce(url, ''), machine FROM events ORDER BY id;")
    sups=$(q "SELECT hex(hash), coalesce(email, ''), reason FROM suppressions ORDER BY 1;")
    hget "$open_p" -A "$CHROME_UA" -H 'X-Forwarded-For: 198.51.100.77'
    expect_code 200
    hget "$click_p" -A "$CHROME_UA" -H 'X-Forwarded-For: 198.51.100.77'
    expect_code 302
    hget "$unsub_p" -A "$CHROME_UA"
    expect_404 "the unsubscribe page of a forgotten contact"
    hpost "$unsub_p" -A "$CHROME_UA" -d List-Unsubscribe=One-Click
    expect_404 "the one-click unsubscribe of a forgotten contact"
    hget "$view_p" -A "$CHROME_UA"
    expect_404 "the web view of a forgotten contact"
    serve_barrier
    serve_alive
    assert_eq "$(q "SELECT id, campaign_id, contact_id, kind, coalesce(url, ''), machine FROM events
                    WHERE contact_id <> $(cid "$BARRIER") OR kind <> 'open' ORDER BY id;")" \
        "$(printf '%s\n' "$events" | awk -F'|' -v b="$(cid "$BARRIER")" '$3 != b || $4 != "open"')" "events"
    assert_eq "$(q "SELECT hex(hash), coalesce(email, ''), reason FROM suppressions ORDER BY 1;")" "$sups" "suppressions"
    stop_serve
    assert_eq "$SERVE_STATUS" 0
    assert_eq "$(dbfiles_hits secret.person "$mid" 198.51.100.77)" 0 \
        "lines of the database files naming the person, after serve"
    integrity
}

@test "forget history: a queued recipient forgotten is not mailed by the next send and counts as skipped" {
    list_of q1@example.com q2@example.com q3@example.com
    start_sink
    write_conf "$SINK_PORT"
    send_status 0 --max 1
    assert_eq "$(states)" "$(printf 'queued 2\nsent 1')"
    assert_eq "$(state_of q3@example.com)" queued
    crun 0 contacts forget q3@example.com
    send_status 0
    assert_contains "$output" "sent 1, deferred 0"
    assert_eq "$(copies q3@example.com)" 0 "copies to the forgotten recipient"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" 2
    assert_eq "$(states)" "$(printf 'sent 2\nskipped 1')"
    assert_eq "$(campaign_status)" done
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" recipients) $(json_get "$output" sent) $(json_get "$output" suppressed) $(json_get "$output" queued)" \
        "3 2 1 0" "recipients sent suppressed queued"
    assert_eq "$(json_get "$output" undelivered 0 state) $(json_get "$output" undelivered 0 text)" \
        "skipped skipped: forgotten"
    crun 0 report promo --undelivered
    assert_contains "$output" "(forgotten)"
    assert_not_contains "$output" q3@
    assert_eq "$(dbfiles_hits q3@example.com)" 0
    integrity
}

# release5_db - $DB as the previous release (schema version 5) left it:
# migrations 001-005 applied, contacts, a finished campaign "old" whose
# ledger has a row in several states with every column set, and events
# with an IP.
release5_db() {
    rm -f "$DB" "$DB-wal" "$DB-shm"
    {
        release_schema 5
        cat <<'EOF'
INSERT INTO lists(id, name, created_at) VALUES (1, 'news', 1700000000);
INSERT INTO contacts(id, email, attrs, created_at, updated_at) VALUES
  (1, 'old.one@example.com', '{"first_name":"One"}', 1700000000, 1700000000),
  (2, 'old.two@example.com', '{"first_name":"Two"}', 1700000000, 1700000000),
  (3, 'old.three@example.com', '{"first_name":"Three"}', 1700000000, 1700000000),
  (4, 'old.four@example.com', '{"first_name":"Four"}', 1700000000, 1700000000);
INSERT INTO memberships(list_id, contact_id, added_at)
  SELECT 1, id, 1700000000 FROM contacts;
INSERT INTO campaigns(id, name, template, list_id, status, created_at,
  started_at, finished_at, data, frozen_at, recipients)
  VALUES (1, 'old', 'promo', 1, 'done', 1700000000, 1700000100, 1700000200,
          '{}', 1700000100, 4);
INSERT INTO sends VALUES
  (1, 1, 'sent', 1, NULL, 250, '2.0.0', 'ok', NULL, '<m1.old@acme.example>',
   '127.0.0.1:25', 0, 1700000100, 1700000101, 1700000102),
  (1, 2, 'bounced', 1, NULL, 550, '5.1.1',
   '<old.two@example.com>: User unknown', 'hard', '<m2.old@acme.example>',
   '127.0.0.1:25', 0, 1700000100, 1700000101, 1700000103),
  (1, 3, 'sent', 2, NULL, 250, '2.0.0', 'ok', NULL, '<m3.old@acme.example>',
   '127.0.0.1:25', 2, 1700000100, 1700000101, 1700000104),
  (1, 4, 'cancelled', 0, NULL, NULL, NULL, 'cancelled', NULL, NULL,
   NULL, 0, 1700000100, NULL, 1700000105);
INSERT INTO events(campaign_id, contact_id, kind, url, at_ms, machine,
  machine_reason, ua_class, ip) VALUES
  (1, 1, 'open', NULL, 1700000110000, 0, NULL, 'browser', '198.51.100.41'),
  (1, 1, 'click', 'https://shop.acme.example/', 1700000111000, 0, NULL,
   'browser', '198.51.100.41'),
  (1, 3, 'open', NULL, 1700000112000, 1, 'apple', 'apple-mpp', '17.0.0.1');
COMMIT;
EOF
    } | sqlite3 -batch "$DB"
    assert_eq "$(q 'SELECT max(version) FROM schema_version;')" 5
}

@test "forget history: a database of the previous release (schema 5) migrates to the latest schema, keeps every row and count, and forget then keeps them" {
    release5_db
    local sends events
    # the columns of schema 5 (014_report_groups added more)
    sends=$(q "SELECT campaign_id, contact_id, state, attempts, next_attempt_at, last_code, last_status, last_text, bounce_class, message_id, relay, was_uncertain, queued_at, first_attempt_at, done_at FROM sends ORDER BY campaign_id, contact_id;")
    # the columns of schema 5 (008_bounces added more, NULL for these)
    events=$(q "SELECT id, campaign_id, contact_id, kind, url, at_ms, machine, machine_reason, ua_class, ip FROM events ORDER BY id;")
    # the previous release's ledger takes a person's rows with them
    assert_contains "$(q "SELECT sql FROM sqlite_master WHERE name = 'sends';")" "REFERENCES contacts"
    crun 0 report old --format json
    local migrated=$output
    assert_eq "$(q 'SELECT max(version) FROM schema_version;')" "$(ls "$E2E_TOP"/db/migrations/*.sql | wc -l)"
    assert_eq "$(q "SELECT name FROM schema_version WHERE version = 6;")" 006_history
    assert_eq "$(q "SELECT value FROM meta WHERE key = 'tombstone';")" 0
    assert_eq "$(q "SELECT campaign_id, contact_id, state, attempts, next_attempt_at, last_code, last_status, last_text, bounce_class, message_id, relay, was_uncertain, queued_at, first_attempt_at, done_at FROM sends ORDER BY campaign_id, contact_id;")" "$sends" "ledger rows after the migration"
    # 014 recorded each row's domain and whether its person opened, clicked (a
    # machine's open is not one)
    assert_eq "$(q "SELECT contact_id, domain, opened, clicked, unsubscribed, complained FROM sends ORDER BY contact_id;")" \
        "$(printf '1|example.com|1|1|0|0\n2|example.com|0|0|0|0\n3|example.com|0|0|0|0\n4|example.com|0|0|0|0')" \
        "the ledger's new columns after the migration"
    assert_eq "$(q "SELECT id, campaign_id, contact_id, kind, url, at_ms, machine, machine_reason, ua_class, ip FROM events ORDER BY id;")" "$events" "events after the migration"
    assert_not_contains "$(q "SELECT group_concat(sql) FROM sqlite_master WHERE name IN ('sends', 'events');")" \
        "REFERENCES contacts"
    assert_eq "$(q "SELECT name FROM sqlite_master WHERE tbl_name IN ('sends', 'events') ORDER BY name;")" \
        "$(printf 'events\nevents_campaign\nevents_contact\nevents_count_delete\nevents_count_update\nevents_domain_delete\nevents_domain_update\nevents_hour_delete\nevents_hour_update\nevents_link_delete\nevents_link_update\nevents_person_delete\nevents_person_update\nsends\nsends_count_delete\nsends_count_insert\nsends_count_update\nsends_domain_delete\nsends_domain_move\nsends_group_delete\nsends_group_insert\nsends_group_update\nsends_replied\nsends_state\nsends_uncertain')"
    # the counts 012 built from the migrated ledger, and kept since
    assert_eq "$(q "SELECT campaign_id, state, class, uncertain, n FROM ledger_counts WHERE n != 0 ORDER BY 1, 2, 3, 4;")" \
        "$(q "SELECT campaign_id, state, COALESCE(bounce_class, ''), was_uncertain, count(*) FROM sends GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;")" \
        "the ledger's counts after the migration"
    assert_eq "$(q 'PRAGMA foreign_key_check;')" ""
    integrity
    local k got=
    for k in recipients sent bounced_hard cancelled uncertain opens opened_unique clicks machine_opens; do
        got+="$k=$(json_get "$migrated" "$k") "
    done
    assert_eq "$got" "recipients=4 sent=2 bounced_hard=1 cancelled=1 uncertain=1 opens=1 opened_unique=1 clicks=1 machine_opens=1 " \
        "the counts of the migrated database"

    crun 0 contacts forget old.one@example.com
    crun 0 contacts forget old.two@example.com
    crun 0 report old --format json
    assert_eq "$(report_counts "$output")" "$(report_counts "$migrated")" "report after forget"
    assert_eq "$(q "SELECT contact_id, state, coalesce(message_id, 'NULL') FROM sends WHERE contact_id < 0 ORDER BY contact_id DESC;")" \
        "$(printf -- '-1|sent|NULL\n-2|bounced|NULL')"
    assert_eq "$(q "SELECT contact_id, kind, coalesce(ip, 'NULL') FROM events ORDER BY id;")" \
        "$(printf -- '-1|open|NULL\n-1|click|NULL\n3|open|17.0.0.1')"
    assert_eq "$(dbfiles_hits old.one old.two m1.old@acme m2.old@acme 198.51.100.41)" 0 \
        "lines of the database files naming them"
    integrity
}
