--- How long a server asked us to wait: `retry-after-ms`, else `Retry-After` as
-- (float) seconds or as an HTTP date (RFC 9110 §10.2.3), in that order, as the
-- official SDKs read them (openai-python's `_base_client.py`, openai-node's
-- `src/client.ts`). Pure functions, no clock of
-- their own: the caller passes the wall-clock time an HTTP date is measured from.
local M = {}

local floor = math.floor

local MONTHS = {
  jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
  jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12,
}

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- A plain decimal (optionally with an exponent). tonumber alone would also take
-- hex ("0x10") and, on some Lua versions, "inf"/"nan".
local function decimal(s)
  if s:find("^[+-]?%d*%.?%d*[eE]?[+-]?%d*$") and s:find("%d") then
    local v = tonumber(s)
    if v and v == v and v > -math.huge and v < math.huge then return v end
  end
  return nil
end

-- Days since 1970-01-01 of a proleptic Gregorian date: pure arithmetic, so the
-- result does not depend on the machine's time zone (os.time would).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function epoch(y, mon, d, h, mi, s, offset)
  local m = MONTHS[mon:lower()]
  y, d, h, mi, s = tonumber(y), tonumber(d), tonumber(h), tonumber(mi), tonumber(s)
  if not m or d < 1 or d > 31 or h > 23 or mi > 59 or s > 60 then return nil end
  return days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s - (offset or 0)
end

-- "GMT", "UTC", "Z" or a numeric "+hhmm"/"-hhmm" zone → seconds east of UTC.
local function zone_offset(z)
  if z == "GMT" or z == "UTC" or z == "UT" or z == "Z" then return 0 end
  local sign, hh, mm = z:match("^([+-])(%d%d)(%d%d)$")
  if not sign then return nil end
  local off = tonumber(hh) * 3600 + tonumber(mm) * 60
  return sign == "-" and -off or off
end

--- Seconds since the Unix epoch of an HTTP date, or nil when `s` is not one.
-- Accepts IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete RFC 850
-- ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994")
-- forms that RFC 9110 obliges a recipient to read.
function M.http_date(s)
  if type(s) ~= "string" then return nil end
  s = trim(s)
  local d, mon, y, h, mi, sec, z = s:match("^%a+,%s+(%d%d?)%s+(%a%a%a)%s+(%d%d%d%d)%s+(%d%d):(%d%d):(%d%d)%s+(%S+)$")
  if d then
    local off = zone_offset(z)
    return off and epoch(y, mon, d, h, mi, sec, off)
  end
  d, mon, y, h, mi, sec, z = s:match("^%a+,%s+(%d%d?)%-(%a%a%a)%-(%d%d)%s+(%d%d):(%d%d):(%d%d)%s+(%S+)$")
  if d then
    local off = zone_offset(z)
    -- RFC 9110: a two-digit year more than 50 years ahead means the past century.
    local yy = tonumber(y)
    return off and epoch(yy < 70 and 2000 + yy or 1900 + yy, mon, d, h, mi, sec, off)
  end
  mon, d, h, mi, sec, y = s:match("^%a+%s+(%a%a%a)%s+(%d%d?)%s+(%d%d):(%d%d):(%d%d)%s+(%d%d%d%d)$")
  if mon then return epoch(y, mon, d, h, mi, sec, 0) end
  return nil
end

--- The delay, in seconds, the response headers ask for, or nil when they ask for
-- none we can read. The value is returned as found (it may be zero, negative or
-- huge): deciding what to do with it is the retry policy's job.
-- `headers` has lower-case names (the transport contract); `now` is the current
-- Unix time in seconds, needed only for the HTTP-date form (default os.time()).
function M.seconds(headers, now)
  if type(headers) ~= "table" then return nil end
  local ms = headers["retry-after-ms"]
  if type(ms) == "string" then
    local v = decimal(trim(ms))
    if v then return v / 1000 end
  end
  local ra = headers["retry-after"]
  if type(ra) ~= "string" then return nil end
  ra = trim(ra)
  local v = decimal(ra)
  if v then return v end
  local at = M.http_date(ra)
  if at then return at - (now or os.time()) end
  return nil
end

return M
