#!/usr/bin/env bats
# Issue 12, "Outputs never destroy inputs": the rejects file of `campaign
# import` is written atomically, only when rows were rejected, never over
# one of the files being imported, never over an existing file without
# --force; its cells are neutralised against formula injection as in
# `suppress list`, and its own columns never double one of the input's.

load lib

# people N - people.csv: N good rows and 2 bad ones
people() {
    {
        printf 'email,name,phone\n'
        for ((i = 1; i <= $1; i++)); do printf 'p%d@example.com,P%d,%d\n' "$i" "$i" "$i"; done
        printf 'not-an-address,Bad,1\n'
        printf '"=HYPERLINK(""http://evil.example"")",Eve,+33 6 12 34 56 78\n'
    } >people.csv
}

@test "outputs: --rejects naming the input itself is refused (64) before anything is imported; the input is untouched" {
    people 200
    cp people.csv orig.csv
    crun 64 import people.csv --rejects people.csv --list news
    assert_contains "$stderr" "people.csv is also an input"
    cmp -s people.csv orig.csv || fail "the input changed: $(wc -l <people.csv) lines"
    assert_eq "$(count contacts)" 0
    # through a link, and among several inputs, too
    ln -s people.csv link.csv
    crun 64 import other.csv people.csv --rejects link.csv
    cmp -s people.csv orig.csv || fail "the input changed through a link"
    crun 64 import people.csv --rejects people.csv --force
    cmp -s people.csv orig.csv || fail "the input changed with --force"
    assert_eq "$(count contacts)" 0
}

@test "outputs: an existing rejects file is not replaced without --force (73, nothing imported); with --force it is, atomically" {
    people 3
    printf 'keep me\n' >rej.csv
    crun 73 import people.csv --rejects rej.csv
    assert_contains "$stderr" "rej.csv exists"
    assert_contains "$stderr" "--force"
    assert_eq "$(cat rej.csv)" "keep me"
    assert_eq "$(count contacts)" 0
    crun 0 import people.csv --rejects rej.csv --force
    assert_eq "$(count contacts)" 3
    assert_eq "$(wc -l <rej.csv)" 3 "header and two rejects"
    # no temporary file left beside it
    assert_eq "$(ls | grep -c 'rej.csv.tmp')" 0
}

@test "outputs: an import with no rejects writes no rejects file and leaves an earlier one as it was" {
    printf 'email\nok@example.com\n' >clean.csv
    crun 0 import clean.csv --rejects new.csv
    [ ! -e new.csv ] || fail "a rejects file was written with nothing rejected: $(cat -A new.csv)"
    assert_contains "$stderr" "no rejects: new.csv not written"
    printf 'old rejects\n' >old.csv
    crun 0 import clean.csv --rejects old.csv --force
    assert_eq "$(cat old.csv)" "old rejects"
}

@test "outputs: rejects cells that a spreadsheet would run are neutralised (as suppress list); an input reason column is not doubled" {
    printf 'email,reason,file,note\n=1+2@x,"moved away",a.csv,@SUM(A1)\nok@example.com,,,\n-bad,x,y,"\ttab"\n' >in.csv
    crun 0 import in.csv --rejects rej.csv
    py '
import csv
rows = list(csv.reader(open("rej.csv", newline="", encoding="utf-8")))
head = rows[0]
assert head == ["email", "reason", "file", "note", "reject_file", "line", "reject_reason"], head
assert len(set(head)) == len(head), head
r1, r2 = rows[1], rows[2]
assert r1[0] == "\x27=1+2@x" and r1[1] == "moved away" and r1[3] == "\x27@SUM(A1)", r1
assert r1[4] == "in.csv" and r1[5] == "2" and r1[6], r1
assert r2[0] == "\x27-bad" and r2[3] == "\x27\ttab", r2
for r in rows[1:]:
    for c in r:
        assert not c or c[0] not in "=+-@\t\r", r
' || fail "rejects file:" "$(cat -A rej.csv)"
}
