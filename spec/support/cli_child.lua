-- bin/openai-ft as a child process a spec can watch and SIGKILL at an observed point:
--
--   local C = require("spec.support.cli_child")
--   local child = C.spawn(server, { "run", H.TRAIN, "--model", H.MODEL, "--state", st }, dir)
--   C.wait_for(function() return C.state(st).job end)   -- poll what the child leaves behind
--   child:kill()                                          -- kill -9, waits until it is gone
--   local code, out, err = C.run(server, args, dir)       -- to the end: exit code, stdout, stderr
--
-- C.command builds the command line of every openai-ft child of the specs (these,
-- spec/cli_spec.lua's and spec/webhooks_cli_spec.lua's).
local H = require("spec.support.client_helper")
local core = require("openai.finetunes.core")

local M = {}

-- The file's content, or nil when it does not exist (yet).
local read = require("openai.finetunes.fake.util").read_file
M.read = read

-- os.execute's answer as an exit code (5.1: the wait status; 5.2+: ok, how, code).
function M.exit_code(r1, _, r3)
  if type(r1) == "number" then return r1 > 255 and math.floor(r1 / 256) or r1 end
  return r3
end
local exit_code = M.exit_code

-- command(server, args [, env [, how]]) -> the shell command running openai-ft with `args`
-- (a list) against `server`: OPENAI_API_KEY, OPENAI_BASE_URL and the spec's module
-- paths set, then `env` (name -> value; false: not set).
--   how.inherit  false (default): `env -i`, a clean environment with only PATH,
--                TMPDIR and LANG=C.UTF-8 besides. true: the spec's environment is
--                kept, which `make check-asan`'s children need (tools/asan-lua reads
--                OFT_ASAN_PRELOAD from it), minus the names in how.unset (`env -u`).
function M.command(server, args, env, how)
  how = how or {}
  local parts = { "env" }
  local vars = { OPENAI_API_KEY = H.API_KEY, OPENAI_BASE_URL = server.base_url, LUA_PATH = package.path,
    LUA_CPATH = package.cpath }
  if how.inherit then
    for _, name in ipairs(how.unset or {}) do parts[#parts + 1] = "-u " .. name end
  else
    parts[#parts + 1] = "-i"
    parts[#parts + 1] = H.shell_quote("PATH=" .. (os.getenv("PATH") or "/usr/bin:/bin"))
    vars.LANG, vars.TMPDIR = "C.UTF-8", os.getenv("TMPDIR")
  end
  for k, v in pairs(env or {}) do vars[k] = v end
  for k, v in pairs(vars) do
    if v then parts[#parts + 1] = H.shell_quote(k .. "=" .. v) end
  end
  parts[#parts + 1] = H.shell_quote(H.lua())
  parts[#parts + 1] = "bin/openai-ft"
  for _, a in ipairs(args) do parts[#parts + 1] = H.shell_quote(a) end
  return table.concat(parts, " ")
end

-- run(server, args, dir [, env]) -> exit code, stdout, stderr (the child runs to its end)
function M.run(server, args, dir, env)
  local out, err = dir .. "/run.out", dir .. "/run.err"
  local code = exit_code(os.execute(M.command(server, args, env) .. " </dev/null >" .. out .. " 2>" .. err))
  return code, read(out) or "", read(err) or ""
end

local Child = {}
Child.__index = Child

local function alive(pid)
  local r = os.execute("kill -0 " .. pid .. " 2>/dev/null")
  return r == true or r == 0
end

function Child:alive() return alive(self.pid) end

-- kill -9 and wait until the process is gone.
function Child:kill()
  os.execute("kill -9 " .. self.pid .. " 2>/dev/null")
  M.wait_for(function() return not alive(self.pid) end, 10, "pid " .. self.pid .. " to die")
  self.killed = true
end

-- wait(seconds) -> exit code of a child that ends by itself (from its exit-code file)
function Child:wait(seconds)
  M.wait_for(function() return not alive(self.pid) end, seconds or 60, "the child to exit")
  return tonumber(read(self.rc) or "")
end

function Child:stdout() return read(self.out) or "" end
function Child:stderr() return read(self.err) or "" end

-- spawn(server, args, dir [, env]) -> child (running in the background). Its pid is the
-- interpreter's: `env` execs it, and the shell's subshell execs `env`.
local n = 0
function M.spawn(server, args, dir, env)
  n = n + 1
  local base = string.format("%s/child%d", dir, n)
  local self = setmetatable({ out = base .. ".out", err = base .. ".err", rc = base .. ".rc" }, Child)
  local pidfile = base .. ".pid"
  os.execute("(" .. M.command(server, args, env) .. " </dev/null >" .. self.out .. " 2>" .. self.err
    .. "; echo $? >" .. self.rc .. ") & echo $! >" .. pidfile)
  -- the subshell's pid is $!; the interpreter is its only child
  local sub = assert(tonumber(read(pidfile)))
  M.wait_for(function()
    local p = io.popen("pgrep -P " .. sub)
    local pid = p:read("*l")
    p:close()
    self.pid = tonumber(pid or "")
    return self.pid ~= nil or not alive(sub)
  end, 10, "the child to start")
  self.pid = self.pid or sub
  return self
end

-- wait_for(fn, seconds, what) -> fn's first truthy value, polled every 2 ms.
function M.wait_for(fn, seconds, what)
  local deadline = core.now() + (seconds or 30)
  while true do
    local v = fn()
    if v then return v end
    if core.now() > deadline then error("timed out waiting for " .. tostring(what or "a condition"), 2) end
    core.sleep(0.002)
  end
end

-- The state file as a table (nil while absent or being replaced).
function M.state(path)
  local text = read(path)
  if not text then return nil end
  local v = require("openai.finetunes.codec").json_decode(text)
  return type(v) == "table" and v or nil
end

return M
