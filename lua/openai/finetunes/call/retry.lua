--- The retry policy every transport shares: which failures get another attempt,
-- how long to wait before it, and the optional circuit breaker in front.
--
-- Rules (the official SDKs': openai-python's `_base_client.py`, openai-node's
-- `src/client.ts`; then past them):
--  * transport errors of kind connect, dns, io, timeout and proxy are retried,
--    but not a local failure (an io error naming a local file in err.path);
--    tls, invalid_request, too_large, aborted, closed and anything unknown are
--    not, nor is a Lua error raised by a callback (it propagates to the caller);
--  * a response header `x-should-retry: true|false` is obeyed first;
--  * otherwise statuses 408, 409, 429 and every status >= 500 are retried
--    (`retry.statuses` changes the set);
--  * the wait is `retry-after-ms`, else `Retry-After` (seconds or HTTP date) when
--    it is > 0 and <= `retry.max_retry_after` (default 60 s). A larger hint is
--    not slept on (a client that sleeps an hour looks hung) and does not stop
--    the retries either: we fall back to the backoff, as openai-node does
--    (openai-python instead gives up when the hint is above 120 s). The hint is
--    still reported to the caller as `err.retry_after`;
--  * otherwise `min(base_delay * 2^n, max_delay) * (1 - jitter * rand)` with n
--    the retries already made: 0.5, 1, 2, 4, 8, 8 ... s less up to 25 %.
local retry_after = require("openai.finetunes.call.retry_after")
local misuse = require("openai.finetunes.misuse")
local circuit_breaker = require("openai.finetunes.call.circuit_breaker")
local clock = require("openai.finetunes.call.clock")
local lifecycle = require("openai.finetunes.call.lifecycle")

local M = {}

M.DEFAULTS = {
  max_retries = 2,
  max_retry_after = 60,
  base_delay = 0.5,
  max_delay = 8,
  jitter = 0.25,
}
M.DEFAULT_STATUSES = { 408, 409, 429, "5xx" }
M.BREAKER_DEFAULTS = { failure_threshold = 5, window = 60, reset_timeout = 30 }

-- Transport error kinds where the very same request can succeed next time.
local RETRYABLE_KINDS = { connect = true, dns = true, io = true, timeout = true, proxy = true }
-- Transport error kinds caused by the caller, which say nothing about the
-- service's health and so never count towards opening the circuit.
local CALLER_KINDS = { invalid_request = true, aborted = true, closed = true, credentials = true }

-- A failure on this machine (a download's directory missing, a full disk, an
-- unreadable upload): the transport names the file in `err.path`
-- (oft_error_push_local, src/exchange/outcome.h). Sending again cannot cure it and
-- it says nothing about the service: never retried, never a breaker failure.
local function is_local(err)
  return err.path ~= nil
end

local floor = math.floor

-- Jitter needs per-process randomness, and math.random is seeded identically
-- in every process on Lua 5.1-5.3 and LuaJIT (a herd of workers would retry in
-- lockstep); reseeding it would change the user's sequence. So: our own
-- Park-Miller generator, exact in doubles and integers alike.
local seed do
  local addr = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
  seed = floor((os.time() + os.clock() * 1e6 + addr) % 2147483646) + 1
end
local function random()
  seed = seed * 16807 % 2147483647
  return (seed - 1) / 2147483646
end

local function is_count(v)
  return type(v) == "number" and v >= 0 and v < math.huge and v == floor(v)
end

local function is_positive(v)
  return type(v) == "number" and v > 0 and v < math.huge
end

-- Raises the misuse `<name> must be <what>, got <v>` (an invalid option).
local function check(ok, name, what, v)
  if not ok then
    misuse.fail(("%s must be %s, got %s"):format(name, what, misuse.describe(v)),
      { field = name, code = "invalid_option" })
  end
end

-- statuses: a list of integer statuses and/or the string "5xx" (every status
-- >= 500) → a predicate.
local function status_matcher(list)
  check(type(list) == "table", "retry.statuses", "a list of HTTP statuses", list)
  local set, any5xx = {}, false
  for i, s in ipairs(list) do
    if s == "5xx" then
      any5xx = true
    else
      check(is_count(s) and s >= 100 and s <= 599, ("retry.statuses[%d]"):format(i),
        'an HTTP status (100-599) or "5xx"', s)
      set[s] = true
    end
  end
  return function(status) return set[status] or (any5xx and status >= 500) or false end
end

local Policy = {}
Policy.__index = Policy

--- Build the policy from the client's options (README "Options"):
-- `max_retries`, `retry = {statuses, max_retry_after, base_delay, max_delay,
-- jitter, on_retry}`, `circuit_breaker = {failure_threshold, window,
-- reset_timeout}` (off unless given). Misuse raises (misuse.lua) naming the
-- option; ft.new formats it.
function M.policy(opts)
  opts = opts or {}
  check(type(opts) == "table", "options", "a table", opts)
  local p = setmetatable({}, Policy)

  local mr = opts.max_retries
  if mr == nil then mr = M.DEFAULTS.max_retries end
  check(is_count(mr), "max_retries", "a non-negative integer", mr)
  p.max_retries = mr

  local r = opts.retry
  if r == nil then r = {} end
  check(type(r) == "table", "retry", "a table", r)
  for _, name in ipairs({ "max_retry_after", "base_delay", "max_delay" }) do
    local v = r[name]
    if v == nil then v = M.DEFAULTS[name] end
    check(is_positive(v), "retry." .. name, "a positive number of seconds", v)
    p[name] = v
  end
  local j = r.jitter
  if j == nil then j = M.DEFAULTS.jitter end
  check(type(j) == "number" and j >= 0 and j <= 1, "retry.jitter", "a number between 0 and 1", j)
  p.jitter = j
  check(r.on_retry == nil or type(r.on_retry) == "function", "retry.on_retry", "a function", r.on_retry)
  p.on_retry = r.on_retry
  p.retryable_status = status_matcher(r.statuses or M.DEFAULT_STATUSES)

  local cb = opts.circuit_breaker
  check(cb == nil or cb == false or type(cb) == "table", "circuit_breaker", "a table or false", cb)
  if cb then
    local o = {}
    for name, default in pairs(M.BREAKER_DEFAULTS) do
      local v = cb[name]
      if v == nil then v = default end
      o[name] = v
    end
    check(is_count(o.failure_threshold) and o.failure_threshold >= 1, "circuit_breaker.failure_threshold",
      "a positive integer", o.failure_threshold)
    check(is_positive(o.window), "circuit_breaker.window", "a positive number of seconds", o.window)
    check(is_positive(o.reset_timeout), "circuit_breaker.reset_timeout", "a positive number of seconds",
      o.reset_timeout)
    p.breaker = circuit_breaker.new(o)
  end
  return p
end

--- The positive Retry-After hint of a response's headers, in seconds, or nil
-- (for `err.retry_after`). `now` is the Unix time for HTTP dates (os.time()).
function M.retry_after(headers, now)
  local v = retry_after.seconds(headers, now)
  if v and v > 0 and v < math.huge then return v end
  return nil
end

--- The wait before retry number `n + 1`, n = retries already made (0 first).
function Policy:backoff(n)
  if n > 60 then n = 60 end
  local d = self.base_delay * 2 ^ n
  if d > self.max_delay then d = self.max_delay end
  return d * (1 - self.jitter * random())
end

--- Is this outcome a failure of the service (for the circuit breaker)? Transport
-- errors not caused by the caller, and retryable statuses; a 404 is an answer.
function Policy:is_failure(res, err)
  if err then return not CALLER_KINDS[err.kind] and not is_local(err) end
  return res ~= nil and type(res.status) == "number" and res.status >= 400 and self.retryable_status(res.status)
end

--- Could the very same request succeed if sent again (attempts aside)? The
-- rules above, for a transport error `err` or an answer `res`.
function Policy:retryable(res, err)
  if err then return err.callback_error == nil and not is_local(err) and RETRYABLE_KINDS[err.kind] == true end
  local status = res and res.status
  if type(status) ~= "number" or status < 400 then return false end
  local should = type(res.headers) == "table" and res.headers["x-should-retry"]
  if should == "false" then return false end
  return should == "true" or self.retryable_status(status)
end

--- Retry or not after `attempt` attempts (1 after the first) ended in `res` or
-- `err`; `max_retries` defaults to the policy's. Returns the delay in seconds
-- and why ("retry-after" or "backoff"), or nil when this outcome is final.
-- `time_left` (seconds, optional): a retry whose wait would use it all up is
-- not made, so a call's overall limit holds across its retries.
function Policy:decide(attempt, res, err, max_retries, time_left)
  if attempt - 1 >= (max_retries or self.max_retries) then return nil end
  if not self:retryable(res, err) then return nil end
  local delay, why
  local hint = res and M.retry_after(res.headers)
  if hint and hint <= self.max_retry_after then
    delay, why = hint, "retry-after"
  else
    delay, why = self:backoff(attempt - 1), "backoff"
  end
  if time_left and delay >= time_left then return nil end
  return delay, why
end

--- The circuit breaker gate: `true, is_probe` or `false, err` (kind
-- "circuit_open", with `retry_after`). Always true without a breaker.
-- `now` is the transport's monotonic clock.
function Policy:allow(now)
  if not self.breaker then return true, false end
  return self.breaker:allow(now)
end

--- The gate on the transport's clock (read only when there is a breaker).
function Policy:gate(transport)
  local breaker = self.breaker
  if not breaker then return true, false end
  return breaker:allow(clock.now(transport))
end

--- Report a finished call to the breaker (`success` = not `is_failure`).
function Policy:record(success, now)
  if self.breaker then self.breaker:record(success, now) end
end

--- A call let through as the probe ended without an outcome (raised, cancelled).
function Policy:abandon()
  if self.breaker then self.breaker:abandon() end
end

--- "closed", "open", "half_open", or nil without a breaker.
function Policy:circuit_state()
  return self.breaker and self.breaker:state() or nil
end

--- After attempt number `attempt` of `req` ended in `res` or `err`: the delay
-- before the next attempt (the on_retry hook is told), or nil when this
-- outcome is final (the circuit breaker is told). `max_retries` as in decide;
-- `deadline` (lifecycle.lua's, optional): no retry whose wait reaches it.
function Policy:settle(transport, req, attempt, res, err, max_retries, deadline)
  local delay, why = self:decide(attempt, res, err, max_retries, deadline and deadline - clock.now(transport))
  if not delay then
    if self.breaker then self:record(not self:is_failure(res, err), clock.now(transport)) end
    return nil
  end
  if self.on_retry then
    self.on_retry({
      attempt = attempt, delay = delay, reason = why,
      status = res and res.status, kind = err and err.kind,
      method = req.method, url = req.url,
    })
  end
  return delay
end

--- Perform `req` through `transport`, retrying per the policy: the call
-- lifecycle of lifecycle.lua without a cache or a decoder. Returns `res, err,
-- attempts`: the final response (any status) or the final transport error
-- (which also gets `err.attempts`), and the number of attempts made (0 when
-- the circuit breaker refused the call). `opts.max_retries` overrides the
-- client's for this call; `opts.total_timeout` (seconds) bounds the whole
-- call: every attempt, and the waits between them, get at most the time left
-- (a timeout error when it runs out). A Lua error raised by the transport (a
-- failing progress callback) is never retried: it propagates unchanged.
function Policy:perform(transport, req, opts)
  local max_retries = self.max_retries
  if opts ~= nil and opts.max_retries ~= nil then
    check(is_count(opts.max_retries), "max_retries", "a non-negative integer", opts.max_retries)
    max_retries = opts.max_retries
  end
  return lifecycle.perform({ transport = transport, policy = self }, nil, req, max_retries,
    opts and opts.total_timeout)
end

return M
