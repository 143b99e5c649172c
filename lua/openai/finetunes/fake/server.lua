-- The fake server: listener, one task per connection, and the pipeline every request
-- goes through: proxy form -> auth -> route -> fault -> body (streamed to disk for
-- multipart) -> log -> handler -> answer. What differs between providers (auth, the
-- path layout, error bodies, a few headers) is asked of the mode (modes/*.lua).
local socket = require("socket")

local Loop = require("openai.finetunes.fake.loop")
local http = require("openai.finetunes.fake.http")
local multipart = require("openai.finetunes.fake.multipart")
local json = require("openai.finetunes.fake.json")
local errors = require("openai.finetunes.fake.errors")
local faults = require("openai.finetunes.fake.faults")
local util = require("openai.finetunes.fake.util")
local md5 = require("openai.finetunes.fake.md5")
local compat = require("openai.finetunes.fake.compat")
local Clock = require("openai.finetunes.fake.clock")
local ReqLog = require("openai.finetunes.fake.reqlog")
local Router = require("openai.finetunes.fake.router")
local Store = require("openai.finetunes.fake.store")
local modes = require("openai.finetunes.fake.modes")

local Server = {}
Server.__index = Server

Server.MAX_JSON_BODY = 32 * 1024 * 1024   -- bodies held in memory (JSON, form fields)
Server.LOG_BODY_MAX = 64 * 1024           -- raw body copied into the request log
Server.LOG_VALUE_MAX = 4096               -- text field value copied into the request log
Server.KEEPALIVE_IDLE = 120               -- seconds an idle keep-alive connection stays open

-- The API's route modules, each with register(router, server); a new API area appends
-- its module here (before Server.new).
Server.ROUTE_MODULES = {
  "openai.finetunes.fake.routes.files",
  "openai.finetunes.fake.routes.uploads",
  "openai.finetunes.fake.routes.jobs",
  "openai.finetunes.fake.routes.permissions",
  "openai.finetunes.fake.routes.graders",
  "openai.finetunes.fake.routes.models",
  "openai.finetunes.fake.routes.webhooks",
}

local function temp_data_dir()
  local base = os.getenv("TMPDIR") or "/tmp"
  return string.format("%s/openai-ft-fake-%d-%s", base, os.time(), util.random_hex(8))
end

-- new(opts): opts = {host, port, data_dir, speed, api_key, proxy_auth, watch_pid,
-- idle_timeout, keepalive_timeout, port_file, log_limit, quiet, org,
-- mode or azure, api_version, ad_token (the last two only count with azure)}
function Server.new(opts)
  opts = opts or {}
  local self = setmetatable({ opts = opts }, Server)
  self.mode = modes.new(opts)
  -- job creation refused with 403 training_not_available (POST /_fake/training)
  self.training_unavailable = opts.training_unavailable and true or false
  -- functions called as fn(server, job) when a job reaches a terminal state
  self.job_hooks = {}
  self.host = opts.host or "127.0.0.1"
  self.loop = Loop.new()
  self.clock = Clock.new(tonumber(opts.speed) or 1)
  self.log = ReqLog.new(tonumber(opts.log_limit) or 10000)
  self.faults = faults.new()
  self.owns_data_dir = not opts.data_dir
  self.data_dir = opts.data_dir or temp_data_dir()
  assert(util.mkdir_p(self.data_dir .. "/tmp"))
  self.store = Store.new(self)
  self.router = Router.new()
  for _, name in ipairs(Server.ROUTE_MODULES) do
    require(name).register(self.router, self)
  end
  self.control = require("openai.finetunes.fake.routes.control")
  self.conn_seq = 0
  self.open_conns = 0
  self.conns = {}
  self.last_activity = socket.gettime()
  self.started_at = socket.gettime()
  return self
end

function Server:log_line(...)
  if not self.opts.quiet then
    io.stderr:write("[fake-openai] ", string.format(...), "\n")
  end
end

------------------------------------------------------------------------------ listen

function Server:listen()
  local sock, err
  if self.host:find(":", 1, true) then
    sock, err = socket.tcp6()
  else
    sock, err = socket.tcp()
  end
  assert(sock, err)
  sock:setoption("reuseaddr", true)
  local ok
  ok, err = sock:bind(self.host, tonumber(self.opts.port) or 0)
  if not ok then
    error(string.format("fake server: cannot listen on %s:%s: %s", self.host, tostring(self.opts.port or 0), err), 0)
  end
  assert(sock:listen(1024))
  sock:settimeout(0)
  local _, port = sock:getsockname()
  self.port = tonumber(port)
  self.listener = sock
  local host = self.host:find(":", 1, true) and ("[" .. self.host .. "]") or self.host
  self.endpoint = string.format("http://%s:%d", host, self.port)
  self.base_url = self.endpoint .. self.mode.base_path
  self.loop:watch(sock, function(s) self:_accept(s) end)
  if self.opts.port_file then
    local tmp = self.opts.port_file .. ".tmp"
    assert(util.write_file(tmp, tostring(self.port) .. "\n"))
    assert(os.rename(tmp, self.opts.port_file))
  end
  return self.port
end

function Server:_accept(listener)
  for _ = 1, 64 do
    local client = listener:accept()
    if not client then return end
    client:setoption("tcp-nodelay", true)
    self.conn_seq = self.conn_seq + 1
    local conn = http.new_conn(self.loop, client, self.conn_seq)
    conn.idle_since = socket.gettime()
    self.conns[conn] = true
    self.open_conns = self.open_conns + 1
    self.loop:spawn(function() self:_serve_connection(conn) end, function(err, co)
      self:log_line("connection %d crashed: %s", conn.id, debug.traceback(co, tostring(err)))
      self.open_conns = self.open_conns - 1
      self.conns[conn] = nil
      if not conn.closed then
        if not conn.head_sent then
          pcall(conn.sock.settimeout, conn.sock, 1)
          local body = self:error_body(errors.new(500, "The fake server crashed handling this request.",
            "server_error"))
          pcall(conn.sock.send, conn.sock, http.head(500, {
            { "Content-Type", "application/json" }, { "Content-Length", #body }, { "Connection", "close" },
          }) .. body)
        end
        conn:close()
      end
    end)
  end
end

function Server:_serve_connection(conn)
  while not conn.closed do
    conn.waiting = true
    local req, err = conn:read_request()
    conn.waiting = false
    if not req then
      if err ~= "eof" and not conn.closed then
        local status = err == "too_long" and 431 or 400
        local body = self:error_body(errors.new(status, "Malformed HTTP request (" .. tostring(err) .. ").", nil))
        conn:send(http.head(status, { { "Content-Type", "application/json" }, { "Content-Length", #body },
          { "Connection", "close" } }) .. body)
      end
      break
    end
    self.last_activity = socket.gettime()
    self.busy = (self.busy or 0) + 1
    local keep = self:_handle(conn, req)
    self.busy = self.busy - 1
    self.last_activity = socket.gettime()
    if not keep then break end
    conn.idle_since = socket.gettime()
  end
  conn:close()
  self.open_conns = self.open_conns - 1
  self.conns[conn] = nil
end

---------------------------------------------------------------------------- answers

-- error_body(e, req) -> the error envelope as text: the mode's shape, except for the
-- control API, which answers the same in every mode.
function Server:error_body(e, req)
  if req and req.control then
    return errors.body(e)
  end
  return self.mode:error_body(e)
end

-- on_job_finished(fn): fn(server, job) runs once when a job reaches a terminal
-- state (succeeded, failed, cancelled), after its final event.
function Server:on_job_finished(fn)
  self.job_hooks[#self.job_hooks + 1] = fn
end

-- job_finished(job): jobs.lua's call when a job reaches a terminal state.
function Server:job_finished(job)
  for _, fn in ipairs(self.job_hooks) do
    local ok, err = pcall(fn, self, job)
    if not ok then self:log_line("job hook failed for %s: %s", job.id, tostring(err)) end
  end
end

local function standard_headers(self, req, res, length)
  local h = {
    { "Date", http.date() },
    { "Content-Type", res.content_type or "application/json" },
  }
  if length then
    h[#h + 1] = { "Content-Length", tostring(length) }
  elseif res.chunked then
    h[#h + 1] = { "Transfer-Encoding", "chunked" }
  end
  if req.control then
    h[#h + 1] = { "x-request-id", req.request_id }
  else
    self.mode:add_headers(h, self, req)
  end
  if res.headers then
    for _, kv in ipairs(res.headers) do h[#h + 1] = kv end
  end
  h[#h + 1] = { "Connection", req.keep_alive and "keep-alive" or "close" }
  return h
end

-- Materialise a handler's answer: body string (JSON-encoded when a table).
local function finish_body(self, req, res)
  if res.file or res.huge then return end
  local b = res.body
  if type(b) == "table" then
    if errors.is(b) then
      res.body = self:error_body(b, req)
    else
      res.body = json.encode(b)
    end
  elseif b == nil then
    res.body = ""
  end
end

local FILE_CHUNK = 256 * 1024

-- stream_body(conn, res, from, to, pace): send bytes [from, to] of the answer body
-- (1-based, inclusive); pace = {step, rate} sends it at rate bytes/s (slow_body).
local function stream_body(conn, res, from, to, pace)
  if to < from then return true end
  if res.file then
    local f = io.open(res.file, "rb")
    if not f then return false end
    f:seek("set", from - 1)
    local left = to - from + 1
    local size = pace and pace.step or FILE_CHUNK
    while left > 0 do
      local chunk = f:read(math.min(size, left))
      if not chunk then break end
      left = left - #chunk
      if pace then conn.loop:sleep(#chunk / pace.rate) end
      if not conn:send(chunk) then f:close(); return false end
    end
    f:close()
    return left == 0
  elseif res.huge then
    -- {"object":"padding","data":"xxxx...x"} of exactly res.huge bytes, never built whole.
    local prefix, suffix = '{"object":"padding","data":"', '"}'
    local total = res.huge
    local block = string.rep("x", 64 * 1024)
    local pos = from
    while pos <= to do
      local piece
      if pos <= #prefix then
        piece = prefix:sub(pos, math.min(#prefix, to))
      elseif pos > total - #suffix then
        piece = suffix:sub(pos - (total - #suffix), to - (total - #suffix))
      else
        local n = math.min(pace and pace.step or #block, total - #suffix - pos + 1, to - pos + 1)
        piece = n == #block and block or block:sub(1, n)
      end
      if pace then conn.loop:sleep(#piece / pace.rate) end
      if res.chunked then
        if not conn:send(string.format("%x\r\n", #piece) .. piece .. "\r\n") then return false end
      elseif not conn:send(piece) then
        return false
      end
      pos = pos + #piece
    end
    if res.chunked and to == total then
      return conn:send("0\r\n\r\n")
    end
    return true
  else
    local piece = res.body:sub(from, to)
    if pace then
      local step = pace.step
      for i = 1, #piece, step do
        conn.loop:sleep(math.min(step, #piece - i + 1) / pace.rate)
        if not conn:send(piece:sub(i, i + step - 1)) then return false end
      end
      return true
    end
    return conn:send(piece)
  end
end

local function body_length(res)
  if res.file then return res.size or util.file_size(res.file) or 0 end
  if res.huge then return res.huge end
  return #res.body
end

-- send(conn, req, res, fault): write the answer, damaged as the fault says.
function Server:send(conn, req, res, fault)
  finish_body(self, req, res)
  local length = body_length(res)
  if req.log then
    req.log.status = res.status
    req.log.response_bytes = length
    req.log.duration_ms = math.floor((socket.gettime() - req.t0) * 1000)
  end
  if req.method == "HEAD" then
    res = { status = res.status, headers = res.headers, content_type = res.content_type, body = "" }
  end
  local fname = fault and fault.name
  if fname == "stall" then
    self.loop:sleep(tonumber(fault.seconds) or 30)
  end
  local head = http.head(res.status, standard_headers(self, req, res, not res.chunked and length or nil))
  conn.head_sent = true
  if fname == "reset_mid_body" or fname == "truncated" or fname == "stall_body" then
    -- Content-Length promises the whole body; only part of it is sent (then stall,
    -- RST or FIN). At least one byte is always withheld.
    local cut = tonumber(fault.bytes) or math.floor(length / 2)
    if cut >= length then cut = length - 1 end
    if cut < 0 then cut = 0 end
    if not conn:send(head) then return false end
    if not stream_body(conn, res, 1, cut) then return false end
    if fname == "stall_body" then
      self.loop:sleep(tonumber(fault.seconds) or 30)
      if not stream_body(conn, res, cut + 1, length) then return false end
      return req.keep_alive
    end
    if fname == "reset_mid_body" then conn:reset() else conn:close() end
    return false
  end
  local pace
  if fname == "slow_body" then
    -- pieces of 1/20 s worth of bytes, each sent after its share of the wait
    local rate = tonumber(fault.rate) or 65536
    pace = { step = math.max(64, math.floor(rate / 20)), rate = rate }
  end
  if not res.file and not res.huge and #res.body <= 256 * 1024 and not pace then
    if not conn:send(head .. res.body) then return false end
  else
    if not conn:send(head) then return false end
    if not stream_body(conn, res, 1, length, pace) then
      conn:reset()
      return false
    end
  end
  return req.keep_alive
end

-- The answer for a request that is rejected before its body was read: the body is
-- drained when it is small, else the connection is closed after the answer.
function Server:reject(conn, req, res, body_reader)
  local reader = body_reader or http.body_reader(req)
  if not reader:drain(1024 * 1024) then
    req.keep_alive = false
  end
  return self:send(conn, req, res)
end

------------------------------------------------------------------------------ bodies

-- read_body(req, reader, entry) -> true | nil, api_error
-- Multipart bodies are streamed part by part to files under data_dir/tmp (each part
-- remembers its path; handlers adopt files by renaming them). Other bodies are read
-- into memory (JSON) up to MAX_JSON_BODY.
function Server:read_body(req, reader, entry)
  local ctype = (req.headers["content-type"] or ""):lower()
  if reader.invalid then
    return nil, errors.new(400, "Invalid Content-Length header.", "invalid_request_error")
  end
  if ctype:find("^%s*multipart/") then
    local boundary = multipart.boundary(req.headers["content-type"])
    if not boundary then
      reader:drain(1024 * 1024)
      return nil, errors.new(400, "Invalid multipart/form-data body: missing boundary.", "invalid_request_error")
    end
    local parts = {}
    req.parts = parts
    local tmpdir = self.data_dir .. "/tmp"
    local ok, err = multipart.parse(reader, boundary, function(part)
      local path = string.format("%s/%s-%d", tmpdir, req.request_id, #parts + 1)
      local f = assert(io.open(path, "wb"))
      local size = 0
      local small = {}
      local keep_value = part.filename == nil
      -- small parts are hashed as they arrive; bigger ones by md5sum afterwards
      local hash = md5.available and md5.new() or nil
      part._path = path
      parts[#parts + 1] = part
      return {
        write = function(_, data)
          size = size + #data
          f:write(data)
          if hash then
            if size <= md5.fast_limit then hash:update(data) else hash = nil end
          end
          if keep_value then
            if size <= Server.MAX_JSON_BODY then
              small[#small + 1] = data
            else
              keep_value, small = false, nil
            end
          end
        end,
        close = function(_, aborted)
          f:close()
          part.size = size
          part.complete = not aborted
          if hash then part.md5 = hash:hex() end
          if keep_value then part.value = table.concat(small) end
        end,
      }
    end)
    -- md5 of the parts too big to hash on the fly, computed on disk (also for a body
    -- that broke mid-way)
    local paths, missing = {}, {}
    for _, p in ipairs(parts) do
      if not p.md5 then
        paths[#paths + 1] = p._path
        missing[#missing + 1] = p
      end
    end
    local sums = util.md5_files(self.loop, tmpdir, paths)
    for i, p in ipairs(missing) do p.md5 = sums[i] or nil end
    local logged = json.array()
    for i, p in ipairs(parts) do
      p.size = p.size or util.file_size(p._path) or 0
      local value = p.value
      if value and (#value > Server.LOG_VALUE_MAX or p.filename) then value = nil end
      logged[i] = { name = p.name, filename = p.filename, content_type = p.content_type, size = p.size,
        md5 = p.md5 or nil, value = value }
    end
    entry.parts = logged
    entry.body_size = reader.received
    if not ok then
      entry.body_error = err
      return nil, errors.new(400, "Invalid multipart/form-data body: " .. tostring(err) .. ".", "invalid_request_error")
    end
    return true
  end
  local body, err = reader:read_all(Server.MAX_JSON_BODY)
  if not body then
    if err == "too_large" then
      req.keep_alive = false
      return nil, errors.new(413, "Request body too large.", "invalid_request_error")
    end
    entry.body_error = err
    req.keep_alive = false
    return nil, errors.new(400, "Incomplete request body (" .. tostring(err) .. ").", "invalid_request_error")
  end
  entry.body_size = #body
  req.body = body
  if #body <= Server.LOG_BODY_MAX then
    entry.body = body
    self.log:account(entry, #body)
  end
  if #body > 0 and (ctype:find("json", 1, true) or body:find("^%s*[{%[]")) then
    local value, derr = json.decode(body)
    if value == nil then
      req.json_error = derr
      entry.json_error = derr
    else
      req.json = value
      entry._json_text = body
    end
  end
  return true
end

-- Throttled reading for the slow_upload fault.
local function slow_reader(loop, reader, rate)
  local chunk = math.max(1024, math.floor(rate / 10))
  return setmetatable({
    read = function(self_)
      local data, err = reader:read(chunk)
      if data then loop:sleep(#data / rate) end
      self_.received = reader.received
      return data, err
    end,
  }, { __index = reader })
end

local function cleanup_parts(req)
  if req.parts then
    for _, p in ipairs(req.parts) do
      if p._path and not p.adopted then os.remove(p._path) end
    end
  end
end

----------------------------------------------------------------------------- pipeline


-- _handle(conn, req) -> keep the connection open?
function Server:_handle(conn, req)
  req.t0 = socket.gettime()
  local path = req.path
  local control = path:sub(1, 7) == "/_fake/" or path == "/_fake"
  -- the control API keeps OpenAI's id shape in both modes
  req.request_id = control and ("req_" .. util.random_hex(32)) or self.mode:request_id()
  req.proxied = req.absolute

  if req.version ~= "1.1" and req.version ~= "1.0" then
    req.keep_alive = false
    return self:send(conn, req, { status = 505, body = errors.new(505, "HTTP/" .. req.version
      .. " is not supported; the fake server speaks HTTP/1.1.") })
  end

  if req.method == "CONNECT" then
    req.keep_alive = false
    return self:send(conn, req, { status = 405, body = errors.new(405,
      "The fake server is a plain-HTTP proxy target only; CONNECT tunnels are not supported.") })
  end

  if control then
    req.control = true
    return self.control.handle(self, conn, req)
  end

  local entry = self.log:add({
    method = req.method, path = path, query = req.query_string,
    params = util.decode_query(req.query_string), headers = req.headers,
    connection = conn.id, proxied = req.proxied or false, request_id = req.request_id,
    time = self.clock:now(), http_version = req.version,
  })
  req.log = entry
  if req.proxied then
    entry.proxy_authorization = entry.headers["proxy-authorization"]
    entry.target = req.target
  end

  -- Proxy authentication (only for absolute-form requests, as a proxy would).
  if req.proxied and self.opts.proxy_auth then
    local expected = "Basic " .. util.base64(self.opts.proxy_auth)
    if req.headers["proxy-authorization"] ~= expected then
      return self:reject(conn, req, { status = 407, headers = { { "Proxy-Authenticate", 'Basic realm="fake-openai"' } },
        body = errors.new(407, "Proxy authentication required.", "invalid_request_error") })
    end
  end

  -- Authentication.
  local aerr = self.mode:authenticate(req)
  if aerr then
    return self:reject(conn, req, { status = 401, body = aerr })
  end

  -- Routing.
  local rpath, perr = self.mode:resolve(req, entry.params)
  if not rpath then
    return self:reject(conn, req, { status = perr.status, body = perr })
  end
  -- fault rules match the requested path and its /v1 twin (another mode's layout)
  req.api_path = "/v1" .. rpath
  local route, params, allowed = self.router:match(req.method, rpath)
  -- on a miss the second value says why ("not_found" | "bad_method")
  if not route and params == "bad_method" then
    return self:reject(conn, req, { status = 405, body = errors.bad_method(req.method, path, allowed),
      headers = { { "Allow", allowed } } })
  end
  if not route then
    return self:reject(conn, req, { status = 404, body = self.mode:not_found(req) })
  end
  entry.route = route.method .. " " .. route.template

  -- Fault selection (header first, then installed rules).
  local fault, ferr = self.faults:pick(req)
  if ferr then
    return self:reject(conn, req, { status = 400, body = errors.new(400, "Bad x-fake-fault header: " .. ferr) })
  end
  if fault then
    entry.fault = fault.name
    entry.fault_params = fault
  end
  if fault and fault.name == "reset" and fault.when == "head" then
    conn:reset()
    return false
  end
  if fault and fault.name == "close" and fault.when == "head" then
    conn:close()
    return false
  end

  -- Body.
  local reader = http.body_reader(req)
  if fault and fault.name == "slow_upload" then
    reader = slow_reader(self.loop, reader, tonumber(fault.rate) or 65536)
  end
  local ok, berr = self:read_body(req, reader, entry)
  if not ok then
    cleanup_parts(req)
    if conn.eof then
      entry.status = 0
      return false
    end
    return self:send(conn, req, { status = berr.status, body = berr })
  end

  -- Faults that replace the answer: the handler never runs.
  if fault and fault.kind == "replace" then
    cleanup_parts(req)
    if fault.name == "reset" then
      entry.status = 0
      conn:reset()
      return false
    elseif fault.name == "close" then
      entry.status = 0
      conn:close()
      return false
    end
    return self:send(conn, req, faults.replacement(fault), fault)
  end

  -- The handler.
  local ctx = {
    server = self, store = self.store, clock = self.clock, req = req, conn = conn,
    params = params, query = self.mode:handler_query(entry.params),
    json = req.json, parts = req.parts, log = entry,
  }
  local hok, res = compat.pcall(route.handler, ctx)
  cleanup_parts(req)
  if not hok then
    if errors.is(res) then
      res = { status = res.status, body = res, headers = res.headers }
    else
      self:log_line("handler %s failed: %s", entry.route, tostring(res))
      res = { status = 500, body = errors.new(500, "The server had an error while processing your request. "
        .. "Sorry about that! (fake server: " .. tostring(res) .. ")", "server_error") }
    end
  end
  return self:send(conn, req, res, fault)
end

------------------------------------------------------------------------------- run

function Server:stop()
  self.stopping = true
end

-- step(max_wait): one turn of the loop (for embedding in a caller's own loop).
function Server:step(max_wait)
  self.loop:step(max_wait)
  local now = socket.gettime()
  if (self.next_housekeeping or 0) <= now then
    self.next_housekeeping = now + 0.5
    local watch = tonumber(self.opts.watch_pid)
    if watch and not util.pid_alive(watch) then
      self:log_line("watched process %d is gone; exiting", watch)
      self.stopping = true
    end
    -- keep-alive connections idle between requests for too long are closed
    local keepalive = tonumber(self.opts.keepalive_timeout) or Server.KEEPALIVE_IDLE
    for conn in pairs(self.conns) do
      if conn.waiting and #conn.buf == 0 and now - conn.idle_since > keepalive then
        conn:close()
      end
    end
    local idle = tonumber(self.opts.idle_timeout)
    if idle and idle > 0 and (self.busy or 0) == 0 and now - self.last_activity > idle then
      self:log_line("idle for %d s; exiting", idle)
      self.stopping = true
    end
  end
end

function Server:run()
  if not self.listener then self:listen() end
  self:log_line("listening on %s (data in %s)", self.mode:describe(self), self.data_dir)
  while not self.stopping do
    self:step(0.5)
  end
  self:close()
end

function Server:close()
  if self.listener then
    self.loop:unwatch(self.listener)
    self.listener:close()
    self.listener = nil
  end
  if self.opts.port_file then os.remove(self.opts.port_file) end
  if self.owns_data_dir or self.opts.remove_data_dir then
    util.rm_rf(self.data_dir)
  end
  -- paths a spawner asked us to remove on exit ("|"-separated)
  for path in tostring(self.opts.remove_on_exit or ""):gmatch("[^|]+") do
    util.rm_rf(path)
  end
end

return Server
