-- rockspec-sync.lua ROCKSPEC [--check]
--
-- The builtin build type needs every module listed by name; this keeps that
-- list equal to the tree. It rewrites the part of ROCKSPEC between the lines
-- "-- BEGIN GENERATED MODULES" and "-- END GENERATED MODULES" with one entry
-- per lua/**/*.lua file and the two C modules, each built from its folder
-- plus what both share (the leaves at the top of src/, util.c and compat.c, and
-- src/exchange/*.c, the per-request rules):
-- openai.finetunes.core from src/core/*.c, linked to libcurl, and
-- openai.finetunes.codec from src/codec/*.c, which never sees libcurl. Two
-- rocks share the tree: the command's (package "openai-finetunes-cli") gets
-- the modules under COMMAND_DIRS and no C; the library's gets all the others. With
-- --check it changes nothing and exits 1 (listing the differences) when the
-- rockspec is out of date. Runs on any Lua from 5.1 on; needs `find`.
local path, mode = arg[1], arg[2]
if not path or (mode and mode ~= "--check") then
  io.stderr:write("usage: rockspec-sync.lua ROCKSPEC [--check]\n")
  os.exit(2)
end

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  table.sort(out)
  return out
end

-- The directories of the command and the fake server: the CLI rock's, never the library's.
local COMMAND_DIRS = { "lua/openai/finetunes/cli/", "lua/openai/finetunes/fake/" }

local function package_of(file)
  local f = assert(io.open(file, "rb"))
  local text = f:read("*a")
  f:close()
  return text:match('\npackage%s*=%s*"([^"]+)"')
end
local command_rock = package_of(path) == "openai-finetunes-cli"

local function in_command(file)
  for _, d in ipairs(COMMAND_DIRS) do
    if file:sub(1, #d) == d then return true end
  end
  return false
end

local lua_files = {}
for _, file in ipairs(lines_of("find lua -name '*.lua' -type f")) do
  if in_command(file) == command_rock then lua_files[#lua_files + 1] = file end
end
-- the leaves at the top of src/ and the per-request rules of src/exchange/, in both
-- (the Makefile's SHARED_SRC)
local shared_c = lines_of("find src -maxdepth 1 -name '*.c' -type f")
for _, file in ipairs(lines_of("find src/exchange -name '*.c' -type f")) do shared_c[#shared_c + 1] = file end
local core_c = lines_of("find src/core -name '*.c' -type f")
local codec_c = lines_of("find src/codec -name '*.c' -type f")
if #lua_files == 0 or #shared_c == 0 or #core_c == 0 or #codec_c == 0 then
  io.stderr:write("rockspec-sync.lua: run it from the repository root\n")
  os.exit(2)
end

local entries = {}
for _, file in ipairs(lua_files) do
  local name = file:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
  entries[#entries + 1] = string.format('      ["%s"] = "%s",', name, file)
end

-- One C module's lines: its sources (the shared leaves first), then the build lines.
local function c_module(name, files, build_lines)
  local out = { string.format('      ["%s"] = {', name), "        sources = {" }
  for _, list in ipairs({ shared_c, files }) do
    for _, file in ipairs(list) do out[#out + 1] = string.format('          "%s",', file) end
  end
  out[#out + 1] = "        },"
  out[#out + 1] = '        defines = { "_POSIX_C_SOURCE=200809L" },'
  for _, line in ipairs(build_lines) do out[#out + 1] = "        " .. line end
  out[#out + 1] = "      },"
  return out
end

local c_modules = command_rock and {} or {
  c_module("openai.finetunes.codec", codec_c, { 'incdirs = { "src" },' }),
  c_module("openai.finetunes.core", core_c, {
    'incdirs = { "src", "$(CURL_INCDIR)" },',
    'libdirs = { "$(CURL_LIBDIR)" },',
    'libraries = { "curl" },',
  }),
}
local parts = { "      -- BEGIN GENERATED MODULES (tools/rockspec-sync.lua; do not edit by hand)" }
local lists = { entries }
for _, m in ipairs(c_modules) do lists[#lists + 1] = m end
lists[#lists + 1] = { "      -- END GENERATED MODULES" }
for _, list in ipairs(lists) do
  for _, line in ipairs(list) do parts[#parts + 1] = line end
end
local generated = table.concat(parts, "\n")

local f = assert(io.open(path, "rb"))
local text = f:read("*a")
f:close()
local before, old, after = text:match("^(.-)(      %-%- BEGIN GENERATED MODULES.-%-%- END GENERATED MODULES)(.*)$")
if not before then
  io.stderr:write(path .. ": no BEGIN/END GENERATED MODULES markers\n")
  os.exit(2)
end

if old == generated then
  if not mode then print(path .. " is up to date") end
  os.exit(0)
end

if mode == "--check" then
  local have, want = {}, {}
  for line in old:gmatch("[^\n]+") do have[line] = true end
  for line in generated:gmatch("[^\n]+") do want[line] = true end
  io.stderr:write(path .. " does not match the tree (run: lua tools/rockspec-sync.lua " .. path .. ")\n")
  for line in generated:gmatch("[^\n]+") do
    if not have[line] then io.stderr:write("  missing: " .. line:gsub("^%s+", "") .. "\n") end
  end
  for line in old:gmatch("[^\n]+") do
    if not want[line] then io.stderr:write("  stale:   " .. line:gsub("^%s+", "") .. "\n") end
  end
  os.exit(1)
end

f = assert(io.open(path, "wb"))
f:write(before, generated, after)
f:close()
print(path .. " updated: " .. #lua_files .. " Lua modules" .. (command_rock and ", no C" or (", C modules core ("
  .. #shared_c + #core_c .. " sources) and codec (" .. #shared_c + #codec_c .. " sources)")))
