-- openai.finetunes.call.batch: client:batch(calls [, opts]) runs many independent
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
-- breaker checked when it starts and told its outcome, the response cache
-- (scheduler.lua). A transport without start/poll runs the calls one at a
-- time.
--
-- Returns `results, failed`: results[i] = { result, meta } or { nil, err },
-- and the number of calls that failed. A Lua error raised by a progress
-- callback cancels the calls in flight and propagates, as it would from the
-- method itself.
local endpoints = require("openai.finetunes.api.endpoints")
local misuse = require("openai.finetunes.misuse")
local scheduler = require("openai.finetunes.call.scheduler")

local type, pairs, pcall, tostring, rawget = type, pairs, pcall, tostring, rawget
local format = string.format
local unpack = rawget(table, "unpack") or rawget(_G, "unpack")
local huge = math.huge

local M = {}

M.DEFAULT_CONCURRENCY = 64

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
    local ok, req, max_retries, total_timeout = pcall(self._prepare, self, name, unpack(call, 2, n + 1))
    if not ok then
      if not misuse.is_misuse(req) then error(req, 0) end
      fail(format("calls[%d]: %s", i, tostring(req))) -- the call's own message, inside batch's
    end
    jobs[i] = { index = i, name = name, req = req, max_retries = max_retries, total_timeout = total_timeout }
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

local function batch(self, calls, opts)
  local ok, jobs = pcall(prepare_all, self, calls)
  if not ok then misuse.raise(jobs, "batch", 1, 2) end
  local checked, concurrency = pcall(check_opts, opts)
  if not checked then misuse.raise(concurrency, "batch", 2, 2) end
  local results, failed = {}, 0
  scheduler.new(self, jobs, {
    limit = concurrency,
    done = function(job, result, second)
      results[job.index] = { result, second }
      if result == nil then failed = failed + 1 end
    end,
  }):run()
  return results, failed
end

M.methods = { batch = batch }

return M
