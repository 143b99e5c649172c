#!/usr/bin/env bash
# demo.sh [LUA]: `make demo`. The openai-ft command's own live view against a fresh
# fake OpenAI server, in a few seconds: validate the bundled training file, `run` it
# (upload bar, job events under a live step/loss line, the model id), then the job
# table and the loss plot. Each command is shown as it would be typed.
# DEMO_SPEED (default 40) is how much faster than real time the fake server's jobs run.
set -euo pipefail
lua=${1:-lua5.4}
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/oft-demo.XXXXXX")
server=""
cleanup() {
  local rc=$?
  if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

"$lua" bin/openai-ft fake-server --quiet --port 0 --port-file "$work/port" --data-dir "$work/data" \
  --speed "${DEMO_SPEED:-40}" --watch-pid $$ --idle-timeout 300 >/dev/null &
server=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { echo "demo: the fake server did not start" >&2; exit 1; }

export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$work/port")/v1" OPENAI_API_KEY=sk-fake-demo-key
unset OPENAI_ORG_ID OPENAI_PROJECT_ID OPENAI_CUSTOM_HEADERS OPENAI_API_TYPE
echo "fake OpenAI server at $OPENAI_BASE_URL (jobs run ${DEMO_SPEED:-40}x faster than real time)"

ft() { "$lua" bin/openai-ft "$@"; }
show() { printf '\n\033[1m$ openai-ft %s\033[0m\n' "$*" >&2; }

show validate examples/data/train.jsonl
ft validate examples/data/train.jsonl

show run examples/data/train.jsonl --model gpt-4o-mini-2024-07-18 --suffix demo
ft run examples/data/train.jsonl --model gpt-4o-mini-2024-07-18 --suffix demo --poll-interval 0.2

show jobs list
ft jobs list
job=$(ft jobs list --limit 1 --json | "$lua" -e 'print((io.read("*a"):match("\"id\":\"(ftjob%-[%w]+)\"")))')

show jobs metrics "$job" --plot
ft jobs metrics "$job" --plot --height 12
