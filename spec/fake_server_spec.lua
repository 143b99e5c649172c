-- The fake OpenAI server's contract, checked over raw HTTP (LuaSocket, and curl for
-- the big streams): HTTP/1.1 handling, every route's happy path and error envelope,
-- paging, the job lifecycle on a fast clock, uploads, faults, proxy mode, streaming.
local socket = require("socket")
local json = require("openai.finetunes.fake.json")
local alive = require("openai.finetunes.fake.util").pid_alive
local fake = require("spec.support.fake_server")

local KEY = "sk-fake-spec"
local TMP = (os.getenv("TMPDIR") or "/tmp") .. "/fake-server-spec-" .. require("openai.finetunes.fake").pid()
local logged = require("openai.finetunes.fake.reqlog").redact_credential

local server

------------------------------------------------------------------------ raw HTTP

local function connect(port)
  local c = assert(socket.connect("127.0.0.1", port or server.port))
  c:settimeout(10)
  c:setoption("tcp-nodelay", true)
  return c
end

-- request text; opts: headers (map), body, json, auth (false: none), chunked (piece size),
-- version, target, close
local function build(method, path, opts)
  opts = opts or {}
  local headers = { Host = "127.0.0.1:" .. server.port }
  if opts.auth ~= false then headers.Authorization = "Bearer " .. KEY end
  local body = opts.body
  if opts.json ~= nil then
    body = json.encode(opts.json)
    headers["Content-Type"] = "application/json"
  end
  if opts.close then headers.Connection = "close" end
  for k, v in pairs(opts.headers or {}) do headers[k] = v end
  if body and not opts.chunked then headers["Content-Length"] = tostring(#body) end
  if body and opts.chunked then headers["Transfer-Encoding"] = "chunked" end
  local lines = { string.format("%s %s HTTP/%s", method, opts.target or path, opts.version or "1.1") }
  local names = {}
  for k in pairs(headers) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do lines[#lines + 1] = k .. ": " .. headers[k] end
  local head = table.concat(lines, "\r\n") .. "\r\n\r\n"
  if body and opts.chunked then
    local pieces = {}
    for i = 1, #body, opts.chunked do
      local piece = body:sub(i, i + opts.chunked - 1)
      pieces[#pieces + 1] = string.format("%x;ext=1\r\n%s\r\n", #piece, piece)
    end
    body = table.concat(pieces) .. "0\r\nX-Trailer: t\r\n\r\n"
  end
  return head, body or ""
end

-- read_response(c) -> {status, headers, body} | nil, err, partial
local function request_text(...)
  local head, body = build(...)
  return head .. body
end

local function read_response(c)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local res = { status = tonumber(line:match("^HTTP/%d%.%d (%d+)")), headers = {}, status_line = line }
  while true do
    local h, herr = c:receive("*l")
    if not h then return nil, herr end
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.*)$")
    res.headers[k:lower()] = v
  end
  if res.status == 100 then return res end
  local len = tonumber(res.headers["content-length"])
  if len then
    local body, berr, partial = c:receive(len)
    if not body then return nil, berr, partial, res end
    res.body = body
  elseif (res.headers["transfer-encoding"] or ""):find("chunked") then
    local parts = {}
    while true do
      local size = tonumber(assert(c:receive("*l")):match("%x+"), 16)
      if size == 0 then assert(c:receive("*l")); break end
      parts[#parts + 1] = assert(c:receive(size))
      assert(c:receive("*l"))
    end
    res.body = table.concat(parts)
  else
    local body, _, partial = c:receive("*a")
    res.body = body or partial
  end
  if (res.headers["content-type"] or ""):find("json") and #res.body < 1024 * 1024 then
    res.json = json.decode(res.body)
  end
  return res
end

local function exchange(c, method, path, opts)
  local head, body = build(method, path, opts)
  assert(c:send(head .. body))
  return read_response(c)
end

-- One request on a fresh connection.
local function http(method, path, opts)
  opts = opts or {}
  opts.close = opts.close ~= false
  local c = connect()
  local res, err, partial, head = exchange(c, method, path, opts)
  c:close()
  return res, err, partial, head
end

local function api(method, path, body, opts)
  opts = opts or {}
  if body ~= nil then opts.json = body end
  return http(method, "/v1" .. path, opts)
end

local function multipart(parts, boundary)
  boundary = boundary or ("spec" .. tostring(math.random(1e9)))
  local out = {}
  for _, p in ipairs(parts) do
    local cd = 'form-data; name="' .. p.name .. '"'
    if p.filename then cd = cd .. '; filename="' .. p.filename .. '"' end
    out[#out + 1] = "--" .. boundary .. "\r\nContent-Disposition: " .. cd .. "\r\n"
    if p.content_type then out[#out + 1] = "Content-Type: " .. p.content_type .. "\r\n" end
    out[#out + 1] = "\r\n" .. p.data .. "\r\n"
  end
  out[#out + 1] = "--" .. boundary .. "--\r\n"
  return table.concat(out), "multipart/form-data; boundary=" .. boundary
end

local function upload(data, filename, purpose, opts)
  opts = opts or {}
  local body, ctype = multipart({
    { name = "purpose", data = purpose or "fine-tune" },
    { name = "file", filename = filename or "train.jsonl", content_type = "application/jsonl", data = data },
  })
  opts.body = body
  opts.headers = opts.headers or {}
  opts.headers["Content-Type"] = ctype
  return http("POST", "/v1/files", opts)
end

local function example(i)
  return json.encode({ messages = {
    { role = "system", content = "You answer arithmetic questions." },
    { role = "user", content = "What is " .. i .. " + " .. i .. "?" },
    { role = "assistant", content = "It is " .. (2 * i) .. "." },
  } })
end

local function training_data(n)
  local lines = {}
  for i = 1, n do lines[i] = example(i) end
  return table.concat(lines, "\n") .. "\n"
end

local function upload_training(n)
  local res = upload(training_data(n or 12))
  assert.equal(200, res.status)
  return res.json.id
end

local function md5(data)
  local path = TMP .. "-md5"
  local f = assert(io.open(path, "wb")); f:write(data); f:close()
  local p = io.popen("md5sum " .. path)
  local out = p:read("*l"); p:close()
  os.remove(path)
  return out:match("^(%x+)")
end

local function base64_decode(s)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  local map = {}
  for i = 1, 64 do map[alphabet:sub(i, i)] = i - 1 end
  s = s:gsub("[^%w+/]", "")
  local out = {}
  for i = 1, #s, 4 do
    local a, b, c, d = map[s:sub(i, i)], map[s:sub(i + 1, i + 1)], map[s:sub(i + 2, i + 2)], map[s:sub(i + 3, i + 3)]
    local v = a * 262144 + b * 4096 + (c or 0) * 64 + (d or 0)
    out[#out + 1] = string.char(math.floor(v / 65536) % 256)
    if c then out[#out + 1] = string.char(math.floor(v / 256) % 256) end
    if d then out[#out + 1] = string.char(v % 256) end
  end
  return table.concat(out)
end

local function vm_kb(pid, field)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return nil end
  local text = f:read("*a"); f:close()
  return tonumber(text:match(field .. ":%s*(%d+)"))
end

local function all_pages(path, limit)
  local items, after, pages = {}, nil, 0
  repeat
    local q = "?limit=" .. limit .. (after and ("&after=" .. after) or "")
    local res = api("GET", path .. q)
    assert.equal(200, res.status)
    pages = pages + 1
    for _, item in ipairs(res.json.data) do items[#items + 1] = item end
    after = res.json.data[#res.json.data] and res.json.data[#res.json.data].id
  until not res.json.has_more
  return items, pages
end

local function create_job(body)
  local res = api("POST", "/fine_tuning/jobs", body)
  assert.equal(200, res.status, res.body)
  return res.json
end

-- Move the clock until the job reaches a final state (or `status`).
local function run_job(id, status, step)
  local job
  for _ = 1, 400 do
    job = api("GET", "/fine_tuning/jobs/" .. id).json
    if job.status == status or (not status and (job.status == "succeeded" or job.status == "failed")) then
      return job
    end
    server:advance(step or 5)
  end
  error("job " .. id .. " never reached " .. tostring(status) .. " (last: " .. tostring(job.status) .. ")")
end

local function expect_error(res, status, code, param)
  assert.equal(status, res.status, res.body)
  assert.is_table(res.json and res.json.error, res.body)
  local e = res.json.error
  assert.is_string(e.message)
  assert.is_string(e.type)
  if code ~= nil then assert.equal(code, e.code) end
  if param ~= nil then assert.equal(param, e.param) end
  -- param and code are always present on the wire, null when unset
  assert.truthy(res.body:find('"param":', 1, true))
  assert.truthy(res.body:find('"code":', 1, true))
  return e
end

------------------------------------------------------------------------------ specs

describe("fake OpenAI server", function()
  lazy_setup(function()
    server = fake.start()
  end)

  before_each(function()
    server:reset()
  end)

  describe("HTTP", function()
    it("answers every request with a request id and OpenAI's headers", function()
      local res = api("GET", "/models")
      assert.equal(200, res.status)
      assert.matches("^req_%x+$", res.headers["x-request-id"])
      assert.equal(36, #res.headers["x-request-id"])
      assert.equal("2020-10-01", res.headers["openai-version"])
      assert.truthy(tonumber(res.headers["openai-processing-ms"]))
      local bad = api("GET", "/nope")
      assert.matches("^req_%x+$", bad.headers["x-request-id"])
      assert.are_not.equal(res.headers["x-request-id"], bad.headers["x-request-id"])
    end)

    it("requires a bearer key and never echoes it", function()
      local res = api("GET", "/models", nil, { auth = false })
      local e = expect_error(res, 401, "invalid_api_key")
      assert.equal("invalid_request_error", e.type)
      res = api("GET", "/models", nil, { auth = false, headers = { Authorization = "Basic abc" } })
      expect_error(res, 401, "invalid_api_key")
    end)

    it("refuses a wrong key when started with --api-key, without echoing it", function()
      local guarded = fake.start({ api_key = "sk-right" })
      local c = connect(guarded.port)
      assert(c:send("GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-wrong-secret-123\r\n"
        .. "Connection: close\r\n\r\n"))
      local res = read_response(c)
      c:close()
      expect_error(res, 401, "invalid_api_key")
      assert.falsy(res.body:find("wrong", 1, true))
      assert.falsy(res.body:find("secret", 1, true))
      c = connect(guarded.port)
      assert(c:send("GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-right\r\n"
        .. "Connection: close\r\n\r\n"))
      assert.equal(200, read_response(c).status)
      c:close()
    end)

    it("answers unknown URLs with 404 unknown_url and wrong methods with 405", function()
      local e = expect_error(api("GET", "/fine_tunes"), 404, "unknown_url")
      assert.matches("Unknown request URL: GET /v1/fine_tunes", e.message, 1, true)
      expect_error(http("GET", "/files"), 404, "unknown_url") -- no /v1 prefix
      local res = api("PUT", "/files")
      expect_error(res, 405)
      assert.matches("GET", res.headers["allow"])
      assert.matches("POST", res.headers["allow"])
      -- an escaped slash stays inside the id
      expect_error(api("GET", "/files/..%2Fmodels"), 404, nil, "id")
    end)

    it("keeps connections alive across requests, and says which one in the log", function()
      local c = connect()
      for _ = 1, 3 do
        local res = exchange(c, "GET", "/v1/models")
        assert.equal(200, res.status)
        assert.equal("keep-alive", res.headers["connection"])
      end
      c:close()
      api("GET", "/models")
      local log = server:requests()
      assert.equal(4, #log)
      assert.equal(log[1].connection, log[2].connection)
      assert.equal(log[1].connection, log[3].connection)
      assert.are_not.equal(log[1].connection, log[4].connection)
    end)

    it("closes keep-alive connections left idle longer than --keepalive-timeout", function()
      local short = fake.start({ keepalive_timeout = 0.5 })
      local c = connect(short.port)
      assert.equal(200, exchange(c, "GET", "/v1/models").status)
      socket.sleep(1.3)
      c:settimeout(1)
      local _, err = c:receive(1)
      assert.equal("closed", err)
      c:close()
      assert.equal(1, short:state().connections_open) -- only the one asking
    end)

    it("closes after an HTTP/1.0 request and after Connection: close", function()
      local c = connect()
      local res = exchange(c, "GET", "/v1/models", { version = "1.0" })
      assert.equal("close", res.headers["connection"])
      local _, err = c:receive(1)
      assert.equal("closed", err)
      c:close()
      c = connect()
      res = exchange(c, "GET", "/v1/models", { close = true })
      assert.equal("close", res.headers["connection"])
      _, err = c:receive(1)
      assert.equal("closed", err)
      c:close()
    end)

    it("serves many connections at once; a stalled one blocks nobody", function()
      local stalled = connect()
      assert(stalled:send(request_text("GET", "/v1/models", { headers = { ["x-fake-fault"] = "stall;5" } })))
      local conns = {}
      for i = 1, 40 do
        conns[i] = connect()
        assert(conns[i]:send(request_text("GET", "/v1/models/gpt-4o-mini")))
      end
      for i = 1, 40 do
        local res = read_response(conns[i])
        assert.equal(200, res.status)
        assert.equal("gpt-4o-mini", res.json.id)
        conns[i]:close()
      end
      -- all were answered while the first connection is still stalled
      stalled:settimeout(0)
      local _, err = stalled:receive(1)
      assert.equal("timeout", err)
      stalled:close()
      assert.is_true(server:state().connections_total >= 41)
    end)

    it("reads chunked request bodies (extensions, trailers)", function()
      local file_id = upload_training(12)
      local res = http("POST", "/v1/fine_tuning/jobs", { json = { model = "gpt-4o-mini", training_file = file_id },
        chunked = 7 })
      assert.equal(200, res.status, res.body)
      local entry = server:last_request()
      assert.equal("chunked", entry.headers["transfer-encoding"])
      assert.equal("gpt-4o-mini", entry.json.model)
      assert.equal(file_id, entry.json.training_file)
    end)

    it("answers Expect: 100-continue before the body is sent", function()
      local c = connect()
      local body = json.encode({ filename = "a.jsonl", purpose = "fine-tune", bytes = 10, mime_type = "text/jsonl" })
      local head = build("POST", "/v1/uploads", { body = body, headers = { Expect = "100-continue",
        ["Content-Type"] = "application/json" } })
      assert(c:send(head))
      local interim = read_response(c)
      assert.equal(100, interim.status)
      assert(c:send(body))
      local res = read_response(c)
      assert.equal(200, res.status, res.body)
      assert.equal("upload", res.json.object)
      c:close()
    end)

    it("rejects malformed request lines with 400", function()
      local c = connect()
      assert(c:send("BROKEN\r\n\r\n"))
      local res = read_response(c)
      assert.equal(400, res.status)
      c:close()
    end)
  end)

  describe("request log", function()
    it("holds credentials only redacted to the scheme and a short suffix", function()
      api("GET", "/models")
      api("GET", "/models", nil, { headers = { Authorization = "Bearer sk-proj-0123456789abcdefWXYZ" } })
      api("GET", "/models", nil, { headers = { Authorization = "Bearer tok-1" } })
      local log = server:requests()
      -- "sk-fake-spec" is 12 characters: a quarter of it is shown
      assert.same({ "Bearer ...pec", "Bearer ...WXYZ", "Bearer ...1" },
        { log[1].headers.authorization, log[2].headers.authorization, log[3].headers.authorization })
      assert.equal(logged("Bearer " .. KEY), log[1].headers.authorization)
      local text = json.encode(log)
      assert.is_nil(text:find(KEY, 1, true))
      assert.is_nil(text:find("0123456789abcdef", 1, true))
    end)

    it("records method, path, raw and decoded query, headers, JSON body and connection", function()
      api("GET", "/files?limit=2&order=asc&metadata%5Bteam%5D=a%20b&k[]=1&k[]=2", nil,
        { headers = { ["X-Custom"] = "Yes" } })
      api("POST", "/uploads", { filename = "t.jsonl", purpose = "fine-tune", bytes = 3, mime_type = "text/jsonl",
        tags = json.array() })
      local log = server:requests()
      assert.equal(2, #log)
      local get = log[1]
      assert.equal("GET", get.method)
      assert.equal("/v1/files", get.path)
      assert.equal("limit=2&order=asc&metadata%5Bteam%5D=a%20b&k[]=1&k[]=2", get.query)
      assert.equal("2", get.params.limit)
      assert.equal("a b", get.params["metadata[team]"])
      assert.same({ "1", "2" }, get.params["k[]"])
      assert.equal("Yes", get.headers["x-custom"])
      assert.equal(logged("Bearer " .. KEY), get.headers["authorization"])
      assert.equal(false, get.proxied)
      assert.equal(200, get.status)
      local post = log[2]
      assert.equal(3, post.json.bytes)
      assert.is_true(json.is_array(post.json.tags)) -- an empty array stays an array
      assert.equal(400, post.status)                -- tags is not a parameter of the API
      assert.equal(1, #server:requests({ method = "POST" }))
      assert.equal(1, #server:requests({ path = "^/v1/uploads" }))
      assert.equal(1, #server:requests({ since = get.seq }))
    end)

    it("records multipart parts with size, md5 and small text values", function()
      local data = training_data(10)
      upload(data, "data.jsonl")
      local e = server:last_request()
      assert.equal(2, #e.parts)
      assert.same({ name = "purpose", size = 9, md5 = md5("fine-tune"), value = "fine-tune" }, e.parts[1])
      local f = e.parts[2]
      assert.equal("file", f.name)
      assert.equal("data.jsonl", f.filename)
      assert.equal("application/jsonl", f.content_type)
      assert.equal(#data, f.size)
      assert.equal(md5(data), f.md5)
      assert.is_nil(f.value)
    end)
  end)

  describe("files", function()
    it("stores an upload and gives back the exact bytes", function()
      -- binary data with CR/LF, NUL and almost-boundaries inside
      local boundary = "XyZbound"
      local data = "line\r\n--" .. boundary:sub(1, 5) .. "\0\255\r\n--" .. boundary .. "-not\r\n" .. training_data(10)
        .. "\r\n-" .. boundary
      local body, ctype = multipart({
        { name = "purpose", data = "fine-tune" },
        { name = "file", filename = "tricky.jsonl", data = data },
      }, boundary)
      -- sent in 7-byte pieces so the boundary is split across reads
      local c = connect()
      assert(c:send(request_text("POST", "/v1/files", { headers = { ["Content-Type"] = ctype,
        ["Content-Length"] = tostring(#body) } })))
      for i = 1, #body, 7 do
        assert(c:send(body:sub(i, i + 6)))
        if i % 70 == 1 then socket.sleep(0.001) end
      end
      local res = read_response(c)
      c:close()
      assert.equal(200, res.status, res.body)
      local f = res.json
      assert.matches("^file%-%w+$", f.id)
      assert.same({ object = "file", bytes = #data, filename = "tricky.jsonl", purpose = "fine-tune",
        status = "processed" }, { object = f.object, bytes = f.bytes, filename = f.filename, purpose = f.purpose,
        status = f.status })
      assert.is_number(f.created_at)
      local got = api("GET", "/files/" .. f.id .. "/content")
      assert.equal(200, got.status)
      assert.equal("application/octet-stream", got.headers["content-type"])
      assert.equal(data, got.body)
      assert.same(f, api("GET", "/files/" .. f.id).json)
    end)

    it("lists newest first and pages with limit, after, order, purpose", function()
      local ids = {}
      for i = 1, 5 do
        local purpose = i % 2 == 0 and "batch" or "fine-tune"
        local res = upload(training_data(10), "f" .. i .. (purpose == "batch" and ".jsonl" or ".jsonl"), purpose)
        ids[i] = res.json.id
      end
      local page = api("GET", "/files").json
      assert.equal("list", page.object)
      assert.equal(5, #page.data)
      assert.equal(ids[5], page.data[1].id)
      assert.equal(ids[1], page.data[5].id)
      assert.is_false(page.has_more)
      page = api("GET", "/files?limit=2").json
      assert.same({ ids[5], ids[4] }, { page.data[1].id, page.data[2].id })
      assert.is_true(page.has_more)
      assert.equal(ids[5], page.first_id)
      assert.equal(ids[4], page.last_id)
      page = api("GET", "/files?limit=2&after=" .. ids[4]).json
      assert.same({ ids[3], ids[2] }, { page.data[1].id, page.data[2].id })
      page = api("GET", "/files?order=asc&limit=2").json
      assert.same({ ids[1], ids[2] }, { page.data[1].id, page.data[2].id })
      page = api("GET", "/files?purpose=batch").json
      assert.same({ ids[4], ids[2] }, { page.data[1].id, page.data[2].id })
      local all, pages = all_pages("/files", 2)
      assert.equal(5, #all)
      assert.equal(3, pages)
      -- a cursor keeps working after its file was deleted
      assert.equal(200, api("DELETE", "/files/" .. ids[4]).status)
      page = api("GET", "/files?limit=1&after=" .. ids[4]).json
      assert.equal(ids[3], page.data[1].id)
      -- empty list
      server:reset()
      page = api("GET", "/files").json
      assert.same({}, page.data)
      assert.is_true(json.is_array(page.data))
      assert.is_nil(page.first_id)
    end)

    it("deletes, then answers 404 in OpenAI's envelope", function()
      local id = upload_training(10)
      local res = api("DELETE", "/files/" .. id)
      assert.same({ id = id, object = "file", deleted = true }, res.json)
      local e = expect_error(api("GET", "/files/" .. id), 404, nil, "id")
      assert.equal("No such File object: " .. id, e.message)
      assert.equal("invalid_request_error", e.type)
      expect_error(api("GET", "/files/" .. id .. "/content"), 404)
      expect_error(api("DELETE", "/files/" .. id), 404)
    end)

    it("validates purpose, expiry, file name, limit and order", function()
      local e = expect_error(upload("x", "a.jsonl", "training"), 400, "invalid_value", "purpose")
      assert.truthy(e.message:find("'fine-tune'", 1, true))
      expect_error(upload("x", "a.csv", "fine-tune"), 400)
      local body, ctype = multipart({ { name = "file", filename = "a.jsonl", data = "x" } })
      expect_error(http("POST", "/v1/files", { body = body, headers = { ["Content-Type"] = ctype } }), 400,
        "missing_required_parameter", "purpose")
      body, ctype = multipart({ { name = "purpose", data = "fine-tune" } })
      expect_error(http("POST", "/v1/files", { body = body, headers = { ["Content-Type"] = ctype } }), 400,
        "missing_required_parameter", "file")
      body, ctype = multipart({ { name = "purpose", data = "batch" }, { name = "expires_after[anchor]", data =
        "created_at" }, { name = "expires_after[seconds]", data = "60" },
        { name = "file", filename = "b.jsonl", data = "{}" } })
      expect_error(http("POST", "/v1/files", { body = body, headers = { ["Content-Type"] = ctype } }), 400,
        "integer_below_min_value")
      body, ctype = multipart({ { name = "purpose", data = "batch" }, { name = "expires_after[anchor]", data =
        "created_at" }, { name = "expires_after[seconds]", data = "7200" },
        { name = "file", filename = "b.jsonl", data = "{}" } })
      local ok = http("POST", "/v1/files", { body = body, headers = { ["Content-Type"] = ctype } })
      assert.equal(200, ok.status, ok.body)
      assert.equal(ok.json.created_at + 7200, ok.json.expires_at)
      expect_error(api("POST", "/files", { purpose = "fine-tune" }), 415)
      expect_error(api("GET", "/files?limit=0"), 400, "integer_below_min_value", "limit")
      expect_error(api("GET", "/files?limit=10001"), 400, "integer_above_max_value", "limit")
      expect_error(api("GET", "/files?limit=ten"), 400, "invalid_type", "limit")
      expect_error(api("GET", "/files?order=up"), 400, "invalid_value", "order")
    end)

    it("lets a file stay 'uploaded' for a while when asked (next_file)", function()
      server:next_file({ status = "uploaded", ready_after = 30, final_status = "error",
        final_status_details = "bad encoding" })
      local id = upload_training(10)
      assert.equal("uploaded", api("GET", "/files/" .. id).json.status)
      local e = expect_error(api("POST", "/fine_tuning/jobs", { model = "gpt-4o-mini", training_file = id }), 400,
        "file_not_ready", "training_file")
      assert.matches("still being processed", e.message)
      server:advance(31)
      local f = api("GET", "/files/" .. id).json
      assert.equal("error", f.status)
      assert.equal("bad encoding", f.status_details)
    end)
  end)

  describe("uploads", function()
    local function new_upload(bytes, extra)
      local body = { filename = "big.jsonl", purpose = "fine-tune", bytes = bytes, mime_type = "text/jsonl" }
      for k, v in pairs(extra or {}) do body[k] = v end
      local res = api("POST", "/uploads", body)
      assert.equal(200, res.status, res.body)
      return res.json
    end

    local function part_request(upload_id, data)
      local body, ctype = multipart({ { name = "data", filename = "blob", content_type = "application/octet-stream",
        data = data } })
      local head, text = build("POST", "/v1/uploads/" .. upload_id .. "/parts", { body = body,
        headers = { ["Content-Type"] = ctype } })
      return head .. text
    end

    it("takes parts in any order, concurrently, and completes with the md5 of the whole", function()
      local chunks = { string.rep("a", 70000) .. "\n", string.rep("b", 50001) .. "\r\n", string.rep("c", 3) }
      local whole = table.concat(chunks)
      local u = new_upload(#whole)
      assert.equal("pending", u.status)
      assert.equal("upload", u.object)
      assert.equal(u.created_at + 3600, u.expires_at)
      -- three connections; bodies sent interleaved, last part first
      local conns, texts = {}, {}
      for i = 3, 1, -1 do
        conns[i] = connect()
        texts[i] = part_request(u.id, chunks[i])
      end
      local pos = { 1, 1, 1 }
      repeat
        local more = false
        for i = 3, 1, -1 do
          if pos[i] <= #texts[i] then
            assert(conns[i]:send(texts[i]:sub(pos[i], pos[i] + 16383)))
            pos[i] = pos[i] + 16384
            more = true
          end
        end
      until not more
      local part_ids = {}
      for i = 3, 1, -1 do
        local res = read_response(conns[i])
        assert.equal(200, res.status, res.body)
        assert.equal("upload.part", res.json.object)
        assert.equal(u.id, res.json.upload_id)
        assert.matches("^part_", res.json.id)
        part_ids[i] = res.json.id
        conns[i]:close()
      end
      local e = expect_error(api("POST", "/uploads/" .. u.id .. "/complete", { part_ids = part_ids,
        md5 = "00000000000000000000000000000000" }), 400, "md5_mismatch", "md5")
      assert.matches(md5(whole), e.message)
      local done = api("POST", "/uploads/" .. u.id .. "/complete", { part_ids = part_ids, md5 = md5(whole) })
      assert.equal(200, done.status, done.body)
      assert.equal("completed", done.json.status)
      local f = done.json.file
      assert.equal("file", f.object)
      assert.equal(#whole, f.bytes)
      assert.equal("big.jsonl", f.filename)
      assert.equal(whole, api("GET", "/files/" .. f.id .. "/content").body)
      -- nothing more can happen to a completed upload
      local c = connect()
      assert(c:send(part_request(u.id, "x")))
      expect_error(read_response(c), 400, "invalid_upload_status")
      c:close()
      expect_error(api("POST", "/uploads/" .. u.id .. "/cancel"), 400, "invalid_upload_status")
    end)

    it("checks the byte count, the part ids, and cancels", function()
      local u = new_upload(10)
      local c = connect()
      assert(c:send(part_request(u.id, "12345")))
      local p = read_response(c).json
      c:close()
      expect_error(api("POST", "/uploads/" .. u.id .. "/complete", { part_ids = { p.id } }), 400, "bytes_mismatch")
      expect_error(api("POST", "/uploads/" .. u.id .. "/complete", { part_ids = { "part_nope" } }), 400,
        "invalid_part_id")
      expect_error(api("POST", "/uploads/" .. u.id .. "/complete", {}), 400, "missing_required_parameter",
        "part_ids")
      local cancelled = api("POST", "/uploads/" .. u.id .. "/cancel")
      assert.equal("cancelled", cancelled.json.status)
      expect_error(api("POST", "/uploads/" .. u.id .. "/complete", { part_ids = { p.id } }), 400,
        "invalid_upload_status")
      expect_error(api("POST", "/uploads/upload_nope/cancel"), 404)
    end)

    it("validates creation like the API", function()
      expect_error(api("POST", "/uploads", { filename = "a.jsonl", purpose = "fine-tune", mime_type = "text/jsonl" }),
        400, "missing_required_parameter", "bytes")
      expect_error(api("POST", "/uploads", { filename = "a.jsonl", purpose = "user_data", bytes = 1,
        mime_type = "text/jsonl" }), 400, "invalid_value", "purpose")
      expect_error(api("POST", "/uploads", { filename = "a.jsonl", purpose = "fine-tune", bytes = "1",
        mime_type = "text/jsonl" }), 400, "invalid_type", "bytes")
      expect_error(api("POST", "/uploads", { filename = "a.jsonl", purpose = "fine-tune", bytes = 9e9,
        mime_type = "text/jsonl" }), 400, "integer_above_max_value", "bytes")
      expect_error(api("POST", "/uploads", { filename = "a.jsonl", purpose = "fine-tune", bytes = 1,
        mime_type = "image/png" }), 400, "invalid_value", "mime_type")
      expect_error(api("POST", "/uploads", { filename = "a.jsonl", purpose = "fine-tune", bytes = 1,
        mime_type = "text/jsonl", extra = 1 }), 400, "unknown_parameter", "extra")
      local e = expect_error(http("POST", "/v1/uploads", { body = "{oops", headers = {
        ["Content-Type"] = "application/json" } }), 400)
      assert.matches("could not parse the JSON body", e.message)
    end)

    it("expires after an hour", function()
      local u = new_upload(1)
      server:advance(3601)
      local c = connect()
      assert(c:send(part_request(u.id, "x")))
      local res = read_response(c)
      c:close()
      local e = expect_error(res, 400, "invalid_upload_status")
      assert.matches("expired", e.message)
    end)
  end)

  describe("fine-tuning jobs", function()
    it("runs validating_files -> queued -> running -> succeeded with events, checkpoints, results, model", function()
      local train = upload_training(12)
      local job = create_job({ model = "gpt-4o-mini", training_file = train, suffix = "spec-run", seed = 42,
        metadata = { team = "a" } })
      assert.matches("^ftjob%-%w+$", job.id)
      assert.equal("fine_tuning.job", job.object)
      assert.equal("validating_files", job.status)
      assert.equal("gpt-4o-mini-2024-07-18", job.model)
      assert.equal(42, job.seed)
      assert.same({ team = "a" }, job.metadata)
      assert.equal("auto", job.hyperparameters.n_epochs)
      assert.is_nil(job.fine_tuned_model)
      assert.same({}, job.result_files)

      -- watch it move one phase at a time
      local seen = {}
      local last
      for _ = 1, 200 do
        last = api("GET", "/fine_tuning/jobs/" .. job.id).json
        seen[last.status] = true
        if last.status == "succeeded" then break end
        server:advance(0.5)
      end
      assert.is_true(seen.validating_files and seen.queued and seen.running and seen.succeeded)
      assert.matches("^ft:gpt%-4o%-mini%-2024%-07%-18:personal:spec%-run:%w%w%w%w%w%w%w%w$", last.fine_tuned_model)
      assert.is_number(last.finished_at)
      assert.is_true(last.trained_tokens > 0)
      local hp = last.hyperparameters
      assert.same({ batch_size = 1, n_epochs = 8, learning_rate_multiplier = 2 }, hp) -- 12 examples -> 100/12
      local total = 12 * 8

      local events = all_pages("/fine_tuning/jobs/" .. job.id .. "/events", 7)
      local messages = {}
      for i = #events, 1, -1 do messages[#messages + 1] = events[i].message end -- oldest first
      assert.equal("Created fine-tuning job: " .. job.id, messages[1])
      assert.equal("Validating training file: " .. train, messages[2])
      assert.equal("Files validated, moving job to queued state", messages[3])
      assert.equal("Fine-tuning job started", messages[4])
      assert.matches("^Step 1/" .. total .. ": training loss=%d+%.%d%d$", messages[5])
      assert.equal("New fine-tuned model created: " .. last.fine_tuned_model, messages[#messages - 1])
      assert.equal("The job has successfully completed", messages[#messages])
      local metrics, checkpoints_msgs = 0, 0
      for _, ev in ipairs(events) do
        assert.equal("fine_tuning.job.event", ev.object)
        assert.matches("^ftevent%-", ev.id)
        if ev.type == "metrics" then
          metrics = metrics + 1
          assert.is_number(ev.data.step)
          assert.equal(total, ev.data.total_steps)
          assert.is_number(ev.data.train_loss)
          assert.is_number(ev.data.train_mean_token_accuracy)
        else
          assert.equal("message", ev.type)
        end
        if ev.message:find("^Checkpoint created at step") then checkpoints_msgs = checkpoints_msgs + 1 end
      end
      assert.equal(total, metrics)
      assert.equal(3, checkpoints_msgs)
      -- newest first, by time
      for i = 2, #events do assert.is_true(events[i - 1].created_at >= events[i].created_at) end

      local ck = api("GET", "/fine_tuning/jobs/" .. job.id .. "/checkpoints").json
      assert.equal(3, #ck.data)
      assert.same({ total, total - 12, total - 24 }, { ck.data[1].step_number, ck.data[2].step_number,
        ck.data[3].step_number })
      for _, c in ipairs(ck.data) do
        assert.matches("^ftckpt_%w+$", c.id)
        assert.equal("fine_tuning.job.checkpoint", c.object)
        assert.equal(job.id, c.fine_tuning_job_id)
        assert.equal(last.fine_tuned_model .. ":ckpt-step-" .. c.step_number, c.fine_tuned_model_checkpoint)
        assert.equal(c.step_number, c.metrics.step)
        assert.is_number(c.metrics.train_loss)
      end
      assert.equal(ck.data[1].id, ck.first_id)
      assert.equal(ck.data[3].id, ck.last_id)

      assert.equal(1, #last.result_files)
      local rf = api("GET", "/files/" .. last.result_files[1]).json
      assert.equal("fine-tune-results", rf.purpose)
      local raw = api("GET", "/files/" .. rf.id .. "/content").body
      assert.falsy(raw:find("^step,")) -- served base64-encoded, like current jobs
      local csv = base64_decode(raw)
      local rows = {}
      for line in csv:gmatch("[^\n]+") do rows[#rows + 1] = line end
      assert.equal("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy", rows[1])
      assert.equal(total + 1, #rows)
      assert.matches("^1,[%d.e-]+,[%d.e-]+,,$", rows[2])

      local model = api("GET", "/models/" .. last.fine_tuned_model).json
      assert.equal("model", model.object)
      assert.matches("^org%-", model.owned_by)
      local listed = false
      for _, m in ipairs(api("GET", "/models").json.data) do
        if m.id == last.fine_tuned_model then listed = true end
      end
      assert.is_true(listed)
    end)

    it("reports validation metrics when a validation file is given", function()
      local train, valid = upload_training(20), upload_training(10)
      local job = create_job({ model = "gpt-4o-mini-2024-07-18", training_file = train, validation_file = valid,
        method = { type = "supervised", supervised = { hyperparameters = { n_epochs = 2, batch_size = 2 } } } })
      job = run_job(job.id)
      assert.equal("succeeded", job.status)
      assert.same({ n_epochs = 2, batch_size = 2, learning_rate_multiplier = 2 }, job.method.supervised.hyperparameters)
      local events = all_pages("/fine_tuning/jobs/" .. job.id .. "/events", 100)
      local valid_msgs, full = 0, 0
      for _, ev in ipairs(events) do
        if ev.message:find("validation loss=") then valid_msgs = valid_msgs + 1 end
        if ev.message:find("full validation loss=") then
          full = full + 1
          assert.is_number(ev.data.full_valid_loss)
        end
      end
      assert.is_true(valid_msgs >= 2)
      assert.equal(2, full) -- one per epoch
      assert.truthy(events[#events].message) -- created
      local validating = events[#events - 1].message
      assert.equal("Validating training file: " .. train .. " and validation file: " .. valid, validating)
    end)

    it("fails a job whose training file is not valid JSONL, like the API", function()
      local lines = {}
      for i = 1, 12 do lines[i] = example(i) end
      lines[3] = "this is not json"
      local res = upload(table.concat(lines, "\n"))
      local job = run_job(create_job({ model = "gpt-4o-mini", training_file = res.json.id }).id)
      assert.equal("failed", job.status)
      assert.equal("invalid_training_file", job.error.code)
      assert.equal("training_file", job.error.param)
      assert.matches("Line 3", job.error.message)
      assert.is_nil(job.fine_tuned_model)
      local events = api("GET", "/fine_tuning/jobs/" .. job.id .. "/events").json.data
      assert.equal("error", events[1].level)

      lines[3] = json.encode({ messages = { { role = "user", content = "no answer" } } })
      job = run_job(create_job({ model = "gpt-4o-mini", training_file = upload(table.concat(lines, "\n")).json.id }).id)
      assert.equal("invalid_training_file", job.error.code)
      assert.matches("no assistant message", job.error.message)

      job = run_job(create_job({ model = "gpt-4o-mini", training_file = upload_training(3) }).id)
      assert.equal("failed", job.status)
      assert.equal("invalid_n_examples", job.error.code)
      assert.matches("Training file has 3 example%(s%), but must have at least 10 examples", job.error.message)
    end)

    it("checks DPO files in their own format", function()
      local dpo = {}
      for i = 1, 10 do
        dpo[i] = json.encode({ input = { messages = { { role = "user", content = "hi " .. i } } },
          preferred_output = { { role = "assistant", content = "Hello!" } },
          non_preferred_output = { { role = "assistant", content = "hi" } } })
      end
      local id = upload(table.concat(dpo, "\n")).json.id
      local job = run_job(create_job({ model = "gpt-4.1-mini-2025-04-14", training_file = id,
        method = { type = "dpo", dpo = { hyperparameters = { beta = 0.2 } } } }).id)
      assert.equal("succeeded", job.status, job.error and job.error.message)
      assert.equal(0.2, job.method.dpo.hyperparameters.beta)
      -- the same file read as supervised data fails
      job = run_job(create_job({ model = "gpt-4o-mini", training_file = id }).id)
      assert.equal("invalid_training_file", job.error.code)
    end)

    it("lets a spec choose the outcome (metadata fake_outcome, next_job)", function()
      local train = upload_training(10)
      local job = run_job(create_job({ model = "gpt-4o-mini", training_file = train,
        metadata = { fake_outcome = "failed" } }).id)
      assert.equal("failed", job.status)
      assert.equal("server_error", job.error.code)
      server:next_job({ outcome = "failed", steps = 10, fail_at_step = 3, error = { code = "custom_code",
        message = "boom" } })
      job = run_job(create_job({ model = "gpt-4o-mini", training_file = train }).id)
      assert.equal("custom_code", job.error.code)
      assert.equal("boom", job.error.message)
      local events = all_pages("/fine_tuning/jobs/" .. job.id .. "/events", 100)
      assert.equal("error", events[1].level)
      assert.matches("^Step 3/10", events[2].message)
      server:next_job({ steps = 4 })
      job = run_job(create_job({ model = "gpt-4o-mini", training_file = train }).id)
      assert.equal("succeeded", job.status)
      assert.equal(3, #api("GET", "/fine_tuning/jobs/" .. job.id .. "/checkpoints").json.data)
      expect_error(api("POST", "/fine_tuning/jobs", { model = "gpt-4o-mini", training_file = train,
        metadata = { fake_outcome = "exploded" } }), 400, "invalid_value", "metadata")
    end)

    it("cancels, pauses and resumes; a finished job cannot be cancelled", function()
      local train = upload_training(10)
      server:next_job({ steps = 40, step_seconds = 1 })
      local job = create_job({ model = "gpt-4o-mini", training_file = train })
      server:advance(12.5) -- 1 s validating, 1 s queued, then ~10 steps
      local running = api("GET", "/fine_tuning/jobs/" .. job.id).json
      assert.equal("running", running.status)
      assert.is_number(running.estimated_finish)
      local paused = api("POST", "/fine_tuning/jobs/" .. job.id .. "/pause").json
      assert.equal("paused", paused.status)
      local ck = api("GET", "/fine_tuning/jobs/" .. job.id .. "/checkpoints").json.data
      assert.equal(1, #ck) -- pausing keeps a checkpoint
      local step = ck[1].step_number
      assert.is_true(step >= 9 and step <= 11)
      server:advance(500)
      assert.equal("paused", api("GET", "/fine_tuning/jobs/" .. job.id).json.status)
      expect_error(api("POST", "/fine_tuning/jobs/" .. job.id .. "/pause"), 400, "invalid_job_status")
      local resumed = api("POST", "/fine_tuning/jobs/" .. job.id .. "/resume").json
      assert.equal("queued", resumed.status)
      expect_error(api("POST", "/fine_tuning/jobs/" .. job.id .. "/resume"), 400, "invalid_job_status")
      local done = run_job(job.id, "succeeded")
      local events = all_pages("/fine_tuning/jobs/" .. job.id .. "/events", 100)
      local first_after
      for i = #events, 1, -1 do
        local s = tonumber(events[i].message:match("^Step (%d+)/"))
        if s and s > step then first_after = first_after or s end
      end
      assert.equal(step + 1, first_after) -- resumed where it stopped
      local e = expect_error(api("POST", "/fine_tuning/jobs/" .. done.id .. "/cancel"), 400, "invalid_job_status")
      assert.matches("succeeded", e.message)

      local other = create_job({ model = "gpt-4o-mini", training_file = train })
      local cancelled = api("POST", "/fine_tuning/jobs/" .. other.id .. "/cancel").json
      assert.equal("cancelled", cancelled.status)
      server:advance(100)
      assert.equal("cancelled", api("GET", "/fine_tuning/jobs/" .. other.id).json.status)
      expect_error(api("POST", "/fine_tuning/jobs/" .. other.id .. "/cancel"), 400)
      expect_error(api("POST", "/fine_tuning/jobs/" .. other.id .. "/pause"), 400)
      expect_error(api("POST", "/fine_tuning/jobs/ftjob-nope/cancel"), 404)
    end)

    it("lists jobs newest first with limit, after and metadata filters", function()
      local train = upload_training(10)
      local ids = {}
      for i = 1, 5 do
        ids[i] = create_job({ model = "gpt-4o-mini", training_file = train,
          metadata = i <= 3 and { team = i % 2 == 0 and "even" or "odd" } or nil }).id
      end
      local page = api("GET", "/fine_tuning/jobs").json
      assert.equal(5, #page.data)
      assert.equal(ids[5], page.data[1].id)
      assert.is_false(page.has_more)
      assert.is_nil(page.first_id) -- job lists carry no first/last ids
      page = api("GET", "/fine_tuning/jobs?limit=2").json
      assert.is_true(page.has_more)
      page = api("GET", "/fine_tuning/jobs?limit=2&after=" .. page.data[2].id).json
      assert.same({ ids[3], ids[2] }, { page.data[1].id, page.data[2].id })
      page = api("GET", "/fine_tuning/jobs?metadata%5Bteam%5D=odd").json
      assert.same({ ids[3], ids[1] }, { page.data[1].id, page.data[2].id })
      page = api("GET", "/fine_tuning/jobs?metadata=null").json
      assert.same({ ids[5], ids[4] }, { page.data[1].id, page.data[2].id })
      expect_error(api("GET", "/fine_tuning/jobs?limit=101"), 400, "integer_above_max_value", "limit")
      local ev = api("GET", "/fine_tuning/jobs/" .. ids[1] .. "/events?limit=1").json
      assert.equal(1, #ev.data)
      assert.is_true(ev.has_more)
      expect_error(api("GET", "/fine_tuning/jobs/ftjob-nope"), 404, nil, "fine_tuning_job_id")
      expect_error(api("GET", "/fine_tuning/jobs/ftjob-nope/events"), 404)
      expect_error(api("GET", "/fine_tuning/jobs/ftjob-nope/checkpoints"), 404)
    end)

    it("validates job creation like the API", function()
      local train = upload_training(10)
      local function bad(body, code, param)
        return expect_error(api("POST", "/fine_tuning/jobs", body), 400, code, param)
      end
      bad({ training_file = train }, "missing_required_parameter", "model")
      bad({ model = "gpt-4o-mini" }, "missing_required_parameter", "training_file")
      bad({ model = "gpt-9-ultra", training_file = train }, "model_not_available", "model")
      bad({ model = "gpt-4o-mini", training_file = "file-nope" }, "invalid_file_id", "training_file")
      bad({ model = 4, training_file = train }, "invalid_type", "model")
      bad({ model = "gpt-4o-mini", training_file = train, epochs = 3 }, "unknown_parameter", "epochs")
      bad({ model = "gpt-4o-mini", training_file = train, suffix = string.rep("s", 65) }, "string_above_max_length",
        "suffix")
      bad({ model = "gpt-4o-mini", training_file = train, seed = -1 }, "integer_below_min_value", "seed")
      bad({ model = "gpt-4o-mini", training_file = train, hyperparameters = { n_epochs = 51 } },
        "integer_above_max_value", "hyperparameters.n_epochs")
      bad({ model = "gpt-4o-mini", training_file = train, hyperparameters = { batch_size = "big" } },
        "invalid_type", "hyperparameters.batch_size")
      bad({ model = "gpt-4o-mini", training_file = train, method = { type = "rl" } }, "invalid_value", "method.type")
      bad({ model = "gpt-4o-mini", training_file = train, method = { type = "supervised" },
        hyperparameters = { n_epochs = 2 } }, "invalid_value", "hyperparameters")
      bad({ model = "gpt-3.5-turbo", training_file = train, method = { type = "dpo" } }, "model_not_available")
      bad({ model = "o4-mini", training_file = train, validation_file = train, method = { type = "reinforcement" } },
        "missing_required_parameter", "method.reinforcement.grader")
      bad({ model = "gpt-4o-mini", training_file = train, integrations = { { type = "wandb", wandb = {} } } },
        "missing_required_parameter", "integrations[0].wandb.project")
      bad({ model = "gpt-4o-mini", training_file = train, metadata = { n = 1 } }, "invalid_type", "metadata.n")
      local purpose = upload(training_data(10), "a.jsonl", "batch").json.id
      bad({ model = "gpt-4o-mini", training_file = purpose }, "invalid_file_purpose", "training_file")
      local e = expect_error(http("POST", "/v1/fine_tuning/jobs", { body = "[1,2]",
        headers = { ["Content-Type"] = "application/json" } }), 400, "invalid_type")
      assert.matches("expected an object", e.message)
      assert.equal(0, #api("GET", "/fine_tuning/jobs").json.data)
    end)

    it("accepts a reinforcement job with a grader, and continued fine-tuning of a fine-tuned model", function()
      local rft = {}
      for i = 1, 10 do rft[i] = json.encode({ messages = { { role = "user", content = "Capital " .. i } },
        reference_answer = "lima" }) end
      local id = upload(table.concat(rft, "\n")).json.id
      local job = run_job(create_job({ model = "o4-mini", training_file = id, validation_file = id,
        method = { type = "reinforcement", reinforcement = { grader = { type = "string_check", name = "exact",
          input = "{{ sample.output_text }}", reference = "{{ item.reference_answer }}", operation = "eq" } } } }).id)
      assert.equal("succeeded", job.status, job.error and job.error.message)
      assert.is_nil(job.hyperparameters)
      assert.equal("medium", job.method.reinforcement.hyperparameters.reasoning_effort)
      local base = run_job(create_job({ model = "gpt-4o-mini", training_file = upload_training(10) }).id)
      local cont = run_job(create_job({ model = base.fine_tuned_model, training_file = upload_training(10),
        suffix = "v2" }).id)
      assert.equal("succeeded", cont.status)
      assert.matches("^ft:gpt%-4o%-mini%-2024%-07%-18:personal:v2:", cont.fine_tuned_model)
    end)
  end)

  describe("checkpoint permissions", function()
    local ckpt
    before_each(function()
      local job = run_job(create_job({ model = "gpt-4o-mini", training_file = upload_training(10) }).id)
      ckpt = api("GET", "/fine_tuning/jobs/" .. job.id .. "/checkpoints").json.data[2].fine_tuned_model_checkpoint
    end)

    it("creates, lists (both orders, paged by last_id, filtered) and deletes", function()
      local base = "/fine_tuning/checkpoints/" .. ckpt .. "/permissions"
      local created = api("POST", base, { project_ids = { "proj_a", "proj_b", "proj_c" } }).json
      assert.equal("list", created.object)
      assert.equal(3, #created.data)
      assert.is_false(created.has_more)
      for _, p in ipairs(created.data) do
        assert.matches("^cp_%w+$", p.id)
        assert.equal("checkpoint.permission", p.object)
        assert.is_number(p.created_at)
      end
      local page = api("GET", base .. "?limit=2").json
      assert.same({ "proj_c", "proj_b" }, { page.data[1].project_id, page.data[2].project_id })
      assert.is_true(page.has_more)
      assert.equal(page.data[2].id, page.last_id)
      local rest = api("GET", base .. "?limit=2&after=" .. page.last_id).json
      assert.same({ "proj_a" }, { rest.data[1].project_id })
      assert.is_false(rest.has_more)
      page = api("GET", base .. "?order=ascending").json
      assert.equal("proj_a", page.data[1].project_id)
      page = api("GET", base .. "?project_id=proj_b").json
      assert.equal(1, #page.data)
      expect_error(api("GET", base .. "?order=asc"), 400, "invalid_value", "order")
      local del = api("DELETE", base .. "/" .. page.data[1].id).json
      assert.same({ id = page.data[1].id, object = "checkpoint.permission", deleted = true }, del)
      expect_error(api("DELETE", base .. "/" .. page.data[1].id), 404)
      assert.equal(2, #api("GET", base).json.data)
      expect_error(api("POST", base, { project_ids = {} }), 400, nil, "project_ids")
      expect_error(api("POST", base, {}), 400, "missing_required_parameter", "project_ids")
      expect_error(api("GET", "/fine_tuning/checkpoints/ft:nope:x:y:z:ckpt-step-1/permissions"), 404)
    end)
  end)

  describe("graders", function()
    local function run(grader, sample, item)
      return api("POST", "/fine_tuning/alpha/graders/run", { grader = grader, model_sample = sample, item = item })
    end

    it("computes a real reward for string_check and text_similarity", function()
      local g = { type = "string_check", name = "exact", input = "{{ sample.output_text }}",
        reference = "{{ item.answer }}", operation = "eq" }
      local res = run(g, "Lima", { answer = "Lima" })
      assert.equal(200, res.status, res.body)
      assert.equal(1, res.json.reward)
      assert.equal("exact", res.json.metadata.name)
      assert.equal("string_check", res.json.metadata.type)
      assert.is_false(res.json.metadata.errors.invalid_variable_error)
      assert.equal(0, run(g, "lima", { answer = "Lima" }).json.reward)
      g.operation = "ilike"
      assert.equal(1, run(g, "It is LIMA, Peru", { answer = "lima" }).json.reward)
      local missing = run(g, "x", {}).json
      assert.is_true(missing.metadata.errors.invalid_variable_error)
      local sim = run({ type = "text_similarity", name = "fz", input = "{{ sample.output_text }}",
        reference = "hello world", evaluation_metric = "fuzzy_match" }, "hello word").json.reward
      assert.is_true(sim > 0.9 and sim < 1)
      local multi = run({ type = "multi", name = "m", calculate_output = "0.25 * a + 0.75 * b",
        graders = {
          a = { type = "string_check", name = "a", input = "{{ sample.output_text }}", reference = "x",
            operation = "eq" },
          b = { type = "string_check", name = "b", input = "{{ sample.output_text }}", reference = "y",
            operation = "eq" },
        } }, "y").json
      assert.equal(0.75, multi.reward)
      assert.same({ a = 0, b = 1 }, multi.sub_rewards)
      local model = run({ type = "score_model", name = "judge", model = "gpt-4o-mini", range = { 0, 10 },
        input = { { role = "user", content = "Grade {{ sample.output_text }}" } } }, "lima",
        { reference_answer = "lima" })
      assert.equal(10, model.json.reward)
      assert.equal("gpt-4o-mini", model.json.metadata.sampled_model_name)
    end)

    it("validates graders: echo when fine, 400 naming the field otherwise", function()
      local g = { type = "string_check", name = "exact", input = "a", reference = "b", operation = "eq" }
      local res = api("POST", "/fine_tuning/alpha/graders/validate", { grader = g })
      assert.equal(200, res.status)
      assert.same({ grader = g }, res.json)
      g.operation = "same"
      expect_error(api("POST", "/fine_tuning/alpha/graders/validate", { grader = g }), 400, "invalid_value",
        "grader.operation")
      expect_error(api("POST", "/fine_tuning/alpha/graders/validate", {}), 400, "missing_required_parameter",
        "grader")
      expect_error(api("POST", "/fine_tuning/alpha/graders/validate", { grader = { type = "python", name = "p",
        source = "print(1)" } }), 400, nil, "grader.source")
      expect_error(api("POST", "/fine_tuning/alpha/graders/validate", { grader = { type = "multi", name = "m",
        calculate_output = "a + q", graders = { a = { type = "string_check", name = "a", input = "x", reference = "y",
          operation = "eq" } } } }), 400, nil, "grader.calculate_output")
      expect_error(api("POST", "/fine_tuning/alpha/graders/run", { grader = { type = "string_check", name = "a",
        input = "x", reference = "y", operation = "eq" } }), 400, "missing_required_parameter", "model_sample")
    end)
  end)

  describe("models", function()
    it("lists base models, refuses to delete them, deletes fine-tuned ones", function()
      local list = api("GET", "/models").json
      assert.equal("list", list.object)
      assert.is_nil(list.has_more)
      assert.is_true(#list.data >= 5)
      local m = api("GET", "/models/gpt-4o-mini-2024-07-18").json
      assert.same({ id = "gpt-4o-mini-2024-07-18", object = "model", owned_by = "system", created = m.created }, m)
      expect_error(api("DELETE", "/models/gpt-4o-mini"), 403)
      expect_error(api("GET", "/models/gpt-nope"), 404, "model_not_found", "model")
      local job = run_job(create_job({ model = "gpt-4o-mini", training_file = upload_training(10) }).id)
      local del = api("DELETE", "/models/" .. job.fine_tuned_model).json
      assert.same({ id = job.fine_tuned_model, object = "model", deleted = true }, del)
      expect_error(api("GET", "/models/" .. job.fine_tuned_model), 404, "model_not_found")
    end)
  end)

  describe("faults", function()
    it("answers 429 with each Retry-After form and x-should-retry, without running the handler", function()
      local train = upload_training(10)
      local res = api("POST", "/fine_tuning/jobs", { model = "gpt-4o-mini", training_file = train },
        { headers = { ["x-fake-fault"] = "429;2" } })
      local e = expect_error(res, 429, "rate_limit_exceeded")
      assert.matches("Rate limit", e.message)
      assert.equal("2", res.headers["retry-after"])
      assert.equal(0, #api("GET", "/fine_tuning/jobs").json.data) -- no job was created
      res = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "429;retry_after_ms=250;should_retry=false" } })
      assert.equal("250", res.headers["retry-after-ms"])
      assert.equal("false", res.headers["x-should-retry"])
      res = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "rate_limit;retry_after_date=3" } })
      assert.matches("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$", res.headers["retry-after"])
      for _, status in ipairs({ 500, 502, 503 }) do
        res = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = tostring(status) } })
        e = expect_error(res, status)
        assert.equal("server_error", e.type)
      end
      local log = server:requests({ path = "^/v1/models$" })
      assert.equal("status", log[1].fault)
      assert.equal(429, log[1].status)
      expect_error(api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "explode" } }), 400)
    end)

    it("installs rules that fail a number of matching requests, then let them through", function()
      server:fault({ match = { method = "GET", path = "^/v1/models$" }, times = 2, fault = "503;retry_after=1" })
      server:fault("500", { path = "/files", skip = 1 })
      assert.equal(2, #server:control("GET", "/_fake/faults"))
      assert.equal(503, api("GET", "/models").status)
      assert.equal(200, api("GET", "/models/gpt-4o").status) -- not matched
      assert.equal(503, api("GET", "/models").status)
      assert.equal(200, api("GET", "/models").status)
      assert.equal(200, api("GET", "/files").status)       -- skipped once
      assert.equal(500, api("GET", "/files").status)
      assert.equal(200, api("GET", "/files").status)
      local attempts = server:requests({ path = "^/v1/models$" })
      assert.equal(3, #attempts)
      assert.same({ 503, 503, 200 }, { attempts[1].status, attempts[2].status, attempts[3].status })
      server:fault({ match = { path = "/models" }, times = -1, fault = { name = "502" } })
      for _ = 1, 3 do assert.equal(502, api("GET", "/models").status) end
      server:clear_faults()
      assert.equal(200, api("GET", "/models").status)
      assert.has_error(function() server:fault("nonsense") end)
      assert.has_error(function() server:fault({ fault = "500", match = { path = "[" } }) end)
    end)

    it("resets or closes the connection instead of answering", function()
      local res, err = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "reset" } })
      assert.is_nil(res)
      assert.truthy(err == "closed" or err:find("reset"))
      res, err = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "close" } })
      assert.is_nil(res)
      assert.equal("closed", err)
      local log = server:requests()
      assert.equal(0, log[1].status)
      assert.equal("reset", log[1].fault)
    end)

    it("breaks the body off mid-way (RST or FIN) after a Content-Length promise", function()
      for _, name in ipairs({ "reset_mid_body", "truncated" }) do
        local res, err, partial, head = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = name } })
        assert.is_nil(res)
        assert.equal(200, head.status)
        local promised = tonumber(head.headers["content-length"])
        assert.is_true(#partial > 0 and #partial < promised)
        assert.truthy(err == "closed" or err:find("reset"), err)
      end
    end)

    it("stalls before the head and in the middle of the body", function()
      local c = connect()
      c:settimeout(0.2)
      assert(c:send(request_text("GET", "/v1/models", { headers = { ["x-fake-fault"] = "stall;1" } })))
      local line, err = c:receive("*l")
      assert.is_nil(line)
      assert.equal("timeout", err)
      c:settimeout(5)
      local res = read_response(c)
      assert.equal(200, res.status) -- the real answer comes after the stall
      c:close()
      c = connect()
      assert(c:send(request_text("GET", "/v1/models", { headers = { ["x-fake-fault"] = "stall_body;5" } })))
      c:settimeout(0.2)
      local status = c:receive("*l")
      assert.equal("HTTP/1.1 200 OK", status)
      local rest, err2, partial = c:receive("*a")
      assert.is_nil(rest)
      assert.equal("timeout", err2)
      assert.truthy(partial:find("Content-Length:", 1, true))
      assert.falsy(partial:find('"object":"list"}', 1, true)) -- the end of the body is not there
      c:close()
    end)

    it("answers like a broken proxy or a non-JSON endpoint", function()
      local res = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "html_502" } })
      assert.equal(502, res.status)
      assert.equal("text/html", res.headers["content-type"])
      assert.matches("<html>", res.body)
      res = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "not_json" } })
      assert.equal(200, res.status)
      assert.is_nil(res.json)
      assert.is_nil(json.decode(res.body))
    end)

    it("streams an enormous body without holding it", function()
      local before = vm_kb(server.pid, "VmHWM")
      local n = 16 * 1024 * 1024
      local res = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "huge;" .. n } })
      assert.equal(200, res.status)
      assert.equal(n, #res.body)
      assert.equal('{"object":"padding","data":"xxx', res.body:sub(1, 31))
      assert.equal('xx"}', res.body:sub(-4))
      res = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "huge;1000;chunked=true" } })
      assert.equal(1000, #res.body)
      assert.is_nil(res.headers["content-length"])
      assert.is_true(vm_kb(server.pid, "VmHWM") - before < 20 * 1024)
    end)

    it("reads a slow upload slowly and sends a slow body slowly", function()
      local t0 = socket.gettime()
      local res = upload(training_data(10) .. string.rep(" ", 20000), "slow.jsonl", "fine-tune",
        { headers = { ["x-fake-fault"] = "slow_upload;50000" } })
      assert.equal(200, res.status)
      assert.is_true(socket.gettime() - t0 >= 0.4)
      t0 = socket.gettime()
      res = api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "slow_body;4000" } })
      assert.equal(200, res.status)
      assert.is_true(socket.gettime() - t0 >= 0.25, tostring(socket.gettime() - t0) .. " " .. #res.body)
    end)

    it("logs every attempt of a retried upload, byte-identical", function()
      server:fault("500", { method = "POST", path = "^/v1/files$" })
      local data = training_data(10)
      assert.equal(500, upload(data).status)
      assert.equal(200, upload(data).status)
      local attempts = server:requests({ path = "^/v1/files$" })
      assert.equal(2, #attempts)
      assert.equal("status", attempts[1].fault)
      assert.equal(attempts[1].parts[2].md5, attempts[2].parts[2].md5)
      assert.equal(md5(data), attempts[2].parts[2].md5)
      assert.equal(1, #api("GET", "/files").json.data)
    end)
  end)

  describe("proxy mode", function()
    it("serves absolute-form requests and records them as proxied", function()
      local target = "http://127.0.0.1:" .. server.port .. "/v1/models/gpt-4o?x=1"
      local res = http("GET", "/v1/models/gpt-4o", { target = target,
        headers = { ["Proxy-Authorization"] = "Basic dTpw" } })
      assert.equal(200, res.status)
      assert.equal("gpt-4o", res.json.id)
      local e = server:last_request()
      assert.is_true(e.proxied)
      assert.equal(target, e.target)
      assert.equal("/v1/models/gpt-4o", e.path)
      assert.equal("x=1", e.query)
      assert.equal(logged("Basic dTpw"), e.proxy_authorization)
      expect_error(http("CONNECT", "127.0.0.1:443", {}), 405)
    end)

    it("asks for proxy credentials when started with --proxy-auth", function()
      local px = fake.start({ proxy_auth = "user:pass" })
      local target = "http://127.0.0.1:" .. px.port .. "/v1/models"
      local c = connect(px.port)
      local res = exchange(c, "GET", "/v1/models", { target = target })
      assert.equal(407, res.status)
      assert.equal('Basic realm="fake-openai"', res.headers["proxy-authenticate"])
      res = exchange(c, "GET", "/v1/models", { target = target,
        headers = { ["Proxy-Authorization"] = "Basic dXNlcjpwYXNz" } })
      assert.equal(200, res.status)
      -- origin-form requests are not proxied, so need no proxy credentials
      res = exchange(c, "GET", "/v1/models")
      assert.equal(200, res.status)
      c:close()
      local p = io.popen("curl -s -o /dev/null -w '%{http_code}' -x http://127.0.0.1:" .. px.port
        .. " -U user:pass -H 'Authorization: Bearer k' http://127.0.0.1:" .. px.port .. "/v1/models")
      local code = p:read("*a"); p:close()
      assert.equal("200", code)
      assert.is_true(px:last_request().proxied)
    end)
  end)

  describe("streaming", function()
    -- 64 MB by default to keep the suite quick; FAKE_SPEC_BIG_MB=200 for the full-size run
    local mb = tonumber(os.getenv("FAKE_SPEC_BIG_MB")) or 64
    it("takes a " .. mb .. " MB upload and serves it back with flat memory #heavy", function()
      local path = TMP .. "-big.jsonl"
      local f = assert(io.open(path, "wb"))
      local block = (string.rep("y", 1023) .. "\n"):rep(1024)
      for _ = 1, mb do f:write(block) end
      f:close()
      local base = vm_kb(server.pid, "VmRSS")
      local cmd = string.format("curl -s -H 'Authorization: Bearer %s' -F purpose=fine-tune -F file=@%s %s/files",
        KEY, path, server.base_url)
      local p = io.popen(cmd)
      local out = p:read("*a"); p:close()
      local file = json.decode(out)
      assert.equal(mb * 1024 * 1024, file.bytes)
      local back = TMP .. "-back.jsonl"
      os.execute(string.format("curl -s -H 'Authorization: Bearer %s' -o %s %s/files/%s/content", KEY, back,
        server.base_url, file.id))
      local mp = io.popen("md5sum " .. path)
      local sum = mp:read("*l"):match("^%x+"); mp:close()
      local r = os.execute("cmp -s " .. path .. " " .. back)
      os.remove(path)
      os.remove(back)
      assert.is_true(r == true or r == 0, "downloaded bytes differ")
      local peak = vm_kb(server.pid, "VmHWM")
      assert.is_true(peak < base + 40 * 1024, "server peak RSS " .. peak .. " kB")
      local log = server:requests()
      assert.equal(mb * 1024 * 1024, log[1].parts[2].size)
      assert.equal(sum, log[1].parts[2].md5)
      assert.equal(200, log[2].status)
    end)
  end)

  describe("spec helper and CLI", function()
    it("shares one server per run and resets it on start", function()
      upload_training(10)
      local again = fake.start()
      assert.equal(server.pid, again.pid)
      assert.equal(server.port, again.port)
      assert.equal(0, #api("GET", "/files").json.data)
      local other = fake.start({ org = "acme" })
      assert.are_not.equal(server.pid, other.pid)
      other:stop()
      socket.sleep(0.2)
      assert.is_false(alive(other.pid))
    end)

    it("exits when the watched process is gone, and after the idle timeout", function()
      local p = io.popen("sleep 0.5 >/dev/null & echo $!")
      local watched = p:read("*l"); p:close()
      local port_file = TMP .. "-port"
      local cmd = string.format("%s bin/openai-ft fake-server --port 0 --port-file %s --watch-pid %s --quiet "
        .. ">/dev/null 2>&1 & echo $!", require("openai.finetunes.fake").interpreter(), port_file, watched)
      p = io.popen(cmd)
      local pid = p:read("*l"); p:close()
      local deadline = socket.gettime() + 5
      while alive(pid) and socket.gettime() < deadline do socket.sleep(0.05) end
      assert.is_false(alive(pid))
      assert.is_nil(io.open(port_file)) -- removed on exit
      p = io.popen(string.format("%s bin/openai-ft fake-server --idle-timeout 0.5 --quiet >/dev/null 2>&1 & echo $!",
        require("openai.finetunes.fake").interpreter()))
      pid = p:read("*l"); p:close()
      deadline = socket.gettime() + 5
      while alive(pid) and socket.gettime() < deadline do socket.sleep(0.05) end
      assert.is_false(alive(pid))
    end)

    it("has a --help and refuses unknown options", function()
      local lua = require("openai.finetunes.fake").interpreter()
      local p = io.popen(lua .. " bin/openai-ft fake-server --help")
      local out = p:read("*a")
      local ok = p:close()
      assert.truthy(ok)
      assert.matches("usage: openai%-ft fake%-server", out)
      assert.matches("%-%-port%-file", out)
      p = io.popen(lua .. " bin/openai-ft --help")
      out = p:read("*a"); p:close()
      assert.matches("fake%-server", out)
      local r1 = os.execute(lua .. " bin/openai-ft fake-server --bogus >/dev/null 2>&1")
      assert.is_true(r1 ~= true and r1 ~= 0)
    end)

    for _, interp in ipairs({ "lua5.1", "luajit", "lua5.3" }) do
      it("runs on " .. interp, function()
        local p = io.popen("command -v " .. interp)
        local found = p:read("*l"); p:close()
        if not found then
          pending(interp .. " is not installed")
          return
        end
        local h = require("openai.finetunes.fake").spawn({ lua = interp, speed = 1000 })
        local saved = server
        server = { port = h.port, base_url = h.base_url, advance = function(_, s)
          require("openai.finetunes.fake").control_request(h.port, "POST", "/_fake/clock",
            json.encode({ advance = s }))
        end }
        local ok, err = pcall(function()
          local data = training_data(10) .. "\r\n--split--\0\255"
          local res = upload(data, "t.jsonl")
          assert.equal(200, res.status, res.body)
          assert.equal(data, api("GET", "/files/" .. res.json.id .. "/content").body)
          local lines = training_data(10)
          local job = run_job(create_job({ model = "gpt-4o-mini", training_file = upload(lines).json.id }).id)
          assert.equal("succeeded", job.status)
          assert.equal(503, api("GET", "/models", nil, { headers = { ["x-fake-fault"] = "503" } }).status)
          assert.equal(1, api("POST", "/fine_tuning/alpha/graders/run", { model_sample = "a", grader = {
            type = "string_check", name = "s", input = "{{sample.output_text}}", reference = "a",
            operation = "eq" } }).json.reward)
        end)
        server = saved
        h:stop()
        assert(ok, err)
      end)
    end
  end)
end)
