#!/usr/bin/env bats
# bite_suppress.bats - `campaign suppress import` with a reason column
# and from a plain list of addresses (README "suppress import": "an
# optional reason column: unsubscribed, bounced/cleaned, complained/spam,
# manual").  Written for scripts/mutants-more.txt (issue 10):
# suppression.bats imports files without a reason column only.

load lib

# reasons - "email|reason" of every suppression, by address.
reasons() {
    q "SELECT email, reason FROM suppressions ORDER BY email;"
}

@test "bite suppress: suppress import maps the reason column; an empty cell takes --reason, an unknown word rejects the row" {
    cat >sup.csv <<'CSV'
Email Address,Reason,Note
a@example.com,bounced,x
b@example.com,Cleaned,x
c@example.com,spam,x
d@example.com,unsubscribed,x
e@example.com,,x
f@example.com,complained,x
g@example.com,whatever,x
h@example.com,manual,x
CSV
    crun 0 suppress import sup.csv
    assert_output "suppressed 7, already suppressed 0, rejected 1"
    assert_contains "$stderr" "sup.csv:8:"
    assert_eq "$(reasons)" "a@example.com|bounced
b@example.com|bounced
c@example.com|complained
d@example.com|unsubscribed
e@example.com|manual
f@example.com|complained
h@example.com|manual"
    assert_eq "$(q "SELECT DISTINCT source FROM suppressions;")" "suppress:sup.csv"

    # --reason is what an empty cell means
    printf 'email,reason\ni@example.com,\nj@example.com,spam\n' >more.csv
    crun 0 suppress import more.csv --reason bounced
    assert_eq "$(q "SELECT email, reason FROM suppressions WHERE email IN ('i@example.com', 'j@example.com') ORDER BY email;")" \
        "i@example.com|bounced
j@example.com|complained"

    # an import then gives each contact the status of its reason
    printf 'email\na@example.com\nc@example.com\nd@example.com\ne@example.com\nk@example.com\n' >contacts.csv
    crun 0 import contacts.csv
    assert_eq "$(q "SELECT email, status FROM contacts ORDER BY email;")" "a@example.com|bounced
c@example.com|complained
d@example.com|unsubscribed
e@example.com|suppressed
k@example.com|active"
}

@test "bite suppress: a plain list of addresses, no header, one per line" {
    printf 'x@example.com\n  Y@Example.COM \nnot an address\nz@example.com\n' >plain.txt
    crun 0 suppress import plain.txt --reason complained
    assert_output "suppressed 3, already suppressed 0, rejected 1"
    assert_eq "$(reasons)" "x@example.com|complained
y@example.com|complained
z@example.com|complained"
}

@test "bite suppress: an address suppressed for any reason before it was ever a contact is imported suppressed" {
    crun 0 optout b@example.com --reason bounced
    crun 0 optout c@example.com --reason complained
    crun 0 optout m@example.com --reason manual
    crun 0 optout u@example.com
    printf 'email\nb@example.com\nc@example.com\nm@example.com\nu@example.com\nnew@example.com\n' >a.csv
    crun 0 import a.csv --list news
    assert_eq "$(q "SELECT email, status FROM contacts ORDER BY email;")" "b@example.com|bounced
c@example.com|complained
m@example.com|suppressed
new@example.com|active
u@example.com|unsubscribed"
    crun 0 lists --format json
    assert_eq "$(json_get "$output" 0 active)" 1
}
