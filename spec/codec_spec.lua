-- The codec module (openai.finetunes.codec, src/codec/) on its own: SHA-256
-- (FIPS 180-4), HMAC-SHA256 (RFC 2104, RFC 4231's test cases), base64 (RFC 4648)
-- and the constant-time compare, and that loading it never touches libcurl.
-- JSON, URLs, MD5 and the JSONL checker have their own specs (json_spec, url_spec,
-- large_upload_spec, training_data_spec).
local H = require("spec.support.client_helper")
local codec = require("openai.finetunes.codec")

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function unhex(s)
  return (s:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

-- A file of n pseudo-random bytes (deterministic, so a failure can be replayed).
local function make_file(path, n)
  local f = assert(io.open(path, "wb"))
  local x, chunk = 12345, {}
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    chunk[#chunk + 1] = string.char(math.floor(x / 65536) % 256)
    if #chunk == 4096 or i == n then
      f:write(table.concat(chunk))
      chunk = {}
    end
  end
  f:close()
  return path
end

local function sha256sum(path)
  local p = io.popen("sha256sum " .. H.shell_quote(path))
  local out = p:read("*a")
  p:close()
  return out:match("^(%x+)")
end

describe("codec module", function()
  it("carries the version and the functions moved out of the core", function()
    assert.equal(require("openai.finetunes").version, codec._VERSION)
    for _, name in ipairs({ "json_decode", "json_encode", "escape", "encode_query", "md5", "md5_file",
      "md5_new", "validate_jsonl", "sha256", "sha256_file", "sha256_new", "hmac_sha256", "base64_encode",
      "base64_decode", "equal_constant_time" }) do
      assert.equal("function", type(codec[name]), name)
    end
    assert.equal(codec.null, require("openai.finetunes").null)
  end)

  it("loads without libcurl: nothing of libcurl is mapped and the core stays unloaded", function()
    local ok, out, err = H.run_lua([[
      local codec = require("openai.finetunes.codec")
      assert(codec.json_encode({ a = 1 }) == '{"a":1}')
      for line in io.lines("/proc/self/maps") do
        if line:find("libcurl", 1, true) then error("libcurl is mapped: " .. line) end
      end
      assert(package.loaded["openai.finetunes.core"] == nil, "the core was loaded")
      io.write("clean")
    ]])
    assert.is_true(ok, err)
    assert.equal("clean", out)
  end)

  it("the library loads only the codec until a curl transport is made", function()
    local ok, out, err = H.run_lua([[
      local ft = require("openai.finetunes")
      local before = tostring(package.loaded["openai.finetunes.core"])
      ft.new({ api_key = "sk-codec-spec", base_url = "http://127.0.0.1:9/v1" })
      io.write(before, " ", type(package.loaded["openai.finetunes.core"]))
    ]])
    assert.is_true(ok, err)
    assert.equal("nil table", out)
  end)
end)

describe("codec.sha256", function()
  -- FIPS 180-4 / NIST CSRC examples (SHA256.pdf) and the long-message vector
  local vectors = {
    { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", -- 448 bits
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    { "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
      .. "klmnopqrlmnopqrsmnopqrstnopqrstu",
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" }, -- 896 bits
    { string.rep("a", 1000000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
  }

  it("gives the NIST digests", function()
    for _, v in ipairs(vectors) do assert.equal(v[2], codec.sha256(v[1]), #v[1] .. " bytes") end
  end)

  it("gives the same digests incrementally, in pieces of every size around the block", function()
    for _, v in ipairs(vectors) do
      -- the million 'a' in 1000-byte pieces only: a million calls would be slow, not more thorough
      for _, step in ipairs(#v[1] > 1000 and { 1000 } or { 1, 3, 55, 56, 63, 64, 65, 1000 }) do
        local h = codec.sha256_new()
        for i = 1, #v[1], step do assert.equal(h, h:update(v[1]:sub(i, i + step - 1))) end
        assert.equal(v[2], h:hexdigest(), #v[1] .. " bytes by " .. step)
        assert.equal(v[2], hex(h:digest()))
        assert.equal(#v[1], h:count())
      end
    end
  end)

  it("digests part-way and goes on", function()
    local h = codec.sha256_new():update("ab")
    assert.equal(codec.sha256("ab"), h:hexdigest())
    assert.equal(32, #h:digest())
    h:update("c")
    assert.equal(codec.sha256("abc"), h:hexdigest())
    assert.equal(unhex(codec.sha256("abc")), h:digest())
  end)

  it("hashes files and slices of files like sha256sum, across read and block boundaries", function()
    local dir = H.tmpdir()
    for _, n in ipairs({ 0, 1, 55, 56, 63, 64, 65, 119, 120, 64 * 1024, 64 * 1024 + 1, 200 * 1024 + 3 }) do
      local path = make_file(dir .. "/f" .. n, n)
      local f = assert(io.open(path, "rb"))
      local data = f:read("*a")
      f:close()
      assert.equal(sha256sum(path), codec.sha256_file(path))
      assert.equal(codec.sha256(data), codec.sha256_file(path))
      -- a slice: offset, offset + length, and to the end
      local offset, length = math.floor(n / 3), math.floor(n / 2)
      assert.equal(codec.sha256(data:sub(offset + 1, offset + length)), codec.sha256_file(path, offset, length))
      assert.equal(codec.sha256(data:sub(offset + 1)), codec.sha256_file(path, offset))
      -- the hasher, in uneven slices
      local h, at = codec.sha256_new(), 0
      while at < n do
        local len = math.min(n - at, 37 + at % 70001)
        assert.equal(len, h:update_file(path, at, len))
        at = at + len
      end
      assert.equal(codec.sha256(data), h:hexdigest(), n .. " bytes")
    end
    H.rmdir(dir)
  end)

  it("returns nil, message for files it cannot read or slices outside the file, hasher untouched", function()
    local hexd, why = codec.sha256_file("/nonexistent/x")
    assert.is_nil(hexd)
    assert.equal("/nonexistent/x: No such file or directory", why)
    local dir = H.tmpdir()
    local path = make_file(dir .. "/ten", 10)
    local h = codec.sha256_new():update("kept")
    local n, short = h:update_file(path, 4, 10)
    assert.is_nil(n)
    assert.equal(path .. ": the file ends 4 bytes before offset + length", short)
    n, short = h:update_file(path, 12)
    assert.is_nil(n)
    assert.equal(path .. ": the file ends 2 bytes before offset", short)
    assert.equal(codec.sha256("kept"), h:hexdigest())
    assert.equal(4, h:count())
    hexd, why = codec.sha256_file(path, 11)
    assert.is_nil(hexd)
    assert.equal(path .. ": the file ends 1 bytes before offset", why)
    hexd, why = codec.sha256_file(dir)
    assert.is_nil(hexd)
    assert.truthy(why:find("Is a directory", 1, true), why)
    H.rmdir(dir)
  end)

  it("raises on misuse, naming the argument", function()
    assert.has_error(function() codec.sha256() end)
    assert.has_error(function() codec.sha256({}) end)
    assert.has_error(function() codec.sha256_file("/x", -1) end,
      "bad argument #2 to 'sha256_file' (offset must be an integer >= 0)")
    assert.has_error(function() codec.sha256_new():update_file("/x", 0, 1.5) end,
      "bad argument #3 to 'update_file' (length must be an integer >= 0)")
    assert.has_error(function() codec.sha256_new().update(codec.md5_new(), "x") end)
  end)
end)

describe("codec.hmac_sha256", function()
  local function rep(byte, n) return string.rep(string.char(byte), n) end
  local key25 = ""
  for i = 1, 25 do key25 = key25 .. string.char(i) end
  local long = "This is a test using a larger than block-size key and a larger than block-size data."
    .. " The key needs to be hashed before being used by the HMAC algorithm."
  -- RFC 4231 section 4, test cases 1-7
  local cases = {
    { rep(0x0b, 20), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
    { "Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
    { rep(0xaa, 20), rep(0xdd, 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
    { key25, rep(0xcd, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
    { rep(0x0c, 20), "Test With Truncation", "a3b6167473100ee06e0c796c2955552b", 16 }, -- truncated to 128 bits
    { rep(0xaa, 131), "Test Using Larger Than Block-Size Key - Hash Key First",
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
    { rep(0xaa, 131), long, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
  }

  it("gives RFC 4231's test cases 1-7 as 32 raw bytes", function()
    for i, c in ipairs(cases) do
      local mac = codec.hmac_sha256(c[1], c[2])
      assert.equal(32, #mac)
      assert.equal(c[3], hex(mac:sub(1, c[4] or 32)), "test case " .. i)
    end
  end)

  it("takes keys of a block, around it, and empty", function()
    -- a 64-byte key is used as is, a 65-byte one is hashed first (RFC 2104 section 2)
    local k64, k65 = rep(0x61, 64), rep(0x61, 65)
    assert.are_not.equal(codec.hmac_sha256(k64, "m"), codec.hmac_sha256(k65, "m"))
    assert.equal(codec.hmac_sha256(unhex(codec.sha256(k65)), "m"), codec.hmac_sha256(k65, "m"))
    assert.equal("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", hex(codec.hmac_sha256("", "")))
  end)

  it("raises on non-string arguments", function()
    assert.has_error(function() codec.hmac_sha256(nil, "m") end)
    assert.has_error(function() codec.hmac_sha256("k", {}) end)
  end)
end)

describe("codec.base64", function()
  -- RFC 4648 section 10
  local vectors = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
    { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } }

  it("encodes and decodes RFC 4648's test vectors", function()
    for _, v in ipairs(vectors) do
      assert.equal(v[2], codec.base64_encode(v[1]))
      assert.equal(v[1], codec.base64_decode(v[2]))
    end
  end)

  it("round-trips every byte value at every length mod 3", function()
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    all = table.concat(all)
    for n = 0, 258 do
      local s = (all .. all):sub(1, n)
      local text = codec.base64_encode(s)
      assert.equal(4 * math.ceil(n / 3), #text)
      assert.is_nil(text:find("[^A-Za-z0-9+/=]"))
      assert.equal(s, codec.base64_decode(text))
    end
    assert.equal("+/+/", codec.base64_encode("\251\255\191"))
  end)

  it("refuses bad input with nil and a message naming the byte", function()
    local bad = {
      { "Zm9v!mFy", "invalid base64 character '!' at byte 5" },
      { "Zm9v\nYmFy", "invalid base64 byte 0x0A at byte 5" },
      { "Zm9v YmFy", "invalid base64 byte 0x20 at byte 5" },
      { "Zm9v-_==", "invalid base64 character '-' at byte 5" }, -- the URL-safe alphabet is not this one
      { "Zm9vY\0==", "invalid base64 byte 0x00 at byte 6" },
      { "Zg==Zg==", "base64 padding '=' at byte 3 before the end" },
      { "Zm=v", "base64 padding '=' at byte 3 before the end" },
      { "Zm9vYg", "base64 length 6 is not a multiple of 4 (padding missing?)" },
      { "Zm9vY", "base64 length 5 is not a multiple of 4 (padding missing?)" },
      { "Zm9vYg=", "base64 length 7 is not a multiple of 4 (padding missing?)" },
      { "Z===", "too much base64 padding: '=' at byte 2" },
      { "====", "too much base64 padding: '=' at byte 1" },
      { "Zh==", "base64 character 'h' at byte 2 has padding bits set" }, -- not canonical: "Zg==" is "f"
      { "Zm9=", "base64 character '9' at byte 3 has padding bits set" },
    }
    for _, b in ipairs(bad) do
      local v, why = codec.base64_decode(b[1])
      assert.is_nil(v, b[1])
      assert.equal(b[2], why)
    end
  end)

  it("raises on non-string arguments", function()
    assert.has_error(function() codec.base64_encode() end)
    assert.has_error(function() codec.base64_decode({}) end)
  end)
end)

describe("codec.equal_constant_time", function()
  it("says whether two strings are equal", function()
    assert.is_true(codec.equal_constant_time("", ""))
    assert.is_true(codec.equal_constant_time("sig\0nature", "sig\0nature"))
    assert.is_false(codec.equal_constant_time("signature", "signaturE"))
    assert.is_false(codec.equal_constant_time("Signature", "signature"))
    assert.is_false(codec.equal_constant_time("sig", "signature"))
    assert.is_false(codec.equal_constant_time("sig\0", "sig"))
    local mac = codec.hmac_sha256("key", "payload")
    assert.is_true(codec.equal_constant_time(mac, codec.hmac_sha256("key", "payload")))
    assert.is_false(codec.equal_constant_time(mac, codec.hmac_sha256("key", "payloaD")))
  end)

  it("raises on non-string arguments", function()
    assert.has_error(function() codec.equal_constant_time("a") end)
    assert.has_error(function() codec.equal_constant_time({}, "a") end)
  end)
end)
