-- Fine-tuning jobs: create to succeeded (events, checkpoints, model), list and
-- page, cancel, pause, resume, failures; over real HTTP against the fake
-- server with its clock sped up.
local H = require("spec.support.client_helper")

local TERMINAL = { succeeded = true, failed = true, cancelled = true }

describe("fine-tuning jobs", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end, { reset = { speed = 40 } })

  it("runs a job from creation to succeeded, with events, checkpoints and the model", function()
    -- validation long enough (250 ms at 40x) that the first poll sees it on a busy machine too
    server:next_job{ validate_seconds = 10 }
    local file = H.training_file(c)
    local job = assert(c:create_job{ model = H.MODEL, training_file = file.id, suffix = "spec-run", seed = 42,
      metadata = { team = "lua" } })
    assert.equal("fine_tuning.job", job.object)
    assert.truthy(job.id:find("^ftjob%-"))
    assert.equal("validating_files", job.status)
    assert.equal(H.MODEL, job.model)
    assert.equal(file.id, job.training_file)
    assert.equal(42, job.seed)
    assert.is_true(H.is_integer(job.created_at))
    assert.is_nil(job.fine_tuned_model) -- null on the wire
    assert.same({ team = "lua" }, job.metadata)

    local statuses, last = {}, nil
    local sleep = require("openai.finetunes.core").sleep
    for _ = 1, 600 do
      job = assert(c:job(job.id))
      if job.status ~= last then
        statuses[#statuses + 1] = job.status
        last = job.status
      end
      if TERMINAL[job.status] then break end
      sleep(0.02)
    end
    assert.equal("succeeded", job.status)
    assert.equal("validating_files", statuses[1])
    assert.equal("succeeded", statuses[#statuses])
    assert.truthy(job.fine_tuned_model:find("^ft:" .. H.MODEL:gsub("%-", "%%-") .. ":[^:]*:spec%-run:"))
    assert.is_true(job.trained_tokens > 0)
    assert.is_true(job.finished_at >= job.created_at)

    -- events: newest first, all of them reachable a page at a time
    local first = assert(c:job_events(job.id, { limit = 100 }))
    assert.equal("list", first.object)
    local newest = first.data[1]
    assert.equal("fine_tuning.job.event", newest.object)
    assert.equal("The job has successfully completed", newest.message)
    assert.truthy(first.data[#first.data].message:find("^Created fine%-tuning job") or first.has_more)
    local paged, after = {}, nil
    repeat
      local page = assert(c:job_events(job.id, { limit = 7, after = after }))
      assert.is_true(#page.data <= 7)
      for _, e in ipairs(page.data) do paged[#paged + 1] = e end
      after = page.data[#page.data] and page.data[#page.data].id
    until not page.has_more
    local seen, metrics = {}, 0
    for i, e in ipairs(paged) do
      assert.is_nil(seen[e.id], "event listed twice: " .. e.id)
      seen[e.id] = true
      if i > 1 then assert.is_true(e.created_at <= paged[i - 1].created_at) end
      if e.type == "metrics" then
        metrics = metrics + 1
        assert.is_number(e.data.train_loss)
        assert.truthy(e.message:find("^Step %d+/%d+: training loss="))
      end
    end
    assert.is_true(metrics > 0)
    assert.equal("Created fine-tuning job: " .. job.id, paged[#paged].message)

    -- checkpoints
    local ckpts = assert(c:job_checkpoints(job.id))
    assert.equal("list", ckpts.object)
    assert.is_true(#ckpts.data >= 1)
    for _, ck in ipairs(ckpts.data) do
      assert.equal("fine_tuning.job.checkpoint", ck.object)
      assert.equal(job.id, ck.fine_tuning_job_id)
      assert.truthy(ck.fine_tuned_model_checkpoint:find(":ckpt%-step%-" .. ck.step_number .. "$"))
      assert.is_number(ck.metrics.train_loss)
    end
    local one = assert(c:job_checkpoints(job.id, { limit = 1 }))
    assert.equal(1, #one.data)
    assert.equal(#ckpts.data > 1, one.has_more)
    if one.has_more then
      local next_page = assert(c:job_checkpoints(job.id, { limit = 1, after = one.data[1].id }))
      assert.equal(ckpts.data[2].id, next_page.data[1].id)
    end

    -- the model
    local model, meta = assert(c:model(job.fine_tuned_model))
    assert.equal(job.fine_tuned_model, model.id)
    assert.equal("model", model.object)
    assert.truthy(meta.request_id)
    -- model ids keep their colons in the path, as the SDKs send them
    assert.equal("/v1/models/" .. job.fine_tuned_model, server:last_request().path)
    local listed = false
    for _, m in ipairs(assert(c:models()).data) do
      if m.id == job.fine_tuned_model then listed = true end
    end
    assert.is_true(listed)

    -- the result file: base64 CSV of step metrics
    assert.equal(1, #job.result_files)
    local result = assert(c:file(job.result_files[1]))
    assert.equal("fine-tune-results", result.purpose)
    assert.is_true(#assert(c:file_content(result.id)) > 0)
  end)

  it("lists jobs newest first, pages by hand and filters by metadata", function()
    local file = H.training_file(c)
    local ids = {}
    for i = 1, 5 do
      ids[i] = assert(c:create_job{ model = H.MODEL, training_file = file.id,
        metadata = { batch = i % 2 == 0 and "even" or "odd" } }).id
    end
    local all = assert(c:jobs())
    assert.equal("list", all.object)
    assert.equal(ids[5], all.data[1].id)
    local paged, after = {}, nil
    repeat
      local page = assert(c:jobs{ limit = 2, after = after })
      for _, j in ipairs(page.data) do paged[#paged + 1] = j.id end
      after = page.data[#page.data] and page.data[#page.data].id
    until not page.has_more
    assert.same({ ids[5], ids[4], ids[3], ids[2], ids[1] }, paged)
    local even = assert(c:jobs{ metadata = { batch = "even" } })
    assert.equal(2, #even.data)
    assert.equal("even", server:last_request().params["metadata[batch]"])
  end)

  it("cancels a job, and a second cancel is an API error", function()
    local file = H.training_file(c)
    local job = assert(c:create_job{ model = H.MODEL, training_file = file.id })
    local cancelled = assert(c:cancel_job(job.id))
    assert.equal("cancelled", cancelled.status)
    assert.equal("cancelled", assert(c:job(job.id)).status)
    local r, err = c:cancel_job(job.id)
    assert.is_nil(r)
    assert.equal("api", err.kind)
    assert.equal(400, err.status)
  end)

  it("pauses a running job and resumes it to success", function()
    server:next_job{ steps = 400, step_seconds = 1 }
    local file = H.training_file(c)
    local job = assert(c:create_job{ model = H.MODEL, training_file = file.id })
    server:set_speed(1)
    server:advance(5)
    job = assert(c:job(job.id))
    assert.equal("running", job.status)
    local paused = assert(c:pause_job(job.id))
    assert.equal("paused", paused.status)
    server:advance(60)
    assert.equal("paused", assert(c:job(job.id)).status)
    local resumed = assert(c:resume_job(job.id))
    assert.equal("queued", resumed.status)
    server:advance(1000)
    assert.equal("succeeded", assert(c:job(job.id)).status)
    -- pausing a finished job is refused by the API
    local r, err = c:pause_job(job.id)
    assert.is_nil(r)
    assert.equal(400, err.status)
  end)

  it("reports a failed job through its status and error", function()
    local file = H.training_file(c)
    local job = assert(c:create_job{ model = H.MODEL, training_file = file.id,
      metadata = { fake_outcome = "failed" } })
    job = H.wait_job(c, job.id, TERMINAL)
    assert.equal("failed", job.status)
    assert.is_string(job.error.code)
    assert.is_string(job.error.message)
  end)
end)
