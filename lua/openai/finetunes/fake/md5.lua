-- Streaming MD5 (RFC 1321) in Lua, for the small request parts the server hashes
-- while they arrive (spawning md5sum costs tens of milliseconds per request). The
-- block transform uses native integer operators on Lua 5.3+, the `bit` library on
-- LuaJIT and `bit32` on Lua 5.2; plain Lua 5.1 has no bit operations, so there
-- M.available is false and the caller falls back to the system's md5sum.
local M = {}

local byte, format, rep, char = string.byte, string.format, string.rep, string.char
local floor = math.floor
local has_integers = rawget(math, "type") ~= nil -- Lua 5.3+

local K, S = {}, {}
for i = 0, 63 do
  K[i] = floor(math.abs(math.sin(i + 1)) * 2 ^ 32)
end
local shifts = { { 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 } }
for i = 0, 63 do
  S[i] = shifts[floor(i / 16) + 1][i % 4 + 1]
end
local G = {}
for i = 0, 63 do
  if i < 16 then G[i] = i
  elseif i < 32 then G[i] = (5 * i + 1) % 16
  elseif i < 48 then G[i] = (3 * i + 5) % 16
  else G[i] = (7 * i) % 16 end
end

-- transform(h, X): mix the 16 little-endian words X[0..15] into state h[1..4].
local transform

local NATIVE = [==[
local K, S, G = ...
return function(h, X)
  local a, b, c, d = h[1], h[2], h[3], h[4]
  for i = 0, 63 do
    local f
    if i < 16 then f = (b & c) | (~b & d)
    elseif i < 32 then f = (d & b) | (~d & c)
    elseif i < 48 then f = b ~ c ~ d
    else f = c ~ (b | ~d) end
    local x = (a + (f & 0xffffffff) + K[i] + X[G[i]]) & 0xffffffff
    local s = S[i]
    a, d, c = d, c, b
    b = (b + (((x << s) | (x >> (32 - s))) & 0xffffffff)) & 0xffffffff
  end
  h[1] = (h[1] + a) & 0xffffffff
  h[2] = (h[2] + b) & 0xffffffff
  h[3] = (h[3] + c) & 0xffffffff
  h[4] = (h[4] + d) & 0xffffffff
end
]==]

local function library_transform(bit, normalize)
  local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
  local rol = bit.rol or bit.lrotate
  return function(h, X)
    local a, b, c, d = h[1], h[2], h[3], h[4]
    for i = 0, 63 do
      local f
      if i < 16 then f = bor(band(b, c), band(bnot(b), d))
      elseif i < 32 then f = bor(band(d, b), band(bnot(d), c))
      elseif i < 48 then f = bxor(b, c, d)
      else f = bxor(c, bor(b, bnot(d))) end
      local x = normalize(a + f + K[i] + X[G[i]])
      a, d, c = d, c, b
      b = normalize(b + rol(x, S[i]))
    end
    h[1] = normalize(h[1] + a)
    h[2] = normalize(h[2] + b)
    h[3] = normalize(h[3] + c)
    h[4] = normalize(h[4] + d)
  end
end

local load_chunk = rawget(_G, "loadstring") or load
if has_integers then
  transform = assert(load_chunk(NATIVE, "=md5"))(K, S, G)
elseif rawget(_G, "jit") then
  local bit = require("bit")
  -- LuaJIT's bit ops work on signed 32-bit values; keep every word in that range
  local tobit = bit.tobit
  for i = 0, 63 do K[i] = tobit(K[i]) end
  transform = library_transform(bit, function(v) return tobit(v % 4294967296) end)
else
  local ok, bit32 = pcall(require, "bit32")
  if ok and bit32 then
    transform = library_transform(bit32, function(v) return v % 4294967296 end)
  end
end

M.available = transform ~= nil
-- Up to this many bytes hashing in Lua beats starting a process (about 10 ms of CPU
-- on Lua 5.3+ and LuaJIT; bit32 on 5.2 is slower).
M.fast_limit = has_integers and 128 * 1024 or (rawget(_G, "jit") and 256 * 1024 or 32 * 1024)

local INIT = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 }

local Hash = {}
Hash.__index = Hash

function M.new()
  local h = { INIT[1], INIT[2], INIT[3], INIT[4] }
  if rawget(_G, "jit") then
    local tobit = require("bit").tobit
    for i = 1, 4 do h[i] = tobit(h[i]) end
  end
  return setmetatable({ h = h, buf = "", length = 0, X = {} }, Hash)
end

local function blocks(self, s, from, to)
  local X, h = self.X, self.h
  local jit_tobit = rawget(_G, "jit") and require("bit").tobit
  for p = from, to, 64 do
    for j = 0, 15 do
      local b1, b2, b3, b4 = byte(s, p + 4 * j, p + 4 * j + 3)
      local w = b1 + b2 * 256 + b3 * 65536 + b4 * 16777216
      X[j] = jit_tobit and jit_tobit(w) or w
    end
    transform(h, X)
  end
end

function Hash:update(s)
  self.length = self.length + #s
  if #self.buf > 0 then
    s = self.buf .. s
  end
  local full = #s - #s % 64
  if full > 0 then blocks(self, s, 1, full - 63) end
  self.buf = s:sub(full + 1)
  return self
end

-- hex(): the digest as 32 lower-case hex digits (the hash cannot be updated after).
function Hash:hex()
  local bits = self.length * 8
  local pad = 56 - (self.length + 1) % 64
  if pad < 0 then pad = pad + 64 end
  local len = {}
  for i = 1, 8 do
    len[i] = char(floor(bits / 256 ^ (i - 1)) % 256)
  end
  self:update("\128" .. rep("\0", pad) .. table.concat(len))
  local out = {}
  for i = 1, 4 do
    local w = self.h[i] % 4294967296
    for k = 0, 3 do
      out[#out + 1] = format("%02x", floor(w / 256 ^ k) % 256)
    end
  end
  return table.concat(out)
end

function M.sum(s)
  return M.new():update(s):hex()
end

return M
