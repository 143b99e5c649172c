-- Run an example against the local fake OpenAI server:
-- start the server in a child process, point OPENAI_BASE_URL / OPENAI_API_KEY
-- at it, run the example with this interpreter, stop the server, and exit
-- with the example's status.
--
--   lua5.4 examples/run-with-fake-server.lua examples/workflow.lua [args...]
--
-- FAKE_SPEED (default 10) is how much faster than real time jobs run.
--
-- From a checkout (after `make`, or `make LUA=luajit` etc. for another interpreter) it
-- puts the checkout's lua/ and the C core built for this interpreter (build/lua5.4/,
-- build/luajit/, ...) on the paths of the server and the example; from an installed rock
-- the installed modules are used.
local function checkout_root()
  local src = debug.getinfo(1, "S").source
  local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/[^/]*$") or "."
  local root = dir == "examples" and "." or dir:match("^(.+)/examples$") or (dir .. "/..")
  local probe = io.open(root .. "/lua/openai/finetunes.lua", "r")
  if not probe then return nil end
  probe:close()
  return root
end

local root = checkout_root()
if root then
  local jit = rawget(_G, "jit")
  local lua = jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
  package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  package.cpath = root .. "/build/" .. lua .. "/?.so;" .. package.cpath
  if not pcall(require, "openai.finetunes.core") then
    io.stderr:write("run-with-fake-server.lua: the C core is not built for ",
      jit and jit.version or _VERSION, ": run 'make LUA=", lua, "' in ", root, "\n")
    os.exit(2)
  end
end

local fake = require("openai.finetunes.fake")

local script = arg and arg[1]
if not script then
  io.stderr:write("usage: run-with-fake-server.lua EXAMPLE.lua [ARGS...]\n")
  os.exit(2)
end

-- The interpreter running us (arg[-1] when started as `lua5.4 file.lua`).
local function interpreter()
  local i = -1
  while arg[i - 1] do i = i - 1 end
  return arg[i] or "lua5.4"
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local server = fake.spawn{ speed = tonumber(os.getenv("FAKE_SPEED") or "") or 10, quiet = true }
io.stderr:write("fake OpenAI server at ", server.base_url, "\n")

local command = {
  "env", "-u OPENAI_ORG_ID", "-u OPENAI_PROJECT_ID",
  quote("OPENAI_BASE_URL=" .. server.base_url),
  quote("OPENAI_API_KEY=sk-fake-demo-key"),
  quote("POLL_INTERVAL=" .. (os.getenv("POLL_INTERVAL") or "0.25")),
  quote("LUA_PATH=" .. package.path),
  quote("LUA_CPATH=" .. package.cpath),
  quote(interpreter()), quote(script),
}
for i = 2, #arg do command[#command + 1] = quote(arg[i]) end

local ok, a, b, c = pcall(os.execute, table.concat(command, " "))
server:stop()

if not ok then
  io.stderr:write("could not run ", script, ": ", tostring(a), "\n")
  os.exit(1)
end
-- os.execute: a number on Lua 5.1, (true|nil, "exit"|"signal", code) later.
local status
if type(a) == "number" then
  status = a > 255 and math.floor(a / 256) or a
elseif b == "exit" then
  status = c
else
  status = 128 + (c or 0)
end
os.exit(status)
