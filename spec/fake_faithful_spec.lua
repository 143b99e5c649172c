-- The fake server answers what the live API answers: optional fields absent rather
-- than null, `error: {}` / `integrations: []` on jobs that have not failed, string
-- limits counted in characters (fake and client alike), a loss curve shaped like a
-- real job's, and the job-finished hook other routes hang on. The raw answers are
-- read as text: every JSON decoder here drops null members, which is the point.
local http = require("socket.http")
local ltn12 = require("ltn12")
local H = require("spec.support.client_helper")
local ft = require("openai.finetunes")

local E = "\195\169" -- "é": one character, two bytes

-- raw(server, method, path, body) -> status, body text
local function raw(server, method, path, body)
  local out = {}
  local headers = { Authorization = "Bearer " .. H.API_KEY }
  if body then
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = tostring(#body)
  end
  local _, status = http.request{ url = server.base_url .. path, method = method, headers = headers,
    source = body and ltn12.source.string(body) or nil, sink = ltn12.sink.table(out) }
  return status, table.concat(out)
end

local function job_body(fields)
  local parts = {}
  for k, v in pairs(fields) do parts[#parts + 1] = string.format("%q:%s", k, v) end
  return "{" .. table.concat(parts, ",") .. "}"
end

describe("the fake server's answers follow the live API", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end)

  describe("file objects", function()
    it("leave out expires_at and status_details when there is no value", function()
      local file = H.training_file(c)
      for _, path in ipairs({ "/files/" .. file.id, "/files" }) do
        local status, text = raw(server, "GET", path)
        assert.equal(200, status)
        assert.truthy(text:find('"id":"' .. file.id .. '"', 1, true), text)
        assert.is_nil(text:find('"expires_at"', 1, true), text)
        assert.is_nil(text:find('"status_details"', 1, true), text)
        assert.is_nil(text:find("null", 1, true), text)
      end
    end)

    it("carry expires_at when the file expires", function()
      local file = assert(c:upload_file{ file = H.TRAIN, purpose = "fine-tune",
        expires_after = { anchor = "created_at", seconds = 7200 } })
      local _, text = raw(server, "GET", "/files/" .. file.id)
      assert.truthy(text:find('"expires_at":' .. (file.created_at + 7200), 1, true), text)
    end)

    it("leave them out inside the file a completed upload returns", function()
      local data = H.read(H.TRAIN)
      local up = assert(c:create_upload{ filename = "t.jsonl", purpose = "fine-tune", bytes = #data,
        mime_type = "text/jsonl" })
      local part = assert(c:add_upload_part(up.id, { data = data }))
      local status, text = raw(server, "POST", "/uploads/" .. up.id .. "/complete",
        '{"part_ids":["' .. part.id .. '"]}')
      assert.equal(200, status, text)
      local file_text = text:match('"file":(%b{})')
      assert.truthy(file_text, text)
      assert.is_nil(file_text:find('"expires_at"', 1, true), file_text)
      assert.is_nil(file_text:find('"status_details"', 1, true), file_text)
    end)
  end)

  describe("jobs", function()
    it("carry error {} and integrations [] until they fail", function()
      local file = H.training_file(c)
      local status, text = raw(server, "POST", "/fine_tuning/jobs",
        job_body{ model = '"' .. H.MODEL .. '"', training_file = '"' .. file.id .. '"' })
      assert.equal(200, status, text)
      assert.truthy(text:find('"error":{}', 1, true), text)
      assert.truthy(text:find('"integrations":[]', 1, true), text)
      local id = text:match('"id":"(ftjob%-[^"]+)"')
      server:advance(3600)
      local _, done = raw(server, "GET", "/fine_tuning/jobs/" .. id)
      assert.truthy(done:find('"status":"succeeded"', 1, true), done)
      assert.truthy(done:find('"error":{}', 1, true), done)
    end)

    it("carry the error object once failed", function()
      local file = H.training_file(c)
      local job = assert(c:create_job{ model = H.MODEL, training_file = file.id,
        metadata = { fake_outcome = "failed" } })
      server:advance(3600)
      job = assert(c:job(job.id))
      assert.equal("failed", job.status)
      assert.equal("server_error", job.error.code)
      assert.is_string(job.error.message)
    end)
  end)

  describe("string limits are counted in characters", function()
    -- the fake's own checks: the client's (on by default) would refuse first
    local function create(fields)
      local raw_client = H.client(server, { validation = false })
      local file = H.training_file(raw_client)
      local body = { model = H.MODEL, training_file = file.id }
      for k, v in pairs(fields) do body[k] = v end
      return raw_client:create_job(body)
    end

    it("take a 64-character suffix of two-byte characters and refuse 65", function()
      local job = assert(create{ suffix = E:rep(64) })
      assert.equal(E:rep(64), job.user_provided_suffix)
      local _, err = create{ suffix = E:rep(65) }
      assert.equal(400, err.status)
      assert.equal("string_above_max_length", err.code)
      assert.truthy(err.message:find("length 65", 1, true), err.message)
    end)

    it("take metadata keys of 64 and values of 512 characters and refuse one more", function()
      assert(create{ metadata = { [E:rep(64)] = E:rep(512) } })
      local _, err = create{ metadata = { [E:rep(65)] = "v" } }
      assert.equal(400, err.status)
      assert.equal("metadata", err.param)
      _, err = create{ metadata = { k = E:rep(513) } }
      assert.equal(400, err.status)
      assert.equal("string_above_max_length", err.code)
    end)

    it("in the client's validation too", function()
      local v = H.client(server, { validation = true })
      local file = H.training_file(v)
      assert(v:create_job{ model = H.MODEL, training_file = file.id, suffix = E:rep(64),
        metadata = { [E:rep(64)] = E:rep(512) } })
      assert.has_error(function()
        v:create_job{ model = H.MODEL, training_file = file.id, suffix = E:rep(65) }
      end)
      assert.has_error(function()
        v:create_job{ model = H.MODEL, training_file = file.id, metadata = { k = E:rep(513) } }
      end)
    end)
  end)

  describe("the loss curve", function()
    local function metric_events(job_id)
      local rows = {}
      for ev in c:each_event(job_id) do
        assert.is_table(ev, "each_event failed")
        if ev.type == "metrics" then rows[#rows + 1] = ev.data end
      end
      table.sort(rows, function(a, b) return a.step < b.step end)
      return rows
    end

    local function run(seed)
      local file = H.training_file(c)
      local job = assert(c:create_job{ model = H.MODEL, training_file = file.id, validation_file = file.id,
        seed = seed, method = { type = "supervised", supervised = { hyperparameters = { n_epochs = 3 } } },
        metadata = { fake_steps = "90" } })
      server:advance(3600)
      assert.equal("succeeded", assert(c:job(job.id)).status)
      return metric_events(job.id)
    end

    it("falls with noise, validation above training, accuracy rising, the same for the same seed", function()
      local rows = run(7)
      assert.is_true(#rows >= 30, "metrics events: " .. #rows)
      local third = math.floor(#rows / 3)
      local function mean(from, to, field)
        local sum, n = 0, 0
        for i = from, to do
          if rows[i][field] then sum, n = sum + rows[i][field], n + 1 end
        end
        return sum / n
      end
      -- a falling trend: each third of the run below the one before
      assert.is_true(mean(1, third, "train_loss") > mean(third + 1, 2 * third, "train_loss"))
      assert.is_true(mean(third + 1, 2 * third, "train_loss") > mean(2 * third + 1, #rows, "train_loss"))
      assert.is_true(mean(1, third, "train_mean_token_accuracy")
        < mean(2 * third + 1, #rows, "train_mean_token_accuracy"))
      -- noise: the batch loss goes up now and then, never for long
      local rises, run_up, longest = 0, 0, 0
      for i = 2, #rows do
        if rows[i].train_loss > rows[i - 1].train_loss then
          rises, run_up = rises + 1, run_up + 1
          if run_up > longest then longest = run_up end
        else
          run_up = 0
        end
      end
      assert.is_true(rises > 0, "no noise")
      assert.is_true(rises < #rows / 2, "rises " .. rises .. " of " .. #rows)
      assert.is_true(longest <= 3, "rose " .. longest .. " steps in a row")
      local valid = 0
      for _, r in ipairs(rows) do
        if r.valid_loss then
          valid = valid + 1
          assert.is_true(r.valid_loss > r.train_loss, "step " .. r.step)
        end
      end
      assert.is_true(valid >= 5)
      assert.same(rows, run(7))
    end)
  end)

  describe("training_not_available", function()
    it("answers job creation with 403 while training is off, and reset brings it back", function()
      local file = H.training_file(c)
      assert.same({ ok = true, available = false }, server:set_training(false))
      local status, text = raw(server, "POST", "/fine_tuning/jobs",
        job_body{ model = '"' .. H.MODEL .. '"', training_file = '"' .. file.id .. '"' })
      assert.equal(403, status)
      assert.truthy(text:find('"code":"training_not_available"', 1, true), text)
      assert.truthy(text:find("winding down the fine-tuning platform", 1, true), text)
      -- only creation: the rest of the API keeps working
      assert.equal(200, (raw(server, "GET", "/fine_tuning/jobs")))
      assert.equal(false, server:control("GET", "/_fake/state").training_available)
      server:reset()
      assert(c:create_job{ model = H.MODEL, training_file = H.training_file(c).id })
    end)

    it("refuses a control body that is not a boolean", function()
      local ok, err = pcall(server.control, server, "POST", "/_fake/training", { available = "no" })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("400 .*available must be true or false"), tostring(err))
    end)

    it("starts that way with --training-unavailable", function()
      local off = H.start{ training_unavailable = true }
      local client = ft.new{ api_key = H.API_KEY, base_url = off.base_url, max_retries = 0 }
      local file = H.training_file(client)
      local _, err = client:create_job{ model = H.MODEL, training_file = file.id }
      assert.equal(403, err.status)
      assert.equal("training_not_available", err.code)
      off:reset()
      _, err = client:create_job{ model = H.MODEL, training_file = file.id }
      assert.equal("training_not_available", err.code, "reset keeps the starting flag")
    end)
  end)
end)

describe("the fake server's job-finished hook", function()
  local Server = require("openai.finetunes.fake.server")
  local files = require("openai.finetunes.fake.routes.files")
  local jobs = require("openai.finetunes.fake.jobs")

  local function job_on(s, plan)
    local f = files.add(s.store, { data = H.read(H.TRAIN), filename = "t.jsonl", purpose = "fine-tune" })
    local job = jobs.create(s, { model = H.MODEL, snapshot = H.MODEL, training = f, seed = 1,
      method = { type = "supervised", supervised = {} }, hyperparameters = {}, plan = plan or {} })
    for _ = 1, 1000 do
      if job._sim.check_done then break end
      s.loop:step(0)
    end
    return job
  end

  it("runs once per job that succeeds, fails or is cancelled, after its last event", function()
    local s = Server.new{ quiet = true }
    local seen = {}
    s:on_job_finished(function(server, job)
      assert.equal(s, server)
      seen[#seen + 1] = job.id .. " " .. job.status .. " " .. job._events.list[#job._events.list].message
    end)
    s:on_job_finished(function() error("a broken hook") end) -- logged, never stops the others
    local ok_job, failed_job, cancelled_job = job_on(s), job_on(s, { outcome = "failed" }), job_on(s)
    jobs.cancel(s.store, cancelled_job)
    s.clock:advance(3600)
    for _, j in ipairs({ ok_job, failed_job, cancelled_job }) do
      jobs.advance(s.store, j)
      jobs.advance(s.store, j)
    end
    assert.same({
      cancelled_job.id .. " cancelled Fine-tuning job cancelled",
      ok_job.id .. " succeeded The job has successfully completed",
      failed_job.id .. " failed The job failed due to an internal server error. Please try again.",
    }, seen)
    s:close()
  end)
end)
