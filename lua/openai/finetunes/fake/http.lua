-- HTTP/1.1 on one non-blocking connection: read request heads, stream request bodies
-- (Content-Length or chunked), write responses (whole, or streamed from a file).
-- Every wait yields to the loop, so one slow client never blocks the others.
local M = {}

local find, sub, lower, format = string.find, string.sub, string.lower, string.format
local concat = table.concat

local READ_CHUNK = 65536
local MAX_HEAD = 64 * 1024

M.reasons = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [204] = "No Content",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [407] = "Proxy Authentication Required", [408] = "Request Timeout",
  [409] = "Conflict", [411] = "Length Required", [413] = "Payload Too Large",
  [415] = "Unsupported Media Type", [422] = "Unprocessable Entity", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large", [500] = "Internal Server Error", [501] = "Not Implemented",
  [502] = "Bad Gateway", [503] = "Service Unavailable", [504] = "Gateway Timeout",
  [505] = "HTTP Version Not Supported",
}

local Conn = {}
Conn.__index = Conn

function M.new_conn(loop, sock, id)
  sock:settimeout(0)
  return setmetatable({ loop = loop, sock = sock, id = id, buf = "", closed = false,
    bytes_in = 0, bytes_out = 0 }, Conn)
end

-- Read whatever the socket has (up to max bytes), waiting if nothing is there.
-- Returns nil at end of stream.
function Conn:_recv(max)
  while true do
    if self.closed then return nil end
    local data, err, partial = self.sock:receive(max or READ_CHUNK)
    if data then
      self.bytes_in = self.bytes_in + #data
      return data
    end
    if partial and partial ~= "" then
      self.bytes_in = self.bytes_in + #partial
      if err == "closed" then self.eof = true end
      return partial
    end
    if err ~= "timeout" then
      self.eof = true
      return nil
    end
    self.loop:wait_read(self.sock)
  end
end

-- read_some(max): buffered bytes first, else fresh bytes from the socket; nil at EOF.
function Conn:read_some(max)
  max = max or READ_CHUNK
  local buf = self.buf
  if #buf > 0 then
    if #buf <= max then
      self.buf = ""
      return buf
    end
    self.buf = sub(buf, max + 1)
    return sub(buf, 1, max)
  end
  if self.eof then return nil end
  return self:_recv(max)
end

function Conn:unread(s)
  if s and #s > 0 then
    self.buf = s .. self.buf
  end
end

-- read_until(delim, limit): bytes up to and excluding delim; nil, "eof"|"too_long".
function Conn:read_until(delim, limit)
  local from = 1
  while true do
    local s = find(self.buf, delim, from, true)
    if s then
      local line = sub(self.buf, 1, s - 1)
      self.buf = sub(self.buf, s + #delim)
      return line
    end
    if #self.buf > limit then
      return nil, "too_long"
    end
    from = math.max(1, #self.buf - #delim + 2)
    if self.eof then return nil, "eof" end
    local data = self:_recv()
    if not data then
      return nil, "eof"
    end
    self.buf = self.buf .. data
  end
end

-- send(data): write it all, yielding while the socket is full. false when the peer
-- went away.
function Conn:send(data)
  local i, n = 1, #data
  while i <= n do
    if self.closed then return false end
    local last, err, partial_last = self.sock:send(data, i)
    if last then
      self.bytes_out = self.bytes_out + (last - i + 1)
      i = last + 1
    else
      if partial_last and partial_last >= i then
        self.bytes_out = self.bytes_out + (partial_last - i + 1)
        i = partial_last + 1
      end
      if err ~= "timeout" then
        self.broken = true
        return false
      end
      self.loop:wait_write(self.sock)
    end
  end
  return true
end

function Conn:close()
  if self.closed then return end
  self.closed = true
  self.loop:forget(self.sock)
  self.sock:close()
end

-- Abortive close: the peer sees a connection reset (RST), not a clean end.
function Conn:reset()
  if self.closed then return end
  pcall(self.sock.setoption, self.sock, "linger", { on = true, timeout = 0 })
  self:close()
end

----------------------------------------------------------------------------- requests

local function parse_target(target)
  -- origin-form "/v1/files?limit=2" or absolute-form "http://host:port/v1/files?x"
  local absolute = false
  local scheme, authority, rest = target:match("^(%a[%w+.-]*)://([^/?#]*)(.*)$")
  if scheme then
    absolute = true
    target = rest ~= "" and rest or "/"
  end
  local path, query = target:match("^([^?#]*)%??([^#]*)")
  return path, query or "", absolute, authority
end

-- read_request(): the next request head on this connection, or nil, reason
-- ("eof" when the client closed between requests).
function Conn:read_request()
  -- Tolerate stray CRLFs between requests (RFC 9112 2.2).
  local head, err
  repeat
    head, err = self:read_until("\r\n\r\n", MAX_HEAD)
    if not head then
      if err == "eof" and #self.buf == 0 then return nil, "eof" end
      return nil, err
    end
    head = head:gsub("^[\r\n]+", "")
  until head ~= ""

  local line_end = find(head, "\r\n", 1, true)
  local request_line = line_end and sub(head, 1, line_end - 1) or head
  local method, target, version = request_line:match("^(%u+) (%S+) HTTP/(%d%.%d)$")
  if not method then
    return nil, "bad_request_line"
  end
  local req = {
    method = method, target = target, version = version,
    headers = {}, header_list = {}, conn = self,
  }
  req.path, req.query_string, req.absolute, req.authority = parse_target(target)
  if line_end then
    for name, value in head:sub(line_end + 2):gmatch("([^:\r\n]+):[ \t]*([^\r\n]*)") do
      name = lower(name)
      value = value:gsub("[ \t]+$", "")
      req.header_list[#req.header_list + 1] = { name, value }
      local prev = req.headers[name]
      req.headers[name] = prev and (prev .. ", " .. value) or value
    end
  end
  local conn_hdr = lower(req.headers["connection"] or "")
  if version == "1.0" then
    req.keep_alive = find(conn_hdr, "keep-alive", 1, true) ~= nil
  else
    req.keep_alive = not find(conn_hdr, "close", 1, true)
  end
  return req
end

----------------------------------------------------------------------------- bodies

local Body = {}
Body.__index = Body

-- body_reader(req): an object with :read(max) -> chunk | nil (end) , err.
-- Sends "100 Continue" lazily, on the first read, when the client asked for it.
function M.body_reader(req)
  local h = req.headers
  local te = lower(h["transfer-encoding"] or "")
  local b = setmetatable({ req = req, conn = req.conn, received = 0 }, Body)
  if find(te, "chunked", 1, true) then
    b.chunked = true
    b.chunk_left = 0
  elseif h["content-length"] then
    local n = tonumber(h["content-length"])
    if not n or n < 0 or n ~= math.floor(n) then
      b.invalid = "bad Content-Length"
      n = 0
    end
    b.remaining = n
    b.length = n
  else
    b.remaining = 0
    b.length = 0
  end
  b.expect_continue = lower(h["expect"] or "") == "100-continue"
  b.done = (not b.chunked) and b.remaining == 0
  return b
end

function Body:_continue()
  if self.expect_continue then
    self.expect_continue = false
    self.conn:send("HTTP/1.1 100 Continue\r\n\r\n")
  end
end

function Body:read(max)
  if self.done then return nil end
  if self.failed then return nil, self.failed end
  self:_continue()
  max = max or READ_CHUNK
  local conn = self.conn
  if not self.chunked then
    local want = self.remaining < max and self.remaining or max
    local data = conn:read_some(want)
    if not data then
      self.failed = "eof"
      return nil, "eof"
    end
    self.remaining = self.remaining - #data
    self.received = self.received + #data
    if self.remaining == 0 then self.done = true end
    return data
  end
  -- chunked
  if self.chunk_left == 0 then
    local line, err = conn:read_until("\r\n", 4096)
    if not line then
      self.failed = err
      return nil, err
    end
    local size = tonumber(line:match("^%s*(%x+)"), 16)
    if not size then
      self.failed = "bad chunk size"
      return nil, self.failed
    end
    if size == 0 then
      -- trailers, up to the empty line
      repeat
        line, err = conn:read_until("\r\n", 8192)
        if not line then
          self.failed = err
          return nil, err
        end
      until line == ""
      self.done = true
      return nil
    end
    self.chunk_left = size
  end
  local want = self.chunk_left < max and self.chunk_left or max
  local data = conn:read_some(want)
  if not data then
    self.failed = "eof"
    return nil, "eof"
  end
  self.chunk_left = self.chunk_left - #data
  self.received = self.received + #data
  if self.chunk_left == 0 then
    local crlf, err = conn:read_until("\r\n", 2)
    if crlf ~= "" then
      self.failed = err or "bad chunk end"
    end
  end
  return data
end

-- read_all(limit): the whole body as a string; nil, "too_large" | err.
function Body:read_all(limit)
  if self.length and self.length > limit then
    return nil, "too_large"
  end
  local parts, n, size = {}, 0, 0
  while true do
    local data, err = self:read()
    if not data then
      if err then return nil, err end
      break
    end
    size = size + #data
    if size > limit then
      return nil, "too_large"
    end
    n = n + 1
    parts[n] = data
  end
  return concat(parts)
end

-- Throw away what is left of the body (so the connection can be reused), up to
-- limit bytes; false when more is left (the caller then closes the connection).
function Body:drain(limit)
  if self.done then return true end
  if self.expect_continue then
    -- The client is still waiting for permission to send: never started, so the
    -- body is not on the wire; we must close after the answer.
    return false
  end
  local seen = 0
  while not self.done do
    local data = self:read()
    if not data then return self.done end
    seen = seen + #data
    if seen > limit then return false end
  end
  return true
end

----------------------------------------------------------------------------- responses

function M.status_line(status)
  return format("HTTP/1.1 %d %s\r\n", status, M.reasons[status] or "Unknown")
end

-- head(status, headers): the response head text; headers is a list of {name, value}.
function M.head(status, headers)
  local out = { M.status_line(status) }
  for i = 1, #headers do
    local h = headers[i]
    out[#out + 1] = h[1] .. ": " .. tostring(h[2]) .. "\r\n"
  end
  out[#out + 1] = "\r\n"
  return concat(out)
end

-- HTTP-date (RFC 9110) for a Unix time.
function M.date(t)
  return os.date("!%a, %d %b %Y %H:%M:%S GMT", math.floor(t or os.time()))
end

return M
