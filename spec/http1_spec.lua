-- The ngx transport's wire parser, with no sockets: every response is fed whole,
-- split at every byte boundary and byte by byte, and must give the same answer.
local http1 = require("openai.finetunes.transport.http1")

-- Feed `chunks` one at a time, draining events after each; then signal EOF.
-- Returns a comparable summary: { status, version, reason, headers, body, reusable }
-- or { err = message }.
local function run(chunks, opts)
  local r = http1.new(opts)
  local out, body = nil, {}
  local function drain()
    while true do
      local ev, val = r:next()
      if ev == "head" then
        assert(out == nil, "two heads")
        out = { status = val.status, version = val.version, reason = val.reason, headers = val.headers }
      elseif ev == "body" then
        assert(out, "body before head")
        assert(#val > 0, "empty body event")
        body[#body + 1] = val
      elseif ev == "done" then
        out.body = table.concat(body)
        out.reusable = val
        return "done"
      elseif val then
        return "err", val
      else
        return nil
      end
    end
  end
  for _, c in ipairs(chunks) do
    r:feed(c)
    local state, err = drain()
    if state == "done" then return out end
    if state == "err" then return { err = err } end
  end
  r:feed_eof()
  local state, err = drain()
  if state == "done" then return out end
  if state == "err" then return { err = err } end
  return { err = "reader wants more after EOF" }
end

-- Every way of cutting `s`: whole, in two at each boundary, in three, byte by byte.
local function each_split(s, fn)
  fn({ s }, "whole")
  for i = 1, #s - 1 do fn({ s:sub(1, i), s:sub(i + 1) }, "split at " .. i) end
  for i = 1, #s - 2, 3 do
    local j = i + math.floor((#s - i) / 2)
    fn({ s:sub(1, i), s:sub(i + 1, j), s:sub(j + 1) }, "split at " .. i .. "," .. j)
  end
  local bytes = {}
  for i = 1, #s do bytes[i] = s:sub(i, i) end
  fn(bytes, "byte by byte")
end

local function same_everywhere(s, opts)
  local expected = run({ s }, opts)
  each_split(s, function(chunks, how)
    assert.are.same(expected, run(chunks, opts), how)
  end)
  return expected
end

describe("http1 reader", function()
  it("reads a Content-Length body and allows keep-alive", function()
    local res = same_everywhere("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
      .. "X-Request-Id: req_1\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
    assert.are.equal(200, res.status)
    assert.are.equal("1.1", res.version)
    assert.are.equal("OK", res.reason)
    assert.are.equal("application/json", res.headers["content-type"])
    assert.are.equal("req_1", res.headers["x-request-id"])
    assert.are.equal('{"ok":true}', res.body)
    assert.is_true(res.reusable)
  end)

  it("decodes a chunked body with extensions and trailers", function()
    local res = same_everywhere("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n")
    assert.are.equal("hello 0123456789", res.body)
    assert.is_true(res.reusable)
    assert.is_nil(res.headers["x-trailer"])
  end)

  it("reads until the peer closes when there is no length", function()
    local res = same_everywhere("HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n\r\nstep,loss\n1,0.5\n")
    assert.are.equal("step,loss\n1,0.5\n", res.body)
    assert.is_false(res.reusable)
  end)

  it("honours Connection: close and HTTP/1.0 defaults", function()
    assert.is_false(same_everywhere("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok").reusable)
    assert.is_false(same_everywhere("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").reusable)
    assert.is_true(same_everywhere("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok").reusable)
    assert.is_false(same_everywhere("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n")
      .reusable)
  end)

  it("knows which answers have no body", function()
    local res = same_everywhere("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
    assert.are.equal(204, res.status)
    assert.are.equal("", res.body)
    assert.is_true(res.reusable)
    res = same_everywhere("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")
    assert.are.equal("", res.body)
    res = same_everywhere("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", { method = "HEAD" })
    assert.are.equal("", res.body)
    assert.is_true(res.reusable)
    res = same_everywhere("HTTP/1.1 200 Connection established\r\n\r\n", { method = "CONNECT" })
    assert.are.equal(200, res.status)
    assert.are.equal("", res.body)
  end)

  it("skips interim 1xx answers", function()
    local res = same_everywhere("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      .. "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc")
    assert.are.equal(201, res.status)
    assert.are.equal("abc", res.body)
    assert.is_nil(res.headers["link"])
  end)

  it("joins repeated headers, lower-cases names, trims values, accepts bare LF", function()
    local res = same_everywhere("HTTP/1.1 429 Too Many Requests\nRetry-After:  2 \nVia: a\nVIA: b\n"
      .. "Content-Length: 2, 2\n\n{}")
    assert.are.equal(429, res.status)
    assert.are.equal("2", res.headers["retry-after"])
    assert.are.equal("a, b", res.headers["via"])
    assert.are.equal("{}", res.body)
  end)

  it("joins empty repeated values as the C core does, never ending a value in a space", function()
    local res = same_everywhere("HTTP/1.1 200 OK\r\nX-Empty-First:\r\nX-Empty-First: after\r\n"
      .. "Via: 1.1 proxy\r\nVia:\r\nContent-Length: 0\r\n\r\n")
    assert.are.equal(", after", res.headers["x-empty-first"])
    assert.are.equal("1.1 proxy,", res.headers["via"])
  end)

  it("lets chunked win over Content-Length but never reuses such a connection", function()
    local res = same_everywhere("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "2\r\nok\r\n0\r\n\r\n")
    assert.are.equal("ok", res.body)
    assert.is_false(res.reusable)
  end)

  it("does not reuse a connection that sent bytes past the answer", function()
    local res = run({ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA" })
    assert.are.equal("ok", res.body)
    assert.is_false(res.reusable)
  end)

  it("keeps a large body intact across many small reads", function()
    local body = {}
    for i = 1, 5000 do body[i] = string.char(i % 256) end
    body = table.concat(body)
    local chunked = {}
    for i = 1, #body, 777 do
      local piece = body:sub(i, i + 776)
      chunked[#chunked + 1] = string.format("%x\r\n%s\r\n", #piece, piece)
    end
    local wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" .. table.concat(chunked) .. "0\r\n\r\n"
    local pieces = {}
    for i = 1, #wire, 13 do pieces[#pieces + 1] = wire:sub(i, i + 12) end
    assert.are.equal(body, run(pieces).body)
    assert.are.equal(body, run({ wire }).body)
  end)

  describe("refuses", function()
    local cases = {
      { "a garbage status line", "SSH-2.0-OpenSSH\r\n\r\n", "malformed status line" },
      { "a closed connection with no answer", "", "connection closed before any response byte" },
      { "a truncated head", "HTTP/1.1 200 OK\r\nContent-Le", "connection closed inside the response head" },
      { "a truncated Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        "connection closed with 7 body bytes missing" },
      { "a truncated chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        "connection closed inside a chunk" },
      { "a chunked body without its last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
        "connection closed inside the chunked body" },
      { "a bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size" },
      { "a chunk size with junk after it", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n",
        "malformed chunk size" },
      { "chunk data without its CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n",
        "missing CRLF after chunk data" },
      { "a negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length" },
      { "conflicting Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "conflicting Content-Length" },
      { "a header without a colon", "HTTP/1.1 200 OK\r\nbroken header\r\n\r\n", "malformed header line" },
      { "obsolete line folding", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  more\r\n\r\n", "obsolete header line folding" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local res = same_everywhere(case[2])
        assert.is_string(res.err)
        assert.are.equal(case[3], res.err:sub(1, #case[3]))
      end)
    end

    it("a head larger than the limit, wherever it is cut", function()
      local wire = "HTTP/1.1 200 OK\r\nX-Big: " .. string.rep("a", 300) .. "\r\nContent-Length: 0\r\n\r\n"
      local res = same_everywhere(wire, { max_head_bytes = 200 })
      assert.are.equal("response head larger than 200 bytes", res.err)
      assert.are.equal(200, same_everywhere(wire, { max_head_bytes = 400 }).status)
    end)

    it("to go on after an error or after the answer is complete", function()
      local r = http1.new()
      r:feed("nope\r\n")
      local ev, err = r:next()
      assert.is_nil(ev)
      assert.matches("malformed status line", err)
      r:feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
      assert.is_nil((r:next()))
      r = http1.new()
      r:feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
      assert.are.equal("head", (r:next()))
      assert.are.equal("done", (r:next()))
      ev, err = r:next()
      assert.is_nil(ev)
      assert.are.equal("response already complete", err)
    end)
  end)

  describe("split_url", function()
    it("splits what the client builds into connect and request parts", function()
      assert.are.same({ scheme = "http", host = "127.0.0.1", port = 8080, target = "/v1/files?limit=2",
        authority = "127.0.0.1:8080" }, http1.split_url("http://127.0.0.1:8080/v1/files?limit=2"))
      assert.are.same({ scheme = "https", host = "api.openai.com", port = 443, target = "/v1/models",
        authority = "api.openai.com" }, http1.split_url("HTTPS://API.openai.com/v1/models#frag"))
      assert.are.same({ scheme = "http", host = "[::1]", port = 80, target = "/?a=1", authority = "[::1]" },
        http1.split_url("http://[::1]?a=1"))
      assert.are.equal("[::1]:8443", http1.split_url("https://[::1]:8443/x").authority)
      assert.are.equal("/", http1.split_url("http://h").target)
    end)

    it("refuses what it cannot send", function()
      for _, bad in ipairs({ "ftp://h/x", "http://user:pw@h/x", "http://h:0/", "http://h:99999/", "http://h:x/",
        "http:///x", "http://h/a b", "http://h/a\r\nX: y", "h/x", 42 }) do
        local u, err = http1.split_url(bad)
        assert.is_nil(u, tostring(bad))
        assert.is_string(err)
      end
    end)
  end)

  it("parse() reads one whole response from a string", function()
    local res = http1.parse("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
    assert.are.equal(404, res.status)
    assert.are.equal("not found", res.body)
    local nothing, err = http1.parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort")
    assert.is_nil(nothing)
    assert.matches("body bytes missing", err)
  end)
end)
