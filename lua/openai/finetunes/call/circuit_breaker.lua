--- A circuit breaker for one client: after `failure_threshold` consecutive failed
-- calls within `window` seconds it opens and refuses calls for `reset_timeout`
-- seconds, then lets a single probe call through (half-open). The probe's success
-- closes it; its failure opens it again for another `reset_timeout`.
--
-- It keeps no clock: every method takes `now` (seconds, monotonic) from the
-- caller, so the curl transport's clock and ngx.now() both work, and the state
-- machine can be driven step by step.
local M = {}

local Breaker = {}
Breaker.__index = Breaker

local CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

--- `opts` = { failure_threshold, window, reset_timeout }, already validated.
function M.new(opts)
  return setmetatable({
    threshold = opts.failure_threshold,
    window = opts.window,
    reset_timeout = opts.reset_timeout,
    st = CLOSED,
    failures = {},      -- times of the current streak of failures, oldest first
    opened_at = nil,
    probe_since = nil,  -- when the half-open probe was let through
  }, Breaker)
end

function Breaker:state()
  return self.st
end

local function refusal(self, wait)
  return {
    kind = "circuit_open",
    message = ("circuit breaker open after %d consecutive failed calls; next attempt allowed in %.1f s")
      :format(self.threshold, wait),
    retry_after = wait,
  }
end

--- May a call go ahead now? Returns `true, is_probe` or `false, err` where
-- `err = {kind = "circuit_open", message, retry_after}`.
function Breaker:allow(now)
  if self.st == CLOSED then return true, false end
  if self.st == OPEN then
    local wait = self.opened_at + self.reset_timeout - now
    if wait > 0 then return false, refusal(self, wait) end
    self.st, self.probe_since = HALF_OPEN, now
    return true, true
  end
  -- Half-open with a probe out. A probe that never reports back (its caller
  -- raised, or a batch dropped it) must not wedge the breaker: after another
  -- reset_timeout a new probe may go.
  local wait = self.probe_since + self.reset_timeout - now
  if wait > 0 then return false, refusal(self, wait) end
  self.probe_since = now
  return true, true
end

local function open(self, now)
  self.st, self.opened_at, self.probe_since = OPEN, now, nil
  self.failures = {}
end

--- Report the outcome of a call that `allow` let through.
function Breaker:record(success, now)
  if success then
    -- Any success shows the service answers: close and forget the streak.
    self.st, self.opened_at, self.probe_since = CLOSED, nil, nil
    self.failures = {}
    return
  end
  if self.st == HALF_OPEN then return open(self, now) end
  if self.st == OPEN then return end  -- a call started before the breaker opened
  local f = self.failures
  f[#f + 1] = now
  -- Keep only the failures inside the window (the streak is consecutive: any
  -- success above cleared it).
  local first = 1
  while f[first] and now - f[first] > self.window do first = first + 1 end
  if first > 1 then
    local kept = {}
    for i = first, #f do kept[#kept + 1] = f[i] end
    self.failures, f = kept, kept
  end
  if #f >= self.threshold then open(self, now) end
end

--- The call let through by `allow` ended without an outcome that says anything
-- about the service (its caller raised, or it was cancelled): free the probe slot.
function Breaker:abandon()
  if self.st == HALF_OPEN then
    self.st, self.opened_at, self.probe_since = OPEN, -math.huge, nil
  end
end

return M
