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
-- blocking disk I/O even inside nginx; each is short and bounded.) The file
-- part is read by the C reader the curl transport hands libcurl
-- (src/exchange/file_source.h, as codec.upload_part): the same checks before
-- sending (missing, not a regular file, shorter than its slice) and the same
-- failure when the file changes while it is sent.
--
--   local body, err = multipart.new(req.multipart)     -- err: { kind = "io", message }
--   body.content_type, body.length
--   local next_chunk = body:source()   -- next_chunk() -> string | nil (end) | nil, err
--   body:close()                       -- idempotent; closes the file part (also when collected)

local type, tostring, pairs, ipairs, error, setmetatable = type, tostring, pairs, ipairs, error, setmetatable
local open, format, gsub, concat, sort = io.open, string.format, string.gsub, table.concat, table.sort
local random, floor = math.random, math.floor

local M = { CHUNK_SIZE = 64 * 1024 }

local Body = {}
Body.__index = Body

local ESCAPES = { ['"'] = "%22", ["\r"] = "%0D", ["\n"] = "%0A" }

local function quote(s)
  return '"' .. gsub(s, '["\r\n]', ESCAPES) .. '"'
end

local upload_part = require("openai.finetunes.codec").upload_part

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
      -- opened now, so a file that cannot be sent fails before anything is
      -- (and the Content-Length is known); read from its first byte by each source()
      local part, err = upload_part(file.path, file.offset, file.length)
      if not part then return nil, err end
      file_length = part:length()
      parts[#parts + 1] = { part = part, length = file_length }
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
-- or nil, err if the file cannot be read (or changed while being sent).
-- Every call of source() starts again from the first byte (a retry resends).
function Body:source()
  local parts, i = self.parts, 0
  local part
  local chunk_size = M.CHUNK_SIZE
  return function()
    while true do
      if part then
        local data, err = part:read(chunk_size)
        if data then return data end
        part = nil
        if err then return nil, err end
      end
      i = i + 1
      local p = parts[i]
      if p == nil then return nil end
      if type(p) == "string" then
        if p ~= "" then return p end
      else
        local ok, err = p.part:rewind()
        if not ok then return nil, err end
        part = p.part
      end
    end
  end
end

--- Lets go of the file part's file; idempotent. A later source() opens it again
-- (and fails if it is no longer the file that was measured).
function Body:close()
  for _, p in ipairs(self.parts) do
    if type(p) == "table" then p.part:close() end
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
