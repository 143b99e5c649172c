-- The few Lua-version differences the fake server meets.
local M = {}

M.unpack = rawget(table, "unpack") or rawget(_G, "unpack")

local function pack(...)
  return { n = select("#", ...), ... }
end

-- pcall that lets the protected function yield to the loop. Lua 5.2+ and LuaJIT can
-- yield across pcall; Lua 5.1 cannot, so there the function runs in its own
-- coroutine and its yields are passed up by hand.
local function yieldable_pcall(f, ...)
  local co = coroutine.create(f)
  local res = pack(coroutine.resume(co, ...))
  while true do
    if not res[1] then
      return false, res[2]
    end
    if coroutine.status(co) == "dead" then
      return true, M.unpack(res, 2, res.n)
    end
    res = pack(coroutine.resume(co, coroutine.yield(M.unpack(res, 2, res.n))))
  end
end

local native_ok = _VERSION ~= "Lua 5.1" or rawget(_G, "jit") ~= nil
M.pcall = native_ok and pcall or yieldable_pcall

return M
