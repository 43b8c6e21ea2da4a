#!/bin/sh
# SPDX-License-Identifier: ISC
# opendkim_verify.sh - verify messages' DKIM signatures with
# opendkim-testmsg (libopendkim), offline.
#
#   opendkim_verify.sh --txt RECORD_FILE [--txt ...] MESSAGE.eml...
#
# RECORD_FILEs are DNS records as `campaign dkim keygen` prints them.
# Exit 0 when, in every message, the signature made with each key that
# its DKIM-Signature fields name verifies; 1 otherwise (or when a message
# names no key we were given); 2 on a usage error.  One line per message
# and key on stdout:
#     FILE: opendkim, key S._domainkey.D: pass | FAIL (why)
#
# How: opendkim-testmsg has no option for keys, so opendkim_keyfile.c (an
# LD_PRELOAD shim, compiled here unless $OPENDKIM_SHIM names a built one)
# switches libopendkim to its file query method with the key file
# $OPENDKIM_KEYFILE ("NAME VALUE" lines, from `dkim_verify.py --keyfile`).
# libopendkim passes a message when any one signature passes, so each key
# is tried alone: with only that key published, only the signature made
# with it can pass.
set -u
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
testmsg=${OPENDKIM_TESTMSG:-opendkim-testmsg}

usage() {
    echo "usage: opendkim_verify.sh --txt RECORD_FILE [--txt ...] MESSAGE.eml..." >&2
    exit 2
}

work=$(mktemp -d) || exit 2
trap 'rm -rf "$work"' EXIT
: >"$work/msgs"
txt=""
while [ $# -gt 0 ]; do
    case $1 in
    --txt)
        [ $# -gt 1 ] || usage
        txt="$txt --txt $2"
        shift 2
        ;;
    -*) usage ;;
    *)
        [ -r "$1" ] || { echo "opendkim_verify.sh: $1: cannot read" >&2; exit 2; }
        printf '%s\n' "$1" >>"$work/msgs"
        shift
        ;;
    esac
done
if [ -z "$txt" ] || [ ! -s "$work/msgs" ]; then usage; fi

shim=${OPENDKIM_SHIM:-}
if [ -z "$shim" ]; then
    shim=$work/keyfile.so
    ${CC:-cc} -shared -fPIC -o "$shim" "$here/opendkim_keyfile.c" -ldl || exit 2
fi

# shellcheck disable=SC2086
"$python" "$here/dkim_verify.py" $txt --keyfile >"$work/keys" || exit 2

# signed_keys FILE - "S._domainkey.D" for each DKIM-Signature of FILE
signed_keys() {
    tr -d '\r' <"$1" | awk '
        /^$/ { exit }
        /^[ \t]/ { f = f $0; next }
        { if (f != "") print f; f = $0 }
        END { if (f != "") print f }' |
        awk 'tolower($0) ~ /^dkim-signature:/ {
            v = $0; sub(/^[^:]*:/, "", v); gsub(/[ \t]/, "", v)
            n = split(v, t, ";"); s = ""; d = ""
            for (i = 1; i <= n; i++) {
                if (t[i] ~ /^s=/) s = substr(t[i], 3)
                if (t[i] ~ /^d=/) d = substr(t[i], 3)
            }
            print tolower(s "._domainkey." d)
        }'
}

status=0
while IFS= read -r msg; do
    n=0
    for name in $(signed_keys "$msg"); do
        awk -v n="$name" 'tolower($1) == n' "$work/keys" >"$work/one"
        [ -s "$work/one" ] || continue
        n=$((n + 1))
        if LD_PRELOAD=$shim OPENDKIM_KEYFILE=$work/one "$testmsg" <"$msg" \
            2>"$work/err"; then
            echo "$msg: opendkim, key $name: pass"
        else
            echo "$msg: opendkim, key $name: FAIL ($(tr '\n' ' ' <"$work/err" | sed 's/ *$//'))"
            status=1
        fi
    done
    if [ "$n" -eq 0 ]; then
        echo "$msg: opendkim: no signature names a key we were given: FAIL"
        status=1
    fi
done <"$work/msgs"
exit $status
