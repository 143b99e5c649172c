--- openai.finetunes.call.lifecycle: one call, from the response cache to its
-- final outcome, the same for a plain method call (`perform`, blocking over
-- transport:request) and for the calls `scheduler.lua` keeps in flight over
-- start/poll (batch, large uploads). The rules, in order:
--
--   1. the response cache (cache.lua): a hit is the outcome, nothing is sent;
--   2. the circuit breaker (retry.lua's policy): an open circuit is the
--      outcome (kind "circuit_open", 0 attempts); a half-open probe gets no
--      retries, its outcome alone decides the circuit;
--   3. attempts: after each one the policy settles it (retry.lua: a delay
--      before the next, the on_retry hook told; or final, the breaker told);
--      waits go through the transport's clock (clock.lua). With a
--      `total_timeout`, each attempt's timeouts are cut to the time left and
--      no retry waits past it; when it runs out before an attempt, the last
--      outcome is final (a timeout error before the first);
--   4. the final outcome: decoded by `env.finish` (client.lua: result, meta |
--      nil, err), then handed to the cache (a write drops what it changes).
--
-- env = { transport =, policy =, cache = nil | cache, finish = nil |
-- function(row, res, err, attempts, req, transport) }: one per client
-- (client:_calls()).
-- Without `finish` (Policy:perform) the outcome is the raw res, err, attempts.
local clock = require("openai.finetunes.call.clock")
local cache_mod = require("openai.finetunes.call.cache")

local setmetatable, pcall, error, pairs = setmetatable, pcall, error, pairs

local M = {}

local Call = {}
Call.__index = Call

--- A call of endpoint `row` (nil: no cache, raw outcome) with request `req`;
-- `max_retries` and `total_timeout` (seconds) override the client's when set.
function M.new(env, row, req, max_retries, total_timeout)
  return setmetatable({ env = env, row = row, req = req, max_retries = max_retries, total_timeout = total_timeout,
    attempt = 0 }, Call)
end

-- The req of an attempt with `left` seconds before the deadline: a copy whose
-- per-attempt timeouts are cut to it, so one stalled attempt cannot outlive
-- the call (0 or absent means "no limit" to the transports).
local CUT = { "timeout", "connect_timeout", "idle_timeout" }
local function within(req, left)
  local r = {}
  for k, v in pairs(req) do r[k] = v end
  for i = 1, #CUT do
    local name = CUT[i]
    if name == "timeout" or r[name] then
      if not r[name] or r[name] <= 0 or r[name] > left then r[name] = left end
    end
  end
  return r
end

-- (The steps are local functions, and Call's methods too: perform, the hot
-- path of every method call, calls them without a metatable lookup.)

--- Before the first attempt: `true, outcome...` when the call ends here (a
-- cache hit, an open circuit), `false` when it is to be sent.
local close
local function open(self)
  local env = self.env
  local cache, row = env.cache, self.row
  if cache and row then
    local hit, ticket = cache:get(row, self.req)
    if hit then return true, cache_mod.served(env.finish(row, hit, nil, 0, self.req)) end
    self.ticket = ticket
  end
  local ok, probe = env.policy:gate(env.transport)
  if not ok then return true, close(self, nil, probe) end
  self.probe = probe
  if probe then self.max_retries = 0 end
  if self.total_timeout then self.deadline = clock.now(env.transport) + self.total_timeout end
  return false
end
Call.open = open

--- The req of the next attempt (counted), or nil when the deadline has
-- passed: then `expired` gives the outcome.
local function next_attempt(self)
  local req, deadline = self.req, self.deadline
  if deadline then
    local left = deadline - clock.now(self.env.transport)
    if left <= 0 then return nil end
    req = within(req, left)
  end
  self.attempt = self.attempt + 1
  return req
end
Call.next_attempt = next_attempt

--- Attempt `self.attempt` ended in `res` or `err`: the delay before the next
-- attempt, or nil when this outcome is final.
local function attempted(self, res, err)
  local env = self.env
  local delay = env.policy:settle(env.transport, self.req, self.attempt, res, err, self.max_retries, self.deadline)
  if delay then self.last_res, self.last_err = res, err end
  return delay
end
Call.attempted = attempted

--- The transport refused the request before sending it: final at once (no
-- retry can cure it), and the breaker is told.
function Call:refused(err)
  local env = self.env
  env.policy:record(not env.policy:is_failure(nil, err), clock.now(env.transport))
  return close(self, nil, err)
end

--- The deadline passed before the next attempt: the final outcome, a timeout
-- before the first attempt, else the last attempt's (the breaker told).
local abandon
local function expired(self)
  if self.attempt == 0 then
    abandon(self)
    return close(self, nil, { kind = "timeout", message = "the call's total_timeout expired before it was sent",
      attempts = 0 })
  end
  local policy, res, err = self.env.policy, self.last_res, self.last_err
  policy:record(not policy:is_failure(res, err), clock.now(self.env.transport))
  if err then err.attempts = self.attempt end
  return close(self, res, err)
end
Call.expired = expired

--- The call ended without an outcome (a callback raised, it was cancelled):
-- a probe lets the breaker try another.
function abandon(self)
  if self.probe then self.env.policy:abandon() end
end
Call.abandon = abandon

--- The final outcome: result, second (decoded; the cache told) or, without
-- env.finish, res, err, attempts.
function close(self, res, err)
  local env = self.env
  local finish = env.finish
  if not finish then return res, err, self.attempt end
  local result, second = finish(self.row, res, err, self.attempt, self.req, env.transport)
  if self.ticket then env.cache:done(self.ticket, result ~= nil and res or nil) end
  return result, second
end
Call.close = close

--- The blocking driver: the call through transport:request, retried per the
-- policy. A Lua error raised by the transport (a failing progress callback)
-- is never retried: it propagates unchanged.
function M.perform(env, row, req, max_retries, total_timeout)
  -- (a plain table: perform calls the steps directly)
  local call = { env = env, row = row, req = req, max_retries = max_retries, total_timeout = total_timeout,
    attempt = 0 }
  local done, result, second, third = open(call)
  if done then return result, second, third end
  local transport = env.transport
  while true do
    local attempt_req = next_attempt(call)
    if not attempt_req then return expired(call) end
    local called, res, err = pcall(transport.request, transport, attempt_req)
    if not called then
      abandon(call)
      error(res, 0)
    end
    if res == nil and err == nil then
      abandon(call)
      error("transport returned neither a response nor an error", 2)
    end
    local delay = attempted(call, res, err)
    if not delay then
      if err then err.attempts = call.attempt end
      return close(call, res, err)
    end
    if delay > 0 then clock.sleep(transport, delay) end
  end
end

return M
