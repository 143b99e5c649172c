-- Starting spec/support/hostile_http.lua from a spec: a misbehaving loopback
-- server in its own process, and what it saw.
--
--   local hostile = require("spec.support.hostile")
--   local srv = hostile.start("stall")   -- srv.base_url = "http://127.0.0.1:PORT/v1"
--   ... srv:requests() -> { {method=, target=, body_bytes=}, ... }; srv:clear(); srv:stop()
local fake = require("openai.finetunes.fake")
local util = require("openai.finetunes.fake.util")
local socket = require("socket")

local M = {}

local LUA = os.getenv("OFT_LUA") or "lua5.4"
local SCRIPT = debug.getinfo(1, "S").source:sub(2):gsub("hostile%.lua$", "hostile_http.lua")

local Server = {}
Server.__index = Server

function M.start(mode)
  local dir = os.tmpname()
  os.remove(dir)
  assert(util.mkdir_p(dir))
  local port_file, log_file = dir .. "/port", dir .. "/requests.log"
  local p = assert(io.popen(("LUA_PATH=%s %s %s %s %s %s %d >/dev/null 2>%s/stderr & echo $!"):format(
    util.shell_quote(package.path), LUA, util.shell_quote(SCRIPT), mode, util.shell_quote(port_file),
    util.shell_quote(log_file), fake.pid(), util.shell_quote(dir))))
  local pid = p:read("*l")
  p:close()
  local port
  for _ = 1, 200 do
    port = tonumber(util.read_file(port_file) or "")
    if port then break end
    socket.sleep(0.025)
  end
  assert(port, "hostile_http " .. mode .. " did not start: " .. tostring(util.read_file(dir .. "/stderr")))
  return setmetatable({ pid = pid, dir = dir, log = log_file, port = port,
    origin = "http://127.0.0.1:" .. port, base_url = "http://127.0.0.1:" .. port .. "/v1" }, Server)
end

function Server:requests()
  local list = {}
  for line in (util.read_file(self.log) or ""):gmatch("[^\n]+") do
    local method, target, n = line:match("^(%S+) (%S+) (%d+)$")
    list[#list + 1] = { method = method, target = target, body_bytes = tonumber(n) }
  end
  return list
end

function Server:clear()
  os.remove(self.log)
end

function Server:stop()
  if self.pid then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  self.pid = nil
  util.rm_rf(self.dir)
end

return M
