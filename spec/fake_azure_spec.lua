-- The fake server's Azure OpenAI mode (fake/azure.lua), checked over raw HTTP with
-- LuaSocket: api-key and Entra-token auth, the v1 and dated path layouts with their
-- api-version rules, Azure's error envelope, apim-request-id, uploads and paging on
-- both layouts, faults, the control API and the CLI flags. No client code.
local socket = require("socket")
local json = require("openai.finetunes.fake.json")
local fakemod = require("openai.finetunes.fake")
local util = require("openai.finetunes.fake.util")
local fake = require("spec.support.fake_server")

local KEY = "az-key-spec-0123456789"
local TOKEN = "entra-token-spec-1"
local VERSION = "2024-10-21"

local KEY_DENIED = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
  .. "a valid key for an active subscription and use a correct regional API endpoint for your resource."
local TOKEN_DENIED = "Unauthorized. Access token is missing, invalid, audience is incorrect "
  .. "(https://cognitiveservices.azure.com), or have expired."

local server

------------------------------------------------------------------------ raw HTTP

-- request(method, target, opts) -> {status, headers (lower-case names), body, json}
-- opts: key (api-key header; false = none; default KEY), bearer (Authorization:
-- Bearer ...), headers, body, content_type. One connection per request.
local function request(method, target, opts)
  opts = opts or {}
  local headers = { Host = "127.0.0.1:" .. server.port, Connection = "close" }
  local key = opts.key
  if key == nil and opts.bearer == nil then key = KEY end
  if key then headers["api-key"] = key end
  if opts.bearer then headers.Authorization = "Bearer " .. opts.bearer end
  local body = opts.body or ""
  if opts.body or method == "POST" then headers["Content-Length"] = tostring(#body) end
  if opts.content_type then headers["Content-Type"] = opts.content_type end
  for k, v in pairs(opts.headers or {}) do headers[k] = v end
  local lines = { method .. " " .. target .. " HTTP/1.1" }
  for k, v in pairs(headers) do lines[#lines + 1] = k .. ": " .. v end
  local c = assert(socket.connect("127.0.0.1", server.port))
  c:settimeout(10)
  assert(c:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. body))
  local data, err, partial = c:receive("*a")
  c:close()
  data = data or partial
  assert(data and data ~= "", "no answer: " .. tostring(err))
  local head, rest = data:match("^(.-)\r\n\r\n(.*)$")
  local res = { status = tonumber(head:match("^HTTP/1%.1 (%d%d%d)")), headers = {}, body = rest }
  for name, value in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do
    res.headers[name:lower()] = value
  end
  if (res.headers["content-type"] or ""):find("json", 1, true) and rest ~= "" then
    res.json = json.decode(rest)
  end
  return res
end

local function dated(path, extra)
  return "/openai" .. path .. "?api-version=" .. VERSION .. (extra and ("&" .. extra) or "")
end

local function multipart(fields, file)
  local boundary = "azspec" .. tostring(math.random(1e9))
  local out = {}
  for _, f in ipairs(fields) do
    out[#out + 1] = "--" .. boundary .. '\r\nContent-Disposition: form-data; name="' .. f[1] .. '"\r\n\r\n'
      .. f[2] .. "\r\n"
  end
  out[#out + 1] = "--" .. boundary .. '\r\nContent-Disposition: form-data; name="file"; filename="'
    .. file.name .. '"\r\nContent-Type: application/octet-stream\r\n\r\n' .. file.data .. "\r\n"
  out[#out + 1] = "--" .. boundary .. "--\r\n"
  return table.concat(out), "multipart/form-data; boundary=" .. boundary
end

local function upload(target, name, purpose, data)
  local body, ctype = multipart({ { "purpose", purpose or "batch" } }, { name = name, data = data or '{"x": 1}\n' })
  local res = request("POST", target, { body = body, content_type = ctype })
  assert.equal(200, res.status, res.body)
  return res.json
end

-- Azure's envelope: {"error": {"code", "message"[, "param"]}}, never a "type".
local function assert_azure_error(res, status, code, message)
  assert.equal(status, res.status, res.body)
  assert.is_table(res.json, res.body)
  local e = res.json.error
  assert.is_table(e, res.body)
  assert.is_nil(e.type, res.body)
  assert.equal(code, e.code)
  if message then assert.equal(message, e.message) end
  for k in pairs(e) do
    assert.truthy(k == "code" or k == "message" or k == "param", "unexpected member " .. k)
  end
  assert.is_nil(res.headers["x-request-id"])
  return e
end

local function ids(list)
  local out = {}
  for i, f in ipairs(list.data) do out[i] = f.id end
  return out
end

------------------------------------------------------------------------------ specs

describe("fake server, Azure OpenAI mode", function()
  before_each(function()
    server = fake.start({ azure = true, api_key = KEY, ad_token = TOKEN })
  end)

  it("knows its endpoint, base URL and api-version", function()
    assert.equal("http://127.0.0.1:" .. server.port, server.endpoint)
    assert.equal(server.endpoint .. "/openai/v1", server.base_url)
    assert.equal(VERSION, server.api_version)
    local state = server:state()
    assert.is_true(state.azure)
    assert.equal(VERSION, state.api_version)
    assert.equal(server.endpoint, state.endpoint)
    assert.equal(server.base_url, state.base_url)
    assert.falsy(json.encode(state):find(TOKEN, 1, true))
    assert.falsy(json.encode(state):find(KEY, 1, true))
  end)

  describe("auth", function()
    it("accepts the api-key header on both layouts", function()
      assert.equal(200, request("GET", "/openai/v1/models").status)
      assert.equal(200, request("GET", dated("/models")).status)
    end)

    it("answers a missing, empty or wrong key with Azure's 401, never echoing it", function()
      for _, key in ipairs({ false, "", "az-key-wrong-987" }) do
        local res = request("GET", "/openai/v1/models", { key = key })
        assert_azure_error(res, 401, "401", KEY_DENIED)
        assert.falsy(res.body:find("az%-key"))
      end
      assert_azure_error(request("GET", dated("/files"), { key = false }), 401, "401", KEY_DENIED)
    end)

    it("refuses an OpenAI-style bearer key", function()
      local res = request("GET", "/openai/v1/models", { key = false, bearer = KEY })
      assert_azure_error(res, 401, "401", TOKEN_DENIED)
      assert.falsy(res.body:find(KEY, 1, true))
    end)

    it("accepts the Entra token until it is rotated, then only the new one", function()
      assert.equal(200, request("GET", "/openai/v1/models", { bearer = TOKEN }).status)
      assert.equal(200, request("GET", dated("/models"), { bearer = TOKEN }).status)
      local answer = server:set_ad_token("entra-token-spec-2")
      assert.same({ ok = true }, answer)
      local old = request("GET", "/openai/v1/models", { bearer = TOKEN })
      assert_azure_error(old, 401, "401", TOKEN_DENIED)
      assert.falsy(old.body:find("entra"))
      assert.equal(200, request("GET", "/openai/v1/models", { bearer = "entra-token-spec-2" }).status)
      -- a valid api-key still works whatever the token
      assert.equal(200, request("GET", "/openai/v1/models", { bearer = TOKEN, key = KEY }).status)
      -- reset brings the starting token back
      server:reset()
      assert.equal(200, request("GET", "/openai/v1/models", { bearer = TOKEN }).status)
      assert.equal(401, request("GET", "/openai/v1/models", { bearer = "entra-token-spec-2" }).status)
    end)

    it("checks the token the control endpoint is given", function()
      for _, body in ipairs({ "{}", '{"token": ""}', '{"token": 5}', '{"token": "a b"}' }) do
        local status, text = fakemod.control_request(server.port, "POST", "/_fake/ad_token", body)
        assert.equal(400, status, text)
      end
    end)
  end)

  describe("paths and api-version", function()
    it("requires the served api-version on the dated layout", function()
      local missing = request("GET", "/openai/files")
      local e = assert_azure_error(missing, 400, "MissingApiVersionParameter")
      assert.truthy(e.message:find("api-version", 1, true))
      local wrong = request("GET", "/openai/files?api-version=2023-05-15")
      e = assert_azure_error(wrong, 400, "InvalidApiVersionParameter")
      assert.truthy(e.message:find("'2023-05-15'", 1, true))
      assert.truthy(e.message:find("'" .. VERSION .. "'", 1, true))
      assert.equal(200, request("GET", dated("/files")).status)
    end)

    it("takes no api-version, preview or latest on the v1 layout", function()
      assert.equal(200, request("GET", "/openai/v1/files").status)
      assert.equal(200, request("GET", "/openai/v1/files?api-version=preview").status)
      assert.equal(200, request("GET", "/openai/v1/files?api-version=latest").status)
      local e = assert_azure_error(request("GET", "/openai/v1/files?api-version=" .. VERSION), 400,
        "InvalidApiVersionParameter")
      assert.truthy(e.message:find("'" .. VERSION .. "'", 1, true))
      assert.truthy(e.message:find("'preview'", 1, true))
    end)

    it("answers OpenAI's layout and unknown paths with Azure's 404", function()
      local targets = { "/v1/files", "/openai/v1/nope", dated("/nope"), "/files", "/openai/v1/", "/openai/v1",
        "/openai" }
      for _, target in ipairs(targets) do
        assert_azure_error(request("GET", target), 404, "404", "Resource not found")
      end
    end)

    it("writes handler errors in Azure's envelope", function()
      local e = assert_azure_error(request("GET", "/openai/v1/files/file-nope"), 404, "404")
      assert.equal("No such File object: file-nope", e.message)
      assert.equal("id", e.param)
      e = assert_azure_error(request("GET", dated("/files", "limit=0")), 400, "integer_below_min_value")
      assert.equal("limit", e.param)
      local res = request("PUT", "/openai/v1/files")
      assert_azure_error(res, 405, "method_not_allowed")
      assert.equal("GET, POST", res.headers["allow"])
    end)

    it("logs the requested path, the route and the params as sent", function()
      request("GET", dated("/files", "limit=3"))
      local entry = server:last_request()
      assert.equal("/openai/files", entry.path)
      assert.equal("GET /files", entry.route)
      assert.same({ ["api-version"] = VERSION, limit = "3" }, entry.params)
      request("GET", "/openai/v1/models/gpt-4o-mini-2024-07-18")
      entry = server:last_request()
      assert.equal("/openai/v1/models/gpt-4o-mini-2024-07-18", entry.path)
      assert.equal("GET /models/{model}", entry.route)
    end)
  end)

  describe("headers", function()
    it("sends apim-request-id (the log's request_id) and no OpenAI headers", function()
      for _, target in ipairs({ "/openai/v1/files", "/openai/v1/files/file-nope", "/openai/files" }) do
        local res = request("GET", target)
        local id = res.headers["apim-request-id"]
        assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", id)
        assert.equal(id, server:last_request().request_id)
        for _, name in ipairs({ "x-request-id", "openai-version", "openai-organization", "openai-processing-ms" }) do
          assert.is_nil(res.headers[name], name)
        end
        for _, name in ipairs({ "date", "content-type", "content-length", "connection" }) do
          assert.truthy(res.headers[name], name)
        end
      end
      local a = request("GET", "/openai/v1/models").headers["apim-request-id"]
      local b = request("GET", "/openai/v1/models").headers["apim-request-id"]
      assert.are_not.equal(a, b)
    end)

    it("leaves the control API as it is", function()
      local res = request("GET", "/_fake/health", { key = false })
      assert.equal(200, res.status)
      assert.matches("^req_%x+$", res.headers["x-request-id"])
      assert.is_nil(res.headers["apim-request-id"])
      res = request("GET", "/_fake/nope", { key = false })
      assert.equal(404, res.status)
      assert.equal("invalid_request_error", res.json.error.type)
    end)
  end)

  describe("files", function()
    it("uploads and lists on both layouts, paging the dated one", function()
      local a = upload("/openai/v1/files", "a.jsonl")
      local b = upload(dated("/files"), "b.jsonl")
      local c = upload("/openai/v1/files?api-version=preview", "c.jsonl")
      assert.equal("file", a.object)
      assert.equal("processed", b.status)
      assert.equal(a.id, request("GET", "/openai/v1/files/" .. a.id).json.id)
      assert.equal("b.jsonl", request("GET", dated("/files/" .. b.id)).json.filename)
      -- newest first, the same on both layouts
      local v1 = request("GET", "/openai/v1/files").json
      assert.same({ c.id, b.id, a.id }, ids(v1))
      assert.same(ids(v1), ids(request("GET", dated("/files")).json))
      local page1 = request("GET", dated("/files", "limit=2")).json
      assert.same({ c.id, b.id }, ids(page1))
      assert.is_true(page1.has_more)
      local page2 = request("GET", dated("/files", "limit=2&after=" .. b.id)).json
      assert.same({ a.id }, ids(page2))
      assert.is_false(page2.has_more)
      assert.equal("{\"x\": 1}\n", request("GET", dated("/files/" .. a.id .. "/content")).body)
      local deleted = request("DELETE", dated("/files/" .. c.id)).json
      assert.is_true(deleted.deleted)
      assert.same({ b.id, a.id }, ids(request("GET", "/openai/v1/files?api-version=latest").json))
    end)
  end)

  describe("jobs", function()
    it("runs a job created on the dated layout and pages its events", function()
      local lines = {}
      for i = 1, 10 do
        lines[i] = json.encode({ messages = { { role = "user", content = "q" .. i },
          { role = "assistant", content = "a" .. i } } })
      end
      local file = upload(dated("/files"), "train.jsonl", "fine-tune", table.concat(lines, "\n") .. "\n")
      local payload = json.encode({ model = "gpt-4o-mini-2024-07-18", training_file = file.id,
        metadata = { team = "az" } })
      local res = request("POST", dated("/fine_tuning/jobs"), { body = payload, content_type = "application/json" })
      assert.equal(200, res.status, res.body)
      local job = res.json
      server:advance(3600)
      job = request("GET", "/openai/v1/fine_tuning/jobs/" .. job.id).json
      assert.equal("succeeded", job.status)
      local listed = request("GET", dated("/fine_tuning/jobs", "metadata%5Bteam%5D=az&limit=1")).json
      assert.equal(job.id, listed.data[1].id)
      local events = request("GET", dated("/fine_tuning/jobs/" .. job.id .. "/events", "limit=2")).json
      assert.equal(2, #events.data)
      assert.is_true(events.has_more)
      local next_page = request("GET", dated("/fine_tuning/jobs/" .. job.id .. "/events",
        "limit=2&after=" .. events.data[2].id)).json
      assert.are_not.equal(events.data[2].id, next_page.data[1].id)
      local model = request("GET", dated("/models/" .. job.fine_tuned_model)).json
      assert.equal(job.fine_tuned_model, model.id)
    end)
  end)

  describe("faults", function()
    it("answers injected errors in Azure's envelope", function()
      local res = request("GET", "/openai/v1/models", { headers = { ["x-fake-fault"] = "429;retry_after=1" } })
      assert_azure_error(res, 429, "rate_limit_exceeded")
      assert.equal("1", res.headers["retry-after"])
      res = request("GET", "/openai/v1/models", { headers = { ["x-fake-fault"] = "503" } })
      assert_azure_error(res, 503, "503")
    end)

    it("matches rules on the requested path and on its /v1 twin", function()
      server:fault("500", { path = "^/v1/files$", times = 2 })
      assert_azure_error(request("GET", "/openai/v1/files"), 500, "500")
      assert_azure_error(request("GET", dated("/files")), 500, "500")
      assert.equal(200, request("GET", "/openai/v1/files").status)
      server:fault("502", { path = "^/openai/files$" })
      assert.equal(200, request("GET", "/openai/v1/files").status)
      assert_azure_error(request("GET", dated("/files")), 502, "502")
    end)
  end)
end)

describe("fake server, OpenAI mode", function()
  it("has no Azure control endpoint and keeps its layout", function()
    server = fake.start()
    assert.equal(server.endpoint .. "/v1", server.base_url)
    local status = fakemod.control_request(server.port, "POST", "/_fake/ad_token", '{"token": "t"}')
    assert.equal(400, status)
    local state = server:state()
    assert.is_false(state.azure)
    assert.is_nil(state.api_version)
    local res = request("GET", "/openai/v1/models", { key = false, bearer = "sk-openai" })
    assert.equal(404, res.status)
    assert.equal("unknown_url", res.json.error.code)
    assert.truthy(res.headers["x-request-id"])
  end)
end)

describe("openai-ft fake-server --azure", function()
  local cli = require("openai.finetunes.cli.fake_server")

  it("parses the Azure flags", function()
    assert.same({ azure = true, api_version = "2025-04-01-preview", ad_token = "tok" },
      cli.parse({ "--azure", "--api-version", "2025-04-01-preview", "--ad-token=tok" }))
    local opts, err = cli.parse({ "--ad-token", "tok" })
    assert.is_nil(opts)
    assert.equal("--ad-token needs --azure", err)
    assert.truthy(cli.usage:find("--api-version V", 1, true))
  end)

  it("prints the endpoint and the api-version it serves", function()
    local cmd = string.format("env LUA_PATH=%s LUA_CPATH=%s %s bin/openai-ft fake-server --azure --quiet "
      .. "--api-version 2025-01-01 --idle-timeout 20 --watch-pid %d </dev/null 2>&1",
      util.shell_quote(package.path), util.shell_quote(package.cpath), util.shell_quote(fakemod.interpreter()),
      fakemod.pid())
    local p = assert(io.popen(cmd, "r"))
    local line = p:read("*l") or ""
    local port = tonumber(line:match("^http://127%.0%.0%.1:(%d+) "))
    if port then fakemod.control_request(port, "POST", "/_fake/shutdown", "{}") end
    p:close()
    assert.equal("http://127.0.0.1:" .. tostring(port) .. " (azure mode, api-version 2025-01-01)", line)
  end)
end)
