-- Fault injection: rules installed with POST /_fake/faults, or one fault per request
-- through the header `x-fake-fault: <name>[;param][;key=value...]`.
--
-- A fault either replaces the answer (the handler never runs: no side effects),
-- transforms the real answer (the handler runs, then the answer is damaged on the
-- wire), or changes how the request is read (slow_upload). See fake/README.md.
local http = require("openai.finetunes.fake.http")
local json = require("openai.finetunes.fake.json")

local M = {}

-- name -> { kind = "replace" | "transform" | "read", main = name of the bare param }
local KINDS = {
  status = { kind = "replace", main = "retry_after" },
  rate_limit = { kind = "replace", main = "retry_after" },
  reset = { kind = "replace", main = "when" },
  close = { kind = "replace", main = "when" },
  html_502 = { kind = "replace" },
  not_json = { kind = "replace", main = "content_type" },
  huge = { kind = "replace", main = "bytes" },
  stall = { kind = "transform", main = "seconds" },
  stall_body = { kind = "transform", main = "seconds" },
  reset_mid_body = { kind = "transform", main = "bytes" },
  truncated = { kind = "transform", main = "bytes" },
  slow_body = { kind = "transform", main = "rate" },
  slow_upload = { kind = "read", main = "rate" },
}
M.kinds = KINDS

local function coerce(v)
  if type(v) ~= "string" then return v end
  if v == "true" then return true end
  if v == "false" then return false end
  return tonumber(v) or v
end

-- normalize("429;retry_after=2") or {name = "429", retry_after = 2} ->
-- {name = "status", status = 429, retry_after = 2} | nil, err
function M.normalize(spec)
  local f = {}
  if type(spec) == "string" then
    local first = true
    for piece in (spec .. ";"):gmatch("([^;]*);") do
      piece = piece:match("^%s*(.-)%s*$")
      if first then
        f.name = piece
        first = false
      elseif piece ~= "" then
        local k, v = piece:match("^([%w_]+)%s*=%s*(.*)$")
        if k then
          f[k] = coerce(v)
        else
          f._bare = coerce(piece)
        end
      end
    end
  elseif type(spec) == "table" then
    for k, v in pairs(spec) do f[k] = v end
    f.name = f.name or f.type
    f.type = nil
  else
    return nil, "fault must be a string or an object"
  end
  local name = tostring(f.name or "")
  if name:match("^%d%d%d$") then
    f.status = tonumber(name)
    name = "status"
  elseif name == "rate_limit" then
    f.status = 429
  end
  f.name = name
  local kind = KINDS[name]
  if not kind then
    return nil, "unknown fault '" .. name .. "'"
  end
  if name == "status" then
    f.status = tonumber(f.status)
    if not f.status or f.status < 100 or f.status > 599 then
      return nil, "status fault needs a status between 100 and 599"
    end
  end
  if f._bare ~= nil then
    if kind.main and f[kind.main] == nil then f[kind.main] = f._bare end
    f._bare = nil
  end
  f.kind = kind.kind
  return f
end

-- rules ---------------------------------------------------------------------------

local Faults = {}
Faults.__index = Faults

function M.new()
  return setmetatable({ rules = {}, next_id = 1 }, Faults)
end

-- add(rule): rule = {match = {method, path}, times = n (default 1; -1 = forever),
-- skip = n (let n matching requests through first), fault = spec}
function Faults:add(rule)
  if type(rule) ~= "table" then return nil, "a rule must be an object" end
  local fault, err = M.normalize(rule.fault)
  if not fault then return nil, err end
  local match = rule.match or {}
  if type(match) ~= "table" then return nil, "match must be an object" end
  if match.path and not pcall(string.find, "", match.path) then
    return nil, "match.path is not a valid Lua pattern"
  end
  local times = tonumber(rule.times) or 1
  local r = {
    id = "rule_" .. self.next_id,
    match = { method = match.method and tostring(match.method):upper(), path = match.path },
    times = times, skip = tonumber(rule.skip) or 0, fault = fault, hits = 0,
    spec = rule.fault,
  }
  self.next_id = self.next_id + 1
  self.rules[#self.rules + 1] = r
  return r
end

function Faults:clear()
  self.rules = {}
end

function Faults:list()
  local out = json.array()
  for _, r in ipairs(self.rules) do
    out[#out + 1] = { id = r.id, match = r.match, times = r.times, skip = r.skip, hits = r.hits, fault = r.spec }
  end
  return out
end

-- A rule's path pattern sees the path as requested; in azure mode also its /v1 twin
-- (req.api_path: /openai/v1/files and /openai/files?api-version=... are /v1/files), so
-- rules written for OpenAI's layout keep working.
local function path_matches(req, pattern)
  if req.path:find(pattern) then return true end
  return req.api_path ~= nil and req.api_path ~= req.path and req.api_path:find(pattern) ~= nil
end

-- pick(req) -> fault | nil, err (a malformed x-fake-fault header)
function Faults:pick(req)
  local header = req.headers["x-fake-fault"]
  if header then
    return M.normalize(header)
  end
  for i, r in ipairs(self.rules) do
    local m = r.match
    if (not m.method or m.method == req.method) and (not m.path or path_matches(req, m.path)) then
      if r.skip > 0 then
        r.skip = r.skip - 1
      else
        r.hits = r.hits + 1
        if r.times > 0 then
          r.times = r.times - 1
          if r.times == 0 then table.remove(self.rules, i) end
        end
        return r.fault
      end
    end
  end
  return nil
end

-- answers ---------------------------------------------------------------------------

local DEFAULT_ERRORS = {
  [400] = { "Bad request.", "invalid_request_error" },
  [408] = { "Request timed out.", "timeout" },
  [409] = { "The request conflicted with another request in progress. Please retry.", "invalid_request_error" },
  [429] = { "Rate limit reached for requests in organization org-fake on requests per min (RPM): Limit 60, "
    .. "Used 60, Requested 1. Please try again in 1s.", "requests", "rate_limit_exceeded" },
  [500] = { "The server had an error while processing your request. Sorry about that!", "server_error" },
  [502] = { "Bad gateway.", "server_error" },
  [503] = { "The server is overloaded or not ready yet.", "server_error" },
  [504] = { "Gateway timeout.", "server_error" },
}

local function status_response(f)
  local status = f.status
  local d = DEFAULT_ERRORS[status] or { "Injected error.", status >= 500 and "server_error" or "invalid_request_error" }
  local headers = {}
  if f.retry_after ~= nil then headers[#headers + 1] = { "retry-after", tostring(f.retry_after) } end
  if f.retry_after_date ~= nil then
    headers[#headers + 1] = { "retry-after", http.date(os.time() + (tonumber(f.retry_after_date) or 0)) }
  end
  if f.retry_after_ms ~= nil then headers[#headers + 1] = { "retry-after-ms", tostring(f.retry_after_ms) } end
  if f.should_retry ~= nil then headers[#headers + 1] = { "x-should-retry", tostring(f.should_retry) } end
  if status == 429 then
    headers[#headers + 1] = { "x-ratelimit-limit-requests", "60" }
    headers[#headers + 1] = { "x-ratelimit-remaining-requests", "0" }
    headers[#headers + 1] = { "x-ratelimit-reset-requests", "1s" }
  end
  if type(f.headers) == "table" then
    for k, v in pairs(f.headers) do headers[#headers + 1] = { tostring(k), tostring(v) } end
  end
  local body = f.body
  if type(body) == "table" then body = json.encode(body) end
  if body == nil then
    -- an error object: the server writes it in the envelope of its mode (OpenAI / Azure)
    local errors = require("openai.finetunes.fake.errors")
    body = errors.new(status, f.message or d[1], f.error_type or d[2], nil, f.code or d[3])
  end
  return { status = status, body = body, headers = headers, content_type = f.content_type or "application/json" }
end

local HTML_502 = [[<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>cloudflare</center>
</body>
</html>
]]

-- replacement(f) -> response table for a "replace" fault (nil for reset/close)
function M.replacement(f)
  if f.name == "status" or f.name == "rate_limit" then
    return status_response(f)
  elseif f.name == "html_502" then
    return { status = 502, body = f.body or HTML_502, content_type = "text/html" }
  elseif f.name == "not_json" then
    return { status = tonumber(f.status) or 200, body = f.body or "<html><body>OK</body></html>\n",
      content_type = f.content_type or "text/html" }
  elseif f.name == "huge" then
    return { status = 200, huge = tonumber(f.bytes) or 100 * 1024 * 1024, chunked = f.chunked == true,
      content_type = f.content_type or "application/json" }
  end
  return nil
end

return M
