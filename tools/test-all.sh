#!/usr/bin/env bash
# test-all.sh [LUA...]: the whole spec suite on every Lua we support, each with
# the C core built for it into build/<lua>/ (`make test LUA=<lua>`).
# Default: lua5.1 lua5.2 lua5.3 lua5.4 luajit. Every interpreter runs even when
# an earlier one fails; the last lines are a per-interpreter table and the
# total "N passed, N failed" that .ci/run counts. Extra `make` arguments come
# from $TEST_ALL_MAKEFLAGS (e.g. BUSTED_FLAGS=--exclude-tags=heavy).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
[ "$#" -gt 0 ] || set -- lua5.1 lua5.2 lua5.3 lua5.4 luajit

logs=build/test-all
mkdir -p "$logs"
total_passed=0
total_failed=0
summary=()

for lua in "$@"; do
  log="$logs/$lua.log"
  started=$(date +%s)
  echo "=== make test LUA=$lua (log: $log)"
  # shellcheck disable=SC2086
  make --no-print-directory test LUA="$lua" ${TEST_ALL_MAKEFLAGS:-} >"$log" 2>&1
  rc=$?
  line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
  else
    p=0; f=0
  fi
  # a run that died outside its tests (build error, crash) still counts as a failure
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
  elapsed=$(( $(date +%s) - started ))
  summary+=("$(printf '%-8s %5d passed %4d failed  %4d s' "$lua" "$p" "$f" "$elapsed")")
  if [ "$f" -ne 0 ]; then
    # the failing cases (busted's "Failure →" / "Error →" blocks), or the tail of the log
    grep -aA6 -E '^(Failure|Error) →' "$log" | head -n 60 || true
    grep -qaE '^(Failure|Error) →' "$log" || tail -n 20 "$log"
  fi
  echo "${summary[-1]}"
done

echo
echo "spec suite per Lua version:"
printf '  %s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
