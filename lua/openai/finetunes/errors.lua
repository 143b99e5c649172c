-- The one error type of openai.finetunes: every run-time failure (network, HTTP
-- status, API error envelope, unreadable answer) comes back as `nil, err` with
-- one of these. Misuse is not an error object: it raises a plain message
-- (misuse.lua).
local json_decode = require("openai.finetunes.codec").json_decode
local retry = require("openai.finetunes.call.retry")

local type, tostring, setmetatable, getmetatable = type, tostring, setmetatable, getmetatable
local format, gsub, match, sub, byte = string.format, string.gsub, string.match, string.sub, string.byte

local errors = {}

-- What a caller can do about each kind (README "Errors" repeats this list).
errors.kinds = {
  api = "the server answered with an HTTP error status (see status, type, code)",
  connect = "could not connect (refused, unreachable, reset)",
  dns = "the host name did not resolve",
  tls = "TLS handshake or certificate verification failed",
  -- also a wait_for_file / wait_for_job deadline: those carry code = "wait_timeout"
  timeout = "connect, idle or total timeout expired",
  proxy = "the proxy refused or failed",
  -- a local file (err.path, err.os_error: never retried), or the connection mid-exchange
  io = "reading the upload or writing the download failed",
  aborted = "the progress callback stopped the transfer",
  too_large = "the response was bigger than max_response_bytes",
  closed = "the client was closed",
  circuit_open = "the circuit breaker is open: recent calls failed, this one was not sent",
  invalid_response = "a 2xx answer whose body is not the JSON the API promises, or an answer that is not valid HTTP",
  invalid_request = "the transport refused the request before sending it",
  credentials = "the token provider raised an error or returned no usable token",
  no_result_file = "job_metrics on a job that has no result file (yet)",
  -- run / sweep: code state_corrupt, state_version, state_mismatch or state_write
  state = "a workflow state file is unreadable, from a newer version, of other inputs, or cannot be written",
  invalid_data = "run / sweep: the local check or the API refused a training file (err.report, err.file)",
  webhook = "a webhook delivery failed verification (see code: missing_header, no_valid_signature ...)",
}

-- What to do about an API error code (the providers' error_hints), kept on the
-- error as `hint` and shown by tostring (and so by the CLI).
errors.hints = require("openai.finetunes.api.provider").ERROR_HINTS

local Error = { __name = "openai.finetunes.error" }
Error.__index = Error

-- Messages end up in logs and one-line tostrings: keep them to one short line.
local MAX_MESSAGE = 300
-- A server-sent field (type, code, param, request id) in a one-line description.
local MAX_FIELD = 100

local function escape_control(c)
  return format("\\x%02x", byte(c))
end

local function keep_line_control(c)
  if c == "\n" or c == "\t" then return c end
  return escape_control(c)
end

--- Server text made inert for a terminal or a log line: every control byte
-- (NUL, ESC, BEL, CR, DEL ... and the UTF-8 encoded C1 controls, which some
-- terminals obey as ESC sequences) is shown escaped as `\x1b`; `keep_lines`
-- keeps LF and TAB (multi-line CLI output). At most `limit` bytes (default:
-- no limit), cut before a UTF-8 sequence, ending in "...". The one sanitiser:
-- tostring(err) and every CLI output path of server text use it.
function errors.inert(s, limit, keep_lines)
  s = gsub(tostring(s), "%c", keep_lines and keep_line_control or escape_control)
  s = gsub(s, "\194([\128-\159])", function(c) return format("\\u%04x", byte(c)) end)
  if limit and #s > limit then
    local cut = limit - 3
    while cut > 0 and byte(s, cut + 1) and byte(s, cut + 1) >= 0x80 and byte(s, cut + 1) < 0xC0 do cut = cut - 1 end
    s = sub(s, 1, cut) .. "..."
  end
  return s
end

local function one_line(s, limit)
  s = gsub(gsub(tostring(s), "[\r\n\t]+", " "), "^%s+", "")
  s = gsub(s, "%s+$", "")
  return errors.inert(s, limit or MAX_MESSAGE)
end
errors.one_line = one_line

function errors.is_error(x)
  return getmetatable(x) == Error
end

-- fields: kind (required), message, status, type, code, param, request_id,
-- retry_after, attempts, headers, body, cause.
function errors.new(fields)
  return setmetatable(fields, Error)
end

function Error:__tostring()
  -- every server-supplied piece escaped and bounded: the full values stay in the fields
  local parts = { self.kind, " error" }
  if self.status then parts[#parts + 1] = " " .. one_line(self.status, MAX_FIELD) end
  if self.type then parts[#parts + 1] = " " .. one_line(self.type, MAX_FIELD) end
  if self.code and self.code ~= self.type then parts[#parts + 1] = " (" .. one_line(self.code, MAX_FIELD) .. ")" end
  parts[#parts + 1] = ": " .. one_line(self.message or errors.kinds[self.kind] or "unknown error")
  if self.param then parts[#parts + 1] = " [param " .. one_line(self.param, MAX_FIELD) .. "]" end
  if self.request_id then parts[#parts + 1] = " [request " .. one_line(self.request_id, MAX_FIELD) .. "]" end
  if self.attempts and self.attempts > 1 then parts[#parts + 1] = " after " .. self.attempts .. " attempts" end
  if self.hint then parts[#parts + 1] = "; " .. self.hint end
  return table.concat(parts)
end

-- The positive Retry-After hint of an answer, in seconds: the retry policy's
-- reading (retry-after-ms, then Retry-After as seconds or an HTTP date).
errors.retry_after = retry.retry_after

local function string_or_nil(v)
  if type(v) == "string" and v ~= "" then return v end
  if type(v) == "number" then return tostring(v) end
  return nil
end

-- A non-JSON error body (a proxy's HTML page, plain text): a short message.
local function describe_raw_body(status, body)
  if body == nil or body == "" then return format("HTTP %d with an empty body", status) end
  local title = match(body, "<[Tt][Ii][Tt][Ll][Ee][^>]*>(.-)</[Tt][Ii][Tt][Ll][Ee]>")
  if title and match(title, "%S") then return one_line(title, 120) end
  if match(body, "^%s*<") then
    local h1 = match(body, "<[Hh]1[^>]*>(.-)</[Hh]1>")
    if h1 and match(h1, "%S") then return one_line(gsub(h1, "<[^>]*>", ""), 120) end
    return format("HTTP %d with an HTML body", status)
  end
  return one_line(body, 200)
end

-- The id a service gave the exchange: the first of the providers'
-- request-id headers the answer has (provider.lua: OpenAI's x-request-id,
-- Azure's apim-request-id).
local REQUEST_ID_HEADERS = require("openai.finetunes.api.provider").REQUEST_ID_HEADERS
local ID1, ID2 = REQUEST_ID_HEADERS[1], REQUEST_ID_HEADERS[2]

if #REQUEST_ID_HEADERS <= 2 then
  -- (unrolled: every answer's meta asks; t[nil] is nil)
  function errors.request_id(headers)
    return headers[ID1] or headers[ID2]
  end
else
  function errors.request_id(headers)
    for i = 1, #REQUEST_ID_HEADERS do
      local v = headers[REQUEST_ID_HEADERS[i]]
      if v then return v end
    end
    return nil
  end
end

-- A non-2xx transport response -> error. The OpenAI envelope is
-- {"error": {"message", "type", "param", "code"}}; Azure OpenAI's is the same
-- without "type" ({"error": {"code": "invalidPayload", "message": ...}}).
function errors.from_response(res, attempts)
  local status, headers, body = res.status, res.headers or {}, res.body
  local e = {
    kind = "api", status = status, headers = headers, attempts = attempts,
    request_id = errors.request_id(headers), retry_after = errors.retry_after(headers),
  }
  local decoded = type(body) == "string" and body ~= "" and json_decode(body) or nil
  local envelope = type(decoded) == "table" and decoded.error
  if type(envelope) == "table" then
    e.message = string_or_nil(envelope.message)
    e.type = string_or_nil(envelope.type)
    e.code = string_or_nil(envelope.code)
    e.param = string_or_nil(envelope.param)
    e.body = decoded
  elseif type(envelope) == "string" then
    e.message = envelope
    e.body = decoded
  elseif type(decoded) == "table" and string_or_nil(decoded.message) then
    -- Azure API Management answers for itself: {"statusCode": 401, "message": ...}
    e.message = string_or_nil(decoded.message)
    e.code = string_or_nil(decoded.code)
    e.body = decoded
  elseif decoded ~= nil then
    e.message = one_line(body, 200)
    e.body = decoded
  else
    e.message = describe_raw_body(status, body)
    e.body = body
  end
  e.message = e.message or format("HTTP %d", status)
  e.hint = e.code and errors.hints[e.code]
  return errors.new(e)
end

-- A transport error table ({kind, message, ...}) -> error.
function errors.from_transport(err, attempts)
  if errors.is_error(err) then
    if attempts and not err.attempts then err.attempts = attempts end
    return err
  end
  if type(err) ~= "table" then err = { kind = "io", message = tostring(err) } end
  local kind = type(err.kind) == "string" and err.kind or "io"
  return errors.new {
    kind = kind,
    message = err.message and one_line(err.message) or errors.kinds[kind],
    attempts = attempts,
    status = err.status,
    curl_code = err.curl_code,
    retry_after = err.retry_after,
    cause = err.callback_error,
    -- a failure on this machine: the file, and what the OS said
    path = err.path,
    os_error = err.os_error,
  }
end

-- A 2xx whose body is not what the operation promises.
function errors.invalid_response(res, attempts, why)
  local headers = res.headers or {}
  return errors.new {
    kind = "invalid_response", status = res.status, headers = headers, attempts = attempts,
    request_id = errors.request_id(headers),
    message = "the response is not valid JSON: " .. one_line(why, 120),
    body = res.body,
  }
end

-- True for the failures a later attempt can cure, by the retry policy's rules
-- (retry.lua: transport kinds, statuses, x-should-retry). `policy` is a
-- client's (client:_policy(): its retry.statuses apply), else the default.
-- The retry layer decides for itself; this is for callers that retry whole
-- workflows.
local default_policy = retry.policy()

function errors.retryable(err, policy)
  if not errors.is_error(err) then return false end
  policy = policy or default_policy
  if err.kind == "api" then return policy:retryable({ status = err.status, headers = err.headers }) end
  return policy:retryable(nil, err)
end

-- Raising an error object (the strict view, ft.assert). Users catch it with pcall and read
-- err.kind, so it is the table wherever something can catch it. Lua 5.1's standalone
-- interpreter is the one place that cannot show a table: its lua.c prints "(error object
-- is not a string)" for anything but a string or number (5.2's calls __tostring, as do
-- 5.3, 5.4 and LuaJIT). So on PUC Lua 5.1 only, when no pcall/xpcall is on the stack and
-- we run on the main coroutine (a resume hands the error back: it may be inspected), the
-- error can only end the script: it is raised as its one-line description.
local PUC_LUA_51 = _VERSION == "Lua 5.1" and rawget(_G, "jit") == nil
local getinfo, running = require("debug").getinfo, coroutine.running
local pcall_fn, xpcall_fn = pcall, xpcall

local function catchable()
  local co, main = running()
  if co and not main then return true end -- on 5.1 running() is nil on the main coroutine
  local level = 3
  while true do
    local info = getinfo(level, "f")
    if not info then return false end
    if info.func == pcall_fn or info.func == xpcall_fn then return true end
    level = level + 1
  end
end

function errors.raise(err)
  if PUC_LUA_51 and not catchable() then error(tostring(err), 0) end
  error(err, 0)
end

return errors
