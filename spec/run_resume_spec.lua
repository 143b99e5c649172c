-- openai-ft run --state / client:run: killed with SIGKILL at each step (observed from
-- outside: the state file it writes, the fake server's objects), then run again with
-- the same command. Every resumed run ends with the fine-tuned model id, one uploaded
-- file, one job and every event printed exactly once over both processes.
local H = require("spec.support.client_helper")
local C = require("spec.support.cli_child")
local fake_server = require("spec.support.fake_server")

local MODEL, TRAIN = H.MODEL, H.TRAIN
local SPEED = 50

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
  return string.format("%s/run%d.state.json", dir, n)
end

local function run_args(file, st, extra)
  local args = { "run", file, "--model", MODEL, "--state", st, "--poll-interval", "0.05" }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  return args
end

-- The event lines of a run's stderr ("HH:MM:SS  info   message"), as messages.
local function event_messages(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local msg = line:match("^%d%d:%d%d:%d%d  %a+%s+(.*)$")
    if msg then out[#out + 1] = msg end
  end
  return out
end

local function fine_tune_files()
  local list = assert(client:files({ purpose = "fine-tune" }))
  return list.data
end

local function all_jobs()
  return assert(client:jobs({ limit = 100 })).data
end

-- After the kill and the resumed run: one file per input, one job, each event once, the
-- model on stdout.
local function assert_once(killed, code, out, err, files_expected)
  assert(code == 0, "exit " .. tostring(code) .. "\n" .. err)
  local jobs = all_jobs()
  assert.equal(1, #jobs)
  assert.equal(files_expected or 1, #fine_tune_files())
  local job = jobs[1]
  assert.equal("succeeded", job.status)
  assert.equal(job.fine_tuned_model .. "\n", out)
  local printed, seen = {}, {}
  for _, text in ipairs({ killed:stderr(), err }) do
    for _, msg in ipairs(event_messages(text)) do
      assert.is_nil(seen[msg], "printed twice: " .. msg)
      seen[msg] = true
      printed[#printed + 1] = msg
    end
  end
  local events = {}
  for ev in client:each_event(job.id, { limit = 100 }) do events[#events + 1] = ev end
  assert.equal(#events, #printed)
  return job
end

local function big_training_file(path, copies)
  local lines = {}
  for line in io.lines(TRAIN) do lines[#lines + 1] = line end
  local f = assert(io.open(path, "wb"))
  local block = table.concat(lines, "\n") .. "\n"
  for _ = 1, copies do f:write(block) end
  f:close()
  return path
end

describe("openai-ft run --state, killed with SIGKILL", function()
  it("while validating: resumes, validates again, uploads once #heavy", function()
    local file = big_training_file(dir .. "/big.jsonl", 16000) -- ~60 MB: the check takes a while
    local st = state_path()
    local child = C.spawn(server, run_args(file, st), dir)
    C.wait_for(function() local s = C.state(st) return s and s.inputs end, 60, "the inputs to be recorded")
    child:kill()
    local s = C.state(st)
    assert.is_nil(s.validated, "the check was over before the kill")
    assert.equal(0, #fine_tune_files())
    local code, out, err = C.run(server, run_args(file, st), dir)
    assert.truthy(err:find("resuming from " .. st, 1, true), err)
    assert.truthy(err:find("big.jsonl: valid", 1, true), err) -- checked again: it never finished
    assert_once(child, code, out, err)
    os.remove(file)
  end)

  it("mid-upload: the cut upload made no file; the resumed run uploads it once", function()
    -- ~16 MB at 4 MB/s: more than the socket buffers hold when the kill comes
    local file = big_training_file(dir .. "/mid.jsonl", 4400)
    server:fault{ match = { method = "POST", path = "^/v1/files$" }, fault = { name = "slow_upload", rate = 4000000 } }
    local st = state_path()
    local child = C.spawn(server, run_args(file, st), dir)
    C.wait_for(function()
      local s = C.state(st)
      return s and s.uploads and s.uploads.training and s.uploads.training.started_at
    end, 30, "the upload to start")
    C.wait_for(function() return #server:requests{ path = "^/v1/files$" } == 1 end, 30, "the upload to arrive")
    require("openai.finetunes.core").sleep(0.3)
    assert.equal(0, #fine_tune_files()) -- still being read
    child:kill()
    local s = C.state(st)
    assert.is_nil(s.uploads.training.file_id)
    assert.equal(0, #fine_tune_files())
    local code, out, err = C.run(server, run_args(file, st), dir)
    assert_once(child, code, out, err)
    os.remove(file)
  end)

  it("after the upload: not uploaded again", function()
    server:next_file{ status = "uploaded", ready_after = 100 } -- processed 2 s later
    local st = state_path()
    local child = C.spawn(server, run_args(TRAIN, st), dir)
    C.wait_for(function()
      local s = C.state(st)
      return s and s.uploads and s.uploads.training and s.uploads.training.file_id
    end, 30, "the file id to be recorded")
    child:kill()
    local s = C.state(st)
    assert.is_nil(s.job)
    local code, out, err = C.run(server, run_args(TRAIN, st), dir)
    assert.truthy(err:find("train.jsonl: uploaded before as " .. s.uploads.training.file_id, 1, true), err)
    assert.equal(1, #server:requests{ path = "^/v1/files$", method = "POST" })
    assert_once(child, code, out, err)
  end)

  it("between the job's POST and the save of its id: finds the job by its metadata", function()
    -- the server creates the job, then holds the answer: the kill lands in that window
    server:fault{ match = { method = "POST", path = "^/v1/fine_tuning/jobs$" },
      fault = { name = "stall", seconds = 20 } }
    local st = state_path()
    local child = C.spawn(server, run_args(TRAIN, st), dir)
    C.wait_for(function() return server:state().jobs == 1 end, 30, "the job to exist")
    child:kill()
    local s = C.state(st)
    assert.truthy(s.job.create_started)
    assert.is_nil(s.job.id)
    server:clear_faults()
    local code, out, err = C.run(server, run_args(TRAIN, st), dir)
    local job = assert_once(child, code, out, err)
    assert.equal(s.id, job.metadata.openai_ft_run)
    assert.truthy(err:find("following " .. job.id .. " (created before)", 1, true), err)
  end)

  it("after the job was created: follows it, creates no second job", function()
    server:next_job{ validate_seconds = 100 }
    local st = state_path()
    local child = C.spawn(server, run_args(TRAIN, st), dir)
    C.wait_for(function() local s = C.state(st) return s and s.job and s.job.id end, 30, "the job id")
    child:kill()
    local code, out, err = C.run(server, run_args(TRAIN, st), dir)
    assert_once(child, code, out, err)
    assert.equal(1, #server:requests{ path = "^/v1/fine_tuning/jobs$", method = "POST" })
  end)

  it("while following: prints the events it had not printed, each once", function()
    server:next_job{ steps = 40, step_seconds = 2 }
    local st = state_path()
    local child = C.spawn(server, run_args(TRAIN, st), dir)
    C.wait_for(function()
      local s = C.state(st)
      return s and s.events and s.events.delivered >= 8 and #event_messages(child:stderr()) >= 8
    end, 30, "events to be delivered")
    child:kill()
    assert.equal("running", assert(client:job(C.state(st).job.id)).status)
    local code, out, err = C.run(server, run_args(TRAIN, st), dir)
    local job = assert_once(child, code, out, err)
    assert.truthy(#event_messages(err) > 0, "killed:\n" .. child:stderr() .. "\nresumed:\n" .. err)
    -- the job's POST carried the key derived from the state
    local posts = server:requests{ path = "^/v1/fine_tuning/jobs$", method = "POST" }
    assert.equal(1, #posts)
    assert.equal("openai-ft-" .. C.state(st).id, posts[1].headers["idempotency-key"])
    assert.equal(job.id, C.state(st).job.id)
  end)

  it("a finished state: prints the model again without new work", function()
    local st = state_path()
    local code, out, err = C.run(server, run_args(TRAIN, st), dir)
    assert(code == 0, err)
    local mark = server:mark()
    local code2, out2, err2 = C.run(server, run_args(TRAIN, st), dir)
    assert(code2 == 0, err2)
    assert.equal(out, out2)
    assert.equal(0, #event_messages(err2))
    for _, e in ipairs(server:requests{ since = mark }) do assert.equal("GET", e.method) end
  end)
end)

describe("openai-ft run --state refuses a state it must not use, before any request", function()
  local function refused(st, args, pattern)
    local mark = server:mark()
    local before = C.read(st)
    local code, out, err = C.run(server, args or run_args(TRAIN, st), dir)
    assert.equal(1, code, err)
    assert.equal("", out)
    assert.truthy(err:find(pattern), err)
    assert.equal(0, #server:requests{ since = mark })
    assert.equal(before, C.read(st)) -- nothing lost
    return err
  end

  it("another training file, another model: says what differs and how to start fresh", function()
    local st = state_path()
    local code, _, err = C.run(server, run_args(TRAIN, st), dir)
    assert(code == 0, err)
    local changed = dir .. "/changed.jsonl"
    H.write(changed, H.read(TRAIN) .. H.read(TRAIN))
    local msg = refused(st, { "run", changed, "--model", "gpt-4.1-mini-2025-04-14", "--state", st },
      "was written for other inputs")
    assert.truthy(msg:find("files.training.sha256: %x+ %-> %x+"), msg)
    assert.truthy(msg:find("job.model: gpt-4o-mini-2024-07-18 -> gpt-4.1-mini-2025-04-14", 1, true), msg)
    assert.truthy(msg:find("to start fresh", 1, true), msg)
  end)

  it("a truncated or corrupt state file", function()
    local st = state_path()
    H.write(st, '{"format":1,"kind":"run","inputs":{"fi')
    refused(st, nil, "is not a state file %(not JSON")
    H.write(st, "")
    refused(st, nil, "is not a state file %(it is empty%)")
    H.write(st, '{"some":"thing"}')
    refused(st, nil, "no format number")
  end)

  it("a state file from a newer version", function()
    local st = state_path()
    H.write(st, '{"format":99,"kind":"run"}')
    refused(st, nil, "written by a newer version of openai%-finetunes %(state format 99")
  end)

  it("a sweep's state file", function()
    local st = state_path()
    H.write(st, '{"format":1,"kind":"sweep"}')
    refused(st, nil, "is the state of a sweep, not of a run")
  end)

  it("a read-only state directory", function()
    local ro = dir .. "/ro"
    os.execute("mkdir -p " .. ro .. " && chmod 555 " .. ro)
    local st = ro .. "/run.state.json"
    local mark = server:mark()
    local args = run_args(TRAIN, st)
    -- root writes anywhere: drop to nobody for this one
    local env = {}
    local cmd = C.command(server, args, env)
    local r = io.popen("id -u"):read("*l")
    if r == "0" then cmd = "setpriv --reuid=65534 --regid=65534 --clear-groups " .. cmd end
    local errf = dir .. "/ro.err"
    local ok = os.execute(cmd .. " </dev/null >/dev/null 2>" .. errf)
    local err = H.read(errf)
    assert.is_not_true(ok == true or ok == 0)
    assert.truthy(err:find("cannot write the state file " .. st, 1, true), err)
    assert.truthy(err:find("Permission denied", 1, true), err)
    assert.equal(0, #server:requests{ since = mark })
  end)
end)

describe("client:run", function()
  it("checks its options before any request", function()
    assert.has_error(function() client:run{ job = { model = MODEL } } end,
      "bad argument #1 to 'run' (training_file must be a path (string), got nil)")
    assert.has_error(function() client:run{ training_file = TRAIN, job = {} } end,
      "bad argument #1 to 'run' (job.model must be a string, got nil)")
    assert.has_error(function() client:run{ training_file = TRAIN, job = { model = MODEL, training_file = "x" } } end,
      "bad argument #1 to 'run' (job.training_file is set by the workflow (give the local path as training_file))")
    assert.has_error(function() client:run{ training_file = TRAIN, job = { model = MODEL }, colour = 1 } end,
      "bad argument #1 to 'run' (unknown option \"colour\")")
    local source = { take = function() end, wait = function() end }
    assert.has_error(function()
      client:run{ training_file = TRAIN, job = { model = MODEL }, events = source, on_event = print }
    end, "bad argument #1 to 'run' (on_event needs polling: give events or on_event, not both)")
    assert.has_error(function()
      client:sweep{ training_file = TRAIN, job = { model = MODEL }, grid = { n_epochs = { 1 } }, events = source }
    end, "bad argument #1 to 'sweep' (unknown option \"events\")")
  end)

  it("runs without a state file, tags the job and returns it", function()
    local steps = {}
    local job, info = client:run{ training_file = TRAIN, job = { model = MODEL, metadata = { team = "x" } },
      poll_interval = 0.05, on_step = function(step) steps[#steps + 1] = step end }
    assert.truthy(job, tostring(info))
    assert.equal("succeeded", job.status)
    assert.equal("x", job.metadata.team)
    assert.equal(info.state.id, job.metadata.openai_ft_run)
    assert.same({ "inputs", "validated", "uploaded", "processed", "created" }, steps)
  end)

  it("refuses invalid data with kind invalid_data and uploads nothing", function()
    local bad = dir .. "/bad.jsonl"
    H.write(bad, '{"messages":[{"role":"user","content":"x"}]}\n')
    local mark = server:mark()
    local job, err = client:run{ training_file = bad, job = { model = MODEL }, state = state_path() }
    assert.is_nil(job)
    assert.equal("invalid_data", err.kind)
    assert.truthy(err.report and err.report.errors > 0)
    assert.equal(0, #server:requests{ since = mark })
  end)

  it("a file the API cannot process: kind invalid_data with the file", function()
    server:next_file{ status = "uploaded", ready_after = 1, final_status = "error",
      final_status_details = "bad lines" }
    local job, err = client:run{ training_file = TRAIN, job = { model = MODEL }, poll_interval = 0.05 }
    assert.is_nil(job)
    assert.equal("invalid_data", err.kind)
    assert.equal("error", err.file.status)
    assert.truthy(tostring(err):find("bad lines", 1, true))
  end)
end)

describe("the fake server's job create", function()
  it("answers a repeated Idempotency-Key with the first job", function()
    local file = H.training_file(client)
    local a = assert(client:create_job({ model = MODEL, training_file = file.id }, { idempotency_key = "k-1" }))
    local b = assert(client:create_job({ model = MODEL, training_file = file.id }, { idempotency_key = "k-1" }))
    local c = assert(client:create_job({ model = MODEL, training_file = file.id }, { idempotency_key = "k-2" }))
    assert.equal(a.id, b.id)
    assert.are_not.equal(a.id, c.id)
    assert.equal(2, #all_jobs())
  end)

  it("refuses a job beyond the active-job limit with a 429 and creates nothing", function()
    local file = H.training_file(client)
    server:control("POST", "/_fake/job_limit", { max_active = 1 })
    assert(client:create_job({ model = MODEL, training_file = file.id }))
    local job, err = client:create_job({ model = MODEL, training_file = file.id }, { max_retries = 0 })
    assert.is_nil(job)
    assert.equal(429, err.status)
    assert.truthy(err.message:find("maximum of 1 active fine-tuning jobs", 1, true), err.message)
    assert.equal(1, #all_jobs())
    server:advance(3600) -- the first one ends: a slot is free
    assert(client:create_job({ model = MODEL, training_file = file.id }))
  end)
end)
