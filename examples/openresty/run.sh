#!/bin/sh
# examples/openresty/run.sh: this nginx.conf and handler against the local fake
# OpenAI server, in the foreground (Ctrl-C stops both). PORT (default 8080)
# and SPEED (the fake job clock, default 20) can be set in the environment;
# KEEP=1 keeps the temp dir with nginx's logs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${PORT:-8080}

# the C core built for LuaJIT (nginx's Lua)
make -C "$root" -s LUA=luajit

work=$(mktemp -d "${TMPDIR:-/tmp}/oft-openresty.XXXXXX")
mkdir -p "$work/logs" "$work/tmp"
ln -s "$root" "$work/repo"
sed "s/127\.0\.0\.1:8080/127.0.0.1:$port/" "$here/nginx.conf" >"$work/nginx.conf"

fake_pid=""
nginx_pid=""
cleanup() {
  for pid in $nginx_pid $fake_pid; do kill "$pid" 2>/dev/null || true; done
  [ -z "$nginx_pid" ] || wait "$nginx_pid" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the fake server (it also exits by itself if this script dies)
# (its data in $work: killed by cleanup's SIGTERM, it cannot remove a temp dir of its own)
lua5.4 "$root/bin/openai-ft" fake-server --quiet --port 0 --port-file "$work/fake.port" \
  --data-dir "$work/fake-data" --speed "${SPEED:-20}" --watch-pid $$ >/dev/null 2>&1 &
fake_pid=$!
i=0
while [ ! -s "$work/fake.port" ]; do
  i=$((i + 1)); [ "$i" -lt 200 ] || { echo "the fake server did not start" >&2; exit 1; }
  sleep 0.05
done

export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$work/fake.port")/v1"
export OPENAI_API_KEY=sk-fake-openresty
echo "fake OpenAI server: $OPENAI_BASE_URL"
echo "nginx: http://127.0.0.1:$port (logs in $work/logs)"
echo "try:   curl -s http://127.0.0.1:$port/models; curl -s -X POST http://127.0.0.1:$port/finetune"

# as root, nginx would run its worker as nobody, who cannot write the temp dirs
user=""
[ "$(id -u)" = 0 ] && user="user root;"
nginx -p "$work" -c nginx.conf -g "daemon off; $user" &
nginx_pid=$!
wait "$nginx_pid"
