-- A tiny HTTP CONNECT proxy for the specs (LuaSocket, one process, select loop).
--
--   lua5.4 spec/support/connect_proxy.lua PORT_FILE [USER:PASSWORD]
--
-- Listens on 127.0.0.1 (a free port, written to PORT_FILE), answers
-- `CONNECT host:port` with 200 and then pipes bytes both ways. With
-- credentials it demands `Proxy-Authorization: Basic ...` and answers 407
-- otherwise. Every CONNECT line it accepts is appended to PORT_FILE .. ".log".
local socket = require("socket")
local mime = require("mime")

local port_file, credentials = arg[1], arg[2]
assert(port_file, "usage: connect_proxy.lua PORT_FILE [USER:PASSWORD]")

local server = assert(socket.bind("127.0.0.1", 0))
server:settimeout(0)
local _, port = server:getsockname()
local f = assert(io.open(port_file .. ".tmp", "w"))
f:write(tostring(port), "\n")
f:close()
os.rename(port_file .. ".tmp", port_file)

local expected_auth = credentials and ("Basic " .. (mime.b64(credentials)))

local conns = {}   -- socket -> state { head = "", peer = socket | nil }
local function log(line)
  local lf = io.open(port_file .. ".log", "a")
  if lf then lf:write(line, "\n"); lf:close() end
end

local function drop(s)
  local st = conns[s]
  conns[s] = nil
  s:close()
  if st and st.peer and conns[st.peer] then
    conns[st.peer] = nil
    st.peer:close()
  end
end

local function handle_head(s, st)
  local head_end = st.head:find("\r\n\r\n", 1, true)
  if not head_end then
    if #st.head > 16384 then drop(s) end
    return
  end
  local head = st.head:sub(1, head_end + 3)
  local rest = st.head:sub(head_end + 4)
  st.head = nil
  local target_host, target_port = head:match("^CONNECT ([^%s:]+):(%d+) HTTP/1%.%d\r\n")
  if not target_host then
    s:send("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    return drop(s)
  end
  local auth = head:match("\r\n[Pp]roxy%-[Aa]uthorization:%s*([^\r\n]+)")
  if expected_auth and auth ~= expected_auth then
    s:send("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"spec\"\r\n"
      .. "Content-Length: 0\r\nConnection: close\r\n\r\n")
    return drop(s)
  end
  local up = socket.tcp()
  up:settimeout(5)
  local ok, err = up:connect(target_host == "localhost" and "127.0.0.1" or target_host, tonumber(target_port))
  if not ok then
    s:send("HTTP/1.1 502 Bad Gateway\r\nContent-Length: " .. #err .. "\r\nConnection: close\r\n\r\n" .. err)
    return drop(s)
  end
  log(head:match("^([^\r\n]*)"))
  up:settimeout(0)
  s:send("HTTP/1.1 200 Connection established\r\n\r\n")
  if rest ~= "" then up:send(rest) end
  st.peer = up
  conns[up] = { peer = s }
end

while true do
  local list = { server }
  for s in pairs(conns) do list[#list + 1] = s end
  local readable = socket.select(list, nil, 1)
  for _, s in ipairs(readable) do
    if s == server then
      local c = server:accept()
      if c then
        c:settimeout(0)
        conns[c] = { head = "" }
      end
    elseif conns[s] then
      local st = conns[s]
      local data, err, partial = s:receive(65536)
      data = data or partial
      if data and data ~= "" then
        if st.head then
          st.head = st.head .. data
          handle_head(s, st)
        elseif st.peer then
          st.peer:settimeout(5)
          st.peer:send(data)
          st.peer:settimeout(0)
        end
      end
      if err == "closed" then drop(s) end
    end
  end
end
