-- Misuse (a wrong argument) is carried as a value up to the public boundary
-- and formatted there once, as luaL_argerror does (lauxlib.c):
--
--   { fname = "create_job", argn = 1, field = "method.type", code = nil,
--     problem = 'method.type must be one of "supervised", ..., got "sft"' }
--
-- A check deep inside raises it with `fail`; whoever knows better (the method
-- that ran the check, a helper that built a request for another method) fills
-- in or changes `fname` and `argn` with `aim`; the public function raises the
-- message `bad argument #<argn> to '<fname>' (<problem>)` at its caller's line
-- with `raise`. Nothing in between formats a message or parses one back.
local type, tostring, setmetatable, getmetatable, error, pcall, xpcall, select = type, tostring,
  setmetatable, getmetatable, error, pcall, xpcall, select
local unpack = rawget(table, "unpack") or rawget(_G, "unpack")
local format, sub, gsub = string.format, string.sub, string.gsub

local misuse = {}

local Misuse = { __name = "openai.finetunes.misuse" }
Misuse.__index = Misuse

-- The one format.
function misuse.message(fname, argn, problem)
  return format("bad argument #%d to '%s' (%s)", argn, fname, problem)
end

function Misuse:__tostring()
  if self.fname then return misuse.message(self.fname, self.argn or 1, self.problem) end
  return self.problem
end

-- fail(problem [, where]): raise a misuse. `where` is the argument number
-- (overriding the one the caller is checking) or a table of fields
-- {argn =, field =, code =}.
function misuse.fail(problem, where)
  local m = { problem = problem }
  if type(where) == "number" then
    m.argn = where
  elseif type(where) == "table" then
    m.argn, m.field, m.code = where.argn, where.field, where.code
  end
  error(setmetatable(m, Misuse), 0)
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

-- A misuse caught from a check run for argument `argn` of `fname`: it names
-- that function, and that argument unless the check named its own. The same
-- value is returned.
function misuse.aim(m, fname, argn)
  m.fname = fname
  if m.argn == nil then m.argn = argn end
  return m
end

-- Re-raise what a pcall caught: a misuse aimed at (fname, argn) as a value
-- (for a boundary further out to format); anything else unchanged.
function misuse.pass(caught, fname, argn)
  if getmetatable(caught) == Misuse then misuse.aim(caught, fname, argn) end
  error(caught, 0)
end

-- Inside `capture` (per coroutine: each has its own stack) the boundaries
-- raise the value itself rather than its message, for a caller that wants
-- the fields (the strict view, the openai-ft command).
local running = coroutine.running
local MAIN = {}
local capturing = setmetatable({}, { __mode = "k" })

local function current()
  local co, is_main = running()
  if co == nil or is_main then return MAIN end -- 5.1 / LuaJIT: nil in the main thread
  return co
end

local function pack(...) return { n = select("#", ...), ... } end

-- pcall(fn, ...) with misuse raised as values: true, results... | false, value.
function misuse.capture(fn, ...)
  local k = current()
  local depth = capturing[k]
  capturing[k] = (depth or 0) + 1
  local r = pack(pcall(fn, ...))
  capturing[k] = depth
  return unpack(r, 1, r.n)
end

-- xpcall(fn, handler) the same way (the handler sees the stack).
function misuse.xcapture(fn, handler)
  local k = current()
  local depth = capturing[k]
  capturing[k] = (depth or 0) + 1
  local r = pack(xpcall(fn, handler))
  capturing[k] = depth
  return unpack(r, 1, r.n)
end

-- The boundary: what a pcall caught around the work of public function
-- `fname` (its argument `argn` being checked) is raised as the formatted
-- message at `level` (relative to the caller of raise), or as the aimed value
-- inside `capture`; anything else goes on unchanged. `fname` names the public
-- function even when the check ran for another one (each_file re-uses the
-- checks of files).
function misuse.raise(caught, fname, argn, level)
  if getmetatable(caught) == Misuse then
    misuse.aim(caught, fname, argn)
    if capturing[current()] then error(caught, 0) end
    error(misuse.message(fname, caught.argn, caught.problem), level + 1)
  end
  error(caught, 0)
end

-- The boundary for a value already aimed (its own fname and argn).
function misuse.raise_aimed(caught, level)
  if getmetatable(caught) == Misuse then
    misuse.raise(caught, caught.fname, caught.argn or 1, level + 1) -- (not a tail call: it keeps the level)
  end
  error(caught, 0)
end

-- A misuse straight from a public function's own check: fail + raise in one.
function misuse.argerror(fname, argn, problem, level, fields)
  local m = setmetatable({ problem = problem, fname = fname, argn = argn }, Misuse)
  if fields then m.field, m.code = fields.field, fields.code end
  misuse.raise(m, fname, argn, level + 1) -- (not a tail call: it keeps the level)
end

return misuse
