-- A server that answers with canned bytes, for specs that need responses no
-- real server would send (malformed header lines, interim answers, NUL bytes).
--
--   lua5.4 spec/support/canned_http.lua PORT_FILE DIR
--
-- Listens on 127.0.0.1 (a free port, written to PORT_FILE), reads each request's
-- head and answers `GET /<name>` with the bytes of DIR/<name> exactly as they
-- are (status line, header lines and body all come from the file), then closes
-- the connection. One connection at a time; runs until killed.
local socket = require("socket")

local port_file, dir = arg[1], arg[2]
assert(port_file and dir, "usage: canned_http.lua PORT_FILE DIR")

local server = assert(socket.bind("127.0.0.1", 0))
local _, port = server:getsockname()
local f = assert(io.open(port_file .. ".tmp", "w"))
f:write(tostring(port), "\n")
f:close()
os.rename(port_file .. ".tmp", port_file)

local function answer(name)
  local file = name:match("^[%w_%-]+$") and io.open(dir .. "/" .. name, "rb")
  if not file then return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" end
  local bytes = file:read("*a")
  file:close()
  return bytes
end

while true do
  local c = server:accept()
  if c then
    c:settimeout(5)
    local request_line = c:receive("*l")
    repeat
      local line = c:receive("*l")
    until not line or line == ""
    local name = request_line and request_line:match("^%u+ /(%S*) HTTP/")
    c:send(answer(name or ""))
    c:close()
  end
end
