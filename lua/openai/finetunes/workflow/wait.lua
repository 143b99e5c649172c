-- openai.finetunes.workflow.wait: wait for a file to be processed, wait for a job
-- to finish while following its events.
--
--   local file = assert(client:wait_for_file(file.id))
--   if file.status == "error" then error(file.status_details) end
--
--   local job, err = client:wait_for_job(job.id, {
--     on_event = function(event) print(event.created_at, event.message) end,
--     on_status = function(new, old, job) print(old or "-", "->", new) end,
--     poll_interval = 5, timeout = 4 * 3600,
--   })
--
-- client:wait_for_file(id [, opts]) -> file, meta | nil, err
--   Polls `file(id)` until its status is "processed", "error" or "deleted" and
--   returns that file object: a file that failed processing is returned too,
--   with status "error" and the reason in `status_details` (as the SDKs'
--   wait_for_processing does): check `file.status`. A file that does not exist
--   (or was deleted while waiting) gives `nil, err` with the API's 404
--   (`err.kind == "api"`, `err.status == 404`).
--   opts: poll_interval (seconds, default 5), timeout (seconds, default 1800),
--   max_poll_failures (default 5, see below).
--
-- client:wait_for_job(id [, opts]) -> job, meta | nil, err
--   Polls `job(id)` until its status is "succeeded", "failed" or "cancelled"
--   and returns that job: a failed or cancelled job is a result, not an error
--   (check `job.status`, `job.error`).
--   opts:
--     on_event(event, job)     every event of the job exactly once, oldest first
--                              (the API lists newest first; each poll pages back
--                              with `after` until the newest event already
--                              delivered, however many arrived in between).
--                              Without on_event no event is requested.
--     history = true           on_event also gets the events from before the
--                              call (the job's whole log); false: only newer ones
--     on_status(new, old, job) on every status change, `paused` included; the
--                              first poll reports the status found (old = nil).
--                              For one poll, events come before its status.
--     poll_interval = 5        seconds between polls
--     timeout = nil            overall limit in seconds (nil: no limit)
--     event_page_size = 100    `limit` of the event requests (1-100)
--     max_event_pages = 1000   event pages one poll may read (a log that never
--                              ends, `has_more` with new ids every page, is an
--                              error naming the bound, not an endless poll)
--     max_poll_failures = 5    see below
--     events = source          take the job's final webhook event from `source`
--                              instead of polling: an object with take(job_id) ->
--                              event | nil and wait(seconds) (ft.webhook_receiver,
--                              ft.webhook_shared_events inside OpenResty). No status
--                              request is sent until the event (fine_tuning.job.
--                              succeeded/failed/cancelled) for this job arrives; then
--                              one job(id) fetches the job that is returned. on_status
--                              gets that final status once; on_event needs polling and
--                              is refused. With poll_interval given too, it also polls
--                              that often (a fallback for a lost delivery).
--
-- Both (failures):
--   * Misuse (a bad id, an unknown option, a callback that is not a function)
--     raises before any request.
--   * The overall timeout gives `nil, err` with `err.kind == "timeout"` and
--     `err.code == "wait_timeout"` (a transport timeout has no such code);
--     `err.file` / `err.job` is the last object seen, `err.waited` the seconds
--     waited. It is a deadline: every request of every poll, its retries and
--     the waits between them get at most the time left (the call option
--     `total_timeout`), so a stalled server cannot stretch the wait; paging
--     events stops at it too (the message says so). Polls start only before
--     the deadline; the wait ends at it.
--   * A poll that fails after the client's own retries with a transient error
--     (errors.retryable with the client's retry rules: connection, timeout,
--     408/409/429/5xx or retry.statuses, x-should-retry; or an open circuit
--     breaker) does not end the wait: the next poll tries again, up to
--     `max_poll_failures` failed polls in a row; then, and on any other error
--     (401, 404 ...), `nil, err` with that error (`err.job` / `err.file` as above).
--   * An error raised in on_event / on_status stops the wait at once and
--     propagates to the caller unchanged; the job is not touched (not cancelled).
--
-- Sleeps and clock come from the transport (transport:sleep, transport:now),
-- so inside OpenResty the wait yields to nginx instead of blocking the worker.
local clock = require("openai.finetunes.call.clock")
local errors = require("openai.finetunes.errors")
local misuse = require("openai.finetunes.misuse")

local type, pairs, pcall, tostring = type, pairs, pcall, tostring
local format = string.format
local huge = math.huge

local M = {}

M.FILE_DONE = { processed = true, error = true, deleted = true }
M.JOB_DONE = { succeeded = true, failed = true, cancelled = true }
M.DEFAULTS = {
  poll_interval = 5, file_timeout = 1800, event_page_size = 100, max_event_pages = 1000, max_poll_failures = 5,
}

local fail, describe = misuse.fail, misuse.describe

-- Checking options -------------------------------------------------------------

local function positive(v, name)
  if type(v) ~= "number" or v ~= v or v <= 0 or v == huge then
    fail(format("%s must be a number > 0, got %s", name, describe(v)))
  end
end

local function count(v, name, min, max)
  if type(v) ~= "number" or v ~= math.floor(v) or v < min or v > max then
    fail(format("%s must be an integer in %d..%d, got %s", name, min, max, describe(v)))
  end
end

local function check_opts(opts, known)
  if opts == nil then return {} end
  if type(opts) ~= "table" then fail(format("options table expected, got %s", describe(opts))) end
  for k, v in pairs(opts) do
    local kind = known[k]
    if not kind then fail(format("unknown option %s", describe(k))) end
    if kind == "seconds" then
      positive(v, k)
    elseif kind == "function" and type(v) ~= "function" then
      fail(format("%s must be a function, got %s", k, describe(v)))
    elseif kind == "boolean" and type(v) ~= "boolean" then
      fail(format("%s must be a boolean, got %s", k, describe(v)))
    elseif kind == "page_size" then
      count(v, k, 1, 100)
    elseif kind == "failures" then
      count(v, k, 0, 1e9)
    elseif kind == "pages" then
      count(v, k, 1, 1e9)
    elseif kind == "source" then
      local ok_take = type(v) == "table" or type(v) == "userdata"
      if not (ok_take and type(v.take) == "function" and type(v.wait) == "function") then
        fail(format("events must be an object with take and wait methods (ft.webhook_receiver), got %s",
          describe(v)))
      end
      if opts.on_event then fail("on_event needs polling: give events or on_event, not both") end
    end
  end
  return opts
end

local FILE_OPTS = { poll_interval = "seconds", timeout = "seconds", max_poll_failures = "failures" }
local JOB_OPTS = {
  poll_interval = "seconds", timeout = "seconds", max_poll_failures = "failures",
  on_event = "function", on_status = "function", history = "boolean", event_page_size = "page_size",
  max_event_pages = "pages",
  events = "source",
}

-- Checks the id the way method `name` would (misuse named after `fname`) and
-- the options; raises at the caller of the public method.
local function check_call(self, fname, name, id, opts, known)
  local ok, why = pcall(self._prepare, self, name, id)
  if not ok then misuse.raise(why, fname, 1, 3) end
  local checked, o = pcall(check_opts, opts, known)
  if not checked then misuse.raise(o, fname, 2, 3) end
  return o
end

-- The poll loop ------------------------------------------------------------------

-- Worth polling again after: the service may answer next time (the
-- client's retry rules, or an open circuit that will let a probe through).
local function transient(err, policy)
  return errors.retryable(err, policy) or (errors.is_error(err) and err.kind == "circuit_open")
end

local function wait_timeout(what, id, waited, last, field, cause, why)
  return errors.new {
    kind = "timeout", code = "wait_timeout", [field] = last, waited = waited, cause = cause,
    message = format("gave up waiting for %s %s after %.1f s%s%s", what, id, waited,
      last and last.status and (" (status " .. tostring(last.status) .. ")") or "", why or ""),
  }
end

-- Runs `round(state, call_opts)` every poll_interval until it returns a
-- result or the deadline passes. round() -> "done", value, meta | "wait" |
-- "fail", err. call_opts() is the options of a request made now: the time
-- left as its total_timeout (nil without a deadline).
local function poll_loop(self, what, id, field, o, default_timeout, round)
  local transport = self:_transport()
  local function now() return clock.now(transport) end
  local interval = o.poll_interval or M.DEFAULTS.poll_interval
  local timeout = o.timeout or default_timeout
  local max_failures = o.max_poll_failures or M.DEFAULTS.max_poll_failures
  local started = now()
  local deadline = timeout and started + timeout or huge
  local failures, last_err = 0, nil
  local state = { deadline = deadline }
  function state.call_opts()
    if deadline == huge then return nil end
    local left = deadline - now()
    -- polls start before the deadline; a 0 here would mean "no limit"
    return { total_timeout = left > 1e-3 and left or 1e-3 }
  end
  function state.timed_out(why)
    return wait_timeout(what, id, now() - started, state.last, field, last_err, why)
  end
  while true do
    local outcome, value, meta = round(state)
    if outcome == "done" then return value, meta end
    if outcome == "fail" and type(value) == "table" and value.code == "wait_timeout" then
      if value[field] == nil then value[field] = state.last end
      return nil, value
    end
    if outcome == "fail" then
      if not transient(value, self:_policy()) or failures >= max_failures then
        if type(value) == "table" then value[field] = state.last end
        return nil, value
      end
      failures, last_err = failures + 1, value
    else
      failures = 0
    end
    local left = deadline - now()
    if left > interval then
      clock.sleep(transport, interval)
    else
      -- no poll would start before the deadline: wait it out, then give up
      if left > 0 then clock.sleep(transport, left) end
      return nil, state.timed_out()
    end
  end
end

-- wait_for_file ------------------------------------------------------------------

local function wait_for_file(self, id, opts)
  local o = check_call(self, "wait_for_file", "file", id, opts, FILE_OPTS)
  return poll_loop(self, "file", id, "file", o, M.DEFAULTS.file_timeout, function(state)
    local file, second = self:file(id, state.call_opts())
    if not file then return "fail", second end
    state.last = file
    if M.FILE_DONE[file.status] then return "done", file, second end
    return "wait"
  end)
end

-- wait_for_job -------------------------------------------------------------------

-- The events newer than every event already seen, oldest first, or nil, err.
-- Pages back from the newest until an event already seen (or the start of the
-- log); nothing is marked seen here, so a failed round loses nothing. At most
-- `max_pages` pages, and none past the wait's deadline: a log that never ends
-- is an error that says which bound stopped it.
local function new_events(self, id, seen, page_size, max_pages, state)
  local fresh, after = {}, nil
  local pages = 0
  while true do
    if pages >= max_pages then
      return nil, errors.new {
        kind = "invalid_response", code = "event_paging_limit", events = fresh,
        message = format("job %s: the events still had more after %d pages in one poll (max_event_pages)",
          id, pages),
      }
    end
    local function paging()
      return state.timed_out(format(", paging its events (%d pages this poll, has_more still true)", pages))
    end
    if pages > 0 and clock.now(self:_transport()) >= state.deadline then return nil, paging() end
    pages = pages + 1
    local page, err = self:job_events(id, { limit = page_size, after = after }, state.call_opts())
    if not page then
      -- a page cut short by the deadline: still the log's fault, say so
      if pages > 1 and clock.now(self:_transport()) >= state.deadline - 0.01 then
        local e = paging()
        e.cause = err
        return nil, e
      end
      return nil, err
    end
    local data = type(page.data) == "table" and page.data or {}
    for i = 1, #data do
      local event = data[i]
      if type(event) == "table" then
        if seen[event.id] then return fresh end
        fresh[#fresh + 1] = event
      end
    end
    if page.has_more == false or #data == 0 then return fresh end
    local last = type(data[#data]) == "table" and data[#data].id
    if type(last) ~= "string" or last == after then return fresh end
    after = last
  end
end

-- wait_for_job with opts.events: the final event from the source, then one fetch.
-- An explicit poll_interval adds a poll that often, in case a delivery was lost.
local function wait_for_event(self, id, o)
  local source, on_status = o.events, o.on_status
  local transport = self:_transport()
  local function now() return clock.now(transport) end
  local started = now()
  local deadline = o.timeout and started + o.timeout or huge
  local next_poll = o.poll_interval and started + o.poll_interval or huge
  local function done(job, meta)
    if on_status then on_status(job.status, nil, job) end
    return job, meta
  end
  local refetch = false
  while true do
    local event = source:take(id)
    if event or refetch or now() >= next_poll then
      refetch = false
      -- the deadline bounds the fetch too (its retries and backoff)
      local left = deadline - now()
      local job, meta = self:job(id, deadline ~= huge and { total_timeout = left > 1e-3 and left or 1e-3 } or nil)
      if not job then
        if meta.code == "wait_timeout" or not transient(meta, self:_policy()) then return nil, meta end
        refetch = event ~= nil -- the event is taken: fetch again after a pause
      elseif M.JOB_DONE[job.status] then
        return done(job, meta)
      end
      if o.poll_interval then next_poll = now() + o.poll_interval end
    end
    local left = deadline - now()
    if left <= 0 then return nil, wait_timeout("job", id, now() - started, nil, "job") end
    local slice = math.min(left, next_poll - now(), 1)
    source:wait(slice > 0 and slice or 0)
  end
end

local function wait_for_job(self, id, opts)
  local o = check_call(self, "wait_for_job", "job", id, opts, JOB_OPTS)
  if o.events then return wait_for_event(self, id, o) end
  local on_event, on_status = o.on_event, o.on_status
  local page_size = o.event_page_size or M.DEFAULTS.event_page_size
  local max_pages = o.max_event_pages or M.DEFAULTS.max_event_pages
  local seen, primed = {}, o.history ~= false
  local status

  return poll_loop(self, "job", id, "job", o, nil, function(state)
    local job, second = self:job(id, state.call_opts())
    if not job then return "fail", second end
    state.last = job
    if on_event then
      if not primed then
        -- history = false: everything up to the newest event now is old news
        local page, err = self:job_events(id, { limit = 1 }, state.call_opts())
        if not page then return "fail", err end
        local newest = type(page.data) == "table" and page.data[1]
        if type(newest) == "table" and type(newest.id) == "string" then seen[newest.id] = true end
        primed = true
      end
      local fresh, err = new_events(self, id, seen, page_size, max_pages, state)
      if not fresh then return "fail", err end
      for i = #fresh, 1, -1 do
        local event = fresh[i]
        if type(event.id) == "string" then seen[event.id] = true end
        on_event(event, job)
      end
    end
    if job.status ~= status then
      local old = status
      status = job.status
      if on_status then on_status(status, old, job) end
    end
    if M.JOB_DONE[job.status] then return "done", job, second end
    return "wait"
  end)
end

M.methods = { wait_for_file = wait_for_file, wait_for_job = wait_for_job }

return M
