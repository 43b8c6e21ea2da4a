#!/usr/bin/env bats
# Issue 3, DKIM: `campaign dkim keygen`, and signatures checked by two
# independent verifiers, python3-dkim (dkim_verify.py) and
# opendkim-testmsg (opendkim_verify.sh), with the public keys served from
# the DNS records that keygen printed - no network.
#
# The signed samples are written by the unit-test binary (test_dkim with
# DKIM_SAMPLES_DIR) using the keys that `campaign dkim keygen` made:
# RSA, Ed25519 and dual signatures over messages with accents (UTF-8,
# quoted-printable), long and folded lines, hostile header values,
# repeated fields and an empty body.
#
#   CAMPAIGN_BIN      the binary (default build/asan/campaign)
#   UNIT_DIR          the unit-test binaries (default build/asan/tests/unit)
#   OPENDKIM_TESTMSG  opendkim-testmsg (default: the one in PATH, else
#                     /usr/sbin/opendkim-testmsg, outside a non-root PATH)
#
# opendkim-testmsg is one of the two verifiers, not an option: Debian's
# opendkim-tools, which scripts/install-deps installs.  Where it is missing
# every test that uses it fails, saying so; none passes or skips without it.

load lib

OPENDKIM_TESTMSG=${OPENDKIM_TESTMSG:-$(command -v opendkim-testmsg ||
    echo /usr/sbin/opendkim-testmsg)}
export OPENDKIM_TESTMSG

setup_file() {
    : "${UNIT_DIR:=$E2E_TOP/build/asan/tests/unit}"
    SAMPLES="$BATS_FILE_TMPDIR/samples"
    export SAMPLES
    mkdir -p "$SAMPLES"
    [ -x "$UNIT_DIR/test_dkim" ] || {
        echo "$UNIT_DIR/test_dkim missing (make build/asan/tests/unit/test_dkim)" >&2
        return 1
    }
    "$CAMPAIGN_BIN" dkim keygen --domain acme.example --selector rsa \
        --out "$SAMPLES/rsa.key" >"$SAMPLES/rsa.txt" || return 1
    "$CAMPAIGN_BIN" dkim keygen --domain acme.example --selector ed25519 \
        --algo ed25519 --out "$SAMPLES/ed25519.key" >"$SAMPLES/ed25519.txt" ||
        return 1
    DKIM_SAMPLES_DIR="$SAMPLES" "$UNIT_DIR/test_dkim" >"$SAMPLES/unit.log" 2>&1 || {
        grep -v '^ok' "$SAMPLES/unit.log" >&2
        return 1
    }
    if have_opendkim; then
        OPENDKIM_SHIM="$BATS_FILE_TMPDIR/opendkim_keyfile.so"
        export OPENDKIM_SHIM
        cc -shared -fPIC -o "$OPENDKIM_SHIM" \
            "$BATS_TEST_DIRNAME/opendkim_keyfile.c" -ldl || return 1
    fi
}

setup() {
    mkdir -p "$BATS_TEST_TMPDIR/w" && cd "$BATS_TEST_TMPDIR/w" || return 1
    DB="$BATS_TEST_TMPDIR/c.db"
}

# pyverify FILE... - dkim_verify.py with both records (one process: the
# dkim module takes a second or more to import).
pyverify() {
    run "$PY" "$BATS_TEST_DIRNAME/dkim_verify.py" \
        --txt "$SAMPLES/rsa.txt" --txt "$SAMPLES/ed25519.txt" "$@"
}

# odverify FILE... - opendkim_verify.sh with both records.
odverify() {
    run sh "$BATS_TEST_DIRNAME/opendkim_verify.sh" \
        --txt "$SAMPLES/rsa.txt" --txt "$SAMPLES/ed25519.txt" "$@"
}

have_opendkim() {
    command -v "$OPENDKIM_TESTMSG" >/dev/null
}

# need_opendkim - fail (not skip, not pass) when opendkim-testmsg is missing.
need_opendkim() {
    have_opendkim ||
        fail "opendkim-testmsg not found ($OPENDKIM_TESTMSG): run ./scripts/install-deps (Debian package opendkim-tools)"
}

# results PASS FAIL - the last verifier run printed PASS lines ending in
# ": pass" and FAIL lines with "FAIL", and nothing else.
results() {
    local p f n
    # grep -c exits 1 when it counts 0
    p=$(printf '%s\n' "$output" | grep -c ': pass$' || :)
    f=$(printf '%s\n' "$output" | grep -c 'FAIL' || :)
    n=$(printf '%s\n' "$output" | grep -c . || :)
    assert_eq "$p" "$1" "lines that pass ($output)"
    assert_eq "$f" "$2" "lines that FAIL ($output)"
    assert_eq "$n" "$(($1 + $2))" "lines ($output)"
}

# record_strings RECORD - the quoted strings of a zone line, one a line.
record_strings() {
    printf '%s\n' "$1" | grep -o '"[^"]*"' | tr -d '"'
}

# tampered variants of a sample, CRLF kept
prepend() { { printf '%s\r\n' "$1"; cat "$2"; } >"$3"; }
append() { { cat "$2"; printf '%s\r\n' "$1"; } >"$3"; }

# the 18 samples: 6 messages, each signed RSA, Ed25519 and dual
MESSAGES="basic accents longlines hostile repeated emptybody"
samples() {
    local k m
    for k in rsa ed25519 dual; do
        for m in $MESSAGES; do
            printf '%s\n' "$SAMPLES/$k-$m.eml"
        done
    done
}

@test "dkim keygen rsa: 0600 PKCS#8 key, TXT record in strings <= 255 octets matching it" {
    crun 0 dkim keygen --domain acme.example --selector s2026
    local key=s2026.acme.example.key rec=${lines[0]} p s
    [ -f "$key" ] || fail "no $key"
    assert_eq "$(stat -c %a "$key")" 600 "key mode"
    assert_eq "$(head -n 1 "$key")" "-----BEGIN PRIVATE KEY-----" "PEM type"
    local re='^s2026\._domainkey\.acme\.example\. IN TXT \( "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+" "[A-Za-z0-9+/=]+" \)$'
    [[ $rec =~ $re ]] || fail "record: $rec"
    while read -r s; do
        [ "${#s}" -le 255 ] || fail "a string of ${#s} octets: $s"
    done < <(record_strings "$rec")
    p=$(record_strings "$rec" | tr -d '\n')
    p=${p#*p=}
    assert_eq "$p" "$(openssl pkey -in "$key" -pubout -outform DER | base64 -w 0)" "p="
    assert_eq "$(openssl pkey -in "$key" -noout -text | head -n 1)" \
        "Private-Key: (2048 bit, 2 primes)" "default key size"
    assert_contains "$output" "domain = acme.example"
    assert_contains "$output" "selector = s2026"
    assert_contains "$output" "key_file = $PWD/s2026.acme.example.key"
    # everything else on stdout is a zone-file comment
    assert_eq "$(printf '%s\n' "${lines[@]:1}" | grep -vc '^;')" 0 "non-comment lines"
}

@test "dkim keygen ed25519: k=ed25519, p= is the raw 32-byte public key" {
    crun 0 dkim keygen --domain acme.example --selector ed --algo ed25519
    local key=ed.acme.example.key rec=${lines[0]} p
    assert_eq "$(stat -c %a "$key")" 600 "key mode"
    assert_eq "$(head -n 1 "$key")" "-----BEGIN PRIVATE KEY-----" "PEM type"
    local re='^ed\._domainkey\.acme\.example\. IN TXT \( "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=" \)$'
    [[ $rec =~ $re ]] || fail "record: $rec"
    p=$(record_strings "$rec")
    p=${p#*p=}
    assert_eq "$p" "$(openssl pkey -in "$key" -pubout -outform DER | tail -c 32 | base64 -w 0)" "p="
}

@test "dkim keygen --out FILE --bits 1024: the file and size asked for" {
    crun 0 dkim keygen --domain mail.acme.example --selector old --bits 1024 --out k.pem
    assert_eq "$(stat -c %a k.pem)" 600 "key mode"
    assert_eq "$(openssl pkey -in k.pem -noout -text | head -n 1)" \
        "Private-Key: (1024 bit, 2 primes)" "key size"
    assert_contains "${lines[0]}" 'old._domainkey.mail.acme.example. IN TXT ( "v=DKIM1; k=rsa; p='
    assert_contains "$output" "key_file = $PWD/k.pem"
    [ ! -e old.mail.acme.example.key ] || fail "default file written too"
}

@test "dkim keygen never overwrites: exit 73, key unchanged, no temporary left" {
    crun 0 dkim keygen --domain acme.example --selector s --algo ed25519
    local before
    before=$(sha256sum s.acme.example.key)
    crun 73 dkim keygen --domain acme.example --selector s --algo ed25519
    assert_contains "$stderr" "s.acme.example.key"
    assert_contains "$stderr" "not overwritten"
    assert_eq "$output" "" "stdout"
    crun 73 dkim keygen --domain acme.example --selector x --out s.acme.example.key
    assert_eq "$(sha256sum s.acme.example.key)" "$before" "key file"
    assert_eq "$(ls)" "s.acme.example.key" "directory"
    crun 73 dkim keygen --domain acme.example --selector s --out no/such/dir/k
}

@test "dkim keygen usage errors exit 64 and write nothing" {
    local args
    while IFS= read -r args; do
        # shellcheck disable=SC2086
        crun 64 dkim keygen $args
    done <<'EOF'
--selector s
--domain acme.example
--domain acme.example --selector s --algo dsa
--domain acme.example --selector s --bits 512
--domain acme.example --selector s --bits 2048x
--domain acme.example --selector s --algo ed25519 --bits 2048
--domain acme..example --selector s
--domain acme.example --selector s;x
--domain acme.example --selector s extra
--domain acme.example --selector s --frobnicate
EOF
    crun 64 dkim keygen --domain "acme example" --selector s
    crun 64 dkim keygen --domain "città.it" --selector s
    assert_eq "$(ls)" "" "directory"
    crun 0 dkim keygen --help
    assert_contains "$output" "usage: campaign dkim keygen"
}

@test "the samples' signatures: relaxed/relaxed, t=, no l=, From over-signed, folded <= 78" {
    local f
    for f in "$SAMPLES"/dual-basic.eml "$SAMPLES"/dual-hostile.eml; do
        run "$PY" - "$f" <<'EOF'
import re, sys
msg = open(sys.argv[1], "rb").read()
head = msg.split(b"\r\n\r\n", 1)[0]
assert b"\n" not in head.replace(b"\r\n", b""), "bare LF"
fields = re.split(rb"\r\n(?![ \t])", head)
sigs = [f for f in fields if f.lower().startswith(b"dkim-signature:")]
assert len(sigs) == 2, len(sigs)
for s in sigs:
    for line in s.split(b"\r\n"):
        assert len(line) <= 78, line
    tags = dict(t.strip().split(b"=", 1) for t in
                re.sub(rb"\s", b"", s.split(b":", 1)[1]).split(b";") if t)
    assert b"l" not in tags, "l= present"
    assert tags[b"c"] == b"relaxed/relaxed", tags[b"c"]
    assert tags[b"t"].isdigit()
    h = [x.lower() for x in tags[b"h"].split(b":")]
    assert h.count(b"from") == 2, h
    for name in (b"subject", b"date", b"message-id", b"to",
                 b"list-unsubscribe", b"list-unsubscribe-post"):
        assert name in h, name
print([s.split(b";")[1].strip().decode() for s in sigs])
EOF
        expect_status 0
        assert_contains "$output" "a=rsa-sha256"
        assert_contains "$output" "a=ed25519-sha256"
    done
}

@test "python3-dkim verifies every sample: RSA, Ed25519, and each of the dual signatures" {
    mapfile -t files < <(samples)
    pyverify "${files[@]}"
    expect_status 0
    results 24 0
    assert_eq "$(printf '%s\n' "$output" | grep -c 'dual-.*a=ed25519-sha256: pass$')" 6 \
        "dual Ed25519 signatures passed"
}

@test "opendkim-testmsg verifies every sample, each key alone" {
    need_opendkim || return 1
    mapfile -t files < <(samples)
    odverify "${files[@]}"
    expect_status 0
    results 24 0
}

@test "two To fields: python3-dkim verifies, opendkim refuses the message itself" {
    pyverify "$SAMPLES/dual-twoto.eml"
    expect_status 0
    results 2 0
    need_opendkim || return 1
    # RFC 5322 3.6 allows one To; libopendkim rejects the message as a
    # syntax error before looking at any signature
    odverify "$SAMPLES/dual-twoto.eml"
    expect_status 1
    results 0 2
    assert_contains "$output" "Syntax error"
}

@test "python3-dkim verifies random hostile messages signed by test_dkim" {
    # folds, WSP runs, raw 8-bit and control bytes, empty values, repeated
    # fields, fake DKIM-Signature fields below ours; only ours (the top
    # one, signature 0) is checked.  Not opendkim: it refuses many of them
    # outright (repeated From/To/Subject, no Date: RFC 5322 3.6).
    local files
    mapfile -t files < <(ls "$SAMPLES"/random-*.eml)
    [ "${#files[@]}" -ge 30 ] || fail "only ${#files[@]} random samples"
    run "$PY" "$BATS_TEST_DIRNAME/dkim_verify.py" --txt "$SAMPLES/random.txt" "${files[@]}"
    assert_eq "$(printf '%s\n' "$output" | grep -c 'signature 0 d=acme.example s=ed25519 a=ed25519-sha256: pass$' || :)" \
        "${#files[@]}" "random messages whose signature 0 passed ($output)"
}

@test "a prepended second From fails in both verifiers (RSA, Ed25519, dual)" {
    local k m
    for k in rsa ed25519 dual; do
        for m in basic accents hostile; do
            prepend "From: Acme Billing <billing@evil.example>" \
                "$SAMPLES/$k-$m.eml" "$k-$m.eml"
        done
    done
    pyverify ./*.eml
    expect_status 1
    results 0 12
    need_opendkim || return 1
    odverify ./*.eml
    expect_status 1
    results 0 12
}

@test "a prepended second List-Unsubscribe fails in both: over-signing, not a syntax rule" {
    local k
    for k in rsa ed25519 dual; do
        prepend "List-Unsubscribe: <https://evil.example/u>" \
            "$SAMPLES/$k-basic.eml" "$k.eml"
    done
    pyverify ./*.eml
    expect_status 1
    results 0 4
    need_opendkim || return 1
    odverify ./*.eml
    expect_status 1
    results 0 4
    # a signature failure (with only the other key published, the dual
    # message reports the unverifiable first signature: "No key")
    assert_eq "$(printf '%s\n' "$output" | grep -c 'Bad signature')" 3 \
        "opendkim: Bad signature ($output)"
    assert_not_contains "$output" "Syntax error"
}

@test "appended body text fails in both verifiers (RSA, Ed25519, dual)" {
    local k m
    for k in rsa ed25519 dual; do
        for m in basic accents longlines emptybody; do
            append "P.S. Wire the money to IBAN XX00 0000" \
                "$SAMPLES/$k-$m.eml" "$k-$m.eml"
        done
    done
    pyverify ./*.eml
    expect_status 1
    results 0 16
    assert_eq "$(printf '%s\n' "$output" | grep -c 'body hash mismatch')" 16 \
        "body hash mismatches"
    need_opendkim || return 1
    odverify ./*.eml
    expect_status 1
    results 0 16
}

@test "control: unsigned fields added in transit and trailing blank lines still verify" {
    local k m
    for k in rsa ed25519 dual; do
        for m in hostile accents; do
            prepend "Received: from relay.example by mx.example; Sat, 28 Nov 2026 09:00:01 +0000" \
                "$SAMPLES/$k-$m.eml" t0
            prepend "Authentication-Results: mx.example; spf=pass" t0 t1
            append "" t1 "$k-$m.eml"
        done
    done
    rm t0 t1
    pyverify ./*.eml
    expect_status 0
    results 8 0
    need_opendkim || return 1
    odverify ./*.eml
    expect_status 0
    results 8 0
}

@test "a signature checked against the other key's record fails" {
    # the Ed25519 record published under the RSA selector
    sed 's/^ed25519\._domainkey/rsa._domainkey/' "$SAMPLES/ed25519.txt" >swapped.txt
    run "$PY" "$BATS_TEST_DIRNAME/dkim_verify.py" --txt swapped.txt "$SAMPLES/rsa-basic.eml"
    expect_status 1
    results 0 1
    need_opendkim || return 1
    run sh "$BATS_TEST_DIRNAME/opendkim_verify.sh" --txt swapped.txt "$SAMPLES/rsa-basic.eml"
    expect_status 1
    results 0 1
}
