-- JSON for the fake server and its spec helper.
--
-- Debian's lua-cjson 2.1.0 turns every number into a float on 5.3+, cannot tell an
-- empty array from an empty object and has a truthy null; the server echoes request
-- data back (metadata, method, integrations) and must keep those shapes, so it uses
-- this small codec instead. cjson stays in use where only speed matters (scanning
-- training files). Runs on Lua 5.1-5.4 and LuaJIT.
local M = {}

local byte, char, find, format, sub = string.byte, string.char, string.find, string.format, string.sub
local concat, floor, huge = table.concat, math.floor, math.huge

-- Sentinel for a JSON null inside arrays (object members that are null are dropped).
M.null = setmetatable({}, { __tostring = function() return "json.null" end })
-- Marks a table as a JSON array (needed for empty arrays).
M.array_mt = { __name = "json.array" }
local raw_mt = { __name = "json.raw" }

function M.array(t)
  return setmetatable(t or {}, M.array_mt)
end

-- Already-encoded JSON text to splice into an encoding unchanged.
function M.raw(text)
  return setmetatable({ text }, raw_mt)
end

function M.is_array(t)
  return type(t) == "table" and getmetatable(t) == M.array_mt
end

---------------------------------------------------------------------------- encode

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}
local function escape_char(c)
  return escapes[c] or format("\\u%04x", byte(c))
end

local function encode_string(s)
  if find(s, '[%c"\\]') then
    s = s:gsub('[%c"\\]', escape_char)
  end
  return '"' .. s .. '"'
end

local function encode_number(x)
  if x ~= x or x == huge or x == -huge then
    return "null"
  end
  if floor(x) == x and x > -2 ^ 63 and x < 2 ^ 63 then
    return format("%d", x)
  end
  for digits = 14, 17 do
    local s = format("%." .. digits .. "g", x)
    if tonumber(s) == x then
      return s
    end
  end
  return format("%.17g", x)
end

local function is_sequence(t)
  local n = #t
  if n == 0 then
    return false
  end
  local count = 0
  for _ in pairs(t) do
    count = count + 1
    if count > n then
      return false
    end
  end
  return count == n
end

local encode_value

local function encode_table(t, out, depth)
  if depth > 200 then
    error("json: nesting too deep", 0)
  end
  local mt = getmetatable(t)
  if mt == raw_mt then
    out[#out + 1] = t[1]
    return
  end
  if t == M.null then
    out[#out + 1] = "null"
    return
  end
  if mt == M.array_mt or is_sequence(t) then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then
        out[#out + 1] = ","
      end
      encode_value(t[i], out, depth + 1)
    end
    out[#out + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then
      error("json: object key is not a string (" .. tostring(k) .. ")", 0)
    end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then
      out[#out + 1] = ","
    end
    out[#out + 1] = encode_string(k)
    out[#out + 1] = ":"
    encode_value(t[k], out, depth + 1)
  end
  out[#out + 1] = "}"
end

function encode_value(v, out, depth)
  local tv = type(v)
  if tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "number" then
    out[#out + 1] = encode_number(v)
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif tv == "nil" then
    out[#out + 1] = "null"
  elseif tv == "table" then
    encode_table(v, out, depth)
  else
    error("json: cannot encode a " .. tv, 0)
  end
end

function M.encode(v)
  local out = {}
  encode_value(v, out, 0)
  return concat(out)
end

---------------------------------------------------------------------------- decode

local decode_value

local function decode_error(_, pos, what)
  error({ json_error = format("%s at byte %d", what, pos) }, 0)
end

local function skip_ws(s, pos)
  local _, e = find(s, "^[ \t\r\n]*", pos)
  return e + 1
end

local function utf8_char(cp)
  if cp < 0x80 then
    return char(cp)
  elseif cp < 0x800 then
    return char(0xC0 + floor(cp / 64), 0x80 + cp % 64)
  elseif cp < 0x10000 then
    return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64,
    0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

local simple_escapes = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }

local function decode_string(s, pos)
  -- pos is just after the opening quote
  local parts, n = nil, 0
  local start = pos
  while true do
    local q = find(s, '["\\%c]', pos)
    if not q then
      decode_error(s, start, "unterminated string")
    end
    local c = sub(s, q, q)
    if c == '"' then
      local piece = sub(s, pos, q - 1)
      if not parts then
        return piece, q + 1
      end
      n = n + 1
      parts[n] = piece
      return concat(parts), q + 1
    elseif c == "\\" then
      parts = parts or {}
      n = n + 1
      parts[n] = sub(s, pos, q - 1)
      local e = sub(s, q + 1, q + 1)
      if simple_escapes[e] then
        n = n + 1
        parts[n] = simple_escapes[e]
        pos = q + 2
      elseif e == "u" then
        local hex = sub(s, q + 2, q + 5)
        if not find(hex, "^%x%x%x%x$") then
          decode_error(s, q, "bad \\u escape")
        end
        local cp = tonumber(hex, 16)
        pos = q + 6
        if cp >= 0xD800 and cp <= 0xDBFF and sub(s, pos, pos + 1) == "\\u" then
          local lo = tonumber(sub(s, pos + 2, pos + 5), 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
            pos = pos + 6
          end
        end
        n = n + 1
        parts[n] = utf8_char(cp)
      else
        decode_error(s, q, "bad escape")
      end
    else
      decode_error(s, q, "control character in string")
    end
  end
end

local function decode_number(s, pos)
  local _, e = find(s, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if not e then
    decode_error(s, pos, "unexpected character")
  end
  local text = sub(s, pos, e)
  local v = tonumber(text)
  if not v then
    decode_error(s, pos, "bad number")
  end
  return v, e + 1
end

local function decode_array(s, pos, depth)
  local t, n = M.array(), 0
  pos = skip_ws(s, pos)
  if sub(s, pos, pos) == "]" then
    return t, pos + 1
  end
  while true do
    local v
    v, pos = decode_value(s, pos, depth)
    n = n + 1
    if v == nil then
      v = M.null
    end
    t[n] = v
    pos = skip_ws(s, pos)
    local c = sub(s, pos, pos)
    if c == "]" then
      return t, pos + 1
    elseif c ~= "," then
      decode_error(s, pos, "expected ',' or ']'")
    end
    pos = pos + 1
  end
end

local function decode_object(s, pos, depth)
  local t = {}
  pos = skip_ws(s, pos)
  if sub(s, pos, pos) == "}" then
    return t, pos + 1
  end
  while true do
    if sub(s, pos, pos) ~= '"' then
      decode_error(s, pos, "expected a string key")
    end
    local k
    k, pos = decode_string(s, pos + 1)
    pos = skip_ws(s, pos)
    if sub(s, pos, pos) ~= ":" then
      decode_error(s, pos, "expected ':'")
    end
    local v
    v, pos = decode_value(s, pos + 1, depth)
    t[k] = v
    pos = skip_ws(s, pos)
    local c = sub(s, pos, pos)
    if c == "}" then
      return t, pos + 1
    elseif c ~= "," then
      decode_error(s, pos, "expected ',' or '}'")
    end
    pos = skip_ws(s, pos + 1)
  end
end

function decode_value(s, pos, depth)
  pos = skip_ws(s, pos)
  local c = sub(s, pos, pos)
  if depth > 512 then
    decode_error(s, pos, "nesting too deep")
  end
  if c == "{" then
    return decode_object(s, pos + 1, depth + 1)
  elseif c == "[" then
    return decode_array(s, pos + 1, depth + 1)
  elseif c == '"' then
    return decode_string(s, pos + 1)
  elseif c == "t" and sub(s, pos, pos + 3) == "true" then
    return true, pos + 4
  elseif c == "f" and sub(s, pos, pos + 4) == "false" then
    return false, pos + 5
  elseif c == "n" and sub(s, pos, pos + 3) == "null" then
    return nil, pos + 4
  elseif c == "" then
    decode_error(s, pos, "unexpected end of input")
  end
  return decode_number(s, pos)
end

-- decode(text) -> value | nil, "message at byte N". A top-level null decodes to M.null.
function M.decode(s)
  if type(s) ~= "string" then
    return nil, "expected a string, got " .. type(s)
  end
  local ok, v, pos = pcall(decode_value, s, 1, 0)
  if not ok then
    if type(v) == "table" and v.json_error then
      return nil, v.json_error
    end
    error(v, 0)
  end
  pos = skip_ws(s, pos)
  if pos <= #s then
    return nil, format("trailing garbage at byte %d", pos)
  end
  if v == nil then
    v = M.null
  end
  return v
end

return M
