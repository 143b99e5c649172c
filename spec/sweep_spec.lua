-- openai-ft sweep / client:sweep against the fake server: one upload per file, one job per
-- grid point, the active-job limit honoured (a 429 queues), the table, the plot, --json,
-- --svg; a failed job is a row; bad grids and state files refused before any request; a
-- sweep killed with SIGKILL resumes without a second job for any point.
local H = require("spec.support.client_helper")
local C = require("spec.support.cli_child")
local fake_server = require("spec.support.fake_server")

local MODEL, TRAIN = H.MODEL, H.TRAIN
local SPEED = 100

local server, dir, client

setup(function()
  server = fake_server.start({ speed = SPEED })
  dir = H.tmpdir()
end)

teardown(function()
  H.rmdir(dir)
end)

before_each(function()
  server:reset{ speed = SPEED }
  client = H.client(server)
end)

local n = 0
local function state_path()
  n = n + 1
  return string.format("%s/sweep%d.state.json", dir, n)
end

local GRID = { "--grid", "n_epochs=1,2", "--grid", "learning_rate_multiplier=0.5,2" }

local function sweep_args(extra)
  local args = { "sweep", TRAIN, "--model", MODEL, "--poll-interval", "0.05" }
  for _, a in ipairs(GRID) do args[#args + 1] = a end
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  return args
end

local function json(text)
  local v, err = require("openai.finetunes.codec").json_decode(text)
  assert(v ~= nil, "not JSON: " .. tostring(err) .. "\n" .. text)
  return v
end

local function all_jobs()
  return assert(client:jobs({ limit = 100 })).data
end

local function uploads()
  return #server:requests{ path = "^/v1/files$", method = "POST" }
end

describe("openai-ft sweep", function()
  it("--json: one job per point, data uploaded once, the best by validation loss", function()
    local code, out, err = C.run(server, sweep_args({ "--validation-file", TRAIN, "--json", "--price", "3" }), dir)
    assert(code == 0, err)
    local doc = json(out)
    assert.equal(4, #doc.jobs)
    assert.equal(2, uploads()) -- training and validation, once each
    assert.equal(4, #all_jobs())
    local best, seen = nil, {}
    for i, row in ipairs(doc.jobs) do
      assert.equal(i, row.index)
      assert.equal("succeeded", row.status)
      assert.truthy(row.id:find("^ftjob%-"))
      assert.truthy(row.fine_tuned_model:find("^ft:"))
      for _, k in ipairs({ "train_loss", "valid_loss", "train_mean_token_accuracy", "trained_tokens", "duration" }) do
        assert.equal("number", type(row[k]), k)
      end
      assert.near(row.trained_tokens * 3 / 1e6, row.estimated_cost, 1e-12)
      local key = row.hyperparameters.n_epochs .. "/" .. row.hyperparameters.learning_rate_multiplier
      assert.is_nil(seen[key])
      seen[key] = true
      if not best or row.valid_loss < best.valid_loss then best = row end
      local job = assert(client:job(row.id))
      assert.equal(doc.sweep, job.metadata.openai_ft_sweep)
      assert.equal(row.hyperparameters.n_epochs, job.method.supervised.hyperparameters.n_epochs)
    end
    assert.equal(best.id, doc.best)
    assert.equal("valid_loss", doc.metric)
    for _, row in ipairs(doc.jobs) do assert.equal(row.id == best.id, row.best) end
    -- the grid order: the first --grid varies slowest
    assert.same({ 1, 1, 2, 2 }, { doc.jobs[1].hyperparameters.n_epochs, doc.jobs[2].hyperparameters.n_epochs,
      doc.jobs[3].hyperparameters.n_epochs, doc.jobs[4].hyperparameters.n_epochs })
  end)

  it("the table marks the best, the plot overlays a curve per job, --svg has them too", function()
    local svg = dir .. "/sweep.svg"
    local code, out, err = C.run(server, sweep_args({ "--svg", svg }), dir, { COLUMNS = "160" })
    assert(code == 0, err)
    local rows, best_rows = 0, 0
    for line in out:gmatch("[^\n]+") do
      if line:find("ftjob%-") and line:find("succeeded") then
        rows = rows + 1
        if line:find("^%*") then best_rows = best_rows + 1 end
      end
    end
    assert.equal(4, rows)
    assert.equal(1, best_rows)
    assert.truthy(out:find("* best: ftjob-", 1, true))
    assert.truthy(out:find("(lowest training loss)", 1, true)) -- no validation file
    assert.truthy(out:find("training loss by step", 1, true))
    for _, label in ipairs({ "#1 epochs=1 lr=0.5", "#2 epochs=1 lr=2", "#3 epochs=2 lr=0.5", "#4 epochs=2 lr=2" }) do
      assert.truthy(out:find(label, 1, true), label .. "\n" .. out)
    end
    local text = H.read(svg)
    local _, polylines = text:gsub('<polyline class="series"', "")
    assert.equal(4, polylines)
  end)

  it("keeps at most --max-active jobs active; the API's active-job 429 queues instead of failing", function()
    server:control("POST", "/_fake/job_limit", { max_active = 1 })
    local code, out, err = C.run(server, sweep_args({ "--max-active", "3", "--json" }), dir)
    assert(code == 0, err)
    assert.truthy(err:find("waits for a free slot", 1, true), err)
    assert.truthy(err:find("maximum of 1 active fine-tuning jobs", 1, true), err)
    local doc = json(out)
    assert.equal(4, #doc.jobs)
    assert.equal(4, #all_jobs())
    local refused = 0
    for _, e in ipairs(server:requests{ path = "^/v1/fine_tuning/jobs$", method = "POST" }) do
      if e.status == 429 then refused = refused + 1 end
    end
    assert.truthy(refused > 0)
  end)

  it("--max-active 1: never two jobs active at once", function()
    local code, _, err = C.run(server, sweep_args({ "--max-active", "1" }), dir)
    assert(code == 0, err)
    local jobs = all_jobs()
    table.sort(jobs, function(a, b) return a.created_at < b.created_at end)
    for i = 2, #jobs do
      assert.truthy(jobs[i].created_at >= jobs[i - 1].finished_at, "job " .. i .. " started before " .. (i - 1)
        .. " ended")
    end
  end)

  it("a failed job is a row with its error, the others go on (exit 4)", function()
    server:next_job{ outcome = "failed", error = { code = "server_error", message = "the GPU caught fire" } }
    local code, out, err = C.run(server, sweep_args({ "--json" }), dir)
    assert.equal(4, code, err)
    local doc = json(out)
    local failed, ok = 0, 0
    for _, row in ipairs(doc.jobs) do
      if row.status == "failed" then
        failed = failed + 1
        assert.truthy(row.error:find("the GPU caught fire", 1, true), row.error)
        assert.is_false(row.best)
      else
        ok = ok + 1
      end
    end
    assert.equal(1, failed)
    assert.equal(3, ok)
    assert.truthy(doc.best)
  end)
end)

describe("openai-ft sweep on Ctrl-C", function()
  it("stops with exit 130 and says the jobs keep running and how to follow them again", function()
    server:set_speed(0.5)
    local st = state_path()
    local errf = dir .. "/int.err"
    local cmd = C.command(server, sweep_args({ "--state", st }))
    local r1, _, r3 = os.execute("timeout --foreground --preserve-status -s INT 3 " .. cmd .. " </dev/null "
      .. ">/dev/null 2>" .. errf)
    local code = type(r1) == "number" and (r1 > 255 and math.floor(r1 / 256) or r1) or r3
    local err = H.read(errf)
    assert.equal(130, code, err)
    assert.truthy(err:find("interrupted: the sweep's jobs keep running on the server (run the same command to "
      .. "follow them again)", 1, true), err)
    assert.truthy(#all_jobs() > 0)
  end)
end)

describe("openai-ft sweep refuses bad input before any request (exit 2)", function()
  local function refused(grid, pattern, extra)
    local mark = server:mark()
    local args = { "sweep", TRAIN, "--model", MODEL }
    for _, g in ipairs(grid) do args[#args + 1] = "--grid"; args[#args + 1] = g end
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    local code, out, err = C.run(server, args, dir)
    assert.equal(2, code, err)
    assert.equal("", out)
    assert.truthy(err:find(pattern), err)
    assert.equal(0, #server:requests{ since = mark })
  end

  it("an empty or malformed --grid", function()
    refused({ "" }, "an empty %-%-grid")
    refused({ "n_epochs" }, "is not NAME=V1,V2")
    refused({ "n_epochs=" }, "n_epochs= has no values")
    refused({ "n_epochs=2,,3" }, "has an empty value")
    refused({ "n_epochs=two" }, '"two" is not a number or auto')
  end)

  it("a hyperparameter the method does not take", function()
    refused({ "beta=0.1,0.2" }, "beta is not a supervised hyperparameter %(the grid takes batch_size, "
      .. "learning_rate_multiplier, n_epochs%)")
    refused({ "temperature=1" }, "temperature is not a supervised hyperparameter")
  end)

  it("values out of the API's ranges", function()
    refused({ "n_epochs=0,2" }, "n_epochs = 0 is out of the API's range: .*integer from 1 to 50")
    refused({ "n_epochs=2.5" }, "n_epochs = 2.5 is out of the API's range")
    refused({ "batch_size=512" }, "batch_size = 512 is out of the API's range")
    refused({ "learning_rate_multiplier=-1" }, "learning_rate_multiplier = %-1 is out of the API's range")
    refused({ "beta=3" }, "beta = 3 is out of the API's range", { "--method", "dpo" })
  end)

  it("duplicate keys and values, a grid key fixed by another option", function()
    refused({ "n_epochs=2", "n_epochs=3" }, "n_epochs is in the grid twice")
    refused({ "n_epochs=2,2" }, "n_epochs lists 2 twice")
    refused({ "n_epochs=2,3" }, "n_epochs is both in the grid and fixed", { "--epochs", "4" })
  end)

  it("500 grid points unless --max-jobs allows them", function()
    local epochs, batches = {}, {}
    for i = 1, 50 do epochs[i] = tostring(i) end
    for i = 1, 10 do batches[i] = tostring(i) end
    local grid = { "n_epochs=" .. table.concat(epochs, ","), "batch_size=" .. table.concat(batches, ",") }
    refused(grid, "the grid has 500 points, more jobs than %-%-max%-jobs 100 allows")
    refused(grid, "the grid has 500 points, more jobs than %-%-max%-jobs 499 allows", { "--max-jobs", "499" })
  end)

  it("a corrupt, newer or foreign state file: exit 1, the file untouched", function()
    for _, case in ipairs({
      { '{"format":1,"kind":"sweep","poi', "is not a state file" },
      { '{"format":7,"kind":"sweep"}', "written by a newer version" },
      { '{"format":1,"kind":"run"}', "is the state of a run, not of a sweep" },
    }) do
      local st = state_path()
      H.write(st, case[1])
      local mark = server:mark()
      local code, _, err = C.run(server, sweep_args({ "--state", st }), dir)
      assert.equal(1, code, err)
      assert.truthy(err:find(case[2], 1, true), err)
      assert.equal(case[1], H.read(st))
      assert.equal(0, #server:requests{ since = mark })
    end
  end)
end)

describe("openai-ft sweep --state, killed with SIGKILL", function()
  local function status_lines(text)
    local out = {}
    for line in text:gmatch("[^\n]+") do
      if line:find("^#%d+ .* ftjob%-%w+: ") then out[#out + 1] = line end
    end
    return out
  end

  local function resumed_once(child, st, code, out, err)
    assert(code == 0, err)
    local doc = json(out)
    assert.equal(4, #doc.jobs)
    local jobs = all_jobs()
    assert.equal(4, #jobs)
    local points = {}
    for _, job in ipairs(jobs) do
      local key = job.metadata.openai_ft_run
      assert.is_nil(points[key], "two jobs for point " .. tostring(key))
      points[key] = true
      assert.equal(C.state(st).id, job.metadata.openai_ft_sweep)
    end
    assert.equal(1, uploads())
    local seen = {}
    for _, text in ipairs({ child:stderr(), err }) do
      for _, line in ipairs(status_lines(text)) do
        assert.is_nil(seen[line], "printed twice: " .. line)
        seen[line] = true
      end
    end
  end

  it("with jobs created and others queued: no second job for any point", function()
    server:set_speed(20) -- slow enough to land the kill while jobs run
    local st = state_path()
    local args = sweep_args({ "--state", st, "--max-active", "2", "--json" })
    local child = C.spawn(server, args, dir)
    C.wait_for(function()
      local s = C.state(st)
      return s and s.points and s.points[2] and s.points[2].id
    end, 30, "two jobs to be created")
    child:kill()
    local s = C.state(st)
    assert.is_nil(s.points[4].id)
    local code, out, err = C.run(server, args, dir)
    resumed_once(child, st, code, out, err)
  end)

  it("between a job's POST and the save of its id: the resume finds it by its metadata", function()
    local st = state_path()
    local args = sweep_args({ "--state", st, "--max-active", "4", "--json" })
    server:fault{ match = { method = "POST", path = "^/v1/fine_tuning/jobs$" }, skip = 1,
      fault = { name = "stall", seconds = 20 } }
    local child = C.spawn(server, args, dir)
    C.wait_for(function() return server:state().jobs == 2 end, 30, "the second job to exist")
    child:kill()
    local s = C.state(st)
    assert.truthy(s.points[2].create_started)
    assert.is_nil(s.points[2].id)
    server:clear_faults()
    local code, out, err = C.run(server, args, dir)
    resumed_once(child, st, code, out, err)
  end)
end)

describe("client:sweep", function()
  it("raises on misuse, returns invalid_grid for a grid that cannot run", function()
    assert.has_error(function()
      client:sweep{ training_file = TRAIN, job = { model = MODEL }, grid = {}, max_active = 0 }
    end,
      "bad argument #1 to 'sweep' (max_active must be an integer >= 1, got 0)")
    local r, err = client:sweep{ training_file = TRAIN, job = { model = MODEL }, grid = { n_epochs = { 0 } } }
    assert.is_nil(r)
    assert.equal("invalid_request", err.kind)
    assert.equal("invalid_grid", err.code)
    r, err = client:sweep{ training_file = TRAIN, job = { model = MODEL, method = { type = "reinforcement" } },
      grid = { n_epochs = { 1 } } }
    assert.is_nil(r)
    assert.truthy(err.message:find("supervised or dpo", 1, true))
  end)

  it("a dpo grid with beta", function()
    local dpo = dir .. "/dpo.jsonl"
    local lines = {}
    for i = 1, 10 do
      lines[i] = string.format('{"input":{"messages":[{"role":"user","content":"q%d"}]},'
        .. '"preferred_output":[{"role":"assistant","content":"good"}],'
        .. '"non_preferred_output":[{"role":"assistant","content":"bad"}]}', i)
    end
    H.write(dpo, table.concat(lines, "\n") .. "\n")
    local r, err = client:sweep{ training_file = dpo, job = { model = MODEL, method = { type = "dpo" } },
      grid = { beta = { 0.1, 0.5 } }, poll_interval = 0.05 }
    assert.truthy(r, tostring(err))
    assert.equal(2, #r.jobs)
    for i, beta in ipairs({ 0.1, 0.5 }) do
      assert.equal("succeeded", r.jobs[i].status)
      local job = assert(client:job(r.jobs[i].id))
      assert.equal(beta, job.method.dpo.hyperparameters.beta)
    end
  end)
end)
