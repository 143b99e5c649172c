--- openai.finetunes.call.clock: the one clock and sleep of the library.
-- Every helper that waits or keeps time (retries, batch, large uploads,
-- workflows, the cache, the token provider's waits) reads it through these two.
--
-- A transport should give now() and sleep() (the curl and ngx ones do; ngx's
-- yield). For a user's transport with only request(), fall back to the C core's
-- monotonic clock and sleep, else LuaSocket's, else fail clearly on a wait.
local type, pcall, require, error = type, pcall, require, error

local M = {}

local fallback
local function fallbacks()
  if fallback == nil then
    local ok, core = pcall(require, "openai.finetunes.core")
    if ok and type(core) == "table" and core.now and core.sleep then
      fallback = { now = core.now, sleep = core.sleep }
    else
      local has_socket, socket = pcall(require, "socket")
      if has_socket and type(socket) == "table" and socket.gettime and socket.sleep then
        fallback = { now = socket.gettime, sleep = socket.sleep }
      else
        fallback = false
      end
    end
  end
  return fallback
end

--- The transport's clock (seconds, monotonic where it can be).
function M.now(transport)
  if transport.now then return transport:now() end
  local f = fallbacks()
  return f and f.now() or os.time()
end

--- Wait through the transport (inside nginx: yield).
function M.sleep(transport, seconds)
  if transport.sleep then return transport:sleep(seconds) end
  local f = fallbacks()
  if not f then error("the transport has no sleep method to wait with", 3) end
  return f.sleep(seconds)
end

return M
