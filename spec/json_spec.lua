-- codec.json_decode / codec.json_encode: the JSON rules in HACKING.md, on every
-- Lua the module supports (5.1 and LuaJIT have no integer subtype: the
-- integer cases below check what those can hold).
local codec = require("openai.finetunes.codec")

local decode, encode = codec.json_decode, codec.json_encode
local mtype = rawget(math, "type") -- nil before 5.3
local maxinteger, mininteger = rawget(math, "maxinteger"), rawget(math, "mininteger")

-- decode that must fail: returns the message and the byte it names
local function bad(text)
  local v, err = decode(text)
  assert.is_nil(v, "decoded " .. ("%q"):format(text))
  assert.is_string(err)
  local pos = tonumber(err:match("at byte (%d+)"))
  assert.is_number(pos, "no byte in: " .. err)
  return err, pos
end

local function encode_error(v)
  local ok, err = pcall(encode, v)
  assert.is_false(ok, "encoded without error")
  return err
end

-- The same numbers bit for bit (0.0 and -0.0 differ; NaN cannot come back).
local function same_number(a, b)
  return a == b and 1 / a == 1 / b and (not mtype or mtype(a) == mtype(b))
end

-- Fewest significant digits that read back as x, and how many text has.
local function fewest_digits(x)
  for p = 1, 17 do
    if tonumber(("%." .. p .. "g"):format(x)) == x then return p end
  end
end
local function significant_digits(text)
  local mantissa = text:match("^%-?([%d.]+)"):gsub("%.", "")
  return #(mantissa:gsub("^0+", ""):gsub("0+$", ""))
end

describe("codec.json_decode", function()
  it("decodes an API response into plain tables", function()
    local job = assert(decode([[{
      "object": "fine_tuning.job", "id": "ftjob-abc123", "model": "gpt-4o-mini-2024-07-18",
      "created_at": 1721764800, "finished_at": null, "fine_tuned_model": null,
      "status": "queued", "training_file": "file-abc123", "validation_file": null,
      "result_files": [], "trained_tokens": null, "error": null,
      "hyperparameters": {"n_epochs": "auto", "batch_size": 4, "learning_rate_multiplier": 1.8},
      "metadata": {"team": "search"}, "integrations": null, "seed": 683058546
    }]]))
    assert.same({
      object = "fine_tuning.job", id = "ftjob-abc123", model = "gpt-4o-mini-2024-07-18",
      created_at = 1721764800, status = "queued", training_file = "file-abc123",
      result_files = {}, metadata = { team = "search" }, seed = 683058546,
      hyperparameters = { n_epochs = "auto", batch_size = 4, learning_rate_multiplier = 1.8 },
    }, job)
    assert.is_nil(job.finished_at) -- JSON null members are absent
    assert.is_nil(job.error)
  end)

  it("decodes every scalar at the top level", function()
    assert.equal("x", decode('"x"'))
    assert.equal(42, decode(" 42 "))
    assert.is_true(decode("true"))
    assert.is_false(decode("false"))
    assert.equal(codec.null, decode("null")) -- nil would look like an error
  end)

  describe("numbers", function()
    it("keeps integers exact (Lua integers on 5.3+)", function()
      assert.equal(1700000000, decode("1700000000"))
      assert.equal(-12, decode("-12"))
      assert.equal(0, decode("-0"))
      if mtype then
        assert.equal("integer", mtype(decode("1700000000")))
        assert.equal("integer", mtype(decode("[0]")[1]))
        -- 2^53 + 1: a double would round it to 2^53
        assert.equal(9007199254740993, decode("9007199254740993"))
        assert.not_equal(decode("9007199254740992"), decode("9007199254740993"))
        assert.equal(maxinteger, decode("9223372036854775807"))
        assert.equal(mininteger, decode("-9223372036854775808"))
        assert.equal("integer", mtype(decode("-9223372036854775808")))
      else
        assert.equal(2 ^ 53, decode("9007199254740992"))
      end
    end)

    it("reads integers beyond 64 bits and anything with '.' or an exponent as floats", function()
      assert.equal(9223372036854775808, decode("9223372036854775808"))
      assert.equal(-9223372036854775809, decode("-9223372036854775809"))
      assert.equal(1e30, decode("1000000000000000000000000000000"))
      assert.equal(100, decode("1e2"))
      assert.equal(1, decode("1.0"))
      if mtype then
        assert.equal("float", mtype(decode("9223372036854775808")))
        assert.equal("float", mtype(decode("1e2")))
        assert.equal("float", mtype(decode("1.0")))
        assert.equal("float", mtype(decode("-0.0")))
      end
    end)

    it("converts decimal text to the nearest double", function()
      for _, text in ipairs({
        "0.1", "1.5e-7", "123.456", "-2.5E+3", "5e-324", "2.2250738585072014e-308",
        "1.7976931348623157e308", "3.14159265358979323846264338327950288419716939937510",
        "0.000000000000000000000000000001234", "9007199254740993.0", "1e23", "8.41e21",
        "4.35679098e-10", "123456789012345678901234567890e-10", "0.30000000000000004",
        "2.4703282292062328e-324", "1e-400", "-1e-400",
      }) do
        assert.is_true(same_number(tonumber(text), decode(text)), text)
      end
      assert.is_true(same_number(-0.0, decode("-0.0")))
    end)

    it("refuses what RFC 8259 does not allow, naming the byte", function()
      for text, at in pairs({
        ["01"] = 1, ["[-01]"] = 2, ["+1"] = 1, [".5"] = 1, ["1."] = 3, ["1.e5"] = 3,
        ["1e"] = 3, ["1e+"] = 4, ["-"] = 1, ["0x10"] = 2, ["NaN"] = 1, ["Infinity"] = 1,
        ["-Infinity"] = 1, ["[1,2 3]"] = 6, ["1 2"] = 3,
      }) do
        local err, pos = bad(text)
        assert.equal(at, pos, text .. ": " .. err)
      end
    end)

    it("refuses numbers too large for a double instead of returning inf", function()
      local err, pos = bad('{"a": [1, 1e400]}')
      assert.matches("number out of range", err)
      assert.equal(11, pos)
      bad("-1e309")
    end)
  end)

  describe("null", function()
    it("leaves null object members out", function()
      local t = assert(decode('{"a": null, "b": 1}'))
      assert.is_nil(t.a)
      assert.is_nil(next(assert(decode('{"a": null}'))))
    end)

    it("turns null array elements into codec.null so the length stays", function()
      local t = assert(decode("[null, 1, null]"))
      assert.equal(3, #t)
      assert.equal(codec.null, t[1])
      assert.equal(1, t[2])
      assert.equal(codec.null, t[3])
    end)

    it("lets the last of repeated keys win, null included", function()
      assert.is_nil(decode('{"a": 1, "a": null}').a)
      assert.equal(2, decode('{"a": null, "a": 2}').a)
      assert.equal(3, decode('{"a": 1, "a": 3}').a)
    end)
  end)

  describe("arrays", function()
    it("gives empty arrays codec.array_mt, so they encode back as []", function()
      local t = assert(decode('{"data": [], "meta": {}}'))
      assert.equal(codec.array_mt, getmetatable(t.data))
      assert.is_nil(getmetatable(t.meta))
      assert.equal('{"data":[],"meta":{}}', encode(t))
    end)

    it("leaves non-empty arrays as plain sequences", function()
      local t = assert(decode('[[1, 2], ["a"]]'))
      assert.is_nil(getmetatable(t))
      assert.is_nil(getmetatable(t[1]))
      assert.same({ { 1, 2 }, { "a" } }, t)
    end)
  end)

  describe("strings", function()
    it("unescapes every JSON escape", function()
      assert.equal('"\\/\b\f\n\r\t', decode([["\"\\\/\b\f\n\r\t"]]))
      assert.equal("caf\195\169", decode([["caf\u00e9"]]))
      assert.equal("\226\130\172", decode([["\u20AC"]]))
    end)

    it("joins surrogate pairs into one 4-byte UTF-8 character", function()
      assert.equal("\240\159\152\128", decode([["\ud83d\ude00"]]))
      assert.equal("\244\143\191\191", decode([["\uDBFF\uDFFF"]])) -- U+10FFFF
      assert.equal("a\240\144\128\128b", decode([["a\uD800\uDC00b"]]))
    end)

    it("refuses lone or misordered surrogates, naming the escape", function()
      for text, at in pairs({
        [ [["\ud800"]] ] = 2, [ [["x\udc00"]] ] = 3, [ [["\ud83d\u0041"]] ] = 2,
        [ [["\ude00\ud83d"]] ] = 2, [ [["\ud83d"]] ] = 2, [ [["\ud83d\\"]] ] = 2,
      }) do
        local err, pos = bad(text)
        assert.matches("surrogate", err)
        assert.equal(at, pos, text)
      end
    end)

    it("refuses bad escapes", function()
      for text, at in pairs({
        [ [["\x41"]] ] = 2, [ [["\u12g4"]] ] = 2, [ [["\u12"]] ] = 2, [ [["ab\'"]] ] = 4,
        [ [["\U00e9"]] ] = 2, ['"\\'] = 3,
      }) do
        local err, pos = bad(text)
        assert.equal(at, pos, text .. ": " .. err)
      end
    end)

    it("passes valid UTF-8 through and refuses invalid UTF-8 at its byte", function()
      assert.equal("\228\184\173\230\150\135 \240\159\142\137", decode('"\228\184\173\230\150\135 \240\159\142\137"'))
      for text, at in pairs({
        ['"ab\255"'] = 4,                 -- never valid
        ['"\192\175"'] = 2,               -- overlong '/'
        ['"\224\128\175"'] = 2,           -- overlong 3-byte
        ['"\237\160\128"'] = 2,           -- UTF-16 surrogate encoded in UTF-8
        ['"\244\144\128\128"'] = 2,       -- above U+10FFFF
        ['"\226\130"'] = 2,               -- truncated sequence at the end
        ['"x\226\130y"'] = 3,             -- truncated sequence mid-string
        ['"\128"'] = 2,                   -- lone continuation byte
        ['["ok", "\248\136\128\128\128"]'] = 9, -- 5-byte form
      }) do
        local err, pos = bad(text)
        assert.matches("invalid UTF%-8", err)
        assert.equal(at, pos, ("%q"):format(text))
      end
    end)

    it("keeps NUL bytes: \\u0000 decodes to a NUL, a raw control byte is refused", function()
      local s = assert(decode([["a\u0000b"]]))
      assert.equal(3, #s)
      assert.equal("a\0b", s)
      local err, pos = bad('"a\0b"')
      assert.matches("control character", err)
      assert.equal(3, pos)
      assert.equal(3, select(2, bad('"a\nb"')))
      assert.equal(5, select(2, bad('[1, \0]')))
    end)

    it("decodes a 16 MB string with and without escapes", function()
      local big = string.rep("abcdefghij", 1600000)
      assert.equal(big, decode('"' .. big .. '"'))
      local escaped = string.rep("a\\nb\\u00e9", 500000)
      local want = string.rep("a\nb\195\169", 500000)
      assert.equal(want, decode('["' .. escaped .. '"]')[1])
    end)
  end)

  describe("syntax errors", function()
    it("say what was expected and where, counting bytes from 1 like string.sub", function()
      local text = '{"a":1 "b":2}'
      local err, pos = bad(text)
      assert.equal([[expected ',' or '}' at byte 8 (found '"')]], err)
      assert.equal('"', text:sub(pos, pos))
      assert.equal("expected ':' at byte 6 (found '1')", select(1, bad('{"a" 1}')))
      assert.equal("expected a value at byte 1 (end of input)", select(1, bad("")))
    end)

    it("refuses every relaxed-JSON extension", function()
      for text, at in pairs({
        ["[1,]"] = 4, ['{"a":1,}'] = 8, ["{a:1}"] = 2, ["{'a':1}"] = 2, ["['x']"] = 2,
        ["[1] // c"] = 5, ["/* c */ 1"] = 1, ["[1 2]"] = 4, ["{,}"] = 2, ["[,1]"] = 2,
        ["tru"] = 1, ["nul"] = 1, ["True"] = 1, ["\f1"] = 1, ["\2381"] = 1, ["[1]]"] = 4,
        ["{}{}"] = 3, ['{"a"}'] = 5, ['{"a":}'] = 6, ["{1:2}"] = 2,
      }) do
        local err, pos = bad(text)
        assert.equal(at, pos, ("%q: %s"):format(text, err))
      end
    end)

    it("reports unterminated input at the byte after the end", function()
      for text, at in pairs({ ["["] = 2, ["[1"] = 3, ['{"a":'] = 6, ['{"a"'] = 5, ["  "] = 3 }) do
        local err, pos = bad(text)
        assert.matches("end of input", err)
        assert.equal(at, pos, text)
      end
      assert.matches("unterminated string", (bad('{"abc')))
    end)

    it("allows 512 levels of nesting and refuses 513", function()
      local ok = string.rep("[", 512) .. string.rep("]", 512)
      local t = assert(decode(ok))
      for _ = 1, 511 do t = t[1] end
      assert.equal(codec.array_mt, getmetatable(t))
      local err, pos = bad(string.rep('{"a":', 512) .. string.rep("[", 1) .. "1" .. string.rep("}", 513))
      assert.matches("nesting deeper than 512", err)
      assert.equal(512 * 5 + 1, pos)
      bad(string.rep("[", 100000)) -- no recursion, no stack overflow
    end)

    it("raises for a non-string argument", function()
      assert.has_error(function() decode(nil) end)
      assert.has_error(function() decode({}) end)
      local ok, err = pcall(decode, 42)
      assert.is_false(ok)
      assert.matches("string expected, got number", err)
    end)
  end)
end)

describe("codec.json_encode", function()
  it("writes scalars", function()
    assert.equal("null", encode(nil))
    assert.equal("null", encode(codec.null))
    assert.equal("true", encode(true))
    assert.equal("false", encode(false))
    assert.equal('"x"', encode("x"))
    assert.equal("[null,1]", encode({ codec.null, 1 }))
  end)

  describe("numbers", function()
    it("writes integers exactly", function()
      assert.equal("1700000000", encode(1700000000))
      assert.equal("-3", encode(-3))
      if mtype then
        assert.equal("9223372036854775807", encode(maxinteger))
        assert.equal("-9223372036854775808", encode(mininteger))
        assert.equal("9007199254740993", encode(decode("9007199254740993")))
      end
    end)

    it("writes integral floats with .0 on 5.3+ and as integers where there is no subtype", function()
      if mtype then
        assert.equal("3.0", encode(3.0))
        assert.equal("-0.0", encode(-0.0))
        assert.equal("9007199254740992.0", encode(2.0 ^ 53))
        assert.equal("float", mtype(decode(encode(3.0))))
      else
        assert.equal("3", encode(3.0))
        assert.equal("9007199254740991", encode(2 ^ 53 - 1))
      end
      assert.equal("1e+300", encode(1e300))
    end)

    it("writes the shortest text that reads back as the same double", function()
      assert.equal("0.1", encode(0.1))
      assert.equal("1.8", encode(1.8))
      assert.equal("0.3333333333333333", encode(1 / 3))
      assert.equal("0.30000000000000004", encode(0.1 + 0.2))
      assert.equal("5e-324", encode(5e-324))
      assert.equal("1.7976931348623157e+308", encode(1.7976931348623157e308))
      assert.equal("123456789.123", encode(123456789.123))
    end)

    it("round-trips random doubles bit for bit", function()
      math.randomseed(20260801)
      for _ = 1, 20000 do
        local x = (math.random() - 0.5) * 10 ^ math.random(-300, 300)
        local text = encode(x)
        assert.is_true(same_number(x, decode(text)), ("%.17g -> %s"):format(x, text))
        assert.equal(fewest_digits(x), significant_digits(text), text)
      end
    end)

    it("raises on NaN and infinities, naming the place", function()
      assert.equal("$.loss: cannot encode NaN", encode_error({ loss = 0 / 0 }))
      assert.equal("$.x[2]: cannot encode inf", encode_error({ x = { 1, math.huge } }))
      assert.equal("$: cannot encode -inf", encode_error(-math.huge))
    end)
  end)

  describe("strings", function()
    it("escapes quotes, backslashes and control bytes, nothing else", function()
      assert.equal([["a\"b\\c/d"]], encode('a"b\\c/d'))
      assert.equal([["\b\f\n\r\t"]], encode("\b\f\n\r\t"))
      assert.equal('"\\u0000\\u0001\\u001f\127"', encode("\0\1\31\127"))
      assert.equal('"caf\195\169 \240\159\152\128"', encode("caf\195\169 \240\159\152\128"))
    end)

    it("keeps NUL bytes", function()
      assert.equal("a\0b", decode(encode("a\0b")))
    end)

    it("raises on invalid UTF-8, naming the value and the byte", function()
      assert.equal("$.messages[1].content: invalid UTF-8 in string at byte 3",
        encode_error({ messages = { { content = "ab\255" } } }))
      assert.equal('$["k\\xFF"]: invalid UTF-8 in key at byte 2', encode_error({ ["k\255"] = 1 }))
      encode_error("\237\160\128") -- a surrogate encoded in UTF-8
    end)

    it("writes a 16 MB string", function()
      local big = string.rep("x\"y\n", 4000000)
      assert.equal(big, decode(encode(big)))
    end)
  end)

  describe("tables", function()
    it("sorts object keys bytewise", function()
      assert.equal('{"B":3,"a":2,"a b":4,"b":1,"\195\169":5}',
        encode({ b = 1, a = 2, B = 3, ["a b"] = 4, ["\195\169"] = 5 }))
      assert.equal('{"a":{"x":1,"y":2},"b":[{"c":1,"d":2}]}',
        encode({ b = { { d = 2, c = 1 } }, a = { y = 2, x = 1 } }))
    end)

    it("writes tables with keys exactly 1..n as arrays", function()
      assert.equal("[1,2,3]", encode({ 1, 2, 3 }))
      assert.equal('["a","b"]', encode({ [2] = "b", [1] = "a" }))
      assert.equal("[1,null,3]", encode({ 1, codec.null, 3 }))
    end)

    it("writes {} as an object and array_mt tables as arrays", function()
      assert.equal("{}", encode({}))
      assert.equal("[]", encode(setmetatable({}, codec.array_mt)))
      assert.equal("[1,2]", encode(setmetatable({ 1, 2 }, codec.array_mt)))
    end)

    it("ignores other metatables and their metamethods", function()
      local t = setmetatable({ a = 1 }, { __index = function() error("called __index") end,
        __pairs = function() error("called __pairs") end })
      assert.equal('{"a":1}', encode(t))
    end)

    it("raises on tables JSON cannot hold, naming the path", function()
      assert.equal("$.a: cannot encode sparse array (keys are not 1..n; use codec.null for holes)",
        encode_error({ a = { 1, nil, 3 } }))
      assert.equal("$: cannot encode sparse array (keys are not 1..n; use codec.null for holes)",
        encode_error({ [2] = 1 }))
      assert.equal("$.t: cannot encode table with both array and object keys",
        encode_error({ t = { 1, n = 1 } }))
      assert.equal("$: cannot encode table key of type boolean", encode_error({ [true] = 1 }))
      assert.matches("^%$: cannot encode table with a number key", encode_error({ [1.5] = 1 }))
      assert.matches("^%$: cannot encode table with a number key", encode_error({ [0] = 1 }))
      assert.equal("$.a: cannot encode table marked as array with string keys",
        encode_error({ a = setmetatable({ x = 1 }, codec.array_mt) }))
    end)

    it("raises on values JSON cannot hold, naming the path", function()
      local payload = { method = { type = "supervised", supervised = { hyperparameters = { n_epochs = print } } } }
      assert.equal("$.method.supervised.hyperparameters.n_epochs: cannot encode function", encode_error(payload))
      assert.equal('$["a b"][2]: cannot encode thread',
        encode_error({ ["a b"] = { 1, coroutine.create(function() end) } }))
      assert.equal("$.f: cannot encode userdata", encode_error({ f = io.stdout }))
      assert.equal("$: cannot encode function", encode_error(print))
      assert.has_error(function() encode() end)
    end)

    it("allows 512 levels of nesting, refuses 513, and catches cycles", function()
      local deep = {}
      for _ = 1, 511 do deep = { deep } end
      assert.equal(string.rep("[", 511) .. "{}" .. string.rep("]", 511), encode(deep))
      assert.matches("nesting deeper than 512", encode_error({ deep }))
      local loop = { name = "x" }
      loop.self = loop
      local err = encode_error(loop)
      assert.matches("^%$%.self%.self.*%.%.%..*: nesting deeper than 512 %(is there a cycle%?%)$", err)
      assert.is_true(#err < 300, "path elided")
    end)
  end)

  it("round-trips an API response: decode(encode(v)) == v and the text is canonical", function()
    local text = [[{"object":"list","data":[{"object":"fine_tuning.job.event","id":"ftevent-1",
      "created_at":1721764800,"level":"info","message":"Step 12/100: training loss=0.83",
      "data":{"step":12,"train_loss":0.8312456,"train_mean_token_accuracy":0.75},"type":"metrics"},
      {"object":"fine_tuning.job.event","id":"ftevent-0","created_at":1721764799,"level":"warn",
      "message":"caf\u00e9 \ud83d\ude00 \"quoted\"","data":null,"type":"message"}],"has_more":false}]]
    local v = assert(decode(text))
    local once = encode(v)
    assert.same(v, decode(once))
    assert.equal(once, encode(decode(once)))
    assert.equal('{"data":[{"created_at":1721764800,"data":{"step":12,"train_loss":0.8312456,'
      .. '"train_mean_token_accuracy":0.75},"id":"ftevent-1","level":"info","message":'
      .. '"Step 12/100: training loss=0.83","object":"fine_tuning.job.event","type":"metrics"},'
      .. '{"created_at":1721764799,"id":"ftevent-0","level":"warn","message":'
      .. '"caf\195\169 \240\159\152\128 \\"quoted\\"","object":"fine_tuning.job.event",'
      .. '"type":"message"}],"has_more":false,"object":"list"}', once)
  end)

  it("stays correct when a finalizer decodes and encodes in the middle of a call", function()
    -- tables get __gc from 5.2 on; 5.1 and LuaJIT have newproxy for the same
    local newproxy = rawget(_G, "newproxy")
    local calls, inner_ok, done = 0, 0, false
    local arm
    local function finalizer()
      -- after the test (and at lua_close, when codec.so may be unloaded already) do nothing
      if done then return end
      calls = calls + 1
      if encode(decode('{"a":[1,{"b":"c"}],"d":[]}')) == '{"a":[1,{"b":"c"}],"d":[]}' then
        inner_ok = inner_ok + 1
      end
      arm() -- keep them coming
    end
    arm = function()
      if newproxy then
        getmetatable(newproxy(true)).__gc = finalizer
      else
        setmetatable({}, { __gc = finalizer })
      end
    end
    local items = {}
    for i = 1, 2000 do
      items[i] = { id = "ftjob-" .. i, n = i, tags = { "a", "b" }, none = setmetatable({}, codec.array_mt) }
    end
    local text = encode({ data = items })
    collectgarbage() -- so the collector comes round again soon
    for _ = 1, 50 do arm() end
    local rounds = 0
    repeat -- until finalizers have run inside a good number of calls
      assert.equal(text, encode(decode(text)))
      rounds = rounds + 1
    until calls >= 100 or rounds == 1000
    done = true
    collectgarbage()
    assert.is_true(calls >= 100, "finalizers ran " .. calls .. " times")
    assert.equal(calls, inner_ok)
  end)

  -- #heavy: an RSS measurement, left out of the sanitizer runs (ASan's quarantine
  -- holds freed blocks, so RSS grows with what earlier specs freed); there
  -- LeakSanitizer and valgrind's leak check see a leak directly.
  it("frees its buffers when it raises half-way (no leak over many failed calls) #heavy", function()
    local f = io.open("/proc/self/status")
    if not f then return end -- only Linux shows VmRSS; the fuzz targets check leaks everywhere
    f:close()
    local function rss_kb()
      local fh = assert(io.open("/proc/self/status"))
      local kb = tonumber(fh:read("*a"):match("VmRSS:%s*(%d+)"))
      fh:close()
      return kb
    end
    local big = string.rep("x", 4 * 1024 * 1024)
    local payload = { a = big, b = big, z = print } -- fails after ~8 MB of output
    for _ = 1, 3 do encode_error(payload) end -- let malloc settle
    collectgarbage()
    local before = rss_kb()
    for _ = 1, 50 do encode_error(payload) end -- no collection in between
    assert.is_true(rss_kb() - before < 64 * 1024, "RSS grew by " .. (rss_kb() - before) .. " kB")
  end)
end)
