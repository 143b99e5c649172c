-- ft.new: options, environment fallbacks, headers, meta, the raising view,
-- extension and transport selection; over real HTTP against the fake server.
local ft = require("openai.finetunes")
local codec = require("openai.finetunes.codec")
local config = require("openai.finetunes.config")
local client_module = require("openai.finetunes.client")
local H = require("spec.support.client_helper")
local redacted = require("openai.finetunes.fake.reqlog").redact_credential

describe("ft module", function()
  it("exposes the version, null, array and the error helpers", function()
    assert.equal(codec._VERSION, ft._VERSION)
    assert.equal(ft._VERSION, ft.version)
    assert.equal(codec.null, ft.null)
    local a = ft.array()
    assert.equal(codec.array_mt, getmetatable(a))
    assert.equal("[]", codec.json_encode(ft.array({})))
    assert.has_error(function() ft.array("x") end, "bad argument #1 to 'array' (table expected, got string)")
    assert.is_function(ft.is_error)
    assert.is_table(ft.errors.kinds)
  end)
end)

describe("ft.new", function()
  local server

  setup(function() server = H.start() end)
  before_each(function() server:reset() end)

  it("builds a client whose tostring shows the base URL and never the key", function()
    local c = H.client(server)
    local s = tostring(c)
    assert.truthy(s:find(server.base_url, 1, true))
    assert.falsy(s:find(H.API_KEY, 1, true))
    assert.truthy(ft.is_client(c))
    -- nowhere in the client table either
    local function walk(t, seen)
      seen = seen or {}
      if seen[t] then return end
      seen[t] = true
      for k, v in pairs(t) do
        assert.are_not.equal(H.API_KEY, v)
        assert.are_not.equal(H.API_KEY, k)
        if type(v) == "table" then walk(v, seen) end
        if type(k) == "table" then walk(k, seen) end
      end
    end
    walk(c)
  end)

  it("sends the key as a bearer token", function()
    local c = H.client(server)
    assert(c:models())
    assert.equal(redacted("Bearer " .. H.API_KEY), server:last_request().headers.authorization)
  end)

  it("refuses unknown options by name", function()
    assert.has_error(function() ft.new{ api_key = "k", timout = 5 } end,
      'bad argument #1 to \'new\' (unknown option "timout")')
    assert.has_error(function() ft.new{ api_key = "k", tls = { verfy = false } } end,
      "bad argument #1 to 'new' (unknown option tls.verfy)")
  end)

  it("type-checks every option", function()
    local cases = {
      { { base_url = "ftp://x" }, "base_url must be an http:// or https:// URL" },
      { { base_url = 5 }, "base_url must be a string, got 5" },
      { { organization = 1 }, "organization must be a string, got 1" },
      { { project = "a\nb" }, "project must not contain CR, LF or NUL" },
      { { timeout = 0 }, "timeout must be a number > 0, got 0" },
      { { timeout = "600" }, 'timeout must be a number > 0, got "600"' },
      { { connect_timeout = -1 }, "connect_timeout must be a number > 0, got -1" },
      { { max_retries = 1.5 }, "max_retries must be an integer >= 0, got 1.5" },
      { { retry = 3 }, "retry must be a table, got 3" },
      { { circuit_breaker = "on" }, 'circuit_breaker must be a table or false, got "on"' },
      { { http_version = 2 }, 'http_version must be "2" or "1.1", got 2' },
      { { compression = "yes" }, 'compression must be a boolean, got "yes"' },
      { { proxy = { url = 1 } }, "proxy.url must be a string, got 1" },
      { { tls = { verify = "no" } }, 'tls.verify must be a boolean, got "no"' },
      { { pool = { max_connections = 0 } }, "pool.max_connections must be an integer >= 1, got 0" },
      { { cache = { ttl = -1 } }, "cache.ttl must be a number >= 0, got -1" },
      { { validation = 1 }, "validation must be a boolean, got 1" },
      { { headers = { ["Bad Name"] = "x" } }, "headers: header name must be a token string" },
      { { headers = { ["X-A"] = "a\r\nInjected: 1" } }, 'headers["X-A"] must not contain CR, LF or NUL' },
      { { user_agent = false }, "user_agent must be a string, got false" },
      { { transport = {} }, "transport must be a transport" },
      { { raise = "yes" }, 'raise must be a boolean, got "yes"' },
      { { api_key = "" }, "api_key must not be empty" },
      { { api_key = "sk-a\nb" }, "api_key must not contain CR, LF or NUL" },
      { { api_key = "sk-a b" }, "api_key must be a bearer token: letters, digits and - . _ ~ + / (then =)" },
      { { api_key = "sk-[redacted]" }, "api_key must be a bearer token" },
      { { retry = { base_delay = -1 } }, "retry.base_delay must be a positive number of seconds" },
    }
    for _, case in ipairs(cases) do
      local opts = { api_key = "sk-x", base_url = server.base_url }
      for k, v in pairs(case[1]) do opts[k] = v end
      local ok, err = pcall(ft.new, opts)
      assert.is_false(ok)
      assert.truthy(err:find("bad argument #1 to 'new' (" .. case[2], 1, true), err)
    end
    assert.has_error(function() ft.new("sk-x") end, 'bad argument #1 to \'new\' (options must be a table, got "sk-x")')
  end)

  it("never echoes the key in a misuse message", function()
    local ok, err = pcall(ft.new, { api_key = "sk-secret\nvalue" })
    assert.is_false(ok)
    assert.falsy(err:find("secret", 1, true))
    ok, err = pcall(ft.new, { api_key = "sk-secret value" })
    assert.is_false(ok)
    assert.falsy(err:find("secret", 1, true))
  end)

  it("blames the caller's line for misuse", function()
    local ok, err = pcall(function()
      local c = ft.new{ api_key = "k", timeout = -5 }
      return c
    end)
    assert.is_false(ok)
    assert.truthy(err:find("client_spec.lua:%d+: bad argument #1 to 'new'"), err)
  end)

  it("strips a trailing slash from base_url", function()
    local c = H.client(server, { base_url = server.base_url .. "/" })
    assert(c:models())
    assert.equal("/v1/models", server:last_request().path)
  end)

  it("applies the documented defaults", function()
    local seen
    local recorder = { request = function(_, req)
      seen = req
      return { status = 200, headers = {}, body = '{"object":"list","data":[]}' }
    end }
    local c = ft.new{ transport = recorder }
    assert(c:models())
    assert.equal(600, seen.timeout)
    assert.equal(10, seen.connect_timeout)
    assert.equal("https://api.openai.com/v1/models", seen.url)
  end)
end)

describe("environment fallbacks", function()
  local server

  setup(function() server = H.start() end)
  before_each(function() server:reset() end)

  local CALL_MODELS = [[
    local ft = require("openai.finetunes")
    local c = ft.new()
    local r, err = c:models()
    if not r then io.stderr:write(tostring(err)) os.exit(3) end
    io.write(tostring(c))
  ]]

  it("reads the key, base URL, organization, project and custom headers", function()
    local ok, out, err = H.run_lua(CALL_MODELS, {
      OPENAI_API_KEY = "  sk-from-env  ",
      OPENAI_BASE_URL = server.base_url,
      OPENAI_ORG_ID = "org-env",
      OPENAI_PROJECT_ID = "proj_env",
      OPENAI_CUSTOM_HEADERS = "X-Team: fine-tuning\nX-Trace:  abc  \n",
    })
    assert.is_true(ok, err)
    assert.truthy(out:find(server.base_url, 1, true))
    local h = server:last_request().headers
    assert.equal(redacted("Bearer sk-from-env"), h.authorization)
    assert.equal("org-env", h["openai-organization"])
    assert.equal("proj_env", h["openai-project"])
    assert.equal("fine-tuning", h["x-team"])
    assert.equal("abc", h["x-trace"])
  end)

  it("treats empty and blank variables as unset", function()
    local ok, _, err = H.run_lua(CALL_MODELS, {
      OPENAI_API_KEY = "sk-env", OPENAI_BASE_URL = server.base_url,
      OPENAI_ORG_ID = "", OPENAI_PROJECT_ID = "   ",
    })
    assert.is_true(ok, err)
    local h = server:last_request().headers
    assert.is_nil(h["openai-organization"])
    assert.is_nil(h["openai-project"])
  end)

  it("lets explicit options win over the environment", function()
    local code = ([[
      local ft = require("openai.finetunes")
      local c = ft.new{ api_key = "sk-option", base_url = %q, organization = "org-option" }
      assert(c:models())
    ]]):format(server.base_url)
    local ok, _, err = H.run_lua(code, {
      OPENAI_API_KEY = "sk-env", OPENAI_BASE_URL = "http://127.0.0.1:1/v1", OPENAI_ORG_ID = "org-env",
    })
    assert.is_true(ok, err)
    local h = server:last_request().headers
    assert.equal(redacted("Bearer sk-option"), h.authorization)
    assert.equal("org-option", h["openai-organization"])
  end)

  it("raises a clear error at new when there is no key", function()
    local ok, _, err = H.run_lua(CALL_MODELS, { OPENAI_API_KEY = "  ", OPENAI_BASE_URL = server.base_url })
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #1 to 'new' (missing API key: pass api_key = ... or set OPENAI_API_KEY)",
      1, true), err)
    assert.equal(0, #server:requests())
  end)

  it("resolves options through an injectable getenv", function()
    local env = { OPENAI_API_KEY = "k", OPENAI_BASE_URL = " http://h:1/v1/ ", OPENAI_CUSTOM_HEADERS = "A: 1\r\nB:2" }
    local r = config.resolve({ headers = { B = "3" } }, function(n) return env[n] end)
    assert.equal("http://h:1/v1", r.base_url)
    assert.same({ A = "1", B = "3" }, r.headers)
    assert.equal(config.DEFAULT_BASE_URL, config.resolve({ api_key = "k" }, function() return nil end).base_url)
    env.OPENAI_CUSTOM_HEADERS = "not a header line"
    assert.has_error(function() config.resolve({}, function(n) return env[n] end) end)
  end)
end)

describe("request headers", function()
  local server, c

  H.each_test(function(s, client) server, c = s, client end,
    { client = { organization = "org-1", project = "proj_1", headers = { ["X-Default"] = "d" } } })

  it("sends Accept, User-Agent, organization, project and default headers", function()
    assert(c:models())
    local h = server:last_request().headers
    assert.equal("application/json", h.accept)
    assert.equal("openai-finetunes-lua/" .. ft._VERSION, h["user-agent"])
    assert.equal("org-1", h["openai-organization"])
    assert.equal("proj_1", h["openai-project"])
    assert.equal("d", h["x-default"])
    assert.is_nil(h["content-type"])
    assert.is_nil(h["idempotency-key"])
  end)

  it("puts the user's product before ours in User-Agent", function()
    local c2 = H.client(server, { user_agent = "my-trainer/2.0" })
    assert(c2:models())
    assert.equal("my-trainer/2.0 openai-finetunes-lua/" .. ft._VERSION, server:last_request().headers["user-agent"])
  end)

  it("lets per-call headers win, case-insensitively, and false remove one", function()
    assert(c:models{ headers = { ["x-default"] = "call", ["OpenAI-Project"] = false, ["X-New"] = "n" } })
    local h = server:last_request().headers
    assert.equal("call", h["x-default"])
    assert.is_nil(h["openai-project"])
    assert.equal("n", h["x-new"])
  end)

  it("sends Idempotency-Key only when asked", function()
    assert(c:models{ idempotency_key = "idem-123" })
    assert.equal("idem-123", server:last_request().headers["idempotency-key"])
  end)

  it("refuses CR/LF in per-call headers and a hand-made Authorization before sending", function()
    assert.has_error(function() c:models{ headers = { ["X-A"] = "a\r\nX-B: b" } } end,
      "bad argument #1 to 'models' (headers[\"X-A\"] must not contain CR, LF or NUL)")
    assert.has_error(function() c:models{ headers = { authorization = "Bearer other" } } end,
      "bad argument #1 to 'models' (headers must not set authorization: the transport adds the credential itself)")
    assert.has_error(function() c:models{ idempotency_key = "a\nb" } end,
      "bad argument #1 to 'models' (idempotency_key must not contain CR, LF or NUL)")
    assert.equal(0, #server:requests())
  end)
end)

describe("results and meta", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end)

  it("returns plain data and meta with the request id, status, headers and attempts", function()
    local list, meta = c:models()
    assert.equal("list", list.object)
    assert.is_nil(list.request_id)
    assert.is_nil(getmetatable(list))
    local logged = server:last_request()
    assert.equal(logged.request_id, meta.request_id)
    assert.truthy(meta.request_id:find("^req_"))
    assert.equal(200, meta.status)
    assert.equal(1, meta.attempts)
    assert.equal(meta.request_id, meta.headers["x-request-id"])
  end)

  it("decodes integers as integers and drops JSON nulls", function()
    local f = assert(c:upload_file{ data = "{}\n", filename = "x.jsonl", purpose = "fine-tune" })
    assert.is_true(H.is_integer(f.bytes))
    assert.is_true(H.is_integer(f.created_at))
    assert.is_nil(f.status_details) -- null on the wire
  end)
end)

describe("the raising variant", function()
  local server

  setup(function() server = H.start() end)
  before_each(function() server:reset() end)

  it("raise = true raises the error object instead of returning nil, err", function()
    local c = H.client(server, { raise = true })
    local ok, err = pcall(c.file, c, "file-missing")
    assert.is_false(ok)
    assert.is_true(ft.is_error(err))
    assert.equal("api", err.kind)
    assert.equal(404, err.status)
    -- success still returns result, meta
    local list, meta = c:models()
    assert.equal("list", list.object)
    assert.equal(200, meta.status)
  end)

  it("client:strict() is a raising view of the same client", function()
    local c = H.client(server)
    local s = c:strict()
    assert.equal(s, c:strict())
    assert.equal(s, s:strict())
    assert.truthy(tostring(s):find("strict", 1, true))
    local f = assert(c:upload_file{ data = "{}\n", filename = "a.jsonl", purpose = "fine-tune" })
    assert.equal(f.id, s:file(f.id).id)
    assert.is_nil((c:file("file-nope")))
    local ok, err = pcall(s.file, s, "file-nope")
    assert.is_false(ok)
    assert.equal(404, err.status)
  end)

  it("keeps misuse messages pointing at the caller", function()
    local s = H.client(server):strict()
    local ok, err = pcall(function()
      local r = s:file(nil)
      return r
    end)
    assert.is_false(ok)
    assert.truthy(err:find("client_spec.lua:%d+: bad argument #1 to 'file' " ..
      "%(id must be a non%-empty string, got nil%)"), err)
  end)
end)

describe("methods", function()
  local server

  setup(function() server = H.start() end)
  before_each(function() server:reset() end)

  it("has one method per endpoint row and nothing lazy", function()
    local c = H.client(server)
    for _, row in ipairs(ft.endpoints) do
      assert.is_function(c[row.name], row.name)
      assert.is_function(c:strict()[row.name], row.name)
    end
    assert.equal(34, #ft.endpoints) -- 33 operations; downloadFile has two methods
    assert.is_nil(c.upload_files)
    assert.has_error(function() c:upload_files{} end)
    assert.equal(0, #server:requests())
  end)

  it("refuses a call without self", function()
    local c = H.client(server)
    assert.has_error(function() c.models() end, "calling 'models' on bad self (use client:models(...))")
    assert.has_error(function() c.file("file-1") end, "calling 'file' on bad self (use client:file(...))")
  end)

  it("can be extended, once per name, on plain and strict clients", function()
    client_module.extend{ spec_model_ids = function(self)
      local list, err = self:models()
      if not list then return nil, err end
      local ids = {}
      for i, m in ipairs(list.data) do ids[i] = m.id end
      return ids
    end }
    local c = H.client(server)
    assert.is_true(#c:spec_model_ids() > 0)
    assert.is_true(#c:strict():spec_model_ids() > 0)
    assert.has_error(function() client_module.extend{ files = function() end } end,
      'client.extend: method "files" is already defined')
  end)

  it("answers nil, err (kind closed) after close", function()
    local c = H.client(server)
    assert(c:models())
    assert.is_true(c:close())
    assert.is_true(c:close())
    local r, err = c:models()
    assert.is_nil(r)
    assert.equal("closed", err.kind)
  end)

  it("closes at the end of a <close> scope on Lua 5.4", function()
    if _VERSION ~= "Lua 5.4" then return end
    local scoped = assert(load([[
      local H, server = ...
      local c <close> = H.client(server)
      assert(c:models())
      return c
    ]]))
    local c = scoped(H, server)
    local r, err = c:models()
    assert.is_nil(r)
    assert.equal("closed", err.kind)
  end)
end)

describe("transport selection", function()
  local server

  setup(function() server = H.start() end)
  before_each(function() server:reset() end)

  it("uses a ready transport as given, with no key needed", function()
    local inner = require("openai.finetunes.transport.curl").new{ api_key = H.API_KEY }
    local seen = 0
    local counting = {
      request = function(_, req)
        seen = seen + 1
        return inner:request(req)
      end,
      sleep = function(_, s) return inner:sleep(s) end,
      now = function() return inner:now() end,
    }
    local c = ft.new{ transport = counting, base_url = server.base_url }
    assert(c:models())
    assert.equal(1, seen)
    assert.equal(redacted("Bearer " .. H.API_KEY), server:last_request().headers.authorization)
    inner:close()
  end)

  it("builds a transport from a module given as transport, handing it the key", function()
    local curl = require("openai.finetunes.transport.curl")
    local got
    local module = { new = function(opts)
      got = opts
      return curl.new(opts)
    end }
    local c = ft.new{ transport = module, api_key = H.API_KEY, base_url = server.base_url, timeout = 7 }
    assert(c:models())
    assert.equal(7, got.timeout)
    assert.equal(H.API_KEY, got.api_key)
  end)
end)

describe("configuration errors", function()
  local misuse = require("openai.finetunes.misuse")

  -- config.resolve's misuse value for opts under the environment env.
  local function problem(opts, env)
    local ok, m = pcall(config.resolve, opts, function(n) return (env or {})[n] end)
    assert.is_false(ok)
    assert.is_true(misuse.is_misuse(m), tostring(m))
    return m
  end

  it("carry a code and the option (or variable) they are about", function()
    local cases = {
      { { api_key = "k", colour = 1 }, nil, "unknown_option", "colour", 'unknown option "colour"' },
      { { api_key = "k", proxy = { port = 1 } }, nil, "unknown_option", "proxy.port", "unknown option proxy.port" },
      { { api_key = "k", timeout = -1 }, nil, "invalid_option", "timeout", "timeout must be a number > 0, got -1" },
      { {}, nil, "missing_credentials", nil, "missing API key: pass api_key = ... or set OPENAI_API_KEY" },
      { { provider = "azure", api_key = "k" }, nil, "missing_endpoint", "endpoint",
        'missing Azure OpenAI endpoint: pass endpoint = "https://NAME.openai.azure.com" or set AZURE_OPENAI_ENDPOINT' },
      { { provider = "azure", endpoint = "https://r.example" }, nil, "missing_credentials", nil,
        "missing Azure OpenAI credentials: pass api_key, azure_ad_token or azure_ad_token_provider, "
          .. "or set AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN" },
      { { api_key = "k", endpoint = "https://r.example" }, nil, "wrong_provider", "endpoint",
        'endpoint is an Azure OpenAI option: add provider = "azure"' },
      { { api_key = "k", headers = {}, default_headers = {} }, nil, "conflicting_options", "default_headers",
        "give headers or default_headers, not both (they are the same option)" },
      { {}, { OPENAI_API_KEY = "k", OPENAI_BASE_URL = "ftp://x" }, "invalid_environment", "OPENAI_BASE_URL",
        'OPENAI_BASE_URL must be an http:// or https:// URL, got "ftp://x"' },
      { {}, { OPENAI_API_TYPE = "azure_ad" }, "invalid_environment", "OPENAI_API_TYPE",
        'OPENAI_API_TYPE must be "openai" or "azure", got "azure_ad"' },
      { { transport = { request = function() end }, auth = { token_provider = function() return "t" end } }, nil,
        "incompatible_transport", "transport",
        "transport has no set_credential method, which auth.token_provider needs" },
    }
    for _, case in ipairs(cases) do
      local m = problem(case[1], case[2])
      assert.are.equal(case[3], m.code, case[5])
      assert.are.equal(case[4], m.field, case[5])
      assert.are.equal(case[5], m.problem)
    end
  end)

  it("come back from ft.try_new as a value; ft.new raises the same message", function()
    local c, bad = ft.try_new{ api_key = "k", colour = 1 }
    assert.is_nil(c)
    assert.are.equal("unknown_option", bad.code)
    assert.are.equal("new", bad.fname)
    assert.are.equal(1, bad.argn)
    assert.are.equal("bad argument #1 to 'new' (unknown option \"colour\")", tostring(bad))
    local ok, err = pcall(function() local r = ft.new{ api_key = "k", colour = 1 } return r end)
    assert.is_false(ok)
    assert.are.equal("string", type(err))
    assert.truthy(err:find("client_spec.lua:%d+: bad argument #1 to 'new' %(unknown option \"colour\"%)$"), err)
    local retry_bad = select(2, ft.try_new{ api_key = "k", retry = { jitter = 2 } })
    assert.are.equal("invalid_option", retry_bad.code)
    assert.are.equal("retry.jitter", retry_bad.field)
    local good = assert(ft.try_new{ api_key = "k", base_url = "http://127.0.0.1:1/v1" })
    assert.is_true(ft.is_client(good))
    good:close()
  end)
end)

describe("misuse on the strict view and in helpers", function()
  local misuse = require("openai.finetunes.misuse")

  it("is raised at the caller's line as a string, on plain and strict clients alike", function()
    local plain = ft.new{ api_key = "k", base_url = "http://127.0.0.1:1/v1" }
    for _, c in ipairs({ plain, plain:strict() }) do
      for _, call in ipairs({
        { function() local r = c:file("") return r end,
          "bad argument #1 to 'file' (id must be a non-empty string, got \"\")" },
        { function() local r = c:each_file{ limti = 1 } return r end,
          "bad argument #1 to 'each_file' (unknown query key" },
        { function() local r = c:wait_for_job("") return r end, "bad argument #1 to 'wait_for_job' (id must be" },
        { function() local r = c:job_metrics("") return r end, "bad argument #1 to 'job_metrics' (id must be" },
        { function() local r = c:batch{ { "file", "" } } return r end,
          "bad argument #1 to 'batch' (calls[1]: bad argument #1 to 'file' (id must be" },
        { function() local r = c:upload_large_file({ file = "/nonexistent/x" }) return r end,
          "bad argument #1 to 'upload_large_file' (file \"/nonexistent/x\" cannot be read" },
      }) do
        local ok, err = pcall(call[1])
        assert.is_false(ok)
        assert.are.equal("string", type(err))
        assert.truthy(err:find("^[^\n]*client_spec%.lua:%d+: "), err)
        assert.truthy(err:find(call[2], 1, true), err)
      end
    end
    plain:close()
  end)

  it("comes back as the value inside misuse.capture", function()
    local c = ft.new{ api_key = "k", base_url = "http://127.0.0.1:1/v1" }
    local ok, m = misuse.capture(c.each_job, c, { limit = 0 })
    assert.is_false(ok)
    assert.is_true(misuse.is_misuse(m))
    assert.are.equal("each_job", m.fname)
    assert.are.equal(1, m.argn)
    assert.are.equal("limit must be an integer >= 1, got 0", m.problem)
    ok, m = misuse.capture(c:strict().job, c:strict(), "")
    assert.is_false(ok)
    assert.are.equal("job", m.fname)
    c:close()
  end)
end)
