-- openai.finetunes.transport.ngx: the exchange (transport/exchange.lua) driven over
-- nginx cosockets, so a call never blocks the worker: every wait (connect, send,
-- read, retry sleep) yields to nginx's event loop.
--
-- This adapter only opens connections and moves bytes; the rules of a request,
-- the reading of the answer, the download's temp file, timeouts' meaning and
-- progress are the exchange's, the same ones the curl transport is held to.
--
-- * Connections: nginx's per-worker keep-alive pool, keyed by scheme, host, port,
--   TLS settings and proxy (never the secret). A connection goes back only after
--   a complete, clean answer; any error, timeout or cancel closes it. No socket is
--   kept between calls, so one transport built at module level serves the worker.
-- * TLS: sslhandshake with SNI, verification on by default, against nginx's
--   `lua_ssl_trusted_certificate`. Proxies: http:// only (transport/proxy.lua).
-- * Phases: cosockets exist only in rewrite, access, content, timer and the ssl_*
--   certificate/session phases; anywhere else a call fails at once with kind
--   "invalid_request" pointing at ngx.timer.at, never falling back to blocking.
-- * Blocking disk I/O that remains: reading an upload and writing a download
--   (short, bounded local file operations).
local exchange = require("openai.finetunes.transport.exchange")
local credential = require("openai.finetunes.transport.credential")
local http1 = require("openai.finetunes.transport.http1")
local proxy_rules = require("openai.finetunes.transport.proxy")

local type, tostring, ipairs, pairs, pcall, error, setmetatable, rawget =
  type, tostring, ipairs, pairs, pcall, error, setmetatable, rawget
local find, format, gsub = string.find, string.format, string.gsub
local floor, huge = math.floor, math.huge
local unpack = table.unpack or unpack -- luacheck: ignore 143

local M = {}

local READ_SIZE = 64 * 1024
local DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT = 600, 10
-- A pooled connection that dies before any byte of the answer is not silently
-- used again with the same request: the server may have read it (a POST would
-- create a second job). The failure goes to the retry policy, which counts and
-- decides (as the C core refuses libcurl's own re-send, src/core/transfer.c).
local MAX_STALE_RETRIES = 0

-- Phases where lua-nginx-module offers cosockets (its README, "ngx.socket.tcp").
M.COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

--- Is this code running inside nginx with the cosocket API loaded at all?
function M.available()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.socket) == "table" and type(ngx.socket.tcp) == "function"
    and type(ngx.get_phase) == "function"
end

--- nil when cosockets work in the current phase, else the error to return.
function M.phase_error()
  local phase = ngx.get_phase()
  if M.COSOCKET_PHASES[phase] then return nil end
  return {
    kind = "invalid_request",
    message = format("openai.finetunes cannot do network I/O in nginx's %s phase (cosockets are disabled there "
      .. "and a blocking call would stall the worker): run the call from a timer, e.g. "
      .. "ngx.timer.at(0, function() ... end), or from a rewrite/access/content handler", phase),
  }
end

-- seconds -> milliseconds for cosocket timeouts (at least 1 ms, at most ~24 days)
local function ms(s)
  local v = floor(s * 1000 + 0.5)
  if v < 1 then return 1 end
  if v > 2147483647 then return 2147483647 end
  return v
end

local function kind_of(err, default)
  if err == "timeout" then return "timeout" end
  if find(err, "resolve", 1, true) then return "dns" end
  return default
end

local Transport = {}
Transport.__index = Transport
Transport.__tostring = function() return "openai.finetunes.transport.ngx" end

-- Every socket operation may wait what the exchange allows (total or idle timeout).
local function arm(sock, x, resumable)
  ngx.update_time()
  local left, err = x:wait(ngx.now(), resumable)
  if not left then return nil, err end
  local t = ms(left)
  sock:settimeouts(t, t, t)
  return true
end

-- The CONNECT tunnel of an https target through the proxy (its rules: proxy.tunnel).
local function tunnel(sock, c)
  local t = proxy_rules.tunnel(c.u, c.proxy)
  local _, serr = sock:send(t.head)
  if serr then return nil, kind_of(serr, "proxy"), "sending CONNECT to the proxy failed: " .. serr end
  while true do
    local data, rerr = sock:receiveany(READ_SIZE)
    if not data and rerr ~= "closed" then
      return nil, kind_of(rerr, "proxy"), "reading the proxy's CONNECT answer failed: " .. rerr
    end
    local ok, kind, msg = t:received(data)
    if ok ~= "more" then return ok, kind, msg end
  end
end

-- Connect (or take a pooled connection), tunnel, handshake. sock, reused | nil, err.
local function open(self, x, c)
  local left, err = x:wait(ngx.now())
  if not left then return nil, err end
  -- connect_timeout bounds the whole setup (TCP, proxy CONNECT, TLS), as in libcurl
  local ct = x.connect_timeout and x.connect_timeout < left and x.connect_timeout or left
  local sock = ngx.socket.tcp()
  sock:settimeouts(ms(ct), ms(ct), ms(ct))
  local host, port = c.u.host, c.u.port
  if c.proxy then host, port = c.proxy.host, c.proxy.port end
  -- nginx resolves names only through a `resolver` directive; spare the loopback
  -- name every test setup uses from needing one
  local ok, cerr = sock:connect(host == "localhost" and "127.0.0.1" or host, port,
    { pool = c.pool_key, pool_size = self.pool_size })
  if not ok then
    local kind = kind_of(cerr, "connect")
    local msg = format("cannot connect to %s%s:%d: %s", c.proxy and "proxy " or "", host, port,
      cerr == "timeout" and format("no connection within %g s", ct) or cerr)
    -- (through_proxy makes a refused or unresolvable proxy kind "proxy")
    if find(cerr, "no resolver defined", 1, true) then msg = msg .. " (add a `resolver` directive to nginx.conf)" end
    return x:fail(kind, msg)
  end
  if sock:getreusedtimes() > 0 then return sock, true end
  if c.proxy and c.u.scheme == "https" then
    local tok, kind, msg = tunnel(sock, c)
    if not tok then sock:close(); return x:fail(kind, msg) end
  end
  if c.u.scheme == "https" then
    local session, herr = sock:sslhandshake(self.tls_sessions[c.pool_key], c.server_name, self.verify)
    if not session then
      sock:close()
      local msg = "TLS handshake with " .. c.u.host .. " failed: " .. tostring(herr)
      if find(tostring(herr), "certificate", 1, true) then
        msg = msg .. " (nginx verifies against `lua_ssl_trusted_certificate`)"
      end
      return x:fail(herr == "timeout" and "timeout" or "tls", msg)
    end
    if type(session) ~= "boolean" then self.tls_sessions[c.pool_key] = session end
  end
  return sock, false
end

-- Read the answer into the exchange: res, nil, reusable | nil, err | nil, nil, nil, "stale".
local function read(sock, x, reused)
  while true do
    local ok, err = arm(sock, x, true)
    if not ok then return nil, err end
    local data, rerr = sock:receiveany(READ_SIZE)
    if not data and reused and not x:answered() and rerr ~= "timeout" then return nil, nil, nil, "stale" end
    if not data and rerr ~= "closed" then
      if rerr ~= "timeout" then return x:fail("io", "reading the response failed: " .. rerr) end
      ok, err = x:expired("waiting for the response")
      if not ok then return nil, err end
    else
      local state, a, b = x:received(data)
      if state == "done" then return a, nil, b end
      if state == "fail" then return nil, a end
    end
  end
end

-- Send the head and the body, then read: the same results as read().
local function drive(sock, x, reused)
  local ok, err = arm(sock, x)
  if not ok then return nil, err end
  local _, serr = sock:send(x.head)
  local next_piece = x:body_source()
  while not serr do
    local piece, perr = next_piece()
    if not piece then
      if perr then return x:fail(perr.kind, perr.message, perr) end
      break
    end
    ok, err = arm(sock, x)
    if not ok then return nil, err end
    _, serr = sock:send(piece)
    if not serr then
      ok, err = x:sent(#piece)
      if not ok then return nil, err end
    end
  end
  if serr then
    if reused and x.ulnow == 0 and serr ~= "timeout" then return nil, nil, nil, "stale" end
    if serr == "timeout" then return x:timed_out("sending the request") end
    -- the server may have answered early (401, 413) and closed: prefer its answer
    local res = read(sock, x, false)
    if res then return res, nil, false end
    return x:fail("io", "sending the request failed: " .. serr)
  end
  ok, err = x:report()
  if not ok then return nil, err end
  return read(sock, x, reused)
end

-- One exchange from connect to answer; rec (start/poll) learns the socket for cancel.
local function run(self, x, c, rec)
  ngx.update_time()
  x:begin(ngx.now())
  local through = c.proxy and proxy_rules.display(c.proxy.host .. ":" .. c.proxy.port)
  for _ = 0, MAX_STALE_RETRIES do
    local sock, reused = open(self, x, c)
    if not sock then return exchange.through_proxy(nil, reused, through) end
    if rec then rec.sock = sock end
    local res, err, reusable, stale = drive(sock, x, reused)
    if res and reusable then sock:setkeepalive(self.keepalive_ms) else sock:close() end
    if rec then rec.sock = nil end
    if not stale then return exchange.through_proxy(res, err, through) end
    x:restart() -- a pooled connection the server had closed: again on a fresh one
  end
  return x:resend_refused()
end

--- new(opts) -> transport. Options (seconds for times, as core.new takes them):
-- api_key (or set_credential before the first request), auth_header
-- ("Authorization"), auth_scheme ("Bearer"; "" sends the key alone),
-- timeout (600), connect_timeout (10), idle_timeout,
-- proxy = { url, username, password, no_proxy } | url, tls = { verify = true,
-- server_name }, max_connections (keep-alive pool size per host, default
-- nginx's lua_socket_pool_size), keepalive_timeout (idle seconds in the pool,
-- default nginx's lua_socket_keepalive_timeout), max_response_bytes.
-- No I/O happens here.
function M.new(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'new' (table expected, got " .. type(opts) .. ")", 2) end
  if not M.available() then
    error("openai.finetunes.transport.ngx needs nginx with lua-nginx-module (no ngx.socket.tcp here)", 2)
  end
  local cred = credential.new(opts)
  local tls = opts.tls or {}
  if type(tls) ~= "table" then error("bad argument #1 to 'new' (tls must be a table)", 2) end
  for _, unsupported in ipairs({ "ca_file", "ca_path", "cert_file", "key_file", "key_password" }) do
    if tls[unsupported] ~= nil then
      error("bad argument #1 to 'new' (tls." .. unsupported .. " is not supported by the ngx transport: "
        .. "configure lua_ssl_trusted_certificate / proxy_ssl_* in nginx.conf)", 2)
    end
  end
  local proxy = proxy_rules.parse(opts.proxy)
  if proxy then
    -- the pool key names the proxy and whose credentials opened the tunnel, never the secret itself
    proxy.key = proxy.host .. ":" .. proxy.port .. (proxy.line and ("#" .. ngx.md5(proxy.line)) or "")
  end
  local self = setmetatable({
    limits = {
      timeout = opts.timeout or DEFAULT_TIMEOUT, connect_timeout = opts.connect_timeout or DEFAULT_CONNECT_TIMEOUT,
      idle_timeout = opts.idle_timeout, max_response_bytes = opts.max_response_bytes,
    },
    max_head_bytes = opts.max_head_bytes,
    verify = tls.verify ~= false,
    server_name = tls.server_name,
    pool_size = opts.max_connections or (opts.pool and opts.pool.max_connections),
    keepalive_ms = opts.keepalive_timeout and ms(opts.keepalive_timeout) or nil,
    proxy = proxy,
    tls_sessions = {},
    auth_name = cred.auth_name,
    threads = {},
    next_id = 0,
  }, Transport)
  -- The credential lives in cred's closures; these only hand it over.
  self.redact = function(_, s) return cred.redact(s) end
  self.set_credential = function(_, secret) return cred.set(secret) end

  -- The only function that puts the key on a request: into the exchange's head.
  -- Returns x, c (the connection settings) | nil, err.
  self.prepare = function(this, req)
    if this.closed then return nil, { kind = "closed", message = "the transport was closed" } end
    local perr = M.phase_error()
    if perr then return nil, perr end
    if type(req) ~= "table" then error("bad argument #1 to 'request' (table expected, got " .. type(req) .. ")", 3) end
    local u = http1.split_url(req.url)
    local p = this.proxy
    if p and u and proxy_rules.bypass(u.host, p.no_proxy) then p = nil end
    local lines = { cred.line() }
    local plain_proxy = p and u and u.scheme == "http"
    if plain_proxy and p.line then lines[#lines + 1] = p.line end
    local x, err = exchange.new(req, { auth_name = this.auth_name, limits = this.limits, absolute = plain_proxy,
      lines = lines, max_head_bytes = this.max_head_bytes })
    if not x then return nil, err end
    local server_name = this.server_name or gsub(gsub(u.host, "^%[", ""), "%]$", "")
    return x, {
      u = u, proxy = p, server_name = server_name,
      pool_key = format("oft|%s|%s|%d|%s|%s|%s", u.scheme, u.host, u.port, tostring(this.verify),
        u.scheme == "https" and server_name or "", p and p.key or ""),
    }
  end
  return self
end

--- request(req) -> res | nil, err; re-raises an error raised by req.progress.
function Transport:request(req)
  local x, c = self:prepare(req)
  if not x then return nil, c end
  local res, err = run(self, x, c)
  if err and err.callback_error ~= nil then error(err.callback_error, 0) end
  return res, err
end

--- Seconds on nginx's clock (refreshed first: ngx.now() alone is cached per event-loop turn).
function Transport.now()
  ngx.update_time()
  return ngx.now()
end

--- Sleep without blocking the worker.
function Transport.sleep(_, seconds)
  if seconds and seconds > 0 then ngx.sleep(seconds) end
end

--- Concurrent exchanges on light threads (the C core's start/poll/cancel contract).
-- Only the coroutine that started them may poll them. A refusal comes from start.
function Transport:start(req)
  local x, c = self:prepare(req)
  if not x then return nil, c end
  self.next_id = self.next_id + 1
  local id = self.next_id
  local rec = { x = x }
  self.threads[id] = rec
  rec.thread = ngx.thread.spawn(function()
    local ok, res, err = pcall(run, self, x, c, rec)
    if not ok then
      x:abort()
      return id, nil, { kind = "aborted", message = "the exchange raised: " .. tostring(res), callback_error = res }
    end
    return id, res, err
  end)
  return id
end

function Transport:poll(timeout)
  local list, completions = {}, {}
  for _, rec in pairs(self.threads) do list[#list + 1] = rec.thread end
  if #list == 0 then
    if timeout and timeout > 0 then ngx.sleep(timeout) end
    return completions
  end
  local sleeper
  if timeout and timeout < huge then
    local wait = timeout > 0 and timeout or 0.001
    sleeper = ngx.thread.spawn(function() ngx.sleep(wait) end)
    list[#list + 1] = sleeper
  end
  local function collect(ok, id, res, err)
    if ok and id and self.threads[id] then
      self.threads[id] = nil
      completions[#completions + 1] = err and { id = id, err = err } or { id = id, res = res }
    end
  end
  collect(ngx.thread.wait(unpack(list)))
  if sleeper and coroutine.status(sleeper) ~= "dead" then ngx.thread.kill(sleeper) end
  for _, rec in pairs(self.threads) do
    if coroutine.status(rec.thread) == "dead" then collect(ngx.thread.wait(rec.thread)) end
  end
  return completions
end

--- cancel(id): the exchange is stopped where it is, its connection closed and its
-- temp file removed; it is never reported.
function Transport:cancel(id)
  local rec = self.threads[id]
  if not rec then return false end
  self.threads[id] = nil
  ngx.thread.kill(rec.thread)
  if rec.sock then rec.sock:close() end
  rec.x:abort()
  return true
end

function Transport:pending()
  local n = 0
  for _ in pairs(self.threads) do n = n + 1 end
  return n
end

--- Cancels what is in flight; connections live in nginx's pool, not in the object.
function Transport:close()
  for id in pairs(self.threads) do self:cancel(id) end
  self.closed = true
  return true
end

return M
