-- The circuit breaker: first its state machine driven step by step on a given
-- clock, then through the client over real HTTP against the fake server.
local retry = require("openai.finetunes.call.retry")

local function breaker(o)
  return retry.policy({ circuit_breaker = o })
end

describe("circuit breaker state machine", function()
  it("opens after failure_threshold consecutive failures and refuses with circuit_open", function()
    local p = breaker({ failure_threshold = 3, window = 10, reset_timeout = 5 })
    for t = 1, 2 do
      assert.is_true((p:allow(t)))
      p:record(false, t)
      assert.are.equal("closed", p:circuit_state())
    end
    assert.is_true((p:allow(3)))
    p:record(false, 3)
    assert.are.equal("open", p:circuit_state())
    local ok, err = p:allow(4)
    assert.is_false(ok)
    assert.are.equal("circuit_open", err.kind)
    assert.are.equal(4, err.retry_after)
    assert.is_truthy(err.message:find("3 consecutive failed calls", 1, true), err.message)
  end)

  it("forgets the streak on a success", function()
    local p = breaker({ failure_threshold = 3, window = 10, reset_timeout = 5 })
    p:record(false, 1); p:record(false, 2); p:record(true, 3); p:record(false, 4); p:record(false, 5)
    assert.are.equal("closed", p:circuit_state())
    p:record(false, 6)
    assert.are.equal("open", p:circuit_state())
  end)

  it("counts only the failures inside the window", function()
    local p = breaker({ failure_threshold = 3, window = 10, reset_timeout = 5 })
    p:record(false, 0); p:record(false, 8)
    p:record(false, 15) -- the one at 0 is older than 10 s: two in the window
    assert.are.equal("closed", p:circuit_state())
    p:record(false, 17)
    assert.are.equal("open", p:circuit_state())
  end)

  it("lets exactly one probe through after reset_timeout; its success closes the circuit", function()
    local p = breaker({ failure_threshold = 1, window = 10, reset_timeout = 5 })
    p:record(false, 100)
    assert.is_false((p:allow(104.9)))
    local ok, probe = p:allow(105)
    assert.is_true(ok)
    assert.is_true(probe)
    assert.are.equal("half_open", p:circuit_state())
    local again, err = p:allow(105.1)
    assert.is_false(again)
    assert.are.equal("circuit_open", err.kind)
    p:record(true, 106)
    assert.are.equal("closed", p:circuit_state())
    local ok2, probe2 = p:allow(106)
    assert.is_true(ok2)
    assert.is_false(probe2)
  end)

  it("reopens for another reset_timeout when the probe fails", function()
    local p = breaker({ failure_threshold = 1, window = 10, reset_timeout = 5 })
    p:record(false, 0)
    assert.is_true((p:allow(5)))
    p:record(false, 6)
    assert.are.equal("open", p:circuit_state())
    local ok, err = p:allow(10)
    assert.is_false(ok)
    assert.are.equal(1, err.retry_after)
    assert.is_true((p:allow(11)))
  end)

  it("frees the probe slot when the probe is abandoned or never reports", function()
    local p = breaker({ failure_threshold = 1, window = 10, reset_timeout = 5 })
    p:record(false, 0)
    assert.is_true((p:allow(5)))
    p:abandon()
    local ok, probe = p:allow(5.5)
    assert.is_true(ok)
    assert.is_true(probe)
    -- this probe never reports: after another reset_timeout a new one may go
    assert.is_false((p:allow(10)))
    assert.is_true((p:allow(10.5)))
  end)

  it("ignores failures that finish while it is already open", function()
    local p = breaker({ failure_threshold = 1, window = 10, reset_timeout = 5 })
    p:record(false, 0)
    p:record(false, 4) -- a call started before it opened
    assert.is_true((p:allow(5)))
  end)

  it("classifies outcomes: transport failures and retryable statuses fail; 4xx answers do not", function()
    local p = retry.policy({})
    assert.is_true(p:is_failure(nil, { kind = "connect" }))
    assert.is_true(p:is_failure(nil, { kind = "timeout" }))
    assert.is_true(p:is_failure(nil, { kind = "tls" }))
    assert.is_false(p:is_failure(nil, { kind = "invalid_request" }))
    assert.is_false(p:is_failure(nil, { kind = "aborted" }))
    assert.is_false(p:is_failure(nil, { kind = "closed" }))
    assert.is_true(p:is_failure({ status = 503, headers = {} }))
    assert.is_true(p:is_failure({ status = 429, headers = {} }))
    assert.is_false(p:is_failure({ status = 404, headers = {} }))
    assert.is_false(p:is_failure({ status = 400, headers = {} }))
    assert.is_false(p:is_failure({ status = 200, headers = {} }))
  end)
end)

describe("circuit breaker through the client", function()
  local ft = require("openai.finetunes")
  local fake = require("spec.support.fake_server")
  local socket = require("socket")
  local server

  local function client(cb, opts)
    local o = { api_key = "sk-breaker-0123456789", base_url = server.base_url, max_retries = 0,
      retry = { base_delay = 0.01, jitter = 0 }, circuit_breaker = cb }
    for k, v in pairs(opts or {}) do o[k] = v end
    return ft.new(o)
  end

  local function count(mark) return #server:requests({ path = "^/v1/models$", since = mark }) end

  setup(function() server = fake.start() end)
  before_each(function() server:reset() end)

  it("fails fast with circuit_open after the threshold, without sending anything", function()
    local c = client({ failure_threshold = 3, window = 10, reset_timeout = 30 })
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "503" })
    local mark = server:mark()
    for i = 1, 3 do
      local _, err = c:models()
      assert.are.equal(503, err.status, "call " .. i)
    end
    local models, err = c:models()
    assert.is_nil(models)
    assert.are.equal("circuit_open", err.kind)
    assert.are.equal(0, err.attempts)
    assert.is_true(err.retry_after > 29 and err.retry_after <= 30, tostring(err.retry_after))
    assert.is_truthy(tostring(err):find("circuit_open error", 1, true), tostring(err))
    assert.are.equal(3, count(mark))
  end)

  it("lets one probe through after reset_timeout; its success closes the circuit", function()
    local c = client({ failure_threshold = 2, window = 10, reset_timeout = 0.3 })
    server:fault({ match = { path = "^/v1/models$" }, times = 2, fault = "500" })
    c:models(); c:models()
    local _, refused = c:models()
    assert.are.equal("circuit_open", refused.kind)
    socket.sleep(0.35)
    local mark = server:mark()
    local models, meta = c:models()
    assert.is_table(models, tostring(meta))
    for _ = 1, 3 do assert.is_table((c:models())) end
    assert.are.equal(4, count(mark))
  end)

  it("reopens when the probe fails; the probe makes a single attempt", function()
    local c = client({ failure_threshold = 2, window = 10, reset_timeout = 0.3 }, { max_retries = 2 })
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "503" })
    c:models(); c:models() -- 2 calls, 3 attempts each
    socket.sleep(0.35)
    local mark = server:mark()
    local _, err = c:models()
    assert.are.equal(503, err.status)
    assert.are.equal(1, err.attempts)
    local _, again = c:models()
    assert.are.equal("circuit_open", again.kind)
    assert.are.equal(1, count(mark))
  end)

  it("counts a call once however many attempts it made", function()
    local c = client({ failure_threshold = 2, window = 10, reset_timeout = 30 }, { max_retries = 2 })
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "503" })
    local _, first = c:models()
    assert.are.equal(3, first.attempts)
    local _, second = c:models()
    assert.are.equal(503, second.status)
    local _, third = c:models()
    assert.are.equal("circuit_open", third.kind)
  end)

  it("is not opened by answers such as 404, and a success resets the streak", function()
    local c = client({ failure_threshold = 2, window = 10, reset_timeout = 30 })
    for _ = 1, 5 do
      local _, err = c:file("file-missing")
      assert.are.equal(404, err.status)
    end
    server:fault({ match = { path = "^/v1/models$" }, times = 1, fault = "503" })
    c:models()
    assert.is_table((c:models()))
    server:fault({ match = { path = "^/v1/models$" }, times = 1, fault = "503" })
    local _, err = c:models()
    assert.are.equal(503, err.status)
    assert.is_table((c:models()))
  end)

  it("opens on connection failures too, and then does not even connect", function()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    local c = ft.new({ api_key = "sk-breaker-0123456789", base_url = "http://127.0.0.1:" .. port .. "/v1",
      max_retries = 0, circuit_breaker = { failure_threshold = 2, window = 10, reset_timeout = 30 } })
    assert.are.equal("connect", select(2, c:models()).kind)
    assert.are.equal("connect", select(2, c:models()).kind)
    local _, err = c:models()
    assert.are.equal("circuit_open", err.kind)
    assert.are.equal(0, err.attempts)
  end)

  it("is off unless configured, and off with circuit_breaker = false", function()
    for _, c in ipairs({
      ft.new({ api_key = "sk-breaker-0123456789", base_url = server.base_url, max_retries = 0 }),
      client(false),
    }) do
      server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "503" })
      for _ = 1, 10 do
        local _, err = c:models()
        assert.are.equal(503, err.status)
      end
      assert.is_nil(c:_policy():circuit_state())
      server:reset()
    end
  end)
end)
