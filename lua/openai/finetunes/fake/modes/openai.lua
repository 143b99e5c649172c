-- OpenAI mode of the fake server (the default): the facts of api.openai.com that
-- server.lua asks its mode for. Another provider's mode is one more file here with
-- the same fields, named in modes/init.lua.
--
--   * auth: `Authorization: Bearer <key>` (any non-empty key, or only opts.api_key)
--   * paths: /v1/<route>
--   * errors: {"error": {"message", "type", "param", "code"}} (errors.lua)
--   * headers: x-request-id, openai-version, openai-organization, openai-processing-ms
local socket = require("socket")
local errors = require("openai.finetunes.fake.errors")
local util = require("openai.finetunes.fake.util")

local M = {}

M.name = "openai"
-- where the API lives on the server: base_url = endpoint .. base_path
M.base_path = "/v1"

local OpenAI = {}
OpenAI.__index = OpenAI

function M.new(opts)
  return setmetatable({ api_key = opts.api_key, base_path = M.base_path, name = M.name }, OpenAI)
end

-- reset(): nothing of this mode changes at run time.
function OpenAI.reset() end

-- authenticate(req) -> nil (accepted) | api_error (401)
function OpenAI:authenticate(req)
  local auth = req.headers["authorization"]
  local key = auth and auth:match("^[Bb]earer%s+(%S+)%s*$")
  if not key then return errors.missing_key() end
  if self.api_key and key ~= self.api_key then return errors.wrong_key() end
  return nil
end

-- not_found(req) -> the 404 for a path no route serves
function OpenAI.not_found(_, req)
  return errors.unknown_url(req.method, req.path)
end

-- resolve(req, params) -> the route path ("/files") | nil, api_error
-- params: the decoded query
function OpenAI:resolve(req)
  if req.path:sub(1, 4) == "/v1/" then return req.path:sub(4) end
  return nil, self:not_found(req)
end

-- handler_query(params) -> the query a route handler sees
function OpenAI.handler_query(_, params)
  return params
end

function OpenAI.request_id()
  return "req_" .. util.random_hex(32)
end

-- error_body(api_error) -> the answer's body text
function OpenAI.error_body(_, e)
  return errors.body(e)
end

-- add_headers(h, server, req): the provider's headers on an API answer
function OpenAI.add_headers(_, h, server, req)
  h[#h + 1] = { "x-request-id", req.request_id }
  h[#h + 1] = { "openai-version", "2020-10-01" }
  h[#h + 1] = { "openai-organization", server.store.org_name }
  h[#h + 1] = { "openai-processing-ms", tostring(math.floor((socket.gettime() - req.t0) * 1000)) }
end

-- describe(server) -> what the "listening on" line says
function OpenAI.describe(_, server)
  return server.base_url
end

-- state() -> this mode's fields in GET /_fake/state
function OpenAI.state()
  return { azure = false }
end

return M
