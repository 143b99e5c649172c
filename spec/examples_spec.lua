-- Every example in examples/ runs against the fake server and does what its
-- header says, so none can rot. examples/workflow.lua (with
-- run-with-fake-server.lua, `make demo`) has its own spec:
-- spec/workflow_example_spec.lua. An example without an entry in EXPECT below
-- must still run and exit 0 (a new example is covered the day it lands).
local H = require("spec.support.client_helper")

local COVERED_ELSEWHERE = { ["workflow.lua"] = true, ["run-with-fake-server.lua"] = true }

-- Run examples/<name> with args against the server; returns exit code, stdout, stderr.
local function run(server, name, args)
  local dir = H.tmpdir()
  local out, err = dir .. "/out", dir .. "/err"
  local parts = { "env", "-u OPENAI_ORG_ID", "-u OPENAI_PROJECT_ID", "-u OPENAI_CUSTOM_HEADERS" }
  for k, v in pairs({ OPENAI_BASE_URL = server.base_url, OPENAI_API_KEY = H.API_KEY, POLL_INTERVAL = "0.05",
    LUA_PATH = package.path, LUA_CPATH = package.cpath }) do
    parts[#parts + 1] = H.shell_quote(k .. "=" .. v)
  end
  parts[#parts + 1] = H.shell_quote(H.lua())
  parts[#parts + 1] = H.shell_quote("examples/" .. name)
  for _, a in ipairs(args or {}) do parts[#parts + 1] = H.shell_quote(a) end
  local r1, _, code = os.execute(table.concat(parts, " ") .. " >" .. H.shell_quote(out) .. " 2>" .. H.shell_quote(err))
  if type(r1) == "number" then code = r1 > 255 and math.floor(r1 / 256) or r1 end
  local stdout, stderr = H.read(out), H.read(err)
  H.rmdir(dir)
  return code, stdout, stderr
end

local function count(text, plain)
  local n, from = 0, 1
  while true do
    local s, e = text:find(plain, from, true)
    if not s then return n end
    n, from = n + 1, e + 1
  end
end

local function examples()
  local list = {}
  local p = io.popen("ls examples/*.lua")
  for line in p:lines() do
    local name = line:match("([^/]+%.lua)$")
    if name and not COVERED_ELSEWHERE[name] then list[#list + 1] = name end
  end
  p:close()
  table.sort(list)
  return list
end

-- label -> { file = example (default: the label), args = function(ctx) -> list,
--            exit = expected status (default 0), check = function(stdout, stderr, ctx) }
local EXPECT = {
  ["upload.lua"] = {
    check = function(out)
      local id = out:match("uploaded train%.jsonl as (file%-%w+) %(%d+ bytes")
      assert.truthy(id, out)
      assert.truthy(out:find("file " .. id .. " is processed", 1, true), out)
    end,
  },
  ["create_and_wait.lua"] = {
    check = function(out)
      assert.truthy(out:find("created job ftjob%-"), out)
      assert.truthy(out:find("(start) -> validating_files", 1, true), out)
      assert.truthy(out:find("-> succeeded", 1, true), out)
      assert.truthy(out:find("fine%-tuned model: ft:gpt%-4o%-mini%-2024%-07%-18:"), out)
    end,
  },
  ["follow_events.lua"] = {
    check = function(out)
      local created = out:find("Created fine-tuning job: ftjob-", 1, true)
      local step1 = out:find("step    1/", 1, true)
      local done = out:find("The job has successfully completed", 1, true)
      assert.truthy(created and step1 and done, out)
      assert.is_true(created < step1 and step1 < done)
      assert.equal(1, count(out, "step    1/"))
      assert.equal(1, count(out, "Fine-tuning job started"))
      assert.truthy(out:find("job ftjob%-%w+ succeeded%s*$"), out)
    end,
  },
  ["follow_events.lua (an existing job)"] = {
    file = "follow_events.lua",
    args = function(ctx) return { ctx.job.id } end,
    check = function(out, _, ctx)
      assert.truthy(out:find("following " .. ctx.job.id, 1, true), out)
      assert.equal(1, count(out, "The job has successfully completed"))
    end,
  },
  ["paginate.lua"] = {
    args = function() return { "2" } end, -- tiny pages: every loop crosses pages
    check = function(out, _, ctx)
      assert.truthy(out:find(string.format("%d files, ", ctx.files), 1, true), out)
      assert.truthy(out:find("newest succeeded job: " .. ctx.job.id, 1, true), out)
      assert.truthy(out:find("found after 2 job(s)", 1, true), out) -- the newer, failed job comes first
      assert.truthy(out:find(string.format("  %d events", ctx.events), 1, true), out)
      assert.equal(ctx.checkpoints, count(out, "  checkpoint at step "))
    end,
  },
  ["large_upload.lua"] = {
    args = function() return { H.TRAIN, "1K", "3" } end,
    check = function(out, err)
      local bytes, parts, md5 = out:match("uploaded train%.jsonl as file%-%w+: (%d+) bytes in (%d+) part%(s%), "
        .. "0 retried, md5 (%x+)")
      assert.truthy(bytes, out)
      assert.equal(#H.read(H.TRAIN), tonumber(bytes))
      assert.equal(math.ceil(#H.read(H.TRAIN) / 1024), tonumber(parts))
      assert.equal(H.md5(H.TRAIN), md5)
      assert.truthy(err:find("100.0%", 1, true), err) -- the progress line
    end,
  },
  ["metrics.lua"] = {
    args = function(ctx) return { ctx.job.id } end,
    check = function(out, _, ctx)
      assert.truthy(out:find(string.format("job %s: %d steps, columns step,train_loss,train_accuracy,valid_loss,"
        .. "valid_mean_token_accuracy (base64", ctx.job.id, ctx.steps), 1, true), out)
      assert.truthy(out:find(string.format("\n%6d ", ctx.steps)), out) -- the last step's row
      assert.truthy(out:find("lowest training loss %d"), out)
    end,
  },
  ["metrics.lua (no job given)"] = {
    file = "metrics.lua",
    check = function(out, _, ctx)
      assert.truthy(out:find("job " .. ctx.job.id .. ":", 1, true), out) -- the newest succeeded job
    end,
  },
  ["validate_data.lua"] = {
    check = function(out)
      assert.truthy(out:find("train.jsonl: valid supervised data, 0 errors", 1, true), out)
    end,
  },
  ["validate_data.lua (a broken file)"] = {
    file = "validate_data.lua",
    exit = 1, -- its header: exits 1 when the file has errors
    args = function(ctx)
      local path = ctx.dir .. "/broken.jsonl"
      local lines = { H.read(H.TRAIN):match("^[^\n]*"), "{not json", "" }
      H.write(path, table.concat(lines, "\n"))
      return { path }
    end,
    check = function(out)
      assert.truthy(out:find("broken.jsonl:2:", 1, true), out)
      assert.truthy(out:find("INVALID", 1, true), out)
    end,
  },
  ["models.lua"] = {
    args = function(ctx) return { ctx.job.fine_tuned_model } end,
    check = function(out, _, ctx)
      assert.truthy(out:find("gpt-4o-mini-2024-07-18", 1, true), out)
      assert.truthy(out:find("newest fine-tuned: " .. ctx.job.fine_tuned_model, 1, true), out)
      assert.truthy(out:find("deleted " .. ctx.job.fine_tuned_model .. ": true", 1, true), out)
    end,
  },
}

describe("examples", function()
  local server, c, ctx

  local dir

  setup(function()
    server = H.start{ speed = 50 }
    c = H.client(server)
    dir = H.tmpdir()
  end)
  teardown(function() H.rmdir(dir) end)

  -- A fresh server with one succeeded job (and a newer one that fails) for
  -- the examples that read existing state.
  local function prepare()
    server:reset{ speed = 50 }
    server:next_job{ steps = 30 }
    local job = H.succeeded_job(c, server)
    server:next_job{ outcome = "invalid_file" }
    assert(c:create_job{ model = H.MODEL, training_file = job.training_file })
    local events, checkpoints, files = 0, 0, 0
    for _ in c:each_event(job.id) do events = events + 1 end
    for _ in c:each_checkpoint(job.id) do checkpoints = checkpoints + 1 end
    for _ in c:each_file() do files = files + 1 end
    -- the example's own job validates for 200 ms (at 50x): its first poll sees that on a busy machine too
    server:next_job{ validate_seconds = 10 }
    return { job = job, steps = 30, events = events, checkpoints = checkpoints, files = files, dir = dir }
  end

  local names = examples()
  it("finds the examples of issue 4", function()
    local set = {}
    for _, n in ipairs(names) do set[n] = true end
    for _, n in ipairs({ "upload.lua", "create_and_wait.lua", "follow_events.lua", "paginate.lua", "large_upload.lua",
      "metrics.lua", "models.lua" }) do
      assert.is_true(set[n] == true, n)
    end
  end)

  local cases = {}
  for _, name in ipairs(names) do cases[#cases + 1] = { label = name, file = name, spec = EXPECT[name] or {} } end
  for label, spec in pairs(EXPECT) do
    if spec.file then cases[#cases + 1] = { label = label, file = spec.file, spec = spec } end
  end
  table.sort(cases, function(a, b) return a.label < b.label end)

  for _, case in ipairs(cases) do
    it("runs " .. case.label, function()
      ctx = prepare()
      local args = case.spec.args and case.spec.args(ctx) or {}
      local code, out, err = run(server, case.file, args)
      assert.equal(case.spec.exit or 0, code, "exit " .. tostring(code) .. "\n" .. out .. "\n" .. err)
      if case.spec.check then case.spec.check(out, err, ctx) end
    end)
  end
end)
