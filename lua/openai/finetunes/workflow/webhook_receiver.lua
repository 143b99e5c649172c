-- openai.finetunes.workflow.webhook_receiver: a small webhook receiver in plain Lua
-- (LuaSocket, loaded when a receiver is made), for development (`openai-ft webhooks listen`), scripts and tests:
-- it verifies every delivery (webhooks.lua), answers 2xx only to a verified event
-- and 400 to anything else, and keeps the fine-tuning jobs' final events so
-- wait_for_job can take them instead of polling.
--
--   local rx = assert(ft.webhook_receiver{ port = 8000, secret = endpoint.signing_secret })
--   local job = client:wait_for_job(id, { events = rx })   -- no status polls
--   rx:close()
--
-- ft.webhook_receiver(opts) -> receiver | nil, err (the port cannot be bound)
--   opts: port (default 0: a free one; receiver.port tells), host ("127.0.0.1"),
--   secret / tolerance / max_body_bytes (as for ft.unwrap_webhook), path (only this
--   request path is served, default any), on_event(event, delivery) (every verified,
--   first-seen event; delivery = {id, timestamp, headers, body}), on_refused(err,
--   delivery) (every refused one), guard (a ft.webhook_replay_guard; default one of
--   its own: a webhook-id seen again is answered 200 and not passed on).
-- receiver:step(timeout) serves what arrives within `timeout` seconds (one
--   connection at a time, each bounded by 5 s of socket silence); returns the number
--   of events accepted.
-- receiver:take(job_id) -> the final event (fine_tuning.job.succeeded/failed/
--   cancelled) received for that job, or nil; receiver:wait(timeout) steps until an
--   event arrives or timeout passes. These two make it an `events` source.
-- receiver:close(): idempotent.
--
-- The OpenResty receiver (examples/openresty/webhook_receiver.lua) uses the same
-- verification without this module: nginx owns the socket there.
local webhooks = require("openai.finetunes.workflow.webhooks")

local type, tonumber, tostring = type, tonumber, tostring
local lower, match, format = string.lower, string.match, string.format

local M = {}

M.MAX_HEAD_BYTES = 16 * 1024
M.IO_TIMEOUT = 5

local Receiver = {}
Receiver.__index = Receiver

local JOB_FINAL = {
  ["fine_tuning.job.succeeded"] = true, ["fine_tuning.job.failed"] = true, ["fine_tuning.job.cancelled"] = true,
}

local REASON = { [200] = "OK", [400] = "Bad Request", [404] = "Not Found", [405] = "Method Not Allowed",
  [411] = "Length Required", [413] = "Payload Too Large", [431] = "Request Header Fields Too Large" }

local function answer(sock, status, body)
  body = body or ""
  sock:send(format("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
    .. "Connection: close\r\n\r\n%s", status, REASON[status] or "Error", #body, body))
end

local function json_message(text)
  return require("openai.finetunes.codec").json_encode({ error = { message = text } })
end

-- Reads one request: method, path, headers (lower-case name -> value or list), body.
local function read_request(sock, max_body)
  local line, err = sock:receive("*l")
  if not line then return nil, 400, "no request line (" .. tostring(err) .. ")" end
  local method, target = match(line, "^(%u+) (%S+) HTTP/1%.[01]$")
  if not method then return nil, 400, "malformed request line" end
  local headers, size = {}, #line
  while true do
    local h
    h, err = sock:receive("*l")
    if not h then return nil, 400, "incomplete header (" .. tostring(err) .. ")" end
    if h == "" then break end
    size = size + #h
    if size > M.MAX_HEAD_BYTES then return nil, 431, "header too large" end
    local name, value = match(h, "^([^:%s]+):%s*(.-)%s*$")
    if not name then return nil, 400, "malformed header line" end
    name = lower(name)
    local old = headers[name]
    if old == nil then
      headers[name] = value
    elseif type(old) == "table" then
      old[#old + 1] = value
    else
      headers[name] = { old, value }
    end
  end
  if headers["transfer-encoding"] then return nil, 411, "send a Content-Length body, not chunked" end
  local cl = headers["content-length"] or "0"
  if type(cl) ~= "string" or not match(cl, "^%d+$") then return nil, 400, "bad Content-Length" end
  local length = tonumber(cl)
  if length > max_body then return nil, 413, format("body of %s bytes; the limit is %.0f", cl, max_body) end
  local body = ""
  if length > 0 then
    body, err = sock:receive(length)
    if not body then return nil, 400, "truncated body (" .. tostring(err) .. ")" end
  end
  return { method = method, path = match(target, "^[^?]*"), headers = headers, body = body }
end

function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #1 to 'webhook_receiver' (options table expected)", 2) end
  -- LuaSocket only when a receiver is made: the module itself does not need it
  local socket = require("socket")
  local host = opts.host or "127.0.0.1"
  local server = host:find(":", 1, true) and socket.tcp6() or socket.tcp()
  server:setoption("reuseaddr", true)
  local ok, err = server:bind(host, opts.port or 0)
  if not ok then
    server:close()
    return nil, require("openai.finetunes.errors").new { kind = "io",
      message = format("cannot listen on %s:%s: %s", host, tostring(opts.port or 0), tostring(err)) }
  end
  server:listen(64)
  local _, port = server:getsockname()
  local self = setmetatable({
    server = server, host = host, port = tonumber(port), path = opts.path,
    verify_opts = { secret = opts.secret, tolerance = opts.tolerance, max_body_bytes = opts.max_body_bytes },
    max_body = opts.max_body_bytes or webhooks.MAX_BODY_BYTES,
    on_event = opts.on_event, on_refused = opts.on_refused,
    guard = opts.guard or webhooks.webhook_replay_guard(),
    finals = {}, accepted = 0, refused = 0,
  }, Receiver)
  self.url = format("http://%s:%d%s", host:find(":", 1, true) and ("[" .. host .. "]") or host, self.port,
    opts.path or "/")
  return self
end

-- One connection: read, verify, answer. Returns true when an event was accepted.
function Receiver:serve(sock)
  sock:settimeout(M.IO_TIMEOUT)
  local req, status, why = read_request(sock, self.max_body)
  if not req then
    answer(sock, status, json_message(why))
    return false
  end
  if self.path and req.path ~= self.path then
    answer(sock, 404, json_message("not the webhook path"))
    return false
  end
  if req.method ~= "POST" then
    answer(sock, 405, json_message("webhooks are POSTed"))
    return false
  end
  local event, err = webhooks.unwrap_webhook(req.body, req.headers, self.verify_opts)
  local delivery = { id = req.headers["webhook-id"], timestamp = req.headers["webhook-timestamp"],
    headers = req.headers, body = req.body }
  if not event then
    self.refused = self.refused + 1
    answer(sock, err.code == "body_too_large" and 413 or 400, json_message(err.message))
    if self.on_refused then self.on_refused(err, delivery) end
    return false
  end
  answer(sock, 200, '{"ok":true}')
  -- verified, so the id is one string
  if not self.guard:first(delivery.id) then return false end
  self.accepted = self.accepted + 1
  local data = type(event.data) == "table" and event.data or {}
  if JOB_FINAL[event.type] and type(data.id) == "string" then self.finals[data.id] = event end
  if self.on_event then self.on_event(event, delivery) end
  return true
end

function Receiver:step(timeout)
  local n = 0
  local wait = timeout or 0
  while self.server do
    self.server:settimeout(wait)
    local sock = self.server:accept()
    if not sock then break end
    local ok, got = pcall(self.serve, self, sock)
    sock:close()
    if not ok then error(got, 0) end
    if got then n = n + 1 end
    wait = 0 -- then only what is already waiting
  end
  return n
end

function Receiver:take(job_id)
  local event = self.finals[job_id]
  self.finals[job_id] = nil
  return event
end

function Receiver:wait(timeout)
  return self:step(timeout)
end

function Receiver:close()
  if self.server then
    self.server:close()
    self.server = nil
  end
  return true
end

Receiver.__tostring = function(self)
  return format("openai.finetunes.webhook_receiver (%s)", self.url)
end

M.functions = { webhook_receiver = M.new }

return M
