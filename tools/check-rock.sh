#!/usr/bin/env bash
# check-rock.sh [LUA...]: a real `luarocks make` install, checked from the
# installed tree alone. LUA is lua5.1..lua5.4 or luajit (default: lua5.4 luajit).
#
# For each interpreter: a fresh tree, `luarocks --lua-version=V --tree=T make`
# of rockspec/openai-finetunes-scm-1.rockspec, then with only that tree on the
# Lua paths: require("openai.finetunes") loads the tree's C core, the installed
# `openai-ft --help` runs, and a client call reaches the tree's own
# `openai-ft fake-server` over HTTP.
#
# Offline notes (why the luarocks config below looks the way it does):
# * Debian installs lua-socket and lua-filesystem as plain modules, not rocks,
#   so luarocks cannot see them and would try luarocks.org for the rockspec's
#   luasocket / luafilesystem dependencies. We ask the interpreter which
#   versions it really has and declare exactly those as `rocks_provided`: the
#   dependency check still runs (and fails if a module is missing) instead of
#   being switched off with --deps-mode=none.
# * Debian keeps curl/curl.h under the multiarch include dir, which luarocks'
#   external-dependency search does not look in: CURL_INCDIR / CURL_LIBDIR come
#   from pkg-config.
# * LuaJIT is luarocks' Lua 5.1 with LUA_INCDIR=/usr/include/luajit-2.1 and
#   luajit as the interpreter (what the installed openai-ft wrapper runs).
# * `luarocks make` compiles inside the source directory, so the rock is built
#   from a copy of the checkout, never in it.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rockspec=rockspec/openai-finetunes-scm-1.rockspec
[ "$#" -gt 0 ] || set -- lua5.4 luajit

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
check "rockspec lists every module of the tree" lua5.4 tools/rockspec-sync.lua "$rockspec" --check
check "luarocks lint" luarocks lint "$rockspec"

curl_inc=$(pkg-config --variable=includedir libcurl 2>/dev/null || echo /usr/include)
curl_lib=$(pkg-config --variable=libdir libcurl 2>/dev/null || echo /usr/lib)

for lua in "$@"; do
  case "$lua" in
    lua5.[1-4]) version=${lua#lua}; interp=$(command -v "$lua"); incdir=/usr/include/$lua ;;
    luajit) version=5.1; interp=$(command -v luajit); incdir=/usr/include/luajit-2.1 ;;
    *) echo "unknown interpreter: $lua" >&2; failed=$((failed + 1)); continue ;;
  esac
  if [ -z "$interp" ]; then echo "FAILED $lua: not installed"; failed=$((failed + 1)); continue; fi
  tree=$work/tree-$lua
  src=$work/src-$lua
  mkdir -p "$src"
  cp -r rockspec src lua bin examples "$src"/

  # what this interpreter's Debian packages provide, as luarocks versions
  provided=$("$interp" -e '
    local out = {}
    for rock, mod in pairs({ luasocket = "socket", luafilesystem = "lfs" }) do
      local ok, m = pcall(require, mod)
      local v = ok and type(m) == "table" and tostring(m._VERSION or ""):match("(%d+%.%d+%.?%d*)")
      if v then out[#out + 1] = string.format("%s = %q,", rock, v .. "-1") end
    end
    io.write(table.concat(out, " "))')
  cat >"$work/config-$lua.lua" <<EOF
rocks_trees = { [[$tree]] }
rocks_provided = { $provided }
lua_interpreter = [[$(basename "$interp")]]
variables = { LUA_DIR = [[/usr]], LUA_BINDIR = [[$(dirname "$interp")]], LUA_INCDIR = [[$incdir]], LUA = [[$interp]] }
EOF

  install() {
    (cd "$src" && LUAROCKS_CONFIG="$work/config-$lua.lua" luarocks --lua-version="$version" --tree="$tree" \
      make "$rockspec" CURL_INCDIR="$curl_inc" CURL_LIBDIR="$curl_lib")
  }
  check "$lua: luarocks make into a fresh tree" install
  [ -x "$tree/bin/openai-ft" ] || continue

  tree_lpath="$tree/share/lua/$version/?.lua;$tree/share/lua/$version/?/init.lua"
  tree_cpath="$tree/lib/lua/$version/?.so"
  only_tree() { env -i PATH=/usr/bin:/bin HOME="$work" LUA_PATH="$tree_lpath" LUA_CPATH="$tree_cpath" "$@"; }

  check "$lua: require(\"openai.finetunes\") from the tree alone" only_tree "$interp" -e '
    local ft = require("openai.finetunes")
    local core = package.loaded["openai.finetunes.core"]
    assert(type(core) == "table" and core._VERSION == ft.version, "core not loaded")
    assert(not pcall(require, "socket"), "the test paths leak the system tree")
    print("openai.finetunes " .. ft.version .. " on " .. (rawget(_G, "jit") and jit.version or _VERSION))'

  check "$lua: installed openai-ft --help" env -i PATH=/usr/bin:/bin HOME="$work" "$tree/bin/openai-ft" --help

  # a live call: the tree's fake server (its data in $work: our kill is a SIGTERM, after which
  # it cannot remove a temp dir of its own), the tree's client
  rm -f "$work/port"
  env -i PATH=/usr/bin:/bin HOME="$work" "$tree/bin/openai-ft" fake-server --quiet --port 0 \
    --port-file "$work/port" --data-dir "$work/fake-data-$lua" --watch-pid $$ --idle-timeout 120 >/dev/null &
  server_pid=$!
  for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
  port=$(cat "$work/port" 2>/dev/null)
  check "$lua: a client call from the tree reaches the tree's fake server" only_tree "$interp" -e '
    local ft = require("openai.finetunes")
    local client = ft.new({ api_key = "sk-rock", base_url = "http://127.0.0.1:'"$port"'/v1", max_retries = 0 })
    local page, err = client:models()
    assert(page, tostring(err))
    assert(page.object == "list" and type(page.data) == "table", "unexpected answer")
    print(#page.data .. " models")'
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
