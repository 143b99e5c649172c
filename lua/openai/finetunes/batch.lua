-- openai.finetunes.batch: client:batch(calls [, opts]) runs many independent
-- calls at once and returns every outcome, in the order of `calls`.
--
--   local results, failed = client:batch{
--     { "job", "ftjob-1" },
--     { "job", "ftjob-2", { timeout = 5 } },            -- per-call options as usual
--     { "upload_file", { file = "a.jsonl", purpose = "fine-tune" } },
--   }
--   for i, r in ipairs(results) do
--     local result, meta_or_err = r[1], r[2]            -- result, meta | nil, err
--   end
--
-- A call is `{ method_name, args... }`: any endpoint method of the client and
-- exactly the arguments it takes (a nil in the middle: give `n`, the number of
-- arguments after the name). Every call is checked before anything is sent:
-- misuse raises naming the call (`calls[3]: bad argument #1 to 'job' (...)`).
--
-- Over a transport with start/poll (the C core's curl multi: HTTP/2 streams
-- on one connection where the server offers it, else up to
-- pool.max_connections connections; the ngx transport: one ngx.thread per
-- call) up to `opts.concurrency` calls (default 64) are in flight at once.
-- Each call keeps the client's rules: its own retries and backoff (a call
-- waiting to retry frees its slot and holds back no other), the circuit
-- breaker checked when it starts and told its outcome, the response cache.
-- A transport without start/poll runs the calls one after another.
--
-- Returns `results, failed`: results[i] = { result, meta } or { nil, err },
-- and the number of calls that failed. A Lua error raised by a progress
-- callback cancels the calls in flight and propagates, as it would from the
-- method itself.
local endpoints = require("openai.finetunes.endpoints")
local misuse = require("openai.finetunes.misuse")
local cache_mod = require("openai.finetunes.cache")

local type, pairs, ipairs, pcall, error, tostring, rawget = type, pairs, ipairs, pcall, error, tostring, rawget
local format = string.format
local remove = table.remove
local unpack = rawget(table, "unpack") or rawget(_G, "unpack")
local huge = math.huge

local M = {}

M.DEFAULT_CONCURRENCY = 64

-- How long one poll may wait when nothing else is due (it returns sooner as
-- soon as a transfer finishes).
local IDLE_POLL = 1

local fail, describe = misuse.fail, misuse.describe

local function is_count(v, min)
  return type(v) == "number" and v >= min and v < huge and v == math.floor(v)
end

-- The number of arguments of a call after its name; holes allowed with `n`.
local function call_args(call, i)
  local n = call.n
  if n ~= nil then
    if not is_count(n, 0) then fail(format("calls[%d].n must be an integer >= 0, got %s", i, describe(n))) end
    return n
  end
  local last = 1
  for k in pairs(call) do
    if type(k) == "number" and k > last and k == math.floor(k) then last = k end
  end
  return last - 1
end

-- Checks every call and builds its request; fails on the first misuse.
local function prepare_all(self, calls)
  if type(calls) ~= "table" then fail(format("calls must be a list of calls, got %s", describe(calls))) end
  local jobs = {}
  for i = 1, #calls do
    local call = calls[i]
    if type(call) ~= "table" then
      fail(format("calls[%d] must be a table { method, args... }, got %s", i, describe(call)))
    end
    local name = call[1]
    if type(name) ~= "string" or not endpoints[name] then
      fail(format("calls[%d][1] must name an endpoint method of the client (job, file, upload_file, ...), "
        .. "got %s", i, describe(name)))
    end
    local n = call_args(call, i)
    local ok, req, max_retries = pcall(self._prepare, self, name, unpack(call, 2, n + 1))
    if not ok then
      fail(format("calls[%d]: %s", i, misuse.strip_position(req) or tostring(req)))
    end
    jobs[i] = { index = i, name = name, args = call, nargs = n, req = req, max_retries = max_retries, attempt = 0 }
  end
  return jobs
end

local function check_opts(opts)
  if opts == nil then return M.DEFAULT_CONCURRENCY end
  if type(opts) ~= "table" then fail(format("options table expected, got %s", describe(opts)), 2) end
  for k in pairs(opts) do
    if k ~= "concurrency" then fail(format("unknown option %s", describe(k)), 2) end
  end
  local c = opts.concurrency
  if c == nil then return M.DEFAULT_CONCURRENCY end
  if not is_count(c, 1) then fail(format("concurrency must be an integer >= 1, got %s", describe(c)), 2) end
  return c
end

local function clock(transport)
  if transport.now then return transport:now() end
  return os.time()
end

-- One after another through the plain methods (a transport without start/poll).
local function run_sequential(self, jobs)
  local results, failed = {}, 0
  for i, job in ipairs(jobs) do
    local result, second = self[job.name](self, unpack(job.args, 2, job.nargs + 1))
    results[i] = { result, second }
    if result == nil then failed = failed + 1 end
  end
  return results, failed
end

-- The concurrent driver: a queue of calls ready to start, the calls in flight
-- (transfer id -> job), the calls waiting out a retry delay.
local function run_concurrent(self, jobs, concurrency)
  local transport, policy = self:_transport(), self:_policy()
  local cache = self._cache and self:_cache()
  local results, failed = {}, 0
  local ready, inflight, waiting, active = {}, {}, {}, 0
  for i = #jobs, 1, -1 do ready[#ready + 1] = jobs[i] end -- a stack: pop from the end

  local function finish(job, res, err)
    local result, second = self:_finish(job.name, res, err, job.attempt, job.req)
    if job.ticket then cache:done(job.ticket, result ~= nil and res or nil) end
    results[job.index] = { result, second }
    if result == nil then failed = failed + 1 end
  end

  local function cancel_all()
    for id, job in pairs(inflight) do
      transport:cancel(id)
      if job.probe then policy:abandon() end
    end
    inflight = {}
  end

  local function launch(job)
    if job.attempt == 0 then
      if cache then
        local hit, ticket = cache:get(job.name, job.req)
        if hit then
          results[job.index] = { cache_mod.served(self:_finish(job.name, hit, nil, 0, job.req)) }
          return
        end
        job.ticket = ticket
      end
      local ok, probe = policy:allow(clock(transport))
      if not ok then return finish(job, nil, probe) end
      job.probe = probe
      -- A half-open probe is one request: its outcome alone decides the circuit.
      if probe then job.max_retries = 0 end
    end
    job.attempt = job.attempt + 1
    local started, id, err = pcall(transport.start, transport, job.req)
    if not started then
      -- the ngx transport raises outside the phases that have cosockets
      id, err = nil, { kind = "invalid_request", message = tostring(id) }
    end
    if id == nil then
      -- refused before anything was sent: final, as from the blocking request
      policy:record(not policy:is_failure(nil, err), clock(transport))
      return finish(job, nil, err or { kind = "invalid_request", message = "the transport refused the request" })
    end
    inflight[id] = job
    active = active + 1
  end

  local function complete(job, res, err)
    if err and err.callback_error ~= nil then
      if job.probe then policy:abandon() end
      cancel_all()
      error(err.callback_error, 0)
    end
    local delay, why = policy:decide(job.attempt, res, err, job.max_retries)
    if not delay then
      policy:record(not policy:is_failure(res, err), clock(transport))
      return finish(job, res, err)
    end
    if policy.on_retry then
      policy.on_retry({
        attempt = job.attempt, delay = delay, reason = why,
        status = res and res.status, kind = err and err.kind,
        method = job.req.method, url = job.req.url,
      })
    end
    job.due = clock(transport) + delay
    waiting[#waiting + 1] = job
  end

  local function step()
    -- retries that are due go first, then fresh calls, up to the bound
    local now = clock(transport)
    local next_due = huge
    for i = #waiting, 1, -1 do
      local job = waiting[i]
      if job.due <= now then
        remove(waiting, i)
        ready[#ready + 1] = job
      elseif job.due < next_due then
        next_due = job.due
      end
    end
    while active < concurrency and #ready > 0 do launch(remove(ready)) end
    if active == 0 then
      if #waiting > 0 then transport:sleep(next_due - now) end
      return
    end
    local timeout = next_due < huge and next_due - now or IDLE_POLL
    if timeout < 0 then timeout = 0 end
    for _, c in ipairs(transport:poll(timeout)) do
      local job = inflight[c.id]
      if job then
        inflight[c.id] = nil
        active = active - 1
        complete(job, c.res, c.err)
      end
    end
  end

  local ok, err = pcall(function()
    while #ready > 0 or #waiting > 0 or active > 0 do step() end
  end)
  if not ok then
    cancel_all()
    error(err, 0)
  end
  return results, failed
end

local function batch(self, calls, opts)
  local ok, jobs = pcall(prepare_all, self, calls)
  if not ok then misuse.raise(jobs, "batch", 1, 2) end
  local checked, concurrency = pcall(check_opts, opts)
  if not checked then misuse.raise(concurrency, "batch", 2, 2) end
  if #jobs == 0 then return {}, 0 end
  local transport = self:_transport()
  if type(transport.start) ~= "function" or type(transport.poll) ~= "function" then
    return run_sequential(self, jobs)
  end
  return run_concurrent(self, jobs, concurrency)
end

M.methods = { batch = batch }

return M
