-- Benchmark of client:sweep (issue 16): a 50-job sweep against the local fake server,
-- followed from one process. Counts the requests it sends per job (from the fake's
-- request log) and samples the Lua heap and the process RSS while it runs.
--
--   make && lua5.4 bench/sweep.lua                 # rewrites bench/sweep.md
--   BENCH_WRITE=0 BENCH_JOBS=20 lua5.4 bench/sweep.lua   # quick look, printed only
--
-- The grid: n_epochs = 1..10 x learning_rate_multiplier = 0.2, 0.5, 1, 2, 4 (50 points),
-- max_active = 10, a state file, the fake's active-job limit 8 (so some creates are refused with the
-- API's 429 and queue), poll interval 0.25 s, fake clock speed 4 (a job lives 0.9-3.5 s).
local root = arg[0]:match("^(.*)/bench/[^/]*$") or "."
local interpreter = _VERSION:match("5%.%d") and ("lua" .. _VERSION:match("5%.%d")) or "lua5.4"
if rawget(_G, "jit") then interpreter = "luajit" end
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/" .. interpreter .. "/?.so;" .. package.cpath
local ft = require("openai.finetunes")
local core = require("openai.finetunes.core")
local fake = require("openai.finetunes.fake")

local JOBS = tonumber(os.getenv("BENCH_JOBS") or "50")
local INTERVAL = 0.25
local SPEED = 4
-- a state file as `openai-ft sweep --state` keeps it: every status change saved (and synced)
local STATE = os.tmpname()
os.remove(STATE)

local function rss_kb(field)
  local f = io.open("/proc/self/status")
  local text = f and f:read("*a") or ""
  if f then f:close() end
  return tonumber(text:match(field .. ":%s*(%d+)")) or 0
end

local server = fake.spawn{ speed = SPEED, quiet = true, log_limit = 200000, watch_pid = fake.pid() }
local base = "http://127.0.0.1:" .. server.port
local function control(method, path, body)
  local status, text = fake.control_request(server.port, method, path, body)
  assert(status == 200, tostring(text))
  return require("openai.finetunes.codec").json_decode(text)
end
control("POST", "/_fake/job_limit", '{"max_active": 8}')

local lrs = { 0.2, 0.5, 1, 2, 4 }
local epochs = {}
for i = 1, math.ceil(JOBS / #lrs) do epochs[i] = i end
local client = ft.new{ api_key = "sk-bench", base_url = base .. "/v1" }

local heap, rss = {}, {}
collectgarbage("collect")
local heap0, rss0 = collectgarbage("count"), rss_kb("VmRSS")
local started = core.now()
local result = assert(client:sweep{
  training_file = "examples/data/train.jsonl", job = { model = "gpt-4o-mini-2024-07-18" },
  grid = { { "n_epochs", epochs }, { "learning_rate_multiplier", lrs } }, max_jobs = JOBS,
  max_active = 10, poll_interval = INTERVAL, state = STATE,
  on_status = function()
    heap[#heap + 1] = collectgarbage("count")
    rss[#rss + 1] = rss_kb("VmRSS")
  end,
})
local wall = core.now() - started

local log = control("GET", "/_fake/requests")
local by_job, creates, refused, lists, others, total = {}, 0, 0, 0, 0, #log
for _, e in ipairs(log) do
  local id = e.path:match("^/v1/fine_tuning/jobs/(ftjob%-%w+)$")
  if id and e.method == "GET" then
    by_job[id] = by_job[id] or { n = 0 }
    local j = by_job[id]
    j.n = j.n + 1
    -- the log's time is the fake's clock: SPEED times real time
    if j.last then
      local gap = (e.time - j.last) / SPEED
      j.min_gap = math.min(j.min_gap or gap, gap)
      j.gaps, j.sum = (j.gaps or 0) + 1, (j.sum or 0) + gap
    end
    j.last = e.time
  elseif e.path == "/v1/fine_tuning/jobs" and e.method == "POST" then
    creates = creates + 1
    if e.status == 429 then refused = refused + 1 end
  elseif e.path == "/v1/fine_tuning/jobs" then
    lists = lists + 1
  else
    others = others + 1
  end
end
local polls, min_gap, gaps, gap_sum = 0, math.huge, 0, 0
for _, row in ipairs(result.jobs) do
  assert(row.status == "succeeded", row.id)
  local j = by_job[row.id]
  polls = polls + j.n
  if j.min_gap and j.min_gap < min_gap then min_gap = j.min_gap end
  gaps, gap_sum = gaps + (j.gaps or 0), gap_sum + (j.sum or 0)
end
local function max_of(t) local m = 0 for _, v in ipairs(t) do if v > m then m = v end end return m end
local function at(t, f) return t[math.max(1, math.floor(#t * f))] or 0 end

local lines = {
  "# Benchmark: a 50-job sweep from one process (`client:sweep`)",
  "",
  "`lua5.4 bench/sweep.lua` (after `make`) starts the fake server (clock speed " .. SPEED .. ", an",
  "active-job limit of 8 so that creates beyond it get the API's 429 and queue) and runs",
  "`client:sweep` over n_epochs = 1..10 × learning_rate_multiplier = 0.2, 0.5, 1, 2, 4",
  "(" .. #result.jobs .. " jobs), `max_active = 10`, `poll_interval = " .. INTERVAL .. "`, with a state file",
  "(each status change saved and synced, as `--state` does), in this process.",
  "The request counts come from the fake server's request log. Measured " .. os.date("!%Y-%m-%d") .. " on the",
  "2-core build machine (Debian 12, " .. (_VERSION or "Lua") .. ", loopback, other sessions running).",
  "",
  "| what | result |",
  "|---|---|",
  string.format("| jobs | %d, all succeeded |", #result.jobs),
  string.format("| wall time | %.1f s |", wall),
  string.format("| requests in all | %d (%.1f per job) |", total, total / #result.jobs),
  string.format("| job creates | %d (%d refused with 429, queued and sent again) |", creates, refused),
  string.format("| polls (`GET /fine_tuning/jobs/{id}`) | %d, %.1f per job |", polls, polls / #result.jobs),
  string.format("| time between two polls of one job | mean %.3f s, shortest %.3f s (interval %.2f s: at most one "
    .. "poll per job per interval) |", gap_sum / math.max(1, gaps), min_gap, INTERVAL),
  string.format("| metadata look-ups (`GET /fine_tuning/jobs?metadata…`) | %d |", lists),
  string.format("| other requests (upload, file status, result files) | %d |", others),
  string.format("| Lua heap: before / after the first status / at the end (max) | %.0f KB / %.0f KB / %.0f KB (%.0f KB) |",
    heap0, heap[1] or 0, heap[#heap] or 0, max_of(heap)),
  string.format("| RSS: before / 10th / 90th percentile of the run / max | %d / %d / %d / %d KB |", rss0,
    at(rss, 0.1), at(rss, 0.9), max_of(rss)),
  "",
  "Every active job is polled once per interval, all together through `client:batch`; a",
  "job is not polled in the round that created it (the create's answer is its status). The",
  "gaps are measured at the server; the mean is above the interval by each round's own time:",
  "the batch, and the state saves (one per round with status changes, two per create, each",
  "synced with `sync`, a process start and an fsync). The heap and RSS stay flat: the sweep",
  "keeps one record per point and the last job object of each finished job, nothing per poll.",
}
local text = table.concat(lines, "\n") .. "\n"
io.write(text)
if os.getenv("BENCH_WRITE") ~= "0" then
  local f = assert(io.open("bench/sweep.md", "wb"))
  f:write(text)
  f:close()
end
server:stop()
os.remove(STATE)
