-- A transport that gets its credential from a token provider (Microsoft Entra
-- ID for Azure OpenAI, or any `auth.token_provider`): the provider is called
-- before every exchange, retries included, and once more when an exchange is
-- answered 401, which is then sent again with the new token (tokens expire;
-- the provider is the one that knows when to refresh). What the SDKs'
-- AzureOpenAI clients do, for both ways of sending: request, and start/poll.
--
-- The token goes straight from the provider into the transport's
-- `set_credential` (the C core keeps it; the ngx transport in a closure): it is
-- never stored in Lua, never in a req, never in an error. A provider that
-- raises or returns something that is not a token makes the exchange fail
-- with kind "credentials" (not retried).
local errors = require("openai.finetunes.errors")
local clock = require("openai.finetunes.call.clock")
local config = require("openai.finetunes.config")

local type, pcall, setmetatable, tostring, ipairs, pairs, next = type, pcall, setmetatable, tostring, ipairs,
  pairs, next
local format = string.format

local M = {}

local Wrapper = {}
Wrapper.__index = Wrapper

local function credentials_error(message)
  return { kind = "credentials", message = message }
end

-- Asks the provider and hands the token to the transport; true or nil, err.
local function refresh(self)
  local ok, token = pcall(self.provider)
  if not ok then
    return nil, credentials_error(format("%s raised an error: %s", self.name, errors.one_line(tostring(token), 200)))
  end
  if type(token) ~= "string" then
    return nil, credentials_error(format("%s must return a token string, got %s", self.name, type(token)))
  end
  -- Checked like api_key (RFC 6750 b64token) and never echoed.
  if not config.is_bearer_token(token) then
    return nil, credentials_error(format("%s returned a string that is not a bearer token "
      .. "(empty, or characters other than letters, digits and - . _ ~ + /)", self.name))
  end
  self.inner:set_credential(token)
  return true
end

local function unauthorized(res)
  return res ~= nil and res.status == 401
end

function Wrapper:request(req)
  local ok, err = refresh(self)
  if not ok then return nil, err end
  local res, rerr = self.inner:request(req)
  if unauthorized(res) then
    ok, err = refresh(self)
    if not ok then return nil, err end
    res, rerr = self.inner:request(req)
  end
  return res, rerr
end

-- start/poll: the caller sees the id of the first start; a re-sent exchange
-- runs under a new transport id mapped back to it.
local function start(self, req)
  local ok, err = refresh(self)
  if not ok then return nil, err end
  local id, serr = self.inner:start(req)
  if not id then return nil, serr end
  self.tasks[id] = { req = req, id = id }
  self.current[id] = id
  return id
end

-- One completion of the transport -> the completion to report, or nil when the
-- exchange was answered 401 and has been sent again.
local function settle(self, c)
  local task = self.tasks[c.id]
  self.tasks[c.id] = nil
  if not task then return c end
  if unauthorized(c.res) and not task.resent then
    task.resent = true
    local ok, err = refresh(self)
    local id
    if ok then id, err = self.inner:start(task.req) end
    if id then
      self.tasks[id] = task
      self.current[task.id] = id
      return nil
    end
    self.current[task.id] = nil
    return { id = task.id, err = err }
  end
  self.current[task.id] = nil
  c.id = task.id
  return c
end

-- Loops while every completion was a re-sent 401, so `poll(nil)` still
-- returns at the first reportable completion and `poll(t)` after t seconds.
local function poll(self, timeout)
  local inner = self.inner
  local deadline = timeout and clock.now(inner) + timeout
  while true do
    local wait = deadline and deadline - clock.now(inner)
    if wait and wait < 0 then wait = 0 end
    local out = {}
    for _, c in ipairs(inner:poll(wait)) do
      local report = settle(self, c)
      if report then out[#out + 1] = report end
    end
    if #out > 0 or next(self.current) == nil or (deadline and clock.now(inner) >= deadline) then
      return out
    end
  end
end

-- Exchanges started and not yet reported (a re-sent one counts once).
local function pending(self)
  local n = 0
  for _ in pairs(self.current) do n = n + 1 end
  return n
end

local function cancel(self, id)
  local current = self.current[id]
  if not current then return false end
  self.current[id] = nil
  self.tasks[current] = nil
  return self.inner:cancel(current)
end

function Wrapper:close()
  self.tasks, self.current = {}, {}
  if self.inner.close then return self.inner:close() end
  return true
end

Wrapper.__close = Wrapper.close

function Wrapper:__tostring()
  return "openai.finetunes.transport.token_auth (" .. tostring(self.inner) .. ")"
end

--- wrap(transport, provider, name) -> a transport with the same methods.
-- `transport` must have set_credential; `name` is how errors call the provider.
function M.wrap(inner, provider, name)
  local self = setmetatable({ inner = inner, provider = provider, name = name, tasks = {}, current = {} }, Wrapper)
  -- Only what the transport has: helpers look for start/poll/now/sleep.
  if inner.start and inner.poll and inner.cancel then
    self.start, self.poll, self.cancel, self.pending = start, poll, cancel, pending
  end
  if inner.redact then self.redact = function(w, s) return w.inner:redact(s) end end
  if inner.now then self.now = function(w) return w.inner:now() end end
  if inner.sleep then self.sleep = function(w, s) return w.inner:sleep(s) end end
  return self
end

return M
