#!/usr/bin/env bash
# install-rock.sh [LUA [TREE]]: `make install-rock`. Installs the library rock and the
# command's rock (openai-ft, the fake server) with luarocks, for LUA (lua5.1, lua5.2,
# lua5.3, lua5.4 or luajit; default lua5.4), into TREE (default: luarocks' system tree,
# /usr/local, when run as root). Writes nothing into the checkout.
#
# What it takes care of, so the user need not know it (Debian 12's luarocks 3.8):
# * Debian's luarocks builds for Lua 5.1 unless told otherwise: --lua-version comes
#   from LUA. LuaJIT is luarocks' Lua 5.1 with LuaJIT's headers and interpreter.
# * luarocks' builtin build compiles into the current directory (src/*.o and
#   openai/finetunes/core.so next to the rockspec, which a later `lua` run from the
#   checkout root would load through package.cpath's ./?.so): the rocks are built in a
#   temporary copy of the files they need.
# * Debian packages lua-socket, lua-filesystem and lua-cjson as plain modules, which
#   luarocks cannot see, so it would try to download the command rock's dependencies.
#   We ask the interpreter which of them it loads, and at which version, and declare
#   exactly those as `rocks_provided`: the dependency check still runs (a missing one
#   still fails, naming the Debian package) and nothing is fetched.
# * curl/curl.h lives in Debian's multiarch include directory: the library rockspec
#   checks for the library only (see its external_dependencies), and the compiler
#   finds the header by itself.
set -euo pipefail

lua=${1:-lua5.4}
tree=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)

case "$lua" in
  lua5.[1-4]) version=${lua#lua}; incdir=/usr/include/$lua ;;
  luajit) version=5.1; incdir=/usr/include/luajit-2.1 ;;
  *) echo "install-rock: LUA must be lua5.1, lua5.2, lua5.3, lua5.4 or luajit, got '$lua'" >&2; exit 2 ;;
esac
interp=$(command -v "$lua" || true)
if [ -z "$interp" ]; then echo "install-rock: $lua is not installed" >&2; exit 1; fi
if [ ! -f "$incdir/lua.h" ]; then
  echo "install-rock: no $incdir/lua.h: install the dev package of $lua (see README, Install)" >&2; exit 1
fi
command -v luarocks >/dev/null || { echo "install-rock: luarocks is not installed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/oft-install-rock.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
(cd "$root" && cp -r rockspec src lua bin examples LICENSE "$work/src/")

# What this interpreter loads of Debian's modules, as luarocks versions (rock = module).
provided=$("$interp" -e '
  local out = {}
  for _, r in ipairs({ { "luasocket", "socket" }, { "luafilesystem", "lfs" }, { "lua-cjson", "cjson" } }) do
    local ok, m = pcall(require, r[2])
    local v = ok and type(m) == "table" and tostring(m._VERSION or ""):match("(%d+%.%d+%.?%d*)")
    if v then out[#out + 1] = string.format("[%q] = %q,", r[1], v .. "-1") end
  end
  io.write(table.concat(out, " "))')
{
  [ -n "$tree" ] && echo "rocks_trees = { [[$tree]] }"
  echo "rocks_provided = { $provided }"
  echo "lua_interpreter = [[$(basename "$interp")]]"
  echo "variables = { LUA_DIR = [[/usr]], LUA_BINDIR = [[$(dirname "$interp")]], LUA_INCDIR = [[$incdir]], LUA = [[$interp]] }"
} >"$work/config.lua"

rocks() {
  (cd "$work/src" && LUAROCKS_CONFIG="$work/config.lua" luarocks --lua-version="$version" ${tree:+--tree="$tree"} "$@")
}
rocks make rockspec/openai-finetunes-scm-1.rockspec
rocks make rockspec/openai-finetunes-cli-scm-1.rockspec
