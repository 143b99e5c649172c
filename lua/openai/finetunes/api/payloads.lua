-- Request pieces that are not plain JSON: the multipart bodies of upload_file
-- and add_upload_part (field names, filename and content type as the official
-- SDKs send them: openai-python's `_files.py` / `_qs.py`, openai-node's
-- `src/internal/uploads.ts`), and the local file checks that must
-- fail before anything is sent.
local misuse = require("openai.finetunes.misuse")
local check = require("openai.finetunes.api.validate.check")
local config = require("openai.finetunes.config")

local type, pairs, tostring, open = type, pairs, tostring, io.open
local format, match, sub, find = string.format, string.match, string.sub, string.find

local fail, describe = misuse.fail, misuse.describe

local payloads = {}

payloads.DEFAULT_CONTENT_TYPE = "application/octet-stream"
-- What openai-python's transport names a part sent from bytes.
payloads.DEFAULT_PART_FILENAME = "upload"

function payloads.basename(path)
  return match(path, "([^/]+)/*$") or path
end

-- The size of a readable regular file, or a misuse naming the problem.
function payloads.file_size(path, what)
  if type(path) ~= "string" or path == "" then
    fail(format("%s must be a path string, got %s", what, describe(path)))
  end
  if find(path, "%z") then fail(what .. " must not contain NUL") end
  local f, err = open(path, "rb")
  if not f then
    if sub(err, 1, #path + 2) == path .. ": " then err = sub(err, #path + 3) end
    fail(format("%s %s cannot be read (%s)", what, describe(path), err))
  end
  local ok, rerr = f:read(0)
  if ok == nil and rerr then
    f:close()
    fail(format("%s %s cannot be read (%s)", what, describe(path), rerr))
  end
  local size = f:seek("end")
  f:close()
  return size
end

local function scalar_text(v, name)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if check.is_integer(v) or (v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53) then
      return format("%d", v)
    end
    return format("%.17g", v)
  end
  fail(format("%s cannot be sent as a form field (a %s)", name, t))
end

-- Nested objects become bracket keys, as both SDKs send them:
-- expires_after = {anchor = ...} -> expires_after[anchor].
local function flatten(name, v, out)
  if type(v) == "table" then
    if check.is_array(v) then fail(format("%s: arrays cannot be sent as form fields", name)) end
    for k, sub_value in pairs(v) do
      if type(k) ~= "string" then fail(format("%s keys must be strings, got %s", name, describe(k))) end
      flatten(name .. "[" .. k .. "]", sub_value, out)
    end
  else
    out[name] = scalar_text(v, name)
  end
end

local function content_type(p)
  local ct = p.content_type
  if ct == nil then return payloads.DEFAULT_CONTENT_TYPE end
  config.check_header_value(ct, "content_type")
  return ct
end

local function filename(p, default, required_why)
  local name = p.filename
  if name == nil then
    if default == nil then fail(format("filename is required %s", required_why)) end
    return default
  end
  if type(name) ~= "string" or name == "" then
    fail(format("filename must be a non-empty string, got %s", describe(name)))
  end
  if find(name, "%z") then fail("filename must not contain NUL") end
  return name
end

local function one_source(p)
  if type(p) ~= "table" then fail(format("table expected, got %s", describe(p))) end
  if p.file ~= nil and p.data ~= nil then
    fail("give either file (a path) or data (a string), not both")
  end
  if p.file == nil and p.data == nil then
    fail("file (a path) or data (a string) is required")
  end
  if p.data ~= nil and type(p.data) ~= "string" then
    fail(format("data must be a string, got %s", describe(p.data)))
  end
end

local UPLOAD_FILE_KEYS = { file = true, data = true, filename = true, content_type = true }

-- upload_file{file = path | data = string, purpose, filename, expires_after,
-- content_type, <other form fields>} -> multipart description.
-- `validate_fn` (nil with validation = false) checks purpose and expiry.
function payloads.upload_file(p, validate_fn)
  one_source(p)
  local file = { field = "file", content_type = content_type(p) }
  if p.file ~= nil then
    payloads.file_size(p.file, "file")
    file.path = p.file
    file.filename = filename(p, payloads.basename(p.file))
  else
    file.data = p.data
    file.filename = filename(p, nil, "with data (the API infers the format from its extension)")
  end
  if validate_fn then validate_fn(p) end
  local fields = {}
  for k, v in pairs(p) do
    if not UPLOAD_FILE_KEYS[k] then
      if type(k) ~= "string" then fail(format("field names must be strings, got %s", describe(k))) end
      flatten(k, v, fields)
    end
  end
  return { fields = fields, file = file }
end

-- add_upload_part(upload_id, {file = path, offset, length} | {data = string})
-- -> multipart description with the one file part `data`, and the part size.
-- `validate_fn` (nil with validation = false) checks the part's size.
function payloads.upload_part(p, validate_fn)
  one_source(p)
  local file = { field = "data", content_type = content_type(p) }
  local size
  if p.file ~= nil then
    local total = payloads.file_size(p.file, "file")
    local offset, length = p.offset or 0, p.length
    check.integer(offset, "offset", 0)
    if length ~= nil then check.integer(length, "length", 1) end
    if offset > total or (offset == total and total > 0) then
      fail(format("offset %d is beyond the end of file %s (%d bytes)", offset, describe(p.file), total))
    end
    if length and offset + length > total then
      fail(format("offset + length (%d) is beyond the end of file %s (%d bytes)", offset + length,
        describe(p.file), total))
    end
    size = length or total - offset
    file.path, file.offset, file.length = p.file, offset, length
    file.filename = filename(p, payloads.basename(p.file))
  else
    if p.offset ~= nil or p.length ~= nil then fail("offset and length go with file, not data") end
    size = #p.data
    file.data = p.data
    file.filename = filename(p, payloads.DEFAULT_PART_FILENAME)
  end
  if validate_fn then validate_fn(p, size) end
  return { fields = {}, file = file }, size
end

return payloads
