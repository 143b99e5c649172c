-- Provider profiles: the same client and the same workflow against Azure OpenAI
-- (v1 and dated API, key and Entra token auth, token refresh after a 401), and
-- the generic knobs underneath (auth header and scheme, default_query,
-- default_headers). Everything runs through the real C core against the fake
-- server in its Azure mode.
local ft = require("openai.finetunes")
local config = require("openai.finetunes.config")
local H = require("spec.support.client_helper")
local logged = require("openai.finetunes.fake.reqlog").redact_credential

local KEY = "azkey0123456789abcdefSECRETabcdef"
local TOKEN = "eyJhbGciOi.eyJhdWQiOi.SECRETsig-tok1"
local TOKEN2 = "eyJhbGciOi.eyJhdWQiOi.SECRETsig-tok2"
local VERSION = "2024-10-21"

local function getenv_of(t)
  return function(name) return t[name] end
end

-- The message of a misuse raised by `fn`, without the position.
local function misuse_of(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected a raise")
  return (tostring(err):gsub("^[^\n]-:%d+: ", ""))
end

describe("the azure profile", function()
  local function resolve(opts, env)
    return config.resolve(opts, getenv_of(env or {}))
  end

  it("uses the v1 API without api_version and the dated API with it", function()
    local r = resolve{ provider = "azure", endpoint = "https://res.openai.azure.com/", api_key = KEY }
    assert.equals("https://res.openai.azure.com/openai/v1", r.base_url)
    assert.is_nil(r.default_query)
    assert.equals("api-key", r.auth_header)
    assert.equals("", r.auth_scheme)
    r = resolve{ provider = "azure", endpoint = "https://res.openai.azure.com", api_key = KEY, api_version = VERSION }
    assert.equals("https://res.openai.azure.com/openai", r.base_url)
    assert.same({ ["api-version"] = VERSION }, r.default_query)
  end)

  it("reads the variables the SDKs' AzureOpenAI clients read, and never an OpenAI key or URL", function()
    local env = {
      OPENAI_API_TYPE = "azure", AZURE_OPENAI_ENDPOINT = " https://res.openai.azure.com ",
      AZURE_OPENAI_API_KEY = KEY, OPENAI_API_VERSION = VERSION,
      OPENAI_API_KEY = "sk-openai-must-not-travel", OPENAI_BASE_URL = "https://api.openai.com/v1",
      OPENAI_ORG_ID = "org-x", OPENAI_PROJECT_ID = "proj-x",
    }
    local r = resolve({}, env)
    assert.equals("azure", r.provider)
    assert.equals("https://res.openai.azure.com/openai", r.base_url)
    assert.equals(KEY, r.api_key)
    assert.is_nil(r.organization)
    assert.is_nil(r.project)
    -- a token in the environment wins over a key, as in the SDKs
    env.AZURE_OPENAI_AD_TOKEN = TOKEN
    r = resolve({}, env)
    assert.equals(TOKEN, r.api_key)
    assert.equals("Authorization", r.auth_header)
    assert.equals("Bearer", r.auth_scheme)
    -- options win over the environment
    r = resolve({ provider = "openai", api_key = "sk-x" }, env)
    assert.equals("https://api.openai.com/v1", r.base_url)
  end)

  it("refuses what cannot work, naming the options", function()
    local function bad(opts, env)
      return misuse_of(function() resolve(opts, env) end)
    end
    assert.matches("missing Azure OpenAI endpoint: pass endpoint", bad{ provider = "azure", api_key = KEY })
    assert.matches("missing Azure OpenAI credentials: pass api_key, azure_ad_token or azure_ad_token_provider",
      bad{ provider = "azure", endpoint = "https://r.openai.azure.com" }, nil, true)
    assert.equals("give one credential, not api_key and azure_ad_token",
      bad{ provider = "azure", endpoint = "https://r", api_key = KEY, azure_ad_token = TOKEN })
    assert.equals('endpoint is an Azure OpenAI option: add provider = "azure"',
      bad{ api_key = "sk-x", endpoint = "https://r.openai.azure.com" })
    assert.equals('api_version is an Azure OpenAI option: add provider = "azure"',
      bad{ api_key = "sk-x", api_version = VERSION })
    assert.matches('^auth cannot be combined with provider = "azure"',
      bad{ provider = "azure", endpoint = "https://r", api_key = KEY, auth = { header = "x" } })
    assert.equals("give endpoint or base_url, not both",
      bad{ provider = "azure", endpoint = "https://r", base_url = "https://g/v1", api_key = KEY })
    assert.equals('provider must be "openai" or "azure", got "bedrock"', bad{ provider = "bedrock" })
    assert.equals('OPENAI_API_TYPE must be "openai" or "azure", got "azure_ad"',
      bad({}, { OPENAI_API_TYPE = "azure_ad" }))
    assert.equals('api_version must be a version such as "2024-10-21", got "2024 10 21"',
      bad{ provider = "azure", endpoint = "https://r", api_key = KEY, api_version = "2024 10 21" })
    assert.equals("azure_ad_token_provider must be a function, got string",
      bad{ provider = "azure", endpoint = "https://r", azure_ad_token_provider = TOKEN })
    -- a bad secret is described, never echoed
    local msg = bad{ provider = "azure", endpoint = "https://r", azure_ad_token = TOKEN .. " x" }
    assert.equals("azure_ad_token must be a bearer token: letters, digits and - . _ ~ + / (then =)", msg)
    msg = bad({ provider = "azure", endpoint = "https://r" }, { AZURE_OPENAI_API_KEY = KEY .. "\tx" })
    assert.equals("AZURE_OPENAI_API_KEY must be a bearer token: letters, digits and - . _ ~ + / (then =)", msg)
  end)

  it("keeps a gateway's base_url as given, with api-version when asked", function()
    local r = config.resolve({ provider = "azure", base_url = "https://gw.example/azure/openai", api_key = KEY,
      api_version = VERSION }, getenv_of({ AZURE_OPENAI_ENDPOINT = "https://ignored" }))
    assert.equals("https://gw.example/azure/openai", r.base_url)
    assert.same({ ["api-version"] = VERSION }, r.default_query)
  end)
end)

describe("the generic knobs", function()
  local server

  setup(function() server = H.start() end)
  before_each(function() server:reset() end)

  it("send the key in any header with any scheme, and refuse that header per call", function()
    local c = ft.new{ base_url = server.base_url, api_key = "gw-key-1", auth = { header = "X-Gateway-Key" },
      max_retries = 0 }
    -- the fake server wants a bearer key: the gateway header alone is a 401
    local _, err = c:models()
    assert.equals(401, err.status)
    local sent = server:last_request().headers
    assert.equals(logged("gw-key-1"), sent["x-gateway-key"])
    assert.is_nil(sent.authorization)
    assert.equals("bad argument #1 to 'models' (headers must not set x-gateway-key: the transport adds the credential "
      .. "itself)", misuse_of(function() c:models{ headers = { ["x-gateway-key"] = "other" } } end))
    c = ft.new{ base_url = server.base_url, api_key = "gw-key-1",
      auth = { header = "Authorization", scheme = "Token" } }
    c:models()
    assert.equals(logged("Token gw-key-1"), server:last_request().headers.authorization)
  end)

  it("add default_query to every request, under the call's own query", function()
    local c = H.client(server, { default_query = { tenant = "t1", limit = 5 } })
    assert(c:models())
    assert.equals("limit=5&tenant=t1", server:last_request().query)
    assert(c:jobs{ limit = 2 })
    assert.equals("limit=2&tenant=t1", server:last_request().query)
    assert.matches("default_query%[\"x\"%] must be a string, number or boolean, got table",
      misuse_of(function() H.client(server, { default_query = { x = {} } }) end))
  end)

  it("take default_headers (the SDKs' name) or headers, not both", function()
    local c = H.client(server, { default_headers = { ["X-Team"] = "ml" } })
    assert(c:models())
    assert.equals("ml", server:last_request().headers["x-team"])
    assert.equals("bad argument #1 to 'new' (give headers or default_headers, not both (they are the same option))",
      misuse_of(function() H.client(server, { headers = {}, default_headers = {} }) end))
  end)

  it("take a token provider for any endpoint (auth.token_provider)", function()
    local calls = 0
    local c = ft.new{ base_url = server.base_url, auth = { token_provider = function()
      calls = calls + 1
      return "sk-from-provider-" .. calls
    end } }
    assert(c:models())
    assert(c:models())
    assert.equals(2, calls)
    assert.equals(logged("Bearer sk-from-provider-2"), server:last_request().headers.authorization)
  end)
end)

describe("Azure OpenAI", function()
  local dated, v1, keyed

  setup(function()
    v1 = H.start{ azure = true, ad_token = TOKEN }
    dated = H.start{ azure = true, api_version = VERSION }
    keyed = H.start{ azure = true, api_key = KEY }
  end)
  before_each(function()
    v1:reset()
    dated:reset()
  end)

  local function azure(server, opts)
    local o = { provider = "azure", endpoint = server.endpoint, max_retries = 0 }
    if not (opts and (opts.azure_ad_token or opts.azure_ad_token_provider)) then o.api_key = KEY end
    for k, v in pairs(opts or {}) do o[k] = v end
    return ft.new(o)
  end

  it("v1: sends the key as api-key to /openai/v1 without a version", function()
    local c = azure(v1)
    local page = assert(c:files())
    assert.same({}, page.data)
    local entry = v1:last_request()
    assert.equals("/openai/v1/files", entry.path)
    assert.equals(logged(KEY), entry.headers["api-key"])
    assert.is_nil(entry.headers.authorization)
    assert.equals("", entry.query or "")
  end)

  it("dated: adds api-version to every request, the call's query too", function()
    local c = azure(dated, { api_version = VERSION })
    local file = assert(c:upload_file{ file = H.TRAIN, purpose = "fine-tune" })
    assert(c:file(file.id))
    assert(c:files{ limit = 1 })
    local reqs = dated:requests()
    assert.equals(3, #reqs)
    assert.equals("/openai/files", reqs[1].path)
    assert.equals("api-version=" .. VERSION, reqs[1].query)
    assert.equals("/openai/files/" .. file.id, reqs[2].path)
    assert.equals("api-version=" .. VERSION .. "&limit=1", reqs[3].query)
  end)

  it("dated: a version the service does not serve is an api error naming it", function()
    local c = azure(dated, { api_version = "2023-05-15" })
    local _, err = c:files()
    assert.equals("api", err.kind)
    assert.equals(400, err.status)
    assert.equals("InvalidApiVersionParameter", err.code)
    assert.matches("2023%-05%-15", err.message)
  end)

  it("turns Azure's error bodies into the one error type, with apim-request-id", function()
    local c = azure(v1)
    local _, err, meta
    _, err = c:file("file-nope")
    assert.equals("api", err.kind)
    assert.equals(404, err.status)
    assert.is_nil(err.type)
    assert.is_string(err.message)
    local entry = v1:last_request()
    assert.equals(entry.request_id, err.request_id)
    assert.equals(entry.request_id, err.headers["apim-request-id"])
    assert.matches("^api error 404", tostring(err))
    assert.matches("%[request " .. entry.request_id:gsub("%-", "%%-") .. "%]", tostring(err))
    _, meta = assert(c:files())
    assert.equals(v1:last_request().request_id, meta.request_id)
    -- a wrong key: 401 in Azure's shape, the key nowhere in the error
    local wrong = azure(keyed, { api_key = "not" .. KEY })
    _, err = wrong:files()
    assert.equals(401, err.status)
    assert.equals("401", err.code)
    assert.matches("Access denied", err.message)
    assert.is_nil(tostring(err):find(KEY, 1, true))
    assert(azure(keyed):files())
  end)

  it("sends an Entra token as Authorization: Bearer, never as api-key", function()
    local c = azure(v1, { azure_ad_token = TOKEN })
    assert(c:files())
    local sent = v1:last_request().headers
    assert.equals(logged("Bearer " .. TOKEN), sent.authorization)
    assert.is_nil(sent["api-key"])
  end)

  describe("azure_ad_token_provider", function()
    -- A provider that hands out `current`, except `stale` times the previous token.
    local provider, state
    before_each(function()
      state = { current = TOKEN, previous = nil, stale = 0, calls = 0 }
      provider = function()
        state.calls = state.calls + 1
        if state.stale > 0 then
          state.stale = state.stale - 1
          return state.previous
        end
        return state.current
      end
    end)

    local function rotate()
      v1:set_ad_token(TOKEN2)
      state.previous, state.current, state.stale = TOKEN, TOKEN2, 1
    end

    it("is asked before each request", function()
      local c = azure(v1, { azure_ad_token_provider = provider })
      assert(c:files())
      assert(c:models())
      assert.equals(2, state.calls)
      assert.equals(logged("Bearer " .. TOKEN), v1:last_request().headers.authorization)
    end)

    it("is asked again once after a 401, and the request is sent again with the new token", function()
      local c = azure(v1, { azure_ad_token_provider = provider })
      assert(c:files())
      rotate()
      local page = assert(c:files())
      assert.same({}, page.data)
      assert.equals(3, state.calls)
      local reqs = v1:requests()
      assert.equals(3, #reqs)
      assert.equals(logged("Bearer " .. TOKEN), reqs[2].headers.authorization)
      assert.equals(logged("Bearer " .. TOKEN2), reqs[3].headers.authorization)
    end)

    it("does not loop on a 401 that a new token does not cure", function()
      local c = azure(v1, { azure_ad_token_provider = function()
        state.calls = state.calls + 1
        return "stale-" .. state.calls
      end })
      local _, err = c:files()
      assert.equals(401, err.status)
      assert.equals(2, state.calls)
      assert.equals(2, #v1:requests())
      assert.is_nil(tostring(err):find("stale-", 1, true))
    end)

    it("refreshes calls run concurrently (batch over start/poll) the same way", function()
      local c = azure(v1, { azure_ad_token_provider = provider })
      local file = assert(c:upload_file{ file = H.TRAIN, purpose = "fine-tune" })
      rotate()
      state.stale = 3 -- every call of the batch starts with the old token
      local results, failed = c:batch{ { "file", file.id }, { "files" }, { "models" } }
      assert.equals(0, failed)
      assert.equals(file.id, results[1][1].id)
      local old, new = logged("Bearer " .. TOKEN), logged("Bearer " .. TOKEN2)
      local by_token = { [old] = 0, [new] = 0 }
      for _, r in ipairs(v1:requests()) do
        if r.path ~= "/openai/v1/files" or r.method ~= "POST" then
          local t = r.headers.authorization
          by_token[t] = by_token[t] + 1
        end
      end
      assert.same({ [old] = 3, [new] = 3 }, by_token)
    end)

    it("fails the call with kind credentials when it raises or returns no token", function()
      for _, case in ipairs({
        { function() error("token endpoint unreachable") end,
          "azure_ad_token_provider raised an error: .*token endpoint unreachable" },
        { function() return nil end, "azure_ad_token_provider must return a token string, got nil" },
        { function() return TOKEN .. " trailing" end,
          "azure_ad_token_provider returned a string that is not a bearer token" },
      }) do
        local c = azure(v1, { azure_ad_token_provider = case[1], max_retries = 2 })
        local _, err = c:files()
        assert.is_true(ft.is_error(err))
        assert.equals("credentials", err.kind)
        assert.matches(case[2], err.message)
        assert.is_nil(tostring(err):find("SECRET", 1, true))
        assert.is_false(ft.errors.retryable(err))
      end
      assert.equals(0, #v1:requests())
    end)

    it("needs a transport that can take a credential", function()
      local msg = misuse_of(function()
        ft.new{ provider = "azure", endpoint = v1.endpoint, azure_ad_token_provider = provider,
          transport = { request = function() end } }
      end)
      assert.equals("bad argument #1 to 'new' (transport has no set_credential method, which "
        .. "azure_ad_token_provider needs)", msg)
    end)
  end)

  it("keeps the key and the token out of tostring, errors and the verbose trace", function()
    local code = [[
local ft = require("openai.finetunes")
local endpoint, key, token = arg[1], arg[2], arg[3]
local a = ft.new{ provider = "azure", endpoint = endpoint, api_key = key, verbose = true, max_retries = 0 }
assert(a:files())
local _, err = a:file("file-nope")
io.stderr:write("ERR ", tostring(err), "\n", tostring(a), "\n", tostring(a:_transport()), "\n")
local b = ft.new{ provider = "azure", endpoint = endpoint, verbose = true, max_retries = 0,
  azure_ad_token_provider = function() return token end }
assert(b:files())
io.stderr:write(tostring(b), "\n", tostring(b:_transport()), "\n")
print("done")
]]
    local ok, out, err = H.run_lua(code, {}, { v1.endpoint, KEY, TOKEN })
    assert.is_true(ok, out .. err)
    assert.equals("done\n", out)
    assert.truthy(err:find("api-key: [redacted]", 1, true), err)
    assert.truthy(err:lower():find("authorization: [redacted]", 1, true), err)
    assert.truthy(err:find("ERR api error 404", 1, true), err)
    assert.is_nil(err:find("SECRET", 1, true), err)
  end)
end)

-- examples/workflow.lua with only its ft.new() line changed, as the README's
-- "After January 2027" section tells users to do.
describe("the workflow example, unchanged but for ft.new", function()
  local example = H.read("examples/workflow.lua")

  local function run_workflow(server, new_call, env)
    local code, n = example:gsub("local client = ft%.new%(%)", function() return "local client = " .. new_call end)
    assert.equals(1, n, "examples/workflow.lua has no `local client = ft.new()` line")
    env.POLL_INTERVAL = "0.05"
    server:reset{ speed = 50 }
    local ok, out, err = H.run_lua(code, env, { H.TRAIN })
    assert.is_true(ok, out .. err)
    assert.truthy(out:find("The job has successfully completed", 1, true), out)
    assert.truthy(out:find("deleted model ft:", 1, true), out)
    assert.truthy(out:find("fine%-tuned model: ft:%S+%s*$"), out)
    assert.is_nil((out .. err):find("SECRET", 1, true))
    local reqs = server:requests()
    assert.is_true(#reqs > 10)
    return reqs
  end

  it("runs against OpenAI (the fake server's OpenAI mode)", function()
    local server = H.start()
    local reqs = run_workflow(server, "ft.new()",
      { OPENAI_API_KEY = "sk-SECRET-openai", OPENAI_BASE_URL = server.base_url })
    for _, r in ipairs(reqs) do assert.matches("^/v1/", r.path) end
  end)

  it("runs against Azure's v1 API with a key", function()
    local server = H.start{ azure = true }
    local reqs = run_workflow(server, 'ft.new{ provider = "azure" }',
      { AZURE_OPENAI_ENDPOINT = server.endpoint, AZURE_OPENAI_API_KEY = KEY, OPENAI_API_KEY = "sk-SECRET-openai" })
    for _, r in ipairs(reqs) do
      assert.matches("^/openai/v1/", r.path)
      assert.equals(logged(KEY), r.headers["api-key"])
      assert.is_nil(r.headers.authorization)
    end
  end)

  it("runs against Azure's dated API", function()
    local server = H.start{ azure = true, api_version = VERSION }
    local reqs = run_workflow(server, 'ft.new{ provider = "azure" }',
      { AZURE_OPENAI_ENDPOINT = server.endpoint, AZURE_OPENAI_API_KEY = KEY, OPENAI_API_VERSION = VERSION })
    for _, r in ipairs(reqs) do
      assert.matches("^/openai/[^v]", r.path)
      assert.equals(VERSION, r.params["api-version"])
    end
  end)

  it("runs against Azure with an Entra token provider, through a token expiry", function()
    local server = H.start{ azure = true, ad_token = TOKEN }
    -- At its 6th call the provider's cached token expires (the service takes
    -- only the new one from then on) but it still hands out the old one: the
    -- 401 makes the client ask again, and the new one goes out.
    local new_call = ([[ft.new{ provider = "azure", azure_ad_token_provider = (function()
      local calls, token = 0, %q
      return function()
        calls = calls + 1
        if calls == 6 then
          require("openai.finetunes.fake").control_request(%d, "POST", "/_fake/ad_token", '{"token":"' .. %q .. '"}')
        elseif calls == 7 then
          token = %q
        end
        return token
      end
    end)() }]]):format(TOKEN, server.port, TOKEN2, TOKEN2)
    local reqs = run_workflow(server, new_call, { AZURE_OPENAI_ENDPOINT = server.endpoint })
    local tokens, refused = {}, {}
    for i, r in ipairs(reqs) do
      tokens[i] = r.headers.authorization
      if r.status == 401 then refused[#refused + 1] = i end
    end
    assert.same({ 6 }, refused)
    for i = 1, 6 do assert.equals(logged("Bearer " .. TOKEN), tokens[i]) end
    for i = 7, #reqs do assert.equals(logged("Bearer " .. TOKEN2), tokens[i]) end
  end)
end)
