-- openai.finetunes.transport.exchange: one HTTP exchange with no network I/O, the
-- rules of a request and what its answer becomes, for every transport.
--
-- Shaped after hiredis' reader and nghttp2's session: the library holds the
-- protocol state, an adapter only moves bytes and waits (HACKING.md, "The
-- transport contract").
--
--   exchange.check(req, auth_name)     -> nil | err   the request rules alone
--       (transport/curl.lua runs this before the C core: libcurl builds the wire)
--   exchange.header_refusal(name, auth_name) -> nil | why   one header's rule
--       (the client layer raises it as misuse before building a req)
--   exchange.through_proxy(res, err, proxy) -> res, err  what a proxy's failure becomes
--
--   local x, err = exchange.new(req, opts)   -- check + normalise; opens the sink's temp file
--   x.url (http1.split_url), x.head (fragments for sock:send), x:body_source()
--   x:begin(now)                     the clocks start: total deadline, idle
--   x:wait(now [, resumable]) -> seconds | nil, err   how long the next socket operation may wait
--   x:expired(doing) -> true | nil, err   a read timed out: the progress tick (go on) or a timeout
--   x:timed_out(doing) -> nil, err   a socket operation's timeout, named idle or total
--   x:sent(n) -> true | nil, err     n body bytes went out (progress)
--   x:received(data | nil) -> "more" | "done", res, reusable | "fail", err   (nil = EOF)
--   x:fail(kind, message) -> nil, err   ends it: the temp file is removed
--   x:abort()                        idempotent; for cancel, close and every error path
--
-- Local file I/O is the exchange's (the upload is read through transport/multipart.lua;
-- a download goes to `sink .. ".part-<hex>"`, renamed onto sink when the answer is a
-- complete 2xx and removed on every other outcome). Sockets and waiting are the adapter's.
--
-- Where the body goes (memory up to max_response_bytes, or the sink's temp file), what
-- the timeouts mean and what a callback's stop becomes are C functions the curl
-- transport calls too (src/exchange/, handed over as codec.response, codec.timer,
-- codec.progress_failure): one rule for both, never a Lua twin.
local codec = require("openai.finetunes.codec")
local http1 = require("openai.finetunes.transport.http1")
local multipart = require("openai.finetunes.transport.multipart")

local type, tostring, tonumber, pairs, ipairs, pcall, error, setmetatable =
  type, tostring, tonumber, pairs, ipairs, pcall, error, setmetatable
local find, format, lower, match = string.find, string.format, string.lower, string.match
local sort = table.sort
local new_response, new_timer, progress_failure = codec.response, codec.timer, codec.progress_failure

local M = {}

M.DEFAULT_MAX_RESPONSE = codec.default_max_response_bytes -- held in memory per answer (src/exchange/response.h)

-- What a request may carry (src/exchange/request.h): the functions the curl
-- transport's C core applies too.
local is_token, header_problem, framable = codec.is_token, codec.header_problem, codec.framable

--- header_refusal(name, auth_name) -> nil | why: may a call set this header?
-- auth_name is the credential's header ("authorization", "api-key").
M.header_refusal = codec.header_refusal

--- url_refusal(url) -> nil | why: may a request go to this URL? (config.lua asks
-- it of base_url at ft.new, so a bad one is misuse there rather than on every call.)
M.url_refusal = codec.url_refusal

local function refused(message)
  return { kind = "invalid_request", message = message }
end

local function misuse(what)
  error("bad argument #1 to 'request' (" .. what .. ")", 4)
end

-- A name -> value table of what goes into the message (headers, form fields):
-- string keys, string or number values; wrong types raise. Returns the table or {}.
local EMPTY = setmetatable({}, { __newindex = function() error("read-only", 2) end })
local function lines_of(t, where)
  if t == nil then return EMPTY end
  if type(t) ~= "table" then misuse(where .. " must be a table") end
  for name, value in pairs(t) do
    if type(name) ~= "string" then misuse(where .. " keys must be strings") end
    local vt = type(value)
    if vt ~= "string" and vt ~= "number" then misuse(where .. "." .. name .. " must be a string or a number") end
  end
  return t
end

local function check_multipart(mp)
  if type(mp) ~= "table" then misuse("req.multipart must be a table") end
  for name in pairs(lines_of(mp.fields, "req.multipart.fields")) do
    if not framable(name) then return refused("multipart field name contains CR, LF, NUL or a quote") end
  end
  local file = mp.file
  if file ~= nil then
    if type(file) ~= "table" then misuse("req.multipart.file must be a table") end
    for _, k in ipairs({ "field", "path", "data", "filename", "content_type" }) do
      local v = file[k]
      if v ~= nil and type(v) ~= "string" then misuse("req.multipart.file." .. k .. " must be a string") end
    end
    if (file.path == nil) == (file.data == nil) then misuse("req.multipart.file needs exactly one of path and data") end
    local filename = file.filename or (file.path and match(file.path, "([^/]*)$"))
    if not (framable(file.field or "") and framable(filename or "") and framable(file.content_type or "", true)) then
      return refused("multipart file field, filename or content type contains CR, LF or a quote")
    end
  end
  return nil
end

--- check(req, auth_name) -> nil | err (kind invalid_request). Wrong types raise.
-- The rules every transport applies before anything is sent.
function M.check(req, auth_name)
  if type(req) ~= "table" then misuse("table expected, got " .. type(req)) end
  local method = req.method
  if method ~= nil and (type(method) ~= "string" or not is_token(method)) then
    misuse("req.method must be an HTTP method token")
  end
  local url = req.url
  if type(url) ~= "string" then misuse("req.url is required") end
  local why = M.url_refusal(url)
  if why then return refused(why) end
  local headers = req.headers
  if headers ~= nil then
    if type(headers) ~= "table" then misuse("req.headers must be a table") end
    for name, value in pairs(headers) do
      if type(name) ~= "string" then misuse("req.headers keys must be strings") end
      local vt = type(value)
      if vt ~= "string" and vt ~= "number" then misuse("req.headers." .. name .. " must be a string or a number") end
      local problem = header_problem(name, value, auth_name)
      if problem then return refused(problem) end
    end
  end
  local body = req.body
  if body ~= nil and type(body) ~= "string" then misuse("req.body must be a string") end
  if req.multipart ~= nil then
    if body ~= nil then misuse("req.body and req.multipart cannot both be set") end
    return check_multipart(req.multipart)
  end
  return nil
end

--- through_proxy(res, err, proxy) -> res, err: what a proxy's failure becomes on
-- every transport. `proxy` is the display name of the proxy the request went
-- through (proxy.for_url: never its credentials), or nil. A 407 (only a proxy
-- sends one) and not reaching the proxy (refused, unresolvable) are kind
-- "proxy", the message naming it; libcurl reports the first as an answer over
-- http:// and the second as a plain connect error.
function M.through_proxy(res, err, proxy)
  if not proxy then return res, err end
  if res and res.status == 407 then
    return nil, { kind = "proxy", status = 407,
      message = format("the proxy %s refused the request: 407 Proxy Authentication Required", proxy) }
  end
  if err and (err.kind == "connect" or err.kind == "dns" or err.kind == "proxy") then
    err.kind = "proxy"
    local msg = tostring(err.message or "failed")
    if not find(msg, proxy, 1, true) then err.message = "proxy " .. proxy .. ": " .. msg end
  end
  return res, err
end

-- The exchange object ------------------------------------------------------

local Exchange = {}
Exchange.__index = Exchange

--- new(req, opts) -> exchange | nil, err.
-- opts: auth_name, limits = { timeout, connect_timeout, idle_timeout, max_response_bytes }
-- (the client's; a req's own fields win), absolute = true (request target in absolute
-- form, through a plain-http proxy), lines = { "Name: value\r\n", ... } the adapter's
-- own fields (the credential, Proxy-Authorization), max_head_bytes.
function M.new(req, opts)
  local err = M.check(req, opts.auth_name)
  if err then return nil, err end
  local u, uerr = http1.split_url(req.url)
  if not u then return nil, refused(uerr) end
  local limits = opts.limits or {}
  local method = req.method or "GET"
  local sink = req.sink
  if sink ~= nil and type(sink) ~= "string" then misuse("req.sink must be a string") end
  local progress = req.progress
  if progress ~= nil and type(progress) ~= "function" then misuse("req.progress must be a function") end
  -- the sink's temp file first: a missing directory fails before anything else is opened
  local response, rerr = new_response(sink, req.max_response_bytes or limits.max_response_bytes
    or M.DEFAULT_MAX_RESPONSE)
  if not response then return nil, rerr end

  local names, lines = {}, {}
  for name in pairs(req.headers or {}) do names[#names + 1] = name end
  sort(names)
  local mp, body = nil, req.body
  for _, name in ipairs(names) do
    -- with multipart the Content-Type is ours: it carries the boundary
    if not (req.multipart and lower(name) == "content-type") then
      local value = tostring(req.headers[name])
      lines[#lines + 1] = value ~= "" and (name .. ": " .. value .. "\r\n") or (name .. ":\r\n")
    end
  end
  local body_length = body and #body or 0
  if req.multipart then
    mp, err = multipart.new(req.multipart)
    if not mp then
      response:abort()
      return nil, err
    end
    lines[#lines + 1] = "Content-Type: " .. mp.content_type .. "\r\n"
    body_length = mp.length
  end
  local target = opts.absolute and (u.scheme .. "://" .. u.authority .. u.target) or u.target
  local head = { method, " ", target, " HTTP/1.1\r\nHost: ", u.authority, "\r\n" }
  for _, l in ipairs(lines) do head[#head + 1] = l end
  for _, l in ipairs(opts.lines or {}) do head[#head + 1] = l end
  -- a POST without a body still says it has none (src/exchange/request.h)
  if body_length > 0 or codec.declares_empty_body(method) then
    head[#head + 1] = format("Content-Length: %.0f\r\n", body_length)
  end
  head[#head + 1] = "\r\n"

  local x = setmetatable({
    url = u, method = method, head = head, body = body, mp = mp, body_length = body_length,
    progress = progress, response = response,
    timeout = req.timeout or limits.timeout,
    connect_timeout = req.connect_timeout or limits.connect_timeout,
    idle_timeout = req.idle_timeout or limits.idle_timeout,
    max_head_bytes = opts.max_head_bytes,
  }, Exchange)
  x:restart()
  return x
end

--- Back to the first byte (a pooled connection was dead: send again on another one).
function Exchange:restart()
  self.reader = http1.new({ method = self.method, max_head_bytes = self.max_head_bytes })
  self.ultotal, self.ulnow, self.dltotal, self.dlnow = self.body_length, 0, 0, 0
  self.res, self.received_any = nil, false
end

--- The body as a source: next_piece() -> string | nil (end) | nil, err.
function Exchange:body_source()
  if self.mp then return self.mp:source() end
  local body = self.body
  return function()
    local b = body
    body = nil
    if b == "" then return nil end
    return b
  end
end

--- Ends the exchange: the temp file closed and removed, the upload file closed.
function Exchange:abort()
  self.response:abort()
  if self.mp then self.mp:close() end
end

function Exchange:fail(kind, message, extra)
  self:abort()
  local e = { kind = kind, message = message }
  if extra then for k, v in pairs(extra) do e[k] = v end end
  return nil, e
end

-- An err made by the rules in C (codec.response, codec.timer ...): ends it too.
function Exchange:failed(err)
  self:abort()
  return nil, err
end

-- Timeouts (src/exchange/timer.h): `timeout` bounds the whole exchange,
-- `idle_timeout` any stretch with no byte moving either way (connecting counts).

-- While an answer is awaited, progress is called at least once a second, data or
-- not (libcurl does the same): a callback can stop a stalled exchange.
local TICK = 1

function Exchange:begin(now)
  self.timer, self.moved = new_timer(now, self.timeout, self.idle_timeout), false
end

--- wait(now [, resumable]) -> seconds | nil, err: how long the next socket operation
-- may wait. `resumable` (a read: one that may time out and be tried again) may be
-- cut to the progress tick; the adapter then asks expired().
function Exchange:wait(now, resumable)
  local timer = self.timer
  if self.moved then timer:moved(now); self.moved = false end
  local left, bound = timer:left(now)
  self.bound = bound
  if left <= 0 then return self:timed_out("waiting") end
  if resumable and self.progress and TICK < left then left, self.bound = TICK, "tick" end
  return left
end

--- expired(doing) -> true (only the progress tick: wait again) | nil, err (a timeout).
function Exchange:expired(doing)
  if self.bound == "tick" then return self:report() end
  return self:timed_out(doing)
end

function Exchange:timed_out(doing)
  return self:failed(self.timer:failure(self.bound == "idle" and "idle" or "total", doing))
end

-- Progress: (dltotal, dlnow, ultotal, ulnow); `false` aborts, a raise aborts and
-- travels as err.callback_error (request re-raises it).
function Exchange:report()
  local progress = self.progress
  if not progress then return true end
  -- called from Lua, not from C, so that a callback may yield (ngx.sleep) under LuaJIT
  local ok, go_on = pcall(progress, self.dltotal, self.dlnow, self.ultotal, self.ulnow)
  if not ok then return self:failed(progress_failure(true, go_on)) end
  if go_on == false then return self:failed(progress_failure(false)) end
  return true
end

function Exchange:sent(n)
  self.ulnow, self.moved = self.ulnow + n, true
  return self:report()
end

-- An answer's bytes: the head decides where the body goes (src/exchange/response.h).
local function on_head(self, head)
  self.res = { status = head.status, headers = head.headers, http_version = head.version }
  local length = tonumber(head.headers["content-length"])
  self.dltotal = length or 0
  self.response:head(head.status, length or -1)
end

local function on_body(self, data)
  self.dlnow = self.dlnow + #data
  local ok, err = self.response:add(data)
  if not ok then return self:failed(err) end
  return self:report()
end

local function on_done(self)
  local res, err = self.response:finish(self.res)
  if not res then return self:failed(err) end
  if self.mp then self.mp:close() end
  return res
end

function Exchange:received(data)
  local reader = self.reader
  if data then
    self.received_any, self.moved = true, true
    reader:feed(data)
  else
    reader:feed_eof()
  end
  while true do
    local ev, val = reader:next()
    if ev == "head" then
      on_head(self, val)
    elseif ev == "body" then
      local ok, err = on_body(self, val)
      if not ok then return "fail", err end
    elseif ev == "done" then
      local res, err = on_done(self)
      if not res then return "fail", err end
      return "done", res, val
    elseif val then
      local _, err = self:fail(reader.err_kind or "invalid_response", "invalid HTTP response: " .. val)
      return "fail", err
    else
      return "more"
    end
  end
end

--- A pooled connection died before any answer and the request is not sent again
-- behind the retry policy's back: the same err as the curl transport's.
function Exchange:resend_refused()
  return self:failed(codec.resend_refused())
end

--- Did the peer answer anything yet? (A reused connection that fails before the
-- first byte was closed by the server while pooled: the adapter may send again.)
function Exchange:answered()
  return self.received_any
end

return M
