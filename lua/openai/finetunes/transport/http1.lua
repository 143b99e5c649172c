-- openai.finetunes.transport.http1: an I/O-free HTTP/1.1 response reader.
--
-- Shaped like hiredis' redisReader: the transport feeds whatever bytes it read
-- (`r:feed(chunk)`, `r:feed_eof()` when the peer closed) and pulls events with
-- `r:next()`:
--
--   "head", head      head = { status, version = "1.1", reason, headers = {lower-case name = value} }
--   "body", chunk     a piece of the decoded body (chunked framing removed)
--   "done", reusable  the response is complete; reusable = the connection may be kept alive
--   nil               need more input
--   nil, err          protocol error (a one-line string); the connection must be closed
--
-- Framing follows RFC 9112 section 6.3: no body for HEAD/CONNECT-2xx requests and
-- 1xx/204/304 answers; chunked when it is the last transfer coding; else
-- Content-Length; else the body runs until the peer closes. Interim 1xx answers
-- (other than 101) are skipped. Nothing here touches a socket, so the same bytes
-- split anywhere give the same events (spec/http1_spec.lua proves it).

local tonumber, setmetatable, type = tonumber, setmetatable, type
local concat = table.concat
local find, sub, lower, match, gsub = string.find, string.sub, string.lower, string.match, string.gsub

local M = {}

local DEFAULT_MAX_HEAD = 64 * 1024

local Reader = {}
Reader.__index = Reader

-- states
local S_STATUS, S_HEADERS, S_BODY_LENGTH, S_BODY_CLOSE = 1, 2, 3, 4
local S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_CRLF, S_TRAILERS, S_DONE, S_ERROR = 5, 6, 7, 8, 9, 10

--- new{ method = "GET", max_head_bytes = 65536 } -> reader
-- `method` is the request method the answer belongs to (HEAD and CONNECT change framing).
function M.new(opts)
  opts = opts or {}
  return setmetatable({
    method = opts.method and opts.method:upper() or "GET",
    max_head = opts.max_head_bytes or DEFAULT_MAX_HEAD,
    buf = "", pos = 1,      -- unread input is sub(buf, pos)
    eof = false,
    state = S_STATUS,
    head_bytes = 0,
    head = nil,
    remaining = 0,          -- bytes left in the body (Content-Length) or in the current chunk
    keep_alive = true,
    emitted_head = false,
  }, Reader)
end

function Reader:feed(chunk)
  if chunk == nil or chunk == "" then return end
  if self.pos > #self.buf then
    self.buf, self.pos = chunk, 1
  else
    self.buf, self.pos = sub(self.buf, self.pos) .. chunk, 1
  end
end

function Reader:feed_eof()
  self.eof = true
end

--- bytes fed but not consumed (e.g. after "done" on a pipelined connection).
function Reader:buffered()
  return #self.buf - self.pos + 1
end

-- kind: what the transport error becomes. "invalid_response" for bytes that
-- are not HTTP; "io" when the peer closed before the answer was complete.
local function fail(self, msg, kind)
  self.state = S_ERROR
  self.err, self.err_kind = msg, kind or "invalid_response"
  return nil, msg
end

-- Next line without its CRLF (a bare LF is accepted, as every browser does),
-- or nil when no full line is buffered yet.
local function read_line(self)
  local buf, pos = self.buf, self.pos
  local nl = find(buf, "\n", pos, true)
  if not nl then return nil end
  local last = nl - 1
  if last >= pos and sub(buf, last, last) == "\r" then last = last - 1 end
  self.pos = nl + 1
  return sub(buf, pos, last), nl - pos + 1
end

local function has_token(list, token)
  if not list then return false end
  for item in list:gmatch("[^,]+") do
    if lower((gsub(item, "^%s*(.-)%s*$", "%1"))) == token then return true end
  end
  return false
end

-- Decide how the body is framed once the head is complete.
local function start_body(self)
  local head, h = self.head, self.head.headers
  local status = head.status
  if head.version == "1.0" then
    self.keep_alive = has_token(h["connection"], "keep-alive")
  else
    self.keep_alive = not has_token(h["connection"], "close")
  end
  if self.method == "HEAD" or status == 204 or status == 304
     or (self.method == "CONNECT" and status >= 200 and status < 300) then
    self.state = S_DONE
    return
  end
  local te = h["transfer-encoding"]
  if te then
    -- the last coding decides; anything but chunked means "read until close"
    local last = lower(match(te, "([^,%s][^,]*)%s*$") or "")
    if h["content-length"] then self.keep_alive = false end -- smuggling guard: never reuse
    if last == "chunked" then
      self.state = S_CHUNK_SIZE
    else
      self.keep_alive = false
      self.state = S_BODY_CLOSE
    end
    return
  end
  local cl = h["content-length"]
  if cl then
    local value, why = M.content_length(cl)
    if not value then return fail(self, why) end
    self.remaining = value
    self.state = value > 0 and S_BODY_LENGTH or S_DONE
    return
  end
  self.keep_alive = false
  self.state = S_BODY_CLOSE
end

--- content_length(value) -> n | nil, why. "5, 5" (a repeated field, joined as
-- both transports join them) is valid only when every value agrees.
function M.content_length(cl)
  local value
  -- empty list items (RFC 9110 section 5.6.1: "5, , 5") are ignored
  for item in cl:gmatch("[^,]*[^, \t][^,]*") do
    local v = match(item, "^[ \t]*(%d+)[ \t]*$")
    if not v or #v > 15 then return nil, "invalid Content-Length: " .. cl end
    if value and value ~= tonumber(v) then return nil, "conflicting Content-Length: " .. cl end
    value = tonumber(v)
  end
  if not value then return nil, "invalid Content-Length: " .. cl end
  return value
end

local function parse_status(self, line)
  local version, status, reason = match(line, "^HTTP/(%d%.%d) (%d%d%d) ?(.*)$")
  if not version then
    return fail(self, "malformed status line: " .. sub(line, 1, 64):gsub("[%c]", "?"))
  end
  self.head = { status = tonumber(status), version = version, reason = reason, headers = {} }
  self.state = S_HEADERS
  return true
end

local function parse_header(self, line)
  local first = sub(line, 1, 1)
  if first == " " or first == "\t" then
    return fail(self, "obsolete header line folding")
  end
  local name, value = match(line, "^([!#$%%&'*+%-.^_`|~%w]+):[ \t]*(.-)[ \t]*$")
  if not name then
    return fail(self, "malformed header line: " .. sub(line, 1, 64):gsub("[%c]", "?"))
  end
  if find(value, "[%z\r\n]") then return fail(self, "invalid byte in header value") end
  name = lower(name)
  local headers = self.head.headers
  local old = headers[name]
  -- joined as the C core joins them, so both transports show the same text
  if old then value = old .. (value ~= "" and ", " or ",") .. value end
  headers[name] = value
  return true
end

-- Body bytes available now, at most `limit`, as one slice of the buffer.
local function take(self, limit)
  local buf, pos = self.buf, self.pos
  local avail = #buf - pos + 1
  if avail <= 0 then return nil end
  local n = (limit and limit < avail) and limit or avail
  self.pos = pos + n
  if pos == 1 and n == #buf then return buf end
  return sub(buf, pos, pos + n - 1)
end

function Reader:next()
  while true do
    local state = self.state
    if state == S_ERROR then
      return nil, self.err
    elseif state == S_STATUS or state == S_HEADERS or state == S_TRAILERS then
      local line, used = read_line(self)
      if not line then
        if self.head_bytes + self:buffered() > self.max_head then
          return fail(self, "response head larger than " .. self.max_head .. " bytes")
        end
        if self.eof then
          -- closed after bytes that cannot begin a status line (an h2c-only
          -- server's frames): not HTTP/1.x, rather than a connection cut short
          local start = state == S_STATUS and match(sub(self.buf, self.pos), "^[\r\n]*(.*)$") or ""
          local n = #start < 5 and #start or 5
          if n > 0 and sub(start, 1, n) ~= sub("HTTP/", 1, n) then
            return fail(self, "malformed status line: " .. gsub(sub(start, 1, 64), "[%c]", "?"))
          end
          if state == S_STATUS and self.head_bytes == 0 and self:buffered() == 0 then
            return fail(self, "connection closed before any response byte", "io")
          end
          return fail(self, "connection closed inside the response head", "io")
        end
        return nil
      end
      self.head_bytes = self.head_bytes + used
      if self.head_bytes > self.max_head then
        return fail(self, "response head larger than " .. self.max_head .. " bytes")
      end
      if state == S_STATUS then
        if line ~= "" or self.head_bytes > used then -- tolerate one stray empty line
          local ok, err = parse_status(self, line)
          if not ok then return nil, err end
        end
      elseif state == S_HEADERS then
        if line == "" then
          local status = self.head.status
          if status >= 100 and status < 200 and status ~= 101 then
            -- interim answer (100 Continue, 103 Early Hints): drop it, read the real one
            self.head, self.state, self.head_bytes = nil, S_STATUS, 0
          else
            local ok, err = start_body(self)
            if ok == nil and err then return nil, err end
            self.emitted_head = true
            return "head", self.head
          end
        else
          local ok, err = parse_header(self, line)
          if not ok then return nil, err end
        end
      else -- trailers: read and ignore until the empty line
        if line == "" then self.state = S_DONE end
      end
    elseif state == S_BODY_LENGTH then
      local data = take(self, self.remaining)
      if not data then
        if self.eof then
          return fail(self, "connection closed with " .. self.remaining .. " body bytes missing", "io")
        end
        return nil
      end
      self.remaining = self.remaining - #data
      if self.remaining == 0 then self.state = S_DONE end
      return "body", data
    elseif state == S_BODY_CLOSE then
      local data = take(self)
      if data then return "body", data end
      if self.eof then
        self.state = S_DONE
      else
        return nil
      end
    elseif state == S_CHUNK_SIZE then
      local line, used = read_line(self)
      if not line then
        if self:buffered() > 1024 then return fail(self, "chunk size line too long") end
        if self.eof then return fail(self, "connection closed inside the chunked body", "io") end
        return nil
      end
      if used > 1024 then return fail(self, "chunk size line too long") end
      local hex, ext = match(line, "^(%x+)[ \t]*(.*)$")
      if not hex or #hex > 12 or (ext ~= "" and sub(ext, 1, 1) ~= ";") then
        return fail(self, "malformed chunk size: " .. sub(line, 1, 32):gsub("[%c]", "?"))
      end
      local size = tonumber(hex, 16)
      if size == 0 then
        self.state = S_TRAILERS
      else
        self.remaining, self.state = size, S_CHUNK_DATA
      end
    elseif state == S_CHUNK_DATA then
      local data = take(self, self.remaining)
      if not data then
        if self.eof then return fail(self, "connection closed inside a chunk", "io") end
        return nil
      end
      self.remaining = self.remaining - #data
      if self.remaining == 0 then self.state = S_CHUNK_CRLF end
      return "body", data
    elseif state == S_CHUNK_CRLF then
      local line = read_line(self)
      if not line then
        if self:buffered() >= 2 then return fail(self, "missing CRLF after chunk data") end
        if self.eof then return fail(self, "connection closed inside the chunked body", "io") end
        return nil
      end
      if line ~= "" then return fail(self, "missing CRLF after chunk data") end
      self.state = S_CHUNK_SIZE
    else -- S_DONE
      self.state = S_ERROR
      self.err = "response already complete"
      -- extra bytes after a complete answer mean the peer is out of step: never reuse
      return "done", self.keep_alive and self:buffered() == 0
    end
  end
end

--- split_url(url) -> { scheme, host, port, target, authority } | nil, err
-- `host` keeps the brackets of an IPv6 literal ("[::1]"); `target` is the
-- origin-form request target ("/v1/files?limit=2"); `authority` is what the
-- Host header carries (the port only when it is not the scheme's default).
-- User info in the URL is refused: credentials never travel in URLs here.
local DEFAULT_PORT = { http = 80, https = 443 }

function M.split_url(url)
  if type(url) ~= "string" then return nil, "url must be a string" end
  if find(url, "[%z%c ]") then return nil, "url contains a space or control character" end
  local scheme, rest = match(url, "^(%a[%w+.-]*)://(.*)$")
  scheme = scheme and lower(scheme)
  if not scheme or not DEFAULT_PORT[scheme] then
    return nil, "unsupported URL (http:// or https:// expected): " .. sub(url, 1, 80)
  end
  local authority, target = match(rest, "^([^/?#]*)(.*)$")
  if find(authority, "@", 1, true) then return nil, "credentials in the URL are not supported" end
  local host, port = match(authority, "^(%[[%x:.]+%])(.*)$")
  if not host then host, port = match(authority, "^([^:]+)(.*)$") end
  if not host or host == "" then return nil, "URL without a host: " .. sub(url, 1, 80) end
  if port == "" then
    port = DEFAULT_PORT[scheme]
  else
    port = match(port, "^:(%d+)$")
    port = port and tonumber(port)
    if not port or port < 1 or port > 65535 then return nil, "bad port in URL: " .. sub(url, 1, 80) end
  end
  target = gsub(target, "#.*$", "")
  if target == "" then target = "/" elseif sub(target, 1, 1) == "?" then target = "/" .. target end
  host = lower(host)
  local hostport = (port == DEFAULT_PORT[scheme]) and host or (host .. ":" .. port)
  return { scheme = scheme, host = host, port = port, target = target, authority = hostport }
end

--- Parse one whole response held in a string (tests, small helpers).
-- Returns { status, version, reason, headers, body, reusable } or nil, err.
function M.parse(s, opts)
  local r = M.new(opts)
  r:feed(s)
  r:feed_eof()
  local res, parts = nil, {}
  while true do
    local ev, val = r:next()
    if ev == "head" then
      res = val
    elseif ev == "body" then
      parts[#parts + 1] = val
    elseif ev == "done" then
      res.body = concat(parts)
      res.reusable = val
      return res
    else
      return nil, val or "incomplete response"
    end
  end
end

return M
