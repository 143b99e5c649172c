-- What the API did in 2026, end to end over the fake server: job creation refused
-- with 403 training_not_available (client error, its hint, the CLI), Model.shutdown_date
-- (fake, client, `openai-ft models`), statuses and event levels nobody knows yet
-- passing through wait_for_job and `openai-ft jobs follow`, and the checkpoint
-- permissions list paged the way the current SDKs page it.
local H = require("spec.support.client_helper")
local ft = require("openai.finetunes")

local server, c, dir

local function exit_code(r1, _, r3)
  if type(r1) == "number" then return r1 > 255 and math.floor(r1 / 256) or r1 end
  return r3
end

-- openai-ft with args against the fake server -> exit code, stdout, stderr
local function cli(args)
  local parts = { "env", "-u", "OPENAI_ORG_ID", "-u", "OPENAI_PROJECT_ID", "-u", "OPENAI_CUSTOM_HEADERS",
    H.shell_quote("OPENAI_API_KEY=" .. H.API_KEY), H.shell_quote("OPENAI_BASE_URL=" .. server.base_url),
    H.shell_quote("LUA_PATH=" .. package.path), H.shell_quote("LUA_CPATH=" .. package.cpath), "LANG=C.UTF-8",
    H.shell_quote(H.lua()), "bin/openai-ft" }
  for _, a in ipairs(args) do parts[#parts + 1] = H.shell_quote(a) end
  local out, err = dir .. "/stdout", dir .. "/stderr"
  local code = exit_code(os.execute(table.concat(parts, " ") .. " </dev/null >" .. out .. " 2>" .. err))
  return code, H.read(out), H.read(err)
end

describe("2026", function()
  H.each_test(function(s, client, d) server, c, dir = s, client, d end, { dir = true })

  describe("training_not_available", function()
    it("is an api error with a hint naming what to do, and nothing else changes", function()
      local file = H.training_file(c)
      server:set_training(false)
      local job, err = c:create_job{ model = H.MODEL, training_file = file.id }
      assert.is_nil(job)
      assert.equal("api", err.kind)
      assert.equal(403, err.status)
      assert.equal("training_not_available", err.code)
      assert.truthy(err.message:find("winding down the fine-tuning platform", 1, true), err.message)
      assert.equal(ft.errors.hints.training_not_available, err.hint)
      local line = tostring(err)
      assert.is_nil(line:find("\n", 1, true))
      for _, words in ipairs({ "(training_not_available)", "fine-tuned models keep serving",
        'provider = "azure"', "--provider azure", "gateway (base_url)" }) do
        assert.truthy(line:find(words, 1, true), line)
      end
      assert.equal(1, err.attempts, "a 403 is not retried")
      -- listing and reading still work
      assert(c:jobs())
      assert(c:file(file.id))
    end)

    it("is not hinted for other codes", function()
      local _, err = c:job("ftjob-none")
      assert.equal(404, err.status)
      assert.is_nil(err.hint)
    end)

    it("is what the CLI says, hint included", function()
      local file = H.training_file(c)
      server:set_training(false)
      local code, out, err = cli({ "jobs", "create", "--model", H.MODEL, "--training-file", file.id })
      assert.equal(1, code, out .. err)
      assert.truthy(err:find("training_not_available", 1, true), err)
      assert.truthy(err:find(ft.errors.hints.training_not_available, 1, true), err)
    end)
  end)

  describe("Model.shutdown_date", function()
    it("is kept in results: a date for retiring base models and their fine-tunes, absent (null) for others", function()
      local nano = assert(c:model("gpt-4.1-nano-2025-04-14"))
      assert.equal("2026-10-23", nano.shutdown_date)
      assert.equal("2026-10-23", assert(c:model("o4-mini")).shutdown_date)
      assert.is_nil(assert(c:model(H.MODEL)).shutdown_date) -- null on the wire
      local job = H.succeeded_job(c, server, { model = "gpt-4.1-nano-2025-04-14" })
      assert.equal("2026-10-23", assert(c:model(job.fine_tuned_model)).shutdown_date)
      local listed
      for _, m in ipairs(assert(c:models()).data) do
        if m.id == job.fine_tuned_model then listed = m end
      end
      assert.equal("2026-10-23", listed.shutdown_date)
    end)

    it("is shown by openai-ft models list and get", function()
      local job = H.succeeded_job(c, server, { model = "gpt-4.1-nano-2025-04-14" })
      local code, out = cli({ "models", "list", "--fine-tuned" })
      assert.equal(0, code)
      assert.truthy(out:find("^ID%s+CREATED%s+OWNED BY%s+SHUTS DOWN\n"), out)
      assert.truthy(out:find(job.fine_tuned_model:gsub("%p", "%%%0") .. ".-2026%-10%-23"), out)
      code, out = cli({ "models", "list" })
      assert.equal(0, code)
      assert.truthy(out:find("\n" .. H.MODEL:gsub("%p", "%%%0") .. "[^\n]- %-\n"), out)
      code, out = cli({ "models", "get", job.fine_tuned_model })
      assert.equal(0, code)
      assert.truthy(out:find("shutdown_date%s+2026%-10%-23"), out)
    end)
  end)

  describe("a status and an event level the module does not know", function()
    local function interlude_job()
      server:control("POST", "/_fake/next_job", { interlude = { status = "pausing_for_review", level = "notice",
        seconds = 5 } })
      local file = H.training_file(c)
      return assert(c:create_job{ model = H.MODEL, training_file = file.id })
    end

    it("pass through wait_for_job: not terminal, reported, the job goes on", function()
      server:set_speed(100)
      local job = interlude_job()
      local statuses, levels = {}, {}
      local done, err = c:wait_for_job(job.id, { poll_interval = 0.01, timeout = 30,
        on_status = function(new) statuses[#statuses + 1] = new end,
        on_event = function(ev) levels[ev.level] = (levels[ev.level] or 0) + 1 end })
      assert.equal("succeeded", done and done.status, tostring(err))
      local saw
      for i, s in ipairs(statuses) do
        if s == "pausing_for_review" then saw = i end
      end
      assert.truthy(saw, table.concat(statuses, " > "))
      assert.equal("succeeded", statuses[#statuses])
      assert.is_true(saw < #statuses)
      assert.equal(1, levels.notice)
      -- and a plain read keeps both as data
      assert.is_table(assert(c:job_events(job.id)).data)
    end)

    it("shows up in openai-ft jobs follow", function()
      server:set_speed(100)
      local job = interlude_job()
      local code, out, err = cli({ "jobs", "follow", job.id, "--poll-interval", "0.01" })
      assert.equal(0, code, out .. err)
      local all = out .. err
      assert.truthy(all:find("pausing_for_review", 1, true), all)
      assert.truthy(all:find("Job status: pausing_for_review", 1, true), all)
    end)

    it("is refused as a plan when malformed", function()
      local ok, e = pcall(server.control, server, "POST", "/_fake/next_job", { interlude = { status = 3 } })
      assert.is_false(ok)
      assert.truthy(tostring(e):find("interlude must be an object", 1, true), tostring(e))
    end)
  end)

  describe("checkpoint permissions", function()
    it("list in pages by the body's last_id, as the SDKs' list does (retrieve: the deprecated single page)", function()
      local job = H.succeeded_job(c, server)
      local ckpt = assert(c:job_checkpoints(job.id)).data[1].fine_tuned_model_checkpoint
      local created = assert(c:create_checkpoint_permissions(ckpt, { project_ids = { "proj_1", "proj_2", "proj_3" } }))
      assert.equal(3, #created.data)
      local page = assert(c:checkpoint_permissions(ckpt, { limit = 2 }))
      assert.is_true(page.has_more)
      assert.equal(page.data[2].id, page.last_id)
      local ids = {}
      for p in c:each_checkpoint_permission(ckpt, { limit = 1 }) do
        assert.equal("checkpoint.permission", p.object)
        ids[#ids + 1] = p.project_id
      end
      assert.same({ "proj_3", "proj_2", "proj_1" }, ids)
      local mark = server:mark()
      for _ in c:each_checkpoint_permission(ckpt, { limit = 1 }) do end
      local afters = {}
      for _, r in ipairs(server:requests{ since = mark }) do afters[#afters + 1] = r.params.after or "-" end
      assert.equal(3, #afters) -- one request per page; the third says has_more = false
      assert.equal("-", afters[1])
    end)
  end)
end)
