-- The fake OpenAI server, from a spec's point of view.
--
--   local fake = require("spec.support.fake_server")
--   local server = fake.start()          -- fresh state; shared by every spec file of the run
--   local client = ft.new{api_key = "sk-test", base_url = server.base_url}
--   local az = fake.start{azure = true, ad_token = "t"}   -- an Azure OpenAI stand-in:
--   az.endpoint, az.base_url (endpoint .. "/openai/v1"), az.api_version, az:set_ad_token(t)
--   ... server:requests(), server:last_request(), server:fault{...}, server:reset()
--
-- One server process serves the whole busted run: busted reloads this module for
-- every spec file (auto-insulate), so the running server is found again through a
-- small state file keyed by the busted process id. The server exits by itself when
-- that process is gone (--watch-pid) or after 10 idle minutes.
--
-- Talks to the server with LuaSocket and the fake's own JSON codec: no client code.
local fake = require("openai.finetunes.fake")
local json = require("openai.finetunes.fake.json")
local util = require("openai.finetunes.fake.util")

local M = {}

-- Options that need their own server process (everything else is set per reset).
local PROCESS_OPTIONS = { "api_key", "proxy_auth", "org", "log_limit", "keepalive_timeout",
  "azure", "api_version", "ad_token", "training_unavailable" }

-- A short stable hash (djb2 mod 2^32, plain arithmetic: Lua 5.1 has no bit operators)
-- that keeps long option keys distinct after they are cut to fit a file name.
local function hash(s)
  local h = 5381
  for i = 1, #s do h = (h * 33 + s:byte(i)) % 4294967296 end
  return string.format("%08x", h)
end

local Server = {}
Server.__index = Server

local function option_key(opts)
  local parts = {}
  for _, k in ipairs(PROCESS_OPTIONS) do
    if opts[k] ~= nil then parts[#parts + 1] = k .. "=" .. tostring(opts[k]) end
  end
  if #parts == 0 then return "default" end
  local key = table.concat(parts, ",")
  local escaped = key:gsub("[^%w]", function(c) return string.format("%%%02X", c:byte()) end)
  if #escaped <= 80 then return escaped end
  return escaped:sub(1, 71) .. "-" .. hash(key)
end

local function state_file(opts)
  return string.format("%s/openai-ft-fake-%d-%s.json", os.getenv("TMPDIR") or "/tmp", fake.pid(),
    option_key(opts))
end

-- control(method, path, body) -> decoded answer (raises on failure)
function Server:control(method, path, body)
  local status, text = fake.control_request(self.port, method, path, body and json.encode(body) or nil)
  if not status then
    error("fake server: " .. method .. " " .. path .. " failed: " .. tostring(text), 2)
  end
  local value = json.decode(text)
  if status >= 400 then
    error(string.format("fake server: %s %s -> %d %s", method, path, status, text), 2)
  end
  return value
end

function Server:url(path)
  return "http://127.0.0.1:" .. self.port .. (path or "")
end

-- requests(filter) -> list of log entries, oldest first. filter: {path = Lua pattern,
-- since = seq, method = "POST"}
function Server:requests(filter)
  filter = filter or {}
  local q = {}
  if filter.since then q[#q + 1] = "since=" .. tostring(filter.since) end
  if filter.path then q[#q + 1] = "path=" .. (filter.path:gsub("[^%w%-_.~]", function(c)
    return string.format("%%%02X", c:byte())
  end)) end
  local list = self:control("GET", "/_fake/requests" .. (#q > 0 and ("?" .. table.concat(q, "&")) or ""))
  if filter.method then
    local out = json.array()
    for _, e in ipairs(list) do
      if e.method == filter.method then out[#out + 1] = e end
    end
    list = out
  end
  return list
end

function Server:last_request()
  local list = self:control("GET", "/_fake/requests?last=1")
  return list[#list]
end

-- Sequence number of the newest log entry (pass as `since` to see only newer ones).
function Server:mark()
  local last = self:last_request()
  return last and last.seq or 0
end

-- reset{speed = x}: empty state, no faults, empty log, clock back to real time.
function Server:reset(opts)
  self:control("POST", "/_fake/reset", { speed = (opts and opts.speed) or self.speed })
  return self
end

-- fault(rule) or fault(spec_string, match) installs fault rules; see fake/README.md.
--   server:fault{match = {method = "POST", path = "^/v1/files$"}, times = 2, fault = "429;retry_after=1"}
--   server:fault("500", {path = "/models"})   -- once, on the first matching request
function Server:fault(spec, match)
  local body
  if type(spec) == "string" then
    match = match or {}
    body = { fault = spec, times = match.times, skip = match.skip,
      match = { method = match.method, path = match.path } }
  else
    body = spec
  end
  return self:control("POST", "/_fake/faults", body)
end

function Server:clear_faults()
  return self:control("DELETE", "/_fake/faults")
end

function Server:advance(seconds)
  return self:control("POST", "/_fake/clock", { advance = seconds })
end

function Server:set_speed(speed)
  return self:control("POST", "/_fake/clock", { speed = speed })
end

function Server:next_job(plan)
  return self:control("POST", "/_fake/next_job", plan or {})
end

function Server:next_file(spec)
  return self:control("POST", "/_fake/next_file", spec or {})
end

function Server:state()
  return self:control("GET", "/_fake/state")
end

-- set_ad_token(token): azure mode: only this bearer token is accepted from now on
-- (the one the server started with comes back at reset).
function Server:set_ad_token(token)
  return self:control("POST", "/_fake/ad_token", { token = token })
end

-- set_training(available): false makes job creation answer 403 training_not_available
function Server:set_training(available)
  return self:control("POST", "/_fake/training", { available = available })
end

-- stop(): shut this server down (the next start() spawns a new one).
function Server:stop()
  if self.handle then
    self.handle:stop()
  else
    fake.control_request(self.port, "POST", "/_fake/shutdown", "{}", nil, 2)
  end
  os.remove(self.state_file)
end

local function alive(port)
  local status = fake.control_request(port, "GET", "/_fake/health", nil, nil, 2)
  return status == 200
end

-- start(opts) -> server in a fresh state. opts: speed (clock speed, default 1),
-- keep_state (do not reset a reused server), api_key / proxy_auth / org / log_limit /
-- keepalive_timeout / azure / api_version / ad_token (a separate server process per
-- distinct value), lua (interpreter for the child).
function M.start(opts)
  opts = opts or {}
  local file = state_file(opts)
  local self = setmetatable({ speed = opts.speed or 1, state_file = file }, Server)
  local saved = util.read_file(file)
  local info = saved and json.decode(saved)
  if type(info) == "table" and info.port and alive(info.port) then
    self.port, self.pid, self.data_dir = info.port, info.pid, info.data_dir
  else
    local spawn_opts = { watch_pid = fake.pid(), idle_timeout = 600, speed = self.speed, quiet = false,
      lua = opts.lua, remove_on_exit = file }
    for _, k in ipairs(PROCESS_OPTIONS) do spawn_opts[k] = opts[k] end
    local h = fake.spawn(spawn_opts)
    self.handle = h
    self.port, self.pid, self.data_dir = h.port, h.pid, h.data_dir
    util.write_file(file, json.encode({ port = h.port, pid = h.pid, data_dir = h.data_dir }))
  end
  self.endpoint = "http://127.0.0.1:" .. self.port
  local mode = require("openai.finetunes.fake.modes").module(opts)
  self.base_url = self.endpoint .. mode.base_path
  if mode.DEFAULT_API_VERSION then
    self.api_version = opts.api_version or mode.DEFAULT_API_VERSION
  end
  if not opts.keep_state then self:reset() end
  return self
end

return M
