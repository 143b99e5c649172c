-- Benchmark: how many requests it takes to learn that N fine-tuning jobs finished,
-- polling (client:batch of job(id) for every unfinished job, once per interval)
-- against webhooks (the fake server POSTs each job's final event to a receiver;
-- wait_for_job{events = receiver}), for N = 10, 100, 1000, against the fake server.
--
--   make && lua5.4 bench/webhooks.lua                 # about 2 minutes; rewrites bench/webhooks.md
--   BENCH_NS=10,100 BENCH_WRITE=0 lua5.4 bench/webhooks.lua    # a subset, printed only
--
-- The fake's clock is frozen (speed 1e-6) and driven by POST /_fake/clock {advance},
-- so the counts do not depend on the machine: a polling round advances the clock by
-- the interval and then asks for every job not yet seen finished; the webhook run
-- advances it in 5 s steps and only receives. Jobs last 1.7 to 5 minutes of the
-- fake's clock (validation, queue, 10 to 30 steps of 10 s), the same plan for both.
-- Requests are counted by the fake server's request log (sequence numbers), so
-- nothing the client does unseen can hide; the control calls (/_fake/...) are not
-- logged. "Detection delay" is, per job, the fake's time when the client learned of
-- the end minus the job's end (finished_at), averaged: a polling client learns at
-- its next round; the webhook run here at the end of the 5 s clock step in which the
-- job ended (the fake delivers at its next 50 ms tick of real time, so with a clock
-- that runs, the delay is that tick plus the POST).
local ft = require("openai.finetunes")
local fake = require("openai.finetunes.fake")

local NS = {}
for n in (os.getenv("BENCH_NS") or "10,100,1000"):gmatch("%d+") do NS[#NS + 1] = tonumber(n) end
local INTERVALS = { 5, 30, 60 }
local WEBHOOK_STEP = 5
local WRITE = os.getenv("BENCH_WRITE") ~= "0"
local TRAIN = "examples/data/train.jsonl"

local function plan(i)
  return { steps = 10 + (i * 37) % 21, step_seconds = 10, validate_seconds = 1, queue_seconds = 1 }
end

local h = fake.spawn{ quiet = true, log_limit = 100000, speed = 1 }
local base = h.base_url
local function control(method, path, body)
  local status, text = fake.control_request(h.port, method, path,
    body and require("openai.finetunes.codec").json_encode(body) or nil)
  assert(status and status < 300, tostring(text))
  return require("openai.finetunes.codec").json_decode(text)
end
local function last_seq()
  local list = control("GET", "/_fake/requests?last=1")
  return list[#list] and list[#list].seq or 0
end
local function now() return control("GET", "/_fake/clock").now end

local c = ft.new{ api_key = "sk-bench", base_url = base, max_retries = 0 }

-- N jobs with the same plans; returns their ids.
local function start_jobs(n)
  control("POST", "/_fake/reset", { speed = 1 })
  local file = assert(c:upload_file{ file = TRAIN, purpose = "fine-tune" })
  local ids = {}
  for i = 1, n do
    control("POST", "/_fake/next_job", plan(i))
    ids[i] = assert(c:create_job{ model = "gpt-4o-mini-2024-07-18", training_file = file.id }).id
  end
  control("POST", "/_fake/clock", { speed = 1e-6 })
  return ids
end

local function finished_at(ids)
  -- read after the run, not counted
  local t = {}
  local results = c:batch((function()
    local calls = {}
    for i, id in ipairs(ids) do calls[i] = { "job", id } end
    return calls
  end)(), { concurrency = 50 })
  for i, r in ipairs(results) do t[ids[i]] = assert(r[1], tostring(r[2])).finished_at end
  return t
end

local function polling(n, interval)
  local ids = start_jobs(n)
  local first = last_seq()
  local pending, learned, rounds = {}, {}, 0
  for i, id in ipairs(ids) do pending[i] = id end
  while #pending > 0 do
    control("POST", "/_fake/clock", { advance = interval })
    rounds = rounds + 1
    local calls = {}
    for i, id in ipairs(pending) do calls[i] = { "job", id } end
    local results = c:batch(calls, { concurrency = 50 })
    local t = now()
    local still = {}
    for i, r in ipairs(results) do
      local job = assert(r[1], tostring(r[2]))
      if job.status == "succeeded" or job.status == "failed" or job.status == "cancelled" then
        learned[pending[i]] = t
      else
        still[#still + 1] = pending[i]
      end
    end
    pending = still
  end
  local requests = last_seq() - first
  local ends = finished_at(ids)
  local delay = 0
  for _, id in ipairs(ids) do delay = delay + (learned[id] - ends[id]) end
  return { requests = requests, rounds = rounds, delay = delay / n }
end

local function webhooks(n)
  local ids = start_jobs(n)
  local rx = assert(ft.webhook_receiver{})
  local learned = {}
  rx.on_event = function(event) learned[event.data.id] = now() end
  local ep = assert(c:create_webhook_endpoint{ url = rx.url, name = "bench",
    event_types = ft.array{ "fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled" } })
  rx.verify_opts.secret = ep.signing_secret
  local first = last_seq()
  local got = 0
  while got < n do
    control("POST", "/_fake/clock", { advance = WEBHOOK_STEP })
    got = got + rx:step(0.12)
  end
  -- what a script then does: one wait_for_job per job, each answered by its event
  -- already received, fetching the job once
  local status_only = last_seq() - first
  for _, id in ipairs(ids) do
    local ev = rx.finals[id]
    assert(ev, "no event for " .. id)
    local job = assert(c:wait_for_job(id, { events = rx, timeout = 10 }))
    assert(job.status == "succeeded")
  end
  local total = last_seq() - first
  local ends = finished_at(ids)
  local delay = 0
  for _, id in ipairs(ids) do delay = delay + (learned[id] - ends[id]) end
  local deliveries = control("GET", "/_fake/webhook_deliveries?status=delivered").data
  assert(#deliveries == n, #deliveries .. " deliveries")
  rx:close()
  return { requests = status_only, with_fetch = total, delay = delay / n }
end

local rows = {}
for _, n in ipairs(NS) do
  for _, interval in ipairs(INTERVALS) do
    local r = polling(n, interval)
    rows[#rows + 1] = string.format("| %d | polling: `batch` of `job(id)` every %d s | %d | %d | %.1f s |",
      n, interval, r.requests, r.requests, r.delay)
    io.stderr:write(rows[#rows], "\n")
  end
  local w = webhooks(n)
  rows[#rows + 1] = string.format("| %d | webhooks: receiver + `wait_for_job{events = rx}` | %d | %d | %.1f s |",
    n, w.requests, w.with_fetch, w.delay)
  io.stderr:write(rows[#rows], "\n")
end
h:stop()

local p = io.popen("uname -sr; nproc")
local kernel, cpus = p:read("*l"), p:read("*l")
p:close()
local machine = string.format("%s, %s CPUs, client %s", kernel, cpus, _VERSION)
local text = table.concat({
  "<!-- webhooks:results -->",
  string.format("Run %s UTC; %s.", os.date("!%Y-%m-%d %H:%M"), machine),
  "",
  "| N jobs | how the client learns they ended | status requests | requests incl. one fetch per job |"
    .. " mean detection delay (fake clock) |",
  "|---|---|---|---|---|",
  table.concat(rows, "\n"),
  "<!-- /webhooks:results -->",
}, "\n")
print(text)

if WRITE then
  local path = "bench/webhooks.md"
  local f = io.open(path, "rb")
  local doc = f and f:read("*a") or ""
  if f then f:close() end
  local s, e = doc:find("<!%-%- webhooks:results %-%->.-<!%-%- /webhooks:results %-%->")
  if s then
    doc = doc:sub(1, s - 1) .. text .. doc:sub(e + 1)
    f = assert(io.open(path, "wb"))
    f:write(doc)
    f:close()
  end
end
