-- openai.finetunes.call.scheduler: many prepared requests of one client in flight
-- at once, for the helpers that drive their own transfers (batch.lua,
-- large_upload.lua). Each request is one call of lifecycle.lua, the rules a
-- plain method call has: the response cache (a hit is served without
-- sending), the circuit breaker asked when the request first starts and told
-- its final outcome (a half-open probe gets no retries), its own retries and
-- backoff by the retry policy (a request waiting to retry frees its slot and
-- holds back no other), its total_timeout. This file only keeps them in flight.
--
--   local run = scheduler.new(client, tasks, {
--     limit = 4,                             -- requests in flight at most
--     done = function(task, result, second)  -- each task's final outcome:
--     end,                                   --   result, meta | nil, err; a returned error ends the run
--     retry = function(task) end,            -- optional: a retry of task was scheduled
--     pace = function(run, timeout) end,     -- optional: work between polls, see below
--   })
--   local err = run:run()
--
-- tasks[i] = { name = endpoint name, req = req, max_retries = n | nil,
-- total_timeout = s | nil } as client:_prepare builds them (other fields are the caller's); they start in
-- list order. run() returns nil once every task is done, or the error `done`
-- or `pace` returned, after cancelling the requests in flight. A Lua error
-- raised by a progress callback (or by `done`) cancels them too and propagates.
--
-- pace(run, timeout) runs before each poll with the time the poll would wait;
-- it returns the time to wait instead, or nil, err. run.active is the number
-- of requests in flight, run.inflight maps transfer id -> task.
--
-- Over a transport with start/poll (the C core's curl multi, the ngx
-- transport's light threads) the requests share it; over one with only
-- request() they go one at a time.
local clock = require("openai.finetunes.call.clock")
local lifecycle = require("openai.finetunes.call.lifecycle")
local endpoints = require("openai.finetunes.api.endpoints")

local type, pairs, ipairs, pcall, error, tostring, setmetatable = type, pairs, ipairs, pcall, error, tostring,
  setmetatable
local remove = table.remove
local huge = math.huge

local M = {}

-- How long one poll may wait when nothing else is due (it returns sooner as
-- soon as a transfer finishes).
local IDLE_POLL = 1

-- start/poll/cancel over a transport that only has request(): one exchange at a time.
local function sequential(transport)
  local queued, next_id = {}, 0
  return {
    start = function(_, req)
      next_id = next_id + 1
      queued[#queued + 1] = { id = next_id, req = req }
      return next_id
    end,
    poll = function()
      local q = remove(queued, 1)
      if not q then return {} end
      local ok, res, err = pcall(transport.request, transport, q.req)
      if not ok then
        return { { id = q.id, err = { kind = "aborted", message = "callback error", callback_error = res } } }
      end
      return { { id = q.id, res = res, err = err } }
    end,
    cancel = function(_, id)
      for i, q in ipairs(queued) do
        if q.id == id then remove(queued, i) return true end
      end
      return false
    end,
  }
end

local Run = {}
Run.__index = Run

function M.new(client, tasks, opts)
  local transport = client:_transport()
  local driver, limit = transport, opts.limit
  if type(transport.start) ~= "function" or type(transport.poll) ~= "function" then
    driver, limit = sequential(transport), 1
  end
  local env = client:_calls()
  local run = setmetatable({
    transport = transport, driver = driver, limit = limit,
    on_done = opts.done, on_retry = opts.retry, pace = opts.pace,
    ready = {}, waiting = {}, inflight = {}, active = 0,
  }, Run)
  for i = #tasks, 1, -1 do -- a stack: pops in list order
    local task = tasks[i]
    task.call = lifecycle.new(env, endpoints[task.name], task.req, task.max_retries, task.total_timeout)
    run.ready[#run.ready + 1] = task
  end
  return run
end

function Run:now()
  return clock.now(self.transport)
end

-- Starts a task (or finishes it at once: a cache hit, an open circuit, its
-- total_timeout spent, a transport that refuses it). Returns what `done`
-- returned, if it ran.
function Run:launch(task)
  local call = task.call
  if call.attempt == 0 then
    local done, result, second = call:open()
    if done then return self.on_done(task, result, second) end
  end
  local req = call:next_attempt()
  if not req then return self.on_done(task, call:expired()) end
  local started, id, err = pcall(self.driver.start, self.driver, req)
  if not started then
    -- the ngx transport raises outside the phases that have cosockets
    id, err = nil, { kind = "invalid_request", message = tostring(id) }
  end
  if id == nil then
    -- refused before anything was sent: final, as from the blocking request
    return self.on_done(task, call:refused(err or { kind = "invalid_request",
      message = "the transport refused the request" }))
  end
  self.inflight[id] = task
  self.active = self.active + 1
end

-- A finished exchange: a retry scheduled, or the task's final outcome.
function Run:complete(task, res, err)
  local call = task.call
  if err and err.callback_error ~= nil then
    call:abandon()
    error(err.callback_error, 0)
  end
  local delay = call:attempted(res, err)
  if not delay then return self.on_done(task, call:close(res, err)) end
  if self.on_retry then self.on_retry(task) end
  task.due = self:now() + delay
  self.waiting[#self.waiting + 1] = task
end

function Run:step()
  -- retries that are due go first, then fresh tasks, up to the limit
  local now = self:now()
  local next_due = huge
  local waiting, ready = self.waiting, self.ready
  for i = #waiting, 1, -1 do
    local task = waiting[i]
    if task.due <= now then
      remove(waiting, i)
      ready[#ready + 1] = task
    elseif task.due < next_due then
      next_due = task.due
    end
  end
  while self.active < self.limit and #ready > 0 do
    local failed = self:launch(remove(ready))
    if failed then return failed end
  end
  local timeout = next_due < huge and next_due - now or IDLE_POLL
  if self.pace then
    local paced, failed = self.pace(self, timeout)
    if not paced then return failed end
    timeout = paced
  end
  if self.active == 0 then
    if #waiting > 0 and timeout > 0 then clock.sleep(self.transport, timeout) end
    return nil
  end
  if timeout < 0 then timeout = 0 end
  for _, c in ipairs(self.driver:poll(timeout)) do
    local task = self.inflight[c.id]
    if task then
      self.inflight[c.id] = nil
      self.active = self.active - 1
      local failed = self:complete(task, c.res, c.err)
      if failed then return failed end
    end
  end
  return nil
end

function Run:cancel_all()
  for id, task in pairs(self.inflight) do
    self.driver:cancel(id)
    task.call:abandon()
  end
  self.inflight, self.active = {}, 0
end

function Run:run()
  local ok, failed = pcall(function()
    while #self.ready > 0 or #self.waiting > 0 or self.active > 0 do
      local err = self:step()
      if err then return err end
    end
    return nil
  end)
  if not ok or failed then self:cancel_all() end
  if not ok then error(failed, 0) end
  return failed
end

return M
