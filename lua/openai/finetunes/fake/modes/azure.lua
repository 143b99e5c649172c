-- Azure OpenAI mode of the fake server (option `azure`): what differs from OpenAI's
-- API when the same files / fine-tuning / models routes are served by Azure.
--
--   * auth: an `api-key` header, or `Authorization: Bearer <Microsoft Entra token>`
--   * paths: /openai/v1/<route> (optional api-version=preview|latest) and the dated
--     /openai/<route>?api-version=<served version>
--   * errors: {"error": {"code", "message"[, "param"]}} (no "type")
--   * headers: apim-request-id instead of x-request-id and the openai-* headers
--
-- The fields are the ones modes/openai.lua documents; server.lua asks them and the
-- route handlers never know which mode runs.
local errors = require("openai.finetunes.fake.errors")
local json = require("openai.finetunes.fake.json")
local util = require("openai.finetunes.fake.util")

local M = {}

M.name = "azure"
M.base_path = "/openai/v1"
M.DEFAULT_API_VERSION = "2024-10-21"
-- the only api-version values the v1 layout takes (it needs none)
M.V1_VERSIONS = { "preview", "latest" }

-- The real service's wording; neither ever quotes the key or token that was sent.
local KEY_DENIED = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
  .. "a valid key for an active subscription and use a correct regional API endpoint for your resource."
local TOKEN_DENIED = "Unauthorized. Access token is missing, invalid, audience is incorrect "
  .. "(https://cognitiveservices.azure.com), or have expired."

local Azure = {}
Azure.__index = Azure

-- new(opts): opts.api_key (the only accepted api-key; nil = any non-empty one),
-- opts.api_version (the dated version served), opts.ad_token (the accepted bearer token).
function M.new(opts)
  return setmetatable({
    api_key = opts.api_key,
    api_version = opts.api_version or M.DEFAULT_API_VERSION,
    initial_ad_token = opts.ad_token,
    ad_token = opts.ad_token,
    base_path = M.base_path,
    name = M.name,
  }, Azure)
end

-- reset(): the accepted token goes back to the one the server was started with, so
-- a spec that rotated it leaves a fresh server for the next one.
function Azure:reset()
  self.ad_token = self.initial_ad_token
end

-- set_ad_token(token): from now on only this token is accepted as a bearer token.
function Azure:set_ad_token(token)
  self.ad_token = token
end

------------------------------------------------------------------------------- auth

local function denied(message)
  return errors.new(401, message, nil, nil, "401")
end

-- authenticate(req) -> nil (accepted) | api_error (401)
function Azure:authenticate(req)
  local key = req.headers["api-key"]
  if key and key ~= "" and (not self.api_key or key == self.api_key) then
    return nil
  end
  local auth = req.headers["authorization"]
  local token = auth and auth:match("^[Bb]earer%s+(%S+)%s*$")
  if token and self.ad_token and token == self.ad_token then
    return nil
  end
  -- A bad api-key is reported as such even when a bad token came along with it.
  if auth and not key then
    return denied(TOKEN_DENIED)
  end
  return denied(KEY_DENIED)
end

----------------------------------------------------------------------------- paths

local function not_found()
  return errors.new(404, "Resource not found", nil, nil, "404")
end

-- not_found(req) -> the 404 for a path no route serves
function Azure.not_found()
  return not_found()
end

local function quoted_list(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = "'" .. v .. "'" end
  return table.concat(out, ", ")
end

-- value: the api-version sent (a table when the parameter was repeated)
local function bad_version(value, supported)
  if type(value) == "table" then value = table.concat(value, ",") end
  return errors.new(400, string.format("The api-version '%s' is invalid. The supported versions are %s.",
    tostring(value), quoted_list(supported)), nil, nil, "InvalidApiVersionParameter")
end

local function missing_version()
  return errors.new(400, "The api-version query parameter (?api-version=) is required for all requests.",
    nil, nil, "MissingApiVersionParameter")
end

local function one_of(value, list)
  for _, v in ipairs(list) do
    if v == value then return true end
  end
  return false
end

-- resolve(req, params) -> route path ("/files", as under /v1 in OpenAI mode)
--                          | nil, api_error (400 bad api-version, 404 other paths)
-- params: the decoded query (a repeated api-version arrives as a table: refused).
function Azure:resolve(req, params)
  local path = req.path
  local version = params["api-version"]
  -- "/openai/v1" and "/openai/v1/" belong to the v1 layout too (a 404 there, not a
  -- dated path missing its api-version)
  local v1_route = path:match("^/openai/v1(/.*)$") or (path == "/openai/v1" and "/")
  if v1_route then
    if version ~= nil and not one_of(version, M.V1_VERSIONS) then
      return nil, bad_version(version, M.V1_VERSIONS)
    end
    return v1_route
  end
  local dated_route = path:match("^/openai(/.+)$")
  if not dated_route then
    return nil, not_found()
  end
  if version == nil or version == "" then
    return nil, missing_version()
  end
  if version ~= self.api_version then
    return nil, bad_version(version, { self.api_version })
  end
  return dated_route
end

-- handler_query(params) -> the query a route handler sees: api-version only selects
-- the API surface, so paging and filters never meet it.
function Azure.handler_query(_, params)
  if params["api-version"] == nil then return params end
  local out = {}
  for k, v in pairs(params) do
    if k ~= "api-version" then out[k] = v end
  end
  return out
end

---------------------------------------------------------------------------- answers

-- error_body(api_error) -> Azure's envelope: code (the error's, else the status),
-- message, and param only when set.
function Azure.error_body(_, e)
  local code = e.code
  if code == nil or code == json.null then code = tostring(e.status) end
  local err = { code = tostring(code), message = e.message }
  if e.param ~= nil and e.param ~= json.null then err.param = e.param end
  return json.encode({ error = err })
end

-- request_id() -> a v4-style UUID, the shape apim-request-id has.
function Azure.request_id()
  local hex = util.random_hex(32)
  local variant = ("89ab"):sub(math.random(1, 4)):sub(1, 1)
  return string.format("%s-%s-4%s-%s%s-%s", hex:sub(1, 8), hex:sub(9, 12), hex:sub(14, 16), variant,
    hex:sub(18, 20), hex:sub(21, 32))
end

-- add_headers(h, server, req): apim-request-id instead of the openai-* headers
function Azure.add_headers(_, h, _, req)
  h[#h + 1] = { "apim-request-id", req.request_id }
end

-- describe(server) -> what the "listening on" line says
function Azure:describe(server)
  return string.format("%s (azure mode, api-version %s)", server.endpoint, self.api_version)
end

-- state() -> this mode's fields in GET /_fake/state (never the token)
function Azure:state()
  return { azure = true, api_version = self.api_version }
end

return M
