-- The per-request rules in C (src/exchange/), as the Lua exchange gets them from
-- the codec: the same functions src/core/transfer.c calls for the curl transport.
-- What every adapter relies on: a download's temp file exists only while the answer
-- comes, the target changes only on a complete 2xx, an abandoned exchange leaves
-- nothing behind, and the credential's rules hold.
local codec = require("openai.finetunes.codec")
local util = require("openai.finetunes.fake.util")
local H = require("spec.support.client_helper")

local names = H.names

describe("codec.response (src/exchange/response.h)", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmdir(dir) end)

  it("writes a 2xx body to the temp file and renames it onto the sink only at finish", function()
    local r = assert(codec.response(dir .. "/out.jsonl", 10))
    assert.matches("^out%.jsonl%.part%-%x+$", names(dir))
    r:head(200, 30)
    assert.is_true(r:add(string.rep("a", 20)))
    assert.is_true(r:add(string.rep("b", 10))) -- a sink download is never capped
    assert.matches("^out%.jsonl%.part%-%x+$", names(dir))
    local res = assert(r:finish({ status = 200 }))
    assert.are.equal(30, res.bytes_written)
    assert.is_nil(res.body)
    assert.are.equal("out.jsonl", names(dir))
    assert.are.equal(string.rep("a", 20) .. string.rep("b", 10), util.read_file(dir .. "/out.jsonl"))
  end)

  it("keeps a non-2xx answer to a download in memory and removes the temp file at once", function()
    util.write_file(dir .. "/out.jsonl", "old")
    local r = assert(codec.response(dir .. "/out.jsonl", 100))
    r:head(404, -1)
    assert.are.equal("out.jsonl", names(dir))
    assert.is_true(r:add('{"error":{}}'))
    assert.are.equal('{"error":{}}', assert(r:finish({})).body)
    assert.are.equal("old", util.read_file(dir .. "/out.jsonl"))
  end)

  it("caps a body in memory at max_body: too_large with the limit in the message", function()
    local r = assert(codec.response(nil, 5))
    r:head(200, -1)
    assert.is_true(r:add("12345"))
    local ok, err = r:add("6")
    assert.is_nil(ok)
    assert.are.same({ kind = "too_large", message = "response body exceeds max_response_bytes (5 bytes)" }, err)
  end)

  it("leaves the target untouched and no temp file on abort, and when abandoned to the collector", function()
    util.write_file(dir .. "/out.jsonl", "old")
    local r = assert(codec.response(dir .. "/out.jsonl", 10))
    r:head(200, -1)
    r:add("partial")
    r:abort()
    r:abort() -- idempotent
    assert.are.equal("out.jsonl", names(dir))
    local abandoned = assert(codec.response(dir .. "/other", 10))
    abandoned:head(200, -1)
    abandoned:add("partial")
    assert.matches("other%.part%-%x+", names(dir))
    abandoned = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    assert.are.equal("out.jsonl", names(dir))
    assert.are.equal("old", util.read_file(dir .. "/out.jsonl"))
  end)

  it("refuses a sink whose directory is missing, or a directory at its path, before anything", function()
    local r, err = codec.response(dir .. "/no/such/out", 10)
    assert.is_nil(r)
    assert.are.equal("io", err.kind)
    assert.are.equal(dir .. "/no/such/out", err.path)
    assert.are.equal("No such file or directory", err.os_error)
    r, err = codec.response(dir, 10)
    assert.is_nil(r)
    assert.are.same({ kind = "io", path = dir, os_error = "Is a directory",
      message = "cannot write " .. dir .. ": Is a directory" }, err)
  end)
end)

describe("codec.timer (src/exchange/timer.h)", function()
  it("bounds the whole exchange by timeout and any quiet stretch by idle_timeout", function()
    local t = codec.timer(100, 10, 2)
    assert.are.same({ 2, "idle" }, { t:left(100) })
    t:moved(109)
    assert.are.same({ 1, "total" }, { t:left(109) })
    assert.are.same({ -1, "total" }, { t:left(111) })
    assert.are.equal("waiting: the total timeout of 10 s expired", t:failure("total", "waiting").message)
    assert.are.same({ kind = "timeout", message = "no data sent or received for 2 s (idle_timeout)" },
      t:failure("idle"))
    assert.are.same({ math.huge, "none" }, { codec.timer(0):left(5) })
  end)
end)

describe("codec.credential (src/exchange/credential.h)", function()
  it("spells the line, replaces the secret and redacts it from text", function()
    local c = assert(codec.credential("api-key", "", "k-123"))
    assert.are.equal("api-key: k-123\r\n", c:line())
    assert.is_true(c:set("k-456"))
    assert.are.equal("api-key: k-456\r\n", c:line())
    assert.are.equal("key [redacted] and [redacted]", c:redact("key k-456 and k-456"))
    local bearer = assert(codec.credential())
    assert.is_nil(bearer:line())
    assert.are.equal("Authorization", bearer:name())
    assert.are.equal("text", bearer:redact("text"))
  end)

  it("names what is wrong with an unusable secret, header or scheme", function()
    assert.are.same({ nil, "api_key", "must not contain CR, LF or NUL" }, { codec.credential(nil, nil, "k\r\nX: y") })
    assert.are.same({ nil, "api_key", "must be a non-empty string" }, { codec.credential(nil, nil, "") })
    assert.are.same({ nil, "auth_header", "must be a header name (a token)" }, { codec.credential("a b") })
    assert.are.same({ nil, "auth_scheme", "must be empty or a scheme name (a token)" },
      { codec.credential(nil, "x y") })
    local c = assert(codec.credential())
    assert.are.same({ nil, "must not contain CR, LF or NUL" }, { c:set("a\0b") })
    assert.are.same({ nil, "must be a non-empty string" }, { c:set(42) })
  end)
end)
