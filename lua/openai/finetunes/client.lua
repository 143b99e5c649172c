-- The client object: one method per endpoint row, generated at load time onto
-- one shared method table, all going through `send`. Request building is pure
-- (arguments -> the transport contract's `req`), so every transport shares it.
--
--   plain client   methods return result, meta  |  nil, err
--   strict view    the same methods raise err instead (ft.new{raise = true}, client:strict())
local codec = require("openai.finetunes.codec")
local errors = require("openai.finetunes.errors")
local endpoints = require("openai.finetunes.api.endpoints")
local validate_query = require("openai.finetunes.api.validate").query
local config = require("openai.finetunes.config")
local misuse = require("openai.finetunes.misuse")
local retry = require("openai.finetunes.call.retry")
local response_cache = require("openai.finetunes.call.cache")
local call_lifecycle = require("openai.finetunes.call.lifecycle")
local clock = require("openai.finetunes.call.clock")
local token_auth = require("openai.finetunes.transport.token_auth")
local header_refusal = require("openai.finetunes.transport.exchange").header_refusal

local type, pairs, ipairs, select, pcall, error = type, pairs, ipairs, select, pcall, error
local setmetatable, getmetatable, tostring, rawget = setmetatable, getmetatable, tostring, rawget
local format, gsub, lower = string.format, string.gsub, string.lower
local unpack = rawget(table, "unpack") or rawget(_G, "unpack")
local escape, encode_query, json_encode, json_decode = codec.escape, codec.encode_query, codec.json_encode,
  codec.json_decode

local fail, describe = misuse.fail, misuse.describe

local M = {}

M.VERSION = codec._VERSION -- one version: the C modules' (src/util.h)
M.MAX_ID_BYTES = 1024
M.USER_AGENT = "openai-finetunes-lua/" .. M.VERSION

local Client = {}  -- the shared method table of plain clients
local Strict = {}  -- the same names on the raising view
local ClientMT = { __index = Client, __name = "openai.finetunes.client" }
local StrictMT = { __index = Strict, __name = "openai.finetunes.client" }

-- Private state lives under this key, out of the method namespace.
local STATE = setmetatable({}, { __tostring = function() return "<client state>" end })
local PLAIN = setmetatable({}, { __tostring = function() return "<plain client>" end })

-- The state of a plain client, or an error blaming the caller of the method
-- (`level` 2 = the method's caller when called from the method itself).
local function state_of(self, fname, level)
  local st = type(self) == "table" and getmetatable(self) == ClientMT and rawget(self, STATE)
  if not st then
    error(format("calling '%s' on bad self (use client:%s(...))", fname, fname), (level or 2) + 1)
  end
  return st
end

local function pack(...) return { n = select("#", ...), ... } end

local function is_count(v)
  return type(v) == "number" and v >= 0 and v < math.huge and v == math.floor(v)
end

-- Request building ----------------------------------------------------------

-- Path parameters: never empty, never a dot segment, always one escaped
-- segment, with or without validation: an id must not reach another route.
local function path_segment(v, name)
  if type(v) ~= "string" or v == "" then
    fail(format("%s must be a non-empty string, got %s", name, describe(v)))
  end
  if v == "." or v == ".." then
    fail(format('%s must not be "." or ".."', name))
  end
  -- The API's ids are tens of bytes; a huge one could only fail (libcurl's
  -- request buffer, a server's 414) after retries, or keep a wait loop polling.
  if #v > M.MAX_ID_BYTES then
    fail(format("%s is too long (%d bytes, at most %d)", name, #v, M.MAX_ID_BYTES))
  end
  -- Escaping makes "../models" one segment, but a server or proxy that
  -- decodes %2F before routing would see a dot segment again: refuse them.
  -- ("org/model" ids of compatible servers stay allowed, escaped.)
  for seg in string.gmatch(v, "[^/\\]*") do
    if seg == "." or seg == ".." then
      fail(format('%s must not contain "." or ".." path segments, got %s', name, describe(v)))
    end
  end
  return escape(v)
end

local OPTS = {
  headers = true, timeout = true, connect_timeout = true, idle_timeout = true, total_timeout = true,
  max_retries = true,
  idempotency_key = true, progress = true, max_response_bytes = true,
}

local function check_call_opts(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then fail(format("options table expected, got %s", describe(opts))) end
  for k, v in pairs(opts) do
    if not OPTS[k] then fail(format("unknown option %s", describe(k))) end
    if k == "headers" then
      config.check_headers(v, "headers")
    elseif k == "timeout" or k == "connect_timeout" or k == "idle_timeout" or k == "total_timeout" then
      if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then
        fail(format("%s must be a number > 0, got %s", k, describe(v)))
      end
    elseif k == "max_retries" or k == "max_response_bytes" then
      if not is_count(v) then fail(format("%s must be an integer >= 0, got %s", k, describe(v))) end
    elseif k == "idempotency_key" then
      config.check_header_value(v, "idempotency_key")
      if v == "" then fail("idempotency_key must not be empty") end
    elseif k == "progress" and type(v) ~= "function" then
      fail(format("progress must be a function, got %s", describe(v)))
    end
  end
  return opts
end

-- Header names compare case-insensitively; later sets win, false removes.
local function set_header(list, name, value)
  list[lower(name)] = value ~= false and { name, value } or nil
end

local function build_headers(st, row, opts, json)
  local h = {}
  for _, pair in ipairs(st.headers) do set_header(h, pair[1], pair[2]) end
  set_header(h, "Accept", row.accept)
  if json then set_header(h, "Content-Type", "application/json") end
  if opts.idempotency_key then set_header(h, "Idempotency-Key", opts.idempotency_key) end
  if opts.headers then
    for name, value in pairs(opts.headers) do set_header(h, name, value) end
  end
  local out = {}
  for _, pair in pairs(h) do
    -- which headers a call may set is the exchange's rule; here it is misuse, raised at once
    local why = header_refusal(pair[1], st.auth_name)
    if why then fail(format("headers must not set %s: %s", pair[1], why)) end
    out[pair[1]] = pair[2]
  end
  return out
end

local function encode_json(body)
  local ok, text = pcall(json_encode, body)
  if not ok then fail("cannot be encoded as JSON: " .. gsub(tostring(text), "^[^\n]-:%d+: ", "")) end
  return text
end

-- ft.null in a query means the literal `null` (jobs{metadata = ft.null}: the
-- jobs without metadata); nil values are simply absent.
local function query_string(q)
  for k, v in pairs(q) do
    if v == codec.null then
      local copy = {}
      for k2, v2 in pairs(q) do copy[k2] = v2 end
      copy[k] = "null"
      q = copy
    end
  end
  local s, why = encode_query(q)
  if not s then fail("cannot be encoded as a query: " .. why) end
  return s
end

-- The client's default_query under the call's own query (the call wins).
local function with_default_query(st, q)
  local d = st.default_query
  if not d then return q end
  local merged = {}
  for k, v in pairs(d) do merged[k] = v end
  for k, v in pairs(q or {}) do merged[k] = v end
  return merged
end

-- (st, row, ctx, args...) -> req. ctx.argn tracks the argument being checked
-- so a misuse names it.
local function prepare(st, row, ctx, ...)
  local path = row.path
  local params = row.params
  for i = 1, #params do
    ctx.argn = i
    local seg = path_segment((select(i, ...)), params[i])
    path = gsub(path, "{" .. params[i] .. "}", (gsub(seg, "%%", "%%%%")), 1)
  end
  local n = #params
  local validation = st.validation
  local body, multipart, query, sink
  if row.query then
    n = n + 1
    ctx.argn = n
    local q = select(n, ...)
    if q ~= nil then
      if type(q) ~= "table" then fail(format("query table expected, got %s", describe(q))) end
      if validation then validate_query(row, q) end
      -- encoded here, so a value it cannot hold is misuse of this argument
      query = query_string(with_default_query(st, q))
    end
  elseif row.body == "json" then
    n = n + 1
    ctx.argn = n
    local p = select(n, ...)
    if p == nil and row.optional_body then p = {} end
    if type(p) ~= "table" then fail(format("table expected, got %s", describe(p))) end
    if validation and row.check then row.check(p) end
    body = encode_json(p)
  elseif row.body == "multipart" then
    n = n + 1
    ctx.argn = n
    multipart = row.form((select(n, ...)), validation and row.check or nil)
  elseif row.result == "file" then
    n = n + 1
    ctx.argn = n
    sink = select(n, ...)
    if type(sink) ~= "string" or sink == "" then
      fail(format("path must be a non-empty string, got %s", describe(sink)))
    end
    if sink:find("%z") then fail("path must not contain NUL") end
  end
  n = n + 1
  ctx.argn = n
  local opts = check_call_opts((select(n, ...)))
  for i = n + 1, select("#", ...) do
    if select(i, ...) ~= nil then
      ctx.argn = i
      fail(format("no value expected, got %s", describe((select(i, ...)))))
    end
  end

  query = query or st.default_query_string
  local url = st.base_url .. path
  if query and query ~= "" then url = url .. "?" .. query end
  return {
    method = row.method,
    url = url,
    headers = build_headers(st, row, opts, body ~= nil),
    body = body,
    multipart = multipart,
    sink = sink,
    timeout = opts.timeout or st.timeout,
    connect_timeout = opts.connect_timeout or st.connect_timeout,
    idle_timeout = opts.idle_timeout or st.idle_timeout,
    max_response_bytes = opts.max_response_bytes,
    progress = opts.progress,
  }, opts.max_retries, opts.total_timeout
end

-- Answers --------------------------------------------------------------------

local function meta_of(res, attempts)
  local headers = res.headers or {}
  return { request_id = errors.request_id(headers), status = res.status, headers = headers, attempts = attempts,
    http_version = res.http_version }
end

-- What a server sent back for a failure is shown to people (err.message,
-- tostring(err), the CLI's stderr) and logged: the client's own credential is
-- taken out of it first, wherever the server put it (a gateway's 401 may quote
-- the key it was sent). The transport knows the credential (transport:redact);
-- a user's transport without it is left as it is.
local function redacted(transport, res, err)
  local redact = transport and transport.redact
  if not redact then return res, err end
  if err then
    if type(err.message) == "string" then err.message = redact(transport, err.message) end
    return res, err
  end
  local copy, headers = {}, {}
  for k, v in pairs(res) do copy[k] = v end
  for k, v in pairs(res.headers or {}) do headers[k] = type(v) == "string" and redact(transport, v) or v end
  copy.headers = headers
  if type(res.body) == "string" then copy.body = redact(transport, res.body) end
  return copy, nil
end

-- A transport answer to `req` -> result, meta | nil, err (what a server
-- sent for a failure redacted through `transport`).
local function finish(row, res, err, attempts, req, transport)
  if err then return nil, errors.from_transport(select(2, redacted(transport, nil, err)), attempts) end
  local status = res.status
  if type(status) ~= "number" or status < 200 or status > 299 then
    return nil, errors.from_response((redacted(transport, res)), attempts)
  end
  local meta = meta_of(res, attempts)
  if row.result == "raw" then
    return res.body or "", meta
  elseif row.result == "file" then
    return { path = req and req.sink, bytes = res.bytes_written }, meta
  end
  local body = res.body
  if type(body) ~= "string" or body == "" then
    return nil, errors.invalid_response(res, attempts, "empty body")
  end
  local value, why = json_decode(body)
  if value == nil then return nil, errors.invalid_response(res, attempts, why) end
  return value, meta
end

-- The call's lifecycle (cache, breaker, attempts, retries, total_timeout):
-- lifecycle.lua, the same one batch and large uploads run through the scheduler.
local function send(st, row, req, max_retries, total_timeout)
  return call_lifecycle.perform(st.calls, row, req, max_retries, total_timeout)
end

-- Method generation ---------------------------------------------------------

local function endpoint_method(row)
  local name = row.name
  return function(self, ...)
    local st = state_of(self, name)
    local ctx = { argn = 1 }
    local built, req, max_retries, total_timeout = pcall(prepare, st, row, ctx, ...)
    if not built then misuse.raise(req, name, ctx.argn, 2) end
    return send(st, row, req, max_retries, total_timeout)
  end
end

-- The raising view calls the plain method on the plain client (so helpers
-- built on other methods keep their nil, err logic) and raises the error
-- object it returns. Misuse comes back as its value (misuse.capture) and is
-- raised from here, so it points at the caller's line.
local function strict_method(name, fn)
  return function(view, ...)
    local plain = type(view) == "table" and rawget(view, PLAIN)
    if not plain then
      error(format("calling '%s' on bad self (use client:%s(...))", name, name), 2)
    end
    local r = pack(misuse.capture(fn, plain, ...))
    if not r[1] then
      local m = r[2]
      if misuse.is_misuse(m) then misuse.raise(m, m.fname or name, m.argn or 1, 2) end
      error(m, 0)
    end
    if r[2] == nil and errors.is_error(r[3]) then errors.raise(r[3]) end
    return unpack(r, 2, r.n)
  end
end

-- An extension method behind the same "bad self" check as the endpoint
-- methods (client.wait_for_job("id") must not fail inside the library). It
-- runs under misuse.capture rather than as a tail call, and raises a misuse
-- from here, so it keeps pointing at the caller's line on Lua 5.1 too (a tail
-- call loses the frame).
local function self_checked(name, fn)
  return function(self, ...)
    state_of(self, name)
    local r = pack(misuse.capture(fn, self, ...))
    if not r[1] then misuse.raise_aimed(r[2], 2) end
    return unpack(r, 2, r.n)
  end
end

-- Methods that check self themselves (the generated endpoint methods, the
-- lifecycle below) skip the wrapper.
local function add_methods(methods, checked)
  for name, fn in pairs(methods) do
    if type(name) ~= "string" or type(fn) ~= "function" then
      error(format("client.extend: %s must map to a function", describe(name)), 3)
    end
    if Client[name] ~= nil then error(format("client.extend: method %q is already defined", name), 3) end
    if not checked then fn = self_checked(name, fn) end
    Client[name] = fn
    if name:sub(1, 1) ~= "_" then Strict[name] = strict_method(name, fn) end
  end
end

-- Add methods to every client (plain and strict). Extension modules
-- (pagination, workflows, batches ...) call this through finetunes.lua; a
-- name may be defined once. Every method gets the "bad self" check.
function M.extend(methods)
  add_methods(methods, false)
end

do
  local generated = {}
  for _, row in ipairs(endpoints) do generated[row.name] = endpoint_method(row) end
  add_methods(generated, true)
end

-- Non-endpoint methods ---------------------------------------------------------

local lifecycle = {}

function lifecycle.strict(self)
  local st = state_of(self, "strict")
  if not st.strict then st.strict = setmetatable({ [PLAIN] = self }, StrictMT) end
  return st.strict
end

-- Closes the transport (connections, the curl handle). Idempotent; later
-- calls answer nil, err with kind "closed" (from the transport).
function lifecycle.close(self)
  local st = state_of(self, "close")
  if st.transport.close then st.transport:close() end
  return true
end

-- For extension modules -----------------------------------------------------

-- The transport (for now/sleep/start/poll in helpers).
function lifecycle._transport(self) return state_of(self, "_transport").transport end

-- The retry policy (helpers that drive their own transfers use perform/decide).
function lifecycle._policy(self) return state_of(self, "_policy").policy end

-- The response cache object (cache.lua), or nil when the client has none.
function lifecycle._cache(self) return state_of(self, "_cache").cache end

-- The webhook_secret option (or $OPENAI_WEBHOOK_SECRET at ft.new), or nil:
-- for verify_webhook / unwrap_webhook only; never in tostring or errors.
function lifecycle._webhook_secret(self) return state_of(self, "_webhook_secret").webhook_secret end

-- Build the req of endpoint `name` from its usual arguments, with all checks.
-- Returns req, max_retries, total_timeout (the call options' overrides, nil
-- when not given). Misuse raises as its value (misuse.lua), aimed
-- at (name, argument number): the helper's own public boundary re-aims it at
-- itself (misuse.pass / misuse.raise) and formats it there.
function lifecycle._prepare(self, name, ...)
  local st = state_of(self, "_prepare")
  local row = endpoints[name]
  if not row then error(format("no endpoint named %s", describe(name)), 2) end
  local ctx = { argn = 1 }
  local ok, req, max_retries, total_timeout = pcall(prepare, st, row, ctx, ...)
  if not ok then misuse.pass(req, name, ctx.argn) end
  return req, max_retries, total_timeout
end

-- Turn what the transport gave for a req of endpoint `name` into
-- result, meta | nil, err.
function lifecycle._finish(self, name, res, err, attempts, req)
  local st = state_of(self, "_finish")
  return finish(endpoints[name], res, err, attempts or 1, req, st.transport)
end

-- What call/lifecycle.lua needs of this client: {transport, policy, cache, finish}.
function lifecycle._calls(self) return state_of(self, "_calls").calls end

add_methods(lifecycle, true)

ClientMT.__tostring = function(self)
  return format("openai.finetunes.client (%s)", rawget(self, STATE).base_url)
end
StrictMT.__tostring = function(self)
  return format("openai.finetunes.client (%s, strict)", rawget(rawget(self, PLAIN), STATE).base_url)
end
Strict.strict = function(view)
  if not (type(view) == "table" and rawget(view, PLAIN)) then
    error("calling 'strict' on bad self (use client:strict(...))", 2)
  end
  return view
end

-- `local client <close> = ft.new{...}` (Lua 5.4) closes the transport at scope end.
ClientMT.__close = function(self) lifecycle.close(self) end
StrictMT.__close = function(self) lifecycle.close(rawget(self, PLAIN)) end

-- Construction -------------------------------------------------------------

-- The one place that picks the transport: cosockets inside nginx (the ngx
-- transport checks the phase per call and never falls back to blocking curl),
-- libcurl everywhere else.
function M.default_transport_module()
  if rawget(_G, "ngx") ~= nil then
    local ngx_transport = require("openai.finetunes.transport.ngx")
    if ngx_transport.available() then return ngx_transport end
  end
  return require("openai.finetunes.transport.curl")
end

local function transport_options(r)
  return {
    api_key = r.api_key, auth_header = r.auth_header, auth_scheme = r.auth_scheme,
    timeout = r.timeout, connect_timeout = r.connect_timeout, idle_timeout = r.idle_timeout,
    http_version = r.http_version, compression = r.compression,
    proxy = r.proxy, tls = r.tls,
    max_connections = r.pool and r.pool.max_connections,
    max_response_bytes = r.max_response_bytes,
    verbose = r.verbose,
  }
end

local function make_transport(r)
  local t = r.transport
  if not (t and type(t.request) == "function") then
    local module = t or M.default_transport_module()
    t = module.new(transport_options(r))
  end
  if r.token_provider then t = token_auth.wrap(t, r.token_provider, r.token_provider_name) end
  return t
end

local function user_agent(r)
  if r.user_agent and r.user_agent ~= "" then return r.user_agent .. " " .. M.USER_AGENT end
  return M.USER_AGENT
end

-- Default headers in order: ours, then OPENAI_CUSTOM_HEADERS / headers option.
local function default_headers(r)
  local list = { { "User-Agent", user_agent(r) } }
  if r.organization then list[#list + 1] = { "OpenAI-Organization", r.organization } end
  if r.project then list[#list + 1] = { "OpenAI-Project", r.project } end
  for name, value in pairs(r.headers) do list[#list + 1] = { name, value } end
  return list
end

-- ft.new{...}: misuse raises at the caller's line (level counts from new);
-- a configuration problem carries a `code` (config.lua).
function M.new(opts)
  local ok, r = pcall(config.resolve, opts)
  if not ok then misuse.raise(r, "new", 1, 2) end
  local made, policy = pcall(retry.policy, r)
  if not made then misuse.raise(policy, "new", 1, 2) end
  local st = {
    base_url = r.base_url,
    auth_header = r.auth_header, auth_name = lower(r.auth_header),
    default_query = r.default_query,
    default_query_string = r.default_query and query_string(r.default_query) or nil,
    validation = r.validation,
    timeout = r.timeout, connect_timeout = r.connect_timeout, idle_timeout = r.idle_timeout,
    headers = default_headers(r),
    policy = policy,
    webhook_secret = r.webhook_secret,
  }
  st.transport = make_transport(r)
  if r.cache then
    local transport = st.transport
    st.cache = response_cache.new{ ttl = r.cache.ttl, base_url = r.base_url,
      now = function() return clock.now(transport) end }
  end
  st.calls = { transport = st.transport, policy = st.policy, cache = st.cache, finish = finish }
  r.api_key = nil -- handed to the transport; not kept anywhere in Lua
  local self = setmetatable({ [STATE] = st }, ClientMT)
  if r.raise then return Client.strict(self) end
  return self
end

-- ft.try_new{...}: the client, or nil and the misuse as a value ({fname =
-- "new", argn = 1, problem, field, code}; tostring gives the message) for a
-- caller that acts on the code rather than the text (the openai-ft command).
function M.try_new(opts)
  local ok, c = misuse.capture(M.new, opts)
  if ok then return c end
  if misuse.is_misuse(c) then return nil, c end
  error(c, 0)
end

function M.is_client(x)
  local mt = getmetatable(x)
  return mt == ClientMT or mt == StrictMT
end

M.methods = Client
return M
