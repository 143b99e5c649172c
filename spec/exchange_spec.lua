-- The exchange with no sockets (the way nghttp2 tests its session): a req goes in,
-- the head comes out, scripted answer bytes are fed in slices, and the result,
-- the sink's temp file and the error kinds are what every adapter then reports.
local exchange = require("openai.finetunes.transport.exchange")
local util = require("openai.finetunes.fake.util")
local H = require("spec.support.client_helper")

local names = H.names

-- Feed `bytes` in slices of `step`, then EOF; returns what received() said last.
local function feed(x, bytes, step)
  local i = 1
  while i <= #bytes do
    local state, a, b = x:received(bytes:sub(i, i + step - 1))
    if state ~= "more" then return state, a, b end
    i = i + step
  end
  return x:received(nil)
end

local OK = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Request-Id: req_1\r\n\r\nhello world"

describe("exchange", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmdir(dir) end)

  it("writes the head once: sorted fields, the adapter's lines, Content-Length, no Authorization from Lua", function()
    local x = assert(exchange.new({ method = "POST", url = "http://127.0.0.1:8080/v1/x?y=1", body = "{}",
      headers = { ["X-B"] = "2", ["X-A"] = 1, ["X-Empty"] = "" } },
      { auth_name = "authorization", lines = { "Authorization: Bearer k\r\n" } }))
    assert.are.equal("POST /v1/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-A: 1\r\nX-B: 2\r\nX-Empty:\r\n"
      .. "Authorization: Bearer k\r\nContent-Length: 2\r\n\r\n", table.concat(x.head))
    local absolute = assert(exchange.new({ url = "http://h.example/v1" }, { absolute = true }))
    assert.are.equal("GET http://h.example/v1 HTTP/1.1\r\nHost: h.example\r\n\r\n", table.concat(absolute.head))
    local empty_post = assert(exchange.new({ method = "POST", url = "http://h/x" }, {}))
    assert.matches("Content%-Length: 0\r\n\r\n$", table.concat(empty_post.head))
  end)

  it("gives the same answer for the same bytes split anywhere", function()
    for step = 1, #OK do
      local x = assert(exchange.new({ url = "http://h/x" }, {}))
      x:begin(0)
      local state, res, reusable = feed(x, OK, step)
      assert.are.equal("done", state, "step " .. step)
      assert.are.same({ 200, "hello world", "req_1", true }, { res.status, res.body, res.headers["x-request-id"],
        reusable })
    end
  end)

  it("names what is wrong with an answer: invalid_response for non-HTTP bytes, io for one cut short", function()
    local cases = {
      { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{\"a\":1}", "invalid_response",
        "conflicting Content-Length" },
      { "SSH-2.0-OpenSSH\r\n\r\n", "invalid_response", "malformed status line" },
      { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "io", "body bytes missing" },
      { "", "io", "before any response byte" },
    }
    for _, c in ipairs(cases) do
      local x = assert(exchange.new({ url = "http://h/x" }, {}))
      x:begin(0)
      local state, err = feed(x, c[1], 3)
      assert.are.equal("fail", state)
      assert.are.equal(c[2], err.kind, c[1])
      assert.matches(c[3], err.message, 1, true)
    end
  end)

  it("downloads to a temp file renamed on success; removes it on failure, on a non-2xx and on abort", function()
    local target = dir .. "/out.bin"
    local x = assert(exchange.new({ url = "http://h/x", sink = target }, {}))
    assert.matches("^out%.bin%.part%-%x+$", names(dir)) -- created before anything is sent
    x:begin(0)
    local state, res = feed(x, OK, 4)
    assert.are.equal("done", state)
    assert.are.same({ 11, nil }, { res.bytes_written, res.body })
    assert.are.equal("out.bin", names(dir))
    assert.are.equal("hello world", util.read_file(target))

    for _, answer in ipairs({ "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\npartial",
      "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone" }) do
      x = assert(exchange.new({ url = "http://h/x", sink = target }, {}))
      x:begin(0)
      state, res = feed(x, answer, 5)
      if state == "done" then assert.are.same({ 404, "gone" }, { res.status, res.body }) end
      assert.are.equal("out.bin", names(dir))
      assert.are.equal("hello world", util.read_file(target))
    end

    x = assert(exchange.new({ url = "http://h/x", sink = target }, {}))
    x:begin(0)
    assert.are.equal("more", (x:received("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhalf")))
    x:abort()
    x:abort()
    assert.are.equal("out.bin", names(dir))
    assert.are.equal("hello world", util.read_file(target))
  end)

  it("refuses a sink it cannot create with io, before anything is sent", function()
    local x, err = exchange.new({ url = "http://h/x", sink = dir .. "/no/such/dir/out.bin" }, {})
    assert.is_nil(x)
    assert.are.equal("io", err.kind)
    assert.matches("cannot create", err.message, 1, true)
  end)

  it("caps a body held in memory, and reports progress; false and a raise abort", function()
    local x = assert(exchange.new({ url = "http://h/x", max_response_bytes = 5 }, {}))
    x:begin(0)
    local state, err = feed(x, OK, 100)
    assert.are.same({ "fail", "too_large" }, { state, err.kind })

    local calls = {}
    x = assert(exchange.new({ url = "http://h/x", progress = function(...) calls[#calls + 1] = { ... } end }, {}))
    x:begin(0)
    feed(x, OK, 6)
    assert.are.same({ 11, 11, 0, 0 }, calls[#calls])

    x = assert(exchange.new({ url = "http://h/x", progress = function() return false end }, {}))
    x:begin(0)
    state, err = feed(x, OK, 100)
    assert.are.same({ "fail", "aborted" }, { state, err.kind })

    local boom = {}
    x = assert(exchange.new({ url = "http://h/x", progress = function() error(boom) end }, {}))
    x:begin(0)
    state, err = feed(x, OK, 100)
    assert.are.same({ "fail", "aborted" }, { state, err.kind })
    assert.are.equal(boom, err.callback_error)
  end)

  it("gives each socket operation what is left of the total timeout, or of the idle timeout", function()
    local x = assert(exchange.new({ url = "http://h/x", timeout = 10, idle_timeout = 2 }, {}))
    x:begin(100)
    assert.are.equal(2, x:wait(100))
    local _, err = x:timed_out("waiting for the response")
    assert.are.same({ "timeout", "waiting for the response: no data sent or received for 2 s (idle_timeout)" },
      { err.kind, err.message })
    assert.are.equal(1.5, x:wait(100.5)) -- idle counts from the last byte that moved
    local left
    left, err = x:wait(102)
    assert.is_nil(left)
    assert.matches("idle_timeout", err.message, 1, true)
    x:sent(0) -- a byte moved just now
    assert.are.equal(1.5, x:wait(108.5))
    _, err = x:timed_out("sending the request")
    assert.are.equal("sending the request: the total timeout of 10 s expired", err.message)
    left, err = x:wait(110)
    assert.is_nil(left)
    assert.are.equal("timeout", err.kind)

    -- with a progress callback a read waits at most a second, then progress runs
    local calls = 0
    local ticking = assert(exchange.new({ url = "http://h/x", timeout = 10,
      progress = function() calls = calls + 1; return calls < 2 end }, {}))
    ticking:begin(0)
    assert.are.equal(10, ticking:wait(0))
    assert.are.equal(1, ticking:wait(0, true))
    assert.is_true(ticking:expired("waiting for the response"))
    assert.are.equal(1, ticking:wait(1, true))
    _, err = ticking:expired("waiting for the response")
    assert.are.same({ "aborted", 2 }, { err.kind, calls })
    local none = assert(exchange.new({ url = "http://h/x", timeout = 0 }, { limits = { timeout = 5 } }))
    none:begin(0)
    assert.are.equal(math.huge, none:wait(1e9))
  end)

  it("refuses what may not be sent, and raises on wrong types", function()
    local refused = {
      { url = "ftp://h/x" }, { url = "http://h/a b" }, { url = "http://u:p@h/x" },
      { url = "http://h/x", headers = { ["X-A"] = "a\r\nb" } }, { url = "http://h/x", headers = { ["X A"] = "1" } },
      { url = "http://h/x", headers = { Host = "other" } }, { url = "http://h/x", headers = { ["API-KEY"] = "k" } },
      { url = "http://h/x", multipart = { file = { data = "x", filename = 'a"b' } } },
    }
    for _, req in ipairs(refused) do
      local err = exchange.check(req, "api-key")
      assert.are.equal("invalid_request", err and err.kind)
    end
    assert.is_nil(exchange.check({ url = "http://h/\195\169", headers = { A = 1 } }, "authorization"))
    for _, req in ipairs({ { url = 1 }, { url = "http://h/", method = "G T" }, { url = "http://h/", headers = 1 },
      { url = "http://h/", headers = { A = {} } }, { url = "http://h/", body = {} },
      { url = "http://h/", body = "x", multipart = {} } }) do
      assert.has_error(function() exchange.check(req, "authorization") end)
    end
  end)
end)
