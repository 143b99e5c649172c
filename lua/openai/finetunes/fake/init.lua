-- The fake OpenAI server: a stateful, offline stand-in for the real API on loopback.
--
--   local fake = require("openai.finetunes.fake")
--   fake.start{port = 8080}            -- serve in this process until shut down
--   local s = fake.new{...}; s:listen(); s:step(0.1) ...   -- embed in your own loop
--   local h = fake.spawn{speed = 10}   -- child process; h.base_url, h:stop()
--   local a = fake.spawn{azure = true} -- Azure OpenAI stand-in; a.endpoint, a.base_url
--
-- See README.md next to this file for options, the control API and faults.
local socket = require("socket")
local lfs = require("lfs")
local util = require("openai.finetunes.fake.util")

local M = {}

M.Server = require("openai.finetunes.fake.server")

-- Options a server accepts (also the CLI's --flags, with "_" written as "-").
M.OPTIONS = {
  "host", "port", "port_file", "data_dir", "speed", "api_key", "proxy_auth", "watch_pid",
  "idle_timeout", "keepalive_timeout", "log_limit", "quiet", "org", "remove_data_dir", "remove_on_exit",
  "mode", "azure", "api_version", "ad_token", "training_unavailable",
}

function M.new(opts)
  return M.Server.new(opts)
end

-- pid() -> this process's id
function M.pid()
  local f = io.open("/proc/self/stat", "r")
  if f then
    local line = f:read("*l")
    f:close()
    local pid = line and tonumber(line:match("^(%d+)"))
    if pid then return pid end
  end
  -- The shell's parent is this process.
  local p = io.popen("sh -c 'echo $PPID'")
  local out = p and p:read("*l")
  if p then p:close() end
  return tonumber(out)
end

-- start(opts): listen and serve in this process until POST /_fake/shutdown, the
-- watched process exits, the idle timeout passes, or SIGINT.
function M.start(opts)
  local server = M.Server.new(opts)
  server.pid = M.pid()
  server:listen()
  if opts and opts.on_listen then opts.on_listen(server) end
  local ok, err = pcall(server.run, server)
  server:close()
  if not ok and not tostring(err):find("interrupted", 1, true) then
    error(err, 0)
  end
  return server
end

------------------------------------------------------------------------------ spawn

-- The directory that holds openai/finetunes/fake/init.lua's "openai" tree.
local function module_root()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) ~= "@" then return nil end
  local path = src:sub(2)
  return path:match("^(.*)/openai/finetunes/fake/init%.lua$") or
    (path == "openai/finetunes/fake/init.lua" and ".") or nil
end

local pid_alive = util.pid_alive

-- interpreter(): the Lua that runs this code, so the child loads the same C modules.
-- Under `make check-asan` that Lua ($OFT_ASAN_LUA) runs with the ASan runtime preloaded
-- by tools/asan-lua ($OFT_LUA), and /proc/self/exe names the bare interpreter: the child
-- comes back through the script, since the fake server loads the ASan build of the codec
-- (it signs webhook deliveries). Any other Lua started under that run is itself.
function M.interpreter()
  local target = lfs.symlinkattributes and lfs.symlinkattributes("/proc/self/exe", "target")
  if target and target:match("/[^/]*lua[^/]*$") then
    local asan_lua, wrapper = os.getenv("OFT_ASAN_LUA"), os.getenv("OFT_LUA")
    if asan_lua and wrapper and target:match("/[^/]*$") == "/" .. asan_lua then return wrapper end
    return target
  end
  local argv = rawget(_G, "arg")
  if type(argv) == "table" then
    local i = -1
    while argv[i - 1] do i = i - 1 end
    if argv[i] and argv[i]:match("lua") then return argv[i] end
    if argv[-1] and argv[-1]:match("lua") then return argv[-1] end
  end
  return os.getenv("OFT_LUA") or "lua5.4"
end

local function serialize(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    local tv = type(v)
    if tv == "string" then
      out[#out + 1] = string.format("[%q]=%q", k, v)
    elseif tv == "number" or tv == "boolean" then
      out[#out + 1] = string.format("[%q]=%s", k, tostring(v))
    end
  end
  return "{" .. table.concat(out, ",") .. "}"
end

-- A tiny blocking HTTP exchange for the control API (no client module involved).
function M.control_request(port, method, path, body, host, timeout)
  local sock = socket.tcp()
  sock:settimeout(timeout or 10)
  local ok, err = sock:connect(host or "127.0.0.1", port)
  if not ok then sock:close(); return nil, err end
  body = body or ""
  local req = string.format("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
    .. "Content-Length: %d\r\nConnection: close\r\n\r\n%s", method, path, port, #body, body)
  ok, err = sock:send(req)
  if not ok then sock:close(); return nil, err end
  local data, rerr, partial = sock:receive("*a")
  sock:close()
  data = data or partial
  if not data or data == "" then return nil, rerr or "empty answer" end
  local status = tonumber(data:match("^HTTP/1%.%d (%d%d%d)"))
  local text = data:match("\r\n\r\n(.*)$") or ""
  return status, text
end

local Handle = {}
Handle.__index = Handle

function Handle:url(path)
  return "http://127.0.0.1:" .. self.port .. (path or "")
end

function Handle:alive()
  return pid_alive(self.pid)
end

-- stop(): ask the server to shut down, then make sure it is gone.
function Handle:stop()
  if self.stopped then return end
  self.stopped = true
  M.control_request(self.port, "POST", "/_fake/shutdown", "{}", nil, 2)
  local deadline = socket.gettime() + 3
  while pid_alive(self.pid) and socket.gettime() < deadline do
    socket.sleep(0.01)
  end
  if pid_alive(self.pid) then
    os.execute("kill " .. tonumber(self.pid) .. " 2>/dev/null")
  end
  if self.state_dir then util.rm_rf(self.state_dir) end
end

-- spawn(opts) -> handle {pid, port, endpoint, base_url, data_dir, log_file, url(path), stop()}
-- (azure mode: base_url is endpoint .. "/openai/v1", and api_version the dated version served)
-- Starts the server in a child process with the interpreter running this code
-- (opts.lua to choose another) and waits until it accepts connections.
-- opts: every server option, plus lua, log_file, startup_timeout.
function M.spawn(opts)
  opts = opts or {}
  local state_dir = string.format("%s/openai-ft-fake-spawn-%s", os.getenv("TMPDIR") or "/tmp", util.random_hex(10))
  assert(util.mkdir_p(state_dir))
  local server_opts = {}
  for _, k in ipairs(M.OPTIONS) do server_opts[k] = opts[k] end
  server_opts.port_file = state_dir .. "/port"
  -- a spawned server never outlives the process that spawned it, even when that
  -- process dies without calling stop() (watch_pid = false opts out)
  if opts.watch_pid == nil then server_opts.watch_pid = M.pid() end
  if opts.watch_pid == false then server_opts.watch_pid = nil end
  -- the child cleans up after itself even when nobody calls stop()
  server_opts.remove_on_exit = state_dir .. (opts.remove_on_exit and ("|" .. opts.remove_on_exit) or "")
  if not server_opts.data_dir then
    server_opts.data_dir = state_dir .. "/data"
    server_opts.remove_data_dir = true
  end
  local log_file = opts.log_file or (state_dir .. "/server.log")
  local interp = opts.lua or M.interpreter()
  -- The same interpreter gets this process's search paths; another one keeps its
  -- own (C modules are built per Lua version) and only learns where this tree is.
  local root = module_root()
  local prefix = root and (root .. "/?.lua;" .. root .. "/?/init.lua;") or ""
  local setup
  if opts.lua then
    setup = string.format("package.path=%q..package.path;", prefix)
  else
    setup = string.format("package.path=%q; package.cpath=%q;", prefix .. package.path, package.cpath)
  end
  local code = string.format("%s require('openai.finetunes.fake').start(%s)", setup, serialize(server_opts))
  local cmd = string.format("%s -e %s </dev/null >%s 2>&1 & echo $!", util.shell_quote(interp),
    util.shell_quote(code), util.shell_quote(log_file))
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("*l"))
  p:close()
  if not pid then
    util.rm_rf(state_dir)
    error("fake server: could not start " .. interp, 2)
  end
  local handle = setmetatable({ pid = pid, state_dir = state_dir, log_file = log_file,
    data_dir = server_opts.data_dir, interpreter = interp }, Handle)
  local deadline = socket.gettime() + (tonumber(opts.startup_timeout) or 15)
  while true do
    local text = util.read_file(server_opts.port_file)
    local port = text and tonumber(text:match("%d+"))
    if port then
      local c = socket.tcp()
      c:settimeout(1)
      local ok = c:connect("127.0.0.1", port)
      c:close()
      if ok then
        handle.port = port
        handle.endpoint = "http://127.0.0.1:" .. port
        local mode = require("openai.finetunes.fake.modes").module(opts)
        handle.base_url = handle.endpoint .. mode.base_path
        if mode.DEFAULT_API_VERSION then
          handle.api_version = opts.api_version or mode.DEFAULT_API_VERSION
        end
        return handle
      end
    end
    if not pid_alive(pid) or socket.gettime() > deadline then
      local log = util.read_file(log_file) or ""
      if pid_alive(pid) then os.execute("kill " .. pid .. " 2>/dev/null") end
      util.rm_rf(state_dir)
      error("fake server did not start (" .. interp .. "):\n" .. log, 2)
    end
    socket.sleep(0.01)
  end
end

return M
