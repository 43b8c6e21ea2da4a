#!/bin/sh
# tests/conformance/mustache.sh - the official Mustache spec, test by test,
# through the real binary: campaign render FILE --data JSON --partials DIR.
#
#   CAMPAIGN_BIN       the binary (default build/asan/campaign)
#   MUSTACHE_SPEC_DIR  the spec's JSON files (default
#                      ../shared/conformance/mustache beside the checkout,
#                      when it is there)
#
# Prints one TAP line per test ("ok - mustache FILE: NAME"), then
# "mustache conformance: P of T passed"; exits non-zero if any failed.
# The spec is not part of this repository: without it (a fresh clone)
# the suite prints one "skipped:" line, which tests/run counts as
# skipped, never as passed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${CAMPAIGN_BIN:=$top/build/asan/campaign}"
MUSTACHE_SPEC=${MUSTACHE_SPEC_DIR:-${MUSTACHE_SPEC:-$top/../shared/conformance/mustache}}
if [ -z "${MUSTACHE_SPEC_DIR:-}" ] && [ ! -d "$MUSTACHE_SPEC" ]; then
    echo "skipped: Mustache spec suite (set MUSTACHE_SPEC_DIR)"
    exit 0
fi
py=/usr/bin/python3
files="comments delimiters interpolation inverted partials sections ~inheritance"

if [ ! -x "$CAMPAIGN_BIN" ]; then
    echo "not ok - mustache: no binary at $CAMPAIGN_BIN"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Explode every test into $tmp/tFFF_NNN/: spec, name, template.mustache,
# data.json, expected, partials/NAME.mustache.  Bytes are written exactly.
for f in $files; do
    if [ ! -f "$MUSTACHE_SPEC/$f.json" ]; then
        echo "not ok - mustache $f.json: missing from $MUSTACHE_SPEC"
        exit 1
    fi
done
# shellcheck disable=SC2086
"$py" - "$tmp" "$MUSTACHE_SPEC" $files <<'EOF' || exit 1
import json, os, sys
out, spec, files = sys.argv[1], sys.argv[2], sys.argv[3:]
for fi, f in enumerate(files):
    with open(os.path.join(spec, f + ".json"), encoding="utf-8") as fh:
        tests = json.load(fh)["tests"]
    for ti, t in enumerate(tests):
        d = os.path.join(out, "t%03d_%03d" % (fi, ti))
        os.makedirs(os.path.join(d, "partials"))
        def put(name, text):
            with open(os.path.join(d, name), "wb") as w:
                w.write(text.encode("utf-8"))
        put("spec", f + ".json")
        put("name", t["name"])
        put("template.mustache", t["template"])
        put("expected", t["expected"])
        put("data.json", json.dumps(t["data"]))
        for name, text in t.get("partials", {}).items():
            put(os.path.join("partials", name + ".mustache"), text)
EOF

pass=0
total=0
for d in "$tmp"/t*; do
    [ -d "$d" ] || continue
    total=$((total + 1))
    label="mustache $(cat "$d/spec"): $(cat "$d/name")"
    "$CAMPAIGN_BIN" render "$d/template.mustache" --data "$d/data.json" \
        --partials "$d/partials" >"$d/out" 2>"$d/err"
    rc=$?
    if [ "$rc" -eq 0 ] && cmp -s "$d/out" "$d/expected"; then
        pass=$((pass + 1))
        echo "ok - $label"
    else
        echo "not ok - $label"
        echo "#   exit $rc"
        "$py" -c 'import sys
for k in ("template.mustache", "expected", "out"):
    print("#   %-9s %r" % (k.split(".")[0], open(sys.argv[1] + "/" + k, "rb").read().decode("utf-8", "replace")))' "$d"
        sed 's/^/#   stderr: /' "$d/err"
    fi
done
echo "mustache conformance: $pass of $total passed"
[ "$total" -gt 0 ] && [ "$pass" -eq "$total" ]
