#!/usr/bin/env bats
# Issue 2: upsert semantics - idempotent re-import, merging, duplicates
# inside one file, --no-update, --dry-run, --list, several files at once.

load lib

# people FILE N - N contacts with three attributes, some quoted with commas
# and accents.
people() {
    py '
import sys
n = int(sys.argv[2])
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("Email,First Name,City,Notes\n")
    for i in range(n):
        f.write("person%03d@example.com,Name%d,\"Città, %d\",\"note %d\nsecond line\"\n" % (i, i, i % 7, i))
' "$1" "$2"
}

@test "re-import: the same file twice changes nothing and counts everything unchanged" {
    people p.csv 50
    crun 0 import p.csv --list news
    assert_output "$(summary 50 0 0 0)"
    user_data before.txt
    sleep 1.1 # a bumped updated_at (seconds) would show
    crun 0 import p.csv --list news
    assert_output "$(summary 0 0 50 0)"
    user_data after.txt
    same_file before.txt after.txt
    crun 0 import p.csv
    assert_output "$(summary 0 0 50 0)"
    user_data after2.txt
    same_file before.txt after2.txt
    assert_eq "$(count contacts)" 50
    assert_eq "$(count memberships)" 50
}

@test "re-import: one changed cell counts one update and touches only that contact" {
    people p.csv 20
    crun 0 import p.csv
    q "SELECT email, created_at, updated_at FROM contacts WHERE email <> 'person007@example.com' ORDER BY email;" >before.txt
    local created
    created=$(q "SELECT created_at FROM contacts WHERE email = 'person007@example.com';")
    sleep 1.1
    sed 's/^person007@example.com,Name7,/person007@example.com,Renamed,/' p.csv >p2.csv
    crun 0 import p2.csv
    assert_output "$(summary 0 1 19 0)"
    assert_eq "$(attr person007@example.com first_name)" Renamed
    assert_eq "$(attr person007@example.com city)" 'Città, 0'
    q "SELECT email, created_at, updated_at FROM contacts WHERE email <> 'person007@example.com' ORDER BY email;" >after.txt
    same_file before.txt after.txt
    assert_eq "$(q "SELECT created_at FROM contacts WHERE email = 'person007@example.com';")" "$created"
    assert_eq "$(q "SELECT updated_at > created_at FROM contacts WHERE email = 'person007@example.com';")" 1
}

@test "merge: empty cells never erase an attribute; new columns are merged in" {
    printf 'email,name,city\nann@example.com,Ann,Rome\n' >a.csv
    crun 0 import a.csv
    printf 'email,name,city\nann@example.com,,\n' >b.csv
    crun 0 import b.csv
    assert_output "$(summary 0 0 1 0)"
    assert_eq "$(attrs ann@example.com)" $'city=Rome\nname=Ann'
    printf 'email,phone\nann@example.com,555\n' >c.csv
    crun 0 import c.csv
    assert_output "$(summary 0 1 0 0)"
    assert_eq "$(attrs ann@example.com)" $'city=Rome\nname=Ann\nphone=555'
}

@test "merge: the same address in another case or with spaces is the same contact" {
    printf 'email,name\nann@example.com,Ann\n' >a.csv
    crun 0 import a.csv
    printf 'email,name\n"  ANN@Example.COM ",Annie\n' >b.csv
    crun 0 import b.csv
    assert_output "$(summary 0 1 0 0)"
    assert_eq "$(count contacts)" 1
    assert_eq "$(attrs ann@example.com)" 'name=Annie'
}

@test "duplicates: one address three times in a file counts once, the last row wins" {
    printf '%s\n' 'email,name,city,tier' \
        'dup@example.com,First,Rome,gold' \
        'other@example.com,Other,Oslo,' \
        'DUP@example.com,Second,,silver' \
        ' dup@example.com ,Third,,' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 2 0 0 0)"
    assert_eq "$(count contacts)" 2
    # name and tier from the last row that has them; city never erased
    assert_eq "$(attrs dup@example.com)" $'city=Rome\nname=Third\ntier=silver'
}

@test "duplicates: rows for an existing contact count one update" {
    printf 'email,name\ndup@example.com,Orig\n' >a.csv
    crun 0 import a.csv
    printf 'email,name\ndup@example.com,B\ndup@example.com,C\n' >b.csv
    crun 0 import b.csv
    assert_output "$(summary 0 1 0 0)"
    assert_eq "$(attr dup@example.com name)" C
}

@test "duplicates: a change undone by a later row of the same file counts as unchanged" {
    printf 'email,name\ndup@example.com,Orig\n' >a.csv
    crun 0 import a.csv
    user_data before.txt
    sleep 1.1
    printf 'email,name\ndup@example.com,Temp\ndup@example.com,Orig\n' >b.csv
    crun 0 import b.csv
    assert_output "$(summary 0 0 1 0)"
    user_data after.txt
    same_file before.txt after.txt
}

@test "--no-update: existing contacts are left exactly as they were, new ones imported" {
    printf 'email,name,city\nold@example.com,Old,Rome\nsame@example.com,Same,Oslo\n' >a.csv
    crun 0 import a.csv
    q "SELECT * FROM contacts ORDER BY id;" >before.txt
    sleep 1.1
    printf 'email,name,city\nold@example.com,New,Paris\nsame@example.com,Same,Oslo\nfresh@example.com,Fresh,Lima\n' >b.csv
    crun 0 import b.csv --no-update
    assert_output "$(summary 1 0 2 0)"
    assert_eq "$(attrs old@example.com)" $'city=Rome\nname=Old'
    assert_eq "$(attrs fresh@example.com)" $'city=Lima\nname=Fresh'
    q "SELECT id, email, attrs, status, created_at, updated_at FROM contacts WHERE email <> 'fresh@example.com' ORDER BY id;" >after.txt
    cut -d'|' -f1-6 before.txt >before6.txt
    same_file before6.txt after.txt
}

@test "--dry-run: writes nothing at all but prints the counts a real run prints" {
    printf 'email,name\nexisting@example.com,E\nchanged@example.com,C\n' >a.csv
    crun 0 import a.csv
    printf '%s\n' 'email,name' 'existing@example.com,E' 'changed@example.com,C2' \
        'new@example.com,N' 'NEW@example.com,N2' 'bad-address,X' >b.csv
    dump before.sql
    crun 0 import b.csv --dry-run --list dry
    assert_contains "$output" "$(summary 1 1 1 1)"
    dump after.sql
    same_file before.sql after.sql
    assert_eq "$(count lists)" 0
    assert_eq "$(attr changed@example.com name)" C
    # the real run agrees with the dry run
    crun 0 import b.csv --list dry
    assert_output "$(summary 1 1 1 1)"
    assert_eq "$(count memberships)" 3
}

@test "--dry-run: an opt-out in the file suppresses nobody" {
    cp "$E2E_DATA/mailchimp_unsubscribed.csv" .
    dump before.sql
    crun 0 import mailchimp_unsubscribed.csv --dry-run
    assert_contains "$output" "$(summary 2 0 0 0)"
    dump after.sql
    same_file before.sql after.sql
    assert_eq "$(count suppressions)" 0
}

@test "--dry-run: a file-level error is still exit 65" {
    printf 'name\nx\n' >in.csv
    crun 65 import in.csv --dry-run
    assert_contains "$stderr" "in.csv:1:"
}

@test "--list: creates the list on first use and adds every imported contact" {
    printf 'email\na@example.com\nb@example.com\nnope\n' >a.csv
    crun 0 import a.csv --list 'Spring 2024'
    assert_output "$(summary 2 0 0 1)"
    assert_eq "$(q "SELECT name FROM lists;")" 'Spring 2024'
    assert_eq "$(q "SELECT c.email FROM memberships m JOIN contacts c ON c.id = m.contact_id JOIN lists l ON l.id = m.list_id WHERE l.name = 'Spring 2024' ORDER BY c.email;")" \
        $'a@example.com\nb@example.com'
    # existing and unchanged contacts join a second list too
    printf 'email\nb@example.com\nc@example.com\n' >b.csv
    crun 0 import b.csv --list 'Spring 2024'
    assert_output "$(summary 1 0 1 0)"
    crun 0 import b.csv --list VIP
    assert_output "$(summary 0 0 2 0)"
    assert_eq "$(count lists)" 2
    assert_eq "$(q "SELECT l.name, count(*) FROM memberships m JOIN lists l ON l.id = m.list_id GROUP BY l.name ORDER BY l.name;")" \
        $'Spring 2024|3\nVIP|2'
    crun 0 contacts show b@example.com --format json
    assert_eq "$(json_get "$output" lists)" '["Spring 2024", "VIP"]'
}

@test "--list: campaign lists shows members and mailable members" {
    printf 'email\na@example.com\nb@example.com\nc@example.com\n' >a.csv
    crun 0 import a.csv --list news
    crun 0 optout c@example.com
    crun 0 lists --format json
    assert_eq "$(json_get "$output" 0 name)" news
    assert_eq "$(json_get "$output" 0 members)" 3
    assert_eq "$(json_get "$output" 0 active)" 2
    crun 0 lists
    assert_contains "$output" news
}

@test "--list: an import without --list adds no memberships" {
    printf 'email\na@example.com\n' >a.csv
    crun 0 import a.csv
    assert_eq "$(count lists)" 0
    assert_eq "$(count memberships)" 0
    crun 0 lists --format json
    assert_eq "$(json_get "$output")" '[]'
}

@test "several files: one summary per file, each its own transaction" {
    printf 'email,name\na@example.com,A\nb@example.com,B\n' >one.csv
    printf 'email;name\nb@example.com;B2\nc@example.com;C\nbad;x\n' >two.csv
    crun 0 import one.csv two.csv --list both
    assert_eq "${lines[0]}" "one.csv: $(summary 2 0 0 0)"
    assert_eq "${lines[1]}" "two.csv: $(summary 1 1 0 1)"
    assert_eq "$(emails)" $'a@example.com\nb@example.com\nc@example.com'
    assert_eq "$(attr b@example.com name)" B2
    assert_eq "$(count memberships)" 3
    assert_eq "$(count imports)" 2
}

@test "several files: a bad second file keeps the first, writes nothing of its own, exit 65" {
    printf 'email\na@example.com\n' >one.csv
    printf 'email,notes\nb@example.com,"unterminated\n' >two.csv
    printf 'email\nc@example.com\n' >three.csv
    crun 65 import one.csv two.csv three.csv
    assert_contains "$output" "one.csv: $(summary 1 0 0 0)"
    assert_contains "$stderr" "two.csv:2:"
    assert_eq "$(emails)" a@example.com
}

@test "several files: a missing file is exit 66 and imports nothing from it" {
    printf 'email\na@example.com\n' >one.csv
    crun 66 import one.csv missing.csv
    assert_contains "$stderr" missing.csv
    assert_eq "$(q "SELECT count(*) FROM contacts WHERE email <> 'a@example.com';")" 0
}

@test "imports table: each committed import is recorded with its counts" {
    printf 'email\na@example.com\nbad\n' >a.csv
    crun 0 import a.csv
    crun 0 import a.csv
    assert_eq "$(q "SELECT imported, updated, unchanged, rejected FROM imports ORDER BY id;")" $'1|0|0|1\n0|0|1|1'
}
