-- Deadlines are deadlines: wait_for_job / wait_for_file `timeout` is an overall
-- limit (every poll, its retries and its backoff get at most the time left),
-- a call's `total_timeout` bounds it across retries, and paging events obeys
-- the deadline and a per-poll page bound, saying which stopped it. Against
-- spec/support/hostile_http.lua: a server that reads requests and never
-- answers, and one whose events never end.
local ft = require("openai.finetunes")
local core = require("openai.finetunes.core")
local hostile = require("spec.support.hostile")

-- A client whose single attempt may take 2 s and which retries twice: without
-- the deadline one stalled poll costs 3 x 2 s plus backoff.
local function client(srv, opts)
  local o = { api_key = "sk-deadline-spec-0123", base_url = srv.base_url, timeout = 2, max_retries = 2 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return ft.new(o)
end

local function timed(fn)
  local t0 = core.now()
  local a, b = fn()
  return core.now() - t0, a, b
end

describe("a stalled server", function()
  local srv
  setup(function() srv = hostile.start("stall") end)
  teardown(function() srv:stop() end)
  before_each(function() srv:clear() end)

  it("cannot stretch wait_for_job past its timeout", function()
    local c = client(srv)
    local took, job, err = timed(function()
      return c:wait_for_job("ftjob-stall", { timeout = 1, poll_interval = 0.2 })
    end)
    assert.is_nil(job)
    assert.equal("timeout", err.kind)
    assert.equal("wait_timeout", err.code)
    assert.is_true(took >= 0.95 and took < 1.6, "waited " .. took .. " s")
    -- the stalled poll's own timeout error is the cause
    assert.equal("timeout", err.cause and err.cause.kind)
    assert.equal(1, #srv:requests(), "one poll reached the server")
  end)

  it("cannot stretch wait_for_file past its timeout", function()
    local c = client(srv)
    local took, file, err = timed(function()
      return c:wait_for_file("file-stall", { timeout = 1, poll_interval = 0.2 })
    end)
    assert.is_nil(file)
    assert.equal("wait_timeout", err.code)
    assert.is_true(took >= 0.95 and took < 1.6, "waited " .. took .. " s")
  end)

  it("gets no retry past a call's total_timeout", function()
    local c = client(srv)
    local took, res, err = timed(function() return c:job("ftjob-stall", { total_timeout = 1.5 }) end)
    assert.is_nil(res)
    assert.equal("timeout", err.kind)
    assert.is_true(took >= 1.4 and took < 2, "took " .. took .. " s")
    -- the 2 s attempt was cut to 1.5 s, and no retry fits in what is left
    assert.equal(1, err.attempts)
    assert.equal(1, #srv:requests())
  end)

  it("refuses a bad total_timeout", function()
    local c = client(srv)
    assert.has_error(function() c:job("ftjob-x", { total_timeout = 0 }) end,
      "bad argument #2 to 'job' (total_timeout must be a number > 0, got 0)")
  end)
end)

describe("a server whose events never end", function()
  local srv
  setup(function() srv = hostile.start("events_forever") end)
  teardown(function() srv:stop() end)
  before_each(function() srv:clear() end)

  local function event_pages()
    local n = 0
    for _, r in ipairs(srv:requests()) do
      if r.target:find("/events", 1, true) then n = n + 1 end
    end
    return n
  end

  it("stops paging at the wait's deadline and says so", function()
    local c = client(srv)
    local delivered = 0
    local took, job, err = timed(function()
      return c:wait_for_job("ftjob-forever", { timeout = 1, max_event_pages = 1e9,
        on_event = function() delivered = delivered + 1 end })
    end)
    assert.is_nil(job)
    assert.equal("wait_timeout", err.code)
    assert.truthy(tostring(err):find("paging its events", 1, true), tostring(err))
    assert.is_true(took >= 0.95 and took < 1.6, "waited " .. took .. " s")
    assert.equal(0, delivered, "a poll that did not finish paging delivers nothing")
    assert.equal("ftjob-forever", err.job.id)
  end)

  it("stops paging after max_event_pages in one poll, and says so", function()
    local c = client(srv)
    local job, err = c:wait_for_job("ftjob-forever", { max_event_pages = 5, on_event = function() end })
    assert.is_nil(job)
    assert.equal("invalid_response", err.kind)
    assert.equal("event_paging_limit", err.code)
    assert.truthy(tostring(err):find("after 5 pages in one poll (max_event_pages)", 1, true), tostring(err))
    assert.equal(5, event_pages())
    assert.has_error(function() c:wait_for_job("ftjob-x", { max_event_pages = 0 }) end,
      "bad argument #2 to 'wait_for_job' (max_event_pages must be an integer in 1..1000000000, got 0)")
  end)
end)

describe("the wait deadline on every transport", function()
  local both = require("spec.support.both_transports")
  local srv
  setup(function()
    srv = hostile.start("stall")
    both.setup()
  end)
  teardown(function()
    both.teardown()
    srv:stop()
  end)

  local CHUNK = [[
    return function(vars)
      local ft = require("openai.finetunes")
      local core = require("openai.finetunes.core")
      local c = ft.new{ api_key = "sk-deadline-spec-0123", base_url = vars.base_url, timeout = 2, max_retries = 2 }
      local t0 = core.now()
      local job, err = c:wait_for_job("ftjob-stall", { timeout = 1, poll_interval = 0.2 })
      local took = core.now() - t0
      local one, oerr = c:job("ftjob-stall", { total_timeout = 0.5 })
      return { job = job ~= nil, code = err and err.code, cause = err and err.cause and err.cause.kind, took = took,
        one = one ~= nil, one_kind = oerr and oerr.kind, one_attempts = oerr and oerr.attempts,
        transport = tostring(c:_transport()) }
    end
  ]]

  for _, t in ipairs(both.TRANSPORTS) do
    it("holds over " .. t, function()
      srv:clear()
      local out = both.run(t, CHUNK, { base_url = srv.base_url })
      assert.is_nil(out.raised, out.raised)
      assert.truthy(out.transport:find(t, 1, true), out.transport)
      assert.is_false(out.job)
      assert.equal("wait_timeout", out.code)
      assert.equal("timeout", out.cause)
      assert.is_true(out.took >= 0.95 and out.took < 1.6, "waited " .. out.took .. " s")
      assert.equal("timeout", out.one_kind)
      assert.equal(1, out.one_attempts)
      assert.equal(2, #srv:requests(), "one poll and one call reached the server")
    end)
  end
end)
