-- The retry policy's decisions as pure functions: which outcome is retried, how
-- long the wait is, how Retry-After is read, and which options are refused.
-- (the second half of this file and spec/faults_spec.lua show the rules over real
-- HTTP against the fake server.)
local retry = require("openai.finetunes.call.retry")
local retry_after = require("openai.finetunes.call.retry_after")
local misuse = require("openai.finetunes.misuse")

local function res(status, headers) return { status = status, headers = headers or {} } end
local function terr(kind, extra)
  local e = { kind = kind, message = kind .. " failure" }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

-- A policy without jitter: the backoff is exact.
local function exact(opts)
  opts = opts or {}
  opts.retry = opts.retry or {}
  opts.retry.jitter = 0
  return retry.policy(opts)
end

describe("retry_after.seconds", function()
  it("reads retry-after-ms as float milliseconds, before retry-after", function()
    assert.are.equal(1.5, retry_after.seconds({ ["retry-after-ms"] = "1500", ["retry-after"] = "9" }))
    assert.are.equal(0.25, retry_after.seconds({ ["retry-after-ms"] = " 250.0 " }))
  end)

  it("falls back to retry-after when retry-after-ms is not a number", function()
    assert.are.equal(3, retry_after.seconds({ ["retry-after-ms"] = "soon", ["retry-after"] = "3" }))
  end)

  it("reads retry-after as (float) seconds", function()
    assert.are.equal(2, retry_after.seconds({ ["retry-after"] = "2" }))
    assert.are.equal(0.5, retry_after.seconds({ ["retry-after"] = "0.5" }))
    assert.are.equal(-1, retry_after.seconds({ ["retry-after"] = "-1" }))
  end)

  it("refuses hex, inf, nan and garbage", function()
    for _, v in ipairs({ "0x10", "inf", "nan", "1.2.3", "", "   ", "1 2", "ten", "1s" }) do
      assert.is_nil(retry_after.seconds({ ["retry-after"] = v }), v)
    end
  end)

  it("reads the three HTTP-date forms relative to the given time", function()
    local t = 784111777 -- Sun, 06 Nov 1994 08:49:37 GMT
    assert.are.equal(t, retry_after.http_date("Sun, 06 Nov 1994 08:49:37 GMT"))
    assert.are.equal(t, retry_after.http_date("Sunday, 06-Nov-94 08:49:37 GMT"))
    assert.are.equal(t, retry_after.http_date("Sun Nov  6 08:49:37 1994"))
    assert.are.equal(t, retry_after.http_date("Sun, 06 Nov 1994 09:49:37 +0100"))
    assert.are.equal(7, retry_after.seconds({ ["retry-after"] = "Sun, 06 Nov 1994 08:49:44 GMT" }, t))
    assert.are.equal(-37, retry_after.seconds({ ["retry-after"] = "Sun, 06 Nov 1994 08:49:00 GMT" }, t))
  end)

  it("gets leap years and the year 2000 right (no time zone involved)", function()
    assert.are.equal(951782400, retry_after.http_date("Tue, 29 Feb 2000 00:00:00 GMT"))
    assert.are.equal(4107542400, retry_after.http_date("Fri, 01 Mar 2100 00:00:00 GMT"))
    assert.are.equal(0, retry_after.http_date("Thu, 01 Jan 1970 00:00:00 GMT"))
  end)

  it("refuses malformed dates", function()
    for _, v in ipairs({ "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 08:49:37 CET", "06 Nov 1994", "tomorrow" }) do
      assert.is_nil(retry_after.http_date(v), v)
    end
  end)
end)

describe("retry policy decide", function()
  local p = exact()

  it("retries connection-level transport errors with backoff", function()
    for _, kind in ipairs({ "connect", "dns", "io", "timeout", "proxy" }) do
      local d, why = p:decide(1, nil, terr(kind))
      assert.are.equal(0.5, d, kind)
      assert.are.equal("backoff", why)
    end
  end)

  it("never retries tls, invalid_request, too_large, aborted, closed or unknown kinds", function()
    for _, kind in ipairs({ "tls", "invalid_request", "too_large", "aborted", "closed", "martian" }) do
      assert.is_nil(p:decide(1, nil, terr(kind)), kind)
    end
  end)

  it("never retries an error raised by a callback, whatever its kind", function()
    assert.is_nil(p:decide(1, nil, terr("io", { callback_error = "boom" })))
  end)

  it("retries 408, 409, 429 and every status >= 500, nothing else", function()
    for _, s in ipairs({ 408, 409, 429, 500, 502, 503, 504, 520, 599 }) do
      assert.are.equal(0.5, p:decide(1, res(s)), s)
    end
    for _, s in ipairs({ 200, 201, 204, 301, 302, 400, 401, 403, 404, 410, 413, 422 }) do
      assert.is_nil(p:decide(1, res(s)), s)
    end
  end)

  it("obeys x-should-retry before the status", function()
    assert.are.equal(0.5, p:decide(1, res(400, { ["x-should-retry"] = "true" })))
    assert.is_nil(p:decide(1, res(503, { ["x-should-retry"] = "false" })))
    assert.is_nil(p:decide(1, res(429, { ["x-should-retry"] = "false", ["retry-after"] = "1" })))
    -- only the exact strings count
    assert.is_nil(p:decide(1, res(400, { ["x-should-retry"] = "yes" })))
    assert.are.equal(0.5, p:decide(1, res(503, { ["x-should-retry"] = "FALSE" })))
    -- a success is a success
    assert.is_nil(p:decide(1, res(200, { ["x-should-retry"] = "true" })))
  end)

  it("waits what Retry-After asks when 0 < hint <= max_retry_after", function()
    local d, why = p:decide(1, res(429, { ["retry-after"] = "1" }))
    assert.are.equal(1, d)
    assert.are.equal("retry-after", why)
    assert.are.equal(0.2, p:decide(1, res(429, { ["retry-after-ms"] = "200" })))
    assert.are.equal(60, p:decide(1, res(503, { ["retry-after"] = "60" })))
    local soon = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 30)
    local dd = p:decide(1, res(429, { ["retry-after"] = soon }))
    assert.is_true(dd >= 29 and dd <= 30, tostring(dd))
  end)

  it("falls back to the backoff when the hint is zero, negative, past or above the cap", function()
    local past = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() - 30)
    for _, h in ipairs({ { ["retry-after"] = "0" }, { ["retry-after"] = "-5" }, { ["retry-after"] = past },
      { ["retry-after"] = "61" }, { ["retry-after"] = "3600" }, { ["retry-after-ms"] = "60001" } }) do
      local d, why = p:decide(2, res(429, h))
      assert.are.equal(1, d)
      assert.are.equal("backoff", why)
    end
  end)

  it("lets retry.max_retry_after move the cap", function()
    local q = exact({ retry = { max_retry_after = 120 } })
    assert.are.equal(90, q:decide(1, res(429, { ["retry-after"] = "90" })))
    local r = exact({ retry = { max_retry_after = 0.1 } })
    assert.are.equal(0.5, r:decide(1, res(429, { ["retry-after"] = "1" })))
  end)

  it("stops after max_retries retries; a per-call value overrides the client's", function()
    assert.is_truthy(p:decide(2, res(503)))
    assert.is_nil(p:decide(3, res(503)))
    assert.is_nil(p:decide(1, res(503), nil, 0))
    assert.is_truthy(p:decide(5, res(503), nil, 5))
    assert.is_nil(p:decide(6, res(503), nil, 5))
    local none = exact({ max_retries = 0 })
    assert.is_nil(none:decide(1, nil, terr("connect")))
  end)

  it("lets retry.statuses replace the retried set", function()
    local q = exact({ retry = { statuses = { 429 } } })
    assert.is_truthy(q:decide(1, res(429)))
    assert.is_nil(q:decide(1, res(503)))
    assert.is_nil(q:decide(1, res(409)))
    local q5 = exact({ retry = { statuses = { "5xx", 404 } } })
    assert.is_truthy(q5:decide(1, res(404)))
    assert.is_truthy(q5:decide(1, res(502)))
    assert.is_nil(q5:decide(1, res(429)))
  end)
end)

describe("retry policy backoff", function()
  it("is min(0.5 * 2^n, 8) seconds by default", function()
    local p = exact()
    local want = { 0.5, 1, 2, 4, 8, 8, 8 }
    for n = 0, #want - 1 do assert.are.equal(want[n + 1], p:backoff(n)) end
    assert.are.equal(8, p:backoff(5000))
  end)

  it("takes off up to 25 % jitter, differently each time", function()
    local p = retry.policy()
    local seen = {}
    for n = 0, 5 do
      local full = math.min(0.5 * 2 ^ n, 8)
      for _ = 1, 200 do
        local d = p:backoff(n)
        assert.is_true(d <= full and d >= 0.75 * full, ("n=%d d=%s"):format(n, tostring(d)))
        seen[d] = true
      end
    end
    local distinct = 0
    for _ in pairs(seen) do distinct = distinct + 1 end
    assert.is_true(distinct > 1000, "jitter looks constant: " .. distinct)
  end)

  it("follows base_delay and max_delay", function()
    local p = exact({ retry = { base_delay = 0.01, max_delay = 0.03 } })
    assert.are.equal(0.01, p:backoff(0))
    assert.are.equal(0.02, p:backoff(1))
    assert.are.equal(0.03, p:backoff(2))
    assert.are.equal(0.03, p:backoff(9))
  end)
end)

describe("retry policy options", function()
  local function refused(opts, pattern)
    local ok, m = pcall(retry.policy, opts)
    assert.is_false(ok)
    -- a misuse value (ft.new aims and formats it), naming the option
    assert.is_true(misuse.is_misuse(m))
    assert.are.equal("invalid_option", m.code)
    local msg = tostring(misuse.aim(m, "new", 1))
    assert.is_truthy(msg:find("bad argument #1 to 'new' (", 1, true), msg)
    assert.is_truthy(msg:find(pattern, 1, true), msg)
  end

  it("refuses bad values, naming the option", function()
    refused({ max_retries = -1 }, "max_retries must be a non-negative integer, got -1")
    refused({ max_retries = 1.5 }, "max_retries must be a non-negative integer, got 1.5")
    refused({ max_retries = "2" }, 'max_retries must be a non-negative integer, got "2"')
    refused({ max_retries = math.huge }, "max_retries")
    refused({ retry = 5 }, "retry must be a table, got 5")
    refused({ retry = { base_delay = 0 } }, "retry.base_delay must be a positive number of seconds, got 0")
    refused({ retry = { max_delay = "8" } }, "retry.max_delay")
    refused({ retry = { max_retry_after = -1 } }, "retry.max_retry_after")
    refused({ retry = { jitter = 2 } }, "retry.jitter must be a number between 0 and 1, got 2")
    refused({ retry = { statuses = "5xx" } }, "retry.statuses must be a list of HTTP statuses")
    refused({ retry = { statuses = { 429, 1000 } } }, "retry.statuses[2] must be an HTTP status")
    refused({ retry = { on_retry = true } }, "retry.on_retry must be a function, got true")
    refused({ circuit_breaker = true }, "circuit_breaker must be a table or false, got true")
    refused({ circuit_breaker = { failure_threshold = 0 } }, "circuit_breaker.failure_threshold")
    refused({ circuit_breaker = { window = -1 } }, "circuit_breaker.window")
    refused({ circuit_breaker = { reset_timeout = "30" } }, "circuit_breaker.reset_timeout")
  end)

  it("uses the SDK defaults and no breaker when nothing is given", function()
    local p = retry.policy({})
    assert.are.equal(2, p.max_retries)
    assert.are.equal(60, p.max_retry_after)
    assert.are.equal(0.5, p.base_delay)
    assert.are.equal(8, p.max_delay)
    assert.are.equal(0.25, p.jitter)
    assert.is_nil(p:circuit_state())
    assert.is_true((p:allow(0)))
  end)

  it("turns the breaker on with its defaults for an empty table", function()
    local p = retry.policy({ circuit_breaker = {} })
    assert.are.equal("closed", p:circuit_state())
  end)
end)

describe("retry.retry_after (for err.retry_after)", function()
  it("gives the positive hint in seconds, or nil", function()
    assert.are.equal(3, retry.retry_after({ ["retry-after"] = "3" }))
    assert.are.equal(3600, retry.retry_after({ ["retry-after"] = "3600" }))
    assert.are.equal(0.1, retry.retry_after({ ["retry-after-ms"] = "100" }))
    assert.is_nil(retry.retry_after({ ["retry-after"] = "0" }))
    assert.is_nil(retry.retry_after({}))
    assert.is_nil(retry.retry_after(nil))
  end)
end)

describe("policy:perform over the curl transport", function()
  local fake = require("spec.support.fake_server")
  local curl = require("openai.finetunes.transport.curl")
  local socket = require("socket")
  local server, transport

  setup(function()
    server = fake.start()
    transport = curl.new({ api_key = "sk-perform-0123456789" })
  end)
  teardown(function() transport:close() end)
  before_each(function() server:reset() end)

  local function get(fault)
    return { method = "GET", url = server.base_url .. "/models", headers = { ["x-fake-fault"] = fault } }
  end

  it("returns the final response with the number of attempts", function()
    local seen = {}
    local p = exact({ retry = { base_delay = 0.01, on_retry = function(i) seen[#seen + 1] = i end } })
    local mark = server:mark()
    local answer, err, attempts = p:perform(transport, get("503"))
    assert.is_nil(err)
    assert.are.equal(503, answer.status)
    assert.are.equal(3, attempts)
    assert.are.equal(3, #server:requests({ path = "^/v1/models$", since = mark }))
    assert.are.same({ 1, 2 }, { seen[1].attempt, seen[2].attempt })
    assert.are.same({ 0.01, 0.02 }, { seen[1].delay, seen[2].delay })
    assert.are.equal("GET", seen[1].method)
    assert.are.equal(503, seen[1].status)
  end)

  it("returns a success at once", function()
    local answer, err, attempts = exact():perform(transport, get(nil))
    assert.is_nil(err)
    assert.are.equal(200, answer.status)
    assert.are.equal(1, attempts)
  end)

  it("gives the final transport error its attempts", function()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    local p = exact({ max_retries = 1, retry = { base_delay = 0.01 } })
    local url = "http://127.0.0.1:" .. port .. "/v1/models"
    local answer, err, attempts = p:perform(transport, { method = "GET", url = url })
    assert.is_nil(answer)
    assert.are.equal("connect", err.kind)
    assert.are.equal(2, err.attempts)
    assert.are.equal(2, attempts)
  end)

  it("takes a per call max_retries, and refuses a bad one", function()
    local p = exact({ retry = { base_delay = 0.01 } })
    local _, _, attempts = p:perform(transport, get("503"), { max_retries = 0 })
    assert.are.equal(1, attempts)
    local ok, msg = pcall(p.perform, p, transport, get("503"), { max_retries = -1 })
    assert.is_false(ok)
    msg = tostring(msg)
    assert.is_truthy(msg:find("max_retries must be a non-negative integer, got -1", 1, true), msg)
  end)

  it("sleeps and reads the time through the transport", function()
    local slept, clock = {}, 0
    local t = setmetatable({
      sleep = function(_, s) slept[#slept + 1] = s end,
      now = function() clock = clock + 1; return clock end,
    }, { __index = function(_, k) return function(_, ...) return transport[k](transport, ...) end end })
    local p = exact({ retry = { base_delay = 0.25 } })
    local answer = p:perform(t, get("429;retry_after_ms=1500"))
    assert.are.equal(429, answer.status)
    assert.are.same({ 1.5, 1.5 }, slept)
  end)

  it("still waits between retries with a transport that has only request()", function()
    local bare = { request = function(_, req) return transport:request(req) end }
    local p = exact({ retry = { base_delay = 0.2 } })
    local t0 = require("openai.finetunes.core").now()
    local answer, _, attempts = p:perform(bare, get("503"))
    local elapsed = require("openai.finetunes.core").now() - t0
    assert.are.equal(503, answer.status)
    assert.are.equal(3, attempts)
    assert.is_true(elapsed >= 0.6 and elapsed < 1.5, "waited " .. elapsed)
  end)

  it("lets a Lua error from the transport through unchanged, and does not retry it", function()
    local calls = 0
    local t = {
      request = function() calls = calls + 1; error({ reason = "callback failed" }) end,
      now = function() return 0 end, sleep = function() end,
    }
    local ok, e = pcall(exact().perform, exact(), t, get(nil))
    assert.is_false(ok)
    assert.are.same({ reason = "callback failed" }, e)
    assert.are.equal(1, calls)
  end)
end)
