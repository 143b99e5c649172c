-- A loopback HTTP server that misbehaves on purpose, for the hardening specs:
-- what a hostile or broken service does, and what it saw of the client.
--
--   lua5.4 spec/support/hostile_http.lua MODE PORT_FILE LOG_FILE WATCH_PID
--
-- Listens on 127.0.0.1 (a free port, written to PORT_FILE). Every request it
-- reads is appended to LOG_FILE as one line "METHOD PATH BODY_BYTES" (the body
-- read in full first, by its Content-Length), so a spec counts what reached the
-- server. Exits when WATCH_PID is gone, or after 10 minutes. MODE:
--
--   stall         reads the request, never answers
--   events_forever  a running job; its events always say has_more, with new ids
--   echo_key      401 whose message quotes the credential it was sent
--   escapes       error answers full of control bytes and a huge request id
--   read_close    reads the request, then closes without a byte of answer
--   keepalive_close  answers a request with keep-alive, then reads the next
--                 request on that connection and closes without answering
--   h2c_only      answers HTTP/1.1 as a server that speaks only HTTP/2 with
--                 prior knowledge does: a SETTINGS and a GOAWAY frame, then closes
local socket = require("socket")
local Loop = require("openai.finetunes.fake.loop")
local http = require("openai.finetunes.fake.http")
local util = require("openai.finetunes.fake.util")

local mode, port_file, log_file, watch_pid = arg[1], arg[2], arg[3], arg[4]
assert(mode and port_file and log_file, "usage: hostile_http.lua MODE PORT_FILE LOG_FILE [WATCH_PID]")

local loop = Loop.new()
local server = assert(socket.bind("127.0.0.1", 0))
server:settimeout(0)
local _, port = server:getsockname()
util.write_file(port_file .. ".tmp", tostring(port) .. "\n")
os.rename(port_file .. ".tmp", port_file)

local function log(req, n)
  local f = assert(io.open(log_file, "a"))
  f:write(req.method, " ", req.target, " ", tostring(n), "\n")
  f:close()
end

local function answer(conn, status, body, extra)
  local head = http.status_line(status) .. "Content-Type: application/json\r\nContent-Length: " .. #body
    .. "\r\n" .. (extra or "") .. "\r\n"
  conn:send(head .. body)
end

local event_serial = 0

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

-- What one request gets: true = keep the connection, false = close it.
local handlers = {}

function handlers.stall(conn)
  while not conn.closed do loop:sleep(3600) end
  return false
end

function handlers.events_forever(conn, req)
  if req.path:match("/events$") then
    local items = {}
    for i = 1, 3 do
      event_serial = event_serial + 1
      items[i] = ('{"object":"fine_tuning.job.event","id":"ftevent-%d","created_at":1,"level":"info",'
        .. '"message":"step %d","type":"message"}'):format(event_serial, event_serial)
    end
    answer(conn, 200, '{"object":"list","has_more":true,"data":[' .. table.concat(items, ",") .. "]}")
  else
    answer(conn, 200, '{"object":"fine_tuning.job","id":"ftjob-forever","status":"running",'
      .. '"model":"gpt-4o-mini-2024-07-18","created_at":1}')
  end
  return true
end

function handlers.echo_key(conn, req)
  local cred = req.headers["authorization"] or req.headers["api-key"] or ""
  local key = cred:gsub("^[Bb]earer ", "")
  answer(conn, 401, '{"error":{"message":' .. json_string("Incorrect API key provided: " .. key
    .. ". You can find your API key at https://platform.openai.com/account/api-keys.")
    .. ',"type":"invalid_request_error","param":' .. json_string(key) .. ',"code":"invalid_api_key"}}',
    "X-Request-ID: req_" .. key .. "\r\n")
  return true
end

-- ESC ] 0 ; title BEL retitles a terminal, ESC [ 2 J clears it.
local NASTY = "\27]0;pwned\7\27[2J\0bell\7 tab\t cr\r del\127 end"

function handlers.escapes(conn, req)
  if req.path:match("/events$") then
    answer(conn, 200, '{"object":"list","has_more":false,"data":[{"object":"fine_tuning.job.event",'
      .. '"id":"ftevent-1","created_at":1700000000,"level":"info","type":"message","message":'
      .. json_string(NASTY) .. "}]}")
  elseif req.path:match("^/v1/fine_tuning/jobs/[^/]+$") then
    answer(conn, 200, '{"object":"fine_tuning.job","id":"ftjob-esc","status":' .. json_string("running" .. NASTY)
      .. ',"model":' .. json_string("gpt" .. NASTY) .. ',"created_at":1700000000}')
  else
    answer(conn, 400, '{"error":{"message":' .. json_string("bad " .. NASTY) .. ',"type":'
      .. json_string("invalid" .. NASTY) .. ',"param":null,"code":' .. json_string("c" .. NASTY) .. "}}",
      "X-Request-ID: req_" .. string.rep("A", 60000) .. "\r\n")
  end
  return true
end

function handlers.read_close()
  return false
end

function handlers.keepalive_close(conn, req, nth)
  if nth > 1 then return false end
  if req.method == "GET" then
    answer(conn, 200, '{"object":"list","data":[],"has_more":false}', "Connection: keep-alive\r\n")
  else
    answer(conn, 200, '{"object":"fine_tuning.job","id":"ftjob-ka","status":"queued",'
      .. '"model":"gpt-4o-mini-2024-07-18","created_at":1}', "Connection: keep-alive\r\n")
  end
  return true
end

-- RFC 9113 frames: SETTINGS (empty), GOAWAY (last stream 0, PROTOCOL_ERROR)
function handlers.h2c_only(conn)
  conn:send("\0\0\0\4\0\0\0\0\0" .. "\0\0\8\7\0\0\0\0\0" .. "\0\0\0\0" .. "\0\0\0\1")
  return false
end

local handle = assert(handlers[mode], "unknown mode " .. tostring(mode))

local function serve(sock)
  local conn = http.new_conn(loop, sock, 0)
  local nth = 0
  while true do
    local req = conn:read_request()
    if not req then break end
    local body = http.body_reader(req)
    local n = 0
    while true do
      local chunk = body:read()
      if not chunk then break end
      n = n + #chunk
    end
    nth = nth + 1
    log(req, n)
    if not handle(conn, req, nth) then break end
  end
  conn:close()
end

loop:watch(server, function()
  local sock = server:accept()
  if sock then loop:spawn(function() serve(sock) end, function() sock:close() end) end
end)

local started = socket.gettime()
local last_check = started
while socket.gettime() - started < 600 do
  loop:step(0.5)
  if socket.gettime() - last_check > 1 then
    last_check = socket.gettime()
    if watch_pid and not util.pid_alive(watch_pid) then break end
  end
end
