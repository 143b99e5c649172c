-- The API key never escapes: not in error messages or fields, tostring(client),
-- tostring(err), tracebacks of raised errors, nor libcurl's verbose trace; it is
-- not reachable from Lua at all once ft.new returns. Header values with CR or LF
-- are refused before anything is sent.
local ft = require("openai.finetunes")
local fake = require("spec.support.fake_server")
local nginx = require("spec.support.nginx")
local certs = require("spec.support.certs")
local socket = require("socket")
local H = require("spec.support.client_helper")
local logged = require("openai.finetunes.fake.reqlog").redact_credential

-- Distinctive, and never stored whole in this file's upvalues (the reachability
-- check below walks from the client and must not find it through the spec).
local function the_key()
  return table.concat({ "sk-proj-", "S3CR3T", "k3y", "-4f1d9c2a7b6e" })
end
local KEY_PART = "S3CR3Tk3y" -- the key's middle: any leak of the key contains it

local function leaks(s)
  return type(s) == "string" and s:find(KEY_PART, 1, true) ~= nil
end

-- Every string inside a value (tables walked, keys too), for error objects.
local function strings_in(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      strings_in(k, out, seen)
      strings_in(x, out, seen)
    end
  end
  return out
end

local function assert_clean(what, v)
  if type(v) == "table" then
    for _, s in ipairs(strings_in(v)) do assert.is_false(leaks(s), what .. " leaks the key: " .. s) end
    local ok, str = pcall(tostring, v)
    if ok then assert.is_false(leaks(str), what .. " tostring leaks the key") end
  else
    assert.is_false(leaks(tostring(v)), what .. " leaks the key: " .. tostring(v))
  end
end

local server

setup(function()
  server = fake.start()
end)

before_each(function()
  server:reset()
end)

local function client(opts)
  local o = { api_key = the_key(), base_url = server.base_url, max_retries = 0 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return ft.new(o)
end

describe("the API key", function()
  it("is sent, and only in the Authorization header", function()
    local c = client()
    assert(c:models())
    local entry = server:last_request()
    -- the fake logs the credential redacted to its last characters: the key went there
    assert.equal(logged("Bearer " .. the_key()), entry.headers.authorization)
    for _, value in pairs(entry.headers) do assert.is_false(leaks(value)) end
    assert.is_false(leaks(entry.path))
    assert.is_false(leaks(entry.query or ""))
  end)

  it("is not in tostring of the client, its strict view or its transport", function()
    local c = client()
    assert_clean("tostring(client)", tostring(c))
    assert_clean("tostring(strict)", tostring(c:strict()))
    assert_clean("tostring(transport)", tostring(c:_transport()))
  end)

  it("is in no error of any kind, nor in their tostring", function()
    local cases = {}
    local function add(name, err)
      assert.is_true(ft.is_error(err), name .. " gave no error object")
      cases[#cases + 1] = { name, err }
    end
    local c = client({ max_response_bytes = 1000 })
    add("404", select(2, c:file("file-missing")))
    add("invalid_response", select(2, c:models({ headers = { ["x-fake-fault"] = "not_json" } })))
    add("too_large", select(2, c:models({ headers = { ["x-fake-fault"] = "huge;bytes=100000" } })))
    add("io", select(2, c:models({ headers = { ["x-fake-fault"] = "reset" } })))
    add("timeout", select(2, c:models({ timeout = 0.2, headers = { ["x-fake-fault"] = "stall;seconds=2" } })))
    add("429", select(2, c:models({ headers = { ["x-fake-fault"] = "429;retry_after=1" } })))
    add("aborted", select(2, c:models({ progress = function() return false end })))

    local strict_server = fake.start({ api_key = "sk-the-only-accepted-key" })
    local wrong = ft.new({ api_key = the_key(), base_url = strict_server.base_url, max_retries = 0 })
    local _, unauthorized = wrong:models()
    assert.are.equal(401, unauthorized.status)
    add("401", unauthorized)

    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    local refused = ft.new({ api_key = the_key(), base_url = "http://127.0.0.1:" .. port .. "/v1", max_retries = 0,
      circuit_breaker = { failure_threshold = 1 } })
    add("connect", select(2, refused:models()))
    add("circuit_open", select(2, refused:models()))

    local closed = client()
    closed:close()
    add("closed", select(2, closed:models()))

    for _, case in ipairs(cases) do assert_clean(case[1], case[2]) end
  end)

  it("is not in the traceback of a raised error", function()
    local strict = client({ raise = true })
    local function traced(fn)
      local ok, msg = xpcall(fn, function(e) return tostring(e) .. "\n" .. debug.traceback() end)
      assert.is_false(ok)
      return msg
    end
    assert_clean("raised api error", traced(function() strict:file("file-missing") end))
    assert_clean("raised io error", traced(function()
      strict:models({ headers = { ["x-fake-fault"] = "reset" } })
    end))
    assert_clean("misuse", traced(function() strict:file(42) end))
    assert_clean("progress callback error", traced(function()
      strict:models({ progress = function() error("callback failed") end })
    end))
  end)

  it("is not echoed when it is itself refused", function()
    for _, bad in ipairs({ the_key() .. "\r\nX: y", the_key() .. "\n", the_key() .. "\0" }) do
      local ok, msg = pcall(ft.new, { api_key = bad, base_url = server.base_url })
      assert.is_false(ok)
      assert.is_truthy(tostring(msg):find("api_key", 1, true), tostring(msg))
      assert_clean("refused key", msg)
    end
  end)

  it("cannot be reached from Lua once ft.new has returned", function()
    local c = client()
    local seen, found, reached_state = {}, {}, false
    local skip = { [_G] = true, [package.loaded] = true, [package] = true }
    local function walk(v, path)
      local t = type(v)
      if t == "string" then
        if leaks(v) then found[#found + 1] = path end
        if v == server.base_url then reached_state = true end
        return
      end
      if (t ~= "table" and t ~= "function" and t ~= "userdata") or seen[v] or skip[v] then return end
      seen[v] = true
      if t == "table" then
        for k, x in next, v do
          walk(k, path .. ".<key>")
          walk(x, path .. "." .. tostring(k))
        end
      elseif t == "function" then
        local i = 1
        while true do
          local name, x = debug.getupvalue(v, i)
          if not name then break end
          walk(x, path .. ".<upvalue " .. name .. ">")
          i = i + 1
        end
      elseif t == "userdata" and rawget(debug, "getuservalue") then
        walk(rawget(debug, "getuservalue")(v), path .. ".<uservalue>")
      end
      walk(debug.getmetatable(v), path .. ".<metatable>")
    end
    walk(c, "client")
    assert.is_true(reached_state, "the walk did not reach the client's state")
    assert.are.same({}, found)
  end)
end)

describe("verbose output", function()
  it("shows the exchange but never the key (HTTP/1.1 and HTTP/2 over TLS), in a child process", function()
    local pki = certs.make()
    finally(certs.cleanup)
    local proxy = nginx.start({
      tls = { cert = pki.server_cert, key = pki.server_key },
      server = nginx.proxy_to(server:url()),
    })
    local dir = H.tmpdir()
    local script = dir .. "/verbose.lua"
    H.write(script, [[
local ft = require("openai.finetunes")
local key = table.concat({ "sk-proj-", "S3CR3T", "k3y", "-4f1d9c2a7b6e" })
local plain, tls_url, ca = arg[1], arg[2], arg[3]
local a = ft.new({ api_key = key, base_url = plain, verbose = true, max_retries = 0 })
assert(a:models())
local _, err = a:file("file-missing")
io.stderr:write("ERR ", tostring(err), "\n")
local b = ft.new({ api_key = key, base_url = tls_url, verbose = true, max_retries = 0,
  tls = { ca_file = ca }, http_version = "2" })
assert(b:models())
io.stdout:write("done\n")
]])
    local q = H.shell_quote
    local out, err = dir .. "/stdout", dir .. "/stderr"
    local r1, _, code = os.execute(table.concat({ q(H.lua()), q(script), q(server.base_url),
      q(proxy:tls_url("/v1")), q(pki.ca), ">" .. q(out), "2>" .. q(err) }, " "))
    local ok = r1 == 0 or (r1 == true and code == 0)
    proxy:stop()
    local stdout, stderr = H.read(out), H.read(err)
    H.rmdir(dir)
    assert.is_true(ok, "child failed:\n" .. stdout .. stderr)
    assert.are.equal("done\n", stdout)
    -- the trace is really there: both requests, the HTTP/2 one included
    assert.is_truthy(stderr:find("GET /v1/models", 1, true), stderr)
    assert.is_truthy(stderr:find("HTTP/2", 1, true), stderr)
    assert.is_truthy(stderr:lower():find("authorization: [redacted]", 1, true), stderr)
    assert.is_truthy(stderr:find("ERR api error 404", 1, true), stderr)
    assert.is_false(leaks(stderr), "verbose output leaks the key")
  end)
end)

describe("header values with CR or LF", function()
  local INJECT = { "a\r\nX-Injected: 1", "a\nX-Injected: 1", "a\rb", "a\0b" }

  it("are refused in client headers, organization and project", function()
    for _, v in ipairs(INJECT) do
      for _, opts in ipairs({ { headers = { ["X-Custom"] = v } }, { organization = v }, { project = v } }) do
        local ok, msg = pcall(client, opts)
        assert.is_false(ok, ("accepted %q"):format(v))
        assert.is_truthy(tostring(msg):find("bad argument #1 to 'new'", 1, true), tostring(msg))
        assert.is_truthy(tostring(msg):find("CR, LF or NUL", 1, true), tostring(msg))
      end
    end
  end)

  it("are refused in per call headers and idempotency keys, before anything is sent", function()
    local c = client()
    local mark = server:mark()
    for _, v in ipairs(INJECT) do
      local ok, msg = pcall(c.models, c, { headers = { ["X-Custom"] = v } })
      assert.is_false(ok)
      assert.is_truthy(tostring(msg):find("bad argument #1 to 'models'", 1, true), tostring(msg))
      ok, msg = pcall(c.create_upload, c, { filename = "a.jsonl", purpose = "fine-tune", bytes = 1,
        mime_type = "text/jsonl" }, { idempotency_key = v })
      assert.is_false(ok)
      assert.is_truthy(tostring(msg):find("idempotency_key", 1, true), tostring(msg))
    end
    assert.are.same({}, server:requests({ since = mark }))
  end)

  it("are refused by the transport itself with kind invalid_request", function()
    local transport = require("openai.finetunes.transport.curl").new({ api_key = the_key() })
    local mark = server:mark()
    for _, v in ipairs(INJECT) do
      local res, err = transport:request({ method = "GET", url = server.base_url .. "/models",
        headers = { ["X-Custom"] = v } })
      assert.is_nil(res)
      assert.are.equal("invalid_request", err.kind)
      assert_clean("invalid_request", err)
    end
    local res, err = transport:request({ method = "GET", url = server.base_url .. "/models",
      headers = { ["X-Bad\r\nName"] = "v" } })
    assert.is_nil(res)
    assert.are.equal("invalid_request", err.kind)
    transport:close()
    assert.are.same({}, server:requests({ since = mark }))
  end)
end)
