-- A tiny cooperative scheduler: one coroutine per connection or background task,
-- driven by socket.select over non-blocking LuaSocket sockets.
--
-- Code running inside a task calls loop:wait_read(sock), loop:wait_write(sock) or
-- loop:sleep(seconds); these yield to the scheduler. Tasks never yield inside pcall
-- (Lua 5.1 cannot), so a task that raises is reported through its on_error handler.
local socket = require("socket")

local Loop = {}
Loop.__index = Loop

local yield, resume, status = coroutine.yield, coroutine.resume, coroutine.status

function Loop.new()
  return setmetatable({
    readers = {},     -- sock -> task
    writers = {},     -- sock -> task
    sleepers = {},    -- list of {at = time, task = task}
    ready = {},       -- tasks to resume on the next step
    watches = {},     -- sock -> function(sock) called when readable (listeners)
    tasks = 0,
  }, Loop)
end

Loop.now = socket.gettime

-- spawn(fn, on_error) starts fn as a task on the next step. on_error(err, co) runs
-- when fn raises.
function Loop:spawn(fn, on_error)
  local task = { co = coroutine.create(fn), on_error = on_error }
  self.tasks = self.tasks + 1
  self.ready[#self.ready + 1] = task
  return task
end

-- Keep calling on_readable(sock) whenever sock is readable (used for listeners).
function Loop:watch(sock, on_readable)
  self.watches[sock] = on_readable
end

function Loop:unwatch(sock)
  self.watches[sock] = nil
end

local function current(self)
  local task = self.running
  if not task then
    error("fake server: blocking call outside of a loop task", 2)
  end
  return task
end

function Loop:wait_read(sock)
  self.readers[sock] = current(self)
  yield()
end

function Loop:wait_write(sock)
  self.writers[sock] = current(self)
  yield()
end

function Loop:sleep(seconds)
  local task = current(self)
  if not seconds or seconds <= 0 then
    self.ready[#self.ready + 1] = task
  else
    self.sleepers[#self.sleepers + 1] = { at = Loop.now() + seconds, task = task }
  end
  yield()
end

-- Forget a socket that is being closed (a task blocked on it is resumed and sees
-- the closed socket).
function Loop:forget(sock)
  local r, w = self.readers[sock], self.writers[sock]
  self.readers[sock], self.writers[sock] = nil, nil
  if r then self.ready[#self.ready + 1] = r end
  if w and w ~= r then self.ready[#self.ready + 1] = w end
end

function Loop:_run_task(task)
  self.running = task
  local ok, err = resume(task.co)
  self.running = nil
  if not ok then
    if task.on_error then
      task.on_error(err, task.co)
    else
      io.stderr:write("fake server: task failed: ", debug.traceback(task.co, tostring(err)), "\n")
    end
  end
  if status(task.co) == "dead" then
    self.tasks = self.tasks - 1
  end
end

-- step(max_wait): wait at most max_wait seconds for something to happen, run every
-- task that can run.
function Loop:step(max_wait)
  local now = Loop.now()
  local wait = max_wait or 1
  if #self.ready > 0 then
    wait = 0
  end
  for i = 1, #self.sleepers do
    local d = self.sleepers[i].at - now
    if d < wait then
      wait = d > 0 and d or 0
    end
  end

  local rset, wset = {}, {}
  for sock in pairs(self.watches) do rset[#rset + 1] = sock end
  for sock in pairs(self.readers) do rset[#rset + 1] = sock end
  for sock in pairs(self.writers) do wset[#wset + 1] = sock end

  local readable, writable = {}, {}
  if #rset > 0 or #wset > 0 then
    local r, w = socket.select(rset, wset, wait)
    readable, writable = r or readable, w or writable
  elseif wait > 0 then
    socket.sleep(wait)
  end

  local run = self.ready
  self.ready = {}
  for i = 1, #readable do
    local sock = readable[i]
    local task = self.readers[sock]
    if task then
      self.readers[sock] = nil
      run[#run + 1] = task
    elseif self.watches[sock] then
      self.watches[sock](sock)
    end
  end
  for i = 1, #writable do
    local sock = writable[i]
    local task = self.writers[sock]
    if task then
      self.writers[sock] = nil
      run[#run + 1] = task
    end
  end
  now = Loop.now()
  local keep = {}
  for i = 1, #self.sleepers do
    local s = self.sleepers[i]
    if s.at <= now then
      run[#run + 1] = s.task
    else
      keep[#keep + 1] = s
    end
  end
  self.sleepers = keep

  for i = 1, #run do
    local task = run[i]
    if status(task.co) == "suspended" then
      self:_run_task(task)
    end
  end
end

return Loop
