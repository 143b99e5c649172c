-- Provider profiles: how one OpenAI-compatible service is reached. A profile
-- turns the options a user gives (and the environment variables its official
-- SDK reads) into the generic settings underneath: `base_url`, the credential
-- (`api_key` sent as `auth_header: [auth_scheme ]key`, or a `token_provider`
-- called before each request) and `default_query` added to every request.
--
--   openai  api.openai.com or any compatible endpoint (base_url, auth = {...},
--           default_query): OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID,
--           OPENAI_PROJECT_ID
--   azure   Azure OpenAI (what the SDKs' AzureOpenAI clients do): endpoint,
--           api_version, api_key (sent as `api-key`), azure_ad_token or
--           azure_ad_token_provider (sent as `Authorization: Bearer`);
--           AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY, AZURE_OPENAI_AD_TOKEN,
--           OPENAI_API_VERSION. Never reads an OPENAI_* credential or URL: an
--           OpenAI key must not travel to another service.
--
-- `config.lua` has checked each option's type before a profile runs; a profile
-- raises (misuse.fail) for combinations that cannot work, naming the options.
local misuse = require("openai.finetunes.misuse")

local pairs, ipairs, format = pairs, ipairs, string.format

local fail = misuse.fail

local M = {}

M.DEFAULT_BASE_URL = "https://api.openai.com/v1"
M.AZURE_API_KEY_HEADER = "api-key"
M.NAMES = { openai = true, azure = true }

-- Options only one profile understands.
local AZURE_ONLY = { "endpoint", "api_version", "azure_ad_token", "azure_ad_token_provider" }
local OPENAI_ONLY = { "auth" }

-- (r, opts, env, check) -> r with base_url, api_key, auth_header, auth_scheme,
-- token_provider, default_query filled in. `env(name)` reads a trimmed,
-- non-empty environment variable; `check[name](value, where)` re-checks a value
-- that came from the environment.

function M.openai(r, opts, env, check)
  for _, name in ipairs(AZURE_ONLY) do
    if opts[name] ~= nil then
      fail(format('%s is an Azure OpenAI option: add provider = "azure"', name))
    end
  end
  for _, pair in ipairs({
    { "api_key", "OPENAI_API_KEY" }, { "base_url", "OPENAI_BASE_URL" },
    { "organization", "OPENAI_ORG_ID" }, { "project", "OPENAI_PROJECT_ID" },
  }) do
    local name, var = pair[1], pair[2]
    if opts[name] == nil then
      local v = env(var)
      if v then r[name] = check[name](v, var) end
    end
  end
  r.base_url = r.base_url or M.DEFAULT_BASE_URL
  local auth = r.auth or {}
  r.auth_header = auth.header or "Authorization"
  -- A Bearer credential by default in Authorization; any other header (an
  -- API gateway's x-api-key, api-key) carries the key alone unless told.
  r.auth_scheme = auth.scheme or (r.auth_header:lower() == "authorization" and "Bearer" or "")
  r.token_provider = auth.token_provider
  r.token_provider_name = "auth.token_provider"
  if r.api_key == nil and r.token_provider == nil then
    r.missing_credentials = "missing API key: pass api_key = ... or set OPENAI_API_KEY"
  end
  return r
end

local function azure_credentials(r, opts, env, check)
  local given = {}
  for _, name in ipairs({ "api_key", "azure_ad_token", "azure_ad_token_provider" }) do
    if opts[name] ~= nil then given[#given + 1] = name end
  end
  if #given > 1 then
    fail(format("give one credential, not %s and %s", given[1], given[2]))
  end
  -- The SDKs prefer a token to a key when both come from the environment.
  if #given == 0 then
    local token = env("AZURE_OPENAI_AD_TOKEN")
    if token then
      r.azure_ad_token = check.azure_ad_token(token, "AZURE_OPENAI_AD_TOKEN")
    else
      local key = env("AZURE_OPENAI_API_KEY")
      if key then r.api_key = check.api_key(key, "AZURE_OPENAI_API_KEY") end
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
    r.auth_header, r.auth_scheme = M.AZURE_API_KEY_HEADER, ""
  else
    r.missing_credentials = "missing Azure OpenAI credentials: pass api_key, azure_ad_token or "
      .. "azure_ad_token_provider, or set AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN"
  end
  r.azure_ad_token, r.azure_ad_token_provider = nil, nil
end

function M.azure(r, opts, env, check)
  for _, name in ipairs(OPENAI_ONLY) do
    if opts[name] ~= nil then
      fail(format('%s cannot be combined with provider = "azure" (the profile sets the credential header);'
        .. ' use provider = "openai" with base_url and auth for a gateway', name))
    end
  end
  if opts.endpoint ~= nil and opts.base_url ~= nil then
    fail("give endpoint or base_url, not both")
  end
  if r.endpoint == nil and r.base_url == nil then
    local v = env("AZURE_OPENAI_ENDPOINT")
    if v then r.endpoint = check.endpoint(v, "AZURE_OPENAI_ENDPOINT") end
  end
  if r.api_version == nil then
    local v = env("OPENAI_API_VERSION")
    if v then r.api_version = check.api_version(v, "OPENAI_API_VERSION") end
  end
  if r.endpoint == nil and r.base_url == nil then
    fail("missing Azure OpenAI endpoint: pass endpoint = \"https://NAME.openai.azure.com\" "
      .. "or set AZURE_OPENAI_ENDPOINT")
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
