-- Primitive payload checks. Each takes the value and its dotted path in the
-- payload and raises a misuse naming exactly what is wrong:
--   method.supervised.hyperparameters.n_epochs must be "auto" or an integer from 1 to 50, got 0
local misuse = require("openai.finetunes.misuse")
local codec = require("openai.finetunes.codec")

local type, pairs, next, ipairs, tostring, getmetatable = type, pairs, next, ipairs, tostring, getmetatable
local format, gsub, concat = string.format, string.gsub, table.concat
local math_type, floor, huge = rawget(math, "type"), math.floor, math.huge

local fail, describe = misuse.fail, misuse.describe
local NULL, ARRAY_MT = codec.null, codec.array_mt

local check = {}

function check.field(path, key)
  if path == nil or path == "" then return key end
  return path .. "." .. key
end

-- Integers as Lua 5.3+ integers (a float 3.0 would go out as JSON 3.0, which
-- integer fields refuse); on 5.1 / LuaJIT any integral number.
local function is_integer(v)
  if type(v) ~= "number" then return false end
  if math_type then return math_type(v) == "integer" end
  return v == floor(v) and v > -huge and v < huge
end
check.is_integer = is_integer

function check.is_null(v) return v == NULL end

-- A JSON array: ft.array{} / array_mt, or keys exactly 1..n with n > 0.
function check.is_array(v)
  if type(v) ~= "table" then return false end
  if getmetatable(v) == ARRAY_MT then return true end
  local n = #v
  if n == 0 then return false end
  local count = 0
  for _ in pairs(v) do count = count + 1 end
  return count == n
end

-- An object: a table that is not an array (an empty table counts as {}).
function check.is_object(v)
  if type(v) ~= "table" or getmetatable(v) == ARRAY_MT then return false end
  if next(v) == nil then return true end
  return not check.is_array(v)
end

local function utf8_len(s) return #gsub(s, "[\128-\191]", "") end
check.utf8_len = utf8_len

function check.required(v, path, what)
  if v == nil then fail(format("%s is required, expected %s", path, what)) end
end

function check.string(v, path, min_len, max_len)
  if type(v) ~= "string" then fail(format("%s must be a string, got %s", path, describe(v))) end
  local n = utf8_len(v)
  if min_len and n < min_len then
    if min_len == 1 then fail(format("%s must not be empty", path)) end
    fail(format("%s must be at least %d characters, got %d", path, min_len, n))
  end
  if max_len and n > max_len then
    fail(format("%s must be at most %d characters, got %d", path, max_len, n))
  end
  return v
end

local function quoted_list(values)
  local out = {}
  for i, v in ipairs(values) do out[i] = format("%q", v) end
  return concat(out, ", ")
end

function check.enum(v, path, values)
  for _, allowed in ipairs(values) do
    if v == allowed then return v end
  end
  fail(format("%s must be one of %s, got %s", path, quoted_list(values), describe(v)))
end

function check.boolean(v, path)
  if type(v) ~= "boolean" then fail(format("%s must be a boolean, got %s", path, describe(v))) end
  return v
end

-- Integer in [min, max] (max optional).
function check.integer(v, path, min, max)
  if not is_integer(v) or (min and v < min) or (max and v > max) then
    local range
    if min and max then range = format(" from %d to %d", min, max)
    elseif min then range = format(" >= %d", min) else range = "" end
    fail(format("%s must be an integer%s, got %s", path, range, describe(v)))
  end
  return v
end

-- A number in (lo, hi] when lo_exclusive, [lo, hi] otherwise; hi optional.
local function number_ok(v, lo, hi, lo_exclusive)
  if type(v) ~= "number" or v ~= v or v == huge or v == -huge then return false end
  if lo and (v < lo or (lo_exclusive and v == lo)) then return false end
  if hi and v > hi then return false end
  return true
end

local function number_range(lo, hi, lo_exclusive)
  if hi then
    return format(" %s %s and <= %s", lo_exclusive and ">" or ">=", tostring(lo), tostring(hi))
  end
  return format(" %s %s", lo_exclusive and ">" or ">=", tostring(lo))
end

function check.number(v, path, lo, hi, lo_exclusive)
  if not number_ok(v, lo, hi, lo_exclusive) then
    fail(format("%s must be a number%s, got %s", path, number_range(lo, hi, lo_exclusive), describe(v)))
  end
  return v
end

-- Hyperparameters: the string "auto" or an integer / number in range.
function check.auto_or_integer(v, path, min, max)
  if v == "auto" then return v end
  if not is_integer(v) or v < min or (max and v > max) then
    local range = max and format("from %d to %d", min, max) or format(">= %d", min)
    fail(format('%s must be "auto" or an integer %s, got %s', path, range, describe(v)))
  end
  return v
end

function check.auto_or_number(v, path, lo, hi, lo_exclusive)
  if v == "auto" then return v end
  if not number_ok(v, lo, hi, lo_exclusive) then
    fail(format('%s must be "auto" or a number%s, got %s', path, number_range(lo, hi, lo_exclusive), describe(v)))
  end
  return v
end

function check.object(v, path)
  if not check.is_object(v) then fail(format("%s must be a table (JSON object), got %s", path, describe(v))) end
  return v
end

function check.array(v, path, min_items, max_items)
  if type(v) ~= "table" or not check.is_array(v) and next(v) ~= nil then
    fail(format("%s must be an array, got %s", path, describe(v)))
  end
  local n = #v
  if min_items and n < min_items then
    fail(format("%s must be a non-empty array", path))
  end
  if max_items and n > max_items then
    fail(format("%s must have at most %d items, got %d", path, max_items, n))
  end
  return v
end

-- A non-empty array of non-empty strings (project_ids, part_ids).
function check.string_list(v, path)
  if type(v) ~= "table" or not check.is_array(v) then
    if type(v) == "table" and next(v) == nil then
      fail(format("%s must be a non-empty array of strings, got an empty table", path))
    end
    fail(format("%s must be a non-empty array of strings, got %s", path, describe(v)))
  end
  for i = 1, #v do
    local item = v[i]
    if type(item) ~= "string" or item == "" then
      fail(format("%s[%d] must be a non-empty string, got %s", path, i, describe(item)))
    end
  end
  return v
end

-- Metadata: at most 16 string pairs, keys <= 64 characters, values <= 512.
function check.metadata(v, path)
  if v == NULL then return v end
  if not check.is_object(v) then fail(format("%s must be a table of strings, got %s", path, describe(v))) end
  local n = 0
  for k, value in pairs(v) do
    n = n + 1
    if type(k) ~= "string" then fail(format("%s keys must be strings, got %s", path, describe(k))) end
    if utf8_len(k) > 64 then fail(format("%s key %s is longer than 64 characters", path, describe(k))) end
    if type(value) ~= "string" then
      fail(format("%s.%s must be a string, got %s", path, k, describe(value)))
    end
    if utf8_len(value) > 512 then
      fail(format("%s.%s must be at most 512 characters, got %d", path, k, utf8_len(value)))
    end
  end
  if n > 16 then fail(format("%s must have at most 16 pairs, got %d", path, n)) end
  return v
end

-- FileExpirationAfter: {anchor = "created_at", seconds = 3600 .. 2592000}.
function check.expires_after(v, path)
  check.object(v, path)
  check.required(v.anchor, path .. ".anchor", '"created_at"')
  check.enum(v.anchor, path .. ".anchor", { "created_at" })
  check.required(v.seconds, path .. ".seconds", "an integer from 3600 to 2592000")
  check.integer(v.seconds, path .. ".seconds", 3600, 2592000)
  return v
end

-- Table fields that are present are checked; absent ones skipped.
function check.optional(t, key, path, fn, ...)
  local v = t[key]
  if v ~= nil then fn(v, check.field(path, key), ...) end
end

-- Like optional, but JSON null (ft.null) is also allowed.
function check.nullable(t, key, path, fn, ...)
  local v = t[key]
  if v ~= nil and v ~= NULL then fn(v, check.field(path, key), ...) end
end

return check
