#!/usr/bin/env bats
# Issue 2: CSV dialects - delimiters (detected and forced), BOM, line ends,
# RFC 4180 quoting.

load lib

# three contacts whose city holds no delimiter; written with delimiter $1
# and line end $2
three_rows() {
    local d=$1 nl=$2
    # shellcheck disable=SC2059
    printf "email${d}name${d}city${nl}ann@example.com${d}Ann${d}Rome${nl}bob@example.org${d}Bob${d}Oslo${nl}cy@example.net${d}Cy${d}Lima${nl}"
}

check_three() {
    assert_eq "$(emails)" $'ann@example.com\nbob@example.org\ncy@example.net' "emails"
    assert_eq "$(attrs ann@example.com)" $'city=Rome\nname=Ann' "ann's attributes"
    assert_eq "$(attrs bob@example.org)" $'city=Oslo\nname=Bob' "bob's attributes"
    assert_eq "$(attrs cy@example.net)" $'city=Lima\nname=Cy' "cy's attributes"
}

@test "dialect: comma-separated, delimiter detected" {
    three_rows , '\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 3 0 0 0)"
    check_three
}

@test "dialect: semicolon-separated, delimiter detected" {
    three_rows ';' '\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 3 0 0 0)"
    check_three
}

@test "dialect: TAB-separated, delimiter detected" {
    three_rows '\t' '\n' >in.tsv
    crun 0 import in.tsv
    assert_output "$(summary 3 0 0 0)"
    check_three
}

@test "dialect: pipe-separated, delimiter detected" {
    three_rows '|' '\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 3 0 0 0)"
    check_three
}

@test "dialect: detection ignores delimiters inside quoted header names" {
    # the header has more commas (inside quotes) than semicolons outside
    printf '"Email";"Name, full, formal"\nq@example.com;Q, R\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 1 0 0 0)"
    assert_eq "$(attrs q@example.com)" 'name_full_formal=Q, R'
}

@test "dialect: --delimiter ';' forces a file that detection would read as commas" {
    # header "email;name,x": one ';' and one ',' - only ';' is right
    printf 'email;name,x\nd@example.com;D,1\n' >in.csv
    crun 0 import in.csv --delimiter ';'
    assert_output "$(summary 1 0 0 0)"
    assert_eq "$(attrs d@example.com)" 'name_x=D,1'
}

@test "dialect: --delimiter ',' keeps semicolons as data" {
    printf 'email,note\ne@example.com,a;b;c;d\n' >in.csv
    crun 0 import in.csv --delimiter ,
    assert_output "$(summary 1 0 0 0)"
    assert_eq "$(attrs e@example.com)" 'note=a;b;c;d'
}

@test "dialect: --delimiter tab and a literal TAB both work" {
    three_rows '\t' '\n' >in.tsv
    crun 0 import in.tsv --delimiter tab
    assert_output "$(summary 3 0 0 0)"
    check_three
    crun 0 import in.tsv --delimiter "$(printf '\t')"
    assert_output "$(summary 0 0 3 0)"
}

@test "dialect: --delimiter '|' on a pipe file whose header has commas" {
    printf 'email|last, first|city\np@example.com|Doe, J|Rome\n' >in.csv
    crun 0 import in.csv --delimiter '|'
    assert_output "$(summary 1 0 0 0)"
    assert_eq "$(attrs p@example.com)" $'city=Rome\nlast_first=Doe, J'
}

@test "dialect: a wrong --delimiter is taken at its word (no email column, exit 65)" {
    three_rows ';' '\n' >in.csv
    crun 65 import in.csv --delimiter ,
    assert_contains "$stderr" "in.csv:1:"
    assert_eq "$(count contacts)" 0
}

@test "dialect: UTF-8 BOM is stripped from the first header name" {
    { printf '\357\273\277'; three_rows , '\r\n'; } >in.csv
    crun 0 import in.csv
    assert_output "$(summary 3 0 0 0)"
    check_three
    # no attribute named after a BOM-prefixed "email"
    assert_eq "$(q "SELECT count(*) FROM contacts, json_each(attrs) WHERE key LIKE '%email%';")" 0
}

@test "dialect: UTF-8 BOM before a quoted header and semicolons" {
    printf '\357\273\277"E-mail";"Nome"\r\n"ann@example.com";"Ann"\r\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 1 0 0 0)"
    assert_eq "$(attrs ann@example.com)" 'nome=Ann'
}

@test "line ends: CRLF" {
    three_rows , '\r\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 3 0 0 0)"
    check_three
    # no CR left at the end of the last column
    assert_eq "$(q "SELECT count(*) FROM contacts WHERE instr(attrs, char(13)) > 0 OR instr(email, char(13)) > 0;")" 0
}

@test "line ends: LF" {
    three_rows , '\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 3 0 0 0)"
    check_three
}

@test "line ends: CR only (old Mac)" {
    three_rows , '\r' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 3 0 0 0)"
    check_three
    assert_eq "$(q "SELECT count(*) FROM contacts WHERE instr(attrs, char(13)) > 0;")" 0
}

@test "line ends: mixed CRLF, LF and CR in one file, no final newline" {
    printf 'email,name,city\r\nann@example.com,Ann,Rome\nbob@example.org,Bob,Oslo\rcy@example.net,Cy,Lima' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 3 0 0 0)"
    check_three
}

@test "line ends: blank lines are skipped, not rejected" {
    printf 'email,name\n\nann@example.com,Ann\n\n\nbob@example.org,Bob\n\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 2 0 0 0)"
    assert_eq "$(emails)" $'ann@example.com\nbob@example.org'
}

@test "quoting: embedded delimiters, doubled quotes, empty quoted field" {
    printf '%s\n' \
        'email,name,motto,empty' \
        '"ann@example.com","Rossi, Ann","She said ""hi"", then left",""' \
        'bob@example.org,Bob,"a,b;c|d	e",x' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 2 0 0 0)"
    assert_eq "$(attr ann@example.com name)" 'Rossi, Ann'
    assert_eq "$(attr ann@example.com motto)" 'She said "hi", then left'
    # an empty cell never makes an attribute
    assert_eq "$(attrs ann@example.com)" $'motto=She said "hi", then left\nname=Rossi, Ann'
    assert_eq "$(attr bob@example.org motto)" "$(printf 'a,b;c|d\te')"
}

@test "quoting: a newline inside quotes is data (notes column, LF file)" {
    printf 'email,notes,city\nann@example.com,"line one\nline two\n\nline four",Rome\nbob@example.org,plain,Oslo\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 2 0 0 0)"
    assert_eq "$(attr ann@example.com notes)" $'line one\nline two\n\nline four'
    assert_eq "$(attr ann@example.com city)" 'Rome'
    assert_eq "$(attrs bob@example.org)" $'city=Oslo\nnotes=plain'
}

@test "quoting: a CRLF inside quotes in a CRLF file is kept byte for byte" {
    printf 'email,notes\r\nann@example.com,"l1\r\nl2"\r\nbob@example.org,x\r\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 2 0 0 0)"
    assert_eq "$(q "SELECT hex(json_extract(attrs, '\$.notes')) FROM contacts WHERE email = 'ann@example.com';")" \
        "$(printf 'l1\r\nl2' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
    assert_eq "$(attr bob@example.org notes)" 'x'
}

@test "quoting: a CR inside quotes in a CR-only file is kept" {
    printf 'email,notes\rann@example.com,"l1\rl2"\rbob@example.org,x\r' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 2 0 0 0)"
    assert_eq "$(q "SELECT hex(json_extract(attrs, '\$.notes')) FROM contacts WHERE email = 'ann@example.com';")" \
        '6C310D6C32'
}

@test "quoting: line numbers in reports count physical lines after quoted newlines" {
    # line 1 header; lines 2-4 one record; line 5 bad; lines 6-7 one bad
    # record; line 8 good
    printf 'email,notes\nann@example.com,"a\nb\nc"\nnot-an-address,x\nalso-bad,"y\nz"\nbob@example.org,w\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 2 0 0 2)"
    assert_stderr_lines 2
    assert_contains "${stderr_lines[0]}" "in.csv:5: "
    assert_contains "${stderr_lines[1]}" "in.csv:6: "
}

@test "quoting: a quote inside an unquoted field is a file error naming the line" {
    printf 'email,name\nann@example.com,Ann\nbob@example.org,B"ob\n' >in.csv
    crun 65 import in.csv
    assert_contains "$stderr" "in.csv:3:"
    assert_eq "$(count contacts)" 0
}

@test "ragged rows: a short row keeps what it has, a long row is rejected" {
    printf 'email,name,city\nann@example.com,Ann\nbob@example.org,Bob,Oslo,EXTRA\ncy@example.net,Cy,Lima\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 2 0 0 1)"
    assert_eq "$(emails)" $'ann@example.com\ncy@example.net'
    assert_eq "$(attrs ann@example.com)" 'name=Ann'
    assert_contains "$stderr" "in.csv:3: "
}
