-- openai.finetunes.transport.multipart: a multipart/form-data body as a stream of strings.
--
-- Pure Lua, no sockets: the ngx transport sends what `source()` yields; the
-- curl transport uses libcurl's own mime code instead. The body is laid out
-- exactly as libcurl lays it out (fields in sorted name order, the file part
-- last, names and filenames escaped the HTML5 way: `"` -> %22, CR -> %0D,
-- LF -> %0A), so the fake server sees the same fields and bytes from both.
--
-- The Content-Length is known before the first byte is sent: the file is
-- measured, never loaded, and streamed in 64 KB reads. (Those reads are
-- blocking disk I/O even inside nginx; each is short and bounded.)
--
--   local body, err = multipart.new(req.multipart)     -- err: { kind = "io", message }
--   body.content_type, body.length
--   local next_chunk = body:source()   -- next_chunk() -> string | nil (end) | nil, err
--   body:close()                       -- idempotent; closes a file left open mid-stream

local type, tostring, pairs, ipairs, rawget, setmetatable = type, tostring, pairs, ipairs, rawget, setmetatable
local open, format, gsub, concat, sort = io.open, string.format, string.gsub, table.concat, table.sort
local random, floor = math.random, math.floor

local M = { CHUNK_SIZE = 64 * 1024 }

local Body = {}
Body.__index = Body

local ESCAPES = { ['"'] = "%22", ["\r"] = "%0D", ["\n"] = "%0A" }

local function quote(s)
  return '"' .. gsub(s, '["\r\n]', ESCAPES) .. '"'
end

local local_error = require("openai.finetunes.transport.local_error")
-- size and mtime by stat(2): a file rewritten in place (same size) changed too
local file_stamp = require("openai.finetunes.codec").file_stamp

-- The file of an upload changed while it was sent: a local failure (never retried).
local function changed(part, how)
  local e = local_error("upload", part.path, "the file changed while it was sent (" .. how .. ")")
  e.message = "cannot upload " .. part.path .. ": the file changed while it was sent (" .. how .. ")"
  return e
end

local function io_error(message)
  return nil, { kind = "io", message = message }
end

--- random_hex(n): 2n random hex digits, from /dev/urandom when there is one
-- (LuaJIT's math.random starts from the same seed in every nginx worker).
function M.random_hex(n)
  local f = open("/dev/urandom", "rb")
  local bytes = f and f:read(n)
  if f then f:close() end
  if bytes and #bytes == n then
    return (gsub(bytes, ".", function(c) return format("%02x", c:byte()) end))
  end
  local t = {}
  for i = 1, n do t[i] = format("%02x", floor(random() * 256)) end
  return concat(t)
end

local function random_boundary()
  return "------------------------" .. M.random_hex(12)
end

local function field_value(name, v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if v == floor(v) and v >= -2^53 and v <= 2^53 then return format("%.0f", v) end
    return tostring(v)
  end
  if t == "boolean" then return tostring(v) end
  error("bad multipart field '" .. tostring(name) .. "' (string expected, got " .. t .. ")", 3)
end

local function refused(message)
  return nil, { kind = "invalid_request", message = message }
end

-- Size of the file slice to send; the file is opened only to measure it. The
-- kinds are the C core's (src/core/mime.c): a file that cannot be read is io, a slice
-- that is not inside a regular file is invalid_request.
local function measure(file)
  local slice = file.offset ~= nil or file.length ~= nil
  local f, err = open(file.path, "rb")
  if not f then return nil, local_error("open", file.path, err) end
  local probe, perr = f:read(0) -- a directory opens, and fails here
  if probe == nil and perr then
    f:close()
    if slice then return refused("a multipart slice needs a regular file") end
    return nil, local_error("upload", file.path, perr)
  end
  local size, serr = f:seek("end")
  f:close()
  file.measured = size
  file.stamp = select(2, file_stamp(file.path))
  if not size then return io_error("cannot measure upload file " .. file.path .. ": " .. tostring(serr)) end
  local offset = file.offset or 0
  local length = file.length or (offset <= size and size - offset or 0)
  if offset < 0 or length < 0 or offset > size or length > size - offset then
    return refused(format("multipart slice [%.0f, %.0f) lies beyond the end of the file (%.0f bytes)", offset,
      offset + length, size))
  end
  return length
end

--- new(spec [, boundary]) -> body | nil, err
-- spec = { fields = { name = value }, file = { field, path | data, offset, length, filename, content_type } }
function M.new(spec, boundary)
  if type(spec) ~= "table" then error("bad argument #1 to 'multipart.new' (table expected)", 2) end
  boundary = boundary or random_boundary()
  local fields = spec.fields or {}
  local names = {}
  for name in pairs(fields) do
    if type(name) ~= "string" then error("bad multipart field name (string expected)", 2) end
    names[#names + 1] = name
  end
  sort(names)

  local parts = {} -- strings, with the file slice as one table in its place
  local dash = "--" .. boundary
  for _, name in ipairs(names) do
    parts[#parts + 1] = dash .. "\r\nContent-Disposition: form-data; name=" .. quote(name) .. "\r\n\r\n"
      .. field_value(name, fields[name]) .. "\r\n"
  end

  local file = spec.file
  local file_length
  if file then
    if type(file) ~= "table" then error("bad multipart file (table expected)", 2) end
    local filename = file.filename
    if not filename and file.path then filename = file.path:match("([^/\\]*)$") end
    local head = dash .. "\r\nContent-Disposition: form-data; name=" .. quote(file.field or "file")
      .. "; filename=" .. quote(filename or "file")
      .. "\r\nContent-Type: " .. gsub(file.content_type or "application/octet-stream", "[\r\n]", "")
      .. "\r\n\r\n"
    parts[#parts + 1] = head
    if file.data ~= nil then
      if type(file.data) ~= "string" then error("bad multipart file data (string expected)", 2) end
      parts[#parts + 1] = file.data
    elseif type(file.path) == "string" then
      local length, err = measure(file)
      if not length then return nil, err end
      file_length = length
      parts[#parts + 1] = { path = file.path, offset = file.offset or 0, length = length, size = file.measured,
        stamp = file.stamp }
      file.measured, file.stamp = nil, nil
    else
      error("bad multipart file (path or data expected)", 2)
    end
    parts[#parts + 1] = "\r\n"
  end
  parts[#parts + 1] = dash .. "--\r\n"

  local length = 0
  for _, p in ipairs(parts) do
    length = length + (type(p) == "table" and p.length or #p)
  end
  return setmetatable({
    boundary = boundary,
    content_type = "multipart/form-data; boundary=" .. boundary,
    length = length,
    file_length = file_length,
    parts = parts,
  }, Body)
end

--- source() -> next_chunk: each call returns the next string, nil at the end,
-- or nil, err if the file cannot be read (or shrank while being sent).
-- Every call of source() starts again from the first byte (a retry resends).
function Body:source()
  self:close()
  local parts, i = self.parts, 0
  local f, left, current
  local chunk_size = M.CHUNK_SIZE
  local this = self
  return function()
    while true do
      if f then
        if left == 0 then
          -- exactly the declared bytes went out; a file that grew meanwhile fails too
          local now = f:seek("end")
          f:close()
          f, this.file = nil, nil
          if current.size and now ~= current.size then
            return nil, changed(current, format("%.0f bytes when the upload began, %.0f now", current.size, now or -1))
          end
          if current.stamp and select(2, file_stamp(current.path)) ~= current.stamp then
            return nil, changed(current, "rewritten in place, same size")
          end
        else
          local want = left < chunk_size and left or chunk_size
          local data = f:read(want)
          if not data or #data == 0 then
            f:close()
            f, this.file = nil, nil
            return nil, changed(current, format("it ended %.0f bytes early", left))
          end
          left = left - #data
          return data
        end
      end
      i = i + 1
      local p = parts[i]
      if p == nil then return nil end
      if type(p) == "string" then
        if p ~= "" then return p end
      else
        local err
        current = p
        f, err = open(p.path, "rb")
        if not f then return nil, local_error("open", p.path, err) end
        this.file = f
        if p.offset > 0 then
          local ok, serr = f:seek("set", p.offset)
          if not ok then
            f:close()
            f, this.file = nil, nil
            return io_error("cannot seek in upload file: " .. tostring(serr))
          end
        end
        left = p.length
      end
    end
  end
end

function Body:close()
  local f = rawget(self, "file")
  if f then
    self.file = nil
    f:close()
  end
end

--- The whole body as one string (tests and small bodies only).
function Body:read_all()
  local out, next_chunk = {}, self:source()
  while true do
    local s, err = next_chunk()
    if not s then
      if err then return nil, err end
      return concat(out)
    end
    out[#out + 1] = s
  end
end

return M
