-- Providers: how one OpenAI-compatible service is reached, one table each,
-- with every fact about it. A provider turns the options a user gives (and
-- the environment variables its official SDK reads) into the generic
-- settings underneath: `base_url`, the credential (`api_key` sent as
-- `auth_header: [auth_scheme ]key`, or a `token_provider` called before each
-- request) and `default_query` added to every request. config.lua checks the
-- options and calls `resolve`; errors.lua reads `request_id_headers`; the
-- openai-ft command reads `flags` and `env` for its help and its messages.
--
--   name                "openai" | "azure": the `provider` option's value
--   label               how messages name the service
--   options             options only this provider takes: name -> kind (a
--                       check in config.lua: "url", "version", "credential", "function")
--   env                 option -> the environment variable its SDK reads
--   credential          the default credential line: {header, scheme}
--   request_id_headers  response headers that carry the service's request id
--   error_hints         API error code -> what to do about it (errors.lua keeps
--                       it on the error as `hint`; tostring and the CLI show it)
--   flags               the openai-ft flag of each option it names
--   flag_help           the help of each flag only this provider has, in order:
--                       { option, metavar, what [, note after its default] }; openai-ft
--                       lists them with the others and passes each to ft.new
--   resolve(r, opts, env, check)
--                       fills in base_url, api_key, auth_header, auth_scheme,
--                       token_provider, default_query; `env(option)` reads the
--                       trimmed, non-empty variable of that option (env above);
--                       `check(option, value, where)` re-checks a value that
--                       came from the environment. Raises (misuse.fail) for
--                       combinations that cannot work, naming the options, with
--                       a code (README "Configuration errors").
--
-- Adding a provider: one table here, listed in M.LIST, and its mode in the
-- fake server (fake/modes/<name>.lua, named in fake/modes/init.lua) for the specs.
local misuse = require("openai.finetunes.misuse")

local pairs, ipairs, format = pairs, ipairs, string.format

local fail = misuse.fail

local M = {}

-- OpenAI, api.openai.com, or any compatible endpoint (base_url, auth = {...},
-- default_query); the variables openai-python and openai-node read.
M.openai = {
  name = "openai",
  label = "OpenAI",
  base_url = "https://api.openai.com/v1",
  options = {},
  env = { api_key = "OPENAI_API_KEY", base_url = "OPENAI_BASE_URL", organization = "OPENAI_ORG_ID",
    project = "OPENAI_PROJECT_ID" },
  credential = { header = "Authorization", scheme = "Bearer" },
  request_id_headers = { "x-request-id" },
  flags = { api_key = "--api-key", base_url = "--base-url" },
  error_hints = {
    -- since 2026-05-07 OpenAI refuses new fine-tuning jobs to more and more
    -- organizations, and to all from 2027-01-06 (OpenAI's deprecations page)
    training_not_available = "OpenAI no longer creates fine-tuning jobs for this organization (self-serve "
      .. "fine-tuning is winding down; fine-tuned models keep serving): train on Azure OpenAI "
      .. "(provider = \"azure\", openai-ft --provider azure) or through an OpenAI-compatible gateway (base_url)",
  },
}

-- Azure OpenAI, as the SDKs' AzureOpenAI clients reach it
-- (https://learn.microsoft.com/azure/ai-services/openai/reference): the
-- resource endpoint, the v1 API or a dated one (api-version), an `api-key`
-- header or an Entra ID token as `Authorization: Bearer`. Never reads an
-- OPENAI_* credential or URL: an OpenAI key must not travel to another service.
M.azure = {
  name = "azure",
  label = "Azure OpenAI",
  options = { endpoint = "url", api_version = "version", azure_ad_token = "credential",
    azure_ad_token_provider = "function" },
  env = { endpoint = "AZURE_OPENAI_ENDPOINT", api_key = "AZURE_OPENAI_API_KEY",
    azure_ad_token = "AZURE_OPENAI_AD_TOKEN", api_version = "OPENAI_API_VERSION" },
  credential = { header = "api-key", scheme = "" },
  -- Azure OpenAI sends x-request-id too; its gateway's own errors only apim-request-id
  request_id_headers = { "x-request-id", "apim-request-id" },
  flags = { api_key = "--api-key", endpoint = "--endpoint", api_version = "--api-version" },
  flag_help = {
    { "endpoint", "URL", "Azure OpenAI resource, https://NAME.openai.azure.com" },
    { "api_version", "V", "Azure's dated API, e.g. 2024-10-21", "none: the v1 API" },
  },
}

-- In the order messages list them.
M.LIST = { M.openai, M.azure }
M.DEFAULT = "openai"
M.DEFAULT_BASE_URL = M.openai.base_url
-- The variable that picks the provider when the option is absent (the SDKs'
-- OPENAI_API_TYPE).
M.ENV = "OPENAI_API_TYPE"

M.NAMES = {}
M.OPTIONS = {} -- every provider-only option -> its provider
M.REQUEST_ID_HEADERS = {}
M.ERROR_HINTS = {} -- every provider's error_hints, by code
do
  local names, seen = {}, {}
  for i, p in ipairs(M.LIST) do
    M.NAMES[p.name] = p
    names[i] = format("%q", p.name)
    for option in pairs(p.options) do M.OPTIONS[option] = p end
    for code, hint in pairs(p.error_hints or {}) do M.ERROR_HINTS[code] = hint end
    for _, h in ipairs(p.request_id_headers) do
      if not seen[h] then
        seen[h] = true
        M.REQUEST_ID_HEADERS[#M.REQUEST_ID_HEADERS + 1] = h
      end
    end
  end
  M.QUOTED_NAMES = table.concat(names, " or ", #names - 1, #names)
  if #names > 2 then M.QUOTED_NAMES = table.concat(names, ", ", 1, #names - 2) .. ", " .. M.QUOTED_NAMES end
end

-- Options of another provider given to `p`: refused, naming the one they belong to.
local function refuse_foreign(p, opts)
  for option, owner in pairs(M.OPTIONS) do
    if owner ~= p and opts[option] ~= nil then
      fail(format('%s is an %s option: add provider = "%s"', option, owner.label, owner.name),
        { field = option, code = "wrong_provider" })
    end
  end
end
M.refuse_foreign = refuse_foreign

function M.openai.resolve(r, opts, env, check)
  refuse_foreign(M.openai, opts)
  local options = {}
  for option in pairs(M.openai.env) do options[#options + 1] = option end
  table.sort(options)
  for _, option in ipairs(options) do
    if opts[option] == nil then
      local v = env(option)
      if v then r[option] = check(option, v) end
    end
  end
  r.base_url = r.base_url or M.openai.base_url
  local auth = r.auth or {}
  r.auth_header = auth.header or M.openai.credential.header
  -- A Bearer credential by default in Authorization; any other header (an
  -- API gateway's x-api-key, api-key) carries the key alone unless told.
  r.auth_scheme = auth.scheme or (r.auth_header:lower() == "authorization" and M.openai.credential.scheme or "")
  r.token_provider = auth.token_provider
  r.token_provider_name = "auth.token_provider"
  if r.api_key == nil and r.token_provider == nil then
    r.missing = { code = "missing_credentials", problem = "missing API key: pass api_key = ... or set OPENAI_API_KEY" }
  end
  return r
end

local function azure_credentials(r, opts, env, check)
  local given = {}
  for _, name in ipairs({ "api_key", "azure_ad_token", "azure_ad_token_provider" }) do
    if opts[name] ~= nil then given[#given + 1] = name end
  end
  if #given > 1 then
    fail(format("give one credential, not %s and %s", given[1], given[2]),
      { field = given[2], code = "conflicting_options" })
  end
  -- The SDKs prefer a token to a key when both come from the environment.
  if #given == 0 then
    local token = env("azure_ad_token")
    if token then
      r.azure_ad_token = check("azure_ad_token", token)
    else
      local key = env("api_key")
      if key then r.api_key = check("api_key", key) end
    end
  end
  if r.azure_ad_token_provider then
    r.api_key = nil
    r.auth_header, r.auth_scheme = "Authorization", "Bearer"
    r.token_provider = r.azure_ad_token_provider
    r.token_provider_name = "azure_ad_token_provider"
  elseif r.azure_ad_token then
    r.api_key = r.azure_ad_token
    r.auth_header, r.auth_scheme = "Authorization", "Bearer"
  elseif r.api_key then
    r.auth_header, r.auth_scheme = M.azure.credential.header, M.azure.credential.scheme
  else
    r.missing = { code = "missing_credentials", problem = "missing Azure OpenAI credentials: pass api_key, "
      .. "azure_ad_token or azure_ad_token_provider, or set AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN" }
  end
  r.azure_ad_token, r.azure_ad_token_provider = nil, nil
end

function M.azure.resolve(r, opts, env, check)
  refuse_foreign(M.azure, opts)
  if opts.auth ~= nil then
    fail('auth cannot be combined with provider = "azure" (the profile sets the credential header);'
      .. ' use provider = "openai" with base_url and auth for a gateway', { field = "auth", code = "wrong_provider" })
  end
  if opts.endpoint ~= nil and opts.base_url ~= nil then
    fail("give endpoint or base_url, not both", { field = "endpoint", code = "conflicting_options" })
  end
  if r.endpoint == nil and r.base_url == nil then
    local v = env("endpoint")
    if v then r.endpoint = check("endpoint", v) end
  end
  if r.api_version == nil then
    local v = env("api_version")
    if v then r.api_version = check("api_version", v) end
  end
  if r.endpoint == nil and r.base_url == nil then
    fail("missing Azure OpenAI endpoint: pass endpoint = \"https://NAME.openai.azure.com\" "
      .. "or set AZURE_OPENAI_ENDPOINT", { field = "endpoint", code = "missing_endpoint" })
  end
  -- v1 API without a version; the dated API with api-version on every request.
  -- A base_url (a gateway in front of Azure) is used as given.
  if r.endpoint then
    r.base_url = r.endpoint .. (r.api_version and "/openai" or "/openai/v1")
  end
  if r.api_version then
    local q = {}
    for k, v in pairs(r.default_query or {}) do q[k] = v end
    q["api-version"] = r.api_version
    r.default_query = q
  end
  azure_credentials(r, opts, env, check)
  return r
end

return M
