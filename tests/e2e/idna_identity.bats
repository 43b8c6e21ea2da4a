#!/usr/bin/env bats
# Issue 13, "One identity per address": an address is one contact and one
# suppression whatever form a list spells its domain in (IDNA2008, UTS #46:
# "BÜCHER.DE", "bücher.de", "xn--bcher-kva.de" are one domain).  A
# database of the previous release (schema 6), which kept such addresses
# as given, is rewritten by migration 007: duplicates merged (a suppressed
# one wins, lists united, history kept), suppressions re-keyed; an erased
# person's hash-only row of the A-label form still keeps the address
# suppressed.  On a new database every command sees one person: import,
# contacts show, optout, forget, suppress import.

load lib

# hash_sql EMAIL - the suppression hash of EMAIL in this database
# (SHA-256 of the salt and the address, engine/digest.h) as an SQL blob.
hash_sql() {
    py '
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
salt = db.execute("SELECT value FROM meta WHERE key = \x27hash_salt\x27").fetchone()[0]
print("X\x27" + hashlib.sha256((salt + sys.argv[2]).encode()).hexdigest() + "\x27")
' "$DB" "$1"
}

# release6_db - a database as the previous release (schema 6) left it:
# hans twice (the U-label form in news, active; the A-label form in promo,
# unsubscribed), both mailed by campaign "old", the A-label one alone
# queued in "next" and with an open; a contact the new rules refuse; a
# suppression by address of user@ in the A-label form, and an erased
# person's hash-only row of gone@ in the A-label form.
release6_db() {
    rm -f "$DB" "$DB-wal" "$DB-shm"
    {
        release_schema 6
        cat <<'EOF'
INSERT INTO lists(id, name, created_at) VALUES
  (1, 'news', 1700000000), (2, 'promo', 1700000000);
INSERT INTO contacts(id, email, attrs, status, created_at, updated_at) VALUES
  (1, 'hans@bücher.de', '{"first_name":"Hans"}', 'active', 1700000100, 1700000100),
  (2, 'hans@xn--bcher-kva.de', '{"first_name":"Hans B."}', 'unsubscribed', 1700000000, 1700000200),
  (3, 'snow@☃.com', '{}', 'active', 1700000000, 1700000000);
INSERT INTO memberships(list_id, contact_id, added_at) VALUES
  (1, 1, 1700000100), (2, 2, 1700000000), (1, 3, 1700000000);
INSERT INTO campaigns(id, name, template, list_id, status, created_at,
  started_at, finished_at, data, frozen_at, recipients) VALUES
  (1, 'old', 'promo', 1, 'done', 1700000000, 1700000100, 1700000200, '{}', 1700000100, 2),
  (2, 'next', 'promo', 2, 'paused', 1700000300, 1700000300, NULL, '{}', 1700000300, 1);
INSERT INTO sends(campaign_id, contact_id, state, attempts, last_code,
  message_id, queued_at, done_at) VALUES
  (1, 1, 'sent', 1, 250, '<m1.old@acme.example>', 1700000100, 1700000101),
  (1, 2, 'sent', 1, 250, '<m2.old@acme.example>', 1700000100, 1700000102),
  (2, 2, 'queued', 0, NULL, NULL, 1700000300, NULL);
INSERT INTO events(campaign_id, contact_id, kind, at_ms) VALUES
  (1, 2, 'open', 1700000110000);
EOF
        printf "INSERT INTO suppressions VALUES (%s, 'user@xn--bcher-kva.de', 'unsubscribed', 'old', 1700000050);\n" \
            "$(hash_sql_of_new user@xn--bcher-kva.de)"
        printf "INSERT INTO suppressions VALUES (%s, NULL, 'forgotten', 'forget', 1700000060);\n" \
            "$(hash_sql_of_new gone@xn--bcher-kva.de)"
        # erased after a bounce: forget keeps the first reason
        printf "INSERT INTO suppressions VALUES (%s, NULL, 'bounced', 'smtp', 1700000070);\n" \
            "$(hash_sql_of_new left@xn--bcher-kva.de)"
        echo "UPDATE meta SET value = '$SALT' WHERE key = 'hash_salt';"
        echo "COMMIT;"
    } | sqlite3 -batch "$DB"
    assert_eq "$(q 'SELECT max(version) FROM schema_version;')" 6
}

# hash_sql_of_new EMAIL - the hash under the fixed salt $SALT, for rows
# written before the database exists.
SALT=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
hash_sql_of_new() {
    printf "X'%s'" "$(printf '%s%s' "$SALT" "$1" | sha256sum | cut -d' ' -f1)"
}

@test "idna identity: a schema-6 database with one person twice migrates to one contact, unsubscribed, in both lists, with every ledger row and event" {
    release6_db
    crun 0 lists
    assert_contains "$stderr" "migrated addresses to IDNA2008 canonical form: 1 rewritten, 1 merged"
    assert_contains "$stderr" "<snow@☃.com> kept as it is"
    assert_contains "$stderr" "IDNA2008 disallows"
    assert_eq "$(q "SELECT id, email, status, json_extract(attrs, '\$.first_name'), created_at FROM contacts WHERE email LIKE 'hans@%';")" \
        "1|hans@bücher.de|unsubscribed|Hans B.|1700000000" "one hans: the lower id, the suppressed status, the later attributes, the earlier creation"
    assert_eq "$(q "SELECT group_concat(l.name, ' ') FROM (SELECT l.name FROM memberships m JOIN lists l ON l.id = m.list_id WHERE m.contact_id = 1 ORDER BY l.name) l;")" \
        "news promo" "hans in both lists"
    assert_eq "$(status_of 'snow@☃.com')" "active" "a refused address is kept as it is"
    # the ledger: no row lost; the duplicate's copy of "old" under a
    # tombstone, its queued row of "next" now hans's
    assert_eq "$(count sends)" 3 "every ledger row kept"
    assert_eq "$(q "SELECT campaign_id, state FROM sends WHERE contact_id = 1 ORDER BY 1;")" \
        "$(printf '1|sent\n2|queued')"
    assert_eq "$(q "SELECT campaign_id, state, message_id FROM sends WHERE contact_id < 0;")" \
        "1|sent|<m2.old@acme.example>"
    assert_eq "$(q "SELECT contact_id FROM events;")" 1 "the open moved to hans"
    assert_eq "$(count contacts "id = 2")" 0
    # user@'s suppression re-keyed to the canonical form
    assert_eq "$(q "SELECT email, reason FROM suppressions WHERE email IS NOT NULL;")" \
        "user@bücher.de|unsubscribed"
    # migrated once: the next command says nothing
    crun 0 lists
    assert_eq "${stderr:-}" "" "stderr of the second run"
    assert_contains "$output" "news"
}

@test "idna identity: after the migration, user@ and an erased gone@ (A-label hash only) imported in the U-label form come back suppressed" {
    release6_db
    printf 'email,name\nuser@bücher.de,User\ngone@BÜCHER.DE,Gone\nnew@bücher.de,New\n' >later.csv
    crun 0 import later.csv
    assert_eq "$(status_of user@bücher.de)" "unsubscribed" "re-keyed suppression"
    assert_eq "$(status_of gone@bücher.de)" "suppressed" "legacy hash of the A-label form"
    assert_eq "$(status_of new@bücher.de)" "active"
    crun 0 contacts show gone@xn--bcher-kva.de
    assert_contains "$output" "email:       gone@bücher.de"
    assert_contains "$output" "suppressed:  yes: forgotten"
    # an erased person is found by the A-label hash and never lifted,
    # even one who had bounced (forget keeps the first reason)
    crun 65 suppress lift gone@bücher.de --reason manual
    assert_contains "$stderr" "gone@bücher.de was erased (contacts forget)"
    crun 65 suppress lift left@bücher.de --reason bounced
    assert_contains "$stderr" "left@bücher.de was erased (contacts forget)"
    assert_eq "$(count suppressions "email IS NULL")" 2 "nothing lifted"
    # an optout finds the old row: already suppressed, still one row
    crun 0 optout gone@bücher.de
    assert_eq "$output" "suppressed 0, already suppressed 1"
    assert_eq "$(count suppressions "email IS NULL")" 2 "one hash-only row each for gone and left"
    assert_eq "$(q "SELECT count(*) FROM suppressions WHERE hash = $(hash_sql gone@bücher.de) AND email IS NULL;")" 1 \
        "gone's row now has the canonical form's hash"
    crun 0 import later.csv
    assert_eq "$(status_of gone@bücher.de)" "suppressed"
}

@test "idna identity: forget of an address whose A-label form an older release erased keeps one hash-only row, the canonical form's" {
    release6_db
    crun 0 contacts forget gone@BÜCHER.DE
    assert_contains "$output" "forgotten"
    assert_eq "$(count suppressions "email IS NULL")" 2 "one hash-only row each for gone and left"
    assert_eq "$(q "SELECT reason FROM suppressions WHERE hash = $(hash_sql gone@bücher.de) AND email IS NULL;")" forgotten \
        "the erased row has the canonical form's hash"
    printf 'email\ngone@xn--bcher-kva.de\n' >again.csv
    crun 0 import again.csv
    assert_eq "$(status_of gone@bücher.de)" "suppressed"
}

@test "idna identity: import of one address in two forms is one contact; contacts show finds it by either form" {
    printf 'email,name\nhans@BÜCHER.DE,Hans\n' >a.csv
    printf 'email,city\nhans@xn--bcher-kva.de,Berlin\n' >b.csv
    crun 0 import a.csv --list news
    assert_eq "$output" "$(summary 1 0 0 0)"
    crun 0 import b.csv --list promo
    assert_eq "$output" "$(summary 0 1 0 0)"
    assert_eq "$(emails)" "hans@bücher.de"
    assert_eq "$(attrs hans@bücher.de)" "$(printf 'city=Berlin\nname=Hans')"
    for form in hans@xn--bcher-kva.de hans@BÜCHER.DE 'hans@bu'$'\xcc\x88''cher.de'; do
        crun 0 contacts show "$form"
        assert_contains "$output" "email:       hans@bücher.de" "show $form"
        assert_contains "$output" "$(printf 'lists:\n  news\n  promo')"
    done
}

@test "idna identity: optout of one form suppresses the other; forget of one form keeps the other suppressed on re-import" {
    printf 'email\nhans@bücher.de\nanna@bücher.de\n' >a.csv
    crun 0 import a.csv
    crun 0 optout hans@xn--bcher-kva.de
    assert_eq "$output" "suppressed 1, already suppressed 0"
    assert_eq "$(status_of hans@bücher.de)" "unsubscribed"
    crun 0 optout HANS@BÜCHER.DE
    assert_eq "$output" "suppressed 0, already suppressed 1"
    crun 0 contacts forget anna@xn--bcher-kva.de
    assert_eq "$(count contacts "email LIKE 'anna@%'")" 0
    printf 'email\nanna@BÜCHER.DE\n' >again.csv
    crun 0 import again.csv
    assert_eq "$(status_of anna@bücher.de)" "suppressed" "the forgotten address comes back suppressed"
}

@test "idna identity: suppress import of the A-label form suppresses the U-label contact" {
    printf 'email\nmia@bücher.de\n' >a.csv
    crun 0 import a.csv
    printf 'mia@xn--bcher-kva.de\n' >sup.txt
    crun 0 suppress import sup.txt --reason bounced
    assert_eq "$(status_of mia@bücher.de)" "bounced"
    assert_eq "$(q "SELECT email FROM suppressions;")" "mia@bücher.de" "stored in the canonical form"
}

@test "idna identity: import refuses domains IDNA2008 refuses, with the reason; full-width forms become ASCII" {
    printf 'email,name\na@☃.com,snow\na@1שלום.com,bidi\na@xn--abc.de,bad\nx@ＥＸＡＭＰＬＥ.com,wide\n' >in.csv
    crun 0 import in.csv --rejects rej.csv
    assert_eq "$output" "$(summary 1 0 0 3)"
    assert_eq "$(emails)" "x@example.com"
    py '
import csv
rows = list(csv.reader(open("rej.csv", newline="", encoding="utf-8")))
got = {r[0]: r[-1] for r in rows[1:]}
assert "disallows" in got["a@☃.com"], got
assert "bidi" in got["a@1שלום.com"], got
assert "A-label" in got["a@xn--abc.de"], got
' || fail "rejects file:" "$(cat rej.csv)"
    crun 0 import in.csv
    assert_contains "$stderr" 'in.csv:2: domain has a character IDNA2008 disallows'
    assert_contains "$stderr" 'in.csv:3: domain breaks the IDNA bidi rule'
    assert_contains "$stderr" 'in.csv:4: domain has an invalid A-label'
}
