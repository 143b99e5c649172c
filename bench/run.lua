-- make bench: runs the five cases of issue 6 against an nginx on loopback,
-- side by side with curl and the official Node SDK, and writes the medians
-- into bench/README.md (and every sample into bench/results/last-run.md).
--
-- lua5.4 bench/run.lua   (from the repository root, after `make` and `npm ci` in bench/)
--
-- Environment (all optional):
--   BENCH_RUNS=5         runs per contender (medians are reported)
--   BENCH_CASES=1,2,3,4,5  which cases; README is written only when all five ran
--   BENCH_DIR=/tmp/openai-ft-bench  scratch: the 512 MiB file, downloads, nginx prefix
--   BENCH_SIZE=536870912 size of the upload/download file in bytes
--   BENCH_JOBS=2000  BENCH_POLLS=100  BENCH_PAGE=100
--   BENCH_LUA=lua5.4     interpreter for the Lua client (its core in build/$BENCH_LUA)
--   BENCH_WRITE=1        0: print the tables, write nothing
--
-- lua5.4 bench/run.lua serve [SECONDS]: only start the bench server (for
-- profiling a client by hand) and stop it after SECONDS (default 600).
local bench_dir = assert(io.popen("cd \"$(dirname '" .. arg[0] .. "')\" && pwd")):read("l")
package.path = bench_dir .. "/?.lua;" .. package.path

local sh = require("runner.sh")
local data = require("runner.data")
local server_mod = require("runner.server")
local measure = require("runner.measure")
local cases_mod = require("runner.cases")
local report = require("runner.report")

local function env(name, default) local v = os.getenv(name) return v ~= nil and v ~= "" and v or default end
local function log(s) io.stderr:write(s, "\n") io.stderr:flush() end

local repo = bench_dir:gsub("/bench$", "")
local lua_bin = env("BENCH_LUA", "lua5.4")
local runs = tonumber(env("BENCH_RUNS", "5"))
local work = env("BENCH_DIR", "/tmp/openai-ft-bench")
local size = tonumber(env("BENCH_SIZE", tostring(512 * 1024 * 1024)))
local want = {}
for n in env("BENCH_CASES", "1,2,3,4,5"):gmatch("%d+") do want[tonumber(n)] = true end
local write = env("BENCH_WRITE", "1") ~= "0"

local API_KEY = "sk-bench-not-a-real-key"
local lua_env = ("env LUA_PATH=%s LUA_CPATH=%s "):format(
  sh.q(repo .. "/lua/?.lua;" .. repo .. "/lua/?/init.lua;" .. bench_dir .. "/lua/?.lua;;"),
  sh.q(repo .. "/build/" .. lua_bin .. "/?.so;;"))

local function words(...)
  local t = {}
  for i = 1, select("#", ...) do t[i] = sh.q(select(i, ...)) end
  return table.concat(t, " ")
end

-- The fixture file, then nginx serving it: returns server, blob path.
local function start_server()
  sh.run("mkdir -p %s/data %s/scratch", sh.q(work), sh.q(work))
  local blob_name = "train-" .. size .. ".jsonl"
  local blob = data.ensure_blob(work .. "/data/" .. blob_name, size)
  return server_mod.start{ bench_dir = bench_dir, work_dir = work, data_dir = work .. "/data", blob = blob_name },
    blob
end

local function main()
  local server, blob = start_server()
  log("bench: nginx pid " .. server.pid .. " on " .. server.base)
  local ok, err = pcall(function()
    local ctx = {
      bench_dir = bench_dir, repo = repo, lua_bin = lua_bin, runs = runs,
      base = server.base .. "/v1", slow = server.base .. "/slow/v1",
      blob = blob, blob_size = size, out = work .. "/scratch/download.out",
      scratch = work .. "/scratch",
      n_jobs = tonumber(env("BENCH_JOBS", "2000")), n_polls = tonumber(env("BENCH_POLLS", "100")),
      page_size = tonumber(env("BENCH_PAGE", "100")),
      lua = function(script, ...) return lua_env .. words(lua_bin, bench_dir .. "/lua/" .. script, ...) end,
      node = function(script, ...) return words("node", bench_dir .. "/node/" .. script, ...) end,
      curl = function(args)
        return "curl -sS --fail --no-progress-meter -H " .. sh.q("Authorization: Bearer " .. API_KEY) .. " " .. args
      end,
      uploaded = function() return server_mod.uploaded(server) end,
    }
    local okv, v = pcall(sh.capture, lua_env .. lua_bin
      .. " -e 'io.write(require(\"openai.finetunes.core\").curl_version())' 2>/dev/null")
    ctx.core_curl = okv and v or "n/a"

    ctx.load_start = report.load()
    local cases, results, ran, all = cases_mod.all(ctx), {}, {}, true
    for _, case in ipairs(cases) do
      if want[case.id] then
        log(("bench: case %d: %s"):format(case.id, case.title))
        results[case.id] = measure.run_case(case, runs, ctx.scratch, log)
        ran[#ran + 1] = case
      else
        all = false
      end
    end
    os.remove(ctx.out)

    local machine = report.machine(ctx)
    local table_md = report.results(cases, results)
    local targets_md, missed = report.targets(cases, results)
    print(machine .. "\n\n" .. table_md .. "\n\n" .. targets_md)
    if write and all then
      report.splice(bench_dir .. "/README.md", "machine", machine)
      report.splice(bench_dir .. "/README.md", "results", table_md .. "\n\n" .. targets_md)
      sh.run("mkdir -p %s/results", sh.q(bench_dir))
      sh.write_file(bench_dir .. "/results/last-run.md", "# Every sample of the last `make bench`\n\n```\n"
        .. machine .. "\n\n" .. report.samples(ran, results) .. "\n```\n")
      log("bench: wrote bench/README.md and bench/results/last-run.md")
    elseif write then
      log("bench: a subset of the cases ran: README not written")
    end
    if missed > 0 then log(("bench: %d target(s) missed"):format(missed)) end
  end)
  server_mod.stop(server)
  if not ok then error(err, 0) end
end

local function serve(seconds)
  local server, blob = start_server()
  print(("bench server: pid %d, %s/v1 (slow polls: %s/slow/v1), blob %s, stops in %d s")
    :format(server.pid, server.base, server.base, blob, seconds))
  io.stdout:flush()
  pcall(require("socket").sleep, seconds)
  server_mod.stop(server)
end

local ok, err = pcall(arg[1] == "serve" and function() serve(tonumber(arg[2]) or 600) end or main)
if not ok then
  log("bench: " .. tostring(err))
  os.exit(1)
end
