#!/usr/bin/env bats
# Issue 4: the SMTP client (engine/smtp.c, engine/tls.c) against a real
# server: aiosmtpd (tests/e2e/smtp_server.py) with STARTTLS, implicit TLS
# and AUTH, certificates made here with openssl.  The client is driven by
# the live mode of the unit-test binary (tests/unit/test_smtp.c,
# SMTP_TEST_* variables) until `campaign send` exists.
#
# Servers (loopback, kernel-chosen ports, stopped by pid):
#   good     STARTTLS, leaf for localhost/127.0.0.1 from our CA, AUTH,
#            PIPELINING
#   other    STARTTLS, leaf for mail.other.example only (name mismatch)
#   expired  STARTTLS, expired leaf from our CA
#   smtps    implicit TLS, the good leaf, AUTH
#   plain    no TLS at all (STARTTLS "stripped"), AUTH allowed in clear

load lib

: "${UNIT_DIR:=$E2E_TOP/build/asan/tests/unit}"
SMTP_BIN="$UNIT_DIR/test_smtp"
USER_NAME=mailer
PASSWORD='s3cret pass'

# cert NAME CN SAN DAYS - a key and a leaf certificate signed by our CA
# (DAYS -1: already expired).
cert() {
    local d=$BATS_FILE_TMPDIR
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/$1.key" -out "$d/$1.csr" -subj "/CN=$2" 2>/dev/null &&
        printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
            "$3" >"$d/$1.ext" &&
        openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -days "$4" -out "$d/$1.pem" -extfile "$d/$1.ext" 2>/dev/null
}

# serve NAME ARGS... - start smtp_server.py in the background; pid in
# NAME.pid, port (once listening) in NAME.port.
serve() {
    local name=$1 d=$BATS_FILE_TMPDIR
    shift
    mkdir -p "$d/$name.mail"
    "$PY" "$E2E_TOP/tests/e2e/smtp_server.py" --port-file "$d/$name.port" \
        --maildir "$d/$name.mail" "$@" >"$d/$name.log" 2>&1 &
    echo $! >"$d/$name.pid"
}

# listening NAME... - wait (at most 15 s) until every server has a port.
listening() {
    local d=$BATS_FILE_TMPDIR name
    for name in "$@"; do
        for _ in $(seq 150); do
            [ -s "$d/$name.port" ] && break
            sleep 0.1
        done
        [ -s "$d/$name.port" ] || {
            echo "server $name did not start:" >&2
            cat "$d/$name.log" >&2
            return 1
        }
    done
}

setup_file() {
    local d=$BATS_FILE_TMPDIR
    [ -x "$SMTP_BIN" ] || {
        echo "$SMTP_BIN missing (make build/asan/tests/unit/test_smtp)" >&2
        return 1
    }
    for ca in ca wrongca; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout "$d/$ca.key" -out "$d/$ca.pem" -days 2 \
            -subj "/CN=campaign test $ca" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || return 1
    done
    cert good localhost "DNS:localhost,IP:127.0.0.1" 2 || return 1
    cert other mail.other.example "DNS:mail.other.example" 2 || return 1
    cert expired localhost "DNS:localhost,IP:127.0.0.1" -1 || return 1
    serve good --mode starttls --cert "$d/good.pem" --key "$d/good.key" \
        --user "$USER_NAME" --password "$PASSWORD" --pipelining
    serve other --mode starttls --cert "$d/other.pem" --key "$d/other.key"
    serve expired --mode starttls --cert "$d/expired.pem" --key "$d/expired.key"
    serve smtps --mode smtps --cert "$d/good.pem" --key "$d/good.key" \
        --user "$USER_NAME" --password "$PASSWORD"
    serve plain --mode plain --user "$USER_NAME" --password "$PASSWORD"
    listening good other expired smtps plain
}

teardown_file() {
    local f pid
    for f in "$BATS_FILE_TMPDIR"/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
}

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
}

port() { cat "$BATS_FILE_TMPDIR/$1.port"; }
mails() { ls "$BATS_FILE_TMPDIR/$1.mail" | grep -c '\.eml$' || true; }

# live SERVER VAR=VALUE... - one client session against SERVER; TAP lines
# in $output, the transcript in $stderr.  Exit status 0 = every check of
# the live mode passed.
live() {
    local server=$1
    shift
    run --separate-stderr timeout 60 env \
        SMTP_TEST_PORT="$(port "$server")" \
        SMTP_TEST_CA="$BATS_FILE_TMPDIR/ca.pem" "$@" "$SMTP_BIN"
    no_sanitizer_report || return 1
    if [ "$status" -ne 0 ]; then
        fail "live run failed ($status)" "--- stdout:" "$output" \
            "--- stderr:" "${stderr:-}"
    fi
}

@test "smtp tls: STARTTLS, chain and IP address verified, two messages delivered intact" {
    local before
    before=$(mails good)
    live good SMTP_TEST_EXPECT=none SMTP_TEST_COUNT=2
    assert_contains "$stderr" "> STARTTLS"
    assert_contains "$stderr" "(certificate verified)"
    [ "$(printf '%s\n' "$stderr" | grep -c '> EHLO ')" -eq 2 ] ||
        fail "EHLO not sent again after STARTTLS:" "$stderr"
    assert_eq "$(mails good)" "$((before + 2))" "messages delivered"
    # the body came through unchanged: dot-stuffed on the wire, unstuffed
    # by the server, "\r\n.\r\n" inside it kept as data
    local last
    last=$(ls "$BATS_FILE_TMPDIR/good.mail" | grep '\.eml$' | sort -n | tail -1)
    py 'import sys
want = b"From: a@x.test\r\nTo: rcpt@example.test\r\nSubject: live\r\n\r\nline one\r\n.dot line\r\n\r\n.\r\nlast\r\n"
got = open(sys.argv[1], "rb").read()
sys.exit(0 if got == want else "body differs: %r" % got)' "$BATS_FILE_TMPDIR/good.mail/$last"
    grep -qx 'tls True' "$BATS_FILE_TMPDIR/good.mail/${last%.eml}.env"
}

@test "smtp tls: host name verified through SNI (localhost)" {
    live good SMTP_TEST_HOST=localhost SMTP_TEST_EXPECT=none SMTP_TEST_COUNT=1
    assert_contains "$stderr" "(certificate verified)"
}

@test "smtp tls: wrong CA fails closed naming the certificate problem" {
    live good SMTP_TEST_CA="$BATS_FILE_TMPDIR/wrongca.pem" SMTP_TEST_EXPECT=tls \
        SMTP_TEST_ERR="certificate verification failed: unable to get local issuer certificate"
    assert_not_contains "$stderr" "> MAIL FROM"
}

@test "smtp tls: system CA store (no ca_file) rejects our private CA" {
    live good SMTP_TEST_CA= SMTP_TEST_EXPECT=tls \
        SMTP_TEST_ERR="certificate verification failed"
}

@test "smtp tls: certificate for another name fails closed (IP and host name)" {
    live other SMTP_TEST_EXPECT=tls \
        SMTP_TEST_ERR="certificate verification failed: IP address mismatch"
    live other SMTP_TEST_HOST=localhost SMTP_TEST_EXPECT=tls \
        SMTP_TEST_ERR="certificate verification failed: hostname mismatch"
}

@test "smtp tls: expired certificate fails closed" {
    live expired SMTP_TEST_EXPECT=tls \
        SMTP_TEST_ERR="certificate verification failed: certificate has expired"
}

@test "smtp tls: tls_verify off accepts an unverifiable certificate, and says so" {
    live other SMTP_TEST_VERIFY=0 SMTP_TEST_CA="$BATS_FILE_TMPDIR/wrongca.pem" \
        SMTP_TEST_EXPECT=none SMTP_TEST_COUNT=1
    assert_contains "$stderr" "(certificate NOT verified)"
}

@test "smtp tls: AUTH PLAIN inside STARTTLS (offered only after TLS), password never shown" {
    local before
    before=$(mails good)
    live good SMTP_TEST_USER="$USER_NAME" SMTP_TEST_PASSWORD="$PASSWORD" \
        SMTP_TEST_EXPECT=none SMTP_TEST_COUNT=1
    assert_contains "$stderr" "> AUTH PLAIN <redacted>"
    assert_contains "$stderr" "< 235 "
    assert_not_contains "$stderr" "$PASSWORD"
    assert_not_contains "$stderr" "$(printf '\0%s\0%s' "$USER_NAME" "$PASSWORD" | base64)"
    assert_eq "$(mails good)" "$((before + 1))"
    local last
    last=$(ls "$BATS_FILE_TMPDIR/good.mail" | grep '\.env$' | sort -n | tail -1)
    grep -qx 'auth True' "$BATS_FILE_TMPDIR/good.mail/$last"
}

@test "smtp tls: AUTH PLAIN with a wrong password stops with the 535, no message sent" {
    local before
    before=$(mails good)
    live good SMTP_TEST_USER="$USER_NAME" SMTP_TEST_PASSWORD=wrong \
        SMTP_TEST_EXPECT=auth SMTP_TEST_ERR="535 5.7.8"
    [ "$(printf '%s\n' "$stderr" | grep -c '> AUTH ')" -eq 1 ] ||
        fail "AUTH retried:" "$stderr"
    assert_not_contains "$stderr" "> MAIL FROM"
    assert_eq "$(mails good)" "$before"
}

@test "smtp tls: AUTH LOGIN right and wrong" {
    live good SMTP_TEST_USER="$USER_NAME" SMTP_TEST_PASSWORD="$PASSWORD" \
        SMTP_TEST_AUTH=login SMTP_TEST_EXPECT=none SMTP_TEST_COUNT=1
    assert_contains "$stderr" "> AUTH LOGIN"
    assert_contains "$stderr" "> <redacted>"
    assert_not_contains "$stderr" "$(printf '%s' "$PASSWORD" | base64)"
    live good SMTP_TEST_USER="$USER_NAME" SMTP_TEST_PASSWORD=wrong \
        SMTP_TEST_AUTH=login SMTP_TEST_EXPECT=auth SMTP_TEST_ERR="535"
}

@test "smtp tls: implicit TLS (smtps) with AUTH" {
    live smtps SMTP_TEST_TLS=smtps SMTP_TEST_USER="$USER_NAME" \
        SMTP_TEST_PASSWORD="$PASSWORD" SMTP_TEST_EXPECT=none SMTP_TEST_COUNT=2
    assert_contains "$stderr" "(certificate verified)"
    assert_not_contains "$stderr" "STARTTLS"
}

@test "smtp tls: STARTTLS missing (stripped) fails closed before AUTH" {
    live plain SMTP_TEST_USER="$USER_NAME" SMTP_TEST_PASSWORD="$PASSWORD" \
        SMTP_TEST_EXPECT=tls SMTP_TEST_ERR="does not offer STARTTLS"
    assert_not_contains "$stderr" "> AUTH"
}

@test "smtp tls: tls = none sends AUTH in clear only because it was configured" {
    live plain SMTP_TEST_TLS=none SMTP_TEST_USER="$USER_NAME" \
        SMTP_TEST_PASSWORD="$PASSWORD" SMTP_TEST_EXPECT=none SMTP_TEST_COUNT=1
    assert_contains "$stderr" "> AUTH PLAIN <redacted>"
}

@test "smtp tls: per-recipient 550 and 451 through a real pipelining server" {
    live good SMTP_TEST_RCPT=reject@example.test SMTP_TEST_OUTCOME=permfail \
        SMTP_TEST_EXPECT=none SMTP_TEST_COUNT=3
    assert_contains "$output" "rcpt 550 5.1.1 no such user"
    assert_contains "$stderr" "> RSET"
    live good SMTP_TEST_RCPT=defer@example.test SMTP_TEST_OUTCOME=tempfail \
        SMTP_TEST_EXPECT=none SMTP_TEST_COUNT=2
    assert_contains "$output" "rcpt 451 4.2.0"
}
