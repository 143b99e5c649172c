-- codec.escape and codec.encode_query: the URL rules in HACKING.md, i.e. what
-- openai-node's path tag and the SDKs' bracket query format put on the wire.
local codec = require("openai.finetunes.codec")

local escape, encode_query = codec.escape, codec.encode_query

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Every byte of s is in `allowed` (a Lua pattern class) or part of an upper-case %XX.
local function only(s, allowed)
  local rest = s:gsub("%%[0-9A-F][0-9A-F]", "")
  return not rest:find("[^" .. allowed .. "]")
end

local SEGMENT_CHARS = "A-Za-z0-9%-._~!$&'()*+,;=:@"
local QUERY_CHARS = "A-Za-z0-9%-._~"

-- A value it cannot encode is an answer, nil and why (what client.lua words
-- as misuse); only a non-table argument raises.
local function query_error(t)
  local s, why = encode_query(t)
  assert.is_nil(s, "encoded without error")
  assert.equal("string", type(why))
  return why
end

describe("codec.escape", function()
  it("leaves ids as the API writes them", function()
    for _, id in ipairs({ "ftjob-abc123", "file-XYZ_09", "ft:gpt-4o-mini-2024-07-18:my-org:custom-suffix:9yX7a1",
      "ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB", "gpt-4o-mini", "o4-mini-2025-04-16", "up~load.1" }) do
      assert.equal(id, escape(id))
    end
  end)

  it("encodes what could leave the segment: / ? # % and dot-dot tricks", function()
    assert.equal("..%2Fmodels", escape("../models"))
    assert.equal("a%2Fb", escape("a/b"))
    assert.equal("%252e%252e", escape("%2e%2e"))
    assert.equal("..%5C..%5Cx", escape("..\\..\\x"))
    assert.equal("x%3Fdelete=true%23frag", escape("x?delete=true#frag"))
    assert.equal("%2F%2Fevil.example", escape("//evil.example"))
  end)

  it("encodes NUL, CR, LF, spaces, controls and non-ASCII bytes in upper-case hex", function()
    assert.equal("a%00b", escape("a\0b"))
    assert.equal("x%0D%0AHost:%20evil", escape("x\r\nHost: evil"))
    assert.equal("%09%7F%C3%A9%FF", escape("\t\127\195\169\255"))
  end)

  it("keeps the RFC 3986 sub-delimiters, ':' and '@' like openai-node", function()
    assert.equal("!$&'()*+,;=:@", escape("!$&'()*+,;=:@"))
  end)

  it("gives back every byte string exactly, using only allowed bytes", function()
    local all = {}
    for b = 0, 255 do all[#all + 1] = string.char(b) end
    all = table.concat(all)
    local out = escape(all)
    assert.is_true(only(out, SEGMENT_CHARS), out)
    assert.equal(all, unescape(out))
    assert.equal(79 + 3 * (256 - 79), #out) -- 79 bytes are kept
    math.randomseed(7)
    for _ = 1, 500 do
      local bytes = {}
      for i = 1, math.random(0, 40) do bytes[i] = string.char(math.random(0, 255)) end
      local s = table.concat(bytes)
      local e = escape(s)
      assert.is_true(only(e, SEGMENT_CHARS), e)
      assert.equal(s, unescape(e))
    end
  end)

  it("returns the empty string for the empty string and raises without a string", function()
    assert.equal("", escape(""))
    assert.has_error(function() escape(nil) end)
    assert.has_error(function() escape({}) end)
  end)
end)

describe("codec.encode_query", function()
  it("writes scalars as k=v with keys sorted", function()
    assert.equal("after=ftjob-abc&limit=20", encode_query({ limit = 20, after = "ftjob-abc" }))
    assert.equal("a=1&b=x&c=true&d=false", encode_query({ d = false, c = true, b = "x", a = 1 }))
    assert.equal("", encode_query({}))
  end)

  it("writes nested tables with brackets, as metadata[k]=v", function()
    assert.equal("metadata%5Bk%5D=v", encode_query({ metadata = { k = "v" } }))
    assert.equal("limit=2&metadata%5Ba%5D=1&metadata%5Bb%5D=2",
      encode_query({ metadata = { b = 2, a = 1 }, limit = 2 }))
    assert.equal("a%5Bb%5D%5Bc%5D=1", encode_query({ a = { b = { c = 1 } } }))
  end)

  it("writes lists as k[]=v in their order", function()
    assert.equal("k%5B%5D=v", encode_query({ k = { "v" } }))
    assert.equal("ids%5B%5D=b&ids%5B%5D=a&ids%5B%5D=c", encode_query({ ids = { "b", "a", "c" } }))
    assert.equal("a%5B%5D%5Bx%5D=1&a%5B%5D%5Bx%5D=2", encode_query({ a = { { x = 1 }, { x = 2 } } }))
    assert.equal("", encode_query({ ids = {}, also = setmetatable({}, codec.array_mt) }))
  end)

  it("percent-encodes everything outside the unreserved set, spaces as %20", function()
    assert.equal("q=a%20b%2Bc%26d%3De%23f%2Fg%3Fh%25", encode_query({ q = "a b+c&d=e#f/g?h%" }))
    assert.equal("metadata%5Bkey%20with%20space%5D=v%26x", encode_query({ metadata = { ["key with space"] = "v&x" } }))
    assert.equal("x=%00%0D%0A%C3%A9", encode_query({ x = "\0\r\n\195\169" }))
    assert.equal("a%5Bb%5D=1", encode_query({ ["a[b]"] = 1 }))
    assert.equal("project_id=proj_abc-1.2~3", encode_query({ project_id = "proj_abc-1.2~3" }))
  end)

  it("writes integers exactly and floats in their shortest form", function()
    assert.equal("n=1700000000", encode_query({ n = 1700000000 }))
    assert.equal("x=0.1", encode_query({ x = 0.1 }))
    assert.equal("x=-2.5e-07", encode_query({ x = -2.5e-7 }))
    if rawget(math, "type") then
      assert.equal("n=9007199254740993", encode_query({ n = codec.json_decode("9007199254740993") }))
    end
  end)

  it("skips nil and codec.null, as the SDKs drop None/undefined", function()
    assert.equal("a=1", encode_query({ a = 1, b = codec.null }))
    assert.equal("a=1", encode_query({ a = 1, b = nil }))
    assert.equal("a%5B%5D=1&a%5B%5D=2", encode_query({ a = { 1, codec.null, 2 } }))
  end)

  it("uses only unreserved bytes, '%XX', '=' and '&', and decodes back", function()
    math.randomseed(11)
    for _ = 1, 300 do
      local bytes = {}
      for i = 1, math.random(0, 30) do bytes[i] = string.char(math.random(0, 255)) end
      local s = table.concat(bytes)
      local out = encode_query({ [s .. "k"] = s })
      assert.is_true(only(out, QUERY_CHARS .. "=&"), out)
      local k, v = out:match("^([^=&]*)=([^=&]*)$")
      assert.equal(s .. "k", unescape(k))
      assert.equal(s, unescape(v))
    end
  end)

  it("answers nil and why for values it cannot encode, naming the key", function()
    assert.equal("metadata[k]: cannot encode function", query_error({ metadata = { k = print } }))
    assert.equal("f: cannot encode userdata", query_error({ f = io.stdout }))
    local co = coroutine.create(function() end)
    assert.equal("ids[2]: cannot encode thread", query_error({ ids = { "a", co } }))
    assert.equal("x: cannot encode NaN or inf", query_error({ x = 0 / 0 }))
    assert.equal("x: cannot encode NaN or inf", query_error({ x = math.huge }))
    assert.equal("m: cannot encode table with both array and object keys", query_error({ m = { 1, a = 2 } }))
    assert.equal("m: cannot encode table key of type boolean", query_error({ m = { [true] = 1 } }))
  end)

  it("answers nil and why for tables nested more than 4 deep (and for cycles)", function()
    assert.equal("a%5Bb%5D%5Bc%5D%5Bd%5D=1", encode_query({ a = { b = { c = { d = 1 } } } }))
    assert.equal("a[b][c][d]: tables nested deeper than 4 levels",
      query_error({ a = { b = { c = { d = { e = 1 } } } } }))
    local loop = {}
    loop.self = loop
    assert.equal("self[self][self][self]: tables nested deeper than 4 levels", query_error(loop))
  end)

  it("answers nil and why for a query that is not a table of named values; raises on a non-table", function()
    assert.equal("query must be a table with string keys, not a list", query_error({ "a", "b" }))
    assert.equal("cannot encode table key of type boolean", query_error({ [true] = 1 }))
    -- an empty key would write "=v": a parameter without a name
    assert.equal("query keys must not be empty", query_error({ [""] = "x" }))
    assert.equal("metadata: query keys must not be empty", query_error({ metadata = { [""] = "x" } }))
    -- the message of a failure after pairs were written is the failure alone
    assert.equal("z: cannot encode function", query_error({ a = 1, b = { "x", "y" }, z = print }))
    assert.has_error(function() encode_query("limit=2") end)
    assert.has_error(function() encode_query(nil) end)
  end)
end)
