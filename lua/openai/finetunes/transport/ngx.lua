-- openai.finetunes.transport.ngx: the transport for OpenResty / nginx + lua-nginx-module.
--
-- Our own small HTTP/1.1 client on ngx.socket.tcp cosockets, so a call never
-- blocks the nginx worker: every wait (connect, send, read, retry sleep) yields
-- to nginx's event loop. It implements the transport contract of HACKING.md
-- (req / res / err tables) the same way transport/curl.lua does, so the client,
-- retries, pagination and workflows run unchanged on top of it.
--
-- * Wire format: openai.finetunes.transport.http1 (an I/O-free response reader) and
--   openai.finetunes.transport.multipart (a body streamed from disk with a precomputed
--   Content-Length); this file only moves bytes between them and the socket.
-- * Connections: nginx's per-worker keep-alive pool, keyed by scheme, host,
--   port, TLS settings and proxy. A connection goes back to the pool only after
--   a complete, clean answer; any error or timeout closes it. No socket is kept
--   in the object between calls, so one transport built at module level (even
--   in init_by_lua) serves every request of the worker.
-- * TLS: sslhandshake with SNI and certificate verification on by default,
--   against nginx's `lua_ssl_trusted_certificate`.
-- * Phases: cosockets exist only in rewrite, access, content, timer and the
--   ssl_* certificate/session phases. Anywhere else a call fails at once with
--   kind "invalid_request" and a message pointing at ngx.timer.at; it never
--   falls back to a blocking client.
-- * Blocking disk I/O that remains: reading an upload file (64 KB reads) and
--   writing a download sink. Both are short, bounded local file operations.
-- * If lua-resty-http is installed it is not needed and not used: this file is
--   the whole client.
local http1 = require("openai.finetunes.transport.http1")
local multipart = require("openai.finetunes.transport.multipart")

local type, tostring, tonumber, pairs, ipairs, pcall, error, setmetatable, rawget =
  type, tostring, tonumber, pairs, ipairs, pcall, error, setmetatable, rawget
local find, format, lower, sub, gsub, match = string.find, string.format, string.lower, string.sub, string.gsub,
  string.match
local concat, sort, floor, huge = table.concat, table.sort, math.floor, math.huge
local io_open, os_rename, os_remove = io.open, os.rename, os.remove
local unpack = table.unpack or unpack -- luacheck: ignore 143

local M = {}

local READ_SIZE = 64 * 1024
local DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT = 600, 10
local MAX_STALE_RETRIES = 4
local DEFAULT_MAX_RESPONSE = 64 * 1024 * 1024 -- bytes held in memory per response, as the C core

-- Phases where lua-nginx-module offers cosockets (its README, "ngx.socket.tcp").
M.COSOCKET_PHASES = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

--- Is this code running inside nginx with the cosocket API loaded at all?
-- (The phase is checked per request: a transport built in init_by_lua is fine.)
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

local function fail(kind, message, extra)
  local e = { kind = kind, message = message }
  if extra then for k, v in pairs(extra) do e[k] = v end end
  return nil, e
end

-- A cosocket error string -> a contract kind.
local function kind_of(err, default)
  if err == "timeout" then return "timeout" end
  if find(err, "resolve", 1, true) then return "dns" end
  return default
end

-- no_proxy: comma- or space-separated host names, domain suffixes (".x.com" or
-- "x.com" also covers "api.x.com") and IP literals; "*" bypasses every proxy.
local function bypass_proxy(host, no_proxy)
  if not no_proxy or no_proxy == "" then return false end
  host = gsub(gsub(host, "^%[", ""), "%]$", "")
  for entry in no_proxy:gmatch("[^,%s]+") do
    entry = lower(entry)
    local v6 = match(entry, "^%[(.-)%]")
    if v6 then
      entry = v6
    elseif not find(entry, ":.*:") then
      entry = gsub(entry, ":%d+$", "") -- "host:port"; a bare IPv6 address keeps its colons
    end
    entry = gsub(entry, "^%.", "")
    if entry == "*" or host == entry then return true end
    if #host > #entry and sub(host, -#entry - 1) == "." .. entry then return true end
  end
  return false
end

local function percent_decode(s)
  return (gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The proxy settings of `opts.proxy`, checked once at new().
local function proxy_config(p)
  if p == nil or p == false then return nil end
  if type(p) == "string" then p = { url = p } end
  if type(p) ~= "table" or type(p.url) ~= "string" then
    error("bad argument #1 to 'new' (proxy must be a URL string or a table with a url)", 3)
  end
  local scheme, userinfo, rest = match(p.url, "^(%a+)://([^@/]*)@(.*)$")
  if not scheme then scheme, rest = match(p.url, "^(%a+)://(.*)$") end
  if not scheme then scheme, rest = "http", p.url end
  if lower(scheme) ~= "http" then
    error("bad argument #1 to 'new' (the ngx transport supports http:// proxies only, got " .. scheme .. "://)", 3)
  end
  local u = http1.split_url("http://" .. rest)
  if not u then error("bad argument #1 to 'new' (proxy url is not a valid URL)", 3) end
  local username, password = p.username, p.password
  if userinfo and not username then
    username, password = match(userinfo, "^([^:]*):?(.*)$")
    username, password = percent_decode(username), percent_decode(password)
  end
  local auth
  if username and username ~= "" then
    auth = "Basic " .. ngx.encode_base64(username .. ":" .. (password or ""))
  end
  return {
    host = u.host, port = u.port, authorization = auth, no_proxy = p.no_proxy,
    -- the pool key names the proxy and whose credentials opened the tunnel, never the secret itself
    key = u.host .. ":" .. u.port .. (auth and ("#" .. ngx.md5(auth)) or ""),
  }
end

-- RFC 9110 token: header names, and the credential's header and scheme.
local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

-- A credential must fit in one header line.
local function usable_secret(s)
  return type(s) == "string" and s ~= "" and not find(s, "[%z\r\n]")
end

local function check_header(name, value)
  if type(name) ~= "string" or not match(name, TOKEN) then
    return nil, "invalid header name " .. format("%q", tostring(name))
  end
  local t = type(value)
  if t == "number" then value = tostring(value) elseif t ~= "string" then
    return nil, "header " .. name .. " must be a string"
  end
  if find(value, "[%z\r\n]") then return nil, "header " .. name .. " contains CR, LF or NUL" end
  return value
end

-- Headers the transport writes itself; a caller's value for them is ignored.
local OWN_HEADERS = {
  host = true, ["content-length"] = true, ["transfer-encoding"] = true, connection = true,
  authorization = true, ["proxy-authorization"] = true,
}

-- seconds -> milliseconds for cosocket timeouts (at least 1 ms, at most ~24 days)
local function ms(s)
  local v = floor(s * 1000 + 0.5)
  if v < 1 then return 1 end
  if v > 2147483647 then return 2147483647 end
  return v
end

local Transport = {}
Transport.__index = Transport
Transport.__tostring = function() return "openai.finetunes.transport.ngx" end

-- One exchange on one (maybe pooled) connection. Returns res | nil, err, and
-- `stale` = true when a reused connection turned out dead before any byte of
-- the answer arrived (the caller then tries again on another connection).
local function exchange(c, sock, req, head, body_parts, mp, deadline, reused)
  local idle = c.idle_timeout
  local progress = req.progress
  local ultotal, ulnow, dltotal, dlnow = c.body_length, 0, 0, 0

  -- Each socket operation may wait until the overall deadline, or for the idle
  -- timeout when that comes first; `idle_bound` says which one a timeout hit.
  local idle_bound = false
  local function arm()
    local left = deadline - ngx.now()
    if left <= 0 then return nil end
    idle_bound = idle ~= nil and idle < left
    if idle_bound then left = idle end
    local t = ms(left)
    sock:settimeouts(t, t, t)
    return true
  end
  local function timed_out(doing)
    if idle_bound then
      return fail("timeout", format("%s: no data for %g s (idle_timeout)", doing, idle))
    end
    return fail("timeout", format("%s: the total timeout of %g s expired", doing, c.timeout))
  end

  local function report()
    if not progress then return true end
    local ok, go_on = pcall(progress, dltotal, dlnow, ultotal, ulnow)
    if not ok then
      return nil, { kind = "aborted", callback_error = go_on,
        message = "progress callback raised " .. (type(go_on) == "string" and "an error: " .. go_on
          or "a " .. type(go_on) .. " value") }
    end
    if go_on == false then return nil, { kind = "aborted", message = "aborted by the progress callback" } end
    return true
  end

  local received_any = false
  local function read_answer()
    local reader = http1.new({ method = req.method, max_head_bytes = c.max_head_bytes })
    local res, parts, size = nil, {}, 0
    local sink_file, sink_tmp
    local function cleanup()
      if sink_file then sink_file:close(); sink_file = nil end
      if sink_tmp then os_remove(sink_tmp); sink_tmp = nil end
    end
    while true do
      local ev, val = reader:next()
      if ev == "head" then
        res = { status = val.status, headers = val.headers, http_version = val.version }
        dltotal = tonumber(val.headers["content-length"]) or 0
        if req.sink and val.status >= 200 and val.status < 300 then
          sink_tmp = req.sink .. ".part-" .. multipart.random_hex(6)
          local f, ferr = io_open(sink_tmp, "wb")
          if not f then
            sink_tmp = nil
            return fail("io", "cannot open download file: " .. tostring(ferr))
          end
          sink_file = f
        end
      elseif ev == "body" then
        dlnow = dlnow + #val
        if sink_file then
          local ok, werr = sink_file:write(val)
          if not ok then
            cleanup()
            return fail("io", "cannot write download file: " .. tostring(werr))
          end
        else
          size = size + #val
          if c.max_response_bytes and size > c.max_response_bytes then
            cleanup()
            return fail("too_large", format("response body exceeds max_response_bytes (%.0f bytes)",
              c.max_response_bytes))
          end
          parts[#parts + 1] = val
        end
        local ok, perr = report()
        if not ok then cleanup(); return nil, perr end
      elseif ev == "done" then
        if sink_file then
          sink_file:close()
          sink_file = nil
          local ok, rerr = os_rename(sink_tmp, req.sink)
          if not ok then
            cleanup()
            return fail("io", "cannot move download into place: " .. tostring(rerr))
          end
          sink_tmp = nil
          res.bytes_written = dlnow
        else
          res.body = concat(parts)
        end
        return res, nil, val
      elseif val then
        cleanup()
        return fail("io", "invalid HTTP response: " .. val)
      else
        if not arm() then cleanup(); return timed_out("waiting for the response") end
        local data, rerr = sock:receiveany(READ_SIZE)
        if data then
          received_any = true
          reader:feed(data)
        elseif rerr == "closed" then
          reader:feed_eof()
        else
          cleanup()
          if rerr == "timeout" then return timed_out("waiting for the response") end
          return fail("io", "reading the response failed: " .. rerr)
        end
      end
    end
  end

  local function send(piece)
    if not arm() then return "timeout" end
    local _, serr = sock:send(piece)
    return serr
  end

  -- send the head, then the body (a string, or the multipart stream)
  local serr = send(head)
  local next_chunk = mp and mp:source()
  if not serr then
    for _, piece in ipairs(body_parts) do
      serr = send(piece)
      if serr then break end
      ulnow = ulnow + #piece
    end
    while not serr and next_chunk do
      local piece, merr = next_chunk()
      if not piece then
        if merr then
          mp:close()
          return nil, merr
        end
        break
      end
      serr = send(piece)
      if serr then break end
      ulnow = ulnow + #piece
      local ok, perr = report()
      if not ok then mp:close(); return nil, perr end
    end
  end
  if mp then mp:close() end
  if serr then
    if reused and ulnow == 0 and serr ~= "timeout" then return nil, nil, true end
    if serr == "timeout" then return timed_out("sending the request") end
    -- The server may have answered early (401, 413) and closed: prefer its answer.
    local res = read_answer()
    if res then return res, nil, false, false end
    return fail("io", "sending the request failed: " .. serr)
  end
  local ok, perr = report()
  if not ok then return nil, perr end

  local res, err, reusable = read_answer()
  if not res and reused and not received_any and err.kind == "io" then return nil, nil, true end
  return res, err, false, reusable
end

-- Connect (or take a pooled connection), tunnel through the proxy, handshake TLS.
local function open(self, c, u, proxy, deadline)
  local sock = ngx.socket.tcp()
  local left = deadline - ngx.now()
  if left <= 0 then return fail("timeout", "total timeout expired before connecting") end
  -- connect_timeout bounds the whole setup (TCP, proxy CONNECT, TLS), as in libcurl
  local ct = c.connect_timeout < left and c.connect_timeout or left
  sock:settimeouts(ms(ct), ms(ct), ms(ct))
  local host, port = u.host, u.port
  if proxy then host, port = proxy.host, proxy.port end
  -- nginx resolves names only through a `resolver` directive; spare the
  -- loopback name that every test setup uses from needing one
  local addr = host == "localhost" and "127.0.0.1" or host
  local ok, err = sock:connect(addr, port, { pool = c.pool_key, pool_size = self.pool_size })
  if not ok then
    local kind = kind_of(err, "connect")
    local msg = format("cannot connect to %s%s:%d: %s", proxy and "proxy " or "", host, port,
      err == "timeout" and format("no connection within %g s", ct) or err)
    if proxy and kind == "dns" then kind = "proxy" end
    if find(err, "no resolver defined", 1, true) then
      msg = msg .. " (add a `resolver` directive to nginx.conf)"
    end
    return fail(kind, msg)
  end
  local reused = sock:getreusedtimes() > 0
  if reused then return sock, true end

  if proxy and u.scheme == "https" then
    local target = u.host .. ":" .. u.port
    local head = { "CONNECT ", target, " HTTP/1.1\r\nHost: ", target, "\r\n" }
    if proxy.authorization then
      head[#head + 1] = "Proxy-Authorization: " .. proxy.authorization .. "\r\n"
    end
    head[#head + 1] = "\r\n"
    local _, serr = sock:send(head)
    if serr then
      sock:close()
      return fail(kind_of(serr, "proxy"), "sending CONNECT to the proxy failed: " .. serr)
    end
    local reader = http1.new({ method = "CONNECT" })
    while true do
      local ev, val = reader:next()
      if ev == "head" then
        if val.status < 200 or val.status >= 300 then
          sock:close()
          return fail("proxy", format("proxy refused CONNECT %s: %d %s", target, val.status, val.reason or ""))
        end
      elseif ev == "done" then
        break
      elseif ev == nil and val then
        sock:close()
        return fail("proxy", "bad answer from the proxy to CONNECT: " .. val)
      elseif ev == nil then
        local data, rerr = sock:receiveany(READ_SIZE)
        if data then
          reader:feed(data)
        elseif rerr == "closed" then
          reader:feed_eof()
        else
          sock:close()
          return fail(kind_of(rerr, "proxy"), "reading the proxy's CONNECT answer failed: " .. rerr)
        end
      end
    end
  end

  if u.scheme == "https" then
    local session, herr = sock:sslhandshake(self.tls_sessions[c.pool_key], c.server_name, c.verify)
    if not session then
      sock:close()
      local msg = "TLS handshake with " .. u.host .. " failed: " .. tostring(herr)
      if find(tostring(herr), "certificate", 1, true) then
        msg = msg .. " (nginx verifies against `lua_ssl_trusted_certificate`)"
      end
      return fail(herr == "timeout" and "timeout" or "tls", msg)
    end
    if type(session) ~= "boolean" then self.tls_sessions[c.pool_key] = session end
  end
  return sock, false
end

local function prepare(self, req)
  if type(req) ~= "table" then error("bad argument #1 to 'request' (table expected, got " .. type(req) .. ")", 3) end
  local method = req.method
  if type(method) ~= "string" or not match(method, "^%u+$") then
    return fail("invalid_request", "method must be an upper-case HTTP method")
  end
  local u, uerr = http1.split_url(req.url)
  if not u then return fail("invalid_request", uerr) end

  local proxy = self.proxy
  if proxy and bypass_proxy(u.host, proxy.no_proxy) then proxy = nil end

  local c = {
    timeout = req.timeout or self.timeout,
    connect_timeout = req.connect_timeout or self.connect_timeout,
    idle_timeout = req.idle_timeout or self.idle_timeout,
    max_response_bytes = req.max_response_bytes or self.max_response_bytes,
    max_head_bytes = self.max_head_bytes,
    verify = self.verify,
    server_name = self.server_name or gsub(gsub(u.host, "^%[", ""), "%]$", ""),
  }
  c.pool_key = format("oft|%s|%s|%d|%s|%s|%s", u.scheme, u.host, u.port, tostring(c.verify),
    u.scheme == "https" and c.server_name or "", proxy and proxy.key or "")

  local mp, body_parts = nil, {}
  local body_length = 0
  local lines = {}
  local has = {}
  local names = {}
  for name in pairs(req.headers or {}) do names[#names + 1] = name end
  sort(names, function(a, b) return tostring(a) < tostring(b) end)
  for _, name in ipairs(names) do
    local value, herr = check_header(name, req.headers[name])
    if not value then return fail("invalid_request", herr) end
    local lname = lower(name)
    if not OWN_HEADERS[lname] and lname ~= self.auth_name and not (req.multipart and lname == "content-type") then
      lines[#lines + 1] = name .. ": " .. value .. "\r\n"
      has[lname] = true
    end
  end

  if req.multipart then
    local err
    mp, err = multipart.new(req.multipart)
    if not mp then return nil, err end
    lines[#lines + 1] = "Content-Type: " .. mp.content_type .. "\r\n"
    body_length = mp.length
  elseif req.body ~= nil then
    if type(req.body) ~= "string" then return fail("invalid_request", "body must be a string") end
    body_parts[1] = req.body
    body_length = #req.body
  end
  c.body_length = body_length

  local target = u.target
  if proxy and u.scheme == "http" then
    target = "http://" .. u.authority .. u.target -- absolute-form through a plain proxy
    if proxy.authorization then lines[#lines + 1] = "Proxy-Authorization: " .. proxy.authorization .. "\r\n" end
  end
  local head = { method, " ", target, " HTTP/1.1\r\nHost: ", u.authority, "\r\n" }
  for _, l in ipairs(lines) do head[#head + 1] = l end
  if body_length > 0 or method == "POST" or method == "PUT" or method == "PATCH" then
    head[#head + 1] = format("Content-Length: %.0f\r\n", body_length)
  end
  return u, proxy, c, head, body_parts, mp, has
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
  local key = opts.api_key
  if key ~= nil and not usable_secret(key) then
    error("bad argument #1 to 'new' (api_key must be a non-empty string without CR, LF or NUL)", 2)
  end
  local auth_header, auth_scheme = opts.auth_header or "Authorization", opts.auth_scheme or "Bearer"
  if type(auth_header) ~= "string" or not match(auth_header, TOKEN) then
    error("bad argument #1 to 'new' (auth_header must be a header name (a token))", 2)
  end
  if type(auth_scheme) ~= "string" or (auth_scheme ~= "" and not match(auth_scheme, TOKEN)) then
    error("bad argument #1 to 'new' (auth_scheme must be empty or a scheme name (a token))", 2)
  end
  local tls = opts.tls or {}
  if type(tls) ~= "table" then error("bad argument #1 to 'new' (tls must be a table)", 2) end
  for _, unsupported in ipairs({ "ca_file", "ca_path", "cert_file", "key_file", "key_password" }) do
    if tls[unsupported] ~= nil then
      error("bad argument #1 to 'new' (tls." .. unsupported .. " is not supported by the ngx transport: "
        .. "configure lua_ssl_trusted_certificate / proxy_ssl_* in nginx.conf)", 2)
    end
  end
  local self = setmetatable({
    timeout = opts.timeout or DEFAULT_TIMEOUT,
    connect_timeout = opts.connect_timeout or DEFAULT_CONNECT_TIMEOUT,
    idle_timeout = opts.idle_timeout,
    max_response_bytes = opts.max_response_bytes or DEFAULT_MAX_RESPONSE,
    max_head_bytes = opts.max_head_bytes,
    verify = tls.verify ~= false,
    server_name = tls.server_name,
    pool_size = opts.max_connections or (opts.pool and opts.pool.max_connections),
    keepalive_ms = opts.keepalive_timeout and ms(opts.keepalive_timeout) or nil,
    proxy = proxy_config(opts.proxy),
    tls_sessions = {},
    auth_name = lower(auth_header),
    threads = {},
    next_id = 0,
  }, Transport)
  local prefix = auth_header .. ": " .. (auth_scheme ~= "" and auth_scheme .. " " or "")
  local authorization = key and (prefix .. key .. "\r\n") or nil
  key = nil -- luacheck: ignore 311

  -- The credential of the requests that start from now on (a refreshed token).
  -- It lives in this closure, never in a field.
  self.set_credential = function(_, secret)
    if not usable_secret(secret) then
      error("bad argument #1 to 'set_credential' (credential must be a non-empty string without CR, LF or NUL)", 2)
    end
    authorization = prefix .. secret .. "\r\n"
    return true
  end

  -- The only function that sends the key.
  self.request = function(this, req)
    if this.closed then return fail("closed", "the transport was closed") end
    local perr = M.phase_error()
    if perr then return nil, perr end
    local u, proxy, c, head, body_parts, mp = prepare(this, req)
    if not u then return nil, proxy end
    if authorization then head[#head + 1] = authorization end
    head[#head + 1] = "\r\n"
    ngx.update_time()
    local deadline = ngx.now() + c.timeout

    for _ = 0, MAX_STALE_RETRIES do
      local sock, reused = open(this, c, u, proxy, deadline)
      if not sock then return nil, reused end
      local res, err, stale, reusable = exchange(c, sock, req, head, body_parts, mp, deadline, reused)
      if res and reusable then
        sock:setkeepalive(this.keepalive_ms)
      else
        sock:close()
      end
      if not stale then
        if err and err.callback_error ~= nil then error(err.callback_error, 0) end
        return res, err
      end
      -- a pooled connection the server had already closed: try a fresh one
    end
    return fail("io", "every pooled connection was closed by the server")
  end
  return self
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

--- Concurrent exchanges on light threads (same contract as the C core's
-- start/poll/cancel). Only the coroutine that started them may poll them.
function Transport:start(req)
  if self.closed then return fail("closed", "the transport was closed") end
  local perr = M.phase_error()
  if perr then return nil, perr end
  self.next_id = self.next_id + 1
  local id = self.next_id
  local request = self.request
  self.threads[id] = ngx.thread.spawn(function()
    local ok, res, err = pcall(request, self, req)
    if not ok then
      return id, nil, { kind = "aborted", message = "progress callback raised an error", callback_error = res }
    end
    return id, res, err
  end)
  return id
end

local function finished(th)
  return coroutine.status(th) == "dead"
end

function Transport:poll(timeout)
  local list, completions = {}, {}
  for _, th in pairs(self.threads) do list[#list + 1] = th end
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
  if sleeper and not finished(sleeper) then ngx.thread.kill(sleeper) end
  for _, th in pairs(self.threads) do
    if finished(th) then collect(ngx.thread.wait(th)) end
  end
  return completions
end

function Transport:cancel(id)
  local th = self.threads[id]
  if not th then return false end
  self.threads[id] = nil
  ngx.thread.kill(th)
  return true
end

function Transport:pending()
  local n = 0
  for _ in pairs(self.threads) do n = n + 1 end
  return n
end

--- Nothing to release: connections live in nginx's pool, not in the object.
-- Kept idempotent so the client's close path can call it like curl's.
function Transport:close()
  for id in pairs(self.threads) do self:cancel(id) end
  self.closed = true
  return true
end

M._bypass_proxy = bypass_proxy -- for the specs

return M
