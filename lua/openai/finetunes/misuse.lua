-- Misuse (a wrong argument) raises at the caller's line with a luaL_argerror
-- style message. Checks deep inside the request builder raise a marker object
-- with `fail`; the public method catches it and re-raises the formatted message
-- at the right level with `raise`.
local type, tostring, setmetatable, getmetatable, error = type, tostring, setmetatable, getmetatable, error
local format, sub, gsub, find = string.format, string.sub, string.gsub, string.find

local misuse = {}

local Misuse = {}
Misuse.__index = Misuse
function Misuse:__tostring() return self.message end

-- fail(message [, argn]): argn overrides the argument the caller is checking.
function misuse.fail(message, argn)
  error(setmetatable({ message = message, argn = argn }, Misuse), 0)
end

function misuse.is_misuse(x)
  return getmetatable(x) == Misuse
end

-- How a bad value is shown in a message: short, one line, never a whole blob.
function misuse.describe(v)
  local t = type(v)
  if t == "string" then
    local s = v
    if #s > 40 then s = sub(s, 1, 37) .. "..." end
    return (gsub(format("%q", s), "\\\n", "\\n"))
  elseif t == "number" or t == "boolean" or t == "nil" then
    return tostring(v)
  end
  return t
end

-- The message for argument `argn` of function `fname`.
function misuse.message(fname, argn, message)
  return format("bad argument #%d to '%s' (%s)", argn, fname, message)
end

-- Re-raise what a pcall caught: a marker becomes the argerror message at
-- `level` (relative to the caller of raise); anything else goes on unchanged.
function misuse.raise(caught, fname, argn, level)
  if getmetatable(caught) == Misuse then
    error(misuse.message(fname, caught.argn or argn, caught.message), level + 1)
  end
  error(caught, 0)
end

-- Re-raise what a pcall caught around method `from`, called by the public
-- function `to` to check its arguments: a misuse message names `to` instead,
-- at `level` (relative to the caller of reaim); anything else goes on unchanged.
function misuse.reaim(caught, from, to, level)
  local msg = misuse.strip_position(caught)
  if not msg then error(caught, 0) end
  error((gsub(msg, "^(bad argument #%d+ to ')" .. from .. "'", "%1" .. to .. "'", 1)), level + 1)
end

-- A message raised with a position ("file.lua:12: bad argument ...") stripped
-- of it, so a wrapper can re-raise it at its own caller's position.
function misuse.strip_position(msg)
  if type(msg) ~= "string" then return nil end
  local s, e = find(msg, "^[^\n]-:%d+: bad argument #")
  if s then return sub(msg, e - #"bad argument #" + 1) end
  if find(msg, "^bad argument #") then return msg end
  return nil
end

return misuse
