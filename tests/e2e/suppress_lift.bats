#!/usr/bin/env bats
# Issue 9 (part): `campaign suppress lift EMAIL... --reason bounced|manual`
# undoes a suppression recorded by mistake (a bounce that was the relay
# refusing the sender), explicitly and logged; an unsubscribe or a
# complaint, the person's own word, is never lifted; all or nothing.

load lib
load send_lib

teardown() {
    send_teardown
}

@test "suppress lift: a bounced address is mailable again, and the next campaign mails it" {
    list_of ann@example.com ben@example.com
    crun 0 optout ann@example.com --reason bounced
    assert_eq "$(status_of ann@example.com)" bounced
    crun 0 suppress lift ann@example.com --reason bounced
    assert_eq "$output" "lifted 1"
    assert_contains "$stderr" "suppression lifted: ann@example.com (was bounced)"
    assert_eq "$(status_of ann@example.com)" active
    assert_eq "$(count suppressions)" 0
    start_sink
    write_conf "$SINK_PORT"
    send_status 0
    assert_eq "$(states)" "sent 2"
    assert_eq "$(copies ann@example.com)" 1
}

@test "suppress lift: an unsubscribe, a complaint, another reason or an unknown address lifts nothing" {
    list_of ann@example.com ben@example.com cid@example.com dan@example.com
    crun 0 optout ann@example.com
    crun 0 optout ben@example.com --reason complained
    crun 0 optout cid@example.com --reason bounced
    # --reason unsubscribed or complained: never
    crun 64 suppress lift ann@example.com --reason unsubscribed
    assert_contains "$stderr" "never lifted"
    crun 64 suppress lift ben@example.com --reason complained
    # the reason must be the one recorded; one bad address stops them all
    crun 65 suppress lift cid@example.com ann@example.com --reason bounced
    assert_contains "$stderr" "ann@example.com is suppressed as unsubscribed"
    assert_eq "$(status_of cid@example.com)" bounced "nothing lifted"
    crun 65 suppress lift dan@example.com --reason bounced
    assert_contains "$stderr" "dan@example.com is not suppressed"
    crun 64 suppress lift cid@example.com
    assert_eq "$(count suppressions)" 3
    assert_eq "$(status_of ann@example.com)" unsubscribed
    assert_eq "$(status_of ben@example.com)" complained
}
