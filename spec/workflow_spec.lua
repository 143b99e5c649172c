-- wait_for_file and wait_for_job against the fake server with a sped-up clock:
-- terminal states, events exactly once and oldest first (many per poll, more
-- than a page), status changes (paused too), time-outs, transient failures,
-- errors raised by callbacks, misuse.
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")
local core = require("openai.finetunes.core")
local codec = require("openai.finetunes.codec")

local function ids_of(items)
  local out = {}
  for i, item in ipairs(items) do out[i] = item.id end
  return out
end

-- The job's whole event log, oldest first, paged by hand (not through the code under test).
local function full_log(c, job_id)
  local newest_first, after = {}, nil
  repeat
    local page = assert(c:job_events(job_id, { limit = 100, after = after }))
    for _, e in ipairs(page.data) do newest_first[#newest_first + 1] = e end
    after = #page.data > 0 and page.data[#page.data].id or nil
  until not page.has_more or not after
  local out = {}
  for i = #newest_first, 1, -1 do out[#out + 1] = newest_first[i] end
  return out
end

local function job_on(c, fields)
  local file = H.training_file(c)
  local body = { model = H.MODEL, training_file = file.id }
  for k, v in pairs(fields or {}) do body[k] = v end
  return assert(c:create_job(body))
end

describe("wait_for_file", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end, { reset = { speed = 10 } })

  it("returns at once for a processed file", function()
    local file = H.training_file(c)
    local mark = server:mark()
    local got, meta = c:wait_for_file(file.id)
    assert.equal("processed", got.status)
    assert.equal(file.id, got.id)
    assert.truthy(meta.request_id)
    assert.equal(1, #server:requests{ since = mark })
  end)

  it("polls until the file is processed", function()
    server:next_file{ status = "uploaded", ready_after = 2, final_status = "processed" } -- 0.2 s real
    local file = H.training_file(c)
    assert.equal("uploaded", file.status)
    local mark = server:mark()
    local got = assert(c:wait_for_file(file.id, { poll_interval = 0.05 }))
    assert.equal("processed", got.status)
    assert.is_true(#server:requests{ since = mark } >= 2)
  end)

  it("returns a file that failed processing as a result, with its status_details", function()
    server:next_file{ status = "uploaded", ready_after = 1, final_status = "error",
      final_status_details = "Invalid file format." }
    local file = H.training_file(c)
    local got, second = c:wait_for_file(file.id, { poll_interval = 0.05 })
    assert.is_table(got)
    assert.is_false(ft.is_error(second))
    assert.equal("error", got.status)
    assert.equal("Invalid file format.", got.status_details)
  end)

  it("gives the API's 404 for a file that does not exist", function()
    local got, err = c:wait_for_file("file-doesnotexist", { poll_interval = 0.05 })
    assert.is_nil(got)
    assert.equal("api", err.kind)
    assert.equal(404, err.status)
  end)

  it("times out with kind timeout, code wait_timeout and the last file seen", function()
    server:next_file{ status = "uploaded", ready_after = 100000 }
    local file = H.training_file(c)
    local t0 = core.now()
    local got, err = c:wait_for_file(file.id, { poll_interval = 0.1, timeout = 0.35 })
    local took = core.now() - t0
    assert.is_nil(got)
    assert.is_true(ft.is_error(err))
    assert.equal("timeout", err.kind)
    assert.equal("wait_timeout", err.code)
    assert.equal("uploaded", err.file.status)
    assert.is_true(err.waited >= 0.35)
    assert.is_true(took >= 0.35 and took < 2, "took " .. took)
    assert.truthy(tostring(err):find("gave up waiting for file " .. file.id, 1, true))
  end)

  it("keeps polling through a transient failure, and stops on one when told to", function()
    server:next_file{ status = "uploaded", ready_after = 2 }
    local file = H.training_file(c)
    server:fault("503", { method = "GET", path = "^/v1/files/file%-", times = 1 })
    local got = assert(c:wait_for_file(file.id, { poll_interval = 0.05 }))
    assert.equal("processed", got.status)

    server:fault("503", { method = "GET", path = "^/v1/files/file%-", times = 1 })
    local none, err = c:wait_for_file(file.id, { poll_interval = 0.05, max_poll_failures = 0 })
    assert.is_nil(none)
    assert.equal(503, err.status)
  end)

  it("stops at once on an error polling cannot cure", function()
    local file = H.training_file(c)
    server:fault("401", { method = "GET", path = "^/v1/files/file%-", times = 1 })
    local mark = server:mark()
    local got, err = c:wait_for_file(file.id, { poll_interval = 0.05 })
    assert.is_nil(got)
    assert.equal(401, err.status)
    assert.equal(1, #server:requests{ since = mark })
  end)

  it("raises on misuse before any request", function()
    local mark = server:mark()
    assert.has_error(function() c:wait_for_file(nil) end,
      "bad argument #1 to 'wait_for_file' (id must be a non-empty string, got nil)")
    assert.has_error(function() c:wait_for_file("file-x", { interval = 1 }) end,
      "bad argument #2 to 'wait_for_file' (unknown option \"interval\")")
    assert.has_error(function() c:wait_for_file("file-x", { timeout = 0 }) end,
      "bad argument #2 to 'wait_for_file' (timeout must be a number > 0, got 0)")
    assert.has_error(function() c:wait_for_file("file-x", "fast") end)
    local ok, msg = pcall(function() c:wait_for_file("file-x", { poll_interval = -1 }) end)
    assert.is_false(ok)
    assert.truthy(msg:find("workflow_spec.lua:%d+: bad argument #2 to 'wait_for_file'"), msg)
    ok, msg = pcall(function() c:wait_for_file("..") end)
    assert.is_false(ok)
    assert.truthy(msg:find("workflow_spec.lua:%d+: bad argument #1 to 'wait_for_file'"), msg)
    assert.equal(mark, server:mark())
  end)
end)

describe("wait_for_job", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end, { reset = { speed = 50 } })

  it("returns the succeeded job; every event once, oldest first; every status change", function()
    server:next_job{ validate_seconds = 10 } -- 200 ms at 50x: the first poll sees it on a busy machine too
    local job = job_on(c)
    local events, statuses = {}, {}
    local final, meta = c:wait_for_job(job.id, {
      poll_interval = 0.05,
      on_event = function(e, j)
        assert.equal(job.id, j.id)
        events[#events + 1] = e
      end,
      on_status = function(new, old, j)
        assert.equal(new, j.status)
        statuses[#statuses + 1] = { new, old }
      end,
    })
    assert.equal("succeeded", final.status)
    assert.truthy(final.fine_tuned_model)
    assert.truthy(meta.request_id)
    assert.same(ids_of(full_log(c, job.id)), ids_of(events))
    assert.truthy(events[1].message:find("^Created fine%-tuning job"))
    assert.equal("The job has successfully completed", events[#events].message)
    assert.same({ "validating_files" }, { statuses[1][1], statuses[1][2] }) -- old = nil first
    for i = 2, #statuses do
      assert.equal(statuses[i - 1][1], statuses[i][2])
      assert.are_not.equal(statuses[i][1], statuses[i][2])
    end
    assert.equal("succeeded", statuses[#statuses][1])
  end)

  it("pages back through many events that arrived between two slow polls", function()
    -- 600 steps at speed 400: ~0.08 s real per 100 metrics events; polls 0.25 s
    -- apart see dozens of new events each, far more than a page of 4.
    server:set_speed(400)
    server:next_job{ steps = 600 }
    local job = job_on(c)
    local mark = server:mark()
    local events = {}
    local final = assert(c:wait_for_job(job.id, { poll_interval = 0.25, event_page_size = 4,
      on_event = function(e) events[#events + 1] = e end }))
    assert.equal("succeeded", final.status)
    local requests = server:requests{ since = mark, path = "/events$" }
    local log = full_log(c, job.id)
    assert.is_true(#log > 100)
    assert.same(ids_of(log), ids_of(events))
    -- pages went back with after= inside one poll round
    local paged = 0
    for _, r in ipairs(requests) do
      if r.params.after then paged = paged + 1 end
      assert.equal("4", r.params.limit)
    end
    assert.is_true(paged >= 20, "requests with after: " .. paged)
  end)

  it("delivers each event once while a job runs across many polls", function()
    server:set_speed(100)
    server:next_job{ steps = 300 }
    local job = job_on(c)
    local events, seen = {}, {}
    local polls = 0
    local final = assert(c:wait_for_job(job.id, { poll_interval = 0.02, event_page_size = 3,
      on_status = function() polls = polls + 1 end,
      on_event = function(e)
        assert.is_nil(seen[e.id], "event delivered twice: " .. e.message)
        seen[e.id] = true
        events[#events + 1] = e
      end }))
    assert.equal("succeeded", final.status)
    assert.same(ids_of(full_log(c, job.id)), ids_of(events))
    for i = 2, #events do assert.is_true(events[i].created_at >= events[i - 1].created_at) end
  end)

  it("returns a failed job as a result, with its error and last events", function()
    server:next_job{ outcome = "failed", steps = 20, fail_at_step = 10 }
    local job = job_on(c)
    local events, last_status = {}, nil
    local final, second = c:wait_for_job(job.id, { poll_interval = 0.05,
      on_event = function(e) events[#events + 1] = e end,
      on_status = function(new) last_status = new end })
    assert.is_table(final)
    assert.is_false(ft.is_error(second))
    assert.equal("failed", final.status)
    assert.equal("server_error", final.error.code)
    assert.equal("failed", last_status)
    assert.equal("error", events[#events].level)
    assert.same(ids_of(full_log(c, job.id)), ids_of(events))
  end)

  it("returns a job cancelled while it is being waited on", function()
    server:set_speed(5)
    server:next_job{ steps = 2000 }
    local job = job_on(c)
    local statuses = {}
    local final = assert(c:wait_for_job(job.id, { poll_interval = 0.05,
      on_status = function(new)
        statuses[#statuses + 1] = new
        if new == "running" then assert(c:cancel_job(job.id)) end
      end }))
    assert.equal("cancelled", final.status)
    assert.equal("cancelled", statuses[#statuses])
    assert.equal("running", statuses[#statuses - 1])
  end)

  it("reports paused and the statuses after a resume", function()
    server:set_speed(20)
    server:next_job{ steps = 200 }
    local job = job_on(c)
    local statuses, paused_once = {}, false
    local final = assert(c:wait_for_job(job.id, { poll_interval = 0.05,
      on_status = function(new)
        statuses[#statuses + 1] = new
        if new == "running" and not paused_once then
          paused_once = true
          assert(c:pause_job(job.id))
        elseif new == "paused" then
          assert(c:resume_job(job.id))
        end
      end }))
    assert.equal("succeeded", final.status)
    -- the resumed job is queued briefly; a poll may or may not catch that
    local text = table.concat(statuses, " ")
    assert.truthy(text:find("running paused queued running succeeded$")
      or text:find("running paused running succeeded$"), text)
  end)

  it("stops with the callback's error, leaving the job alone", function()
    server:set_speed(5)
    server:next_job{ steps = 2000 }
    local job = job_on(c)
    local ok, err = pcall(c.wait_for_job, c, job.id, { poll_interval = 0.05,
      on_event = function(e)
        if e.message:find("^Validating") then error({ stop = e.id }) end
      end })
    assert.is_false(ok)
    assert.is_table(err)
    assert.truthy(err.stop)
    local now = assert(c:job(job.id))
    assert.are_not.equal("cancelled", now.status)
    assert.equal(0, #server:requests{ path = "/cancel$" })

    -- on_status too, with a string message, through the strict view as well
    local ok2, msg = pcall(function()
      c:strict():wait_for_job(job.id, { on_status = function() error("enough") end })
    end)
    assert.is_false(ok2)
    assert.truthy(tostring(msg):find("enough", 1, true))
  end)

  it("times out with the last job seen", function()
    server:set_speed(1)
    server:next_job{ steps = 100000 }
    local job = job_on(c)
    local t0 = core.now()
    local got, err = c:wait_for_job(job.id, { poll_interval = 0.1, timeout = 0.3 })
    local took = core.now() - t0
    assert.is_nil(got)
    assert.equal("timeout", err.kind)
    assert.equal("wait_timeout", err.code)
    assert.equal(job.id, err.job.id)
    assert.is_true(took >= 0.3 and took < 2, "took " .. took)
  end)

  it("history = false delivers only the events after the call", function()
    server:set_speed(0.0001) -- the job stands still until the wait has looked at it
    local job = job_on(c) -- "Created ..." and "Validating ..." exist now
    local before = full_log(c, job.id)
    assert.is_true(#before >= 2)
    local events, started = {}, false
    assert(c:wait_for_job(job.id, { poll_interval = 0.05, history = false,
      on_event = function(e) events[#events + 1] = e end,
      on_status = function()
        -- the first poll (events read, status reported) is over: let the job run
        if not started then
          started = true
          server:set_speed(100)
        end
      end }))
    local log = full_log(c, job.id)
    local expected = {}
    for i = #before + 1, #log do expected[#expected + 1] = log[i].id end
    assert.same(expected, ids_of(events))
    assert.equal("The job has successfully completed", events[#events].message)
  end)

  it("asks for no events without on_event", function()
    local job = job_on(c)
    local mark = server:mark()
    assert.equal("succeeded", assert(c:wait_for_job(job.id, { poll_interval = 0.05 })).status)
    assert.equal(0, #server:requests{ since = mark, path = "/events$" })
  end)

  it("keeps waiting through a transient failure of a poll", function()
    local job = job_on(c)
    server:fault("502", { method = "GET", path = "^/v1/fine_tuning/jobs/ftjob%-[%w]+$", times = 2 })
    local events = {}
    local final = assert(c:wait_for_job(job.id, { poll_interval = 0.05,
      on_event = function(e) events[#events + 1] = e end }))
    assert.equal("succeeded", final.status)
    assert.same(ids_of(full_log(c, job.id)), ids_of(events))
  end)

  it("gives the API's 404 for an unknown job", function()
    local got, err = c:wait_for_job("ftjob-doesnotexist", { poll_interval = 0.05 })
    assert.is_nil(got)
    assert.equal(404, err.status)
  end)

  it("raises on misuse before any request", function()
    local mark = server:mark()
    assert.has_error(function() c:wait_for_job("") end,
      "bad argument #1 to 'wait_for_job' (id must be a non-empty string, got \"\")")
    assert.has_error(function() c:wait_for_job("ftjob-x", { on_event = "print" }) end,
      "bad argument #2 to 'wait_for_job' (on_event must be a function, got \"print\")")
    assert.has_error(function() c:wait_for_job("ftjob-x", { history = 1 }) end,
      "bad argument #2 to 'wait_for_job' (history must be a boolean, got 1)")
    assert.has_error(function() c:wait_for_job("ftjob-x", { event_page_size = 500 }) end,
      "bad argument #2 to 'wait_for_job' (event_page_size must be an integer in 1..100, got 500)")
    assert.has_error(function() c:wait_for_job("ftjob-x", { follow = true }) end,
      "bad argument #2 to 'wait_for_job' (unknown option \"follow\")")
    assert.equal(mark, server:mark())
  end)

  it("sleeps and reads the clock through the transport", function()
    local curl = require("openai.finetunes.transport.curl")
    local inner = curl.new{ api_key = H.API_KEY }
    local sleeps, reads = 0, 0
    local t = {
      request = function(_, req) return inner:request(req) end,
      now = function() reads = reads + 1 return core.now() end,
      sleep = function(_, s) sleeps = sleeps + 1 core.sleep(s) end,
    }
    local tc = ft.new{ api_key = H.API_KEY, base_url = server.base_url, transport = t, max_retries = 0 }
    local job = job_on(tc)
    assert.equal("succeeded", assert(tc:wait_for_job(job.id, { poll_interval = 0.05 })).status)
    assert.is_true(sleeps >= 1)
    assert.is_true(reads >= 2)
    inner:close()
  end)
end)

-- The same helpers inside nginx (lua-nginx-module, LuaJIT): the ngx transport,
-- cosockets, ngx.sleep between polls, ngx.thread for concurrent upload parts.
describe("the workflow helpers inside nginx (ngx transport)", function()
  local openresty = require("spec.support.openresty")
  local json_decode = codec.json_decode
  local server, srv, dir

  local HANDLER = [[
    local ft = require("openai.finetunes")
    local core = require("openai.finetunes.core")
    local codec = require("openai.finetunes.codec")
    local c = ft.new{ api_key = "sk-test-ngx", base_url = ngx.var.fake, max_retries = 2 }
    local out = { transport = tostring(c:_transport()) }
    local t0 = ngx.now()
    local file, info = c:upload_large_file{ file = ngx.var.train, purpose = "fine-tune", part_size = 512,
      parallel = 3 }
    if not file then
      ngx.say(codec.json_encode({ failed = tostring(info) }))
      return
    end
    out.md5, out.parts, out.bytes = info.md5, info.parts, file.bytes
    out.file_status = assert(c:wait_for_file(file.id, { poll_interval = 0.05 })).status
    local job = assert(c:create_job{ model = "gpt-4o-mini-2024-07-18", training_file = file.id })
    local events, statuses = {}, {}
    local final = assert(c:wait_for_job(job.id, { poll_interval = 0.05,
      on_event = function(e) events[#events + 1] = e.id end,
      on_status = function(new) statuses[#statuses + 1] = new end }))
    out.status, out.statuses = final.status, statuses
    local paged = {}
    for e, err in c:each_event(job.id, { limit = 7 }) do
      assert(e, err)
      table.insert(paged, 1, e.id)
    end
    out.events_in_order = table.concat(events, ",") == table.concat(paged, ",")
    out.events = #events
    local rows = assert(c:job_metrics(job.id))
    out.metric_rows, out.last_step = #rows, rows[#rows].step
    local timeout, terr = c:wait_for_job(job.id, { poll_interval = 0.05, timeout = 5 })
    out.after_final = timeout and timeout.status or tostring(terr)
    out.seconds = ngx.now() - t0
    ngx.say(codec.json_encode(out))
  ]]

  setup(function()
    server = H.start{ speed = 50 }
    dir = H.tmpdir()
    H.write(dir .. "/handler.lua", HANDLER)
    srv = openresty.start{
      vars = { fake = server.base_url, train = openresty.ROOT .. "/" .. H.TRAIN },
      server = "location = /run { content_by_lua_file " .. dir .. "/handler.lua; }",
    }
  end)
  teardown(function()
    if srv then srv:stop() end
    H.rmdir(dir)
  end)

  it("uploads in parts, waits, follows every event once, reads the metrics", function()
    server:reset{ speed = 50 }
    server:next_job{ validate_seconds = 10 } -- 200 ms: the first poll sees validating_files under load too
    local mark = server:mark()
    local status, body = openresty.get(srv:url("/run"), 60)
    assert.equal(200, status, tostring(body) .. srv:error_log())
    local out = assert(json_decode(body), body)
    assert.is_nil(out.failed, out.failed)
    assert.truthy(out.transport:find("ngx", 1, true), out.transport)
    local size = #H.read(H.TRAIN)
    assert.equal(size, out.bytes)
    assert.equal(H.md5(H.TRAIN), out.md5)
    assert.equal(math.ceil(size / 512), out.parts)
    assert.equal(#server:requests{ since = mark, path = "^/v1/uploads/[%w_]+/parts$" }, out.parts)
    assert.equal("processed", out.file_status)
    assert.equal("succeeded", out.status)
    assert.equal("validating_files", out.statuses[1])
    assert.equal("succeeded", out.statuses[#out.statuses])
    assert.is_true(out.events_in_order)
    assert.is_true(out.events > 20)
    assert.equal(out.metric_rows, out.last_step)
    assert.equal("succeeded", out.after_final)
  end)
end)
