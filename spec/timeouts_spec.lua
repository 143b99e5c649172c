-- Timeouts over real HTTP: connect, total and idle, per client and per call, each
-- ending in kind = "timeout" when it fires and in no failure when it should not.
local ft = require("openai.finetunes")
local core = require("openai.finetunes.core")
local socket = require("socket")
local fake = require("spec.support.fake_server")

local KEY = "sk-timeouts-0123456789"
local server

local function client(opts)
  local o = { api_key = KEY, base_url = server.base_url, max_retries = 0 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return ft.new(o)
end

-- A grader that validate_grader echoes back: a ~100 kB JSON answer, which the
-- fake's slow_body fault sends in 16 kB pieces.
local BIG_GRADER = { type = "string_check", name = "echo", input = "{{sample.output_text}}",
  reference = string.rep("a", 100000), operation = "eq" }

local function timed(fn, ...)
  local t0 = core.now()
  local a, b = fn(...)
  return a, b, core.now() - t0
end

-- libcurl times its timeouts on its own clock (CLOCK_MONOTONIC_RAW where the system has
-- it: libcurl's lib/timeval.c), core.now() reads CLOCK_MONOTONIC, which NTP slews by up
-- to 500 ppm: a 0.5 s libcurl timeout has measured 0.49996 s here. A lower bound on
-- what libcurl timed allows for that, and no more.
local function at_least(elapsed, seconds)
  return elapsed >= seconds * (1 - 1e-3)
end

-- A TCP port whose accept queue is full: the kernel drops further SYNs, so a
-- connect hangs until the client's connect timeout (a closed port would refuse
-- at once, which is kind "connect", not a timeout).
local function black_hole()
  local s = assert(socket.tcp())
  assert(s:bind("127.0.0.1", 0))
  assert(s:listen(0))
  local _, port = s:getsockname()
  local fillers = { s }
  for _ = 1, 4 do
    local c = socket.tcp()
    c:settimeout(0)
    c:connect("127.0.0.1", port)
    fillers[#fillers + 1] = c
  end
  socket.sleep(0.1)
  return "http://127.0.0.1:" .. port .. "/v1", function()
    for _, c in ipairs(fillers) do c:close() end
  end
end

setup(function()
  server = fake.start()
end)

before_each(function()
  server:reset()
end)

describe("connect timeout", function()
  it("fires when the server does not accept, with kind timeout", function()
    local url, close = black_hole()
    local c = ft.new({ api_key = KEY, base_url = url, max_retries = 0, connect_timeout = 0.5 })
    local models, err, elapsed = timed(c.models, c)
    close()
    assert.is_nil(models)
    assert.are.equal("timeout", err.kind)
    assert.are.equal(1, err.attempts)
    assert.is_true(elapsed >= 0.45 and elapsed < 2, "took " .. elapsed)
  end)

  it("is retried like any timeout, and a per call value overrides the client's", function()
    local url, close = black_hole()
    local c = ft.new({ api_key = KEY, base_url = url, max_retries = 1, connect_timeout = 30,
      retry = { base_delay = 0.05, jitter = 0 } })
    local models, err, elapsed = timed(c.models, c, { connect_timeout = 0.3 })
    close()
    assert.is_nil(models)
    assert.are.equal("timeout", err.kind)
    assert.are.equal(2, err.attempts)
    assert.is_true(elapsed >= 0.6 and elapsed < 3, "took " .. elapsed)
  end)
end)

describe("total timeout", function()
  it("fires on an answer that comes too late", function()
    local c = client({ timeout = 0.5 })
    server:fault("stall;seconds=3", { path = "^/v1/models$" })
    local models, err, elapsed = timed(c.models, c)
    assert.is_nil(models)
    assert.are.equal("timeout", err.kind)
    assert.is_true(at_least(elapsed, 0.5) and elapsed < 1.5, "took " .. elapsed)
  end)

  it("per call: a shorter timeout fires, a longer one lets a slow answer through", function()
    local c = client({ timeout = 30 })
    server:fault("stall;seconds=3", { path = "^/v1/models$" })
    local models, err, elapsed = timed(c.models, c, { timeout = 0.4 })
    assert.is_nil(models)
    assert.are.equal("timeout", err.kind)
    assert.is_true(elapsed < 1.5, "took " .. elapsed)

    local short = client({ timeout = 0.3 })
    server:fault("stall;seconds=0.8", { path = "^/v1/models$" })
    local ok, meta = short:models({ timeout = 5 })
    assert.is_table(ok, tostring(meta))
  end)

  it("covers the whole exchange even while bytes keep flowing", function()
    local c = client({ timeout = 1 })
    -- ~2.5 s of body, a 16 kB piece every 0.4 s: never idle, but longer than the total
    server:fault("slow_body;rate=40000", { path = "/graders/validate$" })
    local echoed, err, elapsed = timed(c.validate_grader, c, { grader = BIG_GRADER })
    assert.is_nil(echoed)
    assert.are.equal("timeout", err.kind)
    assert.is_true(at_least(elapsed, 1) and elapsed < 2, "took " .. elapsed)
  end)
end)

describe("idle timeout", function()
  it("fires when the body stalls midway, long before the total timeout", function()
    local c = client({ idle_timeout = 1, timeout = 600 })
    server:fault("stall_body;seconds=30", { path = "^/v1/models$" })
    local models, err, elapsed = timed(c.models, c)
    assert.is_nil(models)
    assert.are.equal("timeout", err.kind)
    assert.is_true(elapsed >= 1 and elapsed < 2.5, "took " .. elapsed)
  end)

  it("does not fire while bytes keep flowing, however long the transfer", function()
    local c = client({ idle_timeout = 1, timeout = 600 })
    -- ~2.5 s of body, a 16 kB piece every 0.4 s
    server:fault("slow_body;rate=40000", { path = "/graders/validate$" })
    local echoed, meta, elapsed = timed(c.validate_grader, c, { grader = BIG_GRADER })
    assert.is_table(echoed, tostring(meta))
    assert.are.equal(BIG_GRADER.reference, echoed.grader.reference)
    assert.is_true(elapsed > 2, "the fault did not slow the answer: " .. elapsed)
  end)

  it("per call idle_timeout overrides the client's, to the sub-second", function()
    local c = client({ timeout = 600, idle_timeout = 30 })
    server:fault("stall_body;seconds=30", { path = "^/v1/models$" })
    local models, err, elapsed = timed(c.models, c, { idle_timeout = 0.3 })
    assert.is_nil(models)
    assert.are.equal("timeout", err.kind)
    assert.is_true(elapsed >= 0.3 and elapsed < 1.5, "took " .. elapsed)
  end)

  it("counts a slow connect as idle too", function()
    local url, close = black_hole()
    local c = ft.new({ api_key = KEY, base_url = url, max_retries = 0, connect_timeout = 30, idle_timeout = 0.4 })
    local models, err, elapsed = timed(c.models, c)
    close()
    assert.is_nil(models)
    assert.are.equal("timeout", err.kind)
    assert.is_true(elapsed >= 0.4 and elapsed < 1.5, "took " .. elapsed)
  end)
end)
