-- Client options: type checks, defaults, environment fallbacks.
-- `config.resolve(opts, getenv)` takes the getenv to use so specs can inject one.
local misuse = require("openai.finetunes.misuse")
local url_refusal = require("openai.finetunes.transport.exchange").url_refusal
local provider = require("openai.finetunes.api.provider")

local type, pairs, tostring = type, pairs, tostring
local math_type = rawget(math, "type")
local find, match, gsub, gmatch, format = string.find, string.match, string.gsub, string.gmatch, string.format

local config = {}

config.DEFAULT_BASE_URL = provider.DEFAULT_BASE_URL

config.DEFAULTS = {
  timeout = 600, connect_timeout = 10, max_retries = 2, validation = true, compression = true,
}

local fail = misuse.fail
local describe = misuse.describe

local function is_integer(v)
  if math_type then return math_type(v) == "integer" or (math_type(v) == "float" and v == math.floor(v)) end
  return type(v) == "number" and v == math.floor(v)
end

-- RFC 7230 token characters: a header name (or auth scheme) that passes cannot split a request.
local TOKEN = "^[%w!#$%%&'*+%-.^_`|~]+$"

local function check_header_name(name, where)
  if type(name) ~= "string" or not find(name, TOKEN) then
    fail(format("%s: header name must be a token string, got %s", where, describe(name)))
  end
end

local function check_header_value(value, where)
  if type(value) ~= "string" then
    fail(format("%s must be a string, got %s", where, describe(value)))
  end
  if find(value, "[\r\n%z]") then
    fail(format("%s must not contain CR, LF or NUL", where))
  end
end
config.check_header_name = check_header_name
config.check_header_value = check_header_value

local function check_table(v, name)
  if type(v) ~= "table" then fail(format("%s must be a table, got %s", name, describe(v))) end
  return v
end

-- headers = {Name = "value" | false}; false removes a default header.
function config.check_headers(h, where)
  check_table(h, where)
  for name, value in pairs(h) do
    check_header_name(name, where)
    if value ~= false then check_header_value(value, format("%s[%q]", where, name)) end
  end
  return h
end

local function check_number(v, name, min, allow_zero)
  if type(v) ~= "number" or v ~= v or v == math.huge or v < min or (not allow_zero and v == min) then
    fail(format("%s must be a number %s %s, got %s", name, allow_zero and ">=" or ">", tostring(min), describe(v)))
  end
  return v
end

local function check_integer(v, name, min)
  if type(v) ~= "number" or not is_integer(v) or v < min then
    fail(format("%s must be an integer >= %d, got %s", name, min, describe(v)))
  end
  return v
end

local function check_boolean(v, name)
  if type(v) ~= "boolean" then fail(format("%s must be a boolean, got %s", name, describe(v))) end
  return v
end

local function check_string(v, name)
  if type(v) ~= "string" then fail(format("%s must be a string, got %s", name, describe(v))) end
  return v
end

local function check_fields(t, name, fields)
  check_table(t, name)
  for k, v in pairs(t) do
    local check = fields[k]
    if not check then
      fail(format("unknown option %s.%s", name, tostring(k)),
        { field = name .. "." .. tostring(k), code = "unknown_option" })
    end
    check(v, name .. "." .. k)
  end
  return t
end

local function check_base_url(v, name)
  check_string(v, name)
  local why = url_refusal(v)
  if why and find(why, "credentials", 1, true) then -- never echoed: it holds a password
    fail(format("%s %s", name, gsub(why, "^url ", "")))
  end
  if why or not find(v, "^[Hh][Tt][Tt][Pp][Ss]?://[^/%s]") then
    fail(format("%s must be an http:// or https:// URL, got %s", name, describe(v)))
  end
  return (gsub(v, "/+$", ""))
end

-- RFC 6750 b64token: what a Bearer credential may hold. Anything else could
-- not be sent as is, and a space or ']' would defeat the redaction of the key
-- in libcurl's messages and the verbose trace. (Azure keys and Entra JWTs fit.)
-- token_auth.lua checks a token provider's answers with it too.
function config.is_bearer_token(v)
  return type(v) == "string" and find(v, "^[%w%-%._~%+/]+=*$") ~= nil
end

local function check_api_key(v, name)
  check_string(v, name)
  -- Never echo the key: describe it only by what is wrong.
  if v == "" then fail(name .. " must not be empty") end
  if find(v, "[\r\n%z]") then fail(name .. " must not contain CR, LF or NUL") end
  if not config.is_bearer_token(v) then
    fail(name .. " must be a bearer token: letters, digits and - . _ ~ + / (then =)")
  end
  return v
end

local function check_optional_value(v, name)
  check_header_value(v, name)
  if v == "" then return nil end
  return v
end

local function check_proxy(v, name)
  if type(v) == "string" then v = { url = v } end
  return check_fields(v, name, {
    url = check_string, username = check_string, password = check_string, no_proxy = check_string,
  })
end

local function check_tls(v, name)
  return check_fields(v, name, {
    verify = check_boolean, ca_file = check_string, ca_path = check_string,
    cert_file = check_string, key_file = check_string, key_password = check_string,
  })
end

-- (Only the type is named: a token given where its provider goes is a secret.)
local function check_function(v, name)
  if type(v) ~= "function" then fail(format("%s must be a function, got %s", name, type(v))) end
  return v
end

local function check_token(v, name)
  if type(v) ~= "string" or not find(v, TOKEN) then
    fail(format("%s must be a header name (a token), got %s", name, describe(v)))
  end
  return v
end

-- auth = { header = "api-key", scheme = "" | "Bearer" | "Token", token_provider = fn }
local function check_auth(v, name)
  return check_fields(v, name, {
    header = check_token,
    scheme = function(x, n)
      if x == "" then return x end
      return check_token(x, n)
    end,
    token_provider = check_function,
  })
end

-- default_query = { ["api-version"] = "2024-10-21" }: flat, sent on every request.
local function check_default_query(v, name)
  check_table(v, name)
  for k, x in pairs(v) do
    if type(k) ~= "string" or k == "" then fail(format("%s keys must be non-empty strings", name)) end
    local t = type(x)
    if t ~= "string" and t ~= "number" and t ~= "boolean" then
      fail(format("%s[%q] must be a string, number or boolean, got %s", name, k, describe(x)))
    end
  end
  return v
end

local function check_provider(v, name)
  if not provider.NAMES[v] then fail(format('%s must be %s, got %s', name, provider.QUOTED_NAMES, describe(v))) end
  return v
end

-- "2024-10-21", "2025-04-01-preview": sent as a query value, kept plain.
local function check_api_version(v, name)
  check_string(v, name)
  if not find(v, "^[%w][%w%-%._]*$") then
    fail(format("%s must be a version such as \"2024-10-21\", got %s", name, describe(v)))
  end
  return v
end

local function check_positive_integer(v, name)
  return check_integer(v, name, 1)
end

local function check_pool(v, name)
  return check_fields(v, name, { max_connections = check_positive_integer })
end

local function check_cache(v, name)
  return check_fields(v, name, { ttl = function(x, n) return check_number(x, n, 0, true) end })
end

-- circuit_breaker = false: no breaker, the same as leaving it out (its
-- fields are checked by retry.policy).
local function check_breaker(v, name)
  if v ~= false and type(v) ~= "table" then
    fail(format("%s must be a table or false, got %s", name, describe(v)))
  end
  return v
end

local function check_http_version(v, name)
  if v ~= "2" and v ~= "1.1" then fail(format('%s must be "2" or "1.1", got %s', name, describe(v))) end
  return v
end

-- A ready transport object (has :request) or a transport module (has .new).
-- v[key] without raising: a userdata without __index would.
local function field_of(v, key)
  if type(v) == "table" then return v[key] end
  if type(v) ~= "userdata" then return nil end
  local ok, x = pcall(function() return v[key] end)
  return ok and x or nil
end

local function check_transport(v, name)
  if type(field_of(v, "request")) ~= "function" and type(field_of(v, "new")) ~= "function" then
    fail(format("%s must be a transport (a table with a request method) or a transport module"
      .. " (a table with new), got %s", name, describe(v)))
  end
  return v
end

local OPTIONS = {
  api_key = check_api_key,
  base_url = check_base_url,
  provider = check_provider,
  auth = check_auth,
  default_query = check_default_query,
  organization = check_optional_value,
  project = check_optional_value,
  timeout = function(v, n) return check_number(v, n, 0) end,
  connect_timeout = function(v, n) return check_number(v, n, 0) end,
  idle_timeout = function(v, n) return check_number(v, n, 0) end,
  max_retries = function(v, n) return check_integer(v, n, 0) end,
  retry = check_table,
  circuit_breaker = check_breaker,
  http_version = check_http_version,
  compression = check_boolean,
  proxy = check_proxy,
  tls = check_tls,
  pool = check_pool,
  cache = check_cache,
  validation = check_boolean,
  headers = function(v, n) return config.check_headers(v, n) end,
  default_headers = function(v, n) return config.check_headers(v, n) end,
  user_agent = function(v, n)
    check_header_value(v, n)
    return v
  end,
  transport = check_transport,
  raise = check_boolean,
  max_response_bytes = check_positive_integer,
  verbose = check_boolean,
  -- (only its type is named: it is a secret)
  webhook_secret = function(v, n)
    if type(v) ~= "string" or v == "" then fail(format("%s must be a non-empty string, got %s", n, type(v))) end
    return v
  end,
}
-- The options only one provider takes (provider.lua), by the kind of value.
local KINDS = { url = check_base_url, version = check_api_version, credential = check_api_key,
  ["function"] = check_function }
for option, p in pairs(provider.OPTIONS) do
  OPTIONS[option] = assert(KINDS[p.options[option]], "provider option kind")
end
config.OPTIONS = OPTIONS

-- An option's check; its misuse names the option and says it is invalid
-- unless the check gave a code of its own.
local function check_option(name, v, where, code)
  local ok, r = pcall(OPTIONS[name], v, where)
  if ok then return r end
  if misuse.is_misuse(r) and r.code == nil then
    r.code = code
    r.field = r.field or where
  end
  error(r, 0)
end

-- Environment values are trimmed; empty means unset (what the SDKs' readEnv does).
local function env(getenv, name)
  local v = getenv(name)
  if type(v) ~= "string" then return nil end
  v = match(v, "^%s*(.-)%s*$")
  if v == "" then return nil end
  return v
end

-- OPENAI_CUSTOM_HEADERS: one "Name: value" per line.
function config.parse_custom_headers(text)
  local headers = {}
  for line in gmatch(text, "[^\r\n]+") do
    local name, value = match(line, "^%s*([^:%s][^:]-)%s*:%s*(.-)%s*$")
    if name then
      check_header_name(name, "OPENAI_CUSTOM_HEADERS")
      headers[name] = value
    elseif match(line, "%S") then
      fail("OPENAI_CUSTOM_HEADERS: each line must be 'Name: value'")
    end
  end
  return headers
end

-- opts -> resolved settings. Raises a misuse error (see misuse.lua) naming the
-- option. The provider profile (provider.lua) fills in base_url, the credential
-- and its header, and default_query. The key, when present, is in the result
-- only to be handed to the transport; client.lua does not keep it.
function config.resolve(opts, getenv)
  getenv = getenv or os.getenv
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    fail("options must be a table, got " .. describe(opts), { code = "invalid_option" })
  end
  local r = {}
  for k, v in pairs(opts) do
    if not OPTIONS[k] then fail("unknown option " .. describe(k), { field = k, code = "unknown_option" }) end
    r[k] = check_option(k, v, k, "invalid_option")
  end
  for k, v in pairs(config.DEFAULTS) do
    if r[k] == nil then r[k] = v end
  end

  if opts.headers ~= nil and opts.default_headers ~= nil then
    fail("give headers or default_headers, not both (they are the same option)",
      { field = "default_headers", code = "conflicting_options" })
  end
  r.headers = r.headers or r.default_headers
  r.default_headers = nil

  -- what the SDKs read for client.webhooks.unwrap (workflow/webhooks.lua)
  r.webhook_secret = r.webhook_secret or env(getenv, "OPENAI_WEBHOOK_SECRET")
  local chosen = r.provider
  if chosen == nil then
    local v = env(getenv, provider.ENV)
    if v then
      local ok, why = pcall(check_provider, v, provider.ENV)
      if not ok then
        why.field, why.code = provider.ENV, "invalid_environment"
        error(why, 0)
      end
    end
    chosen = v or provider.DEFAULT
  end
  r.provider = chosen
  local p = provider.NAMES[chosen]
  -- the provider reads the variables of its options, checked as the options are
  local function read_env(option) return env(getenv, p.env[option]) end
  local function check_env(option, v)
    return check_option(option, v, p.env[option], "invalid_environment")
  end
  p.resolve(r, opts, read_env, check_env)

  -- Custom headers from the environment first, then the headers option on top.
  local headers = {}
  local custom = env(getenv, "OPENAI_CUSTOM_HEADERS")
  if custom then
    local ok, parsed = pcall(config.parse_custom_headers, custom)
    if not ok then
      if misuse.is_misuse(parsed) then parsed.field, parsed.code = "OPENAI_CUSTOM_HEADERS", "invalid_environment" end
      error(parsed, 0)
    end
    for hname, value in pairs(parsed) do headers[hname] = value end
  end
  for name, value in pairs(r.headers or {}) do headers[name] = value end
  r.headers = headers

  -- A ready transport brings its own auth; every other path needs a credential.
  local ready_transport = r.transport and type(field_of(r.transport, "request")) == "function"
  if r.missing and not ready_transport then fail(r.missing.problem, { code = r.missing.code }) end
  r.missing = nil
  if r.token_provider and ready_transport and type(field_of(r.transport, "set_credential")) ~= "function" then
    fail(format("transport has no set_credential method, which %s needs", r.token_provider_name),
      { field = "transport", code = "incompatible_transport" })
  end
  return r
end

return config
