#!/usr/bin/env bats
# Issue 11, tests: `campaign cancel NAME` takes the recipients left to send
# out of the queue - queued, deferred, and uncertain rows still owed their
# retry become `cancelled` in the transaction that cancels the campaign -
# and a running send's rows claimed but not sent end cancelled too, never
# queued again.  The ledger state comes from migration 005, which rebuilds
# sends on a database made by the previous release.
#
# A slow send is made with --rate and [limits] burst = 1 (as in
# send_control.bats).

load lib
load send_lib

setup() {
    campaign_setup
}

teardown() {
    send_teardown
}

# paused_with_leftovers - 12 recipients, a slow send paused after a few;
# then two queued rows made deferred (a 4xx, retry later) and one made
# uncertain and still owed its retry, as a crash would have left it.
paused_with_leftovers() {
    slow_setup 12
    slow_send 4/s
    wait_for 15 dumps_at_least 2
    crun 0 pause promo
    reap "$SEND_PID" 5
    # 75 (README, Exit codes: the campaign is paused)
    assert_eq "$REAPED" 75 "exit status after pause ($(cat "$BATS_TEST_TMPDIR/send.err"))"
    assert_eq "$(campaign_status)" paused
    local a b c
    read -r a b c <<<"$(q "SELECT contact_id FROM sends WHERE state = 'queued'
                          ORDER BY contact_id DESC LIMIT 3;" | tr '\n' ' ')"
    [ -n "$c" ] || fail "fewer than three rows left queued: $(states)"
    q "UPDATE sends SET state = 'deferred', attempts = 1, last_code = 451,
              last_status = '4.7.1', last_text = 'try again later',
              next_attempt_at = strftime('%s', 'now') + 300
        WHERE contact_id IN ($a, $b);
       UPDATE sends SET state = 'uncertain', was_uncertain = 1, attempts = 1,
              message_id = '<unc@acme.example>',
              last_text = 'not sent: connection ended at DATA'
        WHERE contact_id = $c;"
    assert_eq "$(count sends "state = 'deferred'")" 2
    assert_eq "$(count sends "state = 'uncertain'")" 1
}

@test "send cancel: a paused campaign's queued, deferred and owed-uncertain rows become cancelled; the report counts them" {
    paused_with_leftovers
    local sent queued files
    sent=$(count sends "state = 'sent'")
    queued=$(count sends "state = 'queued'")
    files=$(ls "$SINK_DUMP" | wc -l)
    [ "$queued" -gt 0 ] || fail "nothing left queued: $(states)"
    crun 0 cancel promo
    assert_contains "$output" "campaign promo cancelled"
    assert_contains "$output" "$((queued + 3)) recipients left to send are cancelled"
    assert_eq "$(campaign_status)" cancelled
    assert_eq "$(states)" "$(printf 'cancelled %d\nsent %d' $((queued + 3)) "$sent")"
    # why, and no retry left
    assert_eq "$(count sends "state = 'cancelled' AND last_text LIKE 'cancelled%'")" $((queued + 3))
    assert_eq "$(count sends "state = 'cancelled' AND next_attempt_at IS NOT NULL")" 0
    assert_eq "$(q "SELECT last_code, last_text FROM sends WHERE state = 'cancelled' AND last_code IS NOT NULL LIMIT 1;")" \
        "451|cancelled after: try again later"
    # the uncertain one keeps what makes the report list it
    assert_eq "$(count sends "state = 'cancelled' AND was_uncertain = 1")" 1
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" cancelled)" $((queued + 3))
    assert_eq "$(json_get "$output" queued)" 0
    assert_eq "$(json_get "$output" deferred)" 0
    assert_eq "$(json_get "$output" sent)" "$sent"
    assert_eq "$(json_get "$output" uncertain_recipients 0 state)" cancelled
    assert_eq "$(json_get "$output" uncertain_recipients 0 message_id)" "<unc@acme.example>"
    crun 0 report promo
    assert_contains "$output" "$(printf '%-22s %d' cancelled $((queued + 3)))"
    assert_contains "$output" "$(printf '%-22s %d' queued 0)"
    # nothing more goes out, and nothing comes back to the queue
    send_status 0
    assert_contains "$output" "campaign promo is cancelled: nothing to send"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" "$files"
    assert_eq "$(states)" "$(printf 'cancelled %d\nsent %d' $((queued + 3)) "$sent")"
    check_delivery
}

@test "send cancel: the campaign's control and its rows change in one transaction (a failed row update leaves both)" {
    paused_with_leftovers
    local before
    before=$(states)
    # make moving a row to cancelled fail, after the control is set
    q "CREATE TRIGGER no_cancel BEFORE UPDATE OF state ON sends
        WHEN NEW.state = 'cancelled' BEGIN SELECT RAISE(ABORT, 'refused by test'); END;"
    run --separate-stderr camp cancel promo
    no_sanitizer_report
    [ "$status" -ne 0 ] || fail "cancel succeeded with its rows refused: $output"
    assert_contains "$stderr" "refused by test"
    assert_eq "$(campaign_status)" paused
    assert_eq "$(q "SELECT COALESCE(control, '-') FROM campaigns WHERE name = 'promo';")" pause
    assert_eq "$(states)" "$before"
    q "DROP TRIGGER no_cancel;"
    crun 0 cancel promo
    assert_eq "$(campaign_status)" cancelled
    assert_eq "$(count sends "state IN ('queued', 'deferred', 'uncertain')")" 0
}

@test "send cancel: during a slow running send ends with every row sent or cancelled, none queued, nobody twice" {
    # more than one claim (64): rows queued and rows claimed ahead
    slow_setup 80
    slow_send 8/s
    wait_for 15 dumps_at_least 2
    crun 0 cancel promo
    assert_contains "$output" "campaign promo cancelled"
    reap "$SEND_PID" 10
    assert_eq "$REAPED" 0 "exit status after cancel ($(cat "$BATS_TEST_TMPDIR/send.err"))"
    assert_contains "$(cat "$BATS_TEST_TMPDIR/send.out")" "(cancelled)"
    assert_eq "$(campaign_status)" cancelled
    local sent files
    sent=$(count sends "state = 'sent'")
    files=$(ls "$SINK_DUMP" | wc -l)
    assert_eq "$files" "$sent" "messages received vs sent in the ledger"
    [ "$sent" -lt 80 ] || fail "cancel came too late: $(states)"
    # the rows claimed ahead and never handed out were released as
    # cancelled, not queued
    assert_eq "$(states)" "$(printf 'cancelled %d\nsent %d' $((80 - sent)) "$sent")"
    assert_eq "$(count sends "state = 'cancelled' AND last_text IS NULL")" 0
    crun 0 report promo --format json
    assert_eq "$(json_get "$output" cancelled)" $((80 - sent))
    assert_eq "$(json_get "$output" queued)" 0
    assert_eq "$(json_get "$output" sent)" "$sent"
    check_delivery
    assert_eq "$output" "rows 80, sent $sent, messages $sent, recipients with copies $sent, duplicates 0"
    # later sends send nothing
    send_status 0
    assert_contains "$output" "campaign promo is cancelled: nothing to send"
    assert_eq "$(ls "$SINK_DUMP" | wc -l)" "$files"
    integrity
}

# old_release_db - $DB as the previous release (schema version 4) left it:
# migrations 001-004 applied, a list of four, a campaign "old" whose
# ledger has a row in each of several states, with every column set.
old_release_db() {
    rm -f "$DB" "$DB-wal" "$DB-shm"
    {
        release_schema 4
        cat <<'EOF'
INSERT INTO lists(id, name, created_at) VALUES (1, 'news', 1700000000);
INSERT INTO contacts(id, email, attrs, created_at, updated_at) VALUES
  (1, 'user01@example.com', '{"first_name":"Person1"}', 1700000000, 1700000000),
  (2, 'user02@example.com', '{"first_name":"Person2"}', 1700000000, 1700000000),
  (3, 'user03@example.com', '{"first_name":"Person3"}', 1700000000, 1700000000),
  (4, 'user04@example.com', '{"first_name":"Person4"}', 1700000000, 1700000000);
INSERT INTO memberships(list_id, contact_id, added_at)
  SELECT 1, id, 1700000000 FROM contacts;
INSERT INTO campaigns(id, name, template, list_id, status, created_at,
  started_at, data, frozen_at, control, recipients)
  VALUES (1, 'old', 'promo', 1, 'paused', 1700000000, 1700000100, '{}',
          1700000100, 'pause', 4);
INSERT INTO sends VALUES
  (1, 1, 'sent', 1, NULL, 250, '2.0.0', 'ok', NULL, '<m1@acme.example>',
   '127.0.0.1:25', 0, 1700000100, 1700000101, 1700000102),
  (1, 2, 'deferred', 2, 1700009999, 451, '4.7.1', 'later', NULL,
   '<m2@acme.example>', '127.0.0.1:25', 0, 1700000100, 1700000101, NULL),
  (1, 3, 'uncertain', 1, NULL, NULL, NULL, 'no reply', NULL,
   '<m3@acme.example>', '127.0.0.1:25', 1, 1700000100, 1700000101,
   1700000102);
INSERT INTO sends(campaign_id, contact_id, queued_at) VALUES (1, 4, 1700000100);
COMMIT;
EOF
    } | sqlite3 -batch "$DB"
    assert_eq "$(q 'SELECT max(version) FROM schema_version;')" 4
}

@test "send cancel: migration 005 rebuilds the ledger of a previous release's database: rows, columns and index kept, cancelled allowed" {
    old_release_db
    local rows cols
    # the columns of the previous release (014_report_groups added more)
    rows=$(q "SELECT campaign_id, contact_id, state, attempts, next_attempt_at, last_code, last_status, last_text, bounce_class, message_id, relay, was_uncertain, queued_at, first_attempt_at, done_at FROM sends ORDER BY campaign_id, contact_id;")
    cols=$(q "SELECT * FROM pragma_table_info('sends') WHERE cid < 15;")
    # the old CHECK refuses the new state
    run sqlite3 -batch "$DB" "UPDATE sends SET state = 'cancelled' WHERE contact_id = 4;"
    [ "$status" -ne 0 ] || fail "the previous release's schema took 'cancelled'"
    # any command opens (and migrates) it
    crun 0 report old --format json
    # migrated to the newest schema (later migrations keep these rows too)
    assert_eq "$(q 'SELECT max(version) FROM schema_version;')" \
        "$(find "$E2E_TOP/db/migrations" -name '0*.sql' | wc -l)"
    assert_eq "$(q "SELECT name FROM schema_version WHERE version = 5;")" 005_cancelled
    assert_eq "$(q "SELECT campaign_id, contact_id, state, attempts, next_attempt_at, last_code, last_status, last_text, bounce_class, message_id, relay, was_uncertain, queued_at, first_attempt_at, done_at FROM sends ORDER BY campaign_id, contact_id;")" "$rows" "ledger rows after the migration"
    assert_eq "$(q "SELECT * FROM pragma_table_info('sends') WHERE cid < 15;")" "$cols" "columns after the migration"
    assert_eq "$(q "SELECT name FROM sqlite_master WHERE tbl_name = 'sends' ORDER BY name;")" \
        "$(printf 'sends\nsends_count_delete\nsends_count_insert\nsends_count_update\nsends_domain_delete\nsends_domain_move\nsends_group_delete\nsends_group_insert\nsends_group_update\nsends_replied\nsends_state\nsends_uncertain')"
    assert_eq "$(q "SELECT count(*) FROM sqlite_master WHERE name = 'sends_new';")" 0
    assert_contains "$(q "SELECT sql FROM sqlite_master WHERE name = 'sends';")" "WITHOUT ROWID"
    assert_eq "$(q 'PRAGMA foreign_key_check;')" ""
    integrity
    assert_eq "$(json_get "$output" sent)" 1
    assert_eq "$(json_get "$output" deferred)" 1
    assert_eq "$(json_get "$output" queued)" 1
    assert_eq "$(json_get "$output" cancelled)" 0
    # the defaults survive: a row inserted with only its keys
    q "INSERT INTO campaigns(id, name, template, created_at) VALUES (2, 'probe', 'promo', 1);
       INSERT INTO sends(campaign_id, contact_id, queued_at) VALUES (2, 1, 1);"
    assert_eq "$(q "SELECT state, attempts, was_uncertain FROM sends WHERE campaign_id = 2;")" "queued|0|0"
    q "PRAGMA foreign_keys = ON; DELETE FROM campaigns WHERE id = 2;"
    assert_eq "$(count sends "campaign_id = 2")" 0 "ON DELETE CASCADE"
    # the new state is allowed, and the CHECK still refuses others
    run sqlite3 -batch "$DB" "UPDATE sends SET state = 'nonsense' WHERE contact_id = 4;"
    [ "$status" -ne 0 ] || fail "the CHECK took any state"
    crun 0 cancel old
    assert_contains "$output" "3 recipients left to send are cancelled"
    assert_eq "$(q "SELECT contact_id, state, was_uncertain FROM sends ORDER BY contact_id;")" \
        "$(printf '1|sent|0\n2|cancelled|0\n3|cancelled|1\n4|cancelled|0')"
    # and the rebuilt ledger sends: a new campaign claims through its index
    start_sink
    write_conf "$SINK_PORT"
    send_status 0
    assert_eq "$(q "SELECT state, count(*) FROM sends s JOIN campaigns k ON k.id = s.campaign_id WHERE k.name = 'promo' GROUP BY 1;")" "sent|4"
    check_delivery
    assert_eq "$output" "rows 4, sent 4, messages 4, recipients with copies 4, duplicates 0"
}
