#!/usr/bin/env bats
# Issue 11, "A template error must not finish a campaign": before a
# campaign freezes its template, `send` checks every recipient's message
# (a merge field missing without a fallback, a missing partial, a header
# that would not build) and refuses with exit 65, in preview's words,
# recording nothing.  A message that still cannot be built at send time
# (the contact changed after the freeze) is `unbuildable`, with why: not
# failed, not final - the run exits 65, the campaign is not done, `report`
# shows it, and the next send retries it, with the template's fixed files
# when they changed (frozen again) or with the frozen ones when only the
# contact was fixed.
#
# Real sends go to Postfix's smtp-sink on loopback (send_lib.bash).

load lib
load send_lib

setup() {
    campaign_setup
    start_sink
    write_conf "$SINK_PORT"
    mkdir -p templates/partials
}

teardown() {
    send_teardown
}

# dumps - how many messages smtp-sink received.
dumps() {
    ls "$SINK_DUMP" | wc -l
}

# subject_of EMAIL - the Subject of the message EMAIL received (the last).
subject_of() {
    local f
    f=$(received | awk -F'\t' -v r="$1" '$1 == r { f = $3 } END { print f }')
    [ -n "$f" ] || fail "$1 received nothing"
    grep -m1 '^Subject:' "$f" | tr -d '\r'
}

# three - a, b and c with first names in list G.
three() {
    printf 'email,nick\na@example.com,Ann\nb@example.com,Bob\nc@example.com,Cy\n' >g.csv
    crun 0 import g.csv --list G
}

# broken_b - b's nick (not in To:) gets a line break (an import after the
# freeze: a quoted multi-line value is kept).
broken_b() {
    printf 'email,nick\nb@example.com,"Bob\nBcc: victim@example.net"\n' >bad.csv
    crun 0 import bad.csv
}

# fixed_b - b's nick fixed.
fixed_b() {
    printf 'email,nick\nb@example.com,Bobby\n' >good.csv
    crun 0 import good.csv
}

# half_sent - campaign hi (Subject: Hi {{nick}}) to G has mailed a
# only (--max 1); then b's nick gets a line break.
half_sent() {
    three
    printf 'Subject: Hi {{nick}}\n\n<p>hello</p>\n' >templates/hi.mustache
    crun 0 send --template hi --list G --max 1
    assert_eq "$(dumps)" 1 "messages after --max 1"
    broken_b
}

@test "send unbuildable: the issue's misspelt field refuses the send, exit 65, preview's words, nothing recorded or sent" {
    printf 'email\na@example.com\nb@example.com\n' >l.csv
    crun 0 import l.csv --list L
    printf 'Subject: hi {{frist_name}}\n\n<p>hi</p>\n' >templates/typo.mustache
    crun 65 send --template typo --list L
    assert_contains "$stderr" 'templates/typo.mustache:1:4: field "frist_name" is missing: 2 recipients (a@example.com, b@example.com)'
    assert_contains "$stderr" "nothing sent, nothing recorded"
    # preview: the same words for its one contact
    local said
    said=$(printf '%s\n' "$stderr" | grep -m1 'frist_name')
    crun 65 preview --template typo --to a@example.com
    assert_contains "$stderr" 'templates/typo.mustache:1:4: field "frist_name" is missing: 1 recipient (a@example.com)'
    assert_contains "$said" "${stderr%%: 1 recipient*}"
    # nothing recorded: no campaign, no ledger row, no frozen template
    assert_eq "$(count campaigns)" 0
    assert_eq "$(count sends)" 0
    crun 0 report
    assert_eq "$output" "no campaigns yet"
    assert_eq "$(dumps)" 0 "messages sent"
    # fixed: the campaign starts now and mails everyone
    printf 'Subject: hi {{#first_name}}{{first_name}}{{/first_name}}{{^first_name}}there{{/first_name}}\n\n<p>hi</p>\n' >templates/typo.mustache
    crun 0 send --template typo --list L
    assert_eq "$(dumps)" 2 "messages sent after the fix"
    assert_eq "$(campaign_status typo)" done
    assert_eq "$(subject_of b@example.com)" "Subject: hi there"
}

@test "send unbuildable: a missing partial refuses the send, exit 65, naming the line and the file" {
    three
    printf 'Subject: s\n\n<p>hi</p>\n<p>{{>footr}}</p>\n' >templates/np.mustache
    printf 'the footer\n' >templates/partials/footer.mustache
    crun 65 send --template np --list G
    assert_contains "$stderr" 'templates/np.mustache:4:4: partial "footr" is missing (templates/partials/footr.mustache): every recipient'
    assert_eq "$(count campaigns)" 0
    assert_eq "$(dumps)" 0 "messages sent"
    crun 65 preview --template np --to a@example.com
    assert_contains "$stderr" 'templates/np.mustache:4:4: partial "footr" is missing'
    crun 65 send --template np --list G --dry-run
    assert_contains "$stderr" 'partial "footr" is missing'
    sed -i 's/footr/footer/' templates/np.mustache
    crun 0 send --template np --list G
    assert_eq "$(dumps)" 3 "messages sent after the fix"
}

@test "send unbuildable: a header that would not build for one contact refuses the whole send, exit 65" {
    three
    broken_b
    printf 'Subject: Hi {{nick}}\n\n<p>hello</p>\n' >templates/hi.mustache
    crun 65 send --template hi --list G
    assert_contains "$stderr" 'templates/hi.mustache:1: the subject contains a line break or NUL: it could add a header: 1 recipient (b@example.com)'
    assert_contains "$stderr" "the message cannot be built for 1 of 3 recipients"
    assert_eq "$(count campaigns)" 0
    assert_eq "$(count sends)" 0
    assert_eq "$(dumps)" 0 "messages sent (not even to a and c)"
}

@test "send unbuildable: a contact changed after the freeze is unbuildable, exit 65, reported; fixed, the next send mails it with the frozen template" {
    half_sent
    crun 65 send --template hi --list G
    assert_contains "$output" "campaign hi: sent 1, deferred 0, bounced 0, failed 0, skipped 0, uncertain 0, unbuildable 1 in "
    assert_contains "$output" "1 unbuildable; campaign sending"
    assert_contains "$stderr" "the message of 1 recipient could not be built"
    assert_eq "$(state_of b@example.com)" unbuildable
    assert_eq "$(state_of c@example.com)" sent
    assert_eq "$(count sends "state = 'unbuildable' AND last_text LIKE '%the subject contains a line break%'")" 1
    assert_eq "$(campaign_status hi)" sending "not done: b is owed its message"
    assert_eq "$(dumps)" 2
    # report NAME, JSON, --undelivered; report (all) with its columns
    crun 0 report hi --format json
    assert_eq "$(json_get "$output" unbuildable)" 1
    assert_eq "$(json_get "$output" failed)" 0
    assert_eq "$(json_get "$output" sent)" 2
    crun 0 report hi
    assert_contains "$output" "$(printf '%-22s %d' unbuildable 1)"
    crun 0 report hi --undelivered
    assert_contains "$output" "b@example.com"
    assert_contains "$output" "unbuildable"
    assert_contains "$output" "the subject contains a line break"
    crun 0 report
    assert_contains "$output" "FAILED UNBUILDABLE"
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "hi" { print $2, $5, $6, $10, $11 }')" "sending 3 2 0 1"
    # still broken: retried, unbuildable again, still 65
    crun 65 send --template hi --list G
    assert_contains "$stderr" "1 recipient whose message could not be built is queued again"
    assert_eq "$(state_of b@example.com)" unbuildable
    assert_eq "$(dumps)" 2
    # fixed contact: mailed once, with the frozen template
    fixed_b
    crun 0 send --template hi --list G
    assert_eq "$(state_of b@example.com)" sent
    assert_eq "$(copies b@example.com)" 1
    assert_eq "$(subject_of b@example.com)" "Subject: Hi Bobby"
    assert_eq "$(campaign_status hi)" done
    crun 0 report hi --format json
    assert_eq "$(json_get "$output" unbuildable)" 0
    assert_eq "$(json_get "$output" sent)" 3
    check_delivery hi
}

@test "send unbuildable: a fixed template is frozen again for the recipients left; the ones sent keep theirs" {
    half_sent
    crun 65 send --template hi --list G
    assert_eq "$(state_of b@example.com)" unbuildable
    printf 'Subject: Hello from Acme\n\n<p>hello</p>\n' >templates/hi.mustache
    crun 0 send --template hi --list G
    assert_contains "$stderr" "campaign hi: its template's files changed since it started"
    assert_eq "$(state_of b@example.com)" sent
    assert_eq "$(subject_of b@example.com)" "Subject: Hello from Acme"
    assert_eq "$(subject_of a@example.com)" "Subject: Hi Ann"
    assert_eq "$(copies b@example.com)" 1
    assert_eq "$(count campaigns "template_src LIKE '%Hello from Acme%'")" 1
    assert_eq "$(campaign_status hi)" done
}

@test "send unbuildable: a changed template that cannot be built for a recipient left changes nothing, exit 65" {
    half_sent
    crun 65 send --template hi --list G
    local before
    before=$(q "SELECT template_src FROM campaigns WHERE name = 'hi';")
    printf 'Subject: Hello {{city}}\n\n<p>hello</p>\n' >templates/hi.mustache
    crun 65 send --template hi --list G
    assert_contains "$stderr" 'templates/hi.mustache:1:7: field "city" is missing: 1 recipient (b@example.com)'
    assert_contains "$stderr" "nothing sent, nothing changed"
    assert_eq "$(state_of b@example.com)" unbuildable
    assert_eq "$(q "SELECT template_src FROM campaigns WHERE name = 'hi';")" "$before" "the frozen template"
    assert_eq "$(dumps)" 2
}

@test "send unbuildable: cancel takes the unbuildable recipients too" {
    half_sent
    crun 65 send --template hi --list G
    crun 0 cancel hi
    assert_eq "$(state_of b@example.com)" cancelled
    crun 0 send --template hi --list G
    assert_contains "$output" "campaign hi is cancelled: nothing to send"
}
