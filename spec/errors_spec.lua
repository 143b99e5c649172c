-- Run-time failures come back as nil, err with the one error type: API error
-- envelopes, proxy pages, unreadable answers, network failures. Over real
-- HTTP against the fake server and its fault injection.
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")

local function assert_one_line(err)
  local s = tostring(err)
  assert.falsy(s:find("[\r\n]"), s)
  assert.falsy(s:find(H.API_KEY, 1, true), s)
  return s
end

describe("errors", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end)

  it("404: the OpenAI envelope, the request id, a one-line tostring", function()
    local r, err = c:file("file-does-not-exist")
    assert.is_nil(r)
    assert.is_true(ft.is_error(err))
    assert.equal("api", err.kind)
    assert.equal(404, err.status)
    assert.equal("invalid_request_error", err.type)
    assert.truthy(err.message:find("file%-does%-not%-exist"))
    assert.equal(server:last_request().request_id, err.request_id)
    assert.equal(1, err.attempts)
    assert.is_table(err.headers)
    local s = assert_one_line(err)
    assert.truthy(s:find("^api error 404 invalid_request_error"), s)
    assert.truthy(s:find(err.request_id, 1, true), s)
  end)

  it("400: type, code and param of a server-side validation error", function()
    local loose = H.client(server, { validation = false })
    local file = H.training_file(c)
    local r, err = loose:create_job{ model = H.MODEL, training_file = file.id,
      method = { type = "supervised", supervised = { hyperparameters = { n_epochs = 0 } } } }
    assert.is_nil(r)
    assert.equal(400, err.status)
    assert.equal("invalid_request_error", err.type)
    assert.is_string(err.code)
    assert.truthy(err.param:find("n_epochs", 1, true))
    assert.truthy(tostring(err):find("[param " .. err.param .. "]", 1, true))
  end)

  it("403: permission errors", function()
    local r, err = c:delete_model(H.MODEL)
    assert.is_nil(r)
    assert.equal(403, err.status)
    assert.equal("api", err.kind)
  end)

  it("401: a wrong key, which the error never repeats", function()
    local strict_server = H.start{ api_key = "sk-the-right-key" }
    local wrong = H.client(strict_server, { api_key = H.API_KEY })
    local r, err = wrong:models()
    assert.is_nil(r)
    assert.equal(401, err.status)
    assert.equal("invalid_request_error", err.type)
    assert.equal("invalid_api_key", err.code)
    assert_one_line(err)
    assert.falsy(err.message:find(H.API_KEY, 1, true))
    local right = H.client(strict_server, { api_key = "sk-the-right-key" })
    assert(right:models())
  end)

  it("429: rate limited, with retry_after from the headers", function()
    server:fault("429;retry_after=7", { path = "^/v1/models$" })
    local r, err = c:models()
    assert.is_nil(r)
    assert.equal(429, err.status)
    assert.equal(7, err.retry_after)
    assert.equal("rate_limit_exceeded", err.code)
    assert.equal(1, err.attempts)
  end)

  it("409 and 500: API errors after the retries are used up", function()
    server:fault{ match = { path = "^/v1/models$" }, times = -1, fault = "409" }
    local r, err = c:models()
    assert.is_nil(r)
    assert.equal(409, err.status)
    server:clear_faults()

    server:fault{ match = { path = "^/v1/models$" }, times = 3, fault = "500" }
    local retrying = H.client(server, { max_retries = 2, retry = { base_delay = 0.01, max_delay = 0.02 } })
    r, err = retrying:models()
    assert.is_nil(r)
    assert.equal(500, err.status)
    assert.equal(3, err.attempts)
    assert.truthy(tostring(err):find("after 3 attempts", 1, true))
  end)

  it("succeeds after a retried 503 and reports the attempts in meta", function()
    server:fault("503", { path = "^/v1/models$" })
    local retrying = H.client(server, { max_retries = 2, retry = { base_delay = 0.01, max_delay = 0.02 } })
    local list, meta = retrying:models()
    assert.equal("list", list.object)
    assert.equal(2, meta.attempts)
    assert.equal(2, #server:requests{ path = "^/v1/models$" })
  end)

  it("max_retries per call overrides the client's", function()
    server:fault{ match = { path = "^/v1/models$" }, times = 2, fault = "500" }
    local retrying = H.client(server, { max_retries = 5, retry = { base_delay = 0.01, max_delay = 0.02 } })
    local r, err = retrying:models{ max_retries = 0 }
    assert.is_nil(r)
    assert.equal(1, err.attempts)
  end)

  it("an HTML 502 from a proxy is an api error with a short message", function()
    server:fault("html_502", { path = "^/v1/models$" })
    local r, err = c:models()
    assert.is_nil(r)
    assert.equal("api", err.kind)
    assert.equal(502, err.status)
    assert.falsy(err.message:find("<", 1, true), err.message)
    assert.is_true(#err.message <= 120)
    assert_one_line(err)
  end)

  it("a 2xx that is not JSON is invalid_response", function()
    server:fault("not_json", { path = "^/v1/models$" })
    local r, err = c:models()
    assert.is_nil(r)
    assert.equal("invalid_response", err.kind)
    assert.equal(200, err.status)
    assert.truthy(err.request_id)
    assert_one_line(err)
  end)

  it("a refused connection is kind connect", function()
    local dead = ft.new{ api_key = H.API_KEY, base_url = "http://127.0.0.1:1/v1", max_retries = 0 }
    local r, err = dead:models()
    assert.is_nil(r)
    assert.equal("connect", err.kind)
    assert.is_nil(err.status)
    assert.equal(1, err.attempts)
    assert_one_line(err)
  end)

  it("a timeout is kind timeout", function()
    server:fault("stall;seconds=3", { path = "^/v1/models$" })
    local r, err = c:models{ timeout = 0.3 }
    assert.is_nil(r)
    assert.equal("timeout", err.kind)
  end)

  it("an open circuit fails fast without a request", function()
    local guarded = H.client(server, { circuit_breaker = { failure_threshold = 1, reset_timeout = 60 } })
    server:fault{ match = { path = "^/v1/models$" }, times = -1, fault = "500" }
    assert.is_nil((guarded:models()))
    local mark = server:mark()
    local r, err = guarded:models()
    assert.is_nil(r)
    assert.equal("circuit_open", err.kind)
    assert.equal(0, err.attempts)
    assert.is_number(err.retry_after)
    assert.equal(0, #server:requests{ since = mark })
    assert_one_line(err)
  end)

  it("the raising view raises the same error object", function()
    server:fault("429;retry_after=2", { path = "^/v1/models$" })
    local ok, err = pcall(function() return c:strict():models() end)
    assert.is_false(ok)
    assert.is_true(ft.is_error(err))
    assert.equal(429, err.status)
  end)

  it("lists the kinds and which are worth retrying", function()
    for _, kind in ipairs({ "api", "connect", "dns", "tls", "timeout", "proxy", "io", "aborted", "too_large",
      "closed", "circuit_open", "invalid_response", "invalid_request", "no_result_file" }) do
      assert.is_string(ft.errors.kinds[kind], kind)
    end
    assert.is_true(ft.errors.retryable(ft.errors.new{ kind = "api", status = 503 }))
    assert.is_false(ft.errors.retryable(ft.errors.new{ kind = "api", status = 404 }))
    assert.is_true(ft.errors.retryable(ft.errors.new{ kind = "timeout" }))
    assert.is_false(ft.errors.retryable({ kind = "timeout" }))
  end)

  it("lists every kind the library produces", function()
    local p = io.popen("find lua/openai/finetunes -name '*.lua' -not -path '*/fake/*'")
    local files = 0
    for path in p:lines() do
      files = files + 1
      for kind in H.read(path):gmatch('kind = "([%w_]+)"') do
        assert.is_string(ft.errors.kinds[kind], kind .. " (" .. path .. ")")
      end
    end
    p:close()
    assert.is_true(files > 20)
  end)

  it("retryable follows the retry policy: x-should-retry, every retried kind, a client's statuses", function()
    local new = ft.errors.new
    assert.is_true(ft.errors.retryable(new{ kind = "api", status = 400, headers = { ["x-should-retry"] = "true" } }))
    assert.is_false(ft.errors.retryable(new{ kind = "api", status = 503, headers = { ["x-should-retry"] = "false" } }))
    for _, kind in ipairs({ "connect", "dns", "io", "timeout", "proxy" }) do
      assert.is_true(ft.errors.retryable(new{ kind = kind }), kind)
    end
    for _, kind in ipairs({ "tls", "aborted", "too_large", "closed", "circuit_open", "invalid_response",
      "invalid_request", "no_result_file" }) do
      assert.is_false(ft.errors.retryable(new{ kind = kind }), kind)
    end
    local picky = H.client(server, { retry = { statuses = { 404 } } })
    assert.is_true(ft.errors.retryable(new{ kind = "api", status = 404 }, picky:_policy()))
    assert.is_false(ft.errors.retryable(new{ kind = "api", status = 503 }, picky:_policy()))
  end)
end)
