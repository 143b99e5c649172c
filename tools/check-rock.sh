#!/usr/bin/env bash
# check-rock.sh: the README's Install section, run as written, checked from the
# installed trees alone. No arguments: the lines come from README.md, between the
# "<!-- BEGIN INSTALL" / "<!-- END INSTALL" markers (and "INSTALL OTHER LUAS"), so
# the manual and this check cannot drift.
#
# Each line runs with `sh -c` from the checkout root exactly as printed, with
# ROCK_TREE (read by `make install-rock`) naming a fresh tree per interpreter. An
# `apt-get` line runs as written when we are root (on CI: a no-op, everything is
# installed); otherwise the packages it names must be installed already. Then, with
# only that tree on the Lua paths: require("openai.finetunes") loads the tree's C modules
# and nothing else (no LuaSocket: the library needs only libcurl), the README's Quick
# start runs against the tree's own `openai-ft fake-server`, the installed
# `openai-ft --version` answers and `openai-ft run` goes from a file to a model on
# that server. Last, the checkout must be exactly as before: `luarocks make` writes
# nothing into it.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/oft-check-rock.XXXXXX")
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
check() { # check NAME CMD...: run one check, count it, show its output on failure
  local name=$1; shift
  if "$@" >"$work/out" 2>&1; then
    passed=$((passed + 1)); echo "ok     $name"
  else
    failed=$((failed + 1)); echo "FAILED $name"; sed 's/^/       | /' "$work/out" | tail -n 40
  fi
}

cd "$root" || exit 1
for rockspec in rockspec/*.rockspec; do
  check "$rockspec lists every module of the tree" lua5.4 tools/rockspec-sync.lua "$rockspec" --check
  check "luarocks lint $rockspec" luarocks lint "$rockspec"
done

# readme_block NAME: the command lines of that README block, continuation lines joined.
readme_block() {
  awk -v name="$1" '
    index($0, "<!-- BEGIN " name " (") == 1 || $0 == "<!-- BEGIN " name " -->" { on = 1; next }
    $0 == "<!-- END " name " -->" { on = 0 }
    on && !/^```/ { print }' README.md | sed -e ':a' -e '/\\$/N; s/\\\n */ /; ta'
}

# The README's Quick start, as a script.
awk '/^## Quick start/ { on = 1 } on && /^```lua/ { code = 1; next } code && /^```/ { exit } code { print }' \
  README.md >"$work/quickstart.lua"
check "README: the Quick start block is there" test -s "$work/quickstart.lua"

apt_ok() { # apt_ok "apt-get ...": as root run it as written, else its packages must be installed
  if [ "$(id -u)" = 0 ]; then sh -c "$1" </dev/null; return; fi
  local p missing=""
  for p in ${1#apt-get install}; do
    case "$p" in update|-*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
  done
  [ "$1" = "apt-get update" ] && { echo "(not root: apt-get update skipped)"; return 0; }
  [ -z "$missing" ] || { echo "not installed:$missing"; return 1; }
}

in_tree() { # in_tree TREE CMD...: from the checkout, ROCK_TREE=TREE, the line as written
  local tree=$1; shift
  (cd "$root" && ROCK_TREE="$tree" sh -c "$*" </dev/null)
}

touch "$work/marker"
sleep 1 # mtimes have a one-second grain on some file systems
version=$(sed -n 's/^#define OFT_VERSION "\(.*\)"$/\1/p' src/util.h) # the one version (client.lua)

check_tree() { # check_tree LUA TREE: use the tree alone
  local lua=$1 tree=$2 v interp
  case "$lua" in lua5.[1-4]) v=${lua#lua} ;; luajit) v=5.1 ;; esac
  interp=$(command -v "$lua")
  local lpath="$tree/share/lua/$v/?.lua;$tree/share/lua/$v/?/init.lua" cpath="$tree/lib/lua/$v/?.so"
  only_tree() { env -i PATH=/usr/bin:/bin HOME="$work" LUA_PATH="$lpath" LUA_CPATH="$cpath" "$@"; }

  check "$lua: require(\"openai.finetunes\") from the tree alone, with nothing but libcurl" only_tree "$interp" -e '
    local ft = require("openai.finetunes")
    local codec = package.loaded["openai.finetunes.codec"]
    assert(type(codec) == "table" and codec._VERSION == ft.version, "codec not loaded")
    assert(codec.sha256("abc"):sub(1, 8) == "ba7816bf", "codec broken")
    local core = require("openai.finetunes.core")
    assert(type(core) == "table" and core._VERSION == ft.version, "core not loaded")
    assert(not pcall(require, "socket"), "the test paths leak the system tree")
    print("openai.finetunes " .. ft.version .. " on " .. (rawget(_G, "jit") and jit.version or _VERSION))'

  check "$lua: the installed openai-ft --version" sh -c \
    "[ \"\$(env -i PATH=/usr/bin:/bin HOME='$work' '$tree/bin/openai-ft' --version)\" = 'openai-ft $version' ]"

  # the tree's fake server (its data in $work: our kill is a SIGTERM, after which it
  # cannot remove a temp dir of its own)
  rm -f "$work/port"
  env -i PATH=/usr/bin:/bin HOME="$work" "$tree/bin/openai-ft" fake-server --quiet --port 0 --speed 200 \
    --port-file "$work/port" --data-dir "$work/fake-data-$lua" --watch-pid $$ --idle-timeout 120 >/dev/null &
  server_pid=$!
  for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
  local base="http://127.0.0.1:$(cat "$work/port" 2>/dev/null)/v1"

  mkdir -p "$work/qs-$lua" && cp examples/data/train.jsonl "$work/qs-$lua/train.jsonl"
  check "$lua: the README's Quick start from the tree alone, against the tree's fake server" sh -c "
    cd '$work/qs-$lua' && env -i PATH=/usr/bin:/bin HOME='$work' LUA_PATH='$lpath' LUA_CPATH='$cpath' \
      OPENAI_API_KEY=sk-rock OPENAI_BASE_URL='$base' '$interp' '$work/quickstart.lua' >out 2>&1; rc=\$?
    cat out; [ \$rc = 0 ] && tail -n 1 out | grep -q '^succeeded[[:space:]]ft:'"

  check "$lua: openai-ft run, from a file to a model on the tree's fake server" sh -c "
    cd '$work/qs-$lua' && model=\$(env -i PATH=/usr/bin:/bin HOME='$work' OPENAI_API_KEY=sk-rock \
      OPENAI_BASE_URL='$base' '$tree/bin/openai-ft' run train.jsonl --model gpt-4o-mini-2024-07-18 \
      --poll-interval 0.1 --quiet) && echo \"\$model\" && case \$model in ft:gpt-4o-mini-2024-07-18:*) ;; *) exit 1 ;; esac"
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""
}

while IFS= read -r line; do
  [ -n "$line" ] || continue
  command=${line%%#*}
  command=$(printf '%s' "$command" | sed 's/[[:space:]]*$//')
  apt="" make_part="$command"
  case "$command" in
    apt-get*"&&"*) apt=${command%%&&*}; make_part=${command#*&& } ;;
    apt-get*) apt=$command; make_part="" ;;
  esac
  apt=$(printf '%s' "$apt" | sed 's/[[:space:]]*$//')
  [ -n "$apt" ] && check "README: $apt" apt_ok "$apt"
  [ -n "$make_part" ] || continue
  lua=$(printf '%s' "$make_part" | sed -n 's/.*LUA=\([a-z0-9.]*\).*/\1/p')
  lua=${lua:-lua5.4}
  tree="$work/tree-$lua"
  check "README: $make_part (ROCK_TREE=fresh tree)" in_tree "$tree" "$make_part"
  [ -x "$tree/bin/openai-ft" ] && check_tree "$lua" "$tree"
done < <(readme_block "INSTALL"; readme_block "INSTALL OTHER LUAS")

check "the checkout is untouched (luarocks make wrote nothing into it)" sh -c "
  changed=\$(find '$root' -path '$root/.git' -prune -o -path '$root/build' -prune -o -newer '$work/marker' -print)
  [ -z \"\$changed\" ] || { echo \"\$changed\"; exit 1; }"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
