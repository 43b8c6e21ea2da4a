#!/usr/bin/env bats
# Issue 2: encodings - UTF-8 validated, Latin-1 and Windows-1252 converted
# with --encoding; an Excel file saved on an Italian locale.

load lib

# excel_it FILE - what Excel on an Italian locale saves as "CSV (separato
# da punto e virgola)": ';'-separated, CRLF, Windows-1252.  The header
# (column "Comune" unless $2 names another) and line 2 are plain ASCII so
# that the first non-UTF-8 byte is on line 3.
excel_it() {
    py '
import sys
rows = [
    "Email;Nome;Cognome;%s;Note" % sys.argv[2],
    "mario@example.it;Mario;Rossi;Roma;cliente",
    "niccolo@example.it;Niccolò;D’Amico;Città di Castello;\"Prezzo: 10 €; “promo”\"",
    "ufficio@Città.it;Ilaria;Lò;Forlì;àèéìòù ÀÈÉÌÒÙ",
]
open(sys.argv[1], "wb").write(("\r\n".join(rows) + "\r\n").encode("cp1252"))
' "$1" "${2:-Comune}"
}

@test "encoding: Excel Italian file (; CRLF Windows-1252) imports with --encoding windows-1252" {
    excel_it it.csv Città
    crun 0 import it.csv --encoding windows-1252
    assert_output "$(summary 3 0 0 0)"
    assert_eq "$(emails)" $'mario@example.it\nniccolo@example.it\nufficio@città.it'
    assert_eq "$(attrs niccolo@example.it)" \
        $'città=Città di Castello\ncognome=D’Amico\nnome=Niccolò\nnote=Prezzo: 10 €; “promo”'
    assert_eq "$(attrs ufficio@città.it)" \
        $'città=Forlì\ncognome=Lò\nnome=Ilaria\nnote=àèéìòù ÀÈÉÌÒÙ'
    assert_eq "$(attrs mario@example.it)" \
        $'città=Roma\ncognome=Rossi\nnome=Mario\nnote=cliente'
    # stored as valid UTF-8: the euro sign is E2 82 AC
    assert_eq "$(q "SELECT instr(hex(attrs), 'E282AC') > 0 FROM contacts WHERE email = 'niccolo@example.it';")" 1
}

@test "encoding: the same Excel file with explicit --delimiter ';' and the encoding" {
    excel_it it.csv
    crun 0 import it.csv --delimiter ';' --encoding windows-1252
    assert_output "$(summary 3 0 0 0)"
    assert_eq "$(attrs niccolo@example.it)" \
        $'cognome=D’Amico\ncomune=Città di Castello\nnome=Niccolò\nnote=Prezzo: 10 €; “promo”'
}

@test "encoding: the Excel file with an accented header and no --encoding names line 1" {
    excel_it it.csv Città
    crun 65 import it.csv
    assert_contains "$stderr" "it.csv:1:"
    assert_eq "$(count contacts)" 0
}

@test "encoding: the Excel file without --encoding fails with 65 naming line 3, DB unchanged" {
    excel_it it.csv
    dump before.sql
    crun 65 import it.csv
    assert_eq "$output" "" "stdout"
    assert_contains "$stderr" "it.csv:3:"
    assert_contains "$stderr" "UTF-8"
    dump after.sql
    same_file before.sql after.sql
    assert_eq "$(count contacts)" 0
}

@test "encoding: --encoding utf-8 on the Windows-1252 file fails the same way" {
    excel_it it.csv
    crun 65 import it.csv --encoding utf-8
    assert_contains "$stderr" "it.csv:3:"
    assert_eq "$(count contacts)" 0
}

latin1_file() {
    py '
import sys
rows = [
    "email,name,city,note",
    "plain@example.de,Plain,Berlin,none",
    "hans@example.de,Hans Müller,Köln,Straße ½ © ±",
    "oern@example.dk,Ørsted,Århus,«quoted» ¿sí?",
]
open(sys.argv[1], "wb").write(("\n".join(rows) + "\n").encode("latin-1"))
' "$1"
}

@test "encoding: Latin-1 file imports with --encoding latin1" {
    latin1_file l1.csv
    crun 0 import l1.csv --encoding latin1
    assert_output "$(summary 3 0 0 0)"
    assert_eq "$(attrs hans@example.de)" $'city=Köln\nname=Hans Müller\nnote=Straße ½ © ±'
    assert_eq "$(attrs oern@example.dk)" $'city=Århus\nname=Ørsted\nnote=«quoted» ¿sí?'
    assert_eq "$(attrs plain@example.de)" $'city=Berlin\nname=Plain\nnote=none'
}

@test "encoding: Latin-1 file without --encoding fails with 65 naming line 3, DB unchanged" {
    latin1_file l1.csv
    dump before.sql
    crun 65 import l1.csv
    assert_contains "$stderr" "l1.csv:3:"
    dump after.sql
    same_file before.sql after.sql
}

@test "encoding: valid UTF-8 (accents, CJK, emoji, UTF-8 domain) imports as is" {
    printf 'email,name,note\nzoe@example.fr,Zoë Ça,日本語 ✓ 😀\nINFO@Città.IT,Città,x\n' >u.csv
    crun 0 import u.csv
    assert_output "$(summary 2 0 0 0)"
    assert_eq "$(attrs zoe@example.fr)" $'name=Zoë Ça\nnote=日本語 ✓ 😀'
    assert_eq "$(emails)" $'info@città.it\nzoe@example.fr'
    crun 0 import u.csv --encoding utf-8
    assert_output "$(summary 0 0 2 0)"
}

@test "encoding: malformed UTF-8 sequences are each a file error naming the line" {
    local case_name bytes
    for case_name in lone_continuation:'\200' invalid_ff:'\377' overlong_slash:'\300\257' \
        surrogate:'\355\240\200' truncated_3byte:'ab\342\202' above_10ffff:'\364\220\200\200'; do
        bytes=${case_name#*:}
        case_name=${case_name%%:*}
        # shellcheck disable=SC2059
        printf "email,name\nok@example.com,fine\nbad@example.com,x${bytes}y\nok2@example.com,fine\n" >"$case_name.csv"
        crun 65 import "$case_name.csv" || fail "case $case_name"
        assert_contains "$stderr" "$case_name.csv:3:" "stderr of case $case_name" || return 1
        assert_eq "$(count contacts)" 0 "contacts after case $case_name" || return 1
    done
}

@test "encoding: invalid UTF-8 in the header names line 1" {
    printf 'email,n\351me\nok@example.com,x\n' >h.csv
    crun 65 import h.csv
    assert_contains "$stderr" "h.csv:1:"
    assert_eq "$(count contacts)" 0
}

@test "encoding: a bad --encoding is a usage error (64)" {
    printf 'email\na@example.com\n' >a.csv
    crun 64 import a.csv --encoding ebcdic
    assert_eq "$(count contacts)" 0
}
