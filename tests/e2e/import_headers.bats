#!/usr/bin/env bats
# Issue 2: header mapping - the email column found by name, attribute names
# normalised, Mailchimp and listmonk exports imported as they come.

load lib

@test "headers: the email column is found by its usual names, in any case" {
    local hdr ncase=0
    for hdr in email Email EMAIL E-mail e-mail E-Mail 'Email Address' 'email address' \
        mail Mail MAIL email_address Email_Address ' Email '; do
        ncase=$((ncase + 1))
        printf '"%s",Name\nperson%d@example.com,P%d\n' "$hdr" "$ncase" "$ncase" >"h$ncase.csv"
        crun 0 import "h$ncase.csv" || fail "header [$hdr]" || return 1
        assert_output "$(summary 1 0 0 0)" || fail "header [$hdr]" || return 1
        assert_eq "$(attrs "person$ncase@example.com")" "name=P$ncase" "attributes with header [$hdr]" || return 1
    done
    assert_eq "$(count contacts)" 14
}

@test "headers: the email column need not be first" {
    printf 'First Name,Last Name,E-mail,City\nAnn,Lee,ann@example.com,Rome\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 1 0 0 0)"
    assert_eq "$(attrs ann@example.com)" $'city=Rome\nfirst_name=Ann\nlast_name=Lee'
}

@test "headers: attribute names are lower-cased, spaces and punctuation to _" {
    printf '%s\n' \
        'Email,First Name,Last-Name,ZIP Code,a.b/c,Company (HQ),CamelCase' \
        'n@example.com,1,2,3,4,5,6' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 1 0 0 0)"
    run attrs n@example.com
    assert_eq "$(printf '%s\n' "${lines[@]}" | cut -d= -f1 | tr '\n' ' ')" \
        'a_b_c camelcase company_hq first_name last_name zip_code '
    assert_eq "$(attr n@example.com first_name)" 1
    assert_eq "$(attr n@example.com last_name)" 2
    assert_eq "$(attr n@example.com zip_code)" 3
    assert_eq "$(attr n@example.com a_b_c)" 4
    assert_eq "$(attr n@example.com company_hq)" 5
    assert_eq "$(attr n@example.com camelcase)" 6
}

@test "headers: non-ASCII header letters are lower-cased too (CITTÀ and Città are one attribute)" {
    printf 'Email,CITTÀ,ÉTAT\nu@example.com,Roma,ok\n' >a.csv
    printf 'Email,Città,État\nv@example.com,Milano,ok\n' >b.csv
    crun 0 import a.csv
    crun 0 import b.csv
    assert_eq "$(attrs u@example.com)" $'città=Roma\nétat=ok'
    assert_eq "$(attrs v@example.com)" $'città=Milano\nétat=ok'
}

@test "headers: two columns whose names normalise alike both keep their values" {
    printf 'email,Tag,TAG\nt@example.com,first,second\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 1 0 0 0)"
    assert_eq "$(q "SELECT count(*) FROM contacts, json_each(attrs) WHERE email = 't@example.com';")" 2
    assert_eq "$(q "SELECT group_concat(value, ' ') FROM (SELECT value FROM contacts, json_each(attrs) WHERE email = 't@example.com' ORDER BY value);")" 'first second'
}

@test "headers: no email column is exit 65 naming the headers seen, DB unchanged" {
    printf 'Name,Phone,Primary Contact\nAnn,555,yes\n' >in.csv
    dump before.sql
    crun 65 import in.csv
    assert_eq "$output" ""
    assert_contains "$stderr" "in.csv:1:"
    assert_contains "$stderr" '"Name"'
    assert_contains "$stderr" '"Phone"'
    assert_contains "$stderr" '"Primary Contact"'
    dump after.sql
    same_file before.sql after.sql
}

@test "headers: a header-only file imports nothing and succeeds" {
    printf 'email,name\r\n' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 0 0 0 0)"
    assert_eq "$(count contacts)" 0
}

@test "headers: an empty file is exit 65 (no header line)" {
    : >in.csv
    crun 65 import in.csv
    assert_contains "$stderr" "in.csv"
    assert_eq "$(count contacts)" 0
}

@test "mailchimp: subscribed export imports as it comes, all active" {
    cp "$E2E_DATA/mailchimp_subscribed.csv" .
    crun 0 import mailchimp_subscribed.csv
    assert_output "$(summary 3 0 0 0)"
    assert_eq "$(emails)" $'alice@example.com\nbob.baker@example.org\nchloe@example.net'
    assert_eq "$(q "SELECT group_concat(DISTINCT status) FROM contacts;")" active
    assert_eq "$(count suppressions)" 0
    assert_eq "$(attr alice@example.com first_name)" Alice
    assert_eq "$(attr alice@example.com last_name)" Archer
    assert_eq "$(attr alice@example.com address)" '123 Main St  Springfield IL 62701 US'
    assert_eq "$(attr alice@example.com phone_number)" 555-0100
    assert_eq "$(attr alice@example.com member_rating)" 2
    assert_eq "$(attr alice@example.com tags)" '"VIP","Newsletter"'
    assert_eq "$(attr bob.baker@example.org notes)" 'Met at the fair, 2019'
    assert_eq "$(attr bob.baker@example.org timezone)" 'Europe/Rome'
    assert_eq "$(attr chloe@example.net first_name)" 'Chloé'
    assert_eq "$(attr chloe@example.net last_name)" 'Ćurić'
    # empty Mailchimp columns leave no attribute behind
    assert_eq "$(attr chloe@example.net address)" ''
    assert_eq "$(q "SELECT count(*) FROM contacts, json_each(attrs) WHERE email = 'chloe@example.net';")" 7
}

@test "mailchimp: unsubscribed export (non-empty UNSUB_TIME) imports as suppressed" {
    cp "$E2E_DATA/mailchimp_unsubscribed.csv" .
    crun 0 import mailchimp_unsubscribed.csv
    assert_contains "$output" "$(summary 2 0 0 0)"
    assert_eq "$(status_of dave@example.com)" unsubscribed
    assert_eq "$(status_of alice@example.com)" unsubscribed
    assert_eq "$(q "SELECT email, reason FROM suppressions ORDER BY email;")" \
        $'alice@example.com|unsubscribed\ndave@example.com|unsubscribed'
    assert_eq "$(attr dave@example.com unsub_reason)" 'No longer interested in this content'
    crun 0 contacts show dave@example.com --format json
    assert_eq "$(json_get "$output" suppression reason)" unsubscribed
}

@test "mailchimp: cleaned export (non-empty CLEAN_TIME) imports as suppressed (bounced)" {
    cp "$E2E_DATA/mailchimp_cleaned.csv" .
    crun 0 import mailchimp_cleaned.csv
    assert_contains "$output" "$(summary 1 0 0 0)"
    assert_eq "$(status_of erin@example.com)" bounced
    assert_eq "$(q "SELECT email, reason FROM suppressions;")" 'erin@example.com|bounced'
}

@test "mailchimp: an empty UNSUB_TIME or CLEAN_TIME does not suppress" {
    printf '"Email Address","First Name",UNSUB_TIME,CLEAN_TIME\nok@example.com,Ok,,\n"gone@example.com",Gone,"2021-01-01 00:00:00",\n' >in.csv
    crun 0 import in.csv
    assert_contains "$output" "$(summary 2 0 0 0)"
    assert_eq "$(status_of ok@example.com)" active
    assert_eq "$(status_of gone@example.com)" unsubscribed
    assert_eq "$(count suppressions)" 1
}

@test "mailchimp: subscribed then unsubscribed export - the later opt-out wins and sticks" {
    cp "$E2E_DATA"/mailchimp_*.csv .
    crun 0 import mailchimp_subscribed.csv
    crun 0 import mailchimp_unsubscribed.csv
    assert_eq "$(status_of alice@example.com)" unsubscribed
    # importing the old subscribed export again does not lift it
    crun 0 import mailchimp_subscribed.csv
    assert_eq "$(status_of alice@example.com)" unsubscribed
    assert_eq "$(status_of bob.baker@example.org)" active
    assert_eq "$(count suppressions "email = 'alice@example.com'")" 1
}

@test "listmonk: export headers import; attributes JSON merged with its types" {
    cp "$E2E_DATA/listmonk_export.csv" .
    crun 0 import listmonk_export.csv
    assert_contains "$output" "$(summary 3 0 0 0)"
    assert_eq "$(emails)" $'john@example.com\nquiet@example.com\nspammer@example.com'
    assert_eq "$(attr john@example.com name)" 'John Doe'
    assert_eq "$(attr john@example.com city)" Bengaluru
    assert_eq "$(q "SELECT json_type(attrs, '\$.projects'), json_extract(attrs, '\$.projects') FROM contacts WHERE email = 'john@example.com';")" 'integer|3'
    assert_eq "$(q "SELECT json_extract(attrs, '\$.stack') FROM contacts WHERE email = 'john@example.com';")" '{"languages":["go","python"]}'
    assert_eq "$(q "SELECT json_type(attrs, '\$.vip'), json_extract(attrs, '\$.score') FROM contacts WHERE email = 'quiet@example.com';")" 'true|4.5'
    # the JSON column itself is not kept as a string attribute
    assert_eq "$(q "SELECT count(*) FROM contacts WHERE json_type(attrs, '\$.attributes') IS NOT NULL;")" 0
    assert_eq "$(attr john@example.com uuid)" 3c4e3b54-5b1e-4c3a-9d0e-1f2a3b4c5d6e
}

@test "listmonk: status=blocklisted imports as suppressed, enabled/disabled stay mailable" {
    cp "$E2E_DATA/listmonk_export.csv" .
    crun 0 import listmonk_export.csv
    assert_eq "$(status_of john@example.com)" active
    assert_eq "$(status_of quiet@example.com)" active
    # README: a blocklisted listmonk row is an opt-out (unsubscribed)
    assert_eq "$(status_of spammer@example.com)" unsubscribed
    assert_eq "$(q "SELECT reason FROM suppressions WHERE email = 'spammer@example.com';")" unsubscribed
    assert_eq "$(count suppressions)" 1
    crun 0 contacts show spammer@example.com --format json
    assert_eq "$(json_get "$output" status)" unsubscribed
    assert_eq "$(json_get "$output" suppression reason)" unsubscribed
}

@test "listmonk: an attributes cell that is not a JSON object rejects the row" {
    printf '%s\n' 'uuid,email,name,attributes,status,created_at,updated_at' \
        'u1,a@example.com,A,"{broken",enabled,x,y' \
        'u2,b@example.com,B,"[1,2]",enabled,x,y' \
        'u3,c@example.com,C,"{""k"": ""v""}",enabled,x,y' >in.csv
    crun 0 import in.csv
    assert_output "$(summary 1 0 0 2)"
    assert_eq "$(emails)" c@example.com
    assert_eq "$(attr c@example.com k)" v
    assert_contains "${stderr_lines[0]}" "in.csv:2: "
    assert_contains "${stderr_lines[1]}" "in.csv:3: "
}
