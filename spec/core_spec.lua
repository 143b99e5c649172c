-- The C core's transport (openai.finetunes.core + transport/curl.lua) over real
-- HTTP: against the fake OpenAI server, and nginx in front of it for TLS, HTTP/2,
-- gzip and client certificates. What a user of the transport relies on:
-- keep-alive, the key staying in C, bodies and multipart arriving byte-identical,
-- sinks that never leave half files, each error kind, callbacks that cannot crash
-- the process, concurrency, proxies.
local core = require("openai.finetunes.core")
local curl = require("openai.finetunes.transport.curl")
local fake_server = require("spec.support.fake_server")
local nginx = require("spec.support.nginx")
local json = require("openai.finetunes.fake.json")
local util = require("openai.finetunes.fake.util")
local lfs = require("lfs")
local socket = require("socket")
local redacted = require("openai.finetunes.fake.reqlog").redact_credential

local KEY = "sk-core-spec-9f3c1e7a5b2d4068SECRET"

---------------------------------------------------------------------- helpers

local quote, read_file = util.shell_quote, util.read_file

local function write_file(path, data)
  assert(util.write_file(path, data))
end

local function md5_file(path)
  local p = io.popen("md5sum " .. quote(path))
  local line = p:read("*l")
  p:close()
  return line and line:match("^(%x+)")
end

local function temp_dir()
  local d = os.tmpname()
  os.remove(d)
  assert(lfs.mkdir(d))
  return d
end

local remove_tree = util.rm_rf

local function dir_entries(d)
  local out = {}
  for name in lfs.dir(d) do
    if name ~= "." and name ~= ".." then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

-- Deterministic bytes (every value 0..255, NULs and CR/LF included).
local function binary(n, seed)
  local t, x = {}, seed or 7
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    t[i] = string.char(math.floor(x / 65536) % 256)
  end
  return table.concat(t)
end

local LUA = os.getenv("OFT_LUA") or "lua5.4" -- the interpreter under test (make test sets it)

-- Runs Lua source in a child interpreter with this run's paths; returns stdout and stderr.
local function run_lua(source)
  local script = os.tmpname()
  write_file(script, source)
  local p = io.popen(("LUA_PATH=%s LUA_CPATH=%s %s %s 2>&1"):format(quote(package.path), quote(package.cpath),
    LUA, quote(script)))
  local out = p:read("*a")
  p:close()
  os.remove(script)
  return out
end

local function vm_hwm_kb()
  local status = read_file("/proc/self/status") or ""
  return tonumber(status:match("VmHWM:%s*(%d+)"))
end

-- Everything observable about a client or an error, for the "no key anywhere" checks.
local function describe_value(v, seen)
  seen = seen or {}
  if type(v) ~= "table" then return tostring(v) end
  if seen[v] then return "" end
  seen[v] = true
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. describe_value(x, seen) end
  return table.concat(parts, " ")
end

local function drain_all(h, timeout)
  local out, deadline = {}, core.now() + (timeout or 20)
  while h:pending() > 0 and core.now() < deadline do
    for _, c in ipairs(h:poll(1)) do out[c.id] = c end
  end
  return out
end

------------------------------------------------------------------------ specs

describe("core module", function()
  it("names itself and its libcurl", function()
    assert.is_string(core._VERSION)
    assert.matches("^%d+%.%d+%.%d+", core.curl_version())
    local f = core.features()
    assert.is_boolean(f.http2)
    assert.is_boolean(f.zlib)
    assert.is_boolean(f.brotli)
    assert.is_boolean(f.zstd)
    assert.is_boolean(f.threadsafe)
    assert.equals(core.curl_version(), f.version)
  end)

  it("has a monotonic clock and a sleep that waits the whole time", function()
    local t0 = core.now()
    core.sleep(0.12)
    local t1 = core.now()
    assert.is_true(t1 - t0 >= 0.12)
    assert.is_true(t1 - t0 < 1)
    assert.is_true(core.now() >= t1)
    core.sleep(0)
    assert.has_error(function() core.sleep(-1) end)
    assert.has_error(function() core.sleep("soon") end)
  end)
end)

describe("core.new", function()
  it("takes an api_key string without CR, LF or NUL, and never echoes it", function()
    assert.has_error(function() core.new{ api_key = "" } end,
      "bad argument #1 to 'new' (api_key must be a non-empty string)")
    assert.has_error(function() core.new{ api_key = 42 } end,
      "bad argument #1 to 'new' (api_key must be a string, got number)")
    for _, bad in ipairs({ KEY .. "\r\nX-Evil: 1", KEY .. "\n", KEY .. "\0tail" }) do
      local ok, err = pcall(function() core.new{ api_key = bad } end)
      assert.is_false(ok)
      assert.matches("api_key must not contain CR, LF or NUL", err)
      assert.is_nil(err:find(KEY, 1, true))
    end
    assert.has_error(function() core.new("sk") end)
    -- without one (a token provider sets it later) requests go out without a credential
    core.new{}:close()
  end)

  it("takes a header name and a scheme for the credential", function()
    for _, case in ipairs({
      { { auth_header = "api key" }, "auth_header must be a header name (a token)" },
      { { auth_header = "" }, "auth_header must be a header name (a token)" },
      { { auth_header = 7 }, "auth_header must be a string, got number" },
      { { auth_scheme = "Bearer token" }, "auth_scheme must be empty or a scheme name (a token)" },
      { { auth_scheme = false }, "auth_scheme must be a string, got boolean" },
    }) do
      local ok, err = pcall(function() core.new(case[1]) end)
      assert.is_false(ok)
      assert.equals("bad argument #1 to 'new' (" .. case[2] .. ")", (err:gsub("^[^:]*:%d+: ", "")))
    end
  end)

  it("raises bad argument errors that name the option", function()
    local cases = {
      { { timeout = "10" }, "timeout must be a number, got string" },
      { { connect_timeout = -1 }, "connect_timeout must be >= 0" },
      { { idle_timeout = 0 / 0 }, "idle_timeout must be >= 0" },
      { { http_version = "3" }, 'http_version must be "2" or "1.1"' },
      { { compression = "yes" }, "compression must be a boolean, got string" },
      { { proxy = "http://p" }, "proxy must be a table, got string" },
      { { proxy = { url = 8080 } }, "proxy.url must be a string, got number" },
      { { tls = { verify = "no" } }, "tls.verify must be a boolean, got string" },
      { { tls = { ca_file = "/x\0y" } }, "tls.ca_file must not contain NUL" },
      { { max_connections = 1.5 }, "max_connections must be an integer" },
      { { max_response_bytes = {} }, "max_response_bytes must be a number, got table" },
      { { verbose = 1 }, "verbose must be a boolean, got number" },
    }
    for _, case in ipairs(cases) do
      local opts = case[1]
      opts.api_key = KEY
      local ok, err = pcall(function() core.new(opts) end) -- not a tail call: LuaJIT would lose the name
      assert.is_false(ok)
      assert.equals("bad argument #1 to 'new' (" .. case[2] .. ")", (err:gsub("^[^:]*:%d+: ", "")))
    end
  end)

  it("keeps the key out of tostring", function()
    local h = core.new{ api_key = KEY }
    local s = tostring(h)
    assert.matches("^openai%.finetunes%.core%.client: ", s)
    assert.is_nil(s:find(KEY, 1, true))
    assert.is_nil(s:find("sk-", 1, true))
    h:close()
    assert.equals("openai.finetunes.core.client (closed)", tostring(h))
  end)
end)

describe("client handle against the fake server", function()
  local server, h, tmp

  setup(function()
    server = fake_server.start()
  end)
  before_each(function()
    server:reset()
    tmp = temp_dir() -- one per test: listings show exactly what a test left behind
    h = core.new{ api_key = KEY, timeout = 20 }
  end)
  after_each(function()
    h:close()
    remove_tree(tmp)
  end)

  local function url(path) return server.base_url .. path end

  -- A file on the fake server with the given bytes; returns its id.
  local function upload(data, name)
    local path = tmp .. "/" .. (name or "upload.bin")
    write_file(path, data)
    local res = assert(h:request{ method = "POST", url = url("/files"), multipart = {
      fields = { purpose = "assistants" }, file = { path = path, filename = name or "upload.bin" } } })
    assert.equals(200, res.status)
    return json.decode(res.body).id, path
  end

  describe("connections", function()
    it("keeps one connection alive across calls", function()
      local mark = server:mark()
      local counts = {}
      for i = 1, 4 do
        local res = assert(h:request{ url = url("/models") })
        assert.equals(200, res.status)
        counts[i] = res.new_connections
      end
      assert.same({ 1, 0, 0, 0 }, counts)
      local log = server:requests{ since = mark }
      assert.equals(4, #log)
      for i = 2, 4 do assert.equals(log[1].connection, log[i].connection) end
    end)

    it("uses a new connection after one was broken by an error, and recovers", function()
      assert(h:request{ url = url("/models") })
      local res, err = h:request{ url = url("/models"), headers = { ["x-fake-fault"] = "reset" } }
      assert.is_nil(res)
      assert.equals("io", err.kind)
      res = assert(h:request{ url = url("/models") })
      assert.equals(200, res.status)
      assert.equals(1, res.new_connections)
    end)
  end)

  describe("requests", function()
    it("sends the key only as Authorization: Bearer, with the caller's headers", function()
      local res = assert(h:request{ url = url("/models"),
        headers = { ["OpenAI-Organization"] = "org-1", ["X-Number"] = 7, ["X-Empty"] = "" } })
      assert.equals(200, res.status)
      local e = server:last_request()
      assert.equals(redacted("Bearer " .. KEY), e.headers.authorization)
      assert.equals("org-1", e.headers["openai-organization"])
      assert.equals("7", e.headers["x-number"])
      assert.equals("", e.headers["x-empty"])
      assert.matches("^openai%-finetunes%-lua/", e.headers["user-agent"])
      assert.is_nil(e.headers.expect)
    end)

    it("sends a JSON body byte for byte", function()
      local body = '{"model":"gpt-4o-mini-2024-07-18","training_file":"file-x","suffix":"caf\195\169"}'
      local res = assert(h:request{ method = "POST", url = url("/fine_tuning/jobs"),
        headers = { ["Content-Type"] = "application/json" }, body = body })
      assert.is_number(res.status)
      local e = server:last_request()
      assert.equals("POST", e.method)
      assert.equals(body, e.body)
      assert.equals(#body, e.body_size)
      assert.equals("application/json", e.headers["content-type"])
    end)

    it("sends POST without a body as Content-Length: 0 and DELETE as DELETE", function()
      local id = upload("x", "x.bin")
      local res = assert(h:request{ method = "POST", url = url("/uploads/upload_missing/cancel") })
      assert.equals(404, res.status)
      assert.equals("0", server:last_request().headers["content-length"])
      res = assert(h:request{ method = "DELETE", url = url("/files/" .. id) })
      assert.equals(200, res.status)
      assert.is_true(json.decode(res.body).deleted)
      assert.equals("DELETE", server:last_request().method)
    end)

    it("answers lower-case headers, the status, the body and the HTTP version", function()
      local res = assert(h:request{ url = url("/files/file-nope") })
      assert.equals(404, res.status) -- a status >= 400 is an answer, not a transport error
      assert.matches("^req_", res.headers["x-request-id"])
      assert.equals("application/json", res.headers["content-type"]:match("^[^;]+"))
      assert.is_nil(res.headers["X-Request-Id"])
      assert.equals("1.1", res.http_version)
      assert.equals("invalid_request_error", json.decode(res.body).error.type)
    end)

    it("refuses header injection before sending anything (the wire's guard; the rule is the exchange's)", function()
      local mark = server:mark()
      local bad = {
        { ["X-Bad"] = "a\r\nX-Injected: 1" },
        { ["X-Bad"] = "a\nb" },
        { ["X-Bad"] = "a\0b" },
        { ["X-Bad\r\nX-Injected"] = "1" },
        { ["X Bad"] = "1" },
        { ["X-Bad:"] = "1" },
      }
      for _, headers in ipairs(bad) do
        local res, err = h:request{ url = url("/models"), headers = headers }
        assert.is_nil(res)
        assert.equals("invalid_request", err.kind)
        assert.is_nil(err.message:find("[\r\n]"))
        local id, serr = h:start{ url = url("/models"), headers = headers }
        assert.is_nil(id)
        assert.equals("invalid_request", serr.kind)
      end
      assert.equals(0, h:pending())
      assert.equals(0, #server:requests{ since = mark })
    end)

    it("refuses URLs that are not absolute http(s) before sending anything", function()
      for _, u in ipairs({ "ftp://127.0.0.1/x", "file:///etc/passwd", "/v1/models", "http://127.0.0.1/a b",
        "http://127.0.0.1/a\r\nb", "http://[::1" }) do
        local res, err = h:request{ url = u }
        assert.is_nil(res)
        assert.equals("invalid_request", err.kind)
      end
    end)

    it("raises bad argument errors that name the req field", function()
      local cases = {
        { {}, "req.url is required" },
        { { url = 1 }, "req.url must be a string, got number" },
        { { url = url("/models"), method = "GE T" }, "req.method must be an HTTP method token" },
        { { url = url("/models"), headers = "x" }, "req.headers must be a table, got string" },
        { { url = url("/models"), headers = { "x" } }, "req.headers keys must be strings" },
        { { url = url("/models"), headers = { X = true } }, "req.headers.X must be a string or a number" },
        { { url = url("/models"), body = {} }, "req.body must be a string, got table" },
        { { url = url("/models"), body = "x", multipart = {} }, "req.body and req.multipart cannot both be set" },
        { { url = url("/models"), timeout = "1" }, "req.timeout must be a number, got string" },
        { { url = url("/models"), progress = true }, "req.progress must be a function, got boolean" },
        { { url = url("/models"), sink = 1 }, "req.sink must be a string, got number" },
        { { url = url("/models"), multipart = { file = {} } },
          "req.multipart.file needs exactly one of path and data" },
        { { url = url("/models"), multipart = { file = { data = "x", offset = 1 } } },
          "req.multipart.file offset and length need path" },
        { { url = url("/models"), multipart = { fields = { [1] = "x" } } },
          "req.multipart.fields keys must be strings" },
      }
      for _, case in ipairs(cases) do
        local ok, err = pcall(function() h:request(case[1]) end)
        assert.is_false(ok)
        assert.equals("bad argument #1 to 'request' (" .. case[2] .. ")", (err:gsub("^[^:]*:%d+: ", "")))
      end
      assert.has_error(function() h:request("x") end)
      assert.has_error(function() h.request({}, {}) end)
      -- the handle is unharmed by all of that
      assert.equals(200, assert(h:request{ url = url("/models") }).status)
    end)
  end)

  describe("multipart", function()
    it("streams a file from its path: fields sorted, file last, name and type as given", function()
      local data = binary(300000, 11)
      local path = tmp .. "/train.jsonl"
      write_file(path, data)
      local res = assert(h:request{ method = "POST", url = url("/files"), multipart = {
        fields = { purpose = "fine-tune", ["expires_after[seconds]"] = 3600, ["expires_after[anchor]"] = "created_at" },
        file = { path = path, filename = "train.jsonl", content_type = "application/jsonl" } } })
      assert.equals(200, res.status)
      local parts = server:last_request().parts
      local names = {}
      for i, p in ipairs(parts) do names[i] = p.name end
      assert.same({ "expires_after[anchor]", "expires_after[seconds]", "purpose", "file" }, names)
      assert.equals("created_at", parts[1].value)
      assert.equals("3600", parts[2].value)
      assert.equals("fine-tune", parts[3].value)
      assert.equals("train.jsonl", parts[4].filename)
      assert.equals("application/jsonl", parts[4].content_type)
      assert.equals(#data, parts[4].size)
      assert.equals(md5_file(path), parts[4].md5)
      -- and the stored file reads back identical
      local content = assert(h:request{ url = url("/files/" .. json.decode(res.body).id .. "/content") })
      assert.equals(data, content.body)
    end)

    it("names the file after its path and types it octet-stream by default", function()
      local path = tmp .. "/plain.bin"
      write_file(path, "abc")
      assert(h:request{ method = "POST", url = url("/files"), multipart = {
        fields = { purpose = "assistants" }, file = { path = path } } })
      local p = server:last_request().parts[2]
      assert.equals("file", p.name)
      assert.equals("plain.bin", p.filename)
      assert.equals("application/octet-stream", p.content_type)
    end)

    it("sends a Lua string as the file part, NULs and all", function()
      local data = binary(70000, 3) .. "\0\r\n--not-a-boundary\r\n" .. binary(1000, 5)
      local res = assert(h:request{ method = "POST", url = url("/files"), multipart = {
        fields = { purpose = "assistants" },
        file = { data = data, filename = "blob.bin", content_type = "application/x-custom" } } })
      assert.equals(200, res.status)
      local p = server:last_request().parts[2]
      write_file(tmp .. "/expected.bin", data)
      assert.equals(md5_file(tmp .. "/expected.bin"), p.md5)
      assert.equals(#data, p.size)
      assert.equals("blob.bin", p.filename)
      assert.equals("application/x-custom", p.content_type)
    end)

    it("uploads slices of one file as Uploads API parts that reassemble exactly", function()
      local data = binary(250001, 17)
      local path = tmp .. "/big.bin"
      write_file(path, data)
      local created = assert(h:request{ method = "POST", url = url("/uploads"),
        headers = { ["Content-Type"] = "application/json" },
        body = json.encode({ filename = "big.bin", purpose = "assistants", bytes = #data,
          mime_type = "application/octet-stream" }) })
      assert.equals(200, created.status)
      local upload_id = json.decode(created.body).id
      local part_ids, size, offset = {}, 100000, 0
      while offset < #data do
        local length = math.min(size, #data - offset)
        local res = assert(h:request{ method = "POST", url = url("/uploads/" .. upload_id .. "/parts"),
          multipart = { file = { field = "data", path = path, offset = offset, length = length } } })
        assert.equals(200, res.status)
        local logged = server:last_request().parts[1]
        assert.equals("data", logged.name)
        assert.equals(length, logged.size)
        write_file(tmp .. "/slice.bin", data:sub(offset + 1, offset + length))
        assert.equals(md5_file(tmp .. "/slice.bin"), logged.md5)
        part_ids[#part_ids + 1] = json.decode(res.body).id
        offset = offset + length
      end
      -- a slice with only an offset runs to the end of the file
      local tail = assert(h:request{ method = "POST", url = url("/uploads/" .. upload_id .. "/parts"),
        multipart = { file = { field = "data", path = path, offset = #data - 10 } } })
      assert.equals(200, tail.status)
      assert.equals(10, server:last_request().parts[1].size)
      local done = assert(h:request{ method = "POST", url = url("/uploads/" .. upload_id .. "/complete"),
        headers = { ["Content-Type"] = "application/json" }, body = json.encode({ part_ids = part_ids }) })
      assert.equals(200, done.status)
      local file_id = json.decode(done.body).file.id
      local content = assert(h:request{ url = url("/files/" .. file_id .. "/content") })
      assert.equals(data, content.body)
    end)

    it("refuses slices past the end, unreadable files and unframable names before sending", function()
      local path = tmp .. "/small.bin"
      write_file(path, "0123456789")
      local mark = server:mark()
      local cases = {
        { { file = { path = path, offset = 5, length = 6 } }, "invalid_request" },
        { { file = { path = path, offset = 11 } }, "invalid_request" },
        { { file = { path = tmp .. "/missing.bin" } }, "io" },
        { { file = { path = tmp .. "/missing.bin", offset = 0, length = 1 } }, "io" },
        { { file = { path = tmp } , fields = {} }, "io" },
        { { file = { data = "x", filename = 'a"b' } }, "invalid_request" },
        { { file = { data = "x", filename = "a\r\nb" } }, "invalid_request" },
        { { file = { data = "x", content_type = "text/plain\r\nX: y" } }, "invalid_request" },
        { { fields = { ['na"me'] = "x" } }, "invalid_request" },
        { { fields = { ["a\nb"] = "x" } }, "invalid_request" },
      }
      for i, case in ipairs(cases) do
        local res, err = h:request{ method = "POST", url = url("/files"), multipart = case[1] }
        assert.is_nil(res, "case " .. i)
        assert.equals(case[2], err.kind, "case " .. i .. ": " .. tostring(err.message))
      end
      assert.equals(0, #server:requests{ since = mark })
    end)

    it("never holds an uploaded file in memory", function()
      local path = tmp .. "/large.bin"
      assert(os.execute("head -c 67108864 /dev/zero > " .. quote(path)))
      local before = vm_hwm_kb()
      local res = assert(h:request{ method = "POST", url = url("/files"), multipart = {
        fields = { purpose = "assistants" }, file = { path = path } } })
      assert.equals(200, res.status)
      assert.equals(67108864, server:last_request().parts[2].size)
      assert.is_true(vm_hwm_kb() - before < 24 * 1024, "peak RSS grew by " .. (vm_hwm_kb() - before) .. " kB")
      os.remove(path)
    end)
  end)

  describe("sink downloads", function()
    it("streams a 2xx body to the file and reports the bytes written", function()
      local data = binary(1500000, 23)
      local id = upload(data, "dl.bin")
      local target = tmp .. "/downloaded.bin"
      local res = assert(h:request{ url = url("/files/" .. id .. "/content"), sink = target })
      assert.equals(200, res.status)
      assert.equals(#data, res.bytes_written)
      assert.is_nil(res.body)
      assert.equals(data, read_file(target))
      assert.same({ "dl.bin", "downloaded.bin" }, dir_entries(tmp))
      os.remove(target)
      os.remove(tmp .. "/dl.bin")
    end)

    it("is never capped by max_response_bytes", function()
      local target = tmp .. "/huge.json"
      local res = assert(h:request{ url = url("/models"), sink = target, max_response_bytes = 1000,
        headers = { ["x-fake-fault"] = "huge;bytes=3000000" } })
      assert.equals(200, res.status)
      assert.equals(3000000, res.bytes_written)
      assert.equals(3000000, lfs.attributes(target, "size"))
      os.remove(target)
    end)

    it("keeps a non-2xx body in memory and leaves the target alone", function()
      local target = tmp .. "/existing.txt"
      write_file(target, "previous content")
      local res = assert(h:request{ url = url("/files/file-missing/content"), sink = target })
      assert.equals(404, res.status)
      assert.is_nil(res.bytes_written)
      assert.equals("invalid_request_error", json.decode(res.body).error.type)
      assert.equals("previous content", read_file(target))
      assert.same({ "existing.txt" }, dir_entries(tmp))
      os.remove(target)
    end)

    it("on failure leaves nothing behind and an existing target untouched", function()
      local id = upload(binary(400000, 29), "src.bin")
      local target = tmp .. "/existing.bin"
      write_file(target, "keep me")
      for _, fault in ipairs({ "reset_mid_body", "truncated", "stall_body;seconds=5" }) do
        local res, err = h:request{ url = url("/files/" .. id .. "/content"), sink = target,
          headers = { ["x-fake-fault"] = fault }, idle_timeout = 1 }
        assert.is_nil(res, fault)
        assert.truthy(err.kind == "io" or err.kind == "timeout", fault .. ": " .. err.kind)
        assert.equals("keep me", read_file(target))
        assert.same({ "existing.bin", "src.bin" }, dir_entries(tmp))
      end
      -- a target that did not exist is not created either
      local res, err = h:request{ url = url("/files/" .. id .. "/content"), sink = tmp .. "/new.bin",
        headers = { ["x-fake-fault"] = "reset_mid_body" } }
      assert.is_nil(res)
      assert.equals("io", err.kind)
      assert.same({ "existing.bin", "src.bin" }, dir_entries(tmp))
      os.remove(target)
      os.remove(tmp .. "/src.bin")
    end)

    it("fails with kind io before sending when the sink cannot be created", function()
      local mark = server:mark()
      local res, err = h:request{ url = url("/models"), sink = tmp .. "/no/such/dir/out.bin" }
      assert.is_nil(res)
      assert.equals("io", err.kind)
      assert.matches("No such file or directory", err.message)
      assert.equals(0, #server:requests{ since = mark })
    end)
  end)

  describe("errors", function()
    it("connect: nothing listens on the port", function()
      local res, err = h:request{ url = "http://127.0.0.1:" .. nginx.free_port() .. "/v1/models" }
      assert.is_nil(res)
      assert.equals("connect", err.kind)
      assert.equals(7, err.curl_code)
      assert.is_string(err.message)
    end)

    it("a request libcurl gives up on before sending (a huge URL) does not stall the next ones", function()
      -- libcurl 7.88 once kept later requests waiting, past their timeout, for the
      -- connection such a request had opened (CURLOPT_PIPEWAIT over http://)
      local res, err = h:request{ url = url("/fine_tuning/jobs/" .. string.rep("a", 1024 * 1024)) }
      assert.is_nil(res)
      assert.is_string(err.kind)
      local t0 = core.now()
      for _ = 1, 2 do
        res, err = h:request{ url = url("/models"), timeout = 5 }
        assert.is_nil(err)
        assert.equals(200, res.status)
      end
      assert.is_true(core.now() - t0 < 2)
    end)

    it("dns: the host name does not resolve", function()
      local res, err = h:request{ url = "http://no-such-host.invalid/v1/models", connect_timeout = 5 }
      assert.is_nil(res)
      assert.equals("dns", err.kind)
    end)

    it("timeout: the total time runs out", function()
      local t0 = core.now()
      local res, err = h:request{ url = url("/models"), timeout = 0.5, headers = { ["x-fake-fault"] = "stall;3" } }
      assert.is_nil(res)
      assert.equals("timeout", err.kind)
      assert.equals(28, err.curl_code)
      assert.is_true(core.now() - t0 < 2)
    end)

    it("timeout: a stalled body trips idle_timeout even without a total timeout", function()
      local lazy = core.new{ api_key = KEY, idle_timeout = 1 }
      local id = upload(binary(200000, 31), "stall.bin")
      local t0 = core.now()
      local res, err = lazy:request{ url = url("/files/" .. id .. "/content"),
        headers = { ["x-fake-fault"] = "stall_body;seconds=8" } }
      assert.is_nil(res)
      assert.equals("timeout", err.kind)
      assert.is_true(core.now() - t0 < 5)
      lazy:close()
      os.remove(tmp .. "/stall.bin")
    end)

    it("too_large: a body above max_response_bytes is cut off", function()
      local res, err = h:request{ url = url("/models"), max_response_bytes = 100000,
        headers = { ["x-fake-fault"] = "huge;bytes=5000000" } }
      assert.is_nil(res)
      assert.equals("too_large", err.kind)
      assert.matches("100000", err.message)
      -- the client-wide cap, and the default one is generous
      local capped = core.new{ api_key = KEY, max_response_bytes = 10 }
      res, err = capped:request{ url = url("/models") }
      assert.is_nil(res)
      assert.equals("too_large", err.kind)
      capped:close()
      res = assert(h:request{ url = url("/models"), headers = { ["x-fake-fault"] = "huge;bytes=5000000" } })
      assert.equals(5000000, #res.body)
    end)

    it("closed: every call on a closed handle says so, and close is idempotent", function()
      assert(h:request{ url = url("/models") })
      h:close()
      h:close()
      local res, err = h:request{ url = url("/models") }
      assert.is_nil(res)
      assert.equals("closed", err.kind)
      local id, serr = h:start{ url = url("/models") }
      assert.is_nil(id)
      assert.equals("closed", serr.kind)
      local list, perr = h:poll(0)
      assert.is_nil(list)
      assert.equals("closed", perr.kind)
      assert.equals("closed", select(2, h:cancel(1)).kind)
      assert.equals(0, h:pending())
    end)

    it("never carries the key in a message", function()
      local errs = {}
      local function collect(req, client)
        local _, err = (client or h):request(req)
        if err then errs[#errs + 1] = err end
      end
      collect{ url = "http://127.0.0.1:" .. nginx.free_port() .. "/" .. KEY }
      collect{ url = url("/models"), headers = { ["X"] = KEY .. "\r\n" } }
      collect{ url = url("/models"), timeout = 0.3, headers = { ["x-fake-fault"] = "stall;2" } }
      collect{ url = url("/" .. KEY), sink = tmp .. "/" .. KEY .. "/x" }
      assert.is_true(#errs >= 4)
      for _, e in ipairs(errs) do
        assert.is_nil(describe_value(e):find(KEY, 1, true), describe_value(e))
      end
    end)
  end)

  describe("progress callback", function()
    local id
    before_each(function()
      id = upload(binary(1200000, 37), "progress.bin")
    end)
    after_each(function()
      os.remove(tmp .. "/progress.bin")
    end)

    it("is called with growing counts up to the whole body", function()
      local calls, last_now, monotonic = 0, 0, true
      local res = assert(h:request{ url = url("/files/" .. id .. "/content"),
        progress = function(dltotal, dlnow, ultotal, ulnow)
          calls = calls + 1
          if dlnow < last_now then monotonic = false end
          last_now = dlnow
          assert(dltotal >= 0 and ultotal >= 0 and ulnow >= 0)
          local math_type = rawget(math, "type") -- 5.3+
          if math_type then assert(math_type(dlnow) == "integer") end
        end })
      assert.equals(200, res.status)
      assert.is_true(calls >= 2)
      assert.is_true(monotonic)
      assert.equals(1200000, last_now)
    end)

    it("sees the upload side of a multipart body", function()
      local best = 0
      assert(h:request{ method = "POST", url = url("/files"), multipart = {
        fields = { purpose = "assistants" }, file = { path = tmp .. "/progress.bin" } },
        progress = function(_, _, _, ulnow) if ulnow > best then best = ulnow end end })
      assert.is_true(best > 1200000)
    end)

    it("aborts the exchange when it returns false", function()
      local res, err = h:request{ url = url("/files/" .. id .. "/content"), progress = function() return false end }
      assert.is_nil(res)
      assert.equals("aborted", err.kind)
      assert.equals(200, assert(h:request{ url = url("/models") }).status)
    end)

    it("re-raises an error it raises once libcurl has returned; the handle stays usable", function()
      for _ = 1, 3 do
        local ok, err = pcall(h.request, h, { url = url("/files/" .. id .. "/content"),
          progress = function() error("boom in progress") end })
        assert.is_false(ok)
        assert.matches("boom in progress", err)
        local marker = {}
        ok, err = pcall(h.request, h, { url = url("/files/" .. id .. "/content"),
          progress = function() error(marker) end })
        assert.is_false(ok)
        assert.equals(marker, err)
        assert.equals(200, assert(h:request{ url = url("/models") }).status)
      end
    end)

    it("in poll, comes back as err.callback_error", function()
      local marker = { why = "stop" }
      local bad = h:start{ url = url("/files/" .. id .. "/content"), progress = function() error(marker) end }
      local good = h:start{ url = url("/models") }
      local got = drain_all(h)
      assert.equals("aborted", got[bad].err.kind)
      assert.equals(marker, got[bad].err.callback_error)
      assert.equals(200, got[good].res.status)
    end)

    it("cannot re-enter or close the handle from inside the callback", function()
      local inner
      local ok, err = pcall(h.request, h, { url = url("/files/" .. id .. "/content"), progress = function()
        inner = "reached"
        h:request{ url = url("/models") }
      end })
      assert.is_false(ok)
      assert.equals("reached", inner)
      assert.matches("inside a progress callback", err)
      ok, err = pcall(h.request, h, { url = url("/files/" .. id .. "/content"), progress = function() h:close() end })
      assert.is_false(ok)
      assert.matches("inside a progress callback", err)
      assert.equals(200, assert(h:request{ url = url("/models") }).status)
    end)
  end)

  describe("start and poll", function()
    it("runs several exchanges at once and reports each by its id", function()
      local ids = {}
      local names = { "gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14", "no-such-model", "gpt-4o-2024-08-06" }
      local t0 = core.now()
      for _, name in ipairs(names) do
        local id = assert(h:start{ url = url("/models/" .. name), headers = { ["x-fake-fault"] = "stall;1" } })
        ids[id] = name
      end
      assert.equals(4, h:pending())
      local got = drain_all(h)
      assert.is_true(core.now() - t0 < 3, "took " .. (core.now() - t0)) -- concurrent, not 4 x 1 s
      assert.equals(0, h:pending())
      for id, name in pairs(ids) do
        local res = got[id].res
        if name == "no-such-model" then
          assert.equals(404, res.status)
        else
          assert.equals(200, res.status)
          assert.equals(name, json.decode(res.body).id)
        end
      end
    end)

    it("bounds the connections with max_connections", function()
      local one = core.new{ api_key = KEY, max_connections = 1 }
      local t0 = core.now()
      for _ = 1, 3 do one:start{ url = url("/models"), headers = { ["x-fake-fault"] = "stall;0.5" } } end
      local got, conns = drain_all(one), 0
      for _, c in pairs(got) do conns = conns + c.res.new_connections end
      assert.equals(1, conns)
      assert.is_true(core.now() - t0 >= 1.4, "three 0.5 s answers on one connection took " .. (core.now() - t0))
      one:close()
    end)

    it("returns {} after the timeout, and at once when nothing is pending", function()
      local t0 = core.now()
      assert.same({}, h:poll(5))
      assert.is_true(core.now() - t0 < 0.5)
      local id = h:start{ url = url("/models"), headers = { ["x-fake-fault"] = "stall;2" } }
      t0 = core.now()
      assert.same({}, h:poll(0.3))
      assert.is_true(core.now() - t0 >= 0.25)
      assert.equals(1, h:pending())
      assert.is_true(h:cancel(id))
      assert.equals(0, h:pending())
    end)

    it("cancel drops an exchange: no completion is ever reported for it", function()
      local slow = h:start{ url = url("/models"), headers = { ["x-fake-fault"] = "stall;1" } }
      local fast = h:start{ url = url("/models") }
      assert.is_true(h:cancel(slow))
      assert.is_false(h:cancel(slow))
      assert.is_false(h:cancel(12345))
      local got = drain_all(h)
      assert.is_nil(got[slow])
      assert.equals(200, got[fast].res.status)
      assert.same({}, h:poll(1.2))
    end)

    it("cancel removes an unfinished sink, also when called from another exchange's callback", function()
      local id = upload(binary(300000, 43), "src.bin")
      local target = tmp .. "/out.bin"
      local slow = h:start{ url = url("/files/" .. id .. "/content"), sink = target,
        headers = { ["x-fake-fault"] = "stall_body;seconds=5" } }
      local cancelled
      local fast = h:start{ url = url("/files/" .. id .. "/content"), progress = function(_, dlnow)
        if dlnow > 0 and cancelled == nil then cancelled = h:cancel(slow) end
      end }
      local t0 = core.now()
      local got = drain_all(h)
      assert.is_true(cancelled)
      assert.is_nil(got[slow])
      assert.equals(300000, #got[fast].res.body)
      assert.is_true(core.now() - t0 < 4)
      assert.same({ "src.bin" }, dir_entries(tmp))
      -- and from outside, while it runs
      slow = h:start{ url = url("/files/" .. id .. "/content"), sink = target,
        headers = { ["x-fake-fault"] = "stall_body;seconds=5" } }
      h:poll(0.5)
      assert.is_true(h:cancel(slow))
      assert.same({ "src.bin" }, dir_entries(tmp))
      assert.equals(0, h:pending())
    end)

    it("lets h:request run while started exchanges wait for poll", function()
      local started = h:start{ url = url("/models/gpt-4o-mini-2024-07-18") }
      local res = assert(h:request{ url = url("/models") })
      assert.equals("list", json.decode(res.body).object)
      assert.equals(1, h:pending())
      local got = drain_all(h)
      assert.equals(200, got[started].res.status)
    end)

    it("close cancels what is in flight and removes unfinished sink files", function()
      local id = upload(binary(300000, 41), "inflight.bin")
      local target = tmp .. "/inflight.out"
      h:start{ url = url("/files/" .. id .. "/content"), sink = target,
        headers = { ["x-fake-fault"] = "stall_body;seconds=5" } }
      h:start{ url = url("/models"), headers = { ["x-fake-fault"] = "stall;5" } }
      h:poll(0.5)
      assert.equals(2, h:pending())
      h:close()
      assert.equals(0, h:pending())
      assert.same({ "inflight.bin" }, dir_entries(tmp))
      os.remove(tmp .. "/inflight.bin")
    end)

    it("collects a forgotten handle whose callback refers back to it, exchanges in flight", function()
      local weak = setmetatable({}, { __mode = "v" })
      do
        local forgotten = core.new{ api_key = KEY }
        weak[1] = forgotten
        forgotten:start{ url = url("/models"), headers = { ["x-fake-fault"] = "stall;2" },
          progress = function() return forgotten ~= nil end }
        forgotten:poll(0.2)
      end
      collectgarbage()
      collectgarbage()
      assert.is_nil(weak[1])
      assert.equals(200, assert(h:request{ url = url("/models") }).status)
    end)
  end)

  describe("proxy", function()
    it("sends requests through proxy.url in absolute form", function()
      local via = core.new{ api_key = KEY, proxy = { url = server:url("") } }
      local target = "http://127.0.0.1:" .. server.port .. "/v1/models"
      local res = assert(via:request{ url = target })
      assert.equals(200, res.status)
      local e = server:last_request()
      assert.is_true(e.proxied)
      assert.equals(target, e.target)
      assert.equals(redacted("Bearer " .. KEY), e.headers.authorization)
      via:close()
    end)

    it("goes direct for hosts in no_proxy", function()
      local dead = "http://127.0.0.1:" .. nginx.free_port()
      local via = core.new{ api_key = KEY, proxy = { url = dead, no_proxy = "127.0.0.1" } }
      local res = assert(via:request{ url = url("/models") })
      assert.equals(200, res.status)
      assert.is_false(server:last_request().proxied)
      via:close()
    end)

    it("sends proxy credentials", function()
      local guarded = fake_server.start{ proxy_auth = "alice:s3cret" }
      local target = "http://127.0.0.1:" .. guarded.port .. "/v1/models"
      local anonymous = core.new{ api_key = KEY, proxy = { url = guarded:url("") } }
      assert.equals(407, assert(anonymous:request{ url = target }).status)
      local known = core.new{ api_key = KEY,
        proxy = { url = guarded:url(""), username = "alice", password = "s3cret" } }
      assert.equals(200, assert(known:request{ url = target }).status)
      assert.equals(redacted("Basic YWxpY2U6czNjcmV0"), guarded:last_request().proxy_authorization)
      anonymous:close()
      known:close()
    end)

    it("reports an unresolvable proxy as kind proxy", function()
      local via = core.new{ api_key = KEY, proxy = { url = "http://no-such-proxy.invalid:3128" } }
      local res, err = via:request{ url = url("/models") }
      assert.is_nil(res)
      assert.equals("proxy", err.kind)
      via:close()
    end)
  end)

  describe("the transport object (transport/curl.lua)", function()
    it("wraps the handle with the transport methods", function()
      local t = curl.new{ api_key = KEY, timeout = 10 }
      for _, m in ipairs({ "request", "start", "poll", "cancel", "pending", "now", "sleep", "close" }) do
        assert.is_function(t[m], m)
      end
      assert.equals(200, assert(t:request{ url = url("/models") }).status)
      local id = assert(t:start{ url = url("/models") })
      local list
      repeat list = t:poll(5) until #list > 0
      assert.equals(id, list[1].id)
      assert.is_true(t:now() > 0)
      local t0 = t:now()
      t:sleep(0.05)
      assert.is_true(t:now() - t0 >= 0.05)
      assert.matches("^openai%.finetunes%.transport%.curl %(openai%.finetunes%.core%.client: ", tostring(t))
      assert.is_nil(tostring(t):find(KEY, 1, true))
      t:close()
      t:close()
      assert.equals("closed", select(2, t:request{ url = url("/models") }).kind)
      assert.has_error(function() curl.new{ api_key = KEY, timeout = "x" } end)
    end)
  end)

  describe("verbose", function()
    it("traces to stderr with the key redacted", function()
      local out = run_lua(([[
        local core = require("openai.finetunes.core")
        local h = core.new{ api_key = %q, verbose = true }
        local res = assert(h:request{ method = "POST", url = %q, body = "{}",
          headers = { ["Content-Type"] = "application/json" } })
        print("status " .. res.status)
      ]]):format(KEY, url("/fine_tuning/jobs")))
      assert.matches("status 400", out)
      assert.matches("> POST /v1/fine_tuning/jobs HTTP/1.1", out, 1, true)
      assert.matches("> Authorization: [redacted]", out, 1, true)
      assert.matches("< HTTP/1.1 400", out, 1, true)
      assert.is_nil(out:find(KEY, 1, true))
      assert.is_nil(out:find(KEY:sub(1, 12), 1, true))
    end)
  end)
end)

describe("client handle behind nginx (TLS, HTTP/2, gzip, client certificates)", function()
  local certs_mod = require("spec.support.certs")
  local server, srv, certs

  setup(function()
    server = fake_server.start()
    certs = certs_mod.make()
    local upstream = server:url("")
    srv = nginx.start{
      http = "gzip on; gzip_types *; gzip_min_length 1; gzip_proxied any;",
      server = nginx.proxy_to(upstream) .. [[
        location /mtls/ {
          if ($ssl_client_verify != SUCCESS) { return 403; }
          proxy_pass ]] .. upstream .. [[/;
        }
        location = /repeated {
          add_header X-Multi first;
          add_header X-Multi second;
          return 200 "ok";
        }
      ]],
      tls = { cert = certs.server_cert, key = certs.server_key, client_ca = certs.ca },
    }
  end)
  teardown(function()
    if srv then srv:stop() end
    certs_mod.cleanup()
  end)
  before_each(function()
    server:reset()
  end)

  local function client(opts)
    opts.api_key = KEY
    opts.timeout = opts.timeout or 10
    return core.new(opts)
  end

  it("verifies the server by default: a self-signed chain fails with kind tls", function()
    local h = client{}
    local res, err = h:request{ url = srv:tls_url("/v1/models") }
    assert.is_nil(res)
    assert.equals("tls", err.kind)
    h:close()
  end)

  it("accepts the server with tls.ca_file, and negotiates HTTP/2 by default", function()
    local h = client{ tls = { ca_file = certs.ca } }
    local res = assert(h:request{ url = srv:tls_url("/v1/models") })
    assert.equals(200, res.status)
    assert.equals("2", res.http_version)
    assert.equals("list", json.decode(res.body).object)
    assert.equals(redacted("Bearer " .. KEY), server:last_request().headers.authorization)
    h:close()
  end)

  it("checks the host name and the issuer", function()
    local h = client{ tls = { ca_file = certs.ca } }
    local res, err = h:request{ url = srv:tls_url("/v1/models", "127.0.0.1") }
    assert.is_nil(res)
    assert.equals("tls", err.kind)
    h:close()
    h = client{ tls = { ca_file = certs.other_ca } }
    res, err = h:request{ url = srv:tls_url("/v1/models") }
    assert.is_nil(res)
    assert.equals("tls", err.kind)
    h:close()
    h = client{ tls = { verify = false } }
    assert.equals(200, assert(h:request{ url = srv:tls_url("/v1/models", "127.0.0.1") }).status)
    h:close()
  end)

  it("speaks HTTP/1.1 when asked", function()
    local h = client{ tls = { ca_file = certs.ca }, http_version = "1.1" }
    assert.equals("1.1", assert(h:request{ url = srv:tls_url("/v1/models") }).http_version)
    h:close()
  end)

  it("multiplexes concurrent exchanges over one HTTP/2 connection", function()
    local h = client{ tls = { ca_file = certs.ca } }
    for _ = 1, 6 do h:start{ url = srv:tls_url("/v1/models") } end
    local got, conns, n = drain_all(h), 0, 0
    for _, c in pairs(got) do
      n = n + 1
      assert.equals("2", c.res.http_version)
      conns = conns + c.res.new_connections
    end
    assert.equals(6, n)
    assert.equals(1, conns)
    h:close()
  end)

  it("presents a client certificate, also from an encrypted key", function()
    local h = client{ tls = { ca_file = certs.ca } }
    assert.equals(403, assert(h:request{ url = srv:tls_url("/mtls/v1/models") }).status)
    h:close()
    h = client{ tls = { ca_file = certs.ca, cert_file = certs.client_cert, key_file = certs.client_key } }
    assert.equals(200, assert(h:request{ url = srv:tls_url("/mtls/v1/models") }).status)
    h:close()
    h = client{ tls = { ca_file = certs.ca, cert_file = certs.client_cert, key_file = certs.client_key_encrypted,
      key_password = certs.client_key_password } }
    assert.equals(200, assert(h:request{ url = srv:tls_url("/mtls/v1/models") }).status)
    h:close()
    h = client{ tls = { ca_file = certs.ca, cert_file = certs.client_cert, key_file = certs.client_key_encrypted,
      key_password = "wrong" } }
    local res, err = h:request{ url = srv:tls_url("/mtls/v1/models") }
    assert.is_nil(res)
    assert.equals("tls", err.kind)
    h:close()
  end)

  it("asks for compression and decodes gzip; compression = false asks for none", function()
    local h = client{ tls = { ca_file = certs.ca } }
    local res = assert(h:request{ url = srv:tls_url("/v1/models") })
    assert.equals("gzip", res.headers["content-encoding"])
    assert.equals("list", json.decode(res.body).object)
    assert.matches("gzip", server:last_request().headers["accept-encoding"])
    h:close()
    h = client{ tls = { ca_file = certs.ca }, compression = false }
    res = assert(h:request{ url = srv:tls_url("/v1/models") })
    assert.is_nil(res.headers["content-encoding"])
    assert.equals("list", json.decode(res.body).object)
    assert.is_nil(server:last_request().headers["accept-encoding"])
    h:close()
  end)

  it("joins repeated response headers with a comma", function()
    local h = client{}
    local res = assert(h:request{ url = srv:url("/repeated") })
    assert.equals("first, second", res.headers["x-multi"])
    h:close()
  end)

  it("traces HTTP/2 with the key redacted", function()
    local out = run_lua(([[
      local core = require("openai.finetunes.core")
      local h = core.new{ api_key = %q, verbose = true, tls = { ca_file = %q } }
      print("status " .. assert(h:request{ url = %q }).status)
    ]]):format(KEY, certs.ca, srv:tls_url("/v1/models")))
    assert.matches("status 200", out)
    assert.matches("ALPN: server accepted h2", out, 1, true)
    assert.matches("authorization: [redacted]", out, 1, true)
    assert.is_nil(out:find(KEY, 1, true))
  end)

  it("tunnels HTTPS through a CONNECT proxy, and a refusing proxy is kind proxy", function()
    local support = debug.getinfo(1, "S").source:gsub("^@", ""):gsub("core_spec%.lua$", "support/")
    local port_file = os.tmpname()
    os.remove(port_file)
    local p = io.popen(("%s %s %s alice:pw >/dev/null 2>&1 & echo $!"):format(LUA,
      quote(support .. "connect_proxy.lua"), quote(port_file)))
    local pid = p:read("*l")
    p:close()
    local port
    for _ = 1, 100 do
      port = read_file(port_file)
      if port then break end
      socket.sleep(0.05)
    end
    finally(function()
      os.execute("kill " .. pid .. " 2>/dev/null")
      os.remove(port_file)
      os.remove(port_file .. ".log")
    end)
    local proxy = "http://127.0.0.1:" .. assert(tonumber(port))
    local h = client{ tls = { ca_file = certs.ca }, proxy = { url = proxy, username = "alice", password = "pw" } }
    local res = assert(h:request{ url = srv:tls_url("/v1/models") })
    assert.equals(200, res.status)
    assert.matches("CONNECT localhost:" .. srv.tls_port, read_file(port_file .. ".log"), 1, true)
    h:close()
    h = client{ tls = { ca_file = certs.ca }, proxy = { url = proxy } }
    local err
    res, err = h:request{ url = srv:tls_url("/v1/models") }
    assert.is_nil(res)
    assert.equals("proxy", err.kind)
    h:close()
  end)
end)

describe("the credential", function()
  local server, h

  setup(function() server = fake_server.start() end)
  before_each(function() server:reset() end)
  after_each(function() if h then h:close() end end)

  local function get(handle, headers)
    return assert(handle:request{ method = "GET", url = server.base_url .. "/models", headers = headers })
  end

  it("goes in the header and with the scheme it is given, and only there", function()
    h = core.new{ api_key = KEY, auth_header = "api-key", auth_scheme = "" }
    get(h)
    local sent = server:last_request().headers
    assert.equals(redacted(KEY), sent["api-key"])
    assert.is_nil(sent.authorization)
    h:close()
    h = core.new{ api_key = KEY, auth_header = "X-Gateway-Key", auth_scheme = "Token" }
    get(h)
    assert.equals(redacted("Token " .. KEY), server:last_request().headers["x-gateway-key"])
  end)

  it("cannot be set or overridden per request, in any case (the exchange's rule, over the curl transport)", function()
    h = require("openai.finetunes.transport.curl").new{ api_key = KEY, auth_header = "api-key", auth_scheme = "" }
    for _, name in ipairs({ "api-key", "API-Key", "Authorization", "authorization" }) do
      local res, err = h:request{ method = "GET", url = server.base_url .. "/models", headers = { [name] = "x" } }
      assert.is_nil(res)
      assert.equals("invalid_request", err.kind)
      assert.equals("headers must not set " .. name .. ": the transport adds the credential itself", err.message)
    end
    assert.equals(0, #server:requests())
  end)

  it("is not sent before there is one, and set_credential replaces it for the next exchanges only", function()
    h = core.new{}
    local res = get(h)
    assert.equals(401, res.status)
    assert.is_nil(server:last_request().headers.authorization)
    assert.is_true(h:set_credential("tok-1"))
    get(h)
    assert.equals(redacted("Bearer tok-1"), server:last_request().headers.authorization)
    -- an exchange in flight keeps the credential it started with
    local id = assert(h:start{ method = "GET", url = server.base_url .. "/models",
      headers = { ["x-fake-fault"] = "stall;seconds=0.3" } })
    h:poll(0.1) -- sent, and waiting for the answer
    h:set_credential("tok-2")
    local done = h:poll()
    assert.equals(id, done[1].id)
    assert.equals(200, done[1].res.status)
    assert.equals(redacted("Bearer tok-1"), server:last_request().headers.authorization)
    get(h)
    assert.equals(redacted("Bearer tok-2"), server:last_request().headers.authorization)
  end)

  it("set_credential refuses what cannot be one header line, without echoing it", function()
    h = core.new{ api_key = KEY }
    for _, bad in ipairs({ "", KEY .. "\r\nX: y", KEY .. "\0" }) do
      local ok, err = pcall(function() h:set_credential(bad) end)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'set_credential' %(credential must", err)
      assert.is_nil(err:find(KEY, 1, true))
    end
    assert.has_error(function() h:set_credential(42) end)
    h:close()
    local res, err = h:set_credential("tok")
    assert.is_nil(res)
    assert.equals("closed", err.kind)
  end)
end)
