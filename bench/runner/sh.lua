-- Small shell and file helpers for the runner (Lua 5.4).
local M = {}

-- Quote one word for /bin/sh.
function M.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function command(fmt, ...)
  return select("#", ...) > 0 and fmt:format(...) or fmt
end

-- Run a command; raise if it fails.
function M.run(fmt, ...)
  local cmd = command(fmt, ...)
  local ok, how, code = os.execute(cmd)
  if not ok then error(("command failed (%s %s): %s"):format(how, code, cmd), 2) end
end

-- Run a command; true if it exited 0.
function M.ok(fmt, ...)
  return os.execute(command(fmt, ...)) == true
end

-- Run a command and return its stdout without the trailing newline; raise on failure.
function M.capture(fmt, ...)
  local cmd = command(fmt, ...)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local ok, how, code = p:close()
  if not ok then error(("command failed (%s %s): %s"):format(how, code, cmd), 2) end
  return (out:gsub("\n$", ""))
end

function M.read_file(path, optional)
  local f, err = io.open(path, "rb")
  if not f then
    if optional then return nil end
    error(err, 2)
  end
  local s = f:read("a")
  f:close()
  return s
end

function M.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
end

function M.size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

return M
