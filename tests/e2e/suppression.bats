#!/usr/bin/env bats
# Issue 2: an import never lifts a suppression; optout, forget, suppress
# import/list, contacts show.

load lib

@test "suppression: optout then import the same address - stays unsubscribed" {
    printf 'email,name\nann@example.com,Ann\nbob@example.com,Bob\n' >a.csv
    crun 0 import a.csv --list news
    crun 0 optout ann@example.com
    assert_eq "$(status_of ann@example.com)" unsubscribed
    sleep 1.1
    printf 'email,name\nANN@example.com,Ann Again\nbob@example.com,Bob\n' >b.csv
    crun 0 import b.csv --list news
    assert_eq "$(status_of ann@example.com)" unsubscribed
    assert_eq "$(status_of bob@example.com)" active
    assert_eq "$(q "SELECT email, reason FROM suppressions;")" 'ann@example.com|unsubscribed'
    crun 0 contacts show ann@example.com --format json
    assert_eq "$(json_get "$output" status)" unsubscribed
    assert_eq "$(json_get "$output" suppression reason)" unsubscribed
    crun 0 contacts show ann@example.com
    assert_contains "$output" "suppressed:  yes"
    crun 0 lists --format json
    assert_eq "$(json_get "$output" 0 members)" 2
    assert_eq "$(json_get "$output" 0 active)" 1
}

@test "suppression: an address opted out before it was ever imported is imported suppressed" {
    crun 0 optout Later@Example.com
    assert_output 'suppressed 1, already suppressed 0'
    printf 'email,name\nlater@example.com,L\n' >a.csv
    crun 0 import a.csv
    assert_eq "$(status_of later@example.com)" unsubscribed
    assert_eq "$(attr later@example.com name)" L
}

@test "suppression: no reason (bounced, complained, manual) is lifted by an import" {
    printf 'email\nb@example.com\nc@example.com\nm@example.com\n' >a.csv
    crun 0 import a.csv
    crun 0 optout b@example.com --reason bounced
    crun 0 optout c@example.com --reason complained
    crun 0 optout m@example.com --reason manual
    crun 0 import a.csv
    crun 0 import a.csv --no-update
    assert_eq "$(status_of b@example.com)" bounced
    assert_eq "$(status_of c@example.com)" complained
    assert_eq "$(status_of m@example.com)" suppressed "status after a manual suppression and two imports"
    assert_eq "$(q "SELECT email || ':' || reason FROM suppressions ORDER BY email;")" \
        $'b@example.com:bounced\nc@example.com:complained\nm@example.com:manual'
}

@test "suppression: a Mailchimp subscribed export does not lift an earlier opt-out" {
    cp "$E2E_DATA/mailchimp_subscribed.csv" .
    crun 0 optout alice@example.com
    crun 0 import mailchimp_subscribed.csv
    assert_eq "$(status_of alice@example.com)" unsubscribed
    assert_eq "$(status_of bob.baker@example.org)" active
}

@test "optout: several addresses, normalised; a repeat is 'already suppressed'" {
    crun 0 optout ' A@Example.com' b@example.com
    assert_output 'suppressed 2, already suppressed 0'
    crun 0 optout a@example.com
    assert_output 'suppressed 0, already suppressed 1'
    assert_eq "$(q "SELECT email FROM suppressions ORDER BY email;")" $'a@example.com\nb@example.com'
}

@test "optout: an invalid address is exit 65 and suppresses nothing" {
    crun 65 optout not-an-address
    assert_eq "$(count suppressions)" 0
    crun 64 optout a@example.com --reason whatever
    assert_eq "$(count suppressions)" 0
}

@test "forget: re-import brings the contact back suppressed; the suppression keeps no email" {
    printf 'email,name,secret\ngone@example.com,Forgotten Person,s3cr3t-value\nstay@example.com,Stay,x\n' >a.csv
    crun 0 import a.csv --list news
    crun 0 contacts forget gone@example.com
    assert_eq "$(count contacts "email = 'gone@example.com'")" 0
    assert_eq "$(q "SELECT count(*) FROM suppressions WHERE email IS NULL AND reason = 'forgotten';")" 1
    assert_eq "$(count suppressions "email = 'gone@example.com'")" 0
    assert_eq "$(count memberships)" 1
    printf 'email,name\nGone@Example.com,Back Again\n' >b.csv
    crun 0 import b.csv --list news
    assert_output "$(summary 1 0 0 0)"
    assert_eq "$(status_of gone@example.com)" suppressed
    assert_eq "$(attrs gone@example.com)" 'name=Back Again'
    assert_eq "$(q "SELECT count(*), count(email) FROM suppressions;")" '1|0'
    crun 0 contacts show gone@example.com --format json
    assert_eq "$(json_get "$output" status)" suppressed
    assert_eq "$(json_get "$output" suppression reason)" forgotten
    crun 0 lists --format json
    assert_eq "$(json_get "$output" 0 active)" 1
}

@test "forget: nothing of the person is left in the database files" {
    printf 'email,name\nsecret.person@example.com,Zebediah Quux\nother@example.com,O\n' >a.csv
    crun 0 import a.csv --list news
    crun 0 optout secret.person@example.com
    crun 0 contacts forget secret.person@example.com
    local hits
    hits=$(cat c.db* | grep -a -c -e 'secret\.person' -e 'Zebediah' || true)
    assert_eq "$hits" 0 "lines of the database files naming the person"
    assert_eq "$(q "SELECT count(*), count(email) FROM suppressions;")" '1|0'
}

@test "forget: an opted-out contact stays suppressed after forget and re-import" {
    printf 'email\nx@example.com\n' >a.csv
    crun 0 import a.csv
    crun 0 optout x@example.com --reason complained
    crun 0 contacts forget x@example.com
    crun 0 import a.csv
    # forget keeps the first reason with the hash (the person's complaint)
    assert_eq "$(status_of x@example.com)" complained
    assert_eq "$(q "SELECT count(email) FROM suppressions;")" 0
    crun 0 contacts show x@example.com --format json
    assert_eq "$(json_get "$output" status)" complained
    assert_eq "$(json_get "$output" suppression reason)" complained
}

@test "forget: an address never seen is suppressed by hash" {
    crun 0 contacts forget never@example.com
    assert_eq "$(q "SELECT count(*), count(email) FROM suppressions;")" '1|0'
    printf 'email\nnever@example.com\n' >a.csv
    crun 0 import a.csv
    assert_eq "$(status_of never@example.com)" suppressed
}

@test "suppress import: a file of addresses suppresses them; import then keeps them suppressed" {
    printf 'Email,Note\nS1@example.com,x\ns2@example.com,y\nnot-an-address,z\n' >sup.csv
    crun 0 suppress import sup.csv
    assert_contains "$output" 'suppressed 2'
    assert_contains "$output" 'rejected 1'
    assert_eq "$(q "SELECT email FROM suppressions ORDER BY email;")" $'s1@example.com\ns2@example.com'
    crun 0 suppress import sup.csv
    assert_contains "$output" 'suppressed 0, already suppressed 2'
    printf 'email\ns1@example.com\nfree@example.com\n' >a.csv
    crun 0 import a.csv
    # suppress import's default reason is manual: the contact is 'suppressed'
    assert_eq "$(status_of s1@example.com)" suppressed
    assert_eq "$(status_of free@example.com)" active
}

@test "suppress import: semicolons and Windows-1252 like import" {
    py 'open("sup.csv", "wb").write("E-mail;Città\r\nrene@example.com;Forlì\r\n".encode("cp1252"))'
    crun 65 suppress import sup.csv
    assert_eq "$(count suppressions)" 0
    crun 0 suppress import sup.csv --encoding windows-1252
    assert_eq "$(q "SELECT email FROM suppressions;")" rene@example.com
}

@test "suppress list: text and CSV show every suppression, forgotten ones by hash" {
    crun 0 optout a@example.com
    crun 0 optout b@example.com --reason bounced
    crun 0 contacts forget c@example.com
    crun 0 suppress list
    assert_contains "$output" a@example.com
    assert_contains "$output" b@example.com
    assert_not_contains "$output" c@example.com
    crun 0 suppress list --format csv
    printf '%s\n' "$output" >list.csv
    py '
import csv
rows = list(csv.DictReader(open("list.csv", newline="")))
assert len(rows) == 3, rows
by = {r["email"]: r for r in rows}
assert by["a@example.com"]["reason"] == "unsubscribed", by
assert by["b@example.com"]["reason"] == "bounced", by
forgotten = by[""]
assert forgotten["reason"] == "forgotten", forgotten
assert len(forgotten["hash"]) == 64 and all(c in "0123456789abcdef" for c in forgotten["hash"]), forgotten
' || fail "suppress list --format csv:" "$output"
}

@test "suppress list --format csv: a cell that a spreadsheet would run as a formula is neutralised" {
    # =, + and - are atext (RFC 5322 3.2.3): valid addresses can start with
    # them, and optout takes them.  A cell starting with @, TAB or CR is
    # neutralised too; no command can put one in the list, so those rows
    # are written with sqlite3, as a damaged or hand-edited database would
    # hold them.
    crun 0 optout -- '=cmd|x@example.com' '+sum@example.com' '-2+3@example.com' \
        plain@example.com
    q "INSERT INTO suppressions(hash, email, reason, source, created_at) VALUES
        (randomblob(32), '@SUM(A1)@example.com', 'manual', 'manual', 1),
        (randomblob(32), 'tab@example.com', 'manual', char(9) || '=1+1', 2),
        (randomblob(32), 'cr@example.com', 'manual', char(13) || '=1+1', 3);"
    crun 0 suppress list --format csv
    printf '%s\n' "$output" >list.csv
    py '
import csv
rows = list(csv.DictReader(open("list.csv", newline="")))
want = {
    "=cmd|x@example.com": ("email", "=cmd|x@example.com"),
    "+sum@example.com": ("email", "+sum@example.com"),
    "-2+3@example.com": ("email", "-2+3@example.com"),
    "@SUM(A1)@example.com": ("email", "@SUM(A1)@example.com"),
    "tab@example.com": ("source", "\t=1+1"),
    "cr@example.com": ("source", "\r=1+1"),
}
by_value = {}
for r in rows:
    for k, v in r.items():
        by_value[v] = (r, k)
for key, (col, raw) in want.items():
    got = by_value.get("\x27" + raw)
    assert got is not None and got[1] == col, ("not neutralised", raw, rows)
    assert raw not in by_value, ("raw formula cell", raw)
assert "plain@example.com" in by_value, ("an ordinary cell changed", rows)
assert len(rows) == 7, rows
for r in rows:
    for v in r.values():
        assert v[:1] not in ("=", "+", "-", "@", "\t", "\r"), ("formula cell", v)
' || fail "suppress list --format csv:" "$output"
}

@test "contacts show: unknown address exits 67; text and JSON for a contact" {
    crun 67 contacts show nobody@example.com
    printf 'email,First Name\nann@example.com,Ann\n' >a.csv
    crun 0 import a.csv --list news
    crun 0 contacts show ANN@example.com --format json
    assert_eq "$(json_get "$output" email)" ann@example.com
    assert_eq "$(json_get "$output" status)" active
    assert_eq "$(json_get "$output" attributes)" '{"first_name": "Ann"}'
    assert_eq "$(json_get "$output" lists)" '["news"]'
    assert_eq "$(json_get "$output" suppression)" null
    crun 0 contacts show ann@example.com
    assert_contains "$output" ann@example.com
    assert_contains "$output" 'first_name'
    assert_contains "$output" news
}

@test "contacts show: a suppressed address that is not a contact is shown (exit 0)" {
    crun 0 optout ghost@example.com
    crun 0 contacts show ghost@example.com --format json
    assert_eq "$(json_get "$output" contact)" false
    assert_eq "$(json_get "$output" suppression reason)" unsubscribed
}
