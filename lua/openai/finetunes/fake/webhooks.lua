-- Webhook deliveries of the fake server: when a job reaches succeeded, failed or
-- cancelled, every registered endpoint subscribed to that event type gets the signed
-- event by POST, as the live API sends it (Standard Webhooks headers webhook-id,
-- webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256>" per active secret;
-- body {"id","object":"event","created_at","type","data":{"id"}}). An answer outside
-- 2xx, a refused connection or a timeout is retried on the fake's clock with the
-- schedule of the Standard Webhooks specification (5 s, 5 min, 30 min, 2 h, 5 h,
-- 10 h, 10 h after the previous attempt); POST /_fake/clock {"advance": N} moves
-- them along. GET /_fake/webhook_deliveries lists every delivery and its attempts.
--
-- Only loopback URLs are accepted (routes/webhooks.lua checks at create/update), so
-- the fake never sends anything off the machine. Signing needs the C module
-- openai.finetunes.codec (HMAC-SHA256 over OpenSSL); without it every attempt
-- fails saying so and `test` answers 500.
local socket = require("socket")
local json = require("openai.finetunes.fake.json")
local util = require("openai.finetunes.fake.util")

local M = {}

M.RETRY_DELAYS = { 5, 300, 1800, 7200, 18000, 36000, 36000 }
M.ATTEMPT_TIMEOUT = 15            -- real seconds for one POST (connect + answer)
M.TICK = 0.05                     -- real seconds between the pump's rounds
M.USER_AGENT = "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"
M.FINAL_EVENT = {
  succeeded = "fine_tuning.job.succeeded",
  failed = "fine_tuning.job.failed",
  cancelled = "fine_tuning.job.cancelled",
}

local floor = math.floor

local codec_ok, codec = pcall(require, "openai.finetunes.codec")
M.available = codec_ok and type(codec) == "table" and codec.hmac_sha256 ~= nil
M.UNAVAILABLE = "webhook deliveries need the C module openai.finetunes.codec (HMAC-SHA256) on package.cpath"

-- A new secret: "whsec_" + base64 of 32 random bytes.
function M.new_secret()
  local bytes
  local f = io.open("/dev/urandom", "rb")
  if f then
    bytes = f:read(32)
    f:close()
  end
  if not bytes or #bytes ~= 32 then
    local t = {}
    for i = 1, 32 do t[i] = string.char(math.random(0, 255)) end
    bytes = table.concat(t)
  end
  return "whsec_" .. util.base64(bytes)
end

-- "v1,<sig> v1,<sig2>" over "<id>.<timestamp>.<body>" for every active secret.
local function signature(endpoint, now, msg_id, timestamp, body)
  local parts = {}
  for _, s in ipairs(endpoint._secrets) do
    if not s.expires_at or s.expires_at > now then
      local key = codec.base64_decode(s.secret:sub(7))
      local mac = codec.hmac_sha256(key, msg_id .. "." .. timestamp .. "." .. body)
      parts[#parts + 1] = "v1," .. codec.base64_encode(mac)
    end
  end
  return table.concat(parts, " ")
end

-- url -> host, port, target (http:// only: the fake delivers to loopback)
function M.parse_url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme or scheme:lower() ~= "http" and scheme:lower() ~= "https" then return nil end
  local authority, target = rest:match("^([^/?#]*)(.*)$")
  if target == "" then target = "/" end
  if authority:find("@", 1, true) then return nil end
  local host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then return nil end
  port = tonumber(port) or (scheme:lower() == "https" and 443 or 80)
  return scheme:lower(), host:lower(), port, target
end

function M.is_loopback(host)
  return host == "localhost" or host == "::1" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end

-- post(loop, url, headers, body) -> status | nil, error text. One attempt on the loop:
-- non-blocking connect, send, read the status line (and a bounded body).
local function post(loop, url, headers, body)
  local _, host, port, target = M.parse_url(url)
  if host == "localhost" then host = "127.0.0.1" end
  local sock = host:find(":", 1, true) and socket.tcp6() or socket.tcp()
  sock:settimeout(0)
  local timed_out = false
  local finished = false
  -- a watchdog closes the socket after ATTEMPT_TIMEOUT; the blocked wait resumes
  loop:spawn(function()
    loop:sleep(M.ATTEMPT_TIMEOUT)
    if not finished then
      timed_out = true
      loop:forget(sock)
      sock:close()
    end
  end)
  local function done(a, b)
    finished = true
    loop:forget(sock)
    sock:close()
    return a, b
  end
  local ok, err = sock:connect(host, port)
  if not ok and err == "timeout" then
    loop:wait_write(sock)
    if timed_out then return nil, "timeout" end
    ok, err = sock:connect(host, port)
    if not ok and err == "already connected" then ok = true end
  end
  if not ok then return done(nil, "connect: " .. tostring(err)) end
  local lines = { "POST " .. target .. " HTTP/1.1", "Host: " .. (port == 80 and host or host .. ":" .. port) }
  for _, kv in ipairs(headers) do lines[#lines + 1] = kv[1] .. ": " .. kv[2] end
  lines[#lines + 1] = "Content-Length: " .. #body
  lines[#lines + 1] = "Connection: close"
  local data = table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
  local pos = 1
  while pos <= #data do
    local sent, serr, partial = sock:send(data, pos)
    if sent then
      pos = sent + 1
    elseif serr == "timeout" then
      pos = (partial or pos - 1) + 1
      loop:wait_write(sock)
      if timed_out then return nil, "timeout" end
    else
      return done(nil, "send: " .. tostring(serr))
    end
  end
  local buf = ""
  while not buf:find("\r\n\r\n", 1, true) and #buf < 65536 do
    local chunk, rerr, partial = sock:receive(8192)
    chunk = chunk or partial
    if chunk and chunk ~= "" then buf = buf .. chunk end
    if buf:find("\r\n\r\n", 1, true) then break end
    if rerr == "timeout" then
      loop:wait_read(sock)
      if timed_out then return nil, "timeout" end
    elseif rerr then
      break
    end
  end
  local status = tonumber(buf:match("^HTTP/1%.%d (%d%d%d)"))
  if not status then return done(nil, buf == "" and "no answer" or "not an HTTP answer") end
  return done(status)
end
M.post = post

-- The delivery engine of one server ------------------------------------------------

local Engine = {}
Engine.__index = Engine

function M.new(server)
  local self = setmetatable({ server = server, store = server.store, running = false }, Engine)
  server:on_job_finished(function(_, job)
    local t = type(job.finished_at) == "number" and job.finished_at or server.clock:now()
    self:job_final(job, t)
  end)
  self:start()
  return self
end

function M.event_body(etype, data_id, t)
  local event = { id = util.id("evt_", 32), object = "event", created_at = floor(t), type = etype,
    data = { id = data_id } }
  return event, json.encode(event)
end

-- A job reached a final status at virtual time t.
function Engine:job_final(job, t)
  local etype = M.FINAL_EVENT[job.status]
  if not etype then return end
  local event, body
  for _, ep in ipairs(self.store.webhook_endpoints.list) do
    for _, et in ipairs(ep.event_types) do
      if et == etype then
        if not body then event, body = M.event_body(etype, job.id, t) end
        self:queue(ep, event, body, t)
        break
      end
    end
  end
end

function Engine:queue(ep, event, body, t, kind)
  local list = self.store.webhook_deliveries
  local d = {
    id = "whd_" .. util.random_hex(24), webhook_id = "wh_" .. util.random_hex(32), kind = kind or "event",
    endpoint_id = ep.id, url = ep.url, event_id = event.id, event_type = event.type, data_id = event.data.id,
    created_at = floor(t), status = "pending", attempts = json.array(), next_attempt_at = t,
    _body = body, _endpoint = ep,
  }
  list[#list + 1] = d
  self:start()
  return d
end

-- One attempt of delivery d now; returns its status code or nil, error.
function Engine:attempt(d)
  local clock, loop = self.server.clock, self.server.loop
  local now = clock:now()
  -- the moment of sending, as a receiver's clock sees it: real time, also when the
  -- fake's clock was advanced (event times and the retry schedule are the fake's)
  local ts = tostring(floor(socket.gettime()))
  local headers = M.available and {
    { "Content-Type", "application/json" },
    { "User-Agent", M.USER_AGENT },
    { "webhook-id", d.webhook_id },
    { "webhook-timestamp", ts },
    { "webhook-signature", signature(d._endpoint, now, d.webhook_id, ts, d._body) },
  } or {}
  d.in_flight = true
  local t0 = socket.gettime()
  local status, err
  if M.available then
    status, err = post(loop, d.url, headers, d._body)
  else
    err = M.UNAVAILABLE
  end
  d.in_flight = nil
  local n = #d.attempts + 1
  d.attempts[n] = {
    attempt = n, at = floor(now), status_code = status or json.null, error = err or json.null,
    duration_ms = floor((socket.gettime() - t0) * 1000),
  }
  if status and status >= 200 and status < 300 then
    d.status, d.next_attempt_at = "delivered", json.null
  elseif d.kind == "test" or n > #M.RETRY_DELAYS then
    d.status, d.next_attempt_at = "failed", json.null
  else
    d.next_attempt_at = now + M.RETRY_DELAYS[n]
  end
  return status, err
end

-- The pump: keeps unread jobs moving on the clock (so their final status, and the
-- event, come without a poll) and starts the attempts that are due.
function Engine:start()
  if self.running then return end
  self.running = true
  local server, store = self.server, self.store
  local jobs = require("openai.finetunes.fake.jobs")
  server.loop:spawn(function()
    while not server.stopping do
      if #store.webhook_endpoints.list > 0 then
        for _, job in ipairs(store.jobs.list) do
          if not jobs.FINAL[job.status] then jobs.advance(store, job) end
        end
      end
      local now = server.clock:now()
      for _, d in ipairs(store.webhook_deliveries) do
        if d.status == "pending" and not d.in_flight and d.kind ~= "test" and d.next_attempt_at <= now then
          d.in_flight = true
          server.loop:spawn(function() self:attempt(d) end)
        end
      end
      server.loop:sleep(M.TICK)
    end
  end)
end

-- Control API --------------------------------------------------------------------

local function view(d)
  local out = {}
  for k, v in pairs(d) do
    if k:sub(1, 1) ~= "_" and k ~= "in_flight" then out[k] = v end
  end
  return out
end

M.control = {
  ["GET /_fake/webhook_deliveries"] = function(server, req)
    local q = util.decode_query(req.query_string)
    local data = json.array()
    for _, d in ipairs(server.store.webhook_deliveries) do
      if (not q.endpoint_id or q.endpoint_id == d.endpoint_id) and (not q.status or q.status == d.status) then
        data[#data + 1] = view(d)
      end
    end
    return { status = 200, body = { object = "list", data = data } }
  end,
}

return M
