#!/usr/bin/env bats
# Issue 8: a campaign freezes its template files when it starts (the
# template, its text part, the partials and the layout it uses); a resumed
# run sends the same message whatever happened to the files since, and the
# frozen files are what `campaign serve` renders the web view from.

load lib
load send_lib

setup() {
    campaign_setup
    cp -r "$TEMPLATES" "$BATS_TEST_TMPDIR/tpl"
}

teardown() {
    send_teardown
}

# subjects - the decoded Subject of every message smtp-sink received,
# sorted.
subjects() {
    "$PY" -c '
import email, glob, sys
from email import policy
out = []
for f in glob.glob(sys.argv[1] + "/m.*"):
    with open(f, "rb") as fh:
        m = email.message_from_binary_file(fh, policy=policy.default)
    if m["Subject"] is not None:
        out.append(str(m["Subject"]))
print("\n".join(sorted(out)))
' "$SINK_DUMP"
}

@test "send frozen: a resume sends the template the campaign started with, not today's files" {
    list_of ann@example.com bob@example.com carl@example.com
    start_sink
    write_conf "$SINK_PORT"
    crun 0 --templates "$BATS_TEST_TMPDIR/tpl" send --template promo --list news --max 1
    assert_eq "$(q "SELECT template_src IS NOT NULL FROM campaigns WHERE name = 'promo';")" 1 "template frozen"
    for f in promo.mustache partials/layout.mustache partials/footer.mustache; do
        assert_contains "$(q "SELECT template_src FROM campaigns WHERE name = 'promo';")" "\"$f\"" "frozen files"
    done
    first=$(subjects)
    # today's files change: the subject, the layout, the footer partial
    sed -i 's/^Subject: .*/Subject: CHANGED {{first_name}}/' "$BATS_TEST_TMPDIR/tpl/promo.mustache"
    printf 'CHANGED LAYOUT {{$content}}{{/content}}\n' >"$BATS_TEST_TMPDIR/tpl/partials/layout.mustache"
    printf 'CHANGED FOOTER\n' >"$BATS_TEST_TMPDIR/tpl/partials/footer.mustache"
    crun 0 --templates "$BATS_TEST_TMPDIR/tpl" send --template promo --list news
    assert_eq "$(states)" "sent 3"
    assert_not_contains "$(subjects)" CHANGED "subjects after the resume"
    assert_eq "$(subjects | wc -l)" 3
    assert_eq "$(grep -l CHANGED "$SINK_DUMP"/m.* 2>/dev/null | wc -l)" 0 "messages holding the changed files"
    # the first message and the others came from the same template
    assert_contains "$(subjects)" "$first"
    # a new campaign takes today's files
    crun 0 --templates "$BATS_TEST_TMPDIR/tpl" send --template promo --list news --campaign second
    assert_eq "$(subjects | grep -c '^CHANGED ')" 3 "the new campaign's subjects"
}

@test "send frozen: a campaign started before templates were frozen freezes them on its next run" {
    list_of ann@example.com bob@example.com
    start_sink
    write_conf "$SINK_PORT"
    crun 0 --templates "$BATS_TEST_TMPDIR/tpl" send --template promo --list news --max 1
    q "UPDATE campaigns SET template_src = NULL;"
    crun 0 --templates "$BATS_TEST_TMPDIR/tpl" send --template promo --list news
    assert_eq "$(states)" "sent 2"
    assert_eq "$(q "SELECT template_src IS NOT NULL FROM campaigns;")" 1
}
